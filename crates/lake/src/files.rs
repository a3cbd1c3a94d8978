//! The files of a table, for garbage collection: which data files its snapshots reference,
//! which sit in its data location, and deleting one of them.
//!
//! A data file is referenced when any snapshot still in the metadata lists it live, through
//! its manifest list and manifests: an added or existing entry. A deleted entry only records
//! that this snapshot removed the file; while an older snapshot that read it remains (time
//! travel), that snapshot's manifests list it live, and once those have expired nothing
//! needs it (as Iceberg's own expiry reads it). Everything here
//! compares paths in one canonical form ([`canonical_path`]): a local `file:` URI is written
//! as its plain path, the S3 aliases `s3a://` and `s3n://` as `s3://`, other locations are
//! left as they are.
//!
//! Listing a table's data location, and reading one file's size and modification time, are
//! [`Lake::list_data_files`] and [`Lake::stat_data_file`]: a local warehouse is a directory,
//! walked here; a warehouse in S3 is listed through the lake's data store, an `ObjectStore`
//! of the warehouse's bucket (`bucket`), because iceberg's FileIO cannot list, and its file
//! metadata has a size but no modification time. Deleting goes through the table's FileIO,
//! the I/O that wrote the file ([`delete_data_file`]). Only data files are ever listed or
//! deleted: `.parquet` files under the data location, never the table's metadata directory
//! (metadata JSON, manifest lists, manifests), never a path with a `..` segment.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use iceberg::spec::{Manifest, ManifestFile, ManifestStatus, SnapshotRef};
use iceberg::table::Table;
use iceberg::writer::file_writer::location_generator::{
    DefaultLocationGenerator, LocationGenerator,
};
use sluice_core::config::TableConfig;
use sluice_store::ObjectStore;

use crate::error::{LakeError, LakeErrorKind, Result};
use crate::Lake;

mod bucket;

/// File name extension of the data files sluice writes (`write.format.default = parquet`).
const DATA_FILE_EXTENSION: &str = ".parquet";

/// A data file found in a table's data location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDataFile {
    /// Its path, in canonical form ([`canonical_path`]).
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its last modification time.
    pub modified: SystemTime,
}

/// The canonical form of a file path: a local `file:` URI (`file:///a/b`, `file:/a/b`) as its
/// plain path (`/a/b`); `s3a://` and `s3n://` (Hadoop's names for S3, which iceberg's S3
/// storage reads as `s3://`) as `s3://`; any other path or URI unchanged.
pub fn canonical_path(path: &str) -> String {
    if let Some(rest) = ["s3a://", "s3n://"]
        .iter()
        .find_map(|alias| path.strip_prefix(alias))
    {
        return format!("s3://{rest}");
    }
    let stripped = path
        .strip_prefix("file://")
        .or_else(|| path.strip_prefix("file:"));
    match stripped {
        Some(rest) if rest.starts_with('/') => rest.to_string(),
        Some(rest) => format!("/{rest}"),
        None => path.to_string(),
    }
}

/// Where the table's writers put data files (`write.data.path`, else `<location>/data`), in
/// canonical form, without a trailing slash. Computed by the same location generator the
/// batch writer uses, so the two cannot disagree.
pub fn data_location(table: &Table) -> Result<String> {
    let generator = DefaultLocationGenerator::new(table.metadata())
        .map_err(|e| LakeError::iceberg("choosing the data location", e))?;
    let location = generator.generate_location(None, "");
    Ok(canonical_path(location.trim_end_matches('/')))
}

/// The table's metadata directory (`<location>/metadata`), in canonical form.
fn metadata_location(table: &Table) -> String {
    format!(
        "{}/metadata",
        canonical_path(table.metadata().location().trim_end_matches('/'))
    )
}

/// The manifest list of `snapshot`, with an error that names it.
pub(crate) async fn manifest_list(
    table: &Table,
    snapshot: &SnapshotRef,
) -> Result<iceberg::spec::ManifestList> {
    table
        .manifest_list_reader(snapshot)
        .load()
        .await
        .map_err(|e| {
            LakeError::iceberg(
                format!(
                    "reading the manifest list of snapshot {}",
                    snapshot.snapshot_id()
                ),
                e,
            )
        })
}

/// One manifest a manifest list names, with an error that names it.
pub(crate) async fn manifest(table: &Table, file: &ManifestFile) -> Result<Manifest> {
    file.load_manifest(table.file_io())
        .await
        .map_err(|e| LakeError::iceberg(format!("reading manifest {}", file.manifest_path), e))
}

/// Every data file that a snapshot still in the table's metadata reads, in canonical form:
/// each snapshot's manifests, each added or existing entry (see the module docs).
pub async fn referenced_files(table: &Table) -> Result<HashSet<String>> {
    let mut files = HashSet::new();
    let mut manifests_read = HashSet::new();
    for snapshot in table.metadata().snapshots() {
        for manifest_file in manifest_list(table, snapshot).await?.entries() {
            // Snapshots share manifests: read each once.
            if !manifests_read.insert(manifest_file.manifest_path.clone()) {
                continue;
            }
            for entry in manifest(table, manifest_file).await?.entries() {
                if entry.status() == ManifestStatus::Deleted {
                    continue;
                }
                files.insert(canonical_path(entry.file_path()));
            }
        }
    }
    Ok(files)
}

/// Deletes one data file through the table's FileIO (the same I/O that wrote it). Deleting an
/// absent file succeeds, so a re-run after a crash converges. Refuses anything that is not a
/// `.parquet` file under the table's data location: metadata files are never touched here.
pub async fn delete_data_file(table: &Table, path: &str) -> Result<()> {
    let canonical = canonical_path(path);
    if !is_data_file_of(table, &canonical)? {
        return Err(LakeError::internal(format!(
            "refusing to delete {path}: not a data file under the table's data location"
        )));
    }
    table
        .file_io()
        .delete(path)
        .await
        .map_err(|e| LakeError::iceberg(format!("deleting {path}"), e))?;
    tracing::debug!(path, "data file deleted");
    Ok(())
}

/// Whether `path` (canonical) is a `.parquet` file under the data location and outside the
/// metadata directory.
fn is_data_file_of(table: &Table, path: &str) -> Result<bool> {
    let data = format!("{}/", data_location(table)?);
    let metadata = format!("{}/", metadata_location(table));
    Ok(path.starts_with(&data)
        && !path.starts_with(&metadata)
        && path.ends_with(DATA_FILE_EXTENSION)
        && !path[data.len()..].split('/').any(|s| s == ".." || s == "."))
}

/// The local directory of a canonical location, or `None` for a URI with a scheme.
fn local_dir(location: &str) -> Option<PathBuf> {
    location.starts_with('/').then(|| PathBuf::from(location))
}

/// The local file at `path` (canonical) as it is now, or `None` if there is no file there.
async fn stat_local(path: String, local: PathBuf) -> Result<Option<StoredDataFile>> {
    let found = tokio::task::spawn_blocking(move || match std::fs::symlink_metadata(&local) {
        Ok(md) if md.is_file() => Ok(Some((md.len(), md.modified()?))),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await
    .map_err(|e| LakeError::internal(format!("reading {path}: {e}")))?
    .map_err(|e| transient(format!("reading {path}: {e}")))?;
    Ok(found.map(|(bytes, modified)| StoredDataFile {
        path,
        bytes,
        modified,
    }))
}

/// Walks `root` (the local directory of `location`) without following symbolic links.
fn list_local(location: &str, root: &Path) -> Result<Vec<StoredDataFile>> {
    let mut found = vec![];
    let mut dirs = vec![(root.to_path_buf(), location.to_string())];
    while let Some((dir, prefix)) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            // No data written yet (or the directory went away): nothing to list.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(transient(format!("listing {}: {e}", dir.display()))),
        };
        for entry in entries {
            let entry = entry.map_err(|e| transient(format!("listing {}: {e}", dir.display())))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                tracing::warn!(path = %entry.path().display(), "skipping a file whose name is not UTF-8");
                continue;
            };
            let md = match entry.path().symlink_metadata() {
                Ok(md) => md,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(transient(format!(
                        "reading {}: {e}",
                        entry.path().display()
                    )))
                }
            };
            let path = format!("{prefix}/{name}");
            if md.is_dir() {
                dirs.push((entry.path(), path));
            } else if md.is_file() && name.ends_with(DATA_FILE_EXTENSION) {
                let modified = md
                    .modified()
                    .map_err(|e| transient(format!("reading the mtime of {path}: {e}")))?;
                found.push(StoredDataFile {
                    path,
                    bytes: md.len(),
                    modified,
                });
            }
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn transient(message: String) -> LakeError {
    LakeError::new(LakeErrorKind::Transient, message)
}

impl Lake {
    /// Every data file (`*.parquet`) under the table's data location, referenced or not:
    /// walked in a local warehouse, listed through the data store (the warehouse's bucket)
    /// in an object store.
    pub async fn list_data_files(&self, table: &Table) -> Result<Vec<StoredDataFile>> {
        self.refuse_if_managed(table.identifier(), "garbage collection")?;
        let location = data_location(table)?;
        match local_dir(&location) {
            Some(root) => tokio::task::spawn_blocking(move || list_local(&location, &root))
                .await
                .map_err(|e| LakeError::internal(format!("listing data files: {e}")))?,
            None => bucket::list(self.data_store_for(&location)?.as_ref(), &location).await,
        }
    }

    /// The data file at `path` as it is now, or `None` if it is gone (or not a data file of
    /// the table's data location).
    pub async fn stat_data_file(
        &self,
        table: &Table,
        path: &str,
    ) -> Result<Option<StoredDataFile>> {
        self.refuse_if_managed(table.identifier(), "garbage collection")?;
        let path = canonical_path(path);
        if !is_data_file_of(table, &path)? {
            return Ok(None);
        }
        match local_dir(&path) {
            Some(local) => stat_local(path, local).await,
            None => bucket::stat(self.data_store_for(&path)?.as_ref(), &path).await,
        }
    }

    /// The data store, to read `location` (not local) through; an error if there is none.
    fn data_store_for(&self, location: &str) -> Result<&std::sync::Arc<dyn ObjectStore>> {
        self.data_store().ok_or_else(|| {
            LakeError::internal(format!(
                "reading the data files at {location} needs the object store of its bucket, \
                 and this lake was opened without one"
            ))
        })
    }

    /// Every file the table's snapshots reference ([`referenced_files`]); empty when the
    /// table does not exist yet.
    pub async fn referenced_files(&self, table_cfg: &TableConfig) -> Result<HashSet<String>> {
        match self.load(table_cfg).await? {
            Some(table) => referenced_files(&table).await,
            None => Ok(HashSet::new()),
        }
    }

    /// Every data file in the table's data location ([`list_data_files`]); empty when the
    /// table does not exist yet.
    pub async fn data_files(&self, table_cfg: &TableConfig) -> Result<Vec<StoredDataFile>> {
        match self.load(table_cfg).await? {
            Some(table) => self.list_data_files(&table).await,
            None => Ok(vec![]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_and_plain_paths_have_one_form() {
        assert_eq!(
            canonical_path("file:///w/t/data/a.parquet"),
            "/w/t/data/a.parquet"
        );
        assert_eq!(
            canonical_path("file:/w/t/data/a.parquet"),
            "/w/t/data/a.parquet"
        );
        assert_eq!(canonical_path("/w/t/data/a.parquet"), "/w/t/data/a.parquet");
        assert_eq!(
            canonical_path("s3://b/t/data/a.parquet"),
            "s3://b/t/data/a.parquet"
        );
    }

    #[test]
    fn s3_aliases_have_the_s3_form() {
        assert_eq!(canonical_path("s3a://b/t/a.parquet"), "s3://b/t/a.parquet");
        assert_eq!(canonical_path("s3n://b/t/a.parquet"), "s3://b/t/a.parquet");
        assert_eq!(canonical_path("gs://b/t/a.parquet"), "gs://b/t/a.parquet");
    }

    #[test]
    fn only_local_locations_have_a_directory() {
        assert_eq!(local_dir("/w/t/data"), Some(PathBuf::from("/w/t/data")));
        assert_eq!(local_dir("s3://b/t/data"), None);
    }
}
