//! The plan side of a Terraform patch: addresses, the planned resources
//! and their configuration, and the same change made as planned values.

use serde_json::{Map, Value, json};

use super::{TfEdit, TfValue};
use crate::template::tfplan::split_dots;

/// The parts of an address: module instance (`module.a["x"]`, empty at the
/// root), type and name (without instance key).
pub(super) fn parts(address: &str) -> Option<(String, String, String)> {
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

pub(super) fn strip_key(s: &str) -> &str {
    s.split('[').next().unwrap_or(s)
}

/// An address without instance keys, module ones included.
pub(super) fn config_address(address: &str) -> String {
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

pub(super) fn planned<'v>(module: &'v Value, out: &mut Vec<&'v Value>, depth: usize) {
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

/// Every reference string under a configuration expression tree.
pub(super) fn references_in(v: &Value, out: &mut Vec<String>) {
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
pub(super) fn config_modules<'v>(
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

/// The configuration module of a module instance address.
pub(super) fn config_module<'v>(plan: &'v Value, module: &str) -> Option<&'v Value> {
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
pub(super) fn edit_plan(plan: &mut Value, e: &TfEdit) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::terraform::describe;

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
