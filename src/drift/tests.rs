use super::*;
use serde_json::json;

fn policy(raw: &str) -> Value {
    let text = crate::model::PolicyText::parse(raw);
    serde_json::to_value(text).unwrap_or_else(|e| panic!("{e}"))
}

fn changes(a: &Value, b: &Value) -> (Vec<FieldChange>, Vec<String>) {
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    diff(
        "",
        "",
        &normalize(a, ""),
        &normalize(b, ""),
        &mut out,
        &mut gaps,
    );
    (out, gaps)
}

#[test]
fn normalization_ignores_order_volatile_fields_and_policy_forms() {
    let a = json!({"created": "1", "tags": ["b", "a"], "stages": [{"n": 2}, {"n": 1}],
                   "policy": policy(r#"{"Version":"2012-10-17","Statement":[
                       {"Sid":"A","Effect":"Allow","Action":"S3:GetObject","Resource":"*"},
                       {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["b","a"]}]}"#)});
    let b = json!({"created": "2", "tags": ["a", "b"], "stages": [{"n": 2}, {"n": 1}],
                   "policy": policy(r#"{"Statement":[
                       {"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:*"],"Resource":["a","b"]},
                       {"Sid":"B","Effect":"Allow","Action":["s3:getobject"],"Resource":["*"]}]}"#)});
    assert!(same(&normalize(&a, ""), &normalize(&b, "")));
    assert!(changes(&a, &b).0.is_empty());
    let c = json!({"stages": [{"n": 1}, {"n": 2}]});
    let d = json!({"stages": [{"n": 2}, {"n": 1}]});
    assert!(
        !same(&normalize(&c, ""), &normalize(&d, "")),
        "stage order matters"
    );
    let (out, _) = changes(&c, &d);
    let paths: Vec<&str> = out.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, vec!["stages[0].n", "stages[1].n"]);
}

#[test]
fn an_added_statement_is_one_item_as_written() {
    let before = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Keep","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#;
    let after = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":["s3:*"],"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Sid":"AuditorRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    let a = json!({"policy": {"status": "ok", "value": policy(before)}});
    let b = json!({"policy": {"status": "ok", "value": policy(after)}});
    let (out, gaps) = changes(&a, &b);
    assert!(gaps.is_empty());
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].path, "policy.statements");
    let written: Value = serde_json::from_str(after).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        out[0].delta,
        Delta::Items {
            added: vec![written["Statement"][1].clone()],
            removed: vec![]
        }
    );
    let text = serde_json::to_string(&out).unwrap_or_default();
    assert!(
        !text.contains("typed") && !text.contains("\\u0000"),
        "{text}"
    );
    // a policy where there was none: every statement added
    let none = json!({"policy": {"status": "absent"}});
    let (out, _) = changes(&none, &b);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        matches!(&out[0].delta, Delta::Items { added, removed } if added.len() == 2 && removed.is_empty())
    );
}

#[test]
fn set_items_and_values() {
    let a =
        json!({"targets": [{"id": "1", "arn": "x"}], "pattern": {"source": ["a", "b"]}, "n": 1});
    let b =
        json!({"targets": [{"id": "1", "arn": "y"}], "pattern": {"source": ["b", "c"]}, "n": 2});
    let (out, _) = changes(&a, &b);
    let got: Vec<(&str, &Delta)> = out.iter().map(|f| (f.path.as_str(), &f.delta)).collect();
    assert_eq!(
        got,
        vec![
            (
                "n",
                &Delta::Value {
                    before: json!(1),
                    after: json!(2)
                }
            ),
            (
                "pattern.source",
                &Delta::Items {
                    added: vec![json!("c")],
                    removed: vec![json!("a")]
                }
            ),
            (
                "targets",
                &Delta::Items {
                    added: vec![json!({"id": "1", "arn": "y"})],
                    removed: vec![json!({"id": "1", "arn": "x"})]
                }
            ),
        ]
    );
}

#[test]
fn field_paths_and_unknowns() {
    let a = json!({"status": "ok", "value": {"rotation_enabled": {"status": "ok", "value": true}, "x": 1}});
    let b = json!({"status": "ok", "value": {"rotation_enabled": {"status": "ok", "value": false}, "x": 1}});
    let (out, gaps) = changes(&a, &b);
    assert!(gaps.is_empty());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].path, "rotation_enabled");
    assert_eq!(
        out[0].delta,
        Delta::Value {
            before: json!(true),
            after: json!(false)
        }
    );
    let u = json!({"status": "ok", "value": {"rotation_enabled": {"status": "unknown", "error": {}}, "x": 1}});
    let (out, gaps) = changes(&a, &u);
    assert!(out.is_empty());
    assert_eq!(gaps, vec!["rotation_enabled".to_string()]);
}

#[test]
fn a_new_lambda_deployment_is_no_drift_a_new_function_is() {
    let deployed = |id: &str, name: &str, from: &str, to: &str| {
        let group = crate::model::DeployGroup {
            compute_platform: Some("Lambda".to_string()),
            lambda_deployment: Some(Observed::ok(crate::model::LambdaDeployment {
                deployment_id: Some(id.to_string()),
                revision_type: Some("AppSpecContent".to_string()),
                functions: vec![crate::model::LambdaTarget {
                    name: name.to_string(),
                    arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
                    alias: Some("live".to_string()),
                    current_version: Some(from.to_string()),
                    target_version: Some(to.to_string()),
                }],
                undetermined: None,
            })),
            ..crate::model::DeployGroup::default()
        };
        serde_json::to_value(group).unwrap_or_else(|e| panic!("{e}"))
    };
    // every release: a new deployment shifting between new versions
    let (out, _) = changes(
        &deployed("d-1", "checkout", "1", "2"),
        &deployed("d-2", "checkout", "2", "3"),
    );
    assert!(out.is_empty(), "{out:?}");
    // the AppSpec now deploys another function
    let (out, _) = changes(
        &deployed("d-1", "checkout", "1", "2"),
        &deployed("d-2", "orders", "1", "2"),
    );
    assert!(!out.is_empty());
    assert!(
        out.iter()
            .all(|f| f.path.starts_with("lambda_deployment.functions")),
        "{out:?}"
    );
}
