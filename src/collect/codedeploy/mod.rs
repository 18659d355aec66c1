//! CodeDeploy: applications, deployment groups and the deployment
//! configurations the groups name.

mod deployments;

use deployments::last_deployment;
pub use deployments::{AppSpecError, appspec_functions, read_lambda_deployments};

use std::collections::BTreeMap;
use std::future::Future;

use aws_config::retry::RetryConfig;
use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::types::{
    ApplicationInfo, ComputePlatform, DeploymentGroupInfo, DeploymentInfo, RevisionLocationType,
};
use futures::future::join_all;

use super::call::{Ctx, observe, read_error};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, batched, each, region_of};
use crate::model::{
    DeployApplication, DeployConfig, DeployGroup, EcsServiceName, LambdaDeployment, LambdaTarget,
    MinimumHealthyHosts, Observed, ReadError, Resources, TagFilter,
};

/// The applications of the pipelines' CodeDeploy actions.
pub struct Applications;

impl Facts for Applications {
    type Value = DeployApplication;
    const NAME: &'static str = "deploy_applications";
    const ACTION: &'static str = "codedeploy:GetApplication";
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::CodeDeploy::Application");
    const TERRAFORM: Option<&'static str> = Some("aws_codedeploy_app");
    const VARIABLES: &'static [&'static str] = &["deploys"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<DeployApplication>> {
        &r.deploy_applications
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<DeployApplication>> {
        &mut r.deploy_applications
    }
}

impl Kind for Applications {
    /// The application name.
    type Detail = String;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, DeployApplication>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.deploys.iter().filter(|d| own(refs, d)).map(|d| {
                    Found::Read(ToRead {
                        arn: d.application_arn.clone(),
                        region: region_of(&d.application_arn, &w.region),
                        detail: d.application_name.clone(),
                    })
                })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<String>],
    ) -> impl Future<Output = Vec<(String, Observed<DeployApplication>)>> + Send + 'a {
        read_applications(ctx, &c.codedeploy, targets)
    }
}

/// Whether a deploy action's application and group are in the audited
/// account: one whose role is in another account deploys there, and is
/// followed there (`linked`) or named by a note, never read here.
fn own(refs: &Refs<'_>, d: &crate::model::DeployRef) -> bool {
    d.group_arn.split(':').nth(4) == Some(refs.keys.ids.account)
}

/// Reads applications (`detail`: the name), in batches; a failed batch is
/// read one by one.
pub fn read_applications<'a>(
    ctx: &'a Ctx,
    client: &'a Client,
    targets: &'a [ToRead<String>],
) -> impl Future<Output = Vec<(String, Observed<DeployApplication>)>> + Send + 'a {
    batched(
        ctx,
        BATCH_APPS,
        targets,
        BATCH_SIZE,
        |chunk| batch_applications(ctx, client, chunk),
        |t| get_application(ctx, client, &t.arn, &t.detail),
    )
}

/// The deployment groups of the pipelines' CodeDeploy actions.
pub struct Groups;

impl Facts for Groups {
    type Value = DeployGroup;
    const NAME: &'static str = "deploy_groups";
    const ACTION: &'static str = "codedeploy:GetDeploymentGroup";
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::CodeDeploy::DeploymentGroup");
    const TERRAFORM: Option<&'static str> = Some("aws_codedeploy_deployment_group");
    const VARIABLES: &'static [&'static str] = &["deploys"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<DeployGroup>> {
        &r.deploy_groups
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<DeployGroup>> {
        &mut r.deploy_groups
    }

    fn field_errors(g: &DeployGroup) -> Vec<&ReadError> {
        g.lambda_deployment
            .as_ref()
            .and_then(Observed::error)
            .into_iter()
            .collect()
    }
}

impl Kind for Groups {
    /// The application name and the group name.
    type Detail = (String, String);

    fn find(refs: &Refs<'_>) -> Vec<Found<(String, String), DeployGroup>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.deploys.iter().filter(|d| own(refs, d)).map(|d| {
                    Found::Read(ToRead {
                        arn: d.group_arn.clone(),
                        // the group is in its application's region
                        region: region_of(&d.application_arn, &w.region),
                        detail: (d.application_name.clone(), d.group_name.clone()),
                    })
                })
            })
            .collect()
    }

    async fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<(String, String)>],
    ) -> Vec<(String, Observed<DeployGroup>)> {
        let mut read = read_groups(ctx, &c.codedeploy, targets).await;
        // what the Lambda groups deploy: their last deployments, in batches
        read_lambda_deployments(ctx, &c.codedeploy, &mut read).await;
        read
    }
}

/// Reads deployment groups (`detail`: application and group name), one
/// batch per application; a failed batch is read one by one.
pub async fn read_groups(
    ctx: &Ctx,
    client: &Client,
    targets: &[ToRead<(String, String)>],
) -> Vec<(String, Observed<DeployGroup>)> {
    let mut by_app: BTreeMap<&str, Vec<ToRead<(String, String)>>> = BTreeMap::new();
    for t in targets {
        by_app
            .entry(t.detail.0.as_str())
            .or_default()
            .push(t.clone());
    }
    let reads = by_app.into_iter().map(|(app, group)| async move {
        batched(
            ctx,
            BATCH_GROUPS,
            &group,
            BATCH_SIZE,
            |chunk| batch_groups(ctx, client, app, chunk),
            |t| get_group(ctx, client, &t.arn, &t.detail.0, &t.detail.1),
        )
        .await
    });
    join_all(reads).await.into_iter().flatten().collect()
}

/// The deployment configurations the groups name: the built-in EC2 ones are
/// known without a call (their minimum healthy hosts as AWS documents
/// them); a custom one is read with GetDeploymentConfig.
pub struct Configs;

impl Facts for Configs {
    type Value = DeployConfig;
    const NAME: &'static str = "deploy_configs";
    const ACTION: &'static str = "codedeploy:GetDeploymentConfig";
    const PHASE: Phase = Phase::Selected;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = Some("aws_codedeploy_deployment_config");
    const VARIABLES: &'static [&'static str] = &["deploys"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<DeployConfig>> {
        &r.deploy_configs
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<DeployConfig>> {
        &mut r.deploy_configs
    }
}

impl Kind for Configs {
    /// The configuration's name.
    type Detail = String;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, DeployConfig>> {
        refs.resources
            .deploy_groups
            .iter()
            .filter_map(|(group_arn, g)| {
                let name = g.value()?.deployment_config_name.as_deref()?;
                let arn = config_arn(group_arn, name)?;
                Some(match built_in_config(name, &arn) {
                    Some(config) => Found::Known(arn, Observed::ok(config)),
                    None => Found::Read(ToRead {
                        region: group_arn.split(':').nth(3).unwrap_or("").to_string(),
                        arn,
                        detail: name.to_string(),
                    }),
                })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<String>],
    ) -> impl Future<Output = Vec<(String, Observed<DeployConfig>)>> + Send + 'a {
        each(targets, |t| {
            get_config(ctx, &c.codedeploy, &t.arn, &t.detail)
        })
    }
}

/// The ARN of a deployment configuration, in its group's region and account.
pub fn config_arn(group_arn: &str, name: &str) -> Option<String> {
    let parts: Vec<&str> = group_arn.split(':').collect();
    let (partition, region, account) = (parts.get(1)?, parts.get(3)?, parts.get(4)?);
    Some(format!(
        "arn:{partition}:codedeploy:{region}:{account}:deploymentconfig:{name}"
    ))
}

/// A built-in configuration: `Some(minimum healthy hosts)` for the names
/// AWS defines (`None` inside for those that set no minimum: the ECS and
/// Lambda traffic-shifting ones), `None` for a custom name.
pub fn built_in(name: &str) -> Option<Option<MinimumHealthyHosts>> {
    let min = |kind: &str, value: i64| {
        Some(MinimumHealthyHosts {
            kind: kind.to_string(),
            value,
        })
    };
    match name {
        "CodeDeployDefault.AllAtOnce" => Some(min("HOST_COUNT", 0)),
        "CodeDeployDefault.HalfAtATime" => Some(min("FLEET_PERCENT", 50)),
        // as GetDeploymentConfig reports it: one instance at a time, all
        // others kept healthy
        "CodeDeployDefault.OneAtATime" => Some(min("MOST_CONCURRENCY", 1)),
        n if n.starts_with("CodeDeployDefault.") => Some(None),
        _ => None,
    }
}

/// A built-in configuration as GetDeploymentConfig would report it (known
/// without a call); `None` for a custom name.
pub fn built_in_config(name: &str, arn: &str) -> Option<DeployConfig> {
    Some(DeployConfig {
        name: name.to_string(),
        arn: arn.to_string(),
        built_in: true,
        minimum_healthy_hosts: built_in(name)?,
        traffic_routing: built_in_traffic(name).map(str::to_string),
    })
}

/// How a built-in ECS or Lambda configuration shifts traffic (the
/// `trafficRoutingConfig` type GetDeploymentConfig reports for it); `None`
/// for the EC2 ones and for custom names.
pub fn built_in_traffic(name: &str) -> Option<&'static str> {
    let rest = name
        .strip_prefix("CodeDeployDefault.ECS")
        .or_else(|| name.strip_prefix("CodeDeployDefault.Lambda"))?;
    if rest == "AllAtOnce" {
        Some("AllAtOnce")
    } else if rest.starts_with("Canary") {
        Some("TimeBasedCanary")
    } else if rest.starts_with("Linear") {
        Some("TimeBasedLinear")
    } else {
        None
    }
}

/// Reads one custom deployment configuration.
pub async fn get_config(
    ctx: &Ctx,
    client: &Client,
    arn: &str,
    name: &str,
) -> Observed<DeployConfig> {
    const ACTION: &str = "codedeploy:GetDeploymentConfig";
    let result = ctx
        .call(
            ACTION,
            client
                .get_deployment_config()
                .deployment_config_name(name)
                .send(),
        )
        .await;
    observe(
        ACTION,
        result,
        &["DeploymentConfigDoesNotExistException"],
        |out| DeployConfig {
            name: name.to_string(),
            arn: arn.to_string(),
            built_in: false,
            minimum_healthy_hosts: out
                .deployment_config_info()
                .and_then(|i| i.minimum_healthy_hosts())
                .and_then(|m| {
                    Some(MinimumHealthyHosts {
                        kind: m.r#type()?.as_str().to_string(),
                        value: i64::from(m.value()),
                    })
                }),
            traffic_routing: out
                .deployment_config_info()
                .and_then(|i| i.traffic_routing_config())
                .and_then(|t| t.r#type())
                .map(|t| t.as_str().to_string()),
        },
    )
}

/// The ARN of an application.
pub fn application_arn(partition: &str, region: &str, account: &str, app: &str) -> String {
    format!("arn:{partition}:codedeploy:{region}:{account}:application:{app}")
}

/// The ARN of a deployment group.
pub fn group_arn(partition: &str, region: &str, account: &str, app: &str, group: &str) -> String {
    format!("arn:{partition}:codedeploy:{region}:{account}:deploymentgroup:{app}/{group}")
}

/// Reads one application.
pub async fn get_application(
    ctx: &Ctx,
    client: &Client,
    arn: &str,
    name: &str,
) -> Observed<DeployApplication> {
    const ACTION: &str = "codedeploy:GetApplication";
    let result = ctx
        .call(
            ACTION,
            client.get_application().application_name(name).send(),
        )
        .await;
    observe(
        ACTION,
        result,
        &["ApplicationDoesNotExistException"],
        |out| application(name, arn, out.application()),
    )
}

fn application(name: &str, arn: &str, a: Option<&ApplicationInfo>) -> DeployApplication {
    DeployApplication {
        name: name.to_string(),
        arn: arn.to_string(),
        id: a.and_then(|a| a.application_id()).map(str::to_string),
        compute_platform: a
            .and_then(|a| a.compute_platform())
            .map(|c| c.as_str().to_string()),
    }
}

/// Reads one deployment group (absent also when its application is absent).
pub async fn get_group(
    ctx: &Ctx,
    client: &Client,
    arn: &str,
    app: &str,
    name: &str,
) -> Observed<DeployGroup> {
    const ACTION: &str = "codedeploy:GetDeploymentGroup";
    let req = client
        .get_deployment_group()
        .application_name(app)
        .deployment_group_name(name);
    let result = ctx.call(ACTION, req.send()).await;
    observe(
        ACTION,
        result,
        &[
            "DeploymentGroupDoesNotExistException",
            "ApplicationDoesNotExistException",
        ],
        |out| group(arn, app, name, out.deployment_group_info()),
    )
}

fn group(arn: &str, app: &str, name: &str, g: Option<&DeploymentGroupInfo>) -> DeployGroup {
    let Some(g) = g else {
        return DeployGroup {
            application_name: app.to_string(),
            name: name.to_string(),
            arn: arn.to_string(),
            ..DeployGroup::default()
        };
    };
    let ec2 = |f: &aws_sdk_codedeploy::types::Ec2TagFilter| TagFilter {
        key: f.key().map(str::to_string),
        value: f.value().map(str::to_string),
        filter_type: f.r#type().map(|t| t.as_str().to_string()),
    };
    let onprem = |f: &aws_sdk_codedeploy::types::TagFilter| TagFilter {
        key: f.key().map(str::to_string),
        value: f.value().map(str::to_string),
        filter_type: f.r#type().map(|t| t.as_str().to_string()),
    };
    let mut on_premises_tag_filters: Vec<TagFilter> = g
        .on_premises_instance_tag_filters()
        .iter()
        .map(onprem)
        .collect();
    if let Some(set) = g.on_premises_tag_set() {
        on_premises_tag_filters.extend(set.on_premises_tag_set_list().iter().flatten().map(onprem));
    }
    DeployGroup {
        application_name: app.to_string(),
        name: name.to_string(),
        arn: arn.to_string(),
        id: g.deployment_group_id().map(str::to_string),
        service_role_arn: g.service_role_arn().map(str::to_string),
        deployment_config_name: g.deployment_config_name().map(str::to_string),
        ec2_tag_filters: g.ec2_tag_filters().iter().map(ec2).collect(),
        ec2_tag_set: g
            .ec2_tag_set()
            .map(|s| {
                s.ec2_tag_set_list()
                    .iter()
                    .map(|l| l.iter().map(ec2).collect())
                    .collect()
            })
            .unwrap_or_default(),
        on_premises_tag_filters,
        auto_scaling_groups: g
            .auto_scaling_groups()
            .iter()
            .filter_map(|a| a.name().map(str::to_string))
            .collect(),
        auto_rollback_enabled: g.auto_rollback_configuration().is_some_and(|c| c.enabled()),
        auto_rollback_events: g
            .auto_rollback_configuration()
            .map(|c| c.events().iter().map(|e| e.as_str().to_string()).collect())
            .unwrap_or_default(),
        alarms_enabled: g.alarm_configuration().is_some_and(|c| c.enabled()),
        alarms: g
            .alarm_configuration()
            .map(|c| {
                c.alarms()
                    .iter()
                    .filter_map(|a| a.name().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        compute_platform: g.compute_platform().map(|c| c.as_str().to_string()),
        ecs_services: g
            .ecs_services()
            .iter()
            .filter_map(|e| {
                Some(EcsServiceName {
                    cluster: e.cluster_name()?.to_string(),
                    service: e.service_name()?.to_string(),
                })
            })
            .collect(),
        lambda_deployment: (g.compute_platform() == Some(&ComputePlatform::Lambda))
            .then(|| Observed::ok(last_deployment(g))),
    }
}

/// The batch reads, and how many names each takes at once.
const BATCH_APPS: &str = "codedeploy:BatchGetApplications";
const BATCH_GROUPS: &str = "codedeploy:BatchGetDeploymentGroups";
const BATCH_SIZE: usize = 100;

/// No retry for a batch call: a failed batch is read one by one, with retries.
fn no_retry() -> aws_sdk_codedeploy::config::Builder {
    aws_sdk_codedeploy::config::Builder::default().retry_config(RetryConfig::disabled())
}

/// Reads a batch of applications in one call; `None` when the call failed
/// (AWS fails the whole batch when one application does not exist; they
/// are then read one by one, which tells which).
async fn batch_applications(
    ctx: &Ctx,
    client: &Client,
    targets: &[ToRead<String>],
) -> Option<Vec<(String, Observed<DeployApplication>)>> {
    let req = client
        .batch_get_applications()
        .set_application_names(Some(targets.iter().map(|t| t.detail.clone()).collect()))
        .customize()
        .config_override(no_retry());
    let out = match ctx.call(BATCH_APPS, req.send()).await {
        Ok(out) => out,
        Err(e) => {
            ctx.batch_failed(BATCH_APPS, &read_error(BATCH_APPS, &e));
            return None;
        }
    };
    let mut read = Vec::with_capacity(targets.len());
    for t in targets {
        let info = out
            .applications_info()
            .iter()
            .find(|a| a.application_name() == Some(t.detail.as_str()));
        let obs = match info {
            Some(a) => Observed::ok(application(&t.detail, &t.arn, Some(a))),
            None => get_application(ctx, client, &t.arn, &t.detail).await,
        };
        read.push((t.arn.clone(), obs));
    }
    Some(read)
}

/// Reads a batch of one application's deployment groups in one call;
/// `None` when the call failed. A group the batch did not return (AWS names
/// missing groups only in its error message) is read on its own, which
/// tells whether it exists.
async fn batch_groups(
    ctx: &Ctx,
    client: &Client,
    app: &str,
    targets: &[ToRead<(String, String)>],
) -> Option<Vec<(String, Observed<DeployGroup>)>> {
    let req = client
        .batch_get_deployment_groups()
        .application_name(app)
        .set_deployment_group_names(Some(targets.iter().map(|t| t.detail.1.clone()).collect()))
        .customize()
        .config_override(no_retry());
    let out = match ctx.call(BATCH_GROUPS, req.send()).await {
        Ok(out) => out,
        Err(e) => {
            ctx.batch_failed(BATCH_GROUPS, &read_error(BATCH_GROUPS, &e));
            return None;
        }
    };
    let mut read = Vec::with_capacity(targets.len());
    for t in targets {
        let info = out
            .deployment_groups_info()
            .iter()
            .find(|g| g.deployment_group_name() == Some(t.detail.1.as_str()));
        let obs = match info {
            Some(g) => Observed::ok(group(&t.arn, app, &t.detail.1, Some(g))),
            None => get_group(ctx, client, &t.arn, app, &t.detail.1).await,
        };
        read.push((t.arn.clone(), obs));
    }
    Some(read)
}
