//! Values that are structurally not secrets, whatever the name.

use super::*;

/// A value that a secret-like name may hold without being a secret.
pub(super) fn is_real_value(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty() && !is_structural(v) && !is_reference(v) && !is_placeholder(v) && !is_setting(v)
}

/// ARNs, URLs, paths, host names, versions, generated names and AWS ids.
/// Credentials embedded in such values are found by [`scan_text`].
pub(super) fn is_structural(v: &str) -> bool {
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

pub(super) fn is_arn(v: &str) -> bool {
    v.starts_with("arn:") && v.splitn(6, ':').count() == 6
}

pub(super) fn is_url(v: &str) -> bool {
    v.find("://").is_some_and(|i| {
        let scheme = &v[..i];
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-' | ':'))
    })
}

/// `git@github.com:org/repo.git` or `team@example.com`.
pub(super) fn is_git_remote_or_email(v: &str) -> bool {
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
pub(super) fn is_host_reference(v: &str) -> bool {
    let head = v.split('/').next().unwrap_or(v);
    let host = match head.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => head,
    };
    is_hostname(host) && !is_webhook(v, "")
}

pub(super) const TLDS: &[&str] = &[
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

pub(super) fn is_hostname(h: &str) -> bool {
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
pub(super) fn is_path(v: &str) -> bool {
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
pub(super) fn is_name_like_segment(s: &str) -> bool {
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

pub(super) fn is_hex_like(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'.')
}

/// `1.4.2`, `v2.10.0-rc.1+build.5`, `2024.11.28`.
pub(super) fn is_version(v: &str) -> bool {
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
pub(super) fn is_cfn_generated_name(v: &str) -> bool {
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
pub(super) fn is_aws_resource_id(v: &str) -> bool {
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

pub(super) fn is_uuid(v: &str) -> bool {
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8usize, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A reference resolved elsewhere: CloudFormation dynamic references, shell
/// and CodePipeline variables, template placeholders.
pub(super) fn is_reference(v: &str) -> bool {
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
pub(super) fn is_placeholder(v: &str) -> bool {
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
pub(super) fn is_setting(v: &str) -> bool {
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
