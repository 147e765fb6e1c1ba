//! Benchmark: `ferry validate`'s cost in the number of tables, which must grow linearly. Parses,
//! merges and validates declarations of 10,000 and 20,000 tables, valid (then derives every
//! repository policy, as `ferry validate` does) and with one error per function (then renders
//! the diagnostics); prints the figures and the ratio of each pair.
//!
//! Run with `cargo bench --bench validate` (or, unoptimised, `cargo test --bench validate`).
//! No bound is asserted: a timing is a figure to read, never a pass or a fail.

use ferry::declarations::{Source, parse_sources};
use ferry::policy;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Declarations of about `tables` tables: a third repositories, images and functions each,
/// spread over 10 consumer accounts. With `errors`, every function's memory is out of range.
fn declarations(tables: usize, errors: bool) -> String {
    let mut t = String::from(
        "[project]\nname = \"bench\"\ndefault_region = \"us-east-1\"\n\n[accounts.registry]\nid = \"100000000000\"\n\n[registries.central]\naccount = \"registry\"\n",
    );
    for a in 0..10 {
        t.push_str(&format!("\n[accounts.c{a}]\nid = \"2000000000{a:02}\"\n"));
    }
    let memory = if errors { 1 } else { 256 };
    for i in 0..tables / 3 {
        let a = i % 10;
        t.push_str(&format!(
            "\n[repositories.repo{i}]\nregistry = \"central\"\n\n[images.img{i}]\nrepository = \"repo{i}\"\ntag = \"v1\"\n\n[functions.fn{i}]\naccount = \"c{a}\"\nimage = \"img{i}\"\nrole = \"arn:aws:iam::2000000000{a:02}:role/LambdaRole\"\nmemory_mb = {memory}\n"
        ));
    }
    t
}

fn run(tables: usize, errors: bool) -> (Duration, usize) {
    let sources = vec![Source {
        path: PathBuf::from("ferry.toml"),
        text: Arc::new(declarations(tables, errors)),
    }];
    let t0 = Instant::now();
    let problems = match parse_sources(&sources, &|_| None) {
        // `ferry validate` also derives every policy, to check its size.
        Ok(desired) => policy::synthesize_all(&desired)
            .values()
            .filter(|p| p.is_err())
            .count(),
        Err(d) => {
            let shown = d.render(false);
            assert!(!shown.is_empty());
            d.items.len()
        }
    };
    (t0.elapsed(), problems)
}

fn main() {
    println!(
        "validate: tables, problems, seconds (parse, merge, validate, then policies or render)"
    );
    for errors in [false, true] {
        let mut times = Vec::new();
        for tables in [10_000, 20_000] {
            let (t, problems) = run(tables, errors);
            println!(
                "  {tables:>6} tables, {problems:>5} problems: {:>8.3} s",
                t.as_secs_f64()
            );
            times.push(t.as_secs_f64());
        }
        println!(
            "  {}: 20,000 / 10,000 = {:.2} (linear is 2)",
            if errors { "with errors" } else { "valid" },
            times[1] / times[0]
        );
    }
}
