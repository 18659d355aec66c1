use super::imdsv2::hop_limit;
use super::role_artifacts::merged;
use super::*;

#[test]
fn statements_are_merged_once_and_existing_ones_kept() {
    let read = json!({"Sid": "PipeauditArtifactsRead", "Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"], "Resource": "arn:aws:s3:::b/p/*"});
    let fresh = merged(None, std::slice::from_ref(&read)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fresh["Statement"].as_array().map(Vec::len), Some(1));
    let existing = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Mine","Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"}]}"#;
    let m = merged(Some(existing), std::slice::from_ref(&read)).unwrap_or_else(|e| panic!("{e}"));
    let st = m["Statement"].as_array().cloned().unwrap_or_default();
    assert_eq!(st.len(), 2);
    assert_eq!(st[0]["Sid"], "Mine");
    // merging again adds nothing
    let again = merged(Some(&m.to_string()), &[read]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again["Statement"].as_array().map(Vec::len), Some(2));
    assert!(merged(Some("nope"), &[]).is_err());
}

#[test]
fn hop_limit_is_kept_or_two() {
    assert_eq!(hop_limit(Some(1)), 1);
    assert_eq!(hop_limit(None), 2);
    assert_eq!(hop_limit(Some(0)), 2);
}
