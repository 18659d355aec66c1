//! Shared test support: the moto harness, seeding, and insta settings.
#![allow(dead_code)]

pub mod hostile;
pub mod mocks;
pub mod moto;
pub mod proxy;
pub mod refs;
pub mod sarif_schema;
pub mod seed;

/// insta settings with snapshots stored in the top-level `snapshots/` folder.
pub fn insta_settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(false);
    s
}

/// The bundled demo account's snapshot.
pub const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

/// Runs the pipeaudit binary offline (no endpoint, no colour) with `args`.
pub fn offline(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

/// The pipeaudit binary pointed at a test endpoint, with test credentials
/// and no profile (callers add the region and the rest).
/// Runs git with `args` in `dir` (the patch tests' scratch repositories).
pub fn git(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("git: {e}"))
}

pub fn pipeaudit_command(endpoint: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"));
    c.args(["--endpoint-url", endpoint])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE");
    c
}

/// A run's standard output as JSON; panics with its standard error when it is not.
pub fn stdout_json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}); stderr:\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// (rule id, resource) of every finding of a JSON report.
pub fn findings(r: &serde_json::Value) -> std::collections::BTreeSet<(String, String)> {
    r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["resource_arn"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The rule ids of a JSON report's findings.
pub fn rule_ids(r: &serde_json::Value) -> std::collections::BTreeSet<String> {
    findings(r).into_iter().map(|(id, _)| id).collect()
}

/// The diagnostics of a JSON report, notes left out (a note is a limit of
/// the audit no permission lifts, such as service control policies not
/// being considered: listed apart, never a gap; see [`notes`]).
pub fn diagnostics(r: &serde_json::Value) -> Vec<serde_json::Value> {
    r["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["kind"] != "note")
        .cloned()
        .collect()
}

/// The notes of a JSON report.
pub fn notes(r: &serde_json::Value) -> Vec<serde_json::Value> {
    r["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["kind"] == "note")
        .cloned()
        .collect()
}

/// The diagnostics of an evaluation that are not notes.
pub fn gaps(d: &[pipeaudit::findings::Diagnostic]) -> Vec<&pipeaudit::findings::Diagnostic> {
    d.iter()
        .filter(|d| d.kind != pipeaudit::findings::DiagnosticKind::Note)
        .collect()
}

/// A value as the snapshot records one whose read was denied.
pub fn denied(action: &str) -> serde_json::Value {
    use pipeaudit::model::{Observed, ReadError, ReadErrorKind};
    serde_json::to_value(Observed::<()>::Unknown {
        error: ReadError {
            kind: ReadErrorKind::AccessDenied,
            action: action.to_string(),
            code: Some("AccessDeniedException".into()),
            message: "not authorized".into(),
        },
    })
    .unwrap_or(serde_json::Value::Null)
}

/// Findings as rows for snapshots: rule id, severity, resource, message.
pub fn finding_rows(findings: &[pipeaudit::findings::Finding]) -> Vec<[String; 4]> {
    findings
        .iter()
        .map(|f| {
            [
                f.rule_id.clone(),
                f.severity.to_string(),
                f.resource_arn.clone(),
                f.message.clone(),
            ]
        })
        .collect()
}

/// The actions an example policy under `examples/` grants: every `Action`
/// of its statements.
pub fn policy_actions(file: &str) -> std::collections::BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let policy: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| match &s["Action"] {
            serde_json::Value::String(a) => vec![a.clone()],
            v => v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
        })
        .collect()
}

/// Panics naming every action of `used` that the example policy `file`
/// (under `examples/`) does not grant.
pub fn assert_policy_grants<S: AsRef<str>>(file: &str, used: impl IntoIterator<Item = S>) {
    let granted = policy_actions(file);
    let missing: Vec<String> = used
        .into_iter()
        .map(|a| a.as_ref().to_string())
        .filter(|a| !granted.contains(a))
        .collect();
    assert!(
        missing.is_empty(),
        "missing from examples/{file}: {}",
        missing.join(", ")
    );
}
