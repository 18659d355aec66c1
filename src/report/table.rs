//! The terminal table: findings grouped by pipeline, then a summary line.

use std::fmt::Write;

use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::Report;
use super::escape::{control, control_lines};
use crate::findings::Severity;

fn color(s: Severity) -> Color {
    match s {
        Severity::Critical => Color::Magenta,
        Severity::High => Color::Red,
        Severity::Medium => Color::Yellow,
        Severity::Low => Color::Blue,
        Severity::Info => Color::Grey,
    }
}

/// Renders the report; `colored` adds severity colours (terminals only).
pub fn render(r: &Report<'_>, colored: bool, width: Option<u16>) -> String {
    let mut out = String::new();
    for (name, arn, group) in r.by_pipeline() {
        let _ = writeln!(out, "\n{} ({})", control(name), control(arn));
        let mut t = Table::new();
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(width.unwrap_or(140));
        t.set_header(vec!["severity", "rule", "resource", "message"]);
        for f in group {
            let mut sev = Cell::new(f.severity.as_str());
            if colored {
                sev = sev.fg(color(f.severity));
            }
            t.add_row(vec![
                sev,
                Cell::new(control(&format!("{} {}", f.rule_id, f.slug))),
                Cell::new(match &f.defined_in {
                    Some(d) => format!(
                        "{}\ndefined in {}",
                        control(&f.resource_arn),
                        control(&d.to_string())
                    ),
                    None => control(&f.resource_arn).into_owned(),
                }),
                Cell::new(control_lines(&f.message)),
            ]);
        }
        if colored {
            t.enforce_styling();
        } else {
            t.force_no_tty();
        }
        let _ = writeln!(out, "{t}");
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
        let _ = writeln!(out, "\n{title} ({}):", list.len());
        for d in list.iter().take(20) {
            let _ = writeln!(out, "  - {}", control(&d.message));
        }
        if list.len() > 20 {
            let _ = writeln!(out, "  ... {} more (see --format json)", list.len() - 20);
        }
    }
    let counts: Vec<String> = r
        .by_severity()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let _ = writeln!(
        out,
        "\n{} finding(s) in {} pipeline(s){}{}",
        r.findings.len(),
        r.pipelines,
        if counts.is_empty() {
            String::new()
        } else {
            format!(": {}", counts.join(", "))
        },
        if groups.not_checked.is_empty() {
            String::new()
        } else {
            format!("; {} check(s) could not be made", groups.not_checked.len())
        }
    );
    out
}
