//! Producing one overwrite snapshot on a base table: the manifests, the manifest list, the
//! summary, and the [`TableCommit`] that adds the snapshot if the base is still current.
//!
//! This is the part iceberg-rust's `SnapshotProducer` does for the fast append, extended the
//! way Iceberg's Java `MergingSnapshotProducer` (and the open upstream pull requests) extend it
//! for removals: every data manifest of the base snapshot that holds a removed file is
//! rewritten with that entry DELETED (stamped with the new snapshot id) and its other live
//! entries EXISTING, both keeping their data and file sequence numbers and, for the existing
//! ones, the snapshot that added them; entries already DELETED in an earlier snapshot are
//! dropped from the rewritten manifest. Manifests without a removed file are carried over
//! untouched, and the added files go into one new manifest whose entries inherit the new
//! snapshot's id and sequence number from the manifest list.
//!
//! Nothing here talks to the catalog: [`produce`] only writes new, uniquely named metadata
//! files (listed in [`ProducedSnapshot::written`], so that the files of a try the catalog
//! refused can be deleted) and never changes the table.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use iceberg::spec::{
    DataFile, DataFileFormat, FormatVersion, ManifestContentType, ManifestEntry, ManifestFile,
    ManifestListWriter, ManifestWriterBuilder, Operation, PartitionSpec, Snapshot,
    SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Summary, TableProperties,
    MAIN_BRANCH,
};
use iceberg::table::Table;
use iceberg::{Error, ErrorKind, Result, TableCommit, TableRequirement, TableUpdate};
use uuid::Uuid;

/// What one overwrite asks of a base table.
pub(crate) struct OverwriteRequest<'a> {
    pub operation: Operation,
    /// Paths of the data files to remove, exactly as the manifests spell them.
    pub deleted_paths: &'a BTreeSet<String>,
    pub added_files: &'a [DataFile],
    /// Caller-given summary properties; the computed counts win over them.
    pub snapshot_properties: &'a HashMap<String, String>,
    /// Names this commit's metadata files, as the fast append's commit uuid does.
    pub commit_uuid: Uuid,
    /// Which try this is (0 first, then one more per rebase), so every try has its own files.
    pub attempt: u32,
}

/// A snapshot written for one base, and the catalog commit that would make it current.
pub(crate) struct ProducedSnapshot {
    pub commit: TableCommit,
    pub snapshot_id: i64,
    /// The manifests and manifest list this try wrote.
    pub written: Vec<String>,
}

/// A live data file of the base snapshot that this overwrite removes, with the schema and
/// spec its manifest was written with (the summary names the file's partition by them).
struct Removal {
    file: DataFile,
    spec: Arc<PartitionSpec>,
    schema: iceberg::spec::SchemaRef,
}

/// Writes the manifests and manifest list of one overwrite snapshot on `base` and returns the
/// commit. Fails with `DataInvalid` naming a path that is to be removed but is not live in the
/// base snapshot, or that is to be added but already is.
pub(crate) async fn produce(
    base: &Table,
    request: &OverwriteRequest<'_>,
) -> Result<ProducedSnapshot> {
    let mut files = MetadataFiles::new(base, request.commit_uuid, request.attempt);
    match write_snapshot(base, request, &mut files).await {
        Ok(produced) => Ok(produced),
        Err(e) => {
            discard(base, std::mem::take(&mut files.written)).await;
            Err(e)
        }
    }
}

/// Deletes metadata files nothing will reference: those of a try that failed or that the
/// catalog refused (best effort: an orphan manifest costs a few bytes and is never read).
pub(crate) async fn discard(table: &Table, written: Vec<String>) {
    for path in written {
        if let Err(e) = table.file_io().delete(&path).await {
            tracing::warn!(path, error = %e, "could not delete an unused manifest");
        }
    }
}

async fn write_snapshot(
    base: &Table,
    request: &OverwriteRequest<'_>,
    files: &mut MetadataFiles<'_>,
) -> Result<ProducedSnapshot> {
    let metadata = base.metadata();
    if metadata.format_version() != FormatVersion::V2 {
        return Err(Error::new(
            ErrorKind::FeatureUnsupported,
            format!(
                "an overwrite commit needs an Iceberg format v2 table; {} is format {}",
                base.identifier(),
                metadata.format_version()
            ),
        ));
    }
    let snapshot_id = unique_snapshot_id(base);
    let mut manifests = vec![];
    let mut removed = vec![];
    let mut live_added = BTreeSet::new();
    let added_paths: BTreeSet<&str> = request.added_files.iter().map(|f| f.file_path()).collect();

    if let Some(current) = metadata.current_snapshot() {
        let list = base.manifest_list_reader(current).load().await?;
        for manifest_file in list.entries() {
            if manifest_file.content == ManifestContentType::Deletes {
                manifests.push(manifest_file.clone());
                continue;
            }
            if !manifest_file.has_added_files() && !manifest_file.has_existing_files() {
                // Only entries deleted by earlier snapshots: nothing live to carry on.
                continue;
            }
            let manifest = manifest_file.load_manifest(base.file_io()).await?;
            let live = || manifest.entries().iter().filter(|e| e.is_alive());
            live_added.extend(
                live()
                    .filter(|e| added_paths.contains(e.file_path()))
                    .map(|e| e.file_path().to_string()),
            );
            if !live().any(|e| request.deleted_paths.contains(e.file_path())) {
                manifests.push(manifest_file.clone());
                continue;
            }
            let schema = manifest.metadata().schema().clone();
            let spec = Arc::new(manifest.metadata().partition_spec().clone());
            let mut writer = ManifestWriterBuilder::new(
                files.new_manifest()?,
                Some(snapshot_id),
                schema.clone(),
                spec.as_ref().clone(),
            )
            .build_v2_data();
            for entry in live() {
                let (sequence_number, file_sequence_number) = sequence_numbers(entry)?;
                if request.deleted_paths.contains(entry.file_path()) {
                    writer.add_delete_file(
                        entry.data_file().clone(),
                        sequence_number,
                        Some(file_sequence_number),
                    )?;
                    removed.push(Removal {
                        file: entry.data_file().clone(),
                        spec: spec.clone(),
                        schema: schema.clone(),
                    });
                } else {
                    let added_by = entry.snapshot_id().ok_or_else(|| {
                        Error::new(
                            ErrorKind::DataInvalid,
                            format!("manifest entry {} has no snapshot id", entry.file_path()),
                        )
                    })?;
                    writer.add_existing_file(
                        entry.data_file().clone(),
                        added_by,
                        sequence_number,
                        Some(file_sequence_number),
                    )?;
                }
            }
            manifests.push(writer.write_manifest_file().await?);
        }
    }

    check_removals(request.deleted_paths, &removed)?;
    if let Some(path) = live_added.first() {
        return Err(Error::new(
            ErrorKind::DataInvalid,
            format!("cannot add data file {path}: the table already references it"),
        ));
    }
    if !request.added_files.is_empty() {
        manifests.push(write_added_manifest(base, files, snapshot_id, request.added_files).await?);
    }

    let summary = summary(base, request, &removed);
    let sequence_number = metadata.next_sequence_number();
    let list_path = files.manifest_list_path(snapshot_id);
    let mut list = ManifestListWriter::v2(
        base.file_io().new_output(&list_path)?.writer().await?,
        snapshot_id,
        metadata.current_snapshot_id(),
        sequence_number,
    );
    list.add_manifests(manifests.into_iter())?;
    list.close().await?;
    files.written.push(list_path.clone());

    let snapshot = Snapshot::builder()
        .with_manifest_list(list_path)
        .with_snapshot_id(snapshot_id)
        .with_parent_snapshot_id(metadata.current_snapshot_id())
        .with_sequence_number(sequence_number)
        .with_summary(summary)
        .with_schema_id(metadata.current_schema_id())
        .with_timestamp_ms(chrono::Utc::now().timestamp_millis())
        .build();
    let commit = TableCommit::builder()
        .ident(base.identifier().clone())
        .requirements(vec![
            TableRequirement::UuidMatch {
                uuid: metadata.uuid(),
            },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: MAIN_BRANCH.to_string(),
                snapshot_id: metadata.current_snapshot_id(),
            },
        ])
        .updates(vec![
            TableUpdate::AddSnapshot { snapshot },
            TableUpdate::SetSnapshotRef {
                ref_name: MAIN_BRANCH.to_string(),
                reference: SnapshotReference::new(
                    snapshot_id,
                    SnapshotRetention::branch(None, None, None),
                ),
            },
        ])
        .build();
    Ok(ProducedSnapshot {
        commit,
        snapshot_id,
        written: std::mem::take(&mut files.written),
    })
}

/// Every path asked for must have been found live, once.
fn check_removals(deleted_paths: &BTreeSet<String>, removed: &[Removal]) -> Result<()> {
    let found: BTreeSet<&str> = removed.iter().map(|r| r.file.file_path()).collect();
    let missing: Vec<&str> = deleted_paths
        .iter()
        .map(String::as_str)
        .filter(|p| !found.contains(p))
        .collect();
    if !missing.is_empty() {
        return Err(Error::new(
            ErrorKind::DataInvalid,
            format!(
                "cannot remove data files that are not live in the table: {}",
                missing.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The data and file sequence numbers of a live entry read through its manifest list (which
/// fills in what the entry inherits), as an EXISTING or DELETED entry must spell them.
fn sequence_numbers(entry: &ManifestEntry) -> Result<(i64, i64)> {
    match (entry.sequence_number(), entry.file_sequence_number) {
        (Some(data), Some(file)) => Ok((data, file)),
        (Some(data), None) => Ok((data, data)),
        _ => Err(Error::new(
            ErrorKind::DataInvalid,
            format!(
                "manifest entry {} has no sequence number",
                entry.file_path()
            ),
        )),
    }
}

async fn write_added_manifest(
    base: &Table,
    files: &mut MetadataFiles<'_>,
    snapshot_id: i64,
    added: &[DataFile],
) -> Result<ManifestFile> {
    let metadata = base.metadata();
    let mut writer = ManifestWriterBuilder::new(
        files.new_manifest()?,
        Some(snapshot_id),
        metadata.current_schema().clone(),
        metadata.default_partition_spec().as_ref().clone(),
    )
    .build_v2_data();
    for file in added {
        // A negative sequence number leaves it unassigned: the entry inherits the snapshot's.
        writer.add_file(file.clone(), -1)?;
    }
    writer.write_manifest_file().await
}

/// Iceberg's standard summary: what the collector counts for the added and removed files,
/// the caller's properties beneath them, and the table totals carried from the base snapshot.
fn summary(base: &Table, request: &OverwriteRequest<'_>, removed: &[Removal]) -> Summary {
    let metadata = base.metadata();
    let mut collector = SnapshotSummaryCollector::default();
    let limit = metadata
        .properties()
        .get(TableProperties::PROPERTY_WRITE_PARTITION_SUMMARY_LIMIT)
        .and_then(|v| v.parse().ok())
        .unwrap_or(TableProperties::PROPERTY_WRITE_PARTITION_SUMMARY_LIMIT_DEFAULT);
    collector.set_partition_summary_limit(limit);
    for file in request.added_files {
        collector.add_file(
            file,
            metadata.current_schema().clone(),
            metadata.default_partition_spec().clone(),
        );
    }
    for r in removed {
        collector.remove_file(&r.file, r.schema.clone(), r.spec.clone());
    }
    let mut properties = request.snapshot_properties.clone();
    properties.extend(collector.build());
    let previous = metadata.current_snapshot().map(|s| s.summary());
    for (total, added, removed) in TOTALS {
        let before = match previous {
            None => Some(0),
            Some(p) => p
                .additional_properties
                .get(total)
                .and_then(|v| v.parse::<u64>().ok()),
        };
        // Like Java's SnapshotProducer: no total when the base snapshot had none to carry on.
        let Some(before) = before else { continue };
        let count = |key: &str| -> u64 {
            properties
                .get(key)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let after = (before + count(added)).saturating_sub(count(removed));
        properties.insert(total.to_string(), after.to_string());
    }
    Summary {
        operation: request.operation.clone(),
        additional_properties: properties,
    }
}

/// (total, added, removed) summary keys, as Iceberg names them.
const TOTALS: [(&str, &str, &str); 6] = [
    ("total-data-files", "added-data-files", "deleted-data-files"),
    (
        "total-delete-files",
        "added-delete-files",
        "removed-delete-files",
    ),
    ("total-records", "added-records", "deleted-records"),
    ("total-files-size", "added-files-size", "removed-files-size"),
    (
        "total-position-deletes",
        "added-position-deletes",
        "removed-position-deletes",
    ),
    (
        "total-equality-deletes",
        "added-equality-deletes",
        "removed-equality-deletes",
    ),
];

/// Names the metadata files of one try, under the table's `metadata/` directory, as the
/// fast append names its own (`<commit uuid>-m<n>.avro`, `snap-<id>-<try>-<uuid>.avro`).
struct MetadataFiles<'a> {
    table: &'a Table,
    commit_uuid: Uuid,
    attempt: u32,
    counter: u32,
    written: Vec<String>,
}

impl<'a> MetadataFiles<'a> {
    fn new(table: &'a Table, commit_uuid: Uuid, attempt: u32) -> Self {
        MetadataFiles {
            table,
            commit_uuid,
            attempt,
            counter: 0,
            written: vec![],
        }
    }

    fn dir(&self) -> String {
        format!(
            "{}/metadata",
            self.table.metadata().location().trim_end_matches('/')
        )
    }

    fn new_manifest(&mut self) -> Result<iceberg::io::OutputFile> {
        let path = format!(
            "{}/{}-a{}-m{}.{}",
            self.dir(),
            self.commit_uuid,
            self.attempt,
            self.counter,
            DataFileFormat::Avro
        );
        self.counter += 1;
        self.written.push(path.clone());
        self.table.file_io().new_output(path)
    }

    fn manifest_list_path(&self, snapshot_id: i64) -> String {
        format!(
            "{}/snap-{snapshot_id}-{}-{}.{}",
            self.dir(),
            self.attempt,
            self.commit_uuid,
            DataFileFormat::Avro
        )
    }
}

/// A random positive snapshot id no snapshot of the table has (as the fast append picks one).
fn unique_snapshot_id(table: &Table) -> i64 {
    loop {
        let (high, low) = Uuid::new_v4().as_u64_pair();
        let id = ((high ^ low) as i64).wrapping_abs();
        if id > 0 && !table.metadata().snapshots().any(|s| s.snapshot_id() == id) {
            return id;
        }
    }
}
