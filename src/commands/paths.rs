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
