//! Benchmark: API calls and wall time of `ferry plan` and `ferry apply` for one registry and
//! several consumer accounts, against moto through the counting proxy. Prints its figures and
//! fails when a count exceeds its lower bound or the wall time exceeds a generous bound.
//!
//! Run with `cargo bench --bench api_calls` (it builds in release; moto is started on loopback).
//! Calls are the figure that matters here: moto's speed says little about AWS's.

#[path = "../tests/support/faults.rs"]
mod faults;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::{REGISTRY, World, function};

const CONSUMERS: usize = 6;
const REPOSITORIES: usize = 3;
const FUNCTIONS_PER_ACCOUNT: usize = 2;
const WALL_BOUND: Duration = Duration::from_secs(60);

fn consumer(i: usize) -> String {
    format!("3000000000{i:02}")
}

fn declarations(with_functions: bool) -> String {
    let mut t = format!(
        "[project]\nname = \"bench\"\ndefault_region = \"us-east-1\"\nassume_role = \"arn:aws:iam::{{account_id}}:role/FerryDeployer\"\n\n[accounts.registry]\nid = \"{REGISTRY}\"\n\n[registries.central]\naccount = \"registry\"\n"
    );
    for c in 0..CONSUMERS {
        t.push_str(&format!("\n[accounts.c{c}]\nid = \"{}\"\n", consumer(c)));
    }
    for r in 0..REPOSITORIES {
        t.push_str(&format!(
            "\n[repositories.repo{r}]\nregistry = \"central\"\n"
        ));
        if with_functions {
            t.push_str(&format!(
                "\n[images.img{r}]\nrepository = \"repo{r}\"\ntag = \"1\"\n"
            ));
        }
    }
    if with_functions {
        for c in 0..CONSUMERS {
            for n in 0..FUNCTIONS_PER_ACCOUNT {
                let image = format!("img{}", (c + n) % REPOSITORIES);
                t.push_str(&function(
                    &format!("f{c}-{n}"),
                    &format!("c{c}"),
                    &consumer(c),
                    &image,
                    "LambdaRole",
                ));
            }
        }
    }
    t
}

fn counts(proxy: &faults::Proxy) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for c in proxy.calls() {
        *m.entry(format!("{}:{}", c.service, c.operation))
            .or_insert(0) += 1;
    }
    m
}

fn report(
    what: &str,
    wall: Duration,
    counts: &BTreeMap<String, usize>,
    bounds: &[(&str, usize)],
) -> bool {
    let total: usize = counts.values().sum();
    println!("\n{what}: {total} calls in {:.2}s", wall.as_secs_f64());
    let mut ok = wall <= WALL_BOUND;
    for (op, n) in counts {
        let bound = bounds.iter().find(|(b, _)| b == op).map(|(_, b)| *b);
        let verdict = match bound {
            Some(b) if *n > b => {
                ok = false;
                format!("OVER the lower bound {b}")
            }
            Some(b) => format!("bound {b}"),
            None => String::new(),
        };
        println!("  {op:<40} {n:>4}  {verdict}");
    }
    if wall > WALL_BOUND {
        println!("  wall time over the bound of {}s", WALL_BOUND.as_secs());
    }
    ok
}

fn main() {
    let functions = CONSUMERS * FUNCTIONS_PER_ACCOUNT;
    let accounts = CONSUMERS + 1;
    let mut w = World::new();
    for c in 0..CONSUMERS {
        w.admin("role", &consumer(c), &["LambdaRole"]);
    }
    w.write("ferry.toml", &declarations(false));
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    for r in 0..REPOSITORIES {
        w.admin(
            "push",
            REGISTRY,
            &[&format!("repo{r}"), "1", &format!("bench-{r}")],
        );
    }
    w.write("ferry.toml", &declarations(true));
    let proxy = faults::Proxy::start(w.moto_addr());
    w.route_ferry_through(proxy.url());

    let t0 = Instant::now();
    w.ferry(&["plan"]).expect(0);
    let plan_ok = report(
        &format!("plan ({accounts} accounts, {REPOSITORIES} repositories, {functions} functions)"),
        t0.elapsed(),
        &counts(&proxy),
        &[
            ("sts:AssumeRole", accounts),
            ("sts:GetCallerIdentity", accounts),
            ("ecr:DescribeRepositories", 1),
            ("ecr:ListTagsForResource", REPOSITORIES),
            ("ecr:GetRepositoryPolicy", REPOSITORIES),
            ("ecr:BatchGetImage", REPOSITORIES),
            ("lambda:GetFunction", functions),
        ],
    );

    proxy.reset_counts();
    let t0 = Instant::now();
    w.ferry(&["apply", "--auto-approve"]).expect(0);
    let apply_ok = report(
        "apply (refresh, then one policy per repository and one CreateFunction per function)",
        t0.elapsed(),
        &counts(&proxy),
        &[
            ("sts:AssumeRole", accounts),
            ("sts:GetCallerIdentity", accounts),
            ("ecr:SetRepositoryPolicy", REPOSITORIES),
            ("lambda:CreateFunction", functions),
            // The refresh's read plus the waiter's polls (moto answers Active at once).
            ("lambda:GetFunction", 2 * functions),
        ],
    );
    if !(plan_ok && apply_ok) {
        eprintln!("\nbenchmark bounds exceeded");
        std::process::exit(1);
    }
    println!("\nall counts within their bounds");
}
