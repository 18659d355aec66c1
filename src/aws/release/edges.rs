//! The account's subjects and the chain edges between them: who can
//! assume each role, pass it to a service that runs code, or become a user.

use super::*;

pub(super) fn subject<'a>(p: &'a IamPrincipal, set: &'a PrincipalSet) -> Subject<'a> {
    let mut identity = Vec::new();
    for i in &p.inline {
        if let Some(d) = &i.document.document {
            let label = match &i.group {
                Some(g) => format!("group {g} inline policy {}", i.name),
                None => format!("inline policy {}", i.name),
            };
            identity.push((label, d));
        }
    }
    for a in &p.attached {
        if let Some(d) = set.policies.get(&a.arn).and_then(|t| t.document.as_ref()) {
            let label = match &a.group {
                Some(g) => format!("{} (through group {g})", a.arn),
                None => a.arn.clone(),
            };
            identity.push((label, d));
        }
    }
    let boundary = p.boundary.as_ref().and_then(|arn| {
        set.policies
            .get(arn)
            .and_then(|t| t.document.as_ref())
            .map(|d| (format!("boundary {arn}"), d))
    });
    let trust = p.trust.as_ref().and_then(|t| t.document.as_ref());
    let operable = match p.kind {
        PrincipalKind::User => true,
        PrincipalKind::Role => trust.is_some_and(|t| {
            t.statements.iter().any(|s| {
                s.effect == Effect::Allow
                    && s.principal.as_ref().is_some_and(|pr| {
                        pr.is_anyone()
                            || !pr.values("AWS").is_empty()
                            || !pr.values("Federated").is_empty()
                    })
            })
        }),
    };
    let full = if boundary.is_none() {
        identity.iter().find_map(|(label, d)| {
            d.statements.iter().enumerate().find_map(|(i, s)| {
                let all_actions = s
                    .action
                    .as_ref()
                    .is_some_and(|a| a.iter().any(|x| x == "*"));
                let all_resources = s
                    .resource
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|x| x == "*"));
                (s.effect == Effect::Allow
                    && all_actions
                    && all_resources
                    && s.conditions.is_empty())
                .then(|| Grant {
                    policy: label.clone(),
                    statement: i + 1,
                    sid: s.sid.clone(),
                })
            })
        })
    } else {
        None
    };
    Subject {
        arn: p.arn.clone(),
        kind: match p.kind {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        },
        identity,
        boundary,
        trust,
        operable,
        full,
    }
}

pub(super) fn role_trust<'a>(
    s: &'a Snapshot,
    acc_subjects: &'a [Subject<'a>],
    by_arn: &HashMap<&str, usize>,
    arn: &str,
) -> Option<&'a PolicyDocument> {
    if let Some(i) = by_arn.get(arn) {
        return acc_subjects[*i].trust;
    }
    s.resources
        .roles
        .get(arn)
        .and_then(Observed::value)
        .and_then(|r| r.trust_policy.value())
        .and_then(|t| t.document.as_ref())
}

/// The chain edges of the account: who can assume each role, pass it to a
/// service that runs code, or become each user.
pub(super) fn edges(acc: &Account<'_>) -> HashMap<String, Vec<Edge>> {
    let mut into: HashMap<String, Vec<Edge>> = HashMap::new();
    let mut roles: BTreeSet<String> = acc
        .subjects
        .iter()
        .filter(|x| x.kind == "role")
        .map(|x| x.arn.clone())
        .collect();
    roles.extend(acc.snapshot.resources.roles.keys().cloned());
    let empty = Context::new();
    for role in &roles {
        let Some(trust) = role_trust(acc.snapshot, &acc.subjects, &acc.by_arn, role) else {
            continue;
        };
        let trust_l = Labelled {
            label: "trust policy",
            doc: trust,
        };
        let assume = Request {
            action: "sts:AssumeRole",
            resource: role,
            context: &empty,
        };
        // principals the trust names: subjects by ARN, others as external
        let mut named: BTreeSet<usize> = BTreeSet::new();
        for st in trust
            .statements
            .iter()
            .filter(|x| x.effect == Effect::Allow)
        {
            if !st
                .action
                .as_ref()
                .is_some_and(|a| a.iter().any(|x| wildcard(x, "sts:AssumeRole", true)))
            {
                continue;
            }
            let Some(p) = &st.principal else { continue };
            let mut values: Vec<String> = p.values("AWS").to_vec();
            if p.is_anyone() {
                values.push("*".to_string());
            }
            for v in values {
                if let Some(i) = acc.by_arn.get(v.as_str()) {
                    named.insert(*i);
                } else if v == "*"
                    || !v.contains(&format!(":{}:", acc.snapshot.account))
                        && v != acc.snapshot.account
                {
                    // another account, or anyone
                    let ext = if v.chars().all(|c| c.is_ascii_digit()) {
                        format!("arn:aws:iam::{v}:root")
                    } else {
                        v.clone()
                    };
                    let (how, found) = resource_allows(trust_l, &ext, &assume);
                    if how == Named::No || resource_denies(trust_l, &ext, &assume) {
                        continue;
                    }
                    if let Some((g, conds)) = found {
                        into.entry(role.clone()).or_default().push(Edge {
                            from: Node::External(ext),
                            step: Step {
                                principal: v.clone(),
                                action: "sts:AssumeRole".to_string(),
                                resource: role.clone(),
                                detail: "assume role".to_string(),
                                granted_by: vec![g],
                                conditions: conds,
                            },
                        });
                    }
                }
            }
        }
        // the account's own principals: named directly, or through the
        // account with an identity-policy Allow
        let mut cands: BTreeSet<usize> = named;
        cands.extend(acc.index.candidates("sts:AssumeRole", role));
        for i in cands {
            let sub = &acc.subjects[i];
            if sub.arn == *role {
                continue;
            }
            let (how, _) = resource_allows(trust_l, &sub.arn, &assume);
            if how == Named::No {
                continue;
            }
            let d = decide(
                &sub.arn,
                &sub.policies(),
                Some(ResourcePolicy {
                    policy: trust_l,
                    grants_alone: true,
                }),
                &assume,
            );
            if let Decision::Allowed { grant, conditions } = d {
                into.entry(role.clone()).or_default().push(Edge {
                    from: Node::Subject(i),
                    step: Step {
                        principal: sub.arn.clone(),
                        action: "sts:AssumeRole".to_string(),
                        resource: role.clone(),
                        detail: "assume role".to_string(),
                        granted_by: vec![grant],
                        conditions,
                    },
                });
            }
        }
        // pass the role to a service that runs code
        for (service, run, run_resource) in [
            ("codebuild.amazonaws.com", "codebuild:CreateProject", "*"),
            ("lambda.amazonaws.com", "lambda:CreateFunction", "*"),
            ("ec2.amazonaws.com", "ec2:RunInstances", "*"),
        ] {
            let trusts_service = trust.statements.iter().any(|st| {
                st.effect == Effect::Allow
                    && st
                        .principal
                        .as_ref()
                        .is_some_and(|p| p.values("Service").iter().any(|v| v == service))
            });
            if !trusts_service {
                continue;
            }
            let ctx = Context::new().with("iam:PassedToService", &[service]);
            let pass = Request {
                action: "iam:PassRole",
                resource: role,
                context: &ctx,
            };
            for i in acc.index.candidates("iam:PassRole", role) {
                let sub = &acc.subjects[i];
                let Decision::Allowed { grant, conditions } =
                    decide(&sub.arn, &sub.policies(), None, &pass)
                else {
                    continue;
                };
                let run_req = Request {
                    action: run,
                    resource: run_resource,
                    context: &empty,
                };
                let Decision::Allowed {
                    grant: g2,
                    conditions: c2,
                } = decide(&sub.arn, &sub.policies(), None, &run_req)
                else {
                    continue;
                };
                let mut conds = conditions;
                conds.extend(c2);
                into.entry(role.clone()).or_default().push(Edge {
                    from: Node::Subject(i),
                    step: Step {
                        principal: sub.arn.clone(),
                        action: format!("iam:PassRole + {run}"),
                        resource: role.clone(),
                        detail: format!("run code as the role through {service}"),
                        granted_by: vec![grant, g2],
                        conditions: conds,
                    },
                });
            }
        }
    }
    // become a user
    for (u, user) in acc.subjects.iter().enumerate() {
        if user.kind != "user" {
            continue;
        }
        for action in [
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
        ] {
            let req = Request {
                action,
                resource: &user.arn,
                context: &empty,
            };
            for i in acc.index.candidates(action, &user.arn) {
                if i == u {
                    continue;
                }
                let sub = &acc.subjects[i];
                if let Decision::Allowed { grant, conditions } =
                    decide(&sub.arn, &sub.policies(), None, &req)
                {
                    into.entry(user.arn.clone()).or_default().push(Edge {
                        from: Node::Subject(i),
                        step: Step {
                            principal: sub.arn.clone(),
                            action: action.to_string(),
                            resource: user.arn.clone(),
                            detail: "become the user".to_string(),
                            granted_by: vec![grant],
                            conditions,
                        },
                    });
                }
            }
        }
    }
    for v in into.values_mut() {
        v.sort_by(|a, b| a.from.cmp(&b.from));
        v.dedup_by(|a, b| a.from == b.from);
    }
    into
}
