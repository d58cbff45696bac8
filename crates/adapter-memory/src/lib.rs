//! In-memory implementations of the billing ports, for tests and local experiments.
//!
//! - [`MemoryStore`]: both repositories, kept behind one mutex so that every operation is atomic.
//! - [`FixedClock`]: a clock that tells the time it is set to.
//! - [`SequentialIds`]: deterministic, increasing ObjectIds and `userId`s `user-1`, `user-2`, ...

mod clock;
mod ids;
mod store;

pub use clock::FixedClock;
pub use ids::SequentialIds;
pub use store::MemoryStore;
