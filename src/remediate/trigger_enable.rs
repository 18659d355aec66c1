//! `trigger-enable`: enable a disabled rule that targets the pipeline.

use serde_json::json;

use super::registry::{
    ApplyFuture, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm, TerraformForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;
use crate::patch::terraform::{TfContext, TfEdit};
use crate::patch::{Edit, path};

/// `trigger-enable`.
pub struct TriggerEnable;

impl FixAction for TriggerEnable {
    fn id(&self) -> &'static str {
        "trigger-enable"
    }
    fn summary(&self) -> &'static str {
        "EnableRule on the disabled rule that starts the pipeline."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Safe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`State: ENABLED` on the disabled `AWS::Events::Rule` that targets the pipeline",
            edits: template_edits,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "`state = \"ENABLED\"` on the `aws_cloudwatch_event_rule` (`is_enabled = true` where the configuration writes that older attribute)",
            edits: terraform_edits,
        })
    }
}

/// `State: ENABLED` on the rule's resource, the end state `EnableRule`
/// leaves.
fn template_edits(_f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    let r = cx.resource();
    if r["Type"] != "AWS::Events::Rule" {
        return Err(Error::wrong_type(cx.logical_id, "AWS::Events::Rule"));
    }
    if r["Properties"]["State"] != "DISABLED" {
        return Err(Error::not_edited(format!(
            "the State of {} is not written as DISABLED",
            cx.logical_id
        )));
    }
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "State"]),
        json!("ENABLED"),
    )])
}

fn terraform_edits(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    if cx.ty() != "aws_cloudwatch_event_rule" {
        return Err(Error::wrong_type(cx.address, "aws_cloudwatch_event_rule"));
    }
    Ok(vec![if cx.configured("is_enabled") {
        TfEdit::set(cx.address, &["is_enabled"], json!(true))
    } else {
        TfEdit::set(cx.address, &["state"], json!("ENABLED"))
    }])
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let r = s.resources.event_rules.get(&f.resource_arn)?.value()?;
    if r.state != "DISABLED" {
        return None;
    }
    Some(step(
        f,
        &TriggerEnable,
        format!("enable rule {}", r.name),
        json!({"state": "DISABLED"}),
        json!({"state": "ENABLED"}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let name = a
        .resource_arn
        .rsplit('/')
        .next()
        .unwrap_or(&a.resource_arn)
        .to_string();
    let now = c
        .events
        .describe_rule()
        .name(&name)
        .send()
        .await
        .map_err(|e| sdk_failed("events:DescribeRule", &e))?;
    let found = json!({"state": now.state().map(|s| s.as_str().to_string())});
    if found != a.before {
        return Err(changed(&name, &a.before, &found));
    }
    c.events
        .enable_rule()
        .name(&name)
        .send()
        .await
        .map_err(|e| sdk_failed("events:EnableRule", &e))?;
    Ok("events:EnableRule".to_string())
}
