//! Remediation: a plan from the findings, then changes applied one action
//! at a time, each re-reading its resource first and recorded in a journal.
//! One module per fix action (or per pair of closely related actions); every
//! action a rule can name is implemented here.
//!
//! Rules of every action: never delete anything, never widen access beyond
//! the pipeline's own roles, never change something that changed since it
//! was collected.

pub mod apply;
pub mod bucket_encryption;
pub mod bucket_policy;
pub mod bucket_public_access_block;
pub mod bucket_versioning;
pub mod build_project;
pub mod deploy_one_at_a_time;
pub mod deploy_rollback;
pub mod key_cancel_deletion;
pub mod key_policy;
pub mod key_rotation;
pub mod render;
pub mod source_polling;
pub mod trigger;
pub mod trigger_enable;
pub mod verify;

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;
use crate::rules::RuleSet;

/// One change to make.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedAction {
    pub action: String,
    pub safety: FixSafety,
    pub rule_ids: Vec<String>,
    pub pipelines: Vec<String>,
    pub resource_arn: String,
    pub region: String,
    pub description: String,
    /// The value as collected; the action is skipped if it is no longer so.
    /// For a policy, what is kept: `"N existing statement(s), kept unchanged"`.
    pub before: Value,
    /// The value written; for a policy, `{"added_statement": {...}}`, the
    /// statement as it will be written.
    pub after: Value,
    /// The value as collected when `before` only describes it (the whole
    /// policy text): what apply checks the resource against and journals as
    /// the previous value. Not part of the printed plan.
    #[serde(skip)]
    pub collected: Option<Value>,
}

impl PlannedAction {
    /// The value as collected: what apply expects to find.
    pub fn collected(&self) -> &Value {
        self.collected.as_ref().unwrap_or(&self.before)
    }
}

/// A finding that is fixed by hand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualStep {
    pub rule_id: String,
    pub pipeline: String,
    pub resource_arn: String,
    pub remediation: String,
}

/// What `--remediate` will do.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub actions: Vec<PlannedAction>,
    /// Unsafe actions left out (pass --unsafe-fixes to include them).
    pub held_back: Vec<PlannedAction>,
    pub manual: Vec<ManualStep>,
}

/// The result of one applied action, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    pub action: String,
    pub resource_arn: String,
    pub api_call: String,
    pub previous: Value,
    pub new: Value,
    pub time: String,
    /// `applied`, `skipped` (changed since collected) or `failed`.
    pub outcome: String,
    pub message: String,
}

/// Builds the plan for the findings of an audit.
/// `config` gives the release branch a created trigger matches (the source
/// action's branch when none is set).
pub fn plan(
    snapshot: &Snapshot,
    findings: &[Finding],
    rules: &RuleSet,
    config: &crate::rules::config::Config,
    unsafe_fixes: bool,
) -> Plan {
    let mut plan = Plan::default();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut pending_policies = std::collections::BTreeMap::new();
    let mut deferred: Vec<&Finding> = Vec::new();
    for f in findings {
        if f.fix
            .as_ref()
            .is_some_and(|x| x.action == source_polling::ACTION)
        {
            // decided once the trigger fixes are planned
            deferred.push(f);
            continue;
        }
        let step = match f.fix.as_ref().map(|x| x.action.as_str()) {
            Some(key_rotation::ACTION) => key_rotation::plan(f, snapshot),
            Some(deploy_rollback::ACTION) => deploy_rollback::plan(f, snapshot),
            Some(key_policy::GRANT) => key_policy::plan(f, snapshot, key_policy::GRANT),
            Some(key_policy::CREATE_CMK) => {
                // one new key per pipeline, whichever finding asked for it
                if !seen.insert(("store-create-cmk:once".to_string(), f.pipeline_arn.clone())) {
                    continue;
                }
                key_policy::plan(f, snapshot, key_policy::CREATE_CMK)
            }
            Some(a @ (trigger::CREATE | trigger::ROLE)) => {
                // one created rule per pipeline, whichever finding asked for it
                let key = if a == trigger::CREATE {
                    f.pipeline_arn.clone()
                } else {
                    f.resource_arn.clone()
                };
                if !seen.insert((format!("{a}:once"), key)) {
                    continue;
                }
                if a == trigger::CREATE
                    && let Some(why) = trigger::source_not_local(snapshot, &f.pipeline_arn)
                {
                    plan.manual.push(ManualStep {
                        rule_id: f.rule_id.clone(),
                        pipeline: f.pipeline.clone(),
                        resource_arn: f.resource_arn.clone(),
                        remediation: format!(
                            "Not created automatically: {why}. Create the rule where the repository's events arrive (its account's default bus, forwarded to this account's bus), targeting the pipeline."
                        ),
                    });
                    continue;
                }
                trigger::plan(f, snapshot, a, config.release_branch.as_deref())
            }
            Some(deploy_one_at_a_time::ACTION) => deploy_one_at_a_time::plan(f, snapshot),
            Some(a @ (build_project::ENCRYPTION_KEY | build_project::PRIVILEGED_OFF)) => {
                build_project::plan(f, snapshot, a)
            }
            Some(key_cancel_deletion::ACTION) => key_cancel_deletion::plan(f, snapshot),
            Some(bucket_versioning::ACTION) => bucket_versioning::plan(f, snapshot),
            Some(bucket_public_access_block::ACTION) => {
                bucket_public_access_block::plan(f, snapshot)
            }
            Some(bucket_encryption::ACTION) => bucket_encryption::plan(f, snapshot),
            Some(trigger_enable::ACTION) => trigger_enable::plan(f, snapshot),
            Some(a @ (bucket_policy::INSECURE | bucket_policy::UNENCRYPTED)) => {
                if seen.contains(&(a.to_string(), f.resource_arn.clone())) {
                    continue;
                }
                bucket_policy::plan(f, snapshot, a, &mut pending_policies)
            }
            _ => None,
        };
        let Some(mut step) = step else {
            plan.manual.push(ManualStep {
                rule_id: f.rule_id.clone(),
                pipeline: f.pipeline.clone(),
                resource_arn: f.resource_arn.clone(),
                remediation: rules
                    .get(&f.rule_id)
                    .map(|r| r.file.docs.remediation.trim().to_string())
                    .unwrap_or_default(),
            });
            continue;
        };
        if !seen.insert((step.action.clone(), step.resource_arn.clone())) {
            // the same change for another pipeline or rule: merge
            let list = if step.safety == FixSafety::Safe || unsafe_fixes {
                &mut plan.actions
            } else {
                &mut plan.held_back
            };
            if let Some(a) = list
                .iter_mut()
                .find(|a| a.action == step.action && a.resource_arn == step.resource_arn)
            {
                for id in step.rule_ids.drain(..) {
                    if !a.rule_ids.contains(&id) {
                        a.rule_ids.push(id);
                    }
                }
                for p in step.pipelines.drain(..) {
                    if !a.pipelines.contains(&p) {
                        a.pipelines.push(p);
                    }
                }
            }
            continue;
        }
        if step.safety == FixSafety::Safe || unsafe_fixes {
            plan.actions.push(step);
        } else {
            plan.held_back.push(step);
        }
    }
    for f in deferred {
        // only once an enabled, matching trigger exists or is planned
        let trigger_findings: Vec<&Finding> = findings
            .iter()
            .filter(|t| {
                t.pipeline_arn == f.pipeline_arn
                    && matches!(t.rule_id.as_str(), "TR001" | "TR002" | "TR003")
            })
            .collect();
        if let Some(why) = trigger::source_not_local(snapshot, &f.pipeline_arn) {
            plan.manual.push(ManualStep {
                rule_id: f.rule_id.clone(),
                pipeline: f.pipeline.clone(),
                resource_arn: f.resource_arn.clone(),
                remediation: format!(
                    "Polling is left on: {why}, so no rule of this account is known to start the pipeline. Turn polling off only once a rule that receives the repository's events starts it."
                ),
            });
            continue;
        }
        // With no trigger finding, a rule that starts the pipeline must be
        // known to be there: the trigger rules may have reported a gap
        // (their values unknown) rather than passed.
        let fixed = if trigger_findings.is_empty() {
            source_polling::trigger_in_place(f, snapshot)
        } else {
            trigger_findings.iter().all(|t| {
                plan.actions
                    .iter()
                    .any(|a| a.rule_ids.contains(&t.rule_id) && a.pipelines.contains(&t.pipeline))
            })
        };
        let step = if fixed {
            source_polling::plan(f, snapshot)
        } else {
            None
        };
        match step {
            Some(s) if seen.insert((s.action.clone(), s.resource_arn.clone())) => plan.actions.push(s),
            Some(_) => {}
            None => plan.manual.push(ManualStep {
                rule_id: f.rule_id.clone(),
                pipeline: f.pipeline.clone(),
                resource_arn: f.resource_arn.clone(),
                remediation: "Create or fix the trigger rule first (see TR001-TR003), then set PollForSourceChanges to false.".to_string(),
            }),
        }
    }
    // manual steps grouped by rule (in the findings' order within a rule)
    plan.manual.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    plan
}

/// The number of statements in a policy text (0 for none or not JSON).
pub(crate) fn statement_count(policy: Option<&str>) -> usize {
    policy
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .map(|d| match &d["Statement"] {
            Value::Array(a) => a.len(),
            Value::Object(_) => 1,
            _ => 0,
        })
        .unwrap_or(0)
}

/// What a policy action keeps, for `before`: the statements there, of
/// which `planned` are added by earlier actions of the same plan.
pub(crate) fn kept_statements(total: usize, planned: usize) -> Value {
    let existing = total.saturating_sub(planned);
    Value::String(match (existing, planned) {
        (0, 0) => "no policy yet".to_string(),
        (n, 0) => format!("{n} existing statement(s), kept unchanged"),
        (n, p) => {
            format!("{n} existing statement(s) and {p} added by the action above, kept unchanged")
        }
    })
}

pub(crate) fn step(
    f: &Finding,
    action: &str,
    safety: FixSafety,
    description: String,
    before: Value,
    after: Value,
) -> PlannedAction {
    PlannedAction {
        action: action.to_string(),
        safety,
        rule_ids: vec![f.rule_id.clone()],
        pipelines: vec![f.pipeline.clone()],
        resource_arn: f.resource_arn.clone(),
        region: f.region.clone(),
        description,
        before,
        after,
        collected: None,
    }
}

fn now() -> String {
    crate::collect::call::timestamp(&aws_smithy_types::DateTime::from(
        std::time::SystemTime::now(),
    ))
}

/// Applies one action (a failure is reported, not raised).
pub async fn apply_one(c: &RegionClients, a: &PlannedAction) -> Applied {
    let result = match a.action.as_str() {
        key_rotation::ACTION => key_rotation::apply(c, a).await,
        deploy_rollback::ACTION => deploy_rollback::apply(c, a).await,
        trigger::CREATE | trigger::ROLE => trigger::apply(c, a).await,
        source_polling::ACTION => source_polling::apply(c, a).await,
        key_policy::GRANT | key_policy::CREATE_CMK => key_policy::apply(c, a).await,
        deploy_one_at_a_time::ACTION => deploy_one_at_a_time::apply(c, a).await,
        build_project::ENCRYPTION_KEY | build_project::PRIVILEGED_OFF => {
            build_project::apply(c, a).await
        }
        key_cancel_deletion::ACTION => key_cancel_deletion::apply(c, a).await,
        bucket_versioning::ACTION => bucket_versioning::apply(c, a).await,
        bucket_public_access_block::ACTION => bucket_public_access_block::apply(c, a).await,
        bucket_encryption::ACTION => bucket_encryption::apply(c, a).await,
        trigger_enable::ACTION => trigger_enable::apply(c, a).await,
        bucket_policy::INSECURE | bucket_policy::UNENCRYPTED => bucket_policy::apply(c, a).await,
        other => Err(Outcome::Failed(format!("no implementation for {other}"))),
    };
    let (outcome, message, api_call) = match result {
        Ok(call) => ("applied", String::new(), call),
        Err(Outcome::Skipped(m)) => ("skipped", m, String::new()),
        Err(Outcome::Failed(m)) => ("failed", m, String::new()),
    };
    Applied {
        action: a.action.clone(),
        resource_arn: a.resource_arn.clone(),
        api_call,
        previous: a.collected().clone(),
        new: if outcome == "applied" {
            a.after.clone()
        } else {
            a.collected().clone()
        },
        time: now(),
        outcome: outcome.to_string(),
        message,
    }
}

/// Why an action was not applied.
#[derive(Debug)]
pub enum Outcome {
    /// The resource changed since it was collected.
    Skipped(String),
    /// AWS refused, or the call failed.
    Failed(String),
}

/// Appends a statement to a policy document (JSON), turning a single
/// statement object into a list and making the Sid unique. Every existing
/// statement is kept exactly as it was.
pub(crate) fn append_statement(doc: &mut Value, mut statement: Value) -> Result<(), String> {
    let statements = match doc.get_mut("Statement") {
        Some(Value::Array(a)) => a,
        Some(single @ Value::Object(_)) => {
            let one = single.take();
            *single = Value::Array(vec![one]);
            match single {
                Value::Array(a) => a,
                _ => return Err("unexpected policy shape".to_string()),
            }
        }
        _ => return Err("the policy has no Statement list".to_string()),
    };
    let base = statement["Sid"].as_str().unwrap_or("Pipeaudit").to_string();
    let mut sid = base.clone();
    let mut n = 1;
    while statements.iter().any(|s| s["Sid"] == sid.as_str()) {
        n += 1;
        sid = format!("{base}{n}");
    }
    statement["Sid"] = Value::String(sid);
    statements.push(statement);
    Ok(())
}

/// The current declaration of a pipeline, for an UpdatePipeline.
pub(crate) async fn pipeline_declaration(
    c: &RegionClients,
    name: &str,
) -> Result<aws_sdk_codepipeline::types::PipelineDeclaration, Outcome> {
    let out = c
        .codepipeline
        .get_pipeline()
        .name(name)
        .send()
        .await
        .map_err(|e| sdk_failed("codepipeline:GetPipeline", &e))?;
    out.pipeline()
        .cloned()
        .ok_or_else(|| Outcome::Failed(format!("GetPipeline returned no declaration for {name}")))
}

/// The current state of a deployment group: (application, group, info).
pub(crate) async fn deployment_group(
    c: &RegionClients,
    arn: &str,
) -> Result<
    (
        String,
        String,
        aws_sdk_codedeploy::types::DeploymentGroupInfo,
    ),
    Outcome,
> {
    let (app, group) = deploy_rollback::names(arn)
        .ok_or_else(|| Outcome::Failed(format!("not a deployment group ARN: {arn}")))?;
    let out = c
        .codedeploy
        .get_deployment_group()
        .application_name(&app)
        .deployment_group_name(&group)
        .send()
        .await
        .map_err(|e| sdk_failed("codedeploy:GetDeploymentGroup", &e))?;
    let info = out
        .deployment_group_info()
        .cloned()
        .ok_or_else(|| Outcome::Skipped(format!("{arn} no longer exists")))?;
    Ok((app, group, info))
}

pub(crate) fn changed(what: &str, expected: &Value, found: &Value) -> Outcome {
    Outcome::Skipped(format!(
        "{what} changed since it was collected (expected {expected}, found {found}); re-run to plan again"
    ))
}

pub(crate) fn sdk_failed<E>(
    call: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> Outcome
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = crate::collect::call::read_error(call, e);
    Outcome::Failed(format!(
        "{call}: {}{}",
        err.code.map(|c| format!("{c}: ")).unwrap_or_default(),
        err.message
    ))
}

/// Every action implemented here (dispatched by [`plan`] and [`apply_one`]).
pub const ACTIONS: &[&str] = &[
    trigger::CREATE,
    trigger::ROLE,
    trigger_enable::ACTION,
    source_polling::ACTION,
    bucket_encryption::ACTION,
    bucket_policy::UNENCRYPTED,
    bucket_policy::INSECURE,
    bucket_public_access_block::ACTION,
    bucket_versioning::ACTION,
    key_rotation::ACTION,
    key_cancel_deletion::ACTION,
    key_policy::GRANT,
    key_policy::CREATE_CMK,
    build_project::ENCRYPTION_KEY,
    build_project::PRIVILEGED_OFF,
    deploy_rollback::ACTION,
    deploy_one_at_a_time::ACTION,
];

#[cfg(test)]
mod tests {
    use super::ACTIONS;
    use crate::rules::{FIX_ACTIONS, RuleSet};

    #[test]
    fn every_fix_a_rule_names_is_implemented() {
        for a in FIX_ACTIONS {
            assert!(ACTIONS.contains(a), "{a} declared but not implemented");
        }
        let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
        for r in &rules.rules {
            if let Some(fix) = &r.file.fix {
                assert!(
                    ACTIONS.contains(&fix.action.as_str()),
                    "{} names {}",
                    r.file.id,
                    fix.action
                );
            }
        }
    }
}
