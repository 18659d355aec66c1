//! `key-policy-grant` (unsafe: a policy change): add a statement granting the
//! pipeline and build roles the use of the artifact key, **merged** into the
//! key policy (every existing statement written back unchanged).
//!
//! `store-create-cmk` (unsafe): create a customer-managed key with rotation
//! on and a key policy for the account root and the pipeline, build and
//! deploy roles, then point the artifact store at it.

use serde_json::{Value, json};

use super::registry::{ApplyFuture, Dedupe, FixAction, NotPlanned, PlanContext};
use super::{NotApplied, PlannedAction, changed, sdk_failed, step};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::{Observed, PolicyDocument, Snapshot};

/// `key-policy-grant`.
pub struct Grant;

impl FixAction for Grant {
    fn id(&self) -> &'static str {
        "key-policy-grant"
    }
    fn summary(&self) -> &'static str {
        "A statement granting the pipeline and build roles the use of the key, merged into the key policy; a manual step when one of those roles (or its project) could not be read."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Unsafe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan_grant(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply_grant(c, a))
    }
}

/// `store-create-cmk`: one new key per pipeline, whichever finding asks
/// for it (PL002 on the pipeline, KM001 on a missing key).
pub struct CreateCmk;

impl FixAction for CreateCmk {
    fn id(&self) -> &'static str {
        "store-create-cmk"
    }
    fn summary(&self) -> &'static str {
        "A new customer-managed key (rotation on; key policy for the account root and the pipeline, build and deploy roles), then UpdatePipeline to use it for the artifact store; a manual step when one of those roles (or its project or group) could not be read."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Unsafe
    }
    fn dedupe(&self) -> Dedupe {
        Dedupe::OncePerPipeline
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan_create_cmk(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply_create_cmk(c, a))
    }
}

const KEY_ACTIONS: &[&str] = &[
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
];

/// The roles of a pipeline that use its artifact key: pipeline and build roles
/// (and deploy roles for a new key). `None` when one of them cannot be
/// known (a project, group or role that could not be read): a grant or a new
/// key policy without it could lock an existing role out of the key, so the
/// fix is not planned (it becomes a manual step).
fn roles(s: &Snapshot, pipeline_arn: &str, with_deploy: bool) -> Option<Vec<String>> {
    let w = s.pipelines.iter().find(|w| w.arn == pipeline_arn)?;
    let mut out: Vec<String> = w.role_arn.iter().cloned().collect();
    for b in &w.builds {
        match s.resources.build_projects.get(&b.project_arn) {
            Some(Observed::Ok { value }) => out.extend(value.service_role.clone()),
            Some(Observed::Unknown { .. }) => return None,
            Some(Observed::Absent) | None => {}
        }
    }
    if with_deploy {
        for d in &w.deploys {
            match s.resources.deploy_groups.get(&d.group_arn) {
                Some(Observed::Ok { value }) => out.extend(value.service_role_arn.clone()),
                Some(Observed::Unknown { .. }) => return None,
                Some(Observed::Absent) | None => {}
            }
        }
    }
    if out
        .iter()
        .any(|r| matches!(s.resources.roles.get(r), Some(Observed::Unknown { .. })))
    {
        return None;
    }
    out.retain(|r| matches!(s.resources.roles.get(r), Some(Observed::Ok { .. })));
    out.sort();
    out.dedup();
    Some(out)
}

/// The existing key policy with the grant statement appended (unique Sid).
pub fn merged(existing: &str, roles: &[String]) -> Result<Value, super::Error> {
    let mut doc: Value =
        serde_json::from_str(existing).map_err(|source| super::PolicyError::NotJson {
            policy: "key",
            source,
        })?;
    super::append_statement(
        &mut doc,
        json!({"Sid": "PipeauditServiceRoles", "Effect": "Allow", "Principal": {"AWS": roles}, "Action": KEY_ACTIONS, "Resource": "*"}),
    )?;
    Ok(doc)
}

fn plan_grant(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let key = s.resources.keys.get(&f.resource_arn)?.value()?;
    let raw = key.policy.value()?.raw.clone();
    let roles = roles(s, &f.pipeline_arn, false)?;
    if roles.is_empty() {
        return None;
    }
    let after = merged(&raw, &roles).ok()?;
    let mut a = step(
        f,
        &Grant,
        format!(
            "add a statement to the policy of {} granting {} the use of the key (existing statements kept)",
            f.resource_arn,
            roles.join(", ")
        ),
        super::kept_statements(super::statement_count(Some(&raw)), 0),
        json!({"added_statement": after["Statement"].as_array().and_then(|a| a.last()).cloned()}),
    );
    a.collected = Some(json!({ "policy": raw }));
    Some(a)
}

/// For the pipeline (PL002 on the pipeline, KM001 on a missing key).
fn plan_create_cmk(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let w = s.pipelines.iter().find(|w| w.arn == f.pipeline_arn)?;
    let store = w.artifact_stores.first()?;
    let mut principals = roles(s, &w.arn, true)?;
    principals.insert(0, format!("arn:aws:iam::{}:root", s.account));
    Some(step(
        f,
        &CreateCmk,
        format!(
            "create a customer-managed key (rotation on) for {} and use it for its artifact store {}",
            w.name, store.bucket
        ),
        json!({"key_ref": store.key_ref}),
        json!({"key_ref": "new key", "principals": principals, "pipeline": w.name}),
    ))
}

async fn apply_grant(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let key_id = a
        .resource_arn
        .rsplit('/')
        .next()
        .unwrap_or(&a.resource_arn)
        .to_string();
    let now = c
        .kms
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .map_err(|e| sdk_failed("kms:GetKeyPolicy", &e))?;
    let current = now.policy().unwrap_or_default().to_string();
    let same = match (
        a.collected()["policy"].as_str().map(PolicyDocument::parse),
        PolicyDocument::parse(&current),
    ) {
        (Some(Ok(x)), Ok(y)) => x.normalized() == y.normalized(),
        _ => false,
    };
    if !same {
        return Err(changed(
            &a.resource_arn,
            a.collected(),
            &json!({"policy": current}),
        ));
    }
    let roles: Vec<String> = a.after["added_statement"]["Principal"]["AWS"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let doc = merged(&current, &roles).map_err(|e| NotApplied::Failed(e.to_string()))?;
    if super::same_policy(Some(&current), &doc) {
        return Err(NotApplied::InPlace(
            "the key policy already grants every role; nothing written".to_string(),
        ));
    }
    c.kms
        .put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(doc.to_string())
        .send()
        .await
        .map_err(|e| sdk_failed("kms:PutKeyPolicy", &e))?;
    Ok("kms:PutKeyPolicy".to_string())
}

async fn apply_create_cmk(c: &RegionClients, a: &PlannedAction) -> Result<String, NotApplied> {
    let name = a.after["pipeline"].as_str().unwrap_or_default().to_string();
    let mut decl = super::pipeline_declaration(c, &name).await?;
    let Some(store) = decl.artifact_store.as_mut() else {
        return Err(NotApplied::Skipped(format!(
            "{name} has no single artifact store (cross-region stores are not changed)"
        )));
    };
    let found = json!({"key_ref": store.encryption_key.as_ref().map(|k| k.id.clone())});
    if found != a.before {
        return Err(changed(&name, &a.before, &found));
    }
    let principals: Vec<String> = a.after["principals"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let (root, roles) = principals
        .split_first()
        .map(|(r, rest)| (r.clone(), rest.to_vec()))
        .unwrap_or_default();
    let mut statements = vec![
        json!({"Sid": "EnableRootPermissions", "Effect": "Allow", "Principal": {"AWS": root}, "Action": "kms:*", "Resource": "*"}),
    ];
    if !roles.is_empty() {
        statements.push(json!({"Sid": "PipeauditServiceRoles", "Effect": "Allow", "Principal": {"AWS": roles}, "Action": KEY_ACTIONS, "Resource": "*"}));
    }
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    let key = c
        .kms
        .create_key()
        .description(format!(
            "Artifact key of pipeline {name} (created by pipeaudit)"
        ))
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| sdk_failed("kms:CreateKey", &e))?;
    let meta = key
        .key_metadata()
        .ok_or_else(|| NotApplied::Failed("CreateKey returned no metadata".to_string()))?;
    let key_arn = meta.arn().unwrap_or_default().to_string();
    c.kms
        .enable_key_rotation()
        .key_id(meta.key_id())
        .send()
        .await
        .map_err(|e| sdk_failed("kms:EnableKeyRotation", &e))?;
    store.encryption_key = Some(
        aws_sdk_codepipeline::types::EncryptionKey::builder()
            .id(&key_arn)
            .r#type(aws_sdk_codepipeline::types::EncryptionKeyType::Kms)
            .build()
            .map_err(|e| NotApplied::Failed(e.to_string()))?,
    );
    c.codepipeline
        .update_pipeline()
        .pipeline(decl)
        .send()
        .await
        .map_err(|e| sdk_failed("codepipeline:UpdatePipeline", &e))?;
    Ok(format!(
        "kms:CreateKey ({key_arn}), kms:EnableKeyRotation, codepipeline:UpdatePipeline"
    ))
}

#[cfg(test)]
mod tests {
    use super::merged;

    #[test]
    fn grant_is_merged_after_existing_statements() {
        let existing = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PipeauditServiceRoles","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"kms:*","Resource":"*"}]}"#;
        let m = merged(existing, &["arn:aws:iam::1:role/build".to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        let st = m["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(st.len(), 2);
        let original: serde_json::Value = serde_json::from_str(existing).unwrap_or_default();
        assert_eq!(st[0], original["Statement"][0]);
        assert_eq!(st[1]["Sid"], "PipeauditServiceRoles2");
        assert!(merged("nope", &[]).is_err());
    }
}
