//! CodeConnections (formerly CodeStar connections): the connections of the
//! pipelines' `CodeStarSourceConnection` source actions.
//!
//! A connection ARN starts with `arn:aws:codestar-connections:` (before the
//! rename) or `arn:aws:codeconnections:` (after it). Both name the same kind
//! of resource (AWS keeps the actions and resources of both prefixes
//! available) and both are read through the `codestar-connections` API: the
//! SDK passes either form of ARN as it is, without checking the prefix, and
//! the action named when a read fails is `codestar-connections:GetConnection`.
//! Whatever AWS answers for an ARN of the new prefix on that API, an error
//! other than "not found" leaves the connection unknown, never unavailable.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_codestarconnections::Client;

use super::call::{Ctx, observe};
use super::clients::RegionClients;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, each, region_of};
use crate::model::{Connection, Observed, Resources};

/// The IAM action of a connection read.
pub const GET_CONNECTION: &str = "codestar-connections:GetConnection";

/// Whether an ARN names a connection (either service prefix).
pub fn is_connection_arn(arn: &str) -> bool {
    matches!(
        arn.split(':').nth(2),
        Some("codestar-connections" | "codeconnections")
    ) && arn.starts_with("arn:")
}

/// The connections of the pipelines' connection source actions.
pub struct Connections;

impl Facts for Connections {
    type Value = Connection;
    const NAME: &'static str = "connections";
    const ACTION: &'static str = GET_CONNECTION;
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = None;
    const TERRAFORM: Option<&'static str> = Some("aws_codestarconnections_connection");
    const VARIABLES: &'static [&'static str] = &["connections"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<Connection>> {
        &r.connections
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<Connection>> {
        &mut r.connections
    }
}

impl Kind for Connections {
    type Detail = ();

    fn find(refs: &Refs<'_>) -> Vec<Found<(), Connection>> {
        refs.pipelines
            .iter()
            .flat_map(|w| {
                w.connection_sources
                    .iter()
                    .filter(|s| !s.connection_arn.is_empty())
                    .map(|s| {
                        Found::Read(ToRead {
                            arn: s.connection_arn.clone(),
                            region: region_of(&s.connection_arn, &w.region),
                            detail: (),
                        })
                    })
            })
            .collect()
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<()>],
    ) -> impl Future<Output = Vec<(String, Observed<Connection>)>> + Send + 'a {
        each(targets, |t| get(ctx, &c.connections, &t.arn))
    }
}

/// Reads one connection.
pub async fn get(ctx: &Ctx, client: &Client, arn: &str) -> Observed<Connection> {
    let result = ctx
        .call(
            GET_CONNECTION,
            client.get_connection().connection_arn(arn).send(),
        )
        .await;
    observe(
        GET_CONNECTION,
        result,
        &["ResourceNotFoundException"],
        |out| {
            let c = out.connection();
            Connection {
                arn: arn.to_string(),
                name: c.and_then(|c| c.connection_name()).map(str::to_string),
                status: c
                    .and_then(|c| c.connection_status())
                    .map(|s| s.as_str().to_string()),
                provider_type: c
                    .and_then(|c| c.provider_type())
                    .map(|p| p.as_str().to_string()),
                owner_account: c.and_then(|c| c.owner_account_id()).map(str::to_string),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_service_prefixes_are_connections() {
        assert!(is_connection_arn(
            "arn:aws:codestar-connections:us-east-1:123456789012:connection/abc"
        ));
        assert!(is_connection_arn(
            "arn:aws:codeconnections:us-east-1:123456789012:connection/abc"
        ));
        assert!(!is_connection_arn(
            "arn:aws:codecommit:us-east-1:123456789012:repo"
        ));
        assert!(!is_connection_arn("codeconnections"));
    }
}
