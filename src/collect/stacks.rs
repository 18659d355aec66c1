//! Which CloudFormation stack manages each collected resource, read only
//! when asked (`--iac` for locations, `--remediate` for the plan).
//!
//! Most resources a stack creates carry the tags
//! `aws:cloudformation:stack-name` and `aws:cloudformation:logical-id`;
//! they are read with each service's tag API. A resource without them (IAM
//! roles never get them) is looked up with DescribeStackResources by its
//! physical id, one call per resource and region in question, never by
//! listing every stack. The calls go through their own [`Ctx`], so that
//! they are counted apart from the audit's.

use std::collections::{BTreeMap, BTreeSet};

use aws_types::SdkConfig;
use aws_types::region::Region;
use futures::future::join_all;

use super::call::{self, Ctx};
use crate::model::{Observed, ReadError, Snapshot, StackRef};

/// The tag naming the stack.
pub const STACK_NAME_TAG: &str = "aws:cloudformation:stack-name";
/// The tag naming the logical id.
pub const LOGICAL_ID_TAG: &str = "aws:cloudformation:logical-id";
/// The IAM action of the lookup by physical id.
pub const DESCRIBE_STACK_RESOURCES: &str = "cloudformation:DescribeStackResources";

/// The clients of one region used to read stack membership.
#[derive(Clone)]
pub struct StackClients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub events: aws_sdk_eventbridge::Client,
}

impl StackClients {
    /// Clients for one region of `config`.
    pub fn new(config: &SdkConfig, region: &str) -> Self {
        let cfg = config
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        StackClients {
            cloudformation: aws_sdk_cloudformation::Client::new(&cfg),
            codepipeline: aws_sdk_codepipeline::Client::new(&cfg),
            codebuild: aws_sdk_codebuild::Client::new(&cfg),
            codedeploy: aws_sdk_codedeploy::Client::new(&cfg),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&cfg)
                    .force_path_style(cfg.endpoint_url().is_some())
                    .build(),
            ),
            kms: aws_sdk_kms::Client::new(&cfg),
            events: aws_sdk_eventbridge::Client::new(&cfg),
        }
    }
}

/// The stack named by a resource's tags, when both tags are there.
pub fn from_tags(tags: &[(String, String)]) -> Option<StackRef> {
    let get = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    Some(StackRef {
        stack: get(STACK_NAME_TAG)?,
        logical_id: get(LOGICAL_ID_TAG)?,
        source: "tags".to_string(),
    })
}

fn pairs<'a>(
    it: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Vec<(String, String)> {
    it.filter_map(|(k, v)| Some((k?.to_string(), v.unwrap_or("").to_string())))
        .collect()
}

/// CodePipeline ListTagsForResource.
pub async fn pipeline_tags(
    ctx: &Ctx,
    c: &aws_sdk_codepipeline::Client,
    arn: &str,
) -> Observed<Vec<(String, String)>> {
    const ACTION: &str = "codepipeline:ListTagsForResource";
    let r = ctx
        .call(ACTION, c.list_tags_for_resource().resource_arn(arn).send())
        .await;
    call::observe(
        ACTION,
        r,
        &["PipelineNotFoundException", "ResourceNotFoundException"],
        |o| pairs(o.tags().iter().map(|t| (Some(t.key()), Some(t.value())))),
    )
}

/// CodeBuild BatchGetProjects (the project's tags).
pub async fn project_tags(
    ctx: &Ctx,
    c: &aws_sdk_codebuild::Client,
    name: &str,
) -> Observed<Vec<(String, String)>> {
    const ACTION: &str = "codebuild:BatchGetProjects";
    let r = ctx
        .call(ACTION, c.batch_get_projects().names(name).send())
        .await;
    call::observe(ACTION, r, &[], |o| {
        o.projects()
            .iter()
            .find(|p| p.name() == Some(name))
            .map(|p| pairs(p.tags().iter().map(|t| (t.key(), t.value()))))
    })
    .flatten()
}

/// S3 GetBucketTagging; a bucket without tags answers NoSuchTagSet.
pub async fn bucket_tags(
    ctx: &Ctx,
    c: &aws_sdk_s3::Client,
    bucket: &str,
) -> Observed<Vec<(String, String)>> {
    const ACTION: &str = "s3:GetBucketTagging";
    let r = ctx
        .call(ACTION, c.get_bucket_tagging().bucket(bucket).send())
        .await;
    match r {
        Err(e) if call::is_not_found(&e, &["NoSuchTagSet"]) => Observed::ok(Vec::new()),
        r => call::observe(ACTION, r, &["NoSuchBucket"], |o| {
            pairs(o.tag_set().iter().map(|t| (Some(t.key()), Some(t.value()))))
        }),
    }
}

/// KMS ListResourceTags.
pub async fn key_tags(
    ctx: &Ctx,
    c: &aws_sdk_kms::Client,
    arn: &str,
) -> Observed<Vec<(String, String)>> {
    const ACTION: &str = "kms:ListResourceTags";
    let r = ctx
        .call(ACTION, c.list_resource_tags().key_id(arn).send())
        .await;
    call::observe(ACTION, r, &["NotFoundException"], |o| {
        pairs(
            o.tags()
                .iter()
                .map(|t| (Some(t.tag_key()), Some(t.tag_value()))),
        )
    })
}

/// EventBridge ListTagsForResource.
pub async fn rule_tags(
    ctx: &Ctx,
    c: &aws_sdk_eventbridge::Client,
    arn: &str,
) -> Observed<Vec<(String, String)>> {
    const ACTION: &str = "events:ListTagsForResource";
    let r = ctx
        .call(ACTION, c.list_tags_for_resource().resource_arn(arn).send())
        .await;
    call::observe(ACTION, r, &["ResourceNotFoundException"], |o| {
        pairs(o.tags().iter().map(|t| (Some(t.key()), Some(t.value()))))
    })
}

/// CodeDeploy ListTagsForResource (applications and deployment groups).
pub async fn deploy_tags(
    ctx: &Ctx,
    c: &aws_sdk_codedeploy::Client,
    arn: &str,
) -> Observed<Vec<(String, String)>> {
    const ACTION: &str = "codedeploy:ListTagsForResource";
    let r = ctx
        .call(ACTION, c.list_tags_for_resource().resource_arn(arn).send())
        .await;
    let not_found = [
        "ApplicationDoesNotExistException",
        "DeploymentGroupDoesNotExistException",
    ];
    call::observe(ACTION, r, &not_found, |o| {
        pairs(o.tags().iter().map(|t| (t.key(), t.value())))
    })
}

/// CloudFormation DescribeStackResources by physical id: the stack resource
/// it is, absent when no stack manages it (CloudFormation answers a
/// ValidationError "Stack for ... does not exist").
pub async fn describe_by_physical_id(
    ctx: &Ctx,
    c: &aws_sdk_cloudformation::Client,
    physical_id: &str,
) -> Observed<StackRef> {
    let r = ctx
        .call(
            DESCRIBE_STACK_RESOURCES,
            c.describe_stack_resources()
                .physical_resource_id(physical_id)
                .send(),
        )
        .await;
    match r {
        Ok(o) => o
            .stack_resources()
            .iter()
            .find(|s| s.physical_resource_id() == Some(physical_id))
            .or_else(|| o.stack_resources().first())
            .and_then(|s| {
                Some(StackRef {
                    stack: s.stack_name()?.to_string(),
                    logical_id: s.logical_resource_id()?.to_string(),
                    source: DESCRIBE_STACK_RESOURCES.to_string(),
                })
            })
            .map(Observed::ok)
            .unwrap_or(Observed::Absent),
        Err(e) => {
            use aws_smithy_types::error::metadata::ProvideErrorMetadata;
            let unmanaged = e.code() == Some("ValidationError")
                && e.message().is_some_and(|m| m.contains("does not exist"));
            if unmanaged {
                Observed::Absent
            } else {
                Observed::Unknown {
                    error: call::read_error(DESCRIBE_STACK_RESOURCES, &e),
                }
            }
        }
    }
}

/// How one resource's tags are read, and its physical id.
enum Probe {
    Pipeline,
    Project(String),
    Bucket(String),
    Key,
    Rule,
    Deploy,
    /// No tag API that carries the stack tags: physical id lookup only.
    None,
}

/// One resource whose stack is asked for.
struct Subject {
    arn: String,
    /// The regions to ask (the resource's; every audited region for global ones).
    regions: Vec<String>,
    physical_id: String,
    probe: Probe,
}

fn arn_region(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(3)
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// Every collected resource (or those in `only`), with how to ask for its stack.
fn subjects(snapshot: &Snapshot, only: Option<&BTreeSet<String>>) -> Vec<Subject> {
    let r = &snapshot.resources;
    let wanted = |arn: &str| only.is_none_or(|o| o.contains(arn));
    let regional = |arn: &str| {
        arn_region(arn)
            .map(|x| vec![x])
            .unwrap_or_else(|| snapshot.regions.clone())
    };
    let mut out = Vec::new();
    for (arn, p) in &r.pipelines {
        if let (true, Some(p)) = (wanted(arn), p.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: regional(arn),
                physical_id: p.name.clone(),
                probe: Probe::Pipeline,
            });
        }
    }
    for (arn, p) in &r.build_projects {
        if let (true, Some(p)) = (wanted(arn), p.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: regional(arn),
                physical_id: p.name.clone(),
                probe: Probe::Project(p.name.clone()),
            });
        }
    }
    for (arn, b) in &r.buckets {
        if let (true, Some(b)) = (wanted(arn), b.value()) {
            // a bucket's ARN names no region: the stores that use it do
            let mut regions: Vec<String> = snapshot
                .pipelines
                .iter()
                .flat_map(|w| &w.artifact_stores)
                .filter(|s| s.bucket_arn == *arn)
                .map(|s| s.region.clone())
                .collect();
            regions.sort();
            regions.dedup();
            if regions.is_empty() {
                regions = snapshot.regions.clone();
            }
            out.push(Subject {
                arn: arn.clone(),
                regions,
                physical_id: b.name.clone(),
                probe: Probe::Bucket(b.name.clone()),
            });
        }
    }
    for (arn, k) in &r.keys {
        if let (true, Some(k)) = (wanted(arn), k.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: regional(arn),
                physical_id: k.key_id.clone(),
                probe: Probe::Key,
            });
        }
    }
    for (arn, e) in &r.event_rules {
        if let (true, Some(e)) = (wanted(arn), e.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: regional(arn),
                physical_id: if e.event_bus == "default" {
                    e.name.clone()
                } else {
                    format!("{}|{}", e.event_bus, e.name)
                },
                probe: Probe::Rule,
            });
        }
    }
    for (arn, a) in &r.deploy_applications {
        if let (true, Some(a)) = (wanted(arn), a.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: regional(arn),
                physical_id: a.name.clone(),
                probe: Probe::Deploy,
            });
        }
    }
    for (arn, g) in &r.deploy_groups {
        if let (true, Some(g)) = (wanted(arn), g.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: regional(arn),
                physical_id: g.name.clone(),
                probe: Probe::Deploy,
            });
        }
    }
    for (arn, repo) in &r.repositories {
        if let (true, Some(repo)) = (wanted(arn), repo.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: regional(arn),
                physical_id: repo.name.clone(),
                probe: Probe::None,
            });
        }
    }
    for (arn, role) in &r.roles {
        if let (true, Some(role)) = (wanted(arn), role.value()) {
            out.push(Subject {
                arn: arn.clone(),
                regions: snapshot.regions.clone(),
                physical_id: role.name.clone(),
                probe: Probe::None,
            });
        }
    }
    out
}

async fn tags_of(
    ctx: &Ctx,
    c: &StackClients,
    s: &Subject,
) -> Option<Observed<Vec<(String, String)>>> {
    Some(match &s.probe {
        Probe::Pipeline => pipeline_tags(ctx, &c.codepipeline, &s.arn).await,
        Probe::Project(name) => project_tags(ctx, &c.codebuild, name).await,
        Probe::Bucket(name) => bucket_tags(ctx, &c.s3, name).await,
        Probe::Key => key_tags(ctx, &c.kms, &s.arn).await,
        Probe::Rule => rule_tags(ctx, &c.events, &s.arn).await,
        Probe::Deploy => deploy_tags(ctx, &c.codedeploy, &s.arn).await,
        Probe::None => return None,
    })
}

async fn stack_of(
    ctx: &Ctx,
    clients: &BTreeMap<String, StackClients>,
    s: &Subject,
) -> Observed<StackRef> {
    // The tags first, in the resource's (first) region; a tag read that
    // fails only means asking CloudFormation, which has the last word.
    if let Some(c) = s.regions.first().and_then(|r| clients.get(r))
        && let Some(Observed::Ok { value }) = tags_of(ctx, c, s).await
        && let Some(found) = from_tags(&value)
    {
        return Observed::ok(found);
    }
    // Then the stack resource by physical id, region by region.
    let mut error: Option<ReadError> = None;
    for region in &s.regions {
        let Some(c) = clients.get(region) else {
            continue;
        };
        match describe_by_physical_id(ctx, &c.cloudformation, &s.physical_id).await {
            Observed::Ok { value } => return Observed::ok(value),
            Observed::Absent => {}
            Observed::Unknown { error: e } => error = Some(e),
        }
    }
    // Unknown is not "no stack": a lookup that failed stays unknown.
    match error {
        Some(error) => Observed::Unknown { error },
        None => Observed::Absent,
    }
}

/// The stack of each collected resource (or of those in `only`), by ARN,
/// with `clients` by region.
pub async fn read(
    ctx: &Ctx,
    clients: &BTreeMap<String, StackClients>,
    snapshot: &Snapshot,
    only: Option<&BTreeSet<String>>,
) -> BTreeMap<String, Observed<StackRef>> {
    let subjects = subjects(snapshot, only);
    let found = join_all(
        subjects
            .iter()
            .map(|s| async move { (s.arn.clone(), stack_of(ctx, clients, s).await) }),
    )
    .await;
    found.into_iter().collect()
}

/// Reads the stacks of a snapshot's resources (or of those in `only`)
/// with clients from `config`: the stacks by ARN, and the calls made.
pub async fn read_with_config(
    config: &SdkConfig,
    snapshot: &Snapshot,
    concurrency: usize,
    only: Option<&BTreeSet<String>>,
) -> (BTreeMap<String, Observed<StackRef>>, BTreeMap<String, u64>) {
    let clients: BTreeMap<String, StackClients> = snapshot
        .regions
        .iter()
        .map(|r| (r.clone(), StackClients::new(config, r)))
        .collect();
    let ctx = Ctx::new(concurrency, indicatif::ProgressBar::hidden());
    let stacks = read(&ctx, &clients, snapshot, only).await;
    (stacks, ctx.calls())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tags_name_the_stack() {
        let tags = vec![
            (STACK_NAME_TAG.to_string(), "infra".to_string()),
            ("team".to_string(), "x".to_string()),
            (LOGICAL_ID_TAG.to_string(), "ArtifactKey".to_string()),
        ];
        assert_eq!(
            from_tags(&tags),
            Some(StackRef {
                stack: "infra".into(),
                logical_id: "ArtifactKey".into(),
                source: "tags".into()
            })
        );
        assert_eq!(from_tags(&tags[..2]), None);
    }
}
