//! Template mode (`--template`): the snapshot built from CloudFormation
//! templates and audited with the unchanged rules. The reference stack as
//! a template (`tests/fixtures/templates/reference.yaml`) audits clean; one
//! defect per rule family, written into the template, gives exactly its
//! rules; what the templates do not determine is a gap, never a pass; bad
//! input is one line and exit 2; and the rule ids agree with the live audit
//! of the same stack created in moto through the SDK.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pipeaudit::collect::{CollectOptions, collect_with_config};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;
use support::moto::Moto;
use support::seed::{self, SeedClients, StackSpec};

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/templates/reference.yaml"
);

/// Text replacements that make a variant of the reference template.
type Edits<'a> = &'a [(&'a str, &'a str)];

pub(crate) fn reference() -> String {
    std::fs::read_to_string(REFERENCE).unwrap_or_else(|e| panic!("{REFERENCE}: {e}"))
}

/// The reference template with each `(from, to)` replaced once.
pub(crate) fn variant(edits: &[(&str, &str)]) -> String {
    let mut t = reference();
    for (from, to) in edits {
        assert_eq!(
            t.matches(from).count(),
            1,
            "{from:?} is not in the template once"
        );
        t = t.replacen(from, to, 1);
    }
    t
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    p
}

fn run(args: &[&str]) -> std::process::Output {
    support::offline(args)
}

fn audit_json(path: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let p = path.to_string_lossy().into_owned();
    let mut args = vec!["--template", p.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    let o = run(&args);
    (o.status.code().unwrap_or(-1), support::stdout_json(&o))
}

fn gaps(r: &serde_json::Value) -> Vec<serde_json::Value> {
    support::diagnostics(r)
}

#[test]
fn the_reference_template_audits_clean() {
    let (code, r) = audit_json(Path::new(REFERENCE), &[]);
    assert_eq!(support::rule_ids(&r), BTreeSet::new(), "{r:#}");
    assert!(gaps(&r).is_empty(), "{:#?}", gaps(&r));
    assert_eq!(code, 0);
    // the release paths need the account's IAM: said, not failed
    let notes: Vec<String> = support::notes(&r)
        .iter()
        .filter_map(|d| d["message"].as_str().map(str::to_string))
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("RP001 not checked")
                && n.contains("not checked in template mode")),
        "{notes:#?}"
    );
    assert_eq!(r["summary"]["pipelines"], 1, "{r:#}");
}

#[test]
fn each_defect_written_into_the_template_fires_its_rules() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cases: &[(&str, Edits, &[&str])] = &[
        (
            "trigger-disabled",
            &[("      State: ENABLED\n", "      State: DISABLED\n")],
            &["TR002"],
        ),
        (
            "trigger-wrong-branch",
            &[("referenceName: [!Ref Branch]", "referenceName: [develop]")],
            &["TR003"],
        ),
        (
            "no-trigger",
            &[(
                "  TriggerRule:\n    Type: AWS::Events::Rule",
                "  TriggerRule:\n    Type: AWS::SNS::Topic",
            )],
            &["TR001"],
        ),
        (
            "polling-on",
            &[("PollForSourceChanges: false", "PollForSourceChanges: true")],
            &["PL004"],
        ),
        (
            "no-cmk",
            &[(
                "        EncryptionKey:\n          Id: !GetAtt ArtifactKey.Arn\n          Type: KMS\n",
                "",
            )],
            &["PL002"],
        ),
        (
            "versioning-off",
            &[("        Status: Enabled", "        Status: Suspended")],
            &["AB008"],
        ),
        (
            "no-bucket-policy",
            &[(
                "    Type: AWS::S3::BucketPolicy",
                "    Type: AWS::SNS::TopicPolicy",
            )],
            &["AB004", "AB005"],
        ),
        (
            "rotation-off",
            &[("EnableKeyRotation: true", "EnableKeyRotation: false")],
            &["KM003"],
        ),
        (
            "key-policy-public",
            &[(
                "AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'",
                "AWS: '*'",
            )],
            &["KM004"],
        ),
        (
            "privileged",
            &[("PrivilegedMode: false", "PrivilegedMode: true")],
            &["CB003"],
        ),
        (
            "plaintext-secret",
            &[(
                "          - Name: STAGE\n            Value: prod\n",
                "          - Name: STAGE\n            Value: prod\n          - Name: AWS_SECRET_ACCESS_KEY\n            Value: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            )],
            &["CB002"],
        ),
        (
            "no-rollback",
            &[(
                "        Enabled: true\n        Events: [DEPLOYMENT_FAILURE]",
                "        Enabled: false\n        Events: [DEPLOYMENT_FAILURE]",
            )],
            &["CD003"],
        ),
        (
            "all-at-once",
            &[(
                "CodeDeployDefault.OneAtATime",
                "CodeDeployDefault.AllAtOnce",
            )],
            &["CD004"],
        ),
        (
            "imdsv1",
            &[("HttpTokens: required", "HttpTokens: optional")],
            &["CD009"],
        ),
        (
            "admin-role",
            &[(
                "        - !Ref DeployPolicy\n",
                "        - !Ref DeployPolicy\n        - arn:aws:iam::aws:policy/AdministratorAccess\n",
            )],
            &["IA001"],
        ),
        (
            "build-role-untrusted",
            &[(
                "Principal: {Service: codebuild.amazonaws.com}",
                "Principal: {AWS: '*'}",
            )],
            &["IA002", "IA003"],
        ),
        (
            // the instance role reads another prefix: the wiring (which
            // objects the pipeline writes) is what decides
            "instance-cannot-fetch",
            &[(
                "'${ArtifactBucket.Arn}/${Prefix}-pipeline/*'",
                "'${ArtifactBucket.Arn}/other/*'",
            )],
            &["CD007"],
        ),
    ];
    for (name, edits, expected) in cases {
        let path = write(dir.path(), &format!("{name}.yaml"), &variant(edits));
        let (code, r) = audit_json(&path, &[]);
        let want: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!(support::rule_ids(&r), want, "{name}");
        assert!(gaps(&r).is_empty(), "{name}: {:#?}", gaps(&r));
        assert_eq!(code, 1, "{name}");
    }
}

#[test]
fn what_the_templates_do_not_determine_is_not_checked() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // an import nobody exports: the declaration is unknown
    let path = write(
        dir.path(),
        "import.yaml",
        &variant(&[(
            "          Id: !GetAtt ArtifactKey.Arn\n          Type: KMS",
            "          Id: !ImportValue shared-key\n          Type: KMS",
        )]),
    );
    let (code, r) = audit_json(&path, &[]);
    assert_eq!(code, 2);
    assert!(support::rule_ids(&r).is_empty(), "{r:#}");
    let g = gaps(&r);
    assert!(
        g.iter().any(|d| d["permission"] == "iac-unresolved"
            && d["message"]
                .as_str()
                .unwrap_or("")
                .contains("Fn::ImportValue shared-key: no template given exports it")),
        "{g:#?}"
    );
    // the same import given by another template resolves
    let exporter = "Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      EnableKeyRotation: true\nOutputs:\n  K:\n    Value: !GetAtt Key.Arn\n    Export:\n      Name: shared-key\n";
    write(dir.path(), "exporter.yaml", exporter);
    let (_, r) = audit_json(dir.path(), &["--allow-partial"]);
    assert!(
        !gaps(&r)
            .iter()
            .any(|d| d["message"].as_str().unwrap_or("").contains("ImportValue")),
        "{:#?}",
        gaps(&r)
    );
    // an artifact bucket no template defines: the bucket rules are not
    // evaluated, none fires
    let path = write(
        dir.path(),
        "outside.yaml",
        &variant(&[(
            "        Location: !Ref ArtifactBucket",
            "        Location: existing-bucket",
        )]),
    );
    let (code, r) = audit_json(&path, &[]);
    assert_eq!(code, 2);
    assert!(support::rule_ids(&r).is_empty(), "{r:#}");
    let g = gaps(&r);
    assert!(
        g.iter().any(|d| d["rule_id"] == "AB001"
            && d["message"]
                .as_str()
                .unwrap_or("")
                .contains("existing-bucket is outside the templates")),
        "{g:#?}"
    );
    // a parameter without a default and no value: unresolved
    let path = write(
        dir.path(),
        "param.yaml",
        &variant(&[(
            "    Type: String\n    Default: main\n",
            "    Type: String\n",
        )]),
    );
    let (code, r) = audit_json(&path, &[]);
    assert_eq!(code, 2);
    assert!(
        gaps(&r).iter().any(|d| d["message"]
            .as_str()
            .unwrap_or("")
            .contains("parameter Branch has no default")),
        "{:#?}",
        gaps(&r)
    );
    // given in a parameter file, it is
    let params = write(
        dir.path(),
        "p.json",
        r#"[{"ParameterKey": "Branch", "ParameterValue": "main"}]"#,
    );
    let (code, r) = audit_json(&path, &["--parameters", &params.to_string_lossy()]);
    assert_eq!((code, support::rule_ids(&r)), (0, BTreeSet::new()), "{r:#}");
}

#[test]
fn parameters_change_names_and_wiring() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = write(dir.path(), "app.yaml", &reference());
    // a parameter file beside the template is read
    write(
        dir.path(),
        "app.parameters.json",
        r#"[{"ParameterKey": "Prefix", "ParameterValue": "team-a"}, {"ParameterKey": "Branch", "ParameterValue": "release"}]"#,
    );
    let (code, r) = audit_json(&path, &[]);
    assert_eq!(code, 0, "{r:#}");
    let built = pipeaudit::template::load(
        std::slice::from_ref(&path),
        &pipeaudit::template::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let w = &built.snapshot.pipelines[0];
    assert_eq!(w.name, "team-a-pipeline");
    assert_eq!(w.sources[0].branch.as_deref(), Some("release"));
    assert_eq!(w.artifact_stores[0].bucket, "team-a-artifacts");
    // the key reference resolves to the key the template defines
    let key = w.artifact_stores[0].key_arn.clone().unwrap_or_default();
    assert!(
        built.snapshot.resources.keys[&key].value().is_some(),
        "{key}"
    );
    // the trigger's pattern took the branch too, so it matches
    assert_eq!(w.trigger_rules.len(), 1);
    // the JSON form of the same template, with a placeholder-named bucket
    let json = r#"{"Resources": {"B": {"Type": "AWS::S3::Bucket"}, "P": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"RoleArn": "arn:aws:iam::123456789012:role/r", "ArtifactStore": {"Type": "S3", "Location": {"Ref": "B"}}, "Stages": []}}}}"#;
    let jpath = write(dir.path(), "mini.json", json);
    let built = pipeaudit::template::load(
        std::slice::from_ref(&jpath),
        &pipeaudit::template::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let w = &built.snapshot.pipelines[0];
    assert!(w.name.starts_with("mini-P-"), "{}", w.name);
    assert!(
        w.artifact_stores[0].bucket.starts_with("mini-b-"),
        "{:?}",
        w.artifact_stores
    );
    assert!(
        built
            .snapshot
            .resources
            .buckets
            .contains_key(&w.artifact_stores[0].bucket_arn)
    );
    // the same names on every run
    let again = pipeaudit::template::load(&[jpath], &pipeaudit::template::Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.snapshot.pipelines, built.snapshot.pipelines);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let not_a_document = write(dir.path(), "bad.yaml", "Resources: [\n  {{{\n");
    let circular = write(
        dir.path(),
        "circular.yaml",
        "Resources:\n  A:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Ref B\n      AssumeRolePolicyDocument: {}\n  B:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: !Ref A\n      AssumeRolePolicyDocument: {}\n",
    );
    let big = dir.path().join("big.json");
    let f = std::fs::File::create(&big).unwrap_or_else(|e| panic!("{e}"));
    f.set_len(pipeaudit::template::MAX_TEMPLATE_BYTES + 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let cases: [(&Path, &str); 4] = [
        (&not_a_document, "not valid YAML"),
        (&circular, "circular reference: A -> B -> A"),
        (&big, "over the 4194304-byte cap of a template"),
        (Path::new("/nonexistent/template.yaml"), "cannot read"),
    ];
    for (path, want) in cases {
        let o = run(&["--template", &path.to_string_lossy()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{}: {err}", path.display());
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("pipeaudit: error: template "), "{err}");
        assert!(err.contains(want), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // in a directory, each bad file is a diagnostic and the others are audited
    let tree = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(tree.path(), "good.yaml", &reference());
    write(tree.path(), "bad.yaml", "Resources: [\n  {{{\n");
    let (code, r) = audit_json(tree.path(), &[]);
    assert_eq!(code, 2);
    assert_eq!(r["summary"]["pipelines"], 1, "{r:#}");
    let errors: Vec<String> = support::diagnostics(&r)
        .iter()
        .filter(|d| d["kind"] == "scope-error")
        .filter_map(|d| d["message"].as_str().map(str::to_string))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("bad.yaml not audited: not valid YAML"),
        "{errors:?}"
    );
    // options
    for (args, want) in [
        (
            vec!["--template", REFERENCE, "--account-id", "12"],
            "is not a 12-digit account id",
        ),
        (
            vec!["--template", REFERENCE, "--stack-name", "x"],
            "expected TEMPLATE=NAME",
        ),
        (
            vec![
                "--template",
                REFERENCE,
                "--region",
                "us-east-1",
                "--region",
                "eu-west-1",
            ],
            "one --region",
        ),
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn sarif_points_at_template_lines_in_its_own_category() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let text = variant(&[("EnableKeyRotation: true", "EnableKeyRotation: false")]);
    let path = write(dir.path(), "stack.yaml", &text);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(["--template", "stack.yaml", "--format", "sarif"])
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
    let doc = support::stdout_json(&o);
    let run = &doc["runs"][0];
    assert_eq!(
        run["automationDetails"]["id"],
        "pipeaudit-template/aws/123456789012/us-east-1/"
    );
    let results = run["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 1, "{results:#?}");
    assert_eq!(results[0]["ruleId"], "KM003");
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "stack.yaml", "{loc:#}");
    let line = text
        .lines()
        .position(|l| l.contains("EnableKeyRotation: false"))
        .map(|i| i + 1)
        .unwrap_or(0);
    // the property the rule names, on its own line
    assert_eq!(
        loc["region"]["startLine"].as_u64(),
        Some(line as u64),
        "{loc:#}"
    );
    let _ = path;
}

/// moto's CloudFormation lacks the CodePipeline, CodeBuild and CodeDeploy
/// types, so the live side is the same stack created through the SDK
/// (`support::seed`), named as the template names it. moto stores no
/// custom key on a build project and drops a deployment group's alarms:
/// CB004 and CD006 fire on every moto stack and are the documented
/// exceptions.
#[tokio::test]
async fn template_and_live_audit_agree_on_the_reference_stack() {
    const MOTO_ARTIFACTS: &[&str] = &["CB004", "CD006"];
    let moto = Moto::start();
    let clients = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let cases: &[(&str, &[seed::Defect], Edits)] = &[
        ("agree-ok", &[], &[]),
        (
            "agree-bad",
            &[
                seed::Defect::PollingOn,
                seed::Defect::VersioningOff,
                seed::Defect::KeyRotationOff,
            ],
            &[
                ("PollForSourceChanges: false", "PollForSourceChanges: true"),
                ("        Status: Enabled", "        Status: Suspended"),
                ("EnableKeyRotation: true", "EnableKeyRotation: false"),
            ],
        ),
    ];
    for (prefix, defects, _) in cases {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects: defects.to_vec(),
            shared_store: None,
        };
        seed::seed_stack(&clients, &spec)
            .await
            .unwrap_or_else(|e| panic!("seed {prefix}: {e:#}"));
    }
    let config = moto.sdk_config("us-east-1").await;
    let snapshot = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let live = evaluate(Arc::new(snapshot), &rules, &Config::default());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (prefix, _, edits) in cases {
        let pipeline = format!("{prefix}-pipeline");
        let live_ids: BTreeSet<String> = live
            .findings
            .iter()
            .filter(|f| f.pipeline == pipeline)
            .map(|f| f.rule_id.clone())
            .filter(|id| !MOTO_ARTIFACTS.contains(&id.as_str()))
            .collect();
        let path = write(dir.path(), &format!("{prefix}.yaml"), &variant(edits));
        let params = write(
            dir.path(),
            &format!("{prefix}.parameters.json"),
            &format!(r#"[{{"ParameterKey": "Prefix", "ParameterValue": "{prefix}"}}]"#),
        );
        let _ = params;
        let built = pipeaudit::template::load(&[path], &pipeaudit::template::Options::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(built.snapshot.pipelines[0].name, pipeline);
        let eval = evaluate(Arc::new(built.snapshot), &rules, &Config::default());
        let template_ids: BTreeSet<String> =
            eval.findings.iter().map(|f| f.rule_id.clone()).collect();
        assert_eq!(template_ids, live_ids, "{prefix}");
    }
}

#[test]
fn nested_local_stacks_are_followed_and_cdk_out_is_read() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        dir.path(),
        "store.yaml",
        "Parameters:\n  Prefix: {Type: String}\nResources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties: {EnableKeyRotation: false}\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${Prefix}-store'\nOutputs:\n  Bucket: {Value: !Ref Bucket}\n  Key: {Value: !GetAtt Key.Arn}\n",
    );
    write(
        dir.path(),
        "parent.yaml",
        "Resources:\n  Store:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: ./store.yaml\n      Parameters: {Prefix: !Ref 'AWS::StackName'}\n  Pipeline:\n    Type: AWS::CodePipeline::Pipeline\n    Properties:\n      Name: p\n      RoleArn: arn:aws:iam::123456789012:role/r\n      ArtifactStore:\n        Type: S3\n        Location: !GetAtt Store.Outputs.Bucket\n        EncryptionKey: {Id: !GetAtt Store.Outputs.Key, Type: KMS}\n      Stages: []\n",
    );
    let built = pipeaudit::template::load(
        &[dir.path().to_path_buf()],
        &pipeaudit::template::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = &built.snapshot;
    let store = &s.pipelines[0].artifact_stores[0];
    // the parent's stack name went down as the parameter, the outputs up
    assert_eq!(store.bucket, "parent-store");
    let key = store.key_arn.clone().unwrap_or_default();
    let rotation = s.resources.keys[&key]
        .value()
        .and_then(|k| k.rotation_enabled.value().copied());
    assert_eq!(rotation, Some(false));
    // the nested template is built once, as the nested stack
    assert_eq!(
        s.resources.buckets.len(),
        1,
        "{:?}",
        s.resources.buckets.keys()
    );
    let origin = &built.origins[&store.bucket_arn];
    assert!(origin.file.ends_with("store.yaml"), "{origin:?}");
    assert!(origin.stack.starts_with("parent-Store-"), "{origin:?}");
    // KM003 fires on the nested key, located in the nested template
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(["--template", ".", "--format", "json", "--allow-partial"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let r = support::stdout_json(&o);
    let km003: Vec<&serde_json::Value> = r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule_id"] == "KM003")
        .collect();
    assert_eq!(km003.len(), 1, "{r:#}");
    assert_eq!(km003[0]["defined_in"]["file"], "store.yaml", "{r:#}");

    // cdk.out: the synthesized JSON template beside the CDK's own files
    let cdk = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        cdk.path(),
        "manifest.json",
        r#"{"version": "36.0.0", "artifacts": {}}"#,
    );
    write(
        cdk.path(),
        "tree.json",
        r#"{"version": "tree-0.1", "tree": {}}"#,
    );
    write(
        cdk.path(),
        "App.assets.json",
        r#"{"version": "36.0.0", "files": {}}"#,
    );
    write(
        cdk.path(),
        "App.template.json",
        r#"{"Resources": {"Key1A2B3C": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": true}, "Metadata": {"aws:cdk:path": "App/Key/Resource"}}}}"#,
    );
    let built = pipeaudit::template::load(
        &[cdk.path().to_path_buf()],
        &pipeaudit::template::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let origins: Vec<&pipeaudit::template::Origin> = built.origins.values().collect();
    assert_eq!(origins.len(), 1);
    assert_eq!(origins[0].stack, "App");
    assert_eq!(origins[0].logical_id, "Key1A2B3C");
    assert!(
        built
            .diagnostics
            .iter()
            .all(|d| d.kind != pipeaudit::findings::DiagnosticKind::ScopeError),
        "{:?}",
        built.diagnostics
    );
}
