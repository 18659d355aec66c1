//! `pipeaudit merge`: the JSON reports or SARIF files of shards, combined.

use super::Error;
use super::output::write_output;
use crate::cli::MergeArgs;
use crate::report::{self, EXIT_OK};

/// Merges JSON reports (findings by fingerprint) or SARIF files (runs).
pub fn run(m: &MergeArgs) -> Result<u8, Error> {
    let mut docs = Vec::new();
    for p in &m.reports {
        let text = std::fs::read_to_string(p).map_err(|e| Error::read(p, e))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("{} is not JSON: {e}", p.display())))?;
        docs.push((p.display().to_string(), v));
    }
    let sarif = docs.iter().all(|(_, d)| d.get("runs").is_some());
    let merged = if sarif {
        report::merge::merge_sarif(&docs)
    } else {
        report::merge::merge_json(&docs)
    }
    .map_err(Error::stage)?;
    let mut text = serde_json::to_string_pretty(&merged).unwrap_or_default();
    text.push('\n');
    write_output(m.out.output.as_ref(), &text)?;
    Ok(EXIT_OK)
}
