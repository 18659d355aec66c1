//! Lambda invoke actions against moto_server 5.1.22: reference stacks with
//! a verification stage that invokes a function seeded in moto (role, code
//! signing configuration). The correct one is clean; an administrative
//! role fires CD017 and a function without code signing CD018, each for
//! exactly its function; a denied GetFunction is a diagnostic naming the
//! permission, never "admin".

use crate::support;

use std::collections::BTreeSet;

use aws_sdk_codepipeline::types as cp;
use serde_json::json;
use support::moto::Moto;
use support::proxy::{Fault, FaultProxy};
use support::seed::{self, SeedClients, StackSpec};

const REGION: &str = "us-east-1";

/// moto stores no custom key on a build project (CB004) and drops a
/// deployment group's alarm configuration (CD006): see `audit_moto`.
const MOTO_FORCED: &[&str] = &["CB004", "CD006"];

/// The smallest valid zip archive (an end of central directory record).
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Seeds a reference stack with a `Verify` stage invoking `<prefix>-check`;
/// returns (pipeline name, function ARN).
async fn seed_invoke(
    c: &SeedClients,
    lambda: &aws_sdk_lambda::Client,
    prefix: &str,
    admin: bool,
    signed: bool,
) -> anyhow::Result<(String, String)> {
    let s = seed::seed_stack(
        c,
        &StackSpec {
            prefix: prefix.to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await?;
    let statement = if admin {
        json!({"Effect":"Allow","Action":"*","Resource":"*"})
    } else {
        json!({"Effect":"Allow","Action":["codepipeline:PutJobSuccessResult","codepipeline:PutJobFailureResult"],"Resource":"*"})
    };
    let role = seed::role(
        c,
        &format!("{prefix}-check-role"),
        "lambda.amazonaws.com",
        Some(json!({"Version":"2012-10-17","Statement":[statement]})),
    )
    .await?;
    let name = format!("{prefix}-check");
    let mut create = lambda
        .create_function()
        .function_name(&name)
        .role(&role)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .handler("check.handler")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(EMPTY_ZIP.to_vec()))
                .build(),
        );
    if signed {
        create = create.code_signing_config_arn(format!(
            "arn:aws:lambda:{REGION}:{}:code-signing-config:csc-0123456789abcdef0",
            c.account
        ));
    }
    let out = create.send().await?;
    let arn = out.function_arn().unwrap_or_default().to_string();
    let invoke = cp::ActionDeclaration::builder()
        .name("Check")
        .action_type_id(
            cp::ActionTypeId::builder()
                .category(cp::ActionCategory::Invoke)
                .owner(cp::ActionOwner::Aws)
                .provider("Lambda")
                .version("1")
                .build()?,
        )
        .configuration("FunctionName", &name)
        .input_artifacts(cp::InputArtifact::builder().name("BuildOutput").build()?)
        .run_order(1)
        .build()?;
    let mut decl = seed::declaration(c, &s.pipeline_name).await?;
    decl.stages.push(
        cp::StageDeclaration::builder()
            .name("Verify")
            .actions(invoke)
            .build()?,
    );
    seed::update_declaration(c, decl).await?;
    Ok((s.pipeline_name, arn))
}

fn audit(endpoint: &str) -> serde_json::Value {
    let o = support::pipeaudit_command(endpoint)
        .args(["--region", REGION, "-q", "--format", "json"])
        .args(["--max-attempts", "1"])
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"));
    support::stdout_json(&o)
}

#[tokio::test]
async fn invoked_functions_fire_exactly_their_rules_and_denied_reads_are_gaps() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, REGION)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let lambda = aws_sdk_lambda::Client::new(&moto.sdk_config(REGION).await);
    let mut seeded = Vec::new();
    for (prefix, admin, signed) in [
        ("fn-ok", false, true),
        ("fn-admin", true, true),
        ("fn-unsigned", false, false),
    ] {
        seeded.push(
            seed_invoke(&c, &lambda, prefix, admin, signed)
                .await
                .unwrap_or_else(|e| panic!("seed {prefix}: {e:#}")),
        );
    }
    let clean = audit(&moto.endpoint);
    assert!(
        support::diagnostics(&clean).is_empty(),
        "{:#?}",
        support::diagnostics(&clean)
    );
    let findings = support::findings(&clean);
    let of = |pipeline: &str| -> BTreeSet<(String, String)> {
        clean["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["pipeline"] == pipeline)
            .map(|f| {
                (
                    f["rule_id"].as_str().unwrap_or_default().to_string(),
                    f["resource_arn"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let ids = |pipeline: &str| -> BTreeSet<String> {
        of(pipeline).into_iter().map(|(id, _)| id).collect()
    };
    let forced: BTreeSet<String> = MOTO_FORCED.iter().map(|s| s.to_string()).collect();
    let [(ok, _), (admin, admin_fn), (unsigned, unsigned_fn)] = &seeded[..] else {
        panic!("three stacks");
    };
    assert_eq!(ids(ok), forced, "{ok}");
    for (pipeline, rule, function) in [(admin, "CD017", admin_fn), (unsigned, "CD018", unsigned_fn)]
    {
        let mut want = forced.clone();
        want.insert(rule.to_string());
        assert_eq!(ids(pipeline), want, "{pipeline}");
        let hits: Vec<(String, String)> = of(pipeline)
            .into_iter()
            .filter(|(id, _)| id == rule)
            .collect();
        assert_eq!(hits, [(rule.to_string(), function.clone())], "{pipeline}");
    }

    // GetFunction denied: no CD017 or CD018, a gap naming lambda:GetFunction
    let proxy = FaultProxy::start(
        &moto.endpoint,
        Box::new(|r, _| {
            (r.service() == "lambda"
                && r.method == "GET"
                && r.path.contains("/functions/")
                && !r.path.contains("code-signing-config"))
            .then_some(Fault::AccessDenied)
        }),
    );
    let denied = audit(&proxy.endpoint);
    let after = support::findings(&denied);
    assert!(
        after.is_subset(&findings),
        "{:?}",
        after.difference(&findings)
    );
    let after_ids = support::rule_ids(&denied);
    assert!(!after_ids.contains("CD017") && !after_ids.contains("CD018"));
    let diags = support::diagnostics(&denied);
    for rule in ["CD017", "CD018"] {
        assert!(
            diags
                .iter()
                .any(|d| d["rule_id"] == rule && d["permission"] == "lambda:GetFunction"),
            "{rule}: {diags:#?}"
        );
    }
    for d in &diags {
        assert_eq!(d["permission"], "lambda:GetFunction", "{d:#}");
    }
}
