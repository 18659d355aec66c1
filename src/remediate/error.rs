//! Why remediation stopped, or why a change was not written as an edit:
//! one variant per kind of failure, each rendered as the one line the user
//! reads. What an action's apply step reports for the journal is a
//! [`super::NotApplied`], not one of these: the journal keeps its words.

use std::path::PathBuf;

/// Why applying a plan stopped, or why a template or Terraform edit (or a
/// merged policy) could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The journal could not be written.
    #[error("cannot write journal {}: {source}", path.display())]
    Journal {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Ctrl-C stopped the run between two changes.
    #[error(
        "interrupted after {done} of {total} change(s){}; the journal {} lists each one made",
        of_pass(*pass),
        journal.display()
    )]
    Interrupted {
        /// Changes attempted in the pass that was interrupted.
        done: usize,
        /// Changes that pass planned.
        total: usize,
        /// The pass (1 for the plan as shown).
        pass: usize,
        journal: PathBuf,
    },
    /// The account applying acts on (its clients, its collection, the
    /// confirmation of a later pass) failed, with the caller's own error.
    #[error("{0}")]
    Account(Box<dyn std::error::Error + Send + Sync>),
    /// A policy text a statement is added to cannot take it.
    #[error("{0}")]
    Policy(#[from] PolicyError),
    /// The resource the edit is for is not of the type the edit changes.
    #[error("{name} is not an {expected}")]
    WrongType {
        /// Its logical id (a template) or address (Terraform).
        name: String,
        /// The type the edit changes.
        expected: &'static str,
    },
    /// A resource the edit refers to is not defined beside the one edited.
    #[error("{what} {arn} is not defined in the same template")]
    NotInTemplate { what: &'static str, arn: String },
    /// The edit cannot be made from what the template or configuration
    /// says (or the snapshot built from it); the change is left to a person.
    #[error("{0}")]
    NotEdited(String),
}

/// Why a statement cannot be added to a policy text.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The text is not JSON.
    #[error("the {policy} policy is not JSON: {source}")]
    NotJson {
        /// Which policy: `key`, `bucket`, or an inline policy's name.
        policy: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// The text is JSON but not a policy document.
    #[error("the {policy} policy does not parse: {reason}")]
    DoesNotParse {
        policy: &'static str,
        reason: String,
    },
    /// The document has no `Statement` (a list or a single statement).
    #[error("the policy has no Statement list")]
    NoStatementList,
}

fn of_pass(pass: usize) -> String {
    if pass > 1 {
        format!(" of pass {pass}")
    } else {
        String::new()
    }
}

impl Error {
    /// The account's own error.
    pub fn account(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Error {
        Error::Account(e.into())
    }

    /// An edit left to a person, with why.
    pub fn not_edited(why: impl Into<String>) -> Error {
        Error::NotEdited(why.into())
    }

    /// `name` is not of type `expected`.
    pub fn wrong_type(name: &str, expected: &'static str) -> Error {
        Error::WrongType {
            name: name.to_string(),
            expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_with_a_source_renders_as_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let e = Error::Journal {
            path: PathBuf::from("j.json"),
            source: io,
        };
        assert_eq!(
            e.to_string(),
            "cannot write journal j.json: permission denied"
        );
        assert!(std::error::Error::source(&e).is_some());

        let Err(json) = serde_json::from_str::<serde_json::Value>("nope") else {
            panic!("\"nope\" parsed as JSON");
        };
        let line = format!("the key policy is not JSON: {json}");
        let e = Error::from(PolicyError::NotJson {
            policy: "key",
            source: json,
        });
        assert_eq!(e.to_string(), line);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn interrupted_names_the_pass_after_the_first() {
        let e = |pass| Error::Interrupted {
            done: 2,
            total: 5,
            pass,
            journal: PathBuf::from("j.json"),
        };
        assert_eq!(
            e(1).to_string(),
            "interrupted after 2 of 5 change(s); the journal j.json lists each one made"
        );
        assert_eq!(
            e(2).to_string(),
            "interrupted after 2 of 5 change(s) of pass 2; the journal j.json lists each one made"
        );
    }

    #[test]
    fn edits_refused_read_as_before() {
        assert_eq!(
            Error::wrong_type("Rule", "AWS::Events::Rule").to_string(),
            "Rule is not an AWS::Events::Rule"
        );
        assert_eq!(
            Error::NotInTemplate {
                what: "the artifact key",
                arn: "arn:k".to_string()
            }
            .to_string(),
            "the artifact key arn:k is not defined in the same template"
        );
        assert_eq!(
            Error::from(PolicyError::NoStatementList).to_string(),
            "the policy has no Statement list"
        );
    }
}
