//! `pipeaudit merge`: combine the JSON reports (or SARIF files) of shards
//! into one, fingerprints unchanged.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// Why reports could not be merged; `name` is the input as given.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{name}: not a pipeaudit JSON report of schema_version 1")]
    NotReport { name: String },
    #[error("{name}: no findings list")]
    NoFindings { name: String },
    #[error("{name}: a finding has no fingerprint")]
    NoFingerprint { name: String },
    #[error("{name}: not a SARIF 2.1.0 file")]
    NotSarif { name: String },
    #[error("{name}: no runs")]
    NoRuns { name: String },
    #[error(
        "{name}: the category {category:?} appears in two inputs; GitHub rejects duplicate categories"
    )]
    DuplicateCategory { name: String, category: String },
    #[error(
        "{runs} runs in all; GitHub accepts at most {max} per file: merge fewer shards per file",
        max = super::sarif::MAX_RUNS
    )]
    TooManyRuns { runs: usize },
}

/// Merges JSON reports: findings de-duplicated by fingerprint and sorted as
/// the reports sort them, diagnostics concatenated, summary recomputed.
pub fn merge_json(reports: &[(String, Value)]) -> Result<Value, Error> {
    let mut findings: BTreeMap<String, Value> = BTreeMap::new();
    let mut diagnostics = Vec::new();
    let mut accounts = BTreeSet::new();
    let mut regions = BTreeSet::new();
    let mut pipelines = 0u64;
    for (name, r) in reports {
        if r["schema_version"] != 1 {
            return Err(Error::NotReport { name: name.clone() });
        }
        let list = r["findings"]
            .as_array()
            .ok_or_else(|| Error::NoFindings { name: name.clone() })?;
        for f in list {
            let fp = f["fingerprint"]
                .as_str()
                .ok_or_else(|| Error::NoFingerprint { name: name.clone() })?;
            findings.entry(fp.to_string()).or_insert_with(|| f.clone());
        }
        diagnostics.extend(r["diagnostics"].as_array().cloned().unwrap_or_default());
        // one account's report names it; a multi-account report lists them
        match &r["account"] {
            Value::String(a) => {
                accounts.insert(a.clone());
            }
            Value::Array(list) => {
                accounts.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
            }
            _ => {}
        }
        for g in r["regions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            regions.insert(g.to_string());
        }
        pipelines += r["summary"]["pipelines"].as_u64().unwrap_or(0);
    }
    let rank = |s: &str| match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    };
    let mut list: Vec<Value> = findings.into_values().collect();
    list.sort_by(|a, b| {
        let key = |f: &Value| {
            (
                f["account"].as_str().unwrap_or("").to_string(),
                f["pipeline_arn"].as_str().unwrap_or("").to_string(),
                rank(f["severity"].as_str().unwrap_or("")),
                f["rule_id"].as_str().unwrap_or("").to_string(),
                f["resource_arn"].as_str().unwrap_or("").to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut by_severity = serde_json::Map::new();
    for s in ["critical", "high", "medium", "low", "info"] {
        let n = list.iter().filter(|f| f["severity"] == s).count();
        by_severity.insert(s.to_string(), json!(n));
    }
    let accounts: Vec<String> = accounts.into_iter().collect();
    Ok(json!({
        "schema_version": 1,
        "tool": reports.first().map(|(_, r)| r["tool"].clone()).unwrap_or(Value::Null),
        "account": if accounts.len() == 1 { json!(accounts[0]) } else { json!(accounts) },
        "regions": regions.into_iter().collect::<Vec<_>>(),
        "summary": {"pipelines": pipelines, "findings": list.len(), "by_severity": by_severity},
        "findings": list,
        "diagnostics": diagnostics,
    }))
}

/// Merges SARIF files: their runs, which must have distinct categories; at
/// most 20 runs in all.
pub fn merge_sarif(files: &[(String, Value)]) -> Result<Value, Error> {
    let mut runs = Vec::new();
    let mut categories = BTreeSet::new();
    for (name, f) in files {
        if f["version"] != "2.1.0" {
            return Err(Error::NotSarif { name: name.clone() });
        }
        for run in f["runs"]
            .as_array()
            .ok_or_else(|| Error::NoRuns { name: name.clone() })?
        {
            let cat = run["automationDetails"]["id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if !categories.insert(cat.clone()) {
                return Err(Error::DuplicateCategory {
                    name: name.clone(),
                    category: cat,
                });
            }
            runs.push(run.clone());
        }
    }
    if runs.len() > super::sarif::MAX_RUNS {
        return Err(Error::TooManyRuns { runs: runs.len() });
    }
    runs.sort_by_key(|r| {
        r["automationDetails"]["id"]
            .as_str()
            .unwrap_or("")
            .to_string()
    });
    let schema = files
        .first()
        .map(|(_, f)| f["$schema"].clone())
        .unwrap_or(Value::Null);
    Ok(json!({"$schema": schema, "version": "2.1.0", "runs": runs}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_input_on_one_line() {
        let e = merge_sarif(&[("a.sarif".to_string(), json!({"version": "2.1.0"}))]).err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("a.sarif: no runs")
        );
        let run = json!({"automationDetails": {"id": "x/"}});
        let doc = json!({"version": "2.1.0", "runs": [run]});
        let e = merge_sarif(&[("a".into(), doc.clone()), ("b".into(), doc)]).err();
        let shown = e.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            shown,
            "b: the category \"x/\" appears in two inputs; GitHub rejects duplicate categories"
        );
        let e = Error::TooManyRuns { runs: 21 };
        assert_eq!(
            e.to_string(),
            format!(
                "21 runs in all; GitHub accepts at most {} per file: merge fewer shards per file",
                crate::report::sarif::MAX_RUNS
            )
        );
    }
}
