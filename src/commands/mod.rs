//! The commands: one module each; this one parses, decides which command
//! (and which mode of the audit) runs, and prints the error a command ends
//! with. What the commands share lives beside them: acting on AWS and the
//! snapshot (`live`), locating findings in infrastructure as code
//! (`locate`), writing output and the audit report (`output`), the error
//! (`error`). Commands orchestrate the stage modules; they hold no audit
//! logic.

mod audit;
mod compliance;
mod drift;
mod error;
mod graph;
mod live;
mod locate;
mod merge;
mod org;
mod output;
mod paths;
mod remediate;
mod rules;
mod shell;
mod snapshot;
mod template;
mod tfplan;

use std::process::ExitCode;

pub use error::Error;

use crate::cli::{AuditArgs, Cli, Command, GlobalArgs, RulesConfig};
use crate::report::EXIT_OK;
use crate::report::escape::control_lines;
use crate::rules::RuleSet;
use crate::rules::config::Config;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match crate::cli::parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                crate::report::EXIT_ERROR
            } else {
                EXIT_OK
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(&cli.global);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("pipeaudit: error: {}", control_lines(&e.user_message()));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs the command; the audit's options given before a command are
/// passed to those that use them.
fn run(cli: Cli) -> Result<u8, Error> {
    let Cli {
        global: g,
        audit: before,
        command,
    } = cli;
    match command {
        None => audit_mode(&g, &before),
        Some(Command::Audit(a)) => audit_mode(&g, &a),
        Some(Command::Snapshot(s)) => snapshot::run(&g, &s),
        Some(Command::Drift(d)) => drift::run(&g, &before, &d),
        Some(Command::Graph(x)) => graph::run(&g, &before, &x),
        Some(Command::Merge(m)) => merge::run(&m),
        Some(Command::Compliance(c)) => compliance::run(&g, &before, &c),
        Some(Command::Paths(p)) => paths::run(&g, &before, &p),
        Some(Command::Completions(c)) => shell::completions(c.shell),
        Some(Command::Man(m)) => shell::man(m.out.as_deref()),
        Some(Command::Rules(r)) => rules::run(&before.rules, r),
    }
}

/// The audit, in the mode its options ask for: remediation, CloudFormation
/// templates, Terraform plans, several accounts, or one account.
/// Everything that can be wrong with the input is checked before collecting.
fn audit_mode(g: &GlobalArgs, a: &AuditArgs) -> Result<u8, Error> {
    let rules = load_rules(&a.rules)?;
    let config = load_config(&a.rules, &rules)?;
    if a.remediate {
        return remediate::run(g, a, &rules, &config);
    }
    if !a.templates.is_empty() {
        return template::run(g, a, &rules, &config);
    }
    if !a.tf_plans.is_empty() {
        return tfplan::run(g, a, &rules, &config);
    }
    if live::several_accounts(g) {
        if !a.iac.is_empty() {
            return Err(Error::Usage(
                "--iac locates the findings of one account; --accounts, --shard and several --role-arn audit many"
                    .to_string(),
            ));
        }
        if a.input.snapshot.is_some() {
            return Err(Error::Usage(
                "--snapshot audits one saved snapshot; --accounts, --shard and several --role-arn collect live"
                    .to_string(),
            ));
        }
        let list = live::targets(g)?;
        return org::run(g, a, rules, config, list);
    }
    audit::run(g, a, &rules, &config)
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

/// The built-in rules and the packs of --rules.
fn load_rules(r: &RulesConfig) -> Result<RuleSet, Error> {
    RuleSet::load(&r.rules).map_err(Error::Rules)
}

/// The configuration of --config (the default without it), checked
/// against the rules' ids, slugs and parameters.
fn load_config(r: &RulesConfig, rules: &RuleSet) -> Result<Config, Error> {
    let Some(path) = &r.config else {
        return Ok(Config::default());
    };
    let error = |source| Error::Config {
        path: path.clone(),
        source,
    };
    let config = Config::load(path).map_err(error)?;
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
        .map_err(error)?;
    Ok(config)
}
