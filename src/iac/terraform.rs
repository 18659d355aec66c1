//! Terraform: the state (`--tf-state`, a state file or `terraform show
//! -json` output) maps ARNs to resource addresses; the `.tf` files under
//! `--iac` give the file and lines of each `resource "TYPE" "NAME"` block.
//! Addresses inside modules are followed through the `module` blocks'
//! local `source` directories; a registry or remote module cannot be
//! located (its code is not in the repository).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::lines::Span;
use crate::findings::DefinedIn;

/// The CloudFormation type a Terraform resource type is read as (template
/// mode's builder is keyed by CloudFormation types). A resource kind
/// declares its own pair ([`crate::collect::kind::Facts`]); [`NOT_KINDS`]
/// holds the types that are no kind of the snapshot (aliases, inline
/// policies, launch templates, ...) or whose kind names no CloudFormation
/// type. The split S3 settings, policy attachments and event targets are
/// folded into their bucket, role or rule by the plan reader and have no
/// entry.
pub fn cloudformation_type(terraform_type: &str) -> Option<&'static str> {
    crate::collect::kind::all()
        .into_iter()
        .find(|k| k.terraform == Some(terraform_type))
        .and_then(|k| k.cloudformation)
        .or_else(|| {
            NOT_KINDS
                .iter()
                .find(|(tf, _)| *tf == terraform_type)
                .map(|(_, cfn)| *cfn)
        })
}

/// Terraform types read in template mode that no kind declares.
pub const NOT_KINDS: &[(&str, &str)] = &[
    (
        "aws_codedeploy_deployment_config",
        "AWS::CodeDeploy::DeploymentConfig",
    ),
    ("aws_s3_bucket_policy", "AWS::S3::BucketPolicy"),
    ("aws_kms_alias", "AWS::KMS::Alias"),
    ("aws_iam_role_policy", "AWS::IAM::RolePolicy"),
    ("aws_iam_instance_profile", "AWS::IAM::InstanceProfile"),
    ("aws_launch_template", "AWS::EC2::LaunchTemplate"),
    ("aws_instance", "AWS::EC2::Instance"),
    (
        "aws_autoscaling_group",
        "AWS::AutoScaling::AutoScalingGroup",
    ),
];

#[cfg(test)]
mod type_tests {
    use super::*;

    /// A type is mapped in one place: no entry of [`NOT_KINDS`] is a kind's
    /// Terraform type whose kind already names a CloudFormation type, and
    /// the types the plan reader needs all resolve.
    #[test]
    fn each_terraform_type_has_one_home() {
        for (tf, _) in NOT_KINDS {
            let kind = crate::collect::kind::all()
                .into_iter()
                .find(|k| k.terraform == Some(*tf));
            assert!(
                kind.is_none_or(|k| k.cloudformation.is_none()),
                "{tf} is mapped by its kind and by NOT_KINDS"
            );
        }
        for (tf, cfn) in [
            ("aws_codepipeline", "AWS::CodePipeline::Pipeline"),
            ("aws_codecommit_repository", "AWS::CodeCommit::Repository"),
            ("aws_codebuild_project", "AWS::CodeBuild::Project"),
            ("aws_codedeploy_app", "AWS::CodeDeploy::Application"),
            (
                "aws_codedeploy_deployment_group",
                "AWS::CodeDeploy::DeploymentGroup",
            ),
            ("aws_cloudwatch_event_rule", "AWS::Events::Rule"),
            ("aws_s3_bucket", "AWS::S3::Bucket"),
            ("aws_kms_key", "AWS::KMS::Key"),
            ("aws_iam_role", "AWS::IAM::Role"),
            ("aws_iam_policy", "AWS::IAM::ManagedPolicy"),
            ("aws_launch_template", "AWS::EC2::LaunchTemplate"),
        ] {
            assert_eq!(cloudformation_type(tf), Some(cfn), "{tf}");
        }
        assert_eq!(cloudformation_type("aws_sqs_queue"), None);
    }
}

/// ARN -> resource address, from one or more states.
#[derive(Debug, Default)]
pub struct State {
    pub by_arn: BTreeMap<String, String>,
}

/// The Terraform resource type of a snapshot resource map (`keys`,
/// `buckets`, ...), as its kind declares it.
pub fn terraform_type(resource_kind: &str) -> Option<&'static str> {
    crate::collect::kind::about(resource_kind).and_then(|k| k.terraform)
}

/// The snapshot resource map whose kind has the Terraform resource type
/// `tf_type` (`aws_kms_key` -> `keys`).
pub fn resource_kind(tf_type: &str) -> Option<&'static str> {
    crate::collect::kind::all()
        .into_iter()
        .find(|k| k.terraform == Some(tf_type))
        .map(|k| k.name)
}

fn instance_address(
    module: Option<&str>,
    ty: &str,
    name: &str,
    key: Option<&serde_json::Value>,
) -> String {
    let mut a = String::new();
    if let Some(m) = module.filter(|m| !m.is_empty()) {
        a.push_str(m);
        a.push('.');
    }
    a.push_str(&format!("{ty}.{name}"));
    match key {
        Some(serde_json::Value::Number(n)) => a.push_str(&format!("[{n}]")),
        Some(serde_json::Value::String(s)) => a.push_str(&format!("[{s:?}]")),
        _ => {}
    }
    a
}

fn walk_module(m: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    for r in m["resources"].as_array().into_iter().flatten() {
        if r["mode"] != "managed" {
            continue;
        }
        if let (Some(address), Some(arn)) = (r["address"].as_str(), r["values"]["arn"].as_str()) {
            out.insert(arn.to_string(), address.to_string());
        }
    }
    for c in m["child_modules"].as_array().into_iter().flatten() {
        walk_module(c, out);
    }
}

impl State {
    /// Reads a state file or `terraform show -json` output.
    pub fn load(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--tf-state: cannot read {}: {e}", path.display()))?;
        self.parse(&text)
            .map_err(|e| format!("--tf-state: {}: {e}", path.display()))
    }

    /// Parses the text of a state or of `terraform show -json`.
    pub fn parse(&mut self, text: &str) -> Result<(), String> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        if let Some(root) = doc.get("values").and_then(|v| v.get("root_module")) {
            walk_module(root, &mut self.by_arn);
            return Ok(());
        }
        if doc.get("values").is_some() && doc.get("format_version").is_some() {
            return Ok(()); // `terraform show -json` of an empty state
        }
        let Some(resources) = doc.get("resources").and_then(|r| r.as_array()) else {
            return Err(
                "neither a Terraform state (no `resources`) nor `terraform show -json` output (no `values`)"
                    .to_string(),
            );
        };
        for r in resources {
            if r["mode"] != "managed" {
                continue;
            }
            let (Some(ty), Some(name)) = (r["type"].as_str(), r["name"].as_str()) else {
                continue;
            };
            for i in r["instances"].as_array().into_iter().flatten() {
                if let Some(arn) = i["attributes"]["arn"].as_str() {
                    let address =
                        instance_address(r["module"].as_str(), ty, name, i.get("index_key"));
                    self.by_arn.insert(arn.to_string(), address);
                }
            }
        }
        Ok(())
    }
}

/// A block of a `.tf` file.
#[derive(Debug, Clone)]
struct Block {
    /// `resource` or `module`.
    kind: String,
    /// The labels: (type, name) of a resource, (name) of a module.
    labels: Vec<String>,
    span: Span,
    /// A module's `source`.
    source: Option<String>,
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

fn parse_tf(text: &str) -> Vec<Block> {
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

fn is_local(source: &str) -> bool {
    source.starts_with("./") || source.starts_with("../")
}

/// An address split into its module names and its resource (type, name),
/// instance keys dropped: `module.a.module.b.aws_kms_key.k["x"]`.
fn split_address(address: &str) -> Option<(Vec<String>, String, String)> {
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
    fn find(&self, address: &str) -> Result<(&TfFile, &Block), String> {
        let (modules, ty, name) = split_address(address)
            .ok_or_else(|| format!("{address} is not a managed resource address"))?;
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
                            return Err(format!(
                                "{address}: {path} comes from {s:?} (registry or remote module), whose code is not under --iac: not locatable"
                            ));
                        }
                        None => {}
                    }
                }
            }
            if next.is_empty() {
                return Err(format!(
                    "{address}: no module block {path} with a local source under --iac"
                ));
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
            [] => Err(format!(
                "{address}: no resource \"{ty}\" \"{name}\" block in the .tf files under --iac"
            )),
            many => Err(format!(
                "{address}: {} .tf files define resource \"{ty}\" \"{name}\": {}",
                many.len(),
                many.iter()
                    .map(|(f, _)| f.rel.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The block of a resource address, for editing it: the file (as read
    /// and as the report names it), its text and the block's lines.
    pub fn resource_block(&self, address: &str) -> Result<TfBlock<'_>, String> {
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
    pub fn locate(&self, address: &str, property: Option<&str>) -> Result<DefinedIn, String> {
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
fn property_span(text: &str, block: Span, property: &str) -> Option<Span> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_modules_and_resource() {
        assert_eq!(
            split_address("module.ci.module.keys.aws_kms_key.k[\"a.b\"]"),
            Some((
                vec!["ci".to_string(), "keys".to_string()],
                "aws_kms_key".to_string(),
                "k".to_string()
            ))
        );
        assert_eq!(
            split_address("aws_iam_role.r[0]"),
            Some((vec![], "aws_iam_role".to_string(), "r".to_string()))
        );
        assert_eq!(split_address("data.aws_iam_policy.p"), None);
    }

    #[test]
    fn blocks_and_properties_have_their_lines() {
        let text = "# keys\nresource \"aws_kms_key\" \"k\" {\n  description = \"a } brace\"\n  policy = jsonencode({\n    Statement = []\n  })\n  enable_key_rotation = false # off\n}\n\nmodule \"ci\" {\n  source = \"./modules/ci\"\n}\nresource \"aws_iam_role\" \"r\" {\n  assume_role_policy = <<EOF\n{ \"Statement\": [\nEOF\n}\n";
        let blocks = parse_tf(text);
        let spans: Vec<(String, Vec<String>, usize, usize)> = blocks
            .iter()
            .map(|b| (b.kind.clone(), b.labels.clone(), b.span.start, b.span.end))
            .collect();
        assert_eq!(
            spans,
            vec![
                (
                    "resource".into(),
                    vec!["aws_kms_key".into(), "k".into()],
                    2,
                    8
                ),
                ("module".into(), vec!["ci".into()], 10, 12),
                (
                    "resource".into(),
                    vec!["aws_iam_role".into(), "r".into()],
                    13,
                    17
                ),
            ]
        );
        assert_eq!(blocks[1].source.as_deref(), Some("./modules/ci"));
        let k = blocks[0].span;
        assert_eq!(
            property_span(text, k, "enable_key_rotation"),
            Some(Span { start: 7, end: 7 })
        );
        assert_eq!(
            property_span(text, k, "policy"),
            Some(Span { start: 4, end: 6 })
        );
        assert_eq!(property_span(text, k, "missing"), None);
    }

    #[test]
    fn both_state_formats_map_arns_to_addresses() {
        let mut s = State::default();
        let raw = r#"{"version": 4, "resources": [
            {"mode": "managed", "type": "aws_kms_key", "name": "k", "module": "module.ci",
             "instances": [{"attributes": {"arn": "arn:aws:kms:us-east-1:1:key/a"}}]},
            {"mode": "data", "type": "aws_iam_policy_document", "name": "d",
             "instances": [{"attributes": {"arn": "arn:x"}}]},
            {"mode": "managed", "type": "aws_iam_role", "name": "r",
             "instances": [{"index_key": 0, "attributes": {"arn": "arn:aws:iam::1:role/r0"}}]}]}"#;
        s.parse(raw).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.by_arn
                .get("arn:aws:kms:us-east-1:1:key/a")
                .map(String::as_str),
            Some("module.ci.aws_kms_key.k")
        );
        assert_eq!(
            s.by_arn.get("arn:aws:iam::1:role/r0").map(String::as_str),
            Some("aws_iam_role.r[0]")
        );
        assert!(!s.by_arn.contains_key("arn:x"));
        let show = r#"{"format_version": "1.0", "values": {"root_module": {"resources": [],
            "child_modules": [{"address": "module.ci", "resources": [
              {"address": "module.ci.aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket",
               "name": "b", "values": {"arn": "arn:aws:s3:::art"}}]}]}}}"#;
        s.parse(show).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            s.by_arn.get("arn:aws:s3:::art").map(String::as_str),
            Some("module.ci.aws_s3_bucket.b")
        );
        assert!(State::default().parse("{\"a\": 1}").is_err());
    }
}
