//! The snapshot model: everything pipeaudit knows about an account, as plain
//! data. It knows nothing of AWS clients; collectors fill it, rules read it.

pub mod policy;
pub mod principals;
pub mod redact;
pub mod resources;
pub mod secrets;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use policy::PolicyDocument;
pub use resources::*;

/// The snapshot format version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A value as it was observed: read, known not to exist, or not readable.
///
/// The three states are never confused: `Absent` is a fact (the API said the
/// resource or setting does not exist), `Unknown` means pipeaudit could not
/// tell and must not draw a conclusion from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Observed<T> {
    /// The value was read.
    Ok { value: T },
    /// The resource or setting does not exist.
    Absent,
    /// The value could not be read.
    Unknown { error: ReadError },
}

impl<T: Eq> Eq for Observed<T> {}

impl<T> Observed<T> {
    /// Wraps a read value.
    pub fn ok(value: T) -> Self {
        Observed::Ok { value }
    }

    /// The value, if it was read.
    pub fn value(&self) -> Option<&T> {
        match self {
            Observed::Ok { value } => Some(value),
            _ => None,
        }
    }

    /// True when the API said the thing does not exist.
    pub fn is_absent(&self) -> bool {
        matches!(self, Observed::Absent)
    }

    /// The read error, when the value is unknown.
    pub fn error(&self) -> Option<&ReadError> {
        match self {
            Observed::Unknown { error } => Some(error),
            _ => None,
        }
    }

    /// The read value by reference, with absent/unknown as they are.
    pub fn as_ref(&self) -> Observed<&T> {
        match self {
            Observed::Ok { value } => Observed::Ok { value },
            Observed::Absent => Observed::Absent,
            Observed::Unknown { error } => Observed::Unknown {
                error: error.clone(),
            },
        }
    }

    /// Maps the read value, keeping absent/unknown as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Observed<U> {
        match self {
            Observed::Ok { value } => Observed::Ok { value: f(value) },
            Observed::Absent => Observed::Absent,
            Observed::Unknown { error } => Observed::Unknown { error },
        }
    }
}

impl<T> Observed<Option<T>> {
    /// Treats a read that returned nothing as absent.
    pub fn flatten(self) -> Observed<T> {
        match self {
            Observed::Ok { value: Some(v) } => Observed::Ok { value: v },
            Observed::Ok { value: None } | Observed::Absent => Observed::Absent,
            Observed::Unknown { error } => Observed::Unknown { error },
        }
    }
}

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadError {
    /// What kind of failure it was.
    pub kind: ReadErrorKind,
    /// The IAM action that was called (and is needed), e.g. `kms:GetKeyPolicy`.
    pub action: String,
    /// The error code the service returned, when it returned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The service's message, or a description of the transport failure.
    pub message: String,
}

/// The classes of read failure that matter to the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadErrorKind {
    /// The caller lacks the permission named by `action`.
    AccessDenied,
    /// Throttled past the retry budget.
    Throttled,
    /// The endpoint does not implement the operation.
    Unsupported,
    /// Timeout, connection failure, or a response that could not be parsed.
    Transport,
    /// Any other service error.
    Service,
}

/// Identifies the tool that wrote a snapshot or report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl ToolInfo {
    /// This build of pipeaudit.
    pub fn current() -> Self {
        ToolInfo {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// A point-in-time picture of every audited pipeline and everything it wires to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub account: String,
    pub regions: Vec<String>,
    /// RFC 3339 UTC time the collection started.
    pub taken_at: String,
    /// The audited pipelines with their resolved wiring, sorted by ARN.
    pub pipelines: Vec<PipelineWiring>,
    /// Every resource referenced by at least one pipeline, each once.
    pub resources: Resources,
    /// Failures that affected a whole scope (a region's pipeline listing, the
    /// trigger-rule listing), as opposed to one resource.
    #[serde(default)]
    pub scope_errors: Vec<ScopeError>,
    /// How many API operations of each kind the collection made.
    #[serde(default)]
    pub api_calls: BTreeMap<String, u64>,
    /// The CloudFormation stack that manages each resource, by ARN (absent:
    /// no stack does); read only when asked (`--iac`, `--remediate`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stacks: BTreeMap<String, Observed<StackRef>>,
    /// The calls made to read `stacks`, counted apart from `api_calls`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stack_api_calls: BTreeMap<String, u64>,
    /// The IAM principals that hold release paths (see `aws::release`):
    /// `None` when not read (older snapshots), unknown when the bulk read
    /// was denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principals: Option<Observed<principals::PrincipalSet>>,
    /// Whether the account-level checks' resources were collected
    /// (`--account-checks`): the build projects of the audited regions
    /// that have a webhook, and the regions' source credentials.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub account_checks: bool,
    /// The build projects of the audited regions that have a webhook, by
    /// ARN order (their values are in `resources.build_projects`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_projects: Vec<WebhookProjectRef>,
    /// The other accounts of the same audit (`--accounts`, `--role-arn`)
    /// that the pipelines deploy stacks into: their stacks, and the roles
    /// CloudFormation acts as there, were read in that account and added
    /// to `resources` (under their own ARNs), so deploys into them are
    /// checked like deploys into this account.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub linked_accounts: BTreeSet<String>,
}

/// The CloudFormation stack resource a live resource was created as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackRef {
    /// The stack's name.
    pub stack: String,
    /// The resource's logical id in the stack's template.
    pub logical_id: String,
    /// Where this was learned: `tags`, or `cloudformation:DescribeStackResources`.
    pub source: String,
}

/// A failure that prevented reading a whole scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeError {
    pub region: String,
    /// What could not be listed.
    pub scope: Listing,
    pub error: ReadError,
}

/// A listing of a region whose failure hides a whole scope, named in
/// snapshots and reports as its kebab-case string (`event-rules`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Listing {
    /// CodePipeline ListPipelines.
    Pipelines,
    /// EventBridge ListRules on the default bus.
    EventRules,
    /// KMS ListAliases: key references through aliases.
    KmsAliases,
    /// CodeBuild ListProjects (account-level checks).
    BuildProjects,
    /// A name this version does not know (from a snapshot file).
    Other(String),
}

impl Listing {
    /// The name as snapshots and reports write it.
    pub fn as_str(&self) -> &str {
        match self {
            Listing::Pipelines => "pipelines",
            Listing::EventRules => "event-rules",
            Listing::KmsAliases => "kms-aliases",
            Listing::BuildProjects => "build-projects",
            Listing::Other(s) => s,
        }
    }
}

impl From<String> for Listing {
    fn from(s: String) -> Listing {
        match s.as_str() {
            "pipelines" => Listing::Pipelines,
            "event-rules" => Listing::EventRules,
            "kms-aliases" => Listing::KmsAliases,
            "build-projects" => Listing::BuildProjects,
            _ => Listing::Other(s),
        }
    }
}

impl From<&str> for Listing {
    fn from(s: &str) -> Listing {
        Listing::from(s.to_string())
    }
}

impl From<Listing> for String {
    fn from(l: Listing) -> String {
        l.as_str().to_string()
    }
}

impl std::fmt::Display for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Resources keyed by ARN, each collected once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub pipelines: BTreeMap<String, Observed<Pipeline>>,
    pub repositories: BTreeMap<String, Observed<Repository>>,
    /// The connections of the pipelines' `CodeStarSourceConnection`
    /// source actions, by ARN.
    #[serde(default)]
    pub connections: BTreeMap<String, Observed<Connection>>,
    pub build_projects: BTreeMap<String, Observed<BuildProject>>,
    pub deploy_applications: BTreeMap<String, Observed<DeployApplication>>,
    pub deploy_groups: BTreeMap<String, Observed<DeployGroup>>,
    /// The deployment configurations the groups name, by ARN (built-in
    /// ones from what AWS documents, custom ones read).
    #[serde(default)]
    pub deploy_configs: BTreeMap<String, Observed<DeployConfig>>,
    /// The EC2 instances each deployment group selects, by group ARN.
    #[serde(default)]
    pub deploy_targets: BTreeMap<String, Observed<DeployTargets>>,
    pub event_rules: BTreeMap<String, Observed<EventRule>>,
    pub buckets: BTreeMap<String, Observed<Bucket>>,
    /// The buckets of the pipelines' S3 source actions, by bucket ARN:
    /// whether each sends events to EventBridge.
    #[serde(default)]
    pub source_buckets: BTreeMap<String, Observed<SourceBucket>>,
    pub keys: BTreeMap<String, Observed<KmsKey>>,
    /// The ECS services of the pipelines' ECS deploy actions, by ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ecs_services: BTreeMap<String, Observed<EcsService>>,
    /// The task definition revisions those services run, by ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub task_definitions: BTreeMap<String, Observed<TaskDefinition>>,
    /// The ECR repositories of those task definitions' images, by ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_repositories: BTreeMap<String, Observed<ImageRepository>>,
    /// The Lambda functions of the pipelines' invoke actions, by ARN.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lambda_functions: BTreeMap<String, Observed<LambdaFunction>>,
    /// The approval rule templates associated with a CodeCommit source
    /// repository, by repository ARN: read only for the repositories into
    /// whose release branch some principal has a path (RP001).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub approval_templates: BTreeMap<String, Observed<Vec<ApprovalRuleTemplate>>>,
    pub roles: BTreeMap<String, Observed<Role>>,
    /// Managed policies attached to the collected roles, by policy ARN.
    pub managed_policies: BTreeMap<String, Observed<ManagedPolicy>>,
    /// The CloudFormation stacks of the pipelines' CloudFormation deploy
    /// actions, by `StackDeployRef::stack_arn`.
    #[serde(default)]
    pub cfn_stacks: BTreeMap<String, Observed<CfnStack>>,
    /// The CodeBuild source credentials of each audited region, by region
    /// (account-level checks only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_credentials: BTreeMap<String, Observed<Vec<SourceCredential>>>,
}

/// The largest snapshot file read (2 GiB): a 10,000-pipeline account
/// takes far less, and `/dev/zero` or a runaway file is refused.
pub const MAX_SNAPSHOT_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Why a snapshot file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("snapshot {path}:{line}:{column} is not valid: {message}")]
    Malformed {
        path: String,
        message: String,
        line: usize,
        column: usize,
    },
    #[error(
        "snapshot {path} has schema_version {found}; this pipeaudit ({tool}) reads version {supported}. {hint}"
    )]
    Version {
        path: String,
        found: u64,
        supported: u32,
        tool: String,
        hint: String,
    },
    #[error("snapshot {path} refused: {why}")]
    Refused { path: String, why: String },
    #[error("cannot write snapshot {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A JSON error of a snapshot file: the position goes next to the file name,
/// so it is taken out of serde's message.
fn malformed(origin: &str, e: &serde_json::Error) -> SnapshotError {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    SnapshotError::Malformed {
        path: origin.to_string(),
        message: text.strip_suffix(&position).unwrap_or(&text).to_string(),
        line: e.line(),
        column: e.column(),
    }
}

impl Snapshot {
    /// An empty snapshot for an account, stamped with this tool's version.
    pub fn new(account: String, regions: Vec<String>, taken_at: String) -> Self {
        Snapshot {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::current(),
            account,
            regions,
            taken_at,
            pipelines: Vec::new(),
            resources: Resources::default(),
            scope_errors: Vec::new(),
            api_calls: BTreeMap::new(),
            stacks: BTreeMap::new(),
            stack_api_calls: BTreeMap::new(),
            principals: None,
            account_checks: false,
            webhook_projects: Vec::new(),
            linked_accounts: BTreeSet::new(),
        }
    }

    /// Whether what the pipelines deploy into `account` is audited with
    /// this snapshot: the snapshot's own account, or a linked one.
    pub fn audits_account(&self, account: &str) -> bool {
        account == self.account || self.linked_accounts.contains(account)
    }

    /// Serializes the snapshot as pretty JSON (deterministic: maps are ordered).
    pub fn to_json(&self) -> String {
        // Serializing these plain data types cannot fail: all map keys are strings.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Writes the snapshot as [`Snapshot::to_json`] does, with a final
    /// newline, straight to `out`: the text is never held whole in memory.
    pub fn write_json(&self, out: impl std::io::Write) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer_pretty(&mut out, self)?;
        out.write_all(b"\n")?;
        out.flush()
    }

    /// Parses a snapshot from JSON text; `origin` names the source in errors.
    pub fn from_json(text: &str, origin: &str) -> Result<Self, SnapshotError> {
        // Check the version first so that a future format gets a version
        // error rather than a confusing field error. Only the version is
        // kept from this pass; a key given twice is an error here as it is
        // for every other field.
        #[derive(Deserialize)]
        struct Head {
            #[serde(default)]
            schema_version: Option<serde_json::Value>,
        }
        let head: Option<Head> = if text.trim_start().starts_with('{') {
            Some(serde_json::from_str(text).map_err(|e| malformed(origin, &e))?)
        } else {
            // not an object: tell a JSON error from "not a snapshot"
            serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map_err(|e| malformed(origin, &e))?;
            None
        };
        let found = head
            .and_then(|h| h.schema_version)
            .as_ref()
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| SnapshotError::Malformed {
                path: origin.to_string(),
                message: "missing or non-numeric `schema_version`; is this a pipeaudit snapshot?"
                    .to_string(),
                line: 1,
                column: 1,
            })?;
        if found != u64::from(SCHEMA_VERSION) {
            let hint = if found > u64::from(SCHEMA_VERSION) {
                "It was written by a newer pipeaudit; upgrade pipeaudit to read it."
            } else {
                "It was written by an older pipeaudit; take a new snapshot."
            };
            return Err(SnapshotError::Version {
                path: origin.to_string(),
                found,
                supported: SCHEMA_VERSION,
                tool: env!("CARGO_PKG_VERSION").to_string(),
                hint: hint.to_string(),
            });
        }
        let mut snapshot: Snapshot =
            serde_json::from_str(text).map_err(|e| malformed(origin, &e))?;
        // A snapshot written before declarations were redacted, or by hand,
        // is redacted on reading: nothing read from it can print a value.
        snapshot.redact_secrets();
        Ok(snapshot)
    }

    /// Redacts every pipeline action's configuration (see `redact`);
    /// a snapshot collected by this version is left as it is.
    pub fn redact_secrets(&mut self) {
        for p in self.resources.pipelines.values_mut() {
            if let Observed::Ok { value } = p {
                for action in value.stages.iter_mut().flat_map(|s| s.actions.iter_mut()) {
                    redact::redact_action(action);
                }
            }
        }
    }

    /// Loads a snapshot file: a regular file of at most
    /// [`MAX_SNAPSHOT_BYTES`] (a device or a pipe that never ends is
    /// refused before anything is read).
    pub fn load(path: &Path) -> Result<Self, SnapshotError> {
        use std::io::Read;
        let io = |source: std::io::Error| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        };
        let refuse = |why: String| SnapshotError::Refused {
            path: path.display().to_string(),
            why,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(refuse("it is not a regular file".to_string()));
        }
        if meta.len() > MAX_SNAPSHOT_BYTES {
            return Err(refuse(format!(
                "it is {} bytes, more than the {} bytes (2 GiB) a snapshot may have",
                meta.len(),
                MAX_SNAPSHOT_BYTES
            )));
        }
        // the cap holds even if the file grows while it is read
        let mut text = String::new();
        file.take(MAX_SNAPSHOT_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_SNAPSHOT_BYTES {
            return Err(refuse(format!(
                "it grew beyond the {MAX_SNAPSHOT_BYTES} bytes (2 GiB) a snapshot may have while it was read"
            )));
        }
        Self::from_json(&text, &path.display().to_string())
    }

    /// Writes the snapshot to a file.
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        std::fs::File::create(path)
            .and_then(|file| self.write_json(file))
            .map_err(|source| SnapshotError::Write {
                path: path.display().to_string(),
                source,
            })
    }

    /// Why the set of trigger rules of a pipeline is not known: the rules of
    /// its region could not be listed, or a rule of the region (or one linked
    /// to it) could not be read, so it may target the pipeline. Each with the
    /// path it is reported under (`<region>:event-rules` or
    /// `<rule ARN>.targets`); empty when every rule is known.
    pub fn trigger_gaps(&self, w: &PipelineWiring) -> Vec<(String, ReadError)> {
        let mut out = Vec::new();
        for e in &self.scope_errors {
            if e.scope == Listing::EventRules && e.region == w.region {
                out.push((format!("{}:event-rules", e.region), e.error.clone()));
            }
        }
        for (arn, rule) in &self.resources.event_rules {
            if let Observed::Unknown { error } = rule {
                let region = arn.split(':').nth(3).unwrap_or("");
                if region == w.region || w.trigger_rules.contains(arn) {
                    out.push((format!("{arn}.targets"), error.clone()));
                }
            }
        }
        out
    }

    /// Every read error recorded anywhere in the snapshot, with the resource it concerns.
    pub fn read_errors(&self) -> Vec<(String, ReadError)> {
        let mut out: Vec<(String, ReadError)> = Vec::new();
        for e in &self.scope_errors {
            out.push((format!("{}:{}", e.region, e.scope), e.error.clone()));
        }
        self.resources
            .visit_errors(&mut |arn, err| out.push((arn.to_string(), err.clone())));
        out
    }
}

#[cfg(test)]
mod tests;
