//! Why templates or plans could not be built into a snapshot. Each error
//! renders as the one line the user sees; the path, the resource and the
//! underlying cause are kept apart for callers that need them.

use std::path::PathBuf;

use super::{MAX_NESTING, MAX_TEMPLATE_BYTES, tfplan::MAX_PLAN_BYTES};

/// Why template or plan mode stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read parameters {}: {source}", path.display())]
    ReadParameters {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parameters {} is not JSON: {source}", path.display())]
    ParametersJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("parameters {} is not a list of {{\"ParameterKey\", \"ParameterValue\"}}", path.display())]
    ParametersNotList { path: PathBuf },
    #[error("parameters {}: each entry needs ParameterKey and ParameterValue", path.display())]
    ParameterEntry { path: PathBuf },
    #[error(
        "--parameters FILE applies to a single template; with several, pass --parameters TEMPLATE=FILE"
    )]
    ParametersForSeveral,
    /// A template given by name that could not be read or parsed.
    #[error("template {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: FileError,
    },
    #[error("template {} is not a CloudFormation template (no Resources)", path.display())]
    NotTemplate { path: PathBuf },
    #[error("no CloudFormation template found in the paths given")]
    NoTemplate,
    #[error("template {}: parameter {name} is given but not declared", path.display())]
    UndeclaredParameter { path: PathBuf, name: String },
    #[error("template {}: resource {logical_id} has no Type", path.display())]
    NoType { path: PathBuf, logical_id: String },
    /// A template CloudFormation would refuse.
    #[error("template {}: {source}", path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: Invalid,
    },
    #[error("export {name} is exported by more than one template")]
    DuplicateExport { name: String },
    /// A plan given by name that could not be read or is not a plan.
    #[error("plan {}: {source}", path.display())]
    UnreadablePlan {
        path: PathBuf,
        #[source]
        source: FileError,
    },
    #[error("no Terraform plan found in the paths given")]
    NoPlan,
    /// A plan whose translation CloudFormation would refuse.
    #[error("plan {}: {source}", path.display())]
    InvalidPlan {
        path: PathBuf,
        #[source]
        source: Invalid,
    },
}

/// Why one template or plan file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    #[error("not a regular file")]
    NotFile,
    #[error("{len} bytes, over the {MAX_TEMPLATE_BYTES}-byte cap of a template")]
    TemplateTooLarge { len: u64 },
    #[error("{len} bytes, over the {MAX_PLAN_BYTES}-byte cap of a plan")]
    PlanTooLarge { len: u64 },
    /// Not a document (its first line: the parser's position and cause).
    #[error("{}", first_line(.0))]
    Parse(#[source] crate::iac::template::ParseError),
    #[error("not JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error(
        "not a Terraform plan in JSON (no format_version; use `terraform show -json PLANFILE`)"
    )]
    NoFormatVersion,
    /// The version as the plan gives it, cut at 32 characters.
    #[error("format_version {0:?} is not supported (Terraform plan JSON 1.x only)")]
    FormatVersion(String),
    #[error(
        "a Terraform state, not a plan (no planned_values; use `terraform show -json PLANFILE`)"
    )]
    State,
}

fn first_line(e: &impl std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

/// What in a template CloudFormation would refuse, with the resource,
/// output or nested stack it is in.
#[derive(Debug, thiserror::Error)]
pub enum Invalid {
    /// The evaluator's reason (a malformed intrinsic or condition).
    #[error("{0}")]
    Intrinsic(String),
    /// The reason within a resource, output or property (`what`).
    #[error("{what}: {source}")]
    In {
        what: String,
        #[source]
        source: Box<Invalid>,
    },
    #[error("{logical_id}: nested stacks deeper than {MAX_NESTING} levels")]
    TooDeep { logical_id: String },
    #[error("{logical_id}: {} is not a CloudFormation template (no Resources)", path.display())]
    NestedNotTemplate { logical_id: String, path: PathBuf },
    #[error("{logical_id}: {}: {source}", path.display())]
    NestedUnreadable {
        logical_id: String,
        path: PathBuf,
        #[source]
        source: FileError,
    },
    #[error("nested stack {logical_id} ({}): {source}", path.display())]
    Nested {
        logical_id: String,
        path: PathBuf,
        #[source]
        source: Box<Invalid>,
    },
    /// A template's parameters or resources (already naming the template).
    #[error(transparent)]
    Scope(Box<Error>),
}

impl Invalid {
    /// The evaluator's reason within `what`.
    pub fn within(what: impl Into<String>, why: impl Into<String>) -> Invalid {
        Invalid::In {
            what: what.into(),
            source: Box::new(Invalid::Intrinsic(why.into())),
        }
    }
}

impl From<Error> for Invalid {
    fn from(e: Error) -> Invalid {
        Invalid::Scope(Box::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn one_line_with_the_cause_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let e = Error::Unreadable {
            path: PathBuf::from("stacks/app.yaml"),
            source: FileError::Io(io),
        };
        assert_eq!(
            e.to_string(),
            "template stacks/app.yaml: cannot read: No such file"
        );
        assert!(e.source().is_some());
        let nested = Error::Invalid {
            path: PathBuf::from("root.yaml"),
            source: Invalid::Nested {
                logical_id: "Child".into(),
                path: PathBuf::from("child.yaml"),
                source: Box::new(Invalid::within(
                    "Bucket (AWS::S3::Bucket)",
                    "Fn::Join needs a list",
                )),
            },
        };
        let shown = nested.to_string();
        assert_eq!(
            shown,
            "template root.yaml: nested stack Child (child.yaml): Bucket (AWS::S3::Bucket): Fn::Join needs a list"
        );
        assert!(!shown.contains('\n') && !shown.contains("Invalid {"));
    }

    #[test]
    fn a_parse_error_shows_its_first_line_only() {
        let e = crate::iac::template::parse_or_why("a: [1\nb: 2\n").err();
        let Some(e) = e else {
            panic!("unbalanced flow sequence parsed");
        };
        let shown = FileError::Parse(e).to_string();
        assert!(shown.starts_with("not valid YAML: "), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }
}
