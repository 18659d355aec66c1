//! Classification of plaintext values that look like secrets: CodeBuild
//! environment variables and CodePipeline action configuration values.
//!
//! Only the classification leaves this module: the value itself is never
//! stored, logged or reported.
//!
//! The decision has three parts:
//!
//! 1. Shapes that are secrets wherever they appear in the value, whatever the
//!    name: AWS access key ids, PEM private keys, vendor tokens with a
//!    documented prefix (`ghp_`, `glpat-`, `xoxb-`, `sk_live_`, `npm_`, ...),
//!    JSON Web Tokens and URLs that embed credentials.
//! 2. Values that are structurally not secrets, whatever the name: ARNs, URLs
//!    and URIs without credentials, paths and parameter names, host names and
//!    image references, versions, CloudFormation-generated names, AWS
//!    resource ids, references (`{{resolve:...}}`, `${VAR}`, `#{Ns.Var}`),
//!    placeholders and booleans or small numbers.
//! 3. For everything else the name decides: a secret-like name (PASSWORD,
//!    TOKEN, SECRET, API_KEY, ...) not followed by a word that makes it a
//!    reference or a setting (`_ARN`, `_NAME`, `_URL`, `_TTL`, ...) holding
//!    a real value is a secret; a random-looking token is one unless the name
//!    says it is an identifier or a digest (`_ID`, `COMMIT`, `SHA`, ...).
//!
//! JSON objects and `key=value` lists are looked into, each inner value
//! judged under its own key; base64 that decodes to text is judged as that
//! text.

use serde::{Deserialize, Serialize};

/// What a plaintext value or its name looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// An AWS access key id (AKIA..., ASIA...).
    AwsAccessKeyId,
    /// A 40-character AWS secret access key.
    AwsSecretAccessKey,
    /// A PEM (or PuTTY) private key block.
    PrivateKey,
    /// A long random-looking token.
    HighEntropyToken,
    /// The variable's name says it holds a secret (PASSWORD, TOKEN, ...) and
    /// its value is not a reference, a setting or a placeholder.
    SecretLikeName,
    /// A token in a vendor's documented format, recognised by its prefix
    /// (`ghp_`, `github_pat_`, `glpat-`, `xoxb-`, `sk_live_`, `npm_`, ...).
    KnownTokenPrefix,
    /// A JSON Web Token.
    Jwt,
    /// A URL that embeds credentials: a password or token in its user info,
    /// a secret query parameter, or a webhook URL whose path is the secret.
    CredentialsInUrl,
}

/// Classifies a plaintext value by its name and value.
/// The result is sorted and free of duplicates; empty means "not a secret".
pub fn classify(name: &str, value: &str) -> Vec<SecretKind> {
    let mut kinds = Vec::new();
    classify_into(name, value, 0, &mut kinds);
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Whether a plaintext value named `name` holds a secret: `classify` found
/// at least one kind. Every caller (CodeBuild environment variables,
/// CodePipeline action configuration) makes the decision through this one
/// function.
pub fn is_secret(name: &str, value: &str) -> bool {
    !classify(name, value).is_empty()
}

/// How deep JSON, `key=value` lists and base64 text are looked into.
const MAX_DEPTH: u8 = 3;

fn classify_into(name: &str, value: &str, depth: u8, out: &mut Vec<SecretKind>) {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if v.is_empty() {
        return;
    }
    scan_text(v, out);
    if depth < MAX_DEPTH {
        if let Some(json) = json_container(v) {
            classify_json(name, &json, depth + 1, out);
            return;
        }
        if let Some(text) = base64_text(v) {
            classify_into(name, &text, depth + 1, out);
            return;
        }
        for (key, inner) in assignments(v) {
            classify_into(key, inner, depth + 1, out);
        }
    }
    let aws_key = looks_like_secret_access_key(v);
    if aws_key {
        out.push(SecretKind::AwsSecretAccessKey);
    } else if is_structural(v) {
        return;
    }
    let name = NameInfo::of(name);
    if name.secret_like && (aws_key || is_real_value(v)) {
        out.push(SecretKind::SecretLikeName);
    }
    if !aws_key && !name.identifier && looks_like_token(v) {
        out.push(SecretKind::HighEntropyToken);
    }
}

// ---------------------------------------------------------------------------
// Shapes that are secrets wherever they appear.

fn scan_text(v: &str, out: &mut Vec<SecretKind>) {
    if contains_access_key_id(v) {
        out.push(SecretKind::AwsAccessKeyId);
    }
    if v.contains("PRIVATE KEY-----")
        || v.contains("PRIVATE KEY BLOCK-----")
        || v.contains("PuTTY-User-Key-File-")
    {
        out.push(SecretKind::PrivateKey);
    }
    if contains_known_token(v) {
        out.push(SecretKind::KnownTokenPrefix);
    }
    if contains_jwt(v) {
        out.push(SecretKind::Jwt);
    }
    if contains_url_credentials(v) {
        out.push(SecretKind::CredentialsInUrl);
    }
}

/// Prefixes of AWS access key ids. Unique ids of users, roles, groups and
/// policies (AIDA, AROA, AGPA, ANPA, ...) have the same shape but are
/// identifiers, not credentials.
const ACCESS_KEY_PREFIXES: &[&str] = &["AKIA", "ASIA", "ABIA", "ACCA"];

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

/// Documented token prefixes and the least length of what follows them.
const TOKEN_PREFIXES: &[(&str, usize)] = &[
    // GitHub
    ("ghp_", 30),
    ("gho_", 30),
    ("ghu_", 30),
    ("ghs_", 30),
    ("ghr_", 30),
    ("github_pat_", 40),
    // GitLab
    ("glpat-", 20),
    ("gldt-", 20),
    ("glrt-", 20),
    ("glptt-", 20),
    ("glsoat-", 20),
    // Slack
    ("xoxb-", 20),
    ("xoxp-", 20),
    ("xoxa-", 20),
    ("xoxr-", 20),
    ("xoxs-", 20),
    ("xoxe-", 20),
    ("xapp-", 20),
    // Stripe (secret, restricted and webhook signing keys; pk_ keys are public)
    ("sk_live_", 16),
    ("rk_live_", 16),
    ("sk_test_", 16),
    ("rk_test_", 16),
    ("whsec_", 24),
    // Package registries
    ("npm_", 30),
    ("pypi-AgEIcHlwaS5vcmc", 30),
    ("rubygems_", 40),
    ("dckr_pat_", 20),
    // Cloud and SaaS
    ("AIza", 30),
    ("ya29.", 30),
    ("SG.", 40),
    ("sk-ant-", 30),
    ("sk-proj-", 30),
    ("sk-", 40),
    ("hf_", 30),
    ("dop_v1_", 40),
    ("doo_v1_", 40),
    ("shpat_", 32),
    ("shpss_", 32),
    ("shpca_", 32),
    ("hvs.", 20),
    ("hvb.", 20),
    ("glsa_", 30),
    ("dapi", 32),
    ("xkeysib-", 40),
    ("sntrys_", 30),
    ("lin_api_", 30),
    ("CFPAT-", 30),
    ("pscale_pw_", 30),
    ("pscale_tkn_", 30),
    ("sq0csp-", 30),
    ("sq0atp-", 20),
];

fn is_token_body_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

fn contains_known_token(v: &str) -> bool {
    TOKEN_PREFIXES
        .iter()
        .any(|(prefix, min)| known_token_at(v, prefix, *min))
}

fn known_token_at(v: &str, prefix: &str, min: usize) -> bool {
    let bytes = v.as_bytes();
    v.match_indices(prefix).any(|(i, _)| {
        if i > 0 && bytes[i - 1].is_ascii_alphanumeric() {
            return false;
        }
        let body: Vec<u8> = bytes[i + prefix.len()..]
            .iter()
            .copied()
            .take_while(|b| is_token_body_char(*b))
            .collect();
        // Bodies are random: they mix character classes and switch between
        // them, unlike words that happen to follow a short prefix.
        body.len() >= min && char_classes(&body) >= 2 && class_change_ratio(&body) >= 0.12
    })
}

/// How many of lowercase, uppercase and digits occur.
fn char_classes(s: &[u8]) -> usize {
    usize::from(s.iter().any(u8::is_ascii_lowercase))
        + usize::from(s.iter().any(u8::is_ascii_uppercase))
        + usize::from(s.iter().any(u8::is_ascii_digit))
}

/// A JWS or JWE compact serialization: a base64url JSON header naming an
/// algorithm, then at least two more dot-separated parts.
fn contains_jwt(v: &str) -> bool {
    let bytes = v.as_bytes();
    v.match_indices("eyJ").any(|(i, _)| {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-') {
            return false;
        }
        let run: String = v[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            .collect();
        let parts: Vec<&str> = run.split('.').collect();
        if parts.len() < 3 || parts[0].len() < 10 {
            return false;
        }
        base64_decode(parts[0])
            .and_then(|h| String::from_utf8(h).ok())
            .is_some_and(|h| h.trim_start().starts_with('{') && h.contains("\"alg\""))
    })
}

/// A URL in the text with a password or token in its user info, a secret
/// query parameter, or a webhook host whose path is the secret.
fn contains_url_credentials(v: &str) -> bool {
    v.match_indices("://").any(|(i, _)| {
        let rest = &v[i + 3..];
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(rest.len());
        url_has_credentials(&rest[..end])
    }) || v
        .split(|c: char| c.is_whitespace() || matches!(c, '"' | '\''))
        .any(|w| is_webhook(w, ""))
}

/// `rest` is what follows `scheme://`.
fn url_has_credentials(rest: &str) -> bool {
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    if let Some(at) = authority.rfind('@') {
        let userinfo = &authority[..at];
        match userinfo.split_once(':') {
            Some((_, password)) => {
                if !password.is_empty() && !is_reference(password) && !is_placeholder(password) {
                    return true;
                }
            }
            None => {
                // A token alone as the user name (https://TOKEN@host/...).
                // Hex-only user names are public keys (Sentry DSNs).
                let u = userinfo.as_bytes();
                if contains_known_token(userinfo)
                    || (u.len() >= 20 && !u.iter().all(u8::is_ascii_hexdigit) && looks_random(u))
                {
                    return true;
                }
            }
        }
    }
    let after = &rest[auth_end..];
    if is_webhook(authority, after) {
        return true;
    }
    if let Some(q) = after.find('?') {
        let query = &after[q + 1..];
        let query = &query[..query.find('#').unwrap_or(query.len())];
        for pair in query.split('&') {
            if let Some((k, val)) = pair.split_once('=') {
                let lower = k.to_ascii_lowercase();
                let signature = matches!(lower.as_str(), "sig" | "signature" | "x-amz-signature");
                if (signature && !val.is_empty())
                    || (NameInfo::of(k).secret_like && is_real_value(val))
                {
                    return true;
                }
            }
        }
    }
    false
}

/// Incoming-webhook URLs carry their credential in the path. `host` may be
/// a whole scheme-less reference when `path` is empty.
fn is_webhook(host: &str, path: &str) -> bool {
    let (host, path) = if path.is_empty() {
        match host.find('/') {
            Some(i) => (&host[..i], &host[i..]),
            None => (host, ""),
        }
    } else {
        (host, path)
    };
    let host = host.to_ascii_lowercase();
    let long_path = path.len() > 20;
    long_path
        && ((host == "hooks.slack.com"
            && ["/services/", "/workflows/", "/triggers/"]
                .iter()
                .any(|p| path.starts_with(p)))
            || ((host == "discord.com" || host == "discordapp.com")
                && path.starts_with("/api/webhooks/"))
            || host.ends_with(".webhook.office.com")
            || (host == "outlook.office.com" && path.starts_with("/webhook/")))
}

// ---------------------------------------------------------------------------
// Values looked into.

fn json_container(v: &str) -> Option<serde_json::Value> {
    if !(v.starts_with('{') || v.starts_with('[')) {
        return None;
    }
    serde_json::from_str::<serde_json::Value>(v)
        .ok()
        .filter(|j| j.is_object() || j.is_array())
}

/// Each string (or scalar) in a JSON document is judged under its key. An
/// object with `name` and `value` members (CodeBuild's `EnvironmentVariables`
/// action configuration) is judged as that variable unless its `type` says
/// the value is a reference.
fn classify_json(name: &str, json: &serde_json::Value, depth: u8, out: &mut Vec<SecretKind>) {
    use serde_json::Value;
    match json {
        Value::Object(map) => {
            let get = |k: &str| {
                map.iter()
                    .find(|(key, _)| key.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            };
            if let (Some(Value::String(n)), Some(Value::String(v))) = (get("name"), get("value")) {
                let plaintext = match get("type") {
                    Some(Value::String(t)) => t.eq_ignore_ascii_case("PLAINTEXT"),
                    _ => true,
                };
                if plaintext {
                    classify_into(n, v, depth, out);
                }
                return;
            }
            for (k, v) in map {
                classify_json(k, v, depth, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                classify_json(name, item, depth, out);
            }
        }
        Value::String(s) => classify_into(name, s, depth, out),
        Value::Number(_) | Value::Bool(_) | Value::Null => {}
    }
}

/// `key=value` pairs separated by white space, `;`, `&`, `?` or `,`
/// (connection strings, `--build-arg` lists, query strings, .npmrc lines).
/// The key is the identifier just before `=`.
fn assignments(v: &str) -> Vec<(&str, &str)> {
    v.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '?' | ','))
        .filter_map(|piece| {
            let (k, val) = piece.split_once('=')?;
            let start = k
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
                .map_or(0, |i| i + 1);
            let key = &k[start..];
            let val = val.trim_matches(|c| c == '"' || c == '\'');
            (key.bytes().any(|b| b.is_ascii_alphabetic())
                && !val.is_empty()
                && !val.starts_with('='))
            .then_some((key, val))
        })
        .collect()
}

/// The text a base64 value decodes to, when it is printable text
/// (public configuration or certificates, or a secret to look into).
fn base64_text(v: &str) -> Option<String> {
    if v.len() < 12 || v.contains(char::is_whitespace) {
        return None;
    }
    let bytes = base64_decode(v)?;
    if bytes.len() < 8 {
        return None;
    }
    let text = String::from_utf8(bytes).ok()?;
    text.chars()
        .all(|c| c.is_ascii_graphic() || matches!(c, ' ' | '\n' | '\r' | '\t'))
        .then_some(text)
}

/// Decodes standard or URL-safe base64, padded or not.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in s.bytes() {
        let d = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(d);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// Names.

/// What a variable name says.
struct NameInfo {
    /// It names a secret (and not a reference to one or a setting about one).
    secret_like: bool,
    /// It names an identifier or a digest.
    identifier: bool,
}

/// Words that name a secret.
const SECRET_WORDS: &[&str] = &[
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
const KEY_QUALIFIERS: &[&str] = &[
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
const REFERENCE_WORDS: &[&str] = &[
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
const IDENTIFIER_WORDS: &[&str] = &[
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
    fn of(name: &str) -> NameInfo {
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

fn is_secret_word(w: &str) -> bool {
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
fn name_words(name: &str) -> Vec<String> {
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

// ---------------------------------------------------------------------------
// Values that are not secrets.

/// A value that a secret-like name may hold without being a secret.
fn is_real_value(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty() && !is_structural(v) && !is_reference(v) && !is_placeholder(v) && !is_setting(v)
}

/// ARNs, URLs, paths, host names, versions, generated names and AWS ids.
/// Credentials embedded in such values are found by [`scan_text`].
fn is_structural(v: &str) -> bool {
    if v.contains(char::is_whitespace) {
        return false;
    }
    is_arn(v)
        || is_url(v)
        || is_git_remote_or_email(v)
        || is_host_reference(v)
        || is_path(v)
        || is_version(v)
        || is_cfn_generated_name(v)
        || is_aws_resource_id(v)
        || (v.contains(',') && v.split(',').all(|p| !p.is_empty() && is_structural(p)))
}

fn is_arn(v: &str) -> bool {
    v.starts_with("arn:") && v.splitn(6, ':').count() == 6
}

fn is_url(v: &str) -> bool {
    v.find("://").is_some_and(|i| {
        let scheme = &v[..i];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-' | ':'))
    })
}

/// `git@github.com:org/repo.git` or `team@example.com`.
fn is_git_remote_or_email(v: &str) -> bool {
    let Some((user, rest)) = v.split_once('@') else {
        return false;
    };
    let host = rest.split_once(':').map_or(rest, |(h, _)| h);
    !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '%'))
        && is_hostname(host)
}

/// A host name, optionally with a port, an image path, tag or digest:
/// `123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag`, `db.internal:5432`.
fn is_host_reference(v: &str) -> bool {
    let head = v.split('/').next().unwrap_or(v);
    let host = match head.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => head,
    };
    is_hostname(host) && !is_webhook(v, "")
}

const TLDS: &[&str] = &[
    "com",
    "net",
    "org",
    "io",
    "dev",
    "app",
    "cloud",
    "internal",
    "local",
    "lan",
    "corp",
    "aws",
    "biz",
    "info",
    "tech",
    "ai",
    "co",
    "edu",
    "gov",
    "mil",
    "int",
    "arpa",
    "test",
    "example",
    "localhost",
    "site",
    "online",
    "xyz",
    "run",
    "sh",
];

fn is_hostname(h: &str) -> bool {
    let labels: Vec<&str> = h.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld = labels[labels.len() - 1].to_ascii_lowercase();
    labels.iter().all(label_ok)
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && (tld.len() == 2 || TLDS.contains(&tld.as_str()))
}

/// Absolute or relative paths, SSM parameter names, S3 keys, KMS aliases,
/// git refs: `/`-separated segments none of which is a random token.
fn is_path(v: &str) -> bool {
    let anchored = ["/", "./", "../", "~/"].iter().any(|p| v.starts_with(p));
    if !anchored && !v.contains('/') {
        return false;
    }
    let segments: Vec<&str> = v.split('/').filter(|s| !s.is_empty()).collect();
    // Ids and digests may be segments; the words around them must not be
    // random (base64 has `/` too).
    let words: Vec<u8> = segments
        .iter()
        .filter(|s| !is_hex_like(s))
        .flat_map(|s| s.bytes())
        .collect();
    (anchored || segments.len() >= 2)
        && segments.iter().all(|s| is_name_like_segment(s))
        && !looks_random(&words)
}

/// A path segment made of names: short, hex (ids, digests), one case, or
/// camel case with word-long lower-case runs; not a slice of base64.
fn is_name_like_segment(s: &str) -> bool {
    let alnum: Vec<u8> = s.bytes().filter(u8::is_ascii_alphanumeric).collect();
    let mixed_case =
        alnum.iter().any(u8::is_ascii_uppercase) && alnum.iter().any(u8::is_ascii_lowercase);
    !s.contains('+')
        && (alnum.len() < 8
            || is_hex_like(s)
            || !mixed_case
            || (mean_lower_run(&alnum) >= 2.5 && vowel_ratio(&alnum) >= 0.28))
        && (!looks_random(s.as_bytes()) || is_hex_like(s))
}

fn is_hex_like(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'.')
}

/// `1.4.2`, `v2.10.0-rc.1+build.5`, `2024.11.28`.
fn is_version(v: &str) -> bool {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let core_end = v.find(['-', '+', '~']).unwrap_or(v.len());
    let core = &v[..core_end];
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && v[core_end..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '~'))
}

/// Physical names CloudFormation generates: `<stack>-<LogicalId>-<suffix>`
/// with a 12 or 13 character alphanumeric suffix
/// (`my-stack-Topic-1A2B3C4D5E6F`).
fn is_cfn_generated_name(v: &str) -> bool {
    let segments: Vec<&str> = v.split('-').collect();
    let Some((suffix, rest)) = segments.split_last() else {
        return false;
    };
    !rest.is_empty()
        && !is_uuid(v)
        && (12..=13).contains(&suffix.len())
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
        && suffix.bytes().any(|b| b.is_ascii_digit())
        && suffix.bytes().any(|b| b.is_ascii_alphabetic())
        && rest.iter().all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        })
        && !looks_random(rest.concat().as_bytes())
}

/// `subnet-0a1b2c3d4e5f67890`, `sg-0123456789abcdef0`, `ami-...`.
fn is_aws_resource_id(v: &str) -> bool {
    v.rsplit_once('-').is_some_and(|(kind, id)| {
        !kind.is_empty()
            && kind.len() <= 12
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && (8..=17).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_uuid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8usize, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A reference resolved elsewhere: CloudFormation dynamic references, shell
/// and CodePipeline variables, template placeholders.
fn is_reference(v: &str) -> bool {
    if ["{{", "${", "$(", "#{", "%{", "%("]
        .iter()
        .any(|p| v.starts_with(p))
        || v.contains("{{resolve:")
    {
        return true;
    }
    v.strip_prefix('$').is_some_and(|name| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Masked or placeholder values that cannot be a working credential.
fn is_placeholder(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let masked = v.chars().count() >= 3
        && v.chars()
            .all(|c| matches!(c, '*' | 'x' | 'X' | '#' | '•' | '.' | '-' | '_'));
    masked
        || (v.starts_with('<') && v.ends_with('>'))
        || lower.starts_with("your_")
        || lower.starts_with("your-")
        || [
            "none",
            "null",
            "nil",
            "undefined",
            "n/a",
            "na",
            "-",
            "todo",
            "tbd",
            "placeholder",
            "replace_me",
            "replaceme",
            "redacted",
            "masked",
            "dummy",
            "unset",
        ]
        .contains(&lower.as_str())
}

/// Booleans, small numbers and durations: settings, not secrets.
fn is_setting(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    if [
        "true", "false", "yes", "no", "on", "off", "enabled", "disabled", "enable", "disable",
    ]
    .contains(&lower.as_str())
    {
        return true;
    }
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    digits_end > 0
        && digits_end <= 5
        && ["", "s", "ms", "m", "h", "d", "w"].contains(&&lower[digits_end..])
}

// ---------------------------------------------------------------------------
// Randomness.

fn looks_like_secret_access_key(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 40
        && b.iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'/' || *b == b'+')
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_uppercase)
        && shannon_entropy(v) > 3.5
        && (looks_random(b) || switches_case_often(b))
}

/// The exact 40-character shape of a secret access key needs less proof
/// of randomness: case switches often and lower-case runs are short, as in
/// AWS's own documentation example key, unlike camel-case names.
fn switches_case_often(b: &[u8]) -> bool {
    let alnum: Vec<u8> = b
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    class_change_ratio(&alnum) >= 0.3 && mean_lower_run(&alnum) < 2.5
}

/// Documented prefixes of keys that are public by design (Stripe
/// publishable keys).
const PUBLIC_TOKEN_PREFIXES: &[&str] = &["pk_live_", "pk_test_"];

/// A single long token of base64, base64url or hex characters that looks
/// random (and is not a UUID, a path, a generated name or a public key).
fn looks_like_token(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() >= 20
        && !PUBLIC_TOKEN_PREFIXES.iter().any(|p| v.starts_with(p))
        && b.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'))
        && !is_uuid(v)
        && !is_structural(v)
        && looks_random(b)
}

/// Whether a string of letters and digits (separators ignored) looks
/// random rather than made of words and numbers.
fn looks_random(s: &[u8]) -> bool {
    let all: Vec<u8> = s
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    if all.len() < 16 {
        return false;
    }
    let hex = all.iter().all(u8::is_ascii_hexdigit)
        && !(all.iter().any(u8::is_ascii_lowercase) && all.iter().any(u8::is_ascii_uppercase));
    if hex {
        let digits = all.iter().filter(|b| b.is_ascii_digit()).count();
        return all.len() >= 32 && digits > 0 && digits < all.len() && entropy_bytes(&all) >= 3.0;
    }
    // A CDK logical id ends in an 8-digit upper-case hex hash
    // (`BuildProjectRole6E8C4F1A`): judge the words before it.
    let alnum = strip_cdk_hash(&all);
    let n = alnum.len();
    let letters = alnum.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if n < 16 || (n < 20 && letters == n) {
        return false;
    }
    let vowel_ratio = vowel_ratio(alnum);
    let distinct = {
        let mut seen = [false; 256];
        alnum.iter().for_each(|b| seen[usize::from(*b)] = true);
        seen.iter().filter(|s| **s).count()
    };
    // Words bring vowels, and digits come in numbers or suffixes: random
    // text has few vowels and switches often between letters and digits.
    let letter_digit = letter_digit_change_ratio(alnum);
    let mixed_digits =
        (vowel_ratio < 0.35 && letter_digit >= 0.2) || (vowel_ratio < 0.45 && letter_digit >= 0.3);
    // Camel case switches case too, but at the start of a word followed by
    // a run of lower case; random text has short lower-case runs.
    let mixed_case = vowel_ratio < 0.45
        && class_change_ratio(alnum) >= 0.4
        && (mean_lower_run(alnum) < 2.5 || vowel_ratio < 0.25);
    (mixed_digits || mixed_case) && distinct as f64 >= (n as f64).min(40.0) * 0.45
}

fn strip_cdk_hash(alnum: &[u8]) -> &[u8] {
    let n = alnum.len();
    if n > 8
        && alnum[n - 8..]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
        && alnum[n - 9].is_ascii_lowercase()
    {
        &alnum[..n - 8]
    } else {
        alnum
    }
}

/// The share of vowels among letters.
fn vowel_ratio(alnum: &[u8]) -> f64 {
    let letters = alnum.iter().filter(|b| b.is_ascii_alphabetic()).count();
    let vowels = alnum
        .iter()
        .filter(|b| matches!(b.to_ascii_lowercase(), b'a' | b'e' | b'i' | b'o' | b'u'))
        .count();
    if letters == 0 {
        0.0
    } else {
        vowels as f64 / letters as f64
    }
}

/// The mean length of runs of lower-case letters.
fn mean_lower_run(alnum: &[u8]) -> f64 {
    let runs = alnum
        .split(|b| !b.is_ascii_lowercase())
        .filter(|r| !r.is_empty())
        .map(<[u8]>::len)
        .collect::<Vec<_>>();
    if runs.is_empty() {
        return 0.0;
    }
    runs.iter().sum::<usize>() as f64 / runs.len() as f64
}

/// How often consecutive letters and digits change between lower case,
/// upper case and digit (other characters are skipped).
fn class_change_ratio(s: &[u8]) -> f64 {
    let class = |b: u8| {
        if b.is_ascii_digit() {
            0
        } else if b.is_ascii_uppercase() {
            1
        } else {
            2
        }
    };
    let alnum: Vec<u8> = s
        .iter()
        .copied()
        .filter(u8::is_ascii_alphanumeric)
        .collect();
    if alnum.len() < 2 {
        return 0.0;
    }
    let changes = alnum
        .windows(2)
        .filter(|w| class(w[0]) != class(w[1]))
        .count();
    changes as f64 / (alnum.len() - 1) as f64
}

/// How often consecutive characters change between letter and digit.
fn letter_digit_change_ratio(alnum: &[u8]) -> f64 {
    if alnum.len() < 2 {
        return 0.0;
    }
    let changes = alnum
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .count();
    changes as f64 / (alnum.len() - 1) as f64
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    entropy_bytes(s.as_bytes())
}

fn entropy_bytes(s: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s {
        counts[usize::from(*b)] += 1;
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
}
