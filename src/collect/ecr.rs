//! ECR: the private repositories of the images the deployed task
//! definitions run (DescribeRepositories, up to 100 names of one registry a
//! call), with each repository's policy (GetRepositoryPolicy).

use std::collections::BTreeMap;

use aws_config::retry::RetryConfig;
use aws_sdk_ecr::Client;
use aws_sdk_ecr::types::Repository;
use futures::future::join_all;

use super::call::{Ctx, observe, read_error};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, batched, each};
use crate::model::{ImageRef, ImageRepository, Observed, PolicyText, ReadError, Resources};

/// How many names one DescribeRepositories call takes.
const BATCH_SIZE: usize = 100;
const DESCRIBE: &str = "ecr:DescribeRepositories";
const POLICY: &str = "ecr:GetRepositoryPolicy";
const NOT_FOUND: &[&str] = &["RepositoryNotFoundException"];

/// The ECR repositories of the deployed images.
pub struct Repositories;

impl Facts for Repositories {
    type Value = ImageRepository;
    const NAME: &'static str = "image_repositories";
    const ACTION: &'static str = DESCRIBE;
    const PHASE: Phase = Phase::Roles;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = Some("aws_ecr_repository");
    const VARIABLES: &'static [&'static str] = &["ecs_services", "images"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<ImageRepository>> {
        &r.image_repositories
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<ImageRepository>> {
        &mut r.image_repositories
    }

    fn field_errors(r: &ImageRepository) -> Vec<&ReadError> {
        r.policy.error().into_iter().collect()
    }
}

impl Kind for Repositories {
    /// The registry (account) id and the repository name.
    type Detail = (String, String);

    fn find(refs: &Refs<'_>) -> Vec<Found<(String, String), ImageRepository>> {
        let partition = refs
            .pipelines
            .first()
            .and_then(|w| w.arn.split(':').nth(1))
            .unwrap_or("aws");
        refs.resources
            .task_definitions
            .values()
            .filter_map(Observed::value)
            .flat_map(|td| td.containers.iter())
            .filter_map(|c| {
                let image = ImageRef::parse(&c.image, partition);
                Some(Found::Read(ToRead {
                    arn: image.repository_arn?,
                    region: image.region?,
                    detail: (image.registry_id?, image.repository_name),
                }))
            })
            .collect()
    }

    async fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<(String, String)>],
    ) -> Vec<(String, Observed<ImageRepository>)> {
        let mut by_registry: BTreeMap<&str, Vec<ToRead<(String, String)>>> = BTreeMap::new();
        for t in targets {
            by_registry
                .entry(t.detail.0.as_str())
                .or_default()
                .push(t.clone());
        }
        let reads = by_registry.into_iter().map(|(registry, repos)| async move {
            let described = batched(
                ctx,
                DESCRIBE,
                &repos,
                BATCH_SIZE,
                |chunk| describe_batch(ctx, &c.ecr, registry, chunk),
                |t| describe_one(ctx, &c.ecr, t),
            )
            .await;
            // the policy of each repository that exists
            let policies = each(&repos, |t| {
                let exists = described
                    .iter()
                    .any(|(arn, o)| *arn == t.arn && matches!(o, Observed::Ok { .. }));
                async move {
                    if exists {
                        get_policy(ctx, &c.ecr, &t.detail.0, &t.detail.1).await
                    } else {
                        Observed::Absent
                    }
                }
            })
            .await;
            let mut policies: BTreeMap<String, Observed<PolicyText>> =
                policies.into_iter().collect();
            described
                .into_iter()
                .map(|(arn, obs)| {
                    let obs = obs.map(|mut r| {
                        if let Some(p) = policies.remove(&arn) {
                            r.policy = p;
                        }
                        r
                    });
                    (arn, obs)
                })
                .collect::<Vec<_>>()
        });
        join_all(reads).await.into_iter().flatten().collect()
    }
}

fn repository(t: &ToRead<(String, String)>, r: &Repository) -> ImageRepository {
    ImageRepository {
        name: t.detail.1.clone(),
        arn: t.arn.clone(),
        registry_id: r.registry_id().map(str::to_string),
        tag_mutability: r.image_tag_mutability().map(|m| m.as_str().to_string()),
        tag_mutability_exclusions: r
            .image_tag_mutability_exclusion_filters()
            .iter()
            .map(|f| f.filter().to_string())
            .collect(),
        scan_on_push: r.image_scanning_configuration().map(|c| c.scan_on_push()),
        // read next
        policy: Observed::Absent,
    }
}

/// No retry for a batch call: a failed batch is read one by one, with retries.
fn no_retry() -> aws_sdk_ecr::config::Builder {
    aws_sdk_ecr::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// Reads up to 100 repositories of one registry in one call; `None` when
/// the call failed (AWS fails the whole call when one name does not exist:
/// they are then read one by one, which tells which).
async fn describe_batch(
    ctx: &Ctx,
    client: &Client,
    registry: &str,
    targets: &[ToRead<(String, String)>],
) -> Option<Vec<(String, Observed<ImageRepository>)>> {
    let req = client
        .describe_repositories()
        .registry_id(registry)
        .set_repository_names(Some(targets.iter().map(|t| t.detail.1.clone()).collect()))
        .customize()
        .config_override(no_retry());
    let out = match ctx.call(DESCRIBE, req.send()).await {
        Ok(out) => out,
        Err(e) => {
            ctx.batch_failed(DESCRIBE, &read_error(DESCRIBE, &e));
            return None;
        }
    };
    let mut read = Vec::with_capacity(targets.len());
    for t in targets {
        let found = out
            .repositories()
            .iter()
            .find(|r| r.repository_name() == Some(t.detail.1.as_str()));
        let obs = match found {
            Some(r) => Observed::ok(repository(t, r)),
            None => describe_one(ctx, client, t).await,
        };
        read.push((t.arn.clone(), obs));
    }
    Some(read)
}

/// Reads one repository.
async fn describe_one(
    ctx: &Ctx,
    client: &Client,
    t: &ToRead<(String, String)>,
) -> Observed<ImageRepository> {
    let result = ctx
        .call(
            DESCRIBE,
            client
                .describe_repositories()
                .registry_id(&t.detail.0)
                .repository_names(&t.detail.1)
                .send(),
        )
        .await;
    observe(DESCRIBE, result, NOT_FOUND, |out| {
        out.repositories()
            .iter()
            .find(|r| r.repository_name() == Some(t.detail.1.as_str()))
            .map(|r| repository(t, r))
    })
    .flatten()
}

/// Reads a repository's policy: absent when it has none.
async fn get_policy(
    ctx: &Ctx,
    client: &Client,
    registry: &str,
    name: &str,
) -> Observed<PolicyText> {
    let result = ctx
        .call(
            POLICY,
            client
                .get_repository_policy()
                .registry_id(registry)
                .repository_name(name)
                .send(),
        )
        .await;
    observe(
        POLICY,
        result,
        &[
            "RepositoryPolicyNotFoundException",
            "RepositoryNotFoundException",
        ],
        |out| out.policy_text().map(PolicyText::parse),
    )
    .flatten()
}
