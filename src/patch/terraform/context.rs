//! What a Terraform form asks of the plan about the finding's resource.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::plan::{
    config_address, config_module, config_modules, parts, planned, references_in, strip_key,
};
use super::{TfContext, TfEdit, TfValue};

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
