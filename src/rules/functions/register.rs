//! Calling the helpers by name: the CEL registration and the compiled
//! expressions share one dispatch.

use super::*;

/// Calls helper `name` (one of [`NAMES`]) with string arguments: the one
/// implementation behind both the CEL registration and the compiled
/// expressions. `None` for an unknown name or a wrong number of arguments.
pub fn call(l: &Lookup, name: &str, args: &[&str]) -> Option<R<Value>> {
    let b = |r: R<bool>| Some(r.map(Value::Bool));
    match (name, args) {
        ("role_exists", [role]) => b(l.role_exists(name, role)),
        ("webhook_builds_pull_requests", [project]) => {
            b(Ok(l.webhook_builds_pull_requests(project)))
        }
        ("role_trusts", [role, svc]) => b(l
            .trust(name, role)
            .map(|t| t.is_some_and(|t| iam::trusts_service(t, svc)))),
        ("role_trusts_others", [role, svc]) => b(l
            .trust(name, role)
            .map(|t| t.is_some_and(|t| !iam::other_trusted(t, svc).is_empty()))),
        ("role_has_source_condition", [role]) => b(l
            .trust(name, role)
            .map(|t| t.is_none_or(iam::has_source_condition))),
        ("role_allows", [role, action, resource]) => b(l.role_allows(name, role, action, resource)),
        ("role_is_admin", [role]) => b((|| {
            Ok(match l.role(name, role)? {
                Some(r) => l.identity_docs(name, r)?.into_iter().any(iam::is_admin),
                None => false,
            })
        })()),
        ("key_usable_by", [key, role]) => b(l.key_usable_by(name, key, role)),
        ("key_allows", [key, role, action]) => b(l.key_allows(name, key, role, action)),
        ("bucket_policy_public", [bucket]) => b(l
            .bucket_policy(name, bucket)
            .map(|d| d.is_some_and(iam::is_public))),
        ("key_policy_public", [key]) => b(l
            .key_policy(name, key)
            .map(|d| d.is_some_and(iam::is_public))),
        ("bucket_denies_insecure_transport", [bucket]) => b(l
            .bucket_policy(name, bucket)
            .map(|d| d.is_some_and(|d| iam::denies_insecure_transport(d, bucket)))),
        ("bucket_denies_unencrypted_uploads", [bucket]) => b(l
            .bucket_policy(name, bucket)
            .map(|d| d.is_some_and(|d| iam::denies_unencrypted_uploads(d, bucket)))),
        ("trigger_matches_commit", [rule, repo, branch]) => {
            b(l.trigger_matches_commit(name, rule, repo, branch))
        }
        ("connection_push_fires", [pipeline, action, branch]) => {
            b(l.connection_push_fires(name, pipeline, action, branch))
        }
        ("trigger_matches_object_created", [rule, bucket, key]) => b(l.trigger_matches_upload(
            name,
            rule,
            bucket,
            key,
            event_pattern::object_created_event,
        )),
        ("trigger_matches_cloudtrail_upload", [rule, bucket, key]) => b(l.trigger_matches_upload(
            name,
            rule,
            bucket,
            key,
            event_pattern::cloudtrail_upload_event,
        )),
        ("image_deprecated", [image]) => b(Ok(image_deprecated(image))),
        ("role_powers", [role, pipeline]) => Some(
            l.role_powers(name, role, pipeline)
                .map(|p| Value::String(Arc::new(p))),
        ),
        ("bucket_other_writers", [bucket, pipeline]) => Some(
            l.bucket_other_writers(name, bucket, pipeline)
                .map(|p| Value::String(Arc::new(p))),
        ),
        ("role_escalations", [role, pipeline]) => Some(
            l.role_escalations(name, role, pipeline)
                .map(|p| Value::String(Arc::new(p))),
        ),
        ("task_role_risks", [service, pipeline]) => Some(
            l.task_role_risks(name, service, pipeline)
                .map(|p| Value::String(Arc::new(p))),
        ),
        ("image_tag_mutable", [repository, tag]) => b(l.image_tag_mutable(name, repository, tag)),
        ("repository_other_pushers", [repository, pipeline]) => Some(
            l.repository_other_pushers(name, repository, pipeline)
                .map(|p| Value::String(Arc::new(p))),
        ),
        ("role_exercised_by", [role, service]) => Some(
            l.role_exercised_by(name, role, service)
                .map(|p| Value::String(Arc::new(p))),
        ),
        _ => None,
    }
}

/// How many arguments helper `name` takes.
pub fn arity(name: &str) -> Option<usize> {
    Some(match name {
        "role_exists"
        | "role_has_source_condition"
        | "role_is_admin"
        | "bucket_policy_public"
        | "key_policy_public"
        | "bucket_denies_insecure_transport"
        | "bucket_denies_unencrypted_uploads"
        | "image_deprecated"
        | "webhook_builds_pull_requests" => 1,
        "role_trusts"
        | "role_trusts_others"
        | "key_usable_by"
        | "role_powers"
        | "role_escalations"
        | "role_exercised_by"
        | "bucket_other_writers"
        | "task_role_risks"
        | "image_tag_mutable"
        | "repository_other_pushers" => 2,
        "role_allows"
        | "trigger_matches_commit"
        | "key_allows"
        | "connection_push_fires"
        | "trigger_matches_object_created"
        | "trigger_matches_cloudtrail_upload" => 3,
        _ => return None,
    })
}

fn wrong_call(name: &str) -> ExecutionError {
    ExecutionError::function_error(name, "unknown helper or wrong number of arguments")
}

/// Why the helpers could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    #[error("helper {name} has no arity")]
    NoArity { name: &'static str },
}

/// Registers every helper on a root context.
pub fn register(ctx: &mut cel::Context<'_>, lookup: Arc<Lookup>) -> Result<(), RegisterError> {
    for name in NAMES {
        let l = lookup.clone();
        match arity(name) {
            Some(1) => ctx.add_function(name, move |a: Arc<String>| -> R<Value> {
                call(&l, name, &[&a]).unwrap_or_else(|| Err(wrong_call(name)))
            }),
            Some(2) => ctx.add_function(name, move |a: Arc<String>, b: Arc<String>| -> R<Value> {
                call(&l, name, &[&a, &b]).unwrap_or_else(|| Err(wrong_call(name)))
            }),
            Some(3) => ctx.add_function(
                name,
                move |a: Arc<String>, b: Arc<String>, c: Arc<String>| -> R<Value> {
                    call(&l, name, &[&a, &b, &c]).unwrap_or_else(|| Err(wrong_call(name)))
                },
            ),
            _ => return Err(RegisterError::NoArity { name }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod register_tests {
    use super::RegisterError;

    #[test]
    fn a_register_error_names_the_helper() {
        let e = RegisterError::NoArity { name: "role_can" };
        assert_eq!(e.to_string(), "helper role_can has no arity");
    }
}
