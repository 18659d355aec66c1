use super::*;

fn doc(text: &str) -> PolicyDocument {
    PolicyDocument::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

const ROLE: &str = "arn:aws:iam::111122223333:role/build";
const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/k";
const BUCKET: &str = "arn:aws:s3:::art";

#[test]
fn wildcards() {
    assert!(wildcard(
        "kms:GenerateDataKey*",
        "kms:GenerateDataKeyWithoutPlaintext",
        false
    ));
    assert!(wildcard("KMS:decrypt", "kms:Decrypt", true));
    assert!(!wildcard("kms:Decrypt", "kms:DecryptX", false));
    assert!(wildcard(
        "arn:aws:s3:::a?t/*",
        "arn:aws:s3:::art/x/y",
        false
    ));
    assert!(wildcard(
        "codecommit:Merge*",
        "codecommit:MergeBranchesBySquash",
        true
    ));
    assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/p/x", false));
    assert!(!wildcard("arn:aws:s3:::b/?", "arn:aws:s3:::b/xy", false));
    assert!(wildcard("ünï*", "ünïcode", false));
}

/// The early answer on the first byte agrees with matching the whole
/// pattern (the same matcher, on characters, for every pair).
#[test]
fn the_first_byte_check_agrees_with_full_matching() {
    let patterns = [
        "",
        "*",
        "?am:*",
        "iam:*",
        "IAM:Pass*",
        "s3:GetObject",
        "kms:Decrypt",
        "Kms:*",
        "ärn:*",
        "c*:Start*",
        "codebuild:StartBuild",
    ];
    let values = [
        "",
        "iam:PassRole",
        "s3:GetObject",
        "kms:decrypt",
        "codebuild:StartBuild",
        "ärn:x",
        "Ärn:x",
        "lambda:InvokeFunction",
        "KMS:Decrypt",
    ];
    for p in patterns {
        for v in values {
            for ignore_case in [false, true] {
                let (pc, vc): (Vec<char>, Vec<char>) = if ignore_case {
                    (
                        p.to_lowercase().chars().collect(),
                        v.to_lowercase().chars().collect(),
                    )
                } else {
                    (p.chars().collect(), v.chars().collect())
                };
                let full = glob_match(&pc, &vc, '*', '?', |a, b| a == b);
                assert_eq!(wildcard(p, v, ignore_case), full, "{p} {v} {ignore_case}");
            }
        }
    }
}

#[test]
fn key_policy_direct_delegated_and_deny() {
    let p = doc(r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:role/build"]},"Action":["kms:Decrypt"],"Resource":"*"}]}"#);
    let a = evaluate(&p, Who::Role(ROLE), "kms:Decrypt", KEY);
    assert!(a.allowed && a.delegated && !a.denied && !a.conditional);
    let b = evaluate(
        &p,
        Who::Role("arn:aws:iam::111122223333:role/other"),
        "kms:Decrypt",
        KEY,
    );
    assert!(!b.allowed && b.delegated);
    let c = evaluate(
        &p,
        Who::Role("arn:aws:iam::999999999999:role/x"),
        "kms:Decrypt",
        KEY,
    );
    assert_eq!(c, Access::default());
    let d = doc(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Principal":"*","NotAction":["kms:Describe*"],"Resource":"*"}]}"#,
    );
    assert!(evaluate(&d, Who::Role(ROLE), "kms:Decrypt", KEY).denied);
    assert!(!evaluate(&d, Who::Role(ROLE), "kms:DescribeKey", KEY).denied);
}

#[test]
fn conditions_are_conservative() {
    let p = doc(r#"{"Statement":[
            {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}},
            {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}]}"#);
    let a = evaluate(&p, Who::Role(ROLE), "kms:Decrypt", KEY);
    assert!(a.allowed && a.conditional && !a.denied);
}

#[test]
fn not_resource_and_not_principal() {
    let p = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}]}"#,
    );
    assert!(evaluate(&p, Who::Role(ROLE), "s3:GetObject", "arn:aws:s3:::art/x").allowed);
    assert!(!evaluate(&p, Who::Role(ROLE), "s3:GetObject", "arn:aws:s3:::secret/x").allowed);
    let np = doc(
        r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::1:role/a"},"Action":"s3:*","Resource":"*"}]}"#,
    );
    assert!(is_public(&np));
}

#[test]
fn public_policies() {
    assert!(is_public(&doc(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#
    )));
    assert!(is_public(&doc(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}}"#
    )));
    assert!(!is_public(&doc(
        r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"111122223333"}}}}"#
    )));
    assert!(!is_public(&doc(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}}"#
    )));
    assert!(is_public(&doc(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"StringLike":{"aws:PrincipalArn":"*"}}}}"#
    )));
    assert!(is_public(&doc(
        r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#
    )));
    assert!(!is_public(&doc(
        r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*"}}"#
    )));
}

#[test]
fn bucket_denies_by_meaning() {
    let reference = doc(r#"{"Statement":[
            {"Sid":"DenyUnEncryptedObjectUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::art/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
            {"Sid":"DenyInsecureConnections","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::art/*","Condition":{"Bool":{"aws:SecureTransport":false}}}]}"#);
    assert!(denies_insecure_transport(&reference, BUCKET));
    assert!(denies_unencrypted_uploads(&reference, BUCKET));
    // the same meaning, written differently
    let other = doc(r#"{"Statement":[
            {"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:Put*"],"Resource":["arn:aws:s3:::art/*","arn:aws:s3:::art"],"Condition":{"StringNotEqualsIfExists":{"s3:x-amz-server-side-encryption":["aws:kms"]}}},
            {"Effect":"Deny","Principal":"*","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::*/*","Condition":{"BoolIfExists":{"aws:SecureTransport":"false"}}}]}"#);
    assert!(denies_insecure_transport(&other, BUCKET));
    assert!(denies_unencrypted_uploads(&other, BUCKET));
    // not the same meaning
    let weak = doc(r#"{"Statement":[
            {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::art/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
            {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::art/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::other/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#);
    assert!(!denies_insecure_transport(&weak, BUCKET));
    assert!(!denies_unencrypted_uploads(&weak, BUCKET));
}

#[test]
fn trust_policies() {
    let t = doc(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"aws:SourceAccount":"1"}}}]}"#,
    );
    assert!(trusts_service(&t, "codebuild.amazonaws.com"));
    assert!(!trusts_service(&t, "codepipeline.amazonaws.com"));
    assert!(other_trusted(&t, "codebuild.amazonaws.com").is_empty());
    assert!(has_source_condition(&t));
    let wide = doc(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":["codebuild.amazonaws.com","ec2.amazonaws.com"],"AWS":"arn:aws:iam::2:root"},"Action":"sts:AssumeRole"}]}"#,
    );
    assert_eq!(
        other_trusted(&wide, "codebuild.amazonaws.com"),
        vec!["AWS:arn:aws:iam::2:root", "Service:ec2.amazonaws.com"]
    );
    assert!(!has_source_condition(&wide));
}

#[test]
fn identity_policies_and_admin() {
    let allow = doc(
        r#"{"Statement":[{"Effect":"Allow","Action":"codepipeline:StartPipelineExecution","Resource":"arn:aws:codepipeline:us-east-1:1:p"}]}"#,
    );
    let deny = doc(r#"{"Statement":[{"Effect":"Deny","Action":"codepipeline:*","Resource":"*"}]}"#);
    assert!(identity_allows(
        &[&allow],
        ROLE,
        "codepipeline:StartPipelineExecution",
        "arn:aws:codepipeline:us-east-1:1:p"
    ));
    assert!(!identity_allows(
        &[&allow],
        ROLE,
        "codepipeline:StartPipelineExecution",
        "arn:aws:codepipeline:us-east-1:1:q"
    ));
    assert!(!identity_allows(
        &[&allow, &deny],
        ROLE,
        "codepipeline:StartPipelineExecution",
        "arn:aws:codepipeline:us-east-1:1:p"
    ));
    assert!(is_admin(&doc(
        r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#
    )));
    assert!(!is_admin(&doc(
        r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#
    )));
}
