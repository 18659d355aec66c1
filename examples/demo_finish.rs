//! Finishes a demo snapshot collected from moto so that it looks like a real
//! account: moto keeps no encryption key on a CodeBuild project and drops a
//! deployment group's alarm configuration, so every moto stack would show
//! CB004 and CD006, which a real account set up like the reference does not.
//! This sets those two values explicitly, as the seeded stacks intended them
//! (the project uses the pipeline's artifact key; the group has an enabled
//! alarm), and leaves everything else as collected.
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
    if let Err(e) = s.save(&path) {
        eprintln!("demo_finish: {e}");
        return ExitCode::from(2);
    }
    eprintln!(
        "demo_finish: set the artifact key on {projects} build project(s) and an alarm on {groups} deployment group(s)"
    );
    ExitCode::SUCCESS
}
