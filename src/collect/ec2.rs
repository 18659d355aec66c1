//! EC2: the instances deployment groups deploy to.
//!
//! A group selects instances by EC2 tag filters (`ec2TagFilters`: any one
//! matches), by a tag set (`ec2TagSet`: one filter of every inner list
//! matches) and by Auto Scaling groups. DescribeInstances ANDs its filters
//! across names, so the server narrows by state (running, pending) and by
//! the tag keys the filters name; the OR/AND logic of the filters is
//! evaluated here. One paginated read per region serves every group of the
//! region (each instance is read once); only the instances a group selects
//! are kept, with the count of instances read.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use aws_sdk_ec2::types::Filter;

use super::call::{Ctx, observe, read_error};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, hidden, region_of};
use crate::model::{
    DeployGroup, DeployTargets, Ec2Instance, LaunchTemplateUse, Observed, ReadError, Resources,
    Snapshot, TagFilter,
};

/// What selects a group's instances.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    pub tag_filters: Vec<TagFilter>,
    pub tag_set: Vec<Vec<TagFilter>>,
    pub auto_scaling_groups: Vec<String>,
}

impl Selector {
    pub fn of(g: &DeployGroup) -> Self {
        Selector {
            tag_filters: g.ec2_tag_filters.clone(),
            tag_set: g.ec2_tag_set.clone(),
            auto_scaling_groups: g.auto_scaling_groups.clone(),
        }
    }

    pub fn by_tags(&self) -> bool {
        !self.tag_filters.is_empty() || self.tag_set.iter().any(|l| !l.is_empty())
    }

    fn all_filters(&self) -> impl Iterator<Item = &TagFilter> {
        self.tag_filters.iter().chain(self.tag_set.iter().flatten())
    }

    /// Whether the instance's tags satisfy the group's EC2 tag filters.
    pub fn matches_tags(&self, tags: &BTreeMap<String, String>) -> bool {
        let any = |filters: &[TagFilter]| filters.iter().any(|f| filter_matches(f, tags));
        let by_filters = !self.tag_filters.is_empty() && any(&self.tag_filters);
        let sets: Vec<&Vec<TagFilter>> = self.tag_set.iter().filter(|l| !l.is_empty()).collect();
        let by_set = !sets.is_empty() && sets.iter().all(|l| any(l));
        by_filters || by_set
    }
}

/// One CodeDeploy EC2 tag filter: KEY_ONLY, VALUE_ONLY or KEY_AND_VALUE.
pub fn filter_matches(f: &TagFilter, tags: &BTreeMap<String, String>) -> bool {
    let key = f.key.as_deref().filter(|k| !k.is_empty());
    let value = f.value.as_deref().filter(|v| !v.is_empty());
    match (f.filter_type.as_deref(), key, value) {
        (Some("KEY_ONLY"), Some(k), _) => tags.contains_key(k),
        (Some("VALUE_ONLY"), _, Some(v)) => tags.values().any(|x| x == v),
        (Some("KEY_AND_VALUE") | None, Some(k), Some(v)) => tags.get(k).is_some_and(|x| x == v),
        (None, Some(k), None) => tags.contains_key(k),
        (None, None, Some(v)) => tags.values().any(|x| x == v),
        _ => false,
    }
}

/// The EC2 instances of the pipelines' deployment groups (EC2/on-premises
/// platform), keyed by group ARN. A group that names no EC2 tag filter and
/// no Auto Scaling group selects no instance without a call.
pub struct Instances;

impl Facts for Instances {
    type Value = DeployTargets;
    const NAME: &'static str = "deploy_targets";
    const ACTION: &'static str = "ec2:DescribeInstances";
    const PHASE: Phase = Phase::Selected;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = None;
    const VARIABLES: &'static [&'static str] = &[];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<DeployTargets>> {
        &r.deploy_targets
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<DeployTargets>> {
        &mut r.deploy_targets
    }

    fn field_errors(t: &DeployTargets) -> Vec<&ReadError> {
        t.instances
            .iter()
            .filter_map(|i| i.role_arn.error())
            .collect()
    }

    /// The pipelines, or a deployment group that could not be read.
    fn hidden_by(s: &Snapshot, _arn: &str) -> Option<String> {
        hidden::pipelines(s).or_else(|| hidden::unknown(&s.resources.deploy_groups))
    }
}

impl Kind for Instances {
    type Detail = Selector;

    fn find(refs: &Refs<'_>) -> Vec<Found<Selector, DeployTargets>> {
        let fallback = refs.regions.first().map(String::as_str).unwrap_or("");
        refs.resources
            .deploy_groups
            .iter()
            .filter_map(|(arn, g)| Some((arn, g.value()?)))
            .filter(|(_, g)| g.compute_platform.as_deref().is_none_or(|p| p == "Server"))
            .map(|(arn, g)| {
                let sel = Selector::of(g);
                if !sel.by_tags() && sel.auto_scaling_groups.is_empty() {
                    Found::Known(arn.clone(), Observed::ok(DeployTargets::default()))
                } else {
                    Found::Read(ToRead {
                        arn: arn.clone(),
                        region: region_of(arn, fallback),
                        detail: sel,
                    })
                }
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        refs: &'a Refs<'a>,
        targets: &'a [ToRead<Selector>],
    ) -> impl Future<Output = Vec<(String, Observed<DeployTargets>)>> + Send + 'a {
        read_targets(ctx, c, refs.iam, targets)
    }
}

/// Reads the instances the groups of `targets` select (in the region of
/// `c`), with the roles of their instance profiles (from IAM's bulk read
/// `iam` when it holds them).
pub async fn read_targets(
    ctx: &Ctx,
    c: &RegionClients,
    iam: &super::iam_details::BulkRead,
    targets: &[ToRead<Selector>],
) -> Vec<(String, Observed<DeployTargets>)> {
    let unknown_all = |error: &ReadError| -> Vec<(String, Observed<DeployTargets>)> {
        targets
            .iter()
            .map(|t| {
                (
                    t.arn.clone(),
                    Observed::Unknown {
                        error: error.clone(),
                    },
                )
            })
            .collect()
    };
    // Tag-selected instances: one narrowed, paginated read for the region.
    let tagged: Vec<&ToRead<Selector>> = targets.iter().filter(|t| t.detail.by_tags()).collect();
    let mut by_id: BTreeMap<String, Ec2Instance> = BTreeMap::new();
    let mut read_count: u64 = 0;
    if !tagged.is_empty() {
        let keys: Option<BTreeSet<String>> = tagged
            .iter()
            .flat_map(|t| t.detail.all_filters())
            .map(|f| match f.filter_type.as_deref() {
                Some("VALUE_ONLY") => None,
                _ => f.key.clone().filter(|k| !k.is_empty()),
            })
            .collect();
        let mut filters = vec![state_filter()];
        if let Some(keys) = keys {
            filters.push(
                Filter::builder()
                    .name("tag-key")
                    .set_values(Some(keys.into_iter().collect()))
                    .build(),
            );
        }
        match describe(ctx, &c.ec2, filters, None).await {
            Ok(list) => {
                read_count += list.len() as u64;
                for i in list {
                    by_id.insert(i.id.clone(), i);
                }
            }
            Err(e) => return unknown_all(&e),
        }
    }
    // Auto Scaling groups: their instances, then those instances' details.
    let asg_names: BTreeSet<String> = targets
        .iter()
        .flat_map(|t| t.detail.auto_scaling_groups.iter().cloned())
        .collect();
    let mut asg_members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut asg_templates: BTreeMap<String, LaunchTemplateUse> = BTreeMap::new();
    let mut asg_error: Option<ReadError> = None;
    if !asg_names.is_empty() {
        match auto_scaling_groups(ctx, &c.autoscaling, &asg_names).await {
            Ok((m, t)) => {
                asg_members = m;
                asg_templates = t;
            }
            Err(e) => asg_error = Some(e),
        }
    }
    let wanted: Vec<String> = asg_members
        .values()
        .flatten()
        .filter(|id| !by_id.contains_key(*id))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in wanted.chunks(200) {
        match describe(ctx, &c.ec2, vec![state_filter()], Some(chunk.to_vec())).await {
            Ok(list) => {
                read_count += list.len() as u64;
                for i in list {
                    by_id.insert(i.id.clone(), i);
                }
            }
            Err(e) => return unknown_all(&e),
        }
    }
    tracing::info!(
        region = c.region.as_str(),
        read = read_count,
        "EC2 instances read for deployment groups"
    );
    // Select per group.
    type Selected = Result<(Vec<Ec2Instance>, BTreeMap<String, LaunchTemplateUse>), ReadError>;
    let mut selected: Vec<(String, Selected)> = Vec::new();
    for t in targets {
        let mut out: BTreeMap<String, Ec2Instance> = BTreeMap::new();
        let mut err = None;
        if t.detail.by_tags() {
            for i in by_id.values() {
                if t.detail.matches_tags(&i.tags) {
                    out.insert(i.id.clone(), i.clone());
                }
            }
        }
        for name in &t.detail.auto_scaling_groups {
            if let Some(e) = &asg_error {
                err = Some(e.clone());
                break;
            }
            for id in asg_members.get(name).into_iter().flatten() {
                if let Some(i) = by_id.get(id) {
                    let mut i = i.clone();
                    i.auto_scaling_group = Some(name.clone());
                    out.insert(id.clone(), i);
                }
            }
        }
        let templates: BTreeMap<String, LaunchTemplateUse> = t
            .detail
            .auto_scaling_groups
            .iter()
            .filter_map(|g| Some((g.clone(), asg_templates.get(g)?.clone())))
            .collect();
        selected.push((
            t.arn.clone(),
            match err {
                Some(e) => Err(e),
                None => Ok((out.into_values().collect(), templates)),
            },
        ));
    }
    // Instance profiles -> roles, each profile once.
    let profiles: BTreeSet<String> = selected
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .flat_map(|(instances, _)| instances)
        .filter_map(|i| i.instance_profile_arn.clone())
        .collect();
    let dir = if profiles.is_empty() {
        None
    } else {
        iam.directory(ctx, &c.iam).await
    };
    let roles: BTreeMap<String, Observed<String>> =
        futures::future::join_all(profiles.into_iter().map(|arn| async move {
            let role = match dir.and_then(|d| d.profile_role(&arn)) {
                Some(role) => Observed::ok(role),
                None => profile_role(ctx, &c.iam, &arn).await,
            };
            (arn, role)
        }))
        .await
        .into_iter()
        .collect();
    selected
        .into_iter()
        .map(|(arn, r)| {
            let obs = match r {
                Ok((mut instances, launch_templates)) => {
                    for i in &mut instances {
                        i.role_arn = match &i.instance_profile_arn {
                            Some(p) => roles.get(p).cloned().unwrap_or(Observed::Absent),
                            None => Observed::Absent,
                        };
                    }
                    Observed::ok(DeployTargets {
                        instances,
                        instances_read: read_count,
                        launch_templates,
                    })
                }
                Err(error) => Observed::Unknown { error },
            };
            (arn, obs)
        })
        .collect()
}

fn state_filter() -> Filter {
    Filter::builder()
        .name("instance-state-name")
        .values("running")
        .values("pending")
        .build()
}

/// DescribeInstances with `filters` (and instance ids), every page.
async fn describe(
    ctx: &Ctx,
    client: &aws_sdk_ec2::Client,
    filters: Vec<Filter>,
    ids: Option<Vec<String>>,
) -> Result<Vec<Ec2Instance>, ReadError> {
    const ACTION: &str = "ec2:DescribeInstances";
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let req = client
            .describe_instances()
            .set_filters(Some(filters.clone()))
            .set_instance_ids(ids.clone())
            .set_max_results(if ids.is_none() { Some(1000) } else { None })
            .set_next_token(token.clone());
        let page = ctx
            .call(ACTION, req.send())
            .await
            .map_err(|e| read_error(ACTION, &e))?;
        for i in page.reservations().iter().flat_map(|r| r.instances()) {
            out.push(instance(i));
        }
        match page.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(out)
}

fn instance(i: &aws_sdk_ec2::types::Instance) -> Ec2Instance {
    let md = i.metadata_options();
    Ec2Instance {
        id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        auto_scaling_group: None,
        instance_profile_arn: i
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .map(str::to_string),
        role_arn: Observed::Absent,
        http_tokens: md
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str().to_string()),
        http_endpoint: md
            .and_then(|m| m.http_endpoint())
            .map(|t| t.as_str().to_string()),
        http_put_response_hop_limit: md.and_then(|m| m.http_put_response_hop_limit()),
        tags: i
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
    }
}

/// The instances of each named Auto Scaling group, and the launch template
/// it launches them from (DescribeAutoScalingGroups, 50 names a call, every
/// page). A group that does not exist has none.
async fn auto_scaling_groups(
    ctx: &Ctx,
    client: &aws_sdk_autoscaling::Client,
    names: &BTreeSet<String>,
) -> Result<
    (
        BTreeMap<String, Vec<String>>,
        BTreeMap<String, LaunchTemplateUse>,
    ),
    ReadError,
> {
    const ACTION: &str = "autoscaling:DescribeAutoScalingGroups";
    let names: Vec<String> = names.iter().cloned().collect();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut templates: BTreeMap<String, LaunchTemplateUse> = BTreeMap::new();
    for chunk in names.chunks(50) {
        let mut token: Option<String> = None;
        loop {
            let req = client
                .describe_auto_scaling_groups()
                .set_auto_scaling_group_names(Some(chunk.to_vec()))
                .set_next_token(token.clone());
            let page = ctx
                .call(ACTION, req.send())
                .await
                .map_err(|e| read_error(ACTION, &e))?;
            for g in page.auto_scaling_groups() {
                let ids = g
                    .instances()
                    .iter()
                    .filter_map(|i| i.instance_id().map(str::to_string))
                    .collect();
                let name = g.auto_scaling_group_name().unwrap_or_default().to_string();
                // the group's own template, else its mixed instances policy's
                let spec = g.launch_template().or_else(|| {
                    g.mixed_instances_policy()
                        .and_then(|m| m.launch_template())
                        .and_then(|t| t.launch_template_specification())
                });
                if let Some(id) = spec.and_then(|t| t.launch_template_id()) {
                    templates.insert(
                        name.clone(),
                        LaunchTemplateUse {
                            id: id.to_string(),
                            name: spec
                                .and_then(|t| t.launch_template_name())
                                .map(str::to_string),
                            version: spec.and_then(|t| t.version()).map(str::to_string),
                        },
                    );
                }
                out.insert(name, ids);
            }
            match page.next_token() {
                Some(t) if !t.is_empty() && Some(t) != token.as_deref() => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
    }
    Ok((out, templates))
}

/// The role of an instance profile (IAM GetInstanceProfile).
async fn profile_role(ctx: &Ctx, client: &aws_sdk_iam::Client, arn: &str) -> Observed<String> {
    const ACTION: &str = "iam:GetInstanceProfile";
    let name = arn.rsplit('/').next().unwrap_or(arn);
    let result = ctx
        .call(
            ACTION,
            client
                .get_instance_profile()
                .instance_profile_name(name)
                .send(),
        )
        .await;
    observe(ACTION, result, &["NoSuchEntity"], |out| {
        out.instance_profile()
            .and_then(|p| p.roles().first())
            .map(|r| r.arn().to_string())
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(t: &str, k: &str, v: &str) -> TagFilter {
        TagFilter {
            key: Some(k.to_string()).filter(|s| !s.is_empty()),
            value: Some(v.to_string()).filter(|s| !s.is_empty()),
            filter_type: Some(t.to_string()),
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filter_types() {
        let t = tags(&[("app", "web"), ("env", "prod")]);
        assert!(filter_matches(&f("KEY_ONLY", "app", ""), &t));
        assert!(!filter_matches(&f("KEY_ONLY", "team", ""), &t));
        assert!(filter_matches(&f("VALUE_ONLY", "", "prod"), &t));
        assert!(!filter_matches(&f("VALUE_ONLY", "", "dev"), &t));
        assert!(filter_matches(&f("KEY_AND_VALUE", "env", "prod"), &t));
        assert!(!filter_matches(&f("KEY_AND_VALUE", "env", "web"), &t));
    }

    #[test]
    fn filters_are_ored_and_a_tag_set_ands_its_lists() {
        let web_prod = tags(&[("app", "web"), ("env", "prod")]);
        let web_dev = tags(&[("app", "web"), ("env", "dev")]);
        let api_prod = tags(&[("app", "api"), ("env", "prod")]);
        let ored = Selector {
            tag_filters: vec![
                f("KEY_AND_VALUE", "app", "web"),
                f("KEY_AND_VALUE", "app", "api"),
            ],
            ..Selector::default()
        };
        assert!(ored.matches_tags(&web_dev) && ored.matches_tags(&api_prod));
        let set = Selector {
            tag_set: vec![
                vec![
                    f("KEY_AND_VALUE", "app", "web"),
                    f("KEY_AND_VALUE", "app", "api"),
                ],
                vec![f("KEY_AND_VALUE", "env", "prod")],
            ],
            ..Selector::default()
        };
        assert!(set.matches_tags(&web_prod));
        assert!(set.matches_tags(&api_prod));
        assert!(!set.matches_tags(&web_dev));
        assert!(!Selector::default().matches_tags(&web_prod));
    }
}
