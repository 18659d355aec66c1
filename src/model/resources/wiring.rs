//! The resolved wiring of each pipeline: what its declaration points at, by ARN.

use super::*;

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

/// The account a CodeDeploy action deploys into: its group's (the
/// account of the action's role when it names one), or `own` when the
/// group ARN names none.
pub fn deploy_account<'a>(d: &'a DeployRef, own: &'a str) -> &'a str {
    match d.group_arn.split(':').nth(4) {
        Some(a) if !a.is_empty() => a,
        _ => own,
    }
}

/// A CodeDeploy deploy action. Its application and group are in the
/// account of the action's role when it names one (a deploy into another
/// account), else in the pipeline's.
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
