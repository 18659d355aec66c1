//! The crafted snapshot of hostile names: the bundled demo with the names of
//! `tests/fixtures/hostile/names.json` substituted, an S3 source with a
//! hostile object key and a scope error with a hostile message, for
//! `tests/integration/hostile.rs`.

use serde_json::{Value, json};

/// The fixture of hostile names.
pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/hostile/names.json"
);

/// The bundled demo snapshot.
pub const DEMO_SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

/// The fixture, parsed.
pub fn fixture() -> Value {
    let text = std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{FIXTURE}: {e}"))
}

/// The (find, replace) pairs of the fixture.
pub fn substitutions(fixture: &Value) -> Vec<(String, String)> {
    fixture["substitutions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["find"].as_str().unwrap_or_default().to_string(),
                s["replace"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn substitute(v: &mut Value, subs: &[(String, String)]) {
    let apply = |s: &str| {
        subs.iter().fold(s.to_string(), |acc, (find, replace)| {
            acc.replace(find, replace)
        })
    };
    match v {
        Value::String(s) => *s = apply(s),
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, subs)),
        Value::Object(map) => {
            let old = std::mem::take(map);
            for (k, mut item) in old {
                substitute(&mut item, subs);
                map.insert(apply(&k), item);
            }
        }
        _ => {}
    }
}

/// The crafted snapshot.
pub fn snapshot() -> Value {
    let fixture = fixture();
    let text =
        std::fs::read_to_string(DEMO_SNAPSHOT).unwrap_or_else(|e| panic!("{DEMO_SNAPSHOT}: {e}"));
    let mut snap: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DEMO_SNAPSHOT}: {e}"));
    substitute(&mut snap, &substitutions(&fixture));
    let s3 = &fixture["s3_source"];
    let bucket = s3["bucket"].as_str().unwrap_or_default();
    if let Some(w) = snap["pipelines"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == s3["pipeline"])
    {
        w["s3_sources"] = json!([{
            "stage": "Source",
            "action": "Source",
            "region": "us-east-1",
            "bucket": bucket,
            "bucket_arn": format!("arn:aws:s3:::{bucket}"),
            "object_key": s3["object_key"],
            "poll_for_source_changes": true,
        }]);
    }
    // a Lambda deployment group whose last deployment's AppSpec names a
    // function with a hostile name (no code signing: CD018 names it)
    let l = &fixture["lambda_deploy"];
    let function = l["function"].as_str().unwrap_or_default();
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
    let group = snap["pipelines"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["name"] == l["pipeline"])
        .and_then(|w| w["deploys"][0]["group_arn"].as_str())
        .map(str::to_string);
    if let Some(group) = group {
        let g = &mut snap["resources"]["deploy_groups"][group.as_str()]["value"];
        g["compute_platform"] = json!("Lambda");
        g["deployment_config_name"] = json!("CodeDeployDefault.LambdaCanary10Percent5Minutes");
        g["lambda_deployment"] = json!({"status": "ok", "value": {
            "deployment_id": "d-HOSTILE1",
            "revision_type": "AppSpecContent",
            "functions": [{"name": function, "arn": arn, "alias": "live"}],
        }});
        snap["resources"]["lambda_functions"] = json!({arn.as_str(): {"status": "ok", "value": {
            "name": function,
            "arn": arn,
            "role_arn": null,
            "runtime": null,
            "code_signing_config": {"status": "absent"},
        }}});
    }
    let e = &fixture["scope_error"];
    if let Some(list) = snap["scope_errors"].as_array_mut() {
        list.push(json!({
            "region": e["region"],
            "scope": e["scope"],
            "error": {
                "kind": "access_denied",
                "action": "codepipeline:ListPipelines",
                "code": "AccessDeniedException",
                "message": e["message"],
            },
        }));
    }
    snap
}
