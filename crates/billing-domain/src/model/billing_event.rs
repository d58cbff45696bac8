//! What happened to a billing, as the service tells other services (`Billing.Created`, ...).
//!
//! A store records these in the same write as the change they describe (the outbox), keeps
//! them as each billing's history, and a relay publishes the ones not yet published. The
//! rules of *which* events a change makes live here, so that every store makes the same ones.

use std::fmt;

use super::{Billing, InvalidValue, Timestamp};

/// The kinds of billing event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillingEventType {
    Created,
    /// A change of anything but the payment.
    Updated,
    /// Paid, or its payment date changed while paid.
    Paid,
    /// The payment cleared.
    Unpaid,
    /// Deleted: by itself, or with its user.
    Deleted,
    /// Unpaid past its due date (once per due date).
    Overdue,
}

impl BillingEventType {
    pub const ALL: [Self; 6] = [
        Self::Created,
        Self::Updated,
        Self::Paid,
        Self::Unpaid,
        Self::Deleted,
        Self::Overdue,
    ];

    /// The name on the wire, as the operator's other events are named (`Billing.Paid`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Created => "Billing.Created",
            Self::Updated => "Billing.Updated",
            Self::Paid => "Billing.Paid",
            Self::Unpaid => "Billing.Unpaid",
            Self::Deleted => "Billing.Deleted",
            Self::Overdue => "Billing.Overdue",
        }
    }

    /// # Errors
    /// When `raw` is not one of the names [`Self::as_str`] gives.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| InvalidValue::new(format!("`{raw}` is not a billing event type")))
    }

    /// The events an update from `before` to `after` makes, in this order: `Updated` when
    /// anything but the payment changed, then `Paid` or `Unpaid` when the payment did. An
    /// update that changed nothing makes none.
    pub fn of_update(before: &Billing, after: &Billing) -> Vec<Self> {
        let mut kinds = Vec::new();
        let mut other = before.clone();
        other.payment = after.payment;
        other.updated_at = after.updated_at;
        if other != *after {
            kinds.push(Self::Updated);
        }
        match (before.payment.is_paid, after.payment.is_paid) {
            (false, true) => kinds.push(Self::Paid),
            (true, false) => kinds.push(Self::Unpaid),
            (true, true) if before.payment.date != after.payment.date => kinds.push(Self::Paid),
            _ => {}
        }
        kinds
    }
}

impl fmt::Display for BillingEventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A billing event's identity: a UUID, made by the store that records it, and the same on
/// every delivery of the event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BillingEventId(String);

impl BillingEventId {
    /// # Errors
    /// When `raw` is not a UUID in its hyphenated form.
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let shape = raw.len() == 36
            && raw.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            });
        if shape {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(InvalidValue::new("must be a UUID"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BillingEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an event stands in its store's log: increasing in the order the events were
/// recorded. The relay publishes in this order and history pages by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventSeq(pub u64);

impl EventSeq {
    /// What [`EventSeq::parse`] takes: the decimal number.
    pub const PATTERN: &'static str = "^[0-9]{1,20}$";

    /// # Errors
    /// When `raw` was not made by [`EventSeq::encode`].
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let digits = !raw.is_empty() && raw.len() <= 20 && raw.bytes().all(|b| b.is_ascii_digit());
        digits
            .then(|| raw.parse().ok())
            .flatten()
            .map(Self)
            .ok_or_else(|| InvalidValue::new("is not a cursor this service issued"))
    }

    pub fn encode(&self) -> String {
        self.0.to_string()
    }
}

impl fmt::Display for EventSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One recorded billing event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillingEvent {
    pub seq: EventSeq,
    pub id: BillingEventId,
    pub kind: BillingEventType,
    /// The billing as it stood after the change (before it, for `Deleted`).
    pub billing: Billing,
    pub at: Timestamp,
    /// When the relay had it acknowledged by the broker.
    pub published_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BillingId, DocumentId, Payment, UserId, parse_timestamp};

    fn billing() -> Billing {
        let t = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        Billing {
            id: DocumentId::parse("65a1b2c3d4e5f60718293a4b").unwrap(),
            billing_id: BillingId::from_sequence(1),
            user_id: UserId::parse("u1").unwrap(),
            generation_date: t,
            due_date: Some(t),
            service_id: None,
            total_invoice: None,
            payment: Payment::UNPAID,
            phone: crate::model::Phone::default(),
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn every_type_reads_back_from_its_name() {
        for t in BillingEventType::ALL {
            assert_eq!(BillingEventType::parse(t.as_str()), Ok(t));
        }
        assert!(BillingEventType::parse("Billing.created").is_err());
    }

    #[test]
    fn an_update_makes_updated_for_other_fields_and_a_payment_event_for_the_payment() {
        let before = billing();
        let later = parse_timestamp("2026-02-01T00:00:00Z").unwrap();
        let mut moved = before.clone();
        moved.due_date = Some(later);
        moved.updated_at = later;
        assert_eq!(
            BillingEventType::of_update(&before, &moved),
            [BillingEventType::Updated]
        );
        let mut paid = before.clone();
        paid.payment = Payment::paid(later);
        paid.updated_at = later;
        assert_eq!(
            BillingEventType::of_update(&before, &paid),
            [BillingEventType::Paid]
        );
        assert_eq!(
            BillingEventType::of_update(&paid, &before),
            [BillingEventType::Unpaid]
        );
        let mut both = moved.clone();
        both.payment = Payment::paid(later);
        assert_eq!(
            BillingEventType::of_update(&before, &both),
            [BillingEventType::Updated, BillingEventType::Paid]
        );
        let mut redated = paid.clone();
        redated.payment = Payment::paid(before.created_at);
        assert_eq!(
            BillingEventType::of_update(&paid, &redated),
            [BillingEventType::Paid]
        );
        assert!(BillingEventType::of_update(&before, &before).is_empty());
    }

    #[test]
    fn a_cursor_reads_back_and_nothing_else_reads() {
        assert_eq!(EventSeq::parse(&EventSeq(42).encode()), Ok(EventSeq(42)));
        assert_eq!(
            EventSeq::parse(&u64::MAX.to_string()),
            Ok(EventSeq(u64::MAX))
        );
        for bad in ["", "-1", "1e3", "18446744073709551616", "abc"] {
            assert!(EventSeq::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_event_id_is_a_hyphenated_uuid() {
        assert!(BillingEventId::parse("0b9e5f9a-4c1d-4e8a-9a57-2f1e3d4c5b6a").is_ok());
        assert!(BillingEventId::parse("0b9e5f9a4c1d4e8a9a572f1e3d4c5b6a").is_err());
        assert!(BillingEventId::parse("zb9e5f9a-4c1d-4e8a-9a57-2f1e3d4c5b6a").is_err());
    }
}
