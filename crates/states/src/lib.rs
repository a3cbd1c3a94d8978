//! sluice-states: a Step Functions engine.
//!
//! It runs Amazon States Language definitions in both query languages, JSONPath and JSONata
//! (per definition or per state), with workflow variables (`Assign`, `$name`), durable
//! execution history in SQLite, retries, catches, timeouts and AWS-faithful redrive. It
//! knows nothing about ingestion: Task resources are bound to [`task::TaskHandler`]s by the
//! embedding program.
//!
//! # Layout
//!
//! - [`parse`]: strict JSON and the static checks, building the typed [`model`];
//! - [`path`], [`template`], [`intrinsic`], [`choice`]: JSONPath paths, payload templates,
//!   intrinsic functions and choice rules; [`jsonata`]: `{% … %}` expressions and templates;
//! - [`variables`]: workflow variables and their scopes, and the bindings expressions read;
//! - [`engine`] (start, redrive, describe), the interpreter `run` (private), [`retry`],
//!   [`resume`] (where a redrive resumes), [`items`] (ItemReader, ItemBatcher);
//! - [`store`], [`history`]: the SQLite executions and their events; [`task`]: handlers;
//!   [`clock`]: the injectable clock; [`error`]: `StatesError` and the `States.*` names.

pub mod callback;
pub mod choice;
pub mod clock;
pub mod engine;
pub mod error;
pub mod history;
pub mod intrinsic;
pub mod items;
pub mod jsonata;
pub mod model;
pub mod parse;
pub mod path;
pub mod resume;
pub mod retry;
mod run;
pub mod store;
pub mod task;
pub mod template;
pub mod variables;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Engine, EngineError, Outcome, StartRequest};
pub use error::StatesError;
pub use model::Definition;
pub use parse::{parse_definition, Problem, Problems};
pub use store::{Execution, Status};
pub use task::{EchoHandler, Registry, ShellHandler, TaskCall, TaskHandler};
