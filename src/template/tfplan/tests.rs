use super::*;

#[test]
fn references_keep_the_most_specific() {
    let e = json!({"references": ["aws_kms_key.k.arn", "aws_kms_key.k", "count.index"]});
    assert_eq!(references(&e), vec!["aws_kms_key.k.arn".to_string()]);
    let e = json!({"references": ["var.a", "var.b"]});
    assert_eq!(references(&e).len(), 2);
}

#[test]
fn addresses_split_outside_brackets() {
    assert_eq!(
        split_dots("module.a[\"x.y\"].aws_s3_bucket.b[0]"),
        vec!["module", "a[\"x.y\"]", "aws_s3_bucket", "b[0]"]
    );
    assert!(matches!(
        parse_reference("module.ci.key_arn"),
        Reference::Output(c, o) if c == "ci" && o == "key_arn"
    ));
    assert!(matches!(
        parse_reference("aws_iam_role.r[0].arn"),
        Reference::Resource(l, a) if l == "aws_iam_role.r[0]" && a == "arn"
    ));
}

#[test]
fn only_format_version_1_is_read() {
    assert!(parse_plan("{\"format_version\": \"1.2\", \"planned_values\": {}}").is_ok());
    for bad in [
        "not json",
        "{}",
        "{\"format_version\": \"2.0\", \"planned_values\": {}}",
        "{\"format_version\": \"0.1\", \"planned_values\": {}}",
        "{\"format_version\": 1, \"planned_values\": {}}",
        "{\"format_version\": \"1.0\", \"values\": {}}",
    ] {
        let e = parse_plan(bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!e.is_empty() && !e.contains('\n'), "{bad}: {e}");
    }
}

#[test]
fn unknown_values_follow_module_outputs_and_variables() {
    let doc = json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {
            "resources": [{"address": "aws_codebuild_project.p", "mode": "managed",
                "type": "aws_codebuild_project", "name": "p", "values": {"name": "p"}}],
            "child_modules": [{"address": "module.m", "resources": [
                {"address": "module.m.aws_iam_role.r", "mode": "managed",
                 "type": "aws_iam_role", "name": "r",
                 "values": {"name": "r", "assume_role_policy": "{}"}},
                {"address": "module.m.aws_kms_key.k", "mode": "managed",
                 "type": "aws_kms_key", "name": "k", "values": {}}]}]}},
        "resource_changes": [
            {"address": "aws_codebuild_project.p",
             "change": {"after_unknown": {"service_role": true, "encryption_key": true}}},
            {"address": "module.m.aws_kms_key.k",
             "change": {"after_unknown": {"description": true}}}],
        "configuration": {"root_module": {
            "resources": [{"address": "aws_codebuild_project.p", "mode": "managed",
                "expressions": {
                    "service_role": {"references": ["module.m.role_arn", "module.m"]},
                    "encryption_key": {"references": ["local.key", "var.other"]}}}],
            "module_calls": {"m": {"expressions": {"d": {"constant_value": "given"}},
                "module": {
                "resources": [{"address": "aws_kms_key.k", "mode": "managed",
                    "expressions": {"description": {"references": ["var.d"]}}}],
                "outputs": {"role_arn": {"expression":
                    {"references": ["aws_iam_role.r.arn", "aws_iam_role.r"]}}}}}}}}
    });
    let (template, unknowns, _) = translate(Path::new("p.json"), &doc);
    let p = &template["Resources"]["aws_codebuild_project.p"]["Properties"];
    assert_eq!(
        p["ServiceRole"],
        json!({"Fn::GetAtt": ["module.m.aws_iam_role.r", "Arn"]})
    );
    // two references: not guessed
    let u = p["EncryptionKey"]["Ref"].as_str().unwrap_or_default();
    assert!(
        unknowns.iter().any(|(n, why)| n == u
            && why == "aws_codebuild_project.p.encryption_key is known only after apply"),
        "{unknowns:?}"
    );
    assert_eq!(
        template["Resources"]["module.m.aws_kms_key.k"]["Properties"]["Description"],
        json!("given")
    );
}

#[test]
fn sensitive_marks_merge() {
    let mut a = json!({"x": false, "l": [false]});
    merge_true(&mut a, &json!({"l": [false, {"v": true}], "y": true}));
    assert_eq!(a, json!({"x": false, "l": [false, {"v": true}], "y": true}));
}
