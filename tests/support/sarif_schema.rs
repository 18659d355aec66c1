//! Validation of SARIF against both copies of the 2.1.0 schema in
//! `tests/fixtures/` (OASIS errata01, and the upload action's).

use serde_json::Value;

/// Panics with every schema error of `doc`, for each schema.
pub fn validate(doc: &Value) {
    for name in [
        "sarif-schema-2.1.0.json",
        "sarif-schema-2.1.0.upload-action.json",
    ] {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut schema: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        // The upload action's copy nests an `anyOf` inside region.properties
        // (so it declares a *property* named "anyOf", with an array as its
        // schema), which a strict draft-04 compiler rejects. GitHub's
        // validator ignores it; so does removing it, since no region has a
        // property of that name.
        if let Some(props) = schema
            .pointer_mut("/definitions/region/properties")
            .and_then(Value::as_object_mut)
            .filter(|p| p.get("anyOf").is_some_and(Value::is_array))
        {
            props.remove("anyOf");
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}
