//! Property edits applied to template text, minimally: only the lines an
//! edit needs are replaced or inserted, in the indentation, quoting and
//! line endings around them; comments, key order and every other byte stay
//! as they were. YAML templates ([`yaml`]) are edited through their block
//! structure, JSON ones ([`json`]) through the byte spans of their values.
//! [`unified_diff`] renders the change for `git apply`.
//!
//! A fix action's template form ([`crate::remediate::registry::FixAction::template_form`])
//! says what to change as [`Edit`]s on the resource's properties; whether
//! the change closes the finding is decided by auditing the patched text
//! again (`commands::template`), not here.

pub mod hcl;
pub mod json;
pub mod live;
pub mod terraform;
pub mod verify;
pub mod yaml;

use serde_json::Value;

/// Why patches could not be built at all (a fix that cannot be patched is
/// not an error: it is listed as manual with why).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The templates or plans do not build (before any change).
    #[error(transparent)]
    Template(#[from] crate::template::Error),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One step of a path into a resource: a mapping key or a list position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path of keys (`"Properties"`, `"VersioningConfiguration"`, ...).
pub fn path(keys: &[&str]) -> Vec<Seg> {
    keys.iter().map(|k| Seg::Key((*k).to_string())).collect()
}

/// One change to a resource of a template: set the value at `path` (from
/// the resource's own mapping, so it starts with `Properties`). An empty
/// `path` creates the resource: `value` (its `Type` and `Properties`) is
/// added as the last entry of `Resources` under `logical_id`, which must
/// not be taken yet.
///
/// A mapping value is merged key by key into a mapping already written
/// (keys not named are kept); any other value replaces what is there.
/// Missing keys on the way are created. Intrinsics are written in their
/// long form (`{"Fn::GetAtt": [..]}`, `{"Ref": ..}`); YAML gets the short
/// form (`!GetAtt X.Arn`).
#[derive(Debug, Clone, PartialEq)]
pub struct Edit {
    pub logical_id: String,
    pub path: Vec<Seg>,
    pub value: Value,
    /// Only when nothing is written at `path` yet.
    pub if_absent: bool,
    /// `value` is added as the last item of the list at `path` (created
    /// when not written).
    pub append: bool,
}

impl Edit {
    pub fn set(logical_id: &str, path: Vec<Seg>, value: Value) -> Edit {
        Edit {
            logical_id: logical_id.to_string(),
            path,
            value,
            if_absent: false,
            append: false,
        }
    }

    /// A new resource `logical_id` (see [`Edit`]).
    pub fn create(logical_id: &str, resource: Value) -> Edit {
        Edit::set(logical_id, Vec::new(), resource)
    }

    pub fn append(logical_id: &str, path: Vec<Seg>, item: Value) -> Edit {
        Edit {
            append: true,
            ..Edit::set(logical_id, path, item)
        }
    }
}

/// Why an edit could not be made in the text (the change is then left to
/// a person).
pub type Refused = String;

/// Applies the edits to a template's text (YAML or JSON, decided as the
/// template reader decides).
pub fn apply(text: &str, edits: &[Edit]) -> Result<String, Refused> {
    let is_json = text.trim_start().starts_with('{');
    let mut out = text.to_string();
    for e in edits {
        out = if is_json {
            json::apply(&out, e)?
        } else {
            yaml::apply(&out, e)?
        };
    }
    Ok(out)
}

/// The line ending of a text (`\r\n` when its first line ends so).
pub(crate) fn newline(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// A unified diff of one file, `a/PATH` and `b/PATH` headers, three lines
/// of context; empty when the texts are equal.
pub fn unified_diff(rel: &str, before: &str, after: &str) -> String {
    if before == after {
        return String::new();
    }
    let diff = similar::TextDiff::from_lines(before, after);
    let mut out = format!("diff --git a/{rel} b/{rel}\n");
    out.push_str(
        &diff
            .unified_diff()
            .context_radius(3)
            .missing_newline_hint(true)
            .header(&format!("a/{rel}"), &format!("b/{rel}"))
            .to_string(),
    );
    out
}

/// The fix actions and their template forms, as a Markdown table (the
/// fix-patches chapter of the book holds it; a test keeps it current).
pub fn forms_table() -> String {
    let mut s = String::from(
        "| Action | Safety | CloudFormation template form | Terraform form |\n|---|---|---|---|\n",
    );
    for a in crate::remediate::registry::actions() {
        let form = a
            .template_form()
            .map_or("none: a manual step", |t| t.writes);
        let tf = a
            .terraform_form()
            .map_or("none: a manual step", |t| t.writes);
        s.push_str(&format!(
            "| `{}` | {} | {form} | {tf} |\n",
            a.id(),
            a.safety()
        ));
    }
    s
}

/// What `--fix-patch` prints: the findings the patch closes, and the
/// manual steps left out of it.
pub fn summary(p: &verify::Patches, out: &str) -> String {
    use crate::report::escape::control;
    let mut s = if p.patched.is_empty() {
        format!(
            "fix patch: no change could be verified; {} is empty\n",
            control(out)
        )
    } else {
        format!(
            "fix patch: {} ({} file(s)) closes {} finding(s), each verified by auditing again with the change made:\n",
            control(out),
            p.files.len(),
            p.patched.len()
        )
    };
    for x in &p.patched {
        s.push_str(&format!(
            "  {}  {} in {} ({}, {})\n",
            x.rule_id,
            control(&x.logical_id),
            control(&x.file),
            x.action,
            x.safety
        ));
    }
    if !p.manual.is_empty() {
        s.push_str(&format!(
            "fix patch: {} finding(s) left as manual steps (not in the patch):\n",
            p.manual.len()
        ));
        for m in &p.manual {
            s.push_str(&format!(
                "  {}  {}: {}\n",
                m.rule_id,
                control(&m.resource_arn),
                control(&m.why.replace('\n', " "))
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_error_is_one_line_with_its_cause() {
        let e = Error::Read {
            path: std::path::PathBuf::from("stacks/app.yaml"),
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "Permission denied"),
        };
        assert_eq!(
            e.to_string(),
            "cannot read stacks/app.yaml: Permission denied"
        );
        assert!(std::error::Error::source(&e).is_some());
        let e = Error::from(crate::template::Error::NoTemplate);
        assert_eq!(
            e.to_string(),
            "no CloudFormation template found in the paths given"
        );
    }

    #[test]
    fn the_book_lists_the_template_forms_of_the_registry() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide/fix-patches.md");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let table = forms_table();
        assert!(
            text.contains(&table),
            "{path} does not hold the current table of template forms; put this there:\n{table}"
        );
        assert!(
            table.contains(
                "| `bucket-versioning` | safe | `VersioningConfiguration.Status: Enabled` on the bucket | `versioning_configuration"
            )
        );
        assert!(
            table.contains(
                "| `key-cancel-deletion` | unsafe | none: a manual step | none: a manual step |"
            ),
            "{table}"
        );
        assert!(
            table.contains("| `trigger-create` | safe | a new `AWS::Events::Rule`"),
            "{table}"
        );
    }

    #[test]
    fn the_diff_names_both_sides_and_only_changed_lines() {
        let d = unified_diff("t.yaml", "a\nb\nc\n", "a\nB\nc\n");
        assert!(d.starts_with("diff --git a/t.yaml b/t.yaml\n--- a/t.yaml\n+++ b/t.yaml\n"));
        assert!(d.contains("-b\n+B\n"), "{d}");
        assert_eq!(unified_diff("t.yaml", "x\n", "x\n"), "");
    }

    #[test]
    fn json_or_yaml_is_decided_by_the_text() {
        let y = "Resources:\n  K:\n    Type: AWS::KMS::Key\n";
        let e = Edit::set("K", path(&["Properties", "EnableKeyRotation"]), json!(true));
        assert_eq!(
            apply(y, std::slice::from_ref(&e)).as_deref(),
            Ok(
                "Resources:\n  K:\n    Type: AWS::KMS::Key\n    Properties:\n      EnableKeyRotation: true\n"
            )
        );
        let j = "{\n  \"Resources\": {\n    \"K\": {\n      \"Type\": \"AWS::KMS::Key\"\n    }\n  }\n}\n";
        assert_eq!(
            apply(j, &[e]).as_deref(),
            Ok(
                "{\n  \"Resources\": {\n    \"K\": {\n      \"Type\": \"AWS::KMS::Key\",\n      \"Properties\": {\n        \"EnableKeyRotation\": true\n      }\n    }\n  }\n}\n"
            )
        );
    }
}
