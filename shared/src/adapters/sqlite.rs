//! Records in an embedded SQLite database: one file, real transactions, nothing to install.
//!
//! Appends run in `BEGIN IMMEDIATE` transactions, so numbering and the deadline check are one
//! atomic step even with several processes on the same file.
//!
//! Appends are committed in groups: one committer thread takes every append waiting, numbers
//! them in one transaction (in order of receipt) and commits once, so a rush costs one durable
//! write of the database per batch, not one per response. Appends that arrive while a batch
//! commits join the next one.
//!
//! A batch's commit does not flush: the records are durable at the next flush of the
//! database's file system (`syncfs`), which the caller makes before it acknowledges or
//! publishes what was appended. The intake's one flush of the data folder thus makes a batch's
//! originals and records durable together: one durable write per batch, where a flush of the
//! originals and then one of the database took two in a row. Until that flush a crash of the
//! machine (not of the process: the kernel keeps what was written) may lose the batch, or keep
//! a record and lose the originals written just before it, which
//! [`SqliteStore::drop_unflushed_tail`] repairs when the store is opened again.

use std::ops::RangeInclusive;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::domain::account::{Account, AccountName, Session, SessionKey, SignInThrottle};
use crate::domain::{
    AuditEntry, Consultation, ConsultationId, MailStop, NewResponse, OutcomeMailing, Response,
    ResponseId, SubscriberId, Subscription,
};
use crate::ports::{
    Accounts, AppendError, ConsultationRecord, Consultations, Lease, PublicationState, Responses,
    StoreError, Subscriptions,
};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many have run.
const MIGRATIONS: [&str; 5] = [
    "CREATE TABLE IF NOT EXISTS consultations (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        response_count INTEGER NOT NULL DEFAULT 0,
        published_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS responses (
        consultation TEXT NOT NULL REFERENCES consultations(id),
        number INTEGER NOT NULL,
        id TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL,
        PRIMARY KEY (consultation, number)
    );",
    "ALTER TABLE consultations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        consultation TEXT NOT NULL REFERENCES consultations(id),
        data TEXT NOT NULL
    );
    CREATE INDEX audit_by_consultation ON audit (consultation, seq);
    -- Append-only: the database itself refuses to change or delete an entry.
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
    // The email lists: private addresses, and how far each list has been sent.
    "CREATE TABLE subscriptions (
        consultation TEXT NOT NULL REFERENCES consultations(id),
        subscriber TEXT NOT NULL,
        data TEXT NOT NULL,
        confirmed INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (consultation, subscriber)
    );
    ALTER TABLE consultations ADD COLUMN notified_count INTEGER NOT NULL DEFAULT 0;",
    // The Secretariat's accounts, console sessions (by the hash of their id) and the sign-in
    // throttle (by name, account or not). A data folder made before simply gains the tables.
    "CREATE TABLE accounts (
        name TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    CREATE TABLE sessions (
        key TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE TABLE sign_in_failures (
        name TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );",
    // The outcome's mail: addresses no mail goes to (by subscriber id; scope '*' for a
    // bounce, else the consultation unsubscribed from), one mark per address mailed a
    // version, and each consultation's mailing progress.
    "CREATE TABLE mail_stops (
        subscriber TEXT NOT NULL,
        scope TEXT NOT NULL,
        PRIMARY KEY (subscriber, scope)
    );
    CREATE TABLE outcome_mail (
        consultation TEXT NOT NULL,
        version INTEGER NOT NULL,
        subscriber TEXT NOT NULL,
        PRIMARY KEY (consultation, version, subscriber)
    );
    ALTER TABLE consultations ADD COLUMN outcome_mailing TEXT;",
];

/// The `mail_stops.scope` of a bounce: every consultation.
const EVERY_CONSULTATION: &str = "*";

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// To the group committer of appends (see the module's documentation).
    appends: std::sync::mpsc::Sender<AppendJob>,
    /// The publication turns, by consultation. Kept by the process, not in the file: one
    /// process publishes an embedded store (`verbatim serve`'s worker), and a turn held by a
    /// process that was killed must not hold up the next start's publication until it expires.
    turns: Arc<Mutex<std::collections::HashMap<ConsultationId, PublicationTurn>>>,
}

/// A consultation's publication turn on the embedded store: until when it is held (`None`:
/// let go), and the token its last take gave.
#[derive(Default)]
struct PublicationTurn {
    held_until: Option<jiff::Timestamp>,
    token: u64,
}

/// An append waiting for its batch, and where its outcome goes.
struct AppendJob {
    response: NewResponse,
    outcome: tokio::sync::oneshot::Sender<Result<Response, AppendError>>,
}

/// The most appends one transaction takes: a bound on the time one batch holds the write lock.
const MAX_BATCH: usize = 1024;

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connect = || -> Result<Connection, StoreError> {
            let conn = Connection::open(path).map_err(|e| db("opening the database", e))?;
            // Statements are prepared once per connection and kept (each query uses
            // `prepare_cached`): parsing SQL cost as much as running it on the intake path.
            conn.set_prepared_statement_cache_capacity(64);
            conn.pragma_update(None, "journal_mode", "WAL")
                .and_then(|_| conn.pragma_update(None, "synchronous", "FULL"))
                .and_then(|_| conn.pragma_update(None, "foreign_keys", "ON"))
                .and_then(|_| conn.busy_timeout(std::time::Duration::from_secs(10)))
                .map_err(|e| db("preparing the database", e))?;
            Ok(conn)
        };
        let mut conn = connect()?;
        migrate(&mut conn).map_err(|e| db("preparing the database", e))?;
        let conn = Arc::new(Mutex::new(conn));
        let (appends, waiting) = std::sync::mpsc::channel();
        // The committer has a connection of its own: in WAL mode readers go on while it
        // commits (and flushes), instead of queueing behind it for one connection.
        let committer = connect()?;
        // Commits without a flush (see the module's documentation). Still consistent: a crash
        // keeps every batch whole or loses it whole (the log's checksums), and checkpoints
        // flush as before.
        committer
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| db("preparing the database", e))?;
        let committer = Mutex::new(committer);
        std::thread::Builder::new()
            .name("sqlite-appends".into())
            .spawn(move || commit_appends(&committer, &waiting))
            .map_err(|e| StoreError::backend("starting the append committer", e))?;
        Ok(Self {
            conn,
            appends,
            turns: Arc::default(),
        })
    }

    /// Repairs what a crash of the machine may leave, since appends commit without a flush: a
    /// record whose batch was committed, and reached the disk, while the originals written just
    /// before it did not (the flush that would have made both durable did not finish). Such a
    /// record was never acknowledged nor published: both wait for a flush, and a flush covers
    /// every original written before it. Nor was any record numbered after it. So each
    /// consultation's records from the first unpublished one whose originals `is_stored` finds
    /// missing are removed and its count set back: their numbers are given again, with no gap.
    /// An error looking for a file stops the repair (and the opening): only a file known to be
    /// missing removes anything. Run when the store opens, before anything appends or
    /// publishes. Returns the numbers removed, by consultation.
    pub fn drop_unflushed_tail(
        &self,
        is_stored: impl Fn(&crate::domain::StoredFile) -> std::io::Result<bool>,
    ) -> Result<Vec<(ConsultationId, RangeInclusive<u64>)>, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = immediate(&mut conn)?;
        let unpublished: Vec<(String, i64, i64)> = tx
            .prepare(
                "SELECT id, response_count, published_count FROM consultations
                 WHERE response_count > published_count",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect()
            })
            .map_err(|e| db("reading consultations", e))?;
        let mut removed = Vec::new();
        for (id, count, published) in unpublished {
            let records: Vec<(i64, String)> = tx
                .prepare(
                    "SELECT number, data FROM responses
                     WHERE consultation = ?1 AND number > ?2 ORDER BY number",
                )
                .and_then(|mut statement| {
                    statement
                        .query_map(params![id, published], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect()
                })
                .map_err(|e| db("reading responses", e))?;
            let mut first_lost = None;
            for (index, (_, data)) in records.iter().enumerate() {
                let response: NewResponse = from_json(data)?;
                let mut files_stored = true;
                for file in &response.files {
                    files_stored &= is_stored(file).map_err(|e| {
                        StoreError::backend(format!("looking for {}", file.original_key), e)
                    })?;
                }
                if !files_stored {
                    first_lost = Some(index);
                    break;
                }
            }
            let Some(first_lost) = first_lost else {
                continue;
            };
            // The records removed stay in the log, whole, for whoever wants to know why.
            for (number, data) in &records[first_lost..] {
                tracing::error!(consultation = %id, number, record = %data, "removing a response that was never acknowledged: the machine stopped before its files were flushed");
            }
            let first_lost = records[first_lost].0;
            tx.execute(
                "DELETE FROM responses WHERE consultation = ?1 AND number >= ?2",
                params![id, first_lost],
            )
            .and_then(|_| {
                tx.execute(
                    "UPDATE consultations SET response_count = ?2 WHERE id = ?1",
                    params![id, first_lost - 1],
                )
            })
            .map_err(|e| db("removing responses whose originals were lost", e))?;
            let id = ConsultationId::parse(&id)
                .map_err(|e| StoreError::backend("reading consultations", e))?;
            removed.push((id, first_lost as u64..=count as u64));
        }
        tx.commit()
            .map_err(|e| db("removing responses whose originals were lost", e))?;
        Ok(removed)
    }

    /// Runs `f` on the connection off the async threads (SQLite calls block).
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::backend("database task", e))?
    }
}

/// The progress marks kept on a consultation's row: how far publication and its email list got.
#[derive(Clone, Copy)]
enum Mark {
    Published,
    Notified,
}

impl Mark {
    fn column(self) -> &'static str {
        match self {
            Mark::Published => "published_count",
            Mark::Notified => "notified_count",
        }
    }
}

impl SqliteStore {
    /// The mark's count (0 for an unknown consultation).
    async fn read_mark(
        &self,
        consultation: &ConsultationId,
        mark: Mark,
    ) -> Result<u64, StoreError> {
        let id = consultation.to_string();
        self.with(move |conn| {
            let count: Option<i64> = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM consultations WHERE id = ?1",
                    mark.column()
                ))
                .and_then(|mut statement| statement.query_row([id], |row| row.get(0)))
                .optional()
                .map_err(|e| db("reading a progress mark", e))?;
            Ok(count.unwrap_or(0) as u64)
        })
        .await
    }

    /// Raises the mark to `count`; never lowers it.
    async fn raise_mark(
        &self,
        consultation: &ConsultationId,
        mark: Mark,
        count: u64,
    ) -> Result<(), StoreError> {
        let id = consultation.to_string();
        self.with(move |conn| {
            let column = mark.column();
            conn.prepare_cached(&format!(
                "UPDATE consultations SET {column} = MAX({column}, ?2) WHERE id = ?1"
            ))
            .and_then(|mut statement| statement.execute(params![id, count as i64]))
            .map_err(|e| db("recording a progress mark", e))?;
            Ok(())
        })
        .await
    }
}

fn db(context: &str, e: rusqlite::Error) -> StoreError {
    StoreError::backend(context, e)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::backend("encoding a record", e))
}

fn from_json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::backend("decoding a stored record", e))
}

const RECORD_COLUMNS: &str = "data, response_count, version";

fn record_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<(String, i64, i64)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
}

fn record((data, count, version): (String, i64, i64)) -> Result<ConsultationRecord, StoreError> {
    Ok(ConsultationRecord {
        consultation: from_json(&data)?,
        response_count: count as u64,
        version: version as u64,
    })
}

fn find_by_id(
    conn: &Connection,
    consultation: &str,
    id: &ResponseId,
) -> Result<Option<Response>, StoreError> {
    conn.prepare_cached("SELECT number, data FROM responses WHERE consultation = ?1 AND id = ?2")
        .and_then(|mut statement| {
            statement.query_row(params![consultation, id.as_str()], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
        })
        .optional()
        .map_err(|e| db("finding a response", e))?
        .map(|(number, data)| {
            Ok(Response {
                number: number as u64,
                response: from_json(&data)?,
            })
        })
        .transpose()
}

/// The group committer: until every sender is gone, takes the appends waiting (at least one,
/// at most [`MAX_BATCH`]) and commits them together.
fn commit_appends(conn: &Mutex<Connection>, waiting: &std::sync::mpsc::Receiver<AppendJob>) {
    while let Ok(first) = waiting.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // In order of receipt: a batch numbers its responses as they were received.
        batch.sort_by_key(|job| job.response.received_at);
        let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match append_batch(&mut conn, batch.iter().map(|job| &job.response)) {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = job.outcome.send(outcome);
                }
            }
            // Nothing of the batch was committed: each append fails, and may be retried.
            Err(e) => {
                let reason = e.to_string();
                for job in batch {
                    let _ = job.outcome.send(Err(StoreError::backend(
                        "appending a response",
                        reason.clone(),
                    )
                    .into()));
                }
            }
        }
    }
}

/// Numbers and stores `responses` in one transaction: each is stored, or refused on its own
/// (unknown consultation, repeated id, closed, sealed) with nothing stored for it.
fn append_batch<'a>(
    conn: &mut Connection,
    responses: impl Iterator<Item = &'a NewResponse>,
) -> Result<Vec<Result<Response, AppendError>>, StoreError> {
    let tx = immediate(conn)?;
    // Each consultation's record and count, read once per batch.
    let mut counts: std::collections::BTreeMap<String, Option<(Consultation, u64)>> =
        std::collections::BTreeMap::new();
    let mut outcomes = Vec::new();
    for response in responses {
        let id = response.consultation.to_string();
        if !counts.contains_key(&id) {
            let found: Option<(String, i64)> = tx
                .prepare_cached("SELECT data, response_count FROM consultations WHERE id = ?1")
                .and_then(|mut statement| {
                    statement.query_row([&id], |row| Ok((row.get(0)?, row.get(1)?)))
                })
                .optional()
                .map_err(|e| db("reading a consultation", e))?;
            let record = match found {
                Some((data, count)) => Some((from_json::<Consultation>(&data)?, count as u64)),
                None => None,
            };
            counts.insert(id.clone(), record);
        }
        let Some(Some((consultation, count))) = counts.get_mut(&id) else {
            outcomes.push(Err(AppendError::NoSuchConsultation(
                response.consultation.clone(),
            )));
            continue;
        };
        // Sees this batch's own inserts too: an id twice in one batch is stored once.
        if let Some(existing) = find_by_id(&tx, &id, &response.id)? {
            outcomes.push(Err(AppendError::AlreadyStored(Box::new(existing))));
            continue;
        }
        // Inside the IMMEDIATE transaction: the seal cannot land between this check and the
        // commit.
        if let Some(refused) = AppendError::refusal(consultation, response.received_at) {
            outcomes.push(Err(refused));
            continue;
        }
        let number = *count + 1;
        let data = to_json(response)?;
        tx.prepare_cached(
            "INSERT INTO responses (consultation, number, id, data) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut statement| {
            statement.execute(params![id, number as i64, response.id.as_str(), data])
        })
        .map_err(|e| db("storing a response", e))?;
        *count = number;
        outcomes.push(Ok(Response {
            number,
            response: response.clone(),
        }));
    }
    for (id, record) in &counts {
        if let Some((_, count)) = record {
            tx.prepare_cached("UPDATE consultations SET response_count = ?2 WHERE id = ?1")
                .and_then(|mut statement| statement.execute(params![id, *count as i64]))
                .map_err(|e| db("counting responses", e))?;
        }
    }
    tx.commit().map_err(|e| db("committing responses", e))?;
    Ok(outcomes)
}

/// A transaction that takes the write lock at once, so its reads and writes are one step.
fn immediate(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, StoreError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db("starting a transaction", e))
}

fn insert_audit(tx: &rusqlite::Transaction<'_>, audit: &AuditEntry) -> Result<(), StoreError> {
    let data = to_json(audit)?;
    tx.prepare_cached("INSERT INTO audit (consultation, data) VALUES (?1, ?2)")
        .and_then(|mut statement| statement.execute(params![audit.consultation.as_str(), data]))
        .map_err(|e| db("appending to the audit log", e))?;
    Ok(())
}

#[async_trait]
impl Consultations for SqliteStore {
    async fn create(
        &self,
        consultation: &Consultation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let id = consultation.id.to_string();
        let data = to_json(consultation)?;
        let audit = audit.clone();
        self.with(move |conn| {
            let tx = immediate(conn)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO consultations (id, data) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )
                .and_then(|mut statement| statement.execute(params![id, data]))
                .map_err(|e| db("storing a consultation", e))?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("consultation {id}")));
            }
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(|e| db("committing a consultation", e))
        })
        .await
    }

    async fn update(
        &self,
        version: u64,
        consultation: &Consultation,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let id = consultation.id.to_string();
        let data = to_json(consultation)?;
        let audit = audit.clone();
        self.with(move |conn| {
            let tx = immediate(conn)?;
            let updated = tx
                .prepare_cached(
                    "UPDATE consultations SET data = ?2, version = version + 1
                     WHERE id = ?1 AND version = ?3",
                )
                .and_then(|mut statement| statement.execute(params![id, data, version as i64]))
                .map_err(|e| db("updating a consultation", e))?;
            if updated == 0 {
                return Err(StoreError::Conflict(format!(
                    "consultation {id} at version {version}"
                )));
            }
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(|e| db("committing an update", e))
        })
        .await
    }

    async fn audit_log(&self, id: &ConsultationId) -> Result<Vec<AuditEntry>, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT data FROM audit WHERE consultation = ?1 ORDER BY seq")
                .map_err(|e| db("reading the audit log", e))?;
            let rows = stmt
                .query_map([id], |row| row.get::<_, String>(0))
                .map_err(|e| db("reading the audit log", e))?;
            rows.map(|row| from_json(&row.map_err(|e| db("reading the audit log", e))?))
                .collect()
        })
        .await
    }

    async fn get(&self, id: &ConsultationId) -> Result<Option<ConsultationRecord>, StoreError> {
        let id = id.to_string();
        self.with(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM consultations WHERE id = ?1"
            ))
            .and_then(|mut statement| statement.query_row([id], record_from))
            .optional()
            .map_err(|e| db("reading a consultation", e))?
            .map(record)
            .transpose()
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ConsultationRecord>, StoreError> {
        self.with(|conn| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {RECORD_COLUMNS} FROM consultations ORDER BY id"
                ))
                .map_err(|e| db("listing consultations", e))?;
            let rows = stmt
                .query_map([], record_from)
                .map_err(|e| db("listing consultations", e))?;
            rows.map(|row| record(row.map_err(|e| db("listing consultations", e))?))
                .collect()
        })
        .await
    }
}

#[async_trait]
impl Responses for SqliteStore {
    async fn append(&self, response: NewResponse) -> Result<Response, AppendError> {
        let (outcome, answer) = tokio::sync::oneshot::channel();
        self.appends
            .send(AppendJob { response, outcome })
            .map_err(|_| StoreError::backend("appending a response", "the committer stopped"))?;
        answer
            .await
            .map_err(|_| StoreError::backend("appending a response", "the committer stopped"))?
    }

    async fn find(
        &self,
        consultation: &ConsultationId,
        id: &ResponseId,
    ) -> Result<Option<Response>, StoreError> {
        let consultation = consultation.to_string();
        let id = id.clone();
        self.with(move |conn| find_by_id(conn, &consultation, &id))
            .await
    }

    async fn range(
        &self,
        consultation: &ConsultationId,
        numbers: RangeInclusive<u64>,
    ) -> Result<Vec<Response>, StoreError> {
        let id = consultation.to_string();
        let (first, last) = (*numbers.start() as i64, *numbers.end() as i64);
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, data FROM responses
                     WHERE consultation = ?1 AND number BETWEEN ?2 AND ?3 ORDER BY number",
                )
                .map_err(|e| db("listing responses", e))?;
            let rows = stmt
                .query_map(params![id, first, last], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(|e| db("listing responses", e))?;
            rows.map(|row| {
                let (number, data) = row.map_err(|e| db("listing responses", e))?;
                Ok(Response {
                    number: number as u64,
                    response: from_json(&data)?,
                })
            })
            .collect()
        })
        .await
    }
}

#[async_trait]
impl PublicationState for SqliteStore {
    async fn published(&self, consultation: &ConsultationId) -> Result<u64, StoreError> {
        self.read_mark(consultation, Mark::Published).await
    }

    async fn set_published(
        &self,
        consultation: &ConsultationId,
        count: u64,
    ) -> Result<(), StoreError> {
        self.raise_mark(consultation, Mark::Published, count).await
    }

    async fn take_turn(
        &self,
        consultation: &ConsultationId,
        holder: &str,
        now: jiff::Timestamp,
        until: jiff::Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        let turn = turns.entry(consultation.clone()).or_default();
        if turn.held_until.is_some_and(|expires| expires >= now) {
            return Ok(None);
        }
        turn.held_until = Some(until);
        turn.token += 1;
        Ok(Some(Lease {
            consultation: consultation.clone(),
            holder: holder.to_owned(),
            token: turn.token,
            expires_at: until,
        }))
    }

    async fn renew_turn(
        &self,
        lease: &mut Lease,
        until: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        match turns.get_mut(&lease.consultation) {
            Some(turn) if turn.token == lease.token && turn.held_until.is_some() => {
                turn.held_until = Some(until);
                lease.expires_at = until;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn end_turn(&self, lease: &Lease) -> Result<(), StoreError> {
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(turn) = turns.get_mut(&lease.consultation)
            && turn.token == lease.token
        {
            turn.held_until = None;
        }
        Ok(())
    }
}

impl SqliteStore {
    /// Reads a subscription and, if `change` says it changed it, writes it back, in one write
    /// transaction. `None`: there is no such subscription; else whether it was changed.
    async fn change_subscription(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
        context: &'static str,
        change: impl FnOnce(&mut Subscription) -> bool + Send + 'static,
    ) -> Result<Option<bool>, StoreError> {
        let (consultation, subscriber) = (consultation.to_string(), subscriber.clone());
        self.with(move |conn| {
            let tx = immediate(conn)?;
            let Some(mut subscription) =
                find_subscription(&tx, &consultation, subscriber.as_str())?
            else {
                return Ok(None);
            };
            if !change(&mut subscription) {
                return Ok(Some(false));
            }
            let data = to_json(&subscription)?;
            tx.prepare_cached(
                "UPDATE subscriptions SET data = ?3, confirmed = ?4
                 WHERE consultation = ?1 AND subscriber = ?2",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    consultation,
                    subscriber.as_str(),
                    data,
                    subscription.is_confirmed()
                ])
            })
            .map_err(|e| db(context, e))?;
            tx.commit().map_err(|e| db(context, e))?;
            Ok(Some(true))
        })
        .await
    }
}

fn find_subscription(
    conn: &Connection,
    consultation: &str,
    subscriber: &str,
) -> Result<Option<Subscription>, StoreError> {
    conn.prepare_cached(
        "SELECT data FROM subscriptions WHERE consultation = ?1 AND subscriber = ?2",
    )
    .and_then(|mut statement| {
        statement.query_row(params![consultation, subscriber], |row| {
            row.get::<_, String>(0)
        })
    })
    .optional()
    .map_err(|e| db("finding a subscription", e))?
    .map(|data| from_json(&data))
    .transpose()
}

#[async_trait]
impl Subscriptions for SqliteStore {
    async fn request(&self, subscription: &Subscription) -> Result<Subscription, StoreError> {
        let subscription = subscription.clone();
        self.with(move |conn| {
            let tx = immediate(conn)?;
            let (consultation, subscriber) = (
                subscription.consultation.as_str(),
                subscription.subscriber.as_str(),
            );
            if let Some(existing) = find_subscription(&tx, consultation, subscriber)? {
                return Ok(existing);
            }
            let data = to_json(&subscription)?;
            tx.prepare_cached(
                "INSERT INTO subscriptions (consultation, subscriber, data, confirmed)
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    consultation,
                    subscriber,
                    data,
                    subscription.is_confirmed()
                ])
            })
            .map_err(|e| db("storing a subscription", e))?;
            tx.commit().map_err(|e| db("storing a subscription", e))?;
            Ok(subscription)
        })
        .await
    }

    async fn subscription(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<Option<Subscription>, StoreError> {
        let (consultation, subscriber) = (consultation.to_string(), subscriber.clone());
        self.with(move |conn| find_subscription(conn, &consultation, subscriber.as_str()))
            .await
    }

    async fn confirm(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
        at: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        // The first confirmation counts; a later one changes nothing but still finds it.
        let changed = self
            .change_subscription(
                consultation,
                subscriber,
                "confirming a subscription",
                move |s| {
                    if s.is_confirmed() {
                        return false;
                    }
                    s.confirmed_at = Some(at);
                    true
                },
            )
            .await?;
        Ok(changed.is_some())
    }

    async fn record_mailed(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
        previous: Option<jiff::Timestamp>,
        at: jiff::Timestamp,
    ) -> Result<bool, StoreError> {
        let changed = self
            .change_subscription(
                consultation,
                subscriber,
                "recording a mail to a subscriber",
                move |s| {
                    if s.mailed_at != previous {
                        return false;
                    }
                    s.mailed_at = Some(at);
                    true
                },
            )
            .await?;
        Ok(changed == Some(true))
    }

    async fn remove(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError> {
        let (consultation, subscriber) = (consultation.to_string(), subscriber.clone());
        self.with(move |conn| {
            let removed = conn
                .prepare_cached(
                    "DELETE FROM subscriptions WHERE consultation = ?1 AND subscriber = ?2",
                )
                .and_then(|mut statement| {
                    statement.execute(params![consultation, subscriber.as_str()])
                })
                .map_err(|e| db("removing a subscription", e))?;
            Ok(removed > 0)
        })
        .await
    }

    async fn confirmed(
        &self,
        consultation: &ConsultationId,
    ) -> Result<Vec<Subscription>, StoreError> {
        let consultation = consultation.to_string();
        self.with(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT data FROM subscriptions WHERE consultation = ?1 AND confirmed = 1
                     ORDER BY subscriber",
                )
                .map_err(|e| db("listing subscriptions", e))?;
            let rows = statement
                .query_map([consultation], |row| row.get::<_, String>(0))
                .map_err(|e| db("listing subscriptions", e))?;
            rows.map(|row| from_json(&row.map_err(|e| db("listing subscriptions", e))?))
                .collect()
        })
        .await
    }

    async fn notified(&self, consultation: &ConsultationId) -> Result<u64, StoreError> {
        self.read_mark(consultation, Mark::Notified).await
    }

    async fn set_notified(
        &self,
        consultation: &ConsultationId,
        count: u64,
    ) -> Result<(), StoreError> {
        self.raise_mark(consultation, Mark::Notified, count).await
    }

    async fn stop_mail(
        &self,
        subscriber: &SubscriberId,
        stop: &MailStop,
    ) -> Result<(), StoreError> {
        let scope = match stop {
            MailStop::Bounced => EVERY_CONSULTATION.to_owned(),
            MailStop::Unsubscribed(consultation) => consultation.to_string(),
        };
        let subscriber = subscriber.clone();
        self.with(move |conn| {
            conn.prepare_cached(
                "INSERT OR IGNORE INTO mail_stops (subscriber, scope) VALUES (?1, ?2)",
            )
            .and_then(|mut statement| statement.execute(params![subscriber.as_str(), scope]))
            .map_err(|e| db("stopping mail to an address", e))?;
            Ok(())
        })
        .await
    }

    async fn mail_stopped(
        &self,
        consultation: &ConsultationId,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError> {
        let (consultation, subscriber) = (consultation.to_string(), subscriber.clone());
        self.with(move |conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM mail_stops
                 WHERE subscriber = ?1 AND scope IN (?2, ?3))",
            )
            .and_then(|mut statement| {
                statement.query_row(
                    params![subscriber.as_str(), consultation, EVERY_CONSULTATION],
                    |row| row.get(0),
                )
            })
            .map_err(|e| db("reading whether mail is stopped", e))
        })
        .await
    }

    async fn outcome_mailing(
        &self,
        consultation: &ConsultationId,
    ) -> Result<OutcomeMailing, StoreError> {
        let id = consultation.to_string();
        let found: Option<OutcomeMailing> = self
            .with(move |conn| {
                find_data(
                    conn,
                    "SELECT outcome_mailing FROM consultations
                     WHERE id = ?1 AND outcome_mailing IS NOT NULL",
                    &id,
                    "reading the outcome's mailing",
                )
            })
            .await?;
        Ok(found.unwrap_or_default())
    }

    async fn save_outcome_mailing(
        &self,
        consultation: &ConsultationId,
        mailing: &OutcomeMailing,
    ) -> Result<(), StoreError> {
        let (id, data) = (consultation.to_string(), to_json(mailing)?);
        self.with(move |conn| {
            conn.prepare_cached("UPDATE consultations SET outcome_mailing = ?2 WHERE id = ?1")
                .and_then(|mut statement| statement.execute(params![id, data]))
                .map_err(|e| db("recording the outcome's mailing", e))?;
            Ok(())
        })
        .await
    }

    async fn claim_outcome_mail(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &SubscriberId,
    ) -> Result<bool, StoreError> {
        let (consultation, subscriber) = (consultation.to_string(), subscriber.clone());
        self.with(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT OR IGNORE INTO outcome_mail (consultation, version, subscriber)
                     VALUES (?1, ?2, ?3)",
                )
                .and_then(|mut statement| {
                    statement.execute(params![consultation, version, subscriber.as_str()])
                })
                .map_err(|e| db("claiming an outcome mail", e))?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn release_outcome_mail(
        &self,
        consultation: &ConsultationId,
        version: u32,
        subscriber: &SubscriberId,
    ) -> Result<(), StoreError> {
        let (consultation, subscriber) = (consultation.to_string(), subscriber.clone());
        self.with(move |conn| {
            conn.prepare_cached(
                "DELETE FROM outcome_mail
                 WHERE consultation = ?1 AND version = ?2 AND subscriber = ?3",
            )
            .and_then(|mut statement| {
                statement.execute(params![consultation, version, subscriber.as_str()])
            })
            .map_err(|e| db("releasing an outcome mail", e))?;
            Ok(())
        })
        .await
    }
}

fn find_data<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    key: &str,
    context: &str,
) -> Result<Option<T>, StoreError> {
    let data: Option<String> = conn
        .prepare_cached(sql)
        .and_then(|mut statement| statement.query_row([key], |row| row.get(0)))
        .optional()
        .map_err(|e| db(context, e))?;
    data.map(|d| from_json(&d)).transpose()
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let (name, data) = (account.name.to_string(), to_json(account)?);
        self.with(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO accounts (name, data) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )
                .and_then(|mut statement| statement.execute(params![name, data]))
                .map_err(|e| db("storing an account", e))?;
            if inserted == 0 {
                return Err(StoreError::Conflict(format!("account {name}")));
            }
            Ok(())
        })
        .await
    }

    async fn account(&self, name: &AccountName) -> Result<Option<Account>, StoreError> {
        let name = name.to_string();
        self.with(move |conn| {
            find_data(
                conn,
                "SELECT data FROM accounts WHERE name = ?1",
                &name,
                "reading an account",
            )
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.with(move |conn| {
            let mut statement = conn
                .prepare_cached("SELECT data FROM accounts ORDER BY name")
                .map_err(|e| db("listing accounts", e))?;
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(|e| db("listing accounts", e))?;
            rows.map(|row| from_json(&row.map_err(|e| db("listing accounts", e))?))
                .collect()
        })
        .await
    }

    async fn replace_account(&self, account: &Account) -> Result<bool, StoreError> {
        let (name, data) = (account.name.to_string(), to_json(account)?);
        self.with(move |conn| {
            // The stored last TOTP step is kept where it is later than the one replacing it
            // (a sign-in recorded it since this account was read).
            conn.prepare_cached(
                "UPDATE accounts SET data = CASE \
                   WHEN json_extract(data, '$.totp_last_step') > \
                        coalesce(json_extract(?2, '$.totp_last_step'), -1) \
                   THEN json_set(?2, '$.totp_last_step', json_extract(data, '$.totp_last_step')) \
                   ELSE ?2 END \
                 WHERE name = ?1",
            )
            .and_then(|mut statement| statement.execute(params![name, data]))
            .map(|changed| changed > 0)
            .map_err(|e| db("updating an account", e))
        })
        .await
    }

    async fn use_totp_step(&self, name: &AccountName, step: i64) -> Result<bool, StoreError> {
        let name = name.to_string();
        // One statement: the check and the write cannot interleave with another's.
        self.with(move |conn| {
            conn.prepare_cached(
                "UPDATE accounts SET data = json_set(data, '$.totp_last_step', ?2) \
                 WHERE name = ?1 AND coalesce(json_extract(data, '$.totp_last_step') < ?2, 1)",
            )
            .and_then(|mut statement| statement.execute(params![name, step]))
            .map(|changed| changed > 0)
            .map_err(|e| db("recording a second factor's use", e))
        })
        .await
    }

    async fn remove_account(&self, name: &AccountName) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.with(move |conn| {
            conn.prepare_cached("DELETE FROM accounts WHERE name = ?1")
                .and_then(|mut statement| statement.execute([name]))
                .map(|changed| changed > 0)
                .map_err(|e| db("removing an account", e))
        })
        .await
    }

    async fn start_session(&self, key: &SessionKey, session: &Session) -> Result<(), StoreError> {
        let (key, data) = (key.as_str().to_owned(), to_json(session)?);
        let (expires, now) = (
            session.expires_at().as_second(),
            session.created_at.as_second(),
        );
        self.with(move |conn| {
            let tx = immediate(conn)?;
            // Sessions over are of no use: they go as new ones come.
            tx.prepare_cached("DELETE FROM sessions WHERE expires_at < ?1")
                .and_then(|mut statement| statement.execute([now]))
                .map_err(|e| db("removing ended sessions", e))?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO sessions (key, data, expires_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )
                .and_then(|mut statement| statement.execute(params![key, data, expires]))
                .map_err(|e| db("storing a session", e))?;
            if inserted == 0 {
                return Err(StoreError::Conflict("session".into()));
            }
            tx.commit().map_err(|e| db("storing a session", e))
        })
        .await
    }

    async fn session(&self, key: &SessionKey) -> Result<Option<Session>, StoreError> {
        let key = key.as_str().to_owned();
        self.with(move |conn| {
            find_data(
                conn,
                "SELECT data FROM sessions WHERE key = ?1",
                &key,
                "reading a session",
            )
        })
        .await
    }

    async fn touch_session(&self, key: &SessionKey, at: jiff::Timestamp) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        self.with(move |conn| {
            let tx = immediate(conn)?;
            let Some(mut session): Option<Session> = find_data(
                &tx,
                "SELECT data FROM sessions WHERE key = ?1",
                &key,
                "reading a session",
            )?
            else {
                return Ok(());
            };
            session.last_seen = session.last_seen.max(at);
            let (data, expires) = (to_json(&session)?, session.expires_at().as_second());
            tx.prepare_cached("UPDATE sessions SET data = ?2, expires_at = ?3 WHERE key = ?1")
                .and_then(|mut statement| statement.execute(params![key, data, expires]))
                .map_err(|e| db("recording a session's use", e))?;
            tx.commit().map_err(|e| db("recording a session's use", e))
        })
        .await
    }

    async fn end_session(&self, key: &SessionKey) -> Result<(), StoreError> {
        let key = key.as_str().to_owned();
        self.with(move |conn| {
            conn.prepare_cached("DELETE FROM sessions WHERE key = ?1")
                .and_then(|mut statement| statement.execute([key]))
                .map_err(|e| db("ending a session", e))?;
            Ok(())
        })
        .await
    }

    async fn throttle(&self, name: &AccountName) -> Result<SignInThrottle, StoreError> {
        let name = name.to_string();
        self.with(move |conn| {
            Ok(find_data(
                conn,
                "SELECT data FROM sign_in_failures WHERE name = ?1",
                &name,
                "reading failed sign-ins",
            )?
            .unwrap_or_default())
        })
        .await
    }

    async fn record_failure(
        &self,
        name: &AccountName,
        at: jiff::Timestamp,
    ) -> Result<SignInThrottle, StoreError> {
        let name = name.to_string();
        self.with(move |conn| {
            // One transaction holding the write lock: failures from other processes wait.
            let tx = immediate(conn)?;
            let current: SignInThrottle = find_data(
                &tx,
                "SELECT data FROM sign_in_failures WHERE name = ?1",
                &name,
                "reading failed sign-ins",
            )?
            .unwrap_or_default();
            let next = current.after_failure(at);
            let data = to_json(&next)?;
            tx.prepare_cached(
                "INSERT INTO sign_in_failures (name, data) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET data = excluded.data",
            )
            .and_then(|mut statement| statement.execute(params![name, data]))
            .map_err(|e| db("recording a failed sign-in", e))?;
            tx.commit()
                .map_err(|e| db("recording a failed sign-in", e))?;
            Ok(next)
        })
        .await
    }

    async fn clear_failures(&self, name: &AccountName) -> Result<(), StoreError> {
        let name = name.to_string();
        self.with(move |conn| {
            conn.prepare_cached("DELETE FROM sign_in_failures WHERE name = ?1")
                .and_then(|mut statement| statement.execute([name]))
                .map_err(|e| db("forgetting failed sign-ins", e))?;
            Ok(())
        })
        .await
    }
}
