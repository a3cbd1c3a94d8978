//! Definitions AWS refuses when a state machine is created (ValidateStateMachineDefinition,
//! CreateStateMachine's InvalidDefinition).

use super::{case, single, Case};
use serde_json::json;

const CHECKS: &str =
    "spec, Structure of a State Machine; api, CreateStateMachine (InvalidDefinition)";

pub fn cases() -> Vec<Case> {
    vec![
        case("missing_start_at", "spec, Structure of a State Machine: StartAt is required",
            json!({"States": {"S": {"Type": "Succeed"}}}))
            .refused("StartAt"),
        case("start_at_names_no_state", "spec, Structure of a State Machine: StartAt must name a state",
            json!({"StartAt": "Nope", "States": {"S": {"Type": "Succeed"}}}))
            .refused("Nope"),
        case("next_names_no_state", "spec, Transitions: Next must name a state of the machine",
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "Next": "Nope"}}}))
            .refused("Nope"),
        case("unreachable_state", CHECKS,
            json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}, "Orphan": {"Type": "Succeed"}}}))
            .refused("Orphan"),
        case("end_and_next", "spec, Transitions: a state has either Next or End, not both",
            json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "Next": "T", "End": true}, "T": {"Type": "Succeed"}}}))
            .refused("End"),
        case("neither_end_nor_next", "spec, Transitions: a non-terminal state needs Next or End",
            single(json!({"Type": "Pass"})))
            .refused("Next"),
        case("unknown_type", "spec, State Types: Type is one of the eight state types",
            single(json!({"Type": "Sleep", "End": true})))
            .refused("Sleep"),
        case("unknown_field", "spec, State Types: a state has only the fields of its type",
            single(json!({"Type": "Pass", "Colour": "red", "End": true})))
            .refused("Colour"),
        case("choice_without_choices", "spec, Choice State: Choices is a non-empty array",
            single(json!({"Type": "Choice", "Default": "S"})))
            .refused("Choices"),
        case("succeed_with_next", "spec, Succeed State: a terminal state has no Next",
            json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "Next": "T"}, "T": {"Type": "Succeed"}}}))
            .refused("Next"),
        case("state_name_over_80_characters", "guide, Service quotas: names of states are at most 80 characters",
            json!({"StartAt": "S".repeat(81), "States": {"S".repeat(81): {"Type": "Succeed"}}}))
            .refused("80"),
        case("retry_on_pass_refused", "spec, State Types: Retry is a field of Task, Parallel and Map only",
            single(json!({"Type": "Pass", "Retry": [{"ErrorEquals": ["States.ALL"]}], "End": true})))
            .refused("Retry"),
        case("timeout_and_timeout_path", "spec, Task State: TimeoutSeconds and TimeoutSecondsPath exclude each other",
            single(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "TimeoutSeconds": 1, "TimeoutSecondsPath": "$.t", "End": true})))
            .refused("TimeoutSeconds"),
        case("heartbeat_not_below_timeout", "spec, Task State: HeartbeatSeconds must be smaller than TimeoutSeconds",
            single(json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "TimeoutSeconds": 10, "HeartbeatSeconds": 10, "End": true})))
            .refused("HeartbeatSeconds"),
        case("fail_error_and_error_path", "guide, Fail workflow state: Error and ErrorPath exclude each other",
            single(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})))
            .refused("Error"),
        case("path_field_not_a_path", "spec, Parameters: the value of a .$ field must be a path",
            single(json!({"Type": "Pass", "Parameters": {"x.$": "not a path"}, "End": true})))
            .refused("x.$"),
    ]
}
