//! What the commands share to act on AWS: the async runtime, the
//! collection's options, the accounts of --role-arn / --accounts, and the
//! snapshot, collected live or loaded.

use super::Error;
use crate::cli::{GlobalArgs, Input};
use crate::collect::{self, CollectOptions, clients::ConnectOptions};
use crate::model::Snapshot;
use crate::report::escape::control;

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))
}

pub(super) fn collect_options(g: &GlobalArgs) -> (ConnectOptions, CollectOptions) {
    let mut connect = ConnectOptions::new(g.profile.clone(), g.endpoint_url.clone());
    connect.max_attempts = g.max_attempts;
    connect.connect_timeout = std::time::Duration::from_secs(g.connect_timeout.max(1));
    connect.read_timeout = std::time::Duration::from_secs(g.read_timeout.max(1));
    let opts = CollectOptions {
        regions: g.regions.clone(),
        pipelines: g.pipelines.clone(),
        concurrency: usize::from(g.concurrency),
        progress: !g.quiet,
        profile: g.profile.clone(),
        iam_read: g.iam_read,
        account_checks: g.account_checks,
    };
    (connect, opts)
}

/// The region the SDK configuration is loaded for: the first --region,
/// unless it stands for every enabled region (then the profile's).
pub(super) fn home_region(regions: &[String]) -> Option<&str> {
    regions
        .first()
        .map(String::as_str)
        .filter(|r| *r != collect::ALL_ENABLED)
}

/// Whether the accounts are several: --accounts, --shard or more than one
/// --role-arn.
pub(super) fn several_accounts(g: &GlobalArgs) -> bool {
    g.accounts_file.is_some() || g.role_arns.len() > 1 || g.shard.is_some()
}

/// The accounts named by --role-arn / --accounts, after --shard; empty
/// when the audit acts with the caller's own credentials.
pub(super) fn targets(g: &GlobalArgs) -> Result<Vec<collect::targets::AccountTarget>, Error> {
    let list = audit_targets(g)?;
    match g.shard {
        Some(_) if list.is_empty() => Err(Error::Usage(
            "--shard splits the accounts of --accounts / --role-arn; none were given".to_string(),
        )),
        Some(shard) => Ok(collect::targets::shard(list, shard)),
        None => Ok(list),
    }
}

/// Every account named by --role-arn / --accounts, before --shard: the
/// audit whose other accounts deploys are followed into.
fn audit_targets(g: &GlobalArgs) -> Result<Vec<collect::targets::AccountTarget>, Error> {
    use collect::targets;
    if let Some(name) = &g.role_name {
        targets::check_role_name(name).map_err(|e| Error::Usage(e.to_string()))?;
    }
    let text = match &g.accounts_file {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|e| Error::read(p, e))?),
        None => None,
    };
    if g.role_name.is_some() && text.is_none() {
        return Err(Error::Usage(
            "--role-name needs --accounts FILE".to_string(),
        ));
    }
    // The partition of role ARNs built from account ids, from the region.
    let partition = targets::partition_of(g.regions.first().map(String::as_str).unwrap_or(""));
    targets::build(
        &g.role_arns,
        g.accounts_file.as_deref().zip(text.as_deref()),
        g.role_name.as_deref(),
        partition,
    )
    .map_err(|e| Error::Usage(e.to_string()))
}

/// What an audit of several accounts runs with: the connection and
/// collection options (no spinner: each account prints a line) and the
/// organization's, its snapshots saved under `save_dir`.
pub(super) fn org_setup(
    g: &GlobalArgs,
    save_dir: Option<std::path::PathBuf>,
) -> Result<(ConnectOptions, CollectOptions, crate::org::OrgOptions), Error> {
    let (connect, mut opts) = collect_options(g);
    opts.progress = false;
    let org = crate::org::OrgOptions {
        external_id: g.external_id.clone(),
        account_concurrency: usize::from(g.account_concurrency),
        save_dir,
        audit: audit_targets(g)?,
    };
    Ok((connect, opts, org))
}

/// The SDK configuration to act with in `region`: the caller's own, or the
/// single --role-arn assumed.
pub(super) async fn act_config(
    g: &GlobalArgs,
    connect: &ConnectOptions,
    region: Option<&str>,
) -> Result<(aws_types::SdkConfig, Option<String>), Error> {
    let base = collect::clients::load_config(connect, region).await;
    let list = targets(g)?;
    match list.as_slice() {
        [] if g.shard.is_some() => Err(Error::Usage("this shard has no account".to_string())),
        [] => Ok((base, None)),
        [one] => Ok((
            collect::clients::assume_role_config(&base, &one.role_arn, g.external_id.as_deref())
                .await,
            Some(one.account.clone()),
        )),
        many => Err(Error::Usage(format!(
            "this command works on one account; {} were given (the audit takes several)",
            many.len()
        ))),
    }
}

/// Collects a live snapshot with the global options.
pub(super) fn collect_live(g: &GlobalArgs) -> Result<Snapshot, Error> {
    let (connect, opts) = collect_options(g);
    let region = home_region(&opts.regions);
    let snapshot = runtime()?.block_on(async {
        let (cfg, account) = act_config(g, &connect, region).await?;
        collect::collect_account(&cfg, &opts, account.as_deref())
            .await
            .map_err(Error::from)
    })?;
    if !g.quiet {
        report_collection(&snapshot, g.verbose > 0);
    }
    Ok(snapshot)
}

/// Loads the snapshot of --snapshot.
pub(super) fn load_snapshot(path: &std::path::Path) -> Result<Snapshot, Error> {
    Snapshot::load(path).map_err(|e| Error::snapshot(path, e))
}

/// The snapshot of --snapshot, or else one collected live.
pub(super) fn snapshot_of(g: &GlobalArgs, input: &Input) -> Result<Snapshot, Error> {
    match &input.snapshot {
        Some(path) => load_snapshot(path),
        None => collect_live(g),
    }
}

fn report_collection(s: &Snapshot, detail: bool) {
    let calls: u64 = s.api_calls.values().sum();
    let errors = s.read_errors();
    eprintln!(
        "pipeaudit: collected {} pipeline(s) in {} region(s) of account {} with {} API call(s); {} value(s) could not be read",
        s.pipelines.len(),
        s.regions.len(),
        control(&s.account),
        calls,
        errors.len()
    );
    let shown = if detail {
        errors.len()
    } else {
        errors.len().min(5)
    };
    for (resource, e) in errors.iter().take(shown) {
        eprintln!(
            "  {}: {} ({}{})",
            control(resource),
            control(&e.action),
            e.code
                .as_deref()
                .map(|c| format!("{}: ", control(c)))
                .unwrap_or_default(),
            control(&e.message)
        );
    }
    if shown < errors.len() {
        eprintln!(
            "  ... and {} more (use -v to list all)",
            errors.len() - shown
        );
    }
}
