//! The documentation: `README.md` and the book under `docs/` (mdBook, its
//! source the directory itself). Every relative link resolves to a file,
//! every `#anchor` to a heading of its page by mdBook's rules, every page is
//! a chapter of `docs/SUMMARY.md` and every chapter exists; the tables
//! generated from the rules, the fix actions and the frameworks are current.
//! No network: absolute URLs are not followed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use crate::support;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The heading id mdBook gives a heading's text: lowercase, whitespace to
/// `-`, letters, digits, `_` and `-` kept, anything else dropped.
fn heading_id(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_lowercase().collect::<String>())
            } else if c.is_whitespace() {
                Some("-".to_string())
            } else {
                None
            }
        })
        .collect()
}

fn parser(text: &str) -> Parser<'_> {
    Parser::new_ext(
        text,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES,
    )
}

/// The anchors of a page: its headings' ids, a repeated id getting `-1`,
/// `-2`, ... as mdBook numbers them.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut heading: Option<String> = None;
    for ev in parser(text) {
        match ev {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    let id = heading_id(&h);
                    let n = seen.entry(id.clone()).or_insert(0);
                    out.insert(if *n == 0 {
                        id.clone()
                    } else {
                        format!("{id}-{n}")
                    });
                    *n += 1;
                }
            }
            _ => {}
        }
    }
    out
}

/// The link and image targets of a page.
fn links(text: &str) -> Vec<String> {
    parser(text)
        .filter_map(|ev| match ev {
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

/// `base/rel` with `.` and `..` resolved lexically.
fn join(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every Markdown file under `dir`, the build output (`book/`) left out.
fn markdown_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n == "book") && p.parent() == Some(dir) {
                continue;
            }
            markdown_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

/// What is wrong with the links of `pages` (paths under `root`), and with
/// the book under `root/docs`: a target that does not exist, an anchor its
/// page lacks, a page no chapter of `SUMMARY.md` names, a chapter that
/// does not exist.
fn problems(root: &Path, pages: &[PathBuf]) -> Vec<String> {
    let book = root.join("docs");
    let mut out = Vec::new();
    let mut cache: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    let mut anchors_of = |p: &Path| -> Option<BTreeSet<String>> {
        if let Some(a) = cache.get(p) {
            return Some(a.clone());
        }
        let text = std::fs::read_to_string(p).ok()?;
        let a = anchors(&text);
        cache.insert(p.to_path_buf(), a.clone());
        Some(a)
    };
    for page in pages {
        let name = page
            .strip_prefix(root)
            .unwrap_or(page)
            .display()
            .to_string();
        let Ok(text) = std::fs::read_to_string(page) else {
            out.push(format!("{name}: cannot be read"));
            continue;
        };
        let dir = page.parent().unwrap_or(root);
        for target in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if file.is_empty() {
                page.clone()
            } else {
                join(dir, file)
            };
            if !resolved.exists() {
                out.push(format!("{name}: link to {target}: no such file"));
                continue;
            }
            if page.starts_with(&book)
                && resolved.extension().is_some_and(|x| x == "md")
                && !resolved.starts_with(&book)
            {
                out.push(format!("{name}: link to {target}: a page outside the book"));
            }
            if let Some(anchor) = anchor {
                if resolved.extension().is_none_or(|x| x != "md") {
                    out.push(format!(
                        "{name}: link to {target}: an anchor in a file that is not a page"
                    ));
                } else if !anchors_of(&resolved).is_some_and(|a| a.contains(anchor)) {
                    out.push(format!("{name}: link to {target}: no heading #{anchor}"));
                }
            }
        }
    }
    // the book: every chapter exists, every page is a chapter
    let summary = book.join("SUMMARY.md");
    let Ok(text) = std::fs::read_to_string(&summary) else {
        out.push("docs/SUMMARY.md: cannot be read".to_string());
        return out;
    };
    let mut chapters = BTreeSet::new();
    for target in links(&text) {
        let file = join(&book, &target);
        if !file.is_file() {
            out.push(format!("docs/SUMMARY.md: chapter {target} does not exist"));
        }
        chapters.insert(file);
    }
    let mut all = Vec::new();
    markdown_under(&book, &mut all);
    for p in all {
        if p != summary && !chapters.contains(&p) {
            out.push(format!(
                "{}: not a chapter of docs/SUMMARY.md",
                p.strip_prefix(root).unwrap_or(&p).display()
            ));
        }
    }
    out
}

fn documentation(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md")];
    markdown_under(&root.join("docs"), &mut pages);
    pages.sort();
    pages
}

#[test]
fn heading_ids_follow_mdbook() {
    // as mdBook 0.5.4 numbered them in a book built for the purpose
    let page = "# P\n\n## Same\n\n## Same\n\n## Same\n\n\
                ## Über `code` *em* & <b>x</b> — dash_under 1.2\n\n## [Link](x.md) text\n\n\
                ## The reference shape: `[reference]`\n";
    let got = anchors(page);
    let want: BTreeSet<String> = [
        "p",
        "same",
        "same-1",
        "same-2",
        "über-code-em--x--dash_under-12",
        "link-text",
        "the-reference-shape-reference",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(got, want);
}

#[test]
fn every_link_anchor_and_chapter_of_the_documentation_resolves() {
    let root = Path::new(ROOT);
    let pages = documentation(root);
    // the book is there: the README and more than its rule pages
    assert!(pages.len() > 40, "{} pages", pages.len());
    let found = problems(root, &pages);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn a_broken_link_an_unknown_anchor_and_a_stray_page_are_reported() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    let write = |p: &str, text: &str| {
        let path = root.join(p);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    };
    write(
        "README.md",
        "# R\n\n[ok](docs/guide/a.md#two-words) [gone](docs/guide/missing.md)\n",
    );
    write(
        "docs/SUMMARY.md",
        "# Summary\n\n- [A](guide/a.md)\n- [Nowhere](guide/nowhere.md)\n",
    );
    write(
        "docs/guide/a.md",
        "# A\n\n## Two words\n\n[self](#two-words) [bad](#three-words) [up](../../README.md)\n",
    );
    write("docs/guide/stray.md", "# Stray\n");
    let found = problems(root, &documentation(root));
    let want = [
        "README.md: link to docs/guide/missing.md: no such file",
        "docs/SUMMARY.md: link to guide/nowhere.md: no such file",
        "docs/guide/a.md: link to #three-words: no heading #three-words",
        "docs/guide/a.md: link to ../../README.md: a page outside the book",
        "docs/SUMMARY.md: chapter guide/nowhere.md does not exist",
        "docs/guide/stray.md: not a chapter of docs/SUMMARY.md",
    ];
    for w in want {
        assert!(found.iter().any(|f| f == w), "{w} not in {found:#?}");
    }
    assert_eq!(found.len(), want.len(), "{found:#?}");
}

/// The pages of the book that hold generated blocks.
const GENERATED: [&str; 4] = [
    "SUMMARY.md",
    "reference/rules.md",
    "guide/remediation.md",
    "guide/compliance.md",
];

#[test]
fn generated_tables_of_the_book_are_current() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let book = dir.path().join("docs");
    for page in GENERATED {
        let from = Path::new(ROOT).join("docs").join(page);
        let to = book.join(page);
        std::fs::create_dir_all(to.parent().unwrap_or(&book)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    let rules = book.join("rules");
    let o = support::offline(&[
        "rules",
        "docs",
        "--out",
        &rules.to_string_lossy(),
        "--book",
        &book.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    for page in GENERATED {
        let fresh = std::fs::read_to_string(book.join(page)).unwrap_or_default();
        let committed =
            std::fs::read_to_string(Path::new(ROOT).join("docs").join(page)).unwrap_or_default();
        assert!(
            fresh == committed,
            "docs/{page} is stale: run `pipeaudit rules docs --out docs/rules --book docs`"
        );
    }
    // what the blocks hold: every rule, action and framework
    let summary = std::fs::read_to_string(book.join("SUMMARY.md")).unwrap_or_default();
    let remediation =
        std::fs::read_to_string(book.join("guide/remediation.md")).unwrap_or_default();
    let compliance = std::fs::read_to_string(book.join("guide/compliance.md")).unwrap_or_default();
    let set = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    for r in &set.rules {
        let entry = format!("- [{} {}](rules/{}.md)", r.file.id, r.file.slug, r.file.id);
        assert!(summary.contains(&entry), "SUMMARY lacks {entry}");
    }
    for a in pipeaudit::remediate::registry::actions() {
        let row = format!("| `{}` | {} | {} |", a.id(), a.safety(), a.summary());
        assert!(remediation.contains(&row), "action table lacks {row}");
    }
    for f in &pipeaudit::rules::frameworks::Frameworks::bundled().list {
        let row = format!(
            "| `{}` | {} {} | {}: ",
            f.id,
            f.title,
            f.version,
            f.controls.len()
        );
        assert!(compliance.contains(&row), "frameworks table lacks {row}");
    }
}

#[test]
fn a_book_page_without_its_markers_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let book = dir.path().join("docs");
    for page in GENERATED {
        let to = book.join(page);
        std::fs::create_dir_all(to.parent().unwrap_or(&book)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&to, "# A page\n\nNo generated block.\n").unwrap_or_else(|e| panic!("{e}"));
    }
    let o = support::offline(&[
        "rules",
        "docs",
        "--out",
        &book.join("rules").to_string_lossy(),
        "--book",
        &book.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("SUMMARY.md") && errors[0].contains("<!-- generated: rule pages -->"),
        "{err}"
    );
    // the page is left as it was
    let text = std::fs::read_to_string(book.join("SUMMARY.md")).unwrap_or_default();
    assert_eq!(text, "# A page\n\nNo generated block.\n");
}
