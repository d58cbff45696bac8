//! The billing events: written by the writes of `billings.rs`, `users.rs` and `events.rs` in
//! their own transaction (the outbox), read back as history and by the relay.
//!
//! `seq` is an `AUTOINCREMENT` rowid: one writer commits every event, so the sequence is the
//! commit order, and a pruned number is never given again. Each event keeps the billing as a
//! copy of its columns (the same names as in `billings`), so the same reader reads both.

use billing_domain::{
    Billing, BillingEvent, BillingEventId, BillingEventRepository, BillingEventType, BillingId,
    EventSeq, Limit, Listing, PageRequest, StorageError, Timestamp,
};
use rusqlite::types::Type;
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::SqliteStore;
use crate::errors::storage;
use crate::rows::{self, billing_columns, int, time};

const EVENT_COLUMNS: &str = concat!(
    billing_columns!(),
    ", seq, event_id, kind, at, published_at"
);

/// Records `kind` for `billing`, dated `at`, in the caller's transaction.
pub(crate) fn record(
    conn: &Connection,
    kind: BillingEventType,
    billing: &Billing,
    at: Timestamp,
) -> rusqlite::Result<()> {
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let mut values = rows::billing_values(billing);
    values.extend([
        id.into(),
        kind.as_str().to_owned().into(),
        at.timestamp_millis().into(),
    ]);
    conn.prepare_cached(concat!(
        "INSERT INTO billing_events (",
        billing_columns!(),
        ", event_id, kind, at) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)"
    ))?
    .execute(params_from_iter(values))?;
    Ok(())
}

fn event(row: &Row<'_>) -> rusqlite::Result<BillingEvent> {
    let seq: i64 = row.get(13)?;
    let kind: String = row.get(15)?;
    let invalid = |col, e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e));
    Ok(BillingEvent {
        billing: rows::billing(row)?,
        seq: EventSeq(u64::try_from(seq).unwrap_or(0)),
        id: BillingEventId::parse(&row.get::<_, String>(14)?).map_err(|e| invalid(14, e))?,
        kind: BillingEventType::parse(&kind).map_err(|e| invalid(15, e))?,
        at: time(row, 16)?,
        published_at: row
            .get::<_, Option<i64>>(17)?
            .map(|_| time(row, 17))
            .transpose()?,
    })
}

fn history(
    conn: &Connection,
    id: &BillingId,
    page: &PageRequest<EventSeq>,
) -> rusqlite::Result<Listing<BillingEvent, EventSeq>> {
    let after = page.position.cursor().map_or(0, |c| int(c.0));
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM billing_events WHERE billing_id = ?1 AND seq > ?2 \
             ORDER BY seq LIMIT ?3 OFFSET ?4"
        ))?
        .query_map(
            params![
                id.as_str(),
                after,
                page.limit.fetch(),
                int(page.position.offset(page.limit))
            ],
            event,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let total = if page.position.counts_total() {
        let n: i64 = conn
            .prepare_cached("SELECT COUNT(*) FROM billing_events WHERE billing_id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))?;
        Some(u64::try_from(n).unwrap_or(0))
    } else {
        None
    };
    Ok(Listing::from_rows(
        rows,
        page.limit,
        total,
        |e| Some(e.seq),
        Some,
    ))
}

fn unpublished(conn: &Connection, limit: Limit) -> rusqlite::Result<Vec<BillingEvent>> {
    conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM billing_events WHERE published_at IS NULL \
         ORDER BY seq LIMIT ?1"
    ))?
    .query_map([limit.get()], event)?
    .collect()
}

fn mark(conn: &Connection, seqs: &[EventSeq], at: Timestamp) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE billing_events SET published_at = ?2 WHERE seq = ?1 AND published_at IS NULL",
    )?;
    for seq in seqs {
        stmt.execute(params![int(seq.0), at.timestamp_millis()])?;
    }
    Ok(())
}

/// The unpaid billings past due without an event for their due date, marked and recorded.
/// The writer runs it alone, so two sweeps cannot both take a billing.
fn overdue(conn: &Connection, now: Timestamp, limit: Limit) -> rusqlite::Result<u64> {
    // The same terms as the partial index `billings_overdue_pending`, so that it serves.
    let due: Vec<Billing> = conn
        .prepare_cached(concat!(
            "SELECT ",
            billing_columns!(),
            " FROM billings WHERE is_paid = 0 AND overdue_for IS NOT due_date AND due_date < ?1 \
             ORDER BY due_date, id LIMIT ?2"
        ))?
        .query_map(params![now.timestamp_millis(), limit.get()], rows::billing)?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt =
        conn.prepare_cached("UPDATE billings SET overdue_for = due_date WHERE id = ?1")?;
    for billing in &due {
        stmt.execute([billing.id.to_string()])?;
        record(conn, BillingEventType::Overdue, billing, now)?;
    }
    Ok(due.len() as u64)
}

fn prune(conn: &Connection, before: Timestamp, unpublished_too: bool) -> rusqlite::Result<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM billing_events WHERE at < ?1 AND (?2 OR published_at IS NOT NULL)",
        )?
        .execute(params![before.timestamp_millis(), unpublished_too])?;
    Ok(n as u64)
}

fn lease(
    conn: &Connection,
    name: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= ?4",
        )?
        .execute(params![
            name,
            holder,
            until.timestamp_millis(),
            now.timestamp_millis()
        ])?;
    Ok(changed == 1)
}

impl BillingEventRepository for SqliteStore {
    async fn billing_events(
        &self,
        id: &BillingId,
        page: &PageRequest<EventSeq>,
    ) -> Result<Listing<BillingEvent, EventSeq>, StorageError> {
        let (id, page) = (id.clone(), page.clone());
        self.read(move |conn| history(conn, &id, &page)).await
    }

    async fn unpublished_events(&self, limit: Limit) -> Result<Vec<BillingEvent>, StorageError> {
        self.read(move |conn| unpublished(conn, limit)).await
    }

    async fn mark_published(&self, seqs: &[EventSeq], at: Timestamp) -> Result<(), StorageError> {
        let seqs = seqs.to_vec();
        self.writer()
            .write(move |conn| mark(conn, &seqs, at).map_err(storage))
            .await
    }

    async fn record_overdue(&self, now: Timestamp, limit: Limit) -> Result<u64, StorageError> {
        self.writer()
            .write(move |conn| overdue(conn, now, limit).map_err(storage))
            .await
    }

    async fn prune_events(
        &self,
        before: Timestamp,
        unpublished_too: bool,
    ) -> Result<u64, StorageError> {
        self.writer()
            .write(move |conn| prune(conn, before, unpublished_too).map_err(storage))
            .await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StorageError> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.writer()
            .write(move |conn| lease(conn, &name, &holder, now, until).map_err(storage))
            .await
    }
}
