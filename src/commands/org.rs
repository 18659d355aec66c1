//! The audit of several accounts (--accounts, --role-arn, --shard).

use std::sync::Arc;

use super::Error;
use super::live::{home_region, org_setup, runtime};
use super::output::write_report;
use crate::cli::{AuditArgs, GlobalArgs};
use crate::collect;
use crate::report::EXIT_ERROR;
use crate::report::escape::control;
use crate::rules::RuleSet;
use crate::rules::config::Config;

/// The audit of several accounts: each collected, evaluated and released in
/// turn; one report for all. Exit 2 when an account could not be audited
/// (after writing the report of the others).
pub fn run(
    g: &GlobalArgs,
    a: &AuditArgs,
    rules: RuleSet,
    config: Config,
    list: Vec<collect::targets::AccountTarget>,
) -> Result<u8, Error> {
    let (rules, config) = (Arc::new(rules), Arc::new(config));
    let save_dir = a.save_snapshot.clone();
    if let Some(d) = &save_dir {
        std::fs::create_dir_all(d).map_err(|e| Error::io("create the snapshot directory", d, e))?;
    }
    let (connect, opts, org) = org_setup(g, save_dir)?;
    let total = list.len();
    if !g.quiet {
        eprintln!(
            "pipeaudit: auditing {total} account(s){}",
            g.shard.map(|s| format!(" (shard {s})")).unwrap_or_default()
        );
    }
    let region = home_region(&opts.regions);
    let quiet = g.quiet;
    let mut done = 0usize;
    let mut org_audit = runtime()?.block_on(async {
        let base = collect::clients::load_config(&connect, region).await;
        crate::org::audit_accounts(
            &base,
            list,
            &opts,
            &org,
            rules.clone(),
            config.clone(),
            |s| {
                done += 1;
                if quiet {
                    return;
                }
                match &s.result {
                    Ok(c) => eprintln!(
                        "pipeaudit: [{done}/{total}] account {}: {} pipeline(s) in {} region(s), {} API call(s), {} value(s) not read, {} finding(s)",
                        control(&s.target.account),
                        c.pipelines,
                        c.regions.len(),
                        c.api_calls,
                        c.unread,
                        c.findings
                    ),
                    Err(e) => eprintln!(
                        "pipeaudit: [{done}/{total}] account {} failed: {}",
                        control(&s.target.account),
                        control(&e.to_string())
                    ),
                }
            },
        )
        .await
    });
    let code = write_report(
        a,
        &rules,
        &org_audit.scopes,
        &mut org_audit.evaluation,
        None,
        "pipeaudit",
    )?;
    let failed: Vec<_> = org_audit.failed().collect();
    if !failed.is_empty() {
        eprintln!(
            "pipeaudit: {} of {total} account(s) could not be audited:",
            failed.len()
        );
        for (t, e) in &failed {
            eprintln!("  {}: {}", control(&t.account), control(e));
        }
        return Ok(EXIT_ERROR);
    }
    Ok(code)
}
