//! `StepError`: the only error a step returns, with a kind whose name is what Step
//! Functions' `Retry` and `Catch` match (DESIGN §7).
//!
//! Library errors are mapped to kinds here, in one place; steps never choose a name by hand.

use serde::{Deserialize, Serialize};
use sluice_core::drift::DriftChange;
use sluice_core::QuarantineReason;
use sluice_lake::{LakeError, LakeErrorKind};
use sluice_store::{LedgerError, StoreError};

/// The closed set of step error kinds. Never rename one: the names are matched by the
/// state machine definition; a retired kind stays, documented as deprecated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepErrorKind {
    /// Something that may pass (I/O, a busy catalog): retry with backoff.
    TransientError,
    /// Another writer committed first: retry with backoff and jitter.
    CommitConflict,
    /// The object itself is bad: quarantine, never retry.
    BadInput,
    /// The drift policy blocks the file's schema change: quarantine.
    DriftBlocked,
    /// A bug or broken invariant: fail the execution; redrive after a fix.
    Internal,
}

impl StepErrorKind {
    /// The error name Step Functions sees. The only place these strings are written.
    pub fn name(self) -> &'static str {
        match self {
            Self::TransientError => "TransientError",
            Self::CommitConflict => "CommitConflict",
            Self::BadInput => "BadInput",
            Self::DriftBlocked => "DriftBlocked",
            Self::Internal => "Internal",
        }
    }

    /// Whether the state machine retries this kind.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::TransientError | Self::CommitConflict)
    }
}

/// A step failure. For `BadInput` and `DriftBlocked` it carries the quarantine reason, so
/// the Quarantine step records the right code.
///
/// Its `Display` is the kind and this error's own sentence; the error it comes from (a
/// store, lake or ledger error) is its [`source`](std::error::Error::source), never repeated
/// in the message, so a printer that walks the chain prints each sentence once.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct StepError {
    pub kind: StepErrorKind,
    pub reason: Option<QuarantineReason>,
    pub message: String,
    /// For `DriftBlocked`, the changes that blocked the file (carried in the cause to the
    /// quarantine record, where `sluice drift` finds them).
    pub drift: Vec<DriftChange>,
    /// The error this one was made from, if any.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StepError {
    pub fn new(kind: StepErrorKind, message: impl Into<String>) -> Self {
        StepError {
            kind,
            reason: None,
            message: message.into(),
            drift: vec![],
            source: None,
        }
    }

    /// A bad object that goes to quarantine with `reason`.
    pub fn bad_input(reason: QuarantineReason, message: impl Into<String>) -> Self {
        StepError {
            reason: Some(reason),
            ..Self::new(StepErrorKind::BadInput, message)
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StepErrorKind::Internal, message)
    }

    /// The same error, caused by `source`.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The message and every cause under it, in words: `message: cause: cause's cause`.
    pub fn chain(&self) -> String {
        let mut words = self.message.clone();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            words.push_str(": ");
            words.push_str(&e.to_string());
            next = e.source();
        }
        words
    }

    /// The error's `Cause` as Step Functions carries it: a small JSON document whose
    /// `detail` is the [chain](StepError::chain) in words.
    pub fn cause(&self) -> ErrorCause {
        ErrorCause {
            reason: self.reason.unwrap_or(QuarantineReason::Internal),
            detail: truncate(&self.chain(), 1024),
            drift: recordable(&self.drift),
        }
    }
}

/// The JSON in an error's `Cause`: what the Quarantine step needs to write its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorCause {
    pub reason: QuarantineReason,
    pub detail: String,
    /// The changes that blocked a `drift_blocked` file ([`StepError::drift`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftChange>,
}

/// Longest field path a cause carries in its changes; a change set with a longer one is not
/// recorded (the detail still names it), so a hostile file's names cannot fill a cause.
const MAX_RECORDED_PATH: usize = 256;
/// Most changes a cause carries.
const MAX_RECORDED_CHANGES: usize = 20;

/// The changes as a cause carries them: all of them, or none when there are too many or one
/// is too long to be an approvable, recordable change set.
fn recordable(changes: &[DriftChange]) -> Vec<DriftChange> {
    let fits = changes.len() <= MAX_RECORDED_CHANGES
        && changes
            .iter()
            .all(|c| c.path.len() <= MAX_RECORDED_PATH && c.file_type.len() <= MAX_RECORDED_PATH);
    if fits {
        changes.to_vec()
    } else {
        vec![]
    }
}

impl ErrorCause {
    /// Reads a caught error's `Cause`: this JSON directly (the local engine), or a Lambda
    /// error document (`{"errorType", "errorMessage"}`) whose `errorMessage` is it (AWS).
    /// `None` for any other text.
    pub fn from_cause(cause: &str) -> Option<ErrorCause> {
        if let Ok(direct) = serde_json::from_str::<ErrorCause>(cause) {
            return Some(direct);
        }
        let lambda = serde_json::from_str::<LambdaErrorDocument>(cause).ok()?;
        serde_json::from_str(&lambda.error_message).ok()
    }
}

/// The document Step Functions makes of a Lambda function's error, as an error's `Cause`.
#[derive(Debug, Deserialize)]
struct LambdaErrorDocument {
    #[serde(rename = "errorMessage")]
    error_message: String,
}

/// Cuts `s` to at most `max` bytes on a char boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl From<LakeError> for StepError {
    fn from(e: LakeError) -> Self {
        let kind = match e.kind {
            LakeErrorKind::CommitConflict => StepErrorKind::CommitConflict,
            LakeErrorKind::Transient => StepErrorKind::TransientError,
            LakeErrorKind::Internal => StepErrorKind::Internal,
        };
        StepError::new(kind, "the table operation failed").with_source(e)
    }
}

impl From<StoreError> for StepError {
    fn from(e: StoreError) -> Self {
        let error = match &e {
            StoreError::BadKey(_) => StepError::bad_input(
                QuarantineReason::UnsupportedFormat,
                "the object store cannot take the key",
            ),
            _ if e.is_transient() => {
                StepError::new(StepErrorKind::TransientError, "the object store failed")
            }
            _ => StepError::internal("the object store failed"),
        };
        error.with_source(e)
    }
}

impl From<LedgerError> for StepError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::Store(s) => s.into(),
            // Someone else moved the record first: re-running the step re-reads it.
            LedgerError::Conflict { .. } => StepError::new(
                StepErrorKind::TransientError,
                "the ledger update lost a race",
            )
            .with_source(e),
            other => StepError::internal("the ledger refused the update").with_source(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_blocked_cause_carries_its_changes_unless_they_are_too_big() {
        let change = |path: &str| DriftChange {
            class: sluice_core::drift::DriftClass::AdditiveOptional,
            path: path.into(),
            table_type: None,
            file_type: "string".into(),
        };
        let blocked = |drift: Vec<DriftChange>| StepError {
            reason: Some(QuarantineReason::DriftBlocked),
            drift,
            ..StepError::new(StepErrorKind::DriftBlocked, "orders/a.ndjson: drift")
        };
        let cause = blocked(vec![change("coupon")]).cause();
        let text = serde_json::to_string(&cause).unwrap();
        // Through Step Functions (a Lambda error document) and back.
        let lambda = serde_json::json!({"errorType": "DriftBlocked", "errorMessage": text});
        let back = ErrorCause::from_cause(&lambda.to_string()).unwrap();
        assert_eq!(back.drift, vec![change("coupon")]);
        // A cause without changes reads as before.
        assert!(!serde_json::to_string(&StepError::internal("x").cause())
            .unwrap()
            .contains("drift"));
        // A hostile file's names cannot fill the cause: too long or too many, none recorded.
        assert!(blocked(vec![change(&"x".repeat(300))])
            .cause()
            .drift
            .is_empty());
        let many: Vec<DriftChange> = (0..21).map(|i| change(&format!("f{i}"))).collect();
        assert!(blocked(many).cause().drift.is_empty());
    }

    #[test]
    fn names_are_the_state_machine_names() {
        let all = [
            StepErrorKind::TransientError,
            StepErrorKind::CommitConflict,
            StepErrorKind::BadInput,
            StepErrorKind::DriftBlocked,
            StepErrorKind::Internal,
        ];
        let names: Vec<_> = all.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "TransientError",
                "CommitConflict",
                "BadInput",
                "DriftBlocked",
                "Internal"
            ]
        );
        // serde uses the same names, so a payload carrying a kind matches the definition.
        for k in all {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
    }

    /// Each sentence once: the step's own, then the library's, then the library's cause.
    #[test]
    fn a_store_error_is_kept_as_the_source_and_not_repeated() {
        let io = std::io::Error::other("disk on fire");
        let store = StoreError::Io {
            key: "orders/a.ndjson".into(),
            source: io,
        };
        let store_text = store.to_string();
        let e: StepError = store.into();
        assert!(!e.to_string().contains(&store_text), "{e}");
        let source = std::error::Error::source(&e).expect("the store error is the source");
        assert_eq!(source.to_string(), store_text);
        assert_eq!(
            e.chain(),
            format!("{}: {store_text}: disk on fire", e.message)
        );
        // The cause's detail says the whole chain, each sentence once.
        assert_eq!(e.cause().detail, e.chain());
        assert_eq!(e.cause().detail.matches("disk on fire").count(), 1);
    }

    #[test]
    fn a_ledger_conflict_keeps_its_cause() {
        let e: StepError = LedgerError::Conflict { key: "k".into() }.into();
        assert_eq!(e.kind, StepErrorKind::TransientError);
        assert!(std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("changed by another writer")));
    }

    #[test]
    fn commit_conflict_maps_from_the_lake() {
        let e: StepError = LakeError::new(LakeErrorKind::CommitConflict, "lost race").into();
        assert_eq!(e.kind, StepErrorKind::CommitConflict);
        assert!(e.kind.is_retryable());
    }
}
