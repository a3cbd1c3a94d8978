//! sluice-states: a Step Functions engine.
//!
//! It runs Amazon States Language definitions in both query languages, JSONPath and JSONata
//! (per definition or per state), with workflow variables (`Assign`, `$name`), callback tasks
//! (`.waitForTaskToken`, heartbeats), durable execution history in SQLite, retries, catches,
//! timeouts, the service's limits and AWS-faithful redrive. It knows nothing about ingestion:
//! Task resources are bound to [`TaskHandler`]s by the embedding program.
//!
//! # Public API
//!
//! - [`Engine`] (`open`, `with_clock`, `with_objects`, `start`, `redrive`, `describe`,
//!   `list`, `history`, `wait`, `send_task_success|failure|heartbeat`), [`StartRequest`],
//!   [`Outcome`], [`EngineError`]; [`engine::check_name`], [`engine::not_redrivable`];
//! - [`Execution`], [`Status`], [`store::ExecutionStore`] (the store beneath, for counts and
//!   lists), [`history::Event`] as GetExecutionHistory shows it;
//! - [`Registry`], [`TaskHandler`], [`TaskCall`], [`EchoHandler`], [`ShellHandler`];
//! - [`StatesError`] and the `States.*` names in [`error::names`];
//! - [`parse_definition`], [`Definition`], [`Problem`]/[`Problems`],
//!   [`parse::substitute`] (definition substitutions);
//! - [`Clock`], [`SystemClock`], [`ManualClock`]; [`items::Objects`], [`items::DirObjects`]
//!   (the bucket a distributed Map reads and writes).
//!
//! # Layout
//!
//! - `parse/`: strict JSON and the static checks, building the typed `model`;
//! - `path`, `template`, `intrinsic/` (parse, eval), `choice`: JSONPath paths, payload
//!   templates, intrinsic functions and choice rules; `jsonata`: `{% … %}` expressions;
//! - `variables`: workflow variables, their scopes, the bindings expressions read;
//! - `engine` (the public face), `services` (what a run is given: store, tasks, clock,
//!   bucket), `run/` (the interpreter: a machine state by state, then `task`, `parallel`,
//!   `map`, `wait`, and `io` for input and output processing), `callback` (task tokens),
//!   `retry`, `resume` (where a redrive resumes), `items` (ItemReader, ItemBatcher);
//! - `store` (with `store/tokens`), `history`: the SQLite executions, their events, task
//!   tokens; `task`: handlers; `clock`: the injectable clock; `error`: `StatesError`.
//!
//! Dependencies point one way: `engine` → `run` → `services`, never back.

mod callback;
mod choice;
pub mod clock;
pub mod engine;
pub mod error;
pub mod history;
mod intrinsic;
pub mod items;
mod jsonata;
mod model;
pub mod parse;
mod path;
mod resume;
mod retry;
mod run;
mod services;
pub mod store;
mod task;
mod template;
mod variables;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, EngineError, Outcome, StartRequest};
pub use error::StatesError;
pub use model::Definition;
pub use parse::{parse_definition, Problem, Problems};
pub use store::{Execution, Status};
pub use task::{EchoHandler, Registry, ShellHandler, TaskCall, TaskHandler, MAX_PAYLOAD_BYTES};
