//! The command line: argument parsing, logging, exit codes. Thin: each
//! command calls into the stage modules.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use std::io::IsTerminal;
use std::sync::Arc;

use crate::collect::{self, CollectOptions, clients::ConnectOptions};
use crate::findings::Severity;
use crate::model::Snapshot;
use crate::report::{self, Report};
use crate::rules::config::Config;
use crate::rules::{RuleSet, engine};

/// Exit code: clean.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings or drift.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage, configuration, credential or input error.
pub const EXIT_ERROR: u8 = 2;

/// Audit AWS CI/CD pipelines against the reference architecture.
///
/// Without a command, audits: collects (or loads --snapshot), evaluates the
/// rules and reports findings. Exit codes: 0 clean, 1 findings, 2 error.
#[derive(Debug, Parser)]
#[command(name = "pipeaudit", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Output formats of the audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Markdown,
}

/// Options of the audit (the default command).
#[derive(Debug, Args, Clone)]
pub struct AuditArgs {
    /// Audit a saved snapshot offline instead of collecting.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Also save what was collected.
    #[arg(long, value_name = "FILE", conflicts_with = "snapshot")]
    pub save_snapshot: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 only for findings of this severity or above (default: any finding).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Exit 0 even when there are findings (errors still exit 2).
    #[arg(long)]
    pub exit_zero: bool,
    /// Configuration file (pipeaudit.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra rule directory (repeatable); its *.yaml rules are added to the built-in catalog.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
    /// With --format sarif: write SARIF even when some values could not be
    /// collected (alerts on unread resources may then close).
    #[arg(long)]
    pub allow_partial: bool,
    /// Fix what the findings allow: shows the plan, then applies it (safe fixes only
    /// unless --unsafe-fixes), then collects and audits again.
    #[arg(long, conflicts_with = "snapshot")]
    pub remediate: bool,
    /// With --remediate: print the plan and change nothing.
    #[arg(long, requires = "remediate")]
    pub dry_run: bool,
    /// With --remediate: apply without asking (required without a terminal).
    #[arg(long, requires = "remediate")]
    pub yes: bool,
    /// With --remediate: include fixes marked unsafe.
    #[arg(long, requires = "remediate")]
    pub unsafe_fixes: bool,
    /// With --remediate: the journal of applied changes (default: pipeaudit-journal-<time>.json).
    #[arg(long, value_name = "FILE", requires = "remediate")]
    pub journal: Option<PathBuf>,
    /// Report only findings whose fingerprint is not in this previous JSON report.
    #[arg(long, value_name = "FILE")]
    pub baseline_findings: Option<PathBuf>,
    /// Base URL of the rule documentation pages (<URL>/<ID>.md), for SARIF and Markdown links.
    #[arg(long, value_name = "URL", default_value = report::sarif::DEFAULT_DOCS_URL)]
    pub docs_url: String,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
        .ok_or_else(|| format!("unknown severity {s:?} (critical, high, medium, low, info)"))
}

/// Options shared by every command.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// AWS region to audit (repeatable), or `all-enabled` for every region
    /// enabled in the account; default: from the environment or profile.
    #[arg(long = "region", global = true, value_name = "REGION")]
    pub regions: Vec<String>,
    /// Named AWS profile.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Custom AWS endpoint (e.g. a local test server).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Limit the audit to pipelines whose name matches this glob (repeatable).
    #[arg(long = "pipeline", global = true, value_name = "NAME")]
    pub pipelines: Vec<String>,
    /// API calls in flight at once, across services.
    #[arg(long, global = true, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Attempts per AWS call, including the first; throttling and transient
    /// errors are retried with exponential backoff.
    #[arg(long, global = true, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_attempts: u32,
    /// Seconds to wait for a connection to an AWS endpoint.
    #[arg(long, global = true, default_value_t = 5, value_name = "SECS")]
    pub connect_timeout: u64,
    /// Seconds to wait for an AWS response.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECS")]
    pub read_timeout: u64,
    /// Audit the account of this IAM role, assuming it through STS (repeatable).
    #[arg(long = "role-arn", global = true, value_name = "ARN")]
    pub role_arns: Vec<String>,
    /// Audit the accounts listed in FILE: one account id (with --role-name)
    /// or role ARN per line; `#` starts a comment.
    #[arg(long = "accounts", global = true, value_name = "FILE")]
    pub accounts_file: Option<PathBuf>,
    /// The role to assume in each account id of --accounts.
    #[arg(long, global = true, value_name = "NAME")]
    pub role_name: Option<String>,
    /// External id to pass when assuming the roles.
    #[arg(long, global = true, value_name = "ID", env = "PIPEAUDIT_EXTERNAL_ID")]
    pub external_id: Option<String>,
    /// Accounts audited at once (each with --concurrency calls in flight).
    #[arg(long, global = true, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub account_concurrency: u16,
    /// Audit only shard I of N of the accounts (1-based), e.g. --shard 2/8;
    /// combine the shards' reports with `pipeaudit merge`.
    #[arg(long, global = true, value_name = "I/N")]
    pub shard: Option<collect::targets::Shard>,
    /// More log output on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect a snapshot of every pipeline and what it wires to, as JSON.
    Snapshot {
        /// Write the snapshot to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Report what changed since an approved baseline snapshot (exit 1 on drift).
    Drift {
        /// The approved snapshot (from `pipeaudit snapshot -o`).
        #[arg(long, value_name = "FILE")]
        baseline: PathBuf,
        /// Compare with this snapshot instead of collecting live.
        #[arg(long, value_name = "FILE")]
        snapshot: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Exit 0 even when there is drift.
        #[arg(long)]
        exit_zero: bool,
    },
    /// Combine the JSON reports (or SARIF files) of shards into one.
    Merge {
        /// The reports to merge (all JSON reports, or all SARIF files).
        #[arg(required = true, value_name = "REPORT")]
        reports: Vec<PathBuf>,
        #[arg(short = 'o', long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// List the rule catalog, or explain one rule.
    Rules {
        #[command(subcommand)]
        action: Option<RulesCommand>,
        /// Output format of the list.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// `pipeaudit rules ...`
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Generate the rule documentation: one page per rule and a catalog README.
    Docs {
        /// Output directory.
        #[arg(long, value_name = "DIR", default_value = "docs/rules")]
        out: PathBuf,
    },
    /// Print a rule's documentation.
    Explain {
        /// The rule id, e.g. KM003.
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

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
            eprintln!("pipeaudit: error: {message}");
            ExitCode::from(EXIT_ERROR)
        }
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
    let filter = tracing_subscriber::EnvFilter::new(level);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
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
    };
    (connect, opts)
}

/// The accounts named by --role-arn / --accounts, after --shard; empty
/// when the audit acts with the caller's own credentials.
pub fn targets(g: &GlobalArgs) -> Result<Vec<collect::targets::Target>, String> {
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
    let region = g.regions.first().map(String::as_str).unwrap_or("");
    let partition = if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    let list = targets::build(
        &g.role_arns,
        g.accounts_file.as_deref().zip(text.as_deref()),
        g.role_name.as_deref(),
        partition,
    )?;
    match g.shard {
        Some(_) if list.is_empty() => Err(
            "--shard splits the accounts of --accounts / --role-arn; none were given".to_string(),
        ),
        Some(shard) => Ok(targets::shard(list, shard)),
        None => Ok(list),
    }
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
pub fn collect_live(g: &GlobalArgs) -> Result<Snapshot, String> {
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

fn report_collection(s: &Snapshot, detail: bool) {
    let calls: u64 = s.api_calls.values().sum();
    let errors = s.read_errors();
    eprintln!(
        "pipeaudit: collected {} pipeline(s) in {} region(s) of account {} with {} API call(s); {} value(s) could not be read",
        s.pipelines.len(),
        s.regions.len(),
        s.account,
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
            "  {resource}: {} ({}{})",
            e.action,
            e.code
                .as_deref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default(),
            e.message
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

fn run(cli: Cli) -> Result<u8, String> {
    match cli.command {
        Some(Command::Snapshot { output }) => {
            let snapshot = collect_live(&cli.global)?;
            let mut text = snapshot.to_json();
            text.push('\n');
            write_output(output.as_ref(), &text)?;
            Ok(EXIT_OK)
        }
        Some(Command::Rules { action, format }) => {
            let rules = RuleSet::load(&cli.audit.rules)
                .map_err(|e| e.to_string().trim_end().to_string())?;
            match action {
                None => write_output(None, &rules_list(&rules, format))?,
                Some(RulesCommand::Docs { out }) => {
                    let pages = crate::docs::rule_pages(&rules);
                    std::fs::create_dir_all(&out)
                        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
                    for (name, text) in &pages {
                        let p = out.join(name);
                        std::fs::write(&p, text)
                            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
                    }
                    eprintln!("wrote {} page(s) to {}", pages.len(), out.display());
                }
                Some(RulesCommand::Explain { id, format }) => {
                    let rule = rules
                        .get(&id)
                        .ok_or_else(|| format!("no rule {id:?}; `pipeaudit rules` lists them"))?;
                    write_output(None, &explain(rule, format))?;
                }
            }
            Ok(EXIT_OK)
        }
        Some(Command::Drift {
            baseline,
            snapshot,
            format,
            output,
            exit_zero,
        }) => {
            let rules = RuleSet::load(&cli.audit.rules)
                .map_err(|e| e.to_string().trim_end().to_string())?;
            let config = load_config(&cli.audit, &rules)?;
            let base = Snapshot::load(&baseline).map_err(|e| e.to_string())?;
            let current = match snapshot {
                Some(p) => Snapshot::load(&p).map_err(|e| e.to_string())?,
                None => collect_live(&cli.global)?,
            };
            let drift = crate::drift::compare(&base, &current, &rules, &config)
                .map_err(|e| e.to_string())?;
            let text = report::drift::render(&drift, &current, format, &cli.audit.docs_url)
                .map_err(|e| e.to_string())?;
            write_output(output.as_ref(), &text)?;
            Ok(if drift.changes.is_empty() || exit_zero {
                EXIT_OK
            } else {
                EXIT_FINDINGS
            })
        }
        Some(Command::Merge { reports, output }) => {
            let mut docs = Vec::new();
            for p in &reports {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("{} is not JSON: {e}", p.display()))?;
                docs.push((p.display().to_string(), v));
            }
            let sarif = docs.iter().all(|(_, d)| d.get("runs").is_some());
            let merged = if sarif {
                report::merge::merge_sarif(&docs)?
            } else {
                report::merge::merge_json(&docs)?
            };
            let mut text = serde_json::to_string_pretty(&merged).unwrap_or_default();
            text.push('\n');
            write_output(output.as_ref(), &text)?;
            Ok(EXIT_OK)
        }
        None => audit(&cli.global, &cli.audit),
    }
}

fn load_config(a: &AuditArgs, rules: &RuleSet) -> Result<Config, String> {
    let Some(path) = &a.config else {
        return Ok(Config::default());
    };
    let config = Config::load(path).map_err(|e| e.to_string())?;
    let ids: Vec<&str> = rules.rules.iter().map(|r| r.file.id.as_str()).collect();
    config
        .check_rule_ids(&ids, &path.display().to_string())
        .map_err(|e| e.to_string())?;
    Ok(config)
}

fn audit(g: &GlobalArgs, a: &AuditArgs) -> Result<u8, String> {
    // Everything that can be wrong with the input is checked before collecting.
    let rules = RuleSet::load(&a.rules).map_err(|e| e.to_string().trim_end().to_string())?;
    let config = load_config(a, &rules)?;
    if a.remediate {
        return remediate(g, a, &rules, &config);
    }
    if g.accounts_file.is_some() || g.role_arns.len() > 1 || g.shard.is_some() {
        if a.snapshot.is_some() {
            return Err(
                "--snapshot audits one saved snapshot; --accounts, --shard and several --role-arn collect live"
                    .to_string(),
            );
        }
        let list = targets(g)?;
        return audit_org(g, a, rules, config, list);
    }
    let snapshot = match &a.snapshot {
        Some(path) => Snapshot::load(path).map_err(|e| e.to_string())?,
        None => {
            let s = collect_live(g)?;
            if let Some(p) = &a.save_snapshot {
                s.save(p).map_err(|e| e.to_string())?;
            }
            s
        }
    };
    let snapshot = Arc::new(snapshot);
    let mut eval = engine::evaluate(snapshot.clone(), &rules, &config);
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    write_report(a, &rules, &scopes, &mut eval)
}

/// Renders and writes the report of an evaluation; the exit code of its findings.
fn write_report(
    a: &AuditArgs,
    rules: &RuleSet,
    scopes: &[report::Scope],
    eval: &mut engine::Evaluation,
) -> Result<u8, String> {
    if let Some(p) = &a.baseline_findings {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let previous: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a JSON report: {e}", p.display()))?;
        if previous
            .get("findings")
            .and_then(|f| f.as_array())
            .is_none()
        {
            return Err(format!(
                "{} is not a pipeaudit JSON report (no `findings` list)",
                p.display()
            ));
        }
        eval.findings = crate::drift::new_findings(std::mem::take(&mut eval.findings), &previous);
    }
    let report = Report {
        scopes,
        pipelines: eval.pipelines,
        findings: &eval.findings,
        diagnostics: &eval.diagnostics,
    };
    let text = match a.format {
        Format::Json => report::json::render(&report),
        Format::Markdown => report::markdown::render(&report, &a.docs_url),
        Format::Sarif => {
            let gaps = eval
                .diagnostics
                .iter()
                .filter(|d| d.kind == "collection-gap" || d.kind == "scope-error")
                .count();
            if gaps > 0 && !a.allow_partial {
                return Err(format!(
                    "{gaps} check(s) could not be made because values were not collected; refusing to write SARIF that would close alerts on unread resources (see --format json for the gaps, or pass --allow-partial)"
                ));
            }
            let files: Vec<&crate::rules::RuleFile> = rules.rules.iter().map(|r| &r.file).collect();
            let rendered =
                report::sarif::render(&report, &files, &a.docs_url).map_err(|e| e.to_string())?;
            for (category, dropped) in &rendered.truncated {
                eprintln!(
                    "pipeaudit: run {category}: {dropped} least severe result(s) left out to stay within {} results per run",
                    report::sarif::MAX_RESULTS
                );
            }
            rendered.text
        }
        Format::Table => {
            let colored = a.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            report::table::render(&report, colored, None)
        }
    };
    write_output(a.output.as_ref(), &text)?;
    // A scope that could not be listed (a region's pipelines, say) means
    // part of the audit did not happen: that is an error, not a clean run.
    let unlisted: Vec<&crate::findings::Diagnostic> = eval
        .diagnostics
        .iter()
        .filter(|d| d.kind == "scope-error")
        .collect();
    if !unlisted.is_empty() {
        for d in &unlisted {
            eprintln!("pipeaudit: error: {}", d.message);
        }
        return Ok(EXIT_ERROR);
    }
    let threshold = a.fail_on.unwrap_or(Severity::Info);
    let failing = eval.findings.iter().any(|f| f.severity >= threshold);
    Ok(if failing && !a.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// The audit of several accounts: each collected, evaluated and released in
/// turn; one report for all. Exit 2 when an account could not be audited
/// (after writing the report of the others).
fn audit_org(
    g: &GlobalArgs,
    a: &AuditArgs,
    rules: RuleSet,
    config: Config,
    list: Vec<collect::targets::Target>,
) -> Result<u8, String> {
    let (connect, mut opts) = collect_options(g);
    opts.progress = false;
    let (rules, config) = (Arc::new(rules), Arc::new(config));
    let save_dir = a.save_snapshot.clone();
    if let Some(d) = &save_dir {
        std::fs::create_dir_all(d)
            .map_err(|e| format!("cannot create the snapshot directory {}: {e}", d.display()))?;
    }
    let org = crate::org::OrgOptions {
        external_id: g.external_id.clone(),
        account_concurrency: usize::from(g.account_concurrency),
        save_dir,
    };
    let total = list.len();
    if !g.quiet {
        eprintln!(
            "pipeaudit: auditing {total} account(s){}",
            g.shard.map(|s| format!(" (shard {s})")).unwrap_or_default()
        );
    }
    let region = opts
        .regions
        .first()
        .map(String::as_str)
        .filter(|r| *r != collect::ALL_ENABLED);
    let quiet = g.quiet;
    let mut done = 0usize;
    let mut org_audit = runtime()?.block_on(async {
        let base = collect::clients::load_config(&connect, region).await;
        crate::org::audit_accounts(
            &base,
            list,
            &opts,
            &org,
            rules.clone(),
            config.clone(),
            |s| {
                done += 1;
                if quiet {
                    return;
                }
                match &s.result {
                    Ok(c) => eprintln!(
                        "pipeaudit: [{done}/{total}] account {}: {} pipeline(s) in {} region(s), {} API call(s), {} value(s) not read, {} finding(s)",
                        s.target.account,
                        c.pipelines,
                        c.regions.len(),
                        c.api_calls,
                        c.unread,
                        c.findings
                    ),
                    Err(e) => eprintln!("pipeaudit: [{done}/{total}] account {} failed: {e}", s.target.account),
                }
            },
        )
        .await
    });
    let code = write_report(a, &rules, &org_audit.scopes, &mut org_audit.evaluation)?;
    let failed: Vec<_> = org_audit.failed().collect();
    if !failed.is_empty() {
        eprintln!(
            "pipeaudit: {} of {total} account(s) could not be audited:",
            failed.len()
        );
        for (t, e) in &failed {
            eprintln!("  {}: {e}", t.account);
        }
        return Ok(EXIT_ERROR);
    }
    Ok(code)
}

fn remediate(
    g: &GlobalArgs,
    a: &AuditArgs,
    rules: &RuleSet,
    config: &Config,
) -> Result<u8, String> {
    use crate::remediate::verify::{self, RunReport, Status};
    let snapshot = Arc::new(collect_live(g)?);
    let eval = engine::evaluate(snapshot.clone(), rules, config);
    let plan = crate::remediate::plan(&snapshot, &eval.findings, rules, config, a.unsafe_fixes);
    let json = matches!(a.format, Format::Json);
    let plan_json = || {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&plan).unwrap_or_default()
        )
    };
    if a.dry_run || plan.actions.is_empty() {
        let text = if json {
            plan_json()
        } else {
            crate::remediate::render::render_text(&plan)
        };
        write_output(a.output.as_ref(), &text)?;
        return Ok(if plan.actions.is_empty() {
            EXIT_OK
        } else {
            EXIT_FINDINGS
        });
    }
    // Applying: the text plan is the report's head; with --format json the
    // one JSON document is the run's result, and the plan goes to stderr.
    if json {
        eprint!("{}", crate::remediate::render::render_text(&plan));
    } else {
        write_output(
            a.output.as_ref(),
            &crate::remediate::render::render_text(&plan),
        )?;
    }
    if !a.yes && !confirm(plan.actions.len())? {
        eprintln!("pipeaudit: nothing applied");
        return Ok(EXIT_FINDINGS);
    }
    let journal_path = a.journal.clone().unwrap_or_else(|| {
        let t = crate::rules::engine::today();
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        PathBuf::from(format!("pipeaudit-journal-{t}-{secs}.json"))
    });
    let (connect, _) = collect_options(g);
    let rt = runtime()?;
    // Ctrl-C stops the run between two actions: the action in flight ends
    // and is journaled, none is started after it.
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                eprintln!(
                    "pipeaudit: interrupted; finishing the change in flight, starting no other"
                );
            }
        });
    }
    let mut report = RunReport {
        plan: plan.clone(),
        ..RunReport::default()
    };
    // one set of clients per region (and one role assumption), however many actions
    let mut clients: std::collections::BTreeMap<String, collect::clients::RegionClients> =
        std::collections::BTreeMap::new();
    let mut attempted: std::collections::BTreeSet<(String, String)> =
        std::collections::BTreeSet::new();
    // every change attempted, with its pass and whether it was applied
    let mut tried: Vec<(crate::remediate::PlannedAction, usize, bool)> = Vec::new();
    let mut actions = plan.actions.clone();
    let (after, re) = loop {
        report.passes += 1;
        for action in &actions {
            if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            attempted.insert(verify::key(action));
            if !clients.contains_key(&action.region) {
                let (cfg, _) = rt.block_on(act_config(g, &connect, Some(&action.region)))?;
                clients.insert(
                    action.region.clone(),
                    collect::clients::RegionClients::new(&cfg),
                );
            }
            let Some(c) = clients.get(&action.region) else {
                continue;
            };
            let applied = rt.block_on(crate::remediate::apply_one(c, action));
            eprintln!(
                "  {} {} {}{}",
                applied.outcome,
                applied.action,
                applied.resource_arn,
                if applied.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", applied.message)
                }
            );
            tried.push((action.clone(), report.passes, applied.outcome == "applied"));
            report.applied.push(applied);
            // rewritten after every action: an interrupted run leaves only whole entries
            let text = serde_json::to_string_pretty(&report.applied).unwrap_or_default();
            let tmp = journal_path.with_extension("json.tmp");
            std::fs::write(&tmp, text)
                .and_then(|_| std::fs::rename(&tmp, &journal_path))
                .map_err(|e| format!("cannot write journal {}: {e}", journal_path.display()))?;
        }
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) {
            eprintln!("pipeaudit: journal written to {}", journal_path.display());
            let in_pass = tried.iter().filter(|t| t.1 == report.passes).count();
            return Err(format!(
                "interrupted after {in_pass} of {} change(s){}; the journal {} lists each one made",
                actions.len(),
                if report.passes > 1 {
                    format!(" of pass {}", report.passes)
                } else {
                    String::new()
                },
                journal_path.display()
            ));
        }
        // Prove the result: collect and audit again; a fix that changed what
        // other rules compare against brings its followers in the next pass.
        let after = Arc::new(collect_live(g)?);
        let re = engine::evaluate(after.clone(), rules, config);
        if report.passes >= verify::MAX_PASSES {
            break (after, re);
        }
        let next = crate::remediate::plan(&after, &re.findings, rules, config, a.unsafe_fixes);
        let more = verify::new_actions(&next, &attempted);
        if more.is_empty() {
            break (after, re);
        }
        let shown = crate::remediate::Plan {
            actions: more.clone(),
            ..crate::remediate::Plan::default()
        };
        eprintln!(
            "pipeaudit: pass {}: the re-audit plans {} more change(s)",
            report.passes + 1,
            more.len()
        );
        eprint!("{}", crate::remediate::render::render_text(&shown));
        if !a.yes && !confirm(more.len())? {
            break (after, re);
        }
        actions = more;
    };
    eprintln!("pipeaudit: journal written to {}", journal_path.display());
    report.changes = tried
        .iter()
        .map(|(p, pass, applied)| verify::Verified {
            action: p.action.clone(),
            resource_arn: p.resource_arn.clone(),
            rule_ids: p.rule_ids.clone(),
            pass: *pass,
            status: verify::status(p, *applied, &after, &re),
        })
        .collect();
    report.findings_remaining = re.findings.len();
    report.collection_gaps = re
        .diagnostics
        .iter()
        .filter(|d| d.kind == "collection-gap")
        .count();
    eprintln!(
        "pipeaudit: {} pass(es); {} fixed, {} still found after the re-audit, {} not verified (values could not be read again), {} not applied; {} finding(s) remain in total",
        report.passes,
        report.count(Status::Fixed),
        report.count(Status::Remaining),
        report.count(Status::Unverified),
        report.count(Status::NotApplied),
        report.findings_remaining
    );
    if json {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        write_output(a.output.as_ref(), &text)?;
    }
    Ok(if report.clean() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

/// Asks on the terminal whether to apply `n` changes; an error without one.
fn confirm(n: usize) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err(
            "--remediate without a terminal needs --yes (review the plan with --dry-run first)"
                .to_string(),
        );
    }
    eprint!("Apply {n} change(s)? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn rules_list(rules: &RuleSet, format: Format) -> String {
    match format {
        Format::Json | Format::Sarif => {
            let list: Vec<&crate::rules::RuleFile> = rules.rules.iter().map(|r| &r.file).collect();
            let mut t = serde_json::to_string_pretty(&list).unwrap_or_default();
            t.push('\n');
            t
        }
        Format::Table | Format::Markdown => {
            let mut t = comfy_table::Table::new();
            t.set_header(vec!["id", "slug", "severity", "fix", "title"]);
            for r in &rules.rules {
                let fix = r
                    .file
                    .fix
                    .as_ref()
                    .map(|f| {
                        format!(
                            "{} ({})",
                            f.action,
                            if f.safety == crate::findings::FixSafety::Safe {
                                "safe"
                            } else {
                                "unsafe"
                            }
                        )
                    })
                    .unwrap_or_else(|| "-".to_string());
                t.add_row(vec![
                    r.file.id.clone(),
                    r.file.slug.clone(),
                    r.file.severity.to_string(),
                    fix,
                    r.file.title.clone(),
                ]);
            }
            t.force_no_tty();
            format!("{t}\n{} rules\n", rules.rules.len())
        }
    }
}

/// A rule's documentation as text (or JSON).
pub fn explain(rule: &crate::rules::Rule, format: Format) -> String {
    let f = &rule.file;
    match format {
        Format::Json | Format::Sarif => {
            let mut t = serde_json::to_string_pretty(f).unwrap_or_default();
            t.push('\n');
            t
        }
        Format::Markdown => crate::docs::rule_page(f),
        Format::Table => {
            let mut out = format!("{} {} ({})\n{}\n\n", f.id, f.slug, f.severity, f.title);
            out.push_str(&format!(
                "What\n  {}\n\nWhy\n  {}\n\nRemediation\n  {}\n",
                f.docs.what.trim(),
                f.docs.why.trim(),
                f.docs.remediation.trim()
            ));
            match &f.fix {
                Some(fix) => out.push_str(&format!(
                    "\nFix: {} ({})\n  {}\n",
                    fix.action,
                    if fix.safety == crate::findings::FixSafety::Safe {
                        "safe"
                    } else {
                        "unsafe"
                    },
                    f.docs.fix_safety.as_deref().unwrap_or("").trim()
                )),
                None => out.push_str("\nFix: none (manual)\n"),
            }
            if !f.references.is_empty() {
                out.push_str("\nReferences\n");
                for r in &f.references {
                    out.push_str(&format!("  - {r}\n"));
                }
            }
            out.push_str(&format!("\nCondition\n  {}\n", f.condition));
            out
        }
    }
}
