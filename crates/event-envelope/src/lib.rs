//! Customer event messages, as producers send them, to [`CustomerEvent`]s.
//!
//! Two envelopes are accepted: the documented `{"type": "Customer.Created", "payload": {...}}`
//! and `{"event": "Customer.Created", "data": {...}, "timestamp": "..."}`, which the operator's
//! user service sends.
//!
//! The user service validates almost nothing, and what it sends is a fact to record, not a
//! request to judge. So only what makes a message unusable refuses it: not JSON, no event
//! type, no payload, no `userId`, or a size past the bounds against abuse
//! ([`MAX_MESSAGE_BYTES`] per message, [`MAX_TEXT_BYTES`] per text field). Every other value
//! is kept as sent: any text, a number where text is expected (and the other way round), a
//! phone number of 0. A field whose value cannot be a field's value at all (an object where
//! text is expected, a date that is not one) is left out, never the reason to refuse the event.
//! `null` clears a field.

use std::fmt::Write as _;

use billing_domain::{
    AddressPatch, Change, CustomerEvent, EventType, InitialBilling, MAX_TEXT_BYTES, MessageId,
    Number, PhonePatch, Scalar, Text, Timestamp, UserId, UserPatch, parse_timestamp,
    timestamp_from_millis,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The largest message this service reads: a bound against abuse.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Why a message cannot be applied: it goes to the dead-letter topic with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection(pub String);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
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

fn reject(message: impl Into<String>) -> Rejection {
    Rejection(message.into())
}

/// The body of a message (a Kafka value or a `POST /api/events` body).
#[derive(Debug)]
pub struct EventEnvelope<'a>(pub &'a [u8]);

impl EventEnvelope<'_> {
    /// # Errors
    /// A [`Rejection`] when the message is unusable: larger than [`MAX_MESSAGE_BYTES`], not a
    /// JSON object, without an event type, a payload or a `userId`, or with a text field larger
    /// than [`MAX_TEXT_BYTES`].
    pub fn try_into_domain(self) -> Result<Message, Rejection> {
        let raw = self.0;
        if raw.len() > MAX_MESSAGE_BYTES {
            return Err(reject(format!(
                "the message has {} bytes; at most {MAX_MESSAGE_BYTES} are read",
                raw.len()
            )));
        }
        let value: Value =
            serde_json::from_slice(raw).map_err(|e| reject(format!("not JSON: {e}")))?;
        let Value::Object(mut envelope) = value else {
            return Err(reject("not a JSON object"));
        };
        let id = take(&mut envelope, "id")
            .or_else(|| take(&mut envelope, "eventId"))
            .and_then(|v| scalar_text(&v))
            .and_then(|id| MessageId::parse(&id).ok())
            .unwrap_or_else(|| digest_id(raw));
        let event_type = match take(&mut envelope, "type").or_else(|| take(&mut envelope, "event"))
        {
            Some(Value::String(t)) => t,
            _ => return Err(reject("no event type: expected a string `type` or `event`")),
        };
        let Some(kind) = EventType::parse(&event_type) else {
            return Ok(Message::UnknownType { id, event_type });
        };
        let timestamp = take(&mut envelope, "timestamp").and_then(|v| date(&v));
        let payload = match take(&mut envelope, "payload").or_else(|| take(&mut envelope, "data")) {
            Some(Value::Object(p)) => p,
            _ => return Err(reject("no payload: expected an object `payload` or `data`")),
        };
        Payload(payload)
            .into_event(id, kind, timestamp)
            .map(Message::Event)
    }
}

/// Removes `key`; `null` counts as absent.
fn take(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    map.remove(key).filter(|v| !v.is_null())
}

/// A string, or a number's decimal text.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(n: &serde_json::Number) -> Option<Number> {
    n.as_i64()
        .map(Number::Int)
        .or_else(|| n.as_u64().map(Number::from_u64))
        .or_else(|| n.as_f64().and_then(Number::from_f64))
}

/// A date as a producer may send it: RFC 3339 (an offset optional), a plain date, or
/// milliseconds since the epoch.
fn date(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => parse_timestamp(s).ok(),
        Value::Number(n) => n.as_i64().and_then(|ms| timestamp_from_millis(ms).ok()),
        _ => None,
    }
}

/// How a payload sets a field: absent keeps it, `null` clears it, a value sets it. `Ok(None)`
/// for a value that cannot be this field's (ignored).
fn change<T>(
    map: &mut Map<String, Value>,
    key: &str,
    read: impl FnOnce(Value) -> Result<Option<T>, Rejection>,
) -> Result<Change<T>, Rejection>
where
    T: Clone + PartialEq,
{
    Ok(match map.remove(key) {
        None => Change::Keep,
        Some(Value::Null) => Change::To(None),
        Some(v) => read(v)?.map_or(Change::Keep, |t| Change::To(Some(t))),
    })
}

/// A text field's value as sent: text (at most [`MAX_TEXT_BYTES`]), a number, or a boolean as
/// its word (as the previous service's Mongoose schema stored one).
fn recorded(path: &str) -> impl FnOnce(Value) -> Result<Option<Scalar>, Rejection> + '_ {
    move |v| match v {
        Value::String(s) => Text::new(s).map(|t| Some(Scalar::Text(t))).map_err(|_| {
            reject(format!(
                "`{path}` is larger than {MAX_TEXT_BYTES} bytes (the bound against abuse)"
            ))
        }),
        Value::Number(n) => Ok(number(&n).map(Scalar::Number)),
        Value::Bool(b) => Ok(Scalar::text(if b { "true" } else { "false" }).ok()),
        Value::Array(_) | Value::Object(_) | Value::Null => Ok(None),
    }
}

/// A nested object (`address`, `phone`): its fields, `null` (clear every part), or nothing
/// usable (keep every part).
enum Nested {
    Fields(Map<String, Value>),
    Clear,
    Keep,
}

fn nested(map: &mut Map<String, Value>, key: &str) -> Nested {
    match map.remove(key) {
        Some(Value::Object(o)) => Nested::Fields(o),
        Some(Value::Null) => Nested::Clear,
        _ => Nested::Keep,
    }
}

fn boolean(v: Option<Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    }
}

struct Payload(Map<String, Value>);

impl Payload {
    fn into_event(
        self,
        id: MessageId,
        kind: EventType,
        timestamp: Option<Timestamp>,
    ) -> Result<CustomerEvent, Rejection> {
        let mut p = self.0;
        let user_id = take(&mut p, "userId")
            .and_then(|v| scalar_text(&v))
            .ok_or_else(|| reject("no `userId` in the payload: expected a string or a number"))?;
        let user_id = UserId::parse(&user_id).map_err(|e| reject(format!("`userId` {e}")))?;
        // Suspended, Reactivated and Deleted use only the userId: the rest of a whole user
        // document sent along with them is not read.
        let (profile, initial_billing) = if matches!(kind, EventType::Created | EventType::Updated)
        {
            (profile(&mut p)?, initial_billing(&mut p))
        } else {
            (UserPatch::default(), InitialBilling::default())
        };
        Ok(CustomerEvent {
            id,
            kind,
            user_id,
            profile,
            initial_billing,
            timestamp,
        })
    }
}

fn profile(p: &mut Map<String, Value>) -> Result<UserPatch, Rejection> {
    let address = match nested(p, "address") {
        Nested::Fields(mut a) => AddressPatch {
            city: change(&mut a, "city", recorded("address.city"))?,
            country: change(&mut a, "country", recorded("address.country"))?,
            zip_code: change(&mut a, "zipCode", recorded("address.zipCode"))?,
            address: change(&mut a, "address", recorded("address.address"))?,
        },
        Nested::Clear => AddressPatch::clear(),
        Nested::Keep => AddressPatch::default(),
    };
    let phone = match nested(p, "phone") {
        Nested::Fields(mut ph) => PhonePatch {
            code_number: change(&mut ph, "codeNumber", recorded("phone.codeNumber"))?,
            phone_number: change(&mut ph, "phoneNumber", recorded("phone.phoneNumber"))?,
        },
        Nested::Clear => PhonePatch::clear(),
        Nested::Keep => PhonePatch::default(),
    };
    // `isActive` when it says; without it, `suspended`/`deleted` decide (the user service's
    // own flags).
    let is_active = boolean(p.remove("isActive")).or_else(|| {
        let suspended = boolean(p.remove("suspended"));
        let deleted = boolean(p.remove("deleted"));
        (suspended.is_some() || deleted.is_some())
            .then(|| suspended != Some(true) && deleted != Some(true))
    });
    Ok(UserPatch {
        name: change(p, "name", recorded("name"))?,
        email: change(p, "email", recorded("email"))?,
        address,
        phone,
        is_active,
        ..UserPatch::default()
    })
}

/// What a `Customer.Created` says of the first invoice; values it cannot use are left to the
/// defaults.
fn initial_billing(p: &mut Map<String, Value>) -> InitialBilling {
    let total_invoice = match take(p, "totalInvoice") {
        Some(Value::Number(n)) => number(&n),
        Some(Value::String(s)) => Number::parse(s.trim()).ok(),
        _ => None,
    };
    let service_id = take(p, "serviceId").and_then(|v| recorded("serviceId")(v).ok().flatten());
    InitialBilling {
        generation_date: take(p, "generationDate").and_then(|v| date(&v)),
        due_date: take(p, "dueDate").and_then(|v| date(&v)),
        service_id,
        total_invoice,
    }
}

#[cfg(test)]
mod tests {
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
    fn only_unusable_messages_are_rejected_with_a_reason() {
        let huge = format!(
            r#"{{"type":"Customer.Created","payload":{{"userId":"u","name":"{}"}}}}"#,
            "x".repeat(MAX_TEXT_BYTES + 1)
        );
        let too_long = format!(
            r#"{{"type":"Customer.Created","payload":{{"userId":"u","pad":"{}"}}}}"#,
            "x".repeat(MAX_MESSAGE_BYTES)
        );
        for (raw, reason) in [
            ("not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"payload":{"userId":"u"}}"#, "no event type"),
            (r#"{"type":5,"payload":{"userId":"u"}}"#, "no event type"),
            (r#"{"type":"Customer.Created","payload":{}}"#, "no `userId`"),
            (
                r#"{"type":"Customer.Created","payload":{"userId":""}}"#,
                "`userId`",
            ),
            (
                r#"{"type":"Customer.Created","payload":{"userId":{"id":1}}}"#,
                "no `userId`",
            ),
            (r#"{"type":"Customer.Created"}"#, "no payload"),
            (huge.as_str(), "`name` is larger than 4096 bytes"),
            (too_long.as_str(), "at most 65536 are read"),
        ] {
            let err = parse(raw).expect_err(raw);
            assert!(err.0.contains(reason), "{raw:.80}: {err}");
        }
    }
}
