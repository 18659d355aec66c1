//! `deploy-one-at-a-time` (unsafe: deployments take longer): replace
//! CodeDeployDefault.AllAtOnce with CodeDeployDefault.OneAtATime.

use serde_json::json;

use super::registry::{
    ApplyFuture, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm, TerraformForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;
use crate::patch::terraform::{TfContext, TfEdit};
use crate::patch::{Edit, path};

/// `deploy-one-at-a-time`.
pub struct DeployOneAtATime;

impl FixAction for DeployOneAtATime {
    fn id(&self) -> &'static str {
        "deploy-one-at-a-time"
    }
    fn summary(&self) -> &'static str {
        "UpdateDeploymentGroup: deployment configuration CodeDeployDefault.OneAtATime."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Unsafe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`DeploymentConfigName: CodeDeployDefault.OneAtATime` in place of `CodeDeployDefault.AllAtOnce`",
            edits: template_edits,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "`deployment_config_name = \"CodeDeployDefault.OneAtATime\"` in place of `CodeDeployDefault.AllAtOnce`",
            edits: terraform_edits,
        })
    }
}

fn template_edits(f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    let g = cx
        .snapshot
        .resources
        .deploy_groups
        .get(&f.resource_arn)
        .and_then(|g| g.value())
        .ok_or_else(|| Error::not_edited("the deployment group is not known from the templates"))?;
    if g.deployment_config_name.as_deref() != Some(ALL) {
        return Err(Error::not_edited(format!(
            "the group uses {}, not {ALL}: choose a configuration that keeps hosts healthy",
            g.deployment_config_name
                .as_deref()
                .unwrap_or("no named configuration")
        )));
    }
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "DeploymentConfigName"]),
        json!(ONE),
    )])
}

fn terraform_edits(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    let now = cx
        .values(cx.address)
        .and_then(|v| v.get("deployment_config_name"))
        .and_then(|v| v.as_str());
    if now != Some(ALL) {
        return Err(Error::not_edited(format!(
            "the group uses {}, not {ALL}: choose a configuration that keeps hosts healthy",
            now.unwrap_or("no named configuration")
        )));
    }
    Ok(vec![TfEdit::set(
        cx.address,
        &["deployment_config_name"],
        json!(ONE),
    )])
}
const ALL: &str = "CodeDeployDefault.AllAtOnce";
const ONE: &str = "CodeDeployDefault.OneAtATime";

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let g = s.resources.deploy_groups.get(&f.resource_arn)?.value()?;
    if g.deployment_config_name.as_deref() != Some(ALL) {
        return None;
    }
    Some(step(
        f,
        &DeployOneAtATime,
        format!(
            "deploy {}/{} one instance at a time",
            g.application_name, g.name
        ),
        json!({"deployment_config_name": ALL}),
        json!({"deployment_config_name": ONE}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let (app, group, info) = super::deployment_group(c, &a.resource_arn).await?;
    let found = json!({"deployment_config_name": info.deployment_config_name()});
    if found != a.before {
        return Err(changed(&a.resource_arn, &a.before, &found));
    }
    c.codedeploy
        .update_deployment_group()
        .application_name(&app)
        .current_deployment_group_name(&group)
        .deployment_config_name(ONE)
        .send()
        .await
        .map_err(|e| sdk_failed("codedeploy:UpdateDeploymentGroup", &e))?;
    Ok("codedeploy:UpdateDeploymentGroup".to_string())
}
