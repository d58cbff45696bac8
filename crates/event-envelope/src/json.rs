//! Bodies of billings and users: the JSON names and shapes existing clients use (those of the previous
//! Node/Mongoose service), dates as RFC 3339 UTC with milliseconds. Recorded values go out as
//! they are stored: text as strings, numbers as numbers (as JavaScript prints them), a missing
//! optional billing field as `null`.

use std::borrow::Cow;

use billing_domain::{Address, Billing, Number, Phone, Scalar, Timestamp, User};
use chrono::{Datelike, SecondsFormat, Timelike};
use serde::{Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

pub fn date(t: Timestamp) -> String {
    // Written by hand for the years of four digits (every date in practice): chrono's
    // general formatter costs several times more, and every response carries four or five
    // dates. Its output is the same (see the tests); other years and leap seconds go to it.
    let (year, nanos) = (t.year(), t.nanosecond());
    let Ok(year) = u32::try_from(year) else {
        return t.to_rfc3339_opts(SecondsFormat::Millis, true);
    };
    if year > 9999 || nanos >= 1_000_000_000 {
        return t.to_rfc3339_opts(SecondsFormat::Millis, true);
    }
    let mut text = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u32| {
        for i in (at..at + width).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 3, nanos / 1_000_000);
    String::from_utf8_lossy(&text).into_owned()
}

/// A number as JSON: an integer, or a float.
#[derive(Debug, Clone, Copy)]
pub struct NumberJson(pub Number);

impl PartialSchema for NumberJson {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::Number).into()
    }
}

impl ToSchema for NumberJson {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Number")
    }
}

impl Serialize for NumberJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Number::Int(i) => s.serialize_i64(i),
            Number::Float(f) => s.serialize_f64(f),
        }
    }
}

/// A recorded value as JSON, in its own type.
#[derive(Debug, Clone, Copy)]
pub struct ScalarJson<'a>(pub &'a Scalar);

impl PartialSchema for ScalarJson<'_> {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String))
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some("A value as recorded: text, or a number"))
            .into()
    }
}

impl ToSchema for ScalarJson<'_> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Recorded")
    }
}

impl Serialize for ScalarJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Scalar::Text(t) => s.serialize_str(t.as_str()),
            Scalar::Number(n) => NumberJson(*n).serialize(s),
        }
    }
}

fn scalar(v: &Option<Scalar>) -> Option<ScalarJson<'_>> {
    v.as_ref().map(ScalarJson)
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Address)]
pub struct AddressJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<ScalarJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<ScalarJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip_code: Option<ScalarJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<ScalarJson<'a>>,
}

impl<'a> From<&'a Address> for AddressJson<'a> {
    fn from(a: &'a Address) -> Self {
        Self {
            city: scalar(&a.city),
            country: scalar(&a.country),
            zip_code: scalar(&a.zip_code),
            address: scalar(&a.address),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Phone)]
pub struct PhoneJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    code_number: Option<ScalarJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<ScalarJson<'a>>,
}

impl<'a> From<&'a Phone> for PhoneJson<'a> {
    fn from(p: &'a Phone) -> Self {
        Self {
            code_number: scalar(&p.code_number),
            phone_number: scalar(&p.phone_number),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
pub struct UserJson<'a> {
    #[serde(rename = "_id")]
    id: String,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<ScalarJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<ScalarJson<'a>>,
    address: AddressJson<'a>,
    phone: PhoneJson<'a>,
    is_active: bool,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    #[serde(rename = "__v")]
    version: u8,
}

impl<'a> From<&'a User> for UserJson<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            id: u.id.to_string(),
            user_id: u.user_id.as_str(),
            name: scalar(&u.name),
            email: scalar(&u.email),
            address: (&u.address).into(),
            phone: (&u.phone).into(),
            is_active: u.is_active,
            created_at: date(u.created_at),
            updated_at: date(u.updated_at),
            version: 0,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Billing)]
pub struct BillingJson<'a> {
    #[serde(rename = "_id")]
    id: String,
    user_id: &'a str,
    billing_id: &'a str,
    #[schema(format = DateTime)]
    generation_date: String,
    #[schema(format = DateTime)]
    due_date: Option<String>,
    service_id: Option<ScalarJson<'a>>,
    total_invoice: Option<NumberJson>,
    is_paid: bool,
    #[schema(format = DateTime)]
    payment_date: Option<String>,
    phone: PhoneJson<'a>,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    #[serde(rename = "__v")]
    version: u8,
    /// Present only with `?expand=user`; null when the user no longer exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<UserJson>)]
    user: Option<Option<UserJson<'a>>>,
}

impl<'a> From<&'a Billing> for BillingJson<'a> {
    fn from(b: &'a Billing) -> Self {
        Self {
            id: b.id.to_string(),
            user_id: b.user_id.as_str(),
            billing_id: b.billing_id.as_str(),
            generation_date: date(b.generation_date),
            due_date: b.due_date.map(date),
            service_id: scalar(&b.service_id),
            total_invoice: b.total_invoice.map(NumberJson),
            is_paid: b.payment.is_paid,
            payment_date: b.payment.date.map(date),
            phone: (&b.phone).into(),
            created_at: date(b.created_at),
            updated_at: date(b.updated_at),
            version: 0,
            user: None,
        }
    }
}

impl<'a> BillingJson<'a> {
    pub fn with_user(mut self, user: Option<&'a User>) -> Self {
        self.user = Some(user.map(UserJson::from));
        self
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, SecondsFormat};

    use super::date;

    #[test]
    fn dates_read_as_chrono_writes_them() {
        let millis = [
            0,
            1,
            999,
            -1,
            1_700_000_000_123,
            -62_167_219_200_000, // 0000-01-01
            -62_167_219_200_001, // the millisecond before: year -1
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            253_402_300_800_000, // 10000-01-01
            951_782_400_000,     // 2000-02-29
        ];
        for ms in millis {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            assert_eq!(
                date(t),
                t.to_rfc3339_opts(SecondsFormat::Millis, true),
                "{ms}"
            );
        }
        let mut ms: i64 = -62_167_219_200_000;
        while ms < 253_402_300_800_000 {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            assert_eq!(
                date(t),
                t.to_rfc3339_opts(SecondsFormat::Millis, true),
                "{ms}"
            );
            ms += 86_399_999_937;
        }
    }
}
