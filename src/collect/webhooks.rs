//! Account-level checks (`--account-checks`): the build projects of the
//! audited regions that have a webhook, and each region's source
//! credentials. Builds started by a webhook run outside any pipeline, so
//! these are looked for in the whole region, not from the declarations.
//!
//! Per region, concurrently: ListProjects (every page) and
//! ListSourceCredentials; then BatchGetProjects, 100 names a call, for the
//! projects the pipelines did not already name (those were read once, with
//! the pipelines). Only projects with a webhook are kept.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use super::call::Ctx;
use super::clients::RegionClients;
use super::codebuild;
use super::key_refs::{Ids, KeyResolver};
use crate::model::{BuildProject, Listing, Observed, ScopeError, Snapshot, WebhookProjectRef};

/// The scope name of a region whose projects could not be listed.
pub const PROJECTS_SCOPE: Listing = Listing::BuildProjects;

/// Reads the webhook projects and source credentials of every region into
/// the snapshot. A listing that fails is a scope error naming the action;
/// a batch that fails leaves its projects unknown (listed, so that the
/// rules report the gap).
pub async fn collect(
    ctx: &Ctx,
    clients: &BTreeMap<String, RegionClients>,
    ids: Ids<'_>,
    keys: &KeyResolver<'_>,
    snapshot: &mut Snapshot,
) {
    let listed = join_all(clients.values().map(|c| async {
        let (names, creds) = tokio::join!(
            codebuild::list_names(ctx, &c.codebuild),
            codebuild::list_source_credentials(ctx, &c.codebuild),
        );
        (c.region.clone(), names, creds)
    }))
    .await;
    let mut wanted: Vec<(String, BTreeMap<String, String>)> = Vec::new(); // region, name -> arn
    // The pipelines' projects, read with them: checked whether or not their
    // region's projects could be listed.
    let known: Vec<String> = snapshot
        .resources
        .build_projects
        .keys()
        .filter(|a| {
            let region = a.split(':').nth(3).unwrap_or_default();
            clients.contains_key(region)
        })
        .cloned()
        .collect();
    for (region, names, creds) in listed {
        snapshot.resources.source_credentials.insert(
            region.clone(),
            match creds {
                Ok(c) => Observed::ok(c),
                Err(error) => Observed::Unknown { error },
            },
        );
        let names = match names {
            Ok(n) => n,
            Err(error) => {
                snapshot.scope_errors.push(ScopeError {
                    region: region.clone(),
                    scope: PROJECTS_SCOPE,
                    error,
                });
                continue;
            }
        };
        let mut by_name = BTreeMap::new();
        for name in names {
            let arn = codebuild::project_arn(ids.partition, &region, ids.account, &name);
            if !snapshot.resources.build_projects.contains_key(&arn) {
                by_name.insert(name, arn);
            }
        }
        wanted.push((region, by_name));
    }
    let read = join_all(wanted.iter().map(|(region, by_name)| async move {
        match clients.get(region) {
            Some(c) => codebuild::get_projects(ctx, &c.codebuild, by_name).await,
            None => Vec::new(),
        }
    }))
    .await;
    let mut refs: Vec<WebhookProjectRef> = Vec::new();
    for (arn, mut obs) in read.into_iter().flatten() {
        match &mut obs {
            Observed::Ok { value } if value.webhook.is_some() => {
                if let Some(key) = &value.encryption_key {
                    let region = arn.split(':').nth(3).unwrap_or_default();
                    value.encryption_key_arn = keys.resolve(region, key).key_arn();
                }
            }
            Observed::Unknown { .. } => {}
            // no webhook, or gone since the listing
            _ => continue,
        }
        refs.push(project_ref(snapshot, &arn, obs.value()));
        snapshot.resources.build_projects.insert(arn, obs);
    }
    for arn in known {
        let with_webhook = snapshot
            .resources
            .build_projects
            .get(&arn)
            .and_then(Observed::value)
            .filter(|p| p.webhook.is_some());
        if let Some(p) = with_webhook {
            let r = project_ref(snapshot, &arn, Some(p));
            refs.push(r);
        }
    }
    refs.sort_by(|a, b| a.arn.cmp(&b.arn));
    snapshot.webhook_projects = refs;
    snapshot.account_checks = true;
}

/// A webhook project and what it shares with the audited pipelines.
fn project_ref(s: &Snapshot, arn: &str, p: Option<&BuildProject>) -> WebhookProjectRef {
    let mut shares = BTreeSet::new();
    let mut pipelines = BTreeSet::new();
    let projects = &s.resources.build_projects;
    for w in &s.pipelines {
        let mut found = Vec::new();
        if w.builds.iter().any(|b| b.project_arn == arn) {
            found.push("build-project");
        }
        if let Some(p) = p {
            let role = p.service_role.as_deref();
            let pipeline_roles = w.role_arn.iter().chain(&w.action_roles).chain(
                w.builds
                    .iter()
                    .filter_map(|b| projects.get(&b.project_arn)?.value()?.service_role.as_ref()),
            );
            if let Some(role) = role
                && pipeline_roles.into_iter().any(|r| r == role)
            {
                found.push("service-role");
            }
            let sources = std::iter::once(&p.source).chain(&p.secondary_sources);
            let s3_locations: Vec<&str> = sources
                .clone()
                .filter(|s| s.source_type == "S3")
                .filter_map(|s| s.location.as_deref())
                .collect();
            if w.artifact_stores.iter().any(|st| {
                s3_locations
                    .iter()
                    .any(|l| l.split('/').next() == Some(st.bucket.as_str()))
            }) {
                found.push("artifact-bucket");
            }
            if p.encryption_key_arn.is_some()
                && w.artifact_stores
                    .iter()
                    .any(|st| st.key_arn.is_some() && st.key_arn == p.encryption_key_arn)
            {
                found.push("artifact-key");
            }
            let repos: Vec<&str> = sources
                .filter(|s| s.source_type == "CODECOMMIT")
                .filter_map(|s| s.location.as_deref())
                .filter_map(|l| l.split_once("/repos/").map(|(_, r)| r))
                .collect();
            if w.sources
                .iter()
                .any(|src| repos.contains(&src.repository_name.as_str()))
            {
                found.push("source-repository");
            }
        }
        if !found.is_empty() {
            pipelines.insert(w.arn.clone());
            shares.extend(found);
        }
    }
    WebhookProjectRef {
        arn: arn.to_string(),
        name: p
            .map(|p| p.name.clone())
            .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or(arn).to_string()),
        region: arn.split(':').nth(3).unwrap_or_default().to_string(),
        shares: shares.into_iter().map(str::to_string).collect(),
        pipelines: pipelines.into_iter().collect(),
    }
}
