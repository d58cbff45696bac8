//! The Kafka adapter: consumes customer lifecycle events from a topic and applies each exactly
//! once through the domain's event port (`consumer.rs`), and relays the billing events the
//! store recorded to another topic (`relay.rs`).

mod consumer;
mod group;
mod relay;
mod settings;
mod status;

pub use consumer::run;
pub use relay::{RELAY_LEASE, RelayOptions, relay};
pub use settings::{AutoOffsetReset, Batching, KafkaSettings};
pub use status::{ConsumerState, ConsumerStatus};
