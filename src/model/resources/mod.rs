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

/// A policy text serializes whole (`raw`, `document`, `parse_error`) for
/// a human-readable format (JSON, the snapshot), and as a summary,
/// `{"parsed": bool, "statements": n}`, for a serializer that declares
/// itself not human-readable: the rule binding's when asked for summaries
/// (`rules::engine::cel_value::Policies::Summaries`), for consumers that want a
/// resource's other fields as a value tree and read policies from the
/// model itself (serializing whole documents only to drop them was most of
/// the cost of binding a resource).
impl Serialize for PolicyText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        if !serializer.is_human_readable() {
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
