//! The typed form of a state machine definition, built by [`crate::parse`] from checked JSON.
//!
//! Every path, payload template and intrinsic is compiled once at parse time, so the
//! interpreter never re-parses a string on the hot path and a definition that parsed cannot
//! fail later for a reason the static checks could have found.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::choice::ChoiceRule;
use crate::jsonata;
use crate::path::{Path, ReferencePath};
use crate::template::Template;

/// A whole definition: the top-level machine plus its own settings.
#[derive(Debug, Clone)]
pub struct Definition {
    pub comment: Option<String>,
    /// `TimeoutSeconds` of the whole execution.
    pub timeout_seconds: Option<u64>,
    pub machine: Arc<Machine>,
    /// Whether some path may read `$$.Execution.Input`. When none does, the context object
    /// is built without the input (a copy per state of a large input would make a Map
    /// quadratic).
    pub context_reads_input: bool,
}

/// A set of states with a start: the top level, a Parallel branch or a Map item processor.
#[derive(Debug, Clone)]
pub struct Machine {
    pub start_at: String,
    pub states: HashMap<String, Arc<State>>,
}

impl Machine {
    pub fn state(&self, name: &str) -> Option<&Arc<State>> {
        self.states.get(name)
    }
}

/// One state: the fields every type shares, then its type-specific body.
///
/// Fields a state type does not allow are rejected by the parser, so the interpreter may rely
/// on them being at their defaults here (for example `result_path` of a Choice is `Replace`).
#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub comment: Option<String>,
    /// `InputPath`: `None` means the field was JSON `null` (the state sees `{}`).
    /// Absent means `$`.
    pub input_path: Option<Path>,
    /// `OutputPath`: `None` means JSON `null` (the state outputs `{}`). Absent means `$`.
    pub output_path: Option<Path>,
    /// `Parameters` (Task, Pass, Parallel; for Map the legacy name of `ItemSelector`,
    /// which the parser moves to [`Map::item_selector`]).
    pub parameters: Option<Template>,
    /// `ResultSelector` (Task, Parallel, Map).
    pub result_selector: Option<Template>,
    pub result_path: ResultPath,
    pub transition: Transition,
    /// `Retry` (Task, Parallel, Map), in definition order.
    pub retry: Vec<Retrier>,
    /// `Catch` (Task, Parallel, Map), in definition order.
    pub catch: Vec<Catcher>,
    /// `Assign` (every type but Succeed and Fail): the variables set when the state exits.
    /// In a Choice state it applies when `Default` is taken; each rule has its own.
    pub assign: Option<Assign>,
    /// Set when the state's query language is JSONata: its `Arguments` and `Output`. The
    /// JSONPath fields above are then at their defaults (the parser refuses them).
    pub jsonata: Option<Box<JsonataIo>>,
    pub body: Body,
}

/// The input and output fields of a JSONata state.
#[derive(Debug, Clone, Default)]
pub struct JsonataIo {
    /// `Arguments` (Task, Parallel): what the task or the branches get instead of the input.
    pub arguments: Option<jsonata::Template>,
    /// `Output`: the state output instead of its result (or of its input, for states
    /// without a result).
    pub output: Option<jsonata::Template>,
}

/// `Assign` in either query language.
#[derive(Debug, Clone)]
pub enum Assign {
    /// JSONPath: a payload template; `$` is the state's result (or input, or error output).
    Paths(Template),
    /// JSONata: values with `{% … %}` expressions over `$states`.
    Jsonata(jsonata::Template),
}

/// Where the state goes when it is done. Choice, Succeed and Fail use `Terminal`: Choice picks
/// its own next state, Succeed and Fail end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Next(String),
    End,
    Terminal,
}

/// `ResultPath`.
#[derive(Debug, Clone)]
pub enum ResultPath {
    /// Absent or `$`: the result replaces the input.
    Replace,
    /// JSON `null`: the result is discarded and the state input passes through.
    Discard,
    /// A reference path into the state input where the result is placed.
    At(ReferencePath),
}

#[derive(Debug, Clone)]
pub enum Body {
    Pass {
        /// `Result`: the state's result instead of its (processed) input.
        result: Option<Value>,
    },
    Task(Task),
    Choice(Choice),
    Wait(Wait),
    Succeed,
    Fail(Fail),
    Parallel(Parallel),
    Map(Box<Map>),
}

impl Body {
    /// The state type's name as it appears in `Type` and in history event names.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::Pass { .. } => "Pass",
            Body::Task(_) => "Task",
            Body::Choice(_) => "Choice",
            Body::Wait(_) => "Wait",
            Body::Succeed => "Succeed",
            Body::Fail(_) => "Fail",
            Body::Parallel(_) => "Parallel",
            Body::Map(_) => "Map",
        }
    }
}

/// A number of seconds given literally or read from the state input by a path
/// (`TimeoutSeconds`/`TimeoutSecondsPath`, `MaxConcurrency`/`MaxConcurrencyPath`, …).
#[derive(Debug, Clone)]
pub enum Count {
    Literal(u64),
    Path(Path),
    /// JSONata: `{% … %}` over `$states.input`.
    Expression(jsonata::Expression),
}

#[derive(Debug, Clone)]
pub struct Task {
    /// The resource string after definition substitutions; bound to a handler at run time.
    pub resource: String,
    pub timeout: Option<Count>,
    pub heartbeat: Option<Count>,
}

#[derive(Debug, Clone)]
pub struct Choice {
    pub choices: Vec<ChoiceBranch>,
    pub default: Option<String>,
}

/// One element of `Choices`: a rule and where to go when it matches.
#[derive(Debug, Clone)]
pub struct ChoiceBranch {
    pub rule: ChoiceRule,
    /// `Assign` of the rule: applied when this rule is the one that matched.
    pub assign: Option<Assign>,
    pub next: String,
}

#[derive(Debug, Clone)]
pub enum Wait {
    Seconds(u64),
    Timestamp(DateTime<FixedOffset>),
    SecondsPath(Path),
    TimestampPath(Path),
    /// JSONata `Seconds`: `{% … %}` yielding a non-negative integer.
    SecondsExpression(jsonata::Expression),
    /// JSONata `Timestamp`: `{% … %}` yielding an RFC 3339 timestamp.
    TimestampExpression(jsonata::Expression),
}

#[derive(Debug, Clone)]
pub struct Fail {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

/// A string given literally or read by a path (`Error`/`ErrorPath`, `Cause`/`CausePath`).
/// A path may also be an intrinsic function call, as AWS allows for `ErrorPath`/`CausePath`.
#[derive(Debug, Clone)]
pub enum Text {
    Literal(String),
    Dynamic(Template),
    /// JSONata `Error`/`Cause`: a `{% … %}` expression.
    Jsonata(jsonata::Expression),
}

#[derive(Debug, Clone)]
pub struct Parallel {
    pub branches: Vec<Arc<Machine>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapMode {
    Inline,
    Distributed,
}

#[derive(Debug, Clone)]
pub struct Map {
    /// `ItemsPath`; absent means `$` (the effective input must be an array).
    pub items_path: Option<Path>,
    /// JSONata `Items`: an array, or an expression yielding one; absent means the input.
    pub items: Option<jsonata::Template>,
    /// JSONata `ItemSelector`, with `$states.context.Map.Item` per item.
    pub item_selector_jsonata: Option<jsonata::Template>,
    /// `ItemSelector` (or the legacy `Parameters` of a Map): evaluated per item, with
    /// `$$.Map.Item.Index` and `$$.Map.Item.Value` in the context object.
    pub item_selector: Option<Template>,
    /// `ItemProcessor` (or the legacy `Iterator`).
    pub processor: Arc<Machine>,
    pub mode: MapMode,
    /// `MaxConcurrency`/`MaxConcurrencyPath`; 0 or absent means no limit.
    pub max_concurrency: Option<Count>,
    /// `ToleratedFailureCount`/`…Path`.
    pub tolerated_failure_count: Option<Count>,
    /// `ToleratedFailurePercentage`/`…Path` (0–100).
    pub tolerated_failure_percentage: Option<Percentage>,
    pub item_reader: Option<ItemReader>,
    pub item_batcher: Option<ItemBatcher>,
    pub result_writer: Option<ResultWriter>,
    pub label: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Percentage {
    Literal(f64),
    Path(Path),
    /// JSONata: `{% … %}` over `$states.input`.
    Expression(jsonata::Expression),
}

/// The input type of an `ItemReader` over one object (`arn:aws:states:::s3:getObject`), or a
/// listing (`arn:aws:states:::s3:listObjectsV2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemInput {
    Json,
    Jsonl,
    Csv,
    /// `s3:listObjectsV2`: one item per object (`Key`, `Etag`, `Size`, `LastModified`).
    Listing,
}

#[derive(Debug, Clone)]
pub struct ItemReader {
    pub input: ItemInput,
    /// `Parameters` (or `Arguments`): evaluates to `{"Bucket": …, "Key": …}` or, for a
    /// listing, `{"Bucket": …, "Prefix": …}`.
    pub parameters: Template,
    /// `ReaderConfig.CSVHeaderLocation` is `GIVEN`: these headers; `FIRST_ROW`: `None`.
    pub csv_headers: Option<Vec<String>>,
    /// `ReaderConfig.MaxItems`/`MaxItemsPath`.
    pub max_items: Option<Count>,
}

#[derive(Debug, Clone)]
pub struct ItemBatcher {
    pub max_items_per_batch: Option<Count>,
    pub max_input_bytes_per_batch: Option<Count>,
    /// `BatchInput`: merged into every batch object beside `Items`.
    pub batch_input: Option<Template>,
}

#[derive(Debug, Clone)]
pub struct ResultWriter {
    /// Evaluates to `{"Bucket": …, "Prefix": …}`.
    pub parameters: Template,
}

/// One element of `Retry`.
#[derive(Debug, Clone)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

impl Default for Retrier {
    /// The defaults the spec gives: 1 s, 3 attempts, rate 2.0, no cap, no jitter.
    fn default() -> Self {
        Retrier {
            error_equals: Vec::new(),
            interval_seconds: 1,
            max_attempts: 3,
            backoff_rate: 2.0,
            max_delay_seconds: None,
            jitter: Jitter::None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

/// One element of `Catch`.
#[derive(Debug, Clone)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    /// Where the error output `{"Error": …, "Cause": …}` goes; absent means `$`.
    pub result_path: ResultPath,
    /// `Assign`: evaluated against the error output, replacing the state's own `Assign`.
    pub assign: Option<Assign>,
    /// JSONata `Output`: the state output when this catcher handles the error (absent: the
    /// error output).
    pub output: Option<jsonata::Template>,
    pub next: String,
}

/// Whether an error name is matched by an `ErrorEquals` list: `States.ALL` matches every
/// error except `States.Runtime`, and `States.TaskFailed` matches every error except
/// `States.Timeout`... as the spec's "Error names" section says.
pub fn error_matches(error_equals: &[String], error: &str) -> bool {
    error_equals.iter().any(|name| match name.as_str() {
        "States.ALL" => error != crate::error::names::RUNTIME,
        // A heartbeat timeout is a timeout (the spec: "fails the state with a
        // States.Timeout"); `States.HeartbeatTimeout` names it alone.
        "States.Timeout" => {
            error == crate::error::names::TIMEOUT || error == crate::error::names::HEARTBEAT_TIMEOUT
        }
        "States.TaskFailed" => {
            error != crate::error::names::TIMEOUT
                && error != crate::error::names::RUNTIME
                && !error.starts_with("States.")
                || error == crate::error::names::TASK_FAILED
        }
        other => other == error,
    })
}
