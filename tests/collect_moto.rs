//! Collection against a real AWS-compatible endpoint: moto_server 5.1.22,
//! seeded through the SDK with the reference stacks of `support::seed`.

mod support;

use std::process::Command;

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
    let policy = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/iam-audit-policy.json"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    for action in snap.api_calls.keys() {
        assert!(
            policy.contains(&format!("\"{action}\"")),
            "{action} missing from examples/iam-audit-policy.json"
        );
    }

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
    assert_eq!(
        calls("s3:ListBucket"),
        1,
        "HeadBucket once for the shared bucket"
    );
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
    // each distinct role once
    assert_eq!(calls("iam:GetRole") as usize, snap.resources.roles.len());
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
