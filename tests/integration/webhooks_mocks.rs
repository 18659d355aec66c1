//! Account-level collection: the build projects of a region that have a
//! webhook (ListProjects, BatchGetProjects by 100) and the region's source
//! credentials (ListSourceCredentials). moto 5.1.22 stores no webhook on a
//! project and has no ListSourceCredentials, so these reads are served by
//! `aws-smithy-mocks` (real wire-format bodies, the SDK's own deserializer).

use std::collections::BTreeMap;

use aws_config::BehaviorVersion;
use aws_sdk_codebuild::operation::batch_get_projects::BatchGetProjectsOutput;
use aws_sdk_codebuild::operation::list_projects::ListProjectsOutput;
use aws_sdk_codebuild::operation::list_source_credentials::ListSourceCredentialsOutput;
use aws_sdk_codebuild::types::{
    AuthType, Project, ProjectSource, PullRequestBuildApproverRole,
    PullRequestBuildCommentApproval, PullRequestBuildPolicy, ScopeConfiguration, ServerType,
    SourceCredentialsInfo, SourceType, Webhook, WebhookBuildType, WebhookFilter, WebhookFilterType,
    WebhookScopeType,
};
use aws_smithy_mocks::{Rule, mock};
use aws_types::SdkConfig;
use aws_types::region::Region;
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::clients::RegionClients;
use pipeaudit::collect::key_refs::{Ids, KeyResolver};
use pipeaudit::collect::webhooks;
use pipeaudit::model::{
    BuildProject, BuildRef, Observed, PipelineWiring, ReadErrorKind, Snapshot, WebhookFilter as F,
};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const SECRET: &str = "whsec-0123456789abcdef-never-stored";

fn arn(name: &str) -> String {
    format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{name}")
}

fn clients(rules: &[&Rule]) -> BTreeMap<String, RegionClients> {
    let cfg = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .build();
    let mut c = RegionClients::new(&cfg);
    c.codebuild = crate::mock_client!(aws_sdk_codebuild, rules);
    BTreeMap::from([(REGION.to_string(), c)])
}

fn filter(t: WebhookFilterType, pattern: &str) -> WebhookFilter {
    WebhookFilter::builder()
        .r#type(t)
        .pattern(pattern)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A GitHub project; with a webhook (secret included, as the API may
/// return it) when `hooked`.
fn project(name: &str, role: &str, hooked: bool) -> Project {
    let mut p = Project::builder()
        .name(name)
        .arn(arn(name))
        .service_role(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
        .source(
            ProjectSource::builder()
                .r#type(SourceType::Github)
                .location("https://github.com/example/app.git")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        );
    if hooked {
        p = p.webhook(
            Webhook::builder()
                .url("https://api.github.com/repos/example/app/hooks/1")
                .secret(SECRET)
                .build_type(WebhookBuildType::Build)
                .manual_creation(false)
                .branch_filter("^main$")
                .filter_groups(vec![
                    filter(
                        WebhookFilterType::Event,
                        "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED",
                    ),
                    filter(WebhookFilterType::ActorAccountId, "123456"),
                ])
                .scope_configuration(
                    ScopeConfiguration::builder()
                        .name("example")
                        .scope(WebhookScopeType::GithubOrganization)
                        .build()
                        .unwrap_or_else(|e| panic!("{e}")),
                )
                .pull_request_build_policy(
                    PullRequestBuildPolicy::builder()
                        .requires_comment_approval(
                            PullRequestBuildCommentApproval::ForkPullRequests,
                        )
                        .approver_roles(PullRequestBuildApproverRole::GithubWrite)
                        .approver_roles(PullRequestBuildApproverRole::GithubAdmin)
                        .build()
                        .unwrap_or_else(|e| panic!("{e}")),
                )
                .build(),
        );
    }
    p.build()
}

fn denied(action: &str) -> Option<String> {
    Some(format!(
        r#"{{"__type":"AccessDeniedException","Message":"not authorized to perform {action}"}}"#
    ))
}

/// A snapshot with one pipeline whose build project `piped` (role
/// `shared-role`) was read with the pipeline, webhook included.
fn snapshot() -> Snapshot {
    let mut s = Snapshot::new(ACCOUNT.to_string(), vec![REGION.to_string()], String::new());
    let pipeline = format!("arn:aws:codepipeline:{REGION}:{ACCOUNT}:app");
    s.pipelines.push(PipelineWiring {
        name: "app".to_string(),
        arn: pipeline,
        region: REGION.to_string(),
        builds: vec![BuildRef {
            stage: "Build".to_string(),
            action: "Build".to_string(),
            project_name: "piped".to_string(),
            project_arn: arn("piped"),
        }],
        ..PipelineWiring::default()
    });
    let mut piped = BuildProject {
        name: "piped".to_string(),
        arn: arn("piped"),
        service_role: Some(format!("arn:aws:iam::{ACCOUNT}:role/shared-role")),
        ..BuildProject::default()
    };
    piped.webhook = Some(pipeaudit::model::Webhook::default());
    s.resources
        .build_projects
        .insert(arn("piped"), Observed::ok(piped));
    s
}

async fn run(rules: &[&Rule], s: &mut Snapshot) -> BTreeMap<String, u64> {
    let clients = clients(rules);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let ids = Ids {
        partition: "aws",
        account: ACCOUNT,
    };
    let aliases = BTreeMap::new();
    let keys = KeyResolver {
        ids,
        aliases: &aliases,
    };
    webhooks::collect(&ctx, &clients, ids, &keys, s).await;
    ctx.calls()
}

#[tokio::test]
async fn webhook_projects_are_read_once_with_what_they_share_and_no_secret() {
    let list = mock!(aws_sdk_codebuild::Client::list_projects).then_output(|| {
        ListProjectsOutput::builder()
            .projects("hooked")
            .projects("plain")
            .projects("piped")
            .build()
    });
    // the pipeline's own project is not read again
    let batch = mock!(aws_sdk_codebuild::Client::batch_get_projects)
        .match_requests(|r| r.names() == ["hooked".to_string(), "plain".to_string()])
        .then_output(|| {
            BatchGetProjectsOutput::builder()
                .projects(project("hooked", "shared-role", true))
                .projects(project("plain", "other-role", false))
                .build()
        });
    let creds = mock!(aws_sdk_codebuild::Client::list_source_credentials).then_output(|| {
        ListSourceCredentialsOutput::builder()
            .source_credentials_infos(
                SourceCredentialsInfo::builder()
                    .arn(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:token/github"))
                    .server_type(ServerType::Github)
                    .auth_type(AuthType::PersonalAccessToken)
                    .build(),
            )
            .source_credentials_infos(
                SourceCredentialsInfo::builder()
                    .arn(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:token/gitlab"))
                    .server_type(ServerType::Gitlab)
                    .auth_type(AuthType::Codeconnections)
                    .resource(format!(
                        "arn:aws:codeconnections:{REGION}:{ACCOUNT}:connection/abc"
                    ))
                    .build(),
            )
            .build()
    });
    let mut s = snapshot();
    let calls = run(&[&list, &batch, &creds], &mut s).await;
    assert_eq!(batch.num_calls(), 1);
    assert_eq!(calls.get("codebuild:ListProjects"), Some(&1));
    assert_eq!(calls.get("codebuild:BatchGetProjects"), Some(&1));
    assert_eq!(calls.get("codebuild:ListSourceCredentials"), Some(&1));
    assert!(s.account_checks);

    // projects with a webhook only, each with what it shares
    let refs: Vec<(&str, Vec<&str>)> = s
        .webhook_projects
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.shares.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        refs,
        [
            ("hooked", vec!["service-role"]),
            // its role is the pipeline's build role: its own
            ("piped", vec!["build-project", "service-role"])
        ]
    );
    assert!(!s.resources.build_projects.contains_key(&arn("plain")));

    // the webhook as read
    let hooked = s.resources.build_projects[&arn("hooked")]
        .value()
        .and_then(|p| p.webhook.clone())
        .unwrap_or_else(|| panic!("no webhook"));
    assert_eq!(hooked.build_type.as_deref(), Some("BUILD"));
    assert_eq!(hooked.branch_filter.as_deref(), Some("^main$"));
    assert_eq!(
        hooked.filter_groups,
        [vec![
            F {
                filter_type: "EVENT".to_string(),
                pattern: "PULL_REQUEST_CREATED, PULL_REQUEST_UPDATED".to_string(),
                exclude_matched_pattern: false,
            },
            F {
                filter_type: "ACTOR_ACCOUNT_ID".to_string(),
                pattern: "123456".to_string(),
                exclude_matched_pattern: false,
            }
        ]]
    );
    let scope = hooked.scope.unwrap_or_else(|| panic!("no scope"));
    assert_eq!(
        (scope.scope_type.as_str(), scope.name.as_str()),
        ("GITHUB_ORGANIZATION", "example")
    );
    let policy = hooked
        .pull_request_build_policy
        .unwrap_or_else(|| panic!("no policy"));
    assert_eq!(policy.requires_comment_approval, "FORK_PULL_REQUESTS");
    assert_eq!(policy.approver_roles, ["GITHUB_WRITE", "GITHUB_ADMIN"]);

    // the source credentials, without any token
    let creds = s.resources.source_credentials[REGION]
        .value()
        .unwrap_or_else(|| panic!("no credentials"));
    let kinds: Vec<(&str, &str)> = creds
        .iter()
        .map(|c| (c.server_type.as_str(), c.auth_type.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("GITHUB", "PERSONAL_ACCESS_TOKEN"),
            ("GITLAB", "CODECONNECTIONS")
        ]
    );

    // the secret never reaches the snapshot
    let json = s.to_json();
    assert!(!json.contains(SECRET), "the webhook secret was stored");
    assert!(json.contains("\"webhook_projects\""));
}

#[tokio::test]
async fn projects_are_read_in_batches_of_100() {
    let list = mock!(aws_sdk_codebuild::Client::list_projects)
        .sequence()
        .output(|| {
            ListProjectsOutput::builder()
                .set_projects(Some((0..100).map(|i| format!("p{i:03}")).collect()))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            ListProjectsOutput::builder()
                .set_projects(Some((100..150).map(|i| format!("p{i:03}")).collect()))
                .build()
        })
        .build();
    let batch = mock!(aws_sdk_codebuild::Client::batch_get_projects)
        .match_requests(|r| r.names().len() <= 100)
        .then_output(|| {
            BatchGetProjectsOutput::builder()
                .projects(project("p007", "r", true))
                .projects(project("p120", "r", true))
                .build()
        });
    let creds = mock!(aws_sdk_codebuild::Client::list_source_credentials)
        .then_output(|| ListSourceCredentialsOutput::builder().build());
    let mut s = snapshot();
    let calls = run(&[&list, &batch, &creds], &mut s).await;
    assert_eq!(calls.get("codebuild:ListProjects"), Some(&2));
    assert_eq!(calls.get("codebuild:BatchGetProjects"), Some(&2));
    let names: Vec<&str> = s.webhook_projects.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["p007", "p120", "piped"]);
    assert_eq!(
        s.resources.source_credentials[REGION].value().map(Vec::len),
        Some(0)
    );
}

#[tokio::test]
async fn denied_listings_name_the_permission_never_none() {
    let list = mock!(aws_sdk_codebuild::Client::list_projects)
        .sequence()
        .http_status(400, denied("codebuild:ListProjects"))
        .repeatedly()
        .build();
    let creds = mock!(aws_sdk_codebuild::Client::list_source_credentials)
        .sequence()
        .http_status(400, denied("codebuild:ListSourceCredentials"))
        .repeatedly()
        .build();
    let mut s = snapshot();
    run(&[&list, &creds], &mut s).await;
    let scope = s
        .scope_errors
        .iter()
        .find(|e| e.scope == webhooks::PROJECTS_SCOPE)
        .unwrap_or_else(|| panic!("no scope error: {:?}", s.scope_errors));
    assert_eq!(scope.error.action, "codebuild:ListProjects");
    assert_eq!(scope.error.kind, ReadErrorKind::AccessDenied);
    let e = s.resources.source_credentials[REGION]
        .error()
        .unwrap_or_else(|| panic!("source credentials not unknown"));
    assert_eq!(e.action, "codebuild:ListSourceCredentials");
    assert_eq!(e.kind, ReadErrorKind::AccessDenied);
    // the pipeline's own project, read before, is still checked
    assert_eq!(s.webhook_projects.len(), 1);
}

#[tokio::test]
async fn a_failed_batch_leaves_its_projects_unknown_not_absent() {
    let list = mock!(aws_sdk_codebuild::Client::list_projects)
        .then_output(|| ListProjectsOutput::builder().projects("hooked").build());
    let batch = mock!(aws_sdk_codebuild::Client::batch_get_projects)
        .sequence()
        .http_status(400, denied("codebuild:BatchGetProjects"))
        .repeatedly()
        .build();
    let creds = mock!(aws_sdk_codebuild::Client::list_source_credentials)
        .then_output(|| ListSourceCredentialsOutput::builder().build());
    let mut s = snapshot();
    run(&[&list, &batch, &creds], &mut s).await;
    let e = s.resources.build_projects[&arn("hooked")]
        .error()
        .unwrap_or_else(|| panic!("not unknown"));
    assert_eq!(e.action, "codebuild:BatchGetProjects");
    assert!(s.webhook_projects.iter().any(|r| r.arn == arn("hooked")));
}

fn mocks_for_rules() -> [Rule; 3] {
    let list = mock!(aws_sdk_codebuild::Client::list_projects)
        .then_output(|| ListProjectsOutput::builder().projects("hooked").build());
    let batch = mock!(aws_sdk_codebuild::Client::batch_get_projects).then_output(|| {
        BatchGetProjectsOutput::builder()
            .projects(project("hooked", "shared-role", true))
            .build()
    });
    let creds = mock!(aws_sdk_codebuild::Client::list_source_credentials).then_output(|| {
        ListSourceCredentialsOutput::builder()
            .source_credentials_infos(
                SourceCredentialsInfo::builder()
                    .arn(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:token/github"))
                    .server_type(ServerType::Github)
                    .auth_type(AuthType::PersonalAccessToken)
                    .build(),
            )
            .source_credentials_infos(
                SourceCredentialsInfo::builder()
                    .arn(format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:token/gitlab"))
                    .server_type(ServerType::Gitlab)
                    .auth_type(AuthType::Codeconnections)
                    .build(),
            )
            .build()
    });
    [list, batch, creds]
}

/// The account findings of a snapshot: (rule, resource, message).
fn account_findings(
    s: Snapshot,
) -> (
    Vec<(String, String, String)>,
    Vec<pipeaudit::findings::Diagnostic>,
) {
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = pipeaudit::rules::engine::evaluate(
        std::sync::Arc::new(s),
        &rules,
        &pipeaudit::rules::config::Config::default(),
    );
    let findings = e
        .findings
        .iter()
        .filter(|f| f.pipeline == pipeaudit::findings::ACCOUNT_SECTION)
        .map(|f| {
            assert_eq!(f.pipeline_arn, ACCOUNT);
            (f.rule_id.clone(), f.resource_arn.clone(), f.message.clone())
        })
        .collect();
    (findings, e.diagnostics)
}

#[tokio::test]
async fn collected_webhooks_are_judged_by_the_account_rules() {
    let [list, batch, creds] = mocks_for_rules();
    let mut s = snapshot();
    run(&[&list, &batch, &creds], &mut s).await;
    let (findings, _) = account_findings(s);
    let ids: Vec<(&str, &str)> = findings
        .iter()
        .map(|(r, a, _)| (r.as_str(), a.as_str()))
        .collect();
    let hooked = arn("hooked");
    let token = format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:token/github");
    let piped = arn("piped");
    // hooked: the unanchored actor filter of a pull request group (CB014);
    // its legacy branch filter ^main$ is anchored (no CB018) and forks wait
    // for approval (no CB015). piped, the pipeline's project, has a
    // webhook without filter groups: every pull request builds (CB015).
    // hooked reads the repository's buildspec.yml (CB017). The stored
    // token (CB019); the connection passes.
    assert_eq!(
        ids,
        [
            ("CB014", hooked.as_str()),
            ("CB015", piped.as_str()),
            ("CB017", hooked.as_str()),
            ("CB019", token.as_str()),
        ],
        "{findings:#?}"
    );
    assert!(
        findings[0].2.contains("accepts account id 1234560"),
        "{}",
        findings[0].2
    );
}

#[tokio::test]
async fn without_account_checks_nothing_is_judged() {
    let mut s = snapshot();
    s.account_checks = false;
    let (findings, _) = account_findings(s);
    assert!(findings.is_empty(), "{findings:?}");
}

/// A snapshot whose webhook projects have the given actor patterns on a
/// push group.
fn with_actor_patterns(patterns: &[(&str, &str)]) -> Snapshot {
    let mut s = snapshot();
    s.account_checks = true;
    for (name, pattern) in patterns {
        let p = BuildProject {
            name: name.to_string(),
            arn: arn(name),
            webhook: Some(pipeaudit::model::Webhook {
                filter_groups: vec![vec![
                    F {
                        filter_type: "EVENT".to_string(),
                        pattern: "PUSH".to_string(),
                        exclude_matched_pattern: false,
                    },
                    F {
                        filter_type: "ACTOR_ACCOUNT_ID".to_string(),
                        pattern: pattern.to_string(),
                        exclude_matched_pattern: false,
                    },
                ]],
                ..pipeaudit::model::Webhook::default()
            }),
            ..BuildProject::default()
        };
        s.resources
            .build_projects
            .insert(arn(name), Observed::ok(p));
        s.webhook_projects
            .push(pipeaudit::model::WebhookProjectRef {
                arn: arn(name),
                name: name.to_string(),
                region: REGION.to_string(),
                ..Default::default()
            });
    }
    s
}

#[test]
fn patterns_that_cannot_be_read_are_reported_never_passed() {
    let s = with_actor_patterns(&[
        ("lookaround", r"^(?!1)\d+$"),
        ("broken", "^(123$"),
        ("anchored", "^123$"),
    ]);
    let (findings, diagnostics) = account_findings(s);
    assert!(
        findings.iter().all(|(r, _, _)| r != "CB014"),
        "{findings:?}"
    );
    let cb014: Vec<(String, String, String)> = diagnostics
        .iter()
        .filter(|d| d.rule_id.as_deref() == Some("CB014"))
        .map(|d| {
            (
                d.kind.as_str().to_string(),
                d.resource.clone().unwrap_or_default(),
                d.message.clone(),
            )
        })
        .collect();
    assert_eq!(cb014.len(), 2, "{cb014:#?}");
    let (kind, resource, message) = &cb014
        .iter()
        .find(|d| d.1 == arn("lookaround"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(kind, "not-analysed");
    assert_eq!(resource, &arn("lookaround"));
    assert!(
        message.contains("look-around") && message.contains("lookaround"),
        "{message}"
    );
    let (kind, _, message) = &cb014
        .iter()
        .find(|d| d.1 == arn("broken"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(kind, "rule-error");
    assert!(
        message.contains("build project broken")
            && message.contains("not a valid regular expression"),
        "{message}"
    );
}

#[test]
fn an_unread_project_or_region_is_a_gap_naming_the_permission() {
    let mut s = with_actor_patterns(&[]);
    let error = pipeaudit::model::ReadError {
        kind: ReadErrorKind::AccessDenied,
        action: "codebuild:BatchGetProjects".to_string(),
        code: Some("AccessDeniedException".to_string()),
        message: "denied".to_string(),
    };
    s.resources.build_projects.insert(
        arn("unread"),
        Observed::Unknown {
            error: error.clone(),
        },
    );
    s.webhook_projects
        .push(pipeaudit::model::WebhookProjectRef {
            arn: arn("unread"),
            name: "unread".to_string(),
            region: REGION.to_string(),
            ..Default::default()
        });
    s.resources.source_credentials.insert(
        REGION.to_string(),
        Observed::Unknown {
            error: pipeaudit::model::ReadError {
                action: "codebuild:ListSourceCredentials".to_string(),
                ..error
            },
        },
    );
    let (findings, diagnostics) = account_findings(s);
    assert!(findings.is_empty(), "{findings:?}");
    let gaps: Vec<(&str, &str)> = diagnostics
        .iter()
        .filter(|d| d.kind == pipeaudit::findings::DiagnosticKind::CollectionGap)
        .filter_map(|d| Some((d.rule_id.as_deref()?, d.permission.as_deref()?)))
        .collect();
    for id in ["CB014", "CB015", "CB016", "CB017", "CB018"] {
        assert!(
            gaps.contains(&(id, "codebuild:BatchGetProjects")),
            "{id}: {gaps:?}"
        );
    }
    assert!(
        gaps.contains(&("CB019", "codebuild:ListSourceCredentials")),
        "{gaps:?}"
    );
}

#[test]
fn rules_explain_shows_how_a_filter_group_is_read() {
    let rules = pipeaudit::rules::RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let rule = rules.get("CB014").unwrap_or_else(|| panic!("no CB014"));
    let text = pipeaudit::docs::explain(rule, pipeaudit::docs::ExplainFormat::Table);
    for want in [
        "Scope: account",
        "How a filter group is read",
        "builds on: PUSH, PULL_REQUEST_CREATED",
        r#"ACTOR_ACCOUNT_ID "123456|7891011" must match: bypassable: "1234560" is accepted"#,
        r#"HEAD_REF "refs/heads/main" must match: bypassable: "refs/heads/main-" is accepted"#,
        r#"ACTOR_ACCOUNT_ID "^(123456|7891011)$" must match: exact"#,
        r#"FILE_PATH "^src/" must not match: not a boundary"#,
    ] {
        assert!(text.contains(want), "{want}\n---\n{text}");
    }
    let rule = rules.get("CB015").unwrap_or_else(|| panic!("no CB015"));
    let text = pipeaudit::docs::explain(rule, pipeaudit::docs::ExplainFormat::Table);
    assert!(text.contains("Severity critical when"), "{text}");
}
