//! JSONata: the state fields of the JSONata guide ("Transforming data with JSONata in Step
//! Functions"), the `$states` variable, AWS's own functions, the JSONata function library
//! (docs.jsonata.org examples) and `States.QueryEvaluationError`.

use super::{case, jsonata_output, single_jsonata, Case, Reply};
use serde_json::{json, Value};

/// `{% expression %}` on `input` gives `value`.
fn gives(name: &str, source: &'static str, expression: &str, input: Value, value: Value) -> Case {
    case(name, source, jsonata_output(expression))
        .input(input)
        .output(value)
}

fn lib(name: &str, source: &'static str, expression: &str, value: Value) -> Case {
    gives(name, source, expression, json!({}), value)
}

const GUIDE: &str = "guide, Transforming data with JSONata in Step Functions";
const AWS_FNS: &str =
    "guide, Transforming data with JSONata (JSONata functions provided by Step Functions)";
const STRING: &str = "jsonata, String functions";
const NUMERIC: &str = "jsonata, Numeric functions";
const AGGREGATE: &str = "jsonata, Numeric aggregation functions";
const BOOLEAN: &str = "jsonata, Boolean functions";
const ARRAY: &str = "jsonata, Array functions";
const OBJECT: &str = "jsonata, Object functions";
const HIGHER: &str = "jsonata, Higher order functions";
const DATE: &str = "jsonata, Date/Time functions";
const OPERATORS: &str = "jsonata, Expression operators and path operators";

const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:Worker";

pub fn cases() -> Vec<Case> {
    vec![
        // States and fields.
        case("pass_without_output_passes_input", GUIDE,
            single_jsonata(json!({"Type": "Pass", "End": true})))
            .input(json!({"a": 1}))
            .output(json!({"a": 1})),
        gives("output_reads_states_input", GUIDE, "$states.input.a * 2", json!({"a": 21}), json!(42)),
        case("output_object_template", "guide, Transforming data with JSONata: {% %} strings inside JSON objects and arrays",
            single_jsonata(json!({"Type": "Pass", "Output": {"sum": "{% 1 + 2 %}", "list": ["{% 'x' %}", "lit"], "n": 5}, "End": true})))
            .output(json!({"sum": 3, "list": ["x", "lit"], "n": 5})),
        case("partial_template_is_a_literal", "guide, Transforming data with JSONata: a string is an expression only when it starts with {% and ends with %}",
            single_jsonata(json!({"Type": "Pass", "Output": {"s": "total: {% 1 %}"}, "End": true})))
            .output(json!({"s": "total: {% 1 %}"})),
        case("task_arguments_and_result", GUIDE,
            single_jsonata(json!({"Type": "Task", "Resource": FN,
                "Arguments": {"n": "{% $states.input.n %}"},
                "Output": {"in": "{% $states.input.n %}", "out": "{% $states.result.r %}"}, "End": true})))
            .input(json!({"n": 1}))
            .reply(FN, vec![Reply::Ok(json!({"r": 2}))])
            .output(json!({"in": 1, "out": 2})),
        case("task_output_defaults_to_the_result", GUIDE,
            single_jsonata(json!({"Type": "Task", "Resource": FN, "End": true})))
            .input(json!({"n": 1}))
            .reply(FN, vec![Reply::Ok(json!({"r": 2}))])
            .output(json!({"r": 2})),
        case("choice_condition", "guide, Transforming data with JSONata (Choice state Condition)",
            json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Condition": "{% $states.input.n > 10 %}", "Next": "Big"}], "Default": "Small"},
                "Big": {"Type": "Pass", "Output": "big", "End": true},
                "Small": {"Type": "Pass", "Output": "small", "End": true}}}))
            .input(json!({"n": 11}))
            .output(json!("big")),
        case("map_items_and_item_selector", "guide, Transforming data with JSONata (Map Items and ItemSelector)",
            single_jsonata(json!({"Type": "Map", "Items": "{% $states.input.xs %}",
                "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}"},
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true})))
            .input(json!({"xs": ["a", "b"]}))
            .output(json!([{"v": "a", "i": 0}, {"v": "b", "i": 1}])),
        case("assign_and_read", "guide, Passing data between states with variables (JSONata)",
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
                "A": {"Type": "Pass", "Assign": {"x": "{% $states.input.v %}"}, "Next": "B"},
                "B": {"Type": "Pass", "Output": "{% $x & '!' %}", "End": true}}}))
            .input(json!({"v": "hi"}))
            .output(json!("hi!")),
        case("fail_error_and_cause_expressions", "guide, Fail workflow state (JSONata): Error and Cause may be expressions",
            single_jsonata(json!({"Type": "Fail", "Error": "{% 'E' & $states.input.code %}", "Cause": "{% $states.input.why %}"})))
            .input(json!({"code": 42, "why": "because"}))
            .fails_with("E42", "because"),
        case("wait_seconds_expression", "guide, Wait workflow state (JSONata): Seconds may be an expression",
            single_jsonata(json!({"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": true})))
            .input(json!({"s": 3}))
            .output(json!({"s": 3})),
        case("catch_output_reads_error_output", "guide, Handling errors (JSONata): a catcher's Output reads $states.errorOutput",
            json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": FN, "End": true,
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Output": {"e": "{% $states.errorOutput.Error %}"}, "Next": "R"}]},
                "R": {"Type": "Pass", "End": true}}}))
            .reply(FN, vec![Reply::Err("Boom", "b")])
            .output(json!({"e": "Boom"})),
        case("context_execution_name", "guide, Transforming data with JSONata: $states.context is the context object",
            jsonata_output("$states.context.State.Name"))
            .output(json!("S")),
        case("undefined_output_is_query_evaluation_error", "recorded, test_undefined_reference[BASE_UNDEFINED_OUTPUT_FIELD]",
            jsonata_output("$states.input.missing"))
            .fails("States.QueryEvaluationError"),
        case("type_error_is_query_evaluation_error", "guide, Handling errors (States.QueryEvaluationError): a JSONata evaluation error",
            jsonata_output("'a' + 1"))
            .fails("States.QueryEvaluationError"),
        case("query_evaluation_error_is_catchable", "guide, Handling errors: States.QueryEvaluationError may be caught",
            json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
                "T": {"Type": "Task", "Resource": FN, "Arguments": "{% 'a' + 1 %}", "End": true,
                      "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Output": "caught", "Next": "R"}]},
                "R": {"Type": "Pass", "End": true}}}))
            .output(json!("caught")),
        case("input_path_in_jsonata_refused", "guide, Transforming data with JSONata: InputPath and the other JSONPath fields are not allowed",
            single_jsonata(json!({"Type": "Pass", "InputPath": "$.a", "End": true})))
            .refused("InputPath"),
        case("parameters_in_jsonata_refused", "guide, Transforming data with JSONata: Parameters is replaced by Arguments",
            single_jsonata(json!({"Type": "Task", "Resource": FN, "Parameters": {"a": 1}, "End": true})))
            .refused("Parameters"),
        case("arguments_in_jsonpath_refused", "guide, Transforming data with JSONata: Arguments exists only in JSONata states",
            json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": FN, "Arguments": {"a": 1}, "End": true}}}))
            .refused("Arguments"),
        case("bad_expression_refused", "guide, Transforming data with JSONata: an expression that does not parse fails validation",
            jsonata_output("1 +"))
            .refused("Output"),
        case("per_state_query_language", "guide, Transforming data with JSONata: QueryLanguage may be set per state",
            json!({"StartAt": "A", "States": {
                "A": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "Next": "B"},
                "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $states.input.v + 1 %}", "End": true}}}))
            .input(json!({"v": 1}))
            .output(json!(2)),
        // Functions Step Functions adds.
        lib("partition", AWS_FNS, "$partition([1,2,3,4], 2)", json!([[1, 2], [3, 4]])),
        lib("range", AWS_FNS, "$range(0, 10, 2)", json!([0, 2, 4, 6, 8, 10])),
        lib("hash", AWS_FNS, "$hash('input data', 'SHA-256')", json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")),
        lib("parse", AWS_FNS, "$parse('{\"a\": [1, 2]}').a[1]", json!(2)),
        case("uuid", AWS_FNS, jsonata_output("$uuid()"))
            .output_where("a version 4 UUID", |v| v.as_str().is_some_and(|s| s.len() == 36 && s.as_bytes()[14] == b'4')),
        case("random", AWS_FNS, jsonata_output("$random()"))
            .output_where("a number from 0 to 1", |v| v.as_f64().is_some_and(|n| (0.0..1.0).contains(&n))),
        // String functions.
        lib("string", STRING, "$string(5)", json!("5")),
        lib("string_of_object", STRING, "$string({'a': [1, true]})", json!("{\"a\":[1,true]}")),
        lib("length", STRING, "$length('Hello World')", json!(11)),
        lib("substring", STRING, "$substring('Hello World', 3)", json!("lo World")),
        lib("substring_length", STRING, "$substring('Hello World', 3, 5)", json!("lo Wo")),
        lib("substring_negative", STRING, "$substring('Hello World', -4)", json!("orld")),
        lib("substring_before", STRING, "$substringBefore('Hello World', ' ')", json!("Hello")),
        lib("substring_after", STRING, "$substringAfter('Hello World', ' ')", json!("World")),
        lib("uppercase", STRING, "$uppercase('Hello World')", json!("HELLO WORLD")),
        lib("lowercase", STRING, "$lowercase('Hello World')", json!("hello world")),
        lib("trim", STRING, "$trim('   Hello    \n World  ')", json!("Hello World")),
        lib("pad_right", STRING, "$pad('foo', 5)", json!("foo  ")),
        lib("pad_left_with", STRING, "$pad('5', -5, '0')", json!("00005")),
        lib("contains", STRING, "$contains('abracadabra', 'bra')", json!(true)),
        lib("contains_regex", STRING, "$contains('abracadabra', /a.*a/)", json!(true)),
        lib("split", STRING, "$split('so many words', ' ')", json!(["so", "many", "words"])),
        lib("split_limit", STRING, "$split('so many words', ' ', 2)", json!(["so", "many"])),
        lib("join", STRING, "$join(['a','b','c'])", json!("abc")),
        lib("join_separator", STRING, "$join(['a','b','c'], ', ')", json!("a, b, c")),
        lib("replace", STRING, "$replace('John Smith and John Jones', 'John', 'Mr')", json!("Mr Smith and Mr Jones")),
        lib("replace_limit", STRING, "$replace('John Smith and John Jones', 'John', 'Mr', 1)", json!("Mr Smith and John Jones")),
        lib("base64encode", STRING, "$base64encode('myuser:mypass')", json!("bXl1c2VyOm15cGFzcw==")),
        lib("base64decode", STRING, "$base64decode('bXl1c2VyOm15cGFzcw==')", json!("myuser:mypass")),
        lib("encode_url_component", STRING, "$encodeUrlComponent('?x=test')", json!("%3Fx%3Dtest")),
        lib("concatenation", OPERATORS, "'Hello' & ' ' & 'World'", json!("Hello World")),
        // Numbers.
        lib("number", NUMERIC, "$number('5')", json!(5)),
        lib("abs", NUMERIC, "$abs(-5)", json!(5)),
        lib("floor", NUMERIC, "$floor(5.8)", json!(5)),
        lib("ceil", NUMERIC, "$ceil(5.3)", json!(6)),
        lib("round_places", NUMERIC, "$round(123.456, 2)", json!(123.46)),
        lib("round_half_to_even", NUMERIC, "[$round(11.5), $round(12.5)]", json!([12, 12])),
        lib("power", NUMERIC, "$power(2, 8)", json!(256)),
        lib("sqrt", NUMERIC, "$sqrt(4)", json!(2)),
        lib("format_number", NUMERIC, "$formatNumber(1234.5678, '#,##0.00')", json!("1,234.57")),
        lib("format_integer_words", NUMERIC, "$formatInteger(2789, 'w')", json!("two thousand, seven hundred and eighty-nine")),
        lib("parse_integer", NUMERIC, "$parseInteger('twelve', 'w')", json!(12)),
        lib("sum", AGGREGATE, "$sum([5,1,3,7,4])", json!(20)),
        lib("max", AGGREGATE, "$max([5,1,3,7,4])", json!(7)),
        lib("min", AGGREGATE, "$min([5,1,3,7,4])", json!(1)),
        lib("average", AGGREGATE, "$average([5,1,3,7,4])", json!(4)),
        lib("arithmetic", OPERATORS, "(5 + 3) * 2 - 10 / 4 % 2", json!(15.5)),
        // Booleans.
        lib("boolean", BOOLEAN, "[$boolean(''), $boolean(0), $boolean('x'), $boolean([])]", json!([false, false, true, false])),
        lib("not", BOOLEAN, "$not(true)", json!(false)),
        gives("exists", BOOLEAN, "[$exists($states.input.a), $exists($states.input.b)]", json!({"a": 1}), json!([true, false])),
        lib("conditional", OPERATORS, "1 > 2 ? 'yes' : 'no'", json!("no")),
        lib("in", OPERATORS, "'b' in ['a', 'b']", json!(true)),
        // Arrays.
        lib("count", ARRAY, "$count([1,2,3,1])", json!(4)),
        lib("append", ARRAY, "$append([1,2,3], [4,5,6])", json!([1, 2, 3, 4, 5, 6])),
        lib("reverse", ARRAY, "$reverse(['Hello', 'World'])", json!(["World", "Hello"])),
        lib("sort", ARRAY, "$sort([3, 1, 2])", json!([1, 2, 3])),
        lib("distinct", ARRAY, "$distinct([1,2,3,3,4,3,5])", json!([1, 2, 3, 4, 5])),
        lib("zip", ARRAY, "$zip([1,2,3], [4,5,6])", json!([[1, 4], [2, 5], [3, 6]])),
        lib("range_operator", OPERATORS, "[1..5]", json!([1, 2, 3, 4, 5])),
        gives("filter_predicate", "jsonata, Path operators (filter)", "$states.input.items[price > 10].name",
            json!({"items": [{"name": "a", "price": 5}, {"name": "b", "price": 20}, {"name": "c", "price": 30}]}), json!(["b", "c"])),
        gives("path_mapping", "jsonata, Path operators (map)", "$states.input.items.name",
            json!({"items": [{"name": "a"}, {"name": "b"}]}), json!(["a", "b"])),
        gives("last_item", "jsonata, Path operators (array index -1)", "$states.input.xs[-1]", json!({"xs": [1, 2, 3]}), json!(3)),
        gives("order_by", "jsonata, Path operators (order-by ^)", "$states.input.xs^(>v).v",
            json!({"xs": [{"v": 1}, {"v": 3}, {"v": 2}]}), json!([3, 2, 1])),
        // Objects.
        lib("keys", OBJECT, "$keys({'h': 1, 'g': 2, 'f': 3, 'e': 4, 'd': 5, 'c': 6, 'b': 7, 'a': 8})",
            json!(["h", "g", "f", "e", "d", "c", "b", "a"])),
        lib("lookup", OBJECT, "$lookup({'a': 1, 'b': 2}, 'b')", json!(2)),
        lib("merge", OBJECT, "$merge([{'a': 1}, {'b': 2}])", json!({"a": 1, "b": 2})),
        lib("type", OBJECT, "[$type(null), $type(1), $type('s'), $type([]), $type({})]", json!(["null", "number", "string", "array", "object"])),
        lib("each", OBJECT, "$each({'h': 1, 'g': 2, 'f': 3, 'e': 4, 'd': 5, 'c': 6, 'b': 7, 'a': 8}, function($v, $k) { $k & $v })",
            json!(["h1", "g2", "f3", "e4", "d5", "c6", "b7", "a8"])),
        lib("spread", OBJECT, "$spread({'a': 1, 'b': 2})", json!([{"a": 1}, {"b": 2}])),
        lib("sift", OBJECT, "$sift({'a': 1, 'b': 2}, function($v) { $v > 1 })", json!({"b": 2})),
        // Higher-order functions and the language.
        lib("map", HIGHER, "$map([1,2,3], function($v) { $v * 2 })", json!([2, 4, 6])),
        lib("filter", HIGHER, "$filter([1,2,3,4], function($v) { $v % 2 = 0 })", json!([2, 4])),
        lib("reduce", HIGHER, "$reduce([1,2,3,4,5], function($i, $j) { $i * $j })", json!(120)),
        lib("lambda_and_binding", "jsonata, Programming constructs (variables and functions)",
            "($double := function($x) { $x * 2 }; $double(21))", json!(42)),
        lib("transform_operator", "jsonata, Other operators (the transform operator |…|)",
            "{'a': 1, 'b': 2} ~> |$|{'c': 3}, ['b']|", json!({"a": 1, "c": 3})),
        lib("from_millis", DATE, "$fromMillis(1510067557121)", json!("2017-11-07T15:12:37.121Z")),
        lib("to_millis", DATE, "$toMillis('2017-11-07T15:07:54.972Z')", json!(1510067274972_i64)),
        lib("regex_match", "jsonata, Regular expressions ($match)", "$match('ababbabbcc', /a(b+)/).match",
            json!(["ab", "abb", "abb"])),
    ]
}
