//! A CloudFormation deploy into another account, followed in an
//! organization audit, against moto_server 5.1.22 (which switches accounts
//! by the role ARN assumed through STS). The pipelines of accounts A and C
//! deploy one stack of account B (the action's `roleArn` and `RoleArn` are
//! B's roles); the stack has neither termination protection nor a stack
//! policy and CloudFormation acts there with an administrator role. With B
//! in the audit, CD010 and CD012 are found on B's stack and role through
//! A's and C's pipelines, the stack read once in the run; without B, one
//! note per pipeline says the deploy is not checked. Denied reads in B
//! (DescribeStacks, or B's role refused) come from the fault-injecting
//! proxy (`support::proxy`), since moto grants every call.

use crate::support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;

use aws_sdk_codepipeline::types as cp;
use serde_json::{Value, json};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, SeedClients, StackSpec};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";

/// The stack of B that A's and C's pipelines deploy.
const STACK: &str = "shared-app";

const TEMPLATE: &str = r#"{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}"#;

fn audit_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/pipeaudit-audit")
}

fn b_role(name: &str) -> String {
    format!("arn:aws:iam::{B}:role/{name}")
}

fn stack_key() -> String {
    format!("arn:aws:cloudformation:us-east-1:{B}:stack/{STACK}")
}

/// B's side: the administrator role CloudFormation acts as, the roles the
/// deploy actions assume, and the stack, unprotected.
async fn seed_b(moto: &Moto) {
    let c = SeedClients::connect_as(&moto.endpoint, "us-east-1", &audit_role(B))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(c.account, B, "moto switched accounts");
    let roles = [(
        "shared-cfn",
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "cloudformation.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}),
        json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )]
    .into_iter()
    .map(|(n, t, p)| (n.to_string(), t, p))
    // one role per deploying account, which only that account may assume
    .chain([(A, "xa"), (C, "xc")].map(|(account, prefix)| {
        (
            format!("{prefix}-deployer"),
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "sts:AssumeRole"}]}),
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "cloudformation:*", "Resource": "*"},
                {"Effect": "Allow", "Action": "iam:PassRole", "Resource": b_role("shared-cfn")}]}),
        )
    }));
    for (name, trust, policy) in roles {
        let name = name.as_str();
        c.iam
            .create_role()
            .role_name(name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("iam:CreateRole {name}: {e:?}"));
        c.iam
            .put_role_policy()
            .role_name(name)
            .policy_name("inline")
            .policy_document(policy.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("iam:PutRolePolicy {name}: {e:?}"));
    }
    let cfg = SeedClients::config_as(&moto.endpoint, "us-east-1", &audit_role(B)).await;
    aws_sdk_cloudformation::Client::new(&cfg)
        .create_stack()
        .stack_name(STACK)
        .template_body(TEMPLATE)
        .enable_termination_protection(false)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cloudformation:CreateStack: {e:?}"));
}

/// A reference pipeline in `account` whose deploy stage becomes one
/// CloudFormation action deploying B's stack with B's roles.
async fn seed_deployer(moto: &Moto, account: &str, prefix: &str) {
    let c = SeedClients::connect_as(&moto.endpoint, "us-east-1", &audit_role(account))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(c.account, account, "moto switched accounts");
    let spec = StackSpec {
        prefix: prefix.to_string(),
        defects: Vec::new(),
        shared_store: None,
    };
    let stack = seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("seed {prefix}: {e:#}"));
    let action = cp::ActionDeclaration::builder()
        .name("Deploy")
        .action_type_id(
            cp::ActionTypeId::builder()
                .category(cp::ActionCategory::Deploy)
                .owner(cp::ActionOwner::Aws)
                .provider("CloudFormation")
                .version("1")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .configuration("ActionMode", "CREATE_UPDATE")
        .configuration("StackName", STACK)
        .configuration("TemplatePath", "BuildOutput::packaged.json")
        .configuration("RoleArn", b_role("shared-cfn"))
        .role_arn(b_role(&format!("{prefix}-deployer")))
        .input_artifacts(
            cp::InputArtifact::builder()
                .name("BuildOutput")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .run_order(1)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut decl = seed::declaration(&c, &stack.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut stages = decl.stages.clone();
    let last = stages.len() - 1;
    stages[last] = cp::StageDeclaration::builder()
        .name("Deploy")
        .actions(action)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    decl.stages = stages;
    seed::update_declaration(&c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
}

pub(crate) fn accounts_file(dir: &Path, name: &str, accounts: &[&str]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, accounts.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

pub(crate) fn org_audit(endpoint: &str, accounts: &str, extra: &[&str]) -> Output {
    support::pipeaudit_command(endpoint)
        .args(["--region", "us-east-1", "-q", "--format", "json"])
        .args(["--max-attempts", "1"])
        .args(["--accounts", accounts, "--role-name", "pipeaudit-audit"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

/// (account, pipeline, rule, resource) of every finding.
pub(crate) fn findings(r: &Value) -> BTreeSet<(String, String, String, String)> {
    r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("account"), s("pipeline"), s("rule_id"), s("resource_arn"))
        })
        .collect()
}

/// The notes that a pipeline deploys into an account outside the audit.
fn unaudited_notes(r: &Value) -> Vec<Value> {
    support::notes(r)
        .into_iter()
        .filter(|d| {
            d["resource"]
                .as_str()
                .is_some_and(pipeaudit::rules::engine::is_unaudited_deploy)
        })
        .collect()
}

/// The gaps of a rule: (pipeline, permission).
pub(crate) fn gaps_of(r: &Value, rule: &str) -> BTreeSet<(String, String)> {
    support::diagnostics(r)
        .iter()
        .filter(|d| d["rule_id"] == rule)
        .map(|d| {
            (
                d["pipeline"].as_str().unwrap_or_default().to_string(),
                d["permission"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub(crate) fn calls(snapshot: &Path, action: &str) -> u64 {
    let text = std::fs::read_to_string(snapshot).unwrap_or_else(|e| panic!("{e}"));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    v["api_calls"][action].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn deploys_into_an_audited_account_are_checked_there() {
    let moto = Moto::start();
    seed_b(&moto).await;
    seed_deployer(&moto, A, "xa").await;
    seed_deployer(&moto, C, "xc").await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let deployers = [(A, "xa-pipeline"), (C, "xc-pipeline")];

    // B in the audit: its stack and role are judged through A's and C's
    // pipelines, the findings in the deploying accounts naming B's stack
    // and role; no note.
    let all = accounts_file(dir.path(), "all.txt", &[A, B, C]);
    let saved = dir.path().join("snapshots");
    let o = org_audit(
        &moto.endpoint,
        &all,
        &["--save-snapshot", &saved.display().to_string()],
    );
    let with_b = support::stdout_json(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let found = findings(&with_b);
    for (account, pipeline) in deployers {
        for (rule, resource) in [("CD012", stack_key()), ("CD010", b_role("shared-cfn"))] {
            assert!(
                found.contains(&(
                    account.to_string(),
                    pipeline.to_string(),
                    rule.to_string(),
                    resource.clone()
                )),
                "{account} {pipeline} {rule}: {found:#?}"
            );
        }
    }
    let cd010 = with_b["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["rule_id"] == "CD010" && f["pipeline"] == "xa-pipeline")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        cd010["message"]
            .as_str()
            .is_some_and(|m| m.contains("allows * on *") && m.contains(STACK)),
        "{cd010}"
    );
    assert!(unaudited_notes(&with_b).is_empty(), "{with_b:#}");
    for rule in ["CD010", "CD011", "CD012"] {
        assert!(gaps_of(&with_b, rule).is_empty(), "{rule}: {with_b:#}");
    }
    // the facts came from B and are kept in the deploying account's
    // snapshot, marked as B's; the stack was read once in the whole run
    let a_snapshot = pipeaudit::model::Snapshot::load(&saved.join(format!("{A}.json")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a_snapshot.linked_accounts, BTreeSet::from([B.to_string()]));
    let stack = a_snapshot
        .resources
        .cfn_stacks
        .get(&stack_key())
        .and_then(|s| s.value())
        .unwrap_or_else(|| panic!("{:#?}", a_snapshot.resources.cfn_stacks));
    assert!(!stack.termination_protection);
    assert!(
        stack.arn.contains(&format!(":{B}:stack/{STACK}/")),
        "{}",
        stack.arn
    );
    let total = |action: &str| -> u64 {
        [A, B, C]
            .iter()
            .map(|a| calls(&saved.join(format!("{a}.json")), action))
            .sum()
    };
    assert_eq!(total("cloudformation:DescribeStacks"), 1);
    assert_eq!(total("cloudformation:GetStackPolicy"), 1);
    // a saved snapshot audits alone as it did in the organization run
    let alone = support::pipeaudit_command(&moto.endpoint)
        .args(["-q", "--format", "json", "--snapshot"])
        .arg(saved.join(format!("{A}.json")))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let alone = support::stdout_json(&alone);
    let of_a: BTreeSet<_> = found.iter().filter(|f| f.0 == A).cloned().collect();
    assert_eq!(findings(&alone), of_a);
    assert!(unaudited_notes(&alone).is_empty());

    // B not in the audit: one note per pipeline naming B, the stack rules
    // silent on it, everything else as before, and the exit code that of
    // the findings.
    let without = accounts_file(dir.path(), "without-b.txt", &[A, C]);
    let o = org_audit(&moto.endpoint, &without, &[]);
    let without_b = support::stdout_json(&o);
    let notes = unaudited_notes(&without_b);
    let noted: BTreeSet<(String, String)> = notes
        .iter()
        .map(|d| {
            (
                d["account"].as_str().unwrap_or_default().to_string(),
                d["pipeline"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = deployers
        .iter()
        .map(|(a, p)| (a.to_string(), p.to_string()))
        .collect();
    assert_eq!(noted, want, "{notes:#?}");
    assert_eq!(notes.len(), 2, "{notes:#?}");
    for n in &notes {
        assert_eq!(n["resource"], stack_key(), "{n}");
        assert!(n["message"].as_str().is_some_and(|m| m.contains(B)), "{n}");
    }
    let expected: BTreeSet<_> = found
        .iter()
        .filter(|f| !(f.2 == "CD010" || f.2 == "CD012") && f.0 != B)
        .cloned()
        .collect();
    assert_eq!(findings(&without_b), expected);
    let code = if expected.is_empty() { 0 } else { 1 };
    assert_eq!(o.status.code(), Some(code));
    for rule in ["CD010", "CD012"] {
        assert!(gaps_of(&without_b, rule).is_empty(), "{rule}");
    }

    // B's DescribeStacks denied: CD012 neither fires nor passes, its gap
    // names the permission; CD010 needs only the role, which was read.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "cloudformation:DescribeStacks").then_some(Fault::AccessDenied)),
    );
    let denied = support::stdout_json(&org_audit(&proxy.endpoint, &all, &[]));
    let found_denied = findings(&denied);
    assert!(
        !found_denied.iter().any(|f| f.2 == "CD012"),
        "{found_denied:#?}"
    );
    let want: BTreeSet<(String, String)> = deployers
        .iter()
        .map(|(_, p)| (p.to_string(), "cloudformation:DescribeStacks".to_string()))
        .collect();
    assert_eq!(gaps_of(&denied, "CD012"), want, "{denied:#}");
    assert!(found_denied.iter().any(|f| f.2 == "CD010"));
    assert!(unaudited_notes(&denied).is_empty());

    // B's role refused: B is an account error, and nothing is concluded
    // about its stack or roles: the stack rules' gaps name sts:AssumeRole.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| {
            let body = String::from_utf8_lossy(&r.body).to_string();
            (r.op() == "sts:AssumeRole" && body.contains(B)).then_some(Fault::AccessDenied)
        }),
    );
    let o = org_audit(&proxy.endpoint, &all, &[]);
    assert_eq!(o.status.code(), Some(2));
    let refused = support::stdout_json(&o);
    let found_refused = findings(&refused);
    assert!(
        !found_refused
            .iter()
            .any(|f| f.2 == "CD012" || f.2 == "CD010"),
        "{found_refused:#?}"
    );
    let want: BTreeSet<(String, String)> = deployers
        .iter()
        .map(|(_, p)| (p.to_string(), "sts:AssumeRole".to_string()))
        .collect();
    for rule in ["CD010", "CD012"] {
        assert_eq!(gaps_of(&refused, rule), want, "{rule}: {refused:#}");
    }
    assert!(unaudited_notes(&refused).is_empty());
}
