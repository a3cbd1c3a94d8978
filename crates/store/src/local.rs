//! `LocalStore`: a directory as an unversioned bucket, with S3's guarantees.
//!
//! Unversioned means one version per key: `get_version(key, None)` reads it, and any named
//! version id is absent (`NotFound`), as on S3 for an id the bucket never had.
//! A key `orders/a.ndjson` is the file `<root>/orders/a.ndjson`. Keys are hostile input, so
//! each one passes `sluice_core::object::check_key` before any path is built, and a key whose
//! path leads through a symbolic link out of the root is refused. The etag is the SHA-256 of
//! the content, computed while streaming (never by reading a big file into memory) and
//! remembered per file identity (device, inode, size, times) so that listing a landing
//! directory does not re-hash unchanged files.
//!
//! The guarantees the ledger needs (DESIGN §5.1) come from the file system:
//! - every write goes to a temporary file under `<root>/.sluice/tmp/` (same file system),
//!   is fsynced, then renamed into place: readers see old or new bytes, never a mix;
//! - `create_if_absent` hard-links the finished temporary file to the key, which fails if
//!   the key exists, so exactly one racing creator wins, even across processes;
//! - `put_if_match` holds an exclusive lock on the key's lock file while it compares the
//!   etag and renames, so compare-and-swap is atomic against every other writer of that key
//!   in any process. All writers of this store take the same lock; someone editing files by
//!   hand does not, and is not protected against.
//!
//! Lock files are left in place after use: deleting a lock file others may hold is the
//! classic way to break file locking. So that they do not grow with the keys ever written
//! (several per arrival: a million files would leave millions in one directory), a key's
//! lock is one of `LOCK_SHARDS` (256) files, `<root>/.sluice/locks/<first byte of
//! sha256(key)>.lock`: writers of two keys of one shard wait for each other for the rename,
//! which is short, and no writer holds two locks at once, so none waits on itself.
//! Temporary files a killed writer left behind are removed by
//! [`LocalStore::collect_stale_temporaries`] (`sluice gc`) once they are old enough. Blocking
//! file system work runs on Tokio's blocking pool.
//!
//! A copy (`put_file`) is created with its source's permission bits, never wider, so a
//! private file does not become readable by others by landing. A listing sets apart the
//! files whose name is no key sluice can take (a backslash, a control character, a name that
//! is not UTF-8) in [`Listing::unacceptable`] instead of dropping them.

use std::collections::HashMap;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use sluice_core::object::{check_key, content_hash};

use crate::copy;
use crate::store::{Conditional, GetObject, Listing, ObjectMeta, ObjectStore, StoreError};

/// Where temporary files are written before they are renamed into place, relative to root.
const TMP_DIR: &str = sluice_core::layout::LOCAL_TMP;
/// Where the lock files live, relative to root.
const LOCK_DIR: &str = sluice_core::layout::LOCAL_LOCKS;
/// Lock files in all, whatever the number of keys: a key's is chosen by the first byte of
/// its SHA-256 (so at most 256).
const LOCK_SHARDS: usize = 256;
/// Remembered etags before the cache is dropped and rebuilt (bounds memory on huge buckets).
const ETAG_CACHE_LIMIT: usize = 100_000;
/// Permission bits of a written object before the umask: what `File::create` uses.
const DEFAULT_MODE: u32 = 0o666;

/// A directory used as a bucket. Cheap to clone; clones share the etag cache.
#[derive(Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// Canonical root directory: every object path is below it.
    root: PathBuf,
    /// Bucket name reported in object versions.
    bucket: String,
    /// Etags of files already hashed, keyed by path and valid while the file's stamp is
    /// unchanged. Writes through this store insert their own etag, so they are never hashed.
    etags: Mutex<HashMap<PathBuf, (FileStamp, String)>>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore")
            .field("root", &self.inner.root)
            .field("bucket", &self.inner.bucket)
            .finish_non_exhaustive()
    }
}

impl LocalStore {
    /// Opens (creating if needed) the directory `root` as the bucket named `bucket`, with
    /// the store's working directories under `<root>/.sluice/`.
    pub fn new(root: PathBuf, bucket: impl Into<String>) -> Result<LocalStore, StoreError> {
        let shown = root.display().to_string();
        fs::create_dir_all(&root).map_err(|e| StoreError::io(&shown, e))?;
        let root = fs::canonicalize(&root).map_err(|e| StoreError::io(&shown, e))?;
        for dir in [TMP_DIR, LOCK_DIR] {
            fs::create_dir_all(root.join(dir)).map_err(|e| StoreError::io(dir, e))?;
        }
        Ok(LocalStore {
            inner: Arc::new(Inner {
                root,
                bucket: bucket.into(),
                etags: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Temporary files under `<root>/.sluice/tmp/` not modified for `min_age`: copies and
    /// writes of a process killed before it renamed them into place (a write in progress
    /// keeps its file's modification time fresh). Removes them unless `dry_run`, checking
    /// each one's age again just before; returns them (path, bytes), sorted by path.
    pub async fn collect_stale_temporaries(
        &self,
        min_age: Duration,
        dry_run: bool,
    ) -> Result<Vec<(PathBuf, u64)>, StoreError> {
        self.blocking(TMP_DIR, move |s| s.stale_temporaries(min_age, dry_run))
            .await
    }

    /// Runs blocking file system work for `key` on the blocking pool.
    async fn blocking<T, F>(&self, key: &str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = self.inner.clone();
        match tokio::task::spawn_blocking(move || work(&inner)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(StoreError::io(key, io::Error::other(e))),
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for LocalStore {
    fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let key = key.to_string();
        self.blocking(&key.clone(), move |s| s.head(&key)).await
    }

    async fn head_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectMeta>, StoreError> {
        match version_id {
            None => self.head(key).await,
            Some(_) => {
                check_key(key)?;
                Ok(None)
            }
        }
    }

    async fn get_version(
        &self,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<GetObject, StoreError> {
        match version_id {
            None => self.get(key).await,
            Some(_) => {
                check_key(key)?;
                Err(StoreError::NotFound {
                    key: key.to_string(),
                })
            }
        }
    }

    async fn get(&self, key: &str) -> Result<GetObject, StoreError> {
        let key = key.to_string();
        let (file, meta) = self.blocking(&key.clone(), move |s| s.open(&key)).await?;
        Ok(GetObject {
            meta,
            body: Box::pin(tokio::fs::File::from_std(file)),
        })
    }

    async fn get_bytes(&self, key: &str) -> Result<Option<(Bytes, ObjectMeta)>, StoreError> {
        let key = key.to_string();
        self.blocking(&key.clone(), move |s| s.read_all(&key)).await
    }

    async fn put(&self, key: &str, body: Bytes) -> Result<ObjectMeta, StoreError> {
        let key = key.to_string();
        self.blocking(&key.clone(), move |s| {
            s.replace(&key, Body::Bytes(&body), DEFAULT_MODE)
        })
        .await
    }

    async fn put_file(&self, key: &str, path: &Path) -> Result<ObjectMeta, StoreError> {
        let key = key.to_string();
        let path = path.to_path_buf();
        self.blocking(&key.clone(), move |s| {
            check_key(&key)?;
            let mut source = File::open(&path).map_err(|e| StoreError::io(&key, e))?;
            let mode = source_mode(&source).map_err(|e| StoreError::io(&key, e))?;
            s.replace(&key, Body::File(&mut source), mode)
        })
        .await
    }

    async fn create_if_absent(&self, key: &str, body: Bytes) -> Result<Conditional, StoreError> {
        let key = key.to_string();
        self.blocking(&key.clone(), move |s| s.create_if_absent(&key, &body))
            .await
    }

    async fn put_if_match(
        &self,
        key: &str,
        body: Bytes,
        etag: &str,
    ) -> Result<Conditional, StoreError> {
        let key = key.to_string();
        let etag = etag.to_string();
        self.blocking(&key.clone(), move |s| s.put_if_match(&key, &body, &etag))
            .await
    }

    async fn listing(&self, prefix: &str) -> Result<Listing, StoreError> {
        let prefix = prefix.to_string();
        self.blocking(&prefix.clone(), move |s| s.list(&prefix))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.blocking(&key.clone(), move |s| s.delete(&key)).await
    }
}

/// What a temporary file is written from.
enum Body<'a> {
    Bytes(&'a [u8]),
    /// A local file: cloned where the file system can, copied otherwise.
    File(&'a mut File),
}

/// A finished temporary file, removed on drop unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    /// SHA-256 hex of what was written.
    etag: String,
    size: u64,
    /// Metadata taken after the final fsync; rename and hard link keep it.
    metadata: Metadata,
    /// False once the file has been renamed away (nothing left to clean up).
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Inner {
    /// The path of `key`, refusing bad keys, the store's working directories, and paths that
    /// pass through a symbolic link pointing out of the root. Checked before every access;
    /// a link swapped in between the check and the access is not defended against.
    fn resolve(&self, key: &str) -> Result<PathBuf, StoreError> {
        check_key(key)?;
        if is_internal(key) {
            return Err(StoreError::UnsafePath {
                key: key.into(),
                reason: "the store's working directory",
            });
        }
        let path = self.root.join(key);
        let mut walked = self.root.clone();
        for segment in key.split('/') {
            walked.push(segment);
            match fs::symlink_metadata(&walked) {
                Ok(md) if md.file_type().is_symlink() => {
                    let target = fs::canonicalize(&walked);
                    if !target.is_ok_and(|t| t.starts_with(&self.root)) {
                        return Err(StoreError::UnsafePath {
                            key: key.into(),
                            reason: "a symbolic link on its path leads out of the bucket",
                        });
                    }
                }
                Ok(_) => {}
                // The rest of the path does not exist yet, so it holds no link.
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(StoreError::io(key, e)),
            }
        }
        Ok(path)
    }

    fn stale_temporaries(
        &self,
        min_age: Duration,
        dry_run: bool,
    ) -> Result<Vec<(PathBuf, u64)>, StoreError> {
        let dir = self.root.join(TMP_DIR);
        let io_err = |e| StoreError::io(TMP_DIR, e);
        let stale = |path: &Path| -> io::Result<Option<u64>> {
            let md = fs::symlink_metadata(path)?;
            let age = md.modified()?.elapsed().unwrap_or(Duration::ZERO);
            Ok((md.is_file() && age >= min_age).then_some(md.len()))
        };
        let mut found = vec![];
        for entry in fs::read_dir(&dir).map_err(io_err)? {
            let path = entry.map_err(io_err)?.path();
            match stale(&path) {
                Ok(Some(bytes)) => found.push((path, bytes)),
                Ok(None) => {}
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        found.sort();
        if dry_run {
            return Ok(found);
        }
        let mut removed = vec![];
        for (path, bytes) in found {
            // Touched since it was listed: someone is writing it after all.
            if !matches!(stale(&path), Ok(Some(_))) {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => removed.push((path, bytes)),
                Err(e) if is_absent(&e) => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(removed)
    }

    fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        match self.open(key) {
            Ok((_, meta)) => Ok(Some(meta)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens `key` for reading, positioned at the start, with the metadata of the opened file.
    fn open(&self, key: &str) -> Result<(File, ObjectMeta), StoreError> {
        let path = self.resolve(key)?;
        let not_found = || StoreError::NotFound {
            key: key.to_string(),
        };
        // Only regular files are objects; checking first also avoids blocking on a FIFO.
        match fs::metadata(&path) {
            Ok(md) if md.is_file() => {}
            Ok(_) => return Err(not_found()),
            Err(e) if is_absent(&e) => return Err(not_found()),
            Err(e) => return Err(StoreError::io(key, e)),
        }
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if is_absent(&e) => return Err(not_found()),
            Err(e) => return Err(StoreError::io(key, e)),
        };
        let meta = self
            .meta_of_open(key, &path, &mut file)
            .map_err(|e| StoreError::io(key, e))?;
        Ok((file, meta))
    }

    /// Metadata of an open file, hashing it (and rewinding) unless its etag is remembered.
    fn meta_of_open(&self, key: &str, path: &Path, file: &mut File) -> io::Result<ObjectMeta> {
        let md = file.metadata()?;
        let stamp = FileStamp::of(&md);
        let etag = match self.remembered(path, &stamp) {
            Some(etag) => etag,
            None => {
                let (etag, _) = copy::hash_all(file)?;
                file.seek(SeekFrom::Start(0))?;
                self.remember(path, stamp, &etag);
                etag
            }
        };
        Ok(meta(key, md.len(), etag, &md))
    }

    fn read_all(&self, key: &str) -> Result<Option<(Bytes, ObjectMeta)>, StoreError> {
        let (mut file, _) = match self.open(key) {
            Ok(opened) => opened,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut body = Vec::new();
        file.read_to_end(&mut body)
            .map_err(|e| StoreError::io(key, e))?;
        let md = file.metadata().map_err(|e| StoreError::io(key, e))?;
        // The etag of exactly these bytes, even if the file was changed in place meanwhile.
        let meta = meta(key, body.len() as u64, content_hash(&body), &md);
        Ok(Some((Bytes::from(body), meta)))
    }

    /// Writes `body` into a new temporary file, hashing it on the way (see [`crate::copy`]),
    /// and fsyncs it. The file is created with permission bits `mode`, less the process's
    /// umask.
    fn write_temp(&self, key: &str, body: Body<'_>, mode: u32) -> Result<TempFile, StoreError> {
        let path = self
            .root
            .join(TMP_DIR)
            .join(format!("{}.tmp", uuid::Uuid::new_v4()));
        let io_err = |e| StoreError::io(key, e);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&path).map_err(io_err)?;
        let mut temp = TempFile {
            path,
            etag: String::new(),
            size: 0,
            metadata: file.metadata().map_err(io_err)?,
            armed: true,
        };
        (temp.etag, temp.size) = match body {
            Body::Bytes(bytes) => (
                copy::write_bytes(bytes, &mut file).map_err(io_err)?,
                bytes.len() as u64,
            ),
            Body::File(source) => copy::copy_file(source, &mut file, &temp.path).map_err(io_err)?,
        };
        file.sync_all().map_err(io_err)?;
        temp.metadata = file.metadata().map_err(io_err)?;
        Ok(temp)
    }

    /// Takes the exclusive lock that serialises writers of `key`, across processes: its
    /// shard's (see the module's comment). Held until the returned file is dropped; the
    /// caller takes no other lock meanwhile.
    fn lock(&self, key: &str) -> Result<File, StoreError> {
        let shard = usize::from(Sha256::digest(key.as_bytes())[0]) % LOCK_SHARDS;
        let path = self.root.join(LOCK_DIR).join(format!("{shard:02x}.lock"));
        let io_err = |e| StoreError::io(key, e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        file.lock().map_err(io_err)?;
        Ok(file)
    }

    /// Atomically replaces `key` with `body`, created with permission bits `mode` (less the
    /// umask).
    fn replace(&self, key: &str, body: Body<'_>, mode: u32) -> Result<ObjectMeta, StoreError> {
        let dest = self.resolve(key)?;
        let mut temp = self.write_temp(key, body, mode)?;
        let _lock = self.lock(key)?;
        self.rename_into_place(key, &mut temp, &dest)
    }

    fn create_if_absent(&self, key: &str, body: &[u8]) -> Result<Conditional, StoreError> {
        let dest = self.resolve(key)?;
        let mut temp = self.write_temp(key, Body::Bytes(body), DEFAULT_MODE)?;
        let _lock = self.lock(key)?;
        create_parent(key, &dest)?;
        // link(2) fails if `dest` exists, whoever else is racing and by whatever means.
        match fs::hard_link(&temp.path, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Ok(Conditional::PreconditionFailed)
            }
            Err(e) => return Err(StoreError::io(key, e)),
        }
        // Unlinked now rather than on drop: that too changes the inode's change time.
        if fs::remove_file(&temp.path).is_ok() {
            temp.armed = false;
        }
        sync_parent(key, &dest)?;
        self.remember_placed(&dest, &temp);
        Ok(Conditional::Done(meta(
            key,
            temp.size,
            temp.etag.clone(),
            &temp.metadata,
        )))
    }

    fn put_if_match(&self, key: &str, body: &[u8], etag: &str) -> Result<Conditional, StoreError> {
        let dest = self.resolve(key)?;
        let mut temp = self.write_temp(key, Body::Bytes(body), DEFAULT_MODE)?;
        let _lock = self.lock(key)?;
        match self.head(key)? {
            Some(current) if current.etag == etag => {}
            _ => return Ok(Conditional::PreconditionFailed),
        }
        self.rename_into_place(key, &mut temp, &dest)
            .map(Conditional::Done)
    }

    /// Renames a finished temporary file to `dest` and makes the rename durable. The caller
    /// holds the key's lock.
    fn rename_into_place(
        &self,
        key: &str,
        temp: &mut TempFile,
        dest: &Path,
    ) -> Result<ObjectMeta, StoreError> {
        create_parent(key, dest)?;
        fs::rename(&temp.path, dest).map_err(|e| StoreError::io(key, e))?;
        temp.armed = false;
        sync_parent(key, dest)?;
        self.remember_placed(dest, temp);
        Ok(meta(key, temp.size, temp.etag.clone(), &temp.metadata))
    }

    /// Remembers the etag of a temporary file just renamed or linked to `dest`. Both change
    /// the inode's change time, so the stamp is taken from `dest` now, and only if `dest` is
    /// still that inode: otherwise every first read of a new object would hash it again.
    fn remember_placed(&self, dest: &Path, temp: &TempFile) {
        let Ok(now) = fs::symlink_metadata(dest) else {
            return;
        };
        let (placed, before) = (FileStamp::of(&now), FileStamp::of(&temp.metadata));
        if placed.same_inode(&before) && placed.len == before.len {
            self.remember(dest, placed, &temp.etag);
        }
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.resolve(key)?;
        let _lock = self.lock(key)?;
        match fs::symlink_metadata(&path) {
            Ok(md) if md.is_dir() => return Ok(()), // a "directory" is no object
            Ok(_) => {}
            Err(e) if is_absent(&e) => return Ok(()),
            Err(e) => return Err(StoreError::io(key, e)),
        }
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if is_absent(&e) => {}
            Err(e) => return Err(StoreError::io(key, e)),
        }
        self.etags
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&path);
        Ok(())
    }

    fn list(&self, prefix: &str) -> Result<Listing, StoreError> {
        let start = list_start(prefix)?;
        if is_internal(&start) {
            return Ok(Listing::default());
        }
        let mut found = Listing::default();
        let mut dirs = vec![(self.root.join(&start), start)];
        while let Some((dir, dir_key)) = dirs.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                // Missing (or deleted while we walk): nothing under it.
                Err(e) if is_absent(&e) => continue,
                Err(e) => return Err(StoreError::io(&dir_key, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io(&dir_key, e))?;
                // A name that is not UTF-8 is shown with its bytes escaped (`\xe9`): the
                // backslash makes sure such a key is never taken for a readable one.
                let name = match entry.file_name().to_str() {
                    Some(name) => name.to_owned(),
                    None => entry
                        .file_name()
                        .as_encoded_bytes()
                        .escape_ascii()
                        .to_string(),
                };
                let key = if dir_key.is_empty() {
                    name
                } else {
                    format!("{dir_key}/{name}")
                };
                let file_type = entry.file_type().map_err(|e| StoreError::io(&key, e))?;
                if file_type.is_dir() {
                    let as_prefix = format!("{key}/");
                    let may_match = prefix.starts_with(&as_prefix) || as_prefix.starts_with(prefix);
                    if may_match && !is_internal(&key) {
                        dirs.push((entry.path(), key));
                    }
                } else if file_type.is_file() && key.starts_with(prefix) {
                    let listed = self.listed_meta(&key, &entry.path())?;
                    if let Err(e) = check_key(&key) {
                        tracing::warn!(key, error = %e, "listed a file whose name sluice cannot take as a key");
                        found.unacceptable.extend(listed);
                    } else {
                        found.objects.extend(listed);
                    }
                }
                // Symbolic links and special files are not objects.
            }
        }
        found.objects.sort_by(|a, b| a.key.cmp(&b.key));
        found.unacceptable.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    /// Metadata of a listed file, `None` if it vanished since the directory was read.
    fn listed_meta(&self, key: &str, path: &Path) -> Result<Option<ObjectMeta>, StoreError> {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(StoreError::io(key, e)),
        };
        self.meta_of_open(key, path, &mut file)
            .map(Some)
            .map_err(|e| StoreError::io(key, e))
    }

    fn remembered(&self, path: &Path, stamp: &FileStamp) -> Option<String> {
        let etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
        etags
            .get(path)
            .filter(|(s, _)| s == stamp)
            .map(|(_, etag)| etag.clone())
    }

    fn remember(&self, path: &Path, stamp: FileStamp, etag: &str) {
        let mut etags = self.etags.lock().unwrap_or_else(|p| p.into_inner());
        if etags.len() >= ETAG_CACHE_LIMIT {
            etags.clear();
        }
        etags.insert(path.to_path_buf(), (stamp, etag.to_string()));
    }
}

/// The directory key a listing of `prefix` starts from: the part before its last `/`,
/// checked like a key (so `../` or an absolute prefix is refused, not walked).
fn list_start(prefix: &str) -> Result<String, StoreError> {
    if prefix.starts_with('/') || prefix.contains('\\') {
        check_key(prefix)?;
    }
    let dir = prefix.rfind('/').map_or("", |i| &prefix[..i]);
    if !dir.is_empty() {
        check_key(dir)?;
    }
    Ok(dir.to_string())
}

/// Whether `key` is one of the store's working directories or inside one.
fn is_internal(key: &str) -> bool {
    [TMP_DIR, LOCK_DIR].iter().any(|dir| {
        key.strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// What identifies one content of one file: if any of it changes, the etag is recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    /// Device, inode and change time (seconds, nanoseconds) on Unix; zero elsewhere.
    identity: [i64; 4],
}

impl FileStamp {
    /// Whether both stamps are of one file (device and inode; always on non-Unix systems).
    fn same_inode(&self, other: &FileStamp) -> bool {
        self.identity[..2] == other.identity[..2]
    }

    fn of(md: &Metadata) -> Self {
        #[cfg(unix)]
        let identity = {
            use std::os::unix::fs::MetadataExt;
            [
                md.dev() as i64,
                md.ino() as i64,
                md.ctime(),
                md.ctime_nsec(),
            ]
        };
        #[cfg(not(unix))]
        let identity = [0; 4];
        FileStamp {
            len: md.len(),
            modified: md.modified().ok(),
            identity,
        }
    }
}

fn meta(key: &str, size: u64, etag: String, md: &Metadata) -> ObjectMeta {
    ObjectMeta {
        key: key.to_string(),
        size,
        etag,
        version_id: None,
        last_modified: rfc3339(md),
    }
}

/// The file's modification time, RFC 3339 in UTC with milliseconds.
fn rfc3339(md: &Metadata) -> String {
    let modified = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    chrono::DateTime::<chrono::Utc>::from(modified)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Permission bits for the copy of `source`: its own, never wider (the umask still applies);
/// execute bits are dropped, an object is data.
fn source_mode(source: &File) -> io::Result<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(source.metadata()?.permissions().mode() & DEFAULT_MODE)
    }
    #[cfg(not(unix))]
    {
        let _ = source;
        Ok(DEFAULT_MODE)
    }
}

/// Not there, or a path component is a file: either way, no such object.
fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn create_parent(key: &str, dest: &Path) -> Result<(), StoreError> {
    match dest.parent() {
        Some(parent) => fs::create_dir_all(parent).map_err(|e| StoreError::io(key, e)),
        None => Ok(()),
    }
}

/// Fsyncs the directory holding `dest`, so that a rename or link survives a crash.
fn sync_parent(key: &str, dest: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    if let Some(parent) = dest.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(key, e))?;
    }
    #[cfg(not(unix))]
    let _ = (key, dest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;

    use sluice_core::config::CONTROL_PREFIX;
    use sluice_core::object::KeyError;
    use tokio::io::AsyncReadExt;

    use super::*;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("bucket"), "landing").unwrap();
        (dir, store)
    }

    fn keys(listed: &[ObjectMeta]) -> Vec<&str> {
        listed.iter().map(|m| m.key.as_str()).collect()
    }

    #[test]
    fn working_directories_are_under_the_control_prefix() {
        assert!(TMP_DIR.starts_with(CONTROL_PREFIX));
        assert!(LOCK_DIR.starts_with(CONTROL_PREFIX));
    }

    #[tokio::test]
    async fn put_get_head_round_trip_with_sha256_etag() {
        let (_dir, store) = store();
        let body = Bytes::from_static(b"{\"id\":1}\n");
        let put = store.put("orders/a.ndjson", body.clone()).await.unwrap();
        assert_eq!(put.etag, content_hash(&body));
        assert_eq!(put.size, body.len() as u64);
        assert_eq!(put.version_id, None);
        assert!(
            chrono::DateTime::parse_from_rfc3339(&put.last_modified).is_ok(),
            "{}",
            put.last_modified
        );

        assert_eq!(
            store.head("orders/a.ndjson").await.unwrap(),
            Some(put.clone())
        );
        let (bytes, meta) = store.get_bytes("orders/a.ndjson").await.unwrap().unwrap();
        assert_eq!((bytes, &meta), (body.clone(), &put));

        let mut got = store.get("orders/a.ndjson").await.unwrap();
        let mut streamed = Vec::new();
        got.body.read_to_end(&mut streamed).await.unwrap();
        assert_eq!(streamed, body);
        assert_eq!(got.meta, put);

        let version = put.to_version(store.bucket());
        assert_eq!(version.bucket, "landing");
        assert_eq!(version.etag, put.etag);
    }

    #[tokio::test]
    async fn absent_objects_are_none_or_not_found() {
        let (_dir, store) = store();
        assert_eq!(store.head("nope").await.unwrap(), None);
        assert!(store.get_bytes("nope").await.unwrap().is_none());
        assert!(matches!(
            store.get("nope").await,
            Err(StoreError::NotFound { .. })
        ));
        store.delete("nope").await.unwrap();
    }

    #[tokio::test]
    async fn a_second_store_on_the_same_root_sees_files_written_by_hand() {
        let (dir, store) = store();
        fs::create_dir_all(dir.path().join("bucket/orders")).unwrap();
        fs::write(dir.path().join("bucket/orders/b.csv"), b"id\n1\n").unwrap();
        let meta = store.head("orders/b.csv").await.unwrap().unwrap();
        assert_eq!(meta.etag, content_hash(b"id\n1\n"));
        // Rewritten by hand with new bytes: the remembered etag must not be reused.
        fs::write(dir.path().join("bucket/orders/b.csv"), b"id\n2\n3\n").unwrap();
        let meta = store.head("orders/b.csv").await.unwrap().unwrap();
        assert_eq!(meta.etag, content_hash(b"id\n2\n3\n"));
    }

    #[tokio::test]
    async fn only_the_current_version_exists() {
        let (_dir, store) = store();
        let meta = store.put("k", Bytes::from_static(b"one")).await.unwrap();
        assert_eq!(
            store.head_version("k", None).await.unwrap(),
            Some(meta.clone())
        );
        let mut got = store.get_version("k", None).await.unwrap();
        let mut body = Vec::new();
        got.body.read_to_end(&mut body).await.unwrap();
        assert_eq!((body.as_slice(), got.meta), (&b"one"[..], meta));
        assert_eq!(store.head_version("k", Some("v1")).await.unwrap(), None);
        assert!(matches!(
            store.get_version("k", Some("v1")).await,
            Err(StoreError::NotFound { .. })
        ));
        assert!(matches!(
            store.get_version("../k", Some("v1")).await,
            Err(StoreError::BadKey(_))
        ));
    }

    #[tokio::test]
    async fn put_replaces_and_delete_removes() {
        let (_dir, store) = store();
        store.put("k", Bytes::from_static(b"one")).await.unwrap();
        let second = store.put("k", Bytes::from_static(b"two")).await.unwrap();
        assert_eq!(store.head("k").await.unwrap(), Some(second));
        store.delete("k").await.unwrap();
        assert_eq!(store.head("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn lock_files_are_bounded_whatever_the_number_of_keys_written() {
        let (dir, store) = store();
        let keys = LOCK_SHARDS + LOCK_SHARDS / 4;
        for i in 0..keys {
            let key = format!("orders/{i}.ndjson");
            store.put(&key, Bytes::from(key.clone())).await.unwrap();
            // A conditional write takes the key's lock too, after the plain one released it.
            let etag = store.head(&key).await.unwrap().unwrap().etag;
            let swapped = store
                .put_if_match(&key, Bytes::from("again"), &etag)
                .await
                .unwrap();
            assert!(matches!(swapped, Conditional::Done(_)), "{key}");
        }
        let locks = fs::read_dir(dir.path().join("bucket/.sluice/locks"))
            .unwrap()
            .count();
        assert!(
            locks > 0 && locks <= LOCK_SHARDS,
            "{locks} lock files for {keys} keys"
        );
        assert_eq!(store.list("orders/").await.unwrap().len(), keys);
    }

    #[tokio::test]
    async fn list_by_prefix_is_sorted_and_skips_internal_dirs() {
        let (dir, store) = store();
        for key in [
            "orders/2026/02/b.ndjson",
            "orders/2026/01/a.ndjson",
            "orders/z.ndjson",
            "ordersx/c",
            "refunds/r",
            ".sluice/ledger/aa/x.json",
        ] {
            store.put(key, Bytes::from(key.to_string())).await.unwrap();
        }
        // Leftovers of a crashed writer and lock files must never show up as objects.
        fs::write(dir.path().join("bucket/.sluice/tmp/left.tmp"), b"partial").unwrap();
        assert!(fs::read_dir(dir.path().join("bucket/.sluice/locks"))
            .unwrap()
            .next()
            .is_some());

        let all = store.list("").await.unwrap();
        assert_eq!(
            keys(&all),
            [
                ".sluice/ledger/aa/x.json",
                "orders/2026/01/a.ndjson",
                "orders/2026/02/b.ndjson",
                "orders/z.ndjson",
                "ordersx/c",
                "refunds/r"
            ]
        );
        let orders = store.list("orders/").await.unwrap();
        assert_eq!(
            keys(&orders),
            [
                "orders/2026/01/a.ndjson",
                "orders/2026/02/b.ndjson",
                "orders/z.ndjson"
            ]
        );
        assert_eq!(keys(&store.list("orders").await.unwrap()).len(), 4);
        assert_eq!(
            keys(&store.list("orders/2026/0").await.unwrap()),
            ["orders/2026/01/a.ndjson", "orders/2026/02/b.ndjson"]
        );
        assert!(store.list("missing/").await.unwrap().is_empty());
        assert!(store.list(".sluice/tmp/").await.unwrap().is_empty());
        assert_eq!(orders[0].etag, content_hash(b"orders/2026/01/a.ndjson"));
    }

    #[tokio::test]
    async fn hostile_keys_are_refused_and_nothing_is_written_outside_root() {
        let (dir, store) = store();
        let outside = dir.path().join("outside");
        let absolute = outside.to_str().unwrap().to_string();
        for key in [
            "../outside",
            "/etc/passwd",
            absolute.as_str(),
            "a//b",
            "",
            "a/./b",
            "a\\..\\b",
        ] {
            let body = Bytes::from_static(b"x");
            assert!(
                matches!(
                    store.put(key, body.clone()).await,
                    Err(StoreError::BadKey(_))
                ),
                "put {key:?}"
            );
            assert!(
                matches!(
                    store.create_if_absent(key, body.clone()).await,
                    Err(StoreError::BadKey(_))
                ),
                "create {key:?}"
            );
            assert!(
                matches!(
                    store.put_if_match(key, body, "e").await,
                    Err(StoreError::BadKey(_))
                ),
                "cas {key:?}"
            );
            assert!(
                matches!(store.head(key).await, Err(StoreError::BadKey(_))),
                "head {key:?}"
            );
            assert!(
                matches!(store.get(key).await, Err(StoreError::BadKey(_))),
                "get {key:?}"
            );
            assert!(
                matches!(store.delete(key).await, Err(StoreError::BadKey(_))),
                "delete {key:?}"
            );
        }
        assert!(matches!(
            store.list("../").await,
            Err(StoreError::BadKey(KeyError::BadSegment { .. }))
        ));
        assert!(matches!(
            store.list("/etc/").await,
            Err(StoreError::BadKey(_))
        ));
        assert!(!outside.exists());
        let entries: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["bucket"]);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_out_of_root_are_refused() {
        let (dir, store) = store();
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("secret"), b"secret").unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("bucket/escape")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), dir.path().join("bucket/link")).unwrap();

        for key in ["escape/x", "escape/secret", "link"] {
            let refused =
                |r: Result<_, StoreError>| matches!(r, Err(StoreError::UnsafePath { .. }));
            assert!(
                refused(store.put(key, Bytes::from_static(b"x")).await.map(|_| ())),
                "put {key}"
            );
            assert!(
                refused(
                    store
                        .create_if_absent(key, Bytes::from_static(b"x"))
                        .await
                        .map(|_| ())
                ),
                "create {key}"
            );
            assert!(refused(store.get_bytes(key).await.map(|_| ())), "get {key}");
            assert!(refused(store.delete(key).await), "delete {key}");
        }
        assert_eq!(fs::read(outside.join("secret")).unwrap(), b"secret");
        assert!(!outside.join("x").exists());
        // A listing does not follow links either.
        assert!(store.list("").await.unwrap().is_empty());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn names_that_are_no_key_are_listed_apart_never_dropped() {
        use std::os::unix::ffi::OsStrExt;
        let (dir, store) = store();
        let orders = dir.path().join("bucket/orders");
        fs::create_dir_all(&orders).unwrap();
        fs::write(orders.join("ok.ndjson"), b"1").unwrap();
        fs::write(orders.join("a\\b.ndjson"), b"2").unwrap();
        fs::write(orders.join("bell\u{7}.ndjson"), b"3").unwrap();
        fs::write(
            orders.join(std::ffi::OsStr::from_bytes(b"\xe9.ndjson")),
            b"4",
        )
        .unwrap();
        let listing = store.listing("orders/").await.unwrap();
        assert_eq!(keys(&listing.objects), ["orders/ok.ndjson"]);
        assert_eq!(
            keys(&listing.unacceptable),
            [
                "orders/\\xe9.ndjson",
                "orders/a\\b.ndjson",
                "orders/bell\u{7}.ndjson"
            ]
        );
        assert_eq!(listing.unacceptable[0].etag, content_hash(b"4"));
        assert!(listing
            .unacceptable
            .iter()
            .all(|m| check_key(&m.key).is_err()));
        assert_eq!(
            keys(&store.list("orders/").await.unwrap()),
            ["orders/ok.ndjson"]
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_copy_is_never_more_readable_than_its_source() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = store();
        let source = dir.path().join("private");
        fs::write(&source, b"secret").unwrap();
        fs::set_permissions(&source, fs::Permissions::from_mode(0o600)).unwrap();
        store.put_file("orders/private", &source).await.unwrap();
        let landed = fs::metadata(dir.path().join("bucket/orders/private")).unwrap();
        assert_eq!(landed.permissions().mode() & 0o077, 0);
    }

    #[tokio::test]
    async fn stale_temporaries_are_collected_fresh_ones_kept() {
        let (_dir, store) = store();
        let tmp = store.root().join(TMP_DIR);
        let stale = tmp.join("stale.tmp");
        fs::write(&stale, b"partial copy").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(7200))
            .unwrap();
        let fresh = tmp.join("fresh.tmp");
        fs::write(&fresh, b"being written").unwrap();
        let hour = Duration::from_secs(3600);
        let dry = store.collect_stale_temporaries(hour, true).await.unwrap();
        assert_eq!(dry, [(stale.clone(), 12)]);
        assert!(stale.exists());
        let removed = store.collect_stale_temporaries(hour, false).await.unwrap();
        assert_eq!(removed, [(stale.clone(), 12)]);
        assert!(!stale.exists() && fresh.exists());
    }

    #[tokio::test]
    async fn working_directories_are_not_addressable() {
        let (_dir, store) = store();
        for key in [".sluice/tmp/x", ".sluice/locks/x", ".sluice/tmp"] {
            assert!(
                matches!(
                    store.put(key, Bytes::new()).await,
                    Err(StoreError::UnsafePath { .. })
                ),
                "{key}"
            );
        }
        store.put(".sluice/tmpfoo", Bytes::new()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn two_racing_creators_exactly_one_wins() {
        let (dir, _) = store();
        let root = dir.path().join("bucket");
        let barrier = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = Vec::new();
        for i in 0..16 {
            // A store per task, as separate processes would have.
            let store = LocalStore::new(root.clone(), "landing").unwrap();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let body = Bytes::from(format!("creator {i} ").repeat(10_000));
                barrier.wait().await;
                (
                    store
                        .create_if_absent("ledger/one.json", body.clone())
                        .await
                        .unwrap(),
                    body,
                )
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            if let (Conditional::Done(meta), body) = task.await.unwrap() {
                winners.push((meta, body));
            }
        }
        assert_eq!(winners.len(), 1, "exactly one creator must win");
        let (meta, body) = &winners[0];
        let store = LocalStore::new(root.clone(), "landing").unwrap();
        let (stored, stored_meta) = store.get_bytes("ledger/one.json").await.unwrap().unwrap();
        assert_eq!(&stored, body);
        assert_eq!(&stored_meta.etag, &meta.etag);
        assert_eq!(
            fs::read_dir(root.join(TMP_DIR)).unwrap().count(),
            0,
            "temporary files left behind"
        );
    }

    #[tokio::test]
    async fn put_if_match_with_a_stale_etag_fails_the_precondition() {
        let (_dir, store) = store();
        let first = store.put("c", Bytes::from_static(b"1")).await.unwrap();
        let second = match store
            .put_if_match("c", Bytes::from_static(b"2"), &first.etag)
            .await
            .unwrap()
        {
            Conditional::Done(meta) => meta,
            Conditional::PreconditionFailed => panic!("current etag refused"),
        };
        assert_eq!(second.etag, content_hash(b"2"));
        let stale = store
            .put_if_match("c", Bytes::from_static(b"3"), &first.etag)
            .await
            .unwrap();
        assert_eq!(stale, Conditional::PreconditionFailed);
        assert_eq!(
            store.get_bytes("c").await.unwrap().unwrap().0,
            Bytes::from_static(b"2")
        );
        let absent = store
            .put_if_match("absent", Bytes::from_static(b"x"), &first.etag)
            .await
            .unwrap();
        assert_eq!(absent, Conditional::PreconditionFailed);
        assert_eq!(store.head("absent").await.unwrap(), None);
    }

    #[tokio::test]
    async fn create_if_absent_refuses_an_existing_key() {
        let (_dir, store) = store();
        assert!(matches!(
            store
                .create_if_absent("k", Bytes::from_static(b"a"))
                .await
                .unwrap(),
            Conditional::Done(_)
        ));
        assert_eq!(
            store
                .create_if_absent("k", Bytes::from_static(b"b"))
                .await
                .unwrap(),
            Conditional::PreconditionFailed
        );
        assert_eq!(
            store.get_bytes("k").await.unwrap().unwrap().0,
            Bytes::from_static(b"a")
        );
    }

    #[test]
    fn concurrent_cas_increments_from_threads_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bucket");
        LocalStore::new(root.clone(), "b").unwrap();
        let setup = tokio::runtime::Runtime::new().unwrap();
        setup
            .block_on(
                LocalStore::new(root.clone(), "b")
                    .unwrap()
                    .put("counter", Bytes::from_static(b"0")),
            )
            .unwrap();

        let barrier = Arc::new(std::sync::Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (root, barrier) = (root.clone(), barrier.clone());
                // A thread, runtime and store each, as separate processes would have.
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    let store = LocalStore::new(root, "b").unwrap();
                    barrier.wait();
                    rt.block_on(async {
                        let mut lost = 0;
                        loop {
                            let (bytes, meta) = store.get_bytes("counter").await.unwrap().unwrap();
                            let n: u64 = std::str::from_utf8(&bytes).unwrap().parse().unwrap();
                            let next = Bytes::from((n + 1).to_string());
                            match store
                                .put_if_match("counter", next, &meta.etag)
                                .await
                                .unwrap()
                            {
                                Conditional::Done(_) => return lost,
                                Conditional::PreconditionFailed => lost += 1,
                            }
                        }
                    })
                })
            })
            .collect();
        let lost: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let store = LocalStore::new(root, "b").unwrap();
        let (bytes, _) = setup.block_on(store.get_bytes("counter")).unwrap().unwrap();
        assert_eq!(&bytes[..], b"8", "lost races: {lost}");
    }

    /// A new object's etag is known from writing it: reading it does not hash it again
    /// (rename and link change the inode's change time, which the remembered stamp holds).
    #[tokio::test]
    async fn a_written_object_is_not_hashed_again_when_read() {
        let (dir, store) = store();
        store
            .put("orders/a.ndjson", Bytes::from_static(b"{\"id\":1}\n"))
            .await
            .unwrap();
        store
            .create_if_absent("orders/b.ndjson", Bytes::from_static(b"{\"id\":2}\n"))
            .await
            .unwrap();
        let source = dir.path().join("c.ndjson");
        fs::write(&source, b"{\"id\":3}\n").unwrap();
        store.put_file("orders/c.ndjson", &source).await.unwrap();
        for name in ["a", "b", "c"] {
            let path = dir.path().join(format!("bucket/orders/{name}.ndjson"));
            let stamp = FileStamp::of(&fs::symlink_metadata(&path).unwrap());
            assert!(
                store.inner.remembered(&path, &stamp).is_some(),
                "{name}: the etag is not remembered under the file's stamp"
            );
        }
    }

    #[tokio::test]
    async fn put_file_streams_a_local_file() {
        let (dir, store) = store();
        let source = dir.path().join("big.ndjson");
        let mut expected = Sha256::new();
        {
            let mut file = File::create(&source).unwrap();
            for i in 0..200_000u32 {
                let line = format!("{{\"id\":{i}}}\n");
                expected.update(line.as_bytes());
                file.write_all(line.as_bytes()).unwrap();
            }
        }
        let size = fs::metadata(&source).unwrap().len();
        assert!(size > 2 * 1024 * 1024, "the file must span several buffers");
        let meta = store.put_file("rejects/big.ndjson", &source).await.unwrap();
        let expected = hex::encode(expected.finalize());
        assert_eq!((meta.size, meta.etag.as_str()), (size, expected.as_str()));

        let mut got = store.get("rejects/big.ndjson").await.unwrap();
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = got.body.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        assert_eq!(hex::encode(hasher.finalize()), expected);
        // A fresh store (no remembered etag) hashes the file to the same etag.
        let fresh = LocalStore::new(store.root().to_path_buf(), "landing").unwrap();
        assert_eq!(
            fresh
                .head("rejects/big.ndjson")
                .await
                .unwrap()
                .unwrap()
                .etag,
            expected
        );
    }

    #[tokio::test]
    async fn put_file_of_a_missing_file_is_an_io_error() {
        let (dir, store) = store();
        let err = store
            .put_file("k", &dir.path().join("missing"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, StoreError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }
}
