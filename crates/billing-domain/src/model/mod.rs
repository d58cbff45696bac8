//! Entities and value types.

mod billing;
mod billing_event;
mod change;
mod event;
mod ids;
mod listing;
mod money;
mod phone;
mod recorded;
mod text;
mod time;
mod user;

pub use billing::*;
pub use billing_event::*;
pub use change::*;
pub use event::*;
pub use ids::*;
pub use listing::*;
pub use money::*;
pub use phone::*;
pub use recorded::*;
pub use text::*;
pub use time::*;
pub use user::*;

/// Why a raw value was refused. The edge adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

impl InvalidValue {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}
