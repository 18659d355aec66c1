//! The commands: one module each; this one dispatches and holds what they
//! share (logging, the async runtime, live collection, output). Commands
//! orchestrate the stage modules; they hold no audit logic.

mod audit;
mod compliance;
mod drift;
mod graph;
mod merge;
mod org;
mod paths;
mod remediate;
mod rules;
mod shell;
mod snapshot;
mod template;
mod tfplan;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{AuditArgs, Cli, Command, GlobalArgs};
use crate::collect::{self, CollectOptions, clients::ConnectOptions};
use crate::model::Snapshot;
use crate::report::escape::{control, control_lines};
use crate::report::{EXIT_ERROR, EXIT_OK};
use crate::rules::RuleSet;
use crate::rules::config::Config;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(&cli.global);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("pipeaudit: error: {}", control_lines(&message));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Some(Command::Snapshot { output }) => snapshot::run(&cli.global, output.as_ref()),
        Some(Command::Compliance {
            framework,
            list,
            snapshot,
            format,
            output,
            exit_zero,
            allow_partial_controls,
            config,
            rules,
        }) => compliance::run(
            &cli.global,
            &cli.audit,
            &compliance::ComplianceArgs {
                framework,
                list,
                snapshot,
                format,
                output,
                exit_zero,
                allow_partial: allow_partial_controls,
                config,
                rules,
            },
        ),
        Some(Command::Completions { shell }) => shell::completions(shell),
        Some(Command::Man { out }) => shell::man(out.as_deref()),
        Some(Command::Rules { action, format }) => rules::run(&cli.audit, action, format),
        Some(Command::Drift {
            baseline,
            snapshot,
            format,
            output,
            exit_zero,
        }) => drift::run(
            &cli.global,
            &cli.audit,
            &drift::DriftArgs {
                baseline,
                snapshot,
                format,
                output,
                exit_zero,
            },
        ),
        Some(Command::Paths {
            principals,
            snapshot,
            format,
            output,
            config,
        }) => paths::run(
            &cli.global,
            &cli.audit,
            &paths::PathsArgs {
                principals,
                snapshot,
                format,
                output,
                config,
            },
        ),
        Some(Command::Merge { reports, output }) => merge::run(&reports, output.as_ref()),
        Some(Command::Graph {
            snapshot,
            format,
            output,
        }) => graph::run(
            &cli.global,
            &cli.audit,
            snapshot.as_ref(),
            format,
            output.as_ref(),
        ),
        None => audit::run(&cli.global, &cli.audit),
    }
}

fn init_logging(g: &GlobalArgs) {
    // The SDK's own crates stay at info at most: their trace output can
    // contain response bodies, and those can contain plaintext values.
    // The credentials chain warns about each provider that failed; the one
    // error message says it all unless -v asks for more.
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn,aws_config=error",
        (false, 1) => "warn,pipeaudit=debug",
        (false, _) => "info,pipeaudit=trace",
    };
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // fixed directives: a target filter, no pattern matching needed
    let filter: tracing_subscriber::filter::Targets = level.parse().unwrap_or_default();
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false),
        )
        .with(filter)
        .try_init();
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn collect_options(g: &GlobalArgs) -> (ConnectOptions, CollectOptions) {
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

/// The accounts named by --role-arn / --accounts, after --shard; empty
/// when the audit acts with the caller's own credentials.
fn targets(g: &GlobalArgs) -> Result<Vec<collect::targets::AccountTarget>, String> {
    let list = audit_targets(g)?;
    match g.shard {
        Some(_) if list.is_empty() => Err(
            "--shard splits the accounts of --accounts / --role-arn; none were given".to_string(),
        ),
        Some(shard) => Ok(collect::targets::shard(list, shard)),
        None => Ok(list),
    }
}

/// Every account named by --role-arn / --accounts, before --shard: the
/// audit whose other accounts deploys are followed into.
fn audit_targets(g: &GlobalArgs) -> Result<Vec<collect::targets::AccountTarget>, String> {
    use collect::targets;
    if let Some(name) = &g.role_name {
        targets::check_role_name(name)?;
    }
    let text = match &g.accounts_file {
        Some(p) => Some(
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
        ),
        None => None,
    };
    if g.role_name.is_some() && text.is_none() {
        return Err("--role-name needs --accounts FILE".to_string());
    }
    // The partition of role ARNs built from account ids, from the region.
    let partition = targets::partition_of(g.regions.first().map(String::as_str).unwrap_or(""));
    targets::build(
        &g.role_arns,
        g.accounts_file.as_deref().zip(text.as_deref()),
        g.role_name.as_deref(),
        partition,
    )
}

/// The SDK configuration to act with in `region`: the caller's own, or the
/// single --role-arn assumed.
async fn act_config(
    g: &GlobalArgs,
    connect: &ConnectOptions,
    region: Option<&str>,
) -> Result<(aws_types::SdkConfig, Option<String>), String> {
    let base = collect::clients::load_config(connect, region).await;
    let list = targets(g)?;
    match list.as_slice() {
        [] if g.shard.is_some() => Err("this shard has no account".to_string()),
        [] => Ok((base, None)),
        [one] => Ok((
            collect::clients::assume_role_config(&base, &one.role_arn, g.external_id.as_deref())
                .await,
            Some(one.account.clone()),
        )),
        many => Err(format!(
            "this command works on one account; {} were given (the audit takes several)",
            many.len()
        )),
    }
}

/// Collects a live snapshot with the global options.
fn collect_live(g: &GlobalArgs) -> Result<Snapshot, String> {
    let (connect, opts) = collect_options(g);
    let region = opts
        .regions
        .first()
        .map(String::as_str)
        .filter(|r| *r != collect::ALL_ENABLED);
    let snapshot = runtime()?.block_on(async {
        let (cfg, account) = act_config(g, &connect, region).await?;
        collect::collect_account(&cfg, &opts, account.as_deref())
            .await
            .map_err(|e| e.user_message())
    })?;
    if !g.quiet {
        report_collection(&snapshot, g.verbose > 0);
    }
    Ok(snapshot)
}

/// The stacks read for a snapshot's resources, and the calls made.
type StacksRead = (
    std::collections::BTreeMap<String, crate::model::Observed<crate::model::StackRef>>,
    std::collections::BTreeMap<String, u64>,
);

/// Reads which stack manages each resource of `snapshot` (or those in
/// `only`), with calls counted apart from the collection's.
fn read_stacks(
    g: &GlobalArgs,
    snapshot: &Snapshot,
    only: Option<&std::collections::BTreeSet<String>>,
) -> Result<StacksRead, String> {
    let (connect, opts) = collect_options(g);
    let region = snapshot.regions.first().cloned();
    let (stacks, calls) = runtime()?.block_on(async {
        let (cfg, _) = act_config(g, &connect, region.as_deref()).await?;
        Ok::<_, String>(
            collect::stacks::read_with_config(&cfg, snapshot, opts.concurrency, only).await,
        )
    })?;
    if !g.quiet {
        let managed = stacks.values().filter(|s| s.value().is_some()).count();
        let made: u64 = calls.values().sum();
        eprintln!(
            "pipeaudit: {managed} of {} resource(s) managed by a CloudFormation stack, read with {made} API call(s) apart from the audit's",
            stacks.len()
        );
    }
    Ok((stacks, calls))
}

/// Keeps stacks read in the snapshot.
fn keep_stacks(snapshot: &mut Snapshot, (stacks, calls): StacksRead) {
    snapshot.stacks.extend(stacks);
    for (k, v) in calls {
        *snapshot.stack_api_calls.entry(k).or_insert(0) += v;
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

fn write_output(path: Option<&PathBuf>, text: &str) -> Result<(), String> {
    match path {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))
        }
    }
}

/// [`write_output`] for output written piece by piece by `write`.
fn write_output_with(
    path: Option<&PathBuf>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), String> {
    match path {
        Some(p) => std::fs::File::create(p)
            .and_then(|mut file| write(&mut file))
            .map_err(|e| format!("cannot write {}: {e}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            write(&mut out)
                .and_then(|_| out.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))
        }
    }
}

/// The built-in rules and the packs of --rules.
fn load_rules(a: &AuditArgs) -> Result<RuleSet, String> {
    RuleSet::load(&a.rules).map_err(|e| e.to_string().trim_end().to_string())
}

fn load_config(a: &AuditArgs, rules: &RuleSet) -> Result<Config, String> {
    let Some(path) = &a.config else {
        return Ok(Config::default());
    };
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let ids: Vec<(&str, &str, Vec<&str>)> = rules
        .rules
        .iter()
        .map(|r| {
            (
                r.file.id.as_str(),
                r.file.slug.as_str(),
                r.file.parameters.keys().map(String::as_str).collect(),
            )
        })
        .collect();
    config
        .check_rule_ids(&ids, &path.display().to_string())
        .map_err(|e| e.to_string())?;
    Ok(config)
}
