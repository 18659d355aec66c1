//! IA004 (service-role-privilege-escalation) looks at the roles whose
//! powers someone can use: the build role (code from the source runs as it)
//! and any role a principal other than its service can assume. A role only
//! its service can assume and that runs no code from the source (the
//! pipeline role here) is out of its scope, whatever it may do. Offline, on
//! the reference stack of the bundled demo.

use std::sync::Arc;

use pipeaudit::findings::Finding;
use pipeaudit::model::{Observed, PolicyText, Snapshot};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
const ACCOUNT: &str = "123456789012";

/// The default CodePipeline service-role policy (`AWS-CodePipeline-Service`)
/// as the AWS CodePipeline User Guide (API version 2015-07-09), "Manage the
/// CodePipeline service role", documents it for roles the console creates
/// since September 2018 (policy language version 2012-10-17): `iam:PassRole`
/// on `*` for the services of the deploy actions, CodeBuild `StartBuild` on
/// `*`, CloudFormation and the EC2, ECS and Elastic Beanstalk wildcards the
/// deploy providers need. Written from the documented statements.
fn default_codepipeline_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*",
             "Condition": {"StringEqualsIfExists": {"iam:PassedToService": [
                 "cloudformation.amazonaws.com", "elasticbeanstalk.amazonaws.com",
                 "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]}}},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "codecommit:CancelUploadArchive", "codecommit:GetBranch",
                "codecommit:GetCommit", "codecommit:GetRepository",
                "codecommit:GetUploadArchiveStatus", "codecommit:UploadArchive"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "codedeploy:CreateDeployment", "codedeploy:GetApplication",
                "codedeploy:GetApplicationRevision", "codedeploy:GetDeployment",
                "codedeploy:GetDeploymentConfig", "codedeploy:RegisterApplicationRevision"]},
            {"Effect": "Allow", "Resource": "*", "Action": ["codestar-connections:UseConnection"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "elasticbeanstalk:*", "ec2:*", "elasticloadbalancing:*", "autoscaling:*",
                "cloudwatch:*", "s3:*", "sns:*", "cloudformation:*", "rds:*", "sqs:*", "ecs:*"]},
            {"Effect": "Allow", "Resource": "*", "Action": ["lambda:InvokeFunction", "lambda:ListFunctions"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "opsworks:CreateDeployment", "opsworks:DescribeApps", "opsworks:DescribeCommands",
                "opsworks:DescribeDeployments", "opsworks:DescribeInstances",
                "opsworks:DescribeStacks", "opsworks:UpdateApp", "opsworks:UpdateStack"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "cloudformation:CreateStack", "cloudformation:DeleteStack",
                "cloudformation:DescribeStacks", "cloudformation:UpdateStack",
                "cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
                "cloudformation:SetStackPolicy", "cloudformation:ValidateTemplate"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "codebuild:BatchGetBuilds", "codebuild:StartBuild",
                "codebuild:BatchGetBuildBatches", "codebuild:StartBuildBatch"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "devicefarm:ListProjects", "devicefarm:ListDevicePools", "devicefarm:GetRun",
                "devicefarm:GetUpload", "devicefarm:CreateUpload", "devicefarm:ScheduleRun"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "servicecatalog:ListProvisioningArtifacts", "servicecatalog:CreateProvisioningArtifact",
                "servicecatalog:DescribeProvisioningArtifact", "servicecatalog:DeleteProvisioningArtifact",
                "servicecatalog:UpdateProduct"]},
            {"Effect": "Allow", "Resource": "*", "Action": ["ecr:DescribeImages"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "states:DescribeExecution", "states:DescribeStateMachine", "states:StartExecution"]},
            {"Effect": "Allow", "Resource": "*", "Action": [
                "appconfig:StartDeployment", "appconfig:StopDeployment", "appconfig:GetDeployment"]}
        ]
    })
    .to_string()
}

fn role(stack_role: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/demo-000-{stack_role}-role")
}

/// The reference stack `demo-000` of the demo account.
fn stack() -> Snapshot {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    assert_eq!(s.pipelines.len(), 1);
    s
}

/// Adds an inline policy to a role of the stack.
fn with_policy(mut s: Snapshot, role_arn: &str, json: &str) -> Snapshot {
    let Some(Observed::Ok { value: r }) = s.resources.roles.get_mut(role_arn) else {
        panic!("no role {role_arn} in the stack");
    };
    let Observed::Ok { value: inline } = &mut r.inline_policies else {
        panic!("{role_arn}: inline policies not read");
    };
    let parsed = PolicyText::parse(json);
    assert!(parsed.document.is_some(), "test policy does not parse");
    inline.insert("under-test".to_string(), Observed::ok(parsed));
    s
}

/// Replaces the trust policy of a role of the stack.
fn with_trust(mut s: Snapshot, role_arn: &str, json: &str) -> Snapshot {
    let Some(Observed::Ok { value: r }) = s.resources.roles.get_mut(role_arn) else {
        panic!("no role {role_arn} in the stack");
    };
    r.trust_policy = Observed::ok(PolicyText::parse(json));
    s
}

fn ia004(s: Snapshot) -> Vec<Finding> {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    let gaps: Vec<_> = e
        .diagnostics
        .iter()
        .filter(|d| d.rule_id.as_deref() == Some("IA004"))
        .collect();
    assert!(gaps.is_empty(), "{gaps:#?}");
    e.findings
        .into_iter()
        .filter(|f| f.rule_id == "IA004")
        .collect()
}

#[test]
fn the_reference_stack_is_clean() {
    assert!(ia004(stack()).is_empty());
}

#[test]
fn the_default_codepipeline_policy_on_the_pipeline_role_is_not_an_escalation() {
    let policy = default_codepipeline_policy();
    assert!(ia004(with_policy(stack(), &role("pipeline"), &policy)).is_empty());
    // StartBuild on every project alone (a least-privilege stack that
    // left the project unscoped): the pipeline cannot override a buildspec
    let start_build = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["codebuild:StartBuild","codebuild:BatchGetBuilds"],"Resource":"*"}]}"#;
    assert!(ia004(with_policy(stack(), &role("pipeline"), start_build)).is_empty());
    // The same policy on the build role is a path: the scope, not the
    // policy, is what keeps the pipeline role out.
    let on_build = ia004(with_policy(stack(), &role("build"), &policy));
    assert_eq!(on_build.len(), 1, "{on_build:#?}");
    assert!(
        on_build[0]
            .message
            .contains("iam:PassRole on other roles + ec2:RunInstances"),
        "{}",
        on_build[0].message
    );
}

#[test]
fn the_build_role_that_may_pass_any_role_to_a_new_project_escalates() {
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Action":["iam:PassRole","codebuild:CreateProject"],"Resource":"*"}},
        {{"Effect":"Allow","Action":"codebuild:StartBuild","Resource":"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/*"}}]}}"#
    );
    let found = ia004(with_policy(stack(), &role("build"), &policy));
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.resource_arn, role("build"));
    assert!(
        f.message.contains(
            "iam:PassRole on other roles + codebuild:CreateProject + codebuild:StartBuild"
        ),
        "{}",
        f.message
    );
    assert!(
        f.message
            .contains("code from the source branch runs as this role through the buildspec"),
        "{}",
        f.message
    );
}

#[test]
fn a_pipeline_role_another_account_can_assume_with_iam_writes_escalates() {
    let writes = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["iam:AttachRolePolicy","iam:PutRolePolicy"],"Resource":"*"}]}"#;
    // its service alone: out of scope
    assert!(ia004(with_policy(stack(), &role("pipeline"), writes)).is_empty());
    let trust = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"},
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::210987654321:root"},"Action":"sts:AssumeRole"}]}"#;
    let s = with_trust(
        with_policy(stack(), &role("pipeline"), writes),
        &role("pipeline"),
        trust,
    );
    let found = ia004(s);
    assert_eq!(found.len(), 1, "{found:#?}");
    let f = &found[0];
    assert_eq!(f.resource_arn, role("pipeline"));
    assert!(
        f.message
            .contains("iam:PutRolePolicy, iam:AttachRolePolicy"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains(
            "AWS:arn:aws:iam::210987654321:root can assume this role and use these permissions directly"
        ),
        "{}",
        f.message
    );
    assert!(!f.message.contains("buildspec"), "{}", f.message);
}
