//! CodeConnections: the connections of third-party source actions.

use super::*;

/// A CodeConnections (formerly CodeStar connections) connection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub arn: String,
    #[serde(default)]
    pub name: Option<String>,
    /// PENDING, AVAILABLE, ERROR; `None` when the API returned none.
    #[serde(default)]
    pub status: Option<String>,
    /// GitHub, GitHubEnterpriseServer, GitLab, GitLabSelfManaged, Bitbucket.
    #[serde(default)]
    pub provider_type: Option<String>,
    /// The account (or organization) of the provider the connection reaches.
    #[serde(default)]
    pub owner_account: Option<String>,
}
