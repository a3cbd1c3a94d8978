//! The AWS SDK configuration every client of this crate is built from.
//!
//! One [`SdkConfig`] from the SDK's default chain (environment, profile, container and
//! instance credentials; `AWS_REGION`; `AWS_ENDPOINT_URL`) feeds the S3 client, the Glue
//! catalog and the Iceberg FileIO alike, so that pointing `AWS_ENDPOINT_URL` at an emulator
//! moves all of them at once. An endpoint override also switches S3 to path-style addressing
//! (`http://host:port/bucket/key`): emulators and S3-compatible stores serve that, while
//! virtual-hosted names (`bucket.host`) would need DNS for every bucket.
//!
//! Every request attempt has a deadline ([`ATTEMPT_TIMEOUT`]). The SDK has none by default:
//! a connection that is accepted and then never answered would hold a function until its own
//! timeout, and the Task would fail with it, where a second attempt succeeds. An attempt past
//! the deadline is retried like any transient failure. Uploads of a body are exempt
//! ([`upload_timeouts`]): their time grows with the body and the link, and the SDK's
//! stalled-stream protection already ends an upload that stops moving. The Glue catalog
//! builds an SDK configuration of its own and gets the same deadlines as properties
//! ([`crate::glue`]); the S3 Tables catalog's HTTP client gives up a request at the same
//! deadline ([`crate::s3tables::http_client`]), which surfaces as a transient error.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// How long one attempt of a request (other than an upload) may take before the SDK gives
/// it up and retries. Far above any answer of S3, Glue or Step Functions, and below a
/// function's timeout, so that a lost answer costs one retry, not the step.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a connection may take to open: the SDK's own default.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The timeouts every client of [`sdk_config`] starts from.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .build()
}

/// The timeouts of a request that sends a body (`PutObject`, `UploadPart`): no attempt
/// deadline, since a large part on a slow link may rightly take minutes.
pub fn upload_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .disable_operation_attempt_timeout()
        .build()
}

/// The SDK configuration from the default chain, with [`timeouts`]. Honours
/// `AWS_ENDPOINT_URL`, which the SDK reads itself.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts())
        .load()
        .await
}

/// An S3 client for `sdk`, path-style when the endpoint is overridden.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let mut conf = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        conf = conf.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(conf.build())
}

/// An error and its sources as one line of words (`sluice_core::error_text`): the SDK's own
/// `DisplayErrorContext` ends with the error's `Debug` form, Rust structs a person cannot act
/// on.
pub use sluice_core::error_text;

#[cfg(test)]
mod error_text_tests {
    use super::error_text;

    #[test]
    fn a_dispatch_failure_reads_as_words_not_structs() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let connector = aws_smithy_runtime_api::client::result::ConnectorError::io(Box::new(io));
        let err: aws_sdk_s3::error::SdkError<
            aws_sdk_s3::operation::head_object::HeadObjectError,
            (),
        > = aws_sdk_s3::error::SdkError::dispatch_failure(connector);
        let text = error_text(&err);
        assert_eq!(
            text,
            "dispatch failure: io error: Connection refused (os error 111)"
        );
        assert!(!text.contains("DispatchFailure"), "{text}");
    }
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    #[tokio::test]
    async fn every_request_but_an_upload_has_an_attempt_deadline() {
        let sdk = sdk_config().await;
        let timeouts = sdk.timeout_config().expect("a timeout configuration");
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        // An upload keeps the connect deadline and has no attempt deadline, even when
        // merged over the client's own configuration.
        let merged = upload_timeouts()
            .into_builder()
            .take_unset_from(timeouts.to_builder())
            .build();
        assert_eq!(merged.operation_attempt_timeout(), None);
        assert_eq!(merged.connect_timeout(), Some(CONNECT_TIMEOUT));
    }
}
