//! Trigger fixes:
//! - `trigger-create`: an EventBridge rule on the default bus matching
//!   commits to the pipeline's repository and branch, targeting the
//!   pipeline, with an events role allowed only to start this pipeline;
//! - `trigger-role`: give an existing target that role (the target is
//!   otherwise sent back as it is).
//!
//! Names are deterministic (`pipeaudit-<pipeline>-trigger`,
//! `pipeaudit-<pipeline>-events`) so that a second run finds what the first
//! created. Nothing existing is changed by `trigger-create`.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::registry::{
    ApplyFuture, Dedupe, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;
use crate::patch::{Edit, Seg};

/// `trigger-create`: once per pipeline, whichever finding asks for it.
pub struct Create;

impl FixAction for Create {
    fn id(&self) -> &'static str {
        "trigger-create"
    }
    fn summary(&self) -> &'static str {
        "A new rule `pipeaudit-<pipeline>-trigger` for the repository and branch, targeting the pipeline, with the role of `trigger-role`; existing rules untouched."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Safe
    }
    fn dedupe(&self) -> Dedupe {
        Dedupe::OncePerPipeline
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        if let Some(why) = source_not_local(cx.snapshot, &f.pipeline_arn) {
            return Err(NotPlanned::ManualBecause(format!(
                "Not created automatically: {why}. Create the rule where the repository's events arrive (its account's default bus, forwarded to this account's bus), targeting the pipeline."
            )));
        }
        plan_create(f, cx.snapshot, cx.config.release_branch.as_deref()).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply_create(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "a new `AWS::Events::Rule` (commits to the source action's repository and branch, targeting the pipeline by its logical id) and its events role (`trigger-role`'s), added at the end of `Resources`",
            edits: template_create,
        })
    }
}

/// `trigger-role`: once per rule, whichever finding asks for it.
pub struct Role;

impl FixAction for Role {
    fn id(&self) -> &'static str {
        "trigger-role"
    }
    fn summary(&self) -> &'static str {
        "Role `pipeaudit-<pipeline>-events` (trusted by events.amazonaws.com, allowed only `codepipeline:StartPipelineExecution` on the pipeline) set on the target, the target otherwise sent back as it was."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Safe
    }
    fn dedupe(&self) -> Dedupe {
        Dedupe::OncePerResource
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan_role(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply_role(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "a new events role (trusted by `events.amazonaws.com` for this account, allowed only `codepipeline:StartPipelineExecution` on the pipeline) added at the end of `Resources`, and the rule's target of the pipeline given its `RoleArn`",
            edits: template_role,
        })
    }
}

/// A name of at most 64 characters: `pipeaudit-<pipeline>-<suffix>`,
/// shortened with a hash when the pipeline name is long.
pub fn name(pipeline: &str, suffix: &str) -> String {
    let full = format!("pipeaudit-{pipeline}-{suffix}");
    if full.len() <= 64 {
        return full;
    }
    let h = hex::encode(&Sha256::digest(pipeline.as_bytes())[..4]);
    let keep = 64 - "pipeaudit-".len() - suffix.len() - h.len() - 2;
    format!(
        "pipeaudit-{}-{h}-{suffix}",
        &pipeline[..keep.min(pipeline.len())]
    )
}

fn pattern(repo_arn: &str, branch: &str) -> Value {
    json!({
        "source": ["aws.codecommit"],
        "detail-type": ["CodeCommit Repository State Change"],
        "resources": [repo_arn],
        "detail": {"event": ["referenceCreated", "referenceUpdated"], "referenceType": ["branch"], "referenceName": [branch]}
    })
}

/// Why commits of the pipeline's repository cannot be caught by a rule on
/// this account's default bus, if they cannot: trigger creation and polling
/// off are safe only for a CodeCommit repository that exists and was read
/// in the audited account and the pipeline's region, reached by a source
/// action that assumes no role in another account. Otherwise a new local
/// rule never fires and turning polling off stops the releases.
pub fn source_not_local(s: &Snapshot, pipeline_arn: &str) -> Option<String> {
    let w = s.pipelines.iter().find(|w| w.arn == pipeline_arn)?;
    let Some(src) = w.sources.first() else {
        return Some(format!("{} has no CodeCommit source action", w.name));
    };
    let fields: Vec<&str> = src.repository_arn.split(':').collect();
    let (region, account) = (
        fields.get(3).copied().unwrap_or(""),
        fields.get(4).copied().unwrap_or(""),
    );
    if account != s.account || region != w.region {
        return Some(format!(
            "repository {} is in account {account} region {region}, not where the pipeline runs; its commit events do not reach this account's default bus",
            src.repository_name
        ));
    }
    let declared = s
        .resources
        .pipelines
        .get(&w.arn)
        .and_then(|p| p.value())
        .and_then(|p| {
            p.stages
                .iter()
                .filter(|st| st.name == src.stage)
                .flat_map(|st| st.actions.iter())
                .find(|a| a.name == src.action)
        });
    if let Some(role) = declared.and_then(|a| a.role_arn.as_deref()) {
        let role_account = role.split(':').nth(4).unwrap_or("");
        if role_account != s.account {
            return Some(format!(
                "source action {}/{} assumes role {role} in account {role_account}: the repository is read from another account",
                src.stage, src.action
            ));
        }
    }
    if let Some(r) = declared.and_then(|a| a.region.as_deref())
        && r != w.region
    {
        return Some(format!(
            "source action {}/{} runs in region {r}, not in the pipeline's region {}",
            src.stage, src.action, w.region
        ));
    }
    match s.resources.repositories.get(&src.repository_arn) {
        Some(crate::model::Observed::Ok { .. }) => None,
        Some(crate::model::Observed::Unknown { error }) => Some(format!(
            "repository {} could not be read ({}), so it is not known to be in this account",
            src.repository_name, error.action
        )),
        Some(crate::model::Observed::Absent) | None => Some(format!(
            "repository {} does not exist in account {} region {}",
            src.repository_name, s.account, w.region
        )),
    }
}

/// `release_branch`: the branch a created rule matches, when the
/// configuration names one (else the source action's branch).
fn plan_create(f: &Finding, s: &Snapshot, release_branch: Option<&str>) -> Option<PlannedAction> {
    let w = s.pipelines.iter().find(|w| w.arn == f.pipeline_arn)?;
    let role = name(&w.name, "events");
    let src = w.sources.first()?;
    let branch = release_branch
        .map(str::to_string)
        .or_else(|| src.branch.clone())?;
    let rule = name(&w.name, "trigger");
    Some(step(
        f,
        &Create,
        format!(
            "create rule {rule} (commits to {} branch {branch}) targeting {}, with role {role}",
            src.repository_name, w.name
        ),
        json!({"rule": Value::Null}),
        json!({"rule": rule, "pattern": pattern(&src.repository_arn, &branch), "role": role, "target": w.arn}),
    ))
}

/// The finding's resource is the rule.
fn plan_role(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let w = s.pipelines.iter().find(|w| w.arn == f.pipeline_arn)?;
    let role = name(&w.name, "events");
    let rule = s.resources.event_rules.get(&f.resource_arn)?.value()?;
    let target = rule.targets.iter().find(|t| t.arn == w.arn)?;
    Some(step(
        f,
        &Role,
        format!(
            "give target {} of rule {} the role {role}, allowed only to start {}",
            target.id, rule.name, w.name
        ),
        json!({"target_id": target.id, "role_arn": target.role_arn}),
        json!({"target_id": target.id, "role": role, "target": w.arn}),
    ))
}

/// A logical id for a new resource: `base`, or `base2`, `base3`, ... when
/// the template (or `taken`) already uses it.
fn free_id(doc: &Value, base: &str, taken: &[&str]) -> String {
    let used = |id: &str| {
        taken.contains(&id)
            || [
                "Resources",
                "Parameters",
                "Conditions",
                "Mappings",
                "Outputs",
            ]
            .iter()
            .any(|section| doc[*section].get(id).is_some())
    };
    let mut id = base.to_string();
    let mut n = 1;
    while used(&id) {
        n += 1;
        id = format!("{base}{n}");
    }
    id
}

/// The pipeline's ARN as a template writes it, from its logical id.
fn pipeline_arn_sub(pipeline_id: &str) -> Value {
    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:${{{pipeline_id}}}")})
}

/// The events role of `ensure_role` as a template resource: trusted by
/// EventBridge for this account, allowed only to start the pipeline.
fn role_resource(pipeline_id: &str) -> Value {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": "Lets EventBridge start one pipeline",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
                }]
            },
            "Policies": [{
                "PolicyName": "start-pipeline",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Action": "codepipeline:StartPipelineExecution",
                        "Resource": pipeline_arn_sub(pipeline_id)
                    }]
                }
            }]
        }
    })
}

/// The pipeline of the finding and its logical id in the same template.
fn template_pipeline<'a>(
    f: &Finding,
    cx: &'a TemplateContext<'_>,
) -> Result<(&'a crate::model::PipelineWiring, String), Error> {
    let w = cx
        .snapshot
        .pipelines
        .iter()
        .find(|w| w.arn == f.pipeline_arn)
        .ok_or_else(|| {
            Error::not_edited(format!(
                "pipeline {} is not in the templates",
                f.pipeline_arn
            ))
        })?;
    let id = cx
        .logical_ids
        .get(&w.arn)
        .filter(|id| cx.doc["Resources"][id.as_str()]["Type"] == "AWS::CodePipeline::Pipeline")
        .ok_or_else(|| {
            Error::not_edited(format!(
                "pipeline {} is not defined in the same template as {}",
                w.name, cx.logical_id
            ))
        })?;
    Ok((w, id.clone()))
}

/// The branch a new rule matches (without a configured release branch),
/// as the pipeline's source action writes it: a literal or a `Ref` to a
/// parameter as it is, anything else as the value it has in this audit.
fn template_branch(
    cx: &TemplateContext<'_>,
    pipeline_id: &str,
    stage: &str,
    action: &str,
    resolved: &str,
) -> Value {
    let written = cx.doc["Resources"][pipeline_id]["Properties"]["Stages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|st| st["Name"] == stage)
        .filter_map(|st| st["Actions"].as_array())
        .flatten()
        .find(|a| a["Name"] == action)
        .map(|a| a["Configuration"]["BranchName"].clone());
    match written {
        Some(v @ Value::String(_)) => v,
        Some(v) if v["Ref"].is_string() && v.as_object().is_some_and(|m| m.len() == 1) => v,
        _ => json!(resolved),
    }
}

/// `trigger-create` in a template: the rule the API form creates (commits
/// to the source action's repository and the configured release branch or
/// else the source action's branch, enabled, targeting the
/// pipeline with the events role) and that role, as two new resources
/// that name the template's own resources by logical id.
fn template_create(f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    let s = cx.snapshot;
    if let Some(why) = source_not_local(s, &f.pipeline_arn) {
        return Err(Error::not_edited(format!("no rule is added: {why}")));
    }
    let (w, pipeline_id) = template_pipeline(f, cx)?;
    let src = w
        .sources
        .first()
        .ok_or_else(|| Error::not_edited(format!("{} has no CodeCommit source action", w.name)))?;
    let branch = match cx.config.release_branch.as_deref() {
        Some(release) => json!(release),
        None => {
            let branch = src
                .branch
                .as_deref()
                .ok_or_else(|| Error::not_edited("the source action's branch is not known"))?;
            template_branch(cx, &pipeline_id, &src.stage, &src.action, branch)
        }
    };
    let repository = match cx.logical_ids.get(&src.repository_arn) {
        Some(id) => json!({"Fn::GetAtt": [id, "Arn"]}),
        None => json!({"Fn::Sub": format!(
            "arn:${{AWS::Partition}}:codecommit:${{AWS::Region}}:${{AWS::AccountId}}:{}",
            src.repository_name.replace("${", "${!")
        )}),
    };
    let rule_id = free_id(cx.doc, &format!("{pipeline_id}Trigger"), &[]);
    let role_id = free_id(cx.doc, &format!("{pipeline_id}TriggerRole"), &[&rule_id]);
    let rule = json!({
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": "Starts the pipeline on each commit to its branch",
            "State": "ENABLED",
            "EventPattern": {
                "source": ["aws.codecommit"],
                "detail-type": ["CodeCommit Repository State Change"],
                "resources": [repository],
                "detail": {
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": [branch]
                }
            },
            "Targets": [{
                "Id": "codepipeline",
                "Arn": pipeline_arn_sub(&pipeline_id),
                "RoleArn": {"Fn::GetAtt": [role_id, "Arn"]}
            }]
        }
    });
    Ok(vec![
        Edit::create(&rule_id, rule),
        Edit::create(&role_id, role_resource(&pipeline_id)),
    ])
}

/// `trigger-role` in a template: a new events role, and the rule's
/// target of the pipeline given it (the target otherwise as written).
fn template_role(f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    if cx.resource()["Type"] != "AWS::Events::Rule" {
        return Err(Error::wrong_type(cx.logical_id, "AWS::Events::Rule"));
    }
    let (w, pipeline_id) = template_pipeline(f, cx)?;
    let rule = cx
        .snapshot
        .resources
        .event_rules
        .get(&f.resource_arn)
        .and_then(|r| r.value())
        .ok_or_else(|| Error::not_edited(format!("rule {} was not read", f.resource_arn)))?;
    let target = rule
        .targets
        .iter()
        .find(|t| t.arn == w.arn)
        .ok_or_else(|| {
            Error::not_edited(format!("rule {} has no target of {}", rule.name, w.name))
        })?;
    let n = cx.resource()["Properties"]["Targets"]
        .as_array()
        .and_then(|ts| ts.iter().position(|t| t["Id"] == target.id.as_str()))
        .ok_or_else(|| {
            Error::not_edited(format!(
                "the target {} of {} is not written in its Targets list",
                target.id, cx.logical_id
            ))
        })?;
    let role_id = free_id(cx.doc, &format!("{pipeline_id}TriggerRole"), &[]);
    Ok(vec![
        Edit::create(&role_id, role_resource(&pipeline_id)),
        Edit::set(
            cx.logical_id,
            vec![
                Seg::Key("Properties".into()),
                Seg::Key("Targets".into()),
                Seg::Index(n),
                Seg::Key("RoleArn".into()),
            ],
            json!({"Fn::GetAtt": [role_id, "Arn"]}),
        ),
    ])
}

/// Creates (or finds) the events role for a pipeline; returns its ARN.
async fn ensure_role(
    c: &RegionClients,
    role: &str,
    pipeline_arn: &str,
) -> Result<String, NotApplied> {
    if let Ok(out) = c.iam.get_role().role_name(role).send().await
        && let Some(r) = out.role()
    {
        return Ok(r.arn().to_string());
    }
    let account = pipeline_arn.split(':').nth(4).unwrap_or_default();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]});
    let out = c
        .iam
        .create_role()
        .role_name(role)
        .assume_role_policy_document(trust.to_string())
        .description("Lets EventBridge start one pipeline (created by pipeaudit)")
        .send()
        .await
        .map_err(|e| sdk_failed("iam:CreateRole", &e))?;
    let arn = out.role().map(|r| r.arn().to_string()).unwrap_or_default();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "codepipeline:StartPipelineExecution", "Resource": pipeline_arn}]});
    c.iam
        .put_role_policy()
        .role_name(role)
        .policy_name("start-pipeline")
        .policy_document(policy.to_string())
        .send()
        .await
        .map_err(|e| sdk_failed("iam:PutRolePolicy", &e))?;
    Ok(arn)
}

async fn apply_create(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let role = a.after["role"].as_str().unwrap_or_default().to_string();
    let pipeline = a.after["target"].as_str().unwrap_or_default().to_string();
    let rule = a.after["rule"].as_str().unwrap_or_default().to_string();
    // re-read: a rule of that name must not exist yet (never overwrite one)
    if let Ok(existing) = c.events.describe_rule().name(&rule).send().await {
        let found = json!({"rule": existing.name()});
        return Err(changed(&rule, &a.before, &found));
    }
    let role_arn = ensure_role(c, &role, &pipeline).await?;
    c.events
        .put_rule()
        .name(&rule)
        .event_pattern(a.after["pattern"].to_string())
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .description("Starts the pipeline on each commit to its branch (created by pipeaudit)")
        .send()
        .await
        .map_err(|e| sdk_failed("events:PutRule", &e))?;
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("codepipeline")
        .arn(&pipeline)
        .role_arn(role_arn)
        .build()
        .map_err(|e| NotApplied::Failed(e.to_string()))?;
    c.events
        .put_targets()
        .rule(&rule)
        .targets(target)
        .send()
        .await
        .map_err(|e| sdk_failed("events:PutTargets", &e))?;
    Ok("events:PutRule, events:PutTargets".to_string())
}

async fn apply_role(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let role = a.after["role"].as_str().unwrap_or_default().to_string();
    let pipeline = a.after["target"].as_str().unwrap_or_default().to_string();
    let rule_name = a
        .resource_arn
        .rsplit('/')
        .next()
        .unwrap_or(&a.resource_arn)
        .to_string();
    let targets = c
        .events
        .list_targets_by_rule()
        .rule(&rule_name)
        .send()
        .await
        .map_err(|e| sdk_failed("events:ListTargetsByRule", &e))?;
    let id = a.before["target_id"].as_str().unwrap_or_default();
    let Some(current) = targets.targets().iter().find(|t| t.id() == id).cloned() else {
        return Err(NotApplied::Skipped(format!(
            "target {id} of {rule_name} no longer exists"
        )));
    };
    let found = json!({"target_id": current.id(), "role_arn": current.role_arn()});
    if found != a.before {
        return Err(changed(&rule_name, &a.before, &found));
    }
    let role_arn = ensure_role(c, &role, &pipeline).await?;
    let mut updated = current;
    updated.role_arn = Some(role_arn);
    c.events
        .put_targets()
        .rule(&rule_name)
        .targets(updated)
        .send()
        .await
        .map_err(|e| sdk_failed("events:PutTargets", &e))?;
    Ok("events:PutTargets".to_string())
}

#[cfg(test)]
mod tests {
    use super::name;

    #[test]
    fn names_fit_in_64_characters_and_are_stable() {
        assert_eq!(name("web", "trigger"), "pipeaudit-web-trigger");
        let long = "p".repeat(100);
        let n = name(&long, "events");
        assert!(n.len() <= 64, "{n}");
        assert_eq!(n, name(&long, "events"));
        assert_ne!(n, name(&"q".repeat(100), "events"));
    }
}
