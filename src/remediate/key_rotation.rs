//! `key-rotation`: enable automatic rotation of a customer-managed key.

use serde_json::json;

use super::registry::{
    ApplyFuture, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm, TerraformForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, Snapshot};
use crate::patch::terraform::{TfContext, TfEdit};
use crate::patch::{Edit, path};

/// `key-rotation`.
pub struct KeyRotation;

impl FixAction for KeyRotation {
    fn id(&self) -> &'static str {
        "key-rotation"
    }
    fn summary(&self) -> &'static str {
        "EnableKeyRotation on the artifact key."
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
            writes: "`EnableKeyRotation: true` on the key",
            edits: template_edits,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "`enable_key_rotation = true` on the `aws_kms_key`",
            edits: terraform_edits,
        })
    }
}

fn template_edits(_f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "EnableKeyRotation"]),
        json!(true),
    )])
}

fn terraform_edits(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    if cx.ty() != "aws_kms_key" {
        return Err(Error::wrong_type(cx.address, "aws_kms_key"));
    }
    Ok(vec![TfEdit::set(
        cx.address,
        &["enable_key_rotation"],
        json!(true),
    )])
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let key = s.resources.keys.get(&f.resource_arn)?.value()?;
    if key.rotation_enabled != Observed::ok(false) {
        return None;
    }
    Some(step(
        f,
        &KeyRotation,
        format!("enable automatic rotation of {}", f.resource_arn),
        json!({"rotation_enabled": false}),
        json!({"rotation_enabled": true}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let key_id = a
        .resource_arn
        .rsplit('/')
        .next()
        .unwrap_or(&a.resource_arn)
        .to_string();
    let now = c
        .kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .map_err(|e| sdk_failed("kms:GetKeyRotationStatus", &e))?;
    let found = json!({"rotation_enabled": now.key_rotation_enabled()});
    if found != a.before {
        return Err(changed(&a.resource_arn, &a.before, &found));
    }
    c.kms
        .enable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .map_err(|e| sdk_failed("kms:EnableKeyRotation", &e))?;
    Ok("kms:EnableKeyRotation".to_string())
}
