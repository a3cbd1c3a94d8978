//! The conformance corpus: a table of cases, each a definition, an input, the task replies it
//! needs (canned, as recorded from the service) and what AWS gives (an output, an error, or a
//! refusal at load, optionally the shape of the history), with the source of that expectation
//! beside it. One module per family.
//!
//! Sources are cited as "spec, <section>" (the Amazon States Language at
//! states-language.net), "guide, <page>" (the AWS Step Functions developer guide), "api,
//! <action>" (the Step Functions API reference), "recorded, <test>[<case>]" (LocalStack's
//! Step Functions snapshot files, recorded against AWS) and "jsonata, <page>" (the JSONata
//! documentation at docs.jsonata.org, whose function library the JSONata guide says Step
//! Functions runs).
//!
//! [`corpus_matches_aws`] runs every case on one engine and prints one line; it fails when a
//! case fails that `KNOWN_FAILURES.md` does not list, or a listed one passes.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sluice_states::clock::ManualClock;
use sluice_states::{Engine, EngineError, Registry, StartRequest, StatesError, Status};
use sluice_states::{TaskCall, TaskHandler};

mod callbacks;
mod choice;
mod context;
mod errors;
mod intrinsics;
mod jsonata;
mod limits;
mod load;
mod map;
mod parallel;
mod pass;
mod paths;
mod recorded_intrinsics;
mod task;
mod variables;
mod wait;

/// Where the known failures are listed, as the summary line names it.
const KNOWN_FAILURES_PATH: &str = "crates/states/tests/conformance/KNOWN_FAILURES.md";
const KNOWN_FAILURES: &str = include_str!("../KNOWN_FAILURES.md");

/// One reply of a canned task, in call order; the last one repeats.
#[derive(Debug, Clone)]
pub enum Reply {
    Ok(Value),
    Err(&'static str, &'static str),
    /// Never answers (for timeouts).
    Hang,
    /// A callback task's request: the service answers `{"MessageId": …}` at once and,
    /// meanwhile, the callback is sent with the task's token.
    Callback(Callback),
}

/// What is sent back with a callback task's token.
#[derive(Debug, Clone)]
pub enum Callback {
    Success(Value),
    /// `SendTaskSuccess` with the task's input as the output.
    SuccessWithInput,
    Failure(&'static str, &'static str),
    /// `SendTaskHeartbeat`, then `SendTaskSuccess`.
    HeartbeatThenSuccess(Value),
    /// Nothing: the task waits until it times out.
    Nothing,
}

/// What AWS gives for a case.
pub enum Expect {
    Output(Value),
    /// The output satisfies a predicate (random values: UUIDs, MathRandom).
    OutputWhere(&'static str, fn(&Value) -> bool),
    /// The execution fails with this error, its cause containing the text (if given).
    Fails(&'static str, Option<&'static str>),
    /// The definition is refused at load, a problem containing the text.
    Refused(&'static str),
    /// The execution fails; `after` later, RedriveExecution refuses it with this reason.
    RedriveRefused {
        after: Duration,
        reason: &'static str,
    },
    /// The execution fails; `after` later, a redrive ends it with this output.
    Redriven {
        after: Duration,
        output: Value,
    },
}

pub struct Case {
    pub name: String,
    pub source: &'static str,
    pub definition: Value,
    pub input: Value,
    pub replies: Vec<(&'static str, Vec<Reply>)>,
    pub expect: Expect,
    /// The event types of the history, in order, when the case asserts its shape.
    pub history: Option<Vec<&'static str>>,
    /// How many events the history holds and the types of its last ones.
    pub history_end: Option<(usize, Vec<&'static str>)>,
}

/// A case named `name` in its family, from `source`, running `definition` on `{}`.
pub fn case(name: &str, source: &'static str, definition: Value) -> Case {
    Case {
        name: name.to_string(),
        source,
        definition,
        input: json!({}),
        replies: Vec::new(),
        expect: Expect::Output(json!({})),
        history: None,
        history_end: None,
    }
}

impl Case {
    pub fn input(mut self, input: Value) -> Self {
        self.input = input;
        self
    }

    pub fn output(mut self, output: Value) -> Self {
        self.expect = Expect::Output(output);
        self
    }

    pub fn output_where(mut self, what: &'static str, test: fn(&Value) -> bool) -> Self {
        self.expect = Expect::OutputWhere(what, test);
        self
    }

    pub fn fails(mut self, error: &'static str) -> Self {
        self.expect = Expect::Fails(error, None);
        self
    }

    pub fn fails_with(mut self, error: &'static str, cause: &'static str) -> Self {
        self.expect = Expect::Fails(error, Some(cause));
        self
    }

    pub fn refused(mut self, problem: &'static str) -> Self {
        self.expect = Expect::Refused(problem);
        self
    }

    pub fn reply(mut self, resource: &'static str, replies: Vec<Reply>) -> Self {
        self.replies.push((resource, replies));
        self
    }

    pub fn history(mut self, kinds: &[&'static str]) -> Self {
        self.history = Some(kinds.to_vec());
        self
    }

    pub fn history_end(mut self, len: usize, last: &[&'static str]) -> Self {
        self.history_end = Some((len, last.to_vec()));
        self
    }

    pub fn redrive_refused(mut self, after: Duration, reason: &'static str) -> Self {
        self.expect = Expect::RedriveRefused { after, reason };
        self
    }

    pub fn redriven(mut self, after: Duration, output: Value) -> Self {
        self.expect = Expect::Redriven { after, output };
        self
    }
}

/// Names every case of a family `family/name`.
fn family(name: &str, cases: Vec<Case>) -> Vec<Case> {
    cases
        .into_iter()
        .map(|mut c| {
            c.name = format!("{name}/{}", c.name);
            c
        })
        .collect()
}

fn all_cases() -> Vec<Case> {
    [
        family("pass", pass::cases()),
        family("paths", paths::cases()),
        family("task", task::cases()),
        family("choice", choice::cases()),
        family("wait", wait::cases()),
        family("parallel", parallel::cases()),
        family("map", map::cases()),
        family("intrinsics", intrinsics::cases()),
        family("recorded_intrinsics", recorded_intrinsics::cases()),
        family("errors", errors::cases()),
        family("context", context::cases()),
        family("variables", variables::cases()),
        family("jsonata", jsonata::cases()),
        family("limits", limits::cases()),
        family("callbacks", callbacks::cases()),
        family("load", load::cases()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

// Definitions the families share.

/// A one-state machine.
pub fn single(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

/// A one-state JSONata machine.
pub fn single_jsonata(state: Value) -> Value {
    json!({"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": state}})
}

/// A Pass state whose Parameters are `{"r.$": expression}`: its output is `{"r": value}`.
pub fn intrinsic(expression: &str) -> Value {
    single(json!({"Type": "Pass", "Parameters": {"r.$": expression}, "End": true}))
}

/// A JSONata Pass state whose output is the expression's value.
pub fn jsonata_output(expression: &str) -> Value {
    single_jsonata(json!({"Type": "Pass", "Output": format!("{{% {expression} %}}"), "End": true}))
}

/// A Choice state with one rule to `Yes` (output "yes"), else `No` (output "no").
pub fn choice_rule(rule: Value) -> Value {
    let mut rule = rule;
    rule["Next"] = json!("Yes");
    json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [rule], "Default": "No"},
        "Yes": {"Type": "Pass", "Result": "yes", "End": true},
        "No": {"Type": "Pass", "Result": "no", "End": true}
    }})
}

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
        Expect::RedriveRefused { after, reason } => {
            if e.status != Status::Failed {
                return Err(format!("{:?}, want FAILED before the redrive", e.status));
            }
            clock.advance(*after);
            match engine.redrive(execution).await {
                Err(EngineError::ExecutionNotRedrivable { reason: got, .. }) if got == *reason => {}
                Err(other) => return Err(format!("redrive refused with {other}, want '{reason}'")),
                Ok(e) => {
                    return Err(format!(
                        "redriven ({:?}), want refused: '{reason}'",
                        e.status
                    ))
                }
            }
        }
        Expect::Redriven { after, output } => {
            if e.status != Status::Failed {
                return Err(format!("{:?}, want FAILED before the redrive", e.status));
            }
            clock.advance(*after);
            match engine.redrive(execution).await {
                Ok(e) if e.output.as_ref() == Some(output) => {}
                Ok(e) => {
                    return Err(format!(
                        "redriven to {:?} {:?}, want {output}",
                        e.status, e.output
                    ))
                }
                Err(err) => return Err(format!("redrive refused: {err}")),
            }
        }
    }
    let kinds = || async {
        engine
            .history(execution)
            .await
            .map(|h| h.into_iter().map(|e| e.kind).collect::<Vec<String>>())
            .map_err(|e| e.to_string())
    };
    if let Some(want) = &case.history {
        let got = kinds().await?;
        if got != *want {
            return Err(format!("history {got:?}, want {want:?}"));
        }
    }
    if let Some((len, last)) = &case.history_end {
        let got = kinds().await?;
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
