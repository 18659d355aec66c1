//! `pipeaudit graph` on the bundled demo: the wiring drawn as Mermaid and
//! DOT, findings on their nodes (insta snapshots, reviewed).

use crate::support;

use std::process::{Command, Output};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn graph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(["graph", "--snapshot", DEMO])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

fn stdout(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn mermaid_and_dot_of_a_pipeline_with_a_missing_bucket() {
    let mermaid = stdout(&graph(&["--pipeline", "demo-032-*"]));
    assert_eq!(mermaid.matches("```mermaid").count(), 1, "{mermaid}");
    let dot = stdout(&graph(&["--pipeline", "demo-032-*", "--format", "dot"]));
    assert!(dot.starts_with("digraph \"demo-032-pipeline\" {"), "{dot}");
    support::insta_settings().bind(|| {
        insta::assert_snapshot!("graph_demo_032_mermaid", mermaid);
        insta::assert_snapshot!("graph_demo_032_dot", dot);
    });
}

#[test]
fn every_pipeline_is_drawn_within_mermaids_limits() {
    let all = stdout(&graph(&[]));
    assert_eq!(all.matches("```mermaid").count(), 39);
    assert_eq!(all.matches("flowchart LR").count(), 39);
    assert!(!all.contains("left out"));
    // every failing node says its severity in words, not only in colour
    for block in all.split("```mermaid").skip(1) {
        let body = block.split("```").next().unwrap_or_default();
        assert!(body.chars().count() <= 50_000);
        for line in body
            .lines()
            .filter(|l| l.trim_start().starts_with("class n"))
        {
            let (ids, class) = line
                .trim()
                .trim_start_matches("class ")
                .split_once(' ')
                .unwrap_or_default();
            if class == "missing" {
                continue;
            }
            for id in ids.split(',') {
                let node = body
                    .lines()
                    .find(|l| l.trim_start().starts_with(&format!("{id}[")))
                    .unwrap_or_default();
                assert!(node.contains(&format!("{class}: ")), "{node}");
            }
        }
    }
}

#[test]
fn the_markdown_summary_draws_failing_pipelines_within_limits() {
    let o = support::offline(&["--snapshot", DEMO, "--format", "markdown"]);
    assert_eq!(o.status.code(), Some(1));
    let md = String::from_utf8_lossy(&o.stdout);
    // 26 demo pipelines have findings; the summary draws at most 20 and
    // says how many it left out
    assert_eq!(md.matches("```mermaid").count(), 20, "{md}");
    assert!(md.contains("_6 wiring diagram(s) left out"), "{md}");
    // each diagram follows its pipeline's table and marks the finding
    let section = md
        .split("\n### ")
        .find(|s| s.starts_with("demo-017-pipeline"))
        .unwrap_or_default();
    assert!(section.contains("```mermaid\nflowchart LR"), "{section}");
    assert!(section.contains("medium: KM003"), "{section}");
    // in report order, the last pipelines are the ones left out
    let last = md
        .split("\n### ")
        .find(|s| s.starts_with("demo-038-pipeline"))
        .unwrap_or_default();
    assert!(!last.contains("```mermaid"), "{last}");
    // compliant pipelines get no section and no diagram
    assert!(!md.contains("### demo-000-pipeline"));
}

#[test]
fn svg_of_a_pipeline_with_a_missing_bucket() {
    let svg = stdout(&graph(&["--pipeline", "demo-032-*", "--format", "svg"]));
    let xml = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
    // one diagram, its own style and arrow marker, a title and a description
    let diagrams: Vec<_> = xml
        .descendants()
        .filter(|n| n.has_tag_name("svg") && n.attribute("role") == Some("img"))
        .collect();
    assert_eq!(diagrams.len(), 1);
    assert!(xml.descendants().any(|n| n.has_tag_name("style")));
    assert!(
        xml.descendants()
            .any(|n| n.has_tag_name("marker") && n.attribute("id") == Some("wiring-arrow"))
    );
    let desc = xml
        .descendants()
        .find(|n| n.has_tag_name("desc"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(
        desc.contains("pipeline demo-032-pipeline stores in artifact bucket demo-032-missing-artifacts (missing)"),
        "{desc}"
    );
    // the missing bucket: dashed, critical, and saying both in words
    let bucket = xml
        .descendants()
        .find(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == "critical"))
        })
        .unwrap_or_else(|| panic!("no critical node"));
    assert_eq!(bucket.attribute("class"), Some("n critical missing"));
    let text: String = bucket
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("|");
    assert_eq!(
        text,
        "artifact bucket (missing)|demo-032-missing-artifacts|critical: AB001"
    );
    // the standalone document has no links into a page
    assert!(!xml.descendants().any(|n| n.has_tag_name("a")));
    support::insta_settings().bind(|| insta::assert_snapshot!("graph_demo_032_svg", svg));
}

#[test]
fn svg_of_every_pipeline_is_one_document() {
    let svg = stdout(&graph(&["--format", "svg"]));
    let xml = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}"));
    let titles: Vec<&str> = xml
        .descendants()
        .filter(|n| n.has_tag_name("title") && n.parent().is_some_and(|p| p.has_tag_name("svg")))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(titles.len(), 39);
    assert_eq!(titles[0], "Wiring of pipeline demo-000-pipeline");
    // ids stay unique across the diagrams of one document
    let mut ids = std::collections::BTreeSet::new();
    for n in xml.descendants().filter_map(|n| n.attribute("id")) {
        assert!(ids.insert(n), "id {n} twice");
    }
}
