//! Stage: discovery. The account groups declared with `organizational_unit` are asked of AWS
//! Organizations (with the `organization_account`'s credentials) before anything is planned:
//! every ACTIVE account beneath the OU, nested OUs included, minus `exclude`. What was found
//! goes back into validation ([`crate::declarations::with_discovery`]), so that a function over
//! such a group has one instance per account, as if the accounts had been listed.
//!
//! An account that has left the OU still has resources in the state: it is kept reachable
//! (through the project's `assume_role`) but belongs to no group, so its instances are planned
//! as removals like any undeclared resource.

use crate::cloud::{Cloud, CloudError};
use crate::declarations::Declarations;
use crate::model::{Desired, Discovery, GroupMembers, Target};
use crate::state::Snapshot;
use std::collections::BTreeSet;

/// Organizations is a global service whose endpoint is in us-east-1.
pub const ORGANIZATIONS_REGION: &str = "us-east-1";

/// What was found for one group, for the plan's "accounts discovered" line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub group: String,
    pub organizational_unit: String,
    /// ACTIVE accounts beneath the OU, `exclude` applied.
    pub accounts: Vec<String>,
    /// Of those, the ones the state has no resource in yet.
    pub new: Vec<String>,
    /// Left out: excluded by the declarations, or not ACTIVE (with their state).
    pub left_out: Vec<(String, String)>,
}

/// Whether the declarations have a group to discover.
pub fn needed(desired: &Desired) -> bool {
    desired
        .account_groups
        .values()
        .any(|g| matches!(g.members, GroupMembers::OrganizationalUnit { .. }))
}

/// Asks Organizations for every group discovered from an OU. `snapshot` tells which accounts
/// are new and which ones left.
pub async fn discover(
    desired: &Desired,
    snapshot: &Snapshot,
    cloud: &dyn Cloud,
) -> Result<(Discovery, Vec<Found>), CloudError> {
    let mut discovery = Discovery::default();
    let mut found = Vec::new();
    let in_state: BTreeSet<&str> = snapshot
        .resources
        .values()
        .map(|r| r.target().account_id.as_str())
        .collect();
    let mut everyone = BTreeSet::new();
    for (key, group) in &desired.account_groups {
        let GroupMembers::OrganizationalUnit {
            organizational_unit,
            organization_account,
            exclude,
            ..
        } = &group.members
        else {
            continue;
        };
        let Some(org) = desired.accounts.get(organization_account) else {
            continue;
        };
        let via = Target {
            account: org.key.clone(),
            account_id: org.id.clone(),
            region: ORGANIZATIONS_REGION.to_string(),
        };
        let listed = cloud
            .organization_accounts(&via, organizational_unit)
            .await?;
        let mut f = Found {
            group: key.clone(),
            organizational_unit: organizational_unit.clone(),
            accounts: Vec::new(),
            new: Vec::new(),
            left_out: Vec::new(),
        };
        let mut active = Vec::new();
        for a in listed {
            if a.state != "ACTIVE" {
                f.left_out.push((a.id, a.state.to_lowercase()));
            } else if exclude.contains(&a.id) {
                active.push(a.id.clone());
                f.left_out.push((a.id, "excluded".into()));
            } else {
                if !in_state.contains(a.id.as_str()) {
                    f.new.push(a.id.clone());
                }
                everyone.insert(a.id.clone());
                f.accounts.push(a.id.clone());
                active.push(a.id);
            }
        }
        discovery.groups.insert(key.clone(), active);
        found.push(f);
    }
    // State's accounts that were discovered once (keyed by their id) and are neither declared
    // nor discovered now.
    let declared: BTreeSet<&str> = desired.accounts.keys().map(String::as_str).collect();
    let departed: BTreeSet<String> = snapshot
        .resources
        .values()
        .map(|r| r.target())
        .filter(|t| t.account == t.account_id)
        .filter(|t| !declared.contains(t.account.as_str()) && !everyone.contains(&t.account_id))
        .map(|t| t.account_id.clone())
        .collect();
    discovery.departed = departed.into_iter().collect();
    Ok((discovery, found))
}

/// The declarations with their discovered groups expanded (or as they are when none needs it).
pub async fn expand(
    decls: Declarations,
    snapshot: &Snapshot,
    cloud: &dyn Cloud,
    secrets_required: bool,
) -> Result<(Declarations, Vec<Found>), DiscoveryError> {
    if !needed(&decls.desired) {
        return Ok((decls, Vec::new()));
    }
    let (discovery, found) = discover(&decls.desired, snapshot, cloud)
        .await
        .map_err(DiscoveryError::Cloud)?;
    let decls = crate::declarations::with_discovery(&decls, &discovery, secrets_required)
        .map_err(|e| DiscoveryError::Declarations(Box::new(e)))?;
    Ok((decls, found))
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("discovering the accounts of an organizational unit failed")]
    Cloud(#[source] CloudError),
    #[error(transparent)]
    Declarations(Box<crate::declarations::LoadError>),
}

impl Found {
    /// `account group `fleet` (ou-ab12-11111111): 3 accounts discovered: …; new since the last
    /// apply: …`
    pub fn line(&self) -> String {
        let mut s = format!(
            "account group `{}` ({}): {} discovered: {}",
            self.group,
            self.organizational_unit,
            count(self.accounts.len()),
            list(&self.accounts)
        );
        if !self.new.is_empty() {
            s.push_str(&format!("; new since the last apply: {}", list(&self.new)));
        }
        if !self.left_out.is_empty() {
            let out: Vec<String> = self
                .left_out
                .iter()
                .map(|(id, why)| format!("{id} ({why})"))
                .collect();
            s.push_str(&format!("; left out: {}", out.join(", ")));
        }
        s
    }
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 account".into()
    } else {
        format!("{n} accounts")
    }
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::OrgAccount;
    use crate::cloud::fake::FakeCloud;
    use crate::model::{Address, FunctionConfig};
    use crate::state::Record;

    const DECL: &str = r#"
[project]
name = "p"
default_region = "eu-west-1"
assume_role = "arn:aws:iam::{account_id}:role/Deployer"

[accounts.mgmt]
id = "100000000000"

[accounts.known]
id = "400000000004"

[account_groups.fleet]
organizational_unit = "ou-ab12-11111111"
organization_account = "mgmt"
exclude = ["400000000003"]

[registries.central]
account = "mgmt"

[repositories.hello]
registry = "central"

[images.hello]
repository = "hello"
tag = "01"

[functions.api]
accounts = ["fleet"]
image = "hello"
role = "arn:aws:iam::{account_id}:role/R"
name = "api-{account}"
"#;

    fn account(id: &str, state: &str, parent: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: format!("n{id}"),
            state: state.into(),
            parent: parent.into(),
        }
    }

    fn cloud() -> FakeCloud {
        let cloud = FakeCloud::default();
        {
            let mut w = cloud.world.lock().unwrap();
            w.organizational_units
                .insert("ou-ab12-11111111".into(), "r-ab12".into());
            w.organizational_units
                .insert("ou-ab12-22222222".into(), "ou-ab12-11111111".into());
            w.organization_accounts = vec![
                account("400000000001", "ACTIVE", "ou-ab12-11111111"),
                account("400000000002", "ACTIVE", "ou-ab12-22222222"),
                account("400000000003", "ACTIVE", "ou-ab12-22222222"),
                account("400000000004", "ACTIVE", "ou-ab12-11111111"),
                account("400000000005", "SUSPENDED", "ou-ab12-11111111"),
                account("400000000006", "ACTIVE", "r-ab12"),
            ];
        }
        cloud
    }

    fn decls() -> Declarations {
        let source = crate::declarations::source_from_bytes("ferry.toml".into(), DECL.into())
            .expect("source");
        let desired = crate::declarations::parse_sources(std::slice::from_ref(&source), &|_| None)
            .expect("valid");
        Declarations {
            desired,
            sources: vec![source],
        }
    }

    fn function_in(id: &str) -> Record {
        Record::Function {
            target: Target {
                account: id.into(),
                account_id: id.into(),
                region: "eu-west-1".into(),
            },
            repository: "hello".into(),
            config: FunctionConfig {
                name: format!("api-{id}"),
                ..crate::cloud::test_config("s")
            },
            sensitive: Default::default(),
        }
    }

    #[tokio::test]
    async fn without_discovery_a_group_has_no_instances_but_its_values_are_checked() {
        let d = decls();
        assert!(needed(&d.desired));
        assert!(d.desired.functions.is_empty(), "{:?}", d.desired.functions);
        let bad = DECL.replace("{account_id}:role/R", "999999999999:role/R");
        let source =
            crate::declarations::source_from_bytes("ferry.toml".into(), bad.into()).unwrap();
        let e = crate::declarations::parse_sources(&[source], &|_| None).unwrap_err();
        assert!(
            e.render(false).contains("role in another account"),
            "{}",
            e.render(false)
        );
    }

    #[tokio::test]
    async fn active_accounts_beneath_the_ou_nested_ones_included_minus_exclude() {
        let mut snapshot = Snapshot::default();
        let api = Address::Function("api[400000000001]".into());
        snapshot.resources.insert(api, function_in("400000000001"));
        // Deployed once, since moved out of the OU.
        let gone = Address::Function("api[400000000009]".into());
        snapshot.resources.insert(gone, function_in("400000000009"));
        let (d, found) = expand(decls(), &snapshot, &cloud(), true).await.unwrap();
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.accounts, ["400000000001", "400000000002", "400000000004"]);
        assert_eq!(f.new, ["400000000002", "400000000004"]);
        assert_eq!(
            f.left_out,
            [
                ("400000000003".to_string(), "excluded".to_string()),
                ("400000000005".to_string(), "suspended".to_string())
            ]
        );
        // A discovered account that is declared keeps its key; the others are keyed by id.
        let keys: Vec<&String> = d.desired.functions.keys().collect();
        assert_eq!(
            keys,
            ["api[400000000001]", "api[400000000002]", "api[known]"]
        );
        let f = &d.desired.functions["api[400000000002]"];
        assert_eq!(f.name, "api-400000000002");
        assert_eq!(f.role, "arn:aws:iam::400000000002:role/R");
        let a = &d.desired.accounts["400000000002"];
        assert_eq!(
            a.role_arn.as_deref(),
            Some("arn:aws:iam::400000000002:role/Deployer")
        );
        // The account that left stays reachable, in no group: its instance is undeclared.
        assert!(d.desired.accounts.contains_key("400000000009"));
        assert!(!d.desired.functions.contains_key("api[400000000009]"));
        assert!(!d.desired.accounts.contains_key("400000000006"));
        assert_eq!(
            found[0].line(),
            "account group `fleet` (ou-ab12-11111111): 3 accounts discovered: 400000000001, \
             400000000002, 400000000004; new since the last apply: 400000000002, 400000000004; \
             left out: 400000000003 (excluded), 400000000005 (suspended)"
        );
    }

    #[tokio::test]
    async fn an_unknown_ou_is_aws_error_named() {
        let c = cloud();
        c.world.lock().unwrap().organizational_units.clear();
        let e = expand(decls(), &Snapshot::default(), &c, true)
            .await
            .unwrap_err();
        let DiscoveryError::Cloud(e) = e else {
            panic!("{e:?}")
        };
        assert_eq!(e.code(), Some("ParentNotFoundException"));
    }
}
