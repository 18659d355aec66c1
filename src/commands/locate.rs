//! Locating findings in infrastructure as code (--iac): the templates
//! under --iac, the stacks that manage the resources, and the findings
//! pointed at their definitions. Used by the audit, drift and remediation.

use std::collections::{BTreeMap, BTreeSet};

use super::Error;
use super::live::{act_config, collect_options, runtime};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::findings::{Diagnostic, DiagnosticKind, Finding};
use crate::model::{Observed, Snapshot, StackRef};
use crate::rules::RuleSet;
use crate::rules::config::Config;

/// The templates under --iac (paths checked, files read on first use), when
/// it is given.
pub(super) fn iac_index(a: &AuditArgs, config: &Config) -> Result<Option<crate::iac::Lazy>, Error> {
    if a.iac.is_empty() {
        return Ok(None);
    }
    let opts = crate::iac::Options {
        dirs: a.iac.clone(),
        root: a
            .iac_root
            .clone()
            .unwrap_or_else(|| std::path::PathBuf::from(".")),
        stacks: config.iac.stack_paths(),
        tf_states: a.tf_states.clone(),
    };
    crate::iac::Lazy::new(opts).map(Some).map_err(Error::stage)
}

/// Points each finding at its definition; diagnostics for those that could not be.
pub(super) fn locate(
    snapshot: &Snapshot,
    rules: &RuleSet,
    index: &crate::iac::Lazy,
    findings: &mut [Finding],
) -> Result<Vec<Diagnostic>, Error> {
    let mut out = Vec::new();
    if snapshot.stacks.is_empty() && !snapshot.resources.pipelines.is_empty() {
        out.push(Diagnostic {
            kind: DiagnosticKind::IacLocation,
            account: None,
            rule_id: None,
            pipeline: None,
            resource: None,
            permission: None,
            message: "the snapshot holds no stack membership of its resources (collect it with --iac and --save-snapshot); findings keep their pseudo-paths".to_string(),
        });
    }
    if crate::iac::needs_templates(findings, &snapshot.stacks, index.has_states()) {
        out.extend(crate::iac::locate(
            findings,
            &snapshot.stacks,
            rules,
            index.get().map_err(Error::stage)?,
        ));
    }
    Ok(out)
}

/// The stacks read for a snapshot's resources, and the calls made.
pub(super) type StacksRead = (BTreeMap<String, Observed<StackRef>>, BTreeMap<String, u64>);

/// Reads which stack manages each resource of `snapshot` (or those in
/// `only`), with calls counted apart from the collection's.
pub(super) fn read_stacks(
    g: &GlobalArgs,
    snapshot: &Snapshot,
    only: Option<&BTreeSet<String>>,
) -> Result<StacksRead, Error> {
    let (connect, opts) = collect_options(g);
    let region = snapshot.regions.first().cloned();
    let (stacks, calls) = runtime()?.block_on(async {
        let (cfg, _) = act_config(g, &connect, region.as_deref()).await?;
        Ok::<_, Error>(
            crate::collect::stacks::read_with_config(&cfg, snapshot, opts.concurrency, only).await,
        )
    })?;
    if !g.quiet {
        let managed = stacks.values().filter(|s| s.value().is_some()).count();
        let made: u64 = calls.values().sum();
        eprintln!(
            "pipeaudit: {managed} of {} resource(s) managed by a CloudFormation stack, read with {made} API call(s) apart from the audit's",
            stacks.len()
        );
    }
    Ok((stacks, calls))
}

/// Keeps stacks read in the snapshot.
pub(super) fn keep_stacks(snapshot: &mut Snapshot, (stacks, calls): StacksRead) {
    snapshot.stacks.extend(stacks);
    for (k, v) in calls {
        *snapshot.stack_api_calls.entry(k).or_insert(0) += v;
    }
}
