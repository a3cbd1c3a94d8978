//! Task states with canned results: success, Retry, Catch, TimeoutSeconds, history shape.

use super::{case, single, Case, Reply};
use serde_json::{json, Value};

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:Worker";

fn task(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": FN, "End": true});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    single(state)
}

/// A Task whose catchers go to `Caught` (a Pass state that outputs its input).
fn caught(extra: Value) -> Value {
    let mut m = task(extra);
    m["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    m
}

fn fail(e: &'static str) -> Reply {
    Reply::Err(e, "it broke")
}

const TASK_OK: &[&str] = &[
    "ExecutionStarted",
    "TaskStateEntered",
    "TaskScheduled",
    "TaskStarted",
    "TaskSucceeded",
    "TaskStateExited",
    "ExecutionSucceeded",
];

pub fn cases() -> Vec<Case> {
    vec![
        case("result_is_the_output", "spec, Task State: the task's result is the state's result", task(json!({})))
            .reply(FN, vec![Reply::Ok(json!({"done": true}))])
            .output(json!({"done": true}))
            .history(TASK_OK),
        case("input_goes_to_the_task", "spec, Task State: the task receives the effective input", task(json!({})))
            .input(json!({"n": 1}))
            .output(json!({"n": 1})),
        case("failure_fails_the_execution", "spec, Errors: an error not handled fails the execution", task(json!({})))
            .reply(FN, vec![Reply::Err("CustomError", "it broke")])
            .fails_with("CustomError", "it broke")
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskFailed", "ExecutionFailed"]),
        case("retry_then_success", "spec, Retrying after error: a matching retrier runs the task again",
            task(json!({"Retry": [{"ErrorEquals": ["CustomError"], "IntervalSeconds": 1, "MaxAttempts": 2}]})))
            .reply(FN, vec![fail("CustomError"), Reply::Ok(json!("ok"))])
            .output(json!("ok"))
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskFailed", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
                "ExecutionSucceeded"]),
        case("retry_exhausted", "spec, Retrying after error: after MaxAttempts retries the error surfaces",
            task(json!({"Retry": [{"ErrorEquals": ["CustomError"], "MaxAttempts": 2}]})))
            .reply(FN, vec![fail("CustomError")])
            .fails("CustomError"),
        case("max_attempts_zero_never_retries", "spec, Retrying after error: MaxAttempts 0 means never retry",
            task(json!({"Retry": [{"ErrorEquals": ["CustomError"], "MaxAttempts": 0}]})))
            .reply(FN, vec![fail("CustomError"), Reply::Ok(json!("ok"))])
            .fails("CustomError"),
        case("retry_default_max_attempts_is_three", "spec, Retrying after error: MaxAttempts defaults to 3",
            task(json!({"Retry": [{"ErrorEquals": ["CustomError"]}]})))
            .reply(FN, vec![fail("CustomError"), fail("CustomError"), fail("CustomError"), Reply::Ok(json!("fourth"))])
            .output(json!("fourth")),
        case("retry_only_matching_errors", "spec, Retrying after error: a retrier applies only to the errors it names",
            task(json!({"Retry": [{"ErrorEquals": ["Other"]}]})))
            .reply(FN, vec![fail("CustomError"), Reply::Ok(json!("ok"))])
            .fails("CustomError"),
        case("retriers_count_separately", "spec, Retrying after error: the ErrorA, ErrorB, ErrorC, ErrorB example ends in the catcher",
            caught(json!({
                "Retry": [{"ErrorEquals": ["ErrorA", "ErrorB"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 2},
                          {"ErrorEquals": ["ErrorC"], "IntervalSeconds": 5}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]})))
            .reply(FN, vec![fail("ErrorA"), fail("ErrorB"), fail("ErrorC"), fail("ErrorB"), Reply::Ok(json!("never"))])
            .output(json!({"Error": "ErrorB", "Cause": "it broke"})),
        case("catch_output_is_the_error", "spec, Fallback states: with the default ResultPath the error output replaces the input",
            caught(json!({"Catch": [{"ErrorEquals": ["CustomError"], "Next": "Caught"}]})))
            .input(json!({"a": 1}))
            .reply(FN, vec![fail("CustomError")])
            .output(json!({"Error": "CustomError", "Cause": "it broke"})),
        case("catch_result_path", "spec, Fallback states: ResultPath places the error output in the input",
            caught(json!({"Catch": [{"ErrorEquals": ["CustomError"], "ResultPath": "$.error", "Next": "Caught"}]})))
            .input(json!({"a": 1}))
            .reply(FN, vec![fail("CustomError")])
            .output(json!({"a": 1, "error": {"Error": "CustomError", "Cause": "it broke"}})),
        case("first_matching_catcher_wins", "spec, Fallback states: catchers are tried in order",
            {
                let mut m = caught(json!({"Catch": [
                    {"ErrorEquals": ["CustomError"], "Next": "Caught"},
                    {"ErrorEquals": ["States.ALL"], "Next": "Other"}]}));
                m["States"]["Other"] = json!({"Type": "Pass", "Result": "other", "End": true});
                m
            })
            .reply(FN, vec![fail("CustomError")])
            .output(json!({"Error": "CustomError", "Cause": "it broke"})),
        case("catch_after_retries", "guide, Handling errors: catchers apply once the retriers are exhausted",
            caught(json!({"Retry": [{"ErrorEquals": ["CustomError"], "MaxAttempts": 1}],
                "Catch": [{"ErrorEquals": ["CustomError"], "Next": "Caught"}]})))
            .reply(FN, vec![fail("CustomError"), fail("CustomError"), Reply::Ok(json!("late"))])
            .output(json!({"Error": "CustomError", "Cause": "it broke"})),
        case("timeout_seconds", "spec, Task State: a task that runs past TimeoutSeconds fails with States.Timeout",
            task(json!({"TimeoutSeconds": 1})))
            .reply(FN, vec![Reply::Hang])
            .fails("States.Timeout")
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskTimedOut", "ExecutionFailed"]),
        case("timeout_is_not_task_failed", "guide, Handling errors (States.TaskFailed): it matches any error except States.Timeout",
            caught(json!({"TimeoutSeconds": 1, "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]})))
            .reply(FN, vec![Reply::Hang])
            .fails("States.Timeout"),
        case("lambda_payload_selected", "guide, Invoke Lambda: the optimized integration's result has the function's output under Payload",
            task(json!({"Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": FN, "Payload.$": "$"},
                "ResultSelector": {"body.$": "$.Payload"}})))
            .input(json!({"x": 1}))
            .reply("arn:aws:states:::lambda:invoke", vec![Reply::Ok(json!({
                "ExecutedVersion": "$LATEST", "Payload": {"y": 2}, "StatusCode": 200}))])
            .output(json!({"body": {"y": 2}})),
        case("parameters_go_to_the_task", "spec, Parameters: the task receives Parameters, not the raw input",
            task(json!({"Parameters": {"only.$": "$.a"}})))
            .input(json!({"a": 1, "b": 2}))
            .output(json!({"only": 1})),
    ]
}
