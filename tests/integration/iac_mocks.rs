//! Stack membership reads moto cannot serve, with `aws-smithy-mocks`: moto
//! refuses `aws:cloudformation:*` tags on pipelines and buckets (as AWS
//! refuses user-set `aws:` tags) and answers DescribeStackResources only by
//! stack name, so the pipeline and bucket tag reads and the lookup by
//! physical id are mocked here with real wire-format responses.

use crate::support;
use std::collections::{BTreeMap, BTreeSet};

use aws_smithy_mocks::mock;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::stacks::{self, StackClients};
use pipeaudit::model::{Observed, ReadErrorKind, Snapshot, StackRef};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn demo() -> Snapshot {
    Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"))
}

fn ctx() -> Ctx {
    Ctx::new(4, indicatif::ProgressBar::hidden())
}

fn cfn_tags() -> Vec<aws_sdk_codepipeline::types::Tag> {
    [
        ("aws:cloudformation:stack-name", "ci-infra"),
        ("aws:cloudformation:logical-id", "Pipeline"),
    ]
    .iter()
    .map(|(k, v)| {
        aws_sdk_codepipeline::types::Tag::builder()
            .key(*k)
            .value(*v)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .collect()
}

fn stack_resource(
    stack: &str,
    logical: &str,
    physical: &str,
) -> aws_sdk_cloudformation::types::StackResource {
    aws_sdk_cloudformation::types::StackResource::builder()
        .stack_name(stack)
        .logical_resource_id(logical)
        .physical_resource_id(physical)
        .resource_type("AWS::IAM::Role")
        .build()
}

#[tokio::test]
async fn tags_first_then_the_stack_resource_by_physical_id() {
    let snap = demo();
    let pipeline = snap
        .resources
        .pipelines
        .iter()
        .find_map(|(arn, p)| p.value().map(|_| arn.clone()))
        .unwrap_or_else(|| panic!("no pipeline in the demo"));
    let (bucket_arn, bucket) = snap
        .resources
        .buckets
        .iter()
        .find_map(|(arn, b)| b.value().map(|b| (arn.clone(), b.name.clone())))
        .unwrap_or_else(|| panic!("no bucket in the demo"));
    let (role_arn, role) = snap
        .resources
        .roles
        .iter()
        .find_map(|(arn, r)| r.value().map(|r| (arn.clone(), r.name.clone())))
        .unwrap_or_else(|| panic!("no role in the demo"));

    let pipeline_tags = mock!(aws_sdk_codepipeline::Client::list_tags_for_resource).then_output(
        || {
            aws_sdk_codepipeline::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                .set_tags(Some(cfn_tags()))
                .build()
        },
    );
    // A bucket without tags: S3 answers NoSuchTagSet.
    let bucket_tags = mock!(aws_sdk_s3::Client::get_bucket_tagging)
        .sequence()
        .http_status(
            404,
            Some("<Error><Code>NoSuchTagSet</Code><Message>The TagSet does not exist</Message></Error>".to_string()),
        )
        .repeatedly()
        .build();
    let role_name = role.clone();
    let by_role = mock!(aws_sdk_cloudformation::Client::describe_stack_resources)
        .match_requests(move |r| r.physical_resource_id() == Some(role_name.as_str()))
        .then_output({
            let role = role.clone();
            move || {
                aws_sdk_cloudformation::operation::describe_stack_resources::DescribeStackResourcesOutput::builder()
                    .stack_resources(stack_resource("ci-roles", "PipelineRole", &role))
                    .build()
            }
        });
    // The bucket is in no stack: CloudFormation's ValidationError.
    let bucket_name = bucket.clone();
    let unmanaged = mock!(aws_sdk_cloudformation::Client::describe_stack_resources)
        .match_requests(move |r| r.physical_resource_id() == Some(bucket_name.as_str()))
        .sequence()
        .http_status(
            400,
            Some(format!("<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack for {bucket} does not exist</Message></Error></ErrorResponse>")),
        )
        .repeatedly()
        .build();
    let mut clients = BTreeMap::new();
    for region in &snap.regions {
        clients.insert(
            region.clone(),
            StackClients {
                cloudformation: crate::mock_client!(
                    aws_sdk_cloudformation,
                    &[&by_role, &unmanaged],
                    no_retry
                ),
                codepipeline: crate::mock_client!(
                    aws_sdk_codepipeline,
                    &[&pipeline_tags],
                    no_retry
                ),
                codebuild: crate::mock_client!(aws_sdk_codebuild, &[], no_retry),
                codedeploy: crate::mock_client!(aws_sdk_codedeploy, &[], no_retry),
                s3: crate::mock_client!(aws_sdk_s3, &[&bucket_tags], no_retry),
                kms: crate::mock_client!(aws_sdk_kms, &[], no_retry),
                events: crate::mock_client!(aws_sdk_eventbridge, &[], no_retry),
            },
        );
    }
    let only: BTreeSet<String> = [pipeline.clone(), bucket_arn.clone(), role_arn.clone()]
        .into_iter()
        .collect();
    let ctx = ctx();
    let found = stacks::read(&ctx, &clients, &snap, Some(&only)).await;
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!(
        found.get(&pipeline),
        Some(&Observed::ok(StackRef {
            stack: "ci-infra".into(),
            logical_id: "Pipeline".into(),
            source: "tags".into(),
        }))
    );
    assert_eq!(
        found.get(&role_arn),
        Some(&Observed::ok(StackRef {
            stack: "ci-roles".into(),
            logical_id: "PipelineRole".into(),
            source: "cloudformation:DescribeStackResources".into(),
        }))
    );
    assert_eq!(found.get(&bucket_arn), Some(&Observed::Absent));
    let calls = ctx.calls();
    assert_eq!(calls.get("codepipeline:ListTagsForResource"), Some(&1));
    assert_eq!(calls.get("s3:GetBucketTagging"), Some(&1));
    // a tagged pipeline needs no lookup; the role needs no tag read
    assert!(
        calls
            .get("cloudformation:DescribeStackResources")
            .copied()
            .unwrap_or(0)
            >= 2,
        "{calls:?}"
    );

    // Every action made is in the read-only policy.
    support::assert_policy_grants("iam-audit-policy.json", calls.keys());
}

#[tokio::test]
async fn a_denied_lookup_is_unknown_and_names_the_action() {
    let denied = mock!(aws_sdk_cloudformation::Client::describe_stack_resources)
        .sequence()
        .http_status(
            403,
            Some("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform cloudformation:DescribeStackResources</Message></Error></ErrorResponse>".to_string()),
        )
        .repeatedly()
        .build();
    let cfn = crate::mock_client!(aws_sdk_cloudformation, &[&denied], no_retry);
    let got = stacks::describe_by_physical_id(&ctx(), &cfn, "ci-pipeline-role").await;
    let err = got.error().unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(err.kind, ReadErrorKind::AccessDenied);
    assert_eq!(err.action, "cloudformation:DescribeStackResources");
}

#[tokio::test]
async fn cloudformation_has_the_last_word_when_tags_cannot_be_read() {
    let snap = demo();
    let pipeline = snap
        .resources
        .pipelines
        .iter()
        .find_map(|(arn, p)| p.value().map(|_| arn.clone()))
        .unwrap_or_else(|| panic!("no pipeline in the demo"));
    let denied_tags = mock!(aws_sdk_codepipeline::Client::list_tags_for_resource)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"AccessDeniedException","message":"no"}"#.to_string()),
        )
        .repeatedly()
        .build();
    let lookup = |code: &'static str, status: u16| {
        mock!(aws_sdk_cloudformation::Client::describe_stack_resources)
            .sequence()
            .http_status(
                status,
                Some(format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>Stack for x does not exist</Message></Error></ErrorResponse>")),
            )
            .repeatedly()
            .build()
    };
    let only: BTreeSet<String> = [pipeline.clone()].into_iter().collect();
    for (rule, expect_unknown) in [
        (lookup("ValidationError", 400), false),
        (lookup("AccessDenied", 403), true),
    ] {
        let mut clients = BTreeMap::new();
        for region in &snap.regions {
            clients.insert(
                region.clone(),
                StackClients {
                    cloudformation: crate::mock_client!(aws_sdk_cloudformation, &[&rule], no_retry),
                    codepipeline: crate::mock_client!(
                        aws_sdk_codepipeline,
                        &[&denied_tags],
                        no_retry
                    ),
                    codebuild: crate::mock_client!(aws_sdk_codebuild, &[], no_retry),
                    codedeploy: crate::mock_client!(aws_sdk_codedeploy, &[], no_retry),
                    s3: crate::mock_client!(aws_sdk_s3, &[], no_retry),
                    kms: crate::mock_client!(aws_sdk_kms, &[], no_retry),
                    events: crate::mock_client!(aws_sdk_eventbridge, &[], no_retry),
                },
            );
        }
        let found = stacks::read(&ctx(), &clients, &snap, Some(&only)).await;
        let got = found.get(&pipeline).unwrap_or_else(|| panic!("{found:?}"));
        if expect_unknown {
            assert_eq!(
                got.error().map(|e| e.action.as_str()),
                Some("cloudformation:DescribeStackResources"),
                "{got:?}"
            );
        } else {
            assert_eq!(got, &Observed::Absent, "no stack has it, whatever the tags");
        }
    }
}
