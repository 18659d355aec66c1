//! Plaintext secrets in a pipeline declaration never leave, against
//! moto_server 5.1.22: a build action's `EnvironmentVariables`, a source
//! action's `OAuthToken` and a password inside a JSON parameter are read
//! from GetPipeline in clear and must appear in no output: the snapshot,
//! the audit in every format, drift in every format, the most verbose logs,
//! the remediation plan and journal. Remediation that rewrites the
//! declaration (UpdatePipeline, which moto serves) sends back the values AWS
//! has, not the redacted ones.

use crate::support;

use std::path::Path;
use std::process::Output;

use support::moto::Moto;
use support::seed::{self, Defect, SeedClients, StackSpec};

const REGION: &str = "us-east-1";

/// moto keeps no build project key and no CodeBuild UpdateProject: CB004 is
/// disabled in these runs, as in the other remediation tests.
fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("pipeaudit.toml");
    if let Err(e) = std::fs::write(&path, "disabled = [\"CB004\"]\n") {
        panic!("{}: {e}", path.display());
    }
    path
}

fn run(moto: &Moto, args: &[&str]) -> Output {
    support::pipeaudit_command(&moto.endpoint)
        .args(["--region", REGION])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

/// Fails the test naming `what` when any secret value occurs in `bytes`.
fn assert_clean(what: &str, bytes: &[u8]) {
    for secret in seed::pipeline_secret_values() {
        let s = secret.as_bytes();
        assert!(
            !bytes.windows(s.len()).any(|w| w == s),
            "a secret value occurs in {what}"
        );
    }
}

fn assert_output_clean(what: &str, o: &Output) {
    assert_clean(&format!("{what} stdout"), &o.stdout);
    assert_clean(&format!("{what} stderr"), &o.stderr);
}

#[tokio::test]
async fn pipeline_declaration_secrets_reach_no_output() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, REGION)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let stack = seed::seed_stack(
        &c,
        &StackSpec {
            prefix: "sec".to_string(),
            defects: vec![Defect::PipelineSecret, Defect::PollingOn],
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = config(dir.path());
    let cfg = cfg.to_string_lossy().to_string();

    // the snapshot, collected at the most verbose log level
    let baseline = dir.path().join("baseline.json");
    let o = run(
        &moto,
        &["snapshot", "-vv", "-o", &baseline.to_string_lossy()],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_output_clean("snapshot -vv", &o);
    let text = std::fs::read_to_string(&baseline).unwrap_or_else(|e| panic!("{e}"));
    assert_clean("the snapshot file", text.as_bytes());
    // what is kept: names, types, references, the keys and the markers
    let snap: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let decl = &snap["resources"]["pipelines"][&stack.pipeline_arn]["value"];
    let build = &decl["stages"][1]["actions"][0];
    let vars = build["environment_variables"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = vars.iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(names, ["GITHUB_TOKEN", "STAGE", "DB_PASSWORD"], "{build}");
    assert!(!vars[0]["secret_kinds"].as_array().is_none_or(Vec::is_empty));
    assert_eq!(vars[2]["reference"], "/app/db-password");
    assert_eq!(
        decl["stages"][0]["actions"][0]["configuration"]["OAuthToken"],
        "<redacted>"
    );
    assert_eq!(
        decl["stages"][0]["actions"][0]["configuration"]["RepositoryName"],
        format!("{}-repo", stack.prefix)
    );

    // the audit in every format names the keys, never the values
    for format in ["table", "json", "sarif", "markdown"] {
        let o = run(
            &moto,
            &["-vv", "--config", &cfg, "--format", format, "--exit-zero"],
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_output_clean(&format!("audit --format {format}"), &o);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("PL006"), "{format}:\n{out}");
        assert!(
            out.contains("EnvironmentVariables.GITHUB_TOKEN"),
            "{format}:\n{out}"
        );
        assert!(out.contains("OAuthToken"), "{format}:\n{out}");
        assert!(
            out.contains("CustomData.DatabasePassword"),
            "{format}:\n{out}"
        );
        assert!(
            !out.contains("EnvironmentVariables.STAGE"),
            "{format}:\n{out}"
        );
    }

    // drift: a new secret value and a new secret variable in the declaration
    let [token, _, _] = seed::pipeline_secret_values();
    let mut decl = seed::declaration(&c, &stack.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    if let Some(cfg) = decl.stages[1].actions[0].configuration.as_mut() {
        let vars = serde_json::json!([
            {"name": "GITHUB_TOKEN", "value": token.chars().rev().collect::<String>(), "type": "PLAINTEXT"},
            {"name": "NPM_TOKEN", "value": token, "type": "PLAINTEXT"},
            {"name": "STAGE", "value": "prod", "type": "PLAINTEXT"}
        ]);
        cfg.insert("EnvironmentVariables".to_string(), vars.to_string());
    }
    seed::update_declaration(&c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for format in ["table", "json", "sarif", "markdown"] {
        let o = run(
            &moto,
            &[
                "drift",
                "--baseline",
                &baseline.to_string_lossy(),
                "--format",
                format,
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_output_clean(&format!("drift --format {format}"), &o);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains("NPM_TOKEN"),
            "{format}: the added variable is drift:\n{out}"
        );
    }

    // remediation: source-polling-off rewrites the declaration
    let journal = dir.path().join("journal.json");
    let journal_s = journal.to_string_lossy().to_string();
    for format in ["table", "json"] {
        let o = run(
            &moto,
            &[
                "-vv",
                "--config",
                &cfg,
                "--remediate",
                "--dry-run",
                "--format",
                format,
            ],
        );
        assert_output_clean(&format!("plan --format {format}"), &o);
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("source-polling-off"),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
    let o = run(
        &moto,
        &[
            "-vv",
            "--config",
            &cfg,
            "--remediate",
            "--yes",
            "--journal",
            &journal_s,
        ],
    );
    assert_output_clean("remediate", &o);
    let written = std::fs::read(&journal).unwrap_or_else(|e| panic!("{e}"));
    assert_clean("the journal", &written);
    assert!(
        String::from_utf8_lossy(&written).contains("source-polling-off"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // AWS still has the real values, and polling is off
    let after = seed::declaration(&c, &stack.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let source = after.stages[0].actions[0]
        .configuration
        .clone()
        .unwrap_or_default();
    assert_eq!(
        source.get("PollForSourceChanges").map(String::as_str),
        Some("false")
    );
    assert_eq!(
        source.get("OAuthToken"),
        Some(&seed::pipeline_secret_values()[1]),
        "the declaration sent back keeps the value AWS had"
    );
    let build = after.stages[1].actions[0]
        .configuration
        .clone()
        .unwrap_or_default();
    assert!(
        build
            .get("EnvironmentVariables")
            .is_some_and(|v| v.contains(&token)),
        "the build action's variables are sent back as AWS had them"
    );
}
