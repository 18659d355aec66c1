//! CodeConnections connections, read with GetConnection. moto has no
//! CodeStar connections (no CreateConnection, no GetConnection), so the
//! reads are served by `aws-smithy-mocks` (real wire-format bodies, the
//! SDK's own deserializer). Then SC004 `source-connection-unavailable` on the
//! demo stack with its source moved to a connection, for each state read.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_codestarconnections::operation::get_connection::GetConnectionOutput;
use aws_sdk_codestarconnections::types::{
    Connection as SdkConnection, ConnectionStatus, ProviderType,
};
use aws_smithy_mocks::{Rule, mock};
use aws_types::region::Region;
use indicatif::ProgressBar;
use pipeaudit::collect::call::Ctx;
use pipeaudit::collect::connections;
use pipeaudit::model::{Connection, ConnectionSourceRef, Observed, ReadErrorKind, Snapshot};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
const OLD_ARN: &str = "arn:aws:codestar-connections:us-east-1:123456789012:connection/0000-1";
const NEW_ARN: &str = "arn:aws:codeconnections:us-east-1:123456789012:connection/0000-2";

fn client(rules: &[&Rule]) -> aws_sdk_codestarconnections::Client {
    crate::mock_client!(aws_sdk_codestarconnections, rules)
}

fn output(arn: &str, status: ConnectionStatus) -> GetConnectionOutput {
    GetConnectionOutput::builder()
        .connection(
            SdkConnection::builder()
                .connection_name("example-github")
                .connection_arn(arn)
                .provider_type(ProviderType::Github)
                .owner_account_id("example-org")
                .connection_status(status)
                .build(),
        )
        .build()
}

fn error(status: u16, code: &str, message: &str) -> Rule {
    mock!(aws_sdk_codestarconnections::Client::get_connection)
        .sequence()
        .http_status(
            status,
            Some(format!(r#"{{"__type":"{code}","Message":"{message}"}}"#)),
        )
        .repeatedly()
        .build()
}

#[tokio::test]
async fn both_arn_forms_are_read_with_status_provider_and_owner() {
    for (arn, status) in [
        (OLD_ARN, ConnectionStatus::Available),
        (NEW_ARN, ConnectionStatus::Pending),
    ] {
        let expected = status.as_str().to_string();
        let get = mock!(aws_sdk_codestarconnections::Client::get_connection)
            .match_requests(move |r| r.connection_arn() == Some(arn))
            .then_output(move || output(arn, status.clone()));
        let c = client(&[&get]);
        let ctx = Ctx::new(4, ProgressBar::hidden());
        let got = connections::get(&ctx, &c, arn).await;
        assert_eq!(
            got.value(),
            Some(&Connection {
                arn: arn.to_string(),
                name: Some("example-github".to_string()),
                status: Some(expected),
                provider_type: Some("GitHub".to_string()),
                owner_account: Some("example-org".to_string()),
            }),
            "{got:?}"
        );
        assert_eq!(get.num_calls(), 1);
        assert_eq!(ctx.calls().get(connections::GET_CONNECTION), Some(&1));
    }
}

#[tokio::test]
async fn a_deleted_connection_is_absent() {
    let get = error(400, "ResourceNotFoundException", "Connection not found");
    let c = client(&[&get]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = connections::get(&ctx, &c, NEW_ARN).await;
    assert!(matches!(got, Observed::Absent), "{got:?}");
}

#[tokio::test]
async fn a_denied_read_is_unknown_and_names_the_permission() {
    let get = error(
        400,
        "AccessDeniedException",
        "not authorized to perform codestar-connections:GetConnection",
    );
    let c = client(&[&get]);
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let got = connections::get(&ctx, &c, OLD_ARN).await;
    let e = got.error().unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(e.kind, ReadErrorKind::AccessDenied);
    assert_eq!(e.action, "codestar-connections:GetConnection");
}

/// The compliant demo stack with its CodeCommit source replaced by a
/// connection source, the connection recorded as `connection`: SC004's
/// finding messages, then `diagnostic: <permission>` for each diagnostic.
fn sc004_with(connection: Observed<Connection>) -> Vec<String> {
    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    let w = &mut s.pipelines[0];
    w.sources.clear();
    w.connection_sources.push(ConnectionSourceRef {
        stage: "Source".to_string(),
        action: "Source".to_string(),
        connection_arn: NEW_ARN.to_string(),
        repository: Some("example-org/app".to_string()),
        branch: Some("main".to_string()),
        detect_changes: None,
    });
    s.resources
        .connections
        .insert(NEW_ARN.to_string(), connection);
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    let mut out: Vec<String> = e
        .findings
        .iter()
        .filter(|f| f.rule_id == "SC004")
        .map(|f| f.message.clone())
        .collect();
    out.extend(
        e.diagnostics
            .iter()
            .filter(|d| d.rule_id.as_deref() == Some("SC004"))
            .map(|d| format!("diagnostic: {}", d.permission.clone().unwrap_or_default())),
    );
    out
}

fn with_status(status: &str) -> Observed<Connection> {
    Observed::ok(Connection {
        arn: NEW_ARN.to_string(),
        name: Some("example-github".to_string()),
        status: Some(status.to_string()),
        provider_type: Some("GitHub".to_string()),
        owner_account: Some("example-org".to_string()),
    })
}

#[test]
fn sc004_fires_unless_available_and_reports_an_unreadable_connection() {
    assert!(sc004_with(with_status("AVAILABLE")).is_empty());
    for status in ["PENDING", "ERROR"] {
        let fired = sc004_with(with_status(status));
        assert_eq!(fired.len(), 1, "{status}: {fired:?}");
        assert!(fired[0].contains(status), "{}", fired[0]);
    }
    let deleted = sc004_with(Observed::Absent);
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(deleted[0].contains("missing"), "{}", deleted[0]);
    // unknown is neither available nor unavailable: a diagnostic naming
    // the permission
    let unknown = sc004_with(Observed::Unknown {
        error: pipeaudit::model::ReadError {
            kind: ReadErrorKind::AccessDenied,
            action: "codestar-connections:GetConnection".to_string(),
            code: Some("AccessDeniedException".to_string()),
            message: "denied".to_string(),
        },
    });
    assert_eq!(
        unknown,
        ["diagnostic: codestar-connections:GetConnection"],
        "{unknown:?}"
    );
}

/// Each connection is read once however many pipelines name it. No answer
/// is needed to count the reads: the clients point at a closed local port
/// (one attempt), so every read fails fast and is recorded unknown.
#[tokio::test]
async fn a_connection_shared_by_pipelines_is_read_once() {
    use std::collections::BTreeMap;

    use aws_config::retry::RetryConfig;
    use pipeaudit::collect::clients::RegionClients;
    use pipeaudit::collect::iam_details::BulkRead;
    use pipeaudit::collect::key_refs::{Ids, KeyResolver};
    use pipeaudit::collect::kind::{Collect, Refs};
    use pipeaudit::model::{PipelineWiring, Resources};

    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(pipeaudit::collect::clients::shared_https_client())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    let mut clients = BTreeMap::new();
    clients.insert("us-east-1".to_string(), RegionClients::new(&config));
    let wiring = |name: &str, arn: &str| PipelineWiring {
        name: name.to_string(),
        arn: format!("arn:aws:codepipeline:us-east-1:123456789012:{name}"),
        region: "us-east-1".to_string(),
        connection_sources: vec![ConnectionSourceRef {
            stage: "Source".to_string(),
            action: "Source".to_string(),
            connection_arn: arn.to_string(),
            ..ConnectionSourceRef::default()
        }],
        ..PipelineWiring::default()
    };
    let pipelines = vec![
        wiring("a", NEW_ARN),
        wiring("b", NEW_ARN),
        wiring("c", OLD_ARN),
    ];
    let resources = Resources::default();
    let aliases = BTreeMap::new();
    let keys = KeyResolver {
        ids: Ids {
            partition: "aws",
            account: "123456789012",
        },
        aliases: &aliases,
    };
    let regions = vec!["us-east-1".to_string()];
    let iam = BulkRead::default();
    let refs = Refs {
        pipelines: &pipelines,
        resources: &resources,
        keys: &keys,
        regions: &regions,
        iam: &iam,
    };
    let ctx = Ctx::new(4, ProgressBar::hidden());
    let landing = connections::Connections
        .collect(&ctx, &clients, &refs)
        .await;
    let mut out = Resources::default();
    landing(&mut out);
    assert_eq!(ctx.calls().get(connections::GET_CONNECTION), Some(&2));
    assert_eq!(
        out.connections.keys().collect::<Vec<_>>(),
        [NEW_ARN, OLD_ARN],
        "sorted by ARN"
    );
    for (arn, obs) in &out.connections {
        let e = obs.error().unwrap_or_else(|| panic!("{arn}: {obs:?}"));
        assert_eq!(e.action, "codestar-connections:GetConnection");
    }
}

/// A `codeconnections` ARN through the whole path: found in the wiring of a
/// pipeline, read by the connections kind (its client served by the mocks,
/// the request checked to carry the ARN as it is), landed in the snapshot,
/// and checked by SC004.
#[tokio::test]
async fn a_codeconnections_arn_is_collected_and_checked_by_sc004() {
    use std::collections::BTreeMap;

    use pipeaudit::collect::clients::RegionClients;
    use pipeaudit::collect::iam_details::BulkRead;
    use pipeaudit::collect::key_refs::{Ids, KeyResolver};
    use pipeaudit::collect::kind::{Collect, Refs};

    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(pipeaudit::collect::clients::shared_https_client())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .load()
        .await;
    let get = mock!(aws_sdk_codestarconnections::Client::get_connection)
        .match_requests(|r| r.connection_arn() == Some(NEW_ARN))
        .then_output(|| output(NEW_ARN, ConnectionStatus::Pending));
    let mut region = RegionClients::new(&config);
    region.connections = client(&[&get]);
    let mut clients = BTreeMap::new();
    clients.insert("us-east-1".to_string(), region);

    let mut s = Snapshot::load(std::path::Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    s.pipelines[0].sources.clear();
    s.pipelines[0].connection_sources.push(ConnectionSourceRef {
        stage: "Source".to_string(),
        action: "Source".to_string(),
        connection_arn: NEW_ARN.to_string(),
        repository: Some("example-org/app".to_string()),
        branch: Some("main".to_string()),
        detect_changes: None,
    });
    let aliases = BTreeMap::new();
    let keys = KeyResolver {
        ids: Ids {
            partition: "aws",
            account: "123456789012",
        },
        aliases: &aliases,
    };
    let regions = vec!["us-east-1".to_string()];
    let iam = BulkRead::default();
    let landing = {
        let refs = Refs {
            pipelines: &s.pipelines,
            resources: &s.resources,
            keys: &keys,
            regions: &regions,
            iam: &iam,
        };
        let ctx = Ctx::new(4, ProgressBar::hidden());
        let landing = connections::Connections
            .collect(&ctx, &clients, &refs)
            .await;
        assert_eq!(ctx.calls().get(connections::GET_CONNECTION), Some(&1));
        landing
    };
    landing(&mut s.resources);
    assert_eq!(get.num_calls(), 1);
    assert_eq!(
        s.resources
            .connections
            .get(NEW_ARN)
            .and_then(Observed::value)
            .and_then(|c| c.status.as_deref()),
        Some("PENDING")
    );

    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let e = evaluate(Arc::new(s), &rules, &Config::default());
    let sc004: Vec<(&str, &str)> = e
        .findings
        .iter()
        .filter(|f| f.rule_id == "SC004")
        .map(|f| (f.resource_arn.as_str(), f.message.as_str()))
        .collect();
    assert_eq!(sc004.len(), 1, "{sc004:?}");
    assert_eq!(sc004[0].0, NEW_ARN);
    assert!(sc004[0].1.contains("PENDING"), "{}", sc004[0].1);
    assert!(
        e.diagnostics
            .iter()
            .all(|d| d.rule_id.as_deref() != Some("SC004")),
        "{:#?}",
        e.diagnostics
    );
}
