//! `pipeaudit compliance` on the bundled demo account, offline: the table
//! of each framework (insta snapshots), the JSON schema, Markdown, CSV read
//! back by a CSV reader, accepted findings, exit codes and bad input.

use crate::support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::{DEMO, offline};

const FRAMEWORKS: &[&str] = &[
    "aws-fsbp",
    "cis-aws-foundations-v3.0",
    "owasp-cicd-top10",
    "pci-dss-v4.0",
    "nist-800-53-r5",
    "soc2",
];

fn compliance(framework: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["compliance", "--framework", framework, "--snapshot", DEMO];
    args.extend_from_slice(extra);
    offline(&args)
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The rows of a framework's JSON report.
fn json_rows(framework: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let doc = support::stdout_json(&compliance(framework, &args));
    doc["controls"].as_array().cloned().unwrap_or_default()
}

/// The distinct resources of the demo's findings, by rule.
fn demo_findings(extra: &[&str]) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut args = vec!["--snapshot", DEMO, "--format", "json"];
    args.extend_from_slice(extra);
    let report = support::stdout_json(&offline(&args));
    let mut out: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for (rule, resource) in support::findings(&report) {
        out.entry(rule).or_default().insert(resource);
    }
    out
}

#[test]
fn the_demo_table_of_each_framework() {
    for f in FRAMEWORKS {
        let o = compliance(f, &[]);
        // every framework has a failing control on the demo account
        assert_eq!(
            o.status.code(),
            Some(1),
            "{f}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        support::insta_settings().bind(|| {
            insta::assert_snapshot!(format!("compliance_demo_{f}"), stdout(&o));
        });
    }
}

/// Each row's status and failing count follow from the audit of the same
/// snapshot: fail with the distinct resources of its rules' findings, else
/// pass (the demo has no unread values), manual without rules.
#[test]
fn rows_agree_with_the_audit() {
    let config = std::env::temp_dir().join(format!("compliance-cfg-{}.toml", std::process::id()));
    std::fs::write(
        &config,
        "require_approval = true\nrelease_branch = \"main\"\n[rules.build-outside-vpc]\nenabled = true\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = config.display().to_string();
    let findings = demo_findings(&["--config", &config]);
    assert!(
        findings.contains_key("CB013"),
        "the rule off by default is on"
    );
    assert!(findings.contains_key("PL005"), "the demo has no approvals");
    // The demo snapshot was collected without --account-checks: a control
    // that rests on an account rule and does not fail is not checked.
    let builtin = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let account_rule = |id: &str| {
        builtin
            .get(id)
            .is_some_and(|r| r.file.scope == pipeaudit::rules::Scope::Account)
    };
    for f in FRAMEWORKS {
        for row in json_rows(f, &["--config", &config]) {
            let rules: Vec<&str> = row["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let failing: std::collections::BTreeSet<&String> = rules
                .iter()
                .filter_map(|r| findings.get(*r))
                .flatten()
                .collect();
            let want = if rules.is_empty() {
                "manual"
            } else if failing.is_empty() && rules.iter().any(|r| account_rule(r)) {
                "not-checked"
            } else if failing.is_empty() {
                "pass"
            } else {
                "fail"
            };
            assert_eq!(row["status"], want, "{f} {}", row["id"]);
            assert_eq!(row["failing_resources"], failing.len(), "{f} {}", row["id"]);
        }
    }
}

/// Without `require_approval` and `release_branch`, PL005 and SC002 check
/// nothing: their controls are not checked (not passed), and say why.
#[test]
fn controls_of_rules_switched_off_by_the_configuration_are_not_checked() {
    let rows = json_rows("owasp-cicd-top10", &[]);
    let sec1 = rows
        .iter()
        .find(|r| r["id"] == "CICD-SEC-1")
        .unwrap_or_else(|| panic!("no CICD-SEC-1"));
    assert_eq!(sec1["status"], "not-checked");
    let reasons = sec1["not_checked"].to_string();
    assert!(
        reasons.contains("PL005 checks nothing until `require_approval` is set"),
        "{reasons}"
    );
}

#[test]
fn accepted_controls_show_the_reason_and_a_failing_one_exits_1() {
    let dir = std::env::temp_dir().join(format!("compliance-acc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    // The one KM003 finding of the demo, accepted.
    let km003 = demo_findings(&[]).remove("KM003").unwrap_or_default();
    assert_eq!(km003.len(), 1, "{km003:?}");
    let key = km003.iter().next().cloned().unwrap_or_default();
    let config = dir.join("pipeaudit.toml");
    std::fs::write(
        &config,
        format!(
            "[[ignore]]\nrule = \"KM003\"\nresource = \"{key}\"\nreason = \"rotated by hand, yearly\"\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = config.display().to_string();
    let o = compliance(
        "cis-aws-foundations-v3.0",
        &["--config", &config, "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let doc = support::stdout_json(&o);
    let row = doc["controls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == "3.6")
        .cloned()
        .unwrap_or_default();
    assert_eq!(row["status"], "accepted", "{row}");
    assert_eq!(row["failing_resources"], 0);
    assert_eq!(row["accepted"][0]["reason"], "rotated by hand, yearly");
    assert_eq!(row["accepted"][0]["resource"], key.as_str());
    let table = stdout(&compliance(
        "cis-aws-foundations-v3.0",
        &["--config", &config],
    ));
    assert!(
        table.contains(&format!("3.6: KM003 on {key}: rotated by hand, yearly")),
        "{table}"
    );
    // --exit-zero: a failing control exits 0
    let o = compliance("cis-aws-foundations-v3.0", &["--exit-zero"]);
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn json_follows_the_documented_schema() {
    let o = compliance("pci-dss-v4.0", &["--format", "json"]);
    let doc = support::stdout_json(&o);
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["framework"]["id"], "pci-dss-v4.0");
    assert_eq!(doc["account"], "123456789012");
    assert_eq!(doc["pipelines"], 39);
    let rows = doc["controls"].as_array().cloned().unwrap_or_default();
    let summary = &doc["summary"];
    assert_eq!(summary["controls"], rows.len());
    let count = |s: &str| rows.iter().filter(|r| r["status"] == s).count();
    assert_eq!(summary["passing"], count("pass"));
    assert_eq!(summary["automated"], rows.len() - count("manual"));
    for s in ["fail", "not-checked", "accepted", "pass", "manual"] {
        assert_eq!(summary["by_status"][s], count(s), "{s}");
    }
    for r in &rows {
        for key in [
            "id",
            "title",
            "section",
            "status",
            "rules",
            "failing_resources",
            "accepted",
            "not_checked",
        ] {
            assert!(!r[key].is_null(), "{key} in {r}");
        }
    }
}

/// CSV read back with a CSV reader: the header, one record per control
/// agreeing with the JSON rows, quoted fields (commas, quotes) intact.
#[test]
fn csv_reads_back_as_the_rows() {
    for f in ["owasp-cicd-top10", "aws-fsbp"] {
        let o = compliance(f, &["--format", "csv"]);
        let mut reader = csv::Reader::from_reader(o.stdout.as_slice());
        let header: Vec<String> = reader
            .headers()
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(str::to_string)
            .collect();
        assert_eq!(header, pipeaudit::report::compliance::csv::HEADER);
        let records: Vec<csv::StringRecord> = reader
            .records()
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        let rows = json_rows(f, &[]);
        assert_eq!(records.len(), rows.len(), "{f}");
        for (rec, row) in records.iter().zip(&rows) {
            assert_eq!(rec.get(0), Some(f.to_string()).as_deref());
            assert_eq!(rec.get(1), row["id"].as_str());
            assert_eq!(rec.get(2), row["title"].as_str());
            assert_eq!(
                rec.get(4).map(|s| s.replace(' ', "-")).as_deref(),
                row["status"].as_str()
            );
            let rules: Vec<&str> = row["rules"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(rec.get(5), Some(rules.join(" ")).as_deref());
            if row["status"] == "manual" {
                assert_eq!(rec.get(6), Some(""));
                assert_eq!(rec.get(7), row["manual"].as_str(), "a reason with commas");
            } else {
                assert_eq!(
                    rec.get(6).map(str::to_string),
                    Some(row["failing_resources"].to_string())
                );
            }
        }
    }
    // a title with quotes survives the quoting
    let o = compliance("aws-fsbp", &["--format", "csv"]);
    let mut reader = csv::Reader::from_reader(o.stdout.as_slice());
    let titles: Vec<String> = reader
        .records()
        .filter_map(Result::ok)
        .filter_map(|r| r.get(2).map(str::to_string))
        .collect();
    assert!(
        titles.contains(&"No policy allows full \"*\" administrative privileges".to_string()),
        "{titles:?}"
    );
}

#[test]
fn markdown_has_a_row_per_control_and_the_total() {
    let o = compliance("soc2", &["--format", "markdown"]);
    let text = stdout(&o);
    let rows = json_rows("soc2", &[]);
    let table_rows = text.lines().filter(|l| l.starts_with("| CC")).count();
    assert_eq!(table_rows, rows.len(), "{text}");
    assert!(text.starts_with("## pipeaudit compliance: SOC 2"), "{text}");
    assert!(text.contains("automated control(s) pass"), "{text}");
}

#[test]
fn the_list_names_every_framework() {
    let o = offline(&["compliance", "--list", "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let list = support::stdout_json(&o);
    let ids: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["id"].as_str())
        .collect();
    let mut want = FRAMEWORKS.to_vec();
    want.sort();
    let mut got = ids.clone();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn bad_input_is_one_line_and_exits_2() {
    for (args, needle) in [
        (
            vec!["compliance", "--framework", "iso-27001", "--snapshot", DEMO],
            "unknown framework \"iso-27001\"",
        ),
        (
            vec![
                "--fail-on",
                "high",
                "compliance",
                "--framework",
                "soc2",
                "--snapshot",
                DEMO,
            ],
            "--fail-on does not apply to compliance",
        ),
        (
            vec![
                "compliance",
                "--framework",
                "soc2",
                "--snapshot",
                "/nonexistent/x.json",
            ],
            "/nonexistent/x.json",
        ),
    ] {
        let o = offline(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
