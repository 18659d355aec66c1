//! Drift: what changed between an approved baseline snapshot and now,
//! resource by resource (by ARN) and field by field, compared by meaning:
//! policies normalized (statement order, string vs list, principal forms,
//! action case, statement ids), event patterns and set-like lists compared
//! without order, volatile fields (timestamps, versions) ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

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
    /// Dotted path inside the resource, e.g. `rotation_enabled` or `policy.statements`.
    pub path: String,
    pub before: Value,
    pub after: Value,
}

/// One resource that drifted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The resource map it belongs to (`buckets`, `keys`, `roles`, ...).
    pub resource_kind: String,
    pub arn: String,
    pub change: ChangeKind,
    pub fields: Vec<FieldChange>,
    /// Names of the pipelines that use the resource.
    pub pipelines: Vec<String>,
    /// Rules whose findings on this resource appeared (`+ID`) or went away (`-ID`) with the change.
    pub rules: Vec<String>,
}

/// The result of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Drift {
    pub changes: Vec<Change>,
    /// Values that could not be compared because one side could not be read.
    pub not_compared: Vec<String>,
}

fn normalize(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(map) => {
            // A policy text: compare the normalized document only.
            if map.contains_key("raw") && map.contains_key("document") {
                return match serde_json::from_value::<PolicyDocument>(map["document"].clone()) {
                    Ok(doc) => {
                        let mut n = doc.normalized();
                        n.version = None;
                        for s in &mut n.statements {
                            s.sid = None;
                        }
                        serde_json::to_value(n).unwrap_or(Value::Null)
                    }
                    Err(_) => map.get("raw").cloned().unwrap_or(Value::Null),
                };
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
                out.sort_by_cached_key(|v| v.to_string());
                out.dedup();
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

fn is_unknown(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("unknown")
}

fn diff(path: &str, a: &Value, b: &Value, out: &mut Vec<FieldChange>, gaps: &mut Vec<String>) {
    if a == b {
        return;
    }
    if is_unknown(a) || is_unknown(b) {
        gaps.push(path.to_string());
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            // An observed value ({status, value}) is transparent in paths.
            let observed = |m: &Map<String, Value>| {
                matches!(
                    m.get("status").and_then(Value::as_str),
                    Some("ok" | "absent" | "unknown")
                ) && m
                    .keys()
                    .all(|k| k == "status" || k == "value" || k == "error")
            };
            let transparent = observed(x) || observed(y);
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let here = if transparent {
                    path.to_string()
                } else if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let null = Value::Null;
                diff(
                    &here,
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                    gaps,
                );
            }
        }
        _ => out.push(FieldChange {
            path: if path.is_empty() {
                "(value)".to_string()
            } else {
                path.to_string()
            },
            before: a.clone(),
            after: b.clone(),
        }),
    }
}

fn resource_maps(s: &Snapshot) -> BTreeMap<&'static str, BTreeMap<String, Value>> {
    let r = &s.resources;
    fn m<T: Serialize>(map: &BTreeMap<String, T>) -> BTreeMap<String, Value> {
        map.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    normalize(&serde_json::to_value(v).unwrap_or(Value::Null), ""),
                )
            })
            .collect()
    }
    let mut out = BTreeMap::new();
    out.insert("pipelines", m(&r.pipelines));
    out.insert("repositories", m(&r.repositories));
    out.insert("build_projects", m(&r.build_projects));
    out.insert("deploy_applications", m(&r.deploy_applications));
    out.insert("deploy_groups", m(&r.deploy_groups));
    out.insert("event_rules", m(&r.event_rules));
    out.insert("buckets", m(&r.buckets));
    out.insert("keys", m(&r.keys));
    out.insert("roles", m(&r.roles));
    out.insert("managed_policies", m(&r.managed_policies));
    out
}

/// Which pipelines use each resource ARN.
fn users(s: &Snapshot) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for w in &s.pipelines {
        let mut arns: Vec<&str> = vec![&w.arn];
        arns.extend(w.role_arn.as_deref());
        arns.extend(w.sources.iter().map(|x| x.repository_arn.as_str()));
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
            out.entry(a.to_string()).or_default().insert(w.name.clone());
        }
    }
    out
}

/// Why a resource of `kind` at `arn` may be missing from `s` without having
/// gone: the IAM action whose failure kept it from being collected. A
/// resource is collected when a listing finds it or a resource that was read
/// points at it, so one that could not be read may hide any resource of the
/// kinds it points at.
fn blind_spot(s: &Snapshot, kind: &str, arn: &str) -> Option<String> {
    let region = arn.split(':').nth(3).unwrap_or("");
    let scope = |name: &str, any_region: bool| {
        s.scope_errors
            .iter()
            .find(|e| e.scope == name && (any_region || e.region == region))
            .map(|e| e.error.action.clone())
    };
    fn unknown<T>(map: &BTreeMap<String, Observed<T>>) -> Option<String> {
        map.values()
            .find_map(|o| o.error().map(|e| e.action.clone()))
    }
    let r = &s.resources;
    let pipelines = || scope("pipelines", true).or_else(|| unknown(&r.pipelines));
    match kind {
        "pipelines" => scope("pipelines", false),
        "event_rules" => scope("event-rules", false),
        "keys" => pipelines().or_else(|| scope("kms-aliases", true)),
        "roles" | "managed_policies" => {
            let role_sources = || {
                pipelines()
                    .or_else(|| unknown(&r.build_projects))
                    .or_else(|| unknown(&r.deploy_groups))
                    .or_else(|| unknown(&r.event_rules))
                    .or_else(|| scope("event-rules", true))
            };
            if kind == "roles" {
                return role_sources();
            }
            role_sources().or_else(|| unknown(&r.roles)).or_else(|| {
                r.roles
                    .values()
                    .filter_map(Observed::value)
                    .find_map(|role| role.attached_policies.error().map(|e| e.action.clone()))
            })
        }
        _ => pipelines(),
    }
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
            .filter(|d| d.kind == "collection-gap")
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
    let linked = |arn: &str| -> Vec<String> {
        let mut out: Vec<String> = set_b
            .difference(&set_a)
            .filter(|(r, _)| r == arn)
            .map(|(_, id)| format!("+{id}"))
            .chain(
                set_a
                    .difference(&set_b)
                    .filter(|(r, _)| r == arn)
                    .map(|(_, id)| format!("-{id}")),
            )
            .collect();
        out.sort();
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
                    diff("", a, b, &mut fields, &mut gaps);
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
                rules: linked(arn),
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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn normalization_ignores_order_volatile_fields_and_policy_forms() {
        let a = json!({"created": "1", "tags": ["b", "a"], "stages": [{"n": 2}, {"n": 1}],
                       "policy": {"raw": "x", "document": {"version": "2012-10-17", "statements": [
                           {"sid": "A", "effect": "Allow", "action": ["S3:GetObject"], "resource": ["*"], "conditions": []},
                           {"effect": "Deny", "principal": "any", "action": ["s3:*"], "resource": ["b", "a"], "conditions": []}]}}});
        let b = json!({"created": "2", "tags": ["a", "b"], "stages": [{"n": 2}, {"n": 1}],
                       "policy": {"raw": "y", "document": {"statements": [
                           {"effect": "Deny", "principal": {"typed": {"AWS": ["*"]}}, "action": ["s3:*"], "resource": ["a", "b"], "conditions": []},
                           {"sid": "B", "effect": "Allow", "action": ["s3:getobject"], "resource": ["*"], "conditions": []}]}}});
        assert_eq!(normalize(&a, ""), normalize(&b, ""));
        let c = json!({"stages": [{"n": 1}, {"n": 2}]});
        let d = json!({"stages": [{"n": 2}, {"n": 1}]});
        assert_ne!(normalize(&c, ""), normalize(&d, ""), "stage order matters");
    }

    #[test]
    fn field_paths_and_unknowns() {
        let a = json!({"status": "ok", "value": {"rotation_enabled": {"status": "ok", "value": true}, "x": 1}});
        let b = json!({"status": "ok", "value": {"rotation_enabled": {"status": "ok", "value": false}, "x": 1}});
        let mut out = Vec::new();
        let mut gaps = Vec::new();
        diff("", &a, &b, &mut out, &mut gaps);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].path, "rotation_enabled");
        assert_eq!(
            (out[0].before.clone(), out[0].after.clone()),
            (json!(true), json!(false))
        );
        let u = json!({"status": "ok", "value": {"rotation_enabled": {"status": "unknown", "error": {}}, "x": 1}});
        let mut out = Vec::new();
        diff("", &a, &u, &mut out, &mut gaps);
        assert!(out.is_empty());
        assert_eq!(gaps, vec!["rotation_enabled".to_string()]);
    }
}
