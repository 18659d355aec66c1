//! Drift benchmark: two snapshots of N pipelines (replicated demo account),
//! the second with key rotation turned off on 1% of the keys;
//! times the comparison (which also evaluates the rules on both sides to
//! link changes to rules).
//!
//! cargo run --release --example bench_drift -- 10000

use std::time::Instant;

use pipeaudit::drift::compare;
use pipeaudit::model::Observed;
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;

#[path = "support/replicate.rs"]
mod replicate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let baseline = replicate::demo_snapshot(n)?;
    let mut current = baseline.clone();
    let mut changed = 0;
    for key in current.resources.keys.values_mut() {
        if let Observed::Ok { value } = key
            && changed * 100 < baseline.pipelines.len()
            && value.rotation_enabled == Observed::ok(true)
        {
            value.rotation_enabled = Observed::ok(false);
            changed += 1;
        }
    }
    let rules = RuleSet::builtin()?;
    let t = Instant::now();
    let drift = compare(&baseline, &current, &rules, &Config::default())?;
    let took = t.elapsed();
    println!(
        "pipelines={} keys_changed={} changes={} compare_s={:.2}",
        baseline.pipelines.len(),
        changed,
        drift.changes.len(),
        took.as_secs_f64()
    );
    Ok(())
}
