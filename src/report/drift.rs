//! Drift reports: table, JSON, SARIF (one result per change, rule `DRIFT`), Markdown.

use std::fmt::Write;

use serde_json::{Value, json};

use super::Format;
use super::escape::{code, control, markdown};
use crate::drift::{Change, ChangeKind, Delta, Drift};
use crate::findings::{Finding, Severity, fingerprint};
use crate::model::{Snapshot, ToolInfo};
use crate::rules::{RuleDocs, RuleFile};

fn kind(c: &Change) -> &'static str {
    match c.change {
        ChangeKind::Added => "added",
        ChangeKind::Removed => "removed",
        ChangeKind::Changed => "changed",
    }
}

/// The name in a pipeline ARN (`arn:aws:codepipeline:<region>:<account>:<name>`).
fn pipeline_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// One line for a change: each item added or removed whole, in compact JSON.
fn describe(c: &Change) -> String {
    let mut s = format!("{} {} ({})", kind(c), c.arn, c.resource_kind);
    for f in &c.fields {
        match &f.delta {
            Delta::Value { before, after } => {
                let _ = write!(s, "; {}: {before} -> {after}", f.path);
            }
            Delta::Items { added, removed } => {
                let _ = write!(s, "; {}:", f.path);
                for i in added {
                    let _ = write!(s, " added {i}");
                }
                for i in removed {
                    let _ = write!(s, " removed {i}");
                }
            }
        }
    }
    if !c.rules.is_empty() {
        let _ = write!(s, "; affects {}", c.rules.join(" "));
    }
    s
}

/// [`describe`], and the stack that manages the resource when known (not
/// part of the fingerprint: reading the stacks or not keeps it).
fn describe_with_stack(c: &Change) -> String {
    let mut s = describe(c);
    if let Some(m) = &c.managed_by {
        let _ = write!(s, "; {}", managed_line(m));
    }
    s
}

/// What a stack-managed change says about its stack.
fn managed_line(m: &crate::iac::Managed) -> String {
    format!(
        "managed by CloudFormation stack {} ({}{}): a stack update or an edit outside the stack (two snapshots cannot tell which)",
        m.stack,
        m.logical_id,
        m.template
            .as_deref()
            .map(|t| format!(", defined in {t}"))
            .unwrap_or_default()
    )
}

/// A value on one line when short and flat, else pretty-printed.
fn compact(v: &Value) -> Option<String> {
    let one = v.to_string();
    let flat = !matches!(v, Value::Object(_) | Value::Array(_)) || one.chars().count() <= 72;
    flat.then_some(one)
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Writes `text` with its first line after `first` and the others after `rest`.
fn lines(out: &mut String, first: &str, rest: &str, text: &str) {
    for (i, l) in text.lines().enumerate() {
        let _ = writeln!(out, "{}{}", if i == 0 { first } else { rest }, control(l));
    }
}

/// The fields of a change in the table: values before and after, and each
/// item added (`+`) or removed (`-`) whole, on indented lines.
fn table_fields(out: &mut String, c: &Change) {
    for f in &c.fields {
        match &f.delta {
            Delta::Value { before, after } => match (compact(before), compact(after)) {
                (Some(b), Some(a)) => {
                    let _ = writeln!(
                        out,
                        "    {}: {} -> {}",
                        control(&f.path),
                        control(&b),
                        control(&a)
                    );
                }
                _ => {
                    let _ = writeln!(out, "    {}:", control(&f.path));
                    lines(out, "      before: ", "              ", &pretty(before));
                    lines(out, "      after:  ", "              ", &pretty(after));
                }
            },
            Delta::Items { added, removed } => {
                let mut counts = Vec::new();
                if !added.is_empty() {
                    counts.push(format!("{} added", added.len()));
                }
                if !removed.is_empty() {
                    counts.push(format!("{} removed", removed.len()));
                }
                let _ = writeln!(out, "    {}: {}", control(&f.path), counts.join(", "));
                for (sign, items) in [("+", added), ("-", removed)] {
                    for i in items {
                        let text = compact(i).unwrap_or_else(|| pretty(i));
                        lines(out, &format!("      {sign} "), "        ", &text);
                    }
                }
            }
        }
    }
}

/// The fields of a change in Markdown: nested list items, JSON in code blocks.
fn markdown_fields(out: &mut String, c: &Change) {
    let value = |v: &Value| code(&v.to_string());
    for f in &c.fields {
        match &f.delta {
            Delta::Value { before, after } => match (compact(before), compact(after)) {
                (Some(_), Some(_)) => {
                    let _ = writeln!(
                        out,
                        "  - {}: {} → {}",
                        code(&f.path),
                        value(before),
                        value(after)
                    );
                }
                _ => {
                    let _ = writeln!(out, "  - {}:", code(&f.path));
                    for (label, v) in [("before", before), ("after", after)] {
                        let _ = writeln!(out, "    - {label}:\n");
                        let _ = writeln!(out, "      ```json");
                        lines(out, "      ", "      ", &pretty(v));
                        let _ = writeln!(out, "      ```");
                    }
                }
            },
            Delta::Items { added, removed } => {
                let _ = writeln!(out, "  - {}:", code(&f.path));
                for (label, items) in [("added", added), ("removed", removed)] {
                    for i in items {
                        if matches!(i, Value::Object(_) | Value::Array(_)) {
                            let _ = writeln!(out, "    - {label}:\n");
                            let _ = writeln!(out, "      ```json");
                            lines(out, "      ", "      ", &pretty(i));
                            let _ = writeln!(out, "      ```");
                        } else {
                            let _ = writeln!(out, "    - {label} {}", value(i));
                        }
                    }
                }
            }
        }
    }
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
        compliance: Default::default(),
        requires_config: None,
        fix: None,
        enabled: true,
        parameters: Default::default(),
        iac: None,
        scope: Default::default(),
        escalate: None,
    }
}

/// Why `drift --format html` is refused.
pub const HTML_IS_AUDIT_ONLY: &str =
    "drift reports as table, json, sarif or markdown; html is a format of the audit report";

/// Why the drift could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", HTML_IS_AUDIT_ONLY)]
    HtmlAuditOnly,
    #[error(transparent)]
    Sarif(#[from] super::sarif::SarifError),
    /// The SARIF text read back to list each change's pipelines.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Renders the drift in a format.
pub fn render(
    d: &Drift,
    current: &Snapshot,
    format: Format,
    docs_url: Option<&str>,
) -> Result<String, Error> {
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
                        format!("{} ({p})", pipeline_name(p)),
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
                if md {
                    let _ = writeln!(out, "\n### {}", markdown(&p));
                } else {
                    let _ = writeln!(out, "\n{}", control(&p));
                }
                for c in changes {
                    if md {
                        let _ = writeln!(
                            out,
                            "- {} {} ({})",
                            kind(c),
                            code(&c.arn),
                            markdown(&c.resource_kind)
                        );
                        markdown_fields(&mut out, c);
                        if !c.rules.is_empty() {
                            let _ = writeln!(out, "  - affects: {}", markdown(&c.rules.join(" ")));
                        }
                        if let Some(m) = &c.managed_by {
                            let _ = writeln!(out, "  - {}", markdown(&managed_line(m)));
                        }
                    } else {
                        let _ = writeln!(
                            out,
                            "  {} {} ({})",
                            kind(c),
                            control(&c.arn),
                            control(&c.resource_kind)
                        );
                        table_fields(&mut out, c);
                        if !c.rules.is_empty() {
                            let _ = writeln!(out, "    affects: {}", control(&c.rules.join(" ")));
                        }
                        if let Some(m) = &c.managed_by {
                            let _ = writeln!(out, "    {}", control(&managed_line(m)));
                        }
                    }
                }
            }
            if md && !d.not_compared.is_empty() {
                out.push('\n');
            }
            for n in &d.not_compared {
                if md {
                    let _ = writeln!(out, "- not compared (could not be read): {}", markdown(n));
                } else {
                    let _ = writeln!(out, "not compared (could not be read): {}", control(n));
                }
            }
            let _ = writeln!(out, "\n{} change(s)", d.changes.len());
            Ok(out)
        }
        Format::Html => Err(Error::HtmlAuditOnly),
        Format::Sarif => {
            let findings: Vec<Finding> = d
                .changes
                .iter()
                .map(|c| Finding {
                    rule_id: "DRIFT".into(),
                    slug: "configuration-drifted".into(),
                    severity: Severity::Medium,
                    title: "Configuration drifted".into(),
                    message: describe_with_stack(c),
                    pipeline: if c.pipelines.is_empty() {
                        "(none)".to_string()
                    } else {
                        c.pipelines
                            .iter()
                            .map(|p| pipeline_name(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    // one string for the location hash; replaced by the list below
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
                    defined_in: None,
                    witness: Vec::new(),
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
            let text =
                super::sarif::render_with_category(&report, &[&rule], docs_url, "pipeaudit-drift")
                    .map(|r| r.text)?;
            // each result's pipelines as a list of ARNs
            let by_fingerprint: std::collections::BTreeMap<&str, &Change> = findings
                .iter()
                .zip(&d.changes)
                .map(|(f, c)| (f.fingerprint.as_str(), c))
                .collect();
            let mut doc: Value = serde_json::from_str(&text)?;
            for run in doc["runs"].as_array_mut().into_iter().flatten() {
                for r in run["results"].as_array_mut().into_iter().flatten() {
                    let change = r["fingerprints"]["pipeaudit/v1"]
                        .as_str()
                        .and_then(|f| by_fingerprint.get(f));
                    if let (Some(c), Some(props)) = (change, r["properties"].as_object_mut()) {
                        props.remove("pipeline");
                        props.remove("pipeline_arn");
                        props.insert("pipelines".to_string(), json!(c.pipelines));
                    }
                }
            }
            Ok(serde_json::to_string_pretty(&doc).map(|t| format!("{t}\n"))?)
        }
    }
}
