//! `deploy-rollback`: turn on automatic rollback when a deployment fails,
//! keeping any rollback events already configured.

use aws_sdk_codedeploy::types::{AutoRollbackConfiguration, AutoRollbackEvent};
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

/// `deploy-rollback`.
pub struct DeployRollback;

impl FixAction for DeployRollback {
    fn id(&self) -> &'static str {
        "deploy-rollback"
    }
    fn summary(&self) -> &'static str {
        "UpdateDeploymentGroup: automatic rollback on DEPLOYMENT_FAILURE, existing events kept."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Safe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`AutoRollbackConfiguration.Enabled: true` on the deployment group, `DEPLOYMENT_FAILURE` added to its `Events`",
            edits: template_edits,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "`auto_rollback_configuration { enabled = true }` on the `aws_codedeploy_deployment_group`, `DEPLOYMENT_FAILURE` added to its `events`",
            edits: terraform_edits,
        })
    }
}

/// Rollback on; `DEPLOYMENT_FAILURE` added to the events written.
fn template_edits(f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    let g = cx
        .snapshot
        .resources
        .deploy_groups
        .get(&f.resource_arn)
        .and_then(|g| g.value())
        .ok_or_else(|| Error::not_edited("the deployment group is not known from the templates"))?;
    let mut edits = vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "AutoRollbackConfiguration", "Enabled"]),
        json!(true),
    )];
    let mut before = g.auto_rollback_events.clone();
    before.sort();
    let after = events_after(&before);
    if after != before {
        edits.push(Edit::set(
            cx.logical_id,
            path(&["Properties", "AutoRollbackConfiguration", "Events"]),
            json!(after),
        ));
    }
    Ok(edits)
}

fn terraform_edits(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    if cx.ty() != "aws_codedeploy_deployment_group" {
        return Err(Error::wrong_type(
            cx.address,
            "aws_codedeploy_deployment_group",
        ));
    }
    let mut before: Vec<String> = cx
        .values(cx.address)
        .and_then(|v| v.pointer("/auto_rollback_configuration/0/events"))
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    before.sort();
    let after = events_after(&before);
    let mut edits = vec![TfEdit::set(
        cx.address,
        &["auto_rollback_configuration", "enabled"],
        json!(true),
    )];
    if after != before {
        edits.push(TfEdit::set(
            cx.address,
            &["auto_rollback_configuration", "events"],
            json!(after),
        ));
    }
    Ok(edits)
}

/// (application, group) from a deployment group ARN.
pub fn names(arn: &str) -> Option<(String, String)> {
    let rest = arn.split(":deploymentgroup:").nth(1)?;
    let (app, group) = rest.split_once('/')?;
    Some((app.to_string(), group.to_string()))
}

fn events_after(before: &[String]) -> Vec<String> {
    let mut events = before.to_vec();
    if !events.iter().any(|e| e == "DEPLOYMENT_FAILURE") {
        events.push("DEPLOYMENT_FAILURE".to_string());
    }
    events.sort();
    events
}

fn plan(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let g = s.resources.deploy_groups.get(&f.resource_arn)?.value()?;
    let mut before_events = g.auto_rollback_events.clone();
    before_events.sort();
    Some(step(
        f,
        &DeployRollback,
        format!(
            "turn on automatic rollback on deployment failure for {}/{}",
            g.application_name, g.name
        ),
        json!({"enabled": g.auto_rollback_enabled, "events": before_events}),
        json!({"enabled": true, "events": events_after(&before_events)}),
    ))
}

async fn apply(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let (app, group, info) = super::deployment_group(c, &a.resource_arn).await?;
    let cfg = info.auto_rollback_configuration();
    let mut events: Vec<String> = cfg
        .map(|c| c.events().iter().map(|e| e.as_str().to_string()).collect())
        .unwrap_or_default();
    events.sort();
    let found = json!({"enabled": cfg.is_some_and(|c| c.enabled()), "events": events});
    if found != a.before {
        return Err(changed(&a.resource_arn, &a.before, &found));
    }
    let config = AutoRollbackConfiguration::builder()
        .enabled(true)
        .set_events(Some(
            events_after(&events)
                .iter()
                .map(|e| AutoRollbackEvent::from(e.as_str()))
                .collect(),
        ))
        .build();
    c.codedeploy
        .update_deployment_group()
        .application_name(&app)
        .current_deployment_group_name(&group)
        .auto_rollback_configuration(config)
        .send()
        .await
        .map_err(|e| sdk_failed("codedeploy:UpdateDeploymentGroup", &e))?;
    Ok("codedeploy:UpdateDeploymentGroup".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_from_arn() {
        assert_eq!(
            names("arn:aws:codedeploy:us-east-1:1:deploymentgroup:app/grp"),
            Some(("app".to_string(), "grp".to_string()))
        );
        assert_eq!(names("arn:aws:s3:::b"), None);
        assert_eq!(
            events_after(&["DEPLOYMENT_STOP_ON_ALARM".to_string()]),
            vec!["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
        );
    }
}
