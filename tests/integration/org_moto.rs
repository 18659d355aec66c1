//! Several accounts against moto_server 5.1.22: moto switches accounts by
//! the role ARN assumed through STS, so each account is seeded and audited
//! through its own role. One account's role is refused by the
//! fault-injecting proxy (`support::proxy`) in front of moto.

use crate::support;

use std::collections::BTreeSet;
use std::process::Output;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, Defect, SeedClients, StackSpec};

const A: &str = "111111111111";
const B: &str = "222222222222";
const C: &str = "333333333333";

fn role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/pipeaudit-audit")
}

/// An ARN as it appears form-encoded in a query request body.
fn urlencoding_min(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}

fn pipeaudit(endpoint: &str, args: &[&str]) -> Output {
    support::pipeaudit_command(endpoint)
        .args(["--region", "us-east-1"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

fn fingerprints(r: &Value) -> BTreeSet<String> {
    r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["fingerprint"].as_str().map(str::to_string))
        .collect()
}

async fn seed_account(moto: &Moto, account: &str, prefix: &str, defect: Defect) {
    let c = SeedClients::connect_as(&moto.endpoint, "us-east-1", &role(account))
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(c.account, account, "moto switched accounts");
    let spec = StackSpec {
        prefix: prefix.to_string(),
        defects: vec![defect],
        shared_store: None,
    };
    seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("seed {prefix}: {e:#}"));
}

#[tokio::test]
async fn accounts_are_audited_through_their_roles_and_a_failing_one_is_reported() {
    let moto = Moto::start();
    seed_account(&moto, A, "org-a", Defect::KeyRotationOff).await;
    seed_account(&moto, B, "org-b", Defect::VersioningOff).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let accounts = dir.path().join("accounts.txt");
    std::fs::write(
        &accounts,
        format!("# the organization\n{A}\n{}\n{C}\n", role(B)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let accounts = accounts.display().to_string();

    // the role in C cannot be assumed; every AssumeRole request is kept
    let assumed: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = assumed.clone();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(move |r, _| {
            let body = String::from_utf8_lossy(&r.body).to_string();
            let is_assume = r.op() == "sts:AssumeRole";
            if is_assume && let Ok(mut v) = seen.lock() {
                v.push(body.clone());
            }
            (is_assume && body.contains(C)).then_some(Fault::AccessDenied)
        }),
    );
    let snapshots = dir.path().join("snapshots");
    let o = pipeaudit(
        &proxy.endpoint,
        &[
            "--accounts",
            &accounts,
            "--role-name",
            "pipeaudit-audit",
            "--external-id",
            "ext-123",
            "--account-concurrency",
            "2",
            "--format",
            "json",
            "--save-snapshot",
            &snapshots.display().to_string(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "an account failed: {stderr}");
    assert!(
        stderr.contains("1 of 3 account(s) could not be audited"),
        "{stderr}"
    );
    // the refusal of sts:AssumeRole, read from the credentials provider's
    // error chain: one line, no SDK debug output
    let failed_line = stderr
        .lines()
        .find(|l| l.contains(&format!("account {C} failed")))
        .unwrap_or_default();
    assert!(
        failed_line.contains(
            "access denied: AccessDenied: User is not authorized to perform: sts:AssumeRole"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Some(") && !stderr.contains("WARN"),
        "{stderr}"
    );
    let requests = assumed.lock().map(|v| v.clone()).unwrap_or_default();
    for account in [A, B, C] {
        let arn = urlencoding_min(&role(account));
        assert!(
            requests.iter().any(|b| b.contains(&arn)
                && b.contains("RoleSessionName=pipeaudit")
                && b.contains("ExternalId=ext-123")),
            "{account}: {requests:#?}"
        );
    }
    let r = support::stdout_json(&o);
    assert_eq!(r["account"], serde_json::json!([A, B]));
    let by_account: BTreeSet<(String, String)> = r["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            (
                f["account"].as_str().unwrap_or("").to_string(),
                f["rule_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        by_account.contains(&(A.to_string(), "KM003".to_string())),
        "{by_account:?}"
    );
    assert!(
        by_account.contains(&(B.to_string(), "AB008".to_string())),
        "{by_account:?}"
    );
    assert!(!by_account.contains(&(A.to_string(), "AB008".to_string())));
    assert!(!by_account.contains(&(B.to_string(), "KM003".to_string())));
    let failed: Vec<&Value> = r["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["kind"] == "account-error")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["account"], C);
    assert_eq!(failed[0]["resource"], role(C));
    assert_eq!(failed[0]["permission"], "sts:AssumeRole");
    // each audited account's snapshot was saved, none for the failed one
    for (account, expect) in [(A, true), (B, true), (C, false)] {
        assert_eq!(
            snapshots.join(format!("{account}.json")).exists(),
            expect,
            "{account}"
        );
    }
    let saved = pipeaudit::model::Snapshot::load(&snapshots.join(format!("{A}.json")))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved.account, A);
    assert_eq!(saved.pipelines.len(), 1);

    // SARIF: one run per audited account and region, none for the failed one
    let s = pipeaudit(
        &proxy.endpoint,
        &[
            "--accounts",
            &accounts,
            "--role-name",
            "pipeaudit-audit",
            "--format",
            "sarif",
        ],
    );
    let sarif = support::stdout_json(&s);
    let categories: Vec<&str> = sarif["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|run| run["automationDetails"]["id"].as_str())
        .collect();
    assert_eq!(
        categories,
        [
            format!("pipeaudit/aws/{A}/us-east-1/"),
            format!("pipeaudit/aws/{B}/us-east-1/")
        ]
    );
}

#[tokio::test]
async fn shards_split_the_accounts_and_merge_back_into_the_whole() {
    let moto = Moto::start();
    let accounts = ["444444444444", "555555555555", "666666666666"];
    for (i, a) in accounts.iter().enumerate() {
        seed_account(&moto, a, &format!("shd-{i}"), Defect::KeyRotationOff).await;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("accounts.txt");
    std::fs::write(&file, accounts.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    let file = file.display().to_string();
    let common = [
        "--accounts",
        file.as_str(),
        "--role-name",
        "pipeaudit-audit",
        "--format",
        "json",
    ];

    let whole = pipeaudit(&moto.endpoint, &common);
    assert_eq!(whole.status.code(), Some(1));
    let whole = support::stdout_json(&whole);
    let mut parts = Vec::new();
    let mut seen = BTreeSet::new();
    for shard in ["1/2", "2/2"] {
        let out = dir.path().join(format!("shard-{}.json", &shard[..1]));
        let mut args = common.to_vec();
        let out_s = out.display().to_string();
        args.extend(["--shard", shard, "-o", &out_s]);
        let o = pipeaudit(&moto.endpoint, &args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let mine: BTreeSet<String> = match &r["account"] {
            Value::String(a) => BTreeSet::from([a.clone()]),
            Value::Array(list) => list
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            other => panic!("{other}"),
        };
        assert!(seen.is_disjoint(&mine), "shards overlap");
        seen.extend(mine);
        parts.push(out_s);
    }
    assert_eq!(seen.len(), 3, "the shards cover every account");
    let mut args = vec!["merge"];
    args.extend(parts.iter().map(String::as_str));
    let merged = pipeaudit(&moto.endpoint, &args);
    assert_eq!(merged.status.code(), Some(0));
    let merged = support::stdout_json(&merged);
    assert_eq!(fingerprints(&merged), fingerprints(&whole));
    assert_eq!(merged["summary"], whole["summary"]);
    assert_eq!(merged["account"], whole["account"]);
    assert_eq!(merged["account"].as_array().map(Vec::len), Some(3));
}

/// moto has no Account API: `--region all-enabled` must then fail with a
/// clear error naming the call, not audit a guessed set of regions.
#[tokio::test]
async fn all_enabled_without_the_account_api_is_a_clear_error() {
    let moto = Moto::start();
    let o = support::pipeaudit_command(&moto.endpoint)
        .args(["--region", "all-enabled", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "--region all-enabled: cannot list the account's enabled regions (account:ListRegions"
        ),
        "{stderr}"
    );
    assert!(o.stdout.is_empty());
    let o = pipeaudit(&moto.endpoint, &["--region", "all-enabled", "snapshot"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be combined with named regions"));
}
