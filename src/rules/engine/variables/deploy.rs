//! The variables of a pipeline's deploy actions: the stacks it deploys,
//! the deployment groups' targets (instances, ECS services, Lambda
//! functions) and the images they run.

use super::*;

/// `stacks`: the pipeline's CloudFormation deploy actions, one map each
/// (see the variables in docs/reference/rule-language.md): the declared settings, where the
/// template comes from, the role CloudFormation acts with (`deploy_role`,
/// left out with the gap when it depends on a stack that could not be
/// read), and the stack as read (`stack`: null when it does not exist or
/// is in an account outside the audit, left out with the gap when it could
/// not be read).
pub(super) fn stack_deploys(
    s: &Snapshot,
    w: &PipelineWiring,
    cache: &Cache,
    gaps: &mut Vec<(String, ReadError)>,
) -> Value {
    let own_account = w.arn.split(':').nth(4).unwrap_or("");
    // The production stacks: those of the last stage that deploys one.
    let last_stage = w
        .stack_deploys
        .iter()
        .rev()
        .find(|d| d.action_mode != "DELETE_ONLY")
        .map(|d| d.stage.as_str());
    let file = |f: &Option<crate::model::ArtifactFile>| match f {
        Some(f) => {
            let mut m = HashMap::with_capacity(4);
            m.insert(key("artifact"), string(&f.artifact));
            m.insert(key("path"), string(&f.path));
            m.insert(key("origin"), string(&f.origin));
            m.insert(key("produced_by"), opt_string(f.produced_by.as_deref()));
            map(m)
        }
        None => Value::Null,
    };
    let items = w
        .stack_deploys
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let mut m = HashMap::with_capacity(16);
            m.insert(key("stage"), string(&d.stage));
            m.insert(key("action"), string(&d.action));
            m.insert(key("region"), string(&d.region));
            m.insert(key("account"), string(&d.account));
            m.insert(key("action_mode"), string(&d.action_mode));
            m.insert(key("stack_name"), string(&d.stack_name));
            m.insert(key("stack_arn"), string(&d.stack_arn));
            m.insert(
                key("change_set_name"),
                opt_string(d.change_set_name.as_deref()),
            );
            m.insert(key("template"), file(&d.template));
            m.insert(key("template_configuration"), file(&d.template_configuration));
            // Where what CloudFormation deploys comes from, the riskiest of
            // the template and its configuration: source, build, other, or
            // null when the action deploys no template.
            let origins: Vec<&str> = [&d.template, &d.template_configuration]
                .into_iter()
                .flatten()
                .map(|f| f.origin.as_str())
                .collect();
            let origin = ["source", "build", "other"]
                .into_iter()
                .find(|o| origins.contains(o));
            m.insert(key("template_origin"), opt_string(origin));
            let from = |f: &Option<crate::model::ArtifactFile>| {
                f.as_ref().map(|f| {
                    let by = f
                        .produced_by
                        .as_deref()
                        .map(|b| format!(" (from {b})"))
                        .unwrap_or_default();
                    format!("{}::{}{by}", f.artifact, f.path)
                })
            };
            let mut described: Vec<String> = Vec::new();
            if let Some(t) = from(&d.template) {
                described.push(format!("template {t}"));
            }
            if let Some(c) = from(&d.template_configuration) {
                described.push(format!("configuration {c}"));
            }
            m.insert(
                key("template_text"),
                string(&if described.is_empty() {
                    "no template".to_string()
                } else {
                    described.join(", ")
                }),
            );
            m.insert(
                key("writes_template"),
                Value::Bool(matches!(origin, Some("source" | "build"))),
            );
            m.insert(
                key("capabilities"),
                list(d.capabilities.iter().map(|c| string(c)).collect()),
            );
            m.insert(
                key("iam_capabilities"),
                list(
                    d.capabilities
                        .iter()
                        .filter(|c| {
                            crate::collect::cloudformation::IAM_CAPABILITIES.contains(&c.as_str())
                        })
                        .map(|c| string(c))
                        .collect(),
                ),
            );
            m.insert(
                key("iam_capabilities_text"),
                string(
                    &d.capabilities
                        .iter()
                        .filter(|c| {
                            crate::collect::cloudformation::IAM_CAPABILITIES.contains(&c.as_str())
                        })
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            );
            m.insert(key("cfn_role_arn"), opt_string(d.cfn_role_arn.as_deref()));
            m.insert(
                key("action_role_arn"),
                opt_string(d.action_role_arn.as_deref()),
            );
            m.insert(key("executed_by"), opt_string(d.executed_by.as_deref()));
            m.insert(
                key("approval_before_execute"),
                Value::Bool(d.approval_before_execute),
            );
            // the pipeline's account, or another account of the same
            // audit whose stack was read there (`linked_accounts`)
            let in_audit = d.account == own_account || s.linked_accounts.contains(&d.account);
            m.insert(key("in_audit"), Value::Bool(in_audit));
            m.insert(
                key("production"),
                Value::Bool(last_stage == Some(d.stage.as_str()) && d.action_mode != "DELETE_ONLY"),
            );
            m.insert(
                key("last_for_stack"),
                Value::Bool(
                    !w.stack_deploys[i + 1..]
                        .iter()
                        .any(|later| later.stack_arn == d.stack_arn),
                ),
            );
            let stack = if in_audit {
                cache.put(&mut m, "stack", &d.stack_arn, gaps);
                s.resources.cfn_stacks.get(&d.stack_arn)
            } else {
                m.insert(key("stack"), Value::Null);
                None
            };
            // The role CloudFormation acts with: the action's RoleArn; else
            // the role associated with the stack; else the credentials of
            // the caller (the action role, else the pipeline role).
            let caller = || {
                d.action_role_arn
                    .as_deref()
                    .map(|r| {
                        (
                            r,
                            "no RoleArn: CloudFormation acts with the credentials of the action role",
                        )
                    })
                    .or_else(|| {
                        w.role_arn.as_deref().map(|r| {
                            (
                                r,
                                "no RoleArn: CloudFormation acts with the credentials of the pipeline role",
                            )
                        })
                    })
            };
            let role = match (&d.cfn_role_arn, stack) {
                (Some(r), _) => Some(Some((r.as_str(), "the action's RoleArn"))),
                (None, Some(Observed::Ok { value })) => Some(
                    value
                        .role_arn
                        .as_deref()
                        .map(|r| (r, "no RoleArn: the role associated with the stack"))
                        .or_else(caller),
                ),
                (None, Some(Observed::Unknown { .. })) => None,
                (None, _) => Some(caller()),
            };
            if let Some(role) = role {
                m.insert(key("deploy_role"), opt_string(role.map(|r| r.0)));
                m.insert(
                    key("deploy_role_from"),
                    opt_string(role.map(|r| r.1)),
                );
            }
            map(m)
        })
        .collect();
    list(items)
}

/// The EC2 instances a deployment group selects (`deploys[].targets`):
/// `null` when none were looked for (no such group, or not an EC2 group),
/// `None` (left out, with the gap) when they could not be read.
pub(super) fn deploy_targets(
    s: &Snapshot,
    group_arn: &str,
    gaps: &mut Vec<(String, ReadError)>,
) -> Option<Value> {
    match s.resources.deploy_targets.get(group_arn) {
        Some(Observed::Ok { value }) => {
            crate::rules::engine::cel_value::to_cel(value, &format!("{group_arn}.targets"), gaps)
        }
        Some(Observed::Unknown { error }) => {
            gaps.push((format!("{group_arn}.targets"), error.clone()));
            None
        }
        Some(Observed::Absent) | None => Some(Value::Null),
    }
}

/// `instances`: every instance the pipeline's deployment groups select,
/// once, with the group that selects it: `{id, state, group_name,
/// group_arn, profile_arn, role_arn, http_tokens, http_endpoint, tags}`.
/// Left out whole (with the gap) when a group's instances or an instance's
/// role could not be read.
pub(super) fn instances(
    s: &Snapshot,
    w: &PipelineWiring,
    gaps: &mut Vec<(String, ReadError)>,
) -> Option<Value> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut complete = true;
    for d in &w.deploys {
        // a group that could not be read selects instances no one knows
        if let Some(Observed::Unknown { error }) = s.resources.deploy_groups.get(&d.group_arn) {
            gaps.push((format!("{}.instances", d.group_arn), error.clone()));
            complete = false;
            continue;
        }
        let targets = match s.resources.deploy_targets.get(&d.group_arn) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Unknown { error }) => {
                gaps.push((format!("{}.instances", d.group_arn), error.clone()));
                complete = false;
                continue;
            }
            _ => continue,
        };
        for i in &targets.instances {
            if !seen.insert(i.id.clone()) {
                continue;
            }
            let role = match &i.role_arn {
                Observed::Ok { value } => opt_string(Some(value)),
                Observed::Absent => Value::Null,
                Observed::Unknown { error } => {
                    let at = i.instance_profile_arn.as_deref().unwrap_or(&i.id);
                    gaps.push((format!("{at}.instances"), error.clone()));
                    complete = false;
                    continue;
                }
            };
            let mut m = HashMap::with_capacity(10);
            m.insert(key("id"), string(&i.id));
            m.insert(key("state"), string(&i.state));
            m.insert(key("group_name"), string(&d.group_name));
            m.insert(key("group_arn"), string(&d.group_arn));
            m.insert(
                key("auto_scaling_group"),
                opt_string(i.auto_scaling_group.as_deref()),
            );
            m.insert(
                key("profile_arn"),
                opt_string(i.instance_profile_arn.as_deref()),
            );
            m.insert(key("role_arn"), role);
            m.insert(key("http_tokens"), opt_string(i.http_tokens.as_deref()));
            m.insert(key("http_endpoint"), opt_string(i.http_endpoint.as_deref()));
            let tags = i
                .tags
                .iter()
                .map(|(k, v)| (Key::String(std::sync::Arc::new(k.clone())), string(v)))
                .collect();
            m.insert(key("tags"), map(tags));
            out.push(map(m));
        }
    }
    complete.then(|| list(out))
}

/// `ecs_services`: one item per ECS service an ECS deploy action deploys
/// to: `{stage, action, provider, cluster, service_name, service_arn,
/// service, task_definition_arn, task_definition}`; `service` and
/// `task_definition` are null when they do not exist, left out (with the
/// gap) when they could not be read. A `CodeDeployToECS` action whose
/// group could not be read adds the gap and no item.
pub(super) fn ecs_services(
    s: &Snapshot,
    w: &PipelineWiring,
    cache: &Cache,
    gaps: &mut Vec<(String, ReadError)>,
) -> Value {
    let (targets, group_gaps) = crate::model::ecs_targets(w, &s.resources);
    gaps.extend(group_gaps);
    let items = targets
        .iter()
        .map(|t| {
            let mut m = HashMap::with_capacity(10);
            m.insert(key("stage"), string(&t.deploy.stage));
            m.insert(key("action"), string(&t.deploy.action));
            m.insert(key("provider"), string(&t.deploy.provider));
            m.insert(key("cluster"), string(&t.cluster));
            m.insert(key("service_name"), string(&t.service));
            m.insert(key("service_arn"), string(&t.service_arn));
            cache.put(&mut m, "service", &t.service_arn, gaps);
            let td = match s.resources.ecs_services.get(&t.service_arn) {
                Some(Observed::Ok { value }) => value.task_definition.clone(),
                _ => None,
            };
            m.insert(key("task_definition_arn"), opt_string(td.as_deref()));
            match td {
                Some(td) => cache.put(&mut m, "task_definition", &td, gaps),
                None => {
                    m.insert(key("task_definition"), Value::Null);
                }
            }
            map(m)
        })
        .collect();
    list(items)
}

/// `images`: every container image of the task definitions the pipeline's
/// ECS services run, once per service: `{stage, action, provider,
/// service_name, service_arn, container, image, repository_arn,
/// repository_name, repository, tag, digest}` (`repository_arn` and
/// `repository` null when the image is not in a private ECR registry;
/// `repository` left out, with the gap, when it could not be read; `tag`
/// null when pinned by digest only).
/// Left out whole (with the gap) when a service or task definition could
/// not be read.
pub(super) fn images(
    s: &Snapshot,
    w: &PipelineWiring,
    cache: &Cache,
    gaps: &mut Vec<(String, ReadError)>,
) -> Option<Value> {
    let partition = w.arn.split(':').nth(1).unwrap_or("aws");
    let (targets, group_gaps) = crate::model::ecs_targets(w, &s.resources);
    let mut complete = group_gaps.is_empty();
    gaps.extend(group_gaps);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for t in &targets {
        let svc = match s.resources.ecs_services.get(&t.service_arn) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Unknown { error }) => {
                gaps.push((format!("{}.images", t.service_arn), error.clone()));
                complete = false;
                continue;
            }
            _ => continue,
        };
        let Some(td_arn) = &svc.task_definition else {
            continue;
        };
        let td = match s.resources.task_definitions.get(td_arn) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Unknown { error }) => {
                gaps.push((format!("{td_arn}.images"), error.clone()));
                complete = false;
                continue;
            }
            _ => continue,
        };
        for c in &td.containers {
            if !seen.insert((t.service_arn.clone(), c.image.clone())) {
                continue;
            }
            let image = crate::model::ImageRef::parse(&c.image, partition);
            let mut m = HashMap::with_capacity(13);
            m.insert(key("stage"), string(&t.deploy.stage));
            m.insert(key("action"), string(&t.deploy.action));
            m.insert(key("provider"), string(&t.deploy.provider));
            m.insert(key("service_name"), string(&t.service));
            m.insert(key("service_arn"), string(&t.service_arn));
            m.insert(key("container"), string(&c.name));
            m.insert(key("image"), string(&c.image));
            m.insert(
                key("repository_arn"),
                opt_string(image.repository_arn.as_deref()),
            );
            m.insert(key("repository_name"), string(&image.repository_name));
            m.insert(key("tag"), opt_string(image.tag.as_deref()));
            m.insert(key("digest"), opt_string(image.digest.as_deref()));
            match &image.repository_arn {
                Some(r) => cache.put(&mut m, "repository", r, gaps),
                None => {
                    m.insert(key("repository"), Value::Null);
                }
            }
            out.push(map(m));
        }
    }
    complete.then(|| list(out))
}

/// The functions the pipeline's Lambda deployment groups last deployed, as
/// `functions` items naming their group (`group`, `alias`); a function an
/// invoke action of the pipeline runs too is bound once. A group whose last
/// deployment could not be read is an item without `function`, with the
/// gap. A group whose functions could not be determined has no item (the
/// evaluation adds a note).
pub(super) fn deployed_functions(
    s: &Snapshot,
    w: &PipelineWiring,
    cache: &Cache,
    gaps: &mut Vec<(String, ReadError)>,
) -> Vec<Value> {
    let mut seen: BTreeSet<&str> = w
        .lambda_invokes
        .iter()
        .map(|l| l.function_arn.as_str())
        .collect();
    let mut out = Vec::new();
    for d in &w.deploys {
        let Some(Observed::Ok { value: group }) = s.resources.deploy_groups.get(&d.group_arn)
        else {
            continue;
        };
        let item = |function_name: &str, function_arn: &str, alias: Option<&str>| {
            let mut m = HashMap::with_capacity(8);
            m.insert(key("stage"), string(&d.stage));
            m.insert(key("action"), string(&d.action));
            m.insert(key("function_name"), string(function_name));
            m.insert(key("function_arn"), string(function_arn));
            m.insert(key("takes_artifacts"), Value::Bool(false));
            m.insert(
                key("group"),
                string(&format!("{}/{}", d.application_name, d.group_name)),
            );
            m.insert(key("alias"), opt_string(alias));
            m
        };
        match &group.lambda_deployment {
            Some(Observed::Ok { value: deployment }) => {
                for f in &deployment.functions {
                    if !seen.insert(f.arn.as_str()) {
                        continue;
                    }
                    let mut m = item(&f.name, &f.arn, f.alias.as_deref());
                    cache.put(&mut m, "function", &f.arn, gaps);
                    out.push(map(m));
                }
            }
            Some(Observed::Unknown { error }) => {
                // the function is not known: left out, with the gap
                gaps.push((
                    format!("{}.lambda_deployment.function", d.group_arn),
                    error.clone(),
                ));
                out.push(map(item("", "", None)));
            }
            _ => {}
        }
    }
    out
}
