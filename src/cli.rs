//! The command line: argument parsing, logging, exit codes. Thin: each
//! command calls into the stage modules.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::collect::{self, CollectOptions, clients::ConnectOptions};
use crate::model::Snapshot;

/// Exit code: clean.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings or drift.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage, configuration, credential or input error.
pub const EXIT_ERROR: u8 = 2;

/// Audit AWS CI/CD pipelines against the reference architecture.
#[derive(Debug, Parser)]
#[command(name = "pipeaudit", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options shared by every command.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// AWS region to audit (repeatable); default: from the environment or profile.
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
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
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
    };
    (connect, opts)
}

/// Collects a live snapshot with the global options.
pub fn collect_live(g: &GlobalArgs) -> Result<Snapshot, String> {
    let (connect, opts) = collect_options(g);
    let snapshot = runtime()?
        .block_on(collect::collect(&connect, &opts))
        .map_err(|e| e.to_string())?;
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
        None => Err("no command given; see `pipeaudit --help`".to_string()),
    }
}
