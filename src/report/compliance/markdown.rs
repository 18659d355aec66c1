//! A compliance assessment in Markdown, for `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write;

use super::{ComplianceReport, failing_cell, note, rules_cell};
use crate::report::escape::markdown_cell as cell;

/// Renders a heading, the total, and a table of the controls with their notes.
pub fn render(r: &ComplianceReport<'_>) -> String {
    let a = r.assessment;
    let f = &a.framework;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## pipeaudit compliance: {} {}\n\n{}.\n\n**{}**\n",
        cell(&f.title),
        cell(&f.version),
        cell(&r.scope_line()),
        a.total_line()
    );
    let _ = writeln!(
        out,
        "| control | title | status | rules | failing resources | notes |\n|---|---|---|---|---|---|"
    );
    for row in &a.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&row.id),
            cell(&row.title),
            row.status,
            cell(&rules_cell(row)),
            failing_cell(row),
            cell(&note(row))
        );
    }
    let _ = writeln!(out, "\nSource: [{}]({})", cell(&f.title), f.url);
    out
}
