//! JSONata states, written from the JSONata guide and from recordings.

use super::*;

mod jsonata {
    //! guide, "Transforming data with JSONata in Step Functions" (cited as "JSONata guide"):
    //! `QueryLanguage`, `Arguments`, `Output`, `Assign`, `Condition`, `Items`,
    //! `ItemSelector`, catcher `Output`, `$states`, AWS's functions and
    //! `States.QueryEvaluationError`.
    use super::*;

    fn jsonata(states: Value, start: &str) -> Value {
        json!({"QueryLanguage": "JSONata", "StartAt": start, "States": states})
    }

    /// JSONata guide, "Processing input and output with JSONata": `Arguments` is what the
    /// task gets, `Output` shapes the state output from `$states.input` and
    /// `$states.result`.
    // See: #22
    #[tokio::test]
    async fn task_arguments_and_output() {
        let mut h = handlers();
        h.insert(
            "price",
            Box::new(|v, _| Ok(json!({"Payload": {"total": v["qty"].as_i64().unwrap_or(0) * 3}}))),
        );
        let r = rig(h).await;
        let def = jsonata(
            json!({"Price": {
                "Type": "Task", "Resource": "price", "End": true,
                "Arguments": {"qty": "{% $states.input.product.qty %}", "fixed": 1},
                "Output": {
                    "customerId": "{% $states.input.customer.id %}",
                    "product": "{% $states.input.product.name %}",
                    "total": "{% $states.result.Payload.total %}"
                }
            }}),
            "Price",
        );
        assert_eq!(
            r.output(
                &def,
                json!({"customer": {"id": "c1"}, "product": {"name": "p", "qty": 4}})
            )
            .await,
            json!({"customerId": "c1", "product": "p", "total": 12})
        );
    }

    /// JSONata guide, the conversion example: the same `Parameters` in JSONPath and
    /// `Arguments` in JSONata, with the variable `customerName` set to "María" and the input
    /// `{"title": "Doctor"}`, both give `{"static": "Hello", "title": "Doctor", "name":
    /// "María", "not-evaluated": "$customerName"}`.
    // See: #22
    #[tokio::test]
    async fn guide_conversion_example_gives_the_same_result_in_both_languages() {
        let r = rig(handlers()).await;
        let expected = json!({"static": "Hello", "title": "Doctor", "name": "María", "not-evaluated": "$customerName"});
        let jsonpath = json!({"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"customerName": "María"}, "ResultPath": null, "Next": "Call"},
            "Call": {"QueryLanguage": "JSONPath", "Type": "Task", "Resource": "echo", "End": true,
                "Parameters": {"static": "Hello", "title.$": "$.title", "name.$": "$customerName", "not-evaluated": "$customerName"}}
        }});
        let jsonata = json!({"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"customerName": "María"}, "ResultPath": null, "Next": "Call"},
            "Call": {"QueryLanguage": "JSONata", "Type": "Task", "Resource": "echo", "End": true,
                "Arguments": {"static": "Hello", "title": "{% $states.input.title %}", "name": "{% $customerName %}", "not-evaluated": "$customerName"}}
        }});
        for def in [jsonpath, jsonata] {
            assert_eq!(r.output(&def, json!({"title": "Doctor"})).await, expected);
        }
    }

    /// JSONata guide, "Choice state": each rule is a `Condition`; the first true one wins,
    /// else `Default`.
    // See: #22
    #[tokio::test]
    async fn choice_conditions_route() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({
                "Check": {"Type": "Choice", "Default": "Minor", "Choices": [
                    {"Condition": "{% $states.input.age >= 18 %}", "Next": "Adult"}
                ]},
                "Adult": {"Type": "Pass", "Output": "adult", "End": true},
                "Minor": {"Type": "Pass", "Output": "minor", "End": true}
            }),
            "Check",
        );
        assert_eq!(r.output(&def, json!({"age": 30})).await, json!("adult"));
        assert_eq!(r.output(&def, json!({"age": 3})).await, json!("minor"));
        let bad = jsonata(
            json!({
                "Check": {"Type": "Choice", "Default": "Done", "Choices": [
                    {"Condition": "{% $states.input.age %}", "Next": "Done"}
                ]},
                "Done": {"Type": "Succeed"}
            }),
            "Check",
        );
        let (error, _) = r.failure(&bad, json!({"age": 30})).await;
        assert_eq!(error, "States.QueryEvaluationError");
    }

    /// JSONata guide, "Map state": `Items` selects the array, `ItemSelector` reads
    /// `$states.context.Map.Item`.
    // See: #22
    #[tokio::test]
    async fn map_items_and_item_selector() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"Each": {
                "Type": "Map", "End": true,
                "Items": "{% $states.input.orders %}",
                "ItemSelector": {
                    "index": "{% $states.context.Map.Item.Index %}",
                    "id": "{% $states.context.Map.Item.Value.id %}",
                    "region": "{% $states.input.region %}"
                },
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
            }}),
            "Each",
        );
        assert_eq!(
            r.output(
                &def,
                json!({"region": "eu", "orders": [{"id": "a"}, {"id": "b"}]})
            )
            .await,
            json!([
                {"index": 0, "id": "a", "region": "eu"},
                {"index": 1, "id": "b", "region": "eu"}
            ])
        );
        let literal = jsonata(
            json!({"Each": {
                "Type": "Map", "End": true, "Items": [1, "{% 1 + 1 %}"],
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
            }}),
            "Each",
        );
        assert_eq!(r.output(&literal, json!({})).await, json!([1, 2]));
    }

    /// variables guide, "Evaluation of assignments": `Assign` and `Output` of one state both
    /// read the variables from before it.
    // See: #22
    #[tokio::test]
    async fn assign_and_output_read_variables_from_before_the_state() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({
                "Init": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Bump"},
                "Bump": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "y": "{% $x %}"}, "Output": {"seen": "{% $x %}"}, "Next": "Show"},
                "Show": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}", "input": "{% $states.input %}"}, "End": true}
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({})).await,
            json!({"x": 2, "y": 1, "input": {"seen": 1}})
        );
    }

    /// JSONata guide: JSONPath and JSONata states mix in one definition, per state, and the
    /// variables one assigns are read by the other.
    // See: #22
    #[tokio::test]
    async fn jsonpath_and_jsonata_states_share_variables() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "Path", "States": {
            "Path": {"Type": "Pass", "Assign": {"n.$": "$.n"}, "Next": "Ata"},
            "Ata": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"m": "{% $n * 10 %}"}, "Next": "Back"},
            "Back": {"Type": "Pass", "Parameters": {"n.$": "$n", "m.$": "$m"}, "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"n": 4})).await,
            json!({"n": 4, "m": 40})
        );
    }

    /// JSONata guide, "Handling errors": a catcher's `Output` reads `$states.errorOutput`,
    /// its `Assign` too; `States.QueryEvaluationError` is catchable.
    // See: #22
    #[tokio::test]
    async fn catch_output_reads_the_error_output() {
        let mut h = handlers();
        h.insert(
            "boom",
            Box::new(|_, _| Err(StatesError::new("Boom", "it broke"))),
        );
        let r = rig(h).await;
        let def = jsonata(
            json!({
                "Try": {
                    "Type": "Task", "Resource": "boom", "Next": "Done",
                    "Catch": [{
                        "ErrorEquals": ["Boom"], "Next": "Done",
                        "Assign": {"why": "{% $states.errorOutput.Cause %}"},
                        "Output": {"error": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"}
                    }]
                },
                "Done": {"Type": "Pass", "Output": {"caught": "{% $states.input %}", "why": "{% $why %}"}, "End": true}
            }),
            "Try",
        );
        assert_eq!(
            r.output(&def, json!({"k": 1})).await,
            json!({"caught": {"error": "Boom", "input": {"k": 1}}, "why": "it broke"})
        );
        let query = jsonata(
            json!({
                "Try": {
                    "Type": "Pass", "Output": "{% $states.input.missing %}", "Next": "Done"
                },
                "Done": {"Type": "Succeed"}
            }),
            "Try",
        );
        let (error, cause) = r.failure(&query, json!({})).await;
        assert_eq!(error, "States.QueryEvaluationError");
        assert!(cause.contains("$states.input.missing"), "{cause}");
        let caught = jsonata(
            json!({
                "Try": {
                    "Type": "Task", "Resource": "echo", "Output": "{% $states.result.missing %}", "Next": "Done",
                    "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Output": "caught", "Next": "Done"}]
                },
                "Done": {"Type": "Succeed"}
            }),
            "Try",
        );
        assert_eq!(r.output(&caught, json!({})).await, json!("caught"));
    }

    /// JSONata guide, "Fail state": `Error` and `Cause` may be expressions.
    // See: #22
    #[tokio::test]
    async fn fail_error_and_cause_expressions() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"F": {"Type": "Fail", "Error": "{% $states.input.code %}", "Cause": "{% 'order ' & $states.input.id & ' failed' %}"}}),
            "F",
        );
        assert_eq!(
            r.failure(&def, json!({"code": "E42", "id": "o1"})).await,
            ("E42".to_string(), "order o1 failed".to_string())
        );
    }

    /// JSONata guide, "Wait state": `Seconds` and `Timestamp` as expressions.
    // See: #22
    #[tokio::test]
    async fn wait_seconds_and_timestamp_expressions() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({
                "S": {"Type": "Wait", "Seconds": "{% $states.input.delay * 2 %}", "Next": "T"},
                "T": {"Type": "Wait", "Timestamp": "{% $states.input.until %}", "End": true}
            }),
            "S",
        );
        let input = json!({"delay": 5, "until": "2026-03-14T02:00:10Z"});
        assert_eq!(r.output(&def, input.clone()).await, input);
        assert_eq!(r.clock.sleeps(), [10, 60].map(Duration::from_secs).to_vec());
    }

    /// JSONata guide, "JSONata functions provided by Step Functions": `$partition`,
    /// `$range`, `$hash`, `$parse`, `$uuid`.
    // See: #22
    #[tokio::test]
    async fn aws_functions() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"F": {"Type": "Pass", "End": true, "Output": {
                "partition": "{% $partition([1,2,3,4], 2) %}",
                "range": "{% $range(0, 10, 2) %}",
                "hash": "{% $hash('input data', 'SHA-1') %}",
                "parse": "{% $parse($states.input.json).a %}",
                "uuid": "{% $length($uuid()) %}"
            }}}),
            "F",
        );
        assert_eq!(
            r.output(&def, json!({"json": "{\"a\": [1]}"})).await,
            json!({
                "partition": [[1, 2], [3, 4]],
                "range": [0, 2, 4, 6, 8, 10],
                "hash": "aaff4a450a104cd177d28d18d74485e8cae074b7",
                "parse": [1],
                "uuid": 36
            })
        );
    }

    /// issue #22, "Bad input": a runaway expression is bounded and fails with
    /// `States.QueryEvaluationError`, never a hang or a crash.
    // See: #22
    #[tokio::test]
    async fn a_runaway_expression_fails_instead_of_hanging() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"F": {"Type": "Pass", "End": true,
                "Output": "{% ($loop := function($n) { $loop($n + 1) }; $loop(0)) %}"}}),
            "F",
        );
        let (error, _) = r.failure(&def, json!({})).await;
        assert_eq!(error, "States.QueryEvaluationError");
    }

    /// JSONata guide, "Parallel state": `Arguments` is every branch's input; the result is
    /// the array of branch outputs, `Output` reshapes it.
    // See: #22
    #[tokio::test]
    async fn parallel_arguments_and_output() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"Both": {
                "Type": "Parallel", "End": true,
                "Arguments": {"n": "{% $states.input.n %}"},
                "Output": "{% $sum($states.result.n) %}",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {"n": "{% $states.input.n + 1 %}"}, "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": {"n": "{% $states.input.n * 10 %}"}, "End": true}}}
                ]
            }}),
            "Both",
        );
        assert_eq!(r.output(&def, json!({"n": 2})).await, json!(23));
    }
}

mod recorded_jsonata {
    //! JSONata cases whose expected results were recorded against AWS Step Functions:
    //! LocalStack's AWS-validated snapshots (tests/aws/services/stepfunctions/v2/
    //! evaluate_jsonata and query_language, cited as "recorded, <test>[<id>]").
    use super::*;

    fn pass_output(output: Value) -> Value {
        json!({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Output": output, "End": true}
        }})
    }

    fn map_with(field: &str, value: Value) -> Value {
        let mut map = json!({
            "Type": "Map", "Items": [1], "MaxConcurrency": 1, "End": true,
            "ItemProcessor": {"StartAt": "Process", "States": {"Process": {"Type": "Pass", "End": true}}}
        });
        map[field] = value;
        json!({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {"Start": map}})
    }

    /// recorded, test_base_jsonata_regular_expressions[BASE, BASE_FALSE,
    /// BASE_SINGLE_QUOTE, BASE_SINGLE_QUOTE_FALSE]: regular expression literals.
    // See: #22
    #[tokio::test]
    async fn regular_expressions() {
        let r = rig(handlers()).await;
        let cases = [
            (r#"{% $contains("hello$world", /^hello\$/) %}"#, true),
            (r#"{% $contains("hello$world", /^hello\ /) %}"#, false),
            (r#"{% $contains('hello$world', /^hello\$/) %}"#, true),
            (r#"{% $contains('hello$world', /^hello\ /) %}"#, false),
        ];
        for (expression, expected) in cases {
            assert_eq!(
                r.output(&pass_output(json!(expression)), json!({})).await,
                json!(expected),
                "{expression}"
            );
        }
    }

    /// recorded, test_merge_with_dynamic_args: `$merge` over input members.
    // See: #22
    #[tokio::test]
    async fn merge_with_dynamic_arguments() {
        let r = rig(handlers()).await;
        let def = pass_output(json!(
            "{% $merge([$states.input.part1, $states.input.part2]) %}"
        ));
        assert_eq!(
            r.output(
                &def,
                json!({"part1": {"hello": "world"}, "part2": {"foo": "bar"}})
            )
            .await,
            json!({"hello": "world", "foo": "bar"})
        );
    }

    /// recorded, test_base_map[ITEMS, ITEMS_DOUBLE_QUOTES, MAX_CONCURRENCY,
    /// TOLERATED_FAILURE_PERCENTAGE, TOLERATED_FAILURE_COUNT]: an expression inside `Items`
    /// and expressions (`{% $variable := 1 %}`) as the Map's numbers, on an inline Map.
    // See: #22
    #[tokio::test]
    async fn map_fields_take_expressions() {
        let r = rig(handlers()).await;
        assert_eq!(
            r.output(
                &map_with("Items", json!([1, "{% $number('2') %}", 3])),
                json!({})
            )
            .await,
            json!([1, 2, 3])
        );
        assert_eq!(
            r.output(
                &map_with("Items", json!([1, "{% $number(\"2\") %}", 3])),
                json!({})
            )
            .await,
            json!([1, 2, 3])
        );
        for field in [
            "MaxConcurrency",
            "ToleratedFailurePercentage",
            "ToleratedFailureCount",
        ] {
            assert_eq!(
                r.output(&map_with(field, json!("{% $variable := 1 %}")), json!({}))
                    .await,
                json!([1]),
                "{field}"
            );
        }
    }

    /// recorded, test_base_task[TIMEOUT_SECONDS, HEARTBEAT_SECONDS]: a Task's timeouts as
    /// expressions.
    // See: #22
    #[tokio::test]
    async fn task_timeouts_take_expressions() {
        let r = rig(handlers()).await;
        for field in ["TimeoutSeconds", "HeartbeatSeconds"] {
            let mut task =
                json!({"Type": "Task", "Resource": "echo", "Arguments": {"a": 1}, "End": true});
            task[field] = json!("{% $variable := 1 %}");
            let def =
                json!({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {"Start": task}});
            assert_eq!(r.output(&def, json!({})).await, json!({"a": 1}), "{field}");
        }
    }

    /// recorded, test_query_language_field_override[JSONATA_OVERRIDE] and the
    /// JSONATA_OUTPUT_TO_JSONPATH template: a JSONata state in a JSONPath definition, its
    /// `Output` the next JSONPath state's input.
    // See: #22
    #[tokio::test]
    async fn jsonata_state_in_a_jsonpath_definition() {
        let r = rig(handlers()).await;
        let def = json!({"QueryLanguage": "JSONPath", "StartAt": "JSONataState", "States": {
            "JSONataState": {"QueryLanguage": "JSONata", "Type": "Pass",
                "Output": {"foo": "foobar", "bar": "{% $states.input %}"}, "Next": "JSONPathState"},
            "JSONPathState": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"k": 1})).await,
            json!({"foo": "foobar", "bar": {"k": 1}})
        );
    }
}

mod more_variables_and_jsonata {
    //! Further cases, cited like the modules above.
    use super::*;

    /// variables guide, "Assign in JSONPath states": a Map or Parallel state's own `Assign`
    /// reads its result (the array of iteration or branch outputs) and applies in the scope
    /// around it.
    // See: #22
    #[tokio::test]
    async fn map_and_parallel_assign_read_their_results() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "Each", "States": {
            "Each": {"Type": "Map", "ItemsPath": "$.items", "Assign": {"first.$": "$[0]", "all.$": "$"}, "ResultPath": null, "Next": "Both",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}},
            "Both": {"Type": "Parallel", "Assign": {"second.$": "$[1]"}, "ResultPath": null, "Next": "Show",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}
                ]},
            "Show": {"Type": "Pass", "Parameters": {"first.$": "$first", "all.$": "$all", "second.$": "$second"}, "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"items": [7, 8]})).await,
            json!({"first": 7, "all": [7, 8], "second": "b"})
        );
    }

    /// JSONata guide, "Choice state": a rule's `Assign` applies when it matches, and the
    /// state's `Output` shapes what goes to the next state.
    // See: #22
    #[tokio::test]
    async fn jsonata_choice_rule_assign_and_output() {
        let r = rig(handlers()).await;
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Default": "Show",
                "Output": {"checked": "{% $states.input.n %}"},
                "Choices": [{"Condition": "{% $states.input.n > 1 %}", "Assign": {"size": "big"}, "Next": "Show"}],
                "Assign": {"size": "small"}},
            "Show": {"Type": "Pass", "Output": {"size": "{% $size %}", "input": "{% $states.input %}"}, "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"n": 5})).await,
            json!({"size": "big", "input": {"checked": 5}})
        );
        assert_eq!(
            r.output(&def, json!({"n": 0})).await,
            json!({"size": "small", "input": {"checked": 0}})
        );
    }

    /// JSONata guide, "Reserved variable: $states": `$states.context` is the context object.
    // See: #22
    #[tokio::test]
    async fn states_context_is_the_context_object() {
        let r = rig(handlers()).await;
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "Here", "States": {
            "Here": {"Type": "Pass", "End": true, "Output": {
                "state": "{% $states.context.State.Name %}",
                "input": "{% $states.context.Execution.Input.k %}",
                "machine": "{% $states.context.StateMachine.Name %}"
            }}
        }});
        assert_eq!(
            r.output(&def, json!({"k": "v"})).await,
            json!({"state": "Here", "input": "v", "machine": "conformance"})
        );
    }

    /// guide, "Redriving executions", with JSONata: variables assigned by a JSONata state
    /// before a failure are there when the redriven state runs.
    // See: #22
    #[tokio::test]
    async fn jsonata_variables_survive_redrive() {
        let fixed = Arc::new(AtomicU32::new(0));
        let mut h = handlers();
        let f = fixed.clone();
        h.insert(
            "flaky",
            Box::new(move |v, _| {
                if f.load(Ordering::SeqCst) == 0 {
                    return Err(StatesError::new("NotYet", "try again"));
                }
                Ok(v)
            }),
        );
        let r = rig(h).await;
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "Keep", "States": {
            "Keep": {"Type": "Pass", "Assign": {"order": "{% $states.input.order %}"}, "Output": {}, "Next": "Call"},
            "Call": {"Type": "Task", "Resource": "flaky", "Arguments": {"order": "{% $order %}"}, "End": true}
        }});
        let e = r
            .start("jsonata-redrive", &def, json!({"order": "o-7"}))
            .await
            .unwrap();
        assert_eq!(e.status, Status::Failed);
        fixed.store(1, Ordering::SeqCst);
        let e = r.engine.redrive("jsonata-redrive").await.unwrap();
        assert_eq!(e.status, Status::Succeeded, "{e:?}");
        assert_eq!(e.output, Some(json!({"order": "o-7"})));
    }

    /// variables guide, "Variable names": a name that is not an identifier, or the reserved
    /// `states`, is refused when the definition loads.
    // See: #22
    #[tokio::test]
    async fn bad_variable_names_are_refused_at_load() {
        let r = rig(handlers()).await;
        for name in ["states", "1st", "with-dash"] {
            let def = single(json!({"Type": "Pass", "Assign": {name: 1}, "End": true}));
            let err = r
                .start(&format!("bad-{name}"), &def, json!({}))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("Assign"), "{name}: {err}");
        }
    }
}
