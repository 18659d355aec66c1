use super::*;
use serde_json::json;

const KEY: &str = "resource \"aws_kms_key\" \"k\" {\n  description         = \"artifacts\" # why\n  enable_key_rotation = false # off for now\n}\n";

fn span(start: usize, end: usize) -> Span {
    Span { start, end }
}

#[test]
fn a_literal_is_replaced_on_its_line_with_its_comment() {
    let out = set(
        KEY,
        span(1, 4),
        &["enable_key_rotation"],
        &Hcl::Lit(json!(true)),
    );
    assert_eq!(
        out.as_deref(),
        Ok(KEY.replace("= false # off", "= true # off").as_str())
    );
}

#[test]
fn a_missing_attribute_is_inserted_aligned() {
    let text = "resource \"aws_kms_key\" \"k\" {\n  description = \"artifacts\"\n}\n";
    let out = set(
        text,
        span(1, 3),
        &["enable_key_rotation"],
        &Hcl::Lit(json!(true)),
    );
    // longer than the group above: a group of its own
    assert_eq!(
        out.as_deref(),
        Ok(
            "resource \"aws_kms_key\" \"k\" {\n  description = \"artifacts\"\n\n  enable_key_rotation = true\n}\n"
        )
    );
    let text = "resource \"aws_kms_key\" \"k\" {\n  deletion_window_in_days = 7\n}\n";
    let out = set(
        text,
        span(1, 3),
        &["enable_key_rotation"],
        &Hcl::Lit(json!(true)),
    );
    assert_eq!(
        out.as_deref(),
        Ok(
            "resource \"aws_kms_key\" \"k\" {\n  deletion_window_in_days = 7\n  enable_key_rotation     = true\n}\n"
        )
    );
}

#[test]
fn nested_blocks_are_entered_or_written() {
    let text = "resource \"aws_instance\" \"w\" {\n    ami = \"ami-1\"\n    metadata_options {\n        http_endpoint = \"enabled\"\n        http_tokens   = \"optional\"\n    }\n}\n";
    let out = set(
        text,
        span(1, 7),
        &["metadata_options", "http_tokens"],
        &Hcl::Lit(json!("required")),
    );
    assert_eq!(
        out.as_deref(),
        Ok(text.replace("\"optional\"", "\"required\"").as_str())
    );
    let text = "resource \"aws_instance\" \"w\" {\r\n    ami = \"ami-1\"\r\n}\r\n";
    let out = set(
        text,
        span(1, 3),
        &["metadata_options", "http_tokens"],
        &Hcl::Lit(json!("required")),
    );
    assert_eq!(
        out.as_deref(),
        Ok(
            "resource \"aws_instance\" \"w\" {\r\n    ami = \"ami-1\"\r\n    metadata_options {\r\n        http_tokens = \"required\"\r\n    }\r\n}\r\n"
        )
    );
}

#[test]
fn expressions_dynamic_blocks_and_one_line_blocks_are_refused() {
    let text = "resource \"aws_kms_key\" \"k\" {\n  enable_key_rotation = var.rotate\n}\n";
    let e = set(
        text,
        span(1, 3),
        &["enable_key_rotation"],
        &Hcl::Lit(json!(true)),
    );
    assert!(
        e.as_ref()
            .is_err_and(|e| e.contains("var.rotate") && e.contains("set it to true")),
        "{e:?}"
    );
    let text = "resource \"aws_instance\" \"w\" {\n  dynamic \"metadata_options\" {\n    for_each = local.m\n    content {}\n  }\n}\n";
    assert!(
        set(
            text,
            span(1, 6),
            &["metadata_options", "http_tokens"],
            &Hcl::Lit(json!("required"))
        )
        .is_err()
    );
    let text = "resource \"aws_kms_key\" \"k\" {}\n";
    assert!(
        set(
            text,
            span(1, 1),
            &["enable_key_rotation"],
            &Hcl::Lit(json!(true))
        )
        .is_err()
    );
    let text = "resource \"aws_kms_key\" \"k\" {\n  tags = {\n    a = \"b\"\n  }\n}\n";
    assert!(set(text, span(1, 5), &["tags"], &Hcl::Lit(json!("x"))).is_err());
}

#[test]
fn names_inside_strings_comments_and_nested_blocks_do_not_count() {
    let text = "resource \"aws_codedeploy_deployment_group\" \"g\" {\n  # enabled = false\n  trigger_configuration {\n    enabled = false\n  }\n  description = \"enabled = false\"\n}\n";
    let out = set(text, span(1, 7), &["enabled"], &Hcl::Lit(json!(true)));
    assert_eq!(
        out.as_deref(),
        Ok(
            "resource \"aws_codedeploy_deployment_group\" \"g\" {\n  # enabled = false\n  trigger_configuration {\n    enabled = false\n  }\n  description = \"enabled = false\"\n  enabled     = true\n}\n"
        )
    );
}

#[test]
fn lists_and_strings_render_as_hcl_literals() {
    assert_eq!(
        Hcl::Lit(json!(["DEPLOYMENT_FAILURE", "a\"b"]))
            .render()
            .as_deref(),
        Some("[\"DEPLOYMENT_FAILURE\", \"a\\\"b\"]")
    );
    assert_eq!(
        Hcl::Lit(json!("${x}")).render().as_deref(),
        Some("\"$${x}\"")
    );
    assert_eq!(Hcl::Lit(json!({"a": 1})).render(), None);
    assert!(is_literal("[\"A\", \"B\"]"));
    assert!(!is_literal("[var.a]"));
    assert!(!is_literal("\"${var.a}\""));
}

#[test]
fn a_new_block_follows_its_neighbour() {
    let text = "resource \"aws_s3_bucket\" \"a\" {\n  bucket = \"x\"\n}\n# end\n";
    let out = add_block(
        text,
        3,
        "resource \"aws_s3_bucket_versioning\" \"a\"",
        &[
            (vec!["bucket"], Hcl::Expr("aws_s3_bucket.a.id".into())),
            (
                vec!["versioning_configuration", "status"],
                Hcl::Lit(json!("Enabled")),
            ),
        ],
    );
    assert_eq!(
        out.as_deref(),
        Ok(
            "resource \"aws_s3_bucket\" \"a\" {\n  bucket = \"x\"\n}\n\nresource \"aws_s3_bucket_versioning\" \"a\" {\n  bucket = aws_s3_bucket.a.id\n  versioning_configuration {\n    status = \"Enabled\"\n  }\n}\n# end\n"
        )
    );
}
