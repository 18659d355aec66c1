//! Hostile names in every output. The crafted snapshot (the demo with the
//! names of `tests/fixtures/hostile/names.json`: terminal escapes, raw
//! HTML, a Mermaid directive, a DOT breakout, backticks, pipes, formula
//! starters, a role path of `..` steps) is rendered in every format through
//! the CLI, and each output is read back by a parser of its format: a
//! byte check for control characters (terminal and text), a CommonMark
//! renderer (pulldown-cmark) for Markdown, the Mermaid grammar the
//! renderer accepts, Graphviz `dot` for DOT, an XML parser for SVG, an HTML
//! parser for HTML, a URL resolver for SARIF and a CSV reader for CSV.
//! (The demo's HTML report and Mermaid diagrams are opened in Chromium by
//! `scripts/browser-check.sh`.)

use crate::support::{self, hostile};

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

/// The crafted snapshot, written into `dir`.
fn crafted(dir: &Path) -> PathBuf {
    let path = dir.join("hostile.json");
    let text = serde_json::to_string_pretty(&hostile::snapshot()).unwrap_or_default();
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

pub(crate) fn run(args: &[&str]) -> Output {
    let o = support::offline(args);
    // findings exit 1, the crafted scope error 2: never a crash
    assert!(
        matches!(o.status.code(), Some(0..=2)),
        "{args:?}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| panic!("not UTF-8: {e}"))
}

/// Characters no output may emit: controls (C0 but newline, DEL, C1) and
/// bidirectional formatting characters.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

pub(crate) fn assert_no_controls(what: &str, out: &str) {
    let bad: Vec<(usize, char)> = out.char_indices().filter(|(_, c)| forbidden(*c)).collect();
    assert!(
        bad.is_empty(),
        "{what}: {} control character(s) emitted, first {:?} in {:?}",
        bad.len(),
        bad[0].1,
        &out[bad[0].0.saturating_sub(60)..(bad[0].0 + 20).min(out.len())]
    );
}

/// The escaped forms that show the hostile names reached the output.
const SHOWN: &[&str] = &["\\x1b[2J", "\\x1b]52;c;", "\\x07"];

#[test]
fn terminal_and_text_outputs_show_control_characters_never_emit_them() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = crafted(dir.path());
    let snap = snap.to_string_lossy();
    let outputs: Vec<(&str, Output)> = vec![
        ("table", run(&["--snapshot", &snap])),
        (
            "markdown",
            run(&["--snapshot", &snap, "--format", "markdown"]),
        ),
        ("graph mermaid", run(&["graph", "--snapshot", &snap])),
        (
            "graph dot",
            run(&["graph", "--snapshot", &snap, "--format", "dot"]),
        ),
        (
            "drift table",
            run(&["drift", "--baseline", support::DEMO, "--snapshot", &snap]),
        ),
        (
            "drift markdown",
            run(&[
                "drift",
                "--baseline",
                support::DEMO,
                "--snapshot",
                &snap,
                "--format",
                "markdown",
            ]),
        ),
        (
            "compliance table",
            run(&[
                "compliance",
                "--framework",
                "owasp-cicd-top10",
                "--snapshot",
                &snap,
            ]),
        ),
    ];
    for (what, o) in &outputs {
        let stdout = text(&o.stdout);
        let stderr = text(&o.stderr);
        assert_no_controls(&format!("{what} (stdout)"), &stdout);
        assert_no_controls(&format!("{what} (stderr)"), &stderr);
    }
    // the names reached each terminal output, made visible
    for (what, o) in &outputs[..1] {
        let stdout = text(&o.stdout);
        for s in SHOWN.iter().chain(&["\\u{9b}", "\\x7f", "\\u{202e}"]) {
            assert!(stdout.contains(s), "{what}: {s} not shown:\n{stdout}");
        }
    }
    let drift = text(&outputs[4].1.stdout);
    assert!(drift.contains("\\x1b[2J"), "{drift}");
    // the scope error's message, on stderr, made visible
    let stderr = text(&outputs[0].1.stderr);
    assert!(
        stderr.contains(
            "pipeaudit: error: pipelines in eu-west-1 could not be listed: denied for \\x1b[2J"
        ),
        "{stderr}"
    );
}

/// Everything a Markdown document renders to, as events.
fn events(md: &str) -> Vec<Event<'_>> {
    let mut o = Options::empty();
    o.insert(Options::ENABLE_TABLES);
    o.insert(Options::ENABLE_STRIKETHROUGH);
    Parser::new_ext(md, o).collect()
}

/// Checks a Markdown document: no raw HTML but the `<br>` it writes itself,
/// no image, links only to the rule pages and framework sources, every
/// table row as wide as its header; returns the text it renders (text and
/// code) and its Mermaid blocks.
pub(crate) fn check_markdown(what: &str, md: &str) -> (String, Vec<String>) {
    let mut rendered = String::new();
    let mut mermaid = Vec::new();
    let mut in_mermaid = false;
    let mut cells = 0usize;
    let mut widths = BTreeSet::new();
    for e in events(md) {
        match e {
            Event::Html(h) | Event::InlineHtml(h) => {
                assert_eq!(h.trim(), "<br>", "{what}: raw HTML {h:?}")
            }
            Event::Start(Tag::Image { dest_url, .. }) => panic!("{what}: image {dest_url}"),
            Event::Start(Tag::Link { dest_url, .. }) => assert!(
                dest_url.starts_with("https://") && !dest_url.contains("evil"),
                "{what}: link to {dest_url}"
            ),
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(lang))) => {
                in_mermaid = &*lang == "mermaid";
                if in_mermaid {
                    mermaid.push(String::new());
                }
            }
            Event::End(TagEnd::CodeBlock) => in_mermaid = false,
            Event::Text(t) if in_mermaid => {
                if let Some(m) = mermaid.last_mut() {
                    m.push_str(&t)
                }
            }
            Event::Text(t) | Event::Code(t) => rendered.push_str(&t),
            Event::Start(Tag::TableRow) | Event::Start(Tag::TableHead) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableRow) | Event::End(TagEnd::TableHead) => {
                widths.insert(cells);
            }
            Event::End(TagEnd::Table) => {
                assert_eq!(widths.len(), 1, "{what}: rows of widths {widths:?}");
                widths.clear();
            }
            Event::End(_) => rendered.push('\n'),
            _ => {}
        }
    }
    (rendered, mermaid)
}

/// Checks a Mermaid diagram line by line against the only statements
/// pipeaudit writes, with labels that can neither close their shape nor
/// carry a directive, a comment, an entity of their own, HTML or a
/// Markdown string.
pub(crate) fn check_mermaid(what: &str, d: &str) {
    assert!(!d.contains("%%"), "{what}: %% in\n{d}");
    let mut lines = d.lines();
    assert_eq!(lines.next(), Some("flowchart LR"), "{what}");
    for l in lines {
        let l = l.trim_start();
        if let Some(rest) = l.strip_prefix('n') {
            let (id, rest) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(0));
            assert!(!id.is_empty(), "{what}: {l}");
            if let Some(label) = rest.strip_prefix("[\"").and_then(|r| r.strip_suffix("\"]")) {
                let plain = label.replace("<br/>", "");
                for c in ['"', '\'', '`', '<', '>', '{', '}', '%', '&'] {
                    assert!(!plain.contains(c), "{what}: {c} in label {label}");
                }
                // every # starts one of the entity codes pipeaudit writes
                for part in plain.split('#').skip(1) {
                    let code = part.split(';').next().unwrap_or_default();
                    assert!(
                        !code.is_empty() && code.chars().all(|c| c.is_ascii_digit()),
                        "{what}: #{part} in label {label}"
                    );
                }
            } else {
                let (from, to) = rest
                    .split_once(" -->|")
                    .unwrap_or_else(|| panic!("{what}: {l}"));
                assert!(from.is_empty(), "{what}: {l}");
                let (label, to) = to
                    .split_once("| n")
                    .unwrap_or_else(|| panic!("{what}: {l}"));
                assert!(
                    label.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
                    "{l}"
                );
                assert!(to.chars().all(|c| c.is_ascii_digit()), "{what}: {l}");
            }
        } else {
            assert!(
                l.starts_with("classDef ") || l.starts_with("class n"),
                "{what}: unexpected statement {l}"
            );
        }
    }
}

#[test]
fn markdown_and_mermaid_carry_no_markup_from_names() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = crafted(dir.path());
    let snap = snap.to_string_lossy();
    let summary = text(&run(&["--snapshot", &snap, "--format", "markdown"]).stdout);
    let (rendered, mermaid) = check_markdown("summary", &summary);
    // the names are shown as text, whole
    for name in [
        "<iframe src=javascript:alert(1)>|x",
        "<img src=x onerror=alert(1)>",
        "[click](javascript:alert(1))![i](x)*em*&lt;b&gt;",
        "role/../../../../../../../trav-role",
        "arn:aws:s3:::bkt\\\"];n99 [URL=\"javascript:alert(1)\"];//`x``|y",
    ] {
        assert!(
            rendered.contains(name),
            "summary does not show {name}:\n{rendered}"
        );
    }
    assert!(!mermaid.is_empty());
    for d in &mermaid {
        check_mermaid("summary", d);
    }
    let graph = text(&run(&["graph", "--snapshot", &snap]).stdout);
    let (rendered, mermaid) = check_markdown("graph", &graph);
    assert_eq!(mermaid.len(), 39);
    for d in &mermaid {
        check_mermaid("graph", d);
    }
    // headings show the names as text
    assert!(
        rendered.contains("<iframe src=javascript:alert(1)>|x"),
        "{rendered}"
    );
    // the directive is in the diagram as entity codes: drawn, not obeyed
    assert!(
        graph.contains("app#37;#37;#123;init: #123;#39;theme#39;:#39;dark#39;#125;#125;#37;#37;"),
        "{graph}"
    );
    for args in [
        vec![
            "drift",
            "--baseline",
            support::DEMO,
            "--snapshot",
            &snap,
            "--format",
            "markdown",
        ],
        vec![
            "compliance",
            "--framework",
            "nist-800-53-r5",
            "--snapshot",
            &snap,
            "--format",
            "markdown",
        ],
    ] {
        let md = text(&run(&args).stdout);
        check_markdown(args[0], &md);
    }
}

/// The SVG Graphviz draws of `dot` (every digraph of it), checked: it
/// parses, has a document per digraph and no link (URL, href) from a name.
pub(crate) fn graphviz(dot: &[u8]) -> String {
    let graphs = text(dot).matches("digraph ").count();
    let o = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(dot)?;
            }
            child.wait_with_output()
        })
        .unwrap_or_else(|e| {
            panic!("Graphviz `dot` is needed for this test (apt-get install graphviz): {e}")
        });
    assert!(
        o.status.success(),
        "dot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let svg = text(&o.stdout);
    assert_eq!(svg.matches("<svg").count(), graphs);
    assert!(!svg.contains("href"), "a link was injected");
    for doc in svg.split("<?xml").skip(1) {
        let doc = format!("<?xml{doc}");
        let doc = doc.split("<!DOCTYPE").collect::<Vec<_>>();
        // drop the DOCTYPE (roxmltree does not take external DTDs)
        let body = doc
            .last()
            .and_then(|d| d.split_once('>'))
            .map(|(_, b)| b)
            .unwrap_or("");
        let xml = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("{e}"));
        let nodes = xml
            .descendants()
            .filter(|n| n.attribute("class") == Some("node"))
            .count();
        assert!(nodes > 0);
    }
    svg
}

#[test]
fn dot_is_read_by_graphviz_without_injected_attributes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = crafted(dir.path());
    let snap = snap.to_string_lossy();
    let dot = run(&["graph", "--snapshot", &snap, "--format", "dot"]).stdout;
    assert_eq!(text(&dot).matches("digraph ").count(), 39);
    let svg = graphviz(&dot);
    // the name with the breakout is drawn as text
    assert!(svg.contains("URL=&quot;javascript:alert(1)&quot;"), "{svg}");
}

#[test]
fn svg_and_html_stay_well_formed_with_nothing_injected() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = crafted(dir.path());
    let snap = snap.to_string_lossy();
    let svg = text(&run(&["graph", "--snapshot", &snap, "--format", "svg"]).stdout);
    assert_no_controls("svg", &svg);
    let xml = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("svg: {e}"));
    for n in xml.descendants().filter(|n| n.is_element()) {
        assert!(
            !matches!(
                n.tag_name().name(),
                "script" | "iframe" | "img" | "foreignObject"
            ),
            "svg: element {:?}",
            n.tag_name()
        );
        for a in n.attributes() {
            assert!(!a.name().starts_with("on"), "svg: attribute {}", a.name());
        }
    }
    let html = text(&run(&["--snapshot", &snap, "--format", "html"]).stdout);
    let doc = scraper::Html::parse_document(&html);
    let any = scraper::Selector::parse("*").unwrap_or_else(|e| panic!("{e}"));
    let mut scripts = 0;
    for el in doc.select(&any) {
        let name = el.value().name();
        assert!(!matches!(name, "iframe" | "img"), "html: element {name}");
        scripts += usize::from(name == "script");
        for (a, _) in el.value().attrs() {
            assert!(!a.starts_with("on"), "html: attribute {a} on {name}");
        }
    }
    assert_eq!(scripts, 1, "only the report's own script");
    assert!(html.contains("&lt;iframe src=javascript:alert(1)&gt;"));
}

/// Every `artifactLocation.uri` of a SARIF document resolved against
/// `base`: none may leave it.
pub(crate) fn assert_uris_inside(what: &str, sarif: &Value) {
    let base = url::Url::parse("file:///repo/checkout/").unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    for run in sarif["runs"].as_array().into_iter().flatten() {
        for r in run["results"].as_array().into_iter().flatten() {
            for l in r["locations"].as_array().into_iter().flatten() {
                let uri = l["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or_default();
                let resolved = base
                    .join(uri)
                    .unwrap_or_else(|e| panic!("{what}: {uri}: {e}"));
                assert!(
                    resolved.as_str().starts_with(base.as_str()),
                    "{what}: {uri} resolves to {resolved}"
                );
                n += 1;
            }
        }
    }
    assert!(n > 0, "{what}: no locations");
}

#[test]
fn sarif_uris_stay_inside_the_repository() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = crafted(dir.path());
    let snap = snap.to_string_lossy();
    let audit = support::stdout_json(&run(&[
        "--snapshot",
        &snap,
        "--format",
        "sarif",
        "--allow-partial",
    ]));
    let text = audit.to_string();
    assert!(
        text.contains("role/../../../../../../../trav-role"),
        "the ARN is kept"
    );
    assert_uris_inside("audit", &audit);
    let drift = support::stdout_json(&run(&[
        "drift",
        "--baseline",
        support::DEMO,
        "--snapshot",
        &snap,
        "--format",
        "sarif",
    ]));
    assert_uris_inside("drift", &drift);
}

#[test]
fn csv_cells_start_no_formula_and_carry_no_control_character() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = crafted(dir.path());
    let snap = snap.to_string_lossy();
    for framework in ["owasp-cicd-top10", "nist-800-53-r5"] {
        let o = run(&[
            "compliance",
            "--framework",
            framework,
            "--snapshot",
            &snap,
            "--format",
            "csv",
        ]);
        let mut reader = csv::Reader::from_reader(o.stdout.as_slice());
        let mut records = 0;
        let mut escaped = 0;
        for r in reader.records() {
            let r = r.unwrap_or_else(|e| panic!("{framework}: {e}"));
            records += 1;
            for cell in r.iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{framework}: cell {cell:?}"
                );
                assert!(!cell.chars().any(forbidden), "{framework}: cell {cell:?}");
                escaped += usize::from(cell.contains("\\x1b[2J"));
            }
        }
        assert!(records > 0);
        // the scope error's message is a note of the controls it left unchecked
        assert!(
            escaped > 0,
            "{framework}: no note shows the hostile message"
        );
    }
}

#[test]
fn json_keeps_the_raw_names() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = crafted(dir.path());
    let snap = snap.to_string_lossy();
    let report = support::stdout_json(&run(&["--snapshot", &snap, "--format", "json"]));
    let pipelines: BTreeSet<&str> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["pipeline"].as_str())
        .collect();
    let fixture = hostile::fixture();
    let raw = hostile::substitutions(&fixture)
        .into_iter()
        .find(|(find, _)| find == "demo-001-pipeline")
        .map(|(_, r)| r)
        .unwrap_or_default();
    assert!(pipelines.contains(raw.as_str()), "{pipelines:?}");
    // the function a Lambda group deploys, named by its AppSpec, kept raw
    let function = fixture["lambda_deploy"]["function"]
        .as_str()
        .unwrap_or_default();
    let cd018: Vec<&str> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule_id"] == "CD018")
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(
        cd018
            .iter()
            .any(|m| m.contains(function) && m.contains("deployed by CodeDeploy group")),
        "{cd018:?}"
    );
}
