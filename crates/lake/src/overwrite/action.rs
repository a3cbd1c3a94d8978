//! [`OverwriteFiles`]: the builder a caller fills in and commits, shaped like iceberg-rust's
//! `FastAppendAction` (`add_data_files`, `set_snapshot_properties`, `set_commit_uuid`) and the
//! overwrite and rewrite-files actions proposed upstream, with Java's path-based
//! `deleteFile`. It speaks only iceberg types and `iceberg::Error`, so it can move into
//! iceberg-rust's transaction module as it is.
//!
//! Committing is optimistic: the snapshot is produced on the base the caller loaded and
//! offered to the catalog with the base's `main` snapshot id as a requirement. When another
//! writer committed first, the table is loaded again and the snapshot produced again on the
//! new base (a rebase), as Java's `SnapshotProducer` retries: files appended meanwhile are
//! carried into the new snapshot, but a file this overwrite removes that a concurrent commit
//! removed too is a conflict (`CatalogCommitConflicts`, naming the file), and so is a file it
//! adds that a concurrent commit added. The number of rebases is bounded; past it the last
//! conflict is returned and the caller's own retry (with backoff) takes over.

use std::collections::{BTreeSet, HashMap};

use iceberg::spec::{DataFile, Operation};
use iceberg::table::Table;
use iceberg::{Catalog, Error, ErrorKind, Result};
use uuid::Uuid;

use super::snapshot::{discard, produce, OverwriteRequest};

/// Rebases after a lost race before the conflict goes back to the caller.
pub const DEFAULT_MAX_REBASES: u32 = 3;

/// Whether the rows a reader sees change (Iceberg's `overwrite`, or `delete`/`append` when
/// only one side has files) or stay the same (`replace`: compaction, rewriting files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowChange {
    Changed,
    Unchanged,
}

/// One snapshot that removes live data files (by path) and adds new ones.
#[derive(Debug, Clone)]
pub struct OverwriteFiles {
    rows: RowChange,
    deleted_paths: BTreeSet<String>,
    added_files: Vec<DataFile>,
    snapshot_properties: HashMap<String, String>,
    commit_uuid: Option<Uuid>,
    max_rebases: u32,
}

/// A committed overwrite.
#[derive(Debug)]
pub struct OverwriteCommitted {
    /// The table as the catalog returned it, the new snapshot current.
    pub table: Table,
    pub snapshot_id: i64,
    /// Races lost and rebased on a newer base before the commit landed.
    pub rebases: u32,
}

impl OverwriteFiles {
    /// An overwrite whose rows change ([`RowChange::Changed`]).
    pub fn new() -> Self {
        OverwriteFiles {
            rows: RowChange::Changed,
            deleted_paths: BTreeSet::new(),
            added_files: vec![],
            snapshot_properties: HashMap::new(),
            commit_uuid: None,
            max_rebases: DEFAULT_MAX_REBASES,
        }
    }

    /// Says whether readers see other rows afterwards; `Unchanged` commits a `replace`.
    pub fn rows(mut self, rows: RowChange) -> Self {
        self.rows = rows;
        self
    }

    /// Removes these live data files, named by their path as the manifests spell it.
    pub fn delete_files(mut self, paths: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.deleted_paths.extend(paths.into_iter().map(Into::into));
        self
    }

    /// Adds these data files (written with the table's default partition spec).
    pub fn add_data_files(mut self, files: impl IntoIterator<Item = DataFile>) -> Self {
        self.added_files.extend(files);
        self
    }

    /// Properties for the snapshot summary; Iceberg's computed counts win over a same key.
    pub fn set_snapshot_properties(mut self, properties: HashMap<String, String>) -> Self {
        self.snapshot_properties = properties;
        self
    }

    /// Names the metadata files this commit writes (a fresh v7 uuid when not set).
    pub fn set_commit_uuid(mut self, commit_uuid: Uuid) -> Self {
        self.commit_uuid = Some(commit_uuid);
        self
    }

    /// How many lost races to rebase before returning the conflict (default
    /// [`DEFAULT_MAX_REBASES`]).
    pub fn set_max_rebases(mut self, max_rebases: u32) -> Self {
        self.max_rebases = max_rebases;
        self
    }

    /// The operation the snapshot records, as Java's `BaseOverwriteFiles` and
    /// `BaseRewriteFiles` choose it: `replace` for unchanged rows; otherwise `overwrite`,
    /// or `delete` when nothing is added, `append` when nothing is removed.
    pub fn operation(&self) -> Operation {
        match self.rows {
            RowChange::Unchanged => Operation::Replace,
            RowChange::Changed if self.added_files.is_empty() => Operation::Delete,
            RowChange::Changed if self.deleted_paths.is_empty() => Operation::Append,
            RowChange::Changed => Operation::Overwrite,
        }
    }

    /// Commits one snapshot on `base` through `catalog`, rebasing on lost races; see the
    /// module docs.
    pub async fn commit(self, base: &Table, catalog: &dyn Catalog) -> Result<OverwriteCommitted> {
        if self.deleted_paths.is_empty() && self.added_files.is_empty() {
            return Err(Error::new(
                ErrorKind::PreconditionFailed,
                "an overwrite needs files to remove or to add",
            ));
        }
        let commit_uuid = self.commit_uuid.unwrap_or_else(Uuid::now_v7);
        let operation = self.operation();
        let mut base = base.clone();
        let mut attempt = 0;
        loop {
            let request = OverwriteRequest {
                operation: operation.clone(),
                deleted_paths: &self.deleted_paths,
                added_files: &self.added_files,
                snapshot_properties: &self.snapshot_properties,
                commit_uuid,
                attempt,
            };
            let produced = match produce(&base, &request).await {
                Ok(p) => p,
                // On a rebase, what was valid on the first base and is not now was changed by
                // the commit that won the race.
                Err(e) if attempt > 0 && e.kind() == ErrorKind::DataInvalid => {
                    return Err(Error::new(
                        ErrorKind::CatalogCommitConflicts,
                        format!(
                            "a concurrent commit conflicts with this overwrite: {}",
                            e.message()
                        ),
                    )
                    .with_source(e));
                }
                Err(e) => return Err(e),
            };
            let snapshot_id = produced.snapshot_id;
            let written = produced.written.clone();
            match catalog.update_table(produced.commit).await {
                Ok(table) => {
                    return Ok(OverwriteCommitted {
                        table,
                        snapshot_id,
                        rebases: attempt,
                    })
                }
                Err(e) if e.kind() == ErrorKind::CatalogCommitConflicts => {
                    discard(&base, written).await;
                    if attempt >= self.max_rebases {
                        return Err(e);
                    }
                    tracing::info!(
                        table = %base.identifier(),
                        attempt,
                        "overwrite lost a commit race; rebasing on the new snapshot"
                    );
                    base = catalog.load_table(base.identifier()).await?;
                    attempt += 1;
                }
                // Unknown outcome (the catalog may have committed): keep the files.
                Err(e) => return Err(e),
            }
        }
    }
}

impl Default for OverwriteFiles {
    fn default() -> Self {
        Self::new()
    }
}
