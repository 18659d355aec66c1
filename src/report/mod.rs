//! Reporters: one module per output format, for findings (and, in
//! `drift`, for the changes between two snapshots).

pub mod compliance;
pub mod drift;
pub mod escape;
pub mod html;
pub mod json;
pub mod markdown;
pub mod merge;
pub mod paths;
pub mod sarif;
pub mod table;

use crate::findings::{Diagnostic, DiagnosticKind, Finding, Severity};

/// Output formats of the audit and of drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Markdown,
    /// One self-contained HTML page with the wiring diagrams (audit only).
    Html,
}

/// Exit code: clean.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings or drift.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage, configuration, credential or input error.
pub const EXIT_ERROR: u8 = 2;

/// What a command found, for its exit code.
pub enum Outcome<'a> {
    /// An audit's findings and diagnostics.
    Audit {
        findings: &'a [Finding],
        diagnostics: &'a [Diagnostic],
        /// Findings below this severity do not fail the run.
        fail_on: Severity,
        exit_zero: bool,
    },
    /// A drift comparison.
    Drift { changes: usize, exit_zero: bool },
    /// A remediation plan or run: whether anything is left to do.
    Remediation { clean: bool },
    /// A compliance assessment: whether a control fails, whether one could
    /// not be checked.
    Compliance {
        failed: bool,
        not_checked: bool,
        exit_zero: bool,
    },
}

/// The exit-code policy of every command: 0 clean, 1 findings (or drift, or
/// remediation left undone), 2 when part of the audit did not happen (a
/// scope, such as a region's pipelines, could not be listed: that is an
/// error, not a clean run).
pub fn exit_code(o: &Outcome<'_>) -> u8 {
    match o {
        Outcome::Audit {
            findings,
            diagnostics,
            fail_on,
            exit_zero,
        } => {
            if diagnostics
                .iter()
                .any(|d| d.kind == DiagnosticKind::ScopeError)
            {
                EXIT_ERROR
            } else if !exit_zero && findings.iter().any(|f| f.severity >= *fail_on) {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            }
        }
        Outcome::Drift { changes, exit_zero } => {
            if *changes > 0 && !exit_zero {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            }
        }
        Outcome::Compliance {
            failed,
            not_checked,
            exit_zero,
        } => {
            if *failed && !exit_zero {
                EXIT_FINDINGS
            } else if *not_checked {
                EXIT_ERROR
            } else {
                EXIT_OK
            }
        }
        Outcome::Remediation { clean } => {
            if *clean {
                EXIT_OK
            } else {
                EXIT_FINDINGS
            }
        }
    }
}

/// One audited account and region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    pub account: String,
    pub region: String,
}

/// The scopes of one account's regions.
pub fn scopes(account: &str, regions: &[String]) -> Vec<Scope> {
    regions
        .iter()
        .map(|r| Scope {
            account: account.to_string(),
            region: r.clone(),
        })
        .collect()
}

/// What every report shows: the findings of an audit and its context.
pub struct Report<'a> {
    /// Every account and region that was audited (a failed account has none).
    pub scopes: &'a [Scope],
    pub pipelines: usize,
    pub findings: &'a [Finding],
    pub diagnostics: &'a [Diagnostic],
}

impl<'a> Report<'a> {
    /// The audited accounts, sorted.
    pub fn accounts(&self) -> Vec<&'a str> {
        let mut v: Vec<&'a str> = self.scopes.iter().map(|s| s.account.as_str()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The audited regions, sorted.
    pub fn regions(&self) -> Vec<&'a str> {
        let mut v: Vec<&'a str> = self.scopes.iter().map(|s| s.region.as_str()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Findings grouped by pipeline, in report order: (name, ARN, findings).
    pub fn by_pipeline(&self) -> Vec<(&'a str, &'a str, Vec<&'a Finding>)> {
        let mut out: Vec<(&'a str, &'a str, Vec<&'a Finding>)> = Vec::new();
        for f in self.findings {
            match out.last_mut() {
                Some((_, arn, group)) if *arn == f.pipeline_arn => group.push(f),
                _ => out.push((f.pipeline.as_str(), f.pipeline_arn.as_str(), vec![f])),
            }
        }
        out
    }

    /// Findings counted by severity, most severe first.
    pub fn by_severity(&self) -> Vec<(Severity, usize)> {
        Severity::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    self.findings.iter().filter(|f| f.severity == *s).count(),
                )
            })
            .collect()
    }
}
