//! Executions: starting by name, and redrive.

use super::*;

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
