//! What a role may do beyond its own job: the powers that make code run by
//! the role (a buildspec, say) dangerous. Each power is an action tried
//! against a resource the role has no business with (a probe ARN named
//! `pipeaudit-probe`), so only grants that reach beyond the pipeline's own
//! resources count: `Resource: "*"`, wildcards over names, account-wide
//! patterns. Deny statements and `Not*` elements are honoured by the IAM
//! evaluator (`crate::aws::iam`).

use crate::aws::iam;
use crate::model::PolicyDocument;

/// The name of the probe resources.
const PROBE: &str = "pipeaudit-probe";

/// A group of powers, as it is named in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    /// Writes IAM identities or their policies.
    ChangeIam,
    /// Passes a role that is not one of the pipeline's own.
    PassOtherRoles,
    /// Deploys: CodeDeploy, CloudFormation, ECS or Lambda updates.
    Deploy,
    /// Reads every secret or parameter.
    ReadAllSecrets,
}

/// (power, action, resource template); `{p}` partition, `{r}` region,
/// `{a}` account, `{n}` the probe name.
const CHECKS: &[(Power, &str, &str)] = &[
    (
        Power::ChangeIam,
        "iam:PutRolePolicy",
        "arn:{p}:iam::{a}:role/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:AttachRolePolicy",
        "arn:{p}:iam::{a}:role/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:UpdateAssumeRolePolicy",
        "arn:{p}:iam::{a}:role/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:CreateRole",
        "arn:{p}:iam::{a}:role/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:CreatePolicyVersion",
        "arn:{p}:iam::{a}:policy/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:SetDefaultPolicyVersion",
        "arn:{p}:iam::{a}:policy/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:CreateAccessKey",
        "arn:{p}:iam::{a}:user/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:CreateLoginProfile",
        "arn:{p}:iam::{a}:user/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:UpdateLoginProfile",
        "arn:{p}:iam::{a}:user/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:PutUserPolicy",
        "arn:{p}:iam::{a}:user/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:AttachUserPolicy",
        "arn:{p}:iam::{a}:user/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:AddUserToGroup",
        "arn:{p}:iam::{a}:group/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:PutGroupPolicy",
        "arn:{p}:iam::{a}:group/{n}",
    ),
    (
        Power::ChangeIam,
        "iam:AttachGroupPolicy",
        "arn:{p}:iam::{a}:group/{n}",
    ),
    (
        Power::PassOtherRoles,
        "iam:PassRole",
        "arn:{p}:iam::{a}:role/{n}",
    ),
    (
        Power::Deploy,
        "codedeploy:CreateDeployment",
        "arn:{p}:codedeploy:{r}:{a}:deploymentgroup:{n}/{n}",
    ),
    (
        Power::Deploy,
        "cloudformation:CreateStack",
        "arn:{p}:cloudformation:{r}:{a}:stack/{n}/*",
    ),
    (
        Power::Deploy,
        "cloudformation:UpdateStack",
        "arn:{p}:cloudformation:{r}:{a}:stack/{n}/*",
    ),
    (
        Power::Deploy,
        "cloudformation:ExecuteChangeSet",
        "arn:{p}:cloudformation:{r}:{a}:stack/{n}/*",
    ),
    (
        Power::Deploy,
        "ecs:UpdateService",
        "arn:{p}:ecs:{r}:{a}:service/{n}/{n}",
    ),
    (Power::Deploy, "ecs:RegisterTaskDefinition", "*"),
    (
        Power::Deploy,
        "ecs:RunTask",
        "arn:{p}:ecs:{r}:{a}:task-definition/{n}:1",
    ),
    (
        Power::Deploy,
        "lambda:UpdateFunctionCode",
        "arn:{p}:lambda:{r}:{a}:function:{n}",
    ),
    (
        Power::Deploy,
        "lambda:CreateFunction",
        "arn:{p}:lambda:{r}:{a}:function:{n}",
    ),
    (
        Power::ReadAllSecrets,
        "secretsmanager:GetSecretValue",
        "arn:{p}:secretsmanager:{r}:{a}:secret:{n}-AbCdEf",
    ),
    (
        Power::ReadAllSecrets,
        "ssm:GetParameter",
        "arn:{p}:ssm:{r}:{a}:parameter/{n}",
    ),
    (
        Power::ReadAllSecrets,
        "ssm:GetParameters",
        "arn:{p}:ssm:{r}:{a}:parameter/{n}",
    ),
    (
        Power::ReadAllSecrets,
        "ssm:GetParametersByPath",
        "arn:{p}:ssm:{r}:{a}:parameter/{n}",
    ),
];

/// The powers a role's identity policies grant, each as `action` (with
/// ` on other roles` or ` on *` where the resource matters), in the order
/// of [`CHECKS`]. `passes_other_roles` tells whether the role may pass a
/// role of the account known not to be the pipeline's own (the caller
/// knows which roles those are): that counts as well as passing the probe
/// role. It is asked only when the probe role may not be passed.
pub fn powers(
    docs: &[&PolicyDocument],
    role_arn: &str,
    region: &str,
    passes_other_roles: &dyn Fn() -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for (power, action, template) in CHECKS {
        let mut allowed = iam::any_allow_of(docs, action)
            && iam::identity_allows(docs, role_arn, action, &probe(template, role_arn, region));
        if !allowed && *power == Power::PassOtherRoles {
            allowed = passes_other_roles();
        }
        if allowed {
            out.push(match power {
                Power::PassOtherRoles => format!("{action} on other roles"),
                Power::ReadAllSecrets => format!("{action} on *"),
                _ => action.to_string(),
            });
        }
    }
    out
}

/// Fills a resource template (see [`CHECKS`]) with the role's partition
/// and account, the region and the probe name.
fn probe(template: &str, role_arn: &str, region: &str) -> String {
    let mut parts = role_arn.split(':');
    let partition = parts.nth(1).unwrap_or("aws");
    let account = parts.nth(2).unwrap_or("");
    template
        .replace("{p}", partition)
        .replace("{r}", region)
        .replace("{a}", account)
        .replace("{n}", PROBE)
}

/// IAM writes that hand the caller (or anyone it chooses) more permissions.
const IAM_ESCALATIONS: &[(&str, &str)] = &[
    ("iam:CreatePolicyVersion", "arn:{p}:iam::{a}:policy/{n}"),
    ("iam:SetDefaultPolicyVersion", "arn:{p}:iam::{a}:policy/{n}"),
    ("iam:PutRolePolicy", "arn:{p}:iam::{a}:role/{n}"),
    ("iam:AttachRolePolicy", "arn:{p}:iam::{a}:role/{n}"),
    ("iam:UpdateAssumeRolePolicy", "arn:{p}:iam::{a}:role/{n}"),
    ("iam:PutUserPolicy", "arn:{p}:iam::{a}:user/{n}"),
    ("iam:AttachUserPolicy", "arn:{p}:iam::{a}:user/{n}"),
    ("iam:CreateAccessKey", "arn:{p}:iam::{a}:user/{n}"),
    ("iam:CreateLoginProfile", "arn:{p}:iam::{a}:user/{n}"),
    ("iam:UpdateLoginProfile", "arn:{p}:iam::{a}:user/{n}"),
    ("iam:AddUserToGroup", "arn:{p}:iam::{a}:group/{n}"),
    ("iam:PutGroupPolicy", "arn:{p}:iam::{a}:group/{n}"),
    ("iam:AttachGroupPolicy", "arn:{p}:iam::{a}:group/{n}"),
];

/// Services that run code as a role they are passed: each entry is the
/// actions that together start such code (all must be allowed).
const PASS_AND_RUN: &[&[(&str, &str)]] = &[
    &[("ec2:RunInstances", "arn:{p}:ec2:{r}:{a}:instance/*")],
    &[
        (
            "lambda:CreateFunction",
            "arn:{p}:lambda:{r}:{a}:function:{n}",
        ),
        (
            "lambda:InvokeFunction",
            "arn:{p}:lambda:{r}:{a}:function:{n}",
        ),
    ],
    &[
        (
            "lambda:CreateFunction",
            "arn:{p}:lambda:{r}:{a}:function:{n}",
        ),
        ("lambda:CreateEventSourceMapping", "*"),
    ],
    &[(
        "cloudformation:CreateStack",
        "arn:{p}:cloudformation:{r}:{a}:stack/{n}/*",
    )],
    &[(
        "cloudformation:UpdateStack",
        "arn:{p}:cloudformation:{r}:{a}:stack/{n}/*",
    )],
    &[
        (
            "codebuild:CreateProject",
            "arn:{p}:codebuild:{r}:{a}:project/{n}",
        ),
        (
            "codebuild:StartBuild",
            "arn:{p}:codebuild:{r}:{a}:project/{n}",
        ),
    ],
    &[(
        "codebuild:UpdateProject",
        "arn:{p}:codebuild:{r}:{a}:project/{n}",
    )],
    &[
        ("ecs:RegisterTaskDefinition", "*"),
        ("ecs:RunTask", "arn:{p}:ecs:{r}:{a}:task-definition/{n}:1"),
    ],
    &[(
        "glue:CreateDevEndpoint",
        "arn:{p}:glue:{r}:{a}:devEndpoint/{n}",
    )],
];

/// Ways the role can take permissions it was not given, each described
/// (`iam:PutRolePolicy`, `iam:PassRole on other roles + ec2:RunInstances`,
/// ...): IAM writes on identities and policies; passing a role that is not
/// the pipeline's own to a service that runs code; running code as another
/// project's or function's role. Follows the public catalogs of AWS
/// privilege-escalation paths (Rhino Security Labs, Bishop Fox
/// iam-vulnerable).
pub fn escalations(
    docs: &[&PolicyDocument],
    role_arn: &str,
    region: &str,
    passes_other_roles: &dyn Fn() -> bool,
) -> Vec<String> {
    let allows = |action: &str, template: &str| {
        iam::any_allow_of(docs, action)
            && iam::identity_allows(docs, role_arn, action, &probe(template, role_arn, region))
    };
    let mut out: Vec<String> = IAM_ESCALATIONS
        .iter()
        .filter(|(action, template)| allows(action, template))
        .map(|(action, _)| action.to_string())
        .collect();
    // The services first: passing other roles is the costlier question.
    let runs: Vec<&[(&str, &str)]> = PASS_AND_RUN
        .iter()
        .copied()
        .filter(|combo| {
            combo
                .iter()
                .all(|(action, template)| allows(action, template))
        })
        .collect();
    if !runs.is_empty()
        && (allows("iam:PassRole", "arn:{p}:iam::{a}:role/{n}") || passes_other_roles())
    {
        for combo in runs {
            let actions: Vec<&str> = combo.iter().map(|(a, _)| *a).collect();
            out.push(format!(
                "iam:PassRole on other roles + {}",
                actions.join(" + ")
            ));
        }
    }
    if allows(
        "codebuild:StartBuild",
        "arn:{p}:codebuild:{r}:{a}:project/{n}",
    ) {
        out.push("codebuild:StartBuild on other projects (buildspec override)".to_string());
    }
    if allows(
        "lambda:UpdateFunctionCode",
        "arn:{p}:lambda:{r}:{a}:function:{n}",
    ) {
        out.push("lambda:UpdateFunctionCode on other functions".to_string());
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicyText;

    const ROLE: &str = "arn:aws:iam::123456789012:role/build";

    fn doc(json: &str) -> PolicyDocument {
        match PolicyText::parse(json).document {
            Some(d) => d,
            None => panic!("test policy does not parse: {json}"),
        }
    }

    /// Whether `docs` let the role pass one of `others` (what the account
    /// index answers, by brute force).
    fn passes(d: &PolicyDocument, others: &[&str]) -> bool {
        others
            .iter()
            .any(|r| iam::identity_allows(&[d], ROLE, "iam:PassRole", r))
    }

    fn of(json: &str, others: &[&str]) -> Vec<String> {
        let d = doc(json);
        powers(&[&d], ROLE, "us-east-1", &|| passes(&d, others))
    }

    #[test]
    fn a_build_role_scoped_to_its_own_resources_has_no_power() {
        let p = of(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["logs:*","s3:GetObject","s3:PutObject"],"Resource":"*"},
                {"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::123456789012:role/build"},
                {"Effect":"Allow","Action":"secretsmanager:GetSecretValue",
                 "Resource":"arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-*"}]}"#,
            &[],
        );
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn wildcards_grant_powers() {
        let p = of(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["iam:PassRole","ssm:GetParameter*"],"Resource":"*"},
                {"Effect":"Allow","Action":"cloudformation:*","Resource":"*"}]}"#,
            &[],
        );
        assert_eq!(
            p,
            [
                "iam:PassRole on other roles",
                "cloudformation:CreateStack",
                "cloudformation:UpdateStack",
                "cloudformation:ExecuteChangeSet",
                "ssm:GetParameter on *",
                "ssm:GetParameters on *",
                "ssm:GetParametersByPath on *",
            ]
        );
    }

    #[test]
    fn deny_and_not_action_are_honoured() {
        let p = of(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","NotAction":"s3:*","Resource":"*"},
                {"Effect":"Deny","Action":["iam:*","secretsmanager:*","ssm:*"],"Resource":"*"}]}"#,
            &[],
        );
        assert!(p.iter().all(|x| !x.starts_with("iam:")), "{p:?}");
        assert!(
            p.contains(&"codedeploy:CreateDeployment".to_string()),
            "{p:?}"
        );
        assert!(
            p.contains(&"lambda:UpdateFunctionCode".to_string()),
            "{p:?}"
        );
        assert!(!p.iter().any(|x| x.contains("Secret")), "{p:?}");
    }

    #[test]
    fn passing_a_named_role_of_another_pipeline_counts() {
        let json = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"iam:PassRole",
             "Resource":"arn:aws:iam::123456789012:role/other-deploy"}]}"#;
        assert!(of(json, &[]).is_empty());
        assert_eq!(
            of(json, &["arn:aws:iam::123456789012:role/other-deploy"]),
            ["iam:PassRole on other roles"]
        );
    }

    #[test]
    fn buildspec_settings_are_classified_by_where_the_commands_come_from() {
        use crate::model::Buildspec;
        let origin = |v: Option<&str>| Buildspec::classify(v);
        assert_eq!(origin(None).origin, "source");
        assert_eq!(origin(None).path.as_deref(), Some("buildspec.yml"));
        assert_eq!(origin(Some("  ")).origin, "source");
        let p = origin(Some("ci/build.yaml"));
        assert_eq!(
            (p.origin.as_str(), p.path.as_deref()),
            ("source", Some("ci/build.yaml"))
        );
        assert_eq!(origin(Some("buildspec-test.yml")).origin, "source");
        let s3 = origin(Some("arn:aws:s3:::platform-buildspecs/app/buildspec.yml"));
        assert_eq!(s3.origin, "s3");
        assert_eq!(
            origin(Some(
                "version: 0.2\nphases:\n  build:\n    commands: [make]\n"
            ))
            .origin,
            "inline"
        );
        assert_eq!(
            origin(Some("{\"version\": \"0.2\", \"phases\": {}}")).origin,
            "inline"
        );
        let inline = origin(Some("version: 0.2\nenv:\n  variables:\n    TOKEN: abc\n"));
        assert_eq!(inline.path, None, "the inline text is never kept");
    }

    fn esc(json: &str, others: &[&str]) -> Vec<String> {
        let d = doc(json);
        escalations(&[&d], ROLE, "us-east-1", &|| passes(&d, others))
    }

    #[test]
    fn escalation_needs_iam_writes_or_pass_role_with_a_service_that_runs_code() {
        // the reference build role: nothing
        let scoped = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["logs:*"],"Resource":"*"},
            {"Effect":"Allow","Action":["codebuild:StartBuild"],
             "Resource":"arn:aws:codebuild:us-east-1:123456789012:project/app-build"}]}"#;
        assert!(esc(scoped, &[]).is_empty());
        // PassRole alone, or RunInstances alone, is not a path
        assert!(
            esc(
                r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}"#,
                &[]
            )
            .is_empty()
        );
        assert!(
            esc(
                r#"{"Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"}]}"#,
                &[]
            )
            .is_empty()
        );
        // together they are
        assert_eq!(
            esc(
                r#"{"Statement":[{"Effect":"Allow","Action":["iam:PassRole","ec2:RunInstances"],"Resource":"*"}]}"#,
                &[]
            ),
            ["iam:PassRole on other roles + ec2:RunInstances"]
        );
        // IAM writes on their own
        assert_eq!(
            esc(
                r#"{"Statement":[{"Effect":"Allow","Action":"iam:Put*Policy","Resource":"*"}]}"#,
                &[]
            ),
            [
                "iam:PutRolePolicy",
                "iam:PutUserPolicy",
                "iam:PutGroupPolicy"
            ]
        );
        // StartBuild on any project: a buildspec override runs as its role
        assert_eq!(
            esc(
                r#"{"Statement":[{"Effect":"Allow","Action":"codebuild:StartBuild","Resource":"*"}]}"#,
                &[]
            ),
            ["codebuild:StartBuild on other projects (buildspec override)"]
        );
        // a Deny on PassRole closes the combined paths
        assert!(esc(
            r#"{"Statement":[{"Effect":"Allow","Action":["iam:PassRole","cloudformation:*"],"Resource":"*"},
                             {"Effect":"Deny","Action":"iam:PassRole","Resource":"*"}]}"#,
            &[]
        )
        .is_empty());
    }
}
