//! Physical names and ARNs of template resources: the name property when
//! the template sets one, else a deterministic placeholder made the way
//! CloudFormation names resources (`<stack>-<LogicalId>-<SUFFIX>`, the
//! suffix derived from the stack name and logical id, so every run gives
//! the same names and references between resources keep working).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::intrinsics::{Eval, Fail, RawResource, Scope, scalar_text};

/// What a resource is known by before it is deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The physical name (or id).
    pub name: String,
    /// Its ARN, for the types that have one.
    pub arn: Option<String>,
    /// What `Ref` returns.
    pub ref_value: Option<String>,
    /// What `Fn::GetAtt` returns, by attribute.
    pub attributes: BTreeMap<String, String>,
}

fn digest(seed: &str) -> Vec<u8> {
    Sha256::digest(seed.as_bytes()).to_vec()
}

/// A deterministic suffix of upper-case letters and digits.
pub fn suffix(seed: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    digest(seed)
        .iter()
        .take(len)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A deterministic UUID-shaped id.
pub fn uuid_like(seed: &str) -> String {
    let h = hex::encode(digest(seed));
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A deterministic hexadecimal id of `len` digits.
fn hex_id(seed: &str, len: usize) -> String {
    hex::encode(digest(seed)).chars().take(len).collect()
}

/// The property that holds a type's physical name, and the longest name.
fn name_property(resource_type: &str) -> Option<(&'static str, usize)> {
    Some(match resource_type {
        "AWS::S3::Bucket" => ("BucketName", 63),
        "AWS::IAM::Role" => ("RoleName", 64),
        "AWS::IAM::ManagedPolicy" => ("ManagedPolicyName", 128),
        "AWS::IAM::InstanceProfile" => ("InstanceProfileName", 128),
        "AWS::CodePipeline::Pipeline" => ("Name", 100),
        "AWS::CodeBuild::Project" => ("Name", 150),
        "AWS::CodeCommit::Repository" => ("RepositoryName", 100),
        "AWS::CodeDeploy::Application" => ("ApplicationName", 100),
        "AWS::CodeDeploy::DeploymentGroup" => ("DeploymentGroupName", 100),
        "AWS::CodeDeploy::DeploymentConfig" => ("DeploymentConfigName", 100),
        "AWS::Events::Rule" => ("Name", 64),
        "AWS::EC2::LaunchTemplate" => ("LaunchTemplateName", 128),
        "AWS::AutoScaling::AutoScalingGroup" => ("AutoScalingGroupName", 255),
        "AWS::KMS::Alias" => ("AliasName", 256),
        "AWS::CodeStarConnections::Connection" => ("ConnectionName", 32),
        _ => return None,
    })
}

/// The placeholder CloudFormation-style name of a resource without one.
pub fn placeholder(stack: &str, logical_id: &str, max: usize, lower: bool) -> String {
    let tail = suffix(&format!("{stack}/{logical_id}"), 12);
    let keep = max.saturating_sub(tail.len() + 1);
    let mut head = format!("{stack}-{logical_id}");
    if head.len() > keep {
        head = head.chars().take(keep).collect();
    }
    let name = format!("{head}-{tail}");
    if lower { name.to_lowercase() } else { name }
}

fn prop_text(scope: &Scope<'_>, r: &RawResource, key: &str) -> Eval<Option<String>> {
    match r.properties.get(key) {
        None => Ok(None),
        Some(v) => match scope.eval(v, 0)? {
            None => Ok(None),
            Some(x) => match scalar_text(Some(&x)) {
                Some(t) => Ok(Some(t)),
                None => Err(Fail::Invalid(format!("{key} must be a string"))),
            },
        },
    }
}

/// The identity of a resource of the template.
pub fn identity(scope: &Scope<'_>, logical_id: &str, r: &RawResource) -> Eval<Identity> {
    let (p, a, region, stack) = (
        scope.partition,
        scope.account,
        scope.region,
        scope.stack_name,
    );
    let ty = r.resource_type.as_str();
    let name = match name_property(ty) {
        Some((prop, max)) => match prop_text(scope, r, prop)? {
            Some(n) => n,
            None => placeholder(stack, logical_id, max, ty == "AWS::S3::Bucket"),
        },
        None => String::new(),
    };
    let seed = format!("{stack}/{logical_id}");
    let mut attrs = BTreeMap::new();
    macro_rules! id {
        ($arn:expr, $ref_value:expr, $name:expr $(,)?) => {
            Identity {
                arn: $arn,
                ref_value: $ref_value,
                name: $name,
                attributes: std::mem::take(&mut attrs),
            }
        };
    }
    Ok(match ty {
        "AWS::S3::Bucket" => {
            let arn = format!("arn:{p}:s3:::{name}");
            attrs.insert("Arn".into(), arn.clone());
            attrs.insert("DomainName".into(), format!("{name}.s3.amazonaws.com"));
            attrs.insert(
                "RegionalDomainName".into(),
                format!("{name}.s3.{region}.amazonaws.com"),
            );
            id!(Some(arn), Some(name.clone()), name)
        }
        "AWS::KMS::Key" => {
            let key_id = uuid_like(&format!("key/{seed}"));
            let arn = format!("arn:{p}:kms:{region}:{a}:key/{key_id}");
            attrs.insert("Arn".into(), arn.clone());
            attrs.insert("KeyId".into(), key_id.clone());
            id!(Some(arn), Some(key_id.clone()), key_id)
        }
        "AWS::KMS::Alias" => id!(
            Some(format!("arn:{p}:kms:{region}:{a}:{name}")),
            Some(name.clone()),
            name,
        ),
        "AWS::IAM::Role" => {
            let path = prop_text(scope, r, "Path")?.unwrap_or_else(|| "/".to_string());
            let arn = format!("arn:{p}:iam::{a}:role{path}{name}");
            attrs.insert("Arn".into(), arn.clone());
            attrs.insert("RoleId".into(), format!("AROA{}", suffix(&seed, 17)));
            id!(Some(arn), Some(name.clone()), name)
        }
        "AWS::IAM::ManagedPolicy" => {
            let path = prop_text(scope, r, "Path")?.unwrap_or_else(|| "/".to_string());
            let arn = format!("arn:{p}:iam::{a}:policy{path}{name}");
            attrs.insert("PolicyArn".into(), arn.clone());
            id!(Some(arn.clone()), Some(arn), name)
        }
        "AWS::IAM::InstanceProfile" => {
            let path = prop_text(scope, r, "Path")?.unwrap_or_else(|| "/".to_string());
            let arn = format!("arn:{p}:iam::{a}:instance-profile{path}{name}");
            attrs.insert("Arn".into(), arn.clone());
            id!(Some(arn), Some(name.clone()), name)
        }
        "AWS::IAM::Policy" | "AWS::IAM::RolePolicy" | "AWS::S3::BucketPolicy" => {
            let v = format!("{stack}-{}", suffix(&seed, 12));
            id!(None, Some(v.clone()), v)
        }
        "AWS::CodePipeline::Pipeline" => {
            let arn = format!("arn:{p}:codepipeline:{region}:{a}:{name}");
            attrs.insert("Version".into(), "1".into());
            id!(Some(arn), Some(name.clone()), name)
        }
        "AWS::CodeBuild::Project" => {
            let arn = format!("arn:{p}:codebuild:{region}:{a}:project/{name}");
            attrs.insert("Arn".into(), arn.clone());
            id!(Some(arn), Some(name.clone()), name)
        }
        "AWS::CodeCommit::Repository" => {
            let arn = format!("arn:{p}:codecommit:{region}:{a}:{name}");
            let repo_id = uuid_like(&format!("repo/{seed}"));
            attrs.insert("Arn".into(), arn.clone());
            attrs.insert("Name".into(), name.clone());
            attrs.insert(
                "CloneUrlHttp".into(),
                format!("https://git-codecommit.{region}.amazonaws.com/v1/repos/{name}"),
            );
            attrs.insert(
                "CloneUrlSsh".into(),
                format!("ssh://git-codecommit.{region}.amazonaws.com/v1/repos/{name}"),
            );
            id!(Some(arn), Some(repo_id), name)
        }
        "AWS::CodeDeploy::Application" => id!(
            Some(format!(
                "arn:{p}:codedeploy:{region}:{a}:application:{name}"
            )),
            Some(name.clone()),
            name,
        ),
        "AWS::CodeDeploy::DeploymentGroup" => id!(None, Some(name.clone()), name),
        "AWS::CodeDeploy::DeploymentConfig" => id!(None, Some(name.clone()), name),
        "AWS::Events::Rule" => {
            let bus = prop_text(scope, r, "EventBusName")?;
            let arn = match bus.as_deref() {
                None | Some("default") => format!("arn:{p}:events:{region}:{a}:rule/{name}"),
                Some(b) => {
                    let b = b.rsplit('/').next().unwrap_or(b);
                    format!("arn:{p}:events:{region}:{a}:rule/{b}/{name}")
                }
            };
            attrs.insert("Arn".into(), arn.clone());
            id!(Some(arn), Some(name.clone()), name)
        }
        "AWS::EC2::Instance" => {
            let instance = format!("i-{}", hex_id(&seed, 17));
            id!(
                Some(format!("arn:{p}:ec2:{region}:{a}:instance/{instance}")),
                Some(instance.clone()),
                instance,
            )
        }
        "AWS::EC2::LaunchTemplate" => {
            let lt = format!("lt-{}", hex_id(&seed, 17));
            attrs.insert("LaunchTemplateId".into(), lt.clone());
            attrs.insert("LatestVersionNumber".into(), "1".into());
            attrs.insert("DefaultVersionNumber".into(), "1".into());
            id!(None, Some(lt), name)
        }
        "AWS::AutoScaling::AutoScalingGroup" => id!(None, Some(name.clone()), name),
        "AWS::CodeStarConnections::Connection" => {
            let arn = format!(
                "arn:{p}:codestar-connections:{region}:{a}:connection/{}",
                uuid_like(&format!("connection/{seed}"))
            );
            attrs.insert("ConnectionArn".into(), arn.clone());
            id!(Some(arn.clone()), Some(arn), name)
        }
        "AWS::CloudFormation::Stack" => {
            let nested = placeholder(stack, logical_id, 128, false);
            let arn = format!(
                "arn:{p}:cloudformation:{region}:{a}:stack/{nested}/{}",
                uuid_like(&format!("stack/{nested}"))
            );
            id!(None, Some(arn), nested)
        }
        _ => id!(None, None, String::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_deterministic_and_bounded() {
        let a = placeholder("app", "ArtifactBucket", 63, true);
        assert_eq!(a, placeholder("app", "ArtifactBucket", 63, true));
        assert!(a.starts_with("app-artifactbucket-"), "{a}");
        assert_ne!(a, placeholder("app2", "ArtifactBucket", 63, true));
        let long = placeholder(&"s".repeat(80), "Role", 64, false);
        assert_eq!(long.len(), 64, "{long}");
        let u = uuid_like("x");
        assert_eq!(u.len(), 36);
        assert_eq!(u, uuid_like("x"));
    }
}
