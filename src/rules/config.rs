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
    /// Infrastructure as code: `[iac.stacks] my-stack = "infra/pipeline.yaml"`.
    #[serde(default)]
    pub iac: IacConfig,
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

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && s.chars()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
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
                return Err(bad(format!("expires {d:?} is not a YYYY-MM-DD date")));
            }
            if let Err(e) = globset::Glob::new(&ig.resource) {
                return Err(bad(format!(
                    "resource {:?} is not a valid glob: {e}",
                    ig.resource
                )));
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

    /// Loads a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.display().to_string(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Checks that the rule ids the configuration names exist.
    pub fn check_rule_ids(&self, known: &[&str], origin: &str) -> Result<(), ConfigError> {
        let names = self
            .severity
            .keys()
            .map(String::as_str)
            .chain(self.disabled.iter().map(String::as_str))
            .chain(self.ignore.iter().map(|i| i.rule.as_str()));
        for id in names {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(id)) {
                return Err(ConfigError {
                    path: origin.to_string(),
                    line: None,
                    message: format!("unknown rule id {id:?}"),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config_parses() {
        let c = Config::parse(
            r#"
release_branch = "main"
require_approval = true
allowed_images = ["aws/codebuild/standard:7.0"]
disabled = ["CD006"]
[severity]
CB006 = "info"
[[ignore]]
rule = "AB008"
resource = "arn:aws:s3:::legacy-*"
reason = "legacy bucket, versioning costs too much"
expires = "2027-01-31"
"#,
            "pipeaudit.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.release_branch.as_deref(), Some("main"));
        assert_eq!(c.severity.get("CB006"), Some(&Severity::Info));
        assert_eq!(c.ignore.len(), 1);
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = Config::parse(
            "release_branch = \"main\"\nrequire_approval = \"yes\"\n",
            "p.toml",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.starts_with("p.toml:2:"), "{e}");
        let e = Config::parse("nope = 1\n", "p.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("p.toml:1:") && e.contains("nope"), "{e}");
        let e = Config::parse(
            "[[ignore]]\nrule = \"AB008\"\nresource = \"x\"\nreason = \"\"\n",
            "p.toml",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            e.contains("reason must not be empty") && e.starts_with("p.toml:3:"),
            "{e}"
        );
        let e = Config::parse(
            "[[ignore]]\nrule = \"AB008\"\nresource = \"x\"\nreason = \"r\"\nexpires = \"soon\"\n",
            "p.toml",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("not a YYYY-MM-DD date"), "{e}");
        let e = Config::parse("[severity]\nCB006 = \"urgent\"\n", "p.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("p.toml:2:"), "{e}");
    }

    #[test]
    fn stack_templates_are_relative_paths() {
        let c = Config::parse("[iac.stacks]\nci = \"infra/pipeline.yaml\"\n", "p.toml")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.iac.stack_paths().get("ci").map(String::as_str),
            Some("infra/pipeline.yaml")
        );
        for bad in ["/etc/x.yaml", "../other/x.yaml", ""] {
            let e = Config::parse(
                &format!("release_branch = \"main\"\n[iac.stacks]\nci = {bad:?}\n"),
                "p.toml",
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(e.starts_with("p.toml:3: [iac.stacks] ci:"), "{bad}: {e}");
        }
        let e = Config::parse("[iac]\nstack = {}\n", "p.toml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.starts_with("p.toml:2:"), "{e}");
    }
}
