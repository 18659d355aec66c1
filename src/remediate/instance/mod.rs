//! The instances a deployment group deploys to.
//!
//! `instance-imdsv2` (unsafe: software on the instance that uses IMDSv1
//! stops getting metadata): require session tokens on the group's instances
//! that allow IMDSv1 (ModifyInstanceMetadataOptions, the hop limit sent as
//! it is).
//!
//! `instance-role-artifacts` (unsafe: instance roles are often shared): add
//! to the instance role's inline policy `pipeaudit-artifacts` (merged: its
//! existing statements kept) read access to the objects of the pipelines
//! that deploy to instances with that role, and `kms:Decrypt` on their
//! artifact keys where the key policy delegates to the account. A key
//! policy that neither grants nor delegates must change too, and no
//! identity policy can make up for it: that part is a manual step naming
//! the key statement to add. When the role already holds every statement
//! the fix would add, nothing is written: the whole fix is that manual
//! step, so a second run plans nothing new.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{HttpTokensState, InstanceMetadataEndpointState};
use serde_json::{Value, json};

use super::registry::{
    ApplyFuture, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm, TerraformForm,
};
use super::{Error, NotApplied, PlannedAction, PolicyError, changed, sdk_failed, step};
use crate::aws::iam;
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, PolicyDocument, Snapshot, artifact_objects_arn};
use crate::patch::terraform::{TfContext, TfEdit};
use crate::patch::{Edit, Seg, path};

/// The inline policy the artifacts fix writes.
pub const POLICY_NAME: &str = "pipeaudit-artifacts";

mod imdsv2;
mod role_artifacts;
#[cfg(test)]
mod tests;

pub use imdsv2::Imdsv2;
pub use role_artifacts::RoleArtifacts;
