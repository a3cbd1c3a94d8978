//! The corpus runner: every case on one engine (one store, the injected clock, canned task
//! replies per execution), compared with AWS's result, and the summary line.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sluice_states::clock::ManualClock;
use sluice_states::{Engine, EngineError, Registry, StartRequest, StatesError, Status};
use sluice_states::{TaskCall, TaskHandler};

use super::{all_cases, Callback, Case, Expect, Reply};

/// Where the known failures are listed, as the summary line names it.
const KNOWN_FAILURES_PATH: &str = "crates/states/tests/conformance/KNOWN_FAILURES.md";
const KNOWN_FAILURES: &str = include_str!("../KNOWN_FAILURES.md");

/// A task handler answering from each execution's canned replies; unbound resources echo.
#[derive(Default)]
struct Canned {
    replies: Mutex<HashMap<(String, String), VecDeque<Reply>>>,
    /// Where callbacks are sent; set once the engine is open.
    engine: std::sync::OnceLock<Engine>,
}

#[async_trait::async_trait]
impl TaskHandler for Canned {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        let reply = {
            let mut all = self.replies.lock().unwrap_or_else(|p| p.into_inner());
            match all.get_mut(&(call.execution_name.clone(), call.resource.clone())) {
                None => return Ok(call.input),
                Some(q) if q.len() > 1 => q.pop_front(),
                Some(q) => q.front().cloned(),
            }
        };
        match reply {
            Some(Reply::Ok(v)) => Ok(v),
            Some(Reply::Err(e, c)) => Err(StatesError::new(e, c)),
            Some(Reply::Hang) => std::future::pending().await,
            Some(Reply::Callback(callback)) => {
                let (Some(token), Some(engine)) = (call.task_token.clone(), self.engine.get())
                else {
                    return Err(StatesError::new(
                        "Conformance.NoToken",
                        "not a callback task",
                    ));
                };
                let engine = engine.clone();
                let input = call.input.clone();
                tokio::spawn(async move {
                    let sent = match callback {
                        Callback::Success(v) => engine.send_task_success(&token, &v).await,
                        Callback::SuccessWithInput => {
                            engine.send_task_success(&token, &input).await
                        }
                        Callback::Failure(e, c) => engine.send_task_failure(&token, e, c).await,
                        Callback::HeartbeatThenSuccess(v) => {
                            match engine.send_task_heartbeat(&token).await {
                                Ok(()) => engine.send_task_success(&token, &v).await,
                                Err(e) => Err(e),
                            }
                        }
                        Callback::Nothing => Ok(()),
                    };
                    if let Err(e) = sent {
                        let _ = writeln!(std::io::stderr().lock(), "callback not sent: {e}");
                    }
                });
                Ok(json!({"MessageId": "00000000-0000-4000-8000-000000000000"}))
            }
            None => Ok(call.input),
        }
    }
}

/// Runs one case on the engine: `Ok` when AWS's result is what the engine gives.
async fn check(
    engine: &Engine,
    clock: &ManualClock,
    execution: &str,
    case: &Case,
) -> Result<(), String> {
    let started = engine
        .start(StartRequest {
            state_machine: "conformance".into(),
            definition: case.definition.to_string(),
            name: execution.into(),
            input: case.input.clone(),
        })
        .await;
    let e = match (&case.expect, started) {
        (Expect::Refused(problem), Err(EngineError::Definition(p))) => {
            let text = p.to_string();
            return if text.contains(problem) {
                Ok(())
            } else {
                Err(format!("refused, but not for '{problem}': {text}"))
            };
        }
        (Expect::Refused(problem), Ok(_)) => {
            return Err(format!("loaded; AWS refuses it ('{problem}')"))
        }
        (_, Err(err)) => return Err(format!("did not start: {err}")),
        (_, Ok(outcome)) => outcome.execution,
    };
    match &case.expect {
        Expect::Output(want) => match (&e.status, &e.output) {
            (Status::Succeeded, Some(got)) if got == want => {}
            (Status::Succeeded, got) => return Err(format!("output {got:?}, want {want}")),
            (status, _) => {
                return Err(format!(
                    "{status:?} with {:?}: {:?}, want output {want}",
                    e.error, e.cause
                ))
            }
        },
        Expect::OutputWhere(what, test) => match (&e.status, &e.output) {
            (Status::Succeeded, Some(got)) if test(got) => {}
            (status, got) => return Err(format!("{status:?} {got:?}, want {what}")),
        },
        Expect::Fails(error, cause) => {
            let got_error = e.error.clone().unwrap_or_default();
            let got_cause = e.cause.clone().unwrap_or_default();
            let cause_ok = cause.is_none_or(|c| got_cause.contains(c));
            if e.status != Status::Failed || got_error != *error || !cause_ok {
                return Err(format!(
                    "{:?} {got_error}: {got_cause} (output {:?}), want FAILED {error}{}",
                    e.status,
                    e.output,
                    cause
                        .map(|c| format!(" with cause containing '{c}'"))
                        .unwrap_or_default()
                ));
            }
        }
        Expect::Refused(_) => {}
        Expect::RedriveRefused { .. } | Expect::Redriven { .. } => {
            if e.status != Status::Failed {
                return Err(format!("{:?}, want FAILED before the redrive", e.status));
            }
            redrive_matches(engine, clock, execution, &case.expect).await?;
        }
    }
    history_matches(engine, execution, case).await
}

/// A redrive `after` the failure, refused with AWS's reason or ending with the output.
async fn redrive_matches(
    engine: &Engine,
    clock: &ManualClock,
    execution: &str,
    expect: &Expect,
) -> Result<(), String> {
    let (after, want) = match expect {
        Expect::RedriveRefused { after, reason } => (after, Err(*reason)),
        Expect::Redriven { after, output } => (after, Ok(output)),
        _ => return Ok(()),
    };
    clock.advance(*after);
    match (engine.redrive(execution).await, want) {
        (Err(EngineError::ExecutionNotRedrivable { reason: got, .. }), Err(reason))
            if got == reason =>
        {
            Ok(())
        }
        (Ok(e), Ok(output)) if e.output.as_ref() == Some(output) => Ok(()),
        (Ok(e), want) => Err(format!(
            "redriven to {:?} {:?}, want {want:?}",
            e.status, e.output
        )),
        (Err(err), want) => Err(format!("redrive refused with {err}, want {want:?}")),
    }
}

/// The shape of the history, when the case asserts it: every event type in order, or the
/// count and the last ones.
async fn history_matches(engine: &Engine, execution: &str, case: &Case) -> Result<(), String> {
    if case.history.is_none() && case.history_end.is_none() {
        return Ok(());
    }
    let got: Vec<String> = engine
        .history(execution)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|e| e.kind)
        .collect();
    if let Some(want) = &case.history {
        if got != *want {
            return Err(format!("history {got:?}, want {want:?}"));
        }
    }
    if let Some((len, last)) = &case.history_end {
        let tail = &got[got.len().saturating_sub(last.len())..];
        if got.len() != *len || tail != last.as_slice() {
            return Err(format!(
                "history of {} events ending {tail:?}, want {len} ending {last:?}",
                got.len()
            ));
        }
    }
    Ok(())
}

/// The names listed in the known-failures file: lines starting with "- `name`".
fn known_failures() -> BTreeMap<String, String> {
    KNOWN_FAILURES
        .lines()
        .filter_map(|l| l.strip_prefix("- `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(name, reason)| {
            let reason = reason.trim_start_matches(':').trim();
            (name.to_string(), reason.to_string())
        })
        .collect()
}

/// Every case against AWS's expected result; one summary line on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_matches_aws() {
    let cases = all_cases();
    let mut names = BTreeSet::new();
    for c in &cases {
        assert!(names.insert(c.name.clone()), "two cases named {}", c.name);
        assert!(!c.source.is_empty(), "{} cites no source", c.name);
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let canned = Arc::new(Canned::default());
    {
        let mut replies = canned.replies.lock().unwrap_or_else(|p| p.into_inner());
        for (i, c) in cases.iter().enumerate() {
            for (resource, r) in &c.replies {
                replies.insert((execution_name(i), resource.to_string()), r.clone().into());
            }
        }
    }
    let mut registry = Registry::new();
    registry.set_fallback(canned.clone());
    let clock = Arc::new(ManualClock::new(
        "2026-03-14T01:59:00Z".parse().expect("a timestamp"),
    ));
    let engine = Engine::open(&dir.path().join("executions.db"), registry)
        .await
        .expect("the store opens")
        .with_clock(clock.clone());
    let _ = canned.engine.set(engine.clone());
    let mut failed = BTreeMap::new();
    for (i, c) in cases.iter().enumerate() {
        let name = execution_name(i);
        let run = check(&engine, &clock, &name, c);
        let verdict = match tokio::time::timeout(Duration::from_secs(30), run).await {
            Ok(v) => v,
            Err(_) => Err("did not finish within 30 s".to_string()),
        };
        if let Err(why) = verdict {
            failed.insert(c.name.clone(), why);
        }
    }
    let known = known_failures();
    let unexpected: Vec<String> = failed
        .iter()
        .filter(|(n, _)| !known.contains_key(*n))
        .map(|(n, why)| {
            let source = cases.iter().find(|c| &c.name == n).map(|c| c.source);
            format!("  {n} ({}): {why}", source.unwrap_or(""))
        })
        .collect();
    let fixed: Vec<&String> = known.keys().filter(|n| !failed.contains_key(*n)).collect();
    let total = cases.len();
    let line = format!(
        "conformance: {} passed of {total} ({} known failures listed in {KNOWN_FAILURES_PATH})",
        total - failed.len(),
        known.len(),
    );
    // Written to stderr directly, past the test harness's capture, so that `cargo test`
    // shows it.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
    assert!(
        unexpected.is_empty(),
        "{line}\ncases failing that KNOWN_FAILURES.md does not list:\n{}",
        unexpected.join("\n")
    );
    assert!(
        fixed.is_empty(),
        "{line}\nlisted in KNOWN_FAILURES.md but passing or absent (remove them): {fixed:?}"
    );
}

fn execution_name(i: usize) -> String {
    format!("case-{i}")
}
