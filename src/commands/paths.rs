//! `pipeaudit paths`: who can ship to production around the pipeline, with
//! the witness of each path (see [`crate::aws::release`]).

use std::path::PathBuf;

use globset::{Glob, GlobSetBuilder};

use super::{collect_live, load_config, load_rules, write_output};
use crate::aws::release;
use crate::cli::{AuditArgs, GlobalArgs, PathsFormat};
use crate::model::Snapshot;
use crate::report::paths::{PathsReport, has_open_paths, json, markdown, table};
use crate::report::{EXIT_ERROR, EXIT_FINDINGS, EXIT_OK};

/// The arguments of `pipeaudit paths`.
pub struct PathsArgs {
    pub principals: Vec<String>,
    pub snapshot: Option<PathBuf>,
    pub format: PathsFormat,
    pub output: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

/// Analyses and reports; exit 1 when an untrusted path exists, 2 when the
/// principals could not be read.
pub fn run(g: &GlobalArgs, a: &AuditArgs, p: &PathsArgs) -> Result<u8, String> {
    let mut a = a.clone();
    if p.config.is_some() {
        a.config = p.config.clone();
    }
    let rules = load_rules(&a)?;
    let config = load_config(&a, &rules)?;
    let glob = |flag: &str, list: &[String]| -> Result<globset::GlobSet, String> {
        let mut b = GlobSetBuilder::new();
        for x in list {
            b.add(Glob::new(x).map_err(|e| format!("{flag} {x:?} is not a valid glob: {e}"))?);
        }
        b.build().map_err(|e| format!("{flag}: {e}"))
    };
    let pipelines = glob("--pipeline", &g.pipelines)?;
    let principals = glob("--principal", &p.principals)?;
    let snapshot = match &p.snapshot {
        Some(path) => Snapshot::load(path).map_err(|e| e.to_string())?,
        None => collect_live(g)?,
    };
    if let PathsFormat::Sarif | PathsFormat::Html = p.format {
        return as_audit_report(g, &a, p, &rules, &config, snapshot, &principals);
    }
    let mut analysis = release::analyse(&snapshot, &config.release_paths.trusted());
    analysis
        .pipelines
        .retain(|x| g.pipelines.is_empty() || pipelines.is_match(&x.name));
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
    write_output(p.output.as_ref(), &text)?;
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
    g: &GlobalArgs,
    a: &AuditArgs,
    p: &PathsArgs,
    rules: &crate::rules::RuleSet,
    config: &crate::rules::config::Config,
    mut snapshot: Snapshot,
    principals: &globset::GlobSet,
) -> Result<u8, String> {
    let only = crate::rules::RuleSet {
        rules: rules
            .rules
            .iter()
            .filter(|r| r.area() == "RP")
            .cloned()
            .collect(),
    };
    if !g.pipelines.is_empty() {
        let mut b = GlobSetBuilder::new();
        for x in &g.pipelines {
            b.add(Glob::new(x).map_err(|e| format!("--pipeline {x:?} is not a valid glob: {e}"))?);
        }
        let set = b.build().map_err(|e| format!("--pipeline: {e}"))?;
        snapshot.pipelines.retain(|w| set.is_match(&w.name));
    }
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
    args.output = p.output.clone();
    let scopes = crate::report::scopes(&snapshot.account, &snapshot.regions);
    super::audit::write_report(
        &args,
        &only,
        &scopes,
        &mut eval,
        Some(&snapshot),
        "pipeaudit-paths",
    )
}
