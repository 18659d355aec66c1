//! `pipeaudit merge`: shard reports combine into the report of the whole,
//! with the same fingerprints.

use crate::support;

use std::process::Output;

use serde_json::Value;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn run(args: &[&str]) -> Output {
    support::offline(args)
}

fn shard(
    dir: &std::path::Path,
    name: &str,
    keep: impl Fn(usize) -> bool,
    account: Option<&str>,
) -> String {
    let text = std::fs::read_to_string(DEMO).unwrap_or_else(|e| panic!("{e}"));
    let mut v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    if let Some(p) = v["pipelines"].as_array_mut() {
        let all = std::mem::take(p);
        *p = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, w)| w)
            .collect();
    }
    if let Some(a) = account {
        v["account"] = a.into();
    }
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).unwrap_or_else(|e| panic!("{e}"));
    path.to_string_lossy().to_string()
}

fn report(snapshot: &str, format: &str, out: &std::path::Path) {
    let o = run(&[
        "--snapshot",
        snapshot,
        "--format",
        format,
        "--exit-zero",
        "-o",
        &out.to_string_lossy(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn read(p: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn json_shards_merge_into_the_whole() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let a = shard(d, "a.json", |i| i % 2 == 0, None);
    let b = shard(d, "b.json", |i| i % 2 == 1, None);
    report(DEMO, "json", &d.join("all.r.json"));
    report(&a, "json", &d.join("a.r.json"));
    report(&b, "json", &d.join("b.r.json"));
    let merged = d.join("merged.json");
    let o = run(&[
        "merge",
        &d.join("a.r.json").to_string_lossy(),
        &d.join("b.r.json").to_string_lossy(),
        "-o",
        &merged.to_string_lossy(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (m, all) = (read(&merged), read(&d.join("all.r.json")));
    assert_eq!(
        m["findings"], all["findings"],
        "same findings, same fingerprints, same order"
    );
    assert_eq!(m["summary"], all["summary"]);
}

#[test]
fn sarif_shards_merge_by_scope_and_duplicates_are_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let a = shard(d, "a.json", |i| i < 20, None);
    let b = shard(d, "b.json", |i| i >= 20, Some("210987654321"));
    report(&a, "sarif", &d.join("a.sarif"));
    report(&b, "sarif", &d.join("b.sarif"));
    let merged = d.join("m.sarif");
    let o = run(&[
        "merge",
        &d.join("a.sarif").to_string_lossy(),
        &d.join("b.sarif").to_string_lossy(),
        "-o",
        &merged.to_string_lossy(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = read(&merged);
    let cats: Vec<&str> = m["runs"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x["automationDetails"]["id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        cats,
        vec![
            "pipeaudit/aws/123456789012/us-east-1/",
            "pipeaudit/aws/210987654321/us-east-1/"
        ]
    );
    let o = run(&[
        "merge",
        &d.join("a.sarif").to_string_lossy(),
        &d.join("a.sarif").to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("duplicate categories"));
}
