//! Deploys into other accounts of the same audit: a CloudFormation or
//! CodeDeploy action whose role is in another account deploys its stack,
//! or to its application and deployment group, there. When that account is
//! audited too (`--accounts`, `--role-arn`), the stack, or the application
//! and group (with the deployment configuration the group names), is read
//! in it, with its own session, and so are the roles CloudFormation and
//! CodeDeploy act as there and the managed policies attached to them, and
//! the instances a linked EC2 group selects, with the roles of their
//! instance profiles. The values are
//! added to the deploying account's snapshot under their own ARNs, and the
//! account is recorded in `Snapshot::linked_accounts`, before the
//! evaluation. The rules that check deployed stacks then judge those
//! facts as they judge the account's own.
//!
//! Each distinct stack, application, group, configuration, group's
//! instances, role and policy is read at most once in the run,
//! whichever account's pipelines name it ([`Linker`] keeps what was read:
//! only these few cross-account values, not the accounts' snapshots), and
//! each linked account's role is assumed once. A role that cannot be
//! assumed makes every value of that account unknown, with
//! `sts:AssumeRole` as the permission: never a pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use aws_types::SdkConfig;
use aws_types::region::Region;
use indicatif::ProgressBar;
use tokio::sync::OnceCell;

use super::call::Ctx;
use super::kind::ToRead;
use super::{cloudformation, codedeploy, errors, iam};
use crate::model::{
    CfnStack, DeployApplication, DeployConfig, DeployGroup, DeployTargets, ManagedPolicy, Observed,
    ReadError, ReadErrorKind, Role, Snapshot,
};

/// The IAM action named when a linked account's role cannot be assumed.
const ASSUME_ROLE: &str = "sts:AssumeRole";

/// A once-filled value per key, shared by every account of the run.
type Cells<T> = Mutex<HashMap<String, Arc<OnceCell<T>>>>;

fn cell<T>(cells: &Cells<T>, key: &str) -> Arc<OnceCell<T>> {
    match cells.lock() {
        Ok(mut m) => m.entry(key.to_string()).or_default().clone(),
        // a poisoned map: read without sharing rather than not at all
        Err(_) => Arc::new(OnceCell::new()),
    }
}

/// The session acting in one linked account: its configuration (its role
/// assumed, the identity checked), or why there is none.
type Session = Result<SdkConfig, ReadError>;

/// The accounts of an audit that deploys may be followed into, and what
/// was read in them so far.
pub struct Linker {
    base: SdkConfig,
    external_id: Option<String>,
    /// The audit's accounts: account id -> the role assumed in it.
    roles: BTreeMap<String, String>,
    /// API calls in flight at once while following one account's deploys.
    concurrency: usize,
    sessions: Cells<Session>,
    stacks: Cells<Observed<CfnStack>>,
    iam_roles: Cells<Observed<Role>>,
    policies: Cells<Observed<ManagedPolicy>>,
    applications: Cells<Observed<DeployApplication>>,
    groups: Cells<Observed<DeployGroup>>,
    configs: Cells<Observed<DeployConfig>>,
    deploy_targets: Cells<Observed<DeployTargets>>,
}

/// A CodeDeploy application and deployment group in a linked account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupTarget {
    account: String,
    region: String,
    application: String,
    application_arn: String,
    group: String,
    group_arn: String,
}

/// A value that a read did not return (it returns one per target).
fn not_returned<T>(action: &str) -> Observed<T> {
    Observed::Unknown {
        error: ReadError {
            kind: ReadErrorKind::Service,
            action: action.to_string(),
            code: None,
            message: "the read returned no value".to_string(),
        },
    }
}

/// A stack deployed into a linked account.
struct StackTarget {
    account: String,
    region: String,
    name: String,
    arn: String,
}

impl Linker {
    /// A linker over the audit's accounts (`(account, role ARN)`), whose
    /// roles are assumed with `base`'s credentials.
    pub fn new(
        base: &SdkConfig,
        external_id: Option<String>,
        accounts: impl IntoIterator<Item = (String, String)>,
        concurrency: usize,
    ) -> Self {
        Linker {
            base: base.clone(),
            external_id,
            roles: accounts.into_iter().collect(),
            concurrency: concurrency.max(1),
            sessions: Mutex::default(),
            stacks: Mutex::default(),
            iam_roles: Mutex::default(),
            policies: Mutex::default(),
            applications: Mutex::default(),
            groups: Mutex::default(),
            configs: Mutex::default(),
            deploy_targets: Mutex::default(),
        }
    }

    /// Whether `account` is one of the audit's.
    pub fn audits(&self, account: &str) -> bool {
        self.roles.contains_key(account)
    }

    /// The region of account-wide calls (STS, IAM) in a linked account.
    fn home(&self) -> String {
        self.base
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_string())
    }

    /// The session of `account`, made once: its role assumed and the
    /// identity checked with sts:GetCallerIdentity.
    async fn session(&self, ctx: &Ctx, account: &str) -> Session {
        let Some(role) = self.roles.get(account) else {
            return Err(ReadError {
                kind: ReadErrorKind::Service,
                action: ASSUME_ROLE.to_string(),
                code: None,
                message: format!("account {account} is not part of the audit"),
            });
        };
        let once = cell(&self.sessions, account);
        once.get_or_init(|| async {
            let cfg = super::clients::assume_role_config(
                &self.base,
                role,
                self.external_id.as_deref(),
            )
            .await;
            let home = cfg
                .to_builder()
                .region(Region::new(self.home()))
                .build();
            let sts = aws_sdk_sts::Client::new(&home);
            match ctx
                .call(
                    "sts:GetCallerIdentity",
                    sts.get_caller_identity().send(),
                )
                .await
            {
                Ok(out) if out.account() == Some(account) => Ok(cfg),
                Ok(out) => Err(ReadError {
                    kind: ReadErrorKind::Service,
                    action: ASSUME_ROLE.to_string(),
                    code: None,
                    message: format!(
                        "role {role}: expected to act in account {account}, but the credentials are of account {}",
                        out.account().unwrap_or("(none)")
                    ),
                }),
                Err(e) => {
                    let failure = errors::classify(ASSUME_ROLE, &e, &errors::Reach::default());
                    let kind = match failure.cause {
                        errors::Cause::AccessDenied | errors::Cause::CredentialsFailed(_) => {
                            ReadErrorKind::AccessDenied
                        }
                        errors::Cause::Service => ReadErrorKind::Service,
                        _ => ReadErrorKind::Transport,
                    };
                    Err(ReadError {
                        kind,
                        action: ASSUME_ROLE.to_string(),
                        code: failure.code.clone(),
                        message: format!("role {role}: {}", failure.summary),
                    })
                }
            }
        })
        .await
        .clone()
    }

    /// Reads `key` once in the run: the first caller reads (with `read`),
    /// the others wait for its value.
    async fn once<T: Clone, F: Future<Output = T>>(
        cells: &Cells<T>,
        key: &str,
        read: impl FnOnce() -> F,
    ) -> T {
        cell(cells, key).get_or_init(read).await.clone()
    }

    /// Follows the deploys of `snapshot`'s pipelines into the other
    /// accounts of the audit: reads their stacks, the roles CloudFormation
    /// acts as there and those roles' managed policies (each once in the
    /// run), adds them to the snapshot and links the accounts. The calls
    /// made are added to the snapshot's counts.
    pub async fn follow(&self, snapshot: &mut Snapshot) {
        let targets = self.targets(snapshot);
        let groups = self.group_targets(snapshot);
        if targets.is_empty() && groups.is_empty() {
            return;
        }
        let ctx = Ctx::new(self.concurrency, ProgressBar::hidden());
        let accounts: BTreeSet<String> = targets
            .iter()
            .map(|t| t.account.clone())
            .chain(groups.iter().map(|g| g.account.clone()))
            .collect();

        // the stacks
        let stacks = futures::future::join_all(targets.iter().map(|t| {
            let ctx = &ctx;
            async move {
                let value = Self::once(&self.stacks, &t.arn, || async {
                    match self.session(ctx, &t.account).await {
                        Ok(cfg) => {
                            let cfg = cfg
                                .to_builder()
                                .region(Region::new(t.region.clone()))
                                .build();
                            let client = aws_sdk_cloudformation::Client::new(&cfg);
                            cloudformation::get_stack(ctx, &client, &t.name).await
                        }
                        Err(error) => Observed::Unknown { error },
                    }
                })
                .await;
                (t.arn.clone(), value)
            }
        }))
        .await;
        snapshot.resources.cfn_stacks.extend(stacks);

        // the CodeDeploy applications and groups, and what the groups name
        self.follow_groups(&ctx, &groups, snapshot).await;

        // the roles CloudFormation and CodeDeploy act as in those
        // accounts, and the instances' roles
        let roles = self.roles_named(snapshot);
        let read = futures::future::join_all(roles.iter().map(|(account, arn)| {
            let ctx = &ctx;
            async move {
                let value = Self::once(&self.iam_roles, arn, || async {
                    match self.iam_client(ctx, account).await {
                        Ok(c) => iam::get_role(ctx, &c, arn).await,
                        Err(error) => Observed::Unknown { error },
                    }
                })
                .await;
                (arn.clone(), value)
            }
        }))
        .await;
        // their attached managed policies, unless already read (an AWS
        // managed policy is the same in every account)
        let policies: BTreeSet<(String, String)> = read
            .iter()
            .filter_map(|(arn, role)| {
                let account = arn.split(':').nth(4)?.to_string();
                Some((account, role.value()?.attached_policies.value()?.clone()))
            })
            .flat_map(|(account, list)| list.into_iter().map(move |p| (account.clone(), p)))
            .filter(|(_, p)| !snapshot.resources.managed_policies.contains_key(p))
            .collect();
        snapshot.resources.roles.extend(read);
        let policies = futures::future::join_all(policies.iter().map(|(account, arn)| {
            let ctx = &ctx;
            async move {
                let value = Self::once(&self.policies, arn, || async {
                    match self.iam_client(ctx, account).await {
                        Ok(c) => iam::get_managed_policy(ctx, &c, arn).await,
                        Err(error) => Observed::Unknown { error },
                    }
                })
                .await;
                (arn.clone(), value)
            }
        }))
        .await;
        snapshot.resources.managed_policies.extend(policies);

        snapshot.linked_accounts.extend(accounts);
        for (action, n) in ctx.calls() {
            *snapshot.api_calls.entry(action).or_insert(0) += n;
        }
    }

    /// The CodeDeploy client of a linked account, in `region`.
    async fn codedeploy_client(
        &self,
        ctx: &Ctx,
        account: &str,
        region: &str,
    ) -> Result<aws_sdk_codedeploy::Client, ReadError> {
        let cfg = self.session(ctx, account).await?;
        let cfg = cfg
            .to_builder()
            .region(Region::new(region.to_string()))
            .build();
        Ok(aws_sdk_codedeploy::Client::new(&cfg))
    }

    /// Reads the linked applications and groups, the deployment
    /// configurations the groups name (a built-in one without a call) and
    /// the instances the EC2 groups select, each once in the run; adds them
    /// to the snapshot.
    async fn follow_groups(&self, ctx: &Ctx, groups: &[GroupTarget], snapshot: &mut Snapshot) {
        let apps: BTreeSet<(&str, &str, &str, &str)> = groups
            .iter()
            .map(|g| {
                (
                    g.account.as_str(),
                    g.region.as_str(),
                    g.application.as_str(),
                    g.application_arn.as_str(),
                )
            })
            .collect();
        let read_apps = futures::future::join_all(apps.into_iter().map(
            |(account, region, name, arn)| async move {
                let value = Self::once(&self.applications, arn, || async {
                    match self.codedeploy_client(ctx, account, region).await {
                        Ok(c) => {
                            let t = [ToRead {
                                arn: arn.to_string(),
                                region: region.to_string(),
                                detail: name.to_string(),
                            }];
                            codedeploy::read_applications(ctx, &c, &t)
                                .await
                                .into_iter()
                                .next()
                                .map(|(_, v)| v)
                                .unwrap_or_else(|| not_returned("codedeploy:GetApplication"))
                        }
                        Err(error) => Observed::Unknown { error },
                    }
                })
                .await;
                (arn.to_string(), value)
            },
        ))
        .await;
        snapshot.resources.deploy_applications.extend(read_apps);

        let read_groups = futures::future::join_all(groups.iter().map(|g| async move {
            let value = Self::once(&self.groups, &g.group_arn, || async {
                match self.codedeploy_client(ctx, &g.account, &g.region).await {
                    Ok(c) => {
                        let t = [ToRead {
                            arn: g.group_arn.clone(),
                            region: g.region.clone(),
                            detail: (g.application.clone(), g.group.clone()),
                        }];
                        codedeploy::read_groups(ctx, &c, &t)
                            .await
                            .into_iter()
                            .next()
                            .map(|(_, v)| v)
                            .unwrap_or_else(|| not_returned("codedeploy:GetDeploymentGroup"))
                    }
                    Err(error) => Observed::Unknown { error },
                }
            })
            .await;
            (g.group_arn.clone(), value)
        }))
        .await;

        // the configurations the groups name, and their instances
        let mut configs: BTreeSet<(String, String, String, String)> = BTreeSet::new();
        let mut selected: Vec<(String, ToRead<super::ec2::Selector>)> = Vec::new();
        for (arn, group) in &read_groups {
            let Some(value) = group.value() else { continue };
            let account = arn.split(':').nth(4).unwrap_or_default().to_string();
            let region = arn.split(':').nth(3).unwrap_or_default().to_string();
            if value
                .compute_platform
                .as_deref()
                .is_none_or(|p| p == "Server")
            {
                let sel = super::ec2::Selector::of(value);
                if !sel.by_tags() && sel.auto_scaling_groups.is_empty() {
                    snapshot
                        .resources
                        .deploy_targets
                        .insert(arn.clone(), Observed::ok(DeployTargets::default()));
                } else {
                    selected.push((
                        account.clone(),
                        ToRead {
                            arn: arn.clone(),
                            region: region.clone(),
                            detail: sel,
                        },
                    ));
                }
            }
            let Some(name) = value.deployment_config_name.as_deref() else {
                continue;
            };
            let Some(config_arn) = codedeploy::config_arn(arn, name) else {
                continue;
            };
            match codedeploy::built_in_config(name, &config_arn) {
                Some(c) => {
                    snapshot
                        .resources
                        .deploy_configs
                        .insert(config_arn, Observed::ok(c));
                }
                None => {
                    configs.insert((account, region, name.to_string(), config_arn));
                }
            }
        }
        snapshot.resources.deploy_groups.extend(read_groups);
        let read_configs = futures::future::join_all(configs.iter().map(
            |(account, region, name, arn)| async move {
                let value = Self::once(&self.configs, arn, || async {
                    match self.codedeploy_client(ctx, account, region).await {
                        Ok(c) => codedeploy::get_config(ctx, &c, arn, name).await,
                        Err(error) => Observed::Unknown { error },
                    }
                })
                .await;
                (arn.clone(), value)
            },
        ))
        .await;
        snapshot.resources.deploy_configs.extend(read_configs);
        let read_targets =
            futures::future::join_all(selected.iter().map(|(account, t)| async move {
                let value = Self::once(&self.deploy_targets, &t.arn, || async {
                    match self.session(ctx, account).await {
                        Ok(cfg) => {
                            let cfg = cfg
                                .to_builder()
                                .region(Region::new(t.region.clone()))
                                .build();
                            let clients = super::clients::RegionClients::new(&cfg);
                            // another account's instance profiles are never
                            // in this account's bulk IAM read: none is passed
                            let no_bulk = super::iam_details::BulkRead::default();
                            super::ec2::read_targets(
                                ctx,
                                &clients,
                                &no_bulk,
                                std::slice::from_ref(t),
                            )
                            .await
                            .into_iter()
                            .next()
                            .map(|(_, v)| v)
                            .unwrap_or_else(|| not_returned("ec2:DescribeInstances"))
                        }
                        Err(error) => Observed::Unknown { error },
                    }
                })
                .await;
                (t.arn.clone(), value)
            }))
            .await;
        snapshot.resources.deploy_targets.extend(read_targets);
    }

    /// The CodeDeploy applications and groups the snapshot's pipelines
    /// deploy to in other accounts of the audit, each once.
    fn group_targets(&self, s: &Snapshot) -> Vec<GroupTarget> {
        let mut out: BTreeSet<GroupTarget> = BTreeSet::new();
        for d in s.pipelines.iter().flat_map(|w| &w.deploys) {
            let mut parts = d.group_arn.split(':');
            let (Some(region), Some(account)) = (parts.nth(3), parts.next()) else {
                continue;
            };
            if account == s.account || !self.audits(account) || d.group_name.is_empty() {
                continue;
            }
            out.insert(GroupTarget {
                account: account.to_string(),
                region: region.to_string(),
                application: d.application_name.clone(),
                application_arn: d.application_arn.clone(),
                group: d.group_name.clone(),
                group_arn: d.group_arn.clone(),
            });
        }
        out.into_iter().collect()
    }

    /// The IAM client of a linked account.
    async fn iam_client(&self, ctx: &Ctx, account: &str) -> Result<aws_sdk_iam::Client, ReadError> {
        let cfg = self.session(ctx, account).await?;
        let cfg = cfg.to_builder().region(Region::new(self.home())).build();
        Ok(aws_sdk_iam::Client::new(&cfg))
    }

    /// The stacks the snapshot's pipelines deploy into other accounts of
    /// the audit, each once.
    fn targets(&self, s: &Snapshot) -> Vec<StackTarget> {
        let mut seen = BTreeSet::new();
        s.pipelines
            .iter()
            .flat_map(|w| &w.stack_deploys)
            .filter(|d| d.account != s.account && self.audits(&d.account))
            .filter(|d| !d.stack_name.is_empty() && seen.insert(d.stack_arn.clone()))
            .map(|d| StackTarget {
                account: d.account.clone(),
                region: d.region.clone(),
                name: d.stack_name.clone(),
                arn: d.stack_arn.clone(),
            })
            .collect()
    }

    /// The roles a deploy into a linked account acts with, in that
    /// account: the action's `RoleArn`, the stack's own role, and the
    /// action role (CloudFormation acts with its credentials when neither
    /// names one). `(account, role ARN)`, each once.
    fn roles_named(&self, s: &Snapshot) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        // the service roles of the linked deployment groups
        for g in self.group_targets(s) {
            let role = s
                .resources
                .deploy_groups
                .get(&g.group_arn)
                .and_then(Observed::value)
                .and_then(|g| g.service_role_arn.clone());
            // and the roles of the instances it selects
            let instance_roles = s
                .resources
                .deploy_targets
                .get(&g.group_arn)
                .and_then(Observed::value)
                .into_iter()
                .flat_map(|t| &t.instances)
                .filter_map(|i| i.role_arn.value().cloned());
            for r in role.into_iter().chain(instance_roles) {
                if r.starts_with("arn:") && r.split(':').nth(4) == Some(g.account.as_str()) {
                    out.insert((g.account.clone(), r));
                }
            }
        }
        for d in s.pipelines.iter().flat_map(|w| &w.stack_deploys) {
            if d.account == s.account || !self.audits(&d.account) {
                continue;
            }
            let own_role = s
                .resources
                .cfn_stacks
                .get(&d.stack_arn)
                .and_then(Observed::value)
                .and_then(|st| st.role_arn.clone());
            for r in [d.cfn_role_arn.clone(), own_role, d.action_role_arn.clone()]
                .into_iter()
                .flatten()
            {
                if r.starts_with("arn:") && r.split(':').nth(4) == Some(d.account.as_str()) {
                    out.insert((d.account.clone(), r));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
