//! The durable execution store: one SQLite database holding each execution (name, definition,
//! input, status, output or error, redrive count) and its history events.
//!
//! WAL mode with `synchronous=NORMAL`: a commit survives the process being killed (the
//! failure this store is for), and several processes may run executions against one file.
//! Events are appended in batches inside one transaction each; the engine flushes right
//! after every task completes, so a finished task is never lost to a crash.
//!
//! Which process runs an execution is shown by an OS file lock (one small file per running
//! execution beside the database): a killed process loses its locks at once, so an
//! execution left `RUNNING` by a dead process is recognised without waiting for a lease.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, SqlitePool};

use crate::history::Event;

mod tokens;
pub(crate) use tokens::{Sent, TokenState};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("execution store {path}: {source}")]
    Sql {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("execution store {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("execution store: corrupt record for {name}: {detail}")]
    Corrupt { name: String, detail: String },
    /// The file system holding the store is full. SQLite says "database or disk is full",
    /// and a write that failed half-way can leave the others "database is locked": either
    /// way the person needs to hear that the disk is full, and nothing about other processes.
    #[error("execution store {path}: no space left on device")]
    NoSpace {
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Below this many free bytes, a file system counts as full when SQLite's error leaves it
/// open whether the disk is the cause (busy, locked, I/O error).
const NEARLY_FULL_BYTES: u64 = 1 << 20;

impl StoreError {
    /// `Sql`, or `NoSpace` when the disk holding `path` is full.
    fn sql(path: &str, source: sqlx::Error) -> StoreError {
        let full = match &source {
            sqlx::Error::Io(e) => e.kind() == std::io::ErrorKind::StorageFull,
            sqlx::Error::Database(db) => {
                let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                match code & 0xff {
                    SQLITE_FULL => true,
                    SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_CANTOPEN => {
                        nearly_full(Path::new(path))
                    }
                    _ => false,
                }
            }
            sqlx::Error::PoolTimedOut => nearly_full(Path::new(path)),
            _ => false,
        };
        if full {
            return StoreError::NoSpace {
                path: path.to_string(),
                source: Box::new(source),
            };
        }
        StoreError::Sql {
            path: path.to_string(),
            source,
        }
    }

    /// `Io`, or `NoSpace` for ENOSPC.
    fn io(path: &str, source: std::io::Error) -> StoreError {
        if source.kind() == std::io::ErrorKind::StorageFull {
            return StoreError::NoSpace {
                path: path.to_string(),
                source: Box::new(source),
            };
        }
        StoreError::Io {
            path: path.to_string(),
            source,
        }
    }
}

// SQLite's primary result codes (an extended code keeps its primary one in the low byte).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// Whether the file system holding `path` has less than [`NEARLY_FULL_BYTES`] available.
#[cfg(unix)]
fn nearly_full(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(dir) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `stat` is plain old data that statvfs fills in; `dir` is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(dir.as_ptr(), &mut stat) } != 0 {
        return false;
    }
    // The field types differ between platforms; on some these casts are no-ops.
    #[allow(clippy::unnecessary_cast)]
    let available = (stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64);
    available < NEARLY_FULL_BYTES
}

#[cfg(not(unix))]
fn nearly_full(_path: &Path) -> bool {
    false
}

/// Execution status, as `DescribeExecution` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }

    /// Redrive is for failed, aborted or timed-out executions only.
    pub fn is_redrivable(self) -> bool {
        matches!(self, Status::Failed | Status::TimedOut | Status::Aborted)
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_uppercase().replace('-', "_").as_str() {
            "RUNNING" => Status::Running,
            "SUCCEEDED" => Status::Succeeded,
            "FAILED" => Status::Failed,
            "TIMED_OUT" => Status::TimedOut,
            "ABORTED" => Status::Aborted,
            other => {
                return Err(format!(
                    "unknown status '{other}' (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)"
                ))
            }
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One execution, as `DescribeExecution` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub name: String,
    pub execution_arn: String,
    pub state_machine: String,
    #[serde(skip)]
    pub definition_hash: String,
    pub input: Value,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    pub start_date: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_date: Option<DateTime<Utc>>,
    pub redrive_count: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive_date: Option<DateTime<Utc>>,
    /// The id the next history event gets.
    #[serde(skip)]
    pub next_event_id: u64,
}

/// The ARN-shaped id local executions carry, so `$$.Execution.Id` looks as it does on AWS.
pub fn execution_arn(state_machine: &str, name: &str) -> String {
    format!("arn:aws:states:local:000000000000:execution:{state_machine}:{name}")
}

pub fn state_machine_arn(state_machine: &str) -> String {
    format!("arn:aws:states:local:000000000000:stateMachine:{state_machine}")
}

/// What creating an execution found.
#[derive(Debug)]
pub enum Created {
    New(Execution),
    /// An execution with this name existed already (its input is in the record).
    Existing(Execution),
}

/// Holds the OS lock that says "this process runs that execution". Dropping it releases.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

/// Whether `path` still names the open `file`.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Best effort: a stale lock file is harmless (it is not locked), only untidy.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Debug, Clone)]
pub struct ExecutionStore {
    pool: SqlitePool,
    path: String,
    locks: PathBuf,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS definitions (
        hash TEXT PRIMARY KEY,
        text TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS executions (
        name TEXT PRIMARY KEY,
        state_machine TEXT NOT NULL,
        definition_hash TEXT NOT NULL REFERENCES definitions(hash),
        input TEXT NOT NULL,
        status TEXT NOT NULL,
        output TEXT,
        error TEXT,
        cause TEXT,
        start_date TEXT NOT NULL,
        stop_date TEXT,
        redrive_count INTEGER NOT NULL DEFAULT 0,
        redrive_date TEXT,
        next_event_id INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS executions_by_status ON executions(status, start_date)",
    "CREATE TABLE IF NOT EXISTS events (
        execution TEXT NOT NULL,
        id INTEGER NOT NULL,
        previous_id INTEGER NOT NULL,
        timestamp TEXT NOT NULL,
        type TEXT NOT NULL,
        scope TEXT NOT NULL,
        details TEXT NOT NULL,
        internal TEXT,
        PRIMARY KEY (execution, id)
    ) WITHOUT ROWID",
    tokens::SCHEMA,
];

impl ExecutionStore {
    /// Opens (creating if needed) the store at `path`; lock files go in `<path>.locks/`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, |options| options).await
    }

    /// [`open`](Self::open), with SQLite's connection options adjusted (tests set limits).
    async fn open_with(
        path: &Path,
        adjust: impl FnOnce(SqliteConnectOptions) -> SqliteConnectOptions,
    ) -> Result<Self, StoreError> {
        let display = path.display().to_string();
        let io = |source| StoreError::io(&display, source);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let locks = PathBuf::from(format!("{}.locks", path.display()));
        std::fs::create_dir_all(&locks).map_err(io)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(adjust(options))
            .await
            .map_err(|source| StoreError::sql(&display, source))?;
        let store = ExecutionStore {
            pool,
            path: display,
            locks,
        };
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&store.pool)
                .await
                .map_err(|e| store.sql(e))?;
        }
        Ok(store)
    }

    fn sql(&self, source: sqlx::Error) -> StoreError {
        StoreError::sql(&self.path, source)
    }

    /// Takes the run lock of `name`, or `None` if a live process holds it.
    pub fn try_lock(&self, name: &str) -> Result<Option<RunLock>, StoreError> {
        let path = self
            .locks
            .join(format!("{}.lock", hex_digest(name.as_bytes())));
        let io = |source| StoreError::io(&path.display().to_string(), source);
        // A holder deletes the file when it lets go; a lock taken on a file that was
        // deleted meanwhile is worthless, so check that the path still names the locked
        // file, and try again on the new one if not.
        loop {
            let file = File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(io)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
            }
            if same_file(&file, &path) {
                return Ok(Some(RunLock { _file: file, path }));
            }
        }
    }

    pub async fn put_definition(&self, text: &str) -> Result<String, StoreError> {
        let hash = hex_digest(text.as_bytes());
        sqlx::query("INSERT OR IGNORE INTO definitions (hash, text) VALUES (?, ?)")
            .bind(&hash)
            .bind(text)
            .execute(&self.pool)
            .await
            .map_err(|e| self.sql(e))?;
        Ok(hash)
    }

    pub async fn definition(&self, hash: &str) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT text FROM definitions WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.sql(e))?;
        row.map(|r| r.get::<String, _>(0))
            .ok_or_else(|| StoreError::Corrupt {
                name: hash.to_string(),
                detail: "definition missing".into(),
            })
    }

    /// Creates an execution in `RUNNING` with its `ExecutionStarted` event, unless one with
    /// that name exists (then returns it unchanged).
    pub async fn create(
        &self,
        state_machine: &str,
        definition_hash: &str,
        name: &str,
        input: &Value,
        started: Event,
    ) -> Result<Created, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.sql(e))?;
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO executions
               (name, state_machine, definition_hash, input, status, start_date, next_event_id)
             VALUES (?, ?, ?, ?, 'RUNNING', ?, ?)",
        )
        .bind(name)
        .bind(state_machine)
        .bind(definition_hash)
        .bind(input.to_string())
        .bind(started.timestamp.to_rfc3339())
        .bind((started.id + 1) as i64)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.sql(e))?
        .rows_affected();
        if inserted == 1 {
            insert_events(&mut tx, name, std::slice::from_ref(&started))
                .await
                .map_err(|e| self.sql(e))?;
        }
        tx.commit().await.map_err(|e| self.sql(e))?;
        let execution = self.get(name).await?.ok_or_else(|| StoreError::Corrupt {
            name: name.into(),
            detail: "vanished after insert".into(),
        })?;
        Ok(if inserted == 1 {
            Created::New(execution)
        } else {
            Created::Existing(execution)
        })
    }

    pub async fn get(&self, name: &str) -> Result<Option<Execution>, StoreError> {
        let row = sqlx::query("SELECT * FROM executions WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.sql(e))?;
        row.map(|r| execution_from_row(&r)).transpose()
    }

    /// Executions, newest first, optionally of one status.
    pub async fn list(
        &self,
        status: Option<Status>,
        limit: u32,
    ) -> Result<Vec<Execution>, StoreError> {
        let rows = match status {
            Some(s) => sqlx::query(
                "SELECT * FROM executions WHERE status = ? ORDER BY start_date DESC, name LIMIT ?",
            )
            .bind(s.as_str())
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await,
            None => {
                sqlx::query("SELECT * FROM executions ORDER BY start_date DESC, name LIMIT ?")
                    .bind(limit as i64)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(|e| self.sql(e))?;
        rows.iter().map(execution_from_row).collect()
    }

    /// Counts of executions per status.
    pub async fn counts(&self) -> Result<Vec<(Status, u64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) FROM executions GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.sql(e))?;
        rows.iter()
            .map(|r| {
                let s: String = r.get(0);
                let n: i64 = r.get(1);
                s.parse::<Status>()
                    .map(|s| (s, n as u64))
                    .map_err(|detail| StoreError::Corrupt {
                        name: "status".into(),
                        detail,
                    })
            })
            .collect()
    }

    /// Appends events (one transaction) and moves the execution's next event id past them.
    pub async fn append(&self, name: &str, events: &[Event]) -> Result<(), StoreError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let mut tx = self.pool.begin().await.map_err(|e| self.sql(e))?;
        insert_events(&mut tx, name, events)
            .await
            .map_err(|e| self.sql(e))?;
        sqlx::query("UPDATE executions SET next_event_id = ? WHERE name = ?")
            .bind((last.id + 1) as i64)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.sql(e))?;
        tx.commit().await.map_err(|e| self.sql(e))
    }

    /// The whole history, in order.
    pub async fn events(&self, name: &str) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, previous_id, timestamp, type, scope, details, internal
               FROM events WHERE execution = ? ORDER BY id",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.sql(e))?;
        rows.iter()
            .map(|r| {
                let corrupt = |detail: String| StoreError::Corrupt {
                    name: name.to_string(),
                    detail,
                };
                let ts: String = r.get(2);
                let details: String = r.get(5);
                let internal: Option<String> = r.get(6);
                Ok(Event {
                    id: r.get::<i64, _>(0) as u64,
                    previous_event_id: r.get::<i64, _>(1) as u64,
                    timestamp: parse_time(&ts).map_err(corrupt)?,
                    kind: r.get(3),
                    scope: r.get(4),
                    details: serde_json::from_str(&details).map_err(|e| corrupt(e.to_string()))?,
                    internal: internal
                        .map(|i| serde_json::from_str(&i))
                        .transpose()
                        .map_err(|e| corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Records how the execution ended, with its final events.
    pub async fn finish(
        &self,
        name: &str,
        status: Status,
        output: Option<&Value>,
        error: Option<(&str, &str)>,
        stop: DateTime<Utc>,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.sql(e))?;
        insert_events(&mut tx, name, events)
            .await
            .map_err(|e| self.sql(e))?;
        let next = events.last().map(|e| e.id as i64 + 1);
        sqlx::query(
            "UPDATE executions SET status = ?, output = ?, error = ?, cause = ?, stop_date = ?,
                    next_event_id = COALESCE(?, next_event_id)
              WHERE name = ?",
        )
        .bind(status.as_str())
        .bind(output.map(|o| o.to_string()))
        .bind(error.map(|e| e.0))
        .bind(error.map(|e| e.1))
        .bind(stop.to_rfc3339())
        .bind(next)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.sql(e))?;
        tx.commit().await.map_err(|e| self.sql(e))
    }

    /// Moves a closed execution back to `RUNNING` for a redrive, counting it; only if it is
    /// still in `from` (two redrives racing: one wins).
    pub async fn begin_redrive(
        &self,
        name: &str,
        from: Status,
        at: DateTime<Utc>,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await.map_err(|e| self.sql(e))?;
        let moved = sqlx::query(
            "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, cause = NULL,
                    stop_date = NULL, redrive_count = redrive_count + 1, redrive_date = ?,
                    next_event_id = ?
              WHERE name = ? AND status = ?",
        )
        .bind(at.to_rfc3339())
        .bind(event.id as i64 + 1)
        .bind(name)
        .bind(from.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.sql(e))?
        .rows_affected();
        if moved == 1 {
            insert_events(&mut tx, name, std::slice::from_ref(event))
                .await
                .map_err(|e| self.sql(e))?;
        }
        tx.commit().await.map_err(|e| self.sql(e))?;
        Ok(moved == 1)
    }
}

/// Inserts events in multi-row statements (far fewer round trips than one per event).
async fn insert_events(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    name: &str,
    events: &[Event],
) -> Result<(), sqlx::Error> {
    // 8 bound values per row, under SQLite's 32,766-variable limit.
    for chunk in events.chunks(500) {
        let mut q = QueryBuilder::new(
            "INSERT INTO events (execution, id, previous_id, timestamp, type, scope, details, internal) ",
        );
        q.push_values(chunk, |mut b, e| {
            b.push_bind(name)
                .push_bind(e.id as i64)
                .push_bind(e.previous_event_id as i64)
                .push_bind(e.timestamp.to_rfc3339())
                .push_bind(e.kind.clone())
                .push_bind(e.scope.clone())
                .push_bind(e.details.to_string())
                .push_bind(e.internal.as_ref().map(|i| i.to_string()));
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

fn execution_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<Execution, StoreError> {
    let name: String = r.get("name");
    let corrupt = |detail: String| StoreError::Corrupt {
        name: name.clone(),
        detail,
    };
    let json = |s: Option<String>| -> Result<Option<Value>, StoreError> {
        s.map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(|e| corrupt(e.to_string()))
    };
    let time = |s: Option<String>| -> Result<Option<DateTime<Utc>>, StoreError> {
        s.map(|s| parse_time(&s)).transpose().map_err(corrupt)
    };
    let state_machine: String = r.get("state_machine");
    let status: String = r.get("status");
    Ok(Execution {
        execution_arn: execution_arn(&state_machine, &name),
        definition_hash: r.get("definition_hash"),
        input: json(Some(r.get("input")))?.unwrap_or(Value::Null),
        status: status.parse().map_err(corrupt)?,
        output: json(r.get("output"))?,
        error: r.get("error"),
        cause: r.get("cause"),
        start_date: time(Some(r.get("start_date")))?.unwrap_or_default(),
        stop_date: time(r.get("stop_date"))?,
        redrive_count: r.get::<i64, _>("redrive_count") as u32,
        redrive_date: time(r.get("redrive_date"))?,
        next_event_id: r.get::<i64, _>("next_event_id") as u64,
        state_machine,
        name,
    })
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("bad timestamp '{s}': {e}"))
}

fn hex_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> Event {
        Event {
            id: 1,
            previous_event_id: 0,
            timestamp: Utc::now(),
            kind: "ExecutionStarted".into(),
            details: Value::Null,
            scope: String::new(),
            internal: None,
        }
    }

    // See: #15
    #[tokio::test]
    async fn a_full_database_is_reported_as_no_space_left_on_device() {
        let dir = tempfile::tempdir().unwrap();
        // SQLite's page limit fills the database as a full disk does (SQLITE_FULL).
        let store = ExecutionStore::open_with(&dir.path().join("executions.db"), |o| {
            o.pragma("max_page_count", "16")
        })
        .await
        .unwrap();
        let hash = store.put_definition("{}").await.unwrap();
        let input = Value::String("x".repeat(16 << 10));
        let mut error = None;
        for i in 0..64 {
            let name = format!("e{i}");
            if let Err(e) = store.create("m", &hash, &name, &input, started()).await {
                error = Some(e);
                break;
            }
        }
        let error = error.expect("the database never filled up");
        assert!(matches!(error, StoreError::NoSpace { .. }), "{error:?}");
        assert!(
            error.to_string().contains("no space left on device"),
            "{error}"
        );
    }

    // See: #15
    #[test]
    fn enospc_from_the_file_system_is_no_space_left_on_device() {
        let enospc = || std::io::Error::from_raw_os_error(28);
        let e = StoreError::io("x.db", enospc());
        assert!(matches!(e, StoreError::NoSpace { .. }), "{e:?}");
        assert!(e.to_string().contains("no space left on device"), "{e}");
        let e = StoreError::sql("x.db", sqlx::Error::Io(enospc()));
        assert!(matches!(e, StoreError::NoSpace { .. }), "{e:?}");
        let other = StoreError::io("x.db", std::io::Error::from(std::io::ErrorKind::NotFound));
        assert!(matches!(other, StoreError::Io { .. }), "{other:?}");
    }
}
