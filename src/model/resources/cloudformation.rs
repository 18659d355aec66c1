//! CloudFormation: the stacks of deploy actions.

use super::*;

/// A CloudFormation stack a pipeline deploys (DescribeStacks, GetStackPolicy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CfnStack {
    pub name: String,
    /// The stack's ARN (with its id).
    pub arn: String,
    /// CREATE_COMPLETE, UPDATE_ROLLBACK_COMPLETE, ...
    pub status: String,
    pub termination_protection: bool,
    /// The stack's own service role, when it has one.
    #[serde(default)]
    pub role_arn: Option<String>,
    /// The stack policy; absent when the stack has none.
    pub stack_policy: Observed<PolicyText>,
}
