//! The configuration applied to an evaluation: severity overrides,
//! ignores (expired ones reported, unused ones reported), then the order
//! and de-duplication of findings and diagnostics.

use rayon::prelude::*;

use super::Evaluation;
use crate::findings::{Diagnostic, DiagnosticKind, Finding};
use crate::rules::config::{Config, Ignore};

/// Applies the configuration's severity overrides and ignores, then sorts
/// and de-duplicates findings and diagnostics.
pub fn finish(eval: &mut Evaluation, config: &Config) {
    apply_config(eval, config, &today());
    eval.findings.par_sort_by(Finding::report_order);
    eval.findings
        .dedup_by(|a, b| a.fingerprint == b.fingerprint);
    eval.diagnostics.par_sort_by(|a, b| {
        (
            &a.account,
            &a.pipeline,
            &a.rule_id,
            &a.resource,
            &a.permission,
            &a.message,
        )
            .cmp(&(
                &b.account,
                &b.pipeline,
                &b.rule_id,
                &b.resource,
                &b.permission,
                &b.message,
            ))
    });
    eval.diagnostics.dedup();
}

/// Today as `YYYY-MM-DD` (UTC).
pub fn today() -> String {
    let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
    now.fmt(aws_smithy_types::date_time::Format::DateTime)
        .map(|s| s.chars().take(10).collect())
        .unwrap_or_default()
}

/// Whether an ignore (with its compiled glob) matches a finding.
fn ignore_matches(ig: &Ignore, glob: Option<&globset::GlobMatcher>, f: &Finding) -> bool {
    f.rule_id.eq_ignore_ascii_case(&ig.rule)
        && (f.resource_arn == ig.resource || glob.is_some_and(|g| g.is_match(&f.resource_arn)))
}

/// The ignore that suppresses a finding `today`, if any (the first that
/// matches and has not expired): what [`apply_config`] removes it for.
pub fn accepted_by<'a>(config: &'a Config, f: &Finding, today: &str) -> Option<&'a Ignore> {
    config.ignore.iter().find(|ig| {
        let glob = globset::Glob::new(&ig.resource)
            .map(|g| g.compile_matcher())
            .ok();
        ig.expires.as_deref().is_none_or(|d| d >= today) && ignore_matches(ig, glob.as_ref(), f)
    })
}

/// Severity overrides and ignores. An expired ignore stops suppressing and
/// is reported; an ignore that matched nothing is reported as unused.
pub fn apply_config(eval: &mut Evaluation, config: &Config, today: &str) {
    for f in &mut eval.findings {
        if let Some((_, sev)) = config
            .severity
            .iter()
            .find(|(id, _)| id.eq_ignore_ascii_case(&f.rule_id))
        {
            f.severity = *sev;
        }
    }
    for ig in &config.ignore {
        let glob = globset::Glob::new(&ig.resource)
            .map(|g| g.compile_matcher())
            .ok();
        let matches = |f: &Finding| ignore_matches(ig, glob.as_ref(), f);
        let expired = ig.expires.as_deref().is_some_and(|d| d < today);
        let count = eval.findings.iter().filter(|f| matches(f)).count();
        if expired {
            eval.diagnostics.push(Diagnostic {
                kind: DiagnosticKind::IgnoreExpired,
                account: None,
                rule_id: Some(ig.rule.clone()),
                pipeline: None,
                resource: Some(ig.resource.clone()),
                permission: None,
                message: format!(
                    "the ignore of {} on {} expired on {} and no longer suppresses {} finding(s)",
                    ig.rule,
                    ig.resource,
                    ig.expires.as_deref().unwrap_or(""),
                    count
                ),
            });
            continue;
        }
        if count == 0 {
            eval.diagnostics.push(Diagnostic {
                kind: DiagnosticKind::IgnoreUnused,
                account: None,
                rule_id: Some(ig.rule.clone()),
                pipeline: None,
                resource: Some(ig.resource.clone()),
                permission: None,
                message: format!(
                    "the ignore of {} on {} matched no finding",
                    ig.rule, ig.resource
                ),
            });
        }
        eval.findings.retain(|f| !matches(f));
    }
}
