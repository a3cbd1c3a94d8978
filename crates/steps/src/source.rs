//! Opening an object version as a stream of rows, on a blocking thread.
//!
//! The row readers of crates/core are synchronous (`std::io::Read`); the store is async. A
//! step runs the reader on a thread of its own with a `SyncIoBridge` over the store's stream,
//! so memory stays bounded by the read buffer whatever the object's size, and the async
//! side stays free to write Parquet at the same time.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sluice_core::config::Format;
use sluice_core::config::{Limits, TableConfig};
use sluice_core::reader::{detect_compression, format_for_key, is_parquet, Compression, RowReader};
use sluice_core::schema::TableSchema;
use sluice_core::ObjectVersion;
use sluice_core::QuarantineReason;
use sluice_store::{ObjectStore, StoreError};
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use crate::error::StepError;

/// Read buffer size: the unit of I/O, and most of the reader's memory.
const READ_BUFFER: usize = 256 * 1024;

/// Counts the compressed bytes read, for progress bars.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Runs `read` (a reader of rows: it waits on the store's async stream) on a thread of its
/// own, not on the runtime's blocking pool. That pool may be bounded (`sluice` bounds it: each
/// of its threads keeps allocator memory), and its threads run the store's short file
/// operations, which such a reader waits for: readers holding every pool thread would wait
/// forever. The callers bound the readers instead ([`crate::flow::Flow::reading_slot`]).
/// The thread starts at once; the returned future gives its result.
pub(crate) fn on_reader_thread<T: Send + 'static>(
    what: &'static str,
    read: impl FnOnce() -> Result<T, StepError> + Send + 'static,
) -> impl std::future::Future<Output = Result<T, StepError>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let started = std::thread::Builder::new()
        .name("sluice-reader".into())
        .spawn(move || {
            // The receiver is gone only if the step was dropped: nobody wants the result.
            let _ = tx.send(read());
        });
    async move {
        started.map_err(|e| {
            StepError::new(
                crate::error::StepErrorKind::TransientError,
                format!("starting the {what} thread: {e}"),
            )
        })?;
        rx.await
            .map_err(|_| StepError::internal(format!("the {what} thread panicked")))?
    }
}

/// What `open_rows` found.
pub(crate) enum Opened {
    /// The rows; for a Parquet object, also its local copy.
    Rows(Box<RowReader>, Option<ParquetCopy>),
    /// The object now has other bytes than the claimed version.
    Superseded { current_etag: String },
    /// The claimed version is gone: removed since it was claimed.
    Removed,
}

/// A Parquet object's local copy (Parquet is read from a file: its footer comes last), kept
/// while its rows are read so that, when its columns are exactly the table's, it can be added
/// as it is ([`sluice_lake::as_is`]).
pub(crate) struct ParquetCopy {
    pub path: tempfile::TempPath,
    /// Its columns, as Arrow reads them.
    pub schema: arrow_schema::SchemaRef,
}

/// Opens `object` for reading rows. Must run on a thread that may block (inside
/// [`on_reader_thread`]), with `handle` the runtime the store lives on.
pub(crate) fn open_rows(
    handle: &Handle,
    store: &Arc<dyn ObjectStore>,
    object: &ObjectVersion,
    table: &TableConfig,
    schema: &TableSchema,
    limits: &Limits,
    read: Arc<AtomicU64>,
) -> Result<Opened, StepError> {
    // Exactly the claimed version: on a versioned bucket, later writes to the key are other
    // versions with their own events.
    let got = match handle.block_on(store.get_version(&object.key, object.version_id.as_deref())) {
        Ok(got) => got,
        Err(StoreError::NotFound { .. }) => return Ok(Opened::Removed),
        Err(e) => return Err(e.into()),
    };
    if got.meta.etag != object.etag && object.version_id.is_none() {
        return Ok(Opened::Superseded {
            current_etag: got.meta.etag,
        });
    }
    let bridge = SyncIoBridge::new_with_handle(got.body, handle.clone());
    let mut buffered = BufReader::with_capacity(
        READ_BUFFER,
        Counting {
            inner: bridge,
            read,
        },
    );
    let head = buffered.fill_buf().map_err(|e| {
        StepError::new(
            crate::error::StepErrorKind::TransientError,
            format!("reading {}: {e}", object.key),
        )
    })?;
    let named_parquet = object.key.to_ascii_lowercase().ends_with(".parquet");
    if named_parquet && !is_parquet(head) {
        return Err(StepError::bad_input(
            QuarantineReason::UnsupportedFormat,
            format!(
                "{}: named .parquet, but its content is not Parquet (a Parquet file starts with \
                 `PAR1` and binary data)",
                object.key
            ),
        ));
    }
    if is_parquet(head) {
        let (lines, copy) = parquet_lines(buffered, object, limits)?;
        let reader = RowReader::new(
            Box::new(lines),
            Compression::None,
            Format::Ndjson,
            limits,
            schema,
            object.size,
        )
        .map_err(|e| StepError::bad_input(e.reason(), format!("{}: {e}", object.key)))?;
        return Ok(Opened::Rows(Box::new(reader), Some(copy)));
    }
    let compression = detect_compression(&object.key, head);
    let reader = RowReader::new(
        Box::new(buffered),
        compression,
        format_for_key(&object.key, table.format),
        limits,
        schema,
        object.size,
    )
    .map_err(|e| StepError::bad_input(e.reason(), format!("{}: {e}", object.key)))?;
    Ok(Opened::Rows(Box::new(reader), None))
}

/// A Parquet object's rows as JSON lines ([`crate::parquet_rows`]): copied to a temporary
/// file first (Parquet's footer comes last), at most `limits.max_object_bytes`.
fn parquet_lines(
    body: impl Read,
    object: &ObjectVersion,
    limits: &Limits,
) -> Result<(crate::parquet_rows::ParquetLines, ParquetCopy), StepError> {
    let transient = |e: std::io::Error| {
        StepError::new(
            crate::error::StepErrorKind::TransientError,
            format!("copying {} to a temporary file: {e}", object.key),
        )
    };
    let mut file = tempfile::NamedTempFile::new().map_err(transient)?;
    let copied = std::io::copy(
        &mut body.take(limits.max_object_bytes.saturating_add(1)),
        &mut file,
    )
    .map_err(transient)?;
    if copied > limits.max_object_bytes {
        return Err(StepError::bad_input(
            QuarantineReason::TooLarge,
            format!(
                "{}: larger than limits.max_object_bytes = {}",
                object.key, limits.max_object_bytes
            ),
        ));
    }
    let max_made = limits
        .max_expansion_ratio
        .saturating_mul(copied.max(1 << 20));
    let lines =
        crate::parquet_rows::open(file.reopen().map_err(transient)?, &object.key, max_made)?;
    let copy = ParquetCopy {
        schema: lines.schema(),
        path: file.into_temp_path(),
    };
    Ok((lines, copy))
}
