//! Applying a plan: action by action, each journaled as it ends; Ctrl-C
//! stops the run between two actions; after each pass the account is
//! collected and audited again, and the changes the re-audit plans that were
//! not attempted yet make the next pass (at most [`verify::MAX_PASSES`]).
//! The caller provides the account (clients, collection, confirmation), so
//! this module holds the logic and the command only orchestrates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::verify::{self, RunReport};
use super::{Error, FixPlan, PlannedAction};
use crate::collect::clients::RegionClients;
use crate::model::Snapshot;
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine;

/// What applying needs from the account it acts on.
pub trait Account {
    /// The clients of a region (made once per region by the caller).
    fn clients(&mut self, region: &str) -> Result<RegionClients, Error>;
    /// Collects the account again.
    fn collect(&mut self) -> Result<Snapshot, Error>;
    /// Asks whether to apply `n` more changes (a later pass's).
    fn confirm(&mut self, n: usize) -> Result<bool, Error>;
}

/// How to apply.
pub struct ApplyOptions {
    pub unsafe_fixes: bool,
    /// Apply the changes later passes plan without asking.
    pub yes: bool,
    pub journal: PathBuf,
    /// Resources later passes leave alone (without `--allow-drift`: those a
    /// stack manages, or whose stack could not be read).
    pub skip_resources: std::collections::BTreeSet<String>,
}

/// The default journal file name: `pipeaudit-journal-<date>-<seconds>.json`.
pub fn default_journal() -> PathBuf {
    let t = engine::today();
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from(format!("pipeaudit-journal-{t}-{secs}.json"))
}

/// Writes the journal whole, aside then renamed: an interrupted run leaves
/// only whole entries.
fn write_journal(path: &Path, entries: &[super::Applied]) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(entries).unwrap_or_default();
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|source| Error::Journal {
            path: path.to_path_buf(),
            source,
        })
}

/// Applies `plan` (already shown and confirmed) and the passes that follow
/// it; returns the run's report, or an error when interrupted (the journal
/// then lists each change made).
pub fn apply_plan(
    rt: &tokio::runtime::Runtime,
    plan: &FixPlan,
    rules: &RuleSet,
    config: &Config,
    account: &mut dyn Account,
    opts: &ApplyOptions,
) -> Result<RunReport, Error> {
    // Ctrl-C stops the run between two actions: the action in flight ends
    // and is journaled, none is started after it.
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::SeqCst);
                eprintln!(
                    "pipeaudit: interrupted; finishing the change in flight, starting no other"
                );
            }
        });
    }
    let mut report = RunReport {
        plan: plan.clone(),
        ..RunReport::default()
    };
    // one set of clients per region (and one role assumption), however many actions
    let mut clients: BTreeMap<String, RegionClients> = BTreeMap::new();
    let mut attempted: BTreeSet<(String, String)> = BTreeSet::new();
    // every change attempted, with its pass and whether it was applied
    let mut tried: Vec<(PlannedAction, usize, bool)> = Vec::new();
    let mut actions = plan.actions.clone();
    let (after, re) = loop {
        report.passes += 1;
        for action in &actions {
            if interrupted.load(Ordering::SeqCst) {
                break;
            }
            attempted.insert(verify::key(action));
            if !clients.contains_key(&action.region) {
                clients.insert(action.region.clone(), account.clients(&action.region)?);
            }
            let Some(c) = clients.get(&action.region) else {
                continue;
            };
            let applied = rt.block_on(super::apply_one(c, action));
            eprintln!(
                "  {} {} {}{}",
                applied.outcome,
                applied.action,
                applied.resource_arn,
                if applied.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", applied.message)
                }
            );
            tried.push((
                action.clone(),
                report.passes,
                applied.outcome == super::AppliedOutcome::Applied,
            ));
            report.applied.push(applied);
            write_journal(&opts.journal, &report.applied)?;
        }
        if interrupted.load(Ordering::SeqCst) {
            eprintln!("pipeaudit: journal written to {}", opts.journal.display());
            let in_pass = tried.iter().filter(|t| t.1 == report.passes).count();
            return Err(Error::Interrupted {
                done: in_pass,
                total: actions.len(),
                pass: report.passes,
                journal: opts.journal.clone(),
            });
        }
        // Prove the result: collect and audit again; a fix that changed what
        // other rules compare against brings its followers in the next pass.
        let after = Arc::new(account.collect()?);
        let re = engine::evaluate(after.clone(), rules, config);
        if report.passes >= verify::MAX_PASSES {
            break (after, re);
        }
        let next = super::plan(&after, &re.findings, rules, config, opts.unsafe_fixes);
        let mut more = verify::new_actions(&next, &attempted);
        more.retain(|a| !opts.skip_resources.contains(&a.resource_arn));
        if more.is_empty() {
            break (after, re);
        }
        let shown = FixPlan {
            actions: more.clone(),
            ..FixPlan::default()
        };
        eprintln!(
            "pipeaudit: pass {}: the re-audit plans {} more change(s)",
            report.passes + 1,
            more.len()
        );
        eprint!("{}", super::render::render_text(&shown));
        if !opts.yes && !account.confirm(more.len())? {
            break (after, re);
        }
        actions = more;
    };
    eprintln!("pipeaudit: journal written to {}", opts.journal.display());
    report.changes = tried
        .iter()
        .map(|(p, pass, applied)| verify::Verified {
            action: p.action.clone(),
            resource_arn: p.resource_arn.clone(),
            rule_ids: p.rule_ids.clone(),
            pass: *pass,
            status: verify::status(p, *applied, &after, &re),
        })
        .collect();
    report.findings_remaining = re.findings.len();
    report.collection_gaps = re
        .diagnostics
        .iter()
        .filter(|d| d.kind == crate::findings::DiagnosticKind::CollectionGap)
        .count();
    Ok(report)
}
