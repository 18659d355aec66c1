//! The fix actions, each a value registered once in [`actions`]: its id
//! (what a rule's `fix.action` names), its safety (what findings, the plan
//! and the docs show), how findings asking for it are merged, which actions
//! must be planned before it, its plan and apply steps, and its template
//! form: the same change as edits to the CloudFormation template that
//! defines the resource (`--fix-patch`), where it has one.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use super::{
    Error, NotApplied, PlannedAction, bucket_encryption, bucket_policy, bucket_public_access_block,
    bucket_versioning, build_project, deploy_one_at_a_time, deploy_rollback, instance,
    key_cancel_deletion, key_policy, key_rotation, source_polling, trigger, trigger_enable,
};
use crate::collect::clients::RegionClients;
use crate::findings::{Finding, FixSafety};
use crate::model::Snapshot;
use crate::patch::Edit;
use crate::patch::terraform::TfEdit;
use crate::rules::config::Config;

/// What applying an action returns: the API calls made, or why not.
pub type ApplyFuture<'a> = Pin<Box<dyn Future<Output = Result<String, NotApplied>> + Send + 'a>>;

/// How several findings asking for the same action are planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedupe {
    /// Each finding is planned; the same change on the same resource is
    /// merged into the first one (its rules and pipelines added).
    MergeSameResource,
    /// A finding whose resource already has this change planned adds
    /// nothing (planning again would see the planned change as pending).
    SkipIfPlanned,
    /// The first finding of a pipeline takes the action; later findings of
    /// that pipeline add nothing, not even a manual step.
    OncePerPipeline,
    /// The first finding on a resource takes the action; later findings on
    /// that resource add nothing, not even a manual step.
    OncePerResource,
}

/// How the actions an action depends on stand for a finding's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependencies {
    /// The action depends on none, or no finding of the pipeline asks for one.
    NotAsked,
    /// Every finding of the pipeline asking for one of them is planned.
    Planned,
    /// Some finding of the pipeline asking for one of them is not planned.
    NotPlanned,
}

/// Why a finding gets a manual step instead of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotPlanned {
    /// The values the change needs are not as the finding implies, or could
    /// not be read: the rule's own remediation text.
    Manual,
    /// A manual step with this text instead of the rule's remediation.
    ManualBecause(String),
}

/// What planning reads, and what actions planned earlier leave behind.
pub struct PlanContext<'a> {
    pub snapshot: &'a Snapshot,
    pub config: &'a Config,
    /// Policy texts as the actions planned so far leave them, by resource
    /// ARN (`None`: no policy), so that two statements on one policy chain.
    pub pending_policies: BTreeMap<String, Option<String>>,
    /// For the finding being planned: how its pipeline's findings asking
    /// for [`FixAction::depends_on`] actions stand.
    pub dependencies: Dependencies,
}

/// What a template form reads: the snapshot built from the templates, and
/// the parsed template that defines the finding's resource.
pub struct TemplateContext<'a> {
    pub snapshot: &'a Snapshot,
    /// The template that defines the finding's resource (intrinsics in
    /// their long form).
    pub doc: &'a serde_json::Value,
    /// The resource's logical id in it.
    pub logical_id: &'a str,
    /// The logical id of another resource of the snapshot, by ARN, when the
    /// same template defines it.
    pub logical_ids: &'a BTreeMap<String, String>,
    /// The run's configuration (the release branch a new trigger rule
    /// matches, as for the API form).
    pub config: &'a Config,
}

impl TemplateContext<'_> {
    /// The resource's own entry in the template.
    pub fn resource(&self) -> &serde_json::Value {
        &self.doc["Resources"][self.logical_id]
    }
}

/// An action's template form: what it writes (the docs' table), and the
/// edits for one finding, or why this template is not edited so (the
/// change is then left to a person).
#[derive(Clone, Copy)]
pub struct TemplateForm {
    pub writes: &'static str,
    pub edits: fn(&Finding, &TemplateContext<'_>) -> Result<Vec<Edit>, Error>,
}

/// An action's Terraform form: what it writes (the docs' table), and the
/// edits for one finding of a plan, or why the configuration is not edited
/// so (the change is then left to a person, with the attribute to set).
#[derive(Clone, Copy)]
pub struct TerraformForm {
    pub writes: &'static str,
    pub edits: fn(&Finding, &crate::patch::terraform::TfContext<'_>) -> Result<Vec<TfEdit>, Error>,
}

/// One fix action.
pub trait FixAction: Sync {
    /// The id a rule's `fix.action` names.
    fn id(&self) -> &'static str;
    /// The change it makes, in one or two sentences (the action table of
    /// the documentation is generated from it).
    fn summary(&self) -> &'static str;
    /// Whether it can be applied without changing behaviour people rely on.
    fn safety(&self) -> FixSafety;
    /// How several findings asking for it are planned.
    fn dedupe(&self) -> Dedupe {
        Dedupe::MergeSameResource
    }
    /// Actions planned before this one; this one sees in
    /// [`PlanContext::dependencies`] whether those of the same pipeline were.
    fn depends_on(&self) -> &'static [&'static str] {
        &[]
    }
    /// The change for one finding, or why it is left to a person.
    fn plan(&self, f: &Finding, cx: &mut PlanContext<'_>) -> Result<PlannedAction, NotPlanned>;
    /// Makes the change, after checking the resource is still as collected.
    fn apply<'a>(&'a self, c: &'a RegionClients, a: &'a PlannedAction) -> ApplyFuture<'a>;
    /// The same change as edits to the template that defines the resource
    /// (`--fix-patch`); `None` when the action has none.
    fn template_form(&self) -> Option<TemplateForm> {
        None
    }
    /// The same change as edits to the Terraform configuration that
    /// defines the resource (`--tf-plan --iac DIR --fix-patch`); `None`
    /// when the action has none.
    fn terraform_form(&self) -> Option<TerraformForm> {
        None
    }
}

static ACTIONS: &[&dyn FixAction] = &[
    &trigger::Create,
    &trigger::Role,
    &trigger_enable::TriggerEnable,
    &source_polling::SourcePollingOff,
    &bucket_encryption::BucketEncryption,
    &bucket_policy::DENY_UNENCRYPTED,
    &bucket_policy::DENY_INSECURE,
    &bucket_public_access_block::BucketPublicAccessBlock,
    &bucket_versioning::BucketVersioning,
    &key_rotation::KeyRotation,
    &key_cancel_deletion::KeyCancelDeletion,
    &key_policy::Grant,
    &key_policy::CreateCmk,
    &build_project::EncryptionKey,
    &build_project::PrivilegedOff,
    &deploy_rollback::DeployRollback,
    &deploy_one_at_a_time::DeployOneAtATime,
    &instance::Imdsv2,
    &instance::RoleArtifacts,
];

/// Every fix action.
pub fn actions() -> &'static [&'static dyn FixAction] {
    ACTIONS
}

/// The action with this id.
pub fn find(id: &str) -> Option<&'static dyn FixAction> {
    ACTIONS.iter().copied().find(|a| a.id() == id)
}

/// The ids of every action, in registration order.
pub fn ids() -> Vec<&'static str> {
    ACTIONS.iter().map(|a| a.id()).collect()
}

/// The planning round of an action: 0 without dependencies, else one more
/// than the latest of those it depends on (an unknown or cyclic dependency
/// counts as the last round).
pub fn round(a: &dyn FixAction) -> usize {
    fn go(a: &dyn FixAction, depth: usize) -> usize {
        if depth > ACTIONS.len() {
            return depth;
        }
        a.depends_on()
            .iter()
            .map(|d| find(d).map_or(ACTIONS.len(), |d| go(d, depth + 1) + 1))
            .max()
            .unwrap_or(0)
    }
    go(a, 0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn ids_are_unique_and_dependencies_exist_without_cycles() {
        let mut seen = BTreeSet::new();
        for a in actions() {
            assert!(seen.insert(a.id()), "{} registered twice", a.id());
            for d in a.depends_on() {
                assert!(find(d).is_some(), "{} depends on unknown {d}", a.id());
                assert_ne!(*d, a.id(), "{} depends on itself", a.id());
            }
            assert!(round(*a) < actions().len(), "{} has a cycle", a.id());
        }
        assert_eq!(find("source-polling-off").map(round), Some(1));
        assert!(find("teleport").is_none());
    }

    #[test]
    fn rules_and_actions_are_in_step() {
        let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
        for a in actions() {
            assert!(
                rules
                    .rules
                    .iter()
                    .any(|r| r.file.fix.as_ref().is_some_and(|x| x.action == a.id())),
                "no built-in rule names {}",
                a.id()
            );
        }
        for r in &rules.rules {
            let Some(fix) = &r.file.fix else { continue };
            let Some(a) = find(&fix.action) else {
                panic!("{} names unknown action {}", r.file.id, fix.action)
            };
            assert_eq!(fix.safety, a.safety(), "{} safety", r.file.id);
            // what the catalog and the rule's page show
            let shown = format!("{} ({})", a.id(), a.safety());
            assert!(
                crate::docs::rules_list(&rules, crate::docs::ListFormat::Markdown)
                    .contains(&format!("| {shown} |")),
                "{} catalog row",
                r.file.id
            );
            assert!(
                crate::docs::rule_page(&r.file).contains(&format!("`{}` ({})", a.id(), a.safety())),
                "{} page",
                r.file.id
            );
        }
    }
}
