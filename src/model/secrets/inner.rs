//! Values looked into: JSON documents, `key=value` lists and base64 text.

use super::*;

pub(super) fn json_container(v: &str) -> Option<serde_json::Value> {
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
pub(super) fn classify_json(
    name: &str,
    json: &serde_json::Value,
    depth: u8,
    out: &mut Vec<SecretKind>,
) {
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
pub(super) fn assignments(v: &str) -> Vec<(&str, &str)> {
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
pub(super) fn base64_text(v: &str) -> Option<String> {
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
pub(super) fn base64_decode(s: &str) -> Option<Vec<u8>> {
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
