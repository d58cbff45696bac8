//! The relay against the broker: what the store recorded goes out once, in order per customer,
//! keyed by `userId`, as the envelope the history lists; with two relays only the lease holder
//! publishes, and a holder that dies is taken over.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use adapter_kafka::{RelayOptions, relay};
use adapter_memory::{FixedClock, MemoryStore, SequentialIds};
use billing_domain::{
    Address, BillingEventRepository, BillingId, BillingService, Limit, NewBilling, NewUser,
    PageRequest, PaymentChange, Phone, Position, UserId,
};
use chrono::TimeDelta;
use rdkafka::Message;
use rdkafka::message::OwnedMessage;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::support::{DeadLetters, Topic, eventually, ts};

type Service = Arc<BillingService<MemoryStore>>;

fn service(clock: &FixedClock) -> Service {
    Arc::new(BillingService::new(
        MemoryStore::new(),
        Arc::new(clock.clone()),
        Arc::new(SequentialIds::new()),
    ))
}

struct Relay {
    stop: watch::Sender<bool>,
    task: JoinHandle<anyhow::Result<()>>,
}

fn start(service: &Service, topic: &Topic, holder: &str) -> Relay {
    let mut settings = topic.settings("unused-by-the-relay");
    settings.billing_events_topic = topic.name.clone();
    let mut options = RelayOptions::new(holder.to_owned());
    options.lease = Duration::from_secs(3);
    options.idle = Duration::from_millis(20);
    options.batch = Limit::new(7).expect("a limit");
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(relay(settings, Arc::clone(service), options, stopped));
    Relay { stop, task }
}

impl Relay {
    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task
            .await
            .expect("the relay task")
            .expect("the relay stops cleanly");
    }
}

/// User `n` with `billings` billings, each then paid: `2 * billings` events.
async fn customer(service: &Service, n: u32, billings: u32) {
    let user_id = UserId::parse(&format!("relay-{n}")).expect("a userId");
    service
        .create_user(NewUser {
            user_id: Some(user_id.clone()),
            name: None,
            email: None,
            address: Address::default(),
            phone: Phone::default(),
            is_active: true,
        })
        .await
        .expect("user created");
    for _ in 0..billings {
        let billing = service
            .create_billing(NewBilling {
                user_id: user_id.clone(),
                due_date: ts("2025-12-01"),
                service_id: None,
                total_invoice: None,
                payment: PaymentChange::Keep,
            })
            .await
            .expect("billing created");
        service
            .pay_billing(&billing.billing_id, None)
            .await
            .expect("billing paid");
    }
}

fn json(m: &OwnedMessage) -> serde_json::Value {
    serde_json::from_slice(m.payload().expect("a payload")).expect("JSON")
}

/// Every message's event id, per key, in the order read (each partition's order).
fn ids_by_key(messages: &[OwnedMessage]) -> BTreeMap<String, Vec<String>> {
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in messages {
        let key = String::from_utf8_lossy(m.key().expect("a key")).into_owned();
        by_key
            .entry(key)
            .or_default()
            .push(json(m)["id"].as_str().expect("an id").to_owned());
    }
    by_key
}

/// The events waiting for the relay, their ids per user in the store's order.
async fn queued_by_user(service: &Service) -> BTreeMap<String, Vec<String>> {
    let mut by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let queued = service
        .repository()
        .unpublished_events(Limit::new(500).expect("a limit"))
        .await
        .expect("unpublished_events");
    for e in queued {
        by_user
            .entry(e.billing.user_id.as_str().to_owned())
            .or_default()
            .push(e.id.as_str().to_owned());
    }
    by_user
}

async fn unpublished(service: &Service) -> usize {
    service
        .repository()
        .unpublished_events(Limit::new(500).expect("a limit"))
        .await
        .expect("unpublished_events")
        .len()
}

#[tokio::test]
async fn each_recorded_event_is_published_once_keyed_by_its_user_in_order_as_history_lists_it() {
    let topic = Topic::create("relay").await;
    let clock = FixedClock::default();
    let service = service(&clock);
    customer(&service, 1, 3).await;
    customer(&service, 2, 2).await;
    customer(&service, 3, 1).await;
    service
        .delete_billing(&BillingId::from_sequence(6))
        .await
        .expect("deleted");
    let queued = queued_by_user(&service).await;
    assert_eq!(queued.values().map(Vec::len).sum::<usize>(), 13);
    let relay = start(&service, &topic, "only");
    let messages = DeadLetters::reading(&topic.name).read(13).await;
    eventually(
        "every event marked published",
        async || match unpublished(&service).await {
            0 => Ok(()),
            n => Err(format!("{n} unpublished")),
        },
    )
    .await;
    relay.stop().await;

    assert_eq!(
        ids_by_key(&messages),
        queued,
        "once each, keyed by userId, in the store's order per customer"
    );
    // The message is the envelope the history lists, byte for byte the same event.
    let first = service
        .billing_events(
            &BillingId::from_sequence(1),
            &PageRequest {
                limit: Limit::new(1).expect("a limit"),
                position: Position::First,
            },
        )
        .await
        .expect("history")
        .items
        .remove(0);
    let sent = messages
        .iter()
        .find(|m| json(m)["id"] == first.id.as_str())
        .expect("the first event was sent");
    assert_eq!(
        sent.payload().expect("a payload"),
        event_envelope::billing_event_message(&first).as_slice()
    );
    assert_eq!(json(sent)["event"], "Billing.Created");
    assert_eq!(json(sent)["data"]["billingId"], "000000001");
}

#[tokio::test]
async fn of_two_relays_one_publishes_and_the_other_takes_over_when_its_lease_expires() {
    let topic = Topic::create("relay-lease").await;
    let clock = FixedClock::default();
    let service = service(&clock);
    customer(&service, 1, 2).await;
    let mut queued = queued_by_user(&service).await;
    let a = start(&service, &topic, "a");
    let reader = DeadLetters::reading(&topic.name);
    let before = reader.read(4).await;
    eventually(
        "the first events marked published",
        async || match unpublished(&service).await {
            0 => Ok(()),
            n => Err(format!("{n} unpublished")),
        },
    )
    .await;
    let b = start(&service, &topic, "b");
    // `a` dies: it stops without giving the lease back, which `b` may only take once expired.
    a.task.abort();
    customer(&service, 2, 2).await;
    queued.extend(queued_by_user(&service).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        unpublished(&service).await,
        4,
        "b waits while a's lease is still valid"
    );
    clock.advance(TimeDelta::seconds(4));
    let after = reader.read(4).await;
    eventually("b to publish the rest", async || {
        match unpublished(&service).await {
            0 => Ok(()),
            n => Err(format!("{n} unpublished")),
        }
    })
    .await;
    b.stop().await;
    let mut all = before;
    all.extend(after);
    assert_eq!(
        ids_by_key(&all),
        queued,
        "each once, in order, across the takeover"
    );
}
