//! SARIF 2.1.0 for GitHub code scanning, written with `serde-sarif`.
//!
//! One run per audited account and region, each with a stable category
//! (`automationDetails.id`) and an explicit `results` list (empty when
//! clean, so that alerts close). Every result has exactly one physical
//! location: the template file and lines that define the resource when
//! `--iac` located it (relative to `--iac-root`), else a deterministic
//! relative pseudo-path (`aws/<account>/<region>/<service>/<name>`, line 1);
//! the ARN is in `logicalLocations` and the message, and the
//! `primaryLocationLineHash` is computed from rule, resource and pipeline
//! only, so that GitHub tracks one alert across runs however the lines
//! move. Code scanning keys an alert by its file too: a result whose file
//! changes (turning `--iac` on, moving a resource to another template)
//! opens a new alert and closes the old one, which no fingerprint prevents.

use std::collections::BTreeMap;

use serde_sarif::sarif;
use sha2::{Digest, Sha256};

use super::Report;
use crate::findings::{Finding, Severity};
use crate::rules::RuleFile;

/// At most this many runs per file (GitHub's limit).
pub const MAX_RUNS: usize = 20;
/// At most this many results per run (GitHub's limit).
pub const MAX_RESULTS: usize = 25_000;

/// Why a SARIF file cannot be produced.
#[derive(Debug, thiserror::Error)]
pub enum SarifError {
    #[error(
        "{0} account/region scopes would need {0} SARIF runs; GitHub accepts at most {MAX_RUNS} per file. Audit fewer regions per file."
    )]
    TooManyRuns(usize),
    #[error("cannot serialize SARIF: {0}")]
    Serialize(String),
}

/// The output and what was left out to respect the limits.
pub struct Rendered {
    pub text: String,
    /// (category, results dropped) per run that exceeded the limit.
    pub truncated: Vec<(String, usize)>,
}

/// `security-severity` for GitHub: critical >= 9.0, high 7.0-8.9, medium 4.0-6.9, low 0.1-3.9.
pub fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn result_level(s: Severity) -> sarif::ResultLevel {
    match s {
        Severity::Critical | Severity::High => sarif::ResultLevel::Error,
        Severity::Medium => sarif::ResultLevel::Warning,
        Severity::Low | Severity::Info => sarif::ResultLevel::Note,
    }
}

fn area(id: &str) -> &'static str {
    match &id[..id.len().min(2)] {
        "PL" => "pipeline",
        "SC" => "source",
        "TR" => "trigger",
        "AB" => "s3",
        "KM" => "kms",
        "CB" => "codebuild",
        "CD" => "codedeploy",
        "IA" => "iam",
        _ => "custom",
    }
}

/// The service part of an ARN (`s3`, `kms`, ...), `aws` when it has none.
fn service_of(arn: &str) -> String {
    arn.split(':')
        .nth(2)
        .filter(|s| !s.is_empty())
        .unwrap_or("aws")
        .to_string()
}

/// A path segment safe for a relative URI: letters, digits, `-`, `_`, `.`,
/// anything else `_`; never empty and never a dot segment (`.`, `..`, and
/// so never a step out of the repository: a role path may be
/// `/../../`). Percent-encoding would not do for the dots, since URL
/// parsers read `%2e%2e` as `..`, so a segment of dots only has them as `_`.
fn segment(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.chars().all(|c| c == '.') {
        "_".repeat(out.len().max(1))
    } else {
        out
    }
}

/// The pseudo-path of a finding: `aws/<account>/<region>/<service>/<name>`.
pub fn pseudo_path(f: &Finding) -> String {
    pseudo_path_of(&f.account, &f.region, &f.resource_arn)
}

/// The pseudo-path of a resource ARN under an account and region.
fn pseudo_path_of(account: &str, region: &str, arn: &str) -> String {
    let resource = arn.split(':').skip(5).collect::<Vec<_>>().join(":");
    let name = if resource.is_empty() {
        arn
    } else {
        resource.as_str()
    };
    let name: Vec<String> = name.split('/').map(segment).collect();
    format!(
        "aws/{}/{}/{}/{}",
        segment(account),
        segment(region),
        segment(&service_of(arn)),
        name.join("/")
    )
}

/// A release path's chain as one code flow: a location per step, at the
/// pseudo-path of the step's resource, its message saying who does what,
/// granted by which statement, on which conditions.
fn code_flow(f: &Finding) -> sarif::CodeFlow {
    let locations = f
        .witness
        .iter()
        .enumerate()
        .map(|(i, step)| {
            // the step's own account and region, where its ARN names them
            // (IAM and S3 ARNs leave them out: the finding's then)
            let mut parts = step.resource.split(':');
            let (region, account) = (parts.nth(3), parts.next());
            let account = account.filter(|a| !a.is_empty()).unwrap_or(&f.account);
            let region = region.filter(|r| !r.is_empty()).unwrap_or(&f.region);
            let location = sarif::Location::builder()
                .physical_location(
                    sarif::PhysicalLocation::builder()
                        .artifact_location(
                            sarif::ArtifactLocation::builder()
                                .uri(pseudo_path_of(account, region, &step.resource))
                                .build(),
                        )
                        .region(sarif::Region::builder().start_line(1).build())
                        .build(),
                )
                .logical_locations(vec![
                    sarif::LogicalLocation::builder()
                        .fully_qualified_name(step.resource.clone())
                        .kind("resource".to_string())
                        .build(),
                ])
                .message(text(&step.to_string()))
                .build();
            sarif::ThreadFlowLocation::builder()
                .location(location)
                .execution_order(i as i64 + 1)
                .build()
        })
        .collect::<Vec<_>>();
    sarif::CodeFlow::builder()
        .message(text(&format!(
            "How {} ships around the review",
            f.resource_arn
        )))
        .thread_flows(vec![
            sarif::ThreadFlow::builder().locations(locations).build(),
        ])
        .build()
}

/// The relative URI of a location path: each segment percent-encoded
/// (spaces and the like are not allowed in a code-scanning URI).
fn uri_of(path: &str) -> String {
    path.split('/')
        .map(|seg| urlencoding::encode(seg).into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// `primaryLocationLineHash`: 16 hex digits of a hash of rule, resource and pipeline, then `:1`.
pub fn line_hash(f: &Finding) -> String {
    let mut h = Sha256::new();
    for part in [&f.rule_id, &f.resource_arn, &f.pipeline_arn] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    format!("{}:1", hex::encode(&h.finalize()[..8]))
}

fn text(s: &str) -> sarif::Message {
    sarif::Message::builder().text(s.to_string()).build()
}

fn mfs(s: &str) -> sarif::MultiformatMessageString {
    sarif::MultiformatMessageString::builder()
        .text(s.to_string())
        .build()
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// At most this many tags per rule: code scanning takes 20 and shows about
/// 10, so every tag written stays visible.
pub const MAX_TAGS: usize = 10;

/// A rule's tags: `security` (code scanning's security severity needs it),
/// its framework controls as `framework/control`, most specific framework
/// first, then its area and `ci-cd`; at most [`MAX_TAGS`].
pub fn tags(r: &RuleFile) -> Vec<String> {
    let mut tags = vec!["security".to_string()];
    tags.extend(crate::rules::frameworks::Frameworks::bundled().tags(r));
    tags.push(area(&r.id).to_string());
    tags.push("ci-cd".to_string());
    tags.truncate(MAX_TAGS);
    tags
}

fn descriptor(r: &RuleFile, docs_url: Option<&str>) -> sarif::ReportingDescriptor {
    let mut markdown = format!(
        "**{}** ({})\n\n**What.** {}\n\n**Why.** {}\n\n**Remediation.** {}\n",
        r.title,
        r.severity,
        r.docs.what.trim(),
        r.docs.why.trim(),
        r.docs.remediation.trim()
    );
    if let (Some(fix), Some(safety)) = (&r.fix, &r.docs.fix_safety) {
        markdown.push_str(&format!("\n**Fix** `{}`: {}\n", fix.action, safety.trim()));
    }
    if !r.references.is_empty() {
        markdown.push_str("\n**References:** ");
        markdown.push_str(&r.references.join("; "));
        markdown.push('\n');
    }
    let mut props = BTreeMap::new();
    props.insert(
        "security-severity".to_string(),
        serde_json::Value::String(security_severity(r.severity).to_string()),
    );
    props.insert(
        "precision".to_string(),
        serde_json::Value::String("high".to_string()),
    );
    let mut d = sarif::ReportingDescriptor::builder()
        .id(r.id.clone())
        .name(r.slug.clone())
        .short_description(mfs(&truncate(&r.title, 1024)))
        .full_description(mfs(&truncate(r.docs.what.trim(), 1024)))
        .help(
            sarif::MultiformatMessageString::builder()
                .text(r.docs.remediation.trim().to_string())
                .markdown(markdown)
                .build(),
        )
        .default_configuration(
            sarif::ReportingConfiguration::builder()
                .level(serde_json::Value::String(level(r.severity).to_string()))
                .build(),
        )
        .properties(
            sarif::PropertyBag::builder()
                .tags(tags(r))
                .additional_properties(props)
                .build(),
        )
        .build();
    d.help_uri = docs_url.map(|base| super::rule_page(base, &r.id));
    d
}

fn result(f: &Finding, rule_index: i64) -> sarif::Result {
    let mut partial = BTreeMap::new();
    partial.insert("primaryLocationLineHash".to_string(), line_hash(f));
    let mut fingerprints = BTreeMap::new();
    fingerprints.insert("pipeaudit/v1".to_string(), f.fingerprint.clone());
    let mut props = BTreeMap::new();
    props.insert(
        "pipeline".to_string(),
        serde_json::Value::String(f.pipeline.clone()),
    );
    props.insert(
        "pipeline_arn".to_string(),
        serde_json::Value::String(f.pipeline_arn.clone()),
    );
    props.insert(
        "resource_arn".to_string(),
        serde_json::Value::String(f.resource_arn.clone()),
    );
    props.insert(
        "resource_type".to_string(),
        serde_json::Value::String(f.resource_type.clone()),
    );
    props.insert(
        "severity".to_string(),
        serde_json::Value::String(f.severity.to_string()),
    );
    let (uri, region) = match &f.defined_in {
        Some(d) => {
            props.insert(
                "defined_in".to_string(),
                serde_json::to_value(d).unwrap_or(serde_json::Value::Null),
            );
            (
                uri_of(&d.file),
                sarif::Region::builder()
                    .start_line(d.start_line.max(1) as i64)
                    .end_line(d.end_line.max(d.start_line).max(1) as i64)
                    .build(),
            )
        }
        None => (
            pseudo_path(f),
            sarif::Region::builder().start_line(1).build(),
        ),
    };
    let location = sarif::Location::builder()
        .physical_location(
            sarif::PhysicalLocation::builder()
                .artifact_location(sarif::ArtifactLocation::builder().uri(uri).build())
                .region(region)
                .build(),
        )
        .logical_locations(vec![
            sarif::LogicalLocation::builder()
                .fully_qualified_name(f.resource_arn.clone())
                .name(
                    f.resource_arn
                        .rsplit(['/', ':'])
                        .next()
                        .unwrap_or(&f.resource_arn)
                        .to_string(),
                )
                .kind("resource".to_string())
                .build(),
        ])
        .build();
    let mut result = sarif::Result::builder()
        .rule_id(f.rule_id.clone())
        .rule_index(rule_index)
        .level(result_level(f.severity))
        .message(text(&format!(
            "{} (pipeline {}, resource {})",
            f.message, f.pipeline, f.resource_arn
        )))
        .locations(vec![location])
        .partial_fingerprints(partial)
        .fingerprints(fingerprints)
        .properties(
            sarif::PropertyBag::builder()
                .additional_properties(props)
                .build(),
        )
        .build();
    if !f.witness.is_empty() {
        result.code_flows = Some(vec![code_flow(f)]);
    }
    if let Some(fix) = f.fix.as_ref().filter(|x| !x.changes.is_empty()) {
        result.fixes = Some(vec![fixes(fix)]);
    }
    result
}

/// A finding's verified change to its template as a SARIF fix: byte
/// ranges of the original file and what replaces each.
fn fixes(fix: &crate::findings::FixRef) -> sarif::Fix {
    let changes = fix
        .changes
        .iter()
        .map(|c| {
            sarif::ArtifactChange::builder()
                .artifact_location(
                    sarif::ArtifactLocation::builder()
                        .uri(uri_of(&c.file))
                        .build(),
                )
                .replacements(
                    c.replacements
                        .iter()
                        .map(|r| {
                            sarif::Replacement::builder()
                                .deleted_region(
                                    sarif::Region::builder()
                                        .byte_offset(r.offset as i64)
                                        .byte_length(r.length as i64)
                                        .build(),
                                )
                                .inserted_content(
                                    sarif::ArtifactContent::builder()
                                        .text(r.inserted.clone())
                                        .build(),
                                )
                                .build()
                        })
                        .collect::<Vec<_>>(),
                )
                .build()
        })
        .collect::<Vec<_>>();
    sarif::Fix::builder()
        .artifact_changes(changes)
        .description(text(&format!(
            "{} ({}): verified by auditing the changed template again",
            fix.action, fix.safety
        )))
        .build()
}

/// The category of one account and region (`pipeaudit` for audits,
/// `pipeaudit-drift` for drift, so that the two never close each other's alerts).
pub fn category(prefix: &str, account: &str, region: &str) -> String {
    format!("{prefix}/aws/{account}/{region}/")
}

/// Renders one run per account and region of the report.
/// `docs_url` is the base of the rule pages each rule's `helpUri` points
/// at ([`super::docs_base`]); without it the rules carry their help text only.
pub fn render(
    r: &Report<'_>,
    rules: &[&RuleFile],
    docs_url: Option<&str>,
) -> Result<Rendered, SarifError> {
    render_with_category(r, rules, docs_url, "pipeaudit")
}

/// As [`render`], with another category prefix.
pub fn render_with_category(
    r: &Report<'_>,
    rules: &[&RuleFile],
    docs_url: Option<&str>,
    prefix: &str,
) -> Result<Rendered, SarifError> {
    let mut scopes: std::collections::BTreeSet<(&str, &str)> = r
        .scopes
        .iter()
        .map(|s| (s.account.as_str(), s.region.as_str()))
        .collect();
    for f in r.findings {
        scopes.insert((f.account.as_str(), f.region.as_str()));
    }
    if scopes.len() > MAX_RUNS {
        return Err(SarifError::TooManyRuns(scopes.len()));
    }
    let by_id: BTreeMap<&str, &RuleFile> = rules.iter().map(|r| (r.id.as_str(), *r)).collect();
    let mut truncated = Vec::new();
    let mut runs = Vec::new();
    for (account, region) in &scopes {
        let mut findings: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.region == *region && f.account == *account)
            .collect();
        let cat = category(prefix, account, region);
        if findings.len() > MAX_RESULTS {
            // keep the most severe; ties by the report's order
            findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
            truncated.push((cat.clone(), findings.len() - MAX_RESULTS));
            findings.truncate(MAX_RESULTS);
            findings.sort_by(|a, b| a.report_order(b));
        }
        let mut reported: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
        reported.sort();
        reported.dedup();
        let descriptors: Vec<sarif::ReportingDescriptor> = reported
            .iter()
            .filter_map(|id| by_id.get(id).map(|r| descriptor(r, docs_url)))
            .collect();
        let index: BTreeMap<&str, i64> = reported
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as i64))
            .collect();
        let results: Vec<sarif::Result> = findings
            .iter()
            .map(|f| result(f, index.get(f.rule_id.as_str()).copied().unwrap_or(-1)))
            .collect();
        let mut driver = sarif::ToolComponent::builder()
            .name("pipeaudit".to_string())
            .semantic_version(env!("CARGO_PKG_VERSION").to_string())
            .rules(descriptors)
            .build();
        if !super::REPOSITORY.is_empty() {
            driver.information_uri = Some(super::REPOSITORY.to_string());
        }
        runs.push(
            sarif::Run::builder()
                .tool(sarif::Tool::builder().driver(driver).build())
                .automation_details(sarif::RunAutomationDetails::builder().id(cat).build())
                .results(results)
                .build(),
        );
    }
    let log = sarif::Sarif::builder()
        .schema(sarif::SCHEMA_URL.to_string())
        .version(serde_json::Value::String("2.1.0".to_string()))
        .runs(runs)
        .build();
    let mut text =
        serde_json::to_string_pretty(&log).map_err(|e| SarifError::Serialize(e.to_string()))?;
    text.push('\n');
    Ok(Rendered { text, truncated })
}

#[cfg(test)]
mod tests;
