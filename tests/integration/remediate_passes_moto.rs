//! `--remediate` converges in one run, and never calls a fix safe whose
//! preconditions the snapshot does not show, against moto_server 5.1.22.

use crate::support;

use support::rule_ids;

use std::collections::BTreeSet;
use std::process::Output;

use support::moto::Moto;
use support::seed::{self, Defect, SeedClients, StackSpec};

const REGION: &str = "us-east-1";

/// moto stores no custom key on a build project and has no CodeBuild
/// UpdateProject: CB004 is disabled in these runs (its fix is tested with
/// aws-smithy-mocks).
fn run(moto: &Moto, dir: &std::path::Path, args: &[&str]) -> Output {
    let config = dir.join("pipeaudit.toml");
    if let Err(e) = std::fs::write(&config, "disabled = [\"CB004\"]\n") {
        panic!("{}: {e}", config.display());
    }
    support::pipeaudit_command(&moto.endpoint)
        .args(["--region", REGION, "-q", "--max-attempts", "2"])
        .arg("--config")
        .arg(&config)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

async fn seed(moto: &Moto, stacks: &[(&str, &[Defect])]) -> Vec<seed::SeededStack> {
    let c = SeedClients::connect(&moto.endpoint, REGION)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut out = Vec::new();
    for (prefix, defects) in stacks {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects: defects.to_vec(),
            shared_store: None,
        };
        out.push(
            seed::seed_stack(&c, &spec)
                .await
                .unwrap_or_else(|e| panic!("{e:#}")),
        );
    }
    out
}

#[tokio::test]
async fn a_new_key_and_what_depends_on_it_converge_in_one_run() {
    let moto = Moto::start();
    seed(&moto, &[("cv", &[Defect::NoCmk])]).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let before = support::stdout_json(&run(
        &moto,
        dir.path(),
        &["--format", "json", "--exit-zero"],
    ));
    assert!(rule_ids(&before).contains("PL002"), "{before}");

    let journal = dir.path().join("journal.json");
    let o = run(
        &moto,
        dir.path(),
        &[
            "--remediate",
            "--yes",
            "--unsafe-fixes",
            "--format",
            "json",
            "--journal",
            &journal.to_string_lossy(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let result = support::stdout_json(&o);
    // the new key is created first; the bucket's default key follows it in a
    // later pass of the same run
    let passes = result["passes"].as_u64().unwrap_or(0);
    assert!(
        (2..=3).contains(&passes),
        "passes {passes}: {result}\n{stderr}"
    );
    assert!(stderr.contains(&format!("{passes} pass(es)")), "{stderr}");
    let changes = result["changes"].as_array().cloned().unwrap_or_default();
    let action_pass = |name: &str| {
        changes
            .iter()
            .find(|c| c["action"] == name)
            .and_then(|c| c["pass"].as_u64())
    };
    assert_eq!(action_pass("store-create-cmk"), Some(1), "{result}");
    assert!(
        action_pass("bucket-encryption").is_some_and(|p| p >= 2),
        "{result}"
    );
    assert!(
        changes.iter().all(|c| c["status"] == "fixed"),
        "{result}\n{stderr}"
    );
    assert_eq!(o.status.code(), Some(0), "{stderr}");

    let after = support::stdout_json(&run(
        &moto,
        dir.path(),
        &["--format", "json", "--exit-zero"],
    ));
    let ids = rule_ids(&after);
    for id in ["AB003", "PL002"] {
        assert!(!ids.contains(id), "{id} after the run: {ids:?}");
    }
    assert!(ids.iter().all(|i| !i.starts_with("KM")), "{ids:?}");

    // a second run plans no automatic action (manual steps may remain)
    let o = run(
        &moto,
        dir.path(),
        &[
            "--remediate",
            "--dry-run",
            "--unsafe-fixes",
            "--format",
            "json",
        ],
    );
    let plan = support::stdout_json(&o);
    assert_eq!(plan["actions"].as_array().map(Vec::len), Some(0), "{plan}");
    assert_eq!(
        plan["held_back"].as_array().map(Vec::len),
        Some(0),
        "{plan}"
    );
}

#[tokio::test]
async fn trigger_fixes_for_a_repository_out_of_reach_are_manual() {
    let moto = Moto::start();
    // a repository that is not in the audited account (SC001), and one read
    // through a role of another account: no local rule would ever fire
    let stacks = seed(
        &moto,
        &[
            (
                "far",
                &[Defect::MissingRepo, Defect::NoTrigger, Defect::PollingOn],
            ),
            ("xacct", &[Defect::NoTrigger, Defect::PollingOn]),
            ("near", &[Defect::NoTrigger, Defect::PollingOn]),
        ],
    )
    .await;
    let c = SeedClients::connect(&moto.endpoint, REGION)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut decl = seed::declaration(&c, &stacks[1].pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    decl.stages[0].actions[0].role_arn =
        Some("arn:aws:iam::999999999999:role/source-account-access".to_string());
    seed::update_declaration(&c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let o = run(
        &moto,
        dir.path(),
        &["--remediate", "--dry-run", "--format", "json"],
    );
    let plan = support::stdout_json(&o);
    let planned: BTreeSet<(String, String)> = plan["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or_default().to_string(),
                a["pipelines"][0].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // the local stack gets its trigger and polling off
    for action in ["trigger-create", "source-polling-off"] {
        assert!(
            planned.contains(&(action.to_string(), stacks[2].pipeline_name.clone())),
            "{action} for the local stack: {plan}"
        );
    }
    // the others neither, and the manual steps say why
    let manual = plan["manual"].to_string();
    for (stack, why) in [(&stacks[0], "does not exist"), (&stacks[1], "999999999999")] {
        for action in ["trigger-create", "source-polling-off"] {
            assert!(
                !planned.contains(&(action.to_string(), stack.pipeline_name.clone())),
                "{action} planned for {}: {plan}",
                stack.pipeline_name
            );
        }
        assert!(manual.contains(why), "{why} in {manual}");
    }
}
