//! The executor on the dependency schedule over the paced, simulated fake cloud (50 ms per call,
//! functions Pending for 20 s, Lambda's 15/s quota answering TooManyRequestsException), on
//! tokio's paused clock: virtual time, so the figures are exact and the test never waits.

#[path = "support/plain.rs"]
mod plain;

use ferry::apply;
use ferry::cloud::fake::{FakeCloud, Simulation};
use ferry::cloud::paced::{Class, Limits, Paced};
use ferry::model::Target;
use ferry::planner;
use ferry::refresh;
use ferry::state::{MemoryState, StateStore};
use plain::{Quiet, desired};
use std::time::Duration;

const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

/// A registry account and `accounts` consumer accounts with `per_account` functions each.
fn declarations(accounts: usize, per_account: usize, functions: bool) -> String {
    let mut t = String::from(
        "[project]\nname = \"p\"\ndefault_region = \"us-east-1\"\n\
         [accounts.registry]\nid = \"111111111111\"\n\
         [registries.central]\naccount = \"registry\"\n\
         [repositories.hello]\nregistry = \"central\"\n",
    );
    for a in 0..accounts {
        t += &format!(
            "[accounts.c{a}]\nid = \"{:012}\"\n",
            200_000_000_000u64 + a as u64
        );
    }
    if !functions {
        return t;
    }
    t += "[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n";
    for a in 0..accounts {
        for f in 0..per_account {
            t += &format!(
                "[functions.f{a}-{f}]\naccount = \"c{a}\"\nimage = \"hello\"\n\
                 role = \"arn:aws:iam::{:012}:role/R\"\n",
                200_000_000_000u64 + a as u64
            );
        }
    }
    t
}

async fn apply(cloud: &Paced<FakeCloud>, text: &str, state: &dyn StateStore, steps: usize) {
    let d = desired(text);
    let snap = state.snapshot().unwrap();
    let observed = refresh::refresh(cloud, &d, &snap).await.unwrap();
    let p = planner::plan(&d, &snap, &observed);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    let options = apply::Options {
        parallelism: steps,
        ..apply::Options::default()
    };
    let outcome = apply::execute(&p, cloud, state, &options, &Quiet).await;
    assert!(outcome.succeeded(), "{outcome:?}");
}

#[tokio::test(start_paused = true)]
async fn waiting_for_active_holds_no_slot_and_no_account_waits_for_another() {
    let (accounts, per_account) = (4, 8);
    let limits = Limits {
        per_place: 1,
        ..Limits::default()
    };
    let steps = limits.steps_at_once();
    let cloud = Paced::new(FakeCloud::simulated(Simulation::default()), limits);
    let state = MemoryState::default();
    apply(&cloud, &declarations(accounts, 0, false), &state, steps).await;
    let registry = Target {
        account: "registry".into(),
        account_id: "111111111111".into(),
        region: "us-east-1".into(),
    };
    cloud.inner().push_image(&registry, "hello", "01", DIGEST);
    let before = cloud.counts();
    let t0 = tokio::time::Instant::now();
    apply(
        &cloud,
        &declarations(accounts, per_account, true),
        &state,
        steps,
    )
    .await;
    let elapsed = t0.elapsed();
    let counts = cloud.counts();
    assert_eq!(
        cloud.inner().snapshot().functions.len(),
        accounts * per_account
    );
    // One call in flight per account and region, never more than one per place at once.
    assert!(counts.most_in_flight <= accounts + 1, "{counts:?}");
    // Lambda's quota never answered: the buckets kept the calls under it.
    assert_eq!(cloud.inner().throttled(), 0);
    assert_eq!(counts.throttled, 0);
    let lambda = |c: &ferry::cloud::paced::Counts| c.calls.get(&Class::LambdaControl).copied();
    let creates = lambda(&counts).unwrap_or(0) - lambda(&before).unwrap_or(0);
    assert_eq!(creates, accounts * per_account);
    // Holding a slot through the 20 s of Pending would take 8 × 20 s per account; waiting
    // outside the slot, all of an account's functions are Pending together.
    assert!(elapsed < Duration::from_secs(40), "{elapsed:?}");
}
