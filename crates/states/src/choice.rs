//! Choice rules: comparisons, `And`/`Or`/`Not`, type tests, as the spec's "Choice Rules"
//! section defines them.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Number, Value};

use crate::error::StatesError;
use crate::path::Path;
use crate::variables::Bindings;

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
    /// JSONata `Condition`: `{% … %}` yielding a boolean, over `$states.input`.
    Condition(crate::jsonata::Expression),
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
    ///
    /// A `Variable` (or a `…Path` operand) that matches nothing fails with `States.Runtime`,
    /// as Step Functions does, except under `IsPresent`, which is how a definition asks
    /// whether a field is there. Values of the wrong type for a comparison do not match.
    pub fn matches(&self, input: &Value, context: &Bindings) -> Result<bool, StatesError> {
        match self {
            ChoiceRule::And(rules) => {
                for rule in rules {
                    if !rule.matches(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            ChoiceRule::Or(rules) => {
                for rule in rules {
                    if rule.matches(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            ChoiceRule::Not(rule) => Ok(!rule.matches(input, context)?),
            ChoiceRule::Condition(e) => {
                match e.eval(crate::jsonata::States::input(input), context)? {
                    Value::Bool(b) => Ok(b),
                    other => Err(StatesError::new(
                        crate::error::names::QUERY_EVALUATION_ERROR,
                        format!(
                            "The Condition '{}' returned {other}, not a boolean",
                            e.as_str()
                        ),
                    )),
                }
            }
            ChoiceRule::Compare {
                variable,
                op,
                operand,
            } => {
                let value = variable.lookup(input, context);
                if *op == Comparison::IsPresent {
                    return Ok(
                        matches!(operand, Operand::Value(Value::Bool(b)) if *b == value.is_some()),
                    );
                }
                let value = value.ok_or_else(|| invalid_path(variable))?;
                let found;
                let rhs: &Value = match operand {
                    Operand::Value(v) => v,
                    Operand::Path(p) => {
                        found = p.lookup(input, context).ok_or_else(|| invalid_path(p))?;
                        &found
                    }
                };
                Ok(compare(*op, &value, rhs))
            }
        }
    }
}

fn invalid_path(path: &Path) -> StatesError {
    StatesError::runtime(format!(
        "Invalid path '{}': The choice state's condition path references an invalid value.",
        path.as_str()
    ))
}

/// One comparison of a value found in the input with its operand. A type mismatch is `false`.
fn compare(op: Comparison, lhs: &Value, rhs: &Value) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    use Comparison::*;
    let ordered = |ord: Option<Ordering>| -> bool {
        let Some(ord) = ord else { return false };
        match op {
            StringEquals | NumericEquals | TimestampEquals => ord == Equal,
            StringLessThan | NumericLessThan | TimestampLessThan => ord == Less,
            StringGreaterThan | NumericGreaterThan | TimestampGreaterThan => ord == Greater,
            StringLessThanEquals | NumericLessThanEquals | TimestampLessThanEquals => {
                ord != Greater
            }
            StringGreaterThanEquals | NumericGreaterThanEquals | TimestampGreaterThanEquals => {
                ord != Less
            }
            _ => false,
        }
    };
    let test = |is: bool| matches!(rhs, Value::Bool(b) if *b == is);
    match op {
        StringEquals
        | StringLessThan
        | StringGreaterThan
        | StringLessThanEquals
        | StringGreaterThanEquals => match (lhs, rhs) {
            // Rust orders `str` by UTF-8 bytes, which is Unicode code point order.
            (Value::String(a), Value::String(b)) => ordered(Some(a.as_str().cmp(b.as_str()))),
            _ => false,
        },
        StringMatches => match (lhs, rhs) {
            (Value::String(text), Value::String(pattern)) => string_matches(text, pattern),
            _ => false,
        },
        NumericEquals
        | NumericLessThan
        | NumericGreaterThan
        | NumericLessThanEquals
        | NumericGreaterThanEquals => match (lhs, rhs) {
            (Value::Number(a), Value::Number(b)) => ordered(numeric_cmp(a, b)),
            _ => false,
        },
        BooleanEquals => match (lhs, rhs) {
            (Value::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        },
        TimestampEquals
        | TimestampLessThan
        | TimestampGreaterThan
        | TimestampLessThanEquals
        | TimestampGreaterThanEquals => {
            let ts = |v: &Value| v.as_str().and_then(parse_timestamp);
            match (ts(lhs), ts(rhs)) {
                // `DateTime` orders by instant, whatever the offsets.
                (Some(a), Some(b)) => ordered(Some(a.cmp(&b))),
                _ => false,
            }
        }
        IsNull => test(lhs.is_null()),
        IsPresent => test(true),
        IsNumeric => test(lhs.is_number()),
        IsString => test(lhs.is_string()),
        IsBoolean => test(lhs.is_boolean()),
        IsTimestamp => test(lhs.as_str().and_then(parse_timestamp).is_some()),
    }
}

/// Integers compare exactly (as `i128`, so `u64` and negative `i64` mix); anything else as
/// `f64`.
fn numeric_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    let int = |n: &Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    match (int(a), int(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

/// A timestamp as the spec's "Timestamps" section defines it: RFC 3339, with an uppercase
/// `T` between date and time and an uppercase `Z` when there is no numeric offset.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.as_bytes().get(10) != Some(&b'T') || text.ends_with('z') {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    Star,
}

/// Why a `StringMatches` pattern is malformed: only `\*` and `\\` are escapes.
pub(crate) fn check_pattern(pattern: &str) -> Result<(), String> {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('*') | Some('\\') => {}
                Some(other) => {
                    return Err(format!(
                        "`\\{other}` is not an escape: only `\\*` (a literal asterisk) and `\\\\` (a literal backslash) are"
                    ))
                }
                None => return Err("the pattern ends with a lone `\\`".into()),
            }
        }
    }
    Ok(())
}

fn tokens(pattern: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                // Consecutive stars match the same as one.
                if out.last() != Some(&Token::Star) {
                    out.push(Token::Star);
                }
            }
            '\\' => match chars.peek() {
                Some(&next) if next == '*' || next == '\\' => {
                    chars.next();
                    out.push(Token::Char(next));
                }
                // Not an escape (the parser rejects these): the backslash is itself.
                _ => out.push(Token::Char('\\')),
            },
            other => out.push(Token::Char(other)),
        }
    }
    out
}

/// `StringMatches`: `*` matches any run of characters (including none); everything else is
/// literal. Linear-time wildcard matching with backtracking to the last star.
fn string_matches(text: &str, pattern: &str) -> bool {
    let pattern = tokens(pattern);
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Token::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|tok| *tok == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cmp(variable: &str, op: Comparison, operand: Value) -> ChoiceRule {
        ChoiceRule::Compare {
            variable: Path::parse(variable).unwrap(),
            op,
            operand: Operand::Value(operand),
        }
    }

    fn cmp_path(variable: &str, op: Comparison, path: &str) -> ChoiceRule {
        ChoiceRule::Compare {
            variable: Path::parse(variable).unwrap(),
            op,
            operand: Operand::Path(Path::parse(path).unwrap()),
        }
    }

    fn eval(rule: &ChoiceRule, input: Value) -> Result<bool, StatesError> {
        rule.matches(
            &input,
            &Bindings::from(json!({"Execution": {"Name": "e1"}})),
        )
    }

    #[test]
    fn spec_example_not_and_path() {
        // Spec, Choice Rules: the "Not Private" / "ValueInTwenties" / "StartAudit" example.
        use Comparison::*;
        let public = ChoiceRule::Not(Box::new(cmp("$.type", StringEquals, json!("Private"))));
        let twenties = ChoiceRule::And(vec![
            cmp("$.value", IsPresent, json!(true)),
            cmp("$.value", IsNumeric, json!(true)),
            cmp("$.value", NumericGreaterThanEquals, json!(20)),
            cmp("$.value", NumericLessThan, json!(30)),
        ]);
        let audit = cmp_path("$.rating", NumericGreaterThan, "$.auditThreshold");
        assert!(eval(&public, json!({"type": "Public"})).unwrap());
        assert!(!eval(&public, json!({"type": "Private"})).unwrap());
        assert!(eval(&twenties, json!({"value": 25})).unwrap());
        assert!(eval(&twenties, json!({"value": 20.0})).unwrap());
        assert!(!eval(&twenties, json!({"value": 30})).unwrap());
        // IsPresent false short-circuits the And before the numeric tests would fail.
        assert!(!eval(&twenties, json!({})).unwrap());
        assert!(!eval(&twenties, json!({"value": "25"})).unwrap());
        assert!(eval(&audit, json!({"rating": 53, "auditThreshold": 50})).unwrap());
        assert!(!eval(&audit, json!({"rating": 50, "auditThreshold": 50})).unwrap());
    }

    #[test]
    fn spec_example_string_matches() {
        // Spec, Choice Rules: `"StringMatches": "log-*.txt"` matches "log-2016-11-23.txt".
        let rule = cmp("$.foo", Comparison::StringMatches, json!("log-*.txt"));
        assert!(eval(&rule, json!({"foo": "log-2016-11-23.txt"})).unwrap());
        assert!(eval(&rule, json!({"foo": "log-.txt"})).unwrap());
        assert!(!eval(&rule, json!({"foo": "log-1.txt.gz"})).unwrap());
        assert!(string_matches("a*b*c", "*b*"));
        assert!(string_matches("", "*"));
        assert!(!string_matches("", "?"));
        assert!(string_matches("aXbYc", "a*b*c"));
        assert!(!string_matches("acb", "a*b*c"));
        assert!(string_matches("mississippi", "*sip*"));
        // Escapes: `\*` is a literal asterisk, `\\` a literal backslash.
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("a\\b", "a\\\\b"));
        assert!(string_matches("a\\bcd", "a\\\\*d"));
        // No regex: `.` and `?` are literal.
        assert!(!string_matches("ab", "a."));
        assert!(check_pattern("a\\*b\\\\").is_ok());
        assert!(check_pattern("a\\d").is_err());
        assert!(check_pattern("a\\").is_err());
    }

    #[test]
    fn strings_compare_by_code_point() {
        use Comparison::*;
        let input = json!({"s": "banana"});
        assert!(eval(&cmp("$.s", StringEquals, json!("banana")), input.clone()).unwrap());
        assert!(eval(&cmp("$.s", StringLessThan, json!("cherry")), input.clone()).unwrap());
        assert!(eval(
            &cmp("$.s", StringGreaterThan, json!("apple")),
            input.clone()
        )
        .unwrap());
        assert!(eval(
            &cmp("$.s", StringLessThanEquals, json!("banana")),
            input.clone()
        )
        .unwrap());
        assert!(eval(
            &cmp("$.s", StringGreaterThanEquals, json!("banana")),
            input.clone()
        )
        .unwrap());
        assert!(!eval(&cmp("$.s", StringGreaterThanEquals, json!("c")), input).unwrap());
        assert!(eval(&cmp("$.s", StringLessThan, json!("é")), json!({"s": "z"})).unwrap());
    }

    #[test]
    fn type_mismatch_is_false_not_an_error() {
        use Comparison::*;
        let input = json!({"n": 1, "s": "1", "b": true, "z": null});
        assert!(!eval(&cmp("$.n", StringEquals, json!("1")), input.clone()).unwrap());
        assert!(!eval(&cmp("$.s", NumericEquals, json!(1)), input.clone()).unwrap());
        assert!(!eval(&cmp("$.s", BooleanEquals, json!(true)), input.clone()).unwrap());
        assert!(!eval(&cmp("$.z", StringEquals, json!("null")), input.clone()).unwrap());
        assert!(!eval(
            &cmp("$.s", TimestampEquals, json!("2020-01-01T00:00:00Z")),
            input.clone()
        )
        .unwrap());
        assert!(eval(&cmp("$.b", BooleanEquals, json!(true)), input).unwrap());
    }

    #[test]
    fn numbers_compare_exactly_for_integers() {
        use Comparison::*;
        // Integers beyond 2^53 are distinct even though their f64 forms are equal.
        let big = json!({"n": 9007199254740993u64});
        assert!(!eval(
            &cmp("$.n", NumericEquals, json!(9007199254740992u64)),
            big.clone()
        )
        .unwrap());
        assert!(eval(
            &cmp("$.n", NumericGreaterThan, json!(9007199254740992u64)),
            big
        )
        .unwrap());
        assert!(eval(
            &cmp("$.n", NumericLessThan, json!(u64::MAX)),
            json!({"n": -1})
        )
        .unwrap());
        assert!(eval(&cmp("$.n", NumericEquals, json!(7)), json!({"n": 7.0})).unwrap());
        assert!(eval(
            &cmp("$.n", NumericLessThanEquals, json!(1.5)),
            json!({"n": 1.5})
        )
        .unwrap());
        assert!(!eval(&cmp("$.n", NumericGreaterThan, json!(1.5)), json!({"n": 1})).unwrap());
    }

    #[test]
    fn timestamps_compare_instants() {
        use Comparison::*;
        let input =
            json!({"t": "2016-03-14T01:59:00Z", "bad": "yesterday", "low": "2016-03-14t01:59:00Z"});
        // Spec, Choice Rules: `"TimestampEquals": "2016-03-14T01:59:00Z"`.
        assert!(eval(
            &cmp("$.t", TimestampEquals, json!("2016-03-14T01:59:00Z")),
            input.clone()
        )
        .unwrap());
        assert!(eval(
            &cmp("$.t", TimestampEquals, json!("2016-03-14T02:59:00+01:00")),
            input.clone()
        )
        .unwrap());
        assert!(eval(
            &cmp("$.t", TimestampLessThan, json!("2016-03-14T02:00:00Z")),
            input.clone()
        )
        .unwrap());
        assert!(eval(
            &cmp(
                "$.t",
                TimestampGreaterThanEquals,
                json!("2016-03-14T01:59:00Z")
            ),
            input.clone()
        )
        .unwrap());
        assert!(!eval(
            &cmp("$.bad", TimestampLessThan, json!("2016-03-14T02:00:00Z")),
            input.clone()
        )
        .unwrap());
        assert!(eval(&cmp("$.t", IsTimestamp, json!(true)), input.clone()).unwrap());
        assert!(eval(&cmp("$.bad", IsTimestamp, json!(false)), input.clone()).unwrap());
        // The uppercase `T` is required.
        assert!(!eval(&cmp("$.low", IsTimestamp, json!(true)), input).unwrap());
    }

    #[test]
    fn type_tests_compare_with_their_boolean() {
        use Comparison::*;
        let input = json!({"z": null, "n": 1.5, "s": "x", "b": false});
        assert!(eval(&cmp("$.z", IsNull, json!(true)), input.clone()).unwrap());
        assert!(!eval(&cmp("$.z", IsNull, json!(false)), input.clone()).unwrap());
        assert!(eval(&cmp("$.n", IsNull, json!(false)), input.clone()).unwrap());
        assert!(eval(&cmp("$.n", IsNumeric, json!(true)), input.clone()).unwrap());
        assert!(eval(&cmp("$.s", IsNumeric, json!(false)), input.clone()).unwrap());
        assert!(eval(&cmp("$.s", IsString, json!(true)), input.clone()).unwrap());
        assert!(eval(&cmp("$.b", IsBoolean, json!(true)), input.clone()).unwrap());
        assert!(eval(&cmp("$.b", IsString, json!(false)), input.clone()).unwrap());
        assert!(eval(&cmp("$.missing", IsPresent, json!(false)), input.clone()).unwrap());
        assert!(eval(&cmp("$.z", IsPresent, json!(true)), input).unwrap());
    }

    #[test]
    fn absent_variable_is_a_runtime_error() {
        use Comparison::*;
        let e = eval(&cmp("$.x", StringEquals, json!("a")), json!({})).unwrap_err();
        assert_eq!(e.error, "States.Runtime");
        assert!(e.cause.contains("Invalid path '$.x'"), "{}", e.cause);
        assert!(eval(&cmp("$.x", IsNull, json!(true)), json!({})).is_err());
        // A `…Path` operand that matches nothing is one too.
        let e = eval(&cmp_path("$.a", NumericEquals, "$.b"), json!({"a": 1})).unwrap_err();
        assert!(e.cause.contains("'$.b'"), "{}", e.cause);
    }

    #[test]
    fn boolean_rules_short_circuit() {
        use Comparison::*;
        // The second operand would fail (absent variable) if it were evaluated.
        let failing = cmp("$.absent", StringEquals, json!("x"));
        let yes = cmp("$.a", BooleanEquals, json!(true));
        let no = cmp("$.a", BooleanEquals, json!(false));
        let input = json!({"a": true});
        assert!(eval(
            &ChoiceRule::Or(vec![yes.clone(), failing.clone()]),
            input.clone()
        )
        .unwrap());
        assert!(!eval(
            &ChoiceRule::And(vec![no.clone(), failing.clone()]),
            input.clone()
        )
        .unwrap());
        assert!(eval(
            &ChoiceRule::And(vec![yes.clone(), failing.clone()]),
            input.clone()
        )
        .is_err());
        assert!(eval(&ChoiceRule::Not(Box::new(no)), input.clone()).unwrap());
        assert!(!eval(&ChoiceRule::Or(vec![]), input.clone()).unwrap());
        assert!(eval(&ChoiceRule::And(vec![yes]), input).unwrap());
    }

    #[test]
    fn path_operands_and_context() {
        use Comparison::*;
        let input =
            json!({"a": "x", "b": "x", "t1": "2020-01-01T00:00:00Z", "t2": "2021-01-01T00:00:00Z"});
        assert!(eval(&cmp_path("$.a", StringEquals, "$.b"), input.clone()).unwrap());
        assert!(eval(&cmp_path("$.t1", TimestampLessThan, "$.t2"), input.clone()).unwrap());
        assert!(eval(
            &cmp("$$.Execution.Name", StringEquals, json!("e1")),
            input.clone()
        )
        .unwrap());
        assert!(eval(&cmp_path("$.a", BooleanEquals, "$.b"), input).is_ok_and(|m| !m));
    }
}
