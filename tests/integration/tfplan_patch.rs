//! Fix patches for Terraform (`--tf-plan PLAN --iac DIR --fix-patch FILE`).
//! The reference plan (`tests/fixtures/tfplan/reference.plan.json`, clean)
//! and its configuration (`tests/fixtures/tfplan/reference/`, the `.tf`
//! blocks the plan's root module and `pipeline` module are made from) are
//! given one defect each, in the plan and in the `.tf` text alike. The patch
//! must apply with `git apply` and give back the reference configuration
//! byte for byte (its plan audits clean). An attribute written as an
//! expression is left as a manual step naming the attribute and value, and
//! a bucket setting with no resource of its own gets a new one.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::tfplan_mode::{plan, remove, set};

const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tfplan/reference"
);

fn reference(rel: &str) -> String {
    let p = format!("{CONFIG}/{rel}");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

struct Run {
    code: Option<i32>,
    diff: String,
    stderr: String,
    report: Value,
}

/// Writes the plan and the two `.tf` files into a fresh git repository and
/// runs the plan audit with `--fix-patch` there.
fn run(dir: &Path, p: &Value, root_tf: &str, module_tf: &str) -> Run {
    std::fs::create_dir_all(dir.join("infra/modules/pipeline")).unwrap_or_else(|e| panic!("{e}"));
    let write = |rel: &str, text: &str| {
        std::fs::write(dir.join(rel), text).unwrap_or_else(|e| panic!("{rel}: {e}"));
    };
    write(
        "plan.json",
        &serde_json::to_string_pretty(p).unwrap_or_default(),
    );
    write("infra/main.tf", root_tf);
    write("infra/modules/pipeline/main.tf", module_tf);
    assert!(crate::support::git(dir, &["init", "-q"]).status.success());
    let o = Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args([
            "--tf-plan",
            "plan.json",
            "--iac",
            "infra",
            "--fix-patch",
            "fix.diff",
            "--format",
            "json",
        ])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    Run {
        code: o.status.code(),
        diff: std::fs::read_to_string(dir.join("fix.diff")).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        report: serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
    }
}

/// Whether python-hcl2 (installed into `.venv` by `scripts/test.sh`)
/// parses the `.tf` file: the syntax check of a patched file.
fn hcl_parses(path: &Path) -> Result<(), String> {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    let o = Command::new(python)
        .args([
            "-c",
            "import hcl2, sys\nwith open(sys.argv[1]) as f: hcl2.load(f)",
        ])
        .arg(path)
        .output()
        .map_err(|e| format!("{python}: {e} (run scripts/test.sh to install python-hcl2)"))?;
    if o.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&o.stderr);
        Err(err.lines().last().unwrap_or_default().to_string())
    }
}

/// Applies the patch and returns the two `.tf` files after it.
fn apply(dir: &Path, r: &Run) -> (String, String) {
    let check = crate::support::git(dir, &["apply", "--check", "fix.diff"]);
    assert!(
        check.status.success(),
        "git apply --check: {}\n{}\n{}",
        String::from_utf8_lossy(&check.stderr),
        r.diff,
        r.stderr
    );
    assert!(
        crate::support::git(dir, &["apply", "fix.diff"])
            .status
            .success()
    );
    for f in ["infra/main.tf", "infra/modules/pipeline/main.tf"] {
        if let Err(e) = hcl_parses(&dir.join(f)) {
            panic!("{f} does not parse after the patch: {e}\n{}", r.diff);
        }
    }
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).unwrap_or_default();
    (
        read("infra/main.tf"),
        read("infra/modules/pipeline/main.tf"),
    )
}

fn rules(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule_id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn the_syntax_check_refuses_broken_hcl() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = dir.path().join("good.tf");
    let bad = dir.path().join("bad.tf");
    std::fs::write(&good, reference("main.tf")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &bad,
        "resource \"aws_kms_key\" \"k\" {\n  enable_key_rotation =\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(hcl_parses(&good), Ok(()));
    assert!(hcl_parses(&bad).is_err());
}

#[test]
fn the_reference_plan_needs_no_patch() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(
        dir.path(),
        &plan(),
        &reference("main.tf"),
        &reference("modules/pipeline/main.tf"),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.diff, "");
}

/// One defect each: (plan address, pointer, defect value, file, clean
/// text, defect text, the action that must patch it).
#[test]
fn each_literal_defect_is_patched_back_to_the_reference() {
    let root = "infra/main.tf";
    let module = "infra/modules/pipeline/main.tf";
    let cases: &[(&str, &str, Value, &str, &str, &str, &str)] = &[
        (
            "aws_kms_key.artifacts",
            "/enable_key_rotation",
            json!(false),
            root,
            "enable_key_rotation     = true # rotated yearly",
            "enable_key_rotation     = false # rotated yearly",
            "key-rotation",
        ),
        (
            "aws_s3_bucket_versioning.artifacts",
            "/versioning_configuration/0/status",
            json!("Suspended"),
            root,
            "status = \"Enabled\"",
            "status = \"Suspended\"",
            "bucket-versioning",
        ),
        (
            "aws_s3_bucket_public_access_block.artifacts",
            "/block_public_policy",
            json!(false),
            root,
            "block_public_policy     = true",
            "block_public_policy     = false",
            "bucket-public-access-block",
        ),
        (
            "aws_launch_template.web",
            "/metadata_options/0/http_tokens",
            json!("optional"),
            root,
            "http_tokens                 = \"required\"",
            "http_tokens                 = \"optional\"",
            "instance-imdsv2",
        ),
        (
            "module.pipeline.aws_codedeploy_deployment_group.this",
            "/auto_rollback_configuration/0/enabled",
            json!(false),
            module,
            "enabled = true",
            "enabled = false",
            "deploy-rollback",
        ),
        (
            "module.pipeline.aws_codedeploy_deployment_group.this",
            "/deployment_config_name",
            json!("CodeDeployDefault.AllAtOnce"),
            module,
            "deployment_config_name = \"CodeDeployDefault.OneAtATime\"",
            "deployment_config_name = \"CodeDeployDefault.AllAtOnce\"",
            "deploy-one-at-a-time",
        ),
        (
            "module.pipeline.aws_codebuild_project.this",
            "/environment/0/privileged_mode",
            json!(true),
            module,
            "privileged_mode = false",
            "privileged_mode = true",
            "build-privileged-off",
        ),
        (
            "module.pipeline.aws_cloudwatch_event_rule.trigger",
            "/state",
            json!("DISABLED"),
            module,
            "state = \"ENABLED\"",
            "state = \"DISABLED\"",
            "trigger-enable",
        ),
    ];
    for (address, pointer, value, file, clean, defect, action) in cases {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut p = plan();
        set(&mut p, address, pointer, value.clone());
        let (mut root_tf, mut module_tf) =
            (reference("main.tf"), reference("modules/pipeline/main.tf"));
        let text = if *file == root {
            &mut root_tf
        } else {
            &mut module_tf
        };
        assert_eq!(text.matches(clean).count(), 1, "{clean}");
        *text = text.replace(clean, defect);
        let r = run(dir.path(), &p, &root_tf, &module_tf);
        assert_eq!(r.code, Some(1), "{address}: {}", r.stderr);
        assert!(!rules(&r.report).is_empty(), "{address}: no finding");
        assert!(
            r.stderr.contains(&format!("({action}, ")),
            "{address}: {action} not patched:\n{}",
            r.stderr
        );
        assert!(
            r.diff.contains(&format!("diff --git a/{file} b/{file}\n")),
            "{address}:\n{}",
            r.diff
        );
        // one line out, one line in
        assert_eq!(
            r.diff
                .lines()
                .filter(|l| l.starts_with("-") && !l.starts_with("---"))
                .count(),
            1,
            "{}",
            r.diff
        );
        let (after_root, after_module) = apply(dir.path(), &r);
        assert_eq!(after_root, reference("main.tf"), "{address}");
        assert_eq!(
            after_module,
            reference("modules/pipeline/main.tf"),
            "{address}"
        );
        // the finding's own change, for SARIF `fixes`
        let changes: Vec<&Value> = r.report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["fix"]["changes"].as_array())
            .flatten()
            .collect();
        assert!(
            changes.iter().any(|c| c["file"] == *file),
            "{address}: {:#}",
            r.report["findings"]
        );
    }
}

#[test]
fn a_bucket_setting_without_its_resource_gets_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan();
    remove(&mut p, "aws_s3_bucket_versioning.artifacts");
    if let Some(a) = p
        .pointer_mut("/configuration/root_module/resources")
        .and_then(Value::as_array_mut)
    {
        a.retain(|r| r["address"] != "aws_s3_bucket_versioning.artifacts");
    }
    let block = "resource \"aws_s3_bucket_versioning\" \"artifacts\" {\n  bucket = aws_s3_bucket.artifacts.id\n\n  versioning_configuration {\n    status = \"Enabled\"\n  }\n}\n\n";
    let root_tf = reference("main.tf");
    assert!(root_tf.contains(block));
    let without = root_tf.replace(block, "");
    let r = run(
        dir.path(),
        &p,
        &without,
        &reference("modules/pipeline/main.tf"),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("(bucket-versioning, safe)"),
        "{}",
        r.stderr
    );
    let (after, _) = apply(dir.path(), &r);
    let bucket =
        "resource \"aws_s3_bucket\" \"artifacts\" {\n  bucket = \"${var.prefix}-artifacts\"\n}\n";
    assert_eq!(
        after,
        without.replace(
            bucket,
            &format!("{bucket}\nresource \"aws_s3_bucket_versioning\" \"artifacts\" {{\n  bucket = aws_s3_bucket.artifacts.id\n  versioning_configuration {{\n    status = \"Enabled\"\n  }}\n}}\n")
        )
    );
}

#[test]
fn an_expression_is_a_manual_step_with_the_attribute_and_value() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan();
    set(
        &mut p,
        "aws_kms_key.artifacts",
        "/enable_key_rotation",
        json!(false),
    );
    let root_tf = reference("main.tf").replace(
        "enable_key_rotation     = true # rotated yearly",
        "enable_key_rotation     = var.rotate",
    );
    let r = run(
        dir.path(),
        &p,
        &root_tf,
        &reference("modules/pipeline/main.tf"),
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.diff, "");
    assert!(
        r.stderr.contains(
            "key-rotation: set enable_key_rotation = true in aws_kms_key.artifacts. Not patched:"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("(var.rotate)"), "{}", r.stderr);
}

#[test]
fn a_plan_patch_needs_the_configuration() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("plan.json"),
        serde_json::to_string(&plan()).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(["--tf-plan", "plan.json", "--fix-patch", "fix.diff"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--iac DIR"), "{err}");
    assert!(!dir.path().join("fix.diff").exists());
}
