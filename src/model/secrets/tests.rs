//! Unit tests of the classifier (the corpus test is tests/integration/secret_classifier.rs).

use super::*;

#[test]
fn access_key_id_is_recognised_inside_text() {
    assert_eq!(
        classify("KEY", "AKIAIOSFODNN7EXAMPLE"),
        vec![SecretKind::AwsAccessKeyId]
    );
    assert!(classify("X", "id=AKIAIOSFODNN7EXAMPLE;").contains(&SecretKind::AwsAccessKeyId));
    assert!(!classify("X", "AKIAIOSFODNN7EXAMPLEX").contains(&SecretKind::AwsAccessKeyId));
}

#[test]
fn secret_access_key_and_name() {
    let kinds = classify(
        "AWS_SECRET_ACCESS_KEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    assert_eq!(
        kinds,
        vec![SecretKind::AwsSecretAccessKey, SecretKind::SecretLikeName]
    );
}

#[test]
fn private_key_block() {
    let v = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----";
    assert!(classify("CERT", v).contains(&SecretKind::PrivateKey));
}

#[test]
fn high_entropy_token() {
    let digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(
        classify("VALUE", digest),
        vec![SecretKind::HighEntropyToken]
    );
    // Under a digest name the same shape is the digest it says it is.
    assert!(classify("SHA", digest).is_empty());
    assert!(classify("ARTIFACT_SHA256", digest).is_empty());
    // Put together so that no token-shaped literal sits in the source.
    let token = format!("{}{}", "gh", "p_9aK2mQ7xZ4bV1cN8dR3tY6uW0eP5sL2h");
    assert!(classify("GH", &token).contains(&SecretKind::KnownTokenPrefix));
}

#[test]
fn unique_ids_of_principals_are_not_access_keys() {
    assert!(classify("ROLE_ID", "AROAIOSFODNN7EXAMPLE").is_empty());
    assert!(classify("USER_ID", "AIDAIOSFODNN7EXAMPLE").is_empty());
}

#[test]
fn name_words_split_at_case_and_separators() {
    assert_eq!(name_words("dbPassword"), ["DB", "PASSWORD"]);
    assert_eq!(name_words("APIKey"), ["API", "KEY"]);
    assert_eq!(
        name_words("TF_VAR_db_password"),
        ["TF", "VAR", "DB", "PASSWORD"]
    );
    assert_eq!(
        name_words("X-Amz-Security-Token"),
        ["X", "AMZ", "SECURITY", "TOKEN"]
    );
}

#[test]
fn a_word_after_the_secret_word_can_make_the_name_a_reference() {
    for name in [
        "DB_SECRET_ARN",
        "TOKEN_PARAMETER_NAME",
        "AUTH_URL",
        "TOKEN_TTL",
    ] {
        assert!(!NameInfo::of(name).secret_like, "{name}");
    }
    for name in [
        "DB_PASSWORD",
        "ADMIN_USER_PASSWORD",
        "PGPASSWORD",
        "ClientSecret",
    ] {
        assert!(NameInfo::of(name).secret_like, "{name}");
    }
    for name in ["AUTHOR", "OAUTH_CLIENT_ID", "PROJECT_KEY", "KMS_KEY"] {
        assert!(!NameInfo::of(name).secret_like, "{name}");
    }
}

#[test]
fn a_secret_like_name_needs_a_real_value() {
    for value in [
        "",
        "true",
        "3600",
        "****",
        "<token>",
        "${TOKEN}",
        "#{Vars.Token}",
    ] {
        assert!(!is_secret("API_TOKEN", value), "{value:?}");
    }
    assert!(is_secret("API_TOKEN", "x"));
}

#[test]
fn ordinary_values_are_not_secrets() {
    for (name, value) in [
        ("STAGE", "prod"),
        ("IMAGE", "aws/codebuild/standard:7.0"),
        ("PARAM", "/ref-001/db-password-parameter-name"),
        ("URL", "https://example.com/some/long/path/value"),
        ("MSG", "hello world this is a long sentence"),
        ("COUNT", "12345678901234567890123"),
        ("VERSION", "Release-2024-11-28-Build"),
        ("HOST", "MyApp-Production-Server1"),
    ] {
        assert!(classify(name, value).is_empty(), "{name}={value}");
    }
}

#[test]
fn secret_like_names() {
    for name in ["DB_PASSWORD", "github_token", "ApiKey", "NPM_AUTH"] {
        assert_eq!(
            classify(name, "x"),
            vec![SecretKind::SecretLikeName],
            "{name}"
        );
    }
}

#[test]
fn entropy_bounds() {
    assert_eq!(shannon_entropy(""), 0.0);
    assert_eq!(shannon_entropy("aaaa"), 0.0);
    assert!((shannon_entropy("ab") - 1.0).abs() < 1e-9);
}
