//! CodeBuild: projects, fetched in batches of up to 100 names per call.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_codebuild::Client;

use super::call::{Ctx, read_error, timestamp};
use super::clients::RegionClients;
use super::kind::{Facts, Found, KeyRef, Kind, Phase, Refs, ToRead, region_of};
use crate::model::{
    BuildArtifacts, BuildEnvironment, BuildLogs, BuildProject, BuildSource, Buildspec, EnvVar,
    Observed, PullRequestBuildPolicy, ReadError, Resources, SourceCredential, Webhook,
    WebhookFilter, WebhookScope, secrets,
};

/// The projects of the pipelines' CodeBuild build and test actions, read in
/// batches (BatchGetProjects).
pub struct Projects;

impl Facts for Projects {
    type Value = BuildProject;
    const NAME: &'static str = "build_projects";
    const ACTION: &'static str = "codebuild:BatchGetProjects";
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::CodeBuild::Project");
    const TERRAFORM: Option<&'static str> = Some("aws_codebuild_project");
    const VARIABLES: &'static [&'static str] = &["builds"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<BuildProject>> {
        &r.build_projects
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<BuildProject>> {
        &mut r.build_projects
    }

    /// The project's encryption key reference.
    fn key_refs(p: &BuildProject) -> Vec<KeyRef<'_>> {
        p.encryption_key
            .as_deref()
            .map(|k| {
                (
                    vec!["encryption_key_arn"],
                    k,
                    p.encryption_key_arn.is_some(),
                )
            })
            .into_iter()
            .collect()
    }
}

impl Kind for Projects {
    /// The project name.
    type Detail = String;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, BuildProject>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.builds.iter().map(|b| {
                    Found::Read(ToRead {
                        arn: b.project_arn.clone(),
                        region: region_of(&b.project_arn, &w.region),
                        detail: b.project_name.clone(),
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
    ) -> impl Future<Output = Vec<(String, Observed<BuildProject>)>> + Send + 'a {
        let by_name: BTreeMap<String, String> = targets
            .iter()
            .map(|t| (t.detail.clone(), t.arn.clone()))
            .collect();
        async move { get_projects(ctx, &c.codebuild, &by_name).await }
    }

    /// The project's key reference, resolved in the project's region.
    fn settle(refs: &Refs<'_>, project: &mut BuildProject) {
        let region = region_of(
            &project.arn,
            refs.regions.first().map(String::as_str).unwrap_or(""),
        );
        if let Some(key) = &project.encryption_key {
            project.encryption_key_arn = refs.keys.resolve(&region, key).key_arn();
        }
    }
}

/// The ARN of a build project.
pub fn project_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:codebuild:{region}:{account}:project/{name}")
}

/// Reads the named projects, keyed by the ARN built from each name.
pub async fn get_projects(
    ctx: &Ctx,
    client: &Client,
    arns_by_name: &BTreeMap<String, String>,
) -> Vec<(String, Observed<BuildProject>)> {
    const ACTION: &str = "codebuild:BatchGetProjects";
    let names: Vec<&String> = arns_by_name.keys().collect();
    let batches = names.chunks(100).map(|chunk| async move {
        let req = client
            .batch_get_projects()
            .set_names(Some(chunk.iter().map(|n| (*n).clone()).collect()));
        (chunk, ctx.call(ACTION, req.send()).await)
    });
    let mut out = Vec::new();
    for (chunk, result) in futures::future::join_all(batches).await {
        match result {
            Ok(resp) => {
                let mut found: BTreeMap<String, BuildProject> = BTreeMap::new();
                for p in resp.projects() {
                    if let Some(name) = p.name() {
                        found.insert(name.to_string(), project(p));
                    }
                }
                for name in chunk {
                    let arn = arns_by_name.get(*name).cloned().unwrap_or_default();
                    let obs = match found.remove(*name) {
                        Some(p) => Observed::ok(p),
                        None => Observed::Absent,
                    };
                    out.push((arn, obs));
                }
            }
            Err(e) => {
                let error = read_error(ACTION, &e);
                for name in chunk {
                    let arn = arns_by_name.get(*name).cloned().unwrap_or_default();
                    out.push((
                        arn,
                        Observed::Unknown {
                            error: error.clone(),
                        },
                    ));
                }
            }
        }
    }
    out
}

fn project(p: &aws_sdk_codebuild::types::Project) -> BuildProject {
    let env = p.environment();
    BuildProject {
        name: p.name().unwrap_or_default().to_string(),
        arn: p.arn().unwrap_or_default().to_string(),
        source: p
            .source()
            .map(|s| BuildSource {
                buildspec: Some(Buildspec::classify(s.buildspec())),
                ..source(s)
            })
            .unwrap_or_default(),
        secondary_sources: p.secondary_sources().iter().map(source).collect(),
        environment: BuildEnvironment {
            environment_type: env
                .map(|e| e.r#type().as_str().to_string())
                .unwrap_or_default(),
            image: env.map(|e| e.image().to_string()).unwrap_or_default(),
            compute_type: env
                .map(|e| e.compute_type().as_str().to_string())
                .unwrap_or_default(),
            privileged_mode: env.and_then(|e| e.privileged_mode()).unwrap_or(false),
            image_pull_credentials_type: env
                .and_then(|e| e.image_pull_credentials_type())
                .map(|t| t.as_str().to_string()),
            variables: env
                .map(|e| e.environment_variables().iter().map(env_var).collect())
                .unwrap_or_default(),
        },
        service_role: p.service_role().map(str::to_string),
        encryption_key: p.encryption_key().map(str::to_string),
        encryption_key_arn: None,
        logs: BuildLogs {
            cloudwatch_status: p
                .logs_config()
                .and_then(|l| l.cloud_watch_logs())
                .map(|c| c.status().as_str().to_string()),
            s3_status: p
                .logs_config()
                .and_then(|l| l.s3_logs())
                .map(|c| c.status().as_str().to_string()),
            s3_encryption_disabled: p
                .logs_config()
                .and_then(|l| l.s3_logs())
                .and_then(|c| c.encryption_disabled()),
        },
        last_modified: p.last_modified().map(timestamp),
        visibility: p.project_visibility().map(|v| v.as_str().to_string()),
        artifacts: p
            .artifacts()
            .into_iter()
            .chain(p.secondary_artifacts())
            .map(|a| BuildArtifacts {
                artifacts_type: a.r#type().as_str().to_string(),
                identifier: a.artifact_identifier().map(str::to_string),
                encryption_disabled: a.encryption_disabled().unwrap_or(false),
            })
            .collect(),
        vpc_id: p
            .vpc_config()
            .and_then(|v| v.vpc_id())
            .filter(|v| !v.is_empty())
            .map(str::to_string),
        webhook: p.webhook().map(webhook),
    }
}

/// Converts a webhook. Its `secret` (and the payload URL's) is never read.
fn webhook(w: &aws_sdk_codebuild::types::Webhook) -> Webhook {
    Webhook {
        build_type: w.build_type().map(|t| t.as_str().to_string()),
        filter_groups: w
            .filter_groups()
            .iter()
            .map(|g| {
                g.iter()
                    .map(|f| WebhookFilter {
                        filter_type: f.r#type().as_str().to_string(),
                        pattern: f.pattern().to_string(),
                        exclude_matched_pattern: f.exclude_matched_pattern().unwrap_or(false),
                    })
                    .collect()
            })
            .collect(),
        branch_filter: w
            .branch_filter()
            .filter(|b| !b.is_empty())
            .map(str::to_string),
        manual_creation: w.manual_creation().unwrap_or(false),
        scope: w.scope_configuration().map(|s| WebhookScope {
            scope_type: s.scope().as_str().to_string(),
            name: s.name().to_string(),
            domain: s.domain().map(str::to_string),
        }),
        pull_request_build_policy: w
            .pull_request_build_policy()
            .map(|p| PullRequestBuildPolicy {
                requires_comment_approval: p.requires_comment_approval().as_str().to_string(),
                approver_roles: p
                    .approver_roles()
                    .iter()
                    .map(|r| r.as_str().to_string())
                    .collect(),
            }),
    }
}

/// The names of every build project of a region (ListProjects, every page).
pub async fn list_names(ctx: &Ctx, client: &Client) -> Result<Vec<String>, ReadError> {
    const ACTION: &str = "codebuild:ListProjects";
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .call(
                ACTION,
                client.list_projects().set_next_token(token.clone()).send(),
            )
            .await
            .map_err(|e| read_error(ACTION, &e))?;
        names.extend(out.projects().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The source credentials stored for a region (ListSourceCredentials). The
/// API returns no token, and none is read.
pub async fn list_source_credentials(
    ctx: &Ctx,
    client: &Client,
) -> Result<Vec<SourceCredential>, ReadError> {
    const ACTION: &str = "codebuild:ListSourceCredentials";
    let out = ctx
        .call(ACTION, client.list_source_credentials().send())
        .await
        .map_err(|e| read_error(ACTION, &e))?;
    let mut creds: Vec<SourceCredential> = out
        .source_credentials_infos()
        .iter()
        .map(|c| SourceCredential {
            arn: c.arn().unwrap_or_default().to_string(),
            server_type: c
                .server_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            auth_type: c
                .auth_type()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            resource: c.resource().map(str::to_string),
        })
        .collect();
    creds.sort_by(|a, b| a.arn.cmp(&b.arn));
    Ok(creds)
}

/// Converts an environment variable, dropping a PLAINTEXT value after
/// classifying it. This is the only place a plaintext value is seen.
fn env_var(v: &aws_sdk_codebuild::types::EnvironmentVariable) -> EnvVar {
    let var_type = v
        .r#type()
        .map(|t| t.as_str().to_string())
        .unwrap_or_else(|| "PLAINTEXT".to_string());
    if var_type == "PLAINTEXT" {
        EnvVar {
            name: v.name().to_string(),
            secret_kinds: secrets::classify(v.name(), v.value()),
            var_type,
            reference: None,
        }
    } else {
        EnvVar {
            name: v.name().to_string(),
            var_type,
            reference: Some(v.value().to_string()),
            secret_kinds: Vec::new(),
        }
    }
}

fn source(s: &aws_sdk_codebuild::types::ProjectSource) -> BuildSource {
    let (location, credentials_in_location) = match s.location() {
        Some(l) => {
            let (clean, had) = strip_credentials(l);
            (Some(clean), had)
        }
        None => (None, false),
    };
    BuildSource {
        source_type: s.r#type().as_str().to_string(),
        location,
        credentials_in_location,
        buildspec: None,
    }
}

/// Removes `user:password@` (or a bare token `token@`) from a URL's authority.
/// Returns the cleaned URL and whether anything was removed.
pub fn strip_credentials(url: &str) -> (String, bool) {
    let Some(scheme_end) = url.find("://") else {
        return (url.to_string(), false);
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let cleaned = format!(
                "{}://***@{}{}",
                &url[..scheme_end],
                &authority[at + 1..],
                &rest[authority_end..]
            );
            (cleaned, true)
        }
        None => (url.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::strip_credentials;

    #[test]
    fn credentials_are_removed_from_urls() {
        assert_eq!(
            strip_credentials("https://user:s3cret@github.com/org/repo.git"),
            ("https://***@github.com/org/repo.git".to_string(), true)
        );
        assert_eq!(
            strip_credentials("https://ghp_token@github.com/org/repo"),
            ("https://***@github.com/org/repo".to_string(), true)
        );
        assert_eq!(
            strip_credentials("https://github.com/org/repo@v1"),
            ("https://github.com/org/repo@v1".to_string(), false)
        );
        assert_eq!(
            strip_credentials("my-bucket/key.zip"),
            ("my-bucket/key.zip".to_string(), false)
        );
    }
}
