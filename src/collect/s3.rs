//! S3: the artifact bucket's encryption, policy, public access block,
//! versioning and access logging; and, for the buckets of S3 source actions
//! only, whether they send events to EventBridge.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_s3::Client;

use super::call::{Ctx, is_not_found, observe, read_error};
use super::clients::RegionClients;
use super::kind::{Facts, Found, KeyRef, Kind, Locality, Phase, Refs, ToRead, each};
use crate::model::{
    Bucket, BucketEncryption, BucketLogging, EncryptionRule, Observed, PolicyText,
    PublicAccessBlock, ReadError, ReadErrorKind, Resources, SourceBucket, Versioning,
};

/// The pipelines' artifact buckets.
pub struct Buckets;

impl Facts for Buckets {
    type Value = Bucket;
    const NAME: &'static str = "buckets";
    const ACTION: &'static str = "s3:GetEncryptionConfiguration";
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::S3::Bucket");
    const TERRAFORM: Option<&'static str> = Some("aws_s3_bucket");
    const VARIABLES: &'static [&'static str] = &["stores"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<Bucket>> {
        &r.buckets
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<Bucket>> {
        &mut r.buckets
    }

    fn field_errors(b: &Bucket) -> Vec<&ReadError> {
        [
            b.encryption.error(),
            b.policy.error(),
            b.public_access_block.error(),
            b.versioning.error(),
            b.logging.error(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The default encryption's key references.
    fn key_refs(b: &Bucket) -> Vec<KeyRef<'_>> {
        match &b.encryption {
            Observed::Ok { value } => value
                .rules
                .iter()
                .filter_map(|r| {
                    let k = r.kms_master_key_id.as_deref()?;
                    Some((
                        vec!["encryption", "rules", "kms_key_arn"],
                        k,
                        r.kms_key_arn.is_some(),
                    ))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Kind for Buckets {
    /// The bucket name.
    type Detail = String;
    const LOCALITY: Locality = Locality::AnyRegion;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, Bucket>> {
        refs.pipelines
            .iter()
            .flat_map(|w| &w.artifact_stores)
            .map(|s| {
                Found::Read(ToRead {
                    arn: s.bucket_arn.clone(),
                    region: s.region.clone(),
                    detail: s.bucket.clone(),
                })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<String>],
    ) -> impl Future<Output = Vec<(String, Observed<Bucket>)>> + Send + 'a {
        each(targets, |t| get(ctx, &c.s3, &t.arn, &t.detail))
    }

    /// The default-encryption key references, resolved in the region of the
    /// first artifact store naming the bucket.
    fn settle(refs: &Refs<'_>, bucket: &mut Bucket) {
        let region = refs
            .pipelines
            .iter()
            .flat_map(|w| &w.artifact_stores)
            .find(|s| s.bucket == bucket.name)
            .map(|s| s.region.clone())
            .unwrap_or_else(|| refs.regions.first().cloned().unwrap_or_default());
        if let Observed::Ok { value: enc } = &mut bucket.encryption {
            for rule in &mut enc.rules {
                if let Some(id) = &rule.kms_master_key_id {
                    rule.kms_key_arn = refs.keys.resolve(&region, id).key_arn();
                }
            }
        }
    }
}

/// The IAM action of GetBucketNotificationConfiguration.
pub const GET_BUCKET_NOTIFICATION: &str = "s3:GetBucketNotification";

/// The buckets of the pipelines' S3 source actions: one
/// GetBucketNotificationConfiguration each, nothing else (an artifact
/// bucket that is not also a source bucket is not asked).
pub struct SourceBuckets;

impl Facts for SourceBuckets {
    type Value = SourceBucket;
    const NAME: &'static str = "source_buckets";
    const ACTION: &'static str = GET_BUCKET_NOTIFICATION;
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = None;
    const VARIABLES: &'static [&'static str] = &["s3_sources"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<SourceBucket>> {
        &r.source_buckets
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<SourceBucket>> {
        &mut r.source_buckets
    }
}

impl Kind for SourceBuckets {
    /// The bucket name.
    type Detail = String;
    const LOCALITY: Locality = Locality::AnyRegion;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, SourceBucket>> {
        refs.pipelines
            .iter()
            .flat_map(|w| &w.s3_sources)
            .filter(|s| !s.bucket.is_empty())
            .map(|s| {
                Found::Read(ToRead {
                    arn: s.bucket_arn.clone(),
                    region: s.region.clone(),
                    detail: s.bucket.clone(),
                })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<String>],
    ) -> impl Future<Output = Vec<(String, Observed<SourceBucket>)>> + Send + 'a {
        each(targets, |t| get_source(ctx, &c.s3, &t.arn, &t.detail))
    }
}

/// Reads whether a source bucket sends its events to EventBridge; absent
/// when the bucket does not exist.
pub async fn get_source(
    ctx: &Ctx,
    client: &Client,
    arn: &str,
    name: &str,
) -> Observed<SourceBucket> {
    let result = ctx
        .call(
            GET_BUCKET_NOTIFICATION,
            client
                .get_bucket_notification_configuration()
                .bucket(name)
                .send(),
        )
        .await;
    observe(
        GET_BUCKET_NOTIFICATION,
        result,
        &["NoSuchBucket", "NotFound"],
        |out| SourceBucket {
            name: name.to_string(),
            arn: arn.to_string(),
            eventbridge: out.event_bridge_configuration().is_some(),
        },
    )
}

/// The ARN of a bucket.
pub fn bucket_arn(partition: &str, name: &str) -> String {
    format!("arn:{partition}:s3:::{name}")
}

/// Reads a bucket's configuration: its five settings at once, with no call
/// made only to learn that the bucket exists. When any read says the bucket
/// does not exist, the bucket is absent; when every read is refused in the
/// same way (a denial on the bucket as a whole), it is unknown, naming the
/// first read's action.
pub async fn get(ctx: &Ctx, client: &Client, arn: &str, name: &str) -> Observed<Bucket> {
    const ENC: &str = "s3:GetEncryptionConfiguration";
    const POL: &str = "s3:GetBucketPolicy";
    const PAB: &str = "s3:GetBucketPublicAccessBlock";
    const VER: &str = "s3:GetBucketVersioning";
    const LOG: &str = "s3:GetBucketLogging";
    let (enc, pol, pab, ver, log) = tokio::join!(
        ctx.call(ENC, client.get_bucket_encryption().bucket(name).send()),
        ctx.call(POL, client.get_bucket_policy().bucket(name).send()),
        ctx.call(PAB, client.get_public_access_block().bucket(name).send()),
        ctx.call(VER, client.get_bucket_versioning().bucket(name).send()),
        ctx.call(LOG, client.get_bucket_logging().bucket(name).send()),
    );
    const GONE: &[&str] = &["NoSuchBucket"];
    let gone = enc.as_ref().err().is_some_and(|e| is_not_found(e, GONE))
        || pol.as_ref().err().is_some_and(|e| is_not_found(e, GONE))
        || pab.as_ref().err().is_some_and(|e| is_not_found(e, GONE))
        || ver.as_ref().err().is_some_and(|e| is_not_found(e, GONE))
        || log.as_ref().err().is_some_and(|e| is_not_found(e, GONE));
    if gone {
        return Observed::Absent;
    }
    // Every read refused alike: whether the bucket exists is not known.
    if let (Err(a), Err(b), Err(c), Err(d), Err(e)) = (&enc, &pol, &pab, &ver, &log) {
        let first = read_error(ENC, a);
        let kinds = [
            read_error(POL, b).kind,
            read_error(PAB, c).kind,
            read_error(VER, d).kind,
            read_error(LOG, e).kind,
        ];
        if std::iter::once(&first.kind)
            .chain(&kinds)
            .all(|k| matches!(k, ReadErrorKind::AccessDenied))
        {
            return Observed::Unknown { error: first };
        }
    }
    let encryption = observe(
        ENC,
        enc,
        &["ServerSideEncryptionConfigurationNotFoundError"],
        |out| BucketEncryption {
            rules: out
                .server_side_encryption_configuration()
                .map(|c| {
                    c.rules()
                        .iter()
                        .filter_map(|r| {
                            let d = r.apply_server_side_encryption_by_default()?;
                            Some(EncryptionRule {
                                sse_algorithm: d.sse_algorithm().as_str().to_string(),
                                kms_master_key_id: d.kms_master_key_id().map(str::to_string),
                                kms_key_arn: None,
                                bucket_key_enabled: r.bucket_key_enabled(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
    );
    let policy = observe(POL, pol, &["NoSuchBucketPolicy"], |out| {
        out.policy().map(PolicyText::parse)
    })
    .flatten();
    let public_access_block = observe(PAB, pab, &["NoSuchPublicAccessBlockConfiguration"], |out| {
        let c = out.public_access_block_configuration();
        PublicAccessBlock {
            block_public_acls: c.and_then(|c| c.block_public_acls()).unwrap_or(false),
            ignore_public_acls: c.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
            block_public_policy: c.and_then(|c| c.block_public_policy()).unwrap_or(false),
            restrict_public_buckets: c.and_then(|c| c.restrict_public_buckets()).unwrap_or(false),
        }
    });
    let versioning = observe(VER, ver, &[], |out| Versioning {
        status: out.status().map(|s| s.as_str().to_string()),
        mfa_delete: out.mfa_delete().map(|s| s.as_str().to_string()),
    });
    let logging = observe(LOG, log, &[], |out| BucketLogging {
        target_bucket: out.logging_enabled().map(|l| l.target_bucket().to_string()),
        target_prefix: out.logging_enabled().map(|l| l.target_prefix().to_string()),
    });
    Observed::ok(Bucket {
        name: name.to_string(),
        arn: arn.to_string(),
        encryption,
        policy,
        public_access_block,
        versioning,
        logging,
    })
}
