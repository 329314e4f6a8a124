//! Queue-mode splits: long-lived workers, each in its own environment, take batches of
//! test files — longest first, batches shrinking near the end so the workers finish
//! together — and run the command for each batch in their running container.
//!
//! Every batch pays the test runner's start-up, so a worker's first batch is all of its
//! planned files whose durations are known; only what is uncertain (files without
//! history, or everything's share when there is no history) is kept back and handed out
//! in small batches to whoever finishes first.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use slipway_plan::split::expand_files;
use slipway_plan::{QueueSpec, RunAction, StepId};

use crate::events::Event;
use crate::reports::{collect, existing_reports, Fresh, Ownership, ReportSource, TestStatus};
use crate::run::Run;
use crate::runtime::{ContainerState, ExecCommand, Runtime};
use crate::step_lines::StepLines;
use crate::warm_lease::WarmLease;

/// Keeps a worker's container running between batches: stdin stays open and nothing
/// writes to it.
pub(crate) const KEEPALIVE: &str = "while read -r _; do :; done";

/// How often a worker with nothing to do looks again while others may still fail files
/// that `retry` sends back.
const IDLE_POLL: Duration = Duration::from_millis(100);

struct Item {
    file: String,
    estimate: Duration,
    /// Whether `estimate` was recorded rather than guessed.
    known: bool,
    attempt: u32,
}

/// One queue's files still to run: a list per worker (the plan's timings split, longest
/// first) and a rule for taking from the others once a worker's own list is done.
pub(crate) struct QueueState {
    lists: Vec<VecDeque<Item>>,
    started: Vec<bool>,
    /// Workers running a batch now.
    busy: Vec<bool>,
    retry: u32,
    /// A worker's fair share of the whole queue.
    share: Duration,
    /// Whether any file has a recorded duration (the others' are guesses).
    any_history: bool,
}

impl QueueState {
    pub fn new(spec: &QueueSpec) -> Self {
        let lists: Vec<VecDeque<Item>> = spec
            .assignment
            .iter()
            .map(|files| {
                files
                    .iter()
                    .map(|(file, estimate)| Item {
                        file: file.clone(),
                        estimate: *estimate,
                        known: !spec.unknown.contains(file),
                        attempt: 1,
                    })
                    .collect()
            })
            .collect();
        let workers = (lists.len() as u32).max(1);
        let share = lists.iter().flatten().map(|i| i.estimate).sum::<Duration>() / workers;
        let any_history = lists.iter().flatten().any(|i| i.known);
        Self {
            started: vec![false; lists.len()],
            busy: vec![false; lists.len()],
            lists,
            retry: spec.retry,
            share,
            any_history,
        }
    }

    fn remaining(&self) -> Duration {
        self.lists.iter().flatten().map(|i| i.estimate).sum()
    }

    /// The next batch for `worker` (which has finished its previous one). Its first batch
    /// is its whole list but a reserve: its files without recorded durations, or with no
    /// history at all its smallest files up to a tenth of a share (at least one). Every
    /// batch pays the command's start-up, so a worker should run few. After that it takes
    /// small batches of the smallest files — first from the workers still busy (the ones
    /// that started late or got slower files than expected: they will not get to their
    /// reserve in time), then its own, then any — so all finish together.
    fn take(&mut self, worker: usize) -> Option<Vec<Item>> {
        let batch = self.next_batch(worker);
        if let Some(busy) = self.busy.get_mut(worker) {
            *busy = batch.is_some();
        }
        batch
    }

    fn next_batch(&mut self, worker: usize) -> Option<Vec<Item>> {
        if let Some(busy) = self.busy.get_mut(worker) {
            *busy = false;
        }
        let workers = self.lists.len() as u32;
        if self.lists.iter().all(VecDeque::is_empty) {
            return None;
        }
        if worker < self.lists.len() && !self.started[worker] && !self.lists[worker].is_empty() {
            self.started[worker] = true;
            let own = &mut self.lists[worker];
            if self.any_history && own.iter().any(|i| i.known) {
                let (batch, reserved): (Vec<Item>, Vec<Item>) = own.drain(..).partition(|i| i.known);
                own.extend(reserved);
                return Some(batch);
            }
            // At least one file, so that small suites (under ten files a worker) are
            // balanced too.
            let mut reserved: Vec<Item> = Vec::new();
            let mut reserve = Duration::ZERO;
            while own.len() > 1
                && own.back().is_some_and(|i| reserved.is_empty() || reserve + i.estimate <= self.share / 10)
            {
                let item = own.pop_back().expect("checked");
                reserve += item.estimate;
                reserved.push(item);
            }
            let batch: Vec<Item> = own.drain(..).collect();
            own.extend(reserved.into_iter().rev());
            return Some(batch);
        }
        let load = |i: &usize| self.lists[*i].iter().map(|item| item.estimate).sum::<Duration>();
        let busiest_busy =
            (0..self.lists.len()).filter(|i| self.busy[*i] && !self.lists[*i].is_empty()).max_by_key(load);
        let source = match busiest_busy {
            Some(busy) => busy,
            None if worker < self.lists.len() && !self.lists[worker].is_empty() => worker,
            None => (0..self.lists.len()).max_by_key(load)?,
        };
        let target = (self.remaining() / (2 * workers)).max(self.share / 8);
        // Beside recorded durations, a file without one has a guess (the median): it goes
        // alone, as it may take far longer, so that the other workers share the rest.
        let any_history = self.any_history;
        let list = &mut self.lists[source];
        let mut batch = vec![list.pop_back()?];
        let mut size = batch[0].estimate;
        while size < target && (batch[0].known || !any_history) {
            let Some(next) = list.pop_back() else { break };
            if any_history && !next.known {
                list.push_back(next);
                break;
            }
            size += next.estimate;
            batch.push(next);
        }
        Some(batch)
    }

    /// Whether a worker other than `worker` is running a batch (whose failed files may
    /// come back for another attempt).
    fn others_busy(&self, worker: usize) -> bool {
        self.retry > 0 && self.busy.iter().enumerate().any(|(i, busy)| *busy && i != worker)
    }

    /// A worker that can take no more batches: the others no longer wait on it.
    fn leave(&mut self, worker: usize) {
        if let Some(busy) = self.busy.get_mut(worker) {
            *busy = false;
        }
    }

    /// Put a failed file back, first in the worker's own line, if it has attempts left.
    fn retry(&mut self, worker: usize, item: Item) -> bool {
        if item.attempt <= self.retry {
            let list = worker.min(self.lists.len() - 1);
            self.lists[list].push_front(Item { attempt: item.attempt + 1, ..item });
            true
        } else {
            false
        }
    }
}

/// Marks a worker as running no batch when dropped.
struct Leaving<'a> {
    queue: &'a Mutex<QueueState>,
    worker: usize,
}

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.leave(self.worker);
        }
    }
}

/// How a worker ended.
pub(crate) enum WorkerEnd {
    Passed,
    /// These files failed on their last attempt.
    FilesFailed(Vec<String>),
    /// The worker's container stopped under it (killed, out of memory): its exit code and
    /// what to say.
    Stopped {
        code: i64,
        message: String,
    },
}

/// What a worker needs to run a batch like the step would run its command.
pub(crate) struct WorkerSetup<'a> {
    pub container: String,
    /// The entrypoint the command runs behind (exec does not apply it).
    pub entrypoint: Vec<String>,
    pub working_dir: String,
    /// The step's environment, when the container was not made with it (a warm one).
    pub env: Vec<String>,
    /// The pool's lease, when the container is a warm one: batches go through it.
    pub lease: Option<&'a mut WarmLease>,
}

/// The state of a container whose command died of a signal or whose output ended, if the
/// container itself stopped: the engine may take a moment to notice, so look for up to 2 s.
pub(crate) async fn stopped_container(runtime: &dyn Runtime, container: &str) -> Option<ContainerState> {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let state = runtime.container_state(container).await.ok()?;
        if !state.running {
            return Some(state);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Run {
    /// Take batches until the queue is empty. The worker fails if a file it ran failed
    /// for the last time, or if its container stops.
    pub(crate) async fn run_queue_worker(
        &self,
        id: StepId,
        action: &RunAction,
        mut setup: WorkerSetup<'_>,
    ) -> Result<WorkerEnd, String> {
        let work = action.queue.as_ref().expect("a queue worker");
        let queue: &Mutex<QueueState> = &self.queues[work.queue];
        let worker = action.shard.map_or(0, |(index, _)| index as usize - 1);
        // However this worker ends (an engine error, a cancel), the others stop waiting on it.
        let _leaving = Leaving { queue, worker };
        let mut failed_files: Vec<String> = Vec::new();
        let mut batch_number = 0;
        let source = ReportSource {
            runtime: self.runtime.as_ref(),
            container: &setup.container,
            lease: setup.lease.as_deref_mut(),
        };
        let existing = existing_reports(source, &action.reports, &setup.working_dir).await;
        loop {
            let (batch, wait) = {
                let mut state = queue.lock().expect("queue");
                let batch = state.take(worker);
                let wait = batch.is_none() && state.others_busy(worker);
                (batch, wait)
            };
            let batch = match batch {
                Some(batch) => batch,
                // Nothing left now, but a file failing elsewhere may come back for another
                // attempt: stay, so that it need not wait for the worker it failed on.
                None if wait => {
                    tokio::time::sleep(IDLE_POLL).await;
                    continue;
                }
                None => break,
            };
            batch_number += 1;
            let files: Vec<String> = batch.iter().map(|i| i.file.clone()).collect();
            let attempt = batch.iter().map(|i| i.attempt).max().unwrap_or(1);
            self.phase(
                id,
                format!(
                    "batch {batch_number}: {} file(s){}",
                    files.len(),
                    if attempt > 1 { format!(", attempt {attempt}") } else { String::new() }
                ),
            );
            let started = SystemTime::now();
            let command = ExecCommand {
                cmd: setup.entrypoint.iter().cloned().chain(expand_files(&work.command, &files)).collect(),
                env: setup
                    .env
                    .iter()
                    .cloned()
                    .chain([format!("SLIPWAY_TEST_FILES={}", files.join(" ")), format!("SLIPWAY_BATCH={batch_number}")])
                    .collect(),
                working_dir: None,
                user: None,
            };
            // A queue worker's `timeout` bounds each batch: the worker itself may wait
            // for others' retries as long as they run.
            let ran = self.run_command_in(id, &setup.container, setup.lease.as_deref_mut(), &command);
            let ran = match action.timeout {
                Some(limit) => tokio::time::timeout(limit, ran).await.map_err(|_| limit),
                None => Ok(ran.await),
            };
            let code = match ran {
                Ok(Ok(code)) => code,
                // The pool saw the container stop under the batch.
                Ok(Err((_, Some(code)))) => code,
                Ok(Err((message, None))) => return Err(message),
                Err(limit) => {
                    // Stopping the container stops the batch's processes with it.
                    let _ = self.runtime.remove_container(&setup.container).await;
                    let why = format!(
                        "batch {batch_number} timed out: stopped after {} (the step's `timeout`)",
                        crate::readiness::humantime(limit)
                    );
                    return Ok(self.stop_worker(id, queue, worker, batch, attempt, action, 124, why));
                }
            };
            tracing::debug!("{}: batch {batch_number} ran {:?}", setup.container, started.elapsed());
            // A batch that failed because its container died is not the files' fault.
            let stopped =
                if code > 128 { stopped_container(self.runtime.as_ref(), &setup.container).await } else { None };
            if let Some(state) = stopped {
                let code = state.exit_code.unwrap_or(code);
                let why = state.error.map(|e| format!(": {e}")).unwrap_or_default();
                let why = format!(
                    "the worker's container stopped during batch {batch_number} ({}{why})",
                    crate::step::exit_message(code)
                );
                return Ok(self.stop_worker(id, queue, worker, batch, attempt, action, code, why));
            }
            let mut failing: HashSet<String> = HashSet::new();
            let mut reported = false;
            if !action.reports.is_empty() {
                let source = ReportSource {
                    runtime: self.runtime.as_ref(),
                    container: &setup.container,
                    lease: setup.lease.as_deref_mut(),
                };
                let (cases, problems) = collect(
                    source,
                    &action.reports,
                    &setup.working_dir,
                    Fresh { since: started, existing: &existing },
                    &self.reports_seen,
                    Ownership { all: &action.split_files, mine: &files },
                )
                .await;
                for problem in problems {
                    self.phase(id, problem);
                }
                reported = !cases.is_empty();
                tracing::debug!("{}: batch {batch_number} reported {:?}", setup.container, started.elapsed());
                failing.extend(
                    cases
                        .iter()
                        .filter(|c| matches!(c.status, TestStatus::Failed | TestStatus::Error))
                        .filter_map(|c| c.file.clone()),
                );
                self.events.send(Event::TestResults { step: id, attempt, cases });
            }
            if code != 0 && (failing.is_empty() || !reported) {
                // No report says which files failed: the whole batch did.
                failing.extend(files.iter().cloned());
            }
            let mut state = queue.lock().expect("queue");
            for item in batch.into_iter().filter(|i| failing.contains(&i.file)) {
                let file = item.file.clone();
                if state.retry(worker, item) {
                    self.phase(id, format!("{file} failed; queued again"));
                } else {
                    failed_files.push(file);
                }
            }
        }
        if batch_number == 0 {
            self.phase(id, "ran no batch: the other workers had taken every file by the time it was ready");
        }
        Ok(if failed_files.is_empty() { WorkerEnd::Passed } else { WorkerEnd::FilesFailed(failed_files) })
    }

    /// Run a command in a running container, its output as the step's, until it ends.
    /// A worker whose batch was cut off (its container stopped, or the batch timed out):
    /// with `retry`, the batch goes back in the queue — the others, or this worker's next
    /// attempt in a fresh environment, run it — else its files did not finish.
    #[allow(clippy::too_many_arguments)]
    fn stop_worker(
        &self,
        id: StepId,
        queue: &Mutex<QueueState>,
        worker: usize,
        batch: Vec<Item>,
        attempt: u32,
        action: &RunAction,
        code: i64,
        why: String,
    ) -> WorkerEnd {
        let (requeued, lost): (Vec<String>, Vec<String>) = {
            let mut queue = queue.lock().expect("queue");
            let mut requeued = Vec::new();
            let mut lost = Vec::new();
            for item in batch {
                let file = item.file.clone();
                if queue.retry(worker, item) {
                    requeued.push(file);
                } else {
                    lost.push(file);
                }
            }
            queue.leave(worker);
            (requeued, lost)
        };
        if !lost.is_empty() && !action.reports.is_empty() {
            // No results for what it lost: the summary then names the worker among
            // those whose tests are missing from the counts.
            self.events.send(Event::TestResults { step: id, attempt, cases: Vec::new() });
        }
        let fate = match (requeued.is_empty(), lost.is_empty()) {
            (true, _) => format!("that batch's files did not finish: {}", lost.join(", ")),
            (false, true) => format!("that batch's files are queued again: {}", requeued.join(", ")),
            (false, false) => {
                format!("queued again: {}; out of attempts, did not finish: {}", requeued.join(", "), lost.join(", "))
            }
        };
        WorkerEnd::Stopped { code, message: format!("{why}; {fate}") }
    }

    pub(crate) async fn exec_streaming(
        &self,
        id: StepId,
        container: &str,
        command: &ExecCommand,
    ) -> Result<i64, String> {
        let (mut output, exec_id) = self
            .runtime
            .exec(container, command)
            .await
            .map_err(|e| format!("cannot run the command: {}", e.message))?;
        let mut lines = StepLines::new(&self.events, id);
        while let Some(chunk) = output.next().await {
            let Ok(chunk) = chunk else { break };
            lines.push(chunk.stream, &chunk.bytes);
        }
        drop(lines);
        self.runtime
            .exec_exit_code(&exec_id)
            .await
            .map_err(|e| format!("cannot read the command's exit code: {}", e.message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queue of files `f1`, `f2`, … with these durations, none of them recorded.
    fn queue(assignment: &[&[u64]], retry: u32) -> QueueState {
        queue_knowing(assignment, retry, &[])
    }

    fn queue_knowing(assignment: &[&[u64]], retry: u32, known: &[&str]) -> QueueState {
        let mut n = 0;
        let assignment = assignment
            .iter()
            .map(|files| {
                files
                    .iter()
                    .map(|s| {
                        n += 1;
                        (format!("f{n}"), Duration::from_secs(*s))
                    })
                    .collect()
            })
            .collect();
        let unknown = (1..=n).map(|i| format!("f{i}")).filter(|f| !known.contains(&f.as_str())).collect();
        QueueState::new(&QueueSpec { name: "t".into(), assignment, unknown, workers: 2, retry })
    }

    #[test]
    fn a_worker_first_takes_its_list_but_a_reserve_then_helps_the_others() {
        let mut q = queue(&[&[10, 6, 2, 1, 1], &[9, 8, 3]], 0);
        // share = 20 s; reserve ≤ 2 s of the smallest files
        let first: Vec<u64> = q.take(0).unwrap().iter().map(|i| i.estimate.as_secs()).collect();
        assert_eq!(first, [10, 6, 2]);
        let second: Vec<u64> = q.take(0).unwrap().iter().map(|i| i.estimate.as_secs()).collect();
        assert_eq!(second, [1, 1], "then its own reserve: no other worker is busy");
        // its list is done: it takes the smallest files of the other worker's list
        let stolen: Vec<u64> = q.take(0).unwrap().iter().map(|i| i.estimate.as_secs()).collect();
        // a batch is half a worker's share of what is left (5 s), smallest first
        assert_eq!(stolen, [3, 8], "{stolen:?}");
        let rest: Vec<u64> = q.take(1).unwrap().iter().map(|i| i.estimate.as_secs()).collect();
        assert_eq!(rest, [9]);
        assert!(q.take(0).is_none() && q.take(1).is_none());
    }

    #[test]
    fn without_history_a_worker_with_few_files_still_keeps_one_back() {
        // Six files a worker, all guessed alike: a tenth of a share is less than a file.
        let mut q = queue(&[&[5, 5, 5, 5, 5, 5], &[5, 5, 5, 5, 5, 5]], 0);
        assert_eq!(q.take(0).unwrap().len(), 5);
        assert_eq!(q.take(1).unwrap().len(), 5);
        // Worker 0 finishes first and takes worker 1's held-back file.
        let helped = q.take(0).unwrap();
        assert_eq!(helped.iter().map(|i| i.file.as_str()).collect::<Vec<_>>(), ["f12"]);
    }

    #[test]
    fn an_early_finisher_takes_the_reserve_of_a_worker_still_busy() {
        let mut q = queue(&[&[10, 6, 2, 1, 1], &[10, 6, 2, 1, 1]], 0);
        let secs = |b: Vec<Item>| b.iter().map(|i| i.estimate.as_secs()).collect::<Vec<u64>>();
        assert_eq!(secs(q.take(0).unwrap()), [10, 6, 2]);
        assert_eq!(secs(q.take(1).unwrap()), [10, 6, 2]);
        // Worker 0 is done first while worker 1 is still busy: it runs worker 1's reserve.
        let helped = q.take(0).unwrap();
        assert!(helped.iter().all(|i| ["f9", "f10"].contains(&i.file.as_str())), "{:?}", secs(helped));
    }

    #[test]
    fn with_history_a_worker_first_runs_all_its_known_files_and_keeps_the_guesses_back() {
        // f1..f3 for worker 0 (f3 has no history), f4..f5 for worker 1 (both known).
        let mut q = queue_knowing(&[&[10, 6, 2], &[9, 8]], 0, &["f1", "f2", "f4", "f5"]);
        let names = |b: Vec<Item>| b.into_iter().map(|i| i.file).collect::<Vec<_>>();
        assert_eq!(names(q.take(0).unwrap()), ["f1", "f2"]);
        assert_eq!(names(q.take(1).unwrap()), ["f4", "f5"], "no reserve: every duration is known");
        assert_eq!(names(q.take(1).unwrap()), ["f3"], "the first to finish runs the guess");
        assert!(q.take(0).is_none());
    }

    #[test]
    fn files_without_history_go_one_a_batch_beside_recorded_ones() {
        // Worker 0: f1 known, f2 and f3 new (guessed small); worker 1: f4 known.
        let mut q = queue_knowing(&[&[10, 1, 1], &[10]], 0, &["f1", "f4"]);
        let names = |b: Vec<Item>| b.into_iter().map(|i| i.file).collect::<Vec<_>>();
        assert_eq!(names(q.take(0).unwrap()), ["f1"]);
        assert_eq!(names(q.take(1).unwrap()), ["f4"]);
        assert_eq!(names(q.take(0).unwrap()), ["f3"], "one guess, not both");
        assert_eq!(names(q.take(1).unwrap()), ["f2"], "the other worker gets the other");
    }

    #[test]
    fn failed_files_come_back_once() {
        let mut q = queue(&[&[1]], 1);
        let item = q.take(0).unwrap().pop().unwrap();
        assert!(q.retry(0, item));
        let again = q.take(0).unwrap().pop().unwrap();
        assert_eq!(again.attempt, 2);
        assert!(!q.retry(0, again), "retry: 1 allows one more attempt");
        assert!(q.take(0).is_none());
    }

    #[test]
    fn an_idle_worker_waits_for_what_a_busy_one_may_fail_and_runs_its_retry() {
        let mut q = queue(&[&[1], &[1]], 1);
        let mine = q.take(0).unwrap().pop().unwrap();
        assert!(q.take(1).is_some());
        assert!(q.take(1).is_none(), "worker 1 has run everything it could");
        assert!(q.others_busy(1), "but worker 0 still runs a file that may come back");
        assert!(q.retry(0, mine));
        let again = q.take(1).expect("worker 1 takes the retry");
        assert_eq!(again[0].attempt, 2);
        assert!(q.take(0).is_none());
        assert!(q.others_busy(0), "worker 0 waits while worker 1 runs the retry");
        assert!(q.take(1).is_none() && !q.others_busy(0), "then both are done");
        // Without retry nothing can come back: nobody waits.
        let mut no_retry = queue(&[&[1], &[1]], 0);
        no_retry.take(0);
        assert!(no_retry.take(1).is_some() && no_retry.take(1).is_none());
        assert!(!no_retry.others_busy(1));
    }
}
