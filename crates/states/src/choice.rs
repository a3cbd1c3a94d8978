//! Choice rules: comparisons, `And`/`Or`/`Not`, type tests, as the spec's "Choice Rules"
//! section defines them.

use serde_json::Value;

use crate::error::StatesError;
use crate::path::Path;

/// A boolean expression over the state input.
#[derive(Debug, Clone)]
pub enum ChoiceRule {
    And(Vec<ChoiceRule>),
    Or(Vec<ChoiceRule>),
    Not(Box<ChoiceRule>),
    Compare {
        variable: Path,
        op: Comparison,
        operand: Operand,
    },
}

/// The comparison operators (without their `Path` suffix: that is [`Operand::Path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

/// The right-hand side: a literal, or a path into the input (`StringEqualsPath`, …).
#[derive(Debug, Clone)]
pub enum Operand {
    Value(Value),
    Path(Path),
}

impl ChoiceRule {
    /// Evaluates against the effective input (and the context object for `$$` paths).
    pub fn matches(&self, input: &Value, context: &Value) -> Result<bool, StatesError> {
        todo!("{input}{context}")
    }
}
