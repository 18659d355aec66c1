//! CodeDeploy: applications, deployment groups and configurations, and the instances they select.

use super::*;

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
    /// What a group of the Lambda compute platform last deployed, from its
    /// last successful deployment (else its last attempted one) read with
    /// BatchGetDeployments; `None` for the other platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_deployment: Option<Observed<LambdaDeployment>>,
}

/// The deployment a Lambda deployment group last made and the functions its
/// AppSpec names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaDeployment {
    /// The deployment read; `None` when the group has made none.
    #[serde(default)]
    pub deployment_id: Option<String>,
    /// The revision's type: `AppSpecContent` or `String` (an AppSpec held
    /// inline), `S3` or `GitHub` (not read).
    #[serde(default)]
    pub revision_type: Option<String>,
    /// The functions (with alias and versions) the AppSpec deploys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<LambdaTarget>,
    /// Why the functions could not be determined (no deployment yet, an
    /// AppSpec kept in S3 or GitHub, an AppSpec that does not parse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undetermined: Option<String>,
}

/// A `AWS::Lambda::Function` resource of an AppSpec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LambdaTarget {
    /// The function as the AppSpec names it (`Name`).
    pub name: String,
    /// The function's unqualified ARN.
    pub arn: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub current_version: Option<String>,
    #[serde(default)]
    pub target_version: Option<String>,
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
