//! What an event's fields may hold, as types: each reads its value (deserr) and describes it
//! (utoipa) from one place. The user service validates almost nothing, so these take what it
//! sends: a value of a kind a field cannot use is *left out* ([`Loose::Unusable`]), never a
//! reason to refuse the event; `null` clears.

use std::borrow::Cow;
use std::convert::Infallible;
use std::ops::ControlFlow;

use billing_domain::{
    MAX_TEXT_CHARS, Number, Scalar, Timestamp, parse_timestamp, timestamp_from_millis,
};
use deserr::{
    DeserializeError, Deserr, ErrorKind, IntoValue, MergeWithError, Value, ValuePointerRef,
};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// What is wrong with one part of a message: `field` is its path (`data.userId`), empty for
/// the message as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "`{}` {}", self.field, self.reason)
        }
    }
}

/// Why an event cannot be read: only the shapes that make it unusable (no type, no payload,
/// no `userId`) get here; each field's own form never does.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unusable(pub Vec<Problem>);

/// The path of `at`, as the problems name it.
pub(crate) fn path(at: ValuePointerRef<'_>) -> String {
    match at {
        ValuePointerRef::Origin => String::new(),
        ValuePointerRef::Key { key, prev } => match path(*prev) {
            p if p.is_empty() => key.to_owned(),
            p => format!("{p}.{key}"),
        },
        ValuePointerRef::Index { index, prev } => format!("{}[{index}]", path(*prev)),
    }
}

impl MergeWithError<Unusable> for Unusable {
    fn merge(
        acc: Option<Self>,
        other: Unusable,
        _: ValuePointerRef<'_>,
    ) -> ControlFlow<Self, Self> {
        let mut acc = acc.unwrap_or_default();
        acc.0.extend(other.0);
        ControlFlow::Continue(acc)
    }
}

impl MergeWithError<Infallible> for Unusable {
    fn merge(acc: Option<Self>, _: Infallible, _: ValuePointerRef<'_>) -> ControlFlow<Self, Self> {
        ControlFlow::Continue(acc.unwrap_or_default())
    }
}

impl DeserializeError for Unusable {
    fn error<V: IntoValue>(
        acc: Option<Self>,
        error: ErrorKind<'_, V>,
        at: ValuePointerRef<'_>,
    ) -> ControlFlow<Self, Self> {
        let here = path(at);
        let within = |field: &str| {
            if here.is_empty() {
                field.to_owned()
            } else {
                format!("{here}.{field}")
            }
        };
        let (field, reason) = match error {
            ErrorKind::MissingField { field } => (within(field), "is missing".to_owned()),
            ErrorKind::IncorrectValueKind { .. } => {
                (here, "has the wrong kind of value".to_owned())
            }
            ErrorKind::Unexpected { msg } => (here, msg),
            ErrorKind::UnknownKey { key, .. } => (within(key), "is unknown".to_owned()),
            ErrorKind::UnknownValue { value, .. } => (here, format!("cannot be `{value}`")),
            ErrorKind::BadSequenceLen { .. } => (here, "has the wrong length".to_owned()),
        };
        let message = Problem { field, reason };
        let mut acc = acc.unwrap_or_default();
        acc.0.push(message);
        ControlFlow::Continue(acc)
    }
}

fn unusable(at: ValuePointerRef<'_>, reason: &str) -> Unusable {
    Unusable(vec![Problem {
        field: path(at),
        reason: reason.to_owned(),
    }])
}

/// A field as sent: absent, `null`, a value it can use, or one it cannot (left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Loose<T> {
    #[default]
    Absent,
    Null,
    Value(T),
    Unusable,
}

impl<T: Deserr<Unusable>> Deserr<Unusable> for Loose<T> {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Unusable> {
        Ok(match value {
            Value::Null => Loose::Null,
            other => T::deserialize_from_value(other, at).map_or(Loose::Unusable, Loose::Value),
        })
    }
}

impl<T> Loose<T> {
    /// The value, when there is one it can use.
    pub fn value(self) -> Option<T> {
        match self {
            Loose::Value(v) => Some(v),
            Loose::Absent | Loose::Null | Loose::Unusable => None,
        }
    }
}

/// A field of any JSON kind: what it can use is described; anything else is left out.
fn any_of(usable: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some(format!(
            "{usable}; null clears it; a value of another kind is left out (never a reason to refuse the event)"
        )))
        .into()
}

impl<T: ToSchema> PartialSchema for Loose<T> {
    fn schema() -> RefOr<Schema> {
        T::schema()
    }
}

impl<T: ToSchema> ToSchema for Loose<T> {
    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

/// A text field's value as sent: text, a number, or a boolean's word (as the previous
/// service's Mongoose models stored one). Text past the bound against abuse is noted, so that
/// the events that use the field can refuse it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentText {
    Value(Scalar),
    Oversized,
}

impl Deserr<Unusable> for SentText {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Unusable> {
        match value {
            Value::String(s) => Ok(Scalar::text(&s).map_or(SentText::Oversized, SentText::Value)),
            Value::Integer(u) => Ok(SentText::Value(Scalar::Number(Number::from_u64(u)))),
            Value::NegativeInteger(i) => Ok(SentText::Value(Scalar::Number(Number::Int(i)))),
            Value::Float(f) => Number::from_f64(f)
                .map(|n| SentText::Value(Scalar::Number(n)))
                .ok_or_else(|| unusable(at, "is not a finite number")),
            Value::Boolean(b) => Ok(SentText::Value(
                Scalar::text(if b { "true" } else { "false" })
                    .map_err(|_| unusable(at, "unreachable"))?,
            )),
            _ => Err(unusable(at, "is not text or a number")),
        }
    }
}

impl PartialSchema for SentText {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(MAX_TEXT_CHARS)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Array(vec![Type::Number, Type::Boolean, Type::Null, Type::Object, Type::Array])),
            )
            .description(Some(format!(
                "Text (at most {MAX_TEXT_CHARS} characters) or a number, kept as sent; a boolean is kept as its word; null clears it; another kind is left out"
            )))
            .into()
    }
}

impl ToSchema for SentText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SentText")
    }
}

/// A date as a producer may send it: RFC 3339 (an offset optional), a plain date, or
/// milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentDate(pub Timestamp);

impl Deserr<Unusable> for SentDate {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Unusable> {
        match value {
            Value::String(s) => parse_timestamp(&s)
                .map(SentDate)
                .map_err(|e| unusable(at, &e.0)),
            Value::Integer(u) => i64::try_from(u)
                .ok()
                .and_then(|ms| timestamp_from_millis(ms).ok())
                .map(SentDate)
                .ok_or_else(|| unusable(at, "is not a date")),
            Value::NegativeInteger(ms) => timestamp_from_millis(ms)
                .map(SentDate)
                .map_err(|e| unusable(at, &e.0)),
            _ => Err(unusable(at, "is not a date")),
        }
    }
}

impl PartialSchema for SentDate {
    fn schema() -> RefOr<Schema> {
        any_of(
            "An RFC 3339 date-time (an offset optional), a plain date, or milliseconds since the epoch",
        )
    }
}

impl ToSchema for SentDate {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SentDate")
    }
}

/// `true` or `false` (also as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentFlag(pub bool);

impl Deserr<Unusable> for SentFlag {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Unusable> {
        match value {
            Value::Boolean(b) => Ok(SentFlag(b)),
            Value::String(s) if s == "true" => Ok(SentFlag(true)),
            Value::String(s) if s == "false" => Ok(SentFlag(false)),
            _ => Err(unusable(at, "is not true or false")),
        }
    }
}

impl PartialSchema for SentFlag {
    fn schema() -> RefOr<Schema> {
        any_of("true or false (also as text)")
    }
}

impl ToSchema for SentFlag {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SentFlag")
    }
}

/// An amount as sent: a number, or a number written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentAmount(pub Number);

impl Deserr<Unusable> for SentAmount {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Unusable> {
        match value {
            Value::Integer(u) => Ok(SentAmount(Number::from_u64(u))),
            Value::NegativeInteger(i) => Ok(SentAmount(Number::Int(i))),
            Value::Float(f) => Number::from_f64(f)
                .map(SentAmount)
                .ok_or_else(|| unusable(at, "is not a finite number")),
            Value::String(s) => Number::parse(s.trim())
                .map(SentAmount)
                .map_err(|e| unusable(at, &e.0)),
            _ => Err(unusable(at, "is not a number")),
        }
    }
}

impl PartialSchema for SentAmount {
    fn schema() -> RefOr<Schema> {
        any_of("A number (or one written as text), kept as sent")
    }
}

impl ToSchema for SentAmount {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SentAmount")
    }
}

/// An identifier: text, or a number taken as its decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentId(pub String);

impl Deserr<Unusable> for SentId {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Unusable> {
        match value {
            Value::String(s) => Ok(SentId(s)),
            Value::Integer(u) => Ok(SentId(u.to_string())),
            Value::NegativeInteger(i) => Ok(SentId(i.to_string())),
            _ => Err(unusable(at, "must be text or an integer")),
        }
    }
}

impl PartialSchema for SentId {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Integer))
            .into()
    }
}

impl ToSchema for SentId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SentId")
    }
}

/// A message's own id, as sent: a usable one (text or an integer, at most 200 printable
/// characters) is its identity in the inbox; anything else is left out, and the identity is
/// then the digest of the message's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessageId(pub Option<String>);

impl Deserr<Unusable> for SentMessageId {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Unusable> {
        Ok(SentMessageId(
            SentId::deserialize_from_value(value, at)
                .ok()
                .map(|id| id.0),
        ))
    }
}

impl PartialSchema for SentMessageId {
    fn schema() -> RefOr<Schema> {
        any_of(
            "The message's identity in the inbox: text or an integer; when absent or unusable, the digest of the message's bytes",
        )
    }
}

impl ToSchema for SentMessageId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("SentMessageId")
    }
}
