//! Benchmark: ferry at scale (issue 12, item 7), printing one table and rewriting the `scale`
//! section of BENCHMARKS.md (only the lines between `<!-- BEGIN scale -->` and `<!-- END scale -->`).
//!
//! - the planner alone on 10,000 functions / 1,000 repositories / 100 accounts, first, so that
//!   the peak RSS (VmHWM) is the planner's run and not the simulations';
//! - `ferry validate`'s work (parse, merge, validate, derive every policy) on 10,000 declarations;
//! - apply and no-op plan (refresh + plan) of 1 / 20 / 100 accounts × 25 functions × 10
//!   repositories on the simulated fake cloud (50 ms per call, 20 s Pending, Lambda's quotas as
//!   buckets) behind ferry's own `Paced` with its defaults, on tokio's paused clock, so the
//!   times are simulated and exact; each beside its bound;
//! - the API calls of those no-op plans against their lower bound.
//!
//! Run with `cargo bench --bench scale` or `scripts/bench`. Times are printed, never asserted.

#[path = "../tests/support/plain.rs"]
mod plain;
#[path = "scale/report.rs"]
mod report;

use ferry::apply;
use ferry::cloud::fake::{FakeCloud, Simulation};
use ferry::cloud::paced::{Limits, Paced, is_throttling};
use ferry::model::{Desired, Target};
use ferry::planner::{self, Operation, Plan};
use ferry::refresh;
use ferry::state::StateStore;
use plain::{Quiet, desired, lineage_state};
use report::Row;
use std::collections::BTreeMap;
use std::time::Instant;

const DIGEST: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const FUNCTIONS: usize = 25;
const REPOSITORIES: usize = 10;
/// The dependency levels of a refresh: STS identity → repository listing → policy, image and
/// function reads (a GetFunction needs only the identity, but shares the last level's round trip).
const REFRESH_LEVELS: u32 = 3;

fn account_id(a: usize) -> String {
    format!("{:012}", 300_000_000_000u64 + a as u64)
}

/// `accounts` accounts, each its own registry of `repositories` repositories (one image each)
/// and `functions` functions, function `f` on image `f % repositories`. Without functions, only
/// the repositories (the estate before its images are pushed).
fn declarations(accounts: usize, functions: usize, repositories: usize, with: bool) -> String {
    let mut t = String::from("[project]\nname = \"scale\"\ndefault_region = \"us-east-1\"\n");
    for a in 0..accounts {
        let id = account_id(a);
        t +=
            &format!("\n[accounts.a{a}]\nid = \"{id}\"\n\n[registries.r{a}]\naccount = \"a{a}\"\n");
        for r in 0..repositories {
            t += &format!("\n[repositories.a{a}-repo{r}]\nregistry = \"r{a}\"\n");
            if with {
                t += &format!(
                    "\n[images.a{a}-img{r}]\nrepository = \"a{a}-repo{r}\"\ntag = \"v1\"\n"
                );
            }
        }
        if with {
            for f in 0..functions {
                t += &format!(
                    "\n[functions.a{a}-fn{f}]\naccount = \"a{a}\"\nimage = \"a{a}-img{}\"\n\
                     role = \"arn:aws:iam::{id}:role/LambdaRole\"\n",
                    f % repositories
                );
            }
        }
    }
    t
}

fn target(d: &Desired, a: usize) -> Target {
    d.repositories[&format!("a{a}-repo0")].target.clone()
}

fn push_images(fake: &FakeCloud, d: &Desired, accounts: usize, repositories: usize) {
    for a in 0..accounts {
        for r in 0..repositories {
            fake.push_image(&target(d, a), &format!("a{a}-repo{r}"), "v1", DIGEST);
        }
    }
}

fn options(limits: &Limits) -> apply::Options {
    apply::Options {
        parallelism: limits.steps_at_once(),
        ..apply::Options::default()
    }
}

/// Refresh and plan; panics on a plan error (the estates are valid by construction).
async fn plan(cloud: &dyn ferry::cloud::Cloud, d: &Desired, state: &dyn StateStore) -> Plan {
    let snap = state.snapshot().expect("memory state");
    let observed = refresh::refresh(cloud, d, &snap).await.expect("refresh");
    let p = planner::plan(d, &snap, &observed);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p
}

/// Calls on a step's longest path: the step's own calls (a CreateFunction is the create and the
/// look that finds it Active), plus its longest dependency's.
fn chain_calls(p: &Plan) -> u32 {
    let own = |op: &Operation| match op {
        Operation::CreateFunction { .. } => 2,
        Operation::Record | Operation::Move { .. } => 0,
        _ => 1,
    };
    let mut depth: BTreeMap<usize, u32> = BTreeMap::new();
    let mut steps: Vec<_> = p.steps.iter().collect();
    steps.sort_by_key(|s| s.level);
    for s in steps {
        let before = s.depends_on.iter().filter_map(|d| depth.get(d)).max();
        depth.insert(s.id, before.copied().unwrap_or(0) + own(&s.operation));
    }
    depth.values().copied().max().unwrap_or(0)
}

/// The most Lambda control-plane writes any one account and region makes.
fn busiest_writes(p: &Plan) -> usize {
    let mut per: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for s in &p.steps {
        let writes = match &s.operation {
            Operation::CreateFunction { .. }
            | Operation::UpdateFunction { .. }
            | Operation::DeleteFunction { .. } => 1,
            Operation::Replace { .. } => 2,
            _ => 0,
        };
        *per.entry((&s.target.account_id, &s.target.region))
            .or_default() += writes;
    }
    per.values().copied().max().unwrap_or(0)
}

/// The least time `calls` reads over `accounts` accounts take when at most `per_place` are in
/// flight per account and `global` in all, each one round trip, and no fewer than the levels.
fn capped_bound(accounts: usize, calls: usize, limits: &Limits, latency: f64) -> f64 {
    let per_account = calls.div_ceil(accounts).div_ceil(limits.per_place);
    let overall = calls.div_ceil(limits.global);
    (per_account.max(overall) as f64).max(f64::from(REFRESH_LEVELS)) * latency
}

/// One estate on the simulated cloud: its apply and its no-op plan, with their bounds.
fn simulate(accounts: usize) -> Vec<Row> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sim = Simulation::default();
        let latency = sim.latency.as_secs_f64();
        let limits = Limits::default();
        let cloud = Paced::new(FakeCloud::simulated(sim.clone()), limits.clone());
        let state = lineage_state();
        let label = format!("{accounts} × {FUNCTIONS} fn × {REPOSITORIES} repo");

        // The repositories first (an image is pushed into an existing repository), then the images.
        let bare = desired(&declarations(accounts, FUNCTIONS, REPOSITORIES, false));
        let p = plan(&cloud, &bare, &state).await;
        assert!(apply::execute(&p, &cloud, &state, &options(&limits), &Quiet).await.succeeded());
        let full = desired(&declarations(accounts, FUNCTIONS, REPOSITORIES, true));
        push_images(cloud.inner(), &full, accounts, REPOSITORIES);

        // The apply: every policy and every function.
        let p = plan(&cloud, &full, &state).await;
        let throttled = (cloud.inner().throttled(), cloud.counts().throttled);
        let t0 = tokio::time::Instant::now();
        let outcome = apply::execute(&p, &cloud, &state, &options(&limits), &Quiet).await;
        let took = t0.elapsed().as_secs_f64();
        let surfaced = outcome.failed.iter().filter(|(_, e)| is_throttling(e)).count();
        assert!(outcome.succeeded(), "{outcome:?}");
        let chain = f64::from(chain_calls(&p)) * latency + sim.activation.as_secs_f64();
        let writes = busiest_writes(&p) as f64;
        let bound = chain + writes / limits.lambda_control;
        let quota_bound = chain + writes / sim.lambda_control;
        let apply_row = Row::timed(
            format!("apply {label} ({} steps)", p.steps.len()),
            took,
            bound,
            1.15,
        )
        .note(format!(
            "bound at ferry's {}/s; vs AWS's {}/s bound {quota_bound:.2} s: {:.2} ×; throttled by the fake {}, absorbed by Paced {}, surfaced {surfaced}",
            limits.lambda_control,
            sim.lambda_control,
            took / quota_bound,
            cloud.inner().throttled() - throttled.0,
            cloud.counts().throttled - throttled.1,
        ))
        .failed_if(surfaced > 0);

        // The no-op plan: refresh and plan of the estate just applied.
        let calls_before = cloud.inner().calls().len();
        let throttled = cloud.inner().throttled();
        let t0 = tokio::time::Instant::now();
        let noop = plan(&cloud, &full, &state).await;
        let took = t0.elapsed().as_secs_f64();
        assert!(noop.steps.is_empty(), "not a no-op: {} steps", noop.steps.len());
        let calls = cloud.inner().calls().len() - calls_before;
        // STS per account, a listing per registry, a policy and an image lookup per repository,
        // a GetFunction per function.
        let lower = accounts * (1 + 1 + 2 * REPOSITORIES + FUNCTIONS);
        let plan_row = Row::timed(
            format!("no-op plan {label}"),
            took,
            f64::from(REFRESH_LEVELS) * latency,
            1.3,
        )
        .note(format!(
            "one round trip per level ({REFRESH_LEVELS}); under ferry's caps of {} calls in flight per account and {} in all, no refresh can beat {:.2} s; throttled by the fake {}",
            limits.per_place,
            limits.global,
            capped_bound(accounts, accounts * (1 + 1 + 2 * REPOSITORIES + FUNCTIONS), &limits, latency),
            cloud.inner().throttled() - throttled
        ));
        let calls_row = Row::count(format!("API calls, no-op plan {label}"), calls, lower, 1.05)
            .note("STS per account + listing per registry + policy and image per repository + GetFunction per function".into());
        vec![apply_row, plan_row, calls_row]
    })
}

/// The planner alone on 10,000 functions / 1,000 repositories / 100 accounts, from a prepared
/// live view: repositories and images live, nothing else (a plan that creates 1,000 policies
/// and 10,000 functions), then the same estate applied (a no-op plan).
fn planner_alone() -> Vec<Row> {
    let (accounts, functions, repositories) = (100, 100, 10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let d = desired(&declarations(accounts, functions, repositories, true));
    let cloud = FakeCloud::new();
    let state = lineage_state();
    let bare = desired(&declarations(accounts, functions, repositories, false));
    rt.block_on(async {
        let p = plan(&cloud, &bare, &state).await;
        assert!(
            apply::execute(&p, &cloud, &state, &options(&Limits::default()), &Quiet)
                .await
                .succeeded()
        );
    });
    push_images(&cloud, &d, accounts, repositories);
    let mut rows = Vec::new();
    for what in ["creating everything", "no-op"] {
        let snap = state.snapshot().expect("memory state");
        let observed = rt
            .block_on(refresh::refresh(&cloud, &d, &snap))
            .expect("refresh");
        let t0 = Instant::now();
        let p = planner::plan(&d, &snap, &observed);
        let took = t0.elapsed().as_secs_f64();
        assert!(p.errors.is_empty());
        rows.push(Row::timed(
            format!(
                "planner, 10,000 fn / 1,000 repo / 100 accounts, {what} ({} steps)",
                p.steps.len()
            ),
            took,
            1.0,
            1.0,
        ));
        if what == "creating everything" {
            rt.block_on(async {
                assert!(
                    apply::execute(&p, &cloud, &state, &options(&Limits::default()), &Quiet)
                        .await
                        .succeeded()
                );
            });
        }
    }
    let peak = report::peak_rss_mb();
    rows.push(Row::megabytes(
        "peak RSS of the planner runs (VmHWM)".into(),
        peak,
        200.0,
    ));
    rows
}

/// `ferry validate`'s work on 10,000 declarations: 100 accounts, 1,000 repositories, 1,000
/// images, 8,000 functions (plus 100 registries).
fn validate() -> Row {
    let text = declarations(100, 80, 10, true);
    let sources = plain::sources(&[("ferry.toml", &text)]);
    let t0 = Instant::now();
    let d = ferry::declarations::parse_sources(&sources, &|_| None).expect("valid");
    let oversized = ferry::policy::synthesize_all(&d)
        .values()
        .filter(|p| p.is_err())
        .count();
    let took = t0.elapsed().as_secs_f64();
    assert_eq!(oversized, 0);
    Row::timed("ferry validate, 10,000 declarations".into(), took, 0.2, 1.0)
        .note("parse, merge, validate, derive every policy".into())
}

fn main() {
    // Cargo passes `--bench`; a further argument names the one part to run (`planner`,
    // `validate` or `simulate`), and then BENCHMARKS.md is left alone.
    let only = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let runs = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let t0 = Instant::now();
    let mut rows = Vec::new();
    if runs("planner") {
        rows.extend(planner_alone());
    }
    if runs("validate") {
        rows.push(validate());
    }
    if runs("simulate") {
        for accounts in [1, 20, 100] {
            rows.extend(simulate(accounts));
        }
    }
    let table = report::table(&rows);
    println!("{table}");
    println!(
        "(benchmark ran {:.1} s of wall time)",
        t0.elapsed().as_secs_f64()
    );
    if only.is_some() {
        return;
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    match report::write_section(&path, "scale", &table) {
        Ok(()) => println!("wrote the `scale` section of {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}
