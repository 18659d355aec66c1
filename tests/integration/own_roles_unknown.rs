//! Rules that compare principals with the pipeline's own roles (AB010,
//! CB010, IA004) never count a role as "another principal" because the
//! resource naming it could not be read: the audit reports the gap instead.
//! Offline, on a stack of the bundled demo.

use std::sync::Arc;

use pipeaudit::model::{Observed, PolicyText, ReadError, ReadErrorKind, Snapshot};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn stack() -> Snapshot {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    // the bucket lets the stack's own deploy role write
    let bucket = s.pipelines[0].artifact_stores[0].bucket_arn.clone();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:role/demo-000-deploy-role"}},"Action":"s3:PutObject","Resource":"{bucket}/*"}}]}}"#
    );
    if let Some(Observed::Ok { value }) = s.resources.buckets.get_mut(&bucket) {
        value.policy = Observed::ok(PolicyText::parse(&policy));
    }
    s
}

fn ab010(s: Snapshot) -> (usize, Vec<String>) {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    let fired = e.findings.iter().filter(|f| f.rule_id == "AB010").count();
    let gaps = e
        .diagnostics
        .iter()
        .filter(|d| d.rule_id.as_deref() == Some("AB010"))
        .filter_map(|d| d.permission.clone())
        .collect();
    (fired, gaps)
}

#[test]
fn the_deploy_role_is_the_pipelines_own() {
    assert_eq!(ab010(stack()), (0, vec![]));
}

#[test]
fn an_unreadable_deployment_group_is_a_gap_not_another_writer() {
    let mut s = stack();
    let group = s.pipelines[0].deploys[0].group_arn.clone();
    s.resources.deploy_groups.insert(
        group,
        Observed::Unknown {
            error: ReadError {
                kind: ReadErrorKind::AccessDenied,
                action: "codedeploy:GetDeploymentGroup".to_string(),
                code: Some("AccessDeniedException".to_string()),
                message: "denied".to_string(),
            },
        },
    );
    let (fired, gaps) = ab010(s);
    assert_eq!(fired, 0, "an unknown group's role is not another principal");
    assert_eq!(gaps, ["codedeploy:GetDeploymentGroup"]);
}
