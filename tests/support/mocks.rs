//! The one builder of `aws-smithy-mocks` clients, for the operations moto
//! lacks: a client of any SDK crate in `us-east-1` with test credentials,
//! whose requests are answered by `rules` (any order) and never leave the
//! process.

/// `mock_client!(aws_sdk_kms, &[&rule, ...])` builds an `aws_sdk_kms::Client`
/// whose calls are answered by the rules, with the SDK's default retries;
/// `mock_client!(aws_sdk_kms, rules, retry = RetryConfig::disabled())` sets
/// the retry configuration, and `mock_client!(aws_sdk_kms, rules, no_retry)`
/// makes every call once; `mock_client!(aws_sdk_iam, rules, sequential)`
/// answers with the rules in order.
#[macro_export]
macro_rules! mock_client {
    ($krate:ident, $rules:expr) => {
        $crate::mock_client!(@build $krate, $rules, None, MatchAny)
    };
    ($krate:ident, $rules:expr, sequential) => {
        $crate::mock_client!(@build $krate, $rules, None, Sequential)
    };
    ($krate:ident, $rules:expr, no_retry) => {
        $crate::mock_client!(@build $krate, $rules, Some($krate::config::retry::RetryConfig::disabled()), MatchAny)
    };
    ($krate:ident, $rules:expr, retry = $retry:expr) => {
        $crate::mock_client!(@build $krate, $rules, Some($retry), MatchAny)
    };
    (@build $krate:ident, $rules:expr, $retry:expr, $mode:ident) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode(aws_smithy_mocks::RuleMode::$mode);
        let rules: &[&aws_smithy_mocks::Rule] = $rules;
        for r in rules {
            interceptor = interceptor.with_rule(r);
        }
        let retry: Option<$krate::config::retry::RetryConfig> = $retry;
        let mut conf = $krate::Config::builder()
            .behavior_version($krate::config::BehaviorVersion::latest())
            .region($krate::config::Region::new("us-east-1"))
            .credentials_provider($krate::config::Credentials::new(
                "a", "b", None, None, "mock",
            ))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor);
        if let Some(retry) = retry {
            conf = conf.retry_config(retry);
        }
        $krate::Client::from_conf(conf.build())
    }};
}
