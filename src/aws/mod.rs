//! AWS semantics that stand on their own, with no dependency on the rule
//! engine; rules (through their CEL helpers) and remediation both use them:
//!
//! - [`iam`]: does a policy let a principal do an action on a resource,
//!   with conditions counted conservatively; is a policy public; what a
//!   trust or bucket policy says;
//! - [`eval`]: IAM evaluation of one request whose condition keys are
//!   partly fixed, and [`release`], the release-path analysis built on it;
//! - [`event_pattern`]: EventBridge event pattern matching;
//! - [`powers`]: what a role may do beyond its pipeline's own resources;
//! - [`writers`]: who a bucket or repository policy lets write;
//! - [`task_roles`]: the ECS task roles a deploy can put in place;
//! - [`git_triggers`]: whether a push to a branch starts a pipeline;
//! - [`webhooks`]: which events a CodeBuild webhook builds on.

pub mod eval;
pub mod event_pattern;
pub mod git_triggers;
pub mod iam;
pub mod powers;
pub mod release;
pub mod task_roles;
pub mod webhooks;
pub mod writers;
