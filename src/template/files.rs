//! Finding and reading the files of template mode: templates, their
//! parameter files, and the stack name a file stands for.

use super::*;

/// A stack name from a file stem: letters, digits and hyphens.
pub(super) fn stack_name_of(path: &Path) -> String {
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
pub(super) fn read_parameters(path: &Path) -> Result<BTreeMap<String, String>, Error> {
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
pub(super) fn read_template(
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
pub(super) fn files_of(dir: &Path, out: &mut Vec<PathBuf>, depth: usize) {
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
pub(super) fn parameters_for(
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

pub(super) fn same(a: &Path, b: &Path) -> bool {
    a == b
        || matches!((std::fs::canonicalize(a), std::fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}
