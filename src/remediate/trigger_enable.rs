//! `trigger-enable`: enable a disabled rule that targets the pipeline.

use serde_json::json;

use super::registry::{ApplyFuture, FixAction, NotPlanned, PlanContext};
use super::{Outcome, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;

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

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, Outcome> {
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
