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

mod plan;
mod shapes;
mod translate;

use translate::translate;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::intrinsics::{Eval, Fail};
use super::{Builder, Built, Error, FileError, Options, Source, note, scope_error, stack_name_of};
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

/// Reads, checks and parses a plan file.
fn read_plan(path: &Path) -> Result<Value, FileError> {
    let meta = std::fs::metadata(path).map_err(FileError::Io)?;
    if !meta.is_file() {
        return Err(FileError::NotFile);
    }
    if meta.len() > MAX_PLAN_BYTES {
        return Err(FileError::PlanTooLarge { len: meta.len() });
    }
    let text = std::fs::read_to_string(path).map_err(FileError::Io)?;
    parse_plan(&text)
}

/// Parses the text of `terraform show -json PLAN` and checks its format
/// version (1.x).
pub fn parse_plan(text: &str) -> Result<Value, FileError> {
    let doc: Value = serde_json::from_str(text).map_err(FileError::Json)?;
    let Some(version) = doc.get("format_version") else {
        return Err(FileError::NoFormatVersion);
    };
    let version = version.as_str().unwrap_or("");
    let major = version.split('.').next().unwrap_or("");
    if major != "1" || version.split('.').count() < 2 {
        let shown: String = version.chars().take(32).collect();
        return Err(FileError::FormatVersion(shown));
    }
    if doc.get("planned_values").is_none() {
        return Err(FileError::State);
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
pub fn read(paths: &[PathBuf]) -> Result<(Vec<PlanFile>, Vec<Diagnostic>), Error> {
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
            Err(source) if named => return Err(Error::UnreadablePlan { path, source }),
            Err(why) => diagnostics.push(scope_error(format!(
                "plan {} not audited: {why}",
                path.display()
            ))),
        }
    }
    if plans.is_empty() {
        return Err(Error::NoPlan);
    }
    Ok((plans, diagnostics))
}

/// Builds the snapshot from plans read by [`read`].
pub fn load(
    plans: &[PlanFile],
    diagnostics: Vec<Diagnostic>,
    opts: &Options,
) -> Result<Built, Error> {
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
            .map_err(|source| Error::InvalidPlan {
                path: s.path.clone(),
                source,
            })?;
    }
    let mut built = b.finish();
    // resources of a plan belong to no CloudFormation stack
    built.snapshot.stacks.clear();
    Ok(built)
}

#[cfg(test)]
mod tests;
