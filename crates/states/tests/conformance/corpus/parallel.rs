//! Parallel states: branch outputs in order, the input each branch gets, failures and their
//! handling, and the history's shape.

use super::{case, Case, Reply};
use serde_json::{json, Value};

/// A branch of one state, named `name`: state names are unique in the whole definition.
fn branch(name: &str, state: Value) -> Value {
    json!({"StartAt": name, "States": {name: state}})
}

fn parallel(branches: Vec<Value>, extra: Value) -> Value {
    let mut state = json!({"Type": "Parallel", "Branches": branches, "End": true});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"StartAt": "P", "States": {"P": state}})
}

fn pass(result: Value) -> Value {
    json!({"Type": "Pass", "Result": result, "End": true})
}

pub fn cases() -> Vec<Case> {
    vec![
        case("outputs_in_branch_order", "spec, Parallel State: the output is an array of the branches' outputs, in order",
            parallel(vec![branch("B2", pass(json!("first"))), branch("B3", pass(json!("second")))], json!({})))
            .output(json!(["first", "second"])),
        case("every_branch_gets_the_input", "spec, Parallel State: each branch receives the Parallel state's input",
            parallel(vec![branch("B4", json!({"Type": "Pass", "End": true})), branch("B5", json!({"Type": "Pass", "InputPath": "$.a", "End": true}))], json!({})))
            .input(json!({"a": 1}))
            .output(json!([{"a": 1}, 1])),
        case("result_path", "spec, Parallel State: ResultPath places the array in the input",
            parallel(vec![branch("B6", pass(json!(1)))], json!({"ResultPath": "$.results"})))
            .input(json!({"a": 1}))
            .output(json!({"a": 1, "results": [1]})),
        case("parameters_are_the_branch_input", "guide, Parallel workflow state: Parameters build each branch's input",
            parallel(vec![branch("B7", json!({"Type": "Pass", "End": true}))], json!({"Parameters": {"x.$": "$.a"}})))
            .input(json!({"a": 1}))
            .output(json!([{"x": 1}])),
        case("result_selector", "guide, Parallel workflow state: ResultSelector reshapes the array of outputs",
            parallel(vec![branch("B8", pass(json!(1))), branch("B9", pass(json!(2)))], json!({"ResultSelector": {"second.$": "$[1]"}})))
            .output(json!({"second": 2})),
        case("a_failing_branch_fails_the_state", "spec, Parallel State: if any branch fails, the Parallel state fails with its error",
            parallel(vec![branch("B10", pass(json!(1))), branch("B11", json!({"Type": "Fail", "Error": "BranchError", "Cause": "no"}))], json!({})))
            .fails_with("BranchError", "no"),
        case("catch_on_parallel", "spec, Parallel State: a Parallel state's Catch handles a branch's error",
            {
                let mut m = parallel(vec![branch("B12", json!({"Type": "Fail", "Error": "BranchError", "Cause": "no"}))],
                    json!({"Catch": [{"ErrorEquals": ["BranchError"], "ResultPath": "$.err", "Next": "After"}]}));
                m["States"]["After"] = json!({"Type": "Pass", "End": true});
                m
            })
            .input(json!({"a": 1}))
            .output(json!({"a": 1, "err": {"Error": "BranchError", "Cause": "no"}})),
        case("retry_on_parallel", "spec, Parallel State: Retry runs the branches again",
            parallel(vec![branch("B13", json!({"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": true}))],
                json!({"Retry": [{"ErrorEquals": ["Flaky"], "MaxAttempts": 1}]})))
            .reply("arn:aws:states:::lambda:invoke", vec![Reply::Err("Flaky", "once"), Reply::Ok(json!("ok"))])
            .output(json!(["ok"])),
        case("nested_parallel", "spec, Parallel State: a branch may hold a Parallel state",
            parallel(vec![branch("B14", json!({"Type": "Parallel", "Branches": [branch("B15", pass(json!("inner")))], "End": true}))], json!({})))
            .output(json!([["inner"]])),
        case("branch_with_several_states", "spec, Parallel State: a branch is a state machine of its own",
            parallel(vec![json!({"StartAt": "One", "States": {
                "One": {"Type": "Pass", "Result": 1, "ResultPath": "$.one", "Next": "Two"},
                "Two": {"Type": "Pass", "Result": 2, "ResultPath": "$.two", "End": true}}})], json!({})))
            .output(json!([{"one": 1, "two": 2}])),
        case("history", "guide, GetExecutionHistory (HistoryEvent types): a Parallel state's events",
            parallel(vec![branch("B16", pass(json!(1)))], json!({})))
            .output(json!([1]))
            .history(&["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted",
                "PassStateEntered", "PassStateExited", "ParallelStateSucceeded",
                "ParallelStateExited", "ExecutionSucceeded"]),
        case("branch_transition_outside_refused", "spec, Parallel State: a branch's states may transition only within the branch",
            parallel(vec![json!({"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "P"}}})], json!({})))
            .refused("P"),
    ]
}
