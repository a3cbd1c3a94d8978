//! Paths (ASL "Paths" and "Reference Paths"): JSONPath expressions beginning with `$`
//! (the state input) or `$$` (the context object).
//!
//! Queries use `serde_json_path` (RFC 9535); a definite path (only names and indexes)
//! selects one value, an indefinite one (wildcards, slices, filters, descendants) selects the
//! array of its matches, as Step Functions (Jayway JsonPath) does.

use serde_json::Value;

/// A path that failed to parse or to select. `message` says what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct PathError {
    pub path: String,
    pub message: String,
}

/// A compiled path: `$…` reads the state input, `$$…` the context object.
#[derive(Debug, Clone)]
pub struct Path {
    text: String,
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, PathError> {
        todo!("{text}")
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `$` alone: selects the whole input (the common case, kept cheap).
    pub fn is_root(&self) -> bool {
        todo!()
    }

    /// Whether the path reads the context object (`$$`).
    pub fn is_context(&self) -> bool {
        todo!()
    }

    /// Selects from `input` (or from `context` for `$$` paths). A definite path that matches
    /// nothing is an error; an indefinite one returns the (possibly empty) array of matches.
    pub fn select(&self, input: &Value, context: &Value) -> Result<Value, PathError> {
        todo!("{input}{context}")
    }
}

/// A reference path: `$` followed only by `.name`, `['name']` and `[index]` steps, which
/// identifies a single node (ResultPath, Choice `Variable`).
#[derive(Debug, Clone)]
pub struct ReferencePath {
    text: String,
}

impl ReferencePath {
    pub fn parse(text: &str) -> Result<ReferencePath, PathError> {
        todo!("{text}")
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Places `value` at this path inside `target` and returns the result, creating missing
    /// object members on the way (ResultPath semantics). A step through a value that is not
    /// an object (or an array index out of range) is an error: the interpreter reports it as
    /// `States.ResultPathMatchFailure`.
    pub fn set(&self, target: Value, value: Value) -> Result<Value, PathError> {
        todo!("{target}{value}")
    }
}
