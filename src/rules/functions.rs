//! Domain helpers exposed to rule conditions as CEL functions. They take
//! ARNs and look the resources up in the snapshot, so that policies are
//! parsed once and never converted back and forth.
//!
//! A helper that needs a value that could not be collected fails the
//! evaluation and records the gap (resource and missing permission): the rule
//! then neither fires nor passes, and the audit reports a diagnostic.

use std::cell::RefCell;
use std::sync::Arc;

use cel::{ExecutionError, Value};

use super::{iam, pattern};
use crate::model::{
    Observed, PolicyDocument, PolicyText, ReadError, ReadErrorKind, Role, Snapshot,
};

/// The helper functions, by name.
pub const NAMES: &[&str] = &[
    "role_exists",
    "role_trusts",
    "role_trusts_others",
    "role_has_source_condition",
    "role_allows",
    "role_is_admin",
    "key_usable_by",
    "bucket_policy_public",
    "key_policy_public",
    "bucket_denies_insecure_transport",
    "bucket_denies_unencrypted_uploads",
    "trigger_matches_commit",
    "image_deprecated",
];

thread_local! {
    static GAPS: RefCell<Vec<(String, ReadError)>> = const { RefCell::new(Vec::new()) };
}

/// Takes the gaps recorded by helpers on this thread since the last call.
pub fn take_gaps() -> Vec<(String, ReadError)> {
    GAPS.with(|g| std::mem::take(&mut *g.borrow_mut()))
}

type R<T> = Result<T, ExecutionError>;

fn gap(function: &str, arn: &str, error: &ReadError) -> ExecutionError {
    GAPS.with(|g| g.borrow_mut().push((arn.to_string(), error.clone())));
    ExecutionError::function_error(
        function,
        format!("{arn}: {} could not be read", error.action),
    )
}

fn not_collected(function: &str, arn: &str) -> ExecutionError {
    ExecutionError::function_error(function, format!("{arn} is not in the snapshot"))
}

/// Read access to the snapshot for the helpers.
pub struct Lookup {
    snapshot: Arc<Snapshot>,
}

impl Lookup {
    pub fn new(snapshot: Arc<Snapshot>) -> Self {
        Lookup { snapshot }
    }

    fn role(&self, f: &str, arn: &str) -> R<Option<&Role>> {
        match self.snapshot.resources.roles.get(arn) {
            Some(Observed::Ok { value }) => Ok(Some(value)),
            Some(Observed::Absent) => Ok(None),
            Some(Observed::Unknown { error }) => Err(gap(f, arn, error)),
            None => Err(not_collected(f, arn)),
        }
    }

    fn doc<'a>(
        &self,
        f: &str,
        arn: &str,
        text: &'a Observed<PolicyText>,
    ) -> R<Option<&'a PolicyDocument>> {
        match text {
            Observed::Ok { value } => match &value.document {
                Some(d) => Ok(Some(d)),
                None => Err(gap(
                    f,
                    arn,
                    &ReadError {
                        kind: ReadErrorKind::Service,
                        action: "policy parse".to_string(),
                        code: None,
                        message: value.parse_error.clone().unwrap_or_default(),
                    },
                )),
            },
            Observed::Absent => Ok(None),
            Observed::Unknown { error } => Err(gap(f, arn, error)),
        }
    }

    fn trust(&self, f: &str, arn: &str) -> R<Option<&PolicyDocument>> {
        match self.role(f, arn)? {
            Some(r) => self.doc(f, arn, &r.trust_policy),
            None => Ok(None),
        }
    }

    /// Every identity policy document of a role (inline and attached).
    fn identity_docs<'a>(&'a self, f: &str, role: &'a Role) -> R<Vec<&'a PolicyDocument>> {
        let mut docs = Vec::new();
        match &role.inline_policies {
            Observed::Ok { value } => {
                for p in value.values() {
                    docs.extend(self.doc(f, &role.arn, p)?);
                }
            }
            Observed::Absent => {}
            Observed::Unknown { error } => return Err(gap(f, &role.arn, error)),
        }
        match &role.attached_policies {
            Observed::Ok { value } => {
                for arn in value {
                    match self.snapshot.resources.managed_policies.get(arn) {
                        Some(Observed::Ok { value }) => {
                            docs.extend(self.doc(f, arn, &value.document)?)
                        }
                        Some(Observed::Absent) => {}
                        Some(Observed::Unknown { error }) => return Err(gap(f, arn, error)),
                        None => return Err(not_collected(f, arn)),
                    }
                }
            }
            Observed::Absent => {}
            Observed::Unknown { error } => return Err(gap(f, &role.arn, error)),
        }
        Ok(docs)
    }

    fn bucket_policy(&self, f: &str, arn: &str) -> R<Option<&PolicyDocument>> {
        match self.snapshot.resources.buckets.get(arn) {
            Some(Observed::Ok { value }) => self.doc(f, arn, &value.policy),
            Some(Observed::Absent) => Ok(None),
            Some(Observed::Unknown { error }) => Err(gap(f, arn, error)),
            None => Err(not_collected(f, arn)),
        }
    }

    fn key_policy(&self, f: &str, arn: &str) -> R<Option<&PolicyDocument>> {
        match self.snapshot.resources.keys.get(arn) {
            Some(Observed::Ok { value }) => self.doc(f, arn, &value.policy),
            Some(Observed::Absent) => Ok(None),
            Some(Observed::Unknown { error }) => Err(gap(f, arn, error)),
            None => Err(not_collected(f, arn)),
        }
    }

    fn role_allows(&self, f: &str, role: &str, action: &str, resource: &str) -> R<bool> {
        match self.role(f, role)? {
            Some(r) => {
                let docs = self.identity_docs(f, r)?;
                Ok(iam::identity_allows(&docs, role, action, resource))
            }
            None => Ok(false),
        }
    }

    fn key_usable_by(&self, f: &str, key: &str, role: &str) -> R<bool> {
        let Some(policy) = self.key_policy(f, key)? else {
            return Ok(false);
        };
        for action in ["kms:Decrypt", "kms:GenerateDataKey"] {
            let a = iam::evaluate(policy, iam::Who::Role(role), action, key);
            if a.denied {
                return Ok(false);
            }
            let ok = a.allowed || (a.delegated && self.role_allows(f, role, action, key)?);
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Curated CodeBuild images that AWS has deprecated.
pub fn image_deprecated(image: &str) -> bool {
    const DEPRECATED: &[&str] = &[
        "aws/codebuild/standard:1.0",
        "aws/codebuild/standard:2.0",
        "aws/codebuild/standard:3.0",
        "aws/codebuild/standard:4.0",
        "aws/codebuild/standard:5.0",
        "aws/codebuild/amazonlinux2-x86_64-standard:1.0",
        "aws/codebuild/amazonlinux2-x86_64-standard:2.0",
        "aws/codebuild/amazonlinux2-x86_64-standard:3.0",
        "aws/codebuild/amazonlinux2-aarch64-standard:1.0",
        "aws/codebuild/ubuntu-base:14.04",
    ];
    DEPRECATED.contains(&image)
        || [
            "aws/codebuild/nodejs",
            "aws/codebuild/python",
            "aws/codebuild/java",
            "aws/codebuild/docker",
            "aws/codebuild/golang",
            "aws/codebuild/ruby",
        ]
        .iter()
        .any(|p| image.starts_with(p))
}

fn s(v: &Arc<String>) -> &str {
    v.as_str()
}

/// Registers every helper on a root context.
pub fn register(ctx: &mut cel::Context<'_>, lookup: Arc<Lookup>) -> Result<(), String> {
    let l = lookup.clone();
    ctx.add_function("role_exists", move |role: Arc<String>| -> R<Value> {
        Ok(Value::Bool(l.role("role_exists", s(&role))?.is_some()))
    });
    let l = lookup.clone();
    ctx.add_function(
        "role_trusts",
        move |role: Arc<String>, svc: Arc<String>| -> R<Value> {
            Ok(Value::Bool(match l.trust("role_trusts", s(&role))? {
                Some(t) => iam::trusts_service(t, s(&svc)),
                None => false,
            }))
        },
    );
    let l = lookup.clone();
    ctx.add_function(
        "role_trusts_others",
        move |role: Arc<String>, svc: Arc<String>| -> R<Value> {
            Ok(Value::Bool(
                match l.trust("role_trusts_others", s(&role))? {
                    Some(t) => !iam::other_trusted(t, s(&svc)).is_empty(),
                    None => false,
                },
            ))
        },
    );
    let l = lookup.clone();
    ctx.add_function(
        "role_has_source_condition",
        move |role: Arc<String>| -> R<Value> {
            Ok(Value::Bool(
                match l.trust("role_has_source_condition", s(&role))? {
                    Some(t) => iam::has_source_condition(t),
                    None => true,
                },
            ))
        },
    );
    let l = lookup.clone();
    ctx.add_function(
        "role_allows",
        move |role: Arc<String>, action: Arc<String>, resource: Arc<String>| -> R<Value> {
            Ok(Value::Bool(l.role_allows(
                "role_allows",
                s(&role),
                s(&action),
                s(&resource),
            )?))
        },
    );
    let l = lookup.clone();
    ctx.add_function("role_is_admin", move |role: Arc<String>| -> R<Value> {
        Ok(Value::Bool(match l.role("role_is_admin", s(&role))? {
            Some(r) => l
                .identity_docs("role_is_admin", r)?
                .into_iter()
                .any(iam::is_admin),
            None => false,
        }))
    });
    let l = lookup.clone();
    ctx.add_function(
        "key_usable_by",
        move |key: Arc<String>, role: Arc<String>| -> R<Value> {
            Ok(Value::Bool(l.key_usable_by(
                "key_usable_by",
                s(&key),
                s(&role),
            )?))
        },
    );
    let l = lookup.clone();
    ctx.add_function(
        "bucket_policy_public",
        move |bucket: Arc<String>| -> R<Value> {
            Ok(Value::Bool(
                l.bucket_policy("bucket_policy_public", s(&bucket))?
                    .is_some_and(iam::is_public),
            ))
        },
    );
    let l = lookup.clone();
    ctx.add_function("key_policy_public", move |key: Arc<String>| -> R<Value> {
        Ok(Value::Bool(
            l.key_policy("key_policy_public", s(&key))?
                .is_some_and(iam::is_public),
        ))
    });
    let l = lookup.clone();
    ctx.add_function(
        "bucket_denies_insecure_transport",
        move |bucket: Arc<String>| -> R<Value> {
            Ok(Value::Bool(
                l.bucket_policy("bucket_denies_insecure_transport", s(&bucket))?
                    .is_some_and(|d| iam::denies_insecure_transport(d, s(&bucket))),
            ))
        },
    );
    let l = lookup.clone();
    ctx.add_function(
        "bucket_denies_unencrypted_uploads",
        move |bucket: Arc<String>| -> R<Value> {
            Ok(Value::Bool(
                l.bucket_policy("bucket_denies_unencrypted_uploads", s(&bucket))?
                    .is_some_and(|d| iam::denies_unencrypted_uploads(d, s(&bucket))),
            ))
        },
    );
    let l = lookup.clone();
    ctx.add_function(
        "trigger_matches_commit",
        move |rule: Arc<String>, repo: Arc<String>, branch: Arc<String>| -> R<Value> {
            const F: &str = "trigger_matches_commit";
            let r = match l.snapshot.resources.event_rules.get(s(&rule)) {
                Some(Observed::Ok { value }) => value,
                Some(Observed::Absent) => return Ok(Value::Bool(false)),
                Some(Observed::Unknown { error }) => return Err(gap(F, s(&rule), error)),
                None => return Err(not_collected(F, s(&rule))),
            };
            let Some(p) = &r.event_pattern else {
                return Ok(Value::Bool(false));
            };
            pattern::matches(p, &pattern::commit_event(s(&repo), s(&branch)))
                .map(Value::Bool)
                .map_err(|e| ExecutionError::function_error(F, format!("{}: {e}", r.arn)))
        },
    );
    ctx.add_function("image_deprecated", |image: Arc<String>| -> R<Value> {
        Ok(Value::Bool(image_deprecated(s(&image))))
    });
    Ok(())
}
