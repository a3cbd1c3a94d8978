//! Payload templates (`Parameters`, `ItemSelector`, `ResultSelector`, `ItemReader.Parameters`,
//! `ResultWriter.Parameters`, `ItemBatcher.BatchInput`): JSON whose keys ending in `.$` take
//! their value from a path or an intrinsic function call.

use serde_json::Value;

use crate::error::StatesError;

/// A problem found while compiling a template; `at` is the JSON path of the offending field
/// relative to the template (for example `.Payload.$` or `.items[2].x.$`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {message}")]
pub struct TemplateError {
    pub at: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Template {
    source: Value,
}

impl Template {
    /// Compiles a template, reporting every bad `.$` value (not a path, not a known
    /// intrinsic, wrong argument count, a `.$` key whose value is not a string).
    pub fn compile(value: &Value) -> Result<Template, Vec<TemplateError>> {
        todo!("{value}")
    }

    /// Compiles one dynamic expression: a path or an intrinsic call (the value of a `.$` key,
    /// or of `ErrorPath`/`CausePath`).
    pub fn expression(text: &str) -> Result<Template, Vec<TemplateError>> {
        todo!("{text}")
    }

    /// Renders against the effective input and the context object. A path that matches
    /// nothing fails with `States.ParameterPathFailure`; a failing intrinsic with
    /// `States.IntrinsicFailure`; the causes name the field and the path.
    pub fn render(&self, input: &Value, context: &Value) -> Result<Value, StatesError> {
        todo!("{input}{context}")
    }

    pub fn source(&self) -> &Value {
        &self.source
    }
}
