//! What a variable name says: secret words, reference and identifier words.

/// What a variable name says.
pub(super) struct NameInfo {
    /// It names a secret (and not a reference to one or a setting about one).
    pub(super) secret_like: bool,
    /// It names an identifier or a digest.
    pub(super) identifier: bool,
}

/// Words that name a secret.
pub(super) const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWORDS",
    "PASSWD",
    "PASS",
    "PWD",
    "PASSPHRASE",
    "PASSCODE",
    "SECRET",
    "SECRETS",
    "TOKEN",
    "TOKENS",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "AUTH",
    "APIKEY",
    "PAT",
];

/// Words that make `<word>_KEY` a secret key.
pub(super) const KEY_QUALIFIERS: &[&str] = &[
    "API",
    "ACCESS",
    "PRIVATE",
    "SECRET",
    "SIGNING",
    "ENCRYPTION",
    "MASTER",
    "SSH",
    "DEPLOY",
    "LICENSE",
    "HMAC",
    "WEBHOOK",
    "ACCOUNT",
    "CLIENT",
    "SESSION",
    "JWT",
    "STORAGE",
    "ROOT",
];

/// Words after a secret word that make the name refer to the secret or to a
/// setting about it rather than hold it (`DB_SECRET_ARN`, `TOKEN_TTL`).
pub(super) const REFERENCE_WORDS: &[&str] = &[
    "NAME",
    "NAMES",
    "ARN",
    "ARNS",
    "ID",
    "IDS",
    "PATH",
    "PARAM",
    "PARAMS",
    "PARAMETER",
    "PARAMETERS",
    "SSM",
    "URL",
    "URLS",
    "URI",
    "ENDPOINT",
    "HOST",
    "HOSTNAME",
    "DOMAIN",
    "FILE",
    "FILENAME",
    "DIR",
    "LOCATION",
    "BUCKET",
    "PREFIX",
    "REGION",
    "TYPE",
    "MODE",
    "METHOD",
    "PROVIDER",
    "SOURCE",
    "FLOW",
    "ENABLED",
    "ENABLE",
    "DISABLED",
    "DISABLE",
    "REQUIRED",
    "TTL",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "TIMEOUT",
    "LENGTH",
    "LEN",
    "SIZE",
    "COUNT",
    "MAX",
    "MIN",
    "DAYS",
    "SECONDS",
    "MINUTES",
    "HOURS",
    "VERSION",
    "PORT",
    "ROTATION",
    "POLICY",
    "SCOPE",
    "SCOPES",
    "AUDIENCE",
    "ISSUER",
    "USER",
    "USERNAME",
    "FORMAT",
    "FIELD",
    "VAR",
    "ENV",
    "STORE",
    "REF",
    "KMS",
    "ALIAS",
    "HASH",
    "DIGEST",
    "SHA",
    "CHECKSUM",
    "HEADER",
    "ROLE",
    "GROUP",
    "PROFILE",
    "FUNCTION",
];

/// Words that make a name an identifier or a digest.
pub(super) const IDENTIFIER_WORDS: &[&str] = &[
    "ID",
    "IDS",
    "UUID",
    "GUID",
    "SHA",
    "SHA1",
    "SHA256",
    "SHA512",
    "MD5",
    "HASH",
    "DIGEST",
    "CHECKSUM",
    "COMMIT",
    "REVISION",
    "REV",
    "VERSION",
    "TAG",
    "REF",
    "ETAG",
    "HEAD",
    "FINGERPRINT",
];

impl NameInfo {
    pub(super) fn of(name: &str) -> NameInfo {
        let words = name_words(name);
        let mut last_secret = None;
        for (i, w) in words.iter().enumerate() {
            let pair_key = (w == "KEY" || w == "KEYS")
                && i > 0
                && KEY_QUALIFIERS.contains(&words[i - 1].as_str());
            if pair_key || is_secret_word(w) {
                last_secret = Some(i);
            }
        }
        let secret_like = last_secret.is_some_and(|i| {
            !words[i + 1..]
                .iter()
                .any(|w| REFERENCE_WORDS.contains(&w.as_str()))
        });
        let identifier = words.iter().any(|w| {
            IDENTIFIER_WORDS.contains(&w.as_str())
                || [
                    "COMMIT", "SHA", "HASH", "DIGEST", "CHECKSUM", "VERSION", "COMMITID",
                ]
                .iter()
                .any(|s| w.len() > s.len() && w.ends_with(s))
        });
        NameInfo {
            secret_like,
            identifier,
        }
    }
}

pub(super) fn is_secret_word(w: &str) -> bool {
    SECRET_WORDS.contains(&w)
        || ["PASSWORD", "PASSWD", "SECRET", "CREDENTIAL", "APIKEY"]
            .iter()
            .any(|s| w.contains(s))
        || ["TOKEN", "ACCESSKEY", "PRIVATEKEY", "SECRETKEY"]
            .iter()
            .any(|s| w.ends_with(s))
        || (w.ends_with("AUTH") && w != "OAUTH")
}

/// Upper-case words of a name: split at non-alphanumerics and camel-case
/// boundaries (`dbPassword`, `APIKey`, `TF_VAR_db_password`).
pub(super) fn name_words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c.to_ascii_uppercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}
