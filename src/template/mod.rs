//! Template mode: the snapshot model built from CloudFormation templates
//! instead of a live account, so the unchanged rules and reports run on
//! the code before it is deployed.
//!
//! Templates are read ([`crate::iac::template::parse_or_why`]: YAML short
//! forms and JSON), their intrinsics evaluated ([`intrinsics`]) with the
//! parameters' defaults, then the values given; each resource gets an
//! identity ([`names`]: its physical name, or a deterministic placeholder
//! made from the stack name and logical id), then its model value
//! ([`build`]). Exports are shared between the templates given, so
//! `Fn::ImportValue` across them works. The pipelines are wired as live
//! ones are.
//!
//! What the templates do not determine stays unknown with an
//! `iac-unresolved` error: unresolved values, imports from stacks not
//! given, transforms and custom resources, and resources referenced by ARN
//! that no template defines ("outside the templates"). Facts only the live
//! account has are unknown with `iac-not-checked`.

pub mod build;
mod error;
pub mod intrinsics;
pub mod names;
pub mod tfplan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::collect::key_refs::{Ids, KeyResolver};
use crate::collect::{codedeploy, wiring};
use crate::findings::{Diagnostic, DiagnosticKind};
use crate::model::{
    DeployConfig, DeployTargets, Ec2Instance, Observed, ReadError, Snapshot, SourceBucket, StackRef,
};
use build::{Props, not_checked, observe, unresolved_error};
pub use error::{Error, FileError, Invalid};
use intrinsics::{Eval, Exports, Fail, RawResource, Scope};

/// The largest template read (CloudFormation's own limit is 1 MB; the
/// CDK's synthesized templates stay well below this).
pub const MAX_TEMPLATE_BYTES: u64 = 4 * 1024 * 1024;

/// What the templates are evaluated as.
#[derive(Debug, Clone)]
pub struct Options {
    pub account: String,
    pub region: String,
    pub partition: String,
    /// A parameter file for the single template given.
    pub parameters: Option<PathBuf>,
    /// Parameter files by template path (`TEMPLATE=FILE`).
    pub template_parameters: Vec<(PathBuf, PathBuf)>,
    /// Stack names by template path (`TEMPLATE=NAME`).
    pub stack_names: Vec<(PathBuf, String)>,
    /// Texts read instead of the files at these paths (a patched template
    /// audited again before it is written).
    pub texts: BTreeMap<PathBuf, String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            account: "123456789012".to_string(),
            region: "us-east-1".to_string(),
            partition: "aws".to_string(),
            parameters: None,
            template_parameters: Vec::new(),
            stack_names: Vec::new(),
            texts: BTreeMap::new(),
        }
    }
}

/// Where a resource of the snapshot is defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The template file as given.
    pub file: PathBuf,
    pub stack: String,
    pub logical_id: String,
}

impl Origin {
    /// The logical id of the resource that writes this one: a plan's launch
    /// template made of an instance's own metadata options
    /// (`aws_instance.web#metadata_options`) is written by the instance.
    pub fn written_by(&self) -> &str {
        self.logical_id
            .split('#')
            .next()
            .unwrap_or(&self.logical_id)
    }
}

/// The snapshot built from the templates.
pub struct Built {
    pub snapshot: Snapshot,
    /// Templates passed over and what was not expanded.
    pub diagnostics: Vec<Diagnostic>,
    /// Where each resource is defined, by ARN.
    pub origins: BTreeMap<String, Origin>,
}

/// One template read from disk.
struct Source {
    path: PathBuf,
    stack: String,
    doc: Value,
    parameters: BTreeMap<String, String>,
    /// A nested stack's parameters as its parent passes them.
    inherited: BTreeMap<String, Eval<Value>>,
}

/// How deep nested stacks are followed.
const MAX_NESTING: usize = 8;

fn note(message: String) -> Diagnostic {
    Diagnostic {
        kind: DiagnosticKind::Note,
        account: None,
        rule_id: None,
        pipeline: None,
        resource: None,
        permission: None,
        message,
    }
}

fn scope_error(message: String) -> Diagnostic {
    Diagnostic {
        kind: DiagnosticKind::ScopeError,
        message,
        ..note(String::new())
    }
}

/// A stack name from a file stem: letters, digits and hyphens.
fn stack_name_of(path: &Path) -> String {
    let stem = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem
        .strip_suffix(".template.json")
        .or_else(|| stem.rsplit_once('.').map(|(a, _)| a))
        .unwrap_or(&stem);
    let mut name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name = format!("stack-{name}");
    }
    name
}

/// Reads a CloudFormation parameter file: `[{"ParameterKey", "ParameterValue"}]`.
fn read_parameters(path: &Path) -> Result<BTreeMap<String, String>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadParameters {
        path: path.to_path_buf(),
        source,
    })?;
    let v: Value = serde_json::from_str(&text).map_err(|source| Error::ParametersJson {
        path: path.to_path_buf(),
        source,
    })?;
    let list = v.as_array().ok_or_else(|| Error::ParametersNotList {
        path: path.to_path_buf(),
    })?;
    let mut out = BTreeMap::new();
    for p in list {
        let key = p.get("ParameterKey").and_then(Value::as_str);
        let value = p
            .get("ParameterValue")
            .and_then(|v| intrinsics::scalar_text(Some(v)));
        match (key, value) {
            (Some(k), Some(v)) => {
                out.insert(k.to_string(), v);
            }
            _ => {
                return Err(Error::ParameterEntry {
                    path: path.to_path_buf(),
                });
            }
        }
    }
    Ok(out)
}

/// Reads and parses a template file: `Ok(None)` when it is a document but
/// not a template (no `Resources`).
fn read_template(
    path: &Path,
    texts: &BTreeMap<PathBuf, String>,
) -> Result<Option<Value>, FileError> {
    if let Some(text) = texts.get(path) {
        let (doc, _) = crate::iac::template::parse_or_why(text).map_err(FileError::Parse)?;
        return Ok(doc
            .get("Resources")
            .and_then(Value::as_object)
            .map(|_| doc.clone()));
    }
    let meta = std::fs::metadata(path).map_err(FileError::Io)?;
    if !meta.is_file() {
        return Err(FileError::NotFile);
    }
    if meta.len() > MAX_TEMPLATE_BYTES {
        return Err(FileError::TemplateTooLarge { len: meta.len() });
    }
    let text = std::fs::read_to_string(path).map_err(FileError::Io)?;
    let (doc, _) = crate::iac::template::parse_or_why(&text).map_err(FileError::Parse)?;
    if doc.get("Resources").and_then(Value::as_object).is_none() {
        return Ok(None);
    }
    Ok(Some(doc))
}

/// The files under `dir`, sorted, that `wanted` accepts by name: hidden
/// entries and the directories named in `skip` are not entered, nor
/// anything deeper than 16 levels. Template mode and the plan reader share
/// it.
pub(crate) fn walk_files(
    dir: &Path,
    skip: &[&str],
    wanted: &dyn Fn(&str) -> bool,
    out: &mut Vec<PathBuf>,
    depth: usize,
) {
    if depth > 16 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') || skip.contains(&name.as_str()) {
            continue;
        }
        if p.is_dir() {
            walk_files(&p, skip, wanted, out, depth + 1);
        } else if wanted(&name) {
            out.push(p);
        }
    }
}

/// The template files under `dir` (CDK's own JSON files and parameter
/// files left out).
fn files_of(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let template = |name: &str| {
        [".yaml", ".yml", ".json", ".template"]
            .iter()
            .any(|e| name.ends_with(e))
            && !name.ends_with(".parameters.json")
            && name != "manifest.json"
            && name != "tree.json"
            && name != "cdk.json"
    };
    walk_files(dir, &["node_modules", "target"], &template, out, depth);
}

/// The parameter file given for a template, or the one beside it.
fn parameters_for(
    path: &Path,
    opts: &Options,
    single: bool,
) -> Result<BTreeMap<String, String>, Error> {
    if let Some((_, f)) = opts.template_parameters.iter().find(|(t, _)| same(t, path)) {
        return read_parameters(f);
    }
    if single && let Some(f) = &opts.parameters {
        return read_parameters(f);
    }
    let stem = stack_name_of(path);
    let beside = path.with_file_name(format!(
        "{}.parameters.json",
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or(stem)
    ));
    if beside.is_file() {
        return read_parameters(&beside);
    }
    Ok(BTreeMap::new())
}

fn same(a: &Path, b: &Path) -> bool {
    a == b
        || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// Builds the snapshot from the templates at `paths` (files or directories).
/// A file given by name that cannot be read is an error; one found in a
/// directory is a diagnostic.
pub fn load(paths: &[PathBuf], opts: &Options) -> Result<Built, Error> {
    let mut diagnostics = Vec::new();
    let mut found: Vec<(PathBuf, bool)> = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files = Vec::new();
            files_of(p, &mut files, 0);
            found.extend(files.into_iter().map(|f| (f, false)));
        } else {
            found.push((p.clone(), true));
        }
    }
    let single = found.len() == 1;
    if opts.parameters.is_some() && !single {
        return Err(Error::ParametersForSeveral);
    }
    let mut sources = Vec::new();
    for (path, named) in found {
        match read_template(&path, &opts.texts) {
            Ok(Some(doc)) => {
                let stack = opts
                    .stack_names
                    .iter()
                    .find(|(t, _)| same(t, &path))
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| stack_name_of(&path));
                let parameters = parameters_for(&path, opts, single)?;
                sources.push(Source {
                    path,
                    stack,
                    doc,
                    parameters,
                    inherited: BTreeMap::new(),
                });
            }
            Ok(None) if named => return Err(Error::NotTemplate { path }),
            Ok(None) => {}
            Err(source) if named => return Err(Error::Unreadable { path, source }),
            Err(why) => diagnostics.push(scope_error(format!(
                "template {} not audited: {why}",
                path.display()
            ))),
        }
    }
    // a template another one nests is built as its nested stack only
    let nested: BTreeSet<PathBuf> = sources
        .iter()
        .flat_map(|s| {
            let dir = s.path.parent().map(Path::to_path_buf).unwrap_or_default();
            s.doc
                .get("Resources")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter(|(_, r)| {
                    r.get("Type").and_then(Value::as_str) == Some("AWS::CloudFormation::Stack")
                })
                .filter_map(|(_, r)| r.pointer("/Properties/TemplateURL")?.as_str())
                .filter(|u| !u.contains("://"))
                .filter_map(|u| std::fs::canonicalize(dir.join(u)).ok())
                .collect::<Vec<_>>()
        })
        .collect();
    sources.retain(|s| std::fs::canonicalize(&s.path).map_or(true, |c| !nested.contains(&c)));
    if sources.is_empty() {
        return Err(Error::NoTemplate);
    }
    let mut b = Builder::new(opts);
    b.diagnostics = diagnostics;
    b.build_all(&sources)?;
    Ok(b.finish())
}

/// Gaps on facts only the live account has become notes: template mode
/// says they were not checked, and they do not fail the run. Gaps on
/// values the templates leave unresolved stay gaps.
pub fn settle(diagnostics: &mut [Diagnostic]) {
    for d in diagnostics.iter_mut() {
        if d.kind.is_gap() && d.permission.as_deref() == Some(build::NOT_CHECKED) {
            d.kind = DiagnosticKind::Note;
        }
    }
}

/// A resource referenced by ARN that no template defines.
fn outside<T>(what: &str, arn: &str) -> Observed<T> {
    Observed::Unknown {
        error: unresolved_error(format!("{what} {arn} is outside the templates")),
    }
}

/// A launch template's instance profile and metadata options.
type LaunchTemplateData = (Option<String>, Option<serde_json::Map<String, Value>>);

/// Everything read from the templates, before the wiring.
struct Builder<'o> {
    opts: &'o Options,
    snapshot: Snapshot,
    diagnostics: Vec<Diagnostic>,
    origins: BTreeMap<String, Origin>,
    /// Bucket policies by bucket name.
    bucket_policies: BTreeMap<String, Observed<crate::model::PolicyText>>,
    /// Alias name -> key id.
    aliases: BTreeMap<String, String>,
    /// Inline policies added by IAM::Policy / RolePolicy, by role name.
    extra_inline: BTreeMap<String, Vec<(String, Observed<crate::model::PolicyText>)>>,
    /// Managed policies attached by ManagedPolicy `Roles`, by role name.
    extra_attached: BTreeMap<String, Vec<String>>,
    /// Role ARNs by role name.
    role_arns: BTreeMap<String, String>,
    /// Instance profile name -> role names.
    profiles: BTreeMap<String, Observed<Vec<String>>>,
    /// Launch templates by id and by name: (profile, metadata options).
    launch_templates: BTreeMap<String, Observed<LaunchTemplateData>>,
    /// EC2 instances and Auto Scaling groups that would run.
    instances: Vec<PlannedInstance>,
    /// Deployment configurations by name.
    configs: BTreeMap<String, Observed<DeployConfig>>,
}

struct PlannedInstance {
    id: String,
    /// The Auto Scaling group it would belong to.
    asg: Option<String>,
    tags: BTreeMap<String, String>,
    profile: Option<String>,
    launch_template: Option<String>,
    unresolved: Option<ReadError>,
}

impl<'o> Builder<'o> {
    fn new(opts: &'o Options) -> Self {
        let mut snapshot = Snapshot::new(
            opts.account.clone(),
            vec![opts.region.clone()],
            "1970-01-01T00:00:00Z".to_string(),
        );
        snapshot.api_calls.clear();
        Builder {
            opts,
            snapshot,
            diagnostics: Vec::new(),
            origins: BTreeMap::new(),
            bucket_policies: BTreeMap::new(),
            aliases: BTreeMap::new(),
            extra_inline: BTreeMap::new(),
            extra_attached: BTreeMap::new(),
            role_arns: BTreeMap::new(),
            profiles: BTreeMap::new(),
            launch_templates: BTreeMap::new(),
            instances: Vec::new(),
            configs: BTreeMap::new(),
        }
    }

    fn scope<'a>(
        opts: &'a Options,
        s: &'a Source,
        exports: &'a Exports,
    ) -> Result<Scope<'a>, Error> {
        let mut parameters = BTreeMap::new();
        let declared = s
            .doc
            .get("Parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for given in s.parameters.keys() {
            if !declared.contains_key(given) {
                return Err(Error::UndeclaredParameter {
                    path: s.path.clone(),
                    name: given.clone(),
                });
            }
        }
        for (name, decl) in &declared {
            let ty = decl.get("Type").and_then(Value::as_str).unwrap_or("String");
            let raw = match s.inherited.get(name) {
                Some(Err(e)) => {
                    parameters.insert(name.clone(), Err(e.clone()));
                    continue;
                }
                Some(Ok(v)) => intrinsics::scalar_text(Some(v)).or_else(|| {
                    v.as_array().map(|a| {
                        a.iter()
                            .filter_map(|x| intrinsics::scalar_text(Some(x)))
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                }),
                None => s.parameters.get(name).cloned(),
            }
            .or_else(|| {
                decl.get("Default")
                    .and_then(|d| intrinsics::scalar_text(Some(d)))
            });
            let value: Eval<Value> = match raw {
                None => Err(Fail::Unresolved(format!(
                    "parameter {name} has no default and no value was given"
                ))),
                Some(_) if ty.starts_with("AWS::SSM::Parameter::Value") => Err(Fail::Unresolved(
                    format!("parameter {name} is read from SSM Parameter Store at deploy time"),
                )),
                Some(v) if ty.starts_with("List<") || ty == "CommaDelimitedList" => {
                    Ok(Value::Array(
                        v.split(',')
                            .map(|x| Value::String(x.trim().to_string()))
                            .collect(),
                    ))
                }
                Some(v) => Ok(Value::String(v)),
            };
            parameters.insert(name.clone(), value);
        }
        let mut resources = BTreeMap::new();
        if let Some(m) = s.doc.get("Resources").and_then(Value::as_object) {
            for (id, r) in m {
                let Some(ty) = r.get("Type").and_then(Value::as_str) else {
                    return Err(Error::NoType {
                        path: s.path.clone(),
                        logical_id: id.clone(),
                    });
                };
                resources.insert(
                    id.clone(),
                    RawResource {
                        resource_type: ty.to_string(),
                        properties: r
                            .get("Properties")
                            .and_then(Value::as_object)
                            .cloned()
                            .unwrap_or_default(),
                        condition: r
                            .get("Condition")
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    },
                );
            }
        }
        Ok(Scope::new(
            &opts.account,
            &opts.region,
            &opts.partition,
            &s.stack,
            parameters,
            &s.doc,
            resources,
            exports,
        ))
    }

    /// The exports of every template, evaluated until they no longer change
    /// (a template may export what it imports from another).
    fn exports(&self, sources: &[Source]) -> Result<Exports, Error> {
        let mut exports: Exports = BTreeMap::new();
        for _ in 0..=sources.len() {
            let mut next: Exports = BTreeMap::new();
            for s in sources {
                let scope = Self::scope(self.opts, s, &exports)?;
                let outputs = s.doc.get("Outputs").and_then(Value::as_object);
                for (name, o) in outputs.into_iter().flatten() {
                    let Some(export) = o.get("Export").and_then(|e| e.get("Name")) else {
                        continue;
                    };
                    if let Some(c) = o.get("Condition").and_then(Value::as_str) {
                        match scope.condition(c) {
                            Ok(false) => continue,
                            Ok(true) | Err(Fail::Unresolved(_)) => {}
                            Err(Fail::Invalid(e)) => {
                                return Err(Error::Invalid {
                                    path: s.path.clone(),
                                    source: Invalid::Intrinsic(e),
                                });
                            }
                        }
                    }
                    let export = match scope.value(export) {
                        Ok(v) => intrinsics::scalar_text(Some(&v)).unwrap_or_default(),
                        Err(Fail::Unresolved(_)) => continue,
                        Err(Fail::Invalid(e)) => {
                            return Err(Error::Invalid {
                                path: s.path.clone(),
                                source: Invalid::within(format!("output {name}"), e),
                            });
                        }
                    };
                    let value = match o.get("Value") {
                        Some(v) => scope.value(v),
                        None => Err(Fail::Invalid(format!("output {name} has no Value"))),
                    };
                    if let Err(Fail::Invalid(e)) = &value {
                        return Err(Error::Invalid {
                            path: s.path.clone(),
                            source: Invalid::within(format!("output {name}"), e.clone()),
                        });
                    }
                    if next.insert(export.clone(), value).is_some() {
                        return Err(Error::DuplicateExport { name: export });
                    }
                }
            }
            if next == exports {
                break;
            }
            exports = next;
        }
        Ok(exports)
    }

    fn build_all(&mut self, sources: &[Source]) -> Result<(), Error> {
        let exports = self.exports(sources)?;
        for s in sources {
            self.build_one(s, &exports, 0)
                .map_err(|source| Error::Invalid {
                    path: s.path.clone(),
                    source,
                })?;
        }
        Ok(())
    }

    fn origin(&mut self, arn: &str, s: &Source, logical_id: &str) {
        self.origins.insert(
            arn.to_string(),
            Origin {
                file: s.path.clone(),
                stack: s.stack.clone(),
                logical_id: logical_id.to_string(),
            },
        );
        self.snapshot.stacks.insert(
            arn.to_string(),
            Observed::ok(StackRef {
                stack: s.stack.clone(),
                logical_id: logical_id.to_string(),
                source: "template".to_string(),
            }),
        );
    }

    /// Builds one template's resources (and its nested stacks'); its outputs.
    fn build_one(
        &mut self,
        s: &Source,
        exports: &Exports,
        depth: usize,
    ) -> Result<BTreeMap<String, Eval<Value>>, Invalid> {
        let opts = self.opts;
        let mut scope = Self::scope(opts, s, exports)?;
        if let Some(t) = s.doc.get("Transform") {
            self.diagnostics.push(note(format!(
                "{}: transform {} is not expanded; what it would create is unknown",
                s.path.display(),
                intrinsics::scalar_text(Some(t)).unwrap_or_else(|| t.to_string())
            )));
        }
        // every condition is checked, used or not, as CloudFormation does
        for name in scope.conditions.keys() {
            if let Err(Fail::Invalid(e)) = scope.condition(name) {
                return Err(Invalid::Intrinsic(e));
            }
        }
        let nested = self.nested(s, &scope, exports, depth)?;
        scope.nested_outputs = nested;
        let (p, region, account) = (
            self.opts.partition.clone(),
            self.opts.region.clone(),
            self.opts.account.clone(),
        );
        for (logical_id, raw) in &scope.resources {
            let ty = raw.resource_type.as_str();
            match scope.created(logical_id) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(Fail::Unresolved(why)) => {
                    self.diagnostics.push(note(format!(
                        "{}: whether {logical_id} is created is not known ({why}); it is left out",
                        s.path.display()
                    )));
                    continue;
                }
                Err(Fail::Invalid(e)) => return Err(Invalid::Intrinsic(e)),
            }
            let identity = match scope.identity(logical_id) {
                Ok(i) => i,
                Err(Fail::Invalid(e)) => return Err(Invalid::Intrinsic(e)),
                Err(Fail::Unresolved(why)) => {
                    self.diagnostics.push(note(format!(
                        "{}: the name of {logical_id} ({ty}) is not known ({why}); it is left out",
                        s.path.display()
                    )));
                    continue;
                }
            };
            let props = Props { scope: &scope, raw };
            let name = identity.name.clone();
            let arn = identity.arn.clone().unwrap_or_default();
            let what = format!("{logical_id} ({ty})");
            match ty {
                "AWS::CodePipeline::Pipeline" => {
                    let v = observe(build::pipeline(&props, &name, &arn, &region), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.pipelines.insert(arn, v);
                }
                "AWS::CodeCommit::Repository" => {
                    let id = identity.ref_value.clone().unwrap_or_default();
                    let v = observe(build::repository(&props, &name, &arn, &id), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.repositories.insert(arn, v);
                }
                "AWS::CodeBuild::Project" => {
                    let v = observe(
                        build::build_project(&props, &name, &arn, &region, &account, &p),
                        &what,
                    )?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.build_projects.insert(arn, v);
                }
                "AWS::CodeDeploy::Application" => {
                    let id = names::uuid_like(&format!("app/{}/{logical_id}", s.stack));
                    let v = observe(build::deploy_application(&props, &name, &arn, &id), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.deploy_applications.insert(arn, v);
                }
                "AWS::CodeDeploy::DeploymentGroup" => {
                    match build::deploy_group(&props, &name, &p, &region, &account) {
                        Ok(g) => {
                            let arn = g.arn.clone();
                            self.origin(&arn, s, logical_id);
                            self.snapshot
                                .resources
                                .deploy_groups
                                .insert(arn, Observed::ok(g));
                        }
                        Err(Fail::Invalid(e)) => return Err(Invalid::within(what, e)),
                        Err(Fail::Unresolved(why)) => {
                            // the group's ARN needs its application's name
                            let app = props.text("ApplicationName").ok().flatten();
                            match app {
                                Some(app) => {
                                    let arn =
                                        codedeploy::group_arn(&p, &region, &account, &app, &name);
                                    self.origin(&arn, s, logical_id);
                                    self.snapshot.resources.deploy_groups.insert(
                                        arn,
                                        Observed::Unknown {
                                            error: unresolved_error(format!("{what}: {why}")),
                                        },
                                    );
                                }
                                None => self.diagnostics.push(note(format!(
                                    "{}: {what} is left out: {why}",
                                    s.path.display()
                                ))),
                            }
                        }
                    }
                }
                "AWS::CodeDeploy::DeploymentConfig" => {
                    let arn =
                        format!("arn:{p}:codedeploy:{region}:{account}:deploymentconfig:{name}");
                    let v = observe(build::deploy_config(&props, &name, &arn), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.configs.insert(name, v);
                }
                "AWS::Events::Rule" => {
                    let v = observe(build::event_rule(&props, &name, &arn), &what)?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.event_rules.insert(arn, v);
                }
                "AWS::S3::Bucket" => {
                    let v =
                        build::bucket(&props, &name, &arn).map_err(|e| Invalid::In {
                            what: what.clone(),
                            source: Box::new(e),
                        })?;
                    let eventbridge = observe(build::bucket_eventbridge(&props), &what)?;
                    self.snapshot.resources.source_buckets.insert(
                        arn.clone(),
                        eventbridge.map(|eventbridge| SourceBucket {
                            name: name.clone(),
                            arn: arn.clone(),
                            eventbridge,
                        }),
                    );
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.buckets.insert(arn, Observed::ok(v));
                }
                "AWS::S3::BucketPolicy" => {
                    let bucket = props.text("Bucket");
                    let doc = props.get("PolicyDocument");
                    match (bucket, doc) {
                        (Ok(Some(b)), doc) => {
                            let v = observe(
                                doc.map(|d| build::policy_text(&d.unwrap_or(Value::Null))),
                                &what,
                            )?;
                            let b = b.strip_prefix("arn:aws:s3:::").unwrap_or(&b).to_string();
                            self.bucket_policies.insert(b, v);
                        }
                        (Err(Fail::Invalid(e)), _) => return Err(Invalid::within(what, e)),
                        _ => self.diagnostics.push(note(format!(
                            "{}: the bucket of {what} is not known; its policy is left out",
                            s.path.display()
                        ))),
                    }
                }
                "AWS::KMS::Key" => {
                    let v = build::key(&props, &name, &arn, &p, &account)
                        .map_err(|e| Invalid::In {
                            what: what.clone(),
                            source: Box::new(e),
                        })?;
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.keys.insert(arn, Observed::ok(v));
                }
                "AWS::KMS::Alias" => match props.text("TargetKeyId") {
                    Ok(Some(k)) => {
                        let k = k.rsplit('/').next().unwrap_or(&k).to_string();
                        self.aliases.insert(name, k);
                    }
                    Err(Fail::Invalid(e)) => return Err(Invalid::within(what, e)),
                    _ => self.diagnostics.push(note(format!(
                        "{}: the key of alias {name} is not known",
                        s.path.display()
                    ))),
                },
                "AWS::IAM::Role" => {
                    let v = build::role(&props, &name, &arn).map_err(|e| Invalid::In {
                            what: what.clone(),
                            source: Box::new(e),
                        })?;
                    self.role_arns.insert(name, arn.clone());
                    self.origin(&arn, s, logical_id);
                    self.snapshot.resources.roles.insert(arn, Observed::ok(v));
                }
                "AWS::IAM::ManagedPolicy" => {
                    let v = build::managed_policy(&props, &name, &arn)
                        .map_err(|e| Invalid::In {
                            what: what.clone(),
                            source: Box::new(e),
                        })?;
                    if let Ok(Some(roles)) = props.get("Roles") {
                        for r in build::role_names(&roles) {
                            self.extra_attached.entry(r).or_default().push(arn.clone());
                        }
                    }
                    self.origin(&arn, s, logical_id);
                    self.snapshot
                        .resources
                        .managed_policies
                        .insert(arn, Observed::ok(v));
                }
                "AWS::IAM::Policy" | "AWS::IAM::RolePolicy" => {
                    let pname = props.text("PolicyName").ok().flatten().unwrap_or(name);
                    let doc = observe(
                        props
                            .get("PolicyDocument")
                            .map(|d| build::policy_text(&d.unwrap_or(Value::Null))),
                        &what,
                    )?;
                    let roles = if ty == "AWS::IAM::Policy" {
                        props
                            .get("Roles")
                            .map(|r| r.map(|r| build::role_names(&r)).unwrap_or_default())
                    } else {
                        props.text("RoleName").map(|r| r.into_iter().collect())
                    };
                    match roles {
                        Ok(roles) => {
                            for r in roles {
                                self.extra_inline
                                    .entry(r)
                                    .or_default()
                                    .push((pname.clone(), doc.clone()));
                            }
                        }
                        Err(Fail::Invalid(e)) => return Err(Invalid::within(what, e)),
                        Err(Fail::Unresolved(why)) => self.diagnostics.push(note(format!(
                            "{}: the roles of {what} are not known ({why})",
                            s.path.display()
                        ))),
                    }
                }
                "AWS::IAM::InstanceProfile" => {
                    let roles = observe(
                        props
                            .get("Roles")
                            .map(|r| r.map(|r| build::role_names(&r)).unwrap_or_default()),
                        &what,
                    )?;
                    self.profiles.insert(name, roles);
                }
                "AWS::EC2::LaunchTemplate" => {
                    let data = observe(
                        props.get("LaunchTemplateData").map(|d| {
                            let wrapped = serde_json::json!({"LaunchTemplateData": d});
                            build::launch_template_data(&wrapped)
                        }),
                        &what,
                    )?;
                    if let Some(id) = identity.attributes.get("LaunchTemplateId") {
                        self.launch_templates.insert(id.clone(), data.clone());
                    }
                    self.launch_templates.insert(name, data);
                }
                "AWS::EC2::Instance" => {
                    let planned = self.planned(&props, identity.name.clone(), None, false);
                    self.instances.push(planned);
                }
                "AWS::AutoScaling::AutoScalingGroup" => {
                    let capacity = ["DesiredCapacity", "MinSize"].iter().any(|k| {
                        props
                            .text(k)
                            .ok()
                            .flatten()
                            .and_then(|v| v.parse::<u64>().ok())
                            .is_some_and(|n| n > 0)
                    });
                    if capacity {
                        let id = format!(
                            "i-{}",
                            &names::uuid_like(&format!("asg/{}/{logical_id}", s.stack))
                                .replace('-', "")[..17]
                        );
                        let planned = self.planned(&props, id, Some(name), true);
                        self.instances.push(planned);
                    }
                }
                t if t.starts_with("Custom::")
                    || t == "AWS::CloudFormation::CustomResource"
                    || t.starts_with("AWS::Serverless::") =>
                {
                    self.diagnostics.push(note(format!(
                        "{}: {logical_id} ({t}) is not expanded; what it creates is unknown",
                        s.path.display()
                    )));
                }
                "AWS::CloudFormation::Stack" if !scope.nested_outputs.contains_key(logical_id) => {
                    self.diagnostics.push(note(format!(
                        "{}: nested stack {logical_id} is not followed (its TemplateURL is not a local template); its outputs are unknown",
                        s.path.display()
                    )));
                }
                _ => {}
            }
        }
        let mut outputs = BTreeMap::new();
        for (name, o) in s
            .doc
            .get("Outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let v = match o.get("Value") {
                Some(v) => scope.value(v),
                None => Err(Fail::Invalid(format!("output {name} has no Value"))),
            };
            if let Err(Fail::Invalid(e)) = &v {
                return Err(Invalid::within(format!("output {name}"), e.clone()));
            }
            outputs.insert(name.clone(), v);
        }
        Ok(outputs)
    }

    /// Follows the nested stacks whose `TemplateURL` is a local file
    /// (relative to the parent template): each is built as a stack of its
    /// own, with the parameters its parent passes; their outputs by the
    /// logical id of the stack resource.
    fn nested(
        &mut self,
        s: &Source,
        scope: &Scope<'_>,
        exports: &Exports,
        depth: usize,
    ) -> Result<BTreeMap<String, BTreeMap<String, Eval<Value>>>, Invalid> {
        let mut out = BTreeMap::new();
        for (logical_id, raw) in &scope.resources {
            if raw.resource_type != "AWS::CloudFormation::Stack"
                || !matches!(scope.created(logical_id), Ok(true))
            {
                continue;
            }
            let props = Props { scope, raw };
            let url = match props.text("TemplateURL") {
                Ok(Some(u)) => u,
                Err(Fail::Invalid(e)) => return Err(Invalid::within(logical_id, e)),
                _ => continue,
            };
            if url.contains("://") {
                continue;
            }
            if depth >= MAX_NESTING {
                return Err(Invalid::TooDeep {
                    logical_id: logical_id.clone(),
                });
            }
            let path = s
                .path
                .parent()
                .map(|d| d.join(&url))
                .unwrap_or_else(|| PathBuf::from(&url));
            let doc = match read_template(&path, &self.opts.texts) {
                Ok(Some(doc)) => doc,
                Ok(None) => {
                    return Err(Invalid::NestedNotTemplate {
                        logical_id: logical_id.clone(),
                        path,
                    });
                }
                Err(source) => {
                    return Err(Invalid::NestedUnreadable {
                        logical_id: logical_id.clone(),
                        path,
                        source,
                    });
                }
            };
            let mut inherited = BTreeMap::new();
            match props.get("Parameters") {
                Ok(Some(Value::Object(m))) => {
                    for (k, v) in m {
                        inherited.insert(k, Ok(v));
                    }
                }
                Ok(_) => {}
                Err(Fail::Invalid(e)) => return Err(Invalid::within(logical_id, e)),
                Err(Fail::Unresolved(_)) => {
                    // one unresolved value: evaluate each on its own
                    if let Some(m) = raw.properties.get("Parameters").and_then(Value::as_object) {
                        for (k, v) in m {
                            match scope.value(v) {
                                Err(Fail::Invalid(e)) => return Err(Invalid::within(logical_id, e)),
                                other => {
                                    inherited.insert(k.clone(), other);
                                }
                            }
                        }
                    }
                }
            }
            let stack = match scope.identity(logical_id) {
                Ok(i) => i.name,
                Err(Fail::Invalid(e)) => return Err(Invalid::Intrinsic(e)),
                Err(Fail::Unresolved(_)) => continue,
            };
            let child = Source {
                path: path.clone(),
                stack,
                doc,
                parameters: BTreeMap::new(),
                inherited,
            };
            let outputs = self
                .build_one(&child, exports, depth + 1)
                .map_err(|e| Invalid::Nested {
                    logical_id: logical_id.clone(),
                    path: path.clone(),
                    source: Box::new(e),
                })?;
            out.insert(logical_id.clone(), outputs);
        }
        Ok(out)
    }

    /// An instance (or an Auto Scaling group's instance) that would run.
    fn planned(
        &self,
        props: &Props<'_, '_>,
        id: String,
        asg: Option<String>,
        group: bool,
    ) -> PlannedInstance {
        let mut unresolved = None;
        let mut catch = |r: Eval<Option<Value>>| match r {
            Ok(v) => v,
            Err(Fail::Unresolved(why) | Fail::Invalid(why)) => {
                unresolved = Some(unresolved_error(why));
                None
            }
        };
        let tags = catch(props.get("Tags"));
        let profile = if group {
            None
        } else {
            catch(props.get("IamInstanceProfile"))
        };
        let lt = catch(props.get("LaunchTemplate"));
        let launch_template = lt.as_ref().and_then(|l| {
            l.get("LaunchTemplateId")
                .or_else(|| l.get("LaunchTemplateName"))
                .and_then(|x| intrinsics::scalar_text(Some(x)))
        });
        PlannedInstance {
            id,
            asg,
            tags: build::tags(tags.as_ref(), group),
            profile: profile.and_then(|p| intrinsics::scalar_text(Some(&p))),
            launch_template,
            unresolved,
        }
    }

    fn resolver_aliases(
        &self,
    ) -> BTreeMap<String, Result<crate::collect::kms::AliasMap, ReadError>> {
        let mut m = BTreeMap::new();
        m.insert(self.opts.region.clone(), Ok(self.aliases.clone()));
        m
    }

    /// An instance as a deployment group's target.
    fn target(&self, i: &PlannedInstance) -> Result<Ec2Instance, ReadError> {
        if let Some(e) = &i.unresolved {
            return Err(e.clone());
        }
        let lt = match &i.launch_template {
            Some(l) => match self.launch_templates.get(l) {
                Some(Observed::Ok { value }) => Some(value.clone()),
                Some(Observed::Unknown { error }) => return Err(error.clone()),
                _ => {
                    return Err(unresolved_error(format!(
                        "launch template {l} of {} is outside the templates",
                        i.id
                    )));
                }
            },
            None => None,
        };
        let profile = i
            .profile
            .clone()
            .or_else(|| lt.as_ref().and_then(|(p, _)| p.clone()));
        let meta = lt.as_ref().and_then(|(_, m)| m.clone());
        let tokens = meta
            .as_ref()
            .and_then(|m| m.get("HttpTokens"))
            .and_then(|v| intrinsics::scalar_text(Some(v)));
        let Some(tokens) = tokens else {
            return Err(not_checked(format!(
                "whether instance {} requires IMDSv2 depends on its image (no MetadataOptions.HttpTokens)",
                i.id
            )));
        };
        let (profile_arn, role_arn) = match &profile {
            None => (None, Observed::Absent),
            Some(pname) => {
                let pname = pname.rsplit('/').next().unwrap_or(pname).to_string();
                let arn = format!(
                    "arn:{}:iam::{}:instance-profile/{pname}",
                    self.opts.partition, self.opts.account
                );
                let role = match self.profiles.get(&pname) {
                    Some(Observed::Ok { value }) => match value.first() {
                        Some(r) => Observed::ok(self.role_arn(r)),
                        None => Observed::Absent,
                    },
                    Some(Observed::Unknown { error }) => Observed::Unknown {
                        error: error.clone(),
                    },
                    _ => Observed::Unknown {
                        error: unresolved_error(format!(
                            "instance profile {pname} is outside the templates"
                        )),
                    },
                };
                (Some(arn), role)
            }
        };
        let meta_text = |k: &str| {
            meta.as_ref()
                .and_then(|m| m.get(k))
                .and_then(|v| intrinsics::scalar_text(Some(v)))
        };
        Ok(Ec2Instance {
            id: i.id.clone(),
            state: "pending".to_string(),
            auto_scaling_group: i.asg.clone(),
            instance_profile_arn: profile_arn,
            role_arn,
            http_tokens: Some(tokens),
            http_endpoint: Some(meta_text("HttpEndpoint").unwrap_or_else(|| "enabled".into())),
            http_put_response_hop_limit: meta_text("HttpPutResponseHopLimit")
                .and_then(|v| v.parse().ok()),
            tags: i.tags.clone(),
        })
    }

    fn role_arn(&self, name: &str) -> String {
        self.role_arns.get(name).cloned().unwrap_or_else(|| {
            format!(
                "arn:{}:iam::{}:role/{name}",
                self.opts.partition, self.opts.account
            )
        })
    }

    fn finish(mut self) -> Built {
        let aliases = self.resolver_aliases();
        let (partition, account) = (self.opts.partition.clone(), self.opts.account.clone());
        let ids = Ids {
            partition: &partition,
            account: &account,
        };
        let resolver = KeyResolver {
            ids,
            aliases: &aliases,
        };
        let mut resources = std::mem::take(&mut self.snapshot.resources);
        let r = &mut resources;
        // policies and aliases onto their buckets and keys
        for (arn, b) in r.buckets.iter_mut() {
            if let Observed::Ok { value } = b {
                if let Some(p) = self.bucket_policies.get(&value.name) {
                    value.policy = p.clone();
                }
                if let Observed::Ok { value: enc } = &mut value.encryption {
                    for rule in &mut enc.rules {
                        rule.kms_key_arn = rule
                            .kms_master_key_id
                            .as_ref()
                            .and_then(|k| resolver.resolve(&self.opts.region, k).key_arn());
                    }
                }
            }
            let _ = arn;
        }
        for k in r.keys.values_mut() {
            if let Observed::Ok { value } = k {
                value.aliases = self
                    .aliases
                    .iter()
                    .filter(|(_, id)| **id == value.key_id)
                    .map(|(a, _)| a.clone())
                    .collect();
            }
        }
        for p in r.build_projects.values_mut() {
            if let Observed::Ok { value } = p {
                value.encryption_key_arn = value
                    .encryption_key
                    .as_ref()
                    .and_then(|k| resolver.resolve(&self.opts.region, k).key_arn());
            }
        }
        for role in r.roles.values_mut() {
            if let Observed::Ok { value } = role {
                if let Observed::Ok { value: inline } = &mut value.inline_policies {
                    for (n, d) in self.extra_inline.get(&value.name).into_iter().flatten() {
                        inline.insert(n.clone(), d.clone());
                    }
                }
                if let Observed::Ok { value: attached } = &mut value.attached_policies {
                    attached.extend(
                        self.extra_attached
                            .get(&value.name)
                            .into_iter()
                            .flatten()
                            .cloned(),
                    );
                    attached.sort();
                    attached.dedup();
                }
            }
        }
        // the wiring, as for a live account
        let mut wirings = Vec::new();
        for (arn, p) in &r.pipelines {
            let w = match p {
                Observed::Ok { value } => wiring::wire(value, ids, &resolver),
                _ => {
                    let name = arn.rsplit(':').next().unwrap_or(arn).to_string();
                    wiring::unread(self.opts.region.clone(), name, arn.clone())
                }
            };
            wirings.push(w);
        }
        // only the rules that may target a pipeline
        let pipeline_arns: BTreeSet<String> = r.pipelines.keys().cloned().collect();
        r.event_rules.retain(|_, rule| match rule {
            Observed::Ok { value } => value.targets.iter().any(|t| pipeline_arns.contains(&t.arn)),
            _ => true,
        });
        for w in &mut wirings {
            wiring::link_triggers(w, &r.event_rules);
        }
        // every referenced resource the templates do not define: unknown
        let mut roles: BTreeSet<String> = BTreeSet::new();
        let mut keys: BTreeSet<String> = BTreeSet::new();
        for w in &wirings {
            roles.extend(w.role_arn.clone());
            roles.extend(w.action_roles.iter().cloned());
            for s in &w.sources {
                r.repositories
                    .entry(s.repository_arn.clone())
                    .or_insert_with(|| outside("repository", &s.repository_arn));
            }
            for b in &w.builds {
                r.build_projects
                    .entry(b.project_arn.clone())
                    .or_insert_with(|| outside("build project", &b.project_arn));
            }
            for d in &w.deploys {
                r.deploy_applications
                    .entry(d.application_arn.clone())
                    .or_insert_with(|| outside("deploy application", &d.application_arn));
                r.deploy_groups
                    .entry(d.group_arn.clone())
                    .or_insert_with(|| outside("deployment group", &d.group_arn));
            }
            for s in &w.artifact_stores {
                r.buckets
                    .entry(s.bucket_arn.clone())
                    .or_insert_with(|| outside("bucket", &s.bucket_arn));
                keys.extend(s.key_arn.clone());
            }
            for c in &w.connection_sources {
                r.connections
                    .entry(c.connection_arn.clone())
                    .or_insert_with(|| Observed::Unknown {
                        error: not_checked(format!(
                            "the status of connection {}",
                            c.connection_arn
                        )),
                    });
            }
            for s in &w.s3_sources {
                r.source_buckets
                    .entry(s.bucket_arn.clone())
                    .or_insert_with(|| outside("bucket", &s.bucket_arn));
            }
        }
        for rule in r.event_rules.values() {
            if let Observed::Ok { value } = rule {
                roles.extend(value.role_arn.clone());
                roles.extend(value.targets.iter().filter_map(|t| t.role_arn.clone()));
            }
        }
        for p in r.build_projects.values() {
            if let Observed::Ok { value } = p {
                roles.extend(value.service_role.clone());
                keys.extend(value.encryption_key_arn.clone());
            }
        }
        for b in r.buckets.values() {
            if let Observed::Ok { value } = b
                && let Observed::Ok { value: enc } = &value.encryption
            {
                keys.extend(enc.rules.iter().filter_map(|r| r.kms_key_arn.clone()));
            }
        }
        // deployment configurations and targets
        let mut configs = BTreeMap::new();
        let mut targets = BTreeMap::new();
        for (garn, g) in &r.deploy_groups {
            let Observed::Ok { value: g } = g else {
                continue;
            };
            roles.extend(g.service_role_arn.clone());
            if let Some(name) = &g.deployment_config_name
                && let Some(carn) = codedeploy::config_arn(garn, name)
            {
                let v = match codedeploy::built_in_config(name, &carn) {
                    Some(config) => Observed::ok(config),
                    None => self
                        .configs
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| outside("deployment configuration", &carn)),
                };
                configs.insert(carn, v);
            }
            let selects = !g.ec2_tag_filters.is_empty()
                || !g.ec2_tag_set.is_empty()
                || !g.auto_scaling_groups.is_empty();
            if !selects {
                targets.insert(garn.clone(), Observed::ok(DeployTargets::default()));
                continue;
            }
            let chosen: Vec<&PlannedInstance> = self
                .instances
                .iter()
                .filter(|i| {
                    let by_tag = (!g.ec2_tag_filters.is_empty()
                        && g.ec2_tag_filters
                            .iter()
                            .any(|f| crate::collect::ec2::filter_matches(f, &i.tags)))
                        || (!g.ec2_tag_set.is_empty()
                            && g.ec2_tag_set.iter().all(|set| {
                                set.iter()
                                    .any(|f| crate::collect::ec2::filter_matches(f, &i.tags))
                            }));
                    let by_asg = i
                        .asg
                        .as_ref()
                        .is_some_and(|a| g.auto_scaling_groups.contains(a));
                    by_tag || by_asg
                })
                .collect();
            let v = if chosen.is_empty() {
                Observed::Unknown {
                    error: not_checked(format!(
                        "the instances deployment group {} selects (none is defined in the templates)",
                        g.name
                    )),
                }
            } else {
                let mut instances = Vec::new();
                let mut failed = None;
                for i in chosen {
                    match self.target(i) {
                        Ok(t) => instances.push(t),
                        Err(e) => failed = Some(e),
                    }
                }
                match failed {
                    Some(error) => Observed::Unknown { error },
                    None => {
                        instances.sort_by(|a, b| a.id.cmp(&b.id));
                        let read = instances.len() as u64;
                        Observed::ok(DeployTargets {
                            instances,
                            instances_read: read,
                            // the groups' launch templates: not followed
                            // in template mode (RP006 needs the account)
                            launch_templates: BTreeMap::new(),
                        })
                    }
                }
            };
            targets.insert(garn.clone(), v);
        }
        for t in targets.values() {
            if let Observed::Ok { value } = t {
                for i in &value.instances {
                    if let Observed::Ok { value } = &i.role_arn {
                        roles.insert(value.clone());
                    }
                }
            }
        }
        r.deploy_configs = configs;
        r.deploy_targets = targets;
        for role in roles {
            let role = if role.starts_with("arn:") {
                role
            } else {
                format!("arn:{partition}:iam::{account}:role/{role}")
            };
            r.roles
                .entry(role.clone())
                .or_insert_with(|| outside("role", &role));
        }
        for key in keys {
            r.keys.entry(key.clone()).or_insert_with(|| {
                if key.contains(":alias/aws/") {
                    Observed::Unknown {
                        error: not_checked(format!("the AWS managed key {key}")),
                    }
                } else {
                    outside("key", &key)
                }
            });
        }
        let attached: BTreeSet<String> = r
            .roles
            .values()
            .filter_map(|x| x.value())
            .filter_map(|x| x.attached_policies.value())
            .flatten()
            .cloned()
            .collect();
        for p in attached {
            r.managed_policies
                .entry(p.clone())
                .or_insert_with(|| match build::aws_managed_policy(&p) {
                    Some(v) => Observed::ok(v),
                    None if p.contains(":iam::aws:policy/") => Observed::Unknown {
                        error: not_checked(format!("the document of AWS managed policy {p}")),
                    },
                    None => outside("managed policy", &p),
                });
        }
        self.snapshot.resources = resources;
        wirings.sort_by(|a, b| a.arn.cmp(&b.arn));
        self.snapshot.pipelines = wirings;
        // who else may push, approve or change the pipeline is the live
        // account's IAM, which templates do not hold
        self.snapshot.principals = Some(Observed::Unknown {
            error: not_checked("the account's IAM principals (release paths)"),
        });
        self.snapshot.redact_secrets();
        Built {
            snapshot: self.snapshot,
            diagnostics: self.diagnostics,
            origins: self.origins,
        }
    }
}

#[cfg(test)]
mod tests;
