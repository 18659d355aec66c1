//! Evaluation: binds each pipeline's resolved graph as CEL variables, runs
//! every rule, and turns the results into findings and diagnostics.
//!
//! Observed values are bound as: read -> the value, absent -> `null`,
//! unknown -> the field is left out. A rule that touches an unknown value
//! fails to evaluate; the engine then reports a collection-gap diagnostic
//! naming the resource and the permission, and the rule neither fires nor passes.
//!
//! Expressions run compiled ([`super::compiled`]) when they can, and by the
//! `cel` interpreter otherwise or whenever the compiled form fails: the
//! interpreter's result is then the answer, so a diagnostic always carries
//! its error.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use cel::objects::{Key, Map};
use cel::{Context, Value};
use rayon::prelude::*;
use serde::Serialize;

use super::compiled::{Compiled, GLOBALS, ITEM};
use super::config::Config;
use super::functions::{self, Lookup};
use super::{MessagePart, Rule, RuleSet};
use crate::findings::{Diagnostic, DiagnosticKind, Finding, fingerprint};
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

/// Binds a resource: its value (`None` when unknown) and the gaps in it.
fn bind<T: Serialize>(arn: &str, obs: &Observed<T>) -> Bound {
    match obs {
        Observed::Ok { value } => {
            let mut gaps = Vec::new();
            let value =
                crate::model::with_policy_summaries(|| super::bind::to_cel(value, arn, &mut gaps));
            Bound {
                value: Some(value.unwrap_or(Value::Null)),
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

/// Why a key reference resolved to no key ARN is unknown rather than
/// unresolvable: it names an alias and the aliases of its region could not
/// be listed. `None` when the reference is a key or the aliases were read.
fn alias_gap<'a>(s: &'a Snapshot, key_ref: &str, region: &str) -> Option<&'a ReadError> {
    let region = if key_ref.starts_with("arn:") {
        key_ref.split(':').nth(3).unwrap_or(region)
    } else {
        region
    };
    let alias = key_ref.starts_with("alias/") || key_ref.contains(":alias/");
    if !alias {
        return None;
    }
    s.scope_errors
        .iter()
        .find(|e| e.scope == "kms-aliases" && (region.is_empty() || e.region == region))
        .map(|e| &e.error)
}

/// Leaves out of a bound value each key ARN that is unset only because the
/// alias it names could not be resolved (`None` would read as "another
/// key"): a project's `encryption_key_arn`, a bucket encryption rule's
/// `kms_key_arn`; each with its gap.
fn unresolved_keys<T: KeyRefs>(s: &Snapshot, mut b: Bound, obs: &Observed<T>, arn: &str) -> Bound {
    let Observed::Ok { value } = obs else {
        return b;
    };
    let region = arn.split(':').nth(3).unwrap_or("");
    let unknown: Vec<(Vec<&'static str>, ReadError)> = value
        .key_refs()
        .into_iter()
        .filter_map(|(path, key_ref, resolved)| {
            if resolved {
                return None;
            }
            alias_gap(s, key_ref, region).map(|e| (path, e.clone()))
        })
        .collect();
    for (path, error) in unknown {
        if let Some(v) = b.value.take() {
            b.value = Some(remove_path(v, &path));
        }
        b.gaps.push((format!("{arn}.{}", path.join(".")), error));
    }
    b
}

/// Key references of a resource: (path of the resolved field, the
/// reference, whether it resolved).
trait KeyRefs {
    fn key_refs(&self) -> Vec<(Vec<&'static str>, &str, bool)>;
}

impl KeyRefs for crate::model::BuildProject {
    fn key_refs(&self) -> Vec<(Vec<&'static str>, &str, bool)> {
        self.encryption_key
            .as_deref()
            .map(|k| {
                (
                    vec!["encryption_key_arn"],
                    k,
                    self.encryption_key_arn.is_some(),
                )
            })
            .into_iter()
            .collect()
    }
}

impl KeyRefs for crate::model::Bucket {
    fn key_refs(&self) -> Vec<(Vec<&'static str>, &str, bool)> {
        match &self.encryption {
            Observed::Ok { value } => value
                .rules
                .iter()
                .filter_map(|r| {
                    let k = r.kms_master_key_id.as_deref()?;
                    Some((
                        vec!["encryption", "rules", "kms_key_arn"],
                        k,
                        r.kms_key_arn.is_some(),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// `v` without the field at `path` where that field is `null` (through
/// maps, and each item of a list on the way).
fn remove_path(v: Value, path: &[&'static str]) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return v;
    };
    match &v {
        Value::List(items) => list(items.iter().map(|i| remove_path(i.clone(), path)).collect()),
        Value::Map(m) => {
            let mut inner: HashMap<Key, Value> = (*m.map).clone();
            let k = key(first);
            match inner.remove(&k) {
                Some(Value::Null) if rest.is_empty() => {}
                Some(child) => {
                    inner.insert(k, remove_path(child, rest));
                }
                None => {}
            }
            map(inner)
        }
        _ => v,
    }
}

/// Every resource of the snapshot bound once, by ARN.
struct Cache {
    /// Looked up for every resource of every pipeline: a fast hasher
    /// (the ARNs come from the snapshot, not from an adversary).
    by_arn: HashMap<String, Bound, foldhash::fast::RandomState>,
}

impl Cache {
    fn build(s: &Snapshot, needs: &Needs) -> Cache {
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
        // Only the kinds some bound variable holds.
        let mut items: Vec<(&String, Any<'_>)> = Vec::new();
        if needs.var("sources") {
            items.extend(r.repositories.iter().map(|(k, v)| (k, Any::Repository(v))));
        }
        if needs.var("builds") {
            items.extend(r.build_projects.iter().map(|(k, v)| (k, Any::Project(v))));
        }
        if needs.var("deploys") {
            items.extend(
                r.deploy_applications
                    .iter()
                    .map(|(k, v)| (k, Any::Application(v))),
            );
            items.extend(r.deploy_groups.iter().map(|(k, v)| (k, Any::Group(v))));
        }
        if needs.var("stores") {
            items.extend(r.buckets.iter().map(|(k, v)| (k, Any::Bucket(v))));
            items.extend(r.keys.iter().map(|(k, v)| (k, Any::Key(v))));
        }
        if needs.var("triggers") {
            items.extend(r.event_rules.iter().map(|(k, v)| (k, Any::Rule(v))));
        }
        let bound: Vec<(String, Bound)> = items
            .par_iter()
            .with_min_len(8)
            .map(|(arn, any)| {
                let b = match any {
                    Any::Repository(o) => bind(arn, o),
                    Any::Project(o) => unresolved_keys(s, bind(arn, o), o, arn),
                    Any::Application(o) => bind(arn, o),
                    Any::Group(o) => bind(arn, o),
                    Any::Bucket(o) => unresolved_keys(s, bind(arn, o), o, arn),
                    Any::Key(o) => bind(arn, o),
                    // A readable rule is bound per pipeline from the model
                    // (its targets at that pipeline): only its state here.
                    Any::Rule(Observed::Ok { .. }) => Bound {
                        value: Some(Value::Null),
                        gaps: Vec::new(),
                    },
                    Any::Rule(o) => bind(arn, o),
                };
                ((*arn).clone(), b)
            })
            .collect();
        let mut by_arn =
            HashMap::with_capacity_and_hasher(bound.len(), foldhash::fast::RandomState::default());
        by_arn.extend(bound);
        Cache { by_arn }
    }

    /// Puts a resource under `field` of `map` (left out when unknown or not collected).
    fn put(
        &self,
        map: &mut HashMap<Key, Value>,
        field: &'static str,
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

fn key(s: &'static str) -> Key {
    super::bind::field_key(s)
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

/// What the enabled rules read: the variables they name, and the fields of
/// `pipeline` they select. Values no rule reads are not bound (building
/// and freeing them was most of the cost of an evaluation). A variable used
/// in any other way than `pipeline.field` (passed whole to a function,
/// indexed, compared) counts as read whole.
#[derive(Debug, Default)]
struct Needs {
    vars: HashSet<String>,
    pipeline_whole: bool,
    pipeline_fields: HashSet<String>,
}

impl Needs {
    fn of(rules: &[&Rule]) -> Needs {
        let mut needs = Needs::default();
        for rule in rules {
            let mut programs: Vec<&cel::Program> = vec![&*rule.condition, &*rule.resource];
            programs.extend(rule.for_each.as_deref());
            programs.extend(rule.message.iter().filter_map(|part| match part {
                MessagePart::Expr(_, p) => Some(&**p),
                MessagePart::Text(_) => None,
            }));
            for p in programs {
                needs.walk(p.expression(), &mut Vec::new());
            }
        }
        needs
    }

    fn var(&self, name: &str) -> bool {
        self.vars.contains(name)
    }

    /// Whether `pipeline.<field>` is read.
    fn pipeline_field(&self, field: &str) -> bool {
        self.pipeline_whole || self.pipeline_fields.contains(field)
    }

    fn walk<'a>(&mut self, e: &'a cel::IdedExpr, shadowed: &mut Vec<&'a str>) {
        use cel::common::ast::{EntryExpr, Expr};
        match &e.expr {
            Expr::Ident(name) => {
                if !shadowed.contains(&name.as_str()) {
                    if name == "pipeline" {
                        self.pipeline_whole = true;
                    }
                    self.vars.insert(name.clone());
                }
            }
            Expr::Select(sel) => match &sel.operand.expr {
                Expr::Ident(name)
                    if name == "pipeline" && !shadowed.contains(&"pipeline") && !sel.test =>
                {
                    self.vars.insert(name.clone());
                    self.pipeline_fields.insert(sel.field.clone());
                }
                _ => self.walk(&sel.operand, shadowed),
            },
            Expr::Call(call) => {
                if let Some(t) = &call.target {
                    self.walk(t, shadowed);
                }
                for a in &call.args {
                    self.walk(a, shadowed);
                }
            }
            Expr::Comprehension(c) => {
                self.walk(&c.iter_range, shadowed);
                self.walk(&c.accu_init, shadowed);
                let depth = shadowed.len();
                shadowed.push(&c.iter_var);
                shadowed.extend(c.iter_var2.as_deref());
                shadowed.push(&c.accu_var);
                self.walk(&c.loop_cond, shadowed);
                self.walk(&c.loop_step, shadowed);
                self.walk(&c.result, shadowed);
                shadowed.truncate(depth);
            }
            Expr::List(l) => {
                for item in &l.elements {
                    self.walk(item, shadowed);
                }
            }
            Expr::Map(m) => {
                for entry in &m.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        self.walk(&me.key, shadowed);
                        self.walk(&me.value, shadowed);
                    }
                }
            }
            Expr::Struct(st) => {
                for entry in &st.entries {
                    match &entry.expr {
                        EntryExpr::StructField(f) => self.walk(&f.value, shadowed),
                        EntryExpr::MapEntry(me) => {
                            self.walk(&me.key, shadowed);
                            self.walk(&me.value, shadowed);
                        }
                    }
                }
            }
            Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
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
    needs: &Needs,
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
    let mut vars = Vec::with_capacity(8);
    if needs.var("pipeline") {
        vars.push((
            "pipeline",
            pipeline_value(s, w, declaration, needs, &mut gaps),
        ));
    }
    if needs.var("config") {
        vars.push(("config", config.clone()));
    }
    if needs.var("sources") {
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
        vars.push(("sources", list(sources)));
    }
    if needs.var("builds") {
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
        vars.push(("builds", list(builds)));
    }
    if needs.var("deploys") {
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
        vars.push(("deploys", list(deploys)));
    }
    if needs.var("stores") {
        let stores = w
            .artifact_stores
            .iter()
            .map(|st| {
                let mut m = HashMap::new();
                m.insert(key("region"), string(&st.region));
                m.insert(key("bucket_name"), string(&st.bucket));
                m.insert(key("bucket_arn"), string(&st.bucket_arn));
                m.insert(key("key_ref"), opt_string(st.key_ref.as_deref()));
                // An alias that could not be resolved is recorded under its
                // own ARN, with the key unknown: the key ARN is unknown too
                // (left out, the gap comes with `key`), not another key's.
                let alias_unknown = st.key_arn.as_deref().is_some_and(|k| {
                    k.contains(":alias/")
                        && matches!(s.resources.keys.get(k), Some(Observed::Unknown { .. }))
                });
                if !alias_unknown {
                    m.insert(key("key_arn"), opt_string(st.key_arn.as_deref()));
                }
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
        vars.push(("stores", list(stores)));
    }

    // If the rules of the region could not be listed, or one of them could
    // not be read (its targets unknown: it may target this pipeline),
    // `triggers` stays unbound: trigger rules then report the gap instead of
    // "no rule", "every rule disabled" or "no rule matches".
    let trigger_gaps = if needs.var("triggers") || needs.var("service_roles") {
        s.trigger_gaps(w)
    } else {
        Vec::new()
    };
    if needs.var("service_roles") {
        let service_roles = service_roles(s, w, &mut gaps)
            .into_iter()
            .map(|(arn, service, used_by)| {
                let mut m = HashMap::new();
                // A role that could not be learned (its project, group or
                // rule is unknown) is an item without `arn`: a rule reading
                // it reports the gap; the other roles are still checked.
                if let Some(arn) = arn {
                    m.insert(key("arn"), string(&arn));
                }
                m.insert(key("service"), string(service));
                m.insert(key("used_by"), string(&used_by));
                map(m)
            })
            .chain(trigger_gaps.iter().map(|(path, _)| {
                let mut m = HashMap::new();
                m.insert(key("service"), string("events.amazonaws.com"));
                m.insert(
                    key("used_by"),
                    string(path.strip_suffix(".targets").unwrap_or(path)),
                );
                map(m)
            }))
            .collect();
        vars.push(("service_roles", list(service_roles)));
    }
    if !needs.var("triggers") || !trigger_gaps.is_empty() {
        gaps.extend(trigger_gaps);
    } else {
        {
            let triggers = w
                .trigger_rules
                .iter()
                .filter_map(|arn| {
                    let bound = cache.by_arn.get(arn)?;
                    gaps.extend(bound.gaps.iter().cloned());
                    // (an unknown rule made `trigger_gaps` non-empty; an
                    // absent one targets nothing)
                    let Some(Observed::Ok { value: rule }) = s.resources.event_rules.get(arn)
                    else {
                        return None;
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

/// `pipeline`: the declaration's fields, plus `account`, `shape`,
/// `role_arn` and `role_exists`. The declaration is converted only when a
/// rule reads more of it than its name, ARN and region.
fn pipeline_value(
    s: &Snapshot,
    w: &PipelineWiring,
    declaration: &crate::model::Pipeline,
    needs: &Needs,
    gaps: &mut Vec<(String, ReadError)>,
) -> Value {
    const CHEAP: [&str; 8] = [
        "name",
        "arn",
        "region",
        "account",
        "shape",
        "role_arn",
        "role_exists",
        "plaintext_secrets",
    ];
    let mut pipeline: HashMap<Key, Value> = HashMap::new();
    if needs.pipeline_whole
        || needs
            .pipeline_fields
            .iter()
            .any(|f| !CHEAP.contains(&f.as_str()))
    {
        if let Some(Value::Map(m)) = super::bind::to_cel(declaration, &w.arn, gaps) {
            pipeline.extend(m.map.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    } else {
        pipeline.insert(key("name"), string(&declaration.name));
        pipeline.insert(key("arn"), string(&declaration.arn));
        pipeline.insert(key("region"), string(&declaration.region));
    }
    pipeline.insert(key("account"), string(&s.account));
    if needs.pipeline_field("shape") {
        pipeline.insert(key("shape"), shape(declaration));
    }
    if needs.pipeline_field("plaintext_secrets") {
        pipeline.insert(key("plaintext_secrets"), plaintext_secrets(declaration));
    }
    pipeline.insert(key("role_arn"), opt_string(w.role_arn.as_deref()));
    if needs.pipeline_field("role_exists") {
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
    }
    map(pipeline)
}

/// The action configuration values that hold a plaintext secret (their
/// values were withheld at collection; only where and what kind is bound):
/// `{stage, action, key, kinds}`, `key` being `EnvironmentVariables.NAME`
/// for a CodeBuild action's variable.
fn plaintext_secrets(p: &crate::model::Pipeline) -> Value {
    let entry =
        |stage: &str, action: &str, k: &str, kinds: &[crate::model::secrets::SecretKind]| {
            let mut m = HashMap::new();
            m.insert(key("stage"), string(stage));
            m.insert(key("action"), string(action));
            m.insert(key("key"), string(k));
            m.insert(
                key("kinds"),
                list(
                    kinds
                        .iter()
                        .map(|k| {
                            serde_json::to_value(k)
                                .ok()
                                .and_then(|v| v.as_str().map(string))
                                .unwrap_or(Value::Null)
                        })
                        .collect(),
                ),
            );
            map(m)
        };
    let mut out = Vec::new();
    for st in &p.stages {
        for a in &st.actions {
            for v in &a.environment_variables {
                if v.var_type == "PLAINTEXT" && !v.secret_kinds.is_empty() {
                    out.push(entry(
                        &st.name,
                        &a.name,
                        &format!("{}.{}", crate::model::redact::ENVIRONMENT_VARIABLES, v.name),
                        &v.secret_kinds,
                    ));
                }
            }
            for (k, kinds) in &a.redacted {
                if !kinds.is_empty() {
                    out.push(entry(&st.name, &a.name, k, kinds));
                }
            }
        }
    }
    list(out)
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
fn service_roles(
    s: &Snapshot,
    w: &PipelineWiring,
    gaps: &mut Vec<(String, ReadError)>,
) -> Vec<(Option<String>, &'static str, String)> {
    let mut out: Vec<(Option<String>, &'static str, String)> = Vec::new();
    if let Some(r) = &w.role_arn {
        out.push((Some(r.clone()), "codepipeline.amazonaws.com", w.arn.clone()));
    }
    // The role of a project or group that could not be read is not known:
    // `None`, with the gap.
    let mut role_of = |obs: Option<&Observed<Option<String>>>,
                       service: &'static str,
                       user: &str,
                       gaps: &mut Vec<(String, ReadError)>| match obs {
        Some(Observed::Ok { value: Some(r) }) => {
            out.push((Some(r.clone()), service, user.to_string()))
        }
        Some(Observed::Unknown { error }) => {
            gaps.push((user.to_string(), error.clone()));
            out.push((None, service, user.to_string()));
        }
        _ => {}
    };
    for b in &w.builds {
        let role = s
            .resources
            .build_projects
            .get(&b.project_arn)
            .map(|p| p.as_ref().map(|p| p.service_role.clone()));
        role_of(
            role.as_ref(),
            "codebuild.amazonaws.com",
            &b.project_arn,
            gaps,
        );
    }
    for d in &w.deploys {
        let role = s
            .resources
            .deploy_groups
            .get(&d.group_arn)
            .map(|g| g.as_ref().map(|g| g.service_role_arn.clone()));
        role_of(
            role.as_ref(),
            "codedeploy.amazonaws.com",
            &d.group_arn,
            gaps,
        );
    }
    for arn in &w.trigger_rules {
        if let Some(Observed::Ok { value }) = s.resources.event_rules.get(arn) {
            for t in value.targets.iter().filter(|t| t.arn == w.arn) {
                if let Some(r) = &t.role_arn {
                    out.push((Some(r.clone()), "events.amazonaws.com", arn.clone()));
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|(arn, svc, user)| match arn {
        Some(arn) => seen.insert((arn.clone(), *svc)),
        None => seen.insert((user.clone(), *svc)),
    });
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
enum RunError {
    /// CEL reported an error (a missing field, a bad overload...).
    Cel(cel::ExecutionError),
    /// The interpreter gave up on a construct it does not support (it
    /// panics, e.g. when a macro iterates over a string): a fault of the
    /// rule, reported as such.
    Unsupported(String),
}

thread_local! {
    /// Set while an expression runs, so that the panic hook stays quiet
    /// for the interpreter's panics, which [`run`] turns into errors.
    static RUNNING_EXPRESSION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs an expression; an interpreter panic becomes [`RunError::Unsupported`].
fn run(p: &cel::Program, ctx: &Context<'_>) -> Result<Value, RunError> {
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

/// What every pipeline of a snapshot is evaluated with.
struct Plan<'a> {
    rules: Vec<&'a Rule>,
    /// The compiled form of each rule's expressions, by rule.
    compiled: Vec<CompiledRule>,
    needs: Needs,
    cache: Cache,
    config: Value,
    lookup: Arc<Lookup>,
}

/// A rule's expressions compiled for the fast path (`None`: interpreted).
struct CompiledRule {
    for_each: Option<Compiled>,
    condition: Option<Compiled>,
    resource: Option<Compiled>,
    message: Vec<Option<Compiled>>,
}

impl CompiledRule {
    fn new(rule: &Rule, enabled: bool) -> CompiledRule {
        let compile = |p: &cel::Program| if enabled { Compiled::new(p) } else { None };
        CompiledRule {
            for_each: rule.for_each.as_deref().and_then(compile),
            condition: compile(&rule.condition),
            resource: compile(&rule.resource),
            message: rule
                .message
                .iter()
                .map(|part| match part {
                    MessagePart::Expr(_, p) => compile(p),
                    MessagePart::Text(_) => None,
                })
                .collect(),
        }
    }
}

/// Runs an expression: compiled when it can be, else (or when the compiled
/// form fails in any way) by the interpreter, whose result and error are
/// then the answer.
fn exec(
    compiled: Option<&Compiled>,
    program: &cel::Program,
    ctx: &Context<'_>,
    globals: &[Option<Value>],
    lookup: &Lookup,
) -> Result<Value, RunError> {
    if let Some(c) = compiled {
        let mark = functions::gaps_len();
        // The interpreter's operators it calls could panic where the
        // interpreter's own would: guarded alike.
        match guarded(|| c.eval(globals, lookup)) {
            Ok(Ok(v)) => return Ok(v),
            _ => functions::truncate_gaps(mark),
        }
    }
    match globals.get(ITEM).cloned().flatten() {
        Some(item) => {
            let mut scope = ctx.new_inner_scope();
            scope.add_variable_from_value("item", item);
            run(program, &scope)
        }
        None => run(program, ctx),
    }
}

fn evaluate_pipeline(
    root: &Context<'_>,
    s: &Snapshot,
    w: &PipelineWiring,
    plan: &Plan<'_>,
) -> Outcome {
    let Plan {
        rules,
        compiled,
        needs,
        cache,
        config,
        lookup,
    } = plan;
    let lookup: &Lookup = lookup;
    let mut out = Outcome {
        findings: Vec::new(),
        diagnostics: Vec::new(),
    };
    let b = match bindings(s, w, cache, config, needs) {
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
    let mut ctx = root.new_inner_scope();
    let mut globals: Vec<Option<Value>> = vec![None; GLOBALS.len()];
    for (name, v) in &b.vars {
        ctx.add_variable_from_value(*name, v.clone());
        if let Some(i) = GLOBALS.iter().position(|g| g == name) {
            globals[i] = Some(v.clone());
        }
    }
    let ctx = ctx;
    // Rules of an area share their `for_each`: each list is computed once.
    let mut lists: HashMap<&str, Arc<Vec<Value>>> = HashMap::new();
    for (rule, fast) in rules.iter().zip(compiled) {
        functions::take_gaps();
        globals[ITEM] = None;
        let cached = rule
            .file
            .for_each
            .as_deref()
            .and_then(|src| lists.get(src).cloned());
        let items: Vec<Option<Value>> = match (&rule.for_each, cached) {
            (_, Some(l)) => l.iter().cloned().map(Some).collect(),
            (None, None) => vec![None],
            (Some(p), None) => match exec(fast.for_each.as_ref(), p, &ctx, &globals, lookup) {
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
                Err(RunError::Cel(e)) => {
                    let gaps = relevant_gaps(rule, &b.gaps, functions::take_gaps());
                    out.diagnostics
                        .extend(gap_diagnostics(rule, w, &gaps, &e.to_string()));
                    continue;
                }
                Err(RunError::Unsupported(e)) => {
                    out.diagnostics.extend(gap_diagnostics(rule, w, &[], &e));
                    continue;
                }
            },
        };
        for item in items {
            globals[ITEM] = item;
            let fired = match exec(
                fast.condition.as_ref(),
                &rule.condition,
                &ctx,
                &globals,
                lookup,
            ) {
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
                Err(RunError::Cel(e)) => {
                    let gaps = relevant_gaps(rule, &b.gaps, functions::take_gaps());
                    out.diagnostics
                        .extend(gap_diagnostics(rule, w, &gaps, &e.to_string()));
                    continue;
                }
                Err(RunError::Unsupported(e)) => {
                    out.diagnostics.extend(gap_diagnostics(rule, w, &[], &e));
                    continue;
                }
            };
            if !fired {
                continue;
            }
            let resource = match exec(
                fast.resource.as_ref(),
                &rule.resource,
                &ctx,
                &globals,
                lookup,
            ) {
                Ok(v) => as_string(&v),
                Err(RunError::Cel(e)) => {
                    out.diagnostics.extend(gap_diagnostics(
                        rule,
                        w,
                        &[],
                        &format!("resource: {e}"),
                    ));
                    continue;
                }
                Err(RunError::Unsupported(e)) => {
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
            for (part, fast) in rule.message.iter().zip(&fast.message) {
                match part {
                    MessagePart::Text(t) => message.push_str(t),
                    MessagePart::Expr(src, p) => {
                        match exec(fast.as_ref(), p, &ctx, &globals, lookup) {
                            Ok(v) => message.push_str(&as_string(&v)),
                            Err(_) => message.push_str(&format!("{{{{{src}}}}}")),
                        }
                    }
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
    let needs = Needs::of(&enabled);
    let plan = Plan {
        compiled: enabled.iter().map(|r| CompiledRule::new(r, fast)).collect(),
        cache: Cache::build(&snapshot, &needs),
        needs,
        rules: enabled,
        config: config_value(config),
        lookup: Arc::new(Lookup::new(snapshot.clone())),
    };
    let s = &*snapshot;
    let outcomes: Vec<Outcome> = s
        .pipelines
        .par_iter()
        .map_init(
            || {
                let mut root = Context::default();
                let registered = functions::register(&mut root, plan.lookup.clone());
                (root, registered)
            },
            |(root, registered), w| match registered {
                Ok(()) => evaluate_pipeline(root, s, w, &plan),
                Err(e) => Outcome {
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
    let mut eval = Evaluation {
        pipelines: s.pipelines.len(),
        ..Evaluation::default()
    };
    // Findings outlive the evaluation (an organization's are all kept for
    // the report). Made on the pool's threads among the evaluation's
    // short-lived values, they would keep those threads' pages partly in
    // use; copied together here, the originals go with the rest. With
    // 261,500 findings kept over 500 accounts, three of four back-to-back
    // benchmark pairs were 6-11% faster this way, one equal.
    eval.findings
        .reserve_exact(outcomes.iter().map(|o| o.findings.len()).sum());
    for o in outcomes {
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
    // Freeing a large snapshot and its bindings takes a while: do it on the
    // pool, overlapping with what the caller does next.
    let Plan { cache, lookup, .. } = plan;
    drop(lookup);
    rayon::spawn(move || drop((cache, snapshot)));
    eval
}

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
