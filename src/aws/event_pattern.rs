//! EventBridge event pattern matching, by the documented semantics: exact
//! values, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`,
//! `anything-but` (values, prefix, suffix), `numeric`, `exists`, nested
//! objects, array-valued event fields, and `$or`.

use serde_json::{Map, Value};

/// Why a pattern could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event pattern {path}: {message}")]
pub struct PatternError {
    /// Where in the pattern, e.g. `detail.referenceName[0]`.
    pub path: String,
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> PatternError {
    PatternError {
        path: if path.is_empty() {
            "(top level)".to_string()
        } else {
            path.to_string()
        },
        message: message.into(),
    }
}

/// Deepest nesting evaluated; deeper patterns are reported, not recursed into.
const MAX_DEPTH: usize = 64;

/// True when `event` matches `pattern`.
pub fn matches(pattern: &Value, event: &Value) -> Result<bool, PatternError> {
    match pattern {
        Value::Object(p) => match_object(p, event, "", 0),
        _ => Err(err("", "a pattern must be a JSON object")),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn match_object(
    p: &Map<String, Value>,
    event: &Value,
    path: &str,
    depth: usize,
) -> Result<bool, PatternError> {
    if depth > MAX_DEPTH {
        return Err(err(path, format!("nested deeper than {MAX_DEPTH} levels")));
    }
    // Evaluate every field (so that malformed parts are reported even when
    // an earlier field already fails), then combine.
    let mut all = true;
    for (key, sub) in p {
        let here = join(path, key);
        let ok = if key == "$or" {
            let Value::Array(alternatives) = sub else {
                return Err(err(&here, "$or takes an array of patterns"));
            };
            if alternatives.is_empty() {
                return Err(err(&here, "$or needs at least one pattern"));
            }
            let mut any = false;
            for (i, alt) in alternatives.iter().enumerate() {
                let Value::Object(alt) = alt else {
                    return Err(err(
                        &format!("{here}[{i}]"),
                        "each $or alternative must be an object",
                    ));
                };
                any |= match_object(alt, event, path, depth + 1)?;
            }
            any
        } else {
            let field = event.get(key);
            match sub {
                Value::Object(nested) => match field {
                    Some(v @ Value::Object(_)) => match_object(nested, v, &here, depth + 1)?,
                    // An array of objects (CloudTrail's `detail.resources`):
                    // the nested pattern matches when one of them does.
                    Some(Value::Array(items)) if items.iter().any(Value::is_object) => {
                        let mut any = false;
                        for item in items.iter().filter(|i| i.is_object()) {
                            any |= match_object(nested, item, &here, depth + 1)?;
                        }
                        any
                    }
                    // A nested pattern whose only matchers are `exists: false`
                    // matches when the object is absent.
                    None => match_object(nested, &Value::Object(Map::new()), &here, depth + 1)?,
                    Some(_) => {
                        match_object(nested, &Value::Object(Map::new()), &here, depth + 1)?;
                        false
                    }
                },
                Value::Array(matchers) => match_leaf(matchers, field, &here)?,
                _ => {
                    return Err(err(
                        &here,
                        "a pattern value must be an array of matchers or an object",
                    ));
                }
            }
        };
        all &= ok;
    }
    Ok(all)
}

/// A leaf: the field matches if any matcher matches it (or any of its
/// elements, when the event field is an array).
fn match_leaf(matchers: &[Value], field: Option<&Value>, path: &str) -> Result<bool, PatternError> {
    if matchers.is_empty() {
        return Err(err(
            path,
            "an empty matcher list matches nothing and is rejected by EventBridge",
        ));
    }
    let values: Vec<&Value> = match field {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
    };
    let mut any = false;
    for (i, m) in matchers.iter().enumerate() {
        let here = format!("{path}[{i}]");
        let ok = match m {
            Value::Object(op) => match_operator(op, field, &values, &here)?,
            Value::Array(_) => return Err(err(&here, "nested arrays are not matchers")),
            literal => values
                .iter()
                .any(|v| *v == literal || numbers_equal(literal, v)),
        };
        any |= ok;
    }
    Ok(any)
}

fn numbers_equal(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => a.is_number() && b.is_number() && x == y,
        _ => false,
    }
}

fn match_operator(
    op: &Map<String, Value>,
    field: Option<&Value>,
    values: &[&Value],
    path: &str,
) -> Result<bool, PatternError> {
    if op.len() != 1 {
        return Err(err(path, "a matcher object must have exactly one operator"));
    }
    let Some((name, arg)) = op.iter().next() else {
        return Err(err(path, "empty matcher object"));
    };
    let strings = || values.iter().filter_map(|v| v.as_str());
    match name.as_str() {
        "exists" => match arg {
            Value::Bool(want) => Ok(field.is_some() == *want),
            _ => Err(err(path, "exists takes true or false")),
        },
        "prefix" => {
            let (needle, ci) = string_arg(arg, path, "prefix")?;
            Ok(strings().any(|s| starts_with(s, &needle, ci)))
        }
        "suffix" => {
            let (needle, ci) = string_arg(arg, path, "suffix")?;
            Ok(strings().any(|s| ends_with(s, &needle, ci)))
        }
        "equals-ignore-case" => {
            let needle = arg
                .as_str()
                .ok_or_else(|| err(path, "equals-ignore-case takes a string"))?;
            Ok(strings().any(|s| s.to_lowercase() == needle.to_lowercase()))
        }
        "wildcard" => {
            let glob = arg
                .as_str()
                .ok_or_else(|| err(path, "wildcard takes a string"))?;
            Ok(strings().any(|s| wildcard(glob, s)))
        }
        "anything-but" => {
            if values.is_empty() {
                return Ok(false);
            }
            let excluded = |v: &Value| -> Result<bool, PatternError> {
                match arg {
                    Value::Array(list) => Ok(list.iter().any(|x| x == v || numbers_equal(x, v))),
                    Value::Object(inner) => {
                        let one: Vec<&Value> = vec![v];
                        match_operator(inner, Some(v), &one, &format!("{path}.anything-but"))
                    }
                    scalar => Ok(scalar == v || numbers_equal(scalar, v)),
                }
            };
            for v in values {
                if !excluded(v)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        "numeric" => {
            let Value::Array(parts) = arg else {
                return Err(err(
                    path,
                    "numeric takes an array like [\">\", 0, \"<=\", 5]",
                ));
            };
            if parts.is_empty() || parts.len() % 2 != 0 || parts.len() > 4 {
                return Err(err(path, "numeric takes one or two operator/number pairs"));
            }
            let mut checks: Vec<(&str, f64)> = Vec::new();
            for pair in parts.chunks(2) {
                let op = pair[0]
                    .as_str()
                    .ok_or_else(|| err(path, "numeric operator must be a string"))?;
                let n = pair[1]
                    .as_f64()
                    .ok_or_else(|| err(path, "numeric bound must be a number"))?;
                if !matches!(op, "<" | "<=" | "=" | ">" | ">=") {
                    return Err(err(path, format!("unknown numeric operator {op:?}")));
                }
                checks.push((op, n));
            }
            Ok(values.iter().filter_map(|v| v.as_f64()).any(|x| {
                checks.iter().all(|(op, n)| match *op {
                    "<" => x < *n,
                    "<=" => x <= *n,
                    "=" => x == *n,
                    ">" => x > *n,
                    _ => x >= *n,
                })
            }))
        }
        "cidr" => Err(err(path, "cidr matchers are not evaluated by pipeaudit")),
        other => Err(err(path, format!("unknown matcher {other:?}"))),
    }
}

/// A prefix/suffix argument: a string, or `{"equals-ignore-case": "x"}`.
fn string_arg(arg: &Value, path: &str, name: &str) -> Result<(String, bool), PatternError> {
    match arg {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(o) => match o.get("equals-ignore-case").and_then(Value::as_str) {
            Some(s) if o.len() == 1 => Ok((s.to_string(), true)),
            _ => Err(err(
                path,
                format!("{name} takes a string or {{\"equals-ignore-case\": string}}"),
            )),
        },
        _ => Err(err(path, format!("{name} takes a string"))),
    }
}

fn starts_with(s: &str, p: &str, ci: bool) -> bool {
    if ci {
        s.to_lowercase().starts_with(&p.to_lowercase())
    } else {
        s.starts_with(p)
    }
}

fn ends_with(s: &str, p: &str, ci: bool) -> bool {
    if ci {
        s.to_lowercase().ends_with(&p.to_lowercase())
    } else {
        s.ends_with(p)
    }
}

/// `*` matches any run of characters (iterative, no backtracking blow-up).
fn wildcard(glob: &str, s: &str) -> bool {
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut gi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && g[gi] == '*' {
            star = Some((gi, ti));
            gi += 1;
        } else if gi < g.len() && g[gi] == t[ti] {
            gi += 1;
            ti += 1;
        } else if let Some((sg, st)) = star {
            gi = sg + 1;
            ti = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|c| *c == '*')
}

/// The event CodeCommit sends to the default bus when a commit is pushed to
/// an existing branch.
pub fn commit_event(repository_arn: &str, branch: &str) -> Value {
    let mut parts = repository_arn.split(':');
    let region = parts.nth(3).unwrap_or("");
    let account = parts.next().unwrap_or("");
    let name = repository_arn.rsplit(':').next().unwrap_or("");
    serde_json::json!({
        "version": "0",
        "source": "aws.codecommit",
        "detail-type": "CodeCommit Repository State Change",
        "account": account,
        "region": region,
        "resources": [repository_arn],
        "detail": {
            "event": "referenceUpdated",
            "repositoryName": name,
            "referenceType": "branch",
            "referenceName": branch,
            "referenceFullName": format!("refs/heads/{branch}"),
            "commitId": "0000000000000000000000000000000000000000",
            "oldCommitId": "1111111111111111111111111111111111111111"
        }
    })
}

/// The S3 operations that write an object: an S3 source starts from a new
/// version of its object written by any of them.
pub const S3_UPLOADS: [&str; 3] = ["PutObject", "CompleteMultipartUpload", "CopyObject"];

/// The partition, account and region fields of an ARN.
fn arn_fields(arn: &str) -> (&str, &str, &str) {
    let mut parts = arn.split(':');
    let partition = parts.nth(1).unwrap_or("aws");
    let region = parts.nth(1).unwrap_or("");
    let account = parts.next().unwrap_or("");
    (partition, account, region)
}

/// The `Object Created` event S3 sends to the default bus (when the bucket
/// has EventBridge notifications on) for an object written by `operation`,
/// as seen by a rule at `rule_arn` (its account and region).
pub fn object_created_event(rule_arn: &str, bucket: &str, key: &str, operation: &str) -> Value {
    let (partition, account, region) = arn_fields(rule_arn);
    serde_json::json!({
        "version": "0",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "account": account,
        "region": region,
        "resources": [format!("arn:{partition}:s3:::{bucket}")],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 1024,
                "etag": "d41d8cd98f00b204e9800998ecf8427e",
                "version-id": "0000000000000000000000000000000a",
                "sequencer": "0000000000000000000000000000000000"
            },
            "request-id": "0000000000000000",
            "requester": account,
            "source-ip-address": "192.0.2.1",
            "reason": operation
        }
    })
}

/// The `AWS API Call via CloudTrail` event of `operation` writing the
/// object (delivered only when a trail logs the bucket's data events), as
/// seen by a rule at `rule_arn`.
pub fn cloudtrail_upload_event(rule_arn: &str, bucket: &str, key: &str, operation: &str) -> Value {
    let (partition, account, region) = arn_fields(rule_arn);
    serde_json::json!({
        "version": "0",
        "source": "aws.s3",
        "detail-type": "AWS API Call via CloudTrail",
        "account": account,
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "eventSource": "s3.amazonaws.com",
            "eventName": operation,
            "awsRegion": region,
            "eventCategory": "Data",
            "readOnly": false,
            "requestParameters": {
                "bucketName": bucket,
                "key": key,
                "Host": format!("{bucket}.s3.{region}.amazonaws.com")
            },
            "resources": [
                {"type": "AWS::S3::Object", "ARN": format!("arn:{partition}:s3:::{bucket}/{key}")},
                {"accountId": account, "type": "AWS::S3::Bucket", "ARN": format!("arn:{partition}:s3:::{bucket}")}
            ]
        }
    })
}

#[cfg(test)]
mod tests;
