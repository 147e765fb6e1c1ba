//! Turning the SDK's errors into [`CloudError`]s a user can act on, in ferry's words: AWS's code
//! and message when AWS answered; the endpoint, what happened and what was tried when it did not;
//! and never the SDK's Debug output or the raw body of an answer (a GetFunction answer holds
//! the function's environment, secrets included).

use crate::cloud::CloudError;
use crate::model::Target;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ecr::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use std::error::Error;
use std::time::Duration;

/// How long to wait for the first byte of an answer, unless `FERRY_READ_TIMEOUT` (seconds)
/// says otherwise.
const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Connecting to an endpoint.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One attempt of one call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// One call, all its retries included: an endpoint that never answers ends here.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(180);

/// The read timeout in effect.
pub fn read_timeout() -> Duration {
    std::env::var("FERRY_READ_TIMEOUT")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_READ_TIMEOUT, Duration::from_secs_f64)
}

/// Which service an SDK error type belongs to (the crate names it).
fn service_of<E>() -> &'static str {
    let name = std::any::type_name::<E>();
    if name.contains("aws_sdk_ecr") {
        "ecr"
    } else if name.contains("aws_sdk_lambda") {
        "lambda"
    } else if name.contains("aws_sdk_s3") {
        "s3"
    } else {
        "sts"
    }
}

/// Where calls to `service` go: `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, or AWS's own
/// regional endpoint.
pub fn endpoint(service: &str, region: &str) -> String {
    let specific = format!("AWS_ENDPOINT_URL_{}", service.to_ascii_uppercase());
    for var in [specific.as_str(), "AWS_ENDPOINT_URL"] {
        if let Ok(url) = std::env::var(var)
            && !url.trim().is_empty()
        {
            return url;
        }
    }
    match service {
        "ecr" => format!("https://api.ecr.{region}.amazonaws.com"),
        other => format!("https://{other}.{region}.amazonaws.com"),
    }
}

/// How many attempts the SDK makes per call.
fn attempts() -> u32 {
    super::retry_config(&|k| std::env::var(k).ok())
        .map(|r| r.max_attempts())
        .unwrap_or(super::DEFAULT_MAX_ATTEMPTS)
}

/// What the SDK tried before giving up, in words.
fn tried() -> String {
    let attempts = attempts();
    format!(
        "tried up to {attempts} time{} with backoff, for at most {}s in all",
        if attempts == 1 { "" } else { "s" },
        OPERATION_TIMEOUT.as_secs()
    )
}

/// Each error of a chain, by Display, without the SDK's generic levels ("dispatch failure",
/// "io error") and without repeats.
pub fn chain_text(e: &(dyn Error + 'static)) -> String {
    const GENERIC: [&str; 7] = [
        "dispatch failure",
        "other",
        "io error",
        "user error",
        "timeout",
        "failed to construct request",
        "an error occurred while loading credentials",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty()
            && !GENERIC.contains(&text.as_str())
            && !parts.iter().any(|p| p.contains(&text))
        {
            parts.push(text);
        }
        next = err.source();
    }
    parts.join(": ")
}

fn find<'a, T: Error + 'static>(e: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        next = err.source();
    }
    None
}

/// What went wrong on the way to the endpoint, when that is what went wrong.
fn transport_problem(e: &(dyn Error + 'static)) -> Option<String> {
    let mut next: Option<&(dyn Error + 'static)> = Some(e);
    let mut connector = None;
    while let Some(err) = next {
        if let Some(c) = err.downcast_ref::<ConnectorError>()
            && (c.is_io() || c.is_timeout())
        {
            connector = Some(c);
            break;
        }
        next = err.source();
    }
    let c = connector?;
    if c.is_timeout() {
        let what = if chain_text(c).contains("connect") {
            format!(
                "it did not accept the connection within {}s",
                CONNECT_TIMEOUT.as_secs()
            )
        } else {
            format!(
                "it accepted the connection but sent no answer within {}s (the read timeout)",
                read_timeout().as_secs_f64()
            )
        };
        return Some(format!("{what}; {}", tried()));
    }
    let what = match find::<std::io::Error>(c) {
        Some(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "the connection was refused".to_string(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted => {
                "the connection was reset".to_string()
            }
            std::io::ErrorKind::UnexpectedEof => {
                "the connection closed before the answer was complete".to_string()
            }
            _ => io.to_string(),
        },
        None => chain_text(c),
    };
    Some(format!("{what}; {}", tried()))
}

/// Any SDK error of one call, as a [`CloudError`] with AWS's code and message, or ferry's own
/// words when AWS's answer did not arrive or could not be read.
pub fn api<E>(operation: &str, target: &Target, e: SdkError<E, HttpResponse>) -> CloudError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    if let Some(code) = e.code() {
        return CloudError::Api {
            operation: operation.to_string(),
            account_id: target.account_id.clone(),
            region: target.region.clone(),
            code: code.to_string(),
            message: e.message().unwrap_or_default().to_string(),
        };
    }
    let unreadable = |what: String| CloudError::Unreadable {
        operation: operation.to_string(),
        account_id: target.account_id.clone(),
        region: target.region.clone(),
        what,
    };
    let unreachable = |problem: String| CloudError::Endpoint {
        operation: operation.to_string(),
        account_id: target.account_id.clone(),
        region: target.region.clone(),
        endpoint: endpoint(service_of::<E>(), &target.region).into(),
        problem: problem.into(),
    };
    match &e {
        // Never the body: it may hold the function's environment.
        SdkError::ServiceError(context) => {
            let status = context.raw().status();
            unreadable(if status.is_success() {
                format!(
                    "HTTP {} with a body that is not this call's answer",
                    status.as_u16()
                )
            } else {
                format!(
                    "HTTP {} without an error code ferry could read",
                    status.as_u16()
                )
            })
        }
        SdkError::ResponseError(_) => {
            unreadable("it is not the answer the API gives to this call".into())
        }
        SdkError::TimeoutError(_) => unreachable(format!(
            "no complete answer within {}s, all attempts included; {}",
            OPERATION_TIMEOUT.as_secs(),
            tried()
        )),
        _ => {
            if let Some(problem) = transport_problem(&e) {
                return unreachable(problem);
            }
            if let Some(c) = find::<CredentialsError>(&e) {
                return CloudError::Credentials {
                    account: target.account.clone(),
                    account_id: target.account_id.clone(),
                    message: chain_text(c),
                    hint: None,
                };
            }
            CloudError::Api {
                operation: operation.to_string(),
                account_id: target.account_id.clone(),
                region: target.region.clone(),
                code: "RequestFailed".into(),
                message: chain_text(&e),
            }
        }
    }
}

/// A waiter's failure: the call it polls with, or that it gave up.
pub fn waited<O, E>(operation: &str, target: &Target, e: WaiterError<O, E>) -> CloudError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match e {
        WaiterError::OperationFailed(failed) => api(operation, target, failed.into_error()),
        WaiterError::ExceededMaxWait(w) => CloudError::Api {
            operation: operation.to_string(),
            account_id: target.account_id.clone(),
            region: target.region.clone(),
            code: "WaiterTimeout".into(),
            message: format!(
                "still not done after {}s ({} polls)",
                w.elapsed().as_secs(),
                w.poll_count()
            ),
        },
        other => CloudError::Api {
            operation: operation.to_string(),
            account_id: target.account_id.clone(),
            region: target.region.clone(),
            code: other.code().unwrap_or("WaiterFailed").to_string(),
            message: other.message().unwrap_or_default().to_string(),
        },
    }
}

/// The failure of an account's first call (STS GetCallerIdentity, with AssumeRole or an SSO
/// sign-in behind it): credentials that could not be had, with what to do about them.
pub fn identity<E>(
    target: &Target,
    account: Option<&crate::model::Account>,
    sso: bool,
    e: SdkError<E, HttpResponse>,
) -> CloudError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let profile = account.and_then(|a| a.profile.as_deref());
    let role = account.and_then(|a| a.role_arn.as_deref());
    let credentials = |message: String, hint: Option<String>| CloudError::Credentials {
        account: target.account.clone(),
        account_id: target.account_id.clone(),
        message,
        hint,
    };
    let sso_hint =
        |p: &str| format!("sign in again with `aws sso login --profile {p}`, then run ferry again");
    // AWS answered GetCallerIdentity itself: keep its code.
    if let Some(code) = e.code() {
        let message = format!(
            "STS GetCallerIdentity failed: {code}: {}",
            e.message().unwrap_or_default()
        );
        return credentials(message, code_hint(code, profile, sso));
    }
    let Some(c) = find::<CredentialsError>(&e) else {
        return api("STS GetCallerIdentity", target, e);
    };
    // Behind the credentials, AssumeRole may have had an answer with a code of its own.
    if let Some(assumed) = find::<
        aws_sdk_sts::error::SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError>,
    >(c)
    {
        if let Some(code) = assumed.code() {
            let message = format!(
                "STS AssumeRole of {} failed: {code}: {}",
                role.unwrap_or("the account's role"),
                assumed.message().unwrap_or_default()
            );
            return credentials(message, code_hint(code, profile, sso));
        }
        if let Some(problem) = transport_problem(assumed) {
            return CloudError::Endpoint {
                operation: format!("STS AssumeRole of {}", role.unwrap_or("the account's role")),
                account_id: target.account_id.clone(),
                region: target.region.clone(),
                endpoint: endpoint("sts", &target.region).into(),
                problem: problem.into(),
            };
        }
    }
    if let Some(problem) = transport_problem(c) {
        return CloudError::Endpoint {
            operation: "getting credentials".into(),
            account_id: target.account_id.clone(),
            region: target.region.clone(),
            endpoint: endpoint("sts", &target.region).into(),
            problem: problem.into(),
        };
    }
    match profile {
        Some(p) if sso => credentials(
            format!(
                "the SSO sign-in of profile `{p}` is missing or expired ({})",
                chain_text(c)
            ),
            Some(sso_hint(p)),
        ),
        Some(p) => credentials(
            format!("profile `{p}` gave no credentials: {}", chain_text(c)),
            Some(format!(
                "check the profile `{p}` in the AWS config files (`aws configure list --profile {p}` shows what it resolves to)"
            )),
        ),
        None => credentials(
            chain_text(c),
            Some(
                "give ferry credentials: the account's `profile`, AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN for temporary ones)"
                    .into(),
            ),
        ),
    }
}

/// What to do about an STS error code.
fn code_hint(code: &str, profile: Option<&str>, sso: bool) -> Option<String> {
    match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => {
            Some(match profile {
                Some(p) if sso => format!(
                    "the session token has expired: sign in again with `aws sso login --profile {p}`"
                ),
                Some(p) => format!(
                    "the session token has expired: refresh the credentials of profile `{p}`"
                ),
                None => "the session token has expired: get new temporary credentials (AWS_SESSION_TOKEN \
                         with its AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                    .to_string(),
            })
        }
        "InvalidClientTokenId" | "SignatureDoesNotMatch" | "UnrecognizedClientException" => Some(
            "the access key is not valid (mistyped, deleted or deactivated): check which credentials \
             are in effect with `aws sts get-caller-identity`"
                .into(),
        ),
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => Some(
            "STS is throttling this account's calls even after the SDK's retries; wait and run again, or \
             raise AWS_MAX_ATTEMPTS"
                .into(),
        ),
        "AccessDenied" | "AccessDeniedException" => Some(
            "the credentials may not assume that role: check the role's trust policy (and `external_id`)"
                .into(),
        ),
        _ => None,
    }
}

/// Runs an account's first call, saying on stderr (a warning) each time a read timeout passes
/// without an answer: an endpoint that accepts and never answers is retried, and the user is
/// told which one it is while it is.
pub async fn telling_when_slow<F: std::future::Future>(
    what: &str,
    endpoint: &str,
    call: F,
) -> F::Output {
    let every = read_timeout();
    let started = std::time::Instant::now();
    tokio::pin!(call);
    loop {
        tokio::select! {
            out = &mut call => return out,
            () = tokio::time::sleep(every) => tracing::warn!(
                "no answer from {endpoint} for {what} after {:.0}s; the call is being retried \
                 (up to {} attempts, at most {}s in all)",
                started.elapsed().as_secs_f64(),
                attempts(),
                OPERATION_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Says on stderr (a warning) when an attempt of a call got no answer or lost its connection
/// and the SDK is about to retry it: later calls of a run, after the account's first, that meet
/// an endpoint gone silent are not waited for without a word.
#[derive(Debug)]
pub struct RetryNotice;

/// The address an attempt was sent to (the request is gone once the attempt failed).
#[derive(Clone, Debug)]
struct AttemptAddress(String);

impl aws_smithy_types::config_bag::Storable for AttemptAddress {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for RetryNotice {
    fn name(&self) -> &'static str {
        "ferry::RetryNotice"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let uri = context.request().uri();
        let address = uri.split('?').next().unwrap_or(uri).to_string();
        cfg.interceptor_state().store_put(AttemptAddress(address));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let Some(Err(e)) = context.output_or_error() else {
            return Ok(());
        };
        let silent = e.is_timeout_error()
            || e.as_connector_error()
                .is_some_and(|c| c.is_timeout() || c.is_io());
        let attempt = cfg
            .load::<aws_smithy_runtime_api::client::retries::RequestAttempts>()
            .map_or(1, |a| a.attempts());
        let max = attempts();
        if silent && attempt < max {
            let operation = cfg
                .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
                .map_or("a call".to_string(), |m| {
                    format!("{} {}", m.service(), m.name())
                });
            let endpoint = cfg
                .load::<AttemptAddress>()
                .map_or("the endpoint".to_string(), |a| a.0.clone());
            tracing::warn!(
                "{operation}: no answer from {endpoint} (attempt {attempt} of {max}); the call is being retried"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::operation::get_function::GetFunctionError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    const SECRET: &str = "hunter2-in-the-body";

    fn target() -> Target {
        Target {
            account: "prod".into(),
            account_id: "222222222222".into(),
            region: "us-east-1".into(),
        }
    }

    fn answer(status: u16) -> HttpResponse {
        HttpResponse::new(
            StatusCode::try_from(status).expect("a status"),
            SdkBody::from(format!(
                "{{\"Environment\": {{\"DB_PASSWORD\": \"{SECRET}\""
            )),
        )
    }

    #[test]
    fn a_damaged_answer_is_named_without_its_body() {
        let e: SdkError<GetFunctionError, HttpResponse> =
            SdkError::response_error(format!("unexpected EOF after {SECRET}"), answer(200));
        let err = api("GetFunction", &target(), e);
        let text = err.to_string();
        assert!(matches!(err, CloudError::Unreadable { .. }), "{text}");
        assert!(text.contains("GetFunction in account 222222222222 (us-east-1)"));
        assert!(!text.contains(SECRET), "{text}");
        let unhandled = GetFunctionError::generic(Default::default());
        let e = SdkError::service_error(unhandled, answer(502));
        let text = api("GetFunction", &target(), e).to_string();
        assert!(text.contains("HTTP 502 without an error code"), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }

    #[test]
    fn an_endpoint_that_refuses_or_is_silent_is_named_with_what_was_tried() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e: SdkError<GetFunctionError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(refused.into()));
        let err = api("GetFunction", &target(), e);
        assert!(matches!(&err, CloudError::Endpoint { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("the connection was refused; tried up to")
        );
        let e: SdkError<GetFunctionError, HttpResponse> = SdkError::dispatch_failure(
            ConnectorError::timeout("HTTP read timeout occurred".into()),
        );
        let text = api("GetFunction", &target(), e).to_string();
        assert!(text.contains("sent no answer within"), "{text}");
        let e: SdkError<GetFunctionError, HttpResponse> =
            SdkError::timeout_error("operation timeout (all attempts including retries)");
        let text = api("GetFunction", &target(), e).to_string();
        assert!(text.contains("no complete answer within 180s"), "{text}");
    }

    #[test]
    fn aws_s_own_errors_keep_its_code_and_message() {
        let meta = aws_sdk_lambda::error::ErrorMetadata::builder()
            .code("ResourceConflictException")
            .message("The operation cannot be performed at this time.")
            .build();
        let e = SdkError::service_error(GetFunctionError::generic(meta), answer(409));
        let err = api("GetFunction", &target(), e);
        assert_eq!(err.code(), Some("ResourceConflictException"));
        assert!(err.to_string().ends_with(
            "ResourceConflictException: The operation cannot be performed at this time."
        ));
        assert!(!err.to_string().contains(SECRET));
    }
}
