use super::*;

/// The maps of `Resources` that are no kind: the source credentials of
/// account-level checks, keyed by region, and the approval rule templates
/// of a repository, read after the principals.
const NOT_A_KIND: [&str; 2] = ["source_credentials", "approval_templates"];

#[test]
fn every_resource_map_has_one_registered_kind() {
    let kinds = all();
    let mut names: Vec<&str> = kinds.iter().map(|k| k.name).collect();
    names.sort();
    let count = names.len();
    names.dedup();
    assert_eq!(names.len(), count, "a kind is registered twice");
    // every map with one entry (some are left out of the JSON while empty)
    struct Fill(Resources);
    impl Visit for Fill {
        fn visit<F: Facts>(&mut self) {
            F::slot(&mut self.0).insert("arn:x".to_string(), Observed::Absent);
        }
    }
    let mut fill = Fill(Resources::default());
    for_each(&mut fill);
    fill.0
        .source_credentials
        .insert("us-east-1".to_string(), Observed::Absent);
    fill.0
        .approval_templates
        .insert("arn:x".to_string(), Observed::Absent);
    let mut fields: Vec<String> = match serde_json::to_value(fill.0) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        other => panic!("resources do not serialize as an object: {other:?}"),
    };
    fields.retain(|f| !NOT_A_KIND.contains(&f.as_str()));
    fields.sort();
    assert_eq!(names, fields);
}

#[test]
fn each_kind_lands_in_and_is_read_from_its_own_map() {
    struct Lands(Vec<&'static str>);
    impl Visit for Lands {
        fn visit<F: Facts>(&mut self) {
            let mut r = Resources::default();
            F::slot(&mut r).insert("arn:x".to_string(), Observed::Absent);
            let in_json = serde_json::to_value(&r)
                .ok()
                .and_then(|v| v.get(F::NAME).cloned())
                .and_then(|m| m.get("arn:x").cloned())
                .is_some();
            if !in_json || F::map(&r).len() != 1 {
                self.0.push(F::NAME);
            }
        }
    }
    let mut l = Lands(Vec::new());
    for_each(&mut l);
    assert_eq!(l.0, Vec::<&str>::new(), "kinds not in their own map");
}

#[test]
fn every_kind_read_by_reference_has_one_reader_in_its_phase() {
    let mut read: Vec<&str> = READERS.iter().flatten().map(|k| k.name()).collect();
    read.sort();
    let mut want: Vec<&str> = all()
        .iter()
        .filter(|k| k.phase != Phase::Listed)
        .map(|k| k.name)
        .collect();
    want.sort();
    assert_eq!(read, want);
    let by_phase: usize = Phase::READ.iter().map(|p| readers(*p).len()).sum();
    assert_eq!(by_phase, read.len(), "a reader outside the read phases");
    for p in Phase::READ {
        assert!(!readers(p).is_empty(), "{p:?} reads nothing");
    }
}

#[test]
fn every_kind_names_its_types_variables_and_permission() {
    let policy: serde_json::Value =
        serde_json::from_str(include_str!("../../../examples/iam-audit-policy.json"))
            .unwrap_or_default();
    let granted: Vec<&str> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| match &s["Action"] {
            serde_json::Value::String(a) => vec![a.as_str()],
            v => v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str())
                .collect(),
        })
        .collect();
    assert!(granted.len() > 30, "{granted:?}");
    let mut cfn = Vec::new();
    let mut tf = Vec::new();
    for k in all() {
        assert!(
            granted.contains(&k.action),
            "{}: {} is not in the audit policy",
            k.name,
            k.action
        );
        assert_eq!(crate::iac::cloudformation_type(k.name), k.cloudformation);
        assert_eq!(crate::iac::terraform::terraform_type(k.name), k.terraform);
        if let Some(t) = k.cloudformation {
            let parts: Vec<&str> = t.split("::").collect();
            assert!(parts.len() == 3 && parts[0] == "AWS", "{}: {t}", k.name);
            cfn.push(t);
        }
        if let Some(t) = k.terraform {
            assert!(t.starts_with("aws_"), "{}: {t}", k.name);
            assert_eq!(crate::iac::terraform::resource_kind(t), Some(k.name));
            tf.push(t);
        }
        for v in k.variables {
            assert!(crate::rules::VARIABLES.contains(v), "{}: {v}", k.name);
        }
    }
    for types in [&mut cfn, &mut tf] {
        let n = types.len();
        types.sort();
        types.dedup();
        assert_eq!(types.len(), n, "two kinds share a type");
    }
}

#[test]
fn errors_are_visited_on_every_kind() {
    // An unknown resource of each kind is one read error, named by its ARN.
    struct Unknown(Resources);
    impl Visit for Unknown {
        fn visit<F: Facts>(&mut self) {
            F::slot(&mut self.0).insert(
                format!("arn:{}", F::NAME),
                Observed::Unknown {
                    error: ReadError {
                        kind: ReadErrorKind::AccessDenied,
                        action: F::ACTION.to_string(),
                        code: None,
                        message: "denied".to_string(),
                    },
                },
            );
        }
    }
    let mut u = Unknown(Resources::default());
    for_each(&mut u);
    let mut seen = Vec::new();
    u.0.visit_errors(&mut |arn, e| seen.push((arn.to_string(), e.action.clone())));
    let want: Vec<(String, String)> = all()
        .iter()
        .map(|k| (format!("arn:{}", k.name), k.action.to_string()))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn region_is_read_from_arns() {
    assert_eq!(
        region_of("arn:aws:codebuild:eu-west-1:1:project/x", "us-east-1"),
        "eu-west-1"
    );
    assert_eq!(region_of("arn:aws:s3:::bucket", "us-east-1"), "us-east-1");
}
