//! AWS semantics that stand on their own, with no dependency on the rule
//! engine: IAM policy evaluation with the condition keys a request fixes
//! ([`eval`]) and the release-path analysis built on it ([`release`]).

pub mod eval;
pub mod release;
