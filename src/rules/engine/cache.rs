//! Every resource of a snapshot bound once as a CEL value, by ARN, with
//! the unknown fields it left out (its gaps), and the value builders the
//! bindings share.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use rayon::prelude::*;
use serde::Serialize;

use crate::model::{Observed, ReadError, Snapshot};
use crate::rules::reads::Reads;

/// A resource as bound into CEL, with the unknown fields it left out.
#[derive(Clone)]
pub(super) struct Bound {
    /// `None` when the whole resource is unknown.
    pub(super) value: Option<Value>,
    pub(super) gaps: Vec<(String, ReadError)>,
}

/// Binds a resource: its value (`None` when unknown) and the gaps in it.
fn bind<T: Serialize>(arn: &str, obs: &Observed<T>) -> Bound {
    match obs {
        Observed::Ok { value } => {
            let mut gaps = Vec::new();
            let value = crate::model::with_policy_summaries(|| {
                crate::rules::bind::to_cel(value, arn, &mut gaps)
            });
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
pub(super) struct Cache {
    /// Looked up for every resource of every pipeline: a fast hasher
    /// (the ARNs come from the snapshot, not from an adversary).
    pub(super) by_arn: HashMap<String, Bound, foldhash::fast::RandomState>,
}

impl Cache {
    pub(super) fn build(s: &Snapshot, needs: &Reads) -> Cache {
        let r = &s.resources;
        // One parallel pass over every resource (the kinds are small and
        // uneven; one pass keeps both cores busy).
        enum Any<'a> {
            Repository(&'a Observed<crate::model::Repository>),
            Connection(&'a Observed<crate::model::Connection>),
            Project(&'a Observed<crate::model::BuildProject>),
            Application(&'a Observed<crate::model::DeployApplication>),
            Group(&'a Observed<crate::model::DeployGroup>),
            Config(&'a Observed<crate::model::DeployConfig>),
            Bucket(&'a Observed<crate::model::Bucket>),
            SourceBucket(&'a Observed<crate::model::SourceBucket>),
            Key(&'a Observed<crate::model::KmsKey>),
            Rule(&'a Observed<crate::model::EventRule>),
            EcsService(&'a Observed<crate::model::EcsService>),
            TaskDefinition(&'a Observed<crate::model::TaskDefinition>),
            ImageRepository(&'a Observed<crate::model::ImageRepository>),
            Function(&'a Observed<crate::model::LambdaFunction>),
            Stack(&'a Observed<crate::model::CfnStack>),
        }
        // Only the kinds some bound variable holds.
        let mut items: Vec<(&String, Any<'_>)> = Vec::new();
        if needs.var("sources") {
            items.extend(r.repositories.iter().map(|(k, v)| (k, Any::Repository(v))));
        }
        if needs.var("connections") {
            items.extend(r.connections.iter().map(|(k, v)| (k, Any::Connection(v))));
        }
        if needs.var("s3_sources") {
            items.extend(
                r.source_buckets
                    .iter()
                    .map(|(k, v)| (k, Any::SourceBucket(v))),
            );
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
            items.extend(r.deploy_configs.iter().map(|(k, v)| (k, Any::Config(v))));
        }
        if needs.var("stores") {
            items.extend(r.buckets.iter().map(|(k, v)| (k, Any::Bucket(v))));
            items.extend(r.keys.iter().map(|(k, v)| (k, Any::Key(v))));
        }
        if needs.var("stacks") {
            items.extend(r.cfn_stacks.iter().map(|(k, v)| (k, Any::Stack(v))));
        }
        if needs.var("triggers") {
            items.extend(r.event_rules.iter().map(|(k, v)| (k, Any::Rule(v))));
        }
        if needs.var("functions") {
            items.extend(
                r.lambda_functions
                    .iter()
                    .map(|(k, v)| (k, Any::Function(v))),
            );
        }
        if needs.var("ecs_services") || needs.var("images") {
            items.extend(r.ecs_services.iter().map(|(k, v)| (k, Any::EcsService(v))));
            items.extend(
                r.task_definitions
                    .iter()
                    .map(|(k, v)| (k, Any::TaskDefinition(v))),
            );
            items.extend(
                r.image_repositories
                    .iter()
                    .map(|(k, v)| (k, Any::ImageRepository(v))),
            );
        }
        let bound: Vec<(String, Bound)> = items
            .par_iter()
            .with_min_len(8)
            .map(|(arn, any)| {
                let b = match any {
                    Any::Repository(o) => bind(arn, o),
                    Any::Connection(o) => bind(arn, o),
                    Any::Project(o) => unresolved_keys(s, bind(arn, o), o, arn),
                    Any::Application(o) => bind(arn, o),
                    Any::Group(o) => bind(arn, o),
                    Any::Config(o) => bind(arn, o),
                    Any::Bucket(o) => unresolved_keys(s, bind(arn, o), o, arn),
                    Any::SourceBucket(o) => bind(arn, o),
                    Any::Key(o) => bind(arn, o),
                    Any::Stack(o) => bind(arn, o),
                    // A readable rule is bound per pipeline from the model
                    // (its targets at that pipeline): only its state here.
                    Any::Rule(Observed::Ok { .. }) => Bound {
                        value: Some(Value::Null),
                        gaps: Vec::new(),
                    },
                    Any::Rule(o) => bind(arn, o),
                    Any::EcsService(o) => bind(arn, o),
                    Any::TaskDefinition(o) => bind(arn, o),
                    Any::ImageRepository(o) => bind(arn, o),
                    Any::Function(o) => bind(arn, o),
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
    pub(super) fn put(
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

pub(super) fn key(s: &'static str) -> Key {
    crate::rules::bind::field_key(s)
}

pub(super) fn string(s: &str) -> Value {
    Value::String(Arc::new(s.to_string()))
}

pub(super) fn opt_string(s: Option<&str>) -> Value {
    s.map(string).unwrap_or(Value::Null)
}

pub(super) fn map(m: HashMap<Key, Value>) -> Value {
    Value::Map(Map { map: Arc::new(m) })
}

pub(super) fn list(items: Vec<Value>) -> Value {
    Value::List(Arc::new(items))
}
