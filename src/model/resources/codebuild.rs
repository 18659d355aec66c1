//! CodeBuild: build projects, their buildspecs and webhooks.

use super::*;

/// A CodeBuild project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildProject {
    pub name: String,
    pub arn: String,
    pub source: BuildSource,
    #[serde(default)]
    pub secondary_sources: Vec<BuildSource>,
    pub environment: BuildEnvironment,
    #[serde(default)]
    pub service_role: Option<String>,
    /// The encryption key as configured (ARN or alias).
    #[serde(default)]
    pub encryption_key: Option<String>,
    /// The encryption key resolved to a key ARN, when it could be.
    #[serde(default)]
    pub encryption_key_arn: Option<String>,
    pub logs: BuildLogs,
    #[serde(default)]
    pub last_modified: Option<String>,
    /// PUBLIC_READ or PRIVATE; `None` when the API returned no setting.
    #[serde(default)]
    pub visibility: Option<String>,
    /// The primary artifacts first, then the secondary ones.
    #[serde(default)]
    pub artifacts: Vec<BuildArtifacts>,
    /// The VPC the builds run in; `None` when they run outside any VPC.
    #[serde(default)]
    pub vpc_id: Option<String>,
    /// The project's webhook (builds started by the source provider's
    /// events); `None` when it has none. Its secret is never read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<Webhook>,
}

/// A CodeBuild webhook: which events of the source provider start a build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// `BUILD`, `BUILD_BATCH` or `RUNNER_BUILDKITE_BUILD`; `None` when not set.
    #[serde(default)]
    pub build_type: Option<String>,
    /// Filter groups: a group starts a build when all its filters match.
    #[serde(default)]
    pub filter_groups: Vec<Vec<WebhookFilter>>,
    /// The legacy branch filter, read as a `HEAD_REF` filter of every group.
    #[serde(default)]
    pub branch_filter: Option<String>,
    /// Whether the webhook was created by hand on the provider's side.
    #[serde(default)]
    pub manual_creation: bool,
    /// An organization or global webhook's scope; `None` for a repository webhook.
    #[serde(default)]
    pub scope: Option<WebhookScope>,
    /// Who must approve a pull request before it builds; `None` when not set.
    #[serde(default)]
    pub pull_request_build_policy: Option<PullRequestBuildPolicy>,
}

/// One filter of a webhook filter group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookFilter {
    /// `EVENT`, `ACTOR_ACCOUNT_ID`, `HEAD_REF`, `BASE_REF`, `FILE_PATH`,
    /// `COMMIT_MESSAGE`, `REPOSITORY_NAME`, `ORGANIZATION_NAME`, ...
    pub filter_type: String,
    pub pattern: String,
    #[serde(default)]
    pub exclude_matched_pattern: bool,
}

/// The scope of an organization or global webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookScope {
    /// `GITHUB_ORGANIZATION`, `GITHUB_GLOBAL`, `GITLAB_GROUP`.
    pub scope_type: String,
    pub name: String,
    #[serde(default)]
    pub domain: Option<String>,
}

/// A webhook's pull request build policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequestBuildPolicy {
    /// `DISABLED`, `ALL_PULL_REQUESTS` or `FORK_PULL_REQUESTS`.
    pub requires_comment_approval: String,
    /// The repository roles whose pull requests build without approval and
    /// whose comments approve (`GITHUB_READ`, ..., `GITHUB_ADMIN`).
    #[serde(default)]
    pub approver_roles: Vec<String>,
}

/// A source credential stored for a region: every project there may use it.
/// The token is never returned by the API nor read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCredential {
    pub arn: String,
    /// `GITHUB`, `BITBUCKET`, `GITLAB`, ...
    pub server_type: String,
    /// `OAUTH`, `BASIC_AUTH`, `PERSONAL_ACCESS_TOKEN`, `CODECONNECTIONS`,
    /// `SECRETS_MANAGER`.
    pub auth_type: String,
    /// The connection or secret it refers to, when it refers to one.
    #[serde(default)]
    pub resource: Option<String>,
}

/// A build project of the account with a webhook, found by listing the
/// audited regions' projects (account-level checks).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookProjectRef {
    pub arn: String,
    pub name: String,
    pub region: String,
    /// What it shares with audited pipelines: `build-project`,
    /// `service-role`, `artifact-bucket`, `artifact-key`, `source-repository`.
    #[serde(default)]
    pub shares: Vec<String>,
    /// The ARNs of the audited pipelines it shares something with.
    #[serde(default)]
    pub pipelines: Vec<String>,
}

/// Where a build's commands come from. The text of an inline buildspec is
/// never stored (it may hold secrets); only that it is inline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buildspec {
    /// `source` (a file in the source the build checks out: the empty
    /// setting means its `buildspec.yml`), `inline` or `s3`.
    pub origin: String,
    /// The file in the source, or the S3 object's ARN.
    #[serde(default)]
    pub path: Option<String>,
}

impl Buildspec {
    /// Classifies a project's `buildspec` setting (`None` or empty: the
    /// source's `buildspec.yml`). CodeBuild reads an S3 buildspec only from
    /// an S3 object ARN; a value that is YAML or JSON is inline; anything
    /// else is a path relative to the checked-out source.
    pub fn classify(setting: Option<&str>) -> Buildspec {
        let value = setting.map(str::trim).unwrap_or("");
        if value.is_empty() {
            return Buildspec {
                origin: "source".to_string(),
                path: Some("buildspec.yml".to_string()),
            };
        }
        let is_s3_arn = value.starts_with("arn:")
            && value.split(':').nth(2) == Some("s3")
            && value.split(':').count() >= 6;
        if is_s3_arn {
            return Buildspec {
                origin: "s3".to_string(),
                path: Some(value.to_string()),
            };
        }
        let inline = value.contains('\n')
            || value.starts_with('{')
            || value.starts_with("version:")
            || value.starts_with("---")
            || value.contains(": ");
        if inline {
            Buildspec {
                origin: "inline".to_string(),
                path: None,
            }
        } else {
            Buildspec {
                origin: "source".to_string(),
                path: Some(value.to_string()),
            }
        }
    }
}

/// One artifact output of a build project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildArtifacts {
    /// CODEPIPELINE, S3 or NO_ARTIFACTS.
    pub artifacts_type: String,
    #[serde(default)]
    pub identifier: Option<String>,
    /// `encryptionDisabled` as set; AWS honours it only for type S3.
    #[serde(default)]
    pub encryption_disabled: bool,
}

/// A build source. Credentials embedded in the location are removed before
/// the value is stored; `credentials_in_location` records that they were there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSource {
    pub source_type: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub credentials_in_location: bool,
    /// Where the build's commands come from (set on the primary source;
    /// `None` in snapshots written before it was recorded).
    #[serde(default)]
    pub buildspec: Option<Buildspec>,
}

/// A build environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildEnvironment {
    pub environment_type: String,
    pub image: String,
    pub compute_type: String,
    #[serde(default)]
    pub privileged_mode: bool,
    #[serde(default)]
    pub image_pull_credentials_type: Option<String>,
    #[serde(default)]
    pub variables: Vec<EnvVar>,
}

/// A build environment variable. The value of a PLAINTEXT variable is never
/// stored; only its classification is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    /// PLAINTEXT, PARAMETER_STORE or SECRETS_MANAGER.
    pub var_type: String,
    /// For PARAMETER_STORE and SECRETS_MANAGER: the reference (parameter name
    /// or secret ARN), which is not itself secret. Always `None` for PLAINTEXT.
    #[serde(default)]
    pub reference: Option<String>,
    /// What a PLAINTEXT value (or its name) looks like.
    #[serde(default)]
    pub secret_kinds: Vec<SecretKind>,
}

/// A build project's log settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildLogs {
    /// ENABLED or DISABLED; `None` when the API returned no setting (default: enabled).
    #[serde(default)]
    pub cloudwatch_status: Option<String>,
    #[serde(default)]
    pub s3_status: Option<String>,
    #[serde(default)]
    pub s3_encryption_disabled: Option<bool>,
}
