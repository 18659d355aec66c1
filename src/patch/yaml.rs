//! Edits to YAML templates in block style. The text is read as lines
//! (blank lines, comments and block-scalar contents passed over), their
//! keys and indentation giving the structure; an edit replaces the value
//! on one line, replaces the lines of one entry, or inserts lines at the
//! end of a mapping. A value written in flow style (`{..}`, `[..]`) on the
//! way to the property is not edited: the edit is refused.

use serde_json::Value;

use super::{Edit, Refused, Seg, newline};
use crate::iac::lines::{is_block_scalar, split_key};

/// One significant line.
struct Line {
    /// Index of the raw line.
    n: usize,
    indent: usize,
    /// The column of the key after any `- ` markers.
    key_indent: usize,
    /// The line starts a sequence item.
    item: bool,
    key: Option<String>,
    /// Byte range (in the raw line) of the value after `key:`, without a
    /// trailing comment; empty when nothing follows the colon.
    value: (usize, usize),
}

struct Doc<'a> {
    raw: Vec<&'a str>,
    sig: Vec<Line>,
}

/// Lines `lo..hi` of `sig` whose keys at column `indent` are a mapping's.
#[derive(Clone, Copy)]
struct Scope {
    lo: usize,
    hi: usize,
    indent: usize,
}

enum Child {
    None,
    Map(Scope),
    Seq(Scope),
}

/// The end of a value in `rest` (before a ` #` comment, quotes respected).
fn value_len(rest: &str) -> usize {
    let b = rest.as_bytes();
    let mut quote: Option<u8> = None;
    let mut end = 0;
    for (i, &c) in b.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if (c == b'"' || c == b'\'') && i == 0 => quote = Some(c),
            None if c == b'#' && (i == 0 || b[i - 1] == b' ' || b[i - 1] == b'\t') => break,
            None => {}
        }
        if !c.is_ascii_whitespace() {
            end = i + 1;
        }
    }
    end
}

fn content(raw: &str) -> &str {
    raw.trim_end_matches(['\n', '\r'])
}

impl<'a> Doc<'a> {
    fn parse(text: &'a str) -> Doc<'a> {
        let raw: Vec<&str> = text.split_inclusive('\n').collect();
        let mut sig = Vec::new();
        let mut scalar_parent: Option<usize> = None;
        for (n, r) in raw.iter().enumerate() {
            let line = content(r);
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(parent) = scalar_parent {
                if indent > parent {
                    continue;
                }
                scalar_parent = None;
            }
            if trimmed.starts_with('#') || trimmed.starts_with("---") || trimmed.starts_with("...")
            {
                continue;
            }
            let mut rest = trimmed;
            let mut key_indent = indent;
            let mut item = false;
            while let Some(after) = rest.strip_prefix("- ").or_else(|| {
                (rest == "-").then_some("") // an item whose value is on the next lines
            }) {
                item = true;
                let stripped = after.trim_start();
                key_indent += rest.len() - stripped.len();
                rest = stripped;
                if rest.is_empty() {
                    break;
                }
            }
            let (key, value) = match split_key(rest) {
                Some((k, after)) => {
                    let at = after.as_ptr() as usize - line.as_ptr() as usize;
                    (Some(k), (at, at + value_len(after)))
                }
                None => (None, (line.len(), line.len())),
            };
            let after_colon = &line[value.0..];
            if is_block_scalar(after_colon) || (key.is_none() && is_block_scalar(rest)) {
                scalar_parent = Some(indent);
            }
            sig.push(Line {
                n,
                indent,
                key_indent,
                item,
                key,
                value,
            });
        }
        Doc { raw, sig }
    }

    fn value_text(&self, i: usize) -> &str {
        let l = &self.sig[i];
        &content(self.raw[l.n])[l.value.0..l.value.1]
    }

    /// The index after the last line nested under entry `i`.
    fn children_end(&self, i: usize) -> usize {
        let own = self.sig[i].key_indent;
        let mut j = i + 1;
        // a sequence may sit at its key's own column
        let same_column_seq = self.value_text(i).is_empty()
            && self
                .sig
                .get(j)
                .is_some_and(|l| l.indent == own && l.item && self.sig[i].key.is_some());
        while let Some(l) = self.sig.get(j) {
            if l.indent > own || (same_column_seq && l.indent == own && l.item) {
                j += 1;
            } else {
                break;
            }
        }
        j
    }

    fn child(&self, i: usize) -> Child {
        let hi = self.children_end(i);
        let lo = i + 1;
        if lo >= hi {
            return Child::None;
        }
        let first = &self.sig[lo];
        if first.item {
            Child::Seq(Scope {
                lo,
                hi,
                indent: first.indent,
            })
        } else {
            Child::Map(Scope {
                lo,
                hi,
                indent: first.indent,
            })
        }
    }

    fn find_key(&self, s: Scope, key: &str) -> Option<usize> {
        (s.lo..s.hi).find(|&j| {
            let l = &self.sig[j];
            l.key_indent == s.indent
                && l.key.as_deref() == Some(key)
                && ((l.indent == s.indent && !l.item) || (j == s.lo && l.item))
        })
    }

    /// The mapping of item `n` of a sequence.
    fn item(&self, s: Scope, n: usize) -> Option<Scope> {
        let starts: Vec<usize> = (s.lo..s.hi)
            .filter(|&j| self.sig[j].indent == s.indent && self.sig[j].item)
            .collect();
        let lo = *starts.get(n)?;
        let hi = starts.get(n + 1).copied().unwrap_or(s.hi);
        self.sig[lo].key.as_ref()?;
        Some(Scope {
            lo,
            hi,
            indent: self.sig[lo].key_indent,
        })
    }

    /// The raw line after the last one of sig lines `lo..hi` (trailing
    /// blank lines and comments left to what follows).
    fn end_raw(&self, lo: usize, hi: usize) -> usize {
        let stop = self.sig.get(hi).map_or(self.raw.len(), |l| l.n);
        let first = self.sig[lo].n;
        let mut end = stop;
        while end > first + 1 {
            let t = content(self.raw[end - 1]).trim_start();
            if t.is_empty() || t.starts_with('#') {
                end -= 1;
            } else {
                break;
            }
        }
        end
    }
}

/// One replacement of raw lines `start..end` (an insertion when equal).
struct Op {
    start: usize,
    end: usize,
    text: String,
}

struct Editor<'a> {
    d: Doc<'a>,
    step: usize,
    nl: &'static str,
    ops: Vec<Op>,
    /// The edit appends to a list.
    append_mode: bool,
}

/// Whether a string can be written without quotes: a word, or a
/// resource type or pseudo parameter (`AWS::Events::Rule`).
fn is_plain(s: &str) -> bool {
    let reserved = [
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    if s.contains("::")
        && s.split("::")
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric()))
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return true;
    }
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !reserved.contains(&s.to_ascii_lowercase().as_str())
}

fn quote(s: &str, style: Option<char>) -> String {
    match style {
        Some('"') => serde_json::Value::String(s.to_string()).to_string(),
        Some(_) => format!("'{}'", s.replace('\'', "''")),
        None if is_plain(s) => s.to_string(),
        None => format!("'{}'", s.replace('\'', "''")),
    }
}

/// A value written on one line, if it can be: scalars, the intrinsics
/// `Ref`, `Fn::GetAtt` and `Fn::Sub` (short forms), lists of those.
fn inline(v: &Value, style: Option<char>) -> Option<String> {
    match v {
        Value::Null => Some("null".to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(quote(s, style)),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Value::Array(_) => None,
                    Value::Object(_) => intrinsic(i, style),
                    _ => inline(i, style),
                })
                .collect();
            Some(format!("[{}]", parts?.join(", ")))
        }
        Value::Object(_) => intrinsic(v, style),
    }
}

fn intrinsic(v: &Value, style: Option<char>) -> Option<String> {
    let m = v.as_object()?;
    if m.len() != 1 {
        return None;
    }
    let (k, arg) = m.iter().next()?;
    match (k.as_str(), arg) {
        ("Ref", Value::String(s)) => Some(format!("!Ref {s}")),
        ("Fn::GetAtt", Value::Array(a)) => {
            let parts: Option<Vec<&str>> = a.iter().map(Value::as_str).collect();
            Some(format!("!GetAtt {}", parts?.join(".")))
        }
        ("Fn::Sub", Value::String(s)) => Some(format!("!Sub {}", quote(s, style.or(Some('\''))))),
        _ => None,
    }
}

fn is_mapping(v: &Value) -> bool {
    v.is_object() && intrinsic(v, None).is_none()
}

impl Editor<'_> {
    /// What follows `key:` for `value` whose key is at column `ind`.
    fn after_key(&self, v: &Value, ind: usize) -> Result<String, Refused> {
        let nl = self.nl;
        if let Some(one) = inline(v, None) {
            return Ok(format!(" {one}{nl}"));
        }
        let inner = ind + self.step;
        let pad = " ".repeat(inner);
        let mut out = nl.to_string();
        match v {
            Value::Object(m) if m.is_empty() => return Ok(format!(" {{}}{nl}")),
            Value::Object(m) => {
                for (k, x) in m {
                    out.push_str(&format!(
                        "{pad}{}:{}",
                        quote(k, None),
                        self.after_key(x, inner)?
                    ));
                }
            }
            Value::Array(items) => {
                for item in items {
                    out.push_str(&self.item_lines(item, inner)?);
                }
            }
            _ => return Err("the value cannot be written in YAML".to_string()),
        }
        Ok(out)
    }

    /// A list item written with its `- ` at column `dash`.
    fn item_lines(&self, item: &Value, dash: usize) -> Result<String, Refused> {
        let nl = self.nl;
        let pad = " ".repeat(dash);
        match item {
            Value::Object(m) if is_mapping(item) && !m.is_empty() => {
                // `- first: ..` then the other keys under it
                let mut out = String::new();
                for (n, (k, x)) in m.iter().enumerate() {
                    let lead = if n == 0 {
                        format!("{pad}- ")
                    } else {
                        " ".repeat(dash + 2)
                    };
                    out.push_str(&format!(
                        "{lead}{}:{}",
                        quote(k, None),
                        self.after_key(x, dash + 2)?
                    ));
                }
                Ok(out)
            }
            _ => {
                let one = inline(item, None)
                    .ok_or_else(|| "a nested list cannot be written".to_string())?;
                Ok(format!("{pad}- {one}{nl}"))
            }
        }
    }

    /// Adds `item` at the end of the list of entry `i`.
    fn append(&mut self, i: usize, item: &Value) -> Result<(), Refused> {
        match self.d.child(i) {
            Child::Seq(s) => {
                let at = self.d.end_raw(s.lo, s.hi);
                let text = self.item_lines(item, s.indent)?;
                self.ops.push(Op {
                    start: at,
                    end: at,
                    text,
                });
                Ok(())
            }
            Child::None if self.d.value_text(i).is_empty() => {
                self.set_value(i, &Value::Array(vec![item.clone()]), false)
            }
            _ => Err(format!(
                "{} is not a list written in block style",
                self.d.sig[i].key.as_deref().unwrap_or("the value")
            )),
        }
    }

    /// Sets the value of entry `i`.
    fn set_value(&mut self, i: usize, v: &Value, if_absent: bool) -> Result<(), Refused> {
        if if_absent && !(self.d.value_text(i).is_empty() && matches!(self.d.child(i), Child::None))
        {
            return Ok(());
        }
        if is_mapping(v)
            && let Child::Map(s) = self.d.child(i)
            && let Value::Object(m) = v
        {
            for (k, x) in m {
                self.set_in_map(s, &[Seg::Key(k.clone())], x, false)?;
            }
            return Ok(());
        }
        let l = &self.d.sig[i];
        let line = content(self.d.raw[l.n]);
        let old = self.d.value_text(i);
        let simple_old = !old.is_empty()
            && !old.starts_with(['[', '{', '|', '>', '&', '*'])
            && matches!(self.d.child(i), Child::None);
        if simple_old
            && let Some(new) = inline(v, old.chars().next().filter(|c| *c == '\'' || *c == '"'))
        {
            let ending = &self.d.raw[l.n][line.len()..];
            let text = format!("{}{new}{}{ending}", &line[..l.value.0], &line[l.value.1..]);
            self.ops.push(Op {
                start: l.n,
                end: l.n + 1,
                text,
            });
            return Ok(());
        }
        // the whole entry is written again
        let hi = self.d.children_end(i);
        let end = self.d.end_raw(i, hi);
        // `  - Key:` as written, then the value
        let head = line[..l.value.0.min(line.len())].trim_end();
        let text = format!("{head}{}", self.after_key(v, l.key_indent)?);
        self.ops.push(Op {
            start: l.n,
            end,
            text,
        });
        Ok(())
    }

    fn set_at(
        &mut self,
        i: usize,
        path: &[Seg],
        v: &Value,
        if_absent: bool,
    ) -> Result<(), Refused> {
        let Some((seg, rest)) = path.split_first() else {
            if self.append_mode {
                return self.append(i, v);
            }
            return self.set_value(i, v, if_absent);
        };
        let key = self.d.sig[i].key.clone().unwrap_or_default();
        match (self.d.child(i), seg) {
            (Child::Map(s), Seg::Key(_)) => self.set_in_map(s, path, v, if_absent),
            (Child::Seq(s), Seg::Index(n)) => {
                let item = self
                    .d
                    .item(s, *n)
                    .ok_or_else(|| format!("{key} has no item {n} written as a mapping"))?;
                if rest.is_empty() {
                    return Err(format!("item {n} of {key} would be replaced whole"));
                }
                self.set_in_map(item, rest, v, if_absent)
            }
            (Child::None, Seg::Key(_)) if self.d.value_text(i).is_empty() => {
                let nested = if self.append_mode {
                    nest(path, &Value::Array(vec![v.clone()]))?
                } else {
                    nest(path, v)?
                };
                self.set_value(i, &nested, false)
            }
            _ => Err(format!(
                "{key} is written in flow style or is not what the fix expects; it is not edited"
            )),
        }
    }

    fn set_in_map(
        &mut self,
        s: Scope,
        path: &[Seg],
        v: &Value,
        if_absent: bool,
    ) -> Result<(), Refused> {
        let Some((Seg::Key(k), rest)) = path.split_first() else {
            return Err("a list position where a key was expected".to_string());
        };
        if let Some(j) = self.d.find_key(s, k) {
            return self.set_at(j, rest, v, if_absent);
        }
        // not written: inserted at the end of the mapping
        let appended;
        let v = if self.append_mode {
            appended = Value::Array(vec![v.clone()]);
            &appended
        } else {
            v
        };
        let nested = nest(rest, v)?;
        let at = self.d.end_raw(s.lo, s.hi);
        let mut text = format!(
            "{}{}:{}",
            " ".repeat(s.indent),
            quote(k, None),
            self.after_key(&nested, s.indent)?
        );
        if at == self.d.raw.len() && !self.d.raw.last().is_some_and(|l| l.ends_with('\n')) {
            text = format!("{}{text}", self.nl);
        }
        self.ops.push(Op {
            start: at,
            end: at,
            text,
        });
        Ok(())
    }
}

/// The value at the end of `path` as nested mappings.
fn nest(path: &[Seg], v: &Value) -> Result<Value, Refused> {
    let mut out = v.clone();
    for seg in path.iter().rev() {
        match seg {
            Seg::Key(k) => {
                let mut m = serde_json::Map::new();
                m.insert(k.clone(), out);
                out = Value::Object(m);
            }
            Seg::Index(_) => return Err("a list item that is not written".to_string()),
        }
    }
    Ok(out)
}

/// Applies one edit to a YAML template's text.
pub fn apply(text: &str, e: &Edit) -> Result<String, Refused> {
    let d = Doc::parse(text);
    if d.sig.is_empty() {
        return Err("the template is empty".to_string());
    }
    let root = Scope {
        lo: 0,
        hi: d.sig.len(),
        indent: d.sig[0].indent,
    };
    let resources = d
        .find_key(root, "Resources")
        .ok_or_else(|| "no Resources in block style".to_string())?;
    let Child::Map(rs) = d.child(resources) else {
        return Err("Resources is not written in block style".to_string());
    };
    let found = d.find_key(rs, &e.logical_id);
    let step = rs.indent.saturating_sub(d.sig[resources].key_indent).max(1);
    let mut ed = Editor {
        d,
        step,
        nl: newline(text),
        ops: Vec::new(),
        append_mode: e.append,
    };
    match (found, e.path.is_empty()) {
        (Some(r), false) => ed.set_at(r, &e.path, &e.value, e.if_absent)?,
        (None, true) => {
            ed.set_in_map(rs, &[Seg::Key(e.logical_id.clone())], &e.value, e.if_absent)?
        }
        (Some(_), true) => return Err(format!("{} already exists", e.logical_id)),
        (None, false) => return Err(format!("{} is not found in block style", e.logical_id)),
    }
    let mut ops = std::mem::take(&mut ed.ops);
    ops.sort_by_key(|o| std::cmp::Reverse((o.start, o.end)));
    let mut lines: Vec<String> = ed.d.raw.iter().map(|s| s.to_string()).collect();
    for o in ops {
        lines.splice(o.start..o.end, [o.text]);
    }
    Ok(lines.concat())
}

#[cfg(test)]
mod tests;
