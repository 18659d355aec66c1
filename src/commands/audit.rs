//! The audit of one account (or of a saved snapshot): collect or load,
//! evaluate, locate with --iac, report.

use std::sync::Arc;

use super::Error;
use super::live::snapshot_of;
use super::locate::{iac_index, keep_stacks, locate, read_stacks};
use super::output::write_report;
use crate::cli::{AuditArgs, GlobalArgs};
use crate::report;
use crate::rules::config::Config;
use crate::rules::{RuleSet, engine};

/// Audits one account, or the snapshot of --snapshot.
pub fn run(g: &GlobalArgs, a: &AuditArgs, rules: &RuleSet, config: &Config) -> Result<u8, Error> {
    // The --iac paths are checked before collecting (a bad --iac fails
    // fast); the templates are read only when a finding needs locating.
    let iac_index = iac_index(a, config)?;
    let live = a.input.snapshot.is_none();
    let mut snapshot = snapshot_of(g, &a.input)?;
    if live {
        if iac_index.is_some() {
            let read = read_stacks(g, &snapshot, None)?;
            keep_stacks(&mut snapshot, read);
        }
        if let Some(p) = &a.save_snapshot {
            snapshot.save(p).map_err(|e| Error::snapshot(p, e))?;
        }
    }
    let snapshot = Arc::new(snapshot);
    let mut eval = engine::evaluate(snapshot.clone(), rules, config);
    if let Some(index) = &iac_index {
        let diagnostics = locate(&snapshot, rules, index, &mut eval.findings)?;
        eval.diagnostics.extend(diagnostics);
    }
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    write_report(a, rules, &scopes, &mut eval, Some(&snapshot), "pipeaudit")
}
