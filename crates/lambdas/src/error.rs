//! A step's error as the Lambda reports it, and so as Step Functions sees it.
//!
//! Step Functions takes a Lambda function error's `errorType` as the `Error` name that Retry
//! and Catch match, and the whole error document (`{"errorType": …, "errorMessage": …}`) as
//! its `Cause`. Left to itself the runtime would report the Rust type name of the error; here
//! `errorType` is the kind's name (`TransientError`, `CommitConflict`, `BadInput`,
//! `DriftBlocked`, `Internal`) and `errorMessage` the step's `ErrorCause` JSON, the same cause
//! the local binding gives, which the Quarantine step reads back from `$.error.Cause`.

use lambda_runtime::Diagnostic;
use sluice_steps::StepError;

/// A step's error on its way out of a Lambda: a newtype because neither `StepError` nor
/// `Diagnostic` is this crate's, and only a local type may carry the conversion.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StepFailure(#[from] pub StepError);

impl From<StepFailure> for Diagnostic {
    fn from(StepFailure(e): StepFailure) -> Diagnostic {
        let cause = serde_json::to_string(&e.cause()).unwrap_or_else(|_| e.message.clone());
        Diagnostic {
            error_type: e.kind.name().to_string(),
            error_message: cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::QuarantineReason;
    use sluice_steps::error::ErrorCause;
    use sluice_steps::StepErrorKind;

    fn diagnose(e: StepError) -> (String, ErrorCause) {
        let d: Diagnostic = StepFailure(e).into();
        let cause = serde_json::from_str(&d.error_message).expect("errorMessage is the cause JSON");
        (d.error_type, cause)
    }

    #[test]
    fn transient_error_keeps_its_name() {
        let (t, c) = diagnose(StepError::new(StepErrorKind::TransientError, "slow down"));
        assert_eq!(t, "TransientError");
        assert_eq!(c.reason, QuarantineReason::Internal);
        assert_eq!(c.detail, "slow down");
    }

    #[test]
    fn commit_conflict_keeps_its_name() {
        let (t, c) = diagnose(StepError::new(
            StepErrorKind::CommitConflict,
            "lost the race",
        ));
        assert_eq!(t, "CommitConflict");
        assert_eq!(c.detail, "lost the race");
    }

    #[test]
    fn bad_input_carries_its_quarantine_reason() {
        let (t, c) = diagnose(StepError::bad_input(QuarantineReason::TooLarge, "11 GiB"));
        assert_eq!(t, "BadInput");
        assert_eq!(c.reason, QuarantineReason::TooLarge);
        assert_eq!(c.detail, "11 GiB");
    }

    #[test]
    fn drift_blocked_carries_its_quarantine_reason() {
        let e = StepError {
            reason: Some(QuarantineReason::DriftBlocked),
            ..StepError::new(StepErrorKind::DriftBlocked, "quantity: long -> string")
        };
        let (t, c) = diagnose(e);
        assert_eq!(t, "DriftBlocked");
        assert_eq!(c.reason, QuarantineReason::DriftBlocked);
    }

    #[test]
    fn internal_keeps_its_name() {
        let (t, c) = diagnose(StepError::internal("broken invariant"));
        assert_eq!(t, "Internal");
        assert_eq!(c.reason, QuarantineReason::Internal);
    }

    /// What Step Functions puts at `$.error` for a Lambda error, read back by the Quarantine
    /// step: the reason survives the trip.
    #[test]
    fn the_quarantine_step_reads_the_reason_back_from_the_lambda_error_document() {
        let d: Diagnostic =
            StepFailure(StepError::bad_input(QuarantineReason::ParseError, "line 3")).into();
        let document = serde_json::json!({
            "errorType": d.error_type,
            "errorMessage": d.error_message,
        });
        let request = sluice_steps::state::IngestState {
            key: Some("orders/a.ndjson".into()),
            bucket: Some("landing".into()),
            error: Some(sluice_steps::payload::CaughtError {
                error: "BadInput".into(),
                cause: document.to_string(),
            }),
            ..Default::default()
        };
        let input = sluice_steps::quarantine::normalize(request).expect("an identity and a reason");
        assert_eq!(input.reason, QuarantineReason::ParseError);
        assert_eq!(input.detail, "line 3");
    }
}
