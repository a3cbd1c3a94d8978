//! The static checks, one group per concept (strict JSON, top level, every state,
//! transitions, paths, retry and catch, each state type, templates), each asserting the
//! problem's JSON path and message; and the shipped `statemachine/ingest.asl.json`, which
//! must keep parsing unchanged.
use super::*;
use serde_json::json;

fn problems(definition: &Value) -> Vec<Problem> {
    match parse_definition(&definition.to_string()) {
        Ok(_) => panic!("expected problems in {definition:#}"),
        Err(Problems(p)) => p,
    }
}

#[track_caller]
fn assert_problem(definition: Value, path: &str, fragment: &str) -> Vec<Problem> {
    let found = problems(&definition);
    assert!(
        found
            .iter()
            .any(|p| p.path == path && p.message.contains(fragment)),
        "no problem at {path} containing {fragment:?}; got:\n{}",
        render(&found)
    );
    found
}

/// `A` is the state under test; `Done` is a Succeed state to go to.
fn with_state(state: Value) -> Value {
    json!({"StartAt": "A", "States": {"A": state, "Done": {"Type": "Succeed"}}})
}

fn ok(definition: Value) -> Definition {
    match parse_definition(&definition.to_string()) {
        Ok(d) => d,
        Err(e) => panic!("unexpected problems:\n{e}"),
    }
}

fn state_of(d: &Definition, name: &str) -> Arc<State> {
    d.machine.state(name).cloned().expect("state exists")
}

#[test]
fn context_input_is_built_only_when_a_path_may_read_it() {
    assert!(!context_reads_input(
        r#"{"a.$": "$$.Map.Item.Value", "b.$": "$$.Execution.Name"}"#
    ));
    assert!(!context_reads_input(r#"{"a.$": "$.x"}"#));
    // See: #22
    assert!(!context_reads_input(
        r#"{"a": "{% $states.input.x + $states.result.y %}"}"#
    ));
    for reads in [
        "$$.Execution.Input.x",
        "$$.Execution",
        "$$",
        "$$['Execution']",
        "$$.Execution.Names",
        "$$..Input",
        "{% $states.context.Execution.Input %}",
        "{% $keys($states) %}",
    ] {
        assert!(
            context_reads_input(&format!(r#"{{"a.$": "{reads}"}}"#)),
            "{reads}"
        );
    }
}

// -- strict JSON --------------------------------------------------------------------------

#[test]
fn duplicate_keys_are_rejected_with_key_path_and_position() {
    let text = "{\n  \"StartAt\": \"A\",\n  \"States\": {\n    \"A\": {\"Type\": \"Succeed\", \"Type\": \"Pass\"}\n  }\n}";
    let e = parse_definition(text).unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].path, "$.States.A");
    assert!(e.0[0].message.contains("duplicate key `Type`"), "{e}");
    assert!(e.0[0].message.contains("line 4"), "{e}");
    let top = parse_value_strict(r#"{"a": 1, "a": 2}"#).unwrap_err();
    assert_eq!(top.path, "$");
    assert!(
        top.message.contains("`a`") && top.message.contains("column"),
        "{top:?}"
    );
    let nested =
        parse_value_strict(r#"{"l": [{"x": 1}, {"odd key": 1, "odd key": 2}]}"#).unwrap_err();
    assert_eq!(nested.path, "$.l[1]");
    assert!(nested.message.contains("`odd key`"));
}

#[test]
fn strict_values_keep_order_and_reject_bad_json() {
    let v = parse_value_strict(r#"{"b": [1, -2, 2.5, true, null], "a": {"c": "x"}}"#).unwrap();
    assert_eq!(v, json!({"b": [1, -2, 2.5, true, null], "a": {"c": "x"}}));
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["b", "a"]
    );
    let bad = parse_value_strict("{\"a\": }").unwrap_err();
    assert_eq!(bad.path, "$");
    assert!(bad.message.contains("not valid JSON") && bad.message.contains("line 1"));
    assert!(parse_value_strict("{} trailing").is_err());
    // Nesting beyond serde_json's recursion limit is an error, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(parse_value_strict(&deep)
        .unwrap_err()
        .message
        .contains("recursion limit"));
    // Same key in different objects is fine.
    assert!(parse_value_strict(r#"{"a": {"x": 1}, "b": {"x": 1}}"#).is_ok());
}

// -- top level ----------------------------------------------------------------------------

#[test]
fn top_level_fields() {
    assert_problem(
        json!({"States": {"A": {"Type": "Succeed"}}}),
        "$",
        "`StartAt` is required",
    );
    assert_problem(
        json!({"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}),
        "$.StartAt",
        "`B`",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {}}),
        "$.States",
        "at least one state",
    );
    assert_problem(json!({"StartAt": "A"}), "$", "`States` is required");
    assert_problem(
        json!({"StartAt": 1, "States": {"A": {"Type": "Succeed"}}}),
        "$.StartAt",
        "must be a string",
    );
    let base = |extra: Value| {
        let mut d = json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}});
        for (k, v) in extra.as_object().unwrap() {
            d[k] = v.clone();
        }
        d
    };
    assert_problem(
        base(json!({"Extra": 1})),
        "$.Extra",
        "does not belong to a state machine definition",
    );
    assert_problem(
        base(json!({"TimeoutSeconds": 0})),
        "$.TimeoutSeconds",
        "positive integer",
    );
    assert_problem(
        base(json!({"TimeoutSeconds": 1.5})),
        "$.TimeoutSeconds",
        "positive integer",
    );
    ok(base(json!({"QueryLanguage": "JSONata"})));
    assert_problem(
        base(json!({"QueryLanguage": "SQL"})),
        "$.QueryLanguage",
        "must be",
    );
    assert_problem(base(json!({"Comment": 3})), "$.Comment", "must be a string");
    assert_problem(
        base(json!({"Version": 1.0})),
        "$.Version",
        "must be a string",
    );
    let d = ok(base(
        json!({"Comment": "c", "Version": "1.0", "TimeoutSeconds": 30, "QueryLanguage": "JSONPath"}),
    ));
    assert_eq!(d.comment.as_deref(), Some("c"));
    assert_eq!(d.timeout_seconds, Some(30));
    assert_problem(json!([1]), "$", "must be a JSON object");
}

// -- every state --------------------------------------------------------------------------

#[test]
fn state_type_is_required_and_known() {
    assert_problem(
        with_state(json!({"Next": "Done"})),
        "$.States.A",
        "`Type` is required",
    );
    assert_problem(
        with_state(json!({"Type": "Sleep", "Next": "Done"})),
        "$.States.A.Type",
        "unknown state type \"Sleep\"",
    );
    assert_problem(
        with_state(json!("Pass")),
        "$.States.A",
        "must be a JSON object",
    );
}

#[test]
fn fields_are_allowed_per_state_type() {
    // Spec, "Required & allowed fields".
    let cases = [
        (
            json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Done"}], "Next": "Done"}),
            "Next",
            "Choice",
        ),
        (json!({"Type": "Succeed", "End": true}), "End", "Succeed"),
        (
            json!({"Type": "Fail", "InputPath": "$"}),
            "InputPath",
            "Fail",
        ),
        (
            json!({"Type": "Wait", "Seconds": 1, "Next": "Done", "ResultPath": "$.x"}),
            "ResultPath",
            "Wait",
        ),
        (
            json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Done"}], "ResultPath": "$.x"}),
            "ResultPath",
            "Choice",
        ),
        (
            json!({"Type": "Pass", "Next": "Done", "Retry": []}),
            "Retry",
            "Pass",
        ),
        (
            json!({"Type": "Pass", "Next": "Done", "ResultSelector": {}}),
            "ResultSelector",
            "Pass",
        ),
        (
            json!({"Type": "Wait", "Seconds": 1, "Next": "Done", "Parameters": {}}),
            "Parameters",
            "Wait",
        ),
        (
            json!({"Type": "Task", "Resource": "r", "Next": "Done", "Resul": 1}),
            "Resul",
            "Task",
        ),
        (
            json!({"Type": "Succeed", "Seconds": 1}),
            "Seconds",
            "Succeed",
        ),
    ];
    for (state, field, ty) in cases {
        assert_problem(
            with_state(state),
            &format!("$.States.A.{field}"),
            &format!("field `{field}` does not belong to a {ty} state"),
        );
    }
    assert_problem(
        with_state(json!({"Type": "Succeed", "Assign": {"x": 1}})),
        "$.States.A.Assign",
        "does not belong to a Succeed state",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "Assign": {"9lives": 1}})),
        "$.States.A.Assign['9lives']",
        "must begin with a letter",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "Assign": {"x.$": "$$.Nope["}})),
        "$.States.A.Assign.x.$",
        "invalid path",
    );
    ok(with_state(
        json!({"Type": "Pass", "Next": "Done", "Assign": {"x": 1, "y.$": "$x"}}),
    ));
    assert_problem(
        with_state(json!({"Type": "Task", "Resource": "r", "Next": "Done", "Arguments": {}})),
        "$.States.A.Arguments",
        "JSONata",
    );
    ok(with_state(
        json!({"Type": "Pass", "Next": "Done", "QueryLanguage": "JSONata"}),
    ));
    ok(with_state(
        json!({"Type": "Pass", "Next": "Done", "QueryLanguage": "JSONPath", "Comment": "x"}),
    ));
}

#[test]
fn next_or_end_exactly_once() {
    assert_problem(
        with_state(json!({"Type": "Pass"})),
        "$.States.A",
        "needs `Next` or `\"End\": true`",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "End": true})),
        "$.States.A",
        "mutually exclusive",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "End": false, "Next": "Done"})),
        "$.States.A",
        "mutually exclusive",
    );
    assert_problem(
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": "yes"}}}),
        "$.States.A.End",
        "must be true",
    );
    let d =
        ok(json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "End": true}}}));
    assert_eq!(state_of(&d, "A").transition, Transition::End);
}

#[test]
fn state_names_are_limited_and_unique() {
    let long = "x".repeat(81);
    assert_problem(
        json!({"StartAt": long, "States": {long.clone(): {"Type": "Succeed"}}}),
        &format!("$.States.{long}"),
        "the limit is 80",
    );
    let fine = "é".repeat(80);
    ok(json!({"StartAt": fine, "States": {fine.clone(): {"Type": "Succeed"}}}));
    // Spec, "States": names are unique in the whole state machine, branches included.
    assert_problem(
        with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
        ]})),
        "$.States.A.Branches[0].States.Done",
        "already used at $.States.Done",
    );
    assert_problem(
        json!({"StartAt": "my state", "States": {"my state": {"Type": "Pass", "Next": "gone"}}}),
        "$.States['my state'].Next",
        "`gone`",
    );
}

// -- transitions and the graph ------------------------------------------------------------

#[test]
fn transitions_stay_inside_their_machine() {
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Nowhere"})),
        "$.States.A.Next",
        "`Nowhere`, which is not a state",
    );
    assert_problem(
        with_state(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Elsewhere"}], "Default": "Nope"}),
        ),
        "$.States.A.Default",
        "`Nope`",
    );
    assert_problem(
        with_state(
            json!({"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "Elsewhere"}], "Default": "Done"}),
        ),
        "$.States.A.Choices[0].Next",
        "`Elsewhere`",
    );
    assert_problem(
        with_state(json!({"Type": "Task", "Resource": "r", "Next": "Done",
                          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Lost"}]})),
        "$.States.A.Catch[0].Next",
        "`Lost`",
    );
    // A branch cannot go to a state of the machine around it.
    assert_problem(
        with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "Done"}}}
        ]})),
        "$.States.A.Branches[0].States.B1.Next",
        "cannot transition out",
    );
    assert_problem(
        with_state(json!({"Type": "Map", "Next": "Done", "ItemProcessor":
            {"StartAt": "M1", "States": {"M1": {"Type": "Pass", "Next": "A"}}}})),
        "$.States.A.ItemProcessor.States.M1.Next",
        "cannot transition out",
    );
}

#[test]
fn unreachable_states_and_missing_terminal() {
    let found = assert_problem(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true},
            "Orphan": {"Type": "Pass", "Next": "A"},
            "Caught": {"Type": "Succeed"}}}),
        "$.States.Orphan",
        "cannot be reached from `StartAt`",
    );
    assert!(found.iter().any(|p| p.path == "$.States.Caught"));
    // Reachable through Choice rules, Default and Catch: no problem.
    ok(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "T"}], "Default": "D"},
        "T": {"Type": "Task", "Resource": "r", "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F"}]},
        "D": {"Type": "Succeed"},
        "F": {"Type": "Fail", "Error": "E"}}}));
    assert_problem(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"}}}),
        "$.States",
        "no terminal state",
    );
}

// -- paths --------------------------------------------------------------------------------

#[test]
fn input_output_and_result_paths() {
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "InputPath": "x"})),
        "$.States.A.InputPath",
        "must begin with `$`",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "OutputPath": "$.a["})),
        "$.States.A.OutputPath",
        "not a valid path",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "InputPath": 3})),
        "$.States.A.InputPath",
        "path string",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "ResultPath": "$.a[*]"})),
        "$.States.A.ResultPath",
        "reference path",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "ResultPath": "$$.x"})),
        "$.States.A.ResultPath",
        "context object",
    );
    assert_problem(
        with_state(json!({"Type": "Pass", "Next": "Done", "ResultPath": 1})),
        "$.States.A.ResultPath",
        "or null",
    );
    let d = ok(json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": null, "OutputPath": "$.x", "ResultPath": null, "Next": "B"},
        "B": {"Type": "Pass", "ResultPath": "$.r.s", "Next": "C"},
        "C": {"Type": "Pass", "ResultPath": "$", "InputPath": "$$.Execution", "End": true}}}));
    let a = state_of(&d, "A");
    assert!(a.input_path.is_none());
    assert_eq!(a.output_path.as_ref().map(Path::as_str), Some("$.x"));
    assert!(matches!(a.result_path, ResultPath::Discard));
    let b = state_of(&d, "B");
    assert!(b.input_path.as_ref().is_some_and(Path::is_root));
    assert!(matches!(&b.result_path, ResultPath::At(r) if r.as_str() == "$.r.s"));
    let c = state_of(&d, "C");
    assert!(matches!(c.result_path, ResultPath::Replace));
    assert!(c.input_path.as_ref().is_some_and(Path::is_context));
}

// -- retry and catch ----------------------------------------------------------------------

fn task_with(extra: Value) -> Value {
    let mut t = json!({"Type": "Task", "Resource": "r", "Next": "Done"});
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    with_state(t)
}

#[test]
fn retriers_are_checked() {
    let retry = |r: Value| task_with(json!({"Retry": [r]}));
    assert_problem(
        retry(json!({"ErrorEquals": []})),
        "$.States.A.Retry[0].ErrorEquals",
        "non-empty array",
    );
    assert_problem(
        retry(json!({"MaxAttempts": 1})),
        "$.States.A.Retry[0]",
        "`ErrorEquals` is required",
    );
    assert_problem(
        retry(json!({"ErrorEquals": [1]})),
        "$.States.A.Retry[0].ErrorEquals[0]",
        "must be a string",
    );
    assert_problem(
        retry(json!({"ErrorEquals": ["States.ALL", "X"]})),
        "$.States.A.Retry[0].ErrorEquals",
        "alone",
    );
    assert_problem(
        retry(json!({"ErrorEquals": ["X"], "IntervalSeconds": 0})),
        "$.States.A.Retry[0].IntervalSeconds",
        "positive integer",
    );
    assert_problem(
        retry(json!({"ErrorEquals": ["X"], "MaxAttempts": -1})),
        "$.States.A.Retry[0].MaxAttempts",
        "non-negative integer",
    );
    assert_problem(
        retry(json!({"ErrorEquals": ["X"], "BackoffRate": 0.5})),
        "$.States.A.Retry[0].BackoffRate",
        "at least 1.0",
    );
    assert_problem(
        retry(json!({"ErrorEquals": ["X"], "MaxDelaySeconds": 0})),
        "$.States.A.Retry[0].MaxDelaySeconds",
        "positive integer",
    );
    assert_problem(
        retry(json!({"ErrorEquals": ["X"], "JitterStrategy": "HALF"})),
        "$.States.A.Retry[0].JitterStrategy",
        "FULL",
    );
    assert_problem(
        retry(json!({"ErrorEquals": ["X"], "Interval": 1})),
        "$.States.A.Retry[0].Interval",
        "does not belong to a retrier",
    );
    assert_problem(
        task_with(json!({"Retry": {}})),
        "$.States.A.Retry",
        "array of retriers",
    );
    assert_problem(
        task_with(json!({"Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]})),
        "$.States.A.Retry[0].ErrorEquals",
        "must be the last in `Retry`",
    );
    let d = ok(task_with(json!({"Retry": [
        {"ErrorEquals": ["A", "B"], "IntervalSeconds": 2, "MaxAttempts": 0, "BackoffRate": 1.5,
         "MaxDelaySeconds": 10, "JitterStrategy": "FULL", "Comment": "c"},
        {"ErrorEquals": ["States.ALL"]}]})));
    let a = state_of(&d, "A");
    assert_eq!(a.retry.len(), 2);
    let r = &a.retry[0];
    assert_eq!(r.error_equals, ["A", "B"]);
    assert_eq!(
        (r.interval_seconds, r.max_attempts, r.max_delay_seconds),
        (2, 0, Some(10))
    );
    assert_eq!(r.backoff_rate, 1.5);
    assert_eq!(r.jitter, Jitter::Full);
    let d2 = &a.retry[1];
    assert_eq!(
        (d2.interval_seconds, d2.max_attempts, d2.backoff_rate),
        (1, 3, 2.0)
    );
    assert_eq!((d2.max_delay_seconds, d2.jitter), (None, Jitter::None));
}

#[test]
fn catchers_are_checked() {
    assert_problem(
        task_with(json!({"Catch": [{"ErrorEquals": ["X"]}]})),
        "$.States.A.Catch[0]",
        "`Next` is required",
    );
    assert_problem(
        task_with(json!({"Catch": [{"Next": "Done"}]})),
        "$.States.A.Catch[0]",
        "`ErrorEquals` is required",
    );
    assert_problem(
        task_with(
            json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}, {"ErrorEquals": ["X"], "Next": "Done"}]}),
        ),
        "$.States.A.Catch[0].ErrorEquals",
        "must be the last in `Catch`",
    );
    assert_problem(
        task_with(
            json!({"Catch": [{"ErrorEquals": ["X"], "Next": "Done", "ResultPath": "$.a.*"}]}),
        ),
        "$.States.A.Catch[0].ResultPath",
        "reference path",
    );
    let d = ok(task_with(json!({"Catch": [
        {"ErrorEquals": ["X"], "Next": "Done", "ResultPath": "$.error"},
        {"ErrorEquals": ["States.ALL"], "Next": "Done", "ResultPath": null}]})));
    let a = state_of(&d, "A");
    assert_eq!(a.catch[0].next, "Done");
    assert!(matches!(&a.catch[0].result_path, ResultPath::At(p) if p.as_str() == "$.error"));
    assert!(matches!(a.catch[1].result_path, ResultPath::Discard));
}

// -- Task ---------------------------------------------------------------------------------

#[test]
fn task_fields() {
    assert_problem(
        with_state(json!({"Type": "Task", "Next": "Done"})),
        "$.States.A",
        "`Resource` is required",
    );
    assert_problem(
        task_with(json!({"TimeoutSeconds": 10, "TimeoutSecondsPath": "$.t"})),
        "$.States.A",
        "mutually exclusive",
    );
    assert_problem(
        task_with(json!({"HeartbeatSeconds": 5, "HeartbeatSecondsPath": "$.h"})),
        "$.States.A",
        "mutually exclusive",
    );
    assert_problem(
        task_with(json!({"TimeoutSeconds": 0})),
        "$.States.A.TimeoutSeconds",
        "positive integer",
    );
    assert_problem(
        task_with(json!({"TimeoutSeconds": 10, "HeartbeatSeconds": 10})),
        "$.States.A.HeartbeatSeconds",
        "smaller than `TimeoutSeconds`",
    );
    assert_problem(
        task_with(json!({"TimeoutSecondsPath": "t"})),
        "$.States.A.TimeoutSecondsPath",
        "not a valid path",
    );
    let d = ok(task_with(
        json!({"TimeoutSeconds": 10, "HeartbeatSecondsPath": "$.hb"}),
    ));
    let Body::Task(t) = &state_of(&d, "A").body else {
        panic!("a Task")
    };
    assert_eq!(t.resource, "r");
    assert!(matches!(t.timeout, Some(Count::Literal(10))));
    assert!(matches!(&t.heartbeat, Some(Count::Path(p)) if p.as_str() == "$.hb"));
}

// -- Choice -------------------------------------------------------------------------------

fn choice_rule(rule: Value) -> Value {
    with_state(json!({"Type": "Choice", "Choices": [rule], "Default": "Done"}))
}

#[test]
fn choice_structure() {
    assert_problem(
        with_state(json!({"Type": "Choice", "Choices": []})),
        "$.States.A.Choices",
        "non-empty array",
    );
    assert_problem(
        with_state(json!({"Type": "Choice", "Default": "Done"})),
        "$.States.A",
        "`Choices` is required",
    );
    assert_problem(
        choice_rule(json!({"Variable": "$.x", "IsNull": true})),
        "$.States.A.Choices[0]",
        "needs `Next`",
    );
    assert_problem(
        choice_rule(
            json!({"Not": {"Variable": "$.x", "IsNull": true, "Next": "Done"}, "Next": "Done"}),
        ),
        "$.States.A.Choices[0].Not.Next",
        "nested choice rule cannot have `Next`",
    );
    assert_problem(
        choice_rule(json!({"Variable": "$.x", "IsNull": true, "IsString": true, "Next": "Done"})),
        "$.States.A.Choices[0]",
        "exactly one operator; this one has `IsNull`, `IsString`",
    );
    assert_problem(
        choice_rule(json!({"Variable": "$.x", "Next": "Done"})),
        "$.States.A.Choices[0]",
        "needs a comparison operator",
    );
    assert_problem(
        choice_rule(json!({"And": [], "Next": "Done"})),
        "$.States.A.Choices[0].And",
        "non-empty array",
    );
    assert_problem(
        choice_rule(json!({"Or": {}, "Next": "Done"})),
        "$.States.A.Choices[0].Or",
        "non-empty array",
    );
    assert_problem(
        choice_rule(json!({"Not": [], "Next": "Done"})),
        "$.States.A.Choices[0].Not",
        "must be a JSON object",
    );
    assert_problem(
        choice_rule(json!({"StringEquals": "a", "Next": "Done"})),
        "$.States.A.Choices[0]",
        "needs `Variable`",
    );
    assert_problem(
        choice_rule(
            json!({"Variable": "$.x", "And": [{"Variable": "$.x", "IsNull": true}], "Next": "Done"}),
        ),
        "$.States.A.Choices[0].Variable",
        "does not belong to `And`",
    );
    assert_problem(
        choice_rule(json!({"Variable": "$.x[", "IsNull": true, "Next": "Done"})),
        "$.States.A.Choices[0].Variable",
        "not a valid path",
    );
    assert_problem(
        choice_rule(json!({"Variable": "$.x", "IsNull": true, "Next": "Done", "Extra": 1})),
        "$.States.A.Choices[0].Extra",
        "does not belong to a choice rule",
    );
    assert_problem(
        choice_rule(json!({"Condition": "{% true %}", "Next": "Done"})),
        "$.States.A.Choices[0].Condition",
        "JSONata",
    );
    assert_problem(
        choice_rule(
            json!({"Or": [{"Variable": "$.x", "IsNull": true}, {"Variable": "$.y"}], "Next": "Done"}),
        ),
        "$.States.A.Choices[0].Or[1]",
        "needs a comparison operator",
    );
}

#[test]
fn choice_operand_types() {
    let cases = [
        ("StringEquals", json!(1), "a string"),
        ("StringLessThanEquals", json!(null), "a string"),
        ("NumericEquals", json!("1"), "a number"),
        ("NumericGreaterThan", json!(true), "a number"),
        ("BooleanEquals", json!("true"), "true or false"),
        ("TimestampEquals", json!("yesterday"), "RFC 3339"),
        (
            "TimestampLessThan",
            json!("2016-03-14 01:59:00Z"),
            "RFC 3339",
        ),
        ("IsNull", json!("yes"), "true or false"),
        ("IsPresent", json!(1), "true or false"),
        ("StringMatches", json!(1), "pattern string"),
        ("StringMatches", json!("a\\d"), "not an escape"),
        ("StringEqualsPath", json!("x"), "not a valid path"),
        ("NumericLessThanPath", json!(3), "path string"),
    ];
    for (op, operand, fragment) in cases {
        assert_problem(
            choice_rule(json!({"Variable": "$.x", op: operand, "Next": "Done"})),
            &format!("$.States.A.Choices[0].{op}"),
            fragment,
        );
    }
    // No `…Path` form for StringMatches and the Is… tests.
    assert_problem(
        choice_rule(json!({"Variable": "$.x", "IsNullPath": "$.y", "Next": "Done"})),
        "$.States.A.Choices[0].IsNullPath",
        "does not belong to a choice rule",
    );
}

#[test]
fn choice_model() {
    // Spec, Choice Rules: the example with Not, And and NumericGreaterThanPath.
    let d = ok(json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
            {"And": [
                {"Variable": "$.value", "IsPresent": true},
                {"Variable": "$.value", "IsNumeric": true},
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30}],
             "Next": "ValueInTwenties"},
            {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold", "Next": "StartAudit"},
            {"Variable": "$.when", "TimestampLessThan": "2016-03-14T01:59:00Z", "Next": "Public"},
            {"Variable": "$.name", "StringMatches": "log-*.txt", "Next": "Public"}],
         "Default": "RecordEvent"},
        "Public": {"Type": "Succeed"},
        "ValueInTwenties": {"Type": "Succeed"},
        "StartAudit": {"Type": "Succeed"},
        "RecordEvent": {"Type": "Succeed"}}}));
    let c = state_of(&d, "C");
    assert_eq!(c.transition, Transition::Terminal);
    let Body::Choice(choice) = &c.body else {
        panic!("a Choice")
    };
    assert_eq!(choice.default.as_deref(), Some("RecordEvent"));
    let nexts: Vec<_> = choice.choices.iter().map(|b| b.next.as_str()).collect();
    assert_eq!(
        nexts,
        [
            "Public",
            "ValueInTwenties",
            "StartAudit",
            "Public",
            "Public"
        ]
    );
    assert!(matches!(&choice.choices[0].rule, ChoiceRule::Not(_)));
    assert!(matches!(&choice.choices[1].rule, ChoiceRule::And(r) if r.len() == 4));
    assert!(matches!(&choice.choices[2].rule,
        ChoiceRule::Compare { op: Comparison::NumericGreaterThan, operand: Operand::Path(p), .. }
            if p.as_str() == "$.auditThreshold"));
    let ctx = crate::variables::Bindings::default();
    let rule = |i: usize| &choice.choices[i].rule;
    assert!(rule(0).matches(&json!({"type": "Public"}), &ctx).unwrap());
    assert!(rule(1).matches(&json!({"value": 25}), &ctx).unwrap());
    assert!(rule(2)
        .matches(&json!({"rating": 60, "auditThreshold": 50}), &ctx)
        .unwrap());
    assert!(rule(3)
        .matches(&json!({"when": "2016-03-13T00:00:00Z"}), &ctx)
        .unwrap());
    assert!(rule(4)
        .matches(&json!({"name": "log-1.txt"}), &ctx)
        .unwrap());
}

// -- Wait, Fail, Pass ---------------------------------------------------------------------

#[test]
fn wait_fields() {
    let wait = |extra: Value| {
        let mut w = json!({"Type": "Wait", "Next": "Done"});
        for (k, v) in extra.as_object().unwrap() {
            w[k] = v.clone();
        }
        with_state(w)
    };
    assert_problem(wait(json!({})), "$.States.A", "needs one of `Seconds`");
    assert_problem(
        wait(json!({"Seconds": 1, "SecondsPath": "$.s"})),
        "$.States.A",
        "exactly one of",
    );
    assert_problem(
        wait(json!({"Seconds": -1})),
        "$.States.A.Seconds",
        "non-negative integer",
    );
    assert_problem(
        wait(json!({"Timestamp": "tomorrow"})),
        "$.States.A.Timestamp",
        "RFC 3339",
    );
    assert_problem(
        wait(json!({"Timestamp": "2016-03-14T01:59:00z"})),
        "$.States.A.Timestamp",
        "RFC 3339",
    );
    assert_problem(
        wait(json!({"TimestampPath": "$$$"})),
        "$.States.A.TimestampPath",
        "not a valid path",
    );
    let d = ok(json!({"StartAt": "W1", "States": {
        "W1": {"Type": "Wait", "Seconds": 0, "Next": "W2"},
        "W2": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00+02:00", "Next": "W3"},
        "W3": {"Type": "Wait", "SecondsPath": "$.s", "Next": "W4"},
        "W4": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}}));
    assert!(matches!(
        state_of(&d, "W1").body,
        Body::Wait(Wait::Seconds(0))
    ));
    let Body::Wait(Wait::Timestamp(t)) = state_of(&d, "W2").body.clone() else {
        panic!("timestamp")
    };
    assert_eq!(t.to_rfc3339(), "2016-03-14T01:59:00+02:00");
    assert!(
        matches!(&state_of(&d, "W3").body, Body::Wait(Wait::SecondsPath(p)) if p.as_str() == "$.s")
    );
    assert!(
        matches!(&state_of(&d, "W4").body, Body::Wait(Wait::TimestampPath(p)) if p.as_str() == "$.t")
    );
}

#[test]
fn fail_fields() {
    let fail = |f: Value| json!({"StartAt": "A", "States": {"A": f}});
    // Neither combination reaches Template::expression: both forms are present.
    assert_problem(
        fail(json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"})),
        "$.States.A",
        "`Error` and `ErrorPath` are mutually exclusive",
    );
    assert_problem(
        fail(json!({"Type": "Fail", "Cause": "C", "CausePath": "$.c"})),
        "$.States.A",
        "`Cause` and `CausePath` are mutually exclusive",
    );
    assert_problem(
        fail(json!({"Type": "Fail", "Error": 5})),
        "$.States.A.Error",
        "must be a string",
    );
    assert_problem(
        fail(json!({"Type": "Fail", "Cause": "C", "Next": "A"})),
        "$.States.A.Next",
        "does not belong to a Fail state",
    );
    let d = ok(fail(
        json!({"Type": "Fail", "Error": "Oops", "Cause": "because"}),
    ));
    let Body::Fail(f) = &state_of(&d, "A").body else {
        panic!("a Fail")
    };
    assert!(matches!(&f.error, Some(Text::Literal(e)) if e == "Oops"));
    assert!(matches!(&f.cause, Some(Text::Literal(c)) if c == "because"));
    let d = ok(fail(json!({"Type": "Fail"})));
    assert!(matches!(
        &state_of(&d, "A").body,
        Body::Fail(Fail {
            error: None,
            cause: None
        })
    ));
}

#[test]
fn fail_paths_compile_as_expressions() {
    let d = ok(
        json!({"StartAt": "A", "States": {"A": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "States.Format('x {}', $.c)"}}}),
    );
    let Body::Fail(f) = &state_of(&d, "A").body else {
        panic!("a Fail")
    };
    assert!(matches!(f.error, Some(Text::Dynamic(_))));
    assert!(matches!(f.cause, Some(Text::Dynamic(_))));
    let found = problems(
        &json!({"StartAt": "A", "States": {"A": {"Type": "Fail", "ErrorPath": "States.Nope(1)"}}}),
    );
    assert!(
        found
            .iter()
            .any(|p| p.path.starts_with("$.States.A.ErrorPath")),
        "{found:?}"
    );
}

#[test]
fn pass_result() {
    let d = ok(with_state(
        json!({"Type": "Pass", "Result": {"x": [1, 2]}, "ResultPath": "$.r", "Next": "Done"}),
    ));
    let a = state_of(&d, "A");
    assert!(matches!(&a.body, Body::Pass { result: Some(r) } if *r == json!({"x": [1, 2]})));
    let d = ok(with_state(
        json!({"Type": "Pass", "Result": null, "Next": "Done"}),
    ));
    assert!(matches!(
        &state_of(&d, "A").body,
        Body::Pass {
            result: Some(Value::Null)
        }
    ));
    let d = ok(with_state(json!({"Type": "Pass", "Next": "Done"})));
    assert!(matches!(
        &state_of(&d, "A").body,
        Body::Pass { result: None }
    ));
}

// -- templates ----------------------------------------------------------------------------

#[test]
fn templates_must_be_objects() {
    // Rejected before compiling, so this holds with or without template.rs.
    assert_problem(
        task_with(json!({"Parameters": [1]})),
        "$.States.A.Parameters",
        "must be a JSON object",
    );
    assert_problem(
        task_with(json!({"ResultSelector": "x"})),
        "$.States.A.ResultSelector",
        "must be a JSON object",
    );
}

#[test]
fn template_problems_carry_their_path() {
    let found = problems(&task_with(
        json!({"Parameters": {"ok.$": "$.a", "bad.$": "nope"}}),
    ));
    assert!(
        found
            .iter()
            .any(|p| p.path.starts_with("$.States.A.Parameters") && p.path.contains("bad")),
        "{found:?}"
    );
    let d = ok(task_with(
        json!({"Parameters": {"a.$": "$.a", "b": 1}, "ResultSelector": {"r.$": "$.x"}}),
    ));
    let a = state_of(&d, "A");
    assert!(a.parameters.is_some() && a.result_selector.is_some());
    // A Map's `Parameters` is its legacy `ItemSelector`.
    let d = ok(with_state(
        json!({"Type": "Map", "Next": "Done", "Parameters": {"v.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
    ));
    let a = state_of(&d, "A");
    assert!(a.parameters.is_none());
    assert!(matches!(&a.body, Body::Map(m) if m.item_selector.is_some()));
}

// -- Parallel -----------------------------------------------------------------------------

#[test]
fn parallel_branches() {
    assert_problem(
        with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": []})),
        "$.States.A.Branches",
        "non-empty array",
    );
    assert_problem(
        with_state(json!({"Type": "Parallel", "Next": "Done"})),
        "$.States.A",
        "`Branches` is required",
    );
    assert_problem(
        with_state(
            json!({"Type": "Parallel", "Next": "Done", "Branches": [{"States": {"X": {"Type": "Succeed"}}}]}),
        ),
        "$.States.A.Branches[0]",
        "`StartAt` is required",
    );
    assert_problem(
        with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}, "Version": "1.0"}]})),
        "$.States.A.Branches[0].Version",
        "does not belong to a Parallel branch",
    );
    assert_problem(
        with_state(json!({"Type": "Parallel", "Next": "Done", "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Wait", "End": true}}}]})),
        "$.States.A.Branches[0].States.X",
        "needs one of `Seconds`",
    );
}

// -- Map ----------------------------------------------------------------------------------

fn map_with(extra: Value) -> Value {
    let mut m = json!({"Type": "Map", "Next": "Done",
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}}});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    with_state(m)
}

fn distributed(extra: Value) -> Value {
    let mut m = json!({"ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    map_with(m)
}

#[test]
fn map_processor() {
    assert_problem(
        with_state(json!({"Type": "Map", "Next": "Done"})),
        "$.States.A",
        "needs `ItemProcessor`",
    );
    let p = json!({"StartAt": "P", "States": {"P": {"Type": "Succeed"}}});
    assert_problem(
        map_with(json!({"Iterator": p})),
        "$.States.A",
        "mutually exclusive",
    );
    assert_problem(
        map_with(
            json!({"ItemProcessor": {"ProcessorConfig": {"Mode": "PARALLEL"}, "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
        ),
        "$.States.A.ItemProcessor.ProcessorConfig.Mode",
        "INLINE",
    );
    assert_problem(
        map_with(
            json!({"ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
        ),
        "$.States.A.ItemProcessor.ProcessorConfig",
        "`ExecutionType` (STANDARD or EXPRESS) is required",
    );
    assert_problem(
        map_with(
            json!({"ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE", "ExecutionType": "EXPRESS"}, "StartAt": "P", "States": {"P": {"Type": "Succeed"}}}}),
        ),
        "$.States.A.ItemProcessor.ProcessorConfig.ExecutionType",
        "only when `Mode` is DISTRIBUTED",
    );
    assert_problem(
        map_with(
            json!({"ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}, "Extra": 1}}),
        ),
        "$.States.A.ItemProcessor.Extra",
        "does not belong to an ItemProcessor",
    );
    // The deprecated `Iterator` is an inline processor.
    let d = ok(with_state(
        json!({"Type": "Map", "Next": "Done", "Iterator": p, "ItemsPath": "$.items", "MaxConcurrency": 2}),
    ));
    let Body::Map(m) = &state_of(&d, "A").body else {
        panic!("a Map")
    };
    assert_eq!(m.mode, MapMode::Inline);
    assert_eq!(m.processor.start_at, "P");
    assert_eq!(m.items_path.as_ref().map(Path::as_str), Some("$.items"));
    assert!(matches!(m.max_concurrency, Some(Count::Literal(2))));
}

#[test]
fn map_counts_and_distributed_only_fields() {
    assert_problem(
        map_with(json!({"MaxConcurrency": 1, "MaxConcurrencyPath": "$.m"})),
        "$.States.A",
        "mutually exclusive",
    );
    assert_problem(
        map_with(json!({"MaxConcurrency": -1})),
        "$.States.A.MaxConcurrency",
        "non-negative integer",
    );
    assert_problem(
        map_with(json!({"ItemsPath": 3})),
        "$.States.A.ItemsPath",
        "path string",
    );
    for key in [
        "ItemBatcher",
        "Label",
        "ToleratedFailureCount",
        "ToleratedFailurePercentage",
    ] {
        let value = match key {
            "ItemBatcher" => json!({"MaxItemsPerBatch": 2}),
            "Label" => json!("l"),
            _ => json!(1),
        };
        assert_problem(
            map_with(json!({key: value})),
            &format!("$.States.A.{key}"),
            "applies only to a distributed Map",
        );
    }
    assert_problem(
        distributed(json!({"ToleratedFailurePercentage": 150})),
        "$.States.A.ToleratedFailurePercentage",
        "from 0 to 100",
    );
    assert_problem(
        distributed(
            json!({"ToleratedFailurePercentage": 5, "ToleratedFailurePercentagePath": "$.p"}),
        ),
        "$.States.A",
        "mutually exclusive",
    );
    assert_problem(
        distributed(json!({"ToleratedFailureCount": 1.5})),
        "$.States.A.ToleratedFailureCount",
        "non-negative integer",
    );
    assert_problem(
        distributed(json!({"Label": "x".repeat(41)})),
        "$.States.A.Label",
        "the limit is 40",
    );
    assert_problem(
        distributed(json!({"ItemBatcher": {}})),
        "$.States.A.ItemBatcher",
        "needs `MaxItemsPerBatch`",
    );
    assert_problem(
        distributed(json!({"ItemBatcher": {"MaxInputBytesPerBatch": 262145}})),
        "$.States.A.ItemBatcher.MaxInputBytesPerBatch",
        "the limit is 262144",
    );
    assert_problem(
        distributed(json!({"ItemBatcher": {"MaxItemsPerBatch": 0}})),
        "$.States.A.ItemBatcher.MaxItemsPerBatch",
        "positive integer",
    );
    assert_problem(
        distributed(json!({"ItemBatcher": {"MaxItems": 1}})),
        "$.States.A.ItemBatcher.MaxItems",
        "does not belong to `ItemBatcher`",
    );
}

#[test]
fn map_item_reader_and_result_writer() {
    // Without `Parameters` (reported) nothing here needs template.rs.
    assert_problem(
        distributed(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}})),
        "$.States.A.ItemReader",
        "`Parameters` is required",
    );
    assert_problem(
        distributed(json!({"ItemReader": {"Resource": "arn:aws:states:::dynamodb:scan"}})),
        "$.States.A.ItemReader.Resource",
        "is not supported",
    );
    assert_problem(
        distributed(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "XML"}}}),
        ),
        "$.States.A.ItemReader.ReaderConfig.InputType",
        "must be \"JSON\", \"JSONL\" or \"CSV\"",
    );
    assert_problem(
        distributed(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "MANIFEST"}}}),
        ),
        "$.States.A.ItemReader.ReaderConfig.InputType",
        "not supported by this engine",
    );
    assert_problem(
        distributed(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"}}}),
        ),
        "$.States.A.ItemReader.ReaderConfig",
        "`CSVHeaders` is required",
    );
    assert_problem(
        distributed(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON", "CSVHeaderLocation": "FIRST_ROW"}}}),
        ),
        "$.States.A.ItemReader.ReaderConfig.CSVHeaderLocation",
        "only to InputType CSV",
    );
    assert_problem(
        distributed(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": {"InputType": "JSON"}}}),
        ),
        "$.States.A.ItemReader.ReaderConfig.InputType",
        "does not apply",
    );
    assert_problem(
        distributed(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"MaxItems": 0}}}),
        ),
        "$.States.A.ItemReader.ReaderConfig.MaxItems",
        "positive integer",
    );
    assert_problem(
        distributed(
            json!({"ItemsPath": "$.x", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}}),
        ),
        "$.States.A.ItemsPath",
        "cannot be used with `ItemReader`",
    );
    assert_problem(
        map_with(json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}})),
        "$.States.A.ItemReader",
        "applies only to a distributed Map",
    );
    assert_problem(
        distributed(json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:getObject"}})),
        "$.States.A.ResultWriter.Resource",
        "use `arn:aws:states:::s3:putObject`",
    );
    assert_problem(
        distributed(json!({"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject"}})),
        "$.States.A.ResultWriter",
        "`Parameters` is required",
    );
}

#[test]
fn map_item_reader_model() {
    let d = ok(distributed(json!({
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a", "b"], "MaxItems": 10},
            "Parameters": {"Bucket": "b", "Key.$": "$.key"}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "out"}},
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.n", "BatchInput": {"run.$": "$$.Execution.Name"}}})));
    let Body::Map(m) = &state_of(&d, "A").body else {
        panic!("a Map")
    };
    let reader = m.item_reader.as_ref().expect("a reader");
    assert_eq!(reader.input, ItemInput::Csv);
    assert_eq!(
        reader.csv_headers.as_deref(),
        Some(&["a".to_string(), "b".to_string()][..])
    );
    assert!(matches!(reader.max_items, Some(Count::Literal(10))));
    assert!(m.result_writer.is_some());
    let batcher = m.item_batcher.as_ref().expect("a batcher");
    assert!(matches!(&batcher.max_items_per_batch, Some(Count::Path(p)) if p.as_str() == "$.n"));
    assert!(batcher.batch_input.is_some());
    let d = ok(distributed(
        json!({"ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
        "Parameters": {"Bucket": "b", "Prefix": "p/"}}}),
    ));
    let Body::Map(m) = &state_of(&d, "A").body else {
        panic!("a Map")
    };
    assert_eq!(
        m.item_reader.as_ref().map(|r| r.input),
        Some(ItemInput::Listing)
    );
}

// -- everything together ------------------------------------------------------------------

#[test]
fn many_problems_are_reported_at_once() {
    let found = problems(&json!({
        "StartAt": "A",
        "Bogus": true,
        "States": {
            "A": {"Type": "Task", "Next": "Missing", "Retry": [{"ErrorEquals": []}]},
            "B": {"Type": "Wait", "Seconds": -5, "End": true},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericEquals": "1"}]}
        }
    }));
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "$.Bogus",
        "$.States.A",
        "$.States.A.Next",
        "$.States.A.Retry[0].ErrorEquals",
        "$.States.B.Seconds",
        "$.States.C.Choices[0]",
        "$.States.C.Choices[0].NumericEquals",
    ] {
        assert!(
            paths.contains(&expected),
            "missing {expected} in {paths:#?}"
        );
    }
    assert!(found.len() >= 7);
    let rendered = Problems(found).to_string();
    assert!(
        rendered.contains("$.States.B.Seconds: `Seconds` must be a non-negative integer"),
        "{rendered}"
    );
}

#[test]
fn full_definition_builds_the_model() {
    let d = ok(json!({
        "Comment": "every state type",
        "StartAt": "Start",
        "TimeoutSeconds": 3600,
        "States": {
            "Start": {"Type": "Pass", "Result": {"n": 1}, "ResultPath": "$.pass", "Next": "Work"},
            "Work": {
                "Type": "Task", "Comment": "do it", "Resource": "arn:local:work",
                "InputPath": "$.in", "OutputPath": "$.out", "ResultPath": "$.result",
                "TimeoutSeconds": 60, "HeartbeatSeconds": 10,
                "Retry": [{"ErrorEquals": ["Transient"], "MaxAttempts": 5, "JitterStrategy": "FULL"}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Broken"}],
                "Next": "Route"
            },
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.go", "BooleanEquals": true, "Next": "Pause"}],
                "Default": "Finish"
            },
            "Pause": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Fan"},
            "Fan": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
                    {"StartAt": "Right", "States": {"Right": {"Type": "Succeed"}}}
                ],
                "ResultPath": null,
                "Retry": [{"ErrorEquals": ["States.BranchFailed"], "IntervalSeconds": 3}],
                "Next": "Each"
            },
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 4,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Task", "Resource": "arn:local:item", "End": true}}
                },
                "Next": "Batch"
            },
            "Batch": {
                "Type": "Map",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Chunk",
                    "States": {"Chunk": {"Type": "Pass", "End": true}}
                },
                "ItemBatcher": {"MaxItemsPerBatch": 100, "MaxInputBytesPerBatch": 1024},
                "ToleratedFailurePercentage": 5,
                "ToleratedFailureCountPath": "$.tolerated",
                "Label": "batches",
                "Next": "Finish"
            },
            "Finish": {"Type": "Succeed", "OutputPath": null},
            "Broken": {"Type": "Fail", "Error": "Broken", "Cause": "the task failed"}
        }
    }));
    assert_eq!(d.comment.as_deref(), Some("every state type"));
    assert_eq!(d.timeout_seconds, Some(3600));
    let m = &d.machine;
    assert_eq!(m.start_at, "Start");
    assert_eq!(m.states.len(), 9);
    for (name, s) in &m.states {
        assert_eq!(&s.name, name);
    }

    let start = state_of(&d, "Start");
    assert!(matches!(&start.body, Body::Pass { result: Some(r) } if *r == json!({"n": 1})));
    assert_eq!(start.transition, Transition::Next("Work".into()));
    assert!(matches!(&start.result_path, ResultPath::At(p) if p.as_str() == "$.pass"));

    let work = state_of(&d, "Work");
    assert_eq!(work.body.type_name(), "Task");
    assert_eq!(work.comment.as_deref(), Some("do it"));
    assert_eq!(work.input_path.as_ref().map(Path::as_str), Some("$.in"));
    assert_eq!(work.output_path.as_ref().map(Path::as_str), Some("$.out"));
    assert!(work.parameters.is_none() && work.result_selector.is_none());
    let Body::Task(task) = &work.body else {
        panic!("a Task")
    };
    assert_eq!(task.resource, "arn:local:work");
    assert!(matches!(task.timeout, Some(Count::Literal(60))));
    assert!(matches!(task.heartbeat, Some(Count::Literal(10))));
    assert_eq!(work.retry.len(), 1);
    assert_eq!(work.retry[0].max_attempts, 5);
    assert_eq!(work.retry[0].jitter, Jitter::Full);
    assert_eq!(work.catch.len(), 1);
    assert_eq!(work.catch[0].next, "Broken");
    assert_eq!(work.catch[0].error_equals, ["States.ALL"]);

    let route = state_of(&d, "Route");
    assert_eq!(route.transition, Transition::Terminal);
    let Body::Choice(c) = &route.body else {
        panic!("a Choice")
    };
    assert_eq!(c.choices.len(), 1);
    assert_eq!(c.choices[0].next, "Pause");
    assert_eq!(c.default.as_deref(), Some("Finish"));
    assert!(c.choices[0]
        .rule
        .matches(&json!({"go": true}), &crate::variables::Bindings::default())
        .unwrap());

    let pause = state_of(&d, "Pause");
    assert!(matches!(&pause.body, Body::Wait(Wait::SecondsPath(p)) if p.as_str() == "$.delay"));
    assert_eq!(pause.transition, Transition::Next("Fan".into()));

    let fan = state_of(&d, "Fan");
    assert!(matches!(fan.result_path, ResultPath::Discard));
    assert_eq!(fan.retry[0].interval_seconds, 3);
    let Body::Parallel(p) = &fan.body else {
        panic!("a Parallel")
    };
    assert_eq!(p.branches.len(), 2);
    assert_eq!(p.branches[0].start_at, "Left");
    assert_eq!(
        p.branches[0].state("Left").unwrap().transition,
        Transition::End
    );
    assert!(matches!(
        p.branches[1].state("Right").unwrap().body,
        Body::Succeed
    ));

    let each = state_of(&d, "Each");
    let Body::Map(map) = &each.body else {
        panic!("a Map")
    };
    assert_eq!(map.mode, MapMode::Inline);
    assert_eq!(map.items_path.as_ref().map(Path::as_str), Some("$.items"));
    assert!(matches!(map.max_concurrency, Some(Count::Literal(4))));
    assert!(map.item_selector.is_none() && map.item_reader.is_none());
    assert!(
        matches!(&map.processor.state("Item").unwrap().body, Body::Task(t) if t.resource == "arn:local:item")
    );

    let batch = state_of(&d, "Batch");
    let Body::Map(map) = &batch.body else {
        panic!("a Map")
    };
    assert_eq!(map.mode, MapMode::Distributed);
    assert_eq!(map.label.as_deref(), Some("batches"));
    assert!(matches!(map.tolerated_failure_percentage, Some(Percentage::Literal(p)) if p == 5.0));
    assert!(
        matches!(&map.tolerated_failure_count, Some(Count::Path(p)) if p.as_str() == "$.tolerated")
    );
    let batcher = map.item_batcher.as_ref().expect("a batcher");
    assert!(matches!(
        batcher.max_items_per_batch,
        Some(Count::Literal(100))
    ));
    assert!(matches!(
        batcher.max_input_bytes_per_batch,
        Some(Count::Literal(1024))
    ));
    assert!(batcher.batch_input.is_none());
    assert_eq!(batch.transition, Transition::Next("Finish".into()));

    let finish = state_of(&d, "Finish");
    assert!(matches!(finish.body, Body::Succeed));
    assert!(finish.output_path.is_none());
    assert_eq!(finish.transition, Transition::Terminal);

    let broken = state_of(&d, "Broken");
    assert!(
        matches!(&broken.body, Body::Fail(f) if matches!(&f.error, Some(Text::Literal(e)) if e == "Broken"))
    );
    assert!(broken.input_path.as_ref().is_some_and(Path::is_root));
}

#[test]
fn the_ingest_definition_parses_after_substitution() {
    let text = include_str!("../../../../statemachine/ingest.asl.json");
    let names = [
        "FilterFunctionArn",
        "SchemaDriftDetectFunctionArn",
        "ValidateFunctionArn",
        "CommitFunctionArn",
        "QuarantineFunctionArn",
    ];
    let values: HashMap<String, String> = names
        .iter()
        .map(|n| (n.to_string(), format!("local:{n}")))
        .collect();
    let text = substitute(text, &values).unwrap();
    let d = parse_definition(&text).unwrap();
    assert_eq!(d.machine.start_at, "Route");
}

// -- substitution -------------------------------------------------------------------------

#[test]
fn substitute_replaces_placeholders() {
    let values: HashMap<String, String> = [("Fn", "arn:fn"), ("Other-Name.x", "o")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(
        substitute(
            r#"{"Resource": "${Fn}", "x": "${Other-Name.x}/${Fn}"}"#,
            &values
        )
        .unwrap(),
        r#"{"Resource": "arn:fn", "x": "o/arn:fn"}"#
    );
    // Not placeholders: left alone.
    assert_eq!(
        substitute("$.a ${} ${ x } $ {Fn} ${Fn", &values).unwrap(),
        "$.a ${} ${ x } $ {Fn} ${Fn"
    );
    assert_eq!(
        substitute("${A} ${Fn} ${B} ${A}", &values).unwrap_err(),
        ["A".to_string(), "B".to_string()]
    );
    assert_eq!(substitute("", &values).unwrap(), "");
}
