//! AWS Signature Version 4 for the requests sluice sends outside the AWS SDK: the Iceberg
//! REST catalog's (through iceberg-catalog-rest's [`HttpRequestSigner`] hook) and the few
//! S3 Tables control-plane calls sluice makes.
//!
//! Credentials come from the `SdkConfig`'s provider on every request, so a role's session
//! credentials are refreshed as the SDK refreshes them (its provider caches them until they
//! near expiry). The signature covers the method, URL, every header the request carries and
//! a hash of its body; the `Host` header is set explicitly first, so the host signed is the
//! host sent.

use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use iceberg::{Error, ErrorKind};
use iceberg_catalog_rest::HttpRequestSigner;
use reqwest_rest_catalog::header::{HeaderName, HeaderValue, AUTHORIZATION, HOST};
use reqwest_rest_catalog::Request;

/// Signs requests for one service (its signing name) in one region.
#[derive(Debug, Clone)]
pub struct SigV4Signer {
    /// The SDK's credentials provider, asked on every request.
    credentials: SharedCredentialsProvider,
    /// The region of the credential scope (the endpoint's region).
    region: String,
    /// The service's signing name (`s3tables`).
    service: &'static str,
}

impl SigV4Signer {
    pub fn new(
        credentials: SharedCredentialsProvider,
        region: String,
        service: &'static str,
    ) -> Self {
        SigV4Signer {
            credentials,
            region,
            service,
        }
    }

    /// Signs `request` in place, as of `time`.
    pub async fn sign_at(&self, request: &mut Request, time: SystemTime) -> iceberg::Result<()> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            Error::new(
                ErrorKind::Unexpected,
                "the AWS SDK could not load credentials to sign a catalog request",
            )
            .with_retryable(true)
            .with_source(e)
        })?;
        let url = request.url().clone();
        let host = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => {
                return Err(Error::new(
                    ErrorKind::DataInvalid,
                    format!("cannot sign a request to {url}: it names no host"),
                ))
            }
        };
        request.headers_mut().insert(HOST, header_value(&host)?);
        let identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| signing_error("building the signing parameters", e))?
            .into();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .unwrap_or_default();
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            url.as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| signing_error("reading the request to sign", e))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| signing_error("signing the request", e))?
            .into_parts();
        let (headers, _query) = instructions.into_parts();
        for header in headers {
            let name = HeaderName::from_bytes(header.name().as_bytes())
                .map_err(|e| signing_error("a signature header", e))?;
            let mut value = header_value(header.value())?;
            // Kept out of Debug output and logs: the signature and the session token.
            value.set_sensitive(
                header.sensitive() || name == AUTHORIZATION || name == "x-amz-security-token",
            );
            request.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

#[async_trait]
impl HttpRequestSigner for SigV4Signer {
    async fn sign(&self, request: &mut Request) -> iceberg::Result<()> {
        self.sign_at(request, SystemTime::now()).await
    }
}

fn header_value(value: &str) -> iceberg::Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|e| signing_error("a signature header", e))
}

fn signing_error(doing: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Unexpected, format!("SigV4: {doing}")).with_source(e)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use aws_credential_types::Credentials;
    use reqwest_rest_catalog::{Body, Method, Url};

    use super::*;

    fn signer(token: Option<&str>) -> SigV4Signer {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "secret",
            token.map(str::to_string),
            None,
            "test",
        );
        SigV4Signer::new(
            SharedCredentialsProvider::new(credentials),
            "eu-west-1".into(),
            "s3tables",
        )
    }

    fn request(body: &str) -> Request {
        let url = Url::parse(
            "https://s3tables.eu-west-1.amazonaws.com/iceberg/v1/arn%3Aaws%3As3tables%3Aeu-west-1%3A111122223333%3Abucket%2Flake/namespaces",
        )
        .unwrap();
        let mut request = Request::new(Method::POST, url);
        request
            .headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        *request.body_mut() = Some(Body::from(body.to_string()));
        request
    }

    fn authorization(request: &Request) -> String {
        request.headers()["authorization"]
            .to_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn a_signed_request_carries_the_scope_of_the_service_and_region() {
        let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
        let mut req = request(r#"{"namespace":["shop"]}"#);
        signer(Some("session")).sign_at(&mut req, at).await.unwrap();
        let auth = authorization(&req);
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-1/s3tables/aws4_request"
            ),
            "{auth}"
        );
        assert!(
            auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token"),
            "{auth}"
        );
        assert_eq!(req.headers()["x-amz-date"], "20260101T000000Z");
        assert_eq!(req.headers()["x-amz-security-token"], "session");
        assert_eq!(req.headers()["host"], "s3tables.eu-west-1.amazonaws.com");
        assert!(req.headers()["authorization"].is_sensitive());
        assert!(req.headers()["x-amz-security-token"].is_sensitive());
    }

    #[tokio::test]
    async fn the_signature_covers_the_body() {
        let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
        let (mut one, mut other) = (request(r#"{"a":1}"#), request(r#"{"a":2}"#));
        signer(None).sign_at(&mut one, at).await.unwrap();
        signer(None).sign_at(&mut other, at).await.unwrap();
        assert_ne!(authorization(&one), authorization(&other));
        assert!(!one.headers().contains_key("x-amz-security-token"));
    }
}
