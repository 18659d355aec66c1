//! pipeaudit: audit AWS CI/CD pipelines against a reference architecture.
//!
//! Data flows one way: collect -> snapshot (model) -> evaluate (rules) ->
//! findings -> report / remediate. Each stage is its own module.

pub mod aws;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod compliance;
pub mod docs;
pub mod drift;
pub mod findings;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod graph;
pub mod iac;
pub mod model;
pub mod org;
pub mod patch;
pub mod remediate;
pub mod report;
pub mod rules;
pub mod template;
