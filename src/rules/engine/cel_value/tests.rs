use std::collections::BTreeMap;

use super::*;
use crate::model::{Observed, ReadErrorKind};

#[derive(Serialize)]
struct Inner {
    on: Observed<bool>,
    tags: BTreeMap<String, Observed<String>>,
}

#[derive(Serialize)]
struct Outer {
    name: String,
    size: u64,
    ratio: f64,
    missing: Option<String>,
    read: Observed<Inner>,
    gone: Observed<Inner>,
    hidden: Observed<Inner>,
    items: Vec<Observed<i32>>,
}

fn denied(action: &str) -> ReadError {
    ReadError {
        kind: ReadErrorKind::AccessDenied,
        action: action.to_string(),
        code: Some("AccessDenied".to_string()),
        message: "no".to_string(),
    }
}

fn get(v: &Value, field: &str) -> Option<Value> {
    match v {
        Value::Map(m) => m
            .map
            .get(&Key::String(Arc::new(field.to_string())))
            .cloned(),
        _ => None,
    }
}

#[test]
fn observed_values_unwrap_and_unknowns_become_gaps_with_their_path() {
    // A list or map with an unknown member is left out whole: a rule
    // must not count or search the members that happened to be read.
    let mut tags = BTreeMap::new();
    tags.insert("team".to_string(), Observed::ok("ci".to_string()));
    tags.insert(
        "owner".to_string(),
        Observed::Unknown {
            error: denied("tag:Get"),
        },
    );
    let v = Outer {
        name: "p".to_string(),
        size: u64::MAX,
        ratio: f64::NAN,
        missing: None,
        read: Observed::ok(Inner {
            on: Observed::ok(true),
            tags,
        }),
        gone: Observed::Absent,
        hidden: Observed::Unknown {
            error: denied("x:Read"),
        },
        items: vec![
            Observed::ok(1),
            Observed::Absent,
            Observed::Unknown {
                error: denied("y:List"),
            },
        ],
    };
    let mut gaps = Vec::new();
    let bound = to_cel(&v, "arn:root", &mut gaps).unwrap_or(Value::Null);
    assert_eq!(get(&bound, "name"), Some(string("p")));
    assert_eq!(get(&bound, "size"), Some(Value::Float(u64::MAX as f64)));
    assert_eq!(get(&bound, "ratio"), Some(Value::Null));
    assert_eq!(get(&bound, "missing"), Some(Value::Null));
    assert_eq!(get(&bound, "gone"), Some(Value::Null));
    assert_eq!(get(&bound, "hidden"), None, "unknown fields are left out");
    let read = get(&bound, "read").unwrap_or(Value::Null);
    assert_eq!(get(&read, "on"), Some(Value::Bool(true)));
    assert_eq!(get(&read, "tags"), None, "a map with an unknown value");
    assert_eq!(get(&bound, "items"), None, "a list with an unknown item");
    let found: Vec<(String, String)> = gaps
        .iter()
        .map(|(path, e)| (path.clone(), e.action.clone()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                "arn:root.read.tags.owner".to_string(),
                "tag:Get".to_string()
            ),
            ("arn:root.hidden".to_string(), "x:Read".to_string()),
            ("arn:root.items".to_string(), "y:List".to_string()),
        ]
    );
}

#[test]
fn an_unknown_value_at_the_top_binds_nothing() {
    let mut gaps = Vec::new();
    let v: Observed<Inner> = Observed::Unknown {
        error: denied("z:Get"),
    };
    assert!(to_cel(&v, "arn:z", &mut gaps).is_none());
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].0, "arn:z");
}

#[test]
fn field_keys_are_shared_and_compare_by_content() {
    let a = field_key("status");
    let b = field_key("status");
    match (&a, &b) {
        (Key::String(x), Key::String(y)) => assert!(Arc::ptr_eq(x, y)),
        _ => panic!("not string keys"),
    }
    // A prefix of another literal is its own key, whatever the addresses.
    let long: &'static str = "status_code";
    assert_eq!(field_key(&long[..6]), a);
    assert_ne!(field_key(long), a);
}

#[test]
fn policies_are_summarized_only_when_asked() {
    use crate::model::PolicyText;
    #[derive(Serialize)]
    struct Holder {
        policy: PolicyText,
        bad: PolicyText,
    }
    let h = Holder {
        policy: PolicyText::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#,
        ),
        bad: PolicyText::parse("not json"),
    };
    let field = |v: &Option<Value>, name: &str| match v {
        Some(Value::Map(m)) => m.map.get(&Key::String(Arc::new(name.to_string()))).cloned(),
        _ => None,
    };
    let whole = to_cel(&h, "r", &mut Vec::new());
    let Some(Value::Map(p)) = field(&whole, "policy") else {
        panic!("no policy in {whole:?}");
    };
    assert!(
        p.map
            .contains_key(&Key::String(Arc::new("raw".to_string())))
    );
    let summary = to_cel_with(&h, "r", &mut Vec::new(), Policies::Summaries);
    let parsed = |name: &str| {
        let p = field(&summary, name).map(Some);
        (
            p.as_ref().and_then(|p| field(p, "parsed")),
            p.as_ref().and_then(|p| field(p, "statements")),
            p.as_ref().and_then(|p| field(p, "raw")),
        )
    };
    assert_eq!(
        parsed("policy"),
        (Some(Value::Bool(true)), Some(Value::Int(1)), None)
    );
    assert_eq!(
        parsed("bad"),
        (Some(Value::Bool(false)), Some(Value::Int(0)), None)
    );
    // JSON (the snapshot) keeps the whole text
    let snap = serde_json::to_value(&h.policy).unwrap_or_default();
    assert!(snap["raw"].is_string() && snap["document"].is_object());
}

/// Binding only some fields gives those fields as the whole binding has
/// them (the structs inside whole), and leaves the others out.
#[test]
fn a_binding_of_some_fields_is_the_whole_binding_restricted_to_them() {
    let v = Outer {
        name: "p".to_string(),
        size: 7,
        ratio: 0.5,
        missing: None,
        read: Observed::ok(Inner {
            on: Observed::ok(true),
            tags: BTreeMap::new(),
        }),
        gone: Observed::Absent,
        hidden: Observed::Unknown {
            error: denied("x:Read"),
        },
        items: vec![Observed::ok(1)],
    };
    let (mut all_gaps, mut some_gaps) = (Vec::new(), Vec::new());
    let whole = to_cel(&v, "arn:root", &mut all_gaps).unwrap_or(Value::Null);
    let keep = |f: &str| matches!(f, "name" | "read" | "items");
    let some = to_cel_fields(&v, "arn:root", &mut some_gaps, &keep).unwrap_or(Value::Null);
    let Value::Map(m) = &some else {
        panic!("not a map: {some:?}");
    };
    let mut fields: Vec<String> = m.map.keys().map(|k| format!("{k:?}")).collect();
    fields.sort();
    assert_eq!(fields.len(), 3, "{fields:?}");
    for f in ["name", "read", "items"] {
        assert!(get(&some, f).is_some(), "{f}");
        assert_eq!(get(&some, f), get(&whole, f), "{f}");
    }
    for f in ["size", "ratio", "missing", "gone", "hidden"] {
        assert_eq!(get(&some, f), None, "{f}");
    }
    // the gap of a field left out is not walked
    assert_eq!(all_gaps.len(), 1);
    assert!(some_gaps.is_empty());
}
