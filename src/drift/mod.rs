//! Drift: what changed between an approved baseline snapshot and now,
//! resource by resource (by ARN) and field by field, compared by meaning:
//! policies normalized (statement order, string vs list, principal forms,
//! action case, statement ids), event patterns and set-like lists compared
//! without order, volatile fields (timestamps, versions) ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::findings::Finding;
use crate::model::{Observed, PolicyDocument, Snapshot};
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine::evaluate;

/// Keys whose values change without any configuration change.
const VOLATILE: &[&str] = &[
    "created",
    "updated",
    "last_modified",
    "polling_disabled_at",
    "taken_at",
    // a Lambda group's last deployment and the versions it shifted between
    "deployment_id",
    "current_version",
    "target_version",
];
/// Lists whose order matters (everything else is compared as a set).
const ORDERED: &[&str] = &["stages", "actions", "input_artifacts", "output_artifacts"];

/// Why two snapshots cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(
        "the snapshots are of different accounts ({baseline} and {current}); drift compares one account with itself"
    )]
    Account { baseline: String, current: String },
}

/// How a resource changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path inside the resource, e.g. `rotation_enabled`,
    /// `policy.statements` or `stages[1].actions[0].configuration.ProjectName`.
    pub path: String,
    #[serde(flatten)]
    pub delta: Delta,
}

/// What changed in a field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Delta {
    /// A value (or an ordered list) replaced; `null` when absent on one side.
    Value { before: Value, after: Value },
    /// A set-like list (policy statements, targets, pattern values, ...):
    /// the items only on one side. Policy statements are shown as written
    /// in the policy, with their Sid.
    Items {
        added: Vec<Value>,
        removed: Vec<Value>,
    },
}

/// One resource that drifted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The resource map it belongs to (`buckets`, `keys`, `roles`, ...).
    pub resource_kind: String,
    pub arn: String,
    pub change: ChangeKind,
    pub fields: Vec<FieldChange>,
    /// ARNs of the pipelines that use the resource (in either snapshot).
    pub pipelines: Vec<String>,
    /// Rules whose findings on this resource appeared (`+ID`) or went away (`-ID`) with the change.
    pub rules: Vec<String>,
    /// The CloudFormation stack that manages the resource, when known: the
    /// change may be a stack update or an edit outside the stack (two
    /// snapshots cannot tell which).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_by: Option<crate::iac::Managed>,
}

/// The result of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Drift {
    pub changes: Vec<Change>,
    /// Values that could not be compared because one side could not be read.
    pub not_compared: Vec<String>,
}

/// A policy statement in the normalized tree is `{KEY: meaning, SHOWN: text}`:
/// compared by `KEY` (normalized, without Sid), shown as `SHOWN` (the
/// statement as written in the policy). Neither name can be a model field.
const KEY: &str = "\u{0}key";
const SHOWN: &str = "\u{0}shown";

fn marker(m: &Map<String, Value>) -> Option<(&Value, &Value)> {
    match (m.len(), m.get(KEY), m.get(SHOWN)) {
        (2, Some(k), Some(s)) => Some((k, s)),
        _ => None,
    }
}

/// `{status: ok, value}` / `{status: absent}` / `{status: unknown, error}`.
fn is_observed(m: &Map<String, Value>) -> bool {
    matches!(
        m.get("status").and_then(Value::as_str),
        Some("ok" | "absent" | "unknown")
    ) && m
        .keys()
        .all(|k| k == "status" || k == "value" || k == "error")
}

/// The statements of a parsed policy, each with its meaning and its text.
fn policy_statements(raw: &str, doc: &PolicyDocument) -> Vec<Value> {
    let written: Vec<Value> = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(mut m)) => match m.remove("Statement") {
            Some(Value::Array(a)) => a,
            Some(one @ Value::Object(_)) => vec![one],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    doc.statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut meaning = PolicyDocument {
                version: None,
                id: None,
                statements: vec![s.clone()],
            }
            .normalized()
            .statements;
            for m in &mut meaning {
                m.sid = None;
            }
            // the text at the same position, when it says the same
            let text = written
                .get(i)
                .filter(|w| {
                    PolicyDocument::parse(&json!({"Statement": [w]}).to_string())
                        .is_ok_and(|d| d.statements.first() == Some(s))
                })
                .cloned()
                .unwrap_or_else(|| s.to_policy_json());
            let mut m = Map::new();
            m.insert(
                KEY.to_string(),
                meaning
                    .first()
                    .and_then(|x| serde_json::to_value(x).ok())
                    .unwrap_or(Value::Null),
            );
            m.insert(SHOWN.to_string(), text);
            Value::Object(m)
        })
        .collect()
}

fn normalize(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(map) => {
            // A policy text: compared statement by statement, by meaning.
            if map.contains_key("raw") && map.contains_key("document") {
                let raw = map.get("raw").and_then(Value::as_str).unwrap_or_default();
                return match serde_json::from_value::<PolicyDocument>(map["document"].clone()) {
                    Ok(doc) => {
                        let mut items = policy_statements(raw, &doc);
                        sort_set(&mut items);
                        json!({ "statements": items })
                    }
                    Err(_) => map.get("raw").cloned().unwrap_or(Value::Null),
                };
            }
            // An observed value: its value, or null when absent.
            if is_observed(map) {
                match map.get("status").and_then(Value::as_str) {
                    Some("ok") => {
                        return normalize(map.get("value").unwrap_or(&Value::Null), key);
                    }
                    Some("absent") => return Value::Null,
                    _ => {}
                }
            }
            let out: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !VOLATILE.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), normalize(v, k)))
                .collect();
            Value::Object(out)
        }
        Value::Array(items) => {
            let mut out: Vec<Value> = items.iter().map(|i| normalize(i, key)).collect();
            if !ORDERED.contains(&key) {
                sort_set(&mut out);
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// What an item of a set is compared by: its JSON text, with each
/// statement replaced by its meaning.
fn identity(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                if let Some((k, _)) = marker(m) {
                    return write(k, out);
                }
                // key order does not matter (objects may keep the order written)
                let mut fields: Vec<(&String, &Value)> = m.iter().collect();
                fields.sort_by_key(|(k, _)| *k);
                out.push('{');
                for (i, (k, x)) in fields.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    write(x, out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn sort_set(items: &mut Vec<Value>) {
    items.sort_by_cached_key(identity);
    items.dedup_by(|a, b| same(a, b));
}

/// Equal by meaning (statement texts ignored).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => match (marker(x), marker(y)) {
            (Some((p, _)), Some((q, _))) => same(p, q),
            (None, None) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

/// A normalized value as shown: each statement as written.
fn shown(v: &Value) -> Value {
    match v {
        Value::Object(m) => match marker(m) {
            Some((_, s)) => s.clone(),
            None => Value::Object(m.iter().map(|(k, x)| (k.clone(), shown(x))).collect()),
        },
        Value::Array(a) => Value::Array(a.iter().map(shown).collect()),
        other => other.clone(),
    }
}

fn is_unknown(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("unknown")
}

fn join(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn diff(
    path: &str,
    key: &str,
    a: &Value,
    b: &Value,
    out: &mut Vec<FieldChange>,
    gaps: &mut Vec<String>,
) {
    if same(a, b) {
        return;
    }
    if is_unknown(a) || is_unknown(b) {
        gaps.push(path.to_string());
        return;
    }
    let null = Value::Null;
    let empty = Map::new();
    let plain = |m: &Map<String, Value>| marker(m).is_none();
    match (a, b) {
        // objects (one side possibly absent): field by field
        (Value::Object(x), Value::Object(y)) if plain(x) && plain(y) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                diff(
                    &join(path, k),
                    k,
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                    gaps,
                );
            }
        }
        (Value::Null, Value::Object(y)) if plain(y) => {
            diff(path, key, &Value::Object(empty.clone()), b, out, gaps);
        }
        (Value::Object(x), Value::Null) if plain(x) => {
            diff(path, key, a, &Value::Object(empty.clone()), out, gaps);
        }
        // ordered lists of one length: item by item
        (Value::Array(x), Value::Array(y)) if ORDERED.contains(&key) && x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(&format!("{path}[{i}]"), key, p, q, out, gaps);
            }
        }
        // set-like lists (one side possibly absent): the items added and removed
        (Value::Array(_) | Value::Null, Value::Array(_) | Value::Null)
            if !ORDERED.contains(&key) =>
        {
            let items = |v: &Value| v.as_array().cloned().unwrap_or_default();
            let (x, y) = (items(a), items(b));
            let ids = |v: &[Value]| -> BTreeSet<String> { v.iter().map(identity).collect() };
            let (ix, iy) = (ids(&x), ids(&y));
            let only = |v: &[Value], other: &BTreeSet<String>| -> Vec<Value> {
                v.iter()
                    .filter(|i| !other.contains(&identity(i)))
                    .map(shown)
                    .collect()
            };
            out.push(FieldChange {
                path: path.to_string(),
                delta: Delta::Items {
                    added: only(&y, &ix),
                    removed: only(&x, &iy),
                },
            });
        }
        _ => out.push(FieldChange {
            path: if path.is_empty() {
                "(value)".to_string()
            } else {
                path.to_string()
            },
            delta: Delta::Value {
                before: shown(a),
                after: shown(b),
            },
        }),
    }
}

/// Every resource of a snapshot by kind and ARN, normalized for comparison.
/// A kind is named by its `Resources` field, and the maps are read from the
/// serialized form, so every kind the model holds is compared.
fn resource_maps(s: &Snapshot) -> BTreeMap<String, BTreeMap<String, Value>> {
    let Ok(Value::Object(kinds)) = serde_json::to_value(&s.resources) else {
        return BTreeMap::new();
    };
    kinds
        .into_iter()
        .map(|(kind, map)| {
            let resources = match map {
                Value::Object(m) => m
                    .into_iter()
                    .map(|(arn, v)| (arn, normalize(&v, "")))
                    .collect(),
                _ => BTreeMap::new(),
            };
            (kind, resources)
        })
        .collect()
}

/// Which pipelines (ARNs) use each resource ARN.
fn users(s: &Snapshot) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for w in &s.pipelines {
        let mut arns: Vec<&str> = vec![&w.arn];
        arns.extend(w.role_arn.as_deref());
        arns.extend(w.sources.iter().map(|x| x.repository_arn.as_str()));
        arns.extend(
            w.connection_sources
                .iter()
                .map(|x| x.connection_arn.as_str()),
        );
        arns.extend(w.s3_sources.iter().map(|x| x.bucket_arn.as_str()));
        arns.extend(w.builds.iter().map(|x| x.project_arn.as_str()));
        arns.extend(
            w.deploys
                .iter()
                .flat_map(|x| [x.application_arn.as_str(), x.group_arn.as_str()]),
        );
        arns.extend(w.artifact_stores.iter().map(|x| x.bucket_arn.as_str()));
        arns.extend(
            w.artifact_stores
                .iter()
                .filter_map(|x| x.key_arn.as_deref()),
        );
        arns.extend(w.trigger_rules.iter().map(String::as_str));
        for a in arns {
            out.entry(a.to_string()).or_default().insert(w.arn.clone());
        }
    }
    out
}

/// Why a resource of `kind` at `arn` may be missing from `s` without having
/// gone: the IAM action whose failure kept it from being collected, as the
/// kind declares it ([`crate::collect::kind::Facts::hidden_by`]).
fn blind_spot(s: &Snapshot, kind: &str, arn: &str) -> Option<String> {
    crate::collect::kind::hidden_by(s, kind, arn)
}

/// The resources whose findings a change of `arn` affects: itself, and for
/// a deployment group's instances the roles of those instances on either
/// side (an instance whose profile changed changes which role is checked).
fn related<'a>(
    baseline: &'a Snapshot,
    current: &'a Snapshot,
    kind: &str,
    arn: &'a str,
) -> BTreeSet<&'a str> {
    let mut out = BTreeSet::from([arn]);
    if kind == "deploy_targets" {
        for s in [baseline, current] {
            if let Some(Observed::Ok { value }) = s.resources.deploy_targets.get(arn) {
                out.extend(
                    value
                        .instances
                        .iter()
                        .filter_map(|i| i.role_arn.value().map(String::as_str)),
                );
            }
        }
    }
    out
}

/// Compares two snapshots of one account.
pub fn compare(
    baseline: &Snapshot,
    current: &Snapshot,
    rules: &RuleSet,
    config: &Config,
) -> Result<Drift, DriftError> {
    if baseline.account != current.account {
        return Err(DriftError::Account {
            baseline: baseline.account.clone(),
            current: current.account.clone(),
        });
    }
    let before = resource_maps(baseline);
    let after = resource_maps(current);
    let mut users_all = users(baseline);
    for (k, v) in users(current) {
        users_all.entry(k).or_default().extend(v);
    }
    // Findings on each side, to link changes to the rules they affect. A
    // finding on one side whose rule could not be checked for its pipeline
    // on the other (a collection gap) is not linked: that rule was neither
    // resolved nor made to fire.
    let ea = evaluate(Arc::new(baseline.clone()), rules, config);
    let eb = evaluate(Arc::new(current.clone()), rules, config);
    let unchecked = |diags: &[crate::findings::Diagnostic]| -> BTreeSet<(String, String)> {
        diags
            .iter()
            .filter(|d| d.kind == crate::findings::DiagnosticKind::CollectionGap)
            .filter_map(|d| Some((d.rule_id.clone()?, d.pipeline.clone()?)))
            .collect()
    };
    let (gaps_a, gaps_b) = (unchecked(&ea.diagnostics), unchecked(&eb.diagnostics));
    let key = |f: &Finding| (f.resource_arn.clone(), f.rule_id.clone());
    let checked_by = |gaps: &BTreeSet<(String, String)>| {
        let gaps = gaps.clone();
        move |f: &&Finding| !gaps.contains(&(f.rule_id.clone(), f.pipeline.clone()))
    };
    let set_a: BTreeSet<(String, String)> = ea
        .findings
        .iter()
        .filter(checked_by(&gaps_b))
        .map(key)
        .collect();
    let set_b: BTreeSet<(String, String)> = eb
        .findings
        .iter()
        .filter(checked_by(&gaps_a))
        .map(key)
        .collect();
    let linked = |kind: &str, arn: &str| -> Vec<String> {
        let on = related(baseline, current, kind, arn);
        let mut out: Vec<String> = set_b
            .difference(&set_a)
            .filter(|(r, _)| on.contains(r.as_str()))
            .map(|(_, id)| format!("+{id}"))
            .chain(
                set_a
                    .difference(&set_b)
                    .filter(|(r, _)| on.contains(r.as_str()))
                    .map(|(_, id)| format!("-{id}")),
            )
            .collect();
        out.sort();
        out.dedup();
        out
    };

    let mut drift = Drift::default();
    for (kind, map_a) in &before {
        let empty = BTreeMap::new();
        let map_b = after.get(kind).unwrap_or(&empty);
        let arns: BTreeSet<&String> = map_a.keys().chain(map_b.keys()).collect();
        for arn in arns {
            let (change, fields) = match (map_a.get(arn), map_b.get(arn)) {
                // Missing on one side because that side could not have
                // seen it (a listing or the resource pointing at it could
                // not be read) is not drift.
                (Some(_), None) => match blind_spot(current, kind, arn) {
                    Some(action) => {
                        drift
                            .not_compared
                            .push(format!("{arn} (not collected now: {action})"));
                        continue;
                    }
                    None => (ChangeKind::Removed, Vec::new()),
                },
                (None, Some(_)) => match blind_spot(baseline, kind, arn) {
                    Some(action) => {
                        drift
                            .not_compared
                            .push(format!("{arn} (not collected in the baseline: {action})"));
                        continue;
                    }
                    None => (ChangeKind::Added, Vec::new()),
                },
                (Some(a), Some(b)) => {
                    let mut fields = Vec::new();
                    let mut gaps = Vec::new();
                    diff("", "", a, b, &mut fields, &mut gaps);
                    drift
                        .not_compared
                        .extend(gaps.into_iter().map(|p| format!("{arn} {p}")));
                    if fields.is_empty() {
                        continue;
                    }
                    (ChangeKind::Changed, fields)
                }
                (None, None) => continue,
            };
            drift.changes.push(Change {
                resource_kind: kind.to_string(),
                arn: arn.clone(),
                change,
                fields,
                pipelines: users_all
                    .get(arn.as_str())
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default(),
                rules: linked(kind, arn),
                managed_by: None,
            });
        }
    }
    Ok(drift)
}

/// Findings of `current` whose fingerprint is not in a previous JSON report.
pub fn new_findings(current: Vec<Finding>, previous_report: &Value) -> Vec<Finding> {
    let known: BTreeSet<&str> = previous_report["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["fingerprint"].as_str()).collect())
        .unwrap_or_default();
    current
        .into_iter()
        .filter(|f| !known.contains(f.fingerprint.as_str()))
        .collect()
}

#[cfg(test)]
mod tests;
