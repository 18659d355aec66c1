//! `pipeaudit drift`: what changed since an approved baseline snapshot.

use std::path::PathBuf;

use super::{collect_live, load_config, load_rules, write_output};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::model::Snapshot;
use crate::report::{self, Format, Outcome};

/// The options of `drift`.
pub struct DriftArgs {
    pub baseline: PathBuf,
    pub snapshot: Option<PathBuf>,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub exit_zero: bool,
}

/// Compares the baseline with a snapshot (or a live collection) and reports.
pub fn run(g: &GlobalArgs, a: &AuditArgs, d: &DriftArgs) -> Result<u8, String> {
    if d.format == Format::Html {
        return Err(report::drift::HTML_IS_AUDIT_ONLY.to_string());
    }
    let rules = load_rules(a)?;
    let config = load_config(a, &rules)?;
    let base = Snapshot::load(&d.baseline).map_err(|e| e.to_string())?;
    let current = match &d.snapshot {
        Some(p) => Snapshot::load(p).map_err(|e| e.to_string())?,
        None => collect_live(g)?,
    };
    let drift =
        crate::drift::compare(&base, &current, &rules, &config).map_err(|e| e.to_string())?;
    let text = report::drift::render(&drift, &current, d.format, &a.docs_url)
        .map_err(|e| e.to_string())?;
    write_output(d.output.as_ref(), &text)?;
    Ok(report::exit_code(&Outcome::Drift {
        changes: drift.changes.len(),
        exit_zero: d.exit_zero,
    }))
}
