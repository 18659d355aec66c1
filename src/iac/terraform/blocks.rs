//! The `.tf` files under `--iac`: resource and module blocks and their
//! lines, module sources followed to locate an address.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::*;

/// A block of a `.tf` file.
#[derive(Debug, Clone)]
pub(super) struct Block {
    /// `resource` or `module`.
    pub(super) kind: String,
    /// The labels: (type, name) of a resource, (name) of a module.
    pub(super) labels: Vec<String>,
    pub(super) span: Span,
    /// A module's `source`.
    pub(super) source: Option<String>,
}

/// A `.tf` file.
#[derive(Debug)]
struct TfFile {
    rel: String,
    /// The path it was read from.
    path: PathBuf,
    dir: PathBuf,
    text: String,
    blocks: Vec<Block>,
}

/// The text of a line without its comment and with strings blanked, so
/// that braces inside them do not count.
pub(crate) fn code_of(line: &str, in_block_comment: &mut bool) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if *in_block_comment {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                *in_block_comment = false;
            }
            continue;
        }
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                _ => out.push(' '),
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push('"');
            }
            '#' => break,
            '/' if chars.peek() == Some(&'/') => break,
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                *in_block_comment = true;
            }
            _ => out.push(c),
        }
    }
    out
}

/// The quoted labels of a block header such as `resource "aws_kms_key" "k" {`.
fn labels(line: &str) -> Vec<String> {
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

pub(super) fn parse_tf(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut depth: i64 = 0;
    let mut open: Option<(usize, Block)> = None; // (depth at open, block)
    let mut in_comment = false;
    let mut heredoc: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
            }
            continue;
        }
        let code = code_of(raw, &mut in_comment);
        let trimmed = raw.trim();
        if depth == 0 && open.is_none() {
            let kind = trimmed.split_whitespace().next().unwrap_or("");
            if (kind == "resource" || kind == "module") && code.contains('{') {
                open = Some((
                    0,
                    Block {
                        kind: kind.to_string(),
                        labels: labels(trimmed),
                        span: Span {
                            start: number,
                            end: number,
                        },
                        source: None,
                    },
                ));
            }
        }
        if depth == 1
            && let Some((_, b)) = open.as_mut()
            && b.kind == "module"
            && let Some(rest) = trimmed.strip_prefix("source")
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            b.source = labels(value).into_iter().next();
        }
        // a heredoc starts after `<<EOF` or `<<-EOF`
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
        for c in code.chars() {
            match c {
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 {
            depth = 0;
            if let Some((_, mut b)) = open.take() {
                b.span.end = number;
                blocks.push(b);
            }
        }
    }
    blocks
}

/// The lines of the `resource "TYPE" "NAME"` block in a `.tf` text.
pub fn resource_span(text: &str, ty: &str, name: &str) -> Option<Span> {
    parse_tf(text)
        .into_iter()
        .find(|b| {
            b.kind == "resource" && b.labels.len() == 2 && b.labels[0] == ty && b.labels[1] == name
        })
        .map(|b| b.span)
}

/// A resource block of a `.tf` file, for editing.
#[derive(Debug)]
pub struct TfBlock<'a> {
    pub path: &'a Path,
    pub rel: &'a str,
    pub text: &'a str,
    pub span: Span,
    /// The resources (`TYPE.NAME`) of the block's module directory, so
    /// that a new block takes a name no other has.
    pub taken: BTreeSet<String>,
}

/// The `.tf` files under the `--iac` directories.
#[derive(Debug, Default)]
pub struct TfIndex {
    files: Vec<TfFile>,
}

pub(super) fn is_local(source: &str) -> bool {
    source.starts_with("./") || source.starts_with("../")
}

/// An address split into its module names and its resource (type, name),
/// instance keys dropped: `module.a.module.b.aws_kms_key.k["x"]`.
pub(super) fn split_address(address: &str) -> Option<(Vec<String>, String, String)> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut bracket = 0;
    for c in address.chars() {
        match c {
            '[' => bracket += 1,
            ']' => bracket -= 1,
            '.' if bracket == 0 => parts.push(std::mem::take(&mut cur)),
            _ if bracket == 0 => cur.push(c),
            _ => {}
        }
    }
    parts.push(cur);
    let mut modules = Vec::new();
    let mut i = 0;
    while parts.get(i).map(String::as_str) == Some("module") {
        modules.push(parts.get(i + 1)?.clone());
        i += 2;
    }
    if parts.len() != i + 2 || parts[i] == "data" {
        return None;
    }
    Some((modules, parts[i].clone(), parts[i + 1].clone()))
}

impl TfIndex {
    /// Reads the `.tf` files among `files` (relative paths from `rel`).
    pub fn load(files: &BTreeSet<PathBuf>, rel: impl Fn(&Path) -> Option<String>) -> TfIndex {
        let mut out = Vec::new();
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        {
            let (Some(r), Ok(text)) = (rel(path), std::fs::read_to_string(path)) else {
                continue;
            };
            let blocks = parse_tf(&text);
            out.push(TfFile {
                rel: r,
                path: path.clone(),
                dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
                text,
                blocks,
            });
        }
        TfIndex { files: out }
    }

    /// True when no `.tf` file was found.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The directories some local `module` block points at.
    fn module_dirs(&self) -> BTreeSet<PathBuf> {
        self.files
            .iter()
            .flat_map(|f| {
                f.blocks.iter().filter_map(|b| {
                    let s = b.source.as_deref().filter(|s| is_local(s))?;
                    std::fs::canonicalize(f.dir.join(s)).ok()
                })
            })
            .collect()
    }

    /// The `.tf` file and block of a resource address (instance keys
    /// dropped: every instance of a `count` or `for_each` block is the one
    /// block).
    fn find(&self, address: &str) -> Result<(&TfFile, &Block), Error> {
        let (modules, ty, name) = split_address(address).ok_or_else(|| Error::NotAnAddress {
            address: address.to_string(),
        })?;
        let nested = self.module_dirs();
        let mut dirs: BTreeSet<PathBuf> = self
            .files
            .iter()
            .map(|f| f.dir.clone())
            .filter(|d| !nested.contains(d))
            .collect();
        let mut path = String::new();
        for m in &modules {
            path.push_str(&format!("module.{m}"));
            let mut next = BTreeSet::new();
            for f in self.files.iter().filter(|f| dirs.contains(&f.dir)) {
                for b in f
                    .blocks
                    .iter()
                    .filter(|b| b.kind == "module" && b.labels.first() == Some(m))
                {
                    match b.source.as_deref() {
                        Some(s) if is_local(s) => {
                            if let Ok(d) = std::fs::canonicalize(f.dir.join(s)) {
                                next.insert(d);
                            }
                        }
                        Some(s) => {
                            return Err(Error::RemoteModule {
                                address: address.to_string(),
                                module: path,
                                source_: s.to_string(),
                            });
                        }
                        None => {}
                    }
                }
            }
            if next.is_empty() {
                return Err(Error::NoModule {
                    address: address.to_string(),
                    module: path,
                });
            }
            dirs = next;
            path.push('.');
        }
        let found: Vec<(&TfFile, &Block)> = self
            .files
            .iter()
            .filter(|f| dirs.contains(&f.dir))
            .flat_map(|f| f.blocks.iter().map(move |b| (f, b)))
            .filter(|(_, b)| b.kind == "resource" && b.labels == [ty.clone(), name.clone()])
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(Error::NoBlock {
                address: address.to_string(),
                ty,
                name,
            }),
            many => Err(Error::ManyBlocks {
                address: address.to_string(),
                ty,
                name,
                files: many.iter().map(|(f, _)| f.rel.clone()).collect(),
            }),
        }
    }

    /// The block of a resource address, for editing it: the file (as read
    /// and as the report names it), its text and the block's lines.
    pub fn resource_block(&self, address: &str) -> Result<TfBlock<'_>, Error> {
        let (file, block) = self.find(address)?;
        let taken = self
            .files
            .iter()
            .filter(|f| f.dir == file.dir)
            .flat_map(|f| f.blocks.iter())
            .filter(|b| b.kind == "resource")
            .map(|b| b.labels.join("."))
            .collect();
        Ok(TfBlock {
            path: &file.path,
            rel: &file.rel,
            text: &file.text,
            span: block.span,
            taken,
        })
    }

    /// The file and lines of an address, the property's when given and written.
    pub fn locate(&self, address: &str, property: Option<&str>) -> Result<DefinedIn, Error> {
        let (file, block) = self.find(address)?;
        let prop = property.and_then(|p| property_span(&file.text, block.span, p).map(|s| (p, s)));
        let (span, property) = match prop {
            Some((p, s)) => (s, Some(p.to_string())),
            None => (block.span, None),
        };
        Ok(DefinedIn {
            file: file.rel.clone(),
            start_line: span.start,
            end_line: span.end,
            stack: None,
            resource: address.to_string(),
            property,
        })
    }
}

/// The first `property = ...` or `property { ... }` inside a block, through
/// the end of its value.
pub(super) fn property_span(text: &str, block: Span, property: &str) -> Option<Span> {
    let lines: Vec<&str> = text.lines().collect();
    let mut in_comment = false;
    for n in block.start + 1..block.end {
        let raw = lines.get(n - 1)?;
        let code = code_of(raw, &mut in_comment);
        let t = code.trim_start();
        let Some(rest) = t.strip_prefix(property) else {
            continue;
        };
        let rest = rest.trim_start();
        if !(rest.starts_with('=') || rest.starts_with('{')) {
            continue;
        }
        let mut depth: i64 = 0;
        let mut end = n;
        let mut comment = false;
        for (m, l) in lines.iter().enumerate().take(block.end).skip(n - 1) {
            for c in code_of(l, &mut comment).chars() {
                match c {
                    '{' | '[' | '(' => depth += 1,
                    '}' | ']' | ')' => depth -= 1,
                    _ => {}
                }
            }
            end = m + 1;
            if depth <= 0 {
                break;
            }
        }
        return Some(Span { start: n, end });
    }
    None
}
