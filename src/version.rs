//! Which ferry this is: the crate version and the commit it was built from (see build.rs), and
//! whether it satisfies a project's `required_version`.

/// The crate version, e.g. `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit ferry was built from (short hash, `-dirty` when the tree had uncommitted
/// changes), empty when it was built outside a git checkout.
pub const COMMIT: &str = env!("FERRY_COMMIT");

/// What `ferry --version` prints after the name: `0.1.0 (commit 1a2b3c4d5e6f)`.
pub const LINE: &str = env!("FERRY_VERSION_LINE");

/// A parsed `required_version`, with Cargo's syntax: `">= 0.2"`, `">= 0.2, < 0.4"`, `"~0.3"`.
pub fn parse_requirement(text: &str) -> Result<semver::VersionReq, semver::Error> {
    semver::VersionReq::parse(text)
}

/// Whether this ferry satisfies `requirement`. Pre-release builds count as their release, so
/// `0.2.0-rc.1` satisfies `>= 0.2` (a requirement is about features, not release status).
pub fn satisfies(requirement: &semver::VersionReq) -> bool {
    let mut v = semver::Version::parse(VERSION).expect("CARGO_PKG_VERSION is semver");
    v.pre = semver::Prerelease::EMPTY;
    requirement.matches(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_version_and_at_most_one_commit() {
        assert!(LINE.starts_with(VERSION));
        if COMMIT.is_empty() {
            assert_eq!(LINE, VERSION);
        } else {
            assert_eq!(LINE, format!("{VERSION} (commit {COMMIT})"));
        }
    }

    #[test]
    fn requirements_are_cargo_s() {
        let this = semver::Version::parse(VERSION).unwrap();
        let at_least_this =
            parse_requirement(&format!(">= {}.{}", this.major, this.minor)).unwrap();
        assert!(satisfies(&at_least_this));
        let next = parse_requirement(&format!(">= {}.{}", this.major, this.minor + 1)).unwrap();
        assert!(!satisfies(&next));
        assert!(parse_requirement("soon").is_err());
    }
}
