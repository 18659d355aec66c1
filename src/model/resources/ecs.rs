//! ECS and ECR: services, task definitions, images and their repositories.

use super::*;

/// The ARN of an ECS service (the long ARN format).
pub fn ecs_service_arn(
    partition: &str,
    region: &str,
    account: &str,
    cluster: &str,
    service: &str,
) -> String {
    let cluster = cluster.rsplit_once(":cluster/").map_or(cluster, |(_, c)| c);
    let service = service.rsplit('/').next().unwrap_or(service);
    format!("arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}")
}

/// One ECS service an ECS deploy action deploys to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsTarget<'a> {
    pub deploy: &'a EcsDeployRef,
    pub cluster: String,
    pub service: String,
    pub service_arn: String,
}

/// The ECS services a pipeline's ECS deploy actions deploy to: from the
/// action's configuration (`ECS`), or from the deployment group
/// (`CodeDeployToECS`, once the group was read). A group that could not be
/// read is returned as a gap (its ARN and error); a group that does not
/// exist deploys nowhere.
pub fn ecs_targets<'a>(
    w: &'a PipelineWiring,
    r: &Resources,
) -> (Vec<EcsTarget<'a>>, Vec<(String, ReadError)>) {
    let mut parts = w.arn.split(':');
    let partition = parts.nth(1).unwrap_or("aws");
    let account = parts.nth(2).unwrap_or("");
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    for d in &w.ecs_deploys {
        let mut push = |cluster: &str, service: &str| {
            out.push(EcsTarget {
                deploy: d,
                cluster: cluster.to_string(),
                service: service.to_string(),
                service_arn: ecs_service_arn(partition, &d.region, account, cluster, service),
            })
        };
        match (&d.cluster, &d.service, &d.group_arn) {
            (_, Some(service), None) => push(d.cluster.as_deref().unwrap_or("default"), service),
            (_, _, Some(group)) => match r.deploy_groups.get(group) {
                // a group of another account (read there, in an
                // organization audit): its services are not followed
                Some(Observed::Ok { value })
                    if group.split(':').nth(4).is_some_and(|a| a != account)
                        && !value.ecs_services.is_empty() =>
                {
                    gaps.push((
                        group.clone(),
                        ReadError {
                            kind: crate::model::ReadErrorKind::Service,
                            action: "ecs:DescribeServices".to_string(),
                            code: None,
                            message: format!(
                                "the ECS services of deployment group {} in account {} are not followed into that account",
                                value.name,
                                group.split(':').nth(4).unwrap_or_default()
                            ),
                        },
                    ));
                }
                Some(Observed::Ok { value }) => {
                    for e in &value.ecs_services {
                        push(&e.cluster, &e.service);
                    }
                }
                Some(Observed::Unknown { error }) => gaps.push((group.clone(), error.clone())),
                _ => {}
            },
            _ => {}
        }
    }
    (out, gaps)
}

/// An ECS service (DescribeServices).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcsService {
    pub name: String,
    pub arn: String,
    pub cluster: String,
    #[serde(default)]
    pub status: Option<String>,
    /// The task definition the service runs (an ARN with its revision).
    #[serde(default)]
    pub task_definition: Option<String>,
    /// ECS, CODE_DEPLOY or EXTERNAL.
    #[serde(default)]
    pub deployment_controller: Option<String>,
}

/// One revision of an ECS task definition (DescribeTaskDefinition).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDefinition {
    pub arn: String,
    pub family: String,
    pub revision: i64,
    /// The role the containers run as.
    #[serde(default)]
    pub task_role_arn: Option<String>,
    /// The role ECS pulls images and reads secrets with.
    #[serde(default)]
    pub execution_role_arn: Option<String>,
    #[serde(default)]
    pub containers: Vec<Container>,
}

/// A container of a task definition.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub name: String,
    pub image: String,
}

/// An image reference split into its parts: an ECR repository (when the
/// registry is a private ECR registry) and a tag or digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRef {
    /// The ECR repository's ARN, when the image is in a private ECR registry.
    pub repository_arn: Option<String>,
    pub repository_name: String,
    /// The registry (account) id of an ECR image.
    pub registry_id: Option<String>,
    pub region: Option<String>,
    /// The tag, when the image is referenced by tag (`latest` when neither
    /// a tag nor a digest is given).
    pub tag: Option<String>,
    /// The digest, when the image is pinned by digest.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses `registry/name[:tag][@digest]`.
    pub fn parse(image: &str, partition: &str) -> ImageRef {
        let (rest, digest) = match image.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (image, None),
        };
        // a tag is after the last ':' that follows the last '/'
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name_part, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(rest[slash + i + 1..].to_string())),
            None => (rest, None),
        };
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_string()),
            _ => tag,
        };
        let (registry, name) = match name_part.split_once('/') {
            Some((r, n)) if r.contains('.') || r.contains(':') || r == "localhost" => (Some(r), n),
            _ => (None, name_part),
        };
        // <account>.dkr.ecr.<region>.amazonaws.com[.cn]
        let ecr = registry.and_then(|r| {
            let parts: Vec<&str> = r.split('.').collect();
            match parts.as_slice() {
                [account, "dkr", "ecr", region, "amazonaws", "com", ..]
                    if account.chars().all(|c| c.is_ascii_digit()) =>
                {
                    Some((account.to_string(), region.to_string()))
                }
                _ => None,
            }
        });
        match ecr {
            Some((account, region)) => ImageRef {
                repository_arn: Some(format!(
                    "arn:{partition}:ecr:{region}:{account}:repository/{name}"
                )),
                repository_name: name.to_string(),
                registry_id: Some(account),
                region: Some(region),
                tag,
                digest,
            },
            None => ImageRef {
                repository_arn: None,
                repository_name: name_part.to_string(),
                registry_id: None,
                region: None,
                tag,
                digest,
            },
        }
    }
}

/// An ECR repository (DescribeRepositories) with its policy
/// (GetRepositoryPolicy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageRepository {
    pub name: String,
    pub arn: String,
    #[serde(default)]
    pub registry_id: Option<String>,
    /// MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
    #[serde(default)]
    pub tag_mutability: Option<String>,
    /// The exclusion filters of the `*_WITH_EXCLUSION` settings (wildcards).
    #[serde(default)]
    pub tag_mutability_exclusions: Vec<String>,
    #[serde(default)]
    pub scan_on_push: Option<bool>,
    /// The repository policy; absent when the repository has none.
    pub policy: Observed<PolicyText>,
}

/// Whether `tag` can be moved to another image in a repository with this
/// tag mutability: `None` when the setting is not one of the four known.
/// With `IMMUTABLE_WITH_EXCLUSION` the tags that match an exclusion filter
/// stay mutable; with `MUTABLE_WITH_EXCLUSION` they are the immutable ones.
pub fn image_tag_mutable(mutability: &str, exclusions: &[String], tag: &str) -> Option<bool> {
    let excluded = exclusions.iter().any(|f| tag_filter_matches(f, tag));
    match mutability {
        "MUTABLE" => Some(true),
        "IMMUTABLE" => Some(false),
        "IMMUTABLE_WITH_EXCLUSION" => Some(excluded),
        "MUTABLE_WITH_EXCLUSION" => Some(!excluded),
        _ => None,
    }
}

/// An ECR tag exclusion filter: `*` matches any run of characters (none
/// included); every other character matches itself, case counting.
pub fn tag_filter_matches(filter: &str, tag: &str) -> bool {
    let parts: Vec<&str> = filter.split('*').collect();
    let Some((first, rest)) = parts.split_first() else {
        return tag.is_empty();
    };
    let Some(mut left) = tag.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        // no '*': the whole tag
        return left.is_empty();
    };
    for m in middle {
        match left.find(m) {
            Some(i) => left = &left[i + m.len()..],
            None => return false,
        }
    }
    left.len() >= last.len() && left.ends_with(last)
}

#[cfg(test)]
mod ecr_tests {
    use super::*;

    #[test]
    fn image_references_are_split_into_repository_tag_and_digest() {
        let i = ImageRef::parse(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web:v1.2",
            "aws",
        );
        assert_eq!(
            i.repository_arn.as_deref(),
            Some("arn:aws:ecr:eu-west-1:123456789012:repository/team/web")
        );
        assert_eq!(i.registry_id.as_deref(), Some("123456789012"));
        assert_eq!(
            (i.tag.as_deref(), i.digest.as_deref()),
            (Some("v1.2"), None)
        );
        let d = ImageRef::parse(
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:abc",
            "aws",
        );
        assert_eq!((d.tag, d.digest.as_deref()), (None, Some("sha256:abc")));
        // no tag and no digest: latest
        let l = ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/web", "aws");
        assert_eq!(l.tag.as_deref(), Some("latest"));
        // not a private ECR registry: no repository to read
        for other in [
            "nginx:1.27",
            "public.ecr.aws/nginx/nginx:1",
            "localhost:5000/web:1",
        ] {
            assert_eq!(
                ImageRef::parse(other, "aws").repository_arn,
                None,
                "{other}"
            );
        }
        assert_eq!(
            ImageRef::parse("localhost:5000/web:1", "aws")
                .tag
                .as_deref(),
            Some("1")
        );
    }

    #[test]
    fn tag_mutability_is_decided_with_the_exclusion_filters() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(image_tag_mutable("MUTABLE", &[], "v1"), Some(true));
        assert_eq!(
            image_tag_mutable("IMMUTABLE", &f(&["*"]), "v1"),
            Some(false)
        );
        // excluded tags stay mutable
        let dev = f(&["dev-*", "latest"]);
        let iwe = "IMMUTABLE_WITH_EXCLUSION";
        assert_eq!(image_tag_mutable(iwe, &dev, "dev-42"), Some(true));
        assert_eq!(image_tag_mutable(iwe, &dev, "latest"), Some(true));
        assert_eq!(image_tag_mutable(iwe, &dev, "v1"), Some(false));
        // excluded tags are the immutable ones
        let rel = f(&["v*.*"]);
        let mwe = "MUTABLE_WITH_EXCLUSION";
        assert_eq!(image_tag_mutable(mwe, &rel, "v1.2"), Some(false));
        assert_eq!(image_tag_mutable(mwe, &rel, "v1"), Some(true));
        assert_eq!(image_tag_mutable("SOMETHING_NEW", &rel, "v1"), None);
    }

    #[test]
    fn exclusion_filters_match_exactly() {
        let cases = [
            ("release-*", "release-1", true),
            ("release-*", "release-", true),
            ("release-*", "Release-1", false),
            ("release-*", "xrelease-1", false),
            ("*-rc", "1.0-rc", true),
            ("*-rc", "1.0-rc1", false),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("latest", "latest", true),
            ("latest", "latest2", false),
            ("*", "", true),
            ("v.1", "vx1", false),
        ];
        for (filter, tag, want) in cases {
            assert_eq!(tag_filter_matches(filter, tag), want, "{filter} ~ {tag}");
        }
    }
}
