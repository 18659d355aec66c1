//! What a person reads when an AWS call fails.
//!
//! The SDK reports a failure as an [`SdkError`] whose variant says at which
//! stage the call broke and whose `source()` chain says why: a credentials
//! provider that found nothing, a refused connection, a host name that did
//! not resolve, a service error code. [`classify`] walks that chain, matching
//! on the error types where the SDK exposes them, and turns it into one line
//! saying what failed plus at most one line saying what to do. The chain
//! itself (every cause's `Display`, never `Debug`) is kept for `-v`.

use std::error::Error;
use std::fmt;

use aws_config::imds::client::error::ImdsError;
use aws_credential_types::provider::error::{CredentialsError, TokenError};
use aws_smithy_runtime_api::client::dns::ResolveDnsError;
use aws_smithy_runtime_api::client::endpoint::error::ResolveEndpointError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_types::error::ErrorMetadata;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::SdkConfig;

/// Where a call went, for the message: the region, a custom endpoint, the
/// profile the credentials were looked up in.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub profile: Option<String>,
}

impl Reach {
    /// The region and endpoint of an SDK configuration.
    pub fn of(config: &SdkConfig, profile: Option<&str>) -> Self {
        Reach {
            region: config.region().map(|r| r.to_string()),
            endpoint: config.endpoint_url().map(str::to_string),
            profile: profile.map(str::to_string),
        }
    }

    /// "the AWS endpoint http://..." or "the AWS endpoint of region us-east-1".
    fn endpoint_text(&self) -> String {
        match (&self.endpoint, &self.region) {
            (Some(u), _) => format!("the endpoint {u}"),
            (None, Some(r)) => format!("the AWS endpoint of region {r}"),
            (None, None) => "the AWS endpoint".to_string(),
        }
    }

    fn profile_name(&self) -> String {
        self.profile
            .clone()
            .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| "default".to_string())
    }
}

/// Why a call failed, as far as a person needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// No provider of the default chain had credentials.
    NoCredentials,
    /// A credentials provider did not answer in time.
    CredentialsTimedOut,
    /// A credentials provider failed (misconfigured profile, SSO, a refused
    /// role assumption...); its own words.
    CredentialsFailed(String),
    /// `ExpiredToken`: the session token is past its expiry.
    ExpiredToken,
    /// `InvalidClientTokenId` / `UnrecognizedClientException`: AWS does not
    /// know the access key or token.
    InvalidToken,
    /// `SignatureDoesNotMatch`: the secret key does not fit the key id.
    BadSignature,
    /// `RequestExpired` / `RequestTimeTooSkewed`: the local clock is off.
    ClockSkew,
    /// `AccessDenied` and its relatives, or a bare 403.
    AccessDenied,
    /// Nothing listens at the endpoint.
    ConnectionRefused,
    /// The endpoint's host name does not resolve (DNS).
    UnknownHost,
    /// The endpoint could not be reached for another network reason.
    Unreachable(String),
    /// No endpoint could be made for the region (an invalid region name).
    NoEndpoint(String),
    /// No connection or no answer within the timeouts.
    TimedOut,
    /// An answer came that is not an AWS response (HTTP status).
    Unreadable(Option<u16>),
    /// Any other service error (code and message in the failure).
    Service,
    /// Anything else: the innermost cause's words.
    Other(String),
}

/// A classified failure: one line of what failed, at most one of what to do.
#[derive(Debug, Clone)]
pub struct AwsFailure {
    pub cause: Cause,
    /// The service error code, when the service answered with one.
    pub code: Option<String>,
    /// The service's message, when it gave one.
    pub message: Option<String>,
    /// The failure happened while loading credentials, before any request.
    pub loading_credentials: bool,
    /// What failed, on one line.
    pub summary: String,
    /// What to do, on one line.
    pub hint: Option<String>,
    /// Every cause's `Display`, outermost first, joined on one line (for `-v`).
    pub chain: String,
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary)
    }
}

/// The causes of an error, outermost first, each cause's `Display` once.
pub fn chain_text(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = one_line(&e.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Whitespace (newlines included) collapsed to single spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Classifies an SDK error for the call `action` (e.g. `sts:GetCallerIdentity`).
pub fn classify<E>(action: &str, err: &SdkError<E, HttpResponse>, reach: &Reach) -> AwsFailure
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let chain = chain_text(err);
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().map(str::to_string);
            let message = ctx.err().message().map(one_line);
            let cause = cause_of_code(code.as_deref(), Some(status)).unwrap_or(Cause::Service);
            finish(action, cause, code, message, false, chain, reach)
        }
        SdkError::ResponseError(ctx) => {
            let status = ctx.raw().status().as_u16();
            finish(
                action,
                Cause::Unreadable(Some(status)),
                None,
                None,
                false,
                chain,
                reach,
            )
        }
        SdkError::TimeoutError(_) => {
            finish(action, Cause::TimedOut, None, None, false, chain, reach)
        }
        other => {
            let found = walk(other);
            finish(
                action,
                found.cause,
                found.code,
                found.message,
                found.loading_credentials,
                chain,
                reach,
            )
        }
    }
}

struct Found {
    cause: Cause,
    code: Option<String>,
    message: Option<String>,
    loading_credentials: bool,
}

/// Walks the source chain of a construction or dispatch failure.
fn walk(err: &(dyn Error + 'static)) -> Found {
    let mut credentials: Option<&CredentialsError> = None;
    let mut token: Option<&TokenError> = None;
    let mut imds = false;
    let mut metadata: Option<&ErrorMetadata> = None;
    let mut service: Option<(String, Option<String>)> = None;
    let mut endpoint: Option<String> = None;
    let mut io: Option<std::io::ErrorKind> = None;
    let mut connector_timeout = false;
    let mut dns = false;
    let mut innermost = String::new();
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            credentials.get_or_insert(c);
        }
        if let Some(t) = e.downcast_ref::<TokenError>() {
            token.get_or_insert(t);
        }
        if e.downcast_ref::<ImdsError>().is_some() {
            imds = true;
        }
        if let Some(m) = e.downcast_ref::<ErrorMetadata>() {
            metadata.get_or_insert(m);
        }
        // A service error met while loading credentials (sts:AssumeRole
        // refused, say): its code and message, whatever its operation.
        if service.is_none()
            && let Some((code, message)) = service_error_of(e)
        {
            service = Some((code, message));
        }
        if let Some(r) = e.downcast_ref::<ResolveEndpointError>() {
            endpoint.get_or_insert_with(|| one_line(&r.to_string()));
        }
        if let Some(c) = e.downcast_ref::<ConnectorError>()
            && c.is_timeout()
        {
            connector_timeout = true;
        }
        if let Some(i) = e.downcast_ref::<std::io::Error>() {
            io.get_or_insert(i.kind());
        }
        // A custom resolver fails with ResolveDnsError; hyper's default one
        // reports a failed lookup as a plain "dns error" around the
        // resolver's io::Error, with no error type of its own to match on.
        let text = e.to_string();
        if e.downcast_ref::<ResolveDnsError>().is_some()
            || text == "dns error"
            || text.contains("failed to lookup address")
        {
            dns = true;
        }
        if !text.trim().is_empty() {
            innermost = one_line(&text);
        }
        next = e.source();
    }
    let (code, message) = match (service, metadata) {
        (Some((c, m)), _) => (Some(c), m),
        (None, Some(m)) => (m.code().map(str::to_string), m.message().map(one_line)),
        (None, None) => (None, None),
    };
    let loading_credentials = credentials.is_some() || token.is_some();
    let cause = if let Some(c) = credentials {
        credentials_cause(c, imds, code.as_deref())
    } else if let Some(t) = token {
        match t {
            TokenError::TokenNotLoaded(_) => Cause::NoCredentials,
            TokenError::ProviderTimedOut(_) => Cause::CredentialsTimedOut,
            _ => Cause::CredentialsFailed(chain_text(t)),
        }
    } else if let Some(e) = endpoint {
        Cause::NoEndpoint(e)
    } else if dns {
        Cause::UnknownHost
    } else if connector_timeout {
        Cause::TimedOut
    } else if let Some(kind) = io {
        io_cause(kind)
    } else if let Some(c) = cause_of_code(code.as_deref(), None).filter(|c| *c != Cause::Service) {
        c
    } else {
        Cause::Other(innermost)
    };
    Found {
        cause,
        code,
        message,
        loading_credentials,
    }
}

/// The code and message of a service error nested in a chain, for the
/// operations a credentials provider calls.
fn service_error_of(e: &(dyn Error + 'static)) -> Option<(String, Option<String>)> {
    fn meta<E: ProvideErrorMetadata>(e: &E) -> Option<(String, Option<String>)> {
        e.code().map(|c| (c.to_string(), e.message().map(one_line)))
    }
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
    if let Some(s) = e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
        return meta(s);
    }
    if let Some(s) = e.downcast_ref::<SdkError<AssumeRoleWithWebIdentityError, HttpResponse>>() {
        return meta(s);
    }
    if let Some(s) = e.downcast_ref::<AssumeRoleError>() {
        return meta(s);
    }
    if let Some(s) = e.downcast_ref::<AssumeRoleWithWebIdentityError>() {
        return meta(s);
    }
    None
}

fn credentials_cause(c: &CredentialsError, imds: bool, code: Option<&str>) -> Cause {
    match c {
        CredentialsError::CredentialsNotLoaded(_) => Cause::NoCredentials,
        // The instance metadata service is the chain's last resort; off an
        // EC2 instance it cannot be reached, which means no credentials.
        _ if imds => Cause::NoCredentials,
        CredentialsError::ProviderTimedOut(_) => Cause::CredentialsTimedOut,
        _ => match cause_of_code(code, None).filter(|c| *c != Cause::Service) {
            Some(cause) => cause,
            None => Cause::CredentialsFailed(
                c.source()
                    .map(chain_text)
                    .unwrap_or_else(|| one_line(&c.to_string())),
            ),
        },
    }
}

fn io_cause(kind: std::io::ErrorKind) -> Cause {
    use std::io::ErrorKind as K;
    match kind {
        K::ConnectionRefused => Cause::ConnectionRefused,
        K::TimedOut => Cause::TimedOut,
        K::ConnectionReset | K::ConnectionAborted => {
            Cause::Unreachable("the connection was closed".to_string())
        }
        K::NetworkUnreachable | K::HostUnreachable | K::AddrNotAvailable => {
            Cause::Unreachable("no route to it".to_string())
        }
        other => Cause::Unreachable(one_line(&std::io::Error::from(other).to_string())),
    }
}

/// The cause a service error code stands for; `Service` for the others.
fn cause_of_code(code: Option<&str>, status: Option<u16>) -> Option<Cause> {
    let cause = match code.unwrap_or("") {
        "ExpiredToken" | "ExpiredTokenException" | "TokenRefreshRequired" => Cause::ExpiredToken,
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidAccessKeyId"
        | "InvalidToken"
        | "AuthFailure" => Cause::InvalidToken,
        "SignatureDoesNotMatch" | "InvalidSignatureException" | "IncompleteSignature" => {
            Cause::BadSignature
        }
        "RequestExpired" | "RequestTimeTooSkewed" => Cause::ClockSkew,
        c if c.contains("AccessDenied")
            || c == "AuthorizationError"
            || c == "UnauthorizedOperation"
            || c == "Forbidden" =>
        {
            Cause::AccessDenied
        }
        "" if status == Some(403) => Cause::AccessDenied,
        "" if status.is_none() => return None,
        _ => Cause::Service,
    };
    Some(cause)
}

fn finish(
    action: &str,
    cause: Cause,
    code: Option<String>,
    message: Option<String>,
    loading_credentials: bool,
    chain: String,
    reach: &Reach,
) -> AwsFailure {
    let (summary, hint) = words(
        action,
        &cause,
        code.as_deref(),
        message.as_deref(),
        loading_credentials,
        reach,
    );
    AwsFailure {
        cause,
        code,
        message,
        loading_credentials,
        summary,
        hint,
        chain,
    }
}

/// The two lines of a cause.
fn words(
    action: &str,
    cause: &Cause,
    code: Option<&str>,
    message: Option<&str>,
    loading_credentials: bool,
    reach: &Reach,
) -> (String, Option<String>) {
    let detail = |fallback: &str| -> String {
        match (code, message) {
            (Some(c), Some(m)) => format!("{c}: {m}"),
            (Some(c), None) => c.to_string(),
            (None, Some(m)) => m.to_string(),
            (None, None) => fallback.to_string(),
        }
    };
    // A service error met while loading credentials was answered to the
    // credentials provider's own call (sts:AssumeRole, say), not to `action`.
    let refused = if loading_credentials {
        "the credentials provider's request was refused".to_string()
    } else {
        format!("{action} was refused")
    };
    let endpoint = reach.endpoint_text();
    match cause {
        Cause::NoCredentials => (
            format!(
                "no AWS credentials found (tried: the environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared config and credentials files for profile `{}`, SSO, web identity, container and instance metadata)",
                reach.profile_name()
            ),
            Some(
                "hint: set AWS_PROFILE (or --profile) to a configured profile, run `aws sso login`, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .to_string(),
            ),
        ),
        Cause::CredentialsTimedOut => (
            "loading the AWS credentials timed out".to_string(),
            Some("hint: check the profile's credential source (SSO, credential_process, role) and the network".to_string()),
        ),
        Cause::CredentialsFailed(why) => (
            format!("could not load the AWS credentials: {why}"),
            Some(format!(
                "hint: check profile `{}` in the shared config files; for SSO run `aws sso login`",
                reach.profile_name()
            )),
        ),
        Cause::ExpiredToken => (
            format!("the AWS security token has expired ({})", code.unwrap_or("ExpiredToken")),
            Some("hint: refresh the credentials (for SSO: `aws sso login`) and run again".to_string()),
        ),
        Cause::InvalidToken => (
            format!(
                "AWS does not recognize the access key or security token ({})",
                code.unwrap_or("InvalidClientTokenId")
            ),
            Some("hint: check AWS_ACCESS_KEY_ID / AWS_SESSION_TOKEN or the profile's keys; temporary keys need their session token".to_string()),
        ),
        Cause::BadSignature => (
            format!(
                "AWS rejected the request signature ({}): the secret access key does not match the access key id",
                code.unwrap_or("SignatureDoesNotMatch")
            ),
            Some("hint: check AWS_SECRET_ACCESS_KEY or the profile's aws_secret_access_key".to_string()),
        ),
        Cause::ClockSkew => (
            format!("{refused}: the request time is too far from AWS's ({})", detail("RequestExpired")),
            Some("hint: set this machine's clock right (NTP) and run again".to_string()),
        ),
        Cause::AccessDenied => (
            format!("access denied: {}", detail("HTTP 403")),
            Some(if loading_credentials {
                "hint: the role's trust policy must allow the caller (and the external id, if any)".to_string()
            } else {
                format!("hint: allow {action} to the caller, or use other credentials (--profile, --role-arn)")
            }),
        ),
        Cause::ConnectionRefused => (
            format!("could not reach {endpoint}: connection refused"),
            Some(connect_hint(reach)),
        ),
        Cause::UnknownHost => (
            match (&reach.endpoint, &reach.region) {
                (Some(u), _) => format!("could not resolve the host of the endpoint {u} (DNS lookup failed)"),
                (None, Some(r)) => format!("could not resolve the AWS endpoint of region `{r}` (DNS lookup failed)"),
                (None, None) => "could not resolve the AWS endpoint (DNS lookup failed)".to_string(),
            },
            Some(if reach.endpoint.is_some() {
                "hint: check the host in --endpoint-url / AWS_ENDPOINT_URL and this machine's DNS".to_string()
            } else {
                "hint: check the --region name (e.g. us-east-1) and this machine's DNS and network".to_string()
            }),
        ),
        Cause::Unreachable(why) => (
            format!("could not reach {endpoint}: {why}"),
            Some(connect_hint(reach)),
        ),
        Cause::NoEndpoint(why) => (
            format!("no AWS endpoint for region `{}`: {why}", reach.region.as_deref().unwrap_or("")),
            Some("hint: check the --region name (e.g. us-east-1)".to_string()),
        ),
        Cause::TimedOut => (
            format!("no answer from {endpoint} in time"),
            Some("hint: check the network, or raise --connect-timeout / --read-timeout".to_string()),
        ),
        Cause::Unreadable(status) => (
            format!(
                "the answer of {endpoint} is not an AWS response{}",
                status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
            ),
            Some("hint: check --endpoint-url / AWS_ENDPOINT_URL".to_string()),
        ),
        Cause::Service => (format!("{refused}: {}", detail("service error")), None),
        Cause::Other(why) => (format!("{action} failed: {why}"), None),
    }
}

fn connect_hint(reach: &Reach) -> String {
    if reach.endpoint.is_some() {
        "hint: check --endpoint-url / AWS_ENDPOINT_URL and that the server there is running"
            .to_string()
    } else {
        "hint: check this machine's network and proxy settings (HTTPS_PROXY)".to_string()
    }
}

#[cfg(test)]
mod tests;
