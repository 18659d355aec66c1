//! Collection: reads every audited pipeline and everything it wires to into a
//! [`Snapshot`]. One module per AWS service, each describing the resource
//! kinds it reads ([`kind::Kind`]); `wiring` resolves a declaration into
//! ARNs, [`key_refs`] resolves key references; this module orchestrates.
//!
//! The run goes in phases so that each distinct resource is fetched once,
//! however many pipelines share it:
//! 1. identity (STS), the regions (`all-enabled`: Account ListRegions), then
//!    per region, concurrently: the pipeline list, the
//!    rules of the default bus, and the KMS aliases;
//! 2. every selected pipeline's declaration, resolved into its wiring, and
//!    concurrently the targets of the rules (of those that target an
//!    audited pipeline, when looking them up by target is cheaper);
//! 3. the registered kinds ([`kind::readers`]), phase by phase: the distinct
//!    repositories, build projects (batched), deploy applications and
//!    groups, CloudFormation stacks, buckets and keys the declarations
//!    point at; then the EC2
//!    instances the deployment groups select (DescribeInstances once per
//!    region, Auto Scaling groups batched) with their profiles' roles; then
//!    the distinct roles (pipeline, action, build, deploy, trigger and
//!    instance roles); then the distinct managed policies attached to those
//!    roles. IAM is read in bulk when that takes fewer calls
//!    ([`iam_details`]): the bulk read starts with the second phase, and the
//!    later IAM reads take their values from it.
//!
//! Every call goes through [`call::Ctx`], which bounds concurrency across
//! services and counts calls; throttling is retried by the SDK with backoff.
//! A failure on one resource is recorded on that resource; only a failure to
//! establish the caller's identity aborts the run.

pub mod account;
pub mod call;
pub mod clients;
pub mod cloudformation;
pub mod codebuild;
pub mod codecommit;
pub mod codedeploy;
pub mod codepipeline;
pub mod connections;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod errors;
pub mod eventbridge;
pub mod iam;
pub mod iam_details;
pub mod key_refs;
pub mod kind;
pub mod kms;
pub mod lambda;
pub mod linked;
pub mod principals;
pub mod s3;
pub mod stacks;
pub mod targets;
pub mod webhooks;
pub mod wiring;

use std::collections::BTreeMap;
use std::io::IsTerminal;

use aws_types::SdkConfig;
use aws_types::region::Region;
use futures::future::join_all;
use globset::{Glob, GlobSet, GlobSetBuilder};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::{Listing, Observed, ReadError, ScopeError, Snapshot};
use call::Ctx;
use clients::RegionClients;
use key_refs::{Ids, KeyResolver};
use kms::AliasMap;

/// What to collect and how.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// Regions to audit; empty means the configured default region.
    pub regions: Vec<String>,
    /// Pipeline name globs; empty means every pipeline.
    pub pipelines: Vec<String>,
    /// API calls in flight at once, across services.
    pub concurrency: usize,
    /// Show a progress spinner on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    /// The profile named on the command line, for messages about credentials.
    pub profile: Option<String>,
    /// How IAM roles and policies are read.
    pub iam_read: iam_details::IamRead,
    /// Also read what the account-level checks need: every build project
    /// of the audited regions that has a webhook, and the regions' source
    /// credentials ([`webhooks`]).
    pub account_checks: bool,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            regions: Vec::new(),
            pipelines: Vec::new(),
            concurrency: 16,
            progress: false,
            profile: None,
            iam_read: iam_details::IamRead::Auto,
            account_checks: false,
        }
    }
}

/// Failures that stop a collection before it starts.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// Bad options (no region, a bad glob).
    #[error("{0}")]
    Config(String),
    /// The caller's identity could not be established.
    #[error("cannot identify the AWS account (sts:GetCallerIdentity): {0}")]
    Credentials(String),
    /// sts:GetCallerIdentity failed; a failure to load credentials is
    /// reported as such (no request was made).
    #[error("{}", identity_line(.0))]
    Identity(Box<errors::AwsFailure>),
}

fn identity_line(f: &errors::AwsFailure) -> String {
    if f.loading_credentials {
        f.summary.clone()
    } else {
        format!("cannot identify the AWS account (sts:GetCallerIdentity): {f}")
    }
}

impl CollectError {
    /// What to do about it, on one line, when there is advice to give.
    pub fn hint(&self) -> Option<&str> {
        match self {
            CollectError::Identity(f) => f.hint.as_deref(),
            _ => None,
        }
    }

    /// The message for a person: the failure on one line, and the hint on a
    /// second one when there is one.
    pub fn user_message(&self) -> String {
        match self.hint() {
            Some(h) => format!("{self}\n{h}"),
            None => self.to_string(),
        }
    }
}

/// The `--region` value that stands for every region enabled in the account.
pub const ALL_ENABLED: &str = "all-enabled";

/// Collects a snapshot with clients derived from `base` (one per region).
pub async fn collect_with_config(
    base: &SdkConfig,
    opts: &CollectOptions,
) -> Result<Snapshot, CollectError> {
    collect_account(base, opts, None).await
}

/// As [`collect_with_config`]; with `expect_account`, the run stops with a
/// credentials error unless the caller's identity is in that account (a
/// safeguard when acting through an assumed role). The phases are the
/// functions below, in order.
pub async fn collect_account(
    base: &SdkConfig,
    opts: &CollectOptions,
    expect_account: Option<&str>,
) -> Result<Snapshot, CollectError> {
    let home = home_region(base, opts)?;
    let filter = pipeline_filter(&opts.pipelines)?;
    let home_config = base.to_builder().region(Region::new(home.clone())).build();
    let ctx = Ctx::new(opts.concurrency, progress_bar(opts.progress));
    let taken_at = call::timestamp(&aws_smithy_types::DateTime::from(
        std::time::SystemTime::now(),
    ));

    // Phase 1: identity, the regions, then listings per region.
    let (account, partition) = identify(&ctx, &home_config, opts, expect_account).await?;
    let regions = audited_regions(&ctx, &home_config, opts, &home).await?;
    let clients: BTreeMap<String, RegionClients> = regions
        .iter()
        .map(|r| {
            let cfg = base.to_builder().region(Region::new(r.clone())).build();
            (r.clone(), RegionClients::new(&cfg))
        })
        .collect();
    let ids = Ids {
        partition: &partition,
        account: &account,
    };
    let mut snapshot = Snapshot::new(account.clone(), regions.clone(), taken_at);
    let listed = list_regions(&ctx, &clients, filter.as_ref(), &mut snapshot).await;
    let resolver = KeyResolver {
        ids,
        aliases: &listed.aliases,
    };

    // Phase 2: pipeline declarations, and the targets of the trigger rules.
    read_declarations(
        &ctx,
        &clients,
        &resolver,
        listed.selected,
        listed.rules,
        &mut snapshot,
    )
    .await;

    // Phases 3 to 5: every kind the declarations point at.
    read_kinds(&ctx, &clients, &resolver, &regions, opts, &mut snapshot).await;

    read_release_paths(&ctx, &clients, &mut snapshot).await;

    ctx.progress().finish_and_clear();
    snapshot.api_calls = ctx.calls();
    Ok(snapshot)
}

/// The region of the account-wide calls (STS, Account, IAM): the first
/// --region, else the configuration's (us-east-1 for `all-enabled`
/// without one); the regions given checked for their form.
fn home_region(base: &SdkConfig, opts: &CollectOptions) -> Result<String, CollectError> {
    let all_enabled = opts.regions.iter().any(|r| r == ALL_ENABLED);
    if all_enabled && opts.regions.len() > 1 {
        return Err(CollectError::Config(format!(
            "--region {ALL_ENABLED} cannot be combined with named regions"
        )));
    }
    let home = match opts.regions.first() {
        Some(r) if !all_enabled => Some(r.clone()),
        _ => base.region().map(|r| r.to_string()),
    };
    let home = match (home, all_enabled) {
        (Some(h), _) => h,
        (None, true) => "us-east-1".to_string(),
        (None, false) => {
            return Err(CollectError::Config(
                "no AWS region: pass --region or set AWS_REGION / a profile region".to_string(),
            ));
        }
    };
    for r in opts.regions.iter().chain(std::iter::once(&home)) {
        if r != ALL_ENABLED && !is_region_name(r) {
            return Err(CollectError::Config(format!(
                "{r:?} is not an AWS region name (like us-east-1)"
            )));
        }
    }
    Ok(home)
}

/// The caller's account and partition (sts:GetCallerIdentity), checked
/// against the account expected.
async fn identify(
    ctx: &Ctx,
    home_config: &SdkConfig,
    opts: &CollectOptions,
    expect_account: Option<&str>,
) -> Result<(String, String), CollectError> {
    let ident = ctx
        .call(
            "sts:GetCallerIdentity",
            aws_sdk_sts::Client::new(home_config)
                .get_caller_identity()
                .send(),
        )
        .await
        .map_err(|e| {
            let reach = errors::Reach::of(home_config, opts.profile.as_deref());
            let failure = errors::classify("sts:GetCallerIdentity", &e, &reach);
            tracing::info!("sts:GetCallerIdentity failed: {}", failure.chain);
            CollectError::Identity(Box::new(failure))
        })?;
    let account = ident
        .account()
        .ok_or_else(|| CollectError::Credentials("the response named no account".to_string()))?
        .to_string();
    if let Some(expected) = expect_account
        && expected != account
    {
        return Err(CollectError::Credentials(format!(
            "expected to act in account {expected}, but the credentials are of account {account}"
        )));
    }
    let partition = ident
        .arn()
        .and_then(|a| a.split(':').nth(1))
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
        .to_string();
    Ok((account, partition))
}

/// The audited regions, sorted: those given, the account's enabled ones
/// for `all-enabled` (Account ListRegions), else the home region.
async fn audited_regions(
    ctx: &Ctx,
    home_config: &SdkConfig,
    opts: &CollectOptions,
    home: &str,
) -> Result<Vec<String>, CollectError> {
    let all_enabled = opts.regions.iter().any(|r| r == ALL_ENABLED);
    let mut regions: Vec<String> = if all_enabled {
        account::enabled_regions(ctx, &aws_sdk_account::Client::new(home_config))
            .await
            .map_err(|e| {
                CollectError::Config(format!(
                    "--region {ALL_ENABLED}: cannot list the account's enabled regions ({}: {}{}); pass the regions with --region instead",
                    e.action,
                    e.code.as_deref().map(|c| format!("{c}: ")).unwrap_or_default(),
                    e.message
                ))
            })?
    } else if opts.regions.is_empty() {
        vec![home.to_string()]
    } else {
        opts.regions.clone()
    };
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        return Err(CollectError::Config("no region to audit".to_string()));
    }
    Ok(regions)
}

/// What the first phase listed in each region.
struct Listed {
    /// The pipelines the globs select: (region, name).
    selected: Vec<(String, String)>,
    /// The rules of each region's default bus.
    rules: Vec<(String, Vec<aws_sdk_eventbridge::types::Rule>)>,
    /// The KMS aliases of each region.
    aliases: BTreeMap<String, Result<AliasMap, ReadError>>,
}

/// Lists, per region and concurrently, the pipelines, the rules of the
/// default bus and the KMS aliases; a listing that fails is a scope error
/// of the snapshot.
async fn list_regions(
    ctx: &Ctx,
    clients: &BTreeMap<String, RegionClients>,
    filter: Option<&GlobSet>,
    snapshot: &mut Snapshot,
) -> Listed {
    let listings = join_all(clients.values().map(|c| async {
        let (names, rules, aliases) = tokio::join!(
            codepipeline::list_names(ctx, &c.codepipeline),
            eventbridge::list_rules(ctx, &c.events),
            kms::list_aliases(ctx, &c.kms),
        );
        (c.region.clone(), names, rules, aliases)
    }))
    .await;
    let mut listed = Listed {
        selected: Vec::new(),
        rules: Vec::new(),
        aliases: BTreeMap::new(),
    };
    for (region, names, rules, region_aliases) in listings {
        match names {
            Ok(names) => listed.selected.extend(
                names
                    .into_iter()
                    .filter(|n| filter.is_none_or(|f| f.is_match(n)))
                    .map(|n| (region.clone(), n)),
            ),
            Err(error) => snapshot.scope_errors.push(ScopeError {
                region: region.clone(),
                scope: Listing::Pipelines,
                error,
            }),
        }
        match rules {
            Ok(rules) => listed.rules.push((region.clone(), rules)),
            Err(error) => snapshot.scope_errors.push(ScopeError {
                region: region.clone(),
                scope: Listing::EventRules,
                error,
            }),
        }
        if let Err(error) = &region_aliases {
            snapshot.scope_errors.push(ScopeError {
                region: region.clone(),
                scope: Listing::KmsAliases,
                error: error.clone(),
            });
        }
        listed.aliases.insert(region, region_aliases);
    }
    listed
}

/// The second phase: every selected pipeline's declaration, resolved into
/// its wiring, and concurrently the targets of the rules (of those that
/// target an audited pipeline).
async fn read_declarations(
    ctx: &Ctx,
    clients: &BTreeMap<String, RegionClients>,
    resolver: &KeyResolver<'_>,
    selected: Vec<(String, String)>,
    listed_rules: Vec<(String, Vec<aws_sdk_eventbridge::types::Rule>)>,
    snapshot: &mut Snapshot,
) {
    let ids = resolver.ids;
    let rule_targets = join_all(listed_rules.into_iter().map(|(region, rules)| {
        let pipelines: Vec<String> = selected
            .iter()
            .filter(|(r, _)| *r == region)
            .map(|(r, n)| codepipeline::pipeline_arn(ids.partition, r, ids.account, n))
            .collect();
        let client = clients.get(&region).map(|c| &c.events);
        async move {
            match client {
                Some(c) => eventbridge::pipeline_rules(ctx, c, rules, &pipelines).await,
                None => Vec::new(),
            }
        }
    }));
    let declarations = join_all(selected.iter().map(|(region, name)| async move {
        let arn = codepipeline::pipeline_arn(ids.partition, region, ids.account, name);
        let obs = match clients.get(region) {
            Some(c) => codepipeline::get(ctx, &c.codepipeline, region, &arn, name).await,
            None => Observed::Absent,
        };
        (region.clone(), name.clone(), arn, obs)
    }));
    let (declared, rule_targets) = tokio::join!(declarations, rule_targets);
    for rules in rule_targets {
        snapshot.resources.event_rules.extend(rules);
    }
    for (region, name, arn, obs) in declared {
        let mut wiring = match &obs {
            Observed::Ok { value } => wiring::wire(value, ids, resolver),
            _ => wiring::unread(region, name, arn),
        };
        wiring::link_triggers(&mut wiring, &snapshot.resources.event_rules);
        snapshot.resources.pipelines.insert(wiring.arn.clone(), obs);
        snapshot.pipelines.push(wiring);
    }
    snapshot.pipelines.sort_by(|a, b| a.arn.cmp(&b.arn));
}

/// Phases 3 to 5: every kind the declarations point at, directly or
/// through what was read before, each resource once.
/// Once the first phase has named the pipelines' roles, the way IAM is
/// read is chosen ([`iam_details`]); the bulk read, if chosen, runs
/// alongside the second phase, whose instance profiles it answers.
async fn read_kinds(
    ctx: &Ctx,
    clients: &BTreeMap<String, RegionClients>,
    resolver: &KeyResolver<'_>,
    regions: &[String],
    opts: &CollectOptions,
    snapshot: &mut Snapshot,
) {
    let ids = resolver.ids;
    let iam_bulk = iam_details::BulkRead::default();
    for phase in kind::Phase::READ {
        if phase == kind::Phase::Selected && opts.account_checks {
            // After the pipelines' own projects were read (each once) and
            // before the roles, so that the webhook projects' roles are read
            // with the others.
            webhooks::collect(ctx, clients, ids, resolver, snapshot).await;
        }
        let refs = kind::Refs {
            pipelines: &snapshot.pipelines,
            resources: &snapshot.resources,
            keys: resolver,
            regions,
            iam: &iam_bulk,
        };
        let iam_plan = phase == kind::Phase::IAM_PLAN;
        if iam_plan {
            iam_bulk.plan(iam_details::BulkReadPlan {
                mode: opts.iam_read,
                account: ids.account.to_string(),
                wanted: iam::referenced_names(&refs, ids.account),
            });
        }
        let prefetch = async {
            if let (true, Some(c)) = (iam_plan, clients.values().next()) {
                iam_bulk.directory(ctx, &c.iam).await;
            }
        };
        let kinds = kind::readers(phase);
        let (landings, ()) =
            tokio::join!(kind::collect_phase(&kinds, ctx, clients, &refs), prefetch);
        for land in landings {
            land(&mut snapshot.resources);
        }
    }
}

/// Release paths: the account's principals in bulk, kept where they hold
/// a path (IAM is global: read once, with the first region's client); then
/// whether pull-request merges need approvals, asked only of the
/// repositories someone can change the release branch of (the RP001
/// messages say it), not of every source.
async fn read_release_paths(
    ctx: &Ctx,
    clients: &BTreeMap<String, RegionClients>,
    snapshot: &mut Snapshot,
) {
    let Some(c) = clients.values().next() else {
        return;
    };
    if snapshot.pipelines.is_empty() {
        return;
    }
    let mut review = Vec::new();
    snapshot.principals = Some(match principals::read(ctx, &c.iam).await {
        Observed::Ok { value } => {
            let read = value.principals.len();
            let kept = crate::aws::release::keep(snapshot, value);
            tracing::info!(
                "IAM: kept {} of {read} principal(s) for release paths",
                kept.set.principals.len()
            );
            review = kept.repositories;
            Observed::ok(kept.set)
        }
        other => other,
    });
    if !review.is_empty() {
        let by_region: BTreeMap<String, aws_sdk_codecommit::Client> = clients
            .iter()
            .map(|(r, c)| (r.clone(), c.codecommit.clone()))
            .collect();
        let templates = codecommit::approval_templates(ctx, &by_region, &review).await;
        snapshot.resources.approval_templates.extend(templates);
    }
}

/// A region name fit for an endpoint host name: lowercase letters, digits
/// and inner hyphens, starting with a letter (us-east-1, eu-central-2).
/// Whether such a region exists is for its endpoint to say.
pub fn is_region_name(r: &str) -> bool {
    let b = r.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b[b.len() - 1] != b'-'
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// The `--pipeline` globs as one set; `None` when none are given (every
/// pipeline).
pub fn pipeline_filter(globs: &[String]) -> Result<Option<GlobSet>, CollectError> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        builder.add(
            Glob::new(g)
                .map_err(|e| CollectError::Config(format!("bad --pipeline glob {g:?}: {e}")))?,
        );
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| CollectError::Config(format!("bad --pipeline globs: {e}")))
}

fn progress_bar(wanted: bool) -> ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} collecting: {pos} API calls ({elapsed})")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for good in [
            "us-east-1",
            "eu-central-2",
            "us-gov-west-1",
            "cn-north-1",
            "local",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "",
            "us_east_1",
            "US-EAST-1",
            "us east 1",
            "-us-east-1",
            "us-east-",
            "1us",
            "us.east.1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn bad_glob_is_a_config_error() {
        let err = pipeline_filter(&["[".to_string()])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("bad --pipeline glob"), "{err}");
    }
}
