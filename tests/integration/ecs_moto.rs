//! ECS and ECR deploys against moto_server 5.1.22: reference stacks whose
//! deploy stage is an `ECS` action (or a `CodeDeployToECS` action and its
//! ECS deployment group), with their cluster, service, task definition and
//! ECR repository seeded in moto. The correct pipelines get a clean report
//! under a `[reference] deploy` that accepts the ECS providers; each defect
//! fires its rule for exactly its resource; a denied ECS or ECR read is a
//! diagnostic naming the permission, never a finding.

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_sdk_codedeploy::types as cd;
use aws_sdk_codepipeline::types as cp;
use aws_sdk_ecr::types as ecrt;
use aws_sdk_ecs::types as ecst;
use pipeaudit::collect::{CollectOptions, collect_with_config};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;
use serde_json::json;
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, SeedClients, StackSpec};

const REGION: &str = "us-east-1";

/// The reference that accepts the ECS deploy providers.
const ECS_REFERENCE: &str = r#"
[reference]
profile = "ecs"
"#;

/// moto stores no custom key on a build project, so CB004 fires on every
/// seeded stack (see `audit_moto`); and it drops a deployment group's alarm
/// configuration, so CD006 fires on every CodeDeploy group.
const MOTO_FORCED: &[&str] = &["CB004"];

/// What to build into an ECS stack.
#[derive(Debug, Clone, Copy, Default)]
struct EcsSpec {
    /// Deploy with `CodeDeployToECS` (blue/green) instead of `ECS`.
    blue_green: bool,
    /// The task role allows `*` on `*`.
    admin_task_role: bool,
    /// The pipeline role may pass any role to ecs-tasks.amazonaws.com.
    pass_any_task_role: bool,
    /// The repository's image tag mutability and exclusion filters.
    mutability: &'static str,
    exclusions: &'static [&'static str],
    /// The image reference after the repository URI (`:tag` or `@digest`).
    image_suffix: &'static str,
    /// The repository policy lets another account push.
    foreign_push: bool,
    /// The blue/green group does not roll back on failure.
    no_rollback: bool,
    /// The blue/green group shifts all traffic at once.
    all_at_once: bool,
}

struct EcsSeeded {
    pipeline: String,
    /// The ECS deployment group (blue/green stacks).
    group_arn: String,
    service_arn: String,
    repository_arn: String,
    task_role: String,
}

struct Clients {
    seed: SeedClients,
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
}

async fn clients(moto: &Moto) -> Clients {
    let config = moto.sdk_config(REGION).await;
    Clients {
        seed: SeedClients::connect(&moto.endpoint, REGION)
            .await
            .unwrap_or_else(|e| panic!("{e:#}")),
        ecs: aws_sdk_ecs::Client::new(&config),
        ecr: aws_sdk_ecr::Client::new(&config),
    }
}

/// Seeds a reference stack and turns its deploy stage into an ECS deploy.
async fn seed_ecs(c: &Clients, prefix: &str, spec: EcsSpec) -> anyhow::Result<EcsSeeded> {
    let s = seed::seed_stack(
        &c.seed,
        &StackSpec {
            prefix: prefix.to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await?;
    let account = c.seed.account.clone();
    let [_, build_role, deploy_role, _] = &s.roles[..] else {
        anyhow::bail!("the stack has not four roles");
    };

    // Task role.
    let task_role_name = format!("{prefix}-task-role");
    let task_role = seed::role(
        &c.seed,
        &task_role_name,
        "ecs-tasks.amazonaws.com",
        Some(json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:GetObject"],"Resource":format!("arn:aws:s3:::{prefix}-data/*")}]})),
    )
    .await?;
    if spec.admin_task_role {
        let admin = seed::managed_policy(
            &c.seed,
            &format!("{prefix}-task-admin"),
            json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}),
        )
        .await?;
        c.seed
            .iam
            .attach_role_policy()
            .role_name(&task_role_name)
            .policy_arn(admin)
            .send()
            .await?;
    }
    // The pipeline role registers task definitions (CodeDeployToECS) and
    // passes the task role.
    let pass_resource = if spec.pass_any_task_role {
        json!("*")
    } else {
        json!(task_role)
    };
    c.seed
        .iam
        .put_role_policy()
        .role_name(format!("{prefix}-pipeline-role"))
        .policy_name("ecs-deploy")
        .policy_document(
            json!({"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["ecs:RegisterTaskDefinition","ecs:DescribeServices","ecs:DescribeTaskDefinition","ecs:UpdateService"],"Resource":"*"},
                {"Effect":"Allow","Action":"iam:PassRole","Resource":pass_resource,
                 "Condition":{"StringEquals":{"iam:PassedToService":"ecs-tasks.amazonaws.com"}}}]})
            .to_string(),
        )
        .send()
        .await?;

    // Repository.
    let repo_name = format!("{prefix}-web");
    let mut create = c
        .ecr
        .create_repository()
        .repository_name(&repo_name)
        .image_tag_mutability(ecrt::ImageTagMutability::from(spec.mutability))
        .image_scanning_configuration(
            ecrt::ImageScanningConfiguration::builder()
                .scan_on_push(true)
                .build(),
        );
    for f in spec.exclusions {
        create = create.image_tag_mutability_exclusion_filters(
            ecrt::ImageTagMutabilityExclusionFilter::builder()
                .filter_type(ecrt::ImageTagMutabilityExclusionFilterType::Wildcard)
                .filter(*f)
                .build()?,
        );
    }
    let repo = create.send().await?;
    let repository_arn = repo
        .repository()
        .and_then(|r| r.repository_arn())
        .unwrap_or_default()
        .to_string();
    let mut statements = vec![
        json!({"Sid":"Pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},
               "Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}),
        json!({"Sid":"BuildPush","Effect":"Allow","Principal":{"AWS":build_role},
               "Action":["ecr:PutImage","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload"]}),
    ];
    if spec.foreign_push {
        statements.push(json!({"Sid":"Vendor","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},
                               "Action":["ecr:PutImage","ecr:UploadLayerPart"]}));
    }
    c.ecr
        .set_repository_policy()
        .repository_name(&repo_name)
        .policy_text(json!({"Version":"2012-10-17","Statement":statements}).to_string())
        .send()
        .await?;

    // Cluster, task definition, service.
    let cluster = format!("{prefix}-cluster");
    c.ecs.create_cluster().cluster_name(&cluster).send().await?;
    let image = format!(
        "{account}.dkr.ecr.{REGION}.amazonaws.com/{repo_name}{}",
        spec.image_suffix
    );
    let td = c
        .ecs
        .register_task_definition()
        .family(format!("{prefix}-web"))
        .task_role_arn(&task_role)
        .container_definitions(
            ecst::ContainerDefinition::builder()
                .name("web")
                .image(&image)
                .memory(512)
                .build(),
        )
        .send()
        .await?;
    let td_arn = td
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string();
    let service = format!("{prefix}-svc");
    let mut create = c
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name(&service)
        .task_definition(&td_arn)
        .desired_count(1);
    if spec.blue_green {
        create = create.deployment_controller(
            ecst::DeploymentController::builder()
                .r#type(ecst::DeploymentControllerType::CodeDeploy)
                .build()?,
        );
    }
    let created = create.send().await?;
    let service_arn = created
        .service()
        .and_then(|s| s.service_arn())
        .unwrap_or_default()
        .to_string();

    // The deploy action.
    let deploy_type = |provider: &str| -> anyhow::Result<cp::ActionTypeId> {
        Ok(cp::ActionTypeId::builder()
            .category(cp::ActionCategory::Deploy)
            .owner(cp::ActionOwner::Aws)
            .provider(provider)
            .version("1")
            .build()?)
    };
    let app = format!("{prefix}-ecs-app");
    let group = format!("{prefix}-ecs-group");
    let group_arn = format!("arn:aws:codedeploy:{REGION}:{account}:deploymentgroup:{app}/{group}");
    let action = if spec.blue_green {
        c.seed
            .codedeploy
            .create_application()
            .application_name(&app)
            .compute_platform(cd::ComputePlatform::Ecs)
            .send()
            .await?;
        c.seed
            .codedeploy
            .create_deployment_group()
            .application_name(&app)
            .deployment_group_name(&group)
            .service_role_arn(deploy_role)
            .deployment_config_name(if spec.all_at_once {
                "CodeDeployDefault.ECSAllAtOnce"
            } else {
                "CodeDeployDefault.ECSLinear10PercentEvery1Minutes"
            })
            .ecs_services(
                cd::EcsService::builder()
                    .cluster_name(&cluster)
                    .service_name(&service)
                    .build(),
            )
            .auto_rollback_configuration(
                cd::AutoRollbackConfiguration::builder()
                    .enabled(!spec.no_rollback)
                    .events(cd::AutoRollbackEvent::DeploymentFailure)
                    .build(),
            )
            .send()
            .await?;
        cp::ActionDeclaration::builder()
            .name("Deploy")
            .action_type_id(deploy_type("CodeDeployToECS")?)
            .configuration("ApplicationName", app)
            .configuration("DeploymentGroupName", group)
            .configuration("TaskDefinitionTemplateArtifact", "BuildOutput")
            .configuration("AppSpecTemplateArtifact", "BuildOutput")
            .input_artifacts(cp::InputArtifact::builder().name("BuildOutput").build()?)
            .run_order(1)
            .build()?
    } else {
        cp::ActionDeclaration::builder()
            .name("Deploy")
            .action_type_id(deploy_type("ECS")?)
            .configuration("ClusterName", &cluster)
            .configuration("ServiceName", &service)
            .configuration("FileName", "imagedefinitions.json")
            .input_artifacts(cp::InputArtifact::builder().name("BuildOutput").build()?)
            .run_order(1)
            .build()?
    };
    let mut decl = seed::declaration(&c.seed, &s.pipeline_name).await?;
    let stages: Vec<cp::StageDeclaration> = decl
        .stages()
        .iter()
        .map(|st| {
            if st.name() == "Deploy" {
                cp::StageDeclaration::builder()
                    .name("Deploy")
                    .actions(action.clone())
                    .build()
            } else {
                Ok(st.clone())
            }
        })
        .collect::<Result<_, _>>()?;
    decl.stages = stages;
    seed::update_declaration(&c.seed, decl).await?;
    Ok(EcsSeeded {
        pipeline: s.pipeline_name,
        group_arn,
        service_arn,
        repository_arn,
        task_role,
    })
}

fn ecs_config() -> Config {
    Config::parse(ECS_REFERENCE, "test").unwrap_or_else(|e| panic!("{e}"))
}

/// The rule ids and resources of each pipeline's findings.
type ByPipeline = BTreeMap<String, BTreeSet<(String, String)>>;

/// The CD013 notes: (pipeline, message).
type Cd013Notes = Vec<(String, String)>;

async fn audit_library(
    moto: &Moto,
) -> (ByPipeline, Vec<String>, BTreeMap<String, u64>, Cd013Notes) {
    let config = moto.sdk_config(REGION).await;
    let snapshot = collect_with_config(&config, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let calls = snapshot.api_calls.clone();
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = evaluate(Arc::new(snapshot), &rules, &ecs_config());
    let mut by: ByPipeline = BTreeMap::new();
    for f in &eval.findings {
        by.entry(f.pipeline.clone())
            .or_default()
            .insert((f.rule_id.clone(), f.resource_arn.clone()));
    }
    // notes (service control policies not considered) are limits, not gaps
    let diags = support::gaps(&eval.diagnostics)
        .iter()
        .map(|d| format!("{d:?}"))
        .collect();
    let cd013 = eval
        .diagnostics
        .iter()
        .filter(|d| {
            d.kind == pipeaudit::findings::DiagnosticKind::Note
                && d.rule_id.as_deref() == Some("CD013")
        })
        .map(|d| (d.pipeline.clone().unwrap_or_default(), d.message.clone()))
        .collect();
    (by, diags, calls, cd013)
}

fn ids(by: &ByPipeline, pipeline: &str) -> BTreeSet<String> {
    by.get(pipeline)
        .map(|s| s.iter().map(|(id, _)| id.clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn ecs_deploys_are_clean_and_each_defect_fires_for_its_resource() {
    let moto = Moto::start();
    let c = clients(&moto).await;
    let ok = EcsSpec {
        mutability: "IMMUTABLE",
        image_suffix: ":v1",
        ..EcsSpec::default()
    };
    let seeded = |prefix: &'static str, spec: EcsSpec| {
        let c = &c;
        async move {
            seed_ecs(c, prefix, spec)
                .await
                .unwrap_or_else(|e| panic!("seed {prefix}: {e:#}"))
        }
    };
    let clean = seeded("ecs-ok", ok).await;
    let clean_bg = seeded(
        "ecs-bg",
        EcsSpec {
            blue_green: true,
            ..ok
        },
    )
    .await;
    let by_digest = seeded(
        "ecs-digest",
        EcsSpec {
            mutability: "MUTABLE",
            image_suffix: "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ..ok
        },
    )
    .await;
    let excluded_other = seeded(
        "ecs-excl-ok",
        EcsSpec {
            mutability: "IMMUTABLE_WITH_EXCLUSION",
            exclusions: &["dev-*"],
            image_suffix: ":release-1",
            ..ok
        },
    )
    .await;
    let admin = seeded(
        "ecs-admin",
        EcsSpec {
            admin_task_role: true,
            ..ok
        },
    )
    .await;
    let chooser = seeded(
        "ecs-choose",
        EcsSpec {
            blue_green: true,
            pass_any_task_role: true,
            ..ok
        },
    )
    .await;
    let mutable = seeded(
        "ecs-mutable",
        EcsSpec {
            mutability: "MUTABLE",
            ..ok
        },
    )
    .await;
    let excluded = seeded(
        "ecs-excl",
        EcsSpec {
            mutability: "IMMUTABLE_WITH_EXCLUSION",
            exclusions: &["release-*"],
            image_suffix: ":release-1",
            ..ok
        },
    )
    .await;
    let not_excluded = seeded(
        "ecs-mwe",
        EcsSpec {
            mutability: "MUTABLE_WITH_EXCLUSION",
            exclusions: &["v*"],
            image_suffix: ":latest",
            ..ok
        },
    )
    .await;
    let pushed = seeded(
        "ecs-push",
        EcsSpec {
            foreign_push: true,
            ..ok
        },
    )
    .await;
    let no_rollback = seeded(
        "ecs-norb",
        EcsSpec {
            blue_green: true,
            no_rollback: true,
            ..ok
        },
    )
    .await;
    let at_once = seeded(
        "ecs-aao",
        EcsSpec {
            blue_green: true,
            all_at_once: true,
            ..ok
        },
    )
    .await;

    let (by, diags, calls, cd013) = audit_library(&moto).await;
    assert!(diags.is_empty(), "{diags:#?}");
    support::assert_policy_grants("iam-audit-policy.json", calls.keys());
    let forced: BTreeSet<String> = MOTO_FORCED.iter().map(|s| s.to_string()).collect();
    // CodeDeploy groups: moto drops the alarm configuration (CD006).
    let forced_bg: BTreeSet<String> = forced
        .iter()
        .cloned()
        .chain(["CD006".to_string()])
        .collect();
    for s in [&clean, &by_digest, &excluded_other] {
        assert_eq!(ids(&by, &s.pipeline), forced, "{}", s.pipeline);
    }
    assert_eq!(
        ids(&by, &clean_bg.pipeline),
        forced_bg,
        "{}",
        clean_bg.pipeline
    );

    let only = |s: &EcsSeeded, rule: &str, resource: &str, base: &BTreeSet<String>| {
        let got = by.get(&s.pipeline).cloned().unwrap_or_default();
        let of_rule: Vec<&(String, String)> = got.iter().filter(|(id, _)| id == rule).collect();
        assert_eq!(
            of_rule,
            [&(rule.to_string(), resource.to_string())],
            "{}",
            s.pipeline
        );
        let mut want = base.clone();
        want.insert(rule.to_string());
        assert_eq!(ids(&by, &s.pipeline), want, "{}", s.pipeline);
    };
    only(&admin, "CD013", &admin.service_arn, &forced);
    // the blue/green pipeline's role may pass the admin task role of the
    // other stack: a commit's taskdef.json can choose it
    only(&chooser, "CD013", &chooser.service_arn, &forced_bg);
    // its role may pass any role to ECS tasks: the roles the snapshot does
    // not hold are named as not checked, once; the other blue/green
    // pipelines pass only their own task role
    assert_eq!(cd013.len(), 1, "{cd013:#?}");
    assert_eq!(cd013[0].0, chooser.pipeline);
    assert!(
        cd013[0].1.contains("any role matching * that")
            && cd013[0]
                .1
                .contains("the account's other roles matching it were not"),
        "{}",
        cd013[0].1
    );
    only(&mutable, "CD014", &mutable.repository_arn, &forced);
    only(&excluded, "CD014", &excluded.repository_arn, &forced);
    only(
        &not_excluded,
        "CD014",
        &not_excluded.repository_arn,
        &forced,
    );
    only(&pushed, "CD015", &pushed.repository_arn, &forced);
    // ECS deployment groups get CD003 as EC2 groups do, and CD016
    only(&no_rollback, "CD003", &no_rollback.group_arn, &forced_bg);
    only(&at_once, "CD016", &at_once.group_arn, &forced_bg);
    assert_ne!(admin.task_role, chooser.task_role);

    // Reads: one DescribeServices per cluster batch, one
    // DescribeTaskDefinition per revision, one DescribeRepositories per
    // registry batch and one GetRepositoryPolicy per repository.
    let stacks = 12;
    assert_eq!(
        calls.get("ecs:DescribeServices"),
        Some(&stacks),
        "{calls:?}"
    );
    assert_eq!(
        calls.get("ecs:DescribeTaskDefinition"),
        Some(&stacks),
        "{calls:?}"
    );
    assert_eq!(calls.get("ecr:DescribeRepositories"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("ecr:GetRepositoryPolicy"),
        Some(&stacks),
        "{calls:?}"
    );
}

/// A CodeDeploy-only account (the reference stacks) makes no ECS, ECR or
/// Lambda call.
#[tokio::test]
async fn codedeploy_only_accounts_make_no_new_call() {
    let moto = Moto::start();
    let c = clients(&moto).await;
    seed::seed_stack(
        &c.seed,
        &StackSpec {
            prefix: "cd-only".to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let (_, _, calls, _) = audit_library(&moto).await;
    let new: Vec<&String> = calls
        .keys()
        .filter(|k| k.starts_with("ecs:") || k.starts_with("ecr:") || k.starts_with("lambda:"))
        .collect();
    assert!(new.is_empty(), "{new:?}");
    assert!(
        calls.contains_key("codedeploy:GetDeploymentGroup")
            || calls.contains_key("codedeploy:BatchGetDeploymentGroups"),
        "{calls:?}"
    );
}

fn audit_cli(endpoint: &str, config: &std::path::Path) -> serde_json::Value {
    let o = support::pipeaudit_command(endpoint)
        .args(["--region", REGION, "-q", "--format", "json"])
        .args(["--max-attempts", "1"])
        .arg("--config")
        .arg(config)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    support::stdout_json(&o)
}

/// A denied ECS or ECR read is a diagnostic naming the permission; the
/// rules that need it do not fire (never "mutable", "admin" or "writable"
/// on an unknown), and nothing new fires.
#[tokio::test]
async fn denied_ecs_and_ecr_reads_are_gaps_naming_the_permission() {
    let moto = Moto::start();
    let c = clients(&moto).await;
    let admin = seed_ecs(
        &c,
        "deny-ecs",
        EcsSpec {
            admin_task_role: true,
            mutability: "MUTABLE",
            image_suffix: ":v1",
            foreign_push: true,
            ..EcsSpec::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("pipeaudit.toml");
    std::fs::write(&cfg, ECS_REFERENCE).unwrap_or_else(|e| panic!("{e}"));
    let clean = audit_cli(&moto.endpoint, &cfg);
    assert!(
        support::diagnostics(&clean).is_empty(),
        "{:#?}",
        support::diagnostics(&clean)
    );
    let fired = support::findings(&clean);
    for (id, resource) in [
        ("CD013", &admin.service_arn),
        ("CD014", &admin.repository_arn),
        ("CD015", &admin.repository_arn),
    ] {
        assert!(
            fired.contains(&(id.to_string(), resource.clone())),
            "{id} on {resource}: {fired:?}"
        );
    }
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "ecs:DescribeServices",
            "ecs:DescribeServices",
            &["CD013", "CD014", "CD015"],
        ),
        (
            "ecs:DescribeTaskDefinition",
            "ecs:DescribeTaskDefinition",
            &["CD013", "CD014", "CD015"],
        ),
        (
            "ecr:DescribeRepositories",
            "ecr:DescribeRepositories",
            &["CD014", "CD015"],
        ),
        (
            "ecr:GetRepositoryPolicy",
            "ecr:GetRepositoryPolicy",
            &["CD015"],
        ),
    ];
    for (op, action, dependent) in cases {
        let op_name = op.to_string();
        let proxy = FaultProxy::start(
            &moto.endpoint,
            Box::new(move |r, _| (r.op() == op_name).then_some(Fault::AccessDenied)),
        );
        let faulted = audit_cli(&proxy.endpoint, &cfg);
        assert!(
            proxy.stats().faults_by_op.get(*op).copied().unwrap_or(0) > 0,
            "{op} was never asked for"
        );
        let after = support::findings(&faulted);
        assert!(
            after.is_subset(&fired),
            "{op}: new findings {:?}",
            after.difference(&fired)
        );
        let after_ids = support::rule_ids(&faulted);
        let diags = support::diagnostics(&faulted);
        for id in *dependent {
            assert!(!after_ids.contains(*id), "{op}: {id} fired on an unknown");
            assert!(
                diags
                    .iter()
                    .any(|d| d["rule_id"] == *id && d["permission"] == *action),
                "{op}: no gap naming {action} for {id}: {diags:#?}"
            );
        }
        for d in &diags {
            assert_eq!(d["permission"], *action, "{op}: {d:#}");
        }
    }
}

/// A deploy of a provider whose targets are not checked (Elastic
/// Beanstalk) is named in one note, with its role; the note never changes
/// the exit code.
#[tokio::test]
async fn other_deploy_providers_are_named_in_one_note() {
    let moto = Moto::start();
    let c = clients(&moto).await;
    let s = seed::seed_stack(
        &c.seed,
        &StackSpec {
            prefix: "eb".to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let role = s.roles[0].clone();
    let mut decl = seed::declaration(&c.seed, &s.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let action = cp::ActionDeclaration::builder()
        .name("Beanstalk")
        .action_type_id(
            cp::ActionTypeId::builder()
                .category(cp::ActionCategory::Deploy)
                .owner(cp::ActionOwner::Aws)
                .provider("ElasticBeanstalk")
                .version("1")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .configuration("ApplicationName", "eb-app")
        .configuration("EnvironmentName", "eb-env")
        .role_arn(&role)
        .input_artifacts(
            cp::InputArtifact::builder()
                .name("BuildOutput")
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    decl.stages = decl
        .stages()
        .iter()
        .map(|st| {
            if st.name() == "Deploy" {
                cp::StageDeclaration::builder()
                    .name("Deploy")
                    .actions(action.clone())
                    .build()
                    .unwrap_or_else(|e| panic!("{e}"))
            } else {
                st.clone()
            }
        })
        .collect();
    seed::update_declaration(&c.seed, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("pipeaudit.toml");
    std::fs::write(&cfg, "[reference]\ndeploy = [\"ElasticBeanstalk\"]\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let o = support::pipeaudit_command(&moto.endpoint)
        .args(["--region", REGION, "-q", "--format", "json"])
        .args(["--fail-on", "critical"])
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    let r = support::stdout_json(&o);
    let notes: Vec<serde_json::Value> = support::notes(&r)
        .into_iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .is_some_and(|m| m.contains("its targets are not checked"))
        })
        .collect();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let message = notes[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("ElasticBeanstalk")
            && message.contains("Beanstalk")
            && message.contains(&role)
            && message.contains("not checked"),
        "{message}"
    );
    // no finding at critical: the note leaves the exit code at 0
    assert_eq!(o.status.code(), Some(0), "{r:#}");
}
