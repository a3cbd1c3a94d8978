//! How a failed S3 request becomes a [`StoreError`], decided once, here.
//!
//! The SDK has already retried what its standard retry policy retries (throttling, 5xx,
//! timeouts, lost connections) by the time an error reaches us, so what is left is either a
//! request that is wrong (403, 400, a missing bucket: retrying cannot help) or trouble that
//! outlasted the SDK's attempts (a step retry with a longer backoff may still get through).
//! [`StoreError::is_transient`] must say which, because the step error mapping turns it into
//! `TransientError` (retry) or `Internal` (stop, fix, redrive).
//!
//! The answers a caller branches on, 404 and 412, are taken out by each operation before
//! it falls back on [`store_error`].

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use sluice_store::StoreError;

/// Error codes that mean "try again later" whatever their HTTP status.
const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    // 409: another conditional write to the key is in flight; S3 asks the caller to retry.
    "ConditionalRequestConflict",
    // 409: a conflicting operation on the bucket is in progress.
    "OperationAborted",
];

/// The HTTP status of a service's answer, `None` when no answer came (timeout, network).
pub(crate) fn status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    match err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    }
}

/// Classifies `err`, a failed request about `key`.
pub(crate) fn store_error<E>(key: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (code, transient) = match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service
                .err()
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| format!("HTTP {status}"));
            let transient =
                status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code.as_str());
            (code, transient)
        }
        SdkError::TimeoutError(_) => ("Timeout".to_string(), true),
        // A user error (a malformed endpoint, say) fails the same way every time.
        SdkError::DispatchFailure(d) => ("Dispatch".to_string(), !d.is_user()),
        // The answer could not be read: a connection cut mid-response.
        SdkError::ResponseError(_) => ("Response".to_string(), true),
        SdkError::ConstructionFailure(_) => ("Construction".to_string(), false),
        _ => ("Unknown".to_string(), false),
    };
    let message = match &err {
        SdkError::ServiceError(service) => service
            .err()
            .message()
            .map(str::to_string)
            .unwrap_or_else(|| crate::sdk::error_text(&err)),
        _ => crate::sdk::error_text(&err),
    };
    StoreError::Service {
        key: key.to_string(),
        code,
        message,
        transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::put_object::PutObjectError;
    use aws_smithy_types::body::SdkBody;

    fn answer(status: u16, code: &str) -> SdkError<PutObjectError, HttpResponse> {
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        let err = PutObjectError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message("the service said no")
                .build(),
        );
        SdkError::service_error(err, raw)
    }

    fn transient(status: u16, code: &str) -> bool {
        let err = store_error("k", answer(status, code));
        assert!(
            matches!(&err, StoreError::Service { code: c, .. } if c == code),
            "{err:?}"
        );
        err.is_transient()
    }

    #[test]
    fn throttling_server_errors_and_conflicting_conditions_are_transient() {
        assert!(transient(503, "SlowDown"));
        assert!(transient(500, "InternalError"));
        assert!(transient(409, "ConditionalRequestConflict"));
        assert!(transient(400, "RequestTimeout"));
        assert!(transient(429, "TooManyRequests"));
    }

    #[test]
    fn refusals_are_not_transient() {
        assert!(!transient(403, "AccessDenied"));
        assert!(!transient(404, "NoSuchBucket"));
        assert!(!transient(400, "InvalidArgument"));
        assert!(!transient(400, "EntityTooSmall"));
    }

    #[test]
    fn no_answer_at_all_is_transient() {
        let err: SdkError<PutObjectError, HttpResponse> =
            SdkError::timeout_error("no answer in time");
        assert!(store_error("k", err).is_transient());
        let err: SdkError<PutObjectError, HttpResponse> =
            SdkError::construction_failure("a required field is missing");
        assert!(!store_error("k", err).is_transient());
    }
}
