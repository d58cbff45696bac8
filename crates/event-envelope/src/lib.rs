//! Customer event messages, as producers send them, to [`CustomerEvent`]s.
//!
//! Two envelopes are accepted: the documented `{"type": "Customer.Created", "payload": {...}}`
//! and `{"event": "Customer.Created", "data": {...}, "timestamp": "..."}`, which the operator's
//! user service sends (a producer mixing their names is understood too). Both are Rust types
//! ([`DocumentedEvent`], [`UserServiceEvent`]) that the parser reads with deserr and the API's
//! document describes with utoipa.
//!
//! The user service validates almost nothing, and what it sends is a fact to record, not a
//! request to judge. So only what makes a message unusable refuses it: not JSON, no event
//! type, no payload, no `userId`, or a size past the bounds against abuse
//! ([`MAX_MESSAGE_BYTES`] per message, [`MAX_TEXT_CHARS`] per text field of the events that
//! use it). Every other value is kept as sent: any text, a number where text is expected (and
//! the other way round), a phone number of 0. A field whose value cannot be a field's value at
//! all (an object where text is expected, a date that is not one) is left out, never the
//! reason to refuse the event. `null` clears a field.

mod billing_events;
mod fields;
pub mod json;
pub mod schema;

use std::fmt::Write as _;

use billing_domain::{
    AddressPatch, Change, CustomerEvent, EventType, InitialBilling, MAX_TEXT_CHARS, MessageId,
    PhonePatch, Scalar, Timestamp, UserId, UserPatch,
};
use deserr::Deserr;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub use billing_events::{BillingEventJson, billing_event_message};
pub use fields::{
    Loose, Problem, SentAmount, SentDate, SentFlag, SentId, SentMessageId, SentText, Unusable,
};

/// The largest message this service reads: a bound against abuse.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Why a message cannot be applied, one problem per part at fault: it goes to the
/// dead-letter topic with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub Vec<Problem>);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// A well-formed message.
#[derive(Debug, Clone, PartialEq, Eq)]
// Messages are handled one at a time and moved, never stored in bulk: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Message {
    Event(CustomerEvent),
    /// A type this service does not handle: skipped, counted, logged.
    UnknownType {
        id: MessageId,
        event_type: String,
    },
}

/// The identity of a message without a usable id: the SHA-256 of its bytes.
pub fn digest_id(raw: &[u8]) -> MessageId {
    let mut text = String::with_capacity(71);
    text.push_str("sha256:");
    for b in Sha256::digest(raw) {
        let _ = write!(text, "{b:02x}");
    }
    MessageId::parse(&text).unwrap_or_else(|_| unreachable!("a hex digest is a valid id"))
}

/// A rejection for `field` (empty: the message as a whole).
fn reject(field: &str, reason: impl Into<String>) -> Rejection {
    Rejection(vec![Problem {
        field: field.to_owned(),
        reason: reason.into(),
    }])
}

/// A customer's address in an event; each part as sent.
#[derive(Debug, Default, Deserr, ToSchema)]
#[deserr(error = Unusable, rename_all = camelCase)]
#[serde(rename_all = "camelCase")]
pub struct SentAddress {
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub city: Loose<SentText>,
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub country: Loose<SentText>,
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub zip_code: Loose<SentText>,
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub address: Loose<SentText>,
}

/// A customer's phone in an event; each part as sent.
#[derive(Debug, Default, Deserr, ToSchema)]
#[deserr(error = Unusable, rename_all = camelCase)]
#[serde(rename_all = "camelCase")]
pub struct SentPhone {
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub code_number: Loose<SentText>,
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub phone_number: Loose<SentText>,
}

/// What an event says of its customer. Only `userId` is needed; `Suspended`, `Reactivated`
/// and `Deleted` read nothing else. Fields not listed are ignored.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Unusable, rename_all = camelCase)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub user_id: SentId,
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub name: Loose<SentText>,
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub email: Loose<SentText>,
    /// `null` clears every part.
    #[deserr(default)]
    #[schema(value_type = schema::AddressField, required = false)]
    pub address: Loose<SentAddress>,
    /// `null` clears both parts.
    #[deserr(default)]
    #[schema(value_type = schema::PhoneField, required = false)]
    pub phone: Loose<SentPhone>,
    #[deserr(default)]
    #[schema(value_type = SentFlag, required = false)]
    pub is_active: Loose<SentFlag>,
    /// The user service's own flag: inactive when true (without `isActive`).
    #[deserr(default)]
    #[schema(value_type = SentFlag, required = false)]
    pub suspended: Loose<SentFlag>,
    /// The user service's own flag: inactive when true (without `isActive`).
    #[deserr(default)]
    #[schema(value_type = SentFlag, required = false)]
    pub deleted: Loose<SentFlag>,
    /// `Customer.Created`: the first invoice's generation date.
    #[deserr(default)]
    #[schema(value_type = SentDate, required = false)]
    pub generation_date: Loose<SentDate>,
    /// `Customer.Created`: the first invoice's due date.
    #[deserr(default)]
    #[schema(value_type = SentDate, required = false)]
    pub due_date: Loose<SentDate>,
    /// `Customer.Created`: the first invoice's service.
    #[deserr(default)]
    #[schema(value_type = SentText, required = false)]
    pub service_id: Loose<SentText>,
    /// `Customer.Created`: the first invoice's amount.
    #[deserr(default)]
    #[schema(value_type = SentAmount, required = false)]
    pub total_invoice: Loose<SentAmount>,
}

/// The documented envelope: `{"type": "Customer.Created", "payload": {...}}`.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Unusable, rename_all = camelCase)]
#[serde(rename_all = "camelCase")]
pub struct DocumentedEvent {
    /// `Customer.Created`, `.Updated`, `.Suspended`, `.Reactivated` or `.Deleted`; another
    /// type is skipped.
    #[deserr(rename = "type")]
    #[serde(rename = "type")]
    #[schema(value_type = schema::HandledType)]
    pub kind: String,
    pub payload: Payload,
    /// The message's identity for the inbox; its bytes' digest when absent.
    #[deserr(default)]
    #[schema(value_type = SentMessageId, required = false)]
    pub id: Loose<SentMessageId>,
    #[deserr(default)]
    #[schema(value_type = SentMessageId, required = false)]
    pub event_id: Loose<SentMessageId>,
    /// Orders a user's events: one older than the last applied has no effect.
    #[deserr(default)]
    #[schema(value_type = SentDate, required = false)]
    pub timestamp: Loose<SentDate>,
}

/// The user service's envelope: `{"event": "Customer.Created", "data": {...}, "timestamp": ...}`.
#[derive(Debug, Deserr, ToSchema)]
#[deserr(error = Unusable, rename_all = camelCase)]
#[serde(rename_all = "camelCase")]
pub struct UserServiceEvent {
    /// `Customer.Created`, `.Updated`, `.Suspended`, `.Reactivated` or `.Deleted`; another
    /// type is skipped.
    #[schema(value_type = schema::HandledType)]
    pub event: String,
    pub data: Payload,
    /// The message's identity for the inbox; its bytes' digest when absent.
    #[deserr(default)]
    #[schema(value_type = SentMessageId, required = false)]
    pub id: Loose<SentMessageId>,
    #[deserr(default)]
    #[schema(value_type = SentMessageId, required = false)]
    pub event_id: Loose<SentMessageId>,
    /// Orders a user's events: one older than the last applied has no effect.
    #[deserr(default)]
    #[schema(value_type = SentDate, required = false)]
    pub timestamp: Loose<SentDate>,
}

/// A customer event, in either envelope (the body of `POST /api/events`, a Kafka message's
/// value). For the document only: the parser reads the envelope its type key names.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
#[schema(as = Event)]
pub enum EventBody {
    Documented(DocumentedEvent),
    UserService(UserServiceEvent),
    Skipped(schema::SkippedEvent),
}

/// The body of a message (a Kafka value or a `POST /api/events` body).
#[derive(Debug)]
pub struct EventEnvelope<'a>(pub &'a [u8]);

/// A string field of the envelope, if it has one.
fn text_of<'a>(envelope: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    envelope.get(key).and_then(Value::as_str)
}

impl EventEnvelope<'_> {
    /// # Errors
    /// A [`Rejection`] when the message is unusable: larger than [`MAX_MESSAGE_BYTES`], not a
    /// JSON object, without an event type, a payload or a `userId`, or with a text field the
    /// event uses larger than [`MAX_TEXT_CHARS`].
    pub fn try_into_domain(self) -> Result<Message, Rejection> {
        let raw = self.0;
        if raw.len() > MAX_MESSAGE_BYTES {
            return Err(reject(
                "",
                format!(
                    "the message has {} bytes; at most {MAX_MESSAGE_BYTES} are read",
                    raw.len()
                ),
            ));
        }
        let value: Value =
            serde_json::from_slice(raw).map_err(|e| reject("", format!("not JSON: {e}")))?;
        let Value::Object(mut envelope) = value else {
            return Err(reject("", "is not a JSON object"));
        };
        let documented = text_of(&envelope, "type").is_some();
        let Some(event_type) = text_of(&envelope, "type")
            .or_else(|| text_of(&envelope, "event"))
            .map(str::to_owned)
        else {
            return Err(reject(
                "type",
                "is missing: a string `type` or `event` names the event",
            ));
        };
        let kind = EventType::parse(&event_type);
        if kind.is_none() {
            let id = message_id(envelope.get("id").or_else(|| envelope.get("eventId")), raw);
            return Ok(Message::UnknownType { id, event_type });
        }
        // A producer that mixes the two envelopes' names is understood: the payload takes the
        // name of the envelope its type key belongs to.
        let (want, other) = if documented {
            ("payload", "data")
        } else {
            ("data", "payload")
        };
        if !envelope.contains_key(want)
            && let Some(p) = envelope.remove(other)
        {
            envelope.insert(want.to_owned(), p);
        }
        let parts = if documented {
            deserr::deserialize::<DocumentedEvent, _, Unusable>(Value::Object(envelope))
                .map(|e| (e.payload, e.id, e.event_id, e.timestamp))
        } else {
            deserr::deserialize::<UserServiceEvent, _, Unusable>(Value::Object(envelope))
                .map(|e| (e.data, e.id, e.event_id, e.timestamp))
        };
        let (payload, id, event_id, timestamp) = parts.map_err(|e| Rejection(e.0))?;
        let id = id
            .value()
            .and_then(|i| i.0)
            .or_else(|| event_id.value().and_then(|i| i.0))
            .and_then(|id: String| MessageId::parse(&id).ok())
            .unwrap_or_else(|| digest_id(raw));
        let kind = kind.unwrap_or_else(|| unreachable!("checked above"));
        into_event(payload, want, id, kind, timestamp.value().map(|d| d.0)).map(Message::Event)
    }
}

fn message_id(sent: Option<&Value>, raw: &[u8]) -> MessageId {
    let text = match sent {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    text.and_then(|t| MessageId::parse(&t).ok())
        .unwrap_or_else(|| digest_id(raw))
}

/// A text field's change: absent (or of a kind it cannot use) keeps, `null` clears, a value
/// sets; text past the bound refuses the event.
fn change(field: Loose<SentText>, name: &str, root: &str) -> Result<Change<Scalar>, Rejection> {
    Ok(match field {
        Loose::Absent | Loose::Unusable => Change::Keep,
        Loose::Null => Change::To(None),
        Loose::Value(SentText::Value(v)) => Change::To(Some(v)),
        Loose::Value(SentText::Oversized) => {
            return Err(reject(
                &format!("{root}.{name}"),
                format!("is larger than {MAX_TEXT_CHARS} characters (the bound against abuse)"),
            ));
        }
    })
}

/// The event in `p`, the payload found under the key `root` (`payload` or `data`).
fn into_event(
    p: Payload,
    root: &str,
    id: MessageId,
    kind: EventType,
    timestamp: Option<Timestamp>,
) -> Result<CustomerEvent, Rejection> {
    let user_id = UserId::parse(&p.user_id.0)
        .map_err(|e| reject(&format!("{root}.userId"), e.to_string()))?;
    // Suspended, Reactivated and Deleted use only the userId: the rest of a whole user
    // document sent along with them is not read.
    if !matches!(kind, EventType::Created | EventType::Updated) {
        return Ok(CustomerEvent {
            id,
            kind,
            user_id,
            profile: UserPatch::default(),
            initial_billing: InitialBilling::default(),
            timestamp,
        });
    }
    let address = match p.address {
        Loose::Value(a) => AddressPatch {
            city: change(a.city, "address.city", root)?,
            country: change(a.country, "address.country", root)?,
            zip_code: change(a.zip_code, "address.zipCode", root)?,
            address: change(a.address, "address.address", root)?,
        },
        Loose::Null => AddressPatch::clear(),
        Loose::Absent | Loose::Unusable => AddressPatch::default(),
    };
    let phone = match p.phone {
        Loose::Value(ph) => PhonePatch {
            code_number: change(ph.code_number, "phone.codeNumber", root)?,
            phone_number: change(ph.phone_number, "phone.phoneNumber", root)?,
        },
        Loose::Null => PhonePatch::clear(),
        Loose::Absent | Loose::Unusable => PhonePatch::default(),
    };
    // `isActive` when it says; without it, `suspended`/`deleted` decide (the user service's
    // own flags).
    let is_active = p.is_active.value().map(|f| f.0).or_else(|| {
        let suspended = p.suspended.value().map(|f| f.0);
        let deleted = p.deleted.value().map(|f| f.0);
        (suspended.is_some() || deleted.is_some())
            .then(|| suspended != Some(true) && deleted != Some(true))
    });
    let service_id = match change(p.service_id, "serviceId", root)? {
        Change::To(v) => v,
        _ => None,
    };
    Ok(CustomerEvent {
        id,
        kind,
        user_id,
        profile: UserPatch {
            name: change(p.name, "name", root)?,
            email: change(p.email, "email", root)?,
            address,
            phone,
            is_active,
            ..UserPatch::default()
        },
        initial_billing: InitialBilling {
            generation_date: p.generation_date.value().map(|d| d.0),
            due_date: p.due_date.value().map(|d| d.0),
            service_id,
            total_invoice: p.total_invoice.value().map(|a| a.0),
        },
        timestamp,
    })
}

#[cfg(test)]
mod tests {
    use billing_domain::{Number, parse_timestamp, timestamp_from_millis};

    use super::*;

    fn parse(json: &str) -> Result<Message, Rejection> {
        EventEnvelope(json.as_bytes()).try_into_domain()
    }

    fn event(json: &str) -> CustomerEvent {
        match parse(json) {
            Ok(Message::Event(e)) => e,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    fn text(s: &str) -> Change<Scalar> {
        Change::To(Some(Scalar::text(s).unwrap()))
    }

    fn num(n: i64) -> Change<Scalar> {
        Change::To(Some(Scalar::Number(Number::Int(n))))
    }

    #[test]
    fn the_documented_envelope_parses() {
        let e = event(
            r#"{"type":"Customer.Created","payload":{"userId":"u-1","name":"Ana","totalInvoice":125000.0,"serviceId":7}}"#,
        );
        assert_eq!(e.kind, EventType::Created);
        assert_eq!(e.user_id.as_str(), "u-1");
        assert_eq!(e.profile.name, text("Ana"));
        assert_eq!(e.initial_billing.total_invoice, Some(Number::Int(125_000)));
        assert_eq!(
            e.initial_billing.service_id,
            Some(Scalar::Number(Number::Int(7)))
        );
        assert!(e.id.as_str().starts_with("sha256:"));
    }

    #[test]
    fn the_user_service_envelope_parses_with_its_timestamp() {
        let e = event(
            r#"{"event":"Customer.Suspended","data":{"userId":"u-1"},"timestamp":"2025-10-01T09:15:00Z"}"#,
        );
        assert_eq!(e.kind, EventType::Suspended);
        assert_eq!(
            e.timestamp,
            Some(parse_timestamp("2025-10-01T09:15:00Z").unwrap())
        );
    }

    #[test]
    fn an_explicit_id_is_the_message_identity_and_bytes_are_otherwise() {
        let e = event(r#"{"eventId":"evt-9","type":"Customer.Deleted","payload":{"userId":"u"}}"#);
        assert_eq!(e.id.as_str(), "evt-9");
        let e = event(r#"{"id":12,"type":"Customer.Deleted","payload":{"userId":"u"}}"#);
        assert_eq!(e.id.as_str(), "12");
        let raw = r#"{"type":"Customer.Deleted","payload":{"userId":"u"}}"#;
        assert_eq!(event(raw).id, digest_id(raw.as_bytes()));
        assert_ne!(event(raw).id, digest_id(b"{}"));
    }

    #[test]
    fn a_key_given_twice_takes_its_last_value_as_the_producers_json_parse_does() {
        // Our API refuses such a body; an event is a fact, read as the Node consumer read it.
        let e = event(
            r#"{"type":"Customer.Updated","payload":{"userId":"u-1","name":"Ana","name":"Eva"}}"#,
        );
        assert_eq!(e.profile.name, text("Eva"));
        let e = event(
            r#"{"type":"Customer.Deleted","type":"Customer.Suspended","payload":{"userId":"u"}}"#,
        );
        assert_eq!(e.kind, EventType::Suspended);
    }

    #[test]
    fn what_the_user_service_stores_is_kept_as_sent() {
        let long = "Avenida ".repeat(500);
        let json = serde_json::json!({
            "event": "Customer.Created",
            "data": {
                "userId": 1001,
                "name": 42,
                "email": "ana(at)example",
                "address": {"city": "Bogotá", "zipCode": 110_111, "address": long, "country": true},
                "phone": {"codeNumber": "57", "phoneNumber": 0},
            },
        });
        let e = event(&json.to_string());
        assert_eq!(e.user_id.as_str(), "1001");
        assert_eq!(e.profile.name, num(42));
        assert_eq!(e.profile.email, text("ana(at)example"));
        assert_eq!(e.profile.address.zip_code, num(110_111));
        assert_eq!(e.profile.address.address, text(&long));
        assert_eq!(e.profile.address.country, text("true"));
        assert_eq!(e.profile.phone.code_number, text("57"));
        assert_eq!(e.profile.phone.phone_number, num(0));
        let e = event(
            r#"{"type":"Customer.Updated","payload":{"userId":"u","phone":{"phoneNumber":"+57 310 415 6262"}}}"#,
        );
        assert_eq!(e.profile.phone.phone_number, text("+57 310 415 6262"));
    }

    #[test]
    fn null_clears_a_field_and_a_whole_address_or_phone() {
        let e = event(
            r#"{"type":"Customer.Updated","payload":{"userId":"u","email":null,"address":null,"phone":{"phoneNumber":null}}}"#,
        );
        assert_eq!(e.profile.email, Change::To(None));
        assert_eq!(e.profile.address, AddressPatch::clear());
        assert_eq!(e.profile.phone.phone_number, Change::To(None));
        assert_eq!(e.profile.phone.code_number, Change::Keep);
        assert_eq!(e.profile.name, Change::Keep);
    }

    #[test]
    fn a_value_that_cannot_be_the_field_is_left_out_not_a_reason_to_refuse() {
        let e = event(
            r#"{"type":"Customer.Created","timestamp":"yesterday","payload":{"userId":"u",
            "name":{"first":"Ana"},"address":"Calle 1","phone":[3104156262],
            "dueDate":"soon","totalInvoice":"a lot","isActive":"maybe","suspended":"no"}}"#,
        );
        assert_eq!(e.timestamp, None);
        assert_eq!(e.profile.name, Change::Keep);
        assert_eq!(e.profile.address, AddressPatch::default());
        assert_eq!(e.profile.phone, PhonePatch::default());
        assert_eq!(e.profile.is_active, None);
        assert_eq!(e.initial_billing, InitialBilling::default());
    }

    #[test]
    fn initial_billing_values_take_what_producers_send() {
        let e = event(
            r#"{"type":"Customer.Created","payload":{"userId":"u","totalInvoice":"-12.5",
            "dueDate":"2025-10-15T00:00:00","generationDate":1759300000000,"serviceId":"fiber"}}"#,
        );
        let b = e.initial_billing;
        assert_eq!(b.total_invoice, Some(Number::Float(-12.5)));
        assert_eq!(b.due_date, Some(parse_timestamp("2025-10-15").unwrap()));
        assert_eq!(
            b.generation_date,
            timestamp_from_millis(1_759_300_000_000).ok()
        );
        assert_eq!(b.service_id, Some(Scalar::text("fiber").unwrap()));
    }

    #[test]
    fn a_whole_user_document_is_accepted_and_its_extra_fields_ignored() {
        let e = event(
            r#"{"event":"Customer.Updated","data":{"_id":"65a1b2c3d4e5f60718293a4b","userId":"u-1",
            "suspended":true,"deleted":false,"createdAt":"2025-01-01","__v":0,
            "phone":{"codeNumber":"+57","phoneNumber":3104156262.0},"address":{"city":"Cali"}}}"#,
        );
        assert_eq!(e.profile.is_active, Some(false));
        assert_eq!(e.profile.phone.phone_number, num(3_104_156_262));
        assert_eq!(e.profile.address.city, text("Cali"));
    }

    #[test]
    fn is_active_wins_over_the_user_service_flags() {
        let e = event(
            r#"{"type":"Customer.Updated","payload":{"userId":"u","isActive":true,"suspended":true}}"#,
        );
        assert_eq!(e.profile.is_active, Some(true));
    }

    #[test]
    fn a_deletion_carrying_a_whole_user_document_reads_only_its_user_id() {
        let e = event(
            r#"{"event":"Customer.Deleted","data":{"userId":"u-1","name":"","email":"","totalInvoice":-1}}"#,
        );
        assert_eq!(e.kind, EventType::Deleted);
        assert_eq!(e.profile, UserPatch::default());
    }

    #[test]
    fn an_unknown_type_is_reported_not_rejected() {
        assert!(matches!(
            parse(r#"{"type":"Customer.Archived","payload":{"userId":"u"}}"#),
            Ok(Message::UnknownType { event_type, .. }) if event_type == "Customer.Archived"
        ));
    }

    #[test]
    fn only_unusable_messages_are_rejected_naming_the_part_at_fault() {
        let huge = format!(
            r#"{{"type":"Customer.Created","payload":{{"userId":"u","name":"{}"}}}}"#,
            "x".repeat(MAX_TEXT_CHARS + 1)
        );
        let too_long = format!(
            r#"{{"type":"Customer.Created","payload":{{"userId":"u","pad":"{}"}}}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        for (raw, field, reason) in [
            ("not json", "", "not JSON"),
            ("[1]", "", "is not a JSON object"),
            (r#"{"payload":{"userId":"u"}}"#, "type", "is missing"),
            (
                r#"{"type":5,"payload":{"userId":"u"}}"#,
                "type",
                "is missing",
            ),
            (
                r#"{"type":"Customer.Created","payload":{}}"#,
                "payload.userId",
                "is missing",
            ),
            (
                r#"{"type":"Customer.Created","payload":{"userId":""}}"#,
                "payload.userId",
                "",
            ),
            (
                r#"{"type":"Customer.Created","payload":{"userId":{"id":1}}}"#,
                "payload.userId",
                "must be text or an integer",
            ),
            (
                r#"{"event":"Customer.Created","data":{"userId":2.5}}"#,
                "data.userId",
                "must be text or an integer",
            ),
            (r#"{"type":"Customer.Created"}"#, "payload", "is missing"),
            (
                r#"{"event":"Customer.Created","data":5}"#,
                "data",
                "wrong kind",
            ),
            (
                huge.as_str(),
                "payload.name",
                "is larger than 4096 characters",
            ),
            (too_long.as_str(), "", "at most 65536 are read"),
        ] {
            let err = parse(raw).expect_err(raw);
            assert_eq!(err.0.len(), 1, "{raw:.80}: {err}");
            assert_eq!(err.0[0].field, field, "{raw:.80}: {err}");
            assert!(err.0[0].reason.contains(reason), "{raw:.80}: {err}");
        }
    }
}
