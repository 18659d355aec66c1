//! SARIF for GitHub code scanning: both schemas, the code-scanning rules of
//! `shared/sarif/README.md` (copied facts: relative schemeless URIs,
//! startLine, numeric security-severity, tags, non-empty texts, distinct
//! categories, explicit empty results), determinism, fingerprints, limits,
//! partial collections; plus the Markdown summary and the generated docs.

use crate::support;

use std::collections::BTreeSet;
use std::process::Output;

use serde_json::Value;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn pipeaudit(args: &[&str]) -> Output {
    support::offline(args)
}

fn sarif_of(snapshot: &str, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["--snapshot", snapshot, "--format", "sarif"];
    args.extend_from_slice(extra);
    let o = pipeaudit(&args);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o, v)
}

fn validate(doc: &Value) {
    support::sarif_schema::validate(doc);
}

/// The code-scanning rules that go beyond the schema.
fn check_code_scanning(doc: &Value) {
    let runs = doc["runs"].as_array().unwrap_or_else(|| panic!("runs"));
    assert!(!runs.is_empty() && runs.len() <= 20);
    let mut categories = BTreeSet::new();
    for run in runs {
        let cat = run["automationDetails"]["id"].as_str().unwrap_or_default();
        assert!(
            cat.ends_with('/') && categories.insert(cat.to_string()),
            "category {cat}"
        );
        let results = run["results"]
            .as_array()
            .unwrap_or_else(|| panic!("results must be explicit"));
        let rules = run["tool"]["driver"]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for r in &rules {
            let id = r["id"].as_str().unwrap_or_default();
            assert!(
                !id.is_empty() && r["name"].as_str().is_some_and(|n| n != id),
                "rule name differs from id"
            );
            for k in ["shortDescription", "fullDescription"] {
                let t = r[k]["text"].as_str().unwrap_or_default();
                assert!(!t.is_empty() && t.chars().count() <= 1024, "{id} {k}");
            }
            assert!(
                r["help"]["text"].as_str().is_some_and(|t| !t.is_empty()),
                "{id} help.text"
            );
            assert!(
                r["help"]["markdown"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty()),
                "{id} help.markdown"
            );
            assert!(
                r["helpUri"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("https://")),
                "{id} helpUri"
            );
            let level = r["defaultConfiguration"]["level"]
                .as_str()
                .unwrap_or_default();
            assert!(["note", "warning", "error"].contains(&level), "{id} level");
            let tags: Vec<&str> = r["properties"]["tags"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert!(tags.contains(&"security") && tags.len() <= 10, "{id} tags");
            let sev: f64 = r["properties"]["security-severity"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(-1.0);
            assert!(sev > 0.0 && sev <= 10.0, "{id} security-severity");
        }
        assert!(results.len() <= 25_000);
        for res in results {
            let locs = res["locations"]
                .as_array()
                .unwrap_or_else(|| panic!("locations"));
            assert_eq!(locs.len(), 1);
            let uri = locs[0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or_default();
            let first = uri.split('/').next().unwrap_or_default();
            assert!(
                !uri.is_empty()
                    && !first.contains(':')
                    && !uri.contains(' ')
                    && !uri.starts_with('/'),
                "uri {uri}"
            );
            assert!(
                locs[0]["physicalLocation"]["region"]["startLine"]
                    .as_i64()
                    .is_some_and(|l| l >= 1)
            );
            let arn = locs[0]["logicalLocations"][0]["fullyQualifiedName"]
                .as_str()
                .unwrap_or_default();
            assert!(arn.starts_with("arn:"));
            let hash = res["partialFingerprints"]["primaryLocationLineHash"]
                .as_str()
                .unwrap_or_default();
            assert!(
                hash.len() == 18
                    && hash.ends_with(":1")
                    && hash[..16].chars().all(|c| c.is_ascii_hexdigit()),
                "{hash}"
            );
            assert!(
                res["message"]["text"]
                    .as_str()
                    .is_some_and(|t| t.contains(arn)),
                "message names the ARN"
            );
            let id = res["ruleId"].as_str().unwrap_or_default();
            assert!(
                rules.iter().any(|r| r["id"] == id),
                "{id} described in the run"
            );
        }
    }
}

#[test]
fn demo_sarif_passes_both_schemas_and_code_scanning_rules() {
    let (o, doc) = sarif_of(DEMO, &[]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(doc["version"], "2.1.0");
    validate(&doc);
    check_code_scanning(&doc);
    assert_eq!(doc["runs"][0]["results"].as_array().map(Vec::len), Some(27));
    support::insta_settings().bind(|| {
        // one result and the rule it points at, as GitHub receives them
        let run = &doc["runs"][0];
        let result = run["results"].as_array().and_then(|r| r.iter().find(|x| x["ruleId"] == "KM003")).cloned();
        let rule = run["tool"]["driver"]["rules"].as_array().and_then(|r| r.iter().find(|x| x["id"] == "KM003")).cloned();
        let mut driver = run["tool"]["driver"].clone();
        driver["rules"] = Value::Null;
        driver["semanticVersion"] = Value::String("[version]".into());
        insta::assert_json_snapshot!("sarif_demo_km003", serde_json::json!({"driver": driver, "rule": rule, "result": result, "automationDetails": run["automationDetails"]}));
    });
}

#[test]
fn output_is_deterministic_and_fingerprints_track_resources() {
    let (_, a) = sarif_of(DEMO, &[]);
    let (_, b) = sarif_of(DEMO, &[]);
    assert_eq!(a.to_string(), b.to_string());
    let hashes: Vec<&str> = a["runs"][0]["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["partialFingerprints"]["primaryLocationLineHash"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let unique: BTreeSet<&&str> = hashes.iter().collect();
    assert_eq!(
        unique.len(),
        hashes.len(),
        "different resources, different hashes"
    );
}

#[test]
fn clean_scope_gets_an_explicit_empty_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(DEMO).unwrap_or_else(|e| panic!("{e}"));
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["pipelines"] = Value::Array(vec![]);
    v["regions"] = serde_json::json!(["eu-west-1", "us-east-1"]);
    let path = dir.path().join("empty.json");
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let (o, doc) = sarif_of(&path.to_string_lossy(), &[]);
    assert_eq!(o.status.code(), Some(0));
    validate(&doc);
    check_code_scanning(&doc);
    let runs = doc["runs"].as_array().cloned().unwrap_or_default();
    assert_eq!(runs.len(), 2, "one run per region");
    for r in runs {
        assert_eq!(r["results"], serde_json::json!([]));
    }
}

#[test]
fn partial_collection_refuses_sarif_unless_allowed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(DEMO).unwrap_or_else(|e| panic!("{e}"));
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<String> = v["resources"]["keys"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    for k in keys {
        if v["resources"]["keys"][&k]["status"] == "ok" {
            v["resources"]["keys"][&k]["value"]["policy"] = serde_json::json!({"status":"unknown","error":{"kind":"access_denied","action":"kms:GetKeyPolicy","message":"denied"}});
        }
    }
    let path = dir.path().join("partial.json");
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let p = path.to_string_lossy().to_string();
    let (o, _) = sarif_of(&p, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-partial"));
    assert!(o.stdout.is_empty());
    let (o, doc) = sarif_of(&p, &["--allow-partial"]);
    assert_eq!(o.status.code(), Some(1));
    validate(&doc);
}

#[test]
fn markdown_summary_reads_well() {
    let o = pipeaudit(&["--snapshot", DEMO, "--format", "markdown"]);
    assert_eq!(o.status.code(), Some(1));
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.starts_with("## pipeaudit: 27 finding(s) in 39 pipeline(s)"));
    assert!(md.contains("| critical | 10 |"));
    assert!(md.contains("### demo-013-pipeline"));
    assert!(md.contains(&format!(
        "[AB007]({}/blob/v{}/docs/rules/AB007.md)",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn committed_rule_docs_are_current() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("docs");
    let o = pipeaudit(&["rules", "docs", "--out", &out.to_string_lossy()]);
    assert_eq!(o.status.code(), Some(0));
    let committed = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rules"));
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .collect();
    names.sort();
    // one page per rule and the index
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names.len(), rules.rules.len() + 1);
    for n in names {
        let fresh = std::fs::read_to_string(out.join(&n)).unwrap_or_default();
        let old = std::fs::read_to_string(committed.join(&n)).unwrap_or_default();
        assert!(
            fresh == old,
            "docs/rules/{n} is stale: run `pipeaudit rules docs --out docs/rules --book docs`"
        );
    }
}

#[test]
fn full_report_snapshot() {
    // three pipelines of the demo: one compliant, one with a public bucket
    // policy, one with key rotation off
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(DEMO).unwrap_or_else(|e| panic!("{e}"));
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let keep = [
        "demo-000-pipeline",
        "demo-013-pipeline",
        "demo-017-pipeline",
    ];
    if let Some(p) = v["pipelines"].as_array_mut() {
        p.retain(|w| w["name"].as_str().is_some_and(|n| keep.contains(&n)));
    }
    let path = dir.path().join("three.json");
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let (o, mut doc) = sarif_of(&path.to_string_lossy(), &[]);
    assert_eq!(o.status.code(), Some(1));
    validate(&doc);
    check_code_scanning(&doc);
    doc["runs"][0]["tool"]["driver"]["semanticVersion"] = Value::String("[version]".into());
    support::insta_settings().bind(|| insta::assert_json_snapshot!("sarif_full_report", doc));
}
