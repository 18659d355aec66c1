//! The account-level listing on moto_server 5.1.22: ListProjects and
//! BatchGetProjects are served, so a project no pipeline names is read
//! with the pipeline's own project (each once); moto stores no webhook,
//! so none is kept. moto has no ListSourceCredentials (it answers 500,
//! retried once here): the region's credentials are unknown, naming the
//! action, and CB019 reports the gap instead of passing. Webhooks
//! themselves are tested with mocks (`webhooks_mocks.rs`).

use crate::support;

use aws_sdk_codebuild::types as cb;
use serde_json::Value;
use support::moto::Moto;
use support::seed::{self, SeedClients, StackSpec};

#[tokio::test]
async fn the_regions_projects_are_listed_and_unknown_credentials_are_a_gap() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    seed::seed_stack(
        &c,
        &StackSpec {
            prefix: "hook".to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    c.codebuild
        .create_project()
        .name("standalone")
        .source(
            cb::ProjectSource::builder()
                .r#type(cb::SourceType::Github)
                .location("https://github.com/example/app.git")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .artifacts(
            cb::ProjectArtifacts::builder()
                .r#type(cb::ArtifactsType::NoArtifacts)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .environment(
            cb::ProjectEnvironment::builder()
                .r#type(cb::EnvironmentType::LinuxContainer)
                .image("aws/codebuild/standard:7.0")
                .compute_type(cb::ComputeType::BuildGeneral1Small)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .service_role("arn:aws:iam::123456789012:role/standalone")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let run = |args: &[&str]| {
        support::pipeaudit_command(&moto.endpoint)
            .args([
                "--region",
                "us-east-1",
                "-q",
                "--max-attempts",
                "1",
                "--account-checks",
            ])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
    };
    let snap = support::stdout_json(&run(&["snapshot"]));
    assert_eq!(snap["account_checks"], true);
    assert_eq!(snap["api_calls"]["codebuild:ListProjects"], 1);
    // the pipeline's project, then the standalone one
    assert_eq!(snap["api_calls"]["codebuild:BatchGetProjects"], 2);
    assert!(
        snap.get("webhook_projects").is_none(),
        "moto stores no webhook"
    );
    let creds = &snap["resources"]["source_credentials"]["us-east-1"];
    assert_eq!(creds["status"], "unknown", "{creds}");
    assert_eq!(creds["error"]["action"], "codebuild:ListSourceCredentials");

    let report = support::stdout_json(&run(&["--format", "json"]));
    let diagnostics = support::diagnostics(&report);
    let gaps: Vec<&Value> = diagnostics
        .iter()
        .filter(|d| d["rule_id"] == "CB019")
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(gaps[0]["kind"], "collection-gap");
    assert_eq!(gaps[0]["permission"], "codebuild:ListSourceCredentials");
    assert!(
        support::findings(&report).iter().all(|(r, _)| r != "CB019"),
        "unknown credentials never pass or fail"
    );
}
