//! The progress of an apply on stderr, as an observer of the executor's events
//! ([`Observer`]): on a terminal a live view of the running steps, otherwise one line per
//! finished step. Nothing goes to stdout.

use super::output::{errln, style};
use crate::apply::Observer;
use crate::planner::Step;
use crate::render::Painter;
use std::io::IsTerminal;
use std::time::Duration;

/// Progress on stderr: on a terminal a live view of the running steps (account, address,
/// elapsed time), otherwise one line per finished step. Nothing goes to stdout.
pub struct Progress {
    p: Painter,
    live: Option<LiveView>,
}

/// Running steps grouped by account: a heading line per account (account key, id and region)
/// with its running steps beneath, each with its elapsed time.
struct LiveView {
    bars: indicatif::MultiProgress,
    running: std::sync::Mutex<Running>,
}

#[derive(Default)]
struct Running {
    steps: std::collections::HashMap<usize, indicatif::ProgressBar>,
    /// Per account and region: its heading and how many of its steps run.
    accounts: std::collections::HashMap<(String, String), (indicatif::ProgressBar, usize)>,
}

fn step_line(step: &Step) -> String {
    format!(
        "[{}] {} being {}",
        step.id + 1,
        step.address,
        step.action.verb()
    )
}

impl Progress {
    pub fn new(p: Painter) -> Self {
        let live = std::io::stderr().is_terminal().then(|| LiveView {
            bars: indicatif::MultiProgress::with_draw_target(
                indicatif::ProgressDrawTarget::stderr(),
            ),
            running: std::sync::Mutex::new(Running::default()),
        });
        Progress { p, live }
    }

    /// Prints a line above the live view (or plainly without one).
    fn line(&self, text: String) {
        match &self.live {
            Some(live) => {
                let _ = live.bars.println(text);
            }
            None => errln!("{text}"),
        }
    }

    fn address(&self, step: &Step) -> String {
        self.p.paint(style::BOLD, &step.address.to_string())
    }
}

impl Observer for Progress {
    fn started(&self, step: &Step) {
        tracing::info!(
            "[{}] {}: {:?} started",
            step.id + 1,
            step.address,
            step.action
        );
        if let Some(live) = &self.live
            && let Ok(mut running) = live.running.lock()
        {
            let account = (step.target.account.clone(), step.target.region.clone());
            let (heading, count) = running.accounts.entry(account).or_insert_with(|| {
                let heading = live.bars.add(indicatif::ProgressBar::new_spinner());
                heading.set_style(
                    indicatif::ProgressStyle::with_template("{msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                );
                heading.set_message(format!(
                    "{} ({}, {}):",
                    step.target.account, step.target.account_id, step.target.region
                ));
                (heading, 0)
            });
            *count += 1;
            let bar = live
                .bars
                .insert_after(heading, indicatif::ProgressBar::new_spinner());
            bar.set_style(
                indicatif::ProgressStyle::with_template("  {spinner} {elapsed:>4} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_message(step_line(step));
            bar.enable_steady_tick(Duration::from_millis(120));
            running.steps.insert(step.id, bar);
        }
    }

    fn finished(&self, step: &Step, result: &Result<(), String>, elapsed: Duration) {
        if let Some(live) = &self.live
            && let Ok(mut running) = live.running.lock()
            && let Some(bar) = running.steps.remove(&step.id)
        {
            bar.finish_and_clear();
            live.bars.remove(&bar);
            let account = (step.target.account.clone(), step.target.region.clone());
            if let Some((heading, count)) = running.accounts.get_mut(&account) {
                *count -= 1;
                if *count == 0 {
                    heading.finish_and_clear();
                    live.bars.remove(heading);
                    running.accounts.remove(&account);
                }
            }
        }
        let secs = elapsed.as_secs_f64();
        let address = self.address(step);
        self.line(match result {
            Ok(()) => format!(
                "[{}] {address}: {} ({secs:.1}s)",
                step.id + 1,
                step.action.verb()
            ),
            Err(e) => format!("[{}] {address}: FAILED after {secs:.1}s: {e}", step.id + 1),
        });
    }

    /// On a terminal the step's line says it is waiting for permissions to propagate (with
    /// `-v`, the log says it on every run).
    fn retrying(
        &self,
        step: &Step,
        error: &crate::cloud::CloudError,
        attempt: u32,
        wait: Duration,
    ) {
        if let Some(live) = &self.live
            && let Ok(running) = live.running.lock()
            && let Some(bar) = running.steps.get(&step.id)
        {
            bar.set_message(format!(
                "{}: {} (attempt {attempt}), retrying in {:.0}s while permissions propagate",
                step_line(step),
                error.code().unwrap_or("error"),
                wait.as_secs_f64()
            ));
        }
    }

    fn undone(&self, step: &Step, result: &Result<(), String>) {
        let address = self.address(step);
        self.line(match result {
            Ok(()) => format!("[{}] {address}: rolled back", step.id + 1),
            Err(e) => format!("[{}] {address}: could NOT be rolled back: {e}", step.id + 1),
        });
    }
}
