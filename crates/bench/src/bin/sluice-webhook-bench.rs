//! `sluice-webhook-bench`: webhook arrivals per second through `sluice serve`.
//!
//! Copies the orders example (sluice.toml and its contract) into a temporary directory,
//! starts the given `sluice` binary as `sluice serve --listen 127.0.0.1:0` over a fresh
//! workspace there, and has `--clients` clients, each on one keep-alive HTTP/1.1
//! connection, POST `--requests` NDJSON bodies of about `--body-bytes` each (valid orders,
//! every body with its own `Idempotency-Key`), all at once. Each request's accept latency is
//! the time from sending it to its answer read whole; accepted/s is the 202 answers over the
//! time from the first request sent to the last answer read.
//!
//! Then it waits until the server has reported every accepted arrival (`--json`: a line each
//! as it ends, read as it is printed), each committed; asks `GET /arrivals/{id}` for every
//! one (committed, with the rows its body held); stops the server (SIGTERM) and reads the
//! table (`sluice table show orders --json`): it must hold exactly the rows of the accepted
//! bodies, or this exits non-zero. End-to-end ingest rows/s is those rows over the time from
//! the first request to the last arrival's report. Also prints the CPU time the server, the
//! clients and the machine spent while accepting, and the server's peak RSS. Prints the
//! figures and a table of target, measured, met or missed; `--out PATH` writes PATH.md and
//! PATH.json too.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::Request;
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;

/// Webhook arrivals per second through `sluice serve`, rows verified in the table after.
#[derive(Debug, Parser)]
#[command(name = "sluice-webhook-bench")]
struct Args {
    /// The `sluice` binary to serve with (a release build).
    #[arg(long, default_value = "target/release/sluice")]
    sluice: PathBuf,
    /// The example whose sluice.toml and contract the workspace is made from.
    #[arg(long, default_value_os_t = repo().join("examples/orders"))]
    example: PathBuf,
    /// Clients sending at once, each on its own connection.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Requests each client sends, one after another.
    #[arg(long, default_value_t = 100)]
    requests: usize,
    /// Size of each body, about (whole rows up to it).
    #[arg(long, default_value_t = 10_240)]
    body_bytes: usize,
    /// `sluice serve --queue`: bodies waiting to be ingested before 503. Default: every
    /// request of the run, so that the accept rate is measured, not the queue's bound.
    #[arg(long)]
    queue: Option<usize>,
    /// Target: accepted requests per second, at least.
    #[arg(long, default_value_t = 2000.0)]
    target_rate: f64,
    /// Target: 99th percentile accept latency in milliseconds, at most.
    #[arg(long, default_value_t = 50.0)]
    target_p99_ms: f64,
    /// Longest wait for the accepted arrivals to be ingested, in seconds.
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// Also write the results to PATH.md and PATH.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed of the generated rows.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One body to send.
struct Body {
    key: String,
    bytes: Bytes,
    rows: u64,
}

/// One request's answer.
struct Answer {
    status: u16,
    latency: Duration,
    id: Option<String>,
    rows: u64,
}

const STATUSES: &[&str] = &["placed", "paid", "shipped", "cancelled"];
const CITIES: &[(&str, &str)] = &[
    ("Graz", "AT"),
    ("Lyon", "FR"),
    ("Porto", "PT"),
    ("Turku", "FI"),
    ("Ghent", "BE"),
];

/// Bodies of valid orders (the example's contract), each up to `size` bytes of whole
/// NDJSON lines; order ids run on across bodies, so every row is distinct. Each body's rows
/// fall on one day (a webhook sends what just happened), the days taking turns.
fn bodies(count: usize, size: usize, seed: u64) -> Vec<Body> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order_id = 1u64;
    let mut line = String::new();
    (0..count)
        .map(|i| {
            let day = 1 + i % 7;
            let mut text = String::with_capacity(size);
            let mut rows = 0;
            loop {
                line.clear();
                let second = rng.random_range(0..86_400u32);
                let _ = write!(
                    line,
                    "{{\"order_id\":{order_id},\"ordered_at\":\"2026-03-{day:02}T{:02}:{:02}:{:02}Z\",\
                     \"customer_email\":\"c{}@example.com\",\"status\":\"{}\",\"quantity\":{},\
                     \"amount\":{}.{:02}",
                    second / 3600,
                    second / 60 % 60,
                    second % 60,
                    rng.random_range(1..100_000u32),
                    STATUSES[rng.random_range(0..STATUSES.len())],
                    rng.random_range(1..=20u32),
                    rng.random_range(0..2_000u32),
                    rng.random_range(0..100u32),
                );
                match rng.random_range(0..4u32) {
                    0 => line.push_str(",\"note\":\"leave at the door\""),
                    1 => {
                        let (city, country) = CITIES[rng.random_range(0..CITIES.len())];
                        let _ = write!(
                            line,
                            ",\"shipping\":{{\"city\":\"{city}\",\"country\":\"{country}\"}}"
                        );
                    }
                    _ => {}
                }
                line.push_str("}\n");
                if rows > 0 && text.len() + line.len() > size {
                    break;
                }
                text.push_str(&line);
                rows += 1;
                order_id += 1;
            }
            Body {
                key: format!("bench-{seed}-{i}"),
                bytes: Bytes::from(text),
                rows,
            }
        })
        .collect()
}

/// `sluice serve` as a child process, killed if still running when dropped.
struct Server {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Server {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 connection to the server.
type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request, reads the whole answer: status and body.
async fn send(sender: &mut Sender, request: Request<Full<Bytes>>) -> anyhow::Result<(u16, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn post(addr: &str, body: &Body) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::post("/tables/orders/arrivals")
        .header("host", addr)
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", &body.key)
        .body(Full::new(body.bytes.clone()))?)
}

fn get(addr: &str, path: &str) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::get(path)
        .header("host", addr)
        .body(Full::new(Bytes::new()))?)
}

/// One client: its bodies one after another on one connection, each timed.
async fn client(addr: String, bodies: Vec<Arc<Body>>) -> anyhow::Result<Vec<Answer>> {
    let mut sender = connect(&addr).await?;
    let mut answers = Vec::with_capacity(bodies.len());
    for body in bodies {
        let request = post(&addr, &body)?;
        let started = Instant::now();
        let (status, answer) = send(&mut sender, request).await?;
        let latency = started.elapsed();
        let id = match status {
            202 => {
                let v: Value = serde_json::from_slice(&answer).with_context(|| {
                    format!("202 answer {:?}", String::from_utf8_lossy(&answer))
                })?;
                Some(
                    v["id"]
                        .as_str()
                        .context("a 202 answer without an id")?
                        .to_string(),
                )
            }
            _ => None,
        };
        answers.push(Answer {
            status,
            latency,
            id,
            rows: body.rows,
        });
    }
    Ok(answers)
}

/// What `sluice serve --json` printed for one arrival: when it was read, and its outcome.
struct Report {
    at: Instant,
    key: String,
    outcome: String,
    snapshot_id: Option<i64>,
    valid: Option<u64>,
}

impl Report {
    fn parse(line: &str, at: Instant) -> Option<Report> {
        let v: Value = serde_json::from_str(line).ok()?;
        Some(Report {
            at,
            key: v["key"].as_str()?.to_string(),
            outcome: v["outcome"].as_str().unwrap_or_default().to_string(),
            snapshot_id: v["snapshot_id"].as_i64(),
            valid: v["rows"]["valid"].as_u64(),
        })
    }
}

/// `GET /arrivals/{id}` for every accepted arrival, once all have run: each must say
/// committed, with the rows its body held and none rejected.
async fn verify(addr: &str, accepted: &[(String, u64)]) -> anyhow::Result<()> {
    let mut sender = connect(addr).await?;
    for (id, rows) in accepted {
        let (status, answer) = send(&mut sender, get(addr, &format!("/arrivals/{id}"))?)
            .await
            .context("GET /arrivals/{id}")?;
        let v: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        ensure!(status == 200, "GET /arrivals/{id}: {status} {v}");
        ensure!(
            v["status"] == "committed"
                && v["rows"]["valid"].as_u64() == Some(*rows)
                && v["rows"]["rejected"].as_u64() == Some(0),
            "arrival {id} was sent with {rows} rows, and GET /arrivals/{id} answers {v}"
        );
    }
    Ok(())
}

/// CPU seconds so far: the process `pid`'s own (user + system), this process's, and every
/// CPU's busy time on the machine (Linux; `None` elsewhere).
#[derive(Clone, Copy)]
struct Cpu {
    server: f64,
    /// Of which in the kernel (system time).
    server_kernel: f64,
    /// Of which on its runtime's threads (`tokio-rt-worker`: the workers, which answer
    /// requests and run the ingest's tasks, and the blocking pool, which does the store's
    /// file operations); not the steps' reader threads or SQLite's.
    answering: f64,
    bench: f64,
    machine: f64,
}

impl Cpu {
    #[cfg(target_os = "linux")]
    fn now(pid: u32) -> Option<Cpu> {
        // SAFETY: sysconf has no preconditions.
        let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let ticks = |path: String, skip: usize, take: usize| -> Option<f64> {
            let text = std::fs::read_to_string(path).ok()?;
            // /proc/PID/stat: the command may hold spaces; fields after its closing paren.
            let rest = text.rsplit_once(')').map_or(text.as_str(), |(_, r)| r);
            let sum: f64 = rest
                .split_whitespace()
                .skip(skip)
                .take(take)
                .filter_map(|f| f.parse::<f64>().ok())
                .sum();
            Some(sum / tick)
        };
        // utime and stime are fields 14 and 15, the 12th and 13th after the command.
        let server = ticks(format!("/proc/{pid}/stat"), 11, 2)?;
        let server_kernel = ticks(format!("/proc/{pid}/stat"), 12, 1)?;
        let mut answering = 0.0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let path = task.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            if comm.trim() == "tokio-rt-worker" {
                answering += ticks(path.join("stat").display().to_string(), 11, 2).unwrap_or(0.0);
            }
        }
        let bench = ticks("/proc/self/stat".into(), 11, 2)?;
        // The first line of /proc/stat: user nice system idle iowait irq softirq steal.
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<f64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|f| f.parse().ok())
            .collect();
        let busy = cpu.iter().sum::<f64>() - cpu.get(3)? - cpu.get(4)?;
        Some(Cpu {
            server,
            server_kernel,
            answering,
            bench,
            machine: busy / tick,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn now(_pid: u32) -> Option<Cpu> {
        None
    }

    fn since(self, before: Cpu) -> Cpu {
        Cpu {
            server: self.server - before.server,
            server_kernel: self.server_kernel - before.server_kernel,
            answering: self.answering - before.answering,
            bench: self.bench - before.bench,
            machine: self.machine - before.machine,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3
}

/// The server's peak RSS (MB) and CPU seconds, from `wait4` once it has exited.
#[cfg(unix)]
fn reap(child: &mut Child, timeout: Duration) -> anyhow::Result<(f64, f64)> {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + timeout;
    loop {
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a child of this process, waited for once, with valid out-pointers.
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        ensure!(got >= 0, "wait4: {}", std::io::Error::last_os_error());
        if got == pid {
            ensure!(
                libc::WIFEXITED(status),
                "sluice serve ended abnormally ({status})"
            );
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return Ok((
                usage.ru_maxrss as f64 / 1024.0,
                tv(usage.ru_utime) + tv(usage.ru_stime),
            ));
        }
        ensure!(Instant::now() < deadline, "sluice serve did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.clients > 0 && args.requests > 0, "nothing to send");
    ensure!(
        args.sluice.is_file(),
        "{} not found: build it first (cargo build --release -p sluice-cli)",
        args.sluice.display()
    );
    let total = args.clients * args.requests;
    let dir = tempfile::tempdir()?;
    for name in ["sluice.toml", "orders.schema.json"] {
        std::fs::copy(args.example.join(name), dir.path().join(name))
            .with_context(|| format!("copying {name} from {}", args.example.display()))?;
    }
    let config = dir.path().join("sluice.toml");
    let workspace = dir.path().join("ws");

    let bodies: Vec<Arc<Body>> = bodies(total, args.body_bytes, args.seed)
        .into_iter()
        .map(Arc::new)
        .collect();
    let sent_rows: u64 = bodies.iter().map(|b| b.rows).sum();
    let sent_bytes: usize = bodies.iter().map(|b| b.bytes.len()).sum();
    println!(
        "{total} bodies ({} clients × {}), {sent_rows} rows, {:.1} MB, {:.0} bytes and {:.1} rows a body",
        args.clients,
        args.requests,
        sent_bytes as f64 / 1e6,
        sent_bytes as f64 / total as f64,
        sent_rows as f64 / total as f64,
    );

    // The runtime's threads share the machine with the server: one is enough for the clients.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let log = dir.path().join("serve.log");
    let queue = args.queue.unwrap_or(total).max(1);
    let mut child = Command::new(&args.sluice)
        .arg("--config")
        .arg(&config)
        .arg("--workspace")
        .arg(&workspace)
        .args(["serve", "--listen", "127.0.0.1:0", "--json"])
        .args(["--queue", &queue.to_string()])
        .env_remove("SLUICE_WEBHOOK_SECRET")
        .env_remove("SLUICE_FAILPOINTS")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("starting {}", args.sluice.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut server = Server {
        child,
        addr: String::new(),
        log,
    };

    // The first line says where it listens; the rest (a line per arrival) is drained, or
    // the server would block writing it.
    let mut lines = BufReader::new(stdout).lines();
    let first = match lines.next() {
        Some(line) => line?,
        None => bail!("sluice serve ended: {}", server.log_tail()),
    };
    server.addr = first
        .trim()
        .strip_prefix("listening on http://")
        .with_context(|| format!("first line of sluice serve: {first:?}"))?
        .to_string();
    let (reports_tx, reports) = std::sync::mpsc::channel();
    let drained = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(report) = Report::parse(&line, Instant::now()) {
                if reports_tx.send(report).is_err() {
                    break;
                }
            }
        }
    });
    let addr = server.addr.clone();

    // Accept: every client at once, each with its share of the bodies.
    let mut per_client: Vec<Vec<Arc<Body>>> = vec![vec![]; args.clients];
    for (i, body) in bodies.iter().enumerate() {
        per_client[i % args.clients].push(body.clone());
    }
    let pid = server.child.id();
    let cpu_before = Cpu::now(pid);
    let started = Instant::now();
    let answers = rt.block_on(async {
        let tasks: Vec<_> = per_client
            .into_iter()
            .map(|mine| tokio::spawn(client(addr.clone(), mine)))
            .collect();
        let mut answers = Vec::with_capacity(total);
        for task in tasks {
            answers.extend(task.await??);
        }
        Ok::<_, anyhow::Error>(answers)
    });
    let accept_wall = started.elapsed();
    let accept_cpu = Cpu::now(pid)
        .zip(cpu_before)
        .map(|(after, before)| after.since(before));
    let answers = match answers {
        Ok(answers) => answers,
        Err(e) => bail!("{e:#}\nsluice serve's log ends:\n{}", server.log_tail()),
    };
    let mut latencies: Vec<Duration> = answers.iter().map(|a| a.latency).collect();
    latencies.sort();
    let accepted: Vec<(String, u64)> = answers
        .iter()
        .filter_map(|a| a.id.clone().map(|id| (id, a.rows)))
        .collect();
    let refused = answers.iter().filter(|a| a.status != 202).count();
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for a in &answers {
        *by_status.entry(a.status).or_default() += 1;
    }
    let expected_rows: u64 = accepted.iter().map(|(_, rows)| rows).sum();
    let ids: std::collections::HashSet<&str> = accepted.iter().map(|(id, _)| id.as_str()).collect();
    ensure!(
        ids.len() == accepted.len(),
        "two bodies answered with one id"
    );
    let accept_rate = accepted.len() as f64 / accept_wall.as_secs_f64();
    let (p50, p95, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
    );
    let statuses: Vec<String> = by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
    println!(
        "accept   {} of {total} answered 202 in {:.2} s: {accept_rate:.0} accepted/s",
        accepted.len(),
        accept_wall.as_secs_f64()
    );
    println!(
        "latency  p50 {p50:.1} ms, p95 {p95:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({})",
        statuses.join(", ")
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(cpu) = accept_cpu {
        let wall = accept_wall.as_secs_f64();
        println!(
            "cpu      while accepting: sluice serve {:.1} s ({:.1} s in the kernel; {:.1} s on \
             the threads that answer requests and run the runtime's tasks, the rest reading \
             files and in SQLite), the clients {:.1} s, the whole machine {:.1} s of the {:.1} s \
             its {cores} cores had",
            cpu.server,
            cpu.server_kernel,
            cpu.answering,
            cpu.bench,
            cpu.machine,
            wall * cores as f64
        );
    }

    // Ingest: until the server has reported every accepted arrival (it prints a line for
    // each as it ends).
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut seen = 0usize;
    let mut last = started;
    let mut snapshots = std::collections::HashSet::new();
    let mut progress = Instant::now();
    while seen < accepted.len() {
        let now = Instant::now();
        if now >= deadline {
            bail!(
                "{seen} of {} arrivals ingested after {} s\nsluice serve's log ends:\n{}",
                accepted.len(),
                args.timeout,
                server.log_tail()
            );
        }
        if now.duration_since(progress) >= Duration::from_secs(10) {
            progress = now;
            println!(
                "         {seen} of {} arrivals ingested after {:.0} s",
                accepted.len(),
                now.duration_since(started).as_secs_f64()
            );
        }
        let report = match reports.recv_timeout(Duration::from_secs(1)) {
            Ok(report) => report,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                bail!("sluice serve ended:\n{}", server.log_tail())
            }
        };
        ensure!(
            report.outcome == "committed",
            "{} ended {}, not committed:\n{}",
            report.key,
            report.outcome,
            server.log_tail()
        );
        ensure!(report.valid.is_some(), "{} reported no rows", report.key);
        snapshots.extend(report.snapshot_id);
        last = report.at;
        seen += 1;
    }
    let end_to_end = last.duration_since(started);
    let arrivals_rate = accepted.len() as f64 / end_to_end.as_secs_f64();
    let rows_rate = expected_rows as f64 / end_to_end.as_secs_f64();
    println!(
        "ingest   every accepted arrival committed {:.2} s after the first request: \
         {arrivals_rate:.1} arrivals/s, {rows_rate:.0} rows/s end to end, {} snapshots",
        end_to_end.as_secs_f64(),
        snapshots.len()
    );

    // Every arrival as the API answers for it.
    let checked = Instant::now();
    if let Err(e) = rt.block_on(verify(&addr, &accepted)) {
        bail!("{e:#}");
    }
    println!(
        "status   GET /arrivals/{{id}}: all {} committed with their rows ({:.1} s)",
        accepted.len(),
        checked.elapsed().as_secs_f64()
    );

    // Stopped as a service manager stops it: requests in flight answered, the queue run.
    #[cfg(unix)]
    let (rss_mb, cpu_s) = {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
        reap(&mut server.child, Duration::from_secs(120))?
    };
    #[cfg(not(unix))]
    let (rss_mb, cpu_s) = {
        let _ = server.child.kill();
        let _ = server.child.wait();
        (f64::NAN, f64::NAN)
    };
    let _ = drained.join();

    let shown = Command::new(&args.sluice)
        .arg("--config")
        .arg(&config)
        .arg("--workspace")
        .arg(&workspace)
        .args(["table", "show", "orders", "--json"])
        .output()?;
    ensure!(
        shown.status.success(),
        "sluice table show: {}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let table: Value = serde_json::from_slice(&shown.stdout)?;
    let in_table = table["total_records"]
        .as_u64()
        .context("table show gave no total_records")?;
    let table_snapshots = table["snapshots"].as_array().map_or(0, Vec::len);
    println!(
        "table    {in_table} rows ({expected_rows} sent in accepted bodies), {table_snapshots} snapshots"
    );
    println!("serve    peak RSS {rss_mb:.0} MB, CPU {cpu_s:.1} s");

    let met = |ok: bool| if ok { "met" } else { "missed" };
    let rows = [
        (
            format!(
                "accepted/s, {} clients, {} B bodies ≥ {:.0}",
                args.clients, args.body_bytes, args.target_rate
            ),
            met(accept_rate >= args.target_rate),
            format!("{accept_rate:.0}/s"),
        ),
        (
            format!("p99 accept latency ≤ {:.0} ms", args.target_p99_ms),
            met(p99 <= args.target_p99_ms),
            format!("{p99:.1} ms"),
        ),
        (
            "non-202 answers = 0".to_string(),
            met(refused == 0),
            refused.to_string(),
        ),
        (
            "rows in the table = rows accepted".to_string(),
            met(in_table == expected_rows),
            format!("{in_table} of {expected_rows}"),
        ),
        (
            "ingest, end to end (no target)".to_string(),
            "",
            format!(
                "{arrivals_rate:.1} arrivals/s, {rows_rate:.0} rows/s, {table_snapshots} snapshots"
            ),
        ),
    ];
    let mut md = String::from("| target | | measured |\n| --- | --- | --- |\n");
    for (target, verdict, measured) in &rows {
        let _ = writeln!(md, "| {target} | {verdict} | {measured} |");
    }
    println!();
    print!("{md}");

    if let Some(out) = &args.out {
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(out.with_extension("md"), &md)?;
        let json = serde_json::json!({
            "clients": args.clients,
            "requests": total,
            "body_bytes": sent_bytes as f64 / total as f64,
            "rows_sent": sent_rows,
            "accepted": accepted.len(),
            "non_202": refused,
            "statuses": by_status
                .iter()
                .map(|(s, n)| (s.to_string(), Value::from(*n)))
                .collect::<serde_json::Map<_, _>>(),
            "accept_s": accept_wall.as_secs_f64(),
            "accepted_per_s": accept_rate,
            "latency_ms": {"p50": p50, "p95": p95, "p99": p99, "max": max},
            "end_to_end_s": end_to_end.as_secs_f64(),
            "arrivals_per_s": arrivals_rate,
            "rows_per_s": rows_rate,
            "rows_in_table": in_table,
            "rows_expected": expected_rows,
            "snapshots": table_snapshots,
            "accept_cpu_s": accept_cpu.map(|c| serde_json::json!({
                "serve": c.server, "serve_kernel": c.server_kernel, "serve_workers": c.answering, "clients": c.bench,
                "machine": c.machine
            })),
            "cores": cores,
            "serve_peak_rss_mb": rss_mb,
            "serve_cpu_s": cpu_s,
        });
        std::fs::write(
            out.with_extension("json"),
            serde_json::to_string_pretty(&json)?,
        )?;
    }

    ensure!(
        in_table == expected_rows,
        "the table holds {in_table} rows, the accepted bodies {expected_rows}: {}",
        if in_table < expected_rows {
            "rows are missing"
        } else {
            "rows are duplicated"
        }
    );
    Ok(())
}
