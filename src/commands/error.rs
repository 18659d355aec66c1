//! The error a command ends with: one variant per kind of failure, each
//! rendered as the line the user reads (and a hint where there is one),
//! each with its exit code.

use std::path::{Path, PathBuf};

use crate::collect::CollectError;
use crate::model::SnapshotError;
use crate::report::EXIT_ERROR;
use crate::rules::LoadErrors;
use crate::rules::config::ConfigError;

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The collection could not start: bad options, no credentials, the
    /// caller's identity not established.
    #[error("{0}")]
    Collect(#[from] CollectError),
    /// A saved snapshot could not be read or written.
    #[error("{source}")]
    Snapshot {
        path: PathBuf,
        #[source]
        source: SnapshotError,
    },
    /// The rule catalog (built-in, the packs of --rules, the frameworks)
    /// did not load; one line per problem.
    #[error("{}", .0.to_string().trim_end())]
    Rules(LoadErrors),
    /// The configuration file is unusable (its path and line in the message).
    #[error("{source}")]
    Config {
        path: PathBuf,
        #[source]
        source: ConfigError,
    },
    /// A file (or stdout) could not be read, written or created.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Options that do not go together, or a value of the wrong form, seen
    /// when the command runs.
    #[error("{0}")]
    Usage(String),
    /// What a stage (templates, plans, patches, reports, remediation)
    /// refused, in its own words.
    #[error("{0}")]
    Stage(String),
    /// Applying a plan stopped (interrupted, the journal not written).
    #[error("{0}")]
    Remediate(crate::remediate::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(String),
}

/// A remediation error; the account's own error (a command's, from
/// [`crate::remediate::apply::Account`]) comes back as it was, with its
/// hint.
impl From<crate::remediate::Error> for Error {
    fn from(e: crate::remediate::Error) -> Error {
        match e {
            crate::remediate::Error::Account(inner) => match inner.downcast::<Error>() {
                Ok(own) => *own,
                Err(other) => Error::Remediate(crate::remediate::Error::Account(other)),
            },
            e => Error::Remediate(e),
        }
    }
}

impl Error {
    /// The exit code of a run that ends with this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Collect(_)
            | Error::Snapshot { .. }
            | Error::Rules(_)
            | Error::Config { .. }
            | Error::Io { .. }
            | Error::Usage(_)
            | Error::Stage(_)
            | Error::Remediate(_)
            | Error::Runtime(_) => EXIT_ERROR,
        }
    }

    /// What to do about it, on one line, when there is advice to give.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Collect(e) => e.hint(),
            _ => None,
        }
    }

    /// The message for a person: the failure, and the hint on the next
    /// line when there is one.
    pub fn user_message(&self) -> String {
        match self.hint() {
            Some(h) => format!("{self}\n{h}"),
            None => self.to_string(),
        }
    }

    /// What a stage refused, from its error of any type.
    pub fn stage(e: impl std::fmt::Display) -> Error {
        Error::Stage(e.to_string())
    }

    /// `path` could not be read.
    pub fn read(path: &Path, source: std::io::Error) -> Error {
        Error::io("read", path, source)
    }

    /// `path` could not be written.
    pub fn write(path: &Path, source: std::io::Error) -> Error {
        Error::io("write", path, source)
    }

    /// `path` (a directory) could not be created.
    pub fn create(path: &Path, source: std::io::Error) -> Error {
        Error::io("create", path, source)
    }

    /// `action` on `path` failed.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The snapshot at `path` could not be used.
    pub fn snapshot(path: &Path, source: SnapshotError) -> Error {
        Error::Snapshot {
            path: path.to_path_buf(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of_each() -> Vec<Error> {
        vec![
            Error::Collect(CollectError::Config("no region to audit".to_string())),
            Error::snapshot(
                Path::new("s.json"),
                SnapshotError::Refused {
                    path: "s.json".to_string(),
                    why: "too large".to_string(),
                },
            ),
            Error::Rules(LoadErrors(Vec::new())),
            Error::Config {
                path: PathBuf::from("p.toml"),
                source: ConfigError {
                    path: "p.toml".to_string(),
                    line: Some(2),
                    message: "unknown key".to_string(),
                },
            },
            Error::read(
                Path::new("r.json"),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ),
            Error::Usage("--role-name needs --accounts FILE".to_string()),
            Error::stage("a template refused"),
            Error::from(crate::remediate::Error::Interrupted {
                done: 1,
                total: 3,
                pass: 1,
                journal: PathBuf::from("j.json"),
            }),
            Error::Runtime("no threads".to_string()),
        ]
    }

    #[test]
    fn every_variant_exits_2() {
        let all = one_of_each();
        assert_eq!(all.len(), 9, "one of each variant");
        for e in &all {
            assert_eq!(e.exit_code(), EXIT_ERROR, "{e:?}");
        }
    }

    #[test]
    fn the_accounts_own_error_comes_back_with_its_hint() {
        let own = Error::Collect(CollectError::Config("no region to audit".to_string()));
        let back = Error::from(crate::remediate::Error::account(own));
        assert!(
            matches!(back, Error::Collect(CollectError::Config(ref m)) if m == "no region to audit"),
            "{back:?}"
        );
        let other = Error::from(crate::remediate::Error::account("no terminal"));
        assert!(matches!(other, Error::Remediate(_)), "{other:?}");
        assert_eq!(other.user_message(), "no terminal");
    }

    #[test]
    fn each_renders_as_the_line_the_user_reads() {
        let lines: Vec<String> = one_of_each().iter().map(|e| e.user_message()).collect();
        assert_eq!(
            lines,
            [
                "no region to audit",
                "snapshot s.json refused: too large",
                "0 problem(s) in the rules:",
                "p.toml:2: unknown key",
                &format!(
                    "cannot read r.json: {}",
                    std::io::Error::from(std::io::ErrorKind::NotFound)
                ),
                "--role-name needs --accounts FILE",
                "a template refused",
                "interrupted after 1 of 3 change(s); the journal j.json lists each one made",
                "cannot start the async runtime: no threads",
            ]
        );
    }
}
