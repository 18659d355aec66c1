//! A Markdown summary for `$GITHUB_STEP_SUMMARY` or a pull-request comment.

use std::fmt::Write;

use super::Report;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders totals by severity and a table per pipeline, linking rule docs.
pub fn render(r: &Report<'_>, docs_url: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## pipeaudit: {} finding(s) in {} pipeline(s)\n",
        r.findings.len(),
        r.pipelines
    );
    let accounts = r.accounts();
    if accounts.len() == 1 {
        let _ = writeln!(
            out,
            "Account `{}`, region(s) {}.\n",
            accounts.join(""),
            r.regions().join(", ")
        );
    } else {
        let _ = writeln!(
            out,
            "{} account(s), region(s) {}.\n",
            accounts.len(),
            r.regions().join(", ")
        );
    }
    let _ = writeln!(out, "| severity | findings |\n|---|---|");
    for (s, n) in r.by_severity() {
        let _ = writeln!(out, "| {s} | {n} |");
    }
    for (name, _arn, group) in r.by_pipeline() {
        let _ = writeln!(
            out,
            "\n### {}\n\n| severity | rule | resource | message |\n|---|---|---|---|",
            cell(name)
        );
        for f in group {
            let _ = writeln!(
                out,
                "| {} | [{}]({}/{}.md) `{}` | `{}` | {} |",
                f.severity,
                f.rule_id,
                docs_url.trim_end_matches('/'),
                f.rule_id,
                f.slug,
                cell(&f.resource_arn),
                cell(&f.message)
            );
        }
    }
    if !r.diagnostics.is_empty() {
        let _ = writeln!(out, "\n### Not checked ({})\n", r.diagnostics.len());
        for d in r.diagnostics {
            let _ = writeln!(out, "- {}", cell(&d.message));
        }
    }
    out
}
