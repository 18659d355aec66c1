//! Patches for a live audit (`--remediate --iac DIR --fix-patch FILE`):
//! the findings on resources a CloudFormation stack manages, located in
//! the templates under `--iac`, become changes to those templates.
//!
//! The templates are audited in template mode (each as the stack that
//! manages the live resource, in the live account and region), and a live
//! finding is matched with the template finding of the same rule on the
//! same logical id. The matched template findings are patched and verified
//! as template mode does ([`super::verify`]). A live finding the template
//! does not show (the stack has drifted from it, its parameters differ, or
//! the template alone does not wire the resource to a pipeline) cannot be
//! verified and becomes a manual step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::verify::{self, Manual, Patched, Patches};
use crate::findings::Finding;
use crate::rules::RuleSet;
use crate::rules::config::Config;

/// A live finding on a stack-managed resource and where its template is.
pub struct Located<'a> {
    pub finding: &'a Finding,
    /// The template file (as found under `--iac`).
    pub file: PathBuf,
    /// The file as the patch names it (relative to `--iac-root`).
    pub rel: String,
    pub stack: String,
    pub logical_id: String,
}

fn manual(f: &Finding, why: String) -> Manual {
    Manual {
        rule_id: f.rule_id.clone(),
        pipeline: f.pipeline.clone(),
        resource_arn: f.resource_arn.clone(),
        why,
    }
}

/// The verified patches for the located live findings of `account`.
pub fn patches(
    located: &[Located<'_>],
    account: &str,
    rules: &RuleSet,
    config: &Config,
) -> Result<Patches, super::Error> {
    let mut out = Patches::default();
    // one template-mode run per region; a template is one stack in it
    let mut by_region: BTreeMap<&str, Vec<&Located<'_>>> = BTreeMap::new();
    for l in located {
        by_region
            .entry(l.finding.region.as_str())
            .or_default()
            .push(l);
    }
    let mut patched_files: BTreeSet<PathBuf> = BTreeSet::new();
    for (region, located) in by_region {
        let mut stack_of: BTreeMap<&Path, &str> = BTreeMap::new();
        let mut todo: Vec<&Located<'_>> = Vec::new();
        for l in located {
            match stack_of.get(l.file.as_path()) {
                Some(s) if *s != l.stack => out.manual.push(manual(
                    l.finding,
                    format!(
                        "{} is also the template of stack {s}; patch it once, for one stack, with --template {} --stack-name {}={}",
                        l.rel, l.rel, l.rel, l.stack
                    ),
                )),
                _ if patched_files.contains(&l.file) => out.manual.push(manual(
                    l.finding,
                    format!(
                        "{} is patched for another region already; patch it for {region} after applying that patch",
                        l.rel
                    ),
                )),
                _ => {
                    stack_of.insert(l.file.as_path(), l.stack.as_str());
                    todo.push(l);
                }
            }
        }
        if todo.is_empty() {
            continue;
        }
        let files: Vec<PathBuf> = stack_of.keys().map(|p| p.to_path_buf()).collect();
        let opts = crate::template::Options {
            account: account.to_string(),
            region: region.to_string(),
            partition: crate::collect::targets::partition_of(region).to_string(),
            stack_names: stack_of
                .iter()
                .map(|(f, s)| (f.to_path_buf(), s.to_string()))
                .collect(),
            ..Default::default()
        };
        let built = crate::template::load(&files, &opts)?;
        let snapshot = Arc::new(built.snapshot);
        let eval = crate::rules::engine::evaluate(snapshot.clone(), rules, config);
        // the template finding of each live one: same rule, same logical id, same file
        // the templates' files as the run named them, each resolved once
        let canonical: BTreeMap<&Path, PathBuf> = built
            .origins
            .values()
            .map(|o| o.file.as_path())
            .chain(files.iter().map(PathBuf::as_path))
            .map(|f| {
                (
                    f,
                    std::fs::canonicalize(f).unwrap_or_else(|_| f.to_path_buf()),
                )
            })
            .collect();
        let same = |a: &Path, b: &Path| {
            a == b || matches!((canonical.get(a), canonical.get(b)), (Some(x), Some(y)) if x == y)
        };
        let mut matched: Vec<Finding> = Vec::new();
        // template ARN -> the live findings it stands for
        let mut live_of: BTreeMap<(String, String), Vec<&Finding>> = BTreeMap::new();
        let mut rel_of: BTreeMap<PathBuf, String> = BTreeMap::new();
        for l in todo {
            rel_of.insert(l.file.clone(), l.rel.clone());
            let t = eval.findings.iter().find(|t| {
                t.rule_id == l.finding.rule_id
                    && built
                        .origins
                        .get(&t.resource_arn)
                        .is_some_and(|o| o.logical_id == l.logical_id && same(&o.file, &l.file))
            });
            match t {
                Some(t) => {
                    let k = (t.rule_id.clone(), t.resource_arn.clone());
                    if !live_of.contains_key(&k) {
                        matched.push(t.clone());
                    }
                    live_of.entry(k).or_default().push(l.finding);
                }
                None => out.manual.push(manual(
                    l.finding,
                    format!(
                        "{} ({} of stack {}) does not have this finding when audited as a template: the stack differs from it (drift, or other parameters), or the template alone does not wire it to a pipeline; the change cannot be verified, so it is not in the patch",
                        l.rel, l.logical_id, l.stack
                    ),
                )),
            }
        }
        if matched.is_empty() {
            continue;
        }
        let run = verify::Audit {
            templates: &files,
            opts: &opts,
            rules,
            config,
        };
        let p = verify::patches(&run, &snapshot, &built.origins, &matched, |f| {
            rel_of
                .get(f)
                .cloned()
                .unwrap_or_else(|| f.to_string_lossy().into_owned())
        })?;
        // the template findings' outcomes, told of the live findings
        for x in p.patched {
            for live in live_of
                .get(&(x.rule_id.clone(), x.resource_arn.clone()))
                .into_iter()
                .flatten()
            {
                out.patched.push(Patched {
                    pipeline: live.pipeline.clone(),
                    resource_arn: live.resource_arn.clone(),
                    ..x.clone()
                });
            }
        }
        for m in p.manual {
            for live in live_of
                .get(&(m.rule_id.clone(), m.resource_arn.clone()))
                .into_iter()
                .flatten()
            {
                out.manual.push(manual(live, m.why.clone()));
            }
        }
        for file in p.files {
            patched_files.insert(file.0.clone());
            out.files.push(file);
        }
    }
    Ok(out)
}
