//! The release paths report (`pipeaudit paths`): per pipeline, the
//! principals grouped by kind, each with its chain, then the principals in
//! full control, then the accepted ones. Table, JSON and Markdown.

use std::fmt::Write;

use serde::Serialize;

use crate::aws::release::{Analysis, Kind, PipelinePaths, ReleasePath, Status};

/// What is shown: the analysis, cut to the selected pipelines and principals.
#[derive(Debug, Clone, Serialize)]
pub struct PathsReport<'a> {
    pub account: &'a str,
    #[serde(flatten)]
    pub analysis: Analysis,
}

/// Text from AWS made safe for a terminal: control characters become `?`.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A Markdown table cell: pipes and newlines escaped, HTML-significant
/// characters as entities, backticks neutralised.
fn cell(s: &str) -> String {
    plain(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace('`', "'")
}

fn open(p: &PipelinePaths) -> impl Iterator<Item = &ReleasePath> {
    p.paths.iter().filter(|x| x.accepted.is_none())
}

/// Whether an untrusted path (or principal in full control) exists.
pub fn has_open_paths(a: &Analysis) -> bool {
    a.pipelines
        .iter()
        .any(|p| open(p).next().is_some() || p.full_control.iter().any(|f| f.accepted.is_none()))
}

/// The JSON document.
pub fn json(r: &PathsReport<'_>) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default() + "\n"
}

/// Plain text for a terminal.
pub fn table(r: &PathsReport<'_>) -> String {
    let mut out = String::new();
    if let Status::NotAnalysed { error } = &r.analysis.status {
        let _ = writeln!(
            out,
            "release paths not analysed: the account's principals could not be read ({}: {})",
            error.action,
            plain(&error.message)
        );
        return out;
    }
    for p in &r.analysis.pipelines {
        let _ = writeln!(out, "\n{} ({})", plain(&p.name), p.pipeline);
        let mut any = false;
        for kind in Kind::ALL {
            let list: Vec<&ReleasePath> = open(p).filter(|x| x.kind == kind).collect();
            if list.is_empty() {
                continue;
            }
            any = true;
            let _ = writeln!(
                out,
                "  {} {}: who can {}",
                kind.id(),
                kind.slug(),
                kind.title()
            );
            for x in list {
                let _ = writeln!(
                    out,
                    "    {} {}{}",
                    x.principal_kind,
                    plain(&x.principal),
                    if x.conditional { " (conditional)" } else { "" }
                );
                for s in &x.chain {
                    let mut line = format!("      -> {} on {}", s.action, plain(&s.resource));
                    if !s.detail.is_empty() {
                        let _ = write!(line, " ({})", plain(&s.detail));
                    }
                    let g: Vec<String> =
                        s.granted_by.iter().map(|g| plain(&g.to_string())).collect();
                    if !g.is_empty() {
                        let _ = write!(line, ", granted by {}", g.join(" and "));
                    }
                    if !s.conditions.is_empty() {
                        let _ =
                            write!(line, ", conditional on {}", plain(&s.conditions.join("; ")));
                    }
                    let _ = writeln!(out, "{line}");
                }
                if !x.note.is_empty() {
                    let _ = writeln!(out, "      note: {}", plain(&x.note));
                }
            }
        }
        let full: Vec<_> = p
            .full_control
            .iter()
            .filter(|f| f.accepted.is_none())
            .collect();
        if !full.is_empty() {
            any = true;
            let _ = writeln!(out, "  full control (every action on every resource):");
            for f in full {
                let _ = writeln!(
                    out,
                    "    {}, granted by {}",
                    plain(&f.principal),
                    plain(&f.granted_by.to_string())
                );
            }
        }
        let accepted: Vec<(String, &str)> = p
            .paths
            .iter()
            .filter_map(|x| {
                x.accepted
                    .as_deref()
                    .map(|r| (format!("{} {}", x.kind.id(), x.principal), r))
            })
            .chain(p.full_control.iter().filter_map(|f| {
                f.accepted
                    .as_deref()
                    .map(|r| (format!("full control {}", f.principal), r))
            }))
            .collect();
        if !accepted.is_empty() {
            let _ = writeln!(out, "  accepted:");
            for (what, reason) in accepted {
                let _ = writeln!(out, "    {} ({})", plain(&what), plain(reason));
            }
        }
        for n in &p.notes {
            let _ = writeln!(out, "  note: {}", plain(n));
        }
        if !any {
            let _ = writeln!(out, "  no release path outside the pipeline");
        }
    }
    for n in &r.analysis.notes {
        let _ = writeln!(out, "\nnote: {n}");
    }
    out
}

/// Markdown: a section per pipeline, a table of its paths.
pub fn markdown(r: &PathsReport<'_>) -> String {
    let mut out = String::from("# Who can ship to production\n");
    if let Status::NotAnalysed { error } = &r.analysis.status {
        let _ = writeln!(
            out,
            "\nRelease paths were not analysed: the account's principals could not be read (`{}`: {}).",
            error.action,
            cell(&error.message)
        );
        return out;
    }
    for p in &r.analysis.pipelines {
        let _ = writeln!(out, "\n## {}\n", cell(&p.name));
        if p.paths.is_empty() && p.full_control.is_empty() {
            let _ = writeln!(out, "No release path outside the pipeline.");
        } else {
            let _ = writeln!(
                out,
                "| kind | principal | chain | accepted |\n|---|---|---|---|"
            );
            for x in &p.paths {
                let _ = writeln!(
                    out,
                    "| {} {} | {} {}{} | {} | {} |",
                    x.kind.id(),
                    x.kind.slug(),
                    x.principal_kind,
                    cell(&x.principal),
                    if x.conditional { " (conditional)" } else { "" },
                    cell(&x.witness()),
                    cell(x.accepted.as_deref().unwrap_or(""))
                );
            }
            for f in &p.full_control {
                let _ = writeln!(
                    out,
                    "| full control | {} | granted by {} | {} |",
                    cell(&f.principal),
                    cell(&f.granted_by.to_string()),
                    cell(f.accepted.as_deref().unwrap_or(""))
                );
            }
        }
        for n in &p.notes {
            let _ = writeln!(out, "\n> {}", cell(n));
        }
    }
    for n in &r.analysis.notes {
        let _ = writeln!(out, "\n_{}_", cell(n));
    }
    out
}
