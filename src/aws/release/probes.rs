//! What a pipeline is probed with: its own roles, the principals the
//! configuration trusts, and each action on each resource a path ends in.

use super::*;

impl Account<'_> {
    pub(super) fn accepted(&self, principal: &str) -> Option<String> {
        self.trusted
            .iter()
            .find(|t| wildcard(&t.principal, principal, false))
            .map(|t| t.reason.clone())
    }

    /// The pipeline's own roles: its role, action roles, build, deploy and
    /// trigger roles. They are the pipeline itself, not paths.
    pub(super) fn own_roles(&self, w: &PipelineWiring) -> BTreeSet<String> {
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

    pub(super) fn probes(&self, w: &PipelineWiring, notes: &mut Vec<String>) -> Vec<Probe> {
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
}
