//! `sluice.toml`: the tables sluice feeds and the contract each one keeps.
//!
//! ```toml
//! [limits]                       # optional; these are the defaults
//! max_new_columns_per_file = 100 # a file adding more columns is quarantined as drift_blocked
//! max_table_columns = 1000       # ... and so is one that would grow the table past this
//! max_nesting_depth = 10         # deepest struct/list nesting an evolved column may reach
//! max_object_bytes = 10737418240 # larger objects are quarantined as too_large
//! max_line_bytes = 8388608       # a longer line is a parse_error for that line
//! max_csv_field_lines = 32       # a quoted CSV field may span this many lines
//!
//! [ledger]                       # optional; the default
//! lease_seconds = 900            # a crashed run's claim may be taken over after this
//!
//! [commit]                       # optional; these are the defaults (group commit)
//! max_batches = 200              # staged batches one snapshot may take
//! max_bytes = 1073741824         # staged bytes one snapshot may take
//! linger_ms = 0                  # wait up to this for more batches before committing
//! wait_ms = 10000                # wait up to this for this process's arrivals still on their way
//! quiet_ms = 500                 # ... but not once none of them has moved for this long
//!
//! [[table]]
//! name = "orders"                # Iceberg table name, in namespace `namespace`
//! namespace = "sluice"           # default "sluice"
//! prefix = "orders/"             # objects under this key prefix belong to the table
//! format = "ndjson"              # ndjson | csv (with header); .gz/.zst detected; an NDJSON
//!                                # object holding one JSON array of rows, or pretty-printed
//!                                # objects one after another, is read as such
//! contract = "orders.schema.json"  # JSON Schema, relative to this file
//! max_invalid_ratio = 0.1        # above it the whole file is quarantined
//! partition = { field = "ordered_at", transform = "day" }   # optional
//! new_version = "append"         # append | ignore | replace: a new version of a committed key
//! on_delete = "keep"             # keep | delete: a removed object's rows stay, or leave
//! freshness = "1h"               # optional: an object unfinished this long after it landed is late
//! lineage = false                # true: every row carries _source_key, _source_version,
//!                                # _batch_id, _ingested_at and _source_line columns
//! [table.compaction]             # optional: `sluice compact`'s defaults; its flags override
//! target_file_size = "256MB"     # bytes per output file, about (binary units); default 256MiB
//! min_input_files = 5            # a partition with fewer small files is left alone
//! sort = ["customer_id"]         # top-level contract columns to sort outputs by; default none
//! [table.glue_optimizers]        # optional, AWS Glue catalog only: Glue's managed optimizers
//! compaction = true              # Glue compacts (then sluice's maintain does not)
//! snapshot_retention_days = 15   # Glue expires older snapshots (then sluice's maintain does
//!                                # not); at least the redrive window plus the lease: 15 days
//! snapshots_to_retain = 1        # ... keeping at least this many; default 1
//! orphan_file_retention_days = 15  # Glue deletes unreferenced files older than this; same floor
//! [table.drift]                  # optional; these are the defaults
//! additive = "evolve"            # new optional top-level field
//! nested_addition = "evolve"     # new optional field inside a struct
//! widening = "quarantine"        # int -> double
//! incompatible = "quarantine"    # string where a number was, ...; or "rescue": such values
//!                                # go into the _rescued JSON column, the rows land
//! sample_rows = 1000             # rows read to infer a file's schema
//! ```
//!
//! Unknown keys and bad values are errors that name the key and the line.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::age::Age;
use crate::size::ByteSize;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Safety limits applied to every object.
    #[serde(default)]
    pub limits: Limits,
    /// How claims are held.
    #[serde(default)]
    pub ledger: LedgerSettings,
    /// Group commit limits.
    #[serde(default)]
    pub commit: CommitSettings,
    /// One entry per table; `[[table]]` in TOML.
    #[serde(rename = "table")]
    pub tables: Vec<TableConfig>,
    /// The streams (Kinesis streams, Kafka topics) whose records the stream receiver writes
    /// into tables; `[[stream]]` in TOML. A source with no entry goes to the table of its own
    /// name, or to the only table.
    #[serde(default, rename = "stream", skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<StreamConfig>,
    /// Directory the config was read from; contract paths are relative to it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// Limits that protect the process from hostile objects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most columns (struct members included) one file may add to its table's schema; a file
    /// that would add more is quarantined as `drift_blocked`. Default 100.
    #[serde(default = "default_max_new_columns_per_file")]
    pub max_new_columns_per_file: usize,
    /// Most columns (struct members included) a table may have after evolving. Default 1000.
    #[serde(default = "default_max_table_columns")]
    pub max_table_columns: usize,
    /// Deepest nesting of structs and lists a column may reach by evolution (or in a
    /// contract); a top-level scalar is 1, `list<struct<long>>` is 3. Default 10.
    #[serde(default = "default_max_nesting_depth")]
    pub max_nesting_depth: usize,
    /// Objects larger than this (compressed size) are quarantined as `too_large`. Default 10 GiB.
    #[serde(default = "default_max_object_bytes")]
    pub max_object_bytes: u64,
    /// A line longer than this (decompressed) is rejected as a `parse_error`. Default 8 MiB.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: usize,
    /// Decompressed bytes allowed per compressed byte before a file is treated as a
    /// decompression bomb and quarantined as `too_large`. Default 1000.
    #[serde(default = "default_max_expansion_ratio")]
    pub max_expansion_ratio: u64,
    /// Lines one quoted CSV field may span. A quote still open after this many lines (or at
    /// the end of the file) rejects the line it opened on, and reading goes on at the next
    /// line, so a stray `"` cannot swallow the rows after it. Default 32.
    #[serde(default = "default_max_csv_field_lines")]
    pub max_csv_field_lines: usize,
    /// Memory a file's writer may hold for a partitioned table's rows, whatever the number
    /// of partitions the file touches: half for open data files (8 MiB counted for each, so
    /// 8 at the default), half for rows of other partitions waiting for a file. A file over
    /// more partitions than that writes a few data files per partition instead of one.
    /// Default 128 MiB.
    #[serde(default = "default_max_writer_memory")]
    pub max_writer_memory: ByteSize,
}

fn default_max_new_columns_per_file() -> usize {
    100
}
fn default_max_table_columns() -> usize {
    1000
}
fn default_max_nesting_depth() -> usize {
    10
}
fn default_max_object_bytes() -> u64 {
    10 << 30
}
fn default_max_line_bytes() -> usize {
    8 << 20
}
fn default_max_expansion_ratio() -> u64 {
    1000
}
fn default_max_csv_field_lines() -> usize {
    32
}
fn default_max_writer_memory() -> ByteSize {
    ByteSize::mib(128)
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_new_columns_per_file: default_max_new_columns_per_file(),
            max_table_columns: default_max_table_columns(),
            max_nesting_depth: default_max_nesting_depth(),
            max_object_bytes: default_max_object_bytes(),
            max_line_bytes: default_max_line_bytes(),
            max_expansion_ratio: default_max_expansion_ratio(),
            max_csv_field_lines: default_max_csv_field_lines(),
            max_writer_memory: default_max_writer_memory(),
        }
    }
}

/// How the ledger holds claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSettings {
    /// Seconds a claim is reserved for the execution that made it. A duplicate event's
    /// execution stops while the lease lives; after it, the claim of a run that died is taken
    /// over and finished. Longer than the longest validation (a Lambda runs at most 900 s).
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
}

fn default_lease_seconds() -> u64 {
    900
}

impl Default for LedgerSettings {
    fn default() -> Self {
        LedgerSettings {
            lease_seconds: default_lease_seconds(),
        }
    }
}

/// Group commit: a committer takes every ready staged batch of its table, up to these limits,
/// into one snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitSettings {
    /// Most staged batches in one snapshot.
    #[serde(default = "default_max_batches")]
    pub max_batches: usize,
    /// Most staged bytes (Parquet) in one snapshot; a single larger batch still commits alone.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Age limit: a committer whose group is below the count and byte limits waits until its
    /// own batch is this old, so that batches staged meanwhile join the same snapshot.
    #[serde(default)]
    pub linger_ms: u64,
    /// Most a committer waits for the arrivals this process is still running for the same
    /// table (their number is known: see `sluice_steps::flow`), so that they join its
    /// snapshot. It commits sooner when every one of them has staged or the group is full;
    /// a process that runs one arrival, or a Lambda, never waits for this.
    #[serde(default = "default_wait_ms")]
    pub wait_ms: u64,
    /// A committer stops waiting for them once none has started, staged or ended for this
    /// long: those left are not getting anywhere soon (retrying, a large file).
    #[serde(default = "default_quiet_ms")]
    pub quiet_ms: u64,
}

fn default_wait_ms() -> u64 {
    10_000
}
fn default_quiet_ms() -> u64 {
    500
}

fn default_max_batches() -> usize {
    200
}
fn default_max_bytes() -> u64 {
    1 << 30
}

impl Default for CommitSettings {
    fn default() -> Self {
        CommitSettings {
            max_batches: default_max_batches(),
            max_bytes: default_max_bytes(),
            linger_ms: 0,
            wait_ms: default_wait_ms(),
            quiet_ms: default_quiet_ms(),
        }
    }
}

/// What to do with a new version of a key whose earlier version is (or is being) loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewVersionPolicy {
    /// Load the new version's rows too (each version is its own batch).
    #[default]
    Append,
    /// Filter the new version with reason `new_version_ignored`; the first loaded version stays.
    Ignore,
    /// The new version's rows replace the previous version's in one snapshot (an overwrite
    /// that removes the old version's data files and adds the new ones); a version older
    /// than the one loaded never enters the table. The replaced version's ledger record
    /// becomes `retracted`.
    Replace,
}

/// What a removed source object does to the rows it brought. The removal itself is always
/// recorded in the ledger (`sluice files` shows it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDeletePolicy {
    /// The rows stay in the table.
    #[default]
    Keep,
    /// The rows of the key's versions loaded before the removal leave the table in one
    /// snapshot (their ledger records become `retracted`).
    Delete,
}

/// Where a stream's records go (`[[stream]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The Kinesis stream's name or the Kafka topic.
    pub source: String,
    /// The table its records go to, unless `route_field` names another.
    pub table: String,
    /// A top-level field of each record whose value is the name of the table the record goes
    /// to (as the Iceberg Kafka sink's route field); a record without it, or naming no
    /// configured table, goes to `table`, where its contract judges it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_field: Option<String>,
}

/// One table and its contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableConfig {
    /// Iceberg table name: letters, digits and `_`.
    pub name: String,
    /// Iceberg namespace (Glue database on AWS).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Key prefix in the landing bucket, ending in `/`.
    pub prefix: String,
    /// How the objects are encoded.
    pub format: Format,
    /// Path of the JSON Schema file, relative to the config file.
    pub contract: PathBuf,
    /// Share of rejected rows (0.0–1.0) above which the whole file is quarantined.
    #[serde(default = "default_max_invalid_ratio")]
    pub max_invalid_ratio: f64,
    /// Optional partitioning of the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<PartitionConfig>,
    /// What to do when a file's schema differs from the table's.
    #[serde(default)]
    pub drift: DriftPolicy,
    /// What to do with a new version of a key already loaded.
    #[serde(default)]
    pub new_version: NewVersionPolicy,
    /// What a removed object does to its rows.
    #[serde(default)]
    pub on_delete: OnDeletePolicy,
    /// How long an object may take from landing to a final state before it is late: the
    /// stack alarms, per table, when an object's rows took longer to commit or one still
    /// waits longer (reconcile's `OldestUnfinishedAge`), and `sluice reconcile` and `sluice
    /// table show` say which object is late. Unset: the stack's own threshold (an hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Age>,
    /// Defaults of `sluice compact` for this table (its flags override them).
    #[serde(default, skip_serializing_if = "CompactionConfig::is_default")]
    pub compaction: CompactionConfig,
    /// Lineage columns ([`crate::schema::LINEAGE_COLUMNS`]): every row says which object
    /// version, batch and line brought it, and when. A table that had none gets them (null
    /// in its older rows) at the next arrival.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lineage: bool,
    /// How a new version of the contract must relate to the version before it
    /// ([`Compatibility`]); an incompatible one is refused before any file is judged by it.
    #[serde(default, skip_serializing_if = "Compatibility::is_default")]
    pub compatibility: Compatibility,
    /// AWS Glue's managed table optimizers for the table, when its catalog is Glue
    /// ([`GlueOptimizers`]). Without the section, sluice's own `maintain` does all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glue_optimizers: Option<GlueOptimizers>,
}

/// How long Step Functions lets a failed execution be redriven. A commit that reached the
/// catalog and crashed before its ledger update is recognised, when redriven, by its batch id
/// in a snapshot's summary, and its staged data files wait for it meanwhile: whatever
/// expires snapshots or deletes unreferenced files by age alone must wait this long plus the
/// ledger lease ([`exactly_once_horizon`]).
pub const REDRIVE_WINDOW: std::time::Duration = std::time::Duration::from_secs(14 * 24 * 3600);

/// The age below which a snapshot or an unreferenced data file may still be needed by a
/// redriven commit: [`REDRIVE_WINDOW`] plus the ledger lease.
pub fn exactly_once_horizon(lease_seconds: u64) -> std::time::Duration {
    REDRIVE_WINDOW + std::time::Duration::from_secs(lease_seconds)
}

/// [`exactly_once_horizon`] in whole days, rounded up: the shortest retention an optimizer
/// that counts in days may be given (15 with the default 900 s lease).
pub fn exactly_once_horizon_days(lease_seconds: u64) -> u32 {
    let days = exactly_once_horizon(lease_seconds)
        .as_secs()
        .div_ceil(24 * 3600);
    u32::try_from(days).unwrap_or(u32::MAX)
}

/// `[table.glue_optimizers]`: AWS Glue's managed table optimizers, created for the table by
/// the function that creates it, and checked (created or updated to match) by every run of
/// `maintain` on the Glue catalog. What Glue does, sluice's `maintain` leaves to it:
/// compaction when `compaction` is on, snapshot expiry when `snapshot_retention_days` is set
/// (`gc`, which knows the ledger, still runs). Glue knows nothing of the ledger, so both
/// retentions must cover [`exactly_once_horizon_days`], and Glue's compaction (which drops the
/// lineage sluice keeps in the files it compacts) cannot serve a table that `replace`s or
/// `delete`s rows. Ignored by the local catalog; refused on S3 Tables, which maintains its
/// tables itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlueOptimizers {
    /// Glue's compaction optimizer (bin-pack) rewrites the table's small files.
    #[serde(default)]
    pub compaction: bool,
    /// Glue's snapshot retention optimizer expires snapshots older than this many days (and
    /// deletes the files only they read). Unset: no retention optimizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_retention_days: Option<u32>,
    /// The snapshots the retention optimizer always keeps, whatever their age. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots_to_retain: Option<u32>,
    /// Glue's orphan file deletion optimizer deletes files under the table's location that
    /// no snapshot references, once older than this many days. Unset: no such optimizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_file_retention_days: Option<u32>,
}

impl GlueOptimizers {
    /// Whether any optimizer is asked for.
    pub fn any(&self) -> bool {
        self.compaction
            || self.snapshot_retention_days.is_some()
            || self.orphan_file_retention_days.is_some()
    }
}

/// How a new version of a table's contract must relate to the one recorded before it, as
/// schema registries define the modes, judged on the columns a contract maps to (their types
/// and whether they are required; value constraints such as `enum`, `pattern` or bounds are
/// not compared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compatibility {
    /// The new version accepts what the previous one accepted: no field newly required, no
    /// type the previous values would not fit. Files judged before can be replayed.
    #[default]
    Backward,
    /// The previous version accepts what the new one accepts: no required field dropped or
    /// made optional, no type widened. Readers of the old shape keep working.
    Forward,
    /// Both.
    Full,
    /// Any new version; only the table's own columns bound it.
    None,
}

impl Compatibility {
    fn is_default(&self) -> bool {
        *self == Compatibility::default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backward => "backward",
            Self::Forward => "forward",
            Self::Full => "full",
            Self::None => "none",
        }
    }
}

/// `[table.compaction]`: how `sluice compact` rewrites the table's small files, unless its
/// flags say otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactionConfig {
    /// Bytes per output file, about (`256MB`, `1GiB`, or bytes); files under three quarters
    /// of it are compacted. Unset: 256 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_file_size: Option<ByteSize>,
    /// A partition with fewer small files is left alone. Unset: 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_input_files: Option<usize>,
    /// Top-level columns of the contract to sort each output's rows by. Unset: input order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sort: Vec<String>,
}

impl CompactionConfig {
    fn is_default(&self) -> bool {
        self == &CompactionConfig::default()
    }
}

impl TableConfig {
    /// Whether the table's policy may take a committed version's rows out again (`replace`,
    /// `on_delete = "delete"`): then the key heads keep each key's live versions, and every
    /// commit to the table is an overwrite that settles them.
    pub fn tracks_versions(&self) -> bool {
        self.new_version == NewVersionPolicy::Replace || self.on_delete == OnDeletePolicy::Delete
    }
}

fn default_namespace() -> String {
    "sluice".into()
}
fn default_max_invalid_ratio() -> f64 {
    0.1
}

/// Encoding of a table's objects; compression is detected per object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One JSON object per line.
    Ndjson,
    /// Comma-separated values with a header line.
    Csv,
}

/// Partitioning by a transform of one top-level column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionConfig {
    /// Source column (top level, required in the contract).
    pub field: String,
    /// `identity`, `year`, `month`, `day` or `hour`.
    pub transform: PartitionTransform,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionTransform {
    Identity,
    Year,
    Month,
    Day,
    Hour,
}

/// What a drift class leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftAction {
    /// Change the table schema (add a nullable column) and load the file.
    Evolve,
    /// Leave the table alone and quarantine the file as `drift_blocked`.
    Quarantine,
    /// For `incompatible` only: load the file, each value that does not fit its column
    /// moved, with its field's name, into the `_rescued` JSON column
    /// ([`crate::schema::RESCUED_COLUMN`]) and the column left null in that row.
    Rescue,
}

/// The drift policy, one action per change class (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftPolicy {
    #[serde(default = "evolve")]
    pub additive: DriftAction,
    /// Default `evolve`, as `additive`: the member is added to its struct, null in older
    /// rows (which sluice's reader, pyiceberg and other engines read back as such).
    #[serde(default = "evolve")]
    pub nested_addition: DriftAction,
    #[serde(default = "quarantine")]
    pub widening: DriftAction,
    #[serde(default = "quarantine")]
    pub incompatible: DriftAction,
    /// Rows read from the head of a file to infer its schema.
    #[serde(default = "default_sample_rows")]
    pub sample_rows: usize,
}

fn evolve() -> DriftAction {
    DriftAction::Evolve
}
fn quarantine() -> DriftAction {
    DriftAction::Quarantine
}
fn default_sample_rows() -> usize {
    1000
}

impl Default for DriftPolicy {
    fn default() -> Self {
        DriftPolicy {
            additive: evolve(),
            nested_addition: evolve(),
            widening: quarantine(),
            incompatible: quarantine(),
            sample_rows: default_sample_rows(),
        }
    }
}

/// A configuration error, naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, unknown keys and wrongly typed values; toml's message names the key and
    /// shows the line.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// Prefix under which sluice keeps its own objects (ledger, manifests, quarantine) in the
/// bucket; no table prefix may start with it.
pub const CONTROL_PREFIX: &str = ".sluice/";

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&text, path, base_dir)
    }

    /// Parses and checks TOML text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path, base_dir: PathBuf) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        config.base_dir = base_dir;
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message,
        };
        if self.tables.is_empty() {
            return Err(invalid(
                "table".into(),
                "at least one [[table]] is needed".into(),
            ));
        }
        if self.commit.max_batches == 0 {
            return Err(invalid(
                "commit.max_batches".into(),
                "must be positive".into(),
            ));
        }
        if self.limits.max_line_bytes == 0 {
            return Err(invalid(
                "limits.max_line_bytes".into(),
                "must be positive".into(),
            ));
        }
        if self.limits.max_csv_field_lines == 0 {
            return Err(invalid(
                "limits.max_csv_field_lines".into(),
                "must be positive".into(),
            ));
        }
        for (i, s) in self.streams.iter().enumerate() {
            let key = |k: &str| format!("stream[{i}].{k}");
            if s.source.is_empty() || s.source.len() > 255 {
                return Err(invalid(key("source"), "must be 1 to 255 characters".into()));
            }
            if self.streams[..i].iter().any(|o| o.source == s.source) {
                return Err(invalid(
                    key("source"),
                    format!("{:?} has two [[stream]] entries", s.source),
                ));
            }
            if self.table(&s.table).is_none() {
                return Err(invalid(
                    key("table"),
                    format!("no [[table]] is named {:?}", s.table),
                ));
            }
            if s.route_field.as_deref() == Some("") {
                return Err(invalid(key("route_field"), "must not be empty".into()));
            }
        }
        for (i, t) in self.tables.iter().enumerate() {
            let key = |k: &str| format!("table[{i}].{k}");
            let ident_ok = |s: &str| {
                !s.is_empty()
                    && s.len() <= 128
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if !ident_ok(&t.name) {
                return Err(invalid(
                    key("name"),
                    format!("{:?}: use letters, digits and _", t.name),
                ));
            }
            if !ident_ok(&t.namespace) {
                return Err(invalid(
                    key("namespace"),
                    format!("{:?}: use letters, digits and _", t.namespace),
                ));
            }
            if t.prefix.is_empty() || !t.prefix.ends_with('/') || t.prefix.starts_with('/') {
                return Err(invalid(
                    key("prefix"),
                    format!(
                        "{:?}: must be a relative key prefix ending in `/`",
                        t.prefix
                    ),
                ));
            }
            if crate::object::check_key(t.prefix.trim_end_matches('/')).is_err() {
                return Err(invalid(
                    key("prefix"),
                    format!("{:?} is not a safe key prefix", t.prefix),
                ));
            }
            if t.prefix.starts_with(CONTROL_PREFIX) {
                return Err(invalid(
                    key("prefix"),
                    format!("{CONTROL_PREFIX} is reserved for sluice"),
                ));
            }
            if !(0.0..=1.0).contains(&t.max_invalid_ratio) || t.max_invalid_ratio.is_nan() {
                return Err(invalid(
                    key("max_invalid_ratio"),
                    format!("{} is not between 0.0 and 1.0", t.max_invalid_ratio),
                ));
            }
            if t.freshness.is_some_and(Age::is_zero) {
                return Err(invalid(key("freshness"), "must be positive".into()));
            }
            if t.compaction.min_input_files.is_some_and(|n| n < 2) {
                return Err(invalid(
                    key("compaction.min_input_files"),
                    "must be at least 2: compacting one file into one changes nothing".into(),
                ));
            }
            if let Some(name) = t
                .compaction
                .sort
                .iter()
                .find(|c| c.is_empty() || c.contains('.'))
            {
                return Err(invalid(
                    key("compaction.sort"),
                    format!("{name:?}: name a top-level column of the contract"),
                ));
            }
            if t.drift.sample_rows == 0 {
                return Err(invalid(key("drift.sample_rows"), "must be positive".into()));
            }
            for (name, action) in [
                ("additive", t.drift.additive),
                ("nested_addition", t.drift.nested_addition),
                ("widening", t.drift.widening),
            ] {
                if action == DriftAction::Rescue {
                    return Err(invalid(
                        key(&format!("drift.{name}")),
                        "\"rescue\" applies to `incompatible` only (a value that does not fit its \
                         column); use \"evolve\" or \"quarantine\""
                            .into(),
                    ));
                }
            }
            if let Some(glue) = &t.glue_optimizers {
                if let Some((k, message)) = self.glue_optimizers_problem(t, glue) {
                    return Err(invalid(key(&format!("glue_optimizers.{k}")), message));
                }
            }
            for (j, other) in self.tables.iter().enumerate().take(i) {
                if other.name == t.name && other.namespace == t.namespace {
                    return Err(invalid(key("name"), format!("same table as table[{j}]")));
                }
                if other.prefix.starts_with(&t.prefix) || t.prefix.starts_with(&other.prefix) {
                    return Err(invalid(
                        key("prefix"),
                        format!(
                            "{:?} overlaps table[{j}].prefix {:?}",
                            t.prefix, other.prefix
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// What is wrong with the `[table.glue_optimizers]` of `table` (see [`GlueOptimizers`]):
    /// the key under the section and why.
    fn glue_optimizers_problem(
        &self,
        table: &TableConfig,
        glue: &GlueOptimizers,
    ) -> Option<(&'static str, String)> {
        let floor = exactly_once_horizon_days(self.ledger.lease_seconds);
        let why = format!(
            "a redriven commit may need its snapshot and its staged files for 14 days (Step \
             Functions' redrive window) plus the ledger lease ({} s): at least {floor}",
            self.ledger.lease_seconds
        );
        for (name, days) in [
            ("snapshot_retention_days", glue.snapshot_retention_days),
            (
                "orphan_file_retention_days",
                glue.orphan_file_retention_days,
            ),
        ] {
            if let Some(days) = days.filter(|d| *d < floor) {
                return Some((name, format!("{days} days is too short: {why}")));
            }
        }
        if glue.snapshots_to_retain == Some(0) {
            return Some((
                "snapshots_to_retain",
                "must be at least 1: the current snapshot is the table".into(),
            ));
        }
        if glue.snapshots_to_retain.is_some() && glue.snapshot_retention_days.is_none() {
            return Some((
                "snapshots_to_retain",
                "applies to the retention optimizer: set snapshot_retention_days too".into(),
            ));
        }
        if glue.compaction && table.tracks_versions() {
            let policy = if table.new_version == NewVersionPolicy::Replace {
                "new_version = \"replace\""
            } else {
                "on_delete = \"delete\""
            };
            return Some((
                "compaction",
                format!(
                    "cannot serve a table with {policy}: taking a version's rows out again \
                     finds them in compacted files by the lineage sluice's own compaction \
                     writes, which Glue's does not; leave compaction to sluice \
                     ([table.compaction], `sluice maintain`)"
                ),
            ));
        }
        None
    }

    /// The table whose prefix `key` is under, if any.
    pub fn route(&self, key: &str) -> Option<&TableConfig> {
        self.tables.iter().find(|t| key.starts_with(&t.prefix))
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TableConfig> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Where the records of stream `source` go: its `[[stream]]` entry, else the table named
    /// as the source, else the only table. `None` when none of those exists.
    pub fn stream(&self, source: &str) -> Option<StreamConfig> {
        if let Some(s) = self.streams.iter().find(|s| s.source == source) {
            return Some(s.clone());
        }
        let table = self
            .table(source)
            .or_else(|| (self.tables.len() == 1).then(|| &self.tables[0]))?;
        Some(StreamConfig {
            source: source.to_string(),
            table: table.name.clone(),
            route_field: None,
        })
    }

    /// Absolute-or-relative path of a table's contract file.
    pub fn contract_path(&self, table: &TableConfig) -> PathBuf {
        self.base_dir.join(&table.contract)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("sluice.toml"), PathBuf::new())
    }

    const MINIMAL: &str = r#"
[[table]]
name = "orders"
prefix = "orders/"
format = "ndjson"
contract = "orders.schema.json"
"#;

    #[test]
    fn defaults_apply() {
        let c = parse(MINIMAL).unwrap();
        let t = &c.tables[0];
        assert_eq!(t.namespace, "sluice");
        assert_eq!(t.max_invalid_ratio, 0.1);
        assert_eq!(t.drift.additive, DriftAction::Evolve);
        assert_eq!(t.drift.incompatible, DriftAction::Quarantine);
        assert_eq!(c.route("orders/a.ndjson").unwrap().name, "orders");
        assert!(c.route("other/a.ndjson").is_none());
    }

    #[test]
    fn streams_go_to_their_entry_then_the_table_of_their_name_then_the_only_table() {
        let one = parse(MINIMAL).unwrap();
        assert_eq!(one.stream("anything").unwrap().table, "orders");
        let two = format!(
            "{MINIMAL}[[table]]\nname = \"refunds\"\nprefix = \"refunds/\"\nformat = \"ndjson\"\n\
             contract = \"r.json\"\n[[stream]]\nsource = \"shop-events\"\ntable = \"refunds\"\n\
             route_field = \"kind\"\n"
        );
        let two = parse(&two).unwrap();
        let s = two.stream("shop-events").unwrap();
        assert_eq!(
            (s.table.as_str(), s.route_field.as_deref()),
            ("refunds", Some("kind"))
        );
        assert_eq!(two.stream("orders").unwrap().table, "orders");
        assert!(
            two.stream("clicks").is_none(),
            "two tables, no entry: nowhere"
        );
        for (bad, key) in [
            ("[[stream]]\nsource = \"s\"\ntable = \"nope\"\n", "stream[0].table"),
            (
                "[[stream]]\nsource = \"s\"\ntable = \"orders\"\n[[stream]]\nsource = \"s\"\ntable = \"orders\"\n",
                "stream[1].source",
            ),
            ("[[stream]]\nsource = \"\"\ntable = \"orders\"\n", "stream[0].source"),
            ("[[stream]]\nsource = \"s\"\ntable = \"orders\"\nroute_field = \"\"\n", "stream[0].route_field"),
        ] {
            let e = parse(&format!("{MINIMAL}{bad}")).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn unknown_key_is_named() {
        let e = parse(&format!("{MINIMAL}colour = \"red\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn on_delete_keeps_by_default_and_replace_and_delete_track_versions() {
        let minimal = parse(MINIMAL).unwrap();
        assert_eq!(minimal.tables[0].on_delete, OnDeletePolicy::Keep);
        assert!(!minimal.tables[0].tracks_versions());
        let keep = parse(&format!("{MINIMAL}on_delete = \"keep\"\n")).unwrap();
        assert_eq!(keep.tables[0].on_delete, OnDeletePolicy::Keep);
        let delete = parse(&format!("{MINIMAL}on_delete = \"delete\"\n")).unwrap();
        assert!(delete.tables[0].tracks_versions());
        let replace = parse(&format!("{MINIMAL}new_version = \"replace\"\n")).unwrap();
        assert!(replace.tables[0].tracks_versions());
        let e = parse(&format!("{MINIMAL}on_delete = \"drop\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("on_delete"), "{e}");
    }

    #[test]
    fn freshness_is_an_age_per_table_and_none_by_default() {
        assert_eq!(parse(MINIMAL).unwrap().tables[0].freshness, None);
        let t = parse(&format!("{MINIMAL}freshness = \"90m\"\n")).unwrap();
        let age = t.tables[0].freshness.expect("set");
        assert_eq!(age.as_secs(), 5400);
        assert_eq!(age.to_string(), "90m");
        let e = parse(&format!("{MINIMAL}freshness = \"an hour\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("freshness") && e.contains("15m, 1h"), "{e}");
        assert!(e.contains("line"), "the line is named: {e}");
        let e = parse(&format!("{MINIMAL}freshness = \"0m\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("table[0].freshness") && e.contains("positive"),
            "{e}"
        );
    }

    #[test]
    fn bad_value_is_named() {
        let e = parse(&MINIMAL.replace("ndjson\"", "xml\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("xml") && e.contains("format"), "{e}");
        let e = parse(&format!("{MINIMAL}max_invalid_ratio = 1.5\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("table[0].max_invalid_ratio"), "{e}");
        let e = parse(&MINIMAL.replace("orders/\"", "../x/\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("table[0].prefix"), "{e}");
    }

    #[test]
    fn compaction_defaults_are_optional_and_checked() {
        assert_eq!(
            parse(MINIMAL).unwrap().tables[0].compaction,
            CompactionConfig::default()
        );
        let c = parse(&format!(
            "{MINIMAL}[table.compaction]\ntarget_file_size = \"64MB\"\nmin_input_files = 3\nsort = [\"id\"]\n"
        ))
        .unwrap();
        let compaction = &c.tables[0].compaction;
        assert_eq!(
            compaction.target_file_size.map(|s| s.bytes()),
            Some(64 << 20)
        );
        assert_eq!(compaction.min_input_files, Some(3));
        assert_eq!(compaction.sort, vec!["id".to_string()]);
        for (text, named) in [
            ("target_file_size = \"0\"", "target_file_size"),
            ("target_file_size = \"1 fortnight\"", "target_file_size"),
            ("min_input_files = 1", "table[0].compaction.min_input_files"),
            ("sort = [\"customer.email\"]", "table[0].compaction.sort"),
            ("colour = \"red\"", "colour"),
        ] {
            let e = parse(&format!("{MINIMAL}[table.compaction]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(named), "{text}: {e}");
        }
    }

    #[test]
    fn glue_optimizers_must_leave_exactly_once_its_window() {
        let section = |body: &str| format!("{MINIMAL}[table.glue_optimizers]\n{body}\n");
        assert_eq!(parse(MINIMAL).unwrap().tables[0].glue_optimizers, None);
        let c = parse(&section(
            "compaction = true\nsnapshot_retention_days = 15\nsnapshots_to_retain = 3\n\
             orphan_file_retention_days = 20",
        ))
        .unwrap();
        assert_eq!(
            c.tables[0].glue_optimizers,
            Some(GlueOptimizers {
                compaction: true,
                snapshot_retention_days: Some(15),
                snapshots_to_retain: Some(3),
                orphan_file_retention_days: Some(20),
            })
        );
        // The floor is 14 days of redrive plus the lease, rounded up to a day.
        assert_eq!(exactly_once_horizon_days(900), 15);
        assert_eq!(exactly_once_horizon_days(0), 14);
        assert_eq!(exactly_once_horizon_days(86_400), 15);
        assert_eq!(exactly_once_horizon_days(86_401), 16);
        let longer_lease = format!("[ledger]\nlease_seconds = 90000\n{MINIMAL}");
        let e = parse(&format!(
            "{longer_lease}[table.glue_optimizers]\nsnapshot_retention_days = 15\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("at least 16"), "{e}");
        for (body, named, why) in [
            (
                "snapshot_retention_days = 5",
                "table[0].glue_optimizers.snapshot_retention_days",
                "5 days is too short",
            ),
            (
                "orphan_file_retention_days = 3",
                "table[0].glue_optimizers.orphan_file_retention_days",
                "at least 15",
            ),
            (
                "snapshot_retention_days = 30\nsnapshots_to_retain = 0",
                "table[0].glue_optimizers.snapshots_to_retain",
                "at least 1",
            ),
            (
                "snapshots_to_retain = 2",
                "table[0].glue_optimizers.snapshots_to_retain",
                "set snapshot_retention_days",
            ),
            ("compactoin = true", "compactoin", "unknown field"),
        ] {
            let e = parse(&section(body)).unwrap_err().to_string();
            assert!(e.contains(named) && e.contains(why), "{body}: {e}");
        }
        for policy in ["new_version = \"replace\"", "on_delete = \"delete\""] {
            let text = format!(
                "{}\n[table.glue_optimizers]\ncompaction = true\n",
                MINIMAL.trim_end().to_string() + "\n" + policy
            );
            let e = parse(&text).unwrap_err().to_string();
            assert!(
                e.contains("table[0].glue_optimizers.compaction") && e.contains(policy),
                "{policy}: {e}"
            );
            // Retention and orphan deletion do not touch lineage: allowed with either policy.
            let text = text.replace("compaction = true", "snapshot_retention_days = 15");
            parse(&text).unwrap();
        }
    }

    #[test]
    fn overlapping_prefixes_are_refused() {
        let two = format!(
            "{MINIMAL}{}",
            MINIMAL
                .replace("name = \"orders\"", "name = \"o2\"")
                .replace("orders/\"", "orders/eu/\"")
        );
        let e = parse(&two).unwrap_err().to_string();
        assert!(e.contains("overlaps"), "{e}");
    }
}
