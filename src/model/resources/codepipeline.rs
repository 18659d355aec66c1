//! CodePipeline: a pipeline's declaration.

use super::*;

/// A pipeline declaration and its metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    pub name: String,
    pub arn: String,
    pub region: String,
    #[serde(default)]
    pub pipeline_type: Option<String>,
    #[serde(default)]
    pub execution_mode: Option<String>,
    #[serde(default)]
    pub version: Option<i32>,
    #[serde(default)]
    pub role_arn: Option<String>,
    pub artifact_stores: Vec<ArtifactStore>,
    pub stages: Vec<Stage>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
    /// Set when AWS disabled polling for this pipeline.
    #[serde(default)]
    pub polling_disabled_at: Option<String>,
    /// The V2 `triggers` of the declaration.
    #[serde(default)]
    pub triggers: Vec<PipelineTrigger>,
}

/// One V2 pipeline trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineTrigger {
    /// `CodeStarSourceConnection` (the only provider AWS offers).
    pub provider_type: String,
    /// The source action the trigger belongs to.
    pub source_action: String,
    /// Filters on pushes: the trigger fires on a push matching any of them.
    #[serde(default)]
    pub push: Vec<PushFilter>,
    /// Filters on pull requests: the trigger fires on a pull request event
    /// matching any of them.
    #[serde(default)]
    pub pull_request: Vec<PullRequestFilter>,
}

/// Glob patterns to include and exclude (AWS's glob syntax).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitPatterns {
    #[serde(default)]
    pub includes: Vec<String>,
    #[serde(default)]
    pub excludes: Vec<String>,
}

/// A push filter of a trigger; `None` where the filter does not set a criterion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushFilter {
    #[serde(default)]
    pub branches: Option<GitPatterns>,
    #[serde(default)]
    pub tags: Option<GitPatterns>,
    #[serde(default)]
    pub file_paths: Option<GitPatterns>,
}

/// A pull request filter of a trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestFilter {
    /// OPEN, UPDATED, CLOSED.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub branches: Option<GitPatterns>,
    #[serde(default)]
    pub file_paths: Option<GitPatterns>,
}

/// One artifact store of a pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactStore {
    /// The region key for `artifactStores`; `None` for the single `artifactStore`.
    #[serde(default)]
    pub region: Option<String>,
    pub store_type: String,
    pub location: String,
    #[serde(default)]
    pub encryption_key_id: Option<String>,
    #[serde(default)]
    pub encryption_key_type: Option<String>,
}

/// A pipeline stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    pub actions: Vec<Action>,
}

/// A pipeline action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub name: String,
    pub category: String,
    pub owner: String,
    pub provider: String,
    pub version: String,
    #[serde(default)]
    pub run_order: Option<i32>,
    #[serde(default)]
    pub configuration: BTreeMap<String, String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub input_artifacts: Vec<String>,
    #[serde(default)]
    pub output_artifacts: Vec<String>,
    /// A CodeBuild action's `EnvironmentVariables`, classified; plaintext
    /// values are never stored (see `model::redact`).
    #[serde(default)]
    pub environment_variables: Vec<EnvVar>,
    /// Configuration keys whose value was withheld (`<redacted>`), with what
    /// the value or its name looks like. `Key.entry` for an entry of a JSON
    /// object value.
    #[serde(default)]
    pub redacted: BTreeMap<String, Vec<SecretKind>>,
}
