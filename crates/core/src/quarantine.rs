//! Quarantine records: plain data that tells a person why a file or a row did not land.
//!
//! A reason code comes from a closed set (DESIGN §4) so that dashboards and the state
//! machine can branch on it; the `detail` is the sentence a person reads.

use serde::{Deserialize, Serialize};

use crate::object::ObjectVersion;

/// Why a whole file, or a row, went to quarantine. Never rename a variant: the snake_case
/// names are an API (payloads, ledger records, metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineReason {
    /// A line is not valid JSON / CSV, or the file cannot be decompressed.
    ParseError,
    /// A row breaks the table's JSON Schema contract.
    ContractViolation,
    /// More rows were rejected than `max_invalid_ratio` allows.
    TooManyInvalidRows,
    /// The file's schema changed in a way the drift policy does not let through.
    DriftBlocked,
    /// The file's format or compression is not one sluice reads.
    UnsupportedFormat,
    /// The object or one of its lines is larger than the configured limit.
    TooLarge,
    /// sluice itself failed; the file waits for a fix and a replay.
    Internal,
    /// The object's key is one sluice cannot take (`a//b`, a `.` or `..` segment, a
    /// backslash, a control character, over 1024 bytes; locally also a file name that is not
    /// UTF-8): nothing reads it. Recorded so that the object is accounted for; rename it.
    UnacceptableKey,
}

impl QuarantineReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ParseError => "parse_error",
            Self::ContractViolation => "contract_violation",
            Self::TooManyInvalidRows => "too_many_invalid_rows",
            Self::DriftBlocked => "drift_blocked",
            Self::UnsupportedFormat => "unsupported_format",
            Self::TooLarge => "too_large",
            Self::Internal => "internal",
            Self::UnacceptableKey => "unacceptable_key",
        }
    }
}

impl std::fmt::Display for QuarantineReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejected row, as written (one JSON object per line) to the file's reject object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedRow {
    /// 1-based line number in the decompressed file (CSV: the header is line 1).
    pub line: u64,
    /// `parse_error` or `contract_violation`.
    pub reason: QuarantineReason,
    /// JSON pointer of the offending value (`/customer/email`), empty for the whole row.
    pub pointer: String,
    /// What is wrong, for a person.
    pub message: String,
    /// The raw line, truncated to 4 KiB, so the row can be repaired and replayed.
    pub raw: String,
}

/// A whole file in quarantine: written under the control prefix, the original object stays
/// where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuarantineRecord {
    pub object: ObjectVersion,
    /// The table the file was routed to, when routing got that far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    pub reason: QuarantineReason,
    /// What happened and what to do next.
    pub detail: String,
    /// Key of the rejected-rows object, when rows were rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects_key: Option<String>,
    /// The version of the table's contract the file was judged under (`sluice contract
    /// history`), when it was routed to a table whose contract is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_version: Option<u32>,
    /// For `drift_blocked`, the changes that blocked the file: the pending change it waits
    /// on (`sluice drift list`; its id is [`crate::drift::change_set_id`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<crate::drift::DriftChange>,
    /// RFC 3339 time the record was written.
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_reason_codes() {
        for reason in [
            QuarantineReason::ParseError,
            QuarantineReason::ContractViolation,
            QuarantineReason::TooManyInvalidRows,
            QuarantineReason::DriftBlocked,
            QuarantineReason::UnsupportedFormat,
            QuarantineReason::TooLarge,
            QuarantineReason::Internal,
            QuarantineReason::UnacceptableKey,
        ] {
            let json = serde_json::to_string(&reason).expect("a reason serialises");
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
            assert_eq!(
                serde_json::from_str::<QuarantineReason>(&json).expect("and reads back"),
                reason
            );
        }
        assert_eq!(
            QuarantineReason::UnacceptableKey.as_str(),
            "unacceptable_key"
        );
    }
}
