//! Scenarios: the conformance cases that need more than one execution or a closer look than
//! the corpus table gives (retry delays on the clock, redrive, the history of a Map). Each is
//! an example from the Amazon States Language specification (states-language.net, cited as
//! "spec, <section>"), the AWS Step Functions developer guide (cited as "guide, <page>") or a
//! recording made against AWS (cited as "recorded, <test>"), run through the engine end to
//! end with its durable store. One module per state type and per input/output field.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sluice_states::clock::ManualClock;
use sluice_states::{
    Engine, EngineError, Execution, Registry, StartRequest, StatesError, Status, TaskCall,
    TaskHandler,
};

type Fun = dyn Fn(Value, u32) -> Result<Value, StatesError> + Send + Sync;

/// A task handler from a closure of (input, attempt).
struct FnHandler(Box<Fun>);

#[async_trait::async_trait]
impl TaskHandler for FnHandler {
    async fn invoke(&self, call: TaskCall) -> Result<Value, StatesError> {
        (self.0)(call.input, call.attempt)
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    engine: Engine,
    clock: Arc<ManualClock>,
}

fn handlers() -> HashMap<&'static str, Box<Fun>> {
    HashMap::new()
}

async fn rig(tasks: HashMap<&'static str, Box<Fun>>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    registry.set_fallback(Arc::new(sluice_states::EchoHandler));
    for (name, f) in tasks {
        registry.bind(name, Arc::new(FnHandler(f)));
    }
    let clock = Arc::new(ManualClock::new("2026-03-14T01:59:00Z".parse().unwrap()));
    let engine = Engine::open(&dir.path().join("executions.db"), registry)
        .await
        .unwrap()
        .with_clock(clock.clone())
        .with_objects(Arc::new(sluice_states::items::DirObjects::new(
            dir.path().join("buckets"),
        )));
    Rig {
        _dir: dir,
        engine,
        clock,
    }
}

impl Rig {
    async fn start(&self, name: &str, def: &Value, input: Value) -> Result<Execution, EngineError> {
        self.engine
            .start(StartRequest {
                state_machine: "conformance".into(),
                definition: def.to_string(),
                name: name.into(),
                input,
            })
            .await
            .map(|o| o.execution)
    }

    async fn run(&self, def: &Value, input: Value) -> Execution {
        let n = self
            .engine
            .store()
            .counts()
            .await
            .unwrap()
            .iter()
            .map(|c| c.1)
            .sum::<u64>();
        self.start(&format!("e{n}"), def, input).await.unwrap()
    }

    async fn output(&self, def: &Value, input: Value) -> Value {
        let e = self.run(def, input).await;
        assert_eq!(e.status, Status::Succeeded, "{e:?}");
        e.output.unwrap()
    }

    async fn failure(&self, def: &Value, input: Value) -> (String, String) {
        let e = self.run(def, input).await;
        assert_eq!(e.status, Status::Failed, "{e:?}");
        (e.error.unwrap_or_default(), e.cause.unwrap_or_default())
    }

    async fn kinds(&self, name: &str) -> Vec<String> {
        self.engine
            .history(name)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
}

/// A one-state machine.
fn single(state: Value) -> Value {
    json!({"StartAt": "S", "States": {"S": state}})
}

mod pass {
    use super::*;

    /// spec, "Pass State": Result placed at ResultPath.
    #[tokio::test]
    async fn result_at_result_path() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass",
            "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
            "ResultPath": "$.coords",
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"georefOf": "Home"})).await,
            json!({"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}})
        );
    }

    /// spec, "Pass State": without Result, the input passes through.
    #[tokio::test]
    async fn no_result_passes_input() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "End": true}));
        assert_eq!(
            r.output(&def, json!({"a": [1, 2]})).await,
            json!({"a": [1, 2]})
        );
    }

    /// spec, "Pass State" / "Parameters": Parameters build the result of a Pass state.
    #[tokio::test]
    async fn parameters_are_the_result() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass",
            "Parameters": {"flagged": true, "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"}},
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}))
                .await,
            json!({"flagged": true, "parts": {"first": 0, "last3": [30, 40, 50]}})
        );
    }
}

mod input_path {
    use super::*;

    /// guide, "InputPath": selects a portion of the state input.
    #[tokio::test]
    async fn selects_part_of_the_input() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "InputPath": "$.dataset2", "End": true}));
        let input = json!({
            "comment": "Example for InputPath.",
            "dataset1": {"val1": 1, "val2": 2, "val3": 3},
            "dataset2": {"val1": "a", "val2": "b", "val3": "c"}
        });
        assert_eq!(
            r.output(&def, input).await,
            json!({"val1": "a", "val2": "b", "val3": "c"})
        );
    }

    /// spec, "Filters": InputPath null gives the state an empty object `{}`.
    #[tokio::test]
    async fn null_gives_an_empty_object() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "InputPath": null, "End": true}));
        assert_eq!(r.output(&def, json!({"a": 1})).await, json!({}));
    }

    /// spec, "Runtime Errors": a path that matches nothing is States.Runtime.
    #[tokio::test]
    async fn missing_path_is_a_runtime_error() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "InputPath": "$.nope", "End": true}));
        let (error, cause) = r.failure(&def, json!({"a": 1})).await;
        assert_eq!(error, "States.Runtime");
        assert!(cause.contains("$.nope"), "{cause}");
    }
}

mod parameters {
    use super::*;

    /// guide, "Parameters": `.$` keys take values from the input and the context object.
    #[tokio::test]
    async fn paths_context_and_intrinsics() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Task",
            "Resource": "echo",
            "Parameters": {
                "comment": "Selecting what I care about.",
                "MyDetails": {
                    "size.$": "$.product.details.size",
                    "exists.$": "$.product.availability",
                    "StaticValue": "foo"
                },
                "execution.$": "$$.Execution.Name",
                "state.$": "$$.State.Name",
                "greeting.$": "States.Format('Hello, {}', $.product.details.color)"
            },
            "End": true
        }));
        let input = json!({
            "comment": "Example for Parameters.",
            "product": {
                "details": {"color": "blue", "size": "small", "material": "cotton"},
                "availability": "in stock",
                "sku": "2317",
                "cost": "$23"
            }
        });
        let e = r.run(&def, input).await;
        assert_eq!(
            e.output.unwrap(),
            json!({
                "comment": "Selecting what I care about.",
                "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"},
                "execution": e.name,
                "state": "S",
                "greeting": "Hello, blue"
            })
        );
    }

    /// guide, "Handling error conditions" / spec, "Errors": a `.$` path with no match is
    /// States.ParameterPathFailure, which a Catch can handle.
    #[tokio::test]
    async fn missing_path_is_parameter_path_failure() {
        let r = rig(handlers()).await;
        let def = json!({
            "StartAt": "S",
            "States": {
                "S": {
                    "Type": "Task", "Resource": "echo",
                    "Parameters": {"x.$": "$.missing"},
                    "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}],
                    "End": true
                },
                "Caught": {"Type": "Pass", "End": true}
            }
        });
        let out = r.output(&def, json!({"a": 1})).await;
        assert_eq!(out["err"]["Error"], "States.ParameterPathFailure");
        let cause = out["err"]["Cause"].as_str().unwrap();
        assert!(cause.contains("$.missing"), "{cause}");
    }
}

mod result_selector {
    use super::*;

    /// guide, "ResultSelector": reshape a task result before ResultPath.
    #[tokio::test]
    async fn reshapes_the_result() {
        let mut h = handlers();
        h.insert(
            "createCluster",
            Box::new(|_, _| {
                Ok(json!({
                    "resourceType": "elasticmapreduce",
                    "resource": "createCluster.sync",
                    "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}
                }))
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Task",
            "Resource": "createCluster",
            "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
            "ResultPath": "$.EMROutput",
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"cluster": "c"})).await,
            json!({"cluster": "c", "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}})
        );
    }
}

mod result_path {
    use super::*;

    /// spec, "Filters" example: InputPath feeds the task, ResultPath puts its result into
    /// the raw input.
    #[tokio::test]
    async fn result_goes_into_the_raw_input() {
        let mut h = handlers();
        h.insert(
            "add",
            Box::new(|v, _| {
                Ok(json!(
                    v["val1"].as_i64().unwrap_or(0) + v["val2"].as_i64().unwrap_or(0)
                ))
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Task", "Resource": "add",
            "InputPath": "$.numbers", "ResultPath": "$.sum", "End": true
        }));
        assert_eq!(
            r.output(
                &def,
                json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}})
            )
            .await,
            json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7})
        );
    }

    /// guide, "ResultPath": null discards the result, `$` (the default) replaces the input.
    #[tokio::test]
    async fn null_discards_and_default_replaces() {
        let r = rig(handlers()).await;
        let discard =
            single(json!({"Type": "Pass", "Result": "x", "ResultPath": null, "End": true}));
        assert_eq!(r.output(&discard, json!({"a": 1})).await, json!({"a": 1}));
        let replace = single(json!({"Type": "Pass", "Result": "x", "End": true}));
        assert_eq!(r.output(&replace, json!({"a": 1})).await, json!("x"));
    }

    /// spec, "Errors": a ResultPath that cannot be applied to the input is
    /// States.ResultPathMatchFailure.
    #[tokio::test]
    async fn unmatchable_is_result_path_match_failure() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true}));
        let (error, _) = r.failure(&def, json!({"a": "text"})).await;
        assert_eq!(error, "States.ResultPathMatchFailure");
    }
}

mod output_path {
    use super::*;

    /// guide, "OutputPath": selects the part of the state output passed on.
    #[tokio::test]
    async fn selects_the_output() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Pass", "Result": {"code": 200, "body": "ok"}, "ResultPath": "$.response",
            "OutputPath": "$.response.body", "End": true
        }));
        assert_eq!(r.output(&def, json!({"req": 1})).await, json!("ok"));
    }

    /// spec, "Filters": OutputPath null sends `{}` on.
    #[tokio::test]
    async fn null_outputs_an_empty_object() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "OutputPath": null, "End": true}));
        assert_eq!(r.output(&def, json!({"a": 1})).await, json!({}));
    }
}

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

mod task {
    use super::*;

    /// spec, "Retrying after error": IntervalSeconds, BackoffRate, MaxAttempts; the delays
    /// come from the clock, then the error surfaces.
    #[tokio::test]
    async fn retry_backs_off_then_gives_up() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let mut h = handlers();
        h.insert(
            "flaky",
            Box::new(move |_, _| {
                c.fetch_add(1, Ordering::SeqCst);
                Err(StatesError::new("States.Timeout", "slow"))
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Task", "Resource": "flaky",
            "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 3, "MaxAttempts": 2, "BackoffRate": 1.5}],
            "End": true
        }));
        let (error, cause) = r.failure(&def, json!({})).await;
        assert_eq!((error.as_str(), cause.as_str()), ("States.Timeout", "slow"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(
            r.clock.sleeps(),
            vec![Duration::from_secs(3), Duration::from_millis(4500)]
        );
    }

    /// guide, "Retry": MaxDelaySeconds caps the delay; FULL jitter draws below it.
    #[tokio::test]
    async fn max_delay_and_full_jitter() {
        let mut h = handlers();
        h.insert(
            "twice",
            Box::new(|v, attempt| {
                if attempt < 4 {
                    Err(StatesError::new("Busy", "try again"))
                } else {
                    Ok(v)
                }
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Task", "Resource": "twice",
            "Retry": [{"ErrorEquals": ["Busy"], "IntervalSeconds": 2, "MaxAttempts": 5, "BackoffRate": 10.0,
                       "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}],
            "End": true
        }));
        assert_eq!(r.output(&def, json!({"x": 1})).await, json!({"x": 1}));
        let sleeps = r.clock.sleeps();
        assert_eq!(sleeps.len(), 4);
        for (s, cap) in sleeps.iter().zip([2, 20, 30, 30]) {
            assert!(*s <= Duration::from_secs(cap), "{sleeps:?}");
        }
    }

    /// spec, "Fallback states": Catch routes by error name, with the error at ResultPath;
    /// States.ALL catches the rest; States.TaskFailed matches task errors.
    #[tokio::test]
    async fn catch_routes_by_error() {
        let mut h = handlers();
        h.insert(
            "boom",
            Box::new(|v, _| Err(StatesError::new(v["e"].as_str().unwrap_or("X"), "it broke"))),
        );
        let r = rig(h).await;
        let def = json!({
            "StartAt": "Work",
            "States": {
                "Work": {
                    "Type": "Task", "Resource": "boom",
                    "Catch": [
                        {"ErrorEquals": ["java.lang.Exception"], "ResultPath": "$.error-info", "Next": "RecoveryState"},
                        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.tf", "Next": "TaskFailedState"},
                        {"ErrorEquals": ["States.ALL"], "Next": "EndState"}
                    ],
                    "End": true
                },
                "RecoveryState": {"Type": "Pass", "End": true},
                "TaskFailedState": {"Type": "Pass", "OutputPath": "$.tf.Error", "End": true},
                "EndState": {"Type": "Pass", "End": true}
            }
        });
        assert_eq!(
            r.output(&def, json!({"e": "java.lang.Exception"})).await,
            json!({"e": "java.lang.Exception", "error-info": {"Error": "java.lang.Exception", "Cause": "it broke"}})
        );
        assert_eq!(r.output(&def, json!({"e": "Other"})).await, json!("Other"));
    }

    /// spec, "Task State": TimeoutSeconds fails the task with States.Timeout.
    #[tokio::test]
    async fn timeout_seconds() {
        struct Slow;
        #[async_trait::async_trait]
        impl TaskHandler for Slow {
            async fn invoke(&self, _: TaskCall) -> Result<Value, StatesError> {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(Value::Null)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Registry::new();
        registry.bind("slow", Arc::new(Slow));
        let engine = Engine::open(&dir.path().join("e.db"), registry)
            .await
            .unwrap();
        let e = engine
            .start(StartRequest {
                state_machine: "t".into(),
                definition: single(
                    json!({"Type": "Task", "Resource": "slow", "TimeoutSeconds": 1, "End": true}),
                )
                .to_string(),
                name: "t".into(),
                input: json!({}),
            })
            .await
            .unwrap()
            .execution;
        assert_eq!(e.status, Status::Failed);
        assert_eq!(e.error.as_deref(), Some("States.Timeout"));
        let kinds: Vec<String> = engine
            .history("t")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert!(kinds.contains(&"TaskTimedOut".to_string()), "{kinds:?}");
    }

    /// guide, "GetExecutionHistory": the events of a task state, in order.
    #[tokio::test]
    async fn history_events() {
        let r = rig(handlers()).await;
        let e = r
            .run(
                &single(json!({"Type": "Task", "Resource": "echo", "End": true})),
                json!({}),
            )
            .await;
        assert_eq!(
            r.kinds(&e.name).await,
            [
                "ExecutionStarted",
                "TaskStateEntered",
                "TaskScheduled",
                "TaskStarted",
                "TaskSucceeded",
                "TaskStateExited",
                "ExecutionSucceeded"
            ]
        );
    }
}

mod parallel {
    use super::*;

    /// spec, "Parallel State": the output is the array of the branches' outputs, in order.
    #[tokio::test]
    async fn outputs_in_branch_order() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "LookupAddress", "States": {"LookupAddress": {"Type": "Pass", "Result": {"address": "here"}, "End": true}}},
                {"StartAt": "LookupPhone", "States": {"LookupPhone": {"Type": "Pass", "InputPath": "$.phone", "End": true}}}
            ],
            "ResultPath": "$.lookups",
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"phone": "555"})).await,
            json!({"phone": "555", "lookups": [{"address": "here"}, "555"]})
        );
    }

    /// spec, "Parallel State": a failing branch fails the state with the branch's error,
    /// which the Parallel state's Catch can handle.
    #[tokio::test]
    async fn a_failing_branch_fails_the_state() {
        let r = rig(handlers()).await;
        let def = json!({
            "StartAt": "P",
            "States": {
                "P": {
                    "Type": "Parallel",
                    "Branches": [
                        {"StartAt": "Ok", "States": {"Ok": {"Type": "Pass", "End": true}}},
                        {"StartAt": "No", "States": {"No": {"Type": "Fail", "Error": "BranchBroke", "Cause": "b2"}}}
                    ],
                    "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.err", "Next": "Handled"}],
                    "End": true
                },
                "Handled": {"Type": "Pass", "End": true}
            }
        });
        assert_eq!(
            r.output(&def, json!({})).await,
            json!({"err": {"Error": "BranchBroke", "Cause": "b2"}})
        );
    }
}

mod map {
    use super::*;

    /// spec, "Map State": the Validate-All example; ResultPath places the results in the
    /// raw input.
    #[tokio::test]
    async fn validate_all() {
        let mut h = handlers();
        h.insert(
            "ship-val",
            Box::new(|mut v, _| {
                v["valid"] = json!(v["quantity"].as_u64().unwrap_or(0) > 0);
                Ok(v)
            }),
        );
        let r = rig(h).await;
        let def = single(json!({
            "Type": "Map",
            "InputPath": "$.detail",
            "ItemsPath": "$.shipped",
            "MaxConcurrency": 0,
            "ItemProcessor": {"StartAt": "Validate", "States": {"Validate": {"Type": "Task", "Resource": "ship-val", "End": true}}},
            "ResultPath": "$.detail.shipped",
            "End": true
        }));
        let input = json!({
            "ship-date": "2016-03-14T01:59:00Z",
            "detail": {
                "delivery-partner": "UQS",
                "shipped": [
                    {"prod": "R31", "dest-code": 9511, "quantity": 1344},
                    {"prod": "S39", "dest-code": 9511, "quantity": 40},
                    {"prod": "R40", "dest-code": 9511, "quantity": 0}
                ]
            }
        });
        let out = r.output(&def, input).await;
        let valid: Vec<bool> = out["detail"]["shipped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["valid"].as_bool().unwrap())
            .collect();
        assert_eq!(valid, [true, true, false]);
        assert_eq!(out["detail"]["delivery-partner"], "UQS");
    }

    /// guide, "ItemSelector": the context object's Map.Item.Index and Map.Item.Value.
    #[tokio::test]
    async fn item_selector_with_context() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemSelector": {"ContextIndex.$": "$$.Map.Item.Index", "ContextValue.$": "$$.Map.Item.Value", "shared.$": "$.shared"},
            "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true
        }));
        assert_eq!(
            r.output(&def, json!({"shared": 9, "items": ["a", "b"]}))
                .await,
            json!([
                {"ContextIndex": 0, "ContextValue": "a", "shared": 9},
                {"ContextIndex": 1, "ContextValue": "b", "shared": 9}
            ])
        );
    }

    /// guide, "Map state in Distributed mode": ItemReader over a CSV object with a header
    /// row, ItemBatcher, tolerated failures, and ResultWriter.
    #[tokio::test]
    async fn distributed_reader_batcher_writer() {
        let mut h = handlers();
        h.insert(
            "rate",
            Box::new(|v, _| {
                let items = v["Items"].as_array().cloned().unwrap_or_default();
                if items.iter().any(|i| i["rating"] == "bad") {
                    return Err(StatesError::new("BadRating", "a rating is not a number"));
                }
                Ok(json!({"batch": v["BatchInput"]["run"], "n": items.len()}))
            }),
        );
        let r = rig(h).await;
        let dir = r._dir.path().join("buckets/ratings-bucket");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("ratings.csv"),
            "userId,movieId,rating\n1,307,3.5\n1,481,3.5\n1,1091,bad\n1,1257,4.5\n1,1449,4.5\n",
        )
        .unwrap();
        let def = single(json!({
            "Type": "Map",
            "ItemReader": {
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
                "Parameters": {"Bucket": "ratings-bucket", "Key.$": "$.key"}
            },
            "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"run.$": "$.run"}},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Rate", "States": {"Rate": {"Type": "Task", "Resource": "rate", "End": true}}
            },
            "ToleratedFailureCount": 1,
            "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "results-bucket", "Prefix": "out"}},
            "Label": "Ratings",
            "End": true
        }));
        let out = r
            .output(&def, json!({"key": "ratings.csv", "run": "r1"}))
            .await;
        let details = &out["ResultWriterDetails"];
        assert_eq!(details["Bucket"], "results-bucket");
        let manifest_key = details["Key"].as_str().unwrap();
        let manifest: Value = serde_json::from_str(
            &std::fs::read_to_string(
                r._dir
                    .path()
                    .join("buckets/results-bucket")
                    .join(manifest_key),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(manifest.get("ResultFiles").is_some(), "{manifest}");

        // Two failing batches are more than the one tolerated.
        std::fs::write(
            dir.join("worse.csv"),
            "userId,movieId,rating\n1,1,bad\n1,2,3\n1,3,bad\n",
        )
        .unwrap();
        let (error, _) = r
            .failure(&def, json!({"key": "worse.csv", "run": "r2"}))
            .await;
        assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    }

    /// spec, "Map State": an inline iteration's failure fails the Map with its error.
    #[tokio::test]
    async fn inline_failure_fails_the_map() {
        let r = rig(handlers()).await;
        let def = single(json!({
            "Type": "Map", "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "C", "States": {
                "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "F"}], "Default": "P"},
                "F": {"Type": "Fail", "Error": "Two", "Cause": "item two"},
                "P": {"Type": "Pass", "End": true}
            }},
            "End": true
        }));
        assert_eq!(
            r.failure(&def, json!({"items": [1, 2, 3]})).await,
            ("Two".into(), "item two".into())
        );
    }
}

mod executions {
    use super::*;

    /// guide, StartExecution: the same name and input returns the execution; another input
    /// is ExecutionAlreadyExists.
    #[tokio::test]
    async fn start_is_idempotent_by_name_and_input() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "End": true}));
        let first = r.start("same", &def, json!({"a": 1})).await.unwrap();
        let again = r.start("same", &def, json!({"a": 1})).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(
            r.kinds("same").await.len(),
            4,
            "nothing ran the second time"
        );
        let err = r.start("same", &def, json!({"a": 2})).await.unwrap_err();
        assert!(
            matches!(err, EngineError::ExecutionAlreadyExists { .. }),
            "{err}"
        );
    }

    /// guide, "Redriving executions": only FAILED, TIMED_OUT and ABORTED can be redriven;
    /// a redrive resumes at the failed state and re-runs only failed Map iterations and
    /// Parallel branches; redriveCount counts.
    #[tokio::test]
    async fn redrive_resumes_only_what_failed() {
        let fixed = Arc::new(AtomicU32::new(0));
        let runs: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let mut h = handlers();
        let (f, log) = (fixed.clone(), runs.clone());
        h.insert(
            "work",
            Box::new(move |v, _| {
                let id = v.to_string();
                if id.contains("bad") && f.load(Ordering::SeqCst) == 0 {
                    return Err(StatesError::new("Broken", format!("{id} is broken")));
                }
                log.lock().unwrap().push(id);
                Ok(v)
            }),
        );
        let r = rig(h).await;
        let def = json!({
            "StartAt": "First",
            "States": {
                "First": {"Type": "Task", "Resource": "work", "Parameters": {"step": "first"}, "ResultPath": "$.first", "Next": "Both"},
                "Both": {
                    "Type": "Parallel", "ResultPath": "$.both", "Next": "Each",
                    "Branches": [
                        {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "work", "Parameters": {"branch": "a"}, "End": true}}},
                        {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": "work", "Parameters": {"branch": "bad-b"}, "End": true}}}
                    ]
                },
                "Each": {
                    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.each", "End": true,
                    "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": "work", "End": true}}}
                }
            }
        });
        let input = json!({"items": ["i0", "bad-i1", "i2"]});
        let e = r.start("re", &def, input).await.unwrap();
        assert_eq!(
            (e.status, e.error.as_deref()),
            (Status::Failed, Some("Broken"))
        );
        let succeeded = r
            .engine
            .start(StartRequest {
                state_machine: "c".into(),
                definition: single(json!({"Type": "Pass", "End": true})).to_string(),
                name: "ok".into(),
                input: json!({}),
            })
            .await
            .unwrap();
        assert_eq!(succeeded.execution.status, Status::Succeeded);
        assert!(matches!(
            r.engine.redrive("ok").await.unwrap_err(),
            EngineError::ExecutionNotRedrivable { .. }
        ));

        // Still broken: the redrive re-runs only branch B, and fails again there.
        let e = r.engine.redrive("re").await.unwrap();
        assert_eq!((e.status, e.redrive_count), (Status::Failed, 1));
        fixed.store(1, Ordering::SeqCst);
        let e = r.engine.redrive("re").await.unwrap();
        assert_eq!((e.status, e.redrive_count), (Status::Succeeded, 2), "{e:?}");
        let out = e.output.unwrap();
        assert_eq!(out["both"], json!([{"branch": "a"}, {"branch": "bad-b"}]));
        assert_eq!(out["each"], json!(["i0", "bad-i1", "i2"]));
        let log = runs.lock().unwrap().clone();
        let count = |s: &str| log.iter().filter(|x| x.contains(s)).count();
        assert_eq!(count("first"), 1, "{log:?}");
        assert_eq!(count("\"a\""), 1, "{log:?}");
        assert_eq!(count("bad-b"), 1, "{log:?}");
        assert_eq!(
            (count("i0"), count("bad-i1"), count("i2")),
            (1, 1, 1),
            "{log:?}"
        );
        assert!(
            r.kinds("re")
                .await
                .iter()
                .filter(|k| *k == "ExecutionRedriven")
                .count()
                == 2
        );
    }
}

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

mod variables {
    //! guide, "Passing data between states with variables" (cited as "variables guide"):
    //! `Assign` in JSONPath states, `$name` in paths, scoping and history.
    use super::*;

    fn chain(states: Value, start: &str) -> Value {
        json!({"StartAt": start, "States": states})
    }

    /// variables guide, "Conceptual overview": a value stored in one step is read in a
    /// later one without passing through the states between.
    // See: #22
    #[tokio::test]
    async fn assign_is_visible_to_later_states() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Store": {"Type": "Pass", "Assign": {"productName": "product1", "count": 42, "available": true}, "Result": "dropped", "Next": "Between"},
                "Between": {"Type": "Pass", "Result": {"other": 1}, "Next": "Use"},
                "Use": {"Type": "Pass", "Parameters": {"name.$": "$productName", "n.$": "$count", "ok.$": "$available", "fmt.$": "States.Format('{} x{}', $productName, $count)"}, "End": true}
            }),
            "Store",
        );
        assert_eq!(
            r.output(&def, json!({})).await,
            json!({"name": "product1", "n": 42, "ok": true, "fmt": "product1 x42"})
        );
    }

    /// variables guide, "Evaluation of assignments": every assignment of a state reads the
    /// values from before the state, so `y` gets the old `x`.
    // See: #22
    #[tokio::test]
    async fn assignments_read_values_from_before_the_state() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "First": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Second"},
                "Second": {"Type": "Pass", "Assign": {"x": 2, "y.$": "$x"}, "Next": "Show"},
                "Show": {"Type": "Pass", "Parameters": {"x.$": "$x", "y.$": "$y"}, "End": true}
            }),
            "First",
        );
        assert_eq!(r.output(&def, json!({})).await, json!({"x": 2, "y": 1}));
    }

    /// variables guide, "Assign in JSONPath states": `$` in a Task's `Assign` is the result
    /// after ResultSelector; `$$` is the context object; ResultPath and OutputPath still
    /// shape the output.
    // See: #22
    #[tokio::test]
    async fn jsonpath_assign_reads_the_selected_result() {
        let mut h = handlers();
        h.insert(
            "lookup",
            Box::new(|_, _| Ok(json!({"Payload": {"price": 9, "noise": 0}}))),
        );
        let r = rig(h).await;
        let def = chain(
            json!({
                "Lookup": {
                    "Type": "Task", "Resource": "lookup",
                    "ResultSelector": {"price.$": "$.Payload.price"},
                    "Assign": {"price.$": "$.price", "state.$": "$$.State.Name"},
                    "ResultPath": null,
                    "Next": "Show"
                },
                "Show": {"Type": "Pass", "Parameters": {"input.$": "$", "price.$": "$price", "state.$": "$state"}, "End": true}
            }),
            "Lookup",
        );
        assert_eq!(
            r.output(&def, json!({"order": 1})).await,
            json!({"input": {"order": 1}, "price": 9, "state": "Lookup"})
        );
    }

    /// variables guide, "Assign in Choice states": a rule's `Assign` applies when it matches,
    /// the state's when `Default` is taken; `Variable` may read a variable.
    // See: #22
    #[tokio::test]
    async fn choice_rules_read_and_assign_variables() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"limit": 10}, "Next": "Check"},
                "Check": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.n", "NumericGreaterThanPath": "$limit", "Assign": {"verdict": "big"}, "Next": "Show"}
                    ],
                    "Default": "Show",
                    "Assign": {"verdict": "small"}
                },
                "Show": {"Type": "Pass", "Parameters": {"verdict.$": "$verdict"}, "End": true}
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({"n": 11})).await,
            json!({"verdict": "big"})
        );
        assert_eq!(
            r.output(&def, json!({"n": 3})).await,
            json!({"verdict": "small"})
        );
    }

    /// variables guide, "Variable scope": a Map iteration reads the variables of the scope
    /// around it; what it assigns stays inside it.
    // See: #22
    #[tokio::test]
    async fn map_iterations_read_outer_variables_and_do_not_leak() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"factor": 10}, "Next": "Each"},
                "Each": {
                    "Type": "Map", "ItemsPath": "$.items", "Next": "After",
                    "ItemProcessor": {"StartAt": "Inner", "States": {
                        "Inner": {"Type": "Pass", "Assign": {"factor": 99, "seen.$": "$"}, "Next": "Read"},
                        "Read": {"Type": "Pass", "Parameters": {"item.$": "$seen", "factor.$": "$factor"}, "End": true}
                    }}
                },
                "After": {"Type": "Pass", "Parameters": {"factor.$": "$factor", "results.$": "$"}, "End": true}
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({"items": [1, 2]})).await,
            json!({"factor": 10, "results": [{"item": 1, "factor": 99}, {"item": 2, "factor": 99}]})
        );
        let leaked = chain(
            json!({
                "Each": {
                    "Type": "Map", "ItemsPath": "$.items", "Next": "After",
                    "ItemProcessor": {"StartAt": "Inner", "States": {
                        "Inner": {"Type": "Pass", "Assign": {"inner": 1}, "End": true}
                    }}
                },
                "After": {"Type": "Pass", "Parameters": {"inner.$": "$inner"}, "End": true}
            }),
            "Each",
        );
        let (error, _) = r.failure(&leaked, json!({"items": [1]})).await;
        assert_eq!(error, "States.ParameterPathFailure");
    }

    /// variables guide, "Variable scope": Parallel branches read outer variables; a distributed
    /// Map's child workflow does not.
    // See: #22
    #[tokio::test]
    async fn parallel_branches_see_outer_variables_distributed_map_does_not() {
        let r = rig(handlers()).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"tag": "t1"}, "Next": "Both"},
                "Both": {
                    "Type": "Parallel", "End": true,
                    "Branches": [
                        {"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"tag.$": "$tag"}, "End": true}}},
                        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Assign": {"tag": "mine"}, "Next": "C"}, "C": {"Type": "Pass", "Parameters": {"tag.$": "$tag"}, "End": true}}}
                    ]
                }
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({})).await,
            json!([{"tag": "t1"}, {"tag": "mine"}])
        );
        let distributed = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"tag": "t1"}, "Next": "Each"},
                "Each": {
                    "Type": "Map", "End": true,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "Read", "States": {"Read": {"Type": "Pass", "Parameters": {"tag.$": "$tag"}, "End": true}}
                    }
                }
            }),
            "Init",
        );
        // The child workflow's ParameterPathFailure fails the run as a distributed Map fails.
        let (error, _) = r.failure(&distributed, json!([1])).await;
        assert_eq!(error, "States.ExceedToleratedFailureThreshold");
    }

    /// variables guide, "Assign in Catch": a catcher's `Assign` reads the error output.
    // See: #22
    #[tokio::test]
    async fn catch_assign_reads_the_error_output() {
        let mut h = handlers();
        h.insert(
            "boom",
            Box::new(|_, _| Err(StatesError::new("Boom", "it broke"))),
        );
        let r = rig(h).await;
        let def = chain(
            json!({
                "Try": {
                    "Type": "Task", "Resource": "boom", "Assign": {"never": 1}, "Next": "Show",
                    "Catch": [{"ErrorEquals": ["Boom"], "Assign": {"why.$": "$.Cause"}, "ResultPath": null, "Next": "Show"}]
                },
                "Show": {"Type": "Pass", "Parameters": {"why.$": "$why", "input.$": "$"}, "End": true}
            }),
            "Try",
        );
        assert_eq!(
            r.output(&def, json!({"k": 1})).await,
            json!({"why": "it broke", "input": {"k": 1}})
        );
    }

    /// GetExecutionHistory: a state's exit event lists `assignedVariables` as JSON text, with
    /// `assignedVariablesDetails`.
    // See: #22
    #[tokio::test]
    async fn state_exited_events_record_assigned_variables() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "Assign": {"x": 1, "o": {"a": "b"}}, "End": true}));
        r.start("assigned", &def, json!({})).await.unwrap();
        let events = r.engine.history("assigned").await.unwrap();
        let exited = events
            .iter()
            .find(|e| e.kind == "PassStateExited")
            .expect("an exit event");
        assert_eq!(
            exited.details["assignedVariables"],
            json!({"x": "1", "o": "{\"a\":\"b\"}"})
        );
        assert_eq!(
            exited.details["assignedVariablesDetails"],
            json!({"truncated": false})
        );
    }

    /// guide, "Redriving executions" with variables: a redriven state reads the values
    /// assigned before the failure, at the top level and inside a Map iteration, and the
    /// states that succeeded do not run again.
    // See: #22
    #[tokio::test]
    async fn variables_survive_redrive() {
        let fixed = Arc::new(AtomicU32::new(0));
        let mut h = handlers();
        let f = fixed.clone();
        h.insert(
            "work",
            Box::new(move |v, _| {
                if v.to_string().contains("bad") && f.load(Ordering::SeqCst) == 0 {
                    return Err(StatesError::new("Broken", "not yet"));
                }
                Ok(v)
            }),
        );
        let r = rig(h).await;
        let def = chain(
            json!({
                "Init": {"Type": "Pass", "Assign": {"run": "r1"}, "Next": "Each"},
                "Each": {
                    "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
                    "ItemProcessor": {"StartAt": "Tag", "States": {
                        "Tag": {"Type": "Pass", "Assign": {"item.$": "$"}, "Next": "Work"},
                        "Work": {"Type": "Task", "Resource": "work", "Parameters": {"run.$": "$run", "item.$": "$item"}, "End": true}
                    }}
                }
            }),
            "Init",
        );
        let e = r
            .start("vars", &def, json!({"items": ["ok", "bad"]}))
            .await
            .unwrap();
        assert_eq!(e.status, Status::Failed);
        fixed.store(1, Ordering::SeqCst);
        let e = r.engine.redrive("vars").await.unwrap();
        assert_eq!(e.status, Status::Succeeded, "{e:?}");
        assert_eq!(
            e.output.unwrap(),
            json!([{"run": "r1", "item": "ok"}, {"run": "r1", "item": "bad"}])
        );
    }
}

mod jsonata {
    //! guide, "Transforming data with JSONata in Step Functions" (cited as "JSONata guide"):
    //! `QueryLanguage`, `Arguments`, `Output`, `Assign`, `Condition`, `Items`,
    //! `ItemSelector`, catcher `Output`, `$states`, AWS's functions and
    //! `States.QueryEvaluationError`.
    use super::*;

    fn jsonata(states: Value, start: &str) -> Value {
        json!({"QueryLanguage": "JSONata", "StartAt": start, "States": states})
    }

    /// JSONata guide, "Processing input and output with JSONata": `Arguments` is what the
    /// task gets, `Output` shapes the state output from `$states.input` and
    /// `$states.result`.
    // See: #22
    #[tokio::test]
    async fn task_arguments_and_output() {
        let mut h = handlers();
        h.insert(
            "price",
            Box::new(|v, _| Ok(json!({"Payload": {"total": v["qty"].as_i64().unwrap_or(0) * 3}}))),
        );
        let r = rig(h).await;
        let def = jsonata(
            json!({"Price": {
                "Type": "Task", "Resource": "price", "End": true,
                "Arguments": {"qty": "{% $states.input.product.qty %}", "fixed": 1},
                "Output": {
                    "customerId": "{% $states.input.customer.id %}",
                    "product": "{% $states.input.product.name %}",
                    "total": "{% $states.result.Payload.total %}"
                }
            }}),
            "Price",
        );
        assert_eq!(
            r.output(
                &def,
                json!({"customer": {"id": "c1"}, "product": {"name": "p", "qty": 4}})
            )
            .await,
            json!({"customerId": "c1", "product": "p", "total": 12})
        );
    }

    /// JSONata guide, the conversion example: the same `Parameters` in JSONPath and
    /// `Arguments` in JSONata, with the variable `customerName` set to "María" and the input
    /// `{"title": "Doctor"}`, both give `{"static": "Hello", "title": "Doctor", "name":
    /// "María", "not-evaluated": "$customerName"}`.
    // See: #22
    #[tokio::test]
    async fn guide_conversion_example_gives_the_same_result_in_both_languages() {
        let r = rig(handlers()).await;
        let expected = json!({"static": "Hello", "title": "Doctor", "name": "María", "not-evaluated": "$customerName"});
        let jsonpath = json!({"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"customerName": "María"}, "ResultPath": null, "Next": "Call"},
            "Call": {"QueryLanguage": "JSONPath", "Type": "Task", "Resource": "echo", "End": true,
                "Parameters": {"static": "Hello", "title.$": "$.title", "name.$": "$customerName", "not-evaluated": "$customerName"}}
        }});
        let jsonata = json!({"StartAt": "Set", "States": {
            "Set": {"Type": "Pass", "Assign": {"customerName": "María"}, "ResultPath": null, "Next": "Call"},
            "Call": {"QueryLanguage": "JSONata", "Type": "Task", "Resource": "echo", "End": true,
                "Arguments": {"static": "Hello", "title": "{% $states.input.title %}", "name": "{% $customerName %}", "not-evaluated": "$customerName"}}
        }});
        for def in [jsonpath, jsonata] {
            assert_eq!(r.output(&def, json!({"title": "Doctor"})).await, expected);
        }
    }

    /// JSONata guide, "Choice state": each rule is a `Condition`; the first true one wins,
    /// else `Default`.
    // See: #22
    #[tokio::test]
    async fn choice_conditions_route() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({
                "Check": {"Type": "Choice", "Default": "Minor", "Choices": [
                    {"Condition": "{% $states.input.age >= 18 %}", "Next": "Adult"}
                ]},
                "Adult": {"Type": "Pass", "Output": "adult", "End": true},
                "Minor": {"Type": "Pass", "Output": "minor", "End": true}
            }),
            "Check",
        );
        assert_eq!(r.output(&def, json!({"age": 30})).await, json!("adult"));
        assert_eq!(r.output(&def, json!({"age": 3})).await, json!("minor"));
        let bad = jsonata(
            json!({
                "Check": {"Type": "Choice", "Default": "Done", "Choices": [
                    {"Condition": "{% $states.input.age %}", "Next": "Done"}
                ]},
                "Done": {"Type": "Succeed"}
            }),
            "Check",
        );
        let (error, _) = r.failure(&bad, json!({"age": 30})).await;
        assert_eq!(error, "States.QueryEvaluationError");
    }

    /// JSONata guide, "Map state": `Items` selects the array, `ItemSelector` reads
    /// `$states.context.Map.Item`.
    // See: #22
    #[tokio::test]
    async fn map_items_and_item_selector() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"Each": {
                "Type": "Map", "End": true,
                "Items": "{% $states.input.orders %}",
                "ItemSelector": {
                    "index": "{% $states.context.Map.Item.Index %}",
                    "id": "{% $states.context.Map.Item.Value.id %}",
                    "region": "{% $states.input.region %}"
                },
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
            }}),
            "Each",
        );
        assert_eq!(
            r.output(
                &def,
                json!({"region": "eu", "orders": [{"id": "a"}, {"id": "b"}]})
            )
            .await,
            json!([
                {"index": 0, "id": "a", "region": "eu"},
                {"index": 1, "id": "b", "region": "eu"}
            ])
        );
        let literal = jsonata(
            json!({"Each": {
                "Type": "Map", "End": true, "Items": [1, "{% 1 + 1 %}"],
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}
            }}),
            "Each",
        );
        assert_eq!(r.output(&literal, json!({})).await, json!([1, 2]));
    }

    /// variables guide, "Evaluation of assignments": `Assign` and `Output` of one state both
    /// read the variables from before it.
    // See: #22
    #[tokio::test]
    async fn assign_and_output_read_variables_from_before_the_state() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({
                "Init": {"Type": "Pass", "Assign": {"x": 1}, "Next": "Bump"},
                "Bump": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "y": "{% $x %}"}, "Output": {"seen": "{% $x %}"}, "Next": "Show"},
                "Show": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}", "input": "{% $states.input %}"}, "End": true}
            }),
            "Init",
        );
        assert_eq!(
            r.output(&def, json!({})).await,
            json!({"x": 2, "y": 1, "input": {"seen": 1}})
        );
    }

    /// JSONata guide: JSONPath and JSONata states mix in one definition, per state, and the
    /// variables one assigns are read by the other.
    // See: #22
    #[tokio::test]
    async fn jsonpath_and_jsonata_states_share_variables() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "Path", "States": {
            "Path": {"Type": "Pass", "Assign": {"n.$": "$.n"}, "Next": "Ata"},
            "Ata": {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"m": "{% $n * 10 %}"}, "Next": "Back"},
            "Back": {"Type": "Pass", "Parameters": {"n.$": "$n", "m.$": "$m"}, "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"n": 4})).await,
            json!({"n": 4, "m": 40})
        );
    }

    /// JSONata guide, "Handling errors": a catcher's `Output` reads `$states.errorOutput`,
    /// its `Assign` too; `States.QueryEvaluationError` is catchable.
    // See: #22
    #[tokio::test]
    async fn catch_output_reads_the_error_output() {
        let mut h = handlers();
        h.insert(
            "boom",
            Box::new(|_, _| Err(StatesError::new("Boom", "it broke"))),
        );
        let r = rig(h).await;
        let def = jsonata(
            json!({
                "Try": {
                    "Type": "Task", "Resource": "boom", "Next": "Done",
                    "Catch": [{
                        "ErrorEquals": ["Boom"], "Next": "Done",
                        "Assign": {"why": "{% $states.errorOutput.Cause %}"},
                        "Output": {"error": "{% $states.errorOutput.Error %}", "input": "{% $states.input %}"}
                    }]
                },
                "Done": {"Type": "Pass", "Output": {"caught": "{% $states.input %}", "why": "{% $why %}"}, "End": true}
            }),
            "Try",
        );
        assert_eq!(
            r.output(&def, json!({"k": 1})).await,
            json!({"caught": {"error": "Boom", "input": {"k": 1}}, "why": "it broke"})
        );
        let query = jsonata(
            json!({
                "Try": {
                    "Type": "Pass", "Output": "{% $states.input.missing %}", "Next": "Done"
                },
                "Done": {"Type": "Succeed"}
            }),
            "Try",
        );
        let (error, cause) = r.failure(&query, json!({})).await;
        assert_eq!(error, "States.QueryEvaluationError");
        assert!(cause.contains("$states.input.missing"), "{cause}");
        let caught = jsonata(
            json!({
                "Try": {
                    "Type": "Task", "Resource": "echo", "Output": "{% $states.result.missing %}", "Next": "Done",
                    "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Output": "caught", "Next": "Done"}]
                },
                "Done": {"Type": "Succeed"}
            }),
            "Try",
        );
        assert_eq!(r.output(&caught, json!({})).await, json!("caught"));
    }

    /// JSONata guide, "Fail state": `Error` and `Cause` may be expressions.
    // See: #22
    #[tokio::test]
    async fn fail_error_and_cause_expressions() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"F": {"Type": "Fail", "Error": "{% $states.input.code %}", "Cause": "{% 'order ' & $states.input.id & ' failed' %}"}}),
            "F",
        );
        assert_eq!(
            r.failure(&def, json!({"code": "E42", "id": "o1"})).await,
            ("E42".to_string(), "order o1 failed".to_string())
        );
    }

    /// JSONata guide, "Wait state": `Seconds` and `Timestamp` as expressions.
    // See: #22
    #[tokio::test]
    async fn wait_seconds_and_timestamp_expressions() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({
                "S": {"Type": "Wait", "Seconds": "{% $states.input.delay * 2 %}", "Next": "T"},
                "T": {"Type": "Wait", "Timestamp": "{% $states.input.until %}", "End": true}
            }),
            "S",
        );
        let input = json!({"delay": 5, "until": "2026-03-14T02:00:10Z"});
        assert_eq!(r.output(&def, input.clone()).await, input);
        assert_eq!(r.clock.sleeps(), [10, 60].map(Duration::from_secs).to_vec());
    }

    /// JSONata guide, "JSONata functions provided by Step Functions": `$partition`,
    /// `$range`, `$hash`, `$parse`, `$uuid`.
    // See: #22
    #[tokio::test]
    async fn aws_functions() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"F": {"Type": "Pass", "End": true, "Output": {
                "partition": "{% $partition([1,2,3,4], 2) %}",
                "range": "{% $range(0, 10, 2) %}",
                "hash": "{% $hash('input data', 'SHA-1') %}",
                "parse": "{% $parse($states.input.json).a %}",
                "uuid": "{% $length($uuid()) %}"
            }}}),
            "F",
        );
        assert_eq!(
            r.output(&def, json!({"json": "{\"a\": [1]}"})).await,
            json!({
                "partition": [[1, 2], [3, 4]],
                "range": [0, 2, 4, 6, 8, 10],
                "hash": "aaff4a450a104cd177d28d18d74485e8cae074b7",
                "parse": [1],
                "uuid": 36
            })
        );
    }

    /// issue #22, "Bad input": a runaway expression is bounded and fails with
    /// `States.QueryEvaluationError`, never a hang or a crash.
    // See: #22
    #[tokio::test]
    async fn a_runaway_expression_fails_instead_of_hanging() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"F": {"Type": "Pass", "End": true,
                "Output": "{% ($loop := function($n) { $loop($n + 1) }; $loop(0)) %}"}}),
            "F",
        );
        let (error, _) = r.failure(&def, json!({})).await;
        assert_eq!(error, "States.QueryEvaluationError");
    }

    /// JSONata guide, "Parallel state": `Arguments` is every branch's input; the result is
    /// the array of branch outputs, `Output` reshapes it.
    // See: #22
    #[tokio::test]
    async fn parallel_arguments_and_output() {
        let r = rig(handlers()).await;
        let def = jsonata(
            json!({"Both": {
                "Type": "Parallel", "End": true,
                "Arguments": {"n": "{% $states.input.n %}"},
                "Output": "{% $sum($states.result.n) %}",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {"n": "{% $states.input.n + 1 %}"}, "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Output": {"n": "{% $states.input.n * 10 %}"}, "End": true}}}
                ]
            }}),
            "Both",
        );
        assert_eq!(r.output(&def, json!({"n": 2})).await, json!(23));
    }
}

mod recorded_variables {
    //! Cases whose expected results were recorded against AWS Step Functions: LocalStack's
    //! AWS-validated snapshots (tests/aws/services/stepfunctions/v2/assign, cited as
    //! "recorded, <test>[<template>]"), run here with the same definitions and inputs.
    use super::*;

    /// recorded, test_state_assign_evaluation_order[BASE_EVALUATION_ORDER_PASS_STATE]:
    /// InputPath and OutputPath read `$answer` as it was before the state's own `Assign`;
    /// the output is 42.
    // See: #22
    #[tokio::test]
    async fn evaluation_order_in_a_pass_state() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Result": {"theQuestion": "What is the answer to life the universe and everything?"},
                       "Assign": {"question.$": "$.theQuestion", "answer": 42}, "Next": "State1"},
            "State1": {"Type": "Pass", "InputPath": "$answer", "ResultPath": "$.theAnswer", "OutputPath": "$answer",
                       "Assign": {"answer": "<omitted>"}, "End": true}
        }});
        assert_eq!(r.output(&def, json!({})).await, json!(42));
    }

    /// recorded, test_base_cases[BASE_SCOPE_MAP]: `ItemsPath` may read a variable; the
    /// iterations read the outer `$x`; the output is [1,2,3].
    // See: #22
    #[tokio::test]
    async fn map_over_a_variable_reads_the_outer_scope() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": {"x": 42, "items": [1, 2, 3]}, "Next": "State1"},
            "State1": {"Type": "Map", "ItemsPath": "$items", "MaxConcurrency": 1, "Next": "State2",
                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Inner", "States": {
                    "Inner": {"Type": "Pass", "Assign": {"innerX.$": "$x"}, "End": true}}}},
            "State2": {"Type": "Pass", "Assign": {"final.$": "$x"}, "End": true}
        }});
        assert_eq!(r.output(&def, json!({})).await, json!([1, 2, 3]));
    }

    /// recorded, test_base_parallel_cases[BASE_SCOPE_PARALLEL]: every branch reads the
    /// outer `$x`; each branch's exit lists `{"innerX": "42", "value": "{}"}`; the output is
    /// [{},{},{}].
    // See: #22
    #[tokio::test]
    async fn parallel_branches_read_the_outer_scope() {
        let r = rig(handlers()).await;
        let branch = |name: &str| json!({"StartAt": name, "States": {name: {"Type": "Pass", "Assign": {"innerX.$": "$x", "value.$": "$"}, "End": true}}});
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": {"x": 42}, "Next": "State1"},
            "State1": {"Type": "Parallel", "End": true,
                "Branches": [branch("Branch1"), branch("Branch21"), branch("Branch31")]}
        }});
        r.start("scope-parallel", &def, json!({})).await.unwrap();
        let e = r
            .engine
            .store()
            .get("scope-parallel")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(e.output, Some(json!([{}, {}, {}])));
        let events = r.engine.history("scope-parallel").await.unwrap();
        let inner: Vec<&Value> = events
            .iter()
            .filter(|e| e.kind == "PassStateExited" && e.details["name"] != "State0")
            .map(|e| &e.details["assignedVariables"])
            .collect();
        assert_eq!(inner.len(), 3);
        for assigned in inner {
            assert_eq!(assigned, &json!({"innerX": "42", "value": "{}"}));
        }
    }

    /// recorded, test_base_cases[BASE_VAR]: constants of every JSON type (strings that look
    /// like paths, intrinsics or JSONata included) are stored as written, read back through
    /// `$name` and `$name.member` unchanged, and listed as JSON text in the exit events.
    // See: #22
    #[tokio::test]
    async fn variables_hold_every_json_type_unchanged() {
        let r = rig(handlers()).await;
        let list = json!([null, 0, 0.1, true, "$.no.such.path", "$varname", "{% $varname %}", "$$",
                          "States.Format('{}', $varname)", [], {"constant": 0}]);
        let object = json!({"in_obj_constant_null": null, "in_obj_constant_int": 0,
            "in_obj_constant_str_path": "$.no.such.path", "in_obj_constant_str_jsonata_expr": "{% $varname.varfield %}",
            "in_obj_constant_lst": list, "in_obj_constant_obj_empty": {}});
        let constants = json!({
            "constant_null": null, "constant_int": 0, "constant_float": 0.1, "constant_bool": true,
            "constant_str": "constant string", "constant_str_path_root": "$",
            "constant_str_contextpath": "$$.Execution.Id", "constant_str_var_expr": "$noSuchVar.noSuchMember",
            "constant_str_intrinsic_func": "States.Format('Format Func {}', $varname)",
            "constant_lst_empty": [], "constant_lst": list, "constant_obj_empty": {}, "constant_obj": object
        });
        let mut first = constants.clone();
        first["varname.$"] = json!("$.input_value");
        let mut second = serde_json::Map::new();
        second.insert("varname2".into(), json!("varname2"));
        for name in constants
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            second.insert(format!("varname{name}.$"), json!(format!("${name}")));
        }
        second.insert(
            "varnameconstant_obj_access.$".into(),
            json!("$constant_obj.in_obj_constant_lst"),
        );
        let def = json!({"StartAt": "State0", "States": {
            "State0": {"Type": "Pass", "Assign": first, "Next": "State1"},
            "State1": {"Type": "Pass", "Assign": second, "End": true}
        }});
        r.start(
            "base-var",
            &def,
            json!({"input_value": "input_value_literal"}),
        )
        .await
        .unwrap();
        let events = r.engine.history("base-var").await.unwrap();
        let exits: Vec<&serde_json::Map<String, Value>> = events
            .iter()
            .filter(|e| e.kind == "PassStateExited")
            .filter_map(|e| e.details["assignedVariables"].as_object())
            .collect();
        let parsed = |m: &serde_json::Map<String, Value>, name: &str| -> Value {
            m.get(name)
                .and_then(Value::as_str)
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(json!("<missing>"))
        };
        assert_eq!(parsed(exits[0], "varname"), json!("input_value_literal"));
        for (name, value) in constants.as_object().into_iter().flatten() {
            assert_eq!(&parsed(exits[0], name), value, "{name}");
            assert_eq!(
                &parsed(exits[1], &format!("varname{name}")),
                value,
                "{name}"
            );
        }
        assert_eq!(parsed(exits[1], "varname2"), json!("varname2"));
        assert_eq!(parsed(exits[1], "varnameconstant_obj_access"), list);
        assert_eq!(
            exits[0].get("constant_float"),
            Some(&json!("0.1")),
            "the text AWS records"
        );
    }

    /// recorded, test_base_cases[BASE_PATHS]: `.$` values in `Assign` read the input, the
    /// context object and intrinsics; the context object of a Pass state has
    /// `State.Name` and `State.EnteredTime` and no `RetryCount`.
    // See: #22
    #[tokio::test]
    async fn assign_paths_read_input_context_and_intrinsics() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "End": true, "Assign": {
            "str_path_root.$": "$",
            "str_path.$": "$.input_value",
            "str_contextpath_root.$": "$$",
            "str_contextpath.$": "$$.Execution.Id",
            "str_intrinsic_func.$": "States.Format('Format Func {}', $.input_value)"
        }}));
        let input = json!({"input_value": "input_value_literal"});
        r.start("base-paths", &def, input.clone()).await.unwrap();
        let events = r.engine.history("base-paths").await.unwrap();
        let exited = events.iter().find(|e| e.kind == "PassStateExited").unwrap();
        let assigned = &exited.details["assignedVariables"];
        let value = |name: &str| -> Value {
            serde_json::from_str(assigned[name].as_str().unwrap_or("null")).unwrap_or(Value::Null)
        };
        assert_eq!(value("str_path_root"), input);
        assert_eq!(value("str_path"), json!("input_value_literal"));
        assert_eq!(
            value("str_intrinsic_func"),
            json!("Format Func input_value_literal")
        );
        let context = value("str_contextpath_root");
        assert_eq!(value("str_contextpath"), context["Execution"]["Id"]);
        assert_eq!(context["Execution"]["Input"], input);
        let mut state_keys: Vec<&String> = context["State"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        state_keys.sort();
        assert_eq!(state_keys, ["EnteredTime", "Name"]);
        let mut execution_keys: Vec<&String> = context["Execution"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        execution_keys.sort();
        assert_eq!(
            execution_keys,
            [
                "Id",
                "Input",
                "Name",
                "RedriveCount",
                "RoleArn",
                "StartTime"
            ]
        );
    }

    /// recorded, test_reference_assign[BASE_REFERENCE_IN_WAIT]: `SecondsPath` and
    /// `TimestampPath` read variables; the output is {}.
    // See: #22
    #[tokio::test]
    async fn wait_paths_read_variables() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Assign": {"waitTime": 0, "startAt": "2024-11-06T09:42:03Z"}, "Next": "WaitSecondsState"},
            "WaitSecondsState": {"Type": "Wait", "SecondsPath": "$waitTime", "Next": "WaitUntilState"},
            "WaitUntilState": {"Type": "Wait", "TimestampPath": "$startAt", "End": true}
        }});
        assert_eq!(r.output(&def, json!({})).await, json!({}));
    }

    /// recorded, test_assign_in_choice_state[CORRECT] (input `{"input_value": "42"}`, a
    /// string): no rule matches, the state's `Assign` applies with `Default`, and the exit
    /// event lists `{"guess": "\"42\"", "status": "\"INCORRECT\""}`.
    // See: #22
    #[tokio::test]
    async fn choice_state_assign_applies_with_default() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "CheckInputState", "States": {
            "CheckInputState": {"Type": "Choice",
                "Choices": [
                    {"Variable": "$.input_value", "IsPresent": false, "Assign": {"status": "UNKNOWN"}, "Next": "FinalState"},
                    {"Variable": "$.input_value", "NumericEquals": 42, "Assign": {"status": "CORRECT"}, "Next": "FinalState"}
                ],
                "Assign": {"status": "INCORRECT", "guess.$": "$.input_value"},
                "Default": "FinalState"},
            "FinalState": {"Type": "Pass", "Parameters": {"result.$": "$status"}, "End": true}
        }});
        r.start("choice", &def, json!({"input_value": "42"}))
            .await
            .unwrap();
        let e = r.engine.store().get("choice").await.unwrap().unwrap();
        assert_eq!(e.output, Some(json!({"result": "INCORRECT"})));
        let events = r.engine.history("choice").await.unwrap();
        let exited = events
            .iter()
            .find(|e| e.kind == "ChoiceStateExited")
            .unwrap();
        assert_eq!(
            exited.details["assignedVariables"],
            json!({"guess": "\"42\"", "status": "\"INCORRECT\""})
        );
    }

    /// recorded, test_base_cases[BASE_CONSTANT_LITERALS]: in a JSONPath state, values of
    /// keys without `.$` are constants, even when they look like paths, intrinsics or
    /// JSONata.
    // See: #22
    #[tokio::test]
    async fn assign_constants_stay_literal() {
        let r = rig(handlers()).await;
        let def = single(json!({"Type": "Pass", "End": true, "Assign": {
            "constant_str_path": "$.no.such.path",
            "constant_str_var": "$noSuchVar",
            "constant_str_intrinsic_func": "States.Format('Format Func {}', $varname)",
            "constant_str_jsonata_expr": "{% $varname.varfield %}",
            "constant_float": 0.1
        }}));
        r.start("literals", &def, json!({})).await.unwrap();
        let events = r.engine.history("literals").await.unwrap();
        let exited = events.iter().find(|e| e.kind == "PassStateExited").unwrap();
        assert_eq!(
            exited.details["assignedVariables"],
            json!({
                "constant_float": "0.1",
                "constant_str_intrinsic_func": "\"States.Format('Format Func {}', $varname)\"",
                "constant_str_jsonata_expr": "\"{% $varname.varfield %}\"",
                "constant_str_path": "\"$.no.such.path\"",
                "constant_str_var": "\"$noSuchVar\""
            })
        );
    }

    /// recorded, test_undefined_reference[BASE_UNDEFINED_OUTPUT_FIELD, BASE_UNDEFINED_ASSIGN,
    /// BASE_UNDEFINED_ARGUMENTS]: an expression yielding nothing fails the execution with
    /// `States.QueryEvaluationError` and a cause naming the state, its entry event and the
    /// field.
    // See: #22
    #[tokio::test]
    async fn undefined_values_are_query_evaluation_errors_naming_the_field() {
        let r = rig(handlers()).await;
        let cases = [
            (
                json!({"Type": "Pass", "Output": {"result": "{% $doesNotExist %}"}, "End": true}),
                "Output/result",
            ),
            (
                json!({"Type": "Pass", "Assign": {"result": "{% $doesNotExist %}"}, "End": true}),
                "Assign/result",
            ),
            (
                json!({"Type": "Task", "Resource": "echo", "Arguments": "{% $doesNotExist %}", "End": true}),
                "Arguments",
            ),
        ];
        for (state, field) in cases {
            let def = json!({"QueryLanguage": "JSONata", "StartAt": "State0", "States": {"State0": state}});
            let (error, cause) = r.failure(&def, json!({})).await;
            assert_eq!(error, "States.QueryEvaluationError");
            assert_eq!(
                cause,
                format!(
                    "An error occurred while executing the state 'State0' (entered at the event \
                     id #2). The JSONata expression '$doesNotExist' specified for the field \
                     '{field}' returned nothing (undefined)."
                )
            );
        }
    }
}

mod recorded_jsonata {
    //! JSONata cases whose expected results were recorded against AWS Step Functions:
    //! LocalStack's AWS-validated snapshots (tests/aws/services/stepfunctions/v2/
    //! evaluate_jsonata and query_language, cited as "recorded, <test>[<id>]").
    use super::*;

    fn pass_output(output: Value) -> Value {
        json!({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {
            "Start": {"Type": "Pass", "Output": output, "End": true}
        }})
    }

    fn map_with(field: &str, value: Value) -> Value {
        let mut map = json!({
            "Type": "Map", "Items": [1], "MaxConcurrency": 1, "End": true,
            "ItemProcessor": {"StartAt": "Process", "States": {"Process": {"Type": "Pass", "End": true}}}
        });
        map[field] = value;
        json!({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {"Start": map}})
    }

    /// recorded, test_base_jsonata_regular_expressions[BASE, BASE_FALSE,
    /// BASE_SINGLE_QUOTE, BASE_SINGLE_QUOTE_FALSE]: regular expression literals.
    // See: #22
    #[tokio::test]
    async fn regular_expressions() {
        let r = rig(handlers()).await;
        let cases = [
            (r#"{% $contains("hello$world", /^hello\$/) %}"#, true),
            (r#"{% $contains("hello$world", /^hello\ /) %}"#, false),
            (r#"{% $contains('hello$world', /^hello\$/) %}"#, true),
            (r#"{% $contains('hello$world', /^hello\ /) %}"#, false),
        ];
        for (expression, expected) in cases {
            assert_eq!(
                r.output(&pass_output(json!(expression)), json!({})).await,
                json!(expected),
                "{expression}"
            );
        }
    }

    /// recorded, test_merge_with_dynamic_args: `$merge` over input members.
    // See: #22
    #[tokio::test]
    async fn merge_with_dynamic_arguments() {
        let r = rig(handlers()).await;
        let def = pass_output(json!(
            "{% $merge([$states.input.part1, $states.input.part2]) %}"
        ));
        assert_eq!(
            r.output(
                &def,
                json!({"part1": {"hello": "world"}, "part2": {"foo": "bar"}})
            )
            .await,
            json!({"hello": "world", "foo": "bar"})
        );
    }

    /// recorded, test_base_map[ITEMS, ITEMS_DOUBLE_QUOTES, MAX_CONCURRENCY,
    /// TOLERATED_FAILURE_PERCENTAGE, TOLERATED_FAILURE_COUNT]: an expression inside `Items`
    /// and expressions (`{% $variable := 1 %}`) as the Map's numbers, on an inline Map.
    // See: #22
    #[tokio::test]
    async fn map_fields_take_expressions() {
        let r = rig(handlers()).await;
        assert_eq!(
            r.output(
                &map_with("Items", json!([1, "{% $number('2') %}", 3])),
                json!({})
            )
            .await,
            json!([1, 2, 3])
        );
        assert_eq!(
            r.output(
                &map_with("Items", json!([1, "{% $number(\"2\") %}", 3])),
                json!({})
            )
            .await,
            json!([1, 2, 3])
        );
        for field in [
            "MaxConcurrency",
            "ToleratedFailurePercentage",
            "ToleratedFailureCount",
        ] {
            assert_eq!(
                r.output(&map_with(field, json!("{% $variable := 1 %}")), json!({}))
                    .await,
                json!([1]),
                "{field}"
            );
        }
    }

    /// recorded, test_base_task[TIMEOUT_SECONDS, HEARTBEAT_SECONDS]: a Task's timeouts as
    /// expressions.
    // See: #22
    #[tokio::test]
    async fn task_timeouts_take_expressions() {
        let r = rig(handlers()).await;
        for field in ["TimeoutSeconds", "HeartbeatSeconds"] {
            let mut task =
                json!({"Type": "Task", "Resource": "echo", "Arguments": {"a": 1}, "End": true});
            task[field] = json!("{% $variable := 1 %}");
            let def =
                json!({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {"Start": task}});
            assert_eq!(r.output(&def, json!({})).await, json!({"a": 1}), "{field}");
        }
    }

    /// recorded, test_query_language_field_override[JSONATA_OVERRIDE] and the
    /// JSONATA_OUTPUT_TO_JSONPATH template: a JSONata state in a JSONPath definition, its
    /// `Output` the next JSONPath state's input.
    // See: #22
    #[tokio::test]
    async fn jsonata_state_in_a_jsonpath_definition() {
        let r = rig(handlers()).await;
        let def = json!({"QueryLanguage": "JSONPath", "StartAt": "JSONataState", "States": {
            "JSONataState": {"QueryLanguage": "JSONata", "Type": "Pass",
                "Output": {"foo": "foobar", "bar": "{% $states.input %}"}, "Next": "JSONPathState"},
            "JSONPathState": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"k": 1})).await,
            json!({"foo": "foobar", "bar": {"k": 1}})
        );
    }
}

mod more_variables_and_jsonata {
    //! Further cases, cited like the modules above.
    use super::*;

    /// variables guide, "Assign in JSONPath states": a Map or Parallel state's own `Assign`
    /// reads its result (the array of iteration or branch outputs) and applies in the scope
    /// around it.
    // See: #22
    #[tokio::test]
    async fn map_and_parallel_assign_read_their_results() {
        let r = rig(handlers()).await;
        let def = json!({"StartAt": "Each", "States": {
            "Each": {"Type": "Map", "ItemsPath": "$.items", "Assign": {"first.$": "$[0]", "all.$": "$"}, "ResultPath": null, "Next": "Both",
                "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}},
            "Both": {"Type": "Parallel", "Assign": {"second.$": "$[1]"}, "ResultPath": null, "Next": "Show",
                "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "a", "End": true}}},
                    {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "b", "End": true}}}
                ]},
            "Show": {"Type": "Pass", "Parameters": {"first.$": "$first", "all.$": "$all", "second.$": "$second"}, "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"items": [7, 8]})).await,
            json!({"first": 7, "all": [7, 8], "second": "b"})
        );
    }

    /// JSONata guide, "Choice state": a rule's `Assign` applies when it matches, and the
    /// state's `Output` shapes what goes to the next state.
    // See: #22
    #[tokio::test]
    async fn jsonata_choice_rule_assign_and_output() {
        let r = rig(handlers()).await;
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Default": "Show",
                "Output": {"checked": "{% $states.input.n %}"},
                "Choices": [{"Condition": "{% $states.input.n > 1 %}", "Assign": {"size": "big"}, "Next": "Show"}],
                "Assign": {"size": "small"}},
            "Show": {"Type": "Pass", "Output": {"size": "{% $size %}", "input": "{% $states.input %}"}, "End": true}
        }});
        assert_eq!(
            r.output(&def, json!({"n": 5})).await,
            json!({"size": "big", "input": {"checked": 5}})
        );
        assert_eq!(
            r.output(&def, json!({"n": 0})).await,
            json!({"size": "small", "input": {"checked": 0}})
        );
    }

    /// JSONata guide, "Reserved variable: $states": `$states.context` is the context object.
    // See: #22
    #[tokio::test]
    async fn states_context_is_the_context_object() {
        let r = rig(handlers()).await;
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "Here", "States": {
            "Here": {"Type": "Pass", "End": true, "Output": {
                "state": "{% $states.context.State.Name %}",
                "input": "{% $states.context.Execution.Input.k %}",
                "machine": "{% $states.context.StateMachine.Name %}"
            }}
        }});
        assert_eq!(
            r.output(&def, json!({"k": "v"})).await,
            json!({"state": "Here", "input": "v", "machine": "conformance"})
        );
    }

    /// guide, "Redriving executions", with JSONata: variables assigned by a JSONata state
    /// before a failure are there when the redriven state runs.
    // See: #22
    #[tokio::test]
    async fn jsonata_variables_survive_redrive() {
        let fixed = Arc::new(AtomicU32::new(0));
        let mut h = handlers();
        let f = fixed.clone();
        h.insert(
            "flaky",
            Box::new(move |v, _| {
                if f.load(Ordering::SeqCst) == 0 {
                    return Err(StatesError::new("NotYet", "try again"));
                }
                Ok(v)
            }),
        );
        let r = rig(h).await;
        let def = json!({"QueryLanguage": "JSONata", "StartAt": "Keep", "States": {
            "Keep": {"Type": "Pass", "Assign": {"order": "{% $states.input.order %}"}, "Output": {}, "Next": "Call"},
            "Call": {"Type": "Task", "Resource": "flaky", "Arguments": {"order": "{% $order %}"}, "End": true}
        }});
        let e = r
            .start("jsonata-redrive", &def, json!({"order": "o-7"}))
            .await
            .unwrap();
        assert_eq!(e.status, Status::Failed);
        fixed.store(1, Ordering::SeqCst);
        let e = r.engine.redrive("jsonata-redrive").await.unwrap();
        assert_eq!(e.status, Status::Succeeded, "{e:?}");
        assert_eq!(e.output, Some(json!({"order": "o-7"})));
    }

    /// variables guide, "Variable names": a name that is not an identifier, or the reserved
    /// `states`, is refused when the definition loads.
    // See: #22
    #[tokio::test]
    async fn bad_variable_names_are_refused_at_load() {
        let r = rig(handlers()).await;
        for name in ["states", "1st", "with-dash"] {
            let def = single(json!({"Type": "Pass", "Assign": {name: 1}, "End": true}));
            let err = r
                .start(&format!("bad-{name}"), &def, json!({}))
                .await
                .unwrap_err();
            assert!(err.to_string().contains("Assign"), "{name}: {err}");
        }
    }
}
