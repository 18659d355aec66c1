use std::sync::Arc;

use super::*;
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine::evaluate;

fn demo() -> Snapshot {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    Snapshot::load(std::path::Path::new(path)).unwrap_or_else(|e| panic!("{e}"))
}

fn graph_of(s: &Snapshot, stack: &str) -> Graph {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s.clone()), &rules, &Config::default());
    let name = format!("{stack}-pipeline");
    let w = s
        .pipelines
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("no {name}"));
    build(s, w, &e.findings)
}

fn kinds(g: &Graph, kind: NodeKind) -> Vec<&Node> {
    g.nodes.iter().filter(|n| n.kind == kind).collect()
}

fn edge(g: &Graph, from: NodeKind, kind: EdgeKind, to: NodeKind) -> bool {
    let k = |id: &str| g.nodes.iter().find(|n| n.id == id).map(|n| n.kind);
    g.edges
        .iter()
        .any(|e| e.kind == kind && k(&e.from) == Some(from) && k(&e.to) == Some(to))
}

#[test]
fn the_reference_stack_is_wired_end_to_end() {
    let g = graph_of(&demo(), "demo-000");
    assert_eq!(g.worst(), None, "the compliant stack has no finding");
    for (kind, n) in [
        (NodeKind::Pipeline, 1),
        (NodeKind::Stage, 3),
        (NodeKind::Action, 3),
        (NodeKind::Repository, 1),
        (NodeKind::TriggerRule, 1),
        (NodeKind::BuildProject, 1),
        (NodeKind::DeployApplication, 1),
        (NodeKind::DeployGroup, 1),
        (NodeKind::Bucket, 1),
        (NodeKind::Key, 1),
    ] {
        assert_eq!(kinds(&g, kind).len(), n, "{kind:?}");
    }
    // pipeline, build, deploy and events roles
    assert_eq!(kinds(&g, NodeKind::Role).len(), 4);
    assert!(edge(
        &g,
        NodeKind::TriggerRule,
        EdgeKind::Starts,
        NodeKind::Pipeline
    ));
    assert!(edge(
        &g,
        NodeKind::Action,
        EdgeKind::ReadsFrom,
        NodeKind::Repository
    ));
    assert!(edge(
        &g,
        NodeKind::Action,
        EdgeKind::BuildsWith,
        NodeKind::BuildProject
    ));
    assert!(edge(
        &g,
        NodeKind::Action,
        EdgeKind::DeploysWith,
        NodeKind::DeployGroup
    ));
    assert!(edge(
        &g,
        NodeKind::Pipeline,
        EdgeKind::StoresIn,
        NodeKind::Bucket
    ));
    assert!(edge(
        &g,
        NodeKind::Bucket,
        EdgeKind::EncryptsWith,
        NodeKind::Key
    ));
    // the project's key is the store's key: one node, two edges into it
    assert!(edge(
        &g,
        NodeKind::BuildProject,
        EdgeKind::EncryptsWith,
        NodeKind::Key
    ));
    for from in [
        NodeKind::Pipeline,
        NodeKind::BuildProject,
        NodeKind::DeployGroup,
        NodeKind::TriggerRule,
    ] {
        assert!(edge(&g, from, EdgeKind::ActsAs, NodeKind::Role), "{from:?}");
    }
    assert!(g.nodes.iter().all(|n| !n.missing && !n.unknown));
    let ids: std::collections::BTreeSet<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), g.nodes.len(), "node ids are unique");
    assert!(
        g.edges
            .iter()
            .all(|e| ids.contains(e.from.as_str()) && ids.contains(e.to.as_str()))
    );
}

#[test]
fn a_missing_bucket_is_a_missing_node_carrying_its_finding() {
    let g = graph_of(&demo(), "demo-032");
    let bucket = kinds(&g, NodeKind::Bucket);
    assert_eq!(bucket.len(), 1);
    assert!(bucket[0].missing);
    assert_eq!(bucket[0].rule_ids(), vec!["AB001"]);
    assert_eq!(bucket[0].worst, Some(Severity::Critical));
    assert_eq!(g.worst(), Some(Severity::Critical));
}

#[test]
fn findings_land_on_their_resources() {
    let s = demo();
    // key rotation off: on the key
    let g = graph_of(&s, "demo-017");
    let key = kinds(&g, NodeKind::Key);
    assert_eq!(key[0].rule_ids(), vec!["KM003"]);
    // no trigger rule: on the pipeline
    let g = graph_of(&s, "demo-001");
    assert!(kinds(&g, NodeKind::TriggerRule).is_empty());
    assert_eq!(kinds(&g, NodeKind::Pipeline)[0].rule_ids(), vec!["TR001"]);
}

#[test]
fn two_trigger_rules_are_two_nodes_and_a_shared_role_one() {
    let mut s = demo();
    let name = "demo-000-pipeline";
    let Some(i) = s.pipelines.iter().position(|w| w.name == name) else {
        panic!("no {name}");
    };
    let first = s.pipelines[i].trigger_rules[0].clone();
    let second = first.replace("demo-000-trigger", "demo-000-second");
    let Some(rule) = s.resources.event_rules.get(&first).cloned() else {
        panic!("no rule");
    };
    s.resources.event_rules.insert(second.clone(), rule);
    s.pipelines[i].trigger_rules.push(second);
    let g = graph_of(&s, "demo-000");
    let rules = kinds(&g, NodeKind::TriggerRule);
    assert_eq!(rules.len(), 2);
    let starts = g
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Starts)
        .count();
    assert_eq!(starts, 2);
    // both rules act as the same events role: still four roles
    assert_eq!(kinds(&g, NodeKind::Role).len(), 4);
}

#[test]
fn a_node_says_each_rule_under_its_own_severity() {
    let s = demo();
    let mut g = graph_of(&s, "demo-000");
    let p = g
        .nodes
        .iter_mut()
        .find(|n| n.kind == NodeKind::Pipeline)
        .unwrap_or_else(|| panic!("no pipeline node"));
    p.findings = vec![
        NodeFinding {
            rule_id: "PL001".into(),
            severity: Severity::Critical,
        },
        NodeFinding {
            rule_id: "PL006".into(),
            severity: Severity::Critical,
        },
        NodeFinding {
            rule_id: "PL002".into(),
            severity: Severity::High,
        },
    ];
    p.worst = Some(Severity::Critical);
    assert_eq!(
        p.findings_by_severity(),
        vec!["critical: PL001 PL006", "high: PL002"]
    );
    let m = mermaid::render(&g).unwrap_or_default();
    assert!(
        m.contains("pipeline<br/>demo-000-pipeline<br/>critical: PL001 PL006<br/>high: PL002\"]"),
        "{m}"
    );
    assert!(dot::render(&g).contains("\\ncritical: PL001 PL006\\nhigh: PL002\""));
    let svg = svg::render(
        &g,
        svg::Options {
            id_prefix: "x",
            links: true,
            standalone: false,
        },
    );
    assert!(
        svg.contains(
            ">critical: PL001 PL006</text><text class=\"f\" x=\"8\" y=\"61\">high: PL002</text>"
        ),
        "{svg}"
    );
    assert!(svg.contains("<a href=\"#x-n0\">"));
}

#[test]
fn the_svg_layout_runs_left_to_right_with_resources_below_and_nothing_overlapping() {
    let s = demo();
    for stack in ["demo-000", "demo-001", "demo-032", "demo-035", "demo-038"] {
        let g = graph_of(&s, stack);
        let l = svg::layout(&g);
        assert_eq!(l.places.len(), g.nodes.len());
        let at = |k: NodeKind| -> Vec<svg::Place> {
            g.nodes
                .iter()
                .zip(&l.places)
                .filter(|(n, _)| n.kind == k)
                .map(|(_, p)| *p)
                .collect()
        };
        let pipeline = at(NodeKind::Pipeline)[0];
        for r in at(NodeKind::Repository) {
            assert!(r.x < pipeline.x, "{stack}: source left of the pipeline");
        }
        for t in at(NodeKind::TriggerRule) {
            assert!(t.x < pipeline.x, "{stack}: trigger left of the pipeline");
        }
        let stages = at(NodeKind::Stage);
        assert!(
            stages.windows(2).all(|w| w[0].x < w[1].x),
            "{stack}: stages in order"
        );
        assert!(stages.iter().all(|s| s.x > pipeline.x));
        for k in [NodeKind::Bucket, NodeKind::Key, NodeKind::Role] {
            for p in at(k) {
                assert_eq!(p.y, l.band_y, "{stack}: {k:?} in the band below");
            }
        }
        assert!(
            l.places
                .iter()
                .all(|p| p.y + p.h <= l.band_y || p.y == l.band_y)
        );
        // no two nodes overlap, and all are inside the drawing
        for (i, a) in l.places.iter().enumerate() {
            assert!(
                a.x >= 0 && a.y >= 0 && a.x + svg::NODE_WIDTH <= l.width && a.y + a.h <= l.height
            );
            for b in &l.places[i + 1..] {
                let apart = a.x + svg::NODE_WIDTH <= b.x
                    || b.x + svg::NODE_WIDTH <= a.x
                    || a.y + a.h <= b.y
                    || b.y + b.h <= a.y;
                assert!(apart, "{stack}: {a:?} overlaps {b:?}");
            }
        }
    }
}

/// The compliant stack with a `Release` stage that deploys to an ECS
/// service and invokes a Lambda function: the graph draws the service
/// (`cluster/service`), its task role, the ECR repository of its image and
/// the function with its role, and the finding on the service.
#[test]
fn ecs_services_repositories_and_functions_are_drawn() {
    use crate::model::{
        Action, Container, EcsDeployRef, EcsService, ImageRepository, LambdaFunction,
        LambdaInvokeRef, Stage, TaskDefinition,
    };
    let mut s = demo();
    let account = "123456789012";
    let svc = format!("arn:aws:ecs:us-east-1:{account}:service/web/api");
    let td = format!("arn:aws:ecs:us-east-1:{account}:task-definition/api:3");
    let repo = format!("arn:aws:ecr:us-east-1:{account}:repository/api");
    let task_role = format!("arn:aws:iam::{account}:role/demo-000-task-role");
    let func = format!("arn:aws:lambda:us-east-1:{account}:function:check");
    let w = s
        .pipelines
        .iter_mut()
        .find(|w| w.name == "demo-000-pipeline")
        .unwrap_or_else(|| panic!("no demo-000"));
    w.ecs_deploys.push(EcsDeployRef {
        stage: "Release".to_string(),
        action: "Rolling".to_string(),
        provider: "ECS".to_string(),
        region: "us-east-1".to_string(),
        cluster: Some("web".to_string()),
        service: Some("api".to_string()),
        group_arn: None,
    });
    w.lambda_invokes.push(LambdaInvokeRef {
        stage: "Release".to_string(),
        action: "Check".to_string(),
        function_name: "check".to_string(),
        function_arn: func.clone(),
        takes_artifacts: true,
    });
    let arn = w.arn.clone();
    if let Some(Observed::Ok { value }) = s.resources.pipelines.get_mut(&arn) {
        let action = |name: &str, category: &str, provider: &str| Action {
            name: name.to_string(),
            category: category.to_string(),
            provider: provider.to_string(),
            ..Action::default()
        };
        value.stages.push(Stage {
            name: "Release".to_string(),
            actions: vec![
                action("Rolling", "Deploy", "ECS"),
                action("Check", "Invoke", "Lambda"),
            ],
        });
    }
    let r = &mut s.resources;
    r.ecs_services.insert(
        svc.clone(),
        Observed::ok(EcsService {
            name: "api".to_string(),
            arn: svc.clone(),
            cluster: format!("arn:aws:ecs:us-east-1:{account}:cluster/web"),
            task_definition: Some(td.clone()),
            ..EcsService::default()
        }),
    );
    r.task_definitions.insert(
        td.clone(),
        Observed::ok(TaskDefinition {
            arn: td,
            family: "api".to_string(),
            revision: 3,
            task_role_arn: Some(task_role.clone()),
            execution_role_arn: None,
            containers: vec![Container {
                name: "api".to_string(),
                image: format!("{account}.dkr.ecr.us-east-1.amazonaws.com/api:v1"),
            }],
        }),
    );
    r.image_repositories.insert(
        repo.clone(),
        Observed::ok(ImageRepository {
            name: "api".to_string(),
            arn: repo.clone(),
            registry_id: Some(account.to_string()),
            tag_mutability: Some("MUTABLE".to_string()),
            tag_mutability_exclusions: Vec::new(),
            scan_on_push: Some(true),
            policy: Observed::Absent,
        }),
    );
    r.lambda_functions.insert(
        func.clone(),
        Observed::ok(LambdaFunction {
            name: "check".to_string(),
            arn: func.clone(),
            role_arn: Some(format!("arn:aws:iam::{account}:role/check-role")),
            runtime: None,
            code_signing_config: Observed::Absent,
        }),
    );
    let g = graph_of(&s, "demo-000");
    let service = kinds(&g, NodeKind::EcsService);
    assert_eq!(service.len(), 1);
    assert_eq!(service[0].name, "web/api");
    let repository = kinds(&g, NodeKind::ImageRepository);
    assert_eq!(repository.len(), 1);
    // the mutable tag's finding sits on the repository
    assert!(
        repository[0].findings.iter().any(|f| f.rule_id == "CD014"),
        "{:?}",
        repository[0].findings
    );
    assert_eq!(kinds(&g, NodeKind::Function).len(), 1);
    assert!(edge(
        &g,
        NodeKind::Action,
        EdgeKind::DeploysWith,
        NodeKind::EcsService
    ));
    assert!(edge(
        &g,
        NodeKind::EcsService,
        EdgeKind::ActsAs,
        NodeKind::Role
    ));
    assert!(edge(
        &g,
        NodeKind::EcsService,
        EdgeKind::RunsImageFrom,
        NodeKind::ImageRepository
    ));
    assert!(edge(
        &g,
        NodeKind::Action,
        EdgeKind::Invokes,
        NodeKind::Function
    ));
    assert!(edge(
        &g,
        NodeKind::Function,
        EdgeKind::ActsAs,
        NodeKind::Role
    ));
    assert!(
        g.nodes
            .iter()
            .any(|n| n.arn.as_deref() == Some(task_role.as_str()))
    );
    // every renderer draws them
    assert!(dot::render(&g).contains("web/api"));
    let l = svg::layout(&g);
    assert_eq!(l.places.len(), g.nodes.len());
}

/// The function a Lambda deployment group last deployed hangs from the
/// group, with the role it acts as.
#[test]
fn the_function_a_lambda_group_deploys_is_drawn_from_the_group() {
    use crate::model::{LambdaDeployment, LambdaFunction, LambdaTarget};
    let mut s = demo();
    let w = s
        .pipelines
        .iter()
        .find(|w| w.name == "demo-000-pipeline")
        .unwrap_or_else(|| panic!("no demo-000"));
    let group = w.deploys[0].group_arn.clone();
    let func = "arn:aws:lambda:us-east-1:123456789012:function:checkout".to_string();
    let role = "arn:aws:iam::123456789012:role/demo-000-build-role".to_string();
    if let Some(Observed::Ok { value }) = s.resources.deploy_groups.get_mut(&group) {
        value.compute_platform = Some("Lambda".to_string());
        value.lambda_deployment = Some(Observed::ok(LambdaDeployment {
            deployment_id: Some("d-1".to_string()),
            revision_type: Some("AppSpecContent".to_string()),
            functions: vec![LambdaTarget {
                name: "checkout".to_string(),
                arn: func.clone(),
                ..LambdaTarget::default()
            }],
            undetermined: None,
        }));
    }
    s.resources.lambda_functions.insert(
        func.clone(),
        Observed::ok(LambdaFunction {
            name: "checkout".to_string(),
            arn: func.clone(),
            role_arn: Some(role),
            runtime: None,
            code_signing_config: Observed::Absent,
        }),
    );
    let g = graph_of(&s, "demo-000");
    let functions = kinds(&g, NodeKind::Function);
    assert_eq!(functions.len(), 1);
    assert_eq!(functions[0].arn.as_deref(), Some(func.as_str()));
    // CD018 (no code signing) sits on the function
    assert!(
        functions[0].findings.iter().any(|f| f.rule_id == "CD018"),
        "{:?}",
        functions[0].findings
    );
    assert!(edge(
        &g,
        NodeKind::DeployGroup,
        EdgeKind::DeploysWith,
        NodeKind::Function
    ));
    assert!(edge(
        &g,
        NodeKind::Function,
        EdgeKind::ActsAs,
        NodeKind::Role
    ));
    assert!(!edge(
        &g,
        NodeKind::Action,
        EdgeKind::Invokes,
        NodeKind::Function
    ));
}

/// A CloudFormation deploy draws its stack and the role CloudFormation acts
/// as; a deploy into another account draws that account as a boxed node
/// (a double box in Mermaid and DOT) holding a stack not read here.
#[test]
fn cloudformation_stacks_and_other_accounts_are_drawn() {
    let mut s = demo();
    let i = s
        .pipelines
        .iter()
        .position(|w| w.name == "demo-000-pipeline")
        .unwrap_or_else(|| panic!("no demo-000"));
    let (stage, action) = {
        let d = &s.pipelines[i].deploys[0];
        (d.stage.clone(), d.action.clone())
    };
    let role = "arn:aws:iam::123456789012:role/cfn-deployer";
    let here = crate::model::StackDeployRef {
        stage: stage.clone(),
        action: action.clone(),
        region: "us-east-1".to_string(),
        account: s.account.clone(),
        action_mode: "CREATE_UPDATE".to_string(),
        stack_name: "app-prod".to_string(),
        stack_arn: format!(
            "arn:aws:cloudformation:us-east-1:{}:stack/app-prod",
            s.account
        ),
        cfn_role_arn: Some(role.to_string()),
        ..Default::default()
    };
    let there = crate::model::StackDeployRef {
        account: "210987654321".to_string(),
        stack_name: "app-far".to_string(),
        stack_arn: "arn:aws:cloudformation:us-east-1:210987654321:stack/app-far".to_string(),
        cfn_role_arn: None,
        ..here.clone()
    };
    s.pipelines[i].stack_deploys = vec![here, there];
    let g = graph_of(&s, "demo-000");
    let stacks = kinds(&g, NodeKind::Stack);
    assert_eq!(stacks.len(), 2, "{stacks:#?}");
    assert!(edge(
        &g,
        NodeKind::Action,
        EdgeKind::DeploysWith,
        NodeKind::Stack
    ));
    assert!(edge(&g, NodeKind::Stack, EdgeKind::ActsAs, NodeKind::Role));
    assert!(edge(
        &g,
        NodeKind::Action,
        EdgeKind::DeploysWith,
        NodeKind::Account
    ));
    assert!(edge(
        &g,
        NodeKind::Account,
        EdgeKind::DeploysWith,
        NodeKind::Stack
    ));
    let far = stacks
        .iter()
        .find(|n| n.name == "app-far")
        .unwrap_or_else(|| panic!("{stacks:#?}"));
    assert!(far.unknown, "a stack of another account is not read");
    let account = kinds(&g, NodeKind::Account);
    assert_eq!(account.len(), 1);
    assert!(account[0].name.starts_with("210987654321"));
    let m = mermaid::render(&g).unwrap_or_default();
    assert!(m.contains(&format!("  {}[[\"", account[0].id)), "{m}");
    let d = dot::render(&g);
    assert!(d.contains("peripheries=2"), "{d}");
}

/// A deploy into a linked account (audited with this one): the account is
/// drawn as audited and its stack as read, with the stack's own role.
#[test]
fn a_linked_account_is_drawn_audited_with_its_stack_read() {
    let mut s = demo();
    let i = s
        .pipelines
        .iter()
        .position(|w| w.name == "demo-000-pipeline")
        .unwrap_or_else(|| panic!("no demo-000"));
    let d = &s.pipelines[i].deploys[0];
    let far_account = "210987654321";
    let stack_arn = format!("arn:aws:cloudformation:us-east-1:{far_account}:stack/app-far");
    let far_role = format!("arn:aws:iam::{far_account}:role/far-cfn");
    let there = crate::model::StackDeployRef {
        stage: d.stage.clone(),
        action: d.action.clone(),
        region: "us-east-1".to_string(),
        account: far_account.to_string(),
        action_mode: "CREATE_UPDATE".to_string(),
        stack_name: "app-far".to_string(),
        stack_arn: stack_arn.clone(),
        ..Default::default()
    };
    s.pipelines[i].stack_deploys = vec![there];
    s.resources.cfn_stacks.insert(
        stack_arn.clone(),
        crate::model::Observed::ok(crate::model::CfnStack {
            name: "app-far".to_string(),
            arn: format!("{stack_arn}/0000"),
            status: "CREATE_COMPLETE".to_string(),
            termination_protection: false,
            role_arn: Some(far_role.clone()),
            stack_policy: crate::model::Observed::Absent,
        }),
    );
    let unlinked = graph_of(&s, "demo-000");
    let account = kinds(&unlinked, NodeKind::Account);
    assert!(account[0].name.contains("not audited"), "{account:#?}");
    assert!(kinds(&unlinked, NodeKind::Stack)[0].unknown);

    s.linked_accounts.insert(far_account.to_string());
    let g = graph_of(&s, "demo-000");
    let account = kinds(&g, NodeKind::Account);
    assert_eq!(account.len(), 1);
    assert!(
        account[0].name.starts_with(far_account) && !account[0].name.contains("not audited"),
        "{account:#?}"
    );
    let stacks = kinds(&g, NodeKind::Stack);
    assert_eq!(stacks.len(), 1);
    assert!(!stacks[0].unknown, "{stacks:#?}");
    assert!(
        kinds(&g, NodeKind::Role)
            .iter()
            .any(|r| r.arn.as_deref() == Some(far_role.as_str())),
        "the stack's own role, read in the linked account"
    );
}

/// A CodeDeploy group in another account: unknown (never missing) under
/// its account's node when that account is not audited, read when it is
/// linked.
#[test]
fn a_group_of_another_account_is_unknown_unless_linked() {
    let mut s = demo();
    let i = s
        .pipelines
        .iter()
        .position(|w| w.name == "demo-000-pipeline")
        .unwrap_or_else(|| panic!("no demo-000"));
    let far_account = "210987654321";
    let d = &mut s.pipelines[i].deploys[0];
    d.application_arn = format!(
        "arn:aws:codedeploy:us-east-1:{far_account}:application:{}",
        d.application_name
    );
    d.group_arn = format!(
        "arn:aws:codedeploy:us-east-1:{far_account}:deploymentgroup:{}/{}",
        d.application_name, d.group_name
    );
    let group_arn = d.group_arn.clone();
    let group_name = d.group_name.clone();
    let unlinked = graph_of(&s, "demo-000");
    let account = kinds(&unlinked, NodeKind::Account);
    assert_eq!(account.len(), 1, "{account:#?}");
    assert!(account[0].name.contains("not audited"), "{account:#?}");
    let groups = kinds(&unlinked, NodeKind::DeployGroup);
    let far = groups
        .iter()
        .find(|n| n.arn.as_deref() == Some(group_arn.as_str()))
        .unwrap_or_else(|| panic!("{groups:#?}"));
    assert!(far.unknown, "{far:#?}");
    assert!(!far.missing, "{far:#?}");

    s.linked_accounts.insert(far_account.to_string());
    s.resources.deploy_groups.insert(
        group_arn.clone(),
        crate::model::Observed::ok(crate::model::DeployGroup {
            application_name: "app".to_string(),
            name: group_name,
            arn: group_arn.clone(),
            ..Default::default()
        }),
    );
    let g = graph_of(&s, "demo-000");
    let account = kinds(&g, NodeKind::Account);
    assert!(!account[0].name.contains("not audited"), "{account:#?}");
    let groups = kinds(&g, NodeKind::DeployGroup);
    let far = groups
        .iter()
        .find(|n| n.arn.as_deref() == Some(group_arn.as_str()))
        .unwrap_or_else(|| panic!("{groups:#?}"));
    assert!(!far.unknown && !far.missing, "{far:#?}");
}
