//! The resource types of a snapshot and the resolved wiring of each pipeline.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::policy::PolicyDocument;
use super::secrets::SecretKind;
use super::{Observed, ReadError, Resources};

/// A policy document as returned by AWS, kept both raw and parsed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PolicyText {
    /// The text as AWS returned it (URL-decoded where IAM encodes it).
    pub raw: String,
    /// The normalized parse, when the text parsed.
    #[serde(default)]
    pub document: Option<PolicyDocument>,
    /// Why the text did not parse, when it did not.
    #[serde(default)]
    pub parse_error: Option<String>,
}

thread_local! {
    static SUMMARIZE_POLICIES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every [`PolicyText`] serialized as a summary,
/// `{"parsed": bool, "statements": n}`, instead of its text and parse.
/// For consumers that want a resource's other fields as a value tree and
/// read policies from the model itself (serializing whole documents only to
/// drop them was most of the cost of binding a resource).
pub fn with_policy_summaries<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SUMMARIZE_POLICIES.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(SUMMARIZE_POLICIES.with(|c| c.replace(true)));
    f()
}

impl Serialize for PolicyText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        if SUMMARIZE_POLICIES.with(std::cell::Cell::get) {
            let mut m = serializer.serialize_struct("PolicySummary", 2)?;
            m.serialize_field("parsed", &self.document.is_some())?;
            m.serialize_field(
                "statements",
                &self.document.as_ref().map_or(0, |d| d.statements.len()),
            )?;
            return m.end();
        }
        let mut m = serializer.serialize_struct("PolicyText", 3)?;
        m.serialize_field("raw", &self.raw)?;
        m.serialize_field("document", &self.document)?;
        m.serialize_field("parse_error", &self.parse_error)?;
        m.end()
    }
}

impl PolicyText {
    /// Parses a policy text with the one policy parser.
    pub fn parse(text: &str) -> Self {
        let raw = super::policy::decode_policy_text(text).unwrap_or_else(|_| text.to_string());
        let raw = raw.as_str();
        match PolicyDocument::parse(raw) {
            Ok(doc) => PolicyText {
                raw: raw.to_string(),
                document: Some(doc),
                parse_error: None,
            },
            Err(e) => PolicyText {
                raw: raw.to_string(),
                document: None,
                parse_error: Some(e.to_string()),
            },
        }
    }
}

// ---------------------------------------------------------------- wiring

/// One audited pipeline and the resources its declaration points at, resolved to ARNs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineWiring {
    pub name: String,
    pub arn: String,
    pub region: String,
    /// The pipeline's service role.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// CodeCommit source actions, in stage order.
    #[serde(default)]
    pub sources: Vec<SourceRef>,
    /// CodeBuild actions, in stage order.
    #[serde(default)]
    pub builds: Vec<BuildRef>,
    /// CodeDeploy actions, in stage order.
    #[serde(default)]
    pub deploys: Vec<DeployRef>,
    /// The artifact store (or one per region for cross-region pipelines).
    #[serde(default)]
    pub artifact_stores: Vec<ArtifactStoreRef>,
    /// ARNs of the EventBridge rules that target this pipeline. A rule whose
    /// targets could not be read is not listed here (it is unknown in
    /// `resources.event_rules`); see `Snapshot::trigger_gaps`.
    #[serde(default)]
    pub trigger_rules: Vec<String>,
    /// Roles named on individual actions (`roleArn`), if any.
    #[serde(default)]
    pub action_roles: Vec<String>,
    /// `CodeStarSourceConnection` source actions (GitHub, GitLab,
    /// Bitbucket through a connection), in stage order.
    #[serde(default)]
    pub connection_sources: Vec<ConnectionSourceRef>,
    /// S3 source actions (`Owner: AWS, Provider: S3`), in stage order.
    #[serde(default)]
    pub s3_sources: Vec<S3SourceRef>,
    /// ECS deploy actions (`ECS` and `CodeDeployToECS`), in stage order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ecs_deploys: Vec<EcsDeployRef>,
    /// Lambda invoke actions (`Invoke`, provider `Lambda`), in stage order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lambda_invokes: Vec<LambdaInvokeRef>,
    /// Deploy actions of a provider whose targets are not checked
    /// (Elastic Beanstalk, say), in stage order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_deploys: Vec<OtherDeployRef>,
    /// CloudFormation deploy actions, in stage order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack_deploys: Vec<StackDeployRef>,
}

/// An ECS deploy action. With the `ECS` provider the cluster and service
/// come from the action's configuration and a commit chooses only the image
/// (`imagedefinitions.json`); with `CodeDeployToECS` they come from the
/// deployment group (`group_arn`) and a commit chooses the whole task
/// definition (`taskdef.json`), its task role included.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsDeployRef {
    pub stage: String,
    pub action: String,
    /// `ECS` or `CodeDeployToECS`.
    pub provider: String,
    pub region: String,
    /// The cluster name (`ECS` provider).
    #[serde(default)]
    pub cluster: Option<String>,
    /// The service name (`ECS` provider).
    #[serde(default)]
    pub service: Option<String>,
    /// The deployment group (`CodeDeployToECS`).
    #[serde(default)]
    pub group_arn: Option<String>,
}

/// A Lambda invoke action and the function it invokes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaInvokeRef {
    pub stage: String,
    pub action: String,
    /// The function as the action names it (a name, an ARN, or either with
    /// a qualifier).
    pub function_name: String,
    /// The function's unqualified ARN.
    pub function_arn: String,
    /// The action takes input artifacts: the function runs with what the
    /// pipeline built from the source.
    #[serde(default)]
    pub takes_artifacts: bool,
}

/// The unqualified ARN of a Lambda function named by name, by ARN, or
/// either with a `:qualifier`.
pub fn lambda_function_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    let parts: Vec<&str> = name.split(':').collect();
    match parts.as_slice() {
        ["arn", p, "lambda", r, a, "function", n, ..] => {
            format!("arn:{p}:lambda:{r}:{a}:function:{n}")
        }
        [n, ..] => format!("arn:{partition}:lambda:{region}:{account}:function:{n}"),
        [] => format!("arn:{partition}:lambda:{region}:{account}:function:"),
    }
}

/// A Lambda function (GetFunction) and its code signing configuration
/// (GetFunctionCodeSigningConfig).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaFunction {
    pub name: String,
    pub arn: String,
    /// The execution role.
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub runtime: Option<String>,
    /// The code signing configuration's ARN; absent when the function has
    /// none.
    pub code_signing_config: Observed<String>,
}

/// A deploy action whose targets pipeaudit does not check.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtherDeployRef {
    pub stage: String,
    pub action: String,
    pub provider: String,
    /// The role the action runs as, when the declaration names one.
    #[serde(default)]
    pub role_arn: Option<String>,
}

/// A CloudFormation deploy action (`Owner: AWS, Provider: CloudFormation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackDeployRef {
    pub stage: String,
    pub action: String,
    /// The action's region (the stack's).
    pub region: String,
    /// The account the stack is in: the account of the action's role when
    /// it names one, else the pipeline's.
    pub account: String,
    /// `ActionMode`: CREATE_UPDATE, CHANGE_SET_REPLACE, CHANGE_SET_EXECUTE,
    /// REPLACE_ON_FAILURE, DELETE_ONLY.
    pub action_mode: String,
    /// `StackName`.
    pub stack_name: String,
    /// The key the stack is recorded under in `resources.cfn_stacks`
    /// (`arn:<partition>:cloudformation:<region>:<account>:stack/<name>`,
    /// without the stack id).
    pub stack_arn: String,
    /// `ChangeSetName`.
    #[serde(default)]
    pub change_set_name: Option<String>,
    /// `TemplatePath` (`Artifact::path`); `None` for CHANGE_SET_EXECUTE and
    /// DELETE_ONLY, which take no template. For CHANGE_SET_EXECUTE this is
    /// the template of the CHANGE_SET_REPLACE action that made the change set.
    #[serde(default)]
    pub template: Option<ArtifactFile>,
    /// `TemplateConfiguration` (`Artifact::path`).
    #[serde(default)]
    pub template_configuration: Option<ArtifactFile>,
    /// `Capabilities`, split on commas (for CHANGE_SET_EXECUTE: those the
    /// change set was made with).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The configuration's `RoleArn`: the role CloudFormation acts as (for
    /// a CHANGE_SET_EXECUTE without one, the role of its CHANGE_SET_REPLACE,
    /// which the change set runs with).
    #[serde(default)]
    pub cfn_role_arn: Option<String>,
    /// The action's `roleArn`: the role CodePipeline assumes to call
    /// CloudFormation (else the pipeline role).
    #[serde(default)]
    pub action_role_arn: Option<String>,
    /// For CHANGE_SET_REPLACE: the stage and action of the
    /// CHANGE_SET_EXECUTE that executes the change set, when there is one.
    #[serde(default)]
    pub executed_by: Option<String>,
    /// For a change set: a manual approval runs after the
    /// CHANGE_SET_REPLACE and before the CHANGE_SET_EXECUTE.
    #[serde(default)]
    pub approval_before_execute: bool,
}

/// A file in a pipeline artifact, and where the artifact comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFile {
    pub artifact: String,
    pub path: String,
    /// `source` (a source action's output), `build` (the output of an
    /// action that takes a source or build artifact as input) or `other`.
    pub origin: String,
    /// The action that produces the artifact (`stage/action`), when one does.
    #[serde(default)]
    pub produced_by: Option<String>,
}

/// An S3 source action: the pipeline starts from an object in a bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3SourceRef {
    pub stage: String,
    pub action: String,
    /// The region of the action (the bucket's region).
    pub region: String,
    /// `S3Bucket`.
    pub bucket: String,
    pub bucket_arn: String,
    /// `S3ObjectKey`.
    pub object_key: String,
    /// `PollForSourceChanges` as declared; `None` when unset (the API treats unset as true).
    #[serde(default)]
    pub poll_for_source_changes: Option<bool>,
}

/// A `CodeStarSourceConnection` source action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionSourceRef {
    pub stage: String,
    pub action: String,
    /// `ConnectionArn` (`arn:aws:codestar-connections:` or
    /// `arn:aws:codeconnections:`).
    pub connection_arn: String,
    /// `FullRepositoryId` (`owner/repository`).
    #[serde(default)]
    pub repository: Option<String>,
    /// `BranchName`.
    #[serde(default)]
    pub branch: Option<String>,
    /// `DetectChanges` as declared; `None` when unset (AWS treats unset as true).
    #[serde(default)]
    pub detect_changes: Option<bool>,
}

/// A CodeCommit source action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub stage: String,
    pub action: String,
    pub repository_name: String,
    pub repository_arn: String,
    #[serde(default)]
    pub branch: Option<String>,
    /// `PollForSourceChanges` as declared; `None` when unset (the API treats unset as true).
    #[serde(default)]
    pub poll_for_source_changes: Option<bool>,
}

/// A CodeBuild build or test action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRef {
    pub stage: String,
    pub action: String,
    pub project_name: String,
    pub project_arn: String,
}

/// A CodeDeploy deploy action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployRef {
    pub stage: String,
    pub action: String,
    pub application_name: String,
    pub application_arn: String,
    pub group_name: String,
    pub group_arn: String,
}

/// An artifact store and its encryption key reference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactStoreRef {
    pub region: String,
    pub bucket: String,
    pub bucket_arn: String,
    /// The key as declared (id, ARN, alias name or alias ARN); `None` means
    /// no customer-managed key (the AWS managed key `aws/s3` is used).
    #[serde(default)]
    pub key_ref: Option<String>,
    /// The key ARN the reference resolves to, when it could be resolved.
    #[serde(default)]
    pub key_arn: Option<String>,
}

// ---------------------------------------------------------------- CodePipeline

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

// ---------------------------------------------------------------- CodeCommit

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

// ---------------------------------------------------------------- CodeConnections

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

// ---------------------------------------------------------------- CodeBuild

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

// ---------------------------------------------------------------- CloudFormation

/// A CloudFormation stack a pipeline deploys (DescribeStacks, GetStackPolicy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CfnStack {
    pub name: String,
    /// The stack's ARN (with its id).
    pub arn: String,
    /// CREATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE, ...
    pub status: String,
    pub termination_protection: bool,
    /// The stack's own service role, when it has one.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The stack policy; absent when the stack has none.
    pub stack_policy: Observed<PolicyText>,
}

// ---------------------------------------------------------------- CodeDeploy

/// A CodeDeploy deployment configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployConfig {
    pub name: String,
    pub arn: String,
    /// True for the `CodeDeployDefault.*` configurations.
    #[serde(default)]
    pub built_in: bool,
    /// How many instances must stay healthy during a deployment (EC2 and
    /// on-premises configurations); `None` for the ones that set none.
    #[serde(default)]
    pub minimum_healthy_hosts: Option<MinimumHealthyHosts>,
    /// How an ECS or Lambda configuration shifts traffic: `AllAtOnce`,
    /// `TimeBasedCanary` or `TimeBasedLinear`; `None` for EC2 ones.
    #[serde(default)]
    pub traffic_routing: Option<String>,
}

/// A deployment configuration's minimum healthy hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinimumHealthyHosts {
    /// HOST_COUNT or FLEET_PERCENT (MOST_CONCURRENCY for the built-in
    /// OneAtATime, as GetDeploymentConfig reports it).
    pub kind: String,
    pub value: i64,
}

/// A CodeDeploy application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployApplication {
    pub name: String,
    pub arn: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub compute_platform: Option<String>,
}

/// A CodeDeploy deployment group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployGroup {
    pub application_name: String,
    pub name: String,
    pub arn: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub service_role_arn: Option<String>,
    #[serde(default)]
    pub deployment_config_name: Option<String>,
    #[serde(default)]
    pub ec2_tag_filters: Vec<TagFilter>,
    /// Groups of tag filters (`ec2TagSet`): an instance must match one filter of every group.
    #[serde(default)]
    pub ec2_tag_set: Vec<Vec<TagFilter>>,
    #[serde(default)]
    pub on_premises_tag_filters: Vec<TagFilter>,
    #[serde(default)]
    pub auto_scaling_groups: Vec<String>,
    #[serde(default)]
    pub auto_rollback_enabled: bool,
    #[serde(default)]
    pub auto_rollback_events: Vec<String>,
    #[serde(default)]
    pub alarms_enabled: bool,
    #[serde(default)]
    pub alarms: Vec<String>,
    #[serde(default)]
    pub compute_platform: Option<String>,
    /// The ECS services of a group of the ECS compute platform (blue/green).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ecs_services: Vec<EcsServiceName>,
}

/// A cluster and service named by an ECS deployment group.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EcsServiceName {
    pub cluster: String,
    pub service: String,
}

/// An EC2 or on-premises tag filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TagFilter {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub filter_type: Option<String>,
}

/// The prefix under which CodePipeline writes a pipeline's artifacts in its
/// artifact bucket: the first 20 characters of the pipeline name.
pub fn artifact_prefix(pipeline: &str) -> String {
    pipeline.chars().take(20).collect()
}

/// The ARN of a pipeline's objects in its artifact bucket.
pub fn artifact_objects_arn(bucket_arn: &str, pipeline: &str) -> String {
    format!("{bucket_arn}/{}/*", artifact_prefix(pipeline))
}

/// The EC2 instances a deployment group deploys to: those its EC2 tag
/// filters, tag set or Auto Scaling groups select, running or pending.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeployTargets {
    /// The selected instances, sorted by id.
    #[serde(default)]
    pub instances: Vec<Ec2Instance>,
    /// How many instances were read to find them (DescribeInstances,
    /// narrowed on the server by tag key and state, in the group's region);
    /// only the selected ones are kept.
    #[serde(default)]
    pub instances_read: u64,
    /// The launch template each of the group's Auto Scaling groups launches
    /// its instances from, by group name (groups with a launch
    /// configuration, or none, are left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub launch_templates: BTreeMap<String, LaunchTemplateUse>,
}

/// The launch template an Auto Scaling group launches from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchTemplateUse {
    /// The template's id (`lt-...`).
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The version the group asks for: `$Latest`, `$Default` or a number
    /// (CloudFormation and the API leave it out for `$Default`).
    #[serde(default)]
    pub version: Option<String>,
}

/// A running or pending EC2 instance a deployment group selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ec2Instance {
    pub id: String,
    /// pending or running.
    pub state: String,
    /// The Auto Scaling group that selected it, when one did.
    #[serde(default)]
    pub auto_scaling_group: Option<String>,
    /// The instance profile; `None` when the instance has none.
    #[serde(default)]
    pub instance_profile_arn: Option<String>,
    /// The role of the instance profile (IAM GetInstanceProfile); absent
    /// when there is no profile or the profile holds no role.
    pub role_arn: Observed<String>,
    /// `required` (IMDSv2 only) or `optional` (IMDSv1 allowed).
    #[serde(default)]
    pub http_tokens: Option<String>,
    /// `enabled` or `disabled` (no instance metadata, so no credentials).
    #[serde(default)]
    pub http_endpoint: Option<String>,
    #[serde(default)]
    pub http_put_response_hop_limit: Option<i32>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

// ---------------------------------------------------------------- ECS and ECR

/// The ARN of an ECS service (the long ARN format).
pub fn ecs_service_arn(
    partition: &str,
    region: &str,
    account: &str,
    cluster: &str,
    service: &str,
) -> String {
    let cluster = cluster.rsplit_once(":cluster/").map_or(cluster, |(_, c)| c);
    let service = service.rsplit('/').next().unwrap_or(service);
    format!("arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}")
}

/// One ECS service an ECS deploy action deploys to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTarget<'a> {
    pub deploy: &'a EcsDeployRef,
    pub cluster: String,
    pub service: String,
    pub service_arn: String,
}

/// The ECS services a pipeline's ECS deploy actions deploy to: from the
/// action's configuration (`ECS`), or from the deployment group
/// (`CodeDeployToECS`, once the group was read). A group that could not be
/// read is returned as a gap (its ARN and error); a group that does not
/// exist deploys nowhere.
pub fn ecs_targets<'a>(
    w: &'a PipelineWiring,
    r: &Resources,
) -> (Vec<EcsTarget<'a>>, Vec<(String, ReadError)>) {
    let mut parts = w.arn.split(':');
    let partition = parts.nth(1).unwrap_or("aws");
    let account = parts.nth(2).unwrap_or("");
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    for d in &w.ecs_deploys {
        let mut push = |cluster: &str, service: &str| {
            out.push(EcsTarget {
                deploy: d,
                cluster: cluster.to_string(),
                service: service.to_string(),
                service_arn: ecs_service_arn(partition, &d.region, account, cluster, service),
            })
        };
        match (&d.cluster, &d.service, &d.group_arn) {
            (_, Some(service), None) => push(d.cluster.as_deref().unwrap_or("default"), service),
            (_, _, Some(group)) => match r.deploy_groups.get(group) {
                Some(Observed::Ok { value }) => {
                    for e in &value.ecs_services {
                        push(&e.cluster, &e.service);
                    }
                }
                Some(Observed::Unknown { error }) => gaps.push((group.clone(), error.clone())),
                _ => {}
            },
            _ => {}
        }
    }
    (out, gaps)
}

/// An ECS service (DescribeServices).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsService {
    pub name: String,
    pub arn: String,
    pub cluster: String,
    #[serde(default)]
    pub status: Option<String>,
    /// The task definition the service runs (an ARN with its revision).
    #[serde(default)]
    pub task_definition: Option<String>,
    /// ECS, CODE_DEPLOY or EXTERNAL.
    #[serde(default)]
    pub deployment_controller: Option<String>,
}

/// One revision of an ECS task definition (DescribeTaskDefinition).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    /// The role the containers run as.
    #[serde(default)]
    pub task_role_arn: Option<String>,
    /// The role ECS pulls images and reads secrets with.
    #[serde(default)]
    pub execution_role_arn: Option<String>,
    #[serde(default)]
    pub containers: Vec<Container>,
}

/// A container of a task definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub name: String,
    pub image: String,
}

/// An image reference split into its parts: an ECR repository (when the
/// registry is a private ECR registry) and a tag or digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRef {
    /// The ECR repository's ARN, when the image is in a private ECR registry.
    pub repository_arn: Option<String>,
    pub repository_name: String,
    /// The registry (account) id of an ECR image.
    pub registry_id: Option<String>,
    pub region: Option<String>,
    /// The tag, when the image is referenced by tag (`latest` when neither
    /// a tag nor a digest is given).
    pub tag: Option<String>,
    /// The digest, when the image is pinned by digest.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `registry/name[:tag][@digest]`.
    pub fn parse(image: &str, partition: &str) -> ImageRef {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        // a tag is after the last ':' that follows the last '/'
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name_part, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        let (registry, name) = match name_part.split_once('/') {
            Some((r, n)) if r.contains('.') || r.contains(':') || r == "localhost" => (Some(r), n),
            _ => (None, name_part),
        };
        // <account>.dkr.ecr.<region>.amazonaws.com[.cn]
        let ecr = registry.and_then(|r| {
            let parts: Vec<&str> = r.split('.').collect();
            match parts.as_slice() {
                [account, "dkr", "ecr", region, "amazonaws", "com", ..]
                    if account.chars().all(|c| c.is_ascii_digit()) =>
                {
                    Some((account.to_string(), region.to_string()))
                }
                _ => None,
            }
        });
        match ecr {
            Some((account, region)) => ImageRef {
                repository_arn: Some(format!(
                    "arn:{partition}:ecr:{region}:{account}:repository/{name}"
                )),
                repository_name: name.to_string(),
                registry_id: Some(account),
                region: Some(region),
                tag,
                digest,
            },
            None => ImageRef {
                repository_arn: None,
                repository_name: name_part.to_string(),
                registry_id: None,
                region: None,
                tag,
                digest,
            },
        }
    }
}

/// An ECR repository (DescribeRepositories) with its policy
/// (GetRepositoryPolicy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRepository {
    pub name: String,
    pub arn: String,
    #[serde(default)]
    pub registry_id: Option<String>,
    /// MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
    #[serde(default)]
    pub tag_mutability: Option<String>,
    /// The exclusion filters of the `*_WITH_EXCLUSION` settings (wildcards).
    #[serde(default)]
    pub tag_mutability_exclusions: Vec<String>,
    #[serde(default)]
    pub scan_on_push: Option<bool>,
    /// The repository policy; absent when the repository has none.
    pub policy: Observed<PolicyText>,
}

/// Whether `tag` can be moved to another image in a repository with this
/// tag mutability: `None` when the setting is not one of the four known.
/// With `IMMUTABLE_WITH_EXCLUSION` the tags that match an exclusion filter
/// stay mutable; with `MUTABLE_WITH_EXCLUSION` they are the immutable ones.
pub fn image_tag_mutable(mutability: &str, exclusions: &[String], tag: &str) -> Option<bool> {
    let excluded = exclusions.iter().any(|f| tag_filter_matches(f, tag));
    match mutability {
        "MUTABLE" => Some(true),
        "IMMUTABLE" => Some(false),
        "IMMUTABLE_WITH_EXCLUSION" => Some(excluded),
        "MUTABLE_WITH_EXCLUSION" => Some(!excluded),
        _ => None,
    }
}

/// An ECR tag exclusion filter: `*` matches any run of characters (none
/// included); every other character matches itself, case counting.
pub fn tag_filter_matches(filter: &str, tag: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    let Some((first, rest)) = parts.split_first() else {
        return tag.is_empty();
    };
    let Some(mut left) = tag.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        // no '*': the whole tag
        return left.is_empty();
    };
    for m in middle {
        match left.find(m) {
            Some(i) => left = &left[i + m.len()..],
            None => return false,
        }
    }
    left.len() >= last.len() && left.ends_with(last)
}

// ---------------------------------------------------------------- EventBridge

/// An EventBridge rule that targets at least one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRule {
    pub name: String,
    pub arn: String,
    pub event_bus: String,
    /// ENABLED, DISABLED, or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS.
    pub state: String,
    /// The event pattern, parsed; a pattern that is not JSON is kept as a string.
    #[serde(default)]
    pub event_pattern: Option<serde_json::Value>,
    #[serde(default)]
    pub schedule_expression: Option<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub managed_by: Option<String>,
    pub targets: Vec<EventTarget>,
}

/// A target of an EventBridge rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTarget {
    pub id: String,
    pub arn: String,
    #[serde(default)]
    pub role_arn: Option<String>,
}

// ---------------------------------------------------------------- S3

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

// ---------------------------------------------------------------- KMS

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

// ---------------------------------------------------------------- IAM

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

impl Resources {
    /// Calls `f` for every read error recorded on a resource or one of its
    /// fields (the fields each kind declares in
    /// [`crate::collect::kind::Facts::field_errors`]).
    pub fn visit_errors(&self, f: &mut dyn FnMut(&str, &ReadError)) {
        crate::collect::kind::visit_errors(self, f);
    }
}

#[cfg(test)]
mod policy_summary_tests {
    use super::*;

    #[test]
    fn summaries_only_inside_the_closure() {
        let p = PolicyText::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
        );
        let full = serde_json::to_value(&p).unwrap_or_default();
        assert!(full["raw"].is_string() && full["document"].is_object());
        let summary = with_policy_summaries(|| serde_json::to_value(&p)).unwrap_or_default();
        assert_eq!(
            summary,
            serde_json::json!({"parsed": true, "statements": 1})
        );
        // the mode ends with the closure
        assert_eq!(serde_json::to_value(&p).unwrap_or_default(), full);
        let bad = PolicyText::parse("not json");
        let s = with_policy_summaries(|| serde_json::to_value(&bad)).unwrap_or_default();
        assert_eq!(s, serde_json::json!({"parsed": false, "statements": 0}));
    }
}

#[cfg(test)]
mod ecr_tests {
    use super::*;

    #[test]
    fn image_references_are_split_into_repository_tag_and_digest() {
        let i = ImageRef::parse(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:v1.2",
            "aws",
        );
        assert_eq!(
            i.repository_arn.as_deref(),
            Some("arn:aws:ecr:eu-west-1:123456789012:repository/team/web")
        );
        assert_eq!(i.registry_id.as_deref(), Some("123456789012"));
        assert_eq!(
            (i.tag.as_deref(), i.digest.as_deref()),
            (Some("v1.2"), None)
        );
        let d = ImageRef::parse(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:abc",
            "aws",
        );
        assert_eq!((d.tag, d.digest.as_deref()), (None, Some("sha256:abc")));
        // no tag and no digest: latest
        let l = ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/web", "aws");
        assert_eq!(l.tag.as_deref(), Some("latest"));
        // not a private ECR registry: no repository to read
        for other in [
            "nginx:1.27",
            "public.ecr.aws/nginx/nginx:1",
            "localhost:5000/web:1",
        ] {
            assert_eq!(
                ImageRef::parse(other, "aws").repository_arn,
                None,
                "{other}"
            );
        }
        assert_eq!(
            ImageRef::parse("localhost:5000/web:1", "aws")
                .tag
                .as_deref(),
            Some("1")
        );
    }

    #[test]
    fn tag_mutability_is_decided_with_the_exclusion_filters() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(image_tag_mutable("MUTABLE", &[], "v1"), Some(true));
        assert_eq!(
            image_tag_mutable("IMMUTABLE", &f(&["*"]), "v1"),
            Some(false)
        );
        // excluded tags stay mutable
        let dev = f(&["dev-*", "latest"]);
        let iwe = "IMMUTABLE_WITH_EXCLUSION";
        assert_eq!(image_tag_mutable(iwe, &dev, "dev-42"), Some(true));
        assert_eq!(image_tag_mutable(iwe, &dev, "latest"), Some(true));
        assert_eq!(image_tag_mutable(iwe, &dev, "v1"), Some(false));
        // excluded tags are the immutable ones
        let rel = f(&["v*.*"]);
        let mwe = "MUTABLE_WITH_EXCLUSION";
        assert_eq!(image_tag_mutable(mwe, &rel, "v1.2"), Some(false));
        assert_eq!(image_tag_mutable(mwe, &rel, "v1"), Some(true));
        assert_eq!(image_tag_mutable("SOMETHING_NEW", &rel, "v1"), None);
    }

    #[test]
    fn exclusion_filters_match_exactly() {
        let cases = [
            ("release-*", "release-1", true),
            ("release-*", "release-", true),
            ("release-*", "Release-1", false),
            ("release-*", "xrelease-1", false),
            ("*-rc", "1.0-rc", true),
            ("*-rc", "1.0-rc1", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("*", "", true),
            ("v.1", "vx1", false),
        ];
        for (filter, tag, want) in cases {
            assert_eq!(tag_filter_matches(filter, tag), want, "{filter} ~ {tag}");
        }
    }
}
