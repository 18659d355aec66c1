//! S3: buckets.

use super::*;

/// An S3 bucket's security-relevant configuration; each part read separately.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub name: String,
    pub arn: String,
    pub encryption: Observed<BucketEncryption>,
    pub policy: Observed<PolicyText>,
    pub public_access_block: Observed<PublicAccessBlock>,
    pub versioning: Observed<Versioning>,
    /// Server access logging (unknown in snapshots written before it was read).
    #[serde(default = "logging_not_recorded")]
    pub logging: Observed<BucketLogging>,
}

/// An S3 source bucket: only whether it sends its events to EventBridge
/// (GetBucketNotificationConfiguration), the one setting an S3 source's
/// trigger depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBucket {
    pub name: String,
    pub arn: String,
    /// `EventBridgeConfiguration` is present in the bucket's notification
    /// configuration: every object event goes to the default bus.
    pub eventbridge: bool,
}

fn logging_not_recorded() -> Observed<BucketLogging> {
    Observed::Unknown {
        error: crate::model::ReadError {
            kind: crate::model::ReadErrorKind::Service,
            action: "s3:GetBucketLogging".to_string(),
            code: None,
            message: "not recorded in this snapshot (written before access logging was read)"
                .to_string(),
        },
    }
}

/// A bucket's server access logging.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketLogging {
    /// The bucket the access logs go to; `None` when logging is off.
    #[serde(default)]
    pub target_bucket: Option<String>,
    #[serde(default)]
    pub target_prefix: Option<String>,
}

/// Default encryption rules of a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketEncryption {
    pub rules: Vec<EncryptionRule>,
}

/// One default-encryption rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionRule {
    /// AES256, aws:kms or aws:kms:dsse.
    pub sse_algorithm: String,
    #[serde(default)]
    pub kms_master_key_id: Option<String>,
    /// `kms_master_key_id` resolved to a key ARN, when it could be.
    #[serde(default)]
    pub kms_key_arn: Option<String>,
    #[serde(default)]
    pub bucket_key_enabled: Option<bool>,
}

/// The bucket's Block Public Access settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// The bucket's versioning state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioning {
    /// Enabled, Suspended, or `None` when never enabled.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub mfa_delete: Option<String>,
}
