//! Lambda deployment groups against moto_server 5.1.22. Deployments of a
//! CodeDeploy application of the `Lambda` compute platform, created in
//! moto with their AppSpec inline, are read with BatchGetDeployments in
//! one call and their functions taken from the AppSpec. moto's deployment
//! groups never report a last deployment, so the groups are given here
//! with the deployment ids CreateDeployment returned
//! (`lambda_deploy_mocks` covers reading them from the group); audited
//! whole, a pipeline deploying to a Lambda group in moto is the group that
//! has made no deployment yet: a note, no deployment read, no CD017 or
//! CD018.

use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, RevisionLocation, RevisionLocationType,
};
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::codedeploy;
use pipeaudit::model::{DeployGroup, LambdaDeployment, Observed};

use crate::support;
use crate::support::moto::Moto;
use crate::support::seed::{self, SeedClients, StackSpec};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

fn appspec(function: &str) -> String {
    format!(
        "version: 0.0\nResources:\n  - fn:\n      Type: AWS::Lambda::Function\n      Properties:\n        Name: {function}\n        Alias: live\n        CurrentVersion: '1'\n        TargetVersion: '2'\n"
    )
}

#[tokio::test]
async fn the_deployments_of_lambda_groups_are_read_in_one_call() {
    let moto = Moto::start();
    let conf = moto.sdk_config(REGION).await;
    let client = aws_sdk_codedeploy::Client::from_conf(
        aws_sdk_codedeploy::config::Builder::from(&conf)
            .retry_config(aws_sdk_codedeploy::config::retry::RetryConfig::disabled())
            .build(),
    );
    client
        .create_application()
        .application_name("app")
        .compute_platform(ComputePlatform::Lambda)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut groups = Vec::new();
    for name in ["checkout", "orders"] {
        client
            .create_deployment_group()
            .application_name("app")
            .deployment_group_name(name)
            .service_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/deploy"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let out = client
            .create_deployment()
            .application_name("app")
            .deployment_group_name(name)
            .revision(
                RevisionLocation::builder()
                    .revision_type(RevisionLocationType::AppSpecContent)
                    .app_spec_content(AppSpecContent::builder().content(appspec(name)).build())
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let arn = codedeploy::group_arn("aws", REGION, ACCOUNT, "app", name);
        groups.push((
            arn.clone(),
            Observed::ok(DeployGroup {
                application_name: "app".to_string(),
                name: name.to_string(),
                arn,
                compute_platform: Some("Lambda".to_string()),
                lambda_deployment: Some(Observed::ok(LambdaDeployment {
                    deployment_id: out.deployment_id().map(str::to_string),
                    ..LambdaDeployment::default()
                })),
                ..DeployGroup::default()
            }),
        ));
    }
    let ctx = Ctx::new(4, ProgressBar::hidden());
    codedeploy::read_lambda_deployments(&ctx, &client, &mut groups).await;
    assert_eq!(
        ctx.calls().get("codedeploy:BatchGetDeployments"),
        Some(&1),
        "{:?}",
        ctx.calls()
    );
    for (arn, g) in &groups {
        let d = g
            .value()
            .and_then(|g| g.lambda_deployment.clone())
            .unwrap_or_else(|| panic!("{arn}: {g:?}"));
        let d = d.value().unwrap_or_else(|| panic!("{arn}: {d:?}"));
        assert_eq!(d.revision_type.as_deref(), Some("AppSpecContent"), "{d:?}");
        let name = arn.rsplit('/').next().unwrap_or_default();
        let functions: Vec<(&str, Option<&str>)> = d
            .functions
            .iter()
            .map(|f| (f.arn.as_str(), f.alias.as_deref()))
            .collect();
        let want = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}");
        assert_eq!(functions, [(want.as_str(), Some("live"))], "{d:?}");
    }
}

#[tokio::test]
async fn a_lambda_group_without_a_deployment_is_a_note_and_reads_none() {
    use std::sync::Arc;

    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, REGION)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let s = seed::seed_stack(
        &c,
        &StackSpec {
            prefix: "lg".to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    // the deploy action deploys to a Lambda group instead
    c.codedeploy
        .create_application()
        .application_name("lg-fn-app")
        .compute_platform(ComputePlatform::Lambda)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    c.codedeploy
        .create_deployment_group()
        .application_name("lg-fn-app")
        .deployment_group_name("lg-fn-group")
        .deployment_config_name("CodeDeployDefault.LambdaCanary10Percent5Minutes")
        .service_role_arn(s.roles[2].clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut decl = seed::declaration(&c, &s.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for a in decl.stages.iter_mut().flat_map(|st| st.actions.iter_mut()) {
        if a.action_type_id.as_ref().map(|t| t.provider.as_str()) == Some("CodeDeploy") {
            let conf = a.configuration.get_or_insert_with(Default::default);
            conf.insert("ApplicationName".to_string(), "lg-fn-app".to_string());
            conf.insert("DeploymentGroupName".to_string(), "lg-fn-group".to_string());
        }
    }
    seed::update_declaration(&c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    let config = moto.sdk_config(REGION).await;
    let snapshot = pipeaudit::collect::collect_with_config(
        &config,
        &pipeaudit::collect::CollectOptions::default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let group = codedeploy::group_arn("aws", REGION, ACCOUNT, "lg-fn-app", "lg-fn-group");
    let recorded = snapshot
        .resources
        .deploy_groups
        .get(&group)
        .and_then(Observed::value)
        .and_then(|g| g.lambda_deployment.clone());
    assert_eq!(
        recorded,
        Some(Observed::ok(LambdaDeployment {
            undetermined: Some("the group has made no deployment yet".to_string()),
            ..LambdaDeployment::default()
        }))
    );
    assert!(
        !snapshot
            .api_calls
            .contains_key("codedeploy:BatchGetDeployments"),
        "{:?}",
        snapshot.api_calls
    );
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = pipeaudit::rules::engine::evaluate(
        Arc::new(snapshot),
        &rules,
        &pipeaudit::rules::config::Config::default(),
    );
    assert!(
        !eval
            .findings
            .iter()
            .any(|f| f.rule_id == "CD017" || f.rule_id == "CD018")
    );
    let notes: Vec<&str> = eval
        .diagnostics
        .iter()
        .filter(|d| d.resource.as_deref() == Some(group.as_str()))
        .map(|d| {
            assert_eq!(d.kind, pipeaudit::findings::DiagnosticKind::Note, "{d:?}");
            d.message.as_str()
        })
        .collect();
    assert_eq!(
        notes,
        [
            "CodeDeploy group lg-fn-app/lg-fn-group (action Deploy) deploys a Lambda function that could not be determined: the group has made no deployment yet; CD017 and CD018 do not check it"
        ]
    );
    assert!(
        support::gaps(&eval.diagnostics)
            .iter()
            .all(|d| !matches!(d.rule_id.as_deref(), Some("CD017" | "CD018")))
    );
}
