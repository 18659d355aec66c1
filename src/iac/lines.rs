//! Line spans in templates: where a resource's block starts and ends, and
//! where a property inside it is. YAML is scanned by indentation (block
//! style, as templates are written; comments, block scalars and short-form
//! tags such as `!Ref` are skipped over); JSON is parsed into a tree of
//! keyed nodes with their first and last lines.

/// Lines `start..=end`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// One significant YAML line: its number, indentation and key.
struct YamlLine {
    number: usize,
    indent: usize,
    /// The indentation of the key after any `- ` sequence markers.
    key_indent: usize,
    key: Option<String>,
}

pub(crate) fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// The key of a mapping entry `key: value` (or `key:`), and what follows the colon.
pub(crate) fn split_key(content: &str) -> Option<(String, &str)> {
    let bytes = content.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if (b == b'"' || b == b'\'') && i == 0 => quote = Some(b),
            None if b == b'#' && i > 0 && bytes[i - 1] == b' ' => return None,
            None if b == b':' => {
                let next = bytes.get(i + 1);
                if next.is_none() || next == Some(&b' ') || next == Some(&b'\t') {
                    let key = unquote(&content[..i]).to_string();
                    if key.is_empty() || key.starts_with(['{', '[', '!', '&', '*']) {
                        return None;
                    }
                    return Some((key, content[i + 1..].trim()));
                }
            }
            None => {}
        }
    }
    None
}

pub(crate) fn is_block_scalar(rest: &str) -> bool {
    let v = rest.split(" #").next().unwrap_or("").trim();
    // `|`, `>-`, `|+2`, also after a tag (`!Sub |`)
    let v = match v.strip_prefix('!') {
        Some(tagged) => tagged.split_once(' ').map(|(_, x)| x.trim()).unwrap_or(""),
        None => v,
    };
    v.starts_with('|') || v.starts_with('>')
}

/// The significant lines of a YAML text: no blank lines, comments, document
/// markers or block-scalar contents.
fn yaml_lines(text: &str) -> Vec<YamlLine> {
    let mut out: Vec<YamlLine> = Vec::new();
    let mut scalar_parent: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        let indent = raw.len() - trimmed.len();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(parent) = scalar_parent {
            if indent > parent {
                continue;
            }
            scalar_parent = None;
        }
        if trimmed.starts_with('#') || trimmed.starts_with("---") || trimmed.starts_with("...") {
            continue;
        }
        let mut content = trimmed;
        let mut key_indent = indent;
        while let Some(after) = content.strip_prefix("- ") {
            let stripped = after.trim_start();
            key_indent += content.len() - stripped.len();
            content = stripped;
        }
        let (key, rest) = match split_key(content) {
            Some((k, rest)) => (Some(k), rest),
            None => (None, content),
        };
        if is_block_scalar(rest) {
            scalar_parent = Some(indent);
        }
        out.push(YamlLine {
            number: i + 1,
            indent,
            key_indent,
            key,
        });
    }
    out
}

/// The span of the entry at `idx`: its line through the last line nested under it.
fn yaml_entry_span(lines: &[YamlLine], idx: usize, text_end: Option<usize>) -> Span {
    let own = lines[idx].key_indent;
    let mut end = lines[idx].number;
    for l in &lines[idx + 1..] {
        if l.indent <= own {
            break;
        }
        end = l.number;
    }
    // a block scalar's contents are not in `lines`: extend over them
    if let Some(limit) = text_end {
        end = end.max(lines[idx].number).min(limit);
    }
    Span {
        start: lines[idx].number,
        end,
    }
}

/// The last line of a block scalar or nested content that follows `span`
/// and belongs to it (the scanner skipped those lines).
fn extend_over_skipped(text: &str, span: Span, indent: usize) -> Span {
    let mut end = span.end;
    for (i, raw) in text.lines().enumerate().skip(span.end) {
        let trimmed = raw.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if raw.len() - trimmed.len() <= indent {
            break;
        }
        end = i + 1;
    }
    Span {
        start: span.start,
        end,
    }
}

/// The block of `Resources.<logical_id>` in a YAML template.
pub fn yaml_resource(text: &str, logical_id: &str) -> Option<Span> {
    let lines = yaml_lines(text);
    let top = lines
        .iter()
        .position(|l| l.indent == 0 && l.key.as_deref() == Some("Resources"))?;
    let child_indent = lines.get(top + 1).filter(|l| l.indent > 0)?.indent;
    for (i, l) in lines.iter().enumerate().skip(top + 1) {
        if l.indent < child_indent {
            break;
        }
        if l.indent == child_indent && l.key.as_deref() == Some(logical_id) {
            let span = yaml_entry_span(&lines, i, None);
            return Some(extend_over_skipped(text, span, child_indent));
        }
    }
    None
}

/// The first entry `property:` inside `block` of a YAML text (at any depth,
/// in sequences too), with what is nested under it.
pub fn yaml_property(text: &str, block: Span, property: &str) -> Option<Span> {
    let lines = yaml_lines(text);
    let i = lines.iter().position(|l| {
        l.number > block.start && l.number <= block.end && l.key.as_deref() == Some(property)
    })?;
    let span = yaml_entry_span(&lines, i, Some(block.end));
    let span = extend_over_skipped(text, span, lines[i].key_indent);
    Some(Span {
        start: span.start,
        end: span.end.min(block.end),
    })
}

/// A JSON value with the key it is under and its lines.
#[derive(Debug)]
pub struct JsonNode {
    pub key: Option<String>,
    /// The line of the key (or of the value, in an array).
    pub start: usize,
    pub end: usize,
    pub children: Vec<JsonNode>,
}

struct JsonScan<'a> {
    b: &'a [u8],
    pos: usize,
    line: usize,
}

impl JsonScan<'_> {
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Option<String> {
        if self.b.get(self.pos) != Some(&b'"') {
            return None;
        }
        self.pos += 1;
        let start = self.pos;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'\\' => self.pos += 2,
                b'"' => {
                    let raw = std::str::from_utf8(&self.b[start..self.pos]).ok()?;
                    self.pos += 1;
                    // keys of templates need no unescaping beyond this
                    return Some(raw.replace("\\\"", "\"").replace("\\\\", "\\"));
                }
                b'\n' => return None,
                _ => self.pos += 1,
            }
        }
        None
    }

    fn value(&mut self, key: Option<String>, start: usize, depth: usize) -> Option<JsonNode> {
        if depth > 256 {
            return None;
        }
        self.ws();
        let mut node = JsonNode {
            key,
            start,
            end: self.line,
            children: Vec::new(),
        };
        match self.b.get(self.pos)? {
            b'{' => {
                self.pos += 1;
                loop {
                    self.ws();
                    if self.b.get(self.pos) == Some(&b'}') {
                        self.pos += 1;
                        break;
                    }
                    let line = self.line;
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.pos) != Some(&b':') {
                        return None;
                    }
                    self.pos += 1;
                    node.children.push(self.value(Some(k), line, depth + 1)?);
                    self.ws();
                    match self.b.get(self.pos)? {
                        b',' => self.pos += 1,
                        b'}' => {
                            self.pos += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                loop {
                    self.ws();
                    if self.b.get(self.pos) == Some(&b']') {
                        self.pos += 1;
                        break;
                    }
                    let line = self.line;
                    node.children.push(self.value(None, line, depth + 1)?);
                    self.ws();
                    match self.b.get(self.pos)? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => {
                self.string()?;
            }
            _ => {
                while let Some(&c) = self.b.get(self.pos) {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.pos += 1;
                }
            }
        }
        node.end = self.line;
        Some(node)
    }
}

/// The tree of a JSON text, or None when it is not JSON.
pub fn json_tree(text: &str) -> Option<JsonNode> {
    let mut s = JsonScan {
        b: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    s.ws();
    let start = s.line;
    s.value(None, start, 0)
}

/// The node of `Resources.<logical_id>` in a JSON template.
pub fn json_resource(tree: &JsonNode, logical_id: &str) -> Option<Span> {
    let resources = tree
        .children
        .iter()
        .find(|c| c.key.as_deref() == Some("Resources"))?;
    let r = resources
        .children
        .iter()
        .find(|c| c.key.as_deref() == Some(logical_id))?;
    Some(Span {
        start: r.start,
        end: r.end,
    })
}

fn find_key<'a>(n: &'a JsonNode, key: &str) -> Option<&'a JsonNode> {
    n.children.iter().find_map(|c| {
        if c.key.as_deref() == Some(key) {
            Some(c)
        } else {
            find_key(c, key)
        }
    })
}

/// The first `"property":` inside the resource `logical_id` (at any depth).
pub fn json_property(tree: &JsonNode, logical_id: &str, property: &str) -> Option<Span> {
    let resources = tree
        .children
        .iter()
        .find(|c| c.key.as_deref() == Some("Resources"))?;
    let r = resources
        .children
        .iter()
        .find(|c| c.key.as_deref() == Some(logical_id))?;
    let p = find_key(r, property)?;
    Some(Span {
        start: p.start,
        end: p.end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
AWSTemplateFormatVersion: '2010-09-09'
# a comment
Description: |
  Resources:
    Fake: not here
Resources:
  # the key
  ArtifactKey:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: false   # off
      KeyPolicy: !Sub |
        EnableKeyRotation: inside a scalar
      Tags:
        - Key: a
          Value: !Ref AWS::StackName

  Project:
    Type: AWS::CodeBuild::Project
    Properties:
      Environment:
        PrivilegedMode: true
        Image: !GetAtt Repo.Uri
Outputs:
  KeyArn:
    Value: !GetAtt ArtifactKey.Arn
";

    #[test]
    fn yaml_resource_blocks_and_properties() {
        let key = yaml_resource(YAML, "ArtifactKey");
        assert_eq!(key, Some(Span { start: 8, end: 16 }));
        let project = yaml_resource(YAML, "Project");
        assert_eq!(project, Some(Span { start: 18, end: 23 }));
        assert_eq!(yaml_resource(YAML, "Fake"), None);
        assert_eq!(yaml_resource(YAML, "KeyArn"), None);
        let key = key.unwrap_or(Span { start: 0, end: 0 });
        assert_eq!(
            yaml_property(YAML, key, "EnableKeyRotation"),
            Some(Span { start: 11, end: 11 })
        );
        assert_eq!(
            yaml_property(YAML, key, "KeyPolicy"),
            Some(Span { start: 12, end: 13 })
        );
        assert_eq!(
            yaml_property(YAML, key, "Value"),
            Some(Span { start: 16, end: 16 })
        );
        let project = project.unwrap_or(Span { start: 0, end: 0 });
        assert_eq!(
            yaml_property(YAML, project, "PrivilegedMode"),
            Some(Span { start: 22, end: 22 })
        );
        assert_eq!(yaml_property(YAML, project, "EnableKeyRotation"), None);
    }

    #[test]
    fn json_resource_blocks_and_properties() {
        let text = "{\n  \"Resources\": {\n    \"Key\": {\n      \"Type\": \"AWS::KMS::Key\",\n      \"Properties\": {\"EnableKeyRotation\": false}\n    },\n    \"Rule\": {\n      \"Type\": \"AWS::Events::Rule\",\n      \"Properties\": {\n        \"State\": \"DISABLED\"\n      }\n    }\n  }\n}\n";
        let tree = json_tree(text);
        let Some(tree) = tree else {
            panic!("not parsed")
        };
        assert_eq!(json_resource(&tree, "Key"), Some(Span { start: 3, end: 6 }));
        assert_eq!(
            json_resource(&tree, "Rule"),
            Some(Span { start: 7, end: 12 })
        );
        assert_eq!(
            json_property(&tree, "Key", "EnableKeyRotation"),
            Some(Span { start: 5, end: 5 })
        );
        assert_eq!(
            json_property(&tree, "Rule", "State"),
            Some(Span { start: 10, end: 10 })
        );
        assert!(json_tree("{\"a\": ").is_none());
    }
}
