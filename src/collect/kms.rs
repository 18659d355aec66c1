//! KMS: aliases (to resolve key references), key metadata, rotation, policy
//! and grants.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_kms::Client;

use super::call::{Ctx, observe, read_error, timestamp};
use super::clients::RegionClients;
use super::key_refs::Resolved;
use super::kind::{Facts, Found, Kind, Phase, Refs, ToRead, each, hidden, region_of};
use crate::model::{
    KeyGrant, KmsKey, Listing, Observed, PolicyText, ReadError, Resources, Snapshot,
};

/// The keys of the pipelines' artifact stores. A store naming an alias
/// that does not exist, or whose region's aliases could not be listed, is
/// recorded under the alias ARN without a call.
pub struct Keys;

impl Facts for Keys {
    type Value = KmsKey;
    const NAME: &'static str = "keys";
    const ACTION: &'static str = "kms:DescribeKey";
    const PHASE: Phase = Phase::Declared;
    const CLOUDFORMATION: Option<&'static str> = Some("AWS::KMS::Key");
    const TERRAFORM: Option<&'static str> = Some("aws_kms_key");
    const VARIABLES: &'static [&'static str] = &["stores"];

    fn map(r: &Resources) -> &BTreeMap<String, Observed<KmsKey>> {
        &r.keys
    }

    fn slot(r: &mut Resources) -> &mut BTreeMap<String, Observed<KmsKey>> {
        &mut r.keys
    }

    fn field_errors(k: &KmsKey) -> Vec<&ReadError> {
        [
            k.rotation_enabled.error(),
            k.policy.error(),
            k.grants.error(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The pipelines, or the aliases a key reference may name.
    fn hidden_by(s: &Snapshot, _arn: &str) -> Option<String> {
        hidden::pipelines(s).or_else(|| hidden::listing(s, Listing::KmsAliases, None))
    }
}

impl Kind for Keys {
    /// The names of the aliases pointing at the key.
    type Detail = Vec<String>;

    fn find(refs: &Refs<'_>) -> Vec<Found<Vec<String>, KmsKey>> {
        let mut out = Vec::new();
        for s in refs.pipelines.iter().flat_map(|w| &w.artifact_stores) {
            let (Some(key_ref), Some(key_arn)) = (&s.key_ref, &s.key_arn) else {
                continue;
            };
            match refs.keys.resolve(&s.region, key_ref) {
                Resolved::Key(_) => {
                    let region = region_of(key_arn, &s.region);
                    out.push(Found::Read(ToRead {
                        arn: key_arn.clone(),
                        detail: refs.keys.aliases_of(&region, key_arn),
                        region,
                    }));
                }
                Resolved::MissingAlias(a) => out.push(Found::Known(a, Observed::Absent)),
                Resolved::UnknownAlias(a, error) => {
                    out.push(Found::Known(a, Observed::Unknown { error }))
                }
            }
        }
        out
    }

    fn read<'a>(
        ctx: &'a Ctx,
        c: &'a RegionClients,
        _refs: &'a Refs<'a>,
        targets: &'a [ToRead<Vec<String>>],
    ) -> impl Future<Output = Vec<(String, Observed<KmsKey>)>> + Send + 'a {
        each(targets, |t| get(ctx, &c.kms, &t.arn, t.detail.clone()))
    }
}

/// One alias of a region: alias name -> target key id.
pub type AliasMap = BTreeMap<String, String>;

/// Lists every alias of the region (all pages).
pub async fn list_aliases(ctx: &Ctx, client: &Client) -> Result<AliasMap, ReadError> {
    const ACTION: &str = "kms:ListAliases";
    let mut map = AliasMap::new();
    let mut marker: Option<String> = None;
    loop {
        let out = ctx
            .call(
                ACTION,
                client
                    .list_aliases()
                    .limit(1000)
                    .set_marker(marker.clone())
                    .send(),
            )
            .await
            .map_err(|e| read_error(ACTION, &e))?;
        for a in out.aliases() {
            if let (Some(name), Some(target)) = (a.alias_name(), a.target_key_id()) {
                map.insert(name.to_string(), target.to_string());
            }
        }
        match out.next_marker() {
            Some(m) if out.truncated() && Some(m) != marker.as_deref() => {
                marker = Some(m.to_string())
            }
            _ => break,
        }
    }
    Ok(map)
}

/// Reads a key by ARN: metadata, then rotation status, the default key
/// policy and the grants concurrently.
pub async fn get(ctx: &Ctx, client: &Client, arn: &str, aliases: Vec<String>) -> Observed<KmsKey> {
    const DESCRIBE: &str = "kms:DescribeKey";
    let result = ctx
        .call(DESCRIBE, client.describe_key().key_id(arn).send())
        .await;
    let meta = match observe(DESCRIBE, result, &["NotFoundException"], |out| {
        out.key_metadata().cloned()
    })
    .flatten()
    {
        Observed::Ok { value } => value,
        Observed::Absent => return Observed::Absent,
        Observed::Unknown { error } => return Observed::Unknown { error },
    };
    const ROTATION: &str = "kms:GetKeyRotationStatus";
    const POLICY: &str = "kms:GetKeyPolicy";
    let key_id = meta.key_id().to_string();
    let (rot, pol, grants) = tokio::join!(
        ctx.call(
            ROTATION,
            client.get_key_rotation_status().key_id(&key_id).send()
        ),
        // PolicyName must be sent explicitly ("default" is the only key policy).
        ctx.call(
            POLICY,
            client
                .get_key_policy()
                .key_id(&key_id)
                .policy_name("default")
                .send()
        ),
        list_grants(ctx, client, &key_id),
    );
    let rotation_enabled = observe(ROTATION, rot, &[], |out| out.key_rotation_enabled());
    let policy = observe(POLICY, pol, &[], |out| out.policy().map(PolicyText::parse)).flatten();
    Observed::ok(KmsKey {
        arn: meta.arn().unwrap_or(arn).to_string(),
        key_id,
        key_state: meta
            .key_state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        key_spec: meta.key_spec().map(|s| s.as_str().to_string()),
        key_usage: meta.key_usage().map(|s| s.as_str().to_string()),
        key_manager: meta.key_manager().map(|s| s.as_str().to_string()),
        origin: meta.origin().map(|s| s.as_str().to_string()),
        deletion_date: meta.deletion_date().map(timestamp),
        description: meta
            .description()
            .map(str::to_string)
            .filter(|d| !d.is_empty()),
        aliases,
        rotation_enabled,
        policy,
        grants,
    })
}

/// Lists every grant of a key (all pages, 100 a page).
pub async fn list_grants(ctx: &Ctx, client: &Client, key_id: &str) -> Observed<Vec<KeyGrant>> {
    const ACTION: &str = "kms:ListGrants";
    let mut grants = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let result = ctx
            .call(
                ACTION,
                client
                    .list_grants()
                    .key_id(key_id)
                    .limit(100)
                    .set_marker(marker.clone())
                    .send(),
            )
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                return Observed::Unknown {
                    error: read_error(ACTION, &e),
                };
            }
        };
        for g in out.grants() {
            let mut encryption_context = BTreeMap::new();
            if let Some(c) = g.constraints() {
                for m in [c.encryption_context_equals(), c.encryption_context_subset()]
                    .into_iter()
                    .flatten()
                {
                    encryption_context.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            grants.push(KeyGrant {
                grant_id: g.grant_id().unwrap_or_default().to_string(),
                name: g.name().filter(|n| !n.is_empty()).map(str::to_string),
                grantee_principal: g.grantee_principal().unwrap_or_default().to_string(),
                operations: g
                    .operations()
                    .iter()
                    .map(|o| o.as_str().to_string())
                    .collect(),
                encryption_context,
            });
        }
        match out.next_marker() {
            Some(m) if out.truncated() && Some(m) != marker.as_deref() => {
                marker = Some(m.to_string())
            }
            _ => break,
        }
    }
    Observed::ok(grants)
}
