//! Multi-document transactions, retried while they conflict with concurrent ones.
//!
//! Conflicts are expected, not exceptional: the creations of one user's billings serialise on
//! the user document on purpose (see `billings.rs`), so a transaction that conflicts is run
//! again on what is there now, after a short pause, until it commits or the body refuses.

use std::time::Duration;

use mongodb::error::{Error, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::{Client, ClientSession};

/// How many conflicts a transaction retries before giving up: with the pauses below, about two
/// minutes, past any request timeout, so only a store that never lets one through hits this.
const MAX_CONFLICTS: u32 = 2000;

/// What a body fails with (as [`Error::custom`]) to have its transaction run again, as a
/// conflict would: an event number another instance took (see `outbox.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunAgain;

/// Whether `e` asks for the transaction to be run again.
fn is_conflict(e: &Error) -> bool {
    e.contains_label(TRANSIENT_TRANSACTION_ERROR) || e.get_custom::<RunAgain>().is_some()
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum Failed<R> {
    /// The body refused to go on (a rule, not the store); the transaction was aborted.
    Refused(R),
    /// The driver or the server failed, other than by a conflict.
    Driver(Error),
    /// It conflicted with concurrent changes [`MAX_CONFLICTS`] times in a row.
    KeptConflicting,
}

/// Runs `body` in a transaction and commits it. A conflict (a `TransientTransactionError`, in
/// the body or at the commit, or a [`RunAgain`] from the body) runs the whole body again in a
/// new transaction; an `Ok(Err(_))`
/// from the body aborts it and is returned as [`Failed::Refused`].
///
/// The body takes the session and hands it back with its result, rather than borrowing it:
/// a body borrowing it would be a closure over every lifetime of the borrow, and rustc cannot
/// yet prove such futures `Send` (rust-lang/rust#100013), which the ports require.
///
/// # Errors
/// See [`Failed`].
pub(crate) async fn with_transaction<T, R, F, Fut>(
    client: &Client,
    mut body: F,
) -> Result<T, Failed<R>>
where
    F: FnMut(ClientSession) -> Fut,
    Fut: Future<Output = (ClientSession, Result<Result<T, R>, Error>)>,
{
    let mut session = client.start_session().await.map_err(Failed::Driver)?;
    let mut conflicts = 0u32;
    loop {
        session.start_transaction().await.map_err(Failed::Driver)?;
        let (returned, attempt) = body(session).await;
        session = returned;
        match attempt {
            Ok(Ok(value)) => match commit(&mut session).await {
                Ok(()) => return Ok(value),
                Err(e) if e.contains_label(TRANSIENT_TRANSACTION_ERROR) => {}
                Err(e) => return Err(Failed::Driver(e)),
            },
            Ok(Err(refused)) => {
                let _ = session.abort_transaction().await;
                return Err(Failed::Refused(refused));
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                if !is_conflict(&e) {
                    return Err(Failed::Driver(e));
                }
            }
        }
        conflicts += 1;
        if conflicts > MAX_CONFLICTS {
            return Err(Failed::KeptConflicting);
        }
        // Growing and jittered, so that the contenders do not collide again in lockstep.
        tokio::time::sleep(conflict_pause(conflicts)).await;
    }
}

/// Up to 1 ms, 2 ms, 4 ms ... 64 ms, times a pseudo-random factor in [0.5, 1.5).
fn conflict_pause(conflicts: u32) -> Duration {
    let base = 1u64 << conflicts.min(6);
    let jitter = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
            % 1000,
    );
    Duration::from_micros(base * (500 + jitter))
}

/// Commits, retrying while the outcome is unknown (the driver's advice for that label).
async fn commit(session: &mut ClientSession) -> Result<(), Error> {
    let mut attempts = 0;
    loop {
        match session.commit_transaction().await {
            Err(e) if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && attempts < 5 => {
                attempts += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_between_conflicts_grows_to_a_cap_and_stays_jittered_around_it() {
        for conflicts in 1..=20 {
            let base = Duration::from_millis(1 << conflicts.min(6));
            let pause = conflict_pause(conflicts);
            assert!(
                pause >= base / 2 && pause < base * 3 / 2,
                "{conflicts}: {pause:?}"
            );
        }
    }
}
