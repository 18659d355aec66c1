//! `bucket-policy-deny-insecure` and `bucket-policy-deny-unencrypted`: add
//! the reference Deny statement to the bucket policy, **merged**: every
//! existing statement is written back unchanged, and nothing is added when
//! an equivalent statement (by meaning) is already there.

use serde_json::{Value, json};

use super::registry::{
    ApplyFuture, Dedupe, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::aws::iam;
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, PolicyDocument, Snapshot};
use crate::patch::{Edit, path};

/// The statement an action adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deny {
    /// `bucket-policy-deny-insecure`: requests without TLS.
    InsecureTransport,
    /// `bucket-policy-deny-unencrypted`: uploads without SSE-KMS.
    UnencryptedUploads,
}

/// A bucket policy action: adds one Deny statement. On a bucket where it
/// is already planned a later finding adds nothing (the pending policy
/// already holds the statement).
pub struct DenyStatement(pub Deny);

/// `bucket-policy-deny-insecure`.
pub const DENY_INSECURE: DenyStatement = DenyStatement(Deny::InsecureTransport);
/// `bucket-policy-deny-unencrypted`.
pub const DENY_UNENCRYPTED: DenyStatement = DenyStatement(Deny::UnencryptedUploads);

impl FixAction for DenyStatement {
    fn id(&self) -> &'static str {
        match self.0 {
            Deny::InsecureTransport => "bucket-policy-deny-insecure",
            Deny::UnencryptedUploads => "bucket-policy-deny-unencrypted",
        }
    }
    fn summary(&self) -> &'static str {
        match self.0 {
            Deny::InsecureTransport => "Adds DenyInsecureConnections to the bucket policy, merged.",
            Deny::UnencryptedUploads => {
                "Adds DenyUnEncryptedObjectUploads to the bucket policy, merged."
            }
        }
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Safe
    }
    fn dedupe(&self) -> Dedupe {
        Dedupe::SkipIfPlanned
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan(f, cx.snapshot, self, &mut cx.pending_policies).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a, self.0))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(match self.0 {
            Deny::InsecureTransport => TemplateForm {
                writes: "the `DenyInsecureConnections` statement appended to the literal `PolicyDocument` of the bucket's `AWS::S3::BucketPolicy`",
                edits: |_, cx| template_edits(Deny::InsecureTransport, cx),
            },
            Deny::UnencryptedUploads => TemplateForm {
                writes: "the `DenyUnEncryptedObjectUploads` statement appended to the literal `PolicyDocument` of the bucket's `AWS::S3::BucketPolicy`",
                edits: |_, cx| template_edits(Deny::UnencryptedUploads, cx),
            },
        })
    }
}

/// The statement appended to the literal policy document of the
/// bucket's `AWS::S3::BucketPolicy` in the same template.
fn template_edits(kind: Deny, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    let resources = cx.doc["Resources"]
        .as_object()
        .ok_or_else(|| Error::not_edited("the template has no Resources"))?;
    let Some((policy_id, policy)) = resources.iter().find(|(_, r)| {
        r["Type"] == "AWS::S3::BucketPolicy" && r["Properties"]["Bucket"]["Ref"] == cx.logical_id
    }) else {
        return Err(Error::not_edited(format!(
            "no AWS::S3::BucketPolicy of the template names {} by Ref",
            cx.logical_id
        )));
    };
    let doc = &policy["Properties"]["PolicyDocument"];
    let Some(statements) = doc["Statement"].as_array() else {
        let how = doc
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.keys().next().cloned())
            .unwrap_or_else(|| "a value".to_string());
        return Err(Error::not_edited(format!(
            "the policy document of {policy_id} is built with {how}, not written as a list of statements, and is not edited"
        )));
    };
    let mut statement = template_statement(kind, cx.logical_id);
    let base = statement["Sid"].as_str().unwrap_or("Deny").to_string();
    let mut sid = base.clone();
    let mut n = 1;
    while statements.iter().any(|s| s["Sid"] == sid.as_str()) {
        n += 1;
        sid = format!("{base}{n}");
    }
    statement["Sid"] = Value::String(sid);
    Ok(vec![Edit::append(
        policy_id,
        path(&["Properties", "PolicyDocument", "Statement"]),
        statement,
    )])
}

fn statement(kind: Deny, bucket: &str) -> Value {
    if kind == Deny::InsecureTransport {
        json!({"Sid": "DenyInsecureConnections", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
               "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
               "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    } else {
        json!({"Sid": "DenyUnEncryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
               "Resource": format!("arn:aws:s3:::{bucket}/*"),
               "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}})
    }
}

/// The statement as a template writes it: the bucket's ARN by intrinsics.
fn template_statement(kind: Deny, bucket: &str) -> Value {
    let objects = json!({"Fn::Sub": format!("${{{bucket}.Arn}}/*")});
    if kind == Deny::InsecureTransport {
        json!({"Sid": "DenyInsecureConnections", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
               "Resource": [{"Fn::GetAtt": [bucket, "Arn"]}, objects],
               "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    } else {
        json!({"Sid": "DenyUnEncryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
               "Resource": objects,
               "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}})
    }
}

fn already(kind: Deny, doc: &PolicyDocument, bucket_arn: &str) -> bool {
    if kind == Deny::InsecureTransport {
        iam::denies_insecure_transport(doc, bucket_arn)
    } else {
        iam::denies_unencrypted_uploads(doc, bucket_arn)
    }
}

/// The merged policy: the existing document with the statement appended
/// (its Sid made unique), or `None` when an equivalent one is there.
pub fn merged(
    kind: Deny,
    bucket: &str,
    existing: Option<&str>,
) -> Result<Option<Value>, super::Error> {
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let mut doc: Value = match existing {
        Some(text) => serde_json::from_str(text).map_err(|source| super::PolicyError::NotJson {
            policy: "bucket",
            source,
        })?,
        None => json!({"Version": "2012-10-17", "Statement": []}),
    };
    if let Some(text) = existing {
        let parsed = PolicyDocument::parse(text).map_err(|e| super::PolicyError::DoesNotParse {
            policy: "bucket",
            reason: e.to_string(),
        })?;
        if already(kind, &parsed, &bucket_arn) {
            return Ok(None);
        }
    }
    super::append_statement(&mut doc, statement(kind, bucket))?;
    Ok(Some(doc))
}

/// Plans one statement. `pending` is the policy as an earlier planned action
/// on the same bucket leaves it (so that the two statements chain); it is
/// updated to the merged policy.
fn plan(
    f: &Finding,
    s: &Snapshot,
    action: &DenyStatement,
    pending: &mut std::collections::BTreeMap<String, Option<String>>,
) -> Option<PlannedAction> {
    let b = s.resources.buckets.get(&f.resource_arn)?.value()?;
    let collected = match &b.policy {
        Observed::Ok { value } => Some(value.raw.clone()),
        Observed::Absent => None,
        Observed::Unknown { .. } => return None,
    };
    let raw = match pending.get(&f.resource_arn) {
        Some(p) => p.clone(),
        None => collected.clone(),
    };
    let after = merged(action.0, &b.name, raw.as_deref()).ok()??;
    pending.insert(f.resource_arn.clone(), Some(after.to_string()));
    let added = after["Statement"]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .unwrap_or(Value::Null);
    let total = super::statement_count(raw.as_deref());
    let planned = total.saturating_sub(super::statement_count(collected.as_deref()));
    let mut a = step(
        f,
        action,
        format!(
            "add statement {} to the policy of bucket {} (existing statements kept)",
            added["Sid"], b.name
        ),
        super::kept_statements(total, planned),
        json!({ "added_statement": added }),
    );
    a.collected = Some(json!({ "policy": raw }));
    Some(a)
}

async fn apply(c: &RegionClients, a: &PlannedAction, kind: Deny) -> Result<String, NotApplied> {
    let bucket = a.resource_arn.trim_start_matches("arn:aws:s3:::");
    let current = match c.s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(out) => out.policy().map(str::to_string),
        Err(e) if crate::collect::call::is_not_found(&e, &["NoSuchBucketPolicy"]) => None,
        Err(e) => return Err(sdk_failed("s3:GetBucketPolicy", &e)),
    };
    let found = json!({"policy": current});
    // compare by meaning: the text may be reformatted by the service
    let same = match (a.collected()["policy"].as_str(), current.as_deref()) {
        (None, None) => true,
        (Some(x), Some(y)) => match (PolicyDocument::parse(x), PolicyDocument::parse(y)) {
            (Ok(p), Ok(q)) => p.normalized() == q.normalized(),
            _ => x == y,
        },
        _ => false,
    };
    if !same {
        return Err(changed(bucket, a.collected(), &found));
    }
    let Some(doc) =
        merged(kind, bucket, current.as_deref()).map_err(|e| NotApplied::Failed(e.to_string()))?
    else {
        return Err(NotApplied::InPlace(
            "an equivalent statement is already there; nothing written".to_string(),
        ));
    };
    c.s3.put_bucket_policy()
        .bucket(bucket)
        .policy(doc.to_string())
        .send()
        .await
        .map_err(|e| sdk_failed("s3:PutBucketPolicy", &e))?;
    Ok("s3:PutBucketPolicy".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_every_statement_and_adds_once() {
        let existing = r#"{"Version":"2012-10-17","Statement":{"Sid":"DenyInsecureConnections","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#;
        let m = merged(Deny::InsecureTransport, "b", Some(existing))
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("nothing added"));
        let st = m["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(st.len(), 2);
        let original: Value = serde_json::from_str(existing).unwrap_or_default();
        assert_eq!(
            st[0], original["Statement"],
            "existing statement kept as is"
        );
        assert_eq!(st[1]["Sid"], "DenyInsecureConnections2", "Sid made unique");
        // merging again adds nothing
        assert!(
            merged(Deny::InsecureTransport, "b", Some(&m.to_string()))
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none()
        );
        // an equivalent statement written differently counts
        let equivalent = r#"{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"BoolIfExists":{"aws:SecureTransport":false}}}]}"#;
        assert!(
            merged(Deny::InsecureTransport, "b", Some(equivalent))
                .unwrap_or_else(|e| panic!("{e}"))
                .is_none()
        );
        // no policy at all: a new one with just the statement
        let fresh = merged(Deny::UnencryptedUploads, "b", None)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("none"));
        assert_eq!(fresh["Statement"].as_array().map(Vec::len), Some(1));
        assert!(merged(Deny::UnencryptedUploads, "b", Some("not json")).is_err());
    }
}
