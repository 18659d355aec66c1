//! Drift reports: table, JSON, SARIF (one result per change, rule `DRIFT`), Markdown.

use std::fmt::Write;

use serde_json::json;

use crate::cli::Format;
use crate::drift::{Change, ChangeKind, Drift};
use crate::findings::{Finding, Severity, fingerprint};
use crate::model::{Snapshot, ToolInfo};
use crate::rules::{RuleDocs, RuleFile};

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(159).collect::<String>())
    } else {
        s
    }
}

fn kind(c: &Change) -> &'static str {
    match c.change {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Changed => "changed",
    }
}

fn describe(c: &Change) -> String {
    let mut s = format!("{} {} ({})", kind(c), c.arn, c.resource_kind);
    for f in &c.fields {
        let _ = write!(
            s,
            "; {}: {} -> {}",
            f.path,
            short(&f.before),
            short(&f.after)
        );
    }
    if !c.rules.is_empty() {
        let _ = write!(s, "; affects {}", c.rules.join(" "));
    }
    s
}

/// The DRIFT pseudo-rule, for SARIF.
fn drift_rule() -> RuleFile {
    RuleFile {
        id: "DRIFT".into(),
        slug: "configuration-drifted".into(),
        title: "Configuration drifted from the approved baseline".into(),
        severity: Severity::Medium,
        resource_type: "AWS::CloudFormation::Stack".into(),
        for_each: None,
        condition: "true".into(),
        resource: "arn".into(),
        message: String::new(),
        docs: RuleDocs {
            what: "A resource a pipeline uses was added, removed or changed since the approved baseline snapshot.".into(),
            why: "Unreviewed changes to CI/CD resources are how pipelines get weakened or hijacked.".into(),
            remediation: "Review the change; revert it, or take a new baseline with `pipeaudit snapshot -o` once approved.".into(),
            fix_safety: None,
        },
        references: vec!["pipeaudit drift".into()],
        fix: None,
    }
}

/// Renders the drift in a format.
pub fn render(
    d: &Drift,
    current: &Snapshot,
    format: Format,
    docs_url: &str,
) -> Result<String, String> {
    match format {
        Format::Json => {
            let doc = json!({
                "schema_version": 1,
                "tool": ToolInfo::current(),
                "account": current.account,
                "summary": {"changes": d.changes.len(), "not_compared": d.not_compared.len()},
                "changes": d.changes,
                "not_compared": d.not_compared,
            });
            Ok(format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            ))
        }
        Format::Table | Format::Markdown => {
            let md = format == Format::Markdown;
            let mut out = String::new();
            if md {
                let _ = writeln!(out, "## pipeaudit drift: {} change(s)\n", d.changes.len());
            }
            let mut pipelines: Vec<String> =
                d.changes.iter().flat_map(|c| c.pipelines.clone()).collect();
            pipelines.sort();
            pipelines.dedup();
            let unowned: Vec<&Change> = d
                .changes
                .iter()
                .filter(|c| c.pipelines.is_empty())
                .collect();
            let mut groups: Vec<(String, Vec<&Change>)> = pipelines
                .iter()
                .map(|p| {
                    (
                        p.clone(),
                        d.changes
                            .iter()
                            .filter(|c| c.pipelines.contains(p))
                            .collect(),
                    )
                })
                .collect();
            if !unowned.is_empty() {
                groups.push(("(no pipeline)".to_string(), unowned));
            }
            for (p, changes) in groups {
                let _ = writeln!(out, "{}{p}", if md { "\n### " } else { "\n" });
                for c in changes {
                    let _ = writeln!(
                        out,
                        "{} {} {} ({})",
                        if md { "-" } else { " " },
                        kind(c),
                        c.arn,
                        c.resource_kind
                    );
                    for f in &c.fields {
                        let _ = writeln!(
                            out,
                            "    {}: {} -> {}",
                            f.path,
                            short(&f.before),
                            short(&f.after)
                        );
                    }
                    if !c.rules.is_empty() {
                        let _ = writeln!(out, "    affects: {}", c.rules.join(" "));
                    }
                }
            }
            for n in &d.not_compared {
                let _ = writeln!(out, "not compared (could not be read): {n}");
            }
            let _ = writeln!(out, "\n{} change(s)", d.changes.len());
            Ok(out)
        }
        Format::Sarif => {
            let findings: Vec<Finding> = d
                .changes
                .iter()
                .map(|c| Finding {
                    rule_id: "DRIFT".into(),
                    slug: "configuration-drifted".into(),
                    severity: Severity::Medium,
                    title: "Configuration drifted".into(),
                    message: describe(c),
                    pipeline: c.pipelines.join(","),
                    pipeline_arn: c.pipelines.join(","),
                    resource_type: c.resource_kind.clone(),
                    resource_arn: c.arn.clone(),
                    region: c
                        .arn
                        .split(':')
                        .nth(3)
                        .filter(|r| !r.is_empty())
                        .unwrap_or(
                            current
                                .regions
                                .first()
                                .map(String::as_str)
                                .unwrap_or("global"),
                        )
                        .to_string(),
                    account: current.account.clone(),
                    fix: None,
                    fingerprint: fingerprint("DRIFT", &describe(c), &c.arn),
                })
                .collect();
            let scopes = super::scopes(&current.account, &current.regions);
            let report = super::Report {
                scopes: &scopes,
                pipelines: current.pipelines.len(),
                findings: &findings,
                diagnostics: &[],
            };
            let rule = drift_rule();
            super::sarif::render_with_category(&report, &[&rule], docs_url, "pipeaudit-drift")
                .map(|r| r.text)
                .map_err(|e| e.to_string())
        }
    }
}
