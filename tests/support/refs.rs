//! What a kind's read may consult, empty: for tests that call a read
//! directly, with no pipelines, resources, aliases or bulk IAM read.

/// Declares `$refs`, a `pipeaudit::collect::kind::Refs` over nothing read
/// yet (account 123456789012, region us-east-1, no IAM bulk read planned).
#[macro_export]
macro_rules! blank_refs {
    ($refs:ident) => {
        let blank_pipelines: Vec<pipeaudit::model::PipelineWiring> = Vec::new();
        let blank_resources = pipeaudit::model::Resources::default();
        let blank_aliases = std::collections::BTreeMap::new();
        let blank_keys = pipeaudit::collect::key_refs::KeyResolver {
            ids: pipeaudit::collect::key_refs::Ids {
                partition: "aws",
                account: "123456789012",
            },
            aliases: &blank_aliases,
        };
        let blank_regions = vec!["us-east-1".to_string()];
        let blank_iam = pipeaudit::collect::iam_details::BulkRead::default();
        let $refs = pipeaudit::collect::kind::Refs {
            pipelines: &blank_pipelines,
            resources: &blank_resources,
            keys: &blank_keys,
            regions: &blank_regions,
            iam: &blank_iam,
        };
    };
}
