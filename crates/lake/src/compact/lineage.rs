//! Row lineage: which source batch each row of a data file came from.
//!
//! A batch's own data files hold only its rows, so their name says it all
//! ([`batch_of_data_file`]). A compaction output mixes many batches, so it carries its
//! lineage in its Parquet footer, key [`LINEAGE_KEY`]: JSON
//! `[{"batch": "b-…", "rows": [[start, len], …]}, …]`, for every source batch the row ranges
//! of the file that hold its rows (one range per input file when unsorted, runs when sorted),
//! batches in the order their first row appears, ranges ascending. Together the ranges cover
//! every row exactly once. `"batch": null` stands for rows of a file whose writer sluice does
//! not know (another engine's). Rewriting a compacted file without one batch's rows
//! (`new_version = "replace"`) reads this, so it must be exact.

use std::collections::HashMap;

use iceberg::arrow::ArrowFileReader;
use iceberg::table::Table;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::file::metadata::ParquetMetaData;
use serde::{Deserialize, Serialize};
use sluice_core::BatchId;

use crate::error::{LakeError, Result};
use crate::writer::batch_of_data_file;
use crate::Lake;

/// Parquet footer key of a compaction output's lineage.
pub const LINEAGE_KEY: &str = "sluice.lineage";

/// The rows of one source batch in one data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineageSegment {
    /// The batch the rows were ingested in; `None` when no sluice batch wrote them.
    pub batch: Option<BatchId>,
    /// `[start, len]` row ranges of the file, ascending, not overlapping.
    pub rows: Vec<[u64; 2]>,
}

/// The lineage of a file written by one batch (or by nobody sluice knows): all its rows.
pub fn whole_file(batch: Option<BatchId>, rows: u64) -> Vec<LineageSegment> {
    if rows == 0 {
        return vec![];
    }
    vec![LineageSegment {
        batch,
        rows: vec![[0, rows]],
    }]
}

/// The lineage a file's footer records, else what its name says ([`whole_file`]). A recorded
/// lineage that does not cover the file's rows exactly once is an error: it cannot be trusted.
pub(crate) fn from_footer(path: &str, metadata: &ParquetMetaData) -> Result<Vec<LineageSegment>> {
    let rows = metadata.file_metadata().num_rows() as u64;
    let recorded = metadata
        .file_metadata()
        .key_value_metadata()
        .and_then(|kvs| kvs.iter().find(|kv| kv.key == LINEAGE_KEY))
        .and_then(|kv| kv.value.clone());
    let Some(json) = recorded else {
        return Ok(whole_file(batch_of_data_file(path), rows));
    };
    let segments: Vec<LineageSegment> = serde_json::from_str(&json)
        .map_err(|e| LakeError::internal(format!("the lineage in {path}'s footer: {e}")))?;
    check_cover(path, &segments, rows)?;
    Ok(segments)
}

/// Every row in `0..rows` in exactly one range.
fn check_cover(path: &str, segments: &[LineageSegment], rows: u64) -> Result<()> {
    let mut ranges: Vec<[u64; 2]> = segments.iter().flat_map(|s| s.rows.clone()).collect();
    ranges.sort_unstable();
    let mut next = 0;
    for [start, len] in ranges {
        if start != next || len == 0 {
            return Err(LakeError::internal(format!(
                "the lineage in {path}'s footer does not cover its {rows} rows once \
                 (a range starts at {start}, row {next} expected)"
            )));
        }
        next = start + len;
    }
    if next != rows {
        return Err(LakeError::internal(format!(
            "the lineage in {path}'s footer covers {next} of its {rows} rows"
        )));
    }
    Ok(())
}

/// Reads the Parquet footer of `path` (ranged reads of its tail only).
pub(crate) async fn read_footer(
    table: &Table,
    path: &str,
) -> Result<std::sync::Arc<ParquetMetaData>> {
    let input = table
        .file_io()
        .new_input(path)
        .map_err(|e| LakeError::iceberg(format!("opening {path}"), e))?;
    let meta = input
        .metadata()
        .await
        .map_err(|e| LakeError::iceberg(format!("reading the size of {path}"), e))?;
    let reader = input
        .reader()
        .await
        .map_err(|e| LakeError::iceberg(format!("opening {path}"), e))?;
    ArrowFileReader::new(meta, reader)
        .get_metadata(None)
        .await
        .map_err(|e| LakeError::internal(format!("reading the Parquet footer of {path}: {e}")))
}

impl Lake {
    /// The row lineage of the data file at `path` of `table`: its footer's
    /// ([`LINEAGE_KEY`]), else the batch its name says, else one segment of unknown batch.
    pub async fn lineage_of(&self, table: &Table, path: &str) -> Result<Vec<LineageSegment>> {
        from_footer(path, read_footer(table, path).await?.as_ref())
    }
}

/// Builds one output file's lineage as rows are written: runs of rows of one source batch,
/// by the batch's index in the compaction's batch table.
#[derive(Debug, Default)]
pub(crate) struct LineageBuilder {
    /// `(batch index, start, len)`, in row order.
    runs: Vec<(u32, u64, u64)>,
    rows: u64,
}

impl LineageBuilder {
    /// Appends rows, one batch index per row.
    pub fn extend(&mut self, batches: &[u32]) {
        for &b in batches {
            match self.runs.last_mut() {
                Some((last, _, len)) if *last == b => *len += 1,
                _ => self.runs.push((b, self.rows, 1)),
            }
            self.rows += 1;
        }
    }

    /// The segments, batches in order of their first row.
    pub fn finish(self, table: &[Option<BatchId>]) -> Vec<LineageSegment> {
        let mut order: Vec<u32> = vec![];
        let mut ranges: HashMap<u32, Vec<[u64; 2]>> = HashMap::new();
        for (b, start, len) in self.runs {
            ranges
                .entry(b)
                .or_insert_with(|| {
                    order.push(b);
                    vec![]
                })
                .push([start, len]);
        }
        order
            .into_iter()
            .map(|b| LineageSegment {
                batch: table[b as usize].clone(),
                rows: ranges.remove(&b).unwrap_or_default(),
            })
            .collect()
    }
}

/// The batch index of every row of an input, from its lineage mapped into the compaction's
/// batch table.
#[derive(Debug, Clone)]
pub(crate) struct RowBatches {
    /// `(start, len, batch index)`, ascending by start, covering the input's rows.
    ranges: Vec<(u64, u64, u32)>,
}

impl RowBatches {
    pub fn new(segments: &[LineageSegment], table: &mut BatchTable) -> Self {
        let mut ranges = vec![];
        for s in segments {
            let index = table.index(&s.batch);
            ranges.extend(s.rows.iter().map(|[start, len]| (*start, *len, index)));
        }
        ranges.sort_unstable();
        RowBatches { ranges }
    }

    /// The batch indices of rows `offset..offset + n`.
    pub fn slice(&self, offset: u64, n: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(n);
        let end = offset + n as u64;
        let first = self
            .ranges
            .partition_point(|(start, len, _)| start + len <= offset);
        for &(start, len, b) in &self.ranges[first..] {
            if start >= end {
                break;
            }
            let from = start.max(offset);
            let to = (start + len).min(end);
            out.extend(std::iter::repeat_n(b, (to - from) as usize));
        }
        out
    }
}

/// The source batches of one compaction, each given a small index once.
#[derive(Debug, Default)]
pub(crate) struct BatchTable {
    pub batches: Vec<Option<BatchId>>,
    index: HashMap<Option<BatchId>, u32>,
}

impl BatchTable {
    fn index(&mut self, batch: &Option<BatchId>) -> u32 {
        if let Some(i) = self.index.get(batch) {
            return *i;
        }
        let i = self.batches.len() as u32;
        self.batches.push(batch.clone());
        self.index.insert(batch.clone(), i);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<BatchId> {
        Some(BatchId(s.into()))
    }

    #[test]
    fn runs_of_one_batch_become_its_ranges_in_order_of_first_row() {
        let mut builder = LineageBuilder::default();
        builder.extend(&[1, 1, 0, 0, 0]);
        builder.extend(&[0, 1, 2]);
        let table = vec![b("b-a"), b("b-b"), None];
        assert_eq!(
            builder.finish(&table),
            vec![
                LineageSegment {
                    batch: b("b-b"),
                    rows: vec![[0, 2], [6, 1]]
                },
                LineageSegment {
                    batch: b("b-a"),
                    rows: vec![[2, 4]]
                },
                LineageSegment {
                    batch: None,
                    rows: vec![[7, 1]]
                },
            ]
        );
    }

    #[test]
    fn an_input_s_rows_map_to_their_batches_slice_by_slice() {
        let mut table = BatchTable::default();
        let segments = vec![
            LineageSegment {
                batch: b("b-x"),
                rows: vec![[0, 2], [5, 1]],
            },
            LineageSegment {
                batch: b("b-y"),
                rows: vec![[2, 3]],
            },
        ];
        let rows = RowBatches::new(&segments, &mut table);
        assert_eq!(rows.slice(0, 6), vec![0, 0, 1, 1, 1, 0]);
        assert_eq!(rows.slice(1, 3), vec![0, 1, 1]);
        assert_eq!(rows.slice(5, 1), vec![0]);
    }

    #[test]
    fn a_lineage_must_cover_every_row_once() {
        let ok = vec![LineageSegment {
            batch: None,
            rows: vec![[0, 3]],
        }];
        assert!(check_cover("f", &ok, 3).is_ok());
        assert!(check_cover("f", &ok, 4).is_err());
        let overlap = vec![
            LineageSegment {
                batch: None,
                rows: vec![[0, 3]],
            },
            LineageSegment {
                batch: b("b-a"),
                rows: vec![[2, 2]],
            },
        ];
        assert!(check_cover("f", &overlap, 4).is_err());
    }

    #[test]
    fn the_json_form_is_the_documented_one() {
        let segments = vec![LineageSegment {
            batch: b("b-a"),
            rows: vec![[0, 2], [4, 1]],
        }];
        assert_eq!(
            serde_json::to_string(&segments).unwrap(),
            r#"[{"batch":"b-a","rows":[[0,2],[4,1]]}]"#
        );
    }
}
