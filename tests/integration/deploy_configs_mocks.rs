//! Custom CodeDeploy deployment configurations, read with
//! GetDeploymentConfig. moto has no deployment configurations (no
//! CreateDeploymentConfig, no GetDeploymentConfig), so the reads are served
//! by `aws-smithy-mocks`; the built-in ones need no call at all. Then CD004
//! `deploy-min-healthy-zero` and CD016 `deploy-traffic-all-at-once` on the
//! demo stack with each configuration.

use std::sync::Arc;

use aws_sdk_codedeploy::operation::get_deployment_config::GetDeploymentConfigOutput;
use aws_sdk_codedeploy::types::{
    ComputePlatform, DeploymentConfigInfo, MinimumHealthyHosts, MinimumHealthyHostsType,
    TrafficRoutingConfig, TrafficRoutingType,
};
use aws_smithy_mocks::{Rule, mock};
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::codedeploy;
use pipeaudit::model::{DeployConfig, Observed, ReadErrorKind, Snapshot};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
const ARN: &str = "arn:aws:codedeploy:us-east-1:123456789012:deploymentconfig:ZeroHealthy";

fn client(rules: &[&Rule]) -> aws_sdk_codedeploy::Client {
    crate::mock_client!(aws_sdk_codedeploy, rules)
}

fn config_output(kind: MinimumHealthyHostsType, value: i32) -> GetDeploymentConfigOutput {
    GetDeploymentConfigOutput::builder()
        .deployment_config_info(
            DeploymentConfigInfo::builder()
                .deployment_config_name("ZeroHealthy")
                .minimum_healthy_hosts(
                    MinimumHealthyHosts::builder()
                        .r#type(kind)
                        .value(value)
                        .build(),
                )
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_custom_configuration_is_read_with_its_minimum() {
    let get = mock!(aws_sdk_codedeploy::Client::get_deployment_config)
        .then_output(|| config_output(MinimumHealthyHostsType::FleetPercent, 0));
    let c = client(&[&get]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = codedeploy::get_config(&ctx, &c, ARN, "ZeroHealthy").await;
    let v = got.value().unwrap_or_else(|| panic!("{got:?}"));
    let min = v
        .minimum_healthy_hosts
        .clone()
        .unwrap_or_else(|| panic!("{v:?}"));
    assert_eq!((min.kind.as_str(), min.value), ("FLEET_PERCENT", 0));
    assert!(!v.built_in);
    assert_eq!(get.num_calls(), 1);
}

#[tokio::test]
async fn a_denied_read_is_unknown_and_names_the_permission() {
    let get = mock!(aws_sdk_codedeploy::Client::get_deployment_config)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"AccessDeniedException","message":"not authorized to perform codedeploy:GetDeploymentConfig"}"#.to_string()),
        )
        .repeatedly()
        .build();
    let c = client(&[&get]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = codedeploy::get_config(&ctx, &c, ARN, "ZeroHealthy").await;
    let e = got.error().unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(e.kind, ReadErrorKind::AccessDenied);
    assert_eq!(e.action, "codedeploy:GetDeploymentConfig");
}

#[test]
fn built_in_configurations_are_known_without_a_call() {
    let all = codedeploy::built_in("CodeDeployDefault.AllAtOnce").flatten();
    assert_eq!(
        all.map(|m| (m.kind, m.value)),
        Some(("HOST_COUNT".to_string(), 0))
    );
    assert!(codedeploy::built_in("CodeDeployDefault.OneAtATime").is_some());
    assert!(codedeploy::built_in("CodeDeployDefault.ECSAllAtOnce").is_some());
    assert!(
        codedeploy::built_in("ZeroHealthy").is_none(),
        "custom names are read"
    );
}

/// CD004 on the compliant demo stack with its group pointed at a custom
/// configuration recorded as `config`.
fn cd004_with(config: Observed<DeployConfig>) -> Vec<String> {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    let group = s.pipelines[0].deploys[0].group_arn.clone();
    if let Some(Observed::Ok { value }) = s.resources.deploy_groups.get_mut(&group) {
        value.deployment_config_name = Some("ZeroHealthy".to_string());
    }
    let arn = codedeploy::config_arn(&group, "ZeroHealthy").unwrap_or_default();
    assert_eq!(arn, ARN);
    s.resources.deploy_configs.insert(arn, config);
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    let mut out: Vec<String> = e
        .findings
        .iter()
        .filter(|f| f.rule_id == "CD004")
        .map(|f| f.message.clone())
        .collect();
    out.extend(
        e.diagnostics
            .iter()
            .filter(|d| d.rule_id.as_deref() == Some("CD004"))
            .map(|d| format!("diagnostic: {}", d.permission.clone().unwrap_or_default())),
    );
    out
}

fn custom(kind: &str, value: i64) -> Observed<DeployConfig> {
    Observed::ok(DeployConfig {
        name: "ZeroHealthy".to_string(),
        arn: ARN.to_string(),
        built_in: false,
        minimum_healthy_hosts: Some(pipeaudit::model::MinimumHealthyHosts {
            kind: kind.to_string(),
            value,
        }),
        traffic_routing: None,
    })
}

#[test]
fn cd004_fires_on_a_custom_zero_minimum_and_passes_otherwise() {
    let fired = cd004_with(custom("FLEET_PERCENT", 0));
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].contains("ZeroHealthy"), "{}", fired[0]);
    assert_eq!(cd004_with(custom("HOST_COUNT", 0)).len(), 1);
    assert!(cd004_with(custom("FLEET_PERCENT", 75)).is_empty());
    assert!(cd004_with(custom("HOST_COUNT", 2)).is_empty());
    // unknown is not "fine": a diagnostic naming the permission
    let unknown = cd004_with(Observed::Unknown {
        error: pipeaudit::model::ReadError {
            kind: ReadErrorKind::AccessDenied,
            action: "codedeploy:GetDeploymentConfig".to_string(),
            code: Some("AccessDeniedException".to_string()),
            message: "denied".to_string(),
        },
    });
    assert_eq!(
        unknown,
        ["diagnostic: codedeploy:GetDeploymentConfig"],
        "{unknown:?}"
    );
}

/// A custom ECS configuration as GetDeploymentConfig returns it, from
/// `aws-smithy-mocks` (moto serves no deployment configuration).
fn traffic_output(kind: TrafficRoutingType) -> GetDeploymentConfigOutput {
    GetDeploymentConfigOutput::builder()
        .deployment_config_info(
            DeploymentConfigInfo::builder()
                .deployment_config_name("Shift")
                .compute_platform(ComputePlatform::Ecs)
                .traffic_routing_config(TrafficRoutingConfig::builder().r#type(kind).build())
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_custom_configuration_is_read_with_its_traffic_routing() {
    let get = mock!(aws_sdk_codedeploy::Client::get_deployment_config)
        .then_output(|| traffic_output(TrafficRoutingType::AllAtOnce));
    let c = client(&[&get]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = codedeploy::get_config(&ctx, &c, ARN, "Shift").await;
    let v = got.value().unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(v.traffic_routing.as_deref(), Some("AllAtOnce"));
    assert_eq!(v.minimum_healthy_hosts, None);
    assert_eq!(get.num_calls(), 1);
}

#[test]
fn built_in_traffic_routing_is_known_without_a_call() {
    use codedeploy::built_in_traffic;
    assert_eq!(
        built_in_traffic("CodeDeployDefault.ECSAllAtOnce"),
        Some("AllAtOnce")
    );
    assert_eq!(
        built_in_traffic("CodeDeployDefault.LambdaAllAtOnce"),
        Some("AllAtOnce")
    );
    assert_eq!(
        built_in_traffic("CodeDeployDefault.ECSCanary10Percent5Minutes"),
        Some("TimeBasedCanary")
    );
    assert_eq!(
        built_in_traffic("CodeDeployDefault.LambdaLinear10PercentEvery1Minute"),
        Some("TimeBasedLinear")
    );
    assert_eq!(built_in_traffic("CodeDeployDefault.AllAtOnce"), None);
    assert_eq!(built_in_traffic("Shift"), None);
}

/// CD016 and CD004 on the compliant demo stack with its group made a group
/// of `platform` using configuration `name`, recorded as `config`: the
/// findings and gap diagnostics of each.
fn traffic_rules_with(platform: &str, name: &str, config: Observed<DeployConfig>) -> Vec<String> {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    let group = s.pipelines[0].deploys[0].group_arn.clone();
    if let Some(Observed::Ok { value }) = s.resources.deploy_groups.get_mut(&group) {
        value.deployment_config_name = Some(name.to_string());
        value.compute_platform = Some(platform.to_string());
    }
    let arn = codedeploy::config_arn(&group, name).unwrap_or_default();
    s.resources.deploy_configs.insert(arn, config);
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    let mut out: Vec<String> = e
        .findings
        .iter()
        .filter(|f| f.rule_id == "CD016" || f.rule_id == "CD004")
        .map(|f| format!("{} {}", f.rule_id, f.resource_arn == group))
        .collect();
    out.extend(
        e.diagnostics
            .iter()
            .filter(|d| matches!(d.rule_id.as_deref(), Some("CD016" | "CD004")))
            .map(|d| {
                format!(
                    "diagnostic {}: {}",
                    d.rule_id.clone().unwrap_or_default(),
                    d.permission.clone().unwrap_or_default()
                )
            }),
    );
    out
}

fn shift(name: &str, built_in: bool, routing: &str) -> Observed<DeployConfig> {
    Observed::ok(DeployConfig {
        name: name.to_string(),
        arn: String::new(),
        built_in,
        minimum_healthy_hosts: None,
        traffic_routing: Some(routing.to_string()),
    })
}

#[test]
fn cd016_fires_on_all_at_once_traffic_of_ecs_and_lambda_groups_only() {
    let all = "CodeDeployDefault.ECSAllAtOnce";
    assert_eq!(
        traffic_rules_with("ECS", all, shift(all, true, "AllAtOnce")),
        ["CD016 true"]
    );
    let lambda = "CodeDeployDefault.LambdaAllAtOnce";
    assert_eq!(
        traffic_rules_with("Lambda", lambda, shift(lambda, true, "AllAtOnce")),
        ["CD016 true"]
    );
    let linear = "CodeDeployDefault.ECSLinear10PercentEvery1Minutes";
    assert!(traffic_rules_with("ECS", linear, shift(linear, true, "TimeBasedLinear")).is_empty());
    // a custom all-at-once configuration (read through the mock above)
    assert_eq!(
        traffic_rules_with("ECS", "Shift", shift("Shift", false, "AllAtOnce")),
        ["CD016 true"]
    );
    // CD004 and its OneAtATime fix stay EC2-only: an ECS group with a zero
    // minimum (as no ECS configuration has) is not CD004's
    let zero = Observed::ok(DeployConfig {
        name: "Zero".to_string(),
        arn: String::new(),
        built_in: false,
        minimum_healthy_hosts: Some(pipeaudit::model::MinimumHealthyHosts {
            kind: "HOST_COUNT".to_string(),
            value: 0,
        }),
        traffic_routing: None,
    });
    assert!(traffic_rules_with("ECS", "Zero", zero.clone()).is_empty());
    assert_eq!(traffic_rules_with("Server", "Zero", zero), ["CD004 true"]);
    // unknown is not "fine": a diagnostic naming the permission
    let unknown = traffic_rules_with(
        "ECS",
        "Shift",
        Observed::Unknown {
            error: pipeaudit::model::ReadError {
                kind: ReadErrorKind::AccessDenied,
                action: "codedeploy:GetDeploymentConfig".to_string(),
                code: Some("AccessDeniedException".to_string()),
                message: "denied".to_string(),
            },
        },
    );
    assert_eq!(
        unknown,
        ["diagnostic CD016: codedeploy:GetDeploymentConfig"],
        "{unknown:?}"
    );
}
