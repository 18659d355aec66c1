//! CodeCommit: source repositories.

use aws_sdk_codecommit::Client;

use super::call::{Ctx, observe};
use crate::model::{Observed, Repository};

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
