//! The reference shape is configurable (`[reference]` in pipeaudit.toml):
//! PL001 reports each deviation from it, the default is the seed's
//! (CodeCommit -> CodeBuild -> CodeDeploy), and the documented profile that
//! accepts connections and ECS or CloudFormation deploys. Offline, on a
//! stack of the bundled demo reshaped as such a pipeline.

use std::sync::Arc;

use pipeaudit::model::{Observed, Snapshot};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

/// The profile without a name that the configuration reference documents.
const CONNECTIONS_PROFILE: &str = r#"
[reference]
source = ["CodeCommit", "CodeStarSourceConnection"]
build = ["CodeBuild"]
deploy = ["CodeDeploy", "ECS", "CloudFormation"]
stages = ["Source", "Build", "Deploy"]
"#;

/// The compliant demo stack with its source read through a connection and
/// its deploy done by ECS.
fn reshaped() -> Snapshot {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    let arn = s.pipelines[0].arn.clone();
    let Some(Observed::Ok { value: p }) = s.resources.pipelines.get_mut(&arn) else {
        panic!("no declaration of {arn}");
    };
    for st in &mut p.stages {
        for a in &mut st.actions {
            match a.category.as_str() {
                "Source" => a.provider = "CodeStarSourceConnection".to_string(),
                "Deploy" => a.provider = "ECS".to_string(),
                _ => {}
            }
        }
    }
    s
}

fn pl001(s: Snapshot, config: &Config) -> Vec<String> {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    evaluate(Arc::new(s), &rules, config)
        .findings
        .into_iter()
        .filter(|f| f.rule_id == "PL001")
        .map(|f| f.message)
        .collect()
}

#[test]
fn the_default_reference_names_each_deviation() {
    let msgs = pl001(reshaped(), &Config::default());
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].contains("the first stage has no Source (CodeCommit) action")
            && msgs[0].contains("no Deploy (CodeDeploy) stage"),
        "{}",
        msgs[0]
    );
}

#[test]
fn a_profile_accepting_connections_and_ecs_passes_the_same_pipeline() {
    let config =
        Config::parse(CONNECTIONS_PROFILE, "profile.toml").unwrap_or_else(|e| panic!("{e}"));
    assert!(pl001(reshaped(), &config).is_empty());
    // the configuration reference documents the same profile
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/reference/configuration.md"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        page.contains(CONNECTIONS_PROFILE.trim()),
        "docs/reference/configuration.md lacks the profile"
    );
}

#[test]
fn stage_order_comes_from_the_reference() {
    // deploy before build: reported as an order deviation
    let config = Config::parse(
        "[reference]\nstages = [\"Source\", \"Deploy\", \"Build\"]\n",
        "order.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    let mut s = s;
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    let msgs = pl001(s, &config);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].contains("Build runs before or with Deploy"),
        "{}",
        msgs[0]
    );
}

#[test]
fn a_bad_reference_is_an_error_with_file_and_line() {
    let e = Config::parse(
        "release_branch = \"main\"\n[reference]\nstages = [\"Build\"]\n",
        "p.toml",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        e.starts_with("p.toml:2:") && e.contains("must start with"),
        "{e}"
    );
    let e = Config::parse("[reference]\nsources = [\"GitHub\"]\n", "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("p.toml:2:") && e.contains("sources"), "{e}");
}
