//! What a user's paths become: the files to land, each with its landing key, and the paths
//! refused or left out, each with its reason. Shared by `sluice ingest` and `sluice watch`.
//!
//! - **Keys keep the directory's shape.** A file found under a directory given as a PATH (or
//!   under the watched folder) lands at the table's prefix plus its path relative to that
//!   directory, `/`-separated: `data/dt=2026-06-01/part-0000.ndjson` given as `data` lands at
//!   `orders/dt=2026-06-01/part-0000.ndjson`, so files that share a name in different
//!   subdirectories stay different objects. A file given by name lands at the prefix plus its
//!   file name.
//! - **A name no key can hold is refused**, never guessed at: a component that is not UTF-8,
//!   holds a backslash or a control character, or a key over 1024 bytes
//!   (`sluice_core::object::check_key`). It is named, and the rest go on.
//! - **Each file once, each key once.** A file met twice (given twice, as `data/` and
//!   `data/x.ndjson`, through a followed link or a hard link: the same device and inode) is
//!   taken once. Two different files for the same key are never both landed (the second
//!   would overwrite the first): the first is taken, the second refused.
//! - **Symbolic links** met while walking are not followed unless asked
//!   (`--follow-symlinks`); each skipped link is refused by name. A PATH given on the command
//!   line is taken as given, link or not, as `find -H` does. Followed, a directory reached
//!   twice (a loop) is walked once, a dangling link is refused; neither stops the run.
//! - **sluice's own files are left out**: the workspace (catalog, executions, bucket, ledger)
//!   and any `.sluice` directory (a control prefix). A PATH inside the workspace is refused.
//! - Anything else that is not a regular file (a FIFO, a socket, a device) is refused.

use std::collections::{HashMap, HashSet};
use std::fs::{self, Metadata};
use std::path::{Component, Path, PathBuf};

use sluice_core::object::check_key;

/// The name of a control directory: sluice's own objects live under it (`.sluice/`).
const CONTROL_DIR: &str = ".sluice";

/// A file to land: where to read it, how to show it, and its key in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The path as found (or given), for messages.
    pub shown: PathBuf,
    /// The path to read: `shown`, or a followed link's target.
    pub read: PathBuf,
    /// The landing key: the table's prefix and the path relative to the walked directory.
    pub key: String,
}

/// A path not taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passed {
    pub path: PathBuf,
    pub why: String,
}

/// What a walk found, in the order it found it.
#[derive(Debug, Default)]
pub struct Found {
    pub sources: Vec<Source>,
    /// Paths the user asked for that are not landed: the command must not report success.
    pub refused: Vec<Passed>,
    /// Paths left out on purpose, with nothing lost (sluice's own files, a file met twice).
    pub left_out: Vec<Passed>,
}

/// How paths are walked and turned into keys.
#[derive(Debug, Clone)]
pub struct Walker {
    /// The table's key prefix (`orders/`).
    pub prefix: String,
    /// Follow symbolic links met while walking.
    pub follow_symlinks: bool,
    /// The workspace, canonical: never taken.
    pub workspace: Option<PathBuf>,
}

/// A file's identity: device and inode on Unix, the canonical path elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileId(String);

fn file_id(md: &Metadata, path: &Path) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        FileId(format!("{}:{}", md.dev(), md.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = md;
        FileId(
            fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
        )
    }
}

/// A path for a message: control characters escaped, so a hostile name cannot rewrite the
/// terminal.
pub fn shown(path: &Path) -> String {
    path.to_string_lossy().escape_debug().to_string()
}

/// Why a symbolic link was not followed.
const LINK_NOT_FOLLOWED: &str =
    "a symbolic link, not followed (pass --follow-symlinks to follow links)";

impl Walker {
    /// The key of a file at `rel`, relative to the directory it was found in.
    pub fn key_for(&self, rel: &Path) -> Result<String, String> {
        let mut parts = vec![];
        for c in rel.components() {
            match c {
                Component::Normal(name) => parts.push(name.to_str().ok_or_else(|| {
                    "its name is not UTF-8, so no object key can hold it".to_string()
                })?),
                _ => return Err("its path is not relative to the directory".into()),
            }
        }
        let key = format!("{}{}", self.prefix, parts.join("/"));
        check_key(&key).map_err(|e| format!("no object key can hold its name: {e}"))?;
        Ok(key)
    }

    /// Whether `path` is the workspace or inside it: as it is spelled (a path under a
    /// canonical directory, even one already gone), or once canonical.
    pub fn in_workspace(&self, path: &Path) -> bool {
        let Some(ws) = &self.workspace else {
            return false;
        };
        path.starts_with(ws) || fs::canonicalize(path).is_ok_and(|p| p.starts_with(ws))
    }

    /// Walks the PATH arguments of `sluice ingest`, in order; a directory in name order.
    pub fn walk(&self, paths: &[PathBuf]) -> Found {
        let mut walk = Walk {
            walker: self,
            found: Found::default(),
            files: HashMap::new(),
            keys: HashMap::new(),
            dirs: HashSet::new(),
        };
        for path in paths {
            walk.argument(path);
        }
        walk.found
    }

    /// The source for `path` found in the watched directory `dir` (canonical), or why not.
    /// `Ok(None)`: left out on purpose (sluice's own files).
    pub fn watched(&self, dir: &Path, path: &Path) -> Result<Option<Source>, String> {
        let Ok(rel) = path.strip_prefix(dir) else {
            return Ok(None);
        };
        if self.in_workspace(path) || rel.components().any(|c| c.as_os_str() == CONTROL_DIR) {
            return Ok(None);
        }
        // No link on the way from the folder to the file, unless links are followed.
        let mut walked = dir.to_path_buf();
        for c in rel.components() {
            walked.push(c);
            let md = fs::symlink_metadata(&walked).map_err(|e| e.to_string())?;
            if md.file_type().is_symlink() && !self.follow_symlinks {
                return Err(LINK_NOT_FOLLOWED.into());
            }
        }
        let md = fs::metadata(path).map_err(|e| format!("cannot be read: {e}"))?;
        if !md.is_file() {
            return Err("not a regular file".into());
        }
        let read = fs::canonicalize(path).map_err(|e| format!("cannot be read: {e}"))?;
        if self.in_workspace(&read) {
            return Ok(None);
        }
        Ok(Some(Source {
            shown: path.to_path_buf(),
            read,
            key: self.key_for(rel)?,
        }))
    }
}

/// One walk's state: what was found, and what was seen (to take each file and key once).
struct Walk<'a> {
    walker: &'a Walker,
    found: Found,
    /// Files taken, by identity: the path they were taken as.
    files: HashMap<FileId, PathBuf>,
    /// Keys taken: the path that took each.
    keys: HashMap<String, PathBuf>,
    /// Directories walked, by identity (a followed link back up is walked once).
    dirs: HashSet<FileId>,
}

impl Walk<'_> {
    fn refuse(&mut self, path: &Path, why: impl Into<String>) {
        let why = why.into();
        tracing::warn!(path = %shown(path), why = %why, "path refused");
        self.found.refused.push(Passed {
            path: path.to_path_buf(),
            why,
        });
    }

    fn leave_out(&mut self, path: &Path, why: impl Into<String>) {
        self.found.left_out.push(Passed {
            path: path.to_path_buf(),
            why: why.into(),
        });
    }

    /// A PATH argument: taken as given (a link is followed), then walked if a directory.
    fn argument(&mut self, path: &Path) {
        let md = match fs::metadata(path) {
            Ok(md) => md,
            Err(e) => return self.refuse(path, format!("cannot be read: {e}")),
        };
        if self.walker.in_workspace(path) {
            return self.refuse(
                path,
                "inside sluice's workspace; objects already in the bucket are found by `sluice reconcile`",
            );
        }
        if md.is_dir() {
            self.dir(path, Path::new(""), &md);
        } else if md.is_file() {
            let name = path.file_name().map(PathBuf::from).unwrap_or_default();
            self.file(path, &name, &md);
        } else {
            self.refuse(path, "not a regular file");
        }
    }

    /// A directory at `rel` under the argument being walked.
    fn dir(&mut self, path: &Path, rel: &Path, md: &Metadata) {
        if !self.dirs.insert(file_id(md, path)) {
            return self.leave_out(path, "a directory already walked (a symbolic link loop)");
        }
        let mut entries: Vec<_> = match fs::read_dir(path) {
            Ok(entries) => entries.collect(),
            Err(e) => return self.refuse(path, format!("cannot be read: {e}")),
        };
        entries.sort_by_key(|e| e.as_ref().ok().map(fs::DirEntry::file_name));
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.refuse(path, format!("cannot be read: {e}"));
                    continue;
                }
            };
            self.entry(&entry.path(), &rel.join(entry.file_name()));
        }
    }

    /// An entry met while walking: links are followed only when asked.
    fn entry(&mut self, path: &Path, rel: &Path) {
        let lmd = match fs::symlink_metadata(path) {
            Ok(md) => md,
            Err(e) => return self.refuse(path, format!("cannot be read: {e}")),
        };
        if path.file_name().is_some_and(|n| n == CONTROL_DIR) && lmd.is_dir() {
            return self.leave_out(path, "sluice's control directory");
        }
        let md = if lmd.file_type().is_symlink() {
            if !self.walker.follow_symlinks {
                return self.refuse(path, LINK_NOT_FOLLOWED);
            }
            match fs::metadata(path) {
                Ok(md) => md,
                Err(e) => {
                    return self.refuse(path, format!("a symbolic link that leads nowhere: {e}"))
                }
            }
        } else {
            lmd
        };
        if md.is_dir() {
            if self.walker.in_workspace(path) {
                return self.leave_out(path, "sluice's workspace");
            }
            self.dir(path, rel, &md);
        } else if md.is_file() {
            self.file(path, rel, &md);
        } else {
            self.refuse(path, "not a regular file (a FIFO, socket or device)");
        }
    }

    /// A regular file (or a followed link to one) that would land at `rel`.
    fn file(&mut self, path: &Path, rel: &Path, md: &Metadata) {
        let id = file_id(md, path);
        if let Some(first) = self.files.get(&id) {
            let why = format!("the same file as {}: taken once", shown(first));
            return self.leave_out(path, why);
        }
        let key = match self.walker.key_for(rel) {
            Ok(key) => key,
            Err(why) => return self.refuse(path, why),
        };
        if let Some(first) = self.keys.get(&key) {
            let why = format!(
                "would land at {key}, as {} does: two files for one key would overwrite each \
                 other; ingest it on its own, or both from their common directory",
                shown(first)
            );
            return self.refuse(path, why);
        }
        let read = match fs::canonicalize(path) {
            Ok(read) => read,
            Err(e) => return self.refuse(path, format!("cannot be read: {e}")),
        };
        self.files.insert(id, path.to_path_buf());
        self.keys.insert(key.clone(), path.to_path_buf());
        self.found.sources.push(Source {
            shown: path.to_path_buf(),
            read,
            key,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walker() -> Walker {
        Walker {
            prefix: "orders/".into(),
            follow_symlinks: false,
            workspace: None,
        }
    }

    #[test]
    fn keys_keep_the_relative_path() {
        let w = walker();
        assert_eq!(
            w.key_for(Path::new("dt=2026-06-01/part-0000.ndjson")),
            Ok("orders/dt=2026-06-01/part-0000.ndjson".to_string())
        );
        assert!(w.key_for(Path::new("a\\b.ndjson")).is_err());
        assert!(w.key_for(Path::new("../x")).is_err());
        assert!(w.key_for(Path::new("bell\u{7}")).is_err());
    }

    #[test]
    fn a_directory_walk_takes_each_file_once_in_name_order() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        for rel in [
            "b/x.ndjson",
            "a/x.ndjson",
            "c.ndjson",
            ".sluice/ledger/r.json",
        ] {
            let path = data.join(rel);
            fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            fs::write(&path, rel).expect("write");
        }
        let found = walker().walk(&[data.clone(), data.join("c.ndjson")]);
        let keys: Vec<_> = found.sources.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            ["orders/a/x.ndjson", "orders/b/x.ndjson", "orders/c.ndjson"]
        );
        assert!(found.refused.is_empty(), "{:?}", found.refused);
        assert_eq!(found.left_out.len(), 2, "{:?}", found.left_out);
    }
}
