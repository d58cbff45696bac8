//! The outbox: `billing_events`, one document per billing event, written by the change it
//! describes. Where the deployment has transactions the event is written in the change's own,
//! so it is recorded if and only if the change is. A standalone server has none: the event is
//! written right after the change, and a crash in between loses it (the weaker guarantee the
//! port documents).
//!
//! ```text
//! { _id: <EventSeq as Int64>, eventId: <UUID v4>, event: "Billing.Paid",
//!   billingId, userId, billing: { <the billing, as in `billings`> },
//!   at: <date>, published: false, publishedAt: <date, once published> }
//! ```
//!
//! The `_id` orders the events (`seq.rs`). It is made in the process, so two instances may,
//! very rarely, make the same one: the unique `_id` refuses the second, and the event is
//! written again with a new number (in a transaction, the whole transaction is run again).

use billing_domain::{
    Billing, BillingEvent, BillingEventId, BillingEventType, EventSeq, Timestamp,
};
use mongodb::ClientSession;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::{Error, ErrorKind, WriteFailure};

use crate::MongoStore;
use crate::docs::{self, date};
use crate::transactions::RunAgain;

/// How many times in a row a standalone write takes new numbers for events that collided.
const MAX_COLLISIONS: usize = 5;

/// An event to record: what happened, to the billing as it now is (as it was, when deleted),
/// when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending<'a> {
    pub(crate) kind: BillingEventType,
    pub(crate) billing: &'a Billing,
    pub(crate) at: Timestamp,
}

impl<'a> Pending<'a> {
    pub(crate) fn new(kind: BillingEventType, billing: &'a Billing, at: Timestamp) -> Self {
        Self { kind, billing, at }
    }
}

/// An [`EventSeq`] as the `_id` stores it; none that fits is past every stored one.
pub(crate) fn stored_seq(seq: EventSeq) -> i64 {
    i64::try_from(seq.0).unwrap_or(i64::MAX)
}

fn event_doc(seq: EventSeq, event: &Pending<'_>) -> Document {
    let mut billing = docs::new_billing_doc(event.billing);
    // Mongoose's version key belongs to the billings collection, not to a copy.
    billing.remove("__v");
    doc! {
        "_id": stored_seq(seq),
        "eventId": uuid::Uuid::new_v4().to_string(),
        "event": event.kind.as_str(),
        "billingId": event.billing.billing_id.as_str(),
        "userId": event.billing.user_id.as_str(),
        "billing": billing,
        "at": date(event.at),
        "published": false,
    }
}

/// A stored event.
///
/// # Errors
/// When the document is not an event this service wrote.
pub(crate) fn event(d: &Document) -> anyhow::Result<BillingEvent> {
    let seq = d
        .get("_id")
        .and_then(docs::as_u64)
        .ok_or_else(|| anyhow::anyhow!("billing event `_id` {:?} is not a number", d.get("_id")))?;
    let parse = || -> anyhow::Result<BillingEvent> {
        Ok(BillingEvent {
            seq: EventSeq(seq),
            id: BillingEventId::parse(d.get_str("eventId")?)?,
            kind: BillingEventType::parse(d.get_str("event")?)?,
            billing: docs::billing(d.get_document("billing")?)?,
            at: docs::required_date(d, "at")?,
            published_at: docs::optional_date(d, "publishedAt"),
        })
    };
    parse().map_err(|e| e.context(format!("unreadable billing event {seq}")))
}

/// The position of the first event an ordered insert refused as a duplicate, when every
/// refusal was one.
fn first_duplicate(e: &Error) -> Option<usize> {
    match e.kind.as_ref() {
        ErrorKind::InsertMany(m) if m.write_concern_error.is_none() => {
            let errors = m.write_errors.as_ref()?;
            if errors.iter().all(|w| w.code == 11000) {
                errors.iter().map(|w| w.index).min()
            } else {
                None
            }
        }
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == 11000 => Some(0),
        _ => crate::errors::is_duplicate_key(e).then_some(0),
    }
}

impl MongoStore {
    /// The documents of `events`, numbered in order.
    fn event_docs(&self, events: &[Pending<'_>]) -> Result<Vec<Document>, Error> {
        events
            .iter()
            .map(|event| {
                let seq = self
                    .inner
                    .seq
                    .next(event.at.timestamp_millis())
                    .map_err(|e| Error::custom(e.to_string()))?;
                Ok(event_doc(seq, event))
            })
            .collect()
    }

    /// Records `events` in one insert: in `session`'s transaction when there is one (a number
    /// taken by another instance runs the transaction again), else on their own (taking new
    /// numbers for those not yet written).
    pub(crate) async fn record(
        &self,
        events: &[Pending<'_>],
        session: Option<&mut ClientSession>,
    ) -> Result<(), Error> {
        if events.is_empty() {
            return Ok(());
        }
        let outbox = &self.inner.billing_events;
        if let Some(session) = session {
            let written = outbox
                .insert_many(self.event_docs(events)?)
                .session(session)
                .await;
            return match written {
                Err(e) if first_duplicate(&e).is_some() => {
                    self.inner.seq.collided();
                    Err(Error::custom(RunAgain))
                }
                other => other.map(|_| ()),
            };
        }
        let mut rest = events;
        for _ in 0..MAX_COLLISIONS {
            // Ordered: the events before the first refused one are in, the rest are not.
            match outbox.insert_many(self.event_docs(rest)?).await {
                Ok(_) => return Ok(()),
                Err(e) => match first_duplicate(&e) {
                    Some(at) if at < rest.len() => {
                        self.inner.seq.collided();
                        rest = &rest[at..];
                    }
                    _ => return Err(e),
                },
            }
        }
        Err(Error::custom(
            "billing event numbers kept colliding with another instance's".to_owned(),
        ))
    }
}

impl MongoStore {
    /// Records a `Billing.Deleted` dated `at` for each of these removed billing documents, as
    /// they were. One that cannot be read (it was never an item the API showed) goes without
    /// one.
    pub(crate) async fn record_deleted(
        &self,
        removed: &[Document],
        at: Timestamp,
        session: Option<&mut ClientSession>,
    ) -> Result<(), Error> {
        let billings: Vec<Billing> = removed
            .iter()
            .filter_map(|d| {
                docs::billing(d)
                    .inspect_err(|e| {
                        tracing::warn!(
                            error = format!("{e:#}"),
                            "no Billing.Deleted for an unreadable billing"
                        );
                    })
                    .ok()
            })
            .collect();
        let events: Vec<Pending<'_>> = billings
            .iter()
            .map(|b| Pending::new(BillingEventType::Deleted, b, at))
            .collect();
        self.record(&events, session).await
    }
}

/// The `$set` that marks events published.
pub(crate) fn published(at: Timestamp) -> Document {
    doc! { "$set": { "published": true, "publishedAt": Bson::DateTime(date(at)) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_domain::{BillingId, DocumentId, Payment, Phone, UserId, parse_timestamp};

    fn billing() -> Billing {
        let t = parse_timestamp("2025-10-01T10:00:00.123Z").expect("a date");
        Billing {
            id: DocumentId::parse("65a1b2c3d4e5f60718293a4b").expect("an id"),
            billing_id: BillingId::from_sequence(7),
            user_id: UserId::parse("u1").expect("a userId"),
            generation_date: t,
            due_date: Some(t),
            service_id: None,
            total_invoice: None,
            payment: Payment::paid(t),
            phone: Phone::default(),
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn an_event_document_reads_back_as_the_event() {
        let billing = billing();
        let at = parse_timestamp("2025-10-02T00:00:00Z").expect("a date");
        let pending = Pending::new(BillingEventType::Paid, &billing, at);
        let d = event_doc(EventSeq(42), &pending);
        assert_eq!(d.get_str("billingId"), Ok("000000007"));
        assert!(
            !d.get_document("billing")
                .expect("a body")
                .contains_key("__v")
        );
        let read = event(&d).expect("readable");
        assert_eq!(read.seq, EventSeq(42));
        assert_eq!(read.kind, BillingEventType::Paid);
        assert_eq!(read.billing, billing);
        assert_eq!(read.at, at);
        assert_eq!(read.published_at, None);
        assert_eq!(read.id.as_str(), d.get_str("eventId").expect("an id"));
    }

    #[test]
    fn a_published_event_reads_its_date_and_a_broken_one_is_an_error() {
        let billing = billing();
        let at = parse_timestamp("2025-10-02T00:00:00Z").expect("a date");
        let mut d = event_doc(
            EventSeq(1),
            &Pending::new(BillingEventType::Created, &billing, at),
        );
        d.insert("publishedAt", date(at));
        assert_eq!(event(&d).expect("readable").published_at, Some(at));
        d.insert("event", "Billing.Exploded");
        assert!(event(&d).is_err());
        d.insert("_id", "not a number");
        assert!(event(&d).is_err());
    }

    #[test]
    fn a_sequence_past_i64_is_stored_as_the_largest() {
        assert_eq!(stored_seq(EventSeq(5)), 5);
        assert_eq!(stored_seq(EventSeq(u64::MAX)), i64::MAX);
    }
}
