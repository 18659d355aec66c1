use super::*;
use crate::patch::path;
use serde_json::json;

const T: &str = "\
Resources:
  # the bucket
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: 'b'   # kept
      VersioningConfiguration:
        Status: Suspended  # was off
      Tags:
        - Key: a
          Value: b

  Group:
    Type: AWS::CodeDeploy::DeploymentGroup
    Properties:
      AutoRollbackConfiguration: {Enabled: false}
      DeploymentConfigName: 'CodeDeployDefault.AllAtOnce'
Outputs: {}
";

fn set(id: &str, keys: &[&str], v: Value) -> Result<String, Refused> {
    apply(T, &Edit::set(id, path(keys), v))
}

#[test]
fn a_scalar_is_replaced_on_its_line_with_its_quotes_and_comment() {
    let out = set(
        "Bucket",
        &["Properties", "VersioningConfiguration"],
        json!({"Status": "Enabled"}),
    );
    assert_eq!(
        out,
        Ok(T.replace("Status: Suspended  #", "Status: Enabled  #"))
    );
    let out = set(
        "Group",
        &["Properties", "DeploymentConfigName"],
        json!("CodeDeployDefault.OneAtATime"),
    );
    assert_eq!(out, Ok(T.replace("AllAtOnce", "OneAtATime")));
}

#[test]
fn missing_keys_are_inserted_at_the_end_of_their_mapping() {
    let out = set(
        "Bucket",
        &["Properties", "PublicAccessBlockConfiguration"],
        json!({"BlockPublicAcls": true, "IgnorePublicAcls": true}),
    );
    assert_eq!(
            out,
            Ok(T.replace(
                "          Value: b\n",
                "          Value: b\n      PublicAccessBlockConfiguration:\n        BlockPublicAcls: true\n        IgnorePublicAcls: true\n"
            ))
        );
    let out = set(
        "Bucket",
        &["Properties", "BucketEncryption"],
        json!({"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]}}, "BucketKeyEnabled": true}]}),
    );
    assert_eq!(
            out,
            Ok(T.replace(
                "          Value: b\n",
                "          Value: b\n      BucketEncryption:\n        ServerSideEncryptionConfiguration:\n          - ServerSideEncryptionByDefault:\n              SSEAlgorithm: 'aws:kms'\n              KMSMasterKeyID: !GetAtt Key.Arn\n            BucketKeyEnabled: true\n"
            ))
        );
}

#[test]
fn flow_style_on_the_way_is_refused_and_a_flow_value_replaced_whole() {
    assert!(
        set(
            "Group",
            &["Properties", "AutoRollbackConfiguration", "Enabled"],
            json!(true)
        )
        .is_err()
    );
    let out = set(
        "Group",
        &["Properties", "AutoRollbackConfiguration"],
        json!({"Enabled": true}),
    );
    assert_eq!(
        out,
        Ok(T.replace(
            "AutoRollbackConfiguration: {Enabled: false}\n",
            "AutoRollbackConfiguration:\n        Enabled: true\n"
        ))
    );
    assert!(set("Nope", &["Properties", "X"], json!(1)).is_err());
}

#[test]
fn a_new_resource_is_the_last_entry_of_resources() {
    let e = Edit::create(
        "Rule",
        json!({"Type": "AWS::Events::Rule", "Properties": {
            "State": "ENABLED",
            "EventPattern": {"source": ["aws.codecommit"], "resources": [{"Fn::GetAtt": ["Repo", "Arn"]}]},
            "Targets": [{"Id": "codepipeline", "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}]
        }}),
    );
    assert_eq!(
            apply(T, &e),
            Ok(T.replace(
                "      DeploymentConfigName: 'CodeDeployDefault.AllAtOnce'\n",
                "      DeploymentConfigName: 'CodeDeployDefault.AllAtOnce'\n  Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      State: ENABLED\n      EventPattern:\n        source: [aws.codecommit]\n        resources: [!GetAtt Repo.Arn]\n      Targets:\n        - Id: codepipeline\n          RoleArn: !GetAtt Role.Arn\n"
            ))
        );
    // a logical id already taken is not created again
    assert!(
        apply(
            T,
            &Edit::create("Bucket", json!({"Type": "AWS::S3::Bucket"}))
        )
        .is_err()
    );
    // four-space indentation, CRLF, and Resources last in the file
    let text = "Resources:\r\n    A:\r\n        Type: AWS::S3::Bucket\r\n";
    assert_eq!(
        apply(text, &Edit::create("B", json!({"Type": "AWS::SNS::Topic"}))),
        Ok(format!("{text}    B:\r\n        Type: AWS::SNS::Topic\r\n"))
    );
}

#[test]
fn list_items_are_reached_by_position_and_crlf_is_kept() {
    let text = "Resources:\r\n  P:\r\n    Properties:\r\n      Stages:\r\n      - Name: S\r\n        Actions:\r\n          - Name: A\r\n            Configuration:\r\n              RepositoryName: r\r\n";
    let e = Edit::set(
        "P",
        vec![
            Seg::Key("Properties".into()),
            Seg::Key("Stages".into()),
            Seg::Index(0),
            Seg::Key("Actions".into()),
            Seg::Index(0),
            Seg::Key("Configuration".into()),
            Seg::Key("PollForSourceChanges".into()),
        ],
        json!(false),
    );
    assert_eq!(
        apply(text, &e),
        Ok(format!(
            "{text}              PollForSourceChanges: false\r\n"
        ))
    );
}
