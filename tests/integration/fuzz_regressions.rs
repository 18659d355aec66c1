//! Replays, on the stable toolchain, every input kept for the fuzz targets
//! (`fuzz/seeds/<target>`, `fuzz/regressions/<target>`) through the same
//! bodies the fuzzer runs (`pipeaudit::fuzzing`), plus hostile values
//! built here: huge policies, deep nesting, odd escapes. None may panic,
//! and each must give a clear answer (parsed, or an error naming what is
//! wrong).

use std::path::Path;

use pipeaudit::fuzzing;
use pipeaudit::model::Snapshot;
use pipeaudit::model::policy::parse_policy;
use pipeaudit::rules::pattern;

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).unwrap_or_else(|err| panic!("{err}"));
            body(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn kept_inputs_replay_without_panics() {
    assert!(replay("policy", fuzzing::policy) >= 12);
    assert!(replay("event_pattern", fuzzing::event_pattern) >= 2);
    assert!(replay("snapshot", fuzzing::snapshot) >= 1);
    assert!(replay("rule_file", fuzzing::rule_file) >= 8);
}

fn statement(i: usize) -> String {
    format!(
        r#"{{"Sid":"S{i}","Effect":"{}","Principal":{{"AWS":"arn:aws:iam::{:012}:root"}},"Action":["s3:Get*","s3:Put*"],"Resource":"arn:aws:s3:::artifacts/{i}/*","Condition":{{"StringEquals":{{"aws:PrincipalOrgID":["o-{i}"]}},"Bool":{{"aws:SecureTransport":"false"}}}}}}"#,
        if i.is_multiple_of(2) { "Allow" } else { "Deny" },
        100_000_000_000u64 + i as u64
    )
}

#[test]
fn a_huge_policy_is_parsed_and_evaluated() {
    let statements: Vec<String> = (0..5000).map(statement).collect();
    let text = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        statements.join(",")
    );
    assert!(text.len() > 1_000_000);
    let doc = parse_policy(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc.statements.len(), 5000);
    fuzzing::policy(text.as_bytes());
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 100_000;
    let deep_condition = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{{"StringEquals":{{"k":{}1{}}}}}}}]}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let e = parse_policy(&deep_condition)
        .err()
        .unwrap_or_else(|| panic!("a 100,000-deep condition must be refused"));
    assert!(e.to_string().contains("recursion limit"), "{e}");
    fuzzing::policy(deep_condition.as_bytes());

    // a pattern nested deeper than the matcher goes is reported
    let mut p = serde_json::json!(["x"]);
    let mut ev = serde_json::json!("x");
    for _ in 0..100 {
        p = serde_json::json!({ "a": p });
        ev = serde_json::json!({ "a": ev });
    }
    let e = pattern::matches(&p, &ev)
        .err()
        .unwrap_or_else(|| panic!("too deep must be an error"));
    assert!(e.to_string().contains("deep"), "{e}");

    let deep_snapshot = format!(
        r#"{{"schema_version":1,"x":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let e = Snapshot::from_json(&deep_snapshot, "deep.json")
        .err()
        .unwrap_or_else(|| panic!("must be refused"));
    assert!(e.to_string().contains("deep.json"), "{e}");
    fuzzing::snapshot(deep_snapshot.as_bytes());
}

#[test]
fn odd_escapes_are_parsed_or_reported() {
    // a lone surrogate escape is not valid JSON text
    let lone = r#"{"Version":"2012-10-17","Statement":[{"Sid":"\ud800","Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    assert!(parse_policy(lone).is_err());
    // escaped NUL and non-ASCII are ordinary characters
    let nul = r#"{"Statement":[{"Sid":"a\u0000b","Effect":"Allow","Action":"s3:Get\u00e9t","Resource":"arn:aws:s3:::b\u2028/*"}]}"#;
    let doc = parse_policy(nul).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(doc.statements[0].sid.as_deref(), Some("a\u{0}b"));
    // percent-encoded text that decodes to invalid UTF-8 (IAM encodes policies)
    let e = parse_policy("%7B%22Statement%22%3A%FF%FE%7D")
        .err()
        .unwrap_or_else(|| panic!("invalid UTF-8 must be refused"));
    assert!(!e.to_string().is_empty());
    for input in [lone, nul, "%FF", "%", "%%7B", "\u{feff}{}"] {
        fuzzing::policy(input.as_bytes());
    }
    // bytes that are not UTF-8 at all reach every target as replacement characters
    let raw: &[u8] = &[0xff, 0xfe, b'{', 0x80, b'}', 0, 0xc3];
    fuzzing::policy(raw);
    fuzzing::event_pattern(raw);
    fuzzing::snapshot(raw);
    fuzzing::rule_file(raw);
}
