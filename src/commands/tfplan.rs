//! Terraform plans in template mode (`--tf-plan`): the snapshot built from
//! `terraform show -json` plans, evaluated and reported as an audit;
//! findings point at the plan's resource addresses, or at the `.tf` files
//! under `--iac`.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use super::Error;
use super::output::{write_patch, write_report};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::findings::{DefinedIn, Diagnostic, DiagnosticKind};
use crate::report;
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine;

/// The SARIF category prefix of plan runs, in the template family and
/// apart from CloudFormation template runs and live audits.
pub const SARIF_CATEGORY: &str = "pipeaudit-template-terraform";

/// The account `--account-id` defaults to.
const DEFAULT_ACCOUNT: &str = "123456789012";

/// The line of a resource's address in the plan's `planned_values`.
fn address_line(text: &str, address: &str) -> Option<usize> {
    let quoted = serde_json::to_string(address).ok()?;
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix("\"address\"")
                .map(|r| r.trim_start().trim_start_matches(':').trim_start())
                .is_some_and(|r| r.starts_with(&quoted))
        })
        .map(|n| n + 1)
}

/// Runs template mode on Terraform plans.
pub fn run(g: &GlobalArgs, a: &AuditArgs, rules: &RuleSet, config: &Config) -> Result<u8, Error> {
    let mut opts = super::template::options(g, a)?;
    let (plans, diagnostics) = crate::template::tfplan::read(&a.tf_plans).map_err(Error::stage)?;
    // the account and region the plan says, unless given
    if g.regions.is_empty()
        && let Some(r) = plans
            .iter()
            .find_map(|p| crate::template::tfplan::detect(&p.doc).0)
            .filter(|r| crate::collect::is_region_name(r))
    {
        opts.region = r;
    }
    if a.account_id == DEFAULT_ACCOUNT
        && let Some(acct) = plans
            .iter()
            .find_map(|p| crate::template::tfplan::detect(&p.doc).1)
            .filter(|x| x.len() == 12 && x.bytes().all(|b| b.is_ascii_digit()))
    {
        opts.account = acct;
    }
    if opts.region.starts_with("cn-") {
        opts.partition = "aws-cn".to_string();
    } else if opts.region.starts_with("us-gov-") {
        opts.partition = "aws-us-gov".to_string();
    }
    let built = crate::template::tfplan::load(&plans, diagnostics, &opts).map_err(Error::stage)?;
    let snapshot = Arc::new(built.snapshot);
    let mut eval = engine::evaluate(snapshot.clone(), rules, config);
    eval.diagnostics.extend(built.diagnostics);
    crate::template::settle(&mut eval.diagnostics);
    // the findings point at the plan's addresses, or the .tf files
    let files: Vec<&Path> = plans.iter().map(|p| p.path.as_path()).collect();
    let root = super::template::root(a, &files)?;
    let index = if a.iac.is_empty() {
        None
    } else {
        Some(
            crate::iac::Index::load(&crate::iac::Options {
                dirs: a.iac.clone(),
                root: root.clone(),
                stacks: Default::default(),
                tf_states: Vec::new(),
            })
            .map_err(Error::stage)?,
        )
    };
    if let Some(out) = &a.fix_patch {
        let index = index.as_ref().ok_or_else(|| {
            Error::Usage(
                "--fix-patch with --tf-plan needs --iac DIR: the .tf files to patch".to_string(),
            )
        })?;
        let run = crate::patch::terraform::Audit {
            plans: &plans,
            opts: &opts,
            rules,
            config,
        };
        let p = crate::patch::terraform::patches(
            &run,
            index.terraform(),
            &snapshot,
            &built.origins,
            &eval.findings,
        )
        .map_err(Error::stage)?;
        write_patch(out, &p)?;
        p.attach_changes(&mut eval.findings);
    }
    let tf_property: std::collections::BTreeMap<&str, &str> = rules
        .rules
        .iter()
        .filter_map(|r| {
            let p = r.file.iac.as_ref()?.terraform.as_deref()?;
            Some((r.file.id.as_str(), p))
        })
        .collect();
    let texts: Vec<(String, String)> = plans
        .iter()
        .map(|p| {
            let rel = std::fs::canonicalize(&p.path)
                .ok()
                .and_then(|f| f.strip_prefix(&root).ok().map(Path::to_path_buf))
                .map(|p| {
                    p.components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .unwrap_or_else(|| p.path.display().to_string());
            (rel, std::fs::read_to_string(&p.path).unwrap_or_default())
        })
        .collect();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for f in eval.findings.iter_mut() {
        let Some(origin) = built.origins.get(&f.resource_arn) else {
            continue;
        };
        let address = origin.written_by();
        if let Some(index) = &index {
            match index.locate_terraform(address, tf_property.get(f.rule_id.as_str()).copied()) {
                Ok(d) => {
                    f.defined_in = Some(d);
                    continue;
                }
                Err(message) => {
                    if reported.insert(f.resource_arn.clone()) {
                        eval.diagnostics.push(Diagnostic {
                            kind: DiagnosticKind::IacLocation,
                            account: None,
                            rule_id: None,
                            pipeline: None,
                            resource: Some(f.resource_arn.clone()),
                            permission: None,
                            message: message.to_string(),
                        });
                    }
                }
            }
        }
        let Some(i) = plans.iter().position(|p| p.path == origin.file) else {
            continue;
        };
        let (rel, text) = &texts[i];
        if let Some(line) = address_line(text, address) {
            f.defined_in = Some(DefinedIn {
                file: rel.clone(),
                start_line: line,
                end_line: line,
                stack: None,
                resource: address.to_string(),
                property: None,
            });
        }
    }
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    write_report(
        a,
        rules,
        &scopes,
        &mut eval,
        Some(&snapshot),
        SARIF_CATEGORY,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_line_is_found() {
        let text = "{\n  \"planned_values\": {\n    \"resources\": [{\n      \"address\": \"aws_s3_bucket.a\",\n      \"x\": 1}, {\"address\": \"module.m.aws_s3_bucket.a\"}]}}";
        assert_eq!(address_line(text, "aws_s3_bucket.a"), Some(4));
        assert_eq!(address_line(text, "aws_s3_bucket.b"), None);
    }
}
