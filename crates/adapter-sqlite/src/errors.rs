//! SQLite's errors to the domain's, by their (extended) result codes: a unique violation is the
//! operation's `Duplicate`; a store that is busy, locked, full or failing its I/O is
//! `Unavailable` (503: worth retrying); anything else is `Unknown` (500).

use billing_domain::StorageError;
use rusqlite::ErrorCode;
use rusqlite::ffi;

/// Whether `e` is a `UNIQUE` constraint failing: the one "already exists" a caller can cause.
/// A primary key (`_id`) or `NOT NULL` failure is this service's own fault, not a duplicate.
pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Whether `e` says "not now" rather than "never".
fn is_unavailable(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(f, _) => matches!(
            f.code,
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::DiskFull
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::OutOfMemory
                | ErrorCode::ReadOnly
                | ErrorCode::FileLockingProtocolFailed
        ),
        _ => false,
    }
}

/// Any SQLite error that reaches a caller as a storage failure.
pub(crate) fn storage(e: rusqlite::Error) -> StorageError {
    let unavailable = is_unavailable(&e);
    let e = anyhow::Error::new(e).context("sqlite");
    if unavailable {
        StorageError::Unavailable(e)
    } else {
        StorageError::Unknown(e)
    }
}

/// For operation errors, which all convert from [`StorageError`].
pub(crate) fn op<E: From<StorageError>>(e: rusqlite::Error) -> E {
    storage(e).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)
    }

    #[test]
    fn only_a_unique_violation_is_a_duplicate() {
        assert!(is_unique_violation(&failure(ffi::SQLITE_CONSTRAINT_UNIQUE)));
        assert!(!is_unique_violation(&failure(
            ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )));
        assert!(!is_unique_violation(&failure(
            ffi::SQLITE_CONSTRAINT_NOTNULL
        )));
    }

    #[test]
    fn busy_locked_full_and_io_errors_are_unavailable_and_the_rest_unknown() {
        for code in [
            ffi::SQLITE_BUSY,
            ffi::SQLITE_LOCKED,
            ffi::SQLITE_FULL,
            ffi::SQLITE_IOERR_WRITE,
            ffi::SQLITE_CANTOPEN,
        ] {
            assert!(storage(failure(code)).is_unavailable(), "{code}");
        }
        for code in [
            ffi::SQLITE_CORRUPT,
            ffi::SQLITE_CONSTRAINT_NOTNULL,
            ffi::SQLITE_MISMATCH,
        ] {
            assert!(!storage(failure(code)).is_unavailable(), "{code}");
        }
    }
}
