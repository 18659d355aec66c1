//! Verified patches to Terraform configuration (`--tf-plan PLAN --iac DIR
//! --fix-patch FILE`).
//!
//! A fix action's Terraform form ([`crate::remediate::registry::FixAction::terraform_form`])
//! says what to change as [`TfEdit`]s: an attribute of a resource set to a
//! value, or a new resource beside another. Each edit is made twice: in the
//! `.tf` text that defines the resource ([`super::hcl`], only where the
//! attribute is a literal), and in the plan, as the same value planned.
//! The plan so changed is audited again; the edit is kept only when the
//! finding is gone with no new finding and no new gap, as for templates.
//! A change that cannot be made or verified is a manual step naming the
//! block, the attribute and the value to set.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::hcl::{self, Hcl};
use super::verify::{Key, Manual, Patched, Patches, closed_earlier, key, remediation, verdict};
use crate::findings::{Diagnostic, FileChange, Finding};
use crate::iac::terraform::{TfIndex, resource_span};
use crate::model::Snapshot;
use crate::remediate::registry;
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::template::tfplan::{PlanFile, split_dots};
use crate::template::{Options, Origin};

/// A value of a new resource's attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum TfValue {
    Lit(Value),
    /// A reference to another resource's attribute: the expression written
    /// (`aws_s3_bucket.artifacts.id`), the value it has in the plan when
    /// known, and the plan's reference list for it.
    Ref {
        expr: String,
        value: Option<Value>,
        references: Vec<String>,
    },
}

/// One change to the Terraform configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum TfEdit {
    /// Set `path` (nested block names, then the attribute) of the resource
    /// at `address` to `value`.
    Set {
        address: String,
        path: Vec<String>,
        value: Value,
    },
    /// A new resource `TYPE.NAME` in the module of `beside`, written after
    /// its block.
    Create {
        beside: String,
        ty: String,
        name: String,
        attrs: Vec<(Vec<String>, TfValue)>,
    },
}

impl TfEdit {
    /// Set `path` of the resource at `address` to `value`.
    pub fn set(address: &str, path: &[&str], value: Value) -> TfEdit {
        TfEdit::Set {
            address: address.to_string(),
            path: path.iter().map(|p| (*p).to_string()).collect(),
            value,
        }
    }
}

/// What a Terraform form sees of the plan.
pub struct TfContext<'a> {
    pub snapshot: &'a Snapshot,
    /// The finding's resource address (instance keys kept).
    pub address: &'a str,
    /// The plan the resource is in.
    pub plan: &'a Value,
    /// The resource types of the modules' blocks taken by name (`TYPE.NAME`),
    /// for a new block's name.
    pub taken: &'a BTreeSet<String>,
}

/// The parts of an address: module instance (`module.a["x"]`, empty at the
/// root), type and name (without instance key).
fn parts(address: &str) -> Option<(String, String, String)> {
    let p = split_dots(address);
    if p.len() < 2 || !p.len().is_multiple_of(2) {
        return None;
    }
    let n = p.len();
    Some((
        p[..n - 2].join("."),
        p[n - 2].clone(),
        strip_key(&p[n - 1]).to_string(),
    ))
}

fn strip_key(s: &str) -> &str {
    s.split('[').next().unwrap_or(s)
}

/// An address without instance keys, module ones included.
fn config_address(address: &str) -> String {
    split_dots(address)
        .iter()
        .map(|p| strip_key(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// Every managed resource of a plan's `planned_values`, mutable.
fn planned_mut<'v>(module: &'v mut Value, out: &mut Vec<&'v mut Value>, depth: usize) {
    if depth > 32 {
        return;
    }
    let Some(obj) = module.as_object_mut() else {
        return;
    };
    let mut children = None;
    for (k, v) in obj.iter_mut() {
        match k.as_str() {
            "resources" => {
                if let Some(list) = v.as_array_mut() {
                    out.extend(list.iter_mut());
                }
            }
            "child_modules" => children = Some(v),
            _ => {}
        }
    }
    if let Some(list) = children.and_then(Value::as_array_mut) {
        for c in list {
            planned_mut(c, out, depth + 1);
        }
    }
}

fn planned<'v>(module: &'v Value, out: &mut Vec<&'v Value>, depth: usize) {
    if depth > 32 {
        return;
    }
    out.extend(
        module
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    );
    for c in module
        .get("child_modules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        planned(c, out, depth + 1);
    }
}

impl TfContext<'_> {
    /// The finding's resource type (`aws_kms_key`).
    pub fn ty(&self) -> String {
        parts(self.address).map(|p| p.1).unwrap_or_default()
    }

    /// The planned values of the resource at `address`.
    pub fn values(&self, address: &str) -> Option<&Value> {
        let mut all = Vec::new();
        if let Some(root) = self.plan.pointer("/planned_values/root_module") {
            planned(root, &mut all, 0);
        }
        all.into_iter()
            .find(|r| r.get("address").and_then(Value::as_str) == Some(address))
            .and_then(|r| r.get("values"))
    }

    /// The resources of type `ty` in the finding's module whose `bucket`
    /// (or `attr`) names the finding's resource: by a reference in the
    /// configuration, or by the value planned.
    pub fn attached(&self, ty: &str, attr: &str, keys: &[&str]) -> Vec<String> {
        let Some((module, own_ty, own_name)) = parts(self.address) else {
            return Vec::new();
        };
        let own = self.values(self.address);
        let own_values: Vec<&str> = keys
            .iter()
            .filter_map(|k| own.and_then(|v| v.get(*k)).and_then(Value::as_str))
            .collect();
        let config = config_module(self.plan, &module);
        let by_reference = |address: &str| {
            let Some((_, t, n)) = parts(address) else {
                return false;
            };
            config
                .and_then(|m| m.get("resources")?.as_array())
                .into_iter()
                .flatten()
                .filter(|c| c.get("address").and_then(Value::as_str) == Some(&format!("{t}.{n}")))
                .any(|c| {
                    c.pointer(&format!("/expressions/{attr}/references"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .any(|r| {
                            strip_key(r) == format!("{own_ty}.{own_name}")
                                || r.starts_with(&format!("{own_ty}.{own_name}."))
                        })
                })
        };
        let mut all = Vec::new();
        if let Some(root) = self.plan.pointer("/planned_values/root_module") {
            planned(root, &mut all, 0);
        }
        all.into_iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some(ty))
            .filter_map(|r| r.get("address").and_then(Value::as_str))
            .filter(|a| parts(a).is_some_and(|p| p.0 == module))
            .filter(|a| {
                by_reference(a)
                    || self
                        .values(a)
                        .and_then(|v| v.get(attr))
                        .and_then(Value::as_str)
                        .is_some_and(|v| own_values.contains(&v))
            })
            .map(str::to_string)
            .collect()
    }

    /// A name for a new `ty` block beside the finding's resource: the
    /// resource's own name, else with a number.
    pub fn new_name(&self, ty: &str) -> String {
        let base = parts(self.address)
            .map(|p| p.2)
            .unwrap_or_else(|| "fix".into());
        let mut name = base.clone();
        let mut n = 2;
        while self.taken.contains(&format!("{ty}.{name}")) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }

    /// Whether the configuration writes attribute `attr` of the finding's
    /// resource.
    pub fn configured(&self, attr: &str) -> bool {
        let Some((module, ty, name)) = parts(self.address) else {
            return false;
        };
        config_module(self.plan, &module)
            .and_then(|m| m.get("resources")?.as_array())
            .into_iter()
            .flatten()
            .filter(|c| c.get("address").and_then(Value::as_str) == Some(&format!("{ty}.{name}")))
            .any(|c| c.pointer(&format!("/expressions/{attr}")).is_some())
    }

    /// Whether the finding's resource is one of several instances (count,
    /// for_each, or a module's).
    pub fn is_instance(&self) -> bool {
        self.address.contains('[')
    }
}

/// Every reference string under a configuration expression tree.
fn references_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "references" {
                    out.extend(
                        x.as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_string),
                    );
                } else {
                    references_in(x, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| references_in(x, out)),
        _ => {}
    }
}

/// Every configuration module with its call path (`module.a.module.b`,
/// empty at the root).
fn config_modules<'v>(
    m: &'v Value,
    path: String,
    out: &mut Vec<(String, &'v Value)>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    if let Some(calls) = m.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            if let Some(inner) = call.get("module") {
                let p = if path.is_empty() {
                    format!("module.{name}")
                } else {
                    format!("{path}.module.{name}")
                };
                config_modules(inner, p, out, depth + 1);
            }
        }
    }
    out.push((path, m));
}

impl TfContext<'_> {
    /// The launch templates that instances or Auto Scaling groups of the
    /// plan refer to, and the instances with metadata options of their own,
    /// whose planned `http_tokens` is `optional`: their addresses, one per
    /// block.
    pub fn optional_metadata(&self) -> Vec<String> {
        let mut used: BTreeSet<String> = BTreeSet::new();
        let mut modules = Vec::new();
        if let Some(root) = self.plan.pointer("/configuration/root_module") {
            config_modules(root, String::new(), &mut modules, 0);
        }
        for (path, m) in modules {
            for r in m
                .get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ty = r.get("type").and_then(Value::as_str).unwrap_or("");
                if ty != "aws_instance" && ty != "aws_autoscaling_group" {
                    continue;
                }
                let mut refs = Vec::new();
                references_in(r.get("expressions").unwrap_or(&Value::Null), &mut refs);
                for x in refs
                    .iter()
                    .filter(|x| x.starts_with("aws_launch_template."))
                {
                    let lt: Vec<&str> = x.split('.').take(2).collect();
                    let lt = strip_key(&lt.join(".")).to_string();
                    used.insert(if path.is_empty() {
                        lt
                    } else {
                        format!("{path}.{lt}")
                    });
                }
            }
        }
        let mut all = Vec::new();
        if let Some(root) = self.plan.pointer("/planned_values/root_module") {
            planned(root, &mut all, 0);
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for r in all {
            let (Some(address), Some(ty)) = (
                r.get("address").and_then(Value::as_str),
                r.get("type").and_then(Value::as_str),
            ) else {
                continue;
            };
            let v = r.get("values").unwrap_or(&Value::Null);
            let optional = v.pointer("/metadata_options/0/http_tokens") == Some(&json!("optional"));
            let wanted = match ty {
                "aws_launch_template" => used.contains(&config_address(address)),
                "aws_instance" => v
                    .get("launch_template")
                    .and_then(Value::as_array)
                    .is_none_or(|l| l.is_empty()),
                _ => false,
            };
            if optional && wanted && seen.insert(config_address(address)) {
                out.push(address.to_string());
            }
        }
        out
    }
}

/// A bucket setting Terraform keeps in a resource of its own (`ty`, naming
/// the bucket in `bucket`): `attrs` set in the one that names the
/// finding's bucket; in the bucket's deprecated inline block (`legacy`)
/// when the configuration writes that; else in a new `ty` resource beside
/// the bucket.
pub fn bucket_setting(
    cx: &TfContext<'_>,
    ty: &str,
    attrs: &[(&[&str], Value)],
    legacy: Option<(&[&str], Value)>,
) -> Result<Vec<TfEdit>, String> {
    if cx.ty() != "aws_s3_bucket" {
        return Err(format!("{} is not an aws_s3_bucket", cx.address));
    }
    let attached = cx.attached(ty, "bucket", &["bucket", "id"]);
    match attached.as_slice() {
        [one] => {
            return Ok(attrs
                .iter()
                .map(|(p, v)| TfEdit::set(one, p, v.clone()))
                .collect());
        }
        [] => {}
        many => {
            return Err(format!(
                "{} {ty} resources name this bucket: {}",
                many.len(),
                many.join(", ")
            ));
        }
    }
    let (module, bty, bname) =
        parts(cx.address).ok_or_else(|| format!("{} is not a resource address", cx.address))?;
    if let Some((p, v)) = legacy {
        let written = config_module(cx.plan, &module)
            .and_then(|m| m.get("resources")?.as_array())
            .into_iter()
            .flatten()
            .filter(|c| c.get("address").and_then(Value::as_str) == Some(&format!("{bty}.{bname}")))
            .any(|c| c.pointer(&format!("/expressions/{}", p[0])).is_some());
        if written {
            return Ok(vec![TfEdit::set(cx.address, p, v)]);
        }
    }
    if cx.is_instance() {
        return Err(format!(
            "{} is one of several instances (count, for_each or a module's): add a {ty} resource with the same count or for_each",
            cx.address
        ));
    }
    let expr = format!("{bty}.{bname}.id");
    let known = cx
        .values(cx.address)
        .and_then(|v| v.get("bucket"))
        .filter(|v| v.is_string())
        .cloned();
    let mut all = vec![(
        vec!["bucket".to_string()],
        TfValue::Ref {
            expr: expr.clone(),
            value: known,
            references: vec![expr, format!("{bty}.{bname}")],
        },
    )];
    all.extend(attrs.iter().map(|(p, v)| {
        (
            p.iter().map(|s| (*s).to_string()).collect(),
            TfValue::Lit(v.clone()),
        )
    }));
    Ok(vec![TfEdit::Create {
        beside: cx.address.to_string(),
        ty: ty.to_string(),
        name: cx.new_name(ty),
        attrs: all,
    }])
}

/// The configuration module of a module instance address.
fn config_module<'v>(plan: &'v Value, module: &str) -> Option<&'v Value> {
    let mut m = plan.pointer("/configuration/root_module")?;
    if module.is_empty() {
        return Some(m);
    }
    let p = split_dots(module);
    for pair in p.chunks(2) {
        let name = strip_key(pair.get(1)?);
        m = m.get("module_calls")?.get(name)?.get("module")?;
    }
    Some(m)
}

fn config_module_mut<'v>(plan: &'v mut Value, module: &str) -> Option<&'v mut Value> {
    let mut m = plan.pointer_mut("/configuration/root_module")?;
    if module.is_empty() {
        return Some(m);
    }
    let p = split_dots(module);
    for pair in p.chunks(2) {
        let name = strip_key(pair.get(1)?).to_string();
        m = m
            .get_mut("module_calls")?
            .get_mut(&name)?
            .get_mut("module")?;
    }
    Some(m)
}

/// Sets `path` in a planned resource's values: blocks are lists of objects
/// (created with one element when absent), the last name is the attribute.
fn set_path(values: &mut Value, path: &[String], value: &Value) {
    let Some((attr, blocks)) = path.split_last() else {
        return;
    };
    if !values.is_object() {
        *values = json!({});
    }
    let mut level: Vec<&mut Value> = vec![values];
    for b in blocks {
        let mut next = Vec::new();
        for v in level {
            let Some(obj) = v.as_object_mut() else {
                continue;
            };
            let list = obj.entry(b.clone()).or_insert_with(|| json!([]));
            if !list.is_array() {
                *list = json!([]);
            }
            if let Some(items) = list.as_array_mut() {
                if items.is_empty() {
                    items.push(json!({}));
                }
                next.extend(items.iter_mut().filter(|i| i.is_object()));
            }
        }
        level = next;
    }
    for v in level {
        if let Some(obj) = v.as_object_mut() {
            obj.insert(attr.clone(), value.clone());
        }
    }
}

/// Marks `path` known in an `after_unknown` tree.
fn clear_unknown(unknown: &mut Value, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    let Some(obj) = unknown.as_object_mut() else {
        return;
    };
    if rest.is_empty() {
        obj.insert(first.clone(), Value::Bool(false));
        return;
    }
    if let Some(v) = obj.get_mut(first) {
        if v == &Value::Bool(true) {
            *v = json!([{}]);
        }
        if let Value::Array(items) = v {
            for i in items {
                clear_unknown(i, rest);
            }
        }
    }
}

/// The plan with the edit made (every instance of the block edited).
fn edit_plan(plan: &mut Value, e: &TfEdit) -> Result<(), String> {
    match e {
        TfEdit::Set {
            address,
            path,
            value,
        } => {
            let target = config_address(address);
            let mut hit = Vec::new();
            if let Some(root) = plan.pointer_mut("/planned_values/root_module") {
                let mut all = Vec::new();
                planned_mut(root, &mut all, 0);
                for r in all {
                    let Some(a) = r.get("address").and_then(Value::as_str).map(str::to_string)
                    else {
                        continue;
                    };
                    if config_address(&a) != target {
                        continue;
                    }
                    if let Some(v) = r.get_mut("values") {
                        set_path(v, path, value);
                        hit.push(a);
                    }
                }
            }
            if hit.is_empty() {
                return Err(format!("{address} is not in the plan"));
            }
            for c in plan
                .get_mut("resource_changes")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let a = c.get("address").and_then(Value::as_str).unwrap_or("");
                if hit.iter().any(|h| h == a)
                    && let Some(u) = c.pointer_mut("/change/after_unknown")
                {
                    clear_unknown(u, path);
                }
            }
            Ok(())
        }
        TfEdit::Create {
            beside,
            ty,
            name,
            attrs,
        } => {
            let (module, _, _) =
                parts(beside).ok_or_else(|| format!("{beside} is not a resource address"))?;
            let address = if module.is_empty() {
                format!("{ty}.{name}")
            } else {
                format!("{module}.{ty}.{name}")
            };
            let mut values = json!({});
            let mut unknown = json!({});
            let mut expressions = Map::new();
            for (path, v) in attrs {
                match v {
                    TfValue::Lit(x) => set_path(&mut values, path, x),
                    TfValue::Ref {
                        value, references, ..
                    } => {
                        match value {
                            Some(x) => set_path(&mut values, path, x),
                            None => set_path(&mut unknown, path, &Value::Bool(true)),
                        }
                        if let [attr] = path.as_slice() {
                            expressions.insert(attr.clone(), json!({"references": references}));
                        }
                    }
                }
            }
            let resource = json!({
                "address": address, "mode": "managed", "type": ty, "name": name,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "schema_version": 0, "values": values,
            });
            // into the planned module of `beside`
            let root = plan
                .pointer_mut("/planned_values/root_module")
                .ok_or("the plan has no planned_values")?;
            let mut m = root;
            if !module.is_empty() {
                let mut found = None;
                let mut stack: Vec<&mut Value> = vec![m];
                while let Some(v) = stack.pop() {
                    if v.get("address").and_then(Value::as_str) == Some(module.as_str()) {
                        found = Some(v);
                        break;
                    }
                    if let Some(list) = v.get_mut("child_modules").and_then(Value::as_array_mut) {
                        stack.extend(list.iter_mut());
                    }
                }
                m = found.ok_or_else(|| format!("module {module} is not in the plan"))?;
            }
            let obj = m.as_object_mut().ok_or("a plan module is not an object")?;
            let list = obj.entry("resources").or_insert_with(|| json!([]));
            list.as_array_mut()
                .ok_or("a plan module's resources are not a list")?
                .push(resource);
            if let Some(changes) = plan
                .get_mut("resource_changes")
                .and_then(Value::as_array_mut)
            {
                changes.push(json!({
                    "address": address, "mode": "managed", "type": ty, "name": name,
                    "change": {"actions": ["create"], "after": values, "after_unknown": unknown},
                }));
            }
            if let Some(cm) = config_module_mut(plan, &module)
                && let Some(obj) = cm.as_object_mut()
            {
                let list = obj.entry("resources").or_insert_with(|| json!([]));
                if let Some(l) = list.as_array_mut() {
                    l.push(json!({
                        "address": format!("{ty}.{name}"), "mode": "managed",
                        "type": ty, "name": name, "expressions": expressions,
                    }));
                }
            }
            Ok(())
        }
    }
}

/// The `.tf` text with the edit made. `texts` holds the current text of
/// every file edited so far.
fn edit_text(
    index: &TfIndex,
    texts: &BTreeMap<PathBuf, String>,
    e: &TfEdit,
) -> Result<(PathBuf, String, String), String> {
    let beside = match e {
        TfEdit::Set { address, .. } => address,
        TfEdit::Create { beside, .. } => beside,
    };
    let block = index.resource_block(beside)?;
    let path = block.path.to_path_buf();
    let text = texts
        .get(&path)
        .cloned()
        .unwrap_or_else(|| block.text.to_string());
    let (_, ty, name) =
        parts(beside).ok_or_else(|| format!("{beside} is not a resource address"))?;
    let span = resource_span(&text, &ty, &name)
        .ok_or_else(|| format!("resource \"{ty}\" \"{name}\" is no longer in {}", block.rel))?;
    let out = match e {
        TfEdit::Set { path: p, value, .. } => {
            let p: Vec<&str> = p.iter().map(String::as_str).collect();
            hcl::set(&text, span, &p, &Hcl::Lit(value.clone()))
                .map_err(|why| format!("resource \"{ty}\" \"{name}\" in {}: {why}", block.rel))?
        }
        TfEdit::Create {
            ty: new_ty,
            name: new_name,
            attrs,
            ..
        } => {
            if block.taken.contains(&format!("{new_ty}.{new_name}")) {
                return Err(format!(
                    "resource \"{new_ty}\" \"{new_name}\" exists already beside {}",
                    block.rel
                ));
            }
            let body: Vec<(Vec<&str>, Hcl)> = attrs
                .iter()
                .map(|(p, v)| {
                    let v = match v {
                        TfValue::Lit(x) => Hcl::Lit(x.clone()),
                        TfValue::Ref { expr, .. } => Hcl::Expr(expr.clone()),
                    };
                    (p.iter().map(String::as_str).collect(), v)
                })
                .collect();
            hcl::add_block(
                &text,
                span.end,
                &format!("resource \"{new_ty}\" \"{new_name}\""),
                &body,
            )?
        }
    };
    Ok((path, block.rel.to_string(), out))
}

/// How an edit reads for a person: the block, the attribute, the value.
pub fn describe(e: &TfEdit) -> String {
    match e {
        TfEdit::Set {
            address,
            path,
            value,
        } => {
            let v = Hcl::Lit(value.clone())
                .render()
                .unwrap_or_else(|| value.to_string());
            let (attr, blocks) = path
                .split_last()
                .map_or(("", &[][..]), |(a, b)| (a.as_str(), b));
            let inside: String = blocks.iter().map(|b| format!("{b} {{ ")).collect();
            format!("set {inside}{attr} = {v} in {address}")
        }
        TfEdit::Create {
            beside, ty, name, ..
        } => format!("add resource \"{ty}\" \"{name}\" beside {beside}"),
    }
}

/// How the plans are audited.
pub struct Audit<'a> {
    pub plans: &'a [PlanFile],
    pub opts: &'a Options,
    pub rules: &'a RuleSet,
    pub config: &'a Config,
}

fn audit(run: &Audit<'_>, docs: &[Value]) -> Result<(BTreeSet<Key>, usize), String> {
    let plans: Vec<PlanFile> = run
        .plans
        .iter()
        .zip(docs)
        .map(|(p, d)| PlanFile {
            path: p.path.clone(),
            doc: d.clone(),
        })
        .collect();
    let built = crate::template::tfplan::load(&plans, Vec::<Diagnostic>::new(), run.opts)?;
    let mut eval = crate::rules::engine::evaluate(Arc::new(built.snapshot), run.rules, run.config);
    eval.diagnostics.extend(built.diagnostics);
    crate::template::settle(&mut eval.diagnostics);
    let gaps = eval.diagnostics.iter().filter(|d| d.kind.is_gap()).count();
    Ok((eval.findings.iter().map(key).collect(), gaps))
}

/// The verified patches to the `.tf` files for the findings of a plan run.
pub fn patches(
    run: &Audit<'_>,
    index: &TfIndex,
    snapshot: &Snapshot,
    origins: &BTreeMap<String, Origin>,
    findings: &[Finding],
) -> Result<Patches, String> {
    let mut out = Patches::default();
    let mut docs: Vec<Value> = run.plans.iter().map(|p| p.doc.clone()).collect();
    let (mut open, mut gaps) = audit(run, &docs)?;
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut originals: BTreeMap<PathBuf, (String, String)> = BTreeMap::new();
    let mut closed_by: BTreeMap<Key, (String, String)> = BTreeMap::new();
    let mut first = true;
    let remediation = |f: &Finding| remediation(run.rules, f);
    for f in findings {
        let manual = |why: String| Manual::of(f, why);
        let k = key(f);
        let action = f.fix.as_ref().and_then(|x| registry::find(&x.action));
        if !open.contains(&k) {
            out.patched.extend(closed_earlier(f, &closed_by));
            continue;
        }
        let Some(action) = action else {
            out.manual.push(manual(remediation(f)));
            continue;
        };
        let Some(origin) = origins.get(&f.resource_arn) else {
            out.manual.push(manual(format!(
                "{} is not a resource of the plans given. {}",
                f.resource_arn,
                remediation(f)
            )));
            continue;
        };
        let address = origin.written_by();
        let Some(p) = run.plans.iter().position(|p| p.path == origin.file) else {
            out.manual.push(manual(remediation(f)));
            continue;
        };
        let Some(form) = action.terraform_form() else {
            out.manual.push(manual(format!(
                "{} has no Terraform form. {}",
                action.id(),
                remediation(f)
            )));
            continue;
        };
        let taken = index
            .resource_block(address)
            .map(|b| b.taken)
            .unwrap_or_default();
        let cx = TfContext {
            snapshot,
            address,
            plan: &docs[p],
            taken: &taken,
        };
        let edits = match (form.edits)(f, &cx) {
            Ok(e) if !e.is_empty() => e,
            Ok(_) => {
                out.manual.push(manual(remediation(f)));
                continue;
            }
            Err(why) => {
                out.manual
                    .push(manual(format!("{why}. {}", remediation(f))));
                continue;
            }
        };
        let steps = edits.iter().map(describe).collect::<Vec<_>>().join("; ");
        // the blocks changed, as the summary names them
        let mut changed: Vec<String> = edits
            .iter()
            .map(|e| match e {
                TfEdit::Set { address, .. } => config_address(address),
                TfEdit::Create {
                    beside, ty, name, ..
                } => match parts(beside) {
                    Some((m, _, _)) if !m.is_empty() => {
                        format!("{}.{ty}.{name}", config_address(&m))
                    }
                    _ => format!("{ty}.{name}"),
                },
            })
            .collect();
        changed.dedup();
        let changed = changed.join(", ");
        // the text and the plan, edited together
        let mut new_texts = texts.clone();
        let mut new_docs = docs.clone();
        let mut edited: Vec<(PathBuf, String)> = Vec::new();
        let mut refused = None;
        for e in &edits {
            match edit_text(index, &new_texts, e) {
                Ok((path, rel, text)) => {
                    if !originals.contains_key(&path)
                        && let Ok(before) = std::fs::read_to_string(&path)
                    {
                        originals.insert(path.clone(), (rel.clone(), before));
                    }
                    new_texts.insert(path.clone(), text);
                    if !edited.iter().any(|(p, _)| p == &path) {
                        edited.push((path, rel));
                    }
                }
                Err(why) => {
                    refused = Some(why);
                    break;
                }
            }
            if let Err(why) = edit_plan(&mut new_docs[p], e) {
                refused = Some(why);
                break;
            }
        }
        if let Some(why) = refused {
            out.manual.push(manual(format!(
                "{}: {steps}. Not patched: {why}",
                action.id()
            )));
            continue;
        }
        let verdict = verdict(audit(run, &new_docs), &k, &open, gaps, "the changed plan");
        match verdict {
            Ok((after, g)) => {
                let files: Vec<&str> = edited.iter().map(|(_, r)| r.as_str()).collect();
                let file = files.join(", ");
                // alone on the original files: the first change, in one file
                let change = match edited.as_slice() {
                    [(path, rel)] if first => originals
                        .get(path)
                        .zip(new_texts.get(path))
                        .map(|((_, before), after)| FileChange::between(rel, before, after)),
                    _ => None,
                };
                first = false;
                for closed in open.difference(&after) {
                    closed_by.insert(closed.clone(), (file.clone(), changed.clone()));
                }
                open = after;
                gaps = g;
                texts = new_texts;
                docs = new_docs;
                out.patched.push(Patched {
                    rule_id: f.rule_id.clone(),
                    pipeline: f.pipeline.clone(),
                    resource_arn: f.resource_arn.clone(),
                    action: action.id().to_string(),
                    safety: action.safety(),
                    file,
                    logical_id: changed,
                    change,
                });
            }
            Err(why) => out.manual.push(manual(format!(
                "{}: {steps}. Not patched: {why}. {}",
                action.id(),
                remediation(f)
            ))),
        }
    }
    for (path, after) in texts {
        if let Some((rel, before)) = originals.remove(&path)
            && before != after
        {
            out.files.push((path, rel, before, after));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_module_type_and_name() {
        assert_eq!(
            parts("module.ci[\"a\"].aws_kms_key.k[0]"),
            Some(("module.ci[\"a\"]".into(), "aws_kms_key".into(), "k".into()))
        );
        assert_eq!(
            config_address("module.ci[\"a\"].aws_kms_key.k[0]"),
            "module.ci.aws_kms_key.k"
        );
        assert_eq!(parts("aws_kms_key"), None);
    }

    #[test]
    fn plan_values_are_set_in_every_instance_and_made_known() {
        let mut plan = json!({
            "planned_values": {"root_module": {"resources": [
                {"address": "aws_instance.w[0]", "type": "aws_instance", "values": {"metadata_options": []}},
                {"address": "aws_instance.w[1]", "type": "aws_instance", "values": {}}]}},
            "resource_changes": [
                {"address": "aws_instance.w[0]", "change": {"after_unknown": {"metadata_options": true}}}]
        });
        let e = TfEdit::Set {
            address: "aws_instance.w[0]".into(),
            path: vec!["metadata_options".into(), "http_tokens".into()],
            value: json!("required"),
        };
        assert_eq!(edit_plan(&mut plan, &e), Ok(()));
        for i in 0..2 {
            assert_eq!(
                plan.pointer(&format!("/planned_values/root_module/resources/{i}/values/metadata_options/0/http_tokens")),
                Some(&json!("required"))
            );
        }
        assert_eq!(
            plan.pointer("/resource_changes/0/change/after_unknown/metadata_options/0/http_tokens"),
            Some(&json!(false))
        );
        let missing = TfEdit::Set {
            address: "aws_kms_key.k".into(),
            path: vec!["enable_key_rotation".into()],
            value: json!(true),
        };
        assert!(edit_plan(&mut plan, &missing).is_err());
    }

    #[test]
    fn a_created_resource_joins_the_module_of_its_neighbour() {
        let mut plan = json!({
            "planned_values": {"root_module": {"child_modules": [{"address": "module.ci",
                "resources": [{"address": "module.ci.aws_s3_bucket.a", "type": "aws_s3_bucket", "values": {"bucket": "b1"}}]}]}},
            "resource_changes": [],
            "configuration": {"root_module": {"module_calls": {"ci": {"module": {"resources": []}}}}}
        });
        let e = TfEdit::Create {
            beside: "module.ci.aws_s3_bucket.a".into(),
            ty: "aws_s3_bucket_versioning".into(),
            name: "a".into(),
            attrs: vec![
                (
                    vec!["bucket".into()],
                    TfValue::Ref {
                        expr: "aws_s3_bucket.a.id".into(),
                        value: Some(json!("b1")),
                        references: vec!["aws_s3_bucket.a.id".into(), "aws_s3_bucket.a".into()],
                    },
                ),
                (
                    vec!["versioning_configuration".into(), "status".into()],
                    TfValue::Lit(json!("Enabled")),
                ),
            ],
        };
        assert_eq!(edit_plan(&mut plan, &e), Ok(()));
        let r = plan.pointer("/planned_values/root_module/child_modules/0/resources/1");
        assert_eq!(
            r.and_then(|r| r.get("address")),
            Some(&json!("module.ci.aws_s3_bucket_versioning.a"))
        );
        assert_eq!(
            r.and_then(|r| r.pointer("/values/versioning_configuration/0/status")),
            Some(&json!("Enabled"))
        );
        assert_eq!(
            plan.pointer("/configuration/root_module/module_calls/ci/module/resources/0/expressions/bucket/references/0"),
            Some(&json!("aws_s3_bucket.a.id"))
        );
        assert_eq!(
            describe(&e),
            "add resource \"aws_s3_bucket_versioning\" \"a\" beside module.ci.aws_s3_bucket.a"
        );
    }
}
