//! Reporters of a compliance assessment (`pipeaudit compliance`): one
//! module per format.

pub mod csv;
pub mod json;
pub mod markdown;
pub mod table;

use super::Scope;

/// Why a CSV could not be written (into memory: a record or the text).
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot write CSV: {0}")]
    Record(#[from] ::csv::Error),
    #[error("cannot write CSV: {0}")]
    Flush(#[source] std::io::Error),
    #[error("cannot write CSV: {0}")]
    Utf8(#[from] std::string::FromUtf8Error),
}
use crate::compliance::{Assessment, Row, Status};

/// Output formats of `pipeaudit compliance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ComplianceFormat {
    Table,
    Json,
    Markdown,
    Csv,
}

/// What every compliance report shows: the assessment and what was audited.
pub struct ComplianceReport<'a> {
    pub assessment: &'a Assessment,
    /// Every account and region audited.
    pub scopes: &'a [Scope],
    pub pipelines: usize,
}

impl ComplianceReport<'_> {
    /// The audited accounts, sorted.
    pub fn accounts(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.scopes.iter().map(|s| s.account.as_str()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The audited regions, sorted.
    pub fn regions(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.scopes.iter().map(|s| s.region.as_str()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// "account A, region(s) R" or "N account(s), region(s) R".
    pub fn scope_line(&self) -> String {
        let accounts = self.accounts();
        let who = match accounts.as_slice() {
            [one] => format!("account {one}"),
            many => format!("{} account(s)", many.len()),
        };
        format!(
            "{who}, region(s) {}, {} pipeline(s)",
            self.regions().join(", "),
            self.pipelines
        )
    }
}

/// The rules of a row, or `-`.
fn rules_cell(r: &Row) -> String {
    if r.rules.is_empty() {
        "-".to_string()
    } else {
        r.rules.join(" ")
    }
}

/// The failing resource count, or `-` for a control no rule checks.
fn failing_cell(r: &Row) -> String {
    if r.status == Status::Manual {
        "-".to_string()
    } else {
        r.failing_resources.to_string()
    }
}

/// The notes of a row on one line: why it is manual, accepted or not checked.
fn note(r: &Row) -> String {
    match r.status {
        Status::Manual => r.manual.clone().unwrap_or_default(),
        Status::Accepted => r
            .accepted
            .iter()
            .map(|a| format!("{} on {}: {}", a.rule_id, a.resource, a.reason))
            .collect::<Vec<_>>()
            .join("; "),
        Status::NotChecked => r.not_checked.join("; "),
        Status::Fail | Status::Pass => String::new(),
    }
}

/// The frameworks (`pipeaudit compliance --list`): id, title, version,
/// controls, how many are manual, how many rules map to it. JSON with
/// `--format json`, CSV with `--format csv`, else a table.
pub fn list(
    frameworks: &crate::rules::frameworks::Frameworks,
    rules: &crate::rules::RuleSet,
    format: ComplianceFormat,
) -> Result<String, CsvError> {
    let rows: Vec<[String; 6]> = frameworks
        .list
        .iter()
        .map(|f| {
            let mapped = frameworks.rules_by_control(f, rules);
            let mut rule_ids: Vec<&str> = mapped.values().flatten().copied().collect();
            rule_ids.sort();
            rule_ids.dedup();
            [
                f.id.clone(),
                f.title.clone(),
                f.version.clone(),
                f.controls.len().to_string(),
                f.controls
                    .iter()
                    .filter(|c| c.manual.is_some())
                    .count()
                    .to_string(),
                rule_ids.len().to_string(),
            ]
        })
        .collect();
    let header = ["id", "title", "version", "controls", "manual", "rules"];
    match format {
        ComplianceFormat::Json => {
            let list: Vec<serde_json::Value> = frameworks
                .list
                .iter()
                .zip(&rows)
                .map(|(f, r)| {
                    serde_json::json!({
                        "id": f.id,
                        "title": f.title,
                        "version": f.version,
                        "url": f.url,
                        "controls": f.controls.len(),
                        "manual": r[4].parse::<usize>().unwrap_or(0),
                        "rules": r[5].parse::<usize>().unwrap_or(0),
                    })
                })
                .collect();
            let mut t = serde_json::to_string_pretty(&list).unwrap_or_default();
            t.push('\n');
            Ok(t)
        }
        ComplianceFormat::Csv => {
            let mut w = ::csv::Writer::from_writer(Vec::new());
            w.write_record(header)?;
            for r in &rows {
                w.write_record(r.iter().map(|c| crate::report::escape::csv_cell(c)))?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| CsvError::Flush(e.into_error()))?;
            Ok(String::from_utf8(bytes)?)
        }
        ComplianceFormat::Table | ComplianceFormat::Markdown => {
            let mut t = comfy_table::Table::new();
            t.set_header(header.to_vec());
            for r in &rows {
                t.add_row(r.to_vec());
            }
            t.force_no_tty();
            Ok(format!("{t}\n"))
        }
    }
}

#[cfg(test)]
mod csv_error_tests {
    use super::CsvError;

    #[test]
    fn a_csv_error_is_one_line_with_its_cause() {
        let bytes = vec![0xff, 0xfe];
        let Err(utf8) = String::from_utf8(bytes) else {
            panic!("invalid UTF-8 decoded");
        };
        let e = CsvError::from(utf8);
        let shown = e.to_string();
        assert!(
            shown.starts_with("cannot write CSV: invalid utf-8"),
            "{shown}"
        );
        assert!(!shown.contains('\n') && !shown.contains("Utf8"));
        assert!(std::error::Error::source(&e).is_some());
    }
}
