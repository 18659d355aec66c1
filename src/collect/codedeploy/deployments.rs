//! The last deployment of each Lambda deployment group, read in batches,
//! and the functions its AppSpec names.

use super::*;

/// The deployment a Lambda group last made (its last successful one, else
/// its last attempted one), still to be read; or that it has made none.
pub(super) fn last_deployment(g: &DeploymentGroupInfo) -> LambdaDeployment {
    let id = g
        .last_successful_deployment()
        .and_then(|d| d.deployment_id())
        .filter(|id| !id.is_empty())
        .or_else(|| {
            g.last_attempted_deployment()
                .and_then(|d| d.deployment_id())
                .filter(|id| !id.is_empty())
        });
    LambdaDeployment {
        deployment_id: id.map(str::to_string),
        undetermined: id
            .is_none()
            .then(|| "the group has made no deployment yet".to_string()),
        ..LambdaDeployment::default()
    }
}

/// The deployment a group read just now still has to be read for: a
/// Lambda group's last deployment, not yet read.
pub(super) fn pending_deployment(g: &Observed<DeployGroup>) -> Option<&str> {
    let d = g.value()?.lambda_deployment.as_ref()?.value()?;
    if d.revision_type.is_some() || d.undetermined.is_some() {
        return None;
    }
    d.deployment_id.as_deref()
}

/// The read of a deployment and how many ids it takes at once.
const BATCH_DEPLOYMENTS: &str = "codedeploy:BatchGetDeployments";
const DEPLOYMENTS_BATCH_SIZE: usize = 25;

/// Reads the last deployment of every Lambda group among `groups` with
/// BatchGetDeployments, 25 at a time, and records the functions its AppSpec
/// names on the group. Groups of the other platforms make no call. A failed
/// batch leaves the deployments of its groups unknown.
pub async fn read_lambda_deployments(
    ctx: &Ctx,
    client: &Client,
    groups: &mut [(String, Observed<DeployGroup>)],
) {
    let mut ids: Vec<String> = groups
        .iter()
        .filter_map(|(_, g)| pending_deployment(g).map(str::to_string))
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return;
    }
    let batches = join_all(ids.chunks(DEPLOYMENTS_BATCH_SIZE).map(|chunk| async move {
        let req = client
            .batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()));
        (chunk, ctx.call(BATCH_DEPLOYMENTS, req.send()).await)
    }))
    .await;
    let mut read: BTreeMap<&str, Observed<&DeploymentInfo>> = BTreeMap::new();
    let mut outputs = Vec::new();
    for (chunk, result) in batches {
        match result {
            Ok(out) => outputs.push(out),
            Err(e) => {
                let error = read_error(BATCH_DEPLOYMENTS, &e);
                for id in chunk {
                    read.insert(
                        id,
                        Observed::Unknown {
                            error: error.clone(),
                        },
                    );
                }
            }
        }
    }
    for out in &outputs {
        for d in out.deployments_info() {
            if let Some(id) = d.deployment_id() {
                read.insert(id, Observed::ok(d));
            }
        }
    }
    for (arn, g) in groups.iter_mut() {
        let Some(id) = pending_deployment(g).map(str::to_string) else {
            continue;
        };
        let Observed::Ok { value: group } = g else {
            continue;
        };
        group.lambda_deployment = Some(match read.get(id.as_str()) {
            Some(Observed::Unknown { error }) => Observed::Unknown {
                error: error.clone(),
            },
            Some(Observed::Ok { value: d }) => Observed::ok(deployed(arn, &id, d)),
            _ => Observed::ok(LambdaDeployment {
                deployment_id: Some(id.clone()),
                undetermined: Some(format!("its last deployment {id} was not found")),
                ..LambdaDeployment::default()
            }),
        });
    }
}

/// What a deployment deployed: the functions of its inline AppSpec, or why
/// they could not be determined.
pub(super) fn deployed(group_arn: &str, id: &str, d: &DeploymentInfo) -> LambdaDeployment {
    let revision = d.revision();
    let kind = revision.and_then(|r| r.revision_type());
    let content = match kind {
        Some(RevisionLocationType::AppSpecContent) => revision
            .and_then(|r| r.app_spec_content())
            .and_then(|c| c.content()),
        Some(RevisionLocationType::String) => {
            revision.and_then(|r| r.string()).and_then(|c| c.content())
        }
        _ => None,
    };
    let mut out = LambdaDeployment {
        deployment_id: Some(id.to_string()),
        revision_type: Some(
            kind.map(|k| k.as_str().to_string())
                .unwrap_or_else(|| "none".to_string()),
        ),
        ..LambdaDeployment::default()
    };
    match (kind, content) {
        (Some(RevisionLocationType::S3 | RevisionLocationType::GitHub), _) => {
            out.undetermined = Some(format!(
                "its last deployment {id} took its AppSpec from {}, which is not read",
                kind.map(|k| k.as_str()).unwrap_or_default()
            ));
        }
        (_, None) => {
            out.undetermined = Some(format!(
                "its last deployment {id} holds no AppSpec pipeaudit reads"
            ));
        }
        (_, Some(text)) => match appspec_functions(text, group_arn) {
            Ok(functions) => out.functions = functions,
            Err(why) => {
                out.undetermined = Some(format!("the AppSpec of its last deployment {id} {why}"))
            }
        },
    }
    out
}

/// Why no function could be taken from an AppSpec, completing "the AppSpec
/// of its last deployment ID ...". It quotes nothing of the text (the
/// parser's message is not kept: it may quote a value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppSpecError {
    #[error("is not valid YAML or JSON (line {line}, column {column})")]
    SyntaxAt { line: usize, column: usize },
    #[error("is not valid YAML or JSON")]
    Syntax,
    #[error("has no Resources list")]
    NoResources,
    #[error("names a Lambda function resource without a Name")]
    NoName,
    #[error("names no AWS::Lambda::Function resource")]
    NoFunction,
}

/// The `AWS::Lambda::Function` resources of an AppSpec (YAML or JSON), their
/// ARNs in the group's partition, region and account. The error says why
/// none could be taken from it, in words that quote nothing of the text.
pub fn appspec_functions(text: &str, group_arn: &str) -> Result<Vec<LambdaTarget>, AppSpecError> {
    use serde_yaml_ng::Value;
    let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| match e.location() {
        Some(l) => AppSpecError::SyntaxAt {
            line: l.line(),
            column: l.column(),
        },
        None => AppSpecError::Syntax,
    })?;
    let resources = match doc.get("Resources") {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_mapping)
            .flat_map(|m| m.values())
            .collect::<Vec<&Value>>(),
        Some(Value::Mapping(m)) => m.values().collect(),
        _ => return Err(AppSpecError::NoResources),
    };
    let text_of = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let parts: Vec<&str> = group_arn.split(':').collect();
    let part = |i: usize| parts.get(i).copied().unwrap_or_default();
    let mut out = Vec::new();
    for r in resources {
        if r.get("Type").and_then(Value::as_str) != Some("AWS::Lambda::Function") {
            continue;
        }
        let props = r.get("Properties");
        let prop = |k: &str| text_of(props.and_then(|p| p.get(k)));
        let Some(name) = prop("Name").filter(|n| !n.is_empty()) else {
            return Err(AppSpecError::NoName);
        };
        out.push(LambdaTarget {
            arn: crate::model::lambda_function_arn(part(1), part(3), part(4), &name),
            name,
            alias: prop("Alias"),
            current_version: prop("CurrentVersion"),
            target_version: prop("TargetVersion"),
        });
    }
    if out.is_empty() {
        return Err(AppSpecError::NoFunction);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_appspec_error_quotes_nothing_of_the_text() {
        let group = "arn:aws:codedeploy:us-east-1:111122223333:deploymentgroup:app/g";
        let e = appspec_functions("version: 0.0\nResources: [\n  secret-token-value", group).err();
        let shown = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(shown.starts_with("is not valid YAML or JSON"), "{shown}");
        assert!(
            !shown.contains("secret") && !shown.contains('\n'),
            "{shown}"
        );
        let e = appspec_functions("version: 0.0\n", group).err();
        assert_eq!(e, Some(AppSpecError::NoResources));
        let e = appspec_functions(
            "Resources:\n  - f:\n      Type: AWS::Lambda::Function\n      Properties: {}\n",
            group,
        )
        .err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("names a Lambda function resource without a Name")
        );
    }
}
