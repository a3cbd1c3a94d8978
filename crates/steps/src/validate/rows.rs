//! The reading side of a pass: a blocking thread reads the object's rows, checks each against
//! the contract and fills chunks for the writer.
//!
//! Where the contract compiles to a [`Plan`](sluice_lake::decode::Plan), each row is parsed
//! once: the plan checks the row while it builds the Arrow columns, and the chunk carries
//! record batches. A row the plan does not accept (it breaks the contract, or it is written in
//! a way only the value-based path can judge) is parsed into a value and checked with the
//! `jsonschema` contract, as every row is where the contract has no plan; such a row travels
//! as its JSON text, and the writer decodes it with arrow-json. Rows keep their order either
//! way. Chunks circulate: the writer hands each emptied chunk back to be filled again, so their
//! buffers are reused and memory is bounded by the chunks in flight, whatever the file's size.
//!
//! When asked, the thread also collects the members of accepted rows that the table has no
//! column for ([`NewFields`]), for the evolution gate in [`super::evolve`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arrow_array::RecordBatch;
use sluice_core::config::{Limits, TableConfig};
use sluice_core::contract::Contract;
use sluice_core::evolution::NewFields;
use sluice_core::quarantine::RejectedRow;
use sluice_core::reader::{Next, RowItem};
use sluice_core::schema::TableSchema;
use sluice_core::ObjectVersion;
use sluice_lake::decode::{Plan, RowDecoder};
use sluice_lake::writer::JsonRows;
use sluice_store::ObjectStore;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::pass::ReadEnd;
use super::rejects;
use crate::error::StepError;
use crate::source::{open_rows, Opened, ParquetCopy};
use sluice_core::config::DriftAction;
use sluice_core::rescue::{set_rescued, take_misfits};

/// What the reading thread sends: valid rows in parts, in line order, and rejects.
pub(super) struct Chunk {
    pub parts: Vec<Part>,
    /// Rows that took the value-based path, as JSON text; [`Part::Json`] ranges index them.
    pub json: JsonRows,
    /// The line number of each row in `json`.
    pub json_lines: Vec<u64>,
    /// Valid rows in all parts.
    pub rows: usize,
    pub rejects: Vec<RejectedRow>,
    pub read_bytes: u64,
}

/// A run of consecutive valid rows.
pub(super) enum Part {
    /// Decoded by the plan, with each row's line.
    Decoded { batch: RecordBatch, lines: Vec<u64> },
    /// Rows `start..end` of the chunk's JSON text.
    Json { start: usize, end: usize },
}

impl Chunk {
    fn new(rows: usize) -> Self {
        Chunk {
            parts: vec![],
            json_lines: Vec::with_capacity(rows),
            // A row of a few hundred bytes is usual; the buffer grows if not.
            json: JsonRows::with_capacity(rows, rows * 512),
            rows: 0,
            rejects: vec![],
            read_bytes: 0,
        }
    }

    /// Empties the chunk for reuse, keeping its buffers.
    pub fn clear(&mut self) {
        self.parts.clear();
        self.json_lines.clear();
        self.json.clear();
        self.rows = 0;
        self.rejects.clear();
        self.read_bytes = 0;
    }

    /// Appends a row that took the value-based path, after the rows decoded so far.
    fn push_json(&mut self, line: u64, text: Option<&[u8]>, value: &serde_json::Value) {
        let at = self.json.len();
        match self.parts.last_mut() {
            Some(Part::Json { end, .. }) if *end == at => *end += 1,
            _ => self.parts.push(Part::Json {
                start: at,
                end: at + 1,
            }),
        }
        self.json_lines.push(line);
        match text {
            Some(text) => self.json.push_text(text),
            None => self.json.push_value(value),
        }
        self.rows += 1;
    }

    /// Moves the rows `decoder` holds (read at `lines`) into a part.
    fn take_decoded(
        &mut self,
        decoder: &mut RowDecoder,
        lines: &mut Vec<u64>,
    ) -> Result<(), StepError> {
        if let Some(batch) = decoder
            .flush()
            .map_err(|e| StepError::internal(format!("building the decoded columns: {e}")))?
        {
            self.parts.push(Part::Decoded {
                batch,
                lines: std::mem::take(lines),
            });
        }
        Ok(())
    }
}

/// What the reading thread works with.
pub(super) struct Reading {
    pub store: Arc<dyn ObjectStore>,
    pub object: ObjectVersion,
    pub table: TableConfig,
    /// The table's current schema.
    pub schema: TableSchema,
    pub limits: Limits,
    pub contract: Arc<Contract>,
    /// The plan for the writer's decode schema, when the contract compiles to one.
    pub plan: Option<Arc<Plan>>,
    /// Rows (valid and rejected) per chunk.
    pub chunk_rows: usize,
    /// Compressed bytes read so far, for progress.
    pub read_bytes: Arc<AtomicU64>,
    /// `Some` to collect the new members of accepted rows.
    pub new_fields: Option<NewFields>,
    /// `Some` when a Parquet object may be added as it is: the table it would be added to,
    /// and the flag the thread raises, before its first chunk, when the file's columns are
    /// exactly the table's (the writer then only counts the rows).
    pub as_is: Option<(iceberg::table::Table, Arc<AtomicBool>)>,
}

/// What the reading thread ends with.
pub(super) struct ReadOutcome {
    pub end: ReadEnd,
    pub new_fields: Option<NewFields>,
    /// The Parquet object's local copy, when the thread chose to add it as it is.
    pub as_is: Option<ParquetCopy>,
}

/// Reads the object and sends its rows in chunks on `chunks`, taking each chunk to fill from
/// `pool` (`None`: allocate one). Runs on a thread of its own; `handle` drives the store.
pub(super) fn read(
    r: Reading,
    handle: &Handle,
    chunks: mpsc::Sender<Chunk>,
    pool: std::sync::mpsc::Receiver<Option<Chunk>>,
) -> Result<ReadOutcome, StepError> {
    let Reading {
        store,
        object,
        table,
        schema,
        limits,
        contract,
        plan,
        chunk_rows,
        read_bytes,
        mut new_fields,
        as_is,
    } = r;
    let rescue = table.drift.incompatible == DriftAction::Rescue;
    let chosen;
    let mut reader = match open_rows(
        handle,
        &store,
        &object,
        &table,
        &schema,
        &limits,
        read_bytes.clone(),
    )? {
        Opened::Rows(r, copy) => {
            // Judged by name and type before any chunk goes to the writer.
            chosen = match (copy, &as_is) {
                (Some(copy), Some((table, flag))) => {
                    match sluice_lake::as_is::why_not(table, &copy.schema) {
                        None => {
                            flag.store(true, Ordering::SeqCst);
                            Some(copy)
                        }
                        Some(why) => {
                            tracing::debug!(key = %object.key, why, "Parquet rewritten, not added as it is");
                            None
                        }
                    }
                }
                _ => None,
            };
            r
        }
        Opened::Superseded { current_etag } => {
            return Ok(ReadOutcome {
                end: ReadEnd::Superseded(current_etag),
                new_fields: None,
                as_is: None,
            })
        }
        Opened::Removed => {
            return Ok(ReadOutcome {
                end: ReadEnd::Removed,
                new_fields: None,
                as_is: None,
            })
        }
    };
    // Every sender gone means the writer stopped.
    let next_chunk = || match pool.recv() {
        Ok(Some(chunk)) => Ok(chunk),
        Ok(None) => Ok(Chunk::new(chunk_rows)),
        Err(_) => Err(StepError::internal("the writer stopped early")),
    };
    let mut chunk = next_chunk()?;
    let mut decoder = plan.map(|plan| {
        let mut decoder = RowDecoder::new(plan);
        decoder.new_members_slow = new_fields.is_some();
        // A CSV object's records are decoded from their cells, not from JSON text.
        if let Some(headers) = reader.csv_headers() {
            decoder.bind_headers(headers);
        }
        decoder
    });
    // The line of each row the decoder holds.
    let mut decoded_lines: Vec<u64> = vec![];
    loop {
        let next = reader
            .next_text()
            .map_err(|e| StepError::bad_input(e.reason(), format!("{}: {e}", object.key)))?;
        let item = match next {
            None => break,
            Some(Next::Item(item)) => Some(item),
            Some(Next::Text { line }) => {
                let decoded = match decoder.as_mut() {
                    None => false,
                    Some(decoder) => match reader.csv_record() {
                        Some(record) => decoder.push_cells(record.cells, record.types),
                        None => reader.row_text().is_some_and(|text| decoder.push(text)),
                    },
                };
                if decoded {
                    decoded_lines.push(line);
                    chunk.rows += 1;
                    None
                } else {
                    Some(reader.parse(line))
                }
            }
        };
        match item {
            None => {}
            Some(RowItem::Row { line, mut value }) => {
                let mut violations = contract.validate(&value);
                let mut rescued_row = false;
                if rescue && !violations.is_empty() {
                    // Values of another type than their fields' move into `_rescued`; the
                    // row lands if that is all that was wrong with it.
                    let mut fixed = value.clone();
                    if let Some(rescued) = take_misfits(&mut fixed, &violations) {
                        if contract.validate(&fixed).is_empty() {
                            set_rescued(&mut fixed, &rescued);
                            value = fixed;
                            violations.clear();
                            rescued_row = true;
                        }
                    }
                }
                if violations.is_empty() {
                    if let Some(new) = new_fields.as_mut() {
                        new.observe(&schema, &value);
                    }
                    // After the rows decoded before it, to keep line order.
                    if let Some(decoder) = decoder.as_mut() {
                        chunk.take_decoded(decoder, &mut decoded_lines)?;
                    }
                    // A rescued row is no longer the line's text.
                    let text = if rescued_row { None } else { reader.row_text() };
                    chunk.push_json(line, text, &value);
                } else {
                    let raw = match reader.row_text() {
                        Some(text) => String::from_utf8_lossy(text).into_owned(),
                        None => value.to_string(),
                    };
                    chunk
                        .rejects
                        .push(rejects::contract_violation(line, &violations, &raw));
                }
            }
            Some(RowItem::Bad {
                line, message, raw, ..
            }) => chunk
                .rejects
                .push(rejects::parse_error(line, message, &raw)),
        }
        let full = chunk.rows + chunk.rejects.len() >= chunk_rows;
        if let Some(decoder) = decoder.as_mut() {
            if full || decoder.wants_flush() {
                chunk.take_decoded(decoder, &mut decoded_lines)?;
            }
        }
        if full {
            chunk.read_bytes = read_bytes.load(Ordering::Relaxed);
            if chunks.blocking_send(chunk).is_err() {
                return Err(StepError::internal("the writer stopped early"));
            }
            chunk = next_chunk()?;
        }
    }
    if let Some(decoder) = decoder.as_mut() {
        chunk.take_decoded(decoder, &mut decoded_lines)?;
    }
    chunk.read_bytes = read_bytes.load(Ordering::Relaxed);
    let _ = chunks.blocking_send(chunk);
    Ok(ReadOutcome {
        end: ReadEnd::Done,
        new_fields,
        as_is: chosen,
    })
}
