//! `pipeaudit graph`: each pipeline's wiring as a picture, findings marked.

use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;

use super::{collect_live, load_config, load_rules, write_output};
use crate::cli::{AuditArgs, GlobalArgs, GraphFormat};
use crate::graph;
use crate::model::Snapshot;
use crate::report::EXIT_OK;
use crate::report::escape::markdown;
use crate::rules::engine;

/// Draws the pipelines of a snapshot (or a live collection); `--pipeline`
/// globs select pipelines of a saved snapshot too.
pub fn run(
    g: &GlobalArgs,
    a: &AuditArgs,
    snapshot: Option<&PathBuf>,
    format: GraphFormat,
    output: Option<&PathBuf>,
) -> Result<u8, String> {
    let rules = load_rules(a)?;
    let config = load_config(a, &rules)?;
    let snapshot = match snapshot {
        Some(p) => Snapshot::load(p).map_err(|e| e.to_string())?,
        None => collect_live(g)?,
    };
    let mut globs = globset::GlobSetBuilder::new();
    for p in &g.pipelines {
        globs.add(globset::Glob::new(p).map_err(|e| format!("--pipeline {p:?}: {e}"))?);
    }
    let globs = globs.build().map_err(|e| e.to_string())?;
    let snapshot = Arc::new(snapshot);
    let eval = engine::evaluate(snapshot.clone(), &rules, &config);
    let mut out = String::new();
    let mut too_large = Vec::new();
    let mut graphs = Vec::new();
    for w in snapshot
        .pipelines
        .iter()
        .filter(|w| g.pipelines.is_empty() || globs.is_match(&w.name))
    {
        let graph = graph::build(&snapshot, w, &eval.findings);
        match format {
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
    if format == GraphFormat::Svg {
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
    write_output(output, &out)?;
    Ok(EXIT_OK)
}
