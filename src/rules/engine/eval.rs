//! Running one pipeline's rules: `for_each`, condition, resource and
//! message of each, compiled when they can be and interpreted otherwise,
//! into findings, and into diagnostics where an expression gives no
//! usable value.

use std::collections::BTreeSet;
use std::sync::Arc;

use cel::{Context, Value};

use super::EvalSetup;
use super::variables::{Derived, bindings};
use crate::findings::{Diagnostic, DiagnosticKind, Finding, fingerprint};
use crate::model::{PipelineWiring, ReadError, Snapshot};
use crate::rules::compiled::{GLOBALS, ITEM};
use crate::rules::functions::{self, Lookup};
use crate::rules::{Expression, MessagePart, Rule};

pub(super) fn as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::List(items) => items.iter().map(as_string).collect::<Vec<_>>().join(", "),
        other => crate::rules::syntax::value_text(other),
    }
}

/// The region field of an ARN, or `fallback` when it has none.
fn region_of(arn: &str, fallback: &str) -> String {
    match arn.split(':').nth(3) {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => fallback.to_string(),
    }
}

/// What evaluating one pipeline gave.
pub(super) struct Found {
    pub(super) findings: Vec<Finding>,
    pub(super) diagnostics: Vec<Diagnostic>,
}

fn gap_diagnostics(
    rule: &Rule,
    w: &PipelineWiring,
    gaps: &[(String, ReadError)],
    error: &str,
) -> Vec<Diagnostic> {
    if gaps.is_empty() {
        return vec![Diagnostic {
            kind: DiagnosticKind::RuleError,
            account: None,
            rule_id: Some(rule.file.id.clone()),
            pipeline: Some(w.name.clone()),
            resource: None,
            permission: None,
            message: format!("{} could not be evaluated: {error}", rule.file.id),
        }];
    }
    let mut seen = BTreeSet::new();
    gaps.iter()
        .filter(|(res, e)| seen.insert((res.clone(), e.action.clone())))
        .map(|(res, e)| Diagnostic {
            kind: DiagnosticKind::CollectionGap,
            account: None,
            rule_id: Some(rule.file.id.clone()),
            pipeline: Some(w.name.clone()),
            resource: Some(res.split('.').next().unwrap_or(res).to_string()),
            permission: Some(e.action.clone()),
            message: format!(
                "{} not checked: {} could not be read ({}{})",
                rule.file.id,
                res,
                e.code
                    .as_deref()
                    .map(|c| format!("{c}: "))
                    .unwrap_or_default(),
                e.message
            ),
        })
        .collect()
}

/// The gaps that plausibly explain a failed rule: those whose path mentions
/// a word of the condition, or all of them when none does.
fn relevant_gaps(
    rule: &Rule,
    bound: &[(String, ReadError)],
    from_functions: Vec<(String, ReadError)>,
) -> Vec<(String, ReadError)> {
    if !from_functions.is_empty() {
        return from_functions;
    }
    let matching: Vec<(String, ReadError)> = bound
        .iter()
        .filter(|(path, _)| {
            let last = path.rsplit('.').next().unwrap_or(path);
            rule.mentions.iter().any(|m| m == last)
        })
        .cloned()
        .collect();
    if matching.is_empty() {
        bound.to_vec()
    } else {
        matching
    }
}

/// Why an expression gave no value.
pub(super) enum RunError {
    /// CEL reported an error (a missing field, a bad overload...).
    Cel(cel::ExecutionError),
    /// The interpreter gave up on a construct it does not support (it
    /// panics, e.g. when a macro iterates over a string): a fault of the
    /// rule, reported as such.
    Unsupported(String),
    /// A value of the wrong type (a condition that is not a bool...).
    Type(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Cel(e) => f.write_str(&crate::rules::syntax::execution_error_text(e)),
            RunError::Unsupported(s) | RunError::Type(s) => f.write_str(s),
        }
    }
}

/// The expression of a rule that gave no usable value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    ForEach,
    Condition,
    Resource,
    Message,
}

impl Part {
    /// Whether a value that could not be read may be why it failed: so for
    /// `for_each` and the condition, which decide whether the rule fires.
    /// The resource or message of a rule that fired fail by a fault of the
    /// rule.
    fn gaps_explain(self) -> bool {
        matches!(self, Part::ForEach | Part::Condition)
    }

    /// What its error is prefixed with.
    fn prefix(self) -> &'static str {
        match self {
            Part::ForEach | Part::Condition => "",
            Part::Resource => "resource: ",
            Part::Message => "message: ",
        }
    }
}

/// The diagnostics of a rule whose `part` gave no usable value: the
/// collection gaps that explain a CEL error of a part that decides whether
/// it fires (a rule error when none does), else a rule error.
fn failed(
    rule: &Rule,
    w: &PipelineWiring,
    bound: &[(String, ReadError)],
    part: Part,
    e: RunError,
) -> Vec<Diagnostic> {
    match e {
        RunError::Cel(e) if part.gaps_explain() => {
            let gaps = relevant_gaps(rule, bound, functions::take_gaps());
            gap_diagnostics(
                rule,
                w,
                &gaps,
                &crate::rules::syntax::execution_error_text(&e),
            )
        }
        e => gap_diagnostics(rule, w, &[], &format!("{}{e}", part.prefix())),
    }
}

thread_local! {
    /// Set while an expression runs, so that the panic hook stays quiet
    /// for the interpreter's panics, which [`run`] turns into errors.
    static RUNNING_EXPRESSION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs an expression; an interpreter panic becomes [`RunError::Unsupported`].
pub(super) fn run(p: &cel::Program, ctx: &Context<'_>) -> Result<Value, RunError> {
    match guarded(|| p.execute(ctx)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(RunError::Cel(e)),
        Err(what) => Err(RunError::Unsupported(format!(
            "the expression is not supported by the CEL interpreter ({what}); a macro such as exists() or all() over a value that is not a list or map does this"
        ))),
    }
}

/// Runs `f`, turning a panic into its message (the panic hook stays quiet).
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !RUNNING_EXPRESSION.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    let outer = RUNNING_EXPRESSION.with(|r| r.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    RUNNING_EXPRESSION.with(|r| r.set(outer));
    result.map_err(|payload| {
        let what = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unsupported expression");
        what.chars().take(160).collect()
    })
}

/// Where a pipeline's expressions run: its variables, by name for the
/// interpreter and by slot for the compiled forms.
struct Scope<'a, 'c> {
    ctx: &'a Lazy<'c, 'a>,
    globals: &'a [Option<Value>],
    lookup: &'a Lookup,
    /// Whether compiled forms run.
    fast: bool,
}

/// The interpreter's context of one pipeline: its variables are added
/// only when an expression needs the interpreter (a compiled form that
/// cannot answer), not for every pipeline.
pub(super) struct Lazy<'c, 'a> {
    root: &'c Context<'c>,
    vars: &'a [(&'static str, Value)],
    ctx: std::cell::OnceCell<Context<'c>>,
}

impl<'c, 'a> Lazy<'c, 'a> {
    fn new(root: &'c Context<'c>, vars: &'a [(&'static str, Value)]) -> Self {
        Lazy {
            root,
            vars,
            ctx: std::cell::OnceCell::new(),
        }
    }

    fn get(&self) -> &Context<'c> {
        self.ctx.get_or_init(|| {
            let mut ctx = self.root.new_inner_scope();
            for (name, v) in self.vars {
                ctx.add_variable_from_value(*name, v.clone());
            }
            ctx
        })
    }
}

impl Scope<'_, '_> {
    /// Runs an expression: compiled when it can be, else (or when the
    /// compiled form fails in any way) by the interpreter, whose result and
    /// error are then the answer.
    fn exec(&self, e: &Expression, part: Part) -> Result<Value, (Part, RunError)> {
        if let Some(c) = e.compiled().filter(|_| self.fast) {
            let mark = functions::gaps_len();
            // The interpreter's operators it calls could panic where the
            // interpreter's own would: guarded alike.
            match guarded(|| c.eval(self.globals, self.lookup)) {
                Ok(Ok(v)) => return Ok(v),
                _ => functions::truncate_gaps(mark),
            }
        }
        let ctx = self.ctx.get();
        match self.globals.get(ITEM).cloned().flatten() {
            Some(item) => {
                let mut scope = ctx.new_inner_scope();
                scope.add_variable_from_value("item", item);
                run(&e.program, &scope)
            }
            None => run(&e.program, ctx),
        }
        .map_err(|err| (part, err))
    }

    /// The finding of `rule` on the current item, if its condition holds.
    fn finding(
        &self,
        s: &Snapshot,
        w: &PipelineWiring,
        rule: &Rule,
    ) -> Result<Option<Finding>, (Part, RunError)> {
        match self.exec(&rule.condition, Part::Condition)? {
            Value::Bool(true) => {}
            Value::Bool(false) => return Ok(None),
            other => {
                return Err((
                    Part::Condition,
                    RunError::Type(format!(
                        "condition gave {} ({}), not a bool",
                        crate::rules::syntax::value_text(&other),
                        crate::rules::syntax::type_name(&other)
                    )),
                ));
            }
        }
        let resource = as_string(&self.exec(&rule.resource, Part::Resource)?);
        let mut message = String::new();
        for part in &rule.message {
            match part {
                MessagePart::Text(t) => message.push_str(t),
                MessagePart::Expr(_, e) => {
                    message.push_str(&as_string(&self.exec(e, Part::Message)?));
                }
            }
        }
        Ok(Some(Finding {
            rule_id: rule.file.id.clone(),
            slug: rule.file.slug.clone(),
            severity: rule.file.severity,
            title: rule.file.title.clone(),
            message: message.trim().to_string(),
            pipeline: w.name.clone(),
            pipeline_arn: w.arn.clone(),
            resource_type: rule.file.resource_type.clone(),
            region: region_of(&resource, &w.region),
            account: s.account.clone(),
            fix: rule.file.fix.clone(),
            fingerprint: fingerprint(&rule.file.id, &w.arn, &resource),
            defined_in: None,
            witness: Vec::new(),
            resource_arn: resource,
        }))
    }
}

/// One note per account outside the audit (neither the snapshot's nor a
/// linked one, see `Snapshot::linked_accounts`) that the pipeline deploys
/// stacks into: what is deployed there is not checked (never a pass, never
/// absent). The note names the first such stack as its
/// resource ([`is_unaudited_deploy`]); it does not change the exit code.
fn unaudited_deploys(s: &Snapshot, w: &PipelineWiring) -> Vec<Diagnostic> {
    let mut by_account: std::collections::BTreeMap<&str, Vec<&crate::model::StackDeployRef>> =
        std::collections::BTreeMap::new();
    for d in w
        .stack_deploys
        .iter()
        .filter(|d| !s.audits_account(&d.account))
    {
        by_account.entry(d.account.as_str()).or_default().push(d);
    }
    by_account
        .into_iter()
        .map(|(account, stacks)| {
            let mut names: Vec<String> = stacks
                .iter()
                .map(|d| format!("{} in {}", d.stack_name, d.region))
                .collect();
            names.dedup();
            Diagnostic {
                kind: DiagnosticKind::Note,
                account: None,
                rule_id: None,
                pipeline: Some(w.name.clone()),
                resource: stacks.first().map(|d| d.stack_arn.clone()),
                permission: None,
                message: format!(
                    "pipeline {} deploys into account {account}, outside this account's audit: stack {} not checked",
                    w.name,
                    names.join(", ")
                ),
            }
        })
        .collect()
}

/// One note per account outside the audit that the pipeline's CodeDeploy
/// actions deploy into (the action's role is in that account): the
/// application and group there are not read, and no rule judges them
/// (`deploys` leaves them out). The note names the first such group as its
/// resource ([`is_unaudited_group`]); it does not change the exit code.
fn unaudited_groups(s: &Snapshot, w: &PipelineWiring) -> Vec<Diagnostic> {
    let mut by_account: std::collections::BTreeMap<&str, Vec<&crate::model::DeployRef>> =
        std::collections::BTreeMap::new();
    for d in &w.deploys {
        let account = crate::model::deploy_account(d, &s.account);
        if !s.audits_account(account) {
            by_account.entry(account).or_default().push(d);
        }
    }
    by_account
        .into_iter()
        .map(|(account, groups)| {
            let mut names: Vec<String> = groups
                .iter()
                .map(|d| {
                    format!(
                        "{}/{} in {}",
                        d.application_name,
                        d.group_name,
                        region_of(&d.group_arn, &w.region)
                    )
                })
                .collect();
            names.dedup();
            Diagnostic {
                kind: DiagnosticKind::Note,
                account: None,
                rule_id: None,
                pipeline: Some(w.name.clone()),
                resource: groups.first().map(|d| d.group_arn.clone()),
                permission: None,
                message: format!(
                    "pipeline {} deploys into account {account}, outside this account's audit: deployment group {} not checked",
                    w.name,
                    names.join(", ")
                ),
            }
        })
        .collect()
}

/// Whether a note's resource is a stack deployed into an account that is
/// not audited (see [`unaudited_deploys`]).
pub fn is_unaudited_stack(resource: &str) -> bool {
    resource.starts_with("arn:")
        && resource.contains(":cloudformation:")
        && resource.contains(":stack/")
}

/// Whether a note's resource is a CodeDeploy deployment group in an
/// account that is not audited (see [`unaudited_groups`]).
pub fn is_unaudited_group(resource: &str) -> bool {
    resource.starts_with("arn:")
        && resource.contains(":codedeploy:")
        && resource.contains(":deploymentgroup:")
}

/// Whether a note's resource is a stack or deployment group in an account
/// that is not audited.
pub fn is_unaudited_deploy(resource: &str) -> bool {
    is_unaudited_stack(resource) || is_unaudited_group(resource)
}

/// The variables that bind what a deployment group deploys to: a rule
/// reading one of them does not check a group outside the audit.
pub const GROUP_VARIABLES: [&str; 4] = ["deploys", "instances", "ecs_services", "images"];

/// Evaluates every rule of the plan on one pipeline.
pub(super) fn evaluate_pipeline(
    root: &Context<'_>,
    s: &Snapshot,
    w: &PipelineWiring,
    plan: &EvalSetup<'_>,
) -> Found {
    let EvalSetup {
        rules,
        lists,
        fast,
        needs,
        cache,
        config,
        reference,
        lookup,
        release,
    } = plan;
    let lookup: &Lookup = lookup;
    let mut out = Found {
        findings: Vec::new(),
        diagnostics: Vec::new(),
    };
    let account = Derived {
        index: lookup.index(),
        release: release.as_ref(),
    };
    let b = match bindings(s, w, account, cache, config, reference, needs) {
        Ok(b) => b,
        Err(e) => {
            out.diagnostics.push(Diagnostic {
                kind: DiagnosticKind::CollectionGap,
                account: None,
                rule_id: None,
                pipeline: Some(w.name.clone()),
                resource: Some(w.arn.clone()),
                permission: Some(e.action.clone()),
                message: format!(
                    "pipeline {} not checked: its declaration could not be read ({})",
                    w.name, e.message
                ),
            });
            return out;
        }
    };
    if needs.var("stacks") {
        out.diagnostics.extend(unaudited_deploys(s, w));
    }
    if GROUP_VARIABLES.iter().any(|v| needs.var(v)) {
        out.diagnostics.extend(unaudited_groups(s, w));
    }
    let mut globals: Vec<Option<Value>> = vec![None; GLOBALS.len()];
    for (name, v) in &b.vars {
        if let Some(i) = GLOBALS.iter().position(|g| g == name) {
            globals[i] = Some(v.clone());
        }
    }
    let ctx = Lazy::new(root, &b.vars);
    // Rules of an area share their `for_each`: each list is computed once.
    let mut computed: Vec<Option<Arc<Vec<Value>>>> = Vec::new();
    for (rule, slot) in rules.iter().zip(lists.iter()) {
        functions::take_gaps();
        globals[ITEM] = None;
        let cached = slot.and_then(|i| computed.get(i).cloned().flatten());
        let items: Result<Vec<Option<Value>>, (Part, RunError)> = match (&rule.for_each, cached) {
            (_, Some(l)) => Ok(l.iter().cloned().map(Some).collect()),
            (None, None) => Ok(vec![None]),
            (Some(e), None) => {
                let scope = Scope {
                    ctx: &ctx,
                    globals: &globals,
                    lookup,
                    fast: *fast,
                };
                match scope.exec(e, Part::ForEach) {
                    Ok(Value::List(l)) => {
                        if let Some(i) = *slot {
                            if computed.len() <= i {
                                computed.resize(i + 1, None);
                            }
                            computed[i] = Some(l.clone());
                        }
                        Ok(l.iter().cloned().map(Some).collect())
                    }
                    Ok(other) => Err((
                        Part::ForEach,
                        RunError::Type(format!(
                            "for_each gave {} ({}), not a list",
                            crate::rules::syntax::value_text(&other),
                            crate::rules::syntax::type_name(&other)
                        )),
                    )),
                    Err(e) => Err(e),
                }
            }
        };
        let items = match items {
            Ok(items) => items,
            Err((part, e)) => {
                out.diagnostics.extend(failed(rule, w, &b.gaps, part, e));
                continue;
            }
        };
        for item in items {
            globals[ITEM] = item;
            let scope = Scope {
                ctx: &ctx,
                globals: &globals,
                lookup,
                fast: *fast,
            };
            match scope.finding(s, w, rule) {
                Ok(Some(mut f)) => {
                    // Another severity where the rule's further condition
                    // holds; when it cannot be told, the rule's own severity
                    // stands and the gap is reported.
                    if let Some(e) = &rule.escalate {
                        match scope.exec(&e.when, Part::Condition) {
                            Ok(Value::Bool(true)) => f.severity = e.severity,
                            Ok(_) => {}
                            Err((part, err)) => {
                                out.diagnostics.extend(failed(rule, w, &b.gaps, part, err))
                            }
                        }
                    }
                    out.findings.push(f)
                }
                Ok(None) => {}
                Err((part, e)) => out.diagnostics.extend(failed(rule, w, &b.gaps, part, e)),
            }
        }
    }
    out
}
