//! `sluice-gen`: writes the benchmark's data files (see the crate docs) and prints how many
//! rows each holds and how many are valid.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use sluice_bench::{files, generate, Spec};

/// Deterministic orders data for `make bench`: nested NDJSON, flat CSV, small files.
#[derive(Debug, Parser)]
#[command(name = "sluice-gen")]
struct Args {
    /// Output directory (created); manifest.json there records every count.
    #[arg(long, default_value = "target/bench-data")]
    out: PathBuf,
    /// Rows of orders.ndjson and orders.csv.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Share of broken rows (wrong type, missing field, bad enum, malformed line).
    #[arg(long, default_value_t = 0.01)]
    invalid_ratio: f64,
    /// Small NDJSON files under small/.
    #[arg(long, default_value_t = 1000)]
    small_files: u64,
    /// Approximate bytes of each small file.
    #[arg(long, default_value_t = 2048)]
    small_file_bytes: u64,
    /// Rows of orders-big.ndjson (about 330 bytes each); 0 writes none.
    #[arg(long, default_value_t = 0)]
    big_rows: u64,
    /// Rows of orders-spread.ndjson (valid orders over --spread-days days, in random
    /// order); 0 writes none.
    #[arg(long, default_value_t = 300_000)]
    spread_rows: u64,
    /// Days, one daily partition each, that orders-spread.ndjson's rows fall in (at most 365).
    #[arg(long, default_value_t = 120)]
    spread_days: u32,
    /// Seed of every random choice: the same arguments write the same bytes.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.invalid_ratio),
        "--invalid-ratio {} is not between 0.0 and 1.0",
        args.invalid_ratio
    );
    let spec = Spec {
        rows: args.rows,
        invalid_ratio: args.invalid_ratio,
        small_files: args.small_files,
        small_file_bytes: args.small_file_bytes,
        big_rows: args.big_rows,
        spread_rows: args.spread_rows,
        spread_days: args.spread_days,
        seed: args.seed,
    };
    let started = Instant::now();
    let m = generate(&args.out, &spec)
        .with_context(|| format!("writing into {}", args.out.display()))?;
    let line = |name: &str, c: &sluice_bench::FileCounts| {
        println!(
            "{name:<22} {:>10} rows {:>10} valid {:>9.1} MB",
            c.rows,
            c.valid,
            c.bytes as f64 / 1e6
        )
    };
    line(files::NDJSON, &m.ndjson);
    line(files::NDJSON_VALID, &m.ndjson_valid);
    line(files::CSV, &m.csv);
    line(files::CSV_VALID, &m.csv_valid);
    line(
        &format!("{}/ ({} files)", files::SMALL_DIR, m.small_files),
        &m.small,
    );
    if let Some(big) = &m.big {
        line(files::BIG, big);
    }
    if let Some(spread) = &m.spread {
        line(
            &format!("{} ({} days)", files::SPREAD, m.spread_days),
            spread,
        );
    }
    println!(
        "wrote {} in {:.1} s",
        args.out.join(files::MANIFEST).display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
