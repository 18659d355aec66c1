//! `--remediate`: plan, show, confirm, apply (see `remediate::apply`).

use std::io::IsTerminal;
use std::sync::Arc;

use super::Error;
use super::live::{act_config, collect_live, collect_options, runtime};
use super::locate::{iac_index, read_stacks};
use super::output::{write_output, write_patch};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::collect::clients::{ConnectOptions, RegionClients};
use crate::model::Snapshot;
use crate::remediate::Error as RemediateError;
use crate::remediate::apply::{self, Account, ApplyOptions};
use crate::remediate::render::render_text;
use crate::remediate::verify::Status;
use crate::report::{self, CommandFindings, EXIT_FINDINGS, Format};
use crate::rules::config::Config;
use crate::rules::{RuleSet, engine};

/// The audited account, as applying sees it.
struct Live<'a> {
    g: &'a GlobalArgs,
    connect: ConnectOptions,
    rt: &'a tokio::runtime::Runtime,
}

impl Account for Live<'_> {
    fn clients(&mut self, region: &str) -> Result<RegionClients, RemediateError> {
        let (cfg, _) = self
            .rt
            .block_on(act_config(self.g, &self.connect, Some(region)))
            .map_err(RemediateError::account)?;
        Ok(RegionClients::new(&cfg))
    }

    fn collect(&mut self) -> Result<Snapshot, RemediateError> {
        collect_live(self.g).map_err(RemediateError::account)
    }

    fn confirm(&mut self, n: usize) -> Result<bool, RemediateError> {
        confirm(n).map_err(RemediateError::account)
    }
}

/// Plans, shows, and (unless --dry-run) applies the fixes of an audit.
/// The format is table or JSON: the parser refuses the others
/// ([`crate::cli::REMEDIATE_FORMATS`]).
pub fn run(g: &GlobalArgs, a: &AuditArgs, rules: &RuleSet, config: &Config) -> Result<u8, Error> {
    let json = a.format == Format::Json;
    // The --iac paths are checked before collecting (a bad --iac fails
    // fast); the templates are read when a planned change needs locating.
    let iac_index = iac_index(a, config)?;
    let no_iac = || {
        Error::Usage(
            "--fix-patch with --remediate needs --iac DIR: the templates to patch".to_string(),
        )
    };
    if a.fix_patch.is_some() && iac_index.is_none() {
        return Err(no_iac());
    }
    let snapshot = Arc::new(collect_live(g)?);
    let eval = engine::evaluate(snapshot.clone(), rules, config);
    let mut plan = crate::remediate::plan(&snapshot, &eval.findings, rules, config, a.unsafe_fixes);
    // Which stack manages each resource the plan would change: a change
    // made outside its stack is reverted by the next stack update.
    let targets = plan.resources();
    if !targets.is_empty() {
        if let Some(index) = &iac_index {
            index.get().map_err(Error::stage)?;
        }
        let (stacks, _) = read_stacks(g, &snapshot, Some(&targets))?;
        let types: std::collections::BTreeMap<&str, &str> = eval
            .findings
            .iter()
            .map(|f| (f.resource_arn.as_str(), f.resource_type.as_str()))
            .collect();
        let arn_of: std::collections::BTreeMap<(&str, &str), &str> = stacks
            .iter()
            .filter_map(|(arn, s)| {
                let s = s.value()?;
                Some(((s.stack.as_str(), s.logical_id.as_str()), arn.as_str()))
            })
            .collect();
        let template = |s: &crate::model::StackRef| {
            let index = iac_index.as_ref()?.get().ok()?;
            let arn = arn_of.get(&(s.stack.as_str(), s.logical_id.as_str()))?;
            let ty = types.get(arn)?;
            let t = index.template_of(s, ty).ok()?;
            let d = t.locate(s, None)?;
            Some(d.to_string())
        };
        plan.note_stacks(&stacks, template, !a.allow_drift);
        if let Some(out) = &a.fix_patch {
            let index = iac_index
                .as_ref()
                .ok_or_else(no_iac)?
                .get()
                .map_err(Error::stage)?;
            let mut located = Vec::new();
            let mut unlocated = Vec::new();
            for f in eval.findings.iter().filter(|f| f.fix.is_some()) {
                let Some(s) = stacks.get(&f.resource_arn).and_then(|s| s.value()) else {
                    continue;
                };
                match index.template_of(s, &f.resource_type) {
                    Ok(t) => located.push(crate::patch::live::Located {
                        finding: f,
                        file: index.root().join(&t.rel),
                        rel: t.rel.clone(),
                        stack: s.stack.clone(),
                        logical_id: s.logical_id.clone(),
                    }),
                    Err(why) => unlocated.push(crate::patch::verify::Manual {
                        rule_id: f.rule_id.clone(),
                        pipeline: f.pipeline.clone(),
                        resource_arn: f.resource_arn.clone(),
                        why: why.to_string(),
                    }),
                }
            }
            let mut p = crate::patch::live::patches(&located, &snapshot.account, rules, config)
                .map_err(Error::stage)?;
            p.manual.extend(unlocated);
            write_patch(out, &p)?;
        }
    } else if let Some(out) = &a.fix_patch {
        write_patch(out, &crate::patch::verify::Patches::default())?;
    }
    if a.dry_run || plan.actions.is_empty() {
        let text = if json {
            format!(
                "{}\n",
                serde_json::to_string_pretty(&plan).unwrap_or_default()
            )
        } else {
            render_text(&plan)
        };
        write_output(a.out.output.as_ref(), &text)?;
        return Ok(report::exit_code(&CommandFindings::Remediation {
            clean: plan.actions.is_empty(),
        }));
    }
    // Applying: the text plan is the report's head; with --format json the
    // one JSON document is the run's result, and the plan goes to stderr.
    if json {
        eprint!("{}", render_text(&plan));
    } else {
        write_output(a.out.output.as_ref(), &render_text(&plan))?;
    }
    if !a.yes && !confirm(plan.actions.len())? {
        eprintln!("pipeaudit: nothing applied");
        return Ok(EXIT_FINDINGS);
    }
    let rt = runtime()?;
    let mut account = Live {
        g,
        connect: collect_options(g).0,
        rt: &rt,
    };
    let opts = ApplyOptions {
        unsafe_fixes: a.unsafe_fixes,
        yes: a.yes,
        journal: a.journal.clone().unwrap_or_else(apply::default_journal),
        skip_resources: if !a.allow_drift {
            plan.iac_managed
                .keys()
                .chain(plan.iac_unknown.keys())
                .cloned()
                .collect()
        } else {
            Default::default()
        },
    };
    let report = apply::apply_plan(&rt, &plan, rules, config, &mut account, &opts)?;
    eprintln!(
        "pipeaudit: {} pass(es); {} fixed, {} still found after the re-audit, {} not verified (values could not be read again), {} not applied; {} finding(s) remain in total",
        report.passes,
        report.count(Status::Fixed),
        report.count(Status::Remaining),
        report.count(Status::Unverified),
        report.count(Status::NotApplied),
        report.findings_remaining
    );
    if json {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
        write_output(a.out.output.as_ref(), &text)?;
    }
    Ok(report::exit_code(&CommandFindings::Remediation {
        clean: report.clean(),
    }))
}

/// Asks on the terminal whether to apply `n` changes; an error without one.
fn confirm(n: usize) -> Result<bool, Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "--remediate without a terminal needs --yes (review the plan with --dry-run first)"
                .to_string(),
        ));
    }
    eprint!("Apply {n} change(s)? [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
