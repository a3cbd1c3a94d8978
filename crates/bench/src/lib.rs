//! sluice-bench: the data and fixtures `make bench` measures sluice's ingest with.
//!
//! [`generate`] writes, from one seed, the files the benchmark ingests with sluice and
//! converts with DuckDB and pyarrow: a large nested orders NDJSON file with a share of broken
//! rows, the same orders as a flat CSV file, copies of both without the broken rows (pyarrow
//! cannot skip a bad line), many small NDJSON files arriving at once, and optionally a very
//! large NDJSON file for the memory test. It returns (and writes as `manifest.json`) how many
//! rows each file holds and how many of them are valid: the figure sluice's committed row
//! count must equal. `fixtures/` holds the tables' contracts and the sluice.toml files.
//!
//! # Layout
//! - `orders.rs`: one generated order and how it is written as NDJSON or CSV
//! - `bin/sluice-gen.rs`: the command line around [`generate`]
//! - `bin/sluice-webhook-bench.rs`: `make bench-webhook`, webhook arrivals per second through
//!   `sluice serve` (its own bodies of the orders example's rows; not [`generate`]'s)
//! - `benches/validate.rs`: criterion benchmark of the contract check on generated rows
//! - `run.py`: the runner `make bench-ingest` calls (tools side by side, one table)
//! - `peers.py`: DuckDB and pyarrow conversions, Python `jsonschema` and `fastjsonschema`
//!   on the same rows

mod orders;

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use orders::{Breakage, Order};

/// The directory of the benchmark's contracts and configurations.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Rows of `orders.ndjson` and `orders.csv` (the same orders in both).
    pub rows: u64,
    /// Share of those rows that are broken, 0.0 to 1.0.
    pub invalid_ratio: f64,
    /// Number of small NDJSON files under `small/`, all rows valid.
    pub small_files: u64,
    /// Approximate size of each small file in bytes.
    pub small_file_bytes: u64,
    /// Rows of `orders-big.ndjson`; 0 writes no such file.
    pub big_rows: u64,
    /// Rows of `orders-spread.ndjson`; 0 writes no such file.
    pub spread_rows: u64,
    /// Days (daily partitions) `orders-spread.ndjson`'s rows fall in, at most a year.
    pub spread_days: u32,
    /// The seed of every random choice.
    pub seed: u64,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            rows: 1_000_000,
            invalid_ratio: 0.01,
            small_files: 1000,
            small_file_bytes: 2048,
            big_rows: 0,
            spread_rows: 300_000,
            spread_days: 120,
            seed: 42,
        }
    }
}

/// What one generated file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    /// Lines or records (a CSV header not counted).
    pub rows: u64,
    /// Rows that satisfy the contract: what sluice must commit.
    pub valid: u64,
    /// Size in bytes.
    pub bytes: u64,
}

impl FileCounts {
    fn add(&mut self, other: &FileCounts) {
        self.rows += other.rows;
        self.valid += other.valid;
        self.bytes += other.bytes;
    }
}

/// Everything [`generate`] wrote, by file name relative to the output directory; written as
/// `manifest.json` beside the files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub seed: u64,
    pub invalid_ratio: f64,
    /// `orders.ndjson`: nested rows, some broken.
    pub ndjson: FileCounts,
    /// `orders-valid.ndjson`: the valid rows of `orders.ndjson` alone.
    pub ndjson_valid: FileCounts,
    /// `orders.csv`: the same orders, flat, some broken.
    pub csv: FileCounts,
    /// `orders-valid.csv`: the valid rows of `orders.csv` alone.
    pub csv_valid: FileCounts,
    /// `small/`: the small files together.
    pub small: FileCounts,
    /// Number of files in `small/`.
    pub small_files: u64,
    /// `orders-big.ndjson`, when asked for.
    pub big: Option<FileCounts>,
    /// `orders-spread.ndjson`, when asked for: valid orders over `spread_days` days.
    #[serde(default)]
    pub spread: Option<FileCounts>,
    #[serde(default)]
    pub spread_days: u32,
}

/// Names of the generated files.
pub mod files {
    pub const NDJSON: &str = "orders.ndjson";
    pub const NDJSON_VALID: &str = "orders-valid.ndjson";
    pub const CSV: &str = "orders.csv";
    pub const CSV_VALID: &str = "orders-valid.csv";
    pub const SMALL_DIR: &str = "small";
    pub const BIG: &str = "orders-big.ndjson";
    pub const SPREAD: &str = "orders-spread.ndjson";
    pub const MANIFEST: &str = "manifest.json";
}

/// A file written through a buffer, counting its rows and bytes.
struct Sink {
    out: BufWriter<File>,
    counts: FileCounts,
}

impl Sink {
    fn create(path: &Path) -> io::Result<Sink> {
        Ok(Sink {
            out: BufWriter::with_capacity(1 << 20, File::create(path)?),
            counts: FileCounts::default(),
        })
    }

    fn write(&mut self, bytes: &[u8], valid: bool) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.counts.rows += 1;
        self.counts.valid += u64::from(valid);
        self.counts.bytes += bytes.len() as u64;
        Ok(())
    }

    fn header(&mut self, line: &str) -> io::Result<()> {
        writeln!(self.out, "{line}")?;
        self.counts.bytes += line.len() as u64 + 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<FileCounts> {
        self.out.flush()?;
        Ok(self.counts)
    }
}

/// Writes the benchmark's files into `dir` (created if needed) and returns their counts.
/// The same `spec` always writes the same bytes.
pub fn generate(dir: &Path, spec: &Spec) -> io::Result<Manifest> {
    fs::create_dir_all(dir)?;
    let mut manifest = Manifest {
        seed: spec.seed,
        invalid_ratio: spec.invalid_ratio,
        ..Manifest::default()
    };
    let (ndjson, ndjson_valid, csv, csv_valid) = write_large(dir, spec)?;
    manifest.ndjson = ndjson;
    manifest.ndjson_valid = ndjson_valid;
    manifest.csv = csv;
    manifest.csv_valid = csv_valid;
    manifest.small = write_small(&dir.join(files::SMALL_DIR), spec)?;
    manifest.small_files = spec.small_files;
    if spec.big_rows > 0 {
        manifest.big = Some(write_ndjson(
            &dir.join(files::BIG),
            spec.big_rows,
            spec.invalid_ratio,
            spec.seed.wrapping_add(2),
        )?);
    }
    if spec.spread_rows > 0 {
        manifest.spread = Some(write_spread(
            &dir.join(files::SPREAD),
            spec.spread_rows,
            spec.spread_days,
            spec.seed.wrapping_add(3),
        )?);
        manifest.spread_days = spec.spread_days.clamp(1, orders::MAX_DAYS);
    }
    let text = serde_json::to_string_pretty(&manifest).map_err(io::Error::other)?;
    fs::write(dir.join(files::MANIFEST), text + "\n")?;
    Ok(manifest)
}

/// Reads a `manifest.json` that [`generate`] wrote.
pub fn read_manifest(dir: &Path) -> io::Result<Manifest> {
    let text = fs::read_to_string(dir.join(files::MANIFEST))?;
    serde_json::from_str(&text).map_err(io::Error::other)
}

/// The large NDJSON and CSV files and their valid-only copies, from one stream of orders.
fn write_large(
    dir: &Path,
    spec: &Spec,
) -> io::Result<(FileCounts, FileCounts, FileCounts, FileCounts)> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut ndjson = Sink::create(&dir.join(files::NDJSON))?;
    let mut ndjson_valid = Sink::create(&dir.join(files::NDJSON_VALID))?;
    let mut csv = Sink::create(&dir.join(files::CSV))?;
    let mut csv_valid = Sink::create(&dir.join(files::CSV_VALID))?;
    csv.header(Order::CSV_HEADER)?;
    csv_valid.header(Order::CSV_HEADER)?;
    let mut line = Vec::with_capacity(1024);
    for id in 1..=spec.rows {
        let broken = rng.random_bool(spec.invalid_ratio);
        let order = Order::random(&mut rng, id, broken);
        let valid = order.is_valid();
        line.clear();
        order.write_ndjson(&mut line)?;
        ndjson.write(&line, valid)?;
        if valid {
            ndjson_valid.write(&line, true)?;
        }
        line.clear();
        order.write_csv(&mut line)?;
        csv.write(&line, valid)?;
        if valid {
            csv_valid.write(&line, true)?;
        }
    }
    Ok((
        ndjson.finish()?,
        ndjson_valid.finish()?,
        csv.finish()?,
        csv_valid.finish()?,
    ))
}

/// One NDJSON file of `rows` orders.
pub fn write_ndjson(
    path: &Path,
    rows: u64,
    invalid_ratio: f64,
    seed: u64,
) -> io::Result<FileCounts> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sink = Sink::create(path)?;
    let mut line = Vec::with_capacity(1024);
    for id in 1..=rows {
        let broken = rng.random_bool(invalid_ratio);
        let order = Order::random(&mut rng, id, broken);
        line.clear();
        order.write_ndjson(&mut line)?;
        sink.write(&line, order.is_valid())?;
    }
    sink.finish()
}

/// One NDJSON file of `rows` valid orders, each on a random one of `days` days: an export
/// whose rows touch every daily partition, in no order.
pub fn write_spread(path: &Path, rows: u64, days: u32, seed: u64) -> io::Result<FileCounts> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sink = Sink::create(path)?;
    let mut line = Vec::with_capacity(1024);
    for id in 1..=rows {
        let order = Order::random_over(&mut rng, id, false, days);
        line.clear();
        order.write_ndjson(&mut line)?;
        sink.write(&line, true)?;
    }
    sink.finish()
}

/// `spec.small_files` files of valid orders, each grown to about `spec.small_file_bytes`.
fn write_small(dir: &Path, spec: &Spec) -> io::Result<FileCounts> {
    fs::create_dir_all(dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed.wrapping_add(1));
    let mut total = FileCounts::default();
    let mut line = Vec::with_capacity(1024);
    let mut id = 0;
    for n in 0..spec.small_files {
        let mut sink = Sink::create(&dir.join(format!("orders-{n:05}.ndjson")))?;
        while sink.counts.bytes < spec.small_file_bytes.saturating_sub(150) {
            id += 1;
            let order = Order::random(&mut rng, id, false);
            line.clear();
            order.write_ndjson(&mut line)?;
            sink.write(&line, true)?;
        }
        total.add(&sink.finish()?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_spec() -> Spec {
        Spec {
            rows: 500,
            invalid_ratio: 0.2,
            small_files: 3,
            spread_rows: 3000,
            ..Spec::default()
        }
    }

    /// The spread file's timestamps are real dates (no 31 April), its rows touch (nearly)
    /// every one of its days, out of order, and all its rows are valid.
    #[test]
    fn spread_rows_fall_on_real_days_all_over_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let m = generate(dir.path(), &small_spec()).unwrap();
        let spread = m.spread.unwrap();
        assert_eq!((spread.rows, spread.valid), (3000, 3000));
        let text = fs::read_to_string(dir.path().join(files::SPREAD)).unwrap();
        let mut days = std::collections::BTreeSet::new();
        let mut previous = String::new();
        let mut out_of_order = 0;
        for line in text.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let at = row["ordered_at"].as_str().unwrap();
            let day = chrono::DateTime::parse_from_rfc3339(at)
                .unwrap_or_else(|e| panic!("{at}: {e}"))
                .date_naive();
            days.insert(day);
            out_of_order += usize::from(at < previous.as_str());
            previous = at.to_string();
        }
        assert!(days.len() > 110, "{} days", days.len());
        assert_eq!(days.first().unwrap().to_string(), "2026-03-01");
        assert!(days.last().unwrap().to_string().as_str() <= "2026-06-28");
        assert!(out_of_order > 1000, "{out_of_order}");
    }

    #[test]
    fn the_same_seed_writes_the_same_bytes() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ma = generate(a.path(), &small_spec()).unwrap();
        let mb = generate(b.path(), &small_spec()).unwrap();
        assert_eq!(ma, mb);
        for name in [files::NDJSON, files::CSV] {
            let (x, y) = (fs::read(a.path().join(name)), fs::read(b.path().join(name)));
            assert_eq!(x.unwrap(), y.unwrap(), "{name}");
        }
    }

    #[test]
    fn valid_copies_hold_exactly_the_valid_rows() {
        let dir = tempfile::tempdir().unwrap();
        let m = generate(dir.path(), &small_spec()).unwrap();
        assert!(m.ndjson.valid < m.ndjson.rows);
        assert_eq!(m.ndjson_valid.rows, m.ndjson.valid);
        assert_eq!(m.csv_valid.rows, m.csv.valid);
        assert_eq!(m.csv.valid, m.ndjson.valid);
        let text = fs::read_to_string(dir.path().join(files::NDJSON_VALID)).unwrap();
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
        assert_eq!(read_manifest(dir.path()).unwrap(), m);
    }

    #[test]
    fn small_files_are_about_the_asked_size() {
        let dir = tempfile::tempdir().unwrap();
        let m = generate(dir.path(), &small_spec()).unwrap();
        assert_eq!(m.small_files, 3);
        for n in 0..3 {
            let len = fs::metadata(dir.path().join(format!("small/orders-{n:05}.ndjson")))
                .unwrap()
                .len();
            assert!((1500..=2600).contains(&len), "{len}");
        }
    }
}
