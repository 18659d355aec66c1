//! What the rule helpers look up across an account, indexed once per
//! snapshot, so that evaluating one pipeline costs the same however many
//! other pipelines the account holds:
//!
//! - the pipelines' wiring by ARN (instead of a scan of every pipeline);
//! - the trigger rules that could not be read (instead of a scan of every
//!   rule of the account for each pipeline);
//! - the account's roles that each role may pass: each `iam:PassRole`
//!   resource pattern of the role's identity policies is resolved through
//!   the account's roles sorted by ARN (an exact name is one lookup, a
//!   wildcard the range of ARNs that share its literal prefix), once per
//!   role, instead of trying every role of the account against the policies
//!   for every pipeline.
//!
//! Built lazily by [`crate::rules::functions::Lookup`]; nothing here
//! depends on a rule, so other helpers may use it as well.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::aws::iam;
use crate::model::policy::Effect;
use crate::model::{Observed, PipelineWiring, PolicyDocument, ReadError, Snapshot};

const PASS_ROLE: &str = "iam:PassRole";

/// How many passable roles are kept per role: more than any pipeline has
/// roles of its own in practice (see [`AccountIndex::passes_other_role`]
/// for the rest).
const KEPT: usize = 16;

/// A snapshot's cross-resource lookups (see the module documentation).
pub struct AccountIndex {
    /// Position of each pipeline in `Snapshot::pipelines`, by ARN (the
    /// first one, should an ARN appear twice).
    pipelines: HashMap<String, usize, foldhash::fast::RandomState>,
    /// The trigger rules that could not be read, in ARN order: (ARN,
    /// region, error).
    unknown_rules: Vec<(String, String, ReadError)>,
    /// The roles each role may pass, by role ARN, computed on first use.
    passable: Mutex<HashMap<String, Arc<Passable>>>,
    /// Whether each role of the snapshot was read, by ARN: `role_exists`
    /// asks it for nearly every role of nearly every pipeline, and a hash
    /// lookup is cheaper than a search of the ordered map of roles.
    roles: HashMap<String, RoleState, foldhash::fast::RandomState>,
}

/// What the snapshot holds of a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleState {
    Read,
    Absent,
    Unknown,
}

/// Roles of the account a role's identity policies let it pass (Deny
/// honoured), at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passable {
    pub roles: Vec<String>,
    /// More than `roles` are passable.
    pub truncated: bool,
}

impl AccountIndex {
    pub fn build(s: &Snapshot) -> AccountIndex {
        let mut pipelines = HashMap::with_capacity_and_hasher(
            s.pipelines.len(),
            foldhash::fast::RandomState::default(),
        );
        for (i, w) in s.pipelines.iter().enumerate() {
            pipelines.entry(w.arn.clone()).or_insert(i);
        }
        let unknown_rules = s
            .resources
            .event_rules
            .iter()
            .filter_map(|(arn, rule)| match rule {
                Observed::Unknown { error } => Some((
                    arn.clone(),
                    arn.split(':').nth(3).unwrap_or("").to_string(),
                    error.clone(),
                )),
                _ => None,
            })
            .collect();
        let mut roles = HashMap::with_capacity_and_hasher(
            s.resources.roles.len(),
            foldhash::fast::RandomState::default(),
        );
        for (arn, role) in &s.resources.roles {
            let state = match role {
                Observed::Ok { .. } => RoleState::Read,
                Observed::Absent => RoleState::Absent,
                Observed::Unknown { .. } => RoleState::Unknown,
            };
            roles.insert(arn.clone(), state);
        }
        AccountIndex {
            pipelines,
            unknown_rules,
            passable: Mutex::new(HashMap::new()),
            roles,
        }
    }

    /// What the snapshot holds of role `arn` (`None`: not collected).
    pub fn role_state(&self, arn: &str) -> Option<RoleState> {
        self.roles.get(arn).copied()
    }

    /// The wiring of pipeline `arn`.
    pub fn wiring<'a>(&self, s: &'a Snapshot, arn: &str) -> Option<&'a PipelineWiring> {
        let i = *self.pipelines.get(arn)?;
        s.pipelines.get(i).filter(|w| w.arn == arn)
    }

    /// What keeps the trigger rules of pipeline `w` from being known, as
    /// [`Snapshot::trigger_gaps`] gives it, without a scan of every rule.
    pub fn trigger_gaps(&self, s: &Snapshot, w: &PipelineWiring) -> Vec<(String, ReadError)> {
        let mut out = Vec::new();
        for e in &s.scope_errors {
            if e.scope == crate::model::Listing::EventRules && e.region == w.region {
                out.push((format!("{}:event-rules", e.region), e.error.clone()));
            }
        }
        for (arn, region, error) in &self.unknown_rules {
            if *region == w.region || w.trigger_rules.contains(arn) {
                out.push((format!("{arn}.targets"), error.clone()));
            }
        }
        out
    }

    /// Whether role `role_arn` (whose identity policies are `docs`) may
    /// pass a role of the account that is not in `own`.
    pub fn passes_other_role(
        &self,
        s: &Snapshot,
        docs: &[&PolicyDocument],
        role_arn: &str,
        own: &[&str],
    ) -> bool {
        let kept = self.passable(s, docs, role_arn);
        if kept.roles.iter().any(|r| !own.contains(&r.as_str())) {
            return true;
        }
        // Every kept role is one of `own` and there are more: look further
        // than `own` can hold (a pipeline with more roles than are kept).
        kept.truncated
            && passable_roles(s, docs, role_arn, own.len() + 1)
                .roles
                .iter()
                .any(|r| !own.contains(&r.as_str()))
    }

    /// The roles `role_arn` may pass (at most [`KEPT`]), computed once.
    pub fn passable(
        &self,
        s: &Snapshot,
        docs: &[&PolicyDocument],
        role_arn: &str,
    ) -> Arc<Passable> {
        let cached = self
            .passable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(role_arn)
            .cloned();
        if let Some(p) = cached {
            return p;
        }
        let p = Arc::new(passable_roles(s, docs, role_arn, KEPT));
        self.passable
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(role_arn.to_string())
            .or_insert(p)
            .clone()
    }
}

/// The roles of the snapshot that `docs` let `role_arn` pass, at most
/// `limit`: the candidates are the roles an Allow of `iam:PassRole` names
/// (exactly, through the ARNs sharing a wildcard pattern's literal prefix,
/// or all of them for `NotResource`), each then confirmed by the IAM
/// evaluator (Deny wins).
pub fn passable_roles(
    s: &Snapshot,
    docs: &[&PolicyDocument],
    role_arn: &str,
    limit: usize,
) -> Passable {
    let roles = &s.resources.roles;
    let mut out = Passable {
        roles: Vec::new(),
        truncated: false,
    };
    // false once `limit` roles are found and one more is passable
    let mut consider = |arn: &str| -> bool {
        if out.roles.iter().any(|r| r == arn)
            || !iam::identity_allows(docs, role_arn, PASS_ROLE, arn)
        {
            return true;
        }
        if out.roles.len() >= limit {
            out.truncated = true;
            return false;
        }
        out.roles.push(arn.to_string());
        true
    };
    let statements = docs
        .iter()
        .flat_map(|d| d.statements.iter())
        .filter(|st| st.effect == Effect::Allow && iam::action_matches(st, PASS_ROLE));
    for st in statements {
        let Some(patterns) = &st.resource else {
            // NotResource, or no resource element: any role may match
            for arn in roles.keys() {
                if !consider(arn) {
                    return out;
                }
            }
            continue;
        };
        for p in patterns {
            match p.find(['*', '?']) {
                None => {
                    if roles.contains_key(p.as_str()) && !consider(p) {
                        return out;
                    }
                }
                Some(at) => {
                    let prefix = &p[..at];
                    let range = roles
                        .range::<str, _>((
                            std::ops::Bound::Included(prefix),
                            std::ops::Bound::Unbounded,
                        ))
                        .map(|(arn, _)| arn)
                        .take_while(|arn| arn.starts_with(prefix));
                    for arn in range {
                        if iam::wildcard(p, arn, false) && !consider(arn) {
                            return out;
                        }
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PolicyText, Role};

    const ACCOUNT: &str = "123456789012";

    fn doc(json: &str) -> PolicyDocument {
        match PolicyText::parse(json).document {
            Some(d) => d,
            None => panic!("test policy does not parse: {json}"),
        }
    }

    fn role_arn(name: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:role/{name}")
    }

    fn snapshot(names: &[&str]) -> Snapshot {
        let mut s = Snapshot::new(ACCOUNT.to_string(), vec![], String::new());
        for n in names {
            s.resources.roles.insert(
                role_arn(n),
                Observed::ok(Role {
                    name: n.to_string(),
                    arn: role_arn(n),
                    path: None,
                    trust_policy: Observed::Absent,
                    inline_policies: Observed::Absent,
                    attached_policies: Observed::Absent,
                    permissions_boundary: None,
                }),
            );
        }
        s
    }

    /// What the index replaces: every role of the account tried in turn.
    fn brute_force(s: &Snapshot, docs: &[&PolicyDocument], role: &str, own: &[&str]) -> bool {
        s.resources
            .roles
            .keys()
            .filter(|r| !own.contains(&r.as_str()))
            .any(|r| iam::identity_allows(docs, role, PASS_ROLE, r))
    }

    /// The roles' states by ARN are those of the snapshot's map of roles,
    /// for roles read, absent, unknown and not collected.
    #[test]
    fn role_states_agree_with_the_snapshots_roles() {
        let mut s = snapshot(&["build", "deploy"]);
        s.resources.roles.insert(role_arn("gone"), Observed::Absent);
        s.resources.roles.insert(
            role_arn("hidden"),
            Observed::Unknown {
                error: ReadError {
                    kind: crate::model::ReadErrorKind::AccessDenied,
                    action: "iam:GetRole".to_string(),
                    code: None,
                    message: "denied".to_string(),
                },
            },
        );
        let index = AccountIndex::build(&s);
        for name in ["build", "deploy", "gone", "hidden", "never-collected"] {
            let arn = role_arn(name);
            let expected = s.resources.roles.get(&arn).map(|r| match r {
                Observed::Ok { .. } => RoleState::Read,
                Observed::Absent => RoleState::Absent,
                Observed::Unknown { .. } => RoleState::Unknown,
            });
            assert_eq!(index.role_state(&arn), expected, "{name}");
        }
        assert_eq!(index.role_state(&role_arn("build")), Some(RoleState::Read));
        assert_eq!(index.role_state(&role_arn("never-collected")), None);
    }

    #[test]
    fn the_index_agrees_with_trying_every_role() {
        let names: Vec<String> = (0..60)
            .flat_map(|i| {
                [
                    format!("app-{i:02}-build"),
                    format!("app-{i:02}-deploy"),
                    format!("web-{i:02}-deploy"),
                ]
            })
            .chain(["admin".to_string(), "app-?x".to_string()])
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let s = snapshot(&refs);
        let me = role_arn("app-00-build");
        let policies = [
            // nothing passable
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.to_string(),
            // one named role
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"iam:PassRole","Resource":"{}"}}]}}"#,
                role_arn("app-00-deploy")
            ),
            // a prefix pattern
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"iam:Pass*","Resource":"arn:aws:iam::{ACCOUNT}:role/app-00-*"}}]}}"#
            ),
            // a pattern that matches many roles, some denied
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::{ACCOUNT}:role/*-deploy"}},
                    {{"Effect":"Deny","Action":"iam:PassRole","Resource":"arn:aws:iam::{ACCOUNT}:role/web-*"}}]}}"#
            ),
            // `?` and a pattern whose literal prefix is a whole ARN
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"iam:PassRole","Resource":["arn:aws:iam::{ACCOUNT}:role/app-0?-deploy","arn:aws:iam::{ACCOUNT}:role/admin*"]}}]}}"#
            ),
            // NotResource and NotAction
            format!(
                r#"{{"Statement":[{{"Effect":"Allow","NotAction":"s3:*","NotResource":"arn:aws:iam::{ACCOUNT}:role/app-*"}}]}}"#
            ),
            // everything passable but denied
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"},
                {"Effect":"Deny","Action":"iam:PassRole","NotResource":"arn:aws:iam::123456789012:role/app-00-deploy"}]}"#
                .to_string(),
        ];
        let owns: Vec<Vec<String>> = vec![
            vec![],
            vec![me.clone(), role_arn("app-00-deploy")],
            vec![me.clone(), role_arn("admin")],
            // more own roles than the index keeps
            (0..20)
                .map(|i| role_arn(&format!("app-{i:02}-deploy")))
                .collect(),
            (0..60)
                .map(|i| role_arn(&format!("app-{i:02}-deploy")))
                .chain((0..60).map(|i| role_arn(&format!("web-{i:02}-deploy"))))
                .collect(),
        ];
        for (i, p) in policies.iter().enumerate() {
            let d = doc(p);
            let docs = [&d];
            let index = AccountIndex::build(&s);
            for own in &owns {
                let own: Vec<&str> = own.iter().map(String::as_str).collect();
                assert_eq!(
                    index.passes_other_role(&s, &docs, &me, &own),
                    brute_force(&s, &docs, &me, &own),
                    "policy {i}, {} own roles",
                    own.len()
                );
            }
        }
    }

    #[test]
    fn passable_roles_are_kept_up_to_the_limit() {
        let s = snapshot(&["a-1", "a-2", "a-3", "b-1"]);
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/a-*"}]}"#,
        );
        let me = role_arn("me");
        let all = passable_roles(&s, &[&d], &me, 10);
        assert_eq!(
            all.roles,
            [role_arn("a-1"), role_arn("a-2"), role_arn("a-3")]
        );
        assert!(!all.truncated);
        let two = passable_roles(&s, &[&d], &me, 2);
        assert_eq!(two.roles.len(), 2);
        assert!(two.truncated);
    }

    #[test]
    fn pipelines_and_unknown_trigger_rules_are_found_without_a_scan() {
        let mut s = snapshot(&[]);
        for name in ["b", "a", "c"] {
            s.pipelines.push(PipelineWiring {
                name: name.to_string(),
                arn: format!("arn:aws:codepipeline:us-east-1:{ACCOUNT}:{name}"),
                region: "us-east-1".to_string(),
                ..PipelineWiring::default()
            });
        }
        let error = ReadError {
            kind: crate::model::ReadErrorKind::AccessDenied,
            action: "events:ListTargetsByRule".to_string(),
            code: None,
            message: "denied".to_string(),
        };
        for (region, name) in [
            ("us-east-1", "r1"),
            ("eu-west-1", "r2"),
            ("us-east-1", "r0"),
        ] {
            s.resources.event_rules.insert(
                format!("arn:aws:events:{region}:{ACCOUNT}:rule/{name}"),
                Observed::Unknown {
                    error: error.clone(),
                },
            );
        }
        s.resources.event_rules.insert(
            format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/ok"),
            Observed::Absent,
        );
        let index = AccountIndex::build(&s);
        let a = format!("arn:aws:codepipeline:us-east-1:{ACCOUNT}:a");
        assert_eq!(index.wiring(&s, &a).map(|w| w.name.as_str()), Some("a"));
        assert!(
            index
                .wiring(&s, "arn:aws:codepipeline:us-east-1:1:zzz")
                .is_none()
        );
        for w in &s.pipelines {
            assert_eq!(index.trigger_gaps(&s, w), s.trigger_gaps(w));
        }
        let mut w = s.pipelines[0].clone();
        w.region = "eu-west-1".to_string();
        w.trigger_rules = vec![format!("arn:aws:events:us-east-1:{ACCOUNT}:rule/r1")];
        assert_eq!(index.trigger_gaps(&s, &w), s.trigger_gaps(&w));
        assert_eq!(index.trigger_gaps(&s, &w).len(), 2);
    }
}
