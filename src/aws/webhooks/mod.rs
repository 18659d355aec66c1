//! How a CodeBuild webhook is read: which events of which filter groups
//! start a build, and what the filters that should limit them admit. The
//! account-level rules (CB014-CB018) read the result of [`analyse`], one
//! value per webhook project.
//!
//! A filter group starts a build when all its filters match
//! (`excludeMatchedPattern` inverts one). A webhook without filter groups
//! builds on pushes and on pull requests created, updated and reopened.
//! The legacy branch filter is read as a `HEAD_REF` filter of every group.
//! Pull requests created, updated and reopened build the pull request's
//! head, code its author wrote; `WORKFLOW_JOB_QUEUED` makes the project a
//! runner that takes jobs from any workflow in its scope. `FILE_PATH` and
//! `COMMIT_MESSAGE` are chosen by whoever opens the pull request: they are
//! never a boundary and are not read.

pub mod filter_patterns;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::model::{BuildProject, Webhook, WebhookFilter, WebhookProjectRef};
use filter_patterns::{Alphabet, Analysis, Decision, decide};

/// Events whose build runs code from the pull request's head.
pub const PULL_REQUEST_HEAD_EVENTS: [&str; 3] = [
    "PULL_REQUEST_CREATED",
    "PULL_REQUEST_UPDATED",
    "PULL_REQUEST_REOPENED",
];

/// Every event type a filter group may name.
pub const EVENTS: [&str; 9] = [
    "PUSH",
    "PULL_REQUEST_CREATED",
    "PULL_REQUEST_UPDATED",
    "PULL_REQUEST_REOPENED",
    "PULL_REQUEST_MERGED",
    "PULL_REQUEST_CLOSED",
    "RELEASED",
    "PRERELEASED",
    "WORKFLOW_JOB_QUEUED",
];

/// Repository roles anyone can hold on a public repository.
pub const BROAD_APPROVER_ROLES: [&str; 2] = ["GITHUB_READ", "GITHUB_TRIAGE"];

/// A filter pattern that admits more than it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Loose {
    /// 1-based filter group.
    pub group: usize,
    pub filter_type: String,
    pub pattern: String,
    /// `bypassable` or `anyone`.
    pub kind: String,
    /// A value the filter admits that it was not written for.
    pub witness: String,
}

/// A webhook project as the account-level rules read it. A field that
/// depends on a pattern that could not be analysed is left out (`None`):
/// the rule that reads it then reports why instead of passing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProjectView {
    pub arn: String,
    pub name: String,
    pub region: String,
    /// What it shares with audited pipelines (see [`WebhookProjectRef`]).
    pub shares: Vec<String>,
    pub pipelines: Vec<String>,
    pub service_role: Option<String>,
    /// Whether the buildspec is read from the source the build checks out.
    pub buildspec_from_source: bool,
    pub buildspec_path: String,
    /// Environment variables taken from Secrets Manager or Parameter Store.
    pub store_secrets: Vec<String>,
    /// `repository`, or the scope type of an organization or global webhook.
    pub scope: String,
    pub scope_name: String,
    /// `DISABLED` when the webhook has no pull request build policy.
    pub approval: String,
    pub approver_roles: Vec<String>,
    /// The approver roles anyone can hold on a public repository.
    pub broad_approver_roles: Vec<String>,
    /// Some group builds the head of pull requests.
    pub builds_pull_requests: bool,
    /// Some group builds pushes.
    pub builds_push: bool,
    /// Some group takes workflow jobs (`WORKFLOW_JOB_QUEUED`).
    pub runner: bool,
    /// Actor filters of groups that build pushes or pull requests that are
    /// bypassable or admit anyone (and no other actor filter of the group holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loose_actors: Option<Vec<Loose>>,
    /// Some group builds pull request heads with no actor filter that holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unfiltered_pull_requests: Option<bool>,
    /// Ref filters written for given branches or tags, and repository or
    /// organization filters, that are bypassable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loose_refs: Option<Vec<Loose>>,
    /// An organization or global webhook (or runner) with a building group
    /// that has no repository filter.
    pub unscoped: bool,
    /// Why fields were left out, one line each.
    #[serde(skip)]
    pub not_analysed: Vec<String>,
    /// Patterns that are not regular expressions, one line each.
    #[serde(skip)]
    pub invalid: Vec<String>,
}

/// The events a group builds on.
fn events(group: &[WebhookFilter]) -> BTreeSet<&'static str> {
    let Some(f) = group.iter().find(|f| f.filter_type == "EVENT") else {
        return EVENTS.iter().copied().collect();
    };
    let named: BTreeSet<&str> = f.pattern.split(',').map(str::trim).collect();
    EVENTS
        .iter()
        .copied()
        .filter(|e| named.contains(e) != f.exclude_matched_pattern)
        .collect()
}

/// The groups as they apply: the implicit one when there are none, and
/// the legacy branch filter added to each.
fn groups(w: &Webhook) -> Vec<Vec<WebhookFilter>> {
    let mut gs = if w.filter_groups.is_empty() {
        vec![vec![WebhookFilter {
            filter_type: "EVENT".to_string(),
            pattern: "PUSH, PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED, PULL_REQUEST_REOPENED"
                .to_string(),
            exclude_matched_pattern: false,
        }]]
    } else {
        w.filter_groups.clone()
    };
    if let Some(b) = &w.branch_filter {
        for g in &mut gs {
            g.push(WebhookFilter {
                filter_type: "HEAD_REF".to_string(),
                pattern: b.clone(),
                exclude_matched_pattern: false,
            });
        }
    }
    gs
}

/// Reads a webhook project; `None` when the project has no webhook.
pub fn analyse(r: &WebhookProjectRef, p: &BuildProject) -> Option<ProjectView> {
    let w = p.webhook.as_ref()?;
    let buildspec = p.source.buildspec.clone().unwrap_or_default();
    let policy = w.pull_request_build_policy.as_ref();
    let approver_roles = policy.map(|p| p.approver_roles.clone()).unwrap_or_default();
    let mut v = ProjectView {
        arn: r.arn.clone(),
        name: p.name.clone(),
        region: r.region.clone(),
        shares: r.shares.clone(),
        pipelines: r.pipelines.clone(),
        service_role: p.service_role.clone(),
        buildspec_from_source: buildspec.origin == "source",
        buildspec_path: buildspec.path.unwrap_or_default(),
        store_secrets: p
            .environment
            .variables
            .iter()
            .filter(|e| e.var_type == "SECRETS_MANAGER" || e.var_type == "PARAMETER_STORE")
            .map(|e| e.name.clone())
            .collect(),
        scope: w
            .scope
            .as_ref()
            .map(|s| s.scope_type.clone())
            .unwrap_or_else(|| "repository".to_string()),
        scope_name: w.scope.as_ref().map(|s| s.name.clone()).unwrap_or_default(),
        approval: policy
            .map(|p| p.requires_comment_approval.clone())
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "DISABLED".to_string()),
        broad_approver_roles: approver_roles
            .iter()
            .filter(|r| BROAD_APPROVER_ROLES.contains(&r.as_str()))
            .cloned()
            .collect(),
        approver_roles,
        ..ProjectView::default()
    };
    let mut loose_actors = Some(Vec::new());
    let mut unfiltered = Some(false);
    let mut loose_refs = Some(Vec::new());
    for (i, g) in groups(w).iter().enumerate() {
        let ev = events(g);
        let pr = PULL_REQUEST_HEAD_EVENTS.iter().any(|e| ev.contains(e));
        let push = ev.contains("PUSH");
        let runner = ev.contains("WORKFLOW_JOB_QUEUED");
        v.builds_pull_requests |= pr;
        v.builds_push |= push;
        v.runner |= runner;
        if ev.is_empty() {
            continue;
        }
        // Actor filters: one that holds makes the group safe (all must match).
        let mut holds = false;
        let mut unknown = false;
        let mut loose = Vec::new();
        for f in g
            .iter()
            .filter(|f| f.filter_type == "ACTOR_ACCOUNT_ID" && !f.exclude_matched_pattern)
        {
            match judge(&mut v, i, f) {
                Some(Some(l)) => loose.push(l),
                Some(None) => holds = true,
                None => unknown = true,
            }
        }
        if !holds {
            if unknown {
                if pr || push {
                    loose_actors = None;
                }
                if pr {
                    unfiltered = None;
                }
            } else {
                if (pr || push)
                    && let Some(l) = loose_actors.as_mut()
                {
                    l.extend(loose.iter().cloned());
                }
                if pr && let Some(u) = unfiltered.as_mut() {
                    *u = true;
                }
            }
        }
        // Ref, repository and organization filters.
        for f in g.iter().filter(|f| {
            !f.exclude_matched_pattern
                && matches!(
                    f.filter_type.as_str(),
                    "HEAD_REF" | "BASE_REF" | "REPOSITORY_NAME" | "ORGANIZATION_NAME"
                )
        }) {
            match judge(&mut v, i, f) {
                None => loose_refs = None,
                Some(Some(l)) if l.kind == "bypassable" => {
                    if let Some(r) = loose_refs.as_mut() {
                        r.push(l);
                    }
                }
                Some(_) => {}
            }
        }
        if v.scope != "repository" && !g.iter().any(|f| f.filter_type == "REPOSITORY_NAME") {
            v.unscoped = true;
        }
    }
    v.loose_actors = loose_actors;
    v.unfiltered_pull_requests = unfiltered;
    v.loose_refs = loose_refs;
    Some(v)
}

/// One filter: `Some(None)` when it holds, `Some(Some(loose))` when it
/// admits more than it says, `None` when it could not be decided (the
/// reason is recorded on the view).
fn judge(v: &mut ProjectView, group: usize, f: &WebhookFilter) -> Option<Option<Loose>> {
    let alphabet = Alphabet::of_filter(&f.filter_type)?;
    let loose = |kind: &str, witness: &str| Loose {
        group: group + 1,
        filter_type: f.filter_type.clone(),
        pattern: f.pattern.clone(),
        kind: kind.to_string(),
        witness: witness.to_string(),
    };
    match decide(&f.pattern, alphabet) {
        Analysis::Decided(d) => Some(verdict(&f.filter_type, &d).map(|(k, w)| loose(k, &w))),
        Analysis::NotAnalysed { reason } => {
            v.not_analysed.push(format!(
                "{} pattern {:?} of group {} not analysed ({reason})",
                f.filter_type,
                f.pattern,
                group + 1
            ));
            None
        }
        Analysis::Invalid { error } => {
            v.invalid.push(format!(
                "{} pattern {:?} of group {} is not a valid regular expression ({error})",
                f.filter_type,
                f.pattern,
                group + 1
            ));
            None
        }
    }
}

/// What a decided pattern admits beyond its intent, for its filter type.
/// An actor filter must admit a known, finite set of ids exactly. A ref
/// filter is loose when it is written for given refs (a finite set, none
/// of them a bare prefix ending in `/`) and is bypassable; a pattern that
/// matches many refs on purpose (`^refs/heads/feature/.*`) is not.
/// Repository and organization names must match exactly.
fn verdict(filter_type: &str, d: &Decision) -> Option<(&'static str, String)> {
    match filter_type {
        "ACTOR_ACCOUNT_ID" => match (&d.bypass, &d.anyone) {
            (Some(w), _) => Some(("bypassable", w.clone())),
            (None, Some(w)) => Some(("anyone", w.clone())),
            (None, None) => None,
        },
        "HEAD_REF" | "BASE_REF" => match (&d.bypass, &d.anyone, &d.shortest) {
            (Some(w), None, Some(s)) if !s.ends_with('/') => Some(("bypassable", w.clone())),
            _ => None,
        },
        _ => d.bypass.clone().map(|w| ("bypassable", w)),
    }
}

/// How `rules explain` shows a filter group being read: the events, then
/// each filter with its verdict.
pub fn explain_group(group: &[WebhookFilter]) -> Vec<String> {
    let ev = events(group);
    let mut out = vec![format!(
        "builds on: {}",
        EVENTS
            .iter()
            .filter(|e| ev.contains(*e))
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    )];
    for f in group.iter().filter(|f| f.filter_type != "EVENT") {
        let sense = if f.exclude_matched_pattern {
            "must not match"
        } else {
            "must match"
        };
        let what = match Alphabet::of_filter(&f.filter_type).map(|a| decide(&f.pattern, a)) {
            None => {
                "not a boundary (chosen by the pull request's author) or not analysed".to_string()
            }
            Some(Analysis::Decided(d)) => match (&d.bypass, &d.anyone, d.empty) {
                (_, _, true) => "matches nothing".to_string(),
                (Some(w), _, _) => format!("bypassable: {w:?} is accepted"),
                (None, Some(w), _) => {
                    format!("admits anyone: infinitely many values, such as {w:?}")
                }
                (None, None, false) => "exact".to_string(),
            },
            Some(Analysis::NotAnalysed { reason }) => format!("not analysed ({reason})"),
            Some(Analysis::Invalid { error }) => format!("invalid ({error})"),
        };
        out.push(format!("{} {:?} {sense}: {what}", f.filter_type, f.pattern));
    }
    out
}
