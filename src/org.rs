//! Auditing many accounts: each account's role is assumed, the account is
//! collected and evaluated, and its snapshot is released before the next
//! one starts, so memory follows the accounts in flight
//! (`--account-concurrency`), not the organization. One account failing
//! (a role that cannot be assumed, say) is recorded and the others go on.
//! A pipeline that deploys a stack into another account of the audit has
//! that stack (and the roles CloudFormation acts as there) read in that
//! account and added to its own snapshot before the evaluation
//! ([`collect::linked`]); only those few values outlive an account.

use std::path::PathBuf;
use std::sync::Arc;

use aws_types::SdkConfig;
use futures::StreamExt;

use crate::collect::linked::Linker;
use crate::collect::targets::AccountTarget;
use crate::collect::{self, CollectOptions, clients};
use crate::findings::{Diagnostic, DiagnosticKind};
use crate::report::{self, Scope};
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine::{self, Evaluation};

/// How to reach and run the accounts.
#[derive(Debug, Clone, Default)]
pub struct OrgOptions {
    /// Passed to sts:AssumeRole when the roles require one.
    pub external_id: Option<String>,
    /// Accounts audited at once.
    pub account_concurrency: usize,
    /// Save each account's snapshot as `<dir>/<account>.json`.
    pub save_dir: Option<PathBuf>,
    /// Every account of the audit, those of other shards too: the
    /// accounts whose stacks a pipeline's deploys are followed into (see
    /// [`collect::linked`]). Empty: the audited targets.
    pub audit: Vec<AccountTarget>,
}

/// What one account gave.
#[derive(Debug)]
pub struct AccountSummary {
    pub target: AccountTarget,
    /// The audited regions; `Err` with the reason when the account failed.
    pub result: Result<AccountCounts, String>,
}

/// Counts of one audited account.
#[derive(Debug, Clone, Default)]
pub struct AccountCounts {
    pub regions: Vec<String>,
    pub pipelines: usize,
    pub api_calls: u64,
    pub unread: usize,
    pub findings: usize,
}

/// The combined audit of every account, finished (ignores and severity
/// overrides applied once over all accounts).
#[derive(Debug, Default)]
pub struct OrgAudit {
    pub scopes: Vec<Scope>,
    pub evaluation: Evaluation,
    pub accounts: Vec<AccountSummary>,
}

impl OrgAudit {
    /// The accounts that could not be audited.
    pub fn failed(&self) -> impl Iterator<Item = (&AccountTarget, &str)> {
        self.accounts
            .iter()
            .filter_map(|a| a.result.as_ref().err().map(|e| (&a.target, e.as_str())))
    }
}

struct AccountOutcome {
    target: AccountTarget,
    /// On failure: the message, and the permission involved when known.
    result: Result<(AccountCounts, Evaluation), (String, Option<&'static str>)>,
}

async fn audit_one(
    base: &SdkConfig,
    target: AccountTarget,
    opts: &CollectOptions,
    org: &OrgOptions,
    rules: Arc<RuleSet>,
    config: Arc<Config>,
    linker: &Linker,
) -> AccountOutcome {
    let cfg = clients::assume_role_config(base, &target.role_arn, org.external_id.as_deref()).await;
    let mut snapshot = match collect::collect_account(&cfg, opts, Some(&target.account)).await {
        Ok(s) => s,
        Err(e) => {
            let permission = match e {
                collect::CollectError::Credentials(_) | collect::CollectError::Identity(_) => {
                    Some("sts:AssumeRole")
                }
                collect::CollectError::Config(_) => None,
            };
            return AccountOutcome {
                result: Err((
                    format!("{} ({}): {e}", target.account, target.role_arn),
                    permission,
                )),
                target,
            };
        }
    };
    // the stacks its pipelines deploy into the audit's other accounts,
    // read there, before the evaluation
    linker.follow(&mut snapshot).await;
    if let Some(dir) = &org.save_dir {
        let path = dir.join(format!("{}.json", target.account));
        if let Err(e) = snapshot.save(&path) {
            return AccountOutcome {
                result: Err((format!("{}: {e}", target.account), None)),
                target,
            };
        }
    }
    let counts = AccountCounts {
        regions: snapshot.regions.clone(),
        pipelines: snapshot.pipelines.len(),
        api_calls: snapshot.api_calls.values().sum(),
        unread: snapshot.read_errors().len(),
        findings: 0,
    };
    let snapshot = Arc::new(snapshot);
    // CPU work off the async workers; the snapshot is dropped when it ends.
    let evaluated =
        tokio::task::spawn_blocking(move || engine::evaluate_unfinished(snapshot, &rules, &config))
            .await;
    let result = match evaluated {
        Ok(eval) => Ok((
            AccountCounts {
                findings: eval.findings.len(),
                ..counts
            },
            eval,
        )),
        Err(e) => Err((
            format!("{}: the evaluation failed: {e}", target.account),
            None,
        )),
    };
    AccountOutcome { target, result }
}

/// Audits every target, at most `org.account_concurrency` at once, and
/// combines the results. `progress` is called as each account ends.
pub async fn audit_accounts(
    base: &SdkConfig,
    targets: Vec<AccountTarget>,
    opts: &CollectOptions,
    org: &OrgOptions,
    rules: Arc<RuleSet>,
    config: Arc<Config>,
    mut progress: impl FnMut(&AccountSummary),
) -> OrgAudit {
    let mut out = OrgAudit::default();
    let audit = if org.audit.is_empty() {
        &targets
    } else {
        &org.audit
    };
    let linker = Linker::new(
        base,
        org.external_id.clone(),
        audit
            .iter()
            .map(|t| (t.account.clone(), t.role_arn.clone())),
        opts.concurrency,
    );
    let linker = &linker;
    let mut stream = futures::stream::iter(
        targets
            .into_iter()
            .map(|t| audit_one(base, t, opts, org, rules.clone(), config.clone(), linker)),
    )
    .buffer_unordered(org.account_concurrency.max(1));
    while let Some(done) = stream.next().await {
        let account = done.target.account.clone();
        let summary = match done.result {
            Ok((counts, eval)) => {
                out.scopes.extend(report::scopes(&account, &counts.regions));
                out.evaluation.pipelines += eval.pipelines;
                out.evaluation.account_checks |= eval.account_checks;
                out.evaluation.findings.extend(eval.findings);
                out.evaluation
                    .diagnostics
                    .extend(eval.diagnostics.into_iter().map(|mut d| {
                        d.account = Some(account.clone());
                        d
                    }));
                AccountSummary {
                    target: done.target,
                    result: Ok(counts),
                }
            }
            Err((message, permission)) => {
                out.evaluation.diagnostics.push(Diagnostic {
                    kind: DiagnosticKind::AccountError,
                    account: Some(account.clone()),
                    rule_id: None,
                    pipeline: None,
                    resource: Some(done.target.role_arn.clone()),
                    permission: permission.map(str::to_string),
                    message: format!("account not audited: {message}"),
                });
                AccountSummary {
                    target: done.target,
                    result: Err(message),
                }
            }
        };
        progress(&summary);
        out.accounts.push(summary);
    }
    engine::finish(&mut out.evaluation, &config);
    out.scopes.sort();
    out.accounts
        .sort_by(|a, b| a.target.account.cmp(&b.target.account));
    out
}
