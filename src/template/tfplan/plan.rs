//! Reading a plan's values: the configuration expression of an attribute,
//! references followed through module variables and outputs, and unknown
//! or sensitive values turned into parameters.

use super::*;

impl<'p> Translation<'p> {
    /// The configuration of the module reached through `calls`.
    pub(super) fn config_module(&self, calls: &[String]) -> Option<&'p Value> {
        let mut m = self.doc.get("configuration")?.get("root_module")?;
        for c in calls {
            m = m.get("module_calls")?.get(c)?.get("module")?;
        }
        Some(m)
    }

    /// The expression written for a resource's value at `path`, when the
    /// configuration writes one at exactly that path.
    pub(super) fn expression(&self, r: &Res, path: &[Seg]) -> Option<&'p Value> {
        let module = self.config_module(&r.calls)?;
        let resource = module.get("resources")?.as_array()?.iter().find(|c| {
            c.get("address").and_then(Value::as_str) == Some(r.config_address.as_str())
                && c.get("mode").and_then(Value::as_str) != Some("data")
        })?;
        let mut e = resource.get("expressions")?;
        for seg in path {
            e = match (e, seg) {
                (Value::Object(m), Seg::Key(k))
                    if !m.contains_key("references") && !m.contains_key("constant_value") =>
                {
                    m.get(k)?
                }
                (Value::Array(a), Seg::Idx(i)) => {
                    a.get(*i).or(if a.len() == 1 { a.first() } else { None })?
                }
                _ => return None,
            };
        }
        (e.get("references").is_some() || e.get("constant_value").is_some()).then_some(e)
    }

    /// Whether the configuration writes attribute `attr` of resource `r`.
    pub(super) fn configured(&self, r: usize, attr: &str) -> bool {
        let res = &self.res[r];
        self.config_module(&res.calls)
            .and_then(|m| m.get("resources")?.as_array())
            .into_iter()
            .flatten()
            .filter(|c| {
                c.get("address").and_then(Value::as_str) == Some(res.config_address.as_str())
            })
            .any(|c| c.pointer(&format!("/expressions/{attr}")).is_some())
    }

    /// The module instance above `module` (`module.a.module.b` -> `module.a`).
    pub(super) fn parent_module(module: &str) -> String {
        let parts = split_dots(module);
        let keep = parts.len().saturating_sub(2);
        parts[..keep].join(".")
    }

    /// Follows one reference made in the module `calls` (instance `module`).
    pub(super) fn follow(
        &self,
        calls: &[String],
        module: &str,
        reference: &str,
        hops: usize,
    ) -> Option<Referent> {
        if hops > MAX_HOPS {
            return None;
        }
        match parse_reference(reference) {
            Reference::Var(name) => {
                let (call, parent_calls) = calls.split_last()?;
                let parent = self.config_module(parent_calls)?;
                let expr = parent
                    .get("module_calls")?
                    .get(call)?
                    .get("expressions")?
                    .get(&name)?;
                self.expr_target(parent_calls, &Self::parent_module(module), expr, hops + 1)
            }
            Reference::Output(call, out) => {
                let name = strip_key(&call).to_string();
                let mut child_calls = calls.to_vec();
                child_calls.push(name);
                let child = self.config_module(&child_calls)?;
                let expr = child.get("outputs")?.get(&out)?.get("expression")?;
                let child_module = if module.is_empty() {
                    format!("module.{call}")
                } else {
                    format!("{module}.module.{call}")
                };
                self.expr_target(&child_calls, &child_module, expr, hops + 1)
            }
            Reference::Resource(local, attr) => {
                let full = if module.is_empty() {
                    local.clone()
                } else {
                    format!("{module}.{local}")
                };
                let i = match self.by_address.get(&full) {
                    Some(i) => *i,
                    None => {
                        // `TYPE.NAME` of a single instance with a key
                        let mut found = self
                            .res
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.module == module && r.config_address == local);
                        let (i, _) = found.next()?;
                        if found.next().is_some() {
                            return None;
                        }
                        i
                    }
                };
                Some(Referent::Attribute(i, attr))
            }
            Reference::Other => None,
        }
    }

    pub(super) fn expr_target(
        &self,
        calls: &[String],
        module: &str,
        expr: &Value,
        hops: usize,
    ) -> Option<Referent> {
        if let Some(c) = expr.get("constant_value") {
            return Some(Referent::Literal(c.clone()));
        }
        match references(expr).as_slice() {
            [one] => self.follow(calls, module, one, hops),
            _ => None,
        }
    }

    /// What the value at `path` of resource `r` refers to.
    pub(super) fn target_at(&self, r: usize, path: &[Seg]) -> Option<Referent> {
        let res = &self.res[r];
        let expr = self.expression(res, path)?;
        self.expr_target(&res.calls, &res.module, expr, 0)
    }

    pub(super) fn is_known(&self, r: usize, attr: &str) -> Option<&Value> {
        let res = &self.res[r];
        let unknown = res
            .unknown
            .get(attr)
            .is_some_and(|u| u != &Value::Bool(false));
        let sensitive = res
            .sensitive
            .get(attr)
            .is_some_and(|s| s != &Value::Bool(false));
        if unknown || sensitive {
            return None;
        }
        res.values.get(attr).filter(|v| !v.is_null())
    }

    /// The CloudFormation value of attribute `attr` of resource `r`.
    pub(super) fn attribute(&self, r: usize, attr: &str) -> Option<Value> {
        if let Some(v) = self.is_known(r, attr)
            && !v.is_object()
            && !v.is_array()
        {
            return Some(self.substitute(v));
        }
        let res = &self.res[r];
        let id = res.address.as_str();
        let reference = || json!({"Ref": id});
        let get_att = |a: &str| json!({"Fn::GetAtt": [id, a]});
        Some(match (res.ty.as_str(), attr) {
            ("aws_s3_bucket", "id" | "bucket") => reference(),
            ("aws_s3_bucket", "arn") => get_att("Arn"),
            ("aws_s3_bucket", "bucket_domain_name") => get_att("DomainName"),
            ("aws_s3_bucket", "bucket_regional_domain_name") => get_att("RegionalDomainName"),
            ("aws_kms_key", "arn") => get_att("Arn"),
            ("aws_kms_key", "key_id" | "id") => reference(),
            ("aws_kms_alias", "name" | "id") => reference(),
            ("aws_iam_role", "arn") => get_att("Arn"),
            ("aws_iam_role", "name" | "id") => reference(),
            ("aws_iam_role", "unique_id") => get_att("RoleId"),
            ("aws_iam_policy", "arn" | "id") => reference(),
            ("aws_iam_instance_profile", "name" | "id") => reference(),
            ("aws_iam_instance_profile", "arn") => get_att("Arn"),
            ("aws_codecommit_repository", "arn") => get_att("Arn"),
            ("aws_codecommit_repository", "repository_name" | "id") => get_att("Name"),
            ("aws_codecommit_repository", "repository_id") => reference(),
            ("aws_codecommit_repository", "clone_url_http") => get_att("CloneUrlHttp"),
            ("aws_codecommit_repository", "clone_url_ssh") => get_att("CloneUrlSsh"),
            ("aws_codebuild_project", "name") => reference(),
            ("aws_codebuild_project", "arn" | "id") => get_att("Arn"),
            ("aws_codedeploy_app", "name") => reference(),
            ("aws_codedeploy_deployment_group", "deployment_group_name") => reference(),
            ("aws_codedeploy_deployment_config", "deployment_config_name" | "id") => reference(),
            ("aws_codepipeline", "name" | "id") => reference(),
            ("aws_codepipeline", "arn") => json!({"Fn::Join": ["", [
                "arn:", {"Ref": "AWS::Partition"}, ":codepipeline:", {"Ref": "AWS::Region"},
                ":", {"Ref": "AWS::AccountId"}, ":", {"Ref": id}
            ]]}),
            ("aws_cloudwatch_event_rule", "name" | "id") => reference(),
            ("aws_cloudwatch_event_rule", "arn") => get_att("Arn"),
            ("aws_launch_template", "id") => reference(),
            ("aws_launch_template", "latest_version" | "default_version") => {
                get_att("LatestVersionNumber")
            }
            _ => return None,
        })
    }

    /// A value standing for what the plan does not give.
    pub(super) fn unknown(&mut self, why: String) -> Value {
        let name = format!("TfUnknown{}", self.unknowns.len() + 1);
        self.unknowns.push((name.clone(), why));
        json!({"Ref": name})
    }

    /// An unknown value: its reference when the configuration makes exactly
    /// one, else unknown.
    pub(super) fn unknown_at(&mut self, r: usize, path: &[Seg]) -> Value {
        let resolved = match self.target_at(r, path) {
            Some(Referent::Literal(v)) => Some(v),
            Some(Referent::Attribute(i, attr)) => self.attribute(i, &attr),
            None => None,
        };
        match resolved {
            Some(v) => v,
            None => {
                let why = format!(
                    "{}.{} is known only after apply",
                    self.res[r].address,
                    dotted(path)
                );
                self.unknown(why)
            }
        }
    }

    pub(super) fn substitute(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => self.known_ids.get(s).cloned().unwrap_or_else(|| v.clone()),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.substitute(x)).collect()),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), self.substitute(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A plaintext CodeBuild variable's value: classified and dropped by
    /// the builder, never kept.
    pub(super) fn plaintext_variable(&self, r: usize, path: &[Seg]) -> bool {
        let res = &self.res[r];
        let n = path.len();
        if res.ty != "aws_codebuild_project" || n < 2 {
            return false;
        }
        let is_value = matches!(&path[n - 1], Seg::Key(k) if k == "value");
        let in_vars = path
            .iter()
            .any(|s| matches!(s, Seg::Key(k) if k == "environment_variable"));
        let mut sibling = path[..n - 1].to_vec();
        sibling.push(Seg::Key("type".to_string()));
        let mut v = Some(&res.values);
        for s in &sibling {
            v = at(v, s);
        }
        let plaintext = v
            .and_then(Value::as_str)
            .is_none_or(|t| t.eq_ignore_ascii_case("PLAINTEXT"));
        is_value && in_vars && plaintext
    }

    /// The value at `path` of resource `r`, unknown and sensitive parts
    /// made unknown (or their references).
    pub(super) fn conv(&mut self, r: usize, path: &mut Vec<Seg>) -> Value {
        let res = &self.res[r];
        let (mut v, mut u, mut s) = (Some(&res.values), Some(&res.unknown), Some(&res.sensitive));
        for seg in path.iter() {
            v = at(v, seg);
            u = match u {
                Some(Value::Bool(true)) => u,
                _ => at(u, seg),
            };
            s = match s {
                Some(Value::Bool(true)) => s,
                _ => at(s, seg),
            };
        }
        if s == Some(&Value::Bool(true)) && !self.plaintext_variable(r, path) {
            let why = format!(
                "{}.{} is sensitive in the plan; its value is not read",
                res.address,
                dotted(path)
            );
            return self.unknown(why);
        }
        if u == Some(&Value::Bool(true)) {
            return self.unknown_at(r, path);
        }
        let v = v.cloned().unwrap_or(Value::Null);
        match v {
            Value::Object(m) if intrinsic(&Value::Object(m.clone())) => {
                // a value shaped like an intrinsic is not evaluated as one
                let why = format!(
                    "{}.{} is an object shaped like a CloudFormation intrinsic; it is not read",
                    res.address,
                    dotted(path)
                );
                self.unknown(why)
            }
            Value::Object(m) => {
                let mut keys: BTreeSet<String> = m.keys().cloned().collect();
                if let Some(Value::Object(um)) = u {
                    keys.extend(
                        um.iter()
                            .filter(|(_, x)| **x == Value::Bool(true))
                            .map(|(k, _)| k.clone()),
                    );
                }
                let mut out = Map::new();
                for k in keys {
                    path.push(Seg::Key(k.clone()));
                    let x = self.conv(r, path);
                    path.pop();
                    out.insert(k, x);
                }
                Value::Object(out)
            }
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for i in 0..a.len() {
                    path.push(Seg::Idx(i));
                    out.push(self.conv(r, path));
                    path.pop();
                }
                Value::Array(out)
            }
            other => self.substitute(&other),
        }
    }

    /// The translated values of resource `r`.
    pub(super) fn values(&mut self, r: usize) -> Value {
        self.conv(r, &mut Vec::new())
    }

    /// A policy or event pattern: JSON text parsed, its ARNs substituted.
    pub(super) fn document(&self, v: Option<Value>) -> Option<Value> {
        match v? {
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(d) if !has_intrinsic(&d) => Some(self.substitute(&d)),
                _ => Some(Value::String(s)),
            },
            other => Some(other),
        }
    }

    /// The resource of type `ty` a value names (by its `key` attribute, or
    /// ARN) or refers to.
    pub(super) fn named(&self, r: usize, attr: &str, tys: &[&str], keys: &[&str]) -> Option<usize> {
        let res = &self.res[r];
        if let Some(v) = self.is_known(r, attr).and_then(Value::as_str) {
            let short = v.rsplit([':', '/']).next().unwrap_or(v);
            let candidates: Vec<usize> = self
                .res
                .iter()
                .enumerate()
                .filter(|(_, o)| tys.contains(&o.ty.as_str()))
                .filter(|(_, o)| {
                    keys.iter().any(|k| {
                        o.values
                            .get(*k)
                            .and_then(Value::as_str)
                            .is_some_and(|x| x == v || x == short)
                    })
                })
                .map(|(i, _)| i)
                .collect();
            // the same module first
            return candidates
                .iter()
                .find(|i| self.res[**i].module == res.module)
                .or(candidates.first())
                .copied();
        }
        match self.target_at(r, &[Seg::Key(attr.to_string())])? {
            Referent::Attribute(i, _) if tys.contains(&self.res[i].ty.as_str()) => Some(i),
            _ => None,
        }
    }
}
