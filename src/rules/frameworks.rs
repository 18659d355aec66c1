//! Compliance frameworks: one data file each under `rules/frameworks/`
//! (embedded with the rules), listing the controls pipeaudit can speak to.
//! Rules cite them in their `compliance` map (framework id to control ids);
//! [`Frameworks::check_rule`] rejects a citation of an unknown framework or
//! control, and [`Frameworks::coverage_problems`] names the gaps of a
//! catalog (a control no rule maps and not marked manual, a rule with no
//! mapping).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LoadError, LoadErrors, RuleFile, RuleSet};

/// The folder of the framework files under `rules/`.
pub const DIR: &str = "frameworks/";

/// One control of a framework.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub title: String,
    /// Where the control sits in the framework (family, chapter, category).
    pub section: String,
    /// Why no rule can test it: an auditor checks it by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<String>,
}

/// A framework file as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Framework {
    pub id: String,
    pub title: String,
    pub version: String,
    /// Where the framework is published.
    pub url: String,
    /// Where the control titles and the mapping come from.
    pub texts: String,
    /// Rank among frameworks, 1 the most specific (checks of single AWS
    /// settings) up to the broadest (criteria); orders the SARIF tags.
    pub specificity: u8,
    pub controls: Vec<Control>,
}

impl Framework {
    /// A control by id (exact).
    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }
}

/// The bundled frameworks, most specific first.
#[derive(Debug, Clone, Default)]
pub struct Frameworks {
    pub list: Vec<Framework>,
}

impl Frameworks {
    /// The frameworks compiled into the binary.
    pub fn builtin() -> Result<Frameworks, LoadErrors> {
        let sources: Vec<(String, &str)> = super::embedded()
            .iter()
            .filter(|(p, _)| p.starts_with(DIR))
            .map(|(p, t)| (format!("rules/{p}"), t.as_str()))
            .collect();
        Self::from_sources(&sources)
    }

    /// Parses and validates framework texts; reports every problem at once.
    pub fn from_sources(sources: &[(String, &str)]) -> Result<Frameworks, LoadErrors> {
        let mut errors = Vec::new();
        let mut list: Vec<Framework> = Vec::new();
        for (origin, text) in sources {
            let err = |message: String| LoadError {
                origin: origin.clone(),
                line: None,
                message,
            };
            let f: Framework = match serde_yaml_ng::from_str(text) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(LoadError {
                        origin: origin.clone(),
                        line: e.location().map(|l| l.line()),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let stem = origin
                .rsplit('/')
                .next()
                .and_then(|n| n.strip_suffix(".yaml"))
                .unwrap_or("");
            if f.id != stem {
                errors.push(err(format!(
                    "framework id {:?} must be the file name ({stem}.yaml)",
                    f.id
                )));
            }
            if list.iter().any(|o| o.id == f.id) {
                errors.push(err(format!("duplicate framework {}", f.id)));
            }
            if f.controls.is_empty() {
                errors.push(err("a framework lists at least one control".to_string()));
            }
            let mut seen = std::collections::BTreeSet::new();
            for c in &f.controls {
                if !seen.insert(c.id.as_str()) {
                    errors.push(err(format!("duplicate control {}", c.id)));
                }
                if c.title.trim().is_empty() || c.section.trim().is_empty() {
                    errors.push(err(format!("control {} needs a title and a section", c.id)));
                }
                if c.manual.as_deref().is_some_and(|r| r.trim().is_empty()) {
                    errors.push(err(format!("control {}: manual needs its reason", c.id)));
                }
            }
            list.push(f);
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        list.sort_by(|a, b| (a.specificity, &a.id).cmp(&(b.specificity, &b.id)));
        Ok(Frameworks { list })
    }

    /// The bundled frameworks, parsed once (empty if they do not load, which
    /// the registry tests and every rule load rule out).
    pub fn bundled() -> &'static Frameworks {
        static BUNDLED: std::sync::OnceLock<Frameworks> = std::sync::OnceLock::new();
        BUNDLED.get_or_init(|| Frameworks::builtin().unwrap_or_default())
    }

    /// A framework by id (case-insensitive).
    pub fn get(&self, id: &str) -> Option<&Framework> {
        self.list.iter().find(|f| f.id.eq_ignore_ascii_case(id))
    }

    /// The ids, most specific first.
    pub fn ids(&self) -> Vec<&str> {
        self.list.iter().map(|f| f.id.as_str()).collect()
    }

    /// What is wrong with a rule's `compliance` map: unknown frameworks or
    /// controls, a control cited that is marked manual, duplicates.
    pub fn check_rule(&self, rule: &RuleFile) -> Vec<String> {
        let mut problems = Vec::new();
        for (fw, controls) in &rule.compliance {
            let Some(f) = self.list.iter().find(|f| &f.id == fw) else {
                problems.push(format!(
                    "compliance: unknown framework {fw:?} (known: {})",
                    self.ids().join(", ")
                ));
                continue;
            };
            if controls.is_empty() {
                problems.push(format!("compliance: {fw} lists no control"));
            }
            let mut seen = std::collections::BTreeSet::new();
            for c in controls {
                if !seen.insert(c) {
                    problems.push(format!("compliance: {fw} {c} is listed twice"));
                }
                match f.control(c) {
                    None => problems.push(format!(
                        "compliance: {fw} has no control {c:?} (see rules/frameworks/{fw}.yaml)"
                    )),
                    Some(ctl) if ctl.manual.is_some() => problems.push(format!(
                        "compliance: {fw} {c} is marked manual in rules/frameworks/{fw}.yaml; drop `manual` there to map it"
                    )),
                    Some(_) => {}
                }
            }
        }
        problems
    }

    /// The rules mapped to each control of a framework, by control id.
    pub fn rules_by_control<'a>(
        &self,
        framework: &Framework,
        rules: &'a RuleSet,
    ) -> BTreeMap<String, Vec<&'a str>> {
        let mut out: BTreeMap<String, Vec<&'a str>> = BTreeMap::new();
        for r in &rules.rules {
            for c in r.file.compliance.get(&framework.id).into_iter().flatten() {
                out.entry(c.clone()).or_default().push(r.file.id.as_str());
            }
        }
        out
    }

    /// The gaps of a catalog: rules with no mapping, and controls that no
    /// rule maps and that are not marked manual.
    pub fn coverage_problems(&self, rules: &RuleSet) -> Vec<String> {
        let mut problems = Vec::new();
        for r in &rules.rules {
            if r.file.compliance.values().all(|c| c.is_empty()) {
                problems.push(format!(
                    "{} {} maps to no framework control",
                    r.file.id, r.file.slug
                ));
            }
        }
        for f in &self.list {
            let mapped = self.rules_by_control(f, rules);
            for c in &f.controls {
                if c.manual.is_none() && !mapped.contains_key(&c.id) {
                    problems.push(format!(
                        "{} {}: no rule maps it and it is not marked manual",
                        f.id, c.id
                    ));
                }
            }
        }
        problems
    }

    /// A rule's mappings as `framework/control` tags, most specific
    /// framework first (controls in the order written).
    pub fn tags(&self, rule: &RuleFile) -> Vec<String> {
        let mut out = Vec::new();
        for f in &self.list {
            for c in rule.compliance.get(&f.id).into_iter().flatten() {
                out.push(format!("{}/{}", f.id, c));
            }
        }
        // cited frameworks this build does not know (a rule pack's) last
        for (fw, controls) in &rule.compliance {
            if self.get(fw).is_none() {
                out.extend(controls.iter().map(|c| format!("{fw}/{c}")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_frameworks_load() {
        let f = Frameworks::builtin().unwrap_or_else(|e| panic!("{e}"));
        assert!(f.get("owasp-cicd-top10").is_some());
        let ranks: Vec<u8> = f.list.iter().map(|f| f.specificity).collect();
        let mut sorted = ranks.clone();
        sorted.sort();
        assert_eq!(ranks, sorted);
    }

    #[test]
    fn a_framework_named_unlike_its_file_is_refused() {
        let text = "id: other\ntitle: T\nversion: '1'\nurl: https://example.com\ntexts: t\nspecificity: 1\ncontrols:\n  - {id: A-1, title: a, section: s}\n";
        let e = Frameworks::from_sources(&[("rules/frameworks/x.yaml".to_string(), text)])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("must be the file name"), "{e}");
    }
}
