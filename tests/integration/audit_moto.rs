//! End to end against moto_server 5.1.22: seeded stacks with injected
//! defects are collected through the SDK and audited; the findings are
//! exactly the expected rule ids.

use crate::support;

use std::collections::BTreeSet;
use std::sync::Arc;

use pipeaudit::collect::{CollectOptions, collect_with_config};
use pipeaudit::findings::Severity;
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;
use support::moto::Moto;
use support::seed::{self, Defect, SeedClients, StackSpec};

/// moto stores no custom key on a build project (it reports its own
/// `aws/s3` alias whatever CreateProject sent), so CB004 fires on every
/// seeded stack; and it drops a deployment group's alarm configuration, so
/// CD006 does too. Both are expected on every stack below.
const MOTO_FORCED: &[&str] = &["CB004", "CD006"];

#[tokio::test]
async fn seeded_defects_yield_exactly_their_rules() {
    let moto = Moto::start();
    let clients = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let cases: &[(&str, &[Defect], &[&str])] = &[
        ("e2e-ok", &[], &[]),
        (
            "e2e-trig",
            &[Defect::TriggerWrongBranch, Defect::PollingOn],
            &["TR003", "PL004"],
        ),
        (
            "e2e-bucket",
            &[Defect::BucketNoPolicy, Defect::VersioningOff],
            &["AB004", "AB005", "AB008"],
        ),
        (
            "e2e-key",
            &[Defect::KeyRotationOff, Defect::KeyPolicyPublic],
            &["KM003", "KM004"],
        ),
        (
            "e2e-build",
            &[Defect::PlaintextSecret, Defect::PrivilegedMode],
            &["CB002", "CB003"],
        ),
        (
            "e2e-deploy",
            &[Defect::NoRollback, Defect::AllAtOnce],
            &["CD003", "CD004"],
        ),
        (
            "e2e-admin",
            &[Defect::AdminPipelineRole, Defect::NoTrigger],
            &["IA001", "TR001"],
        ),
    ];
    for (prefix, defects, _) in cases {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects: defects.to_vec(),
            shared_store: None,
        };
        if let Err(e) = seed::seed_stack(&clients, &spec).await {
            panic!("seed {prefix}: {e:#}");
        }
    }
    let config = moto.sdk_config("us-east-1").await;
    let snapshot = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = evaluate(Arc::new(snapshot), &rules, &Config::default());
    assert!(
        support::gaps(&eval.diagnostics).is_empty(),
        "{:#?}",
        eval.diagnostics
    );
    for (prefix, _, expected) in cases {
        let pipeline = format!("{prefix}-pipeline");
        let got: BTreeSet<&str> = eval
            .findings
            .iter()
            .filter(|f| f.pipeline == pipeline)
            .map(|f| f.rule_id.as_str())
            .collect();
        let want: BTreeSet<&str> = expected.iter().chain(MOTO_FORCED).copied().collect();
        assert_eq!(got, want, "{pipeline}");
    }
    // The compliant stack has no finding of medium or above but the one moto forces.
    let serious: Vec<&str> = eval
        .findings
        .iter()
        .filter(|f| {
            f.pipeline == "e2e-ok-pipeline"
                && f.severity >= Severity::Medium
                && f.rule_id != "CB004"
        })
        .map(|f| f.rule_id.as_str())
        .collect();
    assert!(serious.is_empty(), "{serious:?}");
}
