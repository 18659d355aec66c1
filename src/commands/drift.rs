//! `pipeaudit drift`: what changed since an approved baseline snapshot.

use std::path::PathBuf;

use super::{collect_live, load_config, load_rules, write_output};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::model::Snapshot;
use crate::report::{self, CommandFindings, Format};

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
    let iac_index = super::audit::iac_index(a, &config)?;
    let base = Snapshot::load(&d.baseline).map_err(|e| e.to_string())?;
    let live = d.snapshot.is_none();
    let mut current = match &d.snapshot {
        Some(p) => Snapshot::load(p).map_err(|e| e.to_string())?,
        None => collect_live(g)?,
    };
    let mut drift =
        crate::drift::compare(&base, &current, &rules, &config).map_err(|e| e.to_string())?;
    // With --iac, a live run reads the stacks of the drifted resources.
    if live && iac_index.is_some() && !drift.changes.is_empty() {
        let changed = drift.changes.iter().map(|c| c.arn.clone()).collect();
        let read = super::read_stacks(g, &current, Some(&changed))?;
        super::keep_stacks(&mut current, read);
    }
    name_stacks(&mut drift, &base, &current, iac_index.as_ref())?;
    let text = report::drift::render(
        &drift,
        &current,
        d.format,
        super::audit::docs_url(a).as_deref(),
    )
    .map_err(|e| e.to_string())?;
    write_output(d.output.as_ref(), &text)?;
    Ok(report::exit_code(&CommandFindings::Drift {
        changes: drift.changes.len(),
        exit_zero: d.exit_zero,
    }))
}

/// Names the stack (and with --iac the template line) of each drifted
/// resource a stack manages, as the current snapshot (else the baseline)
/// knows it.
fn name_stacks(
    drift: &mut crate::drift::Drift,
    base: &Snapshot,
    current: &Snapshot,
    index: Option<&crate::iac::Lazy>,
) -> Result<(), String> {
    for c in &mut drift.changes {
        let Some(s) = current
            .stacks
            .get(&c.arn)
            .or_else(|| base.stacks.get(&c.arn))
            .and_then(|s| s.value())
        else {
            continue;
        };
        let template = match (index, crate::iac::cloudformation_type(&c.resource_kind)) {
            (Some(index), Some(ty)) => index
                .get()?
                .template_of(s, ty)
                .ok()
                .and_then(|t| Some(t.locate(s, None)?.to_string())),
            _ => None,
        };
        c.managed_by = Some(crate::iac::Managed {
            stack: s.stack.clone(),
            logical_id: s.logical_id.clone(),
            template,
        });
    }
    Ok(())
}
