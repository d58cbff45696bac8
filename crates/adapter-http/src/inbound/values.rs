//! The field types of request bodies and query strings. Each one reads its JSON value (with
//! [`deserr`]) and describes it (with [`utoipa`]) from one place, so the document cannot say
//! other than what the parser does: the schema of a rule is built from the rule's own
//! constants (lengths, character sets).

use std::borrow::Cow;
use std::num::NonZeroU32;

use billing_domain::{
    Amount, BIDI_CONTROLS, BillingCursor, BillingId, CONTROLS, CountryCode, DocumentId, Email,
    EventSeq, INVISIBLE, Limit, MAX_ID_CHARS, Name, Number, PhoneNumber, Scalar, ServiceId,
    ShortText, Timestamp, UserCursor, UserId, WHITE_SPACE, parse_timestamp,
};
use deserr::{Deserr, ErrorKind, IntoValue, Value, ValueKind, ValuePointerRef, take_cf_content};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, Type,
};
use utoipa::{PartialSchema, ToSchema};

use super::errors::Problems;

/// The error deserr reports for a value of the wrong kind.
fn wrong_kind<V: IntoValue>(
    value: Value<V>,
    accepted: &[ValueKind],
    at: ValuePointerRef,
) -> Problems {
    take_cf_content(<Problems as deserr::DeserializeError>::error::<V>(
        None,
        ErrorKind::IncorrectValueKind {
            actual: value,
            accepted,
        },
        at,
    ))
}

/// A JSON number as this service keeps numbers; `None` for one it cannot keep exactly.
fn number_of<V: IntoValue>(value: &Value<V>) -> Option<Number> {
    match value {
        Value::Integer(u) => Some(Number::from_u64(*u)),
        Value::NegativeInteger(i) => Some(Number::Int(*i)),
        Value::Float(f) => Number::from_f64(*f),
        _ => None,
    }
}

/// A regex character class body (`\u0000-\u001f...`) for `ranges`.
fn class(ranges: &[&[(char, char)]]) -> String {
    let mut out = String::new();
    for set in ranges {
        for (lo, hi) in set.iter() {
            let esc = |c: char| {
                if c == ' ' {
                    " ".to_owned()
                } else {
                    format!("\\u{:04x}", u32::from(c))
                }
            };
            out.push_str(&esc(*lo));
            if lo != hi {
                out.push('-');
                out.push_str(&esc(*hi));
            }
        }
    }
    out
}

fn string_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

macro_rules! named_schema {
    ($t:ty, $name:literal, $schema:expr) => {
        impl PartialSchema for $t {
            fn schema() -> RefOr<Schema> {
                $schema.into()
            }
        }

        impl ToSchema for $t {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

/// Text parsed by `$parse` (a domain parser) into the newtype `$ty`; anything but a string is
/// the wrong kind.
macro_rules! from_text {
    ($ty:ident, $parse:path) => {
        impl Deserr<Problems> for $ty {
            fn deserialize_from_value<V: IntoValue>(
                value: Value<V>,
                at: ValuePointerRef,
            ) -> Result<Self, Problems> {
                match value {
                    Value::String(s) => $parse(&s).map($ty).map_err(|e| Problems::at(at, e.0)),
                    other => Err(wrong_kind(other, &[ValueKind::String], at)),
                }
            }
        }
    };
}

// --- dates -------------------------------------------------------------------------------------

/// A date-time: RFC 3339 (any offset), one without an offset (UTC), or a plain date (midnight
/// UTC), in the years 0000-9999 once in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub Timestamp);

from_text!(Date, parse_timestamp);

named_schema!(
    Date,
    "DateTime",
    string_schema()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some("RFC 3339 (any offset), or without an offset (UTC), or a plain date (midnight UTC); years 0000-9999 in UTC"))
);

// --- ids ---------------------------------------------------------------------------------------

/// A `userId` for a new user: 1-128 letters, digits and `-_.:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUserId(pub UserId);

from_text!(NewUserId, UserId::parse_new);

named_schema!(
    NewUserId,
    "NewUserId",
    string_schema().pattern(Some(format!("^[A-Za-z0-9._:-]{{1,{}}}$", UserId::MAX_LEN)))
);

/// Any recorded `userId` (the user service's may be any text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyUserId(pub UserId);

from_text!(AnyUserId, UserId::parse);

named_schema!(
    AnyUserId,
    "UserId",
    string_schema()
        .min_length(Some(1))
        .max_length(Some(MAX_ID_CHARS))
);

/// Any recorded `billingId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyBillingId(pub BillingId);

from_text!(AnyBillingId, BillingId::parse);

named_schema!(
    AnyBillingId,
    "BillingId",
    string_schema()
        .min_length(Some(1))
        .max_length(Some(MAX_ID_CHARS))
        .examples(["000000001"])
);

/// A document's `_id`: 24 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectId(pub DocumentId);

from_text!(ObjectId, DocumentId::parse);

named_schema!(
    ObjectId,
    "ObjectId",
    string_schema().pattern(Some("^[0-9a-fA-F]{24}$"))
);

// --- checked text and numbers ---------------------------------------------------------------

/// A field checked by one of this service's rules, as read from a request: a value that passes
/// it, or one it refuses that might still be an echo of the stored value (a recorded value
/// that breaks today's rules, sent back unchanged), with the rule's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked<R: Rule> {
    Valid { value: R::Out, as_sent: Scalar },
    Refused { as_sent: Scalar, problem: String },
}

/// A rule of this service's for one field, applied to a recorded value.
pub trait Rule: ToSchema {
    type Out: std::fmt::Debug + Clone + PartialEq;
    /// # Errors
    /// Why the value breaks the rule.
    fn apply(value: &Scalar) -> Result<Self::Out, String>;
}

impl<R: Rule> Deserr<Problems> for Checked<R> {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        let as_sent = match &value {
            Value::String(s) => Scalar::text(s).ok(),
            other => number_of(other).map(Scalar::Number),
        };
        let Some(as_sent) = as_sent else {
            return Err(match value {
                Value::String(_) => Problems::at(at, "is longer than any stored value"),
                Value::Float(_) => {
                    Problems::at(at, "must be a number this service can keep exactly")
                }
                other => wrong_kind(
                    other,
                    &[ValueKind::String, ValueKind::Integer, ValueKind::Float],
                    at,
                ),
            });
        };
        Ok(match R::apply(&as_sent) {
            Ok(value) => Checked::Valid { value, as_sent },
            Err(problem) => Checked::Refused { as_sent, problem },
        })
    }
}

impl<R: Rule> PartialSchema for Checked<R> {
    fn schema() -> RefOr<Schema> {
        R::schema()
    }
}

impl<R: Rule> ToSchema for Checked<R> {
    fn name() -> Cow<'static, str> {
        R::name()
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((R::name().into_owned(), R::schema()));
        R::schemas(schemas);
    }
}

fn as_text(value: &Scalar) -> Result<&str, String> {
    value.as_text().ok_or_else(|| "must be a string".to_owned())
}

macro_rules! text_field {
    ($t:ident, $name:literal, $parse:expr, $schema:expr) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $t;

        impl Rule for $t {
            type Out = Scalar;
            fn apply(value: &Scalar) -> Result<Scalar, String> {
                let raw = as_text(value)?;
                $parse(raw)
                    .map(Into::into)
                    .map_err(|e: billing_domain::InvalidValue| e.0)
            }
        }

        named_schema!($t, $name, $schema);
    };
}

/// `^[^<not>]*[^<not><invisible>][^<not>]*$`: no character of `not`, and one visible.
fn visible_pattern(not: &[&[(char, char)]]) -> String {
    let refused = class(not);
    let mut hidden: Vec<&[(char, char)]> = not.to_vec();
    hidden.extend([WHITE_SPACE, INVISIBLE]);
    format!("^[^{refused}]*[^{}][^{refused}]*$", class(&hidden))
}

text_field!(
    NameText,
    "Name",
    Name::parse,
    string_schema()
        .min_length(Some(1))
        .max_length(Some(ShortText::MAX_CHARS))
        .pattern(Some(visible_pattern(&[CONTROLS, BIDI_CONTROLS])))
);

text_field!(
    PartText,
    "AddressPart",
    ShortText::parse,
    string_schema()
        .max_length(Some(ShortText::MAX_CHARS))
        .pattern(Some(format!("^[^{}]*$", class(&[CONTROLS]))))
);

fn email_pattern() -> String {
    let not_local = class(&[CONTROLS, WHITE_SPACE]);
    // The domain: no `@`, not starting or ending with a dot.
    format!(
        "^[^@{not_local}]+@(?:[^@.{not_local}]|[^@.{not_local}][^@{not_local}]*[^@.{not_local}])$"
    )
}

text_field!(
    EmailText,
    "Email",
    Email::parse,
    string_schema()
        .max_length(Some(Email::MAX_CHARS))
        .pattern(Some(email_pattern()))
);

text_field!(
    CountryCodeText,
    "CountryCode",
    CountryCode::parse,
    string_schema()
        .pattern(Some("^\\+[0-9]{1,4}$"))
        .examples(["+57"])
);

/// A phone number: a positive integer of at most 15 digits, as a number or as digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumberValue;

fn digits_of(value: &Scalar) -> Option<u64> {
    match value {
        Scalar::Number(n) => n.as_i64().and_then(|i| u64::try_from(i).ok()),
        Scalar::Text(t) => {
            let raw = t.as_str();
            let plain =
                !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
            plain.then(|| raw.parse().ok()).flatten()
        }
    }
}

impl Rule for PhoneNumberValue {
    type Out = Scalar;
    fn apply(value: &Scalar) -> Result<Scalar, String> {
        let wrong = || "must be a positive integer of at most 15 digits".to_owned();
        let n = digits_of(value).ok_or_else(wrong)?;
        PhoneNumber::new(n).map(Into::into).map_err(|_| wrong())
    }
}

named_schema!(
    PhoneNumberValue,
    "PhoneNumber",
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(PhoneNumber::MAX))
        )
        .item(string_schema().pattern(Some("^[1-9][0-9]{0,14}$")))
);

/// An amount: an integer from 0 to 10^15 in the currency's smallest unit, as a number or as
/// digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmountValue;

impl Rule for AmountValue {
    type Out = Number;
    fn apply(value: &Scalar) -> Result<Number, String> {
        let wrong = || "must be a non-negative integer in the currency's smallest unit".to_owned();
        let amount = match value {
            Scalar::Text(t) => Amount::parse(t.as_str()).map_err(|e| e.0)?,
            Scalar::Number(Number::Int(i)) => {
                Amount::new(u64::try_from(*i).map_err(|_| wrong())?).map_err(|e| e.0)?
            }
            Scalar::Number(Number::Float(f)) if f.fract() == 0.0 && *f > 0.0 => {
                return Err("must be at most 1000000000000000".to_owned());
            }
            Scalar::Number(Number::Float(_)) => return Err(wrong()),
        };
        Ok(amount.into())
    }
}

named_schema!(
    AmountValue,
    "Amount",
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(Amount::MAX))
        )
        .item(string_schema().pattern(Some("^(0|[1-9][0-9]{0,14}|1000000000000000)$")))
        .description(Some(
            "In the currency's smallest unit; digits are accepted as a string"
        ))
);

/// A service's id: text of 1-64 printable characters, or an integer (kept as its digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceIdValue;

/// Integers up to 2^53: exact in every client's numbers.
const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

impl Rule for ServiceIdValue {
    type Out = Scalar;
    fn apply(value: &Scalar) -> Result<Scalar, String> {
        let text = match value {
            Scalar::Text(t) => t.as_str().to_owned(),
            Scalar::Number(Number::Int(i)) if i.abs() <= MAX_SAFE_INTEGER => i.to_string(),
            Scalar::Number(_) => return Err("must be a string or an integer".to_owned()),
        };
        ServiceId::parse(&text).map(Into::into).map_err(|e| e.0)
    }
}

named_schema!(
    ServiceIdValue,
    "ServiceId",
    OneOfBuilder::new()
        .item(
            string_schema()
                .min_length(Some(1))
                .max_length(Some(ServiceId::MAX_CHARS))
                .pattern(Some(visible_pattern(&[CONTROLS])))
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(-MAX_SAFE_INTEGER))
                .maximum(Some(MAX_SAFE_INTEGER))
        )
        .description(Some("An integer is kept as its decimal digits"))
);

/// `__v`, echoed from a fetched object and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version;

impl Deserr<Problems> for Version {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        match value {
            Value::Integer(u) if u <= MAX_SAFE_INTEGER as u64 => Ok(Version),
            Value::Integer(_) => Err(Problems::at(at, "must be at most 9007199254740991")),
            other => Err(wrong_kind(other, &[ValueKind::Integer], at)),
        }
    }
}

named_schema!(
    Version,
    "DocumentVersion",
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(MAX_SAFE_INTEGER))
        .description(Some("Echoed from a fetched object; ignored"))
);

// --- absent, null or a value -------------------------------------------------------------------

/// A field that may be absent, `null`, or a value: for updates, where absent keeps, `null`
/// clears and a value sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T: Deserr<Problems>> Deserr<Problems> for Patch<T> {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        match value {
            Value::Null => Ok(Patch::Null),
            other => T::deserialize_from_value(other, at).map(Patch::Value),
        }
    }
}

impl<T> Patch<T> {
    pub fn value(self) -> Option<T> {
        match self {
            Patch::Value(v) => Some(v),
            Patch::Absent | Patch::Null => None,
        }
    }
}

// --- query strings -----------------------------------------------------------------------------

/// `true` or `false`, as a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl Deserr<Problems> for Flag {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        match value {
            Value::String(s) if s == "true" => Ok(Flag(true)),
            Value::String(s) if s == "false" => Ok(Flag(false)),
            _ => Err(Problems::at(at, "must be true or false")),
        }
    }
}

named_schema!(
    Flag,
    "Flag",
    ObjectBuilder::new().schema_type(Type::Boolean)
);

/// A query-string integer from 1 to `max`, the one reader of every numeric parameter.
fn query_integer<V: IntoValue>(
    value: Value<V>,
    at: ValuePointerRef,
    max: u32,
    message: &str,
) -> Result<NonZeroU32, Problems> {
    match value {
        Value::String(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= max)
            .and_then(NonZeroU32::new)
            .ok_or_else(|| Problems::at(at, message)),
        _ => Err(Problems::at(at, message)),
    }
}

/// Items per page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(pub Limit);

impl Deserr<Problems> for PageLimit {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        let n = query_integer(value, at, Limit::MAX, "must be an integer from 1 to 500")?;
        Limit::new(n.get())
            .map(PageLimit)
            .map_err(|e| Problems::at(at, e.0))
    }
}

named_schema!(
    PageLimit,
    "Limit",
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(Limit::MAX))
        .default(Some(50.into()))
);

/// A 1-based page number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageNumber(pub NonZeroU32);

impl Deserr<Problems> for PageNumber {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        query_integer(value, at, u32::MAX, "must be a positive integer").map(PageNumber)
    }
}

named_schema!(
    PageNumber,
    "PageNumber",
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(u32::MAX))
);

fn cursor<V: IntoValue, C>(
    value: Value<V>,
    at: ValuePointerRef,
    parse: impl FnOnce(&str) -> Result<C, billing_domain::InvalidValue>,
) -> Result<C, Problems> {
    match value {
        Value::String(s) => parse(&s).map_err(|e| Problems::at(at, e.0)),
        _ => Err(Problems::at(at, "is not a cursor this service issued")),
    }
}

/// Where a page of billings starts: the cursor of the `Link: rel="next"` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingAfter(pub BillingCursor);

impl Deserr<Problems> for BillingAfter {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        cursor(value, at, BillingCursor::parse).map(BillingAfter)
    }
}

named_schema!(
    BillingAfter,
    "BillingCursor",
    string_schema().pattern(Some(BillingCursor::PATTERN))
);

/// Where a page of a billing's events starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventAfter(pub EventSeq);

impl Deserr<Problems> for EventAfter {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        cursor(value, at, EventSeq::parse).map(EventAfter)
    }
}

named_schema!(
    EventAfter,
    "BillingEventCursor",
    string_schema().pattern(Some(EventSeq::PATTERN))
);

/// Where a page of users starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserAfter(pub UserCursor);

impl Deserr<Problems> for UserAfter {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        cursor(value, at, UserCursor::parse).map(UserAfter)
    }
}

named_schema!(
    UserAfter,
    "UserCursor",
    string_schema().pattern(Some("^[0-9a-fA-F]{24}$"))
);

/// `expand=user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expand;

impl Deserr<Problems> for Expand {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        match value {
            Value::String(s) if s == "user" => Ok(Expand),
            _ => Err(Problems::at(at, "must be `user`")),
        }
    }
}

named_schema!(
    Expand,
    "Expand",
    string_schema().enum_values(Some(["user"]))
);

/// A `userId` as a query parameter.
pub type UserIdParam = AnyUserId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_classes_are_written_as_regex_escapes() {
        assert_eq!(class(&[CONTROLS]), "\\u0000-\\u001f\\u007f-\\u009f");
    }
}

/// A value as a recorded field holds it (text or a number): what a client echoes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded(pub Scalar);

impl Deserr<Problems> for Recorded {
    fn deserialize_from_value<V: IntoValue>(
        value: Value<V>,
        at: ValuePointerRef,
    ) -> Result<Self, Problems> {
        let as_sent = match &value {
            Value::String(s) => Scalar::text(s).ok(),
            other => number_of(other).map(Scalar::Number),
        };
        match as_sent {
            Some(v) => Ok(Recorded(v)),
            None => Err(wrong_kind(
                value,
                &[ValueKind::String, ValueKind::Integer, ValueKind::Float],
                at,
            )),
        }
    }
}

// One schema for a recorded value, going in and coming out.
impl PartialSchema for Recorded {
    fn schema() -> RefOr<Schema> {
        event_envelope::json::ScalarJson::schema()
    }
}

impl ToSchema for Recorded {
    fn name() -> Cow<'static, str> {
        event_envelope::json::ScalarJson::name()
    }
}
