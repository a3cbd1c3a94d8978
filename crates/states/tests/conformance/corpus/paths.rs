//! The input and output fields of JSONPath states: InputPath, Parameters, ResultSelector,
//! ResultPath, OutputPath, and reference paths.

use super::{case, single, Case, Reply};
use serde_json::json;

/// The guide's "ResultPath" examples: HelloFunction's input and result.
fn hello_input() -> serde_json::Value {
    json!({"comment": "This is a test of the input and output of a Task state.",
           "details": "Default example", "who": "AWS Step Functions"})
}

fn hello(result_path: serde_json::Value) -> serde_json::Value {
    single(
        json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction",
        "ResultPath": result_path, "End": true}),
    )
}

const HELLO: &str = "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction";

pub fn cases() -> Vec<Case> {
    let spec_paths = json!({"foo": 123, "bar": ["a", "b", "c"], "car": {"cdr": true}});
    vec![
        case(
            "input_path_selects",
            "guide, InputPath: the dataset2 example",
            single(json!({"Type": "Pass", "InputPath": "$.dataset2", "End": true})),
        )
        .input(json!({"comment": "Example for InputPath.",
            "dataset1": {"val1": 1, "val2": 2, "val3": 3},
            "dataset2": {"val1": "a", "val2": "b", "val3": "c"}}))
        .output(json!({"val1": "a", "val2": "b", "val3": "c"})),
        case(
            "input_path_null_is_an_empty_object",
            "spec, Filters: an InputPath of null gives the state {} as its input",
            single(json!({"Type": "Pass", "InputPath": null, "End": true})),
        )
        .input(json!({"a": 1}))
        .output(json!({})),
        case(
            "input_path_missing_is_runtime",
            "spec, Runtime Errors: an InputPath that matches nothing is States.Runtime",
            single(json!({"Type": "Pass", "InputPath": "$.nope", "End": true})),
        )
        .input(json!({"a": 1}))
        .fails("States.Runtime"),
        case(
            "reference_path_member",
            "spec, Paths: $.foo of the example input is 123",
            single(json!({"Type": "Pass", "InputPath": "$.foo", "End": true})),
        )
        .input(spec_paths.clone())
        .output(json!(123)),
        case(
            "reference_path_array",
            "spec, Paths: $.bar of the example input is [\"a\", \"b\", \"c\"]",
            single(json!({"Type": "Pass", "InputPath": "$.bar", "End": true})),
        )
        .input(spec_paths.clone())
        .output(json!(["a", "b", "c"])),
        case(
            "reference_path_nested",
            "spec, Paths: $.car.cdr of the example input is true",
            single(json!({"Type": "Pass", "InputPath": "$.car.cdr", "End": true})),
        )
        .input(spec_paths.clone())
        .output(json!(true)),
        case(
            "path_index",
            "guide, Using JSONPath paths: an array index selects one element",
            single(json!({"Type": "Pass", "InputPath": "$.bar[1]", "End": true})),
        )
        .input(spec_paths.clone())
        .output(json!("b")),
        case(
            "path_wildcard",
            "guide, Using JSONPath paths: [*] selects every element's member",
            single(json!({"Type": "Pass", "Parameters": {"names.$": "$.items[*].name"}, "End": true})),
        )
        .input(json!({"items": [{"name": "a"}, {"name": "b"}]}))
        .output(json!({"names": ["a", "b"]})),
        case(
            "path_bracket_name",
            "guide, Using JSONPath paths: a member name in brackets with quotes",
            single(json!({"Type": "Pass", "InputPath": "$['my key']", "End": true})),
        )
        .input(json!({"my key": 5}))
        .output(json!(5)),
        case(
            "parameters_static_and_paths",
            "guide, Parameters: the MyDetails example",
            single(json!({"Type": "Pass", "Parameters": {
                "comment": "Selecting what I care about.",
                "MyDetails": {"size.$": "$.product.details.size",
                    "exists.$": "$.product.availability", "StaticValue": "foo"}}, "End": true})),
        )
        .input(json!({"comment": "Example for Parameters.", "product": {
            "details": {"color": "blue", "size": "small", "material": "cotton"},
            "availability": "in stock", "sku": "2317", "cost": "$23"}}))
        .output(json!({"comment": "Selecting what I care about.",
            "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}})),
        case(
            "parameters_missing_path_is_runtime",
            "recorded, test_base_scenarios[test_invalid_jsonpath[INVALID_JSONPATH_IN_STRING_EXPR_JSONPATH]]",
            json!({"StartAt": "pass", "States": {"pass": {"Type": "Pass",
                "Parameters": {"value.$": "$.no_such_jsonpath"}, "End": true}}}),
        )
        .input(json!({"int-literal": 0}))
        .fails_with("States.Runtime", "An error occurred while executing the state 'pass' (entered at the event id #2). The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"),
        case(
            "error_path_missing_is_runtime",
            "recorded, test_base_scenarios[test_invalid_jsonpath[INVALID_JSONPATH_IN_ERRORPATH]]",
            json!({"StartAt": "pass", "States": {
                "pass": {"Type": "Pass", "Next": "fail", "Parameters": {"Error": "error-value"}},
                "fail": {"Type": "Fail", "ErrorPath": "$.ErrorX"}}}),
        )
        .input(json!({"int-literal": 0}))
        .fails_with("States.Runtime", "An error occurred while executing the state 'fail' (entered at the event id #4). The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input"),
        case(
            "input_path_missing_recorded_cause",
            "recorded, test_base_scenarios[test_invalid_jsonpath[ST.INVALID_JSONPATH_IN_INPUTPATH]]",
            json!({"StartAt": "pass", "States": {"pass": {"Type": "Pass", "InputPath": "$.NoSuchInputPath", "End": true}}}),
        )
        .input(json!({"int-literal": 0}))
        .fails_with("States.Runtime", "An error occurred while executing the state 'pass' (entered at the event id #2). Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"),
        case(
            "output_path_missing_recorded_cause",
            "recorded, test_base_scenarios[test_invalid_jsonpath[ST.INVALID_JSONPATH_IN_OUTPUTPATH]]",
            json!({"StartAt": "pass", "States": {"pass": {"Type": "Pass", "OutputPath": "$.NoSuchOutputPath", "End": true}}}),
        )
        .input(json!({"int-literal": 0}))
        .fails_with("States.Runtime", "An error occurred while executing the state 'pass' (entered at the event id #2). Invalid path '$.NoSuchOutputPath' : No results for path: $['NoSuchOutputPath']"),
        case(
            "parameters_after_input_path",
            "guide, Processing input and output: InputPath applies before Parameters",
            single(json!({"Type": "Pass", "InputPath": "$.inner",
                "Parameters": {"v.$": "$.v"}, "End": true})),
        )
        .input(json!({"v": "outer", "inner": {"v": "inner"}}))
        .output(json!({"v": "inner"})),
        case(
            "result_selector_reshapes",
            "guide, ResultSelector: the EMR createCluster example",
            single(json!({"Type": "Task", "Resource": "arn:aws:states:::elasticmapreduce:createCluster.sync",
                "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
                "ResultPath": "$.EMROutput", "End": true})),
        )
        .input(json!({"a": 1}))
        .reply("arn:aws:states:::elasticmapreduce:createCluster.sync", vec![Reply::Ok(json!({
            "resourceType": "elasticmapreduce", "resource": "createCluster.sync",
            "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}}))])
        .output(json!({"a": 1, "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE",
            "ResourceType": "elasticmapreduce"}})),
        case(
            "result_path_default_replaces",
            "guide, ResultPath: by default ($) the result replaces the input",
            hello(json!("$")),
        )
        .input(hello_input())
        .reply(HELLO, vec![Reply::Ok(json!("Hello, AWS Step Functions!"))])
        .output(json!("Hello, AWS Step Functions!")),
        case(
            "result_path_adds_a_member",
            "guide, ResultPath: the $.taskresult example",
            hello(json!("$.taskresult")),
        )
        .input(hello_input())
        .reply(HELLO, vec![Reply::Ok(json!("Hello, AWS Step Functions!"))])
        .output({
            let mut o = hello_input();
            o["taskresult"] = json!("Hello, AWS Step Functions!");
            o
        }),
        case(
            "result_path_null_discards",
            "guide, ResultPath: null discards the result and keeps the input",
            hello(json!(null)),
        )
        .input(hello_input())
        .reply(HELLO, vec![Reply::Ok(json!("Hello, AWS Step Functions!"))])
        .output(hello_input()),
        case(
            "result_path_into_a_nested_member",
            "guide, ResultPath: the $.strings.lambdaresult example",
            hello(json!("$.strings.lambdaresult")),
        )
        .input(json!({"who": "AWS Step Functions", "strings": {"string1": "a", "string2": "b"}}))
        .reply(HELLO, vec![Reply::Ok(json!("Hello, AWS Step Functions!"))])
        .output(json!({"who": "AWS Step Functions", "strings": {"string1": "a", "string2": "b",
            "lambdaresult": "Hello, AWS Step Functions!"}})),
        case(
            "result_path_overwrites_a_member",
            "spec, Filters: ResultPath replaces the member it names",
            single(json!({"Type": "Pass", "Result": 2, "ResultPath": "$.a", "End": true})),
        )
        .input(json!({"a": 1, "b": 1}))
        .output(json!({"a": 2, "b": 1})),
        case(
            "result_path_creates_missing_parents",
            "spec, Filters: ResultPath adds the members it names when they are absent",
            single(json!({"Type": "Pass", "Result": 1, "ResultPath": "$.x.y", "End": true})),
        )
        .output(json!({"x": {"y": 1}})),
        case(
            "result_path_through_a_scalar_fails",
            "spec, Errors (States.ResultPathMatchFailure): ResultPath cannot be applied to the input",
            single(json!({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true})),
        )
        .input(json!({"a": 5}))
        .fails("States.ResultPathMatchFailure"),
        case(
            "output_path_selects",
            "guide, OutputPath: selects the part of the output that goes on",
            single(json!({"Type": "Pass", "Result": {"k": 1, "j": 2}, "OutputPath": "$.k", "End": true})),
        )
        .output(json!(1)),
        case(
            "output_path_null_is_an_empty_object",
            "spec, Filters: an OutputPath of null sends {} on",
            single(json!({"Type": "Pass", "OutputPath": null, "End": true})),
        )
        .input(json!({"a": 1}))
        .output(json!({})),
        case(
            "output_path_missing_is_runtime",
            "spec, Runtime Errors: an OutputPath that matches nothing is States.Runtime",
            single(json!({"Type": "Pass", "OutputPath": "$.nope", "End": true})),
        )
        .fails("States.Runtime"),
        case(
            "filters_in_order",
            "spec, Filters: the example of InputPath, ResultPath and OutputPath together",
            single(json!({"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Add",
                "InputPath": "$.numbers", "ResultPath": "$.sum", "OutputPath": "$.sum", "End": true})),
        )
        .input(json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}}))
        .reply("arn:aws:lambda:us-east-1:123456789012:function:Add", vec![Reply::Ok(json!(7))])
        .output(json!(7)),
    ]
}
