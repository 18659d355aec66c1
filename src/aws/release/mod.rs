//! Release paths: who can change what a pipeline ships to its deploy
//! targets outside the reviewed flow, and how.
//!
//! Each kind is one rule (RP001-RP009). For every pipeline the analysis
//! lists the principals (IAM users and roles of the account, and the
//! principals of other accounts or `*` that resource and trust policies
//! name) that hold a path, each with its witness: the chain of steps from
//! the principal to the action on the pipeline's resource, each step with
//! the statements that grant it and the conditions it depends on.
//!
//! Principals are indexed by the actions and resource patterns their
//! policies allow ([`index::Index`]): a pipeline meets only the principals
//! that could reach one of its resources. Chains (assume a role, pass a
//! role to a service that runs code, become a user) are edges computed once
//! for the account and walked backwards from each pipeline's targets, up to
//! three hops.
//!
//! Not modelled: service control policies (not readable from a member
//! account), session policies, and the resource policies of services that
//! are not collected. KMS grants on the artifact key count like the key
//! policy naming their grantee.

pub mod index;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Serialize;

use super::eval::{
    Context, Decision, Grant, Labelled, Named, Policies, Request, ResourcePolicy, decide,
    resource_allows, resource_denies, wildcard,
};
use crate::model::policy::{Condition, Effect, PolicyDocument, Statement};
use crate::model::principals::{IamPrincipal, PrincipalKind, PrincipalSet};
use crate::model::{Observed, PipelineWiring, ReadError, Snapshot};

/// The kinds of release path, one rule each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    #[serde(rename = "RP001")]
    BranchPush,
    #[serde(rename = "RP002")]
    BuildOverride,
    #[serde(rename = "RP003")]
    ArtifactSwap,
    #[serde(rename = "RP004")]
    PipelineRewrite,
    #[serde(rename = "RP005")]
    DirectDeploy,
    #[serde(rename = "RP006")]
    TargetAccess,
    #[serde(rename = "RP007")]
    SelfApproval,
    #[serde(rename = "RP008")]
    RoleAssumable,
    #[serde(rename = "RP009")]
    OidcUnbound,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::BranchPush,
        Kind::BuildOverride,
        Kind::ArtifactSwap,
        Kind::PipelineRewrite,
        Kind::DirectDeploy,
        Kind::TargetAccess,
        Kind::SelfApproval,
        Kind::RoleAssumable,
        Kind::OidcUnbound,
    ];

    /// The rule id.
    pub fn id(self) -> &'static str {
        match self {
            Kind::BranchPush => "RP001",
            Kind::BuildOverride => "RP002",
            Kind::ArtifactSwap => "RP003",
            Kind::PipelineRewrite => "RP004",
            Kind::DirectDeploy => "RP005",
            Kind::TargetAccess => "RP006",
            Kind::SelfApproval => "RP007",
            Kind::RoleAssumable => "RP008",
            Kind::OidcUnbound => "RP009",
        }
    }

    /// The rule slug (the risky state).
    pub fn slug(self) -> &'static str {
        match self {
            Kind::BranchPush => "release-branch-direct-push",
            Kind::BuildOverride => "release-build-override",
            Kind::ArtifactSwap => "release-artifact-swap",
            Kind::PipelineRewrite => "release-pipeline-rewrite",
            Kind::DirectDeploy => "release-direct-deploy",
            Kind::TargetAccess => "release-target-direct-access",
            Kind::SelfApproval => "release-approval-self-approved",
            Kind::RoleAssumable => "release-role-assumable",
            Kind::OidcUnbound => "release-oidc-trust-unbound",
        }
    }

    /// A short title for grouping.
    pub fn title(self) -> &'static str {
        match self {
            Kind::BranchPush => "change the source branch",
            Kind::BuildOverride => "run other commands in the build",
            Kind::ArtifactSwap => "replace the artifacts",
            Kind::PipelineRewrite => "rewrite or drive the pipeline",
            Kind::DirectDeploy => "deploy directly",
            Kind::TargetAccess => "change the deploy targets directly",
            Kind::SelfApproval => "approve their own change",
            Kind::RoleAssumable => "become a principal with a path",
            Kind::OidcUnbound => "assume a path role from any repository",
        }
    }
}

/// One step of a witness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Who acts.
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// What the step means (`push to refs/heads/main`, `assume role`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
    pub granted_by: Vec<Grant>,
    /// Conditions the step depends on, quoted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<String>,
}

/// A principal that holds a release path of one kind to one pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleasePath {
    pub kind: Kind,
    pub slug: &'static str,
    pub pipeline: String,
    pub principal: String,
    /// `user`, `role` or `external`.
    pub principal_kind: &'static str,
    /// From the principal to the action on the pipeline's resource.
    pub chain: Vec<Step>,
    /// Some step depends on a condition that could not be decided.
    pub conditional: bool,
    /// What the kind adds (`pull-request merges ...`, `bound to the organization`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The reason of the `[release_paths] trusted` entry that accepts it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
    /// RP009 only: the web identity trust is bound to an organization
    /// (`repo:org/*`), not open to any repository of the provider.
    pub organization_bound: bool,
}

impl ReleasePath {
    /// The witness in one line: each step with its grant and conditions.
    pub fn witness(&self) -> String {
        let mut out = self
            .chain
            .first()
            .map_or_else(|| self.principal.clone(), |s| s.principal.clone());
        for s in &self.chain {
            out.push_str(" -> ");
            out.push_str(&s.action);
            out.push_str(" on ");
            out.push_str(&s.resource);
            if !s.detail.is_empty() {
                out.push_str(&format!(" ({})", s.detail));
            }
            if !s.granted_by.is_empty() {
                let g: Vec<String> = s.granted_by.iter().map(Grant::to_string).collect();
                out.push_str(&format!(", granted by {}", g.join(" and ")));
            }
            if !s.conditions.is_empty() {
                out.push_str(&format!(", conditional on {}", s.conditions.join("; ")));
            }
        }
        out
    }
}

/// A principal allowed every action on every resource: listed once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FullControl {
    pub principal: String,
    pub granted_by: Grant,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<String>,
}

/// The paths of one pipeline.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PipelinePaths {
    pub pipeline: String,
    pub name: String,
    pub paths: Vec<ReleasePath>,
    pub full_control: Vec<FullControl>,
    /// Facts the paths depend on that are outside what was read.
    pub notes: Vec<String>,
    /// Values a path's message needed that could not be read (the
    /// approval rule templates of a repository), by resource.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<(String, ReadError)>,
}

/// Whether the analysis could run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Analysed,
    /// The principals could not be read (the bulk read was denied, or the
    /// snapshot predates them): nothing is known about paths.
    NotAnalysed {
        error: ReadError,
    },
}

/// The analysis of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    #[serde(flatten)]
    pub status: Status,
    pub pipelines: Vec<PipelinePaths>,
    /// Notes for the whole account (service control policies, ...).
    pub notes: Vec<String>,
}

impl Analysis {
    /// The paths of a pipeline (by ARN), when analysed.
    pub fn pipeline(&self, arn: &str) -> Option<&PipelinePaths> {
        self.pipelines.iter().find(|p| p.pipeline == arn)
    }
}

/// A principal ARN glob the configuration trusts, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    pub principal: String,
    pub reason: String,
}

/// The note every analysed account carries.
pub const SCP_NOTE: &str = "service control policies and session policies were not considered (not readable from a member account)";

/// The error that stands for principals that were not read.
pub fn not_read() -> ReadError {
    ReadError {
        kind: crate::model::ReadErrorKind::Service,
        action: "iam:GetAccountAuthorizationDetails".to_string(),
        code: None,
        message: "the snapshot holds no IAM principals (taken before release paths were read)"
            .to_string(),
    }
}

/// Analyses the snapshot's principals.
pub fn analyse(s: &Snapshot, trusted: &[Trusted]) -> Analysis {
    match &s.principals {
        Some(Observed::Ok { value }) => analyse_with(s, value, trusted),
        Some(Observed::Unknown { error }) => not_analysed(error.clone()),
        Some(Observed::Absent) | None => not_analysed(not_read()),
    }
}

fn not_analysed(error: ReadError) -> Analysis {
    Analysis {
        status: Status::NotAnalysed { error },
        pipelines: Vec::new(),
        notes: Vec::new(),
    }
}

/// A principal as the analysis sees it.
struct Subject<'a> {
    arn: String,
    kind: &'static str,
    identity: Vec<(String, &'a PolicyDocument)>,
    boundary: Option<(String, &'a PolicyDocument)>,
    trust: Option<&'a PolicyDocument>,
    /// Someone other than an AWS service can act as it (users; roles whose
    /// trust names an AWS or federated principal).
    operable: bool,
    /// An unconditional Allow of `*` on `*` and no boundary.
    full: Option<Grant>,
}

impl<'a> Subject<'a> {
    fn policies(&self) -> Policies<'_> {
        Policies {
            identity: self
                .identity
                .iter()
                .map(|(l, d)| Labelled { label: l, doc: d })
                .collect(),
            boundary: self
                .boundary
                .as_ref()
                .map(|(l, d)| Labelled { label: l, doc: d }),
        }
    }
}

fn subject<'a>(p: &'a IamPrincipal, set: &'a PrincipalSet) -> Subject<'a> {
    let mut identity = Vec::new();
    for i in &p.inline {
        if let Some(d) = &i.document.document {
            let label = match &i.group {
                Some(g) => format!("group {g} inline policy {}", i.name),
                None => format!("inline policy {}", i.name),
            };
            identity.push((label, d));
        }
    }
    for a in &p.attached {
        if let Some(d) = set.policies.get(&a.arn).and_then(|t| t.document.as_ref()) {
            let label = match &a.group {
                Some(g) => format!("{} (through group {g})", a.arn),
                None => a.arn.clone(),
            };
            identity.push((label, d));
        }
    }
    let boundary = p.boundary.as_ref().and_then(|arn| {
        set.policies
            .get(arn)
            .and_then(|t| t.document.as_ref())
            .map(|d| (format!("boundary {arn}"), d))
    });
    let trust = p.trust.as_ref().and_then(|t| t.document.as_ref());
    let operable = match p.kind {
        PrincipalKind::User => true,
        PrincipalKind::Role => trust.is_some_and(|t| {
            t.statements.iter().any(|s| {
                s.effect == Effect::Allow
                    && s.principal.as_ref().is_some_and(|pr| {
                        pr.is_anyone()
                            || !pr.values("AWS").is_empty()
                            || !pr.values("Federated").is_empty()
                    })
            })
        }),
    };
    let full = if boundary.is_none() {
        identity.iter().find_map(|(label, d)| {
            d.statements.iter().enumerate().find_map(|(i, s)| {
                let all_actions = s
                    .action
                    .as_ref()
                    .is_some_and(|a| a.iter().any(|x| x == "*"));
                let all_resources = s
                    .resource
                    .as_ref()
                    .is_some_and(|r| r.iter().any(|x| x == "*"));
                (s.effect == Effect::Allow
                    && all_actions
                    && all_resources
                    && s.conditions.is_empty())
                .then(|| Grant {
                    policy: label.clone(),
                    statement: i + 1,
                    sid: s.sid.clone(),
                })
            })
        })
    } else {
        None
    };
    Subject {
        arn: p.arn.clone(),
        kind: match p.kind {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
        },
        identity,
        boundary,
        trust,
        operable,
        full,
    }
}

/// Every action the analysis asks about (the index keys).
pub const ACTIONS: &[&str] = &[
    "codecommit:GitPush",
    "codecommit:PutFile",
    "codecommit:DeleteFile",
    "codecommit:CreateCommit",
    "codecommit:MergeBranchesByFastForward",
    "codecommit:MergeBranchesBySquash",
    "codecommit:MergeBranchesByThreeWay",
    "codecommit:MergePullRequestByFastForward",
    "codecommit:MergePullRequestBySquash",
    "codecommit:MergePullRequestByThreeWay",
    "codecommit:DeleteBranch",
    "codecommit:CreateBranch",
    "codecommit:OverridePullRequestApprovalRules",
    "codebuild:StartBuild",
    "codebuild:StartBuildBatch",
    "codebuild:UpdateProject",
    "codebuild:CreateProject",
    "s3:PutObject",
    "codepipeline:UpdatePipeline",
    "codepipeline:StartPipelineExecution",
    "codepipeline:PutActionRevision",
    "codepipeline:PutApprovalResult",
    "events:PutTargets",
    "codedeploy:CreateDeployment",
    "cloudformation:UpdateStack",
    "cloudformation:CreateChangeSet",
    "codedeploy:UpdateDeploymentGroup",
    "ssm:SendCommand",
    "ssm:StartSession",
    "ec2-instance-connect:SendSSHPublicKey",
    "autoscaling:UpdateAutoScalingGroup",
    "ec2:CreateLaunchTemplateVersion",
    "sts:AssumeRole",
    "iam:PassRole",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "lambda:CreateFunction",
    "ec2:RunInstances",
    "kms:GenerateDataKey",
];

/// The actions that change the source branch, and whether the request
/// carries `codecommit:References`.
const BRANCH_ACTIONS: &[(&str, bool)] = &[
    ("codecommit:GitPush", true),
    ("codecommit:PutFile", true),
    ("codecommit:DeleteFile", true),
    ("codecommit:CreateCommit", true),
    ("codecommit:MergeBranchesByFastForward", true),
    ("codecommit:MergeBranchesBySquash", true),
    ("codecommit:MergeBranchesByThreeWay", true),
    ("codecommit:MergePullRequestByFastForward", true),
    ("codecommit:MergePullRequestBySquash", true),
    ("codecommit:MergePullRequestByThreeWay", true),
    ("codecommit:DeleteBranch", true),
    ("codecommit:CreateBranch", true),
    ("codecommit:OverridePullRequestApprovalRules", false),
];

/// A node of the chain graph: a subject, or a principal outside the
/// account's users and roles (another account, `*`, a web identity).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Node {
    Subject(usize),
    External(String),
}

/// An edge: `from` can act as `to` by `step`.
#[derive(Debug, Clone)]
struct Edge {
    from: Node,
    step: Step,
}

struct Account<'a> {
    snapshot: &'a Snapshot,
    subjects: Vec<Subject<'a>>,
    by_arn: HashMap<&'a str, usize>,
    index: index::Index,
    /// Edges into each role or user ARN.
    into: HashMap<String, Vec<Edge>>,
    trusted: &'a [Trusted],
}

fn analyse_with(s: &Snapshot, set: &PrincipalSet, trusted: &[Trusted]) -> Analysis {
    let subjects: Vec<Subject<'_>> = set.principals.iter().map(|p| subject(p, set)).collect();
    let by_arn = set
        .principals
        .iter()
        .enumerate()
        .map(|(i, p)| (p.arn.as_str(), i))
        .collect();
    let index = index::Index::build(
        ACTIONS,
        subjects
            .iter()
            .enumerate()
            .filter(|(_, sub)| sub.full.is_none())
            .map(|(i, sub)| (i, sub.identity.iter().map(|(_, d)| *d).collect())),
    );
    let mut acc = Account {
        snapshot: s,
        subjects,
        by_arn,
        index,
        into: HashMap::new(),
        trusted,
    };
    acc.into = edges(&acc);
    let pipelines = s.pipelines.iter().map(|w| acc.pipeline(w)).collect();
    Analysis {
        status: Status::Analysed,
        pipelines,
        notes: vec![SCP_NOTE.to_string()],
    }
}

fn role_trust<'a>(
    s: &'a Snapshot,
    acc_subjects: &'a [Subject<'a>],
    by_arn: &HashMap<&str, usize>,
    arn: &str,
) -> Option<&'a PolicyDocument> {
    if let Some(i) = by_arn.get(arn) {
        return acc_subjects[*i].trust;
    }
    s.resources
        .roles
        .get(arn)
        .and_then(Observed::value)
        .and_then(|r| r.trust_policy.value())
        .and_then(|t| t.document.as_ref())
}

/// The chain edges of the account: who can assume each role, pass it to a
/// service that runs code, or become each user.
fn edges(acc: &Account<'_>) -> HashMap<String, Vec<Edge>> {
    let mut into: HashMap<String, Vec<Edge>> = HashMap::new();
    let mut roles: BTreeSet<String> = acc
        .subjects
        .iter()
        .filter(|x| x.kind == "role")
        .map(|x| x.arn.clone())
        .collect();
    roles.extend(acc.snapshot.resources.roles.keys().cloned());
    let empty = Context::new();
    for role in &roles {
        let Some(trust) = role_trust(acc.snapshot, &acc.subjects, &acc.by_arn, role) else {
            continue;
        };
        let trust_l = Labelled {
            label: "trust policy",
            doc: trust,
        };
        let assume = Request {
            action: "sts:AssumeRole",
            resource: role,
            context: &empty,
        };
        // principals the trust names: subjects by ARN, others as external
        let mut named: BTreeSet<usize> = BTreeSet::new();
        for st in trust
            .statements
            .iter()
            .filter(|x| x.effect == Effect::Allow)
        {
            if !st
                .action
                .as_ref()
                .is_some_and(|a| a.iter().any(|x| wildcard(x, "sts:AssumeRole", true)))
            {
                continue;
            }
            let Some(p) = &st.principal else { continue };
            let mut values: Vec<String> = p.values("AWS").to_vec();
            if p.is_anyone() {
                values.push("*".to_string());
            }
            for v in values {
                if let Some(i) = acc.by_arn.get(v.as_str()) {
                    named.insert(*i);
                } else if v == "*"
                    || !v.contains(&format!(":{}:", acc.snapshot.account))
                        && v != acc.snapshot.account
                {
                    // another account, or anyone
                    let ext = if v.chars().all(|c| c.is_ascii_digit()) {
                        format!("arn:aws:iam::{v}:root")
                    } else {
                        v.clone()
                    };
                    let (how, found) = resource_allows(trust_l, &ext, &assume);
                    if how == Named::No || resource_denies(trust_l, &ext, &assume) {
                        continue;
                    }
                    if let Some((g, conds)) = found {
                        into.entry(role.clone()).or_default().push(Edge {
                            from: Node::External(ext),
                            step: Step {
                                principal: v.clone(),
                                action: "sts:AssumeRole".to_string(),
                                resource: role.clone(),
                                detail: "assume role".to_string(),
                                granted_by: vec![g],
                                conditions: conds,
                            },
                        });
                    }
                }
            }
        }
        // the account's own principals: named directly, or through the
        // account with an identity-policy Allow
        let mut cands: BTreeSet<usize> = named;
        cands.extend(acc.index.candidates("sts:AssumeRole", role));
        for i in cands {
            let sub = &acc.subjects[i];
            if sub.arn == *role {
                continue;
            }
            let (how, _) = resource_allows(trust_l, &sub.arn, &assume);
            if how == Named::No {
                continue;
            }
            let d = decide(
                &sub.arn,
                &sub.policies(),
                Some(ResourcePolicy {
                    policy: trust_l,
                    grants_alone: true,
                }),
                &assume,
            );
            if let Decision::Allowed { grant, conditions } = d {
                into.entry(role.clone()).or_default().push(Edge {
                    from: Node::Subject(i),
                    step: Step {
                        principal: sub.arn.clone(),
                        action: "sts:AssumeRole".to_string(),
                        resource: role.clone(),
                        detail: "assume role".to_string(),
                        granted_by: vec![grant],
                        conditions,
                    },
                });
            }
        }
        // pass the role to a service that runs code
        for (service, run, run_resource) in [
            ("codebuild.amazonaws.com", "codebuild:CreateProject", "*"),
            ("lambda.amazonaws.com", "lambda:CreateFunction", "*"),
            ("ec2.amazonaws.com", "ec2:RunInstances", "*"),
        ] {
            let trusts_service = trust.statements.iter().any(|st| {
                st.effect == Effect::Allow
                    && st
                        .principal
                        .as_ref()
                        .is_some_and(|p| p.values("Service").iter().any(|v| v == service))
            });
            if !trusts_service {
                continue;
            }
            let ctx = Context::new().with("iam:PassedToService", &[service]);
            let pass = Request {
                action: "iam:PassRole",
                resource: role,
                context: &ctx,
            };
            for i in acc.index.candidates("iam:PassRole", role) {
                let sub = &acc.subjects[i];
                let Decision::Allowed { grant, conditions } =
                    decide(&sub.arn, &sub.policies(), None, &pass)
                else {
                    continue;
                };
                let run_req = Request {
                    action: run,
                    resource: run_resource,
                    context: &empty,
                };
                let Decision::Allowed {
                    grant: g2,
                    conditions: c2,
                } = decide(&sub.arn, &sub.policies(), None, &run_req)
                else {
                    continue;
                };
                let mut conds = conditions;
                conds.extend(c2);
                into.entry(role.clone()).or_default().push(Edge {
                    from: Node::Subject(i),
                    step: Step {
                        principal: sub.arn.clone(),
                        action: format!("iam:PassRole + {run}"),
                        resource: role.clone(),
                        detail: format!("run code as the role through {service}"),
                        granted_by: vec![grant, g2],
                        conditions: conds,
                    },
                });
            }
        }
    }
    // become a user
    for (u, user) in acc.subjects.iter().enumerate() {
        if user.kind != "user" {
            continue;
        }
        for action in [
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
        ] {
            let req = Request {
                action,
                resource: &user.arn,
                context: &empty,
            };
            for i in acc.index.candidates(action, &user.arn) {
                if i == u {
                    continue;
                }
                let sub = &acc.subjects[i];
                if let Decision::Allowed { grant, conditions } =
                    decide(&sub.arn, &sub.policies(), None, &req)
                {
                    into.entry(user.arn.clone()).or_default().push(Edge {
                        from: Node::Subject(i),
                        step: Step {
                            principal: sub.arn.clone(),
                            action: action.to_string(),
                            resource: user.arn.clone(),
                            detail: "become the user".to_string(),
                            granted_by: vec![grant],
                            conditions,
                        },
                    });
                }
            }
        }
    }
    for v in into.values_mut() {
        v.sort_by(|a, b| a.from.cmp(&b.from));
        v.dedup_by(|a, b| a.from == b.from);
    }
    into
}

/// One probe of a pipeline: an action on a resource, in a context.
struct Probe {
    kind: Kind,
    action: &'static str,
    resource: String,
    context: Context,
    detail: String,
    /// A second action on the same resource the path needs as well.
    also: Option<&'static str>,
}

impl<'a> Account<'a> {
    fn accepted(&self, principal: &str) -> Option<String> {
        self.trusted
            .iter()
            .find(|t| wildcard(&t.principal, principal, false))
            .map(|t| t.reason.clone())
    }

    /// The pipeline's own roles: its role, action roles, build, deploy and
    /// trigger roles. They are the pipeline itself, not paths.
    fn own_roles(&self, w: &PipelineWiring) -> BTreeSet<String> {
        let res = &self.snapshot.resources;
        let mut out: BTreeSet<String> = w.role_arn.iter().cloned().collect();
        out.extend(w.action_roles.iter().cloned());
        for b in &w.builds {
            if let Some(r) = res
                .build_projects
                .get(&b.project_arn)
                .and_then(Observed::value)
                .and_then(|p| p.service_role.clone())
            {
                out.insert(r);
            }
        }
        for d in &w.deploys {
            if let Some(r) = res
                .deploy_groups
                .get(&d.group_arn)
                .and_then(Observed::value)
                .and_then(|g| g.service_role_arn.clone())
            {
                out.insert(r);
            }
        }
        // the roles CloudFormation acts as, and the stacks' own roles
        for d in &w.stack_deploys {
            out.extend(d.cfn_role_arn.iter().cloned());
            out.extend(d.action_role_arn.iter().cloned());
            if let Some(r) = res
                .cfn_stacks
                .get(&d.stack_arn)
                .and_then(Observed::value)
                .and_then(|st| st.role_arn.clone())
            {
                out.insert(r);
            }
        }
        for t in &w.trigger_rules {
            if let Some(rule) = res.event_rules.get(t).and_then(Observed::value) {
                out.extend(rule.role_arn.iter().cloned());
                out.extend(rule.targets.iter().filter_map(|x| x.role_arn.clone()));
            }
        }
        out
    }

    fn probes(&self, w: &PipelineWiring, notes: &mut Vec<String>) -> Vec<Probe> {
        let mut out = Vec::new();
        let account = &self.snapshot.account;
        for src in &w.sources {
            let branch = src.branch.clone().unwrap_or_else(|| "main".to_string());
            let reference = format!("refs/heads/{branch}");
            for (action, with_ref) in BRANCH_ACTIONS {
                let context = if *with_ref {
                    Context::new().with("codecommit:References", &[&reference])
                } else {
                    Context::new()
                };
                out.push(Probe {
                    kind: Kind::BranchPush,
                    action,
                    resource: src.repository_arn.clone(),
                    context,
                    detail: format!("{reference} of {}", src.repository_name),
                    also: None,
                });
            }
        }
        if !w.connection_sources.is_empty() {
            notes.push(format!(
                "{} source(s) come through a connection (GitHub, Bitbucket, GitLab): branch protection lives with the provider and was not checked",
                w.connection_sources.len()
            ));
        }
        for b in &w.builds {
            for action in ["codebuild:StartBuild", "codebuild:StartBuildBatch"] {
                out.push(Probe {
                    kind: Kind::BuildOverride,
                    action,
                    resource: b.project_arn.clone(),
                    context: Context::new().with("codebuild:source.buildspec", &["(override)"]),
                    detail: "with a buildspec override, run as the build role".to_string(),
                    also: None,
                });
                out.push(Probe {
                    kind: Kind::BuildOverride,
                    action,
                    resource: b.project_arn.clone(),
                    context: Context::new(),
                    detail: "with a sourceVersion override (any branch), run as the build role"
                        .to_string(),
                    also: None,
                });
            }
            out.push(Probe {
                kind: Kind::BuildOverride,
                action: "codebuild:UpdateProject",
                resource: b.project_arn.clone(),
                context: Context::new(),
                detail: "change the project's buildspec or source".to_string(),
                also: None,
            });
        }
        let v2 = self
            .snapshot
            .resources
            .pipelines
            .get(&w.arn)
            .and_then(Observed::value)
            .is_some_and(|p| p.pipeline_type.as_deref() == Some("V2"));
        if v2 {
            out.push(Probe {
                kind: Kind::PipelineRewrite,
                action: "codepipeline:StartPipelineExecution",
                resource: w.arn.clone(),
                context: Context::new(),
                detail: "with a source revision override (a COMMIT_ID applies across branches) or pipeline variables".to_string(),
                also: None,
            });
        }
        for src in &w.sources {
            out.push(Probe {
                kind: Kind::PipelineRewrite,
                action: "codepipeline:PutActionRevision",
                resource: format!("{}/{}/{}", w.arn, src.stage, src.action),
                context: Context::new(),
                detail: "set the source revision".to_string(),
                also: None,
            });
        }
        for rule in &w.trigger_rules {
            out.push(Probe {
                kind: Kind::PipelineRewrite,
                action: "events:PutTargets",
                resource: rule.clone(),
                context: Context::new(),
                detail: "an input transformer can supply the revision".to_string(),
                also: None,
            });
        }
        // a CloudFormation deploy's stack, in the audited account: changed
        // directly, CloudFormation acts with the stack's role (reused
        // without iam:PassRole)
        let mut stacks = BTreeSet::new();
        for d in &w.stack_deploys {
            if d.account != *account
                || d.action_mode == "DELETE_ONLY"
                || !stacks.insert(&d.stack_arn)
            {
                continue;
            }
            let resource = format!("{}/00000000-0000-0000-0000-000000000000", d.stack_arn);
            out.push(Probe {
                kind: Kind::DirectDeploy,
                action: "cloudformation:UpdateStack",
                resource: resource.clone(),
                context: Context::new(),
                detail: format!("update stack {} with any template", d.stack_name),
                also: None,
            });
            out.push(Probe {
                kind: Kind::DirectDeploy,
                action: "cloudformation:CreateChangeSet",
                resource,
                context: Context::new(),
                detail: format!("make and execute a change set of stack {}", d.stack_name),
                also: Some("cloudformation:ExecuteChangeSet"),
            });
        }
        for d in &w.deploys {
            out.push(Probe {
                kind: Kind::DirectDeploy,
                action: "codedeploy:CreateDeployment",
                resource: d.group_arn.clone(),
                context: Context::new(),
                detail: "any revision the targets can read".to_string(),
                also: None,
            });
            out.push(Probe {
                kind: Kind::DirectDeploy,
                action: "codedeploy:UpdateDeploymentGroup",
                resource: d.group_arn.clone(),
                context: Context::new(),
                detail: "change the group's targets or role".to_string(),
                also: None,
            });
            let region = d
                .group_arn
                .split(':')
                .nth(3)
                .unwrap_or(&w.region)
                .to_string();
            if let Some(t) = self
                .snapshot
                .resources
                .deploy_targets
                .get(&d.group_arn)
                .and_then(Observed::value)
            {
                let mut groups = BTreeSet::new();
                for inst in &t.instances {
                    let arn = format!("arn:aws:ec2:{region}:{account}:instance/{}", inst.id);
                    for action in [
                        "ssm:SendCommand",
                        "ssm:StartSession",
                        "ec2-instance-connect:SendSSHPublicKey",
                    ] {
                        out.push(Probe {
                            kind: Kind::TargetAccess,
                            action,
                            resource: arn.clone(),
                            context: Context::new(),
                            detail: format!("run commands on instance {}", inst.id),
                            also: None,
                        });
                    }
                    if let Some(g) = &inst.auto_scaling_group {
                        groups.insert(g.clone());
                    }
                }
                // a new version of the launch template the group launches
                // from: at once with `$Latest`; with `$Default` (or none
                // named) only by making it the default as well; a pinned
                // number needs the group changed (UpdateAutoScalingGroup)
                for (g, lt) in &t.launch_templates {
                    if !groups.contains(g) {
                        continue;
                    }
                    let also = match lt.version.as_deref() {
                        Some("$Latest") => None,
                        None | Some("$Default") => Some("ec2:ModifyLaunchTemplate"),
                        Some(_) => continue,
                    };
                    out.push(Probe {
                        kind: Kind::TargetAccess,
                        action: "ec2:CreateLaunchTemplateVersion",
                        resource: format!("arn:aws:ec2:{region}:{account}:launch-template/{}", lt.id),
                        context: Context::new(),
                        detail: format!(
                            "launch the new instances of Auto Scaling group {g} from a new version of launch template {} ({})",
                            lt.name.as_deref().unwrap_or(&lt.id),
                            lt.version.as_deref().unwrap_or("$Default")
                        ),
                        also,
                    });
                }
                for g in groups {
                    out.push(Probe {
                        kind: Kind::TargetAccess,
                        action: "autoscaling:UpdateAutoScalingGroup",
                        resource: format!("arn:aws:autoscaling:{region}:{account}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/{g}"),
                        context: Context::new(),
                        detail: format!("replace the instances of Auto Scaling group {g}"),
                        also: None,
                    });
                }
            }
        }
        out
    }

    fn pipeline(&self, w: &PipelineWiring) -> PipelinePaths {
        let own = self.own_roles(w);
        let mut notes = Vec::new();
        // direct paths, by subject: the best step of each kind
        let mut direct: BTreeMap<(usize, Kind), Step> = BTreeMap::new();
        let consider =
            |i: usize, kind: Kind, step: Step, direct: &mut BTreeMap<(usize, Kind), Step>| {
                let keep = match direct.get(&(i, kind)) {
                    Some(old) => old.conditions.len() > step.conditions.len(),
                    None => true,
                };
                if keep {
                    direct.insert((i, kind), step);
                }
            };
        for probe in self.probes(w, &mut notes) {
            let req = Request {
                action: probe.action,
                resource: &probe.resource,
                context: &probe.context,
            };
            for i in self.index.candidates(probe.action, &probe.resource) {
                let sub = &self.subjects[i];
                if own.contains(&sub.arn) {
                    continue;
                }
                if let Decision::Allowed { grant, conditions } =
                    decide(&sub.arn, &sub.policies(), None, &req)
                {
                    let mut grants = vec![grant];
                    let mut conditions = conditions;
                    let mut action = probe.action.to_string();
                    if let Some(also) = probe.also {
                        let second = Request {
                            action: also,
                            resource: &probe.resource,
                            context: &probe.context,
                        };
                        match decide(&sub.arn, &sub.policies(), None, &second) {
                            Decision::Allowed {
                                grant,
                                conditions: c,
                            } => {
                                grants.push(grant);
                                conditions.extend(c);
                                action = format!("{action} + {also}");
                            }
                            Decision::No => continue,
                        }
                    }
                    consider(
                        i,
                        probe.kind,
                        Step {
                            principal: sub.arn.clone(),
                            action,
                            resource: probe.resource.clone(),
                            detail: probe.detail.clone(),
                            granted_by: grants,
                            conditions,
                        },
                        &mut direct,
                    );
                }
            }
        }
        // UpdatePipeline with PassRole of every role the declaration names
        let mut roles: Vec<String> = w.role_arn.iter().cloned().collect();
        roles.extend(w.action_roles.iter().cloned());
        let empty = Context::new();
        let update = Request {
            action: "codepipeline:UpdatePipeline",
            resource: &w.arn,
            context: &empty,
        };
        for i in self.index.candidates("codepipeline:UpdatePipeline", &w.arn) {
            let sub = &self.subjects[i];
            if own.contains(&sub.arn) {
                continue;
            }
            let Decision::Allowed { grant, conditions } =
                decide(&sub.arn, &sub.policies(), None, &update)
            else {
                continue;
            };
            let mut grants = vec![grant];
            let mut conds = conditions;
            let ctx = Context::new().with("iam:PassedToService", &["codepipeline.amazonaws.com"]);
            let all = roles.iter().all(|r| {
                let pass = Request {
                    action: "iam:PassRole",
                    resource: r,
                    context: &ctx,
                };
                match decide(&sub.arn, &sub.policies(), None, &pass) {
                    Decision::Allowed { grant, conditions } => {
                        grants.push(grant);
                        conds.extend(conditions);
                        true
                    }
                    Decision::No => false,
                }
            });
            if all {
                consider(
                    i,
                    Kind::PipelineRewrite,
                    Step {
                        principal: sub.arn.clone(),
                        action: "codepipeline:UpdatePipeline + iam:PassRole".to_string(),
                        resource: w.arn.clone(),
                        detail: "rewrite the declaration, passing its roles".to_string(),
                        granted_by: grants,
                        conditions: conds,
                    },
                    &mut direct,
                );
            }
        }
        // artifact swap
        self.artifact_swap(w, &own, &mut direct, &mut notes);

        let mut paths: Vec<ReleasePath> = Vec::new();
        let mut full_control = Vec::new();
        for sub in &self.subjects {
            if let Some(g) = &sub.full
                && sub.operable
                && !own.contains(&sub.arn)
            {
                full_control.push(FullControl {
                    principal: sub.arn.clone(),
                    granted_by: g.clone(),
                    accepted: self.accepted(&sub.arn),
                });
            }
        }
        let holders: BTreeSet<usize> = direct.keys().map(|(i, _)| *i).collect();
        for ((i, kind), step) in &direct {
            let sub = &self.subjects[*i];
            if !sub.operable {
                continue;
            }
            let note = if *kind == Kind::BranchPush {
                self.approval_note(w, &step.resource)
            } else {
                String::new()
            };
            paths.push(self.path(w, *kind, &sub.arn, sub.kind, vec![step.clone()], note));
        }
        // chains into a holder (ending with its own step), a principal in
        // full control, or one of the pipeline's own roles
        let mut targets: BTreeMap<String, Vec<Step>> =
            own.iter().map(|r| (r.clone(), Vec::new())).collect();
        for ((i, _), step) in &direct {
            targets
                .entry(self.subjects[*i].arn.clone())
                .or_insert_with(|| vec![step.clone()]);
        }
        for sub in &self.subjects {
            if let Some(g) = &sub.full {
                targets.insert(
                    sub.arn.clone(),
                    vec![Step {
                        principal: sub.arn.clone(),
                        action: "*".to_string(),
                        resource: "*".to_string(),
                        detail: "full control".to_string(),
                        granted_by: vec![g.clone()],
                        conditions: Vec::new(),
                    }],
                );
            }
        }
        let reached = self.walk(&targets);
        let mut chained: BTreeSet<String> = BTreeSet::new();
        for (node, chain) in &reached {
            let (arn, kind) = match node {
                Node::Subject(i) => {
                    let sub = &self.subjects[*i];
                    if holders.contains(i)
                        || own.contains(&sub.arn)
                        || sub.full.is_some()
                        || !sub.operable
                    {
                        continue;
                    }
                    (sub.arn.clone(), sub.kind)
                }
                Node::External(e) => (e.clone(), "external"),
            };
            chained.insert(arn.clone());
            paths.push(self.path(
                w,
                Kind::RoleAssumable,
                &arn,
                kind,
                chain.clone(),
                String::new(),
            ));
        }
        // web identity roles with a path
        for (i, sub) in self.subjects.iter().enumerate() {
            if sub.kind != "role" || own.contains(&sub.arn) {
                continue;
            }
            let has_path = holders.contains(&i) || chained.contains(&sub.arn) || sub.full.is_some();
            if !has_path {
                continue;
            }
            let Some(trust) = sub.trust else { continue };
            for (n, st) in trust.statements.iter().enumerate() {
                if st.effect != Effect::Allow {
                    continue;
                }
                let Some(p) = &st.principal else { continue };
                for provider in p.values("Federated") {
                    if let Some((binding, severe)) = oidc_binding(provider, st) {
                        let note = if severe {
                            binding
                        } else {
                            format!("{binding} (bound to the organization)")
                        };
                        let host = provider.rsplit("oidc-provider/").next().unwrap_or(provider);
                        let mut chain = vec![Step {
                            principal: host.to_string(),
                            action: "sts:AssumeRoleWithWebIdentity".to_string(),
                            resource: sub.arn.clone(),
                            detail: String::new(),
                            granted_by: vec![Grant {
                                policy: "trust policy".to_string(),
                                statement: n + 1,
                                sid: st.sid.clone(),
                            }],
                            conditions: Vec::new(),
                        }];
                        // then the role's own path
                        if let Some(own) = paths
                            .iter()
                            .find(|x| x.principal == sub.arn && x.kind != Kind::OidcUnbound)
                        {
                            chain.extend(own.chain.iter().cloned());
                        }
                        let mut path =
                            self.path(w, Kind::OidcUnbound, &sub.arn, sub.kind, chain, note);
                        path.organization_bound = !severe;
                        paths.push(path);
                    }
                }
            }
        }
        // four eyes: a manual approval before deploy
        if let Some((stage, action)) = approval_before_deploy(self.snapshot, w) {
            let resource = format!("{}/{stage}/{action}", w.arn);
            let req = Request {
                action: "codepipeline:PutApprovalResult",
                resource: &resource,
                context: &empty,
            };
            let putters: BTreeSet<usize> = self
                .index
                .candidates("codepipeline:PutApprovalResult", &resource)
                .into_iter()
                .collect();
            let mut extra = Vec::new();
            for p in paths.iter().filter(|p| p.kind != Kind::OidcUnbound) {
                let Some(i) = self.by_arn.get(p.principal.as_str()) else {
                    continue;
                };
                if !putters.contains(i)
                    || extra
                        .iter()
                        .any(|x: &ReleasePath| x.principal == p.principal)
                {
                    continue;
                }
                let sub = &self.subjects[*i];
                if let Decision::Allowed { grant, conditions } =
                    decide(&sub.arn, &sub.policies(), None, &req)
                {
                    let mut chain = p.chain.clone();
                    chain.push(Step {
                        principal: sub.arn.clone(),
                        action: "codepipeline:PutApprovalResult".to_string(),
                        resource: resource.clone(),
                        detail: "approve the change".to_string(),
                        granted_by: vec![grant],
                        conditions,
                    });
                    extra.push(self.path(
                        w,
                        Kind::SelfApproval,
                        &sub.arn,
                        sub.kind,
                        chain,
                        format!("puts code in by {}", p.kind.id()),
                    ));
                }
            }
            paths.extend(extra);
        }
        paths.sort_by(|a, b| (a.kind, &a.principal).cmp(&(b.kind, &b.principal)));
        paths.dedup_by(|a, b| a.kind == b.kind && a.principal == b.principal);
        let mut gaps: Vec<(String, ReadError)> = Vec::new();
        for p in paths.iter().filter(|p| p.kind == Kind::BranchPush) {
            if let Some(repo) = p.chain.last().map(|s| &s.resource)
                && let Some(Observed::Unknown { error }) =
                    self.snapshot.resources.approval_templates.get(repo)
                && !gaps.iter().any(|(r, _)| r == repo)
            {
                gaps.push((repo.clone(), error.clone()));
            }
        }
        PipelinePaths {
            pipeline: w.arn.clone(),
            name: w.name.clone(),
            paths,
            full_control,
            notes,
            gaps,
        }
    }

    /// Whether pull-request merges into the pipeline's branch of `repo`
    /// need approvals, from the approval rule templates associated with
    /// the repository that apply to the branch.
    fn approval_note(&self, w: &PipelineWiring, repo: &str) -> String {
        let branch = w
            .sources
            .iter()
            .find(|s| s.repository_arn == repo)
            .and_then(|s| s.branch.clone())
            .unwrap_or_else(|| "main".to_string());
        let reference = format!("refs/heads/{branch}");
        let templates = match self.snapshot.resources.approval_templates.get(repo) {
            None => {
                return "approval rule templates not read: whether pull-request merges need approvals is not known".to_string();
            }
            Some(Observed::Unknown { error }) => {
                return format!(
                    "whether pull-request merges into {branch} need approvals is not known ({} could not be read)",
                    error.action
                );
            }
            Some(Observed::Absent) => &[][..],
            Some(Observed::Ok { value }) => value.as_slice(),
        };
        let mut needs = Vec::new();
        let applying: Vec<&str> = templates
            .iter()
            .filter(|t| t.applies_to(&reference))
            .map(|t| t.name.as_str())
            .collect();
        for t in templates.iter().filter(|t| t.applies_to(&reference)) {
            if let Some(e) = &t.parse_error {
                needs.push(format!(
                    "what approval rule template {} requires (its content could not be read: {e})",
                    t.name
                ));
            }
            for a in &t.approvals {
                let pool = if a.pool.is_empty() {
                    "any user with access to the repository".to_string()
                } else {
                    a.pool.join(", ")
                };
                needs.push(format!(
                    "{} approval(s) from {pool} (template {})",
                    a.needed, t.name
                ));
            }
        }
        if needs.is_empty() && applying.is_empty() {
            format!(
                "pull-request merges into {branch} need no approval: no approval rule template of the repository applies to it"
            )
        } else if needs.is_empty() {
            format!(
                "pull-request merges into {branch} need no approval: the approval rule templates that apply to it ({}) require none",
                applying.join(", ")
            )
        } else {
            format!(
                "pull-request merges into {branch} need {}",
                needs.join(" and ")
            )
        }
    }

    fn path(
        &self,
        w: &PipelineWiring,
        kind: Kind,
        principal: &str,
        principal_kind: &'static str,
        chain: Vec<Step>,
        note: String,
    ) -> ReleasePath {
        ReleasePath {
            kind,
            slug: kind.slug(),
            pipeline: w.arn.clone(),
            conditional: chain.iter().any(|s| !s.conditions.is_empty()),
            principal: principal.to_string(),
            principal_kind,
            chain,
            note,
            accepted: self.accepted(principal),
            organization_bound: false,
        }
    }

    /// Walks the chain edges backwards from `targets`, up to three hops:
    /// each principal reached, with its chain (first step first), ending
    /// with the target's own path step when it has one.
    fn walk(&self, targets: &BTreeMap<String, Vec<Step>>) -> BTreeMap<Node, Vec<Step>> {
        let mut out: BTreeMap<Node, Vec<Step>> = BTreeMap::new();
        let mut queue: VecDeque<(String, usize, Vec<Step>)> = targets
            .iter()
            .map(|(t, tail)| (t.clone(), 0, tail.clone()))
            .collect();
        let mut seen: BTreeSet<String> = targets.keys().cloned().collect();
        while let Some((arn, hops, chain)) = queue.pop_front() {
            if hops >= 3 {
                continue;
            }
            let Some(edges) = self.into.get(&arn) else {
                continue;
            };
            for e in edges {
                let mut c = vec![e.step.clone()];
                c.extend(chain.iter().cloned());
                let key = match &e.from {
                    Node::Subject(i) => self.subjects[*i].arn.clone(),
                    Node::External(x) => x.clone(),
                };
                if !seen.insert(key.clone()) {
                    continue;
                }
                out.insert(e.from.clone(), c.clone());
                if matches!(e.from, Node::Subject(_)) {
                    queue.push_back((key, hops + 1, c));
                }
            }
        }
        out
    }

    fn artifact_swap(
        &self,
        w: &PipelineWiring,
        own: &BTreeSet<String>,
        direct: &mut BTreeMap<(usize, Kind), Step>,
        notes: &mut Vec<String>,
    ) {
        let res = &self.snapshot.resources;
        let mut grants_noted = BTreeSet::new();
        for st in &w.artifact_stores {
            let objects = crate::model::artifact_objects_arn(&st.bucket_arn, &w.name);
            let object = format!("{}pipeaudit-probe", objects.trim_end_matches('*'));
            let bucket = res.buckets.get(&st.bucket_arn);
            let policy: Option<&PolicyDocument> = match bucket
                .and_then(Observed::value)
                .map(|b| &b.policy)
            {
                Some(Observed::Ok { value }) => value.document.as_ref(),
                Some(Observed::Unknown { error }) => {
                    notes.push(format!(
                        "the policy of bucket {} could not be read ({}): artifact writers named only by it are not listed",
                        st.bucket, error.action
                    ));
                    None
                }
                _ => None,
            };
            // the key a write must be able to use: the bucket's default key
            let key = bucket
                .and_then(Observed::value)
                .and_then(|b| b.encryption.value())
                .and_then(|e| {
                    e.rules
                        .iter()
                        .find(|r| r.sse_algorithm == "aws:kms")
                        .and_then(|r| r.kms_key_arn.clone().or(r.kms_master_key_id.clone()))
                });
            let key_arn = key.clone().or(st.key_arn.clone()).unwrap_or_default();
            let ctx = Context::new()
                .with("aws:SecureTransport", &["true"])
                .with("s3:x-amz-server-side-encryption", &["aws:kms"])
                .with(
                    "s3:x-amz-server-side-encryption-aws-kms-key-id",
                    &[&key_arn],
                );
            let req = Request {
                action: "s3:PutObject",
                resource: &object,
                context: &ctx,
            };
            let bucket_l = policy.map(|doc| Labelled {
                label: "bucket policy",
                doc,
            });
            let mut cands: BTreeSet<usize> = self
                .index
                .candidates("s3:PutObject", &object)
                .into_iter()
                .collect();
            if let Some(doc) = policy {
                for s in doc.statements.iter().filter(|s| s.effect == Effect::Allow) {
                    if let Some(p) = &s.principal {
                        for v in p.values("AWS") {
                            if let Some(i) = self.by_arn.get(v.as_str()) {
                                cands.insert(*i);
                            }
                        }
                    }
                }
            }
            for i in cands {
                let sub = &self.subjects[i];
                if own.contains(&sub.arn) {
                    continue;
                }
                let d = decide(
                    &sub.arn,
                    &sub.policies(),
                    bucket_l.map(|policy| ResourcePolicy {
                        policy,
                        grants_alone: true,
                    }),
                    &req,
                );
                let Decision::Allowed { grant, conditions } = d else {
                    continue;
                };
                let mut grants = vec![grant];
                let mut conds = conditions;
                if let Some(k) = &key {
                    match self.key_use(sub, k) {
                        Some((g, c)) => {
                            grants.push(g);
                            conds.extend(c);
                        }
                        None => {
                            // a grant that was not read may let it
                            if let Some(e) = self.grants_unknown(k)
                                && grants_noted.insert(k.clone())
                            {
                                notes.push(format!(
                                    "the grants of key {k} could not be read ({}): principals that may write artifacts and use the key only through a grant are not listed",
                                    e.action
                                ));
                            }
                            continue;
                        }
                    }
                }
                let step = Step {
                    principal: sub.arn.clone(),
                    action: "s3:PutObject".to_string(),
                    resource: objects.clone(),
                    detail: match &key {
                        Some(k) => format!("write artifacts encrypted with {k}"),
                        None => "write artifacts".to_string(),
                    },
                    granted_by: grants,
                    conditions: conds,
                };
                let keep = direct
                    .get(&(i, Kind::ArtifactSwap))
                    .is_none_or(|old| old.conditions.len() > step.conditions.len());
                if keep {
                    direct.insert((i, Kind::ArtifactSwap), step);
                }
            }
        }
    }

    /// The error that left the key's grants unknown, when they are.
    fn grants_unknown(&self, key: &str) -> Option<&ReadError> {
        match self.snapshot.resources.keys.get(key) {
            Some(Observed::Ok { value }) => value.grants.error(),
            _ => None,
        }
    }

    /// Whether the subject may use the key to encrypt (kms:GenerateDataKey):
    /// the key policy naming it, or delegating to IAM with an identity
    /// Allow, or a grant to it for the operation (an explicit Deny in the
    /// key policy or its identity policies still wins).
    fn key_use(&self, sub: &Subject<'_>, key: &str) -> Option<(Grant, Vec<String>)> {
        let k = self
            .snapshot
            .resources
            .keys
            .get(key)
            .and_then(Observed::value)?;
        let empty = Context::new();
        let req = Request {
            action: "kms:GenerateDataKey",
            resource: key,
            context: &empty,
        };
        let doc = match &k.policy {
            Observed::Ok { value } => value.document.as_ref()?,
            _ => {
                return None;
            }
        };
        let l = Labelled {
            label: "key policy",
            doc,
        };
        let (how, _) = resource_allows(l, &sub.arn, &req);
        if how != Named::No
            && let Decision::Allowed { grant, conditions } = decide(
                &sub.arn,
                &sub.policies(),
                Some(ResourcePolicy {
                    policy: l,
                    grants_alone: true,
                }),
                &req,
            )
        {
            return Some((grant, conditions));
        }
        let grants = k.grants.value()?;
        let op = req.action.trim_start_matches("kms:");
        grants
            .iter()
            .filter(|g| g.grantee_principal == sub.arn && g.operations.iter().any(|o| o == op))
            .filter_map(|g| {
                let doc = grant_document(req.action, &g.encryption_context);
                let label = format!("kms-grant:{}", g.grant_id);
                // the grant allows; the Denies of the key policy and of the
                // subject's own policies still apply (their Allows do not)
                let denies: Vec<(String, PolicyDocument)> = sub
                    .identity
                    .iter()
                    .map(|(l, d)| (l.clone(), deny_only(d)))
                    .collect();
                let mut identity = vec![Labelled {
                    label: &label,
                    doc: &doc,
                }];
                identity.extend(denies.iter().map(|(l, d)| Labelled { label: l, doc: d }));
                let policies = Policies {
                    identity,
                    boundary: sub.policies().boundary,
                };
                match decide(
                    &sub.arn,
                    &policies,
                    Some(ResourcePolicy {
                        policy: l,
                        grants_alone: false,
                    }),
                    &req,
                ) {
                    Decision::Allowed { grant, conditions } => Some((grant, conditions)),
                    Decision::No => None,
                }
            })
            .min_by_key(|(_, c)| c.len())
    }
}

/// A KMS grant as a policy: an Allow of `action` on the key, under the
/// encryption context the grant requires (each pair a condition the
/// request must meet, so a constrained grant is a conditional path).
fn grant_document(
    action: &str,
    context: &std::collections::BTreeMap<String, String>,
) -> PolicyDocument {
    PolicyDocument {
        version: Some("2012-10-17".to_string()),
        id: None,
        statements: vec![Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            not_principal: None,
            action: Some(vec![action.to_string()]),
            not_action: None,
            resource: Some(vec!["*".to_string()]),
            not_resource: None,
            conditions: context
                .iter()
                .map(|(k, v)| Condition {
                    operator: "StringEquals".to_string(),
                    key: format!("kms:EncryptionContext:{k}"),
                    values: vec![v.clone()],
                })
                .collect(),
        }],
    }
}

/// A policy whose Allow statements match no action: only its Denies take
/// part (each statement keeps its index, so a Deny is cited as written).
fn deny_only(doc: &PolicyDocument) -> PolicyDocument {
    let mut out = doc.clone();
    for s in out
        .statements
        .iter_mut()
        .filter(|s| s.effect == Effect::Allow)
    {
        s.action = Some(Vec::new());
        s.not_action = None;
    }
    out
}

/// How a web identity trust statement binds the subject: `None` when the
/// `sub` (or `job_workflow_ref`) condition binds it to named repositories;
/// otherwise what is wrong and whether it is unbound (`true`) or bound only
/// to an organization (`false`).
pub fn oidc_binding(
    provider: &str,
    st: &crate::model::policy::Statement,
) -> Option<(String, bool)> {
    let host = provider.rsplit("oidc-provider/").next().unwrap_or(provider);
    let sub_key = format!("{host}:sub");
    let ref_key = format!("{host}:job_workflow_ref");
    let subs: Vec<&String> = st
        .conditions
        .iter()
        .filter(|c| c.key.eq_ignore_ascii_case(&sub_key) && !c.operator.contains("Not"))
        .flat_map(|c| c.values.iter())
        .collect();
    let bound_by_ref = st.conditions.iter().any(|c| {
        c.key.eq_ignore_ascii_case(&ref_key) && !c.values.iter().any(|v| v.starts_with('*'))
    });
    if subs.is_empty() {
        if bound_by_ref {
            return None;
        }
        return Some((
            format!("no {sub_key} condition: any repository of the provider can assume it"),
            true,
        ));
    }
    let mut org = None;
    for v in subs {
        // GitHub `repo:OWNER/REPO:...`, GitLab `project_path:GROUP/PROJECT:...`
        let body = v
            .strip_prefix("repo:")
            .or_else(|| v.strip_prefix("project_path:"));
        let Some(body) = body else {
            if v.contains(['*', '?']) {
                return Some((format!("{sub_key} {v} matches any repository"), true));
            }
            continue;
        };
        let path = body.split(':').next().unwrap_or(body);
        let (owner, repo) = path.split_once('/').unwrap_or((path, ""));
        if owner.contains(['*', '?']) || repo.is_empty() && path.contains(['*', '?']) {
            return Some((format!("{sub_key} {v} has a wildcard in the owner"), true));
        }
        if repo.contains(['*', '?']) {
            org = Some(format!("{sub_key} {v} has a wildcard in the repository"));
        }
    }
    org.map(|o| (o, false))
}

/// The first manual approval action that runs before a deploy stage.
fn approval_before_deploy(s: &Snapshot, w: &PipelineWiring) -> Option<(String, String)> {
    let p = s
        .resources
        .pipelines
        .get(&w.arn)
        .and_then(Observed::value)?;
    let mut approval = None;
    for stage in &p.stages {
        for a in &stage.actions {
            if a.category == "Approval" && a.provider == "Manual" && approval.is_none() {
                approval = Some((stage.name.clone(), a.name.clone()));
            }
            if a.category == "Deploy" {
                return approval;
            }
        }
    }
    None
}

/// The principals (and the managed policies they use) to keep in the
/// snapshot: those that hold a path of any pipeline or lead to one.
pub fn keep(s: &Snapshot, set: PrincipalSet) -> Kept {
    let analysis = analyse_with(s, &set, &[]);
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    let mut review: BTreeSet<String> = BTreeSet::new();
    for p in &analysis.pipelines {
        for path in &p.paths {
            if path.kind == Kind::BranchPush
                && let Some(last) = path.chain.last()
            {
                review.insert(last.resource.clone());
            }
            wanted.insert(&path.principal);
            for step in &path.chain {
                wanted.insert(&step.principal);
                wanted.insert(&step.resource);
            }
        }
        for f in &p.full_control {
            wanted.insert(&f.principal);
        }
    }
    let principals: Vec<IamPrincipal> = set
        .principals
        .iter()
        .filter(|p| wanted.contains(p.arn.as_str()))
        .cloned()
        .collect();
    let used: BTreeSet<&str> = principals
        .iter()
        .flat_map(|p| {
            p.attached
                .iter()
                .map(|a| a.arn.as_str())
                .chain(p.boundary.as_deref())
        })
        .collect();
    let policies = set
        .policies
        .iter()
        .filter(|(arn, _)| used.contains(arn.as_str()))
        .map(|(a, t)| (a.clone(), t.clone()))
        .collect();
    let repositories = s
        .pipelines
        .iter()
        .flat_map(|w| &w.sources)
        .filter(|src| review.remove(&src.repository_arn))
        .map(|src| {
            let region = src
                .repository_arn
                .split(':')
                .nth(3)
                .unwrap_or("")
                .to_string();
            (
                src.repository_arn.clone(),
                src.repository_name.clone(),
                region,
            )
        })
        .collect();
    Kept {
        set: PrincipalSet {
            principals,
            policies,
            read: set.read,
        },
        repositories,
    }
}

/// What [`keep`] keeps, and the repositories whose approval rule templates
/// the RP001 messages need.
pub struct Kept {
    pub set: PrincipalSet,
    /// (ARN, name, region) of each CodeCommit source repository into whose
    /// release branch some principal has a path (RP001).
    pub repositories: Vec<(String, String, String)>,
}

#[cfg(test)]
mod tests;
