//! The `pipeline` variable and what is bound beside it: the declaration's
//! fields the rules read, its shape, plaintext secrets, its service roles,
//! the configuration and the release paths.

use super::*;

/// `pipeline`: the declaration's fields, plus `account`, `shape`,
/// `role_arn` and `role_exists`. The declaration is converted only when a
/// rule reads more of it than its name, ARN and region.
pub(super) fn pipeline_value(
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
            crate::rules::engine::cel_value::to_cel_fields(declaration, &w.arn, gaps, &keep)
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
pub(super) fn plaintext_secrets(p: &crate::model::Pipeline) -> Value {
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
pub(super) fn shape(p: &crate::model::Pipeline, reference: &Reference) -> Value {
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
pub(super) fn service_roles(
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

pub(crate) fn config_value(c: &Config) -> Value {
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
pub(super) fn release_paths(p: &crate::aws::release::PipelinePaths) -> Vec<Value> {
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
