//! Lambda's quota and Pending functions, end to end against moto (issue 12 item 5): the proxy
//! enforces 15 requests per second per account and region (100/s for GetFunction) with AWS's
//! 429 TooManyRequestsException, and keeps every new function Pending for a while, as Lambda does
//! while it optimizes a container image (moto throttles nothing and makes functions Active at
//! once). The apply of 3 accounts × 8 functions succeeds and the user never reads of throttling:
//! at ferry's default pace because it stays under the quota, at 40 requests/s because every
//! throttled call is slowed down and retried inside ferry (against a quota without a burst,
//! so that throttling happens whatever the machine's pace).

#[path = "support/faults.rs"]
mod faults;
mod support;

use faults::Proxy;
use std::time::Duration;
use support::World;
use support::fixtures::{fleet_declarations, fleet_ready};

const IDS: [&str; 3] = ["220000000001", "220000000002", "220000000003"];
/// Functions per account.
const FUNCTIONS: usize = 8;

/// The repository applied and holding `hello:01`, `functions` functions declared in each of
/// three accounts, then ferry routed through a proxy that enforces Lambda's quota and keeps
/// functions Pending for 3 s.
fn world(project_extra: &str, functions: usize) -> (World, Proxy) {
    let keys: Vec<String> = (0..functions).map(|f| format!("fn{f}")).collect();
    let full = fleet_declarations("quota", project_extra, &IDS, &keys);
    let mut w = fleet_ready(&full, &IDS);
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.enforce_lambda_quota(15.0, 100.0);
    proxy.keep_pending(Duration::from_secs(3));
    (w, proxy)
}

/// Applies, and checks what the user reads and what the accounts hold.
fn apply_all(w: &World, proxy: &Proxy, functions: usize, parallelism: &str) {
    let run = w
        .ferry(&["apply", "--auto-approve", "--parallelism", parallelism])
        .expect(0);
    let all = format!("{}\n{}", run.stdout, run.stderr).to_lowercase();
    for never in ["throttl", "rate exceeded", "toomanyrequests", "retrying"] {
        assert!(!all.contains(never), "the user reads `{never}`: {all}");
    }
    assert!(
        all.contains(&format!("{} added", functions * IDS.len() + 1)),
        "{all}"
    );
    // Lambda kept them Pending, and ferry waited until they were Active.
    assert!(
        proxy.pending_answers() >= functions * IDS.len(),
        "every function was seen Pending at least once: {}",
        proxy.pending_answers()
    );
    for id in IDS {
        let live = w.admin("functions", id, &[]);
        let live = live.as_object().unwrap();
        assert_eq!(live.len(), functions, "{id}: {live:#?}");
    }
    let again = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes"), "{}", again.stdout);
}

#[test]
fn at_the_default_pace_the_quota_is_never_met() {
    let (w, proxy) = world("", FUNCTIONS);
    apply_all(&w, &proxy, FUNCTIONS, "10");
    // 10 requests/s per account and region by default, under Lambda's 15.
    assert_eq!(proxy.throttled(), 0, "ferry paced itself under the quota");
}

#[test]
fn above_the_quota_every_throttled_call_is_retried_unseen() {
    // 64 calls in flight per account, and a quota without a burst (one call per 1/15 s):
    // whatever moto's and the journal's pace, ferry's first calls at 40/s come closer together
    // than that, so the proxy throttles some of them on every run.
    let (w, proxy) = world("lambda_requests_per_second = 40\n", FUNCTIONS);
    proxy.without_burst();
    apply_all(&w, &proxy, FUNCTIONS, "64");
    assert!(
        proxy.throttled() > 0,
        "at 40/s against a quota of 15/s the proxy must have throttled"
    );
}
