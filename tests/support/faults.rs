//! A fault-injecting HTTP proxy between ferry and moto (`AWS_ENDPOINT_URL` points at it).
//!
//! moto never throttles, never fails with a 5xx and never enforces ECR policies, so the proxy
//! answers chosen requests with AWS's real error responses, in each service's own wire format
//! (ECR's JSON 1.1, Lambda's REST-JSON, the XML of STS and IAM), adds latency, hangs, or resets the
//! connection; everything else goes to moto unchanged. It counts every call by service and
//! operation, for tests and benchmarks.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to a matching request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with AWS's error response for this status, code and message.
    Aws {
        status: u16,
        code: String,
        message: String,
    },
    /// Wait, then forward.
    Latency(Duration),
    /// Never answer.
    Hang,
    /// Close the connection without an answer.
    Reset,
    /// Answer 200 with this JSON body (ECR's JSON 1.1): an answer moto never gives.
    Json(String),
    /// Answer with this status and body, as they are: a damaged answer, an HTML error page.
    Raw { status: u16, body: String },
    /// Forward the request, then pass on only the first this many bytes of the answer's body
    /// (a complete HTTP answer whose body was cut short on the way).
    CutShort(usize),
    /// Forward the request (AWS does the work), then answer with the inner fault instead of
    /// AWS's answer: a response lost on the way back, a process killed after the effect.
    After(Box<Fault>),
}

impl Fault {
    fn aws(status: u16, code: &str, message: &str) -> Fault {
        Fault::Aws {
            status,
            code: code.to_string(),
            message: message.to_string(),
        }
    }

    /// CreateFunction's answer when the repository policy does not let Lambda pull.
    pub fn lambda_ecr_access_denied() -> Fault {
        Fault::aws(
            403,
            "AccessDeniedException",
            "Lambda does not have permission to access the ECR image. Check the ECR permissions.",
        )
    }

    pub fn lambda_role_cannot_be_assumed() -> Fault {
        Fault::aws(
            400,
            "InvalidParameterValueException",
            "The role defined for the function cannot be assumed by Lambda.",
        )
    }

    /// The call takes effect; then `self` happens instead of its answer.
    pub fn after_the_effect(self) -> Fault {
        Fault::After(Box::new(self))
    }

    pub fn lambda_throttled() -> Fault {
        Fault::aws(429, "TooManyRequestsException", "Rate exceeded")
    }

    pub fn ecr_throttled() -> Fault {
        Fault::aws(400, "ThrottlingException", "Rate exceeded")
    }

    pub fn lambda_quota_exceeded() -> Fault {
        Fault::aws(
            400,
            "CodeStorageExceededException",
            "Code storage limit exceeded.",
        )
    }

    /// A 500 with the service's own error code.
    pub fn internal_error(service: &str) -> Fault {
        let code = match service {
            "lambda" => "ServiceException",
            "ecr" => "ServerException",
            _ => "InternalFailure",
        };
        Fault::aws(
            500,
            code,
            "We encountered an internal error. Please try again.",
        )
    }
}

/// Which requests a rule applies to. `None` matches anything.
#[derive(Clone, Debug, Default)]
pub struct Match {
    pub service: Option<String>,
    pub operation: Option<String>,
    pub resource: Option<String>,
    /// Fire on about this many percent of the matching calls, decided by a seeded generator.
    pub percent: Option<(u32, u64)>,
}

impl Match {
    pub fn operation(service: &str, operation: &str) -> Match {
        Match {
            service: Some(service.to_string()),
            operation: Some(operation.to_string()),
            ..Match::default()
        }
    }

    pub fn service(service: &str) -> Match {
        Match {
            service: Some(service.to_string()),
            ..Match::default()
        }
    }

    pub fn on(mut self, resource: &str) -> Match {
        self.resource = Some(resource.to_string());
        self
    }

    pub fn percent(mut self, percent: u32, seed: u64) -> Match {
        self.percent = Some((percent, seed));
        self
    }
}

/// A fault for matching calls: skips the first `after`, then fires `times` times (or always).
#[derive(Clone, Debug)]
pub struct Rule {
    pub when: Match,
    pub fault: Fault,
    pub after: usize,
    pub times: Option<usize>,
}

impl Rule {
    pub fn new(when: Match, fault: Fault) -> Rule {
        Rule {
            when,
            fault,
            after: 0,
            times: None,
        }
    }

    pub fn times(mut self, n: usize) -> Rule {
        self.times = Some(n);
        self
    }

    pub fn after(mut self, n: usize) -> Rule {
        self.after = n;
        self
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub resource: Option<String>,
    /// The fault injected, if any.
    pub injected: Option<String>,
}

struct RuleState {
    rule: Rule,
    seen: usize,
    fired: usize,
    rng: u64,
}

struct Shared {
    upstream: SocketAddr,
    rules: Mutex<Vec<RuleState>>,
    calls: Mutex<Vec<Call>>,
    lambda: Mutex<LambdaSim>,
    /// Per operation: calls forwarded upstream, and the time the upstream took to answer them.
    answered: Mutex<std::collections::BTreeMap<String, (usize, Duration)>>,
}

/// Lambda as AWS runs it where moto does not: its request quota and its Pending functions.
#[derive(Default)]
struct LambdaSim {
    /// Requests per second per account and region: (GetFunction, every other API).
    quota: Option<(f64, f64)>,
    /// The most requests a bucket lets through at once: one second's worth unless set.
    burst: Option<f64>,
    /// Token buckets by (access key, region, whether GetFunction): tokens and when counted.
    buckets: std::collections::HashMap<(String, String, bool), (f64, std::time::Instant)>,
    throttled: usize,
    /// How long a created function stays Pending (and an updated one InProgress).
    pending: Option<Duration>,
    /// When each function was created or updated, by (access key, region, name).
    changed: std::collections::HashMap<(String, String, String), (std::time::Instant, bool)>,
    pending_answers: usize,
}

impl LambdaSim {
    /// Whether the quota lets this call through now (taking its token).
    fn admit(&mut self, key: &str, region: &str, operation: &str) -> bool {
        let Some((get_function, control)) = self.quota else {
            return true;
        };
        let is_get = operation == "GetFunction";
        let rate = if is_get { get_function } else { control };
        let burst = self.burst.unwrap_or(rate);
        let now = std::time::Instant::now();
        let (tokens, last) = self
            .buckets
            .entry((key.to_string(), region.to_string(), is_get))
            .or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            self.throttled += 1;
            false
        }
    }

    /// Rewrites a successful answer as Lambda gives it while a function is being created or
    /// updated: `State: Pending` for a while after CreateFunction, `LastUpdateStatus:
    /// InProgress` after an update.
    fn rewrite(&mut self, key: &str, region: &str, call: &Call, body: &[u8]) -> Option<Vec<u8>> {
        let pending = self.pending?;
        let name = call.resource.clone()?;
        let id = (key.to_string(), region.to_string(), name);
        let created = match call.operation.as_str() {
            "CreateFunction" => Some(true),
            "UpdateFunctionCode" | "UpdateFunctionConfiguration" => Some(false),
            "GetFunction" | "GetFunctionConfiguration" => None,
            _ => return None,
        };
        if let Some(created) = created {
            self.changed
                .insert(id.clone(), (std::time::Instant::now(), created));
        }
        let (at, created) = *self.changed.get(&id)?;
        if at.elapsed() >= pending {
            return None;
        }
        let mut json: serde_json::Value = serde_json::from_slice(body).ok()?;
        let config = if call.operation == "GetFunction" {
            json.get_mut("Configuration")?
        } else {
            &mut json
        };
        let config = config.as_object_mut()?;
        if created {
            config.insert("State".into(), "Pending".into());
            config.insert(
                "StateReason".into(),
                "The function is being created.".into(),
            );
            config.insert("StateReasonCode".into(), "Creating".into());
        } else {
            config.insert("LastUpdateStatus".into(), "InProgress".into());
            config.insert(
                "LastUpdateStatusReason".into(),
                "The function is being updated.".into(),
            );
            config.insert("LastUpdateStatusReasonCode".into(), "Creating".into());
        }
        self.pending_answers += 1;
        serde_json::to_vec(&json).ok()
    }
}

/// The credential scope of a signed request, `Credential=AKID/20261125/us-east-1/lambda/aws4_request`,
/// split at its slashes (empty when unsigned).
fn credential_scope(parts: &hyper::http::request::Parts) -> Vec<String> {
    parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split(',').next())
        .map(|s| s.split('/').map(str::to_string).collect())
        .unwrap_or_default()
}

/// (access key id, region) of a signed request: the key stands for the account, since each
/// account's assumed-role session has its own.
fn signer(parts: &hyper::http::request::Parts) -> (String, String) {
    let scope = credential_scope(parts);
    let at = |i: usize| scope.get(i).cloned().unwrap_or_default();
    (at(0), at(2))
}

/// The running proxy; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1 in front of `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let shared = Arc::new(Shared {
            upstream,
            rules: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            lambda: Mutex::new(LambdaSim::default()),
            answered: Mutex::new(Default::default()),
        });
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let accept_shared = shared.clone();
        runtime.spawn(async move {
            let client: hyper_util::client::legacy::Client<_, Full<Bytes>> =
                hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http();
            while let Ok((stream, _)) = listener.accept().await {
                let shared = accept_shared.clone();
                let client = client.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        handle(req, shared.clone(), client.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            addr,
            shared,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_rule(&self, rule: Rule) {
        let seed = rule.when.percent.map_or(1, |(_, s)| s.max(1));
        self.shared.rules.lock().expect("rules").push(RuleState {
            rule,
            seen: 0,
            fired: 0,
            rng: seed,
        });
    }

    pub fn clear_rules(&self) {
        self.shared.rules.lock().expect("rules").clear();
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().expect("calls").clone()
    }

    /// Calls of `operation` seen so far (injected ones included).
    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    /// Enforces Lambda's request quota per account and region as AWS does: `control` requests
    /// per second shared by every API but GetFunction, `get_function` for GetFunction, each a
    /// token bucket holding one second's worth; a call over it is answered 429
    /// TooManyRequestsException.
    pub fn enforce_lambda_quota(&self, control: f64, get_function: f64) {
        self.shared.lambda.lock().expect("lambda").quota = Some((get_function, control));
    }

    /// Lets no burst through the quota: one call per 1/rate seconds (AWS promises no burst).
    pub fn without_burst(&self) {
        self.shared.lambda.lock().expect("lambda").burst = Some(1.0);
    }

    /// Keeps every function this long `Pending` after its CreateFunction (and `InProgress` after
    /// an update), in the answers of GetFunction and GetFunctionConfiguration, as Lambda does
    /// while it optimizes a container image; moto makes functions Active at once.
    pub fn keep_pending(&self, pending: Duration) {
        self.shared.lambda.lock().expect("lambda").pending = Some(pending);
    }

    /// The calls of `operation` (`service:Operation`) forwarded upstream, and the time the
    /// upstream took to answer them in all (the proxy's own latency not included).
    pub fn upstream_time(&self, operation: &str) -> (usize, Duration) {
        let answered = self.shared.answered.lock().expect("answered");
        answered.get(operation).copied().unwrap_or_default()
    }

    /// Calls the quota answered with 429.
    pub fn throttled(&self) -> usize {
        self.shared.lambda.lock().expect("lambda").throttled
    }

    /// Answers rewritten to say Pending or InProgress.
    pub fn pending_answers(&self) -> usize {
        self.shared.lambda.lock().expect("lambda").pending_answers
    }

    pub fn reset_counts(&self) {
        self.shared.calls.lock().expect("calls").clear();
        self.shared.answered.lock().expect("answered").clear();
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    let (service, operation, resource) = identify(&parts, &body);
    let (key, region) = signer(&parts);
    if service == "lambda"
        && !shared
            .lambda
            .lock()
            .expect("lambda")
            .admit(&key, &region, &operation)
    {
        shared.calls.lock().expect("calls").push(Call {
            service: service.clone(),
            operation,
            resource,
            injected: Some("quota".into()),
        });
        return Ok(aws_error(
            &service,
            429,
            "TooManyRequestsException",
            "Rate exceeded",
        ));
    }
    let fault = choose(&shared, &service, &operation, resource.as_deref());
    let call = Call {
        service: service.clone(),
        operation: operation.clone(),
        resource,
        injected: fault.as_ref().map(|f| format!("{f:?}")),
    };
    shared.calls.lock().expect("calls").push(call.clone());
    let (before, after) = match fault {
        Some(Fault::After(inner)) => (None, Some(*inner)),
        other => (other, None),
    };
    if let Some(Fault::CutShort(n)) = before {
        let (mut parts, body) = forward(parts, body, &shared, &client).await?.into_parts();
        let whole = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        let cut = whole.slice(..n.min(whole.len()));
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        return Ok(Response::from_parts(parts, Full::new(cut)));
    }
    if let Some(answer) = inject(&service, before).await {
        return answer;
    }
    let sent = std::time::Instant::now();
    let mut answer = forward(parts, body, &shared, &client).await?;
    {
        let mut answered = shared.answered.lock().expect("answered");
        let (n, took) = answered
            .entry(format!("{service}:{operation}"))
            .or_default();
        *n += 1;
        *took += sent.elapsed();
    }
    if service == "lambda" && answer.status().is_success() {
        let (mut parts, body) = answer.into_parts();
        let whole = body
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes();
        let rewritten = shared
            .lambda
            .lock()
            .expect("lambda")
            .rewrite(&key, &region, &call, &whole);
        let body = match rewritten {
            Some(b) => {
                parts.headers.remove(hyper::header::CONTENT_LENGTH);
                Bytes::from(b)
            }
            None => whole,
        };
        answer = Response::from_parts(parts, Full::new(body));
    }
    match inject(&service, after).await {
        Some(instead) => instead,
        None => Ok(answer),
    }
}

/// What a fault answers in place of the upstream's answer, or `None` to let the call through.
async fn inject(
    service: &str,
    fault: Option<Fault>,
) -> Option<Result<Response<Full<Bytes>>, std::io::Error>> {
    match fault? {
        Fault::Aws {
            status,
            code,
            message,
        } => Some(Ok(aws_error(service, status, &code, &message))),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Some(Err(std::io::Error::other("hung")))
        }
        Fault::Reset => Some(Err(std::io::Error::other("connection reset by the proxy"))),
        Fault::Json(body) => Some(
            Response::builder()
                .status(StatusCode::OK)
                .header("Content-Type", "application/x-amz-json-1.1")
                .header("x-amzn-RequestId", "ferry-proxy-0000-0000-000000000000")
                .body(Full::new(Bytes::from(body)))
                .map_err(std::io::Error::other),
        ),
        Fault::Raw { status, body } => Some(
            Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .header("Content-Type", "application/json")
                .header("x-amzn-RequestId", "ferry-proxy-0000-0000-000000000000")
                .body(Full::new(Bytes::from(body)))
                .map_err(std::io::Error::other),
        ),
        Fault::CutShort(_) => None,
        Fault::Latency(d) => {
            tokio::time::sleep(d).await;
            None
        }
        Fault::After(inner) => Box::pin(inject(service, Some(*inner))).await,
    }
}

async fn forward(
    parts: hyper::http::request::Parts,
    body: Bytes,
    shared: &Shared,
    client: &hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        Full<Bytes>,
    >,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let uri = format!(
        "http://{}{}",
        shared.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut forward = Request::builder().method(parts.method).uri(uri);
    for (k, v) in &parts.headers {
        forward = forward.header(k, v);
    }
    let forward = forward
        .body(Full::new(body))
        .map_err(std::io::Error::other)?;
    let answer = client
        .request(forward)
        .await
        .map_err(std::io::Error::other)?;
    let (parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(std::io::Error::other)?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// The rule that fires for this call, if any (every matching rule counts the call).
fn choose(
    shared: &Shared,
    service: &str,
    operation: &str,
    resource: Option<&str>,
) -> Option<Fault> {
    let mut rules = shared.rules.lock().expect("rules");
    let mut chosen = None;
    for r in rules.iter_mut() {
        let m = &r.rule.when;
        let matches = m.service.as_deref().is_none_or(|s| s == service)
            && m.operation.as_deref().is_none_or(|o| o == operation)
            && m.resource.as_deref().is_none_or(|x| Some(x) == resource);
        if !matches {
            continue;
        }
        r.seen += 1;
        if r.seen <= r.rule.after || r.rule.times.is_some_and(|t| r.fired >= t) {
            continue;
        }
        if let Some((percent, _)) = m.percent {
            // splitmix64: deterministic for a seed, well mixed from the first draw.
            r.rng = r.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = r.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            if z % 100 >= u64::from(percent) {
                continue;
            }
        }
        if chosen.is_none() {
            r.fired += 1;
            chosen = Some(r.rule.fault.clone());
        }
    }
    chosen
}

/// (service, operation, resource) of an AWS request, as AWS itself would tell.
fn identify(parts: &hyper::http::request::Parts, body: &[u8]) -> (String, String, Option<String>) {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let service = credential_scope(parts)
        .get(3)
        .cloned()
        .unwrap_or_else(|| "unknown".to_string());
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    if let Some(target) = header("x-amz-target") {
        let operation = target.rsplit('.').next().unwrap_or(&target).to_string();
        let resource = json
            .as_ref()
            .and_then(|j| j.get("repositoryName"))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        return (service, operation, resource);
    }
    let text = String::from_utf8_lossy(body);
    if let Some(action) = text.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
        return (service, action.to_string(), None);
    }
    let path = percent_decode(parts.uri.path());
    let method = parts.method.as_str();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (operation, resource) = match (method, segments.as_slice()) {
        ("POST", [_, "functions"]) => (
            "CreateFunction",
            json.as_ref()
                .and_then(|j| j.get("FunctionName"))
                .and_then(|v| v.as_str())
                .map(str::to_string),
        ),
        ("GET", [_, "functions"]) => ("ListFunctions", None),
        ("GET", [_, "functions", name]) => ("GetFunction", Some(name.to_string())),
        ("DELETE", [_, "functions", name]) => ("DeleteFunction", Some(name.to_string())),
        ("GET", [_, "functions", name, "configuration"]) => {
            ("GetFunctionConfiguration", Some(name.to_string()))
        }
        ("PUT", [_, "functions", name, "configuration"]) => {
            ("UpdateFunctionConfiguration", Some(name.to_string()))
        }
        ("PUT", [_, "functions", name, "code"]) => ("UpdateFunctionCode", Some(name.to_string())),
        ("POST", [_, "tags", ..]) => ("TagResource", None),
        ("DELETE", [_, "tags", ..]) => ("UntagResource", None),
        ("GET", [_, "tags", ..]) => ("ListTags", None),
        _ => ("Unknown", None),
    };
    (service, operation.to_string(), resource)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..(i + 3).min(s.len())], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// AWS's error response in the service's wire format.
fn aws_error(service: &str, status: u16, code: &str, message: &str) -> Response<Full<Bytes>> {
    let request_id = "ferry-proxy-0000-0000-000000000000";
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let builder = Response::builder()
        .status(status)
        .header("x-amzn-RequestId", request_id);
    let escape = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let response = match service {
        "lambda" => builder
            .header("Content-Type", "application/json")
            .header("x-amzn-ErrorType", code)
            .body(Full::new(Bytes::from(format!(
                "{{\"Type\":\"{}\",\"message\":{}}}",
                if status.is_server_error() { "Service" } else { "User" },
                escape(message)
            )))),
        "sts" | "iam" => builder.header("Content-Type", "text/xml").body(Full::new(Bytes::from(
            format!(
                "<ErrorResponse><Error><Type>{}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                if status.is_server_error() { "Receiver" } else { "Sender" }
            ),
        ))),
        _ => builder
            .header("Content-Type", "application/x-amz-json-1.1")
            .body(Full::new(Bytes::from(format!(
                "{{\"__type\":\"{code}\",\"message\":{}}}",
                escape(message)
            )))),
    };
    response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
