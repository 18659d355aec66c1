//! Shapes that are secrets wherever they appear in a value, whatever its name.

use super::*;

pub(super) fn scan_text(v: &str, out: &mut Vec<SecretKind>) {
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
pub(super) const ACCESS_KEY_PREFIXES: &[&str] = &["AKIA", "ASIA", "ABIA", "ACCA"];

pub(super) fn contains_access_key_id(v: &str) -> bool {
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
pub(super) const TOKEN_PREFIXES: &[(&str, usize)] = &[
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

pub(super) fn is_token_body_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

pub(super) fn contains_known_token(v: &str) -> bool {
    TOKEN_PREFIXES
        .iter()
        .any(|(prefix, min)| known_token_at(v, prefix, *min))
}

pub(super) fn known_token_at(v: &str, prefix: &str, min: usize) -> bool {
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
pub(super) fn char_classes(s: &[u8]) -> usize {
    usize::from(s.iter().any(u8::is_ascii_lowercase))
        + usize::from(s.iter().any(u8::is_ascii_uppercase))
        + usize::from(s.iter().any(u8::is_ascii_digit))
}

/// A JWS or JWE compact serialization: a base64url JSON header naming an
/// algorithm, then at least two more dot-separated parts.
pub(super) fn contains_jwt(v: &str) -> bool {
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
pub(super) fn contains_url_credentials(v: &str) -> bool {
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
pub(super) fn url_has_credentials(rest: &str) -> bool {
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
pub(super) fn is_webhook(host: &str, path: &str) -> bool {
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
