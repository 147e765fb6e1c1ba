//! AWS's grammars for ids, ARNs, regions and names, as plain predicates.

pub(super) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn is_role_arn(s: &str) -> bool {
    role_account(s).is_some()
}

/// The account of `arn:aws:iam::<account>:role/<path/name>`.
pub(super) fn role_account(s: &str) -> Option<&str> {
    let rest = s
        .strip_prefix("arn:aws:iam::")
        .or_else(|| s.strip_prefix("arn:aws-cn:iam::"))
        .or_else(|| s.strip_prefix("arn:aws-us-gov:iam::"))?;
    let (account, role) = rest.split_once(":role/")?;
    (is_account_id(account) && !role.is_empty() && !role.ends_with('/')).then_some(account)
}

pub(super) fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| n > 0 && n < 20)
}

pub(super) fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|rest| {
        (10..=32).contains(&rest.len())
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

pub(super) fn is_org_path(s: &str) -> bool {
    s.starts_with("o-")
        && s.contains('/')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/')
}

/// ECR's grammar: `(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*`, 2 to 256
/// characters. Each part between slashes is runs of lowercase letters and digits joined by
/// single separators: `a--b`, `a..b` and `a._b` are refused by ECR.
pub(crate) fn is_repository_name(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    (2..=256).contains(&s.len())
        && s.split('/').all(|part| {
            part.split(['.', '_', '-'])
                .all(|run| !run.is_empty() && run.bytes().all(alnum))
        })
}

pub(super) fn is_function_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(super) fn is_image_tag(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

pub(super) fn is_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::is_repository_name;

    #[test]
    fn repository_names_follow_ecrs_grammar() {
        for ok in [
            "ab",
            "hello",
            "team/hello-world",
            "a.b_c-d",
            "a/b/c",
            "0x",
            &"a".repeat(256),
        ] {
            assert!(is_repository_name(ok), "{ok} is valid");
        }
        for bad in [
            "a",
            "a--b",
            "a..b",
            "a._b",
            "a_-b",
            "-ab",
            "ab-",
            "a//b",
            "/ab",
            "ab/",
            "Hello",
            "a b",
            "",
            &"a".repeat(257),
        ] {
            assert!(!is_repository_name(bad), "{bad} is refused");
        }
    }
}
