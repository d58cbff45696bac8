//! Response bodies: the JSON names and shapes existing clients use (those of the previous
//! Node/Mongoose service), dates as RFC 3339 UTC with milliseconds.

use billing_domain::{Address, Billing, Phone, Timestamp, User};
use chrono::SecondsFormat;
use serde::Serialize;

pub fn date(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zip_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<&'a str>,
}

impl<'a> From<&'a Address> for AddressJson<'a> {
    fn from(a: &'a Address) -> Self {
        Self {
            city: a.city.as_ref().map(|v| v.as_str()),
            country: a.country.as_ref().map(|v| v.as_str()),
            zip_code: a.zip_code.as_ref().map(|v| v.as_str()),
            address: a.address.as_ref().map(|v| v.as_str()),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhoneJson<'a> {
    code_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<u64>,
}

impl<'a> From<&'a Phone> for PhoneJson<'a> {
    fn from(p: &'a Phone) -> Self {
        Self {
            code_number: p.code_number.as_str(),
            phone_number: p.phone_number.map(|n| n.value()),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserJson<'a> {
    #[serde(rename = "_id")]
    id: String,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    address: AddressJson<'a>,
    phone: PhoneJson<'a>,
    is_active: bool,
    created_at: String,
    updated_at: String,
    #[serde(rename = "__v")]
    version: u8,
}

impl<'a> From<&'a User> for UserJson<'a> {
    fn from(u: &'a User) -> Self {
        Self {
            id: u.id.to_string(),
            user_id: u.user_id.as_str(),
            name: u.name.as_ref().map(|v| v.as_str()),
            email: u.email.as_ref().map(|v| v.as_str()),
            address: (&u.address).into(),
            phone: (&u.phone).into(),
            is_active: u.is_active,
            created_at: date(u.created_at),
            updated_at: date(u.updated_at),
            version: 0,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BillingJson<'a> {
    #[serde(rename = "_id")]
    id: String,
    user_id: &'a str,
    billing_id: &'a str,
    generation_date: String,
    due_date: String,
    service_id: &'a str,
    total_invoice: u64,
    is_paid: bool,
    payment_date: Option<String>,
    phone: PhoneJson<'a>,
    created_at: String,
    updated_at: String,
    #[serde(rename = "__v")]
    version: u8,
    /// Present only with `?expand=user`; null when the user no longer exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Option<UserJson<'a>>>,
}

impl<'a> From<&'a Billing> for BillingJson<'a> {
    fn from(b: &'a Billing) -> Self {
        Self {
            id: b.id.to_string(),
            user_id: b.user_id.as_str(),
            billing_id: b.billing_id.as_str(),
            generation_date: date(b.generation_date),
            due_date: date(b.due_date),
            service_id: b.service_id.as_str(),
            total_invoice: b.total_invoice.value(),
            is_paid: b.payment.is_paid(),
            payment_date: b.payment.date().map(date),
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
