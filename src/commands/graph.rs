//! `pipeaudit graph`: each pipeline's wiring as a picture, findings marked.

use std::fmt::Write;
use std::sync::Arc;

use super::Error;
use super::live::snapshot_of;
use super::output::write_output;
use super::{load_config, load_rules};
use crate::cli::{AuditArgs, GlobalArgs, GraphArgs, GraphFormat};
use crate::graph;
use crate::report::EXIT_OK;
use crate::report::escape::markdown;
use crate::rules::engine;

/// Draws the pipelines of a snapshot (or a live collection); `--pipeline`
/// globs select pipelines of a saved snapshot too.
pub fn run(g: &GlobalArgs, a: &AuditArgs, x: &GraphArgs) -> Result<u8, Error> {
    let rules_config = x.rules.after(&a.rules);
    let rules = load_rules(&rules_config)?;
    let config = load_config(&rules_config, &rules)?;
    let snapshot = snapshot_of(g, &x.input.after(&a.input))?;
    let globs = crate::collect::pipeline_filter(&g.pipelines)?;
    let snapshot = Arc::new(snapshot);
    let eval = engine::evaluate(snapshot.clone(), &rules, &config);
    let mut out = String::new();
    let mut too_large = Vec::new();
    let mut graphs = Vec::new();
    for w in snapshot
        .pipelines
        .iter()
        .filter(|w| globs.as_ref().is_none_or(|f| f.is_match(&w.name)))
    {
        let graph = graph::build(&snapshot, w, &eval.findings);
        match x.format {
            GraphFormat::Dot => out.push_str(&graph::dot::render(&graph)),
            GraphFormat::Svg => graphs.push(graph),
            GraphFormat::Mermaid => match graph::mermaid::render(&graph) {
                Some(d) => {
                    let _ = write!(out, "### {}\n\n```mermaid\n{d}```\n\n", markdown(&w.name));
                }
                None => too_large.push(w.name.clone()),
            },
        }
    }
    if x.format == GraphFormat::Svg {
        out = graph::svg::document(&graphs);
    }
    if !too_large.is_empty() {
        let _ = writeln!(
            out,
            "{} pipeline(s) left out: their diagrams exceed Mermaid's default limits ({}).",
            too_large.len(),
            markdown(&too_large.join(", "))
        );
    }
    write_output(x.out.output.as_ref(), &out)?;
    Ok(EXIT_OK)
}
