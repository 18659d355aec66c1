//! `key-cancel-deletion` (unsafe): cancel a scheduled key deletion. The key
//! stays disabled afterwards; enabling it again is a separate, deliberate step.

use serde_json::json;

use super::registry::{ApplyFuture, FixAction, NotPlanned, PlanContext};
use super::{NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;

/// `key-cancel-deletion`.
pub struct KeyCancelDeletion;

impl FixAction for KeyCancelDeletion {
    fn id(&self) -> &'static str {
        "key-cancel-deletion"
    }
    fn summary(&self) -> &'static str {
        "CancelKeyDeletion; the key stays Disabled, and KM002 stays reported until someone enables it."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Unsafe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a))
    }
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let key = s.resources.keys.get(&f.resource_arn)?.value()?;
    if key.key_state != "PendingDeletion" {
        return None;
    }
    Some(step(
        f,
        &KeyCancelDeletion,
        format!(
            "cancel the scheduled deletion of {} (the key stays Disabled until enabled)",
            f.resource_arn
        ),
        json!({"key_state": "PendingDeletion"}),
        json!({"key_state": "Disabled"}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    // DescribeKey takes the ARN; CancelKeyDeletion wants the key id
    let now = c
        .kms
        .describe_key()
        .key_id(&a.resource_arn)
        .send()
        .await
        .map_err(|e| sdk_failed("kms:DescribeKey", &e))?;
    let meta = now.key_metadata();
    let found =
        json!({"key_state": meta.and_then(|m| m.key_state()).map(|s| s.as_str().to_string())});
    if found != a.before {
        return Err(changed(&a.resource_arn, &a.before, &found));
    }
    let key_id = meta.map(|m| m.key_id().to_string()).unwrap_or_default();
    c.kms
        .cancel_key_deletion()
        .key_id(key_id)
        .send()
        .await
        .map_err(|e| sdk_failed("kms:CancelKeyDeletion", &e))?;
    Ok("kms:CancelKeyDeletion".to_string())
}
