//! Reporters: one module per output format. They know only findings.

pub mod drift;
pub mod json;
pub mod markdown;
pub mod merge;
pub mod sarif;
pub mod table;

use crate::findings::{Diagnostic, Finding, Severity};

/// What every report shows: the findings of an audit and its context.
pub struct Report<'a> {
    pub account: &'a str,
    pub regions: &'a [String],
    pub pipelines: usize,
    pub findings: &'a [Finding],
    pub diagnostics: &'a [Diagnostic],
}

impl<'a> Report<'a> {
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
