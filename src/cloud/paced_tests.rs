//! The pacer on tokio's paused clock, over the fake's simulated AWS (latency, Pending, Lambda's
//! quotas answering TooManyRequestsException).

use super::*;
use crate::cloud::fake::{FakeCloud, Simulation};

fn target(n: usize) -> Target {
    Target {
        account: format!("a{n}"),
        account_id: format!("{:012}", 100 + n),
        region: "us-east-1".into(),
    }
}

fn config(n: usize) -> FunctionConfig {
    FunctionConfig {
        name: format!("f{n}"),
        ..crate::cloud::test_config("s")
    }
}

fn sim(activation_s: u64) -> Simulation {
    Simulation {
        activation: Duration::from_secs(activation_s),
        ..Simulation::default()
    }
}

/// Creates `per_account` functions in each of `accounts` accounts at once.
async fn create_all(paced: &Paced<FakeCloud>, accounts: usize, per_account: usize) {
    let calls = (0..accounts).flat_map(|a| (0..per_account).map(move |f| (a, f)));
    let results = futures::future::join_all(
        calls.map(|(a, f)| async move { paced.create_function(&target(a), &config(f)).await }),
    )
    .await;
    for r in results {
        r.expect("every create succeeds");
    }
}

#[tokio::test(start_paused = true)]
async fn the_buckets_keep_calls_under_the_quota() {
    // 60 creates in one account against a 15/s quota, paced at 10/s: never refused.
    let paced = Paced::new(FakeCloud::simulated(sim(0)), Limits::default());
    create_all(&paced, 1, 60).await;
    assert_eq!(paced.inner().throttled(), 0);
    let counts = paced.counts();
    assert_eq!(counts.throttled, 0);
    // One CreateFunction and one look (GetFunction: Active at once) per function.
    assert_eq!(counts.calls[&Class::LambdaControl], 60);
    assert_eq!(counts.calls[&Class::GetFunction], 60);
    assert_eq!(paced.inner().snapshot().functions.len(), 60);
}

#[tokio::test(start_paused = true)]
async fn a_throttling_answer_slows_the_bucket_and_never_reaches_the_caller() {
    // Paced at 100/s against a 15/s quota: AWS refuses some; each is retried.
    let limits = Limits {
        lambda_control: 100.0,
        per_place: 100,
        ..Limits::default()
    };
    let paced = Paced::new(FakeCloud::simulated(sim(0)), limits);
    create_all(&paced, 1, 60).await;
    let refused = paced.inner().throttled();
    assert!(
        refused > 0,
        "the quota was never hit: the test proves nothing"
    );
    let counts = paced.counts();
    assert_eq!(counts.throttled, refused);
    // Every refused call was made again: 60 successful creates plus the refused ones.
    assert_eq!(counts.calls[&Class::LambdaControl], 60 + refused);
    assert_eq!(counts.calls[&Class::GetFunction], 60);
    assert_eq!(paced.inner().snapshot().functions.len(), 60);
}

#[tokio::test(start_paused = true)]
async fn waiting_for_active_holds_no_slot() {
    // Two calls in flight at most, 10 functions each Pending for 20 s: if a wait held a slot,
    // the creates would take 5 × 20 s; they overlap instead.
    let limits = Limits {
        per_place: 2,
        global: 2,
        ..Limits::default()
    };
    let paced = Paced::new(FakeCloud::simulated(sim(20)), limits);
    let t0 = tokio::time::Instant::now();
    create_all(&paced, 10, 1).await;
    let counts = paced.counts();
    assert!(counts.most_in_flight <= 2, "{counts:?}");
    assert!(t0.elapsed() < Duration::from_secs(25), "{:?}", t0.elapsed());
    // Per function: one create, then looks 1.05 s apart (a 1 s pause and the 50 ms round
    // trip) until the 20 s of Pending are over: the 20th look, at 20.05 s, finds it Active.
    assert_eq!(counts.calls[&Class::LambdaControl], 10);
    assert_eq!(counts.calls[&Class::GetFunction], 10 * 20);
}

#[tokio::test(start_paused = true)]
async fn one_account_s_quota_does_not_slow_another() {
    let paced = &Paced::new(FakeCloud::simulated(sim(0)), Limits::default());
    let t0 = tokio::time::Instant::now();
    create_all(paced, 1, 1).await;
    let alone = t0.elapsed();
    let t0 = tokio::time::Instant::now();
    // 20 other accounts, one function each: each has its own bucket and slots.
    let others =
        (1..=20).map(|a| async move { paced.create_function(&target(a), &config(0)).await });
    for r in futures::future::join_all(others).await {
        r.expect("create");
    }
    assert_eq!(t0.elapsed(), alone);
    assert_eq!(paced.inner().throttled(), 0);
}
