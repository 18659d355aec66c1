//! The wiring graph of a pipeline, built from the snapshot and the findings:
//! the repository, the trigger rules, the pipeline and its stages and
//! actions, the build projects, the deployment application and group, the
//! artifact bucket and key, and the service roles, with what is wired to
//! what. Missing resources are nodes marked missing; each node and edge
//! carries the findings on it and its worst severity. Every picture
//! (`mermaid`, `dot`) is drawn from this one model.

pub mod dot;
pub mod mermaid;
pub mod svg;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::findings::{Finding, Severity};
use crate::model::{Observed, PipelineWiring, Snapshot};

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    Repository,
    TriggerRule,
    Pipeline,
    Stage,
    Action,
    BuildProject,
    DeployApplication,
    DeployGroup,
    Bucket,
    Key,
    Role,
    EcsService,
    ImageRepository,
    Function,
    Stack,
    /// Another account a deploy reaches (drawn boxed; audited with this
    /// one only when linked).
    Account,
}

impl NodeKind {
    /// A short word for the kind, shown before the node's name.
    pub fn label(self) -> &'static str {
        match self {
            NodeKind::Repository => "repository",
            NodeKind::TriggerRule => "trigger rule",
            NodeKind::Pipeline => "pipeline",
            NodeKind::Stage => "stage",
            NodeKind::Action => "action",
            NodeKind::BuildProject => "build project",
            NodeKind::DeployApplication => "deploy application",
            NodeKind::DeployGroup => "deployment group",
            NodeKind::Bucket => "artifact bucket",
            NodeKind::Key => "artifact key",
            NodeKind::Role => "role",
            NodeKind::EcsService => "ECS service",
            NodeKind::ImageRepository => "image repository",
            NodeKind::Function => "Lambda function",
            NodeKind::Stack => "CloudFormation stack",
            NodeKind::Account => "other account",
        }
    }
}

/// What an edge says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Starts,
    Contains,
    ReadsFrom,
    BuildsWith,
    DeploysWith,
    StoresIn,
    EncryptsWith,
    ActsAs,
    RunsImageFrom,
    Invokes,
}

impl EdgeKind {
    /// The edge's label.
    pub fn label(self) -> &'static str {
        match self {
            EdgeKind::Starts => "starts",
            EdgeKind::Contains => "runs",
            EdgeKind::ReadsFrom => "reads from",
            EdgeKind::BuildsWith => "builds with",
            EdgeKind::DeploysWith => "deploys with",
            EdgeKind::StoresIn => "stores in",
            EdgeKind::EncryptsWith => "encrypts with",
            EdgeKind::ActsAs => "acts as",
            EdgeKind::RunsImageFrom => "runs an image from",
            EdgeKind::Invokes => "invokes",
        }
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Node {
    /// Stable within the graph: `n0`, `n1`, ... in the order built.
    pub id: String,
    pub kind: NodeKind,
    pub name: String,
    /// The resource's ARN, for resources.
    pub arn: Option<String>,
    /// The resource is referenced but does not exist.
    pub missing: bool,
    /// The resource could not be read.
    pub unknown: bool,
    /// The findings on the node, each rule once, most severe first, then by
    /// rule id.
    pub findings: Vec<NodeFinding>,
    pub worst: Option<Severity>,
}

/// A rule that fails on a node, with its severity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NodeFinding {
    pub rule_id: String,
    pub severity: Severity,
}

impl Node {
    /// The rule ids of the node's findings, most severe first.
    pub fn rule_ids(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.rule_id.as_str()).collect()
    }

    /// The findings in words, one entry per severity, most severe first,
    /// each naming its own rules: `["critical: PL001 PL006", "high: PL002"]`.
    pub fn findings_by_severity(&self) -> Vec<String> {
        let mut out: Vec<(Severity, Vec<&str>)> = Vec::new();
        for f in &self.findings {
            match out.last_mut() {
                Some((s, ids)) if *s == f.severity => ids.push(&f.rule_id),
                _ => out.push((f.severity, vec![&f.rule_id])),
            }
        }
        out.into_iter()
            .map(|(s, ids)| format!("{s}: {}", ids.join(" ")))
            .collect()
    }
}

/// One edge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
}

/// A pipeline's wiring graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Graph {
    pub pipeline: String,
    pub pipeline_arn: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The worst severity on any node of the graph.
    pub fn worst(&self) -> Option<Severity> {
        self.nodes.iter().filter_map(|n| n.worst).max()
    }
}

struct Builder<'a> {
    snapshot: &'a Snapshot,
    /// Findings of this pipeline by resource ARN.
    findings: BTreeMap<&'a str, Vec<&'a Finding>>,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    /// Resource nodes by ARN, so that a shared resource is one node.
    by_arn: BTreeMap<String, String>,
}

impl<'a> Builder<'a> {
    fn node(&mut self, kind: NodeKind, name: &str, arn: Option<&str>, state: State) -> String {
        if let Some(id) = arn.and_then(|a| self.by_arn.get(a)) {
            return id.clone();
        }
        let id = format!("n{}", self.nodes.len());
        let on: Vec<&Finding> = arn
            .and_then(|a| self.findings.get(a))
            .cloned()
            .unwrap_or_default();
        let mut ids: Vec<NodeFinding> = on
            .iter()
            .map(|f| NodeFinding {
                rule_id: f.rule_id.clone(),
                severity: f.severity,
            })
            .collect();
        ids.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.rule_id.cmp(&b.rule_id))
        });
        ids.dedup();
        self.nodes.push(Node {
            id: id.clone(),
            kind,
            name: name.to_string(),
            arn: arn.map(str::to_string),
            missing: state == State::Missing,
            unknown: state == State::Unknown,
            findings: ids,
            worst: on.iter().map(|f| f.severity).max(),
        });
        if let Some(a) = arn {
            self.by_arn.insert(a.to_string(), id.clone());
        }
        id
    }

    fn edge(&mut self, from: &str, to: &str, kind: EdgeKind) {
        let e = Edge {
            from: from.to_string(),
            to: to.to_string(),
            kind,
        };
        if !self.edges.contains(&e) {
            self.edges.push(e);
        }
    }

    fn role(&mut self, from: &str, arn: Option<&str>) {
        if let Some(arn) = arn.filter(|a| !a.is_empty()) {
            let name = arn.rsplit('/').next().unwrap_or(arn);
            let state = state(self.snapshot.resources.roles.get(arn));
            let id = self.node(NodeKind::Role, name, Some(arn), state);
            self.edge(from, &id, EdgeKind::ActsAs);
        }
    }
}

impl Builder<'_> {
    /// The stack a CloudFormation action deploys, with the role
    /// CloudFormation acts as (the action's `RoleArn`, else the stack's
    /// own); in another account, the account as a boxed node of its own
    /// holding the stack, which is read only when that account is linked
    /// (audited with this one).
    fn stack(&mut self, action: &str, d: &crate::model::StackDeployRef) {
        let linked = self.snapshot.linked_accounts.contains(&d.account);
        let from = if d.account != self.snapshot.account {
            let label = if linked {
                format!("{} (audited)", d.account)
            } else {
                format!("{} (not audited)", d.account)
            };
            let id = self.node(NodeKind::Account, &label, None, State::Present);
            self.edge(action, &id, EdgeKind::DeploysWith);
            id
        } else {
            action.to_string()
        };
        let read = self.snapshot.resources.cfn_stacks.get(&d.stack_arn);
        let st = if d.account != self.snapshot.account && !linked {
            State::Unknown
        } else {
            state(read)
        };
        let id = self.node(NodeKind::Stack, &d.stack_name, Some(&d.stack_arn), st);
        self.edge(&from, &id, EdgeKind::DeploysWith);
        let own = read
            .and_then(Observed::value)
            .and_then(|s| s.role_arn.clone());
        let role = d.cfn_role_arn.clone().or(own);
        self.role(&id, role.as_deref());
    }

    /// An ECS service a deploy action deploys to (named `cluster/service`),
    /// with its task role and the ECR repositories of its images.
    fn ecs_service(&mut self, action: &str, t: &crate::model::EcsTarget<'_>) {
        let r = &self.snapshot.resources;
        let service = r.ecs_services.get(&t.service_arn);
        let name = format!("{}/{}", last(&t.cluster, '/'), t.service);
        let id = self.node(
            NodeKind::EcsService,
            &name,
            Some(&t.service_arn),
            state(service),
        );
        self.edge(action, &id, EdgeKind::DeploysWith);
        let td = service
            .and_then(Observed::value)
            .and_then(|s| s.task_definition.as_ref())
            .and_then(|td| r.task_definitions.get(td))
            .and_then(Observed::value);
        let Some(td) = td else {
            return;
        };
        self.role(&id, td.task_role_arn.as_deref());
        let partition = t.service_arn.split(':').nth(1).unwrap_or("aws");
        for c in &td.containers {
            let image = crate::model::ImageRef::parse(&c.image, partition);
            if let Some(arn) = image.repository_arn.as_deref() {
                let repo = self.node(
                    NodeKind::ImageRepository,
                    &image.repository_name,
                    Some(arn),
                    state(r.image_repositories.get(arn)),
                );
                self.edge(&id, &repo, EdgeKind::RunsImageFrom);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Present,
    Missing,
    Unknown,
}

fn state<T>(o: Option<&Observed<T>>) -> State {
    match o {
        Some(Observed::Ok { .. }) => State::Present,
        Some(Observed::Unknown { .. }) => State::Unknown,
        Some(Observed::Absent) | None => State::Missing,
    }
}

fn last(arn: &str, sep: char) -> &str {
    arn.rsplit(sep).next().unwrap_or(arn)
}

/// The graph of one pipeline, with `findings` (of any pipelines; those of
/// this one are placed on their resources).
pub fn build(snapshot: &Snapshot, w: &PipelineWiring, findings: &[Finding]) -> Graph {
    let mut by_resource: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings.iter().filter(|f| f.pipeline_arn == w.arn) {
        by_resource
            .entry(f.resource_arn.as_str())
            .or_default()
            .push(f);
    }
    let mut b = Builder {
        snapshot,
        findings: by_resource,
        nodes: Vec::new(),
        edges: Vec::new(),
        by_arn: BTreeMap::new(),
    };
    let r = &snapshot.resources;
    let declaration = r.pipelines.get(&w.arn);
    let pipeline = b.node(
        NodeKind::Pipeline,
        &w.name,
        Some(&w.arn),
        state(declaration),
    );
    for rule_arn in &w.trigger_rules {
        let st = state(r.event_rules.get(rule_arn));
        let rule = b.node(
            NodeKind::TriggerRule,
            last(rule_arn, '/'),
            Some(rule_arn),
            st,
        );
        b.edge(&rule, &pipeline, EdgeKind::Starts);
        if let Some(Observed::Ok { value }) = r.event_rules.get(rule_arn) {
            let role = value
                .targets
                .iter()
                .find(|t| t.arn == w.arn)
                .and_then(|t| t.role_arn.clone());
            b.role(&rule, role.as_deref());
        }
    }
    b.role(&pipeline, w.role_arn.as_deref());
    // Stages and actions, with the resources each action uses.
    if let Some(Observed::Ok { value: decl }) = declaration {
        for st in &decl.stages {
            let stage = b.node(NodeKind::Stage, &st.name, None, State::Present);
            b.edge(&pipeline, &stage, EdgeKind::Contains);
            for a in &st.actions {
                let label = format!("{} ({})", a.name, a.provider);
                let action = b.node(NodeKind::Action, &label, None, State::Present);
                b.edge(&stage, &action, EdgeKind::Contains);
                for src in w
                    .sources
                    .iter()
                    .filter(|s| s.stage == st.name && s.action == a.name)
                {
                    let s = state(r.repositories.get(&src.repository_arn));
                    let repo = b.node(
                        NodeKind::Repository,
                        &src.repository_name,
                        Some(&src.repository_arn),
                        s,
                    );
                    b.edge(&action, &repo, EdgeKind::ReadsFrom);
                }
                for bl in w
                    .builds
                    .iter()
                    .filter(|x| x.stage == st.name && x.action == a.name)
                {
                    let project = r.build_projects.get(&bl.project_arn);
                    let p = b.node(
                        NodeKind::BuildProject,
                        &bl.project_name,
                        Some(&bl.project_arn),
                        state(project),
                    );
                    b.edge(&action, &p, EdgeKind::BuildsWith);
                    if let Some(Observed::Ok { value }) = project {
                        b.role(&p, value.service_role.as_deref());
                        if let Some(k) = value.encryption_key_arn.as_deref() {
                            let kid =
                                b.node(NodeKind::Key, last(k, '/'), Some(k), state(r.keys.get(k)));
                            b.edge(&p, &kid, EdgeKind::EncryptsWith);
                        }
                    }
                }
                for d in w
                    .deploys
                    .iter()
                    .filter(|x| x.stage == st.name && x.action == a.name)
                {
                    // in another account: the account as a boxed node
                    // holding the group, read only when it is linked
                    let account = crate::model::deploy_account(d, &b.snapshot.account);
                    let far = account != b.snapshot.account;
                    let unread = far && !b.snapshot.linked_accounts.contains(account);
                    let from = if far {
                        let label = if unread {
                            format!("{account} (not audited)")
                        } else {
                            format!("{account} (audited)")
                        };
                        let id = b.node(NodeKind::Account, &label, None, State::Present);
                        b.edge(&action, &id, EdgeKind::DeploysWith);
                        id
                    } else {
                        action.clone()
                    };
                    let known = |s: State| if unread { State::Unknown } else { s };
                    let app = b.node(
                        NodeKind::DeployApplication,
                        &d.application_name,
                        Some(&d.application_arn),
                        known(state(r.deploy_applications.get(&d.application_arn))),
                    );
                    let group = r.deploy_groups.get(&d.group_arn);
                    let g = b.node(
                        NodeKind::DeployGroup,
                        &d.group_name,
                        Some(&d.group_arn),
                        known(state(group)),
                    );
                    b.edge(&from, &g, EdgeKind::DeploysWith);
                    b.edge(&app, &g, EdgeKind::Contains);
                    if let Some(Observed::Ok { value }) = group {
                        b.role(&g, value.service_role_arn.as_deref());
                        // the functions a Lambda group last deployed
                        let deployed = value
                            .lambda_deployment
                            .as_ref()
                            .and_then(Observed::value)
                            .map(|l| l.functions.as_slice())
                            .unwrap_or_default();
                        for t in deployed {
                            let f = r.lambda_functions.get(&t.arn);
                            let id = b.node(
                                NodeKind::Function,
                                last(&t.arn, ':'),
                                Some(&t.arn),
                                state(f),
                            );
                            b.edge(&g, &id, EdgeKind::DeploysWith);
                            if let Some(Observed::Ok { value }) = f {
                                b.role(&id, value.role_arn.as_deref());
                            }
                        }
                    }
                }
                let (ecs, _) = crate::model::ecs_targets(w, r);
                for t in ecs
                    .iter()
                    .filter(|t| t.deploy.stage == st.name && t.deploy.action == a.name)
                {
                    b.ecs_service(&action, t);
                }
                for l in w
                    .lambda_invokes
                    .iter()
                    .filter(|x| x.stage == st.name && x.action == a.name)
                {
                    let f = r.lambda_functions.get(&l.function_arn);
                    let id = b.node(
                        NodeKind::Function,
                        last(&l.function_arn, ':'),
                        Some(&l.function_arn),
                        state(f),
                    );
                    b.edge(&action, &id, EdgeKind::Invokes);
                    if let Some(Observed::Ok { value }) = f {
                        b.role(&id, value.role_arn.as_deref());
                    }
                }
                for d in w
                    .stack_deploys
                    .iter()
                    .filter(|x| x.stage == st.name && x.action == a.name)
                {
                    b.stack(&action, d);
                }
                b.role(&action, a.role_arn.as_deref());
            }
        }
    }
    // The artifact stores and their keys.
    for st in &w.artifact_stores {
        let bucket = b.node(
            NodeKind::Bucket,
            &st.bucket,
            Some(&st.bucket_arn),
            state(r.buckets.get(&st.bucket_arn)),
        );
        b.edge(&pipeline, &bucket, EdgeKind::StoresIn);
        if let Some(k) = st.key_arn.as_deref() {
            let key = b.node(NodeKind::Key, last(k, '/'), Some(k), state(r.keys.get(k)));
            b.edge(&bucket, &key, EdgeKind::EncryptsWith);
        }
    }
    Graph {
        pipeline: w.name.clone(),
        pipeline_arn: w.arn.clone(),
        nodes: b.nodes,
        edges: b.edges,
    }
}

#[cfg(test)]
mod tests;
