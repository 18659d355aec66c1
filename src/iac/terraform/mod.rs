//! Terraform: the state (`--tf-state`, a state file or `terraform show
//! -json` output) maps ARNs to resource addresses; the `.tf` files under
//! `--iac` give the file and lines of each `resource "TYPE" "NAME"` block.
//! Addresses inside modules are followed through the `module` blocks'
//! local `source` directories; a registry or remote module cannot be
//! located (its code is not in the repository).

mod blocks;
mod state;

pub(crate) use blocks::code_of;
pub use blocks::{TfBlock, TfIndex, resource_span};

use std::collections::BTreeMap;
use std::path::Path;

use super::lines::Span;
use super::{Error, StateError};
use crate::findings::DefinedIn;
use std::sync::Arc;

/// The CloudFormation type a Terraform resource type is read as (template
/// mode's builder is keyed by CloudFormation types). A resource kind
/// declares its own pair ([`crate::collect::kind::Facts`]); [`NOT_KINDS`]
/// holds the types that are no kind of the snapshot (aliases, inline
/// policies, launch templates, ...) or whose kind names no CloudFormation
/// type. The split S3 settings, policy attachments and event targets are
/// folded into their bucket, role or rule by the plan reader and have no
/// entry.
pub fn cloudformation_type(terraform_type: &str) -> Option<&'static str> {
    crate::collect::kind::all()
        .into_iter()
        .find(|k| k.terraform == Some(terraform_type))
        .and_then(|k| k.cloudformation)
        .or_else(|| {
            NOT_KINDS
                .iter()
                .find(|(tf, _)| *tf == terraform_type)
                .map(|(_, cfn)| *cfn)
        })
}

/// Terraform types read in template mode that no kind declares.
pub const NOT_KINDS: &[(&str, &str)] = &[
    (
        "aws_codedeploy_deployment_config",
        "AWS::CodeDeploy::DeploymentConfig",
    ),
    ("aws_s3_bucket_policy", "AWS::S3::BucketPolicy"),
    ("aws_kms_alias", "AWS::KMS::Alias"),
    ("aws_iam_role_policy", "AWS::IAM::RolePolicy"),
    ("aws_iam_instance_profile", "AWS::IAM::InstanceProfile"),
    ("aws_launch_template", "AWS::EC2::LaunchTemplate"),
    ("aws_instance", "AWS::EC2::Instance"),
    (
        "aws_autoscaling_group",
        "AWS::AutoScaling::AutoScalingGroup",
    ),
];

#[cfg(test)]
mod type_tests {
    use super::*;

    /// A type is mapped in one place: no entry of [`NOT_KINDS`] is a kind's
    /// Terraform type whose kind already names a CloudFormation type, and
    /// the types the plan reader needs all resolve.
    #[test]
    fn each_terraform_type_has_one_home() {
        for (tf, _) in NOT_KINDS {
            let kind = crate::collect::kind::all()
                .into_iter()
                .find(|k| k.terraform == Some(*tf));
            assert!(
                kind.is_none_or(|k| k.cloudformation.is_none()),
                "{tf} is mapped by its kind and by NOT_KINDS"
            );
        }
        for (tf, cfn) in [
            ("aws_codepipeline", "AWS::CodePipeline::Pipeline"),
            ("aws_codecommit_repository", "AWS::CodeCommit::Repository"),
            ("aws_codebuild_project", "AWS::CodeBuild::Project"),
            ("aws_codedeploy_app", "AWS::CodeDeploy::Application"),
            (
                "aws_codedeploy_deployment_group",
                "AWS::CodeDeploy::DeploymentGroup",
            ),
            ("aws_cloudwatch_event_rule", "AWS::Events::Rule"),
            ("aws_s3_bucket", "AWS::S3::Bucket"),
            ("aws_kms_key", "AWS::KMS::Key"),
            ("aws_iam_role", "AWS::IAM::Role"),
            ("aws_iam_policy", "AWS::IAM::ManagedPolicy"),
            ("aws_launch_template", "AWS::EC2::LaunchTemplate"),
        ] {
            assert_eq!(cloudformation_type(tf), Some(cfn), "{tf}");
        }
        assert_eq!(cloudformation_type("aws_sqs_queue"), None);
    }
}

/// ARN -> resource address, from one or more states.
#[derive(Debug, Default)]
pub struct State {
    pub by_arn: BTreeMap<String, String>,
}

/// The Terraform resource type of a snapshot resource map (`keys`,
/// `buckets`, ...), as its kind declares it.
pub fn terraform_type(resource_kind: &str) -> Option<&'static str> {
    crate::collect::kind::about(resource_kind).and_then(|k| k.terraform)
}

/// The snapshot resource map whose kind has the Terraform resource type
/// `tf_type` (`aws_kms_key` -> `keys`).
pub fn resource_kind(tf_type: &str) -> Option<&'static str> {
    crate::collect::kind::all()
        .into_iter()
        .find(|k| k.terraform == Some(tf_type))
        .map(|k| k.name)
}

#[cfg(test)]
mod tests;
