//! The embedded store: SQLite (bundled) in WAL mode, durable on every acknowledged write.
//!
//! All writes go through one writer thread that commits them in groups: whatever requests
//! arrive while a transaction is syncing share the next transaction and its one `fsync`, so
//! durability does not cap throughput at the disk's sync rate. Each request runs inside its own
//! savepoint, so a request that fails is rolled back alone and never touches its neighbours.
//! Reads use a small pool of read-only connections, which WAL lets run beside the writer.

mod billings;
mod errors;
mod events;
mod outbox;
mod readers;
mod rows;
mod schema;
mod users;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use billing_domain::StorageError;

use crate::readers::Readers;
use crate::writer::Writer;

/// The SQLite implementation of the billing ports. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writer: Writer,
    readers: Readers,
}

impl SqliteStore {
    /// Opens (creating it and its directory when missing) the database at `path` and brings its
    /// schema up to date.
    ///
    /// # Errors
    /// When the file cannot be created or opened, or the schema cannot be applied.
    pub fn open(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        let mut conn = schema::open_writer(&path)?;
        schema::migrate(&mut conn)?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Writer::start(conn)?,
                readers: Readers::new(path.clone()),
                path,
            }),
        })
    }

    /// Whether the database answers a query now.
    pub async fn ping(&self) -> bool {
        self.read(|conn| conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
            .await
            .is_ok()
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `op` on a read-only connection, off the async runtime's threads.
    async fn read<T, F>(&self, op: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || inner.readers.with(op))
            .await
            .map_err(|e| StorageError::Unknown(anyhow::anyhow!("read task failed: {e}")))?
    }

    /// Runs a lookup by key, `op`, on the calling thread: a few microseconds of SQLite on pages
    /// in memory, where handing it to the blocking pool and waking the caller again costs
    /// several times that. It never sleeps on a busy database: then it runs as [`Self::read`].
    async fn lookup<K, T>(
        &self,
        key: &K,
        op: fn(&rusqlite::Connection, &K) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError>
    where
        K: Clone + Send + Sync + 'static,
        T: Send + 'static,
    {
        match self.inner.readers.without_waiting(|conn| op(conn, key)) {
            Ok(result) => result,
            Err(readers::Busy) => {
                let key = key.clone();
                self.read(move |conn| op(conn, &key)).await
            }
        }
    }

    fn writer(&self) -> &Writer {
        &self.inner.writer
    }
}
