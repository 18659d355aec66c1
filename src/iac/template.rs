//! CloudFormation templates (YAML with short-form tags, or JSON, CDK output
//! included): which logical ids of which types they define, and where.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::lines::{self, JsonNode, Span};
use crate::findings::DefinedIn;
use crate::model::StackRef;

/// Files larger than this are not read as templates (CloudFormation's own
/// limit is 1 MB; synthesized ones stay well below this).
const MAX_BYTES: u64 = 4 * 1024 * 1024;
/// Directories deeper than this are not searched.
const MAX_DEPTH: usize = 16;
/// Flow collections (`[`, `{`) nested deeper than this are not parsed:
/// the YAML parser's time grows with the square of the nesting (a 200 KB
/// file of `[` took 23 s), and no template nests so deep (the JSON line
/// reader stops at 256 as well).
pub const MAX_NESTING: usize = 256;

/// The metadata key of a CDK construct path.
pub const CDK_PATH: &str = "aws:cdk:path";

/// A template and its text.
pub struct Template {
    /// Relative to the root, `/` separators.
    pub rel: String,
    text: String,
    json: Option<JsonNode>,
    /// Logical id -> type.
    pub resources: BTreeMap<String, String>,
    /// Logical id -> CDK construct path.
    pub cdk_paths: BTreeMap<String, String>,
}

/// Collects the candidate files under `dir`: `.yaml`, `.yml`, `.json`,
/// `.template` (templates) and `.tf` (Terraform), in directories not hidden and not `node_modules` or
/// `target`. Candidates over the size cap go to `skipped`, with why.
pub fn walk(
    dir: &Path,
    out: &mut BTreeSet<PathBuf>,
    skipped: &mut Vec<(PathBuf, String)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if !name.starts_with('.') && name != "node_modules" && name != "target" {
                walk(&path, out, skipped, depth + 1);
            }
        } else if kind.is_file()
            && [".yaml", ".yml", ".json", ".template", ".tf"]
                .iter()
                .any(|ext| name.ends_with(ext))
        {
            match entry.metadata() {
                Ok(m) if m.len() <= MAX_BYTES => {
                    out.insert(path);
                }
                Ok(m) => skipped.push((
                    path,
                    format!(
                        "{} bytes, over the {MAX_BYTES}-byte cap of a template",
                        m.len()
                    ),
                )),
                Err(e) => skipped.push((path, format!("cannot read: {e}"))),
            }
        }
    }
}

/// The resources of a parsed template: logical id -> (type, CDK path).
fn resources_of(doc: &serde_json::Value) -> Option<BTreeMap<String, (String, Option<String>)>> {
    let resources = doc.get("Resources")?.as_object()?;
    let mut out = BTreeMap::new();
    for (id, r) in resources {
        let ty = r.get("Type")?.as_str()?;
        let cdk = r
            .get("Metadata")
            .and_then(|m| m.get(CDK_PATH))
            .and_then(|p| p.as_str())
            .map(str::to_string);
        out.insert(id.clone(), (ty.to_string(), cdk));
    }
    (!out.is_empty()).then_some(out)
}

/// A YAML value as JSON, short-form tags (`!Ref X`) read as their
/// long forms (`{"Ref": X}`, `{"Fn::GetAtt": ...}`).
fn yaml_to_json(v: serde_yaml_ng::Value) -> serde_json::Value {
    use serde_yaml_ng::Value as Y;
    match v {
        Y::Null => serde_json::Value::Null,
        Y::Bool(b) => serde_json::Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(serde_json::Value::Null),
        Y::String(s) => serde_json::Value::String(s),
        Y::Sequence(s) => serde_json::Value::Array(s.into_iter().map(yaml_to_json).collect()),
        Y::Mapping(m) => serde_json::Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| {
                    let k = match k {
                        Y::String(s) => s,
                        Y::Bool(b) => b.to_string(),
                        Y::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Some((k, yaml_to_json(v)))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" || name == "Condition" {
                name.to_string()
            } else {
                format!("Fn::{name}")
            };
            let mut m = serde_json::Map::new();
            m.insert(key, yaml_to_json(t.value));
            serde_json::Value::Object(m)
        }
    }
}

/// The deepest nesting of flow collections (`[`, `{`) in a text, strings
/// and comments aside, counted until it passes `limit`.
pub fn flow_nesting(text: &str, limit: usize) -> usize {
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut quote: Option<u8> = None;
    let mut comment = false;
    let mut prev = b'\n';
    for &b in text.as_bytes() {
        if comment {
            comment = b != b'\n';
        } else if let Some(q) = quote {
            if b == q && prev != b'\\' {
                quote = None;
            }
        } else {
            match b {
                b'"' | b'\'' => quote = Some(b),
                b'#' if prev.is_ascii_whitespace() => comment = true,
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                    if max > limit {
                        return max;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        prev = b;
    }
    max
}

/// Parses a document: JSON when it starts with `{`, YAML otherwise; and
/// whether it was JSON.
pub fn parse(text: &str) -> Option<(serde_json::Value, bool)> {
    parse_or_why(text).ok()
}

/// Why a text is not a document.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("nests deeper than {MAX_NESTING} levels")]
    TooDeep,
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("not valid YAML: {0}")]
    Yaml(#[source] serde_yaml_ng::Error),
}

/// Why a file could not be read as a template.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read: {0}")]
    Io(#[source] std::io::Error),
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// [`parse`], saying why a text is not a document.
pub fn parse_or_why(text: &str) -> Result<(serde_json::Value, bool), ParseError> {
    if flow_nesting(text, MAX_NESTING) > MAX_NESTING {
        return Err(ParseError::TooDeep);
    }
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text)
            .map(|v| (v, true))
            .map_err(ParseError::Json)
    } else {
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(ParseError::Yaml)?;
        Ok((yaml_to_json(doc), false))
    }
}

impl Template {
    /// Reads a file as a template; None when it is not one.
    pub fn read(path: &Path, rel: String) -> Option<Template> {
        Template::read_or_why(path, rel).ok().flatten()
    }

    /// Reads a file: `Ok(None)` when it is a document but not a template
    /// (no `Resources`), `Err` with why when it could not be read or parsed.
    pub fn read_or_why(path: &Path, rel: String) -> Result<Option<Template>, ReadError> {
        let text = std::fs::read_to_string(path).map_err(ReadError::Io)?;
        parse_or_why(&text)?;
        Ok(Template::from_text(text, rel))
    }

    /// A template from its text; None when it is not one.
    pub fn from_text(text: String, rel: String) -> Option<Template> {
        let (doc, is_json) = parse(&text)?;
        let found = resources_of(&doc)?;
        // the line tree only for templates
        let json = if is_json {
            Some(lines::json_tree(&text)?)
        } else {
            None
        };
        let mut resources = BTreeMap::new();
        let mut cdk_paths = BTreeMap::new();
        for (id, (ty, cdk)) in found {
            if let Some(p) = cdk {
                cdk_paths.insert(id.clone(), p);
            }
            resources.insert(id, ty);
        }
        Some(Template {
            rel,
            text,
            json,
            resources,
            cdk_paths,
        })
    }

    /// The block of a logical id.
    pub fn block(&self, logical_id: &str) -> Option<Span> {
        match &self.json {
            Some(tree) => lines::json_resource(tree, logical_id),
            None => lines::yaml_resource(&self.text, logical_id),
        }
    }

    /// The lines of a property inside a logical id's block.
    pub fn property(&self, logical_id: &str, property: &str) -> Option<Span> {
        match &self.json {
            Some(tree) => lines::json_property(tree, logical_id, property),
            None => {
                let block = lines::yaml_resource(&self.text, logical_id)?;
                lines::yaml_property(&self.text, block, property)
            }
        }
    }

    /// Where a stack's resource is: its property's lines when the property
    /// is given and written, else its block (line 1 if the block cannot be
    /// found in text the parser read, as in a flow-style template).
    pub fn locate(&self, s: &StackRef, property: Option<&str>) -> Option<DefinedIn> {
        self.resources.get(&s.logical_id)?;
        let prop = property.and_then(|p| self.property(&s.logical_id, p).map(|sp| (p, sp)));
        let (span, property) = match prop {
            Some((p, sp)) => (sp, Some(p.to_string())),
            None => (
                self.block(&s.logical_id)
                    .unwrap_or(Span { start: 1, end: 1 }),
                None,
            ),
        };
        let resource = match self.cdk_paths.get(&s.logical_id) {
            Some(path) => format!("{} ({path})", s.logical_id),
            None => s.logical_id.clone(),
        };
        Some(DefinedIn {
            file: self.rel.clone(),
            start_line: span.start,
            end_line: span.end.max(span.start),
            stack: Some(s.stack.clone()),
            resource,
            property,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_parse_and_resources_are_typed() {
        let text = "Resources:\n  Key:\n    Type: AWS::KMS::Key\n    Properties:\n      Description: !Sub '${AWS::StackName} key'\n      KeyPolicy:\n        Statement:\n          - Principal: {AWS: !GetAtt Role.Arn}\n            Resource: !Ref AWS::NoValue\n  Role:\n    Type: AWS::IAM::Role\n    Metadata:\n      aws:cdk:path: App/Role/Resource\n";
        let t = Template::from_text(text.to_string(), "t.yaml".into());
        let Some(t) = t else { panic!("not a template") };
        assert_eq!(
            t.resources.get("Key").map(String::as_str),
            Some("AWS::KMS::Key")
        );
        assert_eq!(
            t.cdk_paths.get("Role").map(String::as_str),
            Some("App/Role/Resource")
        );
        assert!(Template::from_text("a: 1\n".into(), "x.yaml".into()).is_none());
        assert!(Template::from_text("{\"a\": 1}".into(), "x.json".into()).is_none());
    }
}
