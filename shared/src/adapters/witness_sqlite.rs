//! A witness's state in one SQLite file (`witness.db` in its data folder): the logs it follows
//! and what it last cosigned per origin. `synchronous = FULL`: a state is on disk before the
//! cosignature that depends on it is given.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::ports::{StoreError, WitnessState, WitnessedHead};

pub struct SqliteWitnessState {
    conn: Mutex<Connection>,
}

fn db(context: &str, e: rusqlite::Error) -> StoreError {
    StoreError::backend(context.to_owned(), e)
}

impl SqliteWitnessState {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|e| db("opening the witness's database", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "synchronous", "FULL"))
            .map_err(|e| db("setting up the witness's database", e))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS logs (
                origin TEXT NOT NULL,
                vkey TEXT NOT NULL,
                PRIMARY KEY (origin, vkey)
            );
            CREATE TABLE IF NOT EXISTS cosigned (
                origin TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                root BLOB NOT NULL
            );",
        )
        .map_err(|e| db("creating the witness's tables", e))?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a followed origin (exact, or a prefix ending in `*`) covers `origin`.
fn covers(followed: &str, origin: &str) -> bool {
    match followed.strip_suffix('*') {
        Some(prefix) => origin.starts_with(prefix),
        None => followed == origin,
    }
}

impl WitnessState for SqliteWitnessState {
    fn log_keys(&self, origin: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut statement = conn
            .prepare_cached("SELECT origin, vkey FROM logs ORDER BY origin, vkey")
            .map_err(|e| db("reading the followed logs", e))?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .map_err(|e| db("reading the followed logs", e))?;
        let mut keys = Vec::new();
        for row in rows {
            let (followed, vkey) = row.map_err(|e| db("reading the followed logs", e))?;
            // A key added for the origin and for a prefix of it is one key.
            if covers(&followed, origin) && !keys.contains(&vkey) {
                keys.push(vkey);
            }
        }
        Ok(keys)
    }

    fn add_log(&self, origin: &str, vkey: &str) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO logs (origin, vkey) VALUES (?1, ?2)",
                params![origin, vkey],
            )
            .map_err(|e| db("adding a log", e))?;
        Ok(())
    }

    fn cosigned(&self, origin: &str) -> Result<Option<WitnessedHead>, StoreError> {
        self.conn()
            .query_row(
                "SELECT size, root FROM cosigned WHERE origin = ?1",
                params![origin],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?)),
            )
            .optional()
            .map_err(|e| db("reading what was cosigned", e))?
            .map(|(size, root)| {
                Ok(WitnessedHead {
                    size: u64::try_from(size)
                        .map_err(|e| StoreError::backend("reading what was cosigned", e))?,
                    root: root.try_into().map_err(|_| {
                        StoreError::backend("reading what was cosigned", "a root is not 32 bytes")
                    })?,
                })
            })
            .transpose()
    }

    fn advance(
        &self,
        origin: &str,
        from: Option<&WitnessedHead>,
        to: &WitnessedHead,
    ) -> Result<bool, StoreError> {
        let size = i64::try_from(to.size).map_err(|e| StoreError::backend("cosigning", e))?;
        let conn = self.conn();
        let changed = match from {
            None => conn.execute(
                "INSERT OR IGNORE INTO cosigned (origin, size, root) VALUES (?1, ?2, ?3)",
                params![origin, size, to.root.as_slice()],
            ),
            Some(from) => conn.execute(
                "UPDATE cosigned SET size = ?2, root = ?3 WHERE origin = ?1 AND size = ?4 AND root = ?5",
                params![
                    origin,
                    size,
                    to.root.as_slice(),
                    i64::try_from(from.size).unwrap_or(i64::MAX),
                    from.root.as_slice()
                ],
            ),
        }
        .map_err(|e| db("recording what was cosigned", e))?;
        Ok(changed == 1)
    }
}
