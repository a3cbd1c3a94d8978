//! Callback tasks (`.waitForTaskToken`) and heartbeats, the service answering at once and
//! the callback sent with the token meanwhile (LocalStack's recordings of
//! test_callback.py, made against AWS, and the guide's "Wait for a Callback with Task
//! Token" and "Handling errors" pages).

use super::{case, single, single_jsonata, Callback, Case, Reply};
use serde_json::{json, Value};

const SQS: &str = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";

/// The recorded SendMessageWithWait state, with `extra` fields.
fn send_with_wait(extra: Value) -> Value {
    let mut state = json!({"Type": "Task", "Resource": SQS, "End": true,
        "Parameters": {"QueueUrl.$": "$.QueueUrl",
            "MessageBody": {"Message.$": "$.Message", "TaskToken.$": "$$.Task.Token"}}});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    single(state)
}

fn with_catch(extra: Value, errors: &[&str]) -> Value {
    let mut m = send_with_wait(extra);
    m["States"]["S"]["Catch"] =
        json!([{"ErrorEquals": errors, "ResultPath": "$.error", "Next": "Caught"}]);
    m["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    m
}

fn input() -> Value {
    json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/111111111111/q", "Message": "test_message_txt"})
}

const SUBMITTED_OK: &[&str] = &[
    "ExecutionStarted",
    "TaskStateEntered",
    "TaskScheduled",
    "TaskStarted",
    "TaskSubmitted",
    "TaskSucceeded",
    "TaskStateExited",
    "ExecutionSucceeded",
];

const HEARTBEAT: &str = "guide, Handling errors (States.HeartbeatTimeout): available in Catch and Retry; recorded, test_heartbeats: the error shows as States.Timeout";

pub fn cases() -> Vec<Case> {
    vec![
        case("success", "recorded, test_callback[test_sqs_wait_for_task_token]: the output is what SendTaskSuccess sent",
            send_with_wait(json!({})))
            .input(input())
            .reply(SQS, vec![Reply::Callback(Callback::Success(json!("test_message_txt")))])
            .output(json!("test_message_txt"))
            .history(SUBMITTED_OK),
        case("failure", "recorded, test_callback[test_sqs_failure_in_wait_for_task_token]: SendTaskFailure's error and cause fail the task",
            send_with_wait(json!({})))
            .input(input())
            .reply(SQS, vec![Reply::Callback(Callback::Failure("Failure error", "Failure cause"))])
            .fails_with("Failure error", "Failure cause")
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskSubmitted", "TaskFailed", "ExecutionFailed"]),
        case("timeout", "recorded, test_callback[test_sqs_wait_for_task_token_timeout]: no callback within TimeoutSeconds is States.Timeout",
            send_with_wait(json!({"TimeoutSeconds": 5})))
            .input(input())
            .reply(SQS, vec![Reply::Callback(Callback::Nothing)])
            .fails("States.Timeout")
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskSubmitted", "TaskTimedOut", "ExecutionFailed"]),
        case("heartbeat_then_success", "recorded, test_callback[test_sqs_wait_for_task_tok_with_heartbeat]",
            send_with_wait(json!({"HeartbeatSeconds": 60, "TimeoutSeconds": 600})))
            .input(input())
            .reply(SQS, vec![Reply::Callback(Callback::HeartbeatThenSuccess(json!("test_message_txt")))])
            .output(json!("test_message_txt"))
            .history(SUBMITTED_OK),
        case("heartbeat_timeout", "recorded, test_heartbeats[test_heartbeat_timeout]: no heartbeat within HeartbeatSeconds; TaskTimedOut and the execution's error are States.Timeout",
            send_with_wait(json!({"HeartbeatSeconds": 5, "TimeoutSeconds": 600})))
            .input(input())
            .reply(SQS, vec![Reply::Callback(Callback::Nothing)])
            .fails("States.Timeout")
            .history(&["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                "TaskSubmitted", "TaskTimedOut", "ExecutionFailed"]),
        case("heartbeat_seconds_path_timeout", "recorded, test_heartbeats[test_heartbeat_path_timeout]: HeartbeatSecondsPath",
            send_with_wait(json!({"HeartbeatSecondsPath": "$.HeartbeatSecondsPath", "TimeoutSeconds": 600})))
            .input(json!({"QueueUrl": "q", "Message": "m", "HeartbeatSecondsPath": 5}))
            .reply(SQS, vec![Reply::Callback(Callback::Nothing)])
            .fails("States.Timeout"),
        case("heartbeat_timeout_caught", HEARTBEAT,
            with_catch(json!({"HeartbeatSeconds": 5}), &["States.HeartbeatTimeout"]))
            .input(json!({"QueueUrl": "q", "Message": "m"}))
            .reply(SQS, vec![Reply::Callback(Callback::Nothing)])
            .output_where("the input with the timeout's error output at $.error", |v| v["error"]["Error"] == "States.Timeout" && v["Message"] == "m"),
        case("heartbeat_timeout_caught_as_timeout", "spec, Task State (Timeouts): more time than HeartbeatSeconds between heartbeats fails the state with States.Timeout",
            with_catch(json!({"HeartbeatSeconds": 5}), &["States.Timeout"]))
            .input(json!({"QueueUrl": "q", "Message": "m"}))
            .reply(SQS, vec![Reply::Callback(Callback::Nothing)])
            .output_where("the input with the timeout's error output at $.error", |v| v["error"]["Error"] == "States.Timeout"),
        case("heartbeat_timeout_retried", "guide, Handling errors (States.HeartbeatTimeout): available in Catch and Retry",
            send_with_wait(json!({"HeartbeatSeconds": 5,
                "Retry": [{"ErrorEquals": ["States.HeartbeatTimeout"], "MaxAttempts": 1}]})))
            .input(input())
            .reply(SQS, vec![Reply::Callback(Callback::Nothing), Reply::Callback(Callback::Success(json!("on retry")))])
            .output(json!("on retry")),
        case("failure_caught_by_all", "recorded, test_callback[test_sqs_failure_in_wait_for_task_tok_no_error_field[SQS_WAIT_FOR_TASK_TOKEN_CATCH]]: States.ALL catches a callback's failure",
            with_catch(json!({}), &["States.ALL"]))
            .input(json!({"QueueUrl": "q", "Message": "m"}))
            .reply(SQS, vec![Reply::Callback(Callback::Failure("Failure error", "Failure cause"))])
            .output(json!({"QueueUrl": "q", "Message": "m", "error": {"Error": "Failure error", "Cause": "Failure cause"}})),
        case("failure_without_error_field", "recorded, test_callback[test_sqs_failure_in_wait_for_task_tok_no_error_field[SQS_WAIT_FOR_TASK_TOKEN_CATCH]]: SendTaskFailure without error and cause gives null in the error output",
            with_catch(json!({}), &["States.ALL"]))
            .input(json!({"QueueUrl": "q", "Message": "m"}))
            .reply(SQS, vec![Reply::Callback(Callback::Failure("", ""))])
            .output(json!({"QueueUrl": "q", "Message": "m", "error": {"Error": null, "Cause": null}})),
        case("token_in_the_context_object", "guide, Wait for a Callback with Task Token: $$.Task.Token is the token to send back",
            single(json!({"Type": "Task", "Resource": SQS, "End": true,
                "Parameters": {"token.$": "$$.Task.Token"}, "HeartbeatSeconds": 60})))
            .reply(SQS, vec![Reply::Callback(Callback::SuccessWithInput)])
            .output_where("{\"token\": a task token}", |v| v["token"].as_str().is_some_and(|t| t.len() > 32)),
        case("token_in_jsonata", "guide, Transforming data with JSONata: $states.context.Task.Token",
            single_jsonata(json!({"Type": "Task", "Resource": SQS, "End": true,
                "Arguments": {"token": "{% $states.context.Task.Token %}"}, "HeartbeatSeconds": 60})))
            .reply(SQS, vec![Reply::Callback(Callback::SuccessWithInput)])
            .output_where("{\"token\": a task token}", |v| v["token"].as_str().is_some_and(|t| t.len() > 32)),
        case("result_path_places_the_callback_output", "spec, Filters: ResultPath applies to a callback task's result like any other",
            send_with_wait(json!({"ResultPath": "$.reply"})))
            .input(json!({"QueueUrl": "q", "Message": "m"}))
            .reply(SQS, vec![Reply::Callback(Callback::Success(json!({"ok": true})))])
            .output(json!({"QueueUrl": "q", "Message": "m", "reply": {"ok": true}})),
    ]
}
