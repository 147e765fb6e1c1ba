//! What may start now. The executor asks a [`Schedule`] for the next step that may start, tells
//! it when one ends, and [`drive`] keeps at most `parallelism` steps running. [`Levels`] is
//! today's behaviour: level by level with a barrier between levels, and nothing new started
//! after the first failure. A quota-aware, dependency-driven scheduler replaces it by
//! implementing the same trait.
//!
//! May not touch: the cloud, the state, the journal; it only sees step ids.

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::future::Future;

/// Decides which step may start now.
pub trait Schedule {
    /// A step that may start now, or `None` when none may until a running one ends (or none is
    /// left).
    fn ready(&mut self) -> Option<usize>;
    /// A started step ended; a failed one (`ok` false) stops the schedule: nothing new starts.
    fn done(&mut self, id: usize, ok: bool);
    /// The steps that never started, once [`drive`] returned: those of the failed level in id
    /// order, then the later levels'.
    fn not_started(&self) -> Vec<usize>;
}

/// Level by level: every step of a level may start (up to the parallelism), the next level only
/// when all of this one ended, and none after a failure.
#[derive(Debug)]
pub struct Levels {
    levels: Vec<Vec<usize>>,
    level: usize,
    next: usize,
    running: usize,
    stopped: bool,
}

impl Levels {
    /// `levels[n]` holds the ids of level `n`, in the order they start.
    pub fn new(levels: Vec<Vec<usize>>) -> Self {
        Levels {
            levels,
            level: 0,
            next: 0,
            running: 0,
            stopped: false,
        }
    }
}

impl Schedule for Levels {
    fn ready(&mut self) -> Option<usize> {
        loop {
            if self.stopped {
                return None;
            }
            let level = self.levels.get(self.level)?;
            if let Some(&id) = level.get(self.next) {
                self.next += 1;
                self.running += 1;
                return Some(id);
            }
            // The barrier: the next level waits for every step of this one.
            if self.running > 0 {
                return None;
            }
            self.level += 1;
            self.next = 0;
        }
    }

    fn done(&mut self, _id: usize, ok: bool) {
        self.running = self.running.saturating_sub(1);
        if !ok {
            self.stopped = true;
        }
    }

    fn not_started(&self) -> Vec<usize> {
        let Some(level) = self.levels.get(self.level) else {
            return Vec::new();
        };
        let mut rest: Vec<usize> = level[self.next.min(level.len())..].to_vec();
        rest.sort_unstable();
        rest.extend(self.levels[self.level + 1..].iter().flatten().copied());
        rest
    }
}

/// Dependency-driven: a step may start as soon as every step it depends on ended well, whatever
/// the rest of its level does (no barrier across accounts: one account's slow function does not
/// hold back another account's next step). Ready steps start in (level, id) order; after a
/// failure nothing new starts, as with [`Levels`], unless [`Dependencies::tolerating`] lets
/// other accounts go on.
#[derive(Debug)]
pub struct Dependencies {
    /// Per id: how many of its dependencies have not ended yet.
    waiting: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    level: Vec<usize>,
    ready: std::collections::BTreeSet<(usize, usize)>,
    started: Vec<bool>,
    stopped: bool,
    /// Per id, the account its step acts in, and how many accounts may fail before nothing
    /// new starts anywhere (StackSets' failure tolerance); empty: the first failure stops all.
    accounts: Vec<String>,
    tolerance: usize,
    failed_accounts: std::collections::BTreeSet<String>,
}

impl Dependencies {
    /// `steps[id]` = (level, the ids it depends on). Ids outside `steps` are ignored.
    pub fn new(steps: Vec<(usize, Vec<usize>)>) -> Self {
        let n = steps.len();
        let mut waiting = vec![0; n];
        let mut dependents = vec![Vec::new(); n];
        let mut level = vec![0; n];
        for (id, (l, deps)) in steps.into_iter().enumerate() {
            level[id] = l;
            for d in deps.into_iter().filter(|&d| d < n && d != id) {
                waiting[id] += 1;
                dependents[d].push(id);
            }
        }
        let ready = (0..n)
            .filter(|&i| waiting[i] == 0)
            .map(|i| (level[i], i))
            .collect();
        Dependencies {
            waiting,
            dependents,
            level,
            ready,
            started: vec![false; n],
            stopped: false,
            accounts: Vec::new(),
            tolerance: 0,
            failed_accounts: Default::default(),
        }
    }

    /// Keeps going after failures in up to `tolerance` accounts (`accounts[id]` is the account
    /// step `id` acts in): a failed account starts nothing more, nor does what depends on a
    /// failed step, but other accounts' steps go on; the failure of one more account stops all.
    pub fn tolerating(mut self, accounts: Vec<String>, tolerance: usize) -> Self {
        self.accounts = accounts;
        self.tolerance = tolerance;
        self
    }

    /// Whether step `id` acts in an account that already failed.
    fn in_failed_account(&self, id: usize) -> bool {
        self.accounts
            .get(id)
            .is_some_and(|a| self.failed_accounts.contains(a))
    }

    /// From a plan's steps.
    pub fn of(plan: &crate::planner::Plan) -> Self {
        Self::new(
            plan.steps
                .iter()
                .map(|s| (s.level, s.depends_on.clone()))
                .collect(),
        )
    }
}

impl Schedule for Dependencies {
    fn ready(&mut self) -> Option<usize> {
        if self.stopped {
            return None;
        }
        loop {
            let (_, id) = self.ready.pop_first()?;
            // A failed account's ready steps never start (they stay not started).
            if self.in_failed_account(id) {
                continue;
            }
            self.started[id] = true;
            return Some(id);
        }
    }

    fn done(&mut self, id: usize, ok: bool) {
        if !ok {
            match self.accounts.get(id) {
                Some(account) => {
                    self.failed_accounts.insert(account.clone());
                    if self.failed_accounts.len() > self.tolerance {
                        self.stopped = true;
                    }
                }
                None => self.stopped = true,
            }
            // What depends on the failed step never becomes ready.
            return;
        }
        for &d in &self.dependents[id] {
            self.waiting[d] -= 1;
            if self.waiting[d] == 0 {
                self.ready.insert((self.level[d], d));
            }
        }
    }

    fn not_started(&self) -> Vec<usize> {
        let mut rest: Vec<(usize, usize)> = (0..self.started.len())
            .filter(|&i| !self.started[i])
            .map(|i| (self.level[i], i))
            .collect();
        rest.sort_unstable();
        rest.into_iter().map(|(_, i)| i).collect()
    }
}

/// Runs the steps `schedule` lets start, at most `parallelism` at once, and returns each
/// started step's result in the order they ended. `ok` tells the schedule whether a result is
/// a success.
pub async fn drive<S, T, F, Fut>(
    schedule: &mut S,
    parallelism: usize,
    mut start: F,
    ok: impl Fn(&T) -> bool,
) -> Vec<(usize, T)>
where
    S: Schedule + ?Sized,
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = T>,
{
    let parallelism = parallelism.max(1);
    let mut running = FuturesUnordered::new();
    let mut results = Vec::new();
    loop {
        while running.len() < parallelism {
            let Some(id) = schedule.ready() else { break };
            let step = start(id);
            running.push(async move { (id, step.await) });
        }
        let Some((id, result)) = running.next().await else {
            break;
        };
        schedule.done(id, ok(&result));
        results.push((id, result));
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

    /// Runs `levels` where step `id` takes `cost[id]` seconds of paused time and fails when it
    /// is in `failing`; returns the events ("+id" started, "-id" ended) and the most steps that
    /// ran at once.
    async fn run(
        levels: Vec<Vec<usize>>,
        cost: &[u64],
        failing: &[usize],
        parallelism: usize,
    ) -> (Vec<String>, usize, Levels) {
        let mut schedule = Levels::new(levels);
        let (events, most) = run_with(&mut schedule, cost, failing, parallelism).await;
        (events, most, schedule)
    }

    async fn run_with(
        schedule: &mut dyn Schedule,
        cost: &[u64],
        failing: &[usize],
        parallelism: usize,
    ) -> (Vec<String>, usize) {
        let events = Mutex::new(Vec::new());
        let running = Mutex::new((0usize, 0usize));
        drive(
            schedule,
            parallelism,
            |id| {
                let (events, running) = (&events, &running);
                async move {
                    events.lock().unwrap().push(format!("+{id}"));
                    {
                        let mut r = running.lock().unwrap();
                        r.0 += 1;
                        r.1 = r.1.max(r.0);
                    }
                    tokio::time::sleep(Duration::from_secs(cost[id])).await;
                    running.lock().unwrap().0 -= 1;
                    events.lock().unwrap().push(format!("-{id}"));
                    !failing.contains(&id)
                }
            },
            |ok| *ok,
        )
        .await;
        let most = running.lock().unwrap().1;
        (events.into_inner().unwrap(), most)
    }

    #[tokio::test(start_paused = true)]
    async fn a_level_starts_only_when_the_previous_one_ended() {
        let (events, most, schedule) = run(vec![vec![0, 1], vec![2]], &[3, 1, 1], &[], 10).await;
        // Step 1 ends first, but step 2 waits for step 0 as well.
        assert_eq!(events, ["+0", "+1", "-1", "-0", "+2", "-2"]);
        assert_eq!(most, 2);
        assert!(schedule.not_started().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_steps_run_at_once_than_the_parallelism() {
        let (events, most, _) = run(vec![vec![0, 1, 2, 3]], &[4, 1, 1, 1], &[], 2).await;
        assert_eq!(most, 2);
        // A freed slot goes to the next step of the level, in order.
        assert_eq!(events, ["+0", "+1", "-1", "+2", "-2", "+3", "-3", "-0"]);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_failure_nothing_new_starts_and_running_steps_finish() {
        let (events, _, schedule) = run(
            vec![vec![0, 1, 2, 3], vec![4, 5]],
            &[1, 3, 1, 1, 1, 1],
            &[0],
            2,
        )
        .await;
        // Step 0 fails while step 1 runs: step 1 ends, steps 2 and 3 and the next level never start.
        assert_eq!(events, ["+0", "+1", "-0", "-1"]);
        assert_eq!(schedule.not_started(), vec![2, 3, 4, 5]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_level_is_passed_over() {
        let (events, _, _) = run(vec![vec![0], vec![], vec![1]], &[1, 1], &[], 1).await;
        assert_eq!(events, ["+0", "-0", "+1", "-1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_starts_when_its_own_dependencies_ended_not_its_level() {
        // Two accounts: 0 → 2 (slow first step) and 1 → 3; 4 needs both 2 and 3.
        let mut schedule = Dependencies::new(vec![
            (0, vec![]),
            (0, vec![]),
            (1, vec![0]),
            (1, vec![1]),
            (2, vec![2, 3]),
        ]);
        let t0 = tokio::time::Instant::now();
        let (events, _) = run_with(&mut schedule, &[5, 1, 1, 1, 1], &[], 10).await;
        // Step 3 starts at 1 s, when step 1 ended, while step 0 still runs.
        assert_eq!(
            events,
            ["+0", "+1", "-1", "+3", "-3", "-0", "+2", "-2", "+4", "-4"]
        );
        // 5 s (0) + 1 s (2) + 1 s (4): the longest chain, not the sum of the levels' maxima.
        assert_eq!(t0.elapsed(), Duration::from_secs(7));
        assert!(schedule.not_started().is_empty());
        // The same plan with the level barrier takes longer: 5 + 1 + 1 as well, but step 3
        // waits for step 0.
        let (events, _, _) = run(
            vec![vec![0, 1], vec![2, 3], vec![4]],
            &[5, 1, 1, 1, 1],
            &[],
            10,
        )
        .await;
        assert_eq!(events[..4], ["+0", "+1", "-1", "-0"]);
    }

    #[tokio::test(start_paused = true)]
    async fn dependencies_respect_the_parallelism_and_stop_after_a_failure() {
        let mut schedule = Dependencies::new(vec![
            (0, vec![]),
            (0, vec![]),
            (0, vec![]),
            (1, vec![0]),
            (1, vec![1]),
        ]);
        let (events, most) = run_with(&mut schedule, &[1, 3, 1, 1, 1], &[0], 2).await;
        assert_eq!(most, 2);
        // Step 0 fails at 1 s: step 1 finishes, nothing new starts (not 2, not 4 after 1).
        assert_eq!(events, ["+0", "+1", "-0", "-1"]);
        assert_eq!(schedule.not_started(), vec![2, 3, 4]);
    }

    /// Three accounts a, b, c of two chained steps each (0 → 1, 2 → 3, 4 → 5), and 6 in `a`
    /// that needs 1 and 3 (a shared step).
    fn three_accounts() -> Dependencies {
        let accounts = ["a", "a", "b", "b", "c", "c", "a"];
        Dependencies::new(vec![
            (0, vec![]),
            (1, vec![0]),
            (0, vec![]),
            (1, vec![2]),
            (0, vec![]),
            (1, vec![4]),
            (2, vec![1, 3]),
        ])
        .tolerating(accounts.iter().map(|a| a.to_string()).collect(), 1)
    }

    #[tokio::test(start_paused = true)]
    async fn a_tolerated_failure_stops_its_account_and_its_dependents_only() {
        let mut schedule = three_accounts();
        // Step 2 (account b) fails: b's step 3 and step 6 (which needs 3) never start; a and c go on.
        let (events, _) = run_with(&mut schedule, &[1, 1, 1, 1, 1, 1, 1], &[2], 10).await;
        assert_eq!(
            events,
            ["+0", "+2", "+4", "-0", "-2", "-4", "+1", "+5", "-1", "-5"]
        );
        assert_eq!(schedule.not_started(), vec![3, 6]);
    }

    #[tokio::test(start_paused = true)]
    async fn one_failed_account_more_than_tolerated_stops_every_account() {
        let mut schedule = three_accounts();
        // b fails at 1 s (tolerated), c at 2 s (the second account): a's step 1 was already
        // running and ends; nothing starts after that.
        let (events, _) = run_with(&mut schedule, &[1, 2, 1, 1, 1, 1, 1], &[2, 5], 10).await;
        assert_eq!(
            events,
            ["+0", "+2", "+4", "-0", "-2", "-4", "+1", "+5", "-5", "-1"]
        );
        assert_eq!(schedule.not_started(), vec![3, 6]);
        // Tolerating none is the plain rule: the first failure stops all.
        let mut schedule = three_accounts().tolerating(
            ["a", "a", "b", "b", "c", "c", "a"]
                .iter()
                .map(|a| a.to_string())
                .collect(),
            0,
        );
        let (events, _) = run_with(&mut schedule, &[2, 1, 1, 1, 2, 1, 1], &[2], 10).await;
        assert_eq!(events, ["+0", "+2", "+4", "-2", "-0", "-4"]);
        assert_eq!(schedule.not_started(), vec![1, 3, 5, 6]);
    }
}
