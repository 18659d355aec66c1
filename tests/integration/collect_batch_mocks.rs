//! The bulk and batch reads: IAM's GetAccountAuthorizationDetails across
//! pages, CodeCommit BatchGetRepositories, CodeDeploy BatchGetApplications
//! and BatchGetDeploymentGroups, and the fallback to single reads.
//!
//! moto serves GetAccountAuthorizationDetails but never paginates it (it
//! ignores MaxItems and Marker), and it has no BatchGetRepositories or
//! BatchGetDeploymentGroups: these paths are served by `aws-smithy-mocks`.
//! The moto tests (tests/integration/collect_moto.rs) cover the same reads end to end,
//! including the fallback when moto lacks an operation.

use std::collections::BTreeSet;

use aws_config::BehaviorVersion;
use aws_sdk_codecommit::operation::batch_get_repositories::BatchGetRepositoriesOutput;
use aws_sdk_codecommit::operation::get_repository::GetRepositoryOutput;
use aws_sdk_codecommit::types::{
    BatchGetRepositoriesError, BatchGetRepositoriesErrorCodeEnum, RepositoryMetadata,
};
use aws_sdk_codedeploy::operation::batch_get_applications::BatchGetApplicationsOutput;
use aws_sdk_codedeploy::operation::batch_get_deployment_groups::BatchGetDeploymentGroupsOutput;
use aws_sdk_codedeploy::types::{ApplicationInfo, DeploymentGroupInfo};
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::operation::list_roles::ListRolesOutput;
use aws_sdk_iam::types::{
    AttachedPolicy, EntityType, InstanceProfile, ManagedPolicyDetail, PolicyDetail, PolicyVersion,
    RoleDetail,
};
use aws_smithy_mocks::mock;
use aws_smithy_types::DateTime;
use aws_types::SdkConfig;
use aws_types::region::Region;
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::clients::RegionClients;
use pipeaudit::collect::iam_details::{self, BulkReadPlan, IamRead};
use pipeaudit::collect::kind::{Kind, ToRead};
use pipeaudit::collect::{codecommit, codedeploy};
use pipeaudit::model::Observed;

const ACCOUNT: &str = "123456789012";

/// Clients of one region whose other services are never called.
fn region_clients() -> RegionClients {
    let cfg = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    RegionClients::new(&cfg)
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn role(name: &str, attached: &[&str], profile: Option<&str>) -> RoleDetail {
    let mut r = RoleDetail::builder()
        .role_name(name)
        .arn(role_arn(name))
        .path("/")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .role_policy_list(
            PolicyDetail::builder()
                .policy_name(format!("{name}-inline"))
                // IAM answers URL-encoded documents
                .policy_document("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22*%22%7D%5D%7D")
                .build(),
        );
    for a in attached {
        r = r.attached_managed_policies(AttachedPolicy::builder().policy_arn(*a).build());
    }
    if let Some(p) = profile {
        r = r.instance_profile_list(
            InstanceProfile::builder()
                .instance_profile_name(p)
                .instance_profile_id("AIPA0000")
                .path("/")
                .arn(format!("arn:aws:iam::{ACCOUNT}:instance-profile/{p}"))
                .create_date(DateTime::from_secs(0))
                .set_roles(Some(Vec::new()))
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    r.build()
}

fn managed(arn: &str, default: &str, versions: &[(&str, &str)]) -> ManagedPolicyDetail {
    let mut p = ManagedPolicyDetail::builder()
        .arn(arn)
        .policy_name(arn.rsplit('/').next().unwrap_or(arn))
        .default_version_id(default);
    for (id, action) in versions {
        p = p.policy_version_list(
            PolicyVersion::builder()
                .version_id(*id)
                .is_default_version(*id == default)
                .document(format!(
                    r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"*"}}]}}"#
                ))
                .build(),
        );
    }
    p.build()
}

const P1: &str = "arn:aws:iam::123456789012:policy/build-extra";
const P9: &str = "arn:aws:iam::123456789012:policy/unrelated";
const AWS_POLICY: &str = "arn:aws:iam::aws:policy/AWSCodeDeployRole";

fn is_roles(
    r: &aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsInput,
) -> bool {
    r.filter() == [EntityType::Role]
}

#[tokio::test]
async fn the_bulk_read_follows_every_page_and_keeps_only_what_is_referenced() {
    let roles1 = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| is_roles(r) && r.marker().is_none())
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .role_detail_list(role("build-role", &[P1], None))
                .role_detail_list(role("unrelated", &[P9], None))
                .is_truncated(true)
                .marker("roles-2")
                .build()
        });
    let roles2 = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| is_roles(r) && r.marker() == Some("roles-2"))
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .role_detail_list(role("deploy-role", &[AWS_POLICY], None))
                // not referenced yet, but an instance's role may be
                .role_detail_list(role("web-instance", &[], Some("web-profile")))
                .is_truncated(false)
                .build()
        });
    let policies1 = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| !is_roles(r) && r.marker().is_none())
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .policies(managed(
                    P1,
                    "v2",
                    &[("v1", "iam:PassRole"), ("v2", "s3:PutObject")],
                ))
                .policies(managed(P9, "v1", &[("v1", "*")]))
                .is_truncated(true)
                .marker("policies-2")
                .build()
        });
    let policies2 = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| !is_roles(r) && r.marker() == Some("policies-2"))
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .policies(managed(AWS_POLICY, "v3", &[("v3", "ec2:Describe*")]))
                .is_truncated(false)
                .build()
        });
    let get_role = mock!(aws_sdk_iam::Client::get_role)
        .then_output(|| aws_sdk_iam::operation::get_role::GetRoleOutput::builder().build());
    let c = crate::mock_client!(
        aws_sdk_iam,
        &[&roles1, &roles2, &policies1, &policies2, &get_role]
    );
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let plan = BulkReadPlan {
        mode: IamRead::AccountDetails,
        account: ACCOUNT.to_string(),
        wanted: ["build-role", "deploy-role", "gone-role"]
            .into_iter()
            .map(str::to_string)
            .collect(),
    };
    let dir = iam_details::load(&ctx, &c, &plan)
        .await
        .unwrap_or_else(|| panic!("the bulk read failed"));
    assert_eq!(
        (roles1.num_calls(), roles2.num_calls()),
        (1, 1),
        "each role page once"
    );
    assert_eq!((policies1.num_calls(), policies2.num_calls()), (1, 1));
    assert_eq!(get_role.num_calls(), 0);

    let build = dir
        .role(&role_arn("build-role"))
        .and_then(|o| o.value().cloned())
        .unwrap_or_else(|| panic!("build-role not kept"));
    assert_eq!(build.attached_policies.value(), Some(&vec![P1.to_string()]));
    let inline = build.inline_policies.value().cloned().unwrap_or_default();
    let doc = inline
        .get("build-role-inline")
        .and_then(Observed::value)
        .unwrap_or_else(|| panic!("{inline:?}"));
    assert!(doc.raw.contains("s3:GetObject"), "decoded: {}", doc.raw);
    assert!(build.trust_policy.value().is_some());

    // the referenced role of the second page, and the instance's role
    assert!(dir.role(&role_arn("deploy-role")).is_some());
    assert!(dir.role(&role_arn("web-instance")).is_some());
    assert_eq!(
        dir.profile_role(&format!(
            "arn:aws:iam::{ACCOUNT}:instance-profile/web-profile"
        )),
        Some(role_arn("web-instance"))
    );
    // neither referenced nor an instance's: dropped with its policy
    assert!(dir.role(&role_arn("unrelated")).is_none());
    assert!(dir.policy(P9).is_none());
    // a referenced role the account does not have is left to a single read
    assert!(dir.role(&role_arn("gone-role")).is_none());
    // a role of another account is never answered from this one's details
    assert!(
        dir.role("arn:aws:iam::999999999999:role/build-role")
            .is_none()
    );

    // the default version's document, not another version's
    let p1 = dir
        .policy(P1)
        .and_then(|o| o.value().cloned())
        .unwrap_or_else(|| panic!("P1 not kept"));
    assert_eq!(p1.default_version_id.as_deref(), Some("v2"));
    let text = p1
        .document
        .value()
        .map(|d| d.raw.clone())
        .unwrap_or_default();
    assert!(
        text.contains("s3:PutObject") && !text.contains("PassRole"),
        "{text}"
    );
    assert!(dir.policy(AWS_POLICY).is_some(), "an AWS managed policy");
}

#[tokio::test]
async fn a_denied_bulk_read_leaves_the_roles_to_single_reads() {
    let denied = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .sequence()
        .http_status(
            403,
            Some(
                r#"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform iam:GetAccountAuthorizationDetails</Message></Error></ErrorResponse>"#
                    .to_string(),
            ),
        )
        .repeatedly()
        .build();
    let c = crate::mock_client!(aws_sdk_iam, &[&denied]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let bulk = iam_details::BulkRead::default();
    bulk.plan(BulkReadPlan {
        mode: IamRead::AccountDetails,
        account: ACCOUNT.to_string(),
        wanted: BTreeSet::from(["build-role".to_string()]),
    });
    assert!(bulk.directory(&ctx, &c).await.is_none());
    assert!(denied.num_calls() >= 1);
    // asked once per run, however many readers want it
    let calls = denied.num_calls();
    assert!(bulk.directory(&ctx, &c).await.is_none());
    assert_eq!(denied.num_calls(), calls);
}

fn listed_roles(names: std::ops::Range<usize>) -> Vec<aws_sdk_iam::types::Role> {
    names
        .map(|i| {
            aws_sdk_iam::types::Role::builder()
                .path("/")
                .role_name(format!("r{i}"))
                .role_id(format!("AROA{i}"))
                .arn(role_arn(&format!("r{i}")))
                .create_date(DateTime::from_secs(0))
                .build()
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

#[tokio::test]
async fn the_choice_counts_every_page_of_the_accounts_roles() {
    let page1 = mock!(aws_sdk_iam::Client::list_roles)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| {
            ListRolesOutput::builder()
                .set_roles(Some(listed_roles(0..700)))
                .is_truncated(true)
                .marker("more")
                .build()
                .unwrap_or_else(|e| panic!("{e}"))
        });
    let page2 = mock!(aws_sdk_iam::Client::list_roles)
        .match_requests(|r| r.marker() == Some("more"))
        .then_output(|| {
            ListRolesOutput::builder()
                .set_roles(Some(listed_roles(700..1400)))
                .is_truncated(false)
                .build()
                .unwrap_or_else(|e| panic!("{e}"))
        });
    let c = crate::mock_client!(aws_sdk_iam, &[&page1, &page2]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let plan = |n: usize| BulkReadPlan {
        mode: IamRead::Auto,
        account: ACCOUNT.to_string(),
        wanted: (0..n).map(|i| format!("r{i}")).collect(),
    };
    // 1,400 roles: the bulk read is counted at 2 x 14 pages
    let (bulk, _) = iam_details::estimate(4, 1400);
    assert_eq!(bulk, 28);
    // one pipeline's four roles: 20 single calls beat 28 pages
    assert!(!iam_details::choose(&ctx, &c, &plan(4)).await);
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
    // ten pipelines' forty roles: 200 single calls lose
    assert!(iam_details::choose(&ctx, &c, &plan(40)).await);
    // a mode that is set is obeyed without counting
    let before = page1.num_calls();
    let forced = BulkReadPlan {
        mode: IamRead::PerRole,
        ..plan(400)
    };
    assert!(!iam_details::choose(&ctx, &c, &forced).await);
    assert_eq!(page1.num_calls(), before);
}

fn repo_target(name: &str) -> ToRead<String> {
    ToRead {
        arn: format!("arn:aws:codecommit:us-east-1:{ACCOUNT}:{name}"),
        region: "us-east-1".to_string(),
        detail: name.to_string(),
    }
}

fn metadata(name: &str) -> RepositoryMetadata {
    RepositoryMetadata::builder()
        .repository_name(name)
        .repository_id(format!("id-{name}"))
        .arn(format!("arn:aws:codecommit:us-east-1:{ACCOUNT}:{name}"))
        .default_branch("main")
        .build()
}

#[tokio::test]
async fn repositories_are_read_in_one_batch_with_each_outcome_kept() {
    let batch = mock!(aws_sdk_codecommit::Client::batch_get_repositories).then_output(|| {
        BatchGetRepositoriesOutput::builder()
            .repositories(metadata("app"))
            .repositories_not_found("gone")
            .errors(
                BatchGetRepositoriesError::builder()
                    .repository_name("sealed")
                    .error_code(
                        BatchGetRepositoriesErrorCodeEnum::EncryptionKeyAccessDeniedException,
                    )
                    .error_message("the repository's key cannot be used")
                    .build(),
            )
            .build()
    });
    let single = mock!(aws_sdk_codecommit::Client::get_repository)
        .then_output(|| GetRepositoryOutput::builder().build());
    let mut clients = region_clients();
    clients.codecommit = crate::mock_client!(aws_sdk_codecommit, &[&batch, &single]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    crate::blank_refs!(refs);
    let targets = vec![
        repo_target("app"),
        repo_target("gone"),
        repo_target("sealed"),
    ];
    let read = codecommit::Repositories::read(&ctx, &clients, &refs, &targets).await;
    assert_eq!(batch.num_calls(), 1);
    assert_eq!(single.num_calls(), 0);
    let get = |name: &str| {
        read.iter()
            .find(|(arn, _)| arn.ends_with(&format!(":{name}")))
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| panic!("{name} missing from {read:?}"))
    };
    let app = get("app");
    assert_eq!(
        app.value().and_then(|r| r.default_branch.as_deref()),
        Some("main")
    );
    assert!(matches!(get("gone"), Observed::Absent));
    let sealed = get("sealed");
    let e = sealed.error().unwrap_or_else(|| panic!("{sealed:?}"));
    assert_eq!(e.action, "codecommit:BatchGetRepositories");
    assert_eq!(
        e.code.as_deref(),
        Some("EncryptionKeyAccessDeniedException")
    );
}

#[tokio::test]
async fn an_endpoint_without_the_batch_is_asked_once_then_read_one_by_one() {
    // an AWS-compatible server answering an operation it lacks with a bare 500
    let batch = mock!(aws_sdk_codecommit::Client::batch_get_repositories)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let single = mock!(aws_sdk_codecommit::Client::get_repository).then_output(|| {
        GetRepositoryOutput::builder()
            .repository_metadata(metadata("any"))
            .build()
    });
    let mut clients = region_clients();
    clients.codecommit = crate::mock_client!(aws_sdk_codecommit, &[&batch, &single]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    crate::blank_refs!(refs);
    // two batches' worth (25 names a batch)
    let targets: Vec<ToRead<String>> = (0..30).map(|i| repo_target(&format!("r{i}"))).collect();
    let read = codecommit::Repositories::read(&ctx, &clients, &refs, &targets).await;
    assert_eq!(
        batch.num_calls(),
        1,
        "the batch is not asked again, nor retried"
    );
    assert_eq!(single.num_calls(), 30);
    assert_eq!(read.len(), 30);
    assert!(read.iter().all(|(_, o)| o.value().is_some()));
    assert!(ctx.batch_unsupported("codecommit:BatchGetRepositories"));
    // later reads in the run go one by one at once
    let read = codecommit::Repositories::read(&ctx, &clients, &refs, &targets[..2]).await;
    assert_eq!(read.len(), 2);
    assert_eq!(batch.num_calls(), 1);
}

#[tokio::test]
async fn a_denied_batch_is_read_one_by_one_and_not_marked_unsupported() {
    let batch = mock!(aws_sdk_codecommit::Client::batch_get_repositories)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"AccessDeniedException","message":"not authorized to perform codecommit:BatchGetRepositories"}"#.to_string()),
        )
        .repeatedly()
        .build();
    let single = mock!(aws_sdk_codecommit::Client::get_repository).then_output(|| {
        GetRepositoryOutput::builder()
            .repository_metadata(metadata("any"))
            .build()
    });
    let mut clients = region_clients();
    clients.codecommit = crate::mock_client!(aws_sdk_codecommit, &[&batch, &single]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    crate::blank_refs!(refs);
    let targets = vec![repo_target("a"), repo_target("b")];
    let read = codecommit::Repositories::read(&ctx, &clients, &refs, &targets).await;
    assert_eq!(read.len(), 2);
    assert_eq!(single.num_calls(), 2);
    // a refusal is not a missing operation: the next batch asks again
    assert!(!ctx.batch_unsupported("codecommit:BatchGetRepositories"));
    codecommit::Repositories::read(&ctx, &clients, &refs, &targets).await;
    assert_eq!(batch.num_calls(), 2);
}

#[tokio::test]
async fn deploy_applications_and_an_applications_groups_are_read_in_batches() {
    let apps = mock!(aws_sdk_codedeploy::Client::batch_get_applications).then_output(|| {
        BatchGetApplicationsOutput::builder()
            .applications_info(
                ApplicationInfo::builder()
                    .application_name("web")
                    .application_id("app-1")
                    .build(),
            )
            .applications_info(
                ApplicationInfo::builder()
                    .application_name("api")
                    .application_id("app-2")
                    .build(),
            )
            .build()
    });
    let groups = mock!(aws_sdk_codedeploy::Client::batch_get_deployment_groups).then_output(|| {
        BatchGetDeploymentGroupsOutput::builder()
            .deployment_groups_info(
                DeploymentGroupInfo::builder()
                    .application_name("web")
                    .deployment_group_name("blue")
                    .service_role_arn(role_arn("deploy"))
                    .deployment_config_name("CodeDeployDefault.OneAtATime")
                    .build(),
            )
            // AWS names a missing group only in errorMessage
            .error_message("green: deployment group does not exist")
            .build()
    });
    let single_group = mock!(aws_sdk_codedeploy::Client::get_deployment_group)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"DeploymentGroupDoesNotExistException","message":"no such group"}"#
                    .to_string(),
            ),
        )
        .repeatedly()
        .build();
    let mut clients = region_clients();
    clients.codedeploy = crate::mock_client!(aws_sdk_codedeploy, &[&apps, &groups, &single_group]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    crate::blank_refs!(refs);

    let app_target = |name: &str| ToRead {
        arn: format!("arn:aws:codedeploy:us-east-1:{ACCOUNT}:application:{name}"),
        region: "us-east-1".to_string(),
        detail: name.to_string(),
    };
    let read = codedeploy::Applications::read(
        &ctx,
        &clients,
        &refs,
        &[app_target("web"), app_target("api")],
    )
    .await;
    assert_eq!(apps.num_calls(), 1);
    let ids: BTreeSet<String> = read
        .iter()
        .filter_map(|(_, o)| o.value().and_then(|a| a.id.clone()))
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from(["app-1".to_string(), "app-2".to_string()])
    );

    let group_target = |name: &str| ToRead {
        arn: format!("arn:aws:codedeploy:us-east-1:{ACCOUNT}:deploymentgroup:web/{name}"),
        region: "us-east-1".to_string(),
        detail: ("web".to_string(), name.to_string()),
    };
    let read = codedeploy::Groups::read(
        &ctx,
        &clients,
        &refs,
        &[group_target("blue"), group_target("green")],
    )
    .await;
    assert_eq!(groups.num_calls(), 1, "one batch for the application");
    assert_eq!(single_group.num_calls(), 1, "the group the batch left out");
    for (arn, obs) in &read {
        if arn.ends_with("/blue") {
            let g = obs.value().unwrap_or_else(|| panic!("{obs:?}"));
            assert_eq!(
                g.service_role_arn.as_deref(),
                Some(role_arn("deploy").as_str())
            );
            assert_eq!(
                g.deployment_config_name.as_deref(),
                Some("CodeDeployDefault.OneAtATime")
            );
        } else {
            assert!(matches!(obs, Observed::Absent), "{arn}: {obs:?}");
        }
    }
}
