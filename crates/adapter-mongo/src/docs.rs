//! BSON documents to domain values and back, in the shapes the previous Node/Mongoose service
//! reads and writes.
//!
//! Reading is lenient where Mongoose was: a `Number` may be stored as int32, int64 or double;
//! optional fields may be missing; fields we do not know are left alone (updates `$set` only what
//! changed, so they survive). An optional value that no longer passes our rules (an old, malformed
//! e-mail, say) is read as absent, with a warning, instead of making the whole document
//! unreadable. Writing produces what Mongoose writes: the same names, dates as BSON dates,
//! `Number`s as doubles, `__v: 0` on insert.

use anyhow::{Context, anyhow};
use billing_domain::{
    Address, Amount, Billing, BillingId, CountryCode, DocumentId, Email, InvalidValue, Name,
    Payment, Phone, PhoneNumber, ServiceId, ShortText, Timestamp, User, UserId,
    timestamp_from_millis,
};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Bson, Document, doc};

pub(crate) fn oid(id: DocumentId) -> ObjectId {
    ObjectId::from_bytes(id.bytes())
}

pub(crate) fn date(t: Timestamp) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

/// Mongoose stores `Number` as a double; every value we store (amounts up to 10^15, phone
/// numbers up to 15 digits) is below 2^53, so the double is exact.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn number(v: u64) -> Bson {
    Bson::Double(v as f64)
}

/// A stored `Number` as an unsigned integer, whatever BSON numeric type holds it.
pub(crate) fn as_u64(v: &Bson) -> Option<u64> {
    match v {
        Bson::Int32(i) => u64::try_from(*i).ok(),
        Bson::Int64(i) => u64::try_from(*i).ok(),
        Bson::Double(f) if f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19 => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let u = *f as u64;
            Some(u)
        }
        _ => None,
    }
}

fn get_date(d: &Document, key: &str) -> anyhow::Result<Option<Timestamp>> {
    match d.get(key) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::DateTime(t)) => Ok(Some(timestamp_from_millis(t.timestamp_millis())?)),
        // Some writers stored ISO strings; read them rather than fail.
        Some(Bson::String(s)) => Ok(Some(billing_domain::parse_timestamp(s)?)),
        Some(other) => Err(anyhow!(
            "`{key}` is a {:?}, not a date",
            other.element_type()
        )),
    }
}

fn required_date(d: &Document, key: &str) -> anyhow::Result<Timestamp> {
    get_date(d, key)?.ok_or_else(|| anyhow!("`{key}` is missing"))
}

fn get_str<'a>(d: &'a Document, key: &str) -> Option<&'a str> {
    d.get(key).and_then(Bson::as_str)
}

/// A required identifying field: unreadable means the document is unusable.
fn required<T>(
    d: &Document,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> anyhow::Result<T> {
    let raw = get_str(d, key).ok_or_else(|| anyhow!("`{key}` is missing or not a string"))?;
    parse(raw).with_context(|| format!("`{key}` = {raw:?}"))
}

/// An optional field; an invalid stored value is read as absent, with a warning.
fn optional<T>(
    d: &Document,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Option<T> {
    let raw = get_str(d, key)?;
    parse(raw)
        .inspect_err(
            |e| tracing::warn!(field = key, value = raw, error = %e, "ignoring a stored value"),
        )
        .ok()
}

fn document_id(d: &Document) -> anyhow::Result<DocumentId> {
    match d.get("_id") {
        Some(Bson::ObjectId(o)) => Ok(DocumentId::from_bytes(o.bytes())),
        Some(Bson::String(s)) => Ok(DocumentId::parse(s)?),
        _ => Err(anyhow!("`_id` is not an ObjectId")),
    }
}

fn phone(d: &Document) -> Phone {
    let Some(p) = d.get_document("phone").ok() else {
        return Phone::default();
    };
    Phone {
        code_number: optional(p, "codeNumber", CountryCode::parse)
            .unwrap_or_else(CountryCode::default_code),
        phone_number: p.get("phoneNumber").and_then(|n| {
            as_u64(n)
                .and_then(|n| PhoneNumber::new(n).ok())
                .or_else(|| {
                    tracing::warn!(value = %n, "ignoring a stored phoneNumber");
                    None
                })
        }),
    }
}

pub(crate) fn phone_doc(p: &Phone) -> Document {
    let mut d = doc! { "codeNumber": p.code_number.as_str() };
    if let Some(n) = p.phone_number {
        d.insert("phoneNumber", number(n.value()));
    }
    d
}

pub(crate) fn user(d: &Document) -> anyhow::Result<User> {
    let id = document_id(d)?;
    let parse = || -> anyhow::Result<User> {
        let a = d.get_document("address").ok();
        let part = |key: &str| a.and_then(|a| optional(a, key, ShortText::parse));
        Ok(User {
            id,
            user_id: required(d, "userId", UserId::parse)?,
            name: optional(d, "name", Name::parse),
            email: optional(d, "email", Email::parse),
            address: Address {
                city: part("city"),
                country: part("country"),
                zip_code: part("zipCode"),
                address: part("address"),
            },
            phone: phone(d),
            is_active: d.get_bool("isActive").unwrap_or(true),
            created_at: required_date(d, "createdAt")?,
            updated_at: required_date(d, "updatedAt")?,
        })
    };
    parse().with_context(|| format!("unreadable user document {id}"))
}

/// The fields of a user that we own, as `$set`/insert values; `None` means absent.
pub(crate) fn user_fields(u: &User) -> Vec<(&'static str, Option<Bson>)> {
    let text = |v: Option<&str>| v.map(|s| Bson::String(s.to_owned()));
    let a = &u.address;
    vec![
        ("userId", Some(u.user_id.as_str().into())),
        ("name", text(u.name.as_ref().map(Name::as_str))),
        ("email", text(u.email.as_ref().map(Email::as_str))),
        ("address.city", text(a.city.as_ref().map(ShortText::as_str))),
        (
            "address.country",
            text(a.country.as_ref().map(ShortText::as_str)),
        ),
        (
            "address.zipCode",
            text(a.zip_code.as_ref().map(ShortText::as_str)),
        ),
        (
            "address.address",
            text(a.address.as_ref().map(ShortText::as_str)),
        ),
        (
            "phone.codeNumber",
            Some(u.phone.code_number.as_str().into()),
        ),
        (
            "phone.phoneNumber",
            u.phone.phone_number.map(|n| number(n.value())),
        ),
        ("isActive", Some(u.is_active.into())),
        ("createdAt", Some(date(u.created_at).into())),
        ("updatedAt", Some(date(u.updated_at).into())),
    ]
}

pub(crate) fn billing(d: &Document) -> anyhow::Result<Billing> {
    let id = document_id(d)?;
    let parse = || -> anyhow::Result<Billing> {
        let updated_at = required_date(d, "updatedAt")?;
        let total = d
            .get("totalInvoice")
            .ok_or_else(|| anyhow!("`totalInvoice` is missing"))?;
        let total_invoice = as_u64(total)
            .ok_or_else(|| anyhow!("`totalInvoice` = {total} is not a non-negative integer"))
            .and_then(|t| Ok(Amount::new(t)?))?;
        let service_id = match d.get("serviceId") {
            Some(Bson::String(s)) => ServiceId::parse(s)?,
            Some(n) => ServiceId::parse(
                &as_u64(n)
                    .ok_or_else(|| anyhow!("`serviceId` = {n} is unreadable"))?
                    .to_string(),
            )?,
            None => return Err(anyhow!("`serviceId` is missing")),
        };
        let payment = match (
            d.get_bool("isPaid").unwrap_or(false),
            get_date(d, "paymentDate")?,
        ) {
            (false, _) => Payment::Unpaid,
            (true, Some(date)) => Payment::Paid { date },
            // Paid without a date (older documents): the last update is the best guess.
            (true, None) => Payment::Paid { date: updated_at },
        };
        Ok(Billing {
            id,
            billing_id: required(d, "billingId", BillingId::parse)?,
            user_id: required(d, "userId", UserId::parse)?,
            generation_date: required_date(d, "generationDate")?,
            due_date: required_date(d, "dueDate")?,
            service_id,
            total_invoice,
            payment,
            phone: phone(d),
            created_at: required_date(d, "createdAt")?,
            updated_at,
        })
    };
    parse().with_context(|| format!("unreadable billing document {id}"))
}

/// The fields of a billing that an update may change.
pub(crate) fn billing_fields(b: &Billing) -> Vec<(&'static str, Option<Bson>)> {
    vec![
        ("dueDate", Some(date(b.due_date).into())),
        ("serviceId", Some(b.service_id.as_str().into())),
        ("totalInvoice", Some(number(b.total_invoice.value()))),
        ("isPaid", Some(b.payment.is_paid().into())),
        (
            "paymentDate",
            Some(b.payment.date().map_or(Bson::Null, |t| date(t).into())),
        ),
        ("updatedAt", Some(date(b.updated_at).into())),
    ]
}

pub(crate) fn new_billing_doc(b: &Billing) -> Document {
    doc! {
        "_id": oid(b.id),
        "userId": b.user_id.as_str(),
        "billingId": b.billing_id.as_str(),
        "generationDate": date(b.generation_date),
        "dueDate": date(b.due_date),
        "serviceId": b.service_id.as_str(),
        "totalInvoice": number(b.total_invoice.value()),
        "isPaid": b.payment.is_paid(),
        "paymentDate": b.payment.date().map_or(Bson::Null, |t| date(t).into()),
        "phone": phone_doc(&b.phone),
        "createdAt": date(b.created_at),
        "updatedAt": date(b.updated_at),
        "__v": 0_i32,
    }
}

pub(crate) fn new_user_doc(u: &User) -> Document {
    let mut d = doc! { "_id": oid(u.id) };
    let mut address = Document::new();
    for (key, value) in user_fields(u) {
        let Some(value) = value else { continue };
        match key.split_once('.') {
            Some(("address", sub)) => {
                address.insert(sub, value);
            }
            Some(("phone", _)) => {}
            _ => {
                d.insert(key, value);
            }
        }
    }
    d.insert("address", address);
    d.insert("phone", phone_doc(&u.phone));
    d.insert("__v", 0_i32);
    d
}

/// An update that moves the stored fields from `old` to `new`: `$set` for changed values,
/// `$unset` for removed ones, nothing for the rest (so unknown fields survive). The filter
/// matches the old values of the changed fields, so a concurrent change is detected
/// (optimistic concurrency) rather than overwritten.
pub(crate) fn diff(
    old: Vec<(&'static str, Option<Bson>)>,
    new: Vec<(&'static str, Option<Bson>)>,
) -> Option<(Document, Document)> {
    let mut filter = Document::new();
    let mut set = Document::new();
    let mut unset = Document::new();
    for ((key, before), (_, after)) in old.into_iter().zip(new) {
        if before == after {
            continue;
        }
        // Null matches a missing field too, as an absent optional value should.
        filter.insert(key, before.unwrap_or(Bson::Null));
        match after {
            Some(v) => set.insert(key, v),
            None => unset.insert(key, ""),
        };
    }
    if set.is_empty() && unset.is_empty() {
        return None;
    }
    let mut update = Document::new();
    if !set.is_empty() {
        update.insert("$set", set);
    }
    if !unset.is_empty() {
        update.insert("$unset", unset);
    }
    Some((filter, update))
}

/// Writes the changes from `old` to `new` to document `id`, guarded by the old values when
/// `guarded` (see [`diff`]). Returns false when the guard did not match: the document changed
/// (or went) since it was read. Nothing to change is a success.
///
/// Unguarded is for a second attempt on a document that reads the same as before: then the
/// guard failed on how a value is stored (a date kept as a string, say), not on a change.
pub(crate) async fn write_changes(
    collection: &mongodb::Collection<Document>,
    id: DocumentId,
    old: Vec<(&'static str, Option<Bson>)>,
    new: Vec<(&'static str, Option<Bson>)>,
    guarded: bool,
) -> mongodb::error::Result<bool> {
    let Some((guard, update)) = diff(old, new) else {
        return Ok(true);
    };
    let mut filter = if guarded { guard } else { Document::new() };
    filter.insert("_id", oid(id));
    let result = collection.update_one(filter, update).await?;
    Ok(result.matched_count == 1)
}

/// A document kept by read, apply, guarded write.
pub(crate) trait Stored: PartialEq {
    fn document_id(&self) -> DocumentId;
    /// The fields we own, as [`diff`] compares them.
    fn fields(&self) -> Vec<(&'static str, Option<Bson>)>;
}

impl Stored for User {
    fn document_id(&self) -> DocumentId {
        self.id
    }

    fn fields(&self) -> Vec<(&'static str, Option<Bson>)> {
        user_fields(self)
    }
}

impl Stored for Billing {
    fn document_id(&self) -> DocumentId {
        self.id
    }

    fn fields(&self) -> Vec<(&'static str, Option<Bson>)> {
        billing_fields(self)
    }
}

/// How many times an update re-reads a document that keeps changing under it.
pub(crate) const MAX_ATTEMPTS: usize = 8;

/// Reads the document, applies `apply`, and writes what changed guarded by what was read
/// (optimistic concurrency); reads and applies again when something changed in between.
///
/// # Errors
/// `not_found` when there is no document; `apply`'s errors; storage failures; `Unknown` when
/// the document kept changing for [`MAX_ATTEMPTS`] attempts.
pub(crate) async fn update_guarded<T, E, F>(
    collection: &mongodb::Collection<Document>,
    read: impl Fn() -> F,
    apply: impl Fn(&T) -> Result<T, E>,
    not_found: impl Fn() -> E,
) -> Result<T, E>
where
    T: Stored,
    E: From<billing_domain::StorageError>,
    F: std::future::Future<Output = Result<Option<T>, billing_domain::StorageError>>,
{
    let mut previous: Option<T> = None;
    for _ in 0..MAX_ATTEMPTS {
        let current = read().await?.ok_or_else(&not_found)?;
        let next = apply(&current)?;
        // Unchanged since the last attempt: the guard failed on how a value is stored, not on
        // a change (see `write_changes`).
        let guarded = previous.as_ref() != Some(&current);
        let written = write_changes(
            collection,
            current.document_id(),
            current.fields(),
            next.fields(),
            guarded,
        )
        .await
        .map_err(|e| E::from(crate::errors::storage(e)))?;
        if written {
            return Ok(next);
        }
        previous = Some(current);
    }
    Err(E::from(billing_domain::StorageError::Unknown(anyhow!(
        "the document kept changing concurrently; gave up after {MAX_ATTEMPTS} attempts"
    ))))
}
