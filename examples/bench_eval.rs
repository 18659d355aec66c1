//! Evaluation benchmark: replicates the bundled demo account (39 pipelines)
//! into a snapshot of N pipelines with distinct ARNs, then times the rule
//! evaluation alone and reports peak memory.
//!
//! cargo run --release --example bench_eval -- 10000

use std::sync::Arc;
use std::time::Instant;

use pipeaudit::model::Snapshot;
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let demo_path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    let demo_text = std::fs::read_to_string(demo_path)?;
    let demo = Snapshot::from_json(&demo_text, demo_path)?;
    let per_copy = demo.pipelines.len().max(1);
    let copies = n.div_ceil(per_copy);
    let start = Instant::now();
    let mut big = demo.clone();
    big.pipelines.clear();
    big.resources = Default::default();
    for k in 0..copies {
        // Every name in the demo starts with "demo-": renaming it gives a distinct stack.
        let text = demo_text.replace("demo-", &format!("c{k:05}-"));
        let copy = Snapshot::from_json(&text, "copy")?;
        big.pipelines.extend(copy.pipelines);
        let r = copy.resources;
        big.resources.pipelines.extend(r.pipelines);
        big.resources.repositories.extend(r.repositories);
        big.resources.build_projects.extend(r.build_projects);
        big.resources
            .deploy_applications
            .extend(r.deploy_applications);
        big.resources.deploy_groups.extend(r.deploy_groups);
        big.resources.event_rules.extend(r.event_rules);
        big.resources.buckets.extend(r.buckets);
        big.resources.keys.extend(r.keys);
        big.resources.roles.extend(r.roles);
        big.resources.managed_policies.extend(r.managed_policies);
    }
    big.pipelines.truncate(n);
    let built = start.elapsed();
    let rss_before = peak_rss_mib().unwrap_or(0.0);
    let mut rules = RuleSet::builtin()?;
    // Optional: only the rules whose id starts with this prefix ("none" for
    // none), to see what the bindings cost and what each area costs.
    if let Some(prefix) = std::env::args().nth(2) {
        rules.rules.retain(|r| r.file.id.starts_with(&prefix));
    }
    // Keep a reference so that freeing the snapshot is not timed.
    let snapshot = Arc::new(big);
    let t = Instant::now();
    let eval = evaluate(snapshot.clone(), &rules, &Config::default());
    let took = t.elapsed();
    println!(
        "pipelines={} rules={} findings={} diagnostics={} build_snapshot_s={:.2} evaluate_s={:.3} per_pipeline_us={:.0} peak_rss_mib={:.0} (before evaluation {:.0})",
        eval.pipelines,
        rules.rules.len(),
        eval.findings.len(),
        eval.diagnostics.len(),
        built.as_secs_f64(),
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / eval.pipelines.max(1) as f64,
        peak_rss_mib().unwrap_or(0.0),
        rss_before
    );
    Ok(())
}
