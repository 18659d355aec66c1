//! The re-audit after applying: which planned changes are proven fixed,
//! which are still found, and which cannot be told because the values their
//! rules need could not be read again (never counted as fixed).

use std::collections::BTreeSet;

use serde::Serialize;

use super::{Applied, FixPlan, PlannedAction};
use crate::model::{Observed, Snapshot};
use crate::rules::engine::Evaluation;

/// At most this many plan-apply-re-audit passes in one run.
pub const MAX_PASSES: usize = 3;

/// Where one planned change stands after the re-audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Applied, and its findings are gone on values read again.
    Fixed,
    /// Its findings are still reported.
    Remaining,
    /// Its findings are gone, but the values they need could not be read.
    Unverified,
    /// Not applied (skipped or failed); see the journal.
    NotApplied,
}

/// One planned change and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub action: String,
    pub resource_arn: String,
    pub rule_ids: Vec<String>,
    pub pass: usize,
    pub status: Status,
}

/// The result of `--remediate` (the JSON document printed with
/// `--format json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// The first plan, as shown before anything was applied.
    pub plan: FixPlan,
    /// How many plan-apply-re-audit passes ran (at most [`MAX_PASSES`]).
    pub passes: usize,
    /// Every change attempted, in order, as journaled.
    pub applied: Vec<Applied>,
    /// Every planned change and where it stands.
    pub changes: Vec<Verified>,
    /// Findings reported by the final re-audit.
    pub findings_remaining: usize,
    /// Values the final re-audit could not read.
    pub collection_gaps: usize,
}

impl RunReport {
    /// How many changes stand at `s`.
    pub fn count(&self, s: Status) -> usize {
        self.changes.iter().filter(|c| c.status == s).count()
    }

    /// Exit 0 only when every planned change was applied and proven fixed.
    pub fn clean(&self) -> bool {
        self.changes.iter().all(|c| c.status == Status::Fixed)
    }
}

/// The identity of a change across passes: the same action on the same
/// resource is never attempted twice in one run.
pub fn key(a: &PlannedAction) -> (String, String) {
    (a.action.clone(), a.resource_arn.clone())
}

/// Where `a` (applied with `outcome`) stands after the re-audit of `after`.
pub fn status(a: &PlannedAction, applied: bool, after: &Snapshot, re: &Evaluation) -> Status {
    if !applied {
        return Status::NotApplied;
    }
    let still = re
        .findings
        .iter()
        .any(|f| f.resource_arn == a.resource_arn && a.rule_ids.contains(&f.rule_id));
    if still {
        return Status::Remaining;
    }
    // Gone is proof only when the pipeline was read again, and none of the
    // values the rules need (nor the resource itself) is a gap.
    let pipelines: BTreeSet<&str> = a.pipelines.iter().map(String::as_str).collect();
    let read_again = after.pipelines.iter().any(|w| {
        pipelines.contains(w.name.as_str())
            && w.region == a.region
            && matches!(
                after.resources.pipelines.get(&w.arn),
                Some(Observed::Ok { .. })
            )
    });
    let gap = re.diagnostics.iter().any(|d| {
        d.kind == crate::findings::DiagnosticKind::CollectionGap
            && (d.resource.as_deref() == Some(a.resource_arn.as_str())
                || d.pipeline.as_deref().is_some_and(|p| pipelines.contains(p))
                    && d.rule_id.as_ref().is_none_or(|r| a.rule_ids.contains(r)))
    });
    let scope_failed = after.scope_errors.iter().any(|e| e.region == a.region);
    if !read_again || gap || scope_failed {
        Status::Unverified
    } else {
        Status::Fixed
    }
}

/// The actions of `next` not yet attempted in this run.
pub fn new_actions(next: &FixPlan, attempted: &BTreeSet<(String, String)>) -> Vec<PlannedAction> {
    next.actions
        .iter()
        .filter(|a| !attempted.contains(&key(a)))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::{Diagnostic, FixSafety};
    use crate::model::{Pipeline, PipelineWiring};

    fn action() -> PlannedAction {
        PlannedAction {
            action: "key-rotation".into(),
            safety: FixSafety::Safe,
            rule_ids: vec!["KM003".into()],
            pipelines: vec!["p".into()],
            resource_arn: "arn:aws:kms:us-east-1:1:key/k".into(),
            region: "us-east-1".into(),
            description: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            collected: None,
        }
    }

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::new("1".into(), vec!["us-east-1".into()], String::new());
        let arn = "arn:aws:codepipeline:us-east-1:1:p".to_string();
        s.pipelines.push(PipelineWiring {
            name: "p".into(),
            arn: arn.clone(),
            region: "us-east-1".into(),
            ..PipelineWiring::default()
        });
        s.resources
            .pipelines
            .insert(arn, Observed::ok(Pipeline::default()));
        s
    }

    fn eval(diagnostics: Vec<Diagnostic>) -> Evaluation {
        Evaluation {
            findings: Vec::new(),
            diagnostics,
            pipelines: 1,
            account_checks: false,
        }
    }

    #[test]
    fn gone_on_values_read_again_is_fixed() {
        assert_eq!(
            status(&action(), true, &snapshot(), &eval(vec![])),
            Status::Fixed
        );
        assert_eq!(
            status(&action(), false, &snapshot(), &eval(vec![])),
            Status::NotApplied
        );
    }

    #[test]
    fn gone_because_unreadable_is_not_fixed() {
        let gap = Diagnostic {
            kind: crate::findings::DiagnosticKind::CollectionGap,
            account: None,
            rule_id: Some("KM003".into()),
            pipeline: Some("p".into()),
            resource: Some("arn:aws:kms:us-east-1:1:key/k".into()),
            permission: Some("kms:GetKeyRotationStatus".into()),
            message: String::new(),
        };
        assert_eq!(
            status(&action(), true, &snapshot(), &eval(vec![gap])),
            Status::Unverified
        );
        // the pipeline itself was not read again
        let mut s = snapshot();
        s.pipelines.clear();
        assert_eq!(
            status(&action(), true, &s, &eval(vec![])),
            Status::Unverified
        );
    }
}
