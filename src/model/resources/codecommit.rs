//! CodeCommit: source repositories.

use super::*;

/// A CodeCommit repository.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub arn: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
    #[serde(default)]
    pub kms_key_id: Option<String>,
}

/// An approval rule template associated with a CodeCommit repository
/// (GetApprovalRuleTemplate): the approvals a pull request into one of its
/// destination branches needs before it can be merged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRuleTemplate {
    pub name: String,
    /// The references (`refs/heads/<branch>`) whose pull requests it
    /// applies to; empty: every branch.
    #[serde(default)]
    pub destination_references: Vec<String>,
    /// One entry per `Approvers` statement; all must be met.
    #[serde(default)]
    pub approvals: Vec<ApprovalRequirement>,
    /// Why the template's content could not be understood, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
}

/// How many approvals a rule needs, and from whom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequirement {
    pub needed: u64,
    /// The approval pool (ARNs, possibly with wildcards); empty: any user
    /// with access to the repository.
    #[serde(default)]
    pub pool: Vec<String>,
}

impl ApprovalRuleTemplate {
    /// Reads a template's content (`Version`, `DestinationReferences`,
    /// `Statements` of type `Approvers`).
    pub fn parse(name: &str, content: &str) -> Self {
        let mut t = ApprovalRuleTemplate {
            name: name.to_string(),
            ..Default::default()
        };
        let v: serde_json::Value = match serde_json::from_str(content) {
            Ok(v) => v,
            Err(e) => {
                t.parse_error = Some(format!("not valid JSON: {e}"));
                return t;
            }
        };
        let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
            match v {
                Some(serde_json::Value::String(s)) => vec![s.clone()],
                Some(serde_json::Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            }
        };
        t.destination_references = strings(v.get("DestinationReferences"));
        let statements = match v.get("Statements") {
            Some(serde_json::Value::Array(a)) => a.clone(),
            _ => {
                t.parse_error = Some("no Statements list".to_string());
                return t;
            }
        };
        for s in &statements {
            if s.get("Type").and_then(|x| x.as_str()) != Some("Approvers") {
                continue;
            }
            let needed = match s.get("NumberOfApprovalsNeeded") {
                Some(n) => match n
                    .as_u64()
                    .or_else(|| n.as_str().and_then(|x| x.parse().ok()))
                {
                    Some(n) => n,
                    None => {
                        t.parse_error = Some("NumberOfApprovalsNeeded is not a number".to_string());
                        continue;
                    }
                },
                None => 1,
            };
            t.approvals.push(ApprovalRequirement {
                needed,
                pool: strings(s.get("ApprovalPoolMembers")),
            });
        }
        t
    }

    /// Whether the template applies to pull requests into `reference`
    /// (`refs/heads/<branch>`).
    pub fn applies_to(&self, reference: &str) -> bool {
        self.destination_references.is_empty()
            || self
                .destination_references
                .iter()
                .any(|r| crate::aws::iam::wildcard(r, reference, false))
    }
}

#[cfg(test)]
mod approval_template_tests {
    use super::*;

    #[test]
    fn content_is_read_as_codecommit_writes_it() {
        let t = ApprovalRuleTemplate::parse(
            "t",
            r#"{"Version":"2018-11-08","DestinationReferences":["refs/heads/main","refs/heads/rel-*"],
               "Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":2,"ApprovalPoolMembers":["arn:aws:sts::1:assumed-role/R/*"]},
                             {"Type":"Approvers","NumberOfApprovalsNeeded":"1"}]}"#,
        );
        assert_eq!(t.parse_error, None);
        assert_eq!(
            t.approvals,
            [
                ApprovalRequirement {
                    needed: 2,
                    pool: vec!["arn:aws:sts::1:assumed-role/R/*".to_string()]
                },
                ApprovalRequirement {
                    needed: 1,
                    pool: Vec::new()
                }
            ]
        );
        assert!(t.applies_to("refs/heads/main") && t.applies_to("refs/heads/rel-2"));
        assert!(!t.applies_to("refs/heads/dev"));
        // no destination: every branch
        let every = ApprovalRuleTemplate::parse("e", r#"{"Statements":[]}"#);
        assert!(every.applies_to("refs/heads/anything") && every.approvals.is_empty());
    }

    #[test]
    fn unreadable_content_is_said_not_guessed() {
        assert!(
            ApprovalRuleTemplate::parse("x", "not json")
                .parse_error
                .is_some()
        );
        assert!(ApprovalRuleTemplate::parse("x", "{}").parse_error.is_some());
        let bad = ApprovalRuleTemplate::parse(
            "x",
            r#"{"Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":"two"}]}"#,
        );
        assert!(bad.parse_error.is_some() && bad.approvals.is_empty());
    }
}
