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
