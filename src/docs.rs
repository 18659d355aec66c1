//! Rule documentation generated from the rule files: one Markdown page per
//! rule and a catalog README, and the book's generated blocks (the rule
//! pages in its summary, the rule, fix-action and framework tables).
//! `pipeaudit rules docs --out docs/rules --book docs` writes them; tests
//! keep the committed pages current.

use crate::rules::{RuleFile, RuleSet};

/// A rule's mappings, most specific framework first (unknown ones last).
fn mappings(f: &RuleFile) -> Vec<(&str, &[String])> {
    let order = crate::rules::frameworks::Frameworks::bundled();
    let rank = |id: &str| {
        order
            .list
            .iter()
            .position(|x| x.id == id)
            .unwrap_or(usize::MAX)
    };
    let mut v: Vec<(&str, &[String])> = f
        .compliance
        .iter()
        .map(|(k, c)| (k.as_str(), c.as_slice()))
        .collect();
    v.sort_by_key(|(k, _)| (rank(k), k.to_string()));
    v
}

/// One rule's page.
pub fn rule_page(f: &RuleFile) -> String {
    let mut out = format!("# {} {}\n\n{}\n\n", f.id, f.slug, f.title);
    out.push_str(&format!(
        "| severity | resource type | fix |\n|---|---|---|\n| {} | `{}` | {} |\n\n",
        f.severity,
        f.resource_type,
        match &f.fix {
            Some(fix) => format!("`{}` ({})", fix.action, fix.safety),
            None => "none (manual)".to_string(),
        }
    ));
    if !f.enabled {
        out.push_str(&format!(
            "Off by default: runs only when `pipeaudit.toml` enables it (`[rules.{}] enabled = true`).\n\n",
            f.slug
        ));
    }
    out.push_str(&format!(
        "## What\n\n{}\n\n## Why\n\n{}\n\n## Remediation\n\n{}\n\n",
        f.docs.what.trim(),
        f.docs.why.trim(),
        f.docs.remediation.trim()
    ));
    if let Some(s) = &f.docs.fix_safety {
        out.push_str(&format!("## Fix safety\n\n{}\n\n", s.trim()));
    }
    if !f.parameters.is_empty() {
        out.push_str(&format!(
            "## Parameters\n\nSet in `pipeaudit.toml` under `[rules.{}]`.\n\n",
            f.slug
        ));
        for (name, doc) in &f.parameters {
            out.push_str(&format!("- `{name}`: {doc}\n"));
        }
        out.push('\n');
    }
    if !f.references.is_empty() {
        out.push_str("## References\n\n");
        for r in &f.references {
            out.push_str(&format!("- {r}\n"));
        }
        out.push('\n');
    }
    if !f.compliance.is_empty() {
        out.push_str("## Compliance\n\n| framework | controls |\n|---|---|\n");
        for (fw, controls) in mappings(f) {
            out.push_str(&format!("| {fw} | {} |\n", controls.join(", ")));
        }
        out.push('\n');
    }
    out.push_str("## Condition\n\n");
    if let Some(each) = &f.for_each {
        out.push_str(&format!("For each `item` of `{each}`:\n\n"));
    }
    out.push_str(&format!("```\n{}\n```\n", f.condition));
    out
}

/// Every page, by file name: `<ID>.md` and `README.md` (the catalog table).
pub fn rule_pages(rules: &RuleSet) -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = rules
        .rules
        .iter()
        .map(|r| (format!("{}.md", r.file.id), rule_page(&r.file)))
        .collect();
    let mut index = String::from(
        "# Rule catalog\n\nGenerated from `rules/` by `pipeaudit rules docs --out docs/rules`; do not edit by hand.\n\n",
    );
    index.push_str(&catalog_table(rules, Some("")));
    pages.push(("README.md".to_string(), index));
    pages
}

/// The catalog as a Markdown table; with `links`, each id links to its page
/// in that directory (`""`: the same one).
fn catalog_table(rules: &RuleSet, links: Option<&str>) -> String {
    let mut out = String::from("| id | slug | severity | title | fix |\n|---|---|---|---|---|\n");
    for r in &rules.rules {
        let f = &r.file;
        let id = match links {
            Some(dir) => format!("[{}]({dir}{}.md)", f.id, f.id),
            None => f.id.clone(),
        };
        out.push_str(&format!(
            "| {id} | {} | {} | {} | {} |\n",
            f.slug,
            f.severity,
            f.title,
            f.fix
                .as_ref()
                .map(|x| format!("{} ({})", x.action, x.safety))
                .unwrap_or_else(|| "manual".to_string())
        ));
    }
    out
}

/// The end of a generated block in a page of the book; it starts with
/// `<!-- generated: NAME -->`.
const BLOCK_END: &str = "<!-- end generated -->";

/// A part of a book page generated from the rules, the fix actions or the
/// frameworks: the page (relative to the book's source directory), the
/// block's name and its text.
pub struct BookBlock {
    pub page: &'static str,
    pub name: &'static str,
    pub text: String,
}

/// Every generated block of the book: the rule pages in `SUMMARY.md`, the
/// catalog table of the rules reference, the fix-action table of the
/// remediation guide and the frameworks table of the compliance guide.
pub fn book_blocks(rules: &RuleSet) -> Vec<BookBlock> {
    let mut pages = String::new();
    for r in &rules.rules {
        pages.push_str(&format!(
            "    - [{} {}](rules/{}.md)\n",
            r.file.id, r.file.slug, r.file.id
        ));
    }
    vec![
        BookBlock {
            page: "SUMMARY.md",
            name: "rule pages",
            text: pages,
        },
        BookBlock {
            page: "reference/rules.md",
            name: "rule catalog",
            text: catalog_table(rules, Some("../rules/")),
        },
        BookBlock {
            page: "guide/remediation.md",
            name: "fix actions",
            text: fix_action_table(rules),
        },
        BookBlock {
            page: "guide/compliance.md",
            name: "frameworks",
            text: frameworks_table(),
        },
    ]
}

/// The registered fix actions: id, safety, the change, the rules naming it
/// and the actions planned before it.
fn fix_action_table(rules: &RuleSet) -> String {
    let mut out = String::from(
        "| action | safety | change | rules | planned after |\n|---|---|---|---|---|\n",
    );
    for a in crate::remediate::registry::actions() {
        let named: Vec<&str> = rules
            .rules
            .iter()
            .filter(|r| r.file.fix.as_ref().is_some_and(|f| f.action == a.id()))
            .map(|r| r.file.id.as_str())
            .collect();
        let after = a
            .depends_on()
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            a.id(),
            a.safety(),
            a.summary(),
            if named.is_empty() {
                "-".to_string()
            } else {
                named.join(", ")
            },
            if after.is_empty() { "-" } else { &after }
        ));
    }
    out
}

/// The bundled frameworks: id, title and version, and the controls (the
/// ones no rule can test marked manual).
fn frameworks_table() -> String {
    let mut out = String::from("| framework id | framework | controls |\n|---|---|---|\n");
    for f in &crate::rules::frameworks::Frameworks::bundled().list {
        let controls: Vec<String> = f
            .controls
            .iter()
            .map(|c| match c.manual {
                Some(_) => format!("{} (manual)", c.id),
                None => c.id.clone(),
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | {} {} | {}: {} |\n",
            f.id,
            f.title,
            f.version,
            controls.len(),
            controls.join(", ")
        ));
    }
    out
}

/// Why a page's generated block could not be filled; `name` is the block's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("no `<!-- generated: {name} -->` marker")]
    NoStart { name: String },
    #[error("no `{BLOCK_END}` after `<!-- generated: {name} -->`")]
    NoEnd { name: String },
    #[error("`<!-- generated: {name} -->` and `{BLOCK_END}` share a line")]
    SameLine { name: String },
}

/// `page` with the text of its block `name` replaced by `text`.
pub fn fill_block(page: &str, name: &str, text: &str) -> Result<String, BlockError> {
    let start = format!("<!-- generated: {name} -->");
    let from = page
        .find(&start)
        .map(|i| i + start.len())
        .ok_or_else(|| BlockError::NoStart {
            name: name.to_string(),
        })?;
    let end = page[from..]
        .find(BLOCK_END)
        .map(|i| from + i)
        .ok_or_else(|| BlockError::NoEnd {
            name: name.to_string(),
        })?;
    // the end marker keeps its line and indentation
    let line = page[..end].rfind('\n').map_or(0, |i| i + 1);
    let cut = if page[line..end].trim().is_empty() {
        line
    } else {
        end
    };
    if cut < from {
        return Err(BlockError::SameLine {
            name: name.to_string(),
        });
    }
    Ok(format!("{}\n{text}{}", &page[..from], &page[cut..]))
}

/// Output formats of `pipeaudit rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Markdown,
}

/// Output formats of `pipeaudit rules explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    Table,
    Json,
    Markdown,
}

/// The rule catalog as a table, JSON (the rule files) or Markdown.
pub fn rules_list(rules: &RuleSet, format: ListFormat) -> String {
    match format {
        ListFormat::Json => {
            let list: Vec<&RuleFile> = rules.rules.iter().map(|r| &r.file).collect();
            let mut t = serde_json::to_string_pretty(&list).unwrap_or_default();
            t.push('\n');
            t
        }
        ListFormat::Markdown => catalog_table(rules, None),
        ListFormat::Table => {
            let mut t = comfy_table::Table::new();
            t.set_header(vec!["id", "slug", "severity", "fix", "title"]);
            for r in &rules.rules {
                let fix = r
                    .file
                    .fix
                    .as_ref()
                    .map(|f| format!("{} ({})", f.action, f.safety))
                    .unwrap_or_else(|| "-".to_string());
                t.add_row(vec![
                    r.file.id.clone(),
                    r.file.slug.clone(),
                    r.file.severity.to_string(),
                    fix,
                    r.file.title.clone(),
                ]);
            }
            t.force_no_tty();
            format!("{t}\n{} rules\n", rules.rules.len())
        }
    }
}

/// A paragraph with every line under its heading, at the same indentation.
fn indented(text: &str) -> String {
    text.trim()
        .lines()
        .map(|l| {
            if l.trim().is_empty() {
                String::new()
            } else {
                format!("  {}", l.trim_end())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How webhook filter groups are read, shown on examples decided live.
fn filter_group_examples() -> String {
    use crate::model::WebhookFilter;
    let f = |t: &str, p: &str, exclude: bool| WebhookFilter {
        filter_type: t.to_string(),
        pattern: p.to_string(),
        exclude_matched_pattern: exclude,
    };
    let examples = [
        vec![
            f("EVENT", "PUSH, PULL_REQUEST_CREATED", false),
            f("ACTOR_ACCOUNT_ID", "123456|7891011", false),
            f("HEAD_REF", "refs/heads/main", false),
        ],
        vec![
            f("EVENT", "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED", false),
            f("ACTOR_ACCOUNT_ID", "^(123456|7891011)$", false),
            f("BASE_REF", "^refs/heads/main$", false),
            f("FILE_PATH", "^src/", true),
        ],
    ];
    let mut out = String::from(
        "\nHow a filter group is read\n  A group starts a build when all its filters match (excludeMatchedPattern\n  inverts one); patterns are matched as a search, anywhere in the value.\n",
    );
    for (i, g) in examples.iter().enumerate() {
        out.push_str(&format!("  Example {}:\n", i + 1));
        for line in crate::aws::webhooks::explain_group(g) {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

/// A rule's documentation as text (or JSON).
pub fn explain(rule: &crate::rules::Rule, format: ExplainFormat) -> String {
    let f = &rule.file;
    match format {
        ExplainFormat::Json => {
            let mut t = serde_json::to_string_pretty(f).unwrap_or_default();
            t.push('\n');
            t
        }
        ExplainFormat::Markdown => rule_page(f),
        ExplainFormat::Table => {
            let mut out = format!("{} {} ({})\n{}\n\n", f.id, f.slug, f.severity, f.title);
            out.push_str(&format!(
                "What\n{}\n\nWhy\n{}\n\nRemediation\n{}\n",
                indented(&f.docs.what),
                indented(&f.docs.why),
                indented(&f.docs.remediation)
            ));
            match &f.fix {
                Some(fix) => out.push_str(&format!(
                    "\nFix: {} ({})\n{}\n",
                    fix.action,
                    fix.safety,
                    indented(f.docs.fix_safety.as_deref().unwrap_or(""))
                )),
                None => out.push_str("\nFix: none (manual)\n"),
            }
            out.push_str(&format!(
                "\nParameters ([rules.{}] in pipeaudit.toml)\n  enabled: {} by default\n",
                f.slug,
                if f.enabled { "on" } else { "off" }
            ));
            for (name, doc) in &f.parameters {
                out.push_str(&format!("  {name}: {doc}\n"));
            }
            if !f.references.is_empty() {
                out.push_str("\nReferences\n");
                for r in &f.references {
                    out.push_str(&format!("  - {r}\n"));
                }
            }
            if !f.compliance.is_empty() {
                out.push_str("\nCompliance\n");
                for (fw, controls) in mappings(f) {
                    out.push_str(&format!("  {fw}: {}\n", controls.join(", ")));
                }
            }
            if f.scope == crate::rules::Scope::Account {
                out.push_str("\nScope: account (with --account-checks; findings under the account section)\n");
            }
            if let Some(e) = &f.escalate {
                out.push_str(&format!("\nSeverity {} when\n  {}\n", e.severity, e.when));
            }
            out.push_str(&format!("\nCondition\n{}\n", indented(&f.condition)));
            if rule.reads.vars.iter().any(|v| v == "projects") {
                out.push_str(&filter_group_examples());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_errors_are_one_line_naming_the_markers() {
        let page = "intro\n<!-- generated: fixes -->\nold\n<!-- end generated -->\nrest\n";
        assert_eq!(
            fill_block(page, "fixes", "new\n").as_deref(),
            Ok("intro\n<!-- generated: fixes -->\nnew\n<!-- end generated -->\nrest\n")
        );
        let e = fill_block("no markers\n", "fixes", "x").err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("no `<!-- generated: fixes -->` marker")
        );
        let e = fill_block("<!-- generated: fixes -->\n", "fixes", "x").err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("no `<!-- end generated -->` after `<!-- generated: fixes -->`")
        );
        let e = BlockError::SameLine { name: "a".into() };
        assert_eq!(
            e.to_string(),
            "`<!-- generated: a -->` and `<!-- end generated -->` share a line"
        );
    }
}
