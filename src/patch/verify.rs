//! Verified patches for template mode: each finding whose fix action has a
//! template form gets its edits applied to the template text in memory,
//! and the templates are audited again with the patched text. The edit is
//! kept only when that finding is gone and no finding or gap is new;
//! otherwise the finding becomes a manual step. Findings are taken in
//! order, each on the text the ones before it left.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::findings::{FileChange, Finding, FixSafety};
use crate::model::Snapshot;
use crate::remediate::registry::{self, TemplateContext};
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::template::{Options, Origin};

/// A finding the patch closes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patched {
    pub rule_id: String,
    pub pipeline: String,
    pub resource_arn: String,
    pub action: String,
    pub safety: FixSafety,
    /// The template changed, as the diff names it.
    pub file: String,
    /// The logical ids of the resources changed.
    pub logical_id: String,
    /// The finding's own change to the original template, when it closes
    /// the finding on its own too (audited again alone): SARIF `fixes`.
    /// `None` for a finding closed by another's change.
    #[serde(skip)]
    pub change: Option<FileChange>,
}

/// A finding the patch leaves to a person, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manual {
    pub rule_id: String,
    pub pipeline: String,
    pub resource_arn: String,
    pub why: String,
}

/// The outcome: the texts before and after by file, what is patched and
/// what is left.
#[derive(Debug, Default)]
pub struct Patches {
    /// (path as given, path the diff names, original text, patched text).
    pub files: Vec<(PathBuf, String, String, String)>,
    pub patched: Vec<Patched>,
    pub manual: Vec<Manual>,
}

impl Patches {
    /// Gives each finding closed by its own change that change (SARIF
    /// `fixes`, the JSON report's `fix.changes`).
    pub fn attach_changes(&self, findings: &mut [Finding]) {
        for x in &self.patched {
            let Some(change) = &x.change else { continue };
            for f in findings.iter_mut().filter(|f| {
                f.rule_id == x.rule_id
                    && f.resource_arn == x.resource_arn
                    && f.pipeline == x.pipeline
            }) {
                if let Some(fix) = &mut f.fix {
                    fix.changes = vec![change.clone()];
                }
            }
        }
    }

    /// The unified diff of every changed template, in the order of their
    /// names.
    pub fn diff(&self) -> String {
        let mut files: Vec<&(PathBuf, String, String, String)> = self.files.iter().collect();
        files.sort_by(|a, b| a.1.cmp(&b.1));
        files
            .iter()
            .map(|(_, rel, before, after)| super::unified_diff(rel, before, after))
            .collect()
    }
}

/// A finding as the verification compares runs: rule, resource, pipeline.
pub(super) type Key = (String, String, String);

pub(super) fn key(f: &Finding) -> Key {
    (
        f.rule_id.clone(),
        f.resource_arn.clone(),
        f.pipeline_arn.clone(),
    )
}

impl Manual {
    pub(super) fn of(f: &Finding, why: String) -> Manual {
        Manual {
            rule_id: f.rule_id.clone(),
            pipeline: f.pipeline.clone(),
            resource_arn: f.resource_arn.clone(),
            why,
        }
    }
}

/// The rule's remediation text, for a manual step.
pub(super) fn remediation(rules: &RuleSet, f: &Finding) -> String {
    rules
        .get(&f.rule_id)
        .map(|r| r.file.docs.remediation.trim().to_string())
        .unwrap_or_default()
}

/// A finding an earlier change closed, told as patched by that change
/// (`closed_by`: the file and the resources it changed, by finding).
pub(super) fn closed_earlier(
    f: &Finding,
    closed_by: &BTreeMap<Key, (String, String)>,
) -> Option<Patched> {
    let action = f.fix.as_ref().and_then(|x| registry::find(&x.action))?;
    let (file, changed) = closed_by.get(&key(f))?;
    Some(Patched {
        rule_id: f.rule_id.clone(),
        pipeline: f.pipeline.clone(),
        resource_arn: f.resource_arn.clone(),
        action: action.id().to_string(),
        safety: action.safety(),
        file: file.clone(),
        logical_id: changed.clone(),
        change: None,
    })
}

/// Whether the audit after a change (`after`: its findings and gaps, or
/// why it did not load) keeps it: finding `k` gone, none new against
/// `open`, no more gaps than `gaps`. `what` names what was audited ("the
/// patched template").
pub(super) fn verdict(
    after: Result<(BTreeSet<Key>, usize), super::Error>,
    k: &Key,
    open: &BTreeSet<Key>,
    gaps: usize,
    what: &str,
) -> Result<(BTreeSet<Key>, usize), String> {
    match after {
        Err(e) => Err(format!("{what} does not load: {e}")),
        Ok((after, _)) if after.contains(k) => Err(format!("{what} still has the finding")),
        Ok((after, _)) if !after.is_subset(open) => {
            let new: BTreeSet<String> = after.difference(open).map(|k| k.0.clone()).collect();
            Err(format!(
                "{what} raises {}",
                new.into_iter().collect::<Vec<_>>().join(", ")
            ))
        }
        Ok((_, g)) if g > gaps => Err(format!("{what} leaves more checks unmade")),
        Ok(state) => Ok(state),
    }
}

/// How the templates are audited: the paths given, the options, rules and
/// configuration of the run.
pub struct Audit<'a> {
    pub templates: &'a [PathBuf],
    pub opts: &'a Options,
    pub rules: &'a RuleSet,
    pub config: &'a Config,
}

/// What an audit of the templates found: the findings and the number of
/// checks that could not be made.
fn audit(run: &Audit<'_>, opts: &Options) -> Result<(BTreeSet<Key>, usize), super::Error> {
    let built = crate::template::load(run.templates, opts)?;
    let mut eval = crate::rules::engine::evaluate(Arc::new(built.snapshot), run.rules, run.config);
    eval.diagnostics.extend(built.diagnostics);
    crate::template::settle(&mut eval.diagnostics);
    let gaps = eval.diagnostics.iter().filter(|d| d.kind.is_gap()).count();
    Ok((eval.findings.iter().map(key).collect(), gaps))
}

/// The finding's edits applied to the original template alone, when
/// that closes the finding with no new finding and no new gap: the
/// patched text, else `None`.
fn alone(
    run: &Audit<'_>,
    file: &Path,
    original: &str,
    edits: &[super::Edit],
    finding: &Key,
    open: &BTreeSet<Key>,
    gaps: usize,
) -> Option<String> {
    let patched = super::apply(original, edits).ok()?;
    if patched == original {
        return None;
    }
    let mut opts = run.opts.clone();
    opts.texts.insert(file.to_path_buf(), patched.clone());
    match audit(run, &opts) {
        Ok((after, g)) if !after.contains(finding) && after.is_subset(open) && g <= gaps => {
            Some(patched)
        }
        _ => None,
    }
}

/// Builds the verified patches for the findings of template mode.
/// `rel` names a template file as the diff does.
pub fn patches(
    run: &Audit<'_>,
    snapshot: &Snapshot,
    origins: &BTreeMap<String, Origin>,
    findings: &[Finding],
    rel: impl Fn(&Path) -> String,
) -> Result<Patches, super::Error> {
    let mut out = Patches::default();
    let (mut open, mut gaps) = audit(run, run.opts)?;
    let (open_before, gaps_before) = (open.clone(), gaps);
    let rules = run.rules;
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut originals: BTreeMap<PathBuf, String> = BTreeMap::new();
    let remediation = |f: &Finding| remediation(rules, f);
    // which patch closed a finding, by key
    let mut closed_by: BTreeMap<Key, (String, String)> = BTreeMap::new();
    for f in findings {
        let manual = |why: String| Manual::of(f, why);
        let k = key(f);
        let action = f.fix.as_ref().and_then(|x| registry::find(&x.action));
        if !open.contains(&k) {
            // closed by the change made for an earlier finding
            out.patched.extend(closed_earlier(f, &closed_by));
            continue;
        }
        let Some(action) = action else {
            out.manual.push(manual(remediation(f)));
            continue;
        };
        let Some(origin) = origins.get(&f.resource_arn) else {
            out.manual.push(manual(format!(
                "{} is not defined in the templates given. {}",
                f.resource_arn,
                remediation(f)
            )));
            continue;
        };
        let text = match texts.get(&origin.file) {
            Some(t) => t.clone(),
            None => {
                let t =
                    std::fs::read_to_string(&origin.file).map_err(|source| super::Error::Read {
                        path: origin.file.clone(),
                        source,
                    })?;
                originals.insert(origin.file.clone(), t.clone());
                texts.insert(origin.file.clone(), t.clone());
                t
            }
        };
        let doc: Value = match crate::iac::template::parse_or_why(&text) {
            Ok((doc, _)) => doc,
            Err(why) => {
                out.manual.push(manual(why.to_string()));
                continue;
            }
        };
        let logical_ids: BTreeMap<String, String> = origins
            .iter()
            .filter(|(_, o)| o.file == origin.file && o.stack == origin.stack)
            .map(|(arn, o)| (arn.clone(), o.logical_id.clone()))
            .collect();
        let cx = TemplateContext {
            snapshot,
            doc: &doc,
            logical_id: &origin.logical_id,
            logical_ids: &logical_ids,
            config: run.config,
        };
        let edits = match action.template_form().map(|t| (t.edits)(f, &cx)) {
            None => {
                out.manual.push(manual(format!(
                    "{} has no template form. {}",
                    action.id(),
                    remediation(f)
                )));
                continue;
            }
            Some(Err(why)) => {
                out.manual
                    .push(manual(format!("{why}. {}", remediation(f))));
                continue;
            }
            Some(Ok(edits)) => edits,
        };
        let mut edited: Vec<&str> = edits.iter().map(|e| e.logical_id.as_str()).collect();
        edited.dedup();
        let edited = edited.join(", ");
        let patched = match super::apply(&text, &edits) {
            Ok(p) if p != text => p,
            Ok(_) => {
                out.manual.push(manual(format!(
                    "the template already says what {} would write, yet the finding stands. {}",
                    action.id(),
                    remediation(f)
                )));
                continue;
            }
            Err(why) => {
                out.manual.push(manual(format!(
                    "{} in {}: {why}. {}",
                    origin.logical_id,
                    rel(&origin.file),
                    remediation(f)
                )));
                continue;
            }
        };
        // the patched text audited again
        let mut again = run.opts.clone();
        again.texts = texts.clone();
        again.texts.insert(origin.file.clone(), patched.clone());
        let verdict = verdict(audit(run, &again), &k, &open, gaps, "the patched template");
        match verdict {
            Ok((after, g)) => {
                let file = rel(&origin.file);
                let original = originals.get(&origin.file).map_or("", String::as_str);
                // the first change in an unchanged state was verified alone
                let alone = if text == original && open == open_before && gaps == gaps_before {
                    Some(patched.clone())
                } else {
                    alone(
                        run,
                        &origin.file,
                        original,
                        &edits,
                        &k,
                        &open_before,
                        gaps_before,
                    )
                }
                .map(|after| FileChange::between(&file, original, &after));
                for closed in open.difference(&after) {
                    closed_by.insert(closed.clone(), (file.clone(), edited.clone()));
                }
                open = after;
                gaps = g;
                texts.insert(origin.file.clone(), patched);
                out.patched.push(Patched {
                    rule_id: f.rule_id.clone(),
                    pipeline: f.pipeline.clone(),
                    resource_arn: f.resource_arn.clone(),
                    action: action.id().to_string(),
                    safety: action.safety(),
                    file,
                    logical_id: edited,
                    change: alone,
                });
            }
            Err(why) => out.manual.push(manual(format!(
                "{} on {} is not patched: {why}. {}",
                action.id(),
                origin.logical_id,
                remediation(f)
            ))),
        }
    }
    for (path, after) in texts {
        let before = originals.remove(&path).unwrap_or_default();
        if before != after {
            let r = rel(&path);
            out.files.push((path, r, before, after));
        }
    }
    Ok(out)
}
