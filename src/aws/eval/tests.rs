use super::*;
use crate::model::policy::parse_policy;

fn doc(text: &str) -> PolicyDocument {
    parse_policy(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

const ME: &str = "arn:aws:iam::111111111111:user/dev";
const REPO: &str = "arn:aws:codecommit:us-east-1:111111111111:app";

fn push(branch: &str) -> Context {
    Context::new().with("codecommit:References", &[&format!("refs/heads/{branch}")])
}

fn identity(docs: &[PolicyDocument]) -> Policies<'_> {
    Policies {
        identity: docs
            .iter()
            .map(|d| Labelled {
                label: "inline policy p",
                doc: d,
            })
            .collect(),
        boundary: None,
    }
}

/// The deny shape the CodeCommit documentation gives for protecting branches.
const DOCUMENTED_DENY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"codecommit:*","Resource":"*"},
  {"Sid":"ProtectMain","Effect":"Deny","Action":["codecommit:GitPush","codecommit:DeleteBranch","codecommit:PutFile","codecommit:Merge*"],
   "Resource":"arn:aws:codecommit:us-east-1:111111111111:app",
   "Condition":{"StringEqualsIfExists":{"codecommit:References":["refs/heads/main","refs/heads/prod"]},
                "Null":{"codecommit:References":"false"}}}]}"#;

#[test]
fn documented_branch_deny_stops_the_protected_branch_only() {
    let d = [doc(DOCUMENTED_DENY)];
    let p = identity(&d);
    let on = |branch: &str, action: &str| {
        let ctx = push(branch);
        decide(
            ME,
            &p,
            None,
            &Request {
                action,
                resource: REPO,
                context: &ctx,
            },
        )
    };
    assert_eq!(on("main", "codecommit:GitPush"), Decision::No);
    assert_eq!(
        on("prod", "codecommit:MergePullRequestBySquash"),
        Decision::No
    );
    assert!(on("feature", "codecommit:GitPush").allowed());
    // a request without references is not denied (the Null condition)
    let none = Context::new();
    assert!(
        decide(
            ME,
            &p,
            None,
            &Request {
                action: "codecommit:GitPush",
                resource: REPO,
                context: &none
            }
        )
        .allowed()
    );
}

#[test]
fn undecidable_conditions_make_the_decision_conditional_and_are_quoted() {
    let d = [doc(
        r#"{"Statement":[{"Sid":"Mfa","Effect":"Allow","Action":"codecommit:GitPush","Resource":"*",
            "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#,
    )];
    let ctx = push("main");
    let got = decide(
        ME,
        &identity(&d),
        None,
        &Request {
            action: "codecommit:GitPush",
            resource: REPO,
            context: &ctx,
        },
    );
    match got {
        Decision::Allowed { grant, conditions } => {
            assert_eq!(grant.sid.as_deref(), Some("Mfa"));
            assert_eq!(conditions, vec!["Bool aws:MultiFactorAuthPresent true"]);
        }
        Decision::No => panic!("a conditional allow is not dropped"),
    }
    // a Deny under an undecidable condition leaves the path conditional
    let d = [doc(
        r#"{"Statement":[{"Effect":"Allow","Action":"codecommit:*","Resource":"*"},
            {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
    )];
    let got = decide(
        ME,
        &identity(&d),
        None,
        &Request {
            action: "codecommit:GitPush",
            resource: REPO,
            context: &ctx,
        },
    );
    let Decision::Allowed { conditions, .. } = got else {
        panic!("not allowed")
    };
    assert_eq!(conditions.len(), 1);
    assert!(
        conditions[0].contains("IpAddress aws:SourceIp 10.0.0.0/8"),
        "{conditions:?}"
    );
}

#[test]
fn boundary_intersects_and_deny_wins() {
    let allow = [doc(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
    )];
    let boundary = doc(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
    let p = Policies {
        identity: vec![Labelled {
            label: "admin",
            doc: &allow[0],
        }],
        boundary: Some(Labelled {
            label: "boundary",
            doc: &boundary,
        }),
    };
    let ctx = push("main");
    let req = Request {
        action: "codecommit:GitPush",
        resource: REPO,
        context: &ctx,
    };
    assert_eq!(decide(ME, &p, None, &req), Decision::No);
    let s3 = Request {
        action: "s3:PutObject",
        resource: "arn:aws:s3:::b/k",
        context: &ctx,
    };
    assert!(decide(ME, &p, None, &s3).allowed());
    // a resource policy Deny wins over the identity Allow
    let bucket = doc(
        r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let rp = ResourcePolicy {
        policy: Labelled {
            label: "bucket policy",
            doc: &bucket,
        },
        grants_alone: true,
    };
    assert_eq!(decide(ME, &p, Some(rp), &s3), Decision::No);
}

#[test]
fn resource_policy_naming_the_principal_grants_alone() {
    let bucket = doc(&format!(
        r#"{{"Statement":{{"Sid":"W","Effect":"Allow","Principal":{{"AWS":"{ME}"}},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}}}}"#
    ));
    let rp = ResourcePolicy {
        policy: Labelled {
            label: "bucket policy",
            doc: &bucket,
        },
        grants_alone: true,
    };
    let ctx = Context::new();
    let req = Request {
        action: "s3:PutObject",
        resource: "arn:aws:s3:::b/x",
        context: &ctx,
    };
    let got = decide(ME, &Policies::default(), Some(rp), &req);
    assert!(matches!(got, Decision::Allowed { ref grant, .. } if grant.policy == "bucket policy"));
    // through the account root, the identity policy must allow too
    let root = doc(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    let rp = ResourcePolicy {
        policy: Labelled {
            label: "bucket policy",
            doc: &root,
        },
        grants_alone: true,
    };
    assert_eq!(
        decide(ME, &Policies::default(), Some(rp), &req),
        Decision::No
    );
}

#[test]
fn fixed_keys_operators() {
    let c = |op: &str, key: &str, values: &[&str]| Condition {
        operator: op.to_string(),
        key: key.to_string(),
        values: values.iter().map(|v| v.to_string()).collect(),
    };
    let svc = Context::new().with("iam:PassedToService", &["codebuild.amazonaws.com"]);
    assert_eq!(
        condition(
            &c(
                "StringEquals",
                "iam:PassedToService",
                &["codebuild.amazonaws.com"]
            ),
            &svc
        ),
        Truth::Yes
    );
    assert_eq!(
        condition(
            &c(
                "StringNotEquals",
                "iam:PassedToService",
                &["codebuild.amazonaws.com"]
            ),
            &svc
        ),
        Truth::No
    );
    assert_eq!(
        condition(&c("StringLike", "iam:PassedToService", &["lambda.*"]), &svc),
        Truth::No
    );
    let none = Context::new();
    assert_eq!(
        condition(
            &c("StringEqualsIfExists", "codebuild:source.buildspec", &["x"]),
            &none
        ),
        Truth::Yes
    );
    assert_eq!(
        condition(&c("StringEquals", "aws:SourceAccount", &["1"]), &none),
        Truth::No
    );
    assert_eq!(
        condition(&c("Null", "codebuild:source.buildspec", &["false"]), &none),
        Truth::No
    );
    assert!(matches!(
        condition(
            &c("DateLessThan", "aws:CurrentTime", &["2030-01-01"]),
            &none
        ),
        Truth::Maybe(_)
    ));
    let refs = Context::new().with(
        "codecommit:References",
        &["refs/heads/a", "refs/heads/main"],
    );
    assert_eq!(
        condition(
            &c(
                "ForAllValues:StringLike",
                "codecommit:References",
                &["refs/heads/a*"]
            ),
            &refs
        ),
        Truth::No
    );
    assert_eq!(
        condition(
            &c(
                "ForAnyValue:StringLike",
                "codecommit:References",
                &["refs/heads/ma*"]
            ),
            &refs
        ),
        Truth::Yes
    );
}
