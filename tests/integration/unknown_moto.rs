//! Unknown is never read as absent: for each kind of resource (and each
//! separately read part of one), the read is denied and the audit must then
//! make no finding that depends on it, and name the IAM action in a
//! collection-gap diagnostic instead.
//!
//! Reference stacks are seeded into moto_server 5.1.22; the denials come
//! from the fault-injecting loopback proxy in front of it
//! (`support::proxy`), because moto grants every call: every answer that is
//! not the injected AccessDenied is moto's.

use crate::support;

use support::{diagnostics, findings, rule_ids};

use serde_json::Value;
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, Defect, SeedClients, StackSpec};

fn audit(endpoint: &str, extra: &[&str]) -> Value {
    let o = support::pipeaudit_command(endpoint)
        .args(["--region", "us-east-1", "-q", "--format", "json"])
        .args(["--max-attempts", "1"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    support::stdout_json(&o)
}

/// Seeds one stack per entry and audits it cleanly (no diagnostic).
async fn seeded(stacks: &[(&str, Vec<Defect>)]) -> (Moto, Value) {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    for (prefix, defects) in stacks {
        let spec = StackSpec {
            prefix: prefix.to_string(),
            defects: defects.clone(),
            shared_store: None,
        };
        seed::seed_stack(&c, &spec)
            .await
            .unwrap_or_else(|e| panic!("seed {prefix}: {e:#}"));
    }
    let clean = audit(&moto.endpoint, &[]);
    assert!(diagnostics(&clean).is_empty(), "{:#?}", diagnostics(&clean));
    (moto, clean)
}

/// What one denied read must do to the audit.
struct Denial<'a> {
    /// The request as the proxy names it (`service:Operation`, for S3
    /// `s3:METHOD ?subresource`); several joined by `|` are all denied.
    op: &'a str,
    /// The IAM action the diagnostics must name.
    action: &'a str,
    /// Rules that need the value: they fire on the clean audit (when
    /// listed in `fired`) and never once the read is denied; each reports
    /// the gap.
    dependent: &'a [&'a str],
    /// Rules among `dependent` that fire on the clean audit.
    fired: &'a [&'a str],
    /// Rules that do not need the value and still fire.
    kept: &'a [&'a str],
}

/// Audits with `d.op` denied and checks the outcome against `clean`.
fn check(moto: &Moto, clean: &Value, d: &Denial<'_>, extra: &[&str]) -> Value {
    let ops: Vec<String> = d.op.split('|').map(str::to_string).collect();
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(move |r, _| ops.contains(&r.op()).then_some(Fault::AccessDenied)),
    );
    let faulted = audit(&proxy.endpoint, extra);
    let stats = proxy.stats();
    let denied: u64 =
        d.op.split('|')
            .map(|op| stats.faults_by_op.get(op).copied().unwrap_or(0))
            .sum();
    assert!(denied > 0, "{} was never asked for", d.op);

    let before = rule_ids(clean);
    for id in d.fired {
        assert!(before.contains(*id), "{id} fires on the clean audit");
    }
    // (a) nothing new, and nothing that needs the value
    assert!(
        findings(&faulted).is_subset(&findings(clean)),
        "{}: new findings {:#?}",
        d.op,
        findings(&faulted).difference(&findings(clean))
    );
    let after = rule_ids(&faulted);
    for id in d.dependent {
        assert!(!after.contains(*id), "{}: {id} fired on an unknown", d.op);
    }
    for id in d.kept {
        assert!(after.contains(*id), "{}: {id} still checked", d.op);
    }
    // (b) every dependent rule reports the gap, naming the action
    let diags = diagnostics(&faulted);
    for d2 in &diags {
        // a listing that failed is also reported once for its scope
        assert!(
            d2["kind"] == "collection-gap" || d2["kind"] == "scope-error",
            "{}: {d2:#}",
            d.op
        );
        assert_eq!(d2["permission"], d.action, "{}: {d2:#}", d.op);
    }
    for id in d.dependent {
        assert!(
            diags.iter().any(|x| x["rule_id"] == *id),
            "{}: no gap reported for {id}: {diags:#?}",
            d.op
        );
    }
    faulted
}

#[tokio::test]
async fn unknown_pipeline_declaration_checks_nothing_of_it() {
    let (moto, clean) = seeded(&[("unk-pl", vec![Defect::VersioningOff])]).await;
    let d = Denial {
        op: "codepipeline:GetPipeline",
        action: "codepipeline:GetPipeline",
        dependent: &[],
        fired: &["AB008"],
        kept: &[],
    };
    let faulted = check(&moto, &clean, &d, &[]);
    assert!(findings(&faulted).is_empty(), "{faulted:#}");
    let diags = diagnostics(&faulted);
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert_eq!(diags[0]["pipeline"], "unk-pl-pipeline");
}

#[tokio::test]
async fn unknown_build_project_silences_its_rules() {
    let (moto, clean) = seeded(&[
        (
            "unk-cb",
            vec![Defect::PrivilegedMode, Defect::PlaintextSecret],
        ),
        ("unk-cb2", vec![Defect::VersioningOff]),
    ])
    .await;
    // moto keeps no key on a project: CB004 fires on every stack
    let d = Denial {
        op: "codebuild:BatchGetProjects",
        action: "codebuild:BatchGetProjects",
        dependent: &[
            "CB002", "CB003", "CB004", "CB005", "CB006", "CB007", "CB008",
        ],
        fired: &["CB002", "CB003", "CB004"],
        kept: &["AB008"],
    };
    let faulted = check(&moto, &clean, &d, &[]);
    // the build role could not be learned: the service-role rules say so
    // for it (and still check the pipeline's other roles)
    let diags = diagnostics(&faulted);
    for id in ["IA001", "IA002", "IA003"] {
        assert!(
            diags.iter().any(|x| x["rule_id"] == id
                && x["resource"]
                    .as_str()
                    .is_some_and(|r| r.contains(":project/unk-cb-build"))),
            "{id}: {diags:#?}"
        );
    }
}

#[tokio::test]
async fn unknown_deployment_group_and_application_silence_their_rules() {
    let (moto, clean) = seeded(&[
        ("unk-cd", vec![Defect::NoRollback, Defect::AllAtOnce]),
        ("unk-cd2", vec![Defect::KeyRotationOff]),
    ])
    .await;
    // moto drops a group's alarms: CD006 fires on every stack
    let group = Denial {
        op: "codedeploy:GetDeploymentGroup",
        action: "codedeploy:GetDeploymentGroup",
        dependent: &["CD001", "CD002", "CD003", "CD004", "CD005", "CD006"],
        fired: &["CD003", "CD004", "CD006"],
        kept: &["KM003"],
    };
    let faulted = check(&moto, &clean, &group, &[]);
    assert!(
        diagnostics(&faulted).iter().any(|x| x["rule_id"] == "IA002"
            && x["resource"]
                .as_str()
                .is_some_and(|r| r.contains(":deploymentgroup:unk-cd-app/unk-cd-group"))),
        "{:#?}",
        diagnostics(&faulted)
    );
    // the batch read and the single reads it falls back to
    let application = Denial {
        op: "codedeploy:BatchGetApplications|codedeploy:GetApplication",
        action: "codedeploy:GetApplication",
        dependent: &["CD001"],
        fired: &[],
        kept: &["CD003", "CD004", "KM003"],
    };
    check(&moto, &clean, &application, &[]);
}

#[tokio::test]
async fn unknown_repository_is_not_a_missing_one() {
    let (moto, clean) = seeded(&[
        ("unk-sc", vec![Defect::MissingRepo]),
        ("unk-sc2", vec![Defect::VersioningOff]),
    ])
    .await;
    let d = Denial {
        op: "codecommit:GetRepository",
        action: "codecommit:GetRepository",
        dependent: &["SC001"],
        fired: &["SC001"],
        kept: &["AB008"],
    };
    check(&moto, &clean, &d, &[]);
}

#[tokio::test]
async fn trigger_rules_whose_targets_are_unknown_are_not_missing() {
    let (moto, clean) = seeded(&[
        ("unk-tr1", vec![Defect::NoTrigger]),
        ("unk-tr2", vec![Defect::TriggerDisabled]),
        ("unk-tr3", vec![Defect::TriggerNoRole, Defect::PollingOn]),
    ])
    .await;
    let d = Denial {
        op: "events:ListTargetsByRule",
        action: "events:ListTargetsByRule",
        dependent: &["TR001", "TR002", "TR003", "TR004"],
        fired: &["TR001", "TR002", "TR004"],
        kept: &["PL004"],
    };
    let faulted = check(&moto, &clean, &d, &[]);
    // the pipeline without any rule is told apart from one whose rules
    // could not be read: its TR001 reports the gap
    let diags = diagnostics(&faulted);
    assert!(
        diags
            .iter()
            .any(|x| x["rule_id"] == "TR001" && x["pipeline"] == "unk-tr1-pipeline"),
        "{diags:#?}"
    );
    // the targets' roles could not be learned either
    assert!(diags.iter().any(|x| x["rule_id"] == "IA001"), "{diags:#?}");

    // Listing the rules at all fails: the same, as a scope gap.
    let listing = Denial {
        op: "events:ListRules",
        action: "events:ListRules",
        dependent: &["TR001", "TR002", "TR003", "TR004"],
        fired: &["TR001", "TR002", "TR004"],
        kept: &["PL004"],
    };
    check(&moto, &clean, &listing, &[]);
}

/// Turning polling off needs a rule known to start the pipeline: with the
/// trigger rules unknown, PL004 is a manual step, not a planned change.
#[tokio::test]
async fn polling_is_not_turned_off_while_the_trigger_rules_are_unknown() {
    let (moto, _) = seeded(&[("unk-pol", vec![Defect::PollingOn])]).await;
    let plan = audit(&moto.endpoint, &["--remediate", "--dry-run"]);
    let actions = |p: &Value| -> Vec<String> {
        p["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["action"].as_str().map(str::to_string))
            .collect()
    };
    assert!(
        actions(&plan).contains(&"source-polling-off".to_string()),
        "{plan:#}"
    );
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "events:ListTargetsByRule").then_some(Fault::AccessDenied)),
    );
    let plan = audit(&proxy.endpoint, &["--remediate", "--dry-run"]);
    assert!(
        !actions(&plan).contains(&"source-polling-off".to_string()),
        "{plan:#}"
    );
    assert!(
        plan["manual"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["rule_id"] == "PL004"),
        "{plan:#}"
    );
}

/// A new artifact key's policy names the pipeline's roles: with the build
/// project unknown, its role is too, and a key without it could lock the
/// build out. The fix becomes a manual step.
#[tokio::test]
async fn no_new_key_is_planned_for_roles_that_could_not_be_read() {
    let (moto, _) = seeded(&[("unk-cmk", vec![Defect::NoCmk])]).await;
    let args = ["--remediate", "--dry-run", "--unsafe-fixes"];
    let planned = |p: &Value, action: &str| {
        p["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|a| a["action"] == action)
    };
    let plan = audit(&moto.endpoint, &args);
    assert!(planned(&plan, "store-create-cmk"), "{plan:#}");
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "codebuild:BatchGetProjects").then_some(Fault::AccessDenied)),
    );
    let plan = audit(&proxy.endpoint, &args);
    assert!(!planned(&plan, "store-create-cmk"), "{plan:#}");
    assert!(
        plan["manual"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|m| m["rule_id"] == "PL002"),
        "{plan:#}"
    );
}

#[tokio::test]
async fn each_unknown_part_of_a_bucket_silences_only_its_rules() {
    let (moto, clean) = seeded(&[
        (
            "unk-ab1",
            vec![Defect::BucketNoPolicy, Defect::VersioningOff],
        ),
        (
            "unk-ab2",
            vec![Defect::BucketNoEncryption, Defect::PublicAccessBlockOff],
        ),
        ("unk-ab3", vec![Defect::BucketPolicyPublic]),
    ])
    .await;
    let all = &[
        "AB001", "AB002", "AB003", "AB004", "AB005", "AB006", "AB007", "AB008",
    ];
    // The bucket as a whole (every read of it refused, as a bucket policy
    // denying the auditor does): no read is made only to learn that the
    // bucket exists, so the first read's action is named.
    let head = Denial {
        op: "s3:GET ?encryption|s3:GET ?policy|s3:GET ?publicAccessBlock|s3:GET ?versioning|s3:GET ?logging",
        action: "s3:GetEncryptionConfiguration",
        dependent: all,
        fired: &["AB002", "AB004", "AB005", "AB006", "AB007", "AB008"],
        kept: &["CB004"],
    };
    check(&moto, &clean, &head, &[]);
    for d in [
        Denial {
            op: "s3:GET ?policy",
            action: "s3:GetBucketPolicy",
            dependent: &["AB004", "AB005", "AB007"],
            fired: &["AB004", "AB005", "AB007"],
            kept: &["AB002", "AB006", "AB008"],
        },
        Denial {
            op: "s3:GET ?encryption",
            action: "s3:GetEncryptionConfiguration",
            dependent: &["AB002", "AB003"],
            fired: &["AB002"],
            kept: &["AB004", "AB006", "AB007", "AB008"],
        },
        Denial {
            op: "s3:GET ?versioning",
            action: "s3:GetBucketVersioning",
            dependent: &["AB008"],
            fired: &["AB008"],
            kept: &["AB002", "AB004", "AB006", "AB007"],
        },
        Denial {
            op: "s3:GET ?publicAccessBlock",
            action: "s3:GetBucketPublicAccessBlock",
            dependent: &["AB006"],
            fired: &["AB006"],
            kept: &["AB002", "AB004", "AB007", "AB008"],
        },
    ] {
        check(&moto, &clean, &d, &[]);
    }
}

#[tokio::test]
async fn each_unknown_part_of_a_key_silences_only_its_rules() {
    let (moto, clean) = seeded(&[
        (
            "unk-km1",
            vec![Defect::KeyRotationOff, Defect::KeyPolicyPublic],
        ),
        ("unk-km2", vec![Defect::KeyDisabled]),
    ])
    .await;
    for d in [
        Denial {
            op: "kms:GetKeyPolicy",
            action: "kms:GetKeyPolicy",
            dependent: &["KM004", "KM005"],
            fired: &["KM004"],
            kept: &["KM002", "KM003"],
        },
        Denial {
            op: "kms:GetKeyRotationStatus",
            action: "kms:GetKeyRotationStatus",
            dependent: &["KM003"],
            fired: &["KM003"],
            kept: &["KM002", "KM004"],
        },
        Denial {
            op: "kms:DescribeKey",
            action: "kms:DescribeKey",
            dependent: &["KM001", "KM002", "KM003", "KM004", "KM005"],
            fired: &["KM002", "KM003", "KM004"],
            kept: &["CB004", "CD006"],
        },
    ] {
        check(&moto, &clean, &d, &[]);
    }
}

#[tokio::test]
async fn each_unknown_part_of_a_role_silences_only_its_rules() {
    let (moto, clean) = seeded(&[
        ("unk-ia1", vec![Defect::AdminPipelineRole]),
        (
            "unk-ia2",
            vec![Defect::TriggerNoRole, Defect::VersioningOff],
        ),
    ])
    .await;
    for d in [
        // The role itself: its trust policy comes with it.
        Denial {
            op: "iam:GetRole",
            action: "iam:GetRole",
            dependent: &[
                "PL003", "CB008", "CD005", "IA001", "IA002", "IA003", "KM005",
            ],
            fired: &["IA001"],
            kept: &["AB008", "TR004"],
        },
        Denial {
            op: "iam:ListRolePolicies",
            action: "iam:ListRolePolicies",
            dependent: &["IA001"],
            fired: &["IA001"],
            kept: &["AB008", "TR004"],
        },
        Denial {
            op: "iam:ListAttachedRolePolicies",
            action: "iam:ListAttachedRolePolicies",
            dependent: &["IA001"],
            fired: &["IA001"],
            kept: &["AB008", "TR004"],
        },
        Denial {
            op: "iam:GetRolePolicy",
            action: "iam:GetRolePolicy",
            dependent: &["IA001"],
            fired: &["IA001"],
            kept: &["AB008", "TR004"],
        },
        // The admin policy is attached: its document is what IA001 needs.
        Denial {
            op: "iam:GetPolicyVersion",
            action: "iam:GetPolicyVersion",
            dependent: &["IA001"],
            fired: &["IA001"],
            kept: &["AB008", "TR004"],
        },
    ] {
        // the reads of one role at a time (moto's few roles are otherwise
        // read in bulk)
        check(&moto, &clean, &d, &["--iam-read", "per-role"]);
    }
    // A refused bulk read is no gap for the service-role rules: the roles
    // are then read one by one. The release paths are not analysed: their
    // rules report the gap, naming the action.
    let bulk = Denial {
        op: "iam:GetAccountAuthorizationDetails",
        action: "iam:GetAccountAuthorizationDetails",
        dependent: &[
            "RP001", "RP002", "RP003", "RP004", "RP005", "RP006", "RP007", "RP008", "RP009",
        ],
        fired: &[],
        kept: &["IA001", "AB008", "TR004"],
    };
    let faulted = check(&moto, &clean, &bulk, &["--iam-read", "account-details"]);
    assert_eq!(findings(&faulted), findings(&clean));
    assert!(
        diagnostics(&faulted)
            .iter()
            .all(|d| d["rule_id"].as_str().is_some_and(|r| r.starts_with("RP"))),
        "{faulted:#}"
    );
}
