//! `--format html` on the bundled demo and on a large replicated account:
//! the page parsed with an HTML5 parser (structure, unique ids, links that
//! resolve, nothing loaded from elsewhere), every SVG parsed as XML, and
//! the findings on the nodes of their resources. The same report is checked
//! in a real browser by scripts/browser-check.sh.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use scraper::{ElementRef, Html, Selector};

#[path = "../../examples/support/replicate.rs"]
mod replicate;

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap_or_else(|e| panic!("selector {s}: {e}"))
}

fn report(snapshot: &str, format: &str) -> String {
    let o = support::offline(&["--snapshot", snapshot, "--format", format]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "findings exit 1: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every `<svg ...>...</svg>` of the page as written (none is nested).
fn svgs(page: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find("<svg") {
        let Some(len) = rest[start..].find("</svg>") else {
            panic!("an <svg> is not closed");
        };
        out.push(&rest[start..start + len + "</svg>".len()]);
        rest = &rest[start + len..];
    }
    out
}

fn attr<'a>(e: &ElementRef<'a>, name: &str) -> &'a str {
    e.value().attr(name).unwrap_or_default()
}

/// Ids are unique and every in-page link points at one.
fn ids_unique_and_links_resolve(doc: &Html) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for e in doc.select(&sel("[id]")) {
        assert!(
            ids.insert(attr(&e, "id").to_string()),
            "id {} twice",
            attr(&e, "id")
        );
    }
    for a in doc.select(&sel("a[href^='#']")) {
        let target = &attr(&a, "href")[1..];
        assert!(ids.contains(target), "link to #{target} has no target");
    }
    ids
}

/// Nothing is loaded from elsewhere: no external script, style, image or frame.
fn self_contained(doc: &Html) {
    assert_eq!(
        doc.select(&sel("script[src], img, iframe, object, embed"))
            .count(),
        0
    );
    for l in doc.select(&sel("link")) {
        assert!(
            attr(&l, "href").starts_with("data:"),
            "link {}",
            attr(&l, "href")
        );
    }
    assert_eq!(doc.select(&sel("style")).count(), 1);
    assert_eq!(doc.select(&sel("script")).count(), 1);
}

#[test]
fn the_demo_report_is_one_well_formed_page_with_every_pipeline_drawn() {
    let page = report(support::DEMO, "html");
    let json = support::stdout_json(&support::offline(&[
        "--snapshot",
        support::DEMO,
        "--format",
        "json",
    ]));
    let findings = json["findings"].as_array().cloned().unwrap_or_default();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let doc = Html::parse_document(&page);
    assert!(
        doc.errors.is_empty(),
        "HTML5 parse errors: {:?}",
        doc.errors
    );
    self_contained(&doc);
    let ids = ids_unique_and_links_resolve(&doc);

    // the header: account, region, time, totals by severity in words
    let header = doc
        .select(&sel("header"))
        .next()
        .unwrap_or_else(|| panic!("no header"));
    let text: String = header.text().collect();
    let demo: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::DEMO).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let taken_at: String = demo["taken_at"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(19)
        .collect();
    assert_eq!(taken_at.len(), 19, "the demo has a collection time");
    for want in [
        "123456789012",
        "us-east-1",
        taken_at.as_str(),
        "critical 10",
        "high 9",
        "medium 7",
        "low 1",
    ] {
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.to_lowercase().contains(&want.to_lowercase()),
            "header lacks {want}: {flat}"
        );
    }

    // the findings table: one row per finding, complete without the script
    // (the filters are hidden until the script shows them)
    let rows: Vec<ElementRef> = doc.select(&sel("#findings-table tbody tr")).collect();
    assert_eq!(rows.len(), findings.len());
    assert!(
        doc.select(&sel("form#filters[hidden]")).next().is_some(),
        "filters hidden without the script"
    );
    for (row, f) in rows.iter().zip(&findings) {
        let text: String = row.text().collect();
        for key in ["rule_id", "pipeline", "resource_arn", "severity"] {
            let v = f[key].as_str().unwrap_or_default();
            assert!(text.contains(v), "row lacks {key} {v}: {text}");
        }
        assert_eq!(
            attr(row, "data-sev"),
            f["severity"].as_str().unwrap_or_default()
        );
    }

    // every pipeline of the snapshot has a section with its diagram inline
    let snapshot: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(support::DEMO).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = snapshot["pipelines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names.len(), 39);
    let sections: Vec<ElementRef> = doc.select(&sel("details.pl")).collect();
    assert_eq!(sections.len(), names.len());
    let failing: BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| f["pipeline"].as_str())
        .collect();
    for (s, name) in sections.iter().zip(&names) {
        let summary: String = s.select(&sel("summary")).flat_map(|e| e.text()).collect();
        assert!(summary.contains(name), "{summary}");
        // pipelines with findings are open; the compliant ones closed
        assert_eq!(
            s.value().attr("open").is_some(),
            failing.contains(name),
            "{name}"
        );
        let svg = s
            .select(&sel("svg.wiring"))
            .next()
            .unwrap_or_else(|| panic!("{name}: no diagram"));
        // a text alternative: role img, labelled by its title and desc
        assert_eq!(attr(&svg, "role"), "img");
        for id in attr(&svg, "aria-labelledby").split(' ') {
            assert!(ids.contains(id), "{name}: aria-labelledby {id}");
        }
        let title: String = svg
            .select(&sel("title"))
            .next()
            .map(|t| t.text().collect())
            .unwrap_or_default();
        assert_eq!(title, format!("Wiring of pipeline {name}"));
        let desc: String = svg.select(&sel("desc")).flat_map(|t| t.text()).collect();
        assert!(desc.contains(&format!("pipeline {name}")), "{desc}");
    }

    // every SVG, as written, is well-formed XML: the 39 diagrams and the
    // arrow marker they share
    let all = svgs(&page);
    assert_eq!(all.len(), 40);
    for s in &all {
        let xml = roxmltree::Document::parse(s).unwrap_or_else(|e| panic!("{e}: {s}"));
        assert_eq!(xml.root_element().tag_name().name(), "svg");
    }

    // every finding is on the node of its resource: the row links to the
    // node's findings, whose node in the diagram names the resource, the
    // rule and its severity in words, and links back
    let mut on_nodes = 0;
    for (row, f) in rows.iter().zip(&findings) {
        let Some(link) = row.select(&sel("td:nth-child(4) a")).next() else {
            panic!("finding {f} links to no node");
        };
        let target = &attr(&link, "href")[1..];
        let node_link = doc
            .select(&sel(&format!("svg.wiring a[href='#{target}']")))
            .next()
            .unwrap_or_else(|| panic!("no node links to #{target}"));
        let g = node_link
            .select(&sel("g.n"))
            .next()
            .unwrap_or_else(|| panic!("#{target}: no node"));
        let text: String = g.text().collect();
        let sev = f["severity"].as_str().unwrap_or_default();
        let rule = f["rule_id"].as_str().unwrap_or_default();
        assert!(text.contains(f["resource_arn"].as_str().unwrap_or("?")));
        assert!(
            text.contains(&format!("{sev}: ")) && text.contains(rule),
            "{text}"
        );
        // and the list under the diagram gives the remediation
        let item = doc
            .select(&sel(&format!("li#{target}")))
            .next()
            .unwrap_or_else(|| panic!("no findings list item #{target}"));
        let item_text: String = item.text().collect();
        assert!(item_text.contains("Fix:") && item_text.contains(rule));
        on_nodes += 1;
    }
    assert_eq!(on_nodes, findings.len());

    // a node is coloured by its worst finding and says it in words
    for g in doc.select(&sel("svg.wiring g.n")) {
        let class = attr(&g, "class");
        let text: String = g.text().collect();
        for s in ["critical", "high", "medium", "low", "info"] {
            if class.split(' ').any(|c| c == s) {
                assert!(text.contains(&format!("{s}: ")), "{class}: {text}");
            }
        }
    }

    // the rules that failed, with what, why and how to fix
    let rule_ids: BTreeSet<&str> = findings
        .iter()
        .filter_map(|f| f["rule_id"].as_str())
        .collect();
    assert_eq!(
        doc.select(&sel("#rules article.rule")).count(),
        rule_ids.len()
    );
    for id in rule_ids {
        let article: String = doc
            .select(&sel(&format!("article#rule-{id}")))
            .flat_map(|e| e.text())
            .collect();
        for want in ["What:", "Why:", "Fix:"] {
            assert!(article.contains(want), "{id}: {article}");
        }
    }
}

#[test]
fn a_report_of_many_pipelines_draws_each_diagram_when_opened_and_stays_small() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("big.json");
    let big = replicate::demo_snapshot(150).unwrap_or_else(|e| panic!("{e}"));
    big.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let page = report(&path.to_string_lossy(), "html");
    let doc = Html::parse_document(&page);
    assert!(
        doc.errors.is_empty(),
        "HTML5 parse errors: {:?}",
        doc.errors
    );
    self_contained(&doc);
    ids_unique_and_links_resolve(&doc);
    let sections: Vec<ElementRef> = doc.select(&sel("details.pl")).collect();
    assert_eq!(sections.len(), 150);
    // every pipeline closed, its diagram packed, none inline but the marker
    assert!(sections.iter().all(|s| s.value().attr("open").is_none()));
    assert_eq!(svgs(&page).len(), 1);
    let mut names = BTreeMap::new();
    for s in &sections {
        let packed = s
            .select(&sel(".dg[data-z]"))
            .next()
            .unwrap_or_else(|| panic!("no packed diagram"));
        let z = base64::engine::general_purpose::STANDARD
            .decode(attr(&packed, "data-z"))
            .unwrap_or_else(|e| panic!("base64: {e}"));
        let svg = miniz_oxide::inflate::decompress_to_vec(&z)
            .unwrap_or_else(|e| panic!("inflate: {e:?}"));
        let svg = String::from_utf8(svg).unwrap_or_else(|e| panic!("{e}"));
        let xml = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        let title = xml
            .descendants()
            .find(|n| n.has_tag_name("title"))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_string();
        names.insert(attr(s, "id").to_string(), title);
        // the nodes link to the findings listed in this section
        for a in xml.descendants().filter(|n| n.has_tag_name("a")) {
            let href = a
                .attributes()
                .find(|x| x.name() == "href")
                .map(|x| x.value())
                .unwrap_or_default();
            let id = href.trim_start_matches('#');
            assert!(
                s.select(&sel(&format!("li#{id}"))).next().is_some(),
                "{href} not in its pipeline's section"
            );
        }
    }
    // each section holds its own pipeline's diagram
    for s in &sections {
        let summary: String = s.select(&sel("summary")).flat_map(|e| e.text()).collect();
        let title = &names[attr(s, "id")];
        let name = title.trim_start_matches("Wiring of pipeline ");
        assert!(summary.contains(name), "{summary} / {title}");
    }
    // 5 MB at 1,000 pipelines is 5,000 bytes a pipeline
    assert!(
        page.len() < 150 * 5_000,
        "{} bytes for 150 pipelines",
        page.len()
    );
}

#[test]
fn html_is_a_format_of_the_audit_only() {
    let o = support::offline(&[
        "drift",
        "--baseline",
        support::DEMO,
        "--snapshot",
        support::DEMO,
        "--format",
        "html",
    ]);
    // refused by the argument parser: its usage error, naming the formats
    // drift writes, before any snapshot is read
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("error: invalid value 'html' for '--format <FORMAT>'"),
        "{err}"
    );
    assert!(
        err.contains("[possible values: table, json, sarif, markdown]"),
        "{err}"
    );
    assert!(err.contains("For more information, try '--help'."), "{err}");
    assert!(o.stdout.is_empty());
}
