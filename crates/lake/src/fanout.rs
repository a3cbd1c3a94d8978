//! [`Fanout`]: a partitioned batch's rows written through a bounded number of open data files,
//! under one memory budget for all partitions.
//!
//! Every open Parquet writer holds a row group in progress, with its encoded pages and a
//! dictionary per column, so a writer's memory grows with the partitions it has open.
//! iceberg-rust's `FanoutWriter` keeps one open for every partition it has written to: a file
//! whose rows fall, in random order, on 120 days held 120, and peaked above 390 MB where the
//! same file unpartitioned took 120 MB. Here at most [`MemoryBudget::max_open`] files are open;
//! the rows of any other partition wait as Arrow record batches until
//! [`MemoryBudget::held_bytes`] are waiting. Then the partition holding the most rows gets a
//! file, the least recently written open file closing to make room (its partition may get a
//! further file later, in the same batch). A file touching no more partitions than files may
//! be open writes one data file per partition, as before; one touching many writes a few per
//! partition, which compaction merges later.
//!
//! Every choice depends only on the rows and their order, never on time or on measured
//! memory, so a re-run of a crashed batch opens files in the same order, and the file name
//! generator's counter gives them the same names.
//!
//! A file closes (its last row group encoded, the file synced) in a task of its own, so the
//! rows behind it do not wait for the disk, and the files closing at the end sync together.

use std::collections::BTreeMap;

use arrow_array::RecordBatch;
use iceberg::spec::{DataFile, PartitionKey};
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};

use crate::error::{LakeError, Result};

/// A file closing in a task of its own.
type Closing = tokio::task::JoinHandle<iceberg::Result<Vec<DataFile>>>;

/// Memory counted for one open data file: its row group in progress (bounded by the writer
/// properties' 16 MiB of encoded bytes, usually a quarter of that when the group closes at
/// its row limit) and its per-column dictionaries and page buffers. (The zstd contexts,
/// counted here when each column had its own, are now shared by all files.)
pub const OPEN_FILE_BYTES: u64 = 8 << 20;

/// How the memory a writer may hold is shared: half for the open files (at
/// [`OPEN_FILE_BYTES`] each, at least one), half for rows waiting for a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    /// Data files open at once, at most.
    pub max_open: usize,
    /// Bytes of Arrow rows waiting for a file, at most, before some are written.
    pub held_bytes: usize,
}

impl MemoryBudget {
    /// The budget for `bytes` of memory (`limits.max_writer_memory`).
    pub fn of(bytes: u64) -> Self {
        let half = bytes / 2;
        MemoryBudget {
            max_open: usize::try_from(half / OPEN_FILE_BYTES)
                .unwrap_or(usize::MAX)
                .max(1),
            held_bytes: usize::try_from(half).unwrap_or(usize::MAX),
        }
    }
}

/// The default, `limits.max_writer_memory`'s: 128 MiB, eight open files.
impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget::of(128 << 20)
    }
}

/// An open data file of one partition.
struct Open<W> {
    path: String,
    writer: W,
    /// When it was last written to, in writes; the least recent closes first.
    last_write: u64,
}

/// Held batches of one partition merged into one.
const MERGE_HELD_BATCHES: usize = 16;

/// Rows of one partition waiting for a file.
struct Held {
    key: PartitionKey,
    batches: Vec<RecordBatch>,
    bytes: usize,
}

/// Writes each partition's rows into data files of that partition, at most
/// `budget.max_open` open at once.
pub struct Fanout<B: IcebergWriterBuilder> {
    builder: B,
    budget: MemoryBudget,
    open: Vec<Open<B::R>>,
    /// By partition path, so that every choice among them is made in one order.
    held: BTreeMap<String, Held>,
    held_bytes: usize,
    writes: u64,
    closing: Vec<Closing>,
}

impl<B> Fanout<B>
where
    B: IcebergWriterBuilder,
{
    pub fn new(builder: B, budget: MemoryBudget) -> Self {
        Fanout {
            builder,
            budget,
            open: Vec::new(),
            held: BTreeMap::new(),
            held_bytes: 0,
            writes: 0,
            closing: Vec::new(),
        }
    }

    /// Changes the budget; for a writer that has not written yet.
    pub fn set_budget(&mut self, budget: MemoryBudget) {
        self.budget = budget;
    }

    /// Writes `batch`, whose rows all belong to the partition `key`.
    pub async fn write(&mut self, key: PartitionKey, batch: RecordBatch) -> Result<()> {
        self.writes += 1;
        let path = key.to_path();
        if let Some(open) = self.open.iter_mut().find(|o| o.path == path) {
            open.last_write = self.writes;
            return open
                .writer
                .write(batch)
                .await
                .map_err(|e| LakeError::iceberg("writing a data file", e));
        }
        if self.open.len() < self.budget.max_open {
            self.hold(path.clone(), key, batch)?;
            return self.write_held(&path).await;
        }
        self.hold(path, key, batch)?;
        while self.held_bytes > self.budget.held_bytes {
            // The partition holding the most (the first by path among equals) gets a file.
            let Some(path) = self
                .held
                .iter()
                .max_by(|(pa, a), (pb, b)| a.bytes.cmp(&b.bytes).then(pb.cmp(pa)))
                .map(|(path, _)| path.clone())
            else {
                break;
            };
            self.write_held(&path).await?;
        }
        Ok(())
    }

    fn hold(&mut self, path: String, key: PartitionKey, batch: RecordBatch) -> Result<()> {
        let bytes = batch.get_array_memory_size();
        let held = self.held.entry(path).or_insert_with(|| Held {
            key,
            batches: Vec::new(),
            bytes: 0,
        });
        held.batches.push(batch);
        held.bytes += bytes;
        self.held_bytes += bytes;
        // A file's chunk spread over many partitions leaves a few rows in each: as many
        // small arrays, each with its own allocations. Merged, they cost what they hold.
        if held.batches.len() >= MERGE_HELD_BATCHES {
            let schema = held.batches[0].schema();
            let merged = arrow_select::concat::concat_batches(&schema, &held.batches)
                .map_err(|e| LakeError::internal(format!("merging held rows: {e}")))?;
            let merged_bytes = merged.get_array_memory_size();
            self.held_bytes = self.held_bytes - held.bytes + merged_bytes;
            held.bytes = merged_bytes;
            held.batches = vec![merged];
        }
        Ok(())
    }

    /// Opens a file for the held rows of `path` (closing the least recently written open
    /// file if as many as may be are open) and writes them into it.
    async fn write_held(&mut self, path: &str) -> Result<()> {
        let Some(held) = self.held.remove(path) else {
            return Ok(());
        };
        self.held_bytes -= held.bytes;
        if self.open.len() >= self.budget.max_open {
            let least = self
                .open
                .iter()
                .enumerate()
                .min_by_key(|(_, o)| o.last_write)
                .map(|(i, _)| i);
            if let Some(i) = least {
                let closing = self.open.swap_remove(i);
                self.close_soon(closing.writer);
            }
        }
        let mut writer = self
            .builder
            .build(Some(held.key))
            .await
            .map_err(|e| LakeError::iceberg("opening a data file", e))?;
        for batch in held.batches {
            writer
                .write(batch)
                .await
                .map_err(|e| LakeError::iceberg("writing a data file", e))?;
        }
        self.open.push(Open {
            path: path.to_string(),
            writer,
            last_write: self.writes,
        });
        Ok(())
    }

    fn close_soon(&mut self, mut writer: B::R) {
        self.closing
            .push(tokio::spawn(async move { writer.close().await }));
    }

    /// Writes the rows still held, closes every file and describes them all, in path order.
    pub async fn close(mut self) -> Result<Vec<DataFile>> {
        let paths: Vec<String> = self.held.keys().cloned().collect();
        for path in paths {
            self.write_held(&path).await?;
        }
        for open in std::mem::take(&mut self.open) {
            self.close_soon(open.writer);
        }
        let mut files = Vec::new();
        let mut first_error = None;
        // Every file is waited for, failed or not, so none is still being written after.
        for closing in std::mem::take(&mut self.closing) {
            let closed = match closing.await {
                Ok(closed) => closed.map_err(|e| LakeError::iceberg("closing a data file", e)),
                Err(e) => Err(LakeError::internal(format!("closing a data file: {e}"))),
            };
            match closed {
                Ok(closed) => files.extend(closed),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        files.sort_by(|a, b| a.file_path().cmp(b.file_path()));
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_shared_between_open_files_and_waiting_rows() {
        assert_eq!(
            MemoryBudget::of(128 << 20),
            MemoryBudget {
                max_open: 8,
                held_bytes: 64 << 20
            }
        );
        assert_eq!(MemoryBudget::of(512 << 20).max_open, 32);
        // However small, one file may be open.
        assert_eq!(MemoryBudget::of(1 << 20).max_open, 1);
        assert_eq!(MemoryBudget::of(1).max_open, 1);
    }
}
