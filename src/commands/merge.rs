//! `pipeaudit merge`: the JSON reports or SARIF files of shards, combined.

use std::path::PathBuf;

use super::write_output;
use crate::report::{self, EXIT_OK};

/// Merges JSON reports (findings by fingerprint) or SARIF files (runs).
pub fn run(reports: &[PathBuf], output: Option<&PathBuf>) -> Result<u8, String> {
    let mut docs = Vec::new();
    for p in reports {
        let text =
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", p.display()))?;
        docs.push((p.display().to_string(), v));
    }
    let sarif = docs.iter().all(|(_, d)| d.get("runs").is_some());
    let merged = if sarif {
        report::merge::merge_sarif(&docs).map_err(|e| e.to_string())?
    } else {
        report::merge::merge_json(&docs).map_err(|e| e.to_string())?
    };
    let mut text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    text.push('\n');
    write_output(output, &text)?;
    Ok(EXIT_OK)
}
