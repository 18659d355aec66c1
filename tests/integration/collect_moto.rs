//! Collection against a real AWS-compatible endpoint: moto_server 5.1.22,
//! seeded through the SDK with the reference stacks of `support::seed`.

use crate::support;

use std::process::Command;

use pipeaudit::collect::iam_details::IamRead;
use pipeaudit::collect::{CollectOptions, collect_with_config};
use pipeaudit::model::{Observed, SCHEMA_VERSION, Snapshot, secrets::SecretKind};
use serde_json::Value;
use support::moto::Moto;
use support::seed::{self, Defect, SeedClients, StackSpec};

const REGION: &str = "us-east-1";

async fn seeded(moto: &Moto, specs: &[StackSpec]) -> Vec<seed::SeededStack> {
    let clients = match SeedClients::connect(&moto.endpoint, REGION).await {
        Ok(c) => c,
        Err(e) => panic!("seed clients: {e:#}"),
    };
    let mut out = Vec::new();
    for spec in specs {
        match seed::seed_stack(&clients, spec).await {
            Ok(s) => out.push(s),
            Err(e) => panic!("seeding {}: {e:#}", spec.prefix),
        }
    }
    out
}

fn spec(prefix: &str, defects: &[Defect]) -> StackSpec {
    StackSpec {
        prefix: prefix.to_string(),
        defects: defects.to_vec(),
        shared_store: None,
    }
}

async fn collect(moto: &Moto, opts: CollectOptions) -> Snapshot {
    let config = moto.sdk_config(REGION).await;
    match collect_with_config(&config, &opts).await {
        Ok(s) => s,
        Err(e) => panic!("collect: {e}"),
    }
}

/// Replaces generated values (ids, timestamps, versions) so that a snapshot
/// of the snapshot is stable across runs.
fn redact(snapshot: &Snapshot, stacks: &[seed::SeededStack]) -> Value {
    let mut text = snapshot.to_json();
    for (i, s) in stacks.iter().enumerate() {
        text = text.replace(&s.key_id, &format!("<key-id-{i}>"));
        if let Some(inst) = &s.instance {
            text = text.replace(&inst.id, &format!("<instance-id-{i}>"));
        }
    }
    let mut v: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => panic!("snapshot JSON: {e}"),
    };
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (k, child) in map.iter_mut() {
                    let uuid_like = child
                        .as_str()
                        .is_some_and(|v| v.len() >= 32 && v.contains('-'));
                    let volatile = matches!(k.as_str(), "taken_at" | "created" | "updated" | "last_modified")
                        || (k == "id" && uuid_like)
                        || (k == "version" && child.is_number())
                        // moto ignores the project's key and reports its own aws/s3
                        // alias, which resolves to a key id generated per run
                        || k == "encryption_key_arn";
                    if volatile && (child.is_string() || child.is_number()) {
                        *child = Value::String(format!("[{k}]"));
                    } else {
                        walk(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[tokio::test]
async fn reference_stack_is_collected_completely() {
    let moto = Moto::start();
    let stacks = seeded(&moto, &[spec("ref-001", &[])]).await;
    let snap = collect(&moto, CollectOptions::default()).await;

    assert_eq!(snap.schema_version, SCHEMA_VERSION);
    assert_eq!(snap.account, "123456789012");
    assert_eq!(snap.pipelines.len(), 1);
    let w = &snap.pipelines[0];
    let s = &stacks[0];
    assert_eq!(w.arn, s.pipeline_arn);
    assert_eq!(w.sources.len(), 1);
    assert_eq!(w.sources[0].repository_arn, s.repo_arn);
    assert_eq!(w.sources[0].branch.as_deref(), Some("main"));
    assert_eq!(w.sources[0].poll_for_source_changes, Some(false));
    assert_eq!(w.builds.len(), 1);
    assert_eq!(w.deploys.len(), 1);
    assert_eq!(w.artifact_stores.len(), 1);
    assert_eq!(
        w.artifact_stores[0].key_arn.as_deref(),
        Some(s.key_arn.as_str())
    );
    assert_eq!(
        w.trigger_rules.len(),
        1,
        "the trigger rule is found from EventBridge"
    );

    let r = &snap.resources;
    let ok = |present: bool, what: &str| {
        assert!(present, "{what} was not read: {:#?}", snap.read_errors())
    };
    ok(
        r.repositories
            .get(&s.repo_arn)
            .and_then(Observed::value)
            .is_some(),
        "repository",
    );
    ok(
        r.build_projects
            .get(&w.builds[0].project_arn)
            .and_then(Observed::value)
            .is_some(),
        "project",
    );
    ok(
        r.deploy_groups
            .get(&w.deploys[0].group_arn)
            .and_then(Observed::value)
            .is_some(),
        "deploy group",
    );
    ok(
        r.deploy_applications
            .get(&w.deploys[0].application_arn)
            .and_then(Observed::value)
            .is_some(),
        "app",
    );
    let bucket = r
        .buckets
        .get(&w.artifact_stores[0].bucket_arn)
        .and_then(Observed::value);
    ok(bucket.is_some(), "bucket");
    let key = r.keys.get(&s.key_arn).and_then(Observed::value);
    ok(key.is_some(), "key");
    if let Some(key) = key {
        assert_eq!(key.key_state, "Enabled");
        assert_eq!(key.rotation_enabled.value(), Some(&true));
        assert!(
            key.policy
                .value()
                .and_then(|p| p.document.as_ref())
                .is_some()
        );
        assert!(!key.aliases.is_empty(), "alias resolved onto the key");
    }
    if let Some(b) = bucket {
        assert!(b.policy.value().is_some());
        assert_eq!(
            b.versioning.value().and_then(|v| v.status.as_deref()),
            Some("Enabled")
        );
        let enc = b
            .encryption
            .value()
            .map(|e| e.rules.clone())
            .unwrap_or_default();
        assert_eq!(
            enc.first().and_then(|r| r.kms_key_arn.as_deref()),
            Some(s.key_arn.as_str())
        );
    }
    for role in &s.roles {
        ok(r.roles.get(role).and_then(Observed::value).is_some(), role);
    }
    assert!(snap.read_errors().is_empty(), "{:#?}", snap.read_errors());

    // Every operation the collectors made is granted by the documented policy.
    support::assert_policy_grants("iam-audit-policy.json", snap.api_calls.keys());
    // The groups are EC2 ones: no deployment is read (only a Lambda group's
    // last deployment names what it deploys).
    assert!(
        snap.api_calls.keys().any(|a| a.starts_with("codedeploy:"))
            && !snap
                .api_calls
                .contains_key("codedeploy:BatchGetDeployments"),
        "{:?}",
        snap.api_calls
    );

    support::insta_settings().bind(|| {
        insta::assert_json_snapshot!("reference_stack_snapshot", redact(&snap, &stacks));
    });
}

#[tokio::test]
async fn shared_bucket_and_key_are_fetched_once() {
    let moto = Moto::start();
    let clients = match SeedClients::connect(&moto.endpoint, REGION).await {
        Ok(c) => c,
        Err(e) => panic!("{e:#}"),
    };
    let store = match seed::seed_shared_store(&clients, "shared").await {
        Ok(s) => s,
        Err(e) => panic!("{e:#}"),
    };
    for p in ["a-001", "a-002", "a-003"] {
        let mut sp = spec(p, &[]);
        sp.shared_store = Some(store.clone());
        if let Err(e) = seed::seed_stack(&clients, &sp).await {
            panic!("{e:#}");
        }
    }
    let snap = collect(&moto, CollectOptions::default()).await;
    assert_eq!(snap.pipelines.len(), 3);
    let calls = |op: &str| snap.api_calls.get(op).copied().unwrap_or(0);
    assert_eq!(calls("codepipeline:GetPipeline"), 3);
    assert_eq!(calls("s3:ListBucket"), 0, "no call only to learn it exists");
    assert_eq!(calls("s3:GetBucketPolicy"), 1);
    assert_eq!(calls("s3:GetEncryptionConfiguration"), 1);
    assert_eq!(calls("kms:DescribeKey"), 1);
    assert_eq!(calls("kms:GetKeyPolicy"), 1);
    assert_eq!(calls("kms:GetKeyRotationStatus"), 1);
    assert_eq!(calls("kms:ListAliases"), 1);
    assert_eq!(
        calls("codebuild:BatchGetProjects"),
        1,
        "three projects in one batch"
    );
    assert_eq!(calls("sts:GetCallerIdentity"), 1);
    assert_eq!(snap.resources.buckets.len(), 1);
    assert_eq!(snap.resources.keys.len(), 1);
    // IAM in bulk: the account's few roles cost less than reading each
    assert_eq!(calls("iam:GetRole"), 0);
    assert_eq!(
        calls("iam:GetAccountAuthorizationDetails"),
        4,
        "one page of roles, one of managed policies, and the same two for the principals of release paths (moto never pages)"
    );
    // role by role: each distinct role once
    let per_role = collect(
        &moto,
        CollectOptions {
            iam_read: IamRead::PerRole,
            ..CollectOptions::default()
        },
    )
    .await;
    assert_eq!(
        per_role.api_calls.get("iam:GetRole").copied().unwrap_or(0) as usize,
        per_role.resources.roles.len()
    );
    assert_eq!(per_role.resources.roles, snap.resources.roles);
}

#[tokio::test]
async fn iam_read_in_bulk_equals_iam_read_role_by_role() {
    let moto = Moto::start();
    seeded(
        &moto,
        &[
            spec("iam-a", &[Defect::AdminPipelineRole]),
            spec("iam-b", &[Defect::TriggerNoRole]),
            spec("iam-c", &[]),
        ],
    )
    .await;
    let with = |iam_read| CollectOptions {
        iam_read,
        ..CollectOptions::default()
    };
    let bulk = collect(&moto, with(IamRead::AccountDetails)).await;
    let single = collect(&moto, with(IamRead::PerRole)).await;
    let auto = collect(&moto, with(IamRead::Auto)).await;
    let calls = |s: &Snapshot, op: &str| s.api_calls.get(op).copied().unwrap_or(0);
    assert!(calls(&bulk, "iam:GetAccountAuthorizationDetails") > 0);
    assert_eq!(calls(&bulk, "iam:GetRole"), 0);
    assert_eq!(calls(&bulk, "iam:GetPolicyVersion"), 0);
    assert_eq!(
        calls(&bulk, "iam:GetInstanceProfile"),
        0,
        "profiles come with the roles"
    );
    // role by role, the only bulk reads are the two passes of the
    // principal read for release paths (moto never pages)
    assert_eq!(calls(&single, "iam:GetAccountAuthorizationDetails"), 2);
    assert!(calls(&single, "iam:GetInstanceProfile") > 0);
    assert_eq!(
        calls(&auto, "iam:ListRoles"),
        1,
        "auto counts the roles once"
    );
    assert!(calls(&auto, "iam:GetAccountAuthorizationDetails") > 0);
    assert!(!single.resources.roles.is_empty());
    assert!(!single.resources.managed_policies.is_empty());
    for s in [&bulk, &auto] {
        assert_eq!(s.resources.roles, single.resources.roles);
        assert_eq!(
            s.resources.managed_policies,
            single.resources.managed_policies
        );
        assert_eq!(s.resources.deploy_targets, single.resources.deploy_targets);
        assert!(s.read_errors().is_empty(), "{:#?}", s.read_errors());
    }
}

#[tokio::test]
async fn trigger_rules_are_looked_up_by_target_when_the_bus_holds_many_others() {
    let moto = Moto::start();
    let stacks = seeded(&moto, &[spec("busy", &[])]).await;
    // rules of other teams on the default bus, none targeting a pipeline
    let events = aws_sdk_eventbridge::Client::new(&moto.sdk_config(REGION).await);
    for i in 0..6 {
        let name = format!("other-{i}");
        if let Err(e) = events
            .put_rule()
            .name(&name)
            .schedule_expression("rate(1 day)")
            .send()
            .await
        {
            panic!("put_rule: {e:?}");
        }
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("t")
            .arn(format!("arn:aws:sns:{REGION}:123456789012:topic-{i}"))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        if let Err(e) = events
            .put_targets()
            .rule(&name)
            .targets(target)
            .send()
            .await
        {
            panic!("put_targets: {e:?}");
        }
    }
    let snap = collect(&moto, CollectOptions::default()).await;
    let calls = |op: &str| snap.api_calls.get(op).copied().unwrap_or(0);
    assert_eq!(calls("events:ListRules"), 1);
    assert_eq!(calls("events:ListRuleNamesByTarget"), 1, "one pipeline");
    assert_eq!(calls("events:ListTargetsByRule"), 1, "only its own rule");
    let w = &snap.pipelines[0];
    assert_eq!(w.trigger_rules.len(), 1, "{:?}", w.trigger_rules);
    assert!(
        w.trigger_rules[0].contains(&stacks[0].prefix),
        "{:?}",
        w.trigger_rules
    );
    assert_eq!(snap.resources.event_rules.len(), 1);
    assert!(snap.read_errors().is_empty(), "{:#?}", snap.read_errors());
}

#[tokio::test]
async fn missing_resources_are_recorded_absent_and_the_run_continues() {
    let moto = Moto::start();
    let stacks = seeded(
        &moto,
        &[
            spec("m-bucket", &[Defect::MissingBucket]),
            spec("m-key", &[Defect::MissingKey]),
            spec("m-project", &[Defect::MissingProject]),
            spec("m-repo", &[Defect::MissingRepo]),
            spec("m-group", &[Defect::MissingDeployGroup]),
            spec("m-ok", &[]),
        ],
    )
    .await;
    let snap = collect(&moto, CollectOptions::default()).await;
    assert_eq!(snap.pipelines.len(), stacks.len());
    let wiring = |prefix: &str| {
        snap.pipelines
            .iter()
            .find(|w| w.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("pipeline {prefix} not collected"))
    };
    let r = &snap.resources;
    let absent = |o: Option<bool>, what: &str| assert_eq!(o, Some(true), "{what} should be absent");
    absent(
        r.buckets
            .get(&wiring("m-bucket").artifact_stores[0].bucket_arn)
            .map(Observed::is_absent),
        "bucket",
    );
    let key = wiring("m-key").artifact_stores[0]
        .key_arn
        .clone()
        .unwrap_or_default();
    absent(r.keys.get(&key).map(Observed::is_absent), "key");
    absent(
        r.build_projects
            .get(&wiring("m-project").builds[0].project_arn)
            .map(Observed::is_absent),
        "project",
    );
    absent(
        r.repositories
            .get(&wiring("m-repo").sources[0].repository_arn)
            .map(Observed::is_absent),
        "repo",
    );
    absent(
        r.deploy_groups
            .get(&wiring("m-group").deploys[0].group_arn)
            .map(Observed::is_absent),
        "group",
    );
    // the compliant stack next to them is complete
    let ok = wiring("m-ok");
    assert!(
        r.buckets
            .get(&ok.artifact_stores[0].bucket_arn)
            .and_then(Observed::value)
            .is_some()
    );
    assert!(
        r.build_projects
            .get(&ok.builds[0].project_arn)
            .and_then(Observed::value)
            .is_some()
    );
}

#[tokio::test]
async fn plaintext_secret_values_never_leave() {
    let moto = Moto::start();
    let stacks = seeded(&moto, &[spec("sec-001", &[Defect::PlaintextSecret])]).await;
    let snap = collect(&moto, CollectOptions::default()).await;
    let project = snap
        .resources
        .build_projects
        .values()
        .find_map(Observed::value)
        .unwrap_or_else(|| panic!("no project collected"));
    let var = project
        .environment
        .variables
        .iter()
        .find(|v| v.name == "AWS_SECRET_ACCESS_KEY")
        .unwrap_or_else(|| panic!("secret variable not collected"));
    assert_eq!(var.var_type, "PLAINTEXT");
    assert!(var.reference.is_none());
    assert!(
        var.secret_kinds.contains(&SecretKind::AwsSecretAccessKey),
        "{:?}",
        var.secret_kinds
    );
    assert!(!snap.to_json().contains(seed::FAKE_SECRET_VALUE));

    // The binary, at the most verbose log level, writes it nowhere either.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("snap.json");
    let out = Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args([
            "snapshot",
            "-vv",
            "--region",
            REGION,
            "--endpoint-url",
            &moto.endpoint,
            "-o",
        ])
        .arg(&file)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&file).unwrap_or_else(|e| panic!("{e}"));
    let secret = seed::FAKE_SECRET_VALUE.as_bytes();
    for (what, bytes) in [
        ("file", &written),
        ("stdout", &out.stdout),
        ("stderr", &out.stderr),
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "secret found in {what}"
        );
    }
    assert!(String::from_utf8_lossy(&written).contains(&stacks[0].project_name));
}

#[tokio::test]
async fn snapshot_file_round_trips_exactly() {
    let moto = Moto::start();
    seeded(
        &moto,
        &[spec(
            "rt-001",
            &[Defect::KeyRotationOff, Defect::BucketNoPolicy],
        )],
    )
    .await;
    let snap = collect(&moto, CollectOptions::default()).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("s.json");
    snap.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let loaded = Snapshot::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded, snap);
    assert_eq!(loaded.to_json(), snap.to_json());
}

#[tokio::test]
async fn pipeline_filter_limits_the_audit() {
    let moto = Moto::start();
    seeded(
        &moto,
        &[
            spec("keep-001", &[]),
            spec("keep-002", &[]),
            spec("drop-001", &[]),
        ],
    )
    .await;
    let opts = CollectOptions {
        pipelines: vec!["keep-*".to_string()],
        ..CollectOptions::default()
    };
    let snap = collect(&moto, opts).await;
    let names: Vec<&str> = snap.pipelines.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("keep-")));
    assert_eq!(
        snap.resources.buckets.len(),
        2,
        "the filtered pipeline's bucket is not read"
    );
}

#[test]
fn unreachable_endpoint_is_a_short_credential_error() {
    // Nothing listens on this port (bound and released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    let out = Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args([
            "snapshot",
            "--region",
            REGION,
            "--max-attempts",
            "1",
            "--connect-timeout",
            "1",
        ])
        .args(["--endpoint-url", &format!("http://127.0.0.1:{port}")])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot identify the AWS account"),
        "{stderr}"
    );
    assert!(stderr.contains("connection refused"), "{stderr}");
    // the error, and one line of what to do
    assert_eq!(stderr.trim().lines().count(), 2, "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_options_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(["snapshot", "--concurrency", "0"])
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_hung_endpoint_cannot_hang_the_run() {
    // accepts connections and never answers
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(9);
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().take(8).flatten() {
            held.push(s);
        }
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args([
            "snapshot",
            "--region",
            REGION,
            "--max-attempts",
            "1",
            "--read-timeout",
            "1",
        ])
        .args(["--endpoint-url", &format!("http://127.0.0.1:{port}")])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        start.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot identify the AWS account"),
        "{stderr}"
    );
    assert!(stderr.contains("in time"), "{stderr}");
}

/// The instance ids a deployment group selects, as collected.
fn selected(snap: &Snapshot, group_arn: &str) -> std::collections::BTreeSet<String> {
    match snap.resources.deploy_targets.get(group_arn) {
        Some(Observed::Ok { value }) => value.instances.iter().map(|i| i.id.clone()).collect(),
        other => panic!("deploy targets of {group_arn}: {other:?}"),
    }
}

fn group_of(snap: &Snapshot, pipeline: &str) -> String {
    snap.pipelines
        .iter()
        .find(|w| w.name == pipeline)
        .and_then(|w| w.deploys.first())
        .map(|d| d.group_arn.clone())
        .unwrap_or_else(|| panic!("no deploy in {pipeline}"))
}

/// (pipeline, resource, message) of each finding of `rule`.
fn findings_of(
    e: &pipeaudit::rules::engine::Evaluation,
    rule: &str,
) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = e
        .findings
        .iter()
        .filter(|f| f.rule_id == rule)
        .map(|f| {
            (
                f.pipeline.clone(),
                f.resource_arn.clone(),
                f.message.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

fn audit(snap: &Snapshot) -> pipeaudit::rules::engine::Evaluation {
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    pipeaudit::rules::engine::evaluate(
        std::sync::Arc::new(snap.clone()),
        &rules,
        &pipeaudit::rules::config::Config::default(),
    )
}

/// The last link: the instances the deployment groups select. Stack a has
/// its healthy instance plus one whose role may not decrypt and one that
/// allows IMDSv1 (and instances the filter must not select); stack b's
/// filter matches nothing running; stack c deploys to a group with a tag
/// set. Each rule fires on exactly its instance; then an instance profile
/// change is reported as drift, linked to the rule it makes fire.
#[tokio::test]
async fn deploy_targets_each_rule_fires_on_exactly_its_instance() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, REGION)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let must = |r: anyhow::Result<String>| r.unwrap_or_else(|e| panic!("{e:#}"));
    let stack = |p: &'static str| {
        let c = &c;
        async move {
            seed::seed_stack(c, &spec(p, &[]))
                .await
                .unwrap_or_else(|e| panic!("seeding {p}: {e:#}"))
        }
    };
    let a = stack("ec2-a").await;
    let healthy = a.instance.clone().unwrap_or_else(|| panic!("no instance"));
    let web = format!("{}-web", a.prefix);
    let (nodecrypt_role, nodecrypt_profile) = seed::seed_instance_profile(
        &c,
        "ec2-a-nodecrypt",
        seed::instance_statements(&a.bucket, &a.pipeline_name, &a.key_arn, false),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let nodecrypt =
        must(seed::seed_instance(&c, &[("Name", &web)], Some(&nodecrypt_profile), true).await);
    let imdsv1 =
        must(seed::seed_instance(&c, &[("Name", &web)], Some(&healthy.profile_name), false).await);
    // not selected: another Name, and the right Name but stopped
    must(seed::seed_instance(&c, &[("Name", "someone-else")], None, false).await);
    let stopped = must(seed::seed_instance(&c, &[("Name", &web)], None, false).await);
    c.ec2
        .stop_instances()
        .instance_ids(&stopped)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    // b: its only instance terminated, so its filter selects nothing running
    let b = stack("ec2-b").await;
    let b_instance = b.instance.clone().unwrap_or_else(|| panic!("no instance"));
    c.ec2
        .terminate_instances()
        .instance_ids(&b_instance.id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    // c: a group with the tag set (app=web OR app=api) AND env=prod
    let cs = stack("ec2-c").await;
    let c_profile = cs
        .instance
        .clone()
        .unwrap_or_else(|| panic!("no instance"))
        .profile_name;
    use aws_sdk_codedeploy::types as cd;
    let kv = |k: &str, v: &str| {
        cd::Ec2TagFilter::builder()
            .key(k)
            .value(v)
            .r#type(cd::Ec2TagFilterType::KeyAndValue)
            .build()
    };
    c.codedeploy
        .create_deployment_group()
        .application_name(&cs.app_name)
        .deployment_group_name("ec2-c-tagset")
        .service_role_arn(&cs.roles[2])
        .ec2_tag_set(
            cd::Ec2TagSet::builder()
                .ec2_tag_set_list(vec![kv("app", "web"), kv("app", "api")])
                .ec2_tag_set_list(vec![kv("env", "prod")])
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut decl = seed::declaration(&c, &cs.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for st in decl.stages.iter_mut() {
        for act in st.actions.iter_mut() {
            if let Some(cfg) = act.configuration.as_mut()
                && cfg.contains_key("DeploymentGroupName")
            {
                cfg.insert("DeploymentGroupName".into(), "ec2-c-tagset".into());
            }
        }
    }
    seed::update_declaration(&c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let tagged = |tags: &'static [(&'static str, &'static str)]| {
        let (c, p) = (&c, &c_profile);
        async move { must(seed::seed_instance(c, tags, Some(p), true).await) }
    };
    let web_prod = tagged(&[("app", "web"), ("env", "prod")]).await;
    let api_prod = tagged(&[("app", "api"), ("env", "prod")]).await;
    tagged(&[("app", "api"), ("env", "dev")]).await;
    tagged(&[("app", "web")]).await;

    let snap = collect(&moto, CollectOptions::default()).await;
    assert!(snap.read_errors().is_empty(), "{:#?}", snap.read_errors());
    let (ga, gb, gc) = (
        group_of(&snap, &a.pipeline_name),
        group_of(&snap, &b.pipeline_name),
        group_of(&snap, &cs.pipeline_name),
    );
    let set = |ids: &[&String]| -> std::collections::BTreeSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    };
    assert_eq!(
        selected(&snap, &ga),
        set(&[&healthy.id, &nodecrypt, &imdsv1])
    );
    assert_eq!(selected(&snap, &gb), set(&[]));
    assert_eq!(selected(&snap, &gc), set(&[&web_prod, &api_prod]));
    let read = match snap.resources.deploy_targets.get(&ga) {
        Some(Observed::Ok { value }) => value.instances_read,
        _ => 0,
    };
    assert!(read >= 3, "instances read: {read}");
    // one DescribeInstances for the region (one page), each profile once
    assert_eq!(snap.api_calls.get("ec2:DescribeInstances"), Some(&1));
    // the three profiles (a's healthy one, a's nodecrypt one, c's) come
    // with the bulk IAM read: no GetInstanceProfile
    assert_eq!(snap.api_calls.get("iam:GetInstanceProfile"), None);
    assert!(
        matches!(
            snap.resources.roles.get(&nodecrypt_role),
            Some(Observed::Ok { .. })
        ),
        "the instance role is read with the other roles"
    );

    let e = audit(&snap);
    let cd007 = findings_of(&e, "CD007");
    assert_eq!(cd007.len(), 1, "{cd007:#?}");
    assert_eq!(
        (cd007[0].0.as_str(), cd007[0].1.as_str()),
        (a.pipeline_name.as_str(), nodecrypt_role.as_str())
    );
    let m = &cd007[0].2;
    assert!(
        m.contains(&nodecrypt)
            && m.contains(&nodecrypt_role)
            && m.contains(&format!("kms:Decrypt on the artifact key {}", a.key_arn))
            && !m.contains("s3:GetObject"),
        "{m}"
    );
    let cd009 = findings_of(&e, "CD009");
    assert_eq!(cd009.len(), 1, "{cd009:#?}");
    assert_eq!(cd009[0].1, ga);
    assert!(
        cd009[0].2.contains(&imdsv1)
            && !cd009[0].2.contains(&healthy.id)
            && !cd009[0].2.contains(&nodecrypt),
        "{}",
        cd009[0].2
    );
    assert_eq!(findings_of(&e, "CD008"), vec![]);
    let cd002 = findings_of(&e, "CD002");
    assert_eq!(cd002.len(), 1, "{cd002:#?}");
    assert_eq!(cd002[0].1, gb);
    assert!(cd002[0].2.contains("selects no running"), "{}", cd002[0].2);
    assert!(
        !e.diagnostics.iter().any(|d| d
            .rule_id
            .as_deref()
            .is_some_and(|r| ["CD002", "CD007", "CD008", "CD009"].contains(&r))),
        "{:#?}",
        e.diagnostics
    );

    // Drift: an instance of group c gets a profile whose role may not
    // decrypt (a role no finding was on before).
    let (drift_role, drift_profile) = seed::seed_instance_profile(
        &c,
        "ec2-c-drift",
        seed::instance_statements(&cs.bucket, &cs.pipeline_name, &cs.key_arn, false),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let assoc = c
        .ec2
        .describe_iam_instance_profile_associations()
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let id = assoc
        .iam_instance_profile_associations()
        .iter()
        .find(|x| x.instance_id() == Some(web_prod.as_str()))
        .and_then(|x| x.association_id())
        .unwrap_or_else(|| panic!("no association for {web_prod}"))
        .to_string();
    // (moto's ReplaceIamInstanceProfileAssociation leaves what
    // DescribeInstances shows as it was: disassociate, then associate)
    c.ec2
        .disassociate_iam_instance_profile()
        .association_id(id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    c.ec2
        .associate_iam_instance_profile()
        .instance_id(&web_prod)
        .iam_instance_profile(
            aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                .name(&drift_profile)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let after = collect(&moto, CollectOptions::default()).await;
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let d = pipeaudit::drift::compare(
        &snap,
        &after,
        &rules,
        &pipeaudit::rules::config::Config::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let change = d
        .changes
        .iter()
        .find(|ch| ch.resource_kind == "deploy_targets" && ch.arn == gc)
        .unwrap_or_else(|| panic!("no deploy targets change: {:#?}", d.changes));
    let shown = serde_json::to_string(&change.fields).unwrap_or_default();
    assert!(
        shown.contains(&drift_profile) && shown.contains(&web_prod),
        "{shown}"
    );
    assert!(change.pipelines.contains(&cs.pipeline_arn), "{change:#?}");
    assert_eq!(change.rules, vec!["+CD007".to_string()], "{change:#?}");
    assert!(
        findings_of(&audit(&after), "CD007")
            .iter()
            .any(|f| f.1 == drift_role && f.2.contains(&web_prod)),
        "CD007 on the new role"
    );
}

/// Auto Scaling groups resolve to their instances (DescribeAutoScalingGroups
/// batched, then DescribeInstances). moto answers a deployment group's
/// `autoScalingGroups` as plain names, which the SDK cannot parse, so the
/// deploy-targets kind is called here directly with a group's selector; the
/// EC2, Auto Scaling and IAM answers are moto's. moto also ignores the
/// launch template's instance profile and metadata options, so they are set
/// on the launched instance afterwards.
#[tokio::test]
async fn auto_scaling_group_instances_are_selected() {
    use aws_sdk_ec2::types as ec2t;
    use pipeaudit::collect::kind::{Kind, ToRead};
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, REGION)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (role_arn, profile) = seed::seed_instance_profile(
        &c,
        "asg-instance-role",
        seed::instance_statements(
            "asg-artifacts",
            "asg-pipeline",
            "arn:aws:kms:us-east-1:123456789012:key/x",
            true,
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    c.ec2
        .create_launch_template()
        .launch_template_name("asg-template")
        .launch_template_data(
            ec2t::RequestLaunchTemplateData::builder()
                .image_id(seed::AMI)
                .instance_type(ec2t::InstanceType::T3Micro)
                .iam_instance_profile(
                    ec2t::LaunchTemplateIamInstanceProfileSpecificationRequest::builder()
                        .name(&profile)
                        .build(),
                )
                .metadata_options(
                    ec2t::LaunchTemplateInstanceMetadataOptionsRequest::builder()
                        .http_tokens(ec2t::LaunchTemplateHttpTokensState::Required)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    c.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("asg-web")
        .launch_template(
            aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder()
                .launch_template_name("asg-template")
                .build(),
        )
        .min_size(1)
        .max_size(2)
        .desired_capacity(1)
        .availability_zones("us-east-1a")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let groups = c
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("asg-web")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let launched: Vec<String> = groups
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    assert_eq!(launched.len(), 1, "{launched:?}");
    let id = launched[0].clone();
    c.ec2
        .associate_iam_instance_profile()
        .instance_id(&id)
        .iam_instance_profile(
            ec2t::IamInstanceProfileSpecification::builder()
                .name(&profile)
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    c.ec2
        .modify_instance_metadata_options()
        .instance_id(&id)
        .http_tokens(ec2t::HttpTokensState::Required)
        .http_put_response_hop_limit(2)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // an instance outside the group is not selected
    seed::seed_instance(&c, &[("Name", "asg-web")], None, true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    let config = moto.sdk_config(REGION).await;
    let clients = pipeaudit::collect::clients::RegionClients::new(&config);
    let ctx = pipeaudit::collect::call::Ctx::new(4, indicatif::ProgressBar::hidden());
    let group = "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:asg-app/asg-group";
    let targets = vec![ToRead {
        arn: group.to_string(),
        region: REGION.to_string(),
        detail: pipeaudit::collect::ec2::Selector {
            auto_scaling_groups: vec!["asg-web".to_string(), "asg-gone".to_string()],
            ..Default::default()
        },
    }];
    crate::blank_refs!(refs);
    let out = pipeaudit::collect::ec2::Instances::read(&ctx, &clients, &refs, &targets).await;
    assert_eq!(out.len(), 1);
    let t = match &out[0] {
        (arn, Observed::Ok { value }) if arn == group => value.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(t.instances.len(), 1, "{t:#?}");
    let i = &t.instances[0];
    assert_eq!(i.id, id);
    assert_eq!(i.auto_scaling_group.as_deref(), Some("asg-web"));
    assert_eq!(i.role_arn.value(), Some(&role_arn));
    assert_eq!(i.http_tokens.as_deref(), Some("required"));
    assert_eq!(t.instances_read, 1);
    // the group's launch template, from the same read (release paths:
    // a new version reaches the group's instances)
    let lt = t
        .launch_templates
        .get("asg-web")
        .unwrap_or_else(|| panic!("{t:#?}"));
    assert!(lt.id.starts_with("lt-"), "{lt:?}");
    assert_eq!(lt.name.as_deref(), Some("asg-template"));
    assert_eq!(t.launch_templates.len(), 1, "asg-gone has none");
    let calls = ctx.calls();
    assert_eq!(calls.get("autoscaling:DescribeAutoScalingGroups"), Some(&1));
    assert_eq!(calls.get("ec2:DescribeInstances"), Some(&1));
}
