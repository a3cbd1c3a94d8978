//! Workflow variables in JSONPath states, written from the variables guide and from
//! recordings.

use super::*;

mod variables {
    //! guide, "Passing data between states with variables" (cited as "variables guide"):
    //! `Assign` in JSONPath states, `$name` in paths, scoping and history.
    use super::*;

    fn chain(states: Value, start: &str) -> Value {
        json!({"StartAt": start, "States": states})
    }

    /// variables guide, "Conceptual overview": a value stored in one step is read in a
    /// later one without passing through the states between.
    // See: #22
    #[tokio::test]
    async fn assign_is_visible_to_later_states() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Store": {"Type": "Pass", "Assign": {"productName": "product1", "count": 42, "available": true}, "Result": "dropped", "Next": "Between"},
                "Between": {"Type": "Pass", "Result": {"other": 1}, "Next": "Use"},
                "Use": {"Type": "Pass", "Parameters": {"name.$": "$productName", "n.$": "$count", "ok.$": "$available", "fmt.$": "States.Format('{} x{}', $productName, $count)"}, "End": true}
            }),
            "Store",
        );
        assert_eq!(
            r.output(&def, json!({})).await,
            json!({"name": "product1", "n": 42, "ok": true, "fmt": "product1 x42"})
        );
    }

    /// variables guide, "Evaluation of assignments": every assignment of a state reads the
    /// values from before the state, so `y` gets the old `x`.
    // See: #22
    #[tokio::test]
    async fn assignments_read_values_from_before_the_state() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "First": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Second"},
                "Second": {"Type": "Pass", "Assign": {"x": 2, "y.$": "$x"}, "Next": "Show"},
                "Show": {"Type": "Pass", "Parameters": {"x.$": "$x", "y.$": "$y"}, "End": true}
            }),
            "First",
        );
        assert_eq!(r.output(&def, json!({})).await, json!({"x": 2, "y": 1}));
    }

    /// variables guide, "Assign in JSONPath states": `$` in a Task's `Assign` is the result
    /// after ResultSelector; `$$` is the context object; ResultPath and OutputPath still
    /// shape the output.
    // See: #22
    #[tokio::test]
    async fn jsonpath_assign_reads_the_selected_result() {
        let mut h = handlers();
        h.insert(
            "lookup",
            Box::new(|_, _| Ok(json!({"Payload": {"price": 9, "noise": 0}}))),
        );
        let r = rig(h).await;
        let def = chain(
            json!({
                "Lookup": {
                    "Type": "Task", "Resource": "lookup",
                    "ResultSelector": {"price.$": "$.Payload.price"},
                    "Assign": {"price.$": "$.price", "state.$": "$$.State.Name"},
                    "ResultPath": null,
                    "Next": "Show"
                },
                "Show": {"Type": "Pass", "Parameters": {"input.$": "$", "price.$": "$price", "state.$": "$state"}, "End": true}
            }),
            "Lookup",
        );
        assert_eq!(
            r.output(&def, json!({"order": 1})).await,
            json!({"input": {"order": 1}, "price": 9, "state": "Lookup"})
        );
    }

    /// variables guide, "Assign in Choice states": a rule's `Assign` applies when it matches,
    /// the state's when `Default` is taken; `Variable` may read a variable.
    // See: #22
    #[tokio::test]
    async fn choice_rules_read_and_assign_variables() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"limit": 10}, "Next": "Check"},
                "Check": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.n", "NumericGreaterThanPath": "$limit", "Assign": {"verdict": "big"}, "Next": "Show"}
                    ],
                    "Default": "Show",
                    "Assign": {"verdict": "small"}
                },
                "Show": {"Type": "Pass", "Parameters": {"verdict.$": "$verdict"}, "End": true}
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({"n": 11})).await,
            json!({"verdict": "big"})
        );
        assert_eq!(
            r.output(&def, json!({"n": 3})).await,
            json!({"verdict": "small"})
        );
    }

    /// variables guide, "Variable scope": a Map iteration reads the variables of the scope
    /// around it; what it assigns stays inside it.
    // See: #22
    #[tokio::test]
    async fn map_iterations_read_outer_variables_and_do_not_leak() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "Each"},
                "Each": {
                    "Type": "Map", "ItemsPath": "$.items", "Next": "After",
                    "ItemProcessor": {"StartAt": "Inner", "States": {
                        "Inner": {"Type": "Pass", "Assign": {"factor": 99, "seen.$": "$"}, "Next": "Read"},
                        "Read": {"Type": "Pass", "Parameters": {"item.$": "$seen", "factor.$": "$factor"}, "End": true}
                    }}
                },
                "After": {"Type": "Pass", "Parameters": {"factor.$": "$factor", "results.$": "$"}, "End": true}
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({"items": [1, 2]})).await,
            json!({"factor": 10, "results": [{"item": 1, "factor": 99}, {"item": 2, "factor": 99}]})
        );
        let leaked = chain(
            json!({
                "Each": {
                    "Type": "Map", "ItemsPath": "$.items", "Next": "After",
                    "ItemProcessor": {"StartAt": "Inner", "States": {
                        "Inner": {"Type": "Pass", "Assign": {"inner": 1}, "End": true}
                    }}
                },
                "After": {"Type": "Pass", "Parameters": {"inner.$": "$inner"}, "End": true}
            }),
            "Each",
        );
        let (error, _) = r.failure(&leaked, json!({"items": [1]})).await;
        assert_eq!(error, "States.Runtime");
    }

    /// variables guide, "Variable scope": Parallel branches read outer variables; a distributed
    /// Map's child workflow does not.
    // See: #22
    #[tokio::test]
    async fn parallel_branches_see_outer_variables_distributed_map_does_not() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"tag": "t1"}, "Next": "Both"},
                "Both": {
                    "Type": "Parallel", "End": true,
                    "Branches": [
                        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"tag.$": "$tag"}, "End": true}}},
                        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"tag": "mine"}, "Next": "C"}, "C": {"Type": "Pass", "Parameters": {"tag.$": "$tag"}, "End": true}}}
                    ]
                }
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({})).await,
            json!([{"tag": "t1"}, {"tag": "mine"}])
        );
        let distributed = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"tag": "t1"}, "Next": "Each"},
                "Each": {
                    "Type": "Map", "End": true,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Read", "States": {"Read": {"Type": "Pass", "Parameters": {"tag.$": "$tag"}, "End": true}}
                    }
                }
            }),
            "Init",
        );
        // The child workflow's ParameterPathFailure fails the run as a distributed Map fails.
        let (error, _) = r.failure(&distributed, json!([1])).await;
        assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    }

    /// variables guide, "Assign in Catch": a catcher's `Assign` reads the error output.
    // See: #22
    #[tokio::test]
    async fn catch_assign_reads_the_error_output() {
        let mut h = handlers();
        h.insert(
            "boom",
            Box::new(|_, _| Err(StatesError::new("Boom", "it broke"))),
        );
        let r = rig(h).await;
        let def = chain(
            json!({
                "Try": {
                    "Type": "Task", "Resource": "boom", "Assign": {"never": 1}, "Next": "Show",
                    "Catch": [{"ErrorEquals": ["Boom"], "Assign": {"why.$": "$.Cause"}, "ResultPath": null, "Next": "Show"}]
                },
                "Show": {"Type": "Pass", "Parameters": {"why.$": "$why", "input.$": "$"}, "End": true}
            }),
            "Try",
        );
        assert_eq!(
            r.output(&def, json!({"k": 1})).await,
            json!({"why": "it broke", "input": {"k": 1}})
        );
    }

    /// GetExecutionHistory: a state's exit event lists `assignedVariables` as JSON text, with
    /// `assignedVariablesDetails`.
    // See: #22
    #[tokio::test]
    async fn state_exited_events_record_assigned_variables() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "Assign": {"x": 1, "o": {"a": "b"}}, "End": true}));
        r.start("assigned", &def, json!({})).await.unwrap();
        let events = r.engine.history("assigned").await.unwrap();
        let exited = events
            .iter()
            .find(|e| e.kind == "PassStateExited")
            .expect("an exit event");
        assert_eq!(
            exited.details["assignedVariables"],
            json!({"x": "1", "o": "{\"a\":\"b\"}"})
        );
        assert_eq!(
            exited.details["assignedVariablesDetails"],
            json!({"truncated": false})
        );
    }

    /// guide, "Redriving executions" with variables: a redriven state reads the values
    /// assigned before the failure, at the top level and inside a Map iteration, and the
    /// states that succeeded do not run again.
    // See: #22
    #[tokio::test]
    async fn variables_survive_redrive() {
        let fixed = Arc::new(AtomicU32::new(0));
        let mut h = handlers();
        let f = fixed.clone();
        h.insert(
            "work",
            Box::new(move |v, _| {
                if v.to_string().contains("bad") && f.load(Ordering::SeqCst) == 0 {
                    return Err(StatesError::new("Broken", "not yet"));
                }
                Ok(v)
            }),
        );
        let r = rig(h).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"run": "r1"}, "Next": "Each"},
                "Each": {
                    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
                    "ItemProcessor": {"StartAt": "Tag", "States": {
                        "Tag": {"Type": "Pass", "Assign": {"item.$": "$"}, "Next": "Work"},
                        "Work": {"Type": "Task", "Resource": "work", "Parameters": {"run.$": "$run", "item.$": "$item"}, "End": true}
                    }}
                }
            }),
            "Init",
        );
        let e = r
            .start("vars", &def, json!({"items": ["ok", "bad"]}))
            .await
            .unwrap();
        assert_eq!(e.status, Status::Failed);
        fixed.store(1, Ordering::SeqCst);
        let e = r.engine.redrive("vars").await.unwrap();
        assert_eq!(e.status, Status::Succeeded, "{e:?}");
        assert_eq!(
            e.output.unwrap(),
            json!([{"run": "r1", "item": "ok"}, {"run": "r1", "item": "bad"}])
        );
    }
}

mod recorded_variables {
    //! Cases whose expected results were recorded against AWS Step Functions: LocalStack's
    //! AWS-validated snapshots (tests/aws/services/stepfunctions/v2/assign, cited as
    //! "recorded, <test>[<template>]"), run here with the same definitions and inputs.
    use super::*;

    /// recorded, test_state_assign_evaluation_order[BASE_EVALUATION_ORDER_PASS_STATE]:
    /// InputPath and OutputPath read `$answer` as it was before the state's own `Assign`;
    /// the output is 42.
    // See: #22
    #[tokio::test]
    async fn evaluation_order_in_a_pass_state() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Result": {"theQuestion": "What is the answer to life the universe and everything?"},
                       "Assign": {"question.$": "$.theQuestion", "answer": 42}, "Next": "State1"},
            "State1": {"Type": "Pass", "InputPath": "$answer", "ResultPath": "$.theAnswer", "OutputPath": "$answer",
                       "Assign": {"answer": "<omitted>"}, "End": true}
        }});
        assert_eq!(r.output(&def, json!({})).await, json!(42));
    }

    /// recorded, test_base_cases[BASE_SCOPE_MAP]: `ItemsPath` may read a variable; the
    /// iterations read the outer `$x`; the output is [1,2,3].
    // See: #22
    #[tokio::test]
    async fn map_over_a_variable_reads_the_outer_scope() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": {"x": 42, "items": [1, 2, 3]}, "Next": "State1"},
            "State1": {"Type": "Map", "ItemsPath": "$items", "MaxConcurrency": 1, "Next": "State2",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Inner", "States": {
                    "Inner": {"Type": "Pass", "Assign": {"innerX.$": "$x"}, "End": true}}}},
            "State2": {"Type": "Pass", "Assign": {"final.$": "$x"}, "End": true}
        }});
        assert_eq!(r.output(&def, json!({})).await, json!([1, 2, 3]));
    }

    /// recorded, test_base_parallel_cases[BASE_SCOPE_PARALLEL]: every branch reads the
    /// outer `$x`; each branch's exit lists `{"innerX": "42", "value": "{}"}`; the output is
    /// [{},{},{}].
    // See: #22
    #[tokio::test]
    async fn parallel_branches_read_the_outer_scope() {
        let r = rig(handlers()).await;
        let branch = |name: &str| json!({"StartAt": name, "States": {name: {"Type": "Pass", "Assign": {"innerX.$": "$x", "value.$": "$"}, "End": true}}});
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": {"x": 42}, "Next": "State1"},
            "State1": {"Type": "Parallel", "End": true,
                "Branches": [branch("Branch1"), branch("Branch21"), branch("Branch31")]}
        }});
        r.start("scope-parallel", &def, json!({})).await.unwrap();
        let e = r
            .engine
            .store()
            .get("scope-parallel")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.output, Some(json!([{}, {}, {}])));
        let events = r.engine.history("scope-parallel").await.unwrap();
        let inner: Vec<&Value> = events
            .iter()
            .filter(|e| e.kind == "PassStateExited" && e.details["name"] != "State0")
            .map(|e| &e.details["assignedVariables"])
            .collect();
        assert_eq!(inner.len(), 3);
        for assigned in inner {
            assert_eq!(assigned, &json!({"innerX": "42", "value": "{}"}));
        }
    }

    /// recorded, test_base_cases[BASE_VAR]: constants of every JSON type (strings that look
    /// like paths, intrinsics or JSONata included) are stored as written, read back through
    /// `$name` and `$name.member` unchanged, and listed as JSON text in the exit events.
    // See: #22
    #[tokio::test]
    async fn variables_hold_every_json_type_unchanged() {
        let r = rig(handlers()).await;
        let list = json!([null, 0, 0.1, true, "$.no.such.path", "$varname", "{% $varname %}", "$$",
                          "States.Format('{}', $varname)", [], {"constant": 0}]);
        let object = json!({"in_obj_constant_null": null, "in_obj_constant_int": 0,
            "in_obj_constant_str_path": "$.no.such.path", "in_obj_constant_str_jsonata_expr": "{% $varname.varfield %}",
            "in_obj_constant_lst": list, "in_obj_constant_obj_empty": {}});
        let constants = json!({
            "constant_null": null, "constant_int": 0, "constant_float": 0.1, "constant_bool": true,
            "constant_str": "constant string", "constant_str_path_root": "$",
            "constant_str_contextpath": "$$.Execution.Id", "constant_str_var_expr": "$noSuchVar.noSuchMember",
            "constant_str_intrinsic_func": "States.Format('Format Func {}', $varname)",
            "constant_lst_empty": [], "constant_lst": list, "constant_obj_empty": {}, "constant_obj": object
        });
        let mut first = constants.clone();
        first["varname.$"] = json!("$.input_value");
        let mut second = serde_json::Map::new();
        second.insert("varname2".into(), json!("varname2"));
        for name in constants
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            second.insert(format!("varname{name}.$"), json!(format!("${name}")));
        }
        second.insert(
            "varnameconstant_obj_access.$".into(),
            json!("$constant_obj.in_obj_constant_lst"),
        );
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": first, "Next": "State1"},
            "State1": {"Type": "Pass", "Assign": second, "End": true}
        }});
        r.start(
            "base-var",
            &def,
            json!({"input_value": "input_value_literal"}),
        )
        .await
        .unwrap();
        let events = r.engine.history("base-var").await.unwrap();
        let exits: Vec<&serde_json::Map<String, Value>> = events
            .iter()
            .filter(|e| e.kind == "PassStateExited")
            .filter_map(|e| e.details["assignedVariables"].as_object())
            .collect();
        let parsed = |m: &serde_json::Map<String, Value>, name: &str| -> Value {
            m.get(name)
                .and_then(Value::as_str)
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(json!("<missing>"))
        };
        assert_eq!(parsed(exits[0], "varname"), json!("input_value_literal"));
        for (name, value) in constants.as_object().into_iter().flatten() {
            assert_eq!(&parsed(exits[0], name), value, "{name}");
            assert_eq!(
                &parsed(exits[1], &format!("varname{name}")),
                value,
                "{name}"
            );
        }
        assert_eq!(parsed(exits[1], "varname2"), json!("varname2"));
        assert_eq!(parsed(exits[1], "varnameconstant_obj_access"), list);
        assert_eq!(
            exits[0].get("constant_float"),
            Some(&json!("0.1")),
            "the text AWS records"
        );
    }

    /// recorded, test_base_cases[BASE_PATHS]: `.$` values in `Assign` read the input, the
    /// context object and intrinsics; the context object of a Pass state has
    /// `State.Name` and `State.EnteredTime` and no `RetryCount`.
    // See: #22
    #[tokio::test]
    async fn assign_paths_read_input_context_and_intrinsics() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "End": true, "Assign": {
            "str_path_root.$": "$",
            "str_path.$": "$.input_value",
            "str_contextpath_root.$": "$$",
            "str_contextpath.$": "$$.Execution.Id",
            "str_intrinsic_func.$": "States.Format('Format Func {}', $.input_value)"
        }}));
        let input = json!({"input_value": "input_value_literal"});
        r.start("base-paths", &def, input.clone()).await.unwrap();
        let events = r.engine.history("base-paths").await.unwrap();
        let exited = events.iter().find(|e| e.kind == "PassStateExited").unwrap();
        let assigned = &exited.details["assignedVariables"];
        let value = |name: &str| -> Value {
            serde_json::from_str(assigned[name].as_str().unwrap_or("null")).unwrap_or(Value::Null)
        };
        assert_eq!(value("str_path_root"), input);
        assert_eq!(value("str_path"), json!("input_value_literal"));
        assert_eq!(
            value("str_intrinsic_func"),
            json!("Format Func input_value_literal")
        );
        let context = value("str_contextpath_root");
        assert_eq!(value("str_contextpath"), context["Execution"]["Id"]);
        assert_eq!(context["Execution"]["Input"], input);
        let mut state_keys: Vec<&String> = context["State"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        state_keys.sort();
        assert_eq!(state_keys, ["EnteredTime", "Name"]);
        let mut execution_keys: Vec<&String> = context["Execution"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        execution_keys.sort();
        assert_eq!(
            execution_keys,
            [
                "Id",
                "Input",
                "Name",
                "RedriveCount",
                "RoleArn",
                "StartTime"
            ]
        );
    }

    /// recorded, test_reference_assign[BASE_REFERENCE_IN_WAIT]: `SecondsPath` and
    /// `TimestampPath` read variables; the output is {}.
    // See: #22
    #[tokio::test]
    async fn wait_paths_read_variables() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Assign": {"waitTime": 0, "startAt": "2024-11-06T09:42:03Z"}, "Next": "WaitSecondsState"},
            "WaitSecondsState": {"Type": "Wait", "SecondsPath": "$waitTime", "Next": "WaitUntilState"},
            "WaitUntilState": {"Type": "Wait", "TimestampPath": "$startAt", "End": true}
        }});
        assert_eq!(r.output(&def, json!({})).await, json!({}));
    }

    /// recorded, test_assign_in_choice_state[CORRECT] (input `{"input_value": "42"}`, a
    /// string): no rule matches, the state's `Assign` applies with `Default`, and the exit
    /// event lists `{"guess": "\"42\"", "status": "\"INCORRECT\""}`.
    // See: #22
    #[tokio::test]
    async fn choice_state_assign_applies_with_default() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "CheckInputState", "States": {
            "CheckInputState": {"Type": "Choice",
                "Choices": [
                    {"Variable": "$.input_value", "IsPresent": false, "Assign": {"status": "UNKNOWN"}, "Next": "FinalState"},
                    {"Variable": "$.input_value", "NumericEquals": 42, "Assign": {"status": "CORRECT"}, "Next": "FinalState"}
                ],
                "Assign": {"status": "INCORRECT", "guess.$": "$.input_value"},
                "Default": "FinalState"},
            "FinalState": {"Type": "Pass", "Parameters": {"result.$": "$status"}, "End": true}
        }});
        r.start("choice", &def, json!({"input_value": "42"}))
            .await
            .unwrap();
        let e = r.engine.store().get("choice").await.unwrap().unwrap();
        assert_eq!(e.output, Some(json!({"result": "INCORRECT"})));
        let events = r.engine.history("choice").await.unwrap();
        let exited = events
            .iter()
            .find(|e| e.kind == "ChoiceStateExited")
            .unwrap();
        assert_eq!(
            exited.details["assignedVariables"],
            json!({"guess": "\"42\"", "status": "\"INCORRECT\""})
        );
    }

    /// recorded, test_base_cases[BASE_CONSTANT_LITERALS]: in a JSONPath state, values of
    /// keys without `.$` are constants, even when they look like paths, intrinsics or
    /// JSONata.
    // See: #22
    #[tokio::test]
    async fn assign_constants_stay_literal() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "End": true, "Assign": {
            "constant_str_path": "$.no.such.path",
            "constant_str_var": "$noSuchVar",
            "constant_str_intrinsic_func": "States.Format('Format Func {}', $varname)",
            "constant_str_jsonata_expr": "{% $varname.varfield %}",
            "constant_float": 0.1
        }}));
        r.start("literals", &def, json!({})).await.unwrap();
        let events = r.engine.history("literals").await.unwrap();
        let exited = events.iter().find(|e| e.kind == "PassStateExited").unwrap();
        assert_eq!(
            exited.details["assignedVariables"],
            json!({
                "constant_float": "0.1",
                "constant_str_intrinsic_func": "\"States.Format('Format Func {}', $varname)\"",
                "constant_str_jsonata_expr": "\"{% $varname.varfield %}\"",
                "constant_str_path": "\"$.no.such.path\"",
                "constant_str_var": "\"$noSuchVar\""
            })
        );
    }

    /// recorded, test_undefined_reference[BASE_UNDEFINED_OUTPUT_FIELD, BASE_UNDEFINED_ASSIGN,
    /// BASE_UNDEFINED_ARGUMENTS]: an expression yielding nothing fails the execution with
    /// `States.QueryEvaluationError` and a cause naming the state, its entry event and the
    /// field.
    // See: #22
    #[tokio::test]
    async fn undefined_values_are_query_evaluation_errors_naming_the_field() {
        let r = rig(handlers()).await;
        let cases = [
            (
                json!({"Type": "Pass", "Output": {"result": "{% $doesNotExist %}"}, "End": true}),
                "Output/result",
            ),
            (
                json!({"Type": "Pass", "Assign": {"result": "{% $doesNotExist %}"}, "End": true}),
                "Assign/result",
            ),
            (
                json!({"Type": "Task", "Resource": "echo", "Arguments": "{% $doesNotExist %}", "End": true}),
                "Arguments",
            ),
        ];
        for (state, field) in cases {
            let def = json!({"QueryLanguage": "JSONata", "StartAt": "State0", "States": {"State0": state}});
            let (error, cause) = r.failure(&def, json!({})).await;
            assert_eq!(error, "States.QueryEvaluationError");
            assert_eq!(
                cause,
                format!(
                    "An error occurred while executing the state 'State0' (entered at the event \
                     id #2). The JSONata expression '$doesNotExist' specified for the field \
                     '{field}' returned nothing (undefined)."
                )
            );
        }
    }
}
