//! The retry and timeout policy of every SDK client, as data.

use super::errors;
use aws_config::retry::RetryConfig;
use std::time::Duration;

/// Bounds on one call: a connection that never answers is abandoned and retried rather than
/// hanging the apply (the waiters for Active and Successful have their own limit). An endpoint
/// that accepts and never answers is given up after the read timeout (`FERRY_READ_TIMEOUT`),
/// retried, and bounded in all by the operation timeout.
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(errors::CONNECT_TIMEOUT)
        .read_timeout(errors::read_timeout())
        .operation_attempt_timeout(errors::ATTEMPT_TIMEOUT)
        .operation_timeout(errors::OPERATION_TIMEOUT)
        .build()
}

/// Attempts per call (the first try included) unless AWS_MAX_ATTEMPTS says otherwise.
pub(super) const DEFAULT_MAX_ATTEMPTS: u32 = 8;

/// The one place ferry's retry policy is set: the SDK's standard mode (exponential backoff with
/// jitter; throttling and 5xx are retried) with more attempts than the SDK's default of 3,
/// because one apply makes many calls across accounts and a throttling burst must not fail it.
/// `AWS_RETRY_MODE` (standard | adaptive) and `AWS_MAX_ATTEMPTS` override the mode and the
/// attempts, as for every AWS tool; each keeps ferry's value for the other (choosing adaptive
/// mode must not silently drop to the SDK's 3 attempts). `None` for a value aws-config should
/// judge itself (an unknown mode, a malformed count), so its own error reaches the user.
pub fn retry_config(env: &dyn Fn(&str) -> Option<String>) -> Option<RetryConfig> {
    let base = match env("AWS_RETRY_MODE").as_deref().map(str::trim) {
        None | Some("") | Some("standard") => RetryConfig::standard(),
        Some("adaptive") => RetryConfig::adaptive(),
        Some(_) => return None,
    };
    let attempts = match env("AWS_MAX_ATTEMPTS") {
        None => DEFAULT_MAX_ATTEMPTS,
        Some(n) => match n.trim().parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => return None,
        },
    };
    Some(
        base.with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(20)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_aws_variables_override_ferry_s_retry_policy() {
        let none = |_: &str| None;
        let ours = retry_config(&none).expect("ferry's policy when nothing is set");
        assert_eq!(ours.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        assert_eq!(ours.mode(), aws_config::retry::RetryMode::Standard);
        // Each variable overrides its own part and keeps ferry's value for the other.
        let adaptive = |k: &str| (k == "AWS_RETRY_MODE").then(|| "adaptive".to_string());
        let a = retry_config(&adaptive).expect("adaptive");
        assert_eq!(a.mode(), aws_config::retry::RetryMode::Adaptive);
        assert_eq!(a.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        let attempts = |k: &str| (k == "AWS_MAX_ATTEMPTS").then(|| "20".to_string());
        let n = retry_config(&attempts).expect("20 attempts");
        assert_eq!(n.max_attempts(), 20);
        assert_eq!(n.mode(), aws_config::retry::RetryMode::Standard);
        // Values ferry does not understand are left to aws-config, which reports them.
        let bad = |k: &str| (k == "AWS_RETRY_MODE").then(|| "legacy-ish".to_string());
        assert!(retry_config(&bad).is_none());
    }
}
