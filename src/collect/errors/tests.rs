use super::*;

fn reach() -> Reach {
    Reach {
        region: Some("us-east-1".to_string()),
        endpoint: None,
        profile: Some("audit".to_string()),
    }
}

type StsError =
    SdkError<aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError, HttpResponse>;

fn dispatch(source: Box<dyn Error + Send + Sync>) -> StsError {
    SdkError::dispatch_failure(ConnectorError::other(source, None))
}

#[test]
fn credentials_not_loaded_is_no_credentials_and_names_the_sources() {
    let err = dispatch(Box::new(CredentialsError::not_loaded(
        "no providers in chain provided credentials",
    )));
    let f = classify("sts:GetCallerIdentity", &err, &reach());
    assert_eq!(f.cause, Cause::NoCredentials);
    assert!(f.loading_credentials);
    for source in [
        "AWS_ACCESS_KEY_ID",
        "profile `audit`",
        "SSO",
        "web identity",
        "instance metadata",
    ] {
        assert!(f.summary.contains(source), "{source}: {}", f.summary);
    }
    let hint = f.hint.unwrap_or_default();
    assert!(
        hint.contains("AWS_PROFILE") && hint.contains("aws sso login"),
        "{hint}"
    );
    assert!(f.chain.contains("no providers in chain"), "{}", f.chain);
}

#[tokio::test]
async fn an_instance_metadata_service_that_does_not_answer_means_no_credentials() {
    // Off EC2 the default chain's last provider asks IMDS for a token;
    // when the whole operation times out (rather than the connection
    // failing) it is a provider error around an ImdsError. A loopback listener that never answers
    // stands in for the unreachable metadata address.
    use aws_credential_types::provider::ProvideCredentials;
    let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => panic!("bind: {e}"),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => panic!("{e}"),
    };
    // the SDK crates carry no HTTP client of their own: the run's one
    let base = aws_config::provider_config::ProviderConfig::without_region()
        .with_http_client(crate::collect::clients::shared_https_client());
    let client = match aws_config::imds::Client::builder()
        .configure(&base)
        .endpoint(format!("http://{addr}"))
    {
        Ok(b) => b
            .max_attempts(1)
            .connect_timeout(std::time::Duration::from_millis(500))
            .read_timeout(std::time::Duration::from_secs(5))
            .operation_timeout(std::time::Duration::from_millis(200))
            .build(),
        Err(e) => panic!("{e}"),
    };
    let provider = aws_config::imds::credentials::ImdsCredentialsProvider::builder()
        .imds_client(client)
        .build();
    let err = match provider.provide_credentials().await {
        Ok(_) => panic!("nothing answers"),
        Err(e) => e,
    };
    assert!(
        matches!(err, CredentialsError::ProviderError(_)),
        "{}",
        chain_text(&err)
    );
    let f = classify("sts:GetCallerIdentity", &dispatch(Box::new(err)), &reach());
    assert_eq!(f.cause, Cause::NoCredentials, "{}", f.chain);
    drop(listener);
}

#[test]
fn a_failing_provider_says_its_own_words_on_one_line() {
    let err = dispatch(Box::new(CredentialsError::invalid_configuration(
        "profile `audit`\nhas no region",
    )));
    let f = classify("sts:GetCallerIdentity", &err, &reach());
    assert_eq!(
        f.cause,
        Cause::CredentialsFailed("profile `audit` has no region".to_string())
    );
    assert!(!f.summary.contains('\n'));
    assert!(f.summary.starts_with("could not load the AWS credentials"));
}

#[test]
fn refused_timed_out_and_unresolved_connections() {
    let refused = dispatch(Box::new(std::io::Error::from(
        std::io::ErrorKind::ConnectionRefused,
    )));
    let mut r = reach();
    r.endpoint = Some("http://127.0.0.1:9".to_string());
    let f = classify("sts:GetCallerIdentity", &refused, &r);
    assert_eq!(f.cause, Cause::ConnectionRefused);
    assert_eq!(
        f.summary,
        "could not reach the endpoint http://127.0.0.1:9: connection refused"
    );

    let timeout: StsError =
        SdkError::dispatch_failure(ConnectorError::timeout("connect timed out".into()));
    assert_eq!(
        classify("sts:GetCallerIdentity", &timeout, &r).cause,
        Cause::TimedOut
    );

    // hyper's connector: "dns error" around the resolver's io::Error
    #[derive(Debug)]
    struct Dns(std::io::Error);
    impl fmt::Display for Dns {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("dns error")
        }
    }
    impl Error for Dns {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }
    let dns: StsError = SdkError::dispatch_failure(ConnectorError::io(Box::new(Dns(
        std::io::Error::other("failed to lookup address information: Name or service not known"),
    ))));
    let f = classify("sts:GetCallerIdentity", &dns, &reach());
    assert_eq!(f.cause, Cause::UnknownHost);
    assert!(f.summary.contains("region `us-east-1`"), "{}", f.summary);
    assert!(f.hint.unwrap_or_default().contains("--region"));

    // a custom resolver's failure, with the endpoint named
    let custom: StsError = SdkError::dispatch_failure(ConnectorError::io(Box::new(
        ResolveDnsError::new("no such host"),
    )));
    let mut r = reach();
    r.endpoint = Some("https://sts.example.invalid".to_string());
    let f = classify("sts:GetCallerIdentity", &custom, &r);
    assert_eq!(f.cause, Cause::UnknownHost);
    assert_eq!(
        f.summary,
        "could not resolve the host of the endpoint https://sts.example.invalid (DNS lookup failed)"
    );
}

#[test]
fn an_endpoint_that_cannot_be_made_names_the_region() {
    let err = dispatch(Box::new(ResolveEndpointError::message(
        "Invalid Configuration: region is not a valid host label",
    )));
    let mut r = reach();
    r.region = Some("us_east_1".to_string());
    let f = classify("sts:GetCallerIdentity", &err, &r);
    assert!(matches!(f.cause, Cause::NoEndpoint(_)));
    assert!(f.summary.contains("`us_east_1`"), "{}", f.summary);
}

#[test]
fn chains_are_displayed_without_repeats() {
    let err = dispatch(Box::new(std::io::Error::other("boom")));
    assert_eq!(chain_text(&err), "dispatch failure: other: boom");
}

#[test]
fn service_codes() {
    for (code, cause) in [
        ("ExpiredToken", Cause::ExpiredToken),
        ("ExpiredTokenException", Cause::ExpiredToken),
        ("InvalidClientTokenId", Cause::InvalidToken),
        ("UnrecognizedClientException", Cause::InvalidToken),
        ("SignatureDoesNotMatch", Cause::BadSignature),
        ("AccessDenied", Cause::AccessDenied),
        ("AccessDeniedException", Cause::AccessDenied),
        ("RequestExpired", Cause::ClockSkew),
        ("ValidationError", Cause::Service),
    ] {
        assert_eq!(cause_of_code(Some(code), Some(400)), Some(cause), "{code}");
    }
    assert_eq!(cause_of_code(None, Some(403)), Some(Cause::AccessDenied));
    assert_eq!(cause_of_code(None, None), None);
}

mod mocked_sts {
    //! STS answers moto cannot give (it accepts any credentials):
    //! aws-smithy-mocks serves real STS error bodies (AWS query XML),
    //! so the SDK's own deserializer builds the SdkError classified here.
    use super::super::*;
    use aws_config::BehaviorVersion;
    use aws_credential_types::Credentials;
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };
    use aws_types::region::Region;

    fn sts_error(status: u16, code: &str, message: &str) -> Rule {
        let body = format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"#
        );
        mock!(aws_sdk_sts::Client::get_caller_identity)
            .sequence()
            .http_status(status, Some(body))
            .repeatedly()
            .build()
    }

    async fn identity_failure(rule: &Rule) -> AwsFailure {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("a", "b", None, None, "mock"))
            .http_client(create_mock_http_client())
            .interceptor(
                MockResponseInterceptor::new()
                    .rule_mode(RuleMode::MatchAny)
                    .with_rule(rule),
            )
            .build();
        match aws_sdk_sts::Client::from_conf(conf)
            .get_caller_identity()
            .send()
            .await
        {
            Ok(_) => panic!("the mock answers with an error"),
            Err(e) => classify("sts:GetCallerIdentity", &e, &super::reach()),
        }
    }

    #[tokio::test]
    async fn expired_token() {
        let f = identity_failure(&sts_error(
            403,
            "ExpiredToken",
            "The security token included in the request is expired",
        ))
        .await;
        assert_eq!(f.cause, Cause::ExpiredToken);
        assert_eq!(f.code.as_deref(), Some("ExpiredToken"));
        assert_eq!(
            f.summary,
            "the AWS security token has expired (ExpiredToken)"
        );
        assert!(f.hint.unwrap_or_default().contains("aws sso login"));
    }

    #[tokio::test]
    async fn access_denied() {
        let f = identity_failure(&sts_error(
            403,
            "AccessDenied",
            "User: arn:aws:iam::111122223333:user/x is not authorized to perform: sts:GetCallerIdentity",
        ))
        .await;
        assert_eq!(f.cause, Cause::AccessDenied);
        assert_eq!(
            f.summary,
            "access denied: AccessDenied: User: arn:aws:iam::111122223333:user/x is not authorized to perform: sts:GetCallerIdentity"
        );
        assert_eq!(
            f.hint.as_deref(),
            Some(
                "hint: allow sts:GetCallerIdentity to the caller, or use other credentials (--profile, --role-arn)"
            )
        );
    }

    #[tokio::test]
    async fn unknown_access_key() {
        let f = identity_failure(&sts_error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ))
        .await;
        assert_eq!(f.cause, Cause::InvalidToken);
        assert!(f.summary.contains("InvalidClientTokenId"), "{}", f.summary);
    }

    #[tokio::test]
    async fn wrong_secret_key() {
        let f = identity_failure(&sts_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ))
        .await;
        assert_eq!(f.cause, Cause::BadSignature);
    }

    #[tokio::test]
    async fn other_service_errors_keep_code_and_message() {
        let f = identity_failure(&sts_error(400, "ValidationError", "bad\nrequest")).await;
        assert_eq!(f.cause, Cause::Service);
        assert_eq!(
            f.summary,
            "sts:GetCallerIdentity was refused: ValidationError: bad request"
        );
        assert_eq!(f.hint, None);
    }
}
