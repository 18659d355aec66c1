//! A compliance assessment as JSON (stable; documented in docs/reference/json-report.md).

use serde_json::json;

use super::ComplianceReport;
use crate::model::ToolInfo;

/// The compliance JSON format version.
pub const COMPLIANCE_SCHEMA_VERSION: u32 = 1;

/// Renders the assessment as pretty JSON.
pub fn render(r: &ComplianceReport<'_>) -> String {
    let a = r.assessment;
    let f = &a.framework;
    let by_status: serde_json::Map<String, serde_json::Value> = a
        .counts()
        .into_iter()
        .map(|(s, n)| {
            (
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                json!(n),
            )
        })
        .collect();
    let accounts = r.accounts();
    let account = match accounts.as_slice() {
        [one] => json!(one),
        many => json!(many),
    };
    let doc = json!({
        "schema_version": COMPLIANCE_SCHEMA_VERSION,
        "tool": ToolInfo::current(),
        "framework": {
            "id": f.id,
            "title": f.title,
            "version": f.version,
            "url": f.url,
        },
        "account": account,
        "regions": r.regions(),
        "pipelines": r.pipelines,
        "summary": {
            "controls": a.rows.len(),
            "automated": a.automated(),
            "passing": a.passing(),
            "passing_percent": a.passing_percent(),
            "by_status": by_status,
        },
        "controls": a.rows,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
