//! `sluice serve`: the webhook API over the local workspace (on AWS, the stack's HTTP API in
//! front of the receive function, over the same `sluice_steps::receive`). A body posted to
//! `POST /tables/{table}/arrivals` is written into the landing bucket under the table's prefix (`sluice_steps::receive`: claim-check, a key the
//! request decides) and answered `202 Accepted` with the arrival's id; then it runs through
//! the definition as any arrival does, in the order received: the runner takes up every body
//! waiting at once (up to `[commit] max_batches`) and runs them together, as `sluice ingest`
//! runs many files, so that their commits go into one snapshot (group commit); the next group
//! starts when this one has ended.
//! `GET /arrivals/{id}` answers from the ledger: received, processing, committed (snapshot,
//! rows), quarantined (reason, detail) or filtered.
//!
//! A body received but not yet run when the server stops is in the bucket already: `sluice
//! reconcile` finds and runs it, as it does an object whose S3 event was lost.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use sluice_core::size::ByteSize;
use sluice_local::{ArrivalReport, Local};
use sluice_steps::payload::{Arrival, ArrivalEvent};
use sluice_steps::receive::{
    self, ReceiveError, Received, SignatureError, Signed, SIGNATURE_HEADER,
};
use tokio::sync::{mpsc, oneshot};

use crate::ingest::open_with_progress;
use crate::print::{exit_code, summary};

pub const ABOUT: &str = "\
Serve the webhook API over the local workspace: each body posted to POST
/tables/{table}/arrivals is written to the landing bucket under the table's prefix and
ingested as any arrival is, in the order received (the bodies waiting when the runner takes
up the next ones run together, --jobs of them validated at once, and commit as one
snapshot); GET /arrivals/{id} says where it stands.

  sluice serve                                  # http://127.0.0.1:8700
  curl -X POST -H 'Content-Type: application/x-ndjson' -H 'Idempotency-Key: 42' \\
       --data-binary @orders.ndjson http://127.0.0.1:8700/tables/orders/arrivals
  curl http://127.0.0.1:8700/arrivals/<id>

Content types: application/x-ndjson (or application/jsonl), application/json (an object or
an array of objects), text/csv; UTF-8, uncompressed. The same Idempotency-Key twice is one
arrival, answered with the same id (without the header, the same body twice is); the same key
with another body is refused (409). Answers: 202 with {id, key, status_url}; 400 (a body
that is not its type, a bad key), 401/403 (unsigned, badly signed), 404 (no such table), 409,
413 (over --max-body), 415 (another type or an encoding), 503 (the queue is full: retry).

With a secret in the environment variable --secret-env names (default
SLUICE_WEBHOOK_SECRET), every request must be signed: X-Sluice-Signature-256:
sha256=<hex HMAC-SHA256 of the body> (of the path, /arrivals/<id>, for a GET), as GitHub
signs its webhooks. Listening on anything but a loopback address needs a secret.

A body received but not yet ingested when the server stops is in the bucket already: `sluice
reconcile` runs it.";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address and port to listen on (port 0: any free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: SocketAddr,
    /// Environment variable that holds the shared secret requests are signed with. Unset or
    /// empty: requests are not checked, which only a loopback --listen allows.
    #[arg(long, default_value = "SLUICE_WEBHOOK_SECRET")]
    secret_env: String,
    /// Largest body taken (`16MiB`, `512KB`); larger ones are answered 413 unread.
    #[arg(long, default_value = "16MiB")]
    max_body: ByteSize,
    /// Bodies waiting to be ingested, at most; past it requests are answered 503.
    #[arg(long, default_value_t = 1000)]
    queue: usize,
    /// Bodies validated at once (reading, checking rows, writing Parquet), as `sluice ingest
    /// --jobs`. Every body waiting when the runner takes up the next ones (up to `[commit]
    /// max_batches`) is under way at once, and their commits go into one snapshot.
    #[arg(long, short = 'j', default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,
    /// Stop after this many arrivals have been ingested (for scripts and tests); default:
    /// run until Ctrl-C or SIGTERM (requests in flight are answered first).
    #[arg(long)]
    stop_after: Option<usize>,
    /// Print each result as a JSON line instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Arrivals run at once, at most, whatever `[commit] max_batches` says: each holds an
/// execution lock file while it runs (as in `sluice ingest`).
const MAX_GROUP: usize = 256;

/// One received body to run, and who waits for its report (`?wait=true`).
struct Job {
    received: Received,
    done: Option<oneshot::Sender<ArrivalReport>>,
}

struct Shared {
    local: Local,
    secret: Option<Vec<u8>>,
    max_body: u64,
    jobs: mpsc::Sender<Job>,
}

pub async fn run(root: &Path, config: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let secret = std::env::var(&args.secret_env)
        .ok()
        .filter(|s| !s.is_empty())
        .map(String::into_bytes);
    if secret.is_none() && !args.listen.ip().is_loopback() {
        bail!(
            "--listen {} is reachable from other machines, and {} holds no secret: anyone could \
             post rows. Set {} to a shared secret (senders sign with it), or listen on 127.0.0.1",
            args.listen,
            args.secret_env,
            args.secret_env
        );
    }
    let local = open_with_progress(root, config, Some(usize::from(args.jobs))).await?;
    let (jobs, mut queue) = mpsc::channel::<Job>(args.queue.max(1));
    let shared = Arc::new(Shared {
        local: local.clone(),
        secret,
        max_body: args.max_body.bytes(),
        jobs,
    });
    let app = Router::new()
        .route("/tables/{table}/arrivals", post(arrive))
        .route("/arrivals/{id}", get(arrival_status))
        .route("/health", get(|| async { "ok" }))
        // The handler reads the body itself, to answer an oversize one with the limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    outln!("listening on http://{addr}");
    eprintln!(
        "POST http://{addr}/tables/<table>/arrivals, GET http://{addr}/arrivals/<id>{} (Ctrl-C to stop)",
        if shared.secret.is_some() {
            "; requests must be signed"
        } else {
            ""
        }
    );

    // The runner: the arrivals in the order received, each group of those waiting together
    // (see `run_group`).
    let stop = Arc::new(tokio::sync::Notify::new());
    let (json, stop_after) = (args.json, args.stop_after);
    let most = local.ctx.config.commit.max_batches.clamp(1, MAX_GROUP);
    let runner = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut reports = vec![];
            while let Some(first) = queue.recv().await {
                // Every arrival waiting now, up to a group, and never past --stop-after.
                let room = stop_after.map_or(most, |n| n.saturating_sub(reports.len()).min(most));
                let mut group = vec![first];
                while group.len() < room {
                    match queue.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                for report in run_group(&local, group).await {
                    if json {
                        match serde_json::to_string(&report) {
                            Ok(line) => outln!("{line}"),
                            Err(e) => eprintln!("{e}"),
                        }
                    } else {
                        outln!("{}", crate::watch::line(&report));
                    }
                    reports.push(report);
                }
                if stop_after.is_some_and(|n| reports.len() >= n) {
                    stop.notify_one();
                    break;
                }
            }
            reports
        })
    };
    let shutdown = {
        let stop = stop.clone();
        async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminated() => {}
                _ = stop.notified() => {}
            }
        }
    };
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    // No more requests: the runner ends with the queue (or has ended at --stop-after).
    drop(shared);
    let reports = runner.await.unwrap_or_default();
    outln!("{}", summary(&reports));
    Ok(exit_code(&reports))
}

/// Runs a group of received arrivals at once, as `sluice ingest` runs many files: each an
/// execution of its own, all of them counted as on their way to their table from the start,
/// so that their commits wait for one another and go into one snapshot (group commit, see
/// `sluice_steps::flow`) instead of a snapshot each. The group ends before the next one is
/// taken up: every arrival of a group is committed before any of a later group.
/// Returns the reports in the order received; an arrival whose execution could not be run is
/// named on stderr and left out (it is in the bucket: `sluice reconcile` runs it).
async fn run_group(local: &Local, group: Vec<Job>) -> Vec<ArrivalReport> {
    // A body sent twice is one object: its second execution waits for the first to end and
    // stages nothing, so it is not counted as on its way (a committer would wait for it).
    let mut keys = std::collections::HashSet::new();
    let running: Vec<_> = group
        .into_iter()
        .map(|job| {
            let on_its_way = keys
                .insert(job.received.key.clone())
                .then(|| local.ctx.flow.arrival(&job.received.table));
            let local = local.clone();
            let key = job.received.key.clone();
            let task = tokio::spawn(async move {
                let _on_its_way = on_its_way;
                let arrival = Arrival {
                    bucket: local.ctx.store.bucket().to_string(),
                    key: job.received.key.clone(),
                    version_id: job.received.meta.version_id.clone(),
                    etag: Some(job.received.meta.etag.clone()),
                    sequencer: None,
                    event: ArrivalEvent::Created,
                    time: None,
                };
                let report = local.ingest_counted(&arrival).await;
                if let (Ok(report), Some(done)) = (&report, job.done) {
                    let _ = done.send(report.clone());
                }
                report
            });
            (key, task)
        })
        .collect();
    let mut reports = Vec::with_capacity(running.len());
    for (key, task) in running {
        match task.await {
            Ok(Ok(report)) => reports.push(report),
            Ok(Err(e)) => eprintln!("{}: {e:#}", key.escape_debug()),
            Err(e) => eprintln!(
                "{}: the arrival's task ended abnormally: {e}",
                key.escape_debug()
            ),
        }
    }
    reports
}

/// SIGTERM, as service managers stop a server; never elsewhere.
async fn terminated() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        term.recv().await;
        return;
    }
    std::future::pending::<()>().await
}

#[derive(Debug, Deserialize)]
struct ArriveQuery {
    /// Answer once the arrival has run, with where it stands.
    #[serde(default)]
    wait: bool,
}

/// An error answer, `{error, message}`, with `status` (as `ReceiveError::status` and
/// `SignatureError::status` name them); a 503 says when to send again (`Retry-After`).
fn error(status: u16, code: &str, message: impl std::fmt::Display) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = (status, Json(receive::error_body(code, message))).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        r.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from_static(receive::RETRY_AFTER_SECS),
        );
    }
    r
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn unauthorized(e: SignatureError) -> Response {
    error(e.status(), e.code(), e)
}

async fn arrive(
    State(shared): State<Arc<Shared>>,
    UrlPath(table): UrlPath<String>,
    Query(query): Query<ArriveQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if shared.secret.is_some() && headers.get(SIGNATURE_HEADER).is_none() {
        return unauthorized(SignatureError::Missing);
    }
    let limit = shared.max_body;
    let too_large = || {
        let e = ReceiveError::TooLarge { limit };
        error(e.status(), e.code(), e)
    };
    let declared = header_str(&headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    let body = match to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX)).await {
        Ok(body) => body,
        Err(_) => return too_large(),
    };
    if let Err(e) = receive::authorize(
        shared.secret.as_deref(),
        Signed::Body(&body),
        header_str(&headers, SIGNATURE_HEADER),
    ) {
        return unauthorized(e);
    }
    let request = receive::Request {
        table: &table,
        content_type: header_str(&headers, header::CONTENT_TYPE),
        content_encoding: header_str(&headers, header::CONTENT_ENCODING),
        idempotency_key: header_str(&headers, "idempotency-key"),
        body,
    };
    let received = match receive::receive(
        shared.local.ctx.store.as_ref(),
        &shared.local.ctx.config,
        request,
        limit,
    )
    .await
    {
        Ok(received) => received,
        Err(e) => return error(e.status(), e.code(), e),
    };
    tracing::info!(table = %received.table, id = %received.id, key = %received.key, repeated = received.repeated, "arrival received");
    let (done, waited) = match query.wait {
        true => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let job = Job {
        received: received.clone(),
        done,
    };
    if shared.jobs.try_send(job).is_err() {
        // The body is in the bucket: `sluice reconcile` would find it; a retry runs it.
        return error(
            503,
            "busy",
            format!(
                "{} arrivals wait to be ingested; send again later (this body is kept as {})",
                shared.jobs.max_capacity(),
                received.key
            ),
        );
    }
    let mut out = receive::accepted(&received);
    if let Some(waited) = waited {
        if waited.await.is_ok() {
            if let Ok(Some(status)) = receive::status(&shared.local.ctx, &received.id).await {
                if let Ok(v) = serde_json::to_value(&status) {
                    out = merge(out, v);
                }
            }
        }
        return (StatusCode::OK, Json(out)).into_response();
    }
    let mut r = (StatusCode::ACCEPTED, Json(out)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&receive::status_path(&received.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn merge(mut base: Value, over: Value) -> Value {
    if let (Some(b), Value::Object(o)) = (base.as_object_mut(), over) {
        for (k, v) in o {
            b.insert(k, v);
        }
    }
    base
}

async fn arrival_status(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(e) = receive::authorize(
        shared.secret.as_deref(),
        Signed::Status(&id),
        header_str(&headers, SIGNATURE_HEADER),
    ) {
        return unauthorized(e);
    }
    match receive::status(&shared.local.ctx, &id).await {
        Ok(Some(status)) => Json(status).into_response(),
        Ok(None) => error(
            404,
            "unknown_arrival",
            format!("no arrival {id:?} was received"),
        ),
        Err(e) => error(503, "unavailable", e),
    }
}
