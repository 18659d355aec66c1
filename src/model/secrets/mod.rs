//! Classification of plaintext values that look like secrets: CodeBuild
//! environment variables and CodePipeline action configuration values.
//!
//! Only the classification leaves this module: the value itself is never
//! stored, logged or reported.
//!
//! The decision has three parts:
//!
//! 1. Shapes that are secrets wherever they appear in the value, whatever the
//!    name: AWS access key ids, PEM private keys, vendor tokens with a
//!    documented prefix (`ghp_`, `glpat-`, `xoxb-`, `sk_live_`, `npm_`, ...),
//!    JSON Web Tokens and URLs that embed credentials.
//! 2. Values that are structurally not secrets, whatever the name: ARNs, URLs
//!    and URIs without credentials, paths and parameter names, host names and
//!    image references, versions, CloudFormation-generated names, AWS
//!    resource ids, references (`{{resolve:...}}`, `${VAR}`, `#{Ns.Var}`),
//!    placeholders and booleans or small numbers.
//! 3. For everything else the name decides: a secret-like name (PASSWORD,
//!    TOKEN, SECRET, API_KEY, ...) not followed by a word that makes it a
//!    reference or a setting (`_ARN`, `_NAME`, `_URL`, `_TTL`, ...) holding
//!    a real value is a secret; a random-looking token is one unless the name
//!    says it is an identifier or a digest (`_ID`, `COMMIT`, `SHA`, ...).
//!
//! JSON objects and `key=value` lists are looked into, each inner value
//! judged under its own key; base64 that decodes to text is judged as that
//! text.

use serde::{Deserialize, Serialize};

/// What a plaintext value or its name looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    /// An AWS access key id (AKIA..., ASIA...).
    AwsAccessKeyId,
    /// A 40-character AWS secret access key.
    AwsSecretAccessKey,
    /// A PEM (or PuTTY) private key block.
    PrivateKey,
    /// A long random-looking token.
    HighEntropyToken,
    /// The variable's name says it holds a secret (PASSWORD, TOKEN, ...) and
    /// its value is not a reference, a setting or a placeholder.
    SecretLikeName,
    /// A token in a vendor's documented format, recognised by its prefix
    /// (`ghp_`, `github_pat_`, `glpat-`, `xoxb-`, `sk_live_`, `npm_`, ...).
    KnownTokenPrefix,
    /// A JSON Web Token.
    Jwt,
    /// A URL that embeds credentials: a password or token in its user info,
    /// a secret query parameter, or a webhook URL whose path is the secret.
    CredentialsInUrl,
}

/// Classifies a plaintext value by its name and value.
/// The result is sorted and free of duplicates; empty means "not a secret".
pub fn classify(name: &str, value: &str) -> Vec<SecretKind> {
    let mut kinds = Vec::new();
    classify_into(name, value, 0, &mut kinds);
    kinds.sort();
    kinds.dedup();
    kinds
}

/// Whether a plaintext value named `name` holds a secret: `classify` found
/// at least one kind. Every caller (CodeBuild environment variables,
/// CodePipeline action configuration) makes the decision through this one
/// function.
pub fn is_secret(name: &str, value: &str) -> bool {
    !classify(name, value).is_empty()
}

/// How deep JSON, `key=value` lists and base64 text are looked into.
const MAX_DEPTH: u8 = 3;

fn classify_into(name: &str, value: &str, depth: u8, out: &mut Vec<SecretKind>) {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if v.is_empty() {
        return;
    }
    scan_text(v, out);
    if depth < MAX_DEPTH {
        if let Some(json) = json_container(v) {
            classify_json(name, &json, depth + 1, out);
            return;
        }
        if let Some(text) = base64_text(v) {
            classify_into(name, &text, depth + 1, out);
            return;
        }
        for (key, inner) in assignments(v) {
            classify_into(key, inner, depth + 1, out);
        }
    }
    let aws_key = looks_like_secret_access_key(v);
    if aws_key {
        out.push(SecretKind::AwsSecretAccessKey);
    } else if is_structural(v) {
        return;
    }
    let name = NameInfo::of(name);
    if name.secret_like && (aws_key || is_real_value(v)) {
        out.push(SecretKind::SecretLikeName);
    }
    if !aws_key && !name.identifier && looks_like_token(v) {
        out.push(SecretKind::HighEntropyToken);
    }
}

mod inner;
mod names;
mod randomness;
mod shapes;
mod structural;

use inner::*;
use names::*;
use randomness::*;
use shapes::*;
use structural::*;

#[cfg(test)]
mod tests;
