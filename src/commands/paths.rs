//! `pipeaudit paths`: who can ship to production around the pipeline, with
//! the witness of each path (see [`crate::aws::release`]).

use globset::{Glob, GlobSetBuilder};

use super::Error;
use super::live::snapshot_of;
use super::output::{write_output, write_report};
use super::{load_config, load_rules};
use crate::aws::release;
use crate::cli::{AuditArgs, GlobalArgs, PathsArgs, PathsFormat};
use crate::model::Snapshot;
use crate::report::paths::{PathsReport, has_open_paths, json, markdown, table};
use crate::report::{EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};

/// Analyses and reports; exit 1 when an untrusted path exists, 2 when the
/// principals could not be read.
pub fn run(g: &GlobalArgs, a: &AuditArgs, p: &PathsArgs) -> Result<u8, Error> {
    let mut a = a.clone();
    a.rules = p.rules.after(&a.rules);
    a.input = p.input.after(&a.input);
    let rules = load_rules(&a.rules)?;
    let config = load_config(&a.rules, &rules)?;
    let pipelines = crate::collect::pipeline_filter(&g.pipelines)?;
    let mut principals = GlobSetBuilder::new();
    for x in &p.principals {
        principals
            .add(Glob::new(x).map_err(|e| {
                Error::Usage(format!("--principal {x:?} is not a valid glob: {e}"))
            })?);
    }
    let principals = principals
        .build()
        .map_err(|e| Error::Usage(format!("--principal: {e}")))?;
    let mut snapshot = snapshot_of(g, &a.input)?;
    if let PathsFormat::Sarif | PathsFormat::Html = p.format {
        if let Some(set) = &pipelines {
            snapshot.pipelines.retain(|w| set.is_match(&w.name));
        }
        return as_audit_report(&a, p, &rules, &config, snapshot, &principals);
    }
    let mut analysis = release::analyse(&snapshot, &config.release_paths.trusted());
    analysis
        .pipelines
        .retain(|x| pipelines.as_ref().is_none_or(|f| f.is_match(&x.name)));
    if !p.principals.is_empty() {
        for x in &mut analysis.pipelines {
            x.paths.retain(|r| principals.is_match(&r.principal));
            x.full_control.retain(|f| principals.is_match(&f.principal));
        }
    }
    let not_analysed = matches!(analysis.status, release::Status::NotAnalysed { .. });
    let report = PathsReport {
        account: &snapshot.account,
        analysis,
    };
    let text = match p.format {
        PathsFormat::Table => table(&report),
        PathsFormat::Json => json(&report),
        PathsFormat::Markdown => markdown(&report),
        // written as an audit report above
        PathsFormat::Sarif | PathsFormat::Html => String::new(),
    };
    write_output(p.out.output.as_ref(), &text)?;
    Ok(if not_analysed {
        EXIT_ERROR
    } else if has_open_paths(&report.analysis) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// SARIF and HTML: the release-path rules (RP001-RP009) evaluated as an
/// audit of only them, written by the audit's report writers (a code flow
/// per chain; the HTML report's "Who can ship"), SARIF under its own
/// `pipeaudit-paths/...` categories so that it never closes the audit's
/// alerts. `--pipeline` is applied by the collection or below, `--principal`
/// to the findings' principals.
fn as_audit_report(
    a: &AuditArgs,
    p: &PathsArgs,
    rules: &crate::rules::RuleSet,
    config: &crate::rules::config::Config,
    snapshot: Snapshot,
    principals: &globset::GlobSet,
) -> Result<u8, Error> {
    let only = crate::rules::RuleSet {
        rules: rules
            .rules
            .iter()
            .filter(|r| r.area() == "RP")
            .cloned()
            .collect(),
    };
    let snapshot = std::sync::Arc::new(snapshot);
    let mut eval = crate::rules::engine::evaluate(snapshot.clone(), &only, config);
    if !p.principals.is_empty() {
        eval.findings
            .retain(|f| principals.is_match(&f.resource_arn));
    }
    let mut args = a.clone();
    args.format = match p.format {
        PathsFormat::Sarif => crate::report::Format::Sarif,
        _ => crate::report::Format::Html,
    };
    args.out = p.out.clone();
    let scopes = crate::report::scopes(&snapshot.account, &snapshot.regions);
    write_report(
        &args,
        &only,
        &scopes,
        &mut eval,
        Some(&snapshot),
        "pipeaudit-paths",
    )
}
