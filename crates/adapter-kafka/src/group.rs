//! The consumer group as this consumer sees it: what librdkafka's rebalance callbacks say and
//! what the consume loop reports, folded into the state readiness shows.
//!
//! librdkafka runs the rebalance callbacks inside our own polls (`recv`), on the consume loop's
//! task, so they never run while a batch is being stored: the loop looks at what they recorded
//! after each poll.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::topic_partition_list::TopicPartitionList;

use crate::status::{ConsumerState, ConsumerStatus};

/// A topic's partition.
pub(crate) type Partition = (String, i32);

pub(crate) struct Group {
    status: Arc<ConsumerStatus>,
    max_retries: u32,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("seen", &*self.lock())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Seen {
    subscribed: bool,
    assigned: BTreeSet<Partition>,
    /// Since when we have been waiting for partitions: from the subscription or from the
    /// revocation of the last ones.
    joining_since: Option<Instant>,
    broker_failures: u32,
    storage_failing: bool,
    /// Partitions are paused while the batch in hand is being retried; those assigned
    /// meanwhile start paused too.
    paused: bool,
    /// Paused by us and not resumed since, assigned or not: librdkafka keeps the pause of a
    /// revoked partition, so one that comes back after the retry is resumed then.
    paused_partitions: BTreeSet<Partition>,
    stopped: bool,
    /// Revoked since the loop last looked.
    revoked: Vec<Partition>,
}

impl Seen {
    fn state(&self, max_retries: u32) -> ConsumerState {
        if self.stopped {
            ConsumerState::Stopped
        } else if self.storage_failing || self.broker_failures >= max_retries {
            ConsumerState::Degraded
        } else if !self.subscribed {
            ConsumerState::Connecting
        } else if self.joining_since.is_some() {
            ConsumerState::Joining
        } else {
            ConsumerState::Running
        }
    }
}

fn partitions(list: &TopicPartitionList) -> Vec<Partition> {
    list.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

fn list_of<'a>(partitions: impl IntoIterator<Item = &'a Partition>) -> TopicPartitionList {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in partitions {
        list.add_partition(topic, *partition);
    }
    list
}

impl Group {
    pub(crate) fn new(status: Arc<ConsumerStatus>, max_retries: u32) -> Self {
        let group = Self {
            status,
            max_retries,
            seen: Mutex::default(),
        };
        group.update(|_| ());
        group
    }

    pub(crate) fn status(&self) -> &ConsumerStatus {
        &self.status
    }

    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes what is seen and publishes the state that follows.
    fn update<T>(&self, change: impl FnOnce(&mut Seen) -> T) -> T {
        let mut seen = self.lock();
        let out = change(&mut seen);
        self.status.set(seen.state(self.max_retries));
        out
    }

    /// Subscribed: brokers answer; now waiting for partitions.
    pub(crate) fn subscribed(&self) {
        self.update(|s| {
            s.subscribed = true;
            s.broker_failures = 0;
            s.joining_since.get_or_insert_with(Instant::now);
        });
    }

    /// One more failed attempt to reach the brokers; how many in a row.
    pub(crate) fn broker_failed(&self) -> u32 {
        self.update(|s| {
            s.broker_failures = s.broker_failures.saturating_add(1);
            s.broker_failures
        })
    }

    pub(crate) fn brokers_answer(&self) {
        if self.lock().broker_failures > 0 {
            self.update(|s| s.broker_failures = 0);
        }
    }

    pub(crate) fn broker_failures(&self) -> u32 {
        self.lock().broker_failures
    }

    pub(crate) fn is_subscribed(&self) -> bool {
        self.lock().subscribed
    }

    pub(crate) fn storage_failing(&self, failing: bool) {
        if self.lock().storage_failing != failing {
            self.update(|s| s.storage_failing = failing);
        }
    }

    /// Pauses every partition assigned now, and those assigned until [`Group::resume`].
    pub(crate) fn pause(&self, consumer: &impl Consumer<Self>) {
        let mut seen = self.lock();
        seen.paused = true;
        let assigned = match consumer.assignment() {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the assignment to pause it");
                return;
            }
        };
        match consumer.pause(&assigned) {
            Ok(()) => seen.paused_partitions.extend(partitions(&assigned)),
            Err(e) => tracing::warn!(error = %e, "cannot pause the assigned partitions"),
        }
    }

    /// Resumes the partitions assigned now; one revoked meanwhile is resumed if it comes back.
    pub(crate) fn resume(&self, consumer: &impl Consumer<Self>) {
        let mut seen = self.lock();
        seen.paused = false;
        let ours: Vec<Partition> = match consumer.assignment() {
            Ok(list) => partitions(&list)
                .into_iter()
                .filter(|p| seen.paused_partitions.contains(p))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the assignment to resume it");
                return;
            }
        };
        match consumer.resume(&list_of(&ours)) {
            Ok(()) => {
                for p in &ours {
                    seen.paused_partitions.remove(p);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot resume the assigned partitions"),
        }
    }

    /// For good: nothing the callbacks see afterwards (the close revokes everything) changes it.
    pub(crate) fn stopped(&self) {
        self.update(|s| s.stopped = true);
    }

    /// How long we have been waiting for partitions, when we are.
    pub(crate) fn joining_for(&self) -> Option<Duration> {
        self.lock().joining_since.map(|since| since.elapsed())
    }

    /// The partitions revoked since the last call.
    pub(crate) fn take_revoked(&self) -> Vec<Partition> {
        std::mem::take(&mut self.lock().revoked)
    }
}

impl ClientContext for Group {}

impl ConsumerContext for Group {
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let given = partitions(list);
                let paused = self.update(|s| {
                    s.assigned.extend(given.iter().cloned());
                    s.joining_since = None;
                    self.status
                        .assigned(s.assigned.iter().map(|(_, p)| *p).collect());
                    if s.paused {
                        match consumer.pause(list) {
                            Ok(()) => s.paused_partitions.extend(given.iter().cloned()),
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot pause assigned partitions")
                            }
                        }
                    } else {
                        // Paused when it was revoked, during an earlier retry, and still paused
                        // (librdkafka keeps the application's pause across assignments).
                        let stale: Vec<Partition> = given
                            .iter()
                            .filter(|p| s.paused_partitions.contains(*p))
                            .cloned()
                            .collect();
                        if !stale.is_empty() {
                            match consumer.resume(&list_of(&stale)) {
                                Ok(()) => {
                                    for p in &stale {
                                        s.paused_partitions.remove(p);
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "cannot resume assigned partitions")
                                }
                            }
                        }
                    }
                    s.paused
                });
                tracing::info!(
                    partitions = ?given.iter().map(|(_, p)| p).collect::<Vec<_>>(),
                    paused,
                    "partitions assigned"
                );
            }
            Rebalance::Revoke(list) => {
                let taken = partitions(list);
                self.update(|s| {
                    for p in &taken {
                        s.assigned.remove(p);
                    }
                    if s.assigned.is_empty() {
                        s.joining_since.get_or_insert_with(Instant::now);
                    }
                    s.revoked.extend(taken.iter().cloned());
                    self.status
                        .revoked(&taken.iter().map(|(_, p)| *p).collect::<Vec<_>>());
                });
                tracing::info!(
                    partitions = ?taken.iter().map(|(_, p)| p).collect::<Vec<_>>(),
                    lost = consumer.assignment_lost(),
                    "partitions revoked"
                );
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "consumer group rebalance failed"),
        }
    }
}
