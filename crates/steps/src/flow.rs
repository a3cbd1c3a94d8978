//! [`Flow`]: what one process knows of its own arrivals in flight, so that its committers
//! make few snapshots without waiting blindly.
//!
//! Group commit (see [`crate::commit`]) takes every ready staged batch into one snapshot, but
//! it can only take what is staged when it looks. When a process runs many arrivals at once
//! (`sluice ingest` of a thousand small files), it knows how many are still on their way:
//!
//! - the caller that starts an execution registers it ([`Flow::arrival`]) and the guard it
//!   gets back counts it as running until the execution ends;
//! - validate records each batch it stages ([`Flow::staged`]), commit forgets the batches its
//!   snapshot took ([`Flow::committed`]);
//! - a committer waits ([`Flow::wait_for_group`]) while more executions of its table are
//!   running than batches are staged, that is while some of them have not staged yet, until
//!   its group is full (`[commit] max_batches` / `max_bytes`), or none of them has moved
//!   for `[commit] quiet_ms`, or `[commit] wait_ms` has passed, or its own batch was taken by
//!   another committer's group meanwhile; then it takes the table's commit lock ([`Flow::commit_lock`]), so the process's
//!   committers take turns instead of racing one another through the catalog: the next one in
//!   line usually finds its batch already committed by the group before it.
//!
//! A process that registers no arrivals (a Lambda: one invocation, no view of the others)
//! never waits here; it relies on `linger_ms` and on the catalog's optimistic concurrency.
//! Files read at once (drift's sample, a validation) are bounded by [`Flow::reading_slot`]:
//! the executions waiting for their commit hold no slot, so a small `--jobs` still lets a
//! large group gather.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sluice_core::BatchId;
use tokio::sync::{watch, OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};

/// Arrivals in flight, staged batches and commit turns, per table, in this process.
pub struct Flow {
    reading: Arc<Semaphore>,
    tables: Mutex<HashMap<String, TableFlow>>,
    /// Bumped on every change; committers wait on it.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct TableFlow {
    /// Executions of the table started here and not ended.
    running: usize,
    /// Batches staged here and not yet known committed, with their Parquet bytes.
    staged: HashMap<BatchId, u64>,
    /// Staged batches a committer here has gathered into the group it is committing now:
    /// staged still (so every running execution has staged when they are counted too), but
    /// no longer filling another committer's group, which would then find them gone.
    taking: HashMap<BatchId, u64>,
    /// Batches a group commit here took, whose executions may still be on their way to their
    /// own commit step: each needs no group any more. Emptied whenever no execution of the
    /// table runs, so it holds at most one burst.
    taken: HashSet<BatchId>,
    /// Held by the committer whose turn it is.
    commit: Arc<tokio::sync::Mutex<()>>,
    /// Bumped when an arrival of the table starts, stages or ends.
    progress: u64,
}

/// How long a committer waits for the arrivals still on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupWait {
    /// In all, at most.
    pub most: Duration,
    /// Without any of them starting, staging or ending, at most.
    pub quiet: Duration,
}

/// What a waiting committer saw when it stopped waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupReady {
    /// Nothing more is on its way: every running execution of the table has staged.
    AllStaged,
    /// The committer's own batch was taken by another committer's group meanwhile.
    Taken,
    /// The staged batches fill a group.
    Full,
    /// No arrival of the table started, staged or ended for `quiet_ms`.
    Quiet,
    /// `wait_ms` passed with executions still on their way.
    TimedOut,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::new(Semaphore::MAX_PERMITS)
    }
}

impl Flow {
    /// At most `readers` files read at once (at least one).
    pub fn new(readers: usize) -> Self {
        Flow {
            reading: Arc::new(Semaphore::new(readers.clamp(1, Semaphore::MAX_PERMITS))),
            tables: Mutex::new(HashMap::new()),
            changed: watch::channel(0).0,
        }
    }

    fn tables(&self) -> MutexGuard<'_, HashMap<String, TableFlow>> {
        // A panic while holding this lock leaves counts that are still counts.
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Counts one execution of `table` as running until the guard is dropped.
    pub fn arrival(self: &Arc<Self>, table: &str) -> ArrivalGuard {
        {
            let mut tables = self.tables();
            let t = tables.entry(table.to_string()).or_default();
            t.running += 1;
            t.progress += 1;
        }
        self.bump();
        ArrivalGuard {
            flow: self.clone(),
            table: table.to_string(),
        }
    }

    /// Waits for one of the reading slots: a file read by drift's sample or by a validation.
    pub async fn reading_slot(&self) -> OwnedSemaphorePermit {
        // The semaphore is never closed.
        self.reading
            .clone()
            .acquire_owned()
            .await
            .expect("the reading semaphore is never closed")
    }

    /// `batch` of `table`, `bytes` of Parquet, is staged and waits for a commit.
    pub fn staged(&self, table: &str, batch: &BatchId, bytes: u64) {
        {
            let mut tables = self.tables();
            let t = tables.entry(table.to_string()).or_default();
            t.staged.insert(batch.clone(), bytes);
            t.progress += 1;
        }
        self.bump();
    }

    /// These batches of `table` are committed (or were found committed).
    pub fn committed<'a>(&self, table: &str, batches: impl IntoIterator<Item = &'a BatchId>) {
        if let Some(t) = self.tables().get_mut(table) {
            for b in batches {
                if t.staged.remove(b).is_some() | t.taking.remove(b).is_some() {
                    t.taken.insert(b.clone());
                }
            }
        }
        self.bump();
    }

    /// A committer gathered these staged batches of `table` into the group it commits now.
    pub fn taking<'a>(&self, table: &str, batches: impl IntoIterator<Item = &'a BatchId>) {
        if let Some(t) = self.tables().get_mut(table) {
            for b in batches {
                if let Some(bytes) = t.staged.remove(b) {
                    t.taking.insert(b.clone(), bytes);
                }
            }
        }
    }

    /// The commit of a group that was [`Flow::taking`] these batches failed: they wait
    /// for a group again.
    pub fn not_taken<'a>(&self, table: &str, batches: impl IntoIterator<Item = &'a BatchId>) {
        if let Some(t) = self.tables().get_mut(table) {
            for b in batches {
                if let Some(bytes) = t.taking.remove(b) {
                    t.staged.insert(b.clone(), bytes);
                }
            }
        }
        self.bump();
    }

    /// Waits until this process has nothing more of `table` on its way (every running
    /// execution of it has staged), or the staged batches fill a group of `max_batches` /
    /// `max_bytes`, or none of its arrivals has started, staged or ended for `wait.quiet`
    /// (those still running are not getting anywhere soon: retrying, waiting on a lease, a
    /// large file), or `wait.most` has passed.
    pub async fn wait_for_group(
        &self,
        table: &str,
        own: &BatchId,
        max_batches: usize,
        max_bytes: u64,
        wait: GroupWait,
    ) -> GroupReady {
        let mut changes = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + wait.most;
        let mut seen = None;
        let mut quiet_until = tokio::time::Instant::now() + wait.quiet;
        loop {
            // Marks the current value seen: a change from here on wakes the wait below.
            changes.borrow_and_update();
            let (ready, progress) = self.group_ready(table, own, max_batches, max_bytes);
            if let Some(ready) = ready {
                return ready;
            }
            if seen != Some(progress) {
                seen = Some(progress);
                quiet_until = tokio::time::Instant::now() + wait.quiet;
            }
            let until = quiet_until.min(deadline);
            match tokio::time::timeout_at(until, changes.changed()).await {
                Ok(Ok(())) => {}
                // The sender lives as long as `self`: a closed channel cannot happen.
                Ok(Err(_)) => return GroupReady::TimedOut,
                Err(_) if until == deadline => return GroupReady::TimedOut,
                Err(_) => return GroupReady::Quiet,
            }
        }
    }

    /// Whether [`Flow::wait_for_group`] would return at once: `own`'s batch was taken, or the
    /// staged batches fill a group, or every running execution of the table has staged.
    pub fn group_ready_now(
        &self,
        table: &str,
        own: &BatchId,
        max_batches: usize,
        max_bytes: u64,
    ) -> bool {
        self.group_ready(table, own, max_batches, max_bytes)
            .0
            .is_some()
    }

    /// Whether a group is ready, and the table's progress counter.
    fn group_ready(
        &self,
        table: &str,
        own: &BatchId,
        max_batches: usize,
        max_bytes: u64,
    ) -> (Option<GroupReady>, u64) {
        let tables = self.tables();
        let Some(t) = tables.get(table) else {
            return (Some(GroupReady::AllStaged), 0);
        };
        let bytes: u64 = t.staged.values().sum();
        // Taken by a group while we looked (its ledger record says so too): waiting for the
        // others would only wait for executions that are waiting in turn, each for the rest.
        let ready = if t.taken.contains(own) {
            Some(GroupReady::Taken)
        } else if t.staged.len() >= max_batches || bytes >= max_bytes {
            Some(GroupReady::Full)
        } else if t.running <= t.staged.len() + t.taking.len() {
            Some(GroupReady::AllStaged)
        } else {
            None
        };
        (ready, t.progress)
    }

    /// The table's commit turn: one committer of this process at a time.
    pub async fn commit_lock(&self, table: &str) -> OwnedMutexGuard<()> {
        let lock = self
            .tables()
            .entry(table.to_string())
            .or_default()
            .commit
            .clone();
        lock.lock_owned().await
    }

    /// (running executions, staged batches) of `table`, for tests and reports.
    pub fn counts(&self, table: &str) -> (usize, usize) {
        self.tables()
            .get(table)
            .map_or((0, 0), |t| (t.running, t.staged.len()))
    }
}

/// One running execution of a table; dropping it ends the count.
pub struct ArrivalGuard {
    flow: Arc<Flow>,
    table: String,
}

impl Drop for ArrivalGuard {
    fn drop(&mut self) {
        if let Some(t) = self.flow.tables().get_mut(&self.table) {
            t.running = t.running.saturating_sub(1);
            t.progress += 1;
            if t.running == 0 {
                t.taken.clear();
            }
        }
        self.flow.bump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: u32) -> BatchId {
        BatchId(format!("b{n}"))
    }

    const LONG: GroupWait = GroupWait {
        most: Duration::from_secs(60),
        quiet: Duration::from_secs(60),
    };

    #[tokio::test]
    async fn nothing_running_means_no_wait() {
        let flow = Flow::default();
        let ready = flow
            .wait_for_group("t", &batch(9), 10, u64::MAX, LONG)
            .await;
        assert_eq!(ready, GroupReady::AllStaged);
    }

    /// Seen as [4, 4, 1, 1] instead of three groups for ten batches in groups of four: the
    /// batches a committer was committing filled a waiting committer's group, which by its
    /// turn found them gone and committed its own batch alone.
    #[tokio::test]
    async fn a_group_being_committed_fills_no_other_group() {
        let flow = Arc::new(Flow::default());
        let mut guards: Vec<_> = (0..6).map(|_| flow.arrival("t")).collect();
        for n in 0..5 {
            flow.staged("t", &batch(n), 1);
        }
        let group: Vec<BatchId> = (0..4).map(batch).collect();
        flow.taking("t", &group);
        let waiter = {
            let flow = flow.clone();
            tokio::spawn(
                async move { flow.wait_for_group("t", &batch(4), 4, u64::MAX, LONG).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !waiter.is_finished(),
            "one batch staged besides the group being committed, one execution on its way"
        );
        // The group is committed and its executions end; the last one stages.
        flow.committed("t", &group);
        guards.truncate(2);
        flow.staged("t", &batch(5), 1);
        assert_eq!(waiter.await.unwrap(), GroupReady::AllStaged);
        // A failed commit gives its batches back to the next group.
        let flow = Flow::default();
        flow.staged("t", &batch(0), 1);
        flow.taking("t", &[batch(0)]);
        flow.not_taken("t", &[batch(0)]);
        assert_eq!(flow.tables().get("t").map(|t| t.staged.len()), Some(1));
    }

    #[tokio::test]
    async fn waits_until_every_running_execution_has_staged() {
        let flow = Arc::new(Flow::default());
        let guards: Vec<_> = (0..3).map(|_| flow.arrival("t")).collect();
        flow.staged("t", &batch(0), 10);
        let waiter = {
            let flow = flow.clone();
            tokio::spawn(async move {
                flow.wait_for_group("t", &batch(9), 10, u64::MAX, LONG)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "two executions have not staged yet");
        flow.staged("t", &batch(1), 10);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "one execution has not staged yet");
        // The third ends without staging (filtered, quarantined): nothing more is coming.
        drop(guards);
        assert_eq!(waiter.await.unwrap(), GroupReady::AllStaged);
    }

    #[tokio::test]
    async fn a_full_group_stops_the_wait() {
        let flow = Arc::new(Flow::default());
        let _guards: Vec<_> = (0..5).map(|_| flow.arrival("t")).collect();
        flow.staged("t", &batch(0), 10);
        flow.staged("t", &batch(1), 10);
        let by_count = flow.wait_for_group("t", &batch(9), 2, u64::MAX, LONG).await;
        assert_eq!(by_count, GroupReady::Full);
        let by_bytes = flow.wait_for_group("t", &batch(9), 100, 20, LONG).await;
        assert_eq!(by_bytes, GroupReady::Full);
        // Committed batches leave the group; another table is not counted.
        flow.committed("t", [&batch(0)]);
        flow.staged("u", &batch(2), 10);
        assert_eq!(flow.counts("t"), (5, 1));
        let timed = flow
            .wait_for_group(
                "t",
                &batch(9),
                2,
                u64::MAX,
                GroupWait {
                    most: Duration::from_millis(30),
                    quiet: Duration::from_secs(60),
                },
            )
            .await;
        assert_eq!(timed, GroupReady::TimedOut);
    }

    #[tokio::test]
    async fn a_quiet_table_stops_the_wait_and_progress_extends_it() {
        let flow = Arc::new(Flow::default());
        let _guards: Vec<_> = (0..3).map(|_| flow.arrival("t")).collect();
        let wait = GroupWait {
            most: Duration::from_secs(60),
            quiet: Duration::from_millis(150),
        };
        let started = tokio::time::Instant::now();
        let waiter = {
            let flow = flow.clone();
            tokio::spawn(async move {
                flow.wait_for_group("t", &batch(9), 10, u64::MAX, wait)
                    .await
            })
        };
        // Stagings 100 ms apart keep it waiting past one quiet window.
        for n in 0..2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            flow.staged("t", &batch(n), 1);
        }
        assert!(!waiter.is_finished());
        assert_eq!(waiter.await.unwrap(), GroupReady::Quiet);
        assert!(started.elapsed() >= Duration::from_millis(350));
    }

    /// Sixteen executions staged; one committer's group took them all. The others, waiting
    /// with their own batches taken, stop at once: they must not wait for one another (each
    /// is still running, none will stage again).
    #[tokio::test]
    async fn a_committer_whose_batch_a_group_took_stops_waiting() {
        let flow = Arc::new(Flow::default());
        let guards: Vec<_> = (0..16).map(|_| flow.arrival("t")).collect();
        for n in 0..16 {
            flow.staged("t", &batch(n), 1);
        }
        let waiter = {
            let flow = flow.clone();
            tokio::spawn(async move {
                flow.wait_for_group("t", &batch(3), 100, u64::MAX, LONG)
                    .await
            })
        };
        // Not ready by itself: the group is taken before this waiter looks again.
        flow.committed("t", (0..16).map(batch).collect::<Vec<_>>().iter());
        let ready = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("stopped waiting")
            .unwrap();
        assert!(
            matches!(ready, GroupReady::Taken | GroupReady::AllStaged),
            "{ready:?}"
        );
        // A new waiter with a taken batch stops at once, though 16 still run and none is staged.
        assert_eq!(flow.counts("t"), (16, 0));
        let again = flow
            .wait_for_group("t", &batch(5), 100, u64::MAX, LONG)
            .await;
        assert_eq!(again, GroupReady::Taken);
        // Once nothing runs, the taken set is forgotten.
        drop(guards);
        assert!(flow.tables().get("t").unwrap().taken.is_empty());
    }

    #[tokio::test]
    async fn committers_of_one_table_take_turns() {
        let flow = Arc::new(Flow::default());
        let first = flow.commit_lock("t").await;
        let other_table = flow.commit_lock("u").await;
        let second = {
            let flow = flow.clone();
            tokio::spawn(async move {
                let _turn = flow.commit_lock("t").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!second.is_finished());
        drop(other_table);
        drop(first);
        second.await.unwrap();
    }

    #[tokio::test]
    async fn reading_slots_bound_readers() {
        let flow = Arc::new(Flow::new(2));
        let a = flow.reading_slot().await;
        let _b = flow.reading_slot().await;
        let third = {
            let flow = flow.clone();
            tokio::spawn(async move {
                let _slot = flow.reading_slot().await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!third.is_finished());
        drop(a);
        third.await.unwrap();
    }
}
