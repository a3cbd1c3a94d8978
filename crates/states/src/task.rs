//! Task handlers: what a `Task` state's `Resource` is bound to.
//!
//! The engine knows nothing about what a task does. The embedding program binds resource
//! strings to [`TaskHandler`]s in a [`Registry`]: sluice binds its five ingestion steps;
//! `sluice run-asl` binds shell commands and echo handlers, so the engine is usable alone.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;

use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::error::{names, StatesError};

/// The largest task output accepted, as Step Functions' 256 KiB payload limit.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// One invocation of a task.
#[derive(Debug, Clone)]
pub struct TaskCall {
    pub resource: String,
    /// The effective input (after InputPath and Parameters).
    pub input: Value,
    pub execution_name: String,
    pub state_name: String,
    /// Which attempt this is: 0 for the first, 1 for the first retry, …
    pub attempt: u32,
    /// The task token of a callback task (a resource ending in `.waitForTaskToken`): the
    /// task's output is what is sent back with it, not what the handler returns.
    pub task_token: Option<String>,
}

#[async_trait::async_trait]
pub trait TaskHandler: Send + Sync {
    /// Runs the task. An `Err` is the task's failure: its `error` is what `Retry` and `Catch`
    /// match (a Lambda's `errorType`), its `cause` the detail.
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError>;
}

/// Resource string → handler.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn TaskHandler>>,
    fallback: Option<Arc<dyn TaskHandler>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<_> = self.handlers.keys().collect();
        keys.sort();
        f.debug_struct("Registry")
            .field("resources", &keys)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn bind(&mut self, resource: impl Into<String>, handler: Arc<dyn TaskHandler>) {
        self.handlers.insert(resource.into(), handler);
    }

    /// The handler for resources bound to nothing else (for example an echo handler).
    pub fn set_fallback(&mut self, handler: Arc<dyn TaskHandler>) {
        self.fallback = Some(handler);
    }

    /// The handler bound to `resource`. Unbound is a `States.Runtime` failure: it is a
    /// deployment problem, which no Retry or Catch should paper over; redrive after binding.
    pub fn handler(&self, resource: &str) -> Result<Arc<dyn TaskHandler>, StatesError> {
        self.handlers
            .get(resource)
            .or(self.fallback.as_ref())
            .cloned()
            .ok_or_else(|| {
                StatesError::runtime(format!("no handler is bound to resource '{resource}'"))
            })
    }
}

/// Returns its input as its output.
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoHandler;

#[async_trait::async_trait]
impl TaskHandler for EchoHandler {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        Ok(call.input)
    }
}

/// Runs a shell command: the task input is the command's stdin (JSON), its stdout the
/// output (JSON; empty means `null`). A non-zero exit is a failure; if stdout then holds
/// `{"Error": …, "Cause": …}` (or a Lambda-style `{"errorType": …, "errorMessage": …}`), that
/// names the error, otherwise it is `States.TaskFailed` with the exit status and the end of
/// stderr as the cause. The environment carries `SLUICE_EXECUTION`, `SLUICE_STATE` and
/// `SLUICE_ATTEMPT`. The child is killed if the task times out.
#[derive(Debug, Clone)]
pub struct ShellHandler {
    command: String,
}

impl ShellHandler {
    pub fn new(command: impl Into<String>) -> Self {
        ShellHandler {
            command: command.into(),
        }
    }
}

#[async_trait::async_trait]
impl TaskHandler for ShellHandler {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        let failed = |cause: String| StatesError::new(names::TASK_FAILED, cause);
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("SLUICE_EXECUTION", &call.execution_name)
            .env("SLUICE_STATE", &call.state_name)
            .env("SLUICE_ATTEMPT", call.attempt.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("cannot start `{}`: {e}", self.command)))?;
        let input = serde_json::to_vec(&call.input).map_err(|e| failed(e.to_string()))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its input closes the pipe early; that is fine.
            let _ = stdin.write_all(&input).await;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| failed(format!("`{}`: {e}", self.command)))?;
        if out.stdout.len() > MAX_PAYLOAD_BYTES {
            return Err(StatesError::new(
                "States.DataLimitExceeded",
                format!(
                    "the output of `{}` is {} bytes, over the {MAX_PAYLOAD_BYTES}-byte limit",
                    self.command,
                    out.stdout.len()
                ),
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let parsed: Option<Value> = if stdout.trim().is_empty() {
            Some(Value::Null)
        } else {
            serde_json::from_str(stdout.trim()).ok()
        };
        if out.status.success() {
            return parsed.ok_or_else(|| {
                failed(format!(
                    "`{}` printed output that is not JSON: {}",
                    self.command,
                    tail(&stdout, 512)
                ))
            });
        }
        if let Some(error) = parsed.as_ref().and_then(error_document) {
            return Err(error);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(failed(format!(
            "`{}` exited with {}: {}",
            self.command,
            out.status,
            tail(stderr.trim(), 1024)
        )))
    }
}

/// Reads `{"Error", "Cause"}` or `{"errorType", "errorMessage"}`.
fn error_document(v: &Value) -> Option<StatesError> {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(error) = text("Error") {
        return Some(StatesError::new(error, text("Cause").unwrap_or_default()));
    }
    text("errorType").map(|e| StatesError::new(e, text("errorMessage").unwrap_or_default()))
}

fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(input: Value) -> TaskCall {
        TaskCall {
            resource: "r".into(),
            input,
            execution_name: "e".into(),
            state_name: "S".into(),
            attempt: 0,
            task_token: None,
        }
    }

    #[tokio::test]
    async fn shell_reads_stdin_and_returns_stdout_json() {
        let h = ShellHandler::new(
            r#"read x; printf '{"got": %s, "state": "%s"}' "$x" "$SLUICE_STATE""#,
        );
        let out = h.invoke(call(serde_json::json!({"a": 1}))).await.unwrap();
        assert_eq!(out, serde_json::json!({"got": {"a": 1}, "state": "S"}));
    }

    #[tokio::test]
    async fn shell_failure_names_its_error() {
        let h = ShellHandler::new(r#"echo '{"Error": "Boom", "Cause": "it broke"}'; exit 3"#);
        let e = h.invoke(call(Value::Null)).await.unwrap_err();
        assert_eq!(e, StatesError::new("Boom", "it broke"));
        let h = ShellHandler::new("echo oops >&2; exit 4");
        let e = h.invoke(call(Value::Null)).await.unwrap_err();
        assert_eq!(e.error, names::TASK_FAILED);
        assert!(e.cause.contains("oops"), "{}", e.cause);
    }

    #[test]
    fn unbound_resource_is_a_runtime_error() {
        let r = Registry::new();
        let e = r.handler("arn:x").err().unwrap();
        assert_eq!(e.error, names::RUNTIME);
    }
}
