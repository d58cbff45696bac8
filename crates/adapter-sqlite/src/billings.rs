use billing_domain::{
    Billing, BillingCursor, BillingDraft, BillingEventType, BillingId, BillingPatch, BillingQuery,
    BillingRepository, CreateBillingError, DeleteBillingError, DocumentId, Limit, Listing,
    StorageError, Timestamp, UpdateBillingError, User, UserKey,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::SqliteStore;
use crate::errors::{is_unique_violation, op};
use crate::rows::{self, BILLING_COLUMNS, billing_columns, int};
use crate::{outbox, users};

pub(crate) fn find(conn: &Connection, id: &BillingId) -> rusqlite::Result<Option<Billing>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        billing_columns!(),
        " FROM billings WHERE billing_id = ?1"
    ))?
    .query_row([id.as_str()], rows::billing)
    .optional()
}

fn write(conn: &Connection, b: &Billing, insert: bool) -> rusqlite::Result<usize> {
    let sql = if insert {
        concat!(
            "INSERT INTO billings (",
            billing_columns!(),
            ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)"
        )
    } else {
        "UPDATE billings SET billing_id=?2, user_id=?3, generation_date=?4, due_date=?5, \
         service_id=?6, total_invoice=?7, is_paid=?8, payment_date=?9, code_number=?10, \
         phone_number=?11, created_at=?12, updated_at=?13 WHERE id=?1"
    };
    conn.prepare_cached(sql)?
        .execute(params_from_iter(rows::billing_values(b)))
}

/// The WHERE clause of a query, built from the filters present only, so that SQLite can pick
/// the index that fits.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Where {
    /// Adds `clause`, whose `?`s take `values` in order.
    fn bind<const N: usize>(&mut self, clause: &str, values: [Value; N]) {
        let mut numbered = String::with_capacity(clause.len() + 8);
        for (i, part) in clause.split('?').enumerate() {
            if i > 0 {
                numbered.push_str(&format!("?{}", self.values.len() + i));
            }
            numbered.push_str(part);
        }
        self.values.extend(values);
        self.clauses.push(numbered);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1".to_owned()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

fn filters(q: &BillingQuery) -> Where {
    let mut w = Where::default();
    if let Some(u) = &q.user_id {
        w.bind("user_id = ?", [Value::Text(u.as_str().to_owned())]);
    }
    match q.is_paid {
        Some(true) => w.clauses.push("is_paid = 1".into()),
        Some(false) => w.clauses.push("is_paid = 0".into()),
        None => {}
    }
    let now = Value::Integer(q.now.timestamp_millis());
    // A billing without a due date is never overdue (`due_date < ?` is NULL for it).
    match q.overdue {
        Some(true) => w.bind("(is_paid = 0 AND due_date < ?)", [now]),
        Some(false) => w.bind("NOT (is_paid = 0 AND IFNULL(due_date < ?, 0))", [now]),
        None => {}
    }
    if let Some(t) = q.due_before {
        w.bind("due_date < ?", [Value::Integer(t.timestamp_millis())]);
    }
    if let Some(t) = q.due_after {
        w.bind("due_date >= ?", [Value::Integer(t.timestamp_millis())]);
    }
    w
}

fn list(conn: &Connection, q: &BillingQuery) -> rusqlite::Result<Listing<Billing, BillingCursor>> {
    let mut w = filters(q);
    let filter = w.sql();
    let total = if q.page.position.counts_total() {
        Some(
            conn.prepare_cached(&format!("SELECT COUNT(*) FROM billings WHERE {filter}"))?
                .query_row(params_from_iter(w.values.iter()), |r| r.get::<_, i64>(0))?,
        )
    } else {
        None
    };
    if let Some(c) = q.page.position.cursor() {
        // Row values compare lexicographically, exactly the list order, and use the index.
        w.bind(
            "(generation_date, id) < (?, ?)",
            [
                Value::Integer(c.generation_date.timestamp_millis()),
                Value::Text(c.id.to_string()),
            ],
        );
    }
    let n = w.values.len();
    let sql = format!(
        "SELECT {BILLING_COLUMNS} FROM billings WHERE {} \
         ORDER BY generation_date DESC, id DESC LIMIT ?{} OFFSET ?{}",
        w.sql(),
        n + 1,
        n + 2
    );
    let values = w.values.into_iter().chain([
        Value::Integer(i64::from(q.page.limit.fetch())),
        Value::Integer(int(q.page.position.offset(q.page.limit))),
    ]);
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(values), rows::billing)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Listing::from_rows(
        rows,
        q.page.limit,
        total.map(|t| u64::try_from(t).unwrap_or(0)),
        |b| Some(BillingCursor::of(b)),
        Some,
    ))
}

fn scan(
    conn: &Connection,
    after: Option<DocumentId>,
    limit: Limit,
) -> rusqlite::Result<Listing<Billing, DocumentId>> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {BILLING_COLUMNS} FROM billings WHERE ?1 IS NULL OR id > ?1 ORDER BY id LIMIT ?2"
        ))?
        .query_map(
            params![after.map(|a| a.to_string()), limit.fetch()],
            rows::billing,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Listing::from_rows(rows, limit, None, |b| Some(b.id), Some))
}

/// Deletes the billings whose `column` (`billing_id`, `user_id`) is `value`, and records a
/// `Billing.Deleted` for each, with the billing as it was; returns them.
pub(crate) fn delete_returning(
    conn: &Connection,
    column: &'static str,
    value: &str,
    at: Timestamp,
) -> rusqlite::Result<Vec<Billing>> {
    let gone = conn
        .prepare_cached(&format!(
            "DELETE FROM billings WHERE {column} = ?1 RETURNING {BILLING_COLUMNS}"
        ))?
        .query_map([value], rows::billing)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for billing in &gone {
        outbox::record(conn, BillingEventType::Deleted, billing, at)?;
    }
    Ok(gone)
}

pub(crate) fn create(
    conn: &Connection,
    draft: BillingDraft,
) -> Result<Billing, CreateBillingError> {
    // The check and the insert share the writer's transaction, so no suspension or deletion
    // can slip in between them.
    let user = users::find(conn, &UserKey::from(draft.user_id.clone()))
        .map_err(op::<CreateBillingError>)?
        .ok_or_else(|| CreateBillingError::UserNotFound(draft.user_id.clone()))?;
    create_for(conn, draft, &user)
}

/// [`create`] for `user`, the draft's user as this transaction has just written it: an event
/// that creates a user and its first billing need not read the user back.
pub(crate) fn create_for(
    conn: &Connection,
    draft: BillingDraft,
    user: &User,
) -> Result<Billing, CreateBillingError> {
    if draft.user_id != user.user_id {
        return create(conn, draft);
    }
    if !user.is_active {
        return Err(CreateBillingError::UserInactive(user.user_id.clone()));
    }
    let seq: i64 = conn
        .prepare_cached("UPDATE counters SET seq = seq + 1 WHERE id = 'billingId' RETURNING seq")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(op::<CreateBillingError>)?;
    let seq = u64::try_from(seq).ok().filter(|s| *s > 0).ok_or_else(|| {
        StorageError::Unknown(anyhow::anyhow!(
            "the billingId counter gave {seq}: counters.seq must be a non-negative number"
        ))
    })?;
    let billing = draft.into_billing(BillingId::from_sequence(seq), user.phone.clone());
    match write(conn, &billing, true) {
        Ok(_) => {
            outbox::record(
                conn,
                BillingEventType::Created,
                &billing,
                billing.created_at,
            )
            .map_err(op::<CreateBillingError>)?;
            Ok(billing)
        }
        Err(e) if is_unique_violation(&e) => Err(CreateBillingError::Duplicate(billing.billing_id)),
        Err(e) => Err(op(e)),
    }
}

impl BillingRepository for SqliteStore {
    async fn create_billing(&self, draft: BillingDraft) -> Result<Billing, CreateBillingError> {
        self.writer().write(move |conn| create(conn, draft)).await
    }

    async fn find_billing(&self, id: &BillingId) -> Result<Option<Billing>, StorageError> {
        self.lookup(id, find).await
    }

    async fn list_billings(
        &self,
        query: &BillingQuery,
    ) -> Result<Listing<Billing, BillingCursor>, StorageError> {
        let query = query.clone();
        self.read(move |conn| list(conn, &query)).await
    }

    async fn scan_billings(
        &self,
        after: Option<DocumentId>,
        limit: Limit,
    ) -> Result<Listing<Billing, DocumentId>, StorageError> {
        self.read(move |conn| scan(conn, after, limit)).await
    }

    async fn update_billing(
        &self,
        id: &BillingId,
        patch: BillingPatch,
        now: Timestamp,
    ) -> Result<Billing, UpdateBillingError> {
        let id = id.clone();
        self.writer()
            .write(move |conn| {
                let billing = find(conn, &id)
                    .map_err(op::<UpdateBillingError>)?
                    .ok_or(UpdateBillingError::NotFound)?;
                let next = patch.apply(&billing, now)?;
                if next != billing {
                    write(conn, &next, false).map_err(op::<UpdateBillingError>)?;
                    for kind in BillingEventType::of_update(&billing, &next) {
                        outbox::record(conn, kind, &next, now).map_err(op::<UpdateBillingError>)?;
                    }
                }
                Ok(next)
            })
            .await
    }

    async fn delete_billing(
        &self,
        id: &BillingId,
        at: Timestamp,
    ) -> Result<(), DeleteBillingError> {
        let id = id.clone();
        self.writer()
            .write(move |conn| {
                let gone = delete_returning(conn, "billing_id", id.as_str(), at)
                    .map_err(op::<DeleteBillingError>)?;
                if gone.is_empty() {
                    return Err(DeleteBillingError::NotFound);
                }
                Ok(())
            })
            .await
    }
}
