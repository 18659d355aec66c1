//! Compliance assessment: an evaluation read against one framework. Each
//! control gets a status from the findings and diagnostics of the rules
//! mapped to it (in `rules/<area>/*.yaml`, `compliance:`), the first of
//! these that applies:
//!
//! - `fail`: a mapped rule has an open finding;
//! - `not checked`: a mapped rule could not be evaluated somewhere (a value
//!   it needed could not be read, it failed, it is disabled, it checks
//!   nothing until a setting of `pipeaudit.toml` is set, or a whole scope
//!   or pipeline could not be read), so a pass would not be known;
//! - `accepted`: the mapped rules' only findings are ignored in the
//!   configuration (the reasons are kept);
//! - `pass`: the mapped rules ran everywhere and found nothing;
//! - `manual`: no rule can test it; an auditor checks it by hand.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::findings::{Diagnostic, DiagnosticKind, Finding};
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine::{self, Evaluation};
use crate::rules::frameworks::{Framework, Frameworks};

/// The status of a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Fail,
    NotChecked,
    Accepted,
    Pass,
    Manual,
}

impl Status {
    /// Every status, in precedence order.
    pub const ALL: [Status; 5] = [
        Status::Fail,
        Status::NotChecked,
        Status::Accepted,
        Status::Pass,
        Status::Manual,
    ];

    /// The name shown in reports (`not checked` with a space).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Fail => "fail",
            Status::NotChecked => "not checked",
            Status::Accepted => "accepted",
            Status::Pass => "pass",
            Status::Manual => "manual",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A finding accepted by an ignore of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Accepted {
    pub rule_id: String,
    pub resource: String,
    pub reason: String,
}

/// One control's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    pub section: String,
    pub status: Status,
    /// The rules mapped to the control.
    pub rules: Vec<String>,
    /// Distinct resources with an open finding of a mapped rule.
    pub failing_resources: usize,
    /// The ignored findings of the mapped rules, with their reasons.
    pub accepted: Vec<Accepted>,
    /// Why the control could not be checked (when not failing).
    pub not_checked: Vec<String>,
    /// Why an auditor checks it by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
}

/// A framework assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub framework: Framework,
    pub rows: Vec<Row>,
}

impl Assessment {
    /// Controls counted by status, in precedence order.
    pub fn counts(&self) -> Vec<(Status, usize)> {
        Status::ALL
            .iter()
            .map(|s| (*s, self.rows.iter().filter(|r| r.status == *s).count()))
            .collect()
    }

    /// Controls a rule checks (every control not manual).
    pub fn automated(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status != Status::Manual)
            .count()
    }

    /// Controls that pass.
    pub fn passing(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.status == Status::Pass)
            .count()
    }

    /// The share of automated controls that pass, in percent (rounded
    /// down; 100 when there is none).
    pub fn passing_percent(&self) -> usize {
        match self.automated() {
            0 => 100,
            n => self.passing() * 100 / n,
        }
    }

    /// The one-line total: how many controls pass, and the rest by status.
    pub fn total_line(&self) -> String {
        let rest: Vec<String> = self
            .counts()
            .into_iter()
            .filter(|(s, n)| *s != Status::Pass && *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        format!(
            "{} of {} automated control(s) pass ({}%){}",
            self.passing(),
            self.automated(),
            self.passing_percent(),
            if rest.is_empty() {
                String::new()
            } else {
                format!("; {}", rest.join(", "))
            }
        )
    }

    /// The exit code, as for an audit ([`crate::report::decide`]): 2 for
    /// an error (`errors`: a scope or an account that could not be
    /// audited, or such a diagnostic) or a gap among `diagnostics` (a value
    /// a rule needed could not be read, a rule that errored) unless
    /// `allow_partial`; else 1 when a control fails (unless `exit_zero`);
    /// else 0. A control not checked because its rule is disabled or needs
    /// a setting is listed as such and does not change the code.
    pub fn exit_code(
        &self,
        diagnostics: &[Diagnostic],
        errors: bool,
        exit_zero: bool,
        allow_partial: bool,
    ) -> u8 {
        crate::report::exit_code(&crate::report::CommandFindings::Compliance {
            failed: self.rows.iter().any(|r| r.status == Status::Fail),
            not_checked: diagnostics.iter().any(|d| d.kind.is_gap()),
            errors: errors || diagnostics.iter().any(|d| d.kind.is_error()),
            exit_zero,
            allow_partial,
        })
    }
}

/// An evaluation split for the assessment: open findings, findings the
/// configuration accepts (with reasons), diagnostics.
#[derive(Debug, Clone, Default)]
pub struct Acceptance {
    pub evaluation: Evaluation,
    pub accepted: Vec<(Finding, Accepted)>,
}

/// The configuration without its ignores: evaluate with it, then
/// [`accept`] with the whole configuration, to keep what the ignores
/// suppress.
pub fn without_ignores(config: &Config) -> Config {
    Config {
        ignore: Vec::new(),
        ..config.clone()
    }
}

/// Applies the configuration's ignores (and severity overrides) to an
/// evaluation made with [`without_ignores`], keeping the findings they
/// suppress with the reason of the ignore.
pub fn accept(mut evaluation: Evaluation, config: &Config) -> Acceptance {
    let today = engine::today();
    let all = evaluation.findings.clone();
    engine::finish(&mut evaluation, config);
    let open: BTreeSet<&str> = evaluation
        .findings
        .iter()
        .map(|f| f.fingerprint.as_str())
        .collect();
    let mut accepted: Vec<(Finding, Accepted)> = all
        .iter()
        .filter(|f| !open.contains(f.fingerprint.as_str()))
        .filter_map(|f| {
            engine::accepted_by(config, f, &today).map(|ig| {
                (
                    f.clone(),
                    Accepted {
                        rule_id: f.rule_id.clone(),
                        resource: f.resource_arn.clone(),
                        reason: ig.reason.clone(),
                    },
                )
            })
        })
        .collect();
    accepted.sort_by(|a, b| a.1.cmp(&b.1));
    accepted.dedup_by(|a, b| a.1 == b.1);
    Acceptance {
        evaluation,
        accepted,
    }
}

/// Whether a diagnostic means that `rule` was not evaluated somewhere:
/// its own gaps and errors, and those that stop every rule (a pipeline
/// whose declaration could not be read, a scope or an account that could
/// not be listed), and a note that the pipeline deploys stacks or to
/// deployment groups in an account that is not audited, for the rules
/// that check deployed stacks or deployment groups.
fn blocks(d: &Diagnostic, rule: &str, rules: &RuleSet) -> bool {
    match d.kind {
        DiagnosticKind::CollectionGap | DiagnosticKind::RuleError | DiagnosticKind::NotAnalysed => {
            d.rule_id
                .as_deref()
                .is_none_or(|r| r.eq_ignore_ascii_case(rule))
        }
        DiagnosticKind::ScopeError | DiagnosticKind::AccountError => true,
        // a resource whose template was not found was still checked
        DiagnosticKind::IgnoreExpired
        | DiagnosticKind::IgnoreUnused
        | DiagnosticKind::IacLocation => false,
        DiagnosticKind::Note => {
            let Some(resource) = d.resource.as_deref() else {
                return false;
            };
            let reads = |vars: &[&str]| {
                rules
                    .get(rule)
                    .is_some_and(|r| vars.iter().any(|v| r.reads.var(v)))
            };
            if crate::rules::engine::is_unaudited_stack(resource) {
                reads(&["stacks"])
            } else if crate::rules::engine::is_unaudited_group(resource) {
                reads(&crate::rules::engine::GROUP_VARIABLES)
            } else {
                false
            }
        }
    }
}

/// At most this many reasons per control for `not checked`.
pub const MAX_REASONS: usize = 20;

/// Assesses one framework: a row per control, in the framework's order.
pub fn assess(
    framework: &Framework,
    frameworks: &Frameworks,
    rules: &RuleSet,
    config: &Config,
    outcome: &Acceptance,
) -> Assessment {
    let mapped = frameworks.rules_by_control(framework, rules);
    let findings = &outcome.evaluation.findings;
    let diagnostics = &outcome.evaluation.diagnostics;
    let rows = framework
        .controls
        .iter()
        .map(|c| {
            let ids: Vec<String> = mapped
                .get(&c.id)
                .map(|v| v.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default();
            let has = |rule: &str, f: &Finding| f.rule_id.eq_ignore_ascii_case(rule);
            let failing: BTreeSet<(&str, &str)> = findings
                .iter()
                .filter(|f| ids.iter().any(|r| has(r, f)))
                .map(|f| (f.account.as_str(), f.resource_arn.as_str()))
                .collect();
            let accepted: Vec<Accepted> = outcome
                .accepted
                .iter()
                .filter(|(f, _)| ids.iter().any(|r| has(r, f)))
                .map(|(_, a)| a.clone())
                .collect();
            let mut not_checked: Vec<String> = Vec::new();
            for r in &ids {
                if config.disabled.iter().any(|d| d.eq_ignore_ascii_case(r)) {
                    not_checked.push(format!("{r} is disabled in the configuration"));
                } else if let Some(rule) = rules.get(r)
                    && !config.rule_enabled(&rule.file.id, &rule.file.slug, rule.file.enabled)
                {
                    not_checked.push(format!(
                        "{r} is off unless `[rules.{}] enabled = true` is set in pipeaudit.toml",
                        rule.file.slug
                    ));
                }
                if let Some(rule) = rules.get(r)
                    && rule.file.scope == crate::rules::Scope::Account
                    && !outcome.evaluation.account_checks
                {
                    not_checked.push(format!(
                        "{r} checks only with --account-checks (build project webhooks and source credentials)"
                    ));
                }
                let switch = rules.get(r).and_then(|x| x.file.requires_config.as_deref());
                if let Some(key) = switch
                    && config.is_set(key) == Some(false)
                {
                    not_checked.push(format!(
                        "{r} checks nothing until `{key}` is set in pipeaudit.toml"
                    ));
                }
            }
            let mut seen = BTreeSet::new();
            for d in diagnostics {
                if ids.iter().any(|r| blocks(d, r, rules)) && seen.insert(d.message.as_str()) {
                    not_checked.push(d.message.clone());
                }
            }
            if ids.is_empty() && c.manual.is_none() {
                not_checked.push("no rule maps this control".to_string());
            }
            let status = if c.manual.is_some() && ids.is_empty() {
                Status::Manual
            } else if !failing.is_empty() {
                Status::Fail
            } else if !not_checked.is_empty() {
                Status::NotChecked
            } else if !accepted.is_empty() {
                Status::Accepted
            } else {
                Status::Pass
            };
            if status == Status::Fail {
                not_checked.clear();
            }
            let total = not_checked.len();
            if total > MAX_REASONS {
                not_checked.truncate(MAX_REASONS);
                not_checked.push(format!("... and {} more", total - MAX_REASONS));
            }
            Row {
                id: c.id.clone(),
                title: c.title.clone(),
                section: c.section.clone(),
                status,
                rules: ids,
                failing_resources: failing.len(),
                accepted,
                not_checked,
                manual: c.manual.clone(),
            }
        })
        .collect();
    Assessment {
        framework: framework.clone(),
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::EXIT_ERROR;
    use crate::rules::frameworks::Control;

    fn finding(rule: &str, resource: &str) -> Finding {
        Finding {
            rule_id: rule.into(),
            slug: "s".into(),
            severity: crate::findings::Severity::High,
            title: "t".into(),
            message: "m".into(),
            pipeline: "p".into(),
            pipeline_arn: "arn:p".into(),
            resource_type: "AWS::S3::Bucket".into(),
            resource_arn: resource.into(),
            region: "us-east-1".into(),
            account: "111122223333".into(),
            fix: None,
            fingerprint: crate::findings::fingerprint(rule, "arn:p", resource),
            defined_in: None,
            witness: Vec::new(),
        }
    }

    fn gap(rule: Option<&str>, kind: DiagnosticKind) -> Diagnostic {
        Diagnostic {
            kind,
            account: None,
            rule_id: rule.map(str::to_string),
            pipeline: Some("p".into()),
            resource: None,
            permission: Some("kms:GetKeyRotationStatus".into()),
            message: format!("{} not checked", rule.unwrap_or("pipeline")),
        }
    }

    /// A framework whose controls map to one built-in rule each.
    fn setup() -> (Framework, Frameworks, RuleSet) {
        let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
        let frameworks = Frameworks::builtin().unwrap_or_else(|e| panic!("{e}"));
        let fw = frameworks
            .get("cis-aws-foundations-v3.0")
            .cloned()
            .unwrap_or_else(|| panic!("no cis framework"));
        (fw, frameworks, rules)
    }

    fn status(a: &Assessment, id: &str) -> Status {
        a.rows
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.status)
            .unwrap_or_else(|| panic!("no row {id}"))
    }

    #[test]
    fn a_deploy_into_an_unaudited_account_leaves_the_stack_rules_unchecked() {
        let (_, _, rules) = setup();
        let mut note = gap(None, DiagnosticKind::Note);
        note.permission = None;
        note.resource = Some("arn:aws:cloudformation:us-east-1:222222222222:stack/app".to_string());
        for r in ["CD010", "CD011", "CD012"] {
            assert!(blocks(&note, r, &rules), "{r}");
        }
        assert!(!blocks(&note, "KM003", &rules));
        // a note about anything else checks as before
        note.resource = None;
        assert!(!blocks(&note, "CD012", &rules));
    }

    #[test]
    fn a_group_in_an_unaudited_account_leaves_the_group_rules_unchecked() {
        let (_, _, rules) = setup();
        let mut note = gap(None, DiagnosticKind::Note);
        note.permission = None;
        note.resource =
            Some("arn:aws:codedeploy:us-east-1:222222222222:deploymentgroup:app/prod".to_string());
        for r in [
            "CD001", "CD002", "CD003", "CD004", "CD005", "CD006", "CD007", "CD008", "CD009",
            "CD013", "CD016",
        ] {
            assert!(blocks(&note, r, &rules), "{r}");
        }
        // the stack rules and the others are not about the group
        for r in ["CD010", "CD012", "KM003"] {
            assert!(!blocks(&note, r, &rules), "{r}");
        }
    }

    #[test]
    fn statuses_follow_their_precedence() {
        let (fw, frameworks, rules) = setup();
        let config = Config::default();
        // 3.6 <- KM003, 2.1.1 <- AB005, 2.1.4 <- AB006, 1.16 <- IA001
        let outcome = Acceptance {
            evaluation: Evaluation {
                findings: vec![finding("KM003", "arn:k"), finding("KM003", "arn:k2")],
                diagnostics: vec![
                    gap(Some("KM003"), DiagnosticKind::CollectionGap),
                    gap(Some("AB005"), DiagnosticKind::CollectionGap),
                    gap(Some("AB006"), DiagnosticKind::IgnoreUnused),
                ],
                pipelines: 1,
                account_checks: false,
            },
            accepted: vec![
                (
                    finding("AB005", "arn:b"),
                    Accepted {
                        rule_id: "AB005".into(),
                        resource: "arn:b".into(),
                        reason: "r1".into(),
                    },
                ),
                (
                    finding("AB006", "arn:b"),
                    Accepted {
                        rule_id: "AB006".into(),
                        resource: "arn:b".into(),
                        reason: "legacy".into(),
                    },
                ),
            ],
        };
        let a = assess(&fw, &frameworks, &rules, &config, &outcome);
        assert_eq!(status(&a, "3.6"), Status::Fail);
        assert_eq!(
            a.rows
                .iter()
                .find(|r| r.id == "3.6")
                .map(|r| r.failing_resources),
            Some(2)
        );
        assert_eq!(status(&a, "2.1.1"), Status::NotChecked);
        assert_eq!(status(&a, "2.1.4"), Status::Accepted);
        assert_eq!(status(&a, "1.16"), Status::Pass);
        // a gap: 2 whether or not a control fails
        let d = &outcome.evaluation.diagnostics;
        assert_eq!(a.exit_code(d, false, false, false), EXIT_ERROR);
        assert_eq!(a.exit_code(d, false, true, false), EXIT_ERROR);
        // --allow-partial: as the failing control says
        assert_eq!(
            a.exit_code(d, false, false, true),
            crate::report::EXIT_FINDINGS
        );
        assert_eq!(a.exit_code(d, false, true, true), crate::report::EXIT_OK);
        // an error is 2 whatever the options
        assert_eq!(a.exit_code(d, true, true, true), EXIT_ERROR);
        // without the gaps (and 2.1.1 still not checked): as the failing control says
        assert_eq!(
            a.exit_code(&[], false, false, false),
            crate::report::EXIT_FINDINGS
        );
        assert_eq!(a.passing(), 1);
        assert_eq!(a.passing_percent(), 25);
    }

    #[test]
    fn a_gap_of_no_rule_or_a_disabled_rule_leaves_controls_unchecked() {
        let (fw, frameworks, rules) = setup();
        let outcome = Acceptance {
            evaluation: Evaluation {
                diagnostics: vec![gap(None, DiagnosticKind::CollectionGap)],
                ..Evaluation::default()
            },
            accepted: Vec::new(),
        };
        let a = assess(&fw, &frameworks, &rules, &Config::default(), &outcome);
        assert!(a.rows.iter().all(|r| r.status == Status::NotChecked));
        assert_eq!(
            a.exit_code(&outcome.evaluation.diagnostics, false, true, false),
            EXIT_ERROR
        );
        let config = Config {
            disabled: vec!["km003".into()],
            ..Config::default()
        };
        let a = assess(&fw, &frameworks, &rules, &config, &Acceptance::default());
        assert_eq!(status(&a, "3.6"), Status::NotChecked);
        assert_eq!(status(&a, "1.16"), Status::Pass);
        // not checked by choice (a disabled rule) is no gap: as the findings say
        assert_eq!(
            a.exit_code(&[], false, false, false),
            crate::report::EXIT_OK
        );
    }

    #[test]
    fn manual_controls_are_counted_apart() {
        let (_, frameworks, rules) = setup();
        let fw = Framework {
            id: "cis-aws-foundations-v3.0".into(),
            controls: vec![Control {
                id: "9.9".into(),
                title: "by hand".into(),
                section: "s".into(),
                manual: Some("read the logs".into()),
            }],
            ..frameworks.list[0].clone()
        };
        let a = assess(
            &fw,
            &frameworks,
            &rules,
            &Config::default(),
            &Acceptance::default(),
        );
        assert_eq!(a.rows[0].status, Status::Manual);
        assert_eq!(a.automated(), 0);
        assert_eq!(a.passing_percent(), 100);
        assert!(a.total_line().contains("1 manual"), "{}", a.total_line());
    }
}
