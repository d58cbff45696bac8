//! Test support for adapters, compiled only with the `contract-tests` feature.

pub mod contract;
pub mod round_trips;
