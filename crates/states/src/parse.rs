//! Parsing and static checks of a definition: strict JSON (duplicate keys are errors, not
//! silently the last), then every field checked against its state type, reporting every
//! problem with its JSON path.

use crate::model::Definition;

/// One problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending field, e.g. `$.States.Filter.Retry[0].ErrorEquals`.
    pub path: String,
    pub message: String,
}

/// Every problem found, in document order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Problems(pub Vec<Problem>);

fn render(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses and checks a definition (JSONPath query language).
pub fn parse_definition(text: &str) -> Result<Definition, Problems> {
    todo!("{text}")
}
