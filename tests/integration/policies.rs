//! The example IAM policies stay in step with the code, in both directions:
//! every action a collector or a fix calls is granted (the moto and mocks
//! tests check the calls a run really made against the audit policy), and
//! every action a policy grants is one the code still calls, so no
//! permission is asked for a call no longer made.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support;

/// The text of every `.rs` file under `src/<dir>`.
fn sources(dir: &str) -> String {
    fn walk(dir: &Path, out: &mut String) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push_str(&std::fs::read_to_string(&p).unwrap_or_default());
            }
        }
    }
    let mut text = String::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir),
        &mut text,
    );
    text
}

/// The IAM actions a fix calls: the action named in each `sdk_failed`
/// error (the fixes name the IAM action, which for S3 differs from the API
/// operation), and each call on a client field (`c.iam.get_role()`) of a
/// service whose actions are named after its operations.
fn remediation_calls(text: &str) -> BTreeSet<String> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = BTreeSet::new();
    for piece in text.split("sdk_failed(\"").skip(1) {
        if let Some((action, _)) = piece.split_once('"') {
            out.insert(action.to_string());
        }
    }
    for service in [
        "iam",
        "kms",
        "events",
        "codebuild",
        "codedeploy",
        "codepipeline",
        "ec2",
    ] {
        for piece in text.split(&format!(".{service}.")).skip(1) {
            let Some((op, _)) = piece.split_once("()") else {
                continue;
            };
            if op.is_empty() || !op.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                continue;
            }
            let pascal: String = op
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            out.insert(format!("{service}:{pascal}"));
        }
    }
    out
}

#[test]
fn every_action_of_the_audit_policy_is_used() {
    let text = sources("");
    let granted = support::policy_actions("iam-audit-policy.json");
    assert!(granted.len() > 30, "{granted:?}");
    for a in granted {
        assert!(
            text.contains(&format!("\"{a}\"")),
            "{a} is granted but never called"
        );
    }
}

/// Every action a fix calls is granted by the remediation policy or, for the
/// reads it shares with collection, by the audit policy; and every action
/// the remediation policy grants is one a fix calls.
#[test]
fn the_remediation_policy_grants_what_the_fixes_call() {
    let called = remediation_calls(&sources("remediate"));
    assert!(called.len() > 20, "{called:?}");
    let mut granted = support::policy_actions("iam-remediate-policy.json");
    let remediate_only = granted.clone();
    granted.extend(support::policy_actions("iam-audit-policy.json"));
    let missing: Vec<&String> = called.iter().filter(|a| !granted.contains(*a)).collect();
    assert!(
        missing.is_empty(),
        "called by a fix but granted by neither example policy: {missing:?}"
    );
    // iam:PassRole is never called: IAM checks it when UpdatePipeline or
    // PutTargets hands a role to a service.
    for a in remediate_only {
        assert!(
            called.contains(&a) || a == "iam:PassRole",
            "{a} is granted for remediation but no fix calls it"
        );
    }
}
