//! The one home of the CloudFormation resource type -> snapshot model
//! mapping: each resource of a template becomes the value a live read of
//! the deployed resource would give, its settings from the properties and
//! AWS's documented defaults where a property is not written. A value the
//! templates do not determine is unknown (`iac-unresolved`), never absent.

mod access;
mod delivery;

pub use access::*;
pub use delivery::*;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::Invalid;
use super::intrinsics::{Eval, Fail, RawResource, Scope, scalar_text};
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
