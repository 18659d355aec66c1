//! The ECS task roles a deploy can put in place: the service's own task
//! role, and with `CodeDeployToECS` (whose task definition comes from the
//! commit's `taskdef.json`) every role the pipeline's roles may pass to
//! `ecs-tasks.amazonaws.com`.

use crate::aws::iam;
use crate::model::PolicyDocument;
use crate::model::policy::{Effect, base_operator};

/// The service principal ECS tasks assume their task role as.
pub const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// Whether the identity policies `docs` of `passer` let it pass `role` to
/// `service`: an Allow of `iam:PassRole` on the role whose
/// `iam:PassedToService` condition, when it has one, admits the service
/// (other conditions count as allowing), and no unconditional Deny.
pub fn passes_to_service(
    docs: &[&PolicyDocument],
    passer: &str,
    role: &str,
    service: &str,
) -> bool {
    const PASS: &str = "iam:PassRole";
    let denied = docs
        .iter()
        .any(|d| iam::evaluate(d, iam::Who::Role(passer), PASS, role).denied);
    if denied {
        return false;
    }
    docs.iter().flat_map(|d| d.statements.iter()).any(|s| {
        s.effect == Effect::Allow
            && iam::action_matches(s, PASS)
            && iam::resource_matches(s, role)
            && s.conditions
                .iter()
                .filter(|c| c.key.eq_ignore_ascii_case("iam:PassedToService"))
                .all(|c| {
                    let op = base_operator(&c.operator);
                    let like = op.starts_with("StringLike");
                    let negated = op.starts_with("StringNot");
                    let matched = c.values.iter().any(|v| {
                        if like || negated {
                            iam::wildcard(v, service, true)
                        } else {
                            v.eq_ignore_ascii_case(service)
                        }
                    });
                    if negated { !matched } else { matched }
                })
    })
}

/// The role patterns a commit's `taskdef.json` can choose from that the
/// snapshot does not fully hold: for a pipeline with a `CodeDeployToECS`
/// deploy, each wildcard `iam:PassRole` resource (or `NotResource`) of the
/// pipeline's roles that may pass to `ecs-tasks.amazonaws.com`. Only the
/// collected roles matching it are checked (CD013); the account's other
/// roles matching it are not. One message per (passer, pattern).
pub fn unheld_choices(s: &crate::model::Snapshot, w: &crate::model::PipelineWiring) -> Vec<String> {
    use crate::model::Observed;
    let (targets, _) = crate::model::ecs_targets(w, &s.resources);
    let Some(action) = targets
        .iter()
        .find(|t| t.deploy.provider == "CodeDeployToECS")
        .map(|t| t.deploy.action.clone())
    else {
        return Vec::new();
    };
    let mut passers: Vec<&str> = w.role_arn.iter().map(String::as_str).collect();
    passers.extend(w.action_roles.iter().map(String::as_str));
    passers.sort_unstable();
    passers.dedup();
    let mut out = Vec::new();
    for passer in passers {
        let Some(Observed::Ok { value: role }) = s.resources.roles.get(passer) else {
            continue;
        };
        let mut docs: Vec<&PolicyDocument> = Vec::new();
        if let Observed::Ok { value } = &role.inline_policies {
            docs.extend(value.values().filter_map(|p| p.value()?.document.as_ref()));
        }
        if let Observed::Ok { value } = &role.attached_policies {
            for arn in value {
                if let Some(Observed::Ok { value: m }) = s.resources.managed_policies.get(arn) {
                    docs.extend(m.document.value().and_then(|d| d.document.as_ref()));
                }
            }
        }
        let mut patterns: Vec<String> = Vec::new();
        for st in docs.iter().flat_map(|d| d.statements.iter()) {
            if st.effect != Effect::Allow || !iam::action_matches(st, "iam:PassRole") {
                continue;
            }
            let wild: Vec<String> = match (&st.resource, &st.not_resource) {
                (Some(r), _) => r
                    .iter()
                    .filter(|p| p.contains('*') || p.contains('?'))
                    .cloned()
                    .collect(),
                (None, Some(nr)) => vec![format!("any role but {}", nr.join(", "))],
                (None, None) => Vec::new(),
            };
            for p in wild {
                // the pattern itself stands for a role it matches
                let probe = if st.resource.is_some() {
                    p.as_str()
                } else {
                    "*"
                };
                if passes_to_service(&docs, passer, probe, ECS_TASKS) && !patterns.contains(&p) {
                    patterns.push(p);
                }
            }
        }
        for p in patterns {
            out.push(format!(
                "deploy action {action} (CodeDeployToECS) takes its task definition from the commit's taskdef.json: its task role can be any role matching {p} that {passer} may pass to {ECS_TASKS}; only the roles in the snapshot were checked (CD013), the account's other roles matching it were not"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicyText;

    const PASSER: &str = "arn:aws:iam::123456789012:role/pipeline";
    const ROLE: &str = "arn:aws:iam::123456789012:role/task";

    fn passes(json: &str) -> bool {
        let doc = match PolicyText::parse(json).document {
            Some(d) => d,
            None => panic!("test policy does not parse: {json}"),
        };
        passes_to_service(&[&doc], PASSER, ROLE, ECS_TASKS)
    }

    #[test]
    fn the_passed_to_service_condition_decides() {
        let to = |op: &str, svc: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{{"{op}":{{"iam:PassedToService":"{svc}"}}}}}}]}}"#
            )
        };
        assert!(passes(&to("StringEquals", "ecs-tasks.amazonaws.com")));
        assert!(passes(&to("StringLike", "ecs-*")));
        assert!(!passes(&to("StringEquals", "lambda.amazonaws.com")));
        assert!(!passes(&to("StringNotEquals", "ecs-tasks.amazonaws.com")));
        // no condition: any service
        assert!(passes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/task"}]}"#
        ));
        // another role only
        assert!(!passes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/other"}]}"#
        ));
        // an unconditional Deny wins
        assert!(!passes(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"},{"Effect":"Deny","Action":"iam:PassRole","Resource":"*"}]}"#
        ));
    }
}
