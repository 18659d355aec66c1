//! Wiring: a pipeline's declaration resolved into the ARNs of what it points
//! at ([`PipelineWiring`]): CodeCommit, connection and S3 sources, CodeBuild
//! projects, CodeDeploy applications and groups, artifact stores with their
//! keys, and the EventBridge rules that trigger it. Pure: no call is made
//! here.

use std::collections::BTreeMap;

use super::key_refs::{Ids, KeyResolver};
use super::{cloudformation, codebuild, codecommit, codedeploy, s3};
use crate::model::{
    ArtifactStoreRef, BuildRef, ConnectionSourceRef, DeployRef, EcsDeployRef, EventRule,
    LambdaInvokeRef, Observed, OtherDeployRef, Pipeline, PipelineWiring, S3SourceRef, SourceRef,
};

/// Deploy providers checked by other parts of the wiring, or whose own
/// checks live elsewhere (CloudFormation): not named as unchecked.
const CHECKED_DEPLOYS: &[&str] = &[
    "CodeDeploy",
    "CodeDeployToECS",
    "ECS",
    "CloudFormation",
    "CloudFormationStackSet",
    "CloudFormationStackInstances",
];

/// The wiring of a pipeline whose declaration could not be read: its
/// identity only.
pub fn unread(region: String, name: String, arn: String) -> PipelineWiring {
    PipelineWiring {
        name,
        arn,
        region,
        ..PipelineWiring::default()
    }
}

/// Links the trigger rules that target the pipeline. Only rules whose
/// targets were read are linked: a rule whose targets could not be read
/// (kept as unknown) may or may not target this pipeline, and the
/// evaluation treats every such rule of the region as a gap in the
/// pipeline's triggers (`Snapshot::trigger_gaps`).
pub fn link_triggers(w: &mut PipelineWiring, rules: &BTreeMap<String, Observed<EventRule>>) {
    w.trigger_rules = rules
        .iter()
        .filter(|(_, r)| match r {
            Observed::Ok { value } => value.targets.iter().any(|t| t.arn == w.arn),
            _ => false,
        })
        .map(|(rule_arn, _)| rule_arn.clone())
        .collect();
}

/// Resolves a pipeline declaration's references into ARNs.
pub fn wire(p: &Pipeline, ids: Ids<'_>, keys: &KeyResolver<'_>) -> PipelineWiring {
    let mut w = PipelineWiring {
        name: p.name.clone(),
        arn: p.arn.clone(),
        region: p.region.clone(),
        role_arn: p.role_arn.clone(),
        ..PipelineWiring::default()
    };
    for stage in &p.stages {
        for a in &stage.actions {
            let region = a.region.clone().unwrap_or_else(|| p.region.clone());
            let conf = |k: &str| a.configuration.get(k).cloned().unwrap_or_default();
            if let Some(r) = &a.role_arn {
                w.action_roles.push(r.clone());
            }
            match (a.category.as_str(), a.provider.as_str()) {
                ("Source", "CodeCommit") => {
                    let name = conf("RepositoryName");
                    w.sources.push(SourceRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        repository_arn: codecommit::repository_arn(
                            ids.partition,
                            &region,
                            ids.account,
                            &name,
                        ),
                        repository_name: name,
                        branch: a.configuration.get("BranchName").cloned(),
                        poll_for_source_changes: a
                            .configuration
                            .get("PollForSourceChanges")
                            .and_then(|v| v.trim().to_ascii_lowercase().parse::<bool>().ok()),
                    });
                }
                ("Source", "CodeStarSourceConnection") => {
                    let opt = |k: &str| a.configuration.get(k).cloned().filter(|v| !v.is_empty());
                    w.connection_sources.push(ConnectionSourceRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        connection_arn: conf("ConnectionArn"),
                        repository: opt("FullRepositoryId"),
                        branch: opt("BranchName"),
                        detect_changes: a
                            .configuration
                            .get("DetectChanges")
                            .and_then(|v| v.trim().to_ascii_lowercase().parse::<bool>().ok()),
                    });
                }
                ("Source", "S3") => {
                    let bucket = conf("S3Bucket");
                    w.s3_sources.push(S3SourceRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        bucket_arn: s3::bucket_arn(ids.partition, &bucket),
                        bucket,
                        object_key: conf("S3ObjectKey"),
                        region: region.clone(),
                        poll_for_source_changes: a
                            .configuration
                            .get("PollForSourceChanges")
                            .and_then(|v| v.trim().to_ascii_lowercase().parse::<bool>().ok()),
                    });
                }
                ("Build" | "Test", "CodeBuild") => {
                    let name = conf("ProjectName");
                    w.builds.push(BuildRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        project_arn: codebuild::project_arn(
                            ids.partition,
                            &region,
                            ids.account,
                            &name,
                        ),
                        project_name: name,
                    });
                }
                ("Deploy", "ECS") => {
                    let opt = |k: &str| a.configuration.get(k).cloned().filter(|v| !v.is_empty());
                    w.ecs_deploys.push(EcsDeployRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        provider: a.provider.clone(),
                        region: region.clone(),
                        cluster: opt("ClusterName"),
                        service: opt("ServiceName"),
                        group_arn: None,
                    });
                }
                ("Deploy", "CodeDeploy" | "CodeDeployToECS") => {
                    let app = conf("ApplicationName");
                    let group = conf("DeploymentGroupName");
                    // an action whose role is in another account deploys
                    // to that account's application and group
                    let account = a
                        .role_arn
                        .as_deref()
                        .and_then(cloudformation::account_of)
                        .unwrap_or(ids.account);
                    if a.provider == "CodeDeployToECS" {
                        w.ecs_deploys.push(EcsDeployRef {
                            stage: stage.name.clone(),
                            action: a.name.clone(),
                            provider: a.provider.clone(),
                            region: region.clone(),
                            cluster: None,
                            service: None,
                            group_arn: Some(codedeploy::group_arn(
                                ids.partition,
                                &region,
                                account,
                                &app,
                                &group,
                            )),
                        });
                    }
                    w.deploys.push(DeployRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        application_arn: codedeploy::application_arn(
                            ids.partition,
                            &region,
                            account,
                            &app,
                        ),
                        group_arn: codedeploy::group_arn(
                            ids.partition,
                            &region,
                            account,
                            &app,
                            &group,
                        ),
                        application_name: app,
                        group_name: group,
                    });
                }
                ("Invoke", "Lambda") => {
                    let name = conf("FunctionName");
                    w.lambda_invokes.push(LambdaInvokeRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        function_arn: crate::model::lambda_function_arn(
                            ids.partition,
                            &region,
                            ids.account,
                            &name,
                        ),
                        function_name: name,
                        takes_artifacts: !a.input_artifacts.is_empty(),
                    });
                }
                ("Deploy", provider) if !CHECKED_DEPLOYS.contains(&provider) => {
                    w.other_deploys.push(OtherDeployRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        provider: provider.to_string(),
                        role_arn: a.role_arn.clone(),
                    });
                }
                _ => {}
            }
        }
    }
    w.action_roles.sort();
    w.action_roles.dedup();
    w.stack_deploys = cloudformation::stack_deploys(p, ids);
    for s in &p.artifact_stores {
        let region = s.region.clone().unwrap_or_else(|| p.region.clone());
        let key_arn = s
            .encryption_key_id
            .as_ref()
            .map(|k| keys.resolve(&region, k).arn());
        w.artifact_stores.push(ArtifactStoreRef {
            bucket_arn: s3::bucket_arn(ids.partition, &s.location),
            bucket: s.location.clone(),
            key_ref: s.encryption_key_id.clone(),
            key_arn,
            region,
        });
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, Stage};

    #[test]
    fn connection_sources_are_wired_with_their_settings() {
        let conf = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let action = |name: &str, configuration| Action {
            name: name.to_string(),
            category: "Source".to_string(),
            owner: "AWS".to_string(),
            provider: "CodeStarSourceConnection".to_string(),
            version: "1".to_string(),
            configuration,
            ..Action::default()
        };
        let p = Pipeline {
            name: "p".to_string(),
            arn: "arn:aws:codepipeline:us-east-1:123456789012:p".to_string(),
            region: "us-east-1".to_string(),
            stages: vec![Stage {
                name: "Source".to_string(),
                actions: vec![
                    action(
                        "App",
                        conf(&[
                            (
                                "ConnectionArn",
                                "arn:aws:codeconnections:us-east-1:123456789012:connection/a",
                            ),
                            ("FullRepositoryId", "acme/app"),
                            ("BranchName", "main"),
                            ("DetectChanges", "False"),
                        ]),
                    ),
                    action(
                        "Lib",
                        conf(&[(
                            "ConnectionArn",
                            "arn:aws:codestar-connections:us-east-1:123456789012:connection/b",
                        )]),
                    ),
                ],
            }],
            ..Pipeline::default()
        };
        let aliases = BTreeMap::new();
        let keys = KeyResolver {
            ids: Ids {
                partition: "aws",
                account: "123456789012",
            },
            aliases: &aliases,
        };
        let w = wire(&p, keys.ids, &keys);
        assert!(w.sources.is_empty());
        assert_eq!(
            w.connection_sources,
            vec![
                ConnectionSourceRef {
                    stage: "Source".to_string(),
                    action: "App".to_string(),
                    connection_arn: "arn:aws:codeconnections:us-east-1:123456789012:connection/a"
                        .to_string(),
                    repository: Some("acme/app".to_string()),
                    branch: Some("main".to_string()),
                    detect_changes: Some(false),
                },
                ConnectionSourceRef {
                    stage: "Source".to_string(),
                    action: "Lib".to_string(),
                    connection_arn:
                        "arn:aws:codestar-connections:us-east-1:123456789012:connection/b"
                            .to_string(),
                    repository: None,
                    branch: None,
                    detect_changes: None,
                },
            ]
        );
    }

    #[test]
    fn ecs_and_other_deploys_are_wired() {
        let action = |name: &str, provider: &str, pairs: &[(&str, &str)]| Action {
            name: name.to_string(),
            category: "Deploy".to_string(),
            owner: "AWS".to_string(),
            provider: provider.to_string(),
            version: "1".to_string(),
            configuration: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            role_arn: (provider == "ElasticBeanstalk")
                .then(|| "arn:aws:iam::123456789012:role/eb".to_string()),
            ..Action::default()
        };
        let p = Pipeline {
            name: "p".to_string(),
            arn: "arn:aws:codepipeline:us-east-1:123456789012:p".to_string(),
            region: "us-east-1".to_string(),
            stages: vec![Stage {
                name: "Deploy".to_string(),
                actions: vec![
                    action(
                        "Rolling",
                        "ECS",
                        &[("ClusterName", "web"), ("ServiceName", "api")],
                    ),
                    action(
                        "BlueGreen",
                        "CodeDeployToECS",
                        &[("ApplicationName", "app"), ("DeploymentGroupName", "bg")],
                    ),
                    action(
                        "Beanstalk",
                        "ElasticBeanstalk",
                        &[("ApplicationName", "eb")],
                    ),
                    action("Stack", "CloudFormation", &[("StackName", "s")]),
                ],
            }],
            ..Pipeline::default()
        };
        let aliases = BTreeMap::new();
        let keys = KeyResolver {
            ids: Ids {
                partition: "aws",
                account: "123456789012",
            },
            aliases: &aliases,
        };
        let w = wire(&p, keys.ids, &keys);
        let group = "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:app/bg";
        assert_eq!(
            w.ecs_deploys,
            vec![
                EcsDeployRef {
                    stage: "Deploy".to_string(),
                    action: "Rolling".to_string(),
                    provider: "ECS".to_string(),
                    region: "us-east-1".to_string(),
                    cluster: Some("web".to_string()),
                    service: Some("api".to_string()),
                    group_arn: None,
                },
                EcsDeployRef {
                    stage: "Deploy".to_string(),
                    action: "BlueGreen".to_string(),
                    provider: "CodeDeployToECS".to_string(),
                    region: "us-east-1".to_string(),
                    cluster: None,
                    service: None,
                    group_arn: Some(group.to_string()),
                },
            ]
        );
        // the blue/green group is read as a CodeDeploy group
        assert_eq!(w.deploys.len(), 1);
        assert_eq!(w.deploys[0].group_arn, group);
        // CloudFormation is checked elsewhere: only Elastic Beanstalk is named
        assert_eq!(
            w.other_deploys,
            vec![OtherDeployRef {
                stage: "Deploy".to_string(),
                action: "Beanstalk".to_string(),
                provider: "ElasticBeanstalk".to_string(),
                role_arn: Some("arn:aws:iam::123456789012:role/eb".to_string()),
            }]
        );
        let (targets, gaps) = crate::model::ecs_targets(&w, &crate::model::Resources::default());
        assert!(gaps.is_empty());
        assert_eq!(
            targets
                .iter()
                .map(|t| t.service_arn.as_str())
                .collect::<Vec<_>>(),
            ["arn:aws:ecs:us-east-1:123456789012:service/web/api"]
        );
    }

    /// A CodeDeploy action whose role is in another account deploys to
    /// that account's application and group; one with the pipeline's own
    /// role, or none, to the pipeline's account.
    #[test]
    fn codedeploy_groups_are_in_the_account_of_the_action_role() {
        let action = |name: &str, provider: &str, role: Option<&str>| Action {
            name: name.to_string(),
            category: "Deploy".to_string(),
            owner: "AWS".to_string(),
            provider: provider.to_string(),
            version: "1".to_string(),
            configuration: [("ApplicationName", "app"), ("DeploymentGroupName", "prod")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            role_arn: role.map(str::to_string),
            ..Action::default()
        };
        let p = Pipeline {
            name: "p".to_string(),
            arn: "arn:aws:codepipeline:us-east-1:111111111111:p".to_string(),
            region: "us-east-1".to_string(),
            stages: vec![Stage {
                name: "Deploy".to_string(),
                actions: vec![
                    action("Own", "CodeDeploy", None),
                    action(
                        "OwnRole",
                        "CodeDeploy",
                        Some("arn:aws:iam::111111111111:role/deployer"),
                    ),
                    action(
                        "Far",
                        "CodeDeploy",
                        Some("arn:aws:iam::222222222222:role/deployer"),
                    ),
                    action(
                        "FarEcs",
                        "CodeDeployToECS",
                        Some("arn:aws:iam::222222222222:role/deployer"),
                    ),
                ],
            }],
            ..Pipeline::default()
        };
        let aliases = BTreeMap::new();
        let keys = KeyResolver {
            ids: Ids {
                partition: "aws",
                account: "111111111111",
            },
            aliases: &aliases,
        };
        let w = wire(&p, keys.ids, &keys);
        let own = "arn:aws:codedeploy:us-east-1:111111111111:deploymentgroup:app/prod";
        let far = "arn:aws:codedeploy:us-east-1:222222222222:deploymentgroup:app/prod";
        let groups: Vec<&str> = w.deploys.iter().map(|d| d.group_arn.as_str()).collect();
        assert_eq!(groups, [own, own, far, far]);
        assert_eq!(
            w.deploys[2].application_arn,
            "arn:aws:codedeploy:us-east-1:222222222222:application:app"
        );
        assert_eq!(w.ecs_deploys[0].group_arn.as_deref(), Some(far));
        assert_eq!(
            crate::model::deploy_account(&w.deploys[2], "111111111111"),
            "222222222222"
        );
    }

    #[test]
    fn s3_sources_are_wired_with_their_bucket_key_and_polling() {
        let action = |name: &str, pairs: &[(&str, &str)], region: Option<&str>| Action {
            name: name.to_string(),
            category: "Source".to_string(),
            owner: "AWS".to_string(),
            provider: "S3".to_string(),
            version: "1".to_string(),
            configuration: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            region: region.map(str::to_string),
            ..Action::default()
        };
        let p = Pipeline {
            name: "p".to_string(),
            arn: "arn:aws:codepipeline:us-east-1:123456789012:p".to_string(),
            region: "us-east-1".to_string(),
            stages: vec![Stage {
                name: "Source".to_string(),
                actions: vec![
                    action(
                        "Upload",
                        &[
                            ("S3Bucket", "src-bucket"),
                            ("S3ObjectKey", "app/source.zip"),
                            ("PollForSourceChanges", "False"),
                        ],
                        None,
                    ),
                    action(
                        "Other",
                        &[("S3Bucket", "eu-bucket"), ("S3ObjectKey", "b.zip")],
                        Some("eu-west-1"),
                    ),
                ],
            }],
            ..Pipeline::default()
        };
        let aliases = BTreeMap::new();
        let keys = KeyResolver {
            ids: Ids {
                partition: "aws",
                account: "123456789012",
            },
            aliases: &aliases,
        };
        let w = wire(&p, keys.ids, &keys);
        assert!(w.sources.is_empty() && w.connection_sources.is_empty());
        assert_eq!(
            w.s3_sources,
            vec![
                S3SourceRef {
                    stage: "Source".to_string(),
                    action: "Upload".to_string(),
                    region: "us-east-1".to_string(),
                    bucket: "src-bucket".to_string(),
                    bucket_arn: "arn:aws:s3:::src-bucket".to_string(),
                    object_key: "app/source.zip".to_string(),
                    poll_for_source_changes: Some(false),
                },
                S3SourceRef {
                    stage: "Source".to_string(),
                    action: "Other".to_string(),
                    region: "eu-west-1".to_string(),
                    bucket: "eu-bucket".to_string(),
                    bucket_arn: "arn:aws:s3:::eu-bucket".to_string(),
                    object_key: "b.zip".to_string(),
                    poll_for_source_changes: None,
                },
            ]
        );
    }
}
