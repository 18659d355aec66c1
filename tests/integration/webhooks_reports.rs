//! Account findings in every report format: the demo account's compliant
//! stack with a webhook on its build project whose actor filter is not
//! anchored (CB014) and a stored personal access token (CB019), audited
//! offline from a snapshot file.

use crate::support;

use serde_json::{Value, json};

fn snapshot_file(dir: &std::path::Path) -> String {
    let text = std::fs::read_to_string(support::DEMO).unwrap_or_else(|e| panic!("{e}"));
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    if let Some(list) = v["pipelines"].as_array_mut() {
        list.retain(|w| w["name"] == "demo-000-pipeline");
    }
    let project = "arn:aws:codebuild:us-east-1:123456789012:project/demo-000-build";
    v["account_checks"] = json!(true);
    v["webhook_projects"] = json!([{
        "arn": project, "name": "demo-000-build", "region": "us-east-1",
        "shares": ["build-project"],
        "pipelines": ["arn:aws:codepipeline:us-east-1:123456789012:demo-000-pipeline"]
    }]);
    v["resources"]["build_projects"][project]["value"]["webhook"] = json!({
        "filter_groups": [[
            {"filter_type": "EVENT", "pattern": "PUSH"},
            {"filter_type": "ACTOR_ACCOUNT_ID", "pattern": "123456|<b>"}
        ]]
    });
    v["resources"]["source_credentials"] = json!({"us-east-1": {"status": "ok", "value": [{
        "arn": "arn:aws:codebuild:us-east-1:123456789012:token/github",
        "server_type": "GITHUB", "auth_type": "PERSONAL_ACCESS_TOKEN"
    }]}});
    let path = dir.join("snapshot.json");
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path.display().to_string()
}

#[test]
fn account_findings_have_their_own_section_in_every_format() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = snapshot_file(dir.path());
    let run = |format: &str| {
        let o = support::offline(&["--snapshot", &snap, "--format", format]);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let json: Value = serde_json::from_str(&run("json")).unwrap_or_else(|e| panic!("{e}"));
    let account: Vec<(&str, &str)> = json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["pipeline"] == "account")
        .map(|f| {
            assert_eq!(f["pipeline_arn"], "123456789012");
            (
                f["rule_id"].as_str().unwrap_or_default(),
                f["resource_arn"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        account,
        [
            (
                "CB014",
                "arn:aws:codebuild:us-east-1:123456789012:project/demo-000-build"
            ),
            (
                "CB019",
                "arn:aws:codebuild:us-east-1:123456789012:token/github"
            ),
        ]
    );
    let table = run("table");
    assert!(table.contains("account (123456789012)"), "{table}");
    let markdown = run("markdown");
    assert!(
        markdown.contains("account") && markdown.contains("CB014"),
        "{markdown}"
    );
    let html = run("html");
    assert!(html.contains("CB014") && html.contains("CB019"));
    // the name in the pattern is the project owner's: escaped
    assert!(!html.contains("123456|<b>"), "pattern not escaped in HTML");
    let sarif: Value = serde_json::from_str(&run("sarif")).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["ruleId"].as_str())
        .collect();
    assert!(ids.contains(&"CB014") && ids.contains(&"CB019"), "{ids:?}");
}
