//! Terraform plans in template mode (`--tf-plan`). The reference stack as
//! the JSON of `terraform show -json` of a saved plan
//! (`tests/fixtures/tfplan/reference.plan.json`: a root module with the
//! key, the buckets and the instances, a child module `pipeline` with the
//! rest; written by hand in the documented format, with the values a
//! first apply leaves unknown marked in `after_unknown` and their
//! references in `configuration`) audits clean and agrees with the
//! reference CloudFormation template, defect for defect; what the plan
//! leaves unknown is a gap, never a pass; sensitive values reach no
//! output; bad input is one line and exit 2.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

const PLAN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/tfplan/reference.plan.json"
);
const TEMPLATE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/templates/reference.yaml"
);
const PIPELINE: &str = "module.pipeline.";

pub(crate) fn plan() -> Value {
    let text = std::fs::read_to_string(PLAN).unwrap_or_else(|e| panic!("{PLAN}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{PLAN}: {e}"))
}

/// Every planned module of the plan (root and children).
fn modules(plan: &mut Value) -> Vec<&mut Value> {
    fn walk<'a>(m: &'a mut Value, out: &mut Vec<&'a mut Value>) {
        let (resources, children) = match m {
            Value::Object(o) => {
                let mut r = None;
                let mut c = None;
                for (k, v) in o.iter_mut() {
                    if k == "resources" {
                        r = Some(v);
                    } else if k == "child_modules" {
                        c = Some(v);
                    }
                }
                (r, c)
            }
            _ => (None, None),
        };
        if let Some(r) = resources {
            out.push(r);
        }
        if let Some(Value::Array(children)) = children {
            for c in children {
                walk(c, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&mut plan["planned_values"]["root_module"], &mut out);
    out
}

/// Sets the value at `pointer` of resource `address`, planned and changed.
pub(crate) fn set(plan: &mut Value, address: &str, pointer: &str, value: Value) {
    let mut n = 0;
    for list in modules(plan) {
        for r in list.as_array_mut().into_iter().flatten() {
            if r["address"] == address {
                *r["values"]
                    .pointer_mut(pointer)
                    .unwrap_or_else(|| panic!("{address}{pointer}")) = value.clone();
                n += 1;
            }
        }
    }
    for c in plan["resource_changes"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if c["address"] == address {
            *c["change"]["after"]
                .pointer_mut(pointer)
                .unwrap_or_else(|| panic!("{address}{pointer}")) = value.clone();
            n += 1;
        }
    }
    assert_eq!(n, 2, "{address} is not in the plan once");
}

/// Removes resource `address` from the plan.
pub(crate) fn remove(plan: &mut Value, address: &str) {
    for list in modules(plan) {
        if let Some(a) = list.as_array_mut() {
            a.retain(|r| r["address"] != address);
        }
    }
    if let Some(a) = plan["resource_changes"].as_array_mut() {
        a.retain(|r| r["address"] != address);
    }
}

/// Makes the value at `pointer` (an attribute of the resource) known only
/// after apply, with the references its expression makes.
fn unknown(plan: &mut Value, address: &str, attribute: &str, references: Vec<&str>) {
    for list in modules(plan) {
        for r in list.as_array_mut().into_iter().flatten() {
            if r["address"] == address
                && let Some(o) = r["values"].as_object_mut()
            {
                o.remove(attribute);
            }
        }
    }
    for c in plan["resource_changes"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if c["address"] == address {
            if let Some(o) = c["change"]["after"].as_object_mut() {
                o.remove(attribute);
            }
            c["change"]["after_unknown"][attribute] = json!(true);
        }
    }
    let (module, local) = match address.strip_prefix(PIPELINE) {
        Some(l) => ("/configuration/root_module/module_calls/pipeline/module", l),
        None => ("/configuration/root_module", address),
    };
    let resources = plan
        .pointer_mut(&format!("{module}/resources"))
        .and_then(Value::as_array_mut)
        .unwrap_or_else(|| panic!("{module}"));
    for r in resources {
        if r["address"] == local {
            r["expressions"][attribute] = json!({ "references": references });
        }
    }
}

/// Adds a planned resource to the root module, created.
fn add(plan: &mut Value, ty: &str, name: &str, values: Value, sensitive: Value) {
    let address = format!("{ty}.{name}");
    let r = json!({"address": address, "mode": "managed", "type": ty, "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0,
        "values": values, "sensitive_values": sensitive});
    if let Some(a) = plan["planned_values"]["root_module"]["resources"].as_array_mut() {
        a.push(r);
    }
    if let Some(a) = plan["resource_changes"].as_array_mut() {
        a.push(
            json!({"address": address, "mode": "managed", "type": ty, "name": name,
            "change": {"actions": ["create"], "before": null, "after": values,
                       "after_unknown": {"id": true}, "after_sensitive": sensitive}}),
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p
}

fn write_plan(dir: &Path, name: &str, plan: &Value) -> PathBuf {
    let text = serde_json::to_string_pretty(plan).unwrap_or_else(|e| panic!("{e}"));
    write(dir, name, &text)
}

fn audit(flag: &str, path: &Path, extra: &[&str]) -> (i32, Value) {
    let p = path.to_string_lossy().into_owned();
    let mut args = vec![flag, p.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    let o = support::offline(&args);
    (o.status.code().unwrap_or(-1), support::stdout_json(&o))
}

fn messages(r: &Value) -> BTreeSet<String> {
    r["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["message"].as_str().map(str::to_string))
        .collect()
}

/// The reference template with each `(from, to)` replaced once.
fn template_variant(edits: &[(&str, &str)]) -> String {
    let mut t = std::fs::read_to_string(TEMPLATE).unwrap_or_else(|e| panic!("{e}"));
    for (from, to) in edits {
        assert_eq!(t.matches(from).count(), 1, "{from:?}");
        t = t.replacen(from, to, 1);
    }
    t
}

fn policy(text: &Value) -> Value {
    serde_json::from_str(text.as_str().unwrap_or("")).unwrap_or_else(|e| panic!("{e}"))
}

fn policy_text(v: &Value) -> Value {
    Value::String(v.to_string())
}

type PlanEdit = fn(&mut Value);

/// A defect: its name, its edit of the plan, its edits of the template,
/// the rules it fires.
type Defect<'a> = (&'a str, PlanEdit, &'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn the_reference_plan_audits_clean_and_as_the_template_does() {
    let (code, r) = audit("--tf-plan", Path::new(PLAN), &[]);
    assert_eq!(support::rule_ids(&r), BTreeSet::new(), "{r:#}");
    assert!(
        support::diagnostics(&r).iter().all(|d| d["kind"] == "note"),
        "{r:#}"
    );
    assert_eq!(code, 0);
    assert_eq!(r["summary"]["pipelines"], 1, "{r:#}");
    // the same notes (facts only the live account has) as the template
    let (_, t) = audit("--template", Path::new(TEMPLATE), &[]);
    assert_eq!(messages(&r), messages(&t));
    assert!(!messages(&r).is_empty());
}

#[test]
fn each_defect_fires_the_same_rules_in_the_plan_and_the_template() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cases: Vec<Defect> = vec![
        (
            "trigger-disabled",
            |p| {
                set(
                    p,
                    "module.pipeline.aws_cloudwatch_event_rule.trigger",
                    "/state",
                    json!("DISABLED"),
                )
            },
            &[("      State: ENABLED\n", "      State: DISABLED\n")],
            &["TR002"],
        ),
        (
            "trigger-wrong-branch",
            |p| {
                let a = "module.pipeline.aws_cloudwatch_event_rule.trigger";
                let mut e = policy(
                    &p["planned_values"]["root_module"]["child_modules"][0]["resources"]
                        .as_array()
                        .and_then(|l| l.iter().find(|r| r["address"] == a))
                        .map(|r| r["values"]["event_pattern"].clone())
                        .unwrap_or_default(),
                );
                e["detail"]["referenceName"] = json!(["develop"]);
                set(p, a, "/event_pattern", policy_text(&e));
            },
            &[("referenceName: [!Ref Branch]", "referenceName: [develop]")],
            &["TR003"],
        ),
        (
            "no-trigger",
            |p| {
                remove(p, "module.pipeline.aws_cloudwatch_event_rule.trigger");
                remove(p, "module.pipeline.aws_cloudwatch_event_target.pipeline");
            },
            &[(
                "  TriggerRule:\n    Type: AWS::Events::Rule",
                "  TriggerRule:\n    Type: AWS::SNS::Topic",
            )],
            &["TR001"],
        ),
        (
            "polling-on",
            |p| {
                set(
                    p,
                    "module.pipeline.aws_codepipeline.this",
                    "/stage/0/action/0/configuration/PollForSourceChanges",
                    json!("true"),
                )
            },
            &[("PollForSourceChanges: false", "PollForSourceChanges: true")],
            &["PL004"],
        ),
        (
            "no-cmk",
            |p| {
                set(
                    p,
                    "module.pipeline.aws_codepipeline.this",
                    "/artifact_store/0/encryption_key",
                    json!([]),
                )
            },
            &[(
                "        EncryptionKey:\n          Id: !GetAtt ArtifactKey.Arn\n          Type: KMS\n",
                "",
            )],
            &["PL002"],
        ),
        (
            "versioning-off",
            |p| {
                set(
                    p,
                    "aws_s3_bucket_versioning.artifacts",
                    "/versioning_configuration/0/status",
                    json!("Suspended"),
                )
            },
            &[("        Status: Enabled", "        Status: Suspended")],
            &["AB008"],
        ),
        (
            "no-bucket-policy",
            |p| remove(p, "aws_s3_bucket_policy.artifacts"),
            &[(
                "    Type: AWS::S3::BucketPolicy",
                "    Type: AWS::SNS::TopicPolicy",
            )],
            &["AB004", "AB005"],
        ),
        (
            "rotation-off",
            |p| {
                set(
                    p,
                    "aws_kms_key.artifacts",
                    "/enable_key_rotation",
                    json!(false),
                )
            },
            &[("EnableKeyRotation: true", "EnableKeyRotation: false")],
            &["KM003"],
        ),
        (
            "privileged",
            |p| {
                set(
                    p,
                    "module.pipeline.aws_codebuild_project.this",
                    "/environment/0/privileged_mode",
                    json!(true),
                )
            },
            &[("PrivilegedMode: false", "PrivilegedMode: true")],
            &["CB003"],
        ),
        (
            "no-rollback",
            |p| {
                set(
                    p,
                    "module.pipeline.aws_codedeploy_deployment_group.this",
                    "/auto_rollback_configuration/0/enabled",
                    json!(false),
                )
            },
            &[(
                "        Enabled: true\n        Events: [DEPLOYMENT_FAILURE]",
                "        Enabled: false\n        Events: [DEPLOYMENT_FAILURE]",
            )],
            &["CD003"],
        ),
        (
            "all-at-once",
            |p| {
                set(
                    p,
                    "module.pipeline.aws_codedeploy_deployment_group.this",
                    "/deployment_config_name",
                    json!("CodeDeployDefault.AllAtOnce"),
                )
            },
            &[(
                "CodeDeployDefault.OneAtATime",
                "CodeDeployDefault.AllAtOnce",
            )],
            &["CD004"],
        ),
        (
            "imdsv1",
            |p| {
                set(
                    p,
                    "aws_launch_template.web",
                    "/metadata_options/0/http_tokens",
                    json!("optional"),
                )
            },
            &[("HttpTokens: required", "HttpTokens: optional")],
            &["CD009"],
        ),
        (
            "admin-role",
            |p| {
                add(
                    p,
                    "aws_iam_role_policy_attachment",
                    "deploy_admin",
                    json!({"role": "ref-deploy-role",
                           "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
                    json!({}),
                )
            },
            &[(
                "        - !Ref DeployPolicy\n",
                "        - !Ref DeployPolicy\n        - arn:aws:iam::aws:policy/AdministratorAccess\n",
            )],
            &["IA001"],
        ),
        (
            "build-role-untrusted",
            |p| {
                let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                    "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}}}]});
                set(
                    p,
                    "module.pipeline.aws_iam_role.build",
                    "/assume_role_policy",
                    policy_text(&trust),
                )
            },
            &[(
                "Principal: {Service: codebuild.amazonaws.com}",
                "Principal: {AWS: '*'}",
            )],
            &["IA002", "IA003"],
        ),
        (
            "instance-cannot-fetch",
            |p| {
                let a = "aws_iam_role.instance";
                let text = p["planned_values"]["root_module"]["resources"]
                    .as_array()
                    .and_then(|l| l.iter().find(|r| r["address"] == a))
                    .map(|r| r["values"]["inline_policy"][0]["policy"].clone())
                    .unwrap_or_default();
                let mut doc = policy(&text);
                doc["Statement"][0]["Resource"] = json!("arn:aws:s3:::ref-artifacts/other/*");
                set(p, a, "/inline_policy/0/policy", policy_text(&doc));
            },
            &[(
                "'${ArtifactBucket.Arn}/${Prefix}-pipeline/*'",
                "'${ArtifactBucket.Arn}/other/*'",
            )],
            &["CD007"],
        ),
    ];
    for (name, edit, template_edits, expected) in cases {
        let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        let mut p = plan();
        edit(&mut p);
        let path = write_plan(dir.path(), &format!("{name}.json"), &p);
        let (code, r) = audit("--tf-plan", &path, &[]);
        assert_eq!(support::rule_ids(&r), want, "{name}: {r:#}");
        assert!(
            support::diagnostics(&r).iter().all(|d| d["kind"] == "note"),
            "{name}: {:#?}",
            support::diagnostics(&r)
        );
        assert_eq!(code, 1, "{name}");
        let t = write(
            dir.path(),
            &format!("{name}.yaml"),
            &template_variant(template_edits),
        );
        let (_, tr) = audit("--template", &t, &[]);
        assert_eq!(support::rule_ids(&tr), want, "{name} (template)");
    }
}

#[test]
fn what_the_plan_leaves_unknown_is_a_gap_never_a_pass() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // a policy computed at apply (it interpolates an ARN made at apply)
    let mut p = plan();
    unknown(
        &mut p,
        "module.pipeline.aws_iam_role.pipeline",
        "inline_policy",
        vec![
            "aws_s3_bucket.artifacts.arn",
            "aws_s3_bucket.artifacts",
            "var.kms_key_arn",
        ],
    );
    // the rotation decided at apply: no pass, no finding
    unknown(
        &mut p,
        "aws_kms_key.artifacts",
        "enable_key_rotation",
        vec!["var.rotation"],
    );
    let path = write_plan(dir.path(), "unknown.json", &p);
    let (code, r) = audit("--tf-plan", &path, &[]);
    assert_eq!(code, 2, "{r:#}");
    assert!(support::rule_ids(&r).is_empty(), "{r:#}");
    let gaps: Vec<Value> = support::diagnostics(&r)
        .into_iter()
        .filter(|d| d["permission"] == "iac-unresolved")
        .collect();
    let has = |rule: &str, text: &str| {
        gaps.iter()
            .any(|d| d["rule_id"] == rule && d["message"].as_str().unwrap_or("").contains(text))
    };
    assert!(
        has(
            "KM003",
            "aws_kms_key.artifacts.enable_key_rotation is known only after apply"
        ),
        "{gaps:#?}"
    );
    assert!(
        has(
            "KM005",
            "module.pipeline.aws_iam_role.pipeline.inline_policy is known only after apply"
        ),
        "{gaps:#?}"
    );
    // an artifact bucket the plan does not create: outside, not a pass
    let mut p = plan();
    let a = "module.pipeline.aws_codepipeline.this";
    set(&mut p, a, "/artifact_store/0/type", json!("S3"));
    for r in p["planned_values"]["root_module"]["child_modules"][0]["resources"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter(|r| r["address"] == a)
    {
        r["values"]["artifact_store"][0]["location"] = json!("existing-bucket");
    }
    for r in p["resource_changes"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter(|r| r["address"] == a)
    {
        r["change"]["after"]["artifact_store"][0]["location"] = json!("existing-bucket");
        r["change"]["after_unknown"]["artifact_store"][0]["location"] = json!(false);
    }
    let path = write_plan(dir.path(), "outside.json", &p);
    let (code, r) = audit("--tf-plan", &path, &[]);
    assert_eq!(code, 2);
    assert!(support::rule_ids(&r).is_empty(), "{r:#}");
    assert!(
        support::diagnostics(&r)
            .iter()
            .any(|d| d["rule_id"] == "AB001"
                && d["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("existing-bucket is outside the templates")),
        "{r:#}"
    );
    // the reference plan resolves the bucket through the module variable
    // and the roles through their references; without the configuration,
    // those values are unknown
    let mut p = plan();
    p["configuration"] = json!({});
    let path = write_plan(dir.path(), "noconfig.json", &p);
    let (code, r) = audit("--tf-plan", &path, &[]);
    assert_eq!(code, 2);
    assert!(support::rule_ids(&r).is_empty(), "{r:#}");
    let m = messages(&r);
    assert!(
        m.iter().any(|x| x.contains(
            "module.pipeline.aws_codepipeline.this.artifact_store[0].location is known only after apply"
        )),
        "{m:#?}"
    );
    // a split setting or a policy whose bucket the plan does not say:
    // unknown on the buckets, not off
    let mut p = plan();
    for a in [
        "aws_s3_bucket_versioning.artifacts",
        "aws_s3_bucket_policy.artifacts",
    ] {
        unknown(&mut p, a, "bucket", vec!["local.bucket_id"]);
    }
    let path = write_plan(dir.path(), "whichbucket.json", &p);
    let (code, r) = audit("--tf-plan", &path, &[]);
    assert_eq!(code, 2);
    assert!(support::rule_ids(&r).is_empty(), "{r:#}");
    let m = messages(&r);
    for (rule, address) in [
        ("AB008", "aws_s3_bucket_versioning.artifacts"),
        ("AB004", "aws_s3_bucket_policy.artifacts"),
        ("AB005", "aws_s3_bucket_policy.artifacts"),
    ] {
        let want = format!("the bucket {address} applies to is known only after apply");
        assert!(
            m.iter()
                .any(|x| x.starts_with(&format!("{rule} not checked")) && x.contains(&want)),
            "{rule}: {m:#?}"
        );
    }
}

#[test]
fn sensitive_values_reach_no_output() {
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan();
    let a = "module.pipeline.aws_codebuild_project.this";
    // a plaintext variable from a sensitive Terraform variable: classified, dropped
    set(
        &mut p,
        a,
        "/environment/0/environment_variable/1",
        json!({"name": "AWS_SECRET_ACCESS_KEY", "type": "PLAINTEXT", "value": SECRET}),
    );
    for pointer in [
        "/planned_values/root_module/child_modules/0/resources",
        "/resource_changes",
    ] {
        for r in p
            .pointer_mut(pointer)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if r["address"] == a {
                let marks =
                    json!({"environment": [{"environment_variable": [{}, {"value": true}]}]});
                if r.get("change").is_some() {
                    r["change"]["after_sensitive"] = marks;
                } else {
                    r["sensitive_values"] = marks;
                }
            }
        }
    }
    // a sensitive value anywhere else is unknown: the key's description
    for r in p["planned_values"]["root_module"]["resources"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if r["address"] == "aws_kms_key.artifacts" {
            r["values"]["description"] = json!(format!("key {SECRET}"));
            r["sensitive_values"]["description"] = json!(true);
        }
    }
    let path = write_plan(dir.path(), "sensitive.json", &p);
    let (code, r) = audit("--tf-plan", &path, &[]);
    assert_eq!(
        support::rule_ids(&r),
        BTreeSet::from(["CB002".to_string()]),
        "{r:#}"
    );
    assert_eq!(code, 1);
    let p = path.to_string_lossy().into_owned();
    for format in ["json", "sarif", "markdown", "html", "table"] {
        let o = support::offline(&["--tf-plan", &p, "--format", format]);
        let out = String::from_utf8_lossy(&o.stdout);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!out.is_empty(), "{format}: {err}");
        assert!(
            !out.contains("wJalrXUtnFEMI") && !err.contains("wJalrXUtnFEMI"),
            "{format}"
        );
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut v2 = plan();
    v2["format_version"] = json!("2.0");
    let v2 = write_plan(dir.path(), "v2.json", &v2);
    let not_json = write(dir.path(), "bad.json", "{\"format_version\": \"1.2\",");
    let state = write(
        dir.path(),
        "state.json",
        r#"{"format_version": "1.0", "values": {"root_module": {"resources": []}}}"#,
    );
    let cases: [(&Path, &str); 4] = [
        (
            &v2,
            "format_version \"2.0\" is not supported (Terraform plan JSON 1.x only)",
        ),
        (&not_json, "not JSON"),
        (&state, "a Terraform state, not a plan"),
        (Path::new("/nonexistent/plan.json"), "cannot read"),
    ];
    for (path, want) in cases {
        let o = support::offline(&["--tf-plan", &path.to_string_lossy()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("pipeaudit: error: plan "), "{err}");
        assert!(err.contains(want), "{err}");
    }
    // a directory of mixed files: one diagnostic per file that is not a
    // plan, the plan audited
    let tree = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write_plan(tree.path(), "good.json", &plan());
    write(tree.path(), "bad.json", "not json at all");
    let mut other = plan();
    other["format_version"] = json!("0.2");
    write_plan(tree.path(), "old.json", &other);
    write(tree.path(), "notes.txt", "ignored");
    let (code, r) = audit("--tf-plan", tree.path(), &[]);
    assert_eq!(code, 2);
    assert_eq!(r["summary"]["pipelines"], 1, "{r:#}");
    let errors: Vec<String> = support::diagnostics(&r)
        .iter()
        .filter(|d| d["kind"] == "scope-error")
        .filter_map(|d| d["message"].as_str().map(str::to_string))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("bad.json not audited: not JSON")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("old.json not audited: format_version \"0.2\"")),
        "{errors:?}"
    );
    // --tf-plan and --template are one or the other
    let o = support::offline(&["--tf-plan", PLAN, "--template", TEMPLATE]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn no_input_makes_the_reader_panic() {
    // every value of the reference plan replaced in turn by values of
    // other shapes, and the plan cut short: an answer, never a panic
    let base = serde_json::to_string(&plan()).unwrap_or_default();
    let opts = pipeaudit::template::Options::default();
    let build = |text: &str| {
        if let Ok(doc) = pipeaudit::template::tfplan::parse_plan(text) {
            let file = pipeaudit::template::tfplan::PlanFile {
                path: PathBuf::from("p.json"),
                doc,
            };
            let _ = pipeaudit::template::tfplan::load(&[file], Vec::new(), &opts);
        }
    };
    for cut in (0..base.len()).step_by(base.len() / 97 + 1) {
        build(&base[..cut]);
    }
    let shapes = [
        json!(null),
        json!(1),
        json!("x"),
        json!([]),
        json!({}),
        json!(true),
        json!({"Ref": "TfUnknown1"}),
        json!({"references": ["var.x", "module.m.o"]}),
    ];
    let original = plan();
    let mut pointers = Vec::new();
    fn walk(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                walk(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(x, format!("{at}/{i}"), out)),
            _ => {}
        }
        out.push(at);
    }
    walk(&original, String::new(), &mut pointers);
    for (i, ptr) in pointers.iter().enumerate().step_by(7) {
        let mut p = original.clone();
        if let Some(slot) = p.pointer_mut(ptr) {
            *slot = shapes[i % shapes.len()].clone();
        }
        build(&serde_json::to_string(&p).unwrap_or_default());
    }
}

#[test]
fn sarif_points_at_plan_addresses_or_tf_files_in_its_own_category() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = plan();
    set(
        &mut p,
        "aws_kms_key.artifacts",
        "/enable_key_rotation",
        json!(false),
    );
    let text = serde_json::to_string_pretty(&p).unwrap_or_default();
    write(dir.path(), "plan.json", &text);
    let sarif = |extra: &[&str]| {
        let mut args = vec!["--tf-plan", "plan.json", "--format", "sarif"];
        args.extend_from_slice(extra);
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
            .args(&args)
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        support::stdout_json(&o)
    };
    let doc = sarif(&[]);
    let run = &doc["runs"][0];
    assert_eq!(
        run["automationDetails"]["id"],
        "pipeaudit-template-terraform/aws/123456789012/us-east-1/"
    );
    let results = run["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0]["ruleId"], "KM003");
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "plan.json", "{loc:#}");
    let line = text
        .lines()
        .position(|l| l.contains("\"address\": \"aws_kms_key.artifacts\""))
        .map(|i| i + 1)
        .unwrap_or(0);
    assert_eq!(
        loc["region"]["startLine"].as_u64(),
        Some(line as u64),
        "{loc:#}"
    );
    // with the configuration's .tf files: the property's line there
    std::fs::create_dir_all(dir.path().join("infra/modules/pipeline"))
        .unwrap_or_else(|e| panic!("{e}"));
    write(
        &dir.path().join("infra"),
        "main.tf",
        "resource \"aws_kms_key\" \"artifacts\" {\n  description         = \"artifact key\"\n  enable_key_rotation = false\n}\n\nmodule \"pipeline\" {\n  source = \"./modules/pipeline\"\n}\n",
    );
    let doc = sarif(&["--iac", "infra"]);
    let loc = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "infra/main.tf", "{loc:#}");
    assert_eq!(loc["region"]["startLine"].as_u64(), Some(3), "{loc:#}");
}

/// Writes `attribute` of the root-module resource `address` as the
/// configuration does (a constant), planned and changed.
fn write_inline(plan: &mut Value, address: &str, attribute: &str, value: Value) {
    for list in modules(plan) {
        for r in list.as_array_mut().into_iter().flatten() {
            if r["address"] == address {
                r["values"][attribute] = value.clone();
            }
        }
    }
    for c in plan["resource_changes"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if c["address"] == address {
            c["change"]["after"][attribute] = value.clone();
            if let Some(u) = c["change"]["after_unknown"].as_object_mut() {
                u.remove(attribute);
            }
        }
    }
    for r in plan
        .pointer_mut("/configuration/root_module/resources")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if r["address"] == address {
            r["expressions"][attribute] = json!([{"enabled": {"constant_value": true}}]);
        }
    }
}

/// The inline settings of provider versions before 4 (`versioning { ... }`
/// inside `aws_s3_bucket`) are read when the configuration writes them:
/// versioning written on is no AB008, written off is; not written (computed
/// after apply), the bucket has AWS's default, as with no split resource.
#[test]
fn legacy_inline_bucket_settings_are_read_when_written() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ab008 = |name: &str, p: &Value| {
        let path = write_plan(dir.path(), name, p);
        let (code, r) = audit("--tf-plan", &path, &[]);
        assert!(code == 0 || code == 1, "{name}: exit {code}: {r:#}");
        assert!(
            !messages(&r)
                .iter()
                .any(|m| m.starts_with("AB008 not checked")),
            "{name}: {r:#}"
        );
        support::rule_ids(&r).contains("AB008")
    };
    let mut on = plan();
    remove(&mut on, "aws_s3_bucket_versioning.artifacts");
    write_inline(
        &mut on,
        "aws_s3_bucket.artifacts",
        "versioning",
        json!([{"enabled": true, "mfa_delete": false}]),
    );
    assert!(!ab008("inline-on.json", &on));
    let mut off = plan();
    remove(&mut off, "aws_s3_bucket_versioning.artifacts");
    write_inline(
        &mut off,
        "aws_s3_bucket.artifacts",
        "versioning",
        json!([{"enabled": false, "mfa_delete": false}]),
    );
    assert!(ab008("inline-off.json", &off));
    let mut unwritten = plan();
    remove(&mut unwritten, "aws_s3_bucket_versioning.artifacts");
    assert!(ab008("unwritten.json", &unwritten));
    // the inline `policy` stands for the bucket policy: the TLS and
    // encryption statements it holds count (AB004, AB005)
    let mut p = plan();
    let text = modules(&mut p)
        .into_iter()
        .flat_map(|l| l.as_array().cloned().unwrap_or_default())
        .find(|r| r["address"] == "aws_s3_bucket_policy.artifacts")
        .map(|r| r["values"]["policy"].clone())
        .unwrap_or_else(|| panic!("no artifact bucket policy in the plan"));
    assert!(text.is_string(), "{text}");
    remove(&mut p, "aws_s3_bucket_policy.artifacts");
    let path = write_plan(dir.path(), "nopolicy.json", &p);
    let (_, r) = audit("--tf-plan", &path, &[]);
    let ids = support::rule_ids(&r);
    assert!(ids.contains("AB004") && ids.contains("AB005"), "{r:#}");
    write_inline(&mut p, "aws_s3_bucket.artifacts", "policy", text);
    let path = write_plan(dir.path(), "inline-policy.json", &p);
    let (code, r) = audit("--tf-plan", &path, &[]);
    assert_eq!(code, 0, "{r:#}");
    let ids = support::rule_ids(&r);
    assert!(!ids.contains("AB004") && !ids.contains("AB005"), "{r:#}");
}
