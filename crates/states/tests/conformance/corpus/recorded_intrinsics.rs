//! Intrinsic functions as AWS evaluated them in LocalStack's recordings
//! (tests/aws/services/stepfunctions/v2/intrinsic_functions/*.snapshot.json): each case is
//! the recorded template's call in a Pass state's Parameters, on the recorded
//! `FunctionInput`, giving the recorded `FunctionResult`.

use super::{case, Case};
use serde_json::{json, Value};

/// `call` on `{"FunctionInput": input}` gives `{"FunctionResult": result}` (recorded in
/// `test`).
fn recorded(name: &str, test: &'static str, call: &str, input: Value, result: Value) -> Case {
    let definition = json!({"StartAt": "State_0", "States": {"State_0": {"Type": "Pass",
        "Parameters": {"FunctionResult.$": call}, "End": true}}});
    case(name, test, definition)
        .input(json!({ "FunctionInput": input }))
        .output(json!({ "FunctionResult": result }))
}

const FORMAT_1: &str = "States.Format('Formatting argument {}.', $.FunctionInput)";
const FORMAT_2: &str =
    "States.Format('Formatting arguments fst={} and snd={}.', $.FunctionInput.fst, $.FunctionInput.snd)";
const STRING_TO_JSON: &str = "States.StringToJson($.FunctionInput)";
const JSON_TO_STRING: &str = "States.JsonToString($.FunctionInput)";
const PARTITION: &str = "States.ArrayPartition($.FunctionInput.fst, $.FunctionInput.snd)";
const CONTAINS: &str = "States.ArrayContains($.FunctionInput.fst, $.FunctionInput.snd)";
const RANGE: &str =
    "States.ArrayRange($.FunctionInput.fst, $.FunctionInput.snd, $.FunctionInput.trd)";

const T_FORMAT_1: &str = "recorded, test_generic[test_format_1]";
const T_FORMAT_2: &str = "recorded, test_generic[test_format_2]";
const T_STJ: &str = "recorded, test_json_manipulation[test_string_to_json]";
const T_JTS: &str = "recorded, test_json_manipulation[test_json_to_string]";
const T_PARTITION: &str = "recorded, test_array[test_array_partition]";
const T_CONTAINS: &str = "recorded, test_array[test_array_contains]";
const T_RANGE: &str = "recorded, test_array[test_array_range]";

pub fn cases() -> Vec<Case> {
    let pair = |v: Value| json!({"fst": v.clone(), "snd": v});
    vec![
        recorded(
            "format_empty_string",
            T_FORMAT_1,
            FORMAT_1,
            json!(""),
            json!("Formatting argument ."),
        ),
        recorded(
            "format_space",
            T_FORMAT_1,
            FORMAT_1,
            json!(" "),
            json!("Formatting argument  ."),
        ),
        recorded(
            "format_string",
            T_FORMAT_1,
            FORMAT_1,
            json!("HelloWorld"),
            json!("Formatting argument HelloWorld."),
        ),
        recorded(
            "format_null",
            T_FORMAT_1,
            FORMAT_1,
            json!(null),
            json!("Formatting argument null."),
        ),
        recorded(
            "format_integer",
            T_FORMAT_1,
            FORMAT_1,
            json!(1),
            json!("Formatting argument 1."),
        ),
        recorded(
            "format_decimal",
            T_FORMAT_1,
            FORMAT_1,
            json!(1.1),
            json!("Formatting argument 1.1."),
        ),
        recorded(
            "format_json_text",
            T_FORMAT_1,
            FORMAT_1,
            json!("{\"Arg1\": 1, \"Arg2\": []}"),
            json!("Formatting argument {\"Arg1\": 1, \"Arg2\": []}."),
        ),
        recorded(
            "format_two_nulls",
            T_FORMAT_2,
            FORMAT_2,
            pair(json!(null)),
            json!("Formatting arguments fst=null and snd=null."),
        ),
        recorded(
            "format_two_decimals",
            T_FORMAT_2,
            FORMAT_2,
            pair(json!(1.1)),
            json!("Formatting arguments fst=1.1 and snd=1.1."),
        ),
        recorded(
            "format_objects",
            T_FORMAT_2,
            FORMAT_2,
            pair(json!({"Arg1": 1, "Arg2": []})),
            json!("Formatting arguments fst={Arg1=1, Arg2=[]} and snd={Arg1=1, Arg2=[]}."),
        ),
        recorded(
            "string_to_json_empty",
            T_STJ,
            STRING_TO_JSON,
            json!(""),
            json!(null),
        ),
        recorded(
            "string_to_json_blank",
            T_STJ,
            STRING_TO_JSON,
            json!(" "),
            json!(null),
        ),
        recorded(
            "string_to_json_null",
            T_STJ,
            STRING_TO_JSON,
            json!("null"),
            json!(null),
        ),
        recorded(
            "string_to_json_minus_zero",
            T_STJ,
            STRING_TO_JSON,
            json!("-0"),
            json!(0),
        ),
        recorded(
            "string_to_json_decimal",
            T_STJ,
            STRING_TO_JSON,
            json!("1.1"),
            json!(1.1),
        ),
        recorded(
            "string_to_json_true",
            T_STJ,
            STRING_TO_JSON,
            json!("true"),
            json!(true),
        ),
        recorded(
            "string_to_json_string",
            T_STJ,
            STRING_TO_JSON,
            json!("\"HelloWorld\""),
            json!("HelloWorld"),
        ),
        recorded(
            "string_to_json_array",
            T_STJ,
            STRING_TO_JSON,
            json!("[1, 2, \"HelloWorld\"]"),
            json!([1, 2, "HelloWorld"]),
        ),
        recorded(
            "string_to_json_object",
            T_STJ,
            STRING_TO_JSON,
            json!("{\"Arg1\": 1, \"Arg2\": []}"),
            json!({"Arg1": 1, "Arg2": []}),
        ),
        recorded(
            "json_to_string_null",
            T_JTS,
            JSON_TO_STRING,
            json!(null),
            json!("null"),
        ),
        recorded(
            "json_to_string_zero",
            T_JTS,
            JSON_TO_STRING,
            json!(0),
            json!("0"),
        ),
        recorded(
            "json_to_string_decimal",
            T_JTS,
            JSON_TO_STRING,
            json!(1.1),
            json!("1.1"),
        ),
        recorded(
            "json_to_string_true",
            T_JTS,
            JSON_TO_STRING,
            json!(true),
            json!("true"),
        ),
        recorded(
            "json_to_string_string",
            T_JTS,
            JSON_TO_STRING,
            json!("HelloWorld"),
            json!("\"HelloWorld\""),
        ),
        recorded(
            "json_to_string_array",
            T_JTS,
            JSON_TO_STRING,
            json!([1, 2, "HelloWorld"]),
            json!("[1,2,\"HelloWorld\"]"),
        ),
        recorded(
            "json_to_string_object",
            T_JTS,
            JSON_TO_STRING,
            json!({"Arg1": 1, "Arg2": []}),
            json!("{\"Arg1\":1,\"Arg2\":[]}"),
        ),
        recorded(
            "json_merge_later_wins",
            "recorded, test_json_manipulation[test_json_merge]",
            "States.JsonMerge($.FunctionInput.fst, $.FunctionInput.snd, false)",
            json!({"fst": {"a": {"a1": 1, "a2": 2}, "b": 2, "d": 3}, "snd": {"a": {"a3": 1, "a4": 2}, "c": 3, "d": 4}}),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3, "d": 4}),
        ),
        recorded(
            "array_of_nothing",
            "recorded, test_array[test_array_0]",
            "States.Array()",
            json!("HelloWorld"),
            json!([]),
        ),
        recorded(
            "array_of_objects",
            "recorded, test_array[test_array_2]",
            "States.Array($.FunctionInput.fst, $.FunctionInput.snd)",
            pair(json!({"Arg1": 1, "Arg2": []})),
            json!([{"Arg1": 1, "Arg2": []}, {"Arg1": 1, "Arg2": []}]),
        ),
        recorded(
            "partition_empty",
            T_PARTITION,
            PARTITION,
            json!({"fst": [], "snd": 2}),
            json!([]),
        ),
        recorded(
            "partition_larger_than_array",
            T_PARTITION,
            PARTITION,
            json!({"fst": [0, 1], "snd": 5}),
            json!([[0, 1]]),
        ),
        recorded(
            "partition_by_one",
            T_PARTITION,
            PARTITION,
            json!({"fst": [0, 1, 2], "snd": 1}),
            json!([[0], [1], [2]]),
        ),
        recorded(
            "partition_with_rest",
            T_PARTITION,
            PARTITION,
            json!({"fst": [0, 1, 2, 3], "snd": 3}),
            json!([[0, 1, 2], [3]]),
        ),
        recorded(
            "contains_in_empty",
            T_CONTAINS,
            CONTAINS,
            json!({"fst": [], "snd": null}),
            json!(false),
        ),
        recorded(
            "contains_an_array",
            T_CONTAINS,
            CONTAINS,
            json!({"fst": [[1, 2, 3], 2], "snd": [1, 2, 3]}),
            json!(true),
        ),
        recorded(
            "contains_an_object",
            T_CONTAINS,
            CONTAINS,
            json!({"fst": [{"1": 2, "2": []}], "snd": {"1": 2, "2": []}}),
            json!(true),
        ),
        recorded(
            "contains_not_an_empty_array",
            T_CONTAINS,
            CONTAINS,
            json!({"fst": [{"1": 2, "2": []}], "snd": []}),
            json!(false),
        ),
        recorded(
            "contains_false",
            T_CONTAINS,
            CONTAINS,
            json!({"fst": [true, false], "snd": false}),
            json!(true),
        ),
        recorded(
            "range_reaches_the_end",
            T_RANGE,
            RANGE,
            json!({"fst": 0, "snd": 9, "trd": 3}),
            json!([0, 3, 6, 9]),
        ),
        recorded(
            "range_stops_before_the_end",
            T_RANGE,
            RANGE,
            json!({"fst": 0, "snd": 10, "trd": 3}),
            json!([0, 3, 6, 9]),
        ),
        recorded(
            "range_one_step",
            T_RANGE,
            RANGE,
            json!({"fst": 1, "snd": 9, "trd": 9}),
            json!([1]),
        ),
        recorded(
            "base64_encode_empty",
            "recorded, test_encode_decode[test_base_64_encode]",
            "States.Base64Encode($.FunctionInput)",
            json!(""),
            json!(""),
        ),
        recorded(
            "base64_decode_empty",
            "recorded, test_encode_decode[test_base_64_decode]",
            "States.Base64Decode($.FunctionInput)",
            json!(""),
            json!(""),
        ),
    ]
}
