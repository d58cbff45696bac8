//! The group-commit writer.
//!
//! One thread owns the read-write connection. It takes the first waiting job, then every job
//! that has queued up meanwhile (up to `MAX_BATCH`), and runs them all in one transaction: one
//! commit, one sync. A job's answer is sent only after that commit, so a 2xx is never given for
//! a write that could still be lost.

use std::sync::mpsc;
use std::thread;

use anyhow::anyhow;
use billing_domain::StorageError;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::errors::storage;

const MAX_BATCH: usize = 512;

/// Why a group transaction failed, for every job in it: its message, and whether the store was
/// unavailable (busy, full, failing I/O) rather than broken.
#[derive(Debug, Clone)]
struct CommitFailure {
    message: String,
    unavailable: bool,
}

impl CommitFailure {
    fn of(e: rusqlite::Error) -> Self {
        let e = storage(e);
        Self {
            unavailable: e.is_unavailable(),
            message: format!("{e:#}"),
        }
    }

    fn error(&self) -> StorageError {
        let e = anyhow!("sqlite commit failed: {}", self.message);
        if self.unavailable {
            StorageError::Unavailable(e)
        } else {
            StorageError::Unknown(e)
        }
    }
}

trait Job: Send {
    /// Whether nobody waits for the answer any more (the request timed out or its client went):
    /// such a job is not run, so a request answered with an error writes nothing.
    fn abandoned(&self) -> bool;
    /// Runs the job's statements; returns whether they succeeded (and must be kept).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Sends the answer, once the transaction's fate is known.
    fn finish(self: Box<Self>, commit: Result<(), &CommitFailure>);
}

type Op<T, E> = Box<dyn FnOnce(&Connection) -> Result<T, E> + Send>;

struct Pending<T, E> {
    op: Option<Op<T, E>>,
    outcome: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T: Send, E: From<StorageError> + Send> Job for Pending<T, E> {
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = match self.op.take() {
            Some(op) => op(conn),
            None => Err(StorageError::Unknown(anyhow!("write job ran twice")).into()),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, commit: Result<(), &CommitFailure>) {
        let outcome = match (commit, self.outcome) {
            (_, Some(Err(e))) => Err(e),
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(why), _) => Err(why.error().into()),
            (Ok(()), None) => Err(StorageError::Unknown(anyhow!("write job never ran")).into()),
        };
        // The requester may have gone (client disconnected); the write stands regardless.
        let _ = self.reply.send(outcome);
    }
}

#[derive(Debug)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> anyhow::Result<Self> {
        // Room for every statement the writer runs (the default keeps 16), so that none is
        // evicted and parsed again when writes of every kind interleave.
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&conn, &queue))?;
        Ok(Self { jobs })
    }

    /// Runs `op` in the next group transaction and answers once it is durable.
    pub(crate) async fn write<T, E>(
        &self,
        op: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            op: Some(Box::new(op)),
            outcome: None,
            reply,
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| StorageError::Unavailable(anyhow!("the SQLite writer has stopped")))?;
        answer
            .await
            .map_err(|_| StorageError::Unknown(anyhow!("the SQLite writer dropped a write")))?
    }
}

fn run(conn: &Connection, queue: &mpsc::Receiver<Box<dyn Job>>) {
    // Ends when every `Writer` (and so every store handle) is gone.
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = run_batch(conn, &mut batch).map_err(CommitFailure::of);
        if let Err(e) = &commit {
            tracing::error!(error = %e.message, jobs = batch.len(), "sqlite group commit failed");
        }
        for job in batch {
            job.finish(commit.as_ref().copied());
        }
    }
}

/// Runs `sql`, one statement, prepared once per connection: `execute_batch` would parse it
/// again every time, and these run for every job (and every event).
pub(crate) fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(drop)
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> rusqlite::Result<()> {
    run_cached(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        if job.abandoned() {
            continue;
        }
        let step = run_cached(conn, "SAVEPOINT job").and_then(|()| {
            if job.run(conn) {
                run_cached(conn, "RELEASE job")
            } else {
                conn.execute_batch("ROLLBACK TO job; RELEASE job")
            }
        });
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    if let Err(e) = run_cached(conn, "COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e);
    }
    Ok(())
}
