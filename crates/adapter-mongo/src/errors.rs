//! Driver errors to domain errors: "cannot reach the server" is `Unavailable` (503, retry),
//! a duplicate key (E11000) is the operation's `Duplicate`, anything else is `Unknown`.

use billing_domain::StorageError;
use mongodb::error::{Error, ErrorKind, WriteFailure};

/// Server error codes that mean "not now", not "never": elections, shutdowns, network trouble.
const TRANSIENT_CODES: &[i32] = &[
    6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
];

/// Whether `e` says the server could not be reached (or not in time), as opposed to refusing
/// the operation.
pub fn is_unavailable(e: &Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => true,
        ErrorKind::Command(c) => TRANSIENT_CODES.contains(&c.code),
        _ => {
            e.contains_label("RetryableWriteError") || e.contains_label("TransientTransactionError")
        }
    }
}

/// The server's error code, when it gave one.
pub(crate) fn code(e: &Error) -> Option<i32> {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => Some(w.code),
        ErrorKind::Command(c) => Some(c.code),
        _ => None,
    }
}

pub(crate) fn is_duplicate_key(e: &Error) -> bool {
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

pub(crate) fn storage(e: Error) -> StorageError {
    if is_unavailable(&e) {
        StorageError::Unavailable(anyhow::Error::new(e).context("mongodb"))
    } else {
        StorageError::Unknown(anyhow::Error::new(e).context("mongodb"))
    }
}

/// For operation error enums, which all convert from [`StorageError`].
pub(crate) fn op<E: From<StorageError>>(e: Error) -> E {
    storage(e).into()
}

/// A document we cannot read is a storage problem, not the client's.
pub(crate) fn unreadable<E: From<StorageError>>(e: anyhow::Error) -> E {
    StorageError::Unknown(e).into()
}
