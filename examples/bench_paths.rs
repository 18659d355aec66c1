//! Release-path benchmark: the bundled demo account replicated to N
//! pipelines, with P principals (users and roles) whose policies name the
//! resources of a few pipelines each (some with patterns over all of them,
//! some chained through roles), analysed offline; prints the time and the
//! number of paths.
//!
//! cargo run --release --example bench_paths -- 2000 1000
//!
//! With a third argument FILE, also writes the snapshot with its
//! principals to FILE and the same snapshot without principals (as taken
//! before release paths were read) to FILE.base.json, for measuring what
//! the analysis adds to a whole offline audit (`/usr/bin/time -v pipeaudit
//! --snapshot FILE`).

use std::collections::BTreeMap;
use std::time::Instant;

use pipeaudit::aws::release;
use pipeaudit::model::principals::{IamPrincipal, InlinePolicy, PrincipalKind, PrincipalSet};
use pipeaudit::model::{Observed, PolicyText};

#[path = "support/replicate.rs"]
mod replicate;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, d: usize| -> Result<usize, Box<dyn std::error::Error>> {
        Ok(std::env::args()
            .nth(i)
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(d))
    };
    let n = arg(1, 2000)?;
    let p = arg(2, 1000)?;
    let mut s = replicate::demo_snapshot(n)?;
    let account = s.account.clone();
    let pipelines = s.pipelines.clone();
    let mut principals = Vec::with_capacity(p);
    for k in 0..p {
        let w = &pipelines[(k * 7) % pipelines.len()];
        let w2 = &pipelines[(k * 13 + 1) % pipelines.len()];
        let repo = w
            .sources
            .first()
            .map(|x| x.repository_arn.clone())
            .unwrap_or_default();
        let project = w2
            .builds
            .first()
            .map(|x| x.project_arn.clone())
            .unwrap_or_default();
        let group = w
            .deploys
            .first()
            .map(|x| x.group_arn.clone())
            .unwrap_or_default();
        let (kind, name) = if k % 10 == 9 {
            (PrincipalKind::Role, format!("bench-role-{k}"))
        } else {
            (PrincipalKind::User, format!("bench-user-{k}"))
        };
        let doc = match k % 50 {
            // a pattern over every repository of the account
            0 => format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"codecommit:GitPush","Resource":"arn:aws:codecommit:*:{account}:*"}}]}}"#
            ),
            // assumes the next role
            1 => format!(
                r#"{{"Statement":[{{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::{account}:role/bench-role-{}"}}]}}"#,
                k + 8
            ),
            _ => format!(
                r#"{{"Statement":[
                  {{"Effect":"Allow","Action":["codecommit:GitPull","codecommit:GitPush"],"Resource":"{repo}"}},
                  {{"Effect":"Allow","Action":"codebuild:StartBuild","Resource":"{project}"}},
                  {{"Effect":"Allow","Action":["codedeploy:Get*","codedeploy:List*"],"Resource":"{group}"}},
                  {{"Effect":"Deny","Action":"codecommit:GitPush","Resource":"{repo}","Condition":{{"StringEqualsIfExists":{{"codecommit:References":["refs/heads/main"]}},"Null":{{"codecommit:References":"false"}}}}}}]}}"#
            ),
        };
        let trust = (kind == PrincipalKind::Role).then(|| {
            PolicyText::parse(&format!(
                r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"sts:AssumeRole"}}]}}"#
            ))
        });
        let arn = match kind {
            PrincipalKind::User => format!("arn:aws:iam::{account}:user/{name}"),
            PrincipalKind::Role => format!("arn:aws:iam::{account}:role/{name}"),
        };
        principals.push(IamPrincipal {
            arn,
            name,
            kind,
            inline: vec![InlinePolicy {
                name: "work".to_string(),
                group: None,
                document: PolicyText::parse(&doc),
            }],
            attached: Vec::new(),
            boundary: None,
            trust,
        });
    }
    principals.sort_by(|a, b| a.arn.cmp(&b.arn));
    s.principals = Some(Observed::ok(PrincipalSet {
        read: principals.len(),
        principals,
        policies: BTreeMap::new(),
    }));
    if let Some(out) = std::env::args().nth(3) {
        s.save(std::path::Path::new(&out))?;
        let mut base = s.clone();
        base.principals = None;
        base.save(std::path::Path::new(&format!("{out}.base.json")))?;
    }
    let t = Instant::now();
    let a = release::analyse(&s, &[]);
    let took = t.elapsed();
    let paths: usize = a.pipelines.iter().map(|x| x.paths.len()).sum();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for x in a.pipelines.iter().flat_map(|x| &x.paths) {
        *by_kind.entry(x.kind.id()).or_default() += 1;
    }
    println!(
        "pipelines={} principals={p} paths={paths} by_kind={by_kind:?} analyse_s={:.3}",
        a.pipelines.len(),
        took.as_secs_f64()
    );
    Ok(())
}
