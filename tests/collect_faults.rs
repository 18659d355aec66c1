//! Faults moto cannot produce (AccessDenied, throttling), injected with
//! `aws-smithy-mocks`: the mocked responses are real HTTP error bodies in the
//! service's wire format, so the SDK's own deserializer and retry policy run.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_credential_types::Credentials;
use aws_sdk_kms::operation::describe_key::DescribeKeyOutput;
use aws_sdk_kms::operation::get_key_policy::GetKeyPolicyOutput;
use aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput;
use aws_sdk_kms::types::{KeyMetadata, KeyState};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_types::region::Region;
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::kms;
use pipeaudit::model::{Observed, ReadErrorKind};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/k-1";

fn kms_client(rules: &[&Rule]) -> aws_sdk_kms::Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let conf = aws_sdk_kms::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "mock"))
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .build();
    aws_sdk_kms::Client::from_conf(conf)
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
    let client = kms_client(&[&describe, &rotation, &policy]);
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
    let client = kms_client(&[&describe, &rotation, &policy]);
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
    let client = kms_client(&[&describe, &rotation, &policy]);
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
