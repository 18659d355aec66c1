//! Remediation: a plan from the findings, then changes applied one action
//! at a time, each re-reading its resource first and recorded in a journal.
//! Each fix action is a value registered once in [`registry`], with its id,
//! safety, deduplication, dependencies and its plan and apply steps; the
//! code of an action lives in its own module (two closely related actions
//! may share one). A rule's `fix.action` names one of them.
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
pub mod error;
pub mod instance;
pub mod key_cancel_deletion;
pub mod key_policy;
pub mod key_rotation;
pub mod registry;
pub mod render;
pub mod source_polling;
pub mod trigger;
pub mod trigger_enable;
pub mod verify;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;
use crate::rules::RuleSet;
pub use error::{Error, PolicyError};
use registry::{Dedupe, Dependencies, FixAction, NotPlanned, PlanContext};

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
pub struct FixPlan {
    pub actions: Vec<PlannedAction>,
    /// Unsafe actions left out (pass --unsafe-fixes to include them).
    pub held_back: Vec<PlannedAction>,
    pub manual: Vec<ManualStep>,
    /// The stacks that manage the resources of planned changes, by ARN.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub iac_managed: BTreeMap<String, crate::iac::Managed>,
    /// Resources of planned changes whose stack could not be read: why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub iac_unknown: BTreeMap<String, String>,
}

impl FixPlan {
    /// The resources the plan would change (held-back changes included).
    pub fn resources(&self) -> BTreeSet<String> {
        self.actions
            .iter()
            .chain(&self.held_back)
            .map(|a| a.resource_arn.clone())
            .collect()
    }

    /// Notes which stack manages each resource the plan would change
    /// (`template` gives its file and line when known). With `skip`, the
    /// changes to those resources, and to resources whose stack could not be
    /// read, become manual steps pointing at the template instead.
    pub fn note_stacks(
        &mut self,
        stacks: &BTreeMap<String, crate::model::Observed<crate::model::StackRef>>,
        template: impl Fn(&crate::model::StackRef) -> Option<String>,
        skip: bool,
    ) {
        use crate::model::Observed;
        for arn in self.resources() {
            match stacks.get(&arn) {
                Some(Observed::Ok { value }) => {
                    self.iac_managed.insert(
                        arn,
                        crate::iac::Managed {
                            stack: value.stack.clone(),
                            logical_id: value.logical_id.clone(),
                            template: template(value),
                        },
                    );
                }
                Some(Observed::Unknown { error }) => {
                    self.iac_unknown
                        .insert(arn, format!("{}: {}", error.action, error.message));
                }
                Some(Observed::Absent) | None => {}
            }
        }
        if !skip {
            return;
        }
        let managed = &self.iac_managed;
        let unknown = &self.iac_unknown;
        let mut manual = Vec::new();
        for list in [&mut self.actions, &mut self.held_back] {
            list.retain(|a| {
                let why = if let Some(m) = managed.get(&a.resource_arn) {
                    format!(
                        "managed by CloudFormation stack {} ({}): change it in {} and update the stack (`--fix-patch FILE` with --iac writes the change as a patch to the template; --allow-drift writes it to the account)",
                        m.stack,
                        m.logical_id,
                        m.template.as_deref().unwrap_or("the stack's template")
                    )
                } else if let Some(e) = unknown.get(&a.resource_arn) {
                    format!(
                        "whether a CloudFormation stack manages it could not be read ({e}); left out (--allow-drift writes it anyway)"
                    )
                } else {
                    return true;
                };
                for rule in &a.rule_ids {
                    manual.push(ManualStep {
                        rule_id: rule.clone(),
                        pipeline: a.pipelines.first().cloned().unwrap_or_default(),
                        resource_arn: a.resource_arn.clone(),
                        remediation: format!("{}: {why}", a.description),
                    });
                }
                false
            });
        }
        self.manual.extend(manual);
    }
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
    pub outcome: AppliedOutcome,
    pub message: String,
}

/// What became of one action, as the journal and the progress lines name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AppliedOutcome {
    /// Written.
    #[serde(rename = "applied")]
    Applied,
    /// Not written: the resource changed since it was collected.
    #[serde(rename = "skipped")]
    Skipped,
    /// The write failed.
    #[serde(rename = "failed")]
    Failed,
    /// Nothing to change (the re-read showed the fix in place): not written.
    #[serde(rename = "already in place")]
    AlreadyInPlace,
}

impl std::fmt::Display for AppliedOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AppliedOutcome::Applied => "applied",
            AppliedOutcome::Skipped => "skipped",
            AppliedOutcome::Failed => "failed",
            AppliedOutcome::AlreadyInPlace => "already in place",
        })
    }
}

/// Builds the plan for the findings of an audit.
/// `config` gives the release branch a created trigger matches (the source
/// action's branch when none is set).
///
/// Findings are planned in the findings' order, round by round: an action
/// that depends on others ([`FixAction::depends_on`]) is planned after
/// them. How several findings asking for one action combine is the
/// action's [`Dedupe`].
pub fn plan(
    snapshot: &Snapshot,
    findings: &[Finding],
    rules: &RuleSet,
    config: &crate::rules::config::Config,
    unsafe_fixes: bool,
) -> FixPlan {
    let mut plan = FixPlan::default();
    let mut cx = PlanContext {
        snapshot,
        config,
        pending_policies: BTreeMap::new(),
        dependencies: Dependencies::NotAsked,
    };
    // changes planned, by (action, resource)
    let mut planned: BTreeSet<(String, String)> = BTreeSet::new();
    // once-only actions taken, by (action, pipeline or resource)
    let mut taken: BTreeSet<(&'static str, String)> = BTreeSet::new();
    let fix_of = |f: &Finding| f.fix.as_ref().and_then(|x| registry::find(&x.action));
    let last_round = findings
        .iter()
        .filter_map(fix_of)
        .map(registry::round)
        .max()
        .unwrap_or(0);
    let manual = |f: &Finding, remediation: String| ManualStep {
        rule_id: f.rule_id.clone(),
        pipeline: f.pipeline.clone(),
        resource_arn: f.resource_arn.clone(),
        remediation,
    };
    let rule_remediation = |f: &Finding| {
        rules
            .get(&f.rule_id)
            .map(|r| r.file.docs.remediation.trim().to_string())
            .unwrap_or_default()
    };
    for round in 0..=last_round {
        for f in findings {
            let action = fix_of(f);
            if action.map_or(0, registry::round) != round {
                continue;
            }
            let Some(action) = action else {
                plan.manual.push(manual(f, rule_remediation(f)));
                continue;
            };
            // a resource of another account (a deploy followed into it) is
            // changed there, with that account's credentials, never here
            if let Some(other) = f.resource_arn.split(':').nth(4).filter(|a| {
                a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) && *a != snapshot.account
            }) {
                plan.manual.push(manual(
                    f,
                    format!(
                        "in account {other}, not the audited account {}: remediate it with that account's audit. {}",
                        snapshot.account,
                        rule_remediation(f)
                    ),
                ));
                continue;
            }
            let first = match action.dedupe() {
                Dedupe::MergeSameResource => true,
                Dedupe::SkipIfPlanned => {
                    !planned.contains(&(action.id().to_string(), f.resource_arn.clone()))
                }
                Dedupe::OncePerPipeline => taken.insert((action.id(), f.pipeline_arn.clone())),
                Dedupe::OncePerResource => taken.insert((action.id(), f.resource_arn.clone())),
            };
            if !first {
                continue;
            }
            cx.dependencies = dependencies(action, f, findings, &plan.actions);
            let mut step = match action.plan(f, &mut cx) {
                Ok(step) => step,
                Err(NotPlanned::Manual) => {
                    plan.manual.push(manual(f, rule_remediation(f)));
                    continue;
                }
                Err(NotPlanned::ManualBecause(why)) => {
                    plan.manual.push(manual(f, why));
                    continue;
                }
            };
            let list = if step.safety == FixSafety::Safe || unsafe_fixes {
                &mut plan.actions
            } else {
                &mut plan.held_back
            };
            if planned.insert((step.action.clone(), step.resource_arn.clone())) {
                list.push(step);
                continue;
            }
            // the same change for another pipeline or rule: merge
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
        }
    }
    // manual steps grouped by rule (in the findings' order within a rule)
    plan.manual.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    plan
}

/// How the findings of `f`'s pipeline that ask for an action `action`
/// depends on stand: planned when each is part of a planned action.
fn dependencies(
    action: &dyn FixAction,
    f: &Finding,
    findings: &[Finding],
    planned: &[PlannedAction],
) -> Dependencies {
    let needs = action.depends_on();
    let mut asking = findings
        .iter()
        .filter(|t| {
            t.pipeline_arn == f.pipeline_arn
                && t.fix
                    .as_ref()
                    .is_some_and(|x| needs.contains(&x.action.as_str()))
        })
        .peekable();
    if asking.peek().is_none() {
        return Dependencies::NotAsked;
    }
    if asking.all(|t| {
        planned
            .iter()
            .any(|a| a.rule_ids.contains(&t.rule_id) && a.pipelines.contains(&t.pipeline))
    }) {
        Dependencies::Planned
    } else {
        Dependencies::NotPlanned
    }
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

/// An action for one finding, with the action's id and safety.
pub(crate) fn step(
    f: &Finding,
    action: &dyn FixAction,
    description: String,
    before: Value,
    after: Value,
) -> PlannedAction {
    PlannedAction {
        action: action.id().to_string(),
        safety: action.safety(),
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
    let result = match registry::find(&a.action) {
        Some(action) => action.apply(c, a).await,
        None => Err(NotApplied::Failed(format!(
            "no implementation for {}",
            a.action
        ))),
    };
    let (outcome, message, api_call) = match result {
        Ok(call) => (AppliedOutcome::Applied, String::new(), call),
        Err(NotApplied::Skipped(m)) => (AppliedOutcome::Skipped, m, String::new()),
        Err(NotApplied::Failed(m)) => (AppliedOutcome::Failed, m, String::new()),
        Err(NotApplied::InPlace(m)) => (AppliedOutcome::AlreadyInPlace, m, String::new()),
    };
    Applied {
        action: a.action.clone(),
        resource_arn: a.resource_arn.clone(),
        api_call,
        previous: a.collected().clone(),
        new: if outcome == AppliedOutcome::Applied {
            a.after.clone()
        } else {
            a.collected().clone()
        },
        time: now(),
        outcome,
        message,
    }
}

/// Why an action was not applied.
#[derive(Debug)]
pub enum NotApplied {
    /// The resource changed since it was collected.
    Skipped(String),
    /// AWS refused, or the call failed.
    Failed(String),
    /// The re-read resource already is as the action would make it: no
    /// write (an API call that changes nothing is never made).
    InPlace(String),
}

/// Whether the policy `doc` an action would write is the policy already
/// there (`current`, as text), statement for statement.
pub(crate) fn same_policy(current: Option<&str>, doc: &Value) -> bool {
    let Some(current) = current else {
        return false;
    };
    match (
        crate::model::PolicyDocument::parse(current),
        crate::model::PolicyDocument::parse(&doc.to_string()),
    ) {
        (Ok(a), Ok(b)) => a.normalized() == b.normalized(),
        _ => false,
    }
}

/// Appends a statement to a policy document (JSON), turning a single
/// statement object into a list and making the Sid unique. Every existing
/// statement is kept exactly as it was.
pub(crate) fn append_statement(doc: &mut Value, mut statement: Value) -> Result<(), Error> {
    if let Some(single @ Value::Object(_)) = doc.get_mut("Statement") {
        let one = single.take();
        *single = Value::Array(vec![one]);
    }
    let Some(Value::Array(statements)) = doc.get_mut("Statement") else {
        return Err(PolicyError::NoStatementList.into());
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
) -> Result<aws_sdk_codepipeline::types::PipelineDeclaration, NotApplied> {
    let out = c
        .codepipeline
        .get_pipeline()
        .name(name)
        .send()
        .await
        .map_err(|e| sdk_failed("codepipeline:GetPipeline", &e))?;
    out.pipeline().cloned().ok_or_else(|| {
        NotApplied::Failed(format!("GetPipeline returned no declaration for {name}"))
    })
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
    NotApplied,
> {
    let (app, group) = deploy_rollback::names(arn)
        .ok_or_else(|| NotApplied::Failed(format!("not a deployment group ARN: {arn}")))?;
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
        .ok_or_else(|| NotApplied::Skipped(format!("{arn} no longer exists")))?;
    Ok((app, group, info))
}

pub(crate) fn changed(what: &str, expected: &Value, found: &Value) -> NotApplied {
    NotApplied::Skipped(format!(
        "{what} changed since it was collected (expected {expected}, found {found}); re-run to plan again"
    ))
}

pub(crate) fn sdk_failed<E>(
    call: &str,
    e: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> NotApplied
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = crate::collect::call::read_error(call, e);
    NotApplied::Failed(format!(
        "{call}: {}{}",
        err.code.map(|c| format!("{c}: ")).unwrap_or_default(),
        err.message
    ))
}
