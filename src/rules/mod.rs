//! The rule engine. A rule is one YAML file under `rules/<area>/<slug>.yaml`
//! (embedded at build time; `--rules DIR` adds more). Its condition is a CEL
//! expression evaluated once per pipeline (or once per item of `for_each`)
//! with the pipeline's resolved graph bound as variables; domain helpers
//! written in Rust are exposed as CEL functions. Rules know nothing of the
//! network: they read a [`Snapshot`](crate::model::Snapshot).

pub mod account_index;
mod compiled;
pub mod config;
pub mod engine;
pub mod frameworks;
pub mod functions;
mod load;
pub mod reads;
pub mod syntax;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};

use crate::findings::{FixRef, FixSafety, Severity};
use compiled::Compiled;
pub use load::MessageError;
use reads::Reads;

/// The rule files compiled into the binary, deflated by `build.rs`: records
/// of (path under `rules/`, text), each a little-endian u32 length and bytes.
const EMBEDDED_BLOB: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/embedded_rules.bin"));

/// The rule files compiled into the binary: (path under `rules/`, text),
/// inflated once per process.
fn embedded() -> &'static [(String, String)] {
    static FILES: std::sync::OnceLock<Vec<(String, String)>> = std::sync::OnceLock::new();
    FILES.get_or_init(|| unpack(EMBEDDED_BLOB).unwrap_or_default())
}

/// The records of a blob `build.rs` wrote; `None` when it is not one (it
/// always is: the build wrote it; a test keeps the two sides together).
fn unpack(blob: &[u8]) -> Option<Vec<(String, String)>> {
    let bytes = miniz_oxide::inflate::decompress_to_vec(blob).ok()?;
    let mut rest = bytes.as_slice();
    let mut next = || -> Option<String> {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
        let (part, tail) = (tail.get(..len)?, tail.get(len..)?);
        rest = tail;
        String::from_utf8(part.to_vec()).ok()
    };
    let mut files = Vec::new();
    let count = bytes.len();
    let mut read = 0;
    while read < count {
        let (path, text) = (next()?, next()?);
        read += 8 + path.len() + text.len();
        files.push((path, text));
    }
    Some(files)
}

/// Variables a condition may use (`item` aside, set only under `for_each`).
pub const VARIABLES: &[&str] = compiled::GLOBALS.split_at(compiled::ITEM).0;

/// The documentation sections of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDocs {
    pub what: String,
    pub why: String,
    pub remediation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix_safety: Option<String>,
}

/// A rule file as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub id: String,
    pub slug: String,
    pub title: String,
    pub severity: Severity,
    /// CloudFormation type of the resource a finding points at.
    pub resource_type: String,
    /// Optional CEL expression giving a list; the condition is evaluated for each `item`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_each: Option<String>,
    pub condition: String,
    /// CEL expression giving the resource ARN of a finding.
    pub resource: String,
    /// Message template; `{{ expr }}` parts are CEL expressions.
    pub message: String,
    pub docs: RuleDocs,
    #[serde(default)]
    pub references: Vec<String>,
    /// The framework controls the rule tests: framework id to control ids
    /// (see `rules/frameworks/`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub compliance: BTreeMap<String, Vec<String>>,
    /// The `pipeaudit.toml` setting without which the rule checks nothing
    /// (`require_approval` for PL005): a compliance report counts its
    /// controls as not checked while the setting is unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_config: Option<String>,
    /// The remediation action, or absent when there is none. The file names
    /// only the action (`fix: {action: key-rotation}`); its safety is the
    /// action's, from [`crate::remediate::registry`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "fix_from_rule_file"
    )]
    pub fix: Option<FixRef>,
    /// `false` for a rule that runs only when the configuration enables it
    /// (`[rules.<id or slug>] enabled = true`).
    #[serde(default = "enabled_default", skip_serializing_if = "is_enabled")]
    pub enabled: bool,
    /// The parameters the rule takes besides `enabled`, by name, each with
    /// what it means and its default (shown by `rules explain`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
    /// The property that causes a finding, per infrastructure-as-code
    /// language: a located finding points at its lines when it is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iac: Option<IacProperty>,
    /// Where the rule is evaluated: per pipeline (the default) or once per
    /// account over the account-level variables.
    #[serde(default, skip_serializing_if = "Scope::is_pipeline")]
    pub scope: Scope,
    /// Another severity for the findings where a further condition holds
    /// (higher where the state is worse, or lower where a control makes up
    /// for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate: Option<Escalate>,
}

/// Where a rule is evaluated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Once per pipeline (or per `item` of `for_each` within it).
    #[default]
    Pipeline,
    /// Once per account (or per `item` of `for_each`): findings sit on a
    /// build project or a region, under the report's account section.
    Account,
}

impl Scope {
    fn is_pipeline(&self) -> bool {
        *self == Scope::Pipeline
    }
}

/// `escalate: {severity: critical, when: '<CEL>'}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escalate {
    pub severity: Severity,
    pub when: String,
}

/// A loaded [`Escalate`].
#[derive(Clone)]
pub struct Escalation {
    pub severity: Severity,
    pub when: Expression,
}

fn enabled_default() -> bool {
    true
}

fn is_enabled(enabled: &bool) -> bool {
    *enabled
}

/// `iac: {cloudformation: EnableKeyRotation, terraform: enable_key_rotation}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IacProperty {
    /// The property's name in a CloudFormation template (also CDK output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudformation: Option<String>,
    /// The argument's name in a Terraform resource block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform: Option<String>,
}

/// `fix:` as written in a rule file, resolved against the registry.
struct FixFromFile(FixRef);

impl<'de> Deserialize<'de> for FixFromFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FixVisitor)
    }
}

struct FixVisitor;

impl<'de> serde::de::Visitor<'de> for FixVisitor {
    type Value = FixFromFile;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a mapping with `action`")
    }

    // The checks run inside the mapping so that an error carries its line.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<FixFromFile, A::Error> {
        use serde::de::Error;
        let (mut action, mut safety): (Option<String>, Option<FixSafety>) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "action" => action = Some(map.next_value()?),
                "safety" => safety = Some(map.next_value()?),
                other => return Err(A::Error::unknown_field(other, &["action", "safety"])),
            }
        }
        let action = action.ok_or_else(|| A::Error::missing_field("action"))?;
        let Some(registered) = crate::remediate::registry::find(&action) else {
            return Err(A::Error::custom(format!(
                "fix action {action:?} does not exist (known: {})",
                crate::remediate::registry::ids().join(", ")
            )));
        };
        if let Some(declared) = safety
            && declared != registered.safety()
        {
            return Err(A::Error::custom(format!(
                "fix safety {declared} disagrees with action {action}, which is {}; leave safety out (the action states it)",
                registered.safety()
            )));
        }
        Ok(FixFromFile(FixRef {
            action,
            safety: registered.safety(),
            changes: Vec::new(),
        }))
    }
}

/// Reads `fix:`: it names a registered action and the safety is the
/// action's; a `safety:` left in the file must agree with it.
fn fix_from_rule_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FixRef>, D::Error> {
    Ok(Option::<FixFromFile>::deserialize(d)?.map(|f| f.0))
}

/// A message template split into literal text and compiled expressions.
#[derive(Clone)]
pub enum MessagePart {
    Text(String),
    Expr(String, Expression),
}

/// A rule expression as loaded: the program the `cel` interpreter runs
/// (the reference: its result and errors are the answer), the compiled
/// form of the fast path (`None` when it uses something the fast path does
/// not know), and what it reads; all made once, at load.
#[derive(Clone)]
pub struct Expression {
    pub program: Arc<cel::Program>,
    compiled: Option<Arc<Compiled>>,
    pub reads: Reads,
}

impl Expression {
    fn new(program: cel::Program) -> Expression {
        Expression {
            compiled: Compiled::new(&program).map(Arc::new),
            reads: Reads::of(program.expression()),
            program: Arc::new(program),
        }
    }

    /// The compiled form, when there is one.
    fn compiled(&self) -> Option<&Compiled> {
        self.compiled.as_deref()
    }
}

/// A loaded, validated, compiled rule.
#[derive(Clone)]
pub struct Rule {
    pub file: RuleFile,
    /// Where it came from (for messages).
    pub origin: String,
    pub for_each: Option<Expression>,
    pub condition: Expression,
    pub resource: Expression,
    pub message: Vec<MessagePart>,
    /// Names in the condition, to name the values a rule needed.
    pub mentions: Vec<String>,
    /// What all its expressions read.
    pub reads: Reads,
    /// The loaded `escalate`, if any.
    pub escalate: Option<Escalation>,
}

impl Rule {
    /// Its expressions: `for_each`, condition, resource, then those of the message.
    pub fn expressions(&self) -> impl Iterator<Item = &Expression> {
        self.for_each
            .iter()
            .chain([&self.condition, &self.resource])
            .chain(self.message.iter().filter_map(|part| match part {
                MessagePart::Expr(_, e) => Some(e),
                MessagePart::Text(_) => None,
            }))
            .chain(self.escalate.iter().map(|e| &e.when))
    }

    /// The area: the id's letters (`KM` for `KM003`).
    pub fn area(&self) -> &str {
        self.file.id.trim_end_matches(|c: char| c.is_ascii_digit())
    }
}

/// A loading problem, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub origin: String,
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.origin, l, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// All problems found while loading rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadErrors(pub Vec<LoadError>);

impl std::fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} problem(s) in the rules:", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// The loaded rules, sorted by id.
#[derive(Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

#[cfg(test)]
mod embedding_tests {
    use std::path::{Path, PathBuf};

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }

    /// The deflated blob holds every rule file under `rules/` as `--rules`
    /// would read it, path and text, in path order.
    #[test]
    fn embedded_rules_are_the_rule_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut on_disk = Vec::new();
        files(&root, &mut on_disk);
        on_disk.sort();
        let expected: Vec<(String, String)> = on_disk
            .iter()
            .map(|p| {
                let rel = p.strip_prefix(&root).expect("under rules/");
                let text = std::fs::read_to_string(p).expect("readable");
                (rel.to_string_lossy().replace('\\', "/"), text)
            })
            .collect();
        assert!(expected.len() > 50, "{} rule files", expected.len());
        assert_eq!(super::embedded(), expected.as_slice());
        // Stored compressed: well under the texts' size.
        let plain: usize = expected.iter().map(|(p, t)| p.len() + t.len()).sum();
        assert!(super::EMBEDDED_BLOB.len() * 3 < plain);
    }

    #[test]
    fn a_blob_that_is_not_one_is_refused() {
        assert_eq!(super::unpack(b"not deflate"), None);
        let truncated = miniz_oxide::deflate::compress_to_vec(&[9, 0, 0, 0, b'a'], 6);
        assert_eq!(super::unpack(&truncated), None);
    }
}
