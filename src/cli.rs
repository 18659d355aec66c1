//! The command line's arguments: types only. The commands are in
//! `commands`, one module each.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::collect;
use crate::docs::{ExplainFormat, ListFormat};
use crate::findings::Severity;
use crate::report::Format;
use crate::report::compliance::ComplianceFormat;

/// The version and the commit the binary was built from ("unknown" when
/// the build had neither git nor a packaged crate's record of it).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PIPEAUDIT_COMMIT"),
    ")"
);

/// Audit AWS CI/CD pipelines against the reference architecture.
///
/// Without a command, audits: collects (or loads --snapshot), evaluates the
/// rules and reports findings. Exit codes: 0 clean, 1 findings, 2 error.
#[derive(Debug, Parser)]
#[command(name = "pipeaudit", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The rule catalog and the configuration a command evaluates with.
#[derive(Debug, Args, Clone, Default)]
pub struct RulesConfig {
    /// Configuration file (pipeaudit.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra rule directory (repeatable); its *.yaml rules are added to the built-in catalog.
    #[arg(long = "rules", value_name = "DIR")]
    pub rules: Vec<PathBuf>,
}

impl RulesConfig {
    /// These options given after a command, with the audit's given before
    /// it: the command's configuration file wins, the rule directories add up.
    pub fn after(&self, before: &RulesConfig) -> RulesConfig {
        RulesConfig {
            config: self.config.clone().or_else(|| before.config.clone()),
            rules: before.rules.iter().chain(&self.rules).cloned().collect(),
        }
    }
}

/// Where the snapshot comes from: collected live, or a saved one.
#[derive(Debug, Args, Clone, Default)]
pub struct Input {
    /// Audit a saved snapshot offline instead of collecting.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
}

impl Input {
    /// This option given after a command, or else the audit's given before it.
    pub fn after(&self, before: &Input) -> Input {
        Input {
            snapshot: self.snapshot.clone().or_else(|| before.snapshot.clone()),
        }
    }
}

/// Where the output goes: a file, or stdout.
#[derive(Debug, Args, Clone, Default)]
pub struct Output {
    /// Write the report to FILE instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Options of the audit (the default command).
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("offline").args(["templates", "tf_plans"]).multiple(true)))]
#[command(group(clap::ArgGroup::new("patch_input").args(["templates", "tf_plans", "remediate"]).multiple(true)))]
pub struct AuditArgs {
    #[command(flatten)]
    pub input: Input,
    /// Also save what was collected.
    #[arg(long, value_name = "FILE", conflicts_with = "snapshot")]
    pub save_snapshot: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub out: Output,
    /// Exit 1 only for findings of this severity or above (default: any finding).
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
    /// Exit 0 even when there are findings (errors still exit 2).
    #[arg(long)]
    pub exit_zero: bool,
    #[command(flatten)]
    pub rules: RulesConfig,
    /// Checks that could not be made (a value not read, a rule that
    /// errored) do not force exit 2: exit as the findings say, the report
    /// listing what was not checked. With --format sarif: write it anyway
    /// (alerts on unread resources may then close).
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
    /// Locate findings in the infrastructure as code under DIR (repeatable):
    /// CloudFormation templates (YAML or JSON) and CDK output (cdk.out).
    /// Reads which stack manages each resource (tags, then
    /// cloudformation:DescribeStackResources), counted apart from the audit's calls.
    #[arg(long = "iac", value_name = "DIR")]
    pub iac: Vec<PathBuf>,
    /// With --iac: a Terraform state (or `terraform show -json` output) that
    /// maps resources to addresses, located in the .tf files under --iac (repeatable).
    #[arg(long = "tf-state", value_name = "FILE", requires = "iac")]
    pub tf_states: Vec<PathBuf>,
    /// Report paths relative to DIR (default: the current directory, the
    /// checkout root in CI).
    #[arg(long, value_name = "DIR", requires = "iac")]
    pub iac_root: Option<PathBuf>,
    /// With --remediate: also write to resources a CloudFormation stack
    /// manages, or whose stack could not be read (drift: the next stack
    /// update reverts the change or fails). Without it they are left out
    /// and listed as manual steps; `--fix-patch FILE` gives the change as
    /// a patch to the template instead.
    #[arg(long, requires = "remediate")]
    pub allow_drift: bool,
    /// With --remediate: leave out changes to stack-managed resources. This
    /// is the default now; the flag is kept so existing scripts keep
    /// working.
    #[arg(long, requires = "remediate", conflicts_with = "allow_drift")]
    pub skip_iac_managed: bool,
    /// Audit CloudFormation templates instead of an account (repeatable): a
    /// template file (YAML or JSON) or a directory of them (CDK's `cdk.out`
    /// included). The snapshot is built from the templates offline.
    #[arg(long = "template", value_name = "PATH", conflicts_with_all = ["snapshot", "save_snapshot", "remediate", "iac"])]
    pub templates: Vec<PathBuf>,
    /// Audit Terraform plans instead of an account (repeatable): the JSON of
    /// `terraform show -json PLANFILE` (format 1.x), or a directory of them.
    /// With --iac DIR, findings point at the .tf files under DIR.
    #[arg(long = "tf-plan", value_name = "PLAN.json", conflicts_with_all = ["snapshot", "save_snapshot", "remediate", "templates"])]
    pub tf_plans: Vec<PathBuf>,
    /// With --template, --tf-plan PLAN --iac DIR (the .tf files), or
    /// --remediate --iac DIR (the findings on resources a stack manages):
    /// write the fixes that have a template (or Terraform) form as a
    /// unified diff to FILE (paths relative to the directory the findings'
    /// paths are, for `git apply` there). Each change is kept only if
    /// auditing the patched templates (or the plan with the change) again
    /// closes its finding and raises none; the others are printed as
    /// manual steps.
    #[arg(long, value_name = "FILE", requires = "patch_input")]
    pub fix_patch: Option<PathBuf>,
    /// With --template: a CloudFormation parameter file (a JSON list of
    /// ParameterKey/ParameterValue) for the single template given, or
    /// TEMPLATE=FILE for one of several (repeatable). Without it, a
    /// `<template stem>.parameters.json` beside a template is read.
    #[arg(
        long = "parameters",
        value_name = "FILE|TEMPLATE=FILE",
        requires = "templates"
    )]
    pub parameters: Vec<String>,
    /// With --template: the stack name of a template, TEMPLATE=NAME
    /// (repeatable; default: the file name without its extension).
    #[arg(
        long = "stack-name",
        value_name = "TEMPLATE=NAME",
        requires = "templates"
    )]
    pub stack_names: Vec<String>,
    /// With --template or --tf-plan: the account the templates are
    /// evaluated in (a plan's own `aws_caller_identity`, when it reads one,
    /// unless given).
    #[arg(
        long,
        value_name = "ID",
        default_value = "123456789012",
        requires = "offline"
    )]
    pub account_id: String,
    /// Base URL of the rule documentation pages (<URL>/<ID>.md) that SARIF,
    /// HTML and Markdown reports link to (default: docs/rules of this
    /// version's tag in the project's repository).
    #[arg(long, value_name = "URL", value_parser = parse_docs_url)]
    pub docs_url: Option<String>,
}

/// An http(s) URL with nothing that would need quoting in a link.
fn parse_docs_url(s: &str) -> Result<String, String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| "the docs URL must start with https:// or http://".to_string())?;
    let bad = |c: char| c.is_whitespace() || c.is_control() || "\"<>()[]{}|\\^`'".contains(c);
    if rest.is_empty() || rest.starts_with('/') {
        return Err("the docs URL names no host".to_string());
    }
    if let Some(c) = rest.chars().find(|c| bad(*c)) {
        return Err(format!("the docs URL may not contain {c:?}"));
    }
    Ok(s.to_string())
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
    /// How IAM roles and policies are read: `auto` counts the account's
    /// roles and picks whichever takes fewer calls; `per-role` reads each
    /// referenced role; `account-details` reads the account's IAM in bulk
    /// (iam:GetAccountAuthorizationDetails).
    #[arg(long, global = true, value_enum, default_value_t = collect::iam_details::IamRead::Auto)]
    pub iam_read: collect::iam_details::IamRead,
    /// Also run the account-level checks: every build project of the
    /// audited regions that has a webhook (codebuild:ListProjects, then
    /// BatchGetProjects) and the regions' source credentials
    /// (codebuild:ListSourceCredentials).
    #[arg(long, global = true)]
    pub account_checks: bool,
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
    /// Audit (the default without a command): collect or load --snapshot,
    /// evaluate the rules, report the findings.
    Audit(Box<AuditArgs>),
    /// Collect a snapshot of every pipeline and what it wires to, as JSON.
    Snapshot(SnapshotArgs),
    /// Report what changed since an approved baseline snapshot (exit 1 on drift).
    Drift(DriftArgs),
    /// Draw each pipeline's wiring (live, or from --snapshot), findings marked.
    Graph(GraphArgs),
    /// Combine the JSON reports (or SARIF files) of shards into one.
    Merge(MergeArgs),
    /// How the pipelines stand against a compliance framework: one row per
    /// control (exit 1 when a control fails, 2 for a gap or an error).
    Compliance(ComplianceArgs),
    /// Who can ship to production around each pipeline's review: the
    /// release paths, each with its witness (exit 1 when an untrusted one exists).
    Paths(PathsArgs),
    /// Print the shell completion script for SHELL.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a directory.
    Man(ManArgs),
    /// List the rule catalog, or explain one rule.
    Rules(RulesArgs),
}

/// Options of `pipeaudit snapshot`.
#[derive(Debug, Args, Clone)]
#[command(mut_arg("output", |a| a.help("Write the snapshot to FILE instead of stdout")))]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub out: Output,
}

/// Options of `pipeaudit drift`.
#[derive(Debug, Args, Clone)]
#[command(mut_arg("snapshot", |a| a.help("Compare with this snapshot instead of collecting live")))]
pub struct DriftArgs {
    /// The approved snapshot (from `pipeaudit snapshot -o`).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    #[command(flatten)]
    pub input: Input,
    #[arg(long, value_enum, default_value_t = DriftFormat::Table)]
    pub format: DriftFormat,
    #[command(flatten)]
    pub out: Output,
    /// Exit 0 even when there is drift.
    #[arg(long)]
    pub exit_zero: bool,
    #[command(flatten)]
    pub rules: RulesConfig,
}

/// Options of `pipeaudit graph`.
#[derive(Debug, Args, Clone)]
#[command(mut_arg("snapshot", |a| a.help("Draw this saved snapshot instead of collecting live")))]
pub struct GraphArgs {
    #[command(flatten)]
    pub input: Input,
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    #[command(flatten)]
    pub out: Output,
    #[command(flatten)]
    pub rules: RulesConfig,
}

/// Options of `pipeaudit merge`.
#[derive(Debug, Args, Clone)]
pub struct MergeArgs {
    /// The reports to merge (all JSON reports, or all SARIF files).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    #[command(flatten)]
    pub out: Output,
}

/// Options of `pipeaudit compliance`.
#[derive(Debug, Args, Clone)]
#[command(mut_arg("snapshot", |a| a.help("Assess a saved snapshot offline instead of collecting")))]
#[command(mut_arg("config", |a| a.help("Configuration file (pipeaudit.toml): ignores, severity overrides, disabled rules")))]
#[command(mut_arg("rules", |a| a.help("Extra rule directory (repeatable), as for the audit")))]
pub struct ComplianceArgs {
    /// The framework (see --list), e.g. owasp-cicd-top10.
    #[arg(long, value_name = "ID", required_unless_present = "list")]
    pub framework: Option<String>,
    /// List the frameworks and their controls' counts.
    #[arg(long, conflicts_with_all = ["framework", "snapshot"])]
    pub list: bool,
    #[command(flatten)]
    pub input: Input,
    #[arg(long, value_enum, default_value_t = ComplianceFormat::Table)]
    pub format: ComplianceFormat,
    #[command(flatten)]
    pub out: Output,
    /// Exit 0 even when a control fails (a gap or an error still exits 2).
    #[arg(long)]
    pub exit_zero: bool,
    /// Gaps (values not read, rule errors) do not force exit 2: exit as the failing controls say.
    #[arg(long = "allow-partial")]
    pub allow_partial_controls: bool,
    #[command(flatten)]
    pub rules: RulesConfig,
}

/// Options of `pipeaudit paths`.
#[derive(Debug, Args, Clone)]
#[command(mut_arg("snapshot", |a| a.help("Analyse a saved snapshot instead of collecting live")))]
#[command(mut_arg("config", |a| a.help("Configuration file (pipeaudit.toml): `[release_paths] trusted`")))]
pub struct PathsArgs {
    /// Only paths of principals whose ARN matches (repeatable).
    #[arg(long = "principal", value_name = "GLOB")]
    pub principals: Vec<String>,
    #[command(flatten)]
    pub input: Input,
    #[arg(long, value_enum, default_value_t = PathsFormat::Table)]
    pub format: PathsFormat,
    #[command(flatten)]
    pub out: Output,
    #[command(flatten)]
    pub rules: RulesConfig,
}

/// Options of `pipeaudit completions`.
#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, powershell (or elvish).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `pipeaudit man`.
#[derive(Debug, Args, Clone)]
pub struct ManArgs {
    /// Write pipeaudit.1 and a page per command (pipeaudit-drift.1, ...) into DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Options of `pipeaudit rules`.
#[derive(Debug, Args, Clone)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: Option<RulesCommand>,
    /// Output format of the list.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// Output formats of `pipeaudit drift` (HTML is a format of the audit report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DriftFormat {
    Table,
    Json,
    Sarif,
    Markdown,
}

impl From<DriftFormat> for Format {
    fn from(f: DriftFormat) -> Format {
        match f {
            DriftFormat::Table => Format::Table,
            DriftFormat::Json => Format::Json,
            DriftFormat::Sarif => Format::Sarif,
            DriftFormat::Markdown => Format::Markdown,
        }
    }
}

/// The formats `--remediate` prints its plan and result in.
pub const REMEDIATE_FORMATS: [Format; 2] = [Format::Table, Format::Json];

impl Cli {
    /// The audit's options in effect: those after `audit`, or those given
    /// without a command.
    pub fn audit_args(&self) -> &AuditArgs {
        match &self.command {
            Some(Command::Audit(a)) => a,
            _ => &self.audit,
        }
    }
}

/// Parses the command line as [`Cli::try_parse_from`] does, and refuses
/// what the argument types alone cannot: the audit's options both before
/// and after `audit`, and a `--format` that `--remediate` does not print.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    if let Some(Command::Audit(_)) = &cli.command {
        let before: Vec<String> = AuditArgs::augment_args(clap::Command::new("audit"))
            .get_arguments()
            .filter(|a| {
                matches.value_source(a.get_id().as_str())
                    == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|a| match a.get_long() {
                Some(long) => format!("--{long}"),
                None => a.get_id().to_string(),
            })
            .collect();
        if !before.is_empty() {
            return Err(cmd.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{} given before `audit`: the audit's options go after it (or without the command)",
                    before.join(", ")
                ),
            ));
        }
    }
    let a = cli.audit_args();
    if a.remediate && !REMEDIATE_FORMATS.contains(&a.format) {
        let name = |f: &Format| {
            f.to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
        };
        let allowed: Vec<String> = REMEDIATE_FORMATS.iter().map(name).collect();
        // the usage of the command the options were given to
        let audit = matches!(cli.command, Some(Command::Audit(_)));
        let cmd = match cmd.find_subcommand_mut("audit") {
            Some(sub) if audit => sub,
            _ => &mut cmd,
        };
        return Err(cmd.error(
            clap::error::ErrorKind::InvalidValue,
            format!(
                "invalid value '{}' for '--format <FORMAT>' with --remediate: --remediate prints its plan and result as {}; markdown, sarif and html are formats of the audit report\n  [possible values: {}]",
                name(&a.format),
                allowed.join(" or "),
                allowed.join(", ")
            ),
        ));
    }
    Ok(cli)
}

/// Output formats of `pipeaudit paths`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PathsFormat {
    Table,
    Json,
    Markdown,
    /// The release-path findings as SARIF (each chain a code flow), in
    /// their own `pipeaudit-paths/...` categories.
    Sarif,
    /// The audit's HTML report of the release-path findings ("Who can ship").
    Html,
}

/// Output formats of `pipeaudit graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Markdown: a heading and a Mermaid `flowchart LR` block per pipeline.
    Mermaid,
    /// Graphviz DOT: one `digraph` per pipeline.
    Dot,
    /// SVG laid out by pipeaudit: one document, the pipelines one below the other.
    Svg,
}

/// `pipeaudit rules ...`
#[derive(Debug, Clone, Subcommand)]
pub enum RulesCommand {
    /// Generate the rule documentation: one page per rule and a catalog README
    /// (and, with --book, the book's generated tables).
    Docs {
        /// Output directory.
        #[arg(long, value_name = "DIR", default_value = "docs/rules")]
        out: PathBuf,
        /// Also refresh the generated tables of the book whose source is DIR
        /// (its `SUMMARY.md` and the pages holding generated blocks).
        #[arg(long, value_name = "DIR")]
        book: Option<PathBuf>,
    },
    /// Print a rule's documentation.
    Explain {
        /// The rule id, e.g. KM003.
        id: String,
        #[arg(long, value_enum, default_value_t = ExplainFormat::Table)]
        format: ExplainFormat,
    },
}
