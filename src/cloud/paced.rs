//! Pacing: a [`Cloud`] wrapper that keeps every call within AWS's quotas instead of meeting
//! them with errors. Per account and region, each call takes a token from its service's bucket
//! (Lambda's shared control plane, GetFunction, ECR writes, ECR reads, STS) and holds one of
//! that place's in-flight slots, plus one global slot, only while the call is on the wire:
//! waiting for a function to become Active (or for a bucket) holds no global slot, so other
//! accounts' calls go on. A throttling answer halves the bucket's rate (as the SDK's adaptive
//! mode does), the call is retried, and the user never sees it; each success wins back a
//! twentieth of the configured rate.
//!
//! May not touch: what a call does (the inner cloud), the order of steps (the schedule).

use super::{Cloud, CloudError, FunctionConfig, ImageLookup, LiveFunction, RepositoryConfig};
use crate::model::{ImageRef, Target};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// Which quota a call counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Every Lambda API but GetFunction (15 requests/s per account and region on AWS).
    LambdaControl,
    /// GetFunction (100/s on AWS).
    GetFunction,
    EcrWrite,
    EcrRead,
    Sts,
}

/// The rates (requests per second) and caps of a [`Paced`] cloud.
#[derive(Clone, Debug)]
pub struct Limits {
    pub lambda_control: f64,
    pub get_function: f64,
    pub ecr_write: f64,
    pub ecr_read: f64,
    pub sts: f64,
    /// Calls in flight per account and region (`--parallelism`).
    pub per_place: usize,
    /// Calls in flight in all.
    pub global: usize,
    /// Between two looks at a function that is not Active (or not updated) yet.
    pub poll: Duration,
    /// Throttling answers retried per call before the last one is returned.
    pub throttle_retries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lambda_control: 10.0,
            get_function: 50.0,
            ecr_write: 10.0,
            ecr_read: 50.0,
            sts: 50.0,
            per_place: 10,
            global: 100,
            poll: Duration::from_secs(1),
            throttle_retries: 10,
        }
    }
}

impl Limits {
    /// The defaults with `[project]`'s rates and `--parallelism` (calls in flight per account
    /// and region).
    pub fn of(rates: &crate::model::Rates, per_place: usize) -> Self {
        let d = Limits::default();
        let or = |v: Option<u32>, d: f64| v.map_or(d, f64::from);
        Limits {
            lambda_control: or(rates.lambda, d.lambda_control),
            get_function: or(rates.get_function, d.get_function),
            ecr_write: or(rates.ecr, d.ecr_write),
            per_place: per_place.max(1),
            ..d
        }
    }

    /// How many steps may run at once when this pacing caps the calls: waiting steps hold no
    /// call slot, so the step cap only bounds memory (10,000 waiting steps by default: more
    /// functions than one apply activates at once would otherwise wait in rounds).
    pub fn steps_at_once(&self) -> usize {
        self.global * 100
    }

    fn rate(&self, class: Class) -> f64 {
        match class {
            Class::LambdaControl => self.lambda_control,
            Class::GetFunction => self.get_function,
            Class::EcrWrite => self.ecr_write,
            Class::EcrRead => self.ecr_read,
            Class::Sts => self.sts,
        }
    }
}

/// Whether AWS answered that the caller goes too fast.
pub fn is_throttling(e: &CloudError) -> bool {
    e.code().is_some_and(|c| {
        matches!(
            c,
            "TooManyRequestsException"
                | "ThrottlingException"
                | "Throttling"
                | "ThrottledException"
                | "RequestLimitExceeded"
                | "RateExceeded"
        )
    })
}

/// A token bucket that hands out reservations: a call takes its token at once (the count may go
/// below zero) and waits until the token's time, so waiters are served in order without polling.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    ceiling: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: f64) -> Self {
        Bucket {
            rate,
            ceiling: rate,
            // One second's worth at once: AWS's buckets allow the same burst.
            tokens: rate.max(1.0),
            last: Instant::now(),
        }
    }

    /// How long the caller waits for its token.
    fn reserve(&mut self) -> Duration {
        let now = Instant::now();
        let burst = self.rate.max(1.0);
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(burst);
        self.last = now;
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    fn throttled(&mut self) {
        self.rate = (self.rate / 2.0).max(self.ceiling / 64.0).max(0.1);
        self.tokens = self.tokens.min(0.0);
    }

    fn succeeded(&mut self) {
        self.rate = (self.rate + self.ceiling / 20.0).min(self.ceiling);
    }
}

type Place = (String, String);
type Buckets = HashMap<(Place, Class), Arc<Mutex<Bucket>>>;

/// What a [`Paced`] cloud counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Calls made, per class (a retried one counts each time).
    pub calls: BTreeMap<Class, usize>,
    /// Throttling answers absorbed (retried, never shown).
    pub throttled: usize,
    /// The most calls in flight at once, overall.
    pub most_in_flight: usize,
}

/// Wraps a cloud so that its calls stay within [`Limits`].
pub struct Paced<C> {
    inner: C,
    limits: Limits,
    buckets: Mutex<Buckets>,
    slots: Mutex<HashMap<Place, Arc<Semaphore>>>,
    global: Arc<Semaphore>,
    counts: Mutex<(Counts, usize)>,
}

impl<C: Cloud> Paced<C> {
    pub fn new(inner: C, limits: Limits) -> Self {
        Paced {
            inner,
            global: Arc::new(Semaphore::new(limits.global.max(1))),
            limits,
            buckets: Default::default(),
            slots: Default::default(),
            counts: Default::default(),
        }
    }

    pub fn inner(&self) -> &C {
        &self.inner
    }

    pub fn counts(&self) -> Counts {
        self.counts.lock().expect("counts").0.clone()
    }

    fn bucket(&self, target: &Target, class: Class) -> Arc<Mutex<Bucket>> {
        let key = ((target.account_id.clone(), target.region.clone()), class);
        self.buckets
            .lock()
            .expect("buckets")
            .entry(key)
            .or_insert_with(|| Arc::new(Mutex::new(Bucket::new(self.limits.rate(class)))))
            .clone()
    }

    fn slots(&self, target: &Target) -> Arc<Semaphore> {
        self.slots
            .lock()
            .expect("slots")
            .entry((target.account_id.clone(), target.region.clone()))
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.per_place.max(1))))
            .clone()
    }

    /// Runs one API call within the limits, retrying throttling answers.
    pub async fn call<T, F, Fut>(
        &self,
        target: &Target,
        class: Class,
        mut f: F,
    ) -> Result<T, CloudError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CloudError>>,
    {
        let bucket = self.bucket(target, class);
        let slots = self.slots(target);
        let mut throttles = 0;
        loop {
            let place = slots.acquire().await.expect("slots are never closed");
            let wait = bucket.lock().expect("bucket").reserve();
            tokio::time::sleep(wait).await;
            let global = self.global.acquire().await.expect("never closed");
            {
                let mut c = self.counts.lock().expect("counts");
                *c.0.calls.entry(class).or_insert(0) += 1;
                c.1 += 1;
                c.0.most_in_flight = c.0.most_in_flight.max(c.1);
            }
            let result = f().await;
            self.counts.lock().expect("counts").1 -= 1;
            drop(global);
            drop(place);
            match result {
                Err(e) if is_throttling(&e) && throttles < self.limits.throttle_retries => {
                    throttles += 1;
                    self.counts.lock().expect("counts").0.throttled += 1;
                    bucket.lock().expect("bucket").throttled();
                    tracing::debug!("throttled in {}: {e}; slowing down", target.account_id);
                }
                other => {
                    if other.is_ok() {
                        bucket.lock().expect("bucket").succeeded();
                    }
                    return other;
                }
            }
        }
    }

    /// Looks (paced) until the function settled, holding nothing between looks.
    async fn settle(&self, target: &Target, name: &str) -> Result<(), CloudError> {
        loop {
            let settled = self
                .call(target, Class::GetFunction, || {
                    self.inner.function_settled(target, name)
                })
                .await?;
            if settled {
                return Ok(());
            }
            tokio::time::sleep(self.limits.poll).await;
        }
    }
}

#[async_trait]
impl<C: Cloud> Cloud for Paced<C> {
    async fn verify_account(&self, target: &Target) -> Result<(), CloudError> {
        self.call(target, Class::Sts, || self.inner.verify_account(target))
            .await
    }

    async fn read_repositories(
        &self,
        target: &Target,
        names: &[String],
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.read_repositories(target, names)
        })
        .await
    }

    async fn list_repositories(
        &self,
        target: &Target,
    ) -> Result<BTreeMap<String, RepositoryConfig>, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.list_repositories(target)
        })
        .await
    }

    async fn organization_accounts(
        &self,
        via: &Target,
        parent: &str,
    ) -> Result<Vec<super::OrgAccount>, CloudError> {
        // Organizations has its own quotas, far from what discovery asks.
        self.inner.organization_accounts(via, parent).await
    }

    async fn list_functions(&self, target: &Target) -> Result<Vec<String>, CloudError> {
        self.call(target, Class::LambdaControl, || {
            self.inner.list_functions(target)
        })
        .await
    }

    async fn read_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<Option<String>, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.read_repository_policy(target, repository)
        })
        .await
    }

    async fn repository_has_images(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<bool, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.repository_has_images(target, repository)
        })
        .await
    }

    async fn resolve_images(
        &self,
        target: &Target,
        repository: &str,
        refs: &[ImageRef],
    ) -> Result<Vec<ImageLookup>, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.resolve_images(target, repository, refs)
        })
        .await
    }

    async fn read_function(
        &self,
        target: &Target,
        name: &str,
    ) -> Result<Option<LiveFunction>, CloudError> {
        self.call(target, Class::GetFunction, || {
            self.inner.read_function(target, name)
        })
        .await
    }

    async fn create_repository(
        &self,
        target: &Target,
        config: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.create_repository(target, config)
        })
        .await
    }

    async fn update_repository(
        &self,
        target: &Target,
        before: &RepositoryConfig,
        after: &RepositoryConfig,
    ) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.update_repository(target, before, after)
        })
        .await
    }

    async fn delete_repository(
        &self,
        target: &Target,
        name: &str,
        force: bool,
    ) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.delete_repository(target, name, force)
        })
        .await
    }

    async fn put_repository_policy(
        &self,
        target: &Target,
        repository: &str,
        policy: &str,
    ) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.put_repository_policy(target, repository, policy)
        })
        .await
    }

    async fn delete_repository_policy(
        &self,
        target: &Target,
        repository: &str,
    ) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.delete_repository_policy(target, repository)
        })
        .await
    }

    async fn read_replication(&self, target: &Target) -> Result<Option<String>, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.read_replication(target)
        })
        .await
    }

    async fn put_replication(
        &self,
        target: &Target,
        configuration: Option<&str>,
    ) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.put_replication(target, configuration)
        })
        .await
    }

    async fn read_registry_policy(&self, target: &Target) -> Result<Option<String>, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.read_registry_policy(target)
        })
        .await
    }

    async fn put_registry_policy(&self, target: &Target, policy: &str) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.put_registry_policy(target, policy)
        })
        .await
    }

    async fn delete_registry_policy(&self, target: &Target) -> Result<(), CloudError> {
        self.call(target, Class::EcrWrite, || {
            self.inner.delete_registry_policy(target)
        })
        .await
    }

    async fn replication_status(
        &self,
        target: &Target,
        repository: &str,
        digest: &str,
    ) -> Result<Vec<super::ReplicaStatus>, CloudError> {
        self.call(target, Class::EcrRead, || {
            self.inner.replication_status(target, repository, digest)
        })
        .await
    }

    /// CreateFunction under the limits, then paced looks until it is Active: the wait holds no
    /// slot.
    async fn create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.call(target, Class::LambdaControl, || {
            self.inner.start_create_function(target, config)
        })
        .await?;
        self.settle(target, &config.name).await
    }

    async fn start_create_function(
        &self,
        target: &Target,
        config: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.call(target, Class::LambdaControl, || {
            self.inner.start_create_function(target, config)
        })
        .await
    }

    async fn function_settled(&self, target: &Target, name: &str) -> Result<bool, CloudError> {
        self.call(target, Class::GetFunction, || {
            self.inner.function_settled(target, name)
        })
        .await
    }

    /// An update is several calls with waits between them inside the inner cloud: it holds its
    /// slot throughout (a known limit: updates are rarer than creates in a bootstrap).
    async fn update_function(
        &self,
        target: &Target,
        before: &FunctionConfig,
        after: &FunctionConfig,
    ) -> Result<(), CloudError> {
        self.call(target, Class::LambdaControl, || {
            self.inner.update_function(target, before, after)
        })
        .await
    }

    async fn delete_function(&self, target: &Target, name: &str) -> Result<(), CloudError> {
        self.call(target, Class::LambdaControl, || {
            self.inner.delete_function(target, name)
        })
        .await
    }
}

#[cfg(test)]
#[path = "paced_tests.rs"]
mod tests;
