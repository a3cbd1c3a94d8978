//! Task states: retries on the clock, catchers, timeouts, the history of a task.

use super::*;

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
