//! `bucket-versioning`: enable versioning (keeps more data, never less).

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
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

/// `bucket-versioning`.
pub struct BucketVersioning;

impl FixAction for BucketVersioning {
    fn id(&self) -> &'static str {
        "bucket-versioning"
    }
    fn summary(&self) -> &'static str {
        "PutBucketVersioning: versioning Enabled on the artifact bucket."
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
            writes: "`VersioningConfiguration.Status: Enabled` on the bucket",
            edits: template_edits,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "`versioning_configuration { status = \"Enabled\" }` in the bucket's `aws_s3_bucket_versioning` (a new one beside the bucket when it has none)",
            edits: terraform_edits,
        })
    }
}

fn template_edits(_f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "VersioningConfiguration"]),
        json!({"Status": "Enabled"}),
    )])
}

fn terraform_edits(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    crate::patch::terraform::bucket_setting(
        cx,
        "aws_s3_bucket_versioning",
        &[(&["versioning_configuration", "status"], json!("Enabled"))],
        Some((&["versioning", "enabled"], json!(true))),
    )
    // the patch module's refusal, in its words
    .map_err(|e| Error::not_edited(e.to_string()))
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let b = s.resources.buckets.get(&f.resource_arn)?.value()?;
    let status = b.versioning.value()?.status.clone();
    Some(step(
        f,
        &BucketVersioning,
        format!("enable versioning on bucket {}", b.name),
        json!({"versioning": status}),
        json!({"versioning": "Enabled"}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let bucket = a.resource_arn.trim_start_matches("arn:aws:s3:::");
    let now =
        c.s3.get_bucket_versioning()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| sdk_failed("s3:GetBucketVersioning", &e))?;
    let found = json!({"versioning": now.status().map(|s| s.as_str().to_string())});
    if found != a.before {
        return Err(changed(bucket, &a.before, &found));
    }
    c.s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| sdk_failed("s3:PutBucketVersioning", &e))?;
    Ok("s3:PutBucketVersioning".to_string())
}
