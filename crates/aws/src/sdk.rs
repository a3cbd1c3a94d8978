//! The AWS SDK configuration every client of this crate is built from.
//!
//! One [`SdkConfig`] from the SDK's default chain (environment, profile, container and
//! instance credentials; `AWS_REGION`; `AWS_ENDPOINT_URL`) feeds the S3 client, the Glue
//! catalog and the Iceberg FileIO alike, so that pointing `AWS_ENDPOINT_URL` at an emulator
//! moves all of them at once. An endpoint override also switches S3 to path-style addressing
//! (`http://host:port/bucket/key`): emulators and S3-compatible stores serve that, while
//! virtual-hosted names (`bucket.host`) would need DNS for every bucket.

use aws_config::{BehaviorVersion, SdkConfig};

/// The SDK configuration from the default chain. Honours `AWS_ENDPOINT_URL`, which the SDK
/// reads itself.
pub async fn sdk_config() -> SdkConfig {
    aws_config::load_defaults(BehaviorVersion::latest()).await
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
