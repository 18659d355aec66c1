//! `pipeaudit drift`: what changed since an approved baseline snapshot.

use super::Error;
use super::live::{load_snapshot, snapshot_of};
use super::locate::{iac_index, keep_stacks, read_stacks};
use super::output::{docs_url, write_output};
use super::{load_config, load_rules};
use crate::cli::{AuditArgs, DriftArgs, GlobalArgs};
use crate::model::Snapshot;
use crate::report::{self, CommandFindings};

/// Compares the baseline with a snapshot (or a live collection) and reports.
/// `--iac` and `--docs-url` are the audit's, given before the command.
pub fn run(g: &GlobalArgs, a: &AuditArgs, d: &DriftArgs) -> Result<u8, Error> {
    let rules_config = d.rules.after(&a.rules);
    let rules = load_rules(&rules_config)?;
    let config = load_config(&rules_config, &rules)?;
    let iac_index = iac_index(a, &config)?;
    let base = load_snapshot(&d.baseline)?;
    let input = d.input.after(&a.input);
    let live = input.snapshot.is_none();
    let mut current = snapshot_of(g, &input)?;
    let mut drift =
        crate::drift::compare(&base, &current, &rules, &config).map_err(Error::stage)?;
    // With --iac, a live run reads the stacks of the drifted resources.
    if live && iac_index.is_some() && !drift.changes.is_empty() {
        let changed = drift.changes.iter().map(|c| c.arn.clone()).collect();
        let read = read_stacks(g, &current, Some(&changed))?;
        keep_stacks(&mut current, read);
    }
    name_stacks(&mut drift, &base, &current, iac_index.as_ref())?;
    let text = report::drift::render(&drift, &current, d.format.into(), docs_url(a).as_deref())
        .map_err(Error::stage)?;
    write_output(d.out.output.as_ref(), &text)?;
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
) -> Result<(), Error> {
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
                .get()
                .map_err(Error::stage)?
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
