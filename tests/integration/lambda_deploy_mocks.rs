//! The function behind a CodeDeploy deployment group of the `Lambda`
//! compute platform: the group's last deployment (its last successful one,
//! else its last attempted one) is read with BatchGetDeployments, and the
//! AppSpec its revision holds inline names the function, which CD017
//! `deploy-lambda-role-admin` and CD018 `deploy-lambda-code-signing-off`
//! then check like an invoked one.
//!
//! moto 5.1.22 stores deployments and answers BatchGetDeployments, but its
//! deployment groups always report `lastSuccessfulDeployment` and
//! `lastAttemptedDeployment` empty, so a group never leads to its
//! deployment there; the group and deployment reads are served by
//! `aws-smithy-mocks`. The rules are evaluated on the demo snapshot with
//! its group made a Lambda group.

use std::sync::Arc;

use aws_sdk_codedeploy::operation::batch_get_deployments::BatchGetDeploymentsOutput;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, DeploymentGroupInfo, DeploymentInfo, LastDeploymentInfo,
    RevisionLocation, RevisionLocationType, S3Location,
};
use aws_smithy_mocks::{Rule, mock};
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::codedeploy;
use pipeaudit::model::{
    DeployGroup, LambdaDeployment, LambdaFunction, LambdaTarget, Observed, PolicyText, ReadError,
    ReadErrorKind, Role, Snapshot,
};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
const ACCOUNT: &str = "123456789012";

fn client(rules: &[&Rule]) -> aws_sdk_codedeploy::Client {
    crate::mock_client!(aws_sdk_codedeploy, rules, no_retry)
}

fn group_arn(name: &str) -> String {
    codedeploy::group_arn("aws", "us-east-1", ACCOUNT, "app", name)
}

/// A group as GetDeploymentGroup returns it; the deployment ids are its
/// last successful and last attempted deployments.
fn group_info(
    name: &str,
    platform: ComputePlatform,
    successful: Option<&str>,
    attempted: Option<&str>,
) -> DeploymentGroupInfo {
    let mut g = DeploymentGroupInfo::builder()
        .application_name("app")
        .deployment_group_name(name)
        .compute_platform(platform);
    if let Some(id) = successful {
        g = g.last_successful_deployment(LastDeploymentInfo::builder().deployment_id(id).build());
    }
    if let Some(id) = attempted {
        g = g.last_attempted_deployment(LastDeploymentInfo::builder().deployment_id(id).build());
    }
    g.build()
}

/// Reads `groups` (name, platform, last successful, last attempted) one
/// by one through a GetDeploymentGroup mock, then their deployments.
async fn read_groups(
    groups: &[(&str, ComputePlatform, Option<&str>, Option<&str>)],
    batch: &Rule,
) -> Vec<(String, Observed<DeployGroup>)> {
    let infos: Vec<DeploymentGroupInfo> = groups
        .iter()
        .map(|(n, p, s, a)| group_info(n, p.clone(), *s, *a))
        .collect();
    let get =
        mock!(aws_sdk_codedeploy::Client::get_deployment_group).then_compute_output(move |req| {
            let info = infos
                .iter()
                .find(|g| g.deployment_group_name() == req.deployment_group_name())
                .cloned();
            GetDeploymentGroupOutput::builder()
                .set_deployment_group_info(info)
                .build()
        });
    let c = client(&[&get, batch]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let mut read = Vec::new();
    for (name, ..) in groups {
        let arn = group_arn(name);
        let g = codedeploy::get_group(&ctx, &c, &arn, "app", name).await;
        read.push((arn, g));
    }
    codedeploy::read_lambda_deployments(&ctx, &c, &mut read).await;
    read
}

/// A deployment whose revision holds `content` inline, as `kind`
/// (`String`, deprecated by AWS but still what older deployments hold, or
/// `AppSpecContent`).
#[allow(deprecated)]
fn inline(id: &str, kind: RevisionLocationType, content: &str) -> DeploymentInfo {
    use aws_sdk_codedeploy::types::RawString;
    let mut r = RevisionLocation::builder().revision_type(kind.clone());
    r = match kind {
        RevisionLocationType::String => r.string(RawString::builder().content(content).build()),
        _ => r.app_spec_content(AppSpecContent::builder().content(content).build()),
    };
    DeploymentInfo::builder()
        .deployment_id(id)
        .revision(r.build())
        .build()
}

fn from_s3(id: &str) -> DeploymentInfo {
    DeploymentInfo::builder()
        .deployment_id(id)
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::S3)
                .s3_location(S3Location::builder().bucket("b").key("appspec.zip").build())
                .build(),
        )
        .build()
}

/// A BatchGetDeployments mock answering with those of `known` it is asked
/// for.
fn batch(known: Vec<DeploymentInfo>) -> Rule {
    mock!(aws_sdk_codedeploy::Client::batch_get_deployments).then_compute_output(move |req| {
        let asked = req.deployment_ids();
        BatchGetDeploymentsOutput::builder()
            .set_deployments_info(Some(
                known
                    .iter()
                    .filter(|d| asked.iter().any(|a| Some(a.as_str()) == d.deployment_id()))
                    .cloned()
                    .collect(),
            ))
            .build()
    })
}

const APPSPEC_YAML: &str = "version: 0.0
Resources:
  - checkout:
      Type: AWS::Lambda::Function
      Properties:
        Name: checkout
        Alias: live
        CurrentVersion: 3
        TargetVersion: '4'
Hooks:
  - BeforeAllowTraffic: checkout-smoke
";

const APPSPEC_JSON: &str = r#"{"version": 0.0, "Resources": [
  {"orders": {"Type": "AWS::Lambda::Function", "Properties": {
    "Name": "arn:aws:lambda:us-east-1:123456789012:function:orders:live",
    "Alias": "live", "CurrentVersion": "7", "TargetVersion": "8"}}},
  {"other": {"Type": "AWS::Something::Else", "Properties": {"Name": "x"}}}
]}"#;

fn deployment(read: &[(String, Observed<DeployGroup>)], name: &str) -> Observed<LambdaDeployment> {
    let arn = group_arn(name);
    let g = read
        .iter()
        .find(|(a, _)| *a == arn)
        .and_then(|(_, g)| g.value())
        .unwrap_or_else(|| panic!("{name} not read: {read:?}"));
    g.lambda_deployment
        .clone()
        .unwrap_or_else(|| panic!("{name}: no Lambda deployment recorded"))
}

#[tokio::test]
async fn the_last_deployment_of_a_lambda_group_names_its_function() {
    let b = batch(vec![
        inline("d-ok", RevisionLocationType::AppSpecContent, APPSPEC_YAML),
        inline(
            "d-failed",
            RevisionLocationType::AppSpecContent,
            "version: 0.0",
        ),
        inline("d-json", RevisionLocationType::String, APPSPEC_JSON),
    ]);
    let read = read_groups(
        &[
            // the last successful deployment wins over the last attempted
            (
                "yaml",
                ComputePlatform::Lambda,
                Some("d-ok"),
                Some("d-failed"),
            ),
            ("json", ComputePlatform::Lambda, None, Some("d-json")),
        ],
        &b,
    )
    .await;
    assert_eq!(b.num_calls(), 1, "both deployments in one batch");
    let yaml = deployment(&read, "yaml");
    let yaml = yaml.value().unwrap_or_else(|| panic!("{yaml:?}"));
    assert_eq!(yaml.deployment_id.as_deref(), Some("d-ok"));
    assert_eq!(yaml.revision_type.as_deref(), Some("AppSpecContent"));
    assert_eq!(yaml.undetermined, None);
    assert_eq!(
        yaml.functions,
        [LambdaTarget {
            name: "checkout".to_string(),
            arn: format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:checkout"),
            alias: Some("live".to_string()),
            current_version: Some("3".to_string()),
            target_version: Some("4".to_string()),
        }]
    );
    let json = deployment(&read, "json");
    let json = json.value().unwrap_or_else(|| panic!("{json:?}"));
    assert_eq!(json.revision_type.as_deref(), Some("String"));
    let names: Vec<(&str, &str)> = json
        .functions
        .iter()
        .map(|f| (f.arn.as_str(), f.target_version.as_deref().unwrap_or("")))
        .collect();
    // a qualified ARN names the function; only Lambda resources count
    assert_eq!(
        names,
        [("arn:aws:lambda:us-east-1:123456789012:function:orders", "8")]
    );
}

#[tokio::test]
async fn functions_that_cannot_be_determined_say_why_without_quoting_the_appspec() {
    let b = batch(vec![
        from_s3("d-s3"),
        inline(
            "d-bad",
            RevisionLocationType::AppSpecContent,
            "Resources: [secret-value: {",
        ),
        inline(
            "d-none",
            RevisionLocationType::AppSpecContent,
            "version: 0.0\nResources:\n  - web:\n      Type: AWS::ECS::Service\n",
        ),
    ]);
    let read = read_groups(
        &[
            ("s3", ComputePlatform::Lambda, Some("d-s3"), None),
            ("bad", ComputePlatform::Lambda, Some("d-bad"), None),
            ("none", ComputePlatform::Lambda, Some("d-none"), None),
            ("new", ComputePlatform::Lambda, None, None),
            ("gone", ComputePlatform::Lambda, Some("d-gone"), None),
        ],
        &b,
    )
    .await;
    assert_eq!(b.num_calls(), 1);
    let why = |name: &str| {
        let d = deployment(&read, name);
        let d = d.value().unwrap_or_else(|| panic!("{name}: {d:?}"));
        assert!(d.functions.is_empty(), "{name}: {d:?}");
        d.undetermined
            .clone()
            .unwrap_or_else(|| panic!("{name}: no reason"))
    };
    assert!(why("s3").contains("from S3"), "{}", why("s3"));
    let bad = why("bad");
    assert!(bad.contains("is not valid YAML or JSON (line "), "{bad}");
    assert!(
        !bad.contains("secret-value") && !bad.contains('\n'),
        "{bad}"
    );
    assert!(
        why("none").contains("names no AWS::Lambda::Function"),
        "{}",
        why("none")
    );
    assert_eq!(why("new"), "the group has made no deployment yet");
    assert!(
        why("gone").contains("d-gone was not found"),
        "{}",
        why("gone")
    );
}

#[tokio::test]
async fn groups_of_other_platforms_make_no_call_and_lambda_ones_go_25_at_a_time() {
    // EC2 and ECS groups only: no BatchGetDeployments at all
    let b = batch(Vec::new());
    let read = read_groups(
        &[
            ("web", ComputePlatform::Server, Some("d-1"), None),
            ("svc", ComputePlatform::Ecs, Some("d-2"), None),
        ],
        &b,
    )
    .await;
    assert_eq!(b.num_calls(), 0);
    for (_, g) in &read {
        let g = g.value().unwrap_or_else(|| panic!("{g:?}"));
        assert_eq!(g.lambda_deployment, None, "{g:?}");
    }

    // 30 Lambda groups: two calls (25 and 5)
    let ids: Vec<String> = (0..30).map(|i| format!("d-{i}")).collect();
    let names: Vec<String> = (0..30).map(|i| format!("fn-{i}")).collect();
    let known: Vec<DeploymentInfo> = ids
        .iter()
        .zip(&names)
        .map(|(id, n)| {
            inline(
                id,
                RevisionLocationType::AppSpecContent,
                &format!(
                    "Resources:\n  - f:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: {n}\n"
                ),
            )
        })
        .collect();
    let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = sizes.clone();
    let counting =
        mock!(aws_sdk_codedeploy::Client::batch_get_deployments).then_compute_output(move |req| {
            if let Ok(mut s) = seen.lock() {
                s.push(req.deployment_ids().len());
            }
            let asked = req.deployment_ids();
            BatchGetDeploymentsOutput::builder()
                .set_deployments_info(Some(
                    known
                        .iter()
                        .filter(|d: &&DeploymentInfo| {
                            asked.iter().any(|a| Some(a.as_str()) == d.deployment_id())
                        })
                        .cloned()
                        .collect(),
                ))
                .build()
        });
    let groups: Vec<(&str, ComputePlatform, Option<&str>, Option<&str>)> = names
        .iter()
        .zip(&ids)
        .map(|(n, id)| (n.as_str(), ComputePlatform::Lambda, Some(id.as_str()), None))
        .collect();
    let read = read_groups(&groups, &counting).await;
    assert_eq!(counting.num_calls(), 2);
    let mut got = sizes.lock().map(|s| s.clone()).unwrap_or_default();
    got.sort();
    assert_eq!(got, [5, 25]);
    for n in &names {
        let d = deployment(&read, n);
        let f: Vec<&str> = d
            .value()
            .map(|d| d.functions.iter().map(|f| f.name.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(f, [n.as_str()], "{d:?}");
    }
}

#[tokio::test]
async fn a_denied_batch_leaves_the_deployment_unknown_naming_the_permission() {
    let denied = mock!(aws_sdk_codedeploy::Client::batch_get_deployments)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"AccessDeniedException","message":"not authorized to perform codedeploy:BatchGetDeployments"}"#.to_string()),
        )
        .repeatedly()
        .build();
    let read = read_groups(
        &[("fn", ComputePlatform::Lambda, Some("d-1"), None)],
        &denied,
    )
    .await;
    let d = deployment(&read, "fn");
    let e = d.error().unwrap_or_else(|| panic!("{d:?}"));
    assert_eq!(e.kind, ReadErrorKind::AccessDenied);
    assert_eq!(e.action, "codedeploy:BatchGetDeployments");
}

// ---- the rules, on the demo snapshot with its group made a Lambda group

const FUNCTION: &str = "arn:aws:lambda:us-east-1:123456789012:function:checkout";

/// A role named `name` whose one inline policy allows `actions` on `*`.
fn role(name: &str, actions: &[&str]) -> Role {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    });
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    });
    Role {
        name: name.to_string(),
        arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
        path: Some("/".to_string()),
        trust_policy: Observed::ok(PolicyText::parse(&trust.to_string())),
        inline_policies: Observed::ok(
            [(
                "policy".to_string(),
                Observed::ok(PolicyText::parse(&policy.to_string())),
            )]
            .into_iter()
            .collect(),
        ),
        attached_policies: Observed::ok(Vec::new()),
        permissions_boundary: None,
    }
}

/// What the function behind the group is like.
enum Behind {
    /// The function the AppSpec names, with its role's actions and
    /// whether it has code signing.
    Function(&'static [&'static str], bool),
    /// The deployment could not be read.
    Unknown,
    /// The deployment took its AppSpec from S3.
    FromS3,
}

/// CD017 and CD018 on demo-000-pipeline with its group a Lambda group whose
/// last deployment is `behind`: findings as `rule message`, gap diagnostics
/// as `gap rule permission`, notes as `note message`.
fn lambda_rules_with(behind: Behind) -> Vec<String> {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    let group = s.pipelines[0].deploys[0].group_arn.clone();
    let deployment = match behind {
        Behind::Function(actions, signed) => {
            let r = role("checkout-role", actions);
            s.resources.lambda_functions.insert(
                FUNCTION.to_string(),
                Observed::ok(LambdaFunction {
                    name: "checkout".to_string(),
                    arn: FUNCTION.to_string(),
                    role_arn: Some(r.arn.clone()),
                    runtime: Some("python3.12".to_string()),
                    code_signing_config: if signed {
                        Observed::ok(format!(
                            "arn:aws:lambda:us-east-1:{ACCOUNT}:code-signing-config:csc-1"
                        ))
                    } else {
                        Observed::Absent
                    },
                }),
            );
            s.resources.roles.insert(r.arn.clone(), Observed::ok(r));
            Observed::ok(LambdaDeployment {
                deployment_id: Some("d-1".to_string()),
                revision_type: Some("AppSpecContent".to_string()),
                functions: vec![LambdaTarget {
                    name: "checkout".to_string(),
                    arn: FUNCTION.to_string(),
                    alias: Some("live".to_string()),
                    current_version: Some("1".to_string()),
                    target_version: Some("2".to_string()),
                }],
                undetermined: None,
            })
        }
        Behind::Unknown => Observed::Unknown {
            error: ReadError {
                kind: ReadErrorKind::AccessDenied,
                action: "codedeploy:BatchGetDeployments".to_string(),
                code: Some("AccessDeniedException".to_string()),
                message: "denied".to_string(),
            },
        },
        Behind::FromS3 => Observed::ok(LambdaDeployment {
            deployment_id: Some("d-1".to_string()),
            revision_type: Some("S3".to_string()),
            functions: Vec::new(),
            undetermined: Some("its last deployment d-1 took its AppSpec from S3".to_string()),
        }),
    };
    if let Some(Observed::Ok { value }) = s.resources.deploy_groups.get_mut(&group) {
        value.compute_platform = Some("Lambda".to_string());
        value.deployment_config_name =
            Some("CodeDeployDefault.LambdaCanary10Percent5Minutes".to_string());
        value.lambda_deployment = Some(deployment);
    }
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    let lambda = |id: Option<&str>| matches!(id, Some("CD017" | "CD018"));
    let mut out: Vec<String> = e
        .findings
        .iter()
        .filter(|f| lambda(Some(&f.rule_id)))
        .map(|f| {
            assert_eq!(f.resource_arn, FUNCTION);
            format!("{} {}", f.rule_id, f.message)
        })
        .collect();
    out.extend(
        e.diagnostics
            .iter()
            .filter(|d| lambda(d.rule_id.as_deref()))
            .map(|d| {
                format!(
                    "gap {} {}",
                    d.rule_id.clone().unwrap_or_default(),
                    d.permission.clone().unwrap_or_default()
                )
            }),
    );
    out.extend(
        e.diagnostics
            .iter()
            .filter(|d| d.kind == pipeaudit::findings::DiagnosticKind::Note)
            .filter(|d| d.resource.as_deref() == Some(group.as_str()))
            .map(|d| format!("note {}", d.message)),
    );
    out
}

#[test]
fn cd017_and_cd018_check_the_function_a_lambda_group_deploys() {
    let admin = lambda_rules_with(Behind::Function(&["*"], false));
    assert_eq!(admin.len(), 2, "{admin:?}");
    let group = "deployed by CodeDeploy group demo-000-app/demo-000-group through action Deploy";
    assert!(
        admin[0].starts_with("CD017 Lambda function checkout (")
            && admin[0].contains(group)
            && admin[0].contains("allows * on *"),
        "{}",
        admin[0]
    );
    assert!(
        admin[1].starts_with("CD018 Lambda function checkout (") && admin[1].contains(group),
        "{}",
        admin[1]
    );

    // a role holding a power (writing any role's policy) is CD017's too
    let powers = lambda_rules_with(Behind::Function(&["iam:PutRolePolicy"], true));
    assert_eq!(powers.len(), 1, "{powers:?}");
    assert!(
        powers[0].starts_with("CD017 ") && powers[0].contains("holds"),
        "{powers:?}"
    );

    // least privilege and code signing: neither
    let fine = lambda_rules_with(Behind::Function(
        &[
            "codepipeline:PutJobSuccessResult",
            "codepipeline:PutJobFailureResult",
        ],
        true,
    ));
    assert!(fine.is_empty(), "{fine:?}");
}

#[test]
fn an_unread_deployment_is_a_gap_and_an_s3_revision_a_note() {
    assert_eq!(
        lambda_rules_with(Behind::Unknown),
        [
            "gap CD017 codedeploy:BatchGetDeployments",
            "gap CD018 codedeploy:BatchGetDeployments"
        ]
    );
    let s3 = lambda_rules_with(Behind::FromS3);
    assert_eq!(s3.len(), 1, "{s3:?}");
    assert!(
        s3[0].starts_with("note CodeDeploy group demo-000-app/demo-000-group (action Deploy)")
            && s3[0].contains("could not be determined")
            && s3[0].contains("from S3"),
        "{}",
        s3[0]
    );
}
