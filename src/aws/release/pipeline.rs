//! One pipeline's release paths: direct paths by subject and kind, chains
//! walked back from its targets, and the approval notes.

use super::*;

impl Account<'_> {
    pub(super) fn pipeline(&self, w: &PipelineWiring) -> PipelinePaths {
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
    pub(super) fn approval_note(&self, w: &PipelineWiring, repo: &str) -> String {
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
}
