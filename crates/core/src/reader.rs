//! Streaming row readers: an object's bytes in, one row (or one bad line) at a time out.
//!
//! Objects are hostile input. A reader therefore never holds the whole file: NDJSON is read
//! line by line into one reusable buffer whose growth is bounded by `limits.max_line_bytes`
//! (a longer line is skipped to its end and reported, never buffered), and CSV records are
//! bounded the same way, in bytes and in lines (`limits.max_csv_field_lines`: a stray `"`
//! cannot merge the rest of the file into one cell). A UTF-8 byte order mark before the
//! first line is dropped in both formats. Decompressed output is metered, so a
//! decompression bomb stops at `limits.max_expansion_ratio` times the compressed size.
//!
//! An object read as NDJSON whose first character (after a byte order mark and whitespace)
//! is `[` is one JSON array document instead, as APIs and `json.dump` write it, pretty-printed
//! or not: each element is a row, numbered by the line it starts on, framed by a scan that
//! tracks strings and brackets and buffers one element at a time (bounded like a line by
//! `limits.max_line_bytes`). An element that is not an object or not valid JSON is a bad
//! row; a document that is not one well-formed array (no closing `]`, a missing or extra
//! comma, text after the `]`) ends the file as a parse error, so a half-written document is
//! never committed in part.
//!
//! An object read as NDJSON whose first line opens an object without closing it, while the
//! head holds that object whole across lines, is a sequence of JSON values instead: one
//! pretty-printed object, or `jq`'s output, framed by the same scan with whitespace, not
//! commas, between values.
//!
//! Before anything is read, the first decompressed bytes are checked for content that is no
//! text at all (Parquet, an archive, a second compression, UTF-16): [`ReadError::NotText`].
//!
//! What a reader yields:
//! - [`RowItem::Row`]: a JSON object, with its 1-based line number in the decompressed file;
//! - [`RowItem::Bad`]: a line that is not a row; the file goes on;
//! - [`ReadError`]: a problem that ends the file (I/O, corrupt compression, bomb, CSV header).

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{Map, Number, Value};

use crate::config::{Format, Limits};
use crate::quarantine::QuarantineReason;
use crate::schema::{FieldType, TableSchema};

/// The `raw` of a [`RowItem::Bad`] keeps at most this many bytes of the line.
pub const RAW_BYTES: usize = 4096;

/// The decompression-bomb limit is computed from at least this many compressed bytes, so
/// that small, highly compressible files (a 1 KiB gzip of zeros) are not refused.
const MIN_BOMB_BASE: u64 = 1 << 20;

/// How an object's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain bytes.
    None,
    /// gzip (one or more concatenated members).
    Gzip,
    /// Zstandard (one or more frames).
    Zstd,
}

/// Detects compression from the first bytes of the object and its key. Magic bytes (gzip
/// `1f 8b`; zstd `28 b5 2f fd`) win over the extension; `.gz` / `.zst` count otherwise, so a
/// truncated or empty `.gz` still reports its corruption as a decompression error.
pub fn detect_compression(key: &str, head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Compression::Gzip;
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Compression::Zstd;
    }
    let lower = key.to_ascii_lowercase();
    if lower.ends_with(".gz") {
        Compression::Gzip
    } else if lower.ends_with(".zst") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Extensions of formats sluice does not read, with the name used in the refusal.
const REFUSED_EXTENSIONS: &[(&str, &str)] = &[
    ("orc", "ORC"),
    ("avro", "Avro"),
    ("arrow", "Arrow IPC"),
    ("feather", "Feather"),
    ("zip", "a zip archive"),
    ("tar", "a tar archive"),
    ("tgz", "a tar archive"),
    ("7z", "a 7z archive"),
    ("rar", "a rar archive"),
    ("bz2", "bzip2 compression"),
    ("xz", "xz compression"),
    ("lz4", "lz4 compression"),
    ("lzma", "lzma compression"),
    ("snappy", "snappy compression"),
    ("br", "brotli compression"),
    ("z", "compress (.Z) compression"),
    ("xlsx", "an Excel workbook"),
    ("xls", "an Excel workbook"),
    ("ods", "a spreadsheet"),
    ("pdf", "PDF"),
    ("gz", "gzip inside gzip"),
    ("zst", "zstd inside a compressed file"),
];

/// The key's file name, lower case, without one `.gz` or `.zst`: what its extension says
/// of its format.
fn base_name(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key).to_ascii_lowercase();
    match name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
    {
        Some(base) => base.to_string(),
        None => name,
    }
}

/// The format an object is read as: its extension's (`.csv`; `.ndjson`, `.jsonl`, `.json`),
/// before any `.gz`/`.zst`, when it names one, else the table's `default`.
pub fn format_for_key(key: &str, default: Format) -> Format {
    let base = base_name(key);
    if base.ends_with(".csv") {
        Format::Csv
    } else if base.ends_with(".ndjson") || base.ends_with(".jsonl") || base.ends_with(".json") {
        Format::Ndjson
    } else {
        default
    }
}

/// Refuses keys whose extension says a format sluice does not read (`.orc`, `.zip`,
/// `.avro`, `.xlsx`, `.bz2`, `.xz`, `.tar`, …). Accepts `.ndjson`, `.jsonl`, `.json` (NDJSON,
/// or one JSON array of rows),
/// `.csv` (CSV), `.parquet` (read by its content, as any Parquet file is), `.txt`, no
/// extension and unknown extensions, each optionally followed by `.gz` or `.zst`, in a table
/// of either format: the object's own extension picks how it is read. The `Err` is a
/// sentence for the quarantine record.
pub fn check_extension(key: &str, _format: Format) -> Result<(), String> {
    let base = base_name(key);
    let Some((_, ext)) = base.rsplit_once('.') else {
        return Ok(());
    };
    if let Some((_, what)) = REFUSED_EXTENSIONS.iter().find(|(e, _)| *e == ext) {
        return Err(format!("{key:?} looks like {what} (.{ext}); sluice reads NDJSON, JSON, CSV (optionally gzip or zstd compressed) and Parquet"));
    }
    Ok(())
}

/// One item from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum RowItem {
    /// A row: always a JSON object.
    Row {
        /// 1-based line in the decompressed file where the row starts (CSV: header is line 1).
        line: u64,
        /// The row; CSV cells are typed by the table schema.
        value: Value,
    },
    /// A line that is not a row: invalid JSON, not a JSON object, invalid UTF-8, too long,
    /// or a CSV record with the wrong number of fields. The file goes on.
    Bad {
        /// 1-based line number where the bad line starts.
        line: u64,
        /// What is wrong, for a person.
        message: String,
        /// The first 4 KiB of the line, lossy UTF-8, so it can be repaired and replayed.
        raw: String,
        /// The line was longer than `limits.max_line_bytes`; reported as `parse_error` all the
        /// same, but a caller may want to say so.
        too_long: bool,
    },
}

/// What [`RowReader::next_text`] read.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// A row not parsed yet: its text is [`RowReader::row_text`], and [`RowReader::parse`]
    /// makes it the [`RowItem`] that [`RowReader::next_row`] would have returned.
    Text {
        /// 1-based line where the row starts.
        line: u64,
    },
    /// A row or a bad line, as [`RowReader::next_row`] returns them (CSV rows, lines too
    /// long).
    Item(RowItem),
}

/// A problem that ends the file.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading the object's bytes failed.
    #[error("cannot read the object at line {line}: {source}")]
    Io {
        /// Line being read when it failed.
        line: u64,
        /// The I/O error.
        source: io::Error,
    },
    /// The compressed stream is corrupt or truncated.
    #[error("cannot decompress the object: {message}")]
    Decompress {
        /// The decoder's message.
        message: String,
    },
    /// More decompressed bytes than the expansion limit allows: a decompression bomb.
    #[error("the object decompresses to more than {limit} bytes (limits.max_expansion_ratio)")]
    TooLarge {
        /// The limit in decompressed bytes.
        limit: u64,
    },
    /// The CSV header line cannot be read (invalid UTF-8, duplicate names, too long).
    #[error("the CSV header cannot be read: {message}")]
    CsvHeader {
        /// What is wrong with it.
        message: String,
    },
    /// The object's content is not text in the expected format but a binary format, an
    /// archive, a second compression or UTF-16/32 text, told by its first bytes: whatever
    /// its name says, no row can be read from it.
    #[error("the object's content is {found}, not {expected} text; sluice reads NDJSON, JSON and CSV in UTF-8 (optionally gzip or zstd compressed) and Parquet")]
    NotText {
        /// What the first bytes say it is.
        found: &'static str,
        /// What it was to be read as (by its extension, or its table's `format`).
        expected: &'static str,
    },
    /// A JSON document of rows is not well-formed: truncated, a comma missing or extra, or
    /// text after an array's closing `]`.
    #[error("the JSON document is malformed at line {line}: {message}")]
    JsonDocument {
        /// Line where the scan found it.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

impl ReadError {
    /// The quarantine reason for a file this error ended.
    pub fn reason(&self) -> QuarantineReason {
        match self {
            Self::TooLarge { .. } => QuarantineReason::TooLarge,
            Self::NotText { .. } => QuarantineReason::UnsupportedFormat,
            _ => QuarantineReason::ParseError,
        }
    }
}

/// Counts shared between the metered stream (deep inside the decoders) and the
/// [`RowReader`] that owns it.
#[derive(Debug, Default)]
struct MeterState {
    /// Decompressed bytes handed out so far.
    total: AtomicU64,
}

/// Marks an error raised by the object's own byte source, so it is told apart from a
/// decoder's complaint about corrupt data.
#[derive(Debug)]
struct SourceFailure(io::Error);

impl std::fmt::Display for SourceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for SourceFailure {}

/// The metered stream tripped the decompression-bomb limit.
#[derive(Debug)]
struct BombTripped;

impl std::fmt::Display for BombTripped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompression limit exceeded")
    }
}
impl std::error::Error for BombTripped {}

/// Wraps the object's byte source and tags its errors with [`SourceFailure`].
struct Source(Box<dyn Read + Send>);

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0
            .read(buf)
            .map_err(|e| io::Error::new(e.kind(), SourceFailure(e)))
    }
}

/// Wraps the decompressed stream: counts bytes and enforces the bomb limit.
struct Meter {
    inner: Box<dyn Read + Send>,
    state: Arc<MeterState>,
    /// Decompressed bytes allowed in total.
    max_total: u64,
}

impl Read for Meter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let total = self.state.total.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        if total > self.max_total {
            return Err(io::Error::other(BombTripped));
        }
        Ok(n)
    }
}

/// Reads rows from one object, streaming.
pub struct RowReader {
    /// Format-specific state.
    inner: Inner,
    /// Shared with the metered stream: bytes read.
    meter: Arc<MeterState>,
    /// How a low-level I/O error becomes the error that ends the file.
    failure: Failure,
    /// Whether an NDJSON object has been looked at for a JSON array document (at the first
    /// [`RowReader::next_row`], so that opening reads nothing).
    sniffed: bool,
}

/// What is needed to classify an I/O error from deep in the stack.
#[derive(Debug, Clone, Copy)]
struct Failure {
    /// Decompressed-byte limit, for the `TooLarge` error.
    max_total: u64,
    /// Whether decoder errors are decompression errors or plain I/O errors.
    compression: Compression,
}

/// The per-format reading state.
enum Inner {
    Ndjson(Lines),
    JsonArray(ArrayDocument),
    // Boxed: one reader per object, and the CSV state is the largest by far.
    Csv(Box<CsvState>),
}

/// The physical lines of the decompressed stream, one at a time, each bounded by
/// `max_line_bytes`. Both formats read through it, so a line is counted, bounded and freed of
/// a leading UTF-8 byte order mark the same way in NDJSON and CSV.
struct Lines {
    /// The decompressed, metered bytes.
    input: Box<dyn BufRead + Send>,
    /// The last line read, with its line ending; reused for every line. Never grows past
    /// `max_line_bytes` plus its line ending: a longer line keeps its first [`RAW_BYTES`].
    buf: Vec<u8>,
    /// Number of the last line read (1-based; 0 before the first).
    line: u64,
    /// A longer line is reported as too long and skipped to its end without buffering.
    max_line_bytes: usize,
}

impl RowReader {
    /// Starts reading. `compressed_size` is the object's size as stored: decompressed bytes
    /// may not exceed `limits.max_expansion_ratio * max(compressed_size, 1 MiB)`. For CSV the
    /// header line is read here.
    pub fn new(
        input: Box<dyn Read + Send>,
        compression: Compression,
        format: Format,
        limits: &Limits,
        schema: &TableSchema,
        compressed_size: u64,
    ) -> Result<RowReader, ReadError> {
        let source = Source(input);
        let decoded: Box<dyn Read + Send> = match compression {
            Compression::None => Box::new(source),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(source)),
            Compression::Zstd => {
                Box::new(zstd::stream::read::Decoder::new(source).map_err(|e| {
                    ReadError::Decompress {
                        message: e.to_string(),
                    }
                })?)
            }
        };
        let max_total = match compression {
            // Plain objects are bounded by limits.max_object_bytes before they get here.
            Compression::None => u64::MAX,
            _ => limits
                .max_expansion_ratio
                .saturating_mul(compressed_size.max(MIN_BOMB_BASE)),
        };
        let meter = Arc::new(MeterState::default());
        let metered = Meter {
            inner: decoded,
            state: meter.clone(),
            max_total,
        };
        let failure = Failure {
            max_total,
            compression,
        };
        let mut input = BufReader::with_capacity(64 << 10, metered);
        let head = input.fill_buf().map_err(|e| failure.classify(1, e))?;
        if let Some(found) = binary_content(head) {
            return Err(ReadError::NotText {
                found,
                expected: match format {
                    Format::Ndjson => "NDJSON or JSON",
                    Format::Csv => "CSV",
                },
            });
        }
        let lines = Lines {
            input: Box::new(input),
            buf: Vec::new(),
            line: 0,
            max_line_bytes: limits.max_line_bytes,
        };
        let inner = match format {
            Format::Ndjson => Inner::Ndjson(lines),
            Format::Csv => Inner::Csv(Box::new(CsvState::open(lines, limits, schema, failure)?)),
        };
        Ok(RowReader {
            inner,
            meter,
            failure,
            sniffed: format != Format::Ndjson,
        })
    }

    /// The next row or bad line; `Ok(None)` at the end of the file.
    pub fn next_row(&mut self) -> Result<Option<RowItem>, ReadError> {
        Ok(match self.next(false)? {
            None => None,
            Some(Next::Item(item)) => Some(item),
            Some(Next::Text { line }) => Some(self.parse(line)),
        })
    }

    /// The next row as text, not parsed (NDJSON lines and JSON array elements), or the next
    /// item [`RowReader::next_row`] gives (CSV rows, bad lines); `Ok(None)` at the end. For a
    /// caller that decodes the text itself and parses only what it cannot decode.
    pub fn next_text(&mut self) -> Result<Option<Next>, ReadError> {
        self.next(true)
    }

    /// The row [`RowReader::next_text`] returned last as [`Next::Text`], parsed: a row, or a
    /// bad line with the same message [`RowReader::next_row`] gives.
    pub fn parse(&self, line: u64) -> RowItem {
        match &self.inner {
            Inner::Ndjson(lines) => parse_ndjson_line(line, trim_line_end(&lines.buf)),
            Inner::JsonArray(doc) => doc.parse_element(line),
            Inner::Csv(state) => match &state.record {
                Some(record) => state.record_item(record),
                None => RowItem::Bad {
                    line,
                    message: "no CSV record was read to parse".into(),
                    raw: String::new(),
                    too_long: false,
                },
            },
        }
    }

    fn next(&mut self, lazy: bool) -> Result<Option<Next>, ReadError> {
        if !self.sniffed {
            self.sniffed = true;
            if let Inner::Ndjson(lines) = &mut self.inner {
                let document =
                    ArrayDocument::sniff(lines).map_err(|e| self.failure.classify(1, e))?;
                if let Some(kind) = document {
                    self.inner = Inner::JsonArray(
                        ArrayDocument::open(lines, kind)
                            .map_err(|e| self.failure.classify(1, e))?,
                    );
                }
            }
        }
        let result = match &mut self.inner {
            Inner::Ndjson(lines) => next_ndjson_item(lines, lazy),
            Inner::JsonArray(doc) => return doc.next_item(self.failure, lazy),
            Inner::Csv(state) => state.next_item(lazy),
        };
        result.map_err(|(line, e)| self.failure.classify(line, e))
    }

    /// The JSON text of the row [`next_row`](Self::next_row) returned last, so that a writer
    /// can decode it again without the parsed value being serialised: for NDJSON the line as
    /// read, without its line ending; for an element of a JSON array document its text, line
    /// breaks and all; for a CSV record the JSON object its typed value serialises to. Also
    /// the text of the row [`next_text`](Self::next_text) returned last as [`Next::Text`].
    /// Only meaningful right after a [`RowItem::Row`] or a [`Next::Text`].
    pub fn row_text(&mut self) -> Option<&[u8]> {
        match &mut self.inner {
            Inner::Ndjson(lines) => Some(trim_line_end(&lines.buf)),
            Inner::JsonArray(doc) => Some(&doc.element),
            Inner::Csv(state) => state.record_text(),
        }
    }

    /// A CSV object's header names, in order: the columns its records' cells are for.
    /// `None` for JSON.
    pub fn csv_headers(&self) -> Option<&[String]> {
        match &self.inner {
            Inner::Csv(state) => Some(&state.headers),
            _ => None,
        }
    }

    /// The cells of the CSV record [`next_text`](Self::next_text) returned last as
    /// [`Next::Text`], for a decoder that takes the cells as they are, not their JSON text.
    /// `None` for JSON.
    pub fn csv_record(&self) -> Option<CsvCells<'_>> {
        match &self.inner {
            Inner::Csv(state) => state.record.as_ref().map(|r| CsvCells {
                cells: &r.cells,
                types: &state.types,
            }),
            _ => None,
        }
    }

    /// Decompressed bytes consumed so far (including read-ahead), for progress bars.
    pub fn bytes_read(&self) -> u64 {
        self.meter.total.load(Ordering::Relaxed)
    }
}

/// Next non-blank NDJSON line as an item (`lazy`: as text, not parsed). `Err` carries the
/// line being read.
fn next_ndjson_item(lines: &mut Lines, lazy: bool) -> Result<Option<Next>, (u64, io::Error)> {
    loop {
        let Some(too_long) = lines.next_line()? else {
            return Ok(None);
        };
        let line = lines.line;
        if too_long {
            return Ok(Some(Next::Item(RowItem::Bad {
                line,
                message: format!(
                    "the line is longer than {} bytes (limits.max_line_bytes)",
                    lines.max_line_bytes
                ),
                raw: raw_text(&lines.buf),
                too_long: true,
            })));
        }
        let text = trim_line_end(&lines.buf);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return Ok(Some(match lazy {
            true => Next::Text { line },
            false => Next::Item(parse_ndjson_line(line, text)),
        }));
    }
}

impl Lines {
    /// Reads the next line into `buf` and counts it. `Ok(None)` at end of input;
    /// `Ok(Some(true))` when the line was too long: `buf` then holds its first bytes and the
    /// rest has been skipped. The first line loses a UTF-8 byte order mark (editors on
    /// Windows write one), which is not part of the data. `Err` carries the line being read.
    fn next_line(&mut self) -> Result<Option<bool>, (u64, io::Error)> {
        let number = self.line + 1;
        let Some(too_long) = self.read_line().map_err(|e| (number, e))? else {
            return Ok(None);
        };
        self.line = number;
        if number == 1 && self.buf.starts_with(UTF8_BOM) {
            self.buf.drain(..UTF8_BOM.len());
        }
        Ok(Some(too_long))
    }

    /// Reads one line into `buf` (without growing it past the limit). `Ok(None)` at end of
    /// input; `Ok(Some(true))` when the line was too long.
    fn read_line(&mut self) -> io::Result<Option<bool>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = fill(&mut self.input)?;
            if chunk.is_empty() {
                return Ok(any.then(|| self.check_length(too_long)));
            }
            any = true;
            let (part, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (&chunk[..=i], true),
                None => (chunk, false),
            };
            let used = part.len();
            if !too_long {
                let room = self
                    .max_line_bytes
                    .saturating_add(2)
                    .saturating_add(UTF8_BOM.len())
                    .saturating_sub(self.buf.len());
                if part.len() <= room {
                    self.buf.extend_from_slice(part);
                } else {
                    let keep = RAW_BYTES.saturating_sub(self.buf.len()).min(part.len());
                    self.buf.truncate(RAW_BYTES);
                    self.buf.extend_from_slice(&part[..keep]);
                    too_long = true;
                }
            }
            self.input.consume(used);
            if done {
                return Ok(Some(self.check_length(too_long)));
            }
        }
    }

    /// Whether the whole line in `buf` is too long (cutting it to [`RAW_BYTES`] if so). A
    /// line of exactly max_line_bytes plus its `\r\n` is not, nor is the byte order mark of
    /// the first line counted.
    fn check_length(&mut self, too_long: bool) -> bool {
        if too_long {
            return true;
        }
        let bom = if self.line == 0 && self.buf.starts_with(UTF8_BOM) {
            UTF8_BOM.len()
        } else {
            0
        };
        if trim_line_end(&self.buf).len() - bom > self.max_line_bytes {
            self.buf.truncate(RAW_BYTES);
            return true;
        }
        false
    }
}

/// The buffered bytes of `input`, read again while the read is interrupted; empty at the
/// end of the input.
fn fill<R: BufRead + ?Sized>(input: &mut R) -> io::Result<&[u8]> {
    loop {
        match input.fill_buf() {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    // Buffered now (or at the end): this returns what the call above filled.
    input.fill_buf()
}

/// Leading bytes of what is no text in any format sluice reads, and its name.
const BINARY_MAGIC: &[(&[u8], &str)] = &[
    (b"Obj\x01", "Avro (it starts with `Obj` and 0x01)"),
    (b"ARROW1\0", "Arrow IPC (it starts with `ARROW1`)"),
    (
        b"PK\x03\x04",
        "a zip archive or an Office document (it starts with `PK`)",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an old Office document such as an .xls workbook",
    ),
    (b"%PDF-", "PDF (it starts with `%PDF-`)"),
    (b"SQLite format 3\0", "an SQLite database"),
    (b"\x1f\x8b", "gzip compressed a second time"),
    (b"\x28\xb5\x2f\xfd", "zstd compressed a second time"),
    (b"\xfd7zXZ\x00", "xz compressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7z archive"),
    (b"Rar!\x1a\x07", "a rar archive"),
    (b"\x04\x22\x4d\x18", "lz4 compressed"),
    (
        b"\xff\xfe",
        "UTF-16 or UTF-32 text (it starts with a little-endian byte order mark)",
    ),
    (
        b"\xfe\xff",
        "UTF-16 text (it starts with a big-endian byte order mark)",
    ),
    (
        b"\x00\x00\xfe\xff",
        "UTF-32 text (it starts with a big-endian byte order mark)",
    ),
];

/// Leading bytes of binary formats that a text file may also start with, and their name:
/// they count only when [`binary_follows`] them.
const TEXT_LIKE_MAGIC: &[(&[u8], &str)] = &[
    (b"PAR1", "Parquet (it starts with `PAR1`)"),
    (b"ORC", "ORC (it starts with `ORC`)"),
];

/// Whether the 16 bytes after a magic hold a control byte no text has (other than tab and
/// line ends).
fn binary_follows(rest: &[u8]) -> bool {
    rest.iter()
        .take(16)
        .any(|b| (*b < 0x20 && !matches!(*b, b'\t' | b'\n' | b'\r')) || *b == 0x7f)
}

/// Whether an object's first bytes are a Parquet file's: `PAR1`, then binary bytes (a CSV
/// whose header starts `PAR1_score,` is text).
pub fn is_parquet(head: &[u8]) -> bool {
    head.strip_prefix(b"PAR1").is_some_and(binary_follows)
}

/// What the first bytes of an object's decompressed content say it is, when that is no
/// text: a known binary format's magic, or UTF-16 without a byte order mark (among the
/// first 512 bytes, at least a third of the odd or of the even ones NUL, as ASCII text in
/// UTF-16 is; a NUL here and there in a CSV cell is left to the rows).
fn binary_content(head: &[u8]) -> Option<&'static str> {
    if let Some((_, what)) = BINARY_MAGIC
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
    {
        return Some(what);
    }
    // Magic that is also text (a CSV header `ORCID,name` or `PAR1_score,…` starts the same)
    // counts only when binary bytes follow it.
    for (magic, what) in TEXT_LIKE_MAGIC {
        if let Some(rest) = head.strip_prefix(*magic) {
            if binary_follows(rest) {
                return Some(what);
            }
        }
    }
    // bzip2: `BZh`, the block size digit, then the block magic `1AY&SY`.
    if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && &head[4..10] == b"1AY&SY"
    {
        return Some("bzip2 compressed");
    }
    let start = &head[..head.len().min(512)];
    let nul_at = |parity: usize| {
        start
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let half = start.len() / 2;
    (half >= 4 && 3 * nul_at(0).max(nul_at(1)) >= half)
        .then_some("UTF-16 text (every other byte NUL)")
}

/// The UTF-8 byte order mark.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";

/// Most bytes of an NDJSON object's head read to tell a JSON array document from NDJSON.
const SNIFF_BYTES: usize = 64 << 10;

/// The two shapes of a JSON document that holds many rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DocumentKind {
    /// One array of rows, `[ {…}, {…} ]`, as APIs and `json.dump` write it.
    Array,
    /// One or more JSON values one after another, separated by whitespace only, at least
    /// the first spanning lines: one pretty-printed object, or `jq`'s default output.
    Sequence,
}

/// Where the scan of a JSON array document stands (a sequence is always at `Comma` or
/// `Element`: a value may come next, or the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayAt {
    /// After the opening `[`: an element or `]`.
    Open,
    /// After an element: `,` or `]`.
    Element,
    /// After a `,`: an element.
    Comma,
    /// After the closing `]`: only whitespace.
    Closed,
}

/// One JSON document of rows, an array or a sequence of values, read element by element
/// (see the module's documentation).
struct ArrayDocument {
    kind: DocumentKind,
    /// The decompressed, metered bytes, past the opening `[`.
    input: Box<dyn BufRead + Send>,
    /// Line of the scan position (1-based).
    line: u64,
    /// The element last read; never grows past `max_element_bytes` (a longer element keeps
    /// its first [`RAW_BYTES`]).
    element: Vec<u8>,
    /// Elements read so far.
    count: u64,
    /// `limits.max_line_bytes`, for one element.
    max_element_bytes: usize,
    at: ArrayAt,
}

impl ArrayDocument {
    /// Whether the stream is a JSON document of rows rather than NDJSON, and which. Its head
    /// (the first non-blank line, at most [`SNIFF_BYTES`]) is read and put back in front of
    /// the rest, so nothing is lost and line numbers stay right either way.
    ///
    /// An array starts with `[` (after a byte order mark and whitespace) and is either
    /// pretty-printed (its first line is not a whole JSON value), an array of objects longer
    /// than the head (`[{` …), or a one-line array of objects. A first line that is a whole
    /// array of anything else (`[1, 2]`), or no JSON at all, is an NDJSON file's first row,
    /// rejected as such while the rows after it land.
    ///
    /// A sequence starts with `{` on a line that is not a whole JSON value, and the head
    /// holds that object whole and well-formed across lines (or is all of one object larger
    /// than the head). A first line that is merely broken (`{"id": 1` followed by rows) is
    /// an NDJSON file's bad first row, as before.
    fn sniff(lines: &mut Lines) -> io::Result<Option<DocumentKind>> {
        let mut head = Vec::new();
        let document = loop {
            let chunk = fill(&mut lines.input)?;
            let end = chunk.is_empty();
            let n = chunk.len().min(SNIFF_BYTES - head.len());
            head.extend_from_slice(&chunk[..n]);
            lines.input.consume(n);
            let full = head.len() == SNIFF_BYTES;
            let body = head.strip_prefix(UTF8_BOM).unwrap_or(&head);
            let Some(start) = body.iter().position(|b| !b.is_ascii_whitespace()) else {
                if end || full {
                    break None;
                }
                continue;
            };
            let first = &body[start..];
            match first[0] {
                b'[' => {}
                b'{' => match first.iter().position(|b| *b == b'\n') {
                    Some(stop) if !Self::incomplete(&first[..stop]) => break None,
                    // The head is read on to the stream's end or its size, so that a cut
                    // is told from a break.
                    _ if !end && !full => continue,
                    None => break None,
                    Some(_) => break Self::sequence(first).then_some(DocumentKind::Sequence),
                },
                _ => break None,
            }
            let array = match first.iter().position(|b| *b == b'\n') {
                Some(stop) => Self::first_line_starts_a_document(&first[..stop]),
                None if end => Self::first_line_starts_a_document(first),
                // Longer than the head: a minified array of objects, not a line of brackets.
                None if full => first[1..]
                    .iter()
                    .find(|b| !b.is_ascii_whitespace())
                    .is_some_and(|b| *b == b'{'),
                None => continue,
            };
            break array.then_some(DocumentKind::Array);
        };
        // Both are buffered readers, so the chain is one too: no second buffer, no copy.
        let rest = std::mem::replace(&mut lines.input, Box::new(io::empty()));
        lines.input = Box::new(io::Cursor::new(head).chain(rest));
        Ok(document)
    }

    /// See [`ArrayDocument::sniff`]: `line` starts with `[`.
    fn first_line_starts_a_document(line: &[u8]) -> bool {
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Array(items)) => items.iter().all(Value::is_object),
            Ok(_) => false,
            Err(e) => e.is_eof(),
        }
    }

    /// Whether `line` is the start of a JSON value that goes on past it. (Parsed as a
    /// `Value`, whose nesting limit makes a line of a thousand `{"a":` no start of a value.)
    fn incomplete(line: &[u8]) -> bool {
        matches!(serde_json::from_slice::<Value>(line), Err(e) if e.is_eof())
    }

    /// See [`ArrayDocument::sniff`]: `head` (all of the stream, or [`SNIFF_BYTES`] of it)
    /// starts with `{` on a line that is not a whole value. A sequence when its first value
    /// is whole, or ends with the head: an object larger than the head, or a document cut
    /// short, which its reading then reports. A first line that the next does not continue
    /// is a syntax error, so NDJSON.
    fn sequence(head: &[u8]) -> bool {
        let mut values = serde_json::Deserializer::from_slice(head).into_iter::<Value>();
        match values.next() {
            Some(Ok(_)) => true,
            Some(Err(e)) => e.is_eof(),
            None => false,
        }
    }

    /// The document after [`ArrayDocument::sniff`] said yes: skips the byte order mark and
    /// the whitespace before the `[`, counting lines, and the `[`.
    fn open(lines: &mut Lines, kind: DocumentKind) -> io::Result<ArrayDocument> {
        let mut doc = ArrayDocument {
            kind,
            input: std::mem::replace(&mut lines.input, Box::new(io::empty())),
            line: 1,
            element: Vec::new(),
            count: 0,
            max_element_bytes: lines.max_line_bytes,
            at: ArrayAt::Open,
        };
        if doc.input.fill_buf()?.starts_with(UTF8_BOM) {
            doc.input.consume(UTF8_BOM.len());
        }
        doc.skip_whitespace()?;
        match kind {
            DocumentKind::Array => doc.bump(b'['),
            DocumentKind::Sequence => doc.at = ArrayAt::Comma,
        }
        Ok(doc)
    }

    /// How a message names element `n`.
    fn element_name(&self, n: u64) -> String {
        match self.kind {
            DocumentKind::Array => format!("element {n} of the JSON array"),
            DocumentKind::Sequence => format!("value {n} of the JSON document"),
        }
    }

    fn malformed(&self, message: impl Into<String>) -> ReadError {
        ReadError::JsonDocument {
            line: self.line,
            message: message.into(),
        }
    }

    fn bump(&mut self, byte: u8) {
        if byte == b'\n' {
            self.line += 1;
        }
        self.input.consume(1);
    }

    /// Skips whitespace, a buffered chunk at a time; the next byte, not consumed.
    fn skip_whitespace(&mut self) -> io::Result<Option<u8>> {
        loop {
            let chunk = fill(&mut self.input)?;
            if chunk.is_empty() {
                return Ok(None);
            }
            let blank = chunk
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(chunk.len());
            let next = chunk.get(blank).copied();
            self.line += chunk[..blank].iter().filter(|b| **b == b'\n').count() as u64;
            self.input.consume(blank);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    fn next_item(&mut self, failure: Failure, lazy: bool) -> Result<Option<Next>, ReadError> {
        let line = self.line;
        self.next_element(lazy).map_err(|e| match e {
            Framing::Io(e) => failure.classify(line, e),
            Framing::Malformed(e) => e,
        })
    }

    fn next_element(&mut self, lazy: bool) -> Result<Option<Next>, Framing> {
        if self.kind == DocumentKind::Sequence {
            return self.next_value(lazy);
        }
        loop {
            let next = self.skip_whitespace()?;
            match (self.at, next) {
                (ArrayAt::Closed, None) => return Ok(None),
                (ArrayAt::Closed, Some(_)) => {
                    return Err(self
                        .malformed("text after the closing `]`; an object is one JSON array or NDJSON, not both")
                        .into())
                }
                (_, None) => {
                    return Err(self
                        .malformed(format!(
                            "the document ends after {} elements without its closing `]` (a truncated or half-written file)",
                            self.count
                        ))
                        .into())
                }
                (ArrayAt::Open | ArrayAt::Element, Some(b']')) => {
                    self.bump(b']');
                    self.at = ArrayAt::Closed;
                }
                (ArrayAt::Element, Some(b',')) => {
                    self.bump(b',');
                    self.at = ArrayAt::Comma;
                }
                (ArrayAt::Element, Some(_)) => {
                    return Err(self
                        .malformed(format!("a `,` or `]` is missing after element {}", self.count))
                        .into())
                }
                (ArrayAt::Comma, Some(b']')) => {
                    return Err(self
                        .malformed("a `,` before the closing `]` (JSON allows no trailing comma)")
                        .into())
                }
                (ArrayAt::Open | ArrayAt::Comma, Some(b',')) => {
                    return Err(self.malformed("a `,` where an element should be").into())
                }
                (ArrayAt::Open | ArrayAt::Comma, Some(_)) => {
                    let line = self.line;
                    let (too_long, _) = self.read_element()?;
                    self.count += 1;
                    self.at = ArrayAt::Element;
                    return Ok(Some(self.element_next(line, lazy, too_long)));
                }
            }
        }
    }

    /// The next value of a sequence: values separated by whitespace, to the end.
    fn next_value(&mut self, lazy: bool) -> Result<Option<Next>, Framing> {
        let Some(next) = self.skip_whitespace()? else {
            return Ok(None);
        };
        if matches!(next, b',' | b']' | b'}') {
            return Err(self
                .malformed(format!(
                    "a `{}` after value {}: values of a JSON document follow one another with \
                     whitespace only (a list of rows with commas needs `[` and `]` around it)",
                    next as char, self.count
                ))
                .into());
        }
        let line = self.line;
        let (too_long, complete) = self.read_element()?;
        self.count += 1;
        if !complete {
            return Err(self
                .malformed(format!(
                    "the document ends inside {} (a truncated or half-written file)",
                    self.element_name(self.count)
                ))
                .into());
        }
        Ok(Some(self.element_next(line, lazy, too_long)))
    }

    fn element_next(&self, line: u64, lazy: bool, too_long: bool) -> Next {
        match (lazy, too_long) {
            (true, false) => Next::Text { line },
            _ => Next::Item(self.element_item(line, too_long)),
        }
    }

    /// Reads one element into `element`, tracking strings and brackets: a scalar ends before
    /// whitespace, `,` or `]`; an object or array at its matching close. Returns whether it
    /// was longer than the limit, and whether it ended before the stream did (a scalar that
    /// the stream ends counts as ended). Scans the buffered input a chunk at a time.
    fn read_element(&mut self) -> Result<(bool, bool), Framing> {
        self.element.clear();
        let (mut depth, mut in_string, mut escaped, mut too_long) = (0u64, false, false, false);
        let mut size = 0usize;
        loop {
            let chunk = fill(&mut self.input)?;
            if chunk.is_empty() {
                // The end comes in the middle of an element: the caller reports it.
                return Ok((too_long, depth == 0 && !in_string && size > 0));
            }
            let (mut used, mut finished) = (0, false);
            while used < chunk.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        used += 1;
                        continue;
                    }
                    // Most of a document's bytes are inside strings: jump to the next quote
                    // or backslash.
                    match memchr::memchr2(b'"', b'\\', &chunk[used..]) {
                        None => used = chunk.len(),
                        Some(at) => {
                            used += at;
                            match chunk[used] {
                                b'"' => in_string = false,
                                _ => escaped = true,
                            }
                            used += 1;
                        }
                    }
                    continue;
                }
                let byte = chunk[used];
                if depth == 0 && (byte.is_ascii_whitespace() || byte == b',' || byte == b']') {
                    finished = true;
                    break;
                }
                used += 1;
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            finished = true;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let part = &chunk[..used];
            self.line += memchr::memchr_iter(b'\n', part).count() as u64;
            size += used;
            if !too_long {
                if size > self.max_element_bytes {
                    let keep = RAW_BYTES.saturating_sub(self.element.len()).min(used);
                    self.element.truncate(RAW_BYTES);
                    self.element.extend_from_slice(&part[..keep]);
                    too_long = true;
                } else {
                    self.element.extend_from_slice(part);
                }
            }
            self.input.consume(used);
            if finished {
                return Ok((too_long, true));
            }
        }
    }

    fn element_item(&self, line: u64, too_long: bool) -> RowItem {
        let bad = |message: String| RowItem::Bad {
            line,
            message,
            raw: raw_text(&self.element),
            too_long,
        };
        if too_long {
            return bad(format!(
                "{} is longer than {} bytes (limits.max_line_bytes)",
                self.element_name(self.count),
                self.max_element_bytes
            ));
        }
        self.parse_element(line)
    }

    /// The element read last, parsed.
    fn parse_element(&self, line: u64) -> RowItem {
        let bad = |message: String| RowItem::Bad {
            line,
            message,
            raw: raw_text(&self.element),
            too_long: false,
        };
        let name = self.element_name(self.count);
        match serde_json::from_slice::<Value>(&self.element) {
            Ok(value @ Value::Object(_)) => RowItem::Row { line, value },
            Ok(other) => bad(format!(
                "a row must be a JSON object, {name} is {}",
                json_kind(&other)
            )),
            Err(e) => {
                let text = e.to_string();
                let what = text.split(" at line ").next().unwrap_or(&text);
                bad(format!("invalid JSON in {name}: {what}"))
            }
        }
    }
}

/// Why the framing of a JSON array document stopped.
enum Framing {
    Io(io::Error),
    Malformed(ReadError),
}

impl From<io::Error> for Framing {
    fn from(e: io::Error) -> Self {
        Framing::Io(e)
    }
}

impl From<ReadError> for Framing {
    fn from(e: ReadError) -> Self {
        Framing::Malformed(e)
    }
}

/// Strips one trailing `\n` and one `\r` before it.
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The first [`RAW_BYTES`] of a line, lossy UTF-8, without its line ending.
fn raw_text(line: &[u8]) -> String {
    let line = trim_line_end(line);
    String::from_utf8_lossy(&line[..line.len().min(RAW_BYTES)]).into_owned()
}

fn parse_ndjson_line(line: u64, text: &[u8]) -> RowItem {
    let bad = |message: String| RowItem::Bad {
        line,
        message,
        raw: raw_text(text),
        too_long: false,
    };
    let text = match std::str::from_utf8(text) {
        Ok(text) => text,
        Err(e) => {
            return bad(format!(
                "the line is not valid UTF-8 (at byte {})",
                e.valid_up_to() + 1
            ))
        }
    };
    // serde_json stops at depth 128 with an error, so deep nesting cannot overflow the stack.
    match serde_json::from_str::<Value>(text) {
        Ok(value @ Value::Object(_)) => RowItem::Row { line, value },
        Ok(other) => bad(format!(
            "a row must be a JSON object, this line is {}",
            json_kind(&other)
        )),
        Err(e) => bad(json_error_message(&e)),
    }
}

/// serde_json's message without its "at line 1" suffix (every NDJSON line is line 1 to it).
fn json_error_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text.split(" at line ").next().unwrap_or(&text);
    format!("invalid JSON at column {}: {what}", e.column())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Failure {
    /// Turns an I/O error from deep in the stack into the error that ends the file.
    fn classify(self, line: u64, error: io::Error) -> ReadError {
        if error.get_ref().is_some_and(|e| e.is::<BombTripped>()) {
            return ReadError::TooLarge {
                limit: self.max_total,
            };
        }
        if error.get_ref().is_some_and(|e| e.is::<SourceFailure>()) {
            let kind = error.kind();
            let inner = error
                .into_inner()
                .and_then(|e| e.downcast::<SourceFailure>().ok());
            let source = inner.map(|s| s.0).unwrap_or_else(|| io::Error::from(kind));
            return ReadError::Io { line, source };
        }
        match self.compression {
            Compression::None => ReadError::Io {
                line,
                source: error,
            },
            _ => ReadError::Decompress {
                message: format!("{error} (near line {line})"),
            },
        }
    }
}

/// CSV (RFC 4180: `,` between fields, `"` around a field that holds one, `""` for a quote
/// inside it), read record by record over [`Lines`], cells typed by the table schema.
///
/// A quoted field may hold line breaks, which is how a stray `"` swallows the rows after it:
/// the field runs on to the next `"` or to the end of the file, and the merged lines make one
/// record. So a quote may stay open for at most `limits.max_csv_field_lines` lines and never
/// past the end of the file: otherwise the line it opened on is rejected and reading goes on
/// at the next line, as if the quote had not been there. A record with more or fewer fields
/// than the header is a rejected row, never a row with cells moved or missing.
struct CsvState {
    /// The object's lines.
    lines: Lines,
    /// Lines read ahead for a quoted field that was never closed, to be read again as records
    /// of their own. At most `max_field_lines` lines of at most `max_line_bytes` in all.
    pending: VecDeque<CsvLine>,
    /// Header names, in order.
    headers: Vec<String>,
    /// Each header name as a JSON object key (`"name":`), escaped once for every record.
    keys: Vec<Vec<u8>>,
    /// Column type per header, from the table schema (`None`: not in the schema → string).
    types: Vec<Option<FieldType>>,
    /// `limits.max_csv_field_lines`: lines one record may span.
    max_field_lines: usize,
    /// `limits.max_line_bytes`: bytes one record may have, over all its lines.
    max_record_bytes: usize,
    /// The last record read whose field count and UTF-8 are right, kept until the next one:
    /// [`RowReader::parse`] types it exactly as [`RowReader::next_row`] does.
    record: Option<CsvFields>,
    /// That record as a JSON object, typed by the schema: the same text its typed value
    /// serialises to, for a decoder that reads JSON text. Written when first asked for
    /// ([`RowReader::row_text`]): a decoder that takes the cells never needs it. Reused for
    /// every record.
    text: Vec<u8>,
    /// Whether `text` is the text of `record`.
    text_written: bool,
    /// Emptied buffers of records and lines done with, reused for the next ones' cells and
    /// lines, so a record costs no allocation once reading is under way.
    spare: Vec<Vec<u8>>,
}

/// A record's fields and the lines it spans.
#[derive(Debug)]
struct CsvFields {
    first: u64,
    last: u64,
    cells: Vec<Vec<u8>>,
    raw: Vec<u8>,
}

/// The largest buffer a CSV reader keeps for reuse.
const MAX_SPARE_BYTES: usize = 64 << 10;

/// One physical line of a CSV object.
#[derive(Debug)]
struct CsvLine {
    /// 1-based line number.
    number: u64,
    /// The line with its line ending (the first [`RAW_BYTES`] only, if it was too long).
    bytes: Vec<u8>,
    /// Longer than `limits.max_line_bytes`.
    too_long: bool,
}

/// One CSV record as read, before it is checked against the header.
#[derive(Debug)]
enum CsvRecord {
    /// The fields of a record and the lines it spans.
    Fields {
        first: u64,
        last: u64,
        cells: Vec<Vec<u8>>,
        raw: Vec<u8>,
    },
    /// A line that cannot start a record: too long, or its quote is never closed.
    Bad {
        line: u64,
        message: String,
        raw: String,
        too_long: bool,
    },
}

/// Where a record's parser is, between two bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvPosition {
    /// At the start of a field.
    FieldStart,
    /// In a field that did not start with a quote (a `"` in it is an ordinary character).
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a `"` inside a quoted field: the closing quote, or the first of `""`.
    QuoteInQuoted,
}

/// Splits one record into fields, a line at a time.
#[derive(Debug)]
struct CsvParser {
    position: CsvPosition,
    cells: Vec<Vec<u8>>,
    field: Vec<u8>,
    /// Emptied buffers of earlier records, taken before allocating.
    spare: Vec<Vec<u8>>,
}

impl CsvParser {
    /// A parser whose cells reuse `spare` buffers.
    fn new(mut spare: Vec<Vec<u8>>) -> Self {
        CsvParser {
            position: CsvPosition::FieldStart,
            cells: Vec::with_capacity(spare.len()),
            field: spare.pop().unwrap_or_default(),
            spare,
        }
    }

    /// Takes one line (with its line ending). Returns whether the record is complete; it is
    /// not while a quoted field is open, and the line break then belongs to the field. The
    /// `\r` of a `\r\n` ending is dropped when it is outside quotes, kept inside them.
    fn feed(&mut self, line: &[u8]) -> bool {
        let (body, newline) = match line.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (line, false),
        };
        // A field's bytes are copied a run at a time: an unquoted field runs to the next `,`,
        // a quoted one to the next `"`, and memchr finds either.
        let mut at = 0;
        while at < body.len() {
            let rest = &body[at..];
            match self.position {
                CsvPosition::FieldStart if rest[0] == b'"' => {
                    self.position = CsvPosition::Quoted;
                    at += 1;
                }
                // A `"` after the start of an unquoted field is an ordinary character.
                CsvPosition::FieldStart | CsvPosition::Unquoted => match memchr::memchr(b',', rest)
                {
                    Some(n) => {
                        self.field.extend_from_slice(&rest[..n]);
                        self.end_field();
                        at += n + 1;
                    }
                    None => {
                        self.field.extend_from_slice(rest);
                        self.position = CsvPosition::Unquoted;
                        at = body.len();
                    }
                },
                CsvPosition::Quoted => match memchr::memchr(b'"', rest) {
                    Some(n) => {
                        self.field.extend_from_slice(&rest[..n]);
                        self.position = CsvPosition::QuoteInQuoted;
                        at += n + 1;
                    }
                    None => {
                        self.field.extend_from_slice(rest);
                        at = body.len();
                    }
                },
                // The closing quote, or the first of `""`.
                CsvPosition::QuoteInQuoted => {
                    match rest[0] {
                        b',' => self.end_field(),
                        b'"' => {
                            self.field.push(b'"');
                            self.position = CsvPosition::Quoted;
                        }
                        // `"abc"def`: lenient, as most CSV readers are: the rest joins the
                        // field.
                        b => {
                            self.field.push(b);
                            self.position = CsvPosition::Unquoted;
                        }
                    }
                    at += 1;
                }
            }
        }
        if self.position == CsvPosition::Quoted {
            if newline {
                self.field.push(b'\n');
            }
            return false;
        }
        if self.position == CsvPosition::Unquoted && self.field.last() == Some(&b'\r') {
            self.field.pop();
        }
        true
    }

    /// Ends the field being read at a `,`; the next starts.
    fn end_field(&mut self) {
        let next = self.spare.pop().unwrap_or_default();
        self.cells.push(std::mem::replace(&mut self.field, next));
        self.position = CsvPosition::FieldStart;
    }

    /// The record's fields, once [`feed`](Self::feed) said it is complete.
    fn finish(mut self) -> Vec<Vec<u8>> {
        self.cells.push(self.field);
        self.cells
    }
}

impl CsvState {
    /// Reads the header record and maps each column to its schema type.
    fn open(
        lines: Lines,
        limits: &Limits,
        schema: &TableSchema,
        failure: Failure,
    ) -> Result<CsvState, ReadError> {
        let mut state = CsvState {
            lines,
            pending: VecDeque::new(),
            headers: Vec::new(),
            keys: Vec::new(),
            types: Vec::new(),
            max_field_lines: limits.max_csv_field_lines.max(1),
            max_record_bytes: limits.max_line_bytes,
            record: None,
            text: Vec::new(),
            text_written: false,
            spare: Vec::new(),
        };
        let header_error = |message: String| ReadError::CsvHeader { message };
        let raw = match state.next_record() {
            Ok(Some(CsvRecord::Fields { cells, .. })) => cells,
            Ok(Some(CsvRecord::Bad { message, .. })) => return Err(header_error(message)),
            // An empty object: no header, no rows.
            Ok(None) => return Ok(state),
            Err((line, e)) => {
                return Err(match failure.classify(line, e) {
                    ReadError::Io { source, .. } => header_error(source.to_string()),
                    other => other,
                })
            }
        };
        let mut headers = Vec::with_capacity(raw.len());
        for (i, cell) in raw.iter().enumerate() {
            let name = std::str::from_utf8(cell)
                .map_err(|_| header_error(format!("column {} is not valid UTF-8", i + 1)))?
                .trim()
                .to_string();
            if name.is_empty() && raw.len() > 1 {
                return Err(header_error(format!("column {} has no name", i + 1)));
            }
            if headers.contains(&name) {
                return Err(header_error(format!("column {name:?} appears twice")));
            }
            headers.push(name);
        }
        state.types = headers
            .iter()
            .map(|h| schema.field(h).map(|f| f.ty.clone()))
            .collect();
        state.keys = headers
            .iter()
            .map(|h| {
                let mut key = Vec::with_capacity(h.len() + 3);
                write_json_string(&mut key, h);
                key.push(b':');
                key
            })
            .collect();
        state.headers = headers;
        Ok(state)
    }

    /// The next record: as [`Next::Text`] when `lazy` and its fields fit the header (its text
    /// is in `self.text`), else as the item [`RowReader::next_row`] gives.
    fn next_item(&mut self, lazy: bool) -> Result<Option<Next>, (u64, io::Error)> {
        if let Some(done) = self.record.take() {
            self.recycle(done.cells);
            self.recycle([done.raw]);
        }
        Ok(match self.next_record()? {
            None => None,
            Some(CsvRecord::Bad {
                line,
                message,
                raw,
                too_long,
            }) => Some(Next::Item(RowItem::Bad {
                line,
                message,
                raw,
                too_long,
            })),
            Some(CsvRecord::Fields {
                first,
                last,
                cells,
                raw,
            }) => {
                let fields = CsvFields {
                    first,
                    last,
                    cells,
                    raw,
                };
                if let Some(bad) = self.misfit(&fields) {
                    return Ok(Some(Next::Item(bad)));
                }
                self.text_written = false;
                let next = if lazy {
                    Next::Text { line: first }
                } else {
                    Next::Item(self.record_item(&fields))
                };
                self.record = Some(fields);
                Some(next)
            }
        })
    }

    /// Keeps `buffers`, emptied, for later cells and lines (as many as a record has cells,
    /// and its line). A buffer grown past [`MAX_SPARE_BYTES`] by a long line or cell is freed
    /// instead, so the pool never holds more than a few ordinary records' worth.
    fn recycle(&mut self, buffers: impl IntoIterator<Item = Vec<u8>>) {
        let keep = self.headers.len() + 2;
        for mut buffer in buffers {
            if self.spare.len() >= keep {
                break;
            }
            if buffer.capacity() > MAX_SPARE_BYTES {
                continue;
            }
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    /// The next physical line: one given back first, else one from the object.
    fn next_line(&mut self) -> Result<Option<CsvLine>, (u64, io::Error)> {
        if let Some(line) = self.pending.pop_front() {
            return Ok(Some(line));
        }
        let Some(too_long) = self.lines.next_line()? else {
            return Ok(None);
        };
        let mut bytes = self.spare.pop().unwrap_or_default();
        bytes.extend_from_slice(&self.lines.buf);
        Ok(Some(CsvLine {
            number: self.lines.line,
            bytes,
            too_long,
        }))
    }

    /// The next record, skipping blank lines. A quote left open rejects the line it opened on
    /// and gives the lines read after it back, to be read again as records.
    fn next_record(&mut self) -> Result<Option<CsvRecord>, (u64, io::Error)> {
        let first = loop {
            let Some(line) = self.next_line()? else {
                return Ok(None);
            };
            if line.too_long {
                return Ok(Some(CsvRecord::Bad {
                    line: line.number,
                    message: format!(
                        "line {} is longer than {} bytes (limits.max_line_bytes)",
                        line.number, self.max_record_bytes
                    ),
                    raw: raw_text(&line.bytes),
                    too_long: true,
                }));
            }
            if !trim_line_end(&line.bytes).is_empty() {
                break line;
            }
        };
        let mut parser = CsvParser::new(std::mem::take(&mut self.spare));
        let done = parser.feed(&first.bytes);
        // The buffers the parser did not use go back.
        self.spare = std::mem::take(&mut parser.spare);
        if done {
            return Ok(Some(CsvRecord::Fields {
                first: first.number,
                last: first.number,
                cells: parser.finish(),
                raw: first.bytes,
            }));
        }
        // A quoted field goes on past the end of the line.
        let mut more: Vec<CsvLine> = Vec::new();
        let mut bytes = first.bytes.len();
        let why = loop {
            if more.len() + 1 >= self.max_field_lines {
                break format!(
                    "spans more than {} lines (limits.max_csv_field_lines)",
                    self.max_field_lines
                );
            }
            let Some(line) = self.next_line()? else {
                break "is still open at the end of the file".to_string();
            };
            bytes += line.bytes.len();
            if line.too_long || bytes > self.max_record_bytes {
                more.push(line);
                break format!(
                    "makes a record longer than {} bytes (limits.max_line_bytes)",
                    self.max_record_bytes
                );
            }
            let done = parser.feed(&line.bytes);
            more.push(line);
            if done {
                let last = more.last().map_or(first.number, |l| l.number);
                let mut raw = first.bytes;
                for line in &more {
                    if raw.len() >= RAW_BYTES {
                        break;
                    }
                    raw.extend_from_slice(&line.bytes);
                }
                return Ok(Some(CsvRecord::Fields {
                    first: first.number,
                    last,
                    cells: parser.finish(),
                    raw,
                }));
            }
        };
        // Read the lines after the opening line again, as if its quote had not been there.
        for line in more.into_iter().rev() {
            self.pending.push_front(line);
        }
        Ok(Some(CsvRecord::Bad {
            line: first.number,
            message: format!(
                "a quoted field opened on line {} {why}; the line is rejected and reading goes on at line {}",
                first.number,
                first.number + 1
            ),
            raw: raw_text(&first.bytes),
            too_long: false,
        }))
    }

    /// When the header is one field holding another common delimiter (a spreadsheet's `;`
    /// export, a `.tsv` named `.csv`), the words that say so; otherwise nothing.
    fn delimiter_hint(&self) -> String {
        let [only] = self.headers.as_slice() else {
            return String::new();
        };
        [(';', "`;`"), ('\t', "a tab"), ('|', "`|`")]
            .iter()
            .find(|(c, _)| only.contains(*c))
            .map(|(_, name)| {
                format!(
                    " (the header is one field holding {name}: sluice reads CSV separated by `,`)"
                )
            })
            .unwrap_or_default()
    }

    /// A bad item when a record's field count differs from the header's or a cell is not
    /// UTF-8; `None` when it makes a row.
    fn misfit(&self, record: &CsvFields) -> Option<RowItem> {
        let CsvFields {
            first,
            last,
            cells,
            raw,
        } = record;
        let bad = |message: String| RowItem::Bad {
            line: *first,
            message,
            raw: raw_text(raw),
            too_long: false,
        };
        if cells.len() != self.headers.len() {
            let lines = if last > first {
                format!("lines {first}-{last} (a quoted field spans them)")
            } else {
                format!("line {first}")
            };
            return Some(bad(format!(
                "{lines} has {} fields, the header has {}{}",
                cells.len(),
                self.headers.len(),
                self.delimiter_hint()
            )));
        }
        // A record on one line has the line as `raw`, and its cells are that line cut at
        // ASCII bytes (`,`, `"`, the line end), which never fall inside a character: when the
        // line is UTF-8, so is every cell, and one check of the line, many bytes at a time,
        // does for all of them.
        if last == first && simdutf8::basic::from_utf8(raw).is_ok() {
            return None;
        }
        let not_utf8 = cells.iter().position(|c| std::str::from_utf8(c).is_err())?;
        Some(bad(format!(
            "column {:?} is not valid UTF-8",
            self.headers[not_utf8]
        )))
    }

    /// A record that [`misfit`](Self::misfit) passed as a row typed by the schema. Empty
    /// cells are left out.
    fn record_item(&self, record: &CsvFields) -> RowItem {
        let mut row = Map::with_capacity(self.headers.len());
        for (i, cell) in record.cells.iter().enumerate() {
            let cell = String::from_utf8_lossy(cell);
            if cell.is_empty() {
                continue;
            }
            row.insert(
                self.headers[i].clone(),
                typed_cell(&cell, self.types[i].as_ref()),
            );
        }
        RowItem::Row {
            line: record.first,
            value: Value::Object(row),
        }
    }

    /// The JSON text that [`record_item`](Self::record_item)'s value for the last record
    /// serialises to, written (once per record) without building the value.
    fn record_text(&mut self) -> Option<&[u8]> {
        let record = self.record.as_ref()?;
        if !self.text_written {
            self.text_written = true;
            write_text(&mut self.text, &self.keys, &self.types, record);
        }
        Some(&self.text)
    }
}

/// Writes into `text` the JSON object of `record`'s cells, each under its key of `keys`,
/// typed by `types`; empty cells are left out.
fn write_text(
    text: &mut Vec<u8>,
    keys: &[Vec<u8>],
    types: &[Option<FieldType>],
    record: &CsvFields,
) {
    text.clear();
    text.push(b'{');
    let mut first = true;
    for (i, cell) in record.cells.iter().enumerate() {
        // misfit() has checked the cells' UTF-8.
        let cell = String::from_utf8_lossy(cell);
        if cell.is_empty() {
            continue;
        }
        if !first {
            text.push(b',');
        }
        first = false;
        text.extend_from_slice(&keys[i]);
        write_typed_cell(text, &cell, types[i].as_ref());
    }
    text.push(b'}');
}

/// Appends `s` as a JSON string, escaped as serde_json escapes it.
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail, and a str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A CSV record's cells, as many as the header has names and each valid UTF-8, with each
/// column's type from the table schema (`None`: not in it).
#[derive(Debug, Clone, Copy)]
pub struct CsvCells<'a> {
    pub cells: &'a [Vec<u8>],
    pub types: &'a [Option<FieldType>],
}

/// A CSV cell as its column reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// An empty cell: the row has no value for the column.
    Empty,
    /// A `long` column's cell that is an integer (spaces around it allowed).
    Long(i64),
    /// A `double` column's cell that is a finite number.
    Double(f64),
    /// A `boolean` column's cell that is `true` or `false`, in any case.
    Boolean(bool),
    /// Any other cell, as written: a string column's, or one that does not parse as its
    /// column's type, so that the contract reports a type error naming the column.
    Text(&'a str),
}

impl Cell<'_> {
    /// How a cell of a column of type `ty` (`None`: not in the schema) is read: the one
    /// place CSV cells are typed, for values, for text and for a decoder of cells alike.
    pub fn of<'a>(cell: &'a str, ty: Option<&FieldType>) -> Cell<'a> {
        if cell.is_empty() {
            return Cell::Empty;
        }
        // Trimmed only for the typed columns: a string column's cell is taken as written.
        let typed = match ty {
            Some(FieldType::Long) => cell.trim().parse::<i64>().ok().map(Cell::Long),
            Some(FieldType::Double) => cell
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Cell::Double),
            Some(FieldType::Boolean) => match cell.trim() {
                t if t.eq_ignore_ascii_case("true") => Some(Cell::Boolean(true)),
                t if t.eq_ignore_ascii_case("false") => Some(Cell::Boolean(false)),
                _ => None,
            },
            _ => None,
        };
        typed.unwrap_or(Cell::Text(cell))
    }
}

/// Appends the JSON text of [`typed_cell`]'s value for `cell`, as serde_json writes it.
fn write_typed_cell(out: &mut Vec<u8>, cell: &str, ty: Option<&FieldType>) {
    // Writing to a Vec cannot fail.
    let _ = match Cell::of(cell, ty) {
        Cell::Long(n) => serde_json::to_writer(&mut *out, &n),
        Cell::Double(x) => serde_json::to_writer(&mut *out, &x),
        Cell::Boolean(b) => serde_json::to_writer(&mut *out, &b),
        Cell::Empty | Cell::Text(_) => serde_json::to_writer(&mut *out, cell),
    };
}

/// A CSV cell as the JSON value its column expects; a cell that does not parse stays a
/// string, so that contract validation reports a type error naming the column.
fn typed_cell(cell: &str, ty: Option<&FieldType>) -> Value {
    match Cell::of(cell, ty) {
        Cell::Long(n) => Value::from(n),
        // Finite, so a JSON number.
        Cell::Double(x) => {
            Number::from_f64(x).map_or_else(|| Value::String(cell.to_string()), Value::Number)
        }
        Cell::Boolean(b) => Value::Bool(b),
        Cell::Empty | Cell::Text(_) => Value::String(cell.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Field;
    use serde_json::json;
    use std::io::Write;

    fn limits() -> Limits {
        Limits {
            max_line_bytes: 1024,
            ..Limits::default()
        }
    }

    fn reader(
        bytes: Vec<u8>,
        compression: Compression,
        format: Format,
    ) -> Result<RowReader, ReadError> {
        let size = bytes.len() as u64;
        RowReader::new(
            Box::new(io::Cursor::new(bytes)),
            compression,
            format,
            &limits(),
            &schema(),
            size,
        )
    }

    fn schema() -> TableSchema {
        let f = |name: &str, ty| Field {
            name: name.into(),
            ty,
            required: false,
        };
        TableSchema {
            fields: vec![
                f("id", FieldType::Long),
                f("price", FieldType::Double),
                f("paid", FieldType::Boolean),
                f("note", FieldType::String),
            ],
        }
    }

    fn all(mut r: RowReader) -> Result<Vec<RowItem>, ReadError> {
        let mut items = Vec::new();
        while let Some(item) = r.next_row()? {
            items.push(item);
        }
        Ok(items)
    }

    fn ndjson(text: &str) -> Vec<RowItem> {
        all(reader(text.as_bytes().to_vec(), Compression::None, Format::Ndjson).unwrap()).unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn row(line: u64, value: Value) -> RowItem {
        RowItem::Row { line, value }
    }

    fn document(text: &str) -> Result<Vec<RowItem>, ReadError> {
        all(reader(text.as_bytes().to_vec(), Compression::None, Format::Ndjson).unwrap())
    }

    fn bad_line(item: &RowItem) -> Option<(u64, &str)> {
        match item {
            RowItem::Bad { line, message, .. } => Some((*line, message.as_str())),
            RowItem::Row { .. } => None,
        }
    }

    #[test]
    fn a_pretty_printed_json_array_is_one_row_per_element_at_its_first_line() {
        let text = "\u{feff}\n  [\n  {\n    \"id\": 1,\n    \"note\": \"a ] b, c } \\\" d\"\n  },\n  {\"id\": 2, \"tags\": [1, [2]]}\n]\n\n";
        let items = document(text).unwrap();
        assert_eq!(
            items,
            vec![
                row(3, json!({"id": 1, "note": "a ] b, c } \" d"})),
                row(7, json!({"id": 2, "tags": [1, [2]]})),
            ]
        );
        assert_eq!(document("[]").unwrap(), vec![]);
        assert_eq!(document(" [ ] \n").unwrap(), vec![]);
    }

    #[test]
    fn an_element_that_is_no_object_or_no_json_is_a_bad_row_and_the_rest_go_on() {
        let items =
            document("[\n{\"id\": 1},\n7,\n\"text\",\n{\"id\": tru},\n{\"id\": 2}\n]").unwrap();
        assert_eq!(items[0], row(2, json!({"id": 1})));
        let (line, message) = bad_line(&items[1]).unwrap();
        assert_eq!(line, 3);
        assert!(
            message.contains("element 2 of the JSON array is a number"),
            "{message}"
        );
        assert_eq!(bad_line(&items[2]).unwrap().0, 4);
        let (line, message) = bad_line(&items[3]).unwrap();
        assert_eq!(line, 5);
        assert!(message.contains("invalid JSON in element 4"), "{message}");
        assert_eq!(items[4], row(6, json!({"id": 2})));
        assert_eq!(items.len(), 5);
    }

    #[test]
    fn a_json_array_document_that_is_not_well_formed_ends_the_file() {
        for (text, needle) in [
            ("[\n{\"id\": 1},\n{\"id\": 2}", "without its closing `]`"),
            ("[{\"id\": 1},\n{\"id\": 2", "without its closing `]`"),
            ("[\n{\"id\": 1},\n]", "trailing comma"),
            (
                "[\n{\"id\": 1}\n{\"id\": 2}\n]",
                "`,` or `]` is missing after element 1",
            ),
            ("[\n,{\"id\": 1}]", "where an element should be"),
            ("[{\"id\": 1}]\n{\"id\": 2}\n", "text after the closing `]`"),
        ] {
            let err = document(text).unwrap_err();
            assert!(
                matches!(err, ReadError::JsonDocument { .. }),
                "{text}: {err}"
            );
            assert!(err.to_string().contains(needle), "{text}: {err}");
            assert_eq!(err.reason(), QuarantineReason::ParseError);
        }
        // On one line, a broken array is an NDJSON file's bad first row, and the rows after
        // it land: `[1, 2]`, `[x`, `[{"id": 1},]`.
        for first in ["[1, 2]", "[x", "[{\"id\": 1},]"] {
            let items = document(&format!("{first}\n{{\"id\": 2}}\n")).unwrap();
            assert_eq!(
                bad_line(&items[0]).map(|(line, _)| line),
                Some(1),
                "{first}"
            );
            assert_eq!(items[1], row(2, json!({"id": 2})), "{first}");
        }
        // A one-line array of objects is a document (as `json.dumps` writes it).
        assert_eq!(
            document("[{\"id\": 1}, {\"id\": 2}]").unwrap(),
            vec![row(1, json!({"id": 1})), row(1, json!({"id": 2}))]
        );
    }

    #[test]
    fn a_pretty_printed_object_is_one_row_and_a_stream_of_them_one_row_each() {
        // One object, as an API answer or `json.dump(obj, indent=2)` writes it.
        let one = "\u{feff}\n{\n  \"id\": 1,\n  \"note\": \"a } b { c \\\" d\",\n  \"tags\": [1, {\"x\": [2]}]\n}\n";
        assert_eq!(
            document(one).unwrap(),
            vec![row(
                2,
                json!({"id": 1, "note": "a } b { c \" d", "tags": [1, {"x": [2]}]})
            )]
        );
        // `jq .` output: values one after another; a value that is no object, or no JSON,
        // is a bad row and the rest go on.
        let stream = "{\n  \"id\": 1\n}\n{\n  \"id\": 2\n}\n7\n{\"id\": tru}\n\n{\n  \"id\": 3\n}";
        let items = document(stream).unwrap();
        assert_eq!(items[0], row(1, json!({"id": 1})));
        assert_eq!(items[1], row(4, json!({"id": 2})));
        let (line, message) = bad_line(&items[2]).unwrap();
        assert_eq!(line, 7);
        assert!(
            message.contains("value 3 of the JSON document is a number"),
            "{message}"
        );
        let (line, message) = bad_line(&items[3]).unwrap();
        assert_eq!(line, 8);
        assert!(message.contains("invalid JSON in value 4"), "{message}");
        assert_eq!(items[4], row(10, json!({"id": 3})));
        assert_eq!(items.len(), 5);
    }

    #[test]
    fn a_json_document_cut_short_or_joined_by_commas_ends_the_file() {
        for (text, needle) in [
            ("{\n\"id\": 1\n}\n{\n\"id\": 2\n", "ends inside value 2"),
            ("{\n\"id\": 1,\n\"note\": \"x\"\n", "ends inside value 1"),
            (
                "{\n\"id\": 1\n},\n{\"id\": 2}\n",
                "needs `[` and `]` around it",
            ),
        ] {
            let err = document(text).unwrap_err();
            assert!(
                matches!(err, ReadError::JsonDocument { .. }),
                "{text}: {err}"
            );
            assert!(err.to_string().contains(needle), "{text}: {err}");
            assert!(
                err.to_string()
                    .starts_with("the JSON document is malformed at line"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_broken_first_line_is_still_an_ndjson_row_not_a_document() {
        // The first line opens an object the next line does not continue: NDJSON, whose
        // first row is bad and whose other rows land.
        for first in ["{\"id\": 1", "{\"id\": 1, \"n\": \"x", "{"] {
            let items = document(&format!("{first}\n{{\"id\": 2}}\n{{\"id\": 3}}\n")).unwrap();
            assert_eq!(bad_line(&items[0]).map(|(l, _)| l), Some(1), "{first}");
            assert_eq!(items[1], row(2, json!({"id": 2})), "{first}");
            assert_eq!(items.len(), 3, "{first}");
        }
        // One broken line and nothing else: one bad row.
        let items = document("{\"id\": 1").unwrap();
        assert_eq!(bad_line(&items[0]).map(|(l, _)| l), Some(1));
        // Nesting too deep to tell is NDJSON too.
        let deep = format!("{}\n{{\"id\": 2}}\n", "{\"a\":".repeat(1000));
        let items = document(&deep).unwrap();
        assert_eq!(items[1], row(2, json!({"id": 2})));
    }

    #[test]
    fn a_pretty_printed_object_longer_than_the_head_is_still_one_row() {
        let fields: Vec<String> = (0..8000).map(|i| format!("  \"f{i}\": {i}")).collect();
        let text = format!("{{\n{}\n}}\n", fields.join(",\n"));
        assert!(text.len() > SNIFF_BYTES);
        let limits = Limits {
            max_line_bytes: 1 << 20,
            ..limits()
        };
        let items = all(RowReader::new(
            Box::new(io::Cursor::new(text.into_bytes())),
            Compression::None,
            Format::Ndjson,
            &limits,
            &schema(),
            0,
        )
        .unwrap())
        .unwrap();
        assert_eq!(items.len(), 1);
        let RowItem::Row { line, value } = &items[0] else {
            panic!("{:?}", items[0])
        };
        assert_eq!(*line, 1);
        assert_eq!(value["f7999"], json!(7999));
    }

    #[test]
    fn a_first_line_of_brackets_longer_than_the_head_is_an_ndjson_row() {
        let text = format!("{}\n{{\"id\": 1}}\n", "[".repeat(100_000));
        let items = document(&text).unwrap();
        assert_eq!(bad_line(&items[0]).map(|(line, _)| line), Some(1));
        assert_eq!(items[1], row(2, json!({"id": 1})));
    }

    #[test]
    fn a_json_array_document_longer_than_the_head_is_still_a_document() {
        let rows: Vec<String> = (0..5000).map(|i| format!("{{\"id\": {i}}}")).collect();
        let items = document(&format!("[{}]", rows.join(", "))).unwrap();
        assert_eq!(items.len(), 5000);
        assert_eq!(items[4999], row(1, json!({"id": 4999})));
        let gz = gzip(format!("[\n{}\n]\n", rows.join(",\n")).as_bytes());
        let items = all(reader(gz, Compression::Gzip, Format::Ndjson).unwrap()).unwrap();
        assert_eq!(items.len(), 5000);
        assert_eq!(items[1], row(3, json!({"id": 1})));
    }

    #[test]
    fn a_json_array_element_over_the_line_limit_is_a_bad_row_and_the_next_is_read() {
        let long = "x".repeat(100);
        let text = format!("[{{\"note\": \"{long}\"}}, {{\"id\": 1}}]");
        let limits = Limits {
            max_line_bytes: 50,
            ..limits()
        };
        let items = all(RowReader::new(
            Box::new(io::Cursor::new(text.into_bytes())),
            Compression::None,
            Format::Ndjson,
            &limits,
            &schema(),
            0,
        )
        .unwrap())
        .unwrap();
        assert!(
            matches!(&items[0], RowItem::Bad { too_long: true, message, .. } if message.contains("element 1")),
            "{items:?}"
        );
        assert_eq!(items[1], row(1, json!({"id": 1})));
    }

    #[test]
    fn ndjson_after_blank_lines_keeps_its_line_numbers() {
        assert_eq!(
            ndjson("\n\n  \n{\"id\": 1}\n"),
            vec![row(4, json!({"id": 1}))]
        );
        assert_eq!(
            ndjson("\u{feff}{\"id\": 1}\n{\"id\": 2}"),
            vec![row(1, json!({"id": 1})), row(2, json!({"id": 2}))]
        );
    }

    #[test]
    fn rows_carry_one_based_line_numbers_and_blank_lines_are_skipped() {
        let items = ndjson("{\"id\":1}\r\n\n   \r\n{\"id\":2}");
        assert_eq!(
            items,
            vec![row(1, json!({"id": 1})), row(4, json!({"id": 2}))]
        );
    }

    #[test]
    fn row_text_is_the_line_as_read() {
        let mut r = reader(
            b"{\"id\": 1}\r\n\n{\"id\":2}".to_vec(),
            Compression::None,
            Format::Ndjson,
        )
        .unwrap();
        assert!(matches!(r.next_row().unwrap(), Some(RowItem::Row { .. })));
        assert_eq!(r.row_text(), Some(&b"{\"id\": 1}"[..]));
        assert!(matches!(r.next_row().unwrap(), Some(RowItem::Row { .. })));
        assert_eq!(r.row_text(), Some(&b"{\"id\":2}"[..]));
        let mut csv = reader(b"id\n1\n".to_vec(), Compression::None, Format::Csv).unwrap();
        assert_eq!(csv.row_text(), None);
        assert!(matches!(csv.next_row().unwrap(), Some(RowItem::Row { .. })));
        assert_eq!(csv.row_text(), Some(&b"{\"id\":1}"[..]));
    }

    /// The JSON text a CSV record is decoded from is the text its typed value serialises to,
    /// whatever the cells hold: a decoder reading the text sees exactly the row the
    /// value-based path checks.
    #[test]
    fn csv_record_text_is_its_typed_value_serialised() {
        use proptest::prelude::*;
        let cell = prop_oneof![
            Just(String::new()),
            Just(" 12 ".to_string()),
            Just("-0".to_string()),
            Just("+7".to_string()),
            Just("1e400".to_string()),
            Just("NaN".to_string()),
            Just("inf".to_string()),
            Just("TRUE".to_string()),
            Just(" false".to_string()),
            Just("9223372036854775808".to_string()),
            Just("0.1".to_string()),
            Just("\u{2028}\"\\\u{1}".to_string()),
            "[a-z0-9 .eE+-]{0,12}",
            any::<f64>().prop_map(|x| x.to_string()),
            any::<i64>().prop_map(|x| x.to_string()),
            ".{0,8}",
        ];
        let csv_cell = |c: &str| format!("\"{}\"", c.replace('"', "\"\""));
        proptest!(|(rows in proptest::collection::vec(proptest::collection::vec(cell, 5), 1..8))| {
            let mut text = String::from("id,price,paid,note,other\n");
            for row in &rows {
                text.push_str(&row.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(","));
                text.push('\n');
            }
            let mut lazy = reader(text.clone().into_bytes(), Compression::None, Format::Csv).unwrap();
            let mut eager = reader(text.into_bytes(), Compression::None, Format::Csv).unwrap();
            while let Some(next) = lazy.next_text().unwrap() {
                let item = eager.next_row().unwrap().unwrap();
                let Next::Text { line } = next else {
                    prop_assert_eq!(Next::Item(item), next);
                    continue;
                };
                let RowItem::Row { value, .. } = &item else {
                    panic!("a record given as text is a row: {item:?}");
                };
                prop_assert_eq!(
                    std::str::from_utf8(lazy.row_text().unwrap()).unwrap(),
                    serde_json::to_string(value).unwrap()
                );
                prop_assert_eq!(
                    std::str::from_utf8(eager.row_text().unwrap()).unwrap(),
                    serde_json::to_string(value).unwrap()
                );
                prop_assert_eq!(lazy.parse(line), item);
            }
            prop_assert!(eager.next_row().unwrap().is_none());
        });
    }

    /// RFC 4180 read one byte at a time, the way the record parser read before it copied
    /// runs of bytes: the reference [`CsvParser::feed`] is held to.
    fn feed_bytewise(position: &mut CsvPosition, cells: &mut Vec<Vec<u8>>, line: &[u8]) -> bool {
        let (body, newline) = match line.strip_suffix(b"\n") {
            Some(body) => (body, true),
            None => (line, false),
        };
        if cells.is_empty() {
            cells.push(vec![]);
        }
        for &b in body {
            let field = cells.last_mut().expect("a field is open");
            *position = match (*position, b) {
                (CsvPosition::FieldStart, b'"') => CsvPosition::Quoted,
                (CsvPosition::FieldStart | CsvPosition::Unquoted, b',')
                | (CsvPosition::QuoteInQuoted, b',') => {
                    cells.push(vec![]);
                    CsvPosition::FieldStart
                }
                (CsvPosition::FieldStart | CsvPosition::Unquoted, _) => {
                    field.push(b);
                    CsvPosition::Unquoted
                }
                (CsvPosition::Quoted, b'"') => CsvPosition::QuoteInQuoted,
                (CsvPosition::Quoted, _) => {
                    field.push(b);
                    CsvPosition::Quoted
                }
                (CsvPosition::QuoteInQuoted, b'"') => {
                    field.push(b'"');
                    CsvPosition::Quoted
                }
                (CsvPosition::QuoteInQuoted, _) => {
                    field.push(b);
                    CsvPosition::Unquoted
                }
            };
        }
        let field = cells.last_mut().expect("a field is open");
        if *position == CsvPosition::Quoted {
            if newline {
                field.push(b'\n');
            }
            return false;
        }
        if *position == CsvPosition::Unquoted && field.last() == Some(&b'\r') {
            field.pop();
        }
        true
    }

    /// The record parser splits any lines, quotes, stray quotes and `\r` included, into
    /// the fields the byte-at-a-time machine gives, and ends a record where it does.
    #[test]
    fn csv_fields_are_those_of_the_bytewise_machine() {
        use proptest::prelude::*;
        let byte = prop_oneof![
            Just(b'a'),
            Just(b','),
            Just(b'"'),
            Just(b'\r'),
            Just(b' '),
            Just(0xc3u8),
        ];
        let line = proptest::collection::vec(byte, 0..24).prop_map(|mut l| {
            l.push(b'\n');
            l
        });
        proptest!(|(lines in proptest::collection::vec(line, 1..5), last_unterminated in any::<bool>())| {
            let mut lines = lines;
            if last_unterminated {
                lines.last_mut().expect("one line at least").pop();
            }
            let mut parser = CsvParser::new((0..3).map(|_| Vec::with_capacity(8)).collect());
            let mut position = CsvPosition::FieldStart;
            let mut expected = vec![];
            for line in &lines {
                let done = parser.feed(line);
                prop_assert_eq!(done, feed_bytewise(&mut position, &mut expected, line));
                prop_assert_eq!(parser.position, position);
                if done {
                    break;
                }
            }
            let mut cells = parser.cells.clone();
            cells.push(parser.field.clone());
            prop_assert_eq!(cells, expected);
        });
    }

    /// Buffers kept for reuse stay small: a long cell's buffer is freed, not pooled.
    #[test]
    fn csv_reuse_keeps_no_long_buffer() {
        let long = "x".repeat(200_000);
        let text = format!("id,note\n1,{long}\n2,{long}\n3,short\n");
        let limits = Limits {
            max_line_bytes: 1 << 20,
            ..Limits::default()
        };
        let mut r = RowReader::new(
            Box::new(io::Cursor::new(text.into_bytes())),
            Compression::None,
            Format::Csv,
            &limits,
            &schema(),
            1,
        )
        .unwrap();
        let mut rows = 0;
        while let Some(item) = r.next_row().unwrap() {
            assert!(matches!(item, RowItem::Row { .. }), "{item:?}");
            rows += 1;
            let Inner::Csv(state) = &r.inner else {
                panic!("not CSV")
            };
            let pooled: usize = state.spare.iter().map(Vec::capacity).sum();
            assert!(pooled <= 4 * MAX_SPARE_BYTES, "{pooled} bytes pooled");
        }
        assert_eq!(rows, 3);
    }

    #[test]
    fn csv_bad_records_are_items_when_read_as_text() {
        let mut r = reader(
            b"id,note\n1\n2,\xff\n3,x\n".to_vec(),
            Compression::None,
            Format::Csv,
        )
        .unwrap();
        let bad = |next: Option<Next>| match next {
            Some(Next::Item(RowItem::Bad { line, message, .. })) => (line, message),
            other => panic!("expected a bad record, got {other:?}"),
        };
        assert_eq!(
            bad(r.next_text().unwrap()),
            (2, "line 2 has 1 fields, the header has 2".to_string())
        );
        assert_eq!(
            bad(r.next_text().unwrap()),
            (3, "column \"note\" is not valid UTF-8".to_string())
        );
        assert_eq!(r.next_text().unwrap(), Some(Next::Text { line: 4 }));
        assert_eq!(r.row_text(), Some(&b"{\"id\":3,\"note\":\"x\"}"[..]));
    }

    /// A record's UTF-8 is checked on its line, or cell by cell when a quoted field spans
    /// lines: either way a bad byte names its column and characters of any width pass.
    #[test]
    fn csv_utf8_is_checked_on_one_line_and_across_lines() {
        let text = b"id,note,other\n1,\xc3\xa9t\xc3\xa9,\xe2\x82\xac\n2,\"a\nb\xff\",x\n\
                     3,\"a\nb\",\xf0\x9f\x90\n4,x,\xc3\n";
        let mut r = reader(text.to_vec(), Compression::None, Format::Csv).unwrap();
        let mut seen = vec![];
        while let Some(next) = r.next_text().unwrap() {
            seen.push(match next {
                Next::Text { line } => (
                    line,
                    String::from_utf8(r.row_text().unwrap().to_vec()).unwrap(),
                ),
                Next::Item(RowItem::Bad { line, message, .. }) => (line, message),
                Next::Item(row) => panic!("a row as an item: {row:?}"),
            });
        }
        assert_eq!(
            seen,
            [
                (2, r#"{"id":1,"note":"été","other":"€"}"#.to_string()),
                (3, "column \"note\" is not valid UTF-8".to_string()),
                (5, "column \"other\" is not valid UTF-8".to_string()),
                (7, "column \"other\" is not valid UTF-8".to_string()),
            ]
        );
    }

    #[test]
    fn the_extension_picks_the_format() {
        assert_eq!(format_for_key("orders/a.csv", Format::Ndjson), Format::Csv);
        assert_eq!(
            format_for_key("orders/a.CSV.gz", Format::Ndjson),
            Format::Csv
        );
        assert_eq!(
            format_for_key("orders/a.jsonl.zst", Format::Csv),
            Format::Ndjson
        );
        assert_eq!(format_for_key("orders/a.json", Format::Csv), Format::Ndjson);
        assert_eq!(format_for_key("orders/a", Format::Csv), Format::Csv);
        assert_eq!(format_for_key("orders/a.txt", Format::Csv), Format::Csv);
        // The directory's name says nothing.
        assert_eq!(format_for_key("x.csv/a", Format::Ndjson), Format::Ndjson);
    }

    #[test]
    fn malformed_line_is_bad_item_with_line_number() {
        let items = ndjson("{\"id\":1}\n{\"id\": }\n{\"id\":3}\n");
        assert_eq!(items.len(), 3);
        match &items[1] {
            RowItem::Bad {
                line,
                message,
                raw,
                too_long,
            } => {
                assert_eq!(*line, 2);
                assert!(message.contains("invalid JSON at column"), "{message}");
                assert_eq!(raw, "{\"id\": }");
                assert!(!too_long);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_object_line_is_bad_item() {
        let items = ndjson("[1,2]\n42\n");
        assert!(matches!(&items[0], RowItem::Bad { message, .. } if message.contains("an array")));
        assert!(matches!(&items[1], RowItem::Bad { line: 2, .. }));
    }

    #[test]
    fn invalid_utf8_line_is_bad_item() {
        let mut bytes = b"{\"note\":\"".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe]);
        bytes.extend_from_slice(b"\"}\n{\"id\":1}\n");
        let items = all(reader(bytes, Compression::None, Format::Ndjson).unwrap()).unwrap();
        assert!(
            matches!(&items[0], RowItem::Bad { line: 1, message, .. } if message.contains("UTF-8"))
        );
        assert_eq!(items[1], row(2, json!({"id": 1})));
    }

    #[test]
    fn too_long_line_is_bad_item_and_reading_goes_on() {
        let long = format!("{{\"note\":\"{}\"}}", "x".repeat(100_000));
        let items = ndjson(&format!("{long}\n{{\"id\":2}}\n"));
        match &items[0] {
            RowItem::Bad {
                line: 1,
                too_long: true,
                raw,
                ..
            } => assert_eq!(raw.len(), RAW_BYTES),
            other => panic!("{other:?}"),
        }
        assert_eq!(items[1], row(2, json!({"id": 2})));
    }

    #[test]
    fn line_of_exactly_the_limit_is_accepted() {
        let value = "x".repeat(1024 - 11);
        let line = format!("{{\"note\":\"{value}\"}}");
        assert_eq!(line.len(), 1024);
        let items = ndjson(&format!("{line}\r\n"));
        assert!(matches!(items[0], RowItem::Row { .. }), "{:?}", items[0]);
    }

    #[test]
    fn deep_nesting_is_bad_item_not_stack_overflow() {
        let deep = format!("{{\"a\":{}}}\n{{\"id\":1}}\n", "[".repeat(10_000));
        let mut l = limits();
        l.max_line_bytes = 1 << 20;
        let r = RowReader::new(
            Box::new(io::Cursor::new(deep.into_bytes())),
            Compression::None,
            Format::Ndjson,
            &l,
            &schema(),
            0,
        )
        .unwrap();
        let items = all(r).unwrap();
        assert!(
            matches!(&items[0], RowItem::Bad { line: 1, message, .. } if message.contains("recursion")),
            "{:?}",
            items[0]
        );
        assert_eq!(items[1], row(2, json!({"id": 1})));
    }

    #[test]
    fn gzip_detected_by_magic_bytes() {
        assert_eq!(
            detect_compression("a.ndjson", &[0x1f, 0x8b, 8]),
            Compression::Gzip
        );
        assert_eq!(
            detect_compression("a.gz", &[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(detect_compression("a.ndjson.GZ", b"{}"), Compression::Gzip);
        assert_eq!(detect_compression("a.ndjson.zst", b""), Compression::Zstd);
        assert_eq!(detect_compression("a.ndjson", b"{}"), Compression::None);
    }

    #[test]
    fn gzip_and_zstd_objects_are_read() {
        let text = b"{\"id\":1}\n{\"id\":2}\n";
        let gz = all(reader(gzip(text), Compression::Gzip, Format::Ndjson).unwrap()).unwrap();
        let zst = zstd::encode_all(&text[..], 3).unwrap();
        let zs = all(reader(zst, Compression::Zstd, Format::Ndjson).unwrap()).unwrap();
        assert_eq!(gz, zs);
        assert_eq!(gz.len(), 2);
    }

    #[test]
    fn content_that_is_no_text_is_refused_by_what_it_is_whatever_the_name() {
        let utf16 = |text: &str, bom: bool| {
            let mut bytes = if bom { vec![0xff, 0xfe] } else { vec![] };
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            bytes
        };
        let parquet = [b"PAR1".to_vec(), vec![0x15, 0x04, 0x15, 0x10], vec![0; 64]].concat();
        for (bytes, compression, format, found) in [
            (
                parquet.clone(),
                Compression::None,
                Format::Ndjson,
                "Parquet",
            ),
            (parquet, Compression::Zstd, Format::Csv, "Parquet"),
            (
                b"PK\x03\x04\x14\x00rest".to_vec(),
                Compression::None,
                Format::Csv,
                "a zip archive",
            ),
            (
                gzip(&gzip(b"{\"id\": 1}\n")),
                Compression::Gzip,
                Format::Ndjson,
                "gzip compressed a second time",
            ),
            (
                utf16("id,name\n1,a\n", true),
                Compression::None,
                Format::Csv,
                "UTF-16",
            ),
            (
                utf16("{\"id\": 1}\n{\"id\": 2}\n", false),
                Compression::None,
                Format::Ndjson,
                "UTF-16",
            ),
        ] {
            let bytes = match compression {
                Compression::Zstd => zstd::encode_all(&bytes[..], 3).unwrap(),
                _ => bytes,
            };
            let e = reader(bytes, compression, format)
                .and_then(all)
                .unwrap_err();
            assert!(matches!(e, ReadError::NotText { .. }), "{found}: {e:?}");
            assert!(e.to_string().contains(found), "{e}");
            assert_eq!(e.reason(), QuarantineReason::UnsupportedFormat);
        }
        // Text that starts like a magic is text: an ORCID column, a PAR1 score.
        for text in [
            "ORCID,name\n0000-0002-1825-0097,Ann\n",
            "PAR1_score,name\n3,Ann\n",
        ] {
            let items =
                all(reader(text.as_bytes().to_vec(), Compression::None, Format::Csv).unwrap())
                    .unwrap();
            assert_eq!(items.len(), 1, "{text}");
        }
        // A NUL byte inside a CSV cell is the row's business, not a binary file.
        let items = all(reader(
            b"id,note\n1,a\x00b\n2,c\n".to_vec(),
            Compression::None,
            Format::Csv,
        )
        .unwrap())
        .unwrap();
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn corrupt_gzip_is_decompress_error() {
        let mut gz = gzip(&b"{\"id\":1}\n".repeat(1000));
        gz.truncate(gz.len() / 2);
        let e = reader(gz, Compression::Gzip, Format::Ndjson)
            .and_then(all)
            .unwrap_err();
        assert!(matches!(e, ReadError::Decompress { .. }), "{e:?}");
        assert_eq!(e.reason(), QuarantineReason::ParseError);
        let e = reader(
            b"not gzip at all".to_vec(),
            Compression::Gzip,
            Format::Ndjson,
        )
        .and_then(all)
        .unwrap_err();
        assert!(matches!(e, ReadError::Decompress { .. }), "{e:?}");
    }

    #[test]
    fn corrupt_zstd_is_decompress_error() {
        let mut zst = zstd::encode_all(&b"{\"id\":1}\n".repeat(1000)[..], 3).unwrap();
        zst.truncate(zst.len() / 2);
        let e = reader(zst, Compression::Zstd, Format::Ndjson)
            .and_then(all)
            .unwrap_err();
        assert!(matches!(e, ReadError::Decompress { .. }), "{e:?}");
    }

    #[test]
    fn decompression_bomb_is_too_large() {
        // 1 MiB base * ratio 2 = 2 MiB allowed; 3 MiB of newlines compress to a few KiB.
        let gz = gzip(&vec![b'\n'; 3 << 20]);
        let l = Limits {
            max_expansion_ratio: 2,
            ..limits()
        };
        let r = RowReader::new(
            Box::new(io::Cursor::new(gz.clone())),
            Compression::Gzip,
            Format::Ndjson,
            &l,
            &schema(),
            gz.len() as u64,
        )
        .unwrap();
        let e = all(r).unwrap_err();
        assert!(
            matches!(e, ReadError::TooLarge { limit } if limit == 2 << 20),
            "{e:?}"
        );
        assert_eq!(e.reason(), QuarantineReason::TooLarge);
    }

    #[test]
    fn source_failure_is_io_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "network went away",
                ))
            }
        }
        for compression in [Compression::None, Compression::Gzip] {
            let r = RowReader::new(
                Box::new(Failing),
                compression,
                Format::Ndjson,
                &limits(),
                &schema(),
                10,
            );
            let e = r.and_then(all).unwrap_err();
            match e {
                ReadError::Io { line: 1, source } => {
                    assert_eq!(source.kind(), io::ErrorKind::ConnectionReset)
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn bytes_read_counts_decompressed_bytes() {
        let text = b"{\"id\":1}\n{\"id\":2}\n";
        let mut r = reader(gzip(text), Compression::Gzip, Format::Ndjson).unwrap();
        while r.next_row().unwrap().is_some() {}
        assert_eq!(r.bytes_read(), text.len() as u64);
    }

    fn csv(text: &str) -> Vec<RowItem> {
        all(reader(text.as_bytes().to_vec(), Compression::None, Format::Csv).unwrap()).unwrap()
    }

    #[test]
    fn csv_cells_are_typed_by_schema() {
        let items = csv("id,price,paid,note,extra\n1,2.5,TRUE,hello,7\nx,,no,,\n");
        assert_eq!(
            items[0],
            row(
                2,
                json!({"id": 1, "price": 2.5, "paid": true, "note": "hello", "extra": "7"})
            )
        );
        assert_eq!(items[1], row(3, json!({"id": "x", "paid": "no"})));
    }

    #[test]
    fn csv_wrong_field_count_is_bad_item_and_reading_goes_on() {
        let items = csv("id,note\n1,a\n2,b,c\n3,d\n");
        assert_eq!(items.len(), 3);
        assert!(
            matches!(&items[1], RowItem::Bad { line: 3, message, .. } if message.contains("3 fields")),
            "{:?}",
            items[1]
        );
        assert_eq!(items[2], row(4, json!({"id": 3, "note": "d"})));
    }

    #[test]
    fn csv_quoted_newline_keeps_record_start_line() {
        let items = csv("id,note\r\n1,\"two\r\nlines\"\r\n\r\n2,x\r\n3,y");
        assert_eq!(items[0], row(2, json!({"id": 1, "note": "two\r\nlines"})));
        assert_eq!(items[1], row(5, json!({"id": 2, "note": "x"})));
        assert_eq!(items[2], row(6, json!({"id": 3, "note": "y"})));
        assert_eq!(items.len(), 3);
    }

    #[test]
    fn csv_header_with_duplicate_column_is_fatal() {
        let e = reader(b"id,id\n1,2\n".to_vec(), Compression::None, Format::Csv)
            .err()
            .unwrap();
        assert!(matches!(e, ReadError::CsvHeader { .. }), "{e:?}");
    }

    #[test]
    fn csv_bom_is_stripped_from_header() {
        let items = csv("\u{feff}id\n5\n");
        assert_eq!(items[0], row(2, json!({"id": 5})));
    }

    // See: #15
    #[test]
    fn csv_unclosed_quote_cannot_grow_past_line_limit() {
        // The quote opened on line 2 is never closed; 2-byte lines reach max_line_bytes (1024)
        // long before the line bound.
        let l = Limits {
            max_csv_field_lines: 1_000_000,
            ..limits()
        };
        let text = format!("id,note\n1,\"{}\n2,y\n", "x\n".repeat(2000));
        let items = csv_with(&text, &l);
        assert!(
            matches!(&items[0], RowItem::Bad { line: 2, message, .. } if message.contains("max_line_bytes")),
            "{:?}",
            items[0]
        );
        // Every line after it was read again: 1,999 one-field lines, a blank one, the last row.
        assert_eq!(items.len(), 2001);
        assert_eq!(items[2000], row(2003, json!({"id": 2, "note": "y"})));
    }

    fn csv_with(text: &str, l: &Limits) -> Vec<RowItem> {
        let bytes = text.as_bytes().to_vec();
        all(RowReader::new(
            Box::new(io::Cursor::new(bytes)),
            Compression::None,
            Format::Csv,
            l,
            &schema(),
            0,
        )
        .unwrap())
        .unwrap()
    }

    fn csv_lines(n: u64) -> String {
        let mut text = String::from("id,note\n");
        for i in 1..=n {
            text.push_str(&format!("{i},row {i}\n"));
        }
        text
    }

    fn counts(items: &[RowItem]) -> (usize, Vec<u64>) {
        let rows = items
            .iter()
            .filter(|i| matches!(i, RowItem::Row { .. }))
            .count();
        let bad = items
            .iter()
            .filter_map(|i| match i {
                RowItem::Bad { line, .. } => Some(*line),
                _ => None,
            })
            .collect();
        (rows, bad)
    }

    // See: #15
    #[test]
    fn csv_stray_quote_rejects_its_line_and_keeps_every_row_after_it() {
        // The quote never closes: without a bound, rows 500-1000 become one cell.
        let text = csv_lines(1000).replace("500,row 500", "500,\"row 500");
        let l = Limits {
            max_line_bytes: 1 << 20,
            max_csv_field_lines: 1_000_000,
            ..limits()
        };
        let items = csv_with(&text, &l);
        assert_eq!(counts(&items), (999, vec![501]));
        match &items[499] {
            RowItem::Bad { message, raw, .. } => {
                assert!(
                    message.contains("opened on line 501") && message.contains("end of the file"),
                    "{message}"
                );
                assert_eq!(raw, "500,\"row 500");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(items[500], row(502, json!({"id": 501, "note": "row 501"})));
        assert_eq!(
            items[999],
            row(1001, json!({"id": 1000, "note": "row 1000"}))
        );
    }

    // See: #15
    #[test]
    fn csv_quote_open_past_max_csv_field_lines_rejects_its_line_and_reads_on() {
        // The stray quote on row 10 is closed by another on row 30: a 21-line cell unless
        // bounded. The closing line then reads as an ordinary row ('"' inside a field).
        let text = csv_lines(40)
            .replace("10,row 10", "10,\"row 10")
            .replace("30,row 30", "30,row 30\"");
        let l = Limits {
            max_csv_field_lines: 8,
            ..limits()
        };
        let items = csv_with(&text, &l);
        assert_eq!(counts(&items), (39, vec![11]));
        assert!(
            matches!(&items[9], RowItem::Bad { message, .. } if message.contains("more than 8 lines (limits.max_csv_field_lines)")),
            "{:?}",
            items[9]
        );
        assert_eq!(items[29], row(31, json!({"id": 30, "note": "row 30\""})));
    }

    // See: #15
    #[test]
    fn csv_quoted_field_within_the_line_limit_still_spans_lines() {
        let l = Limits {
            max_csv_field_lines: 3,
            ..limits()
        };
        let text = "id,note\n1,\"a\nb\nc\"\n2,\"d\ne\nf\ng\"\n3,x\n";
        let items = csv_with(text, &l);
        assert_eq!(items[0], row(2, json!({"id": 1, "note": "a\nb\nc"})));
        // Four lines is one too many: line 5 is rejected, lines 6-8 are read as records.
        assert!(
            matches!(&items[1], RowItem::Bad { line: 5, .. }),
            "{:?}",
            items[1]
        );
        assert_eq!(items.last(), Some(&row(9, json!({"id": 3, "note": "x"}))));
    }

    // See: #15
    #[test]
    fn csv_record_spanning_lines_with_wrong_field_count_is_one_rejected_row_naming_its_lines() {
        let items = csv("id,note\n1,\"a\nb\",extra\n2,y\n");
        assert!(
            matches!(&items[0], RowItem::Bad { line: 2, message, .. } if message.contains("lines 2-3") && message.contains("3 fields, the header has 2")),
            "{:?}",
            items[0]
        );
        assert_eq!(items[1], row(4, json!({"id": 2, "note": "y"})));
        assert_eq!(items.len(), 2);
    }

    // See: #15
    #[test]
    fn csv_record_with_fewer_fields_than_the_header_is_rejected_with_its_line() {
        let items = csv("id,price,note\n1,2.5,a\n2,3.5\n3,4.5,c\n");
        assert!(
            matches!(&items[1], RowItem::Bad { line: 3, message, .. } if message.contains("2 fields, the header has 3")),
            "{:?}",
            items[1]
        );
        assert_eq!(counts(&items), (2, vec![3]));
    }

    // See: #15
    #[test]
    fn a_csv_separated_by_semicolons_is_named_as_such() {
        let items = csv("order_id;amount\n1;2,5\n");
        assert!(
            matches!(&items[0], RowItem::Bad { line: 2, message, .. }
                if message.contains("the header is one field holding `;`")),
            "{items:?}"
        );
        let items = csv("order_id,amount\n1,2,3\n");
        assert!(
            matches!(&items[0], RowItem::Bad { message, .. } if !message.contains("holding")),
            "{items:?}"
        );
    }

    #[test]
    fn csv_quoted_last_field_keeps_its_trailing_carriage_return() {
        let items = csv("id,note\r\n1,\"abc\r\"\r\n2,\"def\"\r\n3,ghi\r\n4,\"x\r\"");
        assert_eq!(items[0], row(2, json!({"id": 1, "note": "abc\r"})));
        assert_eq!(items[1], row(3, json!({"id": 2, "note": "def"})));
        assert_eq!(items[2], row(4, json!({"id": 3, "note": "ghi"})));
        assert_eq!(items[3], row(5, json!({"id": 4, "note": "x\r"})));
    }

    // See: #15
    #[test]
    fn csv_doubled_quotes_and_commas_inside_quotes_are_one_field() {
        let items = csv("id,note\n1,\"say \"\"hi\"\", then go\"\n2,\n");
        assert_eq!(
            items[0],
            row(2, json!({"id": 1, "note": "say \"hi\", then go"}))
        );
        assert_eq!(items[1], row(3, json!({"id": 2})));
    }

    // See: #15
    #[test]
    fn csv_too_long_line_is_bad_item_and_reading_goes_on() {
        let text = format!("id,note\n1,{}\n2,y\n", "x".repeat(5000));
        let items = csv(&text);
        assert!(
            matches!(
                &items[0],
                RowItem::Bad {
                    line: 2,
                    too_long: true,
                    ..
                }
            ),
            "{:?}",
            items[0]
        );
        assert_eq!(items[1], row(3, json!({"id": 2, "note": "y"})));
    }

    // See: #15
    #[test]
    fn ndjson_byte_order_mark_does_not_cost_the_first_row() {
        let items = ndjson("\u{feff}{\"id\":1}\n{\"id\":2}\n");
        assert_eq!(
            items,
            vec![row(1, json!({"id": 1})), row(2, json!({"id": 2}))]
        );
        let mut r = reader(
            "\u{feff}{\"id\":1}\n".as_bytes().to_vec(),
            Compression::None,
            Format::Ndjson,
        )
        .unwrap();
        assert!(matches!(r.next_row().unwrap(), Some(RowItem::Row { .. })));
        assert_eq!(r.row_text(), Some(&b"{\"id\":1}"[..]));
        // Only before the first line: elsewhere it is data, and not JSON.
        let items = ndjson("{\"id\":1}\n\u{feff}{\"id\":2}\n");
        assert!(
            matches!(&items[1], RowItem::Bad { line: 2, .. }),
            "{:?}",
            items[1]
        );
    }

    // See: #15
    #[test]
    fn gzip_ndjson_byte_order_mark_does_not_cost_the_first_row() {
        let gz = gzip("\u{feff}{\"id\":1}\n".as_bytes());
        let items = all(reader(gz, Compression::Gzip, Format::Ndjson).unwrap()).unwrap();
        assert_eq!(items, vec![row(1, json!({"id": 1}))]);
    }

    // See: #15
    #[test]
    fn csv_quoted_header_after_byte_order_mark_is_read() {
        let items = csv("\u{feff}\"id\",\"note\"\n5,a\n");
        assert_eq!(items[0], row(2, json!({"id": 5, "note": "a"})));
    }

    #[test]
    fn extensions_of_other_formats_are_refused() {
        for key in [
            "a.orc",
            "a.zip",
            "a.avro",
            "a.xlsx",
            "a.ndjson.bz2",
            "a.xz",
            "a.tar",
            "a.tar.gz",
        ] {
            assert!(check_extension(key, Format::Ndjson).is_err(), "{key}");
        }
        for key in [
            "a.parquet",
            "a.ndjson",
            "a.jsonl.gz",
            "a.json.zst",
            "a.txt",
            "dir.v2/a",
            "A.NDJSON.GZ",
            "a.csv",
        ] {
            assert!(check_extension(key, Format::Ndjson).is_ok(), "{key}");
        }
        assert!(check_extension("a.csv.gz", Format::Csv).is_ok());
        // The object's own extension picks its format, so both are accepted in any table.
        assert!(check_extension("a.ndjson", Format::Csv).is_ok());
    }

    /// JSON values whose strings hold the characters the framing scan must get right.
    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[\\[\\]{},\"\\\\ \\na-z]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-z\\]\\[,\"]{1,6}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Any array of objects, written compact or pretty by serde_json, reads back as the
        /// same rows in order, each at the line its element starts on.
        #[test]
        fn a_json_array_document_reads_back_as_written(
            rows in proptest::collection::vec(
                proptest::collection::btree_map("[a-z\\]\\[,\"]{1,6}", arbitrary_json(), 0..5),
                0..20,
            ),
            pretty: bool,
        ) {
            let rows: Vec<Value> = rows.into_iter().map(|m| Value::Object(m.into_iter().collect())).collect();
            let text = if pretty {
                serde_json::to_string_pretty(&rows).unwrap()
            } else {
                serde_json::to_string(&rows).unwrap()
            };
            let items = document(&text).unwrap();
            let values: Vec<&Value> = items
                .iter()
                .map(|item| match item {
                    RowItem::Row { value, .. } => value,
                    RowItem::Bad { message, .. } => panic!("{message} in {text}"),
                })
                .collect();
            proptest::prop_assert_eq!(values, rows.iter().collect::<Vec<_>>());
            if !pretty {
                let on_line_one = items.iter().all(|i| matches!(i, RowItem::Row { line: 1, .. }));
                proptest::prop_assert!(on_line_one, "compact rows not all on line 1");
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
                                       csv_format: bool, compression in 0u8..3) {
            let compression = [Compression::None, Compression::Gzip, Compression::Zstd][compression as usize];
            let format = if csv_format { Format::Csv } else { Format::Ndjson };
            let mut l = limits();
            l.max_line_bytes = 64;
            if let Ok(mut r) = RowReader::new(Box::new(io::Cursor::new(bytes)), compression, format, &l, &schema(), 0) {
                for _ in 0..10_000 {
                    match r.next_row() {
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => break,
                    }
                }
            }
        }
    }
}
