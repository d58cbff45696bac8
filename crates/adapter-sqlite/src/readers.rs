use std::path::PathBuf;
use std::sync::Mutex;

use billing_domain::StorageError;
use rusqlite::{Connection, ErrorCode};

use crate::errors::storage;
use crate::schema;

/// Read-only connections, opened on demand and kept for reuse: those that wait out a busy
/// database (for the blocking pool) and those that never wait (for lookups run in place).
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    quick: Mutex<Vec<Connection>>,
}

/// More idle connections than this (per kind) are closed rather than kept.
const MAX_IDLE: usize = 16;

/// Why a lookup run in place gave up: the database was busy, and waiting is the blocking pool's.
#[derive(Debug)]
pub(crate) struct Busy;

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            quick: Mutex::new(Vec::new()),
        }
    }

    fn pooled<T>(
        &self,
        pool: &Mutex<Vec<Connection>>,
        wait: bool,
        op: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<Result<T, rusqlite::Error>, StorageError> {
        let pooled = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => schema::open_reader(&self.path, wait).map_err(storage)?,
        };
        let result = op(&conn);
        let mut idle = pool.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        Ok(result)
    }

    pub(crate) fn with<T>(
        &self,
        op: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<T, StorageError> {
        self.pooled(&self.idle, true, op)?.map_err(storage)
    }

    /// [`Readers::with`] on a connection that answers `SQLITE_BUSY` at once instead of
    /// sleeping in its busy handler: the caller's thread must not block on another connection.
    pub(crate) fn without_waiting<T>(
        &self,
        op: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Result<Result<T, StorageError>, Busy> {
        match self.pooled(&self.quick, false, op) {
            Ok(Err(rusqlite::Error::SqliteFailure(f, _)))
                if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
            {
                Err(Busy)
            }
            Ok(result) => Ok(result.map_err(storage)),
            Err(e) => Ok(Err(e)),
        }
    }
}
