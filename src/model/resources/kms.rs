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
}
