//! Redaction of pipeline action configurations.
//!
//! GetPipeline returns each action's `configuration` in clear: a CodeBuild
//! action's `EnvironmentVariables` (a JSON list whose `PLAINTEXT` entries
//! hold values), a GitHub (v1) source's `OAuthToken`, the parameters of
//! CloudFormation, Lambda and third-party actions. Collection passes every
//! configuration through [`redact_action`] before it is stored, so no value
//! that looks secret reaches a snapshot, log, report, diff, plan or journal.
//!
//! The rules:
//! - the keys in [`KEPT_KEYS`] name the resources and settings the wiring and
//!   the rules read; they are kept as they are, never redacted;
//! - AWS's own mask (`****`, returned for secret action properties) is kept;
//! - `EnvironmentVariables`: each variable keeps its name and type, the
//!   reference of a `PARAMETER_STORE` / `SECRETS_MANAGER` variable is kept,
//!   a `PLAINTEXT` value is dropped after classification (as for build
//!   projects) and the variables are listed, classified, in the action's
//!   `environment_variables`;
//! - a JSON object value (`ParameterOverrides`, `UserParameters`...) is
//!   redacted entry by entry, recorded as `Key.entry`;
//! - any other value whose key or value looks secret is replaced by
//!   [`REDACTED`] and the key is recorded with its classification in the
//!   action's `redacted` map.

use std::collections::BTreeMap;

use serde_json::Value;

use super::resources::{Action, EnvVar};
use super::secrets::{self, SecretKind};

/// What a withheld value is replaced with.
pub const REDACTED: &str = "<redacted>";

/// The configuration key that holds a CodeBuild action's variables.
pub const ENVIRONMENT_VARIABLES: &str = "EnvironmentVariables";

/// Configuration keys that name resources or settings, read by the wiring
/// and the rules; never redacted.
pub const KEPT_KEYS: &[&str] = &[
    // sources
    "RepositoryName",
    "BranchName",
    "ConnectionArn",
    "FullRepositoryId",
    "Owner",
    "Repo",
    "Branch",
    "S3Bucket",
    "S3ObjectKey",
    "PollForSourceChanges",
    "DetectChanges",
    "OutputArtifactFormat",
    "ImageTag",
    // builds and deploys
    "ProjectName",
    "PrimarySource",
    "BatchEnabled",
    "ApplicationName",
    "DeploymentGroupName",
    "ClusterName",
    "ServiceName",
    "FileName",
    "FunctionName",
    // CloudFormation
    "ActionMode",
    "StackName",
    "ChangeSetName",
    "TemplatePath",
    "TemplateConfiguration",
    "Capabilities",
    "RoleArn",
    "OutputFileName",
    // S3 deploy
    "BucketName",
    "Extract",
    "ObjectKey",
    "KMSEncryptionKeyARN",
    "CannedACL",
    // approvals (their free-text `CustomData` is classified like any value)
    "NotificationArn",
];

/// Whether a value is AWS's own mask of a secret action property.
fn is_aws_mask(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b == b'*')
}

/// Redacts an action's configuration in place (see the module doc). Values
/// already redacted stay so, and their classification is kept: running it
/// twice changes nothing.
pub fn redact_action(a: &mut Action) {
    let config = std::mem::take(&mut a.configuration);
    let mut redacted = std::mem::take(&mut a.redacted);
    let previous_vars = std::mem::take(&mut a.environment_variables);
    let mut out = BTreeMap::new();
    for (key, value) in config {
        if KEPT_KEYS.contains(&key.as_str()) || is_aws_mask(&value) || value == REDACTED {
            out.insert(key, value);
            continue;
        }
        if key == ENVIRONMENT_VARIABLES {
            match environment_variables(&value, &previous_vars) {
                Some((vars, text)) => {
                    a.environment_variables = vars;
                    out.insert(key, text);
                }
                None => {
                    let kinds = secrets::classify(&key, &value);
                    redacted.entry(key.clone()).or_insert(kinds);
                    out.insert(key, REDACTED.to_string());
                }
            }
            continue;
        }
        if value.trim_start().starts_with('{')
            && let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(&value)
        {
            let mut any = false;
            for (entry, v) in map.iter_mut() {
                any |= redact_json(&format!("{key}.{entry}"), entry, v, &mut redacted);
            }
            if any {
                out.insert(
                    key,
                    serde_json::to_string(&Value::Object(map)).unwrap_or_else(|_| REDACTED.into()),
                );
            } else {
                out.insert(key, value);
            }
            continue;
        }
        let kinds = secrets::classify(&key, &value);
        if kinds.is_empty() {
            out.insert(key, value);
        } else {
            redacted.insert(key.clone(), kinds);
            out.insert(key, REDACTED.to_string());
        }
    }
    // A variable list seen only as redacted keeps the classification it had.
    if a.environment_variables.is_empty() && !out.contains_key(ENVIRONMENT_VARIABLES) {
        a.environment_variables = previous_vars;
    }
    a.configuration = out;
    a.redacted = redacted;
}

/// Redacts one entry of a JSON object value; returns whether it changed.
fn redact_json(
    path: &str,
    name: &str,
    v: &mut Value,
    redacted: &mut BTreeMap<String, Vec<SecretKind>>,
) -> bool {
    match v {
        Value::String(s) => {
            if is_aws_mask(s) || s == REDACTED {
                return false;
            }
            let kinds = secrets::classify(name, s);
            if kinds.is_empty() {
                return false;
            }
            redacted.insert(path.to_string(), kinds);
            *v = Value::String(REDACTED.to_string());
            true
        }
        Value::Object(map) => {
            let mut any = false;
            for (k, inner) in map.iter_mut() {
                any |= redact_json(&format!("{path}.{k}"), k, inner, redacted);
            }
            any
        }
        Value::Array(items) => {
            let mut any = false;
            for inner in items.iter_mut() {
                any |= redact_json(path, name, inner, redacted);
            }
            any
        }
        Value::Number(_) | Value::Bool(_) | Value::Null => false,
    }
}

/// Parses a CodeBuild action's `EnvironmentVariables` and returns the
/// classified variables and the list written back without plaintext values.
/// `None` when the text is not such a list.
fn environment_variables(text: &str, previous: &[EnvVar]) -> Option<(Vec<EnvVar>, String)> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(text) else {
        return None;
    };
    let mut vars = Vec::with_capacity(items.len());
    let mut kept = Vec::with_capacity(items.len());
    for item in &items {
        let obj = item.as_object()?;
        let name = obj.get("name").and_then(Value::as_str).unwrap_or_default();
        let var_type = obj
            .get("type")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .unwrap_or("PLAINTEXT");
        let value = obj.get("value").map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let mut written = serde_json::Map::new();
        written.insert("name".into(), Value::String(name.to_string()));
        written.insert("type".into(), Value::String(var_type.to_string()));
        if var_type == "PLAINTEXT" {
            let secret_kinds = match &value {
                Some(v) if !is_aws_mask(v) => secrets::classify(name, v),
                // already redacted: the classification made then
                _ => previous
                    .iter()
                    .find(|p| p.name == name && p.var_type == "PLAINTEXT")
                    .map(|p| p.secret_kinds.clone())
                    .unwrap_or_default(),
            };
            vars.push(EnvVar {
                name: name.to_string(),
                var_type: var_type.to_string(),
                reference: None,
                secret_kinds,
            });
        } else {
            if let Some(v) = &value {
                written.insert("value".into(), Value::String(v.clone()));
            }
            vars.push(EnvVar {
                name: name.to_string(),
                var_type: var_type.to_string(),
                reference: value,
                secret_kinds: Vec::new(),
            });
        }
        kept.push(Value::Object(written));
    }
    let text = serde_json::to_string(&Value::Array(kept)).ok()?;
    Some((vars, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(config: &[(&str, &str)]) -> Action {
        Action {
            name: "A".into(),
            configuration: config
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Action::default()
        }
    }

    /// A token-shaped value built from parts (no secret literal in the source).
    fn token() -> String {
        let body: String = (0..36)
            .map(|i| {
                let c = b"aZ3kQ9xL2mP7vB5nR8tW4yC6dF1gH0jS"[(i * 7 + 3) % 32];
                char::from(c)
            })
            .collect();
        format!("{}{}_{body}", "gh", "p")
    }

    #[test]
    fn plaintext_variables_lose_their_values_and_keep_name_type_and_class() {
        let t = token();
        let vars = format!(
            r#"[{{"name":"GITHUB_TOKEN","value":"{t}","type":"PLAINTEXT"}},{{"name":"STAGE","value":"prod"}},{{"name":"DB","value":"/app/db","type":"PARAMETER_STORE"}}]"#
        );
        let mut a = action(&[("ProjectName", "build"), (ENVIRONMENT_VARIABLES, &vars)]);
        redact_action(&mut a);
        let text = serde_json::to_string(&a).unwrap_or_default();
        assert!(!text.contains(&t), "{text}");
        assert!(!text.contains("prod"), "{text}");
        assert_eq!(a.configuration["ProjectName"], "build");
        assert_eq!(a.environment_variables.len(), 3);
        assert_eq!(a.environment_variables[0].name, "GITHUB_TOKEN");
        assert!(!a.environment_variables[0].secret_kinds.is_empty());
        assert!(a.environment_variables[1].secret_kinds.is_empty());
        assert_eq!(a.environment_variables[1].var_type, "PLAINTEXT");
        assert_eq!(
            a.environment_variables[2].reference.as_deref(),
            Some("/app/db")
        );
        assert!(a.configuration[ENVIRONMENT_VARIABLES].contains("/app/db"));
        assert!(a.configuration[ENVIRONMENT_VARIABLES].contains("GITHUB_TOKEN"));
    }

    #[test]
    fn secret_keys_are_withheld_resource_keys_kept_and_the_mask_left_alone() {
        let t = token();
        let mut a = action(&[
            ("Owner", "octo"),
            ("Repo", "app"),
            ("Branch", "main"),
            ("OAuthToken", &t),
            ("WebhookSecret", "****"),
            ("BranchName", &t),
        ]);
        redact_action(&mut a);
        assert_eq!(a.configuration["OAuthToken"], REDACTED);
        assert!(a.redacted.contains_key("OAuthToken"));
        assert_eq!(a.configuration["WebhookSecret"], "****");
        assert!(!a.redacted.contains_key("WebhookSecret"));
        // a kept key is never redacted, whatever it holds
        assert_eq!(a.configuration["BranchName"], t);
        assert_eq!(a.configuration["Owner"], "octo");
    }

    #[test]
    fn json_parameters_are_redacted_entry_by_entry() {
        let mut a = action(&[(
            "ParameterOverrides",
            r#"{"Environment":"prod","DbPassword":"hunter2-but-longer","Nested":{"ApiKey":"k"}}"#,
        )]);
        redact_action(&mut a);
        let v: Value =
            serde_json::from_str(&a.configuration["ParameterOverrides"]).unwrap_or(Value::Null);
        assert_eq!(v["Environment"], "prod");
        assert_eq!(v["DbPassword"], REDACTED);
        assert_eq!(v["Nested"]["ApiKey"], REDACTED);
        assert!(a.redacted.contains_key("ParameterOverrides.DbPassword"));
        assert!(a.redacted.contains_key("ParameterOverrides.Nested.ApiKey"));
    }

    #[test]
    fn redaction_is_idempotent() {
        let t = token();
        let vars = format!(r#"[{{"name":"X","value":"{t}"}}]"#);
        let mut a = action(&[
            (ENVIRONMENT_VARIABLES, &vars),
            ("OAuthToken", &t),
            ("UserParameters", r#"{"password":"pa55-w0rd-long"}"#),
        ]);
        redact_action(&mut a);
        let once = a.clone();
        redact_action(&mut a);
        assert_eq!(a, once);
        assert!(!a.environment_variables[0].secret_kinds.is_empty());
    }

    #[test]
    fn an_unparsable_variable_list_is_withheld_whole() {
        let mut a = action(&[(ENVIRONMENT_VARIABLES, "[{\"name\": oops")]);
        redact_action(&mut a);
        assert_eq!(a.configuration[ENVIRONMENT_VARIABLES], REDACTED);
    }
}
