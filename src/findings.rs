//! Findings and diagnostics: what the rules produce and the reporters print.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lowercase name.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s.to_ascii_lowercase())
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a fix can be applied without changing behaviour people rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FixSafety {
    Safe,
    Unsafe,
}

impl std::fmt::Display for FixSafety {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FixSafety::Safe => "safe",
            FixSafety::Unsafe => "unsafe",
        })
    }
}

/// The fix a finding offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRef {
    pub action: String,
    pub safety: FixSafety,
    /// The fix as a change to the file that defines the resource (template
    /// mode with `--fix-patch`, SARIF `fixes`): verified on its own by
    /// auditing the changed template again. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<FileChange>,
}

/// A change to one file: replacements of byte ranges of its original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The file, relative as the report's locations name it.
    pub file: String,
    /// In ascending order, not overlapping; each offset is into the
    /// original text.
    pub replacements: Vec<Replacement>,
}

/// `length` bytes at `offset` replaced by `inserted` (an insertion when
/// `length` is 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub offset: usize,
    pub length: usize,
    pub inserted: String,
}

impl FileChange {
    /// The replacements between two texts, whole lines at a time.
    pub fn between(file: &str, before: &str, after: &str) -> FileChange {
        fn starts(text: &str) -> Vec<usize> {
            let mut v = vec![0];
            let mut at = 0;
            for line in text.split_inclusive('\n') {
                at += line.len();
                v.push(at);
            }
            v
        }
        let (old, new) = (starts(before), starts(after));
        let diff = similar::TextDiff::from_lines(before, after);
        let mut replacements = Vec::new();
        for op in diff.ops() {
            if matches!(op, similar::DiffOp::Equal { .. }) {
                continue;
            }
            let (o, n) = (op.old_range(), op.new_range());
            let (os, oe) = (
                old[o.start.min(old.len() - 1)],
                old[o.end.min(old.len() - 1)],
            );
            let (ns, ne) = (
                new[n.start.min(new.len() - 1)],
                new[n.end.min(new.len() - 1)],
            );
            replacements.push(Replacement {
                offset: os,
                length: oe - os,
                inserted: after[ns..ne].to_string(),
            });
        }
        FileChange {
            file: file.to_string(),
            replacements,
        }
    }

    /// `text` with the replacements made (`None` when one falls outside it
    /// or off a character boundary).
    pub fn apply(&self, text: &str) -> Option<String> {
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for r in &self.replacements {
            let end = r.offset.checked_add(r.length)?;
            out.push_str(text.get(at..r.offset)?);
            out.push_str(&r.inserted);
            text.get(r.offset..end)?;
            at = end;
        }
        out.push_str(text.get(at..)?);
        Some(out)
    }
}

/// One rule violated by one resource of one pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub slug: String,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub pipeline: String,
    pub pipeline_arn: String,
    /// CloudFormation type name of the resource, e.g. `AWS::S3::Bucket`.
    pub resource_type: String,
    pub resource_arn: String,
    pub region: String,
    pub account: String,
    pub fix: Option<FixRef>,
    pub fingerprint: String,
    /// Where the resource is defined in infrastructure as code (with `--iac`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defined_in: Option<DefinedIn>,
    /// For a release path (RP001-RP009): the chain of steps by which the
    /// principal ships, first to last (SARIF `codeFlows`, the HTML report's
    /// "Who can ship"). Empty for other findings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub witness: Vec<WitnessStep>,
}

/// One step of a release path's witness: who does what to which resource,
/// granted by which statements, on which conditions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessStep {
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// What the step means (`push to refs/heads/main`, `assume role`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The statements granting it (`policy statement N (Sid)`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_by: Vec<String>,
    /// The conditions it depends on, quoted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
}

impl std::fmt::Display for WitnessStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} -> {} on {}",
            self.principal, self.action, self.resource
        )?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        if !self.granted_by.is_empty() {
            write!(f, ", granted by {}", self.granted_by.join("; "))?;
        }
        if !self.conditions.is_empty() {
            write!(f, ", if {}", self.conditions.join(" and "))?;
        }
        Ok(())
    }
}

/// The file and lines of infrastructure as code that define a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinedIn {
    /// The file, relative to `--iac-root`, with `/` separators.
    pub file: String,
    /// First line, 1-based.
    pub start_line: usize,
    /// Last line, inclusive.
    pub end_line: usize,
    /// The CloudFormation stack, when it is a stack's resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// The logical id (CloudFormation), construct path (CDK) or resource
    /// address (Terraform).
    pub resource: String,
    /// The property the finding is about, when the lines are its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
}

impl std::fmt::Display for DefinedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.start_line)
    }
}

/// The stable identity of a finding: the same rule, pipeline and resource
/// give the same fingerprint in every run.
/// The `pipeline` of findings that sit on the account (a build project or
/// a region) rather than on a pipeline; their `pipeline_arn` is the account id.
pub const ACCOUNT_SECTION: &str = "account";

pub fn fingerprint(rule_id: &str, pipeline_arn: &str, resource_arn: &str) -> String {
    let mut h = Sha256::new();
    h.update(rule_id.as_bytes());
    h.update([0]);
    h.update(pipeline_arn.as_bytes());
    h.update([0]);
    h.update(resource_arn.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// What a diagnostic is about; serialized as `collection-gap`,
/// `rule-error`, `ignore-expired`, `ignore-unused`, `scope-error`,
/// `account-error`, `iac-location`, `not-analysed`, `note`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiagnosticKind {
    /// A value a rule needed could not be read.
    CollectionGap,
    /// A rule could not be evaluated.
    RuleError,
    /// An ignore that expired and no longer suppresses.
    IgnoreExpired,
    /// An ignore that matched no finding.
    IgnoreUnused,
    /// A whole scope (a region's pipelines, event rules, key aliases) could not be listed.
    ScopeError,
    /// An account of an organization could not be audited.
    AccountError,
    /// A resource's infrastructure as code could not be located (no
    /// template, several, or its stack could not be read).
    IacLocation,
    /// A value pipeaudit cannot decide (a webhook filter pattern using
    /// look-around, backreferences or another dialect feature): the rule
    /// neither fires nor passes.
    NotAnalysed,
    /// A limit of the audit no permission can lift (service control
    /// policies are not considered, a deploy into an account that is not
    /// audited): listed apart, never changes the exit code.
    Note,
}

impl DiagnosticKind {
    /// The name it is serialized as.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticKind::CollectionGap => "collection-gap",
            DiagnosticKind::RuleError => "rule-error",
            DiagnosticKind::IgnoreExpired => "ignore-expired",
            DiagnosticKind::IgnoreUnused => "ignore-unused",
            DiagnosticKind::ScopeError => "scope-error",
            DiagnosticKind::AccountError => "account-error",
            DiagnosticKind::IacLocation => "iac-location",
            DiagnosticKind::NotAnalysed => "not-analysed",
            DiagnosticKind::Note => "note",
        }
    }

    /// A gap: a check that could not be made (a value a rule needed could
    /// not be read, a rule errored, or a value could not be decided). Exits 2 unless `--allow-partial`.
    pub fn is_gap(self) -> bool {
        matches!(
            self,
            DiagnosticKind::CollectionGap | DiagnosticKind::RuleError | DiagnosticKind::NotAnalysed
        )
    }

    /// An error: part of the audit did not happen (a scope could not be
    /// listed, an account could not be audited). Always exits 2.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            DiagnosticKind::ScopeError | DiagnosticKind::AccountError
        )
    }
}

impl std::fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something the audit could not decide, or a problem with the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub kind: DiagnosticKind,
    /// The account, when several accounts were audited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The IAM action that was denied or failed, for collection gaps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    pub message: String,
}

impl Finding {
    /// Compares in report order: pipeline, severity (most severe first),
    /// rule, resource. It builds no keys: sorting hundreds of thousands of
    /// findings by cloned keys was the largest part of finishing an
    /// organization's audit.
    pub fn report_order(&self, other: &Finding) -> std::cmp::Ordering {
        (
            &self.pipeline_arn,
            std::cmp::Reverse(self.severity),
            &self.rule_id,
            &self.resource_arn,
        )
            .cmp(&(
                &other.pipeline_arn,
                std::cmp::Reverse(other.severity),
                &other.rule_id,
                &other.resource_arn,
            ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_stable_and_distinct() {
        let a = fingerprint("KM003", "arn:p", "arn:k");
        assert_eq!(a, fingerprint("KM003", "arn:p", "arn:k"));
        assert_eq!(a.len(), 32);
        assert_ne!(a, fingerprint("KM003", "arn:p", "arn:k2"));
        assert_ne!(a, fingerprint("KM004", "arn:p", "arn:k"));
        // the separator keeps ("ab","c") and ("a","bc") apart
        assert_ne!(fingerprint("R", "ab", "c"), fingerprint("R", "a", "bc"));
    }

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("nope"), None);
    }

    #[test]
    fn diagnostic_kinds_serialize_as_their_names() {
        let kinds = [
            (DiagnosticKind::CollectionGap, "collection-gap"),
            (DiagnosticKind::RuleError, "rule-error"),
            (DiagnosticKind::IgnoreExpired, "ignore-expired"),
            (DiagnosticKind::IgnoreUnused, "ignore-unused"),
            (DiagnosticKind::ScopeError, "scope-error"),
            (DiagnosticKind::AccountError, "account-error"),
            (DiagnosticKind::IacLocation, "iac-location"),
        ];
        for (kind, name) in kinds {
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.to_string(), name);
            let json = serde_json::to_string(&kind).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(json, format!("\"{name}\""));
            let back: DiagnosticKind =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn a_file_change_replays_the_edit_and_refuses_ranges_outside_the_text() {
        let before = "a: 1\n# keep\nb: 2\nc: 3";
        for after in [
            "a: 1\n# keep\nb: 5\nc: 3",
            "a: 1\n# keep\nb: 2\n  x: y\nc: 3",
            "z: 0\na: 1\n# keep\nc: 3\nd: 4\n",
            "",
        ] {
            let c = FileChange::between("t.yaml", before, after);
            assert_eq!(c.apply(before).as_deref(), Some(after), "{c:?}");
        }
        let c = FileChange::between("t.yaml", before, "a: 1\n# keep\nb: 5\nc: 3");
        assert_eq!(c.replacements.len(), 1);
        assert_eq!(
            &before[c.replacements[0].offset..][..c.replacements[0].length],
            "b: 2\n"
        );
        let outside = FileChange {
            file: "t.yaml".into(),
            replacements: vec![Replacement {
                offset: 100,
                length: 1,
                inserted: String::new(),
            }],
        };
        assert_eq!(outside.apply(before), None);
    }
}
