//! Drift between snapshots: offline fixtures (each kind of change,
//! equivalent-but-reordered policies and patterns, secrets), and against
//! moto_server (four changes made through the SDK, exactly four reported,
//! the added bucket-policy statement shown as written in every format).

use crate::support;

use std::collections::BTreeSet;

use pipeaudit::collect::{CollectOptions, collect_with_config};
use pipeaudit::drift::{ChangeKind, Delta, compare};
use pipeaudit::model::Snapshot;
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use serde_json::Value;
use support::moto::Moto;
use support::seed::{self, SeedClients, StackSpec};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn demo_json() -> Value {
    let text = std::fs::read_to_string(DEMO).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

fn snap(v: &Value) -> Snapshot {
    Snapshot::from_json(&v.to_string(), "fixture").unwrap_or_else(|e| panic!("{e}"))
}

fn rules() -> RuleSet {
    RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reordered_policies_patterns_and_lists_are_not_drift() {
    let base = demo_json();
    let mut cur = base.clone();
    cur["taken_at"] = "2031-01-01T00:00:00Z".into();
    cur["api_calls"] = serde_json::json!({});
    for (_, b) in cur["resources"]["buckets"]
        .as_object_mut()
        .into_iter()
        .flatten()
    {
        if let Some(st) = b
            .pointer_mut("/value/policy/value/document/statements")
            .and_then(Value::as_array_mut)
        {
            st.reverse();
            for s in st.iter_mut() {
                s["sid"] = Value::Null; // statement ids carry no meaning
            }
        }
    }
    for (_, r) in cur["resources"]["event_rules"]
        .as_object_mut()
        .into_iter()
        .flatten()
    {
        if let Some(ev) = r
            .pointer_mut("/value/event_pattern/detail/event")
            .and_then(Value::as_array_mut)
        {
            ev.reverse();
        }
    }
    for (_, p) in cur["resources"]["pipelines"]
        .as_object_mut()
        .into_iter()
        .flatten()
    {
        p["value"]["updated"] = "2031-01-01T00:00:00Z".into();
    }
    let d = compare(&snap(&base), &snap(&cur), &rules(), &Config::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(d.changes.is_empty(), "{:#?}", d.changes);
}

#[test]
fn each_kind_of_change_is_reported_and_linked_to_its_rules() {
    let base = demo_json();
    let mut cur = base.clone();
    // changed: versioning suspended on the compliant stack's bucket
    cur["resources"]["buckets"]["arn:aws:s3:::demo-000-artifacts"]["value"]["versioning"]["value"]
        ["status"] = "Suspended".into();
    // removed: a deployment group
    let group =
        "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:demo-003-app/demo-003-group";
    cur["resources"]["deploy_groups"]
        .as_object_mut()
        .map(|m| m.remove(group));
    // added: a role
    let role = "arn:aws:iam::123456789012:role/demo-000-pipeline-role";
    let new_role = "arn:aws:iam::123456789012:role/extra-role";
    let copy = cur["resources"]["roles"][role].clone();
    cur["resources"]["roles"][new_role] = copy;
    let d = compare(&snap(&base), &snap(&cur), &rules(), &Config::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let got: BTreeSet<(String, ChangeKind)> = d
        .changes
        .iter()
        .map(|c| (c.arn.clone(), c.change))
        .collect();
    let want: BTreeSet<(String, ChangeKind)> = [
        (
            "arn:aws:s3:::demo-000-artifacts".to_string(),
            ChangeKind::Changed,
        ),
        (group.to_string(), ChangeKind::Removed),
        (new_role.to_string(), ChangeKind::Added),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let bucket = d
        .changes
        .iter()
        .find(|c| c.change == ChangeKind::Changed)
        .unwrap_or_else(|| panic!("no change"));
    assert_eq!(bucket.fields.len(), 1);
    assert_eq!(bucket.fields[0].path, "versioning.status");
    assert_eq!(
        bucket.fields[0].delta,
        Delta::Value {
            before: "Enabled".into(),
            after: "Suspended".into()
        }
    );
    assert_eq!(bucket.rules, vec!["+AB008".to_string()]);
    assert_eq!(
        bucket.pipelines,
        vec!["arn:aws:codepipeline:us-east-1:123456789012:demo-000-pipeline".to_string()]
    );
}

/// A resource missing now because it could not be collected now (its
/// listing, or the resource pointing at it, could not be read) is not
/// removed: it is listed as not compared.
#[test]
fn what_could_not_be_collected_is_not_removed() {
    let base = demo_json();
    let mut cur = base.clone();
    let error = serde_json::json!({"kind": "access_denied", "action": "codepipeline:GetPipeline",
        "message": "denied"});
    // demo-003's declaration could not be read: nothing it points at was
    // collected (its wiring is empty)
    let pipeline = "arn:aws:codepipeline:us-east-1:123456789012:demo-003-pipeline";
    let project = "arn:aws:codebuild:us-east-1:123456789012:project/demo-003-build";
    cur["resources"]["pipelines"][pipeline] =
        serde_json::json!({"status": "unknown", "error": error});
    let removed = cur["resources"]["build_projects"]
        .as_object_mut()
        .and_then(|m| m.remove(project));
    assert!(removed.is_some(), "the fixture has {project}");
    // and the trigger rules of the region could not be listed
    cur["resources"]["event_rules"] = serde_json::json!({});
    cur["scope_errors"] = serde_json::json!([{"region": "us-east-1", "scope": "event-rules",
        "error": {"kind": "access_denied", "action": "events:ListRules", "message": "denied"}}]);
    let d = compare(&snap(&base), &snap(&cur), &rules(), &Config::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !d.changes.iter().any(|c| c.change == ChangeKind::Removed),
        "{:#?}",
        d.changes
    );
    assert!(
        d.not_compared
            .iter()
            .any(|n| n.starts_with(project) && n.contains("codepipeline:GetPipeline")),
        "{:#?}",
        d.not_compared
    );
    assert!(
        d.not_compared
            .iter()
            .any(|n| n.contains(":rule/demo-000-trigger") && n.contains("events:ListRules")),
        "{:#?}",
        d.not_compared
    );
    // A change to demo-001 (which has no trigger rule, TR001) is reported,
    // but not as resolving TR001: the trigger rules could not be checked.
    let d = {
        let demo1 = "arn:aws:codepipeline:us-east-1:123456789012:demo-001-pipeline";
        cur["resources"]["pipelines"][demo1]["value"]["execution_mode"] = "PARALLEL".into();
        compare(&snap(&base), &snap(&cur), &rules(), &Config::default())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let change = d
        .changes
        .iter()
        .find(|c| c.arn.ends_with(":demo-001-pipeline"))
        .unwrap_or_else(|| panic!("{:#?}", d.changes));
    assert!(!change.rules.contains(&"-TR001".to_string()), "{change:#?}");
}

#[test]
fn different_accounts_are_a_clear_error() {
    let base = demo_json();
    let mut cur = base.clone();
    cur["account"] = "999999999999".into();
    let e = compare(&snap(&base), &snap(&cur), &rules(), &Config::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("different accounts"), "{e}");
}

#[test]
fn drift_command_formats_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cur = demo_json();
    cur["resources"]["buckets"]["arn:aws:s3:::demo-000-artifacts"]["value"]["versioning"]["value"]
        ["status"] = "Suspended".into();
    let path = dir.path().join("cur.json");
    std::fs::write(&path, cur.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
            .args(["drift", "--baseline", DEMO])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let p = path.to_string_lossy().to_string();
    let o = run(&["--snapshot", &p]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .contains("versioning.status: \"Enabled\" -> \"Suspended\"")
    );
    assert_eq!(run(&["--snapshot", DEMO]).status.code(), Some(0));
    assert_eq!(
        run(&["--snapshot", &p, "--exit-zero"]).status.code(),
        Some(0)
    );
    let o = run(&["--snapshot", &p, "--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["summary"]["changes"], 1);
    let o = run(&["--snapshot", &p, "--format", "sarif"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["runs"][0]["results"][0]["ruleId"], "DRIFT");
    assert_eq!(
        v["runs"][0]["automationDetails"]["id"],
        "pipeaudit-drift/aws/123456789012/us-east-1/"
    );
}

#[test]
fn baseline_findings_keep_only_new_ones() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let prev = dir.path().join("prev.json");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(["--snapshot", DEMO, "--format", "json", "-o"])
        .arg(&prev)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(1));
    let mut cur = demo_json();
    cur["resources"]["buckets"]["arn:aws:s3:::demo-000-artifacts"]["value"]["versioning"]["value"]
        ["status"] = "Suspended".into();
    let path = dir.path().join("cur.json");
    std::fs::write(&path, cur.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(["--format", "json", "--snapshot"])
        .arg(&path)
        .arg("--baseline-findings")
        .arg(&prev)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = v["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["rule_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, vec!["AB008"], "only the regression");
}

#[tokio::test]
async fn four_changes_made_through_the_sdk_are_exactly_the_drift() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let spec = StackSpec {
        prefix: "dr-001".into(),
        defects: vec![],
        shared_store: None,
    };
    let stack = seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let config = moto.sdk_config("us-east-1").await;
    let before = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // 1. rotation off
    c.kms
        .disable_key_rotation()
        .key_id(&stack.key_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // 2. one more bucket policy statement
    let policy =
        c.s3.get_bucket_policy()
            .bucket(&stack.bucket)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let mut doc: Value =
        serde_json::from_str(policy.policy().unwrap_or("{}")).unwrap_or_else(|e| panic!("{e}"));
    if let Some(st) = doc["Statement"].as_array_mut() {
        st.push(serde_json::json!({"Sid":"AuditorRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":format!("arn:aws:s3:::{}/*", stack.bucket)}));
    }
    c.s3.put_bucket_policy()
        .bucket(&stack.bucket)
        .policy(doc.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // 3. a build environment variable: moto has no UpdateProject, so the
    //    project is recreated with one more variable
    let project = c
        .codebuild
        .batch_get_projects()
        .names(&stack.project_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let p = project
        .projects()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("project"));
    c.codebuild
        .delete_project()
        .name(&stack.project_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut env = p.environment().cloned().unwrap_or_else(|| panic!("env"));
    let mut vars = env.environment_variables().to_vec();
    vars.push(
        aws_sdk_codebuild::types::EnvironmentVariable::builder()
            .name("FEATURE_FLAG")
            .value("flag-value-7Qx2")
            .r#type(aws_sdk_codebuild::types::EnvironmentVariableType::Plaintext)
            .build()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    env.environment_variables = Some(vars);
    c.codebuild
        .create_project()
        .name(&stack.project_name)
        .set_source(p.source().cloned())
        .set_artifacts(p.artifacts().cloned())
        .environment(env)
        .set_service_role(p.service_role().map(str::to_string))
        .set_logs_config(p.logs_config().cloned())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // 4. trigger rule disabled
    c.events
        .disable_rule()
        .name(&stack.rule_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let after = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let d =
        compare(&before, &after, &rules(), &Config::default()).unwrap_or_else(|e| panic!("{e}"));
    let got: BTreeSet<(&str, &str)> = d
        .changes
        .iter()
        .map(|c| (c.resource_kind.as_str(), c.arn.as_str()))
        .collect();
    let project_arn = format!(
        "arn:aws:codebuild:us-east-1:123456789012:project/{}",
        stack.project_name
    );
    let rule_arn = format!(
        "arn:aws:events:us-east-1:123456789012:rule/{}",
        stack.rule_name
    );
    let bucket_arn = format!("arn:aws:s3:::{}", stack.bucket);
    let want: BTreeSet<(&str, &str)> = [
        ("keys", stack.key_arn.as_str()),
        ("buckets", bucket_arn.as_str()),
        ("build_projects", project_arn.as_str()),
        ("event_rules", rule_arn.as_str()),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want, "{:#?}", d.changes);
    let by_kind = |k: &str| {
        d.changes
            .iter()
            .find(|c| c.resource_kind == k)
            .unwrap_or_else(|| panic!("{k}"))
    };
    assert_eq!(by_kind("keys").fields[0].path, "rotation_enabled");
    assert_eq!(by_kind("keys").rules, vec!["+KM003".to_string()]);
    assert_eq!(by_kind("event_rules").rules, vec!["+TR002".to_string()]);
    assert!(
        by_kind("build_projects")
            .fields
            .iter()
            .all(|f| f.path == "environment.variables"),
        "{:?}",
        by_kind("build_projects").fields
    );
    // the added statement: one item, as written, with its Sid
    let bucket = by_kind("buckets");
    assert_eq!(bucket.fields.len(), 1, "{:?}", bucket.fields);
    assert_eq!(bucket.fields[0].path, "policy.statements");
    let added = serde_json::json!({"Sid": "AuditorRead", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{}/*", stack.bucket)});
    assert_eq!(
        bucket.fields[0].delta,
        Delta::Items {
            added: vec![added.clone()],
            removed: vec![]
        }
    );
    let pipeline_arn = stack.pipeline_arn.clone();
    assert_eq!(bucket.pipelines, vec![pipeline_arn.clone()]);

    // the same through `pipeaudit drift`, in each format
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let write = |name: &str, s: &Snapshot| {
        let path = dir.path().join(name);
        let text = serde_json::to_string(s).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        path.to_string_lossy().to_string()
    };
    let (base, cur) = (write("base.json", &before), write("cur.json", &after));
    let run = |format: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
            .args(["drift", "--baseline", &base, "--snapshot", &cur])
            .args(["--format", format])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(!text.contains("typed"), "{format}: {text}");
        assert!(!text.contains('…'), "{format}: nothing cut off: {text}");
        if matches!(format, "table" | "markdown") {
            assert!(!text.contains("\\\""), "{format}: no escaped JSON: {text}");
        }
        text
    };
    let table = run("table");
    let bucket_line = format!("  changed arn:aws:s3:::{} (buckets)\n", stack.bucket);
    let at = table
        .find(&bucket_line)
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        table[at + bucket_line.len()..].starts_with(
            "    policy.statements: 1 added\n      + {\n          \"Sid\": \"AuditorRead\",\n"
        ),
        "{table}"
    );
    assert!(
        table.contains(&format!("{} ({pipeline_arn})", stack.pipeline_name)),
        "{table}"
    );
    assert_eq!(
        table.matches("\"Sid\"").count(),
        1,
        "only the added statement: {table}"
    );

    let json: Value = serde_json::from_str(&run("json")).unwrap_or_else(|e| panic!("{e}"));
    let change = json["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["resource_kind"] == "buckets")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(
        change["fields"],
        serde_json::json!([{"path": "policy.statements", "added": [added], "removed": []}])
    );
    assert_eq!(change["pipelines"], serde_json::json!([pipeline_arn]));

    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap_or_else(|e| panic!("{e}"));
    let result = sarif["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["results"].as_array().into_iter().flatten())
        .find(|r| r["properties"]["resource_arn"] == format!("arn:aws:s3:::{}", stack.bucket))
        .unwrap_or_else(|| panic!("{sarif}"));
    assert_eq!(
        result["properties"]["pipelines"],
        serde_json::json!([pipeline_arn])
    );
    assert!(result["properties"].get("pipeline_arn").is_none());
    let message = result["message"]["text"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("policy.statements: added {added}")),
        "{message}"
    );

    let md = run("markdown");
    assert!(
        md.contains(&format!(
            "- changed `arn:aws:s3:::{}` (buckets)\n  - `policy.statements`:\n    - added:\n\n      ```json\n      {{\n        \"Sid\": \"AuditorRead\",",
            stack.bucket
        )),
        "{md}"
    );
}
