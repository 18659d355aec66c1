use super::blocks::{parse_tf, property_span, split_address};
use super::*;

#[test]
fn addresses_split_into_modules_and_resource() {
    assert_eq!(
        split_address("module.ci.module.keys.aws_kms_key.k[\"a.b\"]"),
        Some((
            vec!["ci".to_string(), "keys".to_string()],
            "aws_kms_key".to_string(),
            "k".to_string()
        ))
    );
    assert_eq!(
        split_address("aws_iam_role.r[0]"),
        Some((vec![], "aws_iam_role".to_string(), "r".to_string()))
    );
    assert_eq!(split_address("data.aws_iam_policy.p"), None);
}

#[test]
fn blocks_and_properties_have_their_lines() {
    let text = "# keys\nresource \"aws_kms_key\" \"k\" {\n  description = \"a } brace\"\n  policy = jsonencode({\n    Statement = []\n  })\n  enable_key_rotation = false # off\n}\n\nmodule \"ci\" {\n  source = \"./modules/ci\"\n}\nresource \"aws_iam_role\" \"r\" {\n  assume_role_policy = <<EOF\n{ \"Statement\": [\nEOF\n}\n";
    let blocks = parse_tf(text);
    let spans: Vec<(String, Vec<String>, usize, usize)> = blocks
        .iter()
        .map(|b| (b.kind.clone(), b.labels.clone(), b.span.start, b.span.end))
        .collect();
    assert_eq!(
        spans,
        vec![
            (
                "resource".into(),
                vec!["aws_kms_key".into(), "k".into()],
                2,
                8
            ),
            ("module".into(), vec!["ci".into()], 10, 12),
            (
                "resource".into(),
                vec!["aws_iam_role".into(), "r".into()],
                13,
                17
            ),
        ]
    );
    assert_eq!(blocks[1].source.as_deref(), Some("./modules/ci"));
    let k = blocks[0].span;
    assert_eq!(
        property_span(text, k, "enable_key_rotation"),
        Some(Span { start: 7, end: 7 })
    );
    assert_eq!(
        property_span(text, k, "policy"),
        Some(Span { start: 4, end: 6 })
    );
    assert_eq!(property_span(text, k, "missing"), None);
}

#[test]
fn both_state_formats_map_arns_to_addresses() {
    let mut s = State::default();
    let raw = r#"{"version": 4, "resources": [
        {"mode": "managed", "type": "aws_kms_key", "name": "k", "module": "module.ci",
         "instances": [{"attributes": {"arn": "arn:aws:kms:us-east-1:1:key/a"}}]},
        {"mode": "data", "type": "aws_iam_policy_document", "name": "d",
         "instances": [{"attributes": {"arn": "arn:x"}}]},
        {"mode": "managed", "type": "aws_iam_role", "name": "r",
         "instances": [{"index_key": 0, "attributes": {"arn": "arn:aws:iam::1:role/r0"}}]}]}"#;
    s.parse(raw).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.by_arn
            .get("arn:aws:kms:us-east-1:1:key/a")
            .map(String::as_str),
        Some("module.ci.aws_kms_key.k")
    );
    assert_eq!(
        s.by_arn.get("arn:aws:iam::1:role/r0").map(String::as_str),
        Some("aws_iam_role.r[0]")
    );
    assert!(!s.by_arn.contains_key("arn:x"));
    let show = r#"{"format_version": "1.0", "values": {"root_module": {"resources": [],
        "child_modules": [{"address": "module.ci", "resources": [
          {"address": "module.ci.aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket",
           "name": "b", "values": {"arn": "arn:aws:s3:::art"}}]}]}}}"#;
    s.parse(show).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.by_arn.get("arn:aws:s3:::art").map(String::as_str),
        Some("module.ci.aws_s3_bucket.b")
    );
    assert!(State::default().parse("{\"a\": 1}").is_err());
}
