//! The account's principals for release paths, read in bulk with
//! GetAccountAuthorizationDetails in two passes: users, groups and roles
//! (with the managed policy ARNs they use), then the managed policies, of
//! which only the used ones are kept. The analysis ([`crate::aws::release`])
//! then keeps only the principals that hold a path or lead to one.
//!
//! A denied or failed read leaves the principals unknown, naming
//! `iam:GetAccountAuthorizationDetails`: release paths are then "not
//! analysed"; nothing else depends on it.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::Client;
use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::types::EntityType;

use super::call::{Ctx, read_error};
use crate::model::principals::{
    AttachedPolicy, IamPrincipal, InlinePolicy, PrincipalKind, PrincipalSet,
};
use crate::model::{Observed, PolicyText, ReadError};

const GET: &str = "iam:GetAccountAuthorizationDetails";

/// Reads every user (with its groups' policies), role and used managed policy.
pub async fn read(ctx: &Ctx, client: &Client) -> Observed<PrincipalSet> {
    match read_all(ctx, client).await {
        Ok(set) => Observed::ok(set),
        Err(error) => Observed::Unknown { error },
    }
}

#[derive(Default)]
struct Group {
    inline: Vec<(String, PolicyText)>,
    attached: Vec<String>,
}

async fn read_all(ctx: &Ctx, client: &Client) -> Result<PrincipalSet, ReadError> {
    let mut principals: Vec<IamPrincipal> = Vec::new();
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    let mut memberships: Vec<(usize, Vec<String>)> = Vec::new();
    pages(
        ctx,
        client,
        &[EntityType::User, EntityType::Group, EntityType::Role],
        |out| {
            for g in out.group_detail_list() {
                let Some(name) = g.group_name() else { continue };
                let entry = groups.entry(name.to_string()).or_default();
                for p in g.group_policy_list() {
                    if let (Some(n), Some(d)) = (p.policy_name(), p.policy_document()) {
                        entry.inline.push((n.to_string(), PolicyText::parse(d)));
                    }
                }
                entry.attached.extend(
                    g.attached_managed_policies()
                        .iter()
                        .filter_map(|a| a.policy_arn().map(str::to_string)),
                );
            }
            for u in out.user_detail_list() {
                let (Some(name), Some(arn)) = (u.user_name(), u.arn()) else {
                    continue;
                };
                memberships.push((principals.len(), u.group_list().to_vec()));
                principals.push(IamPrincipal {
                    arn: arn.to_string(),
                    name: name.to_string(),
                    kind: PrincipalKind::User,
                    inline: inline_policies(u.user_policy_list()),
                    attached: attached_policies(u.attached_managed_policies()),
                    boundary: u
                        .permissions_boundary()
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_string),
                    trust: None,
                });
            }
            for r in out.role_detail_list() {
                let (Some(name), Some(arn)) = (r.role_name(), r.arn()) else {
                    continue;
                };
                // service-linked roles act only for their service
                if r.path()
                    .is_some_and(|p| p.starts_with("/aws-service-role/"))
                {
                    continue;
                }
                principals.push(IamPrincipal {
                    arn: arn.to_string(),
                    name: name.to_string(),
                    kind: PrincipalKind::Role,
                    inline: inline_policies(r.role_policy_list()),
                    attached: attached_policies(r.attached_managed_policies()),
                    boundary: r
                        .permissions_boundary()
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_string),
                    trust: r.assume_role_policy_document().map(PolicyText::parse),
                });
            }
        },
    )
    .await?;
    // the groups' policies reach their users
    for (i, names) in memberships {
        for g in names {
            let Some(group) = groups.get(&g) else {
                continue;
            };
            let p = &mut principals[i];
            p.inline
                .extend(group.inline.iter().map(|(n, d)| InlinePolicy {
                    name: n.clone(),
                    group: Some(g.clone()),
                    document: d.clone(),
                }));
            p.attached
                .extend(group.attached.iter().map(|a| AttachedPolicy {
                    arn: a.clone(),
                    group: Some(g.clone()),
                }));
        }
    }
    let used: BTreeSet<String> = principals
        .iter()
        .flat_map(|p| {
            p.attached
                .iter()
                .map(|a| a.arn.clone())
                .chain(p.boundary.clone())
        })
        .collect();
    let mut policies = BTreeMap::new();
    if !used.is_empty() {
        pages(
            ctx,
            client,
            &[EntityType::LocalManagedPolicy, EntityType::AwsManagedPolicy],
            |out| {
                for p in out.policies() {
                    let Some(arn) = p.arn().filter(|a| used.contains(*a)) else {
                        continue;
                    };
                    let version = p.default_version_id();
                    let doc = p
                        .policy_version_list()
                        .iter()
                        .find(|v| {
                            v.is_default_version()
                                || (version.is_some() && v.version_id() == version)
                        })
                        .and_then(|v| v.document());
                    if let Some(d) = doc {
                        policies.insert(arn.to_string(), PolicyText::parse(d));
                    }
                }
            },
        )
        .await?;
    }
    principals.sort_by(|a, b| a.arn.cmp(&b.arn));
    Ok(PrincipalSet {
        read: principals.len(),
        principals,
        policies,
    })
}

async fn pages(
    ctx: &Ctx,
    client: &Client,
    filter: &[EntityType],
    mut each: impl FnMut(&GetAccountAuthorizationDetailsOutput),
) -> Result<(), ReadError> {
    let mut marker: Option<String> = None;
    loop {
        let out = ctx
            .call(
                GET,
                client
                    .get_account_authorization_details()
                    .set_filter(Some(filter.to_vec()))
                    .max_items(1000)
                    .set_marker(marker.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(GET, &e))?;
        each(&out);
        match out.marker() {
            Some(m) if out.is_truncated() && Some(m) != marker.as_deref() => {
                marker = Some(m.to_string())
            }
            _ => return Ok(()),
        }
    }
}

/// A user's or role's own inline policies, as GetAccountAuthorizationDetails
/// lists them (a policy without name or document is left out).
fn inline_policies(list: &[aws_sdk_iam::types::PolicyDetail]) -> Vec<InlinePolicy> {
    list.iter()
        .filter_map(|p| {
            Some(InlinePolicy {
                name: p.policy_name()?.to_string(),
                group: None,
                document: PolicyText::parse(p.policy_document()?),
            })
        })
        .collect()
}

/// A user's or role's own attached managed policies.
fn attached_policies(list: &[aws_sdk_iam::types::AttachedPolicy]) -> Vec<AttachedPolicy> {
    list.iter()
        .filter_map(|a| {
            Some(AttachedPolicy {
                arn: a.policy_arn()?.to_string(),
                group: None,
            })
        })
        .collect()
}
