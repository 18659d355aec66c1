//! IAM: roles (trust policy, inline and attached policies) and managed policies.
//!
//! Each is read on its own here, unless the run read the account's IAM in
//! bulk ([`super::iam_details`]); then only what the bulk read did not
//! keep is read on its own.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_iam::Client;

use super::call::{Ctx, observe, read_error};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Locality, Phase, Refs, ToRead, each, hidden};
use crate::model::{
    Listing, ManagedPolicy, Observed, PolicyText, ReadError, Resources, Role, Snapshot,
};

/// The roles named by the pipelines (service and action roles), build
/// projects, deployment groups, trigger rules (rule and target roles), the
/// instance profiles of the instances the deployment groups select, the
/// deployed ECS task definitions (task and execution roles) and the invoked
/// Lambda functions.
pub struct Roles;

/// A failure that may hide roles: of the pipelines, build projects,
/// deployment groups and targets, or trigger rules.
fn role_sources(s: &Snapshot) -> Option<String> {
    let r = &s.resources;
    hidden::pipelines(s)
        .or_else(|| hidden::unknown(&r.build_projects))
        .or_else(|| hidden::unknown(&r.deploy_groups))
        .or_else(|| hidden::unknown(&r.deploy_targets))
        .or_else(|| hidden::unknown(&r.event_rules))
        .or_else(|| hidden::listing(s, Listing::EventRules, None))
}

impl Facts for Roles {
    type Value = Role;
    const NAME: &'static str = "roles";
    const ACTION: &'static str = "iam:GetRole";
    const PHASE: Phase = Phase::Roles;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::IAM::Role");
    const TERRAFORM: Option<&'static str> = Some("aws_iam_role");
    const VARIABLES: &'static [&'static str] = &[];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<Role>> {
        &r.roles
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<Role>> {
        &mut r.roles
    }

    fn field_errors(r: &Role) -> Vec<&ReadError> {
        let mut v: Vec<&ReadError> = [
            r.trust_policy.error(),
            r.attached_policies.error(),
            r.inline_policies.error(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if let Observed::Ok { value } = &r.inline_policies {
            v.extend(value.values().filter_map(Observed::error));
        }
        v
    }

    /// Whatever names roles: the pipelines, build projects, deployment
    /// groups and targets, trigger rules.
    fn hidden_by(s: &Snapshot, _arn: &str) -> Option<String> {
        role_sources(s)
    }
}

impl Kind for Roles {
    type Detail = ();
    const LOCALITY: Locality = Locality::AnyRegion;

    fn find(refs: &Refs<'_>) -> Vec<Found<(), Role>> {
        let res = refs.resources;
        let mut roles: BTreeSet<String> = BTreeSet::new();
        for w in refs.pipelines {
            roles.extend(w.role_arn.iter().cloned());
            roles.extend(w.action_roles.iter().cloned());
            // the roles CloudFormation acts as, in the pipeline's account
            let account = w.arn.split(':').nth(4).unwrap_or("");
            roles.extend(
                w.stack_deploys
                    .iter()
                    .filter_map(|d| d.cfn_role_arn.clone())
                    .filter(|r| r.split(':').nth(4) == Some(account)),
            );
        }
        for s in res.cfn_stacks.values().filter_map(Observed::value) {
            roles.extend(s.role_arn.iter().cloned());
        }
        for p in res.build_projects.values().filter_map(Observed::value) {
            roles.extend(p.service_role.iter().cloned());
        }
        for g in res.deploy_groups.values().filter_map(Observed::value) {
            roles.extend(g.service_role_arn.iter().cloned());
        }
        for t in res.deploy_targets.values().filter_map(Observed::value) {
            roles.extend(
                t.instances
                    .iter()
                    .filter_map(|i| i.role_arn.value().cloned()),
            );
        }
        for f in res.lambda_functions.values().filter_map(Observed::value) {
            roles.extend(f.role_arn.iter().cloned());
        }
        for td in res.task_definitions.values().filter_map(Observed::value) {
            roles.extend(td.task_role_arn.iter().cloned());
            roles.extend(td.execution_role_arn.iter().cloned());
        }
        for rule in res.event_rules.values().filter_map(Observed::value) {
            roles.extend(rule.role_arn.iter().cloned());
            roles.extend(rule.targets.iter().filter_map(|t| t.role_arn.clone()));
        }
        global_targets(roles)
    }

    async fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        refs: &'a Refs<'a>,
        targets: &'a [ToRead<()>],
    ) -> Vec<(String, Observed<Role>)> {
        let dir = refs.iam.directory(ctx, &c.iam).await;
        each(targets, |t| async move {
            match dir.and_then(|d| d.role(&t.arn)) {
                Some(role) => role,
                None => get_role(ctx, &c.iam, &t.arn).await,
            }
        })
        .await
    }
}

/// The managed policies attached to the collected roles.
pub struct ManagedPolicies;

impl Facts for ManagedPolicies {
    type Value = ManagedPolicy;
    const NAME: &'static str = "managed_policies";
    const ACTION: &'static str = "iam:GetPolicy";
    const PHASE: Phase = Phase::Policies;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::IAM::ManagedPolicy");
    const TERRAFORM: Option<&'static str> = Some("aws_iam_policy");
    const VARIABLES: &'static [&'static str] = &[];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<ManagedPolicy>> {
        &r.managed_policies
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<ManagedPolicy>> {
        &mut r.managed_policies
    }

    fn field_errors(p: &ManagedPolicy) -> Vec<&ReadError> {
        p.document.error().into_iter().collect()
    }

    /// Whatever hides a role, a role, or a role's attached policies.
    fn hidden_by(s: &Snapshot, _arn: &str) -> Option<String> {
        role_sources(s)
            .or_else(|| hidden::unknown(&s.resources.roles))
            .or_else(|| {
                s.resources
                    .roles
                    .values()
                    .filter_map(Observed::value)
                    .find_map(|role| role.attached_policies.error().map(|e| e.action.clone()))
            })
    }
}

impl Kind for ManagedPolicies {
    type Detail = ();
    const LOCALITY: Locality = Locality::AnyRegion;

    fn find(refs: &Refs<'_>) -> Vec<Found<(), ManagedPolicy>> {
        refs.resources
            .roles
            .values()
            .filter_map(Observed::value)
            .filter_map(|r| r.attached_policies.value())
            .flatten()
            .map(|arn| {
                Found::Read(ToRead {
                    arn: arn.clone(),
                    region: String::new(),
                    detail: (),
                })
            })
            .collect()
    }

    async fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        refs: &'a Refs<'a>,
        targets: &'a [ToRead<()>],
    ) -> Vec<(String, Observed<ManagedPolicy>)> {
        let dir = refs.iam.directory(ctx, &c.iam).await;
        each(targets, |t| async move {
            match dir.and_then(|d| d.policy(&t.arn)) {
                Some(policy) => policy,
                None => get_managed_policy(ctx, &c.iam, &t.arn).await,
            }
        })
        .await
    }
}

/// The names of the roles of `account` referenced so far.
pub fn referenced_names(refs: &Refs<'_>, account: &str) -> BTreeSet<String> {
    Roles::find(refs)
        .into_iter()
        .filter_map(|f| match f {
            Found::Read(t) if t.arn.split(':').nth(4) == Some(account) => {
                Some(role_name(&t.arn).to_string())
            }
            _ => None,
        })
        .collect()
}

/// IAM is global: the targets carry no region and are read through the
/// first audited region's clients. Only values that are ARNs are read.
fn global_targets<V>(arns: BTreeSet<String>) -> Vec<Found<(), V>> {
    arns.into_iter()
        .filter(|a| a.starts_with("arn:"))
        .map(|arn| {
            Found::Read(ToRead {
                arn,
                region: String::new(),
                detail: (),
            })
        })
        .collect()
}

/// The role name of a role ARN (`arn:aws:iam::1:role/path/name` -> `name`).
pub fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Reads a role with its trust policy, inline policies and attached policy ARNs.
pub async fn get_role(ctx: &Ctx, client: &Client, arn: &str) -> Observed<Role> {
    const GET: &str = "iam:GetRole";
    let name = role_name(arn);
    let result = ctx
        .call(GET, client.get_role().role_name(name).send())
        .await;
    let role = match observe(GET, result, &["NoSuchEntity"], |out| out.role().cloned()).flatten() {
        Observed::Ok { value } => value,
        Observed::Absent => return Observed::Absent,
        Observed::Unknown { error } => return Observed::Unknown { error },
    };
    let (inline, attached) = tokio::join!(
        inline_policies(ctx, client, name),
        attached(ctx, client, name)
    );
    Observed::ok(Role {
        name: role.role_name().to_string(),
        arn: role.arn().to_string(),
        path: Some(role.path().to_string()),
        trust_policy: match role.assume_role_policy_document() {
            Some(doc) => Observed::ok(PolicyText::parse(doc)),
            None => Observed::Absent,
        },
        inline_policies: match inline {
            Ok(map) => Observed::ok(map),
            Err(error) => Observed::Unknown { error },
        },
        attached_policies: match attached {
            Ok(list) => Observed::ok(list),
            Err(error) => Observed::Unknown { error },
        },
        permissions_boundary: role
            .permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn())
            .map(str::to_string),
    })
}

async fn inline_policies(
    ctx: &Ctx,
    client: &Client,
    role: &str,
) -> Result<BTreeMap<String, Observed<PolicyText>>, ReadError> {
    const LIST: &str = "iam:ListRolePolicies";
    const GET: &str = "iam:GetRolePolicy";
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = ctx
            .call(
                LIST,
                client
                    .list_role_policies()
                    .role_name(role)
                    .set_marker(marker.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(LIST, &e))?;
        names.extend(out.policy_names().iter().cloned());
        match out.marker() {
            Some(m) if out.is_truncated() && Some(m) != marker.as_deref() => {
                marker = Some(m.to_string())
            }
            _ => break,
        }
    }
    let gets = names.into_iter().map(|policy| async move {
        let result = ctx
            .call(
                GET,
                client
                    .get_role_policy()
                    .role_name(role)
                    .policy_name(&policy)
                    .send(),
            )
            .await;
        let obs = observe(GET, result, &["NoSuchEntity"], |out| {
            PolicyText::parse(out.policy_document())
        });
        (policy, obs)
    });
    Ok(futures::future::join_all(gets).await.into_iter().collect())
}

async fn attached(ctx: &Ctx, client: &Client, role: &str) -> Result<Vec<String>, ReadError> {
    const LIST: &str = "iam:ListAttachedRolePolicies";
    let mut arns = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let out = ctx
            .call(
                LIST,
                client
                    .list_attached_role_policies()
                    .role_name(role)
                    .set_marker(marker.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(LIST, &e))?;
        arns.extend(
            out.attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string)),
        );
        match out.marker() {
            Some(m) if out.is_truncated() && Some(m) != marker.as_deref() => {
                marker = Some(m.to_string())
            }
            _ => break,
        }
    }
    arns.sort();
    arns.dedup();
    Ok(arns)
}

/// Reads a managed policy and its default version's document.
pub async fn get_managed_policy(ctx: &Ctx, client: &Client, arn: &str) -> Observed<ManagedPolicy> {
    const GET: &str = "iam:GetPolicy";
    const VERSION: &str = "iam:GetPolicyVersion";
    let result = ctx
        .call(GET, client.get_policy().policy_arn(arn).send())
        .await;
    let policy =
        match observe(GET, result, &["NoSuchEntity"], |out| out.policy().cloned()).flatten() {
            Observed::Ok { value } => value,
            Observed::Absent => return Observed::Absent,
            Observed::Unknown { error } => return Observed::Unknown { error },
        };
    let version = policy.default_version_id().map(str::to_string);
    let document = match &version {
        Some(v) => {
            let result = ctx
                .call(
                    VERSION,
                    client
                        .get_policy_version()
                        .policy_arn(arn)
                        .version_id(v)
                        .send(),
                )
                .await;
            observe(VERSION, result, &["NoSuchEntity"], |out| {
                out.policy_version()
                    .and_then(|pv| pv.document())
                    .map(PolicyText::parse)
            })
            .flatten()
        }
        None => Observed::Absent,
    };
    Observed::ok(ManagedPolicy {
        arn: arn.to_string(),
        name: policy.policy_name().unwrap_or_default().to_string(),
        default_version_id: version,
        document,
    })
}
