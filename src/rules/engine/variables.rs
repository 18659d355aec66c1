//! The variables of one pipeline: its resolved graph bound as CEL values
//! (from the [`Cache`]), only those the enabled rules read.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cel::Value;
use cel::objects::Key;

use super::cache::{Cache, key, list, map, opt_string, string};
use crate::model::{Observed, PipelineWiring, ReadError, Snapshot};
use crate::rules::account_index::AccountIndex;
use crate::rules::config::{Config, Reference};
use crate::rules::reads::Reads;

/// The variables of one pipeline, and the gaps among the values bound.
pub(super) struct Bindings {
    pub(super) vars: Vec<(&'static str, Value)>,
    pub(super) gaps: Vec<(String, ReadError)>,
}

/// What the evaluation derived from the whole account once, for every
/// pipeline: the account index and the release-path analysis.
#[derive(Clone, Copy)]
pub(super) struct Derived<'a> {
    pub index: &'a AccountIndex,
    pub release: Option<&'a crate::aws::release::Analysis>,
}

pub(super) fn bindings(
    s: &Snapshot,
    w: &PipelineWiring,
    account: Derived<'_>,
    cache: &Cache,
    config: &Value,
    reference: &Reference,
    needs: &Reads,
) -> Result<Bindings, ReadError> {
    let Derived { index, release } = account;
    let mut gaps = Vec::new();
    let declaration = match s.resources.pipelines.get(&w.arn) {
        Some(Observed::Ok { value }) => value,
        Some(Observed::Unknown { error }) => return Err(error.clone()),
        _ => {
            return Err(ReadError {
                kind: crate::model::ReadErrorKind::Service,
                action: "codepipeline:GetPipeline".to_string(),
                code: None,
                message: "the pipeline declaration is not in the snapshot".to_string(),
            });
        }
    };
    let mut vars = Vec::with_capacity(8);
    if needs.var("pipeline") {
        vars.push((
            "pipeline",
            pipeline_value(s, w, declaration, reference, needs, &mut gaps),
        ));
    }
    if needs.var("config") {
        vars.push(("config", config.clone()));
    }
    if needs.var("sources") {
        let sources = w
            .sources
            .iter()
            .map(|src| {
                let mut m = HashMap::with_capacity(7);
                m.insert(key("stage"), string(&src.stage));
                m.insert(key("action"), string(&src.action));
                m.insert(key("repository_name"), string(&src.repository_name));
                m.insert(key("repository_arn"), string(&src.repository_arn));
                m.insert(key("branch"), opt_string(src.branch.as_deref()));
                m.insert(
                    key("poll"),
                    src.poll_for_source_changes
                        .map(Value::Bool)
                        .unwrap_or(Value::Null),
                );
                cache.put(&mut m, "repository", &src.repository_arn, &mut gaps);
                map(m)
            })
            .collect();
        vars.push(("sources", list(sources)));
    }
    if needs.var("connections") {
        let connections = w
            .connection_sources
            .iter()
            .map(|src| {
                let mut m = HashMap::with_capacity(7);
                m.insert(key("stage"), string(&src.stage));
                m.insert(key("action"), string(&src.action));
                m.insert(key("connection_arn"), string(&src.connection_arn));
                m.insert(key("repository"), opt_string(src.repository.as_deref()));
                m.insert(key("branch"), opt_string(src.branch.as_deref()));
                m.insert(
                    key("detect_changes"),
                    src.detect_changes.map(Value::Bool).unwrap_or(Value::Null),
                );
                cache.put(&mut m, "connection", &src.connection_arn, &mut gaps);
                map(m)
            })
            .collect();
        vars.push(("connections", list(connections)));
    }
    if needs.var("s3_sources") {
        let s3_sources = w
            .s3_sources
            .iter()
            .map(|src| {
                let mut m = HashMap::with_capacity(8);
                m.insert(key("stage"), string(&src.stage));
                m.insert(key("action"), string(&src.action));
                m.insert(key("region"), string(&src.region));
                m.insert(key("bucket"), string(&src.bucket));
                m.insert(key("bucket_arn"), string(&src.bucket_arn));
                m.insert(key("key"), string(&src.object_key));
                m.insert(
                    key("poll"),
                    src.poll_for_source_changes
                        .map(Value::Bool)
                        .unwrap_or(Value::Null),
                );
                // `{name, arn, eventbridge}`; null when the bucket does not
                // exist, left out (with the gap) when it could not be read
                cache.put(&mut m, "source_bucket", &src.bucket_arn, &mut gaps);
                map(m)
            })
            .collect();
        vars.push(("s3_sources", list(s3_sources)));
    }
    if needs.var("builds") {
        let builds = w
            .builds
            .iter()
            .map(|b| {
                let mut m = HashMap::with_capacity(5);
                m.insert(key("stage"), string(&b.stage));
                m.insert(key("action"), string(&b.action));
                m.insert(key("name"), string(&b.project_name));
                m.insert(key("arn"), string(&b.project_arn));
                cache.put(&mut m, "project", &b.project_arn, &mut gaps);
                map(m)
            })
            .collect();
        vars.push(("builds", list(builds)));
    }
    if needs.var("deploys") {
        // a group in an account outside the audit is not bound: it was
        // not read, and a note names it (`unaudited_deploys`)
        let deploys = w
            .deploys
            .iter()
            .filter(|d| s.audits_account(crate::model::deploy_account(d, &s.account)))
            .map(|d| {
                let mut m = HashMap::with_capacity(12);
                m.insert(key("stage"), string(&d.stage));
                m.insert(key("action"), string(&d.action));
                m.insert(
                    key("account"),
                    string(crate::model::deploy_account(d, &s.account)),
                );
                m.insert(key("application_name"), string(&d.application_name));
                m.insert(key("application_arn"), string(&d.application_arn));
                m.insert(key("group_name"), string(&d.group_name));
                m.insert(key("group_arn"), string(&d.group_arn));
                cache.put(&mut m, "application", &d.application_arn, &mut gaps);
                cache.put(&mut m, "group", &d.group_arn, &mut gaps);
                // the deployment configuration the group names (built-in
                // ones are recorded too); absent from older snapshots
                let config = match s.resources.deploy_groups.get(&d.group_arn) {
                    Some(Observed::Ok { value: g }) => g
                        .deployment_config_name
                        .as_deref()
                        .and_then(|n| crate::collect::codedeploy::config_arn(&d.group_arn, n))
                        .filter(|arn| s.resources.deploy_configs.contains_key(arn)),
                    _ => None,
                };
                match config {
                    Some(arn) => cache.put(&mut m, "config", &arn, &mut gaps),
                    None => {
                        m.insert(key("config"), Value::Null);
                    }
                }
                if let Some(t) = deploy_targets(s, &d.group_arn, &mut gaps) {
                    m.insert(key("targets"), t);
                }
                map(m)
            })
            .collect();
        vars.push(("deploys", list(deploys)));
    }
    if needs.var("stacks") {
        vars.push(("stacks", stack_deploys(s, w, cache, &mut gaps)));
    }
    if needs.var("instances")
        && let Some(v) = instances(s, w, &mut gaps)
    {
        vars.push(("instances", v));
    }
    if needs.var("ecs_services") {
        vars.push(("ecs_services", ecs_services(s, w, cache, &mut gaps)));
    }
    if needs.var("functions") {
        let mut functions: Vec<Value> = w
            .lambda_invokes
            .iter()
            .map(|l| {
                let mut m = HashMap::with_capacity(8);
                m.insert(key("stage"), string(&l.stage));
                m.insert(key("action"), string(&l.action));
                m.insert(key("function_name"), string(&l.function_name));
                m.insert(key("function_arn"), string(&l.function_arn));
                m.insert(key("takes_artifacts"), Value::Bool(l.takes_artifacts));
                m.insert(key("group"), Value::Null);
                m.insert(key("alias"), Value::Null);
                // `{name, arn, role_arn, runtime, code_signing_config}`;
                // null when the function does not exist, left out (with
                // the gap) when it could not be read
                cache.put(&mut m, "function", &l.function_arn, &mut gaps);
                map(m)
            })
            .collect();
        functions.extend(deployed_functions(s, w, cache, &mut gaps));
        vars.push(("functions", list(functions)));
    }
    if needs.var("images")
        && let Some(v) = images(s, w, cache, &mut gaps)
    {
        vars.push(("images", v));
    }
    if needs.var("stores") {
        let stores = w
            .artifact_stores
            .iter()
            .map(|st| {
                let mut m = HashMap::with_capacity(9);
                m.insert(key("region"), string(&st.region));
                m.insert(key("bucket_name"), string(&st.bucket));
                m.insert(key("bucket_arn"), string(&st.bucket_arn));
                m.insert(
                    key("objects_arn"),
                    string(&crate::model::artifact_objects_arn(&st.bucket_arn, &w.name)),
                );
                m.insert(key("key_ref"), opt_string(st.key_ref.as_deref()));
                // An alias that could not be resolved is recorded under its
                // own ARN, with the key unknown: the key ARN is unknown too
                // (left out, the gap comes with `key`), not another key's.
                let alias_unknown = st.key_arn.as_deref().is_some_and(|k| {
                    k.contains(":alias/")
                        && matches!(s.resources.keys.get(k), Some(Observed::Unknown { .. }))
                });
                if !alias_unknown {
                    m.insert(key("key_arn"), opt_string(st.key_arn.as_deref()));
                }
                cache.put(&mut m, "bucket", &st.bucket_arn, &mut gaps);
                match &st.key_arn {
                    Some(k) => cache.put(&mut m, "key", k, &mut gaps),
                    None => {
                        m.insert(key("key"), Value::Null);
                    }
                }
                map(m)
            })
            .collect();
        vars.push(("stores", list(stores)));
    }

    // If the rules of the region could not be listed, or one of them could
    // not be read (its targets unknown: it may target this pipeline),
    // `triggers` stays unbound: trigger rules then report the gap instead of
    // "no rule", "every rule disabled" or "no rule matches".
    let trigger_gaps = if needs.var("triggers") || needs.var("service_roles") {
        index.trigger_gaps(s, w)
    } else {
        Vec::new()
    };
    if needs.var("service_roles") {
        let service_roles = service_roles(s, w, &mut gaps)
            .into_iter()
            .map(|(arn, service, used_by)| {
                let mut m = HashMap::with_capacity(3);
                // A role that could not be learned (its project, group or
                // rule is unknown) is an item without `arn`: a rule reading
                // it reports the gap; the other roles are still checked.
                if let Some(arn) = arn {
                    m.insert(key("arn"), string(&arn));
                }
                m.insert(key("service"), string(&service));
                m.insert(key("used_by"), string(&used_by));
                map(m)
            })
            .chain(trigger_gaps.iter().map(|(path, _)| {
                let mut m = HashMap::with_capacity(2);
                m.insert(key("service"), string("events.amazonaws.com"));
                m.insert(
                    key("used_by"),
                    string(path.strip_suffix(".targets").unwrap_or(path)),
                );
                map(m)
            }))
            .collect();
        vars.push(("service_roles", list(service_roles)));
    }
    if needs.var("release_paths")
        && let Some(a) = release
    {
        match (&a.status, a.pipeline(&w.arn)) {
            (crate::aws::release::Status::NotAnalysed { error }, _) => {
                gaps.push(("release_paths".to_string(), error.clone()));
            }
            (_, found) => vars.push((
                "release_paths",
                list(found.map(release_paths).unwrap_or_default()),
            )),
        }
    }
    if !needs.var("triggers") || !trigger_gaps.is_empty() {
        gaps.extend(trigger_gaps);
    } else {
        {
            let triggers = w
                .trigger_rules
                .iter()
                .filter_map(|arn| {
                    let bound = cache.by_arn.get(arn)?;
                    gaps.extend(bound.gaps.iter().cloned());
                    // (an unknown rule made `trigger_gaps` non-empty; an
                    // absent one targets nothing)
                    let Some(Observed::Ok { value: rule }) = s.resources.event_rules.get(arn)
                    else {
                        return None;
                    };
                    let targets = rule
                        .targets
                        .iter()
                        .filter(|t| t.arn == w.arn)
                        .map(|t| {
                            let mut tm = HashMap::with_capacity(3);
                            tm.insert(key("id"), string(&t.id));
                            tm.insert(key("arn"), string(&t.arn));
                            tm.insert(key("role_arn"), opt_string(t.role_arn.as_deref()));
                            map(tm)
                        })
                        .collect();
                    let mut m = HashMap::with_capacity(5);
                    m.insert(key("name"), string(&rule.name));
                    m.insert(key("arn"), string(&rule.arn));
                    m.insert(key("state"), string(&rule.state));
                    m.insert(
                        key("enabled"),
                        Value::Bool(rule.state.starts_with("ENABLED")),
                    );
                    m.insert(key("targets"), list(targets));
                    Some(map(m))
                })
                .collect();
            vars.push(("triggers", list(triggers)));
        }
    }
    Ok(Bindings { vars, gaps })
}

/// `stacks`: the pipeline's CloudFormation deploy actions, one map each
/// (see the variables in docs/reference/rule-language.md): the declared settings, where the
/// template comes from, the role CloudFormation acts with (`deploy_role`,
/// left out with the gap when it depends on a stack that could not be
/// read), and the stack as read (`stack`: null when it does not exist or
/// is in an account outside the audit, left out with the gap when it could
/// not be read).
fn stack_deploys(
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
fn deploy_targets(
    s: &Snapshot,
    group_arn: &str,
    gaps: &mut Vec<(String, ReadError)>,
) -> Option<Value> {
    match s.resources.deploy_targets.get(group_arn) {
        Some(Observed::Ok { value }) => {
            super::cel_value::to_cel(value, &format!("{group_arn}.targets"), gaps)
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
fn instances(
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
fn ecs_services(
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
fn images(
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

/// `pipeline`: the declaration's fields, plus `account`, `shape`,
/// `role_arn` and `role_exists`. The declaration is converted only when a
/// rule reads more of it than its name, ARN and region.
fn pipeline_value(
    s: &Snapshot,
    w: &PipelineWiring,
    declaration: &crate::model::Pipeline,
    reference: &Reference,
    needs: &Reads,
    gaps: &mut Vec<(String, ReadError)>,
) -> Value {
    const CHEAP: [&str; 8] = [
        "name",
        "arn",
        "region",
        "account",
        "shape",
        "role_arn",
        "role_exists",
        "plaintext_secrets",
    ];
    let mut pipeline: HashMap<Key, Value> = HashMap::with_capacity(8);
    if needs.pipeline_whole
        || needs
            .pipeline_fields
            .iter()
            .any(|f| !CHEAP.contains(&f.as_str()))
    {
        // The declaration's fields that some rule reads (every one when a
        // rule reads the pipeline whole), and its name, ARN and region.
        let keep = |f: &str| needs.pipeline_field(f) || matches!(f, "name" | "arn" | "region");
        if let Some(Value::Map(m)) =
            super::cel_value::to_cel_fields(declaration, &w.arn, gaps, &keep)
        {
            pipeline = Arc::try_unwrap(m.map).unwrap_or_else(|m| (*m).clone());
        }
    } else {
        pipeline.insert(key("name"), string(&declaration.name));
        pipeline.insert(key("arn"), string(&declaration.arn));
        pipeline.insert(key("region"), string(&declaration.region));
    }
    pipeline.insert(key("account"), string(&s.account));
    if needs.pipeline_field("shape") {
        pipeline.insert(key("shape"), shape(declaration, reference));
    }
    if needs.pipeline_field("plaintext_secrets") {
        pipeline.insert(key("plaintext_secrets"), plaintext_secrets(declaration));
    }
    pipeline.insert(key("role_arn"), opt_string(w.role_arn.as_deref()));
    if needs.pipeline_field("role_exists") {
        pipeline.insert(
            key("role_exists"),
            match w.role_arn.as_ref().and_then(|r| s.resources.roles.get(r)) {
                Some(Observed::Ok { .. }) => Value::Bool(true),
                Some(Observed::Absent) | None => Value::Bool(false),
                Some(Observed::Unknown { error }) => {
                    gaps.push((w.role_arn.clone().unwrap_or_default(), error.clone()));
                    Value::Null
                }
            },
        );
    }
    map(pipeline)
}

/// The action configuration values that hold a plaintext secret (their
/// values were withheld at collection; only where and what kind is bound):
/// `{stage, action, key, kinds}`, `key` being `EnvironmentVariables.NAME`
/// for a CodeBuild action's variable.
fn plaintext_secrets(p: &crate::model::Pipeline) -> Value {
    let entry =
        |stage: &str, action: &str, k: &str, kinds: &[crate::model::secrets::SecretKind]| {
            let mut m = HashMap::with_capacity(4);
            m.insert(key("stage"), string(stage));
            m.insert(key("action"), string(action));
            m.insert(key("key"), string(k));
            m.insert(
                key("kinds"),
                list(
                    kinds
                        .iter()
                        .map(|k| {
                            serde_json::to_value(k)
                                .ok()
                                .and_then(|v| v.as_str().map(string))
                                .unwrap_or(Value::Null)
                        })
                        .collect(),
                ),
            );
            map(m)
        };
    let mut out = Vec::new();
    for st in &p.stages {
        for a in &st.actions {
            for v in &a.environment_variables {
                if v.var_type == "PLAINTEXT" && !v.secret_kinds.is_empty() {
                    out.push(entry(
                        &st.name,
                        &a.name,
                        &format!("{}.{}", crate::model::redact::ENVIRONMENT_VARIABLES, v.name),
                        &v.secret_kinds,
                    ));
                }
            }
            for (k, kinds) in &a.redacted {
                if !kinds.is_empty() {
                    out.push(entry(&st.name, &a.name, k, kinds));
                }
            }
        }
    }
    list(out)
}

/// Where the reference stages stand: the source first, a build, a deploy
/// after the build, an approval before the deploy.
fn shape(p: &crate::model::Pipeline, reference: &Reference) -> Value {
    let accepted = |category: &str, provider: &str| {
        reference
            .providers(category)
            .is_none_or(|list| list.iter().any(|x| x == provider))
    };
    let stage_of = |category: &str| {
        p.stages
            .iter()
            .position(|st| {
                st.actions
                    .iter()
                    .any(|a| a.category == category && accepted(category, &a.provider))
            })
            .map(|i| i as i64)
            .unwrap_or(-1)
    };
    let source_first = p.stages.first().is_some_and(|st| {
        st.actions
            .iter()
            .any(|a| a.category == "Source" && accepted("Source", &a.provider))
    });
    let build = stage_of("Build");
    let deploy = stage_of("Deploy");
    // What deviates from the reference, in words.
    let named = |category: &str| match reference.providers(category) {
        Some(list) => format!("{category} ({})", list.join(" or ")),
        None => category.to_string(),
    };
    let mut deviations: Vec<Value> = Vec::new();
    if !source_first {
        deviations.push(string(&format!(
            "the first stage has no {} action",
            named("Source")
        )));
    }
    let mut previous: Option<(&str, i64)> = None;
    for category in reference.stages.iter().skip(1) {
        let at = stage_of(category);
        if at < 0 {
            deviations.push(string(&format!("no {} stage", named(category))));
            continue;
        }
        if let Some((before, at_before)) = previous
            && at <= at_before
        {
            deviations.push(string(&format!(
                "{category} runs before or with {before}, not after it"
            )));
        }
        previous = Some((category, at));
    }
    let approval = stage_of("Approval");
    let approval_before_deploy = deploy >= 0
        && p.stages
            .iter()
            .take(deploy as usize + 1)
            .enumerate()
            .any(|(i, st)| {
                st.actions.iter().any(|a| {
                    a.category == "Approval"
                        && (i < deploy as usize
                            || p.stages[deploy as usize].actions.iter().any(|d| {
                                d.category == "Deploy"
                                    && d.run_order.unwrap_or(1) > a.run_order.unwrap_or(1)
                            }))
                })
            });
    let mut m = HashMap::with_capacity(6);
    m.insert(key("source_first"), Value::Bool(source_first));
    m.insert(key("build_stage"), Value::Int(build));
    m.insert(key("deploy_stage"), Value::Int(deploy));
    m.insert(key("approval_stage"), Value::Int(approval));
    m.insert(key("deviations"), list(deviations));
    m.insert(
        key("approval_before_deploy"),
        Value::Bool(approval_before_deploy),
    );
    map(m)
}

/// The service roles a pipeline acts through: (role ARN, service, used by).
fn service_roles(
    s: &Snapshot,
    w: &PipelineWiring,
    gaps: &mut Vec<(String, ReadError)>,
) -> Vec<(Option<String>, String, String)> {
    let mut out: Vec<(Option<String>, String, String)> = Vec::new();
    if let Some(r) = &w.role_arn {
        out.push((
            Some(r.clone()),
            "codepipeline.amazonaws.com".to_string(),
            w.arn.clone(),
        ));
    }
    // The roles of the pipeline's account named on actions: each is
    // assumed by the pipeline role (its expected principal; a role of
    // another account is not read).
    let account = w.arn.split(':').nth(4).unwrap_or("");
    let own = |r: &str| r.split(':').nth(4) == Some(account);
    if let Some(pipeline_role) = &w.role_arn
        && let Some(Observed::Ok { value: p }) = s.resources.pipelines.get(&w.arn)
    {
        for st in &p.stages {
            for a in &st.actions {
                if let Some(r) = a.role_arn.as_deref().filter(|r| own(r)) {
                    out.push((
                        Some(r.to_string()),
                        pipeline_role.clone(),
                        format!("{} action {}/{}", w.arn, st.name, a.name),
                    ));
                }
            }
        }
    }
    // The roles CloudFormation acts as: the actions' RoleArn, and the
    // roles associated with the stacks.
    for d in &w.stack_deploys {
        if let Some(r) = d.cfn_role_arn.as_deref().filter(|r| own(r)) {
            out.push((
                Some(r.to_string()),
                "cloudformation.amazonaws.com".to_string(),
                d.stack_arn.clone(),
            ));
        }
        if let Some(Observed::Ok { value }) = s.resources.cfn_stacks.get(&d.stack_arn)
            && let Some(r) = value.role_arn.as_deref().filter(|r| own(r))
        {
            out.push((
                Some(r.to_string()),
                "cloudformation.amazonaws.com".to_string(),
                d.stack_arn.clone(),
            ));
        }
    }
    // The role of a project or group that could not be read is not known:
    // `None`, with the gap.
    let mut role_of = |obs: Option<&Observed<Option<String>>>,
                       service: &'static str,
                       user: &str,
                       gaps: &mut Vec<(String, ReadError)>| match obs {
        Some(Observed::Ok { value: Some(r) }) => {
            out.push((Some(r.clone()), service.to_string(), user.to_string()))
        }
        Some(Observed::Unknown { error }) => {
            gaps.push((user.to_string(), error.clone()));
            out.push((None, service.to_string(), user.to_string()));
        }
        _ => {}
    };
    for b in &w.builds {
        let role = s
            .resources
            .build_projects
            .get(&b.project_arn)
            .map(|p| p.as_ref().map(|p| p.service_role.clone()));
        role_of(
            role.as_ref(),
            "codebuild.amazonaws.com",
            &b.project_arn,
            gaps,
        );
    }
    for d in &w.deploys {
        let role = s
            .resources
            .deploy_groups
            .get(&d.group_arn)
            .map(|g| g.as_ref().map(|g| g.service_role_arn.clone()));
        role_of(
            role.as_ref(),
            "codedeploy.amazonaws.com",
            &d.group_arn,
            gaps,
        );
    }
    // The roles of the Lambda functions an invoke action hands the
    // pipeline's artifacts: like a build role, each runs with input a
    // commit controls (only these functions carry `lambda.amazonaws.com`).
    for l in w.lambda_invokes.iter().filter(|l| l.takes_artifacts) {
        let used_by = format!(
            "{} invoked by {} action {}/{} with its artifacts",
            l.function_arn, w.arn, l.stage, l.action
        );
        let role = s
            .resources
            .lambda_functions
            .get(&l.function_arn)
            .map(|f| f.as_ref().map(|f| f.role_arn.clone().filter(|r| own(r))));
        role_of(role.as_ref(), "lambda.amazonaws.com", &used_by, gaps);
    }
    for arn in &w.trigger_rules {
        if let Some(Observed::Ok { value }) = s.resources.event_rules.get(arn) {
            for t in value.targets.iter().filter(|t| t.arn == w.arn) {
                if let Some(r) = &t.role_arn {
                    out.push((
                        Some(r.clone()),
                        "events.amazonaws.com".to_string(),
                        arn.clone(),
                    ));
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|(arn, svc, user)| match arn {
        Some(arn) => seen.insert((arn.clone(), svc.clone())),
        None => seen.insert((user.clone(), svc.clone())),
    });
    out
}

pub(super) fn config_value(c: &Config) -> Value {
    let mut m = HashMap::with_capacity(3);
    m.insert(
        key("release_branch"),
        opt_string(c.release_branch.as_deref()),
    );
    m.insert(key("require_approval"), Value::Bool(c.require_approval));
    m.insert(
        key("allowed_images"),
        list(c.allowed_images.iter().map(|i| string(i)).collect()),
    );
    map(m)
}

/// A pipeline's release paths, one map each: `kind` (rule id), `principal`,
/// `principal_kind`, `witness` (the chain in one line), `conditional`,
/// `note`, `accepted` (the trusted entry's reason, or null) and
/// `organization_bound` (RP009: a web identity trust bound to an
/// organization, not open to any repository).
fn release_paths(p: &crate::aws::release::PipelinePaths) -> Vec<Value> {
    p.paths
        .iter()
        .map(|r| {
            let mut m = HashMap::with_capacity(8);
            m.insert(key("kind"), string(r.kind.id()));
            m.insert(key("principal"), string(&r.principal));
            m.insert(key("principal_kind"), string(r.principal_kind));
            m.insert(key("witness"), string(&r.witness()));
            m.insert(key("conditional"), Value::Bool(r.conditional));
            m.insert(key("note"), string(&r.note));
            m.insert(key("accepted"), opt_string(r.accepted.as_deref()));
            m.insert(key("organization_bound"), Value::Bool(r.organization_bound));
            map(m)
        })
        .collect()
}

/// The functions the pipeline's Lambda deployment groups last deployed, as
/// `functions` items naming their group (`group`, `alias`); a function an
/// invoke action of the pipeline runs too is bound once. A group whose last
/// deployment could not be read is an item without `function`, with the
/// gap. A group whose functions could not be determined has no item (the
/// evaluation adds a note).
fn deployed_functions(
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
