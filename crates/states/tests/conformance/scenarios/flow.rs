//! Choice, Wait, Succeed and Fail states.

use super::*;

mod choice {
    use super::*;

    fn machine(default: bool) -> Value {
        // spec, "Choice State": the ChoiceStateX example.
        let mut choice = json!({
            "Type": "Choice",
            "Choices": [
                {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                {"Variable": "$.value", "NumericEquals": 0, "Next": "ValueIsZero"},
                {"And": [
                    {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                    {"Variable": "$.value", "NumericLessThan": 30}
                ], "Next": "ValueInTwenties"}
            ]
        });
        if default {
            choice["Default"] = json!("DefaultState");
        }
        let leaf = |name: &str| json!({"Type": "Pass", "Result": name, "End": true});
        let mut m = json!({
            "StartAt": "ChoiceStateX",
            "States": {
                "ChoiceStateX": choice,
                "Public": leaf("Public"),
                "ValueIsZero": leaf("ValueIsZero"),
                "ValueInTwenties": leaf("ValueInTwenties"),
                "DefaultState": leaf("DefaultState")
            }
        });
        if !default {
            // An unreachable state is a static error.
            m["States"].as_object_mut().unwrap().remove("DefaultState");
        }
        m
    }

    #[tokio::test]
    async fn the_spec_example_routes() {
        let r = rig(handlers()).await;
        let def = machine(true);
        for (input, to) in [
            (json!({"type": "Public"}), "Public"),
            (json!({"type": "Private", "value": 0}), "ValueIsZero"),
            (json!({"type": "Private", "value": 25}), "ValueInTwenties"),
            (json!({"type": "Private", "value": 35}), "DefaultState"),
        ] {
            assert_eq!(r.output(&def, input.clone()).await, json!(to), "{input}");
        }
    }

    /// spec, "Choice State": no match and no Default is States.NoChoiceMatched.
    #[tokio::test]
    async fn no_match_without_default_fails() {
        let r = rig(handlers()).await;
        let (error, _) = r
            .failure(&machine(false), json!({"type": "Private", "value": 35}))
            .await;
        assert_eq!(error, "States.NoChoiceMatched");
    }

    /// spec, "Choice Rules": Path operands, type tests, StringMatches and timestamps.
    #[tokio::test]
    async fn operators() {
        let r = rig(handlers()).await;
        let input = json!({
            "a": 5, "b": 7, "s": "log-2026.txt", "t": "2026-03-14T01:59:00Z",
            "u": "2026-03-14T02:00:00+00:00", "flag": false, "n": null
        });
        let cases = [
            (
                json!({"Variable": "$.a", "NumericLessThanPath": "$.b"}),
                true,
            ),
            (
                json!({"Variable": "$.s", "StringMatches": "log-*.txt"}),
                true,
            ),
            (
                json!({"Variable": "$.s", "StringMatches": "log-\\*.txt"}),
                false,
            ),
            (
                json!({"Variable": "$.t", "TimestampLessThanPath": "$.u"}),
                true,
            ),
            (
                json!({"Variable": "$.t", "TimestampEquals": "2026-03-14T01:59:00Z"}),
                true,
            ),
            (json!({"Variable": "$.t", "IsTimestamp": true}), true),
            (json!({"Variable": "$.s", "IsTimestamp": true}), false),
            (json!({"Variable": "$.n", "IsNull": true}), true),
            (json!({"Variable": "$.missing", "IsPresent": false}), true),
            (json!({"Variable": "$.a", "IsNumeric": true}), true),
            (json!({"Variable": "$.a", "IsString": true}), false),
            (json!({"Variable": "$.flag", "IsBoolean": true}), true),
            (json!({"Variable": "$.flag", "BooleanEquals": false}), true),
            (json!({"Variable": "$.s", "StringGreaterThan": "log"}), true),
            (json!({"Variable": "$.a", "StringEquals": "5"}), false),
            (
                json!({"Or": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.b", "NumericEquals": 7}]}),
                true,
            ),
        ];
        for (rule, expect) in cases {
            let mut branch = rule.clone();
            branch["Next"] = json!("Yes");
            let def = json!({
                "StartAt": "C",
                "States": {
                    "C": {"Type": "Choice", "Choices": [branch], "Default": "No"},
                    "Yes": {"Type": "Pass", "Result": true, "End": true},
                    "No": {"Type": "Pass", "Result": false, "End": true}
                }
            });
            assert_eq!(r.output(&def, input.clone()).await, json!(expect), "{rule}");
        }
    }
}

mod wait {
    use super::*;

    /// spec, "Wait State": Seconds, Timestamp, SecondsPath and TimestampPath; the clock is
    /// injected, so nothing sleeps for real.
    #[tokio::test]
    async fn every_form_waits_on_the_clock() {
        let r = rig(handlers()).await;
        let def = json!({
            "StartAt": "Ten",
            "States": {
                "Ten": {"Type": "Wait", "Seconds": 10, "Next": "Until"},
                "Until": {"Type": "Wait", "Timestamp": "2026-03-14T02:01:00Z", "Next": "ByPath"},
                "ByPath": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "UntilPath"},
                "UntilPath": {"Type": "Wait", "TimestampPath": "$.expirydate", "End": true}
            }
        });
        let input = json!({"delay": 5, "expirydate": "2026-03-14T02:03:00Z"});
        assert_eq!(r.output(&def, input.clone()).await, input);
        let sleeps = r.clock.sleeps();
        // 10 s; then until 02:01:00 from 01:59:10 = 110 s; 5 s; until 02:03:00 = 115 s.
        assert_eq!(
            sleeps,
            [10, 110, 5, 115].map(Duration::from_secs).to_vec(),
            "{sleeps:?}"
        );
    }

    /// spec, "Wait State": a SecondsPath that is not a non-negative integer fails.
    #[tokio::test]
    async fn bad_seconds_path_fails() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Wait", "SecondsPath": "$.d", "End": true}));
        let (error, _) = r.failure(&def, json!({"d": "soon"})).await;
        assert_eq!(error, "States.Runtime");
    }
}

mod succeed_and_fail {
    use super::*;

    /// spec, "Succeed State": ends the execution with its (filtered) input.
    #[tokio::test]
    async fn succeed_outputs_its_input() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Succeed", "OutputPath": "$.keep"}));
        assert_eq!(
            r.output(&def, json!({"keep": 1, "drop": 2})).await,
            json!(1)
        );
    }

    /// spec, "Fail State": Error and Cause name the failure.
    #[tokio::test]
    async fn fail_names_error_and_cause() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Fail", "Error": "ErrorA", "Cause": "Kaiju attack"}));
        assert_eq!(
            r.failure(&def, json!({})).await,
            ("ErrorA".into(), "Kaiju attack".into())
        );
    }

    /// guide, "Fail workflow state": ErrorPath and CausePath (a path or an intrinsic).
    #[tokio::test]
    async fn error_path_and_cause_path() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Fail",
            "ErrorPath": "$.Error",
            "CausePath": "States.Format('This is a custom error message for {}, caused by {}.', $.Error, $.Cause)"
        }));
        let (error, cause) = r
            .failure(&def, json!({"Error": "CustomError", "Cause": "a reason"}))
            .await;
        assert_eq!(error, "CustomError");
        assert_eq!(
            cause,
            "This is a custom error message for CustomError, caused by a reason."
        );
    }
}
