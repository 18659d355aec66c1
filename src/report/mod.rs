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

/// The project's repository (Cargo.toml's `repository`); empty when the
/// manifest names none.
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// The base URL of the rule pages (`<base>/<ID>.md`) that reports link to:
/// `docs_url` when given, else `docs/rules` of this version's release tag
/// in `repository`, else none (the reports then carry the rule text only).
pub fn docs_base(docs_url: Option<&str>, repository: &str) -> Option<String> {
    if let Some(url) = docs_url {
        return Some(url.trim_end_matches('/').to_string());
    }
    let repository = repository.trim().trim_end_matches('/');
    (!repository.is_empty()).then(|| {
        format!(
            "{repository}/blob/v{}/docs/rules",
            env!("CARGO_PKG_VERSION")
        )
    })
}

/// The page of rule `id` under `base`.
pub fn rule_page(base: &str, id: &str) -> String {
    format!(
        "{}/{}.md",
        base.trim_end_matches('/'),
        urlencoding::encode(id)
    )
}

/// Exit code: clean.
pub const EXIT_OK: u8 = 0;
/// Exit code: findings or drift.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: usage, configuration, credential or input error.
pub const EXIT_ERROR: u8 = 2;

/// What a command found, for its exit code.
pub enum CommandFindings<'a> {
    /// An audit's findings and diagnostics.
    Audit {
        findings: &'a [Finding],
        diagnostics: &'a [Diagnostic],
        /// Findings below this severity do not fail the run.
        fail_on: Severity,
        exit_zero: bool,
        allow_partial: bool,
    },
    /// A drift comparison.
    Drift { changes: usize, exit_zero: bool },
    /// A remediation plan or run: whether anything is left to do.
    Remediation { clean: bool },
    /// A compliance assessment: whether a control fails, whether one could
    /// not be checked, whether part of the audit did not happen.
    Compliance {
        failed: bool,
        not_checked: bool,
        errors: bool,
        exit_zero: bool,
        allow_partial: bool,
    },
}

/// What a run came to, whatever the command and the format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Part of the run did not happen (a scope that could not be listed,
    /// an account that could not be audited).
    pub errors: bool,
    /// A check could not be made: a value a rule needed could not be
    /// read, or a rule errored.
    pub gaps: bool,
    /// Findings at or above `--fail-on` (drift, a failing control, a fix
    /// left undone).
    pub findings: bool,
}

/// How the caller asked gaps and findings to count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExitPolicy {
    /// `--exit-zero`: findings do not force 1.
    pub exit_zero: bool,
    /// `--allow-partial`: gaps do not force 2.
    pub allow_partial: bool,
}

/// The exit code of every command and format: 2 for an error, or a gap
/// unless `--allow-partial`; else 1 for findings unless `--exit-zero`;
/// else 0. Notes never count.
pub fn decide(v: Verdict, p: ExitPolicy) -> u8 {
    if v.errors || (v.gaps && !p.allow_partial) {
        EXIT_ERROR
    } else if v.findings && !p.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// The verdict of an audit's findings and diagnostics.
pub fn audit_verdict(
    findings: &[Finding],
    diagnostics: &[Diagnostic],
    fail_on: Severity,
) -> Verdict {
    Verdict {
        errors: diagnostics.iter().any(|d| d.kind.is_error()),
        gaps: diagnostics.iter().any(|d| d.kind.is_gap()),
        findings: findings.iter().any(|f| f.severity >= fail_on),
    }
}

/// The exit code of a command's outcome (see [`decide`]).
pub fn exit_code(o: &CommandFindings<'_>) -> u8 {
    match o {
        CommandFindings::Audit {
            findings,
            diagnostics,
            fail_on,
            exit_zero,
            allow_partial,
        } => decide(
            audit_verdict(findings, diagnostics, *fail_on),
            ExitPolicy {
                exit_zero: *exit_zero,
                allow_partial: *allow_partial,
            },
        ),
        CommandFindings::Drift { changes, exit_zero } => decide(
            Verdict {
                findings: *changes > 0,
                ..Verdict::default()
            },
            ExitPolicy {
                exit_zero: *exit_zero,
                allow_partial: false,
            },
        ),
        CommandFindings::Compliance {
            failed,
            not_checked,
            errors,
            exit_zero,
            allow_partial,
        } => decide(
            Verdict {
                errors: *errors,
                gaps: *not_checked,
                findings: *failed,
            },
            ExitPolicy {
                exit_zero: *exit_zero,
                allow_partial: *allow_partial,
            },
        ),
        CommandFindings::Remediation { clean } => decide(
            Verdict {
                findings: !clean,
                ..Verdict::default()
            },
            ExitPolicy::default(),
        ),
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

/// The diagnostics of a report by what they mean for the reader.
#[derive(Debug, Default)]
pub struct DiagnosticGroups<'a> {
    /// Gaps and errors: checks that could not be made.
    pub not_checked: Vec<&'a Diagnostic>,
    /// Ignores of the configuration that expired or matched nothing.
    pub ignores: Vec<&'a Diagnostic>,
    /// Limits no permission can lift; they never change the exit code.
    pub notes: Vec<&'a Diagnostic>,
    /// Findings whose infrastructure as code could not be located.
    pub unlocated: Vec<&'a Diagnostic>,
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

    /// The diagnostics in the groups every report lists apart.
    pub fn diagnostic_groups(&self) -> DiagnosticGroups<'a> {
        let mut g = DiagnosticGroups::default();
        for d in self.diagnostics {
            match d.kind {
                DiagnosticKind::IacLocation => g.unlocated.push(d),
                DiagnosticKind::Note => g.notes.push(d),
                DiagnosticKind::IgnoreExpired | DiagnosticKind::IgnoreUnused => g.ignores.push(d),
                _ => g.not_checked.push(d),
            }
        }
        g
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
