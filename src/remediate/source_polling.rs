//! `source-polling-off`: set `PollForSourceChanges` to false on a CodeCommit
//! source action. Planned only when an enabled trigger rule that matches
//! the branch exists or is created or enabled by the same plan (it depends
//! on `trigger-create` and `trigger-enable`), so that commits keep starting
//! the pipeline.

use serde_json::{Value, json};

use super::registry::{
    ApplyFuture, Dedupe, Dependencies, FixAction, NotPlanned, PlanContext, TemplateContext,
    TemplateForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::aws::event_pattern;
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, Snapshot};
use crate::patch::{Edit, Seg};

/// `source-polling-off`.
pub struct SourcePollingOff;

impl FixAction for SourcePollingOff {
    fn id(&self) -> &'static str {
        "source-polling-off"
    }
    fn summary(&self) -> &'static str {
        "UpdatePipeline: PollForSourceChanges false on the source action; planned only when an enabled matching rule is known to exist (read, not unknown) or is created earlier in the same plan (otherwise a manual step)."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Safe
    }
    fn dedupe(&self) -> Dedupe {
        Dedupe::SkipIfPlanned
    }
    fn depends_on(&self) -> &'static [&'static str] {
        &["trigger-create", "trigger-enable"]
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        let s = cx.snapshot;
        if let Some(why) = super::trigger::source_not_local(s, &f.pipeline_arn) {
            return Err(NotPlanned::ManualBecause(format!(
                "Polling is left on: {why}, so no rule of this account is known to start the pipeline. Turn polling off only once a rule that receives the repository's events starts it."
            )));
        }
        // With no trigger finding, a rule that starts the pipeline must be
        // known to be there: the trigger rules may have reported a gap
        // (their values unknown) rather than passed.
        let fixed = match cx.dependencies {
            Dependencies::NotAsked => trigger_in_place(f, s),
            Dependencies::Planned => true,
            Dependencies::NotPlanned => false,
        };
        fixed.then(|| plan(f, s)).flatten().ok_or_else(|| {
            NotPlanned::ManualBecause(
                "Create or fix the trigger rule first (see TR001-TR003), then set PollForSourceChanges to false.".to_string(),
            )
        })
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`PollForSourceChanges: false` on the pipeline's CodeCommit source actions, once an enabled rule of the templates starts the pipeline",
            edits: template_edits,
        })
    }
}

/// `PollForSourceChanges: false` on each CodeCommit source action of
/// the pipeline's resource that does not say so, once a rule that
/// starts the pipeline is in the templates.
fn template_edits(f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    if !trigger_in_place(f, cx.snapshot) {
        return Err(Error::not_edited(
            "no enabled rule in the templates starts the pipeline on commits to the polled branch: add one (see TR001-TR003), then set PollForSourceChanges to false",
        ));
    }
    let stages = cx.resource()["Properties"]["Stages"]
        .as_array()
        .ok_or_else(|| Error::not_edited("the pipeline's Stages are not a list"))?;
    let mut edits = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        let Some(actions) = stage["Actions"].as_array() else {
            continue;
        };
        for (j, a) in actions.iter().enumerate() {
            let t = &a["ActionTypeId"];
            let off = matches!(
                &a["Configuration"]["PollForSourceChanges"],
                Value::Bool(false)
            ) || a["Configuration"]["PollForSourceChanges"].as_str() == Some("false");
            if t["Category"] == "Source" && t["Provider"] == "CodeCommit" && !off {
                edits.push(Edit::set(
                    cx.logical_id,
                    vec![
                        Seg::Key("Properties".into()),
                        Seg::Key("Stages".into()),
                        Seg::Index(i),
                        Seg::Key("Actions".into()),
                        Seg::Index(j),
                        Seg::Key("Configuration".into()),
                        Seg::Key("PollForSourceChanges".into()),
                    ],
                    json!(false),
                ));
            }
        }
    }
    if edits.is_empty() {
        return Err(Error::not_edited(
            "no CodeCommit source action with polling is written in the template",
        ));
    }
    Ok(edits)
}

/// Whether a rule that was read, is enabled, targets the pipeline and
/// matches commits to the polled source's branch is already in place. A
/// rule that could not be read never counts: without a rule known to start
/// the pipeline, turning polling off could leave it never started.
fn trigger_in_place(f: &Finding, s: &Snapshot) -> bool {
    let Some(w) = s.pipelines.iter().find(|w| w.arn == f.pipeline_arn) else {
        return false;
    };
    let Some(src) = w
        .sources
        .iter()
        .find(|x| x.poll_for_source_changes != Some(false))
    else {
        return false;
    };
    let Some(branch) = &src.branch else {
        return false;
    };
    let commit = event_pattern::commit_event(&src.repository_arn, branch);
    w.trigger_rules.iter().any(|arn| {
        let Some(Observed::Ok { value: rule }) = s.resources.event_rules.get(arn) else {
            return false;
        };
        rule.state.starts_with("ENABLED")
            && rule.targets.iter().any(|t| t.arn == w.arn)
            && rule
                .event_pattern
                .as_ref()
                .is_some_and(|p| event_pattern::matches(p, &commit).unwrap_or(false))
    })
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let w = s.pipelines.iter().find(|w| w.arn == f.pipeline_arn)?;
    let src = w
        .sources
        .iter()
        .find(|x| x.poll_for_source_changes != Some(false))?;
    Some(step(
        f,
        &SourcePollingOff,
        format!(
            "set PollForSourceChanges to false on {}/{} of {}",
            src.stage, src.action, w.name
        ),
        json!({"stage": src.stage, "action": src.action, "PollForSourceChanges": src.poll_for_source_changes.map(|b| b.to_string())}),
        json!({"stage": src.stage, "action": src.action, "PollForSourceChanges": "false"}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let name = a
        .resource_arn
        .rsplit(':')
        .next()
        .unwrap_or(&a.resource_arn)
        .to_string();
    let mut decl = super::pipeline_declaration(c, &name).await?;
    let stage = a.before["stage"].as_str().unwrap_or_default();
    let action = a.before["action"].as_str().unwrap_or_default();
    let Some(act) = decl
        .stages
        .iter_mut()
        .filter(|s| s.name == stage)
        .flat_map(|s| s.actions.iter_mut())
        .find(|x| x.name == action)
    else {
        return Err(NotApplied::Skipped(format!(
            "{name}: action {stage}/{action} no longer exists"
        )));
    };
    let config = act.configuration.get_or_insert_with(Default::default);
    let current = config
        .get("PollForSourceChanges")
        .map(|v| v.trim().to_ascii_lowercase());
    let found = json!({"stage": stage, "action": action, "PollForSourceChanges": current});
    if found != a.before {
        return Err(changed(&name, &a.before, &found));
    }
    config.insert("PollForSourceChanges".to_string(), "false".to_string());
    c.codepipeline
        .update_pipeline()
        .pipeline(decl)
        .send()
        .await
        .map_err(|e| sdk_failed("codepipeline:UpdatePipeline", &e))?;
    Ok("codepipeline:UpdatePipeline".to_string())
}
