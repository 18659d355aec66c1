use super::*;

fn finding(resource: &str) -> Finding {
    Finding {
        rule_id: "KM003".into(),
        slug: "artifact-key-rotation-off".into(),
        severity: Severity::Medium,
        title: "t".into(),
        message: "m".into(),
        pipeline: "p".into(),
        pipeline_arn: "arn:aws:codepipeline:us-east-1:1:p".into(),
        resource_type: "AWS::KMS::Key".into(),
        resource_arn: resource.into(),
        region: "us-east-1".into(),
        account: "111122223333".into(),
        fix: None,
        fingerprint: "f".into(),
        defined_in: None,
        witness: Vec::new(),
    }
}

fn report<'a>(findings: &'a [Finding], scopes: &'a [crate::report::Scope]) -> Report<'a> {
    Report {
        scopes,
        pipelines: 1,
        findings,
        diagnostics: &[],
    }
}

#[test]
fn results_beyond_the_limit_keep_the_most_severe() {
    let mut findings: Vec<Finding> = (0..MAX_RESULTS + 10)
        .map(|i| {
            let mut f = finding(&format!("arn:aws:kms:us-east-1:1:key/{i:06}"));
            f.severity = if i < 10 {
                Severity::Critical
            } else {
                Severity::Low
            };
            f.fingerprint = format!("{i}");
            f
        })
        .collect();
    findings.sort_by(|a, b| a.report_order(b));
    let scopes = crate::report::scopes("111122223333", &["us-east-1".to_string()]);
    let rendered = render(&report(&findings, &scopes), &[], None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rendered.truncated,
        vec![(category("pipeaudit", "111122223333", "us-east-1"), 10)]
    );
    let doc: serde_json::Value = serde_json::from_str(&rendered.text).unwrap_or_default();
    let results = doc["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(results.len(), MAX_RESULTS);
    let errors = results.iter().filter(|r| r["level"] == "error").count();
    assert_eq!(errors, 10, "every critical result kept");
}

#[test]
fn more_than_twenty_scopes_is_an_error() {
    let regions: Vec<String> = (0..21).map(|i| format!("r-{i}")).collect();
    let scopes = crate::report::scopes("111122223333", &regions);
    assert!(matches!(
        render(&report(&[], &scopes), &[], None),
        Err(SarifError::TooManyRuns(21))
    ));
}

#[test]
fn pseudo_paths_are_relative_and_schemeless() {
    assert_eq!(
        pseudo_path(&finding("arn:aws:kms:us-east-1:111122223333:key/abc-1")),
        "aws/111122223333/us-east-1/kms/key/abc-1"
    );
    assert_eq!(
        pseudo_path(&finding("arn:aws:s3:::my bucket")),
        "aws/111122223333/us-east-1/s3/my_bucket"
    );
    assert_eq!(
        pseudo_path(&finding(
            "arn:aws:codedeploy:us-east-1:1:deploymentgroup:app/grp"
        )),
        "aws/111122223333/us-east-1/codedeploy/deploymentgroup_app/grp"
    );
}

#[test]
fn pseudo_paths_never_step_out_of_the_repository() {
    let path = pseudo_path(&finding(
        "arn:aws:iam::111122223333:role/../../../../../../../trav-role",
    ));
    assert_eq!(
        path,
        "aws/111122223333/us-east-1/iam/role/__/__/__/__/__/__/__/trav-role"
    );
    assert_eq!(
        pseudo_path(&finding("arn:aws:s3:::b/./x//y")),
        "aws/111122223333/us-east-1/s3/b/_/x/_/y"
    );
    assert!(!path.split('/').any(|s| s == "." || s == ".."));
}

#[test]
fn located_results_point_at_the_lines_and_keep_their_hash() {
    let unlocated = finding("arn:aws:kms:us-east-1:1:key/a");
    let mut located = unlocated.clone();
    located.defined_in = Some(crate::findings::DefinedIn {
        file: "infra/ci stack.yaml".into(),
        start_line: 12,
        end_line: 14,
        stack: Some("ci".into()),
        resource: "ArtifactKey".into(),
        property: None,
    });
    let a = serde_json::to_value(result(&unlocated, 0)).unwrap_or_default();
    let b = serde_json::to_value(result(&located, 0)).unwrap_or_default();
    let loc = &b["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "infra/ci%20stack.yaml");
    assert_eq!(loc["region"]["startLine"], 12);
    assert_eq!(loc["region"]["endLine"], 14);
    assert_eq!(
        a["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "aws/111122223333/us-east-1/kms/key/a"
    );
    assert_eq!(
        a["partialFingerprints"], b["partialFingerprints"],
        "the hash does not depend on the location"
    );
    assert_eq!(
        b["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "arn:aws:kms:us-east-1:1:key/a"
    );
}

#[test]
fn line_hash_form_and_stability() {
    let a = line_hash(&finding("arn:aws:kms:us-east-1:1:key/a"));
    assert_eq!(a.len(), 18);
    assert!(a.ends_with(":1"));
    assert_eq!(a, line_hash(&finding("arn:aws:kms:us-east-1:1:key/a")));
    assert_ne!(a, line_hash(&finding("arn:aws:kms:us-east-1:1:key/b")));
}
