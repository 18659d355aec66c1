//! The errors a user can cause, as the built binary prints them: one line
//! of what failed, at most one more of what to do, exit code 2, and never
//! the SDK's debug output. Nothing here reaches beyond loopback: without
//! credentials the SDK fails before sending, and the other live cases point
//! `--endpoint-url` at a loopback port nobody listens on. Expired tokens and
//! access denied on STS are answers only AWS gives (moto accepts any
//! credentials); they are tested on the classifier with aws-smithy-mocks in
//! `src/collect/errors.rs`.

use std::path::Path;
use std::process::{Command, Output};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

/// Debug output of SDK errors that must never reach the screen.
const DEBUG_WORDS: &[&str] = &[
    "DispatchFailure",
    "ProviderError",
    "ConnectorError",
    "Some(",
    "source:",
    "WARN",
];

/// The binary with an empty environment (PATH only), an empty HOME and the
/// instance metadata service off.
fn bare(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pipeaudit"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args([
            "--max-attempts",
            "1",
            "--connect-timeout",
            "1",
            "--read-timeout",
            "2",
        ]);
    c
}

fn run(mut c: Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("run pipeaudit: {e}"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A loopback port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("bind: {e}"))
}

/// Exit 2, nothing on stdout, at most `lines` lines on stderr, no debug output.
fn assert_readable(o: &Output, lines: usize) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        o.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let n = err.trim_end().lines().count();
    assert!((1..=lines).contains(&n), "{n} lines:\n{err}");
    for word in DEBUG_WORDS {
        assert!(!err.contains(word), "{word} in:\n{err}");
    }
    assert!(err.starts_with("pipeaudit: error: "), "{err}");
    err
}

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn no_credentials_says_where_it_looked_and_what_to_do() {
    let home = temp();
    let mut c = bare(home.path());
    c.args(["--region", "us-east-1"]);
    let start = std::time::Instant::now();
    let o = run(c);
    assert!(start.elapsed() < std::time::Duration::from_secs(20));
    let err = assert_readable(&o, 2);
    let mut lines = err.lines();
    let first = lines.next().unwrap_or_default();
    assert!(first.contains("no AWS credentials found"), "{err}");
    for source in [
        "AWS_ACCESS_KEY_ID",
        "profile `default`",
        "SSO",
        "web identity",
        "instance metadata",
    ] {
        assert!(first.contains(source), "{source} in {first}");
    }
    let hint = lines.next().unwrap_or_default();
    assert!(
        hint.contains("AWS_PROFILE") && hint.contains("aws sso login"),
        "{err}"
    );

    // the profile named on the command line is the one named in the message
    let mut c = bare(home.path());
    c.args(["snapshot", "--region", "us-east-1", "--profile", "audit"]);
    let o = run(c);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains("Some("), "{err}");
}

#[test]
fn verbose_adds_the_chain_of_causes() {
    let home = temp();
    let mut c = bare(home.path());
    c.args(["--region", "us-east-1", "-v"]);
    let o = run(c);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("sts:GetCallerIdentity failed: "), "{err}");
    assert!(err.contains("no credentials found in chain"), "{err}");
    assert!(err.contains("no AWS credentials found"), "{err}");
}

#[test]
fn a_refused_connection_says_the_endpoint_could_not_be_reached() {
    let home = temp();
    let port = closed_port();
    let endpoint = format!("http://127.0.0.1:{port}");
    for command in [
        &["--region", "us-east-1"][..],
        &["snapshot", "--region", "us-east-1"],
    ] {
        let mut c = bare(home.path());
        c.args(command)
            .args(["--endpoint-url", &endpoint])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        let err = assert_readable(&run(c), 2);
        assert!(
            err.contains(&format!(
                "cannot identify the AWS account (sts:GetCallerIdentity): could not reach the endpoint {endpoint}: connection refused"
            )),
            "{err}"
        );
        assert!(err.contains("--endpoint-url"), "{err}");
    }
}

#[test]
fn an_invalid_region_name_is_refused_before_any_call() {
    let home = temp();
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    for region in ["us_east_1", "US-EAST-1", "us east 1"] {
        let mut c = bare(home.path());
        c.args(["--region", region, "--endpoint-url", &endpoint])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        let err = assert_readable(&run(c), 1);
        assert!(
            err.contains(&format!("{region:?} is not an AWS region name")),
            "{err}"
        );
    }
}

#[test]
fn a_malformed_snapshot_names_the_file_and_position() {
    let dir = temp();
    let cases = [
        (
            "bad.json",
            "{\n  \"schema_version\": 1,\n  oops\n}\n",
            ":3:3 is not valid: key must be a string",
        ),
        (
            "shape.json",
            "{\"schema_version\": 1, \"account\": 7}",
            ":1:",
        ),
        (
            "list.json",
            "[1, 2]",
            "missing or non-numeric `schema_version`",
        ),
        (
            "empty.json",
            "",
            ":1:0 is not valid: EOF while parsing a value",
        ),
    ];
    for (name, text, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let mut c = bare(dir.path());
        c.args(["--snapshot", &path.to_string_lossy()]);
        let err = assert_readable(&run(c), 1);
        assert!(
            err.contains(&format!("snapshot {}", path.display())),
            "{err}"
        );
        assert!(err.contains(needle), "{needle} in {err}");
    }
}

#[test]
fn a_bad_config_file_names_the_file_and_what_is_wrong() {
    let dir = temp();
    let cases = [
        ("syntax.toml", "disabled = [\"AB001\"\n", "syntax.toml:"),
        ("type.toml", "\ndisabled = \"AB001\"\n", "type.toml:2: "),
        (
            "rule.toml",
            "disabled = [\"XX999\"]\n",
            "unknown rule id \"XX999\"",
        ),
        (
            "ignore.toml",
            "[[ignore]]\nrule = \"AB001\"\nresource = \"*\"\nreason = \"\"\n",
            "reason must not be empty",
        ),
    ];
    for (name, text, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let mut c = bare(dir.path());
        c.args(["--snapshot", DEMO, "--config", &path.to_string_lossy()]);
        let err = assert_readable(&run(c), 1);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(needle), "{needle} in {err}");
    }
    let missing = dir.path().join("missing.toml");
    let mut c = bare(dir.path());
    c.args(["--snapshot", DEMO, "--config", &missing.to_string_lossy()]);
    let err = assert_readable(&run(c), 1);
    assert!(err.contains("missing.toml: cannot read"), "{err}");
}

/// The bad-input corpus (`tests/fixtures/bad-input/`): each file is given
/// where it goes (`*.toml` as --config, `accounts-*.txt` as --accounts,
/// `snapshot-*.json` as --snapshot) and must give exit 2 and one line on
/// stderr naming the file and holding each line of its `.expected`.
#[test]
fn the_bad_input_corpus_is_refused_with_one_line() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bad-input"
    ));
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e != "expected"))
        .collect();
    entries.sort();
    assert!(entries.len() >= 6, "{entries:?}");
    for path in entries {
        let file = path.to_string_lossy().into_owned();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let args: Vec<&str> = if name.ends_with(".toml") {
            vec!["--snapshot", DEMO, "--config", &file]
        } else if name.starts_with("accounts-") {
            vec![
                "--accounts",
                &file,
                "--role-name",
                "audit",
                "--region",
                "us-east-1",
            ]
        } else if name.starts_with("snapshot-") {
            vec!["--snapshot", &file]
        } else {
            panic!("{name}: no rule for this fixture");
        };
        let o = Command::new(env!("CARGO_BIN_EXE_pipeaudit"))
            .args(&args)
            .env("NO_COLOR", "1")
            .env_remove("AWS_ENDPOINT_URL")
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(&file), "{name}: names the file: {stderr}");
        let expected = std::fs::read_to_string(path.with_extension("expected"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for want in expected.lines().filter(|l| !l.is_empty()) {
            assert!(stderr.contains(want), "{name}: want {want:?} in {stderr}");
        }
        for word in DEBUG_WORDS {
            assert!(!stderr.contains(word), "{name}: {word} in {stderr}");
        }
    }
}
