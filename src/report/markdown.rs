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
    let _ = writeln!(
        out,
        "Account `{}`, region(s) {}.\n",
        r.account,
        r.regions.join(", ")
    );
    let _ = writeln!(out, "| severity | findings |\n|---|---|");
    for (s, n) in r.by_severity() {
        let _ = writeln!(out, "| {s} | {n} |");
    }
    let mut pipelines: Vec<&str> = r.findings.iter().map(|f| f.pipeline_arn.as_str()).collect();
    pipelines.dedup();
    for arn in pipelines {
        let group: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.pipeline_arn == arn)
            .collect();
        let name = group.first().map(|f| f.pipeline.as_str()).unwrap_or(arn);
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
