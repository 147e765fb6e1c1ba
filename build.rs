//! Names the commit ferry is built from, for `ferry --version`: `FERRY_COMMIT` is the short
//! hash, with `-dirty` when tracked files differ from it, or empty when git or the repository
//! is absent (a source tarball, a vendored copy): the version then names no commit.
//! `FERRY_VERSION_LINE` is what `--version` prints after the name.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let dirty = commit.is_some()
        && git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    let value = match commit {
        Some(c) if dirty => format!("{c}-dirty"),
        Some(c) => c,
        None => String::new(),
    };
    println!("cargo:rustc-env=FERRY_COMMIT={value}");
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let line = if value.is_empty() {
        version
    } else {
        format!("{version} (commit {value})")
    };
    println!("cargo:rustc-env=FERRY_VERSION_LINE={line}");
    // Run again when HEAD moves or the index changes (a commit, a checkout, `git add`), not on
    // every edit of a test: the "dirty" mark follows the index, so an edit that was never
    // staged is seen at the next `git add` or `git status`.
    // `packed-refs` too: a fresh clone, `git gc` or `git pack-refs` keep the branch there.
    for what in ["HEAD", "index", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", what])
            && std::path::Path::new(&p).exists()
        {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &r])
    {
        println!("cargo:rerun-if-changed={p}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
