//! What the consumer relies on librdkafka for when it pauses its partitions during a storage
//! outage: a paused partition delivers nothing, not even messages fetched before the pause, and
//! after resuming it continues right after the last message handed to the application, so that
//! nothing is lost, repeated or reordered.

use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::support::{Msg, PARTITIONS, Producer, Topic, brokers, unique};

const MESSAGES: usize = 200;
const BEFORE_PAUSE: usize = 10;

async fn next_offset(consumer: &StreamConsumer) -> i64 {
    // A safety net, not a claim about speed.
    match tokio::time::timeout(Duration::from_secs(30), consumer.recv()).await {
        Ok(Ok(m)) => m.offset(),
        Ok(Err(e)) => panic!("cannot read: {e}"),
        Err(_) => panic!("no message within 30 s"),
    }
}

#[tokio::test]
async fn a_paused_partition_holds_back_what_was_fetched_and_resumes_after_the_last_message_delivered()
 {
    let topic = Topic::create("pausing").await;
    // One key: one partition, in order.
    let messages: Vec<Msg> = (0..MESSAGES)
        .map(|i| Msg::raw(Some("one-key"), i.to_string()))
        .collect();
    Producer::new().send(&topic.name, &messages).await;

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", unique("pausing"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        partitions
            .add_partition_offset(&topic.name, p, Offset::Beginning)
            .expect("a partition");
    }
    consumer.assign(&partitions).expect("the partitions");

    let mut seen = Vec::new();
    for _ in 0..BEFORE_PAUSE {
        seen.push(next_offset(&consumer).await);
    }
    // The first fetch brought the whole partition (200 small messages) into librdkafka's queue.
    consumer
        .pause(&consumer.assignment().expect("the assignment"))
        .expect("pause");
    // Nothing comes while paused; a slow machine can only make this pass more easily.
    let during = tokio::time::timeout(Duration::from_secs(3), consumer.recv()).await;
    assert!(
        during.is_err(),
        "a paused partition delivered a message: offset {:?}",
        during.map(|m| m.map(|m| m.offset()))
    );
    consumer
        .resume(&consumer.assignment().expect("the assignment"))
        .expect("resume");
    while seen.len() < MESSAGES {
        seen.push(next_offset(&consumer).await);
    }
    let expected: Vec<i64> = (0..MESSAGES as i64).collect();
    assert_eq!(
        seen, expected,
        "every offset once, in order, across the pause"
    );
    let extra = tokio::time::timeout(Duration::from_secs(1), consumer.recv()).await;
    assert!(extra.is_err(), "a message was delivered twice");
}
