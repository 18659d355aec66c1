//! KMS: keys.

use super::*;

/// A KMS key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KmsKey {
    pub arn: String,
    pub key_id: String,
    /// Enabled, Disabled, PendingDeletion, ...
    pub key_state: String,
    #[serde(default)]
    pub key_spec: Option<String>,
    #[serde(default)]
    pub key_usage: Option<String>,
    /// CUSTOMER or AWS.
    #[serde(default)]
    pub key_manager: Option<String>,
    #[serde(default)]
    pub origin: Option<String>,
    #[serde(default)]
    pub deletion_date: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Alias names that point at the key.
    #[serde(default)]
    pub aliases: Vec<String>,
    pub rotation_enabled: Observed<bool>,
    pub policy: Observed<PolicyText>,
    /// The key's grants (ListGrants; unknown in snapshots written before
    /// grants were read). Read by the release-path analysis from the model;
    /// left out of the values the rules see (no rule reads them, and an
    /// unknown list would only add a gap to every rule on the key).
    #[serde(
        default = "grants_not_recorded",
        serialize_with = "grants_unless_for_rules"
    )]
    pub grants: Observed<Vec<KeyGrant>>,
}

/// The grants in a human-readable form (the snapshot, JSON); nothing for the
/// rule binding, which declares itself not human-readable.
fn grants_unless_for_rules<S: serde::Serializer>(
    grants: &Observed<Vec<KeyGrant>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        grants.serialize(serializer)
    } else {
        serializer.serialize_none()
    }
}

fn grants_not_recorded() -> Observed<Vec<KeyGrant>> {
    Observed::Unknown {
        error: crate::model::ReadError {
            kind: crate::model::ReadErrorKind::Service,
            action: "kms:ListGrants".to_string(),
            code: None,
            message: "not recorded in this snapshot (written before key grants were read)"
                .to_string(),
        },
    }
}

/// One grant on a KMS key: its grantee may call `operations` on the key,
/// without the key policy naming it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyGrant {
    pub grant_id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The grantee: an IAM principal ARN, an account, or a service.
    pub grantee_principal: String,
    /// `Encrypt`, `Decrypt`, `GenerateDataKey`, ... (without `kms:`).
    #[serde(default)]
    pub operations: Vec<String>,
    /// Encryption context the grant requires (`EncryptionContextEquals`
    /// and `EncryptionContextSubset`, merged): the grant applies only to
    /// requests that carry it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub encryption_context: BTreeMap<String, String>,
}
