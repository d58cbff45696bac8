//! The Kafka adapter: consumes customer lifecycle events from a topic and applies each exactly
//! once through the domain's event port. See `consumer.rs` for the guarantees.

mod consumer;
mod group;
mod settings;
mod status;

pub use consumer::run;
pub use settings::{AutoOffsetReset, Batching, KafkaSettings};
pub use status::{ConsumerState, ConsumerStatus};
