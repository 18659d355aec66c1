//! IAM policy evaluation for the questions the rules ask: does a policy let a
//! principal do an action on a resource (Deny wins; wildcards; NotAction,
//! NotResource, NotPrincipal), is it public, does a bucket policy deny
//! non-TLS requests or unencrypted uploads (by meaning, not statement text),
//! who may assume a role.
//!
//! Conditions are treated conservatively: an Allow with conditions counts as
//! "may allow" (flagged `conditional`), a Deny with conditions does not count
//! as a certain deny. That way a rule that fires on "cannot" never fires
//! because of a condition pipeaudit cannot evaluate.

use crate::model::policy::{Effect, PolicyDocument, Principals, Statement, base_operator};

/// Who makes a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who<'a> {
    /// An IAM role (its ARN).
    Role(&'a str),
    /// An AWS service principal, e.g. `events.amazonaws.com`.
    Service(&'a str),
}

/// How a statement's principal admits the requester.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    No,
    /// Through the account root: a resource policy delegating to IAM policies.
    Account,
    Direct,
}

/// The outcome of evaluating one policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// An unconditional Deny matched.
    pub denied: bool,
    /// An Allow matched (directly, for resource policies).
    pub allowed: bool,
    /// An Allow matched only through the account root (resource policies).
    pub delegated: bool,
    /// Every matching Allow had conditions.
    pub conditional: bool,
}

/// `*` and `?` wildcard match.
pub fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    // A pattern that starts with a literal byte matches only values that
    // start with it: most pairs tried (actions of other services) differ
    // there, and are told apart without scanning the pattern.
    if let (Some(&p), Some(&v)) = (pattern.as_bytes().first(), value.as_bytes().first())
        && p != b'*'
        && p != b'?'
        && p.is_ascii()
        && v.is_ascii()
        && !(if ignore_case {
            p.eq_ignore_ascii_case(&v)
        } else {
            p == v
        })
    {
        return false;
    }
    if !pattern.contains(['*', '?']) {
        return if ignore_case {
            pattern.eq_ignore_ascii_case(value)
        } else {
            pattern == value
        };
    }
    if pattern == "*" {
        return true;
    }
    // ASCII (nearly every ARN and action): match the bytes in place.
    if pattern.is_ascii() && value.is_ascii() {
        let eq = |a: u8, b: u8| {
            if ignore_case {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        };
        return glob_match(pattern.as_bytes(), value.as_bytes(), b'*', b'?', eq);
    }
    let (p, v): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            value.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), value.chars().collect())
    };
    glob_match(&p, &v, '*', '?', |a, b| a == b)
}

/// Iterative `*` / `?` matching with one backtrack point (linear in
/// practice, quadratic at worst; no recursion).
fn glob_match<T: Copy + PartialEq>(
    p: &[T],
    v: &[T],
    star_c: T,
    any_c: T,
    eq: impl Fn(T, T) -> bool,
) -> bool {
    let (mut pi, mut vi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] != star_c && (p[pi] == any_c || eq(p[pi], v[vi])) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == star_c {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == star_c)
}

fn any_match(list: &[String], value: &str, ignore_case: bool) -> bool {
    list.iter().any(|p| wildcard(p, value, ignore_case))
}

/// Does the statement's Action/NotAction cover `action`?
pub fn action_matches(s: &Statement, action: &str) -> bool {
    match (&s.action, &s.not_action) {
        (Some(a), _) => any_match(a, action, true),
        (None, Some(na)) => !any_match(na, action, true),
        (None, None) => false,
    }
}

/// Does the statement's Resource/NotResource cover `resource`? A statement
/// without either (trust policies) covers everything.
pub fn resource_matches(s: &Statement, resource: &str) -> bool {
    match (&s.resource, &s.not_resource) {
        (Some(r), _) => any_match(r, resource, false),
        (None, Some(nr)) => !any_match(nr, resource, false),
        (None, None) => true,
    }
}

/// The account id of an ARN (empty when it has none).
pub fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

fn principals_match(p: &Principals, who: Who<'_>) -> PrincipalMatch {
    if p.is_anyone() {
        return PrincipalMatch::Direct;
    }
    match who {
        Who::Service(svc) => {
            if p.values("Service").iter().any(|v| v == svc) {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            }
        }
        Who::Role(arn) => {
            let account = account_of(arn);
            let mut best = PrincipalMatch::No;
            for v in p.values("AWS") {
                if v == arn || wildcard(v, arn, false) {
                    return PrincipalMatch::Direct;
                }
                let root = format!(
                    "arn:{}:iam::{account}:root",
                    arn.split(':').nth(1).unwrap_or("aws")
                );
                if !account.is_empty() && (v == account || *v == root) {
                    best = PrincipalMatch::Account;
                }
            }
            best
        }
    }
}

/// How a statement admits `who`; a statement without Principal (identity
/// policies) admits its holder directly.
pub fn principal_matches(s: &Statement, who: Who<'_>) -> PrincipalMatch {
    match (&s.principal, &s.not_principal) {
        (Some(p), _) => principals_match(p, who),
        (None, Some(np)) => {
            if principals_match(np, who) == PrincipalMatch::No {
                PrincipalMatch::Direct
            } else {
                PrincipalMatch::No
            }
        }
        (None, None) => PrincipalMatch::Direct,
    }
}

/// Evaluates a policy for one request.
pub fn evaluate(doc: &PolicyDocument, who: Who<'_>, action: &str, resource: &str) -> Access {
    let mut out = Access::default();
    let mut unconditional_allow = false;
    for s in &doc.statements {
        if !action_matches(s, action) || !resource_matches(s, resource) {
            continue;
        }
        let pm = principal_matches(s, who);
        if pm == PrincipalMatch::No {
            continue;
        }
        match s.effect {
            Effect::Deny => {
                if s.conditions.is_empty() {
                    out.denied = true;
                }
            }
            Effect::Allow => {
                if pm == PrincipalMatch::Direct {
                    out.allowed = true;
                } else {
                    out.delegated = true;
                }
                if s.conditions.is_empty() {
                    unconditional_allow = true;
                }
            }
        }
    }
    out.conditional = (out.allowed || out.delegated) && !unconditional_allow;
    out
}

/// Identity policies (inline and attached) allow `action` on `resource`,
/// with no unconditional Deny.
pub fn identity_allows(
    docs: &[&PolicyDocument],
    role_arn: &str,
    action: &str,
    resource: &str,
) -> bool {
    let who = Who::Role(role_arn);
    let mut allowed = false;
    for d in docs {
        let a = evaluate(d, who, action, resource);
        if a.denied {
            return false;
        }
        allowed |= a.allowed;
    }
    allowed
}

/// Whether an Allow statement of the policies matches `action` (through
/// `Action` or `NotAction`), whatever its resource: without one, no
/// request for the action is allowed ([`identity_allows`] is false), so a
/// caller can skip building the resource it would ask about.
pub fn any_allow_of(docs: &[&PolicyDocument], action: &str) -> bool {
    docs.iter().any(|d| {
        d.statements
            .iter()
            .any(|s| s.effect == Effect::Allow && action_matches(s, action))
    })
}

/// Statement-level: an unconditional Allow of every action on every resource.
pub fn is_admin(doc: &PolicyDocument) -> bool {
    doc.statements.iter().any(|s| {
        s.effect == Effect::Allow
            && s.conditions.is_empty()
            && s.action
                .as_ref()
                .is_some_and(|a| a.iter().any(|x| x == "*" || x == "*:*"))
            && s.resource
                .as_ref()
                .is_some_and(|r| r.iter().any(|x| x == "*"))
    })
}

/// Condition keys that restrict who can act (a value of `*` restricts nothing).
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceip",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "aws:username",
    "kms:calleraccount",
    "kms:viaservice",
];

fn restricting(s: &Statement) -> bool {
    s.conditions.iter().any(|c| {
        let op = base_operator(&c.operator);
        RESTRICTING_KEYS.contains(&c.key.to_ascii_lowercase().as_str())
            && !op.starts_with("StringNot")
            && !op.starts_with("ArnNot")
            && !op.starts_with("NotIp")
            && !c.values.iter().any(|v| v == "*")
    })
}

/// An Allow that admits anyone (`*`, `{"AWS": "*"}` or a NotPrincipal)
/// without a restricting condition.
pub fn is_public(doc: &PolicyDocument) -> bool {
    doc.statements.iter().any(|s| {
        let anyone =
            s.principal.as_ref().is_some_and(Principals::is_anyone) || s.not_principal.is_some();
        s.effect == Effect::Allow && anyone && !restricting(s)
    })
}

fn denies_anyone(s: &Statement) -> bool {
    s.effect == Effect::Deny
        && (s.principal.as_ref().is_some_and(Principals::is_anyone)
            || s.not_principal.is_none() && s.principal.is_none())
}

/// A Deny for everyone of object reads and writes when `aws:SecureTransport` is false.
pub fn denies_insecure_transport(doc: &PolicyDocument, bucket_arn: &str) -> bool {
    let object = format!("{bucket_arn}/object");
    doc.statements.iter().any(|s| {
        denies_anyone(s)
            && action_matches(s, "s3:GetObject")
            && action_matches(s, "s3:PutObject")
            && resource_matches(s, &object)
            && s.conditions_on("aws:SecureTransport").any(|c| {
                base_operator(&c.operator) == "Bool"
                    && c.values.iter().all(|v| v.eq_ignore_ascii_case("false"))
            })
    })
}

/// A Deny for everyone of PutObject unless the request asks for SSE-KMS.
pub fn denies_unencrypted_uploads(doc: &PolicyDocument, bucket_arn: &str) -> bool {
    let object = format!("{bucket_arn}/object");
    doc.statements.iter().any(|s| {
        denies_anyone(s)
            && action_matches(s, "s3:PutObject")
            && resource_matches(s, &object)
            && s.conditions_on("s3:x-amz-server-side-encryption").any(|c| {
                base_operator(&c.operator) == "StringNotEquals"
                    && !c.values.is_empty()
                    && c.values.iter().all(|v| v.starts_with("aws:kms"))
            })
    })
}

/// The trust policy lets `service` assume the role.
pub fn trusts_service(trust: &PolicyDocument, service: &str) -> bool {
    let a = evaluate(trust, Who::Service(service), "sts:AssumeRole", "*");
    a.allowed && !a.denied
}

/// Principals, other than `service`, that an Allow of the trust policy
/// admits. `service` may be a role ARN (an action role is assumed by the
/// pipeline role): an `AWS` principal naming it is then the expected one.
pub fn other_trusted(trust: &PolicyDocument, service: &str) -> Vec<String> {
    let mut out = Vec::new();
    for s in trust
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
    {
        if s.not_principal.is_some() {
            out.push("NotPrincipal (everyone else)".to_string());
        }
        match &s.principal {
            Some(Principals::Any) => out.push("*".to_string()),
            Some(Principals::Typed(map)) => {
                for (kind, values) in map {
                    for v in values {
                        if !((kind == "Service" || kind == "AWS") && v == service) {
                            out.push(format!("{kind}:{v}"));
                        }
                    }
                }
            }
            None => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Every Allow that admits a service carries an `aws:SourceAccount`,
/// `aws:SourceArn` or `aws:SourceOrgID` condition.
pub fn has_source_condition(trust: &PolicyDocument) -> bool {
    let admits_service = |s: &&Statement| {
        s.effect == Effect::Allow
            && s.principal
                .as_ref()
                .is_some_and(|p| !p.values("Service").is_empty())
    };
    let mut any = false;
    for s in trust.statements.iter().filter(admits_service) {
        any = true;
        let guarded = ["aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID"]
            .iter()
            .any(|k| s.conditions_on(k).next().is_some());
        if !guarded {
            return false;
        }
    }
    any
}

#[cfg(test)]
mod tests;
