//! Hostile names as AWS holds them, against moto_server 5.1.22: a seeded
//! reference stack whose pipeline is rewired (UpdatePipeline) to an S3
//! source whose object key holds terminal escapes and raw HTML, a pipeline
//! role whose IAM path breaks out of an HTML attribute, and a CodeDeploy
//! application (with its deployment group, whose role's path is a run of
//! `..` steps) named with a Mermaid directive. The live audit's outputs are
//! checked as the crafted snapshot's are (`tests/integration/hostile.rs`).

use crate::hostile::{
    assert_no_controls, assert_uris_inside, check_markdown, check_mermaid, graphviz, text,
};
use crate::support;

use aws_sdk_codepipeline::types as cp;
use serde_json::json;
use support::moto::Moto;
use support::seed::{self, SeedClients, StackSpec};

const KEY: &str = "releases/\u{1b}[2J\u{1b}]8;;https://evil.example/\u{7}click\u{1b}]8;;\u{7}\u{1b}]52;c;cHduZWQ=\u{7}<img src=x onerror=alert(1)>.zip";
const SVG_PATH: &str = "/\"><svg/onload=alert(1)>/";
const TRAVERSAL_PATH: &str = "/../../../../../../../";
const APP: &str = "app%%{init: {'theme':'dark'}}%%";

async fn role(c: &SeedClients, name: &str, path: &str, service: &str) -> String {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]});
    c.iam
        .create_role()
        .role_name(name)
        .path(path)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("iam:CreateRole {path}{name}: {e:?}"))
        .role()
        .map(|r| r.arn().to_string())
        .unwrap_or_default()
}

fn set(a: &mut cp::ActionDeclaration, key: &str, value: &str) {
    a.configuration
        .get_or_insert_with(Default::default)
        .insert(key.to_string(), value.to_string());
}

#[tokio::test]
async fn hostile_names_read_from_aws_are_escaped_in_every_output() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let spec = StackSpec {
        prefix: "hostile".to_string(),
        defects: Vec::new(),
        shared_store: None,
    };
    let stack = seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    // a pipeline role trusted by another service (PL003 names it)
    let svg_role = role(&c, "hostile-svg-role", SVG_PATH, "codebuild.amazonaws.com").await;
    assert!(svg_role.contains("<svg/onload=alert(1)>"), "{svg_role}");
    // a deploy role trusted by another service (CD005 names it)
    let trav_role = role(&c, "trav-role", TRAVERSAL_PATH, "ec2.amazonaws.com").await;
    assert!(
        trav_role.ends_with("role/../../../../../../../trav-role"),
        "{trav_role}"
    );
    c.codedeploy
        .create_application()
        .application_name(APP)
        .send()
        .await
        .unwrap_or_else(|e| panic!("codedeploy:CreateApplication: {e:?}"));
    c.codedeploy
        .create_deployment_group()
        .application_name(APP)
        .deployment_group_name("hostile-group")
        .service_role_arn(&trav_role)
        .send()
        .await
        .unwrap_or_else(|e| panic!("codedeploy:CreateDeploymentGroup: {e:?}"));
    c.s3.create_bucket()
        .bucket("hostile-source")
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3:CreateBucket: {e:?}"));
    let mut decl = seed::declaration(&c, &stack.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    decl.role_arn = svg_role.clone();
    for stage in &mut decl.stages {
        for a in &mut stage.actions {
            let provider = a
                .action_type_id
                .as_ref()
                .map(|t| t.provider.clone())
                .unwrap_or_default();
            match provider.as_str() {
                "CodeCommit" => {
                    a.action_type_id = Some(
                        cp::ActionTypeId::builder()
                            .category(cp::ActionCategory::Source)
                            .owner(cp::ActionOwner::Aws)
                            .provider("S3")
                            .version("1")
                            .build()
                            .unwrap_or_else(|e| panic!("{e}")),
                    );
                    a.configuration = None;
                    set(a, "S3Bucket", "hostile-source");
                    set(a, "S3ObjectKey", KEY);
                    set(a, "PollForSourceChanges", "true");
                }
                "CodeDeploy" => {
                    set(a, "ApplicationName", APP);
                    set(a, "DeploymentGroupName", "hostile-group");
                }
                _ => {}
            }
        }
    }
    seed::update_declaration(&c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    let audit = |args: &[&str]| {
        let o = support::pipeaudit_command(&moto.endpoint)
            .args(["--region", "us-east-1", "--max-attempts", "1"])
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
        assert!(
            matches!(o.status.code(), Some(0..=2)),
            "{args:?}: {:?}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = dir.path().join("live.json");
    let snap = snap.to_string_lossy().to_string();
    let json = support::stdout_json(&audit(&["--format", "json", "--save-snapshot", &snap]));
    // the names as AWS holds them reach the findings, raw in JSON
    let ids = support::findings(&json);
    assert!(
        ids.contains(&("PL003".to_string(), svg_role.clone())),
        "{ids:?}"
    );
    let messages: String = json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert!(messages.contains(KEY), "{messages}");

    // terminal: the table (live, so also the collection's lines on stderr)
    let table = audit(&[]);
    let stdout = text(&table.stdout);
    assert_no_controls("table", &stdout);
    assert_no_controls("table (stderr)", &text(&table.stderr));
    assert!(stdout.contains("\\x1b]52;c;cHduZWQ=\\x07"), "{stdout}");

    // Markdown: no markup from the names, which show whole
    let md = text(&audit(&["--format", "markdown"]).stdout);
    let (rendered, mermaid) = check_markdown("summary", &md);
    assert!(
        rendered.contains("<img src=x onerror=alert(1)>"),
        "{rendered}"
    );
    assert!(rendered.contains(&svg_role), "{rendered}");
    for d in &mermaid {
        check_mermaid("summary", d);
    }
    let graph = text(&audit(&["graph", "--snapshot", &snap]).stdout);
    let (_, mermaid) = check_markdown("graph", &graph);
    assert_eq!(mermaid.len(), 1);
    check_mermaid("graph", &mermaid[0]);
    assert!(graph.contains("app#37;#37;#123;init"), "{graph}");

    // DOT through Graphviz, SARIF URIs inside the repository
    let dot = audit(&["graph", "--snapshot", &snap, "--format", "dot"]).stdout;
    let svg = graphviz(&dot);
    assert!(
        svg.contains("app%%{init: {&#39;theme&#39;:&#39;dark&#39;}}%%")
            || svg.contains("app%%{init: {'theme':'dark'}}%%"),
        "{svg}"
    );
    let sarif = support::stdout_json(&audit(&[
        "--snapshot",
        &snap,
        "--format",
        "sarif",
        "--allow-partial",
    ]));
    assert!(sarif.to_string().contains("trav-role"));
    assert_uris_inside("live", &sarif);
}
