//! The wiring graph in Graphviz DOT, for `dot -Tsvg` and documentation.

use std::fmt::Write;

use super::Graph;
use crate::findings::Severity;

/// Text inside a quoted DOT string: controls visible (so on one line),
/// backslashes first (so that none escapes what follows, nor starts an
/// escString such as `\l` or `\N`), then quotes.
fn text(s: &str) -> String {
    crate::report::escape::control(s)
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

fn quote(s: &str) -> String {
    format!("\"{}\"", text(s))
}

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#8b0000",
        Severity::High => "#b34700",
        Severity::Medium => "#8a6d00",
        Severity::Low => "#1f4e8c",
        Severity::Info => "#555555",
    }
}

/// One `digraph` per pipeline.
pub fn render(g: &Graph) -> String {
    let mut out = format!(
        "digraph {} {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n",
        quote(&g.pipeline)
    );
    for n in &g.nodes {
        let mut label = format!("{}\\n{}", n.kind.label(), text(&n.name));
        if n.missing {
            label.push_str("\\n(missing)");
        } else if n.unknown {
            label.push_str("\\n(not read)");
        }
        let mut attrs = Vec::new();
        if let Some(w) = n.worst {
            for line in n.findings_by_severity() {
                let _ = write!(label, "\\n{}", text(&line));
            }
            attrs.push(format!("color=\"{}\", penwidth=2", colour(w)));
        }
        if n.missing || n.unknown {
            attrs.push("style=dashed".to_string());
        }
        // another account: a box within a box
        if n.kind == crate::graph::NodeKind::Account {
            attrs.push("peripheries=2".to_string());
        }
        let label = format!("\"{label}\"");
        let extra = if attrs.is_empty() {
            String::new()
        } else {
            format!(", {}", attrs.join(", "))
        };
        let _ = writeln!(out, "  {} [label={label}{extra}];", n.id);
    }
    for e in &g.edges {
        let _ = writeln!(
            out,
            "  {} -> {} [label={}];",
            e.from,
            e.to,
            quote(e.kind.label())
        );
    }
    out.push_str("}\n");
    out
}
