//! Builds the SDK clients for one region from the standard AWS configuration
//! chain plus pipeaudit's options.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{ConnectorBuilder, tls};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::SdkConfig;
use aws_types::region::Region;

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub profile: Option<String>,
    /// A custom endpoint (also taken from `AWS_ENDPOINT_URL` by the SDK).
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first (throttling is retried with backoff).
    pub max_attempts: u32,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

impl ConnectOptions {
    /// Defaults for a real account: 8 attempts, 5 s connect, 60 s read.
    pub fn new(profile: Option<String>, endpoint_url: Option<String>) -> Self {
        ConnectOptions {
            profile,
            endpoint_url,
            max_attempts: 8,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// The HTTPS client every SDK client of a run shares: hyper 1 with rustls
/// (the `ring` provider), the platform's trusted roots and proxies from the
/// environment, made once. The SDK crates are built without their own
/// default client, so this is the only one: a configuration that is not
/// given it has no HTTP client at all. Shared, the clients have one
/// connection pool and one parsed copy of the trusted roots.
pub fn shared_https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// Loads the shared SDK configuration for a region (`None`: from the
/// environment/profile), with one HTTPS client for every SDK client built
/// from it (and from the configurations derived from it).
pub async fn load_config(opts: &ConnectOptions, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(shared_https_client())
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(opts.max_attempts.max(1))
                .with_initial_backoff(Duration::from_millis(200)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(opts.connect_timeout)
                .read_timeout(opts.read_timeout)
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(u) = &opts.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    loader.load().await
}

/// The clients pipeaudit uses in one region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    pub region: String,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub codecommit: aws_sdk_codecommit::Client,
    pub connections: aws_sdk_codestarconnections::Client,
    pub s3: aws_sdk_s3::Client,
    pub kms: aws_sdk_kms::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl RegionClients {
    /// Builds every client from one shared configuration.
    pub fn new(config: &SdkConfig) -> Self {
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        // A custom endpoint serves every bucket under one host: path-style addressing.
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        RegionClients {
            region,
            codepipeline: aws_sdk_codepipeline::Client::new(config),
            codebuild: aws_sdk_codebuild::Client::new(config),
            codedeploy: aws_sdk_codedeploy::Client::new(config),
            cloudformation: aws_sdk_cloudformation::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            codecommit: aws_sdk_codecommit::Client::new(config),
            connections: aws_sdk_codestarconnections::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            kms: aws_sdk_kms::Client::new(config),
            events: aws_sdk_eventbridge::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            sts: aws_sdk_sts::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
        }
    }
}

/// A configuration acting in another account: the role is assumed through
/// STS with the base configuration's credentials (session name `pipeaudit`,
/// optional external id); credentials are refreshed before they expire.
pub async fn assume_role_config(
    base: &SdkConfig,
    role_arn: &str,
    external_id: Option<&str>,
) -> SdkConfig {
    let mut builder = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name("pipeaudit")
        .configure(base);
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.build().await;
    base.to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration carries one HTTPS client, and so do the
    /// configurations derived from it (one per audited region): without
    /// one, every SDK client would make its own pool and trusted roots.
    #[tokio::test]
    async fn one_https_client_is_shared() {
        let opts = ConnectOptions::new(None, Some("http://127.0.0.1:9".to_string()));
        let base = load_config(&opts, Some("us-east-1")).await;
        assert!(base.http_client().is_some());
        let regional = base
            .to_builder()
            .region(Region::new("eu-west-1".to_string()))
            .build();
        assert!(regional.http_client().is_some());
        let clients = RegionClients::new(&regional);
        assert_eq!(clients.region, "eu-west-1");
        assert!(clients.iam.config().http_client().is_some());
        assert!(clients.s3.config().http_client().is_some());
    }
}
