//! IAM read in bulk: the account's roles and managed policies through
//! GetAccountAuthorizationDetails, when that takes fewer calls than reading
//! each referenced role on its own.
//!
//! Reading one role costs GetRole, ListRolePolicies, one GetRolePolicy per
//! inline policy and ListAttachedRolePolicies, plus GetPolicy and
//! GetPolicyVersion per distinct attached managed policy: about five calls
//! a role. GetAccountAuthorizationDetails returns up to 1,000 items a page
//! (IAM may return fewer), every role with its inline policies, attached
//! policies and instance profiles, and every managed policy in use with its
//! versions. The choice ([`choose`]) counts: one ListRoles pass gives the
//! account's role count R; the bulk read is estimated at two page sequences
//! (roles, then policies) of `ceil(R / 100)` pages each, the per-role read at
//! five calls per referenced role, and the smaller estimate wins.
//!
//! Memory does not grow with the account: each page is filtered as it
//! arrives. Kept in full are the referenced roles and the roles that have
//! an instance profile (the instances, and so their roles, are found while
//! the details are read); of the managed policies, only those attached to a
//! kept role, with their default version's document. The mapping of every
//! instance profile to its role is kept (two names per profile), which
//! answers what iam:GetInstanceProfile would.
//!
//! A failure of the bulk read is never a gap: the run falls back to the
//! per-role reads, which report their own failures.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{EntityType, ManagedPolicyDetail, RoleDetail};

use super::call::{Ctx, read_error};
use super::iam::role_name;
use crate::model::{ManagedPolicy, Observed, PolicyText, ReadError, Role};

/// How IAM roles and policies are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum IamRead {
    /// Whichever takes fewer calls, by counting (see the module docs).
    #[default]
    Auto,
    /// Each referenced role and managed policy on its own.
    PerRole,
    /// The account's authorization details in bulk.
    AccountDetails,
}

/// What the bulk read needs to know: the account (roles of other accounts
/// are read one by one) and the names of the roles referenced so far.
#[derive(Debug, Clone, Default)]
pub struct BulkReadPlan {
    pub mode: IamRead,
    pub account: String,
    pub wanted: BTreeSet<String>,
}

/// IAM's bulk read of one run: how IAM is read, set once the referenced
/// roles are known, and the directory that read gives, made at most once.
/// The run hands it to the reads that may take from it (see
/// [`super::kind::Refs`]).
#[derive(Debug, Default)]
pub struct BulkRead {
    plan: std::sync::Mutex<Option<BulkReadPlan>>,
    directory: tokio::sync::OnceCell<Option<Directory>>,
}

impl BulkRead {
    /// Sets how IAM is read; takes effect unless the directory was
    /// already asked for.
    pub fn plan(&self, plan: BulkReadPlan) {
        if let Ok(mut p) = self.plan.lock() {
            *p = Some(plan);
        }
    }

    /// The directory read in bulk, when the plan chose it: read on the
    /// first request, which later requests wait for. Without a plan, `None`.
    pub async fn directory(&self, ctx: &Ctx, client: &Client) -> Option<&Directory> {
        self.directory
            .get_or_init(|| async {
                let plan = self.plan.lock().ok().and_then(|p| p.clone())?;
                if !choose(ctx, client, &plan).await {
                    return None;
                }
                load(ctx, client, &plan).await
            })
            .await
            .as_ref()
    }
}

/// The roles and managed policies read in bulk.
#[derive(Debug, Default)]
pub struct Directory {
    account: String,
    /// Kept roles by name.
    roles: BTreeMap<String, Role>,
    /// Every instance profile's name -> its role's ARN.
    profiles: BTreeMap<String, String>,
    /// Kept managed policies by ARN.
    policies: BTreeMap<String, ManagedPolicy>,
}

impl Directory {
    /// The role of this ARN, when it was kept (`None`: read it on its own).
    pub fn role(&self, arn: &str) -> Option<Observed<Role>> {
        if arn.split(':').nth(4) != Some(self.account.as_str()) {
            return None;
        }
        self.roles.get(role_name(arn)).cloned().map(Observed::ok)
    }

    /// The managed policy of this ARN, when it was kept.
    pub fn policy(&self, arn: &str) -> Option<Observed<ManagedPolicy>> {
        self.policies.get(arn).cloned().map(Observed::ok)
    }

    /// The role ARN of an instance profile (by the profile's ARN), when the
    /// profile was listed with a role.
    pub fn profile_role(&self, profile_arn: &str) -> Option<String> {
        if profile_arn.split(':').nth(4) != Some(self.account.as_str()) {
            return None;
        }
        let name = profile_arn.rsplit('/').next().unwrap_or(profile_arn);
        self.profiles.get(name).cloned()
    }

    /// How many roles and policies are kept (for the log).
    pub fn sizes(&self) -> (usize, usize, usize) {
        (self.roles.len(), self.policies.len(), self.profiles.len())
    }
}

/// Roles a page of the bulk read can hold at most.
const PAGE: i32 = 1000;
/// Roles a page is counted at when estimating (IAM may return fewer than asked).
const PAGE_ESTIMATE: usize = 100;
/// Calls per referenced role when each is read on its own.
const PER_ROLE_CALLS: usize = 5;

/// The estimated calls of each way for `wanted` referenced roles in an
/// account of `roles` roles: (bulk, per role).
pub fn estimate(wanted: usize, roles: usize) -> (usize, usize) {
    let pages = roles.div_ceil(PAGE_ESTIMATE).max(1);
    (2 * pages, PER_ROLE_CALLS * wanted)
}

/// Whether to read in bulk, by the plan's mode or by counting the
/// account's roles (one ListRoles pass) when the mode is `Auto`.
pub async fn choose(ctx: &Ctx, client: &Client, plan: &BulkReadPlan) -> bool {
    match plan.mode {
        IamRead::PerRole => false,
        IamRead::AccountDetails => true,
        IamRead::Auto if plan.wanted.is_empty() => false,
        IamRead::Auto => match count_roles(ctx, client).await {
            Ok(count) => {
                let (bulk, per_role) = estimate(plan.wanted.len(), count);
                tracing::info!(
                    "IAM: {} referenced role(s) of {count} in the account: about {bulk} call(s) in bulk, {per_role} role by role; reading {}",
                    plan.wanted.len(),
                    if bulk < per_role {
                        "in bulk (iam:GetAccountAuthorizationDetails)"
                    } else {
                        "role by role"
                    }
                );
                bulk < per_role
            }
            Err(e) => {
                tracing::info!(
                    "IAM: cannot count the account's roles ({}: {}); reading role by role",
                    e.action,
                    e.message
                );
                false
            }
        },
    }
}

async fn count_roles(ctx: &Ctx, client: &Client) -> Result<usize, ReadError> {
    const LIST: &str = "iam:ListRoles";
    let mut count = 0;
    let mut marker: Option<String> = None;
    loop {
        let out = ctx
            .call(
                LIST,
                client
                    .list_roles()
                    .max_items(PAGE)
                    .set_marker(marker.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(LIST, &e))?;
        count += out.roles().len();
        match out.marker() {
            Some(m) if out.is_truncated() && Some(m) != marker.as_deref() => {
                marker = Some(m.to_string())
            }
            _ => break,
        }
    }
    Ok(count)
}

/// Reads the directory in bulk; `None` when a page could not be read (the
/// run then reads role by role).
pub async fn load(ctx: &Ctx, client: &Client, plan: &BulkReadPlan) -> Option<Directory> {
    let mut dir = Directory {
        account: plan.account.clone(),
        ..Directory::default()
    };
    let mut attached: BTreeSet<String> = BTreeSet::new();
    let roles = pages(ctx, client, &[EntityType::Role], |out| {
        for r in out.role_detail_list() {
            keep_role(&mut dir, &mut attached, &plan.wanted, r);
        }
    })
    .await;
    if let Err(e) = roles {
        tracing::info!(
            "IAM: the bulk read failed ({}: {}); reading role by role",
            e.action,
            e.message
        );
        return None;
    }
    if !attached.is_empty() {
        let policies = pages(
            ctx,
            client,
            &[EntityType::LocalManagedPolicy, EntityType::AwsManagedPolicy],
            |out| {
                for p in out.policies() {
                    if let Some(mp) = p.arn().filter(|a| attached.contains(*a)).map(|_| policy(p)) {
                        dir.policies.insert(mp.arn.clone(), mp);
                    }
                }
            },
        )
        .await;
        if let Err(e) = policies {
            // the roles stand; their managed policies are read one by one
            tracing::info!(
                "IAM: the bulk read of managed policies failed ({}: {}); reading them one by one",
                e.action,
                e.message
            );
            dir.policies.clear();
        }
    }
    let (roles, policies, profiles) = dir.sizes();
    tracing::info!(
        "IAM: kept {roles} role(s), {policies} managed policy(ies) and {profiles} instance profile(s) of the bulk read"
    );
    Some(dir)
}

/// Reads every page of GetAccountAuthorizationDetails for `filter`,
/// handing each page to `each` as it arrives.
async fn pages(
    ctx: &Ctx,
    client: &Client,
    filter: &[EntityType],
    mut each: impl FnMut(
        &aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput,
    ),
) -> Result<(), ReadError> {
    const GET: &str = "iam:GetAccountAuthorizationDetails";
    let mut marker: Option<String> = None;
    loop {
        let out = ctx
            .call(
                GET,
                client
                    .get_account_authorization_details()
                    .set_filter(Some(filter.to_vec()))
                    .max_items(PAGE)
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

fn keep_role(
    dir: &mut Directory,
    attached: &mut BTreeSet<String>,
    wanted: &BTreeSet<String>,
    r: &RoleDetail,
) {
    let (Some(name), Some(arn)) = (r.role_name(), r.arn()) else {
        return;
    };
    for p in r.instance_profile_list() {
        dir.profiles
            .insert(p.instance_profile_name().to_string(), arn.to_string());
    }
    if !wanted.contains(name) && r.instance_profile_list().is_empty() {
        return;
    }
    let mut list: Vec<String> = r
        .attached_managed_policies()
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_string))
        .collect();
    list.sort();
    list.dedup();
    attached.extend(list.iter().cloned());
    let inline: BTreeMap<String, Observed<PolicyText>> = r
        .role_policy_list()
        .iter()
        .filter_map(|p| {
            let name = p.policy_name()?.to_string();
            let doc = match p.policy_document() {
                Some(d) => Observed::ok(PolicyText::parse(d)),
                None => Observed::Absent,
            };
            Some((name, doc))
        })
        .collect();
    dir.roles.insert(
        name.to_string(),
        Role {
            name: name.to_string(),
            arn: arn.to_string(),
            path: r.path().map(str::to_string),
            trust_policy: match r.assume_role_policy_document() {
                Some(doc) => Observed::ok(PolicyText::parse(doc)),
                None => Observed::Absent,
            },
            inline_policies: Observed::ok(inline),
            attached_policies: Observed::ok(list),
            permissions_boundary: r
                .permissions_boundary()
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_string),
        },
    );
}

fn policy(p: &ManagedPolicyDetail) -> ManagedPolicy {
    let version = p.default_version_id().map(str::to_string);
    let document = p
        .policy_version_list()
        .iter()
        .find(|v| {
            v.is_default_version() || (version.is_some() && v.version_id() == version.as_deref())
        })
        .and_then(|v| v.document())
        .map(|d| Observed::ok(PolicyText::parse(d)))
        .unwrap_or(Observed::Absent);
    ManagedPolicy {
        arn: p.arn().unwrap_or_default().to_string(),
        // moto leaves the name out; it is the ARN's last segment
        name: p
            .policy_name()
            .or_else(|| p.arn().and_then(|a| a.rsplit('/').next()))
            .unwrap_or_default()
            .to_string(),
        default_version_id: version,
        document,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_favour_bulk_only_when_it_is_cheaper() {
        // four roles of a pipeline in an account of 3,000 roles: role by role
        let (bulk, per_role) = estimate(4, 3000);
        assert!(per_role < bulk, "{bulk} {per_role}");
        // 200 pipelines' 800 roles in an account of 1,000: in bulk
        let (bulk, per_role) = estimate(800, 1000);
        assert!(bulk < per_role, "{bulk} {per_role}");
        // an empty account still costs a page of each sequence
        assert_eq!(estimate(1, 0).0, 2);
    }
}
