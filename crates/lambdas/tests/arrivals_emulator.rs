//! Pushed arrivals, end to end on the emulator: a webhook body through the HTTP API, the
//! receive function, S3, EventBridge, Step Functions and the ingest functions; Kinesis
//! records through the event source mapping and the stream function into objects and the
//! same path; a replayed stream (the iterator moved back to the oldest record) adding
//! nothing; and the ArrivalReceived events reaching the sluice bus.
//!
//! What the emulator cannot show, tested elsewhere: IAM authorization of the API (it does not
//! enforce IAM; the CDK test asserts the routes' `AWS_IAM`), Kafka (it has no Kafka data
//! plane; `tests/runtime.rs` drives the stream binary with MSK and self-managed payloads).

mod common;

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::Value;
use sluice_aws::emulator::{Ministack, Stack};
use sluice_steps::receive::{sign, SIGNATURE_HEADER};
use sluice_tests::order;

/// Rows in the Glue table now (its snapshot summary's `total-records`).
async fn total_rows(stack: &Stack) -> u64 {
    let lake = sluice_aws::open_glue_lake(&stack.sdk, &stack.warehouse)
        .await
        .unwrap();
    let Some(table) = lake.load(&stack.config.tables[0]).await.unwrap() else {
        return 0;
    };
    table
        .metadata()
        .current_snapshot()
        .and_then(|s| {
            s.summary()
                .additional_properties
                .get("total-records")
                .cloned()
        })
        .map(|n| n.parse().unwrap())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_bodies_and_kinesis_records_land_once_through_the_deployed_functions() {
    let ministack = Ministack::shared().unwrap_or_else(|e| panic!("{e}"));
    let mut stack = Stack::deploy(
        ministack,
        &common::repo().join("examples/orders/sluice.toml"),
        &common::binaries(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let mut arrivals = stack
        .deploy_arrivals(&common::binaries())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let http = sluice_aws::s3tables::http_client();
    let url = format!("{}/tables/orders/arrivals", arrivals.webhook_url);
    let body: String = (9001..=9010).map(|id| format!("{}\n", order(id))).collect();

    // Unsigned: 401; signed with another secret: 403; nothing stored for either.
    let post = |signature: Option<String>, key: &str, body: String| {
        let mut request = http
            .post(&url)
            .header("content-type", "application/x-ndjson")
            .header("idempotency-key", key)
            .body(body);
        if let Some(s) = signature {
            request = request.header(SIGNATURE_HEADER, s);
        }
        request.send()
    };
    let answer = post(None, "first", body.clone()).await.unwrap();
    assert_eq!(answer.status().as_u16(), 401, "{:?}", answer.text().await);
    let answer = post(
        Some(sign(b"not the secret", body.as_bytes())),
        "first",
        body.clone(),
    )
    .await
    .unwrap();
    assert_eq!(answer.status().as_u16(), 403);

    // Signed: 202 with the arrival's id; the same again (a sender's retry): the same id.
    let signed = sign(&arrivals.secret, body.as_bytes());
    let answer = post(Some(signed.clone()), "first", body.clone())
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    let accepted: Value = answer.json_or_panic().await;
    let id = accepted["id"].as_str().unwrap().to_string();
    assert_eq!(accepted["key"], format!("orders/webhook/{id}.ndjson"));
    let again: Value = post(Some(signed), "first", body.clone())
        .await
        .unwrap()
        .json_or_panic()
        .await;
    assert_eq!(
        (again["id"].as_str(), again["repeated"].as_bool()),
        (Some(id.as_str()), Some(true))
    );

    // Forty records and one that is not JSON, on the stream.
    let mut records: Vec<(String, Vec<u8>)> = (9101..=9140)
        .map(|id| (format!("p{}", id % 4), order(id).to_string().into_bytes()))
        .collect();
    records.insert(17, ("p9".into(), b"{\"order_id\": 9999, oops".to_vec()));
    stack.put_records(&arrivals, &records).await.unwrap();

    // The webhook's object and the stream's objects each become an execution, and each
    // ends well; the table has the body's 10 rows and the stream's 40.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let stream_objects = sluice_aws::S3Store::from_conf(&stack.sdk, stack.bucket.clone());
        let listed = sluice_store::ObjectStore::list(&stream_objects, "orders/stream/")
            .await
            .unwrap();
        let written: usize = listed.len();
        if written > 0 && total_rows(&stack).await >= 50 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{written} stream objects, {} rows after 300 s",
            total_rows(&stack).await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let executions = stack
        .wait_for_executions(ministack, 2, Duration::from_secs(300))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(e) = executions
        .iter()
        .find(|e| e.status != ExecutionStatus::Succeeded)
    {
        panic!("{}", stack.why_failed(ministack, e).await);
    }
    assert_eq!(total_rows(&stack).await, 50);

    // Where the webhook's arrival stands, signed over its path.
    let path = format!("/arrivals/{id}");
    let status: Value = http
        .get(format!("{}{path}", arrivals.webhook_url))
        .header(SIGNATURE_HEADER, sign(&arrivals.secret, path.as_bytes()))
        .send()
        .await
        .unwrap()
        .json_or_panic()
        .await;
    assert_eq!(status["status"], "committed", "{status}");
    assert_eq!(status["rows"]["valid"], 10, "{status}");

    // The iterator moved back to the oldest record: every record comes again, and is
    // skipped as written.
    let executions_before = executions.len();
    stack.replay_stream(&mut arrivals).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stack
        .stream_mapping_result(&arrivals)
        .await
        .unwrap()
        .is_some_and(|r| r.starts_with("OK"))
    {
        assert!(
            Instant::now() < deadline,
            "the replayed records were not delivered"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let executions = stack
        .wait_for_executions(ministack, executions_before, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(
        executions.len(),
        executions_before,
        "the replay wrote an object"
    );
    assert_eq!(total_rows(&stack).await, 50);

    // ArrivalReceived for the body and for each stream object, on the bus.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut received: Vec<Value> = vec![];
    let arrived = |received: &[Value]| {
        received
            .iter()
            .filter(|e| e["detail-type"] == "ArrivalReceived")
            .cloned()
            .collect::<Vec<_>>()
    };
    while arrived(&received).len() < executions_before {
        assert!(
            Instant::now() < deadline,
            "events on the bus: {received:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        received.extend(stack.received_events().await.unwrap());
    }
    let arrived = arrived(&received);
    assert!(arrived
        .iter()
        .any(|e| e["detail"]["detail"]["arrival_id"] == id.as_str()));
    let from_stream: u64 = arrived
        .iter()
        .filter_map(|e| e["detail"]["detail"]["stream"]["records"].as_u64())
        .sum();
    assert_eq!(from_stream, 41, "{arrived:#?}");
}

/// `json()` with the body named when it is not JSON.
trait JsonOrPanic {
    async fn json_or_panic(self) -> Value;
}

impl JsonOrPanic for reqwest_rest_catalog::Response {
    async fn json_or_panic(self) -> Value {
        let status = self.status();
        let text = self.text().await.unwrap();
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: {text:?} is not JSON: {e}"))
    }
}
