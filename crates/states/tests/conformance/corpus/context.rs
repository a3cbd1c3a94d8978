//! The context object (`$$`) as the guide's "Context object" page lists its fields.

use super::{case, single, Case};
use serde_json::json;

const CTX: &str = "guide, Context object: the fields of Execution, State and StateMachine";

pub fn cases() -> Vec<Case> {
    vec![
        case("execution_name_and_state_name", CTX,
            single(json!({"Type": "Pass", "Parameters": {"e.$": "$$.Execution.Name", "s.$": "$$.State.Name"}, "End": true})))
            .output_where("the execution's name and the state's", |v| {
                v["s"] == "S" && v["e"].as_str().is_some_and(|e| e.starts_with("case-"))
            }),
        case("execution_id_is_an_execution_arn", CTX,
            single(json!({"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id"}, "End": true})))
            .output_where("arn:aws:states:…:execution:conformance:<name>", |v| {
                v["id"].as_str().is_some_and(|s| s.starts_with("arn:aws:states:") && s.contains(":execution:conformance:case-"))
            }),
        case("execution_input", "guide, Context object: Execution.Input is the execution's input, whatever states did to it",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Result": "changed", "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"original.$": "$$.Execution.Input"}, "End": true}}}))
            .input(json!({"k": "v"}))
            .output(json!({"original": {"k": "v"}})),
        case("state_machine_name", CTX,
            single(json!({"Type": "Pass", "Parameters": {"n.$": "$$.StateMachine.Name"}, "End": true})))
            .output(json!({"n": "conformance"})),
        case("times_are_iso_timestamps", CTX,
            single(json!({"Type": "Pass", "Parameters": {"start.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"}, "End": true})))
            .output_where("two ISO 8601 timestamps", |v| {
                ["start", "entered"].iter().all(|k| v[k].as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()))
            }),
        case("retry_count_first_attempt", "guide, Context object: State.RetryCount is 0 on a task's first attempt",
            single(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"retry.$": "$$.State.RetryCount"}, "End": true})))
            .output(json!({"retry": 0})),
        case("map_item_value_and_index", "guide, Context object: Map.Item.Index and Map.Item.Value inside ItemSelector",
            json!({"StartAt": "M", "States": {"M": {"Type": "Map",
                "ItemSelector": {"i.$": "$$.Map.Item.Index", "v.$": "$$.Map.Item.Value"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}))
            .input(json!(["x"]))
            .output(json!([{"i": 0, "v": "x"}])),
        case("context_input_path", "spec, Paths: InputPath may select from the context object with $$",
            single(json!({"Type": "Pass", "InputPath": "$$.State.Name", "End": true})))
            .output(json!("S")),
    ]
}
