//! Rule documentation generated from the rule files: one Markdown page per
//! rule and a catalog README. `pipeaudit rules docs --out docs/rules`
//! writes them; a test keeps the committed pages current.

use crate::rules::{RuleFile, RuleSet};

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
    out.push_str(&format!(
        "## What\n\n{}\n\n## Why\n\n{}\n\n## Remediation\n\n{}\n\n",
        f.docs.what.trim(),
        f.docs.why.trim(),
        f.docs.remediation.trim()
    ));
    if let Some(s) = &f.docs.fix_safety {
        out.push_str(&format!("## Fix safety\n\n{}\n\n", s.trim()));
    }
    if !f.references.is_empty() {
        out.push_str("## References\n\n");
        for r in &f.references {
            out.push_str(&format!("- {r}\n"));
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
        "# Rule catalog\n\nGenerated from `rules/` by `pipeaudit rules docs --out docs/rules`; do not edit by hand.\n\n| id | slug | severity | title | fix |\n|---|---|---|---|---|\n",
    );
    for r in &rules.rules {
        let f = &r.file;
        index.push_str(&format!(
            "| [{}]({}.md) | {} | {} | {} | {} |\n",
            f.id,
            f.id,
            f.slug,
            f.severity,
            f.title,
            f.fix
                .as_ref()
                .map(|x| format!("{} ({})", x.action, x.safety))
                .unwrap_or_else(|| "manual".to_string())
        ));
    }
    pages.push(("README.md".to_string(), index));
    pages
}
