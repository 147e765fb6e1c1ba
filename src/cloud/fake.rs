//! An in-memory cloud for fast planner and executor tests, with injectable faults and a call
//! log. It behaves like AWS where ferry depends on it (absence is `None`, deletes of missing
//! things succeed, a repository policy needs its repository), and nothing more.

use super::{
    Cloud, CloudError, FunctionConfig, ImageLookup, LiveFunction, OrgAccount, ReplicaStatus,
    RepositoryConfig,
};
use crate::model::{ImageRef, Target};
use async_trait::async_trait;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

mod sim;

use sim::SimState;
pub use sim::Simulation;

type Key = (String, String, String); // account id, region, name

#[derive(Default, Debug, Clone, PartialEq)]
pub struct World {
    pub repositories: BTreeMap<Key, RepositoryConfig>,
    pub policies: BTreeMap<Key, String>,
    /// Images per repository: tag → digest.
    pub images: BTreeMap<Key, BTreeMap<String, String>>,
    pub functions: BTreeMap<Key, FunctionConfig>,
    /// AWS Organizations: each OU with its parent, and the accounts (each naming its parent).
    pub organizational_units: BTreeMap<String, String>,
    pub organization_accounts: Vec<OrgAccount>,
    /// Replication configurations and registry policies, by (account id, region).
    pub replication: BTreeMap<(String, String), String>,
    pub registry_policies: BTreeMap<(String, String), String>,
}

/// A fault: after `skip` matching calls, the next `remaining` matching calls fail with `error`.
struct Fault {
    operation: String,
    name: Option<String>,
    skip: usize,
    remaining: usize,
    error: CloudError,
    /// The call takes effect, then fails (a function created that never becomes Active, an
    /// answer lost on the way back).
    after_effect: bool,
}

#[derive(Default)]
pub struct FakeCloud {
    pub world: Mutex<World>,
    faults: Mutex<Vec<Fault>>,
    calls: Mutex<Vec<String>>,
    /// Accounts whose credentials belong elsewhere: account key → actual id.
    pub wrong_accounts: Mutex<BTreeMap<String, String>>,
    /// AWS's speed and quotas, for the benchmark; `None`: instant and unlimited.
    sim: Option<Simulation>,
    sim_state: Mutex<SimState>,
}

fn registry(t: &Target) -> (String, String) {
    (t.account_id.clone(), t.region.clone())
}

fn key(t: &Target, name: &str) -> Key {
    (t.account_id.clone(), t.region.clone(), name.to_string())
}

impl FakeCloud {
    pub fn new() -> Self {
        Self::default()
    }

    /// A fake with AWS's timing and Lambda's quotas (see [`Simulation`]).
    pub fn simulated(sim: Simulation) -> Self {
        FakeCloud {
            sim: Some(sim),
            ..Self::default()
        }
    }

    /// How many calls the simulated quotas refused.
    pub fn throttled(&self) -> usize {
        self.sim_state.lock().expect("sim").throttled
    }

    /// A call as the simulation sees it: the round trip, then the quota, then [`Self::call`].
    async fn call_at(
        &self,
        target: &Target,
        operation: &str,
        name: &str,
    ) -> Result<(), CloudError> {
        if let Some(sim) = &self.sim {
            tokio::time::sleep(sim.latency).await;
            let admitted = self
                .sim_state
                .lock()
                .expect("sim")
                .admit(sim, target, operation);
            if let Err(e) = admitted {
                self.calls
                    .lock()
                    .expect("calls")
                    .push(format!("{operation} {name} (throttled)"));
                return Err(e);
            }
        }
        self.call(operation, name)
    }

    /// Puts an image into a repository (as `docker push` would).
    pub fn push_image(&self, t: &Target, repository: &str, tag: &str, digest: &str) {
        let mut w = self.world.lock().expect("fake world");
        w.images
            .entry(key(t, repository))
            .or_default()
            .insert(tag.to_string(), digest.to_string());
    }

    /// Makes the next `times` calls of `operation` (on `name`, if given) fail with `error`.
    pub fn fail(&self, operation: &str, name: Option<&str>, times: usize, error: CloudError) {
        self.fail_after(operation, name, 0, times, error);
    }

    /// Lets `skip` matching calls through, then fails the next `times`.
    pub fn fail_after(
        &self,
        operation: &str,
        name: Option<&str>,
        skip: usize,
        times: usize,
        error: CloudError,
    ) {
        self.faults.lock().expect("faults").push(Fault {
            operation: operation.to_string(),
            name: name.map(str::to_string),
            skip,
            remaining: times,
            error,
            after_effect: false,
        });
    }

    /// Like [`FakeCloud::fail`], but the call takes effect before it fails.
    pub fn fail_after_effect(&self, operation: &str, name: Option<&str>, error: CloudError) {
        self.faults.lock().expect("faults").push(Fault {
            operation: operation.to_string(),
            name: name.map(str::to_string),
            skip: 0,
            remaining: 1,
            error,
            after_effect: true,
        });
    }

    /// Every call made so far, as `Operation name`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    pub fn snapshot(&self) -> World {
        self.world.lock().expect("fake world").clone()
    }

    fn call(&self, operation: &str, name: &str) -> Result<(), CloudError> {
        self.calls
            .lock()
            .expect("calls")
            .push(format!("{operation} {name}"));
        self.fault(operation, name, false)
    }

    /// The faults that strike once a call took effect.
    fn after(&self, operation: &str, name: &str) -> Result<(), CloudError> {
        self.fault(operation, name, true)
    }

    fn fault(&self, operation: &str, name: &str, after_effect: bool) -> Result<(), CloudError> {
        let mut faults = self.faults.lock().expect("faults");
        if let Some(f) = faults.iter_mut().find(|f| {
            f.after_effect == after_effect
                && f.operation == operation
                && f.remaining > 0
                && f.name.as_deref().is_none_or(|n| n == name)
        }) {
            if f.skip > 0 {
                f.skip -= 1;
                return Ok(());
            }
            f.remaining -= 1;
            return Err(f.error.clone());
        }
        Ok(())
    }

    fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().expect("fake world")
    }
}

/// An AWS-style API error, for tests.
pub fn api_error(operation: &str, code: &str, message: &str) -> CloudError {
    CloudError::Api {
        operation: operation.to_string(),
        account_id: "000000000000".to_string(),
        region: "us-east-1".to_string(),
        code: code.to_string(),
        message: message.to_string(),
    }
}

#[async_trait]
impl Cloud for FakeCloud {
    async fn verify_account(&self, target: &Target) -> Result<(), CloudError> {
        self.call_at(target, "GetCallerIdentity", &target.account)
            .await?;
        if let Some(actual) = self
            .wrong_accounts
            .lock()
            .expect("accounts")
            .get(&target.account)
        {
            return Err(CloudError::WrongAccount {
                account: target.account.clone(),
                expected: target.account_id.clone(),
                actual: actual.clone(),
            });
        }
        Ok(())
    }

    async fn read_repositories(
        &self,
        target: &Target,
        names: &[String],
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        self.call_at(target, "DescribeRepositories", &target.account_id)
            .await?;
        let wanted: BTreeSet<&String> = names.iter().collect();
        Ok(self
            .world()
            .repositories
            .iter()
            .filter(|((a, r, n), _)| {
                a == &target.account_id && r == &target.region && wanted.contains(n)
            })
            .map(|((_, _, n), c)| (n.clone(), c.clone()))
            .collect())
    }

    async fn list_repositories(
        &self,
        target: &Target,
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        self.call("DescribeRepositories", &target.account_id)?;
        Ok(self
            .world()
            .repositories
            .iter()
            .filter(|((a, r, _), _)| a == &target.account_id && r == &target.region)
            .map(|((_, _, n), c)| (n.clone(), c.clone()))
            .collect())
    }

    async fn organization_accounts(
        &self,
        via: &Target,
        parent: &str,
    ) -> Result<Vec<OrgAccount>, CloudError> {
        self.call("ListAccountsForParent", parent)?;
        let world = self.world();
        if !world.organizational_units.contains_key(parent) && !parent.starts_with("r-") {
            return Err(CloudError::Api {
                operation: "ListAccountsForParent".into(),
                account_id: via.account_id.clone(),
                region: via.region.clone(),
                code: "ParentNotFoundException".into(),
                message: "You specified parent that doesn't exist.".into(),
            });
        }
        let mut beneath = BTreeSet::from([parent.to_string()]);
        // The OU tree is small; grow the set until no OU is added.
        loop {
            let before = beneath.len();
            for (ou, up) in &world.organizational_units {
                if beneath.contains(up) {
                    beneath.insert(ou.clone());
                }
            }
            if beneath.len() == before {
                break;
            }
        }
        let mut out: Vec<OrgAccount> = world
            .organization_accounts
            .iter()
            .filter(|a| beneath.contains(&a.parent))
            .cloned()
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn list_functions(&self, target: &Target) -> Result<Vec<String>, CloudError> {
        self.call("ListFunctions", &target.account_id)?;
        Ok(self
            .world()
            .functions
            .keys()
            .filter(|(a, r, _)| a == &target.account_id && r == &target.region)
            .map(|(_, _, n)| n.clone())
            .collect())
    }

    async fn read_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<Option<String>, CloudError> {
        self.call_at(target, "GetRepositoryPolicy", repository)
            .await?;
        Ok(self.world().policies.get(&key(target, repository)).cloned())
    }

    async fn repository_has_images(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<bool, CloudError> {
        self.call_at(target, "ListImages", repository).await?;
        Ok(self
            .world()
            .images
            .get(&key(target, repository))
            .is_some_and(|i| !i.is_empty()))
    }

    async fn resolve_images(
        &self,
        target: &Target,
        repository: &str,
        refs: &[ImageRef],
    ) -> Result<Vec<ImageLookup>, CloudError> {
        self.call_at(target, "BatchGetImage", repository).await?;
        let w = self.world();
        if !w.repositories.contains_key(&key(target, repository)) {
            return Ok(vec![ImageLookup::RepositoryNotFound; refs.len()]);
        }
        let images = w.images.get(&key(target, repository));
        Ok(refs
            .iter()
            .map(|r| {
                let digest = images.and_then(|i| match r {
                    ImageRef::Tag(t) => i.get(t).cloned(),
                    ImageRef::Digest(d) => i.values().find(|v| *v == d).cloned(),
                });
                match digest {
                    Some(digest) => ImageLookup::Found { digest },
                    None => ImageLookup::NotFound,
                }
            })
            .collect())
    }

    async fn read_function(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<Option<LiveFunction>, CloudError> {
        self.call_at(target, "GetFunction", name).await?;
        Ok(self
            .world()
            .functions
            .get(&key(target, name))
            .map(|c| LiveFunction {
                config: c.clone(),
                arn: format!(
                    "arn:aws:lambda:{}:{}:function:{name}",
                    target.region, target.account_id
                ),
            }))
    }

    async fn create_repository(
        &self,
        target: &Target,
        config: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        self.call_at(target, "CreateRepository", &config.name)
            .await?;
        let mut w = self.world();
        let k = key(target, &config.name);
        // As AwsCloud: an existing repository is this create's own retried work only when it
        // carries this address's ownership tags; anyone else's is left as it is.
        if let Some(live) = w.repositories.get(&k)
            && !super::same_owner(&live.tags, &config.tags)
        {
            return Err(CloudError::created_elsewhere(
                &super::REPOSITORY_EXISTS,
                target,
                &config.name,
                &config.tags,
            ));
        }
        w.repositories.insert(k, config.clone());
        drop(w);
        self.after("CreateRepository", &config.name)
    }

    async fn update_repository(
        &self,
        target: &Target,
        _before: &RepositoryConfig,
        after: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        self.call_at(target, "UpdateRepository", &after.name)
            .await?;
        self.world()
            .repositories
            .insert(key(target, &after.name), after.clone());
        Ok(())
    }

    async fn delete_repository(
        &self,
        target: &Target,
        name: &str,
        force: bool,
    ) -> Result<(), CloudError> {
        self.call_at(target, "DeleteRepository", name).await?;
        let mut w = self.world();
        let k = key(target, name);
        if !force && w.images.get(&k).is_some_and(|i| !i.is_empty()) {
            return Err(api_error(
                "DeleteRepository",
                "RepositoryNotEmptyException",
                "The repository cannot be deleted because it still contains images",
            ));
        }
        w.repositories.remove(&k);
        w.policies.remove(&k);
        w.images.remove(&k);
        Ok(())
    }

    async fn put_repository_policy(
        &self,
        target: &Target,
        repository: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.call_at(target, "SetRepositoryPolicy", repository)
            .await?;
        let mut w = self.world();
        let k = key(target, repository);
        if !w.repositories.contains_key(&k) {
            return Err(api_error(
                "SetRepositoryPolicy",
                "RepositoryNotFoundException",
                "The repository does not exist",
            ));
        }
        w.policies.insert(k, policy.to_string());
        Ok(())
    }

    async fn delete_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<(), CloudError> {
        self.call_at(target, "DeleteRepositoryPolicy", repository)
            .await?;
        self.world().policies.remove(&key(target, repository));
        Ok(())
    }

    async fn read_replication(&self, target: &Target) -> Result<Option<String>, CloudError> {
        self.call_at(target, "DescribeRegistry", "").await?;
        Ok(self.world().replication.get(&registry(target)).cloned())
    }

    async fn put_replication(
        &self,
        target: &Target,
        configuration: Option<&str>,
    ) -> Result<(), CloudError> {
        self.call_at(target, "PutReplicationConfiguration", "")
            .await?;
        let mut w = self.world();
        match configuration.filter(|c| !crate::replication::is_empty(c)) {
            Some(c) => w.replication.insert(registry(target), c.to_string()),
            None => w.replication.remove(&registry(target)),
        };
        Ok(())
    }

    async fn read_registry_policy(&self, target: &Target) -> Result<Option<String>, CloudError> {
        self.call_at(target, "GetRegistryPolicy", "").await?;
        Ok(self
            .world()
            .registry_policies
            .get(&registry(target))
            .cloned())
    }

    async fn put_registry_policy(&self, target: &Target, policy: &str) -> Result<(), CloudError> {
        self.call_at(target, "PutRegistryPolicy", "").await?;
        self.world()
            .registry_policies
            .insert(registry(target), policy.to_string());
        Ok(())
    }

    async fn delete_registry_policy(&self, target: &Target) -> Result<(), CloudError> {
        self.call_at(target, "DeleteRegistryPolicy", "").await?;
        self.world().registry_policies.remove(&registry(target));
        Ok(())
    }

    /// The fake replicates nothing by itself: a destination holding the digest is COMPLETE,
    /// any other IN_PROGRESS.
    async fn replication_status(
        &self,
        target: &Target,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<ReplicaStatus>, CloudError> {
        self.call_at(target, "DescribeImageReplicationStatus", repository)
            .await?;
        let w = self.world();
        let Some(text) = w.replication.get(&registry(target)) else {
            return Ok(Vec::new());
        };
        let config: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let mut out = Vec::new();
        for rule in config["rules"].as_array().into_iter().flatten() {
            let matches = rule["repositoryFilters"].as_array().is_none_or(|f| {
                f.iter().any(|f| {
                    f["filter"]
                        .as_str()
                        .is_some_and(|p| repository.starts_with(p))
                })
            });
            for d in rule["destinations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|_| matches)
            {
                let (region, id) = (
                    d["region"].as_str().unwrap_or_default(),
                    d["registryId"].as_str().unwrap_or_default(),
                );
                let held = w
                    .images
                    .get(&(id.to_string(), region.to_string(), repository.to_string()))
                    .is_some_and(|tags| tags.values().any(|v| v == digest));
                out.push(ReplicaStatus {
                    region: region.to_string(),
                    registry_id: id.to_string(),
                    status: if held { "COMPLETE" } else { "IN_PROGRESS" }.to_string(),
                    failure: None,
                });
            }
        }
        Ok(out)
    }

    async fn start_create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.call_at(target, "CreateFunction", &config.name).await?;
        let mut w = self.world();
        let k = key(target, &config.name);
        match w.functions.get(&k) {
            // A retried create that finds the function its first attempt made (see AwsCloud).
            Some(live) if super::same_owner(&live.tags, &config.tags) => {}
            Some(_) => {
                return Err(CloudError::created_elsewhere(
                    &super::FUNCTION_EXISTS,
                    target,
                    &config.name,
                    &config.tags,
                ));
            }
            None => {
                w.functions.insert(k.clone(), config.clone());
                if let Some(sim) = &self.sim {
                    self.sim_state.lock().expect("sim").created(sim, k);
                }
            }
        }
        drop(w);
        self.after("CreateFunction", &config.name)
    }

    async fn create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.start_create_function(target, config).await?;
        // As AWS's waiter: a look every second until Active.
        while !self.function_settled(target, &config.name).await? {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
        Ok(())
    }

    async fn function_settled(&self, target: &Target, name: &str) -> Result<bool, CloudError> {
        if self.sim.is_none() {
            return Ok(true);
        }
        // GetFunction, as AwsCloud looks.
        self.call_at(target, "GetFunction", name).await?;
        Ok(self
            .sim_state
            .lock()
            .expect("sim")
            .settled(&key(target, name)))
    }

    async fn update_function(
        &self,
        target: &Target,
        _before: &FunctionConfig,
        after: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.call_at(target, "UpdateFunction", &after.name).await?;
        self.world()
            .functions
            .insert(key(target, &after.name), after.clone());
        self.after("UpdateFunction", &after.name)
    }

    async fn delete_function(&self, target: &Target, name: &str) -> Result<(), CloudError> {
        self.call_at(target, "DeleteFunction", name).await?;
        self.world().functions.remove(&key(target, name));
        Ok(())
    }
}
