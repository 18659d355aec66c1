//! Locating findings offline: the demo snapshot with the stacks of some of
//! its resources added, audited with `--iac` against template directories
//! built for each case. A stack mapped in pipeaudit.toml wins over the
//! search; no template, several templates, an unreadable stack or a bad
//! mapping are diagnostics and the finding keeps its pseudo-path.

use crate::support;

use std::path::Path;

use serde_json::{Value, json};

/// The demo snapshot's findings (JSON report) and the snapshot itself.
fn demo() -> (Value, Value) {
    let o = support::offline(&["--snapshot", support::DEMO, "--format", "json"]);
    let report = support::stdout_json(&o);
    let text = std::fs::read_to_string(support::DEMO).unwrap_or_else(|e| panic!("{e}"));
    let snap: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    (report, snap)
}

/// The resource of the first finding of `rule` in a report.
fn resource_of(report: &Value, rule: &str) -> String {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["rule_id"] == rule)
        .and_then(|f| f["resource_arn"].as_str())
        .unwrap_or_else(|| panic!("the demo has no {rule} finding"))
        .to_string()
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(p, text).unwrap_or_else(|e| panic!("{e}"));
}

const KEY_YAML: &str = "Resources:\n  # the artifact key\n  ArtifactKey:\n    Type: AWS::KMS::Key\n    Properties:\n      EnableKeyRotation: !Ref Rotate\n";

/// Runs the audit of `snap` with `--iac DIR --iac-root DIR` and more args; the JSON report.
fn audit(dir: &Path, snap: &Value, extra: &[&str]) -> Value {
    let path = dir.join("snap.json");
    std::fs::write(&path, snap.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let d = dir.to_string_lossy().into_owned();
    let p = path.to_string_lossy().into_owned();
    let mut args = vec![
        "--snapshot",
        p.as_str(),
        "--iac",
        d.as_str(),
        "--iac-root",
        d.as_str(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    support::stdout_json(&support::offline(&args))
}

fn defined_in(report: &Value, rule: &str, resource: &str) -> Value {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["rule_id"] == rule && f["resource_arn"] == resource)
        .map(|f| f["defined_in"].clone())
        .unwrap_or_else(|| panic!("no {rule} finding on {resource}"))
}

fn iac_diagnostics(report: &Value) -> Vec<String> {
    support::diagnostics(report)
        .into_iter()
        .filter(|d| d["kind"] == "iac-location")
        .map(|d| d["message"].as_str().unwrap_or("").to_string())
        .collect()
}

fn with_stack(snap: &mut Value, arn: &str, stack: Value) {
    snap["stacks"][arn] = stack;
}

fn managed(stack: &str, logical_id: &str) -> Value {
    json!({"status": "ok", "value": {"stack": stack, "logical_id": logical_id, "source": "tags"}})
}

#[test]
fn the_only_template_with_the_logical_id_and_type_is_found() {
    let (report, mut snap) = demo();
    let key = resource_of(&report, "KM003");
    with_stack(&mut snap, &key, managed("ci", "ArtifactKey"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "infra/key.yaml", KEY_YAML);
    // same logical id, another type: not a candidate
    write(
        dir.path(),
        "other/topic.yaml",
        "Resources:\n  ArtifactKey:\n    Type: AWS::SNS::Topic\n",
    );
    write(dir.path(), "docs/notes.yaml", "title: not a template\n");
    let r = audit(dir.path(), &snap, &[]);
    let d = defined_in(&r, "KM003", &key);
    assert_eq!(d["file"], "infra/key.yaml");
    assert_eq!(
        (d["start_line"].as_u64(), d["end_line"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(d["property"], "EnableKeyRotation");
    assert!(iac_diagnostics(&r).is_empty(), "{:?}", iac_diagnostics(&r));
    // every other finding of the key without a property points at its block
    let other = r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["resource_arn"] == key.as_str() && f["rule_id"] != "KM003");
    if let Some(f) = other {
        assert_eq!(f["defined_in"]["file"], "infra/key.yaml");
        assert_eq!(f["defined_in"]["start_line"], 3);
    }
    // the HTML report says where too, in the table and under the diagram
    let snap_path = dir.path().join("snap.json").to_string_lossy().into_owned();
    let root = dir.path().to_string_lossy().into_owned();
    let o = support::offline(&[
        "--snapshot",
        snap_path.as_str(),
        "--iac",
        root.as_str(),
        "--iac-root",
        root.as_str(),
        "--format",
        "html",
    ]);
    let html = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        html.matches("defined in <code>infra/key.yaml:6</code>")
            .count(),
        2,
        "table row and finding under the diagram"
    );
    // findings of other resources keep no location
    assert!(
        r["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["resource_arn"] != key.as_str())
            .all(|f| f.get("defined_in").is_none())
    );
}

#[test]
fn several_or_no_templates_are_diagnostics_never_guesses() {
    let (report, mut snap) = demo();
    let key = resource_of(&report, "KM003");
    with_stack(&mut snap, &key, managed("ci", "ArtifactKey"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "a/key.yaml", KEY_YAML);
    write(
        dir.path(),
        "b/key.json",
        "{\"Resources\": {\"ArtifactKey\": {\"Type\": \"AWS::KMS::Key\"}}}",
    );
    let r = audit(dir.path(), &snap, &[]);
    assert!(defined_in(&r, "KM003", &key).is_null());
    let diags = iac_diagnostics(&r);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(
        diags[0].contains("2 templates define ArtifactKey")
            && diags[0].contains("a/key.yaml")
            && diags[0].contains("b/key.json")
            && diags[0].contains("[iac.stacks] ci"),
        "{}",
        diags[0]
    );

    // mapped in pipeaudit.toml, the stack's template is the mapped one
    write(
        dir.path(),
        "pipeaudit.toml",
        "[iac.stacks]\nci = \"b/key.json\"\n",
    );
    let config = dir
        .path()
        .join("pipeaudit.toml")
        .to_string_lossy()
        .into_owned();
    let r = audit(dir.path(), &snap, &["--config", &config]);
    assert_eq!(defined_in(&r, "KM003", &key)["file"], "b/key.json");
    assert!(iac_diagnostics(&r).is_empty());

    // no template at all
    let empty = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = audit(empty.path(), &snap, &[]);
    assert!(defined_in(&r, "KM003", &key).is_null());
    let diags = iac_diagnostics(&r);
    assert!(
        diags.len() == 1 && diags[0].contains("no template under --iac defines ArtifactKey"),
        "{diags:?}"
    );
    // the table lists it apart from the checks that could not be made
    let snap_path = empty
        .path()
        .join("snap.json")
        .to_string_lossy()
        .into_owned();
    let d = empty.path().to_string_lossy().into_owned();
    let o = support::offline(&["--snapshot", &snap_path, "--iac", &d, "--iac-root", &d]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("Not located in infrastructure as code (1):\n  - no template under --iac defines ArtifactKey"),
        "{table}"
    );
    assert!(!table.contains("could not be made"), "{table}");
}

#[test]
fn a_bad_mapping_or_an_unreadable_stack_is_a_diagnostic() {
    let (report, mut snap) = demo();
    let key = resource_of(&report, "KM003");
    let build = resource_of(&report, "CB003");
    with_stack(&mut snap, &key, managed("ci", "ArtifactKey"));
    with_stack(
        &mut snap,
        &build,
        json!({"status": "unknown", "error": {"kind": "access_denied", "action": "cloudformation:DescribeStackResources", "code": "AccessDenied", "message": "not authorized"}}),
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "infra/key.yaml", KEY_YAML);
    write(
        dir.path(),
        "pipeaudit.toml",
        "[iac.stacks]\nci = \"infra/missing.yaml\"\n",
    );
    let config = dir
        .path()
        .join("pipeaudit.toml")
        .to_string_lossy()
        .into_owned();
    let r = audit(dir.path(), &snap, &["--config", &config]);
    assert!(
        defined_in(&r, "KM003", &key).is_null(),
        "a bad mapping is not searched around"
    );
    assert!(defined_in(&r, "CB003", &build).is_null());
    let diags = support::diagnostics(&r);
    let bad_map = diags
        .iter()
        .find(|d| d["resource"] == key.as_str())
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert!(
        bad_map["message"]
            .as_str()
            .is_some_and(|m| m.contains("[iac.stacks] ci") && m.contains("infra/missing.yaml")),
        "{bad_map}"
    );
    let denied = diags
        .iter()
        .find(|d| d["resource"] == build.as_str() && d["kind"] == "iac-location")
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert_eq!(
        denied["permission"],
        "cloudformation:DescribeStackResources"
    );

    // a mapping that leaves the root is refused when the configuration is read
    write(dir.path(), "bad.toml", "[iac.stacks]\nci = \"../x.yaml\"\n");
    let bad = dir.path().join("bad.toml").to_string_lossy().into_owned();
    let o = support::offline(&["--snapshot", support::DEMO, "--config", &bad]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml:2: [iac.stacks] ci"), "{err}");
}

#[test]
fn a_missing_iac_directory_is_a_one_line_error() {
    let o = support::offline(&["--snapshot", support::DEMO, "--iac", "/nonexistent/iac-dir"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("pipeaudit: error: --iac: cannot read /nonexistent/iac-dir")
            && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn an_iac_directory_outside_the_root_is_a_one_line_error() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let other = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (r, o) = (
        root.path().to_string_lossy().into_owned(),
        other.path().to_string_lossy().into_owned(),
    );
    let out = support::offline(&["--snapshot", support::DEMO, "--iac", &o, "--iac-root", &r]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is outside --iac-root") && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn a_snapshot_without_stacks_says_so() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (_, snap) = demo();
    let r = audit(dir.path(), &snap, &[]);
    let diags = iac_diagnostics(&r);
    assert!(
        diags
            .iter()
            .any(|d| d.contains("holds no stack membership")),
        "{diags:?}"
    );
}

const TF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/iac/terraform");

fn line_of(path: &str, needle: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {path}"))
}

#[test]
fn terraform_state_and_tf_files_locate_resources_through_local_modules() {
    let o = support::offline(&[
        "--snapshot",
        support::DEMO,
        "--iac",
        TF,
        "--iac-root",
        env!("CARGO_MANIFEST_DIR"),
        "--tf-state",
        &format!("{TF}/terraform.tfstate"),
        "--format",
        "json",
    ]);
    let r = support::stdout_json(&o);
    let main = format!("{TF}/main.tf");
    let ci = format!("{TF}/modules/ci/main.tf");
    let store = format!("{TF}/modules/ci/store/main.tf");

    // a local module's resource, at the rule's argument
    let key = defined_in(
        &r,
        "KM003",
        "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000017",
    );
    assert_eq!(
        key["file"],
        "tests/fixtures/iac/terraform/modules/ci/main.tf"
    );
    assert_eq!(
        key["start_line"],
        line_of(&ci, "enable_key_rotation = false")
    );
    assert_eq!(key["resource"], "module.ci.aws_kms_key.artifact");
    assert!(key.get("stack").is_none());
    // a root resource's nested argument; a heredoc's braces do not count
    let build = defined_in(
        &r,
        "CB003",
        "arn:aws:codebuild:us-east-1:123456789012:project/demo-025-build",
    );
    assert_eq!(build["file"], "tests/fixtures/iac/terraform/main.tf");
    assert_eq!(
        build["start_line"],
        line_of(&main, "privileged_mode = true")
    );
    // a module inside a module, no argument named for the rule: the block
    let bucket = defined_in(&r, "AB008", "arn:aws:s3:::demo-016-artifacts");
    assert_eq!(
        bucket["file"],
        "tests/fixtures/iac/terraform/modules/ci/store/main.tf"
    );
    assert_eq!(
        (bucket["start_line"].as_u64(), bucket["end_line"].as_u64()),
        (Some(1), Some(line_of(&store, "}")))
    );
    // a registry module's resource is not locatable: a diagnostic
    let role = "arn:aws:iam::123456789012:role/demo-031-pipeline-role";
    assert!(defined_in(&r, "IA001", role).is_null());
    let diags = support::diagnostics(&r);
    let d = diags
        .iter()
        .find(|d| d["resource"] == role)
        .unwrap_or_else(|| panic!("{diags:?}"));
    assert_eq!(d["kind"], "iac-location");
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("registry or remote module") && m.contains("module.shared")),
        "{d}"
    );

    // a state that is neither format is a one-line error
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "bad.tfstate", "{\"hello\": 1}");
    let bad = dir
        .path()
        .join("bad.tfstate")
        .to_string_lossy()
        .into_owned();
    let o = support::offline(&["--snapshot", support::DEMO, "--iac", TF, "--tf-state", &bad]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--tf-state") && err.trim_end().lines().count() == 1,
        "{err}"
    );
}

#[test]
fn cdk_output_names_the_construct_path() {
    let (report, mut snap) = demo();
    let key = resource_of(&report, "KM003");
    with_stack(&mut snap, &key, managed("CiStack", "ArtifactKey1A2B3C"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        dir.path(),
        "cdk.out/CiStack.template.json",
        "{\n \"Resources\": {\n  \"ArtifactKey1A2B3C\": {\n   \"Type\": \"AWS::KMS::Key\",\n   \"Properties\": {\n    \"EnableKeyRotation\": false\n   },\n   \"Metadata\": {\n    \"aws:cdk:path\": \"CiStack/ArtifactKey/Resource\"\n   }\n  }\n }\n}\n",
    );
    write(
        dir.path(),
        "cdk.out/manifest.json",
        "{\"version\": \"36.0.0\", \"artifacts\": {}}",
    );
    let r = audit(dir.path(), &snap, &[]);
    let d = defined_in(&r, "KM003", &key);
    assert_eq!(d["file"], "cdk.out/CiStack.template.json");
    assert_eq!(d["start_line"], 6);
    assert_eq!(
        d["resource"],
        "ArtifactKey1A2B3C (CiStack/ArtifactKey/Resource)"
    );
}

#[test]
fn drift_names_the_stack_and_template_of_a_drifted_resource() {
    let (report, mut current) = demo();
    let (_, base) = demo();
    let key = resource_of(&report, "KM003");
    current["resources"]["keys"][&key]["value"]["description"] = json!("edited by hand");
    with_stack(&mut current, &key, managed("ci", "ArtifactKey"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "infra/key.yaml", KEY_YAML);
    let base_path = dir.path().join("base.json");
    let cur_path = dir.path().join("cur.json");
    std::fs::write(&base_path, base.to_string()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&cur_path, current.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path().to_string_lossy().into_owned();
    let (b, c) = (
        base_path.to_string_lossy().into_owned(),
        cur_path.to_string_lossy().into_owned(),
    );
    let drift = |extra: &[&str], format: &str| {
        let mut args: Vec<&str> = extra.to_vec();
        args.extend([
            "drift",
            "--baseline",
            &b,
            "--snapshot",
            &c,
            "--format",
            format,
        ]);
        support::offline(&args)
    };
    let o = drift(&["--iac", &d, "--iac-root", &d], "json");
    let r = support::stdout_json(&o);
    let change = r["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|ch| ch["arn"] == key.as_str())
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(
        change["managed_by"],
        json!({"stack": "ci", "logical_id": "ArtifactKey", "template": "infra/key.yaml:3"})
    );
    let o = drift(&["--iac", &d, "--iac-root", &d], "table");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("managed by CloudFormation stack ci (ArtifactKey, defined in infra/key.yaml:3): a stack update or an edit outside the stack"),
        "{text}"
    );
    // without --iac the stack is still named (from the snapshot), without a template
    let o = drift(&[], "json");
    let r = support::stdout_json(&o);
    let change = r["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|ch| ch["arn"] == key.as_str())
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(
        change["managed_by"],
        json!({"stack": "ci", "logical_id": "ArtifactKey"})
    );
}

/// A template that does not parse, one nested beyond the bound and one over
/// the size cap are skipped, and the diagnostic says which and why, never
/// a bare "no template defines X" while the file is there. The deeply
/// nested file is refused before the YAML parser sees it (it took 23 s).
#[test]
fn skipped_templates_are_named_with_why() {
    let (report, mut snap) = demo();
    let key = resource_of(&report, "KM003");
    with_stack(&mut snap, &key, managed("ci", "ArtifactKey"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // the right template, broken by a stray bracket
    write(
        dir.path(),
        "infra/key.yaml",
        &format!("{KEY_YAML}      Tags: [unclosed\n"),
    );
    let nested = format!(
        "Resources: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    write(dir.path(), "infra/nested.yaml", &nested);
    let big = format!("# {}\n{KEY_YAML}", "x".repeat(4 * 1024 * 1024));
    write(dir.path(), "infra/big.yaml", &big);
    let started = std::time::Instant::now();
    let r = audit(dir.path(), &snap, &["--allow-partial"]);
    let took = started.elapsed();
    assert!(defined_in(&r, "KM003", &key).is_null());
    let diags = iac_diagnostics(&r);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert!(
        d.contains("no template under --iac defines ArtifactKey"),
        "{d}"
    );
    assert!(
        d.contains("files skipped:")
            && d.contains("infra/key.yaml (not valid YAML")
            && d.contains("infra/nested.yaml (nests deeper than 256 levels)")
            && d.contains("infra/big.yaml (")
            && d.contains("over the 4194304-byte cap"),
        "{d}"
    );
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
}

/// The `--iac` paths are checked when the index is made, the files read on
/// first use only; and a finding needs the templates only when a known stack
/// (or, with Terraform states, no stack) holds its resource.
#[test]
fn templates_are_read_only_when_a_located_resource_needs_them() {
    use pipeaudit::iac::{Lazy, Options, needs_templates};
    use pipeaudit::model::{Observed, ReadError, ReadErrorKind, StackRef};
    use std::collections::BTreeMap;

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "infra/key.yaml", KEY_YAML);
    let opts = |dirs: Vec<std::path::PathBuf>, states: Vec<std::path::PathBuf>| Options {
        dirs,
        root: dir.path().to_path_buf(),
        stacks: BTreeMap::new(),
        tf_states: states,
    };
    // a missing directory or state fails at once, before anything is read
    let missing = Lazy::new(opts(vec![dir.path().join("nope")], vec![]));
    assert!(matches!(&missing, Err(e) if e.to_string().starts_with("--iac: ")));
    let missing = Lazy::new(opts(vec![], vec![dir.path().join("none.tfstate")]));
    assert!(matches!(&missing, Err(e) if e.to_string().starts_with("--tf-state ")));
    // a good one reads nothing until asked
    let lazy =
        Lazy::new(opts(vec![dir.path().join("infra")], vec![])).unwrap_or_else(|e| panic!("{e}"));
    assert!(!lazy.is_read());
    let index = lazy.get().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        index
            .templates()
            .map(|t| t.rel.as_str())
            .collect::<Vec<_>>(),
        ["infra/key.yaml"]
    );
    assert!(lazy.is_read());

    // which findings need the templates
    let (report, _) = demo();
    let findings: Vec<pipeaudit::findings::Finding> =
        serde_json::from_value(report["findings"].clone()).unwrap_or_else(|e| panic!("{e}"));
    let key = resource_of(&report, "KM003");
    let mut stacks: BTreeMap<String, Observed<StackRef>> = BTreeMap::new();
    assert!(!needs_templates(&[], &stacks, true), "no finding, no read");
    assert!(
        !needs_templates(&findings, &stacks, false),
        "no stack, no state"
    );
    assert!(
        needs_templates(&findings, &stacks, true),
        "a state may hold them"
    );
    let unknown = Observed::Unknown {
        error: ReadError {
            kind: ReadErrorKind::AccessDenied,
            action: "cloudformation:DescribeStackResources".to_string(),
            code: None,
            message: "denied".to_string(),
        },
    };
    for f in &findings {
        stacks.insert(f.resource_arn.clone(), unknown.clone());
    }
    assert!(
        !needs_templates(&findings, &stacks, false),
        "an unreadable stack is a diagnostic, not a read"
    );
    stacks.insert(
        key,
        Observed::Ok {
            value: StackRef {
                stack: "ci".to_string(),
                logical_id: "ArtifactKey".to_string(),
                source: "tags".to_string(),
            },
        },
    );
    assert!(needs_templates(&findings, &stacks, false));
}
