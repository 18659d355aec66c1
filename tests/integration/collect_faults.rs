//! Faults moto cannot produce (AccessDenied, throttling), injected with
//! `aws-smithy-mocks`: the mocked responses are real HTTP error bodies in the
//! service's wire format, so the SDK's own deserializer and retry policy run.

use std::time::Duration;

use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::operation::list_grants::ListGrantsOutput;
use aws_sdk_kms::types::{GrantListEntry, GrantOperation, KeyMetadata, KeyState};
use aws_smithy_mocks::{Rule, mock};
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::kms;
use pipeaudit::model::{Observed, ReadErrorKind};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/k-1";

fn kms_client(rules: &[&Rule]) -> aws_sdk_kms::Client {
    crate::mock_client!(
        aws_sdk_kms,
        rules,
        retry = aws_sdk_kms::config::retry::RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(1))
    )
}

fn error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(r#"{{"__type":"{code}","message":"{message}"}}"#))
}

fn describe_ok() -> Rule {
    mock!(aws_sdk_kms::Client::describe_key).then_output(|| {
        let meta = KeyMetadata::builder()
            .key_id("k-1")
            .arn(KEY_ARN)
            .key_state(KeyState::Enabled)
            .build();
        match meta {
            Ok(m) => DescribeKeyOutput::builder().key_metadata(m).build(),
            Err(e) => panic!("{e}"),
        }
    })
}

/// A key without grants.
fn grants_none() -> Rule {
    mock!(aws_sdk_kms::Client::list_grants)
        .then_output(|| ListGrantsOutput::builder().truncated(false).build())
}

fn grant(id: &str, grantee: &str, op: GrantOperation) -> GrantListEntry {
    GrantListEntry::builder()
        .grant_id(id)
        .grantee_principal(grantee)
        .operations(op)
        .build()
}

/// ListGrants is paged (moto never truncates it): every page is read.
#[tokio::test]
async fn key_grants_are_read_across_pages() {
    let describe = describe_ok();
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status).then_output(|| {
        GetKeyRotationStatusOutput::builder()
            .key_rotation_enabled(true)
            .build()
    });
    let policy = mock!(aws_sdk_kms::Client::get_key_policy).then_output(|| {
        GetKeyPolicyOutput::builder()
            .policy(r#"{"Statement":[]}"#)
            .build()
    });
    let first = mock!(aws_sdk_kms::Client::list_grants)
        .match_requests(|r| r.marker().is_none())
        .then_output(|| {
            ListGrantsOutput::builder()
                .grants(grant(
                    "g-1",
                    "arn:aws:iam::111122223333:user/a",
                    GrantOperation::GenerateDataKey,
                ))
                .truncated(true)
                .next_marker("m-2")
                .build()
        });
    let second = mock!(aws_sdk_kms::Client::list_grants)
        .match_requests(|r| r.marker() == Some("m-2"))
        .then_output(|| {
            ListGrantsOutput::builder()
                .grants(grant(
                    "g-2",
                    "arn:aws:iam::111122223333:role/b",
                    GrantOperation::Decrypt,
                ))
                .truncated(false)
                .build()
        });
    let client = kms_client(&[&describe, &rotation, &policy, &first, &second]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let key = kms::get(&ctx, &client, KEY_ARN, vec![]).await;
    let key = key.value().unwrap_or_else(|| panic!("{key:?}"));
    let grants = key
        .grants
        .value()
        .unwrap_or_else(|| panic!("{:?}", key.grants));
    let got: Vec<(&str, &str, &[String])> = grants
        .iter()
        .map(|g| {
            (
                g.grant_id.as_str(),
                g.grantee_principal.as_str(),
                g.operations.as_slice(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "g-1",
                "arn:aws:iam::111122223333:user/a",
                &["GenerateDataKey".to_string()][..]
            ),
            (
                "g-2",
                "arn:aws:iam::111122223333:role/b",
                &["Decrypt".to_string()][..]
            ),
        ]
    );
    assert_eq!(ctx.calls().get("kms:ListGrants"), Some(&2));
    crate::support::assert_policy_grants("iam-audit-policy.json", ctx.calls().keys());
}

/// A denied ListGrants leaves the grants unknown, naming the permission;
/// the rest of the key is read.
#[tokio::test]
async fn access_denied_on_grants_is_unknown_and_names_the_permission() {
    let describe = describe_ok();
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status).then_output(|| {
        GetKeyRotationStatusOutput::builder()
            .key_rotation_enabled(true)
            .build()
    });
    let policy = mock!(aws_sdk_kms::Client::get_key_policy).then_output(|| {
        GetKeyPolicyOutput::builder()
            .policy(r#"{"Statement":[]}"#)
            .build()
    });
    let grants = mock!(aws_sdk_kms::Client::list_grants)
        .sequence()
        .http_status(
            400,
            error_body(
                "AccessDeniedException",
                "User is not authorized to perform kms:ListGrants",
            ),
        )
        .repeatedly()
        .build();
    let client = kms_client(&[&describe, &rotation, &policy, &grants]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let key = kms::get(&ctx, &client, KEY_ARN, vec![]).await;
    let key = key.value().unwrap_or_else(|| panic!("{key:?}"));
    assert!(key.policy.value().is_some(), "{:?}", key.policy);
    let err = key
        .grants
        .error()
        .unwrap_or_else(|| panic!("grants must be unknown: {:?}", key.grants));
    assert_eq!(err.kind, ReadErrorKind::AccessDenied);
    assert_eq!(err.action, "kms:ListGrants");
}

#[tokio::test]
async fn access_denied_on_key_policy_is_unknown_and_names_the_permission() {
    let describe = describe_ok();
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status).then_output(|| {
        GetKeyRotationStatusOutput::builder()
            .key_rotation_enabled(true)
            .build()
    });
    let policy = mock!(aws_sdk_kms::Client::get_key_policy)
        .sequence()
        .http_status(
            400,
            error_body(
                "AccessDeniedException",
                "User is not authorized to perform kms:GetKeyPolicy",
            ),
        )
        .repeatedly()
        .build();
    let client = kms_client(&[&describe, &rotation, &policy, &grants_none()]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let key = kms::get(&ctx, &client, KEY_ARN, vec![]).await;
    let key = key
        .value()
        .unwrap_or_else(|| panic!("key itself was readable: {key:?}"));
    assert_eq!(
        key.rotation_enabled,
        Observed::ok(true),
        "other values are still read"
    );
    let err = key
        .policy
        .error()
        .unwrap_or_else(|| panic!("policy must be unknown"));
    assert_eq!(err.kind, ReadErrorKind::AccessDenied);
    assert_eq!(err.action, "kms:GetKeyPolicy");
    assert_eq!(err.code.as_deref(), Some("AccessDeniedException"));
    assert_eq!(policy.num_calls(), 1, "access denied is not retried");
}

#[tokio::test]
async fn throttling_is_retried_with_backoff_then_succeeds() {
    let describe = describe_ok();
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status)
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .times(2)
        .output(|| {
            GetKeyRotationStatusOutput::builder()
                .key_rotation_enabled(false)
                .build()
        })
        .build();
    let policy = mock!(aws_sdk_kms::Client::get_key_policy).then_output(|| {
        GetKeyPolicyOutput::builder()
            .policy(r#"{"Statement":[]}"#)
            .build()
    });
    let client = kms_client(&[&describe, &rotation, &policy, &grants_none()]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let key = kms::get(&ctx, &client, KEY_ARN, vec![]).await;
    let key = key.value().unwrap_or_else(|| panic!("{key:?}"));
    assert_eq!(key.rotation_enabled, Observed::ok(false));
    assert_eq!(
        rotation.num_calls(),
        3,
        "two throttled attempts, then success"
    );
    assert_eq!(
        ctx.calls().get("kms:GetKeyRotationStatus"),
        Some(&1),
        "one operation"
    );
}

#[tokio::test]
async fn throttling_past_the_retry_budget_is_unknown_not_false() {
    let describe = describe_ok();
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status)
        .sequence()
        .http_status(400, error_body("ThrottlingException", "Rate exceeded"))
        .repeatedly()
        .build();
    let policy = mock!(aws_sdk_kms::Client::get_key_policy).then_output(|| {
        GetKeyPolicyOutput::builder()
            .policy(r#"{"Statement":[]}"#)
            .build()
    });
    let client = kms_client(&[&describe, &rotation, &policy, &grants_none()]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let key = kms::get(&ctx, &client, KEY_ARN, vec![]).await;
    let key = key.value().unwrap_or_else(|| panic!("{key:?}"));
    let err = key
        .rotation_enabled
        .error()
        .unwrap_or_else(|| panic!("rotation must be unknown"));
    assert_eq!(err.kind, ReadErrorKind::Throttled);
    assert_eq!(err.action, "kms:GetKeyRotationStatus");
    assert_eq!(rotation.num_calls(), 3, "the whole retry budget was used");
}

#[tokio::test]
async fn a_missing_key_is_absent() {
    let describe = mock!(aws_sdk_kms::Client::describe_key)
        .sequence()
        .http_status(400, error_body("NotFoundException", "Key does not exist"))
        .build();
    let client = kms_client(&[&describe]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    assert!(kms::get(&ctx, &client, KEY_ARN, vec![]).await.is_absent());
}

fn account_client(rules: &[&Rule]) -> aws_sdk_account::Client {
    crate::mock_client!(aws_sdk_account, rules, no_retry)
}

fn region(name: &str, status: &str) -> aws_sdk_account::types::Region {
    aws_sdk_account::types::Region::builder()
        .region_name(name)
        .region_opt_status(aws_sdk_account::types::RegionOptStatus::from(status))
        .build()
}

/// `--region all-enabled`: the Account API's ListRegions (which moto lacks)
/// is paged through; only enabled regions are kept, whatever else a newer
/// API may answer.
#[tokio::test]
async fn enabled_regions_are_listed_across_pages() {
    use aws_sdk_account::operation::list_regions::ListRegionsOutput;
    let first = mock!(aws_sdk_account::Client::list_regions)
        .match_requests(|r| r.next_token().is_none() && r.region_opt_status_contains().len() == 2)
        .then_output(|| {
            ListRegionsOutput::builder()
                .regions(region("us-east-1", "ENABLED_BY_DEFAULT"))
                .regions(region("eu-south-1", "ENABLED"))
                .regions(region("ap-east-1", "DISABLED"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_account::Client::list_regions)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            ListRegionsOutput::builder()
                .regions(region("eu-west-1", "ENABLED_BY_DEFAULT"))
                .regions(region("me-south-1", "ENABLING"))
                .regions(region("xx-future-1", "SOME_FUTURE_STATE"))
                .build()
        });
    let client = account_client(&[&first, &second]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let regions = pipeaudit::collect::account::enabled_regions(&ctx, &client)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(regions, ["eu-south-1", "eu-west-1", "us-east-1"]);
    assert_eq!(first.num_calls() + second.num_calls(), 2);
}

#[tokio::test]
async fn enabled_regions_denied_is_an_error_naming_the_permission() {
    // restJson: the error type travels in a header
    let denied = mock!(aws_sdk_account::Client::list_regions).then_http_response(|| {
        let mut r = aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403)
                .unwrap_or_else(|e| panic!("{e}")),
            aws_smithy_types::body::SdkBody::from(
                r#"{"message":"User is not authorized to perform: account:ListRegions"}"#,
            ),
        );
        r.headers_mut()
            .insert("x-amzn-errortype", "AccessDeniedException");
        r
    });
    let client = account_client(&[&denied]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let e = pipeaudit::collect::account::enabled_regions(&ctx, &client)
        .await
        .err()
        .unwrap_or_else(|| panic!("denied must fail"));
    assert_eq!(e.action, "account:ListRegions");
    assert_eq!(e.code.as_deref(), Some("AccessDeniedException"));
    assert!(e.message.contains("not authorized"), "{e:?}");
}

/// Enum values from a newer API than the SDK knows are kept as text, not
/// dropped or turned into a known value (the SDK's own deserializer runs on
/// the raw response).
#[tokio::test]
async fn unknown_enum_values_from_a_newer_api_are_kept_as_text() {
    let body = format!(
        r#"{{"KeyMetadata":{{"KeyId":"k-1","Arn":"{KEY_ARN}","KeyState":"Quarantined","KeyManager":"PARTNER","KeyUsage":"FUTURE_USAGE","KeySpec":"ML_DSA_999","Origin":"ELSEWHERE","Enabled":true}}}}"#
    );
    let describe = mock!(aws_sdk_kms::Client::describe_key)
        .sequence()
        .http_status(200, Some(body))
        .build();
    let rotation = mock!(aws_sdk_kms::Client::get_key_rotation_status).then_output(|| {
        GetKeyRotationStatusOutput::builder()
            .key_rotation_enabled(true)
            .build()
    });
    let policy = mock!(aws_sdk_kms::Client::get_key_policy).then_output(|| {
        GetKeyPolicyOutput::builder()
            .policy(r#"{"Statement":[]}"#)
            .build()
    });
    let client = kms_client(&[&describe, &rotation, &policy, &grants_none()]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let key = kms::get(&ctx, &client, KEY_ARN, vec![]).await;
    let key = key
        .value()
        .unwrap_or_else(|| panic!("the key must be read: {key:?}"));
    assert_eq!(key.key_state, "Quarantined");
    assert_eq!(key.key_manager.as_deref(), Some("PARTNER"));
}
