//! The bodies of the fuzz targets (`fuzz/`), kept in the crate so that the
//! inputs the fuzzer found are replayed by the ordinary test suite (the
//! tests below) on the stable toolchain. Each takes arbitrary bytes and
//! must return, whatever they are, without panicking. The module is built
//! for the crate's own tests, with the `fuzzing` feature for a harness
//! outside it, and by the fuzz crate from this file.

use std::sync::{Arc, OnceLock};

use crate::aws::event_pattern as pattern;
use crate::aws::iam::{self, Who};
use crate::model::Snapshot;
use crate::model::policy::{decode_policy_text, parse_policy};
use crate::rules::config::Config;
use crate::rules::{RuleSet, engine};

/// Policy parser and evaluator: the text is parsed (plain or
/// percent-encoded), then every evaluator of `aws::iam` runs on it.
pub fn policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = decode_policy_text(&text);
    let Ok(doc) = parse_policy(&text) else {
        return;
    };
    let _ = doc.normalized();
    let bucket = "arn:aws:s3:::artifacts";
    let role = "arn:aws:iam::111122223333:role/pipeline";
    for action in ["s3:GetObject", "kms:Decrypt", "sts:AssumeRole", "*"] {
        let _ = iam::evaluate(&doc, Who::Role(role), action, bucket);
        let _ = iam::evaluate(&doc, Who::Service("events.amazonaws.com"), action, "*");
        let _ = iam::identity_allows(&[&doc], role, action, bucket);
    }
    let _ = iam::is_admin(&doc);
    let _ = iam::is_public(&doc);
    let _ = iam::denies_insecure_transport(&doc, bucket);
    let _ = iam::denies_unencrypted_uploads(&doc, bucket);
    let _ = iam::trusts_service(&doc, "codepipeline.amazonaws.com");
    let _ = iam::other_trusted(&doc, "codepipeline.amazonaws.com");
    let _ = iam::has_source_condition(&doc);
    // wildcard matching with the input's own strings as patterns
    if let Some((p, v)) = text.split_once('\n') {
        let _ = iam::wildcard(p, v, true);
        let _ = iam::wildcard(p, v, false);
    }
}

/// Event-pattern matcher: the input is `pattern JSON` NUL `event JSON`.
pub fn event_pattern(data: &[u8]) {
    let mut parts = data.splitn(2, |b| *b == 0);
    let (Some(p), Some(e)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(p), Ok(e)) = (
        serde_json::from_slice::<serde_json::Value>(p),
        serde_json::from_slice::<serde_json::Value>(e),
    ) else {
        return;
    };
    let _ = pattern::matches(&p, &e);
}

fn builtin() -> Option<&'static RuleSet> {
    static RULES: OnceLock<Option<RuleSet>> = OnceLock::new();
    RULES.get_or_init(|| RuleSet::builtin().ok()).as_ref()
}

/// Snapshot loader, then the whole rule catalog on what it loaded.
pub fn snapshot(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(s) = Snapshot::from_json(&text, "fuzz.json") else {
        return;
    };
    if let Some(rules) = builtin() {
        let _ = engine::evaluate(Arc::new(s), rules, &Config::default());
    }
}

/// Rule loader: one rule file, compiled; a rule that loads is evaluated
/// on an empty snapshot.
pub fn rule_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    if let Ok(rules) = RuleSet::from_sources(&[("fuzz.yaml".to_string(), text)]) {
        let s = Snapshot::new(
            "111122223333".to_string(),
            vec!["us-east-1".to_string()],
            "2026-01-01T00:00:00Z".to_string(),
        );
        let _ = engine::evaluate(Arc::new(s), &rules, &Config::default());
    }
}

/// Replays, on the stable toolchain, every input kept for the fuzz targets
/// (`fuzz/seeds/<target>`, `fuzz/regressions/<target>`) through the bodies
/// above, plus hostile values built here: huge policies, deep nesting, odd
/// escapes. None may panic, and each must give a clear answer (parsed, or
/// an error naming what is wrong).
#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{event_pattern, policy, rule_file, snapshot};
    use crate::aws::event_pattern as pattern;
    use crate::model::Snapshot;
    use crate::model::policy::parse_policy;

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
        assert!(replay("policy", policy) >= 12);
        assert!(replay("event_pattern", event_pattern) >= 2);
        assert!(replay("snapshot", snapshot) >= 1);
        assert!(replay("rule_file", rule_file) >= 8);
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
        policy(text.as_bytes());
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
        policy(deep_condition.as_bytes());

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
        snapshot(deep_snapshot.as_bytes());
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
            policy(input.as_bytes());
        }
        // bytes that are not UTF-8 at all reach every target as replacement characters
        let raw: &[u8] = &[0xff, 0xfe, b'{', 0x80, b'}', 0, 0xc3];
        policy(raw);
        event_pattern(raw);
        snapshot(raw);
        rule_file(raw);
    }
}
