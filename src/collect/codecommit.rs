//! CodeCommit: source repositories, read in batches of 25
//! (BatchGetRepositories) when a region has more than one, else one by one;
//! and the approval rule templates of the repositories that hold a release
//! path (read after the principals, see [`approval_templates`]).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use aws_config::retry::RetryConfig;
use aws_sdk_codecommit::Client;
use aws_sdk_codecommit::types::RepositoryMetadata;

use super::call::{Ctx, observe, read_error};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, batched, region_of};
use crate::model::{
    ApprovalRuleTemplate, Observed, ReadError, ReadErrorKind, Repository, Resources,
};

/// The repositories of the pipelines' CodeCommit source actions.
pub struct Repositories;

impl Facts for Repositories {
    type Value = Repository;
    const NAME: &'static str = "repositories";
    const ACTION: &'static str = "codecommit:GetRepository";
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::CodeCommit::Repository");
    const TERRAFORM: Option<&'static str> = Some("aws_codecommit_repository");
    const VARIABLES: &'static [&'static str] = &["sources"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<Repository>> {
        &r.repositories
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<Repository>> {
        &mut r.repositories
    }
}

impl Kind for Repositories {
    /// The repository name.
    type Detail = String;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, Repository>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.sources.iter().map(|s| {
                    Found::Read(ToRead {
                        arn: s.repository_arn.clone(),
                        region: region_of(&s.repository_arn, &w.region),
                        detail: s.repository_name.clone(),
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
    ) -> impl Future<Output = Vec<(String, Observed<Repository>)>> + Send + 'a {
        batched(
            ctx,
            BATCH,
            targets,
            BATCH_SIZE,
            |chunk| batch(ctx, &c.codecommit, chunk),
            |t| get(ctx, &c.codecommit, &t.arn, &t.detail),
        )
    }
}

/// The batch read of repositories, and how many names it takes at once.
const BATCH: &str = "codecommit:BatchGetRepositories";
const BATCH_SIZE: usize = 25;

/// Reads a batch of repositories in one call; `None` when the call failed
/// (the repositories are then read one by one). A repository the batch
/// neither returned nor named is read on its own.
async fn batch(
    ctx: &Ctx,
    client: &Client,
    targets: &[ToRead<String>],
) -> Option<Vec<(String, Observed<Repository>)>> {
    let req = client
        .batch_get_repositories()
        .set_repository_names(Some(targets.iter().map(|t| t.detail.clone()).collect()))
        .customize()
        .config_override(
            aws_sdk_codecommit::config::Builder::default().retry_config(RetryConfig::disabled()),
        );
    let out = match ctx.call(BATCH, req.send()).await {
        Ok(out) => out,
        Err(e) => {
            ctx.batch_failed(BATCH, &read_error(BATCH, &e));
            return None;
        }
    };
    let mut read = Vec::with_capacity(targets.len());
    for t in targets {
        let name = t.detail.as_str();
        let obs = if let Some(m) = out
            .repositories()
            .iter()
            .find(|m| m.repository_name() == Some(name))
        {
            Observed::ok(repository(name, &t.arn, Some(m)))
        } else if out.repositories_not_found().iter().any(|n| n == name) {
            Observed::Absent
        } else if let Some(e) = out
            .errors()
            .iter()
            .find(|e| e.repository_name() == Some(name))
        {
            let code = e.error_code().map(|c| c.as_str().to_string());
            Observed::Unknown {
                error: ReadError {
                    kind: if code.as_deref().is_some_and(|c| c.contains("AccessDenied")) {
                        ReadErrorKind::AccessDenied
                    } else {
                        ReadErrorKind::Service
                    },
                    action: BATCH.to_string(),
                    message: e
                        .error_message()
                        .map(str::to_string)
                        .unwrap_or_else(|| "the repository could not be read".to_string()),
                    code,
                },
            }
        } else {
            get(ctx, client, &t.arn, name).await
        };
        read.push((t.arn.clone(), obs));
    }
    Some(read)
}

fn repository(name: &str, arn: &str, m: Option<&RepositoryMetadata>) -> Repository {
    Repository {
        name: name.to_string(),
        arn: m.and_then(|m| m.arn()).unwrap_or(arn).to_string(),
        id: m.and_then(|m| m.repository_id()).map(str::to_string),
        default_branch: m.and_then(|m| m.default_branch()).map(str::to_string),
        kms_key_id: m.and_then(|m| m.kms_key_id()).map(str::to_string),
    }
}

/// The ARN of a repository.
pub fn repository_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:codecommit:{region}:{account}:{name}")
}

/// Reads one repository's metadata.
pub async fn get(ctx: &Ctx, client: &Client, arn: &str, name: &str) -> Observed<Repository> {
    const ACTION: &str = "codecommit:GetRepository";
    let result = ctx
        .call(ACTION, client.get_repository().repository_name(name).send())
        .await;
    observe(
        ACTION,
        result,
        &["RepositoryDoesNotExistException"],
        |out| repository(name, arn, out.repository_metadata()),
    )
}

/// The approval rule templates associated with each of `repos` (ARN,
/// name, region), each template read once per region however many
/// repositories share it. A repository whose templates could not be listed,
/// or one of whose templates could not be read, is unknown (with the
/// error): whether its pull requests need approvals is then not known.
pub async fn approval_templates(
    ctx: &Ctx,
    clients: &BTreeMap<String, Client>,
    repos: &[(String, String, String)],
) -> Vec<(String, Observed<Vec<ApprovalRuleTemplate>>)> {
    // (a repository of a region not audited is left out: not read)
    let listed = futures::future::join_all(repos.iter().filter_map(|(arn, name, region)| {
        let c = clients.get(region)?;
        Some(async move {
            let names = associated_templates(ctx, c, name).await;
            (arn.clone(), region.clone(), names)
        })
    }))
    .await;
    let distinct: BTreeSet<(String, String)> = listed
        .iter()
        .filter_map(|(_, region, names)| names.as_ref().ok().map(|n| (region, n)))
        .flat_map(|(region, names)| names.iter().map(move |n| (region.clone(), n.clone())))
        .collect();
    let read: BTreeMap<(String, String), Observed<ApprovalRuleTemplate>> =
        futures::future::join_all(distinct.into_iter().map(|(region, name)| async move {
            let obs = match clients.get(&region) {
                Some(c) => approval_template(ctx, c, &name).await,
                None => Observed::Absent,
            };
            ((region, name), obs)
        }))
        .await
        .into_iter()
        .collect();
    listed
        .into_iter()
        .map(|(arn, region, names)| {
            let obs = match names {
                Err(error) => Observed::Unknown { error },
                Ok(names) => {
                    let mut templates = Vec::new();
                    let mut unknown = None;
                    for n in names {
                        match read.get(&(region.clone(), n)) {
                            Some(Observed::Ok { value }) => templates.push(value.clone()),
                            Some(Observed::Unknown { error }) => {
                                unknown.get_or_insert_with(|| error.clone());
                            }
                            // deleted since it was listed: it no longer applies
                            Some(Observed::Absent) | None => {}
                        }
                    }
                    match unknown {
                        Some(error) => Observed::Unknown { error },
                        None => Observed::ok(templates),
                    }
                }
            };
            (arn, obs)
        })
        .collect()
}

/// The names of the approval rule templates associated with a repository
/// (all pages).
async fn associated_templates(
    ctx: &Ctx,
    client: &Client,
    repository: &str,
) -> Result<Vec<String>, ReadError> {
    const ACTION: &str = "codecommit:ListAssociatedApprovalRuleTemplatesForRepository";
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .call(
                ACTION,
                client
                    .list_associated_approval_rule_templates_for_repository()
                    .repository_name(repository)
                    .max_results(100)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(ACTION, &e))?;
        names.extend(out.approval_rule_template_names().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(names)
}

/// Reads one approval rule template.
async fn approval_template(
    ctx: &Ctx,
    client: &Client,
    name: &str,
) -> Observed<ApprovalRuleTemplate> {
    const ACTION: &str = "codecommit:GetApprovalRuleTemplate";
    let result = ctx
        .call(
            ACTION,
            client
                .get_approval_rule_template()
                .approval_rule_template_name(name)
                .send(),
        )
        .await;
    observe(
        ACTION,
        result,
        &["ApprovalRuleTemplateDoesNotExistException"],
        |out| {
            out.approval_rule_template().map(|t| {
                ApprovalRuleTemplate::parse(
                    t.approval_rule_template_name().unwrap_or(name),
                    t.approval_rule_template_content().unwrap_or_default(),
                )
            })
        },
    )
    .flatten()
}
