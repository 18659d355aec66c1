//! CloudFormation deploy actions: their wiring (which stack, which
//! template from which artifact, which roles), and the stacks they deploy
//! (DescribeStacks for status, termination protection and the stack's own
//! role; GetStackPolicy), each distinct stack read once, with at most those
//! two calls.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_cloudformation::Client;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::call::{Ctx, read_error};
use super::clients::RegionClients;
use super::key_refs::Ids;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, each};
use crate::model::{
    ArtifactFile, CfnStack, Observed, Pipeline, PolicyText, ReadError, Resources, StackDeployRef,
};

/// The IAM action of the stack read.
pub const DESCRIBE_STACKS: &str = "cloudformation:DescribeStacks";
/// The IAM action of the stack policy read.
pub const GET_STACK_POLICY: &str = "cloudformation:GetStackPolicy";

/// The capabilities that let a template create or change IAM resources, or
/// expand macros (which can add any resource).
pub const IAM_CAPABILITIES: [&str; 3] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

/// The key a stack is recorded under: its ARN without the stack id.
pub fn stack_key(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:cloudformation:{region}:{account}:stack/{name}")
}

/// The account of an ARN, when it names one.
pub(crate) fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// `Artifact::path` split into its two parts.
fn artifact_path(value: &str) -> Option<(String, String)> {
    let (artifact, path) = value.split_once("::")?;
    let (artifact, path) = (artifact.trim(), path.trim());
    (!artifact.is_empty()).then(|| (artifact.to_string(), path.to_string()))
}

/// Where each output artifact of the pipeline comes from: `source` for a
/// source action's output, `build` for the output of an action that takes
/// a source or build artifact, `other` for the rest; with the producer.
fn artifact_origins(p: &Pipeline) -> BTreeMap<String, (String, String)> {
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for stage in &p.stages {
        // actions run in run order within a stage
        let mut actions: Vec<_> = stage.actions.iter().collect();
        actions.sort_by_key(|a| a.run_order.unwrap_or(1));
        for a in actions {
            let origin = if a.category == "Source" {
                "source"
            } else if a.input_artifacts.iter().any(|i| {
                out.get(i)
                    .is_some_and(|(o, _)| o == "source" || o == "build")
            }) {
                "build"
            } else {
                "other"
            };
            for o in &a.output_artifacts {
                out.insert(
                    o.clone(),
                    (origin.to_string(), format!("{}/{}", stage.name, a.name)),
                );
            }
        }
    }
    out
}

/// The CloudFormation deploy actions of a pipeline declaration, in stage
/// order. Pure: no call is made.
pub fn stack_deploys(p: &Pipeline, ids: Ids<'_>) -> Vec<StackDeployRef> {
    let origins = artifact_origins(p);
    let file = |value: Option<&String>| {
        let (artifact, path) = artifact_path(value?)?;
        let (origin, produced_by) = match origins.get(&artifact) {
            Some((o, by)) => (o.clone(), Some(by.clone())),
            None => ("other".to_string(), None),
        };
        Some(ArtifactFile {
            artifact,
            path,
            origin,
            produced_by,
        })
    };
    // (stage index, run order, ref)
    let mut out: Vec<(usize, i32, StackDeployRef)> = Vec::new();
    for (si, stage) in p.stages.iter().enumerate() {
        for a in &stage.actions {
            if a.category != "Deploy" || a.provider != "CloudFormation" {
                continue;
            }
            let conf = |k: &str| a.configuration.get(k).filter(|v| !v.trim().is_empty());
            let region = a.region.clone().unwrap_or_else(|| p.region.clone());
            let account = a
                .role_arn
                .as_deref()
                .and_then(account_of)
                .unwrap_or(ids.account)
                .to_string();
            let stack_name = conf("StackName").cloned().unwrap_or_default();
            let mode = conf("ActionMode").cloned().unwrap_or_default();
            let takes_template = !matches!(mode.as_str(), "CHANGE_SET_EXECUTE" | "DELETE_ONLY");
            out.push((
                si,
                a.run_order.unwrap_or(1),
                StackDeployRef {
                    stage: stage.name.clone(),
                    action: a.name.clone(),
                    stack_arn: stack_key(ids.partition, &region, &account, &stack_name),
                    region,
                    account,
                    action_mode: mode,
                    stack_name,
                    change_set_name: conf("ChangeSetName").cloned(),
                    template: if takes_template {
                        file(conf("TemplatePath"))
                    } else {
                        None
                    },
                    template_configuration: if takes_template {
                        file(conf("TemplateConfiguration"))
                    } else {
                        None
                    },
                    capabilities: conf("Capabilities")
                        .map(|c| {
                            c.split(',')
                                .map(|x| x.trim().to_string())
                                .filter(|x| !x.is_empty())
                                .collect()
                        })
                        .unwrap_or_default(),
                    cfn_role_arn: conf("RoleArn").cloned(),
                    action_role_arn: a.role_arn.clone(),
                    executed_by: None,
                    approval_before_execute: false,
                },
            ));
        }
    }
    // A change set made by CHANGE_SET_REPLACE and executed later: the
    // execute action deploys the replace action's template and
    // capabilities; a manual approval between the two is review.
    let position = |si: usize, run: i32| (si, run);
    let approvals: Vec<(usize, i32)> = p
        .stages
        .iter()
        .enumerate()
        .flat_map(|(si, st)| {
            st.actions
                .iter()
                .filter(|a| a.category == "Approval" && a.provider == "Manual")
                .map(move |a| (si, a.run_order.unwrap_or(1)))
        })
        .collect();
    let snapshot = out.clone();
    for (si, run, exec) in out.iter_mut() {
        if exec.action_mode != "CHANGE_SET_EXECUTE" {
            continue;
        }
        let made = snapshot.iter().rev().find(|(rsi, rrun, r)| {
            r.action_mode == "CHANGE_SET_REPLACE"
                && r.stack_arn == exec.stack_arn
                && r.change_set_name == exec.change_set_name
                && position(*rsi, *rrun) < position(*si, *run)
        });
        if let Some((rsi, rrun, r)) = made {
            exec.template = r.template.clone();
            exec.template_configuration = r.template_configuration.clone();
            exec.capabilities = r.capabilities.clone();
            // the change set runs with the role it was made with
            if exec.cfn_role_arn.is_none() {
                exec.cfn_role_arn = r.cfn_role_arn.clone();
            }
            exec.approval_before_execute = approvals
                .iter()
                .any(|at| position(*rsi, *rrun) < *at && *at < position(*si, *run));
        }
    }
    let executes: Vec<(usize, i32, String, Option<String>, String, bool)> = out
        .iter()
        .filter(|(_, _, e)| e.action_mode == "CHANGE_SET_EXECUTE")
        .map(|(si, run, e)| {
            (
                *si,
                *run,
                e.stack_arn.clone(),
                e.change_set_name.clone(),
                format!("{}/{}", e.stage, e.action),
                e.approval_before_execute,
            )
        })
        .collect();
    for (si, run, r) in out.iter_mut() {
        if r.action_mode != "CHANGE_SET_REPLACE" {
            continue;
        }
        if let Some((_, _, _, _, by, reviewed)) =
            executes.iter().find(|(esi, erun, arn, cs, _, _)| {
                *arn == r.stack_arn
                    && *cs == r.change_set_name
                    && position(*si, *run) < position(*esi, *erun)
            })
        {
            r.executed_by = Some(by.clone());
            r.approval_before_execute = *reviewed;
        }
    }
    out.into_iter().map(|(_, _, r)| r).collect()
}

/// The stacks of the pipelines' CloudFormation deploy actions in the
/// audited account (a stack in another account is not read here).
pub struct Stacks;

impl Facts for Stacks {
    type Value = CfnStack;
    const NAME: &'static str = "cfn_stacks";
    const ACTION: &'static str = DESCRIBE_STACKS;
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = Some("aws_cloudformation_stack");
    const VARIABLES: &'static [&'static str] = &["stacks"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<CfnStack>> {
        &r.cfn_stacks
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<CfnStack>> {
        &mut r.cfn_stacks
    }

    fn field_errors(s: &CfnStack) -> Vec<&ReadError> {
        s.stack_policy.error().into_iter().collect()
    }
}

impl Kind for Stacks {
    /// The stack name.
    type Detail = String;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, CfnStack>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                let account = w.arn.split(':').nth(4).unwrap_or("").to_string();
                w.stack_deploys
                    .iter()
                    .filter(move |d| d.account == account && !d.stack_name.is_empty())
                    .map(|d| {
                        Found::Read(ToRead {
                            arn: d.stack_arn.clone(),
                            region: d.region.clone(),
                            detail: d.stack_name.clone(),
                        })
                    })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<String>],
    ) -> impl Future<Output = Vec<(String, Observed<CfnStack>)>> + Send + 'a {
        each(targets, |t| get_stack(ctx, &c.cloudformation, &t.detail))
    }
}

/// DescribeStacks, then GetStackPolicy when the stack exists. A stack that
/// does not exist (CloudFormation answers a ValidationError "does not
/// exist") is absent.
pub async fn get_stack(ctx: &Ctx, c: &Client, name: &str) -> Observed<CfnStack> {
    let r = ctx
        .call(DESCRIBE_STACKS, c.describe_stacks().stack_name(name).send())
        .await;
    let stack = match r {
        Ok(o) => match o.stacks().first() {
            Some(s) => s.clone(),
            None => return Observed::Absent,
        },
        Err(e) => {
            let missing = e.code() == Some("ValidationError")
                && e.message().is_some_and(|m| m.contains("does not exist"));
            return if missing {
                Observed::Absent
            } else {
                Observed::Unknown {
                    error: read_error(DESCRIBE_STACKS, &e),
                }
            };
        }
    };
    let arn = stack.stack_id().unwrap_or(name).to_string();
    let policy = match ctx
        .call(
            GET_STACK_POLICY,
            c.get_stack_policy().stack_name(&arn).send(),
        )
        .await
    {
        Ok(o) => match o.stack_policy_body().filter(|b| !b.trim().is_empty()) {
            Some(body) => Observed::ok(PolicyText::parse(body)),
            None => Observed::Absent,
        },
        Err(e) => Observed::Unknown {
            error: read_error(GET_STACK_POLICY, &e),
        },
    };
    Observed::ok(CfnStack {
        name: stack.stack_name().unwrap_or(name).to_string(),
        arn,
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        termination_protection: stack.enable_termination_protection().unwrap_or(false),
        role_arn: stack.role_arn().map(str::to_string),
        stack_policy: policy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Action, Stage};

    fn action(
        name: &str,
        category: &str,
        provider: &str,
        conf: &[(&str, &str)],
        inputs: &[&str],
        outputs: &[&str],
        run_order: i32,
    ) -> Action {
        Action {
            name: name.to_string(),
            category: category.to_string(),
            owner: "AWS".to_string(),
            provider: provider.to_string(),
            version: "1".to_string(),
            run_order: Some(run_order),
            configuration: conf
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            input_artifacts: inputs.iter().map(|s| s.to_string()).collect(),
            output_artifacts: outputs.iter().map(|s| s.to_string()).collect(),
            ..Action::default()
        }
    }

    fn pipeline(stages: Vec<(&str, Vec<Action>)>) -> Pipeline {
        Pipeline {
            name: "p".to_string(),
            arn: "arn:aws:codepipeline:us-east-1:111111111111:p".to_string(),
            region: "us-east-1".to_string(),
            stages: stages
                .into_iter()
                .map(|(n, actions)| Stage {
                    name: n.to_string(),
                    actions,
                })
                .collect(),
            ..Pipeline::default()
        }
    }

    const IDS: Ids<'static> = Ids {
        partition: "aws",
        account: "111111111111",
    };

    #[test]
    fn change_sets_take_the_replace_template_and_see_the_approval() {
        let p = pipeline(vec![
            (
                "Source",
                vec![action("Src", "Source", "CodeCommit", &[], &[], &["Src"], 1)],
            ),
            (
                "Build",
                vec![action(
                    "Sam",
                    "Build",
                    "CodeBuild",
                    &[],
                    &["Src"],
                    &["Built"],
                    1,
                )],
            ),
            (
                "Prod",
                vec![
                    action(
                        "Plan",
                        "Deploy",
                        "CloudFormation",
                        &[
                            ("ActionMode", "CHANGE_SET_REPLACE"),
                            ("StackName", "app"),
                            ("ChangeSetName", "cs"),
                            ("TemplatePath", "Built::packaged.yaml"),
                            ("TemplateConfiguration", "Src::prod.json"),
                            ("Capabilities", "CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND"),
                            ("RoleArn", "arn:aws:iam::111111111111:role/cfn"),
                        ],
                        &["Built", "Src"],
                        &[],
                        1,
                    ),
                    action("Ok", "Approval", "Manual", &[], &[], &[], 2),
                    action(
                        "Run",
                        "Deploy",
                        "CloudFormation",
                        &[
                            ("ActionMode", "CHANGE_SET_EXECUTE"),
                            ("StackName", "app"),
                            ("ChangeSetName", "cs"),
                        ],
                        &[],
                        &[],
                        3,
                    ),
                ],
            ),
        ]);
        let d = stack_deploys(&p, IDS);
        assert_eq!(d.len(), 2);
        let (plan, run) = (&d[0], &d[1]);
        assert_eq!(
            plan.stack_arn,
            "arn:aws:cloudformation:us-east-1:111111111111:stack/app"
        );
        let t = plan.template.clone().unwrap_or_default();
        assert_eq!(
            (t.artifact.as_str(), t.path.as_str(), t.origin.as_str()),
            ("Built", "packaged.yaml", "build")
        );
        assert_eq!(t.produced_by.as_deref(), Some("Build/Sam"));
        assert_eq!(
            plan.template_configuration
                .as_ref()
                .map(|c| c.origin.as_str()),
            Some("source")
        );
        assert_eq!(
            plan.capabilities,
            ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
        );
        assert_eq!(plan.executed_by.as_deref(), Some("Prod/Run"));
        assert!(plan.approval_before_execute && run.approval_before_execute);
        assert_eq!(run.template, plan.template);
        assert_eq!(run.capabilities, plan.capabilities);
        assert_eq!(run.cfn_role_arn, plan.cfn_role_arn);
        assert_eq!(
            plan.cfn_role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/cfn")
        );

        // without the approval: not reviewed
        let mut p2 = p.clone();
        p2.stages[2].actions.remove(1);
        let d = stack_deploys(&p2, IDS);
        assert!(!d[0].approval_before_execute && !d[1].approval_before_execute);
        assert_eq!(d[0].executed_by.as_deref(), Some("Prod/Run"));
    }

    #[test]
    fn another_account_and_region_come_from_the_action() {
        let mut a = action(
            "Deploy",
            "Deploy",
            "CloudFormation",
            &[
                ("ActionMode", "CREATE_UPDATE"),
                ("StackName", "svc"),
                ("TemplatePath", "Ext::t.yaml"),
            ],
            &["Ext"],
            &[],
            1,
        );
        a.role_arn = Some("arn:aws:iam::222222222222:role/deployer".to_string());
        a.region = Some("eu-west-1".to_string());
        let p = pipeline(vec![
            (
                "Source",
                vec![action("S", "Source", "S3", &[], &[], &["Other"], 1)],
            ),
            ("Deploy", vec![a]),
        ]);
        let d = stack_deploys(&p, IDS);
        assert_eq!(d[0].account, "222222222222");
        assert_eq!(
            d[0].stack_arn,
            "arn:aws:cloudformation:eu-west-1:222222222222:stack/svc"
        );
        // an artifact no action produces
        let t = d[0].template.clone().unwrap_or_default();
        assert_eq!((t.origin.as_str(), t.produced_by), ("other", None));
        assert_eq!(
            d[0].action_role_arn.as_deref(),
            Some("arn:aws:iam::222222222222:role/deployer")
        );
    }
}
