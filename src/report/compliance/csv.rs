//! A compliance assessment as CSV: one record per control, for spreadsheets.

use super::{ComplianceReport, CsvError, note};
use crate::report::escape::csv_cell;

/// The header of the CSV.
pub const HEADER: [&str; 9] = [
    "framework",
    "control",
    "title",
    "section",
    "status",
    "rules",
    "failing_resources",
    "notes",
    "source",
];

/// Renders the header and a record per control (RFC 4180 quoting).
pub fn render(r: &ComplianceReport<'_>) -> Result<String, CsvError> {
    let a = r.assessment;
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for row in &a.rows {
        let failing = if row.status == crate::compliance::Status::Manual {
            String::new()
        } else {
            row.failing_resources.to_string()
        };
        w.write_record(
            [
                a.framework.id.as_str(),
                row.id.as_str(),
                row.title.as_str(),
                row.section.as_str(),
                row.status.as_str(),
                row.rules.join(" ").as_str(),
                failing.as_str(),
                note(row).as_str(),
                a.framework.url.as_str(),
            ]
            .map(csv_cell),
        )?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| CsvError::Flush(e.into_error()))?;
    Ok(String::from_utf8(bytes)?)
}
