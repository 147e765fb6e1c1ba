//! The fake's imitation of AWS's timing, for the scale benchmark and the scheduler tests: a
//! round trip per call, Lambda's quotas as token buckets, and functions Pending after their
//! create. All in tokio time, so a paused clock makes it exact.

use super::Key;
use crate::cloud::CloudError;
use crate::model::Target;
use std::collections::BTreeMap;

/// How the fake imitates AWS's timing (in tokio time, so a paused clock makes it exact).
#[derive(Clone, Debug)]
pub struct Simulation {
    /// Every call's round trip.
    pub latency: std::time::Duration,
    /// How long a created function stays Pending.
    pub activation: std::time::Duration,
    /// Lambda's quotas per account and region (requests/s): every API but GetFunction, and
    /// GetFunction. Exceeding one answers TooManyRequestsException.
    pub lambda_control: f64,
    pub get_function: f64,
}

impl Default for Simulation {
    /// The benchmark's: 50 ms per call, 20 s of Pending, AWS's 15/s and 100/s.
    fn default() -> Self {
        Simulation {
            latency: std::time::Duration::from_millis(50),
            activation: std::time::Duration::from_secs(20),
            lambda_control: 15.0,
            get_function: 100.0,
        }
    }
}

/// What the simulation keeps between calls.
#[derive(Default)]
pub(super) struct SimState {
    /// (account id, region, is GetFunction) → (tokens, last refill).
    quotas: BTreeMap<(String, String, bool), (f64, tokio::time::Instant)>,
    /// Functions still Pending, until when.
    pending: BTreeMap<Key, tokio::time::Instant>,
    pub(super) throttled: usize,
}

impl SimState {
    /// Takes a Lambda call's token from its quota, or answers as AWS does when there is none.
    /// Calls of other services are not limited.
    pub(super) fn admit(
        &mut self,
        sim: &Simulation,
        target: &Target,
        operation: &str,
    ) -> Result<(), CloudError> {
        let lambda = matches!(
            operation,
            "GetFunction"
                | "GetFunctionConfiguration"
                | "CreateFunction"
                | "UpdateFunction"
                | "DeleteFunction"
        );
        if !lambda {
            return Ok(());
        }
        let get = operation == "GetFunction";
        let rate = if get {
            sim.get_function
        } else {
            sim.lambda_control
        };
        let now = tokio::time::Instant::now();
        let (tokens, last) = self
            .quotas
            .entry((target.account_id.clone(), target.region.clone(), get))
            .or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *tokens < 1.0 {
            self.throttled += 1;
            return Err(CloudError::Api {
                operation: operation.to_string(),
                account_id: target.account_id.clone(),
                region: target.region.clone(),
                code: "TooManyRequestsException".into(),
                message: "Rate exceeded".into(),
            });
        }
        *tokens -= 1.0;
        Ok(())
    }

    /// A function was just created: Pending for the simulation's activation time.
    pub(super) fn created(&mut self, sim: &Simulation, function: Key) {
        self.pending
            .insert(function, tokio::time::Instant::now() + sim.activation);
    }

    /// Whether the function is Active now (forgetting it once it is).
    pub(super) fn settled(&mut self, function: &Key) -> bool {
        match self.pending.get(function) {
            Some(until) if *until > tokio::time::Instant::now() => false,
            _ => {
                self.pending.remove(function);
                true
            }
        }
    }
}
