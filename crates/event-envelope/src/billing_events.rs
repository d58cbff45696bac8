//! Billing events as the service tells them: the envelope of the operator's own producer,
//! `{"id", "event", "data", "timestamp"}`, with `data` the billing exactly as
//! `GET /api/billings/{billingId}` returns it. The relay publishes this, and a billing's
//! history lists it, so a consumer reads both the same way.

use billing_domain::BillingEvent;
use serde::Serialize;
use utoipa::ToSchema;

use crate::json::{BillingJson, date};

/// One billing event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = BillingEvent)]
pub struct BillingEventJson<'a> {
    /// The event's own id, the same on every delivery.
    #[schema(example = "0b9e5f9a-4c1d-4e8a-9a57-2f1e3d4c5b6a")]
    id: &'a str,
    /// `Billing.Created`, `Billing.Updated`, `Billing.Paid`, `Billing.Unpaid`,
    /// `Billing.Deleted` or `Billing.Overdue`.
    #[schema(example = "Billing.Paid")]
    event: &'static str,
    /// The billing as the change left it (as it was, for `Billing.Deleted`).
    data: BillingJson<'a>,
    /// When the change was made.
    #[schema(format = DateTime)]
    timestamp: String,
}

impl<'a> From<&'a BillingEvent> for BillingEventJson<'a> {
    fn from(e: &'a BillingEvent) -> Self {
        Self {
            id: e.id.as_str(),
            event: e.kind.as_str(),
            data: BillingJson::from(&e.billing),
            timestamp: date(e.at),
        }
    }
}

/// The message the relay publishes for `event`.
pub fn billing_event_message(event: &BillingEvent) -> Vec<u8> {
    // Serialising a struct of strings, numbers and booleans cannot fail.
    serde_json::to_vec(&BillingEventJson::from(event)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use billing_domain::{
        Billing, BillingEventId, BillingEventType, BillingId, DocumentId, EventSeq, Payment, Phone,
        UserId, parse_timestamp,
    };
    use serde_json::json;

    use super::*;

    #[test]
    fn a_message_is_the_producers_envelope_around_the_billing_as_get_returns_it() {
        let t = parse_timestamp("2026-01-02T03:04:05.678Z").unwrap();
        let event = BillingEvent {
            seq: EventSeq(7),
            id: BillingEventId::parse("0b9e5f9a-4c1d-4e8a-9a57-2f1e3d4c5b6a").unwrap(),
            kind: BillingEventType::Paid,
            billing: Billing {
                id: DocumentId::parse("65a1b2c3d4e5f60718293a4b").unwrap(),
                billing_id: BillingId::from_sequence(12),
                user_id: UserId::parse("u-1").unwrap(),
                generation_date: t,
                due_date: None,
                service_id: None,
                total_invoice: None,
                payment: Payment::paid(t),
                phone: Phone::default(),
                created_at: t,
                updated_at: t,
            },
            at: t,
            published_at: None,
        };
        let message: serde_json::Value =
            serde_json::from_slice(&billing_event_message(&event)).unwrap();
        let when = "2026-01-02T03:04:05.678Z";
        assert_eq!(
            message,
            json!({
                "id": "0b9e5f9a-4c1d-4e8a-9a57-2f1e3d4c5b6a",
                "event": "Billing.Paid",
                "data": {
                    "_id": "65a1b2c3d4e5f60718293a4b", "userId": "u-1", "billingId": "000000012",
                    "generationDate": when, "dueDate": null, "serviceId": null,
                    "totalInvoice": null, "isPaid": true, "paymentDate": when, "phone": {},
                    "createdAt": when, "updatedAt": when, "__v": 0
                },
                "timestamp": when
            })
        );
    }
}
