//! Customer lifecycle events (`Customer.Created`, `.Updated`, `.Suspended`, `.Reactivated`,
//! `.Deleted`) and what each one does to the store.
//!
//! The decision is a pure function of the event and the user as stored now ([`decide`]); the
//! store carries it out together with its inbox entry (`EventRepository::apply_events`), so a
//! message delivered twice has its effect once.

use std::fmt;

use chrono::TimeDelta;

use crate::model::{
    Amount, BillingDraft, InvalidValue, Payment, ServiceId, Timestamp, User, UserId, UserPatch,
};
use crate::ports::IdGenerator;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Created,
    Updated,
    Suspended,
    Reactivated,
    Deleted,
}

impl EventType {
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

/// The identity of a message, for the inbox: the producer's `id`/`eventId` when it sends one,
/// else a digest of the message's bytes (so a producer's retry of the same bytes is the same
/// message).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

impl MessageId {
    /// # Errors
    /// When `raw` is empty, over 200 characters, or has control characters.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        if raw.is_empty() || raw.chars().count() > 200 || raw.chars().any(char::is_control) {
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
    pub service_id: Option<ServiceId>,
    pub total_invoice: Option<Amount>,
}

/// A parsed, valid customer event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerEvent {
    pub id: MessageId,
    pub kind: EventType,
    pub user_id: UserId,
    /// The fields the event gives, merged like a `PUT` (address and phone field by field).
    pub profile: UserPatch,
    pub initial_billing: InitialBilling,
    /// The envelope's timestamp, when it has one.
    pub timestamp: Option<Timestamp>,
}

/// Defaults for the initial billing of `Customer.Created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDefaults {
    /// `INITIAL_BILLING_DUE_DAYS`: due this many days after generation.
    pub due_days: u32,
    /// `INITIAL_BILLING_AMOUNT`.
    pub amount: Amount,
}

impl Default for EventDefaults {
    fn default() -> Self {
        Self {
            due_days: 14,
            amount: Amount::new(100_000).unwrap_or_else(|_| unreachable!()),
        }
    }
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    Applied,
    /// Its id is in the inbox: it was applied before.
    Duplicate,
    /// Valid but without effect (a suspension of an unknown user, say).
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
    /// Insert a new user, then (for `Created`, when the user is active) its initial billing.
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
    /// Remove the user and all their billings.
    DeleteUser,
    Skip {
        reason: String,
    },
}

/// Everything [`decide`] needs besides the event and the user.
#[derive(Clone, Copy)]
pub struct DecisionContext<'a> {
    pub now: Timestamp,
    pub ids: &'a dyn IdGenerator,
    pub defaults: EventDefaults,
}

impl fmt::Debug for DecisionContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecisionContext")
            .field("now", &self.now)
            .field("defaults", &self.defaults)
            .finish_non_exhaustive()
    }
}

fn initial_billing(event: &CustomerEvent, user: &User, ctx: &DecisionContext<'_>) -> BillingDraft {
    let spec = &event.initial_billing;
    let generation_date = spec.generation_date.or(event.timestamp).unwrap_or(ctx.now);
    let due_date = spec
        .due_date
        .unwrap_or_else(|| generation_date + TimeDelta::days(i64::from(ctx.defaults.due_days)));
    BillingDraft {
        id: ctx.ids.document_id(),
        user_id: user.user_id.clone(),
        generation_date,
        due_date,
        service_id: spec
            .service_id
            .clone()
            .unwrap_or_else(|| ServiceId::parse("1").unwrap_or_else(|_| unreachable!())),
        total_invoice: spec.total_invoice.unwrap_or(ctx.defaults.amount),
        payment: Payment::Unpaid,
        created_at: ctx.now,
    }
}

fn new_user(event: &CustomerEvent, ctx: &DecisionContext<'_>) -> User {
    let blank = User {
        id: ctx.ids.document_id(),
        user_id: event.user_id.clone(),
        name: None,
        email: None,
        address: crate::model::Address::default(),
        phone: crate::model::Phone::default(),
        is_active: true,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    let mut profile = event.profile.clone();
    profile.echo = crate::model::UserEcho::default();
    profile.apply(&blank, ctx.now).unwrap_or(blank)
}

/// What `event` does, given the user as stored now (`None`: no such user).
///
/// - `Created`: upserts the user (the payload merged over what is stored) and creates this
///   event's initial billing, unless the user ends up inactive: billings are for active users.
/// - `Updated`: merges the payload; an unknown user is created from it, without a billing.
/// - `Suspended` / `Reactivated`: sets `isActive`; an unknown user is skipped.
/// - `Deleted`: removes the user and their billings; an unknown user is skipped.
pub fn decide(event: &CustomerEvent, current: Option<&User>, ctx: &DecisionContext<'_>) -> Effect {
    let mut patch = event.profile.clone();
    patch.echo = crate::model::UserEcho::default();
    match (event.kind, current) {
        (EventType::Created, None) => {
            let user = new_user(event, ctx);
            let billing = user.is_active.then(|| initial_billing(event, &user, ctx));
            Effect::CreateUser { user, billing }
        }
        (EventType::Created, Some(u)) => {
            let user = patch.apply(u, ctx.now).unwrap_or_else(|_| u.clone());
            let billing = user.is_active.then(|| initial_billing(event, &user, ctx));
            Effect::UpdateUser { user, billing }
        }
        (EventType::Updated, None) => Effect::CreateUser {
            user: new_user(event, ctx),
            billing: None,
        },
        (EventType::Updated, Some(u)) => Effect::UpdateUser {
            user: patch.apply(u, ctx.now).unwrap_or_else(|_| u.clone()),
            billing: None,
        },
        (EventType::Suspended | EventType::Reactivated, Some(u)) => {
            let active = event.kind == EventType::Reactivated;
            Effect::UpdateUser {
                user: UserPatch::activation(active)
                    .apply(u, ctx.now)
                    .unwrap_or_else(|_| u.clone()),
                billing: None,
            }
        }
        (EventType::Deleted, Some(_)) => Effect::DeleteUser,
        (EventType::Suspended | EventType::Reactivated | EventType::Deleted, None) => {
            Effect::Skip {
                reason: format!("{}: unknown user `{}`", event.kind.as_str(), event.user_id),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::*;
    use crate::model::{DocumentId, Name, parse_timestamp};

    #[derive(Default)]
    struct Ids(AtomicU8);

    impl IdGenerator for Ids {
        fn document_id(&self) -> DocumentId {
            DocumentId::from_bytes([self.0.fetch_add(1, Ordering::Relaxed); 12])
        }
        fn user_id(&self) -> UserId {
            UserId::parse("generated").unwrap()
        }
    }

    fn t(s: &str) -> Timestamp {
        parse_timestamp(s).unwrap()
    }

    fn event(kind: EventType) -> CustomerEvent {
        CustomerEvent {
            id: MessageId::parse("m-1").unwrap(),
            kind,
            user_id: UserId::parse("u-1").unwrap(),
            profile: UserPatch {
                name: Some(Some(Name::parse("Ana").unwrap())),
                ..UserPatch::default()
            },
            initial_billing: InitialBilling::default(),
            timestamp: None,
        }
    }

    fn decide_with(e: &CustomerEvent, current: Option<&User>) -> Effect {
        let ids = Ids::default();
        let ctx = DecisionContext {
            now: t("2025-10-01T10:00:00Z"),
            ids: &ids,
            defaults: EventDefaults::default(),
        };
        decide(e, current, &ctx)
    }

    fn stored_user() -> User {
        match decide_with(&event(EventType::Updated), None) {
            Effect::CreateUser { user, .. } => user,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn event_types_parse_from_their_documented_names_only() {
        for kind in [
            EventType::Created,
            EventType::Updated,
            EventType::Suspended,
            EventType::Reactivated,
            EventType::Deleted,
        ] {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventType::parse("Customer.Archived"), None);
        assert_eq!(EventType::parse("customer.created"), None);
    }

    #[test]
    fn created_for_a_new_user_creates_them_with_a_default_initial_billing() {
        let Effect::CreateUser {
            user,
            billing: Some(b),
        } = decide_with(&event(EventType::Created), None)
        else {
            panic!("expected a new user with a billing");
        };
        assert_eq!(user.name.unwrap().as_str(), "Ana");
        assert!(user.is_active);
        assert_eq!(b.generation_date, t("2025-10-01T10:00:00Z"));
        assert_eq!(b.due_date, t("2025-10-15T10:00:00Z"));
        assert_eq!(b.service_id.as_str(), "1");
        assert_eq!(b.total_invoice.value(), 100_000);
        assert_eq!(b.payment, Payment::Unpaid);
    }

    #[test]
    fn the_initial_billing_dates_come_from_the_payload_then_the_envelope() {
        let mut e = event(EventType::Created);
        e.timestamp = Some(t("2025-09-01"));
        let Effect::CreateUser {
            billing: Some(b), ..
        } = decide_with(&e, None)
        else {
            panic!("expected a billing");
        };
        assert_eq!(b.generation_date, t("2025-09-01"));
        assert_eq!(b.due_date, t("2025-09-15"));
        e.initial_billing.generation_date = Some(t("2025-08-01"));
        e.initial_billing.due_date = Some(t("2025-08-05"));
        let Effect::CreateUser {
            billing: Some(b), ..
        } = decide_with(&e, None)
        else {
            panic!("expected a billing");
        };
        assert_eq!(
            (b.generation_date, b.due_date),
            (t("2025-08-01"), t("2025-08-05"))
        );
    }

    #[test]
    fn created_for_an_inactive_customer_creates_no_billing() {
        let mut e = event(EventType::Created);
        e.profile.is_active = Some(false);
        assert!(matches!(
            decide_with(&e, None),
            Effect::CreateUser { billing: None, .. }
        ));
    }

    #[test]
    fn created_for_an_existing_user_merges_and_still_bills() {
        let u = stored_user();
        let mut e = event(EventType::Created);
        e.profile.name = Some(Some(Name::parse("Ana María").unwrap()));
        let Effect::UpdateUser {
            user,
            billing: Some(_),
        } = decide_with(&e, Some(&u))
        else {
            panic!("expected an update with a billing");
        };
        assert_eq!(user.name.unwrap().as_str(), "Ana María");
        assert_eq!(user.id, u.id);
    }

    #[test]
    fn updated_for_an_unknown_user_creates_them_without_a_billing() {
        assert!(matches!(
            decide_with(&event(EventType::Updated), None),
            Effect::CreateUser { billing: None, .. }
        ));
    }

    #[test]
    fn suspension_and_reactivation_set_is_active_and_skip_unknown_users() {
        let u = stored_user();
        let Effect::UpdateUser { user, .. } = decide_with(&event(EventType::Suspended), Some(&u))
        else {
            panic!("expected an update");
        };
        assert!(!user.is_active);
        let Effect::UpdateUser { user, .. } =
            decide_with(&event(EventType::Reactivated), Some(&user))
        else {
            panic!("expected an update");
        };
        assert!(user.is_active);
        assert!(matches!(
            decide_with(&event(EventType::Suspended), None),
            Effect::Skip { .. }
        ));
    }

    #[test]
    fn deleted_removes_a_known_user_and_skips_an_unknown_one() {
        assert_eq!(
            decide_with(&event(EventType::Deleted), Some(&stored_user())),
            Effect::DeleteUser
        );
        assert!(matches!(
            decide_with(&event(EventType::Deleted), None),
            Effect::Skip { .. }
        ));
    }

    #[test]
    fn a_message_id_is_printable_and_bounded() {
        assert!(MessageId::parse("evt-1").is_ok());
        assert!(MessageId::parse("").is_err());
        assert!(MessageId::parse(&"x".repeat(201)).is_err());
    }
}
