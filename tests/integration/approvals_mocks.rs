//! Approval rule templates, which moto 5.1.22 does not serve (it answers
//! ListAssociatedApprovalRuleTemplatesForRepository and
//! GetApprovalRuleTemplate with 500), so their reads go through
//! `aws-smithy-mocks`: every page of the associations is read, each
//! template once however many repositories share it, a denied read leaves
//! that repository unknown naming the permission. Then RP001's message on
//! the bundled demo: how many approvals pull-request merges into the
//! release branch need and from whom, none, or not known (with a gap).

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_codecommit::operation::get_approval_rule_template::GetApprovalRuleTemplateOutput;
use aws_sdk_codecommit::operation::list_associated_approval_rule_templates_for_repository::ListAssociatedApprovalRuleTemplatesForRepositoryOutput;
use aws_sdk_codecommit::types::ApprovalRuleTemplate as SdkTemplate;
use aws_smithy_mocks::{Rule, mock};
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::codecommit;
use pipeaudit::findings::DiagnosticKind;
use pipeaudit::model::principals::{IamPrincipal, InlinePolicy, PrincipalKind, PrincipalSet};
use pipeaudit::model::{
    ApprovalRequirement, ApprovalRuleTemplate, Observed, PolicyText, ReadError, ReadErrorKind,
    Snapshot,
};

const ACCOUNT: &str = "123456789012";
const REPO: &str = "arn:aws:codecommit:us-east-1:123456789012:demo-000-repo";
const POOL: &str = "arn:aws:sts::123456789012:assumed-role/Reviewers/*";

fn client(rules: &[&Rule]) -> aws_sdk_codecommit::Client {
    crate::mock_client!(aws_sdk_codecommit, rules, no_retry)
}

fn template(name: &str, content: &str) -> GetApprovalRuleTemplateOutput {
    GetApprovalRuleTemplateOutput::builder()
        .approval_rule_template(
            SdkTemplate::builder()
                .approval_rule_template_name(name)
                .approval_rule_template_content(content)
                .build(),
        )
        .build()
}

fn two_reviewers() -> String {
    format!(
        r#"{{"Version":"2018-11-08","DestinationReferences":["refs/heads/main"],"Statements":[{{"Type":"Approvers","NumberOfApprovalsNeeded":2,"ApprovalPoolMembers":["{POOL}"]}}]}}"#
    )
}

#[tokio::test]
async fn templates_are_read_once_each_across_pages_and_repositories() {
    let a_page1 =
        mock!(aws_sdk_codecommit::Client::list_associated_approval_rule_templates_for_repository)
            .match_requests(|r| r.repository_name() == Some("a") && r.next_token().is_none())
            .then_output(|| {
                ListAssociatedApprovalRuleTemplatesForRepositoryOutput::builder()
                    .approval_rule_template_names("two-reviewers")
                    .next_token("t2")
                    .build()
            });
    let a_page2 =
        mock!(aws_sdk_codecommit::Client::list_associated_approval_rule_templates_for_repository)
            .match_requests(|r| r.repository_name() == Some("a") && r.next_token() == Some("t2"))
            .then_output(|| {
                ListAssociatedApprovalRuleTemplatesForRepositoryOutput::builder()
                    .approval_rule_template_names("release-only")
                    .build()
            });
    let b =
        mock!(aws_sdk_codecommit::Client::list_associated_approval_rule_templates_for_repository)
            .match_requests(|r| r.repository_name() == Some("b"))
            .then_output(|| {
                ListAssociatedApprovalRuleTemplatesForRepositoryOutput::builder()
                    .approval_rule_template_names("two-reviewers")
                    .build()
            });
    let denied = mock!(
        aws_sdk_codecommit::Client::list_associated_approval_rule_templates_for_repository
    )
    .match_requests(|r| r.repository_name() == Some("c"))
    .sequence()
    .http_status(
        400,
        Some(
            r#"{"__type":"AccessDeniedException","message":"not authorized to perform codecommit:ListAssociatedApprovalRuleTemplatesForRepository"}"#
                .to_string(),
        ),
    )
    .repeatedly()
    .build();
    let get_two = mock!(aws_sdk_codecommit::Client::get_approval_rule_template)
        .match_requests(|r| r.approval_rule_template_name() == Some("two-reviewers"))
        .then_output(|| template("two-reviewers", &two_reviewers()));
    let get_release = mock!(aws_sdk_codecommit::Client::get_approval_rule_template)
        .match_requests(|r| r.approval_rule_template_name() == Some("release-only"))
        .then_output(|| {
            template(
                "release-only",
                r#"{"Version":"2018-11-08","DestinationReferences":["refs/heads/release"],"Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":1}]}"#,
            )
        });
    let c = client(&[&a_page1, &a_page2, &b, &denied, &get_two, &get_release]);
    let clients: BTreeMap<String, aws_sdk_codecommit::Client> =
        [("us-east-1".to_string(), c)].into_iter().collect();
    let repo = |n: &str| {
        (
            format!("arn:aws:codecommit:us-east-1:{ACCOUNT}:{n}"),
            n.to_string(),
            "us-east-1".to_string(),
        )
    };
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got: BTreeMap<String, Observed<Vec<ApprovalRuleTemplate>>> =
        codecommit::approval_templates(&ctx, &clients, &[repo("a"), repo("b"), repo("c")])
            .await
            .into_iter()
            .collect();
    let names = |n: &str| -> Vec<String> {
        got[&repo(n).0]
            .value()
            .unwrap_or_else(|| panic!("{n}: {:?}", got[&repo(n).0]))
            .iter()
            .map(|t| t.name.clone())
            .collect()
    };
    assert_eq!(names("a"), ["two-reviewers", "release-only"]);
    assert_eq!(names("b"), ["two-reviewers"]);
    let shared = &got[&repo("b").0].value().unwrap_or_else(|| panic!())[0];
    assert_eq!(shared.destination_references, ["refs/heads/main"]);
    assert_eq!(
        shared.approvals,
        [ApprovalRequirement {
            needed: 2,
            pool: vec![POOL.to_string()]
        }]
    );
    assert!(shared.applies_to("refs/heads/main") && !shared.applies_to("refs/heads/dev"));
    let e = got[&repo("c").0]
        .error()
        .unwrap_or_else(|| panic!("{:?}", got[&repo("c").0]));
    assert_eq!(e.kind, ReadErrorKind::AccessDenied);
    assert_eq!(
        e.action,
        "codecommit:ListAssociatedApprovalRuleTemplatesForRepository"
    );
    // one read per template, though two repositories share one
    assert_eq!((get_two.num_calls(), get_release.num_calls()), (1, 1));
    assert_eq!((a_page1.num_calls(), a_page2.num_calls()), (1, 1));
    crate::support::assert_policy_grants("iam-audit-policy.json", ctx.calls().keys());
}

/// The demo's compliant stack with one user who may push to its branch.
fn demo_with_pusher() -> Snapshot {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    let mut s = Snapshot::load(std::path::Path::new(demo)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    s.principals = Some(Observed::ok(PrincipalSet {
        principals: vec![IamPrincipal {
            arn: format!("arn:aws:iam::{ACCOUNT}:user/pusher"),
            name: "pusher".to_string(),
            kind: PrincipalKind::User,
            inline: vec![InlinePolicy {
                name: "push".to_string(),
                group: None,
                document: PolicyText::parse(&format!(
                    r#"{{"Statement":[{{"Effect":"Allow","Action":"codecommit:GitPush","Resource":"{REPO}"}}]}}"#
                )),
            }],
            attached: Vec::new(),
            boundary: None,
            trust: None,
        }],
        policies: BTreeMap::new(),
        read: 1,
    }));
    s
}

fn rp001(s: Snapshot) -> (String, Vec<pipeaudit::findings::Diagnostic>) {
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = pipeaudit::rules::engine::evaluate(
        Arc::new(s),
        &rules,
        &pipeaudit::rules::config::Config::default(),
    );
    let found: Vec<_> = eval
        .findings
        .iter()
        .filter(|f| f.rule_id == "RP001")
        .collect();
    assert_eq!(found.len(), 1, "{:#?}", eval.findings);
    assert!(found[0].resource_arn.ends_with("user/pusher"));
    (found[0].message.clone(), eval.diagnostics)
}

#[test]
fn rp001_says_whether_pull_request_merges_need_approvals() {
    // two approvals from the reviewers' pool; a template for another
    // branch does not count
    let mut s = demo_with_pusher();
    s.resources.approval_templates.insert(
        REPO.to_string(),
        Observed::ok(vec![
            ApprovalRuleTemplate::parse("two-reviewers", &two_reviewers()),
            ApprovalRuleTemplate::parse(
                "release-only",
                r#"{"DestinationReferences":["refs/heads/release"],"Statements":[{"Type":"Approvers","NumberOfApprovalsNeeded":5}]}"#,
            ),
        ]),
    );
    let (m, diags) = rp001(s);
    assert!(
        m.contains(&format!(
            "pull-request merges into main need 2 approval(s) from {POOL} (template two-reviewers)"
        )) && !m.contains("release-only"),
        "{m}"
    );
    assert!(
        diags
            .iter()
            .all(|d| d.kind != DiagnosticKind::CollectionGap),
        "{diags:#?}"
    );

    // no template applies
    let mut s = demo_with_pusher();
    s.resources
        .approval_templates
        .insert(REPO.to_string(), Observed::ok(Vec::new()));
    let (m, _) = rp001(s);
    assert!(
        m.contains("pull-request merges into main need no approval"),
        "{m}"
    );

    // not readable: the path is still reported, the message says it is
    // not known, and a gap names the permission
    let mut s = demo_with_pusher();
    s.resources.approval_templates.insert(
        REPO.to_string(),
        Observed::Unknown {
            error: ReadError {
                kind: ReadErrorKind::AccessDenied,
                action: "codecommit:ListAssociatedApprovalRuleTemplatesForRepository".to_string(),
                code: Some("AccessDeniedException".to_string()),
                message: "denied".to_string(),
            },
        },
    );
    let (m, diags) = rp001(s);
    assert!(
        m.contains("whether pull-request merges into main need approvals is not known"),
        "{m}"
    );
    let gaps: Vec<_> = diags
        .iter()
        .filter(|d| d.kind == DiagnosticKind::CollectionGap)
        .collect();
    assert_eq!(gaps.len(), 1, "{diags:#?}");
    assert_eq!(gaps[0].rule_id.as_deref(), Some("RP001"));
    assert_eq!(gaps[0].resource.as_deref(), Some(REPO));
    assert_eq!(
        gaps[0].permission.as_deref(),
        Some("codecommit:ListAssociatedApprovalRuleTemplatesForRepository")
    );
}
