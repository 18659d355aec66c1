//! CodeBuild project fixes, through UpdateProject (which changes only the
//! fields it is given):
//! - `build-encryption-key`: set the project's key to the pipeline's artifact key;
//! - `build-privileged-off` (unsafe: Docker builds stop working): privileged mode off.

use aws_sdk_codebuild::types::ProjectEnvironment;
use serde_json::json;

use super::registry::{
    ApplyFuture, FixAction, NotPlanned, PlanContext, TemplateContext, TemplateForm, TerraformForm,
};
use super::{Error, NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, Snapshot};
use crate::patch::terraform::{TfContext, TfEdit};
use crate::patch::{Edit, path};

/// `build-encryption-key`.
pub struct EncryptionKey;

impl FixAction for EncryptionKey {
    fn id(&self) -> &'static str {
        "build-encryption-key"
    }
    fn summary(&self) -> &'static str {
        "UpdateProject: encryption key = the pipeline's artifact key."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Safe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan_encryption_key(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a, true))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`EncryptionKey` on the project: the artifact key (`Fn::GetAtt` of the key the same template defines)",
            edits: template_encryption_key,
        })
    }
}

/// `build-privileged-off`.
pub struct PrivilegedOff;

impl FixAction for PrivilegedOff {
    fn id(&self) -> &'static str {
        "build-privileged-off"
    }
    fn summary(&self) -> &'static str {
        "UpdateProject: the current environment sent back with privileged mode off."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Unsafe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan_privileged_off(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply(c, a, false))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`Environment.PrivilegedMode: false` on the project",
            edits: template_privileged_off,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "`environment { privileged_mode = false }` on the `aws_codebuild_project`",
            edits: terraform_privileged_off,
        })
    }
}

fn is_project(cx: &TemplateContext<'_>) -> Result<(), Error> {
    if cx.resource()["Type"] == "AWS::CodeBuild::Project" {
        Ok(())
    } else {
        Err(Error::wrong_type(cx.logical_id, "AWS::CodeBuild::Project"))
    }
}

/// The project's `EncryptionKey` set to the pipeline's artifact key, by
/// `Fn::GetAtt` of the `AWS::KMS::Key` the same template defines (the
/// key `UpdateProject` would set).
fn template_encryption_key(f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    is_project(cx)?;
    let key = cx
        .snapshot
        .pipelines
        .iter()
        .find(|w| w.arn == f.pipeline_arn)
        .and_then(|w| w.artifact_stores.first())
        .and_then(|st| st.key_arn.clone())
        .ok_or_else(|| Error::not_edited("the pipeline's artifact store names no KMS key"))?;
    let key_id = cx
        .logical_ids
        .get(&key)
        .filter(|id| cx.doc["Resources"][id.as_str()]["Type"] == "AWS::KMS::Key")
        .ok_or_else(|| Error::NotInTemplate {
            what: "the artifact key",
            arn: key.clone(),
        })?;
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "EncryptionKey"]),
        json!({"Fn::GetAtt": [key_id, "Arn"]}),
    )])
}

/// `Environment.PrivilegedMode: false`, the rest of the environment as
/// written (what `UpdateProject` sends back).
fn template_privileged_off(_f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    is_project(cx)?;
    Ok(vec![Edit::set(
        cx.logical_id,
        path(&["Properties", "Environment", "PrivilegedMode"]),
        json!(false),
    )])
}

fn terraform_privileged_off(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    if cx.ty() != "aws_codebuild_project" {
        return Err(Error::wrong_type(cx.address, "aws_codebuild_project"));
    }
    Ok(vec![TfEdit::set(
        cx.address,
        &["environment", "privileged_mode"],
        json!(false),
    )])
}

fn project_name(arn: &str) -> &str {
    arn.rsplit("project/").next().unwrap_or(arn)
}

fn plan_encryption_key(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let p = s.resources.build_projects.get(&f.resource_arn)?.value()?;
    let w = s.pipelines.iter().find(|w| w.arn == f.pipeline_arn)?;
    let key = w.artifact_stores.first()?.key_arn.clone()?;
    if !matches!(s.resources.keys.get(&key), Some(Observed::Ok { .. })) {
        return None;
    }
    Some(step(
        f,
        &EncryptionKey,
        format!("encrypt the outputs of build project {} with {key}", p.name),
        json!({"encryption_key": p.encryption_key}),
        json!({"encryption_key": key}),
    ))
}

fn plan_privileged_off(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let p = s.resources.build_projects.get(&f.resource_arn)?.value()?;
    if !p.environment.privileged_mode {
        return None;
    }
    Some(step(
        f,
        &PrivilegedOff,
        format!("turn privileged mode off for build project {}", p.name),
        json!({"privileged_mode": true}),
        json!({"privileged_mode": false}),
    ))
}

/// One UpdateProject: the encryption key (`encryption_key`) or privileged mode off.
async fn apply(
    c: &RegionClients,
    a: &PlannedAction,
    encryption_key: bool,
) -> Result<String, NotApplied> {
    let name = project_name(&a.resource_arn).to_string();
    let now = c
        .codebuild
        .batch_get_projects()
        .names(&name)
        .send()
        .await
        .map_err(|e| sdk_failed("codebuild:BatchGetProjects", &e))?;
    let Some(p) = now.projects().first() else {
        return Err(NotApplied::Skipped(format!(
            "project {name} no longer exists"
        )));
    };
    let update = c.codebuild.update_project().name(&name);
    let update = if encryption_key {
        let found = json!({"encryption_key": p.encryption_key()});
        if found != a.before {
            return Err(changed(&name, &a.before, &found));
        }
        update.encryption_key(a.after["encryption_key"].as_str().unwrap_or_default())
    } else {
        let env = p
            .environment()
            .ok_or_else(|| NotApplied::Failed(format!("project {name} has no environment")))?;
        let found = json!({"privileged_mode": env.privileged_mode().unwrap_or(false)});
        if found != a.before {
            return Err(changed(&name, &a.before, &found));
        }
        // UpdateProject replaces the environment as a whole: send the
        // current one back with only privileged mode changed
        let mut env: ProjectEnvironment = env.clone();
        env.privileged_mode = Some(false);
        update.environment(env)
    };
    update
        .send()
        .await
        .map_err(|e| sdk_failed("codebuild:UpdateProject", &e))?;
    Ok("codebuild:UpdateProject".to_string())
}
