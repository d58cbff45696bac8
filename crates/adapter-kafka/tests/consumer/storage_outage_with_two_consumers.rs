//! Two consumers of one group over one store, and a storage outage longer than
//! `max.poll.interval.ms` (7 s in these tests). A consumer retrying a batch pauses its
//! partitions and keeps polling, so the group keeps it: no rebalance, the other consumer never
//! gets its partitions, no user's events are applied by two calls at once, and once storage is
//! back every event is applied exactly once, in order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use adapter_kafka::ConsumerState;
use billing_domain::{BillingService, Repository};
use serde_json::json;

use crate::support::{
    FlakyStore, Msg, PARTITIONS, Producer, Running, Snapshot, Topic, count, eventually,
    mongo_store, sqlite_store, unique, with_store,
};

const USERS: usize = 16;
/// Clearly longer than the tests' `max.poll.interval.ms` (7 s).
const OUTAGE: Duration = Duration::from_secs(12);

fn user(i: usize) -> String {
    format!("pair-{i:02}")
}

/// How many suspensions and reactivations user `i` gets during the outage: 3 to 6, so that some
/// end suspended and some active.
fn changes(i: usize) -> usize {
    3 + i % 4
}

/// The kind of user `i`'s change `n` (1-based): they alternate, starting with a suspension.
fn change_kind(n: usize) -> &'static str {
    if n % 2 == 1 {
        "Customer.Suspended"
    } else {
        "Customer.Reactivated"
    }
}

/// An event with an id of its own (the same body twice would be one message) and a
/// timestamp that grows with `n`, the user's event number.
fn event(kind: &str, i: usize, n: usize) -> Msg {
    let value = json!({
        "type": kind,
        "id": format!("{}-{n}", user(i)),
        "timestamp": format!("2025-10-01T08:{:02}:{:02}Z", n / 60, n % 60),
        "payload": { "userId": user(i), "name": user(i) },
    });
    Msg::raw(Some(&user(i)), value.to_string())
}

/// Changes `from..=to` of every user, round-robin across users.
fn changes_between(from: usize, to: usize) -> Vec<Msg> {
    (from..=to)
        .flat_map(|n| {
            (0..USERS)
                .filter(move |&i| n <= changes(i))
                .map(move |i| event(change_kind(n), i, n))
        })
        .collect()
}

fn all_report(consumers: &[&Running], state: ConsumerState) -> Result<(), String> {
    if consumers.iter().all(|c| c.status.state() == state) {
        Ok(())
    } else {
        Err(describe(consumers))
    }
}

fn describe(consumers: &[&Running]) -> String {
    consumers
        .iter()
        .enumerate()
        .map(|(n, c)| format!("consumer {n}: {}", c.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits until `consumers` run and share every partition between them, each with some.
async fn wait_until_they_share_the_partitions(consumers: &[&Running]) {
    eventually("the consumers to share the partitions", async || {
        let mut all: Vec<i32> = consumers
            .iter()
            .flat_map(|c| c.status.partitions())
            .collect();
        all.sort_unstable();
        if all_report(consumers, ConsumerState::Running).is_ok()
            && consumers.iter().all(|c| !c.status.partitions().is_empty())
            && all == (0..PARTITIONS).collect::<Vec<_>>()
        {
            Ok(())
        } else {
            Err(describe(consumers))
        }
    })
    .await;
}

/// A topic with every user created, and a service over the flaky store.
struct Scenario<S> {
    topic: Topic,
    store: FlakyStore<S>,
    service: Arc<BillingService<FlakyStore<S>>>,
    producer: Producer,
    settings: adapter_kafka::KafkaSettings,
}

impl<S: Repository + Clone> Scenario<S> {
    async fn new(store: S) -> Self {
        let topic = Topic::create("outage-pair").await;
        let store = FlakyStore::new(store);
        let service = with_store(store.clone());
        let producer = Producer::new();
        let created: Vec<Msg> = (0..USERS)
            .map(|i| event("Customer.Created", i, 0))
            .collect();
        producer.send(&topic.name, &created).await;
        let mut settings = topic.settings(&unique("outage-pair"));
        // Small batches: a user's changes span several, and messages are fetched ahead of
        // the batch in hand when the pause comes.
        settings.batching.size = 4;
        Self {
            topic,
            store,
            service,
            producer,
            settings,
        }
    }

    fn start(&self) -> Running {
        Running::start(&self.service, self.settings.clone())
    }

    async fn wait_until_every_user_exists(&self) {
        eventually("every user to be created", async || {
            let s = Snapshot::of(&self.service).await;
            if s.users.len() == USERS {
                Ok(())
            } else {
                Err(s.summary())
            }
        })
        .await;
    }

    fn outage(&self, down: bool) {
        self.store.outage().store(down, Ordering::SeqCst);
    }

    /// Takes storage down, produces the changes (some before the consumers pause, the rest
    /// while they are paused) and waits until every consumer retries a batch.
    async fn take_storage_down_and_produce(&self, consumers: &[&Running]) {
        self.outage(true);
        self.producer
            .send(&self.topic.name, &changes_between(1, 2))
            .await;
        eventually("every consumer to say degraded, retrying", async || {
            all_report(consumers, ConsumerState::Degraded)
        })
        .await;
        self.producer
            .send(&self.topic.name, &changes_between(3, 6))
            .await;
    }

    /// Brings storage back and waits until every change is applied and the consumers run.
    async fn bring_storage_back(&self, consumers: &[&Running]) {
        self.outage(false);
        let total: usize = (0..USERS).map(changes).sum();
        eventually(
            "every change to be applied once storage is back",
            async || {
                let applied: u64 = consumers
                    .iter()
                    .flat_map(|c| {
                        ["Customer.Suspended", "Customer.Reactivated"]
                            .map(|kind| count(&c.status, kind, "applied"))
                    })
                    .sum();
                if applied >= total as u64 {
                    Ok(())
                } else {
                    Err(format!(
                        "{applied} of {total} applied; {}",
                        describe(consumers)
                    ))
                }
            },
        )
        .await;
        eventually("the consumers to run again", async || {
            all_report(consumers, ConsumerState::Running)
        })
        .await;
    }

    /// Once the consumers have stopped: no user's events were applied by two calls at once,
    /// each event was stored exactly once and in its user's order, every outcome was
    /// `applied`, and each user is as their last event left them.
    async fn verify(&self, statuses: &[Arc<adapter_kafka::ConsumerStatus>]) {
        assert!(
            self.store.overlapping().is_empty(),
            "two calls applied events of one user at the same time: {:?}",
            self.store.overlapping()
        );
        // Per user, the events of the calls that stored them, in the order they were stored.
        let mut stored: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for call in self.store.calls().into_iter().filter(|c| c.stored) {
            for (user, id) in call.events {
                stored.entry(user).or_default().push(id);
            }
        }
        for i in 0..USERS {
            let expected: Vec<String> = (0..=changes(i))
                .map(|n| format!("{}-{n}", user(i)))
                .collect();
            assert_eq!(
                stored.get(&user(i)),
                Some(&expected),
                "{}'s events, each stored once, in order",
                user(i)
            );
        }
        for status in statuses {
            assert!(
                status
                    .counts()
                    .keys()
                    .all(|(_, outcome)| *outcome == "applied"),
                "nothing duplicated, skipped or dead-lettered: {:?}",
                status.counts()
            );
        }
        let s = Snapshot::of(&self.service).await;
        for i in 0..USERS {
            let last = change_kind(changes(i));
            let u = s.user(&user(i)).expect("the user exists");
            assert_eq!(
                u.is_active,
                last == "Customer.Reactivated",
                "{} ends as its last event, {last}, left it",
                user(i)
            );
        }
    }
}

async fn one_owner_at_a_time<S: Repository + Clone>(store: S) {
    let scenario = Scenario::new(store).await;
    let a = scenario.start();
    let b = scenario.start();
    wait_until_they_share_the_partitions(&[&a, &b]).await;
    scenario.wait_until_every_user_exists().await;
    let assignments = (a.status.assignments(), b.status.assignments());
    let partitions = (a.status.partitions(), b.status.partitions());

    scenario.take_storage_down_and_produce(&[&a, &b]).await;
    tokio::time::sleep(OUTAGE).await;
    assert!(a.is_alive() && b.is_alive(), "{}", describe(&[&a, &b]));
    all_report(&[&a, &b], ConsumerState::Degraded).expect("both still retrying their batch");
    scenario.bring_storage_back(&[&a, &b]).await;
    assert_eq!(
        (a.status.assignments(), b.status.assignments()),
        assignments,
        "no rebalance: {}",
        describe(&[&a, &b])
    );
    assert_eq!(
        (a.status.partitions(), b.status.partitions()),
        partitions,
        "each consumer kept its partitions"
    );
    let statuses = [a.stop().await, b.stop().await];
    scenario.verify(&statuses).await;
}

#[tokio::test]
async fn a_storage_outage_longer_than_the_poll_interval_keeps_each_partition_with_one_consumer_on_sqlite()
 {
    let (store, _dir) = sqlite_store();
    one_owner_at_a_time(store).await;
}

#[tokio::test]
async fn a_storage_outage_longer_than_the_poll_interval_keeps_each_partition_with_one_consumer_on_mongodb()
 {
    one_owner_at_a_time(mongo_store().await).await;
}

/// A rebalance happens anyway (a third consumer joins) while the two hold batches they cannot
/// store: each drops what it no longer owns, uncommitted, and the new owners apply it.
#[tokio::test]
async fn a_rebalance_during_a_storage_outage_hands_partitions_over_without_two_consumers_applying_one_user()
 {
    let (store, _dir) = sqlite_store();
    let scenario = Scenario::new(store).await;
    let a = scenario.start();
    let b = scenario.start();
    wait_until_they_share_the_partitions(&[&a, &b]).await;
    scenario.wait_until_every_user_exists().await;

    scenario.take_storage_down_and_produce(&[&a, &b]).await;
    let c = scenario.start();
    eventually("the third consumer to be given partitions", async || {
        let mut all: Vec<i32> = [&a, &b, &c]
            .iter()
            .flat_map(|r| r.status.partitions())
            .collect();
        all.sort_unstable();
        if !c.status.partitions().is_empty() && all == (0..PARTITIONS).collect::<Vec<_>>() {
            Ok(())
        } else {
            Err(describe(&[&a, &b, &c]))
        }
    })
    .await;
    scenario.bring_storage_back(&[&a, &b, &c]).await;
    let statuses = [a.stop().await, b.stop().await, c.stop().await];
    scenario.verify(&statuses).await;
}
