//! What the commands share to write: the output file or stdout, the colour
//! decision, the audit report (used by the audit, the audit of several
//! accounts, template and plan mode, and `paths`), the patch of
//! --fix-patch, and the scopes that could not be listed.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use super::Error;
use crate::cli::AuditArgs;
use crate::findings::{Diagnostic, DiagnosticKind, Finding, Severity};
use crate::model::Snapshot;
use crate::report::escape::control;
use crate::report::{self, CommandFindings, Format, Report};
use crate::rules::{RuleSet, engine};

/// Writes `text` to `path`, or to stdout.
pub(super) fn write_output(path: Option<&PathBuf>, text: &str) -> Result<(), Error> {
    write_output_with(path, |out| out.write_all(text.as_bytes()))
}

/// [`write_output`] for output written piece by piece by `write`.
pub(super) fn write_output_with(
    path: Option<&PathBuf>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    match path {
        Some(p) => std::fs::File::create(p)
            .and_then(|mut file| write(&mut file))
            .map_err(|e| Error::write(p, e)),
        None => {
            let mut out = std::io::stdout().lock();
            write(&mut out)
                .and_then(|_| out.flush())
                .map_err(|e| Error::io("write to", Path::new("stdout"), e))
        }
    }
}

/// Whether a table is coloured: written to a terminal, and NO_COLOR unset
/// (or empty).
pub(super) fn colored(output: Option<&PathBuf>) -> bool {
    output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A scope that could not be listed (a region's pipelines, say) means
/// part of the run did not happen: says which, on stderr.
pub(super) fn print_scope_errors(diagnostics: &[Diagnostic]) {
    for d in diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ScopeError)
    {
        eprintln!("pipeaudit: error: {}", control(&d.message));
    }
}

/// Writes the patch of `--fix-patch` and prints what it closes.
pub(super) fn write_patch(out: &Path, p: &crate::patch::verify::Patches) -> Result<(), Error> {
    std::fs::write(out, p.diff()).map_err(|e| Error::write(out, e))?;
    eprint!("{}", crate::patch::summary(p, &out.display().to_string()));
    Ok(())
}

/// The base of the rule pages the reports link to.
pub(super) fn docs_url(a: &AuditArgs) -> Option<String> {
    report::docs_base(a.docs_url.as_deref(), report::REPOSITORY)
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
) -> Result<u8, Error> {
    if let Some(p) = &a.baseline_findings {
        let text = std::fs::read_to_string(p).map_err(|e| Error::read(p, e))?;
        let previous: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("{} is not a JSON report: {e}", p.display())))?;
        if previous
            .get("findings")
            .and_then(|f| f.as_array())
            .is_none()
        {
            return Err(Error::Usage(format!(
                "{} is not a pipeaudit JSON report (no `findings` list)",
                p.display()
            )));
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
                return Err(Error::Usage(format!(
                    "{gaps} check(s) could not be made because values were not collected; refusing to write SARIF that would close alerts on unread resources (see --format json for the gaps, or pass --allow-partial)"
                )));
            }
            let files: Vec<&crate::rules::RuleFile> = rules.rules.iter().map(|r| &r.file).collect();
            let rendered = report::sarif::render_with_category(
                &report,
                &files,
                docs_url(a).as_deref(),
                sarif_category,
            )
            .map_err(Error::stage)?;
            for (category, dropped) in &rendered.truncated {
                eprintln!(
                    "pipeaudit: run {category}: {dropped} least severe result(s) left out to stay within {} results per run",
                    report::sarif::MAX_RESULTS
                );
            }
            rendered.text
        }
        Format::Table => report::table::render(&report, colored(a.out.output.as_ref()), None),
    };
    write_output(a.out.output.as_ref(), &text)?;
    print_scope_errors(&eval.diagnostics);
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
