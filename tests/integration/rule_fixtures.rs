//! Per-rule fixtures, driven by the registry: every rule has a directory
//! `tests/fixtures/rules/<ID>/` with a `fires.yaml` and a `passes.yaml` case,
//! each a small patch over a stack of the bundled demo account (the compliant
//! `demo-000` unless the case names another), and one insta snapshot of the
//! findings its `fires` case gives (`snapshots/rule_<ID>.snap`). A rule
//! without both cases fails the test, so a new rule cannot land untested.
//!
//! A case:
//! ```yaml
//! stack: demo-017            # optional; the stack to audit (default demo-000)
//! config: |                  # optional pipeaudit.toml text
//!   release_branch = "main"
//! patch:                     # optional; applied in order
//!   - set: [buckets, "@bucket", versioning, value, status]
//!     value: Suspended
//!   - policy: [roles, "@role:deploy", trust_policy, value]   # a policy text, parsed
//!     document: {Statement: [...]}
//!   - remove: [pipelines, "@pipeline", stages, 2]
//! expect: [AB008]            # the rule ids that fire on the stack, exactly
//! ```
//! A path starts with a resource map of the snapshot (`buckets`, `keys`,
//! `roles`, `pipelines` for declarations, ...) and the resource's ARN, and
//! goes on inside the resource's read value; `wiring` starts at the stack's
//! pipeline wiring instead, `principals` at the snapshot's principals (the
//! release-path rules), `snapshot` at the snapshot's top level
//! (`account_checks`, `webhook_projects`). `@pipeline`, `@repo`, `@project`, `@app`,
//! `@group`, `@bucket`, `@key`, `@rule` and `@role:<name>` stand for the
//! stack's ARNs. A `set` of a whole resource (`[map, ARN]`) may add one the
//! stack does not have (an instance role, a group's `deploy_targets`).
//! `fires` defaults to expecting the rule alone; `passes` to expecting no
//! finding at all.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pipeaudit::findings::DiagnosticKind;
use pipeaudit::model::{PolicyText, Snapshot};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;
use serde::Deserialize;
use serde_json::Value;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(default)]
    stack: Option<String>,
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    patch: Vec<Patch>,
    #[serde(default)]
    expect: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    #[serde(default)]
    set: Option<Vec<Value>>,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    policy: Option<Vec<Value>>,
    #[serde(default)]
    document: Option<Value>,
    #[serde(default)]
    remove: Option<Vec<Value>>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rules")
}

fn demo_json() -> Value {
    let text = std::fs::read_to_string(DEMO).unwrap_or_else(|e| panic!("{DEMO}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DEMO}: {e}"))
}

/// The demo account cut down to one stack, as JSON.
fn stack_json(demo: &Value, stack: &str) -> Value {
    let mut v = demo.clone();
    let name = format!("{stack}-pipeline");
    if let Some(list) = v["pipelines"].as_array_mut() {
        list.retain(|w| w["name"] == name.as_str());
        assert_eq!(list.len(), 1, "no stack {stack} in the demo account");
    }
    v
}

/// The ARN an alias stands for in the stack.
fn alias(v: &Value, stack: &str, a: &str) -> String {
    let w = &v["pipelines"][0];
    let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
    match a {
        "@pipeline" => s(&w["arn"]),
        "@repo" => s(&w["sources"][0]["repository_arn"]),
        "@project" => s(&w["builds"][0]["project_arn"]),
        "@app" => s(&w["deploys"][0]["application_arn"]),
        "@group" => s(&w["deploys"][0]["group_arn"]),
        "@bucket" => s(&w["artifact_stores"][0]["bucket_arn"]),
        "@key" => s(&w["artifact_stores"][0]["key_arn"]),
        "@rule" => s(&w["trigger_rules"][0]),
        other => match other.strip_prefix("@role:") {
            Some(role) => format!(
                "arn:aws:iam::{}:role/{stack}-{role}-role",
                v["account"].as_str().unwrap_or_default()
            ),
            None => panic!("unknown alias {other}"),
        },
    }
}

/// The value a path names, created as an object where missing.
fn at<'a>(v: &'a mut Value, stack: &str, path: &[Value]) -> &'a mut Value {
    let segs: Vec<String> = path
        .iter()
        .map(|p| match p {
            Value::String(s) if s.starts_with('@') => alias(v, stack, s),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let (first, rest) = segs.split_first().unwrap_or_else(|| panic!("empty path"));
    let mut cur = if first == "wiring" {
        &mut v["pipelines"][0]
    } else if first == "principals" {
        &mut v["principals"]
    } else if first == "snapshot" {
        v
    } else {
        let arn = rest
            .first()
            .unwrap_or_else(|| panic!("{first}: the path names no resource"));
        let r = &mut v["resources"][first.as_str()][arn.as_str()];
        // Remove, replace or add the whole resource at `[map, arn]`.
        if rest.len() == 1 {
            return r;
        }
        assert!(r.is_object(), "no {first} {arn} in the fixture");
        &mut r["value"]
    };
    let skip = usize::from(first != "wiring" && first != "principals" && first != "snapshot");
    for seg in &rest[skip..] {
        cur = match seg.parse::<usize>() {
            Ok(i) if cur.is_array() => &mut cur[i],
            _ => &mut cur[seg.as_str()],
        };
    }
    cur
}

fn apply(v: &mut Value, stack: &str, p: &Patch) {
    if let Some(path) = &p.set {
        *at(v, stack, path) = p.value.clone().unwrap_or(Value::Null);
    } else if let Some(path) = &p.policy {
        let doc = p.document.clone().unwrap_or(Value::Null);
        let parsed = PolicyText::parse(&doc.to_string());
        *at(v, stack, path) = serde_json::to_value(parsed).unwrap_or(Value::Null);
    } else if let Some(path) = &p.remove {
        let (last, parent) = path
            .split_last()
            .unwrap_or_else(|| panic!("empty remove path"));
        let target = at(v, stack, parent);
        match (target, last) {
            (Value::Array(a), Value::Number(n)) => {
                let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                assert!(i < a.len(), "remove: index {i} out of range");
                a.remove(i);
            }
            (Value::Object(m), Value::String(k)) => {
                assert!(m.remove(k).is_some(), "remove: no key {k}");
            }
            (t, l) => panic!("remove {l} from {t}"),
        }
    } else {
        panic!("a patch needs set, policy or remove: {p:?}");
    }
}

struct CaseResult {
    fired: BTreeSet<String>,
    findings: Vec<[String; 4]>,
}

fn run_case(rules: &RuleSet, demo: &Value, id: &str, file: &Path) -> (Case, CaseResult) {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("{id}: {} is missing ({e})", file.display()));
    let case: Case =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let stack = case.stack.clone().unwrap_or_else(|| "demo-000".to_string());
    let mut v = stack_json(demo, &stack);
    for p in &case.patch {
        apply(&mut v, &stack, p);
    }
    let snapshot = Snapshot::from_json(&v.to_string(), &file.display().to_string())
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let config = match &case.config {
        Some(t) => Config::parse(t, &file.display().to_string())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display())),
        None => Config::default(),
    };
    let e = evaluate(Arc::new(snapshot), rules, &config);
    let errors: Vec<_> = e
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::RuleError)
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
    let findings = support::finding_rows(&e.findings);
    let fired = e.findings.into_iter().map(|f| f.rule_id).collect();
    (case, CaseResult { fired, findings })
}

#[test]
fn every_rule_fires_on_its_fixture_and_passes_on_its_near_miss() {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let demo = demo_json();
    let mut failures = Vec::new();
    let mut snapshots = Vec::new();
    for rule in &rules.rules {
        let id = rule.file.id.as_str();
        let dir = fixtures_dir().join(id);
        let (case, fires) = run_case(&rules, &demo, id, &dir.join("fires.yaml"));
        let expect: BTreeSet<String> = case
            .expect
            .unwrap_or_else(|| vec![id.to_string()])
            .into_iter()
            .collect();
        if !expect.contains(id) {
            failures.push(format!("{id}: its fires case does not expect {id}"));
        }
        if fires.fired != expect {
            failures.push(format!(
                "{id} fires.yaml: expected {expect:?}, got {:?}",
                fires.fired
            ));
        }
        let (case, passes) = run_case(&rules, &demo, id, &dir.join("passes.yaml"));
        let expect: BTreeSet<String> = case.expect.unwrap_or_default().into_iter().collect();
        if expect.contains(id) {
            failures.push(format!("{id}: its passes case expects {id}"));
        }
        if passes.fired != expect {
            failures.push(format!(
                "{id} passes.yaml: expected {expect:?}, got {:?}",
                passes.fired
            ));
        }
        snapshots.push((id, fires.findings));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (id, findings) in snapshots {
        support::insta_settings().bind(|| {
            insta::assert_json_snapshot!(format!("rule_{id}"), findings);
        });
    }
}

#[test]
fn every_fixture_directory_belongs_to_a_rule() {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let ids: BTreeSet<&str> = rules.rules.iter().map(|r| r.file.id.as_str()).collect();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap_or_else(|e| panic!("{e}")) {
        let name = entry
            .unwrap_or_else(|e| panic!("{e}"))
            .file_name()
            .to_string_lossy()
            .to_string();
        assert!(
            ids.contains(name.as_str()),
            "fixtures for unknown rule {name}"
        );
    }
}
