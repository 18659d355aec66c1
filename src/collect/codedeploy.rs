//! CodeDeploy: applications and deployment groups.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_codedeploy::Client;

use super::call::{Ctx, observe};
use super::clients::RegionClients;
use super::kind::{Found, Kind, Refs, Target, each, region_of};
use crate::model::{DeployApplication, DeployGroup, Observed, Resources, TagFilter};

/// The applications of the pipelines' CodeDeploy actions.
pub struct Applications;

impl Kind for Applications {
    type Value = DeployApplication;
    /// The application name.
    type Detail = String;
    const NAME: &'static str = "deploy_applications";
    const ACTION: &'static str = "codedeploy:GetApplication";

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<DeployApplication>> {
        &mut r.deploy_applications
    }

    fn find(refs: &Refs<'_>) -> Vec<Found<String, DeployApplication>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.deploys.iter().map(|d| {
                    Found::Read(Target {
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
        targets: &'a [Target<String>],
    ) -> impl Future<Output = Vec<(String, Observed<DeployApplication>)>> + Send + 'a {
        each(targets, |t| {
            get_application(ctx, &c.codedeploy, &t.arn, &t.detail)
        })
    }
}

/// The deployment groups of the pipelines' CodeDeploy actions.
pub struct Groups;

impl Kind for Groups {
    type Value = DeployGroup;
    /// The application name and the group name.
    type Detail = (String, String);
    const NAME: &'static str = "deploy_groups";
    const ACTION: &'static str = "codedeploy:GetDeploymentGroup";

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<DeployGroup>> {
        &mut r.deploy_groups
    }

    fn find(refs: &Refs<'_>) -> Vec<Found<(String, String), DeployGroup>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.deploys.iter().map(|d| {
                    Found::Read(Target {
                        arn: d.group_arn.clone(),
                        // the group is in its application's region
                        region: region_of(&d.application_arn, &w.region),
                        detail: (d.application_name.clone(), d.group_name.clone()),
                    })
                })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        targets: &'a [Target<(String, String)>],
    ) -> impl Future<Output = Vec<(String, Observed<DeployGroup>)>> + Send + 'a {
        each(targets, |t| {
            get_group(ctx, &c.codedeploy, &t.arn, &t.detail.0, &t.detail.1)
        })
    }
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
        |out| {
            let a = out.application();
            DeployApplication {
                name: name.to_string(),
                arn: arn.to_string(),
                id: a.and_then(|a| a.application_id()).map(str::to_string),
                compute_platform: a
                    .and_then(|a| a.compute_platform())
                    .map(|c| c.as_str().to_string()),
            }
        },
    )
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
        |out| {
            let Some(g) = out.deployment_group_info() else {
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
                on_premises_tag_filters
                    .extend(set.on_premises_tag_set_list().iter().flatten().map(onprem));
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
            }
        },
    )
}
