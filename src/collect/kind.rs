//! Resource kinds: one descriptor per kind of resource the pipelines point
//! at, and the one generic fetch that reads every kind.
//!
//! A descriptor ([`Kind`]) says how the kind's references are found (from
//! the pipelines' wiring or from resources already read), how they are read
//! (one call chain per resource, or in batches), where the results land in
//! [`Resources`], and how references inside a read value are resolved
//! without a call. [`PHASES`] registers every descriptor in the phase its
//! references become known in; [`collect_phase`] reads a phase's kinds
//! concurrently, each distinct resource once, under the run's concurrency
//! bound ([`Ctx`]).

use std::collections::BTreeMap;
use std::future::Future;

use futures::future::{BoxFuture, FutureExt, join_all};
use futures::stream::{FuturesUnordered, StreamExt};

use super::call::Ctx;
use super::clients::RegionClients;
use super::key_refs::KeyResolver;
use super::{
    cloudformation, codebuild, codecommit, codedeploy, connections, ec2, ecr, ecs, iam, kms,
    lambda, s3,
};
use crate::model::{Observed, PipelineWiring, ReadError, ReadErrorKind, Resources};

/// What a descriptor may look at to find references and resolve values.
pub struct Refs<'a> {
    /// The audited pipelines' wiring.
    pub pipelines: &'a [PipelineWiring],
    /// Everything read so far (the kinds of earlier phases).
    pub resources: &'a Resources,
    /// Key references, resolved through the listed aliases.
    pub keys: &'a KeyResolver<'a>,
    /// The audited regions, sorted.
    pub regions: &'a [String],
}

/// One resource to read: its ARN (the key it lands under), the region
/// whose clients read it, and what else the read needs (a name, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Target<D> {
    pub arn: String,
    pub region: String,
    pub detail: D,
}

/// A reference found by a descriptor.
pub enum Found<D, V> {
    /// A resource to read.
    Read(Target<D>),
    /// A resource whose state is known without a call (an alias that does
    /// not exist, say), recorded under this ARN.
    Known(String, Observed<V>),
}

/// Which clients read a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Only its own region's: a resource in a region that is not audited
    /// is unknown, naming the region to add.
    Regional,
    /// Its region's when that is audited, otherwise the first audited
    /// region's (S3 buckets, IAM roles and policies answer from anywhere).
    AnyRegion,
}

/// The description of one resource kind.
pub trait Kind: Sync {
    /// The model type of one resource.
    type Value: Send + 'static;
    /// What a read needs besides the ARN and region.
    type Detail: Send + Sync;
    /// The kind's [`Resources`] field, which is also its name in the
    /// snapshot JSON and in drift reports.
    const NAME: &'static str;
    /// The IAM action of the first read, named when it cannot be made.
    const ACTION: &'static str;
    /// Which clients read it.
    const REACH: Reach = Reach::Regional;

    /// Where its resources land.
    fn slot(resources: &mut Resources) -> &mut BTreeMap<String, Observed<Self::Value>>;

    /// Every reference to the kind, duplicates included (each ARN is read
    /// once; a later reference to an ARN replaces an earlier one).
    fn find(refs: &Refs<'_>) -> Vec<Found<Self::Detail, Self::Value>>;

    /// Reads the targets of one region: one result per target, keyed by its
    /// ARN. Use [`each`] for a kind read one resource at a time; a batched
    /// kind splits `targets` into its API's batches.
    fn read<'a>(
        ctx: &'a Ctx,
        clients: &'a RegionClients,
        targets: &'a [Target<Self::Detail>],
    ) -> impl Future<Output = Vec<(String, Observed<Self::Value>)>> + Send + 'a;

    /// Resolves references inside a value that was read (no call is made).
    fn settle(_refs: &Refs<'_>, _value: &mut Self::Value) {}
}

tokio::task_local! {
    /// How many reads [`each`] keeps under way at once: the run's
    /// concurrency, set around every [`Kind::read`].
    static WINDOW: usize;
}

/// Reads targets one by one, concurrently (each read still waits for the
/// run's concurrency bound). Only as many reads as calls may be in flight
/// are under way at once: a read's pending future holds its whole call
/// chain's state (kilobytes each), so building one per target up front
/// made the futures of a large account's roles the largest part of the
/// peak memory. Results come in the order of `targets`.
pub async fn each<'a, D, V, F>(
    targets: &'a [Target<D>],
    read: impl Fn(&'a Target<D>) -> F,
) -> Vec<(String, Observed<V>)>
where
    F: Future<Output = Observed<V>> + 'a,
{
    // Outside a read (a test calling it directly): every target at once.
    let window = WINDOW.try_with(|w| *w).unwrap_or(targets.len()).max(1);
    let mut next = targets.iter().enumerate();
    let mut pending = FuturesUnordered::new();
    for (i, t) in next.by_ref().take(window) {
        pending.push(tagged(i, &t.arn, read(t)));
    }
    let mut out = Vec::with_capacity(targets.len());
    while let Some(done) = pending.next().await {
        out.push(done);
        if let Some((i, t)) = next.next() {
            pending.push(tagged(i, &t.arn, read(t)));
        }
    }
    out.sort_unstable_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// A read's result with its place among the targets.
async fn tagged<V>(
    i: usize,
    arn: &str,
    read: impl Future<Output = Observed<V>>,
) -> (usize, (String, Observed<V>)) {
    let obs = read.await;
    (i, (arn.to_string(), obs))
}

/// Reads targets in batches of `size` with `batch` (the batch operation
/// being `action`), falling back to `single` for a batch that failed. One
/// target is read on its own (a batch saves nothing). The first batch goes
/// alone, so that an endpoint lacking the operation is learned from one
/// call ([`Ctx::batch_failed`]); the others then go concurrently, or one by
/// one without asking again.
pub async fn batched<'a, D, V, B, BF, S, SF>(
    ctx: &'a Ctx,
    action: &str,
    targets: &'a [Target<D>],
    size: usize,
    batch: B,
    single: S,
) -> Vec<(String, Observed<V>)>
where
    B: Fn(&'a [Target<D>]) -> BF,
    BF: Future<Output = Option<Vec<(String, Observed<V>)>>>,
    S: Fn(&'a Target<D>) -> SF + Copy,
    SF: Future<Output = Observed<V>> + 'a,
{
    if targets.len() < 2 || ctx.batch_unsupported(action) {
        return each(targets, single).await;
    }
    let mut chunks = targets.chunks(size.max(1));
    let mut out = Vec::with_capacity(targets.len());
    if let Some(first) = chunks.next() {
        match batch(first).await {
            Some(read) => out.extend(read),
            None => out.extend(each(first, single).await),
        }
    }
    let unsupported = ctx.batch_unsupported(action);
    let rest = join_all(chunks.map(|chunk| {
        let read = (!unsupported).then(|| batch(chunk));
        async move {
            match read {
                Some(read) => match read.await {
                    Some(read) => read,
                    None => each(chunk, single).await,
                },
                None => each(chunk, single).await,
            }
        }
    }))
    .await;
    out.extend(rest.into_iter().flatten());
    out
}

/// Puts the results of a kind into the snapshot's resources.
pub type Landing = Box<dyn FnOnce(&mut Resources) + Send>;

/// A kind with its types erased, so that kinds can be listed together.
pub trait Collect: Sync {
    /// The kind's name ([`Kind::NAME`]).
    fn name(&self) -> &'static str;

    /// Finds, reads and settles the kind's resources.
    fn collect<'a>(
        &'a self,
        ctx: &'a Ctx,
        clients: &'a BTreeMap<String, RegionClients>,
        refs: &'a Refs<'a>,
    ) -> BoxFuture<'a, Landing>;
}

impl<K: Kind> Collect for K {
    fn name(&self) -> &'static str {
        K::NAME
    }

    fn collect<'a>(
        &'a self,
        ctx: &'a Ctx,
        clients: &'a BTreeMap<String, RegionClients>,
        refs: &'a Refs<'a>,
    ) -> BoxFuture<'a, Landing> {
        async move {
            let mut known = Vec::new();
            let mut targets: BTreeMap<String, Target<K::Detail>> = BTreeMap::new();
            for found in K::find(refs) {
                match found {
                    Found::Read(t) => {
                        targets.insert(t.arn.clone(), t);
                    }
                    Found::Known(arn, obs) => known.push((arn, obs)),
                }
            }
            let mut by_region: BTreeMap<String, Vec<Target<K::Detail>>> = BTreeMap::new();
            for t in targets.into_values() {
                by_region.entry(t.region.clone()).or_default().push(t);
            }
            let first = clients.values().next();
            let read = join_all(by_region.iter().map(|(region, targets)| {
                let client = match K::REACH {
                    Reach::Regional => clients.get(region),
                    Reach::AnyRegion => clients.get(region).or(first),
                };
                async move {
                    match client {
                        Some(c) => {
                            WINDOW
                                .scope(ctx.concurrency(), K::read(ctx, c, targets))
                                .await
                        }
                        None => targets
                            .iter()
                            .map(|t| (t.arn.clone(), unaudited_region(region, K::ACTION)))
                            .collect(),
                    }
                }
            }))
            .await;
            let mut read: Vec<(String, Observed<K::Value>)> = read.into_iter().flatten().collect();
            for (_, obs) in &mut read {
                if let Observed::Ok { value } = obs {
                    K::settle(refs, value);
                }
            }
            let landing: Landing = Box::new(move |resources: &mut Resources| {
                let slot = K::slot(resources);
                slot.extend(known);
                slot.extend(read);
            });
            landing
        }
        .boxed()
    }
}

/// Every kind, in the phase its references become known in: the kinds the
/// pipeline declarations point at, then the EC2 instances and ECS services
/// the deployment actions and groups select, then the task definitions the
/// services run, then the roles (named by pipelines, projects, deployment
/// groups, trigger rules, the instances' profiles and the task
/// definitions) and the images' ECR repositories, then the managed
/// policies attached to the roles. The kinds of one phase are read
/// concurrently.
pub const PHASES: &[&[&dyn Collect]] = &[
    &[
        &codecommit::Repositories,
        &connections::Connections,
        &codebuild::Projects,
        &codedeploy::Applications,
        &codedeploy::Groups,
        &cloudformation::Stacks,
        &s3::Buckets,
        &s3::SourceBuckets,
        &kms::Keys,
        &lambda::Functions,
    ],
    &[&ec2::Targets, &codedeploy::Configs, &ecs::Services],
    &[&ecs::TaskDefinitions],
    &[&ecr::Repositories, &iam::Roles],
    &[&iam::ManagedPolicies],
];

/// Reads the kinds of one phase and lands them in `resources`.
pub async fn collect_phase(
    phase: &[&dyn Collect],
    ctx: &Ctx,
    clients: &BTreeMap<String, RegionClients>,
    refs: &Refs<'_>,
) -> Vec<Landing> {
    join_all(phase.iter().map(|k| k.collect(ctx, clients, refs))).await
}

/// A resource in a region that is not being audited cannot be read.
pub fn unaudited_region<T>(region: &str, action: &str) -> Observed<T> {
    Observed::Unknown {
        error: ReadError {
            kind: ReadErrorKind::Service,
            action: action.to_string(),
            code: None,
            message: format!(
                "region {region} is not among the audited regions (add --region {region})"
            ),
        },
    }
}

/// The region field of an ARN, or `fallback` when it has none.
pub fn region_of(arn: &str, fallback: &str) -> String {
    match arn.split(':').nth(3) {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => fallback.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resource_map_has_one_registered_kind() {
        // Pipelines and trigger rules are found by listing (phases 1 and 2),
        // every other map of `Resources` by a registered kind.
        let mut names: Vec<&str> = vec!["pipelines", "event_rules"];
        names.extend(PHASES.iter().flat_map(|p| p.iter().map(|k| k.name())));
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "a kind is registered twice");
        // the maps left out of the JSON while empty, each with one entry
        let mut all = Resources::default();
        all.ecs_services
            .insert("arn:x".to_string(), Observed::Absent);
        all.task_definitions
            .insert("arn:x".to_string(), Observed::Absent);
        all.image_repositories
            .insert("arn:x".to_string(), Observed::Absent);
        all.lambda_functions
            .insert("arn:x".to_string(), Observed::Absent);
        let mut fields: Vec<String> = match serde_json::to_value(all) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            other => panic!("resources do not serialize as an object: {other:?}"),
        };
        // field order, or sorted, depending on serde_json's features
        fields.sort();
        assert_eq!(names, fields);
    }

    #[test]
    fn each_kind_lands_in_its_own_map() {
        fn lands<K: Kind>() -> bool {
            let mut r = Resources::default();
            K::slot(&mut r).insert("arn:x".to_string(), Observed::Absent);
            serde_json::to_value(&r)
                .ok()
                .and_then(|v| v.get(K::NAME).cloned())
                .and_then(|m| m.get("arn:x").cloned())
                .is_some()
        }
        assert!(lands::<codecommit::Repositories>());
        assert!(lands::<connections::Connections>());
        assert!(lands::<codebuild::Projects>());
        assert!(lands::<codedeploy::Applications>());
        assert!(lands::<codedeploy::Groups>());
        assert!(lands::<cloudformation::Stacks>());
        assert!(lands::<ec2::Targets>());
        assert!(lands::<s3::Buckets>());
        assert!(lands::<s3::SourceBuckets>());
        assert!(lands::<kms::Keys>());
        assert!(lands::<iam::Roles>());
        assert!(lands::<iam::ManagedPolicies>());
        assert!(lands::<ecs::Services>());
        assert!(lands::<ecs::TaskDefinitions>());
        assert!(lands::<ecr::Repositories>());
        assert!(lands::<lambda::Functions>());
    }

    #[test]
    fn region_is_read_from_arns() {
        assert_eq!(
            region_of("arn:aws:codebuild:eu-west-1:1:project/x", "us-east-1"),
            "eu-west-1"
        );
        assert_eq!(region_of("arn:aws:s3:::bucket", "us-east-1"), "us-east-1");
    }
}
