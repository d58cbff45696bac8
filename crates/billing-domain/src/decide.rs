//! What each customer event does: a pure function of the event and what the store knows of its
//! user ([`Subject`]). The store carries the decision out together with its inbox entry
//! (`EventRepository::apply_events`), so a message delivered twice has its effect once.
//!
//! Events are facts from the system of record, not requests: they are never refused for the
//! form of a field. Two rules make replays harmless, even by a consumer group new to the topic
//! on a database another service kept:
//! - an event older than the last one applied for its user (by envelope timestamp) has no
//!   effect, and a deleted user's tombstone dates the deletion, so an older `Created` or
//!   `Updated` cannot bring the user back;
//! - `Created` bills only a user who has no billing yet.

use std::fmt;

use chrono::TimeDelta;

use crate::model::{
    Address, Amount, BillingDraft, CustomerEvent, Effect, EventType, Payment, Phone, Scalar,
    Subject, Timestamp, User, UserEcho, UserPatch, latest_timestamp,
};
use crate::ports::IdGenerator;

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

/// Everything [`decide`] needs besides the event and its subject.
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
    // Capped at the last instant a client could write back: a generation date in the last
    // days of year 9999 must not give a due date past it.
    let due_date = spec.due_date.unwrap_or_else(|| {
        generation_date
            .checked_add_signed(TimeDelta::days(i64::from(ctx.defaults.due_days)))
            .map_or(latest_timestamp(), |due| due.min(latest_timestamp()))
    });
    BillingDraft {
        id: ctx.ids.document_id(),
        user_id: user.user_id.clone(),
        generation_date,
        due_date,
        service_id: Some(
            spec.service_id
                .clone()
                .unwrap_or_else(|| Scalar::text("1").unwrap_or_else(|_| unreachable!())),
        ),
        total_invoice: Some(spec.total_invoice.unwrap_or(ctx.defaults.amount.into())),
        payment: Payment::UNPAID,
        created_at: ctx.now,
    }
}

/// The event's fields as a patch that never refuses: events carry facts, not echoes.
fn profile(event: &CustomerEvent) -> UserPatch {
    UserPatch {
        echo: UserEcho::default(),
        ..event.profile.clone()
    }
}

/// Applies a patch of facts; such a patch has nothing a store could refuse.
fn merged(patch: &UserPatch, user: &User, now: Timestamp) -> User {
    patch.apply(user, now).unwrap_or_else(|_| user.clone())
}

fn new_user(event: &CustomerEvent, ctx: &DecisionContext<'_>) -> User {
    let blank = User {
        id: ctx.ids.document_id(),
        user_id: event.user_id.clone(),
        name: None,
        email: None,
        address: Address::default(),
        phone: Phone::default(),
        is_active: true,
        created_at: ctx.now,
        updated_at: ctx.now,
        last_event_at: event.timestamp,
    };
    merged(&profile(event), &blank, ctx.now)
}

/// The user after the event, with the event's timestamp as its watermark.
fn stamped(mut user: User, event: &CustomerEvent) -> User {
    if let Some(t) = event.timestamp {
        user.last_event_at = Some(user.last_event_at.map_or(t, |w| w.max(t)));
    }
    user
}

/// Why `event` is too old to apply to `subject`, if it is.
fn staleness(event: &CustomerEvent, subject: &Subject) -> Option<String> {
    let at = event.timestamp?;
    let (watermark, what) = match &subject.user {
        Some(user) => (user.last_event_at?, "the last event applied to user"),
        None => (subject.deleted_at?, "the deletion of user"),
    };
    (at < watermark).then(|| {
        format!(
            "{} of {at} is older than {what} `{}` ({watermark})",
            event.kind.as_str(),
            event.user_id
        )
    })
}

/// What `event` does, given what the store knows of its user.
///
/// - An event older than its user's watermark (or, for a user that is gone, than the
///   deletion) is skipped.
/// - `Created`: upserts the user (the payload merged over what is stored) and creates an
///   initial billing when the user ends up active and has no billing yet.
/// - `Updated`: merges the payload; an unknown user is created from it, without a billing.
/// - `Suspended` / `Reactivated`: sets `isActive`; an unknown user is skipped.
/// - `Deleted`: removes the user and their billings, leaving a tombstone dated by the event;
///   an unknown user is skipped.
pub fn decide(event: &CustomerEvent, subject: &Subject, ctx: &DecisionContext<'_>) -> Effect {
    if let Some(reason) = staleness(event, subject) {
        return Effect::Skip { reason };
    }
    let bill = |user: &User| {
        (user.is_active && !subject.has_billings).then(|| initial_billing(event, user, ctx))
    };
    match (event.kind, &subject.user) {
        (EventType::Created, None) => {
            let user = new_user(event, ctx);
            let billing = bill(&user);
            Effect::CreateUser { user, billing }
        }
        (EventType::Created, Some(u)) => {
            let user = stamped(merged(&profile(event), u, ctx.now), event);
            let billing = bill(&user);
            Effect::UpdateUser { user, billing }
        }
        (EventType::Updated, None) => Effect::CreateUser {
            user: new_user(event, ctx),
            billing: None,
        },
        (EventType::Updated, Some(u)) => Effect::UpdateUser {
            user: stamped(merged(&profile(event), u, ctx.now), event),
            billing: None,
        },
        (EventType::Suspended | EventType::Reactivated, Some(u)) => {
            let active = event.kind == EventType::Reactivated;
            Effect::UpdateUser {
                user: stamped(merged(&UserPatch::activation(active), u, ctx.now), event),
                billing: None,
            }
        }
        (EventType::Deleted, Some(_)) => Effect::DeleteUser {
            at: event.timestamp.unwrap_or(ctx.now),
        },
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
    use crate::model::{
        Change, DocumentId, InitialBilling, MessageId, Name, Number, UserId, parse_timestamp,
    };

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
                name: Change::To(Some(Name::parse("Ana").unwrap().into())),
                ..UserPatch::default()
            },
            initial_billing: InitialBilling::default(),
            timestamp: None,
        }
    }

    fn decide_on(e: &CustomerEvent, subject: &Subject) -> Effect {
        let ids = Ids::default();
        let ctx = DecisionContext {
            now: t("2025-10-01T10:00:00Z"),
            ids: &ids,
            defaults: EventDefaults::default(),
        };
        decide(e, subject, &ctx)
    }

    fn decide_with(e: &CustomerEvent, current: Option<&User>) -> Effect {
        decide_on(
            e,
            &Subject {
                user: current.cloned(),
                ..Subject::default()
            },
        )
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
        assert_eq!(user.name, Some(Scalar::text("Ana").unwrap()));
        assert!(user.is_active);
        assert_eq!(b.generation_date, t("2025-10-01T10:00:00Z"));
        assert_eq!(b.due_date, t("2025-10-15T10:00:00Z"));
        assert_eq!(b.service_id, Some(Scalar::text("1").unwrap()));
        assert_eq!(b.total_invoice, Some(Number::Int(100_000)));
        assert_eq!(b.payment, Payment::UNPAID);
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
    fn created_for_an_existing_user_merges_and_bills_only_one_without_billings() {
        let u = stored_user();
        let mut e = event(EventType::Created);
        e.profile.name = Change::To(Some(Name::parse("Ana María").unwrap().into()));
        let Effect::UpdateUser {
            user,
            billing: Some(_),
        } = decide_with(&e, Some(&u))
        else {
            panic!("expected an update with a billing");
        };
        assert_eq!(user.name, Some(Scalar::text("Ana María").unwrap()));
        assert_eq!(user.id, u.id);
        let billed = Subject {
            user: Some(u),
            has_billings: true,
            ..Subject::default()
        };
        assert!(matches!(
            decide_on(&e, &billed),
            Effect::UpdateUser { billing: None, .. }
        ));
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
    fn deleted_removes_a_known_user_dated_by_the_event_and_skips_an_unknown_one() {
        let mut e = event(EventType::Deleted);
        e.timestamp = Some(t("2025-10-30"));
        assert_eq!(
            decide_with(&e, Some(&stored_user())),
            Effect::DeleteUser {
                at: t("2025-10-30")
            }
        );
        assert!(matches!(decide_with(&e, None), Effect::Skip { .. }));
    }

    #[test]
    fn an_event_older_than_the_last_applied_for_its_user_has_no_effect() {
        let mut suspended = event(EventType::Suspended);
        suspended.timestamp = Some(t("2025-10-10"));
        let Effect::UpdateUser { user, .. } = decide_with(&suspended, Some(&stored_user())) else {
            panic!("expected an update");
        };
        assert_eq!(user.last_event_at, Some(t("2025-10-10")));
        let mut older = event(EventType::Reactivated);
        older.timestamp = Some(t("2025-10-09"));
        assert!(matches!(
            decide_with(&older, Some(&user)),
            Effect::Skip { .. }
        ));
        let mut untimed = event(EventType::Reactivated);
        untimed.timestamp = None;
        assert!(matches!(
            decide_with(&untimed, Some(&user)),
            Effect::UpdateUser { .. }
        ));
    }

    #[test]
    fn a_tombstone_keeps_older_events_from_bringing_a_user_back() {
        let gone = Subject {
            deleted_at: Some(t("2025-09-20")),
            ..Subject::default()
        };
        for kind in [EventType::Created, EventType::Updated] {
            let mut e = event(kind);
            e.timestamp = Some(t("2025-09-19"));
            assert!(
                matches!(decide_on(&e, &gone), Effect::Skip { .. }),
                "{kind:?}"
            );
            e.timestamp = Some(t("2025-09-21"));
            assert!(
                matches!(decide_on(&e, &gone), Effect::CreateUser { .. }),
                "{kind:?}"
            );
        }
    }
}
