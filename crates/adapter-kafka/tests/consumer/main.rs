//! The Kafka consumer and the billing event relay against a real (Kafka-wire) broker: `TEST_KAFKA_BROKERS`, which
//! `./scripts/test.sh` starts. Each test has topics, groups and a store of its own, runs
//! `adapter_kafka::run` as a task, and waits for what it expects by polling the store or the
//! consumer's counts, with a deadline.

mod dead_letters;
mod duplicates;
mod effects;
mod offset_reset;
mod ordering;
mod pausing;
mod relay;
mod replay;
mod resumption;
mod states;
mod storage_outage;
mod storage_outage_with_two_consumers;
mod support;
mod unknown_types;
