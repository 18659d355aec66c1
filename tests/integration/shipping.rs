//! What ships around the audit: `--version` with the commit, shell
//! completions, the manual page, the rule links of the reports
//! (`--docs-url`, else the repository, else none), and the GitHub Action's
//! audit step run on the bundled demo.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use pipeaudit::report::{self, Report};
use pipeaudit::rules::RuleSet;

use crate::support;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo-account.json");

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tool(program: &str) -> Option<String> {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| stdout(&o).trim().to_string())
}

// ---------------------------------------------------------------- --version

#[test]
fn version_names_the_release_and_the_commit_it_was_built_from() {
    let o = support::offline(&["--version"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = stdout(&o);
    let line = line.trim_end();
    let prefix = format!("pipeaudit {} (commit ", env!("CARGO_PKG_VERSION"));
    let commit = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line:?}"));
    // The build names the commit git gives for the checkout; a build
    // without git (and without a packaged crate's record) says "unknown".
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| stdout(&o).trim().to_string());
    match head {
        Some(head) => assert_eq!(commit, head),
        None => assert_eq!(commit, "unknown"),
    }
}

// ------------------------------------------------------------- completions

#[test]
fn completions_are_printed_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _pipeaudit"),
        ("zsh", "#compdef pipeaudit"),
        ("fish", "complete -c pipeaudit"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let o = support::offline(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains(marker), "{shell}: no {marker:?}");
        // (fish names long options without their dashes)
        for word in ["compliance", "docs-url", "snapshot", "completions"] {
            assert!(text.contains(word), "{shell}: no {word}");
        }
    }
}

/// The bash script is loaded into bash and asked what completes
/// `pipeaudit comp`, as the shell asks it at a Tab.
#[test]
fn bash_completion_completes_subcommands_and_values() {
    let Some(bash) = tool("bash") else {
        panic!("bash is needed for this test");
    };
    let o = support::offline(&["completions", "bash"]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = dir.path().join("pipeaudit.bash");
    std::fs::write(&script, o.stdout).unwrap_or_else(|e| panic!("{e}"));
    let ask = |words: &[&str]| -> Vec<String> {
        let line = words.join(" ");
        let program = format!(
            "source {script}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{line}'; COMP_POINT={point}; \
             _pipeaudit pipeaudit '{last}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script = script.display(),
            words = words.join(" "),
            cword = words.len() - 1,
            point = line.len(),
            last = words[words.len() - 1],
            prev = words[words.len() - 2],
        );
        let o = Command::new(&bash)
            .args(["-c", &program])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).lines().map(str::to_string).collect()
    };
    let got = ask(&["pipeaudit", "comp"]);
    assert!(got.contains(&"compliance".to_string()), "{got:?}");
    assert!(got.contains(&"completions".to_string()), "{got:?}");
    assert!(!got.contains(&"drift".to_string()), "{got:?}");
    let got = ask(&["pipeaudit", "completions", "p"]);
    assert_eq!(got, vec!["powershell".to_string()]);
    let got = ask(&["pipeaudit", "--format", "s"]);
    assert_eq!(got, vec!["sarif".to_string()]);
}

#[test]
fn completions_for_an_unknown_shell_is_a_usage_error() {
    let o = support::offline(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

// ---------------------------------------------------------------- man page

#[test]
fn man_prints_a_manual_page_that_man_renders() {
    let o = support::offline(&["man"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let roff = stdout(&o);
    assert!(roff.starts_with(".ie \\n(.g .ds Aq"), "{}", &roff[..80]);
    assert!(roff.contains(".TH pipeaudit 1"), "title line");
    assert!(roff.contains(env!("CARGO_PKG_VERSION")), "version");
    assert!(roff.contains(".SH SUBCOMMANDS"), "subcommands");
    assert!(
        roff.contains("pipeaudit\\-completions(1)"),
        "points at the command pages"
    );
    // Rendered, the options read as they are typed.
    let Some(groff) = tool("groff") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let page = dir.path().join("pipeaudit.1");
    std::fs::write(&page, &roff).unwrap_or_else(|e| panic!("{e}"));
    let o = Command::new(groff)
        .args(["-man", "-Tutf8", "-P", "-cbou"])
        .arg(&page)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o).replace(['\u{2010}', '\u{2212}'], "-");
    for word in ["--docs-url", "--fail-on", "--snapshot", "Audit AWS CI/CD"] {
        assert!(text.contains(word), "rendered page lacks {word}");
    }
}

#[test]
fn man_out_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("man1");
    let out_arg = out.display().to_string();
    let o = support::offline(&["man", "--out", &out_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    for page in [
        "pipeaudit.1",
        "pipeaudit-drift.1",
        "pipeaudit-completions.1",
        "pipeaudit-man.1",
        "pipeaudit-rules.1",
        "pipeaudit-rules-explain.1",
    ] {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH "), "{page}");
    }
}

#[test]
fn man_into_a_directory_that_cannot_be_made_is_one_line_exit_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap_or_else(|e| panic!("{e}"));
    let target = file.join("man1").display().to_string();
    let o = support::offline(&["man", "--out", &target]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("pipeaudit: error: cannot create "), "{err}");
}

// --------------------------------------------------------------- rule links

/// The link base a build of this manifest uses: the `repository` of
/// Cargo.toml, at this version's tag.
fn default_base() -> String {
    format!(
        "{}/blob/v{}/docs/rules",
        env!("CARGO_PKG_REPOSITORY"),
        env!("CARGO_PKG_VERSION")
    )
}

fn sarif_rules(o: &Output) -> Vec<serde_json::Value> {
    let doc: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(o)));
    doc["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|run| {
            run["tool"]["driver"]["rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn docs_url_sets_every_rule_link_of_sarif_html_and_markdown() {
    let base = "https://docs.example.com/pipeaudit/rules/";
    let o = support::offline(&["--snapshot", DEMO, "--format", "sarif", "--docs-url", base]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let rules = sarif_rules(&o);
    assert!(!rules.is_empty());
    for r in &rules {
        let id = r["id"].as_str().unwrap_or_default();
        assert_eq!(
            r["helpUri"].as_str(),
            Some(format!("https://docs.example.com/pipeaudit/rules/{id}.md").as_str())
        );
    }
    let o = support::offline(&["--snapshot", DEMO, "--format", "html", "--docs-url", base]);
    let html = stdout(&o);
    assert!(
        html.contains(
            "<a href=\"https://docs.example.com/pipeaudit/rules/AB007.md\">Rule page</a>"
        ),
        "html link"
    );
    let o = support::offline(&[
        "--snapshot",
        DEMO,
        "--format",
        "markdown",
        "--docs-url",
        base,
    ]);
    assert!(stdout(&o).contains("[AB007](https://docs.example.com/pipeaudit/rules/AB007.md)"));
}

#[test]
fn without_docs_url_the_links_point_at_the_rule_pages_of_the_repository() {
    assert!(
        env!("CARGO_PKG_REPOSITORY").starts_with("https://github.com/"),
        "Cargo.toml names the repository"
    );
    let base = default_base();
    let o = support::offline(&["--snapshot", DEMO, "--format", "sarif"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(
        doc["runs"][0]["tool"]["driver"]["informationUri"].as_str(),
        Some(env!("CARGO_PKG_REPOSITORY"))
    );
    for r in sarif_rules(&o) {
        let id = r["id"].as_str().unwrap_or_default();
        assert_eq!(
            r["helpUri"].as_str(),
            Some(format!("{base}/{id}.md").as_str())
        );
        // the page exists in the tree the tag is cut from
        let page = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/rules/{id}.md"));
        assert!(page.is_file(), "{}", page.display());
    }
    let o = support::offline(&["--snapshot", DEMO, "--format", "html"]);
    assert!(stdout(&o).contains(&format!("<a href=\"{base}/AB007.md\">Rule page</a>")));
}

#[test]
fn a_docs_url_that_is_not_a_plain_http_url_is_refused() {
    for bad in [
        "javascript:alert(1)",
        "ftp://example.com/rules",
        "docs/rules",
        "https://example.com/a b",
        "https://example.com/a\"onmouseover=x",
        "https://example.com/(x)",
        "https://",
    ] {
        let o = support::offline(&["--snapshot", DEMO, "--docs-url", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = stderr(&o);
        assert!(err.contains("--docs-url"), "{bad}: {err}");
        assert!(o.stdout.is_empty(), "{bad}");
    }
}

/// With neither --docs-url nor a repository in the manifest (a fork that
/// removed it), the reports carry no rule link: SARIF keeps the help text,
/// HTML the rules section.
#[test]
fn with_neither_docs_url_nor_repository_there_is_no_link() {
    assert_eq!(report::docs_base(None, ""), None);
    assert_eq!(report::docs_base(None, "  "), None);
    assert_eq!(
        report::docs_base(None, "https://github.com/o/r/").as_deref(),
        Some(
            format!(
                "https://github.com/o/r/blob/v{}/docs/rules",
                env!("CARGO_PKG_VERSION")
            )
            .as_str()
        )
    );
    assert_eq!(
        report::docs_base(Some("https://d.example/x/"), "").as_deref(),
        Some("https://d.example/x")
    );

    let snapshot = Arc::new(
        pipeaudit::model::Snapshot::load(Path::new(DEMO)).unwrap_or_else(|e| panic!("{e}")),
    );
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let eval = pipeaudit::rules::engine::evaluate(
        snapshot.clone(),
        &rules,
        &pipeaudit::rules::config::Config::default(),
    );
    let scopes = report::scopes(&snapshot.account, &snapshot.regions);
    let r = Report {
        scopes: &scopes,
        pipelines: eval.pipelines,
        findings: &eval.findings,
        diagnostics: &eval.diagnostics,
    };
    let files: Vec<&pipeaudit::rules::RuleFile> = rules.rules.iter().map(|r| &r.file).collect();

    let sarif = report::sarif::render(&r, &files, None).unwrap_or_else(|e| panic!("{e}"));
    let doc: serde_json::Value = serde_json::from_str(&sarif.text).unwrap_or_default();
    let described = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!described.is_empty());
    for d in &described {
        assert!(d.get("helpUri").is_none(), "{d}");
        assert!(
            d["help"]["markdown"]
                .as_str()
                .is_some_and(|m| m.contains("**Remediation.**"))
        );
    }

    let html = report::html::render(
        &r,
        &report::html::Context {
            taken_at: None,
            pipelines: Vec::new(),
            rules: &files,
            docs_url: None,
        },
    );
    assert!(html.contains("id=\"rule-AB007\""), "rules section");
    assert!(!html.contains("Rule page"));
    assert!(!html.contains("AB007.md"));

    let md = report::markdown::render(&r, None, &BTreeMap::new());
    assert!(
        md.contains("| AB007 `artifact-bucket-policy-public` |"),
        "{md}"
    );
    assert!(!md.contains(".md)"));
}

// ------------------------------------------------------- the Action's audit

/// Runs the Action's audit step (scripts/action-audit.sh) as the runner
/// would: the inputs in the environment, pipeaudit on the PATH; returns the
/// step outputs it wrote.
fn action_audit(inputs: &[(&str, &str)]) -> (BTreeMap<String, String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let outputs = dir.path().join("github_output");
    std::fs::write(&outputs, "").unwrap_or_else(|e| panic!("{e}"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_pipeaudit"))
        .parent()
        .unwrap_or_else(|| panic!("binary dir"))
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("bash");
    c.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/action-audit.sh"
    ))
    .env("PATH", path)
    .env("GITHUB_OUTPUT", &outputs)
    .env("OUT_DIR", dir.path().join("out"))
    .env("NO_COLOR", "1")
    .env_remove("AWS_ENDPOINT_URL");
    for (k, v) in inputs {
        c.env(k, v);
    }
    let o = c.output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "the step itself succeeds: {}",
        stderr(&o)
    );
    let text = std::fs::read_to_string(&outputs).unwrap_or_default();
    let map = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (map, dir)
}

fn demo_json() -> serde_json::Value {
    let o = support::offline(&["--snapshot", DEMO, "--format", "json"]);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn action_audit_outputs_the_report_and_the_counts_of_the_json_report() {
    assert!(tool("jq").is_some(), "jq is needed (the runners have it)");
    let expected = demo_json();
    let args = format!("--snapshot {DEMO}");
    let (out, _dir) = action_audit(&[("INPUT_ARGS", &args)]);
    assert_eq!(out["exit-code"], "1");
    assert_eq!(out["findings"], expected["summary"]["findings"].to_string());
    for s in ["critical", "high", "medium", "low", "info"] {
        let n = expected["summary"]["by_severity"][s].as_u64().unwrap_or(0);
        assert_eq!(out[s], n.to_string(), "{s}");
    }
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&out["report"]).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_default();
    assert_eq!(report["summary"], expected["summary"]);
    assert!(!out.contains_key("sarif"));
}

#[test]
fn action_audit_with_sarif_counts_the_sarif_results_alike() {
    let expected = demo_json();
    let args = format!("--snapshot {DEMO}");
    let (out, _dir) = action_audit(&[("INPUT_ARGS", &args), ("INPUT_SARIF", "true")]);
    assert_eq!(out["exit-code"], "1");
    assert!(out["report"].ends_with("pipeaudit.sarif"));
    assert_eq!(out["sarif"], out["report"]);
    assert_eq!(out["findings"], expected["summary"]["findings"].to_string());
    for s in ["critical", "high", "medium", "low", "info"] {
        let n = expected["summary"]["by_severity"][s].as_u64().unwrap_or(0);
        assert_eq!(out[s], n.to_string(), "{s}");
    }
}

#[test]
fn action_audit_passes_fail_on_and_exit_zero_and_reports_errors() {
    let args = format!("--snapshot {DEMO}");
    // the demo has findings of every level down to low; none is info
    let (out, _d) = action_audit(&[("INPUT_ARGS", &args), ("INPUT_FAIL_ON", "critical")]);
    assert_eq!(out["exit-code"], "1");
    let (out, _d) = action_audit(&[("INPUT_ARGS", &args), ("INPUT_EXIT_ZERO", "true")]);
    assert_eq!(out["exit-code"], "0");
    assert_eq!(
        out["findings"],
        demo_json()["summary"]["findings"].to_string()
    );
    // an error: exit 2, no report, no counts, no SARIF to upload
    let (out, _d) = action_audit(&[
        ("INPUT_ARGS", "--snapshot /nonexistent/snapshot.json"),
        ("INPUT_SARIF", "true"),
    ]);
    assert_eq!(out["exit-code"], "2");
    assert!(
        !out.contains_key("report") && !out.contains_key("sarif") && !out.contains_key("findings")
    );
    // arguments are words, not globs
    let (out, _d) = action_audit(&[("INPUT_ARGS", "--snapshot /nonexistent/*")]);
    assert_eq!(out["exit-code"], "2");
}

// ----------------------------------------------------- the Action's install

/// A sandbox for scripts/action-install.sh: a PATH of the few tools it uses
/// (no `gh`, so the SHA256SUMS path is taken), `curl` replaced by a script
/// that serves files of a local release directory and logs each URL, and
/// `cargo` by one that logs its arguments and installs a stand-in binary.
struct Install {
    dir: tempfile::TempDir,
}

impl Install {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let bin = dir.path().join("path");
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        for t in [
            "bash",
            "mkdir",
            "cut",
            "sha256sum",
            "awk",
            "tar",
            "gzip",
            "cat",
            "cp",
            "chmod",
        ] {
            let real = tool(t).unwrap_or_else(|| panic!("{t} is needed for this test"));
            std::os::unix::fs::symlink(real, bin.join(t)).unwrap_or_else(|e| panic!("{e}"));
        }
        let write_exec = |name: &str, body: &str| {
            let p = bin.join(name);
            std::fs::write(&p, body).unwrap_or_else(|e| panic!("{e}"));
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{e}"));
        };
        let bash = tool("bash").unwrap_or_default();
        // curl ... -o FILE URL: URL .../releases/download/TAG/NAME or
        // .../releases/latest/download/NAME, served from $FAKE_RELEASES.
        write_exec(
            "curl",
            &format!(
                "#!{bash}\nout=''; url=''\nwhile [ $# -gt 0 ]; do case \"$1\" in -o) out=\"$2\"; shift 2;; -*) shift;; *) url=\"$1\"; shift;; esac; done\n\
                 echo \"$url\" >> \"$FAKE_LOG/curl\"\n\
                 case \"$url\" in\n  */releases/latest/download/*) src=\"$FAKE_RELEASES/latest/${{url##*/}}\";;\n  */releases/download/*) rest=\"${{url#*/releases/download/}}\"; src=\"$FAKE_RELEASES/${{rest%%/*}}/${{url##*/}}\";;\n  *) exit 22;;\nesac\n\
                 [ -f \"$src\" ] || exit 22\ncp \"$src\" \"$out\"\n"
            ),
        );
        // cargo install --locked --path DIR --root ROOT
        write_exec(
            "cargo",
            &format!(
                "#!{bash}\necho \"$*\" >> \"$FAKE_LOG/cargo\"\nroot=''\nwhile [ $# -gt 0 ]; do case \"$1\" in --root) root=\"$2\"; shift 2;; *) shift;; esac; done\n\
                 mkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho built from source\\n' > \"$root/bin/pipeaudit\"\nchmod +x \"$root/bin/pipeaudit\"\n"
            ),
        );
        for d in ["releases", "log", "temp"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap_or_else(|e| panic!("{e}"));
        }
        Install { dir }
    }

    /// Publishes a release TAG holding the archive of `target` (a stand-in
    /// binary) and SHA256SUMS; `tamper` puts another archive's sum there.
    fn publish(&self, tag: &str, target: &str, tamper: bool) {
        let rel = self.dir.path().join("releases").join(tag);
        let stage = self.dir.path().join("stage");
        std::fs::create_dir_all(&rel).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(&stage).unwrap_or_else(|e| panic!("{e}"));
        let stand_in = stage.join("pipeaudit");
        std::fs::write(&stand_in, "#!/bin/sh\necho pipeaudit from the release\n")
            .unwrap_or_else(|e| panic!("{e}"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let archive = format!("pipeaudit-{target}.tar.gz");
        let o = Command::new("tar")
            .args(["-czf"])
            .arg(rel.join(&archive))
            .arg("-C")
            .arg(&stage)
            .args(["pipeaudit"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(o.status.success(), "{}", stderr(&o));
        let o = Command::new("sha256sum")
            .arg(&archive)
            .current_dir(&rel)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut sums = stdout(&o);
        if tamper {
            sums = format!("{}  {archive}\n", "0".repeat(64));
        }
        sums.push_str(&format!("{}  pipeaudit.cdx.json\n", "1".repeat(64)));
        std::fs::write(rel.join("SHA256SUMS"), sums).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Runs the install step; (exit code, stdout, step outputs).
    fn run(&self, env: &[(&str, &str)]) -> (Option<i32>, String, String) {
        let p = self.dir.path();
        let outputs = p.join("github_output");
        let mut c = Command::new(p.join("path/bash"));
        c.arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/action-install.sh"
        ))
        .env_clear()
        .env("PATH", p.join("path"))
        .env("RUNNER_TEMP", p.join("temp"))
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_PATH", p.join("github_path"))
        .env("FAKE_RELEASES", p.join("releases"))
        .env("FAKE_LOG", p.join("log"))
        .env("ACTION_REPOSITORY", "pipeaudit/pipeaudit")
        .env("ACTION_PATH", "/action/checkout")
        .env("RUNNER_OS_NAME", "Linux")
        .env("RUNNER_ARCH_NAME", "X64");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap_or_else(|e| panic!("{e}"));
        (
            o.status.code(),
            format!("{}{}", stdout(&o), stderr(&o)),
            std::fs::read_to_string(outputs).unwrap_or_default(),
        )
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("log").join(name)).unwrap_or_default()
    }

    fn installed(&self) -> std::path::PathBuf {
        self.dir.path().join("temp/pipeaudit-bin/bin/pipeaudit")
    }
}

#[test]
fn action_install_takes_the_release_binary_that_matches_its_checksum() {
    let t = Install::new();
    t.publish("v9.9.9", "x86_64-unknown-linux-musl", false);
    let (code, out, outputs) = t.run(&[("INPUT_VERSION", "v9.9.9")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("matches the release's SHA256SUMS"), "{out}");
    assert!(
        out.contains("pipeaudit from the release"),
        "the installed binary ran: {out}"
    );
    assert!(outputs.contains("from=release"), "{outputs}");
    assert!(t.installed().is_file());
    let path = std::fs::read_to_string(t.dir.path().join("github_path")).unwrap_or_default();
    assert_eq!(
        path.trim(),
        t.dir
            .path()
            .join("temp/pipeaudit-bin/bin")
            .display()
            .to_string()
    );
    assert_eq!(
        t.log("curl"),
        "https://github.com/pipeaudit/pipeaudit/releases/download/v9.9.9/pipeaudit-x86_64-unknown-linux-musl.tar.gz\n\
         https://github.com/pipeaudit/pipeaudit/releases/download/v9.9.9/SHA256SUMS\n"
    );
    assert_eq!(t.log("cargo"), "", "nothing built");
}

#[test]
fn action_install_refuses_a_binary_whose_checksum_differs() {
    let t = Install::new();
    t.publish("v9.9.9", "x86_64-unknown-linux-musl", true);
    let (code, out, outputs) = t.run(&[("INPUT_VERSION", "v9.9.9")]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("::error::pipeaudit-x86_64-unknown-linux-musl.tar.gz does not match the release's SHA256SUMS"),
        "{out}"
    );
    assert!(!t.installed().exists(), "nothing installed");
    assert_eq!(t.log("cargo"), "", "no fallback to building");
    assert!(!outputs.contains("from="));
}

#[test]
fn action_install_builds_from_source_without_a_release_binary() {
    // the release exists but has no archive for this platform
    let t = Install::new();
    t.publish("v9.9.9", "x86_64-apple-darwin", false);
    let (code, out, outputs) = t.run(&[("INPUT_VERSION", "v9.9.9")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "::warning::no pipeaudit-x86_64-unknown-linux-musl.tar.gz in the v9.9.9 release"
        ),
        "{out}"
    );
    assert!(out.contains("built from source"), "{out}");
    assert!(outputs.contains("from=source"), "{outputs}");
    let root = t
        .dir
        .path()
        .join("temp/pipeaudit-bin")
        .display()
        .to_string();
    assert_eq!(
        t.log("cargo"),
        format!("install --locked --path /action/checkout --root {root}\n")
    );
    // a platform no release has: built without asking for a download
    let t = Install::new();
    let (code, out, _) = t.run(&[("RUNNER_OS_NAME", "Linux"), ("RUNNER_ARCH_NAME", "X86")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("::warning::no release binary for Linux/X86"),
        "{out}"
    );
    assert_eq!(t.log("curl"), "");
    assert!(
        t.log("cargo")
            .starts_with("install --locked --path /action/checkout")
    );
}

#[test]
fn action_install_picks_the_release_from_the_input_then_the_action_ref() {
    let t = Install::new();
    t.publish("v1.2.3", "aarch64-apple-darwin", false);
    let (code, out, _) = t.run(&[
        ("ACTION_REF", "v1.2.3"),
        ("RUNNER_OS_NAME", "macOS"),
        ("RUNNER_ARCH_NAME", "ARM64"),
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(t.log("curl").starts_with(
        "https://github.com/pipeaudit/pipeaudit/releases/download/v1.2.3/pipeaudit-aarch64-apple-darwin.tar.gz\n"
    ));
    // used at a branch or a commit: the latest release
    let t = Install::new();
    t.publish("latest", "x86_64-unknown-linux-musl", false);
    let (code, out, _) = t.run(&[("ACTION_REF", "0123456789abcdef0123456789abcdef01234567")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(t.log("curl").starts_with(
        "https://github.com/pipeaudit/pipeaudit/releases/latest/download/pipeaudit-x86_64-unknown-linux-musl.tar.gz\n"
    ));
    // a version that is not a release tag
    let t = Install::new();
    let (code, out, _) = t.run(&[("INPUT_VERSION", "main; echo hi")]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("::error::version must be a release tag"),
        "{out}"
    );
    assert_eq!(t.log("curl"), "");
}
