//! The real binaries against a Runtime API: a small HTTP server in the test speaks the
//! Lambda Runtime API (`invocation/next`, `{id}/response`, `{id}/error`, `init/error`) on a
//! loopback port, and the `filter` and `quarantine` binaries built by cargo run against it
//! with `SLUICE_CATALOG=local` on a temporary workspace holding the orders example's files.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Mutex};

/// What the function told the Runtime API.
#[derive(Debug)]
enum Reported {
    Response { id: String, body: Value },
    Error { id: String, body: Value },
    InitError { body: Value },
}

/// A Runtime API on a loopback port: invocations go in through `invoke`, what the function
/// reports comes out of `next_report`.
struct RuntimeApi {
    addr: SocketAddr,
    events: mpsc::UnboundedSender<(String, Value)>,
    reports: mpsc::UnboundedReceiver<Reported>,
    served: tokio::task::JoinHandle<()>,
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    reports: mpsc::UnboundedSender<Reported>,
}

impl RuntimeApi {
    async fn start() -> RuntimeApi {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (events, events_rx) = mpsc::unbounded_channel();
        let (reports_tx, reports) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            reports: reports_tx,
        });
        let served = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(answer(&shared, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        RuntimeApi {
            addr,
            events,
            reports,
            served,
        }
    }

    fn invoke(&self, id: &str, payload: Value) {
        self.events.send((id.to_string(), payload)).unwrap();
    }

    async fn next_report(&mut self) -> Reported {
        tokio::time::timeout(Duration::from_secs(60), self.reports.recv())
            .await
            .expect("the function reported within a minute")
            .expect("the server is up")
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.served.abort();
    }
}

async fn answer(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let ok = |status: u16, body: Vec<u8>| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    if path == "/2018-06-01/runtime/invocation/next" {
        let Some((id, payload)) = shared.events.lock().await.recv().await else {
            return ok(500, vec![]);
        };
        let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
        return Response::builder()
            .status(200)
            .header("lambda-runtime-aws-request-id", id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:111122223333:function:sluice-filter",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793",
            )
            .body(Full::new(Bytes::from(payload.to_string())))
            .unwrap();
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rest = path.strip_prefix("/2018-06-01/runtime/").unwrap_or("");
    let report = match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["invocation", id, "response"] => Reported::Response {
            id: id.to_string(),
            body,
        },
        ["invocation", id, "error"] => Reported::Error {
            id: id.to_string(),
            body,
        },
        ["init", "error"] => Reported::InitError { body },
        _ => return ok(404, vec![]),
    };
    shared.reports.send(report).unwrap();
    ok(202, br#"{"status":"OK"}"#.to_vec())
}

/// A function process, killed when dropped (also when an assertion fails).
struct Function {
    child: Child,
    stdout: PathBuf,
}

impl Function {
    fn start(binary: &str, api: &RuntimeApi, vars: &HashMap<&str, String>, dir: &Path) -> Self {
        let stdout = dir.join(format!(
            "{}.stdout",
            Path::new(binary).display().to_string().replace('/', "_")
        ));
        let child = Command::new(binary)
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "sluice-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/sluice-test")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("RUST_LOG", "info")
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::from(std::fs::File::create(&stdout).unwrap()))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the function binary starts");
        Function { child, stdout }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A workspace with two orders files landed, and the variables that point a function at it.
fn workspace(dir: &Path) -> HashMap<&'static str, String> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let landing = dir.join("landing/orders");
    std::fs::create_dir_all(&landing).unwrap();
    for name in [
        "orders-2026-03-01.ndjson",
        "orders-2026-03-03-malformed.ndjson",
    ] {
        std::fs::copy(
            repo.join("examples/orders/data").join(name),
            landing.join(name),
        )
        .unwrap();
    }
    HashMap::from([
        (
            "SLUICE_CONFIG",
            repo.join("examples/orders/sluice.toml")
                .display()
                .to_string(),
        ),
        ("SLUICE_CATALOG", "local".to_string()),
        ("SLUICE_LOCAL_ROOT", dir.display().to_string()),
        ("SLUICE_LOG_FORMAT", "json".to_string()),
    ])
}

/// The documented `Object Created` event, about `key` of the local landing bucket.
fn object_created(dir: &Path, key: Value) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/object-created.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["detail"]["bucket"]["name"] = json!("landing");
    event["detail"]["object"]["key"] = key.clone();
    let object = event["detail"]["object"].as_object_mut().unwrap();
    object.remove("version-id");
    match key.as_str().map(|k| dir.join("landing").join(k)) {
        Some(file) if file.is_file() => {
            let bytes = std::fs::read(&file).unwrap();
            object.insert(
                "etag".into(),
                json!(sluice_core::object::content_hash(&bytes)),
            );
            object.insert("size".into(), json!(bytes.len()));
        }
        _ => {}
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_binary_claims_an_eventbridge_arrival_and_reports_kind_names() {
    let dir = tempfile::tempdir().unwrap();
    let vars = workspace(dir.path());
    let mut api = RuntimeApi::start().await;
    let _filter = Function::start(env!("CARGO_BIN_EXE_filter"), &api, &vars, dir.path());

    // (a) The EventBridge rule's input, wrapped by the definition's Parameters.
    let event = object_created(dir.path(), json!("orders/orders-2026-03-01.ndjson"));
    api.invoke("req-a", json!({"arrival": event, "execution": "ex-a"}));
    let Reported::Response { id, body } = api.next_report().await else {
        panic!("filter failed on a good arrival");
    };
    assert_eq!(id, "req-a");
    assert_eq!(body["status"], "accepted", "{body}");
    assert_eq!(body["table"], "orders");
    assert_eq!(body["object"]["key"], "orders/orders-2026-03-01.ndjson");
    assert_eq!(body["object"]["bucket"], "landing");

    // The same event again: the ledger knows the version now.
    api.invoke("req-a2", json!({"arrival": event, "execution": "ex-a2"}));
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("filter failed on a duplicate");
    };
    assert_eq!(body["status"], "duplicate", "{body}");

    // (b) A hostile key, not a string: BadInput, named as the definition's Catch names it,
    // with the quarantine reason in the errorMessage.
    let hostile = object_created(dir.path(), json!({"$ne": null}));
    api.invoke("req-b", json!({"arrival": hostile, "execution": "ex-b"}));
    let Reported::Error { id, body } = api.next_report().await else {
        panic!("a hostile key was accepted");
    };
    assert_eq!(id, "req-b");
    assert_eq!(body["errorType"], "BadInput", "{body}");
    let cause: Value = serde_json::from_str(body["errorMessage"].as_str().unwrap()).unwrap();
    assert_eq!(cause["reason"], "parse_error");

    // (c) A key of 64 KiB with a `..` segment: the filter takes no object under it, without
    // an error, and sends it to Quarantine as `unacceptable_key`, so it is accounted for.
    let huge = format!("orders/../{}", "x".repeat(64 << 10));
    api.invoke(
        "req-c",
        json!({"arrival": object_created(dir.path(), json!(huge)), "execution": "ex-c"}),
    );
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("a huge key failed the function");
    };
    assert_eq!(body["status"], "rejected", "{body}");
    assert_eq!(body["reason"], "unacceptable_key", "{body}");

    // (d) A native arrival (a replay's or reconciliation's input) still works; an input
    // that fits no payload is Internal.
    api.invoke(
        "req-d",
        json!({"arrival": {"bucket": "landing", "key": "orders/orders-2026-03-01.ndjson"}, "execution": "ex-d"}),
    );
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("a native arrival failed");
    };
    assert_eq!(body["status"], "duplicate", "{body}");
    api.invoke("req-e", json!({"arrival": 42}));
    let Reported::Error { body, .. } = api.next_report().await else {
        panic!("a broken input was answered");
    };
    assert_eq!(body["errorType"], "Internal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_binary_records_a_caught_eventbridge_input_and_counts_it() {
    let dir = tempfile::tempdir().unwrap();
    let vars = workspace(dir.path());
    let mut api = RuntimeApi::start().await;
    let quarantine = Function::start(env!("CARGO_BIN_EXE_quarantine"), &api, &vars, dir.path());

    // What Filter's Catch hands Quarantine on AWS: the execution input (the raw event) and,
    // at `$.error`, the Lambda error document Step Functions made of the filter's error.
    let mut state = object_created(
        dir.path(),
        json!("orders/orders-2026-03-03-malformed.ndjson"),
    );
    let error_message = json!({"reason": "parse_error", "detail": "line 3: not JSON"}).to_string();
    state["error"] = json!({
        "Error": "BadInput",
        "Cause": json!({"errorType": "BadInput", "errorMessage": error_message}).to_string(),
    });
    api.invoke("req-q", state);
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("quarantine failed");
    };
    assert_eq!(body["reason"], "parse_error", "{body}");
    assert_eq!(
        body["object"]["key"],
        "orders/orders-2026-03-03-malformed.ndjson"
    );
    let record = dir
        .path()
        .join("landing")
        .join(body["record_key"].as_str().unwrap());
    assert!(
        record.is_file(),
        "no quarantine record at {}",
        record.display()
    );

    // An event whose detail names no object (its key is not a string): Filter raised
    // BadInput and its Catch handed Quarantine the raw event. The event itself is recorded
    // and the execution ends; before, Quarantine failed with no Catch, for ever.
    // See: #15
    let mut malformed = object_created(dir.path(), json!({"$ne": null}));
    malformed["id"] = json!("17bd6f59-bad/../event");
    let error_message =
        json!({"reason": "parse_error", "detail": "the S3 Object Created event's detail names no object"})
            .to_string();
    malformed["error"] = json!({
        "Error": "BadInput",
        "Cause": json!({"errorType": "BadInput", "errorMessage": error_message}).to_string(),
    });
    api.invoke("req-m", malformed);
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("quarantine failed on an event that names no object");
    };
    assert_eq!(body["reason"], "parse_error", "{body}");
    assert_eq!(
        body["record_key"], ".sluice/quarantine/_events/17bd6f59-badevent.json",
        "{body}"
    );
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(
            dir.path()
                .join("landing")
                .join(body["record_key"].as_str().unwrap()),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        record["detail"]
            .as_str()
            .unwrap()
            .contains("names no object"),
        "{record}"
    );

    // The metric the CDK alarm reads, as one EMF line per quarantined input on stdout.
    let emf: Vec<Value> = quarantine
        .stdout()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), 2, "{emf:?}");
    assert_eq!(emf[0]["FilesQuarantined"], 1.0);
    assert_eq!(
        emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "sluice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_that_cannot_start_reports_an_init_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut vars = workspace(dir.path());
    let missing = dir.path().join("missing.toml");
    vars.insert("SLUICE_CONFIG", missing.display().to_string());
    let mut api = RuntimeApi::start().await;
    let mut filter = Function::start(env!("CARGO_BIN_EXE_filter"), &api, &vars, dir.path());
    let Reported::InitError { body } = api.next_report().await else {
        panic!("no init error");
    };
    assert_eq!(body["errorType"], "Runtime.InitError");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(message.contains("missing.toml"), "{message}");
    let status = tokio::task::spawn_blocking(move || {
        let status = filter.child.wait();
        (status, filter)
    })
    .await
    .unwrap()
    .0
    .unwrap();
    assert!(
        !status.success(),
        "the process went on after its init error"
    );
}

/// A Kafka event as Lambda delivers it (`eventSource` `aws:kafka` for Amazon MSK,
/// `SelfManagedKafka` otherwise): records keyed `<topic>-<partition>`, values in base64.
fn kafka_event(source: &str, topic: &str, partitions: &[(i64, Vec<(i64, &str)>)]) -> Value {
    let mut records = serde_json::Map::new();
    for (partition, values) in partitions {
        let list: Vec<Value> = values
            .iter()
            .map(|(offset, value)| {
                json!({
                    "topic": topic,
                    "partition": partition,
                    "offset": offset,
                    "timestamp": 1_765_000_000_000i64,
                    "timestampType": "CREATE_TIME",
                    "key": aws_smithy_types::base64::encode(format!("k{offset}")),
                    "value": aws_smithy_types::base64::encode(value),
                    "headers": [{"source": [115, 108]}],
                })
            })
            .collect();
        records.insert(format!("{topic}-{partition}"), Value::Array(list));
    }
    let mut event = json!({"eventSource": source, "records": records});
    match source {
        "aws:kafka" => {
            event["eventSourceArn"] = json!(
                "arn:aws:kafka:eu-west-1:111122223333:cluster/shop/a1b2c3d4-5678-90ab-cdef-11111EXAMPLE-1"
            );
            event["bootstrapServers"] =
                json!("b-1.shop.a1b2c3.c2.kafka.eu-west-1.amazonaws.com:9092");
        }
        _ => event["bootstrapServers"] = json!("kafka-1.example.com:9092"),
    }
    event
}

/// Every stream object's lines under `dir`, by key.
fn stream_objects(root: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = vec![];
    let mut stack = vec![root.join("landing/orders/stream")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                let key = path
                    .strip_prefix(root.join("landing"))
                    .unwrap()
                    .display()
                    .to_string();
                out.push((key, text.lines().map(str::to_string).collect()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_binary_writes_msk_and_self_managed_kafka_batches_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let vars = workspace(dir.path());
    let mut api = RuntimeApi::start().await;
    let _stream = Function::start(env!("CARGO_BIN_EXE_stream"), &api, &vars, dir.path());
    let good = |n: i64| {
        format!(
            r#"{{"order_id": {n}, "ordered_at": "2026-03-01T04:25:00Z", "customer_email": "c{n}@example.com", "status": "placed", "quantity": 1, "amount": 1.5}}"#
        )
    };
    let rows: Vec<String> = (0..6).map(good).collect();

    // MSK: two partitions of topic `orders` (the table of that name); one record is not JSON.
    let msk = kafka_event(
        "aws:kafka",
        "orders",
        &[
            (
                0,
                vec![
                    (10, rows[0].as_str()),
                    (11, "not json"),
                    (12, rows[1].as_str()),
                ],
            ),
            (1, vec![(7, rows[2].as_str())]),
        ],
    );
    api.invoke("k1", msk.clone());
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("the stream function failed on an MSK batch");
    };
    assert_eq!(body, json!({"batchItemFailures": []}));
    let objects = stream_objects(dir.path());
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert_eq!(
        objects[0].0,
        "orders/stream/kafka/orders/0/00000000000000000010-00000000000000000012.ndjson"
    );
    // The bad record is a line like the others: its contract will reject it, by line.
    assert_eq!(
        objects[0].1,
        vec![rows[0].clone(), "not json".into(), rows[1].clone()]
    );

    // The same batch again (Lambda retrying after a lost answer), then a self-managed
    // cluster's batch that starts inside partition 0's (an offset reset): only the records
    // past what was written become an object.
    api.invoke("k2", msk);
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("the stream function failed on a repeated batch");
    };
    assert_eq!(body, json!({"batchItemFailures": []}));
    assert_eq!(stream_objects(dir.path()).len(), 2);
    let replay = kafka_event(
        "SelfManagedKafka",
        "orders",
        &[(
            0,
            vec![
                (11, "not json"),
                (12, rows[1].as_str()),
                (13, rows[3].as_str()),
            ],
        )],
    );
    api.invoke("k3", replay);
    let Reported::Response { body, .. } = api.next_report().await else {
        panic!("the stream function failed on a self-managed batch");
    };
    assert_eq!(body, json!({"batchItemFailures": []}));
    let objects = stream_objects(dir.path());
    assert_eq!(objects.len(), 3, "{objects:?}");
    assert!(objects.iter().any(|(k, lines)| k
        .ends_with("/0/00000000000000000013-00000000000000000013.ndjson")
        && lines == &vec![rows[3].clone()]));

    // Checkpoints and indexes are control objects, outside the table's prefix.
    let control = dir
        .path()
        .join("landing/.sluice/streams/shop.orders/kafka/orders/0");
    assert!(control.join("checkpoint.json").is_file());
    assert!(control
        .join("00000000000000000010-00000000000000000012.json")
        .is_file());

    // An event that is neither Kinesis's nor Kafka's is an error, not an empty success.
    api.invoke("k4", json!({"records": "nope"}));
    let Reported::Error { body, .. } = api.next_report().await else {
        panic!("a broken event was answered");
    };
    assert_eq!(body["errorType"], "Internal", "{body}");
}

/// An HTTP API request, payload format 2.0, as API Gateway sends it to the receive function.
fn http_request(
    method: &str,
    route: &str,
    path: &str,
    headers: Value,
    body: Option<&[u8]>,
) -> Value {
    let mut params = serde_json::Map::new();
    let segments: Vec<&str> = path.split('/').collect();
    match route {
        "POST /tables/{table}/arrivals" => {
            params.insert("table".into(), json!(segments[2]));
        }
        "GET /arrivals/{id}" => {
            params.insert("id".into(), json!(segments[2]));
        }
        _ => {}
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "pathParameters": params,
        "requestContext": {
            "accountId": "111122223333",
            "apiId": "a1b2c3d4",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
            "requestId": "r1",
            "routeKey": route,
            "stage": "$default",
            "timeEpoch": 1_765_000_000_000i64
        },
        "isBase64Encoded": false,
    });
    if let Some(body) = body {
        event["body"] = json!(aws_smithy_types::base64::encode(body));
        event["isBase64Encoded"] = json!(true);
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receive_binary_answers_the_http_api_as_sluice_serve_does() {
    let dir = tempfile::tempdir().unwrap();
    let vars = workspace(dir.path());
    let mut api = RuntimeApi::start().await;
    let _receive = Function::start(env!("CARGO_BIN_EXE_receive"), &api, &vars, dir.path());
    let body = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/orders/data/orders-2026-03-01.ndjson"),
    )
    .unwrap();
    let ndjson =
        json!({"content-type": "application/x-ndjson", "idempotency-key": "order-batch-1"});
    api.invoke(
        "p1",
        http_request(
            "POST",
            "POST /tables/{table}/arrivals",
            "/tables/orders/arrivals",
            ndjson.clone(),
            Some(&body),
        ),
    );
    let Reported::Response { body: answer, .. } = api.next_report().await else {
        panic!("receive failed");
    };
    assert_eq!(answer["statusCode"], 202, "{answer}");
    let out: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    let id = out["id"].as_str().unwrap().to_string();
    let key = out["key"].as_str().unwrap();
    assert_eq!(key, format!("orders/webhook/{id}.ndjson"));
    assert_eq!(
        std::fs::read(dir.path().join("landing").join(key)).unwrap(),
        body
    );
    assert_eq!(out["repeated"], false);

    // The same key and body again: the same arrival. The same key, other bytes: 409.
    api.invoke(
        "p2",
        http_request(
            "POST",
            "POST /tables/{table}/arrivals",
            "/tables/orders/arrivals",
            ndjson.clone(),
            Some(&body),
        ),
    );
    let Reported::Response { body: answer, .. } = api.next_report().await else {
        panic!("receive failed");
    };
    let out: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (out["id"].as_str(), out["repeated"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    api.invoke(
        "p3",
        http_request(
            "POST",
            "POST /tables/{table}/arrivals",
            "/tables/orders/arrivals",
            ndjson.clone(),
            Some(b"{\"order_id\": 1}\n"),
        ),
    );
    let Reported::Response { body: answer, .. } = api.next_report().await else {
        panic!("receive failed");
    };
    assert_eq!(answer["statusCode"], 409, "{answer}");

    // Refused with a reason, nothing stored: another type, a body not of its type, no table.
    for (n, (headers, body, table, status)) in [
        (
            json!({"content-type": "text/plain"}),
            &b"a"[..],
            "orders",
            415,
        ),
        (
            json!({"content-type": "application/x-ndjson"}),
            b"[1, 2]",
            "orders",
            400,
        ),
        (
            json!({"content-type": "text/csv"}),
            b"a,b\n",
            "nowhere",
            404,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("/tables/{table}/arrivals");
        api.invoke(
            &format!("bad{n}"),
            http_request(
                "POST",
                "POST /tables/{table}/arrivals",
                &path,
                headers,
                Some(body),
            ),
        );
        let Reported::Response { body: answer, .. } = api.next_report().await else {
            panic!("receive failed");
        };
        assert_eq!(answer["statusCode"], status, "{answer}");
    }
    let webhook_dir = dir.path().join("landing/orders/webhook");
    assert_eq!(std::fs::read_dir(&webhook_dir).unwrap().count(), 1);

    // Where it stands: received (nothing has run it here).
    let path = format!("/arrivals/{id}");
    api.invoke(
        "g1",
        http_request("GET", "GET /arrivals/{id}", &path, json!({}), None),
    );
    let Reported::Response { body: answer, .. } = api.next_report().await else {
        panic!("receive failed");
    };
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let out: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (out["status"].as_str(), out["table"].as_str()),
        (Some("received"), Some("orders"))
    );
    api.invoke(
        "g2",
        http_request(
            "GET",
            "GET /arrivals/{id}",
            "/arrivals/0123456789abcdef01234567",
            json!({}),
            None,
        ),
    );
    let Reported::Response { body: answer, .. } = api.next_report().await else {
        panic!("receive failed");
    };
    assert_eq!(answer["statusCode"], 404, "{answer}");
}
