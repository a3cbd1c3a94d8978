//! Rejected rows: the record each kind of rejection makes, and the file a pass writes them to.
//!
//! A reject keeps its line, the reason, the JSON pointer of the offending value (where there
//! is one), a message naming the field and the expectation, and the first 4 KiB of the raw
//! row, so a person can repair it and replay it. Rejects go to a temporary file, not memory
//! (a file can be all rejects), one JSON record a line, in line order.

use std::io::{BufWriter, Write};

use sluice_core::contract::Violation;
use sluice_core::quarantine::RejectedRow;
use sluice_core::QuarantineReason;

use crate::error::{truncate, StepError, StepErrorKind};

/// Raw row text kept in a reject record, in bytes.
const MAX_RAW: usize = 4096;
/// A reject's message, in bytes.
const MAX_MESSAGE: usize = 1024;

/// A row that breaks the contract: the first violation's pointer, every violation's message.
pub(super) fn contract_violation(line: u64, violations: &[Violation], raw: &str) -> RejectedRow {
    let message = violations
        .iter()
        .map(|v| v.message.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    RejectedRow {
        line,
        reason: QuarantineReason::ContractViolation,
        pointer: violations
            .first()
            .map(|v| v.pointer.clone())
            .unwrap_or_default(),
        message: truncate(&message, MAX_MESSAGE),
        raw: truncate(raw, MAX_RAW),
    }
}

/// A line that is not a row (not JSON, not an object, too long, a CSV record that does not
/// fit its header).
pub(super) fn parse_error(line: u64, message: String, raw: &str) -> RejectedRow {
    RejectedRow {
        line,
        reason: QuarantineReason::ParseError,
        pointer: String::new(),
        message,
        raw: truncate(raw, MAX_RAW),
    }
}

/// A row the contract accepts but whose values the table's columns cannot hold.
pub(super) fn does_not_fit(line: u64, why: &str, raw: &[u8]) -> RejectedRow {
    RejectedRow {
        line,
        reason: QuarantineReason::ContractViolation,
        pointer: String::new(),
        message: truncate(
            &format!("value does not fit the table's column types: {why}"),
            MAX_MESSAGE,
        ),
        raw: truncate(&String::from_utf8_lossy(raw), MAX_RAW),
    }
}

fn transient(what: &str, e: impl std::fmt::Display) -> StepError {
    StepError::new(StepErrorKind::TransientError, format!("{what}: {e}"))
}

/// The rejects of one pass, written as they come.
pub(super) struct RejectsFile {
    file: tempfile::NamedTempFile,
    out: BufWriter<std::fs::File>,
    written: u64,
}

impl RejectsFile {
    pub fn new() -> Result<Self, StepError> {
        let file =
            tempfile::NamedTempFile::new().map_err(|e| transient("temp file for rejects", e))?;
        let out = file
            .reopen()
            .map(BufWriter::new)
            .map_err(|e| transient("temp file for rejects", e))?;
        Ok(RejectsFile {
            file,
            out,
            written: 0,
        })
    }

    /// Writes one chunk's rejects, in line order whatever order they were found in (the
    /// writer's conversion failures come after the reader's rejects), and empties `rejects`.
    pub fn write(&mut self, rejects: &mut Vec<RejectedRow>) -> Result<(), StepError> {
        rejects.sort_by_key(|r| r.line);
        for r in rejects.drain(..) {
            let line = serde_json::to_string(&r).map_err(|e| StepError::internal(e.to_string()))?;
            writeln!(self.out, "{line}").map_err(|e| transient("writing rejects", e))?;
            self.written += 1;
        }
        Ok(())
    }

    /// Rejects written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The file, flushed.
    pub fn finish(mut self) -> Result<tempfile::NamedTempFile, StepError> {
        self.out
            .flush()
            .map_err(|e| transient("writing rejects", e))?;
        Ok(self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_are_written_in_line_order_one_record_a_line() {
        let mut file = RejectsFile::new().unwrap();
        let mut chunk = vec![
            does_not_fit(9, "overflow", b"{\"n\":1e400}"),
            parse_error(3, "not JSON".into(), "{"),
            contract_violation(
                5,
                &[
                    Violation {
                        pointer: "/n".into(),
                        message: "\"n\" is not an integer".into(),
                        wrong_type: true,
                    },
                    Violation {
                        pointer: "/m".into(),
                        message: "\"m\" is required".into(),
                        wrong_type: false,
                    },
                ],
                "{\"n\":\"x\"}",
            ),
        ];
        file.write(&mut chunk).unwrap();
        assert!(chunk.is_empty());
        assert_eq!(file.written(), 3);
        let text = std::fs::read_to_string(file.finish().unwrap().path()).unwrap();
        let rows: Vec<RejectedRow> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![3, 5, 9]
        );
        assert_eq!(rows[1].pointer, "/n");
        assert_eq!(
            rows[1].message,
            "\"n\" is not an integer; \"m\" is required"
        );
        assert!(rows[2].message.starts_with("value does not fit"));
    }

    #[test]
    fn a_huge_raw_row_is_cut_to_four_kib() {
        let raw = "x".repeat(100_000);
        assert!(parse_error(1, "too long".into(), &raw).raw.len() <= MAX_RAW + 4);
    }
}
