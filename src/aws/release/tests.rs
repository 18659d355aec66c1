use super::*;
use crate::model::PolicyText;
use crate::model::principals::{InlinePolicy, PrincipalKind};

const ACCOUNT: &str = "123456789012";
const REPO: &str = "arn:aws:codecommit:us-east-1:123456789012:demo-000-repo";
const GROUP: &str =
    "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:demo-000-app/demo-000-group";
const BUILD_ROLE: &str = "arn:aws:iam::123456789012:role/demo-000-build-role";

/// The bundled demo account cut down to its compliant stack.
fn demo() -> Snapshot {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
    let mut s = Snapshot::from_json(&text, path).unwrap_or_else(|e| panic!("{e}"));
    s.pipelines.retain(|w| w.name == "demo-000-pipeline");
    s
}

fn arn(kind: PrincipalKind, name: &str) -> String {
    match kind {
        PrincipalKind::User => format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        PrincipalKind::Role => format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
    }
}

fn principal(kind: PrincipalKind, name: &str, policy: &str, trust: Option<&str>) -> IamPrincipal {
    IamPrincipal {
        arn: arn(kind, name),
        name: name.to_string(),
        kind,
        inline: vec![InlinePolicy {
            name: "p".to_string(),
            group: None,
            document: PolicyText::parse(policy),
        }],
        attached: Vec::new(),
        boundary: None,
        trust: trust.map(PolicyText::parse),
    }
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Statement":[{{"Sid":"Grant","Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

const TRUST_ACCOUNT: &str = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"sts:AssumeRole"}]}"#;

fn oidc_trust(sub: Option<&str>) -> String {
    let condition = match sub {
        Some(s) => format!(
            r#","Condition":{{"StringLike":{{"token.actions.githubusercontent.com:sub":"{s}"}},"StringEquals":{{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}}"#
        ),
        None => String::new(),
    };
    format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}},"Action":"sts:AssumeRoleWithWebIdentity"{condition}}}]}}"#
    )
}

fn kinds(a: &Analysis, who: &str) -> Vec<&'static str> {
    a.pipelines[0]
        .paths
        .iter()
        .filter(|p| p.principal.ends_with(who))
        .map(|p| p.kind.id())
        .collect()
}

fn path<'a>(a: &'a Analysis, who: &str, kind: Kind) -> &'a ReleasePath {
    a.pipelines[0]
        .paths
        .iter()
        .find(|p| p.principal.ends_with(who) && p.kind == kind)
        .unwrap_or_else(|| {
            panic!(
                "no {} path for {who}: {:#?}",
                kind.id(),
                a.pipelines[0].paths
            )
        })
}

fn seeded() -> Snapshot {
    use PrincipalKind::{Role, User};
    let mut s = demo();
    let documented_deny = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"codecommit:*","Resource":"*"}},
        {{"Effect":"Deny","Action":["codecommit:GitPush","codecommit:DeleteBranch","codecommit:PutFile","codecommit:CreateCommit","codecommit:DeleteFile","codecommit:CreateBranch","codecommit:Merge*","codecommit:OverridePullRequestApprovalRules"],"Resource":"{REPO}",
         "Condition":{{"StringEqualsIfExists":{{"codecommit:References":["refs/heads/main"]}},"Null":{{"codecommit:References":"false"}}}}}},
        {{"Effect":"Deny","Action":"codecommit:OverridePullRequestApprovalRules","Resource":"*"}}]}}"#
    );
    let mfa = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"codecommit:GitPush","Resource":"{REPO}","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}"#
    );
    let mut bounded = principal(
        Role,
        "bounded",
        &allow("codecommit:*", "*"),
        Some(TRUST_ACCOUNT),
    );
    bounded.boundary = Some("arn:aws:iam::123456789012:policy/read-only".to_string());
    let mut principals = vec![
        principal(User, "pusher", &allow("codecommit:GitPush", REPO), None),
        principal(User, "protected", &documented_deny, None),
        principal(User, "mfa", &mfa, None),
        principal(
            User,
            "release-lead",
            &allow("codecommit:GitPush", REPO),
            None,
        ),
        bounded,
        principal(
            User,
            "hopper",
            &allow("sts:AssumeRole", "arn:aws:iam::123456789012:role/push-*"),
            None,
        ),
        principal(
            Role,
            "push-role",
            &allow("codecommit:Merge*", REPO),
            Some(TRUST_ACCOUNT),
        ),
        principal(
            Role,
            "gha-bound",
            &allow("codedeploy:CreateDeployment", GROUP),
            Some(&oidc_trust(Some("repo:acme/app:ref:refs/heads/main"))),
        ),
        principal(
            Role,
            "gha-unbound",
            &allow("codedeploy:CreateDeployment", GROUP),
            Some(&oidc_trust(None)),
        ),
        principal(
            Role,
            "gha-org",
            &allow("codedeploy:CreateDeployment", GROUP),
            Some(&oidc_trust(Some("repo:acme/*"))),
        ),
        principal(User, "admin", &allow("*", "*"), None),
        principal(User, "builder", &allow("codebuild:StartBuild", "*"), None),
        principal(User, "bystander", &allow("s3:GetObject", "*"), None),
        principal(
            User,
            "build-assumer",
            &allow("sts:AssumeRole", BUILD_ROLE),
            None,
        ),
    ];
    principals.sort_by(|a, b| a.arn.cmp(&b.arn));
    let mut policies = BTreeMap::new();
    policies.insert(
        "arn:aws:iam::123456789012:policy/read-only".to_string(),
        PolicyText::parse(&allow("s3:GetObject", "*")),
    );
    s.principals = Some(Observed::ok(PrincipalSet {
        read: principals.len(),
        principals,
        policies,
    }));
    s
}

fn trusted() -> Vec<Trusted> {
    vec![Trusted {
        principal: "arn:aws:iam::*:user/release-*".to_string(),
        reason: "release team".to_string(),
    }]
}

#[test]
fn each_kind_fires_for_exactly_its_principal() {
    let a = analyse(&seeded(), &trusted());
    assert_eq!(a.status, Status::Analysed);
    assert_eq!(kinds(&a, "user/pusher"), ["RP001"]);
    let push = path(&a, "user/pusher", Kind::BranchPush);
    assert!(!push.conditional);
    assert!(
        push.witness().contains("refs/heads/main"),
        "{}",
        push.witness()
    );
    assert!(
        push.witness()
            .contains("inline policy p statement 1 (Grant)"),
        "{}",
        push.witness()
    );
    // the documented References deny stops it; the boundary stops the role
    assert!(
        kinds(&a, "user/protected").is_empty(),
        "{:?}",
        kinds(&a, "user/protected")
    );
    assert!(kinds(&a, "role/bounded").is_empty());
    assert!(kinds(&a, "user/bystander").is_empty());
    // the MFA condition: conditional, quoted
    let mfa = path(&a, "user/mfa", Kind::BranchPush);
    assert!(mfa.conditional);
    assert!(
        mfa.witness()
            .contains("Bool aws:MultiFactorAuthPresent true"),
        "{}",
        mfa.witness()
    );
    // trusted: listed as accepted with the reason
    assert_eq!(
        path(&a, "user/release-lead", Kind::BranchPush)
            .accepted
            .as_deref(),
        Some("release team")
    );
    // a chain: assume a role that can merge
    let hop = path(&a, "user/hopper", Kind::RoleAssumable);
    assert_eq!(hop.chain.len(), 2, "{}", hop.witness());
    assert_eq!(hop.chain[0].action, "sts:AssumeRole");
    assert!(hop.chain[1].action.starts_with("codecommit:Merge"));
    assert_eq!(kinds(&a, "role/push-role"), ["RP001"]);
    // becoming the build role, which the trust does not name: no path
    assert!(kinds(&a, "user/build-assumer").is_empty());
    // build override
    assert_eq!(kinds(&a, "user/builder"), ["RP002"]);
    // web identity roles: both deploy directly, only the unbound one is RP009
    assert_eq!(kinds(&a, "role/gha-bound"), ["RP005"]);
    assert_eq!(kinds(&a, "role/gha-unbound"), ["RP005", "RP009"]);
    let org = path(&a, "role/gha-org", Kind::OidcUnbound);
    assert!(
        org.note.contains("bound to the organization"),
        "{}",
        org.note
    );
    // full control: listed once, no per-kind paths
    assert!(kinds(&a, "user/admin").is_empty());
    assert_eq!(a.pipelines[0].full_control.len(), 1);
    assert!(
        a.pipelines[0].full_control[0]
            .principal
            .ends_with("user/admin")
    );
    assert_eq!(a.notes, [SCP_NOTE]);
}

#[test]
fn a_trust_naming_the_principal_is_enough_on_its_own() {
    let mut s = seeded();
    if let Some(Observed::Ok { value: role }) = s.resources.roles.get_mut(BUILD_ROLE)
        && let Observed::Ok { value: trust } = &mut role.trust_policy
    {
        *trust = PolicyText::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"codebuild.amazonaws.com"},"Action":"sts:AssumeRole"},
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bystander"},"Action":"sts:AssumeRole"}]}"#,
        );
    }
    let a = analyse(&s, &[]);
    let p = path(&a, "user/bystander", Kind::RoleAssumable);
    assert_eq!(p.chain[0].resource, BUILD_ROLE);
    assert_eq!(p.chain[0].granted_by[0].policy, "trust policy");
}

#[test]
fn the_reference_stack_without_extra_principals_has_no_path() {
    let mut s = demo();
    s.principals = Some(Observed::ok(PrincipalSet::default()));
    let a = analyse(&s, &[]);
    assert_eq!(a.status, Status::Analysed);
    assert!(
        a.pipelines[0].paths.is_empty(),
        "{:#?}",
        a.pipelines[0].paths
    );
    assert!(a.pipelines[0].full_control.is_empty());
}

#[test]
fn unread_principals_are_not_analysed() {
    let mut s = demo();
    s.principals = None;
    let a = analyse(&s, &[]);
    match a.status {
        Status::NotAnalysed { error } => {
            assert_eq!(error.action, "iam:GetAccountAuthorizationDetails")
        }
        Status::Analysed => panic!("analysed without principals"),
    }
}

#[test]
fn keep_retains_path_holders_and_chain_members_only() {
    let s = seeded();
    let Some(Observed::Ok { value }) = s.principals.clone() else {
        panic!("seeded")
    };
    let kept = keep(&s, value);
    let names: Vec<&str> = kept
        .set
        .principals
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert!(names.contains(&"pusher") && names.contains(&"hopper") && names.contains(&"push-role"));
    assert!(
        !names.contains(&"bystander") && !names.contains(&"protected"),
        "{names:?}"
    );
    assert!(kept.set.policies.is_empty());
    // someone can change the release branch: its approval rule templates
    // are wanted for RP001's message
    assert_eq!(
        kept.repositories,
        [(
            REPO.to_string(),
            "demo-000-repo".to_string(),
            "us-east-1".to_string()
        )]
    );
    // no one can: no template is read
    let none = keep(&demo(), PrincipalSet::default());
    assert!(none.repositories.is_empty());
}

#[test]
fn oidc_sub_patterns() {
    let doc = |t: &str| crate::model::policy::parse_policy(t).unwrap_or_else(|e| panic!("{e}"));
    let p = "arn:aws:iam::1:oidc-provider/token.actions.githubusercontent.com";
    let check = |sub: Option<&str>| {
        let d = doc(&oidc_trust(sub));
        oidc_binding(p, &d.statements[0])
    };
    assert_eq!(check(Some("repo:acme/app:ref:refs/heads/main")), None);
    assert_eq!(check(Some("repo:acme/app:*")), None);
    assert!(matches!(check(Some("repo:*/app:*")), Some((_, true))));
    assert!(matches!(check(Some("*")), Some((_, true))));
    assert!(matches!(check(Some("repo:acme/*")), Some((_, false))));
    assert!(matches!(check(None), Some((_, true))));
}

/// RP006 through the launch template of the group's Auto Scaling group: a
/// new version reaches the targets at once with `$Latest`, only with the
/// default changed too with `$Default`, never with a pinned number (that
/// needs the group changed, a path of its own).
#[test]
fn launch_template_versions_reach_the_auto_scaling_targets() {
    use PrincipalKind::User;
    const LT: &str = "arn:aws:ec2:us-east-1:123456789012:launch-template/lt-0abc";
    let both = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":["ec2:CreateLaunchTemplateVersion","ec2:ModifyLaunchTemplate"],"Resource":"{LT}"}}]}}"#
    );
    let run = |version: Option<&str>| {
        let mut s = demo();
        let targets = s
            .resources
            .deploy_targets
            .get_mut(GROUP)
            .and_then(|t| match t {
                Observed::Ok { value } => Some(value),
                _ => None,
            })
            .unwrap_or_else(|| panic!("the demo group has targets"));
        let instance = targets
            .instances
            .first_mut()
            .unwrap_or_else(|| panic!("the demo group has an instance"));
        instance.auto_scaling_group = Some("web-asg".to_string());
        targets.launch_templates.insert(
            "web-asg".to_string(),
            crate::model::LaunchTemplateUse {
                id: "lt-0abc".to_string(),
                name: Some("web".to_string()),
                version: version.map(str::to_string),
            },
        );
        let mut principals = vec![
            principal(
                User,
                "versioner",
                &allow("ec2:CreateLaunchTemplateVersion", LT),
                None,
            ),
            principal(User, "both", &both, None),
        ];
        principals.sort_by(|a, b| a.arn.cmp(&b.arn));
        s.principals = Some(Observed::ok(PrincipalSet {
            read: principals.len(),
            principals,
            policies: BTreeMap::new(),
        }));
        analyse(&s, &[])
    };
    let latest = run(Some("$Latest"));
    assert_eq!(kinds(&latest, "user/versioner"), ["RP006"]);
    assert_eq!(kinds(&latest, "user/both"), ["RP006"]);
    let step = &path(&latest, "user/versioner", Kind::TargetAccess).chain[0];
    assert_eq!(step.action, "ec2:CreateLaunchTemplateVersion");
    assert_eq!(step.resource, LT);
    assert!(step.detail.contains("web-asg") && step.detail.contains("$Latest"));

    let default = run(None);
    assert!(kinds(&default, "user/versioner").is_empty());
    let step = &path(&default, "user/both", Kind::TargetAccess).chain[0];
    assert_eq!(
        step.action,
        "ec2:CreateLaunchTemplateVersion + ec2:ModifyLaunchTemplate"
    );
    assert_eq!(step.granted_by.len(), 2);

    let pinned = run(Some("3"));
    assert!(kinds(&pinned, "user/versioner").is_empty());
    assert!(kinds(&pinned, "user/both").is_empty());
}

/// RP005 on a CloudFormation deploy stage: UpdateStack on the stack, or a
/// change set made and executed (CloudFormation reuses the stack's role,
/// no iam:PassRole); a change set that cannot be executed is no path, nor
/// is a stack in another account (not audited here).
#[test]
fn cloudformation_stacks_can_be_changed_around_the_pipeline() {
    use PrincipalKind::User;
    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/app-prod";
    let mut s = demo();
    s.pipelines[0].stack_deploys = vec![
        crate::model::StackDeployRef {
            stage: "Deploy".to_string(),
            action: "Deploy".to_string(),
            region: "us-east-1".to_string(),
            account: ACCOUNT.to_string(),
            action_mode: "CREATE_UPDATE".to_string(),
            stack_name: "app-prod".to_string(),
            stack_arn: STACK.to_string(),
            ..Default::default()
        },
        crate::model::StackDeployRef {
            stage: "Deploy".to_string(),
            action: "Elsewhere".to_string(),
            region: "us-east-1".to_string(),
            account: "210987654321".to_string(),
            action_mode: "CREATE_UPDATE".to_string(),
            stack_name: "app-other".to_string(),
            stack_arn: "arn:aws:cloudformation:us-east-1:210987654321:stack/app-other".to_string(),
            ..Default::default()
        },
    ];
    let both = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":["cloudformation:CreateChangeSet","cloudformation:ExecuteChangeSet"],"Resource":"{STACK}/*"}}]}}"#
    );
    let mut principals = vec![
        principal(
            User,
            "updater",
            &allow("cloudformation:UpdateStack", &format!("{STACK}/*")),
            None,
        ),
        principal(
            User,
            "proposer",
            &allow("cloudformation:CreateChangeSet", &format!("{STACK}/*")),
            None,
        ),
        principal(User, "changer", &both, None),
        principal(
            User,
            "elsewhere",
            &allow(
                "cloudformation:UpdateStack",
                "arn:aws:cloudformation:*:210987654321:stack/*",
            ),
            None,
        ),
    ];
    principals.sort_by(|a, b| a.arn.cmp(&b.arn));
    s.principals = Some(Observed::ok(PrincipalSet {
        read: principals.len(),
        principals,
        policies: BTreeMap::new(),
    }));
    let a = analyse(&s, &[]);
    assert_eq!(kinds(&a, "user/updater"), ["RP005"]);
    assert_eq!(kinds(&a, "user/changer"), ["RP005"]);
    assert!(kinds(&a, "user/proposer").is_empty());
    assert!(kinds(&a, "user/elsewhere").is_empty());
    let step = &path(&a, "user/changer", Kind::DirectDeploy).chain[0];
    assert_eq!(
        step.action,
        "cloudformation:CreateChangeSet + cloudformation:ExecuteChangeSet"
    );
    assert!(step.detail.contains("app-prod"), "{}", step.detail);
}
