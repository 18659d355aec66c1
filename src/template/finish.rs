//! The snapshot finished from what the templates define: bucket policies,
//! aliases, roles' extra policies, instances as deployment targets, then
//! the wiring shared with live collection.

use super::*;

impl Builder<'_> {
    /// An instance (or an Auto Scaling group's instance) that would run.
    pub(super) fn planned(
        &self,
        props: &Props<'_, '_>,
        id: String,
        asg: Option<String>,
        group: bool,
    ) -> PlannedInstance {
        let mut unresolved = None;
        let mut catch = |r: Eval<Option<Value>>| match r {
            Ok(v) => v,
            Err(Fail::Unresolved(why) | Fail::Invalid(why)) => {
                unresolved = Some(unresolved_error(why));
                None
            }
        };
        let tags = catch(props.get("Tags"));
        let profile = if group {
            None
        } else {
            catch(props.get("IamInstanceProfile"))
        };
        let lt = catch(props.get("LaunchTemplate"));
        let launch_template = lt.as_ref().and_then(|l| {
            l.get("LaunchTemplateId")
                .or_else(|| l.get("LaunchTemplateName"))
                .and_then(|x| intrinsics::scalar_text(Some(x)))
        });
        PlannedInstance {
            id,
            asg,
            tags: build::tags(tags.as_ref(), group),
            profile: profile.and_then(|p| intrinsics::scalar_text(Some(&p))),
            launch_template,
            unresolved,
        }
    }

    pub(super) fn resolver_aliases(
        &self,
    ) -> BTreeMap<String, Result<crate::collect::kms::AliasMap, ReadError>> {
        let mut m = BTreeMap::new();
        m.insert(self.opts.region.clone(), Ok(self.aliases.clone()));
        m
    }

    /// An instance as a deployment group's target.
    pub(super) fn target(&self, i: &PlannedInstance) -> Result<Ec2Instance, ReadError> {
        if let Some(e) = &i.unresolved {
            return Err(e.clone());
        }
        let lt = match &i.launch_template {
            Some(l) => match self.launch_templates.get(l) {
                Some(Observed::Ok { value }) => Some(value.clone()),
                Some(Observed::Unknown { error }) => return Err(error.clone()),
                _ => {
                    return Err(unresolved_error(format!(
                        "launch template {l} of {} is outside the templates",
                        i.id
                    )));
                }
            },
            None => None,
        };
        let profile = i
            .profile
            .clone()
            .or_else(|| lt.as_ref().and_then(|(p, _)| p.clone()));
        let meta = lt.as_ref().and_then(|(_, m)| m.clone());
        let tokens = meta
            .as_ref()
            .and_then(|m| m.get("HttpTokens"))
            .and_then(|v| intrinsics::scalar_text(Some(v)));
        let Some(tokens) = tokens else {
            return Err(not_checked(format!(
                "whether instance {} requires IMDSv2 depends on its image (no MetadataOptions.HttpTokens)",
                i.id
            )));
        };
        let (profile_arn, role_arn) = match &profile {
            None => (None, Observed::Absent),
            Some(pname) => {
                let pname = pname.rsplit('/').next().unwrap_or(pname).to_string();
                let arn = format!(
                    "arn:{}:iam::{}:instance-profile/{pname}",
                    self.opts.partition, self.opts.account
                );
                let role = match self.profiles.get(&pname) {
                    Some(Observed::Ok { value }) => match value.first() {
                        Some(r) => Observed::ok(self.role_arn(r)),
                        None => Observed::Absent,
                    },
                    Some(Observed::Unknown { error }) => Observed::Unknown {
                        error: error.clone(),
                    },
                    _ => Observed::Unknown {
                        error: unresolved_error(format!(
                            "instance profile {pname} is outside the templates"
                        )),
                    },
                };
                (Some(arn), role)
            }
        };
        let meta_text = |k: &str| {
            meta.as_ref()
                .and_then(|m| m.get(k))
                .and_then(|v| intrinsics::scalar_text(Some(v)))
        };
        Ok(Ec2Instance {
            id: i.id.clone(),
            state: "pending".to_string(),
            auto_scaling_group: i.asg.clone(),
            instance_profile_arn: profile_arn,
            role_arn,
            http_tokens: Some(tokens),
            http_endpoint: Some(meta_text("HttpEndpoint").unwrap_or_else(|| "enabled".into())),
            http_put_response_hop_limit: meta_text("HttpPutResponseHopLimit")
                .and_then(|v| v.parse().ok()),
            tags: i.tags.clone(),
        })
    }

    pub(super) fn role_arn(&self, name: &str) -> String {
        self.role_arns.get(name).cloned().unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:role/{name}",
                self.opts.partition, self.opts.account
            )
        })
    }

    pub(super) fn finish(mut self) -> Built {
        let aliases = self.resolver_aliases();
        let (partition, account) = (self.opts.partition.clone(), self.opts.account.clone());
        let ids = Ids {
            partition: &partition,
            account: &account,
        };
        let resolver = KeyResolver {
            ids,
            aliases: &aliases,
        };
        let mut resources = std::mem::take(&mut self.snapshot.resources);
        let r = &mut resources;
        // policies and aliases onto their buckets and keys
        for (arn, b) in r.buckets.iter_mut() {
            if let Observed::Ok { value } = b {
                if let Some(p) = self.bucket_policies.get(&value.name) {
                    value.policy = p.clone();
                }
                if let Observed::Ok { value: enc } = &mut value.encryption {
                    for rule in &mut enc.rules {
                        rule.kms_key_arn = rule
                            .kms_master_key_id
                            .as_ref()
                            .and_then(|k| resolver.resolve(&self.opts.region, k).key_arn());
                    }
                }
            }
            let _ = arn;
        }
        for k in r.keys.values_mut() {
            if let Observed::Ok { value } = k {
                value.aliases = self
                    .aliases
                    .iter()
                    .filter(|(_, id)| **id == value.key_id)
                    .map(|(a, _)| a.clone())
                    .collect();
            }
        }
        for p in r.build_projects.values_mut() {
            if let Observed::Ok { value } = p {
                value.encryption_key_arn = value
                    .encryption_key
                    .as_ref()
                    .and_then(|k| resolver.resolve(&self.opts.region, k).key_arn());
            }
        }
        for role in r.roles.values_mut() {
            if let Observed::Ok { value } = role {
                if let Observed::Ok { value: inline } = &mut value.inline_policies {
                    for (n, d) in self.extra_inline.get(&value.name).into_iter().flatten() {
                        inline.insert(n.clone(), d.clone());
                    }
                }
                if let Observed::Ok { value: attached } = &mut value.attached_policies {
                    attached.extend(
                        self.extra_attached
                            .get(&value.name)
                            .into_iter()
                            .flatten()
                            .cloned(),
                    );
                    attached.sort();
                    attached.dedup();
                }
            }
        }
        // the wiring, as for a live account
        let mut wirings = Vec::new();
        for (arn, p) in &r.pipelines {
            let w = match p {
                Observed::Ok { value } => wiring::wire(value, ids, &resolver),
                _ => {
                    let name = arn.rsplit(':').next().unwrap_or(arn).to_string();
                    wiring::unread(self.opts.region.clone(), name, arn.clone())
                }
            };
            wirings.push(w);
        }
        // only the rules that may target a pipeline
        let pipeline_arns: BTreeSet<String> = r.pipelines.keys().cloned().collect();
        r.event_rules.retain(|_, rule| match rule {
            Observed::Ok { value } => value.targets.iter().any(|t| pipeline_arns.contains(&t.arn)),
            _ => true,
        });
        for w in &mut wirings {
            wiring::link_triggers(w, &r.event_rules);
        }
        // every referenced resource the templates do not define: unknown
        let mut roles: BTreeSet<String> = BTreeSet::new();
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for w in &wirings {
            roles.extend(w.role_arn.clone());
            roles.extend(w.action_roles.iter().cloned());
            for s in &w.sources {
                r.repositories
                    .entry(s.repository_arn.clone())
                    .or_insert_with(|| outside("repository", &s.repository_arn));
            }
            for b in &w.builds {
                r.build_projects
                    .entry(b.project_arn.clone())
                    .or_insert_with(|| outside("build project", &b.project_arn));
            }
            for d in &w.deploys {
                r.deploy_applications
                    .entry(d.application_arn.clone())
                    .or_insert_with(|| outside("deploy application", &d.application_arn));
                r.deploy_groups
                    .entry(d.group_arn.clone())
                    .or_insert_with(|| outside("deployment group", &d.group_arn));
            }
            for s in &w.artifact_stores {
                r.buckets
                    .entry(s.bucket_arn.clone())
                    .or_insert_with(|| outside("bucket", &s.bucket_arn));
                keys.extend(s.key_arn.clone());
            }
            for c in &w.connection_sources {
                r.connections
                    .entry(c.connection_arn.clone())
                    .or_insert_with(|| Observed::Unknown {
                        error: not_checked(format!(
                            "the status of connection {}",
                            c.connection_arn
                        )),
                    });
            }
            for s in &w.s3_sources {
                r.source_buckets
                    .entry(s.bucket_arn.clone())
                    .or_insert_with(|| outside("bucket", &s.bucket_arn));
            }
        }
        for rule in r.event_rules.values() {
            if let Observed::Ok { value } = rule {
                roles.extend(value.role_arn.clone());
                roles.extend(value.targets.iter().filter_map(|t| t.role_arn.clone()));
            }
        }
        for p in r.build_projects.values() {
            if let Observed::Ok { value } = p {
                roles.extend(value.service_role.clone());
                keys.extend(value.encryption_key_arn.clone());
            }
        }
        for b in r.buckets.values() {
            if let Observed::Ok { value } = b
                && let Observed::Ok { value: enc } = &value.encryption
            {
                keys.extend(enc.rules.iter().filter_map(|r| r.kms_key_arn.clone()));
            }
        }
        // deployment configurations and targets
        let mut configs = BTreeMap::new();
        let mut targets = BTreeMap::new();
        for (garn, g) in &r.deploy_groups {
            let Observed::Ok { value: g } = g else {
                continue;
            };
            roles.extend(g.service_role_arn.clone());
            if let Some(name) = &g.deployment_config_name
                && let Some(carn) = codedeploy::config_arn(garn, name)
            {
                let v = match codedeploy::built_in_config(name, &carn) {
                    Some(config) => Observed::ok(config),
                    None => self
                        .configs
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| outside("deployment configuration", &carn)),
                };
                configs.insert(carn, v);
            }
            let selects = !g.ec2_tag_filters.is_empty()
                || !g.ec2_tag_set.is_empty()
                || !g.auto_scaling_groups.is_empty();
            if !selects {
                targets.insert(garn.clone(), Observed::ok(DeployTargets::default()));
                continue;
            }
            let chosen: Vec<&PlannedInstance> = self
                .instances
                .iter()
                .filter(|i| {
                    let by_tag = (!g.ec2_tag_filters.is_empty()
                        && g.ec2_tag_filters
                            .iter()
                            .any(|f| crate::collect::ec2::filter_matches(f, &i.tags)))
                        || (!g.ec2_tag_set.is_empty()
                            && g.ec2_tag_set.iter().all(|set| {
                                set.iter()
                                    .any(|f| crate::collect::ec2::filter_matches(f, &i.tags))
                            }));
                    let by_asg = i
                        .asg
                        .as_ref()
                        .is_some_and(|a| g.auto_scaling_groups.contains(a));
                    by_tag || by_asg
                })
                .collect();
            let v = if chosen.is_empty() {
                Observed::Unknown {
                    error: not_checked(format!(
                        "the instances deployment group {} selects (none is defined in the templates)",
                        g.name
                    )),
                }
            } else {
                let mut instances = Vec::new();
                let mut failed = None;
                for i in chosen {
                    match self.target(i) {
                        Ok(t) => instances.push(t),
                        Err(e) => failed = Some(e),
                    }
                }
                match failed {
                    Some(error) => Observed::Unknown { error },
                    None => {
                        instances.sort_by(|a, b| a.id.cmp(&b.id));
                        let read = instances.len() as u64;
                        Observed::ok(DeployTargets {
                            instances,
                            instances_read: read,
                            // the groups' launch templates: not followed
                            // in template mode (RP006 needs the account)
                            launch_templates: BTreeMap::new(),
                        })
                    }
                }
            };
            targets.insert(garn.clone(), v);
        }
        for t in targets.values() {
            if let Observed::Ok { value } = t {
                for i in &value.instances {
                    if let Observed::Ok { value } = &i.role_arn {
                        roles.insert(value.clone());
                    }
                }
            }
        }
        r.deploy_configs = configs;
        r.deploy_targets = targets;
        for role in roles {
            let role = if role.starts_with("arn:") {
                role
            } else {
                format!("arn:{partition}:iam::{account}:role/{role}")
            };
            r.roles
                .entry(role.clone())
                .or_insert_with(|| outside("role", &role));
        }
        for key in keys {
            r.keys.entry(key.clone()).or_insert_with(|| {
                if key.contains(":alias/aws/") {
                    Observed::Unknown {
                        error: not_checked(format!("the AWS managed key {key}")),
                    }
                } else {
                    outside("key", &key)
                }
            });
        }
        let attached: BTreeSet<String> = r
            .roles
            .values()
            .filter_map(|x| x.value())
            .filter_map(|x| x.attached_policies.value())
            .flatten()
            .cloned()
            .collect();
        for p in attached {
            r.managed_policies
                .entry(p.clone())
                .or_insert_with(|| match build::aws_managed_policy(&p) {
                    Some(v) => Observed::ok(v),
                    None if p.contains(":iam::aws:policy/") => Observed::Unknown {
                        error: not_checked(format!("the document of AWS managed policy {p}")),
                    },
                    None => outside("managed policy", &p),
                });
        }
        self.snapshot.resources = resources;
        wirings.sort_by(|a, b| a.arn.cmp(&b.arn));
        self.snapshot.pipelines = wirings;
        // who else may push, approve or change the pipeline is the live
        // account's IAM, which templates do not hold
        self.snapshot.principals = Some(Observed::Unknown {
            error: not_checked("the account's IAM principals (release paths)"),
        });
        self.snapshot.redact_secrets();
        Built {
            snapshot: self.snapshot,
            diagnostics: self.diagnostics,
            origins: self.origins,
        }
    }
}
