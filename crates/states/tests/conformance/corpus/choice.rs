//! Choice states: every comparison operator of the spec, the Boolean combinators, type tests,
//! and what happens when nothing matches.

use super::{case, choice_rule, Case};
use serde_json::{json, Value};

/// A rule checked against `input`: "yes" when AWS says it matches, else "no".
fn rule(name: &str, source: &'static str, rule: Value, input: Value, matches: bool) -> Case {
    case(name, source, choice_rule(rule))
        .input(input)
        .output(json!(if matches { "yes" } else { "no" }))
}

const OPS: &str = "spec, Choice Rules: the comparison operators";

pub fn cases() -> Vec<Case> {
    let n = |v: Value| json!({"n": v});
    let s = |v: &str| json!({"s": v});
    let t = |v: &str| json!({"t": v});
    vec![
        rule("string_equals", OPS, json!({"Variable": "$.s", "StringEquals": "abc"}), s("abc"), true),
        rule("string_equals_differs", OPS, json!({"Variable": "$.s", "StringEquals": "abc"}), s("abd"), false),
        rule("string_equals_path", OPS, json!({"Variable": "$.s", "StringEqualsPath": "$.other"}),
            json!({"s": "x", "other": "x"}), true),
        rule("string_less_than", OPS, json!({"Variable": "$.s", "StringLessThan": "b"}), s("a"), true),
        rule("string_greater_than", OPS, json!({"Variable": "$.s", "StringGreaterThan": "b"}), s("a"), false),
        rule("string_less_than_equals", OPS, json!({"Variable": "$.s", "StringLessThanEquals": "a"}), s("a"), true),
        rule("string_greater_than_equals", OPS, json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}), s("c"), true),
        rule("string_greater_than_path", OPS, json!({"Variable": "$.s", "StringGreaterThanPath": "$.o"}),
            json!({"s": "b", "o": "a"}), true),
        rule("string_matches_wildcard", "spec, Choice Rules: StringMatches with * matching any characters",
            json!({"Variable": "$.s", "StringMatches": "log-*.txt"}), s("log-2024-01.txt"), true),
        rule("string_matches_no_match", "spec, Choice Rules: StringMatches matches the whole string",
            json!({"Variable": "$.s", "StringMatches": "log-*.txt"}), s("log-1.csv"), false),
        rule("string_matches_escaped_star", "spec, Choice Rules: \\\\* in StringMatches is a literal asterisk",
            json!({"Variable": "$.s", "StringMatches": "a\\*b"}), s("a*b"), true),
        rule("string_matches_escaped_star_is_not_a_wildcard", "spec, Choice Rules: \\\\* in StringMatches is a literal asterisk",
            json!({"Variable": "$.s", "StringMatches": "a\\*b"}), s("axxb"), false),
        rule("numeric_equals", OPS, json!({"Variable": "$.n", "NumericEquals": 3}), n(json!(3)), true),
        rule("numeric_equals_float", OPS, json!({"Variable": "$.n", "NumericEquals": 3.5}), n(json!(3.5)), true),
        rule("numeric_less_than", OPS, json!({"Variable": "$.n", "NumericLessThan": 3}), n(json!(2)), true),
        rule("numeric_greater_than", OPS, json!({"Variable": "$.n", "NumericGreaterThan": 3}), n(json!(3)), false),
        rule("numeric_less_than_equals", OPS, json!({"Variable": "$.n", "NumericLessThanEquals": 3}), n(json!(3)), true),
        rule("numeric_greater_than_equals", OPS, json!({"Variable": "$.n", "NumericGreaterThanEquals": 3}), n(json!(4)), true),
        rule("numeric_equals_path", OPS, json!({"Variable": "$.n", "NumericEqualsPath": "$.m"}),
            json!({"n": 7, "m": 7}), true),
        rule("numeric_less_than_path", OPS, json!({"Variable": "$.n", "NumericLessThanPath": "$.m"}),
            json!({"n": 7, "m": 8}), true),
        rule("numeric_against_a_string_is_false", "spec, Choice Rules: a comparison of values of different types does not match",
            json!({"Variable": "$.n", "NumericEquals": 1}), n(json!("1")), false),
        rule("boolean_equals", OPS, json!({"Variable": "$.b", "BooleanEquals": true}), json!({"b": true}), true),
        rule("boolean_equals_false", OPS, json!({"Variable": "$.b", "BooleanEquals": true}), json!({"b": false}), false),
        rule("boolean_equals_path", OPS, json!({"Variable": "$.b", "BooleanEqualsPath": "$.c"}),
            json!({"b": false, "c": false}), true),
        rule("timestamp_equals", OPS, json!({"Variable": "$.t", "TimestampEquals": "2016-03-14T01:59:00Z"}),
            t("2016-03-14T01:59:00Z"), true),
        rule("timestamp_less_than", OPS, json!({"Variable": "$.t", "TimestampLessThan": "2016-03-14T01:59:00Z"}),
            t("2016-03-14T01:58:59Z"), true),
        rule("timestamp_greater_than", OPS, json!({"Variable": "$.t", "TimestampGreaterThan": "2016-03-14T01:59:00Z"}),
            t("2017-01-01T00:00:00Z"), true),
        rule("timestamp_less_than_equals", OPS, json!({"Variable": "$.t", "TimestampLessThanEquals": "2016-03-14T01:59:00Z"}),
            t("2016-03-14T01:59:00Z"), true),
        rule("timestamp_greater_than_equals_path", OPS,
            json!({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.u"}),
            json!({"t": "2016-03-14T01:59:00Z", "u": "2016-03-14T01:59:00Z"}), true),
        rule("is_null", "spec, Choice Rules: IsNull", json!({"Variable": "$.v", "IsNull": true}), json!({"v": null}), true),
        rule("is_null_false", "spec, Choice Rules: IsNull", json!({"Variable": "$.v", "IsNull": true}), json!({"v": 0}), false),
        rule("is_present", "spec, Choice Rules: IsPresent", json!({"Variable": "$.v", "IsPresent": true}), json!({"v": 0}), true),
        rule("is_present_absent", "spec, Choice Rules: IsPresent on an absent field is false, not an error",
            json!({"Variable": "$.v", "IsPresent": true}), json!({}), false),
        rule("is_present_false_absent", "spec, Choice Rules: IsPresent false matches an absent field",
            json!({"Variable": "$.v", "IsPresent": false}), json!({}), true),
        rule("is_numeric", "spec, Choice Rules: IsNumeric", json!({"Variable": "$.v", "IsNumeric": true}), json!({"v": 1.5}), true),
        rule("is_numeric_string", "spec, Choice Rules: IsNumeric of a string is false",
            json!({"Variable": "$.v", "IsNumeric": true}), json!({"v": "1"}), false),
        rule("is_string", "spec, Choice Rules: IsString", json!({"Variable": "$.v", "IsString": true}), json!({"v": "x"}), true),
        rule("is_boolean", "spec, Choice Rules: IsBoolean", json!({"Variable": "$.v", "IsBoolean": true}), json!({"v": false}), true),
        rule("is_timestamp", "spec, Choice Rules: IsTimestamp", json!({"Variable": "$.v", "IsTimestamp": true}),
            json!({"v": "2016-03-14T01:59:00Z"}), true),
        rule("is_timestamp_not", "spec, Choice Rules: IsTimestamp of a plain string is false",
            json!({"Variable": "$.v", "IsTimestamp": true}), json!({"v": "yesterday"}), false),
        rule("and", "spec, Choice Rules: And matches when every rule does",
            json!({"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 20}, {"Variable": "$.n", "NumericLessThan": 30}]}),
            n(json!(25)), true),
        rule("and_one_false", "spec, Choice Rules: And matches when every rule does",
            json!({"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 20}, {"Variable": "$.n", "NumericLessThan": 30}]}),
            n(json!(30)), false),
        rule("or", "spec, Choice Rules: Or matches when any rule does",
            json!({"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.n", "NumericEquals": 2}]}),
            n(json!(2)), true),
        rule("not", "spec, Choice Rules: Not inverts a rule",
            json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}}), json!({"type": "Public"}), true),
        rule("nested_combinators", "spec, Choice Rules: combinators nest",
            json!({"Not": {"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"Variable": "$.n", "NumericEquals": 2}]}}),
            n(json!(3)), true),
        case("first_matching_rule_wins", "spec, Choice State: rules are evaluated in order; the first match wins",
            json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [
                    {"Variable": "$.n", "NumericGreaterThan": 0, "Next": "A"},
                    {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "B"}]},
                "A": {"Type": "Pass", "Result": "A", "End": true},
                "B": {"Type": "Pass", "Result": "B", "End": true}}}))
            .input(n(json!(5)))
            .output(json!("A")),
        case("no_match_no_default", "spec, Choice State: no match and no Default is States.NoChoiceMatched",
            json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "A"}]},
                "A": {"Type": "Pass", "End": true}}}))
            .input(n(json!(2)))
            .fails("States.NoChoiceMatched")
            .history(&["ExecutionStarted", "ChoiceStateEntered", "ExecutionFailed"]),
        case("output_is_the_input", "spec, Choice State: a Choice state passes its (filtered) input on",
            choice_rule(json!({"Variable": "$.n", "NumericEquals": 1})))
            .input(n(json!(1)))
            .output(json!("yes"))
            .history(&["ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited",
                "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]),
        case("missing_variable_is_runtime", "guide, Choice workflow state: a Variable path that is not in the input is States.Runtime",
            choice_rule(json!({"Variable": "$.missing", "StringEquals": "x"})))
            .fails("States.Runtime"),
        case("choice_output_path", "spec, Filters: a Choice state applies InputPath and OutputPath",
            json!({"StartAt": "C", "States": {
                "C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.v",
                      "Choices": [{"Variable": "$.v", "NumericEquals": 1, "Next": "E"}]},
                "E": {"Type": "Succeed"}}}))
            .input(json!({"in": {"v": 1}}))
            .output(json!(1)),
    ]
}
