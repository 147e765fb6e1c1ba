//! Addresses: how users and state name a resource (`function.hello-world`), and their parsing.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The address of a resource, as users type it: `repository.hello`, `function.hello-world`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Address {
    Registry(String),
    Repository(String),
    RepositoryPolicy(String),
    Image(String),
    Function(String),
    /// A source registry's replication configuration (`replication.REGISTRY`).
    Replication(String),
    /// A destination registry's policy letting the sources replicate into it
    /// (`registry_policy.REGISTRY`).
    RegistryPolicy(String),
}

impl Address {
    pub fn kind(&self) -> &'static str {
        match self {
            Address::Registry(_) => "registry",
            Address::Repository(_) => "repository",
            Address::RepositoryPolicy(_) => "repository_policy",
            Address::Image(_) => "image",
            Address::Function(_) => "function",
            Address::Replication(_) => "replication",
            Address::RegistryPolicy(_) => "registry_policy",
        }
    }

    /// The key of one account's instance of a declaration: `api[prod]`.
    pub fn instance_key(key: &str, account: &str) -> String {
        format!("{key}[{account}]")
    }

    /// The declaration's key and, for an instance (`function.api[prod]`), its account key.
    pub fn declaration(&self) -> (&str, Option<&str>) {
        let key = self.key();
        match key.strip_suffix(']').and_then(|k| k.split_once('[')) {
            Some((decl, account)) => (decl, Some(account)),
            None => (key, None),
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Address::Registry(k)
            | Address::Repository(k)
            | Address::RepositoryPolicy(k)
            | Address::Image(k)
            | Address::Function(k)
            | Address::Replication(k)
            | Address::RegistryPolicy(k) => k,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind(), self.key())
    }
}

impl std::str::FromStr for Address {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, key) = s.split_once('.').ok_or_else(|| {
            format!("`{s}` is not an address: expected KIND.KEY, such as repository.hello")
        })?;
        if key.is_empty() {
            return Err(format!("`{s}` has no key after the dot"));
        }
        let key = normalize_instance(s, key)?;
        Ok(match kind {
            "registry" => Address::Registry(key),
            "repository" => Address::Repository(key),
            "repository_policy" => Address::RepositoryPolicy(key),
            "image" => Address::Image(key),
            "function" => Address::Function(key),
            "replication" => Address::Replication(key),
            "registry_policy" => Address::RegistryPolicy(key),
            other => {
                return Err(format!(
                    "`{other}` is not a resource kind: use registry, repository, \
                     repository_policy, image, function, replication or registry_policy"
                ));
            }
        })
    }
}

/// `api["prod"]` and `api[prod]` name the same instance; the unquoted form is canonical.
fn normalize_instance(s: &str, key: &str) -> Result<String, String> {
    let Some(open) = key.find('[') else {
        if key.contains(']') {
            return Err(format!("`{s}` has a `]` without its `[`"));
        }
        return Ok(key.to_string());
    };
    let (decl, rest) = key.split_at(open);
    let inner = rest
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| format!("`{s}`: an instance is written KEY[ACCOUNT], ending with `]`"))?;
    let account = match inner.strip_prefix('"') {
        Some(q) => q
            .strip_suffix('"')
            .ok_or_else(|| format!("`{s}`: the account key's quote is not closed"))?,
        None => inner,
    };
    if decl.is_empty() || account.is_empty() || account.contains(['[', ']', '"']) {
        return Err(format!(
            "`{s}` is not an instance address: expected KIND.KEY[ACCOUNT], such as function.api[prod]"
        ));
    }
    Ok(Address::instance_key(decl, account))
}

impl TryFrom<String> for Address {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

/// What `--target` takes: an address, a pattern of addresses (`function.api[*]`,
/// `function.*[prod]`, `*` matching any run of characters in the key and in the account), or
/// every resource of an account (`account:prod`, by key or 12-digit id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetPattern {
    Address(Address),
    Pattern {
        kind: String,
        key: String,
        account: Option<String>,
    },
    Account(String),
}

impl TargetPattern {
    /// Whether the pattern names `address`, whose resource lives in account `account` (key,
    /// id).
    pub fn matches(&self, address: &Address, account: Option<(&str, &str)>) -> bool {
        match self {
            TargetPattern::Address(a) => a == address,
            TargetPattern::Account(want) => {
                account.is_some_and(|(key, id)| key == want || id == want)
            }
            TargetPattern::Pattern {
                kind,
                key,
                account: want,
            } => {
                if address.kind() != kind {
                    return false;
                }
                let (decl, instance) = address.declaration();
                glob(key, decl)
                    && match (want, instance) {
                        (None, None) => true,
                        (Some(w), Some(i)) => glob(w, i),
                        _ => false,
                    }
            }
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == text;
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    for p in middle {
        match rest.find(p) {
            Some(at) => rest = &rest[at + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl fmt::Display for TargetPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetPattern::Address(a) => write!(f, "{a}"),
            TargetPattern::Pattern { kind, key, account } => match account {
                Some(a) => write!(f, "{kind}.{key}[{a}]"),
                None => write!(f, "{kind}.{key}"),
            },
            TargetPattern::Account(a) => write!(f, "account:{a}"),
        }
    }
}

impl std::str::FromStr for TargetPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(account) = s.strip_prefix("account:") {
            if account.is_empty() {
                return Err(format!(
                    "`{s}` names no account: write account:KEY or account:ID"
                ));
            }
            return Ok(TargetPattern::Account(account.to_string()));
        }
        if !s.contains('*') {
            return s.parse().map(TargetPattern::Address);
        }
        // Parse with the stars as a plain key, then take them back.
        let address: Address = s.replace('*', "STAR").parse()?;
        let (key, account) = address.declaration();
        let back = |p: &str| p.replace("STAR", "*");
        Ok(TargetPattern::Pattern {
            kind: address.kind().to_string(),
            key: back(key),
            account: account.map(back),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_reject_unknown_kinds() {
        for text in [
            "registry.central",
            "repository.hello",
            "repository_policy.hello",
            "image.hello",
            "function.hello-world",
        ] {
            let a: Address = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
        }
        assert!(
            "lambda.x"
                .parse::<Address>()
                .unwrap_err()
                .contains("not a resource kind")
        );
        assert!("repository".parse::<Address>().is_err());
        let p = |s: &str| s.parse::<TargetPattern>().unwrap();
        let at = |s: &str| s.parse::<Address>().unwrap();
        let prod = Some(("prod", "222222222222"));
        assert!(p("function.api[*]").matches(&at("function.api[prod]"), prod));
        assert!(!p("function.api[*]").matches(&at("function.api"), prod));
        assert!(!p("function.api[*]").matches(&at("function.apiv2[prod]"), prod));
        assert!(p("function.*[prod]").matches(&at("function.worker[prod]"), prod));
        assert!(!p("function.*[prod]").matches(&at("function.worker[dev]"), None));
        assert!(!p("function.*[prod]").matches(&at("repository.worker"), prod));
        assert!(p("function.*").matches(&at("function.worker"), prod));
        assert!(p("function.a*i").matches(&at("function.api"), None));
        assert!(!p("function.a*i").matches(&at("function.apis"), None));
        assert!(p("account:prod").matches(&at("repository.hello"), prod));
        assert!(p("account:222222222222").matches(&at("repository.hello"), prod));
        assert!(!p("account:dev").matches(&at("repository.hello"), prod));
        assert_eq!(p("function.*[\"prod\"]").to_string(), "function.*[prod]");
        assert!("account:".parse::<TargetPattern>().is_err());
        let quoted: Address = "function.api[\"prod\"]".parse().unwrap();
        assert_eq!(quoted, "function.api[prod]".parse().unwrap());
        assert_eq!(quoted.to_string(), "function.api[prod]");
        assert_eq!(quoted.declaration(), ("api", Some("prod")));
        assert_eq!(
            "function.api".parse::<Address>().unwrap().declaration(),
            ("api", None)
        );
        for bad in [
            "function.api[",
            "function.api[]",
            "function.[prod]",
            "function.api]",
            "function.api[\"prod]",
        ] {
            assert!(bad.parse::<Address>().is_err(), "{bad}");
        }
        assert!("repository.".parse::<Address>().is_err());
    }
}
