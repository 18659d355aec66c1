//! The modules under fuzz, compiled from the crate's own sources.
#![allow(dead_code)]

#[path = "../../src/aws/mod.rs"]
pub mod aws;
#[path = "../../src/findings.rs"]
pub mod findings;
#[path = "../../src/fuzzing.rs"]
pub mod fuzzing;
#[path = "../../src/model/mod.rs"]
pub mod model;
#[path = "../../src/rules/mod.rs"]
pub mod rules;
