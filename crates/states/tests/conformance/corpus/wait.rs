//! Wait states: Seconds, Timestamp, their paths, and what they refuse. The clock is the
//! engine's injected one, so nothing sleeps for real.

use super::{case, single, Case};
use serde_json::json;

const WAIT: &[&str] = &[
    "ExecutionStarted",
    "WaitStateEntered",
    "WaitStateExited",
    "ExecutionSucceeded",
];

pub fn cases() -> Vec<Case> {
    vec![
        case("seconds", "spec, Wait State: Seconds waits, then passes the input on",
            single(json!({"Type": "Wait", "Seconds": 10, "End": true})))
            .input(json!({"a": 1}))
            .output(json!({"a": 1}))
            .history(WAIT),
        case("timestamp_in_the_past", "spec, Wait State: a Timestamp already past continues at once",
            single(json!({"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "End": true})))
            .input(json!({"a": 1}))
            .output(json!({"a": 1})),
        case("seconds_path", "spec, Wait State: SecondsPath reads the seconds from the input",
            single(json!({"Type": "Wait", "SecondsPath": "$.s", "End": true})))
            .input(json!({"s": 5}))
            .output(json!({"s": 5})),
        case("timestamp_path", "spec, Wait State: TimestampPath reads the timestamp from the input",
            single(json!({"Type": "Wait", "TimestampPath": "$.t", "End": true})))
            .input(json!({"t": "2016-03-14T01:59:00Z"}))
            .output(json!({"t": "2016-03-14T01:59:00Z"})),
        case("seconds_path_not_a_number", "spec, Wait State: SecondsPath must select a non-negative integer",
            single(json!({"Type": "Wait", "SecondsPath": "$.s", "End": true})))
            .input(json!({"s": "ten"}))
            .fails("States.Runtime"),
        case("seconds_path_negative", "spec, Wait State: SecondsPath must select a non-negative integer",
            single(json!({"Type": "Wait", "SecondsPath": "$.s", "End": true})))
            .input(json!({"s": -1}))
            .fails("States.Runtime"),
        case("timestamp_path_not_a_timestamp", "guide, Wait workflow state: TimestampPath must select an RFC 3339 timestamp",
            single(json!({"Type": "Wait", "TimestampPath": "$.t", "End": true})))
            .input(json!({"t": "next tuesday"}))
            .fails("States.Runtime"),
        case("timestamp_lowercase_t_refused", "guide, Wait workflow state: an uppercase T must separate date and time",
            single(json!({"Type": "Wait", "Timestamp": "2016-03-14t01:59:00Z", "End": true})))
            .refused("Timestamp"),
        case("timestamp_path_lowercase_z_fails", "guide, Wait workflow state: an uppercase Z must denote UTC",
            single(json!({"Type": "Wait", "TimestampPath": "$.t", "End": true})))
            .input(json!({"t": "2016-03-14T01:59:00z"}))
            .fails("States.Runtime"),
        case("two_wait_fields_refused", "spec, Wait State: exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
            single(json!({"Type": "Wait", "Seconds": 1, "Timestamp": "2016-03-14T01:59:00Z", "End": true})))
            .refused("Wait"),
        case("wait_output_path", "spec, Filters: a Wait state applies InputPath and OutputPath",
            single(json!({"Type": "Wait", "Seconds": 1, "InputPath": "$.x", "OutputPath": "$.y", "End": true})))
            .input(json!({"x": {"y": 2}}))
            .output(json!(2)),
        case("seconds_path_negative_recorded", "recorded, test_wait[test_base_wait_seconds_path[-1]]",
            waiting("WaitState", json!({"SecondsPath": "$.input.waitSeconds"})))
            .input(json!({"input": {"waitSeconds": -1}}))
            .fails_with("States.Runtime", "An error occurred while executing the state 'WaitState' (entered at the event id #2). The SecondsPath parameter references a negative value: $.input.waitSeconds == -1"),
        case("seconds_path_fraction_recorded", "recorded, test_wait[test_base_wait_seconds_path[1.5]]",
            waiting("WaitState", json!({"SecondsPath": "$.input.waitSeconds"})))
            .input(json!({"input": {"waitSeconds": 1.5}}))
            .fails_with("States.Runtime", "An error occurred while executing the state 'WaitState' (entered at the event id #2). The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == 1.5"),
        case("seconds_path_negative_fraction_recorded", "recorded, test_wait[test_base_wait_seconds_path[-1.5]]",
            waiting("WaitState", json!({"SecondsPath": "$.input.waitSeconds"})))
            .input(json!({"input": {"waitSeconds": -1.5}}))
            .fails_with("States.Runtime", "The SecondsPath parameter cannot be parsed as a long value: $.input.waitSeconds == -1.5"),
        case("seconds_path_zero_recorded", "recorded, test_wait[test_base_wait_seconds_path[0]]",
            waiting("WaitState", json!({"SecondsPath": "$.input.waitSeconds"})))
            .input(json!({"input": {"waitSeconds": 0}}))
            .output(json!({"input": {"waitSeconds": 0}})),
        case("timestamp_path_fraction_recorded", "recorded, test_wait[test_wait_timestamppath[.00Z]]: fractional seconds are accepted",
            waiting("State_1", json!({"TimestampPath": "$.start_at"})))
            .input(json!({"start_at": "2016-03-14T01:59:00.00Z"}))
            .output(json!({"start_at": "2016-03-14T01:59:00.00Z"})),
        case("timestamp_path_without_zone_recorded", "recorded, test_wait[test_wait_timestamppath[]]: a timestamp without Z or offset fails",
            waiting("WaitUntil", json!({"TimestampPath": "$.TimestampValue"})))
            .input(json!({"TimestampValue": "2016-12-05T21:29:29"}))
            .fails_with("States.Runtime", "An error occurred while executing the state 'WaitUntil' (entered at the event id #2). The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.TimestampValue == 2016-12-05T21:29:29"),
        case("timestamp_path_without_t_recorded", "recorded, test_base_scenarios[test_wait_timestamp_path[NO_T]]",
            waiting("WaitUntil", json!({"TimestampPath": "$.TimestampValue"})))
            .input(json!({"TimestampValue": "2016-12-05 21:29:29Z"}))
            .fails_with("States.Runtime", "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: $.TimestampValue == 2016-12-05 21:29:29Z"),
        case("timestamp_path_invalid_date_recorded", "recorded, test_base_scenarios[test_wait_timestamp_path[INVALID_DATE]]",
            waiting("WaitUntil", json!({"TimestampPath": "$.TimestampValue"})))
            .input(json!({"TimestampValue": "2016-13-05T21:29:29Z"}))
            .fails_with("States.Runtime", "does not reference a valid ISO-8601 extended offset date-time format string: $.TimestampValue == 2016-13-05T21:29:29Z"),
        case("timestamp_too_far_in_the_future", "recorded, test_wait[test_timestamp_too_far_in_future_boundary[24856]]: more than 24,855 days ahead fails",
            waiting("State_1", json!({"TimestampPath": "$.start_at"})))
            .input(json!({"start_at": "2100-01-01T00:00:00.000Z"}))
            .fails_with("States.Runtime", "An error occurred while executing the state 'State_1' (entered at the event id #2). Wait state delay is too long."),
    ]
}

/// A one-state machine: a Wait state named `name` with `fields`.
fn waiting(name: &str, fields: serde_json::Value) -> serde_json::Value {
    let mut state = json!({"Type": "Wait", "End": true});
    if let (Some(s), Some(f)) = (state.as_object_mut(), fields.as_object()) {
        s.extend(f.clone());
    }
    json!({"StartAt": name, "States": {name: state}})
}
