//! A CodeDeploy deploy into another account, against moto_server 5.1.22
//! (which switches accounts by the role ARN assumed through STS). The
//! pipelines of accounts A and C deploy with a CodeDeploy action whose
//! `roleArn` is a role of account B, so the application and deployment
//! group are B's. They carry the names of A's own application and group,
//! which pipeaudit must not read in their place. B's group has neither
//! automatic rollback nor alarms, and selects instances by an EC2 tag that
//! no instance of B carries.
//!
//! moto has no BatchGetDeploymentGroups: a group read alone is read with
//! GetDeploymentGroup, which moto serves, as it serves CreateApplication,
//! CreateDeploymentGroup and GetApplication. Denied reads in B come from
//! the fault-injecting proxy (`support::proxy`), since moto grants every
//! call.

use crate::support;
use crate::xacct_moto::{accounts_file, calls, findings, gaps_of, org_audit};

use std::collections::BTreeSet;

use aws_sdk_codedeploy::types as cd;
use aws_sdk_codepipeline::types as cp;
use serde_json::{Value, json};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, SeedClients, StackSpec};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";

fn audit_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/pipeaudit-audit")
}

fn b_role(name: &str) -> String {
    format!("arn:aws:iam::{B}:role/{name}")
}

fn group_arn(account: &str, app: &str, group: &str) -> String {
    format!("arn:aws:codedeploy:us-east-1:{account}:deploymentgroup:{app}/{group}")
}

/// B's side: the application and group named `app`/`group`, without
/// rollback or alarms, its service role, and one role per deploying
/// account that the deploy action assumes.
async fn seed_b(moto: &Moto, app: &str, group: &str) {
    let c = SeedClients::connect_as(&moto.endpoint, "us-east-1", &audit_role(B))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(c.account, B, "moto switched accounts");
    let service_role = seed::role(&c, "shared-deploy-role", "codedeploy.amazonaws.com", None)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for (account, prefix) in [(A, "ya"), (C, "yc")] {
        let name = format!("{prefix}-deployer");
        c.iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                    "Action": "sts:AssumeRole"}]})
                .to_string(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("iam:CreateRole {name}: {e:?}"));
    }
    c.codedeploy
        .create_application()
        .application_name(app)
        .compute_platform(cd::ComputePlatform::Server)
        .send()
        .await
        .unwrap_or_else(|e| panic!("codedeploy:CreateApplication: {e:?}"));
    c.codedeploy
        .create_deployment_group()
        .application_name(app)
        .deployment_group_name(group)
        .service_role_arn(service_role)
        .deployment_config_name("CodeDeployDefault.OneAtATime")
        .ec2_tag_filters(
            cd::Ec2TagFilter::builder()
                .key("Name")
                .value("shared-web")
                .r#type(cd::Ec2TagFilterType::KeyAndValue)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("codedeploy:CreateDeploymentGroup: {e:?}"));
}

/// A reference pipeline in `account` (with its own application and group)
/// whose deploy stage becomes one CodeDeploy action to `app`/`group` with
/// B's role. Returns the names of the account's own application and group.
async fn seed_deployer(
    moto: &Moto,
    account: &str,
    prefix: &str,
    target: Option<(&str, &str)>,
) -> (String, String) {
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
    let (app, group) = target.unwrap_or((&stack.app_name, &stack.group_name));
    let action = cp::ActionDeclaration::builder()
        .name("Deploy")
        .action_type_id(
            cp::ActionTypeId::builder()
                .category(cp::ActionCategory::Deploy)
                .owner(cp::ActionOwner::Aws)
                .provider("CodeDeploy")
                .version("1")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .configuration("ApplicationName", app)
        .configuration("DeploymentGroupName", group)
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
    (stack.app_name, stack.group_name)
}

/// The notes that a pipeline deploys to a deployment group outside the audit.
fn group_notes(r: &Value) -> Vec<Value> {
    support::notes(r)
        .into_iter()
        .filter(|d| {
            d["resource"]
                .as_str()
                .is_some_and(pipeaudit::rules::engine::is_unaudited_group)
        })
        .collect()
}

/// The rules that check deployment groups: CD001 to CD006 on the group,
/// CD002 and CD007 to CD009 on its instances.
const GROUP_RULES: [&str; 9] = [
    "CD001", "CD002", "CD003", "CD004", "CD005", "CD006", "CD007", "CD008", "CD009",
];

#[tokio::test]
async fn codedeploy_deploys_into_another_account_are_followed_or_noted() {
    let moto = Moto::start();
    // A's own application and group carry the names B's have
    let (app, group) = seed_deployer(&moto, A, "ya", None).await;
    seed_b(&moto, &app, &group).await;
    seed_deployer(&moto, C, "yc", Some((&app, &group))).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let deployers = [(A, "ya-pipeline"), (C, "yc-pipeline")];
    let b_group = group_arn(B, &app, &group);
    let a_group = group_arn(A, &app, &group);

    // B outside the audit: one note per pipeline naming B's group, no
    // finding and no gap of a group rule, A's same-named group not read.
    let without = accounts_file(dir.path(), "without-b.txt", &[A, C]);
    let saved = dir.path().join("without");
    let o = org_audit(
        &moto.endpoint,
        &without,
        &["--save-snapshot", &saved.display().to_string()],
    );
    let without_b = support::stdout_json(&o);
    let notes = group_notes(&without_b);
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
        assert_eq!(n["resource"], b_group, "{n}");
        let pipeline = n["pipeline"].as_str().unwrap_or_default();
        assert_eq!(
            n["message"],
            format!(
                "pipeline {pipeline} deploys into account {B}, outside this account's audit: deployment group {app}/{group} in us-east-1 not checked"
            ),
            "{n}"
        );
    }
    let found = findings(&without_b);
    for rule in GROUP_RULES {
        assert!(!found.iter().any(|f| f.2 == rule), "{rule}: {found:#?}");
        assert!(
            gaps_of(&without_b, rule).is_empty(),
            "{rule}: {without_b:#}"
        );
    }
    let code = if found.is_empty() { 0 } else { 1 };
    assert_eq!(o.status.code(), Some(code), "the note changes no exit code");
    let a_snapshot = pipeaudit::model::Snapshot::load(&saved.join(format!("{A}.json")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(a_snapshot.linked_accounts.is_empty());
    let wired = &a_snapshot.pipelines[0].deploys[0];
    assert_eq!(wired.group_arn, b_group);
    assert!(
        wired
            .application_arn
            .contains(&format!(":{B}:application:"))
    );
    assert!(
        a_snapshot.resources.deploy_groups.is_empty(),
        "{:#?}",
        a_snapshot.resources.deploy_groups
    );
    assert_eq!(
        calls(
            &saved.join(format!("{A}.json")),
            "codedeploy:GetDeploymentGroup"
        ),
        0
    );
    // `compliance` counts the group rules as not checked, with the note:
    // EC2.8 (IMDSv2), which CD009 checks on the group's instances
    let o = support::pipeaudit_command(&moto.endpoint)
        .args(["compliance", "--framework", "aws-fsbp", "--format", "json"])
        .arg("--snapshot")
        .arg(saved.join(format!("{A}.json")))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = support::stdout_json(&o);
    let row = doc["controls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["id"] == "EC2.8")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(row["status"], "not-checked", "{row:#}");
    assert!(
        row["not_checked"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m
                .as_str()
                .is_some_and(|m| m.contains("deployment group") && m.contains(B))),
        "{row:#}"
    );

    // B in the audit: B's group is read there once for the whole run and
    // judged through A's and C's pipelines; no note.
    let all = accounts_file(dir.path(), "all.txt", &[A, B, C]);
    let saved = dir.path().join("with");
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
        for rule in ["CD003", "CD006"] {
            let want = (
                account.to_string(),
                pipeline.to_string(),
                rule.to_string(),
                b_group.clone(),
            );
            assert!(found.contains(&want), "{want:?}: {found:#?}");
        }
    }
    assert!(!found.iter().any(|f| f.3 == a_group), "{found:#?}");
    for rule in ["CD001", "CD004", "CD005"] {
        assert!(!found.iter().any(|f| f.2 == rule), "{rule}: {found:#?}");
        assert!(gaps_of(&with_b, rule).is_empty(), "{rule}: {with_b:#}");
    }
    assert!(group_notes(&with_b).is_empty(), "{with_b:#}");
    // the instances B's group selects are looked for in B: it selects none
    for (account, pipeline) in deployers {
        let want = (
            account.to_string(),
            pipeline.to_string(),
            "CD002".to_string(),
            b_group.clone(),
        );
        assert!(found.contains(&want), "{want:?}: {found:#?}");
    }
    let a_snapshot = pipeaudit::model::Snapshot::load(&saved.join(format!("{A}.json")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a_snapshot.linked_accounts, BTreeSet::from([B.to_string()]));
    let read = a_snapshot
        .resources
        .deploy_groups
        .get(&b_group)
        .and_then(|g| g.value())
        .unwrap_or_else(|| panic!("{:#?}", a_snapshot.resources.deploy_groups));
    assert!(!read.auto_rollback_enabled);
    let service_role = read.service_role_arn.clone().unwrap_or_default();
    assert!(service_role.starts_with(&format!("arn:aws:iam::{B}:role/")));
    assert!(
        a_snapshot
            .resources
            .roles
            .get(&service_role)
            .is_some_and(|r| r.value().is_some())
    );
    assert!(!a_snapshot.resources.deploy_groups.contains_key(&a_group));
    let total = |action: &str| -> u64 {
        [A, B, C]
            .iter()
            .map(|a| calls(&saved.join(format!("{a}.json")), action))
            .sum()
    };
    assert_eq!(
        total("codedeploy:GetDeploymentGroup") + total("codedeploy:BatchGetDeploymentGroups"),
        1
    );
    assert_eq!(
        total("codedeploy:GetApplication") + total("codedeploy:BatchGetApplications"),
        1
    );
    assert_eq!(total("ec2:DescribeInstances"), 1);
    // remediation never changes B's group with A's credentials: the plan
    // of A's snapshot makes its fixes manual steps naming B
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let config = pipeaudit::rules::config::Config::default();
    let snapshot = std::sync::Arc::new(a_snapshot);
    let eval = pipeaudit::rules::engine::evaluate(snapshot.clone(), &rules, &config);
    assert!(
        eval.findings
            .iter()
            .any(|f| f.rule_id == "CD003" && f.resource_arn == b_group)
    );
    let plan = pipeaudit::remediate::plan(&snapshot, &eval.findings, &rules, &config, true);
    assert!(
        !plan
            .actions
            .iter()
            .chain(&plan.held_back)
            .any(|a| a.resource_arn == b_group),
        "{plan:#?}"
    );
    assert!(
        plan.manual.iter().any(|m| m.rule_id == "CD003"
            && m.resource_arn == b_group
            && m.remediation.contains(&format!("in account {B}"))),
        "{plan:#?}"
    );

    // B's GetDeploymentGroup denied: the group rules neither fire nor pass
    // on B's group, their gaps name the permission.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "codedeploy:GetDeploymentGroup").then_some(Fault::AccessDenied)),
    );
    let denied = support::stdout_json(&org_audit(&proxy.endpoint, &all, &[]));
    let found_denied = findings(&denied);
    assert!(
        !found_denied.iter().any(|f| f.3 == b_group),
        "{found_denied:#?}"
    );
    let want: BTreeSet<(String, String)> = deployers
        .iter()
        .map(|(_, p)| (p.to_string(), "codedeploy:GetDeploymentGroup".to_string()))
        .collect();
    for rule in ["CD001", "CD003", "CD006"] {
        assert_eq!(gaps_of(&denied, rule), want, "{rule}: {denied:#}");
    }
    assert!(group_notes(&denied).is_empty());

    // B's role refused: nothing is concluded about B's group; the gaps
    // name sts:AssumeRole.
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
        !found_refused.iter().any(|f| f.3 == b_group),
        "{found_refused:#?}"
    );
    let want: BTreeSet<(String, String)> = deployers
        .iter()
        .map(|(_, p)| (p.to_string(), "sts:AssumeRole".to_string()))
        .collect();
    for rule in ["CD001", "CD003"] {
        assert_eq!(gaps_of(&refused, rule), want, "{rule}: {refused:#}");
    }
    assert!(group_notes(&refused).is_empty());
}
