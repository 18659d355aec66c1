//! `--template PATH --fix-patch OUT.diff`: for each fix action with a
//! template form, a variant of the reference template with its defect is
//! patched; the diff applies with `git apply` in a scratch repository, the
//! patched template audits clean, only the lines the fix needs change
//! (exactly the lines listed per case), and `cfn-lint` (pinned, installed
//! into `.venv` by `scripts/test.sh`) reports no error on the patched
//! template that the original did not have (nor a check left unmade).
//! Forms that add resources (the trigger rule and its role) are patched in
//! YAML and JSON, under logical ids the template does not use yet. A
//! policy built with `Fn::Join` cannot be edited, a key another template
//! defines cannot be referenced, a pipeline prefix cut from a long name
//! cannot be written: each is a manual step and the patch is empty.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::template_mode::{reference, variant};

/// cfn-lint as `scripts/test.sh` installs it (the version moto's server
/// extra brings along).
const CFN_LINT_VERSION: &str = "1.41.0";

fn cfn_lint_bin() -> PathBuf {
    match std::env::var_os("PIPEAUDIT_CFN_LINT") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/cfn-lint"),
    }
}

/// The errors (E rules) cfn-lint reports on a template, as (rule, message).
fn cfn_lint_errors(path: &Path) -> BTreeSet<(String, String)> {
    let bin = cfn_lint_bin();
    let o = Command::new(&bin)
        .args(["--format", "json", "--"])
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cfn-lint not found at {} ({e}). Install the pinned version with \
                 `.venv/bin/pip install cfn-lint=={CFN_LINT_VERSION}` (scripts/test.sh does)",
                bin.display()
            )
        });
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "cfn-lint output is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    v.as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["Level"] == "Error")
        .map(|m| {
            (
                m["Rule"]["Id"].as_str().unwrap_or("").to_string(),
                m["Message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

/// The rule ids of a JSON report run in `dir` on `file`.
fn audit(dir: &Path, file: &str) -> (i32, BTreeSet<String>) {
    let o = run_in(dir, &["--template", file, "--format", "json"]);
    let r = crate::support::stdout_json(&o);
    (o.status.code().unwrap_or(-1), crate::support::rule_ids(&r))
}

/// The diagnostics (notes left out) of a JSON report run in `dir` on
/// `file`: the checks that could not be made.
fn gaps(dir: &Path, file: &str) -> usize {
    let o = run_in(dir, &["--template", file, "--format", "json"]);
    crate::support::diagnostics(&crate::support::stdout_json(&o)).len()
}

/// The lines a diff removes and adds.
fn changed_lines(diff: &str) -> (Vec<String>, Vec<String>) {
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for l in diff.lines() {
        if l.starts_with("---") || l.starts_with("+++") {
            continue;
        }
        if let Some(x) = l.strip_prefix('-') {
            removed.push(x.to_string());
        } else if let Some(x) = l.strip_prefix('+') {
            added.push(x.to_string());
        }
    }
    (removed, added)
}

/// The line numbers (1-based) a diff removes from the original and adds
/// in the patched text, from its hunk headers.
fn hunk_lines(diff: &str) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let mut gone = BTreeSet::new();
    let mut new = BTreeSet::new();
    let (mut old_at, mut new_at) = (0, 0);
    for l in diff.lines() {
        if let Some(h) = l.strip_prefix("@@ -") {
            let start = |s: &str| {
                s.split(',')
                    .next()
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("hunk header {l}"))
            };
            let mut parts = h.split(' ');
            old_at = start(parts.next().unwrap_or(""));
            new_at = start(parts.next().unwrap_or("").trim_start_matches('+'));
        } else if l.starts_with("---") || l.starts_with("+++") || l.starts_with("diff ") {
        } else if l.starts_with('-') {
            gone.insert(old_at);
            old_at += 1;
        } else if l.starts_with('+') {
            new.insert(new_at);
            new_at += 1;
        } else {
            old_at += 1;
            new_at += 1;
        }
    }
    (gone, new)
}

/// Every byte outside the changed lines as it was: the original less the
/// lines the hunks remove is the patched text less the lines they add.
/// Returns how many lines were removed and added.
fn same_outside_changed_lines(name: &str, p: &Patched) -> (usize, usize) {
    let (gone, new) = hunk_lines(&p.diff);
    let keep = |text: &str, drop: &BTreeSet<usize>| {
        text.split_inclusive('\n')
            .enumerate()
            .filter(|(i, _)| !drop.contains(&(i + 1)))
            .map(|(_, l)| l)
            .collect::<String>()
    };
    assert_eq!(
        keep(&p.original, &gone),
        keep(&p.patched, &new),
        "{name}: bytes outside the changed lines"
    );
    (gone.len(), new.len())
}

struct Patched {
    diff: String,
    stderr: String,
    original: String,
    patched: String,
}

/// Writes `text` as `file` in a fresh git repository, checks its findings
/// are `rules`, makes the patch, applies it with `git apply` and checks
/// the patched template audits clean and lints no worse.
fn patch_and_apply(file: &str, text: &str, rules: &[&str]) -> Patched {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    assert!(crate::support::git(dir, &["init", "-q"]).status.success());
    std::fs::write(dir.join(file), text).unwrap_or_else(|e| panic!("{e}"));
    let want: BTreeSet<String> = rules.iter().map(|r| r.to_string()).collect();
    assert_eq!(audit(dir, file), (1, want), "{file} before the patch");
    let gaps_before = gaps(dir, file);
    let o = run_in(
        dir,
        &[
            "--template",
            file,
            "--fix-patch",
            "fix.diff",
            "--format",
            "json",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{file}: {stderr}");
    let diff = std::fs::read_to_string(dir.join("fix.diff")).unwrap_or_else(|e| panic!("{e}"));
    let check = crate::support::git(dir, &["apply", "--check", "fix.diff"]);
    assert!(
        check.status.success(),
        "{file}: git apply --check: {}\n{diff}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        crate::support::git(dir, &["apply", "fix.diff"])
            .status
            .success()
    );
    let patched = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        audit(dir, file),
        (0, BTreeSet::new()),
        "{file} after the patch:\n{diff}"
    );
    assert!(
        gaps(dir, file) <= gaps_before,
        "{file}: the patch leaves more checks unmade\n{diff}"
    );
    // cfn-lint: no error the original did not have
    std::fs::write(dir.join(format!("original-{file}")), text).unwrap_or_else(|e| panic!("{e}"));
    let before = cfn_lint_errors(&dir.join(format!("original-{file}")));
    let after = cfn_lint_errors(&dir.join(file));
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        new.is_empty(),
        "{file}: cfn-lint errors the patch adds: {new:#?}\n{diff}"
    );
    Patched {
        diff,
        stderr,
        original: text.to_string(),
        patched,
    }
}

/// The reference template's trigger rule, the last of its resources.
const TRIGGER_RULE: &str = "  TriggerRule:
    Type: AWS::Events::Rule
    Properties:
      Name: !Sub '${Prefix}-trigger'
      State: ENABLED
      EventPattern:
        source: [aws.codecommit]
        detail-type: [CodeCommit Repository State Change]
        resources: [!GetAtt Repository.Arn]
        detail:
          event: [referenceCreated, referenceUpdated]
          referenceType: [branch]
          referenceName: [!Ref Branch]
      Targets:
        - Id: codepipeline
          Arn: !Sub 'arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}'
          RoleArn: !GetAtt EventsRole.Arn
";

/// What `trigger-create` adds to the reference template without its
/// trigger rule: the rule and its role, at the end of `Resources`.
const TRIGGER_CREATED: &[&str] = &[
    "  PipelineTrigger:",
    "    Type: AWS::Events::Rule",
    "    Properties:",
    "      Description: 'Starts the pipeline on each commit to its branch'",
    "      State: ENABLED",
    "      EventPattern:",
    "        source: [aws.codecommit]",
    "        detail-type: ['CodeCommit Repository State Change']",
    "        resources: [!GetAtt Repository.Arn]",
    "        detail:",
    "          event: [referenceCreated, referenceUpdated]",
    "          referenceType: [branch]",
    "          referenceName: [main]",
    "      Targets:",
    "        - Id: codepipeline",
    "          Arn: !Sub 'arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}'",
    "          RoleArn: !GetAtt PipelineTriggerRole.Arn",
    "  PipelineTriggerRole:",
    "    Type: AWS::IAM::Role",
    "    Properties:",
    "      Description: 'Lets EventBridge start one pipeline'",
    "      AssumeRolePolicyDocument:",
    "        Version: '2012-10-17'",
    "        Statement:",
    "          - Effect: Allow",
    "            Principal:",
    "              Service: events.amazonaws.com",
    "            Action: 'sts:AssumeRole'",
    "            Condition:",
    "              StringEquals:",
    "                'aws:SourceAccount': !Ref AWS::AccountId",
    "      Policies:",
    "        - PolicyName: start-pipeline",
    "          PolicyDocument:",
    "            Version: '2012-10-17'",
    "            Statement:",
    "              - Effect: Allow",
    "                Action: 'codepipeline:StartPipelineExecution'",
    "                Resource: !Sub 'arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}'",
];

#[test]
fn each_template_form_patches_its_defect_and_only_its_lines() {
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        &'a [&'a str],
        &'a [&'a str],
    );
    let cases: &[Case] = &[
        (
            "versioning-off",
            &[("        Status: Enabled", "        Status: Suspended")],
            &["AB008"],
            &["        Status: Suspended"],
            &["        Status: Enabled"],
        ),
        (
            "public-access-block-off",
            &[(
                "        BlockPublicAcls: true\n",
                "        BlockPublicAcls: false  # open\n",
            )],
            &["AB006"],
            &["        BlockPublicAcls: false  # open"],
            &["        BlockPublicAcls: true  # open"],
        ),
        (
            "no-bucket-encryption",
            &[(
                "      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: 'aws:kms'\n              KMSMasterKeyID: !GetAtt ArtifactKey.Arn\n            BucketKeyEnabled: true\n",
                "",
            )],
            &["AB002"],
            &[],
            &[
                "      BucketEncryption:",
                "        ServerSideEncryptionConfiguration:",
                "          - ServerSideEncryptionByDefault:",
                "              SSEAlgorithm: 'aws:kms'",
                "              KMSMasterKeyID: !GetAtt ArtifactKey.Arn",
                "            BucketKeyEnabled: true",
            ],
        ),
        (
            "rotation-off",
            &[("EnableKeyRotation: true", "EnableKeyRotation: false")],
            &["KM003"],
            &["      EnableKeyRotation: false"],
            &["      EnableKeyRotation: true"],
        ),
        (
            "no-rollback",
            &[(
                "        Enabled: true\n        Events: [DEPLOYMENT_FAILURE]",
                "        Enabled: false\n        Events: [DEPLOYMENT_FAILURE]",
            )],
            &["CD003"],
            &["        Enabled: false"],
            &["        Enabled: true"],
        ),
        (
            "all-at-once",
            &[(
                "CodeDeployDefault.OneAtATime",
                "CodeDeployDefault.AllAtOnce",
            )],
            &["CD004"],
            &["      DeploymentConfigName: CodeDeployDefault.AllAtOnce"],
            &["      DeploymentConfigName: CodeDeployDefault.OneAtATime"],
        ),
        (
            "polling-unset",
            &[("                PollForSourceChanges: false\n", "")],
            &["PL004"],
            &[],
            &["                PollForSourceChanges: false"],
        ),
        (
            "imdsv1",
            &[("HttpTokens: required", "HttpTokens: optional")],
            &["CD009"],
            &["          HttpTokens: optional"],
            &["          HttpTokens: required"],
        ),
        (
            "no-tls-statement",
            &[(
                "          - Sid: DenyInsecureConnections\n            Effect: Deny\n            Principal: '*'\n            Action: 's3:*'\n            Resource:\n              - !GetAtt ArtifactBucket.Arn\n              - !Join ['', [!GetAtt ArtifactBucket.Arn, '/*']]\n            Condition:\n              Bool:\n                'aws:SecureTransport': 'false'\n",
                "",
            )],
            &["AB005"],
            &[],
            &[
                "          - Sid: DenyInsecureConnections",
                "            Effect: Deny",
                "            Principal: '*'",
                "            Action: 's3:*'",
                "            Resource: [!GetAtt ArtifactBucket.Arn, !Sub '${ArtifactBucket.Arn}/*']",
                "            Condition:",
                "              Bool:",
                "                'aws:SecureTransport': 'false'",
            ],
        ),
        (
            "no-sse-kms-statement",
            &[(
                "          - Sid: DenyUnEncryptedObjectUploads\n            Effect: Deny\n            Principal: '*'\n            Action: 's3:PutObject'\n            Resource: !Sub '${ArtifactBucket.Arn}/*'\n            Condition:\n              StringNotEquals:\n                's3:x-amz-server-side-encryption': 'aws:kms'\n",
                "",
            )],
            &["AB004"],
            &[],
            &[
                "          - Sid: DenyUnEncryptedObjectUploads",
                "            Effect: Deny",
                "            Principal: '*'",
                "            Action: 's3:PutObject'",
                "            Resource: !Sub '${ArtifactBucket.Arn}/*'",
                "            Condition:",
                "              StringNotEquals:",
                "                's3:x-amz-server-side-encryption': 'aws:kms'",
            ],
        ),
        (
            "trigger-disabled",
            &[("      State: ENABLED\n", "      State: DISABLED\n")],
            &["TR002"],
            &["      State: DISABLED"],
            &["      State: ENABLED"],
        ),
        (
            "build-default-key",
            &[(
                "      EncryptionKey: !GetAtt ArtifactKey.Arn\n",
                "      EncryptionKey: alias/aws/s3\n",
            )],
            &["CB004"],
            &["      EncryptionKey: alias/aws/s3"],
            &["      EncryptionKey: !GetAtt ArtifactKey.Arn"],
        ),
        (
            "build-privileged",
            &[("PrivilegedMode: false", "PrivilegedMode: true")],
            &["CB003"],
            &["        PrivilegedMode: true"],
            &["        PrivilegedMode: false"],
        ),
        (
            "instance-role-cannot-read",
            &[(
                "              - Effect: Allow\n                Action: ['s3:GetObject', 's3:GetObjectVersion']\n                Resource: !Sub '${ArtifactBucket.Arn}/${Prefix}-pipeline/*'\n",
                "",
            )],
            &["CD007"],
            &[],
            &[
                "              - Sid: PipeauditArtifactsRead",
                "                Effect: Allow",
                "                Action: ['s3:GetObject', 's3:GetObjectVersion']",
                "                Resource: !Sub '${ArtifactBucket.Arn}/${Pipeline}/*'",
            ],
        ),
        (
            "instance-role-no-policies",
            &[(
                "      Policies:\n        - PolicyName: !Sub '${Prefix}-instance-role-policy'\n          PolicyDocument:\n            Version: '2012-10-17'\n            Statement:\n              - Effect: Allow\n                Action: ['s3:GetObject', 's3:GetObjectVersion']\n                Resource: !Sub '${ArtifactBucket.Arn}/${Prefix}-pipeline/*'\n              - Effect: Allow\n                Action: 'kms:Decrypt'\n                Resource: !GetAtt ArtifactKey.Arn\n",
                "",
            )],
            &["CD007"],
            &[],
            &[
                "      Policies:",
                "        - PolicyName: pipeaudit-artifacts",
                "          PolicyDocument:",
                "            Version: '2012-10-17'",
                "            Statement:",
                "              - Sid: PipeauditArtifactsRead",
                "                Effect: Allow",
                "                Action: ['s3:GetObject', 's3:GetObjectVersion']",
                "                Resource: !Sub '${ArtifactBucket.Arn}/${Pipeline}/*'",
                "              - Sid: PipeauditArtifactsDecrypt",
                "                Effect: Allow",
                "                Action: 'kms:Decrypt'",
                "                Resource: !GetAtt ArtifactKey.Arn",
            ],
        ),
        (
            "no-trigger-rule",
            &[(TRIGGER_RULE, "")],
            &["TR001"],
            &[],
            TRIGGER_CREATED,
        ),
        (
            "trigger-other-branch",
            &[("referenceName: [!Ref Branch]", "referenceName: [release]")],
            &["TR003"],
            &[],
            TRIGGER_CREATED,
        ),
        (
            "trigger-without-role",
            &[("          RoleArn: !GetAtt EventsRole.Arn\n", "")],
            &["TR004"],
            &[],
            &[
                "          RoleArn: !GetAtt PipelineTriggerRole.Arn",
                "  PipelineTriggerRole:",
                "    Type: AWS::IAM::Role",
                "    Properties:",
                "      Description: 'Lets EventBridge start one pipeline'",
                "      AssumeRolePolicyDocument:",
                "        Version: '2012-10-17'",
                "        Statement:",
                "          - Effect: Allow",
                "            Principal:",
                "              Service: events.amazonaws.com",
                "            Action: 'sts:AssumeRole'",
                "            Condition:",
                "              StringEquals:",
                "                'aws:SourceAccount': !Ref AWS::AccountId",
                "      Policies:",
                "        - PolicyName: start-pipeline",
                "          PolicyDocument:",
                "            Version: '2012-10-17'",
                "            Statement:",
                "              - Effect: Allow",
                "                Action: 'codepipeline:StartPipelineExecution'",
                "                Resource: !Sub 'arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}'",
            ],
        ),
    ];
    for (name, edits, rules, removed, added) in cases {
        let file = format!("{name}.yaml");
        let p = patch_and_apply(&file, &variant(edits), rules);
        assert!(
            p.diff.starts_with(&format!(
                "diff --git a/{file} b/{file}\n--- a/{file}\n+++ b/{file}\n"
            )),
            "{name}: {}",
            p.diff
        );
        let (r, a) = changed_lines(&p.diff);
        assert_eq!(r, *removed, "{name}: removed lines\n{}", p.diff);
        assert_eq!(a, *added, "{name}: added lines\n{}", p.diff);
        let (gone, new) = same_outside_changed_lines(name, &p);
        assert_eq!(gone, removed.len(), "{name}");
        assert_eq!(new, added.len(), "{name}");
        assert!(
            p.stderr.contains(&format!("  {}  ", rules[0]))
                && p.stderr.contains("closes 1 finding(s)"),
            "{name}: {}",
            p.stderr
        );
    }
}

/// The reference template as JSON (4-space indentation), changed by
/// `change` first.
fn reference_json(change: impl FnOnce(&mut serde_json::Value)) -> String {
    use serde::Serialize;
    let (mut doc, _) = pipeaudit::iac::template::parse(&reference())
        .unwrap_or_else(|| panic!("the reference does not parse"));
    change(&mut doc);
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    doc.serialize(&mut ser).unwrap_or_else(|e| panic!("{e}"));
    format!("{}\n", String::from_utf8_lossy(&buf))
}

#[test]
fn a_json_template_is_patched_in_its_own_layout() {
    // the reference as JSON, with three defects
    let mut text = reference_json(|_| {});
    for (from, to) in [
        (
            "\"EnableKeyRotation\": true",
            "\"EnableKeyRotation\": false",
        ),
        ("\"Status\": \"Enabled\"", "\"Status\": \"Suspended\""),
        (
            "\"HttpTokens\": \"required\"",
            "\"HttpTokens\": \"optional\"",
        ),
    ] {
        assert_eq!(text.matches(from).count(), 1, "{from}");
        text = text.replacen(from, to, 1);
    }
    let p = patch_and_apply("ref.json", &text, &["AB008", "CD009", "KM003"]);
    let (removed, added) = changed_lines(&p.diff);
    assert_eq!(
        removed.iter().map(|l| l.trim()).collect::<BTreeSet<_>>(),
        [
            "\"EnableKeyRotation\": false,",
            "\"Status\": \"Suspended\"",
            "\"HttpTokens\": \"optional\","
        ]
        .into_iter()
        .collect(),
        "{}",
        p.diff
    );
    assert_eq!(added.len(), 3, "{}", p.diff);
    assert!(
        added
            .iter()
            .any(|l| l == "                \"EnableKeyRotation\": true,"),
        "{}",
        p.diff
    );
    assert!(p.stderr.contains("closes 3 finding(s)"), "{}", p.stderr);
}

#[test]
fn json_templates_get_new_resources_and_statements_in_their_layout() {
    // no trigger rule, the instance role without its read of the
    // artifacts, the build project privileged and on another key
    let text = reference_json(|doc| {
        let rs = &mut doc["Resources"];
        if let Some(m) = rs.as_object_mut() {
            m.remove("TriggerRule");
        }
        let props = &mut rs["BuildProject"]["Properties"];
        props["Environment"]["PrivilegedMode"] = serde_json::json!(true);
        if let Some(m) = props.as_object_mut() {
            m.remove("EncryptionKey");
        }
        if let Some(st) =
            rs["InstanceRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
                .as_array_mut()
        {
            st.remove(0);
        }
    });
    let p = patch_and_apply("ref.json", &text, &["CB003", "CB004", "CD007", "TR001"]);
    assert!(p.stderr.contains("closes 4 finding(s)"), "{}", p.stderr);
    let (removed, added) = changed_lines(&p.diff);
    // values replaced or added on their lines, objects closed with a
    // comma where a member now follows
    assert_eq!(
        removed.iter().map(|l| l.trim()).collect::<BTreeSet<_>>(),
        ["\"PrivilegedMode\": true,", "}"].into_iter().collect(),
        "{}",
        p.diff
    );
    same_outside_changed_lines("ref.json", &p);
    let added = added.join("\n");
    for want in [
        "                \"PrivilegedMode\": false,",
        "            \"EncryptionKey\": {\"Fn::GetAtt\": [\"ArtifactKey\", \"Arn\"]}",
        "                            \"Resource\": {\"Fn::Sub\": \"${ArtifactBucket.Arn}/${Pipeline}/*\"}",
        "        \"PipelineTrigger\": {",
        "                \"Targets\": [",
        "                        \"RoleArn\": {\"Fn::GetAtt\": [\"PipelineTriggerRole\", \"Arn\"]}",
        "        \"PipelineTriggerRole\": {",
        "                            \"Resource\": {\"Fn::Sub\": \"arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${Pipeline}\"}",
    ] {
        assert!(added.contains(want), "{want}\n{}", p.diff);
    }
    // the new resources parse as JSON in the patched text
    let patched: serde_json::Value =
        serde_json::from_str(&p.patched).unwrap_or_else(|e| panic!("{e}\n{}", p.patched));
    assert_eq!(
        patched["Resources"]["PipelineTrigger"]["Properties"]["EventPattern"]["resources"],
        serde_json::json!([{"Fn::GetAtt": ["Repository", "Arn"]}])
    );
}

#[test]
fn new_logical_ids_do_not_clash_with_the_templates() {
    // a parameter already named PipelineTrigger: the rule takes the next id
    let text = variant(&[
        (TRIGGER_RULE, ""),
        (
            "Parameters:\n",
            "Parameters:\n  PipelineTrigger:\n    Type: String\n    Default: unused\n",
        ),
    ]);
    let p = patch_and_apply("ids.yaml", &text, &["TR001"]);
    let (_, added) = changed_lines(&p.diff);
    assert_eq!(added[0], "  PipelineTrigger2:", "{}", p.diff);
    assert!(
        added.contains(&"  PipelineTriggerRole:".to_string()),
        "{}",
        p.diff
    );
}

#[test]
fn a_new_trigger_rule_matches_the_configured_release_branch() {
    // the rule matches commits to main; the release branch is `release`
    // (the pipeline releasing from main, SC002, is for a person to settle)
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    assert!(crate::support::git(dir, &["init", "-q"]).status.success());
    std::fs::write(dir.join("t.yaml"), reference()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("c.toml"), "release_branch = \"release\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let args = [
        "--template",
        "t.yaml",
        "--config",
        "c.toml",
        "--format",
        "json",
    ];
    let o = run_in(dir, &args);
    let ids = |o: &Output| crate::support::rule_ids(&crate::support::stdout_json(o));
    assert_eq!(
        ids(&o),
        ["SC002".to_string(), "TR003".to_string()]
            .into_iter()
            .collect()
    );
    let o = run_in(dir, &[&args[..], &["--fix-patch", "fix.diff"]].concat());
    assert_eq!(o.status.code(), Some(1));
    let diff = std::fs::read_to_string(dir.join("fix.diff")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        diff.contains("+          referenceName: [release]\n")
            && diff.contains("+  PipelineTrigger:\n"),
        "{diff}"
    );
    assert!(
        crate::support::git(dir, &["apply", "fix.diff"])
            .status
            .success()
    );
    let o = run_in(dir, &args);
    assert_eq!(
        ids(&o),
        ["SC002".to_string()].into_iter().collect(),
        "{diff}"
    );
}

#[test]
fn an_instance_policy_built_with_join_is_a_manual_step() {
    let text = variant(&[(
        "          PolicyDocument:\n            Version: '2012-10-17'\n            Statement:\n              - Effect: Allow\n                Action: ['s3:GetObject', 's3:GetObjectVersion']\n                Resource: !Sub '${ArtifactBucket.Arn}/${Prefix}-pipeline/*'\n              - Effect: Allow\n                Action: 'kms:Decrypt'\n                Resource: !GetAtt ArtifactKey.Arn\n",
        "          PolicyDocument: !Join\n            - ''\n            - - '{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"kms:Decrypt\", \"Resource\": \"'\n              - !GetAtt ArtifactKey.Arn\n              - '\"}]}'\n",
    )]);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    std::fs::write(dir.join("t.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        audit(dir, "t.yaml"),
        (1, ["CD007".to_string()].into_iter().collect())
    );
    let o = run_in(dir, &["--template", "t.yaml", "--fix-patch", "fix.diff"]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("no change could be verified")
            && stderr
                .contains("the inline policy documents of InstanceRole are built with Fn::Join"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("fix.diff"))
            .ok()
            .as_deref(),
        Some("")
    );
}

#[test]
fn artifacts_under_a_cut_pipeline_name_are_a_manual_step() {
    // CodePipeline keeps the artifacts under the first 20 characters of
    // the name, which `${Pipeline}` does not give for a longer one
    let text = variant(&[(
        "      Name: !Sub '${Prefix}-pipeline'\n",
        "      Name: !Sub '${Prefix}-pipeline-with-a-long-name'\n",
    )]);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    std::fs::write(dir.join("t.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        audit(dir, "t.yaml"),
        (1, ["CD007".to_string()].into_iter().collect())
    );
    let o = run_in(dir, &["--template", "t.yaml", "--fix-patch", "fix.diff"]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("CD007  arn:aws:iam::123456789012:role/ref-instance-role: the artifacts of pipeline ref-pipeline-with-a-long-name lie under the first 20 characters of its name"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("fix.diff"))
            .ok()
            .as_deref(),
        Some("")
    );
}

#[test]
fn a_build_key_from_another_template_is_a_manual_step() {
    // the pipeline's key is an ARN the template does not define: the
    // project cannot be pointed at it by `!GetAtt`
    const KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/0b5d6e2a-1111-2222-3333-444455556666";
    let text = variant(&[(
        "        EncryptionKey:\n          Id: !GetAtt ArtifactKey.Arn\n",
        &format!("        EncryptionKey:\n          Id: {KEY}\n"),
    )]);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    std::fs::write(dir.join("t.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let o = run_in(
        dir,
        &[
            "--template",
            "t.yaml",
            "--allow-partial",
            "--fix-patch",
            "fix.diff",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(&format!(
            "CB004  arn:aws:codebuild:us-east-1:123456789012:project/ref-build: the artifact key {KEY} is not defined in the same template"
        )),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("fix.diff"))
            .ok()
            .as_deref(),
        Some("")
    );
}

#[test]
fn a_policy_built_with_join_is_a_manual_step_and_not_patched() {
    let text = reference();
    let start = text
        .find("      PolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n          - Sid: DenyUnEncryptedObjectUploads")
        .unwrap_or_else(|| panic!("no bucket policy document"));
    let end = text
        .find("  Repository:\n")
        .unwrap_or_else(|| panic!("no Repository"));
    let joined = format!(
        "{}{}{}",
        &text[..start],
        "      PolicyDocument: !Join\n        - ''\n        - - '{\"Version\": \"2012-10-17\", \"Statement\": [{\"Sid\": \"DenyUnEncryptedObjectUploads\", \"Effect\": \"Deny\", \"Principal\": \"*\", \"Action\": \"s3:PutObject\", \"Resource\": \"'\n          - !GetAtt ArtifactBucket.Arn\n          - '/*\", \"Condition\": {\"StringNotEquals\": {\"s3:x-amz-server-side-encryption\": \"aws:kms\"}}}]}'\n",
        &text[end..]
    );
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    std::fs::write(dir.join("join.yaml"), &joined).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        audit(dir, "join.yaml"),
        (1, ["AB005".to_string()].into_iter().collect())
    );
    let o = run_in(
        dir,
        &[
            "--template",
            "join.yaml",
            "--fix-patch",
            "fix.diff",
            "--format",
            "json",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.join("fix.diff"))
            .ok()
            .as_deref(),
        Some("")
    );
    assert!(
        stderr.contains("no change could be verified")
            && stderr.contains("AB005  arn:aws:s3:::ref-artifacts: the policy document of ArtifactBucketPolicy is built with Fn::Join"),
        "{stderr}"
    );
}

#[test]
fn polling_stays_on_without_a_rule_that_starts_the_pipeline() {
    // polling on, and the trigger rule disabled: turning polling off would
    // leave nothing that starts the pipeline, so it is left to a person
    let text = variant(&[
        ("PollForSourceChanges: false", "PollForSourceChanges: true"),
        ("      State: ENABLED\n", "      State: DISABLED\n"),
    ]);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    std::fs::write(dir.join("t.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let o = run_in(dir, &["--template", "t.yaml", "--fix-patch", "fix.diff"]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("PL004  arn:aws:codepipeline:us-east-1:123456789012:ref-pipeline: no enabled rule in the templates starts the pipeline"),
        "{stderr}"
    );
    assert!(
        !std::fs::read_to_string(dir.join("fix.diff"))
            .unwrap_or_default()
            .contains("PollForSourceChanges"),
    );
}

#[test]
fn fix_patch_needs_templates_and_a_writable_file() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    let o = run_in(dir, &["--fix-patch", "fix.diff"]);
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("--template"), "{stderr}");
    std::fs::write(
        dir.join("t.yaml"),
        variant(&[("EnableKeyRotation: true", "EnableKeyRotation: false")]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let o = run_in(
        dir,
        &[
            "--template",
            "t.yaml",
            "--fix-patch",
            "no/such/dir/fix.diff",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("cannot write no/such/dir/fix.diff"),
        "{stderr}"
    );
}

/// `text` with the replacements of one SARIF `artifactChange` made
/// (byte ranges of the original, applied from the last).
fn replay(text: &str, change: &serde_json::Value) -> String {
    let mut out = text.as_bytes().to_vec();
    let reps = change["replacements"]
        .as_array()
        .unwrap_or_else(|| panic!("no replacements: {change}"));
    let mut ranges: Vec<(usize, usize, String)> = reps
        .iter()
        .map(|r| {
            let at = |k: &str| {
                r["deletedRegion"][k]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{k}: {r}")) as usize
            };
            let inserted = r["insertedContent"]["text"].as_str().unwrap_or("");
            (at("byteOffset"), at("byteLength"), inserted.to_string())
        })
        .collect();
    ranges.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (offset, length, inserted) in ranges {
        out.splice(offset..offset + length, inserted.into_bytes());
    }
    String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn sarif_fixes_carry_each_change_and_each_closes_its_finding_alone() {
    let text = variant(&[
        ("EnableKeyRotation: true", "EnableKeyRotation: false"),
        ("        Status: Enabled", "        Status: Suspended"),
        (
            "        BlockPublicAcls: true\n",
            "        BlockPublicAcls: false  # open\n",
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path();
    std::fs::write(dir.join("ref.yaml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let before = audit(dir, "ref.yaml").1;
    let o = run_in(
        dir,
        &[
            "--template",
            "ref.yaml",
            "--fix-patch",
            "fix.diff",
            "--format",
            "sarif",
            "-o",
            "out.sarif",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out.sarif")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    crate::support::sarif_schema::validate(&sarif);
    let mut fixed = BTreeSet::new();
    for run in sarif["runs"].as_array().into_iter().flatten() {
        for result in run["results"].as_array().into_iter().flatten() {
            let Some(fixes) = result["fixes"].as_array() else {
                continue;
            };
            let rule = result["ruleId"].as_str().unwrap_or_default().to_string();
            assert_eq!(fixes.len(), 1, "{result}");
            let changes = fixes[0]["artifactChanges"]
                .as_array()
                .unwrap_or_else(|| panic!("{result}"));
            assert_eq!(changes.len(), 1, "{result}");
            // the change is to the file the result points at
            assert_eq!(
                changes[0]["artifactLocation"]["uri"],
                result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                "{result}"
            );
            assert_eq!(changes[0]["artifactLocation"]["uri"], "ref.yaml");
            // made alone on the original, it closes this finding and raises none
            let alone = replay(&text, &changes[0]);
            assert_ne!(alone, text);
            let check = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(check.path().join("ref.yaml"), &alone).unwrap_or_else(|e| panic!("{e}"));
            let after = audit(check.path(), "ref.yaml").1;
            assert!(!after.contains(&rule), "{rule} stays:\n{alone}");
            assert!(after.is_subset(&before), "{after:?} not within {before:?}");
            assert_eq!(before.len() - after.len(), 1, "{rule}: {after:?}");
            fixed.insert(rule);
        }
    }
    assert_eq!(
        fixed,
        ["AB006", "AB008", "KM003"]
            .into_iter()
            .map(String::from)
            .collect(),
        "{sarif}"
    );
    // without --fix-patch there are no fixes
    let o = run_in(dir, &["--template", "ref.yaml", "--format", "sarif"]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("\"fixes\""));
}
