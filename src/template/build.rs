//! The one home of the CloudFormation resource type -> snapshot model
//! mapping: each resource of a template becomes the value a live read of
//! the deployed resource would give, its settings from the properties and
//! AWS's documented defaults where a property is not written. A value the
//! templates do not determine is unknown (`iac-unresolved`), never absent.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::intrinsics::{Eval, Fail, RawResource, Scope, scalar_text};
use super::Invalid;
use crate::collect::codebuild::strip_credentials;
use crate::collect::codedeploy;
use crate::model::secrets;
use crate::model::{
    Action, ArtifactStore, Bucket, BucketEncryption, BucketLogging, BuildArtifacts,
    BuildEnvironment, BuildLogs, BuildProject, BuildSource, Buildspec, DeployApplication,
    DeployConfig, DeployGroup, EncryptionRule, EnvVar, EventRule, EventTarget, GitPatterns, KmsKey,
    ManagedPolicy, MinimumHealthyHosts, Observed, Pipeline, PipelineTrigger, PolicyText,
    PublicAccessBlock, PullRequestFilter, PushFilter, ReadError, ReadErrorKind, Repository, Role,
    Stage, TagFilter, Versioning, Webhook, WebhookFilter, WebhookScope,
};

/// The action recorded on values a template does not determine.
pub const UNRESOLVED: &str = "iac-unresolved";
/// The action recorded on facts only the live account has.
pub const NOT_CHECKED: &str = "iac-not-checked";

/// A value the templates do not determine.
pub fn unresolved_error(message: impl Into<String>) -> ReadError {
    ReadError {
        kind: ReadErrorKind::Unsupported,
        action: UNRESOLVED.to_string(),
        code: Some(UNRESOLVED.to_string()),
        message: message.into(),
    }
}

/// A fact of the live account that template mode does not check.
pub fn not_checked(message: impl Into<String>) -> ReadError {
    ReadError {
        kind: ReadErrorKind::Unsupported,
        action: NOT_CHECKED.to_string(),
        code: Some(NOT_CHECKED.to_string()),
        message: format!("{}: not checked in template mode", message.into()),
    }
}

/// An evaluation as an observed value: unresolved is unknown; an invalid
/// template is an error.
pub fn observe<T>(e: Eval<T>, what: &str) -> Result<Observed<T>, Invalid> {
    match e {
        Ok(v) => Ok(Observed::ok(v)),
        Err(Fail::Unresolved(why)) => Ok(Observed::Unknown {
            error: unresolved_error(format!("{what}: {why}")),
        }),
        Err(Fail::Invalid(why)) => Err(Invalid::within(what, why)),
    }
}

/// The evaluated properties of one resource, read one at a time.
pub struct Props<'s, 'a> {
    pub scope: &'s Scope<'a>,
    pub raw: &'s RawResource,
}

impl Props<'_, '_> {
    pub fn get(&self, key: &str) -> Eval<Option<Value>> {
        match self.raw.properties.get(key) {
            None => Ok(None),
            Some(v) => self.scope.eval(v, 0).map(|x| x.filter(|v| !v.is_null())),
        }
    }

    pub fn text(&self, key: &str) -> Eval<Option<String>> {
        Ok(self.get(key)?.as_ref().and_then(|v| scalar_text(Some(v))))
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| scalar_text(Some(x)))
}

fn flag(v: &Value, key: &str) -> Option<bool> {
    match v.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().to_ascii_lowercase().parse().ok(),
        _ => None,
    }
}

fn items<'v>(v: &'v Value, key: &str) -> Vec<&'v Value> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn texts(v: &Value, key: &str) -> Vec<String> {
    items(v, key)
        .into_iter()
        .filter_map(|x| scalar_text(Some(x)))
        .collect()
}

/// A policy document written as an object or as JSON text.
pub fn policy_text(v: &Value) -> PolicyText {
    match v {
        Value::String(s) => PolicyText::parse(s),
        other => PolicyText::parse(&other.to_string()),
    }
}

/// An action configuration value as CodePipeline stores it: a string.
fn config_value(v: &Value) -> String {
    scalar_text(Some(v)).unwrap_or_else(|| v.to_string())
}

// ---------------------------------------------------------------- CodePipeline

fn store(v: &Value, region: Option<String>) -> ArtifactStore {
    let key = v.get("EncryptionKey");
    ArtifactStore {
        region,
        store_type: text(v, "Type").unwrap_or_else(|| "S3".to_string()),
        location: text(v, "Location").unwrap_or_default(),
        encryption_key_id: key.and_then(|k| text(k, "Id")),
        encryption_key_type: key.and_then(|k| text(k, "Type")),
    }
}

fn patterns(v: Option<&Value>) -> Option<GitPatterns> {
    let v = v?;
    Some(GitPatterns {
        includes: texts(v, "Includes"),
        excludes: texts(v, "Excludes"),
    })
}

/// A pipeline declaration.
pub fn pipeline(p: &Props<'_, '_>, name: &str, arn: &str, region: &str) -> Eval<Pipeline> {
    let mut stores = Vec::new();
    if let Some(s) = p.get("ArtifactStore")? {
        stores.push(store(&s, None));
    }
    if let Some(list) = p.get("ArtifactStores")? {
        for s in list.as_array().into_iter().flatten() {
            if let Some(inner) = s.get("ArtifactStore") {
                stores.push(store(inner, text(s, "Region")));
            }
        }
    }
    let mut stages = Vec::new();
    for s in p
        .get("Stages")?
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let mut actions = Vec::new();
        for a in items(s, "Actions") {
            let ty = a.get("ActionTypeId").cloned().unwrap_or(Value::Null);
            let configuration: BTreeMap<String, String> = a
                .get("Configuration")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), config_value(v)))
                        .collect()
                })
                .unwrap_or_default();
            let artifacts = |key: &str| -> Vec<String> {
                items(a, key)
                    .into_iter()
                    .filter_map(|x| text(x, "Name"))
                    .collect()
            };
            actions.push(Action {
                name: text(a, "Name").unwrap_or_default(),
                category: text(&ty, "Category").unwrap_or_default(),
                owner: text(&ty, "Owner").unwrap_or_default(),
                provider: text(&ty, "Provider").unwrap_or_default(),
                version: text(&ty, "Version").unwrap_or_default(),
                run_order: Some(
                    text(a, "RunOrder")
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(1),
                ),
                configuration,
                role_arn: text(a, "RoleArn"),
                region: text(a, "Region"),
                input_artifacts: artifacts("InputArtifacts"),
                output_artifacts: artifacts("OutputArtifacts"),
                ..Action::default()
            });
        }
        stages.push(Stage {
            name: text(s, "Name").unwrap_or_default(),
            actions,
        });
    }
    let mut triggers = Vec::new();
    for t in p
        .get("Triggers")?
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let git = t.get("GitConfiguration").cloned().unwrap_or(Value::Null);
        triggers.push(PipelineTrigger {
            provider_type: text(t, "ProviderType").unwrap_or_default(),
            source_action: text(&git, "SourceActionName").unwrap_or_default(),
            push: items(&git, "Push")
                .into_iter()
                .map(|f| PushFilter {
                    branches: patterns(f.get("Branches")),
                    tags: patterns(f.get("Tags")),
                    file_paths: patterns(f.get("FilePaths")),
                })
                .collect(),
            pull_request: items(&git, "PullRequest")
                .into_iter()
                .map(|f| PullRequestFilter {
                    events: texts(f, "Events"),
                    branches: patterns(f.get("Branches")),
                    file_paths: patterns(f.get("FilePaths")),
                })
                .collect(),
        });
    }
    Ok(Pipeline {
        name: name.to_string(),
        arn: arn.to_string(),
        region: region.to_string(),
        pipeline_type: p.text("PipelineType")?,
        execution_mode: p.text("ExecutionMode")?,
        version: Some(1),
        role_arn: p.text("RoleArn")?,
        artifact_stores: stores,
        stages,
        triggers,
        ..Pipeline::default()
    })
}

// ---------------------------------------------------------------- CodeCommit

pub fn repository(p: &Props<'_, '_>, name: &str, arn: &str, id: &str) -> Eval<Repository> {
    Ok(Repository {
        name: name.to_string(),
        arn: arn.to_string(),
        id: Some(id.to_string()),
        default_branch: None,
        kms_key_id: p.text("KmsKeyId")?,
    })
}

// ---------------------------------------------------------------- CodeBuild

fn build_source(v: &Value, primary: bool) -> BuildSource {
    let (location, credentials_in_location) = match text(v, "Location") {
        Some(l) => {
            let (clean, had) = strip_credentials(&l);
            (Some(clean), had)
        }
        None => (None, false),
    };
    BuildSource {
        source_type: text(v, "Type").unwrap_or_default(),
        location,
        credentials_in_location,
        buildspec: primary.then(|| Buildspec::classify(text(v, "BuildSpec").as_deref())),
    }
}

fn build_artifacts(v: &Value) -> BuildArtifacts {
    BuildArtifacts {
        artifacts_type: text(v, "Type").unwrap_or_default(),
        identifier: text(v, "ArtifactIdentifier"),
        encryption_disabled: flag(v, "EncryptionDisabled").unwrap_or(false),
    }
}

fn env_var(v: &Value) -> EnvVar {
    let name = text(v, "Name").unwrap_or_default();
    let var_type = text(v, "Type").unwrap_or_else(|| "PLAINTEXT".to_string());
    let value = text(v, "Value").unwrap_or_default();
    if var_type == "PLAINTEXT" {
        EnvVar {
            secret_kinds: secrets::classify(&name, &value),
            name,
            var_type,
            reference: None,
        }
    } else {
        EnvVar {
            name,
            var_type,
            reference: Some(value),
            secret_kinds: Vec::new(),
        }
    }
}

fn webhook(triggers: &Value) -> Option<Webhook> {
    if !flag(triggers, "Webhook").unwrap_or(false) {
        return None;
    }
    Some(Webhook {
        build_type: text(triggers, "BuildType"),
        filter_groups: triggers
            .get("FilterGroups")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|g| {
                g.as_array()
                    .into_iter()
                    .flatten()
                    .map(|f| WebhookFilter {
                        filter_type: text(f, "Type").unwrap_or_default(),
                        pattern: text(f, "Pattern").unwrap_or_default(),
                        exclude_matched_pattern: flag(f, "ExcludeMatchedPattern").unwrap_or(false),
                    })
                    .collect()
            })
            .collect(),
        scope: triggers.get("ScopeConfiguration").map(|s| WebhookScope {
            scope_type: text(s, "Scope").unwrap_or_default(),
            name: text(s, "Name").unwrap_or_default(),
            domain: text(s, "Domain"),
        }),
        ..Webhook::default()
    })
}

/// A build project. The value of a PLAINTEXT variable is classified and
/// dropped here, as the live read does.
pub fn build_project(
    p: &Props<'_, '_>,
    name: &str,
    arn: &str,
    region: &str,
    account: &str,
    partition: &str,
) -> Eval<BuildProject> {
    let env = p.get("Environment")?.unwrap_or(Value::Null);
    let logs = p.get("LogsConfig")?.unwrap_or(Value::Null);
    let cw = logs.get("CloudWatchLogs");
    let s3 = logs.get("S3Logs");
    let mut artifacts = Vec::new();
    if let Some(a) = p.get("Artifacts")? {
        artifacts.push(build_artifacts(&a));
    }
    for a in p
        .get("SecondaryArtifacts")?
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        artifacts.push(build_artifacts(a));
    }
    let service_role = p.text("ServiceRole")?.map(|r| {
        if r.starts_with("arn:") {
            r
        } else {
            format!("arn:{partition}:iam::{account}:role/{r}")
        }
    });
    Ok(BuildProject {
        name: name.to_string(),
        arn: arn.to_string(),
        source: build_source(&p.get("Source")?.unwrap_or(Value::Null), true),
        secondary_sources: p
            .get("SecondarySources")?
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|s| build_source(s, false))
            .collect(),
        environment: BuildEnvironment {
            environment_type: text(&env, "Type").unwrap_or_default(),
            image: text(&env, "Image").unwrap_or_default(),
            compute_type: text(&env, "ComputeType").unwrap_or_default(),
            privileged_mode: flag(&env, "PrivilegedMode").unwrap_or(false),
            image_pull_credentials_type: text(&env, "ImagePullCredentialsType"),
            variables: items(&env, "EnvironmentVariables")
                .into_iter()
                .map(env_var)
                .collect(),
        },
        service_role,
        // CodeBuild uses the AWS managed key when the project names none
        encryption_key: Some(
            p.text("EncryptionKey")?
                .unwrap_or_else(|| format!("arn:{partition}:kms:{region}:{account}:alias/aws/s3")),
        ),
        encryption_key_arn: None,
        logs: BuildLogs {
            cloudwatch_status: Some(
                cw.and_then(|c| text(c, "Status"))
                    .unwrap_or_else(|| "ENABLED".to_string()),
            ),
            s3_status: s3.and_then(|c| text(c, "Status")),
            s3_encryption_disabled: s3.and_then(|c| flag(c, "EncryptionDisabled")),
        },
        last_modified: None,
        visibility: p.text("Visibility")?,
        artifacts,
        vpc_id: p.get("VpcConfig")?.and_then(|v| text(&v, "VpcId")),
        webhook: p.get("Triggers")?.as_ref().and_then(webhook),
    })
}

// ---------------------------------------------------------------- CodeDeploy

pub fn deploy_application(
    p: &Props<'_, '_>,
    name: &str,
    arn: &str,
    id: &str,
) -> Eval<DeployApplication> {
    Ok(DeployApplication {
        name: name.to_string(),
        arn: arn.to_string(),
        id: Some(id.to_string()),
        compute_platform: Some(
            p.text("ComputePlatform")?
                .unwrap_or_else(|| "Server".into()),
        ),
    })
}

fn tag_filter(v: &Value) -> TagFilter {
    TagFilter {
        key: text(v, "Key"),
        value: text(v, "Value"),
        filter_type: text(v, "Type"),
    }
}

/// A deployment group: (its application's name, the group).
pub fn deploy_group(
    p: &Props<'_, '_>,
    name: &str,
    partition: &str,
    region: &str,
    account: &str,
) -> Eval<DeployGroup> {
    let Some(app) = p.text("ApplicationName")? else {
        return Err(Fail::Invalid(
            "a deployment group needs ApplicationName".into(),
        ));
    };
    let rollback = p.get("AutoRollbackConfiguration")?.unwrap_or(Value::Null);
    let alarms = p.get("AlarmConfiguration")?.unwrap_or(Value::Null);
    let tag_set = p
        .get("Ec2TagSet")?
        .map(|s| {
            items(&s, "Ec2TagSetList")
                .into_iter()
                .map(|g| {
                    items(g, "Ec2TagGroup")
                        .into_iter()
                        .map(tag_filter)
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    let filters = |v: Option<Value>| -> Vec<TagFilter> {
        v.as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(tag_filter)
            .collect()
    };
    Ok(DeployGroup {
        arn: codedeploy::group_arn(partition, region, account, &app, name),
        application_name: app,
        name: name.to_string(),
        id: None,
        service_role_arn: p.text("ServiceRoleArn")?,
        deployment_config_name: Some(
            p.text("DeploymentConfigName")?
                .unwrap_or_else(|| "CodeDeployDefault.OneAtATime".to_string()),
        ),
        ec2_tag_filters: filters(p.get("Ec2TagFilters")?),
        ec2_tag_set: tag_set,
        on_premises_tag_filters: filters(p.get("OnPremisesInstanceTagFilters")?),
        auto_scaling_groups: p
            .get("AutoScalingGroups")?
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| scalar_text(Some(x)))
            .collect(),
        auto_rollback_enabled: flag(&rollback, "Enabled").unwrap_or(false),
        auto_rollback_events: texts(&rollback, "Events"),
        alarms_enabled: flag(&alarms, "Enabled").unwrap_or(false),
        alarms: items(&alarms, "Alarms")
            .into_iter()
            .filter_map(|a| text(a, "Name"))
            .collect(),
        compute_platform: Some("Server".to_string()),
        // ECS blue/green groups are not mapped from templates
        ecs_services: Vec::new(),
        // nor Lambda groups (a template holds no deployment)
        lambda_deployment: None,
    })
}

pub fn deploy_config(p: &Props<'_, '_>, name: &str, arn: &str) -> Eval<DeployConfig> {
    let min = p.get("MinimumHealthyHosts")?;
    Ok(DeployConfig {
        name: name.to_string(),
        arn: arn.to_string(),
        built_in: false,
        minimum_healthy_hosts: min.map(|m| MinimumHealthyHosts {
            kind: text(&m, "Type").unwrap_or_default(),
            value: text(&m, "Value").and_then(|v| v.parse().ok()).unwrap_or(0),
        }),
        traffic_routing: p
            .get("TrafficRoutingConfig")?
            .and_then(|t| text(&t, "Type")),
    })
}

// ---------------------------------------------------------------- EventBridge

pub fn event_rule(p: &Props<'_, '_>, name: &str, arn: &str) -> Eval<EventRule> {
    let pattern = p.get("EventPattern")?.map(|v| match v {
        Value::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        other => other,
    });
    let bus = p
        .text("EventBusName")?
        .map(|b| b.rsplit('/').next().unwrap_or(&b).to_string())
        .unwrap_or_else(|| "default".to_string());
    Ok(EventRule {
        name: name.to_string(),
        arn: arn.to_string(),
        event_bus: bus,
        state: p.text("State")?.unwrap_or_else(|| "ENABLED".to_string()),
        event_pattern: pattern,
        schedule_expression: p.text("ScheduleExpression")?,
        role_arn: p.text("RoleArn")?,
        managed_by: None,
        targets: p
            .get("Targets")?
            .as_ref()
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| EventTarget {
                id: text(t, "Id").unwrap_or_default(),
                arn: text(t, "Arn").unwrap_or_default(),
                role_arn: text(t, "RoleArn"),
            })
            .collect(),
    })
}

// ---------------------------------------------------------------- S3

/// A bucket's settings, each part unknown on its own when unresolved. The
/// policy is set afterwards from the bucket policies of the templates.
pub fn bucket(p: &Props<'_, '_>, name: &str, arn: &str) -> Result<Bucket, Invalid> {
    let what = |k: &str| format!("{name} {k}");
    let encryption = observe(
        p.get("BucketEncryption").map(|e| {
            let rules: Vec<EncryptionRule> = e
                .as_ref()
                .map(|e| items(e, "ServerSideEncryptionConfiguration"))
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    let d = r
                        .get("ServerSideEncryptionByDefault")
                        .cloned()
                        .unwrap_or(Value::Null);
                    EncryptionRule {
                        sse_algorithm: text(&d, "SSEAlgorithm").unwrap_or_default(),
                        kms_master_key_id: text(&d, "KMSMasterKeyID"),
                        kms_key_arn: None,
                        bucket_key_enabled: flag(r, "BucketKeyEnabled"),
                    }
                })
                .collect();
            if rules.is_empty() {
                // S3 encrypts every new bucket with SSE-S3 by default
                BucketEncryption {
                    rules: vec![EncryptionRule {
                        sse_algorithm: "AES256".to_string(),
                        kms_master_key_id: None,
                        kms_key_arn: None,
                        bucket_key_enabled: Some(false),
                    }],
                }
            } else {
                BucketEncryption { rules }
            }
        }),
        &what("BucketEncryption"),
    )?;
    let public_access_block = observe(
        p.get("PublicAccessBlockConfiguration").map(|b| match b {
            // new buckets block public access unless told otherwise
            None => PublicAccessBlock {
                block_public_acls: true,
                ignore_public_acls: true,
                block_public_policy: true,
                restrict_public_buckets: true,
            },
            Some(b) => PublicAccessBlock {
                block_public_acls: flag(&b, "BlockPublicAcls").unwrap_or(false),
                ignore_public_acls: flag(&b, "IgnorePublicAcls").unwrap_or(false),
                block_public_policy: flag(&b, "BlockPublicPolicy").unwrap_or(false),
                restrict_public_buckets: flag(&b, "RestrictPublicBuckets").unwrap_or(false),
            },
        }),
        &what("PublicAccessBlockConfiguration"),
    )?;
    let versioning = observe(
        p.get("VersioningConfiguration").map(|v| Versioning {
            status: v.as_ref().and_then(|v| text(v, "Status")),
            mfa_delete: None,
        }),
        &what("VersioningConfiguration"),
    )?;
    let logging = observe(
        p.get("LoggingConfiguration").map(|l| match l {
            None => BucketLogging::default(),
            Some(l) => BucketLogging {
                target_bucket: Some(
                    text(&l, "DestinationBucketName").unwrap_or_else(|| name.to_string()),
                ),
                target_prefix: text(&l, "LogFilePrefix"),
            },
        }),
        &what("LoggingConfiguration"),
    )?;
    Ok(Bucket {
        name: name.to_string(),
        arn: arn.to_string(),
        encryption,
        policy: Observed::Absent,
        public_access_block,
        versioning,
        logging,
    })
}

/// Whether a bucket sends its events to EventBridge.
pub fn bucket_eventbridge(p: &Props<'_, '_>) -> Eval<bool> {
    Ok(p.get("NotificationConfiguration")?
        .and_then(|n| n.get("EventBridgeConfiguration").cloned())
        .and_then(|e| flag(&e, "EventBridgeEnabled"))
        .unwrap_or(false))
}

// ---------------------------------------------------------------- KMS

/// The policy KMS gives a key created without one.
fn default_key_policy(partition: &str, account: &str) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
}

pub fn key(
    p: &Props<'_, '_>,
    key_id: &str,
    arn: &str,
    partition: &str,
    account: &str,
) -> Result<KmsKey, Invalid> {
    let what = |k: &str| format!("key {key_id} {k}");
    let origin = observe(p.text("Origin"), &what("Origin"))?;
    let enabled = observe(p.get("Enabled"), &what("Enabled"))?;
    let key_state = match &enabled {
        Observed::Ok { value: Some(v) }
            if flag(&serde_json::json!({"v": v}), "v") == Some(false) =>
        {
            "Disabled".to_string()
        }
        _ => "Enabled".to_string(),
    };
    let external = matches!(&origin, Observed::Ok { value: Some(o) } if o != "AWS_KMS");
    let rotation_enabled = if external {
        Observed::Unknown {
            error: not_checked(format!("the rotation of imported key {key_id}")),
        }
    } else {
        observe(
            p.get("EnableKeyRotation").map(|v| {
                v.map(|v| flag(&serde_json::json!({"v": v}), "v").unwrap_or(false))
                    .unwrap_or(false)
            }),
            &what("EnableKeyRotation"),
        )?
    };
    let policy = observe(
        p.get("KeyPolicy").map(|v| match v {
            Some(v) => policy_text(&v),
            None => policy_text(&default_key_policy(partition, account)),
        }),
        &what("KeyPolicy"),
    )?;
    let textual = |k: &str| -> Option<String> { p.text(k).ok().flatten() };
    Ok(KmsKey {
        arn: arn.to_string(),
        key_id: key_id.to_string(),
        key_state,
        key_spec: Some(textual("KeySpec").unwrap_or_else(|| "SYMMETRIC_DEFAULT".into())),
        key_usage: Some(textual("KeyUsage").unwrap_or_else(|| "ENCRYPT_DECRYPT".into())),
        key_manager: Some("CUSTOMER".to_string()),
        origin: Some(match origin {
            Observed::Ok { value: Some(o) } => o,
            _ => "AWS_KMS".to_string(),
        }),
        deletion_date: None,
        description: textual("Description"),
        aliases: Vec::new(),
        rotation_enabled,
        policy,
        // grants are made at run time (CreateGrant), never declared
        grants: Observed::Unknown {
            error: not_checked(format!("the grants of key {key_id}")),
        },
    })
}

// ---------------------------------------------------------------- IAM

/// A role with its own inline policies and managed policy ARNs; the
/// policies that name it from elsewhere are added afterwards.
pub fn role(p: &Props<'_, '_>, name: &str, arn: &str) -> Result<Role, Invalid> {
    let what = |k: &str| format!("role {name} {k}");
    let trust_policy = observe(
        p.get("AssumeRolePolicyDocument").and_then(|d| {
            d.map(|d| policy_text(&d))
                .ok_or_else(|| Fail::Invalid("a role needs AssumeRolePolicyDocument".into()))
        }),
        &what("AssumeRolePolicyDocument"),
    )?;
    let inline = match p.get("Policies") {
        Ok(list) => {
            let mut m = BTreeMap::new();
            for pol in list
                .as_ref()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(pname) = text(pol, "PolicyName") else {
                    continue;
                };
                let doc = pol.get("PolicyDocument").cloned().unwrap_or(Value::Null);
                m.insert(pname, Observed::ok(policy_text(&doc)));
            }
            Observed::ok(m)
        }
        Err(Fail::Unresolved(why)) => Observed::Unknown {
            error: unresolved_error(format!("{}: {why}", what("Policies"))),
        },
        Err(Fail::Invalid(why)) => return Err(Invalid::within(what("Policies"), why)),
    };
    let attached = observe(
        p.get("ManagedPolicyArns").map(|v| {
            v.as_ref()
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|x| scalar_text(Some(x)))
                .collect::<Vec<_>>()
        }),
        &what("ManagedPolicyArns"),
    )?;
    Ok(Role {
        name: name.to_string(),
        arn: arn.to_string(),
        path: Some(p.text("Path").ok().flatten().unwrap_or_else(|| "/".into())),
        trust_policy,
        inline_policies: inline,
        attached_policies: attached,
        permissions_boundary: p.text("PermissionsBoundary").ok().flatten(),
    })
}

pub fn managed_policy(p: &Props<'_, '_>, name: &str, arn: &str) -> Result<ManagedPolicy, Invalid> {
    Ok(ManagedPolicy {
        arn: arn.to_string(),
        name: name.to_string(),
        default_version_id: Some("v1".to_string()),
        document: observe(
            p.get("PolicyDocument").and_then(|d| {
                d.map(|d| policy_text(&d))
                    .ok_or_else(|| Fail::Invalid("a managed policy needs PolicyDocument".into()))
            }),
            &format!("managed policy {name} PolicyDocument"),
        )?,
    })
}

/// The documents of AWS managed policies that template mode knows without
/// the account: the one that grants everything.
pub fn aws_managed_policy(arn: &str) -> Option<ManagedPolicy> {
    let name = arn.rsplit('/').next()?;
    if !arn.contains(":iam::aws:policy/") || name != "AdministratorAccess" {
        return None;
    }
    Some(ManagedPolicy {
        arn: arn.to_string(),
        name: name.to_string(),
        default_version_id: Some("v1".to_string()),
        document: Observed::ok(PolicyText::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )),
    })
}

/// The names of the roles a list property names (names or ARNs).
pub fn role_names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| scalar_text(Some(x)))
        .map(|r| r.rsplit('/').next().unwrap_or(&r).to_string())
        .collect()
}

/// The tags of a resource as a map.
pub fn tags(v: Option<&Value>, propagated_only: bool) -> BTreeMap<String, String> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| !propagated_only || flag(t, "PropagateAtLaunch").unwrap_or(false))
        .filter_map(|t| Some((text(t, "Key")?, text(t, "Value").unwrap_or_default())))
        .collect()
}

/// A launch template's instance profile and metadata options.
pub fn launch_template_data(v: &Value) -> (Option<String>, Option<Map<String, Value>>) {
    let data = v.get("LaunchTemplateData").cloned().unwrap_or(Value::Null);
    let profile = data
        .get("IamInstanceProfile")
        .and_then(|p| text(p, "Name").or_else(|| text(p, "Arn")));
    let meta = data
        .get("MetadataOptions")
        .and_then(Value::as_object)
        .cloned();
    (profile, meta)
}
