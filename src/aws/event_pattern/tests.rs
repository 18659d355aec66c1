use super::*;
use serde_json::json;

const REPO: &str = "arn:aws:codecommit:us-east-1:111122223333:app";

fn m(p: Value, e: &Value) -> bool {
    matches(&p, e).unwrap_or_else(|e| panic!("{e}"))
}

fn reference() -> Value {
    json!({"source":["aws.codecommit"],"detail-type":["CodeCommit Repository State Change"],
               "resources":[REPO],
               "detail":{"event":["referenceCreated","referenceUpdated"],"referenceType":["branch"],"referenceName":["main"]}})
}

#[test]
fn reference_pattern_matches_commits_to_its_branch_only() {
    assert!(m(reference(), &commit_event(REPO, "main")));
    assert!(!m(reference(), &commit_event(REPO, "develop")));
    assert!(!m(
        reference(),
        &commit_event("arn:aws:codecommit:us-east-1:111122223333:other", "main")
    ));
}

#[test]
fn operators() {
    let e = commit_event(REPO, "release/1.2");
    assert!(m(
        json!({"detail":{"referenceName":[{"prefix":"release/"}]}}),
        &e
    ));
    assert!(m(
        json!({"detail":{"referenceName":[{"prefix":{"equals-ignore-case":"RELEASE/"}}]}}),
        &e
    ));
    assert!(!m(
        json!({"detail":{"referenceName":[{"prefix":"main"}]}}),
        &e
    ));
    assert!(m(json!({"detail":{"referenceName":[{"suffix":".2"}]}}), &e));
    assert!(m(
        json!({"detail":{"referenceName":[{"wildcard":"release/*"}]}}),
        &e
    ));
    assert!(m(
        json!({"detail":{"referenceName":[{"equals-ignore-case":"RELEASE/1.2"}]}}),
        &e
    ));
    assert!(m(
        json!({"detail":{"referenceName":[{"anything-but":"main"}]}}),
        &e
    ));
    assert!(!m(
        json!({"detail":{"referenceName":[{"anything-but":["release/1.2","x"]}]}}),
        &e
    ));
    assert!(!m(
        json!({"detail":{"referenceName":[{"anything-but":{"prefix":"release/"}}]}}),
        &e
    ));
    assert!(m(json!({"detail":{"commitId":[{"exists":true}]}}), &e));
    assert!(m(json!({"detail":{"nope":[{"exists":false}]}}), &e));
    assert!(!m(json!({"detail":{"nope":[{"exists":true}]}}), &e));
    assert!(
        !m(json!({"detail":{"nope":["x"]}}), &e),
        "missing field does not match a value"
    );
    assert!(m(
        json!({"$or":[{"source":["aws.s3"]},{"detail":{"referenceType":["branch"]}}]}),
        &e
    ));
    assert!(!m(
        json!({"$or":[{"source":["aws.s3"]},{"detail":{"referenceType":["tag"]}}]}),
        &e
    ));
}

#[test]
fn numeric_and_array_fields() {
    let e = json!({"detail":{"n": 5, "tags": ["a","b"]}});
    assert!(m(json!({"detail":{"n":[{"numeric":[">",0,"<=",5]}]}}), &e));
    assert!(!m(json!({"detail":{"n":[{"numeric":["<",5]}]}}), &e));
    assert!(m(json!({"detail":{"n":[5.0]}}), &e));
    assert!(
        m(json!({"detail":{"tags":["b"]}}), &e),
        "any element of an array field"
    );
}

#[test]
fn malformed_patterns_are_errors_not_panics() {
    let e = commit_event(REPO, "main");
    for bad in [
        json!("x"),
        json!({"source":"aws.codecommit"}),
        json!({"source":[]}),
        json!({"source":[{"prefix":1}]}),
        json!({"source":[{"nope":"x"}]}),
        json!({"source":[{"prefix":"a","suffix":"b"}]}),
        json!({"n":[{"numeric":[">"]}]}),
        json!({"$or":{}}),
    ] {
        assert!(matches(&bad, &e).is_err(), "{bad}");
    }
    let err = matches(&json!({"detail":{"referenceName":[{"bogus":1}]}}), &e).err();
    assert_eq!(
        err.map(|e| e.path),
        Some("detail.referenceName[0]".to_string())
    );
}

#[test]
fn deep_nesting_is_bounded() {
    let mut p = json!({"x":["y"]});
    for _ in 0..200 {
        p = json!({"d": p});
    }
    assert!(matches(&p, &json!({})).is_err());
}

#[test]
fn wildcard_has_no_blowup() {
    assert!(wildcard("a*b*c", "axxbyyc"));
    assert!(!wildcard("a*b*c", "axxbyy"));
    let long = "a".repeat(5000);
    assert!(!wildcard("*a*a*a*a*a*b", &long));
}

const RULE: &str = "arn:aws:events:us-east-1:111122223333:rule/src";

#[test]
fn s3_source_events_match_the_usual_patterns() {
    let created = object_created_event(RULE, "src-bucket", "app.zip", "PutObject");
    let eventbridge = json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["src-bucket"]}, "object": {"key": ["app.zip"]}}
    });
    assert!(m(eventbridge.clone(), &created));
    assert!(!m(
        eventbridge,
        &object_created_event(RULE, "other", "app.zip", "PutObject")
    ));
    let trail = json!({
        "source": ["aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": ["PutObject", "CompleteMultipartUpload", "CopyObject"],
            "requestParameters": {"bucketName": ["src-bucket"], "key": ["app.zip"]}
        }
    });
    for op in S3_UPLOADS {
        let e = cloudtrail_upload_event(RULE, "src-bucket", "app.zip", op);
        assert!(m(trail.clone(), &e), "{op}");
        assert!(!m(
            trail.clone(),
            &object_created_event(RULE, "src-bucket", "app.zip", op)
        ));
    }
    // the object's ARN among CloudTrail's resources (an array of objects)
    let by_arn = json!({
        "source": ["aws.s3"],
        "detail": {"resources": {"ARN": ["arn:aws:s3:::src-bucket/app.zip"]}}
    });
    assert!(m(
        by_arn.clone(),
        &cloudtrail_upload_event(RULE, "src-bucket", "app.zip", "PutObject")
    ));
    assert!(!m(
        by_arn,
        &cloudtrail_upload_event(RULE, "src-bucket", "other.zip", "PutObject")
    ));
}
