//! `--remediate` against moto_server 5.1.22, for the fix actions implemented
//! so far (key-rotation, bucket-versioning, bucket-public-access-block,
//! bucket-encryption, trigger-enable): dry run writes nothing; the applied
//! plan removes the findings; a second run plans nothing; objects and
//! policy statements are kept; the journal records every change.

use crate::support;

use std::process::Output;
use std::sync::Arc;

use pipeaudit::collect::{CollectOptions, collect_with_config};
use pipeaudit::drift::compare;
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use support::moto::Moto;
use support::seed::{self, Defect, SeedClients, StackSpec};

/// moto stores no custom key on a build project, so CB004 fires on every
/// seeded stack, and its fix needs CodeBuild UpdateProject, which moto lacks
/// (that fix is tested with aws-smithy-mocks): these runs disable CB004.
fn moto_config() -> std::path::PathBuf {
    // one file per call: tests run in parallel, and a file rewritten while
    // another run reads it can be read empty
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("pipeaudit-moto-{}-{n}.toml", std::process::id()));
    if let Err(e) = std::fs::write(&path, "disabled = [\"CB004\"]\n") {
        panic!("{}: {e}", path.display());
    }
    path
}

fn pipeaudit(moto: &Moto, args: &[&str]) -> Output {
    support::pipeaudit_command(&moto.endpoint)
        .args(["--region", "us-east-1", "-q"])
        .arg("--config")
        .arg(moto_config())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

#[tokio::test]
async fn remediate_fixes_plans_nothing_twice_and_keeps_data() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let cases: &[(&str, Defect, &str)] = &[
        ("rm-rot", Defect::KeyRotationOff, "KM003"),
        ("rm-ver", Defect::VersioningOff, "AB008"),
        ("rm-pab", Defect::PublicAccessBlockOff, "AB006"),
        ("rm-enc", Defect::BucketNoEncryption, "AB002"),
        ("rm-trg", Defect::TriggerDisabled, "TR002"),
        ("rm-pol", Defect::BucketNoPolicy, "AB004"),
    ];
    let mut stacks = Vec::new();
    for (prefix, defect, _) in cases {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects: vec![*defect],
            shared_store: None,
        };
        stacks.push(
            seed::seed_stack(&c, &spec)
                .await
                .unwrap_or_else(|e| panic!("{e:#}")),
        );
    }
    // the bucket without the reference statements has one statement of its
    // own, which remediation must keep
    let custom = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "AuditorRead", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::rm-pol-artifacts/*"}]});
    c.s3.put_bucket_policy()
        .bucket("rm-pol-artifacts")
        .policy(custom.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let config = moto.sdk_config("us-east-1").await;
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let before = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // dry run: the plan names each fix, and nothing changes
    let o = pipeaudit(&moto, &["--remediate", "--dry-run"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let plan = String::from_utf8_lossy(&o.stdout);
    for action in [
        "key-rotation",
        "bucket-versioning",
        "bucket-public-access-block",
        "bucket-encryption",
        "trigger-enable",
    ] {
        assert!(plan.contains(action), "{action} in plan:\n{plan}");
    }
    assert!(
        plan.contains("Manual steps"),
        "unfixable findings are listed as manual steps"
    );
    // the policy fixes show what they keep and the statement they add, not
    // the policy text: the rm-pol bucket has one statement of its own
    assert!(
        plan.contains("before: 1 existing statement(s), kept unchanged\n"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "before: 1 existing statement(s) and 1 added by the action above, kept unchanged\n"
        ),
        "{plan}"
    );
    for sid in ["DenyInsecureConnections", "DenyUnEncryptedObjectUploads"] {
        assert!(
            plan.contains(&format!("\"Sid\": \"{sid}\"")),
            "{sid} in plan:\n{plan}"
        );
    }
    assert!(!plan.contains("\\\""), "no escaped policy text:\n{plan}");
    // manual steps: each rule's remediation once, its resources under it
    let manual = plan
        .split("Manual steps")
        .nth(1)
        .unwrap_or_else(|| panic!("{plan}"));
    let headers: Vec<&str> = manual
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("    "))
        .filter_map(|l| l.trim().split(':').next())
        .collect();
    let mut unique = headers.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(headers.len(), unique.len(), "one group per rule:\n{plan}");
    assert!(
        manual.lines().any(|l| l.starts_with("    - rm-")),
        "resources listed under their rule:\n{plan}"
    );
    let unchanged = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let d =
        compare(&before, &unchanged, &rules, &Config::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(d.changes.is_empty(), "dry run wrote: {:#?}", d.changes);

    // the same plan as JSON
    let o = pipeaudit(&moto, &["--remediate", "--dry-run", "--format", "json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["actions"].as_array().map(Vec::len), Some(7), "{json}");
    assert!(json["actions"][0]["before"].is_object() && json["actions"][0]["after"].is_object());
    assert!(json["manual"].as_array().is_some_and(|m| !m.is_empty()));
    let policy_fixes: Vec<&serde_json::Value> = json["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["resource_arn"] == "arn:aws:s3:::rm-pol-artifacts")
        .collect();
    assert_eq!(policy_fixes.len(), 2, "{json}");
    for a in &policy_fixes {
        assert!(
            a["before"]
                .as_str()
                .is_some_and(|b| b.ends_with("kept unchanged")),
            "{a}"
        );
        assert!(a["after"]["added_statement"]["Sid"].is_string(), "{a}");
        assert!(a.get("collected").is_none(), "{a}");
    }
    // the manual steps come grouped by rule
    let manual_rules: Vec<&str> = json["manual"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["rule_id"].as_str())
        .collect();
    let mut sorted = manual_rules.clone();
    sorted.sort();
    assert_eq!(manual_rules, sorted, "manual steps grouped by rule");

    // without a terminal, applying needs --yes
    let o = pipeaudit(&moto, &["--remediate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--yes"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("journal.json");
    let o = pipeaudit(
        &moto,
        &[
            "--remediate",
            "--yes",
            "--journal",
            &journal.to_string_lossy(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let entries = entries.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 7);
    assert!(entries.iter().all(
        |e| e["outcome"] == "applied" && e["api_call"].as_str().is_some_and(|c| !c.is_empty())
    ));
    // the journal keeps the whole previous policy, for undoing by hand
    let first_policy_fix = entries
        .iter()
        .find(|e| e["resource_arn"] == "arn:aws:s3:::rm-pol-artifacts")
        .unwrap_or_else(|| panic!("no policy fix journaled"));
    let previous: serde_json::Value = serde_json::from_str(
        first_policy_fix["previous"]["policy"]
            .as_str()
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("previous policy: {e}"));
    assert_eq!(previous["Statement"][0]["Sid"], "AuditorRead");

    // the re-audit: the fixed findings are gone
    let after = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let eval = pipeaudit::rules::engine::evaluate(Arc::new(after), &rules, &Config::default());
    for (prefix, _, rule) in cases {
        let pipeline = format!("{prefix}-pipeline");
        assert!(
            !eval
                .findings
                .iter()
                .any(|f| f.pipeline == pipeline && f.rule_id == *rule),
            "{rule} still on {pipeline}"
        );
    }
    assert!(
        !eval
            .findings
            .iter()
            .any(|f| f.pipeline == "rm-pol-pipeline" && f.rule_id == "AB005"),
        "both statements were added"
    );

    // a second run plans nothing
    let o = pipeaudit(&moto, &["--remediate", "--dry-run"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("Plan: 0 change(s)"));

    // nothing was lost: objects and every bucket-policy statement are still there
    for s in &stacks {
        let objects =
            c.s3.list_objects_v2()
                .bucket(&s.bucket)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(objects.contents().len(), 1, "{}", s.bucket);
        let p =
            c.s3.get_bucket_policy()
                .bucket(&s.bucket)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        let doc: serde_json::Value =
            serde_json::from_str(p.policy().unwrap_or("{}")).unwrap_or_default();
        // rm-pol: its own statement plus the two added; the others: the two seeded
        let want = if s.prefix == "rm-pol" { 3 } else { 2 };
        assert_eq!(
            doc["Statement"].as_array().map(Vec::len),
            Some(want),
            "{}",
            s.bucket
        );
        if s.prefix == "rm-pol" {
            assert_eq!(
                doc["Statement"][0], custom["Statement"][0],
                "the existing statement is kept as it was"
            );
        }
    }
}

#[tokio::test]
async fn unsafe_fixes_are_held_back_unless_asked_for() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let spec = StackSpec {
        prefix: "rm-del".into(),
        defects: vec![Defect::KeyPendingDeletion],
        shared_store: None,
    };
    let stack = seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let o = pipeaudit(&moto, &["--remediate", "--dry-run"]);
    let plan = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        plan.contains("Held back (unsafe; pass --unsafe-fixes): 1"),
        "{plan}"
    );
    assert!(plan.contains("[unsafe] key-cancel-deletion"), "{plan}");

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.json");
    let o = pipeaudit(
        &moto,
        &[
            "--remediate",
            "--yes",
            "--unsafe-fixes",
            "--journal",
            &journal.to_string_lossy(),
        ],
    );
    // the deletion is cancelled, but the key stays disabled: KM002 remains, exit 1
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let key = c
        .kms
        .describe_key()
        .key_id(&stack.key_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = key
        .key_metadata()
        .and_then(|m| m.key_state())
        .map(|s| s.as_str().to_string());
    assert_eq!(state.as_deref(), Some("Disabled"));
    let entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(entries[0]["api_call"], "kms:CancelKeyDeletion");
    assert_eq!(entries[0]["outcome"], "applied");
}

#[tokio::test]
async fn trigger_fixes_create_rules_and_roles_and_delete_nothing() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // tr-none also polls: polling goes off only after its rule is created
    let cases: &[(&str, &[Defect])] = &[
        ("tr-none", &[Defect::NoTrigger, Defect::PollingOn]),
        ("tr-role", &[Defect::TriggerNoRole]),
        ("tr-branch", &[Defect::TriggerWrongBranch]),
        ("tr-poll", &[Defect::PollingOn]),
    ];
    for (prefix, defects) in cases {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects: defects.to_vec(),
            shared_store: None,
        };
        seed::seed_stack(&c, &spec)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.json");
    let o = pipeaudit(
        &moto,
        &[
            "--remediate",
            "--yes",
            "--journal",
            &journal.to_string_lossy(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    let config = moto.sdk_config("us-east-1").await;
    let after = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = pipeaudit::rules::engine::evaluate(Arc::new(after), &rules, &Config::default());
    let left: Vec<String> = eval
        .findings
        .iter()
        .filter(|f| f.rule_id.starts_with("TR") || f.rule_id == "PL004")
        .map(|f| format!("{} {}", f.rule_id, f.pipeline))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // the created rule has the deterministic name; the wrong-branch rule is still there
    let created = c
        .events
        .describe_rule()
        .name("pipeaudit-tr-none-pipeline-trigger")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created.state().map(|s| s.as_str()), Some("ENABLED"));
    c.events
        .describe_rule()
        .name("tr-branch-trigger")
        .send()
        .await
        .unwrap_or_else(|e| panic!("the old rule must be kept: {e}"));
    // a second run plans no trigger change
    let o = pipeaudit(&moto, &["--remediate", "--dry-run"]);
    let plan = String::from_utf8_lossy(&o.stdout);
    assert!(
        !plan.contains("trigger-create")
            && !plan.contains("trigger-role")
            && !plan.contains("source-polling-off"),
        "{plan}"
    );
}

#[tokio::test]
async fn unsafe_key_fixes_grant_and_create_keys_when_asked() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let cmk = StackSpec {
        prefix: "rk-cmk".into(),
        defects: vec![Defect::NoCmk],
        shared_store: None,
    };
    seed::seed_stack(&c, &cmk)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let grant = StackSpec {
        prefix: "rk-grant".into(),
        defects: vec![],
        shared_store: None,
    };
    let stack = seed::seed_stack(&c, &grant)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // KM005: the key policy delegates only to the account, and the build role's
    // own policy no longer mentions the key
    let root_only = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "EnableRootPermissions", "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*", "Resource": "*"}]});
    c.kms
        .put_key_policy()
        .key_id(&stack.key_id)
        .policy_name("default")
        .policy(root_only.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let logs_only = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]});
    c.iam
        .put_role_policy()
        .role_name("rk-grant-build-role")
        .policy_name("rk-grant-build-role-policy")
        .policy_document(logs_only.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let o = pipeaudit(&moto, &["--remediate", "--dry-run"]);
    let plan = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        plan.contains("[unsafe] store-create-cmk") && plan.contains("[unsafe] key-policy-grant"),
        "{plan}"
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.json");
    let o = pipeaudit(
        &moto,
        &[
            "--remediate",
            "--yes",
            "--unsafe-fixes",
            "--journal",
            &journal.to_string_lossy(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let config = moto.sdk_config("us-east-1").await;
    let after = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval =
        pipeaudit::rules::engine::evaluate(Arc::new(after.clone()), &rules, &Config::default());
    let left: Vec<&str> = eval
        .findings
        .iter()
        .filter(|f| matches!(f.rule_id.as_str(), "PL002" | "KM005"))
        .map(|f| f.rule_id.as_str())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // the new key rotates; the granted key kept its original statement
    let w = after
        .pipelines
        .iter()
        .find(|w| w.name == "rk-cmk-pipeline")
        .unwrap_or_else(|| panic!("pipeline"));
    let key = w.artifact_stores[0].key_arn.clone().unwrap_or_default();
    let k = after
        .resources
        .keys
        .get(&key)
        .and_then(|k| k.value())
        .unwrap_or_else(|| panic!("new key {key}"));
    assert_eq!(k.rotation_enabled, pipeaudit::model::Observed::ok(true));
    let p = c
        .kms
        .get_key_policy()
        .key_id(&stack.key_id)
        .policy_name("default")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let doc: serde_json::Value =
        serde_json::from_str(p.policy().unwrap_or("{}")).unwrap_or_default();
    assert_eq!(doc["Statement"][0], root_only["Statement"][0]);
    assert_eq!(doc["Statement"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_failing_action_is_reported_and_the_others_go_on() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // moto has no UpdateDeploymentGroup: deploy-rollback fails there, for real
    let spec = StackSpec {
        prefix: "rf-001".into(),
        defects: vec![Defect::NoRollback, Defect::VersioningOff],
        shared_store: None,
    };
    seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.json");
    let o = pipeaudit(
        &moto,
        &[
            "--remediate",
            "--yes",
            "--max-attempts",
            "1",
            "--journal",
            &journal.to_string_lossy(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "not everything was fixed");
    let entries: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap_or_default())
            .unwrap_or_default();
    let by_action = |a: &str| {
        entries
            .as_array()
            .and_then(|e| e.iter().find(|x| x["action"] == a).cloned())
            .unwrap_or_else(|| panic!("{a} not journaled: {entries}"))
    };
    assert_eq!(by_action("deploy-rollback")["outcome"], "failed");
    assert!(
        by_action("deploy-rollback")["message"]
            .as_str()
            .is_some_and(|m| m.contains("codedeploy:UpdateDeploymentGroup"))
    );
    assert_eq!(by_action("bucket-versioning")["outcome"], "applied");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("1 not applied"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The deploy target fixes: IMDSv2 required on the instance that allowed
/// IMDSv1 (moto answers ModifyInstanceMetadataOptions only with the hop
/// limit, which the fix sends), and the inline policy `pipeaudit-artifacts`
/// on the role that could not decrypt, merged beside its own policy.
#[tokio::test]
async fn instance_fixes_require_imdsv2_and_grant_the_artifacts() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let spec = StackSpec {
        prefix: "ri".into(),
        defects: vec![],
        shared_store: None,
    };
    let s = seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let healthy = s.instance.clone().unwrap_or_else(|| panic!("no instance"));
    let own = seed::instance_statements(&s.bucket, &s.pipeline_name, &s.key_arn, false);
    let (_, profile) = seed::seed_instance_profile(&c, "ri-nodecrypt", own.clone())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let nodecrypt = seed::seed_instance(&c, &[("Name", "ri-web")], Some(&profile), true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let imdsv1 = seed::seed_instance(
        &c,
        &[("Name", "ri-web")],
        Some(&healthy.profile_name),
        false,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));

    let o = pipeaudit(&moto, &["--remediate", "--dry-run"]);
    let plan = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        plan.contains("[unsafe] instance-imdsv2")
            && plan.contains("[unsafe] instance-role-artifacts"),
        "{plan}"
    );
    assert!(
        plan.contains(&imdsv1) && plan.contains("pipeaudit-artifacts"),
        "{plan}"
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("j.json");
    let o = pipeaudit(
        &moto,
        &[
            "--remediate",
            "--yes",
            "--unsafe-fixes",
            "--journal",
            &journal.to_string_lossy(),
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // IMDSv2 required, the hop limit as it was
    let d = c
        .ec2
        .describe_instances()
        .instance_ids(&imdsv1)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let md = d
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find_map(|i| i.metadata_options().cloned())
        .unwrap_or_else(|| panic!("no metadata options"));
    assert_eq!(md.http_tokens().map(|t| t.as_str()), Some("required"));
    assert_eq!(md.http_put_response_hop_limit(), Some(2));
    // the role's own policy kept; the new one reads the pipeline's prefix and decrypts
    let kept = c
        .iam
        .get_role_policy()
        .role_name("ri-nodecrypt")
        .policy_name("ri-nodecrypt-policy")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let kept: serde_json::Value =
        serde_json::from_str(&urlencoding_decode(kept.policy_document())).unwrap_or_default();
    assert_eq!(kept, own);
    let added = c
        .iam
        .get_role_policy()
        .role_name("ri-nodecrypt")
        .policy_name("pipeaudit-artifacts")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let text = urlencoding_decode(added.policy_document());
    assert!(
        text.contains("arn:aws:s3:::ri-artifacts/ri-pipeline/*")
            && text.contains("kms:Decrypt")
            && text.contains(&s.key_arn),
        "{text}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap_or_default())
            .unwrap_or_default();
    let entries = j.as_array().cloned().unwrap_or_default();
    for action in ["instance-imdsv2", "instance-role-artifacts"] {
        assert!(
            entries
                .iter()
                .any(|e| e["action"] == action && e["outcome"] == "applied"),
            "{action} journaled: {j:#}"
        );
    }
    // audited again: neither rule fires
    let config = moto.sdk_config("us-east-1").await;
    let after = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = pipeaudit::rules::engine::evaluate(Arc::new(after), &rules, &Config::default());
    let left: Vec<(&str, &str)> = eval
        .findings
        .iter()
        .filter(|f| matches!(f.rule_id.as_str(), "CD007" | "CD009"))
        .map(|f| (f.rule_id.as_str(), f.resource_arn.as_str()))
        .collect();
    assert!(left.is_empty(), "{left:?} ({nodecrypt})");
}

fn urlencoding_decode(s: &str) -> String {
    urlencoding::decode(s)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// `instance-role-artifacts` on a key whose policy neither grants the
/// instance role nor delegates to the account: the role's read access is
/// added once; the key statement it needs is a manual step that names it
/// (no identity policy can make up for it), and a second run plans no
/// write: never a PutRolePolicy that adds nothing.
#[tokio::test]
async fn instance_role_fix_on_a_non_delegating_key_converges() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let spec = StackSpec {
        prefix: "rn".into(),
        defects: vec![],
        shared_store: None,
    };
    let s = seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // the key policy names the pipeline's roles only: no `:root` statement
    let key_id = s.key_arn.rsplit('/').next().unwrap_or_default().to_string();
    let current = c
        .kms
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut doc: serde_json::Value =
        serde_json::from_str(current.policy().unwrap_or_default()).unwrap_or_default();
    if let Some(list) = doc["Statement"].as_array_mut() {
        list.retain(|st| st["Sid"] != "EnableRootPermissions");
    }
    assert!(!doc.to_string().contains(":root"), "still delegates: {doc}");
    c.kms
        .put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(doc.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let unrelated = serde_json::json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"ec2:DescribeTags","Resource":"*"}]});
    let (role_arn, profile) = seed::seed_instance_profile(&c, "rn-web-role", unrelated)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    seed::seed_instance(&c, &[("Name", "rn-web")], Some(&profile), true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = |journal: &str| {
        let path = dir.path().join(journal);
        let o = pipeaudit(
            &moto,
            &[
                "--remediate",
                "--yes",
                "--unsafe-fixes",
                "--journal",
                &path.to_string_lossy(),
            ],
        );
        let entries: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_default())
                .unwrap_or_default();
        (o, entries)
    };
    let role_writes = |entries: &[serde_json::Value]| {
        entries
            .iter()
            .filter(|e| {
                e["action"] == "instance-role-artifacts" && e["resource_arn"] == role_arn.as_str()
            })
            .map(|e| {
                (
                    e["outcome"].as_str().unwrap_or("").to_string(),
                    e["api_call"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    // first run: the read access is added, the key statement is left to do by hand
    let (o, entries) = run("j1.json");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        role_writes(&entries),
        [("applied".to_string(), "iam:PutRolePolicy".to_string())],
        "{text}"
    );
    assert!(
        text.contains("add to the key policy the statement") && text.contains(&role_arn),
        "{text}"
    );
    let added = c
        .iam
        .get_role_policy()
        .role_name("rn-web-role")
        .policy_name("pipeaudit-artifacts")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let policy = urlencoding_decode(added.policy_document());
    assert!(
        policy.contains("s3:GetObject") && !policy.contains("kms:Decrypt"),
        "no identity grant on a key that does not delegate: {policy}"
    );
    // second run: nothing new planned for the role; the manual step names the statement
    let (o, entries) = run("j2.json");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(role_writes(&entries).is_empty(), "{text}\n{entries:#?}");
    assert!(
        !text.contains("[unsafe] instance-role-artifacts"),
        "planned again: {text}"
    );
    assert!(
        text.contains("add to the key policy the statement")
            && text.contains("\"kms:Decrypt\"")
            && text.contains(&format!("\"AWS\":\"{role_arn}\"")),
        "{text}"
    );
    // nothing left to apply: the run converged (what is left is by hand)
    assert_eq!(o.status.code(), Some(0), "{text}");
}
