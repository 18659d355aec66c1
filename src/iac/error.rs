//! Why infrastructure as code could not be read, or a resource not located
//! in it. Each error renders as the one line the user (or the location
//! diagnostic) shows; paths, names and the underlying cause stay apart.
//! Errors are cloned: the lazily read index hands its error to every caller.

use std::path::PathBuf;
use std::sync::Arc;

/// Why `--iac`, `--iac-root`, `--tf-state` or `[iac.stacks]` could not be
/// read, or a resource could not be located in the templates or `.tf` files.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A path of a flag (`--iac-root`, `--iac`) that does not resolve.
    #[error("{flag}: cannot read {}: {source}", path.display())]
    Flag {
        flag: &'static str,
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error(
        "--iac {} is outside --iac-root {}: report paths are relative to it (pass --iac-root)",
        dir.display(),
        root.display()
    )]
    OutsideRoot { dir: PathBuf, root: PathBuf },
    #[error("--tf-state {}: {source}", path.display())]
    StateMissing {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("--tf-state: cannot read {}: {source}", path.display())]
    StateRead {
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("--tf-state: {}: {source}", path.display())]
    StateInvalid {
        path: PathBuf,
        #[source]
        source: StateError,
    },
    #[error("[iac.stacks] {stack}: cannot read {}: {source}", path.display())]
    StackUnreadable {
        stack: String,
        path: PathBuf,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("[iac.stacks] {stack}: {file} is outside --iac-root {}", root.display())]
    StackOutsideRoot {
        stack: String,
        file: String,
        root: PathBuf,
    },
    #[error("[iac.stacks] {stack}: {file} is not a CloudFormation template (no Resources)")]
    StackNotTemplate { stack: String, file: String },
    #[error("{file}: the logical id {logical_id} of stack {stack} is a {found}, not a {wanted}")]
    WrongType {
        file: String,
        logical_id: String,
        stack: String,
        found: String,
        wanted: String,
    },
    #[error("{file} (mapped to stack {stack}) has no resource {logical_id}")]
    NotInMapped {
        file: String,
        stack: String,
        logical_id: String,
    },
    /// No template defines the resource; `skipped` names files passed over
    /// (`; files skipped: ...`, or empty).
    #[error(
        "no template under --iac defines {logical_id} ({resource_type}) of stack {stack}; map the stack in pipeaudit.toml ([iac.stacks] {stack} = \"path\"){skipped}"
    )]
    NoTemplate {
        logical_id: String,
        resource_type: String,
        stack: String,
        skipped: String,
    },
    #[error(
        "{} templates define {logical_id} ({resource_type}) of stack {stack}: {}; map the stack in pipeaudit.toml ([iac.stacks] {stack} = \"path\")",
        files.len(),
        files.join(", ")
    )]
    Ambiguous {
        logical_id: String,
        resource_type: String,
        stack: String,
        files: Vec<String>,
    },
    #[error("{address} is not a managed resource address")]
    NotAnAddress { address: String },
    #[error(
        "{address}: {module} comes from {source_:?} (registry or remote module), whose code is not under --iac: not locatable"
    )]
    RemoteModule {
        address: String,
        module: String,
        source_: String,
    },
    #[error("{address}: no module block {module} with a local source under --iac")]
    NoModule { address: String, module: String },
    #[error("{address}: no resource \"{ty}\" \"{name}\" block in the .tf files under --iac")]
    NoBlock {
        address: String,
        ty: String,
        name: String,
    },
    #[error(
        "{address}: {} .tf files define resource \"{ty}\" \"{name}\": {}",
        files.len(),
        files.join(", ")
    )]
    ManyBlocks {
        address: String,
        ty: String,
        name: String,
        files: Vec<String>,
    },
}

/// Why a text is not a Terraform state.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StateError {
    #[error("not JSON: {0}")]
    Json(#[source] Arc<serde_json::Error>),
    #[error(
        "neither a Terraform state (no `resources`) nor `terraform show -json` output (no `values`)"
    )]
    NotState,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn one_line_with_the_cause_kept() {
        let json = serde_json::from_str::<serde_json::Value>("{").err();
        let Some(json) = json else {
            panic!("an open brace parsed as JSON");
        };
        let e = Error::StateInvalid {
            path: PathBuf::from("infra/terraform.tfstate"),
            source: StateError::Json(Arc::new(json)),
        };
        let shown = e.to_string();
        assert!(
            shown.starts_with("--tf-state: infra/terraform.tfstate: not JSON: EOF while parsing"),
            "{shown}"
        );
        assert!(!shown.contains('\n') && !shown.contains("StateInvalid"));
        assert!(e.source().is_some());
        let e = Error::ManyBlocks {
            address: "aws_s3_bucket.a".into(),
            ty: "aws_s3_bucket".into(),
            name: "a".into(),
            files: vec!["a.tf".into(), "b.tf".into()],
        };
        assert_eq!(
            e.to_string(),
            "aws_s3_bucket.a: 2 .tf files define resource \"aws_s3_bucket\" \"a\": a.tf, b.tf"
        );
    }
}
