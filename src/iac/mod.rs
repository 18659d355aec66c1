//! Infrastructure as code: where each live resource was defined.
//!
//! A resource a CloudFormation stack manages is known by its stack and
//! logical id ([`crate::model::StackRef`], read by
//! [`crate::collect::stacks`]); its template is the file mapped to the stack
//! in `pipeaudit.toml` (`[iac.stacks]`), else the one template under the
//! `--iac` directories whose `Resources` hold that logical id with the same
//! type. None or several is a diagnostic, never a guess. A finding on a
//! located resource points at the resource's block, or at the property the
//! rule names for CloudFormation (`iac: {cloudformation: ...}`) when the
//! block writes it. Templates synthesized by the CDK (`cdk.out`) add the
//! construct path of `aws:cdk:path`. A resource no stack manages is looked
//! up in the Terraform states of `--tf-state` ([`terraform`]).

mod error;
pub mod lines;
pub mod template;
pub mod terraform;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::findings::{Diagnostic, DiagnosticKind, Finding};
use crate::model::{Observed, StackRef};
use crate::rules::RuleSet;
pub use error::{Error, StateError};
use std::sync::Arc;
use template::Template;

/// The CloudFormation stack that manages a resource, for the remediation
/// plan and drift.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Managed {
    pub stack: String,
    pub logical_id: String,
    /// `FILE:LINE` of its definition, when `--iac` found the template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

/// The CloudFormation type of a snapshot resource map (`keys`, `buckets`,
/// ...), as its kind declares it.
pub fn cloudformation_type(resource_kind: &str) -> Option<&'static str> {
    crate::collect::kind::about(resource_kind).and_then(|k| k.cloudformation)
}

/// Where to look for infrastructure as code.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The directories of `--iac`.
    pub dirs: Vec<PathBuf>,
    /// Paths in reports are relative to this (`--iac-root`, default the current directory).
    pub root: PathBuf,
    /// `[iac.stacks]`: stack name -> template path, relative to `root`.
    pub stacks: BTreeMap<String, String>,
    /// The Terraform states of `--tf-state`.
    pub tf_states: Vec<PathBuf>,
}

/// The templates found, and what went wrong finding them.
pub struct Index {
    root: PathBuf,
    templates: Vec<Template>,
    mapped: BTreeMap<String, Result<usize, Error>>,
    tf: terraform::TfIndex,
    state: terraform::State,
    /// Files passed over (relative path, why): too large, not parsed.
    skipped: Vec<(String, String)>,
}

fn canonical(p: &Path) -> Result<PathBuf, std::io::Error> {
    std::fs::canonicalize(p)
}

/// `path` relative to `root`, with `/` separators; None when outside it.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("/"))
    }
}

impl Options {
    /// The root and the directories, canonical, when each exists and the
    /// directories lie inside the root; and every Terraform state exists.
    /// Cheap: no file under the directories is read.
    fn check(&self) -> Result<(PathBuf, Vec<PathBuf>), Error> {
        fn flag(flag: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
            let path = path.to_path_buf();
            move |e| Error::Flag {
                flag,
                path,
                source: Arc::new(e),
            }
        }
        let root = canonical(&self.root).map_err(flag("--iac-root", &self.root))?;
        let mut dirs = Vec::new();
        for dir in &self.dirs {
            let dir = canonical(dir).map_err(flag("--iac", dir))?;
            if !dir.starts_with(&root) {
                return Err(Error::OutsideRoot { dir, root });
            }
            dirs.push(dir);
        }
        for p in &self.tf_states {
            std::fs::metadata(p).map_err(|e| Error::StateMissing {
                path: p.clone(),
                source: Arc::new(e),
            })?;
        }
        Ok((root, dirs))
    }
}

/// The templates under `--iac`, read on first use: the paths are checked
/// when it is made (a bad `--iac` fails before anything is collected), the
/// files only when a located resource needs them (an audit without findings,
/// or whose resources no stack or state holds, reads none).
pub struct Lazy {
    opts: Options,
    index: std::cell::OnceCell<Result<Index, Error>>,
}

impl Lazy {
    /// Checks the paths; reads nothing under them.
    pub fn new(opts: Options) -> Result<Lazy, Error> {
        opts.check()?;
        Ok(Lazy {
            opts,
            index: std::cell::OnceCell::new(),
        })
    }

    /// The index, read the first time it is asked for.
    pub fn get(&self) -> Result<&Index, Error> {
        self.index
            .get_or_init(|| Index::load(&self.opts))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Whether the templates have been read.
    pub fn is_read(&self) -> bool {
        self.index.get().is_some()
    }

    /// Whether Terraform states were given.
    pub fn has_states(&self) -> bool {
        !self.opts.tf_states.is_empty()
    }
}

/// Whether locating `findings` needs the templates: some finding's resource
/// is managed by a known stack, or is in no stack while Terraform states
/// were given. A resource whose stack could not be read needs none (its
/// diagnostic says so).
pub fn needs_templates(
    findings: &[Finding],
    stacks: &BTreeMap<String, Observed<StackRef>>,
    has_states: bool,
) -> bool {
    findings.iter().any(|f| match stacks.get(&f.resource_arn) {
        Some(Observed::Ok { .. }) => true,
        Some(Observed::Unknown { .. }) => false,
        Some(Observed::Absent) | None => has_states,
    })
}

impl Index {
    /// Finds the templates under the directories and the mapped ones. A
    /// directory that cannot be read is an error; a file that is not a
    /// template is passed over.
    pub fn load(opts: &Options) -> Result<Index, Error> {
        let (root, dirs) = opts.check()?;
        let mut files: BTreeSet<PathBuf> = BTreeSet::new();
        let mut skipped_paths: Vec<(PathBuf, String)> = Vec::new();
        for dir in &dirs {
            template::walk(dir, &mut files, &mut skipped_paths, 0);
        }
        let mut skipped: Vec<(String, String)> = skipped_paths
            .into_iter()
            .filter_map(|(p, why)| relative(&root, &p).map(|rel| (rel, why)))
            .collect();
        let mut templates = Vec::new();
        for path in &files {
            let Some(rel) = relative(&root, path) else {
                continue;
            };
            if path.extension().is_some_and(|e| e == "tf") {
                continue;
            }
            match Template::read_or_why(path, rel.clone()) {
                Ok(Some(t)) => templates.push(t),
                Ok(None) => {}
                Err(why) => skipped.push((rel, why.to_string())),
            }
        }
        let mut mapped = BTreeMap::new();
        for (stack, file) in &opts.stacks {
            let path = root.join(file);
            let found = match canonical(&path) {
                Err(e) => Err(Error::StackUnreadable {
                    stack: stack.clone(),
                    path: path.clone(),
                    source: Arc::new(e),
                }),
                Ok(path) => match relative(&root, &path) {
                    None => Err(Error::StackOutsideRoot {
                        stack: stack.clone(),
                        file: file.clone(),
                        root: root.clone(),
                    }),
                    Some(rel) => match templates.iter().position(|t| t.rel == rel) {
                        Some(i) => Ok(i),
                        None => match Template::read(&path, rel) {
                            Some(t) => {
                                templates.push(t);
                                Ok(templates.len() - 1)
                            }
                            None => Err(Error::StackNotTemplate {
                                stack: stack.clone(),
                                file: file.clone(),
                            }),
                        },
                    },
                },
            };
            mapped.insert(stack.clone(), found);
        }
        let mut state = terraform::State::default();
        for p in &opts.tf_states {
            state.load(p)?;
        }
        let tf = terraform::TfIndex::load(&files, |p| relative(&root, p));
        Ok(Index {
            root,
            templates,
            mapped,
            tf,
            state,
            skipped,
        })
    }

    /// The files passed over, with why (relative path, reason).
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// `; skipped: a.yaml (why), ...` for an error saying no template was
    /// found: one of those may be the one.
    fn skipped_note(&self) -> String {
        if self.skipped.is_empty() {
            return String::new();
        }
        const SHOWN: usize = 5;
        let mut list: Vec<String> = self
            .skipped
            .iter()
            .take(SHOWN)
            .map(|(rel, why)| {
                let why: String = why.lines().next().unwrap_or("").chars().take(160).collect();
                format!("{rel} ({why})")
            })
            .collect();
        if self.skipped.len() > SHOWN {
            list.push(format!("and {} more", self.skipped.len() - SHOWN));
        }
        format!("; files skipped: {}", list.join(", "))
    }

    /// The templates found, by path relative to the root.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.templates.iter()
    }

    /// The file and lines of a Terraform resource address in the `.tf`
    /// files under `--iac`, the property's when given and written.
    /// The `.tf` files under `--iac`.
    pub fn terraform(&self) -> &terraform::TfIndex {
        &self.tf
    }

    pub fn locate_terraform(
        &self,
        address: &str,
        property: Option<&str>,
    ) -> Result<crate::findings::DefinedIn, Error> {
        self.tf.locate(address, property)
    }

    /// The root paths are relative to.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The template of a stack's resource: the mapped one, else the only one
    /// holding the logical id with that type.
    pub fn template_of(&self, s: &StackRef, resource_type: &str) -> Result<&Template, Error> {
        if let Some(m) = self.mapped.get(&s.stack) {
            let t = &self.templates[m.clone()?];
            return match t.resources.get(&s.logical_id) {
                Some(ty) if ty == resource_type => Ok(t),
                Some(ty) => Err(Error::WrongType {
                    file: t.rel.clone(),
                    logical_id: s.logical_id.clone(),
                    stack: s.stack.clone(),
                    found: ty.clone(),
                    wanted: resource_type.to_string(),
                }),
                None => Err(Error::NotInMapped {
                    file: t.rel.clone(),
                    stack: s.stack.clone(),
                    logical_id: s.logical_id.clone(),
                }),
            };
        }
        let candidates: Vec<&Template> = self
            .templates
            .iter()
            .filter(|t| t.resources.get(&s.logical_id).map(String::as_str) == Some(resource_type))
            .collect();
        match candidates.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::NoTemplate {
                logical_id: s.logical_id.clone(),
                resource_type: resource_type.to_string(),
                stack: s.stack.clone(),
                skipped: self.skipped_note(),
            }),
            many => Err(Error::Ambiguous {
                logical_id: s.logical_id.clone(),
                resource_type: resource_type.to_string(),
                stack: s.stack.clone(),
                files: many.iter().map(|t| t.rel.clone()).collect(),
            }),
        }
    }
}

fn diagnostic(f: &Finding, message: String, permission: Option<String>) -> Diagnostic {
    Diagnostic {
        kind: DiagnosticKind::IacLocation,
        account: None,
        rule_id: None,
        pipeline: None,
        resource: Some(f.resource_arn.clone()),
        permission,
        message,
    }
}

/// Sets `defined_in` on each finding whose resource a stack manages and
/// whose template is found; a diagnostic for each resource that could not
/// be located (one per resource, however many findings it has).
pub fn locate(
    findings: &mut [Finding],
    stacks: &BTreeMap<String, Observed<StackRef>>,
    rules: &RuleSet,
    index: &Index,
) -> Vec<Diagnostic> {
    let property: BTreeMap<&str, &str> = rules
        .rules
        .iter()
        .filter_map(|r| {
            let p = r.file.iac.as_ref()?.cloudformation.as_deref()?;
            Some((r.file.id.as_str(), p))
        })
        .collect();
    let tf_property: BTreeMap<&str, &str> = rules
        .rules
        .iter()
        .filter_map(|r| {
            let p = r.file.iac.as_ref()?.terraform.as_deref()?;
            Some((r.file.id.as_str(), p))
        })
        .collect();
    let mut diagnostics = Vec::new();
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for f in findings.iter_mut() {
        let stack = match stacks.get(&f.resource_arn) {
            Some(Observed::Ok { value }) => value,
            Some(Observed::Unknown { error }) => {
                if reported.insert(f.resource_arn.clone()) {
                    diagnostics.push(diagnostic(
                        f,
                        format!(
                            "cannot tell which stack manages {}: {} failed ({}); its findings keep their pseudo-path",
                            f.resource_arn, error.action, error.message
                        ),
                        Some(error.action.clone()),
                    ));
                }
                continue;
            }
            Some(Observed::Absent) | None => {
                // no stack: a Terraform resource, when a state names it
                if let Some(address) = index.state.by_arn.get(&f.resource_arn) {
                    match index
                        .tf
                        .locate(address, tf_property.get(f.rule_id.as_str()).copied())
                    {
                        Ok(d) => f.defined_in = Some(d),
                        Err(message) => {
                            if reported.insert(f.resource_arn.clone()) {
                                diagnostics.push(diagnostic(f, message.to_string(), None));
                            }
                        }
                    }
                }
                continue;
            }
        };
        let template = match index.template_of(stack, &f.resource_type) {
            Ok(t) => t,
            Err(message) => {
                if reported.insert(f.resource_arn.clone()) {
                    diagnostics.push(diagnostic(f, message.to_string(), None));
                }
                continue;
            }
        };
        f.defined_in = template.locate(stack, property.get(f.rule_id.as_str()).copied());
    }
    diagnostics
}
