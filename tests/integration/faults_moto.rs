//! Hard conditions against moto_server 5.1.22 behind a fault-injecting
//! loopback proxy (`support::proxy`; every answer that is not a fault comes
//! from moto): throttling, 429 and 503 within and past the retry budget,
//! AccessDenied on a subset of calls, and Ctrl-C during remediation.

use crate::support;

use support::{diagnostics, findings};

use std::collections::BTreeSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy, Request};
use support::seed::{self, Defect, SeedClients, StackSpec};

fn pipeaudit(endpoint: &str, args: &[&str]) -> Output {
    support::pipeaudit_command(endpoint)
        .args(["--region", "us-east-1", "-q"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

async fn seed_stacks(moto: &Moto) {
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for (prefix, defects) in [
        (
            "flt-a",
            vec![Defect::KeyRotationOff, Defect::KeyPolicyPublic],
        ),
        ("flt-b", vec![Defect::VersioningOff, Defect::PollingOn]),
        ("flt-c", vec![Defect::PrivilegedMode]),
    ] {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects,
            shared_store: None,
        };
        seed::seed_stack(&c, &spec)
            .await
            .unwrap_or_else(|e| panic!("seed {prefix}: {e:#}"));
    }
}

fn digest(r: &Request) -> u64 {
    let mut h = DefaultHasher::new();
    (&r.method, &r.path, &r.body).hash(&mut h);
    h.finish()
}

#[tokio::test]
async fn throttling_within_the_budget_gives_the_same_findings() {
    let moto = Moto::start();
    seed_stacks(&moto).await;
    let clean = pipeaudit(&moto.endpoint, &["--format", "json"]);
    assert_eq!(clean.status.code(), Some(1));
    let clean = support::stdout_json(&clean);
    assert!(diagnostics(&clean).is_empty(), "{:#?}", diagnostics(&clean));

    // Two requests in three fail: one kind of fault each, once or twice
    // before they are let through; 4 attempts are allowed.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, attempt| {
            let d = digest(r);
            let failures = match d % 3 {
                0 => 0,
                1 => 1,
                _ => 2,
            };
            if attempt > failures {
                return None;
            }
            Some(match (d / 3) % 3 {
                0 => Fault::Throttle,
                1 => Fault::TooMany,
                _ => Fault::Unavailable,
            })
        }),
    );
    let o = pipeaudit(
        &proxy.endpoint,
        &["--format", "json", "--max-attempts", "4"],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let faulted = support::stdout_json(&o);
    let stats = proxy.stats();

    for kind in ["Throttle", "TooMany", "Unavailable"] {
        assert!(
            stats.faults.get(kind).copied().unwrap_or(0) >= 5,
            "{kind} injected: {stats:#?}"
        );
    }
    assert!(!findings(&clean).is_empty());
    assert_eq!(findings(&faulted), findings(&clean));
    assert!(
        diagnostics(&faulted).is_empty(),
        "{:#?}",
        diagnostics(&faulted)
    );
}

/// Past the retry budget a value is unknown: the rules that need it stay
/// silent (never a wrong pass or fail) and a diagnostic names the call.
#[tokio::test]
async fn past_the_budget_values_are_unknown_and_reported() {
    let moto = Moto::start();
    seed_stacks(&moto).await;
    let clean = support::stdout_json(&pipeaudit(&moto.endpoint, &["--format", "json"]));
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "kms:GetKeyRotationStatus").then_some(Fault::Throttle)),
    );
    let o = pipeaudit(
        &proxy.endpoint,
        &["--format", "json", "--max-attempts", "2"],
    );
    // values that could not be read are gaps: exit 2 (1 with --allow-partial)
    assert_eq!(o.status.code(), Some(2));
    let faulted = support::stdout_json(&o);
    // every key's rotation was asked for twice (one retry), then given up
    let asked = proxy
        .stats()
        .faults_by_op
        .get("kms:GetKeyRotationStatus")
        .copied()
        .unwrap_or(0);
    assert_eq!(asked, 6, "3 keys x 2 attempts");
    let lost: BTreeSet<_> = findings(&clean)
        .difference(&findings(&faulted))
        .cloned()
        .collect();
    assert!(
        findings(&faulted).is_subset(&findings(&clean)),
        "no new finding"
    );
    assert_eq!(
        lost.iter().map(|(r, _)| r.as_str()).collect::<Vec<_>>(),
        ["KM003"],
        "only the rotation rule went silent"
    );
    let diags = diagnostics(&faulted);
    let gaps: Vec<&Value> = diags
        .iter()
        .filter(|d| d["kind"] == "collection-gap")
        .collect();
    assert!(!gaps.is_empty());
    for d in &gaps {
        assert_eq!(d["permission"], "kms:GetKeyRotationStatus", "{d:#}");
        assert!(
            d["message"].as_str().unwrap_or("").contains("Throttling"),
            "{d:#}"
        );
    }
    // a gap is never a clean SARIF
    let s = pipeaudit(
        &proxy.endpoint,
        &["--format", "sarif", "--max-attempts", "2"],
    );
    assert_eq!(s.status.code(), Some(2));
}

#[tokio::test]
async fn access_denied_on_key_policies_silences_only_their_rules() {
    let moto = Moto::start();
    seed_stacks(&moto).await;
    let clean = support::stdout_json(&pipeaudit(&moto.endpoint, &["--format", "json"]));
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "kms:GetKeyPolicy").then_some(Fault::AccessDenied)),
    );
    let o = pipeaudit(&proxy.endpoint, &["--format", "json"]);
    assert_eq!(o.status.code(), Some(2), "gaps exit 2");
    let partial = pipeaudit(&proxy.endpoint, &["--format", "json", "--allow-partial"]);
    assert_eq!(partial.status.code(), Some(1), "as the findings say");
    let faulted = support::stdout_json(&o);
    assert!(findings(&faulted).is_subset(&findings(&clean)));
    let lost: BTreeSet<String> = findings(&clean)
        .difference(&findings(&faulted))
        .map(|(r, _)| r.clone())
        .collect();
    assert_eq!(lost, BTreeSet::from(["KM004".to_string()]));
    let diags = diagnostics(&faulted);
    assert!(!diags.is_empty());
    for d in &diags {
        assert_eq!(d["kind"], "collection-gap", "{d:#}");
        assert_eq!(d["permission"], "kms:GetKeyPolicy", "{d:#}");
    }
    // every other rule was still checked: the other stacks' findings stay
    for rule in ["AB008", "PL004", "CB003", "KM003"] {
        assert!(
            findings(&faulted).iter().any(|(r, _)| r == rule),
            "{rule} still found"
        );
    }
}

/// Unknown is not absent: with ec2:DescribeInstances denied, the deploy
/// target rules report the gap naming the action, never "no instances".
#[tokio::test]
async fn describe_instances_denied_is_a_gap_never_no_instances() {
    let moto = Moto::start();
    seed_stacks(&moto).await;
    let clean = support::stdout_json(&pipeaudit(&moto.endpoint, &["--format", "json"]));
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "ec2:DescribeInstances").then_some(Fault::AccessDenied)),
    );
    let o = pipeaudit(
        &proxy.endpoint,
        &["--format", "json", "--max-attempts", "1"],
    );
    assert_eq!(o.status.code(), Some(2), "gaps exit 2");
    let faulted = support::stdout_json(&o);
    assert!(
        proxy
            .stats()
            .faults
            .get("AccessDenied")
            .copied()
            .unwrap_or(0)
            >= 1,
        "{:#?}",
        proxy.stats()
    );
    // the seeded stacks' healthy instances: no deploy target finding either way
    assert_eq!(findings(&faulted), findings(&clean));
    let deploy_rules = ["CD002", "CD007", "CD008", "CD009"];
    assert!(
        !support::rule_ids(&faulted)
            .iter()
            .any(|r| deploy_rules.contains(&r.as_str()))
    );
    let diags = diagnostics(&faulted);
    for rule in deploy_rules {
        assert!(
            diags.iter().any(|d| d["rule_id"] == rule
                && d["kind"] == "collection-gap"
                && d["permission"] == "ec2:DescribeInstances"),
            "{rule}: {diags:#?}"
        );
    }
    for d in &diags {
        assert_eq!(d["permission"], "ec2:DescribeInstances", "{d:#}");
    }
}

#[tokio::test]
async fn ctrl_c_during_remediation_leaves_only_whole_journal_entries() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for (prefix, defect) in [
        ("int-a", Defect::KeyRotationOff),
        ("int-b", Defect::KeyRotationOff),
        ("int-c", Defect::KeyRotationOff),
        ("int-d", Defect::KeyRotationOff),
    ] {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects: vec![defect],
            shared_store: None,
        };
        seed::seed_stack(&c, &spec)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
    }
    // each write takes a while, so the interrupt lands during one
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "kms:EnableKeyRotation").then_some(Fault::DelayMs(1500))),
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let journal = dir.path().join("journal.json");
    let config = dir.path().join("pipeaudit.toml");
    // only the key-rotation fixes: four actions, one per key
    let others: Vec<String> = ["CB004", "CD006"]
        .iter()
        .map(|s| format!("{s:?}"))
        .collect();
    std::fs::write(&config, format!("disabled = [{}]\n", others.join(", ")))
        .unwrap_or_else(|e| panic!("{e}"));
    let child = support::pipeaudit_command(&proxy.endpoint)
        .args(["--region", "us-east-1"])
        .args(["--remediate", "--yes", "--journal"])
        .arg(&journal)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // wait for the first journal entry, then interrupt during the second write
    let deadline = Instant::now() + Duration::from_secs(120);
    while !journal.exists() {
        assert!(Instant::now() < deadline, "no journal written");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(killed.success());
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted after 2 of 4"), "{stderr}");
    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&journal).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("journal is not whole JSON: {e}"));
    assert_eq!(entries.len(), 2, "{entries:#?}");
    for e in &entries {
        assert_eq!(e["outcome"], "applied", "{e:#}");
        assert_eq!(e["action"], "key-rotation", "{e:#}");
    }
    assert!(!journal.with_extension("json.tmp").exists());
    // what the journal says is what happened: exactly two keys rotate now
    let rotated = {
        let keys = c
            .kms
            .list_keys()
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut n = 0;
        for k in keys.keys() {
            let id = k.key_id().unwrap_or_default();
            let on = c
                .kms
                .get_key_rotation_status()
                .key_id(id)
                .send()
                .await
                .map(|r| r.key_rotation_enabled())
                .unwrap_or(false);
            n += usize::from(on);
        }
        n
    };
    assert_eq!(rotated, 2);
}

#[tokio::test]
async fn an_unlistable_scope_is_an_error_not_a_clean_run() {
    let moto = Moto::start();
    seed_stacks(&moto).await;
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "codepipeline:ListPipelines").then_some(Fault::AccessDenied)),
    );
    let o = pipeaudit(&proxy.endpoint, &["--format", "json", "--exit-zero"]);
    assert_eq!(o.status.code(), Some(2), "no pipeline was audited");
    let r = support::stdout_json(&o);
    assert_eq!(r["summary"]["pipelines"], 0);
    let d = diagnostics(&r);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!(d[0]["kind"], "scope-error");
    assert_eq!(d[0]["permission"], "codepipeline:ListPipelines");
    assert!(String::from_utf8_lossy(&o.stderr).contains("could not be listed"));
}

/// An audit whose only pipeline could not be read (GetPipeline denied) is
/// not a clean run: every format exits 2 and says so, `--exit-zero` does
/// not change that, and `--allow-partial` exits as the findings say (none
/// here) with the gap still listed.
#[tokio::test]
async fn a_blind_run_exits_2_in_every_format() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let spec = StackSpec {
        prefix: "blind".to_string(),
        defects: vec![],
        shared_store: None,
    };
    seed::seed_stack(&c, &spec)
        .await
        .unwrap_or_else(|e| panic!("seed: {e:#}"));
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "codepipeline:GetPipeline").then_some(Fault::AccessDenied)),
    );
    for format in ["table", "json", "markdown", "html", "sarif"] {
        let o = pipeaudit(
            &proxy.endpoint,
            &["--format", format, "--max-attempts", "1"],
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{format}: {stderr}");
        assert!(stderr.contains("could not be made"), "{format}: {stderr}");
        let o = pipeaudit(
            &proxy.endpoint,
            &["--format", format, "--max-attempts", "1", "--exit-zero"],
        );
        assert_eq!(o.status.code(), Some(2), "{format} --exit-zero");
        let o = pipeaudit(
            &proxy.endpoint,
            &["--format", format, "--max-attempts", "1", "--allow-partial"],
        );
        assert_eq!(o.status.code(), Some(0), "{format} --allow-partial");
        let stdout = String::from_utf8_lossy(&o.stdout);
        if format != "sarif" {
            assert!(
                stdout.contains("blind-pipeline") && stdout.contains("could not be read"),
                "{format}: the gap is listed: {stdout}"
            );
        }
    }
    let o = pipeaudit(
        &proxy.endpoint,
        &["--format", "json", "--max-attempts", "1"],
    );
    let r = support::stdout_json(&o);
    let d = diagnostics(&r);
    assert!(
        d.iter().any(|d| d["kind"] == "collection-gap"
            && d["permission"] == "codepipeline:GetPipeline"),
        "{d:#?}"
    );
}
