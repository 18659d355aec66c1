//! `bucket-public-access-block`: turn all four Block Public Access settings on.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use serde_json::{Value, json};

use super::registry::{
    ApplyFuture, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm, TerraformForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, Snapshot};
use crate::patch::terraform::{TfContext, TfEdit};
use crate::patch::{Edit, path};

/// `bucket-public-access-block`.
pub struct BucketPublicAccessBlock;

impl FixAction for BucketPublicAccessBlock {
    fn id(&self) -> &'static str {
        "bucket-public-access-block"
    }
    fn summary(&self) -> &'static str {
        "All four Block Public Access settings on for the artifact bucket."
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
            writes: "the four `PublicAccessBlockConfiguration` settings `true` on the bucket",
            edits: template_edits,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "the four settings `true` in the bucket's `aws_s3_bucket_public_access_block` (a new one beside the bucket when it has none)",
            edits: terraform_edits,
        })
    }
}

fn template_edits(_f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "PublicAccessBlockConfiguration"]),
        json!({
            "BlockPublicAcls": true,
            "IgnorePublicAcls": true,
            "BlockPublicPolicy": true,
            "RestrictPublicBuckets": true
        }),
    )])
}

fn terraform_edits(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    crate::patch::terraform::bucket_setting(
        cx,
        "aws_s3_bucket_public_access_block",
        &[
            (&["block_public_acls"], json!(true)),
            (&["block_public_policy"], json!(true)),
            (&["ignore_public_acls"], json!(true)),
            (&["restrict_public_buckets"], json!(true)),
        ],
        None,
    )
    // the patch module's refusal, in its words
    .map_err(|e| Error::not_edited(e.to_string()))
}

fn state(p: Option<[bool; 4]>) -> Value {
    match p {
        Some([a, b, c, d]) => {
            json!({"block_public_acls": a, "ignore_public_acls": b, "block_public_policy": c, "restrict_public_buckets": d})
        }
        None => Value::Null,
    }
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let b = s.resources.buckets.get(&f.resource_arn)?.value()?;
    let before = match &b.public_access_block {
        Observed::Ok { value: p } => state(Some([
            p.block_public_acls,
            p.ignore_public_acls,
            p.block_public_policy,
            p.restrict_public_buckets,
        ])),
        Observed::Absent => state(None),
        Observed::Unknown { .. } => return None,
    };
    Some(step(
        f,
        &BucketPublicAccessBlock,
        format!(
            "turn on all four Block Public Access settings of bucket {}",
            b.name
        ),
        json!({"public_access_block": before}),
        json!({"public_access_block": state(Some([true; 4]))}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let bucket = a.resource_arn.trim_start_matches("arn:aws:s3:::");
    let found = match c.s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => {
            let p = out.public_access_block_configuration();
            let g = |f: fn(&PublicAccessBlockConfiguration) -> Option<bool>| {
                p.and_then(f).unwrap_or(false)
            };
            state(Some([
                g(PublicAccessBlockConfiguration::block_public_acls),
                g(PublicAccessBlockConfiguration::ignore_public_acls),
                g(PublicAccessBlockConfiguration::block_public_policy),
                g(PublicAccessBlockConfiguration::restrict_public_buckets),
            ]))
        }
        Err(e)
            if crate::collect::call::is_not_found(
                &e,
                &["NoSuchPublicAccessBlockConfiguration"],
            ) =>
        {
            state(None)
        }
        Err(e) => return Err(sdk_failed("s3:GetBucketPublicAccessBlock", &e)),
    };
    let found = json!({"public_access_block": found});
    if found != a.before {
        return Err(changed(bucket, &a.before, &found));
    }
    c.s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| sdk_failed("s3:PutBucketPublicAccessBlock", &e))?;
    Ok("s3:PutBucketPublicAccessBlock".to_string())
}
