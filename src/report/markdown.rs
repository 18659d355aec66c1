//! A Markdown summary for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
use super::escape::{code, code_cell, markdown, markdown_cell};

/// At most this many wiring diagrams in one summary.
pub const MAX_DIAGRAMS: usize = 20;
/// At most this many characters of diagrams in one summary (GitHub takes a
/// step summary of up to 1 MiB).
pub const MAX_DIAGRAM_TEXT: usize = 400_000;

/// Renders totals by severity and a table per pipeline, linking rule docs
/// under `docs_url` when there is one ([`super::docs_base`]),
/// each followed by the pipeline's wiring diagram from `diagrams` (Mermaid,
/// by pipeline ARN) while within [`MAX_DIAGRAMS`] and [`MAX_DIAGRAM_TEXT`].
pub fn render(
    r: &Report<'_>,
    docs_url: Option<&str>,
    diagrams: &BTreeMap<String, String>,
) -> String {
    let mut shown = 0usize;
    let mut text = 0usize;
    let mut left_out = 0usize;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## pipeaudit: {} finding(s) in {} pipeline(s)\n",
        r.findings.len(),
        r.pipelines
    );
    let accounts = r.accounts();
    if accounts.len() == 1 {
        let _ = writeln!(
            out,
            "Account {}, region(s) {}.\n",
            code(&accounts.join("")),
            markdown(&r.regions().join(", "))
        );
    } else {
        let _ = writeln!(
            out,
            "{} account(s), region(s) {}.\n",
            accounts.len(),
            markdown(&r.regions().join(", "))
        );
    }
    let _ = writeln!(out, "| severity | findings |\n|---|---|");
    for (s, n) in r.by_severity() {
        let _ = writeln!(out, "| {s} | {n} |");
    }
    for (name, arn, group) in r.by_pipeline() {
        let _ = writeln!(
            out,
            "\n### {}\n\n| severity | rule | resource | message |\n|---|---|---|---|",
            markdown(name)
        );
        for f in group {
            let _ = writeln!(
                out,
                "| {} | {} {} | {} | {} |",
                f.severity,
                match docs_url {
                    Some(base) => format!(
                        "[{}]({})",
                        markdown_cell(&f.rule_id),
                        super::rule_page(base, &f.rule_id)
                    ),
                    None => markdown_cell(&f.rule_id),
                },
                code_cell(&f.slug),
                match &f.defined_in {
                    Some(d) => format!(
                        "{}<br>defined in {}",
                        code_cell(&f.resource_arn),
                        code_cell(&d.to_string())
                    ),
                    None => code_cell(&f.resource_arn),
                },
                markdown_cell(&f.message)
            );
        }
        if let Some(d) = diagrams.get(arn) {
            if shown < MAX_DIAGRAMS && text + d.len() <= MAX_DIAGRAM_TEXT {
                let _ = write!(out, "\n```mermaid\n{d}```\n");
                shown += 1;
                text += d.len();
            } else {
                left_out += 1;
            }
        }
    }
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n_{left_out} wiring diagram(s) left out to stay within GitHub's limits; `pipeaudit graph` draws them all._"
        );
    }
    let groups = r.diagnostic_groups();
    for (title, list) in [
        ("Not checked", &groups.not_checked),
        ("Ignores", &groups.ignores),
        (
            "Notes (limits of the audit; they do not change the exit code)",
            &groups.notes,
        ),
        ("Not located in infrastructure as code", &groups.unlocated),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n### {title} ({})\n", list.len());
        for d in list.iter() {
            let _ = writeln!(out, "- {}", markdown(&d.message));
        }
    }
    out
}
