//! Organization-scale evaluation benchmark: ACCOUNTS accounts of PER_ACCOUNT
//! pipelines each (copies of the bundled demo account under distinct
//! account ids and names), evaluated as `pipeaudit --accounts` does: a few
//! accounts at a time, each snapshot evaluated and dropped, the findings of
//! all accounts finished together.
//! Only the evaluation is timed (building the copies is not); peak memory
//! is for the whole process.
//!
//! cargo run --release --example bench_org -- 500 200 [RULE-ID-PREFIX]

use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeaudit::model::Snapshot;
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::{Evaluation, evaluate_unfinished, finish};

// The allocator of the pipeaudit binary (src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/replicate.rs"]
mod replicate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let accounts: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let per_account: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let template = replicate::demo_snapshot(per_account)?;
    let demo_account = template.account.clone();
    let text = template.to_json();
    drop(template);
    let mut rules = RuleSet::builtin()?;
    // Optional: only the rules whose id starts with this prefix ("none" for
    // none), to see what the bindings cost and what each area costs.
    if let Some(prefix) = args.next() {
        rules.rules.retain(|r| r.file.id.starts_with(&prefix));
    }
    let config = Config::default();
    // Accounts are evaluated ACCOUNT_CONCURRENCY at a time (the CLI's
    // default --account-concurrency): each batch is built (not timed), then
    // evaluated concurrently (timed), then dropped.
    let batch: usize = std::env::var("ACCOUNT_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let mut combined = Evaluation::default();
    let mut evaluating = Duration::ZERO;
    let mut building = Duration::ZERO;
    let mut evaluating_cpu = 0.0;
    let started = Instant::now();
    let mut a = 0usize;
    while a < accounts {
        let t = Instant::now();
        let mut snapshots = Vec::new();
        for k in a..(a + batch).min(accounts) {
            let account = format!("{:012}", 100_000_000_000u64 + k as u64);
            snapshots.push(Arc::new(Snapshot::from_json(
                &text.replace(&demo_account, &account),
                "copy",
            )?));
        }
        a += snapshots.len();
        building += t.elapsed();
        let t = Instant::now();
        let cpu_before = replicate::cpu_seconds().unwrap_or(0.0);
        let evals: Vec<Evaluation> = std::thread::scope(|scope| {
            let handles: Vec<_> = snapshots
                .into_iter()
                .map(|snap| scope.spawn(|| evaluate_unfinished(snap, &rules, &config)))
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for eval in evals {
            combined.pipelines += eval.pipelines;
            combined.findings.extend(eval.findings);
            combined.diagnostics.extend(eval.diagnostics);
        }
        evaluating += t.elapsed();
        evaluating_cpu += replicate::cpu_seconds().unwrap_or(0.0) - cpu_before;
    }
    let t = Instant::now();
    finish(&mut combined, &config);
    let finishing = t.elapsed();
    evaluating += finishing;
    println!(
        "accounts={accounts} pipelines={} rules={} findings={} diagnostics={} evaluate_s={:.2} (finish_s={:.2}, cpu_s={:.1}) per_pipeline_us={:.0} build_copies_s={:.1} wall_s={:.1} peak_rss_mib={:.0}",
        combined.pipelines,
        rules.rules.len(),
        combined.findings.len(),
        combined.diagnostics.len(),
        evaluating.as_secs_f64(),
        finishing.as_secs_f64(),
        evaluating_cpu,
        evaluating.as_secs_f64() * 1e6 / combined.pipelines.max(1) as f64,
        building.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        replicate::peak_rss_mib().unwrap_or(0.0),
    );
    Ok(())
}
