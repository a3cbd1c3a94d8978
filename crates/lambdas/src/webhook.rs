//! The receive function: the webhook API on AWS, behind an API Gateway HTTP API (payload
//! format 2.0), over the same `sluice_steps::receive` as `sluice serve`.
//!
//! - `POST /tables/{table}/arrivals`: the body is written under the table's prefix
//!   (claim-check, the key from the `Idempotency-Key` or the body) and answered `202` with the
//!   arrival's id; its S3 event starts the ingestion, as any object's does.
//! - `GET /arrivals/{id}`: where the arrival stands, from the ledger.
//!
//! Authentication is the API's (IAM, `execute-api:Invoke`) or, with `SLUICE_WEBHOOK_SECRET_ARN`
//! set, a shared secret: `X-Sluice-Signature-256: sha256=<HMAC-SHA256 of the body>` (of the
//! path, `/arrivals/<id>`, for a GET), checked here. Errors are JSON `{error, message}` with
//! the status `sluice serve` answers, and nothing is stored for any of them.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_steps::receive::{self, ReceiveError, SignatureError, Signed, SIGNATURE_HEADER};
use sluice_steps::Context;

/// `SLUICE_WEBHOOK_MAX_BODY`'s default: 4 MiB, under Lambda's 6 MB request limit once API
/// Gateway has base64-encoded a binary body.
pub const DEFAULT_MAX_BODY: u64 = 4 * 1024 * 1024;

/// An HTTP API request, payload format 2.0 (only what the function reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    #[serde(default)]
    pub route_key: Option<String>,
    #[serde(default)]
    pub raw_path: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub path_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    #[serde(default)]
    pub request_context: RequestContext,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RequestContext {
    #[serde(default)]
    pub http: HttpContext,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpContext {
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub path: String,
}

/// The function's answer, as API Gateway turns it into an HTTP response.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub is_base64_encoded: bool,
}

impl HttpResponse {
    fn json(status: u16, body: &Value) -> HttpResponse {
        HttpResponse {
            status_code: status,
            headers: BTreeMap::from([("content-type".into(), "application/json".into())]),
            body: body.to_string(),
            is_base64_encoded: false,
        }
    }

    /// An error answer. A 503 is a passing failure of the bucket or the ledger: it carries
    /// `Retry-After` with the 5 seconds `sluice serve` asks for when its queue is full.
    fn error(status: u16, code: &str, message: impl std::fmt::Display) -> HttpResponse {
        let mut response = HttpResponse::json(status, &receive::error_body(code, message));
        if status == 503 {
            response
                .headers
                .insert("retry-after".into(), receive::RETRY_AFTER_SECS.into());
        }
        response
    }

    /// The body as JSON (for tests).
    pub fn json_body(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The function's settings, read once at start.
#[derive(Clone)]
pub struct Webhook {
    /// The shared secret bodies are signed with; `None` when the API authenticates (IAM).
    pub secret: Option<Vec<u8>>,
    pub max_body: u64,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("max_body", &self.max_body)
            .finish()
    }
}

fn unauthorized(e: SignatureError) -> HttpResponse {
    HttpResponse::error(e.status(), e.code(), e)
}

/// What the request asks: the route, from the route key API Gateway matched (else the path).
enum Route {
    Arrive(String),
    Status(String),
    Other,
}

fn route(request: &HttpRequest) -> Route {
    let method = request.request_context.http.method.to_ascii_uppercase();
    let path = request
        .raw_path
        .clone()
        .unwrap_or_else(|| request.request_context.http.path.clone());
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method.as_str(), request.route_key.as_deref()) {
        ("POST", Some("POST /tables/{table}/arrivals")) => {
            if let Some(t) = request.path_parameters.get("table") {
                return Route::Arrive(t.clone());
            }
        }
        ("GET", Some("GET /arrivals/{id}")) => {
            if let Some(id) = request.path_parameters.get("id") {
                return Route::Status(id.clone());
            }
        }
        _ => {}
    }
    // Without the route key (a `$default` route): the path's last segments.
    match (method.as_str(), segments.as_slice()) {
        ("POST", [.., "tables", table, "arrivals"]) => Route::Arrive(table.to_string()),
        ("GET", [.., "arrivals", id]) => Route::Status(id.to_string()),
        _ => Route::Other,
    }
}

/// Answers one request.
pub async fn handle(ctx: &Context, webhook: &Webhook, request: HttpRequest) -> HttpResponse {
    let headers: BTreeMap<String, String> = request
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let header = |name: &str| headers.get(name).map(String::as_str);
    match route(&request) {
        Route::Arrive(table) => {
            if webhook.secret.is_some() && header(SIGNATURE_HEADER).is_none() {
                return unauthorized(SignatureError::Missing);
            }
            let body = match (&request.body, request.is_base64_encoded) {
                (None, _) => Bytes::new(),
                (Some(b), false) => Bytes::from(b.clone().into_bytes()),
                (Some(b), true) => match aws_smithy_types::base64::decode(b) {
                    Ok(b) => Bytes::from(b),
                    Err(_) => {
                        return HttpResponse::error(
                            400,
                            "bad_body",
                            "the body API Gateway passed is not valid base64",
                        )
                    }
                },
            };
            if body.len() as u64 > webhook.max_body {
                let e = ReceiveError::TooLarge {
                    limit: webhook.max_body,
                };
                return HttpResponse::error(e.status(), e.code(), e);
            }
            let secret = webhook.secret.as_deref();
            if let Err(e) =
                receive::authorize(secret, Signed::Body(&body), header(SIGNATURE_HEADER))
            {
                return unauthorized(e);
            }
            let received = receive::receive(
                ctx.store.as_ref(),
                &ctx.config,
                receive::Request {
                    table: &table,
                    content_type: header("content-type"),
                    content_encoding: header("content-encoding"),
                    idempotency_key: header("idempotency-key"),
                    body,
                },
                webhook.max_body,
            )
            .await;
            match received {
                Ok(r) => {
                    tracing::info!(table = %r.table, id = %r.id, key = %r.key, repeated = r.repeated, "arrival received");
                    let mut response = HttpResponse::json(202, &receive::accepted(&r));
                    response
                        .headers
                        .insert("location".into(), receive::status_path(&r.id));
                    response
                }
                Err(e) => {
                    if e.status() >= 500 {
                        tracing::warn!(table = %table, error = %e, "a body was not received");
                    }
                    HttpResponse::error(e.status(), e.code(), e)
                }
            }
        }
        Route::Status(id) => {
            let secret = webhook.secret.as_deref();
            if let Err(e) =
                receive::authorize(secret, Signed::Status(&id), header(SIGNATURE_HEADER))
            {
                return unauthorized(e);
            }
            match receive::status(ctx, &id).await {
                Ok(Some(status)) => {
                    HttpResponse::json(200, &serde_json::to_value(&status).unwrap_or(Value::Null))
                }
                Ok(None) => HttpResponse::error(
                    404,
                    "unknown_arrival",
                    format!("no arrival {id:?} was received"),
                ),
                Err(e) => HttpResponse::error(503, "unavailable", e),
            }
        }
        Route::Other => HttpResponse::error(
            404,
            "no_such_route",
            "the webhook API serves POST /tables/{table}/arrivals and GET /arrivals/{id}",
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use serde_json::json;
    use sluice_store::LocalStore;

    use super::*;

    /// The orders example's context over a bucket in `dir`.
    fn context(dir: &Path) -> Context {
        let config = sluice_core::config::Config::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/orders/sluice.toml"),
        )
        .unwrap();
        let store = LocalStore::new(dir.join("landing"), "landing").unwrap();
        Context::new(
            config,
            Arc::new(store),
            sluice_lake::Lake::without_catalog(),
        )
        .unwrap()
    }

    fn post(body: &str, headers: &[(&str, &str)]) -> HttpRequest {
        HttpRequest {
            route_key: Some("POST /tables/{table}/arrivals".into()),
            raw_path: Some("/tables/orders/arrivals".into()),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            path_parameters: BTreeMap::from([("table".into(), "orders".into())]),
            body: Some(body.into()),
            is_base64_encoded: false,
            request_context: RequestContext {
                http: HttpContext {
                    method: "POST".into(),
                    path: "/tables/orders/arrivals".into(),
                },
            },
        }
    }

    const ROW: &str = "{\"order_id\":1}\n";

    #[tokio::test]
    async fn a_signed_body_is_answered_202_with_its_status_url_and_an_unsigned_one_401() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        let webhook = Webhook {
            secret: Some(b"s3cret".to_vec()),
            max_body: DEFAULT_MAX_BODY,
        };
        let ndjson = ("content-type", "application/x-ndjson");
        let unsigned = handle(&ctx, &webhook, post(ROW, &[ndjson])).await;
        assert_eq!(unsigned.status_code, 401);
        assert_eq!(unsigned.json_body()["error"], "unsigned");
        let signature = receive::sign(b"s3cret", ROW.as_bytes());
        let signed = handle(
            &ctx,
            &webhook,
            post(ROW, &[ndjson, ("X-Sluice-Signature-256", &signature)]),
        )
        .await;
        assert_eq!(signed.status_code, 202, "{}", signed.body);
        let body = signed.json_body();
        let id = body["id"].as_str().unwrap();
        assert_eq!(body["status"], "received");
        assert_eq!(body["status_url"], json!(format!("/arrivals/{id}")));
        assert_eq!(signed.headers["location"], format!("/arrivals/{id}"));
        assert!(!signed.headers.contains_key("retry-after"));
    }

    #[tokio::test]
    async fn a_body_the_bucket_cannot_take_is_answered_503_with_retry_after() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path());
        // A file where the table's prefix would be a directory: every write under it fails.
        std::fs::write(dir.path().join("landing/orders"), b"").unwrap();
        let webhook = Webhook {
            secret: None,
            max_body: DEFAULT_MAX_BODY,
        };
        let answer = handle(
            &ctx,
            &webhook,
            post(ROW, &[("content-type", "application/x-ndjson")]),
        )
        .await;
        assert_eq!(answer.status_code, 503, "{}", answer.body);
        assert_eq!(answer.json_body()["error"], "store_unavailable");
        assert_eq!(answer.headers["retry-after"], "5");
    }
}
