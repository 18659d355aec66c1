//! Evaluation: binds each pipeline's resolved graph as CEL variables, runs
//! every rule, and turns the results into findings and diagnostics.
//!
//! Observed values are bound as: read -> the value, absent -> `null`,
//! unknown -> the field is left out. A rule that touches an unknown value
//! fails to evaluate; the engine then reports a collection-gap diagnostic
//! naming the resource and the permission, and the rule neither fires nor passes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Value};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::Value as Json;

use super::config::Config;
use super::functions::{self, Lookup};
use super::{MessagePart, Rule, RuleSet};
use crate::findings::{Diagnostic, Finding, fingerprint};
use crate::model::{Observed, PipelineWiring, ReadError, Snapshot};

/// The result of evaluating a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
    pub pipelines: usize,
}

/// A resource as bound into CEL, with the unknown fields it left out.
#[derive(Clone)]
struct Bound {
    /// `None` when the whole resource is unknown.
    value: Option<Value>,
    gaps: Vec<(String, ReadError)>,
}

/// Moves a JSON tree into a CEL value (strings are moved, not copied).
fn json_into_cel(v: Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(0.0)),
        },
        Json::String(s) => Value::String(Arc::new(s)),
        Json::Array(items) => Value::List(Arc::new(items.into_iter().map(json_into_cel).collect())),
        Json::Object(map) => {
            let m: HashMap<Key, Value> = map
                .into_iter()
                .map(|(k, v)| (Key::String(Arc::new(k)), json_into_cel(v)))
                .collect();
            Value::Map(Map { map: Arc::new(m) })
        }
    }
}

/// Replaces serialized `Observed` values: ok -> value, absent -> null,
/// unknown -> removed (recorded in `gaps` with its path). Policies arrive
/// summarized (see [`crate::model::with_policy_summaries`]): the helper
/// functions evaluate them from the snapshot, never from CEL. `path` holds
/// the keys down to `v`; it is joined only when a gap is found.
fn unwrap_observed(v: &mut Json, path: &mut Vec<String>, gaps: &mut Vec<(String, ReadError)>) {
    match v {
        Json::Object(map) => {
            let mut remove = Vec::new();
            for (k, child) in map.iter_mut() {
                match observed_state(child) {
                    Some("ok") => {
                        let mut inner = child
                            .as_object_mut()
                            .and_then(|m| m.remove("value"))
                            .unwrap_or(Json::Null);
                        path.push(k.clone());
                        unwrap_observed(&mut inner, path, gaps);
                        path.pop();
                        *child = inner;
                    }
                    Some("absent") => *child = Json::Null,
                    Some("unknown") => {
                        if let Some(e) = child
                            .get("error")
                            .and_then(|e| serde_json::from_value(e.clone()).ok())
                        {
                            gaps.push((format!("{}.{k}", path.join(".")), e));
                        }
                        remove.push(k.clone());
                    }
                    _ => {
                        if child.is_object() || child.is_array() {
                            path.push(k.clone());
                            unwrap_observed(child, path, gaps);
                            path.pop();
                        }
                    }
                }
            }
            for k in remove {
                map.remove(&k);
            }
        }
        Json::Array(items) => items
            .iter_mut()
            .for_each(|i| unwrap_observed(i, path, gaps)),
        _ => {}
    }
}

fn observed_state(v: &Json) -> Option<&str> {
    let map = v.as_object()?;
    let status = map.get("status")?.as_str()?;
    let only_known = map
        .keys()
        .all(|k| k == "status" || k == "value" || k == "error");
    match status {
        "ok" if only_known && map.contains_key("value") => Some("ok"),
        "absent" if map.len() == 1 => Some("absent"),
        "unknown" if only_known && map.contains_key("error") => Some("unknown"),
        _ => None,
    }
}

fn bind<T: Serialize>(arn: &str, obs: &Observed<T>) -> Bound {
    match obs {
        Observed::Ok { value } => {
            let mut json = crate::model::with_policy_summaries(|| serde_json::to_value(value))
                .unwrap_or(Json::Null);
            let mut gaps = Vec::new();
            unwrap_observed(&mut json, &mut vec![arn.to_string()], &mut gaps);
            Bound {
                value: Some(json_into_cel(json)),
                gaps,
            }
        }
        Observed::Absent => Bound {
            value: Some(Value::Null),
            gaps: Vec::new(),
        },
        Observed::Unknown { error } => Bound {
            value: None,
            gaps: vec![(arn.to_string(), error.clone())],
        },
    }
}

/// Every resource of the snapshot bound once, by ARN.
struct Cache {
    by_arn: HashMap<String, Bound>,
}

impl Cache {
    fn build(s: &Snapshot) -> Cache {
        let r = &s.resources;
        // One parallel pass over every resource (the kinds are small and
        // uneven; one pass keeps both cores busy).
        enum Any<'a> {
            Repository(&'a Observed<crate::model::Repository>),
            Project(&'a Observed<crate::model::BuildProject>),
            Application(&'a Observed<crate::model::DeployApplication>),
            Group(&'a Observed<crate::model::DeployGroup>),
            Bucket(&'a Observed<crate::model::Bucket>),
            Key(&'a Observed<crate::model::KmsKey>),
            Rule(&'a Observed<crate::model::EventRule>),
        }
        let mut items: Vec<(&String, Any<'_>)> = Vec::new();
        items.extend(r.repositories.iter().map(|(k, v)| (k, Any::Repository(v))));
        items.extend(r.build_projects.iter().map(|(k, v)| (k, Any::Project(v))));
        items.extend(
            r.deploy_applications
                .iter()
                .map(|(k, v)| (k, Any::Application(v))),
        );
        items.extend(r.deploy_groups.iter().map(|(k, v)| (k, Any::Group(v))));
        items.extend(r.buckets.iter().map(|(k, v)| (k, Any::Bucket(v))));
        items.extend(r.keys.iter().map(|(k, v)| (k, Any::Key(v))));
        items.extend(r.event_rules.iter().map(|(k, v)| (k, Any::Rule(v))));
        let by_arn: HashMap<String, Bound> = items
            .par_iter()
            .with_min_len(8)
            .map(|(arn, any)| {
                let b = match any {
                    Any::Repository(o) => bind(arn, o),
                    Any::Project(o) => bind(arn, o),
                    Any::Application(o) => bind(arn, o),
                    Any::Group(o) => bind(arn, o),
                    Any::Bucket(o) => bind(arn, o),
                    Any::Key(o) => bind(arn, o),
                    Any::Rule(o) => bind(arn, o),
                };
                ((*arn).clone(), b)
            })
            .collect();
        Cache { by_arn }
    }

    /// Puts a resource under `field` of `map` (left out when unknown or not collected).
    fn put(
        &self,
        map: &mut HashMap<Key, Value>,
        field: &str,
        arn: &str,
        gaps: &mut Vec<(String, ReadError)>,
    ) {
        match self.by_arn.get(arn) {
            Some(b) => {
                gaps.extend(b.gaps.iter().cloned());
                if let Some(v) = &b.value {
                    map.insert(key(field), v.clone());
                }
            }
            None => {
                map.insert(key(field), Value::Null);
            }
        }
    }
}

fn key(s: &str) -> Key {
    Key::String(Arc::new(s.to_string()))
}

fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

fn opt_string(s: Option<&str>) -> Value {
    s.map(string).unwrap_or(Value::Null)
}

fn map(m: HashMap<Key, Value>) -> Value {
    Value::Map(Map { map: Arc::new(m) })
}

fn list(items: Vec<Value>) -> Value {
    Value::List(Arc::new(items))
}

/// The variables of one pipeline, and the gaps among the values bound.
struct Bindings {
    vars: Vec<(&'static str, Value)>,
    gaps: Vec<(String, ReadError)>,
}

fn bindings(
    s: &Snapshot,
    w: &PipelineWiring,
    cache: &Cache,
    config: &Value,
) -> Result<Bindings, ReadError> {
    let mut gaps = Vec::new();
    let declaration = match s.resources.pipelines.get(&w.arn) {
        Some(Observed::Ok { value }) => value,
        Some(Observed::Unknown { error }) => return Err(error.clone()),
        _ => {
            return Err(ReadError {
                kind: crate::model::ReadErrorKind::Service,
                action: "codepipeline:GetPipeline".to_string(),
                code: None,
                message: "the pipeline declaration is not in the snapshot".to_string(),
            });
        }
    };
    let mut pipeline: HashMap<Key, Value> = HashMap::new();
    let decl_json = serde_json::to_value(declaration).unwrap_or(Json::Null);
    if let Value::Map(m) = json_into_cel(decl_json) {
        pipeline.extend(m.map.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    pipeline.insert(key("account"), string(&s.account));
    pipeline.insert(key("shape"), shape(declaration));
    pipeline.insert(key("role_arn"), opt_string(w.role_arn.as_deref()));
    pipeline.insert(
        key("role_exists"),
        match w.role_arn.as_ref().and_then(|r| s.resources.roles.get(r)) {
            Some(Observed::Ok { .. }) => Value::Bool(true),
            Some(Observed::Absent) | None => Value::Bool(false),
            Some(Observed::Unknown { error }) => {
                gaps.push((w.role_arn.clone().unwrap_or_default(), error.clone()));
                Value::Null
            }
        },
    );

    let sources = w
        .sources
        .iter()
        .map(|src| {
            let mut m = HashMap::new();
            m.insert(key("stage"), string(&src.stage));
            m.insert(key("action"), string(&src.action));
            m.insert(key("repository_name"), string(&src.repository_name));
            m.insert(key("repository_arn"), string(&src.repository_arn));
            m.insert(key("branch"), opt_string(src.branch.as_deref()));
            m.insert(
                key("poll"),
                src.poll_for_source_changes
                    .map(Value::Bool)
                    .unwrap_or(Value::Null),
            );
            cache.put(&mut m, "repository", &src.repository_arn, &mut gaps);
            map(m)
        })
        .collect();
    let builds = w
        .builds
        .iter()
        .map(|b| {
            let mut m = HashMap::new();
            m.insert(key("stage"), string(&b.stage));
            m.insert(key("action"), string(&b.action));
            m.insert(key("name"), string(&b.project_name));
            m.insert(key("arn"), string(&b.project_arn));
            cache.put(&mut m, "project", &b.project_arn, &mut gaps);
            map(m)
        })
        .collect();
    let deploys = w
        .deploys
        .iter()
        .map(|d| {
            let mut m = HashMap::new();
            m.insert(key("stage"), string(&d.stage));
            m.insert(key("action"), string(&d.action));
            m.insert(key("application_name"), string(&d.application_name));
            m.insert(key("application_arn"), string(&d.application_arn));
            m.insert(key("group_name"), string(&d.group_name));
            m.insert(key("group_arn"), string(&d.group_arn));
            cache.put(&mut m, "application", &d.application_arn, &mut gaps);
            cache.put(&mut m, "group", &d.group_arn, &mut gaps);
            map(m)
        })
        .collect();
    let stores = w
        .artifact_stores
        .iter()
        .map(|st| {
            let mut m = HashMap::new();
            m.insert(key("region"), string(&st.region));
            m.insert(key("bucket_name"), string(&st.bucket));
            m.insert(key("bucket_arn"), string(&st.bucket_arn));
            m.insert(key("key_ref"), opt_string(st.key_ref.as_deref()));
            m.insert(key("key_arn"), opt_string(st.key_arn.as_deref()));
            cache.put(&mut m, "bucket", &st.bucket_arn, &mut gaps);
            match &st.key_arn {
                Some(k) => cache.put(&mut m, "key", k, &mut gaps),
                None => {
                    m.insert(key("key"), Value::Null);
                }
            }
            map(m)
        })
        .collect();

    let service_roles = service_roles(s, w)
        .into_iter()
        .map(|(arn, service, used_by)| {
            let mut m = HashMap::new();
            m.insert(key("arn"), string(&arn));
            m.insert(key("service"), string(service));
            m.insert(key("used_by"), string(&used_by));
            map(m)
        })
        .collect();
    let mut vars = vec![
        ("pipeline", map(pipeline)),
        ("service_roles", list(service_roles)),
        ("sources", list(sources)),
        ("builds", list(builds)),
        ("deploys", list(deploys)),
        ("stores", list(stores)),
        ("config", config.clone()),
    ];
    // If the rules of the region could not be listed, `triggers` stays
    // unbound: trigger rules then report a gap instead of "missing".
    let listing_failed = s
        .scope_errors
        .iter()
        .find(|e| e.scope == "event-rules" && e.region == w.region);
    match listing_failed {
        Some(e) => gaps.push((format!("{}:event-rules", e.region), e.error.clone())),
        None => {
            let triggers = w
                .trigger_rules
                .iter()
                .filter_map(|arn| {
                    let bound = cache.by_arn.get(arn)?;
                    gaps.extend(bound.gaps.iter().cloned());
                    let rule = match s.resources.event_rules.get(arn) {
                        Some(Observed::Ok { value }) => value,
                        _ => return bound.value.clone(),
                    };
                    let targets = rule
                        .targets
                        .iter()
                        .filter(|t| t.arn == w.arn)
                        .map(|t| {
                            let mut tm = HashMap::new();
                            tm.insert(key("id"), string(&t.id));
                            tm.insert(key("arn"), string(&t.arn));
                            tm.insert(key("role_arn"), opt_string(t.role_arn.as_deref()));
                            map(tm)
                        })
                        .collect();
                    let mut m = HashMap::new();
                    m.insert(key("name"), string(&rule.name));
                    m.insert(key("arn"), string(&rule.arn));
                    m.insert(key("state"), string(&rule.state));
                    m.insert(
                        key("enabled"),
                        Value::Bool(rule.state.starts_with("ENABLED")),
                    );
                    m.insert(key("targets"), list(targets));
                    Some(map(m))
                })
                .collect();
            vars.push(("triggers", list(triggers)));
        }
    }
    Ok(Bindings { vars, gaps })
}

/// Where the reference stages stand: the source first, a build, a deploy
/// after the build, an approval before the deploy.
fn shape(p: &crate::model::Pipeline) -> Value {
    let stage_of = |category: &str, provider: &str| {
        p.stages
            .iter()
            .position(|st| {
                st.actions
                    .iter()
                    .any(|a| a.category == category && a.provider == provider)
            })
            .map(|i| i as i64)
            .unwrap_or(-1)
    };
    let source_first = p.stages.first().is_some_and(|st| {
        st.actions
            .iter()
            .any(|a| a.category == "Source" && a.provider == "CodeCommit")
    });
    let build = stage_of("Build", "CodeBuild");
    let deploy = stage_of("Deploy", "CodeDeploy");
    let approval = stage_of("Approval", "Manual");
    let approval_before_deploy = deploy >= 0
        && p.stages
            .iter()
            .take(deploy as usize + 1)
            .enumerate()
            .any(|(i, st)| {
                st.actions.iter().any(|a| {
                    a.category == "Approval"
                        && (i < deploy as usize
                            || p.stages[deploy as usize].actions.iter().any(|d| {
                                d.category == "Deploy"
                                    && d.run_order.unwrap_or(1) > a.run_order.unwrap_or(1)
                            }))
                })
            });
    let mut m = HashMap::new();
    m.insert(key("source_first"), Value::Bool(source_first));
    m.insert(key("build_stage"), Value::Int(build));
    m.insert(key("deploy_stage"), Value::Int(deploy));
    m.insert(key("approval_stage"), Value::Int(approval));
    m.insert(
        key("approval_before_deploy"),
        Value::Bool(approval_before_deploy),
    );
    map(m)
}

/// The service roles a pipeline acts through: (role ARN, service, used by).
fn service_roles(s: &Snapshot, w: &PipelineWiring) -> Vec<(String, &'static str, String)> {
    let mut out: Vec<(String, &'static str, String)> = Vec::new();
    if let Some(r) = &w.role_arn {
        out.push((r.clone(), "codepipeline.amazonaws.com", w.arn.clone()));
    }
    for b in &w.builds {
        if let Some(r) = s
            .resources
            .build_projects
            .get(&b.project_arn)
            .and_then(Observed::value)
            .and_then(|p| p.service_role.as_ref())
        {
            out.push((r.clone(), "codebuild.amazonaws.com", b.project_arn.clone()));
        }
    }
    for d in &w.deploys {
        if let Some(r) = s
            .resources
            .deploy_groups
            .get(&d.group_arn)
            .and_then(Observed::value)
            .and_then(|g| g.service_role_arn.as_ref())
        {
            out.push((r.clone(), "codedeploy.amazonaws.com", d.group_arn.clone()));
        }
    }
    for arn in &w.trigger_rules {
        if let Some(Observed::Ok { value }) = s.resources.event_rules.get(arn) {
            for t in value.targets.iter().filter(|t| t.arn == w.arn) {
                if let Some(r) = &t.role_arn {
                    out.push((r.clone(), "events.amazonaws.com", arn.clone()));
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|(arn, svc, _)| seen.insert((arn.clone(), *svc)));
    out
}

fn config_value(c: &Config) -> Value {
    let mut m = HashMap::new();
    m.insert(
        key("release_branch"),
        opt_string(c.release_branch.as_deref()),
    );
    m.insert(key("require_approval"), Value::Bool(c.require_approval));
    m.insert(
        key("allowed_images"),
        list(c.allowed_images.iter().map(|i| string(i)).collect()),
    );
    map(m)
}

fn as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Int(i) => i.to_string(),
        Value::UInt(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::List(items) => items.iter().map(as_string).collect::<Vec<_>>().join(", "),
        other => format!("{other:?}"),
    }
}

/// Type names for resource ARNs.
fn region_of(arn: &str, fallback: &str) -> String {
    match arn.split(':').nth(3) {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => fallback.to_string(),
    }
}

struct Outcome {
    findings: Vec<Finding>,
    diagnostics: Vec<Diagnostic>,
}

fn gap_diagnostics(
    rule: &Rule,
    w: &PipelineWiring,
    gaps: &[(String, ReadError)],
    error: &str,
) -> Vec<Diagnostic> {
    if gaps.is_empty() {
        return vec![Diagnostic {
            kind: "rule-error".to_string(),
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
            kind: "collection-gap".to_string(),
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

fn evaluate_pipeline(
    root: &Context<'_>,
    s: &Snapshot,
    w: &PipelineWiring,
    rules: &[&Rule],
    cache: &Cache,
    config: &Value,
) -> Outcome {
    let mut out = Outcome {
        findings: Vec::new(),
        diagnostics: Vec::new(),
    };
    let b = match bindings(s, w, cache, config) {
        Ok(b) => b,
        Err(e) => {
            out.diagnostics.push(Diagnostic {
                kind: "collection-gap".to_string(),
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
    let mut ctx = root.new_inner_scope();
    for (name, v) in &b.vars {
        ctx.add_variable_from_value(*name, v.clone());
    }
    // Rules of an area share their `for_each`: each list is computed once.
    let mut lists: HashMap<&str, Arc<Vec<Value>>> = HashMap::new();
    for rule in rules {
        functions::take_gaps();
        let cached = rule
            .file
            .for_each
            .as_deref()
            .and_then(|src| lists.get(src).cloned());
        let items: Vec<Option<Value>> = match (&rule.for_each, cached) {
            (_, Some(l)) => l.iter().cloned().map(Some).collect(),
            (None, None) => vec![None],
            (Some(p), None) => match p.execute(&ctx) {
                Ok(Value::List(l)) => {
                    if let Some(src) = rule.file.for_each.as_deref() {
                        lists.insert(src, l.clone());
                    }
                    l.iter().cloned().map(Some).collect()
                }
                Ok(other) => {
                    out.diagnostics.extend(gap_diagnostics(
                        rule,
                        w,
                        &[],
                        &format!("for_each gave {other:?}, not a list"),
                    ));
                    continue;
                }
                Err(e) => {
                    let gaps = relevant_gaps(rule, &b.gaps, functions::take_gaps());
                    out.diagnostics
                        .extend(gap_diagnostics(rule, w, &gaps, &e.to_string()));
                    continue;
                }
            },
        };
        for item in items {
            let mut scope = ctx.new_inner_scope();
            if let Some(i) = item {
                scope.add_variable_from_value("item", i);
            }
            let fired = match rule.condition.execute(&scope) {
                Ok(Value::Bool(b)) => b,
                Ok(other) => {
                    out.diagnostics.extend(gap_diagnostics(
                        rule,
                        w,
                        &[],
                        &format!("condition gave {other:?}, not a bool"),
                    ));
                    continue;
                }
                Err(e) => {
                    let gaps = relevant_gaps(rule, &b.gaps, functions::take_gaps());
                    out.diagnostics
                        .extend(gap_diagnostics(rule, w, &gaps, &e.to_string()));
                    continue;
                }
            };
            if !fired {
                continue;
            }
            let resource = match rule.resource.execute(&scope) {
                Ok(v) => as_string(&v),
                Err(e) => {
                    out.diagnostics.extend(gap_diagnostics(
                        rule,
                        w,
                        &[],
                        &format!("resource: {e}"),
                    ));
                    continue;
                }
            };
            let mut message = String::new();
            for part in &rule.message {
                match part {
                    MessagePart::Text(t) => message.push_str(t),
                    MessagePart::Expr(src, p) => match p.execute(&scope) {
                        Ok(v) => message.push_str(&as_string(&v)),
                        Err(_) => message.push_str(&format!("{{{{{src}}}}}")),
                    },
                }
            }
            out.findings.push(Finding {
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
                resource_arn: resource,
            });
        }
    }
    out
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
    let cache = Cache::build(&snapshot);
    let config_v = config_value(config);
    let enabled: Vec<&Rule> = rules
        .rules
        .iter()
        .filter(|r| {
            !config
                .disabled
                .iter()
                .any(|d| d.eq_ignore_ascii_case(&r.file.id))
        })
        .collect();
    let lookup = Arc::new(Lookup::new(snapshot.clone()));
    let s = &*snapshot;
    let outcomes: Vec<Outcome> = s
        .pipelines
        .par_iter()
        .map_init(
            || {
                let mut root = Context::default();
                let registered = functions::register(&mut root, lookup.clone());
                (root, registered)
            },
            |(root, registered), w| match registered {
                Ok(()) => evaluate_pipeline(root, s, w, &enabled, &cache, &config_v),
                Err(e) => Outcome {
                    findings: Vec::new(),
                    diagnostics: vec![Diagnostic {
                        kind: "rule-error".to_string(),
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
    let mut eval = Evaluation {
        pipelines: s.pipelines.len(),
        ..Evaluation::default()
    };
    for o in outcomes {
        eval.findings.extend(o.findings);
        eval.diagnostics.extend(o.diagnostics);
    }
    for e in &s.scope_errors {
        eval.diagnostics.push(Diagnostic {
            kind: "scope-error".to_string(),
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
    // Freeing a large snapshot and its bindings takes a while: do it on the
    // pool, overlapping with what the caller does next.
    drop(lookup);
    rayon::spawn(move || drop((cache, snapshot)));
    eval
}

/// Applies the configuration's severity overrides and ignores, then sorts
/// and de-duplicates findings and diagnostics.
pub fn finish(eval: &mut Evaluation, config: &Config) {
    apply_config(eval, config, &today());
    eval.findings.sort_by(Finding::report_order);
    eval.findings
        .dedup_by(|a, b| a.fingerprint == b.fingerprint);
    eval.diagnostics.sort_by(|a, b| {
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
        let matches = |f: &Finding| {
            f.rule_id.eq_ignore_ascii_case(&ig.rule)
                && (f.resource_arn == ig.resource
                    || glob.as_ref().is_some_and(|g| g.is_match(&f.resource_arn)))
        };
        let expired = ig.expires.as_deref().is_some_and(|d| d < today);
        let count = eval.findings.iter().filter(|f| matches(f)).count();
        if expired {
            eval.diagnostics.push(Diagnostic {
                kind: "ignore-expired".to_string(),
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
                kind: "ignore-unused".to_string(),
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
