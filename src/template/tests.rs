use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::intrinsics::{Eval, Exports, Fail, RawResource, Scope};

fn scope_of<'a>(doc: &Value, exports: &'a Exports) -> Scope<'a> {
    let mut resources = BTreeMap::new();
    for (id, r) in doc["Resources"].as_object().into_iter().flatten() {
        resources.insert(
            id.clone(),
            RawResource {
                resource_type: r["Type"].as_str().unwrap_or_default().to_string(),
                properties: r["Properties"].as_object().cloned().unwrap_or_default(),
                condition: r["Condition"].as_str().map(str::to_string),
            },
        );
    }
    let mut params: BTreeMap<String, Eval<Value>> = BTreeMap::new();
    params.insert("Env".into(), Ok(json!("prod")));
    params.insert("Missing".into(), Err(Fail::Unresolved("no value".into())));
    Scope::new(
        "123456789012",
        "eu-west-1",
        "aws",
        "app",
        params,
        doc,
        resources,
        exports,
    )
}

fn doc() -> Value {
    json!({
        "Mappings": {"Envs": {"prod": {"Branch": "main"}}},
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
            "NotProd": {"Fn::Not": [{"Condition": "IsProd"}]},
            "Loop": {"Condition": "Loop"}
        },
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Named": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${AWS::StackName}-${Env}"}}},
            "Key": {"Type": "AWS::KMS::Key"},
            "A": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Ref": "B"}}},
            "B": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": {"Ref": "A"}}}
        }
    })
}

fn eval(v: Value) -> Eval<Option<Value>> {
    let exports: Exports = [("shared-key".to_string(), Ok(json!("arn:k")))]
        .into_iter()
        .collect();
    let d = doc();
    let s = scope_of(&d, &exports);
    s.eval(&v, 0)
}

#[test]
fn intrinsics_evaluate() {
    let ok = |v: Value| eval(v).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(ok(json!({"Ref": "AWS::Region"})), Some(json!("eu-west-1")));
    assert_eq!(ok(json!({"Ref": "AWS::NoValue"})), None);
    assert_eq!(
        ok(json!({"Fn::Sub": "arn:${AWS::Partition}:s3:::${Named}/*"})),
        Some(json!("arn:aws:s3:::app-prod/*"))
    );
    assert_eq!(
        ok(json!({"Fn::Sub": ["${X}-${!Literal}", {"X": {"Ref": "Env"}}]})),
        Some(json!("prod-${Literal}"))
    );
    assert_eq!(
        ok(json!({"Fn::Join": ["/", ["a", {"Ref": "Env"}]]})),
        Some(json!("a/prod"))
    );
    assert_eq!(
        ok(json!({"Fn::Select": ["1", {"Fn::Split": [",", "x,y,z"]}]})),
        Some(json!("y"))
    );
    assert_eq!(
        ok(json!({"Fn::If": ["NotProd", "a", "b"]})),
        Some(json!("b"))
    );
    assert_eq!(
        ok(json!({"Fn::FindInMap": ["Envs", {"Ref": "Env"}, "Branch"]})),
        Some(json!("main"))
    );
    assert_eq!(
        ok(json!({"Fn::Select": [0, {"Fn::GetAZs": ""}]})),
        Some(json!("eu-west-1a"))
    );
    assert_eq!(ok(json!({"Fn::Base64": "hi"})), Some(json!("aGk=")));
    assert_eq!(
        ok(json!({"Fn::ImportValue": "shared-key"})),
        Some(json!("arn:k"))
    );
    // the key's id and ARN agree, and are the same on every run
    let id = ok(json!({"Ref": "Key"}));
    let arn = ok(json!({"Fn::GetAtt": ["Key", "Arn"]}));
    let (Some(Value::String(id)), Some(Value::String(arn))) = (id, arn) else {
        panic!("no key id")
    };
    assert!(arn.ends_with(&format!(":key/{id}")), "{arn}");
    assert_eq!(ok(json!({"Ref": "Key"})), Some(json!(id)));
    let bucket = ok(json!({"Ref": "Bucket"}));
    assert!(
        matches!(&bucket, Some(Value::String(b)) if b.starts_with("app-bucket-") && *b == b.to_lowercase()),
        "{bucket:?}"
    );
}

#[test]
fn unknown_values_are_unresolved_and_bad_templates_invalid() {
    let unresolved = |v: Value| matches!(eval(v), Err(Fail::Unresolved(_)));
    let invalid = |v: Value| match eval(v) {
        Err(Fail::Invalid(e)) => e,
        other => panic!("{other:?}"),
    };
    assert!(unresolved(json!({"Ref": "Missing"})));
    assert!(unresolved(
        json!({"Fn::ImportValue": "nobody-exports-this"})
    ));
    assert!(unresolved(json!({"Fn::GetAtt": ["Bucket", "WebsiteURL"]})));
    assert!(unresolved(json!({"Fn::ToJsonString": {"a": 1}})));
    assert!(invalid(json!({"Ref": "A"})).contains("circular reference: A -> B -> A"));
    assert!(invalid(json!({"Ref": "Nope"})).contains("Nope is not a parameter"));
    assert!(invalid(json!({"Fn::If": ["Loop", 1, 2]})).contains("circular condition"));
    assert!(invalid(json!({"Fn::Select": ["9", ["a"]]})).contains("out of a list"));
    let mut deep = json!("x");
    for _ in 0..100 {
        deep = json!({"Fn::Base64": deep});
    }
    assert!(invalid(deep).contains("nest deeper"));
}
