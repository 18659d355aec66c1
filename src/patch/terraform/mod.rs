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

mod context;
mod plan;

pub use context::bucket_setting;
use plan::{config_address, edit_plan, parts};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::hcl::{self, Hcl};
use super::verify::{Key, Manual, Patched, Patches, closed_earlier, key, remediation, verdict};
use crate::findings::{Diagnostic, FileChange, Finding};
use crate::iac::terraform::{TfIndex, resource_span};
use crate::model::Snapshot;
use crate::remediate::registry;
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::template::tfplan::PlanFile;
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
    let block = index.resource_block(beside).map_err(|e| e.to_string())?;
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

fn audit(run: &Audit<'_>, docs: &[Value]) -> Result<(BTreeSet<Key>, usize), super::Error> {
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
) -> Result<Patches, super::Error> {
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
