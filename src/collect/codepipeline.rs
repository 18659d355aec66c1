//! CodePipeline: list the pipelines of a region and read each declaration.

use std::collections::BTreeMap;

use aws_sdk_codepipeline::Client;

use super::call::{Ctx, observe, read_error, timestamp};
use super::kind::{Facts, Phase, hidden};
use crate::model::{
    Action, ArtifactStore, GitPatterns, Listing, Observed, Pipeline, PipelineTrigger,
    PullRequestFilter, PushFilter, ReadError, Resources, Snapshot, Stage,
};

/// The pipelines of the audited regions, found by listing each region.
pub struct Pipelines;

impl Facts for Pipelines {
    type Value = Pipeline;
    const NAME: &'static str = "pipelines";
    const ACTION: &'static str = "codepipeline:GetPipeline";
    const PHASE: Phase = Phase::Listed;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::CodePipeline::Pipeline");
    const TERRAFORM: Option<&'static str> = Some("aws_codepipeline");
    // `pipeline` is bound per pipeline from its declaration.
    const VARIABLES: &'static [&'static str] = &[];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<Pipeline>> {
        &r.pipelines
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<Pipeline>> {
        &mut r.pipelines
    }

    /// Only its own region's listing.
    fn hidden_by(s: &Snapshot, arn: &str) -> Option<String> {
        hidden::listing(s, Listing::Pipelines, Some(hidden::region(arn)))
    }
}

/// Lists every pipeline name in the region (all pages).
pub async fn list_names(ctx: &Ctx, client: &Client) -> Result<Vec<String>, ReadError> {
    const ACTION: &str = "codepipeline:ListPipelines";
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .call(
                ACTION,
                client
                    .list_pipelines()
                    .max_results(1000)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(ACTION, &e))?;
        names.extend(
            out.pipelines()
                .iter()
                .filter_map(|p| p.name().map(str::to_string)),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The ARN of a pipeline.
pub fn pipeline_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:codepipeline:{region}:{account}:{name}")
}

/// Reads one pipeline's declaration and metadata.
pub async fn get(
    ctx: &Ctx,
    client: &Client,
    region: &str,
    arn: &str,
    name: &str,
) -> Observed<Pipeline> {
    const ACTION: &str = "codepipeline:GetPipeline";
    let result = ctx
        .call(ACTION, client.get_pipeline().name(name).send())
        .await;
    let obs = observe(ACTION, result, &["PipelineNotFoundException"], |out| {
        let meta = out.metadata();
        let decl = out.pipeline()?;
        let mut artifact_stores: Vec<ArtifactStore> = Vec::new();
        if let Some(s) = decl.artifact_store() {
            artifact_stores.push(store(None, s));
        }
        if let Some(map) = decl.artifact_stores() {
            let mut regions: Vec<&String> = map.keys().collect();
            regions.sort();
            for r in regions {
                if let Some(s) = map.get(r) {
                    artifact_stores.push(store(Some(r.clone()), s));
                }
            }
        }
        let stages = decl
            .stages()
            .iter()
            .map(|st| Stage {
                name: st.name().to_string(),
                actions: st.actions().iter().map(action).collect(),
            })
            .collect();
        Some(Pipeline {
            name: decl.name().to_string(),
            arn: meta
                .and_then(|m| m.pipeline_arn())
                .unwrap_or(arn)
                .to_string(),
            region: region.to_string(),
            pipeline_type: decl.pipeline_type().map(|t| t.as_str().to_string()),
            execution_mode: decl.execution_mode().map(|t| t.as_str().to_string()),
            version: decl.version(),
            role_arn: Some(decl.role_arn().to_string()).filter(|r| !r.is_empty()),
            artifact_stores,
            stages,
            created: meta.and_then(|m| m.created()).map(timestamp),
            updated: meta.and_then(|m| m.updated()).map(timestamp),
            polling_disabled_at: meta.and_then(|m| m.polling_disabled_at()).map(timestamp),
            triggers: decl.triggers().iter().map(trigger).collect(),
        })
    });
    match obs {
        Observed::Ok { value: Some(p) } => Observed::ok(p),
        Observed::Ok { value: None } => Observed::Unknown {
            error: ReadError {
                kind: crate::model::ReadErrorKind::Service,
                action: ACTION.to_string(),
                code: None,
                message: format!("GetPipeline for {name} returned no declaration"),
            },
        },
        Observed::Absent => Observed::Absent,
        Observed::Unknown { error } => Observed::Unknown { error },
    }
}

fn trigger(t: &aws_sdk_codepipeline::types::PipelineTriggerDeclaration) -> PipelineTrigger {
    fn patterns(includes: &[String], excludes: &[String]) -> GitPatterns {
        GitPatterns {
            includes: includes.to_vec(),
            excludes: excludes.to_vec(),
        }
    }
    let git = t.git_configuration();
    PipelineTrigger {
        provider_type: t.provider_type().as_str().to_string(),
        source_action: git
            .map(|g| g.source_action_name().to_string())
            .unwrap_or_default(),
        push: git
            .map(|g| g.push())
            .unwrap_or_default()
            .iter()
            .map(|p| PushFilter {
                branches: p.branches().map(|c| patterns(c.includes(), c.excludes())),
                tags: p.tags().map(|c| patterns(c.includes(), c.excludes())),
                file_paths: p.file_paths().map(|c| patterns(c.includes(), c.excludes())),
            })
            .collect(),
        pull_request: git
            .map(|g| g.pull_request())
            .unwrap_or_default()
            .iter()
            .map(|p| PullRequestFilter {
                events: p.events().iter().map(|e| e.as_str().to_string()).collect(),
                branches: p.branches().map(|c| patterns(c.includes(), c.excludes())),
                file_paths: p.file_paths().map(|c| patterns(c.includes(), c.excludes())),
            })
            .collect(),
    }
}

fn store(region: Option<String>, s: &aws_sdk_codepipeline::types::ArtifactStore) -> ArtifactStore {
    ArtifactStore {
        region,
        store_type: s.r#type().as_str().to_string(),
        location: s.location().to_string(),
        encryption_key_id: s.encryption_key().map(|k| k.id().to_string()),
        encryption_key_type: s.encryption_key().map(|k| k.r#type().as_str().to_string()),
    }
}

fn action(a: &aws_sdk_codepipeline::types::ActionDeclaration) -> Action {
    let type_id = a.action_type_id();
    let configuration: BTreeMap<String, String> = a
        .configuration()
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    // Redacted here, before the action is stored or logged: the only place
    // a configuration value is seen in clear.
    let mut out = Action {
        name: a.name().to_string(),
        category: type_id
            .map(|t| t.category().as_str().to_string())
            .unwrap_or_default(),
        owner: type_id
            .map(|t| t.owner().as_str().to_string())
            .unwrap_or_default(),
        provider: type_id
            .map(|t| t.provider().to_string())
            .unwrap_or_default(),
        version: type_id.map(|t| t.version().to_string()).unwrap_or_default(),
        run_order: a.run_order(),
        configuration,
        role_arn: a.role_arn().map(str::to_string),
        region: a.region().map(str::to_string),
        input_artifacts: a
            .input_artifacts()
            .iter()
            .map(|i| i.name().to_string())
            .collect(),
        output_artifacts: a
            .output_artifacts()
            .iter()
            .map(|o| o.name().to_string())
            .collect(),
        environment_variables: Vec::new(),
        redacted: BTreeMap::new(),
    };
    crate::model::redact::redact_action(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_codepipeline::types::{
        GitBranchFilterCriteria, GitConfiguration, GitPullRequestEventType, GitPullRequestFilter,
        GitPushFilter, GitTagFilterCriteria, PipelineTriggerDeclaration,
        PipelineTriggerProviderType,
    };

    #[test]
    fn triggers_are_read_with_their_filters() {
        let git = GitConfiguration::builder()
            .source_action_name("Checkout")
            .push(
                GitPushFilter::builder()
                    .branches(
                        GitBranchFilterCriteria::builder()
                            .includes("release/**")
                            .excludes("release/old")
                            .build(),
                    )
                    .build(),
            )
            .push(
                GitPushFilter::builder()
                    .tags(GitTagFilterCriteria::builder().includes("v*").build())
                    .build(),
            )
            .pull_request(
                GitPullRequestFilter::builder()
                    .events(GitPullRequestEventType::Open)
                    .branches(GitBranchFilterCriteria::builder().includes("main").build())
                    .build(),
            )
            .build();
        let t = PipelineTriggerDeclaration::builder()
            .provider_type(PipelineTriggerProviderType::CodeStarSourceConnection)
            .git_configuration(git.unwrap_or_else(|e| panic!("{e}")))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let got = trigger(&t);
        assert_eq!(got.provider_type, "CodeStarSourceConnection");
        assert_eq!(got.source_action, "Checkout");
        assert_eq!(got.push.len(), 2);
        assert_eq!(
            got.push[0].branches,
            Some(GitPatterns {
                includes: vec!["release/**".to_string()],
                excludes: vec!["release/old".to_string()],
            })
        );
        assert_eq!(got.push[0].tags, None);
        assert_eq!(
            got.push[1].tags.as_ref().map(|t| t.includes.clone()),
            Some(vec!["v*".to_string()])
        );
        assert_eq!(got.pull_request.len(), 1);
        assert_eq!(got.pull_request[0].events, ["OPEN"]);
    }
}
