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
//! `runner::corpus_matches_aws` runs every case on one engine and prints one line; it fails
//! when a case fails that `KNOWN_FAILURES.md` does not list, or a listed one passes.

use std::time::Duration;

use serde_json::{json, Value};

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
mod runner;
mod task;
mod variables;
mod wait;

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

pub(super) fn all_cases() -> Vec<Case> {
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
