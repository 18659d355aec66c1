use super::*;

fn err(text: &str) -> String {
    match Snapshot::from_json(text, "snap.json") {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn malformed_json_names_file_and_position() {
    let e = err("{\n  \"schema_version\": 1,\n  oops\n}");
    assert_eq!(
        e,
        "snapshot snap.json:3:3 is not valid: key must be a string"
    );
    let e = err("{\"schema_version\": 1, \"account\": 7}");
    assert!(e.starts_with("snapshot snap.json:1:"), "{e}");
    assert!(
        e.contains("expected a string") && !e.contains(" at line "),
        "{e}"
    );
}

#[test]
fn missing_version_is_not_a_snapshot() {
    assert!(err("{}").contains("missing or non-numeric `schema_version`"));
    assert!(err("[1]").contains("schema_version"));
}

#[test]
fn a_key_given_twice_is_an_error() {
    let e = err(r#"{"schema_version": 1, "schema_version": 99}"#);
    assert!(
        e.starts_with("snapshot snap.json:1:") && e.contains("duplicate field `schema_version`"),
        "{e}"
    );
    let e = err(r#"{"schema_version": 99, "schema_version": 1}"#);
    assert!(e.contains("duplicate field `schema_version`"), "{e}");
}

#[test]
fn only_a_regular_file_within_the_cap_is_read() {
    #[cfg(unix)]
    for dev in ["/dev/zero", "/dev/null"] {
        let e = Snapshot::load(Path::new(dev))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            e,
            format!("snapshot {dev} refused: it is not a regular file"),
            "{dev}"
        );
    }
    let dir = std::env::temp_dir().join(format!("pipeaudit-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let e = Snapshot::load(&dir)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.contains("not a regular file") || e.starts_with("cannot read"),
        "{e}"
    );
    // a sparse file one byte over the cap: refused without being read
    let big = dir.join("big.json");
    let f = std::fs::File::create(&big).unwrap_or_else(|e| panic!("{e}"));
    f.set_len(MAX_SNAPSHOT_BYTES + 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let e = Snapshot::load(&big)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("more than the 2147483648 bytes (2 GiB)"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn future_version_asks_for_an_upgrade() {
    let e = err(r#"{"schema_version": 99}"#);
    assert!(e.contains("schema_version 99"), "{e}");
    assert!(e.contains("newer pipeaudit"), "{e}");
}

#[test]
fn wrong_field_type_is_reported_with_its_place() {
    let mut s = Snapshot::new("1".into(), vec!["us-east-1".into()], "t".into());
    s.pipelines.push(PipelineWiring::default());
    let text = s
        .to_json()
        .replace("\"pipelines\": [", "\"pipelines\": 7, \"x\": [");
    let e = err(&text);
    let line = text
        .lines()
        .position(|l| l.contains("\"pipelines\": 7"))
        .map_or(0, |i| i + 1);
    assert!(e.starts_with(&format!("snapshot snap.json:{line}:")), "{e}");
    assert!(
        e.ends_with("invalid type: integer `7`, expected a sequence"),
        "{e}"
    );
}

#[test]
fn round_trip_through_json() {
    let mut s = Snapshot::new("1".into(), vec!["us-east-1".into()], "t".into());
    s.resources
        .buckets
        .insert("arn:aws:s3:::b".into(), Observed::Absent);
    s.resources.keys.insert(
        "k".into(),
        Observed::Unknown {
            error: ReadError {
                kind: ReadErrorKind::AccessDenied,
                action: "kms:DescribeKey".into(),
                code: Some("AccessDeniedException".into()),
                message: "no".into(),
            },
        },
    );
    let back = Snapshot::from_json(&s.to_json(), "x").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, s);
    assert_eq!(back.read_errors().len(), 1);
    assert_eq!(back.read_errors()[0].1.action, "kms:DescribeKey");
}
