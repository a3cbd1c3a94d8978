//! Logs: `tracing` as JSON lines (one object per event, the current span's fields in it), so
//! CloudWatch Logs Insights can filter by execution, object or request id; plain text for a
//! person at a terminal. Never row data: a span names the object, not its contents.

use serde::{Deserialize, Deserializer};
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
    /// arrival caught before Filter). A field of the wrong type is left out, never an error:
    /// the payload of a failing invocation is the one whose identity matters most.
    pub fn of(payload: &Value) -> Identity {
        let top = Named::read(payload);
        let (bucket, object) = if let Some(o) = &top.object {
            let o = Named::read(o);
            (o.bucket_name(), o)
        } else {
            let arrival = match &top.arrival {
                Some(a) => Named::read(a),
                None => top.clone(),
            };
            match &arrival.detail {
                // An EventBridge event: `detail.bucket.name`, `detail.object`.
                Some(d) if d.is_object() => {
                    let d = Named::read(d);
                    let object = d.object.as_ref().map(Named::read).unwrap_or_default();
                    (d.bucket_name(), object)
                }
                _ => (arrival.bucket_name(), arrival),
            }
        };
        Identity {
            execution: top.execution,
            bucket,
            key: object
                .key
                .map(|k| sluice_steps::error::truncate(&k, MAX_KEY_CHARS)),
            version: object.version_id.or(object.s3_version_id).or(object.etag),
        }
    }
}

/// The fields a payload may name its object by, each read only when it has the expected type.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct Named {
    #[serde(deserialize_with = "text")]
    execution: Option<String>,
    arrival: Option<Value>,
    object: Option<Value>,
    /// An EventBridge event's detail.
    detail: Option<Value>,
    /// A name (sluice's payloads) or `{"name": …}` (an S3 event's detail).
    bucket: Option<Value>,
    #[serde(deserialize_with = "text")]
    name: Option<String>,
    #[serde(deserialize_with = "text")]
    key: Option<String>,
    #[serde(deserialize_with = "text")]
    version_id: Option<String>,
    #[serde(rename = "version-id", deserialize_with = "text")]
    s3_version_id: Option<String>,
    #[serde(deserialize_with = "text")]
    etag: Option<String>,
}

impl Named {
    fn read(value: &Value) -> Named {
        Named::deserialize(value).unwrap_or_default()
    }

    fn bucket_name(&self) -> Option<String> {
        match &self.bucket {
            Some(Value::String(name)) => Some(name.clone()),
            Some(b) => Named::read(b).name,
            None => None,
        }
    }
}

/// A string, or `None` for anything else.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
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
