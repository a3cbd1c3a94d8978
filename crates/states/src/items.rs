//! Distributed Map's object access: `ItemReader` (a JSON array, JSON Lines or CSV object, or
//! a listing) and `ResultWriter`, over an [`Objects`] port the embedding program provides.
//!
//! sluice binds it to its own bucket; `sluice run-asl` and tests use [`DirObjects`], a
//! directory per bucket.

use std::path::{Component, Path, PathBuf};

use serde_json::{json, Map as JsonMap, Value};

use crate::error::{names, StatesError};
use crate::model::ItemInput;

/// The largest object an ItemReader reads, as Step Functions' limit for a JSON/CSV item file.
pub const MAX_ITEM_OBJECT_BYTES: usize = 10 * 1024 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
}

#[async_trait::async_trait]
pub trait Objects: Send + Sync {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String>;
    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String>;
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, String>;
}

/// Buckets as directories under one root: `<root>/<bucket>/<key>`. Keys that would leave the
/// bucket (`..`, absolute) are refused.
#[derive(Debug, Clone)]
pub struct DirObjects {
    root: PathBuf,
}

impl DirObjects {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirObjects { root: root.into() }
    }

    fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, String> {
        let safe = |s: &str| {
            !s.is_empty()
                && Path::new(s)
                    .components()
                    .all(|c| matches!(c, Component::Normal(_)))
        };
        if !safe(bucket) || !safe(key) {
            return Err(format!("refusing unsafe bucket/key '{bucket}/{key}'"));
        }
        Ok(self.root.join(bucket).join(key))
    }
}

#[async_trait::async_trait]
impl Objects for DirObjects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
        let path = self.path(bucket, key)?;
        tokio::fs::read(&path)
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))
    }

    async fn put(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), String> {
        let path = self.path(bucket, key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| format!("s3://{bucket}/{key}: {e}"))?;
        }
        tokio::fs::write(&path, body)
            .await
            .map_err(|e| format!("s3://{bucket}/{key}: {e}"))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, String> {
        let root = self.root.join(bucket);
        let mut out = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(format!("s3://{bucket}/: {e}")),
            };
            while let Some(entry) = entries.next_entry().await.map_err(|e| e.to_string())? {
                let path = entry.path();
                let meta = entry.metadata().await.map_err(|e| e.to_string())?;
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                let key = path
                    .strip_prefix(&root)
                    .map_err(|e| e.to_string())?
                    .to_string_lossy()
                    .replace('\\', "/");
                if key.starts_with(prefix) {
                    let modified: chrono::DateTime<chrono::Utc> = meta
                        .modified()
                        .map(Into::into)
                        .unwrap_or_else(|_| chrono::Utc::now());
                    out.push(ObjectInfo {
                        etag: format!("\"{:x}-{}\"", meta.len(), key.len()),
                        size: meta.len(),
                        last_modified: modified.to_rfc3339(),
                        key,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
}

fn reader_failed(cause: String) -> StatesError {
    StatesError::new(names::ITEM_READER_FAILED, cause)
}

/// Reads the items an ItemReader names. `params` is the rendered `Parameters`:
/// `{"Bucket", "Key"}` (or `{"Bucket", "Prefix"}` for a listing).
pub async fn read_items(
    objects: &dyn Objects,
    input: ItemInput,
    params: &Value,
    csv_headers: Option<&[String]>,
    max_items: Option<u64>,
) -> Result<Vec<Value>, StatesError> {
    let field = |k: &str| params.get(k).and_then(Value::as_str);
    let bucket = field("Bucket")
        .ok_or_else(|| reader_failed("ItemReader Parameters need a string Bucket".into()))?;
    let mut items = if input == ItemInput::Listing {
        let prefix = field("Prefix").unwrap_or("");
        objects
            .list(bucket, prefix)
            .await
            .map_err(reader_failed)?
            .into_iter()
            .map(|o| {
                json!({"Key": o.key, "Etag": o.etag, "Size": o.size, "LastModified": o.last_modified})
            })
            .collect()
    } else {
        let key = field("Key")
            .ok_or_else(|| reader_failed("ItemReader Parameters need a string Key".into()))?;
        let body = objects.get(bucket, key).await.map_err(reader_failed)?;
        if body.len() > MAX_ITEM_OBJECT_BYTES {
            return Err(reader_failed(format!("s3://{bucket}/{key} is too large")));
        }
        parse_items(input, &body, csv_headers)
            .map_err(|e| reader_failed(format!("s3://{bucket}/{key}: {e}")))?
    };
    if let Some(max) = max_items.filter(|m| *m > 0) {
        items.truncate(max as usize);
    }
    Ok(items)
}

/// Parses an item object: a JSON array, JSON Lines (one value per non-empty line), or CSV
/// (each row an object of string values keyed by the header row or the given headers).
pub fn parse_items(
    input: ItemInput,
    body: &[u8],
    csv_headers: Option<&[String]>,
) -> Result<Vec<Value>, String> {
    match input {
        ItemInput::Json => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err("the object is JSON but not an array".into()),
            Err(e) => Err(format!("not valid JSON: {e}")),
        },
        ItemInput::Jsonl => {
            let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8: {e}"))?;
            text.lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(n, l)| serde_json::from_str(l).map_err(|e| format!("line {}: {e}", n + 1)))
                .collect()
        }
        ItemInput::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(csv_headers.is_none())
                .flexible(false)
                .from_reader(body);
            let headers: Vec<String> = match csv_headers {
                Some(h) => h.to_vec(),
                None => reader
                    .headers()
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(str::to_string)
                    .collect(),
            };
            let mut items = Vec::new();
            for (n, record) in reader.records().enumerate() {
                let record = record.map_err(|e| format!("row {}: {e}", n + 1))?;
                let mut obj = JsonMap::new();
                for (h, v) in headers.iter().zip(record.iter()) {
                    obj.insert(h.clone(), Value::String(v.to_string()));
                }
                items.push(Value::Object(obj));
            }
            Ok(items)
        }
        ItemInput::Listing => Err("a listing is not read from an object".into()),
    }
}

/// Groups items for an ItemBatcher: at most `max_items` per batch and, if given, at most
/// `max_bytes` of JSON per batch (a single larger item still gets its own batch).
pub fn batch_items(
    items: Vec<Value>,
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    batch_input: Option<&Value>,
) -> Vec<Value> {
    let max_items = max_items.filter(|m| *m > 0).unwrap_or(u64::MAX) as usize;
    let max_bytes = max_bytes.filter(|m| *m > 0).unwrap_or(u64::MAX) as usize;
    let mut batches = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    let close = |current: &mut Vec<Value>, batches: &mut Vec<Value>| {
        let mut obj = JsonMap::new();
        if let Some(Value::Object(extra)) = batch_input {
            obj.insert("BatchInput".into(), Value::Object(extra.clone()));
        }
        obj.insert("Items".into(), Value::Array(std::mem::take(current)));
        batches.push(Value::Object(obj));
    };
    for item in items {
        let size = item.to_string().len();
        if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
            close(&mut current, &mut batches);
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        close(&mut current, &mut batches);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    // Developer guide, "ItemReader (Map)": CSV with a header row gives one object per row.
    #[test]
    fn csv_rows_become_objects() {
        let items = parse_items(ItemInput::Csv, b"a,b\n1,x\n2,y\n", None).unwrap();
        assert_eq!(
            items,
            vec![json!({"a":"1","b":"x"}), json!({"a":"2","b":"y"})]
        );
        let given = ["p".to_string(), "q".to_string()];
        let items = parse_items(ItemInput::Csv, b"1,x\n", Some(&given)).unwrap();
        assert_eq!(items, vec![json!({"p":"1","q":"x"})]);
    }

    #[test]
    fn jsonl_names_the_bad_line() {
        let e = parse_items(ItemInput::Jsonl, b"{\"a\":1}\n\n{oops\n", None).unwrap_err();
        assert!(e.starts_with("line 3"), "{e}");
    }

    // Developer guide, "ItemBatcher (Map)": batches carry `Items` and the `BatchInput`.
    #[test]
    fn batches_by_count_and_bytes() {
        let items: Vec<Value> = (0..5).map(|i| json!(i)).collect();
        let b = batch_items(items.clone(), Some(2), None, Some(&json!({"k": 1})));
        assert_eq!(b.len(), 3);
        assert_eq!(b[0], json!({"BatchInput": {"k": 1}, "Items": [0, 1]}));
        assert_eq!(b[2], json!({"BatchInput": {"k": 1}, "Items": [4]}));
        let b = batch_items(items, None, Some(3), None);
        assert_eq!(b[0], json!({"Items": [0, 1, 2]}));
    }

    #[tokio::test]
    async fn dir_objects_refuse_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let o = DirObjects::new(dir.path());
        assert!(o.get("b", "../x").await.is_err());
        o.put("b", "p/k.json", b"[1]".to_vec()).await.unwrap();
        let listed = o.list("b", "p/").await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].key, "p/k.json");
    }
}
