//! Domain helpers exposed to rule conditions as CEL functions. They take
//! ARNs and look the resources up in the snapshot, so that policies are
//! parsed once and never converted back and forth.
//!
//! A helper that needs a value that could not be collected fails the
//! evaluation and records the gap (resource and missing permission): the rule
//! then neither fires nor passes, and the audit reports a diagnostic.

mod register;

pub use register::{RegisterError, arity, call, register};

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use cel::{ExecutionError, Value};

use super::account_index::AccountIndex;
use crate::aws::{event_pattern, iam, powers, task_roles, writers};
use crate::model::{
    Observed, PolicyDocument, PolicyText, ReadError, ReadErrorKind, Role, Snapshot,
};

/// The helper functions, by name.
pub const NAMES: &[&str] = &[
    "role_exists",
    "role_trusts",
    "role_trusts_others",
    "role_has_source_condition",
    "role_allows",
    "role_is_admin",
    "key_usable_by",
    "key_allows",
    "bucket_policy_public",
    "key_policy_public",
    "bucket_denies_insecure_transport",
    "bucket_denies_unencrypted_uploads",
    "trigger_matches_commit",
    "connection_push_fires",
    "trigger_matches_object_created",
    "trigger_matches_cloudtrail_upload",
    "image_deprecated",
    "role_powers",
    "webhook_builds_pull_requests",
    "role_escalations",
    "role_exercised_by",
    "bucket_other_writers",
    "task_role_risks",
    "image_tag_mutable",
    "repository_other_pushers",
];

thread_local! {
    static GAPS: RefCell<Vec<(String, ReadError)>> = const { RefCell::new(Vec::new()) };
}

/// How many gaps helpers have recorded on this thread (see [`truncate_gaps`]).
pub fn gaps_len() -> usize {
    GAPS.with(|g| g.borrow().len())
}

/// Forgets the gaps recorded after the first `len` (an attempt whose
/// result is discarded and which will be made again).
pub fn truncate_gaps(len: usize) {
    GAPS.with(|g| g.borrow_mut().truncate(len));
}

/// Takes the gaps recorded by helpers on this thread since the last call.
pub fn take_gaps() -> Vec<(String, ReadError)> {
    GAPS.with(|g| std::mem::take(&mut *g.borrow_mut()))
}

type R<T> = Result<T, ExecutionError>;

/// A check of [`crate::aws::powers`]: (identity policies, role, region,
/// whether the role may pass a role that is not the pipeline's own).
type RoleCheck = fn(&[&PolicyDocument], &str, &str, &dyn Fn() -> bool) -> Vec<String>;

fn gap(function: &str, arn: &str, error: &ReadError) -> ExecutionError {
    GAPS.with(|g| g.borrow_mut().push((arn.to_string(), error.clone())));
    ExecutionError::function_error(
        function,
        format!("{arn}: {} could not be read", error.action),
    )
}

fn not_collected(function: &str, arn: &str) -> ExecutionError {
    ExecutionError::function_error(function, format!("{arn} is not in the snapshot"))
}

/// Read access to the snapshot for the helpers.
pub struct Lookup {
    snapshot: Arc<Snapshot>,
    /// Accounts whose principals may write artifacts (cross-account
    /// deployment): the `trusted_accounts` parameter of
    /// `artifact-bucket-writable-by-others`.
    trusted_accounts: Vec<String>,
    /// The account's cross-resource lookups, built on first use.
    index: OnceLock<AccountIndex>,
}

impl Lookup {
    /// Whether the account-level checks ran and the project's webhook
    /// builds the head of pull requests: CB017 then reports a buildspec
    /// read from the source, instead of CB009 or CB010.
    fn webhook_builds_pull_requests(&self, project: &str) -> bool {
        let s = &self.snapshot;
        s.account_checks
            && s.webhook_projects.iter().any(|r| {
                r.arn == project
                    && s.resources
                        .build_projects
                        .get(project)
                        .and_then(Observed::value)
                        .and_then(|p| crate::aws::webhooks::analyse(r, p))
                        .is_some_and(|v| v.builds_pull_requests)
            })
    }

    pub fn new(snapshot: Arc<Snapshot>) -> Self {
        Lookup {
            snapshot,
            trusted_accounts: Vec::new(),
            index: OnceLock::new(),
        }
    }

    /// The snapshot's per-account index (see [`crate::rules::account_index`]).
    pub fn index(&self) -> &AccountIndex {
        self.index
            .get_or_init(|| AccountIndex::build(&self.snapshot))
    }

    /// With the accounts trusted to write artifacts.
    pub fn with_trusted_accounts(mut self, accounts: Vec<String>) -> Self {
        self.trusted_accounts = accounts;
        self
    }

    fn role(&self, f: &str, arn: &str) -> R<Option<&Role>> {
        match self.snapshot.resources.roles.get(arn) {
            Some(Observed::Ok { value }) => Ok(Some(value)),
            Some(Observed::Absent) => Ok(None),
            Some(Observed::Unknown { error }) => Err(gap(f, arn, error)),
            None => Err(not_collected(f, arn)),
        }
    }

    /// Whether role `arn` exists: by the account index when it was read
    /// or found absent, else by [`Self::role`], whose error is the answer.
    fn role_exists(&self, f: &str, arn: &str) -> R<bool> {
        match self.index().role_state(arn) {
            Some(super::account_index::RoleState::Read) => Ok(true),
            Some(super::account_index::RoleState::Absent) => Ok(false),
            _ => self.role(f, arn).map(|r| r.is_some()),
        }
    }

    fn doc<'a>(
        &self,
        f: &str,
        arn: &str,
        text: &'a Observed<PolicyText>,
    ) -> R<Option<&'a PolicyDocument>> {
        match text {
            Observed::Ok { value } => match &value.document {
                Some(d) => Ok(Some(d)),
                None => Err(gap(
                    f,
                    arn,
                    &ReadError {
                        kind: ReadErrorKind::Service,
                        action: "policy parse".to_string(),
                        code: None,
                        message: value.parse_error.clone().unwrap_or_default(),
                    },
                )),
            },
            Observed::Absent => Ok(None),
            Observed::Unknown { error } => Err(gap(f, arn, error)),
        }
    }

    fn trust(&self, f: &str, arn: &str) -> R<Option<&PolicyDocument>> {
        match self.role(f, arn)? {
            Some(r) => self.doc(f, arn, &r.trust_policy),
            None => Ok(None),
        }
    }

    /// Every identity policy document of a role (inline and attached).
    fn identity_docs<'a>(&'a self, f: &str, role: &'a Role) -> R<Vec<&'a PolicyDocument>> {
        let mut docs = Vec::new();
        match &role.inline_policies {
            Observed::Ok { value } => {
                for p in value.values() {
                    docs.extend(self.doc(f, &role.arn, p)?);
                }
            }
            Observed::Absent => {}
            Observed::Unknown { error } => return Err(gap(f, &role.arn, error)),
        }
        match &role.attached_policies {
            Observed::Ok { value } => {
                for arn in value {
                    match self.snapshot.resources.managed_policies.get(arn) {
                        Some(Observed::Ok { value }) => {
                            docs.extend(self.doc(f, arn, &value.document)?)
                        }
                        Some(Observed::Absent) => {}
                        Some(Observed::Unknown { error }) => return Err(gap(f, arn, error)),
                        None => return Err(not_collected(f, arn)),
                    }
                }
            }
            Observed::Absent => {}
            Observed::Unknown { error } => return Err(gap(f, &role.arn, error)),
        }
        Ok(docs)
    }

    fn bucket_policy(&self, f: &str, arn: &str) -> R<Option<&PolicyDocument>> {
        match self.snapshot.resources.buckets.get(arn) {
            Some(Observed::Ok { value }) => self.doc(f, arn, &value.policy),
            Some(Observed::Absent) => Ok(None),
            Some(Observed::Unknown { error }) => Err(gap(f, arn, error)),
            None => Err(not_collected(f, arn)),
        }
    }

    fn key_policy(&self, f: &str, arn: &str) -> R<Option<&PolicyDocument>> {
        match self.snapshot.resources.keys.get(arn) {
            Some(Observed::Ok { value }) => self.doc(f, arn, &value.policy),
            Some(Observed::Absent) => Ok(None),
            Some(Observed::Unknown { error }) => Err(gap(f, arn, error)),
            None => Err(not_collected(f, arn)),
        }
    }

    fn role_allows(&self, f: &str, role: &str, action: &str, resource: &str) -> R<bool> {
        match self.role(f, role)? {
            Some(r) => {
                let docs = self.identity_docs(f, r)?;
                Ok(iam::identity_allows(&docs, role, action, resource))
            }
            None => Ok(false),
        }
    }

    fn trigger_matches_commit(&self, f: &str, rule: &str, repo: &str, branch: &str) -> R<bool> {
        let r = match self.snapshot.resources.event_rules.get(rule) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Absent) => return Ok(false),
            Some(Observed::Unknown { error }) => return Err(gap(f, rule, error)),
            None => return Err(not_collected(f, rule)),
        };
        let Some(p) = &r.event_pattern else {
            return Ok(false);
        };
        event_pattern::matches(p, &event_pattern::commit_event(repo, branch))
            .map_err(|e| ExecutionError::function_error(f, format!("{}: {e}", r.arn)))
    }

    /// Whether rule `rule` matches the write of object `key` in `bucket`,
    /// for one of the writing operations, in the event form `event` builds.
    fn trigger_matches_upload(
        &self,
        f: &str,
        rule: &str,
        bucket: &str,
        key: &str,
        event: fn(&str, &str, &str, &str) -> serde_json::Value,
    ) -> R<bool> {
        let r = match self.snapshot.resources.event_rules.get(rule) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Absent) => return Ok(false),
            Some(Observed::Unknown { error }) => return Err(gap(f, rule, error)),
            None => return Err(not_collected(f, rule)),
        };
        let Some(p) = &r.event_pattern else {
            return Ok(false);
        };
        let mut any = false;
        for op in event_pattern::S3_UPLOADS {
            any |= event_pattern::matches(p, &event(rule, bucket, key, op))
                .map_err(|e| ExecutionError::function_error(f, format!("{}: {e}", r.arn)))?;
        }
        Ok(any)
    }

    /// Whether a push to `branch` starts pipeline `pipeline` through its
    /// connection source action `action` (its V2 triggers or the action's
    /// change detection; see [`crate::aws::git_triggers`]).
    fn connection_push_fires(
        &self,
        f: &str,
        pipeline: &str,
        action: &str,
        branch: &str,
    ) -> R<bool> {
        let decl = match self.snapshot.resources.pipelines.get(pipeline) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Absent) => return Ok(false),
            Some(Observed::Unknown { error }) => return Err(gap(f, pipeline, error)),
            None => return Err(not_collected(f, pipeline)),
        };
        let source = self
            .index()
            .wiring(&self.snapshot, pipeline)
            .into_iter()
            .flat_map(|w| w.connection_sources.iter())
            .find(|s| s.action == action);
        Ok(source.is_some_and(|s| crate::aws::git_triggers::push_fires(&decl.triggers, s, branch)))
    }

    /// The powers of a role beyond its job in the pipeline (see
    /// [`crate::aws::powers`]), comma-separated; empty when none.
    fn role_powers(&self, f: &str, role: &str, pipeline: &str) -> R<String> {
        self.role_check(f, role, pipeline, powers::powers)
    }

    /// The privilege-escalation paths of a role (see
    /// [`crate::aws::powers::escalations`]), comma-separated; empty when none.
    fn role_escalations(&self, f: &str, role: &str, pipeline: &str) -> R<String> {
        self.role_check(f, role, pipeline, powers::escalations)
    }

    /// The pipeline's region and its own roles: its role, its actions'
    /// roles, its build projects', deployment groups' and trigger targets'.
    /// A project, group or trigger rule that could not be read may hold one
    /// of them: its gap is the error, so that its role never counts as
    /// "another principal".
    fn own_roles<'a>(&'a self, f: &str, pipeline: &'a str) -> R<(&'a str, Vec<&'a str>)> {
        let s = &self.snapshot;
        let wiring = self.index().wiring(s, pipeline);
        let region = wiring
            .map(|w| w.region.as_str())
            .or_else(|| pipeline.split(':').nth(3))
            .unwrap_or("");
        let mut own: Vec<&str> = Vec::new();
        let Some(w) = wiring else {
            return Ok((region, own));
        };
        own.extend(w.role_arn.as_deref());
        own.extend(w.action_roles.iter().map(String::as_str));
        for b in &w.builds {
            match s.resources.build_projects.get(&b.project_arn) {
                Some(Observed::Ok { value }) => own.extend(value.service_role.as_deref()),
                Some(Observed::Unknown { error }) => return Err(gap(f, &b.project_arn, error)),
                _ => {}
            }
        }
        for d in &w.deploys {
            match s.resources.deploy_groups.get(&d.group_arn) {
                Some(Observed::Ok { value }) => own.extend(value.service_role_arn.as_deref()),
                Some(Observed::Unknown { error }) => return Err(gap(f, &d.group_arn, error)),
                _ => {}
            }
        }
        for d in &w.stack_deploys {
            own.extend(d.cfn_role_arn.as_deref());
            match s.resources.cfn_stacks.get(&d.stack_arn) {
                Some(Observed::Ok { value }) => own.extend(value.role_arn.as_deref()),
                Some(Observed::Unknown { error }) => return Err(gap(f, &d.stack_arn, error)),
                _ => {}
            }
        }
        if let Some((path, error)) = self.index().trigger_gaps(s, w).first() {
            return Err(gap(f, path, error));
        }
        for arn in &w.trigger_rules {
            if let Some(Observed::Ok { value }) = s.resources.event_rules.get(arn) {
                own.extend(value.targets.iter().filter_map(|t| t.role_arn.as_deref()));
            }
        }
        Ok((region, own))
    }

    /// The principals other than the pipeline's own roles that the bucket
    /// policy lets write objects (see [`crate::aws::writers`]).
    fn bucket_other_writers(&self, f: &str, bucket: &str, pipeline: &str) -> R<String> {
        let Some(doc) = self.bucket_policy(f, bucket)? else {
            return Ok(String::new());
        };
        let (_, own) = self.own_roles(f, pipeline)?;
        Ok(writers::other_writers(
            doc,
            bucket,
            &self.snapshot.account,
            &own,
            &self.trusted_accounts,
        )
        .join(", "))
    }

    /// Runs a check of [`crate::aws::powers`] on a role's identity
    /// policies, with the pipeline's region and whether the role may pass a
    /// role of the account that is not the pipeline's own (answered by the
    /// account index, not by trying every role).
    fn role_check(&self, f: &str, role: &str, pipeline: &str, check: RoleCheck) -> R<String> {
        let Some(r) = self.role(f, role)? else {
            return Ok(String::new());
        };
        let docs = self.identity_docs(f, r)?;
        let (region, own) = self.own_roles(f, pipeline)?;
        let passes_other = || {
            self.index()
                .passes_other_role(&self.snapshot, &docs, role, &own)
        };
        Ok(check(&docs, role, region, &passes_other).join(", "))
    }

    /// Who besides `service` acting on its own configuration can exercise
    /// what role `role` may do, and how; empty when no one can (a role only
    /// its service may assume and that runs no code from the source: a
    /// pipeline, deployment group or trigger role). A build role runs the
    /// code of the source, and the role of a function an invoke action
    /// hands the artifacts runs with them as input; a principal other than
    /// `service` that the trust policy admits (an account, a role, a user,
    /// a federated identity, another service) can assume the role. An
    /// unreadable trust policy is a gap.
    fn role_exercised_by(&self, f: &str, role: &str, service: &str) -> R<String> {
        let mut how = Vec::new();
        if service == "codebuild.amazonaws.com" {
            how.push(
                "code from the source branch runs as this role through the buildspec".to_string(),
            );
        }
        // (a function's role is a service role only when an invoke action
        // hands the function the pipeline's artifacts)
        if service == "lambda.amazonaws.com" {
            how.push(
                "a Lambda function runs as this role with the pipeline's artifacts, built from the source, as its input"
                    .to_string(),
            );
        }
        if let Some(trust) = self.trust(f, role)? {
            let others = iam::other_trusted(trust, service);
            if !others.is_empty() {
                how.push(format!(
                    "{} can assume this role and use these permissions directly",
                    others.join(", ")
                ));
            }
        }
        Ok(how.join("; "))
    }

    /// What makes a role too strong to run code deployed by a commit:
    /// `allows * on *`, or the powers it holds; empty when none.
    fn role_strength(&self, f: &str, role: &str, pipeline: &str) -> R<String> {
        let Some(r) = self.role(f, role)? else {
            return Ok(String::new());
        };
        if self.identity_docs(f, r)?.into_iter().any(iam::is_admin) {
            return Ok("allows * on *".to_string());
        }
        let powers = self.role_powers(f, role, pipeline)?;
        Ok(if powers.is_empty() {
            powers
        } else {
            format!("holds {powers}")
        })
    }

    /// The task roles of ECS service `service` that are too strong (see
    /// [`Self::role_strength`]), described: its task definition's task role
    /// and, when a pipeline's `CodeDeployToECS` action deploys it, every
    /// collected role that trusts `ecs-tasks.amazonaws.com` and that the
    /// pipeline's roles may pass to it (a commit's `taskdef.json` chooses
    /// the task role). Empty when none.
    fn task_role_risks(&self, f: &str, service: &str, pipeline: &str) -> R<String> {
        let s = &self.snapshot;
        let svc = match s.resources.ecs_services.get(service) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Absent) => return Ok(String::new()),
            Some(Observed::Unknown { error }) => return Err(gap(f, service, error)),
            None => return Err(not_collected(f, service)),
        };
        let mut out = Vec::new();
        if let Some(td_arn) = &svc.task_definition {
            let td = match s.resources.task_definitions.get(td_arn) {
                Some(Observed::Ok { value }) => Some(value),
                Some(Observed::Absent) => None,
                Some(Observed::Unknown { error }) => return Err(gap(f, td_arn, error)),
                None => return Err(not_collected(f, td_arn)),
            };
            if let Some(role) = td.and_then(|td| td.task_role_arn.as_deref()) {
                let strength = self.role_strength(f, role, pipeline)?;
                if !strength.is_empty() {
                    out.push(format!("task role {role} {strength}"));
                }
            }
        }
        let Some(w) = self.index().wiring(s, pipeline) else {
            return Ok(out.join("; "));
        };
        let (targets, group_gaps) = crate::model::ecs_targets(w, &s.resources);
        if let Some((arn, error)) = group_gaps.first() {
            return Err(gap(f, arn, error));
        }
        let chooses = targets
            .iter()
            .any(|t| t.service_arn == service && t.deploy.provider == "CodeDeployToECS");
        if !chooses {
            return Ok(out.join("; "));
        }
        let mut passers: Vec<&str> = w.role_arn.iter().map(String::as_str).collect();
        passers.extend(w.action_roles.iter().map(String::as_str));
        let mut passer_docs = Vec::new();
        for p in passers {
            if let Some(r) = self.role(f, p)? {
                passer_docs.push((p, self.identity_docs(f, r)?));
            }
        }
        for (arn, role) in &s.resources.roles {
            let Observed::Ok { value: role } = role else {
                continue;
            };
            let trusts = match &role.trust_policy {
                Observed::Ok { value } => value
                    .document
                    .as_ref()
                    .is_some_and(|d| iam::trusts_service(d, task_roles::ECS_TASKS)),
                _ => false,
            };
            let Some((passer, _)) = passer_docs.iter().find(|(p, docs)| {
                trusts && task_roles::passes_to_service(docs, p, arn, task_roles::ECS_TASKS)
            }) else {
                continue;
            };
            let strength = self.role_strength(f, arn, pipeline)?;
            if !strength.is_empty() {
                out.push(format!(
                    "a commit's taskdef.json can choose task role {arn} ({passer} may pass it to {}), which {strength}",
                    task_roles::ECS_TASKS
                ));
            }
        }
        Ok(out.join("; "))
    }

    fn image_repository(&self, f: &str, arn: &str) -> R<Option<&crate::model::ImageRepository>> {
        match self.snapshot.resources.image_repositories.get(arn) {
            Some(Observed::Ok { value }) => Ok(Some(value)),
            Some(Observed::Absent) => Ok(None),
            Some(Observed::Unknown { error }) => Err(gap(f, arn, error)),
            None => Err(not_collected(f, arn)),
        }
    }

    /// Whether the repository lets `tag` move to another image (see
    /// [`crate::model::image_tag_mutable`]); false when the repository does
    /// not exist. A setting that is not one of the four known is an error.
    fn image_tag_mutable(&self, f: &str, repository: &str, tag: &str) -> R<bool> {
        let Some(r) = self.image_repository(f, repository)? else {
            return Ok(false);
        };
        let setting = r.tag_mutability.as_deref().unwrap_or("MUTABLE");
        crate::model::image_tag_mutable(setting, &r.tag_mutability_exclusions, tag).ok_or_else(
            || {
                ExecutionError::function_error(
                    f,
                    format!("{repository}: unknown image tag mutability {setting:?}"),
                )
            },
        )
    }

    /// The principals other than the pipeline's own roles that the
    /// repository policy lets push images (see [`writers::other_pushers`]).
    fn repository_other_pushers(&self, f: &str, repository: &str, pipeline: &str) -> R<String> {
        let Some(r) = self.image_repository(f, repository)? else {
            return Ok(String::new());
        };
        let Some(doc) = self.doc(f, repository, &r.policy)? else {
            return Ok(String::new());
        };
        let (_, own) = self.own_roles(f, pipeline)?;
        let account = repository
            .split(':')
            .nth(4)
            .unwrap_or(&self.snapshot.account);
        Ok(writers::other_pushers(doc, repository, account, &own).join(", "))
    }

    fn key_usable_by(&self, f: &str, key: &str, role: &str) -> R<bool> {
        for action in ["kms:Decrypt", "kms:GenerateDataKey"] {
            if !self.key_allows(f, key, role, action)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The key policy grants the role `action` on the key, or delegates to
    /// the account and the role's identity policies allow it; no Deny.
    fn key_allows(&self, f: &str, key: &str, role: &str, action: &str) -> R<bool> {
        let Some(policy) = self.key_policy(f, key)? else {
            return Ok(false);
        };
        let a = iam::evaluate(policy, iam::Who::Role(role), action, key);
        if a.denied {
            return Ok(false);
        }
        Ok(a.allowed || (a.delegated && self.role_allows(f, role, action, key)?))
    }
}

/// Curated CodeBuild images that AWS has deprecated.
pub fn image_deprecated(image: &str) -> bool {
    const DEPRECATED: &[&str] = &[
        "aws/codebuild/standard:1.0",
        "aws/codebuild/standard:2.0",
        "aws/codebuild/standard:3.0",
        "aws/codebuild/standard:4.0",
        "aws/codebuild/standard:5.0",
        "aws/codebuild/amazonlinux2-x86_64-standard:1.0",
        "aws/codebuild/amazonlinux2-x86_64-standard:2.0",
        "aws/codebuild/amazonlinux2-x86_64-standard:3.0",
        "aws/codebuild/amazonlinux2-aarch64-standard:1.0",
        "aws/codebuild/ubuntu-base:14.04",
    ];
    DEPRECATED.contains(&image)
        || [
            "aws/codebuild/nodejs",
            "aws/codebuild/python",
            "aws/codebuild/java",
            "aws/codebuild/docker",
            "aws/codebuild/golang",
            "aws/codebuild/ruby",
        ]
        .iter()
        .any(|p| image.starts_with(p))
}
