//! Intrinsic functions through Parameters.

use super::*;

mod intrinsics {
    use super::*;

    /// guide, "Intrinsic functions": calls in Parameters, evaluated against the input and
    /// nested in each other.
    #[tokio::test]
    async fn guide_examples_through_parameters() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass",
            "Parameters": {
                "greeting.$": "States.Format('Hello, my name is {}.', $.name)",
                "parsed.$": "States.StringToJson($.someString)",
                "text.$": "States.JsonToString($.someJson)",
                "partitioned.$": "States.ArrayPartition($.inputArray, 4)",
                "contains.$": "States.ArrayContains($.inputArray, $.lookingFor)",
                "range.$": "States.ArrayRange(1, 9, 2)",
                "item.$": "States.ArrayGetItem($.inputArray, $.index)",
                "length.$": "States.ArrayLength($.inputArray)",
                "unique.$": "States.ArrayUnique($.dupes)",
                "encoded.$": "States.Base64Encode($.input)",
                "decoded.$": "States.Base64Decode($.base64)",
                "hash.$": "States.Hash($.Data, $.Algorithm)",
                "merged.$": "States.JsonMerge($.json1, $.json2, false)",
                "sum.$": "States.MathAdd($.value1, $.step)",
                "split.$": "States.StringSplit($.inputString, $.splitter)",
                "nested.$": "States.Format('{} items', States.ArrayLength(States.Array(1, 2, 3)))"
            },
            "End": true
        }));
        let input = json!({
            "name": "Arnav",
            "someString": "{\"number\": 20}",
            "someJson": {"name": "Foo", "year": 2020},
            "inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9],
            "lookingFor": 5,
            "index": 5,
            "dupes": [1, 2, 3, 3, 3, 3, 3, 3, 4],
            "input": "Data to encode",
            "base64": "RGF0YSB0byBlbmNvZGU=",
            "Data": "input data",
            "Algorithm": "SHA-1",
            "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
            "json2": {"a": {"a3": 1, "a4": 2}, "c": 3},
            "value1": 111,
            "step": -1,
            "inputString": "1,2,3,4,5",
            "splitter": ","
        });
        let out = r.output(&def, input).await;
        assert_eq!(out["greeting"], "Hello, my name is Arnav.");
        assert_eq!(out["parsed"], json!({"number": 20}));
        assert_eq!(out["text"], "{\"name\":\"Foo\",\"year\":2020}");
        assert_eq!(out["partitioned"], json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]));
        assert_eq!(out["contains"], true);
        assert_eq!(out["range"], json!([1, 3, 5, 7, 9]));
        assert_eq!(out["item"], 6);
        assert_eq!(out["length"], 9);
        assert_eq!(out["unique"], json!([1, 2, 3, 4]));
        assert_eq!(out["encoded"], "RGF0YSB0byBlbmNvZGU=");
        assert_eq!(out["decoded"], "Data to encode");
        assert_eq!(out["hash"], "aaff4a450a104cd177d28d18d74485e8cae074b7");
        assert_eq!(
            out["merged"],
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})
        );
        assert_eq!(out["sum"], 110);
        assert_eq!(out["split"], json!(["1", "2", "3", "4", "5"]));
        assert_eq!(out["nested"], "3 items");
    }

    /// guide, "Intrinsic functions": a failing call is States.IntrinsicFailure.
    #[tokio::test]
    async fn failure_is_intrinsic_failure() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass",
            "Parameters": {"x.$": "States.ArrayGetItem($.a, 7)"},
            "End": true
        }));
        let (error, cause) = r.failure(&def, json!({"a": [1]})).await;
        assert_eq!(error, "States.IntrinsicFailure");
        assert!(cause.contains("ArrayGetItem"), "{cause}");
    }
}
