//! The input and output fields of JSONPath states: Pass, InputPath, Parameters,
//! ResultSelector, ResultPath and OutputPath.

use super::*;

mod pass {
    use super::*;

    /// spec, "Pass State": Result placed at ResultPath.
    #[tokio::test]
    async fn result_at_result_path() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass",
            "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
            "ResultPath": "$.coords",
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"georefOf": "Home"})).await,
            json!({"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}})
        );
    }

    /// spec, "Pass State": without Result, the input passes through.
    #[tokio::test]
    async fn no_result_passes_input() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "End": true}));
        assert_eq!(
            r.output(&def, json!({"a": [1, 2]})).await,
            json!({"a": [1, 2]})
        );
    }

    /// spec, "Pass State" / "Parameters": Parameters build the result of a Pass state.
    #[tokio::test]
    async fn parameters_are_the_result() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass",
            "Parameters": {"flagged": true, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"}},
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}))
                .await,
            json!({"flagged": true, "parts": {"first": 0, "last3": [30, 40, 50]}})
        );
    }
}

mod input_path {
    use super::*;

    /// guide, "InputPath": selects a portion of the state input.
    #[tokio::test]
    async fn selects_part_of_the_input() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "InputPath": "$.dataset2", "End": true}));
        let input = json!({
            "comment": "Example for InputPath.",
            "dataset1": {"val1": 1, "val2": 2, "val3": 3},
            "dataset2": {"val1": "a", "val2": "b", "val3": "c"}
        });
        assert_eq!(
            r.output(&def, input).await,
            json!({"val1": "a", "val2": "b", "val3": "c"})
        );
    }

    /// spec, "Filters": InputPath null gives the state an empty object `{}`.
    #[tokio::test]
    async fn null_gives_an_empty_object() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "InputPath": null, "End": true}));
        assert_eq!(r.output(&def, json!({"a": 1})).await, json!({}));
    }

    /// spec, "Runtime Errors": a path that matches nothing is States.Runtime.
    #[tokio::test]
    async fn missing_path_is_a_runtime_error() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "InputPath": "$.nope", "End": true}));
        let (error, cause) = r.failure(&def, json!({"a": 1})).await;
        assert_eq!(error, "States.Runtime");
        assert!(cause.contains("$.nope"), "{cause}");
    }
}

mod parameters {
    use super::*;

    /// guide, "Parameters": `.$` keys take values from the input and the context object.
    #[tokio::test]
    async fn paths_context_and_intrinsics() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Task",
            "Resource": "echo",
            "Parameters": {
                "comment": "Selecting what I care about.",
                "MyDetails": {
                    "size.$": "$.product.details.size",
                    "exists.$": "$.product.availability",
                    "StaticValue": "foo"
                },
                "execution.$": "$$.Execution.Name",
                "state.$": "$$.State.Name",
                "greeting.$": "States.Format('Hello, {}', $.product.details.color)"
            },
            "End": true
        }));
        let input = json!({
            "comment": "Example for Parameters.",
            "product": {
                "details": {"color": "blue", "size": "small", "material": "cotton"},
                "availability": "in stock",
                "sku": "2317",
                "cost": "$23"
            }
        });
        let e = r.run(&def, input).await;
        assert_eq!(
            e.output.unwrap(),
            json!({
                "comment": "Selecting what I care about.",
                "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
                "execution": e.name,
                "state": "S",
                "greeting": "Hello, blue"
            })
        );
    }

    /// recorded, test_base_scenarios[test_invalid_jsonpath]: a `.$` path with no match fails
    /// the execution with States.Runtime (not the States.ParameterPathFailure the guide names),
    /// which no Catch handles; the cause names the state, the field and the path.
    // See: #22
    #[tokio::test]
    async fn missing_path_is_a_runtime_error_no_catch_handles() {
        let r = rig(handlers()).await;
        let def = json!({
            "StartAt": "S",
            "States": {
                "S": {
                    "Type": "Task", "Resource": "echo",
                    "Parameters": {"x.$": "$.missing"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}],
                    "End": true
                },
                "Caught": {"Type": "Pass", "End": true}
            }
        });
        let (error, cause) = r.failure(&def, json!({"a": 1})).await;
        assert_eq!(error, "States.Runtime");
        assert_eq!(
            cause,
            "An error occurred while executing the state 'S' (entered at the event id #2). The \
             JSONPath '$.missing' specified for the field 'x.$' could not be found in the input \
             '{\"a\":1}'"
        );
    }
}

mod result_selector {
    use super::*;

    /// guide, "ResultSelector": reshape a task result before ResultPath.
    #[tokio::test]
    async fn reshapes_the_result() {
        let mut h = handlers();
        h.insert(
            "createCluster",
            Box::new(|_, _| {
                Ok(json!({
                    "resourceType": "elasticmapreduce",
                    "resource": "createCluster.sync",
                    "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}
                }))
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Task",
            "Resource": "createCluster",
            "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
            "ResultPath": "$.EMROutput",
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"cluster": "c"})).await,
            json!({"cluster": "c", "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}})
        );
    }
}

mod result_path {
    use super::*;

    /// spec, "Filters" example: InputPath feeds the task, ResultPath puts its result into
    /// the raw input.
    #[tokio::test]
    async fn result_goes_into_the_raw_input() {
        let mut h = handlers();
        h.insert(
            "add",
            Box::new(|v, _| {
                Ok(json!(
                    v["val1"].as_i64().unwrap_or(0) + v["val2"].as_i64().unwrap_or(0)
                ))
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Task", "Resource": "add",
            "InputPath": "$.numbers", "ResultPath": "$.sum", "End": true
        }));
        assert_eq!(
            r.output(
                &def,
                json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}})
            )
            .await,
            json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7})
        );
    }

    /// guide, "ResultPath": null discards the result, `$` (the default) replaces the input.
    #[tokio::test]
    async fn null_discards_and_default_replaces() {
        let r = rig(handlers()).await;
        let discard =
            single(json!({"Type": "Pass", "Result": "x", "ResultPath": null, "End": true}));
        assert_eq!(r.output(&discard, json!({"a": 1})).await, json!({"a": 1}));
        let replace = single(json!({"Type": "Pass", "Result": "x", "End": true}));
        assert_eq!(r.output(&replace, json!({"a": 1})).await, json!("x"));
    }

    /// spec, "Errors": a ResultPath that cannot be applied to the input is
    /// States.ResultPathMatchFailure.
    #[tokio::test]
    async fn unmatchable_is_result_path_match_failure() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true}));
        let (error, _) = r.failure(&def, json!({"a": "text"})).await;
        assert_eq!(error, "States.ResultPathMatchFailure");
    }
}

mod output_path {
    use super::*;

    /// guide, "OutputPath": selects the part of the state output passed on.
    #[tokio::test]
    async fn selects_the_output() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass", "Result": {"code": 200, "body": "ok"}, "ResultPath": "$.response",
            "OutputPath": "$.response.body", "End": true
        }));
        assert_eq!(r.output(&def, json!({"req": 1})).await, json!("ok"));
    }

    /// spec, "Filters": OutputPath null sends `{}` on.
    #[tokio::test]
    async fn null_outputs_an_empty_object() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "OutputPath": null, "End": true}));
        assert_eq!(r.output(&def, json!({"a": 1})).await, json!({}));
    }
}
