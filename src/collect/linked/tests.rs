use super::*;
use crate::model::{PipelineWiring, StackDeployRef};

const A: &str = "111111111111";
const B: &str = "222222222222";
const D: &str = "444444444444";

fn deploy(account: &str, stack: &str) -> StackDeployRef {
    StackDeployRef {
        stage: "Deploy".to_string(),
        action: stack.to_string(),
        region: "eu-west-1".to_string(),
        account: account.to_string(),
        action_mode: "CREATE_UPDATE".to_string(),
        stack_name: stack.to_string(),
        stack_arn: format!("arn:aws:cloudformation:eu-west-1:{account}:stack/{stack}"),
        cfn_role_arn: Some(format!("arn:aws:iam::{account}:role/cfn")),
        action_role_arn: Some(format!("arn:aws:iam::{account}:role/deployer")),
        ..Default::default()
    }
}

fn linker() -> Linker {
    let accounts = [A, B].map(|a| (a.to_string(), format!("arn:aws:iam::{a}:role/audit")));
    Linker::new(&SdkConfig::builder().build(), None, accounts, 4)
}

/// Only the stacks of other accounts of the audit are followed, each
/// once however many pipelines deploy it; with the roles
/// CloudFormation may act as there, the stack's own role included.
#[test]
fn only_deploys_into_other_audited_accounts_are_followed() {
    let mut s = Snapshot::new(A.to_string(), vec!["eu-west-1".to_string()], String::new());
    let w = PipelineWiring {
        name: "p".to_string(),
        arn: format!("arn:aws:codepipeline:eu-west-1:{A}:p"),
        stack_deploys: vec![
            deploy(A, "own"),
            deploy(B, "far"),
            deploy(D, "outside"),
            StackDeployRef {
                stack_name: String::new(),
                ..deploy(B, "")
            },
        ],
        ..Default::default()
    };
    let mut again = w.clone();
    again.arn = format!("arn:aws:codepipeline:eu-west-1:{A}:q");
    s.pipelines = vec![w, again];
    let l = linker();
    let t = l.targets(&s);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].account, B);
    assert_eq!(t[0].name, "far");
    assert_eq!(t[0].region, "eu-west-1");

    let stack_role = format!("arn:aws:iam::{B}:role/stack-own");
    s.resources.cfn_stacks.insert(
        t[0].arn.clone(),
        Observed::ok(CfnStack {
            name: "far".to_string(),
            arn: t[0].arn.clone(),
            status: "CREATE_COMPLETE".to_string(),
            termination_protection: true,
            role_arn: Some(stack_role.clone()),
            stack_policy: Observed::Absent,
        }),
    );
    let roles: Vec<String> = l.roles_named(&s).into_iter().map(|(_, r)| r).collect();
    assert_eq!(
        roles,
        [
            format!("arn:aws:iam::{B}:role/cfn"),
            format!("arn:aws:iam::{B}:role/deployer"),
            stack_role,
        ]
    );
}
