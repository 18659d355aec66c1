//! Wiring: a pipeline's declaration resolved into the ARNs of what it points
//! at ([`PipelineWiring`]): CodeCommit sources, CodeBuild projects,
//! CodeDeploy applications and groups, artifact stores with their keys, and
//! the EventBridge rules that trigger it. Pure: no call is made here.

use std::collections::BTreeMap;

use super::key_refs::{Ids, KeyResolver};
use super::{codebuild, codecommit, codedeploy, s3};
use crate::model::{
    ArtifactStoreRef, BuildRef, DeployRef, EventRule, Observed, Pipeline, PipelineWiring, SourceRef,
};

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
                ("Deploy", "CodeDeploy") => {
                    let app = conf("ApplicationName");
                    let group = conf("DeploymentGroupName");
                    w.deploys.push(DeployRef {
                        stage: stage.name.clone(),
                        action: a.name.clone(),
                        application_arn: codedeploy::application_arn(
                            ids.partition,
                            &region,
                            ids.account,
                            &app,
                        ),
                        group_arn: codedeploy::group_arn(
                            ids.partition,
                            &region,
                            ids.account,
                            &app,
                            &group,
                        ),
                        application_name: app,
                        group_name: group,
                    });
                }
                _ => {}
            }
        }
    }
    w.action_roles.sort();
    w.action_roles.dedup();
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
