//! The service's limits (the guide's "Step Functions service quotas"): the 256 KiB payload,
//! the 25,000-event history, and the conditions of a redrive.

use std::time::Duration;

use super::{case, single, Case, Reply};
use serde_json::json;

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:Big";
const QUOTA: &str = "guide, Step Functions service quotas: 256 KiB (262,144 bytes) per task, state or execution input and output";
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A string whose JSON text makes a payload of more than 256 KiB.
fn big() -> serde_json::Value {
    json!("x".repeat(262_144))
}

pub fn cases() -> Vec<Case> {
    let limit_cause = "The state/task 'arn:aws:lambda:us-east-1:123456789012:function:Big' returned a result with a size exceeding the maximum number of bytes service limit.";
    vec![
        case("task_result_over_256_kib", "recorded, test_states_errors[test_task_lambda_data_limit_exceeded_on_large_utf8_response]: the task fails with States.DataLimitExceeded",
            single(json!({"Type": "Task", "Resource": FN, "End": true})))
            .reply(FN, vec![Reply::Ok(big())])
            .fails_with("States.DataLimitExceeded", limit_cause)
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskFailed", "ExecutionFailed"]),
        case("task_result_over_256_kib_caught_by_all", "recorded, test_states_errors[test_task_lambda_catch_state_all_data_limit_exceeded_on_large_utf8_response]: States.ALL catches it",
            json!({"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": FN, "End": true,
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "HandleGeneralError"}]},
                "HandleGeneralError": {"Type": "Pass", "End": true}}}))
            .reply(FN, vec![Reply::Ok(big())])
            .output(json!({"Error": "States.DataLimitExceeded", "Cause": limit_cause})),
        case("task_result_just_under_256_kib", QUOTA,
            single(json!({"Type": "Task", "Resource": FN, "ResultSelector": {"n.$": "States.ArrayLength(States.StringSplit($.s, 'y'))"}, "End": true})))
            .reply(FN, vec![Reply::Ok(json!({"s": "x".repeat(262_100)}))])
            .output(json!({"n": 1})),
        case("pass_output_over_256_kib", QUOTA,
            single(json!({"Type": "Pass", "Result": big(), "End": true})))
            .fails("States.DataLimitExceeded"),
        case("state_input_over_256_kib_after_parameters", "guide, Handling errors (States.DataLimitExceeded): the input of a state, after Parameters, over the quota",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"}, "Next": "B"},
                "B": {"Type": "Pass", "End": true}}}))
            .input(json!({"s": "x".repeat(140_000)}))
            .fails("States.DataLimitExceeded"),
        case("history_limit_fails_the_execution", "recorded against AWS (floci-io/floci#2734): a Choice looping forever fails at event 25,000 with States.Runtime",
            json!({"StartAt": "Loop", "States": {
                "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.spin", "BooleanEquals": true, "Next": "Loop"}], "Default": "Done"},
                "Done": {"Type": "Succeed"}}}))
            .input(json!({"spin": true}))
            .fails_with("States.Runtime", "The execution reached the maximum number of history events (25000).")
            .history_end(25_000, &["ChoiceStateExited", "ExecutionFailed"]),
        case("history_limit_is_not_redrivable", "api, DescribeExecution (redriveStatusReason): Execution history event limit exceeded.",
            json!({"StartAt": "Loop", "States": {
                "Loop": {"Type": "Choice", "Choices": [{"Variable": "$.spin", "BooleanEquals": true, "Next": "Loop"}], "Default": "Done"},
                "Done": {"Type": "Succeed"}}}))
            .input(json!({"spin": true}))
            .redrive_refused(Duration::ZERO, "Execution history event limit exceeded."),
        case("redrive_within_14_days", "api, RedriveExecution: executions that didn't complete successfully in the last 14 days",
            single(json!({"Type": "Task", "Resource": FN, "End": true})))
            .reply(FN, vec![Reply::Err("Flaky", "once"), Reply::Ok(json!("second time"))])
            .redriven(13 * DAY, json!("second time")),
        case("redrive_after_14_days_refused", "api, RedriveExecution and DescribeExecution (redriveStatusReason): Execution redrivable period exceeded.",
            single(json!({"Type": "Task", "Resource": FN, "End": true})))
            .reply(FN, vec![Reply::Err("Flaky", "once"), Reply::Ok(json!("second time"))])
            .redrive_refused(15 * DAY, "Execution redrivable period exceeded."),
    ]
}
