//! A local AWS for tests: one ministack process (S3, Glue, Step Functions, EventBridge, ...
//! on one port), started per test binary and killed when dropped.
//!
//! The executable comes from `SLUICE_TEST_MINISTACK`, which `make test` sets after installing
//! ministack into the repository's `.venv`. The process gets a free loopback port, keeps its
//! state in memory (persistence off) and its pid file and any spill in a temporary directory
//! of its own, and writes its output to a log file there, whose tail is shown when it does
//! not come up. It runs in its own process group, so dropping the [`Ministack`] kills it with
//! every process it started.
//!
//! [`Ministack::start`] blocks (it waits for the health check). [`Ministack::shared`] keeps
//! one per process for the tests of one binary, each of which makes its own buckets, and
//! kills it when the process exits.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};

pub mod stack;
pub use stack::{Arrivals, Binaries, Stack};

/// The variable naming the ministack executable.
pub const MINISTACK_ENV: &str = "SLUICE_TEST_MINISTACK";

/// The region the emulator and its clients use.
pub const REGION: &str = "us-east-1";

/// How long ministack may take to answer its health check: a cold Python start on a busy
/// machine takes a few seconds.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

/// Lines of the log shown when it fails to start.
const LOG_TAIL_LINES: usize = 40;

/// Why the emulator could not be started or prepared.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// `SLUICE_TEST_MINISTACK` is unset, or names no file.
    #[error(
        "no ministack at {MINISTACK_ENV}={path:?}: run `make test`, which installs ministack in .venv"
    )]
    NotInstalled {
        /// The variable's value (empty when unset).
        path: String,
    },
    /// Spawning it, or its log and temporary directory, failed.
    #[error("starting ministack: {0}")]
    Io(#[from] std::io::Error),
    /// It exited before it was healthy.
    #[error("ministack exited ({status}) before it was healthy; its log ends with:\n{tail}")]
    Exited {
        /// How it exited.
        status: std::process::ExitStatus,
        /// The last lines of its log.
        tail: String,
    },
    /// It did not answer its health check in time.
    #[error("ministack was not healthy after {}s; its log ends with:\n{tail}", HEALTH_TIMEOUT.as_secs())]
    NotHealthy {
        /// The last lines of its log.
        tail: String,
    },
    /// Preparing a resource in it (a bucket) failed.
    #[error("preparing {what} in ministack: {message}")]
    Setup {
        /// The resource.
        what: String,
        /// The SDK's error, with its context.
        message: String,
    },
}

/// A running ministack; killed, with its process group, on drop.
#[derive(Debug)]
pub struct Ministack {
    child: Child,
    port: u16,
    /// Holds the log file, the pid file and anything spilled; removed after the kill.
    dir: tempfile::TempDir,
}

impl Ministack {
    /// Starts ministack from `SLUICE_TEST_MINISTACK` and waits until it is healthy.
    pub fn start() -> Result<Ministack, EmulatorError> {
        let path = std::env::var(MINISTACK_ENV).unwrap_or_default();
        if path.is_empty() || !Path::new(&path).is_file() {
            return Err(EmulatorError::NotInstalled { path });
        }
        let dir = tempfile::Builder::new().prefix("ministack-").tempdir()?;
        let log = File::create(dir.path().join("ministack.log"))?;
        let port = free_port()?;
        let child = Command::new(&path)
            .env("GATEWAY_PORT", port.to_string())
            .env("BIND_HOST", "127.0.0.1")
            .env("MINISTACK_REGION", REGION)
            .env("LOG_LEVEL", "WARNING")
            .env("PERSIST_STATE", "0")
            .env("S3_PERSIST", "0")
            .env("LOCALSTACK_PERSISTENCE", "0")
            .env("S3_DATA_DIR", dir.path().join("s3"))
            .env("STATE_DIR", dir.path().join("state"))
            // Its pid file goes to the temporary directory, not a shared one.
            .env("TMPDIR", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0)
            .spawn()?;
        let mut ministack = Ministack { child, port, dir };
        ministack.wait_healthy()?;
        tracing::debug!(port, "ministack is up");
        Ok(ministack)
    }

    /// One ministack for the whole process, started on first use: the tests of one binary
    /// share it, each with buckets of its own. A `static` is never dropped, so the process
    /// group is killed (and the temporary directory removed) when the process exits.
    pub fn shared() -> Result<&'static Ministack, &'static EmulatorError> {
        SHARED
            .get_or_init(|| {
                let started = Ministack::start();
                if started.is_ok() {
                    // SAFETY: registers a plain `extern "C" fn` with no arguments; atexit(3)
                    // has no other precondition.
                    unsafe {
                        libc::atexit(kill_shared);
                    }
                }
                started
            })
            .as_ref()
    }

    /// `http://127.0.0.1:PORT`: the endpoint of every service.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The log file of its output.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("ministack.log")
    }

    /// An SDK configuration for it: static test credentials (`test`/`test`), region
    /// `us-east-1`, its endpoint.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("test", "test", None, None, "ministack"))
            .endpoint_url(self.endpoint())
            .load()
            .await
    }

    /// Creates the bucket `name`, with versioning on if `versioned`.
    pub async fn create_bucket(&self, name: &str, versioned: bool) -> Result<(), EmulatorError> {
        let s3 = crate::s3_client(&self.sdk_config().await);
        let setup = |e: &dyn std::fmt::Display| EmulatorError::Setup {
            what: format!("bucket {name}"),
            message: e.to_string(),
        };
        s3.create_bucket()
            .bucket(name)
            .send()
            .await
            .map_err(|e| setup(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
        if versioned {
            s3.put_bucket_versioning()
                .bucket(name)
                .versioning_configuration(
                    VersioningConfiguration::builder()
                        .status(BucketVersioningStatus::Enabled)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| setup(&aws_sdk_s3::error::DisplayErrorContext(e)))?;
        }
        Ok(())
    }

    fn wait_healthy(&mut self) -> Result<(), EmulatorError> {
        let deadline = Instant::now() + HEALTH_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(EmulatorError::Exited {
                    status,
                    tail: self.log_tail(),
                });
            }
            if healthy(self.port) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(EmulatorError::NotHealthy {
                    tail: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for Ministack {
    fn drop(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ministack of [`Ministack::shared`].
static SHARED: OnceLock<Result<Ministack, EmulatorError>> = OnceLock::new();

/// Kills the shared ministack at process exit (registered with atexit(3)).
extern "C" fn kill_shared() {
    if let Some(Ok(ministack)) = SHARED.get() {
        kill_group(ministack.child.id());
        let _ = std::fs::remove_dir_all(ministack.dir.path());
    }
}

/// Kills the process group led by `pid` (the child started with `process_group(0)`).
fn kill_group(pid: u32) {
    if let Ok(pgid) = i32::try_from(pid) {
        // SAFETY: kill(2) with a pid and a signal number has no memory-safety preconditions;
        // a negative pid signals the whole group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

/// A loopback port nobody listens on right now.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether `GET /_ministack/health` answers 200.
fn healthy(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "GET /_ministack/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}
