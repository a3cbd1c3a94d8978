//! Intrinsic functions (`States.Format`, `States.Array`, … `States.UUID`): a small parser for
//! the call syntax and an evaluator, as the Step Functions developer guide's "Intrinsic
//! functions" chapter defines them.

use serde_json::Value;

use crate::error::StatesError;

/// A compiled intrinsic call, for example `States.Format('Hello, {}', $.name)`.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    text: String,
}

impl Intrinsic {
    /// Parses a call; the error says what is wrong and where (unknown function, wrong number
    /// of arguments, unbalanced quotes or parentheses, a bad path argument).
    pub fn parse(text: &str) -> Result<Intrinsic, String> {
        todo!("{text}")
    }

    /// Evaluates against the effective input and the context object; failures are
    /// `States.IntrinsicFailure` with a cause naming the function.
    pub fn eval(&self, input: &Value, context: &Value) -> Result<Value, StatesError> {
        todo!("{input}{context}{}", self.text)
    }
}

/// Whether a `.$` value is an intrinsic call rather than a path.
pub fn is_intrinsic(text: &str) -> bool {
    text.trim_start().starts_with("States.")
}
