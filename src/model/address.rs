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
}

impl Address {
    pub fn kind(&self) -> &'static str {
        match self {
            Address::Registry(_) => "registry",
            Address::Repository(_) => "repository",
            Address::RepositoryPolicy(_) => "repository_policy",
            Address::Image(_) => "image",
            Address::Function(_) => "function",
        }
    }

    pub fn key(&self) -> &str {
        match self {
            Address::Registry(k)
            | Address::Repository(k)
            | Address::RepositoryPolicy(k)
            | Address::Image(k)
            | Address::Function(k) => k,
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
        let key = key.to_string();
        Ok(match kind {
            "registry" => Address::Registry(key),
            "repository" => Address::Repository(key),
            "repository_policy" => Address::RepositoryPolicy(key),
            "image" => Address::Image(key),
            "function" => Address::Function(key),
            other => {
                return Err(format!(
                    "`{other}` is not a resource kind: use registry, repository, \
                     repository_policy, image or function"
                ));
            }
        })
    }
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
        assert!("repository.".parse::<Address>().is_err());
    }
}
