//! Release paths end to end against moto_server 5.1.22, which serves users,
//! groups, roles, inline and managed policies, role permission boundaries,
//! OIDC providers and GetAccountAuthorizationDetails (never truncated): a
//! reference stack plus principals, collected through the SDK, each kind
//! firing for exactly its principal; then `pipeaudit paths` on the saved
//! snapshot.

use crate::support;

use std::collections::BTreeSet;

use pipeaudit::findings::Severity;
use std::sync::Arc;

use pipeaudit::collect::{CollectOptions, collect_with_config};
use pipeaudit::rules::RuleSet;
use pipeaudit::rules::config::Config;
use pipeaudit::rules::engine::evaluate;
use support::moto::Moto;
use support::seed::{self, SeedClients, StackSpec};

async fn user(c: &SeedClients, name: &str, policy: &str) {
    c.iam
        .create_user()
        .user_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create user {name}: {e:?}"));
    c.iam
        .put_user_policy()
        .user_name(name)
        .policy_name("work")
        .policy_document(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put user policy {name}: {e:?}"));
}

async fn role(c: &SeedClients, name: &str, trust: &str, policy: &str, boundary: Option<&str>) {
    c.iam
        .create_role()
        .role_name(name)
        .assume_role_policy_document(trust)
        .set_permissions_boundary(boundary.map(str::to_string))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create role {name}: {e:?}"));
    c.iam
        .put_role_policy()
        .role_name(name)
        .policy_name("work")
        .policy_document(policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("put role policy {name}: {e:?}"));
}

async fn managed(c: &SeedClients, name: &str, doc: &str) -> String {
    c.iam
        .create_policy()
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create policy {name}: {e:?}"))
        .policy()
        .and_then(|p| p.arn())
        .unwrap_or_default()
        .to_string()
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn oidc_trust(account: &str, sub: Option<&str>) -> String {
    let sub = sub
        .map(|s| format!(r#","StringLike":{{"token.actions.githubusercontent.com:sub":"{s}"}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":{{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}{sub}}}}}]}}"#
    )
}

/// (rule id, principal name) of the release-path findings.
fn paths_of(findings: &[pipeaudit::findings::Finding]) -> BTreeSet<(String, String)> {
    findings
        .iter()
        .filter(|f| f.rule_id.starts_with("RP"))
        .map(|f| {
            (
                f.rule_id.clone(),
                f.resource_arn
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn each_kind_fires_for_exactly_its_principal() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let stack = seed::seed_stack(
        &c,
        &StackSpec {
            prefix: "rp".to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let a = c.account.clone();
    let repo = stack.repo_arn.clone();
    let group = format!(
        "arn:aws:codedeploy:us-east-1:{a}:deploymentgroup:{}/{}",
        stack.app_name, stack.group_name
    );
    let root_trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{a}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    // RP001, unconditional; the trusted release lead; the MFA-conditional one
    user(&c, "pusher", &allow("codecommit:GitPush", &repo)).await;
    user(&c, "release-lead", &allow("codecommit:GitPush", &repo)).await;
    user(
        &c,
        "mfa-pusher",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"codecommit:GitPush","Resource":"{repo}","Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}}]}}"#
        ),
    )
    .await;
    // stopped by the documented codecommit:References deny
    user(
        &c,
        "protected",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["codecommit:GitPush","codecommit:Merge*"],"Resource":"{repo}"}},
            {{"Effect":"Deny","Action":["codecommit:GitPush","codecommit:Merge*"],"Resource":"{repo}","Condition":{{"StringEqualsIfExists":{{"codecommit:References":["refs/heads/main"]}},"Null":{{"codecommit:References":"false"}}}}}}]}}"#
        ),
    )
    .await;
    // RP005 through a group's attached local managed policy
    let deploy_policy = managed(
        &c,
        "rp-deploy",
        &allow("codedeploy:CreateDeployment", &group),
    )
    .await;
    c.iam
        .create_group()
        .group_name("deployers")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    c.iam
        .attach_group_policy()
        .group_name("deployers")
        .policy_arn(&deploy_policy)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    c.iam
        .create_user()
        .user_name("deployer")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    c.iam
        .add_user_to_group()
        .group_name("deployers")
        .user_name("deployer")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // stopped by a role permission boundary
    let boundary = managed(&c, "rp-read-only", &allow("s3:GetObject", "*")).await;
    role(
        &c,
        "bounded",
        &root_trust,
        &allow("codecommit:*", "*"),
        Some(&boundary),
    )
    .await;
    // RP008: a user who can assume a role that can merge
    role(
        &c,
        "merger",
        &root_trust,
        &allow("codecommit:Merge*", &repo),
        None,
    )
    .await;
    user(
        &c,
        "hopper",
        &allow("sts:AssumeRole", &format!("arn:aws:iam::{a}:role/merger")),
    )
    .await;
    // web identity roles that can deploy: bound (passes RP009) and unbound
    c.iam
        .create_open_id_connect_provider()
        .url("https://token.actions.githubusercontent.com")
        .client_id_list("sts.amazonaws.com")
        .thumbprint_list("6938fd4d98bab03faadb97b34396831e3780aea1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    role(
        &c,
        "gha-bound",
        &oidc_trust(&a, Some("repo:acme/app:ref:refs/heads/main")),
        &allow("codedeploy:CreateDeployment", &group),
        None,
    )
    .await;
    role(
        &c,
        "gha-open",
        &oidc_trust(&a, None),
        &allow("codedeploy:CreateDeployment", &group),
        None,
    )
    .await;
    role(
        &c,
        "gha-org",
        &oidc_trust(&a, Some("repo:acme/*")),
        &allow("codedeploy:CreateDeployment", &group),
        None,
    )
    .await;
    // someone with no path at all
    user(&c, "reader", &allow("codecommit:GitPull", &repo)).await;

    let sdk = moto.sdk_config("us-east-1").await;
    let snapshot = collect_with_config(&sdk, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let kept: BTreeSet<String> = match &snapshot.principals {
        Some(pipeaudit::model::Observed::Ok { value }) => {
            value.principals.iter().map(|p| p.name.clone()).collect()
        }
        other => panic!("principals not read: {other:?}"),
    };
    assert!(
        !kept.contains("reader") && !kept.contains("protected"),
        "{kept:?}"
    );
    assert!(
        kept.contains("deployer") && kept.contains("merger"),
        "{kept:?}"
    );
    assert!(
        snapshot
            .api_calls
            .contains_key("iam:GetAccountAuthorizationDetails")
    );

    let config = Config::parse(
        "[release_paths]\ntrusted = [{ principal = \"arn:aws:iam::*:user/release-*\", reason = \"release team\" }]\n",
        "pipeaudit.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let snapshot = Arc::new(snapshot);
    let eval = evaluate(snapshot.clone(), &rules, &config);
    // moto does not serve approval rule templates (it answers 500): read
    // once, for the one repository someone can push to, the gap names the
    // permission and RP001 is still reported (its message says the
    // approvals are not known); no other release-path diagnostic
    const TEMPLATES: &str = "codecommit:ListAssociatedApprovalRuleTemplatesForRepository";
    assert_eq!(snapshot.api_calls.get(TEMPLATES), Some(&1));
    let rp_diags: Vec<_> = eval
        .diagnostics
        .iter()
        .filter(|d| d.rule_id.as_deref().is_some_and(|r| r.starts_with("RP")))
        .collect();
    assert_eq!(rp_diags.len(), 1, "{:#?}", eval.diagnostics);
    assert_eq!(rp_diags[0].rule_id.as_deref(), Some("RP001"));
    assert_eq!(rp_diags[0].permission.as_deref(), Some(TEMPLATES));
    assert_eq!(rp_diags[0].resource.as_deref(), Some(repo.as_str()));
    let got = paths_of(&eval.findings);
    let want: BTreeSet<(String, String)> = [
        ("RP001", "pusher"),
        ("RP001", "mfa-pusher"),
        ("RP001", "merger"),
        ("RP005", "deployer"),
        ("RP005", "gha-bound"),
        ("RP005", "gha-open"),
        ("RP005", "gha-org"),
        ("RP008", "hopper"),
        ("RP009", "gha-open"),
        ("RP009", "gha-org"),
    ]
    .into_iter()
    .map(|(r, p)| (r.to_string(), p.to_string()))
    .collect();
    assert_eq!(got, want);
    // open to any repository: critical; bound to the organization: medium
    let oidc = |name: &str| {
        eval.findings
            .iter()
            .find(|f| f.rule_id == "RP009" && f.resource_arn.ends_with(&format!("role/{name}")))
            .unwrap_or_else(|| panic!("no RP009 for {name}"))
    };
    assert_eq!(oidc("gha-open").severity, Severity::Critical);
    assert_eq!(oidc("gha-org").severity, Severity::Medium);
    assert!(
        oidc("gha-org")
            .message
            .contains("bound to the organization"),
        "{}",
        oidc("gha-org").message
    );
    let mfa = eval
        .findings
        .iter()
        .find(|f| f.resource_arn.ends_with("user/mfa-pusher"))
        .map(|f| f.message.clone())
        .unwrap_or_default();
    assert!(
        mfa.contains("(conditional)") && mfa.contains("Bool aws:MultiFactorAuthPresent true"),
        "{mfa}"
    );
    assert!(
        mfa.contains("whether pull-request merges into main need approvals is not known"),
        "{mfa}"
    );
    let deployer = eval
        .findings
        .iter()
        .find(|f| f.resource_arn.ends_with("user/deployer"))
        .map(|f| f.message.clone())
        .unwrap_or_default();
    assert!(deployer.contains("through group deployers"), "{deployer}");

    // the same snapshot through `pipeaudit paths`
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = dir.path().join("s.json");
    snapshot.save(&snap).unwrap_or_else(|e| panic!("{e}"));
    let cfg = dir.path().join("pipeaudit.toml");
    std::fs::write(
        &cfg,
        "[release_paths]\ntrusted = [{ principal = \"arn:aws:iam::*:user/release-*\", reason = \"release team\" }]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let snap_s = snap.display().to_string();
    let cfg_s = cfg.display().to_string();
    let out = support::offline(&[
        "paths",
        "--snapshot",
        &snap_s,
        "--config",
        &cfg_s,
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = support::stdout_json(&out);
    assert_eq!(json["status"], "analysed");
    let paths = json["pipelines"][0]["paths"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let accepted: Vec<&serde_json::Value> = paths
        .iter()
        .filter(|p| p["accepted"] == "release team")
        .collect();
    assert_eq!(accepted.len(), 1);
    assert!(
        accepted[0]["principal"]
            .as_str()
            .unwrap_or_default()
            .ends_with("user/release-lead")
    );
    let hop = paths
        .iter()
        .find(|p| p["kind"] == "RP008")
        .unwrap_or_else(|| panic!("{paths:#?}"));
    assert_eq!(hop["chain"].as_array().map(Vec::len), Some(2));
    assert_eq!(hop["chain"][0]["action"], "sts:AssumeRole");
    // --principal narrows, and the table names the chain
    let out = support::offline(&[
        "paths",
        "--snapshot",
        &snap_s,
        "--principal",
        "*:user/hopper",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RP008 release-role-assumable"), "{text}");
    assert!(!text.contains("user/pusher"), "{text}");
    assert!(text.contains("-> sts:AssumeRole on"), "{text}");

    // the audit carries each path's chain: JSON `witness`, a SARIF code
    // flow (a location per step, valid for code scanning), the HTML
    // report's "Who can ship"
    let out = support::offline(&["--snapshot", &snap_s, "--format", "json"]);
    let report = support::stdout_json(&out);
    let rp: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["rule_id"].as_str().is_some_and(|r| r.starts_with("RP")))
        .collect();
    assert!(!rp.is_empty());
    for f in &rp {
        let steps = f["witness"].as_array().map(Vec::len).unwrap_or(0);
        assert!(steps >= 1, "{f:#}");
        // the principal acts in the chain (an OIDC role's starts at its provider)
        assert!(
            f["witness"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["principal"] == f["resource_arn"]),
            "{f:#}"
        );
    }
    let hopper = rp
        .iter()
        .find(|f| f["rule_id"] == "RP008" && f["resource_arn"] == hop["principal"])
        .unwrap_or_else(|| panic!("{rp:#?}"));
    let actions: Vec<&serde_json::Value> = hopper["witness"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["action"])
        .collect();
    let expected: Vec<&serde_json::Value> = hop["chain"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["action"])
        .collect();
    assert_eq!(actions, expected);
    assert!(
        report["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| !f["rule_id"].as_str().is_some_and(|r| r.starts_with("RP")))
            .all(|f| f.get("witness").is_none()),
        "only release paths carry a witness"
    );

    // (--allow-partial: the approval rule templates moto does not serve
    // are a gap, and SARIF is otherwise refused while a gap is open)
    let out = support::offline(&[
        "--snapshot",
        &snap_s,
        "--format",
        "sarif",
        "--allow-partial",
    ]);
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "SARIF is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    support::sarif_schema::validate(&sarif);
    let results: Vec<&serde_json::Value> = sarif["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["results"].as_array().into_iter().flatten())
        .collect();
    let flows: Vec<&serde_json::Value> = results
        .iter()
        .filter(|r| r["ruleId"].as_str().is_some_and(|id| id.starts_with("RP")))
        .copied()
        .collect();
    assert_eq!(flows.len(), rp.len());
    for r in &flows {
        let locations = r["codeFlows"][0]["threadFlows"][0]["locations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!locations.is_empty(), "{r:#}");
        for (i, l) in locations.iter().enumerate() {
            assert_eq!(l["executionOrder"], i + 1);
            let uri = l["location"]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap_or_default();
            assert!(uri.starts_with("aws/") && !uri.contains(':'), "{uri}");
            assert!(l["location"]["message"]["text"].is_string());
        }
    }
    let hop_flow = flows
        .iter()
        .find(|r| r["ruleId"] == "RP008" && r["properties"]["resource_arn"] == hop["principal"])
        .unwrap_or_else(|| panic!("{flows:#?}"));
    let first =
        hop_flow["codeFlows"][0]["threadFlows"][0]["locations"][0]["location"]["message"]["text"]
            .as_str()
            .unwrap_or_default();
    assert!(first.contains("sts:AssumeRole"), "{first}");
    assert!(
        results
            .iter()
            .filter(|r| !r["ruleId"].as_str().is_some_and(|id| id.starts_with("RP")))
            .all(|r| r.get("codeFlows").is_none())
    );

    let out = support::offline(&["--snapshot", &snap_s, "--format", "html"]);
    let html = String::from_utf8_lossy(&out.stdout);
    let doc = scraper::Html::parse_document(&html);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap_or_else(|e| panic!("{e}"));
    let ship: Vec<String> = doc
        .select(&sel("details.pl section.ship"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(ship.len(), 1, "one pipeline with paths");
    assert!(
        ship[0].starts_with(&format!("Who can ship ({} path(s)", rp.len())),
        "{}",
        ship[0]
    );
    assert!(ship[0].contains("user/hopper") && ship[0].contains("sts:AssumeRole"));
    let steps = doc.select(&sel("section.ship ol.steps > li")).count();
    let total: usize = rp
        .iter()
        .map(|f| f["witness"].as_array().map(Vec::len).unwrap_or(0))
        .sum();
    assert_eq!(steps, total);

    // `paths --format sarif|html`: the same paths as an audit of only the
    // release-path rules, SARIF under its own categories; --principal narrows
    // (the audit's --allow-partial, before the command: see above)
    let out = support::offline(&[
        "--allow-partial",
        "paths",
        "--snapshot",
        &snap_s,
        "--config",
        &cfg_s,
        "--format",
        "sarif",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sarif: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    support::sarif_schema::validate(&sarif);
    let runs = sarif["runs"].as_array().cloned().unwrap_or_default();
    assert!(!runs.is_empty());
    for run in &runs {
        let cat = run["automationDetails"]["id"].as_str().unwrap_or_default();
        assert!(cat.starts_with("pipeaudit-paths/aws/"), "{cat}");
    }
    let ids: BTreeSet<String> = runs
        .iter()
        .flat_map(|r| r["results"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            assert!(r["codeFlows"].is_array(), "{r:#}");
            r["ruleId"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id.starts_with("RP")),
        "{ids:?}"
    );
    let out = support::offline(&[
        "--allow-partial",
        "paths",
        "--snapshot",
        &snap_s,
        "--principal",
        "*:user/hopper",
        "--format",
        "html",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let html = String::from_utf8_lossy(&out.stdout);
    let doc = scraper::Html::parse_document(&html);
    let ship: Vec<String> = doc
        .select(&sel("section.ship"))
        .map(|e| e.text().collect())
        .collect();
    assert_eq!(ship.len(), 1, "{ship:?}");
    assert!(ship[0].contains("user/hopper") && !ship[0].contains("user/pusher"));
}

#[tokio::test]
async fn the_reference_stack_has_no_path() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    seed::seed_stack(
        &c,
        &StackSpec {
            prefix: "ref".to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let sdk = moto.sdk_config("us-east-1").await;
    let snapshot = collect_with_config(&sdk, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let snapshot = Arc::new(snapshot);
    let eval = evaluate(snapshot.clone(), &rules, &Config::default());
    assert!(paths_of(&eval.findings).is_empty(), "{:#?}", eval.findings);
    // no one can change the branch: no approval rule template is asked for
    assert!(
        !snapshot
            .api_calls
            .keys()
            .any(|k| k.contains("ApprovalRuleTemplate")),
        "{:?}",
        snapshot.api_calls
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let snap = dir.path().join("s.json");
    snapshot.save(&snap).unwrap_or_else(|e| panic!("{e}"));
    let out = support::offline(&["paths", "--snapshot", &snap.display().to_string()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("no release path outside the pipeline"),
        "{text}"
    );
    assert!(text.contains("service control policies"), "{text}");
}

/// KMS grants on the artifact key count like the key policy (moto serves
/// CreateGrant and ListGrants): three users may write the pipeline's
/// artifacts but no key policy or identity policy lets them use the key;
/// the one granted GenerateDataKey has RP003, the one whose grant requires
/// an encryption context has it as conditional (the context quoted), the
/// one granted only Decrypt and the one without a grant have none.
#[tokio::test]
async fn artifact_key_grants_count_like_the_key_policy() {
    let moto = Moto::start();
    let c = SeedClients::connect(&moto.endpoint, "us-east-1")
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let stack = seed::seed_stack(
        &c,
        &StackSpec {
            prefix: "kg".to_string(),
            defects: Vec::new(),
            shared_store: None,
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let a = c.account.clone();
    let objects = format!("arn:aws:s3:::{}/*", stack.bucket);
    for name in ["granted", "constrained", "decrypt-only", "ungranted"] {
        user(&c, name, &allow("s3:PutObject", &objects)).await;
    }
    let grant = |name: &str, op: aws_sdk_kms::types::GrantOperation| {
        c.kms
            .create_grant()
            .key_id(&stack.key_id)
            .grantee_principal(format!("arn:aws:iam::{a}:user/{name}"))
            .operations(op)
    };
    use aws_sdk_kms::types::{GrantConstraints, GrantOperation};
    grant("granted", GrantOperation::GenerateDataKey)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    grant("constrained", GrantOperation::GenerateDataKey)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("team", "build")
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    grant("decrypt-only", GrantOperation::Decrypt)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let sdk = moto.sdk_config("us-east-1").await;
    let snapshot = collect_with_config(&sdk, &CollectOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(snapshot.api_calls.get("kms:ListGrants"), Some(&1));
    let key = snapshot
        .resources
        .keys
        .get(&stack.key_arn)
        .and_then(|k| k.value())
        .unwrap_or_else(|| panic!("key not read"));
    assert_eq!(
        key.grants.value().map(Vec::len),
        Some(3),
        "{:?}",
        key.grants
    );
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = evaluate(Arc::new(snapshot), &rules, &Config::default());
    let got = paths_of(&eval.findings);
    let want: BTreeSet<(String, String)> = [("RP003", "granted"), ("RP003", "constrained")]
        .into_iter()
        .map(|(r, p)| (r.to_string(), p.to_string()))
        .collect();
    assert_eq!(got, want, "{:#?}", eval.findings);
    let message = |name: &str| {
        eval.findings
            .iter()
            .find(|f| f.resource_arn.ends_with(&format!("user/{name}")))
            .map(|f| f.message.clone())
            .unwrap_or_default()
    };
    assert!(
        message("granted").contains("kms-grant:"),
        "{}",
        message("granted")
    );
    assert!(
        !message("granted").contains("(conditional)"),
        "{}",
        message("granted")
    );
    assert!(
        message("constrained").contains("(conditional)")
            && message("constrained").contains("kms:EncryptionContext:team"),
        "{}",
        message("constrained")
    );
}
