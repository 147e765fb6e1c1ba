//! Benchmark: the moto cross-check of the scale benchmark (issue 12, item 7). The real `ferry`
//! binary against moto through the test proxy, which adds 50 ms to every call, keeps every new
//! function Pending for 3 s and enforces Lambda's 15 requests/s per account and region (100/s for
//! GetFunction) with AWS's 429. It applies and re-plans 5 accounts × 10 functions, and, as the
//! bound, 1 account × 1 function in a world of its own: the bound of the big apply is the small
//! one's time plus the busiest account's remaining writes at ferry's 10/s; the bound of the big
//! no-op plan is the small one's (the same dependency levels, one round trip each). Prints one
//! table and rewrites the `scale_moto` section of BENCHMARKS.md.
//!
//! Run with `cargo bench --bench scale_moto` (or `scripts/bench --all`); it needs the moto venv
//! (`scripts/setup-env.sh`). Times are printed, never asserted: moto's own speed is part of them.

#[path = "../tests/support/faults.rs"]
mod faults;
#[path = "scale/report.rs"]
mod report;
#[path = "../tests/support/mod.rs"]
mod support;

use faults::{Fault, Match, Proxy, Rule};
use report::Row;
use std::time::{Duration, Instant};
use support::{REGISTRY, World};

const LATENCY: Duration = Duration::from_millis(50);
const FERRY_RATE: f64 = 10.0;

fn account_id(a: usize) -> String {
    format!("{:012}", 230_000_000_000u64 + a as u64)
}

fn declarations(accounts: usize, functions: usize, with_image: bool) -> String {
    let mut d = format!(
        "[project]\nname = \"moto-scale\"\ndefault_region = \"us-east-1\"\n\
         assume_role = \"arn:aws:iam::{{account_id}}:role/FerryDeployer\"\n\n\
         [accounts.registry]\nid = \"{REGISTRY}\"\n"
    );
    let keys: Vec<String> = (0..accounts).map(|a| format!("\"c{a}\"")).collect();
    for a in 0..accounts {
        d += &format!("\n[accounts.c{a}]\nid = \"{}\"\n", account_id(a));
    }
    d += &format!(
        "\n[account_groups.fleet]\naccounts = [{}]\n\
         \n[defaults.functions]\nrole = \"arn:aws:iam::{{account_id}}:role/LambdaRole\"\n\
         \n[registries.central]\naccount = \"registry\"\n\
         \n[repositories.hello]\nregistry = \"central\"\n",
        keys.join(", ")
    );
    if with_image {
        d += "\n[images.hello]\nrepository = \"hello\"\ntag = \"01\"\n";
        for f in 0..functions {
            d += &format!(
                "\n[functions.fn{f}]\naccounts = [\"fleet\"]\nimage = \"hello\"\nname = \"fn{f}-{{account_id}}\"\n"
            );
        }
    }
    d
}

/// What one estate measured: its apply and its no-op plan, and the no-op plan's calls.
struct Measured {
    apply: f64,
    plan: f64,
    plan_calls: usize,
    /// The no-op plan's calls by operation.
    plan_ops: String,
    throttled: usize,
    shown_throttling: bool,
    /// The apply's CreateFunction calls and the time moto took to answer them, all together.
    creates_in_moto: (usize, Duration),
}

fn measure(accounts: usize, functions: usize) -> Measured {
    let mut w = World::new();
    for a in 0..accounts {
        w.admin("role", &account_id(a), &["LambdaRole"]);
    }
    w.write("ferry.toml", &declarations(accounts, functions, false));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    w.admin("push", REGISTRY, &["hello", "01", "v1"]);
    w.write("ferry.toml", &declarations(accounts, functions, true));
    let proxy = Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());
    proxy.add_rule(Rule::new(Match::default(), Fault::Latency(LATENCY)));
    proxy.enforce_lambda_quota(15.0, 100.0);
    proxy.keep_pending(Duration::from_secs(3));

    let t0 = Instant::now();
    let run = w.ferry(&["apply", "--auto-approve"]).expect(0);
    let apply = t0.elapsed().as_secs_f64();
    let all = format!("{}{}", run.stdout, run.stderr).to_lowercase();
    let shown_throttling = all.contains("throttl") || all.contains("rate exceeded");
    let creates_in_moto = proxy.upstream_time("lambda:CreateFunction");

    proxy.reset_counts();
    let t0 = Instant::now();
    let plan = w.ferry(&["plan", "--detailed-exitcode"]).expect(0);
    let took = t0.elapsed().as_secs_f64();
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    let mut ops = std::collections::BTreeMap::new();
    for c in proxy.calls() {
        *ops.entry(format!("{}:{}", c.service, c.operation))
            .or_insert(0) += 1;
    }
    let plan_ops = ops
        .iter()
        .map(|(op, n)| format!("{op} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    Measured {
        apply,
        plan: took,
        plan_calls: proxy.calls().len(),
        plan_ops,
        throttled: proxy.throttled(),
        shown_throttling,
        creates_in_moto,
    }
}

fn main() {
    let t0 = Instant::now();
    let (accounts, functions) = (5, 10);
    let one = measure(1, 1);
    let many = measure(accounts, functions);
    let label = format!("{accounts} × {functions} fn, 1 repo, via moto");
    // The small apply already spent one create's token; the rest of the busiest account's
    // creates go at ferry's rate.
    let bound = one.apply + (functions - 1) as f64 / FERRY_RATE;
    let mut rows = vec![
        Row::timed(format!("apply {label}"), many.apply, bound, 1.15)
            .note(format!(
                "bound: 1 × 1 fn apply ({:.2} s, 3 s Pending) + 9 creates at {FERRY_RATE}/s; moto took {:.2} s to answer the {} CreateFunction calls (one of them {:.0} ms, {:.0} ms on average); 429s from the proxy {}, shown {}",
                one.apply,
                many.creates_in_moto.1.as_secs_f64(),
                many.creates_in_moto.0,
                one.creates_in_moto.1.as_secs_f64() * 1000.0,
                many.creates_in_moto.1.as_secs_f64() * 1000.0 / many.creates_in_moto.0.max(1) as f64,
                many.throttled,
                if many.shown_throttling { "yes" } else { "none" }
            ))
            .failed_if(many.shown_throttling),
        Row::timed(format!("no-op plan {label}"), many.plan, one.plan, 1.3)
            .note("bound: the no-op plan of 1 × 1 fn (the same dependency levels, each one round trip)".into()),
    ];
    // STS identity per account (the registry too), one listing per registry, a policy read and
    // an image lookup per repository, one GetFunction per function.
    let lower = (accounts + 1) + 1 + 2 + accounts * functions;
    rows.push(
        Row::count(
            format!("API calls, no-op plan {label}"),
            many.plan_calls,
            lower,
            1.05,
        )
        .note(format!("every call the proxy saw: {}", many.plan_ops)),
    );
    let table = report::table(&rows);
    println!("{table}");
    println!(
        "(benchmark ran {:.1} s of wall time)",
        t0.elapsed().as_secs_f64()
    );
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md");
    match report::write_section(&path, "scale_moto", &table) {
        Ok(()) => println!("wrote the `scale_moto` section of {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
}
