//! IAM: roles and managed policies.

use super::*;

/// An IAM role with its trust policy and permissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub arn: String,
    #[serde(default)]
    pub path: Option<String>,
    pub trust_policy: Observed<PolicyText>,
    /// Inline policies by name.
    pub inline_policies: Observed<BTreeMap<String, Observed<PolicyText>>>,
    /// ARNs of attached managed policies (documents under `managed_policies`).
    pub attached_policies: Observed<Vec<String>>,
    #[serde(default)]
    pub permissions_boundary: Option<String>,
}

/// A managed policy and its default version's document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    #[serde(default)]
    pub default_version_id: Option<String>,
    pub document: Observed<PolicyText>,
}
