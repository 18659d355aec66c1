//! The resource types of a snapshot and the resolved wiring of each
//! pipeline, one module per AWS service (re-exported here).

mod cloudformation;
mod codebuild;
mod codecommit;
mod codedeploy;
mod codepipeline;
mod connections;
mod ecs;
mod eventbridge;
mod iam;
mod kms;
mod s3;
mod wiring;

pub use cloudformation::*;
pub use codebuild::*;
pub use codecommit::*;
pub use codedeploy::*;
pub use codepipeline::*;
pub use connections::*;
pub use ecs::*;
pub use eventbridge::*;
pub use iam::*;
pub use kms::*;
pub use s3::*;
pub use wiring::*;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::policy::PolicyDocument;
use super::secrets::SecretKind;
use super::{Observed, ReadError, Resources};

/// A policy document as returned by AWS, kept both raw and parsed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PolicyText {
    /// The text as AWS returned it (URL-decoded where IAM encodes it).
    pub raw: String,
    /// The normalized parse, when the text parsed.
    #[serde(default)]
    pub document: Option<PolicyDocument>,
    /// Why the text did not parse, when it did not.
    #[serde(default)]
    pub parse_error: Option<String>,
}

thread_local! {
    static SUMMARIZE_POLICIES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every [`PolicyText`] serialized as a summary,
/// `{"parsed": bool, "statements": n}`, instead of its text and parse.
/// For consumers that want a resource's other fields as a value tree and
/// read policies from the model itself (serializing whole documents only to
/// drop them was most of the cost of binding a resource).
pub fn with_policy_summaries<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            SUMMARIZE_POLICIES.with(|c| c.set(self.0));
        }
    }
    let _reset = Reset(SUMMARIZE_POLICIES.with(|c| c.replace(true)));
    f()
}

impl Serialize for PolicyText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        if SUMMARIZE_POLICIES.with(std::cell::Cell::get) {
            let mut m = serializer.serialize_struct("PolicySummary", 2)?;
            m.serialize_field("parsed", &self.document.is_some())?;
            m.serialize_field(
                "statements",
                &self.document.as_ref().map_or(0, |d| d.statements.len()),
            )?;
            return m.end();
        }
        let mut m = serializer.serialize_struct("PolicyText", 3)?;
        m.serialize_field("raw", &self.raw)?;
        m.serialize_field("document", &self.document)?;
        m.serialize_field("parse_error", &self.parse_error)?;
        m.end()
    }
}

impl PolicyText {
    /// Parses a policy text with the one policy parser.
    pub fn parse(text: &str) -> Self {
        let raw = super::policy::decode_policy_text(text).unwrap_or_else(|_| text.to_string());
        let raw = raw.as_str();
        match PolicyDocument::parse(raw) {
            Ok(doc) => PolicyText {
                raw: raw.to_string(),
                document: Some(doc),
                parse_error: None,
            },
            Err(e) => PolicyText {
                raw: raw.to_string(),
                document: None,
                parse_error: Some(e.to_string()),
            },
        }
    }
}

impl Resources {
    /// Calls `f` for every read error recorded on a resource or one of its
    /// fields (the fields each kind declares in
    /// [`crate::collect::kind::Facts::field_errors`]).
    pub fn visit_errors(&self, f: &mut dyn FnMut(&str, &ReadError)) {
        crate::collect::kind::visit_errors(self, f);
    }
}

#[cfg(test)]
mod policy_summary_tests {
    use super::*;

    #[test]
    fn summaries_only_inside_the_closure() {
        let p = PolicyText::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
        );
        let full = serde_json::to_value(&p).unwrap_or_default();
        assert!(full["raw"].is_string() && full["document"].is_object());
        let summary = with_policy_summaries(|| serde_json::to_value(&p)).unwrap_or_default();
        assert_eq!(
            summary,
            serde_json::json!({"parsed": true, "statements": 1})
        );
        // the mode ends with the closure
        assert_eq!(serde_json::to_value(&p).unwrap_or_default(), full);
        let bad = PolicyText::parse("not json");
        let s = with_policy_summaries(|| serde_json::to_value(&bad)).unwrap_or_default();
        assert_eq!(s, serde_json::json!({"parsed": false, "statements": 0}));
    }
}
