//! Errors of the lake crate, classified once so callers decide by kind, never by string.

/// What kind of failure a [`LakeError`] is; crates/steps maps each kind to one Step
/// Functions error name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LakeErrorKind {
    /// Another writer committed first (optimistic concurrency): retry with backoff.
    CommitConflict,
    /// I/O or catalog trouble that may pass: retry.
    Transient,
    /// A bug or a broken invariant: stop, fix, redrive.
    Internal,
}

/// An error from the lake, with its kind and the underlying cause.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct LakeError {
    pub kind: LakeErrorKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl LakeError {
    pub fn new(kind: LakeErrorKind, message: impl Into<String>) -> Self {
        LakeError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(LakeErrorKind::Internal, message)
    }

    /// Wraps an iceberg error with a sentence saying what sluice was doing.
    ///
    /// iceberg's `DataInvalid` and `PreconditionFailed` are `Internal` here, not the file's
    /// fault: a row Arrow cannot convert is rejected row by row before it reaches iceberg
    /// (see [`crate::writer::BatchWriter::write_rows`]), and names or types iceberg refuses
    /// are stopped earlier by the evolution limits. What still gets here is a bug or a broken
    /// table: the execution fails and can be redriven after a fix, instead of quarantining a
    /// valid file with a message about the library.
    pub fn iceberg(doing: impl std::fmt::Display, e: iceberg::Error) -> Self {
        use iceberg::ErrorKind as K;
        let kind = match e.kind() {
            K::CatalogCommitConflicts => LakeErrorKind::CommitConflict,
            K::DataInvalid | K::PreconditionFailed => LakeErrorKind::Internal,
            _ if e.retryable() => LakeErrorKind::Transient,
            K::Unexpected => LakeErrorKind::Transient,
            _ => LakeErrorKind::Internal,
        };
        LakeError {
            kind,
            message: format!("{doing}: {e}"),
            source: Some(Box::new(e)),
        }
    }
}

pub type Result<T, E = LakeError> = std::result::Result<T, E>;
