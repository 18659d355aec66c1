//! ECS: the services the pipelines' ECS deploy actions deploy to
//! (DescribeServices, up to 10 services of one cluster a call) and the task
//! definition revision each service runs (DescribeTaskDefinition, once per
//! revision however many services run it).

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_ecs::Client;
use futures::future::join_all;

use super::call::{Ctx, observe, read_error};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, each, region_of};
use crate::model::{Container, EcsService, Observed, Resources, TaskDefinition, ecs_targets};

/// How many services one DescribeServices call takes.
const SERVICES_PER_CALL: usize = 10;

/// The ECS services of the pipelines' `ECS` and `CodeDeployToECS` actions.
pub struct Services;

impl Facts for Services {
    type Value = EcsService;
    const NAME: &'static str = "ecs_services";
    const ACTION: &'static str = "ecs:DescribeServices";
    const PHASE: Phase = Phase::Selected;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = Some("aws_ecs_service");
    const VARIABLES: &'static [&'static str] = &["ecs_services", "images"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<EcsService>> {
        &r.ecs_services
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<EcsService>> {
        &mut r.ecs_services
    }
}

impl Kind for Services {
    /// The cluster and the service name.
    type Detail = (String, String);

    fn find(refs: &Refs<'_>) -> Vec<Found<(String, String), EcsService>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                let (targets, _) = ecs_targets(w, refs.resources);
                targets
                    .into_iter()
                    .map(|t| {
                        Found::Read(ToRead {
                            region: region_of(&t.service_arn, &w.region),
                            arn: t.service_arn,
                            detail: (t.cluster, t.service),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    async fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<(String, String)>],
    ) -> Vec<(String, Observed<EcsService>)> {
        let mut by_cluster: BTreeMap<&str, Vec<&ToRead<(String, String)>>> = BTreeMap::new();
        for t in targets {
            by_cluster.entry(t.detail.0.as_str()).or_default().push(t);
        }
        let reads = by_cluster.into_iter().flat_map(|(cluster, ts)| {
            ts.chunks(SERVICES_PER_CALL)
                .map(|chunk| describe_services(ctx, &c.ecs, cluster, chunk.to_vec()))
                .collect::<Vec<_>>()
        });
        join_all(reads).await.into_iter().flatten().collect()
    }
}

/// Reads up to ten services of one cluster in one call. A service the
/// answer lists as a failure with reason `MISSING` does not exist; a failed
/// call leaves every service of the batch unknown.
async fn describe_services(
    ctx: &Ctx,
    client: &Client,
    cluster: &str,
    targets: Vec<&ToRead<(String, String)>>,
) -> Vec<(String, Observed<EcsService>)> {
    const ACTION: &str = "ecs:DescribeServices";
    let req = client
        .describe_services()
        .cluster(cluster)
        .set_services(Some(targets.iter().map(|t| t.detail.1.clone()).collect()));
    let out = match ctx.call(ACTION, req.send()).await {
        Ok(out) => out,
        Err(e) => {
            let error = read_error(ACTION, &e);
            return targets
                .iter()
                .map(|t| {
                    (
                        t.arn.clone(),
                        Observed::Unknown {
                            error: error.clone(),
                        },
                    )
                })
                .collect();
        }
    };
    targets
        .iter()
        .map(|t| {
            let name = t.detail.1.as_str();
            let found = out.services().iter().find(|s| {
                s.service_name() == Some(name) || s.service_arn() == Some(t.arn.as_str())
            });
            let obs = match found {
                Some(s) => Observed::ok(EcsService {
                    name: name.to_string(),
                    arn: t.arn.clone(),
                    cluster: s.cluster_arn().unwrap_or(cluster).to_string(),
                    status: s.status().map(str::to_string),
                    task_definition: s.task_definition().map(str::to_string),
                    deployment_controller: s
                        .deployment_controller()
                        .map(|d| d.r#type().as_str().to_string()),
                }),
                None => {
                    let failure = out.failures().iter().find(|f| {
                        f.arn()
                            .is_some_and(|a| a == t.arn || a.ends_with(&format!("/{name}")))
                    });
                    match failure.and_then(|f| f.reason()) {
                        Some("MISSING") | None => Observed::Absent,
                        Some(reason) => Observed::Unknown {
                            error: crate::model::ReadError {
                                kind: crate::model::ReadErrorKind::Service,
                                action: ACTION.to_string(),
                                code: Some(reason.to_string()),
                                message: format!("service {name} of cluster {cluster}: {reason}"),
                            },
                        },
                    }
                }
            };
            (t.arn.clone(), obs)
        })
        .collect()
}

/// The task definition revisions the services run.
pub struct TaskDefinitions;

impl Facts for TaskDefinitions {
    type Value = TaskDefinition;
    const NAME: &'static str = "task_definitions";
    const ACTION: &'static str = "ecs:DescribeTaskDefinition";
    const PHASE: Phase = Phase::Running;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = Some("aws_ecs_task_definition");
    const VARIABLES: &'static [&'static str] = &["ecs_services", "images"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<TaskDefinition>> {
        &r.task_definitions
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<TaskDefinition>> {
        &mut r.task_definitions
    }
}

impl Kind for TaskDefinitions {
    type Detail = ();

    fn find(refs: &Refs<'_>) -> Vec<Found<(), TaskDefinition>> {
        let fallback = refs.regions.first().map(String::as_str).unwrap_or("");
        refs.resources
            .ecs_services
            .values()
            .filter_map(|s| s.value()?.task_definition.clone())
            .map(|arn| {
                Found::Read(ToRead {
                    region: region_of(&arn, fallback),
                    arn,
                    detail: (),
                })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<()>],
    ) -> impl Future<Output = Vec<(String, Observed<TaskDefinition>)>> + Send + 'a {
        each(targets, |t| describe_task_definition(ctx, &c.ecs, &t.arn))
    }
}

/// Reads one task definition revision.
pub async fn describe_task_definition(
    ctx: &Ctx,
    client: &Client,
    arn: &str,
) -> Observed<TaskDefinition> {
    const ACTION: &str = "ecs:DescribeTaskDefinition";
    let result = ctx
        .call(
            ACTION,
            client
                .describe_task_definition()
                .task_definition(arn)
                .send(),
        )
        .await;
    observe(ACTION, result, &[], |out| {
        out.task_definition().map(|td| TaskDefinition {
            arn: arn.to_string(),
            family: td.family().unwrap_or_default().to_string(),
            revision: i64::from(td.revision()),
            task_role_arn: td.task_role_arn().map(|r| role_arn(r, arn)),
            execution_role_arn: td.execution_role_arn().map(|r| role_arn(r, arn)),
            containers: td
                .container_definitions()
                .iter()
                .map(|c| Container {
                    name: c.name().unwrap_or_default().to_string(),
                    image: c.image().unwrap_or_default().to_string(),
                })
                .collect(),
        })
    })
    .flatten()
}

/// A task definition names its roles by ARN or by name: a name is a role
/// of the task definition's account.
fn role_arn(role: &str, task_definition_arn: &str) -> String {
    if role.starts_with("arn:") {
        return role.to_string();
    }
    let mut parts = task_definition_arn.split(':');
    let partition = parts.nth(1).unwrap_or("aws");
    let account = parts.nth(2).unwrap_or("");
    format!("arn:{partition}:iam::{account}:role/{role}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_become_arns_of_the_task_definition_account() {
        let td = "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:3";
        assert_eq!(
            role_arn("web-task", td),
            "arn:aws:iam::123456789012:role/web-task"
        );
        let full = "arn:aws:iam::210987654321:role/x";
        assert_eq!(role_arn(full, td), full);
    }
}
