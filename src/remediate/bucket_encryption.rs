//! `bucket-encryption`: default encryption SSE-KMS with the pipeline's
//! artifact key, bucket key on. Applies to new objects only.

use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use serde_json::{Value, json};

use super::registry::{
    ApplyFuture, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, Snapshot};
use crate::patch::{Edit, path};

/// `bucket-encryption`.
pub struct BucketEncryption;

impl FixAction for BucketEncryption {
    fn id(&self) -> &'static str {
        "bucket-encryption"
    }
    fn summary(&self) -> &'static str {
        "Default encryption SSE-KMS with the pipeline's key, bucket key on."
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
            writes: "`BucketEncryption`: SSE-KMS with the artifact key (`Fn::GetAtt` of the key the same template defines), bucket key on",
            edits: template_edits,
        })
    }
}

/// The artifact key by `Fn::GetAtt` when the same template defines it.
fn template_edits(f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    let key = cx
        .snapshot
        .pipelines
        .iter()
        .find(|w| w.arn == f.pipeline_arn)
        .and_then(|w| {
            w.artifact_stores
                .iter()
                .find(|st| st.bucket_arn == f.resource_arn)
        })
        .and_then(|st| st.key_arn.clone());
    let Some(key) = key else {
        return Err(Error::not_edited(
            "the pipeline's artifact store names no KMS key to encrypt with",
        ));
    };
    let Some(key_id) = cx.logical_ids.get(&key) else {
        return Err(Error::NotInTemplate {
            what: "the artifact key",
            arn: key,
        });
    };
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "BucketEncryption"]),
        json!({"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": {
                "SSEAlgorithm": "aws:kms",
                "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]}
            },
            "BucketKeyEnabled": true
        }]}),
    )])
}

fn rules_state(rules: &[(String, Option<String>)]) -> Value {
    json!(
        rules
            .iter()
            .map(|(alg, key)| json!({"sse_algorithm": alg, "kms_master_key_id": key}))
            .collect::<Vec<_>>()
    )
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let b = s.resources.buckets.get(&f.resource_arn)?.value()?;
    // the pipeline's artifact key for this bucket
    let w = s.pipelines.iter().find(|w| w.arn == f.pipeline_arn)?;
    let key = w
        .artifact_stores
        .iter()
        .find(|st| st.bucket_arn == f.resource_arn)?
        .key_arn
        .clone()?;
    if !matches!(s.resources.keys.get(&key), Some(Observed::Ok { .. })) {
        return None;
    }
    let before = match &b.encryption {
        Observed::Ok { value } => rules_state(
            &value
                .rules
                .iter()
                .map(|r| (r.sse_algorithm.clone(), r.kms_master_key_id.clone()))
                .collect::<Vec<_>>(),
        ),
        Observed::Absent => json!([]),
        Observed::Unknown { .. } => return None,
    };
    Some(step(
        f,
        &BucketEncryption,
        format!(
            "set default encryption of bucket {} to SSE-KMS with {key} (bucket key on)",
            b.name
        ),
        json!({"encryption": before}),
        json!({"encryption": rules_state(&[("aws:kms".to_string(), Some(key))])}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let bucket = a.resource_arn.trim_start_matches("arn:aws:s3:::");
    let found = match c.s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(out) => rules_state(
            &out.server_side_encryption_configuration()
                .map(|cfg| {
                    cfg.rules()
                        .iter()
                        .filter_map(|r| r.apply_server_side_encryption_by_default())
                        .map(|d| {
                            (
                                d.sse_algorithm().as_str().to_string(),
                                d.kms_master_key_id().map(str::to_string),
                            )
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        ),
        Err(e)
            if crate::collect::call::is_not_found(
                &e,
                &["ServerSideEncryptionConfigurationNotFoundError"],
            ) =>
        {
            json!([])
        }
        Err(e) => return Err(sdk_failed("s3:GetEncryptionConfiguration", &e)),
    };
    let found = json!({"encryption": found});
    if found != a.before {
        return Err(changed(bucket, &a.before, &found));
    }
    let key = a.after["encryption"][0]["kms_master_key_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::AwsKms)
        .kms_master_key_id(key)
        .build()
        .map_err(|e| NotApplied::Failed(e.to_string()))?;
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(default)
                .bucket_key_enabled(true)
                .build(),
        )
        .build()
        .map_err(|e| NotApplied::Failed(e.to_string()))?;
    c.s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .map_err(|e| sdk_failed("s3:PutEncryptionConfiguration", &e))?;
    Ok("s3:PutEncryptionConfiguration".to_string())
}
