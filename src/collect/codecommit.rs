//! CodeCommit: source repositories.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_codecommit::Client;

use super::call::{Ctx, observe};
use super::clients::RegionClients;
use super::kind::{Found, Kind, Refs, Target, each, region_of};
use crate::model::{Observed, Repository, Resources};

/// The repositories of the pipelines' CodeCommit source actions.
pub struct Repositories;

impl Kind for Repositories {
    type Value = Repository;
    /// The repository name.
    type Detail = String;
    const NAME: &'static str = "repositories";
    const ACTION: &'static str = "codecommit:GetRepository";

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<Repository>> {
        &mut r.repositories
    }

    fn find(refs: &Refs<'_>) -> Vec<Found<String, Repository>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.sources.iter().map(|s| {
                    Found::Read(Target {
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
        targets: &'a [Target<String>],
    ) -> impl Future<Output = Vec<(String, Observed<Repository>)>> + Send + 'a {
        each(targets, |t| get(ctx, &c.codecommit, &t.arn, &t.detail))
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
        |out| {
            let m = out.repository_metadata();
            Repository {
                name: name.to_string(),
                arn: m.and_then(|m| m.arn()).unwrap_or(arn).to_string(),
                id: m.and_then(|m| m.repository_id()).map(str::to_string),
                default_branch: m.and_then(|m| m.default_branch()).map(str::to_string),
                kms_key_id: m.and_then(|m| m.kms_key_id()).map(str::to_string),
            }
        },
    )
}
