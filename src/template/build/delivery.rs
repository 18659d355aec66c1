//! The delivery resources: pipelines, repositories, build projects,
//! CodeDeploy applications, groups and configurations, EventBridge rules.

use super::*;

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
