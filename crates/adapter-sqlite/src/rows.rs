//! Rows to domain values and back. Values were parsed before they were written, but they are
//! parsed again on the way out: a hand-edited database must not smuggle in an invalid one.

use billing_domain::{
    Address, Amount, Billing, BillingId, CountryCode, DocumentId, Email, InvalidValue, Name,
    Payment, Phone, PhoneNumber, ServiceId, ShortText, Timestamp, User, UserId,
    timestamp_from_millis,
};
use rusqlite::Row;
use rusqlite::types::Type;

pub(crate) const USER_COLUMNS: &str = "id, user_id, name, email, city, country, zip_code, address, \
     code_number, phone_number, is_active, created_at, updated_at";

pub(crate) const BILLING_COLUMNS: &str = "id, billing_id, user_id, generation_date, due_date, \
     service_id, total_invoice, payment_date, code_number, phone_number, created_at, updated_at";

fn invalid(col: usize, e: InvalidValue) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e))
}

fn parsed<T>(
    row: &Row<'_>,
    col: usize,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> rusqlite::Result<T> {
    let raw: String = row.get(col)?;
    parse(&raw).map_err(|e| invalid(col, e))
}

fn parsed_opt<T>(
    row: &Row<'_>,
    col: usize,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> rusqlite::Result<Option<T>> {
    let raw: Option<String> = row.get(col)?;
    raw.map(|r| parse(&r).map_err(|e| invalid(col, e)))
        .transpose()
}

fn time(row: &Row<'_>, col: usize) -> rusqlite::Result<Timestamp> {
    timestamp_from_millis(row.get(col)?).map_err(|e| invalid(col, e))
}

fn phone(row: &Row<'_>, code_col: usize) -> rusqlite::Result<Phone> {
    let number: Option<i64> = row.get(code_col + 1)?;
    let phone_number = number
        .map(|n| {
            u64::try_from(n)
                .map_err(|_| InvalidValue("negative phone number".into()))
                .and_then(PhoneNumber::new)
                .map_err(|e| invalid(code_col + 1, e))
        })
        .transpose()?;
    Ok(Phone {
        code_number: parsed(row, code_col, CountryCode::parse)?,
        phone_number,
    })
}

pub(crate) fn user(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: parsed(row, 0, DocumentId::parse)?,
        user_id: parsed(row, 1, UserId::parse)?,
        name: parsed_opt(row, 2, Name::parse)?,
        email: parsed_opt(row, 3, Email::parse)?,
        address: Address {
            city: parsed_opt(row, 4, ShortText::parse)?,
            country: parsed_opt(row, 5, ShortText::parse)?,
            zip_code: parsed_opt(row, 6, ShortText::parse)?,
            address: parsed_opt(row, 7, ShortText::parse)?,
        },
        phone: phone(row, 8)?,
        is_active: row.get(10)?,
        created_at: time(row, 11)?,
        updated_at: time(row, 12)?,
    })
}

pub(crate) fn billing(row: &Row<'_>) -> rusqlite::Result<Billing> {
    let total: i64 = row.get(6)?;
    let payment_date: Option<i64> = row.get(7)?;
    Ok(Billing {
        id: parsed(row, 0, DocumentId::parse)?,
        billing_id: parsed(row, 1, BillingId::parse)?,
        user_id: parsed(row, 2, UserId::parse)?,
        generation_date: time(row, 3)?,
        due_date: time(row, 4)?,
        service_id: parsed(row, 5, ServiceId::parse)?,
        total_invoice: u64::try_from(total)
            .map_err(|_| InvalidValue("negative amount".into()))
            .and_then(Amount::new)
            .map_err(|e| invalid(6, e))?,
        payment: match payment_date {
            None => Payment::Unpaid,
            Some(ms) => Payment::Paid {
                date: timestamp_from_millis(ms).map_err(|e| invalid(7, e))?,
            },
        },
        phone: phone(row, 8)?,
        created_at: time(row, 10)?,
        updated_at: time(row, 11)?,
    })
}

/// Every value fits an i64: amounts stop at 10^15 and phone numbers at 15 digits.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
