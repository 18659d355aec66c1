//! KMS key references: a key id, key ARN, alias name or alias ARN, as
//! pipelines, buckets and build projects name their keys, resolved to the
//! key's ARN through the aliases listed in phase 1 (no call is made here).

use std::collections::BTreeMap;

use super::kms::AliasMap;
use crate::model::{ReadError, ReadErrorKind};

/// The partition and account the run acts in: what a bare name or key id
/// is completed with to make an ARN.
#[derive(Clone, Copy)]
pub struct Ids<'a> {
    pub partition: &'a str,
    pub account: &'a str,
}

/// What a key reference (id, ARN, alias name, alias ARN) points at.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Key(String),
    /// The alias does not exist (its ARN).
    MissingAlias(String),
    /// The aliases could not be listed (the alias ARN and why).
    UnknownAlias(String, ReadError),
}

impl Resolved {
    /// The ARN a reference is recorded under: the key's, or the alias's when unresolved.
    pub fn arn(&self) -> String {
        match self {
            Resolved::Key(a) | Resolved::MissingAlias(a) | Resolved::UnknownAlias(a, _) => {
                a.clone()
            }
        }
    }

    pub fn key_arn(&self) -> Option<String> {
        match self {
            Resolved::Key(a) => Some(a.clone()),
            _ => None,
        }
    }
}

/// Resolves key references against the aliases listed in phase 1.
pub struct KeyResolver<'a> {
    pub ids: Ids<'a>,
    pub aliases: &'a BTreeMap<String, Result<AliasMap, ReadError>>,
}

impl KeyResolver<'_> {
    fn key_arn(&self, region: &str, account: &str, key_id: &str) -> String {
        format!(
            "arn:{}:kms:{region}:{account}:key/{key_id}",
            self.ids.partition
        )
    }

    /// What a key reference, read in `region`, points at.
    pub fn resolve(&self, region: &str, key_ref: &str) -> Resolved {
        let (region, account, resource) = if key_ref.starts_with("arn:") {
            let parts: Vec<&str> = key_ref.splitn(6, ':').collect();
            match parts.as_slice() {
                [_, _, _, r, a, res] => (r.to_string(), a.to_string(), res.to_string()),
                _ => return Resolved::Key(key_ref.to_string()),
            }
        } else if key_ref.starts_with("alias/") {
            (
                region.to_string(),
                self.ids.account.to_string(),
                key_ref.to_string(),
            )
        } else {
            (
                region.to_string(),
                self.ids.account.to_string(),
                format!("key/{key_ref}"),
            )
        };
        if !resource.starts_with("alias/") {
            return Resolved::Key(format!(
                "arn:{}:kms:{region}:{account}:{resource}",
                self.ids.partition
            ));
        }
        let alias_arn = format!(
            "arn:{}:kms:{region}:{account}:{resource}",
            self.ids.partition
        );
        match self.aliases.get(&region) {
            Some(Ok(map)) => match map.get(&resource) {
                Some(target) => Resolved::Key(self.key_arn(&region, &account, target)),
                None => Resolved::MissingAlias(alias_arn),
            },
            Some(Err(e)) => Resolved::UnknownAlias(alias_arn, e.clone()),
            None => Resolved::UnknownAlias(
                alias_arn,
                ReadError {
                    kind: ReadErrorKind::Service,
                    action: "kms:ListAliases".to_string(),
                    code: None,
                    message: format!("region {region} is not among the audited regions"),
                },
            ),
        }
    }

    /// Alias names that point at a key.
    pub fn aliases_of(&self, region: &str, key_arn: &str) -> Vec<String> {
        let key_id = key_arn.rsplit('/').next().unwrap_or("");
        match self.aliases.get(region) {
            Some(Ok(map)) => map
                .iter()
                .filter(|(_, target)| target.as_str() == key_id)
                .map(|(name, _)| name.clone())
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver_with(aliases: &BTreeMap<String, Result<AliasMap, ReadError>>) -> KeyResolver<'_> {
        KeyResolver {
            ids: Ids {
                partition: "aws",
                account: "111122223333",
            },
            aliases,
        }
    }

    #[test]
    fn key_references_resolve_to_key_arns() {
        let mut map = AliasMap::new();
        map.insert("alias/art".to_string(), "k-1".to_string());
        let mut aliases = BTreeMap::new();
        aliases.insert("eu-west-1".to_string(), Ok(map));
        let r = resolver_with(&aliases);
        let key = "arn:aws:kms:eu-west-1:111122223333:key/k-1".to_string();
        assert_eq!(r.resolve("eu-west-1", "k-1"), Resolved::Key(key.clone()));
        assert_eq!(r.resolve("eu-west-1", &key), Resolved::Key(key.clone()));
        assert_eq!(
            r.resolve("eu-west-1", "alias/art"),
            Resolved::Key(key.clone())
        );
        assert_eq!(
            r.resolve("us-east-1", "arn:aws:kms:eu-west-1:111122223333:alias/art"),
            Resolved::Key(key.clone())
        );
        assert_eq!(
            r.resolve("eu-west-1", "alias/nope"),
            Resolved::MissingAlias("arn:aws:kms:eu-west-1:111122223333:alias/nope".to_string())
        );
        assert!(matches!(
            r.resolve("us-east-1", "alias/art"),
            Resolved::UnknownAlias(..)
        ));
        assert_eq!(
            r.aliases_of("eu-west-1", &key),
            vec!["alias/art".to_string()]
        );
    }
}
