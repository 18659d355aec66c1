//! Classification of build environment variables that look like secrets.
//!
//! Only the classification leaves this module: the value itself is never
//! stored, logged or reported.

use serde::{Deserialize, Serialize};

/// What a plaintext value or its name looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// An AWS access key id (AKIA..., ASIA...).
    AwsAccessKeyId,
    /// A 40-character AWS secret access key.
    AwsSecretAccessKey,
    /// A PEM private key block.
    PrivateKey,
    /// A long random-looking token.
    HighEntropyToken,
    /// The variable's name says it holds a secret (PASSWORD, TOKEN, ...).
    SecretLikeName,
}

const SECRET_NAME_PARTS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "ACCESS_KEY",
    "PRIVATE_KEY",
    "CREDENTIAL",
    "AUTH",
];

const ACCESS_KEY_PREFIXES: &[&str] = &[
    "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA",
];

/// Classifies a plaintext environment variable by its name and value.
/// The result is sorted and free of duplicates.
pub fn classify(name: &str, value: &str) -> Vec<SecretKind> {
    let mut kinds = Vec::new();
    let upper = name.to_ascii_uppercase();
    if SECRET_NAME_PARTS.iter().any(|p| upper.contains(p)) {
        kinds.push(SecretKind::SecretLikeName);
    }
    let v = value.trim();
    if contains_access_key_id(v) {
        kinds.push(SecretKind::AwsAccessKeyId);
    }
    if v.contains("PRIVATE KEY-----") {
        kinds.push(SecretKind::PrivateKey);
    }
    if looks_like_secret_access_key(v) {
        kinds.push(SecretKind::AwsSecretAccessKey);
    } else if looks_high_entropy(v) {
        kinds.push(SecretKind::HighEntropyToken);
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

fn contains_access_key_id(v: &str) -> bool {
    let bytes = v.as_bytes();
    if bytes.len() < 20 {
        return false;
    }
    (0..=bytes.len() - 20).any(|i| {
        let w = &bytes[i..i + 20];
        let boundary_before = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let boundary_after = i + 20 == bytes.len() || !bytes[i + 20].is_ascii_alphanumeric();
        boundary_before
            && boundary_after
            && ACCESS_KEY_PREFIXES
                .iter()
                .any(|p| w.starts_with(p.as_bytes()))
            && w[4..]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    })
}

fn looks_like_secret_access_key(v: &str) -> bool {
    v.len() == 40
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && v.bytes().any(|b| b.is_ascii_lowercase())
        && v.bytes().any(|b| b.is_ascii_uppercase())
        && shannon_entropy(v) > 3.5
}

fn looks_high_entropy(v: &str) -> bool {
    if v.len() < 20 || v.contains(char::is_whitespace) {
        return false;
    }
    // Paths, URLs without credentials and image names are long but not secret.
    if v.starts_with('/') || v.contains("://") && !v.contains('@') {
        return false;
    }
    let lower = v.bytes().any(|b| b.is_ascii_lowercase());
    let upper = v.bytes().any(|b| b.is_ascii_uppercase());
    let digit = v.bytes().any(|b| b.is_ascii_digit());
    let hex_token = v.len() >= 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
    let entropy = shannon_entropy(v);
    (lower && upper && digit && entropy >= 4.3) || (hex_token && entropy >= 3.5)
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[usize::from(b)] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
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
        assert_eq!(
            classify(
                "SHA",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            ),
            vec![SecretKind::HighEntropyToken]
        );
        assert_eq!(
            classify("GH", "ghp_9aK2mQ7xZ4bV1cN8dR3tY6uW0eP5sL2h"),
            vec![SecretKind::HighEntropyToken]
        );
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
}
