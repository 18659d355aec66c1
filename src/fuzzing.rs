//! The bodies of the fuzz targets (`fuzz/`), kept in the crate so that the
//! inputs the fuzzer found are replayed by the ordinary test suite
//! (`tests/integration/fuzz_regressions.rs`) on the stable toolchain. Each takes
//! arbitrary bytes and must return, whatever they are, without panicking.

use std::sync::{Arc, OnceLock};

use crate::model::Snapshot;
use crate::model::policy::{decode_policy_text, parse_policy};
use crate::rules::config::Config;
use crate::rules::iam::{self, Who};
use crate::rules::{RuleSet, engine, pattern};

/// Policy parser and evaluator: the text is parsed (plain or
/// percent-encoded), then every evaluator of `rules::iam` runs on it.
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
