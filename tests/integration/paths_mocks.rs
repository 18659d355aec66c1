//! The bulk principal read where moto cannot serve it: moto never truncates
//! GetAccountAuthorizationDetails and never refuses it, so paging and a
//! denied read go through `aws-smithy-mocks`. Also `pipeaudit paths` on a
//! snapshot that holds no principals (exit 2) and on the bundled demo.

use aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput;
use aws_sdk_iam::types::{
    AttachedPolicy, ManagedPolicyDetail, PolicyDetail, PolicyVersion, UserDetail,
};
use aws_smithy_mocks::{Rule, mock};
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::principals;
use pipeaudit::model::ReadErrorKind;

fn client(rules: &[&Rule]) -> aws_sdk_iam::Client {
    crate::mock_client!(aws_sdk_iam, rules, sequential)
}

fn user(name: &str, policy: Option<&str>) -> UserDetail {
    let mut u = UserDetail::builder()
        .user_name(name)
        .arn(format!("arn:aws:iam::123456789012:user/{name}"))
        .user_policy_list(
            PolicyDetail::builder()
                .policy_name("work")
                .policy_document("%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22codecommit%3AGitPush%22%2C%22Resource%22%3A%22*%22%7D%5D%7D")
                .build(),
        );
    if let Some(p) = policy {
        u = u.attached_managed_policies(AttachedPolicy::builder().policy_arn(p).build());
    }
    u.build()
}

#[tokio::test]
async fn every_page_of_both_passes_is_read_and_only_used_policies_kept() {
    let used = "arn:aws:iam::123456789012:policy/used";
    let page1 = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| r.marker().is_none() && r.filter().iter().any(|f| f.as_str() == "User"))
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(user("a", Some("arn:aws:iam::123456789012:policy/used")))
                .is_truncated(true)
                .marker("m1")
                .build()
        });
    let page2 = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| r.marker() == Some("m1"))
        .then_output(|| {
            GetAccountAuthorizationDetailsOutput::builder()
                .user_detail_list(user("b", None))
                .is_truncated(false)
                .build()
        });
    let policies = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| r.filter().iter().any(|f| f.as_str() == "LocalManagedPolicy"))
        .then_output(|| {
            let p = |arn: &str| {
                ManagedPolicyDetail::builder()
                    .arn(arn)
                    .policy_name(arn.rsplit('/').next().unwrap_or_default())
                    .default_version_id("v1")
                    .policy_version_list(
                        PolicyVersion::builder()
                            .version_id("v1")
                            .is_default_version(true)
                            .document(r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#)
                            .build(),
                    )
                    .build()
            };
            GetAccountAuthorizationDetailsOutput::builder()
                .policies(p("arn:aws:iam::123456789012:policy/used"))
                .policies(p("arn:aws:iam::123456789012:policy/unused"))
                .is_truncated(false)
                .build()
        });
    let c = client(&[&page1, &page2, &policies]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = principals::read(&ctx, &c).await;
    let set = got.value().unwrap_or_else(|| panic!("{got:?}"));
    let names: Vec<&str> = set.principals.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(set.policies.keys().collect::<Vec<_>>(), [used]);
    // the percent-encoded inline document was decoded and parsed
    assert!(set.principals[0].inline[0].document.document.is_some());
    assert_eq!(
        (page1.num_calls(), page2.num_calls(), policies.num_calls()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_denied_bulk_read_leaves_the_principals_unknown() {
    let denied = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .sequence()
        .http_status(
            403,
            Some(
                r#"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform iam:GetAccountAuthorizationDetails</Message></Error></ErrorResponse>"#
                    .to_string(),
            ),
        )
        .repeatedly()
        .build();
    let c = client(&[&denied]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = principals::read(&ctx, &c).await;
    let e = got.error().unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(e.kind, ReadErrorKind::AccessDenied);
    assert_eq!(e.action, "iam:GetAccountAuthorizationDetails");
    // the release-path rules then report the gap, naming the permission
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    let mut s = pipeaudit::model::Snapshot::load(std::path::Path::new(demo))
        .unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    s.principals = Some(got);
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = pipeaudit::rules::engine::evaluate(
        std::sync::Arc::new(s),
        &rules,
        &pipeaudit::rules::config::Config::default(),
    );
    let gaps: Vec<_> = eval
        .diagnostics
        .iter()
        .filter(|d| d.permission.as_deref() == Some("iam:GetAccountAuthorizationDetails"))
        .collect();
    assert!(!gaps.is_empty(), "{:#?}", eval.diagnostics);
    assert!(eval.findings.iter().all(|f| !f.rule_id.starts_with("RP")));
}

#[test]
fn paths_of_a_snapshot_without_principals_exit_2_naming_the_permission() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    let mut s = pipeaudit::model::Snapshot::load(std::path::Path::new(demo))
        .unwrap_or_else(|e| panic!("{e}"));
    s.principals = None;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("old.json");
    s.save(&path).unwrap_or_else(|e| panic!("{e}"));
    let p = path.display().to_string();
    let out = crate::support::offline(&["paths", "--snapshot", &p]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not analysed") && text.contains("iam:GetAccountAuthorizationDetails"),
        "{text}"
    );
    // the bundled demo (principals read, none holding a path): exit 0
    let out = crate::support::offline(&["paths", "--snapshot", demo, "--format", "markdown"]);
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("# Who can ship to production"), "{md}");
    assert_eq!(
        md.matches("No release path outside the pipeline.").count(),
        39
    );
}
