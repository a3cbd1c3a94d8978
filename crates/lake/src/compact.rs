//! Compaction: rewriting a partition's many small data files as few of about the target
//! size, in one `replace` snapshot per partition, through the overwrite commit (DESIGN §9).
//!
//! Event-driven ingestion writes one file per arrival per partition. [`Lake::compact`] takes,
//! per partition of the table's default spec, the live data files smaller than three quarters
//! of the target size ([`CompactOptions::small_file_limit`]); with at least `min_input_files` of them it streams their rows, file after file (or,
//! with sort columns, merged in order, see [`merge`]), into new files that roll over at the
//! target size, and commits them with [`Lake::overwrite`] in place of the inputs,
//! [`RowChange::Unchanged`] and the summary property [`COMPACTION_PROPERTY`]. Memory stays
//! bounded whatever the table's size: rows are read a record batch at a time and a writer
//! holds one row group.
//!
//! Idempotent and crash-safe like an ingestion (DESIGN §5.5): a group's compaction id is
//! `compact-` and the first 24 hex digits of SHA-256 of its sorted input paths; its files are
//! named after it ([`output`]) and it is the added batch's id in the overwrite, so a re-run
//! after a crash before the commit writes the same files again and one after the commit is
//! acknowledged (the inputs are gone by then anyway). Files of a compaction that never
//! committed are orphans `sluice gc` collects: their names are no arrival's
//! ([`crate::writer::batch_of_data_file`] is `None` for them).
//!
//! Every output carries its row lineage in its footer ([`lineage`]). A concurrent append
//! survives (the overwrite rebases); a concurrent commit that removed one of a group's inputs
//! makes that group a conflict: it is abandoned (its files left to gc), the report names the
//! file, and the other groups go on.
//!
//! # Layout
//! - [`lineage`]: [`LineageSegment`], the footer's lineage, [`Lake::lineage_of`]
//! - `input`: the live files, and reading one in the current schema
//! - `output`: the rolling output files of a group
//! - [`merge`]: sorting inputs and merging them with bounded memory
//! - `retract`: finding a batch's rows among live files, and rewriting a compacted file
//!   without them (`new_version = "replace"`, `on_delete = "delete"`)

pub mod lineage;
pub mod merge;

mod input;
mod output;
mod retract;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_schema::SchemaRef as ArrowSchemaRef;
use iceberg::arrow::schema_to_arrow_schema;
use iceberg::spec::{PartitionKey, SchemaRef, Struct};
use iceberg::table::Table;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_core::config::TableConfig;
use sluice_core::BatchId;

pub use input::LiveFile;
pub use lineage::{LineageSegment, LINEAGE_KEY};
pub use merge::SORT_IN_MEMORY_MAX_BYTES;
pub use retract::Located;

use self::lineage::{BatchTable, RowBatches};
use self::merge::{RunSource, Sorter};
use self::output::OutputFiles;
use crate::commit::{committed_batches, StagedBatch};
use crate::error::{LakeError, LakeErrorKind, Result};
use crate::{Lake, RowChange};

/// Snapshot summary property naming the compaction a `replace` snapshot committed.
pub const COMPACTION_PROPERTY: &str = "sluice.compaction";

/// Rows per record batch read from an input file (unsorted compaction).
const READ_BATCH_ROWS: usize = 8192;

/// What to compact, and into what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactOptions {
    /// Bytes per output file, about; files of at least three quarters of it are left alone
    /// ([`CompactOptions::small_file_limit`]).
    pub target_file_size: u64,
    /// A partition with fewer small files than this is left alone.
    pub min_input_files: usize,
    /// Top-level columns to sort each output's rows by (empty: input order).
    pub sort: Vec<String>,
}

impl CompactOptions {
    /// 256 MiB, like Iceberg's `write.target-file-size-bytes` used by engines for rewrites.
    pub const DEFAULT_TARGET_FILE_SIZE: u64 = 256 << 20;
    pub const DEFAULT_MIN_INPUT_FILES: usize = 5;

    /// Files smaller than this are compacted: three quarters of the target, as Iceberg's
    /// `rewrite_data_files` defaults `min-file-size-bytes`. An output closes once its written
    /// size reaches the target, counting its last row group before compression, so it can
    /// end a little below the target; it must not count as small again, or every run would
    /// rewrite the same files.
    pub fn small_file_limit(&self) -> u64 {
        self.target_file_size / 4 * 3
    }
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            target_file_size: Self::DEFAULT_TARGET_FILE_SIZE,
            min_input_files: Self::DEFAULT_MIN_INPUT_FILES,
            sort: vec![],
        }
    }
}

/// What [`Lake::compact`] did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactReport {
    pub table: String,
    /// One per partition that has a small data file, by partition path.
    pub groups: Vec<GroupReport>,
}

impl CompactReport {
    /// Groups that ended in a conflict.
    pub fn conflicts(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| matches!(g.outcome, GroupOutcome::Conflict { .. }))
            .count()
    }
}

/// One partition's compaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReport {
    /// The partition as a path (`at_day=2026-03-01`); empty for an unpartitioned table.
    pub partition: String,
    /// Small files found (the inputs, when compacted).
    pub files_in: usize,
    pub files_out: usize,
    pub rows: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Inputs merged as they were, not re-sorted (larger than [`SORT_IN_MEMORY_MAX_BYTES`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_resorted: Vec<String>,
    pub outcome: GroupOutcome,
}

/// How a group ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GroupOutcome {
    /// Committed in `snapshot_id` (an earlier snapshot when `already_committed`).
    Compacted {
        compaction_id: String,
        snapshot_id: i64,
        already_committed: bool,
    },
    /// Left alone, and why.
    Skipped { reason: String },
    /// A concurrent commit removed an input (`file`, when the catalog's answer names it):
    /// nothing was committed; the files written are orphans for `sluice gc`.
    Conflict {
        compaction_id: String,
        file: Option<String>,
        message: String,
    },
}

/// Progress of a compaction, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompactProgress {
    /// The plan: groups to compact and their input bytes.
    Planned { groups: usize, bytes: u64 },
    /// An input file was read whole.
    InputRead { bytes: u64 },
    /// A group ended.
    GroupDone { partition: String },
}

/// The inputs of one partition.
struct Group {
    partition: Struct,
    path: String,
    files: Vec<LiveFile>,
}

impl Group {
    /// `compact-` and 24 hex digits of SHA-256 of the sorted input paths.
    fn compaction_id(&self) -> String {
        let mut paths: Vec<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        paths.sort_unstable();
        let digest = Sha256::digest(paths.join("\n").as_bytes());
        format!("compact-{}", &hex::encode(digest)[..24])
    }

    fn report(&self, outcome: GroupOutcome) -> GroupReport {
        GroupReport {
            partition: self.path.clone(),
            files_in: self.files.len(),
            files_out: 0,
            rows: self.files.iter().map(|f| f.rows).sum(),
            bytes_in: self.files.iter().map(|f| f.bytes).sum(),
            bytes_out: 0,
            not_resorted: vec![],
            outcome,
        }
    }
}

impl Lake {
    /// Compacts the table's small data files, partition by partition; see the module docs.
    pub async fn compact(
        &self,
        table_cfg: &TableConfig,
        options: &CompactOptions,
        progress: &(dyn Fn(CompactProgress) + Send + Sync),
    ) -> Result<CompactReport> {
        let table = self.load(table_cfg).await?.ok_or_else(|| {
            LakeError::internal(format!("table {} does not exist", table_cfg.name))
        })?;
        self.compact_on(table_cfg, table, options, progress).await
    }

    /// [`Lake::compact`] planned on a table the caller loaded (tests let another writer
    /// commit after it was loaded).
    pub(crate) async fn compact_on(
        &self,
        table_cfg: &TableConfig,
        mut table: Table,
        options: &CompactOptions,
        progress: &(dyn Fn(CompactProgress) + Send + Sync),
    ) -> Result<CompactReport> {
        if options.target_file_size == 0 {
            return Err(LakeError::internal("the target file size must be above 0"));
        }
        let mut report = CompactReport {
            table: table_cfg.name.clone(),
            groups: vec![],
        };
        let (groups, skipped) = plan(&table, options).await?;
        report.groups.extend(skipped);
        progress(CompactProgress::Planned {
            groups: groups.len(),
            bytes: groups.iter().flat_map(|g| &g.files).map(|f| f.bytes).sum(),
        });
        for group in groups {
            let done = self
                .compact_group(table_cfg, &table, &group, options, progress)
                .await?;
            progress(CompactProgress::GroupDone {
                partition: group.path.clone(),
            });
            if matches!(done.outcome, GroupOutcome::Compacted { .. }) {
                if let Some(now) = self.load(table_cfg).await? {
                    table = now;
                }
            }
            report.groups.push(done);
        }
        report.groups.sort_by(|a, b| a.partition.cmp(&b.partition));
        Ok(report)
    }

    async fn compact_group(
        &self,
        table_cfg: &TableConfig,
        table: &Table,
        group: &Group,
        options: &CompactOptions,
        progress: &(dyn Fn(CompactProgress) + Send + Sync),
    ) -> Result<GroupReport> {
        let id = group.compaction_id();
        let batch_id = BatchId(id.clone());
        if let Some(snapshot_id) = committed_batches(table).get(&batch_id) {
            // Committed already (the plan predates it): never rewrite its live files.
            return Ok(group.report(GroupOutcome::Compacted {
                compaction_id: id,
                snapshot_id: *snapshot_id,
                already_committed: true,
            }));
        }
        let written = write_group(table, group, &id, options, progress).await?;
        let mut report = group.report(GroupOutcome::Skipped {
            reason: String::new(),
        });
        report.files_out = written.files.len();
        report.bytes_out = written.batch.bytes;
        report.not_resorted = written.not_resorted;
        if written.batch.rows != report.rows {
            return Err(LakeError::internal(format!(
                "compaction {id} wrote {} rows from inputs of {}",
                written.batch.rows, report.rows
            )));
        }
        crash_point("compact.before_commit");
        // `sluice gc` removes unreferenced files older than its --min-age: a compaction that
        // ran longer could find an early output gone, and must not commit a missing file.
        for path in &written.files {
            let exists = table
                .file_io()
                .exists(path)
                .await
                .map_err(|e| LakeError::iceberg(format!("checking {path}"), e))?;
            if !exists {
                return Err(LakeError::internal(format!(
                    "compaction {id}: its output {path} vanished before the commit (was \
                     `sluice gc` run with a --min-age shorter than the compaction?); run it again"
                )));
            }
        }
        let remove: Vec<String> = group.files.iter().map(|f| f.path.clone()).collect();
        let summary = HashMap::from([(COMPACTION_PROPERTY.to_string(), id.clone())]);
        let committed = self
            .overwrite_on(
                table_cfg,
                table,
                &remove,
                std::slice::from_ref(&written.batch),
                RowChange::Unchanged,
                summary,
            )
            .await;
        report.outcome = match committed {
            Ok(outcome) => GroupOutcome::Compacted {
                snapshot_id: outcome.snapshots[&written.batch.batch_id],
                already_committed: !outcome.already_committed.is_empty(),
                compaction_id: id,
            },
            Err(e) if e.kind == LakeErrorKind::CommitConflict => {
                let message = e.to_string();
                let file = remove
                    .iter()
                    .find(|p| message.contains(p.as_str()))
                    .cloned();
                tracing::warn!(table = %table_cfg.name, compaction = %id, error = %message,
                    "compaction abandoned: a concurrent commit changed its inputs");
                GroupOutcome::Conflict {
                    compaction_id: id,
                    file,
                    message,
                }
            }
            Err(e) => return Err(e),
        };
        Ok(report)
    }
}

/// The files a group's compaction wrote, as the batch the overwrite adds.
struct Written {
    batch: StagedBatch,
    files: Vec<String>,
    not_resorted: Vec<String>,
}

/// Reads a group's inputs and writes its outputs, committing nothing.
async fn write_group(
    table: &Table,
    group: &Group,
    id: &str,
    options: &CompactOptions,
    progress: &(dyn Fn(CompactProgress) + Send + Sync),
) -> Result<Written> {
    let metadata = table.metadata();
    let schema: SchemaRef = metadata.current_schema().clone();
    let arrow_schema: ArrowSchemaRef = Arc::new(
        schema_to_arrow_schema(&schema)
            .map_err(|e| LakeError::iceberg("mapping the table schema to Arrow", e))?,
    );
    let rows_schema = input::with_lineage(&arrow_schema);
    // Every input's lineage first (footers only), so the batch table is complete.
    let mut batches = BatchTable::default();
    let mut sources = vec![];
    for file in &group.files {
        let footer = lineage::read_footer(table, &file.path).await?;
        let segments = lineage::from_footer(&file.path, &footer)?;
        sources.push(RowBatches::new(&segments, &mut batches));
    }
    let mut out = OutputFiles::new(
        table,
        arrow_schema,
        group.partition.clone(),
        id,
        options.target_file_size,
        Arc::new(batches.batches),
    )?;
    let mut not_resorted = vec![];
    if options.sort.is_empty() {
        for (file, rows) in group.files.iter().zip(sources) {
            let mut stream =
                input::read(table, &schema, &rows_schema, file, rows, READ_BATCH_ROWS)?;
            while let Some(batch) = futures::StreamExt::next(&mut stream).await {
                out.write(batch?).await?;
            }
            progress(CompactProgress::InputRead { bytes: file.bytes });
        }
    } else {
        let mut sorter = Sorter::new(&rows_schema, &options.sort)?;
        let mut runs = vec![];
        for (file, rows) in group.files.iter().zip(sources) {
            if file.bytes <= SORT_IN_MEMORY_MAX_BYTES {
                let stream =
                    input::read(table, &schema, &rows_schema, file, rows, READ_BATCH_ROWS)?;
                runs.push(RunSource::Spill(sorter.sort_and_spill(stream).await?));
            } else {
                not_resorted.push(file.path.clone());
                let (table, schema, rows_schema, file) = (
                    table.clone(),
                    schema.clone(),
                    rows_schema.clone(),
                    file.clone(),
                );
                runs.push(RunSource::Stream(Box::new(move |batch_rows| {
                    input::read(&table, &schema, &rows_schema, &file, rows, batch_rows)
                })));
            }
            progress(CompactProgress::InputRead { bytes: file.bytes });
        }
        sorter.merge_into(runs, &mut out).await?;
    }
    let rows = out.rows;
    let files = out.finish().await?;
    let paths = files.iter().map(|f| f.file_path().to_string()).collect();
    let batch = StagedBatch::from_data_files(
        BatchId(id.to_string()),
        &schema,
        metadata.default_partition_spec(),
        files,
        rows,
    )?;
    Ok(Written {
        batch,
        files: paths,
        not_resorted,
    })
}

/// The groups to compact, and the partitions left alone with the reason.
async fn plan(table: &Table, options: &CompactOptions) -> Result<(Vec<Group>, Vec<GroupReport>)> {
    let metadata = table.metadata();
    let spec = metadata.default_partition_spec();
    let schema = metadata.current_schema();
    let mut by_partition: BTreeMap<String, Group> = BTreeMap::new();
    for file in input::live_files(table).await? {
        if file.spec_id != spec.spec_id() || file.bytes >= options.small_file_limit() {
            continue;
        }
        let path = PartitionKey::new(
            spec.as_ref().clone(),
            schema.clone(),
            file.partition.clone(),
        )
        .to_path();
        by_partition
            .entry(path.clone())
            .or_insert_with(|| Group {
                partition: file.partition.clone(),
                path,
                files: vec![],
            })
            .files
            .push(file);
    }
    let mut groups = vec![];
    let mut skipped = vec![];
    let least = options.min_input_files.max(2);
    for (_, group) in by_partition {
        if group.files.len() < least {
            let reason = format!(
                "{} small file(s), fewer than the {least} a compaction needs",
                group.files.len()
            );
            skipped.push(group.report(GroupOutcome::Skipped { reason }));
        } else {
            groups.push(group);
        }
    }
    Ok((groups, skipped))
}

/// A crash for fault-injection tests: `SLUICE_FAILPOINTS=compact.before_commit` aborts the
/// process there (the outputs are written, nothing is committed), as the steps' fail points
/// do. Read once; unset, it costs one lookup of a static.
fn crash_point(name: &str) {
    static ARMED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let armed = ARMED.get_or_init(|| {
        std::env::var("SLUICE_FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    });
    if armed.iter().any(|a| a == name) {
        eprintln!("sluice: fail point {name} reached: aborting");
        std::process::abort();
    }
}
