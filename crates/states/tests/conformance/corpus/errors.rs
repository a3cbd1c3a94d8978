//! Error rules: which errors Retry and Catch can match, the wildcards, and the error names
//! the language predefines.

use super::{case, single, Case, Reply};
use serde_json::{json, Value};

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:Worker";

/// A Task with `extra` fields whose catchers go to `Caught`, which outputs its input.
fn caught(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": FN, "End": true});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    let mut m = single(state);
    m["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    m
}

/// A Task with `extra` fields and no catcher.
fn plain(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": FN, "End": true});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    single(state)
}

fn catch_all(field: &str) -> Value {
    json!([{"ErrorEquals": [field], "Next": "Caught"}])
}

const RUNTIME: &str =
    "guide, Handling errors (States.Runtime): never retried or caught, not even by States.ALL";

pub fn cases() -> Vec<Case> {
    vec![
        case("all_catches_a_custom_error", "spec, Errors: States.ALL matches any error name",
            caught(json!({"Catch": catch_all("States.ALL")})))
            .reply(FN, vec![Reply::Err("MyError", "m")])
            .output(json!({"Error": "MyError", "Cause": "m"})),
        case("task_failed_matches_a_custom_error", "guide, Handling errors (States.TaskFailed): a wildcard for errors other than States.Timeout",
            caught(json!({"Catch": catch_all("States.TaskFailed")})))
            .reply(FN, vec![Reply::Err("MyError", "m")])
            .output(json!({"Error": "MyError", "Cause": "m"})),
        case("runtime_not_caught_by_all", RUNTIME,
            caught(json!({"InputPath": "$.missing", "Catch": catch_all("States.ALL")})))
            .fails("States.Runtime"),
        case("runtime_not_caught_when_named", RUNTIME,
            caught(json!({"InputPath": "$.missing", "Catch": catch_all("States.Runtime")})))
            .fails("States.Runtime"),
        case("runtime_not_retried", RUNTIME,
            plain(json!({"OutputPath": "$.missing", "Retry": [{"ErrorEquals": ["States.ALL"]}]})))
            .reply(FN, vec![Reply::Ok(json!({"a": 1}))])
            .fails("States.Runtime")
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskSucceeded", "ExecutionFailed"]),
        case("missing_parameter_path_not_caught", "recorded, test_base_scenarios[test_invalid_jsonpath]: a .$ path with no match is States.Runtime, which States.ALL does not catch",
            caught(json!({"Parameters": {"x.$": "$.missing"}, "Catch": catch_all("States.ALL")})))
            .fails("States.Runtime"),
        case("result_path_match_failure_is_catchable", "spec, Errors: States.ResultPathMatchFailure is an error a Catch may name",
            caught(json!({"ResultPath": "$.a.b", "Catch": catch_all("States.ResultPathMatchFailure")})))
            .input(json!({"a": 5}))
            .output_where("the ResultPathMatchFailure error output", |v| v["Error"] == "States.ResultPathMatchFailure"),
        case("intrinsic_failure_is_catchable", "guide, Handling errors (States.IntrinsicFailure)",
            caught(json!({"Parameters": {"x.$": "States.StringToJson($.s)"}, "Catch": catch_all("States.IntrinsicFailure")})))
            .input(json!({"s": "{"}))
            .output_where("the IntrinsicFailure error output", |v| v["Error"] == "States.IntrinsicFailure"),
        case("all_does_not_catch_runtime_from_output_path", RUNTIME,
            caught(json!({"OutputPath": "$.missing", "Catch": catch_all("States.ALL")})))
            .reply(FN, vec![Reply::Ok(json!({"a": 1}))])
            .fails("States.Runtime"),
        case("several_names_in_error_equals", "spec, Fallback states: ErrorEquals lists names, any of which matches",
            caught(json!({"Catch": [{"ErrorEquals": ["A", "B"], "Next": "Caught"}]})))
            .reply(FN, vec![Reply::Err("B", "b")])
            .output(json!({"Error": "B", "Cause": "b"})),
        case("error_names_are_case_sensitive", "spec, Errors: error names are case-sensitive strings",
            caught(json!({"Catch": [{"ErrorEquals": ["myerror"], "Next": "Caught"}]})))
            .reply(FN, vec![Reply::Err("MyError", "m")])
            .fails("MyError"),
        case("no_choice_matched_is_catchable", "spec, Errors: States.NoChoiceMatched, caught around a Parallel branch",
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "C", "States": {
                    "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "D"}]},
                    "D": {"Type": "Succeed"}}}],
                  "Catch": [{"ErrorEquals": ["States.NoChoiceMatched"], "Next": "Caught"}], "End": true},
                "Caught": {"Type": "Pass", "Result": "caught", "End": true}}}))
            .input(json!({"n": 2}))
            .output(json!("caught")),
        case("fail_state_in_a_branch_is_catchable", "spec, Parallel State: a branch's Fail state error reaches the Parallel state's Catch",
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {
                    "F": {"Type": "Fail", "Error": "Oops", "Cause": "c"}}}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
                "Caught": {"Type": "Pass", "End": true}}}))
            .output(json!({"Error": "Oops", "Cause": "c"})),
        case("all_must_be_alone", "spec, Errors: States.ALL must appear alone in its ErrorEquals",
            caught(json!({"Catch": [{"ErrorEquals": ["States.ALL", "X"], "Next": "Caught"}]})))
            .refused("States.ALL"),
        case("all_must_be_last", "spec, Errors: a retrier or catcher with States.ALL must be the last one",
            caught(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"},
                                    {"ErrorEquals": ["X"], "Next": "Caught"}]})))
            .refused("States.ALL"),
        case("retry_states_all", "spec, Errors: States.ALL in a retrier matches any error",
            plain(json!({"Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}]})))
            .reply(FN, vec![Reply::Err("Any", "a"), Reply::Ok(json!(2))])
            .output(json!(2)),
        case("execution_error_and_cause", "api, DescribeExecution: a failed execution reports the error and cause",
            plain(json!({})))
            .reply(FN, vec![Reply::Err("Lambda.Unknown", "The cause of the error")])
            .fails_with("Lambda.Unknown", "The cause of the error"),
    ]
}
