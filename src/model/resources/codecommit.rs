//! CodeCommit: source repositories.

use super::*;

/// A CodeCommit repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub arn: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub kms_key_id: Option<String>,
}
