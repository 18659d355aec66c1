//! CloudFormation intrinsic functions, evaluated over one template:
//! `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`,
//! `Fn::If` (with the `Conditions` section and `Fn::Equals`, `Fn::And`,
//! `Fn::Or`, `Fn::Not`, `Condition`), `Fn::FindInMap`, `Fn::GetAZs`,
//! `Fn::Base64`, `Fn::ImportValue` and the pseudo parameters.
//!
//! A value the templates do not determine (a parameter without a value, an
//! import nobody exports, an attribute known only once deployed, an
//! intrinsic not supported) is [`Fail::Unresolved`]: the model keeps it
//! unknown. A template CloudFormation itself would reject (a circular
//! reference, a reference to a logical id it does not define, a malformed
//! intrinsic) is [`Fail::Invalid`].

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::names::{self, Identity};

/// Why a value could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail {
    /// The templates do not determine it.
    Unresolved(String),
    /// The template is not valid.
    Invalid(String),
}

pub type Eval<T> = Result<T, Fail>;

fn unresolved<T>(why: impl Into<String>) -> Eval<T> {
    Err(Fail::Unresolved(why.into()))
}

fn invalid<T>(why: impl Into<String>) -> Eval<T> {
    Err(Fail::Invalid(why.into()))
}

/// How deep intrinsics may nest before the template is refused.
const MAX_DEPTH: usize = 64;

/// One resource of a template as written.
#[derive(Debug, Clone)]
pub struct RawResource {
    pub resource_type: String,
    pub properties: Map<String, Value>,
    pub condition: Option<String>,
}

/// An export of another template: its value, or why it is not known.
pub type Exports = BTreeMap<String, Eval<Value>>;

/// What a template's intrinsics are evaluated against.
pub struct Scope<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub partition: &'a str,
    pub stack_name: &'a str,
    pub parameters: BTreeMap<String, Eval<Value>>,
    pub mappings: Map<String, Value>,
    pub conditions: Map<String, Value>,
    pub resources: BTreeMap<String, RawResource>,
    pub exports: &'a Exports,
    /// Outputs of nested stacks by logical id of the stack resource.
    pub nested_outputs: BTreeMap<String, BTreeMap<String, Eval<Value>>>,
    identities: RefCell<BTreeMap<String, Eval<Identity>>>,
    visiting: RefCell<Vec<String>>,
    condition_values: RefCell<BTreeMap<String, Eval<bool>>>,
    conditions_visiting: RefCell<BTreeSet<String>>,
}

impl<'a> Scope<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        account: &'a str,
        region: &'a str,
        partition: &'a str,
        stack_name: &'a str,
        parameters: BTreeMap<String, Eval<Value>>,
        template: &Value,
        resources: BTreeMap<String, RawResource>,
        exports: &'a Exports,
    ) -> Self {
        let section = |k: &str| {
            template
                .get(k)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        Scope {
            account,
            region,
            partition,
            stack_name,
            parameters,
            mappings: section("Mappings"),
            conditions: section("Conditions"),
            resources,
            exports,
            nested_outputs: BTreeMap::new(),
            identities: RefCell::new(BTreeMap::new()),
            visiting: RefCell::new(Vec::new()),
            condition_values: RefCell::new(BTreeMap::new()),
            conditions_visiting: RefCell::new(BTreeSet::new()),
        }
    }

    /// The stack's ARN (a deterministic placeholder id).
    pub fn stack_id(&self) -> String {
        format!(
            "arn:{}:cloudformation:{}:{}:stack/{}/{}",
            self.partition,
            self.region,
            self.account,
            self.stack_name,
            names::uuid_like(&format!("stack/{}", self.stack_name))
        )
    }

    /// Whether a resource is created: its `Condition`, when it has one.
    pub fn created(&self, logical_id: &str) -> Eval<bool> {
        match self
            .resources
            .get(logical_id)
            .and_then(|r| r.condition.clone())
        {
            Some(c) => self.condition(&c),
            None => Ok(true),
        }
    }

    /// The value of a named condition.
    pub fn condition(&self, name: &str) -> Eval<bool> {
        if let Some(v) = self.condition_values.borrow().get(name) {
            return v.clone();
        }
        let Some(expr) = self.conditions.get(name).cloned() else {
            return invalid(format!("condition {name} is not defined in Conditions"));
        };
        if !self
            .conditions_visiting
            .borrow_mut()
            .insert(name.to_string())
        {
            return invalid(format!("circular condition {name}"));
        }
        let v = self.truth(&expr, 0);
        self.conditions_visiting.borrow_mut().remove(name);
        self.condition_values
            .borrow_mut()
            .insert(name.to_string(), v.clone());
        v
    }

    /// A condition expression's value.
    fn truth(&self, v: &Value, depth: usize) -> Eval<bool> {
        if depth > MAX_DEPTH {
            return invalid("conditions nest too deep");
        }
        if let Some((k, arg)) = single(v) {
            match k {
                "Condition" => {
                    let Some(name) = arg.as_str() else {
                        return invalid("Condition takes a condition name");
                    };
                    return self.condition(name);
                }
                "Fn::Equals" => {
                    let args = list(arg, 2, k)?;
                    let a = self.eval(&args[0], depth + 1)?;
                    let b = self.eval(&args[1], depth + 1)?;
                    return Ok(scalar_text(a.as_ref()) == scalar_text(b.as_ref()));
                }
                "Fn::Not" => {
                    let args = list(arg, 1, k)?;
                    return Ok(!self.truth(&args[0], depth + 1)?);
                }
                "Fn::And" | "Fn::Or" => {
                    let Some(items) = arg.as_array() else {
                        return invalid(format!("{k} takes a list of conditions"));
                    };
                    let mut unknown = None;
                    for item in items {
                        match self.truth(item, depth + 1) {
                            Ok(b) if (k == "Fn::And") != b => return Ok(b),
                            Ok(_) => {}
                            Err(Fail::Unresolved(w)) => unknown = Some(w),
                            Err(e) => return Err(e),
                        }
                    }
                    return match unknown {
                        Some(w) => unresolved(w),
                        None => Ok(k == "Fn::And"),
                    };
                }
                _ => {}
            }
        }
        match self.eval(v, depth + 1)? {
            Some(Value::Bool(b)) => Ok(b),
            Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
            _ => invalid("a condition must be a boolean"),
        }
    }

    /// The identity (names, ARN, `Ref` and attributes) of a resource.
    pub fn identity(&self, logical_id: &str) -> Eval<Identity> {
        if let Some(v) = self.identities.borrow().get(logical_id) {
            return v.clone();
        }
        let Some(r) = self.resources.get(logical_id) else {
            return invalid(format!(
                "unresolved reference: {logical_id} is not a parameter, resource or pseudo parameter of the template"
            ));
        };
        if self.visiting.borrow().iter().any(|v| v == logical_id) {
            let mut path = self.visiting.borrow().clone();
            path.push(logical_id.to_string());
            return invalid(format!("circular reference: {}", path.join(" -> ")));
        }
        self.visiting.borrow_mut().push(logical_id.to_string());
        let result = names::identity(self, logical_id, r);
        self.visiting.borrow_mut().pop();
        self.identities
            .borrow_mut()
            .insert(logical_id.to_string(), result.clone());
        result
    }

    fn pseudo(&self, name: &str) -> Option<Eval<Value>> {
        let s = |x: String| Some(Ok(Value::String(x)));
        match name {
            "AWS::AccountId" => s(self.account.to_string()),
            "AWS::Region" => s(self.region.to_string()),
            "AWS::Partition" => s(self.partition.to_string()),
            "AWS::StackName" => s(self.stack_name.to_string()),
            "AWS::StackId" => s(self.stack_id()),
            "AWS::URLSuffix" => s("amazonaws.com".to_string()),
            "AWS::NotificationARNs" => Some(Ok(Value::Array(Vec::new()))),
            "AWS::NoValue" => Some(Ok(Value::Null)),
            _ => None,
        }
    }

    fn reference(&self, name: &str) -> Eval<Option<Value>> {
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(v) = self.pseudo(name) {
            return v.map(Some);
        }
        if let Some(p) = self.parameters.get(name) {
            return p.clone().map(Some);
        }
        if !self.resources.contains_key(name) {
            return invalid(format!(
                "unresolved reference: {name} is not a parameter, resource or pseudo parameter of the template"
            ));
        }
        if !self.created(name)? {
            return unresolved(format!(
                "Ref {name}: the resource is not created (its condition is false)"
            ));
        }
        let id = self.identity(name)?;
        match id.ref_value {
            Some(v) => Ok(Some(Value::String(v))),
            None => unresolved(format!(
                "Ref {name} ({}): its value is known only once deployed",
                self.resources
                    .get(name)
                    .map(|r| r.resource_type.as_str())
                    .unwrap_or("")
            )),
        }
    }

    fn get_att(&self, logical_id: &str, attr: &str) -> Eval<Value> {
        if !self.resources.contains_key(logical_id) {
            return invalid(format!(
                "Fn::GetAtt {logical_id}.{attr}: {logical_id} is not a resource of the template"
            ));
        }
        if let Some(output) = attr.strip_prefix("Outputs.")
            && let Some(outs) = self.nested_outputs.get(logical_id)
        {
            return match outs.get(output) {
                Some(v) => v.clone(),
                None => invalid(format!(
                    "Fn::GetAtt {logical_id}.{attr}: the nested stack has no output {output}"
                )),
            };
        }
        if !self.created(logical_id)? {
            return unresolved(format!(
                "Fn::GetAtt {logical_id}.{attr}: the resource is not created (its condition is false)"
            ));
        }
        let id = self.identity(logical_id)?;
        match id.attributes.get(attr) {
            Some(v) => Ok(Value::String(v.clone())),
            None => unresolved(format!(
                "Fn::GetAtt {logical_id}.{attr} ({}): known only once deployed",
                self.resources
                    .get(logical_id)
                    .map(|r| r.resource_type.as_str())
                    .unwrap_or("")
            )),
        }
    }

    /// Evaluates a value: `None` for `AWS::NoValue` (the property or list
    /// item is left out).
    pub fn eval(&self, v: &Value, depth: usize) -> Eval<Option<Value>> {
        if depth > MAX_DEPTH {
            return invalid(format!("intrinsic functions nest deeper than {MAX_DEPTH}"));
        }
        match v {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(x) = self.eval(item, depth + 1)? {
                        out.push(x);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(m) => {
                if let Some((k, arg)) = single(v)
                    && (k == "Ref" || k.starts_with("Fn::"))
                {
                    return self.function(k, arg, depth);
                }
                let mut out = Map::new();
                for (k, x) in m {
                    if let Some(x) = self.eval(x, depth + 1)? {
                        out.insert(k.clone(), x);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    /// Evaluates a value that must be present.
    pub fn value(&self, v: &Value) -> Eval<Value> {
        Ok(self.eval(v, 0)?.unwrap_or(Value::Null))
    }

    fn string(&self, v: &Value, depth: usize, what: &str) -> Eval<String> {
        match self.eval(v, depth + 1)? {
            Some(x) => scalar_text(Some(&x))
                .ok_or_else(|| Fail::Invalid(format!("{what} takes a string, not a list or map"))),
            None => invalid(format!("{what} takes a string, not AWS::NoValue")),
        }
    }

    fn function(&self, k: &str, arg: &Value, depth: usize) -> Eval<Option<Value>> {
        let d = depth + 1;
        let s = |x: String| Ok(Some(Value::String(x)));
        match k {
            "Ref" => {
                let Some(name) = arg.as_str() else {
                    return invalid("Ref takes a name");
                };
                self.reference(name)
            }
            "Fn::GetAtt" => {
                let (id, attr) = match arg {
                    Value::String(t) => match t.split_once('.') {
                        Some((a, b)) => (a.to_string(), b.to_string()),
                        None => {
                            return invalid(format!(
                                "Fn::GetAtt {t}: expected LogicalId.Attribute"
                            ));
                        }
                    },
                    Value::Array(a) if a.len() == 2 => {
                        let id = a[0]
                            .as_str()
                            .ok_or_else(|| Fail::Invalid("Fn::GetAtt takes a logical id".into()))?;
                        (id.to_string(), self.string(&a[1], d, "Fn::GetAtt")?)
                    }
                    _ => return invalid("Fn::GetAtt takes [LogicalId, Attribute]"),
                };
                self.get_att(&id, &attr).map(Some)
            }
            "Fn::Sub" => {
                let (text, vars) = match arg {
                    Value::String(t) => (t.clone(), Map::new()),
                    Value::Array(a) if a.len() == 2 => {
                        let t = a[0]
                            .as_str()
                            .ok_or_else(|| Fail::Invalid("Fn::Sub takes a string".into()))?;
                        let vars = a[1].as_object().cloned().ok_or_else(|| {
                            Fail::Invalid("Fn::Sub takes a map of variables".into())
                        })?;
                        (t.to_string(), vars)
                    }
                    _ => return invalid("Fn::Sub takes a string or [string, variables]"),
                };
                self.sub(&text, &vars, d).and_then(s)
            }
            "Fn::Join" => {
                let args = list(arg, 2, k)?;
                let sep = self.string(&args[0], d, k)?;
                let items = match self.eval(&args[1], d)? {
                    Some(Value::Array(a)) => a,
                    _ => return invalid("Fn::Join takes a list"),
                };
                let parts: Option<Vec<String>> =
                    items.iter().map(|x| scalar_text(Some(x))).collect();
                match parts {
                    Some(p) => s(p.join(&sep)),
                    None => invalid("Fn::Join joins strings"),
                }
            }
            "Fn::Select" => {
                let args = list(arg, 2, k)?;
                let index = self.string(&args[0], d, k)?;
                let Ok(index) = index.trim().parse::<usize>() else {
                    return invalid("Fn::Select takes a number as its index");
                };
                match self.eval(&args[1], d)? {
                    Some(Value::Array(a)) => match a.get(index) {
                        Some(x) => Ok(Some(x.clone())),
                        None => invalid(format!(
                            "Fn::Select index {index} is out of a list of {}",
                            a.len()
                        )),
                    },
                    _ => invalid("Fn::Select takes a list"),
                }
            }
            "Fn::Split" => {
                let args = list(arg, 2, k)?;
                let sep = self.string(&args[0], d, k)?;
                let text = self.string(&args[1], d, k)?;
                if sep.is_empty() {
                    return invalid("Fn::Split takes a delimiter");
                }
                Ok(Some(Value::Array(
                    text.split(sep.as_str())
                        .map(|x| Value::String(x.to_string()))
                        .collect(),
                )))
            }
            "Fn::If" => {
                let args = list(arg, 3, k)?;
                let Some(name) = args[0].as_str() else {
                    return invalid("Fn::If takes a condition name");
                };
                if self.condition(name)? {
                    self.eval(&args[1], d)
                } else {
                    self.eval(&args[2], d)
                }
            }
            "Fn::FindInMap" => {
                let args = match arg.as_array() {
                    Some(a) if a.len() == 3 || a.len() == 4 => a,
                    _ => return invalid("Fn::FindInMap takes [map, top key, second key]"),
                };
                let map = self.string(&args[0], d, k)?;
                let top = self.string(&args[1], d, k)?;
                let second = self.string(&args[2], d, k)?;
                match self
                    .mappings
                    .get(&map)
                    .and_then(|m| m.get(&top))
                    .and_then(|m| m.get(&second))
                {
                    Some(v) => self.eval(v, d),
                    None => invalid(format!(
                        "Fn::FindInMap: {map}.{top}.{second} is not in Mappings"
                    )),
                }
            }
            "Fn::GetAZs" => {
                let region = self.string(arg, d, k)?;
                let region = if region.is_empty() {
                    self.region.to_string()
                } else {
                    region
                };
                Ok(Some(Value::Array(
                    ["a", "b", "c"]
                        .iter()
                        .map(|z| Value::String(format!("{region}{z}")))
                        .collect(),
                )))
            }
            "Fn::Base64" => {
                use base64::Engine;
                let text = self.string(arg, d, k)?;
                s(base64::engine::general_purpose::STANDARD.encode(text))
            }
            "Fn::ImportValue" => {
                let name = self.string(arg, d, k)?;
                match self.exports.get(&name) {
                    Some(v) => v.clone().map(Some),
                    None => unresolved(format!(
                        "Fn::ImportValue {name}: no template given exports it"
                    )),
                }
            }
            other => unresolved(format!("intrinsic function {other} is not supported")),
        }
    }

    fn sub(&self, text: &str, vars: &Map<String, Value>, depth: usize) -> Eval<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                return invalid("Fn::Sub: a ${ is not closed");
            };
            let name = &after[..end];
            rest = &after[end + 1..];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
                continue;
            }
            let name = name.trim();
            let value = if let Some(v) = vars.get(name) {
                self.string(v, depth, "Fn::Sub")?
            } else if let Some((id, attr)) = name
                .split_once('.')
                .filter(|(id, _)| self.resources.contains_key(*id))
            {
                let v = self.get_att(id, attr)?;
                scalar_text(Some(&v)).unwrap_or_default()
            } else {
                match self.reference(name)? {
                    Some(v) => scalar_text(Some(&v)).ok_or_else(|| {
                        Fail::Invalid(format!("Fn::Sub: ${{{name}}} is not a string"))
                    })?,
                    None => String::new(),
                }
            };
            out.push_str(&value);
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// The one key and value of a single-key object.
pub fn single(v: &Value) -> Option<(&str, &Value)> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    m.iter().next().map(|(k, v)| (k.as_str(), v))
}

fn list<'v>(arg: &'v Value, n: usize, what: &str) -> Eval<&'v [Value]> {
    match arg.as_array() {
        Some(a) if a.len() == n => Ok(a.as_slice()),
        _ => invalid(format!("{what} takes a list of {n}")),
    }
}

/// A scalar as CloudFormation turns it into a string.
pub fn scalar_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
