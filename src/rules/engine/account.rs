//! The account scope: rules whose findings sit on a build project or a
//! region rather than a pipeline (`scope: account`), evaluated once per
//! snapshot over the account-level variables, when they were collected
//! (`--account-checks`):
//!
//! - `projects`: every webhook project of the audited regions as
//!   [`crate::aws::webhooks::analyse`] reads it;
//! - `source_credentials`: every source credential of the audited regions,
//!   each with its `region`;
//! - `account` and `config`.
//!
//! A project that could not be read, and a region whose credentials could
//! not be listed, are left out of the lists and reported as collection
//! gaps naming the permission by each rule that reads the list. A pattern
//! that could not be analysed leaves its fields out of the project: the
//! rule that needs them reports it (`not-analysed`); an invalid pattern is
//! a rule error naming the project. Findings are grouped under the
//! `account` section; their fingerprint is made of the rule and the
//! resource (the project or credential ARN).

use std::collections::HashMap;

use cel::{Context, Value};
use serde::Serialize;

use super::eval::{Found, as_string, run};
use crate::aws::webhooks::{ProjectView, analyse};
use crate::findings::{ACCOUNT_SECTION, Diagnostic, DiagnosticKind, Finding, fingerprint};
use crate::model::{Observed, ReadError, Snapshot};
use crate::rules::{MessagePart, Rule};

/// The variables account rules may use.
pub const VARIABLES: &[&str] = &["projects", "source_credentials", "account", "config"];

/// A source credential as bound.
#[derive(Serialize)]
struct Credential<'a> {
    arn: &'a str,
    region: &'a str,
    server_type: &'a str,
    auth_type: &'a str,
    resource: Option<&'a str>,
}

fn to_value<T: Serialize>(v: &T, root: &str) -> Value {
    super::cel_value::to_cel(v, root, &mut Vec::new()).unwrap_or(Value::Null)
}

fn diagnostic(
    kind: DiagnosticKind,
    rule: &Rule,
    resource: Option<&str>,
    permission: Option<&str>,
    message: String,
) -> Diagnostic {
    Diagnostic {
        kind,
        account: None,
        rule_id: Some(rule.file.id.clone()),
        pipeline: None,
        resource: resource.map(str::to_string),
        permission: permission.map(str::to_string),
        message,
    }
}

fn gap(rule: &Rule, resource: &str, what: &str, e: &ReadError) -> Diagnostic {
    diagnostic(
        DiagnosticKind::CollectionGap,
        rule,
        Some(resource),
        Some(&e.action),
        format!(
            "{} not checked: {what} could not be read ({}{})",
            rule.file.id,
            e.code
                .as_deref()
                .map(|c| format!("{c}: "))
                .unwrap_or_default(),
            e.message
        ),
    )
}

/// Evaluates the account rules over the snapshot's account-level resources.
pub(super) fn evaluate_account(root: &Context<'_>, s: &Snapshot, rules: &[&Rule]) -> Found {
    let mut out = Found {
        findings: Vec::new(),
        diagnostics: Vec::new(),
    };
    if !s.account_checks || rules.is_empty() {
        return out;
    }
    let mut views: Vec<ProjectView> = Vec::new();
    let mut unread: Vec<(&str, &ReadError)> = Vec::new();
    for r in &s.webhook_projects {
        match s.resources.build_projects.get(&r.arn) {
            Some(Observed::Ok { value }) => views.extend(analyse(r, value)),
            Some(Observed::Unknown { error }) => unread.push((&r.arn, error)),
            _ => {}
        }
    }
    let by_arn: HashMap<&str, &ProjectView> = views.iter().map(|v| (v.arn.as_str(), v)).collect();
    let mut credentials = Vec::new();
    let mut unlisted: Vec<(&str, &ReadError)> = Vec::new();
    for (region, obs) in &s.resources.source_credentials {
        match obs {
            Observed::Ok { value } => credentials.extend(value.iter().map(|c| Credential {
                arn: &c.arn,
                region,
                server_type: &c.server_type,
                auth_type: &c.auth_type,
                resource: c.resource.as_deref(),
            })),
            Observed::Unknown { error } => unlisted.push((region, error)),
            Observed::Absent => {}
        }
    }
    let mut ctx = root.new_inner_scope();
    ctx.add_variable_from_value(
        "projects",
        Value::List(
            views
                .iter()
                .map(|v| to_value(v, &v.arn))
                .collect::<Vec<_>>()
                .into(),
        ),
    );
    ctx.add_variable_from_value(
        "source_credentials",
        Value::List(
            credentials
                .iter()
                .map(|c| to_value(c, c.arn))
                .collect::<Vec<_>>()
                .into(),
        ),
    );
    ctx.add_variable_from_value("account", Value::String(s.account.clone().into()));
    for rule in rules {
        let reads = |v: &str| rule.reads.vars.iter().any(|r| r == v);
        if reads("projects") {
            for (arn, e) in &unread {
                out.diagnostics
                    .push(gap(rule, arn, &format!("build project {arn}"), e));
            }
        }
        if reads("source_credentials") {
            for (region, e) in &unlisted {
                out.diagnostics.push(gap(
                    rule,
                    &format!("{region}:source-credentials"),
                    &format!("the source credentials of {region}"),
                    e,
                ));
            }
        }
        let items = match &rule.for_each {
            None => vec![None],
            Some(e) => match run(&e.program, &ctx) {
                Ok(Value::List(l)) => l.iter().cloned().map(Some).collect(),
                Ok(other) => {
                    out.diagnostics.push(diagnostic(
                        DiagnosticKind::RuleError,
                        rule,
                        None,
                        None,
                        format!(
                            "{} could not be evaluated: for_each gave {}, not a list",
                            rule.file.id,
                            as_string(&other)
                        ),
                    ));
                    continue;
                }
                Err(e) => {
                    out.diagnostics.push(diagnostic(
                        DiagnosticKind::RuleError,
                        rule,
                        None,
                        None,
                        format!("{} could not be evaluated: {e}", rule.file.id),
                    ));
                    continue;
                }
            },
        };
        for item in items {
            let mut scope = ctx.new_inner_scope();
            let arn = item.as_ref().and_then(|i| match i {
                Value::Map(m) => m
                    .get(&cel::objects::Key::String("arn".to_string().into()))
                    .map(as_string),
                _ => None,
            });
            if let Some(i) = item {
                scope.add_variable_from_value("item", i);
            }
            match finding(rule, s, &scope) {
                Ok(Some(mut f)) => {
                    if let Some(e) = &rule.escalate {
                        match run(&e.when.program, &scope) {
                            Ok(Value::Bool(true)) => f.severity = e.severity,
                            Ok(_) => {}
                            Err(err) => {
                                let gaps = crate::rules::functions::take_gaps();
                                for (res, e) in &gaps {
                                    out.diagnostics.push(gap(
                                        rule,
                                        res,
                                        &format!("{res} (for the severity)"),
                                        e,
                                    ));
                                }
                                if gaps.is_empty() {
                                    out.diagnostics.push(diagnostic(
                                        DiagnosticKind::RuleError,
                                        rule,
                                        arn.as_deref(),
                                        None,
                                        format!("{} escalate: {err}", rule.file.id),
                                    ));
                                }
                            }
                        }
                    }
                    out.findings.push(f);
                }
                Ok(None) => {}
                Err(err) => {
                    let view = arn.as_deref().and_then(|a| by_arn.get(a));
                    let gaps = crate::rules::functions::take_gaps();
                    match view {
                        Some(v) if !v.invalid.is_empty() => {
                            for why in &v.invalid {
                                out.diagnostics.push(diagnostic(
                                    DiagnosticKind::RuleError,
                                    rule,
                                    Some(&v.arn),
                                    None,
                                    format!("{} on build project {}: {why}", rule.file.id, v.name),
                                ));
                            }
                        }
                        Some(v) if !v.not_analysed.is_empty() => {
                            for why in &v.not_analysed {
                                out.diagnostics.push(diagnostic(
                                    DiagnosticKind::NotAnalysed,
                                    rule,
                                    Some(&v.arn),
                                    None,
                                    format!(
                                        "{} not checked on build project {}: {why}",
                                        rule.file.id, v.name
                                    ),
                                ));
                            }
                        }
                        _ if !gaps.is_empty() => {
                            for (res, e) in &gaps {
                                out.diagnostics.push(gap(rule, res, res, e));
                            }
                        }
                        _ => out.diagnostics.push(diagnostic(
                            DiagnosticKind::RuleError,
                            rule,
                            arn.as_deref(),
                            None,
                            format!("{} could not be evaluated: {err}", rule.file.id),
                        )),
                    }
                }
            }
        }
    }
    out
}

/// The finding of `rule` in `ctx`, if its condition holds.
fn finding(rule: &Rule, s: &Snapshot, ctx: &Context<'_>) -> Result<Option<Finding>, String> {
    crate::rules::functions::take_gaps();
    match run(&rule.condition.program, ctx).map_err(|e| e.to_string())? {
        Value::Bool(true) => {}
        Value::Bool(false) => return Ok(None),
        other => return Err(format!("condition gave {}, not a bool", as_string(&other))),
    }
    let resource =
        as_string(&run(&rule.resource.program, ctx).map_err(|e| format!("resource: {e}"))?);
    let mut message = String::new();
    for part in &rule.message {
        match part {
            MessagePart::Text(t) => message.push_str(t),
            MessagePart::Expr(_, e) => message.push_str(&as_string(
                &run(&e.program, ctx).map_err(|e| format!("message: {e}"))?,
            )),
        }
    }
    let region = resource.split(':').nth(3).unwrap_or_default().to_string();
    Ok(Some(Finding {
        rule_id: rule.file.id.clone(),
        slug: rule.file.slug.clone(),
        severity: rule.file.severity,
        title: rule.file.title.clone(),
        message: message.trim().to_string(),
        pipeline: ACCOUNT_SECTION.to_string(),
        pipeline_arn: s.account.clone(),
        resource_type: rule.file.resource_type.clone(),
        region,
        account: s.account.clone(),
        fix: rule.file.fix.clone(),
        fingerprint: fingerprint(&rule.file.id, ACCOUNT_SECTION, &resource),
        defined_in: None,
        witness: Vec::new(),
        resource_arn: resource,
    }))
}
