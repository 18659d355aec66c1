//! The shapes of translated values: properties, blocks, lists and tags of
//! a plan's resource as CloudFormation writes them, and the resources whose
//! translation is more than a rename.

use super::*;

/// A property of a translated value: an unknown stays unknown.
pub(super) fn f(t: &Value, key: &str) -> Option<Value> {
    if intrinsic(t) {
        return Some(t.clone());
    }
    t.get(key).filter(|v| !v.is_null()).cloned()
}

/// One `rule` block of a server-side encryption configuration, as
/// CloudFormation writes it (the split resource and the legacy inline block
/// share the shape).
pub(super) fn sse_rule(r: &Value) -> Value {
    obj(vec![
        (
            "ServerSideEncryptionByDefault",
            block(r, "apply_server_side_encryption_by_default").map(|d| {
                obj(vec![
                    ("SSEAlgorithm", f(&d, "sse_algorithm")),
                    ("KMSMasterKeyID", f(&d, "kms_master_key_id")),
                ])
            }),
        ),
        ("BucketKeyEnabled", f(r, "bucket_key_enabled")),
    ])
}

/// The single block of a nested block list.
pub(super) fn block(t: &Value, key: &str) -> Option<Value> {
    match f(t, key)? {
        Value::Array(a) => a.into_iter().next(),
        v if intrinsic(&v) => Some(v),
        _ => None,
    }
}

/// Each block of a nested block list (an unknown list: one unknown).
pub(super) fn blocks(t: &Value, key: &str) -> Result<Vec<Value>, Value> {
    match f(t, key) {
        Some(Value::Array(a)) => Ok(a),
        Some(v) if intrinsic(&v) => Err(v),
        _ => Ok(Vec::new()),
    }
}

pub(super) fn list<F: Fn(&Value) -> Value>(t: &Value, key: &str, each: F) -> Option<Value> {
    match blocks(t, key) {
        Ok(v) if v.is_empty() => None,
        Ok(v) => Some(Value::Array(v.iter().map(each).collect())),
        Err(u) => Some(u),
    }
}

/// A name, when the plan gives it: an unknown name is left to the
/// placeholder (as for a template that names nothing).
pub(super) fn name_of(t: &Value, key: &str) -> Option<Value> {
    f(t, key).filter(|v| {
        !v.get("Ref")
            .and_then(Value::as_str)
            .is_some_and(|r| r.starts_with("TfUnknown"))
    })
}

/// An object of the present properties.
pub(super) fn obj(pairs: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
    )
}

/// A `{key = value}` map as CloudFormation tags.
pub(super) fn tag_list(t: &Value, key: &str) -> Option<Value> {
    let v = f(t, key)?;
    if intrinsic(&v) {
        return Some(v);
    }
    Some(Value::Array(
        v.as_object()?
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    ))
}

/// The launch template an instance or group names: by id, else by name
/// (the other one is computed by Terraform).
pub(super) fn launch_template_ref(l: &Value) -> Value {
    let id = f(l, "id");
    let name = if id.is_none() { f(l, "name") } else { None };
    obj(vec![
        ("LaunchTemplateId", id),
        ("LaunchTemplateName", name),
        ("Version", f(l, "version")),
    ])
}

pub(super) fn metadata(m: &Value) -> Value {
    obj(vec![
        ("HttpTokens", f(m, "http_tokens")),
        ("HttpEndpoint", f(m, "http_endpoint")),
        (
            "HttpPutResponseHopLimit",
            f(m, "http_put_response_hop_limit"),
        ),
    ])
}

pub(super) fn codebuild(_plan: &Translation<'_>, t: &Value) -> Value {
    let source = |s: &Value| {
        obj(vec![
            ("Type", f(s, "type")),
            ("Location", f(s, "location")),
            ("BuildSpec", f(s, "buildspec")),
            ("GitCloneDepth", f(s, "git_clone_depth")),
            ("SourceIdentifier", f(s, "source_identifier")),
        ])
    };
    let artifacts = |a: &Value| {
        obj(vec![
            ("Type", f(a, "type")),
            ("Location", f(a, "location")),
            ("EncryptionDisabled", f(a, "encryption_disabled")),
            ("ArtifactIdentifier", f(a, "artifact_identifier")),
        ])
    };
    let env = block(t, "environment").map(|e| {
        obj(vec![
            ("Type", f(&e, "type")),
            ("ComputeType", f(&e, "compute_type")),
            ("Image", f(&e, "image")),
            ("PrivilegedMode", f(&e, "privileged_mode")),
            (
                "ImagePullCredentialsType",
                f(&e, "image_pull_credentials_type"),
            ),
            (
                "EnvironmentVariables",
                list(&e, "environment_variable", |v| {
                    obj(vec![
                        ("Name", f(v, "name")),
                        ("Type", f(v, "type")),
                        ("Value", f(v, "value")),
                    ])
                }),
            ),
        ])
    });
    let logs = block(t, "logs_config").map(|l| {
        obj(vec![
            (
                "CloudWatchLogs",
                block(&l, "cloudwatch_logs").map(|c| {
                    obj(vec![
                        ("Status", f(&c, "status")),
                        ("GroupName", f(&c, "group_name")),
                    ])
                }),
            ),
            (
                "S3Logs",
                block(&l, "s3_logs").map(|c| {
                    obj(vec![
                        ("Status", f(&c, "status")),
                        ("Location", f(&c, "location")),
                        ("EncryptionDisabled", f(&c, "encryption_disabled")),
                    ])
                }),
            ),
        ])
    });
    obj(vec![
        ("Name", name_of(t, "name")),
        ("ServiceRole", f(t, "service_role")),
        ("EncryptionKey", f(t, "encryption_key")),
        ("Visibility", f(t, "project_visibility")),
        ("Source", block(t, "source").map(|s| source(&s))),
        ("SecondarySources", list(t, "secondary_sources", source)),
        ("Artifacts", block(t, "artifacts").map(|a| artifacts(&a))),
        (
            "SecondaryArtifacts",
            list(t, "secondary_artifacts", artifacts),
        ),
        ("Environment", env),
        ("LogsConfig", logs),
        (
            "VpcConfig",
            block(t, "vpc_config").map(|v| obj(vec![("VpcId", f(&v, "vpc_id"))])),
        ),
    ])
}

pub(super) fn deployment_group(t: &Value) -> Value {
    let filter = |x: &Value| {
        obj(vec![
            ("Key", f(x, "key")),
            ("Value", f(x, "value")),
            ("Type", f(x, "type")),
        ])
    };
    let tag_set = list(t, "ec2_tag_set", |s| {
        obj(vec![("Ec2TagGroup", list(s, "ec2_tag_filter", filter))])
    })
    .map(|l| json!({"Ec2TagSetList": l}));
    obj(vec![
        ("ApplicationName", f(t, "app_name")),
        ("DeploymentGroupName", f(t, "deployment_group_name")),
        ("ServiceRoleArn", f(t, "service_role_arn")),
        ("DeploymentConfigName", f(t, "deployment_config_name")),
        ("Ec2TagFilters", list(t, "ec2_tag_filter", filter)),
        ("Ec2TagSet", tag_set),
        (
            "OnPremisesInstanceTagFilters",
            list(t, "on_premises_instance_tag_filter", filter),
        ),
        ("AutoScalingGroups", f(t, "autoscaling_groups")),
        (
            "AutoRollbackConfiguration",
            block(t, "auto_rollback_configuration").map(|r| {
                obj(vec![
                    ("Enabled", f(&r, "enabled")),
                    ("Events", f(&r, "events")),
                ])
            }),
        ),
        (
            "AlarmConfiguration",
            block(t, "alarm_configuration").map(|a| {
                let alarms = f(&a, "alarms").map(|l| match l {
                    Value::Array(names) => {
                        Value::Array(names.into_iter().map(|n| json!({"Name": n})).collect())
                    }
                    other => other,
                });
                obj(vec![
                    ("Enabled", f(&a, "enabled")),
                    ("Alarms", alarms),
                    ("IgnorePollAlarmFailure", f(&a, "ignore_poll_alarm_failure")),
                ])
            }),
        ),
        (
            "DeploymentStyle",
            block(t, "deployment_style").map(|s| {
                obj(vec![
                    ("DeploymentType", f(&s, "deployment_type")),
                    ("DeploymentOption", f(&s, "deployment_option")),
                ])
            }),
        ),
    ])
}

pub(super) fn pipeline(t: &Value) -> Value {
    let store = |s: &Value| {
        obj(vec![
            ("Type", f(s, "type")),
            ("Location", f(s, "location")),
            (
                "EncryptionKey",
                block(s, "encryption_key")
                    .map(|k| obj(vec![("Id", f(&k, "id")), ("Type", f(&k, "type"))])),
            ),
        ])
    };
    let (mut single, mut multi) = (None, None);
    match blocks(t, "artifact_store") {
        Err(u) => single = Some(u),
        Ok(stores) if stores.len() == 1 && f(&stores[0], "region").is_none() => {
            single = Some(store(&stores[0]));
        }
        Ok(stores) if !stores.is_empty() => {
            multi = Some(Value::Array(
                stores
                    .iter()
                    .map(|s| {
                        obj(vec![
                            ("Region", f(s, "region")),
                            ("ArtifactStore", Some(store(s))),
                        ])
                    })
                    .collect(),
            ));
        }
        Ok(_) => {}
    }
    let artifacts = |a: &Value, key: &str| {
        f(a, key).map(|l| match l {
            Value::Array(names) => {
                Value::Array(names.into_iter().map(|n| json!({"Name": n})).collect())
            }
            other => other,
        })
    };
    let stages = list(t, "stage", |s| {
        obj(vec![
            ("Name", f(s, "name")),
            (
                "Actions",
                list(s, "action", |a| {
                    obj(vec![
                        ("Name", f(a, "name")),
                        (
                            "ActionTypeId",
                            Some(obj(vec![
                                ("Category", f(a, "category")),
                                ("Owner", f(a, "owner")),
                                ("Provider", f(a, "provider")),
                                ("Version", f(a, "version")),
                            ])),
                        ),
                        ("Configuration", f(a, "configuration")),
                        ("InputArtifacts", artifacts(a, "input_artifacts")),
                        ("OutputArtifacts", artifacts(a, "output_artifacts")),
                        ("RoleArn", f(a, "role_arn")),
                        ("RunOrder", f(a, "run_order")),
                        ("Region", f(a, "region")),
                        ("Namespace", f(a, "namespace")),
                    ])
                }),
            ),
        ])
    });
    obj(vec![
        ("Name", name_of(t, "name")),
        ("RoleArn", f(t, "role_arn")),
        ("PipelineType", f(t, "pipeline_type")),
        ("ExecutionMode", f(t, "execution_mode")),
        ("ArtifactStore", single),
        ("ArtifactStores", multi),
        ("Stages", stages),
    ])
}
