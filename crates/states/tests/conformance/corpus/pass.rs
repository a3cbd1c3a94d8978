//! Pass states: Result, Parameters, and how the input passes through.

use super::{case, single, Case};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "result_replaces_the_input",
            "spec, Pass State: Result is the state's output when ResultPath is the default $",
            single(json!({"Type": "Pass", "Result": {"x": 1}, "End": true})),
        )
        .input(json!({"a": 1}))
        .output(json!({"x": 1})),
        case(
            "result_at_result_path",
            "spec, Pass State: the Result example placed at ResultPath $.coords",
            single(json!({"Type": "Pass",
                "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
                "ResultPath": "$.coords", "End": true})),
        )
        .input(json!({"georefOf": "Home"}))
        .output(json!({"georefOf": "Home",
            "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}})),
        case(
            "input_passes_through",
            "spec, Pass State: without Result, the Pass state passes its input to its output",
            single(json!({"Type": "Pass", "End": true})),
        )
        .input(json!({"a": [1, 2, {"b": null}]}))
        .output(json!({"a": [1, 2, {"b": null}]})),
        case(
            "scalar_result",
            "spec, Pass State: Result may be any JSON value",
            single(json!({"Type": "Pass", "Result": "done", "End": true})),
        )
        .output(json!("done")),
        case(
            "array_input_passes_through",
            "spec, Concepts (Data): a state's input may be any JSON value, an array included",
            single(json!({"Type": "Pass", "End": true})),
        )
        .input(json!([1, "two", 3.5]))
        .output(json!([1, "two", 3.5])),
        case(
            "parameters_build_the_result",
            "spec, Parameters: the Pass example with .$ keys and a slice",
            single(json!({"Type": "Pass", "Parameters": {"flagged": true,
                "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"}}, "End": true})),
        )
        .input(json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}))
        .output(json!({"flagged": true, "parts": {"first": 0, "last3": [30, 40, 50]}})),
        case(
            "chain_of_passes",
            "spec, Transitions: Next names the state that runs with this state's output",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Result": 1, "ResultPath": "$.a", "Next": "B"},
                "B": {"Type": "Pass", "Result": 2, "ResultPath": "$.b", "End": true}}}),
        )
        .output(json!({"a": 1, "b": 2}))
        .history(&[
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded",
        ]),
        case(
            "result_with_result_selector_is_refused",
            "spec, Pass State: a Pass state has no ResultSelector field",
            single(json!({"Type": "Pass", "Result": 1, "ResultSelector": {"a": 1}, "End": true})),
        )
        .refused("ResultSelector"),
        case(
            "succeed_outputs_its_input",
            "spec, Succeed State: the Succeed state's output is its input (after paths)",
            single(json!({"Type": "Succeed", "OutputPath": "$.keep"})),
        )
        .input(json!({"keep": {"k": 1}, "drop": 2}))
        .output(json!({"k": 1}))
        .history(&[
            "ExecutionStarted",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded",
        ]),
        case(
            "fail_names_error_and_cause",
            "spec, Fail State: Error and Cause name the failure of the execution",
            single(json!({"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"})),
        )
        .fails_with("ErrorA", "Kaiju attack")
        .history(&["ExecutionStarted", "FailStateEntered", "ExecutionFailed"]),
        case(
            "fail_without_error_and_cause",
            "guide, Fail workflow state: Error and Cause are optional",
            single(json!({"Type": "Fail"})),
        )
        .fails(""),
        case(
            "fail_error_path_and_cause_path",
            "guide, Fail workflow state: ErrorPath and CausePath read the input",
            single(json!({"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"})),
        )
        .input(json!({"e": "Custom", "c": "because"}))
        .fails_with("Custom", "because"),
        case(
            "fail_cause_path_intrinsic",
            "guide, Fail workflow state: CausePath may be an intrinsic function",
            single(json!({"Type": "Fail", "Error": "E",
                "CausePath": "States.Format('this is the error: {}, and this is the cause: {}', $.Error, $.Cause)"})),
        )
        .input(json!({"Error": "Oops", "Cause": "It broke"}))
        .fails_with("E", "this is the error: Oops, and this is the cause: It broke"),
    ]
}
