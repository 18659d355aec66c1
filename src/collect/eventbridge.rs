//! EventBridge: the rules of the default event bus and their targets.
//!
//! CodeCommit delivers its repository events to the default bus, so a rule
//! that starts a pipeline on commit lives there. Every rule is listed once per
//! region (not once per pipeline) and kept when one of its targets is a
//! pipeline; the targets are listed for every rule, or only for the rules
//! that name an audited pipeline as a target when that takes fewer calls
//! ([`by_target`]).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::Rule;

use super::call::{Ctx, read_error};
use super::kind::{Binding, Facts, Phase, hidden};
use crate::model::{EventRule, EventTarget, Listing, Observed, ReadError, Resources, Snapshot};

/// The trigger rules of the audited pipelines, found by listing each
/// region's default bus.
pub struct Rules;

impl Facts for Rules {
    type Value = EventRule;
    const NAME: &'static str = "event_rules";
    const ACTION: &'static str = "events:ListTargetsByRule";
    const PHASE: Phase = Phase::Listed;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::Events::Rule");
    const TERRAFORM: Option<&'static str> = Some("aws_cloudwatch_event_rule");
    const VARIABLES: &'static [&'static str] = &["triggers"];
    const BINDING: Binding = Binding::PerPipeline;

    fn map(r: &Resources) -> &BTreeMap<String, Observed<EventRule>> {
        &r.event_rules
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<EventRule>> {
        &mut r.event_rules
    }

    /// Only its own region's listing.
    fn hidden_by(s: &Snapshot, arn: &str) -> Option<String> {
        hidden::listing(s, Listing::EventRules, Some(hidden::region(arn)))
    }
}

/// Every rule of the region's default bus (ListRules, paginated).
pub async fn list_rules(ctx: &Ctx, client: &Client) -> Result<Vec<Rule>, ReadError> {
    const LIST: &str = "events:ListRules";
    let mut rules = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .call(
                LIST,
                client
                    .list_rules()
                    .limit(100)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(LIST, &e))?;
        rules.extend(out.rules().iter().cloned());
        match out.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(rules)
}

/// Which rules' targets are listed: every rule's (one ListTargetsByRule
/// each), or, when the bus holds many rules unrelated to the audited
/// pipelines, only those ListRuleNamesByTarget names for each pipeline
/// (a call per pipeline, then one per such rule, counted as one per
/// pipeline). The smaller count wins.
pub fn by_target(rules: usize, pipelines: usize) -> bool {
    2 * pipelines < rules
}

/// The rules of the region's default bus that target a CodePipeline
/// pipeline (those among `rules` that target one of `pipelines`, when the
/// rules are looked up by target). A rule whose targets could not be
/// listed is kept as unknown.
pub async fn pipeline_rules(
    ctx: &Ctx,
    client: &Client,
    rules: Vec<Rule>,
    pipelines: &[String],
) -> Vec<(String, Observed<EventRule>)> {
    let rules = if by_target(rules.len(), pipelines.len()) {
        match names_by_target(ctx, client, pipelines).await {
            Ok(names) => {
                tracing::info!(
                    "events: {} rule(s) on the default bus, {} pipeline(s): listing the targets of the {} rule(s) that target them",
                    rules.len(),
                    pipelines.len(),
                    names.len()
                );
                rules
                    .into_iter()
                    .filter(|r| r.name().is_some_and(|n| names.contains(n)))
                    .collect()
            }
            // the rules are then inspected one by one, as without the lookup
            Err(e) => {
                tracing::info!(
                    "events: cannot look rules up by target ({}: {}); listing every rule's targets",
                    e.action,
                    e.message
                );
                rules
            }
        }
    } else {
        rules
    };
    let fetches = rules.into_iter().filter_map(|r| {
        let name = r.name()?.to_string();
        let arn = r.arn()?.to_string();
        Some(async move {
            let targets = targets(ctx, client, &name).await;
            (r, name, arn, targets)
        })
    });
    let mut out = Vec::new();
    for (r, name, arn, targets) in futures::future::join_all(fetches).await {
        match targets {
            Ok(targets) => {
                if !targets.iter().any(|t| t.arn.contains(":codepipeline:")) {
                    continue;
                }
                let event_pattern = r.event_pattern().map(|p| {
                    serde_json::from_str(p)
                        .unwrap_or_else(|_| serde_json::Value::String(p.to_string()))
                });
                out.push((
                    arn.clone(),
                    Observed::ok(EventRule {
                        name,
                        arn,
                        event_bus: r.event_bus_name().unwrap_or("default").to_string(),
                        state: r
                            .state()
                            .map(|s| s.as_str().to_string())
                            .unwrap_or_default(),
                        event_pattern,
                        schedule_expression: r.schedule_expression().map(str::to_string),
                        role_arn: r.role_arn().map(str::to_string),
                        managed_by: r.managed_by().map(str::to_string),
                        targets,
                    }),
                ));
            }
            // A rule we cannot inspect may or may not target a pipeline:
            // keep it as unknown so that trigger rules do not conclude "missing".
            Err(error) => out.push((arn, Observed::Unknown { error })),
        }
    }
    out
}

/// The names of the rules that target any of `pipelines`.
async fn names_by_target(
    ctx: &Ctx,
    client: &Client,
    pipelines: &[String],
) -> Result<BTreeSet<String>, ReadError> {
    const ACTION: &str = "events:ListRuleNamesByTarget";
    let lookups = pipelines.iter().map(|arn| async move {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = ctx
                .call(
                    ACTION,
                    client
                        .list_rule_names_by_target()
                        .target_arn(arn)
                        .set_next_token(token.clone())
                        .send(),
                )
                .await
                .map_err(|e| read_error(ACTION, &e))?;
            names.extend(out.rule_names().iter().cloned());
            match out.next_token() {
                Some(t) if !t.is_empty() && Some(t) != token.as_deref() => {
                    token = Some(t.to_string())
                }
                _ => return Ok::<_, ReadError>(names),
            }
        }
    });
    let mut all = BTreeSet::new();
    for names in futures::future::join_all(lookups).await {
        all.extend(names?);
    }
    Ok(all)
}

async fn targets(ctx: &Ctx, client: &Client, rule: &str) -> Result<Vec<EventTarget>, ReadError> {
    const ACTION: &str = "events:ListTargetsByRule";
    let mut targets = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = ctx
            .call(
                ACTION,
                client
                    .list_targets_by_rule()
                    .rule(rule)
                    .set_next_token(token.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(ACTION, &e))?;
        targets.extend(out.targets().iter().map(|t| EventTarget {
            id: t.id().to_string(),
            arn: t.arn().to_string(),
            role_arn: t.role_arn().map(str::to_string),
        }));
        match out.next_token() {
            Some(t) if !t.is_empty() && Some(t) != token.as_deref() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(targets)
}
