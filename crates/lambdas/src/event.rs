//! Amazon S3's events as EventBridge delivers them, and the arrival sluice makes of them.
//!
//! On AWS the EventBridge rule starts an execution with the raw event as its input, so the
//! definition's Filter task receives `{"arrival": <EventBridge event>, "execution": name}`;
//! replays, redrives and reconciliation start executions with a native [`Arrival`] instead.
//! [`filter_input`] accepts both.
//!
//! `detail.object.key` is taken as it is. S3's notification messages to SNS, SQS and Lambda
//! carry the key URL-encoded ("red flower.jpg" as "red+flower.jpg") and say so; the
//! EventBridge event structure documents no encoding, and the CDK rule's `prefix` pattern
//! matches the key as it is. A key that does not name an object is answered by the filter
//! ("no longer exists"), never guessed at.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_core::QuarantineReason;
use sluice_steps::payload::{Arrival, ArrivalEvent, FilterInput, FilterOutput};
use sluice_steps::state::IngestState;
use sluice_steps::StepError;

/// The `source` of Amazon S3's events.
pub const S3_SOURCE: &str = "aws.s3";
/// The `detail-type` of a new object (or a new version of one).
pub const OBJECT_CREATED: &str = "Object Created";
/// The `detail-type` of a removal (a permanent delete or a delete marker).
pub const OBJECT_DELETED: &str = "Object Deleted";

/// The `detail` of an S3 `Object Created` / `Object Deleted` event. Unknown fields are
/// ignored: AWS adds fields (`event-version`, `source-ip-address`, …) without notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct S3ObjectDetail {
    /// Schema version of the detail (`"0"`).
    #[serde(default)]
    pub version: Option<String>,
    pub bucket: S3Bucket,
    pub object: S3Object,
    #[serde(default)]
    pub request_id: Option<String>,
    /// Account or principal that made the request.
    #[serde(default)]
    pub requester: Option<String>,
    /// The API call: `PutObject`, `CompleteMultipartUpload`, `CopyObject`, `DeleteObject`,
    /// `Lifecycle Expiration`, …
    #[serde(default)]
    pub reason: Option<String>,
    /// For `Object Deleted`: `Permanently Deleted` or `Delete Marker Created`.
    #[serde(default)]
    pub deletion_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Bucket {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct S3Object {
    /// The object's key, not URL-encoded (see the module docs).
    pub key: String,
    /// Bytes; absent on deletions.
    #[serde(default)]
    pub size: Option<u64>,
    /// Without the quotes S3's `ETag` header carries; absent on deletions.
    #[serde(default)]
    pub etag: Option<String>,
    /// On a versioned bucket.
    #[serde(default)]
    pub version_id: Option<String>,
    /// Orders the events of one key (hexadecimal, compared as a number).
    #[serde(default)]
    pub sequencer: Option<String>,
}

/// An S3 event on EventBridge.
pub type S3Event = EventBridgeEvent<Value>;

/// What an execution input stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// An object version to look at.
    Arrival(Arrival),
    /// An event that is not about an object's creation or removal (another source, another
    /// detail type): nothing to do, and the filter's answer says why.
    NotForUs(String),
}

/// Whether `value` is an EventBridge event rather than a native arrival: it has a
/// `detail-type` or a `detail`.
pub fn is_eventbridge(value: &Value) -> bool {
    Envelope::deserialize(value).is_ok_and(|e| e.detail_type.is_some() || e.detail.is_some())
}

/// The envelope fields of an EventBridge event sluice looks at, each as whatever JSON it is.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Envelope {
    #[serde(rename = "detail-type")]
    detail_type: Option<Value>,
    detail: Option<Value>,
    id: Option<Value>,
}

/// An S3 event's detail that names a bucket and nothing else sluice can use.
#[derive(Debug, Deserialize)]
struct BucketOnly {
    bucket: S3Bucket,
}

/// Reads an EventBridge event. An event of another source or detail type is not for us; an
/// S3 event without a bucket name or an object key (or with one that is not a string) is
/// `BadInput`: it names no object sluice could look at.
pub fn from_eventbridge(value: Value) -> Result<Incoming, StepError> {
    let event: S3Event = serde_json::from_value(value).map_err(|e| {
        StepError::bad_input(
            QuarantineReason::ParseError,
            format!("the execution input is not an EventBridge event: {e}"),
        )
    })?;
    if event.source != S3_SOURCE {
        return Ok(Incoming::NotForUs(format!(
            "an event from {:?}, not from Amazon S3",
            sluice_steps::error::truncate(&event.source, 64)
        )));
    }
    let kind = match event.detail_type.as_str() {
        OBJECT_CREATED => ArrivalEvent::Created,
        OBJECT_DELETED => ArrivalEvent::Removed,
        other => {
            return Ok(Incoming::NotForUs(format!(
                "an S3 {:?} event: only Object Created and Object Deleted concern sluice",
                sluice_steps::error::truncate(other, 64)
            )))
        }
    };
    let detail: S3ObjectDetail = serde_json::from_value(event.detail).map_err(|e| {
        StepError::bad_input(
            QuarantineReason::ParseError,
            format!(
                "the S3 {} event's detail names no object: {e}",
                event.detail_type
            ),
        )
    })?;
    Ok(Incoming::Arrival(Arrival {
        bucket: detail.bucket.name,
        key: detail.object.key,
        version_id: detail.object.version_id,
        etag: detail.object.etag,
        sequencer: detail.object.sequencer,
        event: kind,
        time: event
            .time
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    }))
}

/// The filter step's input from the definition's `{"arrival": …, "execution": …}`: an
/// EventBridge event becomes a native arrival; a native arrival passes unchanged (so does an
/// input of another shape: the step reports it).
/// `Err(output)` is the filter's answer already given: the event is not for us.
pub fn filter_input(input: Value) -> Result<Result<Value, FilterOutput>, StepError> {
    let Ok(RawFilterInput { arrival, execution }) = RawFilterInput::deserialize(&input) else {
        return Ok(Ok(input));
    };
    if !is_eventbridge(&arrival) {
        return Ok(Ok(input));
    }
    match from_eventbridge(arrival)? {
        Incoming::Arrival(arrival) => serde_json::to_value(FilterInput { arrival, execution })
            .map(Ok)
            .map_err(|e| StepError::internal(e.to_string())),
        Incoming::NotForUs(why) => {
            tracing::info!(why, "event filtered");
            Ok(Err(FilterOutput::filtered(why)))
        }
    }
}

/// The filter's input before its arrival is known to be native.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilterInput {
    arrival: Value,
    #[serde(default)]
    execution: Option<String>,
}

/// The Quarantine state's input, when an error was caught before Filter named the object:
/// the state is then the execution input, and for an EventBridge event the step gets the
/// object's identity (`bucket`, `key`, `version_id`, `etag`) from its detail and the caught
/// `error`, without the envelope (whose `detail` object is not the step's `detail` text).
/// Any other input passes unchanged.
pub fn quarantine_input(input: Value) -> Value {
    if !input.is_object() || !is_eventbridge(&input) {
        return input;
    }
    let Some(state) = IngestState::from_json(&input) else {
        return input;
    };
    if state.object.is_some() {
        return input;
    }
    let envelope = Envelope::deserialize(&input).unwrap_or_default();
    let detail = envelope.detail.clone().unwrap_or(Value::Null);
    let lifted = match S3ObjectDetail::deserialize(&detail) {
        Ok(d) => IngestState {
            bucket: Some(d.bucket.name),
            key: Some(d.object.key),
            version_id: d.object.version_id,
            etag: d.object.etag,
            error: state.error,
            ..Default::default()
        },
        Err(_) => unidentified_event(&envelope, &detail, state),
    };
    serde_json::to_value(lifted).unwrap_or(input)
}

/// The Quarantine state's input for an event whose detail names no object (the error that
/// brought it here is Filter's `BadInput`): the event's id, the bucket if it gave one, and the
/// caught error, so the event itself is recorded and the execution ends instead of failing
/// for ever.
fn unidentified_event(envelope: &Envelope, detail: &Value, state: IngestState) -> IngestState {
    let id = match &envelope.id {
        Some(Value::String(id)) => id.clone(),
        _ => "unnamed".to_string(),
    };
    IngestState {
        event_id: Some(id),
        bucket: BucketOnly::deserialize(detail).ok().map(|b| b.bucket.name),
        error: state.error,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture");
        serde_json::from_str(&text).expect("fixture JSON")
    }

    #[test]
    fn the_documented_object_created_event_is_an_arrival() {
        let Incoming::Arrival(a) = from_eventbridge(fixture("object-created.json")).unwrap() else {
            panic!("not an arrival");
        };
        assert_eq!(a.bucket, "amzn-s3-demo-bucket1");
        assert_eq!(a.key, "example-key");
        assert_eq!(a.etag.as_deref(), Some("b1946ac92492d2347c6235b4d2611184"));
        assert_eq!(
            a.version_id.as_deref(),
            Some("IYV3p45BT0ac8hjHg1houSdS1a.Mro8e")
        );
        assert_eq!(a.sequencer.as_deref(), Some("617f08299329d189"));
        assert_eq!(a.event, ArrivalEvent::Created);
    }

    #[test]
    fn the_documented_object_deleted_event_is_a_removal() {
        let Incoming::Arrival(a) = from_eventbridge(fixture("object-deleted.json")).unwrap() else {
            panic!("not an arrival");
        };
        assert_eq!(a.key, "example-key");
        assert_eq!(a.event, ArrivalEvent::Removed);
        // The delete marker's etag (of no bytes), not the removed version's.
        assert_eq!(a.etag.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(a.sequencer.as_deref(), Some("617f0837b476e463"));
        let detail: S3ObjectDetail =
            serde_json::from_value(fixture("object-deleted.json")["detail"].clone()).unwrap();
        assert_eq!(
            detail.deletion_type.as_deref(),
            Some("Delete Marker Created")
        );
        assert_eq!(detail.reason.as_deref(), Some("DeleteObject"));
        let Incoming::Arrival(expired) =
            from_eventbridge(fixture("object-deleted-lifecycle.json")).unwrap()
        else {
            panic!("not an arrival");
        };
        assert_eq!(expired.event, ArrivalEvent::Removed);
    }

    #[test]
    fn a_multipart_upload_event_keeps_its_multipart_etag() {
        let Incoming::Arrival(a) =
            from_eventbridge(fixture("orders-created-multipart.json")).unwrap()
        else {
            panic!("not an arrival");
        };
        assert_eq!(a.key, "orders/2026/03/orders 2026-03-01 (1).ndjson");
        assert_eq!(
            a.etag.as_deref(),
            Some("4af981f98d22a0b9979da24b259e5e42-12")
        );
    }

    #[test]
    fn another_detail_type_is_not_for_us() {
        let restored = from_eventbridge(fixture("object-restore-completed.json")).unwrap();
        assert!(
            matches!(&restored, Incoming::NotForUs(w) if w.contains("Object Restore Completed")),
            "{restored:?}"
        );
        let mut e = fixture("object-created.json");
        e["source"] = json!("aws.ec2");
        assert!(matches!(
            from_eventbridge(e).unwrap(),
            Incoming::NotForUs(_)
        ));
    }

    #[test]
    fn an_s3_event_without_a_key_is_bad_input() {
        let mut e = fixture("object-created.json");
        e["detail"]["object"].as_object_mut().unwrap().remove("key");
        let err = from_eventbridge(e).unwrap_err();
        assert_eq!(err.kind, sluice_steps::StepErrorKind::BadInput);
        assert!(err.message.contains("names no object"), "{}", err.message);

        let mut e = fixture("object-created.json");
        e["detail"]["object"]["key"] = json!({"$gt": ""});
        assert_eq!(
            from_eventbridge(e).unwrap_err().kind,
            sluice_steps::StepErrorKind::BadInput
        );

        let mut e = fixture("object-created.json");
        e.as_object_mut().unwrap().remove("source");
        assert_eq!(
            from_eventbridge(e).unwrap_err().kind,
            sluice_steps::StepErrorKind::BadInput
        );
    }

    /// A key of a megabyte is passed on as it is: the filter refuses it as unsafe (with a
    /// filtered answer, not an error), so the event neither fails nor quarantines anything.
    #[test]
    fn a_huge_key_is_left_to_the_filter() {
        let mut e = fixture("object-created.json");
        e["detail"]["object"]["key"] = json!("a/".repeat(1 << 19));
        let Incoming::Arrival(a) = from_eventbridge(e).unwrap() else {
            panic!("not an arrival");
        };
        assert_eq!(a.key.len(), 1 << 20);
    }

    #[test]
    fn filter_input_takes_both_shapes() {
        let native =
            json!({"arrival": {"bucket": "landing", "key": "orders/a.ndjson"}, "execution": "x"});
        assert_eq!(filter_input(native.clone()).unwrap(), Ok(native));

        let event = json!({"arrival": fixture("object-created.json"), "execution": "e1"});
        let adapted = filter_input(event).unwrap().expect("an arrival");
        let input: sluice_steps::payload::FilterInput = serde_json::from_value(adapted).unwrap();
        assert_eq!(input.arrival.key, "example-key");
        assert_eq!(input.execution.as_deref(), Some("e1"));

        let mut tags = fixture("object-created.json");
        tags["detail-type"] = json!("Object ACL Updated");
        let answered = filter_input(json!({"arrival": tags}))
            .unwrap()
            .expect_err("answered");
        assert!(
            matches!(&answered, FilterOutput::Filtered { object: None, .. }),
            "{answered:?}"
        );
    }

    #[test]
    fn quarantine_finds_the_object_of_a_caught_eventbridge_input() {
        let mut state = fixture("object-created.json");
        state["error"] = json!({"Error": "BadInput", "Cause": "{}"});
        let lifted = quarantine_input(state);
        assert_eq!(lifted["bucket"], "amzn-s3-demo-bucket1");
        assert_eq!(lifted["key"], "example-key");
        assert_eq!(lifted["version_id"], "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e");
        assert_eq!(lifted["error"]["Error"], "BadInput");
        let request: IngestState = serde_json::from_value(lifted).expect("the step reads it");
        assert_eq!(request.key.as_deref(), Some("example-key"));
        let with_object = json!({"object": {"key": "k"}, "detail": {"bucket": {"name": "b"}, "object": {"key": "other"}}});
        assert_eq!(quarantine_input(with_object.clone()), with_object);
    }
}
