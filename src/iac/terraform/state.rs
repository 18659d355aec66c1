//! Terraform states: each managed resource instance's ARN mapped to its
//! address.

use super::*;

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
    pub fn load(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::StateRead {
            path: path.to_path_buf(),
            source: Arc::new(e),
        })?;
        self.parse(&text).map_err(|source| Error::StateInvalid {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses the text of a state or of `terraform show -json`.
    pub fn parse(&mut self, text: &str) -> Result<(), StateError> {
        let doc: serde_json::Value =
            serde_json::from_str(text).map_err(|e| StateError::Json(Arc::new(e)))?;
        if let Some(root) = doc.get("values").and_then(|v| v.get("root_module")) {
            walk_module(root, &mut self.by_arn);
            return Ok(());
        }
        if doc.get("values").is_some() && doc.get("format_version").is_some() {
            return Ok(()); // `terraform show -json` of an empty state
        }
        let Some(resources) = doc.get("resources").and_then(|r| r.as_array()) else {
            return Err(StateError::NotState);
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
