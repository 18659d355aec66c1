//! Every resource of a snapshot bound once as a CEL value, by ARN, with
//! the unknown fields it left out (its gaps), and the value builders the
//! bindings share.

use std::collections::HashMap;
use std::sync::Arc;

use cel::Value;
use cel::objects::{Key, Map};
use rayon::prelude::*;
use serde::Serialize;

use crate::collect::kind::{self, Binding, Facts, Visit};
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
            let value = super::cel_value::to_cel_with(
                value,
                arn,
                &mut gaps,
                super::cel_value::Policies::Summaries,
            );
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
        .find(|e| {
            e.scope == crate::model::Listing::KmsAliases
                && (region.is_empty() || e.region == region)
        })
        .map(|e| &e.error)
}

/// Leaves out of a bound value each key ARN that is unset only because the
/// alias it names could not be resolved (`None` would read as "another
/// key"): a project's `encryption_key_arn`, a bucket encryption rule's
/// `kms_key_arn`; each with its gap.
fn unresolved_keys<F: Facts>(
    s: &Snapshot,
    mut b: Bound,
    obs: &Observed<F::Value>,
    arn: &str,
) -> Bound {
    let Observed::Ok { value } = obs else {
        return b;
    };
    let refs = F::key_refs(value);
    if refs.is_empty() {
        return b;
    }
    let region = arn.split(':').nth(3).unwrap_or("");
    let unknown: Vec<(Vec<&'static str>, ReadError)> = refs
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

/// Binds one resource.
type BindOne<'a> = Box<dyn Fn() -> Bound + Send + Sync + 'a>;

/// The resources to bind, of the kinds some bound variable holds
/// ([`Facts::VARIABLES`]).
struct Gather<'a> {
    s: &'a Snapshot,
    needs: &'a Reads,
    items: Vec<(&'a String, BindOne<'a>)>,
}

impl<'a> Visit for Gather<'a> {
    fn visit<F: Facts>(&mut self) {
        if !F::VARIABLES.iter().any(|v| self.needs.var(v)) {
            return;
        }
        let s = self.s;
        for (arn, obs) in F::map(&s.resources) {
            let bind: BindOne<'a> = match (F::BINDING, obs) {
                // A readable resource bound per pipeline from the model:
                // only its state here.
                (Binding::PerPipeline, Observed::Ok { .. }) => Box::new(|| Bound {
                    value: Some(Value::Null),
                    gaps: Vec::new(),
                }),
                _ => Box::new(move || unresolved_keys::<F>(s, bind(arn, obs), obs, arn)),
            };
            self.items.push((arn, bind));
        }
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
        // One parallel pass over every resource (the kinds are small and
        // uneven; one pass keeps both cores busy), of only the kinds some
        // bound variable holds.
        let mut gather = Gather {
            s,
            needs,
            items: Vec::new(),
        };
        kind::for_each(&mut gather);
        let bound: Vec<(String, Bound)> = gather
            .items
            .par_iter()
            .with_min_len(8)
            .map(|(arn, bind)| ((*arn).clone(), bind()))
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
    super::cel_value::field_key(s)
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
