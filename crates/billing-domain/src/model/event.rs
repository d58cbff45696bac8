//! Customer lifecycle events (`Customer.Created`, `.Updated`, `.Suspended`, `.Reactivated`,
//! `.Deleted`) as data: the event, what the store knows of its user, the store operations an
//! event comes down to, and what applying it did. What each event *does* is policy, in
//! `crate::decide`.

use std::fmt;

use super::{BillingDraft, InvalidValue, Number, Scalar, Timestamp, User, UserId, UserPatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Created,
    Updated,
    Suspended,
    Reactivated,
    Deleted,
}

impl EventType {
    /// Every type this service handles.
    pub const ALL: [Self; 5] = [
        Self::Created,
        Self::Updated,
        Self::Suspended,
        Self::Reactivated,
        Self::Deleted,
    ];

    /// `Customer.Created` and its siblings; any other text is not an event type we handle.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "Customer.Created" => Self::Created,
            "Customer.Updated" => Self::Updated,
            "Customer.Suspended" => Self::Suspended,
            "Customer.Reactivated" => Self::Reactivated,
            "Customer.Deleted" => Self::Deleted,
            _ => return None,
        })
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Customer.Created",
            Self::Updated => "Customer.Updated",
            Self::Suspended => "Customer.Suspended",
            Self::Reactivated => "Customer.Reactivated",
            Self::Deleted => "Customer.Deleted",
        }
    }
}

/// The identity of a message, for the inbox: the producer's `id`/`eventId` when it sends a
/// usable one, else a digest of the message's bytes (so a producer's retry of the same bytes is
/// the same message).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    pub const MAX_LEN: usize = 200;

    /// # Errors
    /// When `raw` is empty, over 200 characters, or has control characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty()
            || raw.chars().count() > Self::MAX_LEN
            || raw.chars().any(char::is_control)
        {
            return Err(InvalidValue::new("must be 1-200 printable characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a `Customer.Created` may say about the customer's first invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitialBilling {
    pub generation_date: Option<Timestamp>,
    pub due_date: Option<Timestamp>,
    pub service_id: Option<Scalar>,
    pub total_invoice: Option<Number>,
}

/// A parsed customer event: a fact the system of record reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerEvent {
    pub id: MessageId,
    pub kind: EventType,
    pub user_id: UserId,
    /// The fields the event gives, merged like a `PUT` (address and phone field by field;
    /// `null` clears).
    pub profile: UserPatch,
    pub initial_billing: InitialBilling,
    /// The envelope's timestamp, when it has one: it orders the events of a user.
    pub timestamp: Option<Timestamp>,
}

/// What the store knows of an event's user, as the event finds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub user: Option<User>,
    /// When a user with this `userId` was deleted last, if ever (its tombstone).
    pub deleted_at: Option<Timestamp>,
    /// Whether any billing names this `userId` (one of the previous service's counts too).
    pub has_billings: bool,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Its id is in the inbox: it was applied before.
    Duplicate,
    /// Valid but without effect (a suspension of an unknown user, an event older than the
    /// last one applied for its user).
    Skipped {
        reason: String,
    },
    /// The store refused (part of) its effect: it goes to the dead-letter topic, and is not in
    /// the inbox. Stores with transactions keep nothing of it; MongoDB keeps the user's part
    /// when the billing is what was refused.
    Rejected {
        reason: String,
    },
}

impl EventOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Skipped { .. } => "skipped",
            Self::Rejected { .. } => "rejected",
        }
    }
}

/// The store operations one event comes down to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Insert a new user, then (for `Created`) its initial billing.
    CreateUser {
        user: User,
        billing: Option<BillingDraft>,
    },
    /// Replace the stored user's fields with these (unchanged ones are not written), then the
    /// initial billing if any.
    UpdateUser {
        user: User,
        billing: Option<BillingDraft>,
    },
    /// Remove the user and all their billings, and leave a tombstone dated `at`.
    DeleteUser {
        at: Timestamp,
    },
    Skip {
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_is_printable_and_bounded() {
        assert!(MessageId::parse("evt-1").is_ok());
        assert!(MessageId::parse("").is_err());
        assert!(MessageId::parse(&"x".repeat(201)).is_err());
        assert!(MessageId::parse("a\nb").is_err());
    }
}
