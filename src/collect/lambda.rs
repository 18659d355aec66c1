//! Lambda: the functions the pipelines' invoke actions run and the ones
//! their Lambda deployment groups last deployed (GetFunction: the execution
//! role) with their code signing configuration
//! (GetFunctionCodeSigningConfig), each function once.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_lambda::Client;

use super::call::{Ctx, observe};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, each, region_of};
use crate::model::{LambdaFunction, Observed, ReadError, Resources};

const GET: &str = "lambda:GetFunction";
const SIGNING: &str = "lambda:GetFunctionCodeSigningConfig";
const NOT_FOUND: &[&str] = &["ResourceNotFoundException"];

/// The functions of the pipelines' Lambda invoke actions and of their
/// Lambda deployment groups' last deployments.
pub struct Functions;

impl Facts for Functions {
    type Value = LambdaFunction;
    const NAME: &'static str = "lambda_functions";
    const ACTION: &'static str = GET;
    // after the deployment groups, whose deployments name functions too
    const PHASE: Phase = Phase::Selected;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = Some("aws_lambda_function");
    const VARIABLES: &'static [&'static str] = &["functions"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<LambdaFunction>> {
        &r.lambda_functions
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<LambdaFunction>> {
        &mut r.lambda_functions
    }

    fn field_errors(f: &LambdaFunction) -> Vec<&ReadError> {
        f.code_signing_config.error().into_iter().collect()
    }
}

impl Kind for Functions {
    /// The function's name (unqualified).
    type Detail = String;

    fn find(refs: &Refs<'_>) -> Vec<Found<String, LambdaFunction>> {
        let read = |arn: &str, region: &str| {
            Found::Read(ToRead {
                arn: arn.to_string(),
                region: region_of(arn, region),
                detail: arn.rsplit(':').next().unwrap_or("").to_string(),
            })
        };
        let invoked = refs.pipelines.iter().flat_map(|w| {
            w.lambda_invokes
                .iter()
                .map(move |l| read(&l.function_arn, &w.region))
        });
        let deployed = refs
            .pipelines
            .iter()
            .flat_map(|w| w.deploys.iter().map(move |d| (w, d)))
            .filter_map(|(w, d)| {
                let group = refs.resources.deploy_groups.get(&d.group_arn)?.value()?;
                let deployment = group.lambda_deployment.as_ref()?.value()?;
                Some(
                    deployment
                        .functions
                        .iter()
                        .map(move |f| read(&f.arn, &w.region)),
                )
            })
            .flatten();
        invoked.chain(deployed).collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<String>],
    ) -> impl Future<Output = Vec<(String, Observed<LambdaFunction>)>> + Send + 'a {
        each(targets, |t| get_function(ctx, &c.lambda, &t.arn, &t.detail))
    }
}

/// Reads one function and, when it exists, its code signing configuration.
pub async fn get_function(
    ctx: &Ctx,
    client: &Client,
    arn: &str,
    name: &str,
) -> Observed<LambdaFunction> {
    let result = ctx
        .call(GET, client.get_function().function_name(arn).send())
        .await;
    let function = observe(GET, result, NOT_FOUND, |out| {
        let c = out.configuration();
        LambdaFunction {
            name: name.to_string(),
            arn: arn.to_string(),
            role_arn: c.and_then(|c| c.role()).map(str::to_string),
            runtime: c.and_then(|c| c.runtime()).map(|r| r.as_str().to_string()),
            code_signing_config: Observed::Absent,
        }
    });
    let Observed::Ok { value: mut f } = function else {
        return function;
    };
    let result = ctx
        .call(
            SIGNING,
            client
                .get_function_code_signing_config()
                .function_name(arn)
                .send(),
        )
        .await;
    f.code_signing_config = observe(SIGNING, result, NOT_FOUND, |out| {
        Some(out.code_signing_config_arn().to_string()).filter(|a| !a.is_empty())
    })
    .flatten();
    Observed::ok(f)
}
