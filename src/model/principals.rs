//! The account's IAM principals as far as release paths need them: users
//! (with their groups' policies) and roles, each with the policies that
//! apply to it, and the managed policies they use. Read in bulk
//! (GetAccountAuthorizationDetails); only the principals that hold at least
//! one release path, or lead to one, are kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PolicyText;

/// A user or a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Role,
}

/// An inline policy, of the principal itself or of one of its groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlinePolicy {
    pub name: String,
    /// The group whose policy this is, when it is a group's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub document: PolicyText,
}

/// An attached managed policy (document in [`PrincipalSet::policies`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedPolicy {
    pub arn: String,
    /// The group it is attached to, when it reaches the user through one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// One IAM user or role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IamPrincipal {
    pub arn: String,
    pub name: String,
    pub kind: PrincipalKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inline: Vec<InlinePolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attached: Vec<AttachedPolicy>,
    /// The permissions boundary's policy ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<String>,
    /// A role's trust policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<PolicyText>,
}

/// The principals kept for release paths.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PrincipalSet {
    /// Kept users and roles, sorted by ARN.
    pub principals: Vec<IamPrincipal>,
    /// The managed policies (and boundaries) the kept principals use, by ARN.
    #[serde(default)]
    pub policies: BTreeMap<String, PolicyText>,
    /// How many users and roles were read before keeping.
    #[serde(default)]
    pub read: usize,
}
