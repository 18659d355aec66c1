//! IAM policy evaluation for one request whose context is partly fixed.
//!
//! A request names an action, a resource and the condition keys whose value
//! the request itself decides ([`Context`]): the branch a push updates
//! (`codecommit:References`), whether a build overrides its buildspec
//! (`codebuild:source.buildspec`), the service a role is passed to
//! (`iam:PassedToService`), the web identity's `sub`, `aud` and
//! `job_workflow_ref`. Those conditions are evaluated, present or absent,
//! with the operators IAM documents (`IfExists`, `Null`, `ForAnyValue`,
//! `ForAllValues`). Any other condition (MFA, source IP, tags, time) cannot
//! be decided from the account's configuration: a statement carrying one
//! applies *conditionally*, and the condition is kept, quoted, so that a
//! path it guards is reported as conditional, never dropped and never shown
//! as unconditional.
//!
//! The decision follows IAM: an explicit Deny anywhere (identity policies,
//! permissions boundary, resource policy) wins; an identity-policy Allow
//! or, in the same account, a resource-policy Allow naming the principal
//! grants; a permissions boundary must allow too (intersection). Service
//! control policies and session policies are not modelled.

use super::iam::{account_of, action_matches, resource_matches, wildcard};
use crate::model::policy::{Condition, Effect, PolicyDocument, Principals, Statement};

/// Condition keys whose value the request fixes (lowercase). Web identity
/// keys (`<provider>:sub`, `:aud`, `:job_workflow_ref`) are fixed too.
pub const FIXED_KEYS: &[&str] = &[
    "codecommit:references",
    "codebuild:source.buildspec",
    "iam:passedtoservice",
    "aws:sourceaccount",
    "aws:securetransport",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// Whether a condition key's value is fixed by the request.
pub fn is_fixed(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    FIXED_KEYS.contains(&k.as_str())
        || k.ends_with(":sub")
        || k.ends_with(":aud")
        || k.ends_with(":job_workflow_ref")
}

/// The fixed condition keys of a request and their values; a fixed key not
/// listed is absent from the request.
#[derive(Debug, Clone, Default)]
pub struct Context {
    values: Vec<(String, Vec<String>)>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    /// The context with `key` set to `values`.
    pub fn with(mut self, key: &str, values: &[&str]) -> Self {
        self.values.push((
            key.to_ascii_lowercase(),
            values.iter().map(|v| v.to_string()).collect(),
        ));
        self
    }

    fn get(&self, key: &str) -> Option<&[String]> {
        self.values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_slice())
    }
}

/// One request.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a Context,
}

/// A statement that took part in a decision: the policy (a managed
/// policy's ARN, `inline:<name>`, `group:<group>/inline:<name>`, `trust`,
/// `bucket-policy`, `key-policy`), its 1-based index and its Sid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Grant {
    pub policy: String,
    pub statement: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} statement {}", self.policy, self.statement)?;
        if let Some(sid) = &self.sid {
            write!(f, " ({sid})")?;
        }
        Ok(())
    }
}

/// A policy with the label its statements are cited by.
#[derive(Debug, Clone, Copy)]
pub struct Labelled<'a> {
    pub label: &'a str,
    pub doc: &'a PolicyDocument,
}

/// The outcome for a request: allowed (by `grant`, possibly only under the
/// quoted `conditions`) or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// An explicit Deny applies, or nothing allows.
    No,
    Allowed {
        grant: Grant,
        /// Conditions that could not be decided, quoted; empty: certain.
        conditions: Vec<String>,
    },
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Decision::Allowed { .. })
    }
}

/// Three-valued truth of a condition or statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Truth {
    Yes,
    No,
    /// Depends on the quoted conditions.
    Maybe(Vec<String>),
}

/// A condition as it reads in the policy: `Operator key value[, value]`.
pub fn quote(c: &Condition) -> String {
    format!("{} {} {}", c.operator, c.key, c.values.join(", "))
}

/// Evaluates one condition against the context.
pub fn condition(c: &Condition, ctx: &Context) -> Truth {
    if !is_fixed(&c.key) {
        return Truth::Maybe(vec![quote(c)]);
    }
    let op = c.operator.as_str();
    let (set, op) = if let Some(rest) = op.strip_prefix("ForAnyValue:") {
        (Some(true), rest)
    } else if let Some(rest) = op.strip_prefix("ForAllValues:") {
        (Some(false), rest)
    } else {
        (None, op)
    };
    let (if_exists, base) = match op.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, op),
    };
    let present = ctx.get(&c.key);
    if base == "Null" {
        let wants_absent = c.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        let absent = present.is_none_or(<[String]>::is_empty);
        return if wants_absent == absent {
            Truth::Yes
        } else {
            Truth::No
        };
    }
    let Some(values) = present.filter(|v| !v.is_empty()) else {
        // absent key: IfExists and ForAllValues hold, the rest do not
        return if if_exists || set == Some(false) {
            Truth::Yes
        } else {
            Truth::No
        };
    };
    let (negated, positive): (bool, &str) = match base {
        "StringEquals"
        | "StringLike"
        | "StringEqualsIgnoreCase"
        | "ArnEquals"
        | "ArnLike"
        | "Bool" => (false, base),
        "StringNotEquals" => (true, "StringEquals"),
        "StringNotLike" => (true, "StringLike"),
        "StringNotEqualsIgnoreCase" => (true, "StringEqualsIgnoreCase"),
        "ArnNotEquals" => (true, "ArnEquals"),
        "ArnNotLike" => (true, "ArnLike"),
        _ => return Truth::Maybe(vec![quote(c)]),
    };
    let one = |v: &String| -> bool {
        let hit = c.values.iter().any(|p| match positive {
            "StringEquals" => p == v,
            "StringEqualsIgnoreCase" | "Bool" => p.eq_ignore_ascii_case(v),
            _ => wildcard(p, v, false),
        });
        hit != negated
    };
    let ok = match set {
        Some(false) => values.iter().all(one),
        _ => values.iter().any(one),
    };
    if ok { Truth::Yes } else { Truth::No }
}

/// Evaluates every condition of a statement (AND).
pub fn conditions(s: &Statement, ctx: &Context) -> Truth {
    let mut maybe = Vec::new();
    for c in &s.conditions {
        match condition(c, ctx) {
            Truth::No => return Truth::No,
            Truth::Yes => {}
            Truth::Maybe(q) => maybe.extend(q),
        }
    }
    if maybe.is_empty() {
        Truth::Yes
    } else {
        Truth::Maybe(maybe)
    }
}

/// How a resource or trust policy statement names a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Named {
    No,
    /// Through its account (`123456789012` or `:root`): the account's IAM
    /// policies must allow too.
    Account,
    /// By its ARN, or everyone (`*`).
    Direct,
}

fn names_in(p: &Principals, arn: &str) -> Named {
    if p.is_anyone() {
        return Named::Direct;
    }
    let account = account_of(arn);
    let mut best = Named::No;
    for v in p.values("AWS") {
        if v == arn || (v.contains(['*', '?']) && wildcard(v, arn, false)) {
            return Named::Direct;
        }
        if !account.is_empty() && (v == account || v.ends_with(&format!(":{account}:root"))) {
            best = Named::Account;
        }
    }
    best
}

/// How a statement's Principal / NotPrincipal names the principal `arn`.
pub fn names(s: &Statement, arn: &str) -> Named {
    match (&s.principal, &s.not_principal) {
        (Some(p), _) => names_in(p, arn),
        (None, Some(np)) => {
            if names_in(np, arn) == Named::No {
                Named::Direct
            } else {
                Named::No
            }
        }
        (None, None) => Named::Direct,
    }
}

/// Statements of `doc` that apply to the request (and, for a resource
/// policy, name `who`), with their truth and how `who` is named.
fn matching<'a>(
    doc: &'a PolicyDocument,
    req: &Request<'a>,
    who: Option<&'a str>,
) -> impl Iterator<Item = (usize, &'a Statement, Truth, Named)> + 'a {
    let (action, resource, ctx) = (req.action, req.resource, req.context);
    doc.statements
        .iter()
        .enumerate()
        .filter(move |(_, s)| action_matches(s, action) && resource_matches(s, resource))
        .filter_map(move |(i, s)| {
            let named = match who {
                Some(w) => names(s, w),
                None => Named::Direct,
            };
            if named == Named::No {
                return None;
            }
            let t = conditions(s, ctx);
            (t != Truth::No).then_some((i, s, t, named))
        })
}

fn grant(label: &str, i: usize, s: &Statement) -> Grant {
    Grant {
        policy: label.to_string(),
        statement: i + 1,
        sid: s.sid.clone(),
    }
}

/// What one request meets from a principal's policies.
#[derive(Debug, Clone, Default)]
pub struct Policies<'a> {
    /// Identity policies (the principal's own and its groups').
    pub identity: Vec<Labelled<'a>>,
    /// The permissions boundary, when the principal has one.
    pub boundary: Option<Labelled<'a>>,
}

/// A resource policy and how it takes part.
#[derive(Debug, Clone, Copy)]
pub struct ResourcePolicy<'a> {
    pub policy: Labelled<'a>,
    /// Whether an Allow naming the principal directly is enough on its
    /// own (same account: S3, KMS key policies, trust policies).
    pub grants_alone: bool,
}

/// Decides a request of the principal `who` with its policies and an
/// optional resource policy.
pub fn decide(
    who: &str,
    policies: &Policies<'_>,
    resource: Option<ResourcePolicy<'_>>,
    req: &Request<'_>,
) -> Decision {
    let mut unless: Vec<String> = Vec::new();
    // explicit Deny anywhere
    let all = policies
        .identity
        .iter()
        .map(|l| (*l, None))
        .chain(policies.boundary.map(|l| (l, None)))
        .chain(resource.map(|r| (r.policy, Some(who))));
    for (l, w) in all {
        for (i, s, t, named) in matching(l.doc, req, w) {
            if s.effect != Effect::Deny || named == Named::No {
                continue;
            }
            match t {
                Truth::Yes => return Decision::No,
                Truth::Maybe(q) => unless.push(format!(
                    "not denied by {} ({})",
                    grant(l.label, i, s),
                    q.join(" and ")
                )),
                Truth::No => {}
            }
        }
    }
    // the boundary must allow
    let mut boundary_conditions = Vec::new();
    if let Some(b) = policies.boundary {
        let best = best_allow(b, req, None, false);
        match best {
            None => return Decision::No,
            Some((_, c)) => boundary_conditions = c,
        }
    }
    // an identity Allow, or a resource-policy Allow that grants alone
    let mut best: Option<(Grant, Vec<String>)> = None;
    for l in &policies.identity {
        if let Some(found) = best_allow(*l, req, None, false) {
            best = better(best, found);
        }
    }
    if let Some(r) = resource
        && r.grants_alone
        && let Some(found) = best_allow(r.policy, req, Some(who), true)
    {
        best = better(best, found);
    }
    match best {
        None => Decision::No,
        Some((grant, mut conditions)) => {
            conditions.extend(boundary_conditions);
            conditions.extend(unless);
            conditions.sort();
            conditions.dedup();
            Decision::Allowed { grant, conditions }
        }
    }
}

/// Whether a resource policy denies the request for `who` outright.
pub fn resource_denies(policy: Labelled<'_>, who: &str, req: &Request<'_>) -> bool {
    matching(policy.doc, req, Some(who))
        .any(|(_, s, t, _)| s.effect == Effect::Deny && t == Truth::Yes)
}

/// How a resource policy's Allow admits `who`: directly (with the grant
/// and its open conditions), through the account, or not at all.
pub fn resource_allows(
    policy: Labelled<'_>,
    who: &str,
    req: &Request<'_>,
) -> (Named, Option<(Grant, Vec<String>)>) {
    let mut out: (Named, Option<(Grant, Vec<String>)>) = (Named::No, None);
    for (i, s, t, named) in matching(policy.doc, req, Some(who)) {
        if s.effect != Effect::Allow {
            continue;
        }
        let conds = match t {
            Truth::Maybe(q) => q,
            _ => Vec::new(),
        };
        let cand = (grant(policy.label, i, s), conds);
        if named > out.0
            || (named == out.0 && out.1.as_ref().is_some_and(|b| b.1.len() > cand.1.len()))
        {
            out = (named, Some(cand));
        }
    }
    out
}

fn best_allow(
    l: Labelled<'_>,
    req: &Request<'_>,
    who: Option<&str>,
    direct_only: bool,
) -> Option<(Grant, Vec<String>)> {
    let mut best: Option<(Grant, Vec<String>)> = None;
    for (i, s, t, named) in matching(l.doc, req, who) {
        if s.effect != Effect::Allow || (direct_only && named != Named::Direct) {
            continue;
        }
        let conds = match t {
            Truth::Maybe(q) => q,
            _ => Vec::new(),
        };
        best = better(best, (grant(l.label, i, s), conds));
    }
    best
}

/// The Allow with fewer open conditions wins (an unconditional one first).
fn better(
    a: Option<(Grant, Vec<String>)>,
    b: (Grant, Vec<String>),
) -> Option<(Grant, Vec<String>)> {
    match a {
        Some(a) if a.1.len() <= b.1.len() => Some(a),
        _ => Some(b),
    }
}

#[cfg(test)]
mod tests;
