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
    ]
}
