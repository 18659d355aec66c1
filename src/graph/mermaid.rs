//! The wiring graph as a Mermaid `flowchart LR`, as GitHub renders it in
//! Markdown. Failing nodes are styled by their worst severity and say it in
//! words too; missing resources are dashed.

use std::fmt::Write;

use super::{Graph, Node};
use crate::findings::Severity;

/// Mermaid's default `maxEdges`: a diagram with more is not drawn.
pub const MAX_EDGES: usize = 500;
/// Mermaid's default `maxTextSize`, in characters.
pub const MAX_TEXT: usize = 50_000;

/// Text inside a quoted Mermaid label: controls visible (so on one line),
/// then every character that could close the label, start a directive or
/// comment (`%%{...}%%`, `%%`), an entity, HTML or a Markdown string as a
/// Mermaid entity code (`#35;`); Mermaid turns these back into the
/// characters when it draws the label.
fn escape(s: &str) -> String {
    let text = crate::report::escape::control(s);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' | '%' | '"' | '\'' | '<' | '>' | '&' | '`' | '{' | '}' => {
                out.push('#');
                out.push_str(&u32::from(c).to_string());
                out.push(';');
            }
            c => out.push(c),
        }
    }
    out
}

fn label(n: &Node) -> String {
    let mut l = format!("{}<br/>{}", n.kind.label(), escape(&n.name));
    if n.missing {
        l.push_str("<br/>(missing)");
    } else if n.unknown {
        l.push_str("<br/>(not read)");
    }
    for line in n.findings_by_severity() {
        let _ = write!(l, "<br/>{line}");
    }
    l
}

fn class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

/// The diagram, or `None` when it exceeds Mermaid's default limits.
pub fn render(g: &Graph) -> Option<String> {
    if g.edges.len() > MAX_EDGES {
        return None;
    }
    let mut out = String::from("flowchart LR\n");
    for n in &g.nodes {
        // another account: a subroutine shape (a box within a box)
        if n.kind == crate::graph::NodeKind::Account {
            let _ = writeln!(out, "  {}[[\"{}\"]]", n.id, label(n));
        } else {
            let _ = writeln!(out, "  {}[\"{}\"]", n.id, label(n));
        }
    }
    for e in &g.edges {
        let _ = writeln!(out, "  {} -->|{}| {}", e.from, e.kind.label(), e.to);
    }
    out.push_str(
        "  classDef critical fill:#f8d7da,stroke:#8b0000,stroke-width:3px\n\
         \x20 classDef high fill:#fde2cf,stroke:#b34700,stroke-width:2px\n\
         \x20 classDef medium fill:#fff3cd,stroke:#8a6d00\n\
         \x20 classDef low fill:#e7f1ff,stroke:#1f4e8c\n\
         \x20 classDef info fill:#eeeeee,stroke:#555555\n\
         \x20 classDef missing stroke-dasharray: 5 5\n",
    );
    for n in &g.nodes {
        if let Some(w) = n.worst {
            let _ = writeln!(out, "  class {} {}", n.id, class(w));
        }
    }
    let missing: Vec<&str> = g
        .nodes
        .iter()
        .filter(|n| n.missing || n.unknown)
        .map(|n| n.id.as_str())
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(out, "  class {} missing", missing.join(","));
    }
    (out.chars().count() <= MAX_TEXT).then_some(out)
}
