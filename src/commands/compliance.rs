//! `pipeaudit compliance`: collect or load, evaluate, assess against one
//! framework, report. The assessment is in `crate::compliance`, the
//! reporters in `crate::report::compliance`.

use std::sync::Arc;

use super::Error;
use super::live::{home_region, org_setup, runtime, several_accounts, snapshot_of, targets};
use super::output::{colored, print_scope_errors, write_output};
use super::{load_config, load_rules};
use crate::cli::{AuditArgs, ComplianceArgs, GlobalArgs};
use crate::compliance;
use crate::report::compliance::{ComplianceFormat, ComplianceReport};
use crate::report::escape::control;
use crate::report::{self, EXIT_OK, Scope};
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine::{self, Evaluation};
use crate::rules::frameworks::Frameworks;

/// Lists the frameworks, or assesses one.
pub fn run(g: &GlobalArgs, a: &AuditArgs, c: &ComplianceArgs) -> Result<u8, Error> {
    if a.fail_on.is_some() {
        return Err(Error::Usage(
            "--fail-on does not apply to compliance: a control fails on any open finding of its rules (--exit-zero exits 0 anyway)"
                .to_string(),
        ));
    }
    // The audit's options given before the command, with the command's own.
    let rules_config = c.rules.after(&a.rules);
    let input = c.input.after(&a.input);
    let frameworks = Frameworks::builtin().map_err(Error::Rules)?;
    let rules = load_rules(&rules_config)?;
    if c.list {
        let text = report::compliance::list(&frameworks, &rules, c.format).map_err(Error::stage)?;
        write_output(c.out.output.as_ref(), &text)?;
        return Ok(EXIT_OK);
    }
    let id = c.framework.as_deref().unwrap_or_default();
    let framework = frameworks.get(id).ok_or_else(|| {
        Error::Usage(format!(
            "unknown framework {id:?} (known: {}); `pipeaudit compliance --list` lists them",
            frameworks.ids().join(", ")
        ))
    })?;
    let config = load_config(&rules_config, &rules)?;
    // Evaluated without the ignores, which are then applied keeping what
    // they suppress: a control with only accepted findings says so.
    let open_config = compliance::without_ignores(&config);
    let (scopes, pipelines, evaluation, failed_accounts) =
        evaluate(g, &input, &rules, &open_config)?;
    let outcome = compliance::accept(evaluation, &config);
    let assessment = compliance::assess(framework, &frameworks, &rules, &config, &outcome);
    let r = ComplianceReport {
        assessment: &assessment,
        scopes: &scopes,
        pipelines,
    };
    let text = match c.format {
        ComplianceFormat::Table => {
            report::compliance::table::render(&r, colored(c.out.output.as_ref()), None)
        }
        ComplianceFormat::Json => report::compliance::json::render(&r),
        ComplianceFormat::Markdown => report::compliance::markdown::render(&r),
        ComplianceFormat::Csv => report::compliance::csv::render(&r).map_err(Error::stage)?,
    };
    write_output(c.out.output.as_ref(), &text)?;
    print_scope_errors(&outcome.evaluation.diagnostics);
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
        c.allow_partial_controls || a.allow_partial,
    ))
}

/// What was audited: the scopes, the pipelines, the evaluation (made with
/// `config`), and the accounts that could not be audited.
type Evaluated = (Vec<Scope>, usize, Evaluation, Vec<(String, String)>);

/// Loads or collects (one account, or several with --accounts / --role-arn)
/// and evaluates.
fn evaluate(
    g: &GlobalArgs,
    input: &crate::cli::Input,
    rules: &RuleSet,
    config: &Config,
) -> Result<Evaluated, Error> {
    if several_accounts(g) {
        if input.snapshot.is_some() {
            return Err(Error::Usage(
                "--snapshot assesses one saved snapshot; --accounts, --shard and several --role-arn collect live"
                    .to_string(),
            ));
        }
        return evaluate_accounts(g, rules, config);
    }
    let snapshot = snapshot_of(g, input)?;
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    let pipelines = snapshot.pipelines.len();
    let evaluation = engine::evaluate(Arc::new(snapshot), rules, config);
    Ok((scopes, pipelines, evaluation, Vec::new()))
}

/// The accounts of --accounts / --role-arn, audited as the audit does.
fn evaluate_accounts(g: &GlobalArgs, rules: &RuleSet, config: &Config) -> Result<Evaluated, Error> {
    let list = targets(g)?;
    let (connect, opts, org) = org_setup(g, None)?;
    let region = home_region(&opts.regions);
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
