//! One plan translated into a CloudFormation-shaped template: each managed
//! resource by type, the split settings folded into their resource.

use super::shapes::*;
use super::*;

/// Translates one plan into a CloudFormation-shaped template and the
/// unknown values its parameters stand for; notes on what was left out.
pub(super) fn translate(
    path: &Path,
    doc: &Value,
) -> (Value, Vec<(String, String)>, Vec<Diagnostic>) {
    let mut changes: BTreeMap<String, &Value> = BTreeMap::new();
    for c in doc
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(a) = c.get("address").and_then(Value::as_str) {
            changes.insert(a.to_string(), c);
        }
    }
    let mut res = Vec::new();
    if let Some(root) = doc.pointer("/planned_values/root_module") {
        collect(root, &changes, &mut res, 0);
    }
    let by_address = res
        .iter()
        .enumerate()
        .map(|(i, r)| (r.address.clone(), i))
        .collect();
    let mut plan = Translation {
        path,
        doc,
        res,
        by_address,
        known_ids: BTreeMap::new(),
        unknowns: Vec::new(),
    };
    for i in 0..plan.res.len() {
        let id = plan.res[i].address.clone();
        let get_att = json!({"Fn::GetAtt": [id.clone(), "Arn"]});
        let reference = json!({"Ref": id.clone()});
        match plan.res[i].ty.as_str() {
            "aws_kms_key" => {
                if let Some(a) = plan.is_known(i, "arn").and_then(Value::as_str) {
                    plan.known_ids.insert(a.to_string(), get_att);
                }
                if let Some(k) = plan.is_known(i, "key_id").and_then(Value::as_str) {
                    plan.known_ids.insert(k.to_string(), reference);
                }
            }
            "aws_launch_template" => {
                if let Some(k) = plan.is_known(i, "id").and_then(Value::as_str) {
                    plan.known_ids.insert(k.to_string(), reference);
                }
            }
            _ => {}
        }
    }
    let mut notes = Vec::new();
    let mut resources = Map::new();
    // folded into their bucket or role afterwards: (target, property, value)
    let mut folds: Vec<(usize, &'static str, Value)> = Vec::new();
    let mut targets: Vec<(usize, Value)> = Vec::new();
    // settings whose resource the plan leaves unknown: (type, property, why)
    let mut unsure: Vec<(&'static str, &'static str, String)> = Vec::new();
    for i in 0..plan.res.len() {
        let ty = plan.res[i].ty.clone();
        let address = plan.res[i].address.clone();
        let cfn = crate::iac::terraform::cloudformation_type(&ty);
        let t = match cfn {
            Some(_) => plan.values(i),
            None => match ty.as_str() {
                "aws_s3_bucket_versioning"
                | "aws_s3_bucket_server_side_encryption_configuration"
                | "aws_s3_bucket_public_access_block"
                | "aws_s3_bucket_logging"
                | "aws_s3_bucket_notification"
                | "aws_iam_role_policy_attachment"
                | "aws_cloudwatch_event_target" => plan.values(i),
                _ => continue,
            },
        };
        let props = match ty.as_str() {
            "aws_s3_bucket" => {
                // The inline settings of provider versions before 4 (still
                // accepted, deprecated), read as their split resources are
                // when the configuration writes them; a split resource
                // folded in afterwards wins. Not written, they are computed
                // from the bucket and say nothing.
                let configured = |k: &str| plan.configured(i, k);
                let versioning = if configured("versioning") {
                    block(&t, "versioning").map(|v| match f(&v, "enabled") {
                        Some(Value::Bool(on)) => obj(vec![(
                            "Status",
                            Some(json!(if on { "Enabled" } else { "Suspended" })),
                        )]),
                        Some(unknown) if intrinsic(&unknown) => {
                            obj(vec![("Status", Some(unknown))])
                        }
                        _ => obj(vec![("Status", Some(json!("Suspended")))]),
                    })
                } else {
                    None
                };
                let encryption = if configured("server_side_encryption_configuration") {
                    block(&t, "server_side_encryption_configuration").map(|c| {
                        let rules = list(&c, "rule", sse_rule);
                        obj(vec![("ServerSideEncryptionConfiguration", rules)])
                    })
                } else {
                    None
                };
                let logging = if configured("logging") {
                    block(&t, "logging").map(|l| {
                        obj(vec![
                            ("DestinationBucketName", f(&l, "target_bucket")),
                            ("LogFilePrefix", f(&l, "target_prefix")),
                        ])
                    })
                } else {
                    None
                };
                if configured("policy") {
                    // the inline policy as the bucket policy it stands for
                    resources.insert(
                        format!("{address}#policy"),
                        json!({"Type": "AWS::S3::BucketPolicy", "Properties": obj(vec![
                            ("Bucket", Some(json!({"Ref": address.clone()}))),
                            ("PolicyDocument", plan.document(f(&t, "policy"))),
                        ])}),
                    );
                }
                obj(vec![
                    ("BucketName", name_of(&t, "bucket")),
                    ("VersioningConfiguration", versioning),
                    ("BucketEncryption", encryption),
                    ("LoggingConfiguration", logging),
                ])
            }
            "aws_s3_bucket_policy"
                if plan.is_known(i, "bucket").is_none()
                    && plan
                        .named(i, "bucket", &["aws_s3_bucket"], &["bucket", "id"])
                        .is_none() =>
            {
                undetermined(
                    &plan,
                    i,
                    "bucket",
                    "AWS::S3::Bucket",
                    "#policy",
                    &mut notes,
                    &mut unsure,
                );
                continue;
            }
            "aws_s3_bucket_policy" => obj(vec![
                ("Bucket", f(&t, "bucket")),
                ("PolicyDocument", plan.document(f(&t, "policy"))),
            ]),
            "aws_kms_key" => obj(vec![
                ("Description", f(&t, "description")),
                ("EnableKeyRotation", f(&t, "enable_key_rotation")),
                ("Enabled", f(&t, "is_enabled")),
                ("KeyUsage", f(&t, "key_usage")),
                ("KeySpec", f(&t, "customer_master_key_spec")),
                ("KeyPolicy", plan.document(f(&t, "policy"))),
            ]),
            "aws_kms_alias" => obj(vec![
                ("AliasName", f(&t, "name")),
                ("TargetKeyId", f(&t, "target_key_id")),
            ]),
            "aws_iam_role" => {
                let configured = |k: &str| plan.configured(i, k);
                // not written: Terraform leaves them alone (none on a new role)
                let inline = if configured("inline_policy") {
                    list(&t, "inline_policy", |p| {
                        obj(vec![
                            ("PolicyName", f(p, "name")),
                            ("PolicyDocument", plan.document(f(p, "policy"))),
                        ])
                    })
                } else {
                    None
                };
                let managed = if configured("managed_policy_arns") {
                    f(&t, "managed_policy_arns")
                } else {
                    None
                };
                obj(vec![
                    ("RoleName", name_of(&t, "name")),
                    ("Path", f(&t, "path")),
                    (
                        "AssumeRolePolicyDocument",
                        plan.document(f(&t, "assume_role_policy")),
                    ),
                    ("Policies", inline),
                    ("ManagedPolicyArns", managed),
                ])
            }
            "aws_iam_policy" => obj(vec![
                ("ManagedPolicyName", name_of(&t, "name")),
                ("Path", f(&t, "path")),
                ("PolicyDocument", plan.document(f(&t, "policy"))),
            ]),
            "aws_iam_role_policy" => obj(vec![
                ("PolicyName", f(&t, "name")),
                ("RoleName", f(&t, "role")),
                ("PolicyDocument", plan.document(f(&t, "policy"))),
            ]),
            "aws_iam_instance_profile" => obj(vec![
                ("InstanceProfileName", name_of(&t, "name")),
                ("Path", f(&t, "path")),
                ("Roles", f(&t, "role").map(|r| json!([r]))),
            ]),
            "aws_codecommit_repository" => {
                obj(vec![("RepositoryName", name_of(&t, "repository_name"))])
            }
            "aws_codebuild_project" => codebuild(&plan, &t),
            "aws_codedeploy_app" => obj(vec![
                ("ApplicationName", name_of(&t, "name")),
                ("ComputePlatform", f(&t, "compute_platform")),
            ]),
            "aws_codedeploy_deployment_group" => deployment_group(&t),
            "aws_codedeploy_deployment_config" => obj(vec![
                ("DeploymentConfigName", f(&t, "deployment_config_name")),
                ("ComputePlatform", f(&t, "compute_platform")),
                (
                    "MinimumHealthyHosts",
                    block(&t, "minimum_healthy_hosts")
                        .map(|m| obj(vec![("Type", f(&m, "type")), ("Value", f(&m, "value"))])),
                ),
            ]),
            "aws_codepipeline" => pipeline(&t),
            "aws_cloudwatch_event_rule" => {
                let state = f(&t, "state").or_else(|| {
                    f(&t, "is_enabled").map(|e| match e {
                        Value::Bool(false) => json!("DISABLED"),
                        Value::Bool(true) => json!("ENABLED"),
                        other => other,
                    })
                });
                obj(vec![
                    ("Name", name_of(&t, "name")),
                    ("EventBusName", f(&t, "event_bus_name")),
                    ("EventPattern", plan.document(f(&t, "event_pattern"))),
                    ("ScheduleExpression", f(&t, "schedule_expression")),
                    ("RoleArn", f(&t, "role_arn")),
                    ("State", state),
                ])
            }
            "aws_launch_template" => {
                let meta = block(&t, "metadata_options").map(|m| metadata(&m));
                let profile = block(&t, "iam_instance_profile")
                    .map(|p| obj(vec![("Name", f(&p, "name")), ("Arn", f(&p, "arn"))]));
                obj(vec![
                    ("LaunchTemplateName", name_of(&t, "name")),
                    (
                        "LaunchTemplateData",
                        Some(obj(vec![
                            ("MetadataOptions", meta),
                            ("IamInstanceProfile", profile),
                        ])),
                    ),
                ])
            }
            "aws_instance" => {
                let mut lt = block(&t, "launch_template").map(|l| launch_template_ref(&l));
                // metadata options written on the instance: as a template of its own
                let meta = block(&t, "metadata_options").filter(|m| {
                    intrinsic(m) || f(m, "http_tokens").is_some_and(|x| !intrinsic(&x))
                });
                if lt.is_none()
                    && let Some(m) = meta
                {
                    let own = format!("{address}#metadata_options");
                    resources.insert(
                        own.clone(),
                        json!({"Type": "AWS::EC2::LaunchTemplate",
                               "Properties": {"LaunchTemplateData": {"MetadataOptions": metadata(&m)}}}),
                    );
                    lt = Some(json!({"LaunchTemplateId": {"Ref": own}}));
                }
                obj(vec![
                    ("IamInstanceProfile", f(&t, "iam_instance_profile")),
                    ("LaunchTemplate", lt),
                    ("Tags", tag_list(&t, "tags")),
                ])
            }
            "aws_autoscaling_group" => obj(vec![
                ("AutoScalingGroupName", f(&t, "name")),
                ("MinSize", f(&t, "min_size")),
                ("DesiredCapacity", f(&t, "desired_capacity")),
                (
                    "LaunchTemplate",
                    block(&t, "launch_template").map(|l| launch_template_ref(&l)),
                ),
                (
                    "Tags",
                    list(&t, "tag", |x| {
                        obj(vec![
                            ("Key", f(x, "key")),
                            ("Value", f(x, "value")),
                            ("PropagateAtLaunch", f(x, "propagate_at_launch")),
                        ])
                    }),
                ),
            ]),
            "aws_s3_bucket_versioning" => {
                let v = block(&t, "versioning_configuration")
                    .map(|c| obj(vec![("Status", f(&c, "status"))]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "VersioningConfiguration",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_server_side_encryption_configuration" => {
                let rules = list(&t, "rule", sse_rule);
                let v = Some(obj(vec![("ServerSideEncryptionConfiguration", rules)]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "BucketEncryption",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_public_access_block" => {
                let v = Some(obj(vec![
                    ("BlockPublicAcls", f(&t, "block_public_acls")),
                    ("IgnorePublicAcls", f(&t, "ignore_public_acls")),
                    ("BlockPublicPolicy", f(&t, "block_public_policy")),
                    ("RestrictPublicBuckets", f(&t, "restrict_public_buckets")),
                ]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "PublicAccessBlockConfiguration",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_logging" => {
                let v = Some(obj(vec![
                    ("DestinationBucketName", f(&t, "target_bucket")),
                    ("LogFilePrefix", f(&t, "target_prefix")),
                ]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "LoggingConfiguration",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_notification" => {
                let v = f(&t, "eventbridge")
                    .map(|e| json!({"EventBridgeConfiguration": {"EventBridgeEnabled": e}}));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "NotificationConfiguration",
                    v,
                );
                continue;
            }
            "aws_iam_role_policy_attachment" => {
                match (
                    plan.named(i, "role", &["aws_iam_role"], &["name", "arn"]),
                    f(&t, "policy_arn"),
                ) {
                    (Some(role), Some(p)) => folds.push((role, "ManagedPolicyArns", p)),
                    (None, _) => undetermined(
                        &plan,
                        i,
                        "role",
                        "AWS::IAM::Role",
                        "ManagedPolicyArns",
                        &mut notes,
                        &mut unsure,
                    ),
                    (Some(_), None) => {}
                }
                continue;
            }
            "aws_cloudwatch_event_target" => {
                let target = obj(vec![
                    ("Id", f(&t, "target_id")),
                    ("Arn", f(&t, "arn")),
                    ("RoleArn", f(&t, "role_arn")),
                ]);
                match plan.named(i, "rule", &["aws_cloudwatch_event_rule"], &["name"]) {
                    Some(rule) => targets.push((rule, target)),
                    None => undetermined(
                        &plan,
                        i,
                        "rule",
                        "AWS::Events::Rule",
                        "Targets",
                        &mut notes,
                        &mut unsure,
                    ),
                }
                continue;
            }
            _ => continue,
        };
        let Some(cfn) = cfn else { continue };
        resources.insert(address, json!({"Type": cfn, "Properties": props}));
    }
    for (r, property, value) in folds {
        let id = &plan.res[r].address;
        if let Some(Value::Object(props)) =
            resources.get_mut(id).and_then(|x| x.get_mut("Properties"))
        {
            if property == "ManagedPolicyArns" {
                let list = props
                    .entry(property)
                    .or_insert_with(|| Value::Array(Vec::new()));
                // an unknown list stays unknown
                if let Value::Array(a) = list {
                    a.push(value);
                }
            } else {
                props.insert(property.to_string(), value);
            }
        }
    }
    for (r, target) in targets {
        let id = &plan.res[r].address;
        if let Some(Value::Object(props)) =
            resources.get_mut(id).and_then(|x| x.get_mut("Properties"))
        {
            let list = props
                .entry("Targets")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = list {
                a.push(target);
            }
        }
    }
    for (kind, property, why) in unsure {
        if property == "#policy" {
            // a policy on a bucket the plan does not say: every bucket
            // without a policy of its own may have it
            let targeted: Vec<Value> = resources
                .values()
                .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::S3::BucketPolicy"))
                .filter_map(|r| r.pointer("/Properties/Bucket").cloned())
                .collect();
            let buckets: Vec<(String, Option<Value>)> = resources
                .iter()
                .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::S3::Bucket"))
                .map(|(id, r)| (id.clone(), r.pointer("/Properties/BucketName").cloned()))
                .collect();
            for (id, name) in buckets {
                let reference = json!({"Ref": id});
                if targeted.contains(&reference) || name.is_some_and(|n| targeted.contains(&n)) {
                    continue;
                }
                let u = plan.unknown(why.clone());
                resources.insert(
                    format!("{id}#policy"),
                    json!({"Type": "AWS::S3::BucketPolicy",
                           "Properties": {"Bucket": reference, "PolicyDocument": u}}),
                );
            }
            continue;
        }
        for r in resources.values_mut() {
            if r.get("Type").and_then(Value::as_str) != Some(kind) {
                continue;
            }
            let Some(Value::Object(props)) = r.get_mut("Properties") else {
                continue;
            };
            // a list it would add to, or a setting no resource gave
            let list = matches!(property, "ManagedPolicyArns" | "Targets");
            if list || !props.contains_key(property) {
                let u = plan.unknown(why.clone());
                props.insert(property.to_string(), u);
            }
        }
    }
    let parameters: Map<String, Value> = plan
        .unknowns
        .iter()
        .map(|(n, _)| (n.clone(), json!({"Type": "String"})))
        .collect();
    let template = json!({"Parameters": parameters, "Resources": resources});
    (template, plan.unknowns, notes)
}

/// A split bucket setting onto its bucket.
pub(super) fn fold(
    plan: &Translation<'_>,
    folds: &mut Vec<(usize, &'static str, Value)>,
    notes: &mut Vec<Diagnostic>,
    unsure: &mut Vec<(&'static str, &'static str, String)>,
    i: usize,
    property: &'static str,
    value: Option<Value>,
) {
    let Some(value) = value else { return };
    match plan.named(i, "bucket", &["aws_s3_bucket"], &["bucket", "id"]) {
        Some(b) => folds.push((b, property, value)),
        None => undetermined(
            plan,
            i,
            "bucket",
            "AWS::S3::Bucket",
            property,
            notes,
            unsure,
        ),
    }
}

/// A setting whose resource is not known: on a resource outside the plan
/// it is left out; when the plan does not say which resource, that setting
/// of every resource of the kind is unknown.
pub(super) fn undetermined(
    plan: &Translation<'_>,
    i: usize,
    attr: &str,
    kind: &'static str,
    property: &'static str,
    notes: &mut Vec<Diagnostic>,
    unsure: &mut Vec<(&'static str, &'static str, String)>,
) {
    let address = &plan.res[i].address;
    if plan.is_known(i, attr).is_some() {
        notes.push(note(format!(
            "{}: the {attr} of {address} is not in the plan; it is left out",
            plan.path.display()
        )));
    } else {
        unsure.push((
            kind,
            property,
            format!("the {attr} {address} applies to is known only after apply"),
        ));
    }
}
