//! CloudFormation deploy stages end to end against moto_server 5.1.22:
//! reference stacks are seeded, each pipeline's CodeDeploy stage is
//! replaced by CloudFormation deploy actions (UpdatePipeline), and the
//! stacks they deploy are created through moto's CloudFormation (with
//! termination protection, `SetStackPolicy`). One pipeline is correct; each
//! other has one defect, and the audit must give exactly CD010
//! `deploy-cfn-role-admin`, CD011 `deploy-cfn-iam-capability-from-source`
//! or CD012 `deploy-cfn-stack-unprotected` for exactly its stack (and
//! IA001 for the administrator role CloudFormation acts as, now a service
//! role). A denied DescribeStacks or GetStackPolicy comes from the
//! fault-injecting proxy in front of moto (`support::proxy`), since moto
//! grants every call.

use crate::support;

use std::collections::BTreeSet;

use aws_sdk_codepipeline::types as cp;
use serde_json::{Value, json};
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, SeedClients, StackSpec};

/// moto stores no custom key on a build project (CB004), and a
/// CloudFormation pipeline deviates from the default reference, which
/// accepts CodeDeploy only (PL001).
const ALWAYS: &[&str] = &["CB004", "PL001"];

/// The role CloudFormation acts as.
#[derive(Clone, Copy, PartialEq)]
enum CfnRole {
    /// Scoped to the stack's queues.
    Scoped,
    /// `*` on `*`.
    Admin,
    /// No `RoleArn`: the pipeline role's credentials.
    None,
}

/// How the stack is protected.
#[derive(Clone, Copy, PartialEq)]
enum Guard {
    Termination,
    Policy,
    Nothing,
}

struct CfnStack {
    prefix: &'static str,
    role: CfnRole,
    /// `Capabilities`.
    capabilities: &'static str,
    /// A change set (replace, approval, execute) instead of CREATE_UPDATE.
    change_set_with_approval: bool,
    /// The template is the source artifact's (else the build output's).
    template_from_source: bool,
    protection: Guard,
    /// The deploy action's role (and so the stack) is in another account,
    /// which is not audited.
    other_account: bool,
    /// (rule, severity) expected beyond [`ALWAYS`].
    expected: &'static [(&'static str, &'static str)],
}

const STACKS: &[CfnStack] = &[
    CfnStack {
        prefix: "cfn-ok",
        role: CfnRole::Scoped,
        capabilities: "",
        change_set_with_approval: true,
        template_from_source: false,
        protection: Guard::Termination,
        other_account: false,
        expected: &[],
    },
    CfnStack {
        prefix: "cfn-admin",
        role: CfnRole::Admin,
        capabilities: "",
        change_set_with_approval: false,
        template_from_source: true,
        protection: Guard::Policy,
        other_account: false,
        expected: &[("CD010", "critical"), ("IA001", "high")],
    },
    CfnStack {
        prefix: "cfn-norole",
        role: CfnRole::None,
        capabilities: "",
        change_set_with_approval: false,
        template_from_source: false,
        protection: Guard::Termination,
        other_account: false,
        expected: &[("CD010", "critical")],
    },
    CfnStack {
        prefix: "cfn-caps",
        role: CfnRole::Scoped,
        capabilities: "CAPABILITY_IAM,CAPABILITY_NAMED_IAM",
        change_set_with_approval: false,
        template_from_source: false,
        protection: Guard::Termination,
        other_account: false,
        expected: &[("CD011", "high")],
    },
    CfnStack {
        prefix: "cfn-capsok",
        role: CfnRole::Scoped,
        capabilities: "CAPABILITY_AUTO_EXPAND",
        change_set_with_approval: true,
        template_from_source: true,
        protection: Guard::Policy,
        other_account: false,
        expected: &[("CD011", "medium")],
    },
    CfnStack {
        prefix: "cfn-open",
        role: CfnRole::Scoped,
        capabilities: "",
        change_set_with_approval: false,
        template_from_source: false,
        protection: Guard::Nothing,
        other_account: false,
        expected: &[("CD012", "low")],
    },
    CfnStack {
        prefix: "cfn-other",
        role: CfnRole::Admin,
        capabilities: "CAPABILITY_IAM",
        change_set_with_approval: false,
        template_from_source: true,
        protection: Guard::Nothing,
        other_account: true,
        expected: &[],
    },
];

/// The account the `cfn-other` pipeline deploys into.
const OTHER_ACCOUNT: &str = "222222222222";

const TEMPLATE: &str = r#"{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}"#;

fn stack_name(prefix: &str) -> String {
    format!("{prefix}-app")
}

fn stack_key(account: &str, prefix: &str) -> String {
    format!(
        "arn:aws:cloudformation:us-east-1:{account}:stack/{}",
        stack_name(prefix)
    )
}

fn action_type(
    category: cp::ActionCategory,
    owner: cp::ActionOwner,
    provider: &str,
) -> cp::ActionTypeId {
    cp::ActionTypeId::builder()
        .category(category)
        .owner(owner)
        .provider(provider)
        .version("1")
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Creates the CloudFormation role of `s`, its stack, and replaces the
/// pipeline's deploy stage. Returns the role CloudFormation acts as.
async fn make_cfn(
    c: &SeedClients,
    cfn: &aws_sdk_cloudformation::Client,
    stack: &seed::SeededStack,
    s: &CfnStack,
) -> String {
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "cloudformation.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": &c.account}}
        }]
    });
    let policy = match s.role {
        CfnRole::Admin => json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        _ => json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "sqs:*",
             "Resource": format!("arn:aws:sqs:us-east-1:{}:{}-*", c.account, s.prefix)}]}),
    };
    let role_name = format!("{}-cfn-role", s.prefix);
    let role_arn = c
        .iam
        .create_role()
        .role_name(&role_name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("iam:CreateRole {role_name}: {e:?}"))
        .role()
        .map(|r| r.arn().to_string())
        .unwrap_or_default();
    c.iam
        .put_role_policy()
        .role_name(&role_name)
        .policy_name("cfn")
        .policy_document(policy.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("iam:PutRolePolicy {role_name}: {e:?}"));

    let name = stack_name(s.prefix);
    // the deploy action's role and the role CloudFormation acts as are in
    // the other account, and so is the stack (not created here)
    let (action_role, role_arn) = if s.other_account {
        (
            Some(format!(
                "arn:aws:iam::{OTHER_ACCOUNT}:role/{}-deployer",
                s.prefix
            )),
            format!("arn:aws:iam::{OTHER_ACCOUNT}:role/{role_name}"),
        )
    } else {
        (None, role_arn)
    };
    if !s.other_account {
        cfn.create_stack()
            .stack_name(&name)
            .template_body(TEMPLATE)
            .enable_termination_protection(s.protection == Guard::Termination)
            .send()
            .await
            .unwrap_or_else(|e| panic!("cloudformation:CreateStack {name}: {e:?}"));
        if s.protection == Guard::Policy {
            let body = json!({"Statement": [
            {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*", "Resource": "*"},
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]});
            cfn.set_stack_policy()
                .stack_name(&name)
                .stack_policy_body(body.to_string())
                .send()
                .await
                .unwrap_or_else(|e| panic!("cloudformation:SetStackPolicy {name}: {e:?}"));
        }
    }

    let template = if s.template_from_source {
        "SourceOutput::template.json"
    } else {
        "BuildOutput::packaged.json"
    };
    let artifact = template.split("::").next().unwrap_or_default();
    let deploy = |action: &str, mode: &str, run_order: i32, with_template: bool| {
        let mut a = cp::ActionDeclaration::builder()
            .name(action)
            .action_type_id(action_type(
                cp::ActionCategory::Deploy,
                cp::ActionOwner::Aws,
                "CloudFormation",
            ))
            .configuration("ActionMode", mode)
            .configuration("StackName", &name)
            .set_role_arn(action_role.clone())
            .run_order(run_order);
        if mode != "CREATE_UPDATE" {
            a = a.configuration("ChangeSetName", "pipeline-changes");
        }
        if with_template {
            a = a.configuration("TemplatePath", template).input_artifacts(
                cp::InputArtifact::builder()
                    .name(artifact)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            if !s.capabilities.is_empty() {
                a = a.configuration("Capabilities", s.capabilities);
            }
            if s.role != CfnRole::None {
                a = a.configuration("RoleArn", &role_arn);
            }
        }
        a.build().unwrap_or_else(|e| panic!("{e}"))
    };
    let actions = if s.change_set_with_approval {
        vec![
            deploy("Plan", "CHANGE_SET_REPLACE", 1, true),
            cp::ActionDeclaration::builder()
                .name("Review")
                .action_type_id(action_type(
                    cp::ActionCategory::Approval,
                    cp::ActionOwner::Aws,
                    "Manual",
                ))
                .run_order(2)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            deploy("Apply", "CHANGE_SET_EXECUTE", 3, false),
        ]
    } else {
        vec![deploy("Deploy", "CREATE_UPDATE", 1, true)]
    };
    let mut decl = seed::declaration(c, &stack.pipeline_name)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let mut stages = decl.stages.clone();
    let last = stages.len() - 1;
    stages[last] = cp::StageDeclaration::builder()
        .name("Deploy")
        .set_actions(Some(actions))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    decl.stages = stages;
    seed::update_declaration(c, decl)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    match s.role {
        CfnRole::None => stack.roles[0].clone(),
        _ => role_arn,
    }
}

fn audit(endpoint: &str, extra: &[&str]) -> Value {
    let o = support::pipeaudit_command(endpoint)
        .args(["--region", "us-east-1", "-q", "--format", "json"])
        .args(["--max-attempts", "1"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    support::stdout_json(&o)
}

fn of_pipeline<'a>(report: &'a Value, pipeline: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["pipeline"] == pipeline)
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn ids_of(report: &Value, pipeline: &str) -> BTreeSet<String> {
    of_pipeline(report, pipeline)
        .iter()
        .filter_map(|f| f["rule_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn cloudformation_deploy_stages() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let cfn = aws_sdk_cloudformation::Client::new(&moto.sdk_config("us-east-1").await);
    let mut deploy_roles = Vec::new();
    for s in STACKS {
        let spec = StackSpec {
            prefix: s.prefix.to_string(),
            defects: Vec::new(),
            shared_store: None,
        };
        let stack = seed::seed_stack(&c, &spec)
            .await
            .unwrap_or_else(|e| panic!("seed {}: {e:#}", s.prefix));
        deploy_roles.push(make_cfn(&c, &cfn, &stack, s).await);
    }
    // moto kept what the checks read
    let protected = cfn
        .describe_stacks()
        .stack_name(stack_name("cfn-ok"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(
        protected.stacks()[0].enable_termination_protection(),
        Some(true)
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("snap.json");
    let path_str = path.to_string_lossy().to_string();
    let report = audit(&moto.endpoint, &["--save-snapshot", &path_str]);
    let snap: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
    // two calls per distinct stack at most
    assert_eq!(
        snap["api_calls"]["cloudformation:DescribeStacks"],
        json!(STACKS.len() - 1),
        "{}",
        snap["api_calls"]
    );
    assert_eq!(
        snap["api_calls"]["cloudformation:GetStackPolicy"],
        json!(STACKS.len() - 1)
    );
    let ok = &snap["resources"]["cfn_stacks"][stack_key(&c.account, "cfn-ok")];
    assert_eq!(ok["value"]["termination_protection"], true, "{ok}");
    assert_eq!(ok["value"]["stack_policy"]["status"], "absent", "{ok}");
    let with_policy = &snap["resources"]["cfn_stacks"][stack_key(&c.account, "cfn-admin")];
    assert_eq!(
        with_policy["value"]["stack_policy"]["status"], "ok",
        "{with_policy}"
    );
    let wiring = snap["pipelines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == "cfn-ok-pipeline")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        wiring["stack_deploys"][0]["action_mode"],
        "CHANGE_SET_REPLACE"
    );
    assert_eq!(wiring["stack_deploys"][0]["executed_by"], "Deploy/Apply");
    assert_eq!(wiring["stack_deploys"][1]["approval_before_execute"], true);
    assert_eq!(
        wiring["stack_deploys"][1]["template"]["origin"], "build",
        "{wiring}"
    );
    support::assert_policy_grants(
        "iam-audit-policy.json",
        snap["api_calls"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(a, _)| a),
    );
    // The deploy into the other account: one note, naming the account and
    // the stack; nothing concluded about it, and the exit code is that of
    // the findings.
    assert!(
        support::diagnostics(&report).is_empty(),
        "{:#?}",
        support::diagnostics(&report)
    );
    let notes: Vec<(String, String, String)> = support::notes(&report)
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .is_some_and(|m| m.contains("deploys into account"))
        })
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_string(),
                d["pipeline"].as_str().unwrap_or_default().to_string(),
                d["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        [(
            "note".to_string(),
            "cfn-other-pipeline".to_string(),
            format!(
                "pipeline cfn-other-pipeline deploys into account {OTHER_ACCOUNT}, outside this account's audit: stack cfn-other-app in us-east-1 not checked"
            )
        )],
    );
    for (s, deploy_role) in STACKS.iter().zip(&deploy_roles) {
        let pipeline = format!("{}-pipeline", s.prefix);
        let want: BTreeSet<String> = ALWAYS
            .iter()
            .copied()
            .chain(s.expected.iter().map(|(id, _)| *id))
            .map(str::to_string)
            .collect();
        assert_eq!(ids_of(&report, &pipeline), want, "{pipeline}");
        for (id, severity) in s.expected {
            let found: Vec<&Value> = of_pipeline(&report, &pipeline)
                .into_iter()
                .filter(|f| f["rule_id"] == *id)
                .collect();
            assert_eq!(found.len(), 1, "{pipeline} {id}: {found:#?}");
            let f = found[0];
            assert_eq!(f["severity"], *severity, "{pipeline} {id}: {f}");
            let resource = f["resource_arn"].as_str().unwrap_or_default();
            match *id {
                "CD010" | "IA001" => assert_eq!(resource, deploy_role, "{f}"),
                _ => assert_eq!(resource, stack_key(&c.account, s.prefix), "{f}"),
            }
            let message = f["message"].as_str().unwrap_or_default();
            assert!(message.contains("us-east-1") || *id == "IA001", "{f}");
        }
    }
    let norole = of_pipeline(&report, "cfn-norole-pipeline")
        .into_iter()
        .find(|f| f["rule_id"] == "CD010")
        .cloned()
        .unwrap_or(Value::Null);
    let message = norole["message"].as_str().unwrap_or_default();
    assert!(
        message
            .contains("no RoleArn: CloudFormation acts with the credentials of the pipeline role")
            && message.contains("codedeploy:CreateDeployment"),
        "{message}"
    );
    let admin = of_pipeline(&report, "cfn-admin-pipeline")
        .into_iter()
        .find(|f| f["rule_id"] == "CD010")
        .cloned()
        .unwrap_or(Value::Null);
    let message = admin["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("allows * on *")
            && message.contains("template SourceOutput::template.json (from Source/Source)"),
        "{message}"
    );

    // With the CloudFormation profile, the correct pipeline is clean and no
    // pipeline deviates from the reference; a note alone exits 0.
    let toml = dir.path().join("pipeaudit.toml");
    std::fs::write(&toml, "[reference]\nprofile = \"cloudformation\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let toml_str = toml.to_string_lossy().to_string();
    let profiled = audit(
        &moto.endpoint,
        &["--snapshot", &path_str, "--config", &toml_str],
    );
    assert!(
        !support::rule_ids(&profiled).contains("PL001"),
        "{profiled}"
    );
    assert_eq!(ids_of(&profiled, "cfn-ok-pipeline"), set(&["CB004"]));
    // the other-account pipeline alone, CB004 (a moto artefact) disabled:
    // only the note remains, and the audit exits 0
    let mut alone = snap.clone();
    if let Some(p) = alone["pipelines"].as_array_mut() {
        p.retain(|w| w["name"] == "cfn-other-pipeline");
    }
    let alone_path = dir.path().join("alone.json");
    std::fs::write(&alone_path, alone.to_string()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        &toml,
        "disabled = [\"CB004\"]\n[reference]\nprofile = \"cloudformation\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = support::pipeaudit_command(&moto.endpoint)
        .args([
            "--snapshot",
            &alone_path.to_string_lossy(),
            "--config",
            &toml_str,
        ])
        .args(["-q", "--format", "json"])
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    let r = support::stdout_json(&o);
    assert_eq!(support::rule_ids(&r), set(&[]), "{r}");
    assert!(support::diagnostics(&r).is_empty(), "{r}");
    assert_eq!(
        support::notes(&r)
            .iter()
            .filter(|d| d["message"]
                .as_str()
                .is_some_and(|m| m.contains("deploys into account")))
            .count(),
        1,
        "{r}"
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // A denied GetStackPolicy: CD012 cannot tell an unprotected stack
    // from one with a policy, so it neither fires nor passes on the stack
    // without termination protection whose policy it needed, and names
    // the permission; a stack with termination protection needs no policy.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "cloudformation:GetStackPolicy").then_some(Fault::AccessDenied)),
    );
    let denied = audit(&proxy.endpoint, &[]);
    for s in STACKS {
        let pipeline = format!("{}-pipeline", s.prefix);
        let want: BTreeSet<String> = ALWAYS
            .iter()
            .copied()
            .chain(s.expected.iter().map(|(id, _)| *id))
            .filter(|id| *id != "CD012")
            .map(str::to_string)
            .collect();
        assert_eq!(ids_of(&denied, &pipeline), want, "{pipeline}");
    }
    let gaps: BTreeSet<(String, String, String)> = support::diagnostics(&denied)
        .iter()
        .filter(|d| d["kind"] != "note")
        .map(|d| {
            (
                d["rule_id"].as_str().unwrap_or_default().to_string(),
                d["pipeline"].as_str().unwrap_or_default().to_string(),
                d["permission"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // the stacks with a stack policy and no termination protection, and the
    // one with neither
    let want: BTreeSet<(String, String, String)> = ["cfn-admin", "cfn-capsok", "cfn-open"]
        .iter()
        .map(|p| {
            (
                "CD012".to_string(),
                format!("{p}-pipeline"),
                "cloudformation:GetStackPolicy".to_string(),
            )
        })
        .collect();
    // (cfn-admin and cfn-capsok deploy their production stack with a
    // policy, which the denied read hides)
    assert_eq!(gaps, want, "{:#?}", support::diagnostics(&denied));

    // A denied DescribeStacks: nothing is concluded about the stacks; every
    // rule that needed one names the permission, and no stack is reported
    // unprotected.
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| (r.op() == "cloudformation:DescribeStacks").then_some(Fault::AccessDenied)),
    );
    let denied = audit(&proxy.endpoint, &[]);
    assert!(
        !support::rule_ids(&denied).contains("CD012"),
        "{:#?}",
        denied["findings"]
    );
    let diagnostics: Vec<Value> = support::diagnostics(&denied)
        .into_iter()
        .filter(|d| d["kind"] != "note")
        .collect();
    assert!(!diagnostics.is_empty());
    for d in &diagnostics {
        assert_eq!(d["permission"], "cloudformation:DescribeStacks", "{d}");
    }
    for s in STACKS
        .iter()
        .filter(|s| s.protection == Guard::Nothing && !s.other_account)
    {
        let pipeline = format!("{}-pipeline", s.prefix);
        assert!(
            diagnostics
                .iter()
                .any(|d| d["rule_id"] == "CD012" && d["pipeline"] == pipeline.as_str()),
            "{pipeline}: {diagnostics:#?}"
        );
    }
}
