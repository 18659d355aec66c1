//! Terraform plans in template mode (`--tf-plan`): the JSON of
//! `terraform show -json` of a saved plan, read into the same snapshot
//! model as CloudFormation templates, so the unchanged rules run on the
//! change before it is applied.
//!
//! Each plan becomes one stack: every managed resource of `planned_values`
//! (root and child modules) of a type pipeaudit reads is translated into
//! the equivalent CloudFormation resource, its logical id the resource
//! address, and built by the template builder ([`super::build`]). Which
//! `aws_*` type is which kind is [`crate::iac::terraform::cloudformation_type`].
//! The split S3 resources (`aws_s3_bucket_versioning`,
//! `_server_side_encryption_configuration`, `_public_access_block`,
//! `_logging`, `_notification`) and `aws_iam_role_policy_attachment` are
//! folded into the bucket or role they name.
//!
//! A value "known after apply" (`after_unknown`) is looked up in the plan's
//! `configuration`: when its expression is exactly one reference to a
//! resource attribute (followed through module variables and outputs), it
//! becomes that reference (`Ref` / `Fn::GetAtt`), which names and ARNs are
//! derived from as for templates. Anything else stays unknown with an
//! `iac-unresolved` diagnostic. A sensitive value (`after_sensitive`,
//! `sensitive_values`) is never copied: it is unknown too, except the value
//! of a plaintext CodeBuild environment variable, which is classified and
//! dropped as a live read does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::intrinsics::{Eval, Fail};
use super::{Builder, Built, Options, Source, note, scope_error, stack_name_of};
use crate::findings::Diagnostic;

/// The largest plan read: plans carry the prior state and configuration,
/// so they are larger than templates.
pub const MAX_PLAN_BYTES: u64 = 64 * 1024 * 1024;

/// How many references are followed for one value (variables, outputs).
const MAX_HOPS: usize = 16;

/// One step of a path into a resource's values.
#[derive(Debug, Clone)]
enum Seg {
    Key(String),
    Idx(usize),
}

fn dotted(path: &[Seg]) -> String {
    let mut s = String::new();
    for p in path {
        match p {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Idx(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn at<'v>(v: Option<&'v Value>, seg: &Seg) -> Option<&'v Value> {
    match (v?, seg) {
        (Value::Object(m), Seg::Key(k)) => m.get(k),
        (Value::Array(a), Seg::Idx(i)) => a.get(*i),
        _ => None,
    }
}

/// One managed resource instance of the plan.
struct Res {
    address: String,
    /// The module instance it is in (`module.a.module.b["x"]`), empty at the root.
    module: String,
    /// The module calls leading to it, instance keys dropped.
    calls: Vec<String>,
    ty: String,
    /// `TYPE.NAME` without its instance key, as the configuration names it.
    config_address: String,
    values: Value,
    unknown: Value,
    sensitive: Value,
}

/// Splits an address at the dots outside brackets and quotes.
pub(crate) fn split_dots(address: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let (mut bracket, mut quoted) = (0i32, false);
    for c in address.chars() {
        match c {
            '"' if bracket > 0 => {
                quoted = !quoted;
                cur.push(c);
            }
            '[' if !quoted => {
                bracket += 1;
                cur.push(c);
            }
            ']' if !quoted => {
                bracket -= 1;
                cur.push(c);
            }
            '.' if bracket == 0 && !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts
}

fn strip_key(part: &str) -> &str {
    part.split('[').next().unwrap_or(part)
}

/// A reference of an expression, parsed.
enum Reference {
    Var(String),
    Output(String, String),
    Resource(String, String),
    Other,
}

fn parse_reference(r: &str) -> Reference {
    let parts = split_dots(r);
    match parts.as_slice() {
        [v, name, ..] if v == "var" => Reference::Var(strip_key(name).to_string()),
        [m, call, out, ..] if m == "module" => {
            Reference::Output(call.clone(), strip_key(out).to_string())
        }
        [ty, name, attr, ..] if ty.starts_with("aws_") => {
            Reference::Resource(format!("{ty}.{name}"), strip_key(attr).to_string())
        }
        _ => Reference::Other,
    }
}

/// What a reference leads to.
enum Referent {
    Literal(Value),
    Attribute(usize, String),
}

/// The plan being translated.
struct Translation<'p> {
    path: &'p Path,
    doc: &'p Value,
    res: Vec<Res>,
    by_address: BTreeMap<String, usize>,
    /// Known KMS key ARNs and ids, launch template ids: by value.
    known_ids: BTreeMap<String, Value>,
    /// Parameters standing for unknown values, with why.
    unknowns: Vec<(String, String)>,
}

/// The references an expression makes, without those that only prefix
/// another (`aws_kms_key.k` beside `aws_kms_key.k.arn`).
fn references(expr: &Value) -> Vec<String> {
    let all: Vec<String> = expr
        .get("references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| {
            !["count.", "each.", "path.", "terraform.", "self."]
                .iter()
                .any(|p| r.starts_with(p))
        })
        .map(str::to_string)
        .collect();
    all.iter()
        .filter(|r| {
            !all.iter().any(|o| {
                o.len() > r.len()
                    && o.starts_with(r.as_str())
                    && matches!(o.as_bytes()[r.len()], b'.' | b'[')
            })
        })
        .cloned()
        .collect()
}

fn intrinsic(v: &Value) -> bool {
    match v {
        Value::Object(m) if m.len() == 1 => m
            .keys()
            .next()
            .is_some_and(|k| k == "Ref" || k.starts_with("Fn::")),
        _ => false,
    }
}

/// Whether a document holds an object shaped like an intrinsic anywhere.
fn has_intrinsic(v: &Value) -> bool {
    match v {
        Value::Object(m) => intrinsic(v) || m.values().any(has_intrinsic),
        Value::Array(a) => a.iter().any(has_intrinsic),
        _ => false,
    }
}

/// A property of a translated value: an unknown stays unknown.
fn f(t: &Value, key: &str) -> Option<Value> {
    if intrinsic(t) {
        return Some(t.clone());
    }
    t.get(key).filter(|v| !v.is_null()).cloned()
}

/// One `rule` block of a server-side encryption configuration, as
/// CloudFormation writes it (the split resource and the legacy inline block
/// share the shape).
fn sse_rule(r: &Value) -> Value {
    obj(vec![
        (
            "ServerSideEncryptionByDefault",
            block(r, "apply_server_side_encryption_by_default").map(|d| {
                obj(vec![
                    ("SSEAlgorithm", f(&d, "sse_algorithm")),
                    ("KMSMasterKeyID", f(&d, "kms_master_key_id")),
                ])
            }),
        ),
        ("BucketKeyEnabled", f(r, "bucket_key_enabled")),
    ])
}

/// The single block of a nested block list.
fn block(t: &Value, key: &str) -> Option<Value> {
    match f(t, key)? {
        Value::Array(a) => a.into_iter().next(),
        v if intrinsic(&v) => Some(v),
        _ => None,
    }
}

/// Each block of a nested block list (an unknown list: one unknown).
fn blocks(t: &Value, key: &str) -> Result<Vec<Value>, Value> {
    match f(t, key) {
        Some(Value::Array(a)) => Ok(a),
        Some(v) if intrinsic(&v) => Err(v),
        _ => Ok(Vec::new()),
    }
}

fn list<F: Fn(&Value) -> Value>(t: &Value, key: &str, each: F) -> Option<Value> {
    match blocks(t, key) {
        Ok(v) if v.is_empty() => None,
        Ok(v) => Some(Value::Array(v.iter().map(each).collect())),
        Err(u) => Some(u),
    }
}

/// A name, when the plan gives it: an unknown name is left to the
/// placeholder (as for a template that names nothing).
fn name_of(t: &Value, key: &str) -> Option<Value> {
    f(t, key).filter(|v| {
        !v.get("Ref")
            .and_then(Value::as_str)
            .is_some_and(|r| r.starts_with("TfUnknown"))
    })
}

/// An object of the present properties.
fn obj(pairs: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect(),
    )
}

/// A `{key = value}` map as CloudFormation tags.
fn tag_list(t: &Value, key: &str) -> Option<Value> {
    let v = f(t, key)?;
    if intrinsic(&v) {
        return Some(v);
    }
    Some(Value::Array(
        v.as_object()?
            .iter()
            .map(|(k, v)| json!({"Key": k, "Value": v}))
            .collect(),
    ))
}

impl<'p> Translation<'p> {
    /// The configuration of the module reached through `calls`.
    fn config_module(&self, calls: &[String]) -> Option<&'p Value> {
        let mut m = self.doc.get("configuration")?.get("root_module")?;
        for c in calls {
            m = m.get("module_calls")?.get(c)?.get("module")?;
        }
        Some(m)
    }

    /// The expression written for a resource's value at `path`, when the
    /// configuration writes one at exactly that path.
    fn expression(&self, r: &Res, path: &[Seg]) -> Option<&'p Value> {
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
    fn configured(&self, r: usize, attr: &str) -> bool {
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
    fn parent_module(module: &str) -> String {
        let parts = split_dots(module);
        let keep = parts.len().saturating_sub(2);
        parts[..keep].join(".")
    }

    /// Follows one reference made in the module `calls` (instance `module`).
    fn follow(
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

    fn expr_target(
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
    fn target_at(&self, r: usize, path: &[Seg]) -> Option<Referent> {
        let res = &self.res[r];
        let expr = self.expression(res, path)?;
        self.expr_target(&res.calls, &res.module, expr, 0)
    }

    fn is_known(&self, r: usize, attr: &str) -> Option<&Value> {
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
    fn attribute(&self, r: usize, attr: &str) -> Option<Value> {
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
    fn unknown(&mut self, why: String) -> Value {
        let name = format!("TfUnknown{}", self.unknowns.len() + 1);
        self.unknowns.push((name.clone(), why));
        json!({"Ref": name})
    }

    /// An unknown value: its reference when the configuration makes exactly
    /// one, else unknown.
    fn unknown_at(&mut self, r: usize, path: &[Seg]) -> Value {
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

    fn substitute(&self, v: &Value) -> Value {
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
    fn plaintext_variable(&self, r: usize, path: &[Seg]) -> bool {
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
    fn conv(&mut self, r: usize, path: &mut Vec<Seg>) -> Value {
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
    fn values(&mut self, r: usize) -> Value {
        self.conv(r, &mut Vec::new())
    }

    /// A policy or event pattern: JSON text parsed, its ARNs substituted.
    fn document(&self, v: Option<Value>) -> Option<Value> {
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
    fn named(&self, r: usize, attr: &str, tys: &[&str], keys: &[&str]) -> Option<usize> {
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

/// Reads, checks and parses a plan file.
fn read_plan(path: &Path) -> Result<Value, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > MAX_PLAN_BYTES {
        return Err(format!(
            "{} bytes, over the {MAX_PLAN_BYTES}-byte cap of a plan",
            meta.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    parse_plan(&text)
}

/// Parses the text of `terraform show -json PLAN` and checks its format
/// version (1.x).
pub fn parse_plan(text: &str) -> Result<Value, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Some(version) = doc.get("format_version") else {
        return Err(
            "not a Terraform plan in JSON (no format_version; use `terraform show -json PLANFILE`)"
                .to_string(),
        );
    };
    let version = version.as_str().unwrap_or("");
    let major = version.split('.').next().unwrap_or("");
    if major != "1" || version.split('.').count() < 2 {
        let shown: String = version.chars().take(32).collect();
        return Err(format!(
            "format_version {shown:?} is not supported (Terraform plan JSON 1.x only)"
        ));
    }
    if doc.get("planned_values").is_none() {
        return Err(
            "a Terraform state, not a plan (no planned_values; use `terraform show -json PLANFILE`)"
                .to_string(),
        );
    }
    Ok(doc)
}

/// The account and region a plan was made for, when it says: the region of
/// the root `aws` provider configuration, the account of an
/// `aws_caller_identity` data source read at plan time.
pub fn detect(doc: &Value) -> (Option<String>, Option<String>) {
    let region = doc
        .pointer("/configuration/provider_config/aws/expressions/region/constant_value")
        .and_then(Value::as_str)
        .map(str::to_string);
    fn account(m: &Value, depth: usize) -> Option<String> {
        if depth > 32 {
            return None;
        }
        for r in m
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if r.get("type").and_then(Value::as_str) == Some("aws_caller_identity")
                && let Some(a) = r.pointer("/values/account_id").and_then(Value::as_str)
            {
                return Some(a.to_string());
            }
        }
        m.get("child_modules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find_map(|c| account(c, depth + 1))
    }
    let account = doc
        .pointer("/prior_state/values/root_module")
        .and_then(|m| account(m, 0));
    (region, account)
}

fn collect(module: &Value, changes: &BTreeMap<String, &Value>, out: &mut Vec<Res>, depth: usize) {
    if depth > 32 {
        return;
    }
    for r in module
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if r.get("mode").and_then(Value::as_str) != Some("managed") {
            continue;
        }
        let (Some(address), Some(ty)) = (
            r.get("address").and_then(Value::as_str),
            r.get("type").and_then(Value::as_str),
        ) else {
            continue;
        };
        let parts = split_dots(address);
        let mut i = 0;
        let mut calls = Vec::new();
        while parts.get(i).map(String::as_str) == Some("module") && i + 2 < parts.len() {
            calls.push(strip_key(&parts[i + 1]).to_string());
            i += 2;
        }
        if parts.len() != i + 2 {
            continue;
        }
        let change = changes.get(address).and_then(|c| c.get("change"));
        let mut sensitive = r.get("sensitive_values").cloned().unwrap_or(json!({}));
        if let Some(s) = change.and_then(|c| c.get("after_sensitive")) {
            merge_true(&mut sensitive, s);
        }
        out.push(Res {
            address: address.to_string(),
            module: parts[..i].join("."),
            calls,
            ty: ty.to_string(),
            config_address: format!("{}.{}", parts[i], strip_key(&parts[i + 1])),
            values: r.get("values").cloned().unwrap_or(json!({})),
            unknown: change
                .and_then(|c| c.get("after_unknown"))
                .cloned()
                .unwrap_or(json!({})),
            sensitive,
        });
    }
    for c in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect(c, changes, out, depth + 1);
    }
}

/// Marks in `into` every part `from` marks `true`.
fn merge_true(into: &mut Value, from: &Value) {
    match (into, from) {
        (_, Value::Bool(false)) => {}
        (into, Value::Bool(true)) => *into = Value::Bool(true),
        (Value::Bool(true), _) => {}
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge_true(a.entry(k.clone()).or_insert(Value::Bool(false)), v);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, v) in b.iter().enumerate() {
                if i >= a.len() {
                    a.push(Value::Bool(false));
                }
                merge_true(&mut a[i], v);
            }
        }
        (into, from) => *into = from.clone(),
    }
}

/// Translates one plan into a CloudFormation-shaped template and the
/// unknown values its parameters stand for; notes on what was left out.
fn translate(path: &Path, doc: &Value) -> (Value, Vec<(String, String)>, Vec<Diagnostic>) {
    let mut changes: BTreeMap<String, &Value> = BTreeMap::new();
    for c in doc
        .get("resource_changes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(a) = c.get("address").and_then(Value::as_str) {
            changes.insert(a.to_string(), c);
        }
    }
    let mut res = Vec::new();
    if let Some(root) = doc.pointer("/planned_values/root_module") {
        collect(root, &changes, &mut res, 0);
    }
    let by_address = res
        .iter()
        .enumerate()
        .map(|(i, r)| (r.address.clone(), i))
        .collect();
    let mut plan = Translation {
        path,
        doc,
        res,
        by_address,
        known_ids: BTreeMap::new(),
        unknowns: Vec::new(),
    };
    for i in 0..plan.res.len() {
        let id = plan.res[i].address.clone();
        let get_att = json!({"Fn::GetAtt": [id.clone(), "Arn"]});
        let reference = json!({"Ref": id.clone()});
        match plan.res[i].ty.as_str() {
            "aws_kms_key" => {
                if let Some(a) = plan.is_known(i, "arn").and_then(Value::as_str) {
                    plan.known_ids.insert(a.to_string(), get_att);
                }
                if let Some(k) = plan.is_known(i, "key_id").and_then(Value::as_str) {
                    plan.known_ids.insert(k.to_string(), reference);
                }
            }
            "aws_launch_template" => {
                if let Some(k) = plan.is_known(i, "id").and_then(Value::as_str) {
                    plan.known_ids.insert(k.to_string(), reference);
                }
            }
            _ => {}
        }
    }
    let mut notes = Vec::new();
    let mut resources = Map::new();
    // folded into their bucket or role afterwards: (target, property, value)
    let mut folds: Vec<(usize, &'static str, Value)> = Vec::new();
    let mut targets: Vec<(usize, Value)> = Vec::new();
    // settings whose resource the plan leaves unknown: (type, property, why)
    let mut unsure: Vec<(&'static str, &'static str, String)> = Vec::new();
    for i in 0..plan.res.len() {
        let ty = plan.res[i].ty.clone();
        let address = plan.res[i].address.clone();
        let cfn = crate::iac::terraform::cloudformation_type(&ty);
        let t = match cfn {
            Some(_) => plan.values(i),
            None => match ty.as_str() {
                "aws_s3_bucket_versioning"
                | "aws_s3_bucket_server_side_encryption_configuration"
                | "aws_s3_bucket_public_access_block"
                | "aws_s3_bucket_logging"
                | "aws_s3_bucket_notification"
                | "aws_iam_role_policy_attachment"
                | "aws_cloudwatch_event_target" => plan.values(i),
                _ => continue,
            },
        };
        let props = match ty.as_str() {
            "aws_s3_bucket" => {
                // The inline settings of provider versions before 4 (still
                // accepted, deprecated), read as their split resources are
                // when the configuration writes them; a split resource
                // folded in afterwards wins. Not written, they are computed
                // from the bucket and say nothing.
                let configured = |k: &str| plan.configured(i, k);
                let versioning = if configured("versioning") {
                    block(&t, "versioning").map(|v| match f(&v, "enabled") {
                        Some(Value::Bool(on)) => obj(vec![(
                            "Status",
                            Some(json!(if on { "Enabled" } else { "Suspended" })),
                        )]),
                        Some(unknown) if intrinsic(&unknown) => {
                            obj(vec![("Status", Some(unknown))])
                        }
                        _ => obj(vec![("Status", Some(json!("Suspended")))]),
                    })
                } else {
                    None
                };
                let encryption = if configured("server_side_encryption_configuration") {
                    block(&t, "server_side_encryption_configuration").map(|c| {
                        let rules = list(&c, "rule", sse_rule);
                        obj(vec![("ServerSideEncryptionConfiguration", rules)])
                    })
                } else {
                    None
                };
                let logging = if configured("logging") {
                    block(&t, "logging").map(|l| {
                        obj(vec![
                            ("DestinationBucketName", f(&l, "target_bucket")),
                            ("LogFilePrefix", f(&l, "target_prefix")),
                        ])
                    })
                } else {
                    None
                };
                if configured("policy") {
                    // the inline policy as the bucket policy it stands for
                    resources.insert(
                        format!("{address}#policy"),
                        json!({"Type": "AWS::S3::BucketPolicy", "Properties": obj(vec![
                            ("Bucket", Some(json!({"Ref": address.clone()}))),
                            ("PolicyDocument", plan.document(f(&t, "policy"))),
                        ])}),
                    );
                }
                obj(vec![
                    ("BucketName", name_of(&t, "bucket")),
                    ("VersioningConfiguration", versioning),
                    ("BucketEncryption", encryption),
                    ("LoggingConfiguration", logging),
                ])
            }
            "aws_s3_bucket_policy"
                if plan.is_known(i, "bucket").is_none()
                    && plan
                        .named(i, "bucket", &["aws_s3_bucket"], &["bucket", "id"])
                        .is_none() =>
            {
                undetermined(
                    &plan,
                    i,
                    "bucket",
                    "AWS::S3::Bucket",
                    "#policy",
                    &mut notes,
                    &mut unsure,
                );
                continue;
            }
            "aws_s3_bucket_policy" => obj(vec![
                ("Bucket", f(&t, "bucket")),
                ("PolicyDocument", plan.document(f(&t, "policy"))),
            ]),
            "aws_kms_key" => obj(vec![
                ("Description", f(&t, "description")),
                ("EnableKeyRotation", f(&t, "enable_key_rotation")),
                ("Enabled", f(&t, "is_enabled")),
                ("KeyUsage", f(&t, "key_usage")),
                ("KeySpec", f(&t, "customer_master_key_spec")),
                ("KeyPolicy", plan.document(f(&t, "policy"))),
            ]),
            "aws_kms_alias" => obj(vec![
                ("AliasName", f(&t, "name")),
                ("TargetKeyId", f(&t, "target_key_id")),
            ]),
            "aws_iam_role" => {
                let configured = |k: &str| plan.configured(i, k);
                // not written: Terraform leaves them alone (none on a new role)
                let inline = if configured("inline_policy") {
                    list(&t, "inline_policy", |p| {
                        obj(vec![
                            ("PolicyName", f(p, "name")),
                            ("PolicyDocument", plan.document(f(p, "policy"))),
                        ])
                    })
                } else {
                    None
                };
                let managed = if configured("managed_policy_arns") {
                    f(&t, "managed_policy_arns")
                } else {
                    None
                };
                obj(vec![
                    ("RoleName", name_of(&t, "name")),
                    ("Path", f(&t, "path")),
                    (
                        "AssumeRolePolicyDocument",
                        plan.document(f(&t, "assume_role_policy")),
                    ),
                    ("Policies", inline),
                    ("ManagedPolicyArns", managed),
                ])
            }
            "aws_iam_policy" => obj(vec![
                ("ManagedPolicyName", name_of(&t, "name")),
                ("Path", f(&t, "path")),
                ("PolicyDocument", plan.document(f(&t, "policy"))),
            ]),
            "aws_iam_role_policy" => obj(vec![
                ("PolicyName", f(&t, "name")),
                ("RoleName", f(&t, "role")),
                ("PolicyDocument", plan.document(f(&t, "policy"))),
            ]),
            "aws_iam_instance_profile" => obj(vec![
                ("InstanceProfileName", name_of(&t, "name")),
                ("Path", f(&t, "path")),
                ("Roles", f(&t, "role").map(|r| json!([r]))),
            ]),
            "aws_codecommit_repository" => {
                obj(vec![("RepositoryName", name_of(&t, "repository_name"))])
            }
            "aws_codebuild_project" => codebuild(&plan, &t),
            "aws_codedeploy_app" => obj(vec![
                ("ApplicationName", name_of(&t, "name")),
                ("ComputePlatform", f(&t, "compute_platform")),
            ]),
            "aws_codedeploy_deployment_group" => deployment_group(&t),
            "aws_codedeploy_deployment_config" => obj(vec![
                ("DeploymentConfigName", f(&t, "deployment_config_name")),
                ("ComputePlatform", f(&t, "compute_platform")),
                (
                    "MinimumHealthyHosts",
                    block(&t, "minimum_healthy_hosts")
                        .map(|m| obj(vec![("Type", f(&m, "type")), ("Value", f(&m, "value"))])),
                ),
            ]),
            "aws_codepipeline" => pipeline(&t),
            "aws_cloudwatch_event_rule" => {
                let state = f(&t, "state").or_else(|| {
                    f(&t, "is_enabled").map(|e| match e {
                        Value::Bool(false) => json!("DISABLED"),
                        Value::Bool(true) => json!("ENABLED"),
                        other => other,
                    })
                });
                obj(vec![
                    ("Name", name_of(&t, "name")),
                    ("EventBusName", f(&t, "event_bus_name")),
                    ("EventPattern", plan.document(f(&t, "event_pattern"))),
                    ("ScheduleExpression", f(&t, "schedule_expression")),
                    ("RoleArn", f(&t, "role_arn")),
                    ("State", state),
                ])
            }
            "aws_launch_template" => {
                let meta = block(&t, "metadata_options").map(|m| metadata(&m));
                let profile = block(&t, "iam_instance_profile")
                    .map(|p| obj(vec![("Name", f(&p, "name")), ("Arn", f(&p, "arn"))]));
                obj(vec![
                    ("LaunchTemplateName", name_of(&t, "name")),
                    (
                        "LaunchTemplateData",
                        Some(obj(vec![
                            ("MetadataOptions", meta),
                            ("IamInstanceProfile", profile),
                        ])),
                    ),
                ])
            }
            "aws_instance" => {
                let mut lt = block(&t, "launch_template").map(|l| launch_template_ref(&l));
                // metadata options written on the instance: as a template of its own
                let meta = block(&t, "metadata_options").filter(|m| {
                    intrinsic(m) || f(m, "http_tokens").is_some_and(|x| !intrinsic(&x))
                });
                if lt.is_none()
                    && let Some(m) = meta
                {
                    let own = format!("{address}#metadata_options");
                    resources.insert(
                        own.clone(),
                        json!({"Type": "AWS::EC2::LaunchTemplate",
                               "Properties": {"LaunchTemplateData": {"MetadataOptions": metadata(&m)}}}),
                    );
                    lt = Some(json!({"LaunchTemplateId": {"Ref": own}}));
                }
                obj(vec![
                    ("IamInstanceProfile", f(&t, "iam_instance_profile")),
                    ("LaunchTemplate", lt),
                    ("Tags", tag_list(&t, "tags")),
                ])
            }
            "aws_autoscaling_group" => obj(vec![
                ("AutoScalingGroupName", f(&t, "name")),
                ("MinSize", f(&t, "min_size")),
                ("DesiredCapacity", f(&t, "desired_capacity")),
                (
                    "LaunchTemplate",
                    block(&t, "launch_template").map(|l| launch_template_ref(&l)),
                ),
                (
                    "Tags",
                    list(&t, "tag", |x| {
                        obj(vec![
                            ("Key", f(x, "key")),
                            ("Value", f(x, "value")),
                            ("PropagateAtLaunch", f(x, "propagate_at_launch")),
                        ])
                    }),
                ),
            ]),
            "aws_s3_bucket_versioning" => {
                let v = block(&t, "versioning_configuration")
                    .map(|c| obj(vec![("Status", f(&c, "status"))]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "VersioningConfiguration",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_server_side_encryption_configuration" => {
                let rules = list(&t, "rule", sse_rule);
                let v = Some(obj(vec![("ServerSideEncryptionConfiguration", rules)]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "BucketEncryption",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_public_access_block" => {
                let v = Some(obj(vec![
                    ("BlockPublicAcls", f(&t, "block_public_acls")),
                    ("IgnorePublicAcls", f(&t, "ignore_public_acls")),
                    ("BlockPublicPolicy", f(&t, "block_public_policy")),
                    ("RestrictPublicBuckets", f(&t, "restrict_public_buckets")),
                ]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "PublicAccessBlockConfiguration",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_logging" => {
                let v = Some(obj(vec![
                    ("DestinationBucketName", f(&t, "target_bucket")),
                    ("LogFilePrefix", f(&t, "target_prefix")),
                ]));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "LoggingConfiguration",
                    v,
                );
                continue;
            }
            "aws_s3_bucket_notification" => {
                let v = f(&t, "eventbridge")
                    .map(|e| json!({"EventBridgeConfiguration": {"EventBridgeEnabled": e}}));
                fold(
                    &plan,
                    &mut folds,
                    &mut notes,
                    &mut unsure,
                    i,
                    "NotificationConfiguration",
                    v,
                );
                continue;
            }
            "aws_iam_role_policy_attachment" => {
                match (
                    plan.named(i, "role", &["aws_iam_role"], &["name", "arn"]),
                    f(&t, "policy_arn"),
                ) {
                    (Some(role), Some(p)) => folds.push((role, "ManagedPolicyArns", p)),
                    (None, _) => undetermined(
                        &plan,
                        i,
                        "role",
                        "AWS::IAM::Role",
                        "ManagedPolicyArns",
                        &mut notes,
                        &mut unsure,
                    ),
                    (Some(_), None) => {}
                }
                continue;
            }
            "aws_cloudwatch_event_target" => {
                let target = obj(vec![
                    ("Id", f(&t, "target_id")),
                    ("Arn", f(&t, "arn")),
                    ("RoleArn", f(&t, "role_arn")),
                ]);
                match plan.named(i, "rule", &["aws_cloudwatch_event_rule"], &["name"]) {
                    Some(rule) => targets.push((rule, target)),
                    None => undetermined(
                        &plan,
                        i,
                        "rule",
                        "AWS::Events::Rule",
                        "Targets",
                        &mut notes,
                        &mut unsure,
                    ),
                }
                continue;
            }
            _ => continue,
        };
        let Some(cfn) = cfn else { continue };
        resources.insert(address, json!({"Type": cfn, "Properties": props}));
    }
    for (r, property, value) in folds {
        let id = &plan.res[r].address;
        if let Some(Value::Object(props)) =
            resources.get_mut(id).and_then(|x| x.get_mut("Properties"))
        {
            if property == "ManagedPolicyArns" {
                let list = props
                    .entry(property)
                    .or_insert_with(|| Value::Array(Vec::new()));
                // an unknown list stays unknown
                if let Value::Array(a) = list {
                    a.push(value);
                }
            } else {
                props.insert(property.to_string(), value);
            }
        }
    }
    for (r, target) in targets {
        let id = &plan.res[r].address;
        if let Some(Value::Object(props)) =
            resources.get_mut(id).and_then(|x| x.get_mut("Properties"))
        {
            let list = props
                .entry("Targets")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = list {
                a.push(target);
            }
        }
    }
    for (kind, property, why) in unsure {
        if property == "#policy" {
            // a policy on a bucket the plan does not say: every bucket
            // without a policy of its own may have it
            let targeted: Vec<Value> = resources
                .values()
                .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::S3::BucketPolicy"))
                .filter_map(|r| r.pointer("/Properties/Bucket").cloned())
                .collect();
            let buckets: Vec<(String, Option<Value>)> = resources
                .iter()
                .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some("AWS::S3::Bucket"))
                .map(|(id, r)| (id.clone(), r.pointer("/Properties/BucketName").cloned()))
                .collect();
            for (id, name) in buckets {
                let reference = json!({"Ref": id});
                if targeted.contains(&reference) || name.is_some_and(|n| targeted.contains(&n)) {
                    continue;
                }
                let u = plan.unknown(why.clone());
                resources.insert(
                    format!("{id}#policy"),
                    json!({"Type": "AWS::S3::BucketPolicy",
                           "Properties": {"Bucket": reference, "PolicyDocument": u}}),
                );
            }
            continue;
        }
        for r in resources.values_mut() {
            if r.get("Type").and_then(Value::as_str) != Some(kind) {
                continue;
            }
            let Some(Value::Object(props)) = r.get_mut("Properties") else {
                continue;
            };
            // a list it would add to, or a setting no resource gave
            let list = matches!(property, "ManagedPolicyArns" | "Targets");
            if list || !props.contains_key(property) {
                let u = plan.unknown(why.clone());
                props.insert(property.to_string(), u);
            }
        }
    }
    let parameters: Map<String, Value> = plan
        .unknowns
        .iter()
        .map(|(n, _)| (n.clone(), json!({"Type": "String"})))
        .collect();
    let template = json!({"Parameters": parameters, "Resources": resources});
    (template, plan.unknowns, notes)
}

/// A split bucket setting onto its bucket.
fn fold(
    plan: &Translation<'_>,
    folds: &mut Vec<(usize, &'static str, Value)>,
    notes: &mut Vec<Diagnostic>,
    unsure: &mut Vec<(&'static str, &'static str, String)>,
    i: usize,
    property: &'static str,
    value: Option<Value>,
) {
    let Some(value) = value else { return };
    match plan.named(i, "bucket", &["aws_s3_bucket"], &["bucket", "id"]) {
        Some(b) => folds.push((b, property, value)),
        None => undetermined(
            plan,
            i,
            "bucket",
            "AWS::S3::Bucket",
            property,
            notes,
            unsure,
        ),
    }
}

/// A setting whose resource is not known: on a resource outside the plan
/// it is left out; when the plan does not say which resource, that setting
/// of every resource of the kind is unknown.
fn undetermined(
    plan: &Translation<'_>,
    i: usize,
    attr: &str,
    kind: &'static str,
    property: &'static str,
    notes: &mut Vec<Diagnostic>,
    unsure: &mut Vec<(&'static str, &'static str, String)>,
) {
    let address = &plan.res[i].address;
    if plan.is_known(i, attr).is_some() {
        notes.push(note(format!(
            "{}: the {attr} of {address} is not in the plan; it is left out",
            plan.path.display()
        )));
    } else {
        unsure.push((
            kind,
            property,
            format!("the {attr} {address} applies to is known only after apply"),
        ));
    }
}

/// The launch template an instance or group names: by id, else by name
/// (the other one is computed by Terraform).
fn launch_template_ref(l: &Value) -> Value {
    let id = f(l, "id");
    let name = if id.is_none() { f(l, "name") } else { None };
    obj(vec![
        ("LaunchTemplateId", id),
        ("LaunchTemplateName", name),
        ("Version", f(l, "version")),
    ])
}

fn metadata(m: &Value) -> Value {
    obj(vec![
        ("HttpTokens", f(m, "http_tokens")),
        ("HttpEndpoint", f(m, "http_endpoint")),
        (
            "HttpPutResponseHopLimit",
            f(m, "http_put_response_hop_limit"),
        ),
    ])
}

fn codebuild(_plan: &Translation<'_>, t: &Value) -> Value {
    let source = |s: &Value| {
        obj(vec![
            ("Type", f(s, "type")),
            ("Location", f(s, "location")),
            ("BuildSpec", f(s, "buildspec")),
            ("GitCloneDepth", f(s, "git_clone_depth")),
            ("SourceIdentifier", f(s, "source_identifier")),
        ])
    };
    let artifacts = |a: &Value| {
        obj(vec![
            ("Type", f(a, "type")),
            ("Location", f(a, "location")),
            ("EncryptionDisabled", f(a, "encryption_disabled")),
            ("ArtifactIdentifier", f(a, "artifact_identifier")),
        ])
    };
    let env = block(t, "environment").map(|e| {
        obj(vec![
            ("Type", f(&e, "type")),
            ("ComputeType", f(&e, "compute_type")),
            ("Image", f(&e, "image")),
            ("PrivilegedMode", f(&e, "privileged_mode")),
            (
                "ImagePullCredentialsType",
                f(&e, "image_pull_credentials_type"),
            ),
            (
                "EnvironmentVariables",
                list(&e, "environment_variable", |v| {
                    obj(vec![
                        ("Name", f(v, "name")),
                        ("Type", f(v, "type")),
                        ("Value", f(v, "value")),
                    ])
                }),
            ),
        ])
    });
    let logs = block(t, "logs_config").map(|l| {
        obj(vec![
            (
                "CloudWatchLogs",
                block(&l, "cloudwatch_logs").map(|c| {
                    obj(vec![
                        ("Status", f(&c, "status")),
                        ("GroupName", f(&c, "group_name")),
                    ])
                }),
            ),
            (
                "S3Logs",
                block(&l, "s3_logs").map(|c| {
                    obj(vec![
                        ("Status", f(&c, "status")),
                        ("Location", f(&c, "location")),
                        ("EncryptionDisabled", f(&c, "encryption_disabled")),
                    ])
                }),
            ),
        ])
    });
    obj(vec![
        ("Name", name_of(t, "name")),
        ("ServiceRole", f(t, "service_role")),
        ("EncryptionKey", f(t, "encryption_key")),
        ("Visibility", f(t, "project_visibility")),
        ("Source", block(t, "source").map(|s| source(&s))),
        ("SecondarySources", list(t, "secondary_sources", source)),
        ("Artifacts", block(t, "artifacts").map(|a| artifacts(&a))),
        (
            "SecondaryArtifacts",
            list(t, "secondary_artifacts", artifacts),
        ),
        ("Environment", env),
        ("LogsConfig", logs),
        (
            "VpcConfig",
            block(t, "vpc_config").map(|v| obj(vec![("VpcId", f(&v, "vpc_id"))])),
        ),
    ])
}

fn deployment_group(t: &Value) -> Value {
    let filter = |x: &Value| {
        obj(vec![
            ("Key", f(x, "key")),
            ("Value", f(x, "value")),
            ("Type", f(x, "type")),
        ])
    };
    let tag_set = list(t, "ec2_tag_set", |s| {
        obj(vec![("Ec2TagGroup", list(s, "ec2_tag_filter", filter))])
    })
    .map(|l| json!({"Ec2TagSetList": l}));
    obj(vec![
        ("ApplicationName", f(t, "app_name")),
        ("DeploymentGroupName", f(t, "deployment_group_name")),
        ("ServiceRoleArn", f(t, "service_role_arn")),
        ("DeploymentConfigName", f(t, "deployment_config_name")),
        ("Ec2TagFilters", list(t, "ec2_tag_filter", filter)),
        ("Ec2TagSet", tag_set),
        (
            "OnPremisesInstanceTagFilters",
            list(t, "on_premises_instance_tag_filter", filter),
        ),
        ("AutoScalingGroups", f(t, "autoscaling_groups")),
        (
            "AutoRollbackConfiguration",
            block(t, "auto_rollback_configuration").map(|r| {
                obj(vec![
                    ("Enabled", f(&r, "enabled")),
                    ("Events", f(&r, "events")),
                ])
            }),
        ),
        (
            "AlarmConfiguration",
            block(t, "alarm_configuration").map(|a| {
                let alarms = f(&a, "alarms").map(|l| match l {
                    Value::Array(names) => {
                        Value::Array(names.into_iter().map(|n| json!({"Name": n})).collect())
                    }
                    other => other,
                });
                obj(vec![
                    ("Enabled", f(&a, "enabled")),
                    ("Alarms", alarms),
                    ("IgnorePollAlarmFailure", f(&a, "ignore_poll_alarm_failure")),
                ])
            }),
        ),
        (
            "DeploymentStyle",
            block(t, "deployment_style").map(|s| {
                obj(vec![
                    ("DeploymentType", f(&s, "deployment_type")),
                    ("DeploymentOption", f(&s, "deployment_option")),
                ])
            }),
        ),
    ])
}

fn pipeline(t: &Value) -> Value {
    let store = |s: &Value| {
        obj(vec![
            ("Type", f(s, "type")),
            ("Location", f(s, "location")),
            (
                "EncryptionKey",
                block(s, "encryption_key")
                    .map(|k| obj(vec![("Id", f(&k, "id")), ("Type", f(&k, "type"))])),
            ),
        ])
    };
    let (mut single, mut multi) = (None, None);
    match blocks(t, "artifact_store") {
        Err(u) => single = Some(u),
        Ok(stores) if stores.len() == 1 && f(&stores[0], "region").is_none() => {
            single = Some(store(&stores[0]));
        }
        Ok(stores) if !stores.is_empty() => {
            multi = Some(Value::Array(
                stores
                    .iter()
                    .map(|s| {
                        obj(vec![
                            ("Region", f(s, "region")),
                            ("ArtifactStore", Some(store(s))),
                        ])
                    })
                    .collect(),
            ));
        }
        Ok(_) => {}
    }
    let artifacts = |a: &Value, key: &str| {
        f(a, key).map(|l| match l {
            Value::Array(names) => {
                Value::Array(names.into_iter().map(|n| json!({"Name": n})).collect())
            }
            other => other,
        })
    };
    let stages = list(t, "stage", |s| {
        obj(vec![
            ("Name", f(s, "name")),
            (
                "Actions",
                list(s, "action", |a| {
                    obj(vec![
                        ("Name", f(a, "name")),
                        (
                            "ActionTypeId",
                            Some(obj(vec![
                                ("Category", f(a, "category")),
                                ("Owner", f(a, "owner")),
                                ("Provider", f(a, "provider")),
                                ("Version", f(a, "version")),
                            ])),
                        ),
                        ("Configuration", f(a, "configuration")),
                        ("InputArtifacts", artifacts(a, "input_artifacts")),
                        ("OutputArtifacts", artifacts(a, "output_artifacts")),
                        ("RoleArn", f(a, "role_arn")),
                        ("RunOrder", f(a, "run_order")),
                        ("Region", f(a, "region")),
                        ("Namespace", f(a, "namespace")),
                    ])
                }),
            ),
        ])
    });
    obj(vec![
        ("Name", name_of(t, "name")),
        ("RoleArn", f(t, "role_arn")),
        ("PipelineType", f(t, "pipeline_type")),
        ("ExecutionMode", f(t, "execution_mode")),
        ("ArtifactStore", single),
        ("ArtifactStores", multi),
        ("Stages", stages),
    ])
}

/// The plan files under `dir` (`*.json`), sorted.
fn plans_of(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    super::walk_files(
        dir,
        &[".terraform"],
        &|name: &str| name.ends_with(".json"),
        out,
        depth,
    );
}

/// A plan read from disk, before it is built.
pub struct PlanFile {
    pub path: PathBuf,
    pub doc: Value,
}

/// Reads the plans at `paths` (files, or directories of `*.json`). A file
/// given by name that is not a plan is an error; one found in a directory
/// is a diagnostic.
pub fn read(paths: &[PathBuf]) -> Result<(Vec<PlanFile>, Vec<Diagnostic>), String> {
    let mut found: Vec<(PathBuf, bool)> = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files = Vec::new();
            plans_of(p, &mut files, 0);
            found.extend(files.into_iter().map(|f| (f, false)));
        } else {
            found.push((p.clone(), true));
        }
    }
    let mut plans = Vec::new();
    let mut diagnostics = Vec::new();
    for (path, named) in found {
        match read_plan(&path) {
            Ok(doc) => plans.push(PlanFile { path, doc }),
            Err(why) if named => return Err(format!("plan {}: {why}", path.display())),
            Err(why) => diagnostics.push(scope_error(format!(
                "plan {} not audited: {why}",
                path.display()
            ))),
        }
    }
    if plans.is_empty() {
        return Err("no Terraform plan found in the paths given".to_string());
    }
    Ok((plans, diagnostics))
}

/// Builds the snapshot from plans read by [`read`].
pub fn load(
    plans: &[PlanFile],
    diagnostics: Vec<Diagnostic>,
    opts: &Options,
) -> Result<Built, String> {
    let mut b = Builder::new(opts);
    b.diagnostics = diagnostics;
    let mut sources = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for p in plans {
        let (doc, unknowns, notes) = translate(&p.path, &p.doc);
        b.diagnostics.extend(notes);
        let mut stack = stack_name_of(&p.path);
        let n = names.entry(stack.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            stack = format!("{stack}-{n}");
        }
        let inherited: BTreeMap<String, Eval<Value>> = unknowns
            .into_iter()
            .map(|(name, why)| (name, Err(Fail::Unresolved(why))))
            .collect();
        sources.push(Source {
            path: p.path.clone(),
            stack,
            doc,
            parameters: BTreeMap::new(),
            inherited,
        });
    }
    let exports = BTreeMap::new();
    for s in &sources {
        b.build_one(s, &exports, 0)
            .map_err(|e| format!("plan {}: {e}", s.path.display()))?;
    }
    let mut built = b.finish();
    // resources of a plan belong to no CloudFormation stack
    built.snapshot.stacks.clear();
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_keep_the_most_specific() {
        let e = json!({"references": ["aws_kms_key.k.arn", "aws_kms_key.k", "count.index"]});
        assert_eq!(references(&e), vec!["aws_kms_key.k.arn".to_string()]);
        let e = json!({"references": ["var.a", "var.b"]});
        assert_eq!(references(&e).len(), 2);
    }

    #[test]
    fn addresses_split_outside_brackets() {
        assert_eq!(
            split_dots("module.a[\"x.y\"].aws_s3_bucket.b[0]"),
            vec!["module", "a[\"x.y\"]", "aws_s3_bucket", "b[0]"]
        );
        assert!(matches!(
            parse_reference("module.ci.key_arn"),
            Reference::Output(c, o) if c == "ci" && o == "key_arn"
        ));
        assert!(matches!(
            parse_reference("aws_iam_role.r[0].arn"),
            Reference::Resource(l, a) if l == "aws_iam_role.r[0]" && a == "arn"
        ));
    }

    #[test]
    fn only_format_version_1_is_read() {
        assert!(parse_plan("{\"format_version\": \"1.2\", \"planned_values\": {}}").is_ok());
        for bad in [
            "not json",
            "{}",
            "{\"format_version\": \"2.0\", \"planned_values\": {}}",
            "{\"format_version\": \"0.1\", \"planned_values\": {}}",
            "{\"format_version\": 1, \"planned_values\": {}}",
            "{\"format_version\": \"1.0\", \"values\": {}}",
        ] {
            let e = parse_plan(bad).err().unwrap_or_default();
            assert!(!e.is_empty() && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_values_follow_module_outputs_and_variables() {
        let doc = json!({
            "format_version": "1.2",
            "planned_values": {"root_module": {
                "resources": [{"address": "aws_codebuild_project.p", "mode": "managed",
                    "type": "aws_codebuild_project", "name": "p", "values": {"name": "p"}}],
                "child_modules": [{"address": "module.m", "resources": [
                    {"address": "module.m.aws_iam_role.r", "mode": "managed",
                     "type": "aws_iam_role", "name": "r",
                     "values": {"name": "r", "assume_role_policy": "{}"}},
                    {"address": "module.m.aws_kms_key.k", "mode": "managed",
                     "type": "aws_kms_key", "name": "k", "values": {}}]}]}},
            "resource_changes": [
                {"address": "aws_codebuild_project.p",
                 "change": {"after_unknown": {"service_role": true, "encryption_key": true}}},
                {"address": "module.m.aws_kms_key.k",
                 "change": {"after_unknown": {"description": true}}}],
            "configuration": {"root_module": {
                "resources": [{"address": "aws_codebuild_project.p", "mode": "managed",
                    "expressions": {
                        "service_role": {"references": ["module.m.role_arn", "module.m"]},
                        "encryption_key": {"references": ["local.key", "var.other"]}}}],
                "module_calls": {"m": {"expressions": {"d": {"constant_value": "given"}},
                    "module": {
                    "resources": [{"address": "aws_kms_key.k", "mode": "managed",
                        "expressions": {"description": {"references": ["var.d"]}}}],
                    "outputs": {"role_arn": {"expression":
                        {"references": ["aws_iam_role.r.arn", "aws_iam_role.r"]}}}}}}}}
        });
        let (template, unknowns, _) = translate(Path::new("p.json"), &doc);
        let p = &template["Resources"]["aws_codebuild_project.p"]["Properties"];
        assert_eq!(
            p["ServiceRole"],
            json!({"Fn::GetAtt": ["module.m.aws_iam_role.r", "Arn"]})
        );
        // two references: not guessed
        let u = p["EncryptionKey"]["Ref"].as_str().unwrap_or_default();
        assert!(
            unknowns.iter().any(|(n, why)| n == u
                && why == "aws_codebuild_project.p.encryption_key is known only after apply"),
            "{unknowns:?}"
        );
        assert_eq!(
            template["Resources"]["module.m.aws_kms_key.k"]["Properties"]["Description"],
            json!("given")
        );
    }

    #[test]
    fn sensitive_marks_merge() {
        let mut a = json!({"x": false, "l": [false]});
        merge_true(&mut a, &json!({"l": [false, {"v": true}], "y": true}));
        assert_eq!(a, json!({"x": false, "l": [false, {"v": true}], "y": true}));
    }
}
