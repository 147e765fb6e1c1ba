//! Places: where a resource lives. A [`Location`] is an account and a region (where an API
//! call goes); a [`Place`] is a location and an AWS name (one resource).
//!
//! `Target` is the serialized name of a location in state records and saved plans, so it stays;
//! [`Location`] is the name new code uses. ("target" also names `--target`, an address filter:
//! that is not this.)

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an API call goes: an account (by its declared key, which carries the credentials) and
/// a region.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    pub account: String,
    pub account_id: String,
    pub region: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {})", self.account, self.account_id, self.region)
    }
}

/// An account (declared key and id) and a region: where an API call goes. Today the same type
/// as [`Target`], whose name the state records and saved plans keep.
pub type Location = Target;

/// Where a named resource lives: its location and its AWS name.
/// `refresh::Observed` keys its maps by it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    pub location: Location,
    pub name: String,
}

impl Place {
    pub fn new(location: &Location, name: &str) -> Self {
        Self {
            location: location.clone(),
            name: name.to_string(),
        }
    }

    /// `account 123456789012 (eu-west-1)`: the words plans use for a place's location.
    pub fn describe_location(&self) -> String {
        format!(
            "account {} ({})",
            self.location.account_id, self.location.region
        )
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in {}", self.name, self.location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_describes_its_location_and_itself() {
        let location = Target {
            account: "prod".into(),
            account_id: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let place = Place::new(&location, "hello");
        assert_eq!(
            place.describe_location(),
            "account 123456789012 (eu-west-1)"
        );
        assert_eq!(place.to_string(), "hello in prod (123456789012, eu-west-1)");
    }
}
