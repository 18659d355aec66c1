//! Fix actions whose write operations moto lacks (CodeDeploy
//! UpdateDeploymentGroup), tested with `aws-smithy-mocks`: the exact
//! request sent is asserted, and a resource that changed since it was
//! collected is skipped without a write.

use aws_config::BehaviorVersion;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
use aws_sdk_codedeploy::operation::update_deployment_group::UpdateDeploymentGroupOutput;
use aws_sdk_codedeploy::types::{
    AutoRollbackConfiguration, AutoRollbackEvent, DeploymentGroupInfo,
};
use aws_smithy_mocks::{Rule, mock};
use aws_types::region::Region;
use pipeaudit::collect::clients::RegionClients;
use pipeaudit::findings::FixSafety;
use pipeaudit::remediate::{AppliedOutcome, PlannedAction, apply_one};
use serde_json::json;

const GROUP: &str = "arn:aws:codedeploy:us-east-1:111122223333:deploymentgroup:app/grp";

/// Clients of one region whose other services are never called.
fn region_clients() -> RegionClients {
    let cfg = aws_types::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    RegionClients::new(&cfg)
}

async fn clients(rules: &[&Rule]) -> RegionClients {
    let mut c = region_clients();
    c.codedeploy = crate::mock_client!(aws_sdk_codedeploy, rules);
    c
}

fn group_with(enabled: bool, events: Vec<AutoRollbackEvent>) -> GetDeploymentGroupOutput {
    GetDeploymentGroupOutput::builder()
        .deployment_group_info(
            DeploymentGroupInfo::builder()
                .application_name("app")
                .deployment_group_name("grp")
                .auto_rollback_configuration(
                    AutoRollbackConfiguration::builder()
                        .enabled(enabled)
                        .set_events(Some(events))
                        .build(),
                )
                .build(),
        )
        .build()
}

fn planned() -> PlannedAction {
    PlannedAction {
        action: "deploy-rollback".into(),
        safety: FixSafety::Safe,
        rule_ids: vec!["CD003".into()],
        pipelines: vec!["p".into()],
        resource_arn: GROUP.into(),
        region: "us-east-1".into(),
        description: "turn on automatic rollback".into(),
        before: json!({"enabled": false, "events": ["DEPLOYMENT_STOP_ON_ALARM"]}),
        after: json!({"enabled": true, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}),
        collected: None,
    }
}

#[tokio::test]
async fn deploy_rollback_sends_exactly_the_update() {
    let get = mock!(aws_sdk_codedeploy::Client::get_deployment_group)
        .match_requests(|r| {
            r.application_name() == Some("app") && r.deployment_group_name() == Some("grp")
        })
        .then_output(|| group_with(false, vec![AutoRollbackEvent::DeploymentStopOnAlarm]));
    let update = mock!(aws_sdk_codedeploy::Client::update_deployment_group)
        .match_requests(|r| {
            let cfg = r.auto_rollback_configuration();
            r.application_name() == Some("app")
                && r.current_deployment_group_name() == Some("grp")
                && r.new_deployment_group_name().is_none()
                && r.deployment_config_name().is_none()
                && r.service_role_arn().is_none()
                && cfg.is_some_and(|c| {
                    c.enabled()
                        && c.events()
                            == [
                                AutoRollbackEvent::DeploymentFailure,
                                AutoRollbackEvent::DeploymentStopOnAlarm,
                            ]
                })
        })
        .then_output(|| UpdateDeploymentGroupOutput::builder().build());
    let c = clients(&[&get, &update]).await;
    let applied = apply_one(&c, &planned()).await;
    assert_eq!(
        applied.outcome,
        AppliedOutcome::Applied,
        "{}",
        applied.message
    );
    assert_eq!(applied.api_call, "codedeploy:UpdateDeploymentGroup");
    assert_eq!(
        update.num_calls(),
        1,
        "one update, matching the expected request"
    );
}

#[tokio::test]
async fn deploy_rollback_skips_a_group_changed_since_collection() {
    let get = mock!(aws_sdk_codedeploy::Client::get_deployment_group)
        .then_output(|| group_with(true, vec![AutoRollbackEvent::DeploymentFailure]));
    let update = mock!(aws_sdk_codedeploy::Client::update_deployment_group)
        .then_output(|| UpdateDeploymentGroupOutput::builder().build());
    let c = clients(&[&get, &update]).await;
    let applied = apply_one(&c, &planned()).await;
    assert_eq!(applied.outcome, AppliedOutcome::Skipped);
    assert!(
        applied.message.contains("changed since it was collected"),
        "{}",
        applied.message
    );
    assert_eq!(update.num_calls(), 0, "nothing written");
}

async fn codebuild_clients(rules: &[&Rule]) -> RegionClients {
    let mut c = region_clients();
    c.codebuild = crate::mock_client!(aws_sdk_codebuild, rules);
    c
}

const PROJECT: &str = "arn:aws:codebuild:us-east-1:111122223333:project/build";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k-1";

fn project(
    privileged: bool,
    key: &str,
) -> aws_sdk_codebuild::operation::batch_get_projects::BatchGetProjectsOutput {
    use aws_sdk_codebuild::types::{
        ComputeType, EnvironmentType, EnvironmentVariable, Project, ProjectEnvironment,
    };
    let env = ProjectEnvironment::builder()
        .r#type(EnvironmentType::LinuxContainer)
        .image("aws/codebuild/standard:7.0")
        .compute_type(ComputeType::BuildGeneral1Small)
        .privileged_mode(privileged)
        .environment_variables(
            EnvironmentVariable::builder()
                .name("STAGE")
                .value("prod")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    aws_sdk_codebuild::operation::batch_get_projects::BatchGetProjectsOutput::builder()
        .projects(
            Project::builder()
                .name("build")
                .arn(PROJECT)
                .encryption_key(key)
                .environment(env)
                .build(),
        )
        .build()
}

fn build_action(
    action: &str,
    before: serde_json::Value,
    after: serde_json::Value,
) -> PlannedAction {
    PlannedAction {
        action: action.into(),
        safety: FixSafety::Safe,
        rule_ids: vec!["CB004".into()],
        pipelines: vec!["p".into()],
        resource_arn: PROJECT.into(),
        region: "us-east-1".into(),
        description: String::new(),
        before,
        after,
        collected: None,
    }
}

#[tokio::test]
async fn build_encryption_key_updates_only_the_key() {
    let get = mock!(aws_sdk_codebuild::Client::batch_get_projects)
        .then_output(|| project(false, "arn:aws:kms:us-east-1:111122223333:alias/aws/s3"));
    let update = mock!(aws_sdk_codebuild::Client::update_project)
        .match_requests(|r| {
            r.name() == Some("build")
                && r.encryption_key() == Some(KEY)
                && r.environment().is_none()
                && r.source().is_none()
                && r.service_role().is_none()
        })
        .then_output(|| {
            aws_sdk_codebuild::operation::update_project::UpdateProjectOutput::builder().build()
        });
    let c = codebuild_clients(&[&get, &update]).await;
    let a = build_action(
        "build-encryption-key",
        json!({"encryption_key": "arn:aws:kms:us-east-1:111122223333:alias/aws/s3"}),
        json!({"encryption_key": KEY}),
    );
    let applied = apply_one(&c, &a).await;
    assert_eq!(
        applied.outcome,
        AppliedOutcome::Applied,
        "{}",
        applied.message
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn privileged_off_sends_the_environment_back_unchanged_but_for_the_flag() {
    let get =
        mock!(aws_sdk_codebuild::Client::batch_get_projects).then_output(|| project(true, KEY));
    let update = mock!(aws_sdk_codebuild::Client::update_project)
        .match_requests(|r| {
            r.name() == Some("build")
                && r.encryption_key().is_none()
                && r.environment().is_some_and(|e| {
                    e.privileged_mode() == Some(false)
                        && e.image() == "aws/codebuild/standard:7.0"
                        && e.environment_variables().len() == 1
                        && e.environment_variables()[0].name() == "STAGE"
                })
        })
        .then_output(|| {
            aws_sdk_codebuild::operation::update_project::UpdateProjectOutput::builder().build()
        });
    let c = codebuild_clients(&[&get, &update]).await;
    let a = build_action(
        "build-privileged-off",
        json!({"privileged_mode": true}),
        json!({"privileged_mode": false}),
    );
    let applied = apply_one(&c, &a).await;
    assert_eq!(
        applied.outcome,
        AppliedOutcome::Applied,
        "{}",
        applied.message
    );
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn one_at_a_time_replaces_only_the_config_name() {
    let get = mock!(aws_sdk_codedeploy::Client::get_deployment_group).then_output(|| {
        GetDeploymentGroupOutput::builder()
            .deployment_group_info(
                DeploymentGroupInfo::builder()
                    .application_name("app")
                    .deployment_group_name("grp")
                    .deployment_config_name("CodeDeployDefault.AllAtOnce")
                    .build(),
            )
            .build()
    });
    let update = mock!(aws_sdk_codedeploy::Client::update_deployment_group)
        .match_requests(|r| {
            r.current_deployment_group_name() == Some("grp")
                && r.deployment_config_name() == Some("CodeDeployDefault.OneAtATime")
                && r.auto_rollback_configuration().is_none()
        })
        .then_output(|| UpdateDeploymentGroupOutput::builder().build());
    let c = clients(&[&get, &update]).await;
    let mut a = planned();
    a.action = "deploy-one-at-a-time".into();
    a.before = json!({"deployment_config_name": "CodeDeployDefault.AllAtOnce"});
    a.after = json!({"deployment_config_name": "CodeDeployDefault.OneAtATime"});
    let applied = apply_one(&c, &a).await;
    assert_eq!(
        applied.outcome,
        AppliedOutcome::Applied,
        "{}",
        applied.message
    );
    assert_eq!(update.num_calls(), 1);
}
