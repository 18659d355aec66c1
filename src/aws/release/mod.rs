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

mod edges;
pub mod index;
mod paths;
mod pipeline;
mod probes;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use serde::Serialize;

use super::eval::{
    Context, Decision, Grant, Labelled, Named, Policies, Request, ResourcePolicy, decide,
    resource_allows, resource_denies,
};
use super::iam::wildcard;
use crate::model::policy::{Condition, Effect, PolicyDocument, Statement};
use crate::model::principals::{IamPrincipal, PrincipalKind, PrincipalSet};
use crate::model::{Observed, PipelineWiring, ReadError, Snapshot};
use edges::{edges, subject};
use paths::approval_before_deploy;
pub use paths::oidc_binding;

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
