//! `instance-role-artifacts`: the instance role's inline policy reads the
//! artifacts of the pipelines that deploy to it.

use super::*;

/// `instance-role-artifacts`.
pub struct RoleArtifacts;

impl FixAction for RoleArtifacts {
    fn id(&self) -> &'static str {
        "instance-role-artifacts"
    }
    fn summary(&self) -> &'static str {
        "The instance role's inline policy `pipeaudit-artifacts`, merged (existing statements kept): `s3:GetObject`/`s3:GetObjectVersion` on the objects of each pipeline that deploys to instances with that role (its prefix, not the whole bucket), and `kms:Decrypt` on the artifact key when the key policy delegates to the account; when the key policy must change itself, the plan says so, naming `key-policy-grant` extended to the instance role. An instance without a role, or whose role or inline policies could not be read, is a manual step."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Unsafe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan_artifacts(f, cx.snapshot)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply_artifacts(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`s3:GetObject`/`s3:GetObjectVersion` on the pipeline's objects (`Fn::Sub` of the bucket's and the pipeline's logical ids), and `kms:Decrypt` on the artifact key when its policy delegates to the account, appended to the role's literal inline policy (a new `Policies` item when it has none)",
            edits: artifacts_template_edits,
        })
    }
}

/// The identity policy documents of a role (inline and attached), or
/// `None` when one of them could not be read.
pub(super) fn role_docs<'a>(s: &'a Snapshot, role: &str) -> Option<Vec<&'a PolicyDocument>> {
    let r = s.resources.roles.get(role)?.value()?;
    let mut docs = Vec::new();
    match &r.inline_policies {
        Observed::Ok { value } => {
            for p in value.values() {
                match p {
                    Observed::Ok { value } => docs.extend(value.document.as_ref()),
                    Observed::Absent => {}
                    Observed::Unknown { .. } => return None,
                }
            }
        }
        Observed::Absent => {}
        Observed::Unknown { .. } => return None,
    }
    match &r.attached_policies {
        Observed::Ok { value } => {
            for arn in value {
                match s.resources.managed_policies.get(arn)? {
                    Observed::Ok { value } => match &value.document {
                        Observed::Ok { value } => docs.extend(value.document.as_ref()),
                        Observed::Absent => {}
                        Observed::Unknown { .. } => return None,
                    },
                    Observed::Absent => {}
                    Observed::Unknown { .. } => return None,
                }
            }
        }
        Observed::Absent => {}
        Observed::Unknown { .. } => return None,
    }
    Some(docs)
}

/// The statements the API form would add that the role's policies do
/// not already allow, as the template writes them: the bucket and the
/// pipeline by their logical ids (`Fn::Sub`), the key by `Fn::GetAtt`.
pub(super) fn template_statements(
    f: &Finding,
    cx: &TemplateContext<'_>,
) -> Result<Vec<Value>, Error> {
    let s = cx.snapshot;
    let role = f.resource_arn.as_str();
    let docs = role_docs(s, role).ok_or_else(|| {
        Error::not_edited(format!("the policies of {role} could not all be read"))
    })?;
    let allows = |action: &str, resource: &str| iam::identity_allows(&docs, role, action, resource);
    let id_of = |arn: &str, what: &'static str| {
        cx.logical_ids
            .get(arn)
            .cloned()
            .ok_or_else(|| Error::NotInTemplate {
                what,
                arn: arn.to_string(),
            })
    };
    let mut out: Vec<Value> = Vec::new();
    for w in &s.pipelines {
        if !deploys_to_role(s, w, role) {
            continue;
        }
        for st in &w.artifact_stores {
            let objects = artifact_objects_arn(&st.bucket_arn, &w.name);
            let versioned = s
                .resources
                .buckets
                .get(&st.bucket_arn)
                .and_then(Observed::value)
                .and_then(|b| b.versioning.value())
                .is_some_and(|v| v.status.as_deref() == Some("Enabled"));
            if !allows("s3:GetObject", &objects)
                || (versioned && !allows("s3:GetObjectVersion", &objects))
            {
                let bucket = id_of(&st.bucket_arn, "the artifact bucket")?;
                let pipeline = id_of(&w.arn, "the pipeline")?;
                // the prefix is the first 20 characters of the name, which
                // `${Pipeline}` gives only for a name that short
                if w.name.chars().count() > 20 {
                    return Err(Error::not_edited(format!(
                        "the artifacts of pipeline {} lie under the first 20 characters of its name, which the template cannot reference",
                        w.name
                    )));
                }
                out.push(json!({
                    "Sid": "PipeauditArtifactsRead",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                    "Resource": {"Fn::Sub": format!("${{{bucket}.Arn}}/${{{pipeline}}}/*")},
                }));
            }
            let Some(key) = st.key_arn.as_deref() else {
                continue;
            };
            let Some(doc) = s
                .resources
                .keys
                .get(key)
                .and_then(Observed::value)
                .and_then(|k| k.policy.value())
                .and_then(|p| p.document.as_ref())
            else {
                continue;
            };
            let a = iam::evaluate(doc, iam::Who::Role(role), "kms:Decrypt", key);
            if a.denied || (!a.allowed && !a.delegated) {
                return Err(Error::not_edited(key_statement_step(key, role)));
            }
            if !a.allowed && !allows("kms:Decrypt", key) {
                let key_id = id_of(key, "the artifact key")?;
                out.push(json!({
                    "Sid": "PipeauditArtifactsDecrypt",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": {"Fn::GetAtt": [key_id, "Arn"]},
                }));
            }
        }
    }
    out.dedup();
    if out.is_empty() {
        return Err(Error::not_edited(format!(
            "the policies of {role} already allow what the fix would add"
        )));
    }
    Ok(out)
}

/// The statements appended to the first inline policy of the role's
/// `Policies` written as a literal list of statements, or a new
/// `Policies` item when the role has none.
pub(super) fn artifacts_template_edits(
    f: &Finding,
    cx: &TemplateContext<'_>,
) -> Result<Vec<Edit>, Error> {
    let r = cx.resource();
    if r["Type"] != "AWS::IAM::Role" {
        return Err(Error::wrong_type(cx.logical_id, "AWS::IAM::Role"));
    }
    let statements = template_statements(f, cx)?;
    let policies = &r["Properties"]["Policies"];
    if policies.is_null() || policies.as_array().is_some_and(Vec::is_empty) {
        return Ok(vec![Edit::append(
            cx.logical_id,
            path(&["Properties", "Policies"]),
            json!({
                "PolicyName": POLICY_NAME,
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
            }),
        )]);
    }
    let Some(list) = policies.as_array() else {
        return Err(Error::not_edited(format!(
            "the Policies of {} are not written as a list",
            cx.logical_id
        )));
    };
    let Some((n, existing)) = list
        .iter()
        .enumerate()
        .find_map(|(n, p)| p["PolicyDocument"]["Statement"].as_array().map(|a| (n, a)))
    else {
        let how = list
            .iter()
            .filter_map(|p| p["PolicyDocument"].as_object())
            .filter(|m| m.len() == 1)
            .find_map(|m| m.keys().next().cloned())
            .unwrap_or_else(|| "a value".to_string());
        return Err(Error::not_edited(format!(
            "the inline policy documents of {} are built with {how}, not written as lists of statements, and are not edited",
            cx.logical_id
        )));
    };
    let mut taken: Vec<String> = existing
        .iter()
        .filter_map(|x| x["Sid"].as_str().map(str::to_string))
        .collect();
    let mut edits = Vec::new();
    for mut st in statements {
        let base = st["Sid"]
            .as_str()
            .unwrap_or("PipeauditArtifacts")
            .to_string();
        let mut sid = base.clone();
        let mut k = 1;
        while taken.contains(&sid) {
            k += 1;
            sid = format!("{base}{k}");
        }
        st["Sid"] = Value::String(sid.clone());
        taken.push(sid);
        edits.push(Edit::append(
            cx.logical_id,
            vec![
                Seg::Key("Properties".into()),
                Seg::Key("Policies".into()),
                Seg::Index(n),
                Seg::Key("PolicyDocument".into()),
                Seg::Key("Statement".into()),
            ],
            st,
        ));
    }
    Ok(edits)
}

/// The statements the instance role needs for one artifact store, and
/// whether the key policy must change as well (it neither grants the role
/// nor delegates to the account).
pub(super) fn store_statements(
    s: &Snapshot,
    role: &str,
    bucket_arn: &str,
    key_arn: Option<&str>,
    pipeline: &str,
) -> (Vec<Value>, Option<String>) {
    let objects = artifact_objects_arn(bucket_arn, pipeline);
    let mut out = vec![json!({
        "Sid": "PipeauditArtifactsRead",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:GetObjectVersion"],
        "Resource": objects,
    })];
    let mut key_change = None;
    if let Some(key) = key_arn {
        let policy = s
            .resources
            .keys
            .get(key)
            .and_then(Observed::value)
            .and_then(|k| k.policy.value())
            .and_then(|p| p.document.as_ref());
        if let Some(doc) = policy {
            let a = iam::evaluate(doc, iam::Who::Role(role), "kms:Decrypt", key);
            if a.delegated && !a.denied {
                out.push(json!({
                    "Sid": "PipeauditArtifactsDecrypt",
                    "Effect": "Allow",
                    "Action": "kms:Decrypt",
                    "Resource": key,
                }));
            } else if !a.allowed || a.denied {
                key_change = Some(key.to_string());
            }
        }
    }
    (out, key_change)
}

/// The existing `pipeaudit-artifacts` policy of a role (`None`: none), or
/// `Err` when the role's inline policies could not be read.
pub(super) fn existing_policy(s: &Snapshot, role: &str) -> Result<Option<String>, ()> {
    match s.resources.roles.get(role) {
        Some(Observed::Ok { value }) => match &value.inline_policies {
            Observed::Ok { value } => match value.get(POLICY_NAME) {
                Some(Observed::Ok { value }) => Ok(Some(value.raw.clone())),
                Some(Observed::Absent) | None => Ok(None),
                Some(Observed::Unknown { .. }) => Err(()),
            },
            Observed::Absent => Ok(None),
            Observed::Unknown { .. } => Err(()),
        },
        _ => Err(()),
    }
}

/// `existing` (or an empty policy) with `statements` appended, skipping
/// any statement already there; every existing statement is kept.
pub fn merged(existing: Option<&str>, statements: &[Value]) -> Result<Value, Error> {
    let mut doc: Value = match existing {
        Some(t) => serde_json::from_str(t).map_err(|source| PolicyError::NotJson {
            policy: POLICY_NAME,
            source,
        })?,
        None => json!({"Version": "2012-10-17", "Statement": []}),
    };
    for st in statements {
        let have = doc["Statement"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                let mut x = x.clone();
                let mut y = st.clone();
                if let (Some(x), Some(y)) = (x.as_object_mut(), y.as_object_mut()) {
                    x.remove("Sid");
                    y.remove("Sid");
                }
                x == y
            })
        });
        if !have {
            crate::remediate::append_statement(&mut doc, st.clone())?;
        }
    }
    Ok(doc)
}

/// The statement a key policy that neither grants `role` `kms:Decrypt` nor
/// delegates to the account needs, as a manual step (the role's own policy
/// cannot make up for it).
pub(super) fn key_statement_step(key: &str, role: &str) -> String {
    let statement = json!({
        "Sid": "AllowInstanceRoleDecrypt",
        "Effect": "Allow",
        "Principal": {"AWS": role},
        "Action": "kms:Decrypt",
        "Resource": "*",
    });
    format!(
        "the policy of key {key} neither grants {role} kms:Decrypt nor delegates to the account; add to the key policy the statement {statement} (kms:PutKeyPolicy), or a statement delegating to the account"
    )
}

pub(super) fn plan_artifacts(f: &Finding, s: &Snapshot) -> Result<PlannedAction, NotPlanned> {
    let role = f.resource_arn.as_str();
    // an instance without a role, or whose role is missing: by hand
    if !role.contains(":role/") || !matches!(s.resources.roles.get(role), Some(Observed::Ok { .. }))
    {
        return Err(NotPlanned::Manual);
    }
    // the pipelines that deploy to an instance with this role
    let mut statements = Vec::new();
    let mut key_changes = Vec::new();
    let mut pipelines = Vec::new();
    for w in &s.pipelines {
        if !deploys_to_role(s, w, role) {
            continue;
        }
        pipelines.push(w.name.clone());
        for st in &w.artifact_stores {
            let (mut add, key) =
                store_statements(s, role, &st.bucket_arn, st.key_arn.as_deref(), &w.name);
            statements.append(&mut add);
            key_changes.extend(key);
        }
    }
    if statements.is_empty() {
        return Err(NotPlanned::Manual);
    }
    let existing = existing_policy(s, role).map_err(|()| NotPlanned::Manual)?;
    let after = merged(existing.as_deref(), &statements)
        .map_err(|e| NotPlanned::ManualBecause(e.to_string()))?;
    key_changes.sort();
    key_changes.dedup();
    let key_steps: Vec<String> = key_changes
        .iter()
        .map(|k| key_statement_step(k, role))
        .collect();
    let existing_count = crate::remediate::statement_count(existing.as_deref());
    let added: Vec<Value> = after["Statement"]
        .as_array()
        .map(|a| a.iter().skip(existing_count).cloned().collect())
        .unwrap_or_default();
    if added.is_empty() {
        // The role already has what the fix adds: a write would change
        // nothing. What is left (if anything) is the key policy's.
        return Err(if key_steps.is_empty() {
            NotPlanned::Manual
        } else {
            NotPlanned::ManualBecause(key_steps.join("; "))
        });
    }
    let mut description = format!(
        "add to the inline policy {POLICY_NAME} of {role} read access to the artifacts of {} (existing statements kept)",
        pipelines.join(", ")
    );
    for step in &key_steps {
        description.push_str(&format!("; by hand: {step}"));
    }
    let mut a = step(
        f,
        &RoleArtifacts,
        description,
        crate::remediate::kept_statements(existing_count, 0),
        json!({"policy": POLICY_NAME, "added_statements": added}),
    );
    a.collected = Some(json!({ "policy": existing }));
    Ok(a)
}

pub(super) async fn apply_artifacts(
    c: &RegionClients,
    a: &PlannedAction,
) -> Result<String, NotApplied> {
    let role = crate::collect::iam::role_name(&a.resource_arn).to_string();
    let current = match c
        .iam
        .get_role_policy()
        .role_name(&role)
        .policy_name(POLICY_NAME)
        .send()
        .await
    {
        Ok(out) => Some(
            crate::model::policy::decode_policy_text(out.policy_document())
                .unwrap_or_else(|_| out.policy_document().to_string()),
        ),
        Err(e) if crate::collect::call::is_not_found(&e, &["NoSuchEntity"]) => None,
        Err(e) => return Err(sdk_failed("iam:GetRolePolicy", &e)),
    };
    let same = match (a.collected()["policy"].as_str(), current.as_deref()) {
        (None, None) => true,
        (Some(x), Some(y)) => match (PolicyDocument::parse(x), PolicyDocument::parse(y)) {
            (Ok(x), Ok(y)) => x.normalized() == y.normalized(),
            _ => false,
        },
        _ => false,
    };
    if !same {
        return Err(changed(
            &a.resource_arn,
            a.collected(),
            &json!({ "policy": current }),
        ));
    }
    let statements: Vec<Value> = a.after["added_statements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let doc =
        merged(current.as_deref(), &statements).map_err(|e| NotApplied::Failed(e.to_string()))?;
    if crate::remediate::same_policy(current.as_deref(), &doc) {
        return Err(NotApplied::InPlace(format!(
            "the inline policy {POLICY_NAME} of {role} already holds every statement; nothing written"
        )));
    }
    c.iam
        .put_role_policy()
        .role_name(&role)
        .policy_name(POLICY_NAME)
        .policy_document(doc.to_string())
        .send()
        .await
        .map_err(|e| sdk_failed("iam:PutRolePolicy", &e))?;
    Ok("iam:PutRolePolicy".to_string())
}

/// Whether pipeline `w` deploys to an instance whose role is `role`.
pub(super) fn deploys_to_role(s: &Snapshot, w: &crate::model::PipelineWiring, role: &str) -> bool {
    w.deploys.iter().any(|d| {
        s.resources
            .deploy_targets
            .get(&d.group_arn)
            .and_then(Observed::value)
            .is_some_and(|t| {
                t.instances
                    .iter()
                    .any(|i| i.role_arn.value().is_some_and(|r| r == role))
            })
    })
}
