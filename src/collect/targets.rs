//! Which accounts an audit covers: `--role-arn`, `--accounts FILE` with
//! `--role-name`, and `--shard I/N` to split them between jobs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why the accounts to audit could not be listed. `at` is `FILE:LINE` of an
/// `--accounts` line, or `--role-arn ARN`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(
        "--role-arn {arn:?} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"
    )]
    RoleArn { arn: String },
    #[error("{at}: account id {account} needs --role-name to build the role ARN")]
    NeedsRoleName { at: String, account: String },
    #[error("{at}: {line:?} is neither a 12-digit account id nor an IAM role ARN")]
    Line { at: String, line: String },
    #[error(
        "{} lists no account (only blank lines or comments): nothing would be audited",
        file.display()
    )]
    Empty { file: PathBuf },
    #[error("account {account} is listed twice ({first} and {at})")]
    Twice {
        account: String,
        first: String,
        at: String,
    },
    #[error("--role-name {name:?} is not a valid IAM role name")]
    RoleName { name: String },
}

/// One account to audit, reached by assuming a role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountTarget {
    /// The 12-digit account id.
    pub account: String,
    /// The role to assume in that account.
    pub role_arn: String,
}

/// A share of the targets: shard `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || format!("--shard {s:?}: expected I/N with 1 <= I <= N, e.g. 2/8");
        let (i, n) = s.split_once('/').ok_or_else(err)?;
        let index: u32 = i.trim().parse().map_err(|_| err())?;
        let count: u32 = n.trim().parse().map_err(|_| err())?;
        if index == 0 || count == 0 || index > count {
            return Err(err());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Whether `s` is a 12-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The account id of an IAM role ARN, if `arn` is one.
pub fn role_account(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" || !parts[3].is_empty() {
        return None;
    }
    let name = parts[5].strip_prefix("role/")?;
    if name.is_empty() || parts[1].is_empty() || !is_account_id(parts[4]) {
        return None;
    }
    Some(parts[4])
}

/// The partition of a region's ARNs (`aws`, `aws-cn`, `aws-us-gov`); `aws`
/// when no region is known.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Builds the targets from `--role-arn` values and the lines of an accounts
/// file. Each line holds an account id (needs `role_name`) or a role ARN;
/// blank lines and `#` comments are skipped. Duplicate accounts are an
/// error, since the same account would be audited twice.
pub fn build(
    role_arns: &[String],
    accounts_file: Option<(&Path, &str)>,
    role_name: Option<&str>,
    partition: &str,
) -> Result<Vec<AccountTarget>, Error> {
    let mut out: Vec<(String, AccountTarget)> = Vec::new();
    for arn in role_arns {
        let account = role_account(arn).ok_or_else(|| Error::RoleArn { arn: arn.clone() })?;
        out.push((
            format!("--role-arn {arn}"),
            AccountTarget {
                account: account.to_string(),
                role_arn: arn.clone(),
            },
        ));
    }
    if let Some((path, text)) = accounts_file {
        let before = out.len();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("{}:{}", path.display(), n + 1);
            let target = if is_account_id(line) {
                let name = role_name.ok_or_else(|| Error::NeedsRoleName {
                    at: at.clone(),
                    account: line.to_string(),
                })?;
                AccountTarget {
                    account: line.to_string(),
                    role_arn: format!("arn:{partition}:iam::{line}:role/{name}"),
                }
            } else if let Some(account) = role_account(line) {
                AccountTarget {
                    account: account.to_string(),
                    role_arn: line.to_string(),
                }
            } else {
                return Err(Error::Line {
                    at,
                    line: line.to_string(),
                });
            };
            out.push((at, target));
        }
        if out.len() == before {
            return Err(Error::Empty {
                file: path.to_path_buf(),
            });
        }
    }
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (at, t) in &out {
        if let Some(first) = seen.insert(t.account.clone(), at.clone()) {
            return Err(Error::Twice {
                account: t.account.clone(),
                first,
                at: at.clone(),
            });
        }
    }
    Ok(out.into_iter().map(|(_, t)| t).collect())
}

/// Validates a role name given with `--role-name` (a path is allowed).
pub fn check_role_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
        && !name.starts_with('/')
        && !name.ends_with('/');
    if ok {
        Ok(())
    } else {
        Err(Error::RoleName {
            name: name.to_string(),
        })
    }
}

/// The targets of one shard: the targets sorted by account id, every
/// `count`-th starting at `index - 1`. Every shard given the same list gets
/// a disjoint share, and together they cover the list; shard sizes differ
/// by at most one.
pub fn shard(mut targets: Vec<AccountTarget>, shard: Shard) -> Vec<AccountTarget> {
    targets.sort_by(|a, b| a.account.cmp(&b.account));
    targets
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (*i as u64) % u64::from(shard.count) == u64::from(shard.index - 1))
        .map(|(_, t)| t)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(account: &str) -> AccountTarget {
        AccountTarget {
            account: account.to_string(),
            role_arn: format!("arn:aws:iam::{account}:role/audit"),
        }
    }

    #[test]
    fn shard_parses_and_rejects() {
        assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_are_disjoint_cover_everything_and_balance() {
        let all: Vec<AccountTarget> = (0..23)
            .map(|i| t(&format!("{:012}", 1000 + i * 7)))
            .collect();
        let mut reversed = all.clone();
        reversed.reverse();
        let mut seen = Vec::new();
        for index in 1..=4 {
            let s = Shard { index, count: 4 };
            let part = shard(all.clone(), s);
            // independent of the order the list was given in
            assert_eq!(part, shard(reversed.clone(), s));
            assert!((5..=6).contains(&part.len()), "{}", part.len());
            seen.extend(part);
        }
        seen.sort_by(|a, b| a.account.cmp(&b.account));
        assert_eq!(seen, all);
    }

    #[test]
    fn accounts_file_lines_are_ids_or_arns() {
        let text =
            "# prod accounts\n111122223333\n\narn:aws:iam::444455556666:role/other  # own role\n";
        let got = build(
            &["arn:aws:iam::777788889999:role/x".to_string()],
            Some((Path::new("accounts.txt"), text)),
            Some("pipeaudit-audit"),
            "aws",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let arns: Vec<&str> = got.iter().map(|t| t.role_arn.as_str()).collect();
        assert_eq!(
            arns,
            [
                "arn:aws:iam::777788889999:role/x",
                "arn:aws:iam::111122223333:role/pipeaudit-audit",
                "arn:aws:iam::444455556666:role/other"
            ]
        );
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = build(
            &[],
            Some((Path::new("a.txt"), "111122223333\n12345\n")),
            Some("r"),
            "aws",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("a.txt:2") && e.contains("12345"), "{e}");
        let e = build(
            &[],
            Some((Path::new("a.txt"), "111122223333\n")),
            None,
            "aws",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("a.txt:1") && e.contains("--role-name"), "{e}");
        let e = build(
            &[],
            Some((Path::new("a.txt"), "111122223333\n111122223333\n")),
            Some("r"),
            "aws",
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("listed twice") && e.contains("a.txt:2"), "{e}");
        let e = build(&["arn:aws:iam::1:role/x".to_string()], None, None, "aws")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("--role-arn"), "{e}");
        // an empty or comments-only file audits nothing: an error, not a clean run
        for text in ["", "\n\n", "# prod\n  # staging\n"] {
            let e = build(
                &["arn:aws:iam::777788889999:role/x".to_string()],
                Some((Path::new("a.txt"), text)),
                Some("r"),
                "aws",
            )
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(e.starts_with("a.txt lists no account"), "{text:?}: {e}");
        }
        assert!(check_role_name("team/audit").is_ok());
        assert_eq!(
            check_role_name("bad name").map_err(|e| e.to_string()),
            Err("--role-name \"bad name\" is not a valid IAM role name".to_string())
        );
    }
}
