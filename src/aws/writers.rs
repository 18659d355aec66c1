//! Who besides the pipeline's own roles may write or delete objects in an
//! artifact bucket, by its bucket policy: the principals an Allow statement
//! names for `s3:PutObject`, `s3:DeleteObject` or `s3:DeleteObjectVersion`
//! on the bucket's objects; and, read the same way, who may push images to
//! an ECR repository by its repository policy (`ecr:PutImage`).
//!
//! - Everyone (`*`) counts unless the statement binds the caller to the
//!   organization (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`) or to
//!   accounts that are this one or trusted (`aws:PrincipalAccount`).
//! - Another account (its id or root) counts unless it is trusted.
//! - A role or user of this account counts unless it is one of the
//!   pipeline's own roles; of another account, unless that account is trusted.
//! - The account's own root delegates to IAM policies: not counted here (a
//!   role of this account writes only if its identity policy lets it).
//! - AWS service principals (log delivery, say) are not counted.
//!
//! A principal whose write an unconditional Deny of the same policy refuses
//! is not counted.

use crate::aws::iam::{self, Who};
use crate::model::PolicyDocument;
use crate::model::policy::{Effect, Statement, base_operator};

const WRITES: &[&str] = &["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"];

/// The principals other than `own_roles` that the bucket policy lets write
/// objects, each described once (`*`, `account 111122223333`, or an ARN).
pub fn other_writers(
    doc: &PolicyDocument,
    bucket_arn: &str,
    account: &str,
    own_roles: &[&str],
    trusted_accounts: &[String],
) -> Vec<String> {
    let object = format!("{bucket_arn}/pipeaudit-probe");
    other_principals(doc, WRITES, &object, account, own_roles, trusted_accounts)
}

/// What pushes an image to an ECR repository (and so can move a tag).
const PUSHES: &[&str] = &["ecr:PutImage"];

/// The principals other than `own_roles` that an ECR repository policy
/// lets push images (`ecr:PutImage`), by the same reading as
/// [`other_writers`] (a repository policy names no resource: the statement
/// is about the repository itself).
pub fn other_pushers(
    doc: &PolicyDocument,
    repository_arn: &str,
    account: &str,
    own_roles: &[&str],
) -> Vec<String> {
    other_principals(doc, PUSHES, repository_arn, account, own_roles, &[])
}

/// The principals other than `own_roles` that an Allow of the resource
/// policy `doc` grants one of `actions` on `object`.
fn other_principals(
    doc: &PolicyDocument,
    actions: &[&str],
    object: &str,
    account: &str,
    own_roles: &[&str],
    trusted_accounts: &[String],
) -> Vec<String> {
    let object = object.to_string();
    let trusted = |acct: &str| acct == account || trusted_accounts.iter().any(|t| t == acct);
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for s in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
        let Some(action) = actions
            .iter()
            .find(|a| iam::action_matches(s, a) && iam::resource_matches(s, &object))
        else {
            continue;
        };
        let denied_for = |arn: &str| iam::evaluate(doc, Who::Role(arn), action, &object).denied;
        if s.not_principal.is_some() {
            // "everyone but": nearly everyone
            if !bound(s, &trusted) {
                push("* (NotPrincipal)".to_string());
            }
            continue;
        }
        let Some(p) = &s.principal else { continue };
        if p.is_anyone() {
            if !bound(s, &trusted) && !everyone_denied(doc, action, &object) {
                push("*".to_string());
            }
            continue;
        }
        for v in p.values("AWS") {
            let (acct, is_account) = if v.chars().all(|c| c.is_ascii_digit()) {
                (v.as_str(), true)
            } else {
                let acct = v.split(':').nth(4).unwrap_or("");
                (acct, v.ends_with(":root"))
            };
            if is_account {
                if !trusted(acct) {
                    push(format!("account {acct}"));
                }
                continue;
            }
            let own = own_roles.iter().any(|r| r == v);
            let other_account_trusted = acct != account && trusted(acct);
            if !own && !other_account_trusted && !denied_for(v) {
                push(v.clone());
            }
        }
    }
    out
}

/// The statement binds its caller to the organization or to trusted accounts.
fn bound(s: &Statement, trusted: &dyn Fn(&str) -> bool) -> bool {
    s.conditions.iter().any(|c| {
        let key = c.key.to_ascii_lowercase();
        let op = base_operator(&c.operator);
        let equals = op.starts_with("StringEquals") || op.starts_with("StringLike");
        equals
            && (key == "aws:principalorgid"
                || key == "aws:principalorgpaths"
                || (key == "aws:principalaccount" && c.values.iter().all(|v| trusted(v))))
    })
}

/// An unconditional Deny of the write for everyone.
fn everyone_denied(doc: &PolicyDocument, action: &str, object: &str) -> bool {
    doc.statements.iter().any(|s| {
        s.effect == Effect::Deny
            && s.conditions.is_empty()
            && s.principal.as_ref().is_some_and(|p| p.is_anyone())
            && iam::action_matches(s, action)
            && iam::resource_matches(s, object)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicyText;

    const BUCKET: &str = "arn:aws:s3:::app-artifacts";
    const OWN: &str = "arn:aws:iam::123456789012:role/app-build";

    fn writers(json: &str, trusted: &[&str]) -> Vec<String> {
        let doc = match PolicyText::parse(json).document {
            Some(d) => d,
            None => panic!("test policy does not parse: {json}"),
        };
        let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        other_writers(&doc, BUCKET, "123456789012", &[OWN], &trusted)
    }

    #[test]
    fn the_reference_policy_lets_no_one_else_write() {
        // TLS and SSE-KMS denies, the pipeline's own role, the account root
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::app-artifacts/*",
             "Condition":{"Bool":{"aws:SecureTransport":"false"}}},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app-build"},
             "Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::app-artifacts/*"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},
             "Action":"s3:*","Resource":["arn:aws:s3:::app-artifacts","arn:aws:s3:::app-artifacts/*"]},
            {"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},
             "Action":"s3:PutObject","Resource":"arn:aws:s3:::app-artifacts/*"}]}"#;
        assert!(writers(p, &[]).is_empty(), "{:?}", writers(p, &[]));
    }

    #[test]
    fn other_accounts_roles_and_everyone_are_reported() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::444455556666:root",
              "arn:aws:iam::123456789012:role/someone-else"]},
             "Action":"s3:*","Resource":"arn:aws:s3:::app-artifacts/*"},
            {"Effect":"Allow","Principal":"*","Action":"s3:DeleteObject","Resource":"*"}]}"#;
        assert_eq!(
            writers(p, &[]),
            [
                "account 111122223333",
                "account 444455556666",
                "arn:aws:iam::123456789012:role/someone-else",
                "*"
            ]
        );
        // a trusted deployment account passes
        assert_eq!(
            writers(p, &["111122223333", "444455556666"]),
            ["arn:aws:iam::123456789012:role/someone-else", "*"]
        );
    }

    #[test]
    fn everyone_bound_to_the_organization_passes_and_reads_do_not_count() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::app-artifacts/*",
             "Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}},
            {"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"s3:GetObject",
             "Resource":"arn:aws:s3:::app-artifacts/*"}]}"#;
        assert!(writers(p, &[]).is_empty());
        // bound to a source IP is not bound to the organization
        let ip = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::app-artifacts/*",
             "Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#;
        assert_eq!(writers(ip, &[]), ["*"]);
    }

    #[test]
    fn an_unconditional_deny_for_everyone_closes_it() {
        let p = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::app-artifacts/*"},
            {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::app-artifacts/*"}]}"#;
        assert!(writers(p, &[]).is_empty());
    }

    #[test]
    fn repository_pushers_are_other_accounts_and_everyone_unbound() {
        const REPO: &str = "arn:aws:ecr:us-east-1:123456789012:repository/web";
        let pushers = |json: &str| {
            let doc = match PolicyText::parse(json).document {
                Some(d) => d,
                None => panic!("test policy does not parse: {json}"),
            };
            other_pushers(&doc, REPO, "123456789012", &[OWN])
        };
        // pulls by another account and pushes by the build role only
        let ok = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},
             "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app-build"},
             "Action":["ecr:PutImage","ecr:UploadLayerPart"]}]}"#;
        assert!(pushers(ok).is_empty());
        let bad = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"ecr:*"},
            {"Effect":"Allow","Principal":"*","Action":"ecr:PutImage",
             "Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abc123"}}}]}"#;
        assert_eq!(pushers(bad), ["account 111122223333"]);
        let anyone = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":"*","Action":["ecr:PutImage"]}]}"#;
        assert_eq!(pushers(anyone), ["*"]);
    }
}
