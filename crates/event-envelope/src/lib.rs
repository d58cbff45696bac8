//! Customer event messages, as producers send them, to [`CustomerEvent`]s.
//!
//! Two envelopes are accepted: the documented `{"type": "Customer.Created", "payload": {...}}`
//! and `{"event": "Customer.Created", "data": {...}, "timestamp": "..."}`, which the operator's
//! user service sends. Producers may put more in the payload (a whole user document): what we do
//! not use is ignored, and `null` counts as not given.

use std::fmt::Write as _;

use billing_domain::{
    AddressPatch, Amount, CountryCode, CustomerEvent, Email, EventType, InitialBilling,
    InvalidValue, MessageId, Name, PhoneNumber, PhonePatch, ServiceId, ShortText, Timestamp,
    UserId, UserPatch, parse_timestamp,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

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

/// The identity of a message without an explicit id: the SHA-256 of its bytes.
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
    /// A [`Rejection`] when the bytes are not JSON, there is no type or `userId`, or a field has
    /// the wrong type or an invalid value.
    pub fn try_into_domain(self) -> Result<Message, Rejection> {
        let raw = self.0;
        let value: Value =
            serde_json::from_slice(raw).map_err(|e| reject(format!("not JSON: {e}")))?;
        let Value::Object(mut envelope) = value else {
            return Err(reject("not a JSON object"));
        };
        let id = match take_str(&mut envelope, "id")?.or(take_str(&mut envelope, "eventId")?) {
            Some(id) => MessageId::parse(&id).map_err(|e| field_error("id", &e))?,
            None => digest_id(raw),
        };
        let event_type = take_str(&mut envelope, "type")?
            .or(take_str(&mut envelope, "event")?)
            .ok_or_else(|| reject("no event type: expected `type` or `event`"))?;
        let Some(kind) = EventType::parse(&event_type) else {
            return Ok(Message::UnknownType { id, event_type });
        };
        let timestamp = take_str(&mut envelope, "timestamp")?
            .map(|t| parse_timestamp(&t).map_err(|e| field_error("timestamp", &e)))
            .transpose()?;
        let payload = match envelope
            .remove("payload")
            .or_else(|| envelope.remove("data"))
        {
            Some(Value::Object(p)) => p,
            Some(Value::Null) | None => {
                return Err(reject("no payload: expected `payload` or `data`"));
            }
            Some(_) => return Err(reject("`payload` must be an object")),
        };
        Payload(payload)
            .into_event(id, kind, timestamp)
            .map(Message::Event)
    }
}

fn field_error(field: &str, e: &InvalidValue) -> Rejection {
    reject(format!("`{field}` {e}"))
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Result<Option<String>, Rejection> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(reject(format!("`{key}` must be a string"))),
    }
}

fn parsed<T>(
    map: &mut Map<String, Value>,
    prefix: &str,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, Rejection> {
    take_str(map, key)?
        .map(|s| parse(&s).map_err(|e| field_error(&format!("{prefix}{key}"), &e)))
        .transpose()
}

fn take_bool(map: &mut Map<String, Value>, key: &str) -> Result<Option<bool>, Rejection> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(reject(format!("`{key}` must be true or false"))),
    }
}

/// A non-negative integer as a JSON number (an integral float too) or a string of digits.
fn take_unsigned(map: &mut Map<String, Value>, key: &str) -> Result<Option<u64>, Rejection> {
    let wrong = || reject(format!("`{key}` must be a non-negative integer"));
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..1.8e19).contains(f))
                    .map(|f| {
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let u = f as u64;
                        u
                    })
            })
            .map(Some)
            .ok_or_else(wrong),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map(Some).map_err(|_| wrong())
        }
        Some(_) => Err(wrong()),
    }
}

fn take_object(
    map: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<Map<String, Value>>, Rejection> {
    match map.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(reject(format!("`{key}` must be an object"))),
    }
}

fn take_date(map: &mut Map<String, Value>, key: &str) -> Result<Option<Timestamp>, Rejection> {
    parsed(map, "", key, parse_timestamp)
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
        // Suspended, Reactivated and Deleted use only the userId: the rest of a whole user
        // document sent along with them must not get them dead-lettered.
        if !matches!(kind, EventType::Created | EventType::Updated) {
            p.retain(|k, _| k == "userId");
        }
        let user_id = match p.remove("userId") {
            Some(Value::String(s)) => UserId::parse(&s).map_err(|e| field_error("userId", &e))?,
            // Some producers send numeric ids.
            Some(Value::Number(n)) if n.is_u64() => {
                UserId::parse(&n.to_string()).map_err(|e| field_error("userId", &e))?
            }
            None | Some(Value::Null) => return Err(reject("no `userId` in the payload")),
            Some(_) => return Err(reject("`userId` must be a string")),
        };
        let address = match take_object(&mut p, "address")? {
            Some(mut a) => {
                let mut part = |key: &str| {
                    parsed(&mut a, "address.", key, ShortText::parse).map(|v| v.map(Some))
                };
                AddressPatch {
                    city: part("city")?,
                    country: part("country")?,
                    zip_code: part("zipCode")?,
                    address: part("address")?,
                }
            }
            None => AddressPatch::default(),
        };
        let phone = match take_object(&mut p, "phone")? {
            Some(mut ph) => PhonePatch {
                code_number: parsed(&mut ph, "phone.", "codeNumber", CountryCode::parse)?,
                phone_number: take_unsigned(&mut ph, "phoneNumber")?
                    .map(|n| PhoneNumber::new(n).map_err(|e| field_error("phone.phoneNumber", &e)))
                    .transpose()?
                    .map(Some),
            },
            None => PhonePatch::default(),
        };
        // `isActive` counts only when boolean; without it, `suspended`/`deleted` decide.
        let is_active = match p.remove("isActive") {
            Some(Value::Bool(b)) => Some(b),
            _ => {
                let suspended = take_bool(&mut p, "suspended")?;
                let deleted = take_bool(&mut p, "deleted")?;
                (suspended.is_some() || deleted.is_some())
                    .then(|| suspended != Some(true) && deleted != Some(true))
            }
        };
        let profile = UserPatch {
            name: parsed(&mut p, "", "name", Name::parse)?.map(Some),
            email: parsed(&mut p, "", "email", Email::parse)?.map(Some),
            address,
            phone,
            is_active,
            ..UserPatch::default()
        };
        let service_id = match p.remove("serviceId") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => return Err(reject("`serviceId` must be a string or a number")),
        }
        .map(|s| ServiceId::parse(&s).map_err(|e| field_error("serviceId", &e)))
        .transpose()?;
        let initial_billing = InitialBilling {
            generation_date: take_date(&mut p, "generationDate")?,
            due_date: take_date(&mut p, "dueDate")?,
            service_id,
            total_invoice: take_unsigned(&mut p, "totalInvoice")?
                .map(|n| Amount::new(n).map_err(|e| field_error("totalInvoice", &e)))
                .transpose()?,
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

    #[test]
    fn the_documented_envelope_parses() {
        let e = event(
            r#"{"type":"Customer.Created","payload":{"userId":"u-1","name":"Ana","totalInvoice":125000.0,"serviceId":7}}"#,
        );
        assert_eq!(e.kind, EventType::Created);
        assert_eq!(e.user_id.as_str(), "u-1");
        assert_eq!(e.profile.name.unwrap().unwrap().as_str(), "Ana");
        assert_eq!(e.initial_billing.total_invoice.unwrap().value(), 125_000);
        assert_eq!(e.initial_billing.service_id.unwrap().as_str(), "7");
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
        let raw = r#"{"type":"Customer.Deleted","payload":{"userId":"u"}}"#;
        assert_eq!(event(raw).id, digest_id(raw.as_bytes()));
        assert_ne!(event(raw).id, digest_id(b"{}"));
    }

    #[test]
    fn a_whole_user_document_is_accepted_and_its_extra_fields_ignored() {
        let e = event(
            r#"{"event":"Customer.Updated","data":{"_id":"65a1b2c3d4e5f60718293a4b","userId":"u-1",
            "suspended":true,"deleted":false,"createdAt":"2025-01-01","__v":0,"email":null,
            "phone":{"codeNumber":"+57","phoneNumber":3104156262.0},"address":{"city":"Cali"}}}"#,
        );
        assert_eq!(e.profile.is_active, Some(false));
        assert_eq!(e.profile.email, None);
        assert_eq!(
            e.profile.phone.phone_number,
            Some(Some(PhoneNumber::new(3_104_156_262).unwrap()))
        );
        assert_eq!(e.profile.address.city.unwrap().unwrap().as_str(), "Cali");
    }

    #[test]
    fn is_active_counts_only_when_boolean() {
        let e = event(r#"{"type":"Customer.Updated","payload":{"userId":"u","isActive":"yes"}}"#);
        assert_eq!(e.profile.is_active, None);
        let e = event(
            r#"{"type":"Customer.Updated","payload":{"userId":"u","isActive":true,"suspended":true}}"#,
        );
        assert_eq!(e.profile.is_active, Some(true));
    }

    #[test]
    fn a_deletion_carrying_a_whole_user_document_is_not_rejected_for_fields_it_does_not_use() {
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
    fn malformed_messages_are_rejected_with_a_reason() {
        for (raw, reason) in [
            ("not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"payload":{"userId":"u"}}"#, "no event type"),
            (r#"{"type":"Customer.Created","payload":{}}"#, "no `userId`"),
            (
                r#"{"type":"Customer.Created","payload":{"userId":"u","name":5}}"#,
                "`name` must be a string",
            ),
            (
                r#"{"type":"Customer.Created","payload":{"userId":"u","totalInvoice":-1}}"#,
                "`totalInvoice`",
            ),
            (
                r#"{"type":"Customer.Created","payload":{"userId":"u","dueDate":"soon"}}"#,
                "`dueDate`",
            ),
            (
                r#"{"type":"Customer.Created","payload":{"userId":"bad id"}}"#,
                "`userId`",
            ),
            (r#"{"type":"Customer.Created"}"#, "no payload"),
        ] {
            let err = parse(raw).expect_err(raw);
            assert!(err.0.contains(reason), "{raw}: {err}");
        }
    }
}
