//! Parallel and Map states, inline and distributed.

use super::*;

mod parallel {
    use super::*;

    /// spec, "Parallel State": the output is the array of the branches' outputs, in order.
    #[tokio::test]
    async fn outputs_in_branch_order() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "LookupAddress", "States": {"LookupAddress": {"Type": "Pass", "Result": {"address": "here"}, "End": true}}},
                {"StartAt": "LookupPhone", "States": {"LookupPhone": {"Type": "Pass", "InputPath": "$.phone", "End": true}}}
            ],
            "ResultPath": "$.lookups",
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"phone": "555"})).await,
            json!({"phone": "555", "lookups": [{"address": "here"}, "555"]})
        );
    }

    /// spec, "Parallel State": a failing branch fails the state with the branch's error,
    /// which the Parallel state's Catch can handle.
    #[tokio::test]
    async fn a_failing_branch_fails_the_state() {
        let r = rig(handlers()).await;
        let def = json!({
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": true}}},
                        {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "BranchBroke", "Cause": "b2"}}}
                    ],
                    "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.err", "Next": "Handled"}],
                    "End": true
                },
                "Handled": {"Type": "Pass", "End": true}
            }
        });
        assert_eq!(
            r.output(&def, json!({})).await,
            json!({"err": {"Error": "BranchBroke", "Cause": "b2"}})
        );
    }
}

mod map {
    use super::*;

    /// spec, "Map State": the Validate-All example; ResultPath places the results in the
    /// raw input.
    #[tokio::test]
    async fn validate_all() {
        let mut h = handlers();
        h.insert(
            "ship-val",
            Box::new(|mut v, _| {
                v["valid"] = json!(v["quantity"].as_u64().unwrap_or(0) > 0);
                Ok(v)
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Map",
            "InputPath": "$.detail",
            "ItemsPath": "$.shipped",
            "MaxConcurrency": 0,
            "ItemProcessor": {"StartAt": "Validate", "States": {"Validate": {"Type": "Task", "Resource": "ship-val", "End": true}}},
            "ResultPath": "$.detail.shipped",
            "End": true
        }));
        let input = json!({
            "ship-date": "2016-03-14T01:59:00Z",
            "detail": {
                "delivery-partner": "UQS",
                "shipped": [
                    {"prod": "R31", "dest-code": 9511, "quantity": 1344},
                    {"prod": "S39", "dest-code": 9511, "quantity": 40},
                    {"prod": "R40", "dest-code": 9511, "quantity": 0}
                ]
            }
        });
        let out = r.output(&def, input).await;
        let valid: Vec<bool> = out["detail"]["shipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["valid"].as_bool().unwrap())
            .collect();
        assert_eq!(valid, [true, true, false]);
        assert_eq!(out["detail"]["delivery-partner"], "UQS");
    }

    /// guide, "ItemSelector": the context object's Map.Item.Index and Map.Item.Value.
    #[tokio::test]
    async fn item_selector_with_context() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"ContextIndex.$": "$$.Map.Item.Index", "ContextValue.$": "$$.Map.Item.Value", "shared.$": "$.shared"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"shared": 9, "items": ["a", "b"]}))
                .await,
            json!([
                {"ContextIndex": 0, "ContextValue": "a", "shared": 9},
                {"ContextIndex": 1, "ContextValue": "b", "shared": 9}
            ])
        );
    }

    /// guide, "Map state in Distributed mode": ItemReader over a CSV object with a header
    /// row, ItemBatcher, tolerated failures, and ResultWriter.
    #[tokio::test]
    async fn distributed_reader_batcher_writer() {
        let mut h = handlers();
        h.insert(
            "rate",
            Box::new(|v, _| {
                let items = v["Items"].as_array().cloned().unwrap_or_default();
                if items.iter().any(|i| i["rating"] == "bad") {
                    return Err(StatesError::new("BadRating", "a rating is not a number"));
                }
                Ok(json!({"batch": v["BatchInput"]["run"], "n": items.len()}))
            }),
        );
        let r = rig(h).await;
        let dir = r._dir.path().join("buckets/ratings-bucket");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("ratings.csv"),
            "userId,movieId,rating\n1,307,3.5\n1,481,3.5\n1,1091,bad\n1,1257,4.5\n1,1449,4.5\n",
        )
        .unwrap();
        let def = single(json!({
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                "Parameters": {"Bucket": "ratings-bucket", "Key.$": "$.key"}
            },
            "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Rate", "States": {"Rate": {"Type": "Task", "Resource": "rate", "End": true}}
            },
            "ToleratedFailureCount": 1,
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results-bucket", "Prefix": "out"}},
            "Label": "Ratings",
            "End": true
        }));
        let out = r
            .output(&def, json!({"key": "ratings.csv", "run": "r1"}))
            .await;
        let details = &out["ResultWriterDetails"];
        assert_eq!(details["Bucket"], "results-bucket");
        let manifest_key = details["Key"].as_str().unwrap();
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(
                r._dir
                    .path()
                    .join("buckets/results-bucket")
                    .join(manifest_key),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(manifest.get("ResultFiles").is_some(), "{manifest}");

        // Two failing batches are more than the one tolerated.
        std::fs::write(
            dir.join("worse.csv"),
            "userId,movieId,rating\n1,1,bad\n1,2,3\n1,3,bad\n",
        )
        .unwrap();
        let (error, _) = r
            .failure(&def, json!({"key": "worse.csv", "run": "r2"}))
            .await;
        assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    }

    /// spec, "Map State": an inline iteration's failure fails the Map with its error.
    #[tokio::test]
    async fn inline_failure_fails_the_map() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}], "Default": "P"},
                "F": {"Type": "Fail", "Error": "Two", "Cause": "item two"},
                "P": {"Type": "Pass", "End": true}
            }},
            "End": true
        }));
        assert_eq!(
            r.failure(&def, json!({"items": [1, 2, 3]})).await,
            ("Two".into(), "item two".into())
        );
    }
}
