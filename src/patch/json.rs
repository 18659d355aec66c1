//! Edits to JSON templates: the text is scanned into values with their
//! byte spans; an edit replaces the bytes of one value or inserts one
//! member after the last of an object, in the indentation of the lines
//! around it (on one line when the object is written on one line).

use serde_json::Value;

use super::{Edit, Refused, Seg, newline};

struct Node {
    start: usize,
    end: usize,
    kind: Kind,
}

enum Kind {
    Obj(Vec<(String, usize, Node)>),
    Arr(Vec<Node>),
    Scalar,
}

struct Scan<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while self
            .b
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        if self.b.get(self.pos) != Some(&b'"') {
            return None;
        }
        self.pos += 1;
        while let Some(&c) = self.b.get(self.pos) {
            match c {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    let raw = std::str::from_utf8(&self.b[start..self.pos]).ok()?;
                    return serde_json::from_str(raw).ok();
                }
                _ => self.pos += 1,
            }
        }
        None
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > 256 {
            return None;
        }
        self.ws();
        let start = self.pos;
        let kind = match self.b.get(self.pos)? {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                loop {
                    self.ws();
                    if self.b.get(self.pos) == Some(&b'}') {
                        self.pos += 1;
                        break;
                    }
                    let key_at = self.pos;
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.pos) != Some(&b':') {
                        return None;
                    }
                    self.pos += 1;
                    members.push((k, key_at, self.value(depth + 1)?));
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
                Kind::Obj(members)
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.b.get(self.pos) == Some(&b']') {
                        self.pos += 1;
                        break;
                    }
                    items.push(self.value(depth + 1)?);
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
                Kind::Arr(items)
            }
            b'"' => {
                self.string()?;
                Kind::Scalar
            }
            _ => {
                while let Some(&c) = self.b.get(self.pos) {
                    if matches!(c, b',' | b'}' | b']') || c.is_ascii_whitespace() {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return None;
                }
                Kind::Scalar
            }
        };
        Some(Node {
            start,
            end: self.pos,
            kind,
        })
    }
}

/// One value on one line: `{"a": 1, "b": [2, 3]}`.
fn compact(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, x)| format!("{}: {}", Value::String(k.clone()), compact(x)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Array(a) => format!("[{}]", a.iter().map(compact).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

struct Editor<'a> {
    text: &'a str,
    step: usize,
    nl: &'static str,
    /// (start, end, replacement) byte ranges of the text.
    ops: Vec<(usize, usize, String)>,
    /// The edit appends to a list.
    append_mode: bool,
}

impl Editor<'_> {
    /// The indentation of the line holding byte `at`.
    fn indent_at(&self, at: usize) -> usize {
        let line_start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        self.text[line_start..]
            .bytes()
            .take_while(|c| *c == b' ' || *c == b'\t')
            .count()
    }

    fn one_line(&self, n: &Node) -> bool {
        !self.text[n.start..n.end].contains('\n')
    }

    /// A value on several lines, its first line after `ind` of indentation.
    fn pretty(&self, v: &Value, ind: usize) -> String {
        let pad = " ".repeat(ind + self.step);
        let close = " ".repeat(ind);
        let nl = self.nl;
        match v {
            Value::Object(m) if !m.is_empty() && !is_intrinsic(v) => {
                let members: Vec<String> = m
                    .iter()
                    .map(|(k, x)| {
                        format!(
                            "{pad}{}: {}",
                            Value::String(k.clone()),
                            self.pretty(x, ind + self.step)
                        )
                    })
                    .collect();
                format!("{{{nl}{}{nl}{close}}}", members.join(&format!(",{nl}")))
            }
            Value::Array(a)
                if a.iter()
                    .any(|x| (x.is_object() && !is_intrinsic(x)) || x.is_array()) =>
            {
                let items: Vec<String> = a
                    .iter()
                    .map(|x| format!("{pad}{}", self.pretty(x, ind + self.step)))
                    .collect();
                format!("[{nl}{}{nl}{close}]", items.join(&format!(",{nl}")))
            }
            other => compact(other),
        }
    }

    fn set_value(
        &mut self,
        n: &Node,
        v: &Value,
        if_absent: bool,
        multi: bool,
    ) -> Result<(), Refused> {
        if if_absent {
            return Ok(());
        }
        if let (Value::Object(m), Kind::Obj(_)) = (v, &n.kind)
            && !is_intrinsic(v)
        {
            for (k, x) in m {
                self.set_in(n, &[Seg::Key(k.clone())], x)?;
            }
            return Ok(());
        }
        let text = if multi && !self.one_line_value(v) {
            self.pretty(v, self.indent_at(n.start))
        } else {
            compact(v)
        };
        self.ops.push((n.start, n.end, text));
        Ok(())
    }

    fn one_line_value(&self, v: &Value) -> bool {
        match v {
            Value::Object(_) => is_intrinsic(v),
            Value::Array(a) => a.iter().all(|x| !x.is_object() && !x.is_array()),
            _ => true,
        }
    }

    fn set_in(&mut self, n: &Node, path: &[Seg], v: &Value) -> Result<(), Refused> {
        let multi = !self.one_line(n);
        self.set_at(n, path, v, false, multi)
    }

    /// Sets the value at `path` under `n`; `multi`: `n` sits in an object
    /// or list written on several lines.
    fn set_at(
        &mut self,
        n: &Node,
        path: &[Seg],
        v: &Value,
        if_absent: bool,
        multi: bool,
    ) -> Result<(), Refused> {
        let Some((seg, rest)) = path.split_first() else {
            if self.append_mode {
                return self.append(n, v);
            }
            return self.set_value(n, v, if_absent, multi);
        };
        let inner = !self.one_line(n);
        match (&n.kind, seg) {
            (Kind::Obj(members), Seg::Key(k)) => {
                if let Some((_, _, child)) = members.iter().find(|(key, _, _)| key == k) {
                    return self.set_at(child, rest, v, if_absent, inner);
                }
                let value = if self.append_mode {
                    super_nest(rest, &Value::Array(vec![v.clone()]))?
                } else {
                    super_nest(rest, v)?
                };
                self.insert(n, members, k, &value)
            }
            (Kind::Arr(items), Seg::Index(i)) => {
                let child = items.get(*i).ok_or_else(|| format!("no list item {i}"))?;
                if rest.is_empty() {
                    return Err(format!("list item {i} would be replaced whole"));
                }
                self.set_at(child, rest, v, if_absent, inner)
            }
            _ => Err("the template is not shaped as the fix expects".to_string()),
        }
    }

    /// Adds `item` after the last item of the list `n`.
    fn append(&mut self, n: &Node, item: &Value) -> Result<(), Refused> {
        let Kind::Arr(items) = &n.kind else {
            return Err("the value is not a list".to_string());
        };
        let Some(last) = items.last() else {
            self.ops
                .push((n.start, n.end, format!("[{}]", compact(item))));
            return Ok(());
        };
        if self.one_line(n) {
            self.ops
                .push((last.end, last.end, format!(", {}", compact(item))));
            return Ok(());
        }
        let ind = self.indent_at(last.start);
        let nl = self.nl;
        let text = format!(",{nl}{}{}", " ".repeat(ind), self.pretty(item, ind));
        self.ops.push((last.end, last.end, text));
        Ok(())
    }

    fn insert(
        &mut self,
        obj: &Node,
        members: &[(String, usize, Node)],
        key: &str,
        v: &Value,
    ) -> Result<(), Refused> {
        let k = Value::String(key.to_string());
        let Some((_, key_at, last)) = members.last() else {
            // `{}`: the member inside the braces
            let text = format!("{{{k}: {}}}", compact(v));
            self.ops.push((obj.start, obj.end, text));
            return Ok(());
        };
        if self.one_line(obj) {
            self.ops
                .push((last.end, last.end, format!(", {k}: {}", compact(v))));
            return Ok(());
        }
        let ind = self.indent_at(*key_at);
        let value = if self.one_line_value(v) {
            compact(v)
        } else {
            self.pretty(v, ind)
        };
        let nl = self.nl;
        self.ops.push((
            last.end,
            last.end,
            format!(",{nl}{}{k}: {value}", " ".repeat(ind)),
        ));
        Ok(())
    }
}

fn is_intrinsic(v: &Value) -> bool {
    v.as_object()
        .is_some_and(|m| m.len() == 1 && m.keys().all(|k| k == "Ref" || k.starts_with("Fn::")))
}

fn super_nest(path: &[Seg], v: &Value) -> Result<Value, Refused> {
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

/// Applies one edit to a JSON template's text.
pub fn apply(text: &str, e: &Edit) -> Result<String, Refused> {
    let mut scan = Scan {
        b: text.as_bytes(),
        pos: 0,
    };
    let root = scan
        .value(0)
        .ok_or_else(|| "the template is not JSON".to_string())?;
    let Kind::Obj(top) = &root.kind else {
        return Err("the template is not a JSON object".to_string());
    };
    let Some((_, _, resources)) = top.iter().find(|(k, _, _)| k == "Resources") else {
        return Err("no Resources".to_string());
    };
    let Kind::Obj(rs) = &resources.kind else {
        return Err("Resources is not an object".to_string());
    };
    let found = rs.iter().find(|(k, _, _)| *k == e.logical_id);
    let step = top
        .first()
        .map(|(_, at, _)| {
            let line_start = text[..*at].rfind('\n').map_or(0, |i| i + 1);
            at - line_start
        })
        .filter(|s| *s > 0)
        .unwrap_or(2);
    let mut ed = Editor {
        text,
        step,
        nl: newline(text),
        ops: Vec::new(),
        append_mode: e.append,
    };
    match (found, e.path.is_empty()) {
        (Some((_, _, r)), false) => ed.set_at(r, &e.path, &e.value, e.if_absent, true)?,
        (None, true) => ed.insert(resources, rs, &e.logical_id, &e.value)?,
        (Some(_), true) => return Err(format!("{} already exists", e.logical_id)),
        (None, false) => return Err(format!("{} is not found", e.logical_id)),
    }
    let mut ops = std::mem::take(&mut ed.ops);
    ops.sort_by_key(|o| std::cmp::Reverse((o.0, o.1)));
    let mut out = text.to_string();
    for (start, end, t) in ops {
        out.replace_range(start..end, &t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::path;
    use serde_json::json;

    const T: &str = "{\n    \"Resources\": {\n        \"Key\": {\n            \"Type\": \"AWS::KMS::Key\",\n            \"Properties\": {\"EnableKeyRotation\": false, \"Description\": \"k\"}\n        },\n        \"Bucket\": {\n            \"Type\": \"AWS::S3::Bucket\",\n            \"Properties\": {\n                \"VersioningConfiguration\": {\n                    \"Status\": \"Suspended\"\n                }\n            }\n        }\n    }\n}";

    fn set(id: &str, keys: &[&str], v: Value) -> Result<String, Refused> {
        apply(T, &Edit::set(id, path(keys), v))
    }

    #[test]
    fn values_are_replaced_in_place_and_members_added_in_the_indentation() {
        assert_eq!(
            set("Key", &["Properties", "EnableKeyRotation"], json!(true)),
            Ok(T.replace("false", "true"))
        );
        assert_eq!(
            set(
                "Bucket",
                &["Properties", "VersioningConfiguration"],
                json!({"Status": "Enabled"})
            ),
            Ok(T.replace("Suspended", "Enabled"))
        );
        assert_eq!(
            set(
                "Bucket",
                &["Properties", "PublicAccessBlockConfiguration"],
                json!({"BlockPublicAcls": true})
            ),
            Ok(T.replace(
                "                }\n            }\n        }\n    }\n}",
                "                },\n                \"PublicAccessBlockConfiguration\": {\n                    \"BlockPublicAcls\": true\n                }\n            }\n        }\n    }\n}"
            ))
        );
        // an object on one line gets the member on that line
        assert_eq!(
            set("Key", &["Properties", "PendingWindowInDays"], json!(30)),
            Ok(T.replace(
                "\"Description\": \"k\"}",
                "\"Description\": \"k\", \"PendingWindowInDays\": 30}"
            ))
        );
        assert!(set("Nope", &["Properties"], json!({})).is_err());
        // a new resource: the last member of Resources, in its indentation
        let created = apply(
            T,
            &Edit::create(
                "Rule",
                json!({"Type": "AWS::Events::Rule", "Properties": {"State": "ENABLED", "Targets": [{"Id": "p", "Arn": {"Ref": "P"}}]}}),
            ),
        );
        assert_eq!(
            created,
            Ok(T.replace(
                "                }\n            }\n        }\n    }\n}",
                "                }\n            }\n        },\n        \"Rule\": {\n            \"Type\": \"AWS::Events::Rule\",\n            \"Properties\": {\n                \"State\": \"ENABLED\",\n                \"Targets\": [\n                    {\n                        \"Id\": \"p\",\n                        \"Arn\": {\"Ref\": \"P\"}\n                    }\n                ]\n            }\n        }\n    }\n}"
            ))
        );
        assert!(apply(T, &Edit::create("Key", json!({"Type": "AWS::KMS::Key"}))).is_err());
        assert!(apply("{\"a\": ", &Edit::set("K", path(&["P"]), json!(1))).is_err());
    }
}
