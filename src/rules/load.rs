//! Loading rules: the rule files read (embedded, or a `--rules`
//! directory), checked field by field, and their conditions and message
//! expressions compiled.

use super::*;

fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.starts_with(&format!("{key}:")))
        .map(|i| i + 1)
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && s.contains('-')
}

fn is_id(s: &str) -> bool {
    let letters = s.chars().take_while(|c| c.is_ascii_uppercase()).count();
    letters == 2 && s.len() == 5 && s[2..].chars().all(|c| c.is_ascii_digit())
}

/// Why a rule's message template could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("unclosed {{{{ in message")]
    Unclosed,
}

/// Splits `text {{ expr }} text` into parts.
fn split_template(t: &str) -> Result<Vec<(bool, String)>, MessageError> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push((false, rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or(MessageError::Unclosed)?;
        parts.push((true, after[..end].trim().to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push((false, rest.to_string()));
    }
    Ok(parts)
}

/// CEL's standard functions and macros that rules may use.
const STANDARD_FUNCTIONS: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "string",
    "int",
    "uint",
    "double",
    "bool",
    "type",
    "max",
    "min",
    "exists",
    "all",
    "exists_one",
    "map",
    "filter",
    "lowerAscii",
    "upperAscii",
    "trim",
    "split",
    "join",
    "indexOf",
    "replace",
];

/// The variables an expression may use: `item` under `for_each`, and
/// those of the rule's scope.
#[derive(Clone, Copy)]
struct Vars {
    item: bool,
    scope: Scope,
}

struct Compiler {
    known_functions: Vec<&'static str>,
}

impl Compiler {
    fn new() -> Self {
        Compiler {
            known_functions: functions::NAMES.to_vec(),
        }
    }

    fn compile(
        &self,
        origin: &str,
        line: Option<usize>,
        field: &str,
        expr: &str,
        vars: Vars,
        errors: &mut Vec<LoadError>,
    ) -> Option<Expression> {
        let Vars { item, scope } = vars;
        let err = |message: String| LoadError {
            origin: origin.to_string(),
            line,
            message: format!("{field}: {message}"),
        };
        if let Some((at, op)) = syntax::doubled_unary(expr) {
            errors.push(err(format!(
                "`{op}{op}` at column {}: two unary `{op}` in a row are evaluated as one by the CEL interpreter; write `{op}({op}x)` or drop both",
                at + 1
            )));
            return None;
        }
        let expression = match cel::Program::compile(expr) {
            Ok(p) => Expression::new(p),
            Err(e) => {
                errors.push(err(format!(
                    "bad expression: {}",
                    syntax::parse_error_text(&e)
                )));
                return None;
            }
        };
        let reads = &expression.reads;
        if reads.presence_test {
            // has() is false for a value that could not be read: it would
            // turn "unknown" into "absent". Compare with null instead.
            errors.push(err(
                "has() is not allowed; compare with null (absent) instead".to_string(),
            ));
        }
        let variables = match scope {
            Scope::Pipeline => VARIABLES,
            Scope::Account => engine::ACCOUNT_VARIABLES,
        };
        for v in &reads.vars {
            let known = variables.contains(&v.as_str()) || (item && v == "item");
            if !known {
                errors.push(err(format!(
                    "unknown variable `{v}` (known: {}{})",
                    variables.join(", "),
                    if item { ", item" } else { "" }
                )));
            }
        }
        for f in &reads.functions {
            // operators appear as `_&&_`, `!_`, `@in`: only named functions are checked
            if f.starts_with('_') || !f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            if !STANDARD_FUNCTIONS.contains(&f.as_str())
                && !self.known_functions.contains(&f.as_str())
            {
                errors.push(err(format!("unknown function `{f}`")));
            }
        }
        Some(expression)
    }
}

/// The embedded rule files (the framework files left out).
fn embedded_rules() -> Vec<(String, String)> {
    embedded()
        .iter()
        .filter(|(p, _)| !p.starts_with(frameworks::DIR))
        .map(|(p, t)| (format!("rules/{p}"), t.clone()))
        .collect()
}

impl RuleSet {
    /// The built-in catalog.
    pub fn builtin() -> Result<RuleSet, LoadErrors> {
        let sources = embedded_rules();
        Self::from_sources(&sources)
    }

    /// The built-in catalog plus every `*.yaml` under each extra directory.
    pub fn load(extra_dirs: &[impl AsRef<Path>]) -> Result<RuleSet, LoadErrors> {
        let mut sources = embedded_rules();
        let mut errors = Vec::new();
        for dir in extra_dirs {
            collect_yaml(dir.as_ref(), &mut sources, &mut errors);
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        Self::from_sources(&sources)
    }

    /// Parses, validates and compiles rule texts; reports every problem at once.
    pub fn from_sources(sources: &[(String, String)]) -> Result<RuleSet, LoadErrors> {
        let compiler = Compiler::new();
        let mut errors = Vec::new();
        let frameworks = frameworks::Frameworks::builtin()?;
        let mut rules: Vec<Rule> = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        let mut seen_slugs: BTreeMap<String, String> = BTreeMap::new();
        for (origin, text) in sources {
            let file: RuleFile = match serde_yaml_ng::from_str(text) {
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
            let before = errors.len();
            let push = |errors: &mut Vec<LoadError>, key: &str, message: String| {
                errors.push(LoadError {
                    origin: origin.clone(),
                    line: line_of(text, key),
                    message,
                })
            };
            if !is_id(&file.id) {
                push(
                    &mut errors,
                    "id",
                    format!(
                        "id {:?} must be two capital letters and three digits",
                        file.id
                    ),
                );
            }
            if let Some(other) = seen.insert(file.id.clone(), origin.clone()) {
                push(
                    &mut errors,
                    "id",
                    format!("duplicate id {} (also in {other})", file.id),
                );
            }
            if !is_slug(&file.slug) {
                push(
                    &mut errors,
                    "slug",
                    format!("slug {:?} must be kebab-case words", file.slug),
                );
            } else if let Some(other) = seen_slugs.insert(file.slug.clone(), origin.clone()) {
                // `[rules.<slug>]` and `disabled` name rules by slug too
                push(
                    &mut errors,
                    "slug",
                    format!("duplicate slug {} (also in {other})", file.slug),
                );
            }
            if !file.resource_type.starts_with("AWS::") {
                push(
                    &mut errors,
                    "resource_type",
                    "resource_type must be a CloudFormation type name".to_string(),
                );
            }
            for (name, value) in [
                ("what", &file.docs.what),
                ("why", &file.docs.why),
                ("remediation", &file.docs.remediation),
            ] {
                if value.trim().is_empty() {
                    push(&mut errors, "docs", format!("docs.{name} is empty"));
                }
            }
            if let Some(key) = &file.requires_config
                && config::Config::default().is_set(key).is_none()
            {
                push(
                    &mut errors,
                    "requires_config",
                    format!(
                        "requires_config: {key:?} is not a setting that switches a rule on ({})",
                        config::Config::SWITCHES.join(", ")
                    ),
                );
            }
            for problem in frameworks.check_rule(&file) {
                push(&mut errors, "compliance", problem);
            }
            if file.title.trim().is_empty() {
                push(&mut errors, "title", "title is empty".to_string());
            }
            if file.fix.is_some()
                && file
                    .docs
                    .fix_safety
                    .as_deref()
                    .is_none_or(|s| s.trim().is_empty())
            {
                push(
                    &mut errors,
                    "docs",
                    "a rule with a fix needs docs.fix_safety".to_string(),
                );
            }
            let item = file.for_each.is_some();
            let for_each = file.for_each.as_ref().and_then(|e| {
                compiler.compile(
                    origin,
                    line_of(text, "for_each"),
                    "for_each",
                    e,
                    Vars {
                        item: false,
                        scope: file.scope,
                    },
                    &mut errors,
                )
            });
            let condition = compiler.compile(
                origin,
                line_of(text, "condition"),
                "condition",
                &file.condition,
                Vars {
                    item,
                    scope: file.scope,
                },
                &mut errors,
            );
            let resource = compiler.compile(
                origin,
                line_of(text, "resource"),
                "resource",
                &file.resource,
                Vars {
                    item,
                    scope: file.scope,
                },
                &mut errors,
            );
            let mut message = Vec::new();
            match split_template(&file.message) {
                Ok(parts) => {
                    for (is_expr, s) in parts {
                        if is_expr {
                            if let Some(p) = compiler.compile(
                                origin,
                                line_of(text, "message"),
                                "message",
                                &s,
                                Vars {
                                    item,
                                    scope: file.scope,
                                },
                                &mut errors,
                            ) {
                                message.push(MessagePart::Expr(s, p));
                            }
                        } else {
                            message.push(MessagePart::Text(s));
                        }
                    }
                }
                Err(e) => push(&mut errors, "message", e.to_string()),
            }
            let escalate = file.escalate.as_ref().and_then(|e| {
                compiler
                    .compile(
                        origin,
                        line_of(text, "escalate"),
                        "escalate.when",
                        &e.when,
                        Vars {
                            item,
                            scope: file.scope,
                        },
                        &mut errors,
                    )
                    .map(|when| Escalation {
                        severity: e.severity,
                        when,
                    })
            });
            if errors.len() != before {
                continue;
            }
            if let (Some(condition), Some(resource)) = (condition, resource) {
                let mentions = condition
                    .reads
                    .names
                    .iter()
                    .filter(|w| w.len() > 2)
                    .cloned()
                    .collect();
                let mut rule = Rule {
                    file,
                    origin: origin.clone(),
                    for_each,
                    condition,
                    resource,
                    message,
                    mentions,
                    reads: Reads::default(),
                    escalate,
                };
                let mut reads = Reads::default();
                for e in rule.expressions() {
                    reads.add(&e.reads);
                }
                rule.reads = reads;
                rules.push(rule);
            }
        }
        if !errors.is_empty() {
            return Err(LoadErrors(errors));
        }
        rules.sort_by(|a, b| a.file.id.cmp(&b.file.id));
        Ok(RuleSet { rules })
    }

    /// A rule by id (case-insensitive).
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.file.id.eq_ignore_ascii_case(id))
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<(String, String)>, errors: &mut Vec<LoadError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(LoadError {
                origin: dir.display().to_string(),
                line: None,
                message: format!("cannot read rules directory: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_yaml(&p, out, errors);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            match std::fs::read_to_string(&p) {
                Ok(t) => out.push((p.display().to_string(), t)),
                Err(e) => errors.push(LoadError {
                    origin: p.display().to_string(),
                    line: None,
                    message: format!("cannot read: {e}"),
                }),
            }
        }
    }
}

#[cfg(test)]
mod message_tests {
    use super::{MessageError, split_template};

    #[test]
    fn an_unclosed_expression_is_one_line() {
        assert_eq!(
            split_template("bucket {{ resource.name }} is open"),
            Ok(vec![
                (false, "bucket ".to_string()),
                (true, "resource.name".to_string()),
                (false, " is open".to_string()),
            ])
        );
        let e = split_template("bucket {{ resource.name is open");
        assert_eq!(e, Err(MessageError::Unclosed));
        assert_eq!(MessageError::Unclosed.to_string(), "unclosed {{ in message");
    }
}
