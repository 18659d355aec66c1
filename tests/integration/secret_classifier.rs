//! Corpus test of the secret classifier on NAME/VALUE pairs of the kinds
//! CodeBuild environment variables and CodePipeline action configuration
//! hold.
//!
//! No secret-looking literal sits in this file: every secret fixture is put
//! together at run time from split prefixes and bodies drawn from a seeded
//! generator, so code hosts' secret scanning has nothing to match. Run with
//! `--nocapture` to see precision and recall.

use pipeaudit::model::secrets::{SecretKind, classify, is_secret};

/// SplitMix64: a fixed seed gives the same fixtures on every run.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| char::from(a[(self.next() % a.len() as u64) as usize]))
            .collect()
    }

    fn b62(&mut self, n: usize) -> String {
        self.pick(B62, n)
    }

    fn hex(&mut self, n: usize) -> String {
        self.pick("0123456789abcdef", n)
    }

    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-a{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

const B62: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn b64_encode(data: &[u8], url: bool) -> String {
    let alphabet = if url { B64URL } else { B64 }.as_bytes();
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        if !url {
            for _ in chunk.len()..3 {
                out.push('=');
            }
        }
    }
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Values that are not secrets, whatever secret-like words their names hold.
fn non_secrets(g: &mut Gen) -> Vec<(String, String)> {
    let mut v = pairs(&[
        // Seen on real templates.
        (
            "SAGEMAKER_PIPELINE_ROLE_ARN",
            "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole",
        ),
        (
            "MODEL_EXECUTION_ROLE_ARN",
            "arn:aws:iam::123456789012:role/service-role/AmazonSageMakerServiceCatalogProductsUseRole",
        ),
        (
            "REPOSITORY_URI",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/ecsrefarch-pipeline-Repository-208F0F8222C0",
        ),
        // ARNs.
        (
            "CODEBUILD_ROLE_ARN",
            "arn:aws:iam::123456789012:role/service-role/codebuild-my-project-service-role",
        ),
        (
            "DEPLOY_ROLE_ARN",
            "arn:aws:iam::210987654321:role/cdk-hnb659fds-deploy-role-210987654321-eu-west-1",
        ),
        (
            "CFN_EXECUTION_ROLE",
            "arn:aws:iam::123456789012:role/my-stack-CloudFormationExecutionRole-1RZ8QWERTY12",
        ),
        (
            "SNS_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:my-stack-NotificationTopic-1A2B3C4D5E6F",
        ),
        (
            "ALARM_TOPIC",
            "arn:aws:sns:eu-central-1:123456789012:build-alarms",
        ),
        (
            "DLQ_ARN",
            "arn:aws:sqs:us-east-1:123456789012:my-stack-DeadLetterQueue-9ZXY8WVU7TSR",
        ),
        (
            "FUNCTION_ARN",
            "arn:aws:lambda:us-west-2:123456789012:function:my-stack-ProcessorFunction-Ab12Cd34Ef56",
        ),
        (
            "LAMBDA_ALIAS_ARN",
            "arn:aws:lambda:us-west-2:123456789012:function:api-handler:live",
        ),
        (
            "AUTHORIZER_FUNCTION_ARN",
            "arn:aws:lambda:eu-west-1:123456789012:function:token-authorizer",
        ),
        (
            "KMS_KEY_ARN",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        ("KMS_KEY_ID", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        ("KMS_ALIAS", "alias/aws/s3"),
        ("ARTIFACT_KEY", "alias/codepipeline-artifacts"),
        (
            "DB_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db/credentials-a1B2c3",
        ),
        (
            "GITHUB_TOKEN_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:github-oauth-token-XyZ9Ab",
        ),
        (
            "DB_PASSWORD_SECRET",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-AbCdEf",
        ),
        (
            "API_KEY_PARAMETER_ARN",
            "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/api-key",
        ),
        (
            "CLUSTER_ARN",
            "arn:aws:ecs:us-east-1:123456789012:cluster/ecsrefarch-ECSCluster-8QH1ZXKD0QWE",
        ),
        (
            "SERVICE_ARN",
            "arn:aws:ecs:us-east-1:123456789012:service/prod-cluster/web-service",
        ),
        (
            "TASK_DEFINITION_ARN",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web-app:42",
        ),
        (
            "STACK_ID",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/my-app-prod/5b3c8e60-1d2a-11ef-9a5b-0a1b2c3d4e5f",
        ),
        (
            "EVENT_BUS_ARN",
            "arn:aws:events:us-east-1:123456789012:event-bus/default",
        ),
        (
            "STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:DeployStateMachine-Xy12Ab34Cd56",
        ),
        (
            "CODESTAR_CONNECTION_ARN",
            "arn:aws:codestar-connections:us-east-1:123456789012:connection/7d2b2b1c-3f4e-4a5b-9c6d-1e2f3a4b5c6d",
        ),
        (
            "ConnectionArn",
            "arn:aws:codeconnections:eu-west-1:123456789012:connection/aaaabbbb-cccc-dddd-eeee-ffff00001111",
        ),
        ("BUCKET_ARN", "arn:aws:s3:::my-artifact-bucket-123456789012"),
        (
            "LOCK_TABLE_ARN",
            "arn:aws:dynamodb:us-east-1:123456789012:table/my-stack-LockTable-1Q2W3E4R5T6Y",
        ),
        (
            "LOG_GROUP_ARN",
            "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/my-project:*",
        ),
        (
            "CERTIFICATE_ARN",
            "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        ),
        (
            "TARGET_GROUP_ARN",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/ecsre-Targe-1XYZ2ABC3DEF/0123456789abcdef",
        ),
        (
            "GOVCLOUD_DEPLOY_ROLE",
            "arn:aws-us-gov:iam::123456789012:role/deploy",
        ),
        ("CN_BUCKET", "arn:aws-cn:s3:::cn-artifacts"),
        (
            "PIPELINE_ARN",
            "arn:aws:codepipeline:us-east-1:123456789012:my-pipeline",
        ),
        (
            "ECR_REPOSITORY_ARN",
            "arn:aws:ecr:us-east-1:123456789012:repository/my-app",
        ),
        (
            "TEST_REPORT_GROUP",
            "arn:aws:codebuild:us-east-1:123456789012:report-group/my-project-tests",
        ),
        (
            "NotificationArn",
            "arn:aws:sns:us-east-1:123456789012:pipeline-approvals",
        ),
        (
            "RoleArn",
            "arn:aws:iam::123456789012:role/my-stack-CodePipelineActionRole-AB12CD34EF56",
        ),
        // CloudFormation- and CDK-generated names, AWS ids.
        ("TOPIC_NAME", "my-stack-Topic-1A2B3C4D5E6F"),
        ("BUCKET_NAME", "my-stack-artifactbucket-1x2y3z4a5b6c7"),
        ("ARTIFACT_BUCKET", "codepipeline-us-east-1-123456789012"),
        ("TABLE_NAME", "my-stack-LockTable-1Q2W3E4R5T6Y"),
        ("FUNCTION_NAME", "my-stack-ProcessorFunction-Ab12Cd34Ef56"),
        (
            "CDK_BUCKET",
            "pipelinestack-pipelineartifactsbucketaea9a052-1ln2m3o4p5q6r",
        ),
        ("CLUSTER_NAME", "ecsrefarch-ECSCluster-8QH1ZXKD0QWE"),
        ("SERVICE_NAME", "ecsrefarch-Service-1C2D3E4F5G6H7"),
        ("ROLE_NAME", "AmazonSageMakerServiceCatalogProductsUseRole"),
        ("CDK_ROLE", "PipelineRoleB27FAA37"),
        ("LOGICAL_ID", "PipelineArtifactsBucketEncryptionKeyF5BF0670"),
        (
            "KEY_RESOURCE",
            "PipelineArtifactsBucketEncryptionKeyF5BF0670",
        ),
        ("DISTRIBUTION_ID", "E2QWRUHAPOMQZL"),
        ("HOSTED_ZONE_ID", "Z1D633PJN98FT9"),
        ("USER_POOL_ID", "us-east-1_aBcDeFgHi"),
        (
            "SUBNET_IDS",
            "subnet-0a1b2c3d4e5f67890,subnet-0fedcba9876543210",
        ),
        ("SECURITY_GROUP", "sg-0123456789abcdef0"),
        ("VPC", "vpc-0a1b2c3d4e5f6a7b8"),
        ("BUILD_AMI", "ami-0abcdef1234567890"),
        ("ROLE_UNIQUE_ID", "AROAEXAMPLE7ROLE2ID34"),
        // Images and registries.
        (
            "IMAGE_URI",
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/my-app:1.4.2",
        ),
        ("IMAGE_REPO_NAME", "my-app"),
        ("IMAGE_TAG", "latest"),
        ("BASE_IMAGE", "public.ecr.aws/docker/library/node:20-alpine"),
        (
            "BUILD_IMAGE",
            "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
        ),
        ("DOCKER_IMAGE", "ghcr.io/my-org/builder:v2.3.1"),
        ("CONTAINER_NAME", "web"),
        ("REGISTRY", "123456789012.dkr.ecr.us-east-1.amazonaws.com"),
        // S3.
        (
            "ARTIFACT_URI",
            "s3://codepipeline-us-east-1-123456789012/my-pipeline/SourceArti/Xy12AbC",
        ),
        (
            "TEMPLATE_URL",
            "https://my-bucket.s3.us-east-1.amazonaws.com/templates/main.yaml",
        ),
        (
            "MODEL_DATA",
            "s3://sagemaker-us-east-1-123456789012/models/model.tar.gz",
        ),
        ("CACHE_LOCATION", "my-cache-bucket/prefix"),
        ("S3_PREFIX", "builds/2024/11"),
        ("S3Bucket", "my-source-bucket"),
        ("S3ObjectKey", "source/my-app.zip"),
        // URLs.
        ("API_URL", "https://api.example.com/v1"),
        ("AUTH_URL", "https://auth.example.com/oauth2/token"),
        (
            "TOKEN_URL",
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        ),
        ("OIDC_ISSUER", "https://token.actions.githubusercontent.com"),
        ("REPO_URL", "https://github.com/my-org/my-repo.git"),
        (
            "CODECOMMIT_URL",
            "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/my-repo",
        ),
        (
            "CLONE_URL_SSH",
            "ssh://git-codecommit.us-east-1.amazonaws.com/v1/repos/my-repo",
        ),
        ("GRC_URL", "codecommit::us-east-1://my-repo"),
        ("GIT_REMOTE", "git@github.com:my-org/my-repo.git"),
        (
            "WEBSITE_URL",
            "https://d111111abcdef8.cloudfront.net/index.html",
        ),
        ("HEALTHCHECK_URL", "http://localhost:8080/health"),
        ("NPM_REGISTRY", "https://registry.npmjs.org/"),
        (
            "CODEARTIFACT_URL",
            "https://my-domain-123456789012.d.codeartifact.us-east-1.amazonaws.com/npm/my-repo/",
        ),
        (
            "CONSOLE_URL",
            "https://console.aws.amazon.com/codesuite/codepipeline/pipelines/my-pipeline/view?region=us-east-1",
        ),
        ("DB_URL", "postgres://db.internal:5432/app"),
        (
            "DATABASE_URL",
            "postgresql://app_user@db.example.internal:5432/app?sslmode=require",
        ),
        (
            "REDIS_URL",
            "redis://my-cache.abc123.ng.0001.use1.cache.amazonaws.com:6379",
        ),
        (
            "JDBC_URL",
            "jdbc:mysql://mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com:3306/app",
        ),
        (
            "QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/my-stack-JobQueue-AbCdEf123456",
        ),
        ("ExternalEntityLink", "https://example.com/changes/1234"),
        ("SONAR_HOST_URL", "https://sonarcloud.io"),
        (
            "OAUTH_CALLBACK_URL",
            "https://app.example.com/oauth/callback?provider=cognito",
        ),
        // SSM parameter and Secrets Manager names.
        ("TOKEN_PARAMETER_NAME", "/app/prod/token"),
        ("DB_PASSWORD_PARAM", "/app/prod/db/password"),
        ("SSM_PREFIX", "/my-app/prod/"),
        ("PARAMETER_NAME", "/cdk-bootstrap/hnb659fds/version"),
        ("SECRET_NAME", "my-app/prod/db"),
        ("SECRET_ID", "prod/github/token"),
        (
            "DB_PASSWORD_SECRET_NAME",
            "rds-db-credentials/cluster-ABCDEFGHIJKL/admin",
        ),
        ("API_KEY_SSM", "/shared/api-key"),
        ("SECRETS_PREFIX", "/my-app/prod/"),
        ("GITHUB_TOKEN_PATH", "/ci/github/token"),
        // Account ids, regions, settings.
        ("AWS_ACCOUNT_ID", "123456789012"),
        ("ACCOUNT", "210987654321"),
        ("CDK_DEFAULT_ACCOUNT", "123456789012"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_REGION", "eu-west-1"),
        ("TARGET_REGIONS", "us-east-1,us-west-2,eu-west-1"),
        ("STAGE", "prod"),
        ("ENV", "production"),
        ("NODE_ENV", "production"),
        ("LOG_LEVEL", "debug"),
        ("COMPUTE_TYPE", "BUILD_GENERAL1_SMALL"),
        ("CI", "true"),
        ("TZ", "UTC"),
        ("LANG", "en_US.UTF-8"),
        ("DOCKER_BUILDKIT", "1"),
        ("MAVEN_OPTS", "-Xmx2g -XX:+UseG1GC"),
        ("BUILD_COMMAND", "npm ci && npm run build"),
        (
            "BUILD_ARGS",
            "--build-arg VERSION=1.4.2 --build-arg STAGE=prod",
        ),
        ("SCHEDULE", "cron(0 12 * * ? *)"),
        ("RATE", "rate(5 minutes)"),
        ("SLACK_CHANNEL", "#deployments"),
        ("PROJECT_KEY", "my-org_my-repo"),
        ("CACHE_KEY", "npm-cache-v3"),
        // Versions.
        ("VERSION", "1.4.2"),
        ("APP_VERSION", "v2.10.0-rc.1+build.5"),
        ("NODE_VERSION", "20"),
        ("PYTHON_VERSION", "3.12"),
        ("TERRAFORM_VERSION", "1.9.8"),
        ("CDK_VERSION", "2.170.0"),
        ("RELEASE", "2024.11.28"),
        ("BUILD_NUMBER", "1234"),
        ("RUNTIME", "nodejs20.x"),
        // Git.
        ("BRANCH", "main"),
        ("BRANCH_NAME", "feature/add-login-token-refresh"),
        ("GIT_REF", "refs/heads/release/1.4"),
        ("TAG_NAME", "v1.4.2"),
        ("CODEBUILD_WEBHOOK_HEAD_REF", "refs/heads/main"),
        (
            "CODEBUILD_SOURCE_REPO_URL",
            "https://github.com/my-org/my-repo",
        ),
        ("CODEBUILD_INITIATOR", "codepipeline/my-pipeline"),
        ("CODEBUILD_SRC_DIR", "/codebuild/output/src123456789/src"),
        ("COMMIT_ID", "#{SourceVariables.CommitId}"),
        ("IMAGE_TAG_REF", "#{BuildVariables.IMAGE_TAG}"),
        ("FullRepositoryId", "my-org/my-repo"),
        // CodePipeline action configuration.
        ("ProjectName", "my-build-project"),
        ("BranchName", "main"),
        ("RepositoryName", "my-repo"),
        ("ActionMode", "CREATE_UPDATE"),
        (
            "Capabilities",
            "CAPABILITY_IAM,CAPABILITY_NAMED_IAM,CAPABILITY_AUTO_EXPAND",
        ),
        ("StackName", "my-app-prod"),
        ("TemplatePath", "BuildOutput::packaged.yaml"),
        ("TemplateConfiguration", "BuildOutput::config/prod.json"),
        (
            "ParameterOverrides",
            r##"{"Environment":"prod","ImageTag":"#{BuildVariables.IMAGE_TAG}","DbPasswordSecretArn":"arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"}"##,
        ),
        (
            "EnvironmentVariables",
            r#"[{"name":"STAGE","value":"prod","type":"PLAINTEXT"},{"name":"DB_PASSWORD","value":"/app/prod/db-password","type":"PARAMETER_STORE"},{"name":"GITHUB_TOKEN","value":"github-token:token","type":"SECRETS_MANAGER"}]"#,
        ),
        ("OAuthToken", "****"),
        ("DetectChanges", "false"),
        ("PollForSourceChanges", "false"),
        ("OutputArtifactFormat", "CODE_ZIP"),
        ("ApplicationName", "my-app"),
        ("DeploymentGroupName", "prod"),
        ("FileName", "imagedefinitions.json"),
        ("UserParameters", r#"{"stage":"prod","dryRun":false}"#),
        ("CustomData", "Please approve the production deployment"),
        ("PrimarySource", "Source"),
        ("BatchEnabled", "false"),
        // JSON.
        (
            "BUILD_CONFIG",
            r#"{"region":"us-east-1","stage":"prod","replicas":3}"#,
        ),
        ("TAGS", r#"[{"Key":"team","Value":"platform"}]"#),
        (
            "FEATURE_FLAGS",
            r#"{"newCheckout":true,"tokenRefresh":false}"#,
        ),
        (
            "CDK_CONTEXT",
            r#"{"@aws-cdk/core:newStyleStackSynthesis":true}"#,
        ),
        // Files.
        ("BUILDSPEC", "buildspec.yml"),
        ("BUILDSPEC_PATH", "ci/buildspec-deploy.yml"),
        ("DOCKERFILE", "docker/Dockerfile.prod"),
        ("SSH_KNOWN_HOSTS_FILE", "/root/.ssh/known_hosts"),
        ("PRIVATE_KEY_PATH", "/home/build/.ssh/id_ed25519"),
        ("KUBECONFIG", "/root/.kube/config"),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            "/tmp/gcp-credentials.json",
        ),
        ("NPM_CONFIG_USERCONFIG", "/codebuild/.npmrc"),
        ("CERT_FILE", "./certs/ca.pem"),
        ("REPORT_DIR", "reports/junit"),
        ("OUTPUT_DIR", "dist"),
        ("JAVA_HOME", "/usr/lib/jvm/java-17-amazon-corretto"),
        // Hosts.
        (
            "DB_HOST",
            "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
        ),
        (
            "REDIS_HOST",
            "my-cache.abc123.ng.0001.use1.cache.amazonaws.com",
        ),
        ("API_DOMAIN", "api.example.com"),
        ("AUTH_DOMAIN", "my-tenant.us.auth0.com"),
        ("SMTP_HOST", "email-smtp.us-east-1.amazonaws.com"),
        (
            "ALB_DNS",
            "internal-my-alb-1234567890.us-east-1.elb.amazonaws.com",
        ),
        ("PROXY", "proxy.corp.internal:3128"),
        ("TOKEN_AUDIENCE", "sts.amazonaws.com"),
        // Names with secret-like words holding references or settings.
        ("AUTH_TYPE", "OAUTH"),
        ("AUTH_MODE", "iam"),
        ("TOKEN_TTL", "3600"),
        ("TOKEN_EXPIRY_SECONDS", "900"),
        ("SESSION_TOKEN_DURATION", "15m"),
        ("PASSWORD_MIN_LENGTH", "12"),
        ("SECRET_ROTATION_DAYS", "30"),
        ("ENABLE_AUTH", "true"),
        ("USE_TOKEN_AUTH", "false"),
        ("SKIP_AUTH", "1"),
        ("NPM_TOKEN", "${NPM_TOKEN}"),
        ("GITHUB_TOKEN", "$GITHUB_TOKEN"),
        (
            "DB_PASSWORD",
            "{{resolve:secretsmanager:prod/db:SecretString:password}}",
        ),
        ("API_KEY", "{{resolve:ssm:/app/prod/api-key:1}}"),
        ("DEPLOY_TOKEN", "#{DeployVariables.TokenParameter}"),
        ("API_TOKEN", "<your-api-token>"),
        ("CLIENT_SECRET", "REPLACE_ME"),
        ("ADMIN_PASSWORD", ""),
        ("SLACK_TOKEN", "none"),
        ("SECRET_KEY_NAME", "prod/signing-key"),
        ("PASSWORD_RESET_FROM", "no-reply@example.com"),
        ("AUTH_USER", "deploy-bot"),
        ("AUTHOR_EMAIL", "dev@example.com"),
        ("AUTHOR", "jane.doe"),
        ("CREDENTIALS_PROVIDER", "ecs"),
        ("CREDENTIAL_SOURCE", "EcsContainer"),
        ("AUTH_HEADER_NAME", "Authorization"),
        ("PASSWORD_POLICY", "strict"),
        ("OAUTH_SCOPES", "openid profile email"),
        ("KMS_KEY", "alias/my-key"),
        ("DB_AUTH_SECRET_REGION", "us-east-1"),
        ("API_KEY_HEADER", "x-api-key"),
    ]);

    // Generated shapes: digests under digest names, ids, public keys.
    let sha = g.hex(40);
    v.push(("GIT_COMMIT".into(), sha.clone()));
    v.push(("CODEBUILD_RESOLVED_SOURCE_VERSION".into(), sha.clone()));
    v.push(("COMMIT_ID".into(), g.hex(40)));
    v.push(("CommitId".into(), g.hex(40)));
    v.push(("SOURCE_VERSION".into(), g.hex(40)));
    v.push(("PR_HEAD_SHA".into(), g.hex(40)));
    v.push(("IMAGE_TAG".into(), g.hex(40)));
    v.push(("GIT_SHA".into(), g.hex(7)));
    v.push(("ARTIFACT_SHA256".into(), g.hex(64)));
    v.push(("CHECKSUM".into(), g.hex(128)));
    v.push(("FILE_HASH".into(), g.hex(32)));
    v.push(("ETAG".into(), format!("\"{}\"", g.hex(32))));
    v.push(("GPG_KEY_ID".into(), g.hex(16).to_uppercase()));
    v.push(("IMAGE_DIGEST".into(), format!("sha256:{}", g.hex(64))));
    v.push((
        "IMAGE".into(),
        format!(
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/web@sha256:{}",
            g.hex(64)
        ),
    ));
    v.push((
        "SSH_HOST_FINGERPRINT".into(),
        format!("SHA256:{}", g.pick(B64, 43)),
    ));
    v.push((
        "CODEBUILD_BUILD_ID".into(),
        format!("my-project:{}", g.uuid()),
    ));
    v.push((
        "CODEBUILD_BUILD_ARN".into(),
        format!(
            "arn:aws:codebuild:us-east-1:123456789012:build/my-project:{}",
            g.uuid()
        ),
    ));
    v.push(("PIPELINE_EXECUTION_ID".into(), g.uuid()));
    v.push(("REQUEST_ID".into(), g.uuid()));
    v.push(("CORRELATION_ID".into(), g.uuid()));
    v.push(("BUILD_UUID".into(), g.uuid()));
    v.push((
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI".into(),
        format!("/v2/credentials/{}", g.uuid()),
    ));
    v.push((
        "USER_POOL_CLIENT_ID".into(),
        g.pick("abcdefghijklmnopqrstuvwxyz0123456789", 26),
    ));
    v.push((
        "SENTRY_DSN".into(),
        format!("https://{}@o123456.ingest.sentry.io/1234567", g.hex(32)),
    ));
    v.push((
        "ES_ENDPOINT".into(),
        format!(
            "vpc-logs-{}.us-east-1.es.amazonaws.com",
            g.pick("abcdefghijklmnopqrstuvwxyz", 26)
        ),
    ));
    v.push((
        "DEPLOY_PUBLIC_KEY".into(),
        format!(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{} build@ci",
            g.pick(B64, 43)
        ),
    ));
    v.push((
        "STRIPE_PUBLISHABLE_KEY".into(),
        format!("{}{}", "pk_li", "ve_") + &g.b62(24),
    ));
    // base64 of public configuration and of a certificate.
    v.push((
        "CONFIG_B64".into(),
        b64_encode(br#"{"region":"us-east-1","stage":"prod"}"#, false),
    ));
    v.push((
        "CA_BUNDLE_B64".into(),
        b64_encode(
            format!(
                "-----BEGIN CERTIFICATE-----\nMIIB{}\n-----END CERTIFICATE-----\n",
                g.pick(B64, 60)
            )
            .as_bytes(),
            false,
        ),
    ));
    v.push((
        "BANNER".into(),
        b64_encode(b"Build pipeline for my-app, owned by team platform", false),
    ));
    v
}

/// A fixture that is a secret, with a kind the classifier must report.
struct Secret {
    name: String,
    value: String,
    kind: SecretKind,
}

fn secret(name: &str, value: String, kind: SecretKind) -> Secret {
    Secret {
        name: name.to_string(),
        value,
        kind,
    }
}

fn secrets(g: &mut Gen) -> Vec<Secret> {
    use SecretKind::*;
    let akia = || format!("{}{}", "AK", "IA");
    let asia = || format!("{}{}", "AS", "IA");
    let base32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let key_id = akia() + &g.pick(base32, 16);
    let secret_key = g.pick(B64, 40);
    let pw = || format!("{}{}{}", "Pa", "55-w0rd-", "x9Q");
    let ghs = || format!("{}{}", "gh", "s_");
    let jwt = |g: &mut Gen| {
        let header = b64_encode(br#"{"alg":"HS256","typ":"JWT"}"#, true);
        let payload = b64_encode(
            br#"{"sub":"deploy-bot","iat":1732780800,"exp":1732784400}"#,
            true,
        );
        format!("{header}.{payload}.{}", g.pick(B64URL, 43))
    };
    let pem = |g: &mut Gen, label: &str| {
        let begin = format!("-----{} {label} {}-----", "BEGIN", "PRIVATE KEY");
        let end = format!("-----{} {label} {}-----", "END", "PRIVATE KEY");
        format!("{begin}\n{}\n{}\n{end}", g.pick(B64, 64), g.pick(B64, 64))
    };

    vec![
        // AWS credentials.
        secret("AWS_ACCESS_KEY_ID", key_id.clone(), AwsAccessKeyId),
        secret(
            "AWS_SECRET_ACCESS_KEY",
            secret_key.clone(),
            AwsSecretAccessKey,
        ),
        secret("S3_UPLOAD", g.pick(B64, 40), AwsSecretAccessKey),
        secret(
            "DEPLOY_KEY_ID",
            asia() + &g.pick(base32, 16),
            AwsAccessKeyId,
        ),
        secret(
            "AWS_SESSION_TOKEN",
            format!("IQoJb3JpZ2luX2VjE{}", g.pick(B64, 300)),
            SecretLikeName,
        ),
        secret(
            "CONFIG",
            format!("aws_access_key_id={key_id} aws_secret_access_key={secret_key}"),
            AwsAccessKeyId,
        ),
        secret(
            "DEPLOY_CONFIG",
            format!(r#"{{"accessKeyId":"{key_id}","secretAccessKey":"{secret_key}"}}"#),
            AwsSecretAccessKey,
        ),
        // Vendor tokens with documented prefixes.
        secret(
            "GITHUB_TOKEN",
            format!("{}{}", "gh", "p_") + &g.b62(36),
            KnownTokenPrefix,
        ),
        secret(
            "GH_PAT",
            format!("{}{}", "github", "_pat_") + &g.b62(22) + "_" + &g.b62(59),
            KnownTokenPrefix,
        ),
        secret(
            "GITHUB_OAUTH",
            format!("{}{}", "gh", "o_") + &g.b62(36),
            KnownTokenPrefix,
        ),
        secret("INSTALLATION", ghs() + &g.b62(36), KnownTokenPrefix),
        secret(
            "GITLAB_TOKEN",
            format!("{}{}", "glp", "at-") + &g.pick(B64URL, 20),
            KnownTokenPrefix,
        ),
        secret(
            "RUNNER_REGISTRATION",
            format!("{}{}", "glr", "t-") + &g.b62(20),
            KnownTokenPrefix,
        ),
        secret(
            "SLACK_BOT_TOKEN",
            format!(
                "{}{}-{}-{}",
                "xox",
                "b",
                g.pick("0123456789", 12),
                g.pick("0123456789", 13)
            ) + "-"
                + &g.b62(24),
            KnownTokenPrefix,
        ),
        secret(
            "SLACK_NOTIFY",
            format!("{}{}-{}", "xox", "p", g.pick("0123456789", 12)) + "-" + &g.b62(32),
            KnownTokenPrefix,
        ),
        secret(
            "STRIPE_KEY",
            format!("{}{}", "sk_li", "ve_") + &g.b62(24),
            KnownTokenPrefix,
        ),
        secret(
            "PAYMENTS",
            format!("{}{}", "rk_li", "ve_") + &g.b62(32),
            KnownTokenPrefix,
        ),
        secret(
            "NPM_TOKEN",
            format!("{}{}", "np", "m_") + &g.b62(36),
            KnownTokenPrefix,
        ),
        secret(
            "NPMRC",
            format!(
                "//registry.npmjs.org/:_authToken={}{}",
                "np",
                "m_".to_string() + &g.b62(36)
            ),
            KnownTokenPrefix,
        ),
        secret(
            "PYPI_UPLOAD",
            format!("{}{}", "pypi-AgEIcH", "lwaS5vcmc") + &g.pick(B64URL, 70),
            KnownTokenPrefix,
        ),
        secret(
            "MAPS",
            format!("{}{}", "AI", "za") + &g.pick(B64URL, 35),
            KnownTokenPrefix,
        ),
        secret(
            "SENDGRID",
            format!("{}{}.{}", "S", "G", g.pick(B64URL, 22)) + "." + &g.pick(B64URL, 43),
            KnownTokenPrefix,
        ),
        secret(
            "VAULT",
            format!("{}{}", "hv", "s.") + &g.b62(90),
            KnownTokenPrefix,
        ),
        secret(
            "LLM",
            format!("{}{}", "sk-pr", "oj-") + &g.pick(B64URL, 64),
            KnownTokenPrefix,
        ),
        // JWTs.
        secret("SERVICE_JWT", jwt(g), Jwt),
        secret("DEFAULT_HEADERS", format!("Bearer {}", jwt(g)), Jwt),
        // Private keys.
        secret("SIGNING_CERT", pem(g, "RSA"), PrivateKey),
        secret("DEPLOY_SSH", pem(g, "OPENSSH"), PrivateKey),
        secret("TLS", pem(g, "EC"), PrivateKey),
        secret(
            "SERVICE_ACCOUNT_JSON",
            format!(
                r#"{{"type":"service_account","project_id":"my-project","private_key":"{}"}}"#,
                pem(g, "RSA").replace('\n', "\\n")
            ),
            PrivateKey,
        ),
        // Credentials in URLs.
        secret(
            "DATABASE_URL",
            format!("postgres://app:{}@db.example.internal:5432/app", pw()),
            CredentialsInUrl,
        ),
        secret(
            "MONGO_URI",
            format!(
                "mongodb+srv://admin:{}@cluster0.ab1cd.mongodb.net/test",
                g.b62(16)
            ),
            CredentialsInUrl,
        ),
        secret(
            "CACHE",
            format!("redis://:{}@cache.internal:6379/0", g.b62(24)),
            CredentialsInUrl,
        ),
        secret(
            "REPO_URL",
            format!(
                "https://x-access-token:{}@github.com/my-org/my-repo.git",
                ghs() + &g.b62(36)
            ),
            CredentialsInUrl,
        ),
        secret(
            "GIT_REMOTE",
            format!(
                "https://{}@dev.azure.com/my-org/my-project/_git/my-repo",
                g.pick("abcdefghijklmnopqrstuvwxyz0123456789", 52)
            ),
            CredentialsInUrl,
        ),
        secret(
            "BROKER",
            format!(
                "amqps://app:{}@b-1234.mq.us-east-1.amazonaws.com:5671",
                g.b62(20)
            ),
            CredentialsInUrl,
        ),
        secret(
            "SLACK_WEBHOOK_URL",
            format!(
                "https://{}.slack.com/services/T{}/B{}/{}",
                "hooks",
                g.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 8),
                g.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 10),
                g.b62(24)
            ),
            CredentialsInUrl,
        ),
        secret(
            "NOTIFY",
            format!(
                "https://discord.com/api/{}/{}/{}",
                "webhooks",
                g.pick("0123456789", 18),
                g.pick(B64URL, 68)
            ),
            CredentialsInUrl,
        ),
        secret(
            "DOWNLOAD_URL",
            format!(
                "https://my-bucket.s3.amazonaws.com/build.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}%2F20241128%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20241128T120000Z&X-Amz-Expires=3600&X-Amz-Security-Token={}&X-Amz-SignedHeaders=host&X-Amz-Signature={}",
                asia() + &g.pick(base32, 16),
                g.pick(B64URL, 200),
                g.hex(64)
            ),
            CredentialsInUrl,
        ),
        secret(
            "STATUS_API",
            format!(
                "https://api.example.com/v1/status?access_token={}",
                g.b62(32)
            ),
            CredentialsInUrl,
        ),
        // The name decides: the shape of a commit hash under a token name.
        secret("API_TOKEN", g.hex(40), SecretLikeName),
        secret("DATADOG_API_KEY", g.hex(32), SecretLikeName),
        secret("TWILIO_AUTH_TOKEN", g.hex(32), SecretLikeName),
        secret("SLACK_SIGNING_SECRET", g.hex(32), SecretLikeName),
        secret("SESSION_SECRET", g.hex(64), SecretLikeName),
        secret("HEROKU_API_KEY", g.uuid(), SecretLikeName),
        secret("API_KEY", g.b62(32), SecretLikeName),
        secret("CLIENT_SECRET", g.pick(B64URL, 48), SecretLikeName),
        secret("WEBHOOK_SECRET", g.b62(20), SecretLikeName),
        secret("ENCRYPTION_KEY", g.pick(B64, 43) + "=", SecretLikeName),
        secret(
            "PRIVATE_KEY",
            format!("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC{}", g.pick(B64, 200)),
            SecretLikeName,
        ),
        // Passwords people choose.
        secret("DB_PASSWORD", pw(), SecretLikeName),
        secret(
            "ADMIN_PASSWORD",
            ["correct", "horse", "battery", "staple"].join("-"),
            SecretLikeName,
        ),
        secret(
            "MYSQL_ROOT_PASSWORD",
            format!("{}{}", "hun", "ter2"),
            SecretLikeName,
        ),
        secret(
            "PGPASSWORD",
            format!("{}{}", "s3cr3t-", "Pa55"),
            SecretLikeName,
        ),
        secret(
            "MYSQL_PWD",
            format!("{}{}", "rootpw", "123"),
            SecretLikeName,
        ),
        secret("DB_PASS", format!("{}{}", "pa55", "word!"), SecretLikeName),
        secret(
            "TF_VAR_db_password",
            format!("{}{}", "S3cure!", "Passw0rd"),
            SecretLikeName,
        ),
        secret(
            "dbPassword",
            format!("{}{}", "Winter", "2024!"),
            SecretLikeName,
        ),
        secret(
            "JWT_SECRET",
            ["my", "super", "secret", "signing", "phrase", "2024"].join("-"),
            SecretLikeName,
        ),
        secret(
            "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
            format!("{}{}", "blue-elephant-", "42"),
            SecretLikeName,
        ),
        secret(
            "DOCKER_AUTH",
            b64_encode(format!("deploy:{}", pw()).as_bytes(), false),
            SecretLikeName,
        ),
        // Structured values holding a secret under its own key.
        secret(
            "CONNECTION_STRING",
            format!(
                "Server=tcp:my-db.database.windows.net,1433;Database=app;User ID=admin;Password={};Encrypt=true",
                pw()
            ),
            SecretLikeName,
        ),
        secret(
            "AZURE_STORAGE",
            format!(
                "DefaultEndpointsProtocol=https;AccountName=myacct;AccountKey={}==;EndpointSuffix=core.windows.net",
                g.pick(B64, 86)
            ),
            SecretLikeName,
        ),
        secret(
            "ParameterOverrides",
            format!(r#"{{"Environment":"prod","DbPassword":"{}"}}"#, pw()),
            SecretLikeName,
        ),
        secret(
            "EnvironmentVariables",
            format!(
                r#"[{{"name":"STAGE","value":"prod","type":"PLAINTEXT"}},{{"name":"DB_PASSWORD","value":"{}","type":"PLAINTEXT"}}]"#,
                pw()
            ),
            SecretLikeName,
        ),
        secret(
            "BUILD_ARGS",
            format!("--build-arg NPM_TOKEN={} --build-arg STAGE=prod", g.b62(36)),
            SecretLikeName,
        ),
        // Random tokens under names that say nothing.
        secret("SONAR_LOGIN", g.hex(40), HighEntropyToken),
        secret("UPLOAD_CONFIG", g.b62(48), HighEntropyToken),
        secret("ANALYTICS", g.pick(B64URL, 48), HighEntropyToken),
    ]
}

#[test]
fn corpus_has_no_false_positives_and_finds_every_secret() {
    let mut g = Gen(0x5EC7_E75E_C7E7_5EC7);
    let clean = non_secrets(&mut g);
    let dirty = secrets(&mut g);
    assert!(clean.len() >= 150, "{} non-secret fixtures", clean.len());
    assert!(dirty.len() >= 40, "{} secret fixtures", dirty.len());

    let false_positives: Vec<String> = clean
        .iter()
        .filter_map(|(n, v)| {
            let kinds = classify(n, v);
            assert_eq!(is_secret(n, v), !kinds.is_empty());
            (!kinds.is_empty()).then(|| format!("{n}={v} -> {kinds:?}"))
        })
        .collect();
    // Secret values are not printed, only names and what was found.
    let mut missed = Vec::new();
    let mut wrong_kind = Vec::new();
    for s in &dirty {
        let kinds = classify(&s.name, &s.value);
        assert_eq!(is_secret(&s.name, &s.value), !kinds.is_empty());
        if kinds.is_empty() {
            missed.push(s.name.clone());
        } else if !kinds.contains(&s.kind) {
            wrong_kind.push(format!("{}: {kinds:?}, expected {:?}", s.name, s.kind));
        }
    }

    let tp = (dirty.len() - missed.len()) as f64;
    let precision = tp / (tp + false_positives.len() as f64);
    let recall = tp / dirty.len() as f64;
    println!(
        "secret classifier corpus: {} non-secrets, {} secrets; precision {:.3}, recall {:.3}",
        clean.len(),
        dirty.len(),
        precision,
        recall
    );
    assert!(
        false_positives.is_empty(),
        "false positives:\n{}",
        false_positives.join("\n")
    );
    assert!(missed.is_empty(), "missed secrets: {missed:?}");
    assert!(
        wrong_kind.is_empty(),
        "wrong kinds:\n{}",
        wrong_kind.join("\n")
    );
}

#[test]
fn the_name_decides_for_a_hex_digest() {
    let mut g = Gen(7);
    let value = g.hex(40);
    for name in [
        "GIT_COMMIT",
        "CODEBUILD_RESOLVED_SOURCE_VERSION",
        "COMMIT_ID",
        "commitSha",
        "CHECKSUM",
    ] {
        assert!(!is_secret(name, &value), "{name}");
    }
    for name in ["API_TOKEN", "AUTH_TOKEN", "CLIENT_SECRET", "SONAR_TOKEN"] {
        assert!(is_secret(name, &value), "{name}");
    }
}

#[test]
fn structural_values_are_not_secrets_whatever_the_name_unless_they_embed_credentials() {
    for name in ["DB_PASSWORD", "API_TOKEN", "CLIENT_SECRET", "NPM_AUTH"] {
        for value in [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf",
            "/app/prod/db-password",
            "https://auth.example.com/oauth2/token",
            "s3://my-bucket/secrets/db.json",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0",
            "my-stack-DbSecret-1A2B3C4D5E6F",
            "true",
            "{{resolve:secretsmanager:prod/db}}",
        ] {
            assert!(!is_secret(name, value), "{name}={value}");
        }
    }
    let with_password = format!(
        "postgres://app:{}@db.internal/app",
        "hun".to_string() + "ter2"
    );
    assert_eq!(
        classify("DB_URL", &with_password),
        vec![SecretKind::CredentialsInUrl]
    );
    assert!(!is_secret("DB_URL", "postgres://app@db.internal/app"));
    assert!(!is_secret(
        "DB_URL",
        "postgres://app:${DB_PASSWORD}@db.internal/app"
    ));
}
