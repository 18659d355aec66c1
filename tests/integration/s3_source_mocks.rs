//! The notification configuration of S3 source buckets, read with
//! GetBucketNotificationConfiguration. Served by `aws-smithy-mocks` with
//! S3's wire-format XML bodies (the SDK's own deserializer), because moto
//! 5.1.22 leaves `EventBridgeConfiguration` out of its answer and answers a
//! bucket without any configuration with an empty body. Then SC008
//! `source-s3-bucket-events-off` on the demo stack with its source moved to
//! S3 and an `Object Created` rule, for each outcome of the read.

use std::sync::Arc;

use aws_smithy_mocks::{Rule, mock};
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::s3;
use pipeaudit::model::{Observed, ReadErrorKind, S3SourceRef, Snapshot, SourceBucket};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
const BUCKET: &str = "demo-000-source";
const ARN: &str = "arn:aws:s3:::demo-000-source";

fn client(rules: &[&Rule]) -> aws_sdk_s3::Client {
    crate::mock_client!(aws_sdk_s3, rules)
}

fn answer(status: u16, body: &str) -> Rule {
    mock!(aws_sdk_s3::Client::get_bucket_notification_configuration)
        .sequence()
        .http_status(status, Some(body.to_string()))
        .repeatedly()
        .build()
}

fn error(status: u16, code: &str) -> Rule {
    answer(
        status,
        &format!(
            "<Error><Code>{code}</Code><Message>{code}</Message><RequestId>1</RequestId></Error>"
        ),
    )
}

async fn read(rule: &Rule) -> Observed<SourceBucket> {
    let c = client(&[rule]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = s3::get_source(&ctx, &c, ARN, BUCKET).await;
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(ctx.calls().get(s3::GET_BUCKET_NOTIFICATION), Some(&1));
    got
}

const NS: &str = r#"xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#;

#[tokio::test]
async fn eventbridge_configuration_is_read() {
    let on = answer(
        200,
        &format!(
            "<NotificationConfiguration {NS}><EventBridgeConfiguration></EventBridgeConfiguration></NotificationConfiguration>"
        ),
    );
    let got = read(&on).await;
    assert_eq!(
        got.value()
            .map(|b| (b.name.as_str(), b.arn.as_str(), b.eventbridge)),
        Some((BUCKET, ARN, true)),
        "{got:?}"
    );
    // a bucket notifying a topic only, and one with no configuration at all
    let topic = answer(
        200,
        &format!(
            "<NotificationConfiguration {NS}><TopicConfiguration><Id>t</Id><Topic>arn:aws:sns:us-east-1:123456789012:uploads</Topic><Event>s3:ObjectCreated:*</Event></TopicConfiguration></NotificationConfiguration>"
        ),
    );
    let none = answer(200, &format!("<NotificationConfiguration {NS}/>"));
    for r in [&topic, &none] {
        let got = read(r).await;
        assert_eq!(got.value().map(|b| b.eventbridge), Some(false), "{got:?}");
    }
}

#[tokio::test]
async fn a_missing_bucket_is_absent_and_a_denied_read_names_the_permission() {
    let missing = error(404, "NoSuchBucket");
    assert!(matches!(read(&missing).await, Observed::Absent));
    let denied = error(403, "AccessDenied");
    let got = read(&denied).await;
    let e = got.error().unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(e.kind, ReadErrorKind::AccessDenied);
    assert_eq!(e.action, "s3:GetBucketNotification");
}

/// The compliant demo stack with its source moved to S3 and its rule
/// waiting for `Object Created` events of the object, the source bucket
/// recorded as `bucket`: SC008's findings, then `diagnostic: <permission>`
/// for each of its diagnostics.
fn sc008_with(bucket: Observed<SourceBucket>) -> Vec<String> {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    let w = &mut s.pipelines[0];
    w.sources.clear();
    w.s3_sources.push(S3SourceRef {
        stage: "Source".to_string(),
        action: "Source".to_string(),
        region: "us-east-1".to_string(),
        bucket: BUCKET.to_string(),
        bucket_arn: ARN.to_string(),
        object_key: "app.zip".to_string(),
        poll_for_source_changes: Some(false),
    });
    let rule_arn = w.trigger_rules[0].clone();
    if let Some(Observed::Ok { value }) = s.resources.event_rules.get_mut(&rule_arn) {
        value.event_pattern = Some(serde_json::json!({
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [BUCKET]}, "object": {"key": ["app.zip"]}}
        }));
    }
    s.resources.source_buckets.insert(ARN.to_string(), bucket);
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    // the trigger itself is found: SC007 never fires here
    assert!(e.findings.iter().all(|f| f.rule_id != "SC007"));
    let mut out: Vec<String> = e
        .findings
        .iter()
        .filter(|f| f.rule_id == "SC008")
        .map(|f| f.message.clone())
        .collect();
    out.extend(
        e.diagnostics
            .iter()
            .filter(|d| d.rule_id.as_deref() == Some("SC008"))
            .map(|d| format!("diagnostic: {}", d.permission.clone().unwrap_or_default())),
    );
    out
}

#[tokio::test]
async fn sc008_follows_what_the_read_gave() {
    let on = answer(
        200,
        &format!(
            "<NotificationConfiguration {NS}><EventBridgeConfiguration/></NotificationConfiguration>"
        ),
    );
    assert!(sc008_with(read(&on).await).is_empty());

    let off = answer(200, &format!("<NotificationConfiguration {NS}/>"));
    let fired = sc008_with(read(&off).await);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(
        fired[0].contains("does not send its events to EventBridge"),
        "{}",
        fired[0]
    );

    let missing = error(404, "NoSuchBucket");
    let fired = sc008_with(read(&missing).await);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].contains("does not exist"), "{}", fired[0]);

    // unknown is neither on nor off: a diagnostic naming the permission
    let denied = error(403, "AccessDenied");
    assert_eq!(
        sc008_with(read(&denied).await),
        ["diagnostic: s3:GetBucketNotification"]
    );
}
