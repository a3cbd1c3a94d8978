//! sluice-states: a Step Functions engine.
//!
//! It runs Amazon States Language definitions (JSONPath query language) with durable
//! execution history in SQLite, retries, catches, timeouts and AWS-faithful redrive. It
//! knows nothing about ingestion: Task resources are bound to [`task::TaskHandler`]s by the
//! embedding program.

pub mod choice;
pub mod error;
pub mod intrinsic;
pub mod model;
pub mod parse;
pub mod path;
pub mod template;

pub use error::StatesError;
pub use model::Definition;
pub use parse::{parse_definition, Problem, Problems};
