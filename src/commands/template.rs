//! Template mode (`--template`): the snapshot built from CloudFormation
//! templates, evaluated and reported as an audit; findings point at the
//! templates' lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Error;
use super::output::{write_patch, write_report};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::report;
use crate::rules::RuleSet;
use crate::rules::config::Config;
use crate::rules::engine;

/// The SARIF category prefix of template runs (`pipeaudit-template/aws/...`),
/// apart from live audits so that both can be uploaded.
pub const SARIF_CATEGORY: &str = "pipeaudit-template";

fn pair(value: &str, flag: &str, what: &str) -> Result<(PathBuf, String), Error> {
    match value.rsplit_once('=') {
        Some((t, v)) if !t.is_empty() && !v.is_empty() => Ok((PathBuf::from(t), v.to_string())),
        _ => Err(Error::Usage(format!(
            "{flag} {value:?}: expected TEMPLATE={what}"
        ))),
    }
}

/// The template options from the command line.
pub(super) fn options(g: &GlobalArgs, a: &AuditArgs) -> Result<crate::template::Options, Error> {
    let mut opts = crate::template::Options::default();
    match g.regions.as_slice() {
        [] => {}
        [one] if crate::collect::is_region_name(one) => opts.region = one.clone(),
        [one] => {
            return Err(Error::Usage(format!(
                "--region {one:?} is not a region name"
            )));
        }
        _ => {
            return Err(Error::Usage(
                "--template evaluates the templates in one --region".to_string(),
            ));
        }
    }
    if a.account_id.len() != 12 || !a.account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Usage(format!(
            "--account-id {:?} is not a 12-digit account id",
            a.account_id
        )));
    }
    opts.account = a.account_id.clone();
    if opts.region.starts_with("cn-") {
        opts.partition = "aws-cn".to_string();
    } else if opts.region.starts_with("us-gov-") {
        opts.partition = "aws-us-gov".to_string();
    }
    for p in &a.parameters {
        if p.contains('=') && !Path::new(p).is_file() {
            let (t, f) = pair(p, "--parameters", "FILE")?;
            opts.template_parameters.push((t, PathBuf::from(f)));
        } else if opts.parameters.replace(PathBuf::from(p)).is_some() {
            return Err(Error::Usage(
                "--parameters FILE is given twice; for several templates pass --parameters TEMPLATE=FILE"
                    .to_string(),
            ));
        }
    }
    for s in &a.stack_names {
        let (t, name) = pair(s, "--stack-name", "NAME")?;
        let valid = name.len() <= 128
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(Error::Usage(format!(
                "--stack-name {name:?}: a stack name is letters, digits and hyphens, starting with a letter"
            )));
        }
        opts.stack_names.push((t, name));
    }
    Ok(opts)
}

/// The directory report paths are relative to: `--iac-root` or the current
/// directory, or the templates' common parent when they lie outside it.
pub(super) fn root(a: &AuditArgs, files: &[&Path]) -> Result<PathBuf, Error> {
    let base = a.iac_root.clone().unwrap_or_else(|| PathBuf::from("."));
    let base = std::fs::canonicalize(&base).map_err(|e| Error::read(&base, e))?;
    let canon: Vec<PathBuf> = files
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok())
        .collect();
    if canon.iter().all(|f| f.starts_with(&base)) {
        return Ok(base);
    }
    let mut common = canon
        .first()
        .and_then(|f| f.parent())
        .map(Path::to_path_buf)
        .unwrap_or(base);
    while !canon.iter().all(|f| f.starts_with(&common)) {
        if !common.pop() {
            break;
        }
    }
    Ok(common)
}

/// Runs template mode.
pub fn run(g: &GlobalArgs, a: &AuditArgs, rules: &RuleSet, config: &Config) -> Result<u8, Error> {
    let opts = options(g, a)?;
    let built = crate::template::load(&a.templates, &opts).map_err(Error::stage)?;
    let snapshot = Arc::new(built.snapshot);
    let origins = built.origins;
    let mut eval = engine::evaluate(snapshot.clone(), rules, config);
    eval.diagnostics.extend(built.diagnostics);
    crate::template::settle(&mut eval.diagnostics);
    // the findings point at the templates' lines
    let files: Vec<&Path> = origins.values().map(|o| o.file.as_path()).collect();
    let root = root(a, &files)?;
    let rel_of = |file: &Path| {
        std::fs::canonicalize(file)
            .ok()
            .and_then(|f| f.strip_prefix(&root).ok().map(Path::to_path_buf))
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default()
    };
    let mut stacks: BTreeMap<String, String> = BTreeMap::new();
    for o in origins.values() {
        let rel = rel_of(&o.file);
        if let Some(previous) = stacks.insert(o.stack.clone(), rel.clone())
            && previous != rel
        {
            return Err(Error::Usage(format!(
                "{previous} and {rel} are both evaluated as stack {}; name them apart with --stack-name TEMPLATE=NAME",
                o.stack
            )));
        }
    }
    if let Some(out) = &a.fix_patch {
        let run = crate::patch::verify::Audit {
            templates: &a.templates,
            opts: &opts,
            rules,
            config,
        };
        let p = crate::patch::verify::patches(&run, &snapshot, &origins, &eval.findings, rel_of)
            .map_err(Error::stage)?;
        write_patch(out, &p)?;
        p.attach_changes(&mut eval.findings);
    }
    let index = crate::iac::Index::load(&crate::iac::Options {
        dirs: Vec::new(),
        root,
        stacks,
        tf_states: Vec::new(),
    })
    .map_err(Error::stage)?;
    eval.diagnostics.extend(crate::iac::locate(
        &mut eval.findings,
        &snapshot.stacks,
        rules,
        &index,
    ));
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    write_report(
        a,
        rules,
        &scopes,
        &mut eval,
        Some(&snapshot),
        SARIF_CATEGORY,
    )
}
