//! The billing domain: users (customers), their invoices ("billings"), the rules that bind them,
//! and the ports through which the outside world stores them, tells the time and makes identities.
//!
//! Nothing here does I/O. Values are parsed at the edge into types whose constructors check them
//! (`UserId::parse`, `Amount::parse`, ...), so everything past the edge is valid by construction.

pub mod decide;
pub mod error;
pub mod model;
pub mod ports;
pub mod service;

#[cfg(feature = "contract-tests")]
pub mod testing;

pub use decide::{DecisionContext, EventDefaults, decide};
pub use error::*;
pub use model::*;
pub use ports::*;
pub use service::BillingService;
