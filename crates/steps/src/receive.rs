//! Arrivals that come as a request body (a webhook's `POST /tables/{table}/arrivals`), by
//! claim-check: the body is first written as an object under the table's prefix, with a key
//! that the request decides ([`arrival_id`]), and from there goes the way of every object
//! (an S3 event on AWS, the local engine in `sluice serve`). No payload travels further than
//! this: events and executions carry the key.
//!
//! The key is `<table prefix>webhook/<id>.<ext>`, the id 24 hex digits of a SHA-256 over the
//! table and the request's `Idempotency-Key` (without one, over the body): the same key twice
//! is one object, answered with the same id, and the ledger loads it once. The same key with
//! another body is refused ([`ReceiveError::KeyReused`]), as payment APIs refuse it. The body's
//! format comes from its `Content-Type` (NDJSON, a JSON array or object, CSV), checked only as
//! far as its first bytes here; its rows are judged by the table's contract like any file's,
//! and a bad one is quarantined with the reason.
//!
//! A shared secret authenticates senders ([`authorize`]): `X-Sluice-Signature-256:
//! sha256=<hex>` of the body's HMAC-SHA256 (of the path, for a status), as GitHub and Stripe
//! sign their webhooks. The answers' bodies ([`accepted`], [`error_body`]) and statuses are
//! made here too, so that `sluice serve` and the receive function answer alike.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sluice_core::config::Config;
use sluice_core::ledger::LedgerState;
use sluice_core::ObjectVersion;
use sluice_store::{Conditional, ObjectMeta, ObjectStore, StoreError};

use crate::context::Context;
use crate::error::StepError;

/// Where under a table's prefix received bodies are written.
pub const WEBHOOK_DIR: &str = "webhook/";

/// The header that carries a body's signature.
pub const SIGNATURE_HEADER: &str = "x-sluice-signature-256";

/// The longest `Idempotency-Key` taken (UUIDs and ULIDs are far shorter).
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// What a body is, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    /// `application/x-ndjson`, `application/jsonl`, `application/jsonlines`: a JSON object a
    /// line.
    Ndjson,
    /// `application/json`: one object, or an array of objects.
    Json,
    /// `text/csv`: a header line, then rows.
    Csv,
}

impl BodyFormat {
    /// The format a `Content-Type` header names (parameters such as `charset=utf-8` aside);
    /// `None` for any other.
    pub fn from_content_type(value: &str) -> Option<BodyFormat> {
        let mut parts = value.split(';');
        let essence = parts.next()?.trim().to_ascii_lowercase();
        // A charset other than UTF-8 would be read wrong.
        for param in parts {
            if let Some((name, charset)) = param.split_once('=') {
                if name.trim().eq_ignore_ascii_case("charset") {
                    let charset = charset.trim().trim_matches('"');
                    if !charset.eq_ignore_ascii_case("utf-8")
                        && !charset.eq_ignore_ascii_case("utf8")
                    {
                        return None;
                    }
                }
            }
        }
        match essence.as_str() {
            "application/x-ndjson"
            | "application/ndjson"
            | "application/jsonl"
            | "application/jsonlines"
            | "application/x-jsonlines" => Some(BodyFormat::Ndjson),
            "application/json" => Some(BodyFormat::Json),
            "text/csv" => Some(BodyFormat::Csv),
            _ => None,
        }
    }

    /// The key's extension, which tells the reader the format.
    pub fn extension(self) -> &'static str {
        match self {
            BodyFormat::Ndjson => "ndjson",
            BodyFormat::Json => "json",
            BodyFormat::Csv => "csv",
        }
    }

    fn name(self) -> &'static str {
        match self {
            BodyFormat::Ndjson => "NDJSON",
            BodyFormat::Json => "JSON",
            BodyFormat::Csv => "CSV",
        }
    }
}

/// Why a body was not received. Each maps to an HTTP status ([`ReceiveError::status`]);
/// nothing is stored for any of them.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("no table {0:?} is configured")]
    UnknownTable(String),
    #[error(
        "Content-Type {0:?} is not one sluice reads: send application/x-ndjson, \
         application/json (an object or an array of objects) or text/csv, in UTF-8"
    )]
    UnsupportedMediaType(String),
    #[error("Content-Encoding {0:?} is not taken: send the body uncompressed")]
    UnsupportedEncoding(String),
    #[error("the body is over the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the body is not {format}: {reason}")]
    NotOfType {
        format: &'static str,
        reason: String,
    },
    #[error("Idempotency-Key: {0}")]
    BadKey(String),
    #[error(
        "Idempotency-Key {key:?} was used for another body (arrival {id}); a retry must send \
         the same bytes, a new arrival a new key"
    )]
    KeyReused { key: String, id: String },
    #[error("the bucket could not take the body: {0}")]
    Store(#[from] StoreError),
}

impl ReceiveError {
    /// The HTTP status that answers it.
    pub fn status(&self) -> u16 {
        match self {
            ReceiveError::UnknownTable(_) => 404,
            ReceiveError::UnsupportedMediaType(_) | ReceiveError::UnsupportedEncoding(_) => 415,
            ReceiveError::TooLarge { .. } => 413,
            ReceiveError::NotOfType { .. } | ReceiveError::BadKey(_) => 400,
            ReceiveError::KeyReused { .. } => 409,
            ReceiveError::Store(_) => 503,
        }
    }

    /// A stable name for the JSON error body and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ReceiveError::UnknownTable(_) => "unknown_table",
            ReceiveError::UnsupportedMediaType(_) => "unsupported_media_type",
            ReceiveError::UnsupportedEncoding(_) => "unsupported_encoding",
            ReceiveError::TooLarge { .. } => "too_large",
            ReceiveError::NotOfType { .. } => "not_of_content_type",
            ReceiveError::BadKey(_) => "bad_idempotency_key",
            ReceiveError::KeyReused { .. } => "idempotency_key_reused",
            ReceiveError::Store(_) => "store_unavailable",
        }
    }
}

/// A request as the receiver sees it, whatever served it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub table: &'a str,
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub body: Bytes,
}

/// A body written (or found written) as an object.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// The arrival's id, for `GET /arrivals/{id}`.
    pub id: String,
    pub table: String,
    /// The object's key in the bucket.
    pub key: String,
    #[serde(skip)]
    pub meta: ObjectMeta,
    /// The same request had been received before (the same key, or the same body without
    /// one): nothing new was written.
    pub repeated: bool,
}

/// The id of an arrival at `table`: from its idempotency key, or from its body without one.
pub fn arrival_id(table: &str, idempotency_key: Option<&str>, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(table.as_bytes());
    match idempotency_key {
        Some(key) => {
            hash.update(b"\0key\0");
            hash.update(key.as_bytes());
        }
        None => {
            hash.update(b"\0body\0");
            hash.update(body);
        }
    }
    hex::encode(&hash.finalize()[..12])
}

/// Whether `id` is an arrival id's shape (so that it can be put in a key safely).
pub fn is_arrival_id(id: &str) -> bool {
    id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Writes the body of `request` under its table's prefix, once: the object to load.
pub async fn receive(
    store: &dyn ObjectStore,
    config: &Config,
    request: Request<'_>,
    max_body: u64,
) -> Result<Received, ReceiveError> {
    let table = config
        .table(request.table)
        .ok_or_else(|| ReceiveError::UnknownTable(request.table.to_string()))?;
    if let Some(encoding) = request.content_encoding {
        if !encoding.trim().eq_ignore_ascii_case("identity") {
            return Err(ReceiveError::UnsupportedEncoding(encoding.to_string()));
        }
    }
    let content_type = request.content_type.unwrap_or("");
    let format = BodyFormat::from_content_type(content_type)
        .ok_or_else(|| ReceiveError::UnsupportedMediaType(content_type.to_string()))?;
    if request.body.len() as u64 > max_body {
        return Err(ReceiveError::TooLarge { limit: max_body });
    }
    if let Some(key) = request.idempotency_key {
        check_idempotency_key(key)?;
    }
    check_body(format, &request.body)?;
    let id = arrival_id(&table.name, request.idempotency_key, &request.body);
    let key = format!("{}{WEBHOOK_DIR}{id}.{}", table.prefix, format.extension());
    let (meta, repeated) = match store.create_if_absent(&key, request.body.clone()).await? {
        Conditional::Done(meta) => (meta, false),
        Conditional::PreconditionFailed => {
            // Received before: the same request again, or the key reused for other bytes.
            let Some((earlier, meta)) = store.get_bytes(&key).await? else {
                return Err(ReceiveError::Store(StoreError::Service {
                    key,
                    code: "Vanished".into(),
                    message: "the object existed and then did not; send again".into(),
                    transient: true,
                }));
            };
            if earlier != request.body {
                return Err(ReceiveError::KeyReused {
                    key: request.idempotency_key.unwrap_or_default().to_string(),
                    id,
                });
            }
            (meta, true)
        }
    };
    crate::events::emit(
        store,
        &crate::events::arrival_received(
            &table.name,
            &id,
            &key,
            meta.size,
            content_type,
            meta.last_modified.clone(),
        ),
    )
    .await
    .map_err(|e| {
        ReceiveError::Store(StoreError::Service {
            key: key.clone(),
            code: "OutboxWrite".into(),
            message: e.to_string(),
            transient: true,
        })
    })?;
    Ok(Received {
        id,
        table: table.name.clone(),
        key,
        meta,
        repeated,
    })
}

fn check_idempotency_key(key: &str) -> Result<(), ReceiveError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY {
        return Err(ReceiveError::BadKey(format!(
            "must be 1 to {MAX_IDEMPOTENCY_KEY} characters"
        )));
    }
    if key.chars().any(|c| c.is_control()) {
        return Err(ReceiveError::BadKey(
            "must not hold control characters".into(),
        ));
    }
    Ok(())
}

/// Checks what can be told of `body` from its first bytes: it is text, not empty, and starts
/// as its format does. Rows are the contract's business, later.
fn check_body(format: BodyFormat, body: &[u8]) -> Result<(), ReceiveError> {
    let not = |reason: &str| ReceiveError::NotOfType {
        format: format.name(),
        reason: reason.to_string(),
    };
    let head = &body[..body.len().min(4096)];
    if let Err(e) = std::str::from_utf8(head) {
        // A multi-byte character cut at the end of the head is fine.
        if e.error_len().is_some() {
            return Err(not("it is not UTF-8 text"));
        }
    }
    let Some(first) = head.iter().position(|b| !b.is_ascii_whitespace()) else {
        return Err(not("it is empty"));
    };
    let start = head[first];
    match format {
        BodyFormat::Ndjson if start != b'{' => Err(not(
            "NDJSON is one JSON object a line, and the first line does not start with `{`",
        )),
        BodyFormat::Json if start != b'{' && start != b'[' => Err(not(
            "a JSON body is an object or an array of objects, and this starts with neither",
        )),
        BodyFormat::Csv if start == b'{' || start == b'[' => Err(not(
            "it starts like JSON; send it as application/json or application/x-ndjson",
        )),
        _ => Ok(()),
    }
}

/// Why a request's signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No signature: answered 401.
    #[error(
        "the request is not signed: send {SIGNATURE_HEADER}: sha256=<hex HMAC-SHA256 of the body>"
    )]
    Missing,
    /// A signature that does not match: answered 403.
    #[error("the request's signature does not match its body")]
    Mismatch,
}

impl SignatureError {
    /// The HTTP status that answers it.
    pub fn status(&self) -> u16 {
        match self {
            SignatureError::Missing => 401,
            SignatureError::Mismatch => 403,
        }
    }

    /// A stable name for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::Missing => "unsigned",
            SignatureError::Mismatch => "bad_signature",
        }
    }
}

/// What a request's signature covers.
#[derive(Debug, Clone, Copy)]
pub enum Signed<'a> {
    /// `POST /tables/{table}/arrivals`: the body, as received.
    Body(&'a [u8]),
    /// `GET /arrivals/{id}`: the path, [`status_path`] of the id.
    Status(&'a str),
}

/// Checks a request's signature header when a secret is set (`None`: the API authenticates,
/// every request passes).
pub fn authorize(
    secret: Option<&[u8]>,
    signed: Signed<'_>,
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let Some(secret) = secret else {
        return Ok(());
    };
    match signed {
        Signed::Body(body) => verify_signature(secret, body, header),
        Signed::Status(id) => verify_signature(secret, status_path(id).as_bytes(), header),
    }
}

/// Checks `header` (`sha256=<hex>`) against the HMAC-SHA256 of `signed` under `secret`, in
/// constant time.
pub fn verify_signature(
    secret: &[u8],
    signed: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let hex_sig = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Mismatch)?;
    let given = hex::decode(hex_sig).map_err(|_| SignatureError::Mismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(signed);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature header's value for `signed` under `secret` (what a sender computes).
pub fn sign(secret: &[u8], signed: &[u8]) -> String {
    // An HMAC key may have any length: `new_from_slice` cannot fail for HMAC.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(signed);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The path `GET` answers arrival `id`'s status at: `/arrivals/{id}`.
pub fn status_path(id: &str) -> String {
    format!("/arrivals/{id}")
}

/// The body of the `202 Accepted` that answers a received arrival. Its `status_url` is also
/// the answer's `Location`.
pub fn accepted(received: &Received) -> serde_json::Value {
    serde_json::json!({
        "id": received.id,
        "table": received.table,
        "key": received.key,
        "repeated": received.repeated,
        "status": "received",
        "status_url": status_path(&received.id),
    })
}

/// The body of an error answer: `{"error": code, "message": message}`.
pub fn error_body(code: &str, message: impl std::fmt::Display) -> serde_json::Value {
    serde_json::json!({"error": code, "message": message.to_string()})
}

/// Seconds a `503` answer asks the sender to wait (`Retry-After`) before sending again.
pub const RETRY_AFTER_SECS: &str = "5";

/// Where an arrival stands, as `GET /arrivals/{id}` answers.
#[derive(Debug, Clone, Serialize)]
pub struct ArrivalStatus {
    pub id: String,
    pub table: String,
    pub key: String,
    /// When the body was written (RFC 3339).
    pub received_at: String,
    /// `received` (not taken up yet), `processing`, `committed`, `quarantined`, `filtered`
    /// or `retracted`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<sluice_core::ledger::RowCounts>,
    /// The quarantine or filter reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where the rejected rows are (`sluice rejects KEY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_key: Option<String>,
    /// The contract version the body was judged under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contract_version: Option<u32>,
}

/// Where arrival `id` stands: its object found under some table's prefix, and its ledger
/// record read. `None` when no body with that id was received.
pub async fn status(ctx: &Context, id: &str) -> Result<Option<ArrivalStatus>, StepError> {
    if !is_arrival_id(id) {
        return Ok(None);
    }
    for table in &ctx.config.tables {
        let prefix = format!("{}{WEBHOOK_DIR}{id}.", table.prefix);
        let Some(listed) = ctx.store.list(&prefix).await?.into_iter().next() else {
            continue;
        };
        // A listing names no version (S3's ListObjectsV2); the ledger keys versions.
        let meta = ctx.store.head(&listed.key).await?.unwrap_or(listed);
        let object = ObjectVersion {
            bucket: ctx.store.bucket().to_string(),
            key: meta.key.clone(),
            version_id: meta.version_id.clone(),
            etag: meta.etag.clone(),
            size: meta.size,
            sequencer: None,
            last_modified: meta.last_modified.clone(),
        };
        let mut out = ArrivalStatus {
            id: id.to_string(),
            table: table.name.clone(),
            key: meta.key.clone(),
            received_at: meta.last_modified.clone(),
            status: "received",
            snapshot_id: None,
            rows: None,
            reason: None,
            detail: None,
            rejects_key: None,
            contract_version: None,
        };
        let Some(record) = ctx.ledger.get(&object).await? else {
            return Ok(Some(out));
        };
        let record = record.record;
        out.rows = record.rows.clone();
        out.detail = record.detail.clone();
        out.rejects_key = record.rejects_key.clone();
        out.contract_version = record.contract_version;
        match &record.state {
            LedgerState::Claimed | LedgerState::Staged { .. } => out.status = "processing",
            LedgerState::Committed { snapshot_id } => {
                out.status = "committed";
                out.snapshot_id = Some(*snapshot_id);
            }
            LedgerState::Quarantined { reason } => {
                out.status = "quarantined";
                out.reason = Some(reason.as_str().to_string());
            }
            LedgerState::Filtered { reason } => {
                out.status = "filtered";
                out.reason = Some(reason.as_str().to_string());
            }
            LedgerState::Retracted { snapshot_id, cause } => {
                out.status = "retracted";
                out.snapshot_id = Some(*snapshot_id);
                out.reason = Some(cause.as_str().to_string());
            }
        }
        return Ok(Some(out));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_name_formats_and_charsets_other_than_utf8_are_refused() {
        use BodyFormat as F;
        for (value, want) in [
            ("application/x-ndjson", Some(F::Ndjson)),
            ("application/jsonl; charset=utf-8", Some(F::Ndjson)),
            ("Application/JSON", Some(F::Json)),
            ("text/csv;charset=\"UTF-8\"", Some(F::Csv)),
            ("text/csv; charset=latin1", None),
            ("text/plain", None),
            ("", None),
        ] {
            assert_eq!(BodyFormat::from_content_type(value), want, "{value}");
        }
    }

    #[test]
    fn bodies_are_checked_against_their_declared_format_by_their_first_bytes() {
        assert!(check_body(BodyFormat::Ndjson, b"{\"a\":1}\n").is_ok());
        assert!(check_body(BodyFormat::Json, b"  [{\"a\":1}]").is_ok());
        assert!(check_body(BodyFormat::Csv, b"a,b\n1,2\n").is_ok());
        for (format, body, says) in [
            (BodyFormat::Ndjson, &b"[1]"[..], "does not start with `{`"),
            (BodyFormat::Json, b"a,b", "neither"),
            (BodyFormat::Csv, b"{\"a\":1}", "starts like JSON"),
            (BodyFormat::Csv, b"   \n", "empty"),
            (BodyFormat::Ndjson, b"\xff\xfe{", "not UTF-8"),
        ] {
            let e = check_body(format, body).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn a_signature_is_the_hmac_of_the_body_and_nothing_else_passes() {
        let secret = b"s3cret";
        let good = sign(secret, b"body");
        assert!(verify_signature(secret, b"body", Some(&good)).is_ok());
        assert_eq!(
            verify_signature(secret, b"body", None),
            Err(SignatureError::Missing)
        );
        for bad in [
            sign(secret, b"other body"),
            sign(b"other secret", b"body"),
            good.replace("sha256=", ""),
            "sha256=zz".to_string(),
        ] {
            assert_eq!(
                verify_signature(secret, b"body", Some(&bad)),
                Err(SignatureError::Mismatch),
                "{bad}"
            );
        }
        // As GitHub documents it: HMAC-SHA256("It's a Secret to Everybody", "Hello, World!").
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn with_a_secret_a_body_or_the_status_path_is_signed_and_without_one_nothing_is_checked() {
        let secret = &b"s3cret"[..];
        let body = b"{\"a\":1}\n";
        let id = "0123456789abcdef01234567";
        let for_body = sign(secret, body);
        let for_status = sign(secret, b"/arrivals/0123456789abcdef01234567");
        assert_eq!(
            authorize(Some(secret), Signed::Body(body), Some(&for_body)),
            Ok(())
        );
        assert_eq!(
            authorize(Some(secret), Signed::Status(id), Some(&for_status)),
            Ok(())
        );
        assert_eq!(
            authorize(Some(secret), Signed::Status(id), Some(&for_body)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            authorize(Some(secret), Signed::Body(body), None),
            Err(SignatureError::Missing)
        );
        assert_eq!(authorize(None, Signed::Body(body), None), Ok(()));
        assert_eq!(authorize(None, Signed::Status(id), Some("junk")), Ok(()));
        let missing = SignatureError::Missing;
        let mismatch = SignatureError::Mismatch;
        assert_eq!((missing.status(), missing.code()), (401, "unsigned"));
        assert_eq!((mismatch.status(), mismatch.code()), (403, "bad_signature"));
    }

    #[test]
    fn an_accepted_arrival_is_answered_with_its_id_key_and_status_url() {
        let received = Received {
            id: "0123456789abcdef01234567".into(),
            table: "orders".into(),
            key: "orders/webhook/0123456789abcdef01234567.ndjson".into(),
            meta: ObjectMeta {
                key: "orders/webhook/0123456789abcdef01234567.ndjson".into(),
                size: 8,
                etag: "e".into(),
                version_id: None,
                last_modified: "2026-12-07T00:00:00Z".into(),
            },
            repeated: true,
        };
        // The fields in this order, as both servers have always written them.
        assert_eq!(
            accepted(&received).to_string(),
            "{\"id\":\"0123456789abcdef01234567\",\"table\":\"orders\",\
             \"key\":\"orders/webhook/0123456789abcdef01234567.ndjson\",\"repeated\":true,\
             \"status\":\"received\",\"status_url\":\"/arrivals/0123456789abcdef01234567\"}"
        );
        assert_eq!(
            error_body("busy", "wait").to_string(),
            "{\"error\":\"busy\",\"message\":\"wait\"}"
        );
    }

    #[test]
    fn ids_follow_the_idempotency_key_or_else_the_body() {
        let a = arrival_id("orders", Some("k1"), b"x");
        assert_eq!(a, arrival_id("orders", Some("k1"), b"y"));
        assert_ne!(a, arrival_id("refunds", Some("k1"), b"x"));
        assert_ne!(a, arrival_id("orders", None, b"x"));
        assert_eq!(
            arrival_id("orders", None, b"x"),
            arrival_id("orders", None, b"x")
        );
        assert!(is_arrival_id(&a));
        assert!(!is_arrival_id("../../etc/passwd"));
    }
}
