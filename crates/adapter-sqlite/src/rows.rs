//! Rows to domain values and back. Values were parsed before they were written, but they are
//! parsed again on the way out: a hand-edited database must not smuggle in an invalid one.

use billing_domain::{
    Address, Billing, BillingId, DocumentId, InvalidValue, Number, Payment, Phone, Scalar, Text,
    Timestamp, User, UserId, timestamp_from_millis,
};
use rusqlite::types::{ToSqlOutput, Type, Value, ValueRef};
use rusqlite::{Row, ToSql};

// Macros as well as constants: `concat!` takes only literals, and the statements run on every
// request or event are then `&'static str`s, not a `format!` each time.
macro_rules! user_columns {
    () => {
        "id, user_id, name, email, city, country, zip_code, address, code_number, phone_number, \
         is_active, created_at, updated_at, last_event_at"
    };
}

macro_rules! billing_columns {
    () => {
        "id, billing_id, user_id, generation_date, due_date, service_id, total_invoice, is_paid, \
         payment_date, code_number, phone_number, created_at, updated_at"
    };
}

pub(crate) use {billing_columns, user_columns};

pub(crate) const USER_COLUMNS: &str = user_columns!();

pub(crate) const BILLING_COLUMNS: &str = billing_columns!();

fn invalid(col: usize, ty: Type, e: InvalidValue) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, ty, Box::new(e))
}

fn parsed<T>(
    row: &Row<'_>,
    col: usize,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> rusqlite::Result<T> {
    // Borrowed from the row: no copy of the text only to parse it. Anything but UTF-8 text
    // is read as a `String` after all, for the error that gives.
    let raw = match row.get_ref(col)? {
        ValueRef::Text(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => return parse(text).map_err(|e| invalid(col, Type::Text, e)),
            Err(_) => row.get::<_, String>(col)?,
        },
        _ => row.get::<_, String>(col)?,
    };
    parse(&raw).map_err(|e| invalid(col, Type::Text, e))
}

pub(crate) fn time(row: &Row<'_>, col: usize) -> rusqlite::Result<Timestamp> {
    timestamp_from_millis(row.get(col)?).map_err(|e| invalid(col, Type::Integer, e))
}

fn optional_time(row: &Row<'_>, col: usize) -> rusqlite::Result<Option<Timestamp>> {
    let millis: Option<i64> = row.get(col)?;
    millis
        .map(|ms| timestamp_from_millis(ms).map_err(|e| invalid(col, Type::Integer, e)))
        .transpose()
}

/// A recorded value from an `ANY` column, in the type it was stored as.
fn scalar(row: &Row<'_>, col: usize) -> rusqlite::Result<Option<Scalar>> {
    match row.get_ref(col)? {
        ValueRef::Null => Ok(None),
        ValueRef::Integer(i) => Ok(Some(Scalar::Number(Number::Int(i)))),
        ValueRef::Real(f) => Number::from_f64(f)
            .map(|n| Some(Scalar::Number(n)))
            .ok_or_else(|| invalid(col, Type::Real, InvalidValue("not finite".into()))),
        ValueRef::Text(bytes) => {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e))
            })?;
            Text::parse(text)
                .map(|t| Some(Scalar::Text(t)))
                .map_err(|e| invalid(col, Type::Text, e))
        }
        ValueRef::Blob(_) => Err(rusqlite::Error::InvalidColumnType(
            col,
            "a recorded value".into(),
            Type::Blob,
        )),
    }
}

fn number(row: &Row<'_>, col: usize) -> rusqlite::Result<Option<Number>> {
    match scalar(row, col)? {
        None => Ok(None),
        Some(Scalar::Number(n)) => Ok(Some(n)),
        Some(Scalar::Text(_)) => Err(rusqlite::Error::InvalidColumnType(
            col,
            "a number".into(),
            Type::Text,
        )),
    }
}

fn phone(row: &Row<'_>, code_col: usize) -> rusqlite::Result<Phone> {
    Ok(Phone {
        code_number: scalar(row, code_col)?,
        phone_number: scalar(row, code_col + 1)?,
    })
}

pub(crate) fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: parsed(row, 0, DocumentId::parse)?,
        user_id: parsed(row, 1, UserId::parse)?,
        name: scalar(row, 2)?,
        email: scalar(row, 3)?,
        address: Address {
            city: scalar(row, 4)?,
            country: scalar(row, 5)?,
            zip_code: scalar(row, 6)?,
            address: scalar(row, 7)?,
        },
        phone: phone(row, 8)?,
        is_active: row.get(10)?,
        created_at: time(row, 11)?,
        updated_at: time(row, 12)?,
        last_event_at: optional_time(row, 13)?,
    })
}

pub(crate) fn billing(row: &Row<'_>) -> rusqlite::Result<Billing> {
    Ok(Billing {
        id: parsed(row, 0, DocumentId::parse)?,
        billing_id: parsed(row, 1, BillingId::parse)?,
        user_id: parsed(row, 2, UserId::parse)?,
        generation_date: time(row, 3)?,
        due_date: optional_time(row, 4)?,
        service_id: scalar(row, 5)?,
        total_invoice: number(row, 6)?,
        payment: Payment {
            is_paid: row.get(7)?,
            date: optional_time(row, 8)?,
        },
        phone: phone(row, 9)?,
        created_at: time(row, 11)?,
        updated_at: time(row, 12)?,
    })
}

/// A billing's values in [`BILLING_COLUMNS`] order.
pub(crate) fn billing_values(b: &Billing) -> Vec<Value> {
    let text = |s: &str| Value::Text(s.to_owned());
    let scalar = |v: Option<&Scalar>| match v {
        None => Value::Null,
        Some(Scalar::Text(t)) => text(t.as_str()),
        Some(Scalar::Number(n)) => number_value(*n),
    };
    let optional = |t: Option<Timestamp>| millis(t).map_or(Value::Null, Value::Integer);
    vec![
        Value::Text(b.id.to_string()),
        text(b.billing_id.as_str()),
        text(b.user_id.as_str()),
        Value::Integer(b.generation_date.timestamp_millis()),
        optional(b.due_date),
        scalar(b.service_id.as_ref()),
        b.total_invoice.map_or(Value::Null, number_value),
        Value::Integer(b.payment.is_paid.into()),
        optional(b.payment.date),
        scalar(b.phone.code_number.as_ref()),
        scalar(b.phone.phone_number.as_ref()),
        Value::Integer(b.created_at.timestamp_millis()),
        Value::Integer(b.updated_at.timestamp_millis()),
    ]
}

/// A recorded value as SQL, in its own type (an `ANY` column keeps it).
pub(crate) struct Sql<'a>(pub Option<&'a Scalar>);

impl ToSql for Sql<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            None => ToSqlOutput::Owned(Value::Null),
            Some(Scalar::Text(t)) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_str().as_bytes())),
            Some(Scalar::Number(n)) => ToSqlOutput::Owned(number_value(*n)),
        })
    }
}

pub(crate) fn number_value(n: Number) -> Value {
    match n {
        Number::Int(i) => Value::Integer(i),
        Number::Float(f) => Value::Real(f),
    }
}

pub(crate) fn millis(t: Option<Timestamp>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

/// Every count fits an i64.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
