//! Lambda invoke actions against moto_server 5.1.22: reference stacks with
//! a verification stage that invokes a function seeded in moto (role, code
//! signing configuration). The correct one is clean; an administrative
//! role fires CD017 and a function without code signing CD018, each for
//! exactly its function; a role that can write IAM policies fires CD017
//! and, when the action hands the function the pipeline's artifacts, IA004
//! on that role (not when it hands it nothing); a denied GetFunction is a
//! diagnostic naming the permission, never "admin".

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

/// What the function's role may do.
#[derive(Clone, Copy)]
enum Powers {
    /// Report its job's result only.
    Least,
    /// `*` on `*`.
    Admin,
    /// Write any role's inline policy: it can give itself anything.
    Escalates,
}

/// Seeds a reference stack with a `Verify` stage invoking `<prefix>-check`
/// (handing it the build output when `artifacts`); returns (pipeline name,
/// function ARN, role ARN).
async fn seed_invoke(
    c: &SeedClients,
    lambda: &aws_sdk_lambda::Client,
    prefix: &str,
    powers: Powers,
    signed: bool,
    artifacts: bool,
) -> anyhow::Result<(String, String, String)> {
    let s = seed::seed_stack(
        c,
        &StackSpec {
            prefix: prefix.to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await?;
    let statement = match powers {
        Powers::Admin => json!({"Effect":"Allow","Action":"*","Resource":"*"}),
        Powers::Least => {
            json!({"Effect":"Allow","Action":["codepipeline:PutJobSuccessResult","codepipeline:PutJobFailureResult"],"Resource":"*"})
        }
        Powers::Escalates => {
            json!({"Effect":"Allow","Action":["codepipeline:PutJobSuccessResult","iam:PutRolePolicy"],"Resource":"*"})
        }
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
    let mut invoke = cp::ActionDeclaration::builder()
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
        .run_order(1);
    if artifacts {
        invoke = invoke.input_artifacts(cp::InputArtifact::builder().name("BuildOutput").build()?);
    }
    let invoke = invoke.build()?;
    let mut decl = seed::declaration(c, &s.pipeline_name).await?;
    decl.stages.push(
        cp::StageDeclaration::builder()
            .name("Verify")
            .actions(invoke)
            .build()?,
    );
    seed::update_declaration(c, decl).await?;
    Ok((s.pipeline_name, arn, role))
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
    for (prefix, powers, signed, artifacts) in [
        ("fn-ok", Powers::Least, true, true),
        ("fn-admin", Powers::Admin, true, true),
        ("fn-unsigned", Powers::Least, false, true),
        ("fn-escalates", Powers::Escalates, true, true),
        ("fn-noinput", Powers::Escalates, true, false),
    ] {
        seeded.push(
            seed_invoke(&c, &lambda, prefix, powers, signed, artifacts)
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
    let [
        (ok, _, _),
        (admin, admin_fn, _),
        (unsigned, unsigned_fn, _),
        (escalates, escalates_fn, escalates_role),
        (noinput, noinput_fn, _),
    ] = &seeded[..]
    else {
        panic!("five stacks");
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
    // IA004 on the role of the function handed the artifacts, CD017 on the
    // function either way
    let mut want = forced.clone();
    want.insert("CD017".to_string());
    assert_eq!(ids(noinput), want, "{noinput}");
    assert!(of(noinput).contains(&("CD017".to_string(), noinput_fn.clone())));
    want.insert("IA004".to_string());
    assert_eq!(ids(escalates), want, "{escalates}");
    assert!(of(escalates).contains(&("CD017".to_string(), escalates_fn.clone())));
    assert!(of(escalates).contains(&("IA004".to_string(), escalates_role.clone())));
    let ia004 = clean["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["rule_id"] == "IA004" && f["pipeline"] == escalates.as_str())
        .and_then(|f| f["message"].as_str())
        .unwrap_or_default();
    assert!(
        ia004.contains("lambda.amazonaws.com for")
            && ia004.contains("with the pipeline's artifacts, built from the source"),
        "{ia004}"
    );

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
