//! The propagation retry policy, as data: which errors are worth retrying (AWS refuses a
//! just-written policy or role until it propagates) and how long to wait between attempts.
//! Like kube-runtime's `error_policy`, the policy only answers "retry after how long, or give
//! up"; the executor does the waiting.
//!
//! May not touch: the cloud, the state; it decides from an error, an attempt count and a
//! duration.

use crate::cloud::CloudError;
use std::time::Duration;

/// Whether AWS may return this error only because a just-written policy or role has not
/// propagated yet.
pub fn is_propagation_error(e: &CloudError) -> bool {
    match e {
        CloudError::Api { code, message, .. } => {
            (code == "AccessDeniedException" && message.contains("access the ECR image"))
                || (code == "InvalidParameterValueException"
                    && message.contains("cannot be assumed by Lambda"))
        }
        _ => false,
    }
}

/// How propagation errors are retried: first after `base`, each wait twice the previous one
/// and at most `cap`, until the next wait would pass `timeout` since the first attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub timeout: Duration,
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after this wait.
    Retry(Duration),
    /// A propagation error that outlasted the timeout.
    GiveUp,
    /// Not an error that waiting fixes.
    Fail,
}

impl RetryPolicy {
    /// The longest wait between two attempts.
    pub const CAP: Duration = Duration::from_secs(10);

    /// The policy of an apply's options.
    pub fn of(options: &super::Options) -> Self {
        RetryPolicy {
            base: options.retry_base,
            cap: Self::CAP,
            timeout: options.propagation_timeout,
        }
    }

    /// The wait after failed attempt `attempt` (counting from 1).
    pub fn wait(&self, attempt: u32) -> Duration {
        let mut wait = self.base;
        for _ in 1..attempt {
            wait = wait.saturating_mul(2).min(self.cap);
        }
        wait
    }

    /// After attempt `attempt` failed with `error`, `elapsed` since the first attempt started.
    pub fn verdict(&self, error: &CloudError, attempt: u32, elapsed: Duration) -> Verdict {
        if !is_propagation_error(error) {
            return Verdict::Fail;
        }
        let wait = self.wait(attempt);
        if elapsed + wait > self.timeout {
            Verdict::GiveUp
        } else {
            Verdict::Retry(wait)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: &str, message: &str) -> CloudError {
        CloudError::Api {
            operation: "CreateFunction".into(),
            account_id: "222222222222".into(),
            region: "us-east-1".into(),
            code: code.into(),
            message: message.into(),
        }
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn waits_double_up_to_the_cap() {
        let waits: Vec<u64> = (1..=6).map(|n| policy().wait(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn only_propagation_errors_are_retried_and_only_until_the_timeout() {
        let denied = api(
            "AccessDeniedException",
            "Lambda does not have permission to access the ECR image",
        );
        assert_eq!(
            policy().verdict(&denied, 1, Duration::ZERO),
            Verdict::Retry(Duration::from_secs(1))
        );
        // The next wait (10 s) would pass the 60 s timeout.
        assert_eq!(
            policy().verdict(&denied, 6, Duration::from_secs(55)),
            Verdict::GiveUp
        );
        let other = api(
            "AccessDeniedException",
            "not authorized to perform lambda:X",
        );
        assert_eq!(policy().verdict(&other, 1, Duration::ZERO), Verdict::Fail);
        let role = api(
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        );
        assert!(matches!(
            policy().verdict(&role, 2, Duration::ZERO),
            Verdict::Retry(_)
        ));
    }
}
