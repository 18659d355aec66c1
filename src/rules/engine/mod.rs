//! Evaluation: binds each pipeline's resolved graph as CEL variables, runs
//! every rule, and turns the results into findings and diagnostics.
//!
//! Observed values are bound as: read -> the value, absent -> `null`,
//! unknown -> the field is left out. A rule that touches an unknown value
//! fails to evaluate; the engine then reports a collection-gap diagnostic
//! naming the resource and the permission, and the rule neither fires nor passes.
//!
//! Expressions run compiled ([`super::compiled`], made at load) when they
//! can, and by the `cel` interpreter otherwise or whenever the compiled form
//! fails: the interpreter's result is then the answer, so a diagnostic
//! always carries its error.
//!
//! The jobs are in modules: [`cel_value`] turns a model value into a CEL
//! value, [`cache`] binds every resource once by ARN, [`variables`] builds
//! one pipeline's variables, [`eval`] runs the rules over them, [`finish`]
//! applies the configuration to the result.

mod account;
mod cache;
pub(crate) mod cel_value;
mod eval;
mod finish;
mod variables;

use std::sync::Arc;

use cel::{Context, Value};
use rayon::prelude::*;
use serde::Serialize;

pub use account::VARIABLES as ACCOUNT_VARIABLES;
pub use eval::{GROUP_VARIABLES, is_unaudited_deploy, is_unaudited_group, is_unaudited_stack};
pub use finish::{accepted_by, apply_config, finish, today};

use super::config::Config;
use super::functions::{self, Lookup};
use super::reads::Reads;
use super::{Rule, RuleSet};
use crate::findings::{Diagnostic, DiagnosticKind, Finding};
use crate::model::{Observed, Snapshot};
use cache::Cache;
use eval::Found;

/// The result of evaluating a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
    pub pipelines: usize,
    /// Whether the account rules had their resources (`--account-checks`):
    /// without them they checked nothing, which a compliance report says.
    #[serde(skip)]
    pub account_checks: bool,
}

/// What every pipeline of a snapshot is evaluated with.
struct EvalSetup<'a> {
    rules: Vec<&'a Rule>,
    /// For each rule of `rules`, the slot of its `for_each` list: rules of
    /// an area share their `for_each`, so each distinct source is
    /// evaluated once per pipeline. `None` for a rule without one.
    lists: Vec<Option<usize>>,
    /// Whether the compiled forms run (else every expression is interpreted).
    fast: bool,
    /// What the rules read: values no rule reads are not bound (building
    /// and freeing them was most of the cost of an evaluation).
    needs: Reads,
    cache: Cache,
    config: Value,
    /// The pipeline shape PL001 accepts.
    reference: crate::rules::config::Reference,
    lookup: Arc<Lookup>,
    /// The release paths of the snapshot (only when a rule reads them).
    release: Option<crate::aws::release::Analysis>,
}

/// Evaluates every enabled rule over every pipeline of the snapshot, in parallel.
pub fn evaluate(snapshot: Arc<Snapshot>, rules: &RuleSet, config: &Config) -> Evaluation {
    let mut eval = evaluate_unfinished(snapshot, rules, config);
    finish(&mut eval, config);
    eval
}

/// Evaluates without applying severity overrides and ignores, for audits
/// that combine the evaluations of several snapshots (one per account) and
/// then [`finish`] the whole once, so that an ignore is judged unused only
/// when it matched nothing in any of them.
pub fn evaluate_unfinished(
    snapshot: Arc<Snapshot>,
    rules: &RuleSet,
    config: &Config,
) -> Evaluation {
    evaluate_with(snapshot, rules, config, true)
}

/// [`evaluate_unfinished`], with the compiled fast path on or off (off:
/// every expression interpreted, the reference the fast path is tested
/// against).
fn evaluate_with(
    snapshot: Arc<Snapshot>,
    rules: &RuleSet,
    config: &Config,
    fast: bool,
) -> Evaluation {
    let (account_rules, enabled): (Vec<&Rule>, Vec<&Rule>) = rules
        .rules
        .iter()
        .filter(|r| config.rule_enabled(&r.file.id, &r.file.slug, r.file.enabled))
        .partition(|r| r.file.scope == super::Scope::Account);
    let mut needs = Reads::default();
    for rule in &enabled {
        needs.add(&rule.reads);
    }
    let release = needs
        .var("release_paths")
        .then(|| crate::aws::release::analyse(&snapshot, &config.release_paths.trusted()));
    let mut sources: Vec<&str> = Vec::new();
    let lists = enabled
        .iter()
        .map(|r| {
            let src = r.file.for_each.as_deref()?;
            Some(match sources.iter().position(|s| *s == src) {
                Some(i) => i,
                None => {
                    sources.push(src);
                    sources.len() - 1
                }
            })
        })
        .collect();
    let plan = EvalSetup {
        lists,
        release,
        fast,
        cache: Cache::build(&snapshot, &needs),
        needs,
        rules: enabled,
        config: variables::config_value(config),
        reference: config.reference.clone(),
        lookup: Arc::new(
            // the rule that takes `trusted_accounts` (one built-in rule)
            Lookup::new(snapshot.clone()).with_trusted_accounts(
                rules
                    .rules
                    .iter()
                    .filter(|r| r.file.parameters.contains_key("trusted_accounts"))
                    .flat_map(|r| config.trusted_accounts(&r.file.id, &r.file.slug))
                    .collect(),
            ),
        ),
    };
    let s = &*snapshot;
    let outcomes: Vec<Found> = s
        .pipelines
        .par_iter()
        .map_init(
            || {
                let mut root = Context::default();
                let registered = functions::register(&mut root, plan.lookup.clone());
                (root, registered)
            },
            |(root, registered), w| match registered {
                Ok(()) => eval::evaluate_pipeline(root, s, w, &plan),
                Err(e) => Found {
                    findings: Vec::new(),
                    diagnostics: vec![Diagnostic {
                        kind: DiagnosticKind::RuleError,
                        account: None,
                        rule_id: None,
                        pipeline: Some(w.name.clone()),
                        resource: None,
                        permission: None,
                        message: format!("helper functions could not be registered: {e}"),
                    }],
                },
            },
        )
        .collect();
    let account = {
        let mut root = Context::default();
        match functions::register(&mut root, plan.lookup.clone()) {
            Ok(()) => account::evaluate_account(&root, s, &account_rules),
            Err(e) => Found {
                findings: Vec::new(),
                diagnostics: vec![Diagnostic {
                    kind: DiagnosticKind::RuleError,
                    account: None,
                    rule_id: None,
                    pipeline: None,
                    resource: None,
                    permission: None,
                    message: format!("helper functions could not be registered: {e}"),
                }],
            },
        }
    };
    let mut eval = Evaluation {
        pipelines: s.pipelines.len(),
        account_checks: s.account_checks,
        ..Evaluation::default()
    };
    // Findings outlive the evaluation (an organization's are all kept for
    // the report). Made on the pool's threads among the evaluation's
    // short-lived values, they would keep those threads' pages partly in
    // use; copied together here, the originals go with the rest. With
    // 261,500 findings kept over 500 accounts, three of four back-to-back
    // benchmark pairs were 6-11% faster this way, one equal.
    eval.findings.reserve_exact(
        outcomes.iter().map(|o| o.findings.len()).sum::<usize>() + account.findings.len(),
    );
    for o in outcomes.into_iter().chain(std::iter::once(account)) {
        eval.findings.extend(o.findings.iter().cloned());
        eval.diagnostics.extend(o.diagnostics);
    }
    for e in &s.scope_errors {
        eval.diagnostics.push(Diagnostic {
            kind: DiagnosticKind::ScopeError,
            account: None,
            rule_id: None,
            pipeline: None,
            resource: Some(format!("{}:{}", e.region, e.scope)),
            permission: Some(e.error.action.clone()),
            message: format!(
                "{} in {} could not be listed: {}",
                e.scope, e.region, e.error.message
            ),
        });
    }
    if let Some(analysis) = &plan.release {
        attach_witnesses(&mut eval.findings, analysis);
        eval.diagnostics.extend(release_notes(analysis));
    }
    // Deploys of a provider whose targets are not checked: named once
    // each, so that a pipeline is never silently half audited.
    for w in &s.pipelines {
        for d in &w.other_deploys {
            let role = d
                .role_arn
                .as_deref()
                .map(|r| format!(" as role {r}"))
                .unwrap_or_default();
            eval.diagnostics.push(Diagnostic {
                kind: DiagnosticKind::Note,
                account: None,
                rule_id: None,
                pipeline: Some(w.name.clone()),
                resource: Some(w.arn.clone()),
                permission: None,
                message: format!(
                    "deploy action {} (stage {}) deploys with provider {}{role}: its targets are not checked",
                    d.action, d.stage, d.provider
                ),
            });
        }
    }
    // Lambda deployment groups whose deployed function could not be
    // determined: CD017 and CD018 say nothing about it, and say so.
    let lambda_rules = rules
        .rules
        .iter()
        .any(|r| matches!(r.file.id.as_str(), "CD017" | "CD018"));
    for w in s.pipelines.iter().filter(|_| lambda_rules) {
        let mut seen = std::collections::BTreeSet::new();
        for d in w.deploys.iter().filter(|d| seen.insert(&d.group_arn)) {
            let Some(Observed::Ok { value: g }) = s.resources.deploy_groups.get(&d.group_arn)
            else {
                continue;
            };
            let Some(Observed::Ok { value: deployment }) = &g.lambda_deployment else {
                continue;
            };
            let Some(why) = &deployment.undetermined else {
                continue;
            };
            eval.diagnostics.push(Diagnostic {
                kind: DiagnosticKind::Note,
                account: None,
                rule_id: None,
                pipeline: Some(w.name.clone()),
                resource: Some(d.group_arn.clone()),
                permission: None,
                message: format!(
                    "CodeDeploy group {}/{} (action {}) deploys a Lambda function that could not be determined: {why}; CD017 and CD018 do not check it",
                    d.application_name, d.group_name, d.action
                ),
            });
        }
    }
    // Task roles a commit can choose that the snapshot does not hold: not
    // checked by CD013, and said so (never a silent pass).
    let cd013 = rules.rules.iter().any(|r| r.file.id == "CD013");
    for w in s.pipelines.iter().filter(|_| cd013) {
        for m in crate::aws::task_roles::unheld_choices(s, w) {
            eval.diagnostics.push(Diagnostic {
                kind: DiagnosticKind::Note,
                account: None,
                rule_id: Some("CD013".to_string()),
                pipeline: Some(w.name.clone()),
                resource: Some(w.arn.clone()),
                permission: None,
                message: m,
            });
        }
    }
    // Freeing a large snapshot and its bindings takes a while: do it on the
    // pool, overlapping with what the caller does next.
    let EvalSetup { cache, lookup, .. } = plan;
    drop(lookup);
    rayon::spawn(move || drop((cache, snapshot)));
    eval
}

/// Gives each release-path finding the chain of its path: the path of the
/// finding's pipeline, principal (its resource) and kind (its rule id).
fn attach_witnesses(findings: &mut [Finding], analysis: &crate::aws::release::Analysis) {
    use std::collections::HashMap;
    let mut by: HashMap<(&str, &str, &str), &crate::aws::release::ReleasePath> = HashMap::new();
    for p in analysis.pipelines.iter().flat_map(|p| &p.paths) {
        by.entry((p.pipeline.as_str(), p.principal.as_str(), p.kind.id()))
            .or_insert(p);
    }
    if by.is_empty() {
        return;
    }
    for f in findings.iter_mut() {
        let key = (
            f.pipeline_arn.as_str(),
            f.resource_arn.as_str(),
            f.rule_id.as_str(),
        );
        if let Some(p) = by.get(&key) {
            f.witness = p
                .chain
                .iter()
                .map(|s| crate::findings::WitnessStep {
                    principal: s.principal.clone(),
                    action: s.action.clone(),
                    resource: s.resource.clone(),
                    detail: s.detail.clone(),
                    granted_by: s.granted_by.iter().map(ToString::to_string).collect(),
                    conditions: s.conditions.clone(),
                })
                .collect();
        }
    }
}

/// The limits of the release-path analysis no permission can lift
/// (service control policies, connection sources whose branch protection
/// lives with the provider), as notes: listed apart from gaps, never a
/// change of the exit code; and the gaps in what the paths' messages say
/// (approval rule templates that could not be read). Nothing when the
/// analysis could not run (its rules then report the gap).
fn release_notes(analysis: &crate::aws::release::Analysis) -> Vec<Diagnostic> {
    if !matches!(analysis.status, crate::aws::release::Status::Analysed) {
        return Vec::new();
    }
    let note = |pipeline: Option<&str>, message: &str| Diagnostic {
        kind: DiagnosticKind::Note,
        account: None,
        rule_id: None,
        pipeline: pipeline.map(str::to_string),
        resource: None,
        permission: None,
        message: message.to_string(),
    };
    let mut out: Vec<Diagnostic> = analysis.notes.iter().map(|m| note(None, m)).collect();
    for p in &analysis.pipelines {
        out.extend(p.notes.iter().map(|m| note(Some(&p.name), m)));
        // a value an RP001 message needed: the path is reported, what
        // guards its pull requests is not known
        out.extend(p.gaps.iter().map(|(resource, e)| Diagnostic {
            kind: DiagnosticKind::CollectionGap,
            account: None,
            rule_id: Some(crate::aws::release::Kind::BranchPush.id().to_string()),
            pipeline: Some(p.name.clone()),
            resource: Some(resource.clone()),
            permission: Some(e.action.clone()),
            message: format!(
                "{}: the approval rule templates of {resource} could not be read ({}{}): whether pull-request merges need approvals is not known",
                crate::aws::release::Kind::BranchPush.id(),
                e.code
                    .as_deref()
                    .map(|c| format!("{c}: "))
                    .unwrap_or_default(),
                e.message
            ),
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The demo account with every `n`th nested read value made unknown.
    fn demo_with_unknowns(n: usize) -> Snapshot {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
        let mut json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        fn walk(v: &mut serde_json::Value, depth: usize, seen: &mut usize, n: usize) {
            match v {
                serde_json::Value::Object(m) => {
                    if n > 0 && depth > 3 && m.get("status").and_then(|s| s.as_str()) == Some("ok")
                    {
                        *seen += 1;
                        if (*seen).is_multiple_of(n) {
                            *v = serde_json::json!({"status": "unknown", "error": {
                                "kind": "access_denied",
                                "action": format!("test:Read{seen}"),
                                "code": "AccessDenied",
                                "message": "denied"}});
                            return;
                        }
                    }
                    for (_, c) in m.iter_mut() {
                        walk(c, depth + 1, seen, n);
                    }
                }
                serde_json::Value::Array(items) => {
                    for c in items {
                        walk(c, depth + 1, seen, n);
                    }
                }
                _ => {}
            }
        }
        walk(&mut json, 0, &mut 0, n);
        Snapshot::from_json(&json.to_string(), "test").unwrap_or_else(|e| panic!("{e}"))
    }

    /// The compiled fast path changes nothing: the same findings and the
    /// same diagnostics (gaps named alike) as interpreting every
    /// expression, on the demo account and on copies with unknown values.
    #[test]
    fn the_fast_path_gives_the_interpreters_evaluation() {
        let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
        let config = Config {
            require_approval: true,
            ..Config::default()
        };
        for n in [0, 2, 3, 7] {
            let snapshot = Arc::new(demo_with_unknowns(n));
            let mut fast = evaluate_with(snapshot.clone(), &rules, &config, true);
            let mut slow = evaluate_with(snapshot, &rules, &config, false);
            finish(&mut fast, &config);
            finish(&mut slow, &config);
            assert!(!fast.findings.is_empty());
            if n > 0 {
                assert!(
                    fast.diagnostics
                        .iter()
                        .any(|d| d.kind == DiagnosticKind::CollectionGap),
                    "no gaps with every {n}th value unknown"
                );
            }
            assert_eq!(fast, slow, "every {n}th value unknown");
        }
    }
}
