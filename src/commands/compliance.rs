//! `pipeaudit compliance`: collect or load, evaluate, assess against one
//! framework, report. The assessment is in `crate::compliance`, the
//! reporters in `crate::report::compliance`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

use super::{
    collect_live, collect_options, load_config, load_rules, runtime, targets, write_output,
};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::compliance;
use crate::findings::DiagnosticKind;
use crate::model::Snapshot;
use crate::report::compliance::{ComplianceFormat, ComplianceReport};
use crate::report::escape::control;
use crate::report::{self, EXIT_OK, Scope};
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine::{self, Evaluation};
use crate::rules::frameworks::Frameworks;

/// The options of `pipeaudit compliance`.
#[derive(Debug, Clone)]
pub struct ComplianceArgs {
    pub framework: Option<String>,
    pub list: bool,
    pub snapshot: Option<PathBuf>,
    pub format: ComplianceFormat,
    pub output: Option<PathBuf>,
    pub exit_zero: bool,
    /// Controls not checked do not force exit 2 (also before the command).
    pub allow_partial: bool,
    pub config: Option<PathBuf>,
    pub rules: Vec<PathBuf>,
}

/// Lists the frameworks, or assesses one.
pub fn run(g: &GlobalArgs, a: &AuditArgs, c: &ComplianceArgs) -> Result<u8, String> {
    if a.fail_on.is_some() {
        return Err(
            "--fail-on does not apply to compliance: a control fails on any open finding of its rules (--exit-zero exits 0 anyway)"
                .to_string(),
        );
    }
    // The audit's options given before the command, with the command's own.
    let mut audit = a.clone();
    if c.config.is_some() {
        audit.config = c.config.clone();
    }
    audit.rules.extend(c.rules.iter().cloned());
    if c.snapshot.is_some() {
        audit.snapshot = c.snapshot.clone();
    }
    let frameworks = Frameworks::builtin().map_err(|e| e.to_string().trim_end().to_string())?;
    let rules = load_rules(&audit)?;
    if c.list {
        let text =
            report::compliance::list(&frameworks, &rules, c.format).map_err(|e| e.to_string())?;
        write_output(c.output.as_ref(), &text)?;
        return Ok(EXIT_OK);
    }
    let id = c.framework.as_deref().unwrap_or_default();
    let framework = frameworks.get(id).ok_or_else(|| {
        format!(
            "unknown framework {id:?} (known: {}); `pipeaudit compliance --list` lists them",
            frameworks.ids().join(", ")
        )
    })?;
    let config = load_config(&audit, &rules)?;
    // Evaluated without the ignores, which are then applied keeping what
    // they suppress: a control with only accepted findings says so.
    let open_config = compliance::without_ignores(&config);
    let (scopes, pipelines, evaluation, failed_accounts) =
        evaluate(g, &audit, &rules, &open_config)?;
    let outcome = compliance::accept(evaluation, &config);
    let assessment = compliance::assess(framework, &frameworks, &rules, &config, &outcome);
    let r = ComplianceReport {
        assessment: &assessment,
        scopes: &scopes,
        pipelines,
    };
    let text = match c.format {
        ComplianceFormat::Table => {
            let colored = c.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            report::compliance::table::render(&r, colored, None)
        }
        ComplianceFormat::Json => report::compliance::json::render(&r),
        ComplianceFormat::Markdown => report::compliance::markdown::render(&r),
        ComplianceFormat::Csv => report::compliance::csv::render(&r).map_err(|e| e.to_string())?,
    };
    write_output(c.output.as_ref(), &text)?;
    for d in outcome
        .evaluation
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ScopeError)
    {
        eprintln!("pipeaudit: error: {}", control(&d.message));
    }
    for (account, e) in &failed_accounts {
        eprintln!(
            "pipeaudit: account {} could not be audited: {}",
            control(account),
            control(&e.to_string())
        );
    }
    Ok(assessment.exit_code(
        &outcome.evaluation.diagnostics,
        !failed_accounts.is_empty(),
        c.exit_zero,
        c.allow_partial || a.allow_partial,
    ))
}

/// What was audited: the scopes, the pipelines, the evaluation (made with
/// `config`), and the accounts that could not be audited.
type Evaluated = (Vec<Scope>, usize, Evaluation, Vec<(String, String)>);

/// Loads or collects (one account, or several with --accounts / --role-arn)
/// and evaluates.
fn evaluate(
    g: &GlobalArgs,
    a: &AuditArgs,
    rules: &RuleSet,
    config: &Config,
) -> Result<Evaluated, String> {
    if g.accounts_file.is_some() || g.role_arns.len() > 1 || g.shard.is_some() {
        if a.snapshot.is_some() {
            return Err(
                "--snapshot assesses one saved snapshot; --accounts, --shard and several --role-arn collect live"
                    .to_string(),
            );
        }
        return evaluate_accounts(g, rules, config);
    }
    let snapshot = match &a.snapshot {
        Some(path) => Snapshot::load(path).map_err(|e| e.to_string())?,
        None => collect_live(g)?,
    };
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    let pipelines = snapshot.pipelines.len();
    let evaluation = engine::evaluate(Arc::new(snapshot), rules, config);
    Ok((scopes, pipelines, evaluation, Vec::new()))
}

/// The accounts of --accounts / --role-arn, audited as the audit does.
fn evaluate_accounts(
    g: &GlobalArgs,
    rules: &RuleSet,
    config: &Config,
) -> Result<Evaluated, String> {
    let list = targets(g)?;
    let (connect, mut opts) = collect_options(g);
    opts.progress = false;
    let org = crate::org::OrgOptions {
        external_id: g.external_id.clone(),
        account_concurrency: usize::from(g.account_concurrency),
        save_dir: None,
        audit: super::audit_targets(g)?,
    };
    let region = opts
        .regions
        .first()
        .map(String::as_str)
        .filter(|r| *r != crate::collect::ALL_ENABLED);
    let audit = runtime()?.block_on(async {
        let base = crate::collect::clients::load_config(&connect, region).await;
        crate::org::audit_accounts(
            &base,
            list,
            &opts,
            &org,
            Arc::new(rules.clone()),
            Arc::new(config.clone()),
            |_| {},
        )
        .await
    });
    let failed: Vec<(String, String)> = audit
        .failed()
        .map(|(t, e)| (t.account.clone(), e.to_string()))
        .collect();
    let pipelines = audit.evaluation.pipelines;
    Ok((audit.scopes, pipelines, audit.evaluation, failed))
}
