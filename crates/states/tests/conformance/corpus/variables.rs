//! Workflow variables (the developer guide's "Passing data between states with variables"):
//! Assign, `$name`, evaluation order and scopes, in JSONPath states.

use super::{case, Case, Reply};
use serde_json::json;

const GUIDE: &str = "guide, Passing data between states with variables";

pub fn cases() -> Vec<Case> {
    vec![
        case("assign_then_read", "guide, Passing data between states with variables: a later state reads $name",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"x": 42}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"x.$": "$x"}, "End": true}}}))
            .output(json!({"x": 42})),
        case("assignments_read_values_from_before", "guide, Passing data between states with variables (Evaluation of assignments)",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
                "B": {"Type": "Pass", "Assign": {"x": 2, "y.$": "$x"}, "Next": "C"},
                "C": {"Type": "Pass", "Parameters": {"x.$": "$x", "y.$": "$y"}, "End": true}}}))
            .output(json!({"x": 2, "y": 1})),
        case("assign_reads_the_input", GUIDE,
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"v.$": "$.a"}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"v.$": "$v"}, "End": true}}}))
            .input(json!({"a": "from input"}))
            .output(json!({"v": "from input"})),
        case("assign_reads_the_context", GUIDE,
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"n.$": "$$.State.Name"}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"n.$": "$n"}, "End": true}}}))
            .output(json!({"n": "A"})),
        case("variable_member_path", GUIDE,
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"obj": {"inner": [1, 2]}}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"v.$": "$obj.inner[1]"}, "End": true}}}))
            .output(json!({"v": 2})),
        case("choice_reads_a_variable", "guide, Passing data between states with variables (Choice): Variable may be $name",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"go": true}, "Next": "C"},
                "C": {"Type": "Choice", "Choices": [{"Variable": "$go", "BooleanEquals": true, "Next": "Y"}], "Default": "N"},
                "Y": {"Type": "Pass", "Result": "yes", "End": true},
                "N": {"Type": "Pass", "Result": "no", "End": true}}}))
            .output(json!("yes")),
        case("map_iterations_read_outer_variables", "guide, Passing data between states with variables (Variable scope)",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"k": "outer"}, "Next": "M"},
                "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "Parameters": {"k.$": "$k"}, "End": true}}}, "End": true}}}))
            .input(json!([1, 2]))
            .output(json!([{"k": "outer"}, {"k": "outer"}])),
        case("parallel_branches_read_outer_variables", "guide, Passing data between states with variables (Variable scope)",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"k": 7}, "Next": "P"},
                "P": {"Type": "Parallel", "Branches": [{"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "Parameters": {"k.$": "$k"}, "End": true}}}], "End": true}}}))
            .output(json!([{"k": 7}])),
        case("catch_assign_reads_the_error_output", "guide, Passing data between states with variables (Assign in Catch): $ is the error output",
            json!({"StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "Next": "R"}], "End": true},
                "R": {"Type": "Pass", "Parameters": {"err.$": "$err"}, "End": true}}}))
            .reply("arn:aws:states:::lambda:invoke", vec![Reply::Err("Lambda.Unknown", "timeout")])
            .output(json!({"err": "Lambda.Unknown"})),
        case("reserved_name_refused", "guide, Passing data between states with variables (Variable names): states is reserved",
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"states": 1}, "End": true}}}))
            .refused("states"),
        case("assign_every_json_type", "recorded, test_base_cases[BASE_VAR]: constants of every JSON type are kept as written",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"s": "$.notapath", "n": 1.5, "b": false, "z": null, "a": [1], "o": {"k": "v"}}, "Next": "B"},
                "B": {"Type": "Pass", "Parameters": {"all.$": "States.Array($s, $n, $b, $z, $a, $o)"}, "End": true}}}))
            .output(json!({"all": ["$.notapath", 1.5, false, null, [1], {"k": "v"}]})),
    ]
}
