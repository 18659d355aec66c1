//! The variables of one pipeline: its resolved graph bound as CEL values
//! (from the [`Cache`]), only those the enabled rules read.

mod deploy;
mod pipeline;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cel::Value;
use cel::objects::Key;

use super::cache::{Cache, key, list, map, opt_string, string};
use crate::model::{Observed, PipelineWiring, ReadError, Snapshot};
use crate::rules::account_index::AccountIndex;
use crate::rules::config::{Config, Reference};
use crate::rules::reads::Reads;
use deploy::{deploy_targets, deployed_functions, ecs_services, images, instances, stack_deploys};
pub(super) use pipeline::config_value;
use pipeline::{pipeline_value, release_paths, service_roles};

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
