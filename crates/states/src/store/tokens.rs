//! Task tokens of callback tasks (`.waitForTaskToken`), durable in the execution store.
//!
//! A token is written when its task starts waiting; `SendTaskSuccess`, `SendTaskFailure` and
//! `SendTaskHeartbeat` (from any process, `sluice task …` included) write its outcome or its
//! last heartbeat; the waiting runner reads them. A token is closed once: by its callback, or
//! by the runner when the task times out or its state ends otherwise, so a late callback is
//! told `TaskTimedOut`, as AWS tells it.
//!
//! A token outlives the process that waited for it: when that process stopped, the callback
//! is still recorded, and the redriven execution waits for (or reads) the same token instead
//! of sending a new request, as the worker holding the token expects. Each token belongs to
//! a run of its execution (0 for the first, then its redrive count) and is consumed once read.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;

use super::{parse_time, ExecutionStore, StoreError};

pub(super) const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS task_tokens (
        token TEXT PRIMARY KEY,
        execution TEXT NOT NULL,
        state TEXT NOT NULL,
        status TEXT NOT NULL,
        output TEXT,
        error TEXT,
        cause TEXT,
        heartbeat TEXT NOT NULL,
        run INTEGER NOT NULL,
        consumed INTEGER NOT NULL DEFAULT 0
    )";

/// Where a token's task stands.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenState {
    /// Waiting for a callback; the time of the last heartbeat (or of the start).
    Waiting {
        heartbeat: DateTime<Utc>,
    },
    Succeeded(Value),
    Failed {
        error: String,
        cause: String,
    },
    /// Closed without a callback (timed out, or its state ended).
    Closed,
}

/// What a callback did to a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    Accepted,
    /// No such token.
    Unknown,
    /// The token's task was already closed.
    Closed,
}

impl ExecutionStore {
    /// Records a task of `execution`, in `state`, waiting for the callback of `token`, in the
    /// execution's `run` (its redrive count).
    pub(crate) async fn open_token(
        &self,
        token: &str,
        execution: &str,
        state: &str,
        run: u32,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO task_tokens (token, execution, state, status, heartbeat, run)
             VALUES (?, ?, ?, 'WAITING', ?, ?)",
        )
        .bind(token)
        .bind(execution)
        .bind(state)
        .bind(now.to_rfc3339())
        .bind(run as i64)
        .execute(&self.pool)
        .await
        .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The token a redriven `state` of `execution` takes over from a run before `run`: the
    /// one token of that state still waiting, or answered but not yet read. `None` when there
    /// is none, or several (Map iterations of one state: their tasks run again).
    pub(crate) async fn reusable_token(
        &self,
        execution: &str,
        state: &str,
        run: u32,
    ) -> Result<Option<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT token FROM task_tokens
              WHERE execution = ? AND state = ? AND run < ? AND consumed = 0
                AND status IN ('WAITING', 'SUCCEEDED', 'FAILED')
              LIMIT 2",
        )
        .bind(execution)
        .bind(state)
        .bind(run as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.sql(e))?;
        Ok(match rows.as_slice() {
            [one] => Some(one.get(0)),
            _ => None,
        })
    }

    /// Marks the token's answer as read, so no later attempt or redrive takes it again.
    pub(crate) async fn consume_token(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE task_tokens SET consumed = 1 WHERE token = ?")
            .bind(token)
            .execute(&self.pool)
            .await
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// Closes every token of `execution` still waiting (it ended), so that their callbacks
    /// are told `TaskTimedOut`.
    pub(crate) async fn close_tokens_of(&self, execution: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE task_tokens SET status = 'CLOSED', consumed = 1
              WHERE execution = ? AND status = 'WAITING'",
        )
        .bind(execution)
        .execute(&self.pool)
        .await
        .map_err(|e| self.sql(e))?;
        Ok(())
    }

    /// The token's state, or `None` if there is no such token.
    pub(crate) async fn token(&self, token: &str) -> Result<Option<TokenState>, StoreError> {
        let row = sqlx::query(
            "SELECT status, output, error, cause, heartbeat FROM task_tokens WHERE token = ?",
        )
        .bind(token)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.sql(e))?;
        let Some(r) = row else { return Ok(None) };
        let corrupt = |detail: String| StoreError::Corrupt {
            name: token.to_string(),
            detail,
        };
        let status: String = r.get(0);
        Ok(Some(match status.as_str() {
            "WAITING" => TokenState::Waiting {
                heartbeat: parse_time(&r.get::<String, _>(4)).map_err(corrupt)?,
            },
            "SUCCEEDED" => {
                let output: Option<String> = r.get(1);
                TokenState::Succeeded(
                    serde_json::from_str(output.as_deref().unwrap_or("null"))
                        .map_err(|e| corrupt(e.to_string()))?,
                )
            }
            "FAILED" => TokenState::Failed {
                error: r.get::<Option<String>, _>(2).unwrap_or_default(),
                cause: r.get::<Option<String>, _>(3).unwrap_or_default(),
            },
            _ => TokenState::Closed,
        }))
    }

    /// `SendTaskSuccess`: the task's output, if it still waits.
    pub(crate) async fn succeed_token(
        &self,
        token: &str,
        output: &Value,
    ) -> Result<Sent, StoreError> {
        self.close_token_with(token, "SUCCEEDED", Some(output.to_string()), None, None)
            .await
    }

    /// `SendTaskFailure`: the task's error and cause, if it still waits.
    pub(crate) async fn fail_token(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<Sent, StoreError> {
        self.close_token_with(token, "FAILED", None, Some(error), Some(cause))
            .await
    }

    /// Closes a token without a callback (its task timed out or its state ended); `Closed`
    /// when a callback came first.
    pub(crate) async fn close_token(&self, token: &str) -> Result<Sent, StoreError> {
        let sent = self
            .close_token_with(token, "CLOSED", None, None, None)
            .await?;
        self.consume_token(token).await?;
        Ok(sent)
    }

    /// `SendTaskHeartbeat`: the task is alive at `now`, if it still waits.
    pub(crate) async fn heartbeat_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Sent, StoreError> {
        let changed = sqlx::query(
            "UPDATE task_tokens SET heartbeat = ? WHERE token = ? AND status = 'WAITING'",
        )
        .bind(now.to_rfc3339())
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(|e| self.sql(e))?
        .rows_affected();
        self.sent(token, changed).await
    }

    async fn close_token_with(
        &self,
        token: &str,
        status: &str,
        output: Option<String>,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<Sent, StoreError> {
        let changed = sqlx::query(
            "UPDATE task_tokens SET status = ?, output = ?, error = ?, cause = ?
              WHERE token = ? AND status = 'WAITING'",
        )
        .bind(status)
        .bind(output)
        .bind(error)
        .bind(cause)
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(|e| self.sql(e))?
        .rows_affected();
        self.sent(token, changed).await
    }

    async fn sent(&self, token: &str, changed: u64) -> Result<Sent, StoreError> {
        if changed > 0 {
            return Ok(Sent::Accepted);
        }
        Ok(match self.token(token).await? {
            None => Sent::Unknown,
            Some(_) => Sent::Closed,
        })
    }
}
