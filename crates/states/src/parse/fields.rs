//! The field tables of JSONPath states: which fields each state type allows (the spec's
//! "Required & allowed fields" table and the developer guide), the fields Step Functions
//! knows that this engine refuses with a reason, and the Choice comparison operators with
//! the operand type each takes.

use super::*;

/// Fields allowed per state type: the spec's "Required & allowed fields" table, plus the
/// type-specific fields of each state's section and of the developer guide (Map's distributed
/// fields, Task's `…Path` timeouts, `QueryLanguage` with the value `JSONPath`).
pub(super) fn allowed_fields(ty: &str) -> &'static [&'static str] {
    match ty {
        "Pass" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultPath",
            "Result",
        ],
        "Task" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
        ],
        "Choice" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Choices",
            "Default",
        ],
        "Wait" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
        ],
        "Succeed" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "InputPath",
            "OutputPath",
        ],
        "Fail" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Error",
            "ErrorPath",
            "Cause",
            "CausePath",
        ],
        "Parallel" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "Branches",
        ],
        "Map" => &[
            "Type",
            "Comment",
            "QueryLanguage",
            "Assign",
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Parameters",
            "ResultSelector",
            "ResultPath",
            "Retry",
            "Catch",
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ItemReader",
            "ItemBatcher",
            "ResultWriter",
            "Label",
        ],
        _ => &["Type", "Comment"],
    }
}

/// Fields Step Functions knows but this engine does not implement.
pub(super) fn unsupported(key: &str) -> Option<String> {
    match key {
        "Arguments" | "Output" | "Items" | "Condition" | "ItemsPointer" => Some(format!(
            "`{key}` belongs to the JSONata query language: set `\"QueryLanguage\": \"JSONata\"` \
             on the state or the definition to use it"
        )),
        "Credentials" => {
            Some("`Credentials` (cross-account tasks) is not supported by this engine".into())
        }
        _ => None,
    }
}

/// The comparison operators: name, comparison and the operand type it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OperandKind {
    String,
    Pattern,
    Number,
    Boolean,
    Timestamp,
    Test,
}

pub(super) const OPERATORS: &[(&str, Comparison, OperandKind)] = {
    use Comparison as C;
    use OperandKind as K;
    &[
        ("StringEquals", C::StringEquals, K::String),
        ("StringLessThan", C::StringLessThan, K::String),
        ("StringGreaterThan", C::StringGreaterThan, K::String),
        ("StringLessThanEquals", C::StringLessThanEquals, K::String),
        (
            "StringGreaterThanEquals",
            C::StringGreaterThanEquals,
            K::String,
        ),
        ("StringMatches", C::StringMatches, K::Pattern),
        ("NumericEquals", C::NumericEquals, K::Number),
        ("NumericLessThan", C::NumericLessThan, K::Number),
        ("NumericGreaterThan", C::NumericGreaterThan, K::Number),
        ("NumericLessThanEquals", C::NumericLessThanEquals, K::Number),
        (
            "NumericGreaterThanEquals",
            C::NumericGreaterThanEquals,
            K::Number,
        ),
        ("BooleanEquals", C::BooleanEquals, K::Boolean),
        ("TimestampEquals", C::TimestampEquals, K::Timestamp),
        ("TimestampLessThan", C::TimestampLessThan, K::Timestamp),
        (
            "TimestampGreaterThan",
            C::TimestampGreaterThan,
            K::Timestamp,
        ),
        (
            "TimestampLessThanEquals",
            C::TimestampLessThanEquals,
            K::Timestamp,
        ),
        (
            "TimestampGreaterThanEquals",
            C::TimestampGreaterThanEquals,
            K::Timestamp,
        ),
        ("IsNull", C::IsNull, K::Test),
        ("IsPresent", C::IsPresent, K::Test),
        ("IsNumeric", C::IsNumeric, K::Test),
        ("IsString", C::IsString, K::Test),
        ("IsBoolean", C::IsBoolean, K::Test),
        ("IsTimestamp", C::IsTimestamp, K::Test),
    ]
};

/// A comparison operator by name: its comparison, operand type and whether it is the `…Path`
/// form. `StringMatches` and the `Is…` tests have no `…Path` form.
pub(super) fn operator(key: &str) -> Option<(Comparison, OperandKind, bool)> {
    if let Some(&(_, c, k)) = OPERATORS.iter().find(|(name, ..)| *name == key) {
        return Some((c, k, false));
    }
    let stem = key.strip_suffix("Path")?;
    OPERATORS
        .iter()
        .find(|(name, _, k)| {
            *name == stem && !matches!(k, OperandKind::Pattern | OperandKind::Test)
        })
        .map(|&(_, c, k)| (c, k, true))
}
