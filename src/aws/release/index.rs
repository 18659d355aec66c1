//! Principals indexed by the release actions they may be allowed and the
//! resource patterns they hold them on, so that a pipeline meets only the
//! principals whose policies could reach its resources (never every
//! principal against every pipeline and kind).

use std::collections::HashMap;

use super::super::iam::{action_matches, wildcard};
use crate::model::policy::{Effect, PolicyDocument};

/// Candidates per action: by exact resource, by pattern (with the literal
/// prefix before its first wildcard), and on every resource.
#[derive(Debug, Default)]
struct ByResource {
    exact: HashMap<String, Vec<usize>>,
    patterns: Vec<(String, String, usize)>,
    any: Vec<usize>,
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    actions: HashMap<&'static str, ByResource>,
}

impl Index {
    /// Indexes each subject (by position) on the `actions` its Allow
    /// statements may grant.
    pub fn build<'a>(
        actions: &[&'static str],
        subjects: impl Iterator<Item = (usize, Vec<&'a PolicyDocument>)>,
    ) -> Index {
        let mut index = Index::default();
        for (i, docs) in subjects {
            for doc in docs {
                for s in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
                    for a in actions {
                        if !action_matches(s, a) {
                            continue;
                        }
                        let entry = index.actions.entry(*a).or_default();
                        match (&s.resource, &s.not_resource) {
                            (Some(list), None) => {
                                for r in list {
                                    if r == "*" {
                                        entry.any.push(i);
                                    } else if r.contains(['*', '?']) {
                                        let cut = r.find(['*', '?']).unwrap_or(r.len());
                                        entry.patterns.push((r[..cut].to_string(), r.clone(), i));
                                    } else {
                                        entry.exact.entry(r.clone()).or_default().push(i);
                                    }
                                }
                            }
                            _ => entry.any.push(i),
                        }
                    }
                }
            }
        }
        index
    }

    /// The subjects that may hold `action` on `resource`, sorted, once each.
    pub fn candidates(&self, action: &str, resource: &str) -> Vec<usize> {
        let Some(by) = self.actions.get(action) else {
            return Vec::new();
        };
        let mut out: Vec<usize> = by.any.clone();
        if let Some(e) = by.exact.get(resource) {
            out.extend(e);
        }
        out.extend(
            by.patterns
                .iter()
                .filter(|(prefix, pattern, _)| {
                    resource.starts_with(prefix.as_str()) && wildcard(pattern, resource, false)
                })
                .map(|(_, _, i)| *i),
        );
        out.sort_unstable();
        out.dedup();
        out
    }
}
