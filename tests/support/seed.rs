//! Seeds reference stacks (CodeCommit -> CodePipeline -> CodeBuild ->
//! CodeDeploy, EventBridge trigger, KMS-encrypted S3 artifact bucket, one IAM
//! role per service) into an AWS-compatible endpoint through the SDK, with
//! optional typical defects. Used by the tests and by `examples/seed.rs`.
//!
//! Everything is created sequentially: moto can answer 500 to concurrent writes.

use anyhow::{Context, Result};
use aws_config::BehaviorVersion;
use aws_credential_types::Credentials;
use aws_sdk_codebuild::types as cb;
use aws_sdk_codedeploy::types as cd;
use aws_sdk_codepipeline::types as cp;
use aws_sdk_s3::types as s3t;
use aws_types::region::Region;
use serde_json::json;

/// A plaintext value that looks like an AWS secret access key (the AWS
/// documentation's example key). It must never appear in pipeaudit's output.
pub const FAKE_SECRET_VALUE: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// The plaintext values `Defect::PipelineSecret` puts into a pipeline
/// declaration: a GitHub-token-shaped value in a build action's
/// `EnvironmentVariables` and in the source action's `OAuthToken`, and a
/// password in a JSON parameter. Built from parts, so that no secret-shaped
/// literal sits in the repository. None may appear in pipeaudit's output.
pub fn pipeline_secret_values() -> [String; 3] {
    let body: String = (0..36)
        .map(|i| char::from(b"Xk7Qm2Lp9Vt4Rz8Wn3Bc6Hd1Jf5Gs0Ya"[(i * 11 + 5) % 33]))
        .collect();
    [
        format!("{}{}_{body}", "gh", "p"),
        format!("{}{}_{}", "gh", "o", body.chars().rev().collect::<String>()),
        format!("Pw-{}-{}", &body[..10], "s3cr3t"),
    ]
}

/// The SDK clients for seeding.
pub struct SeedClients {
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
    pub s3: aws_sdk_s3::Client,
    pub codecommit: aws_sdk_codecommit::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub region: String,
    pub account: String,
}

impl SeedClients {
    /// Clients for an endpoint with static test credentials.
    pub async fn connect(endpoint_url: &str, region: &str) -> Result<Self> {
        Self::from_config(&static_config(endpoint_url, region).await, region).await
    }

    /// Clients acting in another account: moto switches accounts by the
    /// role ARN that was assumed (the role need not exist there). The role
    /// is assumed as pipeaudit itself assumes audit roles.
    pub async fn connect_as(endpoint_url: &str, region: &str, role_arn: &str) -> Result<Self> {
        let base = static_config(endpoint_url, region).await;
        let config = pipeaudit::collect::clients::assume_role_config(&base, role_arn, None).await;
        Self::from_config(&config, region).await
    }

    /// The SDK configuration [`SeedClients::connect_as`] acts with, for
    /// the services these clients leave out.
    pub async fn config_as(
        endpoint_url: &str,
        region: &str,
        role_arn: &str,
    ) -> aws_types::SdkConfig {
        let base = static_config(endpoint_url, region).await;
        pipeaudit::collect::clients::assume_role_config(&base, role_arn, None).await
    }

    /// Clients from a ready configuration.
    pub async fn from_config(config: &aws_types::SdkConfig, region: &str) -> Result<Self> {
        let config = config.clone();
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        let sts = aws_sdk_sts::Client::new(&config);
        let account = sts
            .get_caller_identity()
            .send()
            .await
            .context("sts:GetCallerIdentity")?
            .account()
            .unwrap_or("123456789012")
            .to_string();
        Ok(SeedClients {
            iam: aws_sdk_iam::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            codecommit: aws_sdk_codecommit::Client::new(&config),
            codebuild: aws_sdk_codebuild::Client::new(&config),
            codedeploy: aws_sdk_codedeploy::Client::new(&config),
            codepipeline: aws_sdk_codepipeline::Client::new(&config),
            events: aws_sdk_eventbridge::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            region: region.to_string(),
            account,
        })
    }
}

/// An SDK configuration for an endpoint with static test credentials.
async fn static_config(endpoint_url: &str, region: &str) -> aws_types::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(pipeaudit::collect::clients::shared_https_client())
        .endpoint_url(endpoint_url)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "pipeaudit-tests",
        ))
        .load()
        .await
}

/// The buildspec of every seeded project, inline.
pub const INLINE_BUILDSPEC: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - make test\nartifacts:\n  files:\n    - '**/*'\n";

/// A typical defect to build into a stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    NoTrigger,
    TriggerDisabled,
    TriggerWrongBranch,
    TriggerNoRole,
    PollingOn,
    NoCmk,
    BucketNoEncryption,
    BucketNoPolicy,
    BucketPolicyPublic,
    PublicAccessBlockOff,
    VersioningOff,
    KeyRotationOff,
    KeyDisabled,
    KeyPendingDeletion,
    KeyPolicyPublic,
    PlaintextSecret,
    PrivilegedMode,
    NoRollback,
    AllAtOnce,
    NoDeployTargets,
    AdminPipelineRole,
    MissingBucket,
    MissingKey,
    MissingProject,
    MissingRepo,
    MissingDeployGroup,
    /// Plaintext secrets in the pipeline declaration (not in `ALL`: the demo
    /// mix keeps its shape); see `pipeline_secret_values`.
    PipelineSecret,
}

impl Defect {
    /// Every defect, in a fixed order.
    pub const ALL: &'static [Defect] = &[
        Defect::NoTrigger,
        Defect::TriggerDisabled,
        Defect::TriggerWrongBranch,
        Defect::TriggerNoRole,
        Defect::PollingOn,
        Defect::NoCmk,
        Defect::BucketNoEncryption,
        Defect::BucketNoPolicy,
        Defect::BucketPolicyPublic,
        Defect::PublicAccessBlockOff,
        Defect::VersioningOff,
        Defect::KeyRotationOff,
        Defect::KeyDisabled,
        Defect::KeyPendingDeletion,
        Defect::KeyPolicyPublic,
        Defect::PlaintextSecret,
        Defect::PrivilegedMode,
        Defect::NoRollback,
        Defect::AllAtOnce,
        Defect::NoDeployTargets,
        Defect::AdminPipelineRole,
        Defect::MissingBucket,
        Defect::MissingKey,
        Defect::MissingProject,
        Defect::MissingRepo,
        Defect::MissingDeployGroup,
    ];

    /// A kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Defect::NoTrigger => "no-trigger",
            Defect::TriggerDisabled => "trigger-disabled",
            Defect::TriggerWrongBranch => "trigger-wrong-branch",
            Defect::TriggerNoRole => "trigger-no-role",
            Defect::PollingOn => "polling-on",
            Defect::NoCmk => "no-cmk",
            Defect::BucketNoEncryption => "bucket-no-encryption",
            Defect::BucketNoPolicy => "bucket-no-policy",
            Defect::BucketPolicyPublic => "bucket-policy-public",
            Defect::PublicAccessBlockOff => "public-access-block-off",
            Defect::VersioningOff => "versioning-off",
            Defect::KeyRotationOff => "key-rotation-off",
            Defect::KeyDisabled => "key-disabled",
            Defect::KeyPendingDeletion => "key-pending-deletion",
            Defect::KeyPolicyPublic => "key-policy-public",
            Defect::PlaintextSecret => "plaintext-secret",
            Defect::PrivilegedMode => "privileged-mode",
            Defect::NoRollback => "no-rollback",
            Defect::AllAtOnce => "all-at-once",
            Defect::NoDeployTargets => "no-deploy-targets",
            Defect::AdminPipelineRole => "admin-pipeline-role",
            Defect::MissingBucket => "missing-bucket",
            Defect::MissingKey => "missing-key",
            Defect::MissingProject => "missing-project",
            Defect::MissingRepo => "missing-repo",
            Defect::MissingDeployGroup => "missing-deploy-group",
            Defect::PipelineSecret => "pipeline-secret",
        }
    }
}

/// What to seed.
#[derive(Debug, Clone)]
pub struct StackSpec {
    pub prefix: String,
    pub defects: Vec<Defect>,
    pub shared_store: Option<SharedStore>,
}

/// An artifact bucket and key created once and used by several pipelines.
/// Its key policy grants the account root (delegating to IAM policies), so
/// stacks that use it rely on their roles' identity policies.
#[derive(Debug, Clone)]
pub struct SharedStore {
    pub bucket: String,
    pub key_arn: String,
    pub key_id: String,
}

/// What was seeded.
#[derive(Debug, Clone)]
pub struct SeededStack {
    pub prefix: String,
    pub pipeline_name: String,
    pub pipeline_arn: String,
    pub bucket: String,
    pub key_arn: String,
    pub key_id: String,
    pub repo_arn: String,
    pub project_name: String,
    pub app_name: String,
    pub group_name: String,
    pub rule_name: String,
    /// Role ARNs: pipeline, build, deploy, events.
    pub roles: Vec<String>,
    /// The deploy target: a running instance tagged `Name=<prefix>-web`
    /// (IMDSv2 required) whose profile's role may read and decrypt the
    /// pipeline's artifacts; `None` when the stack has no deployment group
    /// targets.
    pub instance: Option<SeededInstance>,
}

/// A seeded EC2 instance.
#[derive(Debug, Clone)]
pub struct SeededInstance {
    pub id: String,
    pub profile_name: String,
    pub role_arn: String,
}

/// The image seeded instances run (one of moto's default AMIs).
pub const AMI: &str = "ami-03cf127a";

/// The statements an instance role needs to fetch a pipeline's artifacts:
/// read its objects (the first 20 characters of the pipeline name are their
/// prefix), and with `decrypt`, decrypt them with the key.
pub fn instance_statements(
    bucket: &str,
    pipeline_name: &str,
    key_arn: &str,
    decrypt: bool,
) -> serde_json::Value {
    let prefix: String = pipeline_name.chars().take(20).collect();
    let mut st = vec![
        json!({"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":format!("arn:aws:s3:::{bucket}/{prefix}/*")}),
    ];
    if decrypt {
        st.push(json!({"Effect":"Allow","Action":"kms:Decrypt","Resource":key_arn}));
    }
    json!({"Version":"2012-10-17","Statement":st})
}

/// Creates a role for EC2 with `policy` inline and an instance profile of
/// the same name holding it: (role ARN, profile name).
pub async fn seed_instance_profile(
    c: &SeedClients,
    name: &str,
    policy: serde_json::Value,
) -> Result<(String, String)> {
    let role_arn = role(c, name, "ec2.amazonaws.com", Some(policy)).await?;
    c.iam
        .create_instance_profile()
        .instance_profile_name(name)
        .send()
        .await
        .with_context(|| format!("iam:CreateInstanceProfile {name}"))?;
    c.iam
        .add_role_to_instance_profile()
        .instance_profile_name(name)
        .role_name(name)
        .send()
        .await
        .with_context(|| format!("iam:AddRoleToInstanceProfile {name}"))?;
    Ok((role_arn, name.to_string()))
}

/// Runs one instance with `tags`, the instance profile and IMDSv2 required
/// or not; its id.
pub async fn seed_instance(
    c: &SeedClients,
    tags: &[(&str, &str)],
    profile: Option<&str>,
    imdsv2: bool,
) -> Result<String> {
    use aws_sdk_ec2::types as ec2t;
    let mut spec = ec2t::TagSpecification::builder().resource_type(ec2t::ResourceType::Instance);
    for (k, v) in tags {
        spec = spec.tags(ec2t::Tag::builder().key(*k).value(*v).build());
    }
    let mut req = c
        .ec2
        .run_instances()
        .image_id(AMI)
        .instance_type(ec2t::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .tag_specifications(spec.build())
        .metadata_options(
            ec2t::InstanceMetadataOptionsRequest::builder()
                .http_endpoint(ec2t::InstanceMetadataEndpointState::Enabled)
                .http_tokens(if imdsv2 {
                    ec2t::HttpTokensState::Required
                } else {
                    ec2t::HttpTokensState::Optional
                })
                .http_put_response_hop_limit(2)
                .build(),
        );
    if let Some(p) = profile {
        req = req.iam_instance_profile(
            ec2t::IamInstanceProfileSpecification::builder()
                .name(p)
                .build(),
        );
    }
    let out = req.send().await.context("ec2:RunInstances")?;
    out.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .context("RunInstances returned no instance")
}

/// A deterministic mix for demos and benchmarks: every third stack
/// (i % 3 == 0) is compliant; with `with_defects`, the others take the
/// defects of `Defect::ALL` in turn, one each, so 39 stacks show every
/// defect once. Without, all are compliant.
pub fn demo_mix(n: usize, with_defects: bool, prefix: &str) -> Vec<StackSpec> {
    (0..n)
        .map(|i| StackSpec {
            prefix: format!("{prefix}-{i:03}"),
            defects: if with_defects && i % 3 != 0 {
                let nth_defective = i - i / 3 - 1;
                vec![Defect::ALL[nth_defective % Defect::ALL.len()]]
            } else {
                Vec::new()
            },
            shared_store: None,
        })
        .collect()
}

fn trust(service: &str, account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account}}
        }]
    })
    .to_string()
}

pub async fn role(
    c: &SeedClients,
    name: &str,
    service: &str,
    inline: Option<serde_json::Value>,
) -> Result<String> {
    let out = c
        .iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust(service, &c.account))
        .send()
        .await
        .with_context(|| format!("iam:CreateRole {name}"))?;
    let arn = out.role().map(|r| r.arn().to_string()).unwrap_or_default();
    if let Some(doc) = inline {
        c.iam
            .put_role_policy()
            .role_name(name)
            .policy_name(format!("{name}-policy"))
            .policy_document(doc.to_string())
            .send()
            .await
            .with_context(|| format!("iam:PutRolePolicy {name}"))?;
    }
    Ok(arn)
}

pub async fn managed_policy(c: &SeedClients, name: &str, doc: serde_json::Value) -> Result<String> {
    let out = c
        .iam
        .create_policy()
        .policy_name(name)
        .policy_document(doc.to_string())
        .send()
        .await
        .with_context(|| format!("iam:CreatePolicy {name}"))?;
    Ok(out
        .policy()
        .and_then(|p| p.arn())
        .unwrap_or_default()
        .to_string())
}

/// Creates a customer-managed key with rotation on and an alias.
async fn create_key(
    c: &SeedClients,
    alias: &str,
    policy: Option<serde_json::Value>,
) -> Result<(String, String)> {
    let root = format!("arn:aws:iam::{}:root", c.account);
    let policy = policy.unwrap_or_else(|| {
        json!({"Version":"2012-10-17","Statement":[{"Sid":"EnableRootPermissions","Effect":"Allow","Principal":{"AWS": root},"Action":"kms:*","Resource":"*"}]})
    });
    let out = c
        .kms
        .create_key()
        .description(format!("artifact key {alias}"))
        .policy(policy.to_string())
        .send()
        .await
        .context("kms:CreateKey")?;
    let meta = out
        .key_metadata()
        .context("CreateKey returned no metadata")?;
    let key_id = meta.key_id().to_string();
    let key_arn = meta.arn().unwrap_or_default().to_string();
    c.kms
        .enable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .context("kms:EnableKeyRotation")?;
    c.kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
        .context("kms:CreateAlias")?;
    Ok((key_id, key_arn))
}

fn bucket_policy(bucket: &str, public: bool) -> serde_json::Value {
    let mut statements = vec![
        json!({"Sid":"DenyUnEncryptedObjectUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
               "Resource":format!("arn:aws:s3:::{bucket}/*"),
               "Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}}),
        json!({"Sid":"DenyInsecureConnections","Effect":"Deny","Principal":"*","Action":"s3:*",
               "Resource":[format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
               "Condition":{"Bool":{"aws:SecureTransport":"false"}}}),
    ];
    if public {
        statements.push(
            json!({"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject",
                               "Resource":format!("arn:aws:s3:::{bucket}/*")}),
        );
    }
    json!({"Version":"2012-10-17","Statement":statements})
}

/// Creates and configures an artifact bucket (object first, then the policy:
/// moto enforces the bucket policy on PutObject and sees plain HTTP).
async fn create_bucket(
    c: &SeedClients,
    bucket: &str,
    key_arn: &str,
    has: &dyn Fn(Defect) -> bool,
) -> Result<()> {
    c.s3.create_bucket()
        .bucket(bucket)
        .send()
        .await
        .with_context(|| format!("s3:CreateBucket {bucket}"))?;
    c.s3.put_object()
        .bucket(bucket)
        .key("artifacts/seed.txt")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"seed artifact",
        ))
        .server_side_encryption(s3t::ServerSideEncryption::AwsKms)
        .ssekms_key_id(key_arn)
        .send()
        .await
        .context("s3:PutObject")?;
    if !has(Defect::BucketNoEncryption) {
        let rule = s3t::ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(
                s3t::ServerSideEncryptionByDefault::builder()
                    .sse_algorithm(s3t::ServerSideEncryption::AwsKms)
                    .kms_master_key_id(key_arn)
                    .build()?,
            )
            .bucket_key_enabled(true)
            .build();
        c.s3.put_bucket_encryption()
            .bucket(bucket)
            .server_side_encryption_configuration(
                s3t::ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()?,
            )
            .send()
            .await
            .context("s3:PutBucketEncryption")?;
    }
    let block = !has(Defect::PublicAccessBlockOff);
    c.s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            s3t::PublicAccessBlockConfiguration::builder()
                .block_public_acls(block)
                .ignore_public_acls(block)
                .block_public_policy(block)
                .restrict_public_buckets(block)
                .build(),
        )
        .send()
        .await
        .context("s3:PutPublicAccessBlock")?;
    if !has(Defect::VersioningOff) {
        c.s3.put_bucket_versioning()
            .bucket(bucket)
            .versioning_configuration(
                s3t::VersioningConfiguration::builder()
                    .status(s3t::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .context("s3:PutBucketVersioning")?;
    }
    if !has(Defect::BucketNoPolicy) {
        c.s3.put_bucket_policy()
            .bucket(bucket)
            .policy(bucket_policy(bucket, has(Defect::BucketPolicyPublic)).to_string())
            .send()
            .await
            .context("s3:PutBucketPolicy")?;
    }
    access_logging(c, bucket).await
}

/// Server access logging of a bucket into its own log bucket, whose policy
/// lets the logging service write (S3 requires that, and so does moto).
async fn access_logging(c: &SeedClients, bucket: &str) -> Result<()> {
    let logs = format!("{bucket}-logs");
    c.s3.create_bucket()
        .bucket(&logs)
        .send()
        .await
        .with_context(|| format!("s3:CreateBucket {logs}"))?;
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "S3ServerAccessLogs",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{logs}/*"),
        }],
    });
    c.s3.put_bucket_policy()
        .bucket(&logs)
        .policy(policy.to_string())
        .send()
        .await
        .context("s3:PutBucketPolicy (log bucket)")?;
    c.s3.put_bucket_logging()
        .bucket(bucket)
        .bucket_logging_status(
            s3t::BucketLoggingStatus::builder()
                .logging_enabled(
                    s3t::LoggingEnabled::builder()
                        .target_bucket(&logs)
                        .target_prefix(format!("{bucket}/"))
                        .build()?,
                )
                .build(),
        )
        .send()
        .await
        .context("s3:PutBucketLogging")?;
    Ok(())
}

/// Creates a bucket and key to be shared by several stacks.
pub async fn seed_shared_store(c: &SeedClients, prefix: &str) -> Result<SharedStore> {
    let (key_id, key_arn) = create_key(c, &format!("alias/{prefix}-artifacts"), None).await?;
    let bucket = format!("{prefix}-artifacts");
    create_bucket(c, &bucket, &key_arn, &|_| false).await?;
    Ok(SharedStore {
        bucket,
        key_arn,
        key_id,
    })
}

/// Seeds one stack.
pub async fn seed_stack(c: &SeedClients, spec: &StackSpec) -> Result<SeededStack> {
    let p = spec.prefix.as_str();
    let has = |d: Defect| spec.defects.contains(&d);
    let account = c.account.clone();
    let region = c.region.clone();
    let pipeline_name = format!("{p}-pipeline");
    let pipeline_arn = format!("arn:aws:codepipeline:{region}:{account}:{pipeline_name}");
    let repo_name = format!("{p}-repo");
    let project_name = format!("{p}-build");
    let app_name = format!("{p}-app");
    let group_name = format!("{p}-group");
    let rule_name = format!("{p}-trigger");
    let bucket_name = spec
        .shared_store
        .as_ref()
        .map(|s| s.bucket.clone())
        .unwrap_or_else(|| format!("{p}-artifacts"));
    let bucket_arn = format!("arn:aws:s3:::{bucket_name}");
    let repo_arn = format!("arn:aws:codecommit:{region}:{account}:{repo_name}");
    let project_arn = format!("arn:aws:codebuild:{region}:{account}:project/{project_name}");

    // Roles.
    let pipeline_role_name = format!("{p}-pipeline-role");
    let build_role_name = format!("{p}-build-role");
    let pipeline_role_arn = format!("arn:aws:iam::{account}:role/{pipeline_role_name}");
    let build_role_arn = format!("arn:aws:iam::{account}:role/{build_role_name}");
    let kms_actions = json!([
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:ReEncrypt*",
        "kms:GenerateDataKey*",
        "kms:DescribeKey"
    ]);

    // Key (or the shared one, or a reference to one that does not exist).
    let (key_id, key_arn) = if let Some(s) = &spec.shared_store {
        (s.key_id.clone(), s.key_arn.clone())
    } else if has(Defect::MissingKey) {
        let id = "00000000-0000-0000-0000-000000000000".to_string();
        (
            id.clone(),
            format!("arn:aws:kms:{region}:{account}:key/{id}"),
        )
    } else {
        let mut statements = vec![
            json!({"Sid":"EnableRootPermissions","Effect":"Allow","Principal":{"AWS":format!("arn:aws:iam::{account}:root")},"Action":"kms:*","Resource":"*"}),
            json!({"Sid":"AllowPipelineAndBuildRoles","Effect":"Allow","Principal":{"AWS":[&pipeline_role_arn, &build_role_arn]},"Action":kms_actions,"Resource":"*"}),
        ];
        if has(Defect::KeyPolicyPublic) {
            statements.push(json!({"Sid":"Everyone","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}));
        }
        let policy = json!({"Version":"2012-10-17","Statement":statements});
        create_key(c, &format!("alias/{p}-artifacts"), Some(policy)).await?
    };

    let pipeline_role = role(
        c,
        &pipeline_role_name,
        "codepipeline.amazonaws.com",
        Some(json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:GetBucketVersioning"],"Resource":[&bucket_arn, format!("{bucket_arn}/*")]},
            {"Effect":"Allow","Action":["codebuild:StartBuild","codebuild:BatchGetBuilds"],"Resource":&project_arn},
            {"Effect":"Allow","Action":["codedeploy:CreateDeployment","codedeploy:GetDeployment","codedeploy:GetDeploymentConfig","codedeploy:RegisterApplicationRevision","codedeploy:GetApplicationRevision"],"Resource":"*"},
            {"Effect":"Allow","Action":["codecommit:GetBranch","codecommit:GetCommit","codecommit:UploadArchive","codecommit:GetUploadArchiveStatus"],"Resource":&repo_arn},
            {"Effect":"Allow","Action":kms_actions,"Resource":&key_arn}]})),
    )
    .await?;
    if has(Defect::AdminPipelineRole) {
        // moto does not load AWS managed policies by default: an equivalent
        // customer-managed policy stands in for AdministratorAccess.
        let admin = managed_policy(c, &format!("{p}-admin"), json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]})).await?;
        c.iam
            .attach_role_policy()
            .role_name(&pipeline_role_name)
            .policy_arn(admin)
            .send()
            .await
            .context("iam:AttachRolePolicy admin")?;
    }
    let build_role = role(
        c,
        &build_role_name,
        "codebuild.amazonaws.com",
        Some(json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"},
            {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":format!("{bucket_arn}/*")},
            {"Effect":"Allow","Action":kms_actions,"Resource":&key_arn}]})),
    )
    .await?;
    let deploy_role_name = format!("{p}-deploy-role");
    let deploy_role = role(c, &deploy_role_name, "codedeploy.amazonaws.com", None).await?;
    // A customer-managed stand-in for the AWS managed AWSCodeDeployRole policy.
    let deploy_policy = managed_policy(
        c,
        &format!("{p}-deploy-policy"),
        json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","autoscaling:Describe*","autoscaling:CompleteLifecycleAction","tag:GetResources","sns:Publish","cloudwatch:DescribeAlarms"],"Resource":"*"}]}),
    )
    .await?;
    c.iam
        .attach_role_policy()
        .role_name(&deploy_role_name)
        .policy_arn(deploy_policy)
        .send()
        .await
        .context("iam:AttachRolePolicy deploy policy")?;
    let events_role = role(
        c,
        &format!("{p}-events-role"),
        "events.amazonaws.com",
        Some(json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"codepipeline:StartPipelineExecution","Resource":&pipeline_arn}]})),
    )
    .await?;

    // Bucket.
    if spec.shared_store.is_none() && !has(Defect::MissingBucket) {
        create_bucket(c, &bucket_name, &key_arn, &has).await?;
    }
    let bucket_name = if has(Defect::MissingBucket) {
        format!("{p}-missing-artifacts")
    } else {
        bucket_name
    };
    if !has(Defect::MissingKey) && spec.shared_store.is_none() {
        if has(Defect::KeyRotationOff) {
            c.kms
                .disable_key_rotation()
                .key_id(&key_id)
                .send()
                .await
                .context("kms:DisableKeyRotation")?;
        }
        if has(Defect::KeyDisabled) {
            c.kms
                .disable_key()
                .key_id(&key_id)
                .send()
                .await
                .context("kms:DisableKey")?;
        }
        if has(Defect::KeyPendingDeletion) {
            c.kms
                .schedule_key_deletion()
                .key_id(&key_id)
                .pending_window_in_days(7)
                .send()
                .await
                .context("kms:ScheduleKeyDeletion")?;
        }
    }

    // Repository.
    let repo_name = if has(Defect::MissingRepo) {
        format!("{p}-missing-repo")
    } else {
        c.codecommit
            .create_repository()
            .repository_name(&repo_name)
            .send()
            .await
            .context("codecommit:CreateRepository")?;
        repo_name
    };
    let repo_arn = format!("arn:aws:codecommit:{region}:{account}:{repo_name}");

    // Build project.
    let project_name = if has(Defect::MissingProject) {
        format!("{p}-missing-build")
    } else {
        let mut env = cb::ProjectEnvironment::builder()
            .r#type(cb::EnvironmentType::LinuxContainer)
            .image("aws/codebuild/standard:7.0")
            .compute_type(cb::ComputeType::BuildGeneral1Small)
            .privileged_mode(has(Defect::PrivilegedMode))
            .environment_variables(
                cb::EnvironmentVariable::builder()
                    .name("STAGE")
                    .value("prod")
                    .r#type(cb::EnvironmentVariableType::Plaintext)
                    .build()?,
            )
            .environment_variables(
                cb::EnvironmentVariable::builder()
                    .name("DB_PASSWORD")
                    .value(format!("/{p}/db-password"))
                    .r#type(cb::EnvironmentVariableType::ParameterStore)
                    .build()?,
            );
        if has(Defect::PlaintextSecret) {
            env = env.environment_variables(
                cb::EnvironmentVariable::builder()
                    .name("AWS_SECRET_ACCESS_KEY")
                    .value(FAKE_SECRET_VALUE)
                    .r#type(cb::EnvironmentVariableType::Plaintext)
                    .build()?,
            );
        }
        c.codebuild
            .create_project()
            .name(&project_name)
            // moto requires a location even for CODEPIPELINE sources
            .source(
                cb::ProjectSource::builder()
                    .r#type(cb::SourceType::Codepipeline)
                    .location("codepipeline")
                    // inline: the commands are not the committers' to change
                    .buildspec(INLINE_BUILDSPEC)
                    .build()?,
            )
            .artifacts(
                cb::ProjectArtifacts::builder()
                    .r#type(cb::ArtifactsType::Codepipeline)
                    .location("codepipeline")
                    .build()?,
            )
            .environment(env.build()?)
            .service_role(&build_role)
            // moto ignores encryptionKey: the collected project has none
            .encryption_key(&key_arn)
            .logs_config(
                cb::LogsConfig::builder()
                    .cloud_watch_logs(
                        cb::CloudWatchLogsConfig::builder()
                            .status(cb::LogsConfigStatusType::Enabled)
                            .build()?,
                    )
                    .build(),
            )
            .send()
            .await
            .context("codebuild:CreateProject")?;
        project_name
    };

    // Deploy application and group.
    c.codedeploy
        .create_application()
        .application_name(&app_name)
        .compute_platform(cd::ComputePlatform::Server)
        .send()
        .await
        .context("codedeploy:CreateApplication")?;
    let group_name = if has(Defect::MissingDeployGroup) {
        format!("{p}-missing-group")
    } else {
        let mut req = c
            .codedeploy
            .create_deployment_group()
            .application_name(&app_name)
            .deployment_group_name(&group_name)
            .service_role_arn(&deploy_role)
            .deployment_config_name(if has(Defect::AllAtOnce) {
                "CodeDeployDefault.AllAtOnce"
            } else {
                "CodeDeployDefault.OneAtATime"
            })
            .alarm_configuration(
                cd::AlarmConfiguration::builder()
                    .enabled(true)
                    .alarms(
                        cd::Alarm::builder()
                            .name(format!("{p}-deploy-alarm"))
                            .build(),
                    )
                    .build(),
            )
            .auto_rollback_configuration(
                cd::AutoRollbackConfiguration::builder()
                    .enabled(!has(Defect::NoRollback))
                    .events(cd::AutoRollbackEvent::DeploymentFailure)
                    .build(),
            );
        if !has(Defect::NoDeployTargets) {
            req = req.ec2_tag_filters(
                cd::Ec2TagFilter::builder()
                    .key("Name")
                    .value(format!("{p}-web"))
                    .r#type(cd::Ec2TagFilterType::KeyAndValue)
                    .build(),
            );
        }
        req.send()
            .await
            .context("codedeploy:CreateDeploymentGroup")?;
        group_name
    };

    // Deploy target: a healthy instance the group's tag filter selects.
    let instance = if has(Defect::NoDeployTargets) || has(Defect::MissingDeployGroup) {
        None
    } else {
        let (role_arn, profile_name) = seed_instance_profile(
            c,
            &format!("{p}-instance-role"),
            instance_statements(&bucket_name, &pipeline_name, &key_arn, true),
        )
        .await?;
        let id = seed_instance(
            c,
            &[("Name", &format!("{p}-web"))],
            Some(&profile_name),
            true,
        )
        .await?;
        Some(SeededInstance {
            id,
            profile_name,
            role_arn,
        })
    };

    // Pipeline.
    let mut store = cp::ArtifactStore::builder()
        .r#type(cp::ArtifactStoreType::S3)
        .location(&bucket_name);
    if !has(Defect::NoCmk) {
        store = store.encryption_key(
            cp::EncryptionKey::builder()
                .id(&key_arn)
                .r#type(cp::EncryptionKeyType::Kms)
                .build()?,
        );
    }
    let action = |name: &str, category: cp::ActionCategory, provider: &str| -> Result<_> {
        Ok(cp::ActionDeclaration::builder().name(name).action_type_id(
            cp::ActionTypeId::builder()
                .category(category)
                .owner(cp::ActionOwner::Aws)
                .provider(provider)
                .version("1")
                .build()
                .context("action type id")?,
        ))
    };
    let [token, oauth, password] = pipeline_secret_values();
    let mut source = action("Source", cp::ActionCategory::Source, "CodeCommit")?;
    let mut build = action("Build", cp::ActionCategory::Build, "CodeBuild")?;
    let mut deploy = action("Deploy", cp::ActionCategory::Deploy, "CodeDeploy")?;
    if has(Defect::PipelineSecret) {
        source = source.configuration("OAuthToken", oauth);
        build = build.configuration(
            "EnvironmentVariables",
            json!([
                {"name": "GITHUB_TOKEN", "value": token, "type": "PLAINTEXT"},
                {"name": "STAGE", "value": "prod", "type": "PLAINTEXT"},
                {"name": "DB_PASSWORD", "value": "/app/db-password", "type": "PARAMETER_STORE"}
            ])
            .to_string(),
        );
        deploy = deploy.configuration(
            "CustomData",
            json!({"DatabasePassword": password}).to_string(),
        );
    }
    let source = source
        .configuration("RepositoryName", &repo_name)
        .configuration("BranchName", "main")
        .configuration(
            "PollForSourceChanges",
            if has(Defect::PollingOn) {
                "true"
            } else {
                "false"
            },
        )
        .output_artifacts(cp::OutputArtifact::builder().name("SourceOutput").build()?)
        .run_order(1)
        .build()?;
    let build = build
        .configuration("ProjectName", &project_name)
        .input_artifacts(cp::InputArtifact::builder().name("SourceOutput").build()?)
        .output_artifacts(cp::OutputArtifact::builder().name("BuildOutput").build()?)
        .run_order(1)
        .build()?;
    let deploy = deploy
        .configuration("ApplicationName", &app_name)
        .configuration("DeploymentGroupName", &group_name)
        .input_artifacts(cp::InputArtifact::builder().name("BuildOutput").build()?)
        .run_order(1)
        .build()?;
    let stage = |name: &str, a: cp::ActionDeclaration| {
        cp::StageDeclaration::builder()
            .name(name)
            .actions(a)
            .build()
    };
    let decl = cp::PipelineDeclaration::builder()
        .name(&pipeline_name)
        .role_arn(&pipeline_role)
        .artifact_store(store.build()?)
        .stages(stage("Source", source)?)
        .stages(stage("Build", build)?)
        .stages(stage("Deploy", deploy)?)
        .version(1)
        .build()?;
    c.codepipeline
        .create_pipeline()
        .pipeline(decl)
        .send()
        .await
        .context("codepipeline:CreatePipeline")?;

    // Trigger rule.
    if !has(Defect::NoTrigger) {
        let branch = if has(Defect::TriggerWrongBranch) {
            "develop"
        } else {
            "main"
        };
        let pattern = json!({
            "source": ["aws.codecommit"],
            "detail-type": ["CodeCommit Repository State Change"],
            "resources": [&repo_arn],
            "detail": {"event": ["referenceCreated", "referenceUpdated"], "referenceType": ["branch"], "referenceName": [branch]}
        });
        c.events
            .put_rule()
            .name(&rule_name)
            .event_pattern(pattern.to_string())
            .state(if has(Defect::TriggerDisabled) {
                aws_sdk_eventbridge::types::RuleState::Disabled
            } else {
                aws_sdk_eventbridge::types::RuleState::Enabled
            })
            .send()
            .await
            .context("events:PutRule")?;
        let mut target = aws_sdk_eventbridge::types::Target::builder()
            .id("codepipeline")
            .arn(&pipeline_arn);
        if !has(Defect::TriggerNoRole) {
            target = target.role_arn(&events_role);
        }
        c.events
            .put_targets()
            .rule(&rule_name)
            .targets(target.build()?)
            .send()
            .await
            .context("events:PutTargets")?;
    }

    Ok(SeededStack {
        prefix: p.to_string(),
        pipeline_name,
        pipeline_arn,
        bucket: bucket_name,
        key_arn,
        key_id,
        repo_arn,
        project_name,
        app_name,
        group_name,
        rule_name,
        roles: vec![pipeline_role, build_role, deploy_role, events_role],
        instance,
    })
}

/// A pipeline's declaration as AWS has it.
pub async fn declaration(c: &SeedClients, name: &str) -> Result<cp::PipelineDeclaration> {
    c.codepipeline
        .get_pipeline()
        .name(name)
        .send()
        .await
        .context("codepipeline:GetPipeline")?
        .pipeline
        .context("GetPipeline returned no declaration")
}

/// Writes a declaration back.
pub async fn update_declaration(c: &SeedClients, decl: cp::PipelineDeclaration) -> Result<()> {
    c.codepipeline
        .update_pipeline()
        .pipeline(decl)
        .send()
        .await
        .context("codepipeline:UpdatePipeline")?;
    Ok(())
}
