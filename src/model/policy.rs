//! One normalized IAM policy type for every policy pipeaudit reads: bucket
//! policies, key policies, role trust policies and identity policies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub statements: Vec<Statement>,
}

/// One statement, with every string-or-list field held as a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principals>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_principal: Option<Principals>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_action: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_resource: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum Effect {
    Allow,
    Deny,
}

/// `"*"` (anyone) or principal type -> values (`AWS`, `Service`, `Federated`, `CanonicalUser`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Principals {
    Any,
    Typed(BTreeMap<String, Vec<String>>),
}

/// One operator/key pair of a Condition block.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Condition {
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

/// Why a policy text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("not valid JSON at line {line} column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the policy is not a JSON object")]
    NotObject,
    #[error("the policy has no Statement")]
    NoStatement,
    #[error("statement {index}: {source}")]
    Statement {
        index: usize,
        #[source]
        source: StatementError,
    },
    #[error("{0}")]
    Field(String),
}

/// Why one statement of a policy could not be read; `found` is the value
/// written, shown as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("a statement must be an object")]
    NotObject,
    #[error("Effect must be \"Allow\" or \"Deny\", found {found}")]
    Effect { found: Value },
    #[error("Effect is missing")]
    NoEffect,
    #[error("has both {0} and {1}")]
    Both(&'static str, &'static str),
    #[error("Sid must be a string, found {found}")]
    Sid { found: Value },
    #[error("{field} must hold strings, found {found}")]
    NotStrings { field: String, found: Value },
    #[error("{field} must be a string or a list of strings, found {found}")]
    NotList { field: String, found: Value },
    #[error("{field} must be \"*\" or an object, found {found}")]
    Principal { field: String, found: Value },
    #[error("Condition must be an object")]
    Condition,
    #[error("Condition.{operator} must be an object of keys")]
    ConditionKeys { operator: String },
    #[error("{at}: condition values must be strings, booleans or numbers, found {found}")]
    ConditionValue { at: String, found: Value },
}

/// The JSON text of a policy: IAM returns policies percent-encoded, the
/// other services return them plain. A leading BOM and whitespace are dropped.
pub fn decode_policy_text(text: &str) -> Result<String, PolicyError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.starts_with('{') {
        return Ok(trimmed.to_string());
    }
    urlencoding::decode(trimmed)
        .map(|d| d.trim().to_string())
        .map_err(|e| PolicyError::Field(format!("not JSON and not percent-encoded JSON: {e}")))
}

/// Parses a policy text (plain or percent-encoded JSON).
pub fn parse_policy(text: &str) -> Result<PolicyDocument, PolicyError> {
    let decoded = decode_policy_text(text)?;
    let json = decoded.as_str();
    let value: Value = serde_json::from_str(json).map_err(|e| PolicyError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let Value::Object(obj) = value else {
        return Err(PolicyError::NotObject);
    };
    let opt_string = |k: &str| -> Result<Option<String>, PolicyError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(PolicyError::Field(format!("{k} must be a string"))),
        }
    };
    let version = opt_string("Version")?;
    let id = opt_string("Id")?;
    let raw_statements: Vec<&Value> = match obj.get("Statement") {
        None => return Err(PolicyError::NoStatement),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(_) => {
            return Err(PolicyError::Field(
                "Statement must be an object or an array of objects".to_string(),
            ));
        }
    };
    let statements = raw_statements
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            parse_statement(s).map_err(|source| PolicyError::Statement {
                index: i + 1,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PolicyDocument {
        version,
        id,
        statements,
    })
}

fn string_list(v: &Value, field: &str) -> Result<Vec<String>, StatementError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(StatementError::NotStrings {
                    field: field.to_string(),
                    found: other.clone(),
                }),
            })
            .collect(),
        other => Err(StatementError::NotList {
            field: field.to_string(),
            found: other.clone(),
        }),
    }
}

fn scalar_string(v: &Value, ctx: &str) -> Result<String, StatementError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(StatementError::ConditionValue {
            at: ctx.to_string(),
            found: other.clone(),
        }),
    }
}

fn principals(v: &Value, field: &str) -> Result<Principals, StatementError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Any),
        Value::Object(map) => {
            let mut out = BTreeMap::new();
            for (kind, values) in map {
                out.insert(
                    kind.clone(),
                    string_list(values, &format!("{field}.{kind}"))?,
                );
            }
            Ok(Principals::Typed(out))
        }
        other => Err(StatementError::Principal {
            field: field.to_string(),
            found: other.clone(),
        }),
    }
}

fn parse_statement(v: &Value) -> Result<Statement, StatementError> {
    let Value::Object(s) = v else {
        return Err(StatementError::NotObject);
    };
    let effect = match s.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(StatementError::Effect {
                found: other.clone(),
            });
        }
        None => return Err(StatementError::NoEffect),
    };
    let both = |a: &'static str, b: &'static str| -> Result<(), StatementError> {
        if s.contains_key(a) && s.contains_key(b) {
            Err(StatementError::Both(a, b))
        } else {
            Ok(())
        }
    };
    both("Action", "NotAction")?;
    both("Resource", "NotResource")?;
    both("Principal", "NotPrincipal")?;
    let list = |k: &str| s.get(k).map(|v| string_list(v, k)).transpose();
    let sid = match s.get("Sid") {
        None | Some(Value::Null) => None,
        Some(Value::String(x)) => Some(x.clone()),
        Some(other) => {
            return Err(StatementError::Sid {
                found: other.clone(),
            });
        }
    };
    let mut conditions = Vec::new();
    match s.get("Condition") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ops)) => {
            for (op, keys) in ops {
                let Value::Object(keys) = keys else {
                    return Err(StatementError::ConditionKeys {
                        operator: op.clone(),
                    });
                };
                for (key, values) in keys {
                    let ctx = format!("Condition.{op}.{key}");
                    let values = match values {
                        Value::Array(items) => items
                            .iter()
                            .map(|i| scalar_string(i, &ctx))
                            .collect::<Result<Vec<_>, _>>()?,
                        scalar => vec![scalar_string(scalar, &ctx)?],
                    };
                    conditions.push(Condition {
                        operator: op.clone(),
                        key: key.clone(),
                        values,
                    });
                }
            }
        }
        Some(_) => return Err(StatementError::Condition),
    }
    Ok(Statement {
        sid,
        effect,
        principal: s
            .get("Principal")
            .map(|p| principals(p, "Principal"))
            .transpose()?,
        not_principal: s
            .get("NotPrincipal")
            .map(|p| principals(p, "NotPrincipal"))
            .transpose()?,
        action: list("Action")?,
        not_action: list("NotAction")?,
        resource: list("Resource")?,
        not_resource: list("NotResource")?,
        conditions,
    })
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

impl PolicyDocument {
    /// Parses a policy text; same as [`parse_policy`].
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        parse_policy(text)
    }

    /// The same policy in a canonical form: statement order, value order,
    /// duplicates and action case no longer matter. The statement ids are
    /// kept (they do not change meaning but help reading).
    pub fn normalized(&self) -> PolicyDocument {
        let norm_principals = |p: &Principals| match p {
            Principals::Any => Principals::Any,
            Principals::Typed(map) => {
                // {"AWS": "*"} means the same as "*".
                if map.len() == 1 && map.get("AWS").is_some_and(|v| v.iter().all(|x| x == "*")) {
                    Principals::Any
                } else {
                    Principals::Typed(
                        map.iter()
                            .map(|(k, v)| (k.clone(), sorted(v.clone())))
                            .collect(),
                    )
                }
            }
        };
        let lower = |v: &Vec<String>| sorted(v.iter().map(|a| a.to_ascii_lowercase()).collect());
        let mut statements: Vec<Statement> = self
            .statements
            .iter()
            .map(|s| {
                let mut conditions: Vec<Condition> = s
                    .conditions
                    .iter()
                    .map(|c| Condition {
                        operator: c.operator.clone(),
                        key: c.key.to_ascii_lowercase(),
                        values: sorted(c.values.clone()),
                    })
                    .collect();
                conditions.sort();
                Statement {
                    sid: s.sid.clone(),
                    effect: s.effect,
                    principal: s.principal.as_ref().map(norm_principals),
                    not_principal: s.not_principal.as_ref().map(norm_principals),
                    action: s.action.as_ref().map(lower),
                    not_action: s.not_action.as_ref().map(lower),
                    resource: s.resource.clone().map(sorted),
                    not_resource: s.not_resource.clone().map(sorted),
                    conditions,
                }
            })
            .collect();
        statements.sort_by_key(|s| {
            let mut s = s.clone();
            s.sid = None;
            serde_json::to_string(&s).unwrap_or_default()
        });
        PolicyDocument {
            version: self.version.clone(),
            id: None,
            statements,
        }
    }

    /// Canonical JSON text of the normalized form.
    pub fn to_canonical_json(&self) -> String {
        serde_json::to_string(&self.normalized()).unwrap_or_default()
    }
}

impl Principals {
    /// True for `"*"` and for `{"AWS": "*"}`.
    pub fn is_anyone(&self) -> bool {
        match self {
            Principals::Any => true,
            Principals::Typed(map) => map.get("AWS").is_some_and(|v| v.iter().any(|x| x == "*")),
        }
    }

    /// The values of one principal type (`AWS`, `Service`, ...).
    pub fn values(&self, kind: &str) -> &[String] {
        match self {
            Principals::Any => &[],
            Principals::Typed(map) => map.get(kind).map(Vec::as_slice).unwrap_or(&[]),
        }
    }
}

/// The base operator: without `ForAnyValue:`/`ForAllValues:` and `IfExists`.
pub fn base_operator(op: &str) -> &str {
    let op = op
        .strip_prefix("ForAnyValue:")
        .or_else(|| op.strip_prefix("ForAllValues:"))
        .unwrap_or(op);
    op.strip_suffix("IfExists").unwrap_or(op)
}

impl Statement {
    /// The statement written back in IAM policy JSON (`Sid`, `Effect`,
    /// `Principal`, `Action`, ...): a one-element list as a plain string,
    /// condition values as strings. For showing a statement when its
    /// original text is not at hand.
    pub fn to_policy_json(&self) -> Value {
        fn list(v: &[String]) -> Value {
            match v {
                [one] => Value::String(one.clone()),
                many => Value::from(many.to_vec()),
            }
        }
        fn principals(p: &Principals) -> Value {
            match p {
                Principals::Any => Value::String("*".to_string()),
                Principals::Typed(map) => {
                    Value::Object(map.iter().map(|(k, v)| (k.clone(), list(v))).collect())
                }
            }
        }
        let mut out = serde_json::Map::new();
        if let Some(sid) = &self.sid {
            out.insert("Sid".to_string(), Value::String(sid.clone()));
        }
        let effect = match self.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        };
        out.insert("Effect".to_string(), Value::String(effect.to_string()));
        for (k, p) in [
            ("Principal", &self.principal),
            ("NotPrincipal", &self.not_principal),
        ] {
            if let Some(p) = p {
                out.insert(k.to_string(), principals(p));
            }
        }
        for (k, v) in [
            ("Action", &self.action),
            ("NotAction", &self.not_action),
            ("Resource", &self.resource),
            ("NotResource", &self.not_resource),
        ] {
            if let Some(v) = v {
                out.insert(k.to_string(), list(v));
            }
        }
        if !self.conditions.is_empty() {
            let mut ops = serde_json::Map::new();
            for c in &self.conditions {
                if let Value::Object(keys) = ops
                    .entry(c.operator.clone())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()))
                {
                    keys.insert(c.key.clone(), list(&c.values));
                }
            }
            out.insert("Condition".to_string(), Value::Object(ops));
        }
        Value::Object(out)
    }

    /// Conditions on a key (case-insensitive).
    pub fn conditions_on<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Condition> + 'a {
        self.conditions
            .iter()
            .filter(move |c| c.key.eq_ignore_ascii_case(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> PolicyDocument {
        parse_policy(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    fn e(text: &str) -> String {
        match parse_policy(text) {
            Ok(d) => panic!("parsed {d:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_statement_error_is_one_line_with_its_cause() {
        let text = r#"{"Statement":[{"Effect":"Allow","Action":"*"},{"Effect":"Maybe"}]}"#;
        let err = parse_policy(text).err();
        let Some(err) = err else {
            panic!("Effect Maybe parsed");
        };
        assert_eq!(
            err.to_string(),
            "statement 2: Effect must be \"Allow\" or \"Deny\", found \"Maybe\""
        );
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(
            cause.as_deref(),
            Some("Effect must be \"Allow\" or \"Deny\", found \"Maybe\"")
        );
        assert_eq!(
            e(r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*"}}"#),
            "statement 1: has both Action and NotAction"
        );
    }

    #[test]
    fn statement_object_or_list_and_string_or_list_fields() {
        let a = p(r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#);
        let b =
            p(r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}"#);
        assert_eq!(a, b);
        assert_eq!(
            a.statements[0].action.as_deref(),
            Some(&["s3:GetObject".to_string()][..])
        );
    }

    #[test]
    fn statement_written_back_as_policy_json() {
        let text = r#"{"Sid":"S","Effect":"Deny","Principal":{"AWS":["arn:aws:iam::1:root","arn:aws:iam::2:root"]},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#;
        let d = p(&format!(r#"{{"Statement":[{text}]}}"#));
        let back = d.statements[0].to_policy_json();
        let original: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, original);
        let any = p(r#"{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"s3:Get*"}}"#);
        assert_eq!(
            any.statements[0].to_policy_json(),
            serde_json::json!({"Effect": "Allow", "Principal": "*", "NotAction": "s3:Get*"})
        );
    }

    #[test]
    fn principal_forms() {
        let d = p(r#"{"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"*"},
            {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"*"},
            {"Effect":"Allow","Principal":{"Service":"codepipeline.amazonaws.com"},"Action":"sts:AssumeRole"},
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","123456789012"]},"Action":"*"},
            {"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::1:role/x"},"NotAction":"s3:Get*","NotResource":"arn:aws:s3:::b/*"}]}"#);
        let s = &d.statements;
        assert_eq!(s[0].principal, Some(Principals::Any));
        assert!(s[1].principal.as_ref().is_some_and(Principals::is_anyone));
        let svc = s[2]
            .principal
            .as_ref()
            .map(|p| p.values("Service").to_vec());
        assert_eq!(svc, Some(vec!["codepipeline.amazonaws.com".to_string()]));
        assert!(!s[2].principal.as_ref().is_some_and(Principals::is_anyone));
        assert_eq!(
            s[3].principal.as_ref().map(|p| p.values("AWS").len()),
            Some(2)
        );
        assert!(
            s[4].not_principal.is_some()
                && s[4].not_action.is_some()
                && s[4].not_resource.is_some()
        );
    }

    #[test]
    fn conditions_are_flattened_and_stringified() {
        let d = p(
            r#"{"Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{
            "Bool":{"aws:SecureTransport":false},
            "NumericLessThan":{"s3:TlsVersion":1.2},
            "ForAnyValue:StringLike":{"aws:PrincipalOrgPaths":["o-1/*","o-2/*"]},
            "BoolIfExists":{"aws:SecureTransport":"false"}}}}"#,
        );
        let s = &d.statements[0];
        assert_eq!(s.conditions.len(), 4);
        let secure: Vec<&Condition> = s.conditions_on("AWS:securetransport").collect();
        assert_eq!(secure.len(), 2);
        assert!(
            secure
                .iter()
                .all(|c| base_operator(&c.operator) == "Bool" && c.values == ["false"])
        );
        assert!(s.conditions.iter().any(|c| c.values == ["1.2"]));
        assert!(
            s.conditions
                .iter()
                .any(|c| base_operator(&c.operator) == "StringLike" && c.values.len() == 2)
        );
    }

    #[test]
    fn percent_encoded_input() {
        let enc = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22codebuild.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        let d = p(enc);
        assert_eq!(d.version.as_deref(), Some("2012-10-17"));
        assert_eq!(d.statements.len(), 1);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(e("{").contains("not valid JSON at line 1"));
        assert_eq!(e("[]"), "the policy is not a JSON object");
        assert_eq!(e(r#"{"Version":"x"}"#), "the policy has no Statement");
        assert!(
            e(r#"{"Statement":[{"Effect":"Permit"}]}"#).contains("statement 1: Effect must be")
        );
        assert!(
            e(r#"{"Statement":[{"Effect":"Allow"},{"Effect":"Allow","Action":1}]}"#)
                .starts_with("statement 2: Action")
        );
        assert!(
            e(r#"{"Statement":{"Effect":"Allow","Action":"a","NotAction":"b"}}"#)
                .contains("both Action and NotAction")
        );
        assert!(
            e(r#"{"Statement":{"Effect":"Allow","Principal":3}}"#).contains("Principal must be")
        );
        assert!(
            e(r#"{"Statement":{"Effect":"Allow","Condition":{"Bool":{"k":null}}}}"#)
                .contains("Condition.Bool.k")
        );
        assert!(e(r#"{"Statement":"x"}"#).contains("Statement must be"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse_policy(&format!(r#"{{"Statement":{deep}}}"#)).is_err());
    }

    #[test]
    fn normalized_ignores_order_case_and_forms() {
        let a = p(r#"{"Statement":[
            {"Effect":"Allow","Action":["S3:GetObject","s3:PutObject"],"Resource":"*"},
            {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*","Resource":["b","a"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#);
        let b = p(r#"{"Statement":[
            {"Effect":"Deny","Principal":"*","Action":["s3:*","s3:*"],"Resource":["a","b"],"Condition":{"Bool":{"aws:SecureTransport":["false"]}}},
            {"Effect":"Allow","Action":["s3:putobject","s3:getobject"],"Resource":["*"]}]}"#);
        assert_ne!(a, b);
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.to_canonical_json(), b.to_canonical_json());
        let c = p(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#);
        assert_ne!(a.normalized(), c.normalized());
    }

    #[test]
    fn snapshot_form_round_trips() {
        let d = p(
            r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"s","Effect":"Allow","Principal":{"AWS":["1"]},"Action":"a","Resource":"r","Condition":{"StringEquals":{"k":"v"}}}]}"#,
        );
        let text = serde_json::to_string(&d).unwrap_or_default();
        let back: PolicyDocument = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, d);
    }
}
