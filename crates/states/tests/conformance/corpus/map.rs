//! Map states (inline): ItemsPath, ItemSelector, the legacy Parameters and Iterator, results,
//! failures and the history's shape.

use super::{case, Case};
use serde_json::{json, Value};

fn map(extra: Value, processor: Value) -> Value {
    let mut state = json!({"Type": "Map", "ItemProcessor": processor, "End": true});
    if let (Some(s), Some(e)) = (state.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"StartAt": "M", "States": {"M": state}})
}

fn identity() -> Value {
    json!({"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}})
}

pub fn cases() -> Vec<Case> {
    let shipping = json!({"ship-date": "2016-03-14T01:59:00Z", "detail": {"delivery-partner": "UQS",
        "shipped": [{"prod": "R31", "dest-code": 9511, "quantity": 1344},
                    {"prod": "S39", "dest-code": 9511, "quantity": 40}]}});
    vec![
        case("items_in_order", "spec, Map State: the output is an array of the iterations' outputs, in order",
            map(json!({}), identity()))
            .input(json!([1, 2, 3]))
            .output(json!([1, 2, 3])),
        case("items_path", "spec, Map State: ItemsPath selects the array",
            map(json!({"ItemsPath": "$.detail.shipped"}), identity()))
            .input(shipping.clone())
            .output(shipping["detail"]["shipped"].clone()),
        case("item_selector", "guide, ItemSelector (Map): the parcel and courier example",
            map(json!({"ItemsPath": "$.detail.shipped",
                "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.detail.delivery-partner"}}), identity()))
            .input(shipping.clone())
            .output(json!([
                {"parcel": {"prod": "R31", "dest-code": 9511, "quantity": 1344}, "courier": "UQS"},
                {"parcel": {"prod": "S39", "dest-code": 9511, "quantity": 40}, "courier": "UQS"}])),
        case("item_index", "guide, Context object (Map): $$.Map.Item.Index and Value",
            map(json!({"ItemSelector": {"ContextIndex.$": "$$.Map.Item.Index", "ContextValue.$": "$$.Map.Item.Value"}}), identity()))
            .input(json!(["a", "b"]))
            .output(json!([{"ContextIndex": 0, "ContextValue": "a"}, {"ContextIndex": 1, "ContextValue": "b"}])),
        case("legacy_parameters_and_iterator", "spec, Map State: Iterator and Parameters, the fields ItemProcessor and ItemSelector replace",
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Iterator": identity(),
                "Parameters": {"v.$": "$$.Map.Item.Value"}, "End": true}}}))
            .input(json!([1]))
            .output(json!([{"v": 1}])),
        case("empty_array", "spec, Map State: an empty array gives an empty array",
            map(json!({}), identity()))
            .input(json!([]))
            .output(json!([])),
        case("result_path", "spec, Map State: the Validate-All example's ResultPath places the results in the input",
            map(json!({"ItemsPath": "$.xs", "ResultPath": "$.out"}), identity()))
            .input(json!({"xs": [1, 2]}))
            .output(json!({"xs": [1, 2], "out": [1, 2]})),
        case("max_concurrency_one", "spec, Map State: MaxConcurrency 1 runs the iterations one at a time, output in order",
            map(json!({"MaxConcurrency": 1}), identity()))
            .input(json!([3, 2, 1]))
            .output(json!([3, 2, 1])),
        case("items_path_not_an_array", "guide, Map workflow state: ItemsPath must select an array; otherwise States.Runtime",
            map(json!({"ItemsPath": "$.x"}), identity()))
            .input(json!({"x": 5}))
            .fails("States.Runtime"),
        case("iteration_failure_fails_the_map", "spec, Map State: if any iteration fails, the Map state fails with its error",
            map(json!({}), json!({"StartAt": "I", "States": {"I": {"Type": "Fail", "Error": "ItemError", "Cause": "bad"}}})))
            .input(json!([1]))
            .fails_with("ItemError", "bad"),
        case("catch_on_map", "spec, Map State: a Map state's Catch handles an iteration's error",
            {
                let mut m = map(json!({"Catch": [{"ErrorEquals": ["States.ALL"], "Next": "After"}]}),
                    json!({"StartAt": "I", "States": {"I": {"Type": "Fail", "Error": "ItemError", "Cause": "bad"}}}));
                m["States"]["After"] = json!({"Type": "Pass", "End": true});
                m
            })
            .input(json!([1]))
            .output(json!({"Error": "ItemError", "Cause": "bad"})),
        case("iterations_transform", "spec, Map State: each iteration runs the processor on its item",
            map(json!({}), json!({"StartAt": "I", "States": {"I": {"Type": "Pass",
                "Parameters": {"doubled.$": "States.MathAdd($, $)"}, "End": true}}})))
            .input(json!([1, 2]))
            .output(json!([{"doubled": 2}, {"doubled": 4}])),
        case("history", "guide, GetExecutionHistory (HistoryEvent types): a Map state's events",
            map(json!({}), identity()))
            .input(json!([1]))
            .output(json!([1]))
            .history(&["ExecutionStarted", "MapStateEntered", "MapStateStarted", "MapIterationStarted",
                "PassStateEntered", "PassStateExited", "MapIterationSucceeded", "MapStateSucceeded",
                "MapStateExited", "ExecutionSucceeded"]),
        case("item_selector_and_parameters_refused", "guide, ItemSelector (Map): ItemSelector replaces Parameters; a state has one",
            map(json!({"ItemSelector": {"a": 1}, "Parameters": {"b": 1}}), identity()))
            .refused("Parameters"),
        // recorded, test_base_scenarios[test_max_concurrency_path[…]] (an inline Map).
        recorded_max_concurrency("max_concurrency_path_object", "recorded, test_base_scenarios[test_max_concurrency_path[max_concurrency_value0]]", json!({}),
            Err("The MaxConcurrencyPath field refers to value \"{}\" which is not a valid integer: $.MaxConcurrencyValue")),
        recorded_max_concurrency("max_concurrency_path_text", "recorded, test_base_scenarios[test_max_concurrency_path[NoNumber]]", json!("NoNumber"),
            Err("The MaxConcurrencyPath field refers to value \"NoNumber\" which is not a valid integer: $.MaxConcurrencyValue")),
        recorded_max_concurrency("max_concurrency_path_zero", "recorded, test_base_scenarios[test_max_concurrency_path[0]]", json!(0), Ok(json!(["HelloWorld"]))),
        recorded_max_concurrency("max_concurrency_path_one", "recorded, test_base_scenarios[test_max_concurrency_path[1]]", json!(1), Ok(json!(["HelloWorld"]))),
        // recorded, test_base_scenarios[test_map_state_tolerated_failure_count_path[…]] and
        // [test_map_state_tolerated_failure_percentage_path[…]] (a distributed Map).
        recorded_tolerance("tolerated_count_path_object", "ToleratedFailureCount", json!({}),
            Err("The ToleratedFailureCountPath field refers to value \"{}\" which is not a valid integer: $.ToleratedFailureCount")),
        recorded_tolerance("tolerated_count_path_text", "ToleratedFailureCount", json!("NoNumber"),
            Err("The ToleratedFailureCountPath field refers to value \"NoNumber\" which is not a valid integer: $.ToleratedFailureCount")),
        recorded_tolerance("tolerated_count_path_negative", "ToleratedFailureCount", json!(-1),
            Err("ToleratedFailureCount cannot be negative.")),
        recorded_tolerance("tolerated_count_path_zero", "ToleratedFailureCount", json!(0), Ok(json!([0]))),
        recorded_tolerance("tolerated_count_path_one", "ToleratedFailureCount", json!(1), Ok(json!([0]))),
        recorded_tolerance("tolerated_percentage_path_object", "ToleratedFailurePercentage", json!({}),
            Err("The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: $.ToleratedFailurePercentage")),
        recorded_tolerance("tolerated_percentage_path_text", "ToleratedFailurePercentage", json!("NoNumber"),
            Err("The ToleratedFailurePercentagePath field refers to value \"NoNumber\" which is not a valid float: $.ToleratedFailurePercentage")),
        recorded_tolerance("tolerated_percentage_path_below_zero", "ToleratedFailurePercentage", json!(-1.1),
            Err("ToleratedFailurePercentage must be between 0 and 100.")),
        recorded_tolerance("tolerated_percentage_path_minus_one", "ToleratedFailurePercentage", json!(-1),
            Err("ToleratedFailurePercentage must be between 0 and 100.")),
        recorded_tolerance("tolerated_percentage_path_over_100", "ToleratedFailurePercentage", json!(100.1),
            Err("ToleratedFailurePercentage must be between 0 and 100.")),
        recorded_tolerance("tolerated_percentage_path_fraction", "ToleratedFailurePercentage", json!(1.1), Ok(json!([0]))),
        recorded_tolerance("tolerated_percentage_path_100", "ToleratedFailurePercentage", json!(100), Ok(json!([0]))),
    ]
}

fn recorded_max_concurrency(
    name: &str,
    source: &'static str,
    value: Value,
    want: Result<Value, &'static str>,
) -> Case {
    let definition = json!({"StartAt": "MapState", "States": {
        "MapState": {"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrencyPath": "$.MaxConcurrencyValue",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "HandleItem",
                "States": {"HandleItem": {"Type": "Pass", "End": true}}},
            "Next": "Final"},
        "Final": {"Type": "Pass", "End": true}}});
    let c = case(name, source, definition)
        .input(json!({"MaxConcurrencyValue": value, "Values": ["HelloWorld"]}));
    expect(c, want)
}

/// The recorded distributed Map with `ToleratedFailureCountPath` or
/// `ToleratedFailurePercentagePath` reading `field` of the input.
fn recorded_tolerance(
    name: &str,
    field: &str,
    value: Value,
    want: Result<Value, &'static str>,
) -> Case {
    let source = if field == "ToleratedFailureCount" {
        "recorded, test_base_scenarios[test_map_state_tolerated_failure_count_path]"
    } else {
        "recorded, test_base_scenarios[test_map_state_tolerated_failure_percentage_path]"
    };
    let mut state = json!({"Type": "Map", "ItemsPath": "$.Items", "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "HandleItem", "States": {"HandleItem": {"Type": "Pass", "End": true}}},
        "End": true});
    state[format!("{field}Path")] = json!(format!("$.{field}"));
    let mut input = json!({"Items": [0]});
    input[field] = value;
    let c = case(
        name,
        source,
        json!({"StartAt": "MapState", "States": {"MapState": state}}),
    )
    .input(input);
    expect(c, want)
}

fn expect(c: Case, want: Result<Value, &'static str>) -> Case {
    match want {
        Ok(output) => c.output(output),
        Err(cause) => c.fails_with("States.Runtime", cause),
    }
}
