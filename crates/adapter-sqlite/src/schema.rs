use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;

/// The schema version this code reads and writes (`PRAGMA user_version`).
const VERSION: i64 = 3;

/// Times are stored as milliseconds since the epoch, booleans as 0/1, ids as text. Values kept
/// as recorded (text or a number) are `ANY` columns: SQLite keeps each value's own type there,
/// so a number stays a number and text stays text.
const TABLES: &str = "
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL UNIQUE,
    name          ANY,
    email         ANY,
    city          ANY,
    country       ANY,
    zip_code      ANY,
    address       ANY,
    code_number   ANY,
    phone_number  ANY,
    is_active     INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_event_at INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS billings (
    id              TEXT PRIMARY KEY,
    billing_id      TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    generation_date INTEGER NOT NULL,
    due_date        INTEGER,
    service_id      ANY,
    total_invoice   ANY,
    is_paid         INTEGER NOT NULL,
    payment_date    INTEGER,
    code_number     ANY,
    phone_number    ANY,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS billings_by_generation ON billings (generation_date DESC, id DESC);
CREATE INDEX IF NOT EXISTS billings_by_user ON billings (user_id, generation_date DESC, id DESC);
CREATE INDEX IF NOT EXISTS billings_by_due ON billings (due_date);
CREATE TABLE IF NOT EXISTS counters (
    id  TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) STRICT;
INSERT OR IGNORE INTO counters (id, seq) VALUES ('billingId', 0);
CREATE TABLE IF NOT EXISTS processed_events (
    id           TEXT PRIMARY KEY,
    processed_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS deleted_users (
    user_id    TEXT PRIMARY KEY,
    deleted_at INTEGER NOT NULL
) STRICT;
";

/// Version 3 adds the billing events (the outbox and each billing's history), the leases, and
/// the due date each billing has had its `Billing.Overdue` for.
const FROM_VERSION_2: &str = "
ALTER TABLE billings ADD COLUMN overdue_for INTEGER;
CREATE INDEX billings_overdue_pending ON billings (due_date, id)
    WHERE is_paid = 0 AND overdue_for IS NOT due_date;
CREATE TABLE billing_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    at              INTEGER NOT NULL,
    published_at    INTEGER,
    id              TEXT NOT NULL,
    billing_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    generation_date INTEGER NOT NULL,
    due_date        INTEGER,
    service_id      ANY,
    total_invoice   ANY,
    is_paid         INTEGER NOT NULL,
    payment_date    INTEGER,
    code_number     ANY,
    phone_number    ANY,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX billing_events_unpublished ON billing_events (seq) WHERE published_at IS NULL;
CREATE INDEX billing_events_by_billing ON billing_events (billing_id, seq);
CREATE INDEX billing_events_by_time ON billing_events (at);
CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
";

/// Version 1 (unversioned) kept text fields as TEXT, required every billing field, and had
/// `payment_date` alone for both `isPaid` and its date. Its tables are copied into version 2's:
/// every value reads back as before.
const FROM_VERSION_1: &str = "
ALTER TABLE users RENAME TO users_v1;
ALTER TABLE billings RENAME TO billings_v1;
DROP INDEX IF EXISTS billings_by_generation;
DROP INDEX IF EXISTS billings_by_user;
DROP INDEX IF EXISTS billings_by_due;
";

const COPY_VERSION_1: &str = "
INSERT INTO users (id, user_id, name, email, city, country, zip_code, address, code_number,
                   phone_number, is_active, created_at, updated_at, last_event_at)
    SELECT id, user_id, name, email, city, country, zip_code, address, code_number,
           phone_number, is_active, created_at, updated_at, NULL FROM users_v1;
INSERT INTO billings (id, billing_id, user_id, generation_date, due_date, service_id,
                      total_invoice, is_paid, payment_date, code_number, phone_number,
                      created_at, updated_at)
    SELECT id, billing_id, user_id, generation_date, due_date, service_id, total_invoice,
           payment_date IS NOT NULL, payment_date, code_number, phone_number, created_at,
           updated_at FROM billings_v1;
DROP TABLE users_v1;
DROP TABLE billings_v1;
";

fn configure(conn: &Connection) -> anyhow::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // FULL: in WAL mode every commit syncs the log before it returns, so an acknowledged
    // write survives a power cut, not only a process crash.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    Ok(())
}

pub(crate) fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    anyhow::ensure!(
        mode.eq_ignore_ascii_case("wal"),
        "cannot switch {} to WAL",
        path.display()
    );
    configure(&conn)?;
    Ok(conn)
}

/// A read-only connection; `wait`: whether it waits (up to 5 s) for a busy database, or answers
/// `SQLITE_BUSY` at once.
pub(crate) fn open_reader(path: &Path, wait: bool) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Zero clears the busy handler (rusqlite installs a 5 s one on open).
    conn.busy_timeout(if wait {
        std::time::Duration::from_secs(5)
    } else {
        std::time::Duration::ZERO
    })?;
    Ok(conn)
}

/// Brings the database to [`VERSION`], in one transaction: a crash midway leaves the old
/// version whole.
pub(crate) fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    anyhow::ensure!(
        version <= VERSION,
        "the SQLite database has schema version {version}, newer than this service's {VERSION}"
    );
    if version == VERSION {
        return Ok(());
    }
    let tx = conn.transaction()?;
    let has_tables: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'billings')",
        [],
        |r| r.get(0),
    )?;
    // An unversioned database with tables is version 1.
    let from = if version == 0 && has_tables {
        1
    } else {
        version
    };
    if from < 2 {
        if from == 1 {
            tx.execute_batch(FROM_VERSION_1)
                .context("cannot set aside the version 1 tables")?;
        }
        tx.execute_batch(TABLES)
            .context("cannot apply the SQLite schema")?;
        if from == 1 {
            tx.execute_batch(COPY_VERSION_1)
                .context("cannot copy the version 1 data")?;
        }
    }
    tx.execute_batch(FROM_VERSION_2)
        .context("cannot add the version 3 tables")?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit().context("cannot commit the schema")?;
    if from > 0 {
        tracing::info!("SQLite database upgraded from schema version {from} to {VERSION}");
    }
    Ok(())
}
