//! `instance-imdsv2`: session tokens required on a group's instances.

use super::*;

/// `instance-imdsv2`.
pub struct Imdsv2;

impl FixAction for Imdsv2 {
    fn id(&self) -> &'static str {
        "instance-imdsv2"
    }
    fn summary(&self) -> &'static str {
        "ModifyInstanceMetadataOptions HttpTokens required on the group's instances that allow IMDSv1, the hop limit sent as it is (2 when unknown); the launch template of an Auto Scaling group is not changed."
    }
    fn safety(&self) -> FixSafety {
        FixSafety::Unsafe
    }
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned> {
        plan_imdsv2(f, cx.snapshot).ok_or(NotPlanned::Manual)
    }
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a> {
        Box::pin(apply_imdsv2(c, a))
    }
    fn template_form(&self) -> Option<TemplateForm> {
        Some(TemplateForm {
            writes: "`MetadataOptions.HttpTokens: required` on the launch templates the template's instances and Auto Scaling groups use",
            edits: template_edits,
        })
    }
    fn terraform_form(&self) -> Option<TerraformForm> {
        Some(TerraformForm {
            writes: "`metadata_options { http_tokens = \"required\" }` on the `aws_launch_template`s the plan's instances and Auto Scaling groups use, and on instances that write their own `metadata_options`",
            edits: terraform_edits,
        })
    }
}

/// `HttpTokens: required` on the launch templates of the template that
/// allow IMDSv1 and that its instances or Auto Scaling groups use.
pub(super) fn template_edits(_f: &Finding, cx: &TemplateContext<'_>) -> Result<Vec<Edit>, Error> {
    let resources = cx.doc["Resources"]
        .as_object()
        .ok_or_else(|| Error::not_edited("the template has no Resources"))?;
    // the launch templates used, by logical id (`!Ref X` or `!GetAtt X.*`)
    let used: std::collections::BTreeSet<&str> = resources
        .values()
        .filter(|r| {
            matches!(
                r["Type"].as_str(),
                Some("AWS::EC2::Instance" | "AWS::AutoScaling::AutoScalingGroup")
            )
        })
        .filter_map(|r| {
            let id = &r["Properties"]["LaunchTemplate"]["LaunchTemplateId"];
            id["Ref"].as_str().or_else(|| id["Fn::GetAtt"][0].as_str())
        })
        .collect();
    let edits: Vec<Edit> = resources
        .iter()
        .filter(|(id, r)| {
            used.contains(id.as_str())
                && r["Type"] == "AWS::EC2::LaunchTemplate"
                && r["Properties"]["LaunchTemplateData"]["MetadataOptions"]["HttpTokens"]
                    == "optional"
        })
        .map(|(id, _)| {
            Edit::set(
                id,
                path(&[
                    "Properties",
                    "LaunchTemplateData",
                    "MetadataOptions",
                    "HttpTokens",
                ]),
                json!("required"),
            )
        })
        .collect();
    if edits.is_empty() {
        return Err(Error::not_edited(
            "no launch template of this template used by its instances allows IMDSv1",
        ));
    }
    Ok(edits)
}

/// `http_tokens = "required"` where the plan allows IMDSv1: the launch
/// templates its instances and Auto Scaling groups refer to, and instances
/// with metadata options of their own.
pub(super) fn terraform_edits(_f: &Finding, cx: &TfContext<'_>) -> Result<Vec<TfEdit>, Error> {
    let edits: Vec<TfEdit> = cx
        .optional_metadata()
        .into_iter()
        .map(|a| TfEdit::set(&a, &["metadata_options", "http_tokens"], json!("required")))
        .collect();
    if edits.is_empty() {
        return Err(Error::not_edited(
            "no launch template or instance of the plan that its instances use allows IMDSv1",
        ));
    }
    Ok(edits)
}

/// The hop limit sent with HttpTokens required (kept as it is; 2, what
/// AWS sets for new instances that require tokens, when unknown).
pub(super) fn hop_limit(current: Option<i32>) -> i32 {
    current.filter(|h| *h > 0).unwrap_or(2)
}

pub(super) fn plan_imdsv2(f: &Finding, s: &Snapshot) -> Option<PlannedAction> {
    let t = s.resources.deploy_targets.get(&f.resource_arn)?.value()?;
    let mut before = BTreeMap::new();
    let mut after = BTreeMap::new();
    for i in &t.instances {
        if i.http_tokens.as_deref() == Some("optional")
            && i.http_endpoint.as_deref() != Some("disabled")
        {
            before.insert(i.id.clone(), json!({"http_tokens": "optional"}));
            after.insert(
                i.id.clone(),
                json!({"http_tokens": "required", "http_put_response_hop_limit": hop_limit(i.http_put_response_hop_limit)}),
            );
        }
    }
    if before.is_empty() {
        return None;
    }
    let ids: Vec<&String> = before.keys().collect();
    Some(step(
        f,
        &Imdsv2,
        format!(
            "require IMDSv2 (HttpTokens required) on {} selected by {}",
            ids.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            f.resource_arn
        ),
        json!(before),
        json!(after),
    ))
}

pub(super) async fn apply_imdsv2(
    c: &RegionClients,
    a: &PlannedAction,
) -> Result<String, NotApplied> {
    let wanted = a.after.as_object().cloned().unwrap_or_default();
    let ids: Vec<String> = wanted.keys().cloned().collect();
    // every instance still as collected, before any is changed
    let out = c
        .ec2
        .describe_instances()
        .set_instance_ids(Some(ids.clone()))
        .send()
        .await
        .map_err(|e| sdk_failed("ec2:DescribeInstances", &e))?;
    let mut found = serde_json::Map::new();
    for i in out.reservations().iter().flat_map(|r| r.instances()) {
        let tokens = i
            .metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str().to_string());
        found.insert(
            i.instance_id().unwrap_or_default().to_string(),
            json!({ "http_tokens": tokens }),
        );
    }
    let found = Value::Object(found);
    if &found != a.collected() {
        return Err(changed(&a.resource_arn, a.collected(), &found));
    }
    for (id, v) in &wanted {
        let hops = v["http_put_response_hop_limit"]
            .as_i64()
            .and_then(|h| i32::try_from(h).ok())
            .unwrap_or(2);
        c.ec2
            .modify_instance_metadata_options()
            .instance_id(id)
            .http_tokens(HttpTokensState::Required)
            .http_endpoint(InstanceMetadataEndpointState::Enabled)
            .http_put_response_hop_limit(hops)
            .send()
            .await
            .map_err(|e| sdk_failed("ec2:ModifyInstanceMetadataOptions", &e))?;
    }
    Ok(format!(
        "ec2:ModifyInstanceMetadataOptions ({})",
        ids.join(", ")
    ))
}
