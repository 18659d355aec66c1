//! Paths and their witnesses: the chains walked back from a target, the
//! artifact swap through the bucket and its key, and the policy readings
//! (KMS grants, web identity bindings, approvals) they rest on.

use super::*;

impl Account<'_> {
    pub(super) fn path(
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
    pub(super) fn walk(&self, targets: &BTreeMap<String, Vec<Step>>) -> BTreeMap<Node, Vec<Step>> {
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

    pub(super) fn artifact_swap(
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
    pub(super) fn grants_unknown(&self, key: &str) -> Option<&ReadError> {
        match self.snapshot.resources.keys.get(key) {
            Some(Observed::Ok { value }) => value.grants.error(),
            _ => None,
        }
    }

    /// Whether the subject may use the key to encrypt (kms:GenerateDataKey):
    /// the key policy naming it, or delegating to IAM with an identity
    /// Allow, or a grant to it for the operation (an explicit Deny in the
    /// key policy or its identity policies still wins).
    pub(super) fn key_use(&self, sub: &Subject<'_>, key: &str) -> Option<(Grant, Vec<String>)> {
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
pub(super) fn grant_document(
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
pub(super) fn deny_only(doc: &PolicyDocument) -> PolicyDocument {
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
pub(super) fn approval_before_deploy(s: &Snapshot, w: &PipelineWiring) -> Option<(String, String)> {
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
