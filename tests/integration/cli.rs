//! The command line, offline on the bundled demo snapshot: exit codes,
//! formats, rules listing and explanation, bad input.

use crate::support;

use std::process::Output;

fn pipeaudit(args: &[&str]) -> Output {
    support::offline(args)
}

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn audit_of_the_demo_prints_a_table_and_exits_1() {
    let o = pipeaudit(&["--snapshot", DEMO]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("demo-013-pipeline"), "grouped by pipeline");
    assert!(out.contains("AB007 artifact-bucket-policy-public"));
    let last = out.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("27 finding(s) in 39 pipeline(s): 10 critical"),
        "{last}"
    );
    assert!(!out.contains("\u{1b}["), "no colour when not a terminal");
}

#[test]
fn json_report_has_the_documented_shape() {
    let o = pipeaudit(&["--snapshot", DEMO, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["tool"]["name"], "pipeaudit");
    assert_eq!(v["account"], "123456789012");
    assert_eq!(v["summary"]["pipelines"], 39);
    assert_eq!(v["summary"]["findings"], 27);
    assert_eq!(v["summary"]["by_severity"]["critical"], 10);
    let f = &v["findings"][0];
    for k in [
        "rule_id",
        "slug",
        "severity",
        "title",
        "message",
        "pipeline",
        "pipeline_arn",
        "resource_type",
        "resource_arn",
        "region",
        "account",
        "fix",
        "fingerprint",
    ] {
        assert!(f.get(k).is_some(), "finding lacks {k}");
    }
    assert!(v["diagnostics"].is_array());
    assert!(crate::support::diagnostics(&v).is_empty(), "{v:#}");
}

#[test]
fn fail_on_and_exit_zero() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("p.toml");
    // Only low findings remain once everything above is disabled.
    let ids = "PL001 PL002 PL003 PL004 PL005 SC001 TR001 TR002 TR003 TR004 AB001 AB002 AB003 AB004 AB005 AB006 AB007 KM001 KM002 KM003 KM004 KM005 CB001 CB002 CB003 CB004 CB005 CB007 CB008 CD001 CD002 CD003 CD004 CD005 IA001 IA002";
    let list: Vec<String> = ids.split(' ').map(|i| format!("\"{i}\"")).collect();
    std::fs::write(&cfg, format!("disabled = [{}]\n", list.join(", ")))
        .unwrap_or_else(|e| panic!("{e}"));
    let cfg = cfg.to_string_lossy().to_string();
    assert_eq!(
        pipeaudit(&["--snapshot", DEMO, "--config", &cfg])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        pipeaudit(&["--snapshot", DEMO, "--config", &cfg, "--fail-on", "medium"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        pipeaudit(&["--snapshot", DEMO, "--fail-on", "critical"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        pipeaudit(&["--snapshot", DEMO, "--exit-zero"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn rules_list_and_explain() {
    let o = pipeaudit(&["rules"]);
    assert_eq!(o.status.code(), Some(0));
    let count = pipeaudit::rules::RuleSet::builtin()
        .map(|r| r.rules.len())
        .unwrap_or_default();
    assert!(count > 40, "{count}");
    assert!(stdout(&o).contains("KM003") && stdout(&o).contains(&format!("{count} rules")));
    let o = pipeaudit(&["rules", "explain", "km003"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for section in [
        "What",
        "Why",
        "Remediation",
        "Fix: key-rotation (safe)",
        "References",
    ] {
        assert!(text.contains(section), "{section} in {text}");
    }
    let o = pipeaudit(&["rules", "explain", "KM003", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["slug"], "artifact-key-rotation-off");
    let o = pipeaudit(&["rules", "explain", "XX999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no rule \"XX999\""));
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad_cfg = dir.path().join("bad.toml");
    std::fs::write(
        &bad_cfg,
        "release_branch = \"main\"\nrequire_approval = 3\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let future = dir.path().join("future.json");
    std::fs::write(&future, r#"{"schema_version": 7}"#).unwrap_or_else(|e| panic!("{e}"));
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(rules_dir.join("x.yaml"), "id: XX001\nslug: broken\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--snapshot".into(),
                DEMO.into(),
                "--config".into(),
                bad_cfg.to_string_lossy().into(),
            ],
            "bad.toml:2:",
        ),
        (
            vec!["--snapshot".into(), future.to_string_lossy().into()],
            "schema_version 7",
        ),
        (
            vec!["--snapshot".into(), "/nonexistent/s.json".into()],
            "cannot read snapshot",
        ),
        (
            vec![
                "--snapshot".into(),
                DEMO.into(),
                "--rules".into(),
                rules_dir.to_string_lossy().into(),
            ],
            "x.yaml",
        ),
        (
            vec![
                "--snapshot".into(),
                DEMO.into(),
                "--fail-on".into(),
                "urgent".into(),
            ],
            "unknown severity",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = pipeaudit(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{needle} in {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn account_options_are_checked_before_anything_is_collected() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let accounts = dir.path().join("accounts.txt");
    std::fs::write(&accounts, "111122223333\nnot-an-account\n").unwrap_or_else(|e| panic!("{e}"));
    let accounts = accounts.to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--shard", "3/2"], "expected I/N"),
        (vec!["--shard", "1/2"], "none were given"),
        (
            vec!["--role-name", "audit", "--region", "us-east-1"],
            "--role-name needs --accounts",
        ),
        (
            vec!["--accounts", &accounts, "--role-name", "audit"],
            "accounts.txt:2",
        ),
        (
            vec!["--role-arn", "arn:aws:iam::1:role/x", "--role-arn", "y"],
            "is not an IAM role ARN",
        ),
        (
            vec!["--accounts", &accounts, "--snapshot", DEMO],
            "--snapshot audits one saved snapshot",
        ),
    ];
    for (args, needle) in cases {
        let o = pipeaudit(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{needle} in {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn formats_a_command_cannot_print_are_refused() {
    // the rule list has no SARIF form: refused by the argument parser
    let o = pipeaudit(&["rules", "--format", "sarif"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid value 'sarif'"),
        "{}",
        stderr(&o)
    );
    // the list as Markdown is a Markdown table
    let o = pipeaudit(&["rules", "--format", "markdown"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("| id | slug | severity | title | fix |\n|---|"));
    assert!(stdout(&o).contains("| KM003 | artifact-key-rotation-off |"));
    // remediation prints a plan as table or JSON, nothing else: the
    // argument parser says so (a usage error naming the formats it takes),
    // before anything is collected, with or without the `audit` command
    for format in ["markdown", "sarif", "html"] {
        for audit in [&[][..], &["audit"][..]] {
            let mut args = audit.to_vec();
            args.extend([
                "--remediate",
                "--format",
                format,
                "--region",
                "us-east-1",
                "--endpoint-url",
                "http://127.0.0.1:9",
            ]);
            let o = pipeaudit(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            let err = stderr(&o);
            assert!(
                err.starts_with(&format!("error: invalid value '{format}' for '--format")),
                "{err}"
            );
            assert!(err.contains("--remediate prints its plan"), "{err}");
            assert!(err.contains("[possible values: table, json]"), "{err}");
            let usage = if audit.is_empty() {
                "Usage: pipeaudit [OPTIONS] [COMMAND]"
            } else {
                "Usage: pipeaudit audit [OPTIONS]"
            };
            assert!(err.contains(usage), "{err}");
            assert!(
                !err.contains("pipeaudit: error:"),
                "not a run-time error: {err}"
            );
            assert!(o.stdout.is_empty());
        }
    }
    // drift's own formats are all written (html is refused by the parser:
    // see the HTML tests)
    for format in ["table", "json", "sarif", "markdown"] {
        let o = pipeaudit(&[
            "drift",
            "--baseline",
            DEMO,
            "--snapshot",
            DEMO,
            "--format",
            format,
        ]);
        assert_eq!(o.status.code(), Some(0), "{format}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{format}");
    }
}

/// `pipeaudit audit` is the audit, as without a command: the same report,
/// the same exit code, in each format.
#[test]
fn the_audit_command_is_the_default_command() {
    for format in ["table", "json", "markdown", "sarif"] {
        let default = pipeaudit(&["--snapshot", DEMO, "--format", format]);
        let explicit = pipeaudit(&["audit", "--snapshot", DEMO, "--format", format]);
        assert_eq!(default.status.code(), Some(1), "{}", stderr(&default));
        assert_eq!(explicit.status.code(), default.status.code(), "{format}");
        let (a, b) = (stdout(&default), stdout(&explicit));
        // the JSON and SARIF documents hold the time of the run
        let strip = |t: &str| {
            t.lines()
                .filter(|l| !l.contains("generated_at") && !l.contains("UtcTime"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(!a.is_empty(), "{format}");
        assert_eq!(strip(&a), strip(&b), "{format}");
        assert_eq!(stderr(&default), stderr(&explicit), "{format}");
    }
    // its options with it, and the global ones anywhere
    let o = pipeaudit(&["--quiet", "audit", "--snapshot", DEMO, "--exit-zero"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // the audit's options both before and after `audit`: which would win
    // is not guessed
    let o = pipeaudit(&["--format", "json", "audit", "--snapshot", DEMO]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("--format given before `audit`"), "{err}");
    assert!(o.stdout.is_empty());
    // the manual and the completions name it
    let o = pipeaudit(&["completions", "bash"]);
    assert!(
        stdout(&o).contains("pipeaudit__subcmd__audit)"),
        "bash completions name `audit`"
    );
}

/// The options a command shares with the audit can be given before the
/// command (the audit's) or after it (the command's own): the command's
/// configuration file wins, the rule directories add up.
#[test]
fn shared_options_before_and_after_a_command() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "release_branch = \"main\"\nrequire_approval = 3\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let bad = bad.to_string_lossy().into_owned();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "").unwrap_or_else(|e| panic!("{e}"));
    let good = good.to_string_lossy().into_owned();
    for command in [
        &["graph", "--snapshot", DEMO][..],
        &["drift", "--baseline", DEMO, "--snapshot", DEMO][..],
        &["paths", "--snapshot", DEMO][..],
        &["compliance", "--framework", "soc2", "--snapshot", DEMO][..],
    ] {
        // before the command
        let mut args = vec!["--config", &bad];
        args.extend(command);
        let o = pipeaudit(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("bad.toml:2:"),
            "{args:?}: {}",
            stderr(&o)
        );
        // after it
        let mut args = command.to_vec();
        args.extend(["--config", &bad]);
        let o = pipeaudit(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&o).contains("bad.toml:2:"),
            "{args:?}: {}",
            stderr(&o)
        );
        // the command's own wins
        let mut args = vec!["--config", &bad];
        args.extend(command);
        args.extend(["--config", &good]);
        let o = pipeaudit(&args);
        assert!(!stderr(&o).contains("bad.toml"), "{args:?}: {}", stderr(&o));
        assert!(!o.stdout.is_empty(), "{args:?}: {}", stderr(&o));
    }
}

/// The release-path analysis's limits reach the audit as notes: service
/// control policies not considered (once per account), listed apart from
/// what could not be checked, in JSON, table and HTML, and never a change
/// of the exit code (`--exit-zero` still exits 0).
#[test]
fn release_path_limits_are_notes_that_never_change_the_exit_code() {
    let o = pipeaudit(&["--snapshot", DEMO, "--format", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v = support::stdout_json(&o);
    let notes = support::notes(&v);
    let scp: Vec<_> = notes
        .iter()
        .filter(|n| {
            n["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("service control policies"))
        })
        .collect();
    assert_eq!(scp.len(), 1, "{notes:#?}");
    assert!(support::diagnostics(&v).is_empty());
    let o = pipeaudit(&["--snapshot", DEMO, "--exit-zero"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(text.contains("service control policies"), "{text}");
    let o = pipeaudit(&["--snapshot", DEMO, "--format", "html"]);
    let html = stdout(&o);
    assert!(html.contains("href=\"#notes\"") && html.contains("id=\"notes\""));
    assert!(!html.contains("href=\"#not-checked\""));
}
