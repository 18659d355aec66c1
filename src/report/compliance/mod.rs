//! Reporters of a compliance assessment (`pipeaudit compliance`): one
//! module per format.

pub mod csv;
pub mod json;
pub mod markdown;
pub mod table;

use super::Scope;
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
) -> Result<String, String> {
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
            let err = |e: ::csv::Error| format!("cannot write CSV: {e}");
            w.write_record(header).map_err(err)?;
            for r in &rows {
                w.write_record(r.iter().map(|c| crate::report::escape::csv_cell(c)))
                    .map_err(err)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| format!("cannot write CSV: {e}"))?;
            String::from_utf8(bytes).map_err(|e| format!("cannot write CSV: {e}"))
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
