//! The audit (the default command): collect or load, evaluate, report.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;

use super::{collect_live, load_config, load_rules, targets, write_output};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::findings::{DiagnosticKind, Finding, Severity};
use crate::model::Snapshot;
use crate::report::{self, CommandFindings, Format, Report};
use crate::rules::{RuleSet, engine};

/// Runs the audit, or remediation with --remediate, or the audit of several
/// accounts.
pub fn run(g: &GlobalArgs, a: &AuditArgs) -> Result<u8, String> {
    // Everything that can be wrong with the input is checked before collecting.
    let rules = load_rules(a)?;
    let config = load_config(a, &rules)?;
    if a.remediate {
        return super::remediate::run(g, a, &rules, &config);
    }
    if !a.templates.is_empty() {
        return super::template::run(g, a, &rules, &config);
    }
    if !a.tf_plans.is_empty() {
        return super::tfplan::run(g, a, &rules, &config);
    }
    if g.accounts_file.is_some() || g.role_arns.len() > 1 || g.shard.is_some() {
        if !a.iac.is_empty() {
            return Err(
                "--iac locates the findings of one account; --accounts, --shard and several --role-arn audit many"
                    .to_string(),
            );
        }
        if a.snapshot.is_some() {
            return Err(
                "--snapshot audits one saved snapshot; --accounts, --shard and several --role-arn collect live"
                    .to_string(),
            );
        }
        let list = targets(g)?;
        return super::org::run(g, a, rules, config, list);
    }
    // The --iac paths are checked before collecting (a bad --iac fails
    // fast); the templates are read only when a finding needs locating.
    let iac_index = iac_index(a, &config)?;
    let snapshot = match &a.snapshot {
        Some(path) => Snapshot::load(path).map_err(|e| e.to_string())?,
        None => {
            let mut s = collect_live(g)?;
            if iac_index.is_some() {
                let read = super::read_stacks(g, &s, None)?;
                super::keep_stacks(&mut s, read);
            }
            if let Some(p) = &a.save_snapshot {
                s.save(p).map_err(|e| e.to_string())?;
            }
            s
        }
    };
    let snapshot = Arc::new(snapshot);
    let mut eval = engine::evaluate(snapshot.clone(), &rules, &config);
    if let Some(index) = &iac_index {
        let diagnostics = locate(&snapshot, &rules, index, &mut eval.findings)?;
        eval.diagnostics.extend(diagnostics);
    }
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    write_report(a, &rules, &scopes, &mut eval, Some(&snapshot), "pipeaudit")
}

/// The templates under --iac (paths checked, files read on first use), when
/// it is given.
pub(super) fn iac_index(
    a: &AuditArgs,
    config: &crate::rules::config::Config,
) -> Result<Option<crate::iac::Lazy>, String> {
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
    crate::iac::Lazy::new(opts).map(Some)
}

/// Points each finding at its definition; diagnostics for those that could not be.
fn locate(
    snapshot: &Snapshot,
    rules: &RuleSet,
    index: &crate::iac::Lazy,
    findings: &mut [crate::findings::Finding],
) -> Result<Vec<crate::findings::Diagnostic>, String> {
    let mut out = Vec::new();
    if snapshot.stacks.is_empty() && !snapshot.resources.pipelines.is_empty() {
        out.push(crate::findings::Diagnostic {
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
            index.get()?,
        ));
    }
    Ok(out)
}

/// The Mermaid wiring diagram of each pipeline with findings, by ARN
/// (those beyond Mermaid's limits left out).
fn diagrams(snapshot: &Snapshot, findings: &[Finding]) -> BTreeMap<String, String> {
    snapshot
        .pipelines
        .iter()
        .filter(|w| findings.iter().any(|f| f.pipeline_arn == w.arn))
        .filter_map(|w| {
            let g = crate::graph::build(snapshot, w, findings);
            crate::graph::mermaid::render(&g).map(|d| (w.arn.clone(), d))
        })
        .collect()
}

/// The HTML report: every pipeline with its wiring graph when the snapshot
/// is at hand, else the pipelines with findings.
/// The base of the rule pages the reports link to.
pub(super) fn docs_url(a: &AuditArgs) -> Option<String> {
    report::docs_base(a.docs_url.as_deref(), report::REPOSITORY)
}

fn html(
    a: &AuditArgs,
    rules: &RuleSet,
    report: &Report<'_>,
    snapshot: Option<&Snapshot>,
) -> String {
    let pipelines: Vec<report::html::Pipeline<'_>> = match snapshot {
        Some(s) => s
            .pipelines
            .iter()
            .map(|w| report::html::Pipeline {
                name: &w.name,
                arn: &w.arn,
                graph: Some(crate::graph::build(s, w, report.findings)),
            })
            .collect(),
        None => report
            .by_pipeline()
            .into_iter()
            .map(|(name, arn, _)| report::html::Pipeline {
                name,
                arn,
                graph: None,
            })
            .collect(),
    };
    let files: Vec<&crate::rules::RuleFile> = rules.rules.iter().map(|r| &r.file).collect();
    let docs = docs_url(a);
    report::html::render(
        report,
        &report::html::Context {
            taken_at: snapshot.map(|s| s.taken_at.as_str()),
            pipelines,
            rules: &files,
            docs_url: docs.as_deref(),
        },
    )
}

/// Renders and writes the report of an evaluation; the exit code of its findings.
pub(super) fn write_report(
    a: &AuditArgs,
    rules: &RuleSet,
    scopes: &[report::Scope],
    eval: &mut engine::Evaluation,
    snapshot: Option<&Snapshot>,
    sarif_category: &str,
) -> Result<u8, String> {
    if let Some(p) = &a.baseline_findings {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let previous: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a JSON report: {e}", p.display()))?;
        if previous
            .get("findings")
            .and_then(|f| f.as_array())
            .is_none()
        {
            return Err(format!(
                "{} is not a pipeaudit JSON report (no `findings` list)",
                p.display()
            ));
        }
        eval.findings = crate::drift::new_findings(std::mem::take(&mut eval.findings), &previous);
    }
    let report = Report {
        scopes,
        pipelines: eval.pipelines,
        findings: &eval.findings,
        diagnostics: &eval.diagnostics,
    };
    let text = match a.format {
        Format::Json => report::json::render(&report),
        Format::Markdown => {
            let diagrams = snapshot
                .map(|s| diagrams(s, &eval.findings))
                .unwrap_or_default();
            report::markdown::render(&report, docs_url(a).as_deref(), &diagrams)
        }
        Format::Html => html(a, rules, &report, snapshot),
        Format::Sarif => {
            let gaps = eval
                .diagnostics
                .iter()
                .filter(|d| d.kind.is_gap() || d.kind == DiagnosticKind::ScopeError)
                .count();
            if gaps > 0 && !a.allow_partial {
                return Err(format!(
                    "{gaps} check(s) could not be made because values were not collected; refusing to write SARIF that would close alerts on unread resources (see --format json for the gaps, or pass --allow-partial)"
                ));
            }
            let files: Vec<&crate::rules::RuleFile> = rules.rules.iter().map(|r| &r.file).collect();
            let rendered = report::sarif::render_with_category(
                &report,
                &files,
                docs_url(a).as_deref(),
                sarif_category,
            )
            .map_err(|e| e.to_string())?;
            for (category, dropped) in &rendered.truncated {
                eprintln!(
                    "pipeaudit: run {category}: {dropped} least severe result(s) left out to stay within {} results per run",
                    report::sarif::MAX_RESULTS
                );
            }
            rendered.text
        }
        Format::Table => {
            let colored = a.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            report::table::render(&report, colored, None)
        }
    };
    write_output(a.output.as_ref(), &text)?;
    // A scope that could not be listed (a region's pipelines, say) means
    // part of the audit did not happen: say which.
    for d in eval
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ScopeError)
    {
        eprintln!(
            "pipeaudit: error: {}",
            crate::report::escape::control(&d.message)
        );
    }
    let code = report::exit_code(&CommandFindings::Audit {
        findings: &eval.findings,
        diagnostics: &eval.diagnostics,
        fail_on: a.fail_on.unwrap_or(Severity::Info),
        exit_zero: a.exit_zero,
        allow_partial: a.allow_partial,
    });
    // Gaps alone make a run fail: say so on stderr, once, whatever the format.
    let gaps = eval.diagnostics.iter().filter(|d| d.kind.is_gap()).count();
    if gaps > 0 && !a.allow_partial && code == report::EXIT_ERROR {
        eprintln!(
            "pipeaudit: error: {gaps} check(s) could not be made (listed in the report); pass --allow-partial to exit as the findings say"
        );
    }
    Ok(code)
}
