//! The JSON report (stable; documented in docs/reference/json-report.md).

use serde::Serialize;
use serde_json::json;

use super::Report;
use crate::model::ToolInfo;

/// The JSON report format version.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Renders the report as pretty JSON.
pub fn render(r: &Report<'_>) -> String {
    let by_severity: serde_json::Map<String, serde_json::Value> = r
        .by_severity()
        .into_iter()
        .map(|(s, n)| (s.as_str().to_string(), json!(n)))
        .collect();
    #[derive(Serialize)]
    struct Summary {
        pipelines: usize,
        findings: usize,
        by_severity: serde_json::Map<String, serde_json::Value>,
    }
    // one account: its id (as ever); several: the list
    let accounts = r.accounts();
    let account = match accounts.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    let doc = json!({
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": ToolInfo::current(),
        "account": account,
        "regions": r.regions(),
        "summary": Summary { pipelines: r.pipelines, findings: r.findings.len(), by_severity },
        "findings": r.findings,
        "diagnostics": r.diagnostics,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
