//! Unit tests of intrinsic functions: parsing, static checks and evaluation.

use super::*;
use serde_json::json;

fn ctx() -> Bindings {
    Bindings::from(
        json!({"Execution": {"Id": "arn:aws:states:eu-west-1:1:execution:m:e1", "Name": "e1"}}),
    )
}

fn eval(text: &str, input: Value) -> Result<Value, StatesError> {
    Intrinsic::parse(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .eval(&input, &ctx())
}

fn ok(text: &str, input: Value) -> Value {
    eval(text, input).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn failure(text: &str, input: Value) -> String {
    let e = eval(text, input).expect_err(text);
    assert_eq!(e.error, "States.IntrinsicFailure", "{text}");
    e.cause
}

fn parse_err(text: &str) -> String {
    Intrinsic::parse(text).expect_err(text)
}

// --- The developer guide's examples ------------------------------------------------------

#[test]
fn guide_format() {
    // developer guide, Intrinsic functions, States.Format
    let input = json!({"name": "Arnav", "template": "Hello, my name is {}."});
    assert_eq!(
        ok(
            "States.Format('Hello, my name is {}.', $.name)",
            input.clone()
        ),
        json!("Hello, my name is Arnav.")
    );
    assert_eq!(
        ok("States.Format($.template, $.name)", input),
        json!("Hello, my name is Arnav.")
    );
    // ASL specification, Appendix B, States.Format
    assert_eq!(
        ok(
            "States.Format('Your name is {}, we are in the year {}', $.name, 2020)",
            json!({"name": "Foo", "zebra": "stripe"})
        ),
        json!("Your name is Foo, we are in the year 2020")
    );
}

#[test]
fn guide_string_to_json_and_back() {
    // developer guide, Intrinsic functions, States.StringToJson
    assert_eq!(
        ok(
            "States.StringToJson($.escapedJsonString)",
            json!({"escapedJsonString": "{\"foo\": \"bar\"}"})
        ),
        json!({"foo": "bar"})
    );
    // developer guide, Intrinsic functions, States.JsonToString
    assert_eq!(
        ok(
            "States.JsonToString($.unescapedJson)",
            json!({"unescapedJson": {"foo": "bar"}})
        ),
        json!("{\"foo\":\"bar\"}")
    );
    // ASL specification, Appendix B, States.JsonToString (member order kept)
    assert_eq!(
        ok(
            "States.JsonToString($.someJson)",
            json!({"someJson": {"name": "Foo", "year": 2020}})
        ),
        json!("{\"name\":\"Foo\",\"year\":2020}")
    );
}

#[test]
fn guide_arrays() {
    let nine = json!({"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5, "index": 5});
    // developer guide, Intrinsic functions, States.Array
    assert_eq!(
        ok("States.Array($.Id)", json!({"Id": 123456})),
        json!([123456])
    );
    // ASL specification, Appendix B, States.Array
    assert_eq!(
        ok(
            "States.Array('Foo', 2020, $.someJson, null)",
            json!({"someJson": {"random": "abcdefg"}})
        ),
        json!(["Foo", 2020, {"random": "abcdefg"}, null])
    );
    // developer guide, Intrinsic functions, States.ArrayPartition
    assert_eq!(
        ok("States.ArrayPartition($.inputArray,4)", nine.clone()),
        json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
    );
    // developer guide, Intrinsic functions, States.ArrayContains
    assert_eq!(
        ok(
            "States.ArrayContains($.inputArray, $.lookingFor)",
            nine.clone()
        ),
        json!(true)
    );
    // developer guide, Intrinsic functions, States.ArrayRange
    assert_eq!(
        ok("States.ArrayRange(1, 9, 2)", json!({})),
        json!([1, 3, 5, 7, 9])
    );
    // developer guide, Intrinsic functions, States.ArrayGetItem
    assert_eq!(
        ok("States.ArrayGetItem($.inputArray, $.index)", nine.clone()),
        json!(6)
    );
    // developer guide, Intrinsic functions, States.ArrayLength
    assert_eq!(ok("States.ArrayLength($.inputArray)", nine), json!(9));
    // developer guide, Intrinsic functions, States.ArrayUnique
    assert_eq!(
        ok(
            "States.ArrayUnique($.inputArray)",
            json!({"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]})
        ),
        json!([1, 2, 3, 4])
    );
}

#[test]
fn guide_encoding_and_hash() {
    // developer guide, Intrinsic functions, States.Base64Encode
    assert_eq!(
        ok(
            "States.Base64Encode($.input)",
            json!({"input": "Data to encode"})
        ),
        json!("RGF0YSB0byBlbmNvZGU=")
    );
    // developer guide, Intrinsic functions, States.Base64Decode (the guide prints
    // "Decoded data" as the result, but its input decodes to "Data to encode")
    assert_eq!(
        ok(
            "States.Base64Decode($.base64)",
            json!({"base64": "RGF0YSB0byBlbmNvZGU="})
        ),
        json!("Data to encode")
    );
    // developer guide, Intrinsic functions, States.Hash. The guide prints
    // "aaff4a450a104cd177d28d18d7485e8cae074b7", one digit short of a SHA-1 (a "4" is
    // missing after "d7"); this is the full digest.
    assert_eq!(
        ok(
            "States.Hash($.Data, $.Algorithm)",
            json!({"Data": "input data", "Algorithm": "SHA-1"}),
        ),
        json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
    );
}

#[test]
fn guide_json_merge() {
    // developer guide, Intrinsic functions, States.JsonMerge
    let input = json!({
        "json1": {"a": {"a1": 1, "a2": 2}, "b": 2},
        "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}
    });
    let out = ok("States.JsonMerge($.json1, $.json2, false)", input);
    assert_eq!(out, json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3}));
    let keys: Vec<&String> = out.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["a", "b", "c"]);
}

#[test]
fn guide_math() {
    // developer guide, Intrinsic functions, States.MathRandom
    for _ in 0..200 {
        let n = ok(
            "States.MathRandom($.start, $.end)",
            json!({"start": 1, "end": 999}),
        )
        .as_i64()
        .unwrap();
        assert!((1..999).contains(&n), "{n}");
    }
    // developer guide, Intrinsic functions, States.MathAdd
    assert_eq!(
        ok(
            "States.MathAdd($.value1, $.step)",
            json!({"value1": 111, "step": -1})
        ),
        json!(110)
    );
}

#[test]
fn guide_string_split_and_uuid() {
    // developer guide, Intrinsic functions, States.StringSplit (both examples)
    assert_eq!(
        ok(
            "States.StringSplit($.inputString, $.splitter)",
            json!({"inputString": "1,2,3,4,5", "splitter": ","})
        ),
        json!(["1", "2", "3", "4", "5"])
    );
    assert_eq!(
        ok(
            "States.StringSplit($.inputString, $.splitter)",
            json!({"inputString": "This.is+a,test=string", "splitter": ".+,="})
        ),
        json!(["This", "is", "a", "test", "string"])
    );
    // developer guide, Intrinsic functions, States.UUID
    let a = ok("States.UUID()", json!({}));
    let b = ok("States.UUID()", json!({}));
    assert_ne!(a, b);
    let u = uuid::Uuid::parse_str(a.as_str().unwrap()).unwrap();
    assert_eq!(u.get_version_num(), 4);
    assert_eq!(a.as_str().unwrap(), a.as_str().unwrap().to_lowercase());
}

#[test]
fn guide_nine_nested_calls() {
    // developer guide, Intrinsic functions: the `myArn` example with nine nested calls
    let text = "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(\
        States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), \
        States.ArrayGetItem(States.StringSplit(States.ArrayGetItem(States.StringSplit(\
        $.ImageRecipe.Arn, '/'), 2), '.'), 1))";
    let input = json!({"ImageRecipe": {
        "Arn": "arn:aws:imagebuilder:us-east-1:123:image-recipe/my.recipe.name/1.0.0"}});
    // The example has three `{}` but two values, so it parses and then fails.
    let cause = failure(text, input.clone());
    assert!(
        cause.contains("3 `{}` placeholders but 2 values"),
        "{cause}"
    );
    let fixed = text.replacen("'{}.{}.{}'", "'{}.{}'", 1);
    assert_eq!(ok(&fixed, input), json!("1.0"));
}

// --- Further behaviour --------------------------------------------------------------------

/// Objects render as the service renders Java maps, `{k=[1]}` (recorded,
/// test_generic[test_format_2]).
// See: #22
#[test]
fn format_values_and_escapes() {
    let input = json!({"n": 2.5, "b": true, "z": null, "o": {"k": [1]}, "s": "x"});
    assert_eq!(
        ok(
            "States.Format('{}|{}|{}|{}|{}', $.n, $.b, $.z, $.o, $.s)",
            input
        ),
        json!("2.5|true|null|{k=[1]}|x")
    );
    // Escaped braces are text, not placeholders; \' and \\ are a quote and a backslash.
    assert_eq!(
        ok(r"States.Format('escaped \{\} and {}', 'x')", json!({})),
        json!("escaped {} and x")
    );
    assert_eq!(
        ok(r"States.Format('it\'s a \\ and {}', 1)", json!({})),
        json!(r"it's a \ and 1")
    );
    // An inserted string is not itself a template.
    assert_eq!(ok("States.Format('{}', '{}')", json!({})), json!("{}"));
    assert_eq!(
        ok("States.Format('no holes')", json!({})),
        json!("no holes")
    );
    // A lone brace is text.
    assert_eq!(ok("States.Format('{ {}', 1)", json!({})), json!("{ 1"));
    // Context-object paths and whitespace between arguments.
    assert_eq!(
        ok(
            "States.Format( '{}/{}' ,  $$.Execution.Name , $ )",
            json!("in")
        ),
        json!("e1/in")
    );
}

#[test]
fn format_failures() {
    assert!(failure("States.Format($.t, 1, 2)", json!({"t": "only {}"}))
        .contains("1 `{}` placeholder but 2 values"));
    assert!(failure("States.Format($.t)", json!({"t": 5}))
        .starts_with("States.Format: the template (first argument) must be a string"));
    assert!(
        failure("States.Format('{} {}', 1)", json!({})).contains("2 `{}` placeholders but 1 value")
    );
    assert!(parse_err("States.Format(5)").contains("must be a string"));
}

#[test]
fn nested_calls() {
    let input = json!({"a": [1, 2, 3]});
    assert_eq!(
        ok(
            "States.Format('{}', States.ArrayLength($.a))",
            input.clone()
        ),
        json!("3")
    );
    assert_eq!(
        ok(
            "States.ArrayGetItem(States.ArrayPartition(States.ArrayRange(0, 9, 1), 4), 2)",
            input.clone()
        ),
        json!([8, 9])
    );
    assert_eq!(
        ok("States.StringToJson(States.JsonToString($))", input.clone()),
        input
    );
    assert_eq!(
        ok(
            "States.Base64Decode(States.Base64Encode('héllo wörld'))",
            json!({})
        ),
        json!("héllo wörld")
    );
}

#[test]
fn literals() {
    assert_eq!(
        ok(
            "States.Array(1, -2, 3.5, -0.25, 1e3, true, false, null, 'x', '')",
            json!({})
        ),
        json!([1, -2, 3.5, -0.25, 1000.0, true, false, null, "x", ""])
    );
    assert_eq!(ok("States.Array()", json!({})), json!([]));
    assert_eq!(ok("  States.Array( )  ", json!({})), json!([]));
    // Unescaped braces and commas inside strings are plain text outside Format templates.
    assert_eq!(
        ok("States.StringToJson('{\"a\": [1, 2]}')", json!({})),
        json!({"a": [1, 2]})
    );
}

#[test]
fn path_arguments() {
    let input = json!({"a b": {"c": 1}, "l": [{"v": 1}, {"v": 2}], "x": {"y": 7}});
    assert_eq!(ok("States.Array($['a b'].c)", input.clone()), json!([1]));
    // The guide's spelling `$.abc.['def ghi']`.
    assert_eq!(ok("States.Array($.['a b'].c)", input.clone()), json!([1]));
    assert_eq!(ok("States.Array($.l[*].v)", input.clone()), json!([[1, 2]]));
    assert_eq!(
        ok("States.ArrayLength($.l[?(@.v > 1)])", input.clone()),
        json!(1)
    );
    assert_eq!(
        ok("States.Array($.l[1].v,$.x.y)", input.clone()),
        json!([2, 7])
    );
    assert_eq!(
        ok("States.Array($$.Execution.Name)", input.clone()),
        json!(["e1"])
    );
    // A path that matches nothing fails and says which.
    let cause = failure("States.ArrayLength($.missing)", input.clone());
    assert_eq!(
        cause,
        "States.ArrayLength: the path '$.missing' matched nothing in the input"
    );
    let cause = failure("States.Array($$.Nope)", input);
    assert!(
        cause.contains("'$$.Nope' matched nothing in the context object"),
        "{cause}"
    );
}

#[test]
fn array_functions_edge_cases() {
    assert_eq!(
        ok("States.ArrayPartition(States.Array(), 3)", json!({})),
        json!([])
    );
    assert_eq!(
        ok(
            "States.ArrayPartition(States.Array(1, 2, 3), 2.4)",
            json!({})
        ),
        json!([[1, 2], [3]])
    );
    assert!(
        failure("States.ArrayPartition(States.Array(1), 0)", json!({}))
            .contains("chunk size must be a positive integer")
    );
    assert!(
        failure("States.ArrayPartition(States.Array(1), 0.4)", json!({}))
            .contains("positive integer, got 0")
    );
    assert!(failure("States.ArrayPartition('x', 1)", json!({}))
        .starts_with("States.ArrayPartition: the first argument must be an array"));

    assert_eq!(
        ok(
            "States.ArrayContains($.a, $.b)",
            json!({"a": [{"x": 1, "y": [2]}], "b": {"y": [2.0], "x": 1}})
        ),
        json!(true)
    );
    assert_eq!(
        ok("States.ArrayContains(States.Array(1, 2), 3)", json!({})),
        json!(false)
    );
    assert_eq!(
        ok("States.ArrayContains(States.Array(null), null)", json!({})),
        json!(true)
    );

    assert_eq!(
        ok("States.ArrayRange(5, 1, -2)", json!({})),
        json!([5, 3, 1])
    );
    assert_eq!(ok("States.ArrayRange(1, 1, 1)", json!({})), json!([1]));
    assert_eq!(ok("States.ArrayRange(5, 1, 1)", json!({})), json!([]));
    assert_eq!(
        ok("States.ArrayRange(0.5, 2.4, 1)", json!({})),
        json!([1, 2])
    );
    assert_eq!(
        ok("States.ArrayRange(1, 1000, 1)", json!({}))
            .as_array()
            .unwrap()
            .len(),
        1000
    );
    assert!(
        failure("States.ArrayRange(0, 1000, 1)", json!({})).contains("1001 items; at most 1000")
    );
    assert!(failure("States.ArrayRange(1, 5, 0)", json!({})).contains("must not be zero"));
    assert!(failure("States.ArrayRange(1, 5, 0.2)", json!({})).contains("must not be zero"));
    assert!(failure("States.ArrayRange('1', 5, 1)", json!({})).contains("must be an integer"));

    let nine = json!({"a": [1, 2, 3]});
    assert_eq!(ok("States.ArrayGetItem($.a, 0)", nine.clone()), json!(1));
    assert_eq!(ok("States.ArrayGetItem($.a, 2.0)", nine.clone()), json!(3));
    assert_eq!(
        failure("States.ArrayGetItem($.a, 3)", nine.clone()),
        "States.ArrayGetItem: index 3 is out of range for an array of 3 items"
    );
    assert!(failure("States.ArrayGetItem($.a, -1)", nine.clone()).contains("out of range"));
    assert!(failure("States.ArrayGetItem($.a, 1.5)", nine.clone()).contains("must be an integer"));

    assert_eq!(
        failure("States.ArrayLength('abc')", json!({})),
        "States.ArrayLength: the argument must be an array, got the string \"abc\""
    );
    assert_eq!(
        ok("States.ArrayLength(States.Array())", json!({})),
        json!(0)
    );

    assert_eq!(
        ok(
            "States.ArrayUnique($.a)",
            json!({"a": [{"x": 1, "y": 2}, "1", 1, {"y": 2, "x": 1}, 1.0, "1", [1], [1.0], null, null]})
        ),
        json!([{"x": 1, "y": 2}, "1", 1, [1], null])
    );
    assert!(failure("States.ArrayUnique(1)", json!({})).contains("must be an array"));
}

#[test]
fn encoding_edge_cases() {
    assert_eq!(ok("States.Base64Encode('')", json!({})), json!(""));
    // Missing padding and MIME line breaks are tolerated.
    assert_eq!(ok("States.Base64Decode('aGk')", json!({})), json!("hi"));
    assert_eq!(
        ok(
            "States.Base64Decode($.s)",
            json!({"s": "RGF0YSB0\r\nbyBlbmNvZGU="})
        ),
        json!("Data to encode")
    );
    assert!(failure("States.Base64Decode('***')", json!({})).contains("not valid Base64"));
    assert!(failure("States.Base64Decode('/w==')", json!({})).contains("not valid UTF-8"));
    assert!(failure("States.Base64Encode(1)", json!({})).contains("must be a string"));
    let long = "x".repeat(MAX_ENCODE_CHARS + 1);
    assert!(failure("States.Base64Encode($)", json!(long.clone()))
        .contains("10001 characters; at most 10000"));
    assert!(failure("States.Base64Decode($)", json!(long.clone())).contains("at most 10000"));
    assert!(failure("States.Hash($, 'MD5')", json!(long)).contains("at most 10000"));
    let ok_len = "x".repeat(MAX_ENCODE_CHARS);
    assert!(eval("States.Base64Encode($)", json!(ok_len)).is_ok());
}

#[test]
fn hash_algorithms() {
    let cases = [
        ("MD5", "900150983cd24fb0d6963f7d28e17f72"),
        ("SHA-1", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        (
            "SHA-256",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
    ];
    for (alg, want) in cases {
        assert_eq!(
            ok(&format!("States.Hash('abc', '{alg}')"), json!({})),
            json!(want)
        );
    }
    assert_eq!(
        ok("States.Hash('abc', 'SHA-384')", json!({}))
            .as_str()
            .unwrap()
            .len(),
        96
    );
    assert_eq!(
        ok("States.Hash('abc', 'SHA-512')", json!({}))
            .as_str()
            .unwrap()
            .len(),
        128
    );
    assert!(failure("States.Hash('abc', $.a)", json!({"a": "sha-1"}))
        .contains("unknown algorithm the string \"sha-1\""));
    assert!(failure("States.Hash($.a, 'MD5')", json!({"a": 1})).contains("must be a string"));
    assert!(parse_err("States.Hash('abc', 'SHA256')").contains("use one of MD5, SHA-1"));
}

#[test]
fn json_functions_edge_cases() {
    assert!(failure("States.StringToJson('{')", json!({})).contains("not valid JSON"));
    assert!(failure("States.StringToJson(1)", json!({})).contains("must be a string"));
    assert_eq!(
        ok("States.StringToJson('[1, \"a\"]')", json!({})),
        json!([1, "a"])
    );
    assert_eq!(
        ok("States.JsonToString('a\"b')", json!({})),
        json!("\"a\\\"b\"")
    );
    assert!(failure(
        "States.JsonMerge($.a, $.b, $.deep)",
        json!({"a": {}, "b": {}, "deep": true})
    )
    .contains("only shallow merging"));
    assert!(failure(
        "States.JsonMerge($.a, $.b, false)",
        json!({"a": {}, "b": [1]})
    )
    .contains("the second argument must be an object"));
    assert!(
        failure("States.JsonMerge($.a, $.b, $.a)", json!({"a": {}, "b": {}}))
            .contains("must be the boolean false")
    );
    assert!(parse_err("States.JsonMerge($.a, $.b, true)").contains("only shallow merging"));
    assert!(parse_err("States.JsonMerge($.a, $.b, 'false')").contains("boolean false"));
}

#[test]
fn math_edge_cases() {
    // Same seed, same number.
    let a = ok("States.MathRandom(1, 1000000, 42)", json!({}));
    let b = ok("States.MathRandom(1, 1000000, 42)", json!({}));
    assert_eq!(a, b);
    assert_eq!(ok("States.MathRandom(7, 8)", json!({})), json!(7));
    assert!(failure("States.MathRandom(5, 5)", json!({})).contains("less than the end"));
    assert!(failure("States.MathRandom('a', 5)", json!({})).contains("must be an integer"));
    // Non-integers are rounded half up, as Java's Math.round does.
    assert_eq!(ok("States.MathAdd(1.5, 1)", json!({})), json!(3));
    assert_eq!(ok("States.MathAdd(-2.5, 0)", json!({})), json!(-2));
    assert_eq!(ok("States.MathAdd(1.4, 0)", json!({})), json!(1));
    assert_eq!(
        ok("States.MathAdd(2147483647, 2147483647)", json!({})),
        json!(4294967294_i64)
    );
    assert!(failure("States.MathAdd(2147483648, 0)", json!({})).contains("outside the range"));
    assert!(failure("States.MathAdd(0, -2147483649)", json!({})).contains("outside the range"));
    assert!(failure("States.MathAdd('1', 2)", json!({})).contains("must be an integer"));
    assert!(failure("States.MathAdd(null, 2)", json!({})).contains("got null"));
}

#[test]
fn string_split_edge_cases() {
    assert_eq!(ok("States.StringSplit(',,,,', ',')", json!({})), json!([]));
    assert_eq!(
        ok("States.StringSplit(', , ,', ',')", json!({})),
        json!([" ", " "])
    );
    assert_eq!(
        ok("States.StringSplit('abc', '')", json!({})),
        json!(["abc"])
    );
    assert_eq!(ok("States.StringSplit('', ',')", json!({})), json!([]));
    assert_eq!(
        ok("States.StringSplit('a--b', '--')", json!({})),
        json!(["a", "b"])
    );
    assert!(failure("States.StringSplit(1, ',')", json!({})).contains("must be a string"));
}

// --- Parser errors ------------------------------------------------------------------------

#[test]
fn parse_errors_name_the_problem() {
    assert_eq!(
        parse_err("States.Formatt('x')"),
        "unknown intrinsic function `States.Formatt` at column 1 (did you mean `States.Format`?)"
    );
    assert!(parse_err("States.arraylength($.a)").contains("did you mean `States.ArrayLength`?"));
    assert!(parse_err("States.Uuid()").contains("did you mean `States.UUID`?"));
    assert!(parse_err("States.Frobnicate(1)").starts_with("unknown intrinsic function"));
    assert!(
        parse_err("States.Array(Foo(1))").contains("unknown intrinsic function `Foo` at column 14")
    );
    assert_eq!(
        parse_err("States.ArrayLength($.a, $.b)"),
        "`States.ArrayLength` takes exactly 1 argument, got 2"
    );
    assert_eq!(
        parse_err("States.MathRandom(1)"),
        "`States.MathRandom` takes 2 to 3 arguments, got 1"
    );
    assert_eq!(
        parse_err("States.UUID(1)"),
        "`States.UUID` takes no arguments, got 1"
    );
    assert_eq!(
        parse_err("States.Format()"),
        "`States.Format` takes at least 1 argument, got 0"
    );
    assert_eq!(
        parse_err("States.JsonMerge($.a, $.b)"),
        "`States.JsonMerge` takes exactly 3 arguments, got 2"
    );
    assert_eq!(
        parse_err("States.Format('abc)"),
        "unterminated string starting at column 15: missing the closing `'`"
    );
    assert_eq!(
        parse_err("States.Array(1, 2"),
        "missing `)` to close `States.Array(` opened at column 13"
    );
    assert_eq!(
        parse_err("States.Array(1) x"),
        "unexpected text after the closing `)` at column 17: `x`"
    );
    assert_eq!(
        parse_err("States.Array"),
        "expected `(` after `States.Array` at column 13"
    );
    assert!(
        parse_err("States.Array(1,)").contains("missing argument 2 of `States.Array` at column 16")
    );
    assert!(parse_err("States.Array(1 2)").contains("expected `,` or `)` after argument 1"));
    assert!(parse_err("States.Array(\"x\")").contains("single quotes"));
    assert!(parse_err(r"States.Format('a\nb')").contains("invalid escape `\\n` at column 17"));
    assert!(parse_err("States.Array($.a[)").starts_with("bad path argument `$.a[)` at column 14"));
    assert!(parse_err("States.Array($.a[')").contains("is never closed"));
    assert!(parse_err("States.Array($.a..)").starts_with("bad path argument `$.a..`"));
    assert!(parse_err("States.Array(1.)").contains("malformed number `1.`"));
    assert_eq!(
        parse_err("States.Array(-)"),
        "malformed number `-` at column 14"
    );
    assert!(parse_err("States.Array(@)").contains("starts with `@`"));
    assert!(parse_err("").contains("expected an intrinsic function"));
}

#[test]
fn at_most_ten_calls_per_field() {
    let nest = |n: usize| {
        let mut s = "1".to_string();
        for _ in 0..n {
            s = format!("States.Array({s})");
        }
        s
    };
    assert!(Intrinsic::parse(&nest(10)).is_ok());
    assert!(parse_err(&nest(11)).starts_with("too many intrinsic functions: at most 10"));
    // A pathological depth is refused without exhausting the stack.
    assert!(parse_err(&nest(5_000)).starts_with("too many intrinsic functions"));
}

#[test]
fn is_intrinsic_and_display() {
    assert!(is_intrinsic("States.Array()"));
    assert!(is_intrinsic("  States.Array()"));
    assert!(!is_intrinsic("$.States"));
    let i = Intrinsic::parse("States.Array( 1 )").unwrap();
    assert_eq!(i.to_string(), "States.Array( 1 )");
}
