//! The rule catalog, offline: registry completeness, the demo account's
//! seeded defects, unknown values, configuration, bad rule input. Each rule's
//! own firing and passing cases are in `tests/integration/rule_fixtures.rs`.
//!
//! Fixtures come from `examples/demo-account.json` (39 seeded stacks: every
//! third compliant, the others one typical defect each), and from copies of
//! its compliant stack with one change applied in the test.

use crate::support;

use std::collections::BTreeSet;
use std::sync::Arc;

use pipeaudit::findings::{DiagnosticKind, Severity};
use pipeaudit::model::{Observed, ReadError, ReadErrorKind, Snapshot};
use pipeaudit::remediate::registry;
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::{Evaluation, evaluate};
use pipeaudit::rules::frameworks::Frameworks;
use serde_json::Value;

fn rules() -> RuleSet {
    RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"))
}

fn demo() -> Snapshot {
    Snapshot::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/demo-account.json"
    )))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: Snapshot, config: &Config) -> Evaluation {
    evaluate(Arc::new(s), &rules(), config)
}

fn ids_for(e: &Evaluation, pipeline: &str) -> BTreeSet<String> {
    e.findings
        .iter()
        .filter(|f| f.pipeline == pipeline)
        .map(|f| f.rule_id.clone())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[test]
fn registry_matches_the_catalog_and_every_rule_is_complete() {
    let rules = rules();
    // The catalog, one `ID slug` line per rule in id order: a rule added,
    // removed or renamed shows in the snapshot's diff.
    let ids: BTreeSet<(&str, &str)> = rules
        .rules
        .iter()
        .map(|r| (r.file.id.as_str(), r.file.slug.as_str()))
        .collect();
    assert_eq!(ids.len(), rules.rules.len(), "a rule is registered twice");
    let listed: String = ids
        .iter()
        .map(|(id, slug)| format!("{id} {slug}\n"))
        .collect();
    support::insta_settings().bind(|| insta::assert_snapshot!("rule_catalog", listed));
    let catalog = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/reference/rules.md"
    ))
    .unwrap_or_default();
    for r in &rules.rules {
        let f = &r.file;
        assert!(
            r.origin.ends_with(&format!("/{}.yaml", f.slug)),
            "{} file name",
            f.id
        );
        assert!(!f.title.is_empty() && !f.message.is_empty(), "{}", f.id);
        assert!(
            f.docs.what.len() > 20 && f.docs.why.len() > 20 && f.docs.remediation.len() > 20,
            "{} docs",
            f.id
        );
        assert!(!f.references.is_empty(), "{} references", f.id);
        assert!(f.resource_type.starts_with("AWS::"), "{}", f.id);
        if let Some(fix) = &f.fix {
            assert!(
                registry::find(&fix.action).is_some(),
                "{} names fix {}",
                f.id,
                fix.action
            );
            assert!(
                f.docs.fix_safety.as_ref().is_some_and(|s| s.len() > 10),
                "{} fix safety",
                f.id
            );
        }
        // the catalog table of the rules reference lists the rule as it is
        let fix_col = f
            .fix
            .as_ref()
            .map(|x| {
                format!(
                    "{} ({})",
                    x.action,
                    if x.safety == pipeaudit::findings::FixSafety::Safe {
                        "safe"
                    } else {
                        "unsafe"
                    }
                )
            })
            .unwrap_or_else(|| "manual".to_string());
        let row = format!(
            "| [{}](../rules/{}.md) | {} | {} | {} | {} |",
            f.id, f.id, f.slug, f.severity, f.title, fix_col
        );
        assert!(
            catalog.contains(&row),
            "docs/reference/rules.md catalog lacks or misstates: {row}"
        );
        // slugs name the risky state, kebab-case
        assert!(
            f.slug
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{}",
            f.slug
        );
    }
}

#[test]
fn demo_account_yields_exactly_the_seeded_defects() {
    let e = run(demo(), &Config::default());
    assert!(
        support::gaps(&e.diagnostics).is_empty(),
        "{:#?}",
        e.diagnostics
    );
    let expected: &[(&str, &[&str])] = &[
        ("demo-001", &["TR001"]),
        ("demo-002", &["TR002"]),
        ("demo-004", &["TR003"]),
        ("demo-005", &["TR004"]),
        ("demo-007", &["PL004"]),
        ("demo-008", &["PL002"]),
        ("demo-010", &["AB002"]),
        ("demo-011", &["AB004", "AB005"]),
        ("demo-013", &["AB007"]),
        ("demo-014", &["AB006"]),
        ("demo-016", &["AB008"]),
        ("demo-017", &["KM003"]),
        ("demo-019", &["KM002"]),
        ("demo-020", &["KM002"]),
        ("demo-022", &["KM004"]),
        ("demo-023", &["CB002"]),
        ("demo-025", &["CB003"]),
        ("demo-026", &["CD003"]),
        ("demo-028", &["CD004"]),
        ("demo-029", &["CD002"]),
        ("demo-031", &["IA001"]),
        ("demo-032", &["AB001"]),
        ("demo-034", &["KM001"]),
        ("demo-035", &["CB001"]),
        ("demo-037", &["SC001"]),
        ("demo-038", &["CD001"]),
    ];
    for (prefix, ids) in expected {
        assert_eq!(
            ids_for(&e, &format!("{prefix}-pipeline")),
            set(ids),
            "{prefix}"
        );
    }
    for i in (0..39).step_by(3) {
        let name = format!("demo-{i:03}-pipeline");
        assert!(
            ids_for(&e, &name).is_empty(),
            "compliant {name}: {:?}",
            ids_for(&e, &name)
        );
    }
    let summary = support::finding_rows(&e.findings);
    support::insta_settings()
        .bind(|| insta::assert_json_snapshot!("demo_account_findings", summary));
}

/// The compliant demo stack `demo-000`, as JSON, to change one thing in.
fn compliant() -> Value {
    let mut s = demo();
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    serde_json::to_value(&s).unwrap_or_else(|e| panic!("{e}"))
}

fn load(v: Value) -> Snapshot {
    let text = v.to_string();
    Snapshot::from_json(&text, "fixture").unwrap_or_else(|e| {
        let col = match &e {
            pipeaudit::model::SnapshotError::Malformed { column, .. } => *column,
            _ => 0,
        };
        let start = col.saturating_sub(300);
        panic!("{e}: ...{}", text.get(start..col).unwrap_or(""))
    })
}

fn ptr<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut Value {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*p],
        };
    }
    cur
}

const ACCT: &str = "123456789012";

fn arn(kind: &str) -> String {
    match kind {
        "pipeline" => format!("arn:aws:codepipeline:us-east-1:{ACCT}:demo-000-pipeline"),
        "project" => format!("arn:aws:codebuild:us-east-1:{ACCT}:project/demo-000-build"),
        "group" => format!(
            "arn:aws:codedeploy:us-east-1:{ACCT}:deploymentgroup:demo-000-app/demo-000-group"
        ),
        other => panic!("no fixture ARN for {other}"),
    }
}

fn value_of<'a>(v: &'a mut Value, map: &str, key: &str) -> &'a mut Value {
    ptr(v, &["resources", map, key, "value"])
}

fn fires(v: Value, config: &Config) -> BTreeSet<String> {
    let e = run(load(v), config);
    assert!(
        e.diagnostics
            .iter()
            .all(|d| d.kind != DiagnosticKind::RuleError),
        "{:#?}",
        e.diagnostics
    );
    ids_for(&e, "demo-000-pipeline")
}

#[test]
fn compliant_stack_passes_every_rule() {
    assert!(fires(compliant(), &Config::default()).is_empty());
}

// Each rule firing and passing on its own fixture: tests/integration/rule_fixtures.rs.

#[test]
fn a_snapshot_read_from_a_file_is_redacted() {
    // a snapshot written before declarations were redacted, or by hand, holds
    // values in clear; reading it withholds them (values built from parts:
    // no secret literal in the source)
    let token = format!("{}{}_{}", "gh", "p", "Zq4Lx9Tb2Wm7Rk1Vn8Hc3Jd6Pf0Gs5Ya2Ue7");
    let mut v = compliant();
    let pipeline = arn("pipeline");
    let action = ptr(
        &mut v,
        &[
            "resources",
            "pipelines",
            &pipeline,
            "value",
            "stages",
            "1",
            "actions",
            "0",
        ],
    );
    action["configuration"]["EnvironmentVariables"] =
        format!(r#"[{{"name":"GITHUB_TOKEN","value":"{token}","type":"PLAINTEXT"}}]"#).into();
    action["configuration"]["OAuthToken"] = token.clone().into();
    let snapshot = load(v);
    let text = serde_json::to_string(&snapshot).unwrap_or_default();
    assert!(!text.contains(&token), "value kept");
    let ids: Vec<String> = run(snapshot, &Config::default())
        .findings
        .into_iter()
        .map(|f| f.message)
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(
        ids[0].contains("EnvironmentVariables.GITHUB_TOKEN") && ids[0].contains("OAuthToken"),
        "{ids:?}"
    );
}

#[test]
fn unknown_values_never_fire_and_name_the_permission() {
    let mut v = compliant();
    let key_arn = v["pipelines"][0]["artifact_stores"][0]["key_arn"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let denied = support::denied;
    // the key policy and the key rotation could not be read; the key policy is
    // also public in truth, but that cannot be known
    value_of(&mut v, "keys", &key_arn)["policy"] = denied("kms:GetKeyPolicy");
    value_of(&mut v, "keys", &key_arn)["rotation_enabled"] = denied("kms:GetKeyRotationStatus");
    let bucket = "arn:aws:s3:::demo-000-artifacts";
    value_of(&mut v, "buckets", bucket)["versioning"] = denied("s3:GetBucketVersioning");
    let e = run(load(v), &Config::default());
    assert!(
        ids_for(&e, "demo-000-pipeline").is_empty(),
        "{:?}",
        e.findings
    );
    let gaps: BTreeSet<(String, String)> = e
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::CollectionGap)
        .map(|d| {
            (
                d.rule_id.clone().unwrap_or_default(),
                d.permission.clone().unwrap_or_default(),
            )
        })
        .collect();
    for (rule, perm) in [
        ("KM003", "kms:GetKeyRotationStatus"),
        ("KM004", "kms:GetKeyPolicy"),
        ("KM005", "kms:GetKeyPolicy"),
        ("AB008", "s3:GetBucketVersioning"),
    ] {
        assert!(
            gaps.contains(&(rule.to_string(), perm.to_string())),
            "{rule} {perm}: {gaps:?}"
        );
    }
    // rules that do not need the unreadable values still ran and passed
    assert!(
        !gaps.iter().any(|(r, _)| r == "AB005" || r == "TR003"),
        "{gaps:?}"
    );
}

#[test]
fn a_failed_trigger_listing_is_a_gap_not_a_missing_rule() {
    let mut s = load(compliant());
    s.resources.event_rules.clear();
    s.pipelines[0].trigger_rules.clear();
    s.scope_errors.push(pipeaudit::model::ScopeError {
        region: "us-east-1".into(),
        scope: "event-rules".into(),
        error: ReadError {
            kind: ReadErrorKind::AccessDenied,
            action: "events:ListRules".into(),
            code: None,
            message: "denied".into(),
        },
    });
    let e = run(s, &Config::default());
    assert!(
        !e.findings.iter().any(|f| f.rule_id.starts_with("TR")),
        "{:?}",
        e.findings
    );
    assert!(
        e.diagnostics
            .iter()
            .any(|d| d.rule_id.as_deref() == Some("TR001")
                && d.permission.as_deref() == Some("events:ListRules"))
    );
}

fn gaps_of(e: &Evaluation) -> BTreeSet<(String, String)> {
    e.diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::CollectionGap)
        .map(|d| {
            (
                d.rule_id.clone().unwrap_or_default(),
                d.permission.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// A key named by an alias whose region's aliases could not be listed is
/// unknown, not "another key": neither the bucket's nor the project's key
/// is then a mismatch (AB003, CB004).
#[test]
fn an_alias_that_could_not_be_resolved_is_not_another_key() {
    let alias = "alias/demo-000-artifacts";
    let alias_arn = format!("arn:aws:kms:us-east-1:{ACCT}:{alias}");
    let listing_failed = serde_json::json!([{"region": "us-east-1", "scope": "kms-aliases",
        "error": {"kind": "access_denied", "action": "kms:ListAliases", "message": "denied"}}]);
    let bucket = "arn:aws:s3:::demo-000-artifacts";

    // The bucket's default key and the project's key are named by the alias;
    // the store names the key by ARN.
    let mut v = compliant();
    v["scope_errors"] = listing_failed.clone();
    let rule = ptr(
        value_of(&mut v, "buckets", bucket),
        &["encryption", "value", "rules", "0"],
    );
    rule["kms_master_key_id"] = alias.into();
    rule["kms_key_arn"] = Value::Null;
    let project = value_of(&mut v, "build_projects", &arn("project"));
    project["encryption_key"] = alias.into();
    project["encryption_key_arn"] = Value::Null;
    let e = run(load(v), &Config::default());
    let fired: BTreeSet<&str> = e.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(
        !fired.contains("AB003") && !fired.contains("CB004"),
        "{fired:?}"
    );
    let gaps = gaps_of(&e);
    for rule in ["AB003", "CB004"] {
        assert!(
            gaps.contains(&(rule.to_string(), "kms:ListAliases".to_string())),
            "{rule}: {gaps:?}"
        );
    }
    // what does not need the key ARN is still checked
    assert!(!gaps.iter().any(|(r, _)| r == "AB002"), "{gaps:?}");

    // The store names the key by the alias (recorded under the alias ARN,
    // the key unknown); the bucket names it by ARN.
    let mut v = compliant();
    v["scope_errors"] = listing_failed;
    let store = ptr(&mut v, &["pipelines", "0", "artifact_stores", "0"]);
    store["key_ref"] = alias.into();
    store["key_arn"] = alias_arn.clone().into();
    v["resources"]["keys"][&alias_arn] = support::denied("kms:ListAliases");
    let e = run(load(v), &Config::default());
    let fired: BTreeSet<&str> = e.findings.iter().map(|f| f.rule_id.as_str()).collect();
    for rule in ["AB003", "CB004", "KM001"] {
        assert!(!fired.contains(rule), "{rule}: {fired:?}");
        assert!(
            gaps_of(&e).contains(&(rule.to_string(), "kms:ListAliases".to_string())),
            "{rule}: {:?}",
            gaps_of(&e)
        );
    }
}

/// A list with an unknown member is unknown whole: a trigger rule whose
/// targets could not be read (it may target this pipeline) is a gap for the
/// trigger rules, never "no rule targets the pipeline".
#[test]
fn a_rule_whose_targets_are_unknown_is_a_gap_not_a_missing_rule() {
    let mut v = compliant();
    let rule_arn = v["pipelines"][0]["trigger_rules"][0]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // as collected: the rule is kept as unknown and linked to no pipeline
    v["resources"]["event_rules"][&rule_arn] = support::denied("events:ListTargetsByRule");
    v["pipelines"][0]["trigger_rules"] = serde_json::json!([]);
    let e = run(load(v), &Config::default());
    assert!(
        !e.findings.iter().any(|f| f.rule_id.starts_with("TR")),
        "{:?}",
        e.findings
    );
    let gaps = gaps_of(&e);
    for rule in [
        "TR001", "TR002", "TR003", "TR004", "IA001", "IA002", "IA003",
    ] {
        assert!(
            gaps.contains(&(rule.to_string(), "events:ListTargetsByRule".to_string())),
            "{rule}: {gaps:?}"
        );
    }
    // the pipeline's other service roles are still checked
    assert!(
        !gaps.iter().any(|(r, _)| r == "PL003" || r == "CB008"),
        "{gaps:?}"
    );
}

#[test]
fn config_overrides_disables_and_ignores() {
    let mut v = compliant();
    value_of(&mut v, "build_projects", &arn("project"))["environment"]["privileged_mode"] =
        true.into();
    let bucket = "arn:aws:s3:::demo-000-artifacts";
    value_of(&mut v, "buckets", bucket)["versioning"]["value"]["status"] = Value::Null;
    // CB004 and CD006 fire without the configuration
    let project = value_of(&mut v, "build_projects", &arn("project"));
    project["encryption_key"] = "alias/aws/s3".into();
    project["encryption_key_arn"] = format!("arn:aws:kms:us-east-1:{ACCT}:alias/aws/s3").into();
    value_of(&mut v, "deploy_groups", &arn("group"))["alarms_enabled"] = false.into();
    let plain: BTreeSet<String> = run(load(v.clone()), &Config::default())
        .findings
        .into_iter()
        .map(|f| f.rule_id)
        .collect();
    assert_eq!(plain, set(&["AB008", "CB003", "CB004", "CD006"]));
    let cfg = Config::parse(
        r#"
disabled = ["CD006"]
[severity]
CB003 = "low"
[[ignore]]
rule = "AB008"
resource = "arn:aws:s3:::demo-*"
reason = "versioning costs too much for demo buckets"
[[ignore]]
rule = "KM003"
resource = "arn:aws:kms:*"
reason = "nothing to ignore"
[[ignore]]
rule = "CB004"
resource = "arn:aws:codebuild:*"
reason = "expired"
expires = "2000-01-01"
"#,
        "t.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let e = run(load(v), &cfg);
    let ids: BTreeSet<&str> = e.findings.iter().map(|f| f.rule_id.as_str()).collect();
    assert!(!ids.contains("CD006"), "disabled");
    assert!(!ids.contains("AB008"), "ignored");
    assert!(
        ids.contains("CB004"),
        "an expired ignore no longer suppresses"
    );
    let cb003 = e
        .findings
        .iter()
        .find(|f| f.rule_id == "CB003")
        .map(|f| f.severity);
    assert_eq!(cb003, Some(Severity::Low));
    let kinds: BTreeSet<&str> = e.diagnostics.iter().map(|d| d.kind.as_str()).collect();
    assert!(
        kinds.contains("ignore-unused") && kinds.contains("ignore-expired"),
        "{kinds:?}"
    );
}

#[test]
fn fingerprints_are_stable_and_findings_sorted() {
    let a = run(demo(), &Config::default());
    let b = run(demo(), &Config::default());
    assert_eq!(a.findings, b.findings);
    let fps: BTreeSet<&str> = a.findings.iter().map(|f| f.fingerprint.as_str()).collect();
    assert_eq!(fps.len(), a.findings.len(), "fingerprints are unique");
}

#[test]
fn broken_rule_files_report_every_problem_with_file_and_line() {
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/kms/artifact-key-rotation-off.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let sources = vec![
        ("a.yaml".to_string(), good.clone()),
        (
            "dup.yaml".to_string(),
            good.replace("slug: artifact-key-rotation-off", "slug: other-state"),
        ),
        (
            "var.yaml".to_string(),
            good.replace("id: KM003", "id: ZZ001")
                .replace("item.key.rotation_enabled == false", "bogus.x == 1"),
        ),
        (
            "expr.yaml".to_string(),
            good.replace("id: KM003", "id: ZZ002")
                .replace("item.key.rotation_enabled == false", "item.key.("),
        ),
        (
            "docs.yaml".to_string(),
            good.replace("id: KM003", "id: ZZ003")
                .replace("  why: |-\n", "  why: ''\n  old: |-\n"),
        ),
        (
            "fn.yaml".to_string(),
            good.replace("id: KM003", "id: ZZ004")
                .replace("item.key.rotation_enabled == false", "nope(item)"),
        ),
        ("yaml.yaml".to_string(), "id: [unclosed\n".to_string()),
        (
            "fix.yaml".to_string(),
            good.replace("id: KM003", "id: ZZ005")
                .replace("action: key-rotation", "action: teleport"),
        ),
    ];
    let err = match RuleSet::from_sources(&sources) {
        Ok(_) => panic!("broken rules loaded"),
        Err(e) => e.to_string(),
    };
    for needle in [
        "dup.yaml:1: duplicate id KM003",
        "var.yaml:7: condition: unknown variable `bogus`",
        "expr.yaml:7: condition: bad expression",
        "docs.yaml",
        "fn.yaml:7: condition: unknown function `nope`",
        "yaml.yaml:",
        "fix.yaml",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

/// The rule files of the catalog, read from `rules/<area>/` (the
/// framework files left out), as (path, text).
fn catalog_sources() -> Vec<(String, String)> {
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/rules"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        if entry.file_name() == "frameworks" {
            continue;
        }
        for file in std::fs::read_dir(entry.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .flatten()
        {
            let text = std::fs::read_to_string(file.path()).unwrap_or_else(|e| panic!("{e}"));
            sources.push((file.path().display().to_string(), text));
        }
    }
    sources.sort();
    sources
}

/// The built-in catalog plus pack rules made from PL005 with another id,
/// slug and condition.
fn with_pack(pack: &[(&str, &str)]) -> RuleSet {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/pipeline/deploy-without-approval.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut sources: Vec<(String, String)> = Vec::new();
    sources.extend(catalog_sources());
    for (i, (id, condition)) in pack.iter().enumerate() {
        let text = template
            .replace("id: PL005", &format!("id: {id}"))
            .replace(
                "slug: deploy-without-approval",
                &format!("slug: pack-state-{i}"),
            )
            .replace(
                "condition: 'config.require_approval && !pipeline.shape.approval_before_deploy'",
                &format!("condition: '{condition}'"),
            );
        assert!(text.contains(condition), "template changed: {text}");
        sources.push((format!("pack/{id}.yaml"), text));
    }
    RuleSet::from_sources(&sources).unwrap_or_else(|e| panic!("{e}"))
}

fn findings_without(e: &Evaluation, prefix: &str) -> Vec<String> {
    e.findings
        .iter()
        .filter(|f| !f.rule_id.starts_with(prefix))
        .map(|f| f.fingerprint.clone())
        .collect()
}

#[test]
fn pack_rules_reading_the_declaration_see_all_of_it() {
    // Only what the loaded rules read is bound: the built-in rules read
    // none of the declaration's stages, these pack rules do (by field, and
    // `pipeline` whole through size()).
    let snapshot = Arc::new(demo());
    let config = Config::default();
    let builtin = evaluate(snapshot.clone(), &rules(), &config);
    let pack = with_pack(&[
        (
            "ZZ101",
            "size(pipeline.stages) >= 3 && pipeline.stages[0].name != \"\"",
        ),
        // `pipeline` here is the macro's variable, not the pipeline.
        (
            "ZZ103",
            "sources.exists(pipeline, pipeline.stage == \"never\")",
        ),
    ]);
    let e = evaluate(snapshot.clone(), &pack, &config);
    assert!(
        support::gaps(&e.diagnostics).is_empty(),
        "{:#?}",
        e.diagnostics
    );
    let expected: BTreeSet<String> = snapshot
        .resources
        .pipelines
        .values()
        .filter_map(|p| match p {
            Observed::Ok { value } if value.stages.len() >= 3 => Some(value.name.clone()),
            _ => None,
        })
        .collect();
    assert!(!expected.is_empty());
    let fired = |id: &str| -> BTreeSet<String> {
        e.findings
            .iter()
            .filter(|f| f.rule_id == id)
            .map(|f| f.pipeline.clone())
            .collect()
    };
    assert_eq!(fired("ZZ101"), expected);
    assert!(fired("ZZ103").is_empty());
    // The built-in findings do not depend on what else is loaded.
    assert_eq!(findings_without(&e, "ZZ"), findings_without(&builtin, "ZZ"));

    // Alone, a rule that uses `pipeline` whole gets every field of it.
    let whole = evaluate(
        snapshot.clone(),
        &with_pack(&[("ZZ102", "size(pipeline) > 9")]),
        &config,
    );
    assert!(
        support::gaps(&whole.diagnostics).is_empty(),
        "{:#?}",
        whole.diagnostics
    );
    let fired: Vec<_> = whole
        .findings
        .iter()
        .filter(|f| f.rule_id == "ZZ102")
        .collect();
    assert_eq!(fired.len(), snapshot.pipelines.len());
}

#[test]
fn an_expression_the_interpreter_cannot_run_is_a_rule_error_not_a_crash() {
    // cel 0.12 panics on a macro over a string; the engine reports the rule.
    let snapshot = Arc::new(demo());
    let config = Config::default();
    let builtin = evaluate(snapshot.clone(), &rules(), &config);
    let pack = with_pack(&[("ZZ201", "pipeline.role_arn.exists(x, x == \"a\")")]);
    let e = evaluate(snapshot.clone(), &pack, &config);
    let errors: Vec<_> = e
        .diagnostics
        .iter()
        .filter(|d| d.rule_id.as_deref() == Some("ZZ201"))
        .collect();
    assert_eq!(errors.len(), snapshot.pipelines.len(), "{errors:#?}");
    for d in errors {
        assert_eq!(d.kind, DiagnosticKind::RuleError);
        assert!(d.message.contains("not supported"), "{}", d.message);
    }
    assert!(e.findings.iter().all(|f| f.rule_id != "ZZ201"));
    assert_eq!(findings_without(&e, "ZZ"), findings_without(&builtin, "ZZ"));
}

/// A rule names only its fix action; the safety shown is the action's. A
/// `safety:` left in a rule file (as older rule packs have) is accepted when
/// it agrees and refused, with file and line, when it does not.
#[test]
fn fix_safety_comes_from_the_action() {
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/kms/artifact-key-rotation-off.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let with = |id: &str, safety: &str| {
        good.replace("id: KM003", id).replace(
            "  action: key-rotation\n",
            &format!("  action: key-rotation\n  safety: {safety}\n"),
        )
    };
    let agreeing =
        RuleSet::from_sources(&[("pack/ok.yaml".to_string(), with("id: ZZ001", "safe"))])
            .unwrap_or_else(|e| panic!("{e}"));
    let fix = agreeing.rules[0].file.fix.clone();
    assert_eq!(
        fix.map(|f| (f.action, f.safety)),
        Some((
            "key-rotation".to_string(),
            pipeaudit::findings::FixSafety::Safe
        ))
    );
    let text = with("id: ZZ002", "unsafe");
    let line = text
        .lines()
        .position(|l| l.starts_with("fix:"))
        .map(|i| i + 2)
        .unwrap_or_default();
    let err = match RuleSet::from_sources(&[("pack/bad.yaml".to_string(), text)]) {
        Ok(_) => panic!("a fix labelled unsafe for a safe action loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!("pack/bad.yaml:{line}:"))
            && err.contains("fix safety unsafe disagrees with action key-rotation, which is safe"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "one line per problem: {err}");
    let unknown = good.replace("action: key-rotation", "action: teleport");
    let err = match RuleSet::from_sources(&[("pack/x.yaml".to_string(), unknown)]) {
        Ok(_) => panic!("an unknown action loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("fix action \"teleport\" does not exist"),
        "{err}"
    );
}

#[test]
fn a_message_that_cannot_be_rendered_is_a_rule_error_not_a_finding() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/pipeline/deploy-without-approval.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = template
        .replace("id: PL005", "id: ZZ301")
        .replace("slug: deploy-without-approval", "slug: bad-message")
        .replace(
            "condition: 'config.require_approval && !pipeline.shape.approval_before_deploy'",
            "condition: 'true'",
        )
        .replace("{{pipeline.name}}", "{{pipeline.no_such_field}}");
    assert!(
        text.contains("condition: 'true'") && text.contains("no_such_field"),
        "template changed: {text}"
    );
    let rules = RuleSet::from_sources(&[("pack/ZZ301.yaml".to_string(), text)])
        .unwrap_or_else(|e| panic!("{e}"));
    let snapshot = Arc::new(demo());
    let e = evaluate(snapshot.clone(), &rules, &Config::default());
    assert!(e.findings.is_empty(), "{:#?}", e.findings);
    assert_eq!(
        e.diagnostics.len(),
        snapshot.pipelines.len(),
        "{:#?}",
        e.diagnostics
    );
    for d in &e.diagnostics {
        assert_eq!(d.kind, DiagnosticKind::RuleError);
        assert_eq!(d.rule_id.as_deref(), Some("ZZ301"));
        assert!(d.pipeline.is_some());
        assert!(
            d.message
                .starts_with("ZZ301 could not be evaluated: message: "),
            "{}",
            d.message
        );
        assert!(d.message.contains("no_such_field"), "{}", d.message);
    }
}

/// Every rule maps to at least one framework control, and every control
/// of every framework is mapped by a rule or marked manual with its reason.
#[test]
fn every_rule_and_every_framework_control_is_mapped() {
    let rules = rules();
    let frameworks = Frameworks::builtin().unwrap_or_else(|e| panic!("{e}"));
    let problems = frameworks.coverage_problems(&rules);
    assert!(problems.is_empty(), "{problems:#?}");
    for f in &frameworks.list {
        assert!(
            f.url.starts_with("https://") && f.texts.len() > 40,
            "{}: source URL and where its texts come from",
            f.id
        );
    }
    // the six frameworks the catalog is mapped to
    assert_eq!(
        frameworks.ids().into_iter().collect::<BTreeSet<_>>(),
        [
            "aws-fsbp",
            "cis-aws-foundations-v3.0",
            "nist-800-53-r5",
            "owasp-cicd-top10",
            "pci-dss-v4.0",
            "soc2"
        ]
        .into_iter()
        .collect()
    );
}

/// The gaps are found: a rule whose mapping is dropped leaves a control no
/// rule maps (not marked manual), and the rule itself unmapped.
#[test]
fn a_control_no_rule_maps_and_a_rule_without_mapping_are_reported() {
    let frameworks = Frameworks::builtin().unwrap_or_else(|e| panic!("{e}"));
    let sources: Vec<(String, String)> = catalog_sources()
        .into_iter()
        .map(|(p, t)| {
            if p.ends_with("artifact-key-rotation-off.yaml") {
                let start = t
                    .find("compliance:")
                    .unwrap_or_else(|| panic!("KM003 unmapped"));
                let end = t.find("fix:").unwrap_or(t.len());
                (p, format!("{}{}", &t[..start], &t[end..]))
            } else {
                (p, t)
            }
        })
        .collect();
    let rules = RuleSet::from_sources(&sources).unwrap_or_else(|e| panic!("{e}"));
    let problems = frameworks.coverage_problems(&rules);
    for needle in [
        "KM003 artifact-key-rotation-off maps to no framework control",
        "cis-aws-foundations-v3.0 3.6: no rule maps it and it is not marked manual",
        "pci-dss-v4.0 3.7.4: no rule maps it and it is not marked manual",
    ] {
        assert!(
            problems.iter().any(|p| p == needle),
            "missing {needle:?} in {problems:#?}"
        );
    }
    // SC-12 is also mapped by KM002 and PL002
    assert!(
        !problems.iter().any(|p| p.contains("SC-12")),
        "{problems:#?}"
    );
}

/// A rule citing a framework or a control that does not exist (or one
/// marked manual) does not load, with file and line.
#[test]
fn a_rule_citing_an_unknown_framework_or_control_is_refused() {
    let good = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/kms/artifact-key-rotation-off.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        good.contains("  nist-800-53-r5: [SC-12]\n"),
        "template changed"
    );
    let line = good
        .lines()
        .position(|l| l.starts_with("compliance:"))
        .map(|i| i + 1)
        .unwrap_or_default();
    for (replacement, message) in [
        (
            "  nist-800-53-r5: [SC-12]\n  iso-27001: [A.8.24]\n",
            "compliance: unknown framework \"iso-27001\"",
        ),
        (
            "  nist-800-53-r5: [SC-12, SC-99]\n",
            "compliance: nist-800-53-r5 has no control \"SC-99\"",
        ),
        (
            "  nist-800-53-r5: [SC-12, CM-5]\n",
            "compliance: nist-800-53-r5 CM-5 is marked manual",
        ),
        (
            "  nist-800-53-r5: [SC-12, SC-12]\n",
            "compliance: nist-800-53-r5 SC-12 is listed twice",
        ),
    ] {
        let text = good
            .replace("id: KM003", "id: ZZ001")
            .replace("  nist-800-53-r5: [SC-12]\n", replacement);
        let err = match RuleSet::from_sources(&[("pack/ZZ001.yaml".to_string(), text)]) {
            Ok(_) => panic!("loaded with {replacement:?}"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(&format!("pack/ZZ001.yaml:{line}: {message}")),
            "{err}"
        );
    }
    // a setting that switches no rule on
    let text = good.replace("id: KM003", "id: ZZ002").replace(
        "resource: 'item.key_arn'",
        "requires_config: nope\nresource: 'item.key_arn'",
    );
    let err = match RuleSet::from_sources(&[("pack/ZZ002.yaml".to_string(), text)]) {
        Ok(_) => panic!("loaded with requires_config: nope"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("requires_config: \"nope\" is not a setting"),
        "{err}"
    );
}

/// SARIF tags: `security` first, then every mapping as framework/control,
/// most specific framework first, within what code scanning shows.
#[test]
fn sarif_tags_carry_the_mappings_most_specific_first() {
    let rules = rules();
    let frameworks = Frameworks::builtin().unwrap_or_else(|e| panic!("{e}"));
    let rank = |tag: &str| {
        let fw = tag.split('/').next().unwrap_or("");
        frameworks.list.iter().position(|f| f.id == fw)
    };
    for r in &rules.rules {
        let tags = pipeaudit::report::sarif::tags(&r.file);
        assert_eq!(tags.first().map(String::as_str), Some("security"));
        assert!(
            tags.len() <= pipeaudit::report::sarif::MAX_TAGS,
            "{}",
            r.file.id
        );
        let mapped: Vec<&String> = tags.iter().filter(|t| t.contains('/')).collect();
        let count: usize = r.file.compliance.values().map(Vec::len).sum();
        assert_eq!(mapped.len(), count, "{} keeps every mapping", r.file.id);
        let ranks: Vec<Option<usize>> = mapped.iter().map(|t| rank(t)).collect();
        let mut sorted = ranks.clone();
        sorted.sort();
        assert_eq!(ranks, sorted, "{} tag order", r.file.id);
    }
    let km003 = rules
        .get("KM003")
        .map(|r| pipeaudit::report::sarif::tags(&r.file));
    assert_eq!(
        km003.unwrap_or_default(),
        [
            "security",
            "cis-aws-foundations-v3.0/3.6",
            "pci-dss-v4.0/3.7.4",
            "nist-800-53-r5/SC-12",
            "kms",
            "ci-cd"
        ]
    );
}

/// `rules explain` shows each section's paragraph with every line at the
/// same indentation under its heading, not only the first.
#[test]
fn explain_indents_every_line_of_a_section() {
    let set = rules();
    let mut multi_line = 0;
    for rule in &set.rules {
        let text = pipeaudit::docs::explain(rule, pipeaudit::docs::ExplainFormat::Table);
        let mut in_section = false;
        let mut lines_in_section = 0;
        for line in text.lines() {
            if ["What", "Why", "Remediation", "Condition"].contains(&line) {
                in_section = true;
                lines_in_section = 0;
                continue;
            }
            if line.is_empty() {
                in_section = false;
                continue;
            }
            if in_section {
                lines_in_section += 1;
                if lines_in_section > 1 {
                    multi_line += 1;
                }
                assert!(
                    line.starts_with("  "),
                    "{}: line not indented under its heading: {line:?}",
                    rule.file.id
                );
            }
        }
    }
    assert!(multi_line > 100, "few multi-line sections: {multi_line}");
}

/// The 1-based line of the first line of `text` starting with `key:`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(&format!("{key}:")))
        .map_or(0, |i| i + 1)
}

/// `cel` 0.12 evaluates `!!x` as `!x` and `--1` as `-1` without an error:
/// a rule written so is refused at load, with file and line, and the
/// parenthesized form loads.
#[test]
fn doubled_unary_operators_are_refused_at_load() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/pipeline/deploy-without-approval.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let rule =
        |condition: &str| {
            template
            .replace("id: PL005", "id: ZZ901")
            .replace("slug: deploy-without-approval", "slug: pack-double-negation")
            .replace(
                "condition: 'config.require_approval && !pipeline.shape.approval_before_deploy'",
                &format!("condition: '{condition}'"),
            )
        };
    for (condition, op) in [
        ("!!true", "!!"),
        ("!!false", "!!"),
        ("--1 == 1", "--"),
        ("pipeline.name != \"x\" && ! !config.require_approval", "!!"),
    ] {
        let text = rule(condition);
        assert!(text.contains(condition), "template changed: {condition}");
        let mut sources = catalog_sources();
        sources.push(("pack/double.yaml".to_string(), text.clone()));
        let err = match RuleSet::from_sources(&sources) {
            Ok(_) => panic!("{condition} loaded"),
            Err(e) => e.to_string(),
        };
        let want = format!(
            "pack/double.yaml:{}: condition: `{op}` at column",
            line_of(&text, "condition")
        );
        assert!(err.contains(&want), "{condition}: want {want:?} in:\n{err}");
        assert_eq!(err.lines().count(), 2, "one problem: {err}");
    }
    for condition in [
        "!(!true)",
        "-(-1) == 1",
        "config.require_approval != !false",
    ] {
        let mut sources = catalog_sources();
        sources.push(("pack/ok.yaml".to_string(), rule(condition)));
        if let Err(e) = RuleSet::from_sources(&sources) {
            panic!("{condition}: {e}");
        }
    }
}

/// A custom rule may not take a built-in rule's slug: `[rules.<slug>]` and
/// the reports would name two rules alike.
#[test]
fn a_custom_rule_reusing_a_built_in_slug_is_refused() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/rules/pipeline/deploy-without-approval.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let text = template.replace("id: PL005", "id: ZZ902");
    let mut sources = catalog_sources();
    sources.push(("pack/dup-slug.yaml".to_string(), text.clone()));
    let err = match RuleSet::from_sources(&sources) {
        Ok(_) => panic!("a reused slug loaded"),
        Err(e) => e.to_string(),
    };
    let want = format!(
        "pack/dup-slug.yaml:{}: duplicate slug deploy-without-approval (also in ",
        line_of(&text, "slug")
    );
    assert!(err.contains(&want), "want {want:?} in:\n{err}");
    // through the command line too: one problem, exit 2
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("dup-slug.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args([
            "--snapshot",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json"),
        ])
        .arg("--rules")
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("duplicate slug deploy-without-approval"),
        "{stderr}"
    );
}
