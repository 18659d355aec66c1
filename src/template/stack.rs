//! One template built into the snapshot: each resource by type, and the
//! local nested stacks it follows.

use super::*;

impl Builder<'_> {
    /// Builds one template's resources (and its nested stacks'); its outputs.
    pub(super) fn build_one(
        &mut self,
        s: &Source,
        exports: &Exports,
        depth: usize,
    ) -> Result<BTreeMap<String, Eval<Value>>, Invalid> {
        let opts = self.opts;
        let mut scope = Self::scope(opts, s, exports)?;
        if let Some(t) = s.doc.get("Transform") {
            self.diagnostics.push(note(format!(
                "{}: transform {} is not expanded; what it would create is unknown",
                s.path.display(),
                intrinsics::scalar_text(Some(t)).unwrap_or_else(|| t.to_string())
            )));
        }
        // every condition is checked, used or not, as CloudFormation does
        for name in scope.conditions.keys() {
            if let Err(Fail::Invalid(e)) = scope.condition(name) {
                return Err(Invalid::Intrinsic(e));
            }
        }
        let nested = self.nested(s, &scope, exports, depth)?;
        scope.nested_outputs = nested;
        let (p, region, account) = (
            self.opts.partition.clone(),
            self.opts.region.clone(),
            self.opts.account.clone(),
        );
        for (logical_id, raw) in &scope.resources {
            let ty = raw.resource_type.as_str();
            match scope.created(logical_id) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(Fail::Unresolved(why)) => {
                    self.diagnostics.push(note(format!(
                        "{}: whether {logical_id} is created is not known ({why}); it is left out",
                        s.path.display()
                    )));
                    continue;
                }
                Err(Fail::Invalid(e)) => return Err(Invalid::Intrinsic(e)),
            }
            let identity = match scope.identity(logical_id) {
                Ok(i) => i,
                Err(Fail::Invalid(e)) => return Err(Invalid::Intrinsic(e)),
                Err(Fail::Unresolved(why)) => {
                    self.diagnostics.push(note(format!(
                        "{}: the name of {logical_id} ({ty}) is not known ({why}); it is left out",
                        s.path.display()
                    )));
                    continue;
                }
            };
            let props = Props { scope: &scope, raw };
            let name = identity.name.clone();
            let arn = identity.arn.clone().unwrap_or_default();
            let what = format!("{logical_id} ({ty})");
            match ty {
                "AWS::CodePipeline::Pipeline" => {
                    let v = observe(build::pipeline(&props, &name, &arn, &region), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.pipelines.insert(arn, v);
                }
                "AWS::CodeCommit::Repository" => {
                    let id = identity.ref_value.clone().unwrap_or_default();
                    let v = observe(build::repository(&props, &name, &arn, &id), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.repositories.insert(arn, v);
                }
                "AWS::CodeBuild::Project" => {
                    let v = observe(
                        build::build_project(&props, &name, &arn, &region, &account, &p),
                        &what,
                    )?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.build_projects.insert(arn, v);
                }
                "AWS::CodeDeploy::Application" => {
                    let id = names::uuid_like(&format!("app/{}/{logical_id}", s.stack));
                    let v = observe(build::deploy_application(&props, &name, &arn, &id), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.deploy_applications.insert(arn, v);
                }
                "AWS::CodeDeploy::DeploymentGroup" => {
                    match build::deploy_group(&props, &name, &p, &region, &account) {
                        Ok(g) => {
                            let arn = g.arn.clone();
                            self.origin(&arn, s, logical_id);
                            self.snapshot
                                .resources
                                .deploy_groups
                                .insert(arn, Observed::ok(g));
                        }
                        Err(Fail::Invalid(e)) => return Err(Invalid::within(what, e)),
                        Err(Fail::Unresolved(why)) => {
                            // the group's ARN needs its application's name
                            let app = props.text("ApplicationName").ok().flatten();
                            match app {
                                Some(app) => {
                                    let arn =
                                        codedeploy::group_arn(&p, &region, &account, &app, &name);
                                    self.origin(&arn, s, logical_id);
                                    self.snapshot.resources.deploy_groups.insert(
                                        arn,
                                        Observed::Unknown {
                                            error: unresolved_error(format!("{what}: {why}")),
                                        },
                                    );
                                }
                                None => self.diagnostics.push(note(format!(
                                    "{}: {what} is left out: {why}",
                                    s.path.display()
                                ))),
                            }
                        }
                    }
                }
                "AWS::CodeDeploy::DeploymentConfig" => {
                    let arn =
                        format!("arn:{p}:codedeploy:{region}:{account}:deploymentconfig:{name}");
                    let v = observe(build::deploy_config(&props, &name, &arn), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.configs.insert(name, v);
                }
                "AWS::Events::Rule" => {
                    let v = observe(build::event_rule(&props, &name, &arn), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.event_rules.insert(arn, v);
                }
                "AWS::S3::Bucket" => {
                    let v = build::bucket(&props, &name, &arn).map_err(|e| Invalid::In {
                        what: what.clone(),
                        source: Box::new(e),
                    })?;
                    let eventbridge = observe(build::bucket_eventbridge(&props), &what)?;
                    self.snapshot.resources.source_buckets.insert(
                        arn.clone(),
                        eventbridge.map(|eventbridge| SourceBucket {
                            name: name.clone(),
                            arn: arn.clone(),
                            eventbridge,
                        }),
                    );
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.buckets.insert(arn, Observed::ok(v));
                }
                "AWS::S3::BucketPolicy" => {
                    let bucket = props.text("Bucket");
                    let doc = props.get("PolicyDocument");
                    match (bucket, doc) {
                        (Ok(Some(b)), doc) => {
                            let v = observe(
                                doc.map(|d| build::policy_text(&d.unwrap_or(Value::Null))),
                                &what,
                            )?;
                            let b = b.strip_prefix("arn:aws:s3:::").unwrap_or(&b).to_string();
                            self.bucket_policies.insert(b, v);
                        }
                        (Err(Fail::Invalid(e)), _) => return Err(Invalid::within(what, e)),
                        _ => self.diagnostics.push(note(format!(
                            "{}: the bucket of {what} is not known; its policy is left out",
                            s.path.display()
                        ))),
                    }
                }
                "AWS::KMS::Key" => {
                    let v =
                        build::key(&props, &name, &arn, &p, &account).map_err(|e| Invalid::In {
                            what: what.clone(),
                            source: Box::new(e),
                        })?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.keys.insert(arn, Observed::ok(v));
                }
                "AWS::KMS::Alias" => match props.text("TargetKeyId") {
                    Ok(Some(k)) => {
                        let k = k.rsplit('/').next().unwrap_or(&k).to_string();
                        self.aliases.insert(name, k);
                    }
                    Err(Fail::Invalid(e)) => return Err(Invalid::within(what, e)),
                    _ => self.diagnostics.push(note(format!(
                        "{}: the key of alias {name} is not known",
                        s.path.display()
                    ))),
                },
                "AWS::IAM::Role" => {
                    let v = build::role(&props, &name, &arn).map_err(|e| Invalid::In {
                        what: what.clone(),
                        source: Box::new(e),
                    })?;
                    self.role_arns.insert(name, arn.clone());
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.roles.insert(arn, Observed::ok(v));
                }
                "AWS::IAM::ManagedPolicy" => {
                    let v =
                        build::managed_policy(&props, &name, &arn).map_err(|e| Invalid::In {
                            what: what.clone(),
                            source: Box::new(e),
                        })?;
                    if let Ok(Some(roles)) = props.get("Roles") {
                        for r in build::role_names(&roles) {
                            self.extra_attached.entry(r).or_default().push(arn.clone());
                        }
                    }
                    self.origin(&arn, s, logical_id);
                    self.snapshot
                        .resources
                        .managed_policies
                        .insert(arn, Observed::ok(v));
                }
                "AWS::IAM::Policy" | "AWS::IAM::RolePolicy" => {
                    let pname = props.text("PolicyName").ok().flatten().unwrap_or(name);
                    let doc = observe(
                        props
                            .get("PolicyDocument")
                            .map(|d| build::policy_text(&d.unwrap_or(Value::Null))),
                        &what,
                    )?;
                    let roles = if ty == "AWS::IAM::Policy" {
                        props
                            .get("Roles")
                            .map(|r| r.map(|r| build::role_names(&r)).unwrap_or_default())
                    } else {
                        props.text("RoleName").map(|r| r.into_iter().collect())
                    };
                    match roles {
                        Ok(roles) => {
                            for r in roles {
                                self.extra_inline
                                    .entry(r)
                                    .or_default()
                                    .push((pname.clone(), doc.clone()));
                            }
                        }
                        Err(Fail::Invalid(e)) => return Err(Invalid::within(what, e)),
                        Err(Fail::Unresolved(why)) => self.diagnostics.push(note(format!(
                            "{}: the roles of {what} are not known ({why})",
                            s.path.display()
                        ))),
                    }
                }
                "AWS::IAM::InstanceProfile" => {
                    let roles = observe(
                        props
                            .get("Roles")
                            .map(|r| r.map(|r| build::role_names(&r)).unwrap_or_default()),
                        &what,
                    )?;
                    self.profiles.insert(name, roles);
                }
                "AWS::EC2::LaunchTemplate" => {
                    let data = observe(
                        props.get("LaunchTemplateData").map(|d| {
                            let wrapped = serde_json::json!({"LaunchTemplateData": d});
                            build::launch_template_data(&wrapped)
                        }),
                        &what,
                    )?;
                    if let Some(id) = identity.attributes.get("LaunchTemplateId") {
                        self.launch_templates.insert(id.clone(), data.clone());
                    }
                    self.launch_templates.insert(name, data);
                }
                "AWS::EC2::Instance" => {
                    let planned = self.planned(&props, identity.name.clone(), None, false);
                    self.instances.push(planned);
                }
                "AWS::AutoScaling::AutoScalingGroup" => {
                    let capacity = ["DesiredCapacity", "MinSize"].iter().any(|k| {
                        props
                            .text(k)
                            .ok()
                            .flatten()
                            .and_then(|v| v.parse::<u64>().ok())
                            .is_some_and(|n| n > 0)
                    });
                    if capacity {
                        let id = format!(
                            "i-{}",
                            &names::uuid_like(&format!("asg/{}/{logical_id}", s.stack))
                                .replace('-', "")[..17]
                        );
                        let planned = self.planned(&props, id, Some(name), true);
                        self.instances.push(planned);
                    }
                }
                t if t.starts_with("Custom::")
                    || t == "AWS::CloudFormation::CustomResource"
                    || t.starts_with("AWS::Serverless::") =>
                {
                    self.diagnostics.push(note(format!(
                        "{}: {logical_id} ({t}) is not expanded; what it creates is unknown",
                        s.path.display()
                    )));
                }
                "AWS::CloudFormation::Stack" if !scope.nested_outputs.contains_key(logical_id) => {
                    self.diagnostics.push(note(format!(
                        "{}: nested stack {logical_id} is not followed (its TemplateURL is not a local template); its outputs are unknown",
                        s.path.display()
                    )));
                }
                _ => {}
            }
        }
        let mut outputs = BTreeMap::new();
        for (name, o) in s
            .doc
            .get("Outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let v = match o.get("Value") {
                Some(v) => scope.value(v),
                None => Err(Fail::Invalid(format!("output {name} has no Value"))),
            };
            if let Err(Fail::Invalid(e)) = &v {
                return Err(Invalid::within(format!("output {name}"), e.clone()));
            }
            outputs.insert(name.clone(), v);
        }
        Ok(outputs)
    }

    /// Follows the nested stacks whose `TemplateURL` is a local file
    /// (relative to the parent template): each is built as a stack of its
    /// own, with the parameters its parent passes; their outputs by the
    /// logical id of the stack resource.
    pub(super) fn nested(
        &mut self,
        s: &Source,
        scope: &Scope<'_>,
        exports: &Exports,
        depth: usize,
    ) -> Result<BTreeMap<String, BTreeMap<String, Eval<Value>>>, Invalid> {
        let mut out = BTreeMap::new();
        for (logical_id, raw) in &scope.resources {
            if raw.resource_type != "AWS::CloudFormation::Stack"
                || !matches!(scope.created(logical_id), Ok(true))
            {
                continue;
            }
            let props = Props { scope, raw };
            let url = match props.text("TemplateURL") {
                Ok(Some(u)) => u,
                Err(Fail::Invalid(e)) => return Err(Invalid::within(logical_id, e)),
                _ => continue,
            };
            if url.contains("://") {
                continue;
            }
            if depth >= MAX_NESTING {
                return Err(Invalid::TooDeep {
                    logical_id: logical_id.clone(),
                });
            }
            let path = s
                .path
                .parent()
                .map(|d| d.join(&url))
                .unwrap_or_else(|| PathBuf::from(&url));
            let doc = match read_template(&path, &self.opts.texts) {
                Ok(Some(doc)) => doc,
                Ok(None) => {
                    return Err(Invalid::NestedNotTemplate {
                        logical_id: logical_id.clone(),
                        path,
                    });
                }
                Err(source) => {
                    return Err(Invalid::NestedUnreadable {
                        logical_id: logical_id.clone(),
                        path,
                        source,
                    });
                }
            };
            let mut inherited = BTreeMap::new();
            match props.get("Parameters") {
                Ok(Some(Value::Object(m))) => {
                    for (k, v) in m {
                        inherited.insert(k, Ok(v));
                    }
                }
                Ok(_) => {}
                Err(Fail::Invalid(e)) => return Err(Invalid::within(logical_id, e)),
                Err(Fail::Unresolved(_)) => {
                    // one unresolved value: evaluate each on its own
                    if let Some(m) = raw.properties.get("Parameters").and_then(Value::as_object) {
                        for (k, v) in m {
                            match scope.value(v) {
                                Err(Fail::Invalid(e)) => {
                                    return Err(Invalid::within(logical_id, e));
                                }
                                other => {
                                    inherited.insert(k.clone(), other);
                                }
                            }
                        }
                    }
                }
            }
            let stack = match scope.identity(logical_id) {
                Ok(i) => i.name,
                Err(Fail::Invalid(e)) => return Err(Invalid::Intrinsic(e)),
                Err(Fail::Unresolved(_)) => continue,
            };
            let child = Source {
                path: path.clone(),
                stack,
                doc,
                parameters: BTreeMap::new(),
                inherited,
            };
            let outputs =
                self.build_one(&child, exports, depth + 1)
                    .map_err(|e| Invalid::Nested {
                        logical_id: logical_id.clone(),
                        path: path.clone(),
                        source: Box::new(e),
                    })?;
            out.insert(logical_id.clone(), outputs);
        }
        Ok(out)
    }
}
