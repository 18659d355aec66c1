//! The plan as text: each change with what it keeps (before) and writes
//! (after), the unsafe changes held back, and the manual steps grouped by
//! rule with the resources each applies to.

use std::fmt::Write as _;

use serde_json::Value;

use super::{FixPlan, ManualStep, PlannedAction};
use crate::findings::FixSafety;

/// `label: value`: a string as is, short JSON on the same line, longer
/// JSON pretty-printed on the following lines.
fn labeled(out: &mut String, label: &str, v: &Value) {
    let one = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if matches!(v, Value::String(_)) || one.chars().count() <= 96 {
        let _ = writeln!(out, "      {label} {one}");
        return;
    }
    let _ = writeln!(out, "      {}", label.trim_end());
    let pretty = serde_json::to_string_pretty(v).unwrap_or(one);
    for l in pretty.lines() {
        let _ = writeln!(out, "        {l}");
    }
}

fn action(out: &mut String, plan: &FixPlan, a: &PlannedAction, with_values: bool) {
    let safety = if a.safety == FixSafety::Safe {
        "safe"
    } else {
        "unsafe"
    };
    let _ = writeln!(
        out,
        "  [{safety}] {} ({}): {}",
        a.action,
        a.rule_ids.join(", "),
        a.description
    );
    if with_values {
        labeled(out, "before:", &a.before);
        labeled(out, "after: ", &a.after);
    }
    if let Some(m) = plan.iac_managed.get(&a.resource_arn) {
        let _ = writeln!(
            out,
            "      managed by CloudFormation stack {} ({}): applying this creates stack drift that the next stack update reverts; fix it in {}",
            m.stack,
            m.logical_id,
            m.template.as_deref().unwrap_or("the stack's template")
        );
    } else if let Some(why) = plan.iac_unknown.get(&a.resource_arn) {
        let _ = writeln!(
            out,
            "      whether a CloudFormation stack manages it is unknown ({why})"
        );
    }
}

/// The manual steps by rule and text, in the plan's order: (rule, remediation, steps).
pub fn manual_by_rule(plan: &FixPlan) -> Vec<(&str, &str, Vec<&ManualStep>)> {
    let mut groups: Vec<(&str, &str, Vec<&ManualStep>)> = Vec::new();
    for m in &plan.manual {
        // a rule's steps with the same text together (a step left out by
        // a stack-managed resource names its own stack)
        match groups
            .iter_mut()
            .find(|(id, text, _)| *id == m.rule_id && *text == m.remediation)
        {
            Some((_, _, steps)) => steps.push(m),
            None => groups.push((&m.rule_id, &m.remediation, vec![m])),
        }
    }
    groups
}

/// The plan as text.
pub fn render_text(plan: &FixPlan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plan: {} change(s)", plan.actions.len());
    for a in &plan.actions {
        action(&mut out, plan, a, true);
    }
    if !plan.held_back.is_empty() {
        let _ = writeln!(
            out,
            "Held back (unsafe; pass --unsafe-fixes): {}",
            plan.held_back.len()
        );
        for a in &plan.held_back {
            action(&mut out, plan, a, false);
        }
    }
    if !plan.manual.is_empty() {
        let groups = manual_by_rule(plan);
        let rules: std::collections::BTreeSet<&str> =
            groups.iter().map(|(rule, _, _)| *rule).collect();
        let _ = writeln!(
            out,
            "Manual steps (no automated fix yet): {} finding(s) under {} rule(s)",
            plan.manual.len(),
            rules.len()
        );
        for (rule, remediation, steps) in groups {
            // the text once, its further lines aligned after the rule id
            let mut text = remediation.lines();
            let _ = writeln!(out, "  {rule}: {}", text.next().unwrap_or_default());
            let hang = " ".repeat(rule.chars().count() + 4);
            for l in text {
                let _ = writeln!(out, "{hang}{l}");
            }
            for m in steps {
                let _ = writeln!(out, "    - {} {}", m.pipeline, m.resource_arn);
            }
        }
    }
    // names and values come from the account: shown, never emitted raw
    crate::report::escape::control_lines(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manual(rule: &str, pipeline: &str, arn: &str) -> ManualStep {
        ManualStep {
            rule_id: rule.into(),
            pipeline: pipeline.into(),
            resource_arn: arn.into(),
            remediation: format!("fix {rule} by hand"),
        }
    }

    #[test]
    fn manual_steps_are_grouped_by_rule_and_long_values_wrapped() {
        let statement = json!({"Sid": "DenyInsecureConnections", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}});
        let plan = FixPlan {
            actions: vec![PlannedAction {
                action: "bucket-policy-deny-insecure".into(),
                safety: FixSafety::Safe,
                rule_ids: vec!["AB003".into()],
                pipelines: vec!["p".into()],
                resource_arn: "arn:aws:s3:::b".into(),
                region: "us-east-1".into(),
                description: "add a statement".into(),
                before: json!("1 existing statement(s), kept unchanged"),
                after: json!({ "added_statement": statement }),
                collected: Some(json!({"policy": "{}"})),
            }],
            held_back: vec![],
            manual: vec![
                manual("CB002", "p1", "arn:aws:codebuild:us-east-1:1:project/a"),
                manual("CB002", "p2", "arn:aws:codebuild:us-east-1:1:project/b"),
                manual("PL001", "p1", "arn:aws:codepipeline:us-east-1:1:p1"),
            ],
            ..FixPlan::default()
        };
        let text = render_text(&plan);
        assert!(
            text.contains("      before: 1 existing statement(s), kept unchanged\n"),
            "{text}"
        );
        assert!(
            text.contains("      after:\n        {\n          \"added_statement\": {\n            \"Sid\": \"DenyInsecureConnections\",\n"),
            "{text}"
        );
        assert!(!text.contains("\\\""), "no escaped JSON: {text}");
        assert!(!text.contains(" \n"), "no trailing spaces: {text}");
        assert_eq!(text.matches("fix CB002 by hand").count(), 1, "{text}");
        assert!(text.contains(
            "  CB002: fix CB002 by hand\n    - p1 arn:aws:codebuild:us-east-1:1:project/a\n    - p2 arn:aws:codebuild:us-east-1:1:project/b\n  PL001:"
        ), "{text}");
        assert!(text.contains("3 finding(s) under 2 rule(s)"), "{text}");
    }
}
