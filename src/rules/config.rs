//! `pipeaudit.toml`: the release branch, approval policy, allowed build
//! images, severity overrides, disabled rules and ignores.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::findings::Severity;

/// The audit configuration; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The branch commits must be released from (SC002, and the trigger check).
    #[serde(default)]
    pub release_branch: Option<String>,
    /// Require a manual approval before each deploy (PL005).
    #[serde(default)]
    pub require_approval: bool,
    /// Build images allowed (CB006); empty means only deprecated images are reported.
    #[serde(default)]
    pub allowed_images: Vec<String>,
    /// Per-rule severity overrides, e.g. `CB006 = "info"`.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
    /// Rules not to run.
    #[serde(default)]
    pub disabled: Vec<String>,
    /// Accepted findings.
    #[serde(default)]
    pub ignore: Vec<Ignore>,
    /// Per-rule parameters, by rule id or slug: `[rules.build-outside-vpc]`.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleParams>,
    /// The pipeline shape PL001 accepts.
    #[serde(default)]
    pub reference: Reference,
    /// Infrastructure as code: `[iac.stacks] my-stack = "infra/pipeline.yaml"`.
    #[serde(default)]
    pub iac: IacConfig,
    /// Principals whose release paths are accepted (`[release_paths]`).
    #[serde(default)]
    pub release_paths: ReleasePathsConfig,
}

/// `[release_paths]`: `trusted = [{ principal = "arn glob", reason = "..." }]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasePathsConfig {
    #[serde(default)]
    pub trusted: Vec<TrustedPrincipal>,
}

/// A principal (ARN glob, `*` and `?`) whose release paths are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPrincipal {
    pub principal: toml::Spanned<String>,
    pub reason: String,
}

impl ReleasePathsConfig {
    /// The trusted principals as the analysis takes them.
    pub fn trusted(&self) -> Vec<crate::aws::release::Trusted> {
        self.trusted
            .iter()
            .map(|t| crate::aws::release::Trusted {
                principal: t.principal.get_ref().clone(),
                reason: t.reason.clone(),
            })
            .collect()
    }
}

/// The reference architecture's shape: the accepted action providers of the
/// source, build and deploy stages, and the order of the stages (action
/// categories). A profile ([`PROFILES`]) gives all four; keys written next
/// to it override its values. The default profile is the seed's,
/// `codedeploy-ec2`: CodeCommit, CodeBuild, CodeDeploy, in that order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ReferenceFile")]
pub struct Reference {
    /// The profile the values start from.
    pub profile: String,
    pub source: Vec<String>,
    pub build: Vec<String>,
    pub deploy: Vec<String>,
    /// Action categories in stage order; `Source` must come first.
    pub stages: Vec<String>,
}

/// A ready reference shape, named by `[reference] profile`.
pub struct Profile {
    pub name: &'static str,
    pub source: &'static [&'static str],
    pub build: &'static [&'static str],
    pub deploy: &'static [&'static str],
    pub stages: &'static [&'static str],
}

/// The ready reference shapes; the first is the default. Another deploy
/// style is one more entry here (and its example in docs/reference/configuration.md).
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "codedeploy-ec2",
        source: &["CodeCommit"],
        build: &["CodeBuild"],
        deploy: &["CodeDeploy"],
        stages: &["Source", "Build", "Deploy"],
    },
    Profile {
        name: "cloudformation",
        source: &["CodeCommit", "CodeStarSourceConnection", "S3"],
        build: &["CodeBuild"],
        deploy: &["CloudFormation"],
        stages: &["Source", "Build", "Deploy"],
    },
    Profile {
        name: "ecs",
        source: &["CodeCommit", "CodeStarSourceConnection"],
        build: &["CodeBuild"],
        deploy: &["ECS", "CodeDeployToECS"],
        stages: &["Source", "Build", "Deploy"],
    },
    // Lambda blue/green deploys go through the CodeDeploy provider (a group
    // of the Lambda compute platform); SAM deploys through CloudFormation.
    Profile {
        name: "lambda",
        source: &["CodeCommit", "CodeStarSourceConnection"],
        build: &["CodeBuild"],
        deploy: &["CodeDeploy", "CloudFormation"],
        stages: &["Source", "Build", "Deploy"],
    },
];

/// `[reference]` as written: every key optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReferenceFile {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    source: Option<Vec<String>>,
    #[serde(default)]
    build: Option<Vec<String>>,
    #[serde(default)]
    deploy: Option<Vec<String>>,
    #[serde(default)]
    stages: Option<Vec<String>>,
}

/// Why a `[reference]` table names no known profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "unknown reference profile {name:?}; the profiles are {}",
        PROFILES
            .iter()
            .map(|p| format!("{:?}", p.name))
            .collect::<Vec<_>>()
            .join(", ")
    )]
    UnknownProfile { name: String },
}

impl TryFrom<ReferenceFile> for Reference {
    type Error = ReferenceError;
    fn try_from(f: ReferenceFile) -> Result<Self, ReferenceError> {
        let name = f.profile.as_deref().unwrap_or(PROFILES[0].name);
        let p = PROFILES.iter().find(|p| p.name == name).ok_or_else(|| {
            ReferenceError::UnknownProfile {
                name: name.to_string(),
            }
        })?;
        let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Ok(Reference {
            profile: p.name.to_string(),
            source: f.source.unwrap_or_else(|| own(p.source)),
            build: f.build.unwrap_or_else(|| own(p.build)),
            deploy: f.deploy.unwrap_or_else(|| own(p.deploy)),
            stages: f.stages.unwrap_or_else(|| own(p.stages)),
        })
    }
}

impl Default for Reference {
    fn default() -> Self {
        // the first profile, with nothing overridden
        Reference::try_from(ReferenceFile::default()).unwrap_or_else(|_| Reference {
            profile: String::new(),
            source: Vec::new(),
            build: Vec::new(),
            deploy: Vec::new(),
            stages: Vec::new(),
        })
    }
}

impl Reference {
    /// The accepted providers of a stage category (`None` for a category
    /// the reference does not name providers for).
    pub fn providers(&self, category: &str) -> Option<&[String]> {
        match category {
            "Source" => Some(&self.source),
            "Build" => Some(&self.build),
            "Deploy" => Some(&self.deploy),
            _ => None,
        }
    }
}

/// The parameters of one rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleParams {
    /// Runs the rule (`true`) or not (`false`); unset: the rule's default
    /// (every rule runs but those whose file says `enabled: false`).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Accounts trusted to write artifacts (`artifact-bucket-writable-by-others`).
    #[serde(default)]
    pub trusted_accounts: Option<Vec<String>>,
}

impl RuleParams {
    /// The parameters set, besides `enabled`.
    pub fn names(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.trusted_accounts.is_some() {
            out.push("trusted_accounts");
        }
        out
    }
}

/// `[iac]`: where the stacks' templates are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IacConfig {
    /// Stack name -> template path, relative to `--iac-root`.
    #[serde(default)]
    pub stacks: BTreeMap<String, toml::Spanned<String>>,
}

impl IacConfig {
    /// The mapping without spans.
    pub fn stack_paths(&self) -> BTreeMap<String, String> {
        self.stacks
            .iter()
            .map(|(k, v)| (k.clone(), v.get_ref().clone()))
            .collect()
    }
}

/// An accepted finding: a rule on a resource (ARN or glob), with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ignore {
    pub rule: String,
    pub resource: String,
    pub reason: String,
    /// `YYYY-MM-DD`; after this day the ignore stops suppressing and is reported.
    #[serde(default)]
    pub expires: Option<String>,
}

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

/// Whether `s` is a real calendar date written `YYYY-MM-DD` (Gregorian:
/// no month 13, no February 30).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (
        s[..4].parse::<u32>(),
        s[5..7].parse::<u32>(),
        s[8..].parse::<u32>(),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    year > 0 && (1..=days).contains(&day)
}

/// Whether `s` is an AWS account id: twelve digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Config {
    /// Parses configuration text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let line_at = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: origin.to_string(),
            line: e.span().map(|s| line_at(s.start)),
            message: e.message().to_string(),
        })?;
        let find = |needle: &str| text.find(needle).map(line_at);
        let r = &cfg.reference;
        let bad_reference = |message: String| ConfigError {
            path: origin.to_string(),
            line: find("[reference]"),
            message: format!("[reference]: {message}"),
        };
        if r.stages.first().map(String::as_str) != Some("Source") {
            return Err(bad_reference(
                "`stages` must start with \"Source\"".to_string(),
            ));
        }
        for st in &r.stages {
            if ![
                "Source", "Build", "Test", "Deploy", "Approval", "Invoke", "Compute",
            ]
            .contains(&st.as_str())
            {
                return Err(bad_reference(format!(
                    "stage {st:?} is not an action category (Source, Build, Test, Deploy, Approval, Invoke, Compute)"
                )));
            }
        }
        for (name, list) in [
            ("source", &r.source),
            ("build", &r.build),
            ("deploy", &r.deploy),
        ] {
            if list.is_empty() {
                return Err(bad_reference(format!("`{name}` names no provider")));
            }
        }
        for (i, ig) in cfg.ignore.iter().enumerate() {
            let bad = |message: String| ConfigError {
                path: origin.to_string(),
                line: find(&ig.resource).or_else(|| find("[[ignore]]")),
                message: format!("ignore #{}: {message}", i + 1),
            };
            if ig.reason.trim().is_empty() {
                return Err(bad("reason must not be empty".to_string()));
            }
            if let Some(d) = ig.expires.as_ref().filter(|d| !is_date(d)) {
                return Err(ConfigError {
                    path: origin.to_string(),
                    line: find(&format!("{d:?}")).or_else(|| find(d)),
                    message: format!(
                        "ignore #{}: expires {d:?} is not a calendar date (YYYY-MM-DD)",
                        i + 1
                    ),
                });
            }
            if let Err(e) = globset::Glob::new(&ig.resource) {
                return Err(bad(format!(
                    "resource {:?} is not a valid glob: {e}",
                    ig.resource
                )));
            }
        }
        for t in &cfg.release_paths.trusted {
            let line = Some(line_at(t.principal.span().start));
            let p = t.principal.get_ref();
            let problem = if p.trim().is_empty() {
                Some("is empty".to_string())
            } else if t.reason.trim().is_empty() {
                Some("has an empty reason".to_string())
            } else if p.contains(['[', ']', '{', '}']) {
                Some("is not an ARN glob (only `*` and `?` are wildcards)".to_string())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(ConfigError {
                    path: origin.to_string(),
                    line,
                    message: format!("[release_paths] trusted principal {p:?} {problem}"),
                });
            }
        }
        for (name, params) in &cfg.rules {
            for account in params.trusted_accounts.iter().flatten() {
                if !is_account_id(account) {
                    return Err(ConfigError {
                        path: origin.to_string(),
                        line: find(&format!("{account:?}"))
                            .or_else(|| find(&format!("[rules.{name}]"))),
                        message: format!(
                            "[rules.{name}] trusted_accounts: {account:?} is not an account id (12 digits)"
                        ),
                    });
                }
            }
        }
        for (stack, path) in &cfg.iac.stacks {
            let p = path.get_ref();
            let problem = if p.trim().is_empty() {
                Some("is empty")
            } else if std::path::Path::new(p).is_absolute() || p.starts_with('/') {
                Some("must be relative to --iac-root")
            } else if p.split(['/', '\\']).any(|c| c == "..") {
                Some("must not leave --iac-root (`..`)")
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(ConfigError {
                    path: origin.to_string(),
                    line: Some(line_at(path.span().start)),
                    message: format!("[iac.stacks] {stack}: the template path {p:?} {problem}"),
                });
            }
        }
        Ok(cfg)
    }

    /// The settings a rule can depend on to check anything (`requires_config`).
    pub const SWITCHES: &'static [&'static str] =
        &["release_branch", "require_approval", "allowed_images"];

    /// Whether one of [`Config::SWITCHES`] is set; `None` for another name.
    pub fn is_set(&self, key: &str) -> Option<bool> {
        match key {
            "release_branch" => Some(self.release_branch.is_some()),
            "require_approval" => Some(self.require_approval),
            "allowed_images" => Some(!self.allowed_images.is_empty()),
            _ => None,
        }
    }

    /// Loads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks that the rule ids the configuration names exist; a `[rules.X]`
    /// table may name a rule by id or slug (`known`: (id, slug, the
    /// parameters the rule takes)) and set only the parameters it takes.
    pub fn check_rule_ids(
        &self,
        known: &[(&str, &str, Vec<&str>)],
        origin: &str,
    ) -> Result<(), ConfigError> {
        let names = self
            .severity
            .keys()
            .map(String::as_str)
            .chain(self.disabled.iter().map(String::as_str))
            .chain(self.ignore.iter().map(|i| i.rule.as_str()));
        for id in names {
            if !known.iter().any(|(k, _, _)| k.eq_ignore_ascii_case(id)) {
                return Err(ConfigError {
                    path: origin.to_string(),
                    line: None,
                    message: format!("unknown rule id {id:?}"),
                });
            }
        }
        for (name, params) in &self.rules {
            let Some((_, _, takes)) = known
                .iter()
                .find(|(id, slug, _)| id.eq_ignore_ascii_case(name) || slug == name)
            else {
                return Err(ConfigError {
                    path: origin.to_string(),
                    line: None,
                    message: format!("[rules.{name}]: no rule has this id or slug"),
                });
            };
            if let Some(p) = params.names().into_iter().find(|p| !takes.contains(p)) {
                return Err(ConfigError {
                    path: origin.to_string(),
                    line: None,
                    message: format!("[rules.{name}]: the rule takes no parameter `{p}`"),
                });
            }
        }
        Ok(())
    }

    /// A rule's `trusted_accounts` parameter (by id or slug); empty when unset.
    pub fn trusted_accounts(&self, id: &str, slug: &str) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(id) || *name == slug)
            .find_map(|(_, p)| p.trusted_accounts.clone())
            .unwrap_or_default()
    }

    /// Whether a rule runs: `disabled` wins, then `[rules.<id or slug>]
    /// enabled`, then the rule's own default.
    pub fn rule_enabled(&self, id: &str, slug: &str, default: bool) -> bool {
        if self.disabled.iter().any(|d| d.eq_ignore_ascii_case(id)) {
            return false;
        }
        self.rules
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(id) || *name == slug)
            .find_map(|(_, p)| p.enabled)
            .unwrap_or(default)
    }
}

#[cfg(test)]
mod tests;
