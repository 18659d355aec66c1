//! Resource kinds: one descriptor per kind of resource the pipelines point
//! at, the one registry of them, and the one generic fetch that reads every
//! kind.
//!
//! A kind's [`Facts`] are everything the rest of the tool needs to know
//! about it: where its resources land in [`Resources`], its CloudFormation
//! and Terraform types, the rule variables that hold it, the permission
//! that reads it, which of its fields may be unknown, and what failure may
//! hide it from drift. A kind read by reference adds a [`Kind`]: how its
//! references are found (from the pipelines' wiring or from resources
//! already read), how they are read (one call chain per resource, or in
//! batches), and how references inside a read value are resolved without
//! a call. The `registry!` list below names every kind once; the phases
//! ([`readers`]), the error visitor, the engine's binding, drift's blind
//! spots and the IaC type lookups all iterate it. [`collect_phase`] reads
//! a phase's kinds concurrently, each distinct resource once, under the
//! run's concurrency bound ([`Ctx`]).

use std::collections::BTreeMap;
use std::future::Future;

use futures::future::{BoxFuture, FutureExt, join_all};
use futures::stream::{FuturesUnordered, StreamExt};

use super::call::Ctx;
use super::clients::RegionClients;
use super::key_refs::KeyResolver;
use super::{
    cloudformation, codebuild, codecommit, codedeploy, codepipeline, connections, ec2, ecr, ecs,
    eventbridge, iam, kms, lambda, s3,
};
use crate::model::{Observed, PipelineWiring, ReadError, ReadErrorKind, Resources, Snapshot};

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
    /// IAM's bulk read: the IAM reads take roles and policies from its
    /// directory when it was chosen.
    pub iam: &'a super::iam_details::BulkRead,
}

/// One resource to read: its ARN (the key it lands under), the region
/// whose clients read it, and what else the read needs (a name, say).
#[derive(Debug, Clone, PartialEq)]
pub struct ToRead<D> {
    pub arn: String,
    pub region: String,
    pub detail: D,
}

/// A reference found by a descriptor.
pub enum Found<D, V> {
    /// A resource to read.
    Read(ToRead<D>),
    /// A resource whose state is known without a call (an alias that does
    /// not exist, say), recorded under this ARN.
    Known(String, Observed<V>),
}

/// Which clients read a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locality {
    /// Only its own region's: a resource in a region that is not audited
    /// is unknown, naming the region to add.
    Regional,
    /// Its region's when that is audited, otherwise the first audited
    /// region's (S3 buckets, IAM roles and policies answer from anywhere).
    AnyRegion,
}

/// The phase a kind's references become known in, in the order of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Found by listing each region (pipelines, trigger rules), before any
    /// kind is read by reference.
    Listed,
    /// What the pipeline declarations point at.
    Declared,
    /// What the deployment actions and groups select: EC2 instances, ECS
    /// services, deployment configurations.
    Selected,
    /// The task definitions the services run.
    Running,
    /// The roles (named by pipelines, projects, groups, trigger rules, the
    /// instances' profiles and the task definitions) and the images' ECR
    /// repositories.
    Roles,
    /// The managed policies attached to the roles.
    Policies,
}

impl Phase {
    /// The phases whose kinds are read by reference, in order.
    pub const READ: [Phase; 5] = [
        Phase::Declared,
        Phase::Selected,
        Phase::Running,
        Phase::Roles,
        Phase::Policies,
    ];

    /// The phase IAM's read plan is chosen before (the declared kinds have
    /// named the pipelines' roles by then) and its bulk read runs alongside
    /// (answering the instances' profiles).
    pub const IAM_PLAN: Phase = Phase::Selected;
}

/// How the rule engine binds a kind's resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Each resource once, whole, by ARN.
    Whole,
    /// A readable resource is bound per pipeline from the model (a trigger
    /// rule: its targets at that pipeline); by ARN only its state.
    PerPipeline,
}

/// A key reference inside a resource: the path of the field holding the
/// resolved key ARN, the reference as written, and whether it resolved.
pub type KeyRef<'a> = (Vec<&'static str>, &'a str, bool);

/// Everything known about one kind of resource, declared once: where it
/// lands, how infrastructure as code and rules name it, which permission
/// reads it, which fields may be unknown, and what may hide it.
pub trait Facts: Sync + 'static {
    /// The model type of one resource.
    type Value: serde::Serialize + Send + Sync + 'static;
    /// The kind's [`Resources`] field, which is also its name in the
    /// snapshot JSON and in drift reports.
    const NAME: &'static str;
    /// The IAM action of the first read (or the listing), named when it
    /// cannot be made; granted by `examples/iam-audit-policy.json`.
    const ACTION: &'static str;
    /// The phase its references become known in.
    const PHASE: Phase;
    /// Its CloudFormation resource type, where templates are looked up by
    /// type (drift's `managed_by`).
    const CLOUDFORMATION: Option<&'static str>;
    /// Its Terraform resource type (`aws_*`).
    const TERRAFORM: Option<&'static str>;
    /// The rule variables whose values hold its resources as bound by ARN
    /// (empty when the engine builds its values from the model per
    /// pipeline); each is one of [`crate::rules::VARIABLES`].
    const VARIABLES: &'static [&'static str];
    /// How the engine binds it.
    const BINDING: Binding = Binding::Whole;

    /// Its resources.
    fn map(resources: &Resources) -> &BTreeMap<String, Observed<Self::Value>>;

    /// Where its resources land.
    fn slot(resources: &mut Resources) -> &mut BTreeMap<String, Observed<Self::Value>>;

    /// The read errors recorded on fields of a resource that was read.
    fn field_errors(_value: &Self::Value) -> Vec<&ReadError> {
        Vec::new()
    }

    /// The key references inside a resource ([`KeyRef`]).
    fn key_refs(_value: &Self::Value) -> Vec<KeyRef<'_>> {
        Vec::new()
    }

    /// Why a resource of the kind at `arn` may be missing from `s` without
    /// having gone: the IAM action whose failure kept it from being
    /// collected. A resource is collected when a listing finds it or a
    /// resource that was read points at it, so one that could not be read
    /// may hide any resource of the kinds it points at. By default: the
    /// pipelines, which point at every kind.
    fn hidden_by(s: &Snapshot, _arn: &str) -> Option<String> {
        hidden::pipelines(s)
    }
}

/// The failures that may hide resources ([`Facts::hidden_by`]).
pub mod hidden {
    use std::collections::BTreeMap;

    use crate::model::{Listing, Observed, Snapshot};

    /// The action of a failed listing of `scope`, in `region` (any region
    /// when `None`).
    pub fn listing(s: &Snapshot, scope: Listing, region: Option<&str>) -> Option<String> {
        s.scope_errors
            .iter()
            .find(|e| e.scope == scope && region.is_none_or(|r| e.region == r))
            .map(|e| e.error.action.clone())
    }

    /// The action that failed on some resource of `map`.
    pub fn unknown<T>(map: &BTreeMap<String, Observed<T>>) -> Option<String> {
        map.values()
            .find_map(|o| o.error().map(|e| e.action.clone()))
    }

    /// A pipeline listing or declaration that failed.
    pub fn pipelines(s: &Snapshot) -> Option<String> {
        listing(s, Listing::Pipelines, None).or_else(|| unknown(&s.resources.pipelines))
    }

    /// The region field of an ARN (empty when it has none).
    pub fn region(arn: &str) -> &str {
        arn.split(':').nth(3).unwrap_or("")
    }
}

/// How a kind is read: the references to it and the reads.
pub trait Kind: Facts {
    /// What a read needs besides the ARN and region.
    type Detail: Send + Sync;
    /// Which clients read it.
    const LOCALITY: Locality = Locality::Regional;

    /// Every reference to the kind, duplicates included (each ARN is read
    /// once; a later reference to an ARN replaces an earlier one).
    fn find(refs: &Refs<'_>) -> Vec<Found<Self::Detail, Self::Value>>;

    /// Reads the targets of one region: one result per target, keyed by its
    /// ARN. Use [`each`] for a kind read one resource at a time; a batched
    /// kind splits `targets` into its API's batches. `refs` holds what a
    /// read may consult besides its targets (IAM's bulk read).
    fn read<'a>(
        ctx: &'a Ctx,
        clients: &'a RegionClients,
        refs: &'a Refs<'a>,
        targets: &'a [ToRead<Self::Detail>],
    ) -> impl Future<Output = Vec<(String, Observed<Self::Value>)>> + Send + 'a;

    /// Resolves references inside a value that was read (no call is made).
    fn settle(_refs: &Refs<'_>, _value: &mut Self::Value) {}
}

/// Code run for every kind with its types ([`for_each`]).
pub trait Visit {
    fn visit<F: Facts>(&mut self);
}

/// A kind's facts as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub name: &'static str,
    pub action: &'static str,
    pub phase: Phase,
    pub cloudformation: Option<&'static str>,
    pub terraform: Option<&'static str>,
    pub variables: &'static [&'static str],
}

/// Every kind's facts, in registration order.
pub fn all() -> Vec<About> {
    struct List(Vec<About>);
    impl Visit for List {
        fn visit<F: Facts>(&mut self) {
            self.0.push(About {
                name: F::NAME,
                action: F::ACTION,
                phase: F::PHASE,
                cloudformation: F::CLOUDFORMATION,
                terraform: F::TERRAFORM,
                variables: F::VARIABLES,
            });
        }
    }
    let mut l = List(Vec::new());
    for_each(&mut l);
    l.0
}

/// The facts of the kind named `name` (its [`Resources`] field).
pub fn about(name: &str) -> Option<About> {
    all().into_iter().find(|k| k.name == name)
}

/// Calls `f` for every read error recorded on a resource or one of its
/// fields, kind by kind in registration order.
pub fn visit_errors(resources: &Resources, f: &mut dyn FnMut(&str, &ReadError)) {
    struct Errors<'a, 'f> {
        resources: &'a Resources,
        f: &'f mut dyn FnMut(&str, &ReadError),
    }
    impl Visit for Errors<'_, '_> {
        fn visit<F: Facts>(&mut self) {
            for (arn, obs) in F::map(self.resources) {
                match obs {
                    Observed::Unknown { error } => (self.f)(arn, error),
                    Observed::Ok { value } => {
                        for e in F::field_errors(value) {
                            (self.f)(arn, e);
                        }
                    }
                    Observed::Absent => {}
                }
            }
        }
    }
    for_each(&mut Errors { resources, f });
    // the approval rule templates of a repository: a list per repository,
    // read after the principals, no kind of its own
    for (arn, obs) in &resources.approval_templates {
        if let Observed::Unknown { error } = obs {
            f(arn, error);
        }
    }
}

/// Why a resource of the kind `name` at `arn` may be missing from `s`
/// ([`Facts::hidden_by`]; for a map that is no kind, the pipelines).
pub fn hidden_by(s: &Snapshot, name: &str, arn: &str) -> Option<String> {
    struct Hidden<'a> {
        s: &'a Snapshot,
        name: &'a str,
        arn: &'a str,
        out: Option<Option<String>>,
    }
    impl Visit for Hidden<'_> {
        fn visit<F: Facts>(&mut self) {
            if self.out.is_none() && F::NAME == self.name {
                self.out = Some(F::hidden_by(self.s, self.arn));
            }
        }
    }
    let mut h = Hidden {
        s,
        name,
        arn,
        out: None,
    };
    for_each(&mut h);
    h.out.unwrap_or_else(|| hidden::pipelines(s))
}

/// The one registration of every kind, in the order errors are reported
/// in: a kind `listed` from each region, or `read` by reference (its
/// reader is in [`READERS`]).
macro_rules! registry {
    ($($how:ident $kind:path),* $(,)?) => {
        /// Runs `v` for every kind, in registration order.
        pub fn for_each(v: &mut impl Visit) {
            $(v.visit::<$kind>();)*
        }

        /// Every kind read by reference, in registration order (`None`
        /// for a listed kind); each is read in its [`Facts::PHASE`]
        /// ([`readers`]).
        pub const READERS: &[Option<&dyn Collect>] = &[$(registry!(@reader $how $kind)),*];
    };
    (@reader listed $kind:path) => { None };
    (@reader read $kind:path) => { Some(&$kind) };
}

registry! {
    listed codepipeline::Pipelines,
    read codecommit::Repositories,
    read connections::Connections,
    read s3::SourceBuckets,
    read codebuild::Projects,
    read codedeploy::Applications,
    read codedeploy::Groups,
    read codedeploy::Configs,
    read ec2::Instances,
    listed eventbridge::Rules,
    read cloudformation::Stacks,
    read s3::Buckets,
    read kms::Keys,
    read iam::Roles,
    read iam::ManagedPolicies,
    read ecs::Services,
    read ecs::TaskDefinitions,
    read ecr::Repositories,
    read lambda::Functions,
}

/// The kinds read in `phase`; they are read concurrently.
pub fn readers(phase: Phase) -> Vec<&'static dyn Collect> {
    READERS
        .iter()
        .flatten()
        .copied()
        .filter(|k| k.phase() == phase)
        .collect()
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
    targets: &'a [ToRead<D>],
    read: impl Fn(&'a ToRead<D>) -> F,
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
    targets: &'a [ToRead<D>],
    size: usize,
    batch: B,
    single: S,
) -> Vec<(String, Observed<V>)>
where
    B: Fn(&'a [ToRead<D>]) -> BF,
    BF: Future<Output = Option<Vec<(String, Observed<V>)>>>,
    S: Fn(&'a ToRead<D>) -> SF + Copy,
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
    /// The kind's name ([`Facts::NAME`]).
    fn name(&self) -> &'static str;

    /// The phase it is read in ([`Facts::PHASE`]).
    fn phase(&self) -> Phase;

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

    fn phase(&self) -> Phase {
        K::PHASE
    }

    fn collect<'a>(
        &'a self,
        ctx: &'a Ctx,
        clients: &'a BTreeMap<String, RegionClients>,
        refs: &'a Refs<'a>,
    ) -> BoxFuture<'a, Landing> {
        async move {
            let mut known = Vec::new();
            let mut targets: BTreeMap<String, ToRead<K::Detail>> = BTreeMap::new();
            for found in K::find(refs) {
                match found {
                    Found::Read(t) => {
                        targets.insert(t.arn.clone(), t);
                    }
                    Found::Known(arn, obs) => known.push((arn, obs)),
                }
            }
            let mut by_region: BTreeMap<String, Vec<ToRead<K::Detail>>> = BTreeMap::new();
            for t in targets.into_values() {
                by_region.entry(t.region.clone()).or_default().push(t);
            }
            let first = clients.values().next();
            let read = join_all(by_region.iter().map(|(region, targets)| {
                let client = match K::LOCALITY {
                    Locality::Regional => clients.get(region),
                    Locality::AnyRegion => clients.get(region).or(first),
                };
                async move {
                    match client {
                        Some(c) => {
                            WINDOW
                                .scope(ctx.concurrency(), K::read(ctx, c, refs, targets))
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
mod tests;
