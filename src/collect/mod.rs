//! Collection: reads every audited pipeline and everything it wires to into a
//! [`Snapshot`]. One module per AWS service; this module orchestrates.
//!
//! The run goes in phases so that each distinct resource is fetched once,
//! however many pipelines share it:
//! 1. identity (STS), the regions (`all-enabled`: Account ListRegions), then
//!    per region, concurrently: the pipeline list, the
//!    trigger rules of the default bus, and the KMS aliases;
//! 2. every selected pipeline's declaration;
//! 3. the distinct repositories, build projects (batched), deploy
//!    applications and groups, buckets and keys the declarations point at;
//! 4. the distinct roles (pipeline, action, build, deploy, trigger roles);
//! 5. the distinct managed policies attached to those roles.
//!
//! Every call goes through [`call::Ctx`], which bounds concurrency across
//! services and counts calls; throttling is retried by the SDK with backoff.
//! A failure on one resource is recorded on that resource; only a failure to
//! establish the caller's identity aborts the run.

pub mod account;
pub mod call;
pub mod clients;
pub mod codebuild;
pub mod codecommit;
pub mod codedeploy;
pub mod codepipeline;
pub mod errors;
pub mod eventbridge;
pub mod iam;
pub mod key_refs;
pub mod kms;
pub mod s3;
pub mod targets;
mod wiring;

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;

use aws_types::SdkConfig;
use aws_types::region::Region;
use futures::future::join_all;
use globset::{Glob, GlobSet, GlobSetBuilder};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::{Observed, ReadError, ScopeError, Snapshot};
use call::Ctx;
use clients::RegionClients;
use key_refs::{Ids, KeyResolver, Resolved};
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
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            regions: Vec::new(),
            pipelines: Vec::new(),
            concurrency: 16,
            progress: false,
            profile: None,
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
/// safeguard when acting through an assumed role).
pub async fn collect_account(
    base: &SdkConfig,
    opts: &CollectOptions,
    expect_account: Option<&str>,
) -> Result<Snapshot, CollectError> {
    let all_enabled = opts.regions.iter().any(|r| r == ALL_ENABLED);
    if all_enabled && opts.regions.len() > 1 {
        return Err(CollectError::Config(format!(
            "--region {ALL_ENABLED} cannot be combined with named regions"
        )));
    }
    // The region of the account-wide calls (STS, Account, IAM).
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
    let filter = pipeline_filter(&opts.pipelines)?;
    let home_config = base.to_builder().region(Region::new(home.clone())).build();
    let ctx = Ctx::new(opts.concurrency, progress_bar(opts.progress));
    let taken_at = call::timestamp(&aws_smithy_types::DateTime::from(
        std::time::SystemTime::now(),
    ));

    // Phase 1: identity, the regions, then listings per region.
    let ident = ctx
        .call(
            "sts:GetCallerIdentity",
            aws_sdk_sts::Client::new(&home_config)
                .get_caller_identity()
                .send(),
        )
        .await
        .map_err(|e| {
            let reach = errors::Reach::of(&home_config, opts.profile.as_deref());
            let failure = errors::classify("sts:GetCallerIdentity", &e, &reach);
            tracing::debug!("sts:GetCallerIdentity failed: {}", failure.chain);
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
    let mut regions: Vec<String> = if all_enabled {
        account::enabled_regions(&ctx, &aws_sdk_account::Client::new(&home_config))
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
        vec![home.clone()]
    } else {
        opts.regions.clone()
    };
    regions.sort();
    regions.dedup();
    if regions.is_empty() {
        return Err(CollectError::Config("no region to audit".to_string()));
    }
    let clients: BTreeMap<String, RegionClients> = regions
        .iter()
        .map(|r| {
            let cfg = base.to_builder().region(Region::new(r.clone())).build();
            (r.clone(), RegionClients::new(&cfg))
        })
        .collect();
    let first = clients
        .values()
        .next()
        .ok_or_else(|| CollectError::Config("no region to audit".to_string()))?;
    let ids = Ids {
        partition: &partition,
        account: &account,
    };

    let mut snapshot = Snapshot::new(account.clone(), regions.clone(), taken_at);
    let listings = join_all(clients.values().map(|c| async {
        let (names, rules, aliases) = tokio::join!(
            codepipeline::list_names(&ctx, &c.codepipeline),
            eventbridge::pipeline_rules(&ctx, &c.events),
            kms::list_aliases(&ctx, &c.kms),
        );
        (c.region.clone(), names, rules, aliases)
    }))
    .await;

    let mut aliases: BTreeMap<String, Result<AliasMap, ReadError>> = BTreeMap::new();
    let mut selected: Vec<(String, String)> = Vec::new(); // (region, name)
    for (region, names, rules, region_aliases) in listings {
        match names {
            Ok(names) => selected.extend(
                names
                    .into_iter()
                    .filter(|n| filter.as_ref().is_none_or(|f| f.is_match(n)))
                    .map(|n| (region.clone(), n)),
            ),
            Err(error) => snapshot.scope_errors.push(ScopeError {
                region: region.clone(),
                scope: "pipelines".to_string(),
                error,
            }),
        }
        match rules {
            Ok(rules) => snapshot.resources.event_rules.extend(rules),
            Err(error) => snapshot.scope_errors.push(ScopeError {
                region: region.clone(),
                scope: "event-rules".to_string(),
                error,
            }),
        }
        if let Err(error) = &region_aliases {
            snapshot.scope_errors.push(ScopeError {
                region: region.clone(),
                scope: "kms-aliases".to_string(),
                error: error.clone(),
            });
        }
        aliases.insert(region, region_aliases);
    }
    let resolver = KeyResolver {
        ids,
        aliases: &aliases,
    };

    // Phase 2: pipeline declarations.
    let declared = join_all(selected.iter().map(|(region, name)| {
        let ctx = &ctx;
        let clients = &clients;
        async move {
            let arn = codepipeline::pipeline_arn(ids.partition, region, ids.account, name);
            let obs = match clients.get(region) {
                Some(c) => codepipeline::get(ctx, &c.codepipeline, region, &arn, name).await,
                None => Observed::Absent,
            };
            (region.clone(), name.clone(), arn, obs)
        }
    }))
    .await;

    for (region, name, arn, obs) in declared {
        let mut wiring = match &obs {
            Observed::Ok { value } => wiring::wire(value, ids, &resolver),
            _ => wiring::unread(region, name, arn),
        };
        wiring::link_triggers(&mut wiring, &snapshot.resources.event_rules);
        snapshot.resources.pipelines.insert(wiring.arn.clone(), obs);
        snapshot.pipelines.push(wiring);
    }
    snapshot.pipelines.sort_by(|a, b| a.arn.cmp(&b.arn));

    // Phase 3: everything the declarations point at, each once.
    let mut repos: BTreeMap<String, (String, String)> = BTreeMap::new(); // arn -> (region, name)
    let mut projects: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new(); // region -> name -> arn
    let mut apps: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut groups: BTreeMap<String, (String, String, String)> = BTreeMap::new();
    let mut buckets: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut keys: BTreeMap<String, String> = BTreeMap::new(); // key arn -> region
    for w in &snapshot.pipelines {
        for s in &w.sources {
            repos.insert(
                s.repository_arn.clone(),
                (
                    region_of(&s.repository_arn, &w.region),
                    s.repository_name.clone(),
                ),
            );
        }
        for b in &w.builds {
            projects
                .entry(region_of(&b.project_arn, &w.region))
                .or_default()
                .insert(b.project_name.clone(), b.project_arn.clone());
        }
        for d in &w.deploys {
            let region = region_of(&d.application_arn, &w.region);
            apps.insert(
                d.application_arn.clone(),
                (region.clone(), d.application_name.clone()),
            );
            groups.insert(
                d.group_arn.clone(),
                (region, d.application_name.clone(), d.group_name.clone()),
            );
        }
        for s in &w.artifact_stores {
            buckets.insert(s.bucket_arn.clone(), (s.region.clone(), s.bucket.clone()));
            if let (Some(key_ref), Some(key_arn)) = (&s.key_ref, &s.key_arn) {
                match resolver.resolve(&s.region, key_ref) {
                    Resolved::Key(_) => {
                        keys.insert(key_arn.clone(), region_of(key_arn, &s.region));
                    }
                    Resolved::MissingAlias(a) => {
                        snapshot.resources.keys.insert(a, Observed::Absent);
                    }
                    Resolved::UnknownAlias(a, error) => {
                        snapshot
                            .resources
                            .keys
                            .insert(a, Observed::Unknown { error });
                    }
                }
            }
        }
    }

    let repo_f = join_all(repos.iter().map(|(arn, (region, name))| {
        let ctx = &ctx;
        let c = clients.get(region);
        async move {
            let obs = match c {
                Some(c) => codecommit::get(ctx, &c.codecommit, arn, name).await,
                None => unaudited_region(region, "codecommit:GetRepository"),
            };
            (arn.clone(), obs)
        }
    }));
    let project_f = join_all(projects.iter().map(|(region, by_name)| {
        let ctx = &ctx;
        let c = clients.get(region);
        async move {
            match c {
                Some(c) => codebuild::get_projects(ctx, &c.codebuild, by_name).await,
                None => by_name
                    .values()
                    .map(|arn| {
                        (
                            arn.clone(),
                            unaudited_region(region, "codebuild:BatchGetProjects"),
                        )
                    })
                    .collect(),
            }
        }
    }));
    let app_f = join_all(apps.iter().map(|(arn, (region, name))| {
        let ctx = &ctx;
        let c = clients.get(region);
        async move {
            let obs = match c {
                Some(c) => codedeploy::get_application(ctx, &c.codedeploy, arn, name).await,
                None => unaudited_region(region, "codedeploy:GetApplication"),
            };
            (arn.clone(), obs)
        }
    }));
    let group_f = join_all(groups.iter().map(|(arn, (region, app, name))| {
        let ctx = &ctx;
        let c = clients.get(region);
        async move {
            let obs = match c {
                Some(c) => codedeploy::get_group(ctx, &c.codedeploy, arn, app, name).await,
                None => unaudited_region(region, "codedeploy:GetDeploymentGroup"),
            };
            (arn.clone(), obs)
        }
    }));
    let bucket_f = join_all(buckets.iter().map(|(arn, (region, name))| {
        let ctx = &ctx;
        let c = clients.get(region).or(Some(first));
        async move {
            let obs = match c {
                Some(c) => s3::get(ctx, &c.s3, arn, name).await,
                None => unaudited_region(region, "s3:ListBucket"),
            };
            (arn.clone(), obs)
        }
    }));
    let key_f = join_all(keys.iter().map(|(arn, region)| {
        let ctx = &ctx;
        let c = clients.get(region);
        let names = resolver.aliases_of(region, arn);
        async move {
            let obs = match c {
                Some(c) => kms::get(ctx, &c.kms, arn, names).await,
                None => unaudited_region(region, "kms:DescribeKey"),
            };
            (arn.clone(), obs)
        }
    }));
    let (r, p, a, g, b, k) = tokio::join!(repo_f, project_f, app_f, group_f, bucket_f, key_f);
    let res = &mut snapshot.resources;
    res.repositories.extend(r);
    res.build_projects.extend(p.into_iter().flatten());
    res.deploy_applications.extend(a);
    res.deploy_groups.extend(g);
    res.buckets.extend(b);
    res.keys.extend(k);

    // Resolve the key references found inside buckets and projects (no fetch).
    for bucket in res.buckets.values_mut() {
        if let Observed::Ok { value: bucket } = bucket {
            let region = regions.first().cloned().unwrap_or_default();
            let region = snapshot
                .pipelines
                .iter()
                .flat_map(|w| &w.artifact_stores)
                .find(|s| s.bucket == bucket.name)
                .map(|s| s.region.clone())
                .unwrap_or(region);
            if let Observed::Ok { value: enc } = &mut bucket.encryption {
                for rule in &mut enc.rules {
                    if let Some(id) = &rule.kms_master_key_id {
                        rule.kms_key_arn = resolver.resolve(&region, id).key_arn();
                    }
                }
            }
        }
    }
    for project in res.build_projects.values_mut() {
        if let Observed::Ok { value: project } = project {
            let region = region_of(
                &project.arn,
                regions.first().map(String::as_str).unwrap_or(""),
            );
            if let Some(key) = &project.encryption_key {
                project.encryption_key_arn = resolver.resolve(&region, key).key_arn();
            }
        }
    }

    // Phase 4: roles.
    let mut roles: BTreeSet<String> = BTreeSet::new();
    for w in &snapshot.pipelines {
        roles.extend(w.role_arn.iter().cloned());
        roles.extend(w.action_roles.iter().cloned());
    }
    for p in res.build_projects.values().filter_map(Observed::value) {
        roles.extend(p.service_role.iter().cloned());
    }
    for g in res.deploy_groups.values().filter_map(Observed::value) {
        roles.extend(g.service_role_arn.iter().cloned());
    }
    for rule in res.event_rules.values().filter_map(Observed::value) {
        roles.extend(rule.role_arn.iter().cloned());
        roles.extend(rule.targets.iter().filter_map(|t| t.role_arn.clone()));
    }
    roles.retain(|r| r.starts_with("arn:"));
    let fetched_roles = join_all(roles.iter().map(|arn| {
        let ctx = &ctx;
        async move { (arn.clone(), iam::get_role(ctx, &first.iam, arn).await) }
    }))
    .await;
    res.roles.extend(fetched_roles);

    // Phase 5: managed policies attached to the roles.
    let policies: BTreeSet<String> = res
        .roles
        .values()
        .filter_map(Observed::value)
        .filter_map(|r| r.attached_policies.value())
        .flatten()
        .cloned()
        .collect();
    let fetched = join_all(policies.iter().map(|arn| {
        let ctx = &ctx;
        async move {
            (
                arn.clone(),
                iam::get_managed_policy(ctx, &first.iam, arn).await,
            )
        }
    }))
    .await;
    res.managed_policies.extend(fetched);

    ctx.progress().finish_and_clear();
    snapshot.api_calls = ctx.calls();
    Ok(snapshot)
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

fn pipeline_filter(globs: &[String]) -> Result<Option<GlobSet>, CollectError> {
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

/// A resource in a region that is not being audited cannot be read.
fn unaudited_region<T>(region: &str, action: &str) -> Observed<T> {
    Observed::Unknown {
        error: ReadError {
            kind: crate::model::ReadErrorKind::Service,
            action: action.to_string(),
            code: None,
            message: format!(
                "region {region} is not among the audited regions (add --region {region})"
            ),
        },
    }
}

/// The region field of an ARN, or `fallback` when it has none.
fn region_of(arn: &str, fallback: &str) -> String {
    match arn.split(':').nth(3) {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => fallback.to_string(),
    }
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
    fn region_is_read_from_arns() {
        assert_eq!(
            region_of("arn:aws:codebuild:eu-west-1:1:project/x", "us-east-1"),
            "eu-west-1"
        );
        assert_eq!(region_of("arn:aws:s3:::bucket", "us-east-1"), "us-east-1");
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
