//! Findings located in the templates that made their resources, against
//! moto_server 5.1.22. moto accepts the `aws:cloudformation:*` tags on KMS
//! keys, CodeBuild projects and EventBridge rules (AWS sets them on the
//! resources a stack creates), so a seeded stack's key, project and trigger
//! rule are tagged as the stacks of the fixtures in `tests/fixtures/iac/`
//! would tag them; its pipeline, bucket, roles and deployment group carry
//! no such tags and are looked up with DescribeStackResources by physical
//! id, which moto answers as for a resource of no stack. The SARIF points at
//! the template lines and validates against both schemas; moving a resource
//! down its file moves the lines and keeps every fingerprint.

use crate::support;

use std::path::Path;

use serde_json::Value;
use support::moto::Moto;
use support::seed::{self, Defect, SeedClients, StackSpec};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/iac");

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> i64 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as i64 + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the fixture"))
}

/// (uri, startLine, endLine, primaryLocationLineHash) of the SARIF result of `rule`.
fn location(doc: &Value, rule: &str) -> (String, i64, i64, String) {
    let results = doc["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let r = results
        .iter()
        .find(|r| r["ruleId"] == rule)
        .unwrap_or_else(|| panic!("no {rule} result"));
    let loc = &r["locations"][0]["physicalLocation"];
    (
        loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        loc["region"]["startLine"].as_i64().unwrap_or(0),
        loc["region"]["endLine"].as_i64().unwrap_or(0),
        r["partialFingerprints"]["primaryLocationLineHash"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    )
}

fn copy_fixtures(to: &Path, pipeline_yaml: &str) {
    let dir = to.join("infra");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("pipeline.yaml"), pipeline_yaml).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(
        Path::new(FIXTURES).join("trigger.json"),
        dir.join("trigger.json"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

fn run(args: &[&str], endpoint: Option<&str>) -> std::process::Output {
    match endpoint {
        Some(e) => support::pipeaudit_command(e)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("{e}")),
        None => support::offline(args),
    }
}

#[tokio::test]
async fn sarif_points_at_the_template_lines_and_keeps_fingerprints() {
    let moto = Moto::start();
    let clients = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let stack = seed::seed_stack(
        &clients,
        &StackSpec {
            prefix: "iac".to_string(),
            defects: vec![
                Defect::KeyRotationOff,
                Defect::PrivilegedMode,
                Defect::TriggerDisabled,
            ],
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));

    // The tags CloudFormation sets on what the fixture stacks create.
    tag_key(&clients, &stack.key_id, "ci-infra", "ArtifactKey").await;
    // moto has no UpdateProject nor TagResource for CodeBuild: the project
    // is created again, as it was, with the tags.
    let projects = clients
        .codebuild
        .batch_get_projects()
        .names(&stack.project_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let project = projects
        .projects()
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("no project {}", stack.project_name));
    clients
        .codebuild
        .delete_project()
        .name(&stack.project_name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    clients
        .codebuild
        .create_project()
        .name(&stack.project_name)
        .set_source(project.source().cloned())
        .set_artifacts(project.artifacts().cloned())
        .set_environment(project.environment().cloned())
        .set_service_role(project.service_role().map(str::to_string))
        .set_logs_config(project.logs_config().cloned())
        .tags(
            aws_sdk_codebuild::types::Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value("ci-infra")
                .build(),
        )
        .tags(
            aws_sdk_codebuild::types::Tag::builder()
                .key("aws:cloudformation:logical-id")
                .value("BuildProject")
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let rule_arn = format!(
        "arn:aws:events:us-east-1:{}:rule/{}",
        clients.account, stack.rule_name
    );
    clients
        .events
        .tag_resource()
        .resource_arn(&rule_arn)
        .tags(
            aws_sdk_eventbridge::types::Tag::builder()
                .key("aws:cloudformation:stack-name")
                .value("ci-trigger")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .tags(
            aws_sdk_eventbridge::types::Tag::builder()
                .key("aws:cloudformation:logical-id")
                .value("TriggerRule")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let yaml = std::fs::read_to_string(Path::new(FIXTURES).join("pipeline.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let json = std::fs::read_to_string(Path::new(FIXTURES).join("trigger.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let first = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_fixtures(first.path(), &yaml);
    let root = first.path().to_string_lossy().into_owned();
    let infra = first.path().join("infra").to_string_lossy().into_owned();
    let snap = first
        .path()
        .join("snap.json")
        .to_string_lossy()
        .into_owned();

    let o = run(
        &[
            "--region",
            "us-east-1",
            "--max-attempts",
            "1",
            "--pipeline",
            "iac-*",
            "--iac",
            &infra,
            "--iac-root",
            &root,
            "--format",
            "sarif",
            "--allow-partial",
            "--save-snapshot",
            &snap,
        ],
        Some(&moto.endpoint),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let doc: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not SARIF ({e}); stderr:\n{stderr}"));
    support::sarif_schema::validate(&doc);
    assert!(
        stderr.contains("managed by a CloudFormation stack"),
        "{stderr}"
    );

    // The property's own line when the template writes it.
    let km003 = location(&doc, "KM003");
    let line = line_of(&yaml, "EnableKeyRotation: false");
    assert_eq!(
        (km003.0.as_str(), km003.1, km003.2),
        ("infra/pipeline.yaml", line, line)
    );
    let cb003 = location(&doc, "CB003");
    let line = line_of(&yaml, "PrivilegedMode: true");
    assert_eq!(
        (cb003.0.as_str(), cb003.1, cb003.2),
        ("infra/pipeline.yaml", line, line)
    );
    // The resource's block when it does not (CB004: no EncryptionKey written).
    let cb004 = location(&doc, "CB004");
    assert_eq!(cb004.0, "infra/pipeline.yaml");
    assert_eq!(cb004.1, line_of(&yaml, "  BuildProject:"));
    assert_eq!(cb004.2, line_of(&yaml, "PrivilegedMode: true"));
    // JSON templates, found by searching for the logical id and type.
    let tr002 = location(&doc, "TR002");
    let line = line_of(&json, "\"State\"");
    assert_eq!(
        (tr002.0.as_str(), tr002.1, tr002.2),
        ("infra/trigger.json", line, line)
    );
    // No stack manages the deployment group: its pseudo-path stays.
    let cd006 = location(&doc, "CD006");
    assert!(cd006.0.starts_with("aws/"), "{cd006:?}");
    assert_eq!(cd006.1, 1);

    // The saved snapshot holds the stacks: audited again offline against a
    // copy where the resources moved down the file, the lines follow and
    // the fingerprints do not change.
    let moved = yaml.replacen(
        "Resources:\n",
        "Resources:\n  Padding:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: padding\n\n",
        1,
    );
    let second = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_fixtures(second.path(), &moved);
    let root2 = second.path().to_string_lossy().into_owned();
    let infra2 = second.path().join("infra").to_string_lossy().into_owned();
    let o = run(
        &[
            "--snapshot",
            &snap,
            "--iac",
            &infra2,
            "--iac-root",
            &root2,
            "--format",
            "sarif",
            "--allow-partial",
        ],
        None,
    );
    let doc2: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not SARIF ({e}); stderr:\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    support::sarif_schema::validate(&doc2);
    let km003_moved = location(&doc2, "KM003");
    assert_eq!(km003_moved.1, km003.1 + 5, "{km003_moved:?}");
    assert_eq!(km003_moved.3, km003.3, "the line hash stays");
    let cb003_moved = location(&doc2, "CB003");
    assert_eq!(cb003_moved.1, cb003.1 + 5);
    assert_eq!(cb003_moved.3, cb003.3);

    // Without --iac, the same snapshot keeps today's pseudo-paths and hashes.
    let o = run(
        &["--snapshot", &snap, "--format", "sarif", "--allow-partial"],
        None,
    );
    let plain: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    let km003_plain = location(&plain, "KM003");
    assert!(km003_plain.0.starts_with("aws/"), "{km003_plain:?}");
    assert_eq!(km003_plain.3, km003.3);

    // The other reports say where.
    let key_line = line_of(&yaml, "EnableKeyRotation: false");
    let o = run(
        &[
            "--snapshot",
            &snap,
            "--iac",
            &infra,
            "--iac-root",
            &root,
            "--format",
            "markdown",
        ],
        None,
    );
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(
        md.contains(&format!("defined in `infra/pipeline.yaml:{key_line}`")),
        "{md}"
    );
    let o = run(
        &[
            "--snapshot",
            &snap,
            "--iac",
            &infra,
            "--iac-root",
            &root,
            "--format",
            "json",
        ],
        None,
    );
    let report = support::stdout_json(&o);
    let located = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["rule_id"] == "KM003")
        .map(|f| f["defined_in"].clone())
        .unwrap_or(Value::Null);
    assert_eq!(located["file"], "infra/pipeline.yaml");
    assert_eq!(located["start_line"], key_line);
    assert_eq!(located["stack"], "ci-infra");
    assert_eq!(located["resource"], "ArtifactKey");
    assert_eq!(located["property"], "EnableKeyRotation");
}

/// Tags a KMS key as CloudFormation tags what a stack creates.
async fn tag_key(clients: &SeedClients, key_id: &str, stack: &str, logical_id: &str) {
    let mut req = clients.kms.tag_resource().key_id(key_id);
    for (k, v) in [
        ("aws:cloudformation:stack-name", stack),
        ("aws:cloudformation:logical-id", logical_id),
    ] {
        req = req.tags(
            aws_sdk_kms::types::Tag::builder()
                .tag_key(k)
                .tag_value(v)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    req.send().await.unwrap_or_else(|e| panic!("{e:?}"));
}

#[tokio::test]
async fn the_plan_leaves_stack_managed_resources_alone_unless_drift_is_allowed() {
    let moto = Moto::start();
    let clients = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let stack = seed::seed_stack(
        &clients,
        &StackSpec {
            prefix: "rem".to_string(),
            defects: vec![Defect::KeyRotationOff, Defect::VersioningOff],
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    tag_key(&clients, &stack.key_id, "ci-infra", "ArtifactKey").await;
    let yaml = std::fs::read_to_string(Path::new(FIXTURES).join("pipeline.yaml"))
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    copy_fixtures(dir.path(), &yaml);
    let root = dir.path().to_string_lossy().into_owned();
    let infra = dir.path().join("infra").to_string_lossy().into_owned();
    let base = [
        "--region",
        "us-east-1",
        "--max-attempts",
        "1",
        "--pipeline",
        "rem-*",
        "--remediate",
        "--dry-run",
        "--iac",
        &infra,
        "--iac-root",
        &root,
    ];
    let key_line = line_of(&yaml, "  ArtifactKey:");

    // --allow-drift: the key's change is planned, with the stack named
    let o = run(
        &[&base[..], &["--format", "json", "--allow-drift"]].concat(),
        Some(&moto.endpoint),
    );
    let plan = support::stdout_json(&o);
    let managed = &plan["iac_managed"][stack.key_arn.as_str()];
    assert_eq!(managed["stack"], "ci-infra", "{plan:#}");
    assert_eq!(managed["logical_id"], "ArtifactKey");
    assert_eq!(
        managed["template"],
        format!("infra/pipeline.yaml:{key_line}")
    );
    let actions: Vec<(String, String)> = plan["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            (
                a["action"].as_str().unwrap_or("").to_string(),
                a["resource_arn"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        actions.contains(&("key-rotation".to_string(), stack.key_arn.clone())),
        "{actions:?}"
    );
    // the bucket is in no stack: no note
    let bucket_arn = format!("arn:aws:s3:::{}", stack.bucket);
    assert!(plan["iac_managed"].get(&bucket_arn).is_none());

    let o = run(
        &[&base[..], &["--allow-drift"]].concat(),
        Some(&moto.endpoint),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "managed by CloudFormation stack ci-infra (ArtifactKey): applying this creates stack drift that the next stack update reverts; fix it in infra/pipeline.yaml:{key_line}"
        )),
        "{text}"
    );

    // by default the key's change becomes a manual step pointing at the
    // patch and at --allow-drift; the bucket's stays
    let o = run(
        &[&base[..], &["--format", "json"]].concat(),
        Some(&moto.endpoint),
    );
    let plan = support::stdout_json(&o);
    let actions: Vec<&str> = plan["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["resource_arn"].as_str())
        .collect();
    assert!(!actions.contains(&stack.key_arn.as_str()), "{actions:?}");
    assert!(actions.contains(&bucket_arn.as_str()), "{actions:?}");
    let step = plan["manual"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["resource_arn"] == stack.key_arn.as_str())
        .unwrap_or_else(|| panic!("{plan:#}"));
    assert_eq!(step["rule_id"], "KM003");
    assert!(
        step["remediation"].as_str().is_some_and(|r| r
            .contains("managed by CloudFormation stack ci-infra (ArtifactKey)")
            && r.contains("--fix-patch")
            && r.contains("--allow-drift")),
        "{step}"
    );
    // --skip-iac-managed, the old way to ask for this, still gives the same plan
    let o = run(
        &[&base[..], &["--format", "json", "--skip-iac-managed"]].concat(),
        Some(&moto.endpoint),
    );
    assert_eq!(support::stdout_json(&o)["actions"], plan["actions"]);
    assert_eq!(support::stdout_json(&o)["manual"], plan["manual"]);
}

/// Live remediation with `--fix-patch`: the finding on a stack-managed key
/// becomes a verified patch to the template under `--iac` that defines it,
/// when the template, audited as that stack, has the same finding; when it
/// does not (the stack drifted from its template), a manual step.
#[tokio::test]
async fn live_findings_on_stack_managed_resources_become_a_verified_patch() {
    let moto = Moto::start();
    let clients = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let stack = seed::seed_stack(
        &clients,
        &StackSpec {
            prefix: "live".to_string(),
            defects: vec![Defect::KeyRotationOff],
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    tag_key(&clients, &stack.key_id, "ci-live", "ArtifactKey").await;
    let reference = crate::template_mode::reference();
    let defect =
        crate::template_mode::variant(&[("EnableKeyRotation: true", "EnableKeyRotation: false")]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let infra = dir.path().join("infra");
    std::fs::create_dir_all(&infra).unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path().to_string_lossy().into_owned();
    let infra_s = infra.to_string_lossy().into_owned();
    let patch = dir.path().join("fix.diff");
    let patch_s = patch.to_string_lossy().into_owned();
    let args = [
        "--region",
        "us-east-1",
        "--max-attempts",
        "1",
        "--pipeline",
        "live-*",
        "--remediate",
        "--dry-run",
        "--format",
        "json",
        "--iac",
        &infra_s,
        "--iac-root",
        &root,
        "--fix-patch",
        &patch_s,
    ];

    // the template has the live defect: the patch turns rotation on there
    std::fs::write(infra.join("pipeline.yaml"), &defect).unwrap_or_else(|e| panic!("{e}"));
    let o = run(&args, Some(&moto.endpoint));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
    let plan = support::stdout_json(&o);
    assert_eq!(
        plan["iac_managed"][stack.key_arn.as_str()]["stack"],
        "ci-live"
    );
    let diff = std::fs::read_to_string(&patch).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        diff.starts_with("diff --git a/infra/pipeline.yaml b/infra/pipeline.yaml\n"),
        "{diff}"
    );
    assert!(diff.contains("-      EnableKeyRotation: false\n"), "{diff}");
    assert!(diff.contains("+      EnableKeyRotation: true\n"), "{diff}");
    assert!(stderr.contains("closes 1 finding(s)"), "{stderr}");
    assert!(
        stderr.contains("KM003  ArtifactKey in infra/pipeline.yaml"),
        "{stderr}"
    );
    // the patch applies where the paths are relative to
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(git(&["init", "-q"]).status.success());
    let check = git(&["apply", "--check", &patch_s]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    // and the patched template audits without the finding
    assert!(git(&["apply", &patch_s]).status.success());
    let patched =
        std::fs::read_to_string(infra.join("pipeline.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(patched, reference);

    // the template already says rotation on: the live key drifted from
    // it; nothing is patched, the step says why
    let o = run(&args, Some(&moto.endpoint));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&patch).unwrap_or_else(|e| panic!("{e}")),
        ""
    );
    assert!(stderr.contains("no change could be verified"), "{stderr}");
    assert!(
        stderr.contains(&stack.key_arn)
            && stderr.contains("does not have this finding when audited as a template"),
        "{stderr}"
    );

    // --fix-patch with --remediate needs the templates
    let o = run(
        &[
            "--region",
            "us-east-1",
            "--max-attempts",
            "1",
            "--remediate",
            "--dry-run",
            "--fix-patch",
            &patch_s,
        ],
        Some(&moto.endpoint),
    );
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--iac"), "{stderr}");
}
