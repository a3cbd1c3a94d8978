//! `sluice serve` over real HTTP: the webhook API a sender meets. Bodies of each content type
//! land once per idempotency key and are ingested as any arrival; the status answers from the
//! ledger; every bad request is refused with its status and nothing stored; a secret makes
//! unsigned and badly signed requests fail.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_steps::receive::sign;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server {
    child: Child,
    addr: String,
    workspace: PathBuf,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `sluice serve` on a free port of 127.0.0.1 over a fresh workspace with the orders
    /// example, with `args` and the secret (if any) in its environment.
    fn start(args: &[&str], secret: Option<&str>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let config = repo().join("examples/orders/sluice.toml");
        let workspace = dir.path().join("ws");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
        cmd.arg("--config")
            .arg(&config)
            .arg("--workspace")
            .arg(&workspace)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("SLUICE_FAILPOINTS")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        match secret {
            Some(s) => cmd.env("SLUICE_WEBHOOK_SECRET", s),
            None => cmd.env_remove("SLUICE_WEBHOOK_SECRET"),
        };
        let mut child = cmd.spawn().expect("start sluice serve");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line: {first:?}"))
            .to_string();
        Server {
            child,
            addr,
            workspace,
            config,
            _dir: dir,
        }
    }

    /// One request with `Connection: close`: the status, the headers (lower-cased names) and
    /// the body as JSON (or a string).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<(String, String)>, Value) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer (413) before the body is sent whole, and close.
        let _ = stream.write_all(body);
        let mut raw = vec![];
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.into()));
        (status, headers, body)
    }

    fn post(&self, table: &str, content_type: &str, key: Option<&str>, body: &str) -> (u16, Value) {
        let mut headers = vec![("Content-Type", content_type)];
        if let Some(key) = key {
            headers.push(("Idempotency-Key", key));
        }
        let (status, _, body) = self.request(
            "POST",
            &format!("/tables/{table}/arrivals"),
            &headers,
            body.as_bytes(),
        );
        (status, body)
    }

    /// Polls `GET /arrivals/{id}` until it is no longer received or processing.
    fn settled(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, _, body) = self.request("GET", &format!("/arrivals/{id}"), &[], b"");
            assert_eq!(status, 200, "{body}");
            let state = body["status"].as_str().unwrap().to_string();
            if state != "received" && state != "processing" {
                return body;
            }
            assert!(Instant::now() < deadline, "still {state}: {body}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the server to stop (--stop-after) and returns its stdout after the first
    /// line.
    fn finish(&mut self) -> String {
        let mut rest = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut rest)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve exited {status:?}: {rest}");
        rest
    }

    /// `sluice ARGS` over the server's workspace (after it stopped).
    fn sluice(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .arg("--config")
            .arg(&self.config)
            .arg("--workspace")
            .arg(&self.workspace)
            .args(args)
            .output()
            .unwrap()
    }

    /// Files written into the landing bucket under the orders prefix's webhook directory.
    fn landed(&self) -> usize {
        std::fs::read_dir(self.workspace.join("landing/orders/webhook"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn order(id: u64, status: &str) -> String {
    format!(
        "{{\"order_id\":{id},\"ordered_at\":\"2026-03-01T10:00:00Z\",\"customer_email\":\"c{id}@example.com\",\
         \"status\":\"{status}\",\"quantity\":1,\"amount\":9.5}}"
    )
}

#[test]
fn posted_bodies_land_once_per_key_and_answer_where_they_stand() {
    let server = Server::start(&["--stop-after", "5", "--max-body", "4KB"], None);
    let ndjson = format!("{}\n{}\n", order(1, "paid"), order(2, "paid"));

    // NDJSON with a key: accepted, then committed with its rows.
    let (status, first) = server.post("orders", "application/x-ndjson", Some("k-1"), &ndjson);
    assert_eq!(status, 202, "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    assert_eq!(first["status_url"], format!("/arrivals/{id}"));
    assert_eq!(first["repeated"], false);
    let done = server.settled(&id);
    assert_eq!(done["status"], "committed", "{done}");
    assert_eq!(done["rows"]["valid"], 2, "{done}");
    assert!(done["snapshot_id"].as_i64().is_some(), "{done}");
    assert_eq!(done["table"], "orders");

    // The same key and body again: the same arrival, nothing new (a duplicate run).
    let (status, again) = server.post("orders", "application/x-ndjson", Some("k-1"), &ndjson);
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["id"], id.as_str());
    assert_eq!(again["repeated"], true);
    // The same key with another body: refused, nothing written.
    let (status, reused) = server.post(
        "orders",
        "application/x-ndjson",
        Some("k-1"),
        &order(3, "paid"),
    );
    assert_eq!(status, 409, "{reused}");
    assert_eq!(reused["error"], "idempotency_key_reused");

    // A JSON array and CSV, waited for: answered with where they stand.
    let array = format!("[{}, {}]", order(10, "paid"), order(11, "shipped"));
    let (status, _, body) = server.request(
        "POST",
        "/tables/orders/arrivals?wait=true",
        &[("Content-Type", "application/json")],
        array.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "committed", "{body}");
    assert_eq!(body["rows"]["valid"], 2);
    let csv = "order_id,ordered_at,customer_email,status,quantity,amount\n\
               20,2026-03-02T10:00:00Z,c20@example.com,placed,2,5.0\n";
    let (status, _, body) = server.request(
        "POST",
        "/tables/orders/arrivals?wait=true",
        &[("Content-Type", "text/csv; charset=utf-8")],
        csv.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "committed", "{body}");
    assert!(body["key"].as_str().unwrap().ends_with(".csv"), "{body}");

    // Refused, each with its status, nothing stored for any.
    let before = server.landed();
    for (table, content_type, body, want, code) in [
        (
            "orders",
            "text/plain",
            ndjson.clone(),
            415,
            "unsupported_media_type",
        ),
        (
            "orders",
            "text/csv; charset=latin1",
            "a\n1\n".into(),
            415,
            "unsupported_media_type",
        ),
        (
            "orders",
            "application/x-ndjson",
            "a,b\n1,2\n".into(),
            400,
            "not_of_content_type",
        ),
        (
            "orders",
            "application/json",
            "".into(),
            400,
            "not_of_content_type",
        ),
        (
            "refunds",
            "application/x-ndjson",
            ndjson.clone(),
            404,
            "unknown_table",
        ),
        (
            "orders",
            "application/x-ndjson",
            format!("{}\n", order(1, "paid")).repeat(60),
            413,
            "too_large",
        ),
    ] {
        let (status, body) = server.post(table, content_type, None, &body);
        assert_eq!(status, want, "{content_type}: {body}");
        assert_eq!(body["error"], code, "{body}");
    }
    let (status, _, body) = server.request(
        "POST",
        "/tables/orders/arrivals",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
        ],
        b"{}",
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (415, Some("unsupported_encoding"))
    );
    assert_eq!(server.landed(), before, "a refused request stores nothing");
    for id in ["0123456789abcdef01234567", "..%2F..%2Fetc", "x"] {
        let (status, _, body) = server.request("GET", &format!("/arrivals/{id}"), &[], b"");
        assert_eq!(status, 404, "{id}: {body}");
    }

    // Rows the contract refuses: quarantined, with the reason and where the rejects are.
    let bad = format!("{}\n{}\n", order(30, "lost"), order(31, "lost"));
    let (status, _, body) = server.request(
        "POST",
        "/tables/orders/arrivals?wait=true",
        &[("Content-Type", "application/x-ndjson")],
        bad.as_bytes(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "quarantined", "{body}");
    assert_eq!(body["reason"], "too_many_invalid_rows", "{body}");
    assert!(body["rejects_key"].as_str().is_some(), "{body}");

    // Five arrivals ran (the repeated one a duplicate); the table holds each row once.
    let mut server = server;
    let out = server.finish();
    assert!(out.contains("duplicate"), "{out}");
    let shown = server.sluice(&["table", "show", "orders", "--json"]);
    let table: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(table["total_records"], 5, "{table}");

    // What downstream systems were told: each body received once (the repeated one is the
    // same event), three committed, one quarantined.
    let tail = server.sluice(&["events", "tail", "--json"]);
    assert!(
        tail.status.success(),
        "{}",
        String::from_utf8_lossy(&tail.stderr)
    );
    let events: Vec<Value> = String::from_utf8_lossy(&tail.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |t: &str| events.iter().filter(|e| e["type"] == t).count();
    assert_eq!(count("ArrivalReceived"), 4, "{events:?}");
    assert_eq!(count("FileCommitted"), 3, "{events:?}");
    assert_eq!(count("FileQuarantined"), 1, "{events:?}");
    let received = events
        .iter()
        .find(|e| e["type"] == "ArrivalReceived")
        .unwrap();
    assert_eq!(received["detail"]["arrival_id"], id.as_str());
    let text = server.sluice(&["events", "tail", "--type", "FileQuarantined", "-n", "1"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("FileQuarantined") && text.contains("too_many_invalid_rows"),
        "{text}"
    );
}

#[test]
fn bodies_waiting_together_commit_together_each_row_once() {
    // 8 senders of 5 bodies each, at once: the bodies queued while a group runs are taken up
    // as the next group and commit in one snapshot, instead of 40 snapshots.
    let (senders, each, rows) = (8u64, 5u64, 20u64);
    // One body more than the senders': the server stops after the last body it ingests, so
    // it stays up to answer for the 40 until that one is sent.
    let bodies = senders * each + 1;
    let mut server = Server::start(&["--stop-after", &bodies.to_string()], None);
    let ids: Vec<String> = std::thread::scope(|scope| {
        let server = &server;
        let handles: Vec<_> = (0..senders)
            .map(|s| {
                scope.spawn(move || {
                    (0..each)
                        .map(|i| {
                            let first = (s * each + i) * rows + 1;
                            let body: String = (first..first + rows)
                                .map(|id| order(id, "paid") + "\n")
                                .collect();
                            let key = format!("g-{s}-{i}");
                            let (status, answer) =
                                server.post("orders", "application/x-ndjson", Some(&key), &body);
                            assert_eq!(status, 202, "{answer}");
                            answer["id"].as_str().unwrap().to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for id in &ids {
        let done = server.settled(id);
        assert_eq!(done["status"], "committed", "{done}");
        assert_eq!(done["rows"]["valid"], rows, "{done}");
    }
    let first = bodies * rows + 1;
    let last: String = (first..first + rows)
        .map(|id| order(id, "paid") + "\n")
        .collect();
    let (status, answer) = server.post("orders", "application/x-ndjson", Some("last"), &last);
    assert_eq!(status, 202, "{answer}");
    let out = server.finish();
    let committed = out.lines().filter(|l| l.contains("→ committed")).count();
    assert_eq!(committed as u64, bodies, "{out}");
    let shown = server.sluice(&["table", "show", "orders", "--json"]);
    let table: Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(table["total_records"], bodies * rows, "{table}");
    let snapshots = table["snapshots"].as_array().unwrap().len();
    assert!(
        snapshots < 20,
        "{snapshots} snapshots for 40 bodies sent at once"
    );
}

#[test]
fn with_a_secret_only_signed_requests_pass() {
    let secret = "shared secret";
    let mut server = Server::start(&["--stop-after", "1"], Some(secret));
    let body = format!("{}\n", order(1, "paid"));
    let ct = ("Content-Type", "application/x-ndjson");
    let (status, _, answer) =
        server.request("POST", "/tables/orders/arrivals", &[ct], body.as_bytes());
    assert_eq!((status, answer["error"].as_str()), (401, Some("unsigned")));
    let forged = sign(b"another secret", body.as_bytes());
    let (status, _, answer) = server.request(
        "POST",
        "/tables/orders/arrivals",
        &[ct, ("X-Sluice-Signature-256", &forged)],
        body.as_bytes(),
    );
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some("bad_signature"))
    );
    // Signed for another body: refused too.
    let other = sign(secret.as_bytes(), b"{}");
    let (status, _, _) = server.request(
        "POST",
        "/tables/orders/arrivals",
        &[ct, ("X-Sluice-Signature-256", &other)],
        body.as_bytes(),
    );
    assert_eq!(status, 403);
    assert_eq!(server.landed(), 0, "nothing stored for a refused request");

    let good = sign(secret.as_bytes(), body.as_bytes());
    let (status, _, answer) = server.request(
        "POST",
        "/tables/orders/arrivals",
        &[ct, ("X-Sluice-Signature-256", &good)],
        body.as_bytes(),
    );
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap();
    let path = format!("/arrivals/{id}");
    let (status, _, _) = server.request("GET", &path, &[], b"");
    assert_eq!(status, 401);
    let signed = sign(secret.as_bytes(), path.as_bytes());
    let (status, _, answer) =
        server.request("GET", &path, &[("X-Sluice-Signature-256", &signed)], b"");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["id"], id);
    server.finish();
}

#[test]
fn listening_beyond_loopback_without_a_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("--config")
        .arg(repo().join("examples/orders/sluice.toml"))
        .arg("--workspace")
        .arg(dir.path().join("ws"))
        .args(["serve", "--listen", "0.0.0.0:0"])
        .env_remove("SLUICE_WEBHOOK_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("reachable from other machines")
            && stderr.contains("SLUICE_WEBHOOK_SECRET"),
        "{stderr}"
    );
}
