//! Intrinsic functions, each with the developer guide's example where it gives one ("guide,
//! Intrinsic functions, <function>"), through a Pass state's Parameters.

use super::{case, intrinsic, Case};
use serde_json::{json, Value};

/// `expression` on `input` gives `{"r": value}`.
fn gives(name: &str, source: &'static str, expression: &str, input: Value, value: Value) -> Case {
    case(name, source, intrinsic(expression))
        .input(input)
        .output(json!({ "r": value }))
}

fn fails(name: &str, source: &'static str, expression: &str, input: Value) -> Case {
    case(name, source, intrinsic(expression))
        .input(input)
        .fails("States.IntrinsicFailure")
}

pub fn cases() -> Vec<Case> {
    let nine = json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]});
    let data = json!({"Data": "input data"});
    vec![
        gives("format", "guide, Intrinsic functions, States.Format", "States.Format('Hello, my name is {}.', $.name)",
            json!({"name": "Arnav"}), json!("Hello, my name is Arnav.")),
        gives("format_template_from_input", "guide, Intrinsic functions, States.Format: the template may be a path",
            "States.Format($.template, $.name)", json!({"template": "Hello, my name is {}.", "name": "Arnav"}),
            json!("Hello, my name is Arnav.")),
        gives("format_escaped_quote", "guide, Intrinsic functions: \\' escapes a quote in a string argument",
            "States.Format('it\\'s {}', $.a)", json!({"a": "here"}), json!("it's here")),
        gives("format_number_and_boolean", "guide, Intrinsic functions, States.Format: numbers and Booleans render as JSON",
            "States.Format('{} {} {}', $.n, $.b, $.z)", json!({"n": 3, "b": true, "z": null}), json!("3 true null")),
        fails("format_too_few_arguments", "guide, Intrinsic functions, States.Format: one argument per {}",
            "States.Format('{} {}', $.a)", json!({"a": 1})),
        gives("string_to_json", "guide, Intrinsic functions, States.StringToJson", "States.StringToJson($.escapedJsonString)",
            json!({"escapedJsonString": "{\"foo\": \"bar\"}"}), json!({"foo": "bar"})),
        fails("string_to_json_not_json", "guide, Intrinsic functions, States.StringToJson: the argument must be JSON text",
            "States.StringToJson($.s)", json!({"s": "{not json"})),
        gives("json_to_string", "guide, Intrinsic functions, States.JsonToString", "States.JsonToString($.someJson)",
            json!({"someJson": {"name": "Foo", "year": 2020}}), json!("{\"name\":\"Foo\",\"year\":2020}")),
        gives("array", "guide, Intrinsic functions, States.Array", "States.Array('Foo', 2020, $.someJson, null)",
            json!({"someJson": {"random": "abcdefg"}}), json!(["Foo", 2020, {"random": "abcdefg"}, null])),
        gives("array_partition", "guide, Intrinsic functions, States.ArrayPartition", "States.ArrayPartition($.inputArray, 4)",
            nine.clone(), json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])),
        gives("array_contains", "guide, Intrinsic functions, States.ArrayContains", "States.ArrayContains($.inputArray, $.lookingFor)",
            json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5}), json!(true)),
        gives("array_contains_absent", "guide, Intrinsic functions, States.ArrayContains", "States.ArrayContains($.inputArray, 10)",
            nine.clone(), json!(false)),
        gives("array_range", "guide, Intrinsic functions, States.ArrayRange", "States.ArrayRange(1, 9, 2)",
            json!({}), json!([1, 3, 5, 7, 9])),
        fails("array_range_over_1000_items", "guide, Intrinsic functions, States.ArrayRange: at most 1,000 items",
            "States.ArrayRange(1, 2000, 1)", json!({})),
        gives("array_get_item", "guide, Intrinsic functions, States.ArrayGetItem", "States.ArrayGetItem($.inputArray, $.index)",
            json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5}), json!(6)),
        gives("array_length", "guide, Intrinsic functions, States.ArrayLength", "States.ArrayLength($.inputArray)",
            nine.clone(), json!(9)),
        gives("array_unique", "guide, Intrinsic functions, States.ArrayUnique", "States.ArrayUnique($.inputArray)",
            json!({"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}), json!([1, 2, 3, 4])),
        gives("base64_encode", "guide, Intrinsic functions, States.Base64Encode", "States.Base64Encode($.input)",
            json!({"input": "Data to encode"}), json!("RGF0YSB0byBlbmNvZGU=")),
        gives("base64_decode", "guide, Intrinsic functions, States.Base64Decode", "States.Base64Decode($.base64)",
            json!({"base64": "RGF0YSB0byBlbmNvZGU="}), json!("Data to encode")),
        gives("hash_sha1", "guide, Intrinsic functions, States.Hash", "States.Hash($.Data, 'SHA-1')",
            data.clone(), json!("aaff4a450a104cd177d28d18d74485e8cae074b7")),
        gives("hash_md5", "guide, Intrinsic functions, States.Hash: MD5 is one of the algorithms", "States.Hash($.Data, 'MD5')",
            data.clone(), json!("812f45842bc6d66ee14572ce20db8e86")),
        gives("hash_sha256", "guide, Intrinsic functions, States.Hash: SHA-256 is one of the algorithms", "States.Hash($.Data, 'SHA-256')",
            data.clone(), json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")),
        gives("hash_sha384", "guide, Intrinsic functions, States.Hash: SHA-384 is one of the algorithms", "States.Hash($.Data, 'SHA-384')",
            data.clone(), json!("d28a7d5cf25a74f11a50a18452b75e04bb3d70c9dd0510d6123aa008c756511b87525bdc835ebb27e1fb9e9374a15562")),
        gives("hash_sha512", "guide, Intrinsic functions, States.Hash: SHA-512 is one of the algorithms", "States.Hash($.Data, 'SHA-512')",
            data.clone(), json!("6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4")),
        fails("hash_unknown_algorithm", "guide, Intrinsic functions, States.Hash: only MD5, SHA-1, SHA-256, SHA-384, SHA-512",
            "States.Hash($.Data, $.Algorithm)", json!({"Data": "input data", "Algorithm": "CRC32"})),
        gives("json_merge_shallow", "guide, Intrinsic functions, States.JsonMerge", "States.JsonMerge($.json1, $.json2, false)",
            json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}}),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})),
        case("math_random", "guide, Intrinsic functions, States.MathRandom: a number from start (inclusive) to end (exclusive)",
            intrinsic("States.MathRandom($.start, $.end)"))
            .input(json!({"start": 1, "end": 999}))
            .output_where("an integer from 1 to 998", |v| v["r"].as_i64().is_some_and(|n| (1..999).contains(&n))),
        gives("math_add", "guide, Intrinsic functions, States.MathAdd", "States.MathAdd($.value1, $.step)",
            json!({"value1": 111, "step": -1}), json!(110)),
        fails("math_add_string", "guide, Intrinsic functions, States.MathAdd: the arguments are numbers",
            "States.MathAdd($.a, 1)", json!({"a": "one"})),
        gives("string_split", "guide, Intrinsic functions, States.StringSplit", "States.StringSplit($.inputString, $.splitter)",
            json!({"inputString": "1,2,3,4,5", "splitter": ","}), json!(["1", "2", "3", "4", "5"])),
        gives("string_split_many_delimiters", "guide, Intrinsic functions, States.StringSplit: each character of the splitter splits",
            "States.StringSplit($.inputString, $.splitter)",
            json!({"inputString": "This.is+a,test=string", "splitter": ".+,="}),
            json!(["This", "is", "a", "test", "string"])),
        case("uuid", "guide, Intrinsic functions, States.UUID: a version 4 UUID",
            intrinsic("States.UUID()"))
            .output_where("a version 4 UUID", |v| v["r"].as_str().is_some_and(|s| s.len() == 36 && s.as_bytes()[14] == b'4')),
        gives("nested_calls", "guide, Intrinsic functions: calls nest (up to 10 deep)",
            "States.Format('{} items', States.ArrayLength($.inputArray))", nine.clone(), json!("9 items")),
        gives("context_argument", "guide, Intrinsic functions: arguments may be context object paths",
            "States.Format('state {}', $$.State.Name)", json!({}), json!("state S")),
        fails("array_get_item_not_an_array", "guide, Intrinsic functions, States.ArrayGetItem: the first argument is an array",
            "States.ArrayGetItem($.a, 0)", json!({"a": "text"})),
        fails("base64_decode_not_base64", "guide, Intrinsic functions, States.Base64Decode: the argument is Base64 data",
            "States.Base64Decode($.a)", json!({"a": "***"})),
        case("unknown_function_refused", "guide, Intrinsic functions: only the States.* functions listed exist",
            intrinsic("States.Nope($.a)"))
            .refused("States.Nope"),
    ]
}
