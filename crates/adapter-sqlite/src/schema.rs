use std::path::Path;

use anyhow::Context;
use rusqlite::Connection;

/// Times are stored as milliseconds since the epoch, booleans as 0/1, ids as text.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL UNIQUE,
    name         TEXT,
    email        TEXT,
    city         TEXT,
    country      TEXT,
    zip_code     TEXT,
    address      TEXT,
    code_number  TEXT NOT NULL,
    phone_number INTEGER,
    is_active    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS billings (
    id              TEXT PRIMARY KEY,
    billing_id      TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL,
    generation_date INTEGER NOT NULL,
    due_date        INTEGER NOT NULL,
    service_id      TEXT NOT NULL,
    total_invoice   INTEGER NOT NULL,
    payment_date    INTEGER,
    code_number     TEXT NOT NULL,
    phone_number    INTEGER,
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

pub(crate) fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open SQLite database {}", path.display()))?;
    configure(&conn)?;
    Ok(conn)
}

pub(crate) fn migrate(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch(SCHEMA)
        .context("cannot apply the SQLite schema")
}
