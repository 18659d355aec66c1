//! Finishes a demo snapshot collected from moto so that it looks like a real
//! account: moto keeps no encryption key on a CodeBuild project and drops a
//! deployment group's alarm configuration, so every moto stack would show
//! CB004 and CD006, which a real account set up like the reference does not.
//! This sets those two values explicitly, as the seeded stacks intended them
//! (the project uses the pipeline's artifact key; the group has an enabled
//! alarm), and leaves everything else as collected.
//!
//! It also gives the KMS keys, the other resources with generated ids and
//! the EC2 instances fixed ids (moto makes random ones), numbered in order,
//! so that regenerating the demo changes only what the seeding changed.
//!
//! cargo run --example demo_finish -- examples/demo-account.json

use std::process::ExitCode;

use pipeaudit::model::{Observed, Snapshot};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: demo_finish SNAPSHOT.json (rewritten in place)");
        return ExitCode::from(2);
    };
    let path = std::path::PathBuf::from(path);
    let mut s = match Snapshot::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo_finish: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut projects, mut groups) = (0, 0);
    for w in s.pipelines.clone() {
        let key = w.artifact_stores.first().and_then(|st| st.key_arn.clone());
        for b in &w.builds {
            if let (Some(key), Some(Observed::Ok { value })) =
                (&key, s.resources.build_projects.get_mut(&b.project_arn))
            {
                value.encryption_key = Some(key.clone());
                value.encryption_key_arn = Some(key.clone());
                projects += 1;
            }
        }
        for d in &w.deploys {
            if let Some(Observed::Ok { value }) = s.resources.deploy_groups.get_mut(&d.group_arn) {
                value.alarms_enabled = true;
                value.alarms = vec![format!("{}-deployment-errors", d.group_name)];
                groups += 1;
            }
        }
    }
    let s = match stable_key_ids(&s) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo_finish: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = s.save(&path) {
        eprintln!("demo_finish: {e}");
        return ExitCode::from(2);
    }
    eprintln!(
        "demo_finish: set the artifact key on {projects} build project(s) and an alarm on {groups} deployment group(s)"
    );
    ExitCode::SUCCESS
}

/// The snapshot with each key id (the UUID in a key ARN) replaced by
/// `00000000-0000-4000-8000-<n>`: n counts keys in the order the pipelines
/// (sorted by ARN) use them, then the keys no pipeline uses, by ARN.
fn stable_key_ids(s: &Snapshot) -> Result<Snapshot, String> {
    let id_of = |arn: &str| arn.rsplit_once(":key/").map(|(_, id)| id.to_string());
    let mut order: Vec<String> = Vec::new();
    let used = s
        .pipelines
        .iter()
        .flat_map(|w| w.artifact_stores.iter().filter_map(|st| st.key_arn.clone()));
    for arn in used.chain(s.resources.keys.keys().cloned()) {
        if let Some(id) = id_of(&arn)
            && !order.contains(&id)
        {
            order.push(id);
        }
    }
    let mut text = serde_json::to_string(s).map_err(|e| e.to_string())?;
    for (n, id) in order.iter().enumerate() {
        text = text.replace(
            id.as_str(),
            &format!("00000000-0000-4000-8000-{:012}", n + 1),
        );
    }
    // then the other ids (repositories, applications, groups), in the order
    // they appear in the re-sorted snapshot
    let sorted = Snapshot::from_json(&text, "demo").map_err(|e| e.to_string())?;
    let mut text = serde_json::to_string(&sorted).map_err(|e| e.to_string())?;
    let mut others: Vec<String> = Vec::new();
    for (i, _) in text.char_indices() {
        if let Some(id) = text.get(i..i + 36).filter(|c| is_uuid(c))
            && !id.starts_with("00000000-0000-4000-")
            && !others.iter().any(|o| o == id)
        {
            others.push(id.to_string());
        }
    }
    for (n, id) in others.iter().enumerate() {
        text = text.replace(
            id.as_str(),
            &format!("00000000-0000-4000-9000-{:012}", n + 1),
        );
    }
    // and the EC2 instance ids (`i-` and 17 hex digits)
    let mut instances: Vec<String> = Vec::new();
    for (i, _) in text.match_indices("\"i-") {
        let id = text.get(i + 1..i + 20).filter(|c| {
            c[2..]
                .chars()
                .all(|ch| ch.is_ascii_digit() || ('a'..='f').contains(&ch))
                && text.get(i + 20..i + 21) == Some("\"")
        });
        if let Some(id) = id
            && !id.starts_with("i-00000000")
            && !instances.iter().any(|o| o == id)
        {
            instances.push(id.to_string());
        }
    }
    for (n, id) in instances.iter().enumerate() {
        text = text.replace(id, &format!("i-00000000{:09}", n + 1));
    }
    Snapshot::from_json(&text, "demo").map_err(|e| e.to_string())
}

/// `8-4-4-4-12` lowercase hex digits.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
        })
}
