//! Embeds every rule file under `rules/` (`.yaml` and `.yml`, as `--rules`
//! reads them) into the binary, and records the commit the binary is built
//! from for `--version`.

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

/// The commit the sources come from: `PIPEAUDIT_BUILD_COMMIT` when set (a
/// container build, which has no `.git`), else git's answer for the
/// checkout, else the `.cargo_vcs_info.json` that `cargo package` writes
/// into a published crate, else "unknown".
fn commit(root: &Path) -> String {
    println!("cargo:rerun-if-env-changed=PIPEAUDIT_BUILD_COMMIT");
    if let Ok(c) = std::env::var("PIPEAUDIT_BUILD_COMMIT") {
        let c = c.trim();
        if !c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric()) {
            return c.chars().take(40).collect();
        }
    }
    let git = |args: &[&str]| -> Option<String> {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (!s.is_empty()).then_some(s)
    };
    if let Some(hash) = git(&["rev-parse", "--short=12", "HEAD"]) {
        // Rebuild when HEAD moves: HEAD itself (a checkout) and the ref
        // it points at (a commit on the branch).
        for name in ["HEAD", "packed-refs"] {
            if let Some(p) = git(&["rev-parse", "--git-path", name]) {
                println!("cargo:rerun-if-changed={}", root.join(p).display());
            }
        }
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
            && let Some(p) = git(&["rev-parse", "--git-path", &r])
        {
            println!("cargo:rerun-if-changed={}", root.join(p).display());
        }
        return hash;
    }
    let vcs = root.join(".cargo_vcs_info.json");
    if let Ok(text) = std::fs::read_to_string(&vcs)
        && let Some(at) = text.find("\"sha1\"")
    {
        let hex: String = text[at + 6..]
            .chars()
            .skip_while(|c| !c.is_ascii_hexdigit())
            .take_while(char::is_ascii_hexdigit)
            .take(12)
            .collect();
        if hex.len() == 12 {
            return hex;
        }
    }
    "unknown".to_string()
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let rules = root.join("rules");
    println!("cargo:rustc-env=PIPEAUDIT_COMMIT={}", commit(&root));
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut files = Vec::new();
    collect(&rules, &mut files);
    files.sort();
    // One deflated blob of (path, text) records, each a little-endian u32
    // length and the bytes: the rule texts are a fifth of their size
    // compressed, and inflating them at load costs well under a millisecond.
    let mut blob = Vec::new();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(&rules)
            .unwrap_or(f)
            .to_string_lossy()
            .replace('\\', "/");
        let text = match std::fs::read_to_string(f) {
            Ok(t) => t,
            Err(e) => panic!("cannot read {}: {e}", f.display()),
        };
        for part in [rel.as_bytes(), text.as_bytes()] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            blob.extend_from_slice(&len.to_le_bytes());
            blob.extend_from_slice(part);
        }
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("embedded_rules.bin");
    let code = miniz_oxide::deflate::compress_to_vec(&blob, 10);
    if let Err(e) = std::fs::write(&out, code) {
        panic!("cannot write {}: {e}", out.display());
    }
}
