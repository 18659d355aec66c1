//! The terminal table of a compliance assessment: a row per control, the
//! reasons behind accepted, not checked and manual controls, the total.

use std::fmt::Write;

use comfy_table::{Cell, Color, ContentArrangement, Table};

use super::{ComplianceReport, failing_cell, note, rules_cell};
use crate::compliance::Status;
use crate::report::escape::control;

fn color(s: Status) -> Color {
    match s {
        Status::Fail => Color::Red,
        Status::NotChecked => Color::Yellow,
        Status::Accepted => Color::Blue,
        Status::Pass => Color::Green,
        Status::Manual => Color::Grey,
    }
}

/// Renders the assessment; `colored` adds status colours (terminals only).
pub fn render(r: &ComplianceReport<'_>, colored: bool, width: Option<u16>) -> String {
    let a = r.assessment;
    let f = &a.framework;
    let mut out = format!(
        "{} {} ({})\n{}\n\n",
        control(&f.title),
        control(&f.version),
        control(&f.id),
        control(&r.scope_line())
    );
    let mut t = Table::new();
    t.set_content_arrangement(ContentArrangement::Dynamic);
    t.set_width(width.unwrap_or(140));
    t.set_header(vec![
        "control",
        "title",
        "status",
        "rules",
        "failing resources",
    ]);
    for row in &a.rows {
        let mut status = Cell::new(row.status.as_str());
        if colored {
            status = status.fg(color(row.status));
        }
        t.add_row(vec![
            Cell::new(control(&row.id)),
            Cell::new(control(&row.title)),
            status,
            Cell::new(control(&rules_cell(row))),
            Cell::new(failing_cell(row)),
        ]);
    }
    if colored {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    let _ = writeln!(out, "{t}");
    for status in [Status::Accepted, Status::NotChecked, Status::Manual] {
        let rows: Vec<_> = a.rows.iter().filter(|x| x.status == status).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{} ({}):", capitalized(status.as_str()), rows.len());
        for row in rows {
            let _ = writeln!(out, "  - {}: {}", control(&row.id), control(&note(row)));
        }
    }
    let _ = writeln!(out, "\n{}", a.total_line());
    out
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
