//! S3 source actions end to end against moto_server 5.1.22: reference stacks
//! are seeded, then each pipeline's CodeCommit source is replaced by an S3
//! source (UpdatePipeline), a source bucket is created with or without an
//! EventBridge notification configuration, and the trigger rule's pattern is
//! rewritten (PutRule). The audit must give exactly SC006
//! `source-s3-polling-enabled`, SC007 `source-s3-trigger-missing` and SC008
//! `source-s3-bucket-events-off` where the stack has the defect.
//!
//! moto accepts PutBucketNotificationConfiguration with an
//! `EventBridgeConfiguration` (checked below), but its
//! GetBucketNotificationConfiguration answer leaves that element out, so a
//! bucket with EventBridge notifications on reads as off here: the pass of
//! SC008 for an `Object Created` rule on such a bucket is tested with
//! aws-smithy-mocks (`tests/s3_source_mocks.rs`) and the rule fixtures. The
//! denied read comes from the fault-injecting proxy in front of moto
//! (`support::proxy`), since moto grants every call.

use crate::support;

use std::collections::BTreeSet;

use aws_sdk_codepipeline::types as cp;
use aws_sdk_s3::types as s3t;
use serde_json::{Value, json};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, SeedClients, StackSpec};

/// moto stores no custom key on a build project (CB004) and drops a
/// deployment group's alarms (CD006); and every S3-source pipeline deviates
/// from the default reference, which accepts CodeCommit only (PL001).
const ALWAYS: &[&str] = &["CB004", "CD006", "PL001"];

const KEY: &str = "releases/app.zip";

/// Where a source bucket sends its object events.
#[derive(Clone, Copy)]
enum Notify {
    /// To EventBridge (`EventBridgeConfiguration`).
    EventBridge,
    /// To an SNS topic only (`TopicConfiguration`), not to EventBridge.
    /// (Every bucket here has some configuration: for a bucket with none,
    /// moto answers GetBucketNotificationConfiguration with an empty body,
    /// which the SDK rejects, where AWS sends an empty
    /// `NotificationConfiguration` element; that case is in the mocks.)
    Topic,
}

/// How one stack's S3 source is set up.
struct S3Stack {
    prefix: &'static str,
    /// `PollForSourceChanges`.
    poll: bool,
    /// The source bucket is the stack's artifact bucket (else its own).
    shares_artifact_bucket: bool,
    /// The source bucket's notification configuration.
    notify: Notify,
    /// The trigger rule's pattern, given the bucket and key.
    pattern: fn(&str, &str) -> Value,
    /// The rules expected beyond [`ALWAYS`].
    expected: &'static [&'static str],
}

/// The pattern of AWS's CloudFormation samples for S3 sources: the
/// CloudTrail event of the upload.
fn cloudtrail(bucket: &str, key: &str) -> Value {
    json!({
        "source": ["aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": ["PutObject", "CompleteMultipartUpload", "CopyObject"],
            "requestParameters": {"bucketName": [bucket], "key": [key]}
        }
    })
}

/// The CloudTrail pattern as other AWS samples write it: the object's ARN
/// among the event's resources, multipart and single uploads only.
fn cloudtrail_by_arn(bucket: &str, key: &str) -> Value {
    json!({
        "source": ["aws.s3"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["s3.amazonaws.com"],
            "eventName": ["PutObject", "CompleteMultipartUpload"],
            "resources": {"ARN": [format!("arn:aws:s3:::{bucket}/{key}")]}
        }
    })
}

/// The pattern for S3's own EventBridge notification.
fn object_created(bucket: &str, key: &str) -> Value {
    json!({
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [key]}}
    })
}

/// An `Object Created` pattern for another object of the bucket.
fn other_key(bucket: &str, _key: &str) -> Value {
    object_created(bucket, "releases/other.zip")
}

const STACKS: &[S3Stack] = &[
    S3Stack {
        prefix: "s3-ok",
        poll: false,
        shares_artifact_bucket: false,
        notify: Notify::EventBridge,
        pattern: cloudtrail,
        expected: &[],
    },
    S3Stack {
        prefix: "s3-poll",
        poll: true,
        shares_artifact_bucket: false,
        notify: Notify::EventBridge,
        pattern: cloudtrail_by_arn,
        expected: &["SC006"],
    },
    S3Stack {
        prefix: "s3-nomatch",
        poll: false,
        shares_artifact_bucket: true,
        notify: Notify::EventBridge,
        pattern: other_key,
        expected: &["SC007"],
    },
    S3Stack {
        prefix: "s3-evoff",
        poll: false,
        shares_artifact_bucket: false,
        notify: Notify::Topic,
        pattern: object_created,
        expected: &["SC008"],
    },
];

/// Turns a seeded reference stack into one of `s`: returns the source bucket.
async fn make_s3_source(c: &SeedClients, stack: &seed::SeededStack, s: &S3Stack) -> String {
    let bucket = if s.shares_artifact_bucket {
        stack.bucket.clone()
    } else {
        let name = format!("{}-source", s.prefix);
        c.s3.create_bucket()
            .bucket(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("s3:CreateBucket {name}: {e:?}"));
        name
    };
    let config = match s.notify {
        Notify::EventBridge => s3t::NotificationConfiguration::builder()
            .event_bridge_configuration(s3t::EventBridgeConfiguration::builder().build())
            .build(),
        Notify::Topic => s3t::NotificationConfiguration::builder()
            .topic_configurations(
                s3t::TopicConfiguration::builder()
                    .topic_arn(format!(
                        "arn:aws:sns:us-east-1:{}:{}-uploads",
                        c.account, s.prefix
                    ))
                    .events(s3t::Event::S3ObjectCreated)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .build(),
    };
    c.s3.put_bucket_notification_configuration()
        .bucket(&bucket)
        .notification_configuration(config)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3:PutBucketNotificationConfiguration {bucket}: {e:?}"));
    let mut decl = seed::declaration(c, &stack.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let source = cp::ActionDeclaration::builder()
        .name("Source")
        .action_type_id(
            cp::ActionTypeId::builder()
                .category(cp::ActionCategory::Source)
                .owner(cp::ActionOwner::Aws)
                .provider("S3")
                .version("1")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .configuration("S3Bucket", &bucket)
        .configuration("S3ObjectKey", KEY)
        .configuration(
            "PollForSourceChanges",
            if s.poll { "true" } else { "false" },
        )
        .output_artifacts(
            cp::OutputArtifact::builder()
                .name("SourceOutput")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .run_order(1)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stages = decl.stages.clone();
    stages[0] = cp::StageDeclaration::builder()
        .name("Source")
        .actions(source)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    decl.stages = stages;
    seed::update_declaration(c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    c.events
        .put_rule()
        .name(&stack.rule_name)
        .event_pattern((s.pattern)(&bucket, KEY).to_string())
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .send()
        .await
        .unwrap_or_else(|e| panic!("events:PutRule: {e:?}"));
    bucket
}

fn audit(endpoint: &str) -> Value {
    let o = support::pipeaudit_command(endpoint)
        .args(["--region", "us-east-1", "-q", "--format", "json"])
        .args(["--max-attempts", "1"])
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    support::stdout_json(&o)
}

fn ids_of(report: &Value, pipeline: &str) -> BTreeSet<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["pipeline"] == pipeline)
        .filter_map(|f| f["rule_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn s3_sources_polling_trigger_and_bucket_events() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut source_buckets = BTreeSet::new();
    for s in STACKS {
        let spec = StackSpec {
            prefix: s.prefix.to_string(),
            defects: Vec::new(),
            shared_store: None,
        };
        let stack = seed::seed_stack(&c, &spec)
            .await
            .unwrap_or_else(|e| panic!("seed {}: {e:#}", s.prefix));
        source_buckets.insert(make_s3_source(&c, &stack, s).await);
    }
    // moto kept the S3 source as declared
    let decl = seed::declaration(&c, "s3-poll-pipeline")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let src = &decl.stages()[0].actions()[0];
    assert_eq!(
        src.action_type_id().map(|t| t.provider()),
        Some("S3"),
        "{src:?}"
    );
    assert_eq!(
        src.configuration()
            .and_then(|m| m.get("PollForSourceChanges"))
            .map(String::as_str),
        Some("true")
    );

    // The snapshot: each source bucket read once (one shares the artifact
    // bucket), no artifact bucket asked for its notifications.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("snap.json");
    let path_str = path.to_string_lossy().to_string();
    let report = {
        let o = support::pipeaudit_command(&moto.endpoint)
            .args(["--region", "us-east-1", "-q", "--format", "json"])
            .args(["--max-attempts", "1", "--save-snapshot", &path_str])
            .output()
            .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
        support::stdout_json(&o)
    };
    let snap: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        snap["api_calls"]["s3:GetBucketNotification"],
        json!(source_buckets.len()),
        "{}",
        snap["api_calls"]
    );
    let read: BTreeSet<String> = snap["resources"]["source_buckets"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.keys().cloned())
        .collect();
    let want: BTreeSet<String> = source_buckets
        .iter()
        .map(|b| format!("arn:aws:s3:::{b}"))
        .collect();
    assert_eq!(read, want);
    for (arn, b) in snap["resources"]["source_buckets"]
        .as_object()
        .into_iter()
        .flatten()
    {
        assert_eq!(b["status"], "ok", "{arn}: {b}");
        // moto 5.1.22 stores the EventBridgeConfiguration but leaves it out
        // of GetBucketNotificationConfiguration: every bucket reads as not
        // sending events to EventBridge. Should moto start returning it,
        // this fails, and the s3-ok stack can move to an Object Created rule.
        assert_eq!(b["value"]["eventbridge"], false, "{arn}: {b}");
    }
    let wiring = snap["pipelines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == "s3-poll-pipeline")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        wiring["s3_sources"],
        json!([{
            "stage": "Source", "action": "Source", "region": "us-east-1",
            "bucket": "s3-poll-source", "bucket_arn": "arn:aws:s3:::s3-poll-source",
            "object_key": KEY, "poll_for_source_changes": true
        }])
    );
    // every call made is granted by the documented audit policy
    support::assert_policy_grants(
        "iam-audit-policy.json",
        snap["api_calls"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(a, _)| a),
    );

    assert!(
        support::diagnostics(&report).is_empty(),
        "{:#?}",
        support::diagnostics(&report)
    );
    for s in STACKS {
        let pipeline = format!("{}-pipeline", s.prefix);
        let want: BTreeSet<String> = ALWAYS
            .iter()
            .chain(s.expected)
            .map(|x| x.to_string())
            .collect();
        assert_eq!(ids_of(&report, &pipeline), want, "{pipeline}");
    }

    // A denied GetBucketNotificationConfiguration: the rule that needs it
    // (SC008, on the stack whose rule waits for Object Created events)
    // neither fires nor passes and names the permission; nothing else moves.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "s3:GET ?notification").then_some(Fault::AccessDenied)),
    );
    let denied = audit(&proxy.endpoint);
    assert_eq!(
        proxy
            .stats()
            .faults_by_op
            .get("s3:GET ?notification")
            .copied(),
        Some(source_buckets.len() as u64)
    );
    for s in STACKS {
        let pipeline = format!("{}-pipeline", s.prefix);
        let mut want: BTreeSet<String> = ALWAYS
            .iter()
            .chain(s.expected)
            .map(|x| x.to_string())
            .collect();
        want.remove("SC008");
        assert_eq!(ids_of(&denied, &pipeline), want, "{pipeline}");
    }
    let gaps: Vec<(String, String, String)> = support::diagnostics(&denied)
        .iter()
        .map(|d| {
            (
                d["rule_id"].as_str().unwrap_or_default().to_string(),
                d["pipeline"].as_str().unwrap_or_default().to_string(),
                d["permission"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [(
            "SC008".to_string(),
            "s3-evoff-pipeline".to_string(),
            "s3:GetBucketNotification".to_string()
        )],
        "{:#?}",
        support::diagnostics(&denied)
    );
}
