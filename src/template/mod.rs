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
mod files;
mod finish;
pub mod intrinsics;
pub mod names;
mod stack;
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
pub(crate) use files::walk_files;
use files::{files_of, parameters_for, read_template, same, stack_name_of};
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
}

#[cfg(test)]
mod tests;
