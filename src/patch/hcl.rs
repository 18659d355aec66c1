//! Minimal edits to Terraform configuration (HCL) text, the way [`super::yaml`]
//! edits CloudFormation: an attribute written as a literal on one line has
//! its value replaced on that line (its comment kept); a missing attribute
//! or nested block is inserted before the closing brace of its block, in
//! the indentation of the lines around it; a new resource block is added
//! after another. Nothing else changes, byte for byte.
//!
//! An attribute written as an expression (`var.rotate`, a conditional, a
//! function call) or over several lines is not edited: the value it should
//! have is where the expression comes from, which a person decides.

use serde_json::Value;

use super::{Refused, newline};
use crate::iac::lines::Span;
use crate::iac::terraform::code_of;

/// What to write as an attribute's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Hcl {
    /// A literal: a boolean, number, string or a list of them.
    Lit(Value),
    /// A reference written as it is (`aws_s3_bucket.artifacts.id`).
    Expr(String),
}

impl Hcl {
    /// The value as HCL text (`None`: no literal form, such as an object).
    pub fn render(&self) -> Option<String> {
        match self {
            Hcl::Expr(e) => Some(e.clone()),
            Hcl::Lit(v) => literal(v),
        }
    }
}

fn literal(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => {
            let mut out = String::from("\"");
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    // a template sequence is written doubled to stay literal
                    '$' | '%' if chars.peek() == Some(&'{') => {
                        out.push(c);
                        out.push(c);
                    }
                    c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            Some(out)
        }
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(literal).collect();
            Some(format!("[{}]", parts?.join(", ")))
        }
        _ => None,
    }
}

/// Whether a value's text (one line, comment removed) is a literal that can
/// be replaced: a boolean, number, null, a string with no template
/// sequence, or a one-line list of those.
fn is_literal(text: &str) -> bool {
    let t = text.trim();
    if t == "true" || t == "false" || t == "null" {
        return true;
    }
    if t.parse::<f64>().is_ok() {
        return true;
    }
    if let Some(inner) = t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return !inner.contains("${") && !inner.contains("%{") && !unescaped_quote(inner);
    }
    if let Some(inner) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return split_items(inner)
            .iter()
            .all(|i| i.trim().is_empty() || is_literal(i));
    }
    false
}

fn unescaped_quote(s: &str) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return true,
            _ => escaped = false,
        }
    }
    false
}

/// The items of a list's inside, split at the commas outside strings.
fn split_items(inner: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut in_str, mut escaped) = (false, false);
    for c in inner.chars() {
        if in_str {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_str = false,
                _ => escaped = false,
            }
        } else if c == '"' {
            in_str = true;
        } else if c == ',' {
            out.push(String::new());
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// The byte offset where a line's value ends: before a comment outside
/// strings and before trailing blanks and the line ending.
fn value_end(line: &str, from: usize) -> usize {
    let bytes = line.as_bytes();
    let (mut in_str, mut escaped) = (false, false);
    let mut end = line.len();
    let mut i = from;
    while i < bytes.len() {
        let c = bytes[i];
        if in_str {
            match c {
                b'\\' if !escaped => escaped = true,
                b'"' if !escaped => in_str = false,
                _ => escaped = false,
            }
        } else if c == b'"' {
            in_str = true;
        } else if c == b'#' || (c == b'/' && matches!(bytes.get(i + 1), Some(b'/') | Some(b'*'))) {
            end = i;
            break;
        }
        i += 1;
    }
    line[..end].trim_end().len().max(from)
}

fn indent_of(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// The braces, brackets and parentheses a line of code opens (negative:
/// closes).
fn depth_change(code: &str) -> i64 {
    code.chars()
        .map(|c| match c {
            '{' | '[' | '(' => 1,
            '}' | ']' | ')' => -1,
            _ => 0,
        })
        .sum()
}

/// The lines of a text with their endings.
fn lines_of(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// What a body line at depth 1 starts: an attribute `name = ...` or a block
/// `name {` (`dynamic "name" {` counts as the block, to be refused).
enum Found {
    Attribute(usize),
    Block(usize, usize),
    Dynamic,
}

/// Finds `name` directly in the block whose header is line `open` and
/// closing brace line `close` (0-based indexes into `lines`).
fn find(lines: &[&str], open: usize, close: usize, name: &str) -> Option<Found> {
    let mut depth: i64 = 1;
    let mut in_comment = false;
    let mut heredoc: Option<String> = None;
    let mut i = open + 1;
    while i < close {
        let raw = lines[i];
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
            }
            i += 1;
            continue;
        }
        let code = code_of(raw.trim_end_matches(['\n', '\r']), &mut in_comment);
        if depth == 1 {
            let t = code.trim_start();
            if let Some(rest) = t.strip_prefix(name)
                && !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                let rest = rest.trim_start();
                if rest.starts_with('=') && !rest.starts_with("==") {
                    return Some(Found::Attribute(i));
                }
                if rest.starts_with('{') {
                    // the nested block's last line
                    let mut d = depth_change(&code);
                    let mut j = i;
                    let mut c2 = false;
                    while d > 0 && j + 1 < close {
                        j += 1;
                        d += depth_change(&code_of(
                            lines[j].trim_end_matches(['\n', '\r']),
                            &mut c2,
                        ));
                    }
                    return Some(Found::Block(i, j));
                }
            }
            if let Some(rest) = raw.trim_start().strip_prefix("dynamic")
                && rest.trim_start().starts_with(&format!("\"{name}\""))
            {
                return Some(Found::Dynamic);
            }
        }
        if let Some(pos) = code.find("<<") {
            let marker: String = code[pos + 2..]
                .trim_start_matches('-')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !marker.is_empty() {
                heredoc = Some(marker);
            }
        }
        depth += depth_change(&code);
        i += 1;
    }
    None
}

/// The indentation of the body of a block (`open`..`close`): that of its
/// first line, else the closing brace's plus two spaces.
fn body_indent(lines: &[&str], open: usize, close: usize) -> String {
    let closing = indent_of(lines[close]).to_string();
    lines[open + 1..close]
        .iter()
        .find(|l| !l.trim().is_empty())
        .map(|l| indent_of(l).to_string())
        .filter(|i| i.len() > closing.len())
        .unwrap_or_else(|| format!("{closing}  "))
}

/// The `=` column of an attribute line (`  name   = x`), if it is one.
fn equals_column(line: &str) -> Option<usize> {
    let t = line.trim_start();
    let name_len = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(t.len());
    if name_len == 0 {
        return None;
    }
    let after = &t[name_len..];
    let rest = after.trim_start();
    if rest.starts_with('=') && !rest.starts_with("==") {
        Some(line.len() - t.len() + name_len + (after.len() - rest.len()))
    } else {
        None
    }
}

/// The lines that write `path` (blocks, then the attribute) set to `value`,
/// at indentation `indent`, for a block that has none of it.
fn written(path: &[&str], value: &str, indent: &str, unit: &str, nl: &str) -> String {
    match path {
        [] => String::new(),
        [attr] => format!("{indent}{attr} = {value}{nl}"),
        [block, rest @ ..] => format!(
            "{indent}{block} {{{nl}{}{indent}}}{nl}",
            written(rest, value, &format!("{indent}{unit}"), unit, nl)
        ),
    }
}

/// Sets `path` (nested block names, then an attribute) to `value` in the
/// block on lines `span` (1-based, the header through the closing brace).
pub fn set(text: &str, span: Span, path: &[&str], value: &Hcl) -> Result<String, Refused> {
    let rendered = value
        .render()
        .ok_or_else(|| "the value has no literal form in HCL".to_string())?;
    let lines = lines_of(text);
    if span.start == 0 || span.end > lines.len() || span.start >= span.end {
        return Err("the block is written on one line".to_string());
    }
    let nl = newline(text);
    let (mut open, mut close) = (span.start - 1, span.end - 1);
    let header_code = code_of(lines[open].trim_end_matches(['\n', '\r']), &mut false);
    if !header_code.trim_end().ends_with('{') {
        return Err("the block's first line holds more than its header".to_string());
    }
    let unit = {
        let b = body_indent(&lines, open, close);
        b.strip_prefix(indent_of(lines[open]))
            .filter(|u| !u.is_empty())
            .unwrap_or("  ")
            .to_string()
    };
    for (k, name) in path.iter().enumerate() {
        let last = k + 1 == path.len();
        match find(&lines, open, close, name) {
            Some(Found::Dynamic) => {
                return Err(format!(
                    "{name} is a dynamic block: its content is generated from an expression"
                ));
            }
            Some(Found::Attribute(i)) if last => {
                let raw = lines[i];
                let eq = raw
                    .find('=')
                    .ok_or_else(|| format!("{name}: no value on its line"))?;
                let code = code_of(raw.trim_end_matches(['\n', '\r']), &mut false);
                if depth_change(&code) != 0 {
                    return Err(format!("{name} is written over several lines"));
                }
                let start = eq + 1 + (raw[eq + 1..].len() - raw[eq + 1..].trim_start().len());
                let end = value_end(raw, start);
                let old = &raw[start..end];
                if !is_literal(old) {
                    let shown: String = old.chars().take(60).collect();
                    return Err(format!(
                        "{name} is written as an expression ({shown}), not a value: set it to {rendered} where that value comes from"
                    ));
                }
                if old == rendered {
                    return Ok(text.to_string());
                }
                let mut out = String::with_capacity(text.len() + rendered.len());
                for (j, l) in lines.iter().enumerate() {
                    if j == i {
                        out.push_str(&raw[..start]);
                        out.push_str(&rendered);
                        out.push_str(&raw[end..]);
                    } else {
                        out.push_str(l);
                    }
                }
                return Ok(out);
            }
            Some(Found::Attribute(_)) => {
                return Err(format!(
                    "{name} is written as an attribute (a map or an expression), not as a block"
                ));
            }
            Some(Found::Block(_, _)) if last => {
                return Err(format!("{name} is a block, not an attribute"));
            }
            Some(Found::Block(a, b)) => {
                if a == b {
                    return Err(format!("{name} is written on one line"));
                }
                open = a;
                close = b;
            }
            None => {
                let indent = body_indent(&lines, open, close);
                let mut insert = written(&path[k..], &rendered, &indent, &unit, nl);
                // `=` aligned with the attribute above, or a group of its own
                let above = lines[close - 1];
                if last && let Some(col) = equals_column(above.trim_end_matches(['\n', '\r'])) {
                    let width = indent.len() + name.len();
                    if width < col {
                        insert = format!(
                            "{indent}{name}{} = {rendered}{nl}",
                            " ".repeat(col - width - 1)
                        );
                    } else {
                        insert = format!("{nl}{insert}");
                    }
                }
                let mut out = String::with_capacity(text.len() + insert.len());
                for (j, l) in lines.iter().enumerate() {
                    if j == close {
                        if !out.is_empty() && !out.ends_with('\n') {
                            out.push_str(nl);
                        }
                        out.push_str(&insert);
                    }
                    out.push_str(l);
                }
                return Ok(out);
            }
        }
    }
    Ok(text.to_string())
}

/// A new block (`resource "TYPE" "NAME" { ... }`) written after the line
/// `after` (1-based: the closing brace of the block it belongs beside),
/// separated by one blank line. `body` is (path, value) pairs in order.
pub fn add_block(
    text: &str,
    after: usize,
    header: &str,
    body: &[(Vec<&str>, Hcl)],
) -> Result<String, Refused> {
    let lines = lines_of(text);
    if after == 0 || after > lines.len() {
        return Err("the block to follow is not in the file".to_string());
    }
    let nl = newline(text);
    let indent = indent_of(lines[after - 1]).to_string();
    let mut block = format!("{nl}{indent}{header} {{{nl}");
    let inner = format!("{indent}  ");
    // consecutive attributes aligned on `=`, as `terraform fmt` does
    let width = body
        .iter()
        .filter(|(p, _)| p.len() == 1)
        .map(|(p, _)| p[0].len())
        .max()
        .unwrap_or(0);
    for (path, value) in body {
        let v = value
            .render()
            .ok_or_else(|| "the value has no literal form in HCL".to_string())?;
        if let [attr] = path.as_slice() {
            block.push_str(&format!(
                "{inner}{attr}{} = {v}{nl}",
                " ".repeat(width - attr.len())
            ));
        } else {
            block.push_str(&written(path, &v, &inner, "  ", nl));
        }
    }
    block.push_str(&format!("{indent}}}{nl}"));
    let mut out = String::with_capacity(text.len() + block.len());
    for (j, l) in lines.iter().enumerate() {
        out.push_str(l);
        if j + 1 == after {
            if !l.ends_with('\n') {
                out.push_str(nl);
            }
            out.push_str(&block);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
