//! The shards of one step get their networks and start their commands in index order.
//! The engine creates networks and starts containers largely one after another, so
//! shards start some time apart whatever we do; in a fixed order, the lags a split
//! learned from earlier runs fall on the same shards next time, and the plan gives the
//! later ones less work.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use slipway_plan::StepId;
use tokio::sync::Notify;

/// How long a shard waits for the one before it: a predecessor still waiting for a job
/// slot (`-j`) or for slow dependencies must not hold the others back for long. Each
/// shard waits only for the one before it, which waits for its own predecessor: so this
/// covers a chain of ordinary engine calls.
const MAX_TURN_WAIT: Duration = Duration::from_secs(5);

/// What shards do in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Stage {
    /// Take (or create) the step's network.
    Network,
    /// Start the command.
    Start,
}

#[derive(Default)]
pub(crate) struct StartOrder {
    /// Per split step (its first shard's id) and stage: which shards are out of the way
    /// (done with the stage, finished or never getting there).
    released: Mutex<HashMap<(usize, Stage), Vec<bool>>>,
    changed: Notify,
}

/// One shard's place in its step's start order; dropping it lets the next ones go.
pub(crate) struct Turn<'a> {
    order: &'a StartOrder,
    group: usize,
    /// From 0.
    index: usize,
    count: usize,
}

impl StartOrder {
    /// The turn of a step's shard (`shard` = (index from 1, count)); `None` for a step
    /// that is not a shard.
    pub fn turn(&self, id: StepId, shard: Option<(u32, u32)>) -> Option<Turn<'_>> {
        let (index, count) = shard?;
        let index = (index as usize).checked_sub(1)?;
        // A step's shards are consecutive in the plan.
        let group = id.0.checked_sub(index)?;
        Some(Turn { order: self, group, index, count: count as usize })
    }

    fn release(&self, turn: &Turn<'_>, stage: Stage) {
        let mut released = self.released.lock().expect("start order");
        let flags = released.entry((turn.group, stage)).or_insert_with(|| vec![false; turn.count]);
        if let Some(flag) = flags.get_mut(turn.index) {
            *flag = true;
        }
        drop(released);
        self.changed.notify_waiters();
    }

    fn predecessor_released(&self, turn: &Turn<'_>, stage: Stage) -> bool {
        let released = self.released.lock().expect("start order");
        turn.index == 0
            || released.get(&(turn.group, stage)).is_some_and(|flags| flags.get(turn.index - 1) == Some(&true))
    }
}

impl Turn<'_> {
    /// Until the shard before this one is done with `stage` (or ended, or never gets
    /// there), or [`MAX_TURN_WAIT`] has passed.
    pub async fn wait(&self, stage: Stage) {
        let waiting = async {
            loop {
                let changed = self.order.changed.notified();
                tokio::pin!(changed);
                // Registered before the check, so a release in between is not missed.
                changed.as_mut().enable();
                if self.order.predecessor_released(self, stage) {
                    return;
                }
                changed.await;
            }
        };
        let _ = tokio::time::timeout(MAX_TURN_WAIT, waiting).await;
    }

    /// This shard is done with `stage`: the next one may go.
    pub fn release(&self, stage: Stage) {
        self.order.release(self, stage);
    }
}

/// Run a shard's start call `start`; the next shard may start once it has returned.
/// (Letting the next call overlap it was measured slower: the engine does little of two
/// starts at once, and the shards then start in no fixed order.)
pub(crate) async fn start_in_turn<T>(turn: Option<&Turn<'_>>, start: impl std::future::Future<Output = T>) -> T {
    let result = start.await;
    if let Some(turn) = turn {
        turn.release(Stage::Start);
    }
    result
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.order.release(self, Stage::Network);
        self.order.release(self, Stage::Start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[tokio::test]
    async fn shards_go_in_index_order() {
        let order = Arc::new(StartOrder::default());
        let started = Arc::new(Mutex::new(Vec::new()));
        // Shards 3, 2, 1 (ids 12, 11, 10) ask in reverse order.
        let tasks: Vec<_> = [3u32, 2, 1]
            .into_iter()
            .map(|index| {
                let order = order.clone();
                let started = started.clone();
                tokio::spawn(async move {
                    let turn = order.turn(StepId(9 + index as usize), Some((index, 3))).expect("a shard");
                    turn.wait(Stage::Start).await;
                    started.lock().unwrap().push(index);
                    turn.release(Stage::Start);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(*started.lock().unwrap(), [1, 2, 3]);
    }

    #[tokio::test]
    async fn a_shard_that_never_starts_holds_the_next_back_only_briefly() {
        let order = StartOrder::default();
        let _stuck = order.turn(StepId(0), Some((1, 2))).expect("a shard");
        let second = order.turn(StepId(1), Some((2, 2))).expect("a shard");
        second.wait(Stage::Network).await;
        second.release(Stage::Network);
        let waited = Instant::now();
        second.wait(Stage::Start).await;
        assert!(waited.elapsed() >= MAX_TURN_WAIT);
        assert!(order.turn(StepId(3), None).is_none(), "a step that is not a shard has no turn");
    }

    #[tokio::test]
    async fn a_dropped_turn_lets_the_next_shard_go() {
        let order = StartOrder::default();
        let first = order.turn(StepId(4), Some((1, 2))).expect("a shard");
        let second = order.turn(StepId(5), Some((2, 2))).expect("a shard");
        drop(first);
        let waited = Instant::now();
        second.wait(Stage::Start).await;
        assert!(waited.elapsed() < MAX_TURN_WAIT);
    }
}
