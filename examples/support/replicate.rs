//! Builds large snapshots for the benchmarks by replicating the bundled demo
//! account (39 pipelines) under distinct names.

use pipeaudit::model::Snapshot;

/// A snapshot of `n` pipelines: copies of the demo account, each renamed
/// (pipelines, buckets, roles, projects, keys: nothing is shared between copies).
pub fn demo_snapshot(n: usize) -> Result<Snapshot, Box<dyn std::error::Error>> {
    let demo_path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    let demo_text = std::fs::read_to_string(demo_path)?;
    let demo = Snapshot::from_json(&demo_text, demo_path)?;
    let per_copy = demo.pipelines.len().max(1);
    let copies = n.div_ceil(per_copy);
    let mut big = demo.clone();
    big.pipelines.clear();
    big.resources = Default::default();
    for k in 0..copies {
        // Every name in the demo starts with "demo-": renaming it gives a distinct stack.
        // Key ids are UUIDs: prefix them too, so that every copy has its own keys.
        let text = demo_text
            .replace("demo-", &format!("c{k:05}-"))
            .replace(":key/", &format!(":key/c{k:05}-"))
            .replace("\"key_id\": \"", &format!("\"key_id\": \"c{k:05}-"));
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
    Ok(big)
}

/// Peak resident memory of this process so far, in MiB (Linux).
#[allow(dead_code)] // not every benchmark reports it
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds used by the process so far (user + system), from /proc.
#[allow(dead_code)]
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
