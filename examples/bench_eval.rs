//! Evaluation benchmark: replicates the bundled demo account (39 pipelines)
//! into a snapshot of N pipelines with distinct ARNs, then times the rule
//! evaluation alone and reports peak memory.
//!
//! cargo run --release --example bench_eval -- 10000

use std::sync::Arc;
use std::time::Instant;

use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

#[path = "support/replicate.rs"]
mod replicate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let start = Instant::now();
    let big = replicate::demo_snapshot(n)?;
    let built = start.elapsed();
    let rss_before = replicate::peak_rss_mib().unwrap_or(0.0);
    let mut rules = RuleSet::builtin()?;
    // Optional: only the rules whose id starts with this prefix ("none" for
    // none), to see what the bindings cost and what each area costs.
    if let Some(prefix) = std::env::args().nth(2) {
        rules.rules.retain(|r| r.file.id.starts_with(&prefix));
    }
    // Keep a reference so that freeing the snapshot is not timed.
    let snapshot = Arc::new(big);
    let t = Instant::now();
    let cpu_before = replicate::cpu_seconds().unwrap_or(0.0);
    let eval = evaluate(snapshot.clone(), &rules, &Config::default());
    let took = t.elapsed();
    // CPU time as well: on a machine shared with other work the elapsed
    // time mostly measures waiting for a core.
    let cpu = replicate::cpu_seconds().unwrap_or(0.0) - cpu_before;
    println!(
        "pipelines={} rules={} findings={} diagnostics={} build_snapshot_s={:.2} evaluate_s={:.3} per_pipeline_us={:.0} cpu_s={:.2} per_pipeline_cpu_us={:.0} peak_rss_mib={:.0} (before evaluation {:.0})",
        eval.pipelines,
        rules.rules.len(),
        eval.findings.len(),
        eval.diagnostics.len(),
        built.as_secs_f64(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / eval.pipelines.max(1) as f64,
        cpu,
        cpu * 1e6 / eval.pipelines.max(1) as f64,
        replicate::peak_rss_mib().unwrap_or(0.0),
        rss_before
    );
    Ok(())
}
