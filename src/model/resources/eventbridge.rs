//! EventBridge: trigger rules and their targets.

use super::*;

/// An EventBridge rule that targets at least one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRule {
    pub name: String,
    pub arn: String,
    pub event_bus: String,
    /// ENABLED, DISABLED, or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS.
    pub state: String,
    /// The event pattern, parsed; a pattern that is not JSON is kept as a string.
    #[serde(default)]
    pub event_pattern: Option<serde_json::Value>,
    #[serde(default)]
    pub schedule_expression: Option<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub managed_by: Option<String>,
    pub targets: Vec<EventTarget>,
}

/// A target of an EventBridge rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventTarget {
    pub id: String,
    pub arn: String,
    #[serde(default)]
    pub role_arn: Option<String>,
}
