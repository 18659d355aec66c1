//! What guards the delivery: buckets, keys, roles and policies, and the
//! tags and launch template settings of instances.

use super::*;

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
