//! BSON documents to domain values and back, in the shapes the previous Node/Mongoose service
//! reads and writes.
//!
//! Reading keeps what is stored: a `Number` stored as int32, int64 or double; text where a
//! number was expected and the other way round; missing optional fields (null stays null);
//! payment fields in any combination; fields we do not know are left alone (updates `$set`
//! only what changed, so they survive). A document is unreadable only when it is not an item at
//! all (no `billingId`, no `userId`, no dates it must have). Writing produces what Mongoose
//! writes: the same names, dates as BSON dates, `Number`s as doubles, `__v: 0` on insert.

use anyhow::{Context, anyhow};
use billing_domain::{
    Address, Billing, BillingId, DocumentId, InvalidValue, Number, Payment, Phone, Scalar,
    Timestamp, User, UserId, timestamp_from_millis,
};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Bson, Document, doc};

pub(crate) fn oid(id: DocumentId) -> ObjectId {
    ObjectId::from_bytes(id.bytes())
}

pub(crate) fn date(t: Timestamp) -> bson::DateTime {
    bson::DateTime::from_millis(t.timestamp_millis())
}

/// Integers up to 2^53 are exact in a double.
const MAX_EXACT: i64 = 1 << 53;

/// A number as Mongoose stores a `Number`: a double, or an int64 for an integer a double
/// cannot hold exactly.
pub(crate) fn number(n: Number) -> Bson {
    match n {
        #[allow(clippy::cast_precision_loss)]
        Number::Int(i) if i.abs() <= MAX_EXACT => Bson::Double(i as f64),
        Number::Int(i) => Bson::Int64(i),
        Number::Float(f) => Bson::Double(f),
    }
}

pub(crate) fn scalar(v: &Scalar) -> Bson {
    match v {
        Scalar::Text(t) => Bson::String(t.as_str().to_owned()),
        Scalar::Number(n) => number(*n),
    }
}

/// A stored number, whatever BSON numeric type holds it.
pub(crate) fn as_number(v: &Bson) -> Option<Number> {
    match v {
        Bson::Int32(i) => Some(Number::Int(i64::from(*i))),
        Bson::Int64(i) => Some(Number::Int(*i)),
        Bson::Double(f) => Number::from_f64(*f),
        _ => None,
    }
}

/// A stored number as an unsigned integer (the counter).
pub(crate) fn as_u64(v: &Bson) -> Option<u64> {
    as_number(v)
        .and_then(Number::as_i64)
        .and_then(|i| u64::try_from(i).ok())
}

/// A stored value of a field kept as recorded. What cannot be one (a date, an object where
/// text is expected) is read as absent, with a warning.
fn recorded(d: &Document, key: &str) -> Option<Scalar> {
    let value = d.get(key)?;
    let read = match value {
        Bson::Null => return None,
        Bson::String(s) => Scalar::text(s).ok(),
        Bson::Boolean(b) => Scalar::text(if *b { "true" } else { "false" }).ok(),
        other => as_number(other).map(Scalar::Number),
    };
    if read.is_none() {
        tracing::warn!(field = key, value = %value, "ignoring a stored value that cannot be this field's");
    }
    read
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

/// An optional date; one that is not a date is read as absent, with a warning.
pub(crate) fn optional_date(d: &Document, key: &str) -> Option<Timestamp> {
    get_date(d, key)
        .inspect_err(|e| tracing::warn!(field = key, error = %e, "ignoring a stored date"))
        .ok()
        .flatten()
}

pub(crate) fn required_date(d: &Document, key: &str) -> anyhow::Result<Timestamp> {
    get_date(d, key)?.ok_or_else(|| anyhow!("`{key}` is missing"))
}

/// An identifying field: text, or a number's decimal text; unreadable means the document is
/// not an item at all.
fn required<T>(
    d: &Document,
    key: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> anyhow::Result<T> {
    let raw = match d.get(key) {
        Some(Bson::String(s)) => s.clone(),
        Some(n) if as_number(n).is_some() => {
            as_number(n).map(|n| n.to_string()).unwrap_or_default()
        }
        _ => return Err(anyhow!("`{key}` is missing or not a string")),
    };
    parse(&raw).with_context(|| format!("`{key}` = {raw:?}"))
}

fn document_id(d: &Document) -> anyhow::Result<DocumentId> {
    match d.get("_id") {
        Some(Bson::ObjectId(o)) => Ok(DocumentId::from_bytes(o.bytes())),
        Some(Bson::String(s)) => Ok(DocumentId::parse(s)?),
        _ => Err(anyhow!("`_id` is not an ObjectId")),
    }
}

fn phone(d: &Document) -> Phone {
    let Ok(p) = d.get_document("phone") else {
        return Phone::default();
    };
    Phone {
        code_number: recorded(p, "codeNumber"),
        phone_number: recorded(p, "phoneNumber"),
    }
}

pub(crate) fn phone_doc(p: &Phone) -> Document {
    let mut d = Document::new();
    if let Some(code) = &p.code_number {
        d.insert("codeNumber", scalar(code));
    }
    if let Some(n) = &p.phone_number {
        d.insert("phoneNumber", scalar(n));
    }
    d
}

pub(crate) fn user(d: &Document) -> anyhow::Result<User> {
    let id = document_id(d)?;
    let parse = || -> anyhow::Result<User> {
        let a = d.get_document("address").ok();
        let part = |key: &str| a.and_then(|a| recorded(a, key));
        Ok(User {
            id,
            user_id: required(d, "userId", UserId::parse)?,
            name: recorded(d, "name"),
            email: recorded(d, "email"),
            address: Address {
                city: part("city"),
                country: part("country"),
                zip_code: part("zipCode"),
                address: part("address"),
            },
            phone: phone(d),
            // Mongoose's default for a missing `isActive`.
            is_active: d.get_bool("isActive").unwrap_or(true),
            created_at: required_date(d, "createdAt")?,
            updated_at: required_date(d, "updatedAt")?,
            // Documents this service writes always have the field. One without it was written
            // by the previous service, which had applied every event up to its last write: a
            // replay of those events (a new consumer group taking over) is older than that.
            last_event_at: if d.contains_key("lastEventAt") {
                optional_date(d, "lastEventAt")
            } else {
                Some(required_date(d, "updatedAt")?)
            },
        })
    };
    parse().with_context(|| format!("unreadable user document {id}"))
}

/// The fields of a user that we own, as `$set`/insert values; `None` means absent.
pub(crate) fn user_fields(u: &User) -> Vec<(&'static str, Option<Bson>)> {
    let value = |v: &Option<Scalar>| v.as_ref().map(scalar);
    let a = &u.address;
    vec![
        ("userId", Some(u.user_id.as_str().into())),
        ("name", value(&u.name)),
        ("email", value(&u.email)),
        ("address.city", value(&a.city)),
        ("address.country", value(&a.country)),
        ("address.zipCode", value(&a.zip_code)),
        ("address.address", value(&a.address)),
        ("phone.codeNumber", value(&u.phone.code_number)),
        ("phone.phoneNumber", value(&u.phone.phone_number)),
        ("isActive", Some(u.is_active.into())),
        ("createdAt", Some(date(u.created_at).into())),
        ("updatedAt", Some(date(u.updated_at).into())),
        (
            "lastEventAt",
            Some(u.last_event_at.map_or(Bson::Null, |t| date(t).into())),
        ),
    ]
}

pub(crate) fn billing(d: &Document) -> anyhow::Result<Billing> {
    let id = document_id(d)?;
    let parse = || -> anyhow::Result<Billing> {
        let total_invoice = match d.get("totalInvoice") {
            None | Some(Bson::Null) => None,
            Some(Bson::String(s)) => {
                Some(Number::parse(s).with_context(|| format!("`totalInvoice` = {s:?}"))?)
            }
            Some(n) => {
                Some(as_number(n).ok_or_else(|| anyhow!("`totalInvoice` = {n} is not a number"))?)
            }
        };
        Ok(Billing {
            id,
            billing_id: required(d, "billingId", BillingId::parse)?,
            user_id: required(d, "userId", UserId::parse)?,
            generation_date: required_date(d, "generationDate")?,
            due_date: get_date(d, "dueDate")?,
            service_id: recorded(d, "serviceId"),
            total_invoice,
            // Mongoose's default for a missing `isPaid`; both fields as stored, however they
            // combine.
            payment: Payment {
                is_paid: d.get_bool("isPaid").unwrap_or(false),
                date: get_date(d, "paymentDate")?,
            },
            phone: phone(d),
            created_at: required_date(d, "createdAt")?,
            updated_at: required_date(d, "updatedAt")?,
        })
    };
    parse().with_context(|| format!("unreadable billing document {id}"))
}

/// The fields of a billing that an update may change.
pub(crate) fn billing_fields(b: &Billing) -> Vec<(&'static str, Option<Bson>)> {
    vec![
        ("dueDate", b.due_date.map(|t| date(t).into())),
        ("serviceId", b.service_id.as_ref().map(scalar)),
        ("totalInvoice", b.total_invoice.map(number)),
        ("isPaid", Some(b.payment.is_paid.into())),
        (
            "paymentDate",
            Some(b.payment.date.map_or(Bson::Null, |t| date(t).into())),
        ),
        ("updatedAt", Some(date(b.updated_at).into())),
    ]
}

pub(crate) fn new_billing_doc(b: &Billing) -> Document {
    let mut d = doc! {
        "_id": oid(b.id),
        "userId": b.user_id.as_str(),
        "billingId": b.billing_id.as_str(),
        "generationDate": date(b.generation_date),
    };
    if let Some(due) = b.due_date {
        d.insert("dueDate", date(due));
    }
    if let Some(service) = &b.service_id {
        d.insert("serviceId", scalar(service));
    }
    if let Some(total) = b.total_invoice {
        d.insert("totalInvoice", number(total));
    }
    d.insert("isPaid", b.payment.is_paid);
    d.insert(
        "paymentDate",
        b.payment.date.map_or(Bson::Null, |t| date(t).into()),
    );
    d.insert("phone", phone_doc(&b.phone));
    d.insert("createdAt", date(b.created_at));
    d.insert("updatedAt", date(b.updated_at));
    d.insert("__v", 0_i32);
    d
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
    let Some((guard, update)) = diff(old, new.clone()) else {
        return Ok(true);
    };
    let mut filter = if guarded { guard } else { Document::new() };
    filter.insert("_id", oid(id));
    let result = match collection.update_one(filter.clone(), update.clone()).await {
        Err(e) if crate::errors::code(&e) == Some(PATH_NOT_VIABLE) => {
            // `address` or `phone` is stored as something other than an object (null, say):
            // `$set` of `address.city` cannot go inside it, so the parent is written whole.
            collection
                .update_one(filter, whole_parents(&update, &new))
                .await?
        }
        other => other?,
    };
    Ok(result.matched_count == 1)
}

/// `Cannot create field 'city' in element {address: null}`.
pub(crate) const PATH_NOT_VIABLE: i32 = 28;

/// `update` with every dotted path replaced by its parent, written whole from `new`.
fn whole_parents(update: &Document, new: &[(&'static str, Option<Bson>)]) -> Document {
    let mut set = Document::new();
    let mut unset = Document::new();
    for op in ["$set", "$unset"] {
        let Ok(fields) = update.get_document(op) else {
            continue;
        };
        for (key, value) in fields {
            match key.split_once('.') {
                Some((parent, _)) => {
                    let mut whole = Document::new();
                    for (path, v) in new {
                        if let (Some((p, child)), Some(v)) = (path.split_once('.'), v)
                            && p == parent
                        {
                            whole.insert(child, v.clone());
                        }
                    }
                    set.insert(parent, whole);
                }
                None if op == "$set" => {
                    set.insert(key, value.clone());
                }
                None => {
                    unset.insert(key, "");
                }
            }
        }
    }
    let mut whole = Document::new();
    if !set.is_empty() {
        whole.insert("$set", set);
    }
    if !unset.is_empty() {
        whole.insert("$unset", unset);
    }
    whole
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_other_writers_add_do_not_change_the_billing_read() {
        let t = billing_domain::parse_timestamp("2025-10-01T10:00:00.123Z").expect("a date");
        let billing = Billing {
            id: DocumentId::parse("65a1b2c3d4e5f60718293a4b").expect("an id"),
            billing_id: BillingId::from_sequence(3),
            user_id: UserId::parse("u1").expect("a userId"),
            generation_date: t,
            due_date: Some(t),
            service_id: None,
            total_invoice: Some(Number::Int(1000)),
            payment: Payment::UNPAID,
            phone: Phone::default(),
            created_at: t,
            updated_at: t,
        };
        let mut d = new_billing_doc(&billing);
        assert_eq!(super::billing(&d).expect("readable"), billing);
        // The overdue sweep's mark, Mongoose's version key, the creating event.
        d.insert("overdueFor", date(t));
        d.insert("__v", 3_i32);
        d.insert("sourceEventId", "evt-1");
        assert_eq!(super::billing(&d).expect("readable"), billing);
    }
}
