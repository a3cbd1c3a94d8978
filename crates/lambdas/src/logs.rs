//! Logs: `tracing` as JSON lines (one object per event, the current span's fields in it), so
//! CloudWatch Logs Insights can filter by execution, object or request id; plain text for a
//! person at a terminal. Never row data: a span names the object, not its contents.

use serde_json::Value;
use tracing::Span;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `RUST_LOG` filters (default `info`). Logs go to stderr, stdout
/// is left to the metrics' EMF lines.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .try_init()
    } else {
        builder.try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}

/// Longest key a log line carries; a hostile key of a megabyte is cut, not logged whole.
const MAX_KEY_CHARS: usize = 256;

/// The identity of the object an invocation is about, as far as its payload says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// The execution's name (the filter's payload carries it).
    pub execution: Option<String>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The version id, else the etag.
    pub version: Option<String>,
}

impl Identity {
    /// Reads the identity from any step's payload: `object` (later steps), `arrival` (the
    /// filter; a native arrival or an EventBridge event), or the fields at the top (an
    /// arrival caught before Filter).
    pub fn of(payload: &Value) -> Identity {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let execution = payload.get("execution").and_then(text);
        let arrival = payload.get("arrival").unwrap_or(payload);
        let (bucket, object) = if let Some(o) = payload.get("object") {
            (o.get("bucket").and_then(text), o)
        } else if let Some(d) = arrival.get("detail") {
            (d["bucket"].get("name").and_then(text), &d["object"])
        } else {
            (arrival.get("bucket").and_then(text), arrival)
        };
        let version = ["version_id", "version-id", "etag"]
            .iter()
            .find_map(|f| object.get(*f).and_then(text));
        Identity {
            execution,
            bucket,
            key: object
                .get("key")
                .and_then(text)
                .map(|k| sluice_steps::error::truncate(&k, MAX_KEY_CHARS)),
            version,
        }
    }
}

/// The span of one invocation.
pub fn invocation_span(function: &str, request_id: &str, id: &Identity) -> Span {
    tracing::info_span!(
        "invocation",
        function,
        request_id,
        execution = id.execution.as_deref(),
        bucket = id.bucket.as_deref(),
        key = id.key.as_deref(),
        version = id.version.as_deref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_is_found_in_every_payload_shape() {
        let filter = json!({"execution": "ex1", "arrival": {"bucket": "landing", "key": "orders/a.ndjson", "etag": "e1"}});
        let id = Identity::of(&filter);
        assert_eq!(id.execution.as_deref(), Some("ex1"));
        assert_eq!(id.key.as_deref(), Some("orders/a.ndjson"));
        assert_eq!(id.version.as_deref(), Some("e1"));

        let event = json!({"arrival": {"detail-type": "Object Created", "detail": {"bucket": {"name": "b"}, "object": {"key": "k", "version-id": "v1", "etag": "e"}}}});
        let id = Identity::of(&event);
        assert_eq!(
            (id.bucket.as_deref(), id.version.as_deref()),
            (Some("b"), Some("v1"))
        );

        let later = json!({"object": {"bucket": "b", "key": "k", "etag": "e2"}, "table": "orders"});
        assert_eq!(Identity::of(&later).version.as_deref(), Some("e2"));
    }

    #[test]
    fn a_hostile_key_is_cut_in_the_logs() {
        let huge = json!({"arrival": {"bucket": "b", "key": "x".repeat(1 << 20)}});
        let key = Identity::of(&huge).key.unwrap();
        assert!(key.len() <= MAX_KEY_CHARS + 4, "{}", key.len());
    }
}
