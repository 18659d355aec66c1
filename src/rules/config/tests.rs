use super::*;

#[test]
fn a_profile_sets_the_shape_and_keys_override_it() {
    let c = Config::parse("[reference]\nprofile = \"cloudformation\"\n", "p.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.reference.deploy, ["CloudFormation"]);
    assert_eq!(
        c.reference.source,
        ["CodeCommit", "CodeStarSourceConnection", "S3"]
    );
    let c = Config::parse(
            "[reference]\nprofile = \"cloudformation\"\ndeploy = [\"CloudFormation\", \"CodeDeploy\"]\n",
            "p.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.reference.deploy, ["CloudFormation", "CodeDeploy"]);
    assert_eq!(c.reference.profile, "cloudformation");
    assert_eq!(c.reference.build, ["CodeBuild"]);
    let d = Config::parse("", "p.toml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.reference.profile, "codedeploy-ec2");
    assert_eq!(d.reference.deploy, ["CodeDeploy"]);
    assert_eq!(d.reference, Reference::default());
    let ecs = Config::parse("[reference]\nprofile = \"ecs\"\n", "p.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ecs.reference.deploy, ["ECS", "CodeDeployToECS"]);
    let lambda = Config::parse("[reference]\nprofile = \"lambda\"\n", "p.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lambda.reference.deploy, ["CodeDeploy", "CloudFormation"]);
    let e = Config::parse("[reference]\nprofile = \"lambda-magic\"\n", "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        e.starts_with("p.toml:")
            && e.contains("unknown reference profile \"lambda-magic\"")
            && e.contains("\"cloudformation\""),
        "{e}"
    );
}

#[test]
fn full_config_parses() {
    let c = Config::parse(
        r#"
release_branch = "main"
require_approval = true
allowed_images = ["aws/codebuild/standard:7.0"]
disabled = ["CD006"]
[severity]
CB006 = "info"
[[ignore]]
rule = "AB008"
resource = "arn:aws:s3:::legacy-*"
reason = "legacy bucket, versioning costs too much"
expires = "2027-01-31"
"#,
        "pipeaudit.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.release_branch.as_deref(), Some("main"));
    assert_eq!(c.severity.get("CB006"), Some(&Severity::Info));
    assert_eq!(c.ignore.len(), 1);
}

#[test]
fn errors_name_file_and_line() {
    let e = Config::parse(
        "release_branch = \"main\"\nrequire_approval = \"yes\"\n",
        "p.toml",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.starts_with("p.toml:2:"), "{e}");
    let e = Config::parse("nope = 1\n", "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("p.toml:1:") && e.contains("nope"), "{e}");
    let e = Config::parse(
        "[[ignore]]\nrule = \"AB008\"\nresource = \"x\"\nreason = \"\"\n",
        "p.toml",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        e.contains("reason must not be empty") && e.starts_with("p.toml:3:"),
        "{e}"
    );
    let e = Config::parse(
        "[[ignore]]\nrule = \"AB008\"\nresource = \"x\"\nreason = \"r\"\nexpires = \"soon\"\n",
        "p.toml",
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(e.contains("not a calendar date"), "{e}");
    // shaped like a date, but no such day: an error naming the line,
    // never an ignore that suppresses for ever (or already expired)
    for bad in [
        "2026-13-45",
        "9999-99-99",
        "2025-02-30",
        "2026-04-31",
        "2026-00-10",
    ] {
        let e = Config::parse(
                &format!(
                    "release_branch = \"main\"\n[[ignore]]\nrule = \"AB008\"\nresource = \"x\"\nreason = \"r\"\nexpires = \"{bad}\"\n"
                ),
                "p.toml",
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("p.toml:6: ignore #1: expires") && e.contains("not a calendar date"),
            "{bad}: {e}"
        );
    }
    for good in ["2024-02-29", "2026-12-31", "2027-01-31"] {
        assert!(is_date(good), "{good}");
    }
    assert!(!is_date("2025-02-29"));
    let e = Config::parse("[severity]\nCB006 = \"urgent\"\n", "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("p.toml:2:"), "{e}");
}

#[test]
fn rule_parameters_enable_by_id_or_slug_and_reject_unknowns() {
    let c = Config::parse(
            "disabled = [\"CB003\"]\n[rules.build-outside-vpc]\nenabled = true\n[rules.cb003]\nenabled = true\n",
            "p.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.rule_enabled("CB013", "build-outside-vpc", false));
    assert!(
        !c.rule_enabled("CB003", "build-privileged-mode", true),
        "disabled wins"
    );
    assert!(c.rule_enabled("CB001", "build-project-missing", true));
    assert!(!c.rule_enabled("CB099", "something-else", false));
    let known = [
        ("CB013", "build-outside-vpc", vec![]),
        ("CB003", "build-privileged-mode", vec![]),
        (
            "AB010",
            "artifact-bucket-writable-by-others",
            vec!["trusted_accounts"],
        ),
    ];
    assert!(c.check_rule_ids(&known, "p.toml").is_ok());
    let e = Config::parse("[rules.nope]\nenabled = true\n", "p.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .check_rule_ids(&known, "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("[rules.nope]") && e.contains("no rule"), "{e}");
    let c = Config::parse(
        "[rules.AB010]\ntrusted_accounts = [\"111122223333\"]\n",
        "p.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.check_rule_ids(&known, "p.toml").is_ok());
    assert_eq!(
        c.trusted_accounts("AB010", "artifact-bucket-writable-by-others"),
        ["111122223333"]
    );
    let e = Config::parse("[rules.CB013]\ntrusted_accounts = []\n", "p.toml")
        .unwrap_or_else(|e| panic!("{e}"))
        .check_rule_ids(&known, "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("takes no parameter `trusted_accounts`"), "{e}");
    for bad in ["not-an-account", "12345", "1111222233334", ""] {
        let e = Config::parse(
                &format!("release_branch = \"main\"\n[rules.AB010]\ntrusted_accounts = [\"111122223333\", {bad:?}]\n"),
                "p.toml",
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with("p.toml:3: [rules.AB010] trusted_accounts:")
                && e.contains("not an account id"),
            "{bad}: {e}"
        );
    }
    let e = Config::parse("[rules.CB013]\nenabeld = true\n", "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("p.toml:2:") && e.contains("enabeld"), "{e}");
}

#[test]
fn stack_templates_are_relative_paths() {
    let c = Config::parse("[iac.stacks]\nci = \"infra/pipeline.yaml\"\n", "p.toml")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.iac.stack_paths().get("ci").map(String::as_str),
        Some("infra/pipeline.yaml")
    );
    for bad in ["/etc/x.yaml", "../other/x.yaml", ""] {
        let e = Config::parse(
            &format!("release_branch = \"main\"\n[iac.stacks]\nci = {bad:?}\n"),
            "p.toml",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.starts_with("p.toml:3: [iac.stacks] ci:"), "{bad}: {e}");
    }
    let e = Config::parse("[iac]\nstack = {}\n", "p.toml")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("p.toml:2:"), "{e}");
}

#[test]
fn release_paths_trusted_principals() {
    let c = Config::parse(
            "[release_paths]\ntrusted = [\n  { principal = \"arn:aws:iam::*:role/release-*\", reason = \"release team\" },\n]\n",
            "p.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let t = c.release_paths.trusted();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].reason, "release team");
    let err = |text: &str| {
        Config::parse(text, "p.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    // a missing reason, an unknown key, a bad glob and an empty reason: file and line
    let e = err("[release_paths]\ntrusted = [\n  { principal = \"arn:*\" },\n]\n");
    assert!(e.starts_with("p.toml:3:") && e.contains("reason"), "{e}");
    let e = err("[release_paths]\ntrust = []\n");
    assert!(e.starts_with("p.toml:2:"), "{e}");
    let e = err("[release_paths]\ntrusted = [\n  { principal = \"arn:[a\", reason = \"x\" },\n]\n");
    assert!(
        e.starts_with("p.toml:3:") && e.contains("not an ARN glob"),
        "{e}"
    );
    let e = err("[release_paths]\ntrusted = [{ principal = \"arn:*\", reason = \" \" }]\n");
    assert!(
        e.starts_with("p.toml:2:") && e.contains("empty reason"),
        "{e}"
    );
}
