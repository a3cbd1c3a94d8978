//! The seeded fault-injection suite's two halves that do not depend on how executions are run:
//! the generator of files with their ground truth, and the checks of the exactly-once promise.
//!
//! The generator decides, independently of anything sluice records, what must become of each
//! file it writes: its terminal ledger state, the quarantine reason, and the exact set of
//! order ids that must be in the table. The checks read the workspace back (an Iceberg scan,
//! the table's snapshots and manifests, the ledger, the data directory) and compare. The
//! in-process suite (tests/it/chaos.rs) and the real-process variant (crates/cli/tests) share
//! both.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use iceberg::table::Table;
use rand::seq::SliceRandom;
use rand::{Rng as _, SeedableRng};
use serde_json::{json, Value};
use sluice_core::config::TableConfig;
use sluice_core::ledger::{LedgerRecord, LedgerState};
use sluice_core::QuarantineReason;
use sluice_lake::{StagedBatch, BATCH_IDS_PROPERTY};
use sluice_states::clock::Clock;
use sluice_steps::Context;

/// The suite's random source: seeded, so a schedule is reproduced from its seed alone.
pub type Rng = rand_chacha::ChaCha8Rng;

/// The random source of the schedule with this seed.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// Base seed when `CHAOS_SEED` is not set: fixed, so every run (and CI) replays the same
/// schedules.
pub const DEFAULT_SEED: u64 = 0x5_1ce0_0000;

/// Prints a suite's summary line and appends it to the file `CHAOS_SUMMARY` names, if any
/// (`make test` prints that file after the totals).
pub fn summary(line: &str) {
    println!("{line}");
    if let Ok(path) = std::env::var("CHAOS_SUMMARY") {
        use std::io::Write as _;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .expect("opening CHAOS_SUMMARY");
        writeln!(f, "{line}").expect("writing CHAOS_SUMMARY");
    }
}

/// `name`'s value as a number, or `default` when unset.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// What a generated file is, for the orders example's contract and drift policy
/// (max_invalid_ratio 0.2; additive drift evolves, incompatible drift quarantines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every row valid.
    Valid,
    /// A few rows break the contract, at most 20 %: committed without them.
    PartlyInvalid,
    /// More than 20 % of the rows break the contract: quarantined, too_many_invalid_rows.
    MostlyInvalid,
    /// Some lines are not JSON objects: each is a `parse_error` reject; at most 20 % of the
    /// lines and the file is committed without them, more and it is quarantined
    /// (too_many_invalid_rows), as the example's malformed file is.
    MalformedLines,
    /// A `.ndjson.gz` object that does not decompress: the whole file is quarantined,
    /// parse_error.
    CorruptGzip,
    /// Every row carries a new optional field: the table evolves, the file commits whole.
    AdditiveDrift,
    /// `quantity` is text in every row: an incompatible type change, quarantined
    /// drift_blocked.
    IncompatibleDrift,
    /// Every row carries a new field nested deeper than `limits.max_nesting_depth`: the
    /// evolution is refused, quarantined drift_blocked, and the table keeps its schema.
    DeepDrift,
    /// No bytes at all: filtered (nothing to ingest).
    Empty,
    /// A few rows (at most 20 %) carry a value of another type in an existing column
    /// (`quantity` as text, `amount` as an object), inside the drift sample: rejected rows,
    /// as they would be after it; the file commits without them and the table keeps its
    /// schema.
    StrayTypes,
    /// A `.csv` file with a stray opening quote in one row's last field: that row is
    /// rejected, the quote swallows no other row, the rest commit.
    StrayQuoteCsv,
    /// Valid rows after a UTF-8 byte order mark: every row commits, the first too.
    ByteOrderMark,
}

/// Kinds with their weights in a schedule.
const KINDS: [(Kind, u32); 12] = [
    (Kind::Valid, 6),
    (Kind::PartlyInvalid, 4),
    (Kind::MostlyInvalid, 2),
    (Kind::MalformedLines, 3),
    (Kind::CorruptGzip, 1),
    (Kind::AdditiveDrift, 2),
    (Kind::IncompatibleDrift, 2),
    (Kind::DeepDrift, 1),
    (Kind::Empty, 1),
    (Kind::StrayTypes, 2),
    (Kind::StrayQuoteCsv, 1),
    (Kind::ByteOrderMark, 1),
];

/// The only column evolution may add in a schedule (by [`Kind::AdditiveDrift`] files): rejected
/// rows carry `rogue`, and [`Kind::DeepDrift`] files `deep`, neither of which may ever become
/// a column.
pub const EVOLVED_COLUMN: &str = "coupon";

/// Nesting of a [`Kind::DeepDrift`] file's new field: past the default limit of 10.
const DEEP: usize = 12;

/// The terminal ledger state a file must end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terminal {
    Committed,
    Filtered,
    Quarantined(QuarantineReason),
    /// Replaced by a newer version of its key, or removed with its object.
    Retracted,
}

impl std::fmt::Display for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Terminal::Committed => f.write_str("committed"),
            Terminal::Filtered => f.write_str("filtered"),
            Terminal::Quarantined(r) => write!(f, "quarantined ({r})"),
            Terminal::Retracted => f.write_str("retracted"),
        }
    }
}

/// One generated file and the truth about it.
#[derive(Debug, Clone)]
pub struct FileSpec {
    /// File name (unique per schedule seed, so in-process fail points armed for one
    /// schedule's keys never fire in another's).
    pub name: String,
    pub kind: Kind,
    pub bytes: Vec<u8>,
    /// Rows (lines) in the file, valid or not.
    pub lines: usize,
    pub expected: Terminal,
    /// Order ids that must be in the table exactly once (empty unless committed).
    pub valid_ids: BTreeSet<u64>,
}

impl FileSpec {
    /// The object key under `prefix` (the table's).
    pub fn key(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.name)
    }
}

impl std::fmt::Display for FileSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?}: {} lines, {} valid -> {}",
            self.name,
            self.kind,
            self.lines,
            self.valid_ids.len(),
            self.expected
        )
    }
}

/// A valid orders row.
fn valid_row(rng: &mut Rng, id: u64) -> Value {
    let day = rng.random_range(1..=3);
    let statuses = ["placed", "paid", "shipped", "cancelled"];
    json!({
        "order_id": id,
        "ordered_at": format!("2026-03-0{day}T{:02}:{:02}:00Z", rng.random_range(0..24), rng.random_range(0..60)),
        "customer_email": format!("c{id}@example.com"),
        "status": statuses[rng.random_range(0..statuses.len())],
        "quantity": rng.random_range(1..=20),
        "amount": rng.random_range(0..100_000) as f64 / 100.0,
    })
}

/// A row that breaks the contract without changing any field's type (so it is a contract
/// violation, never drift).
fn invalid_row(rng: &mut Rng, id: u64) -> Value {
    let mut row = valid_row(rng, id);
    // A rejected row must never shape the table.
    row["rogue"] = json!(id);
    match rng.random_range(0..5) {
        0 => row["status"] = json!("lost"),
        1 => row["quantity"] = json!(0),
        2 => row["quantity"] = json!(5000),
        3 => row["customer_email"] = json!("nobody-at-example"),
        _ => row["amount"] = json!(-1.5),
    }
    row
}

/// A line that is not a JSON object.
fn malformed_line(rng: &mut Rng) -> String {
    let lines = [
        "{not json at all",
        "{\"order_id\": 7, \"ordered_at\": ",
        "]",
        "[1, 2, 3]",
        "\"a string\"",
    ];
    lines[rng.random_range(0..lines.len())].to_string()
}

fn text(lines: &[String]) -> Vec<u8> {
    lines
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        .into_bytes()
}

/// `bad` of `n` positions, chosen at random.
fn bad_positions(rng: &mut Rng, n: usize, bad: usize) -> HashSet<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(rng);
    all.into_iter().take(bad).collect()
}

/// The largest count of bad rows in `n` that stays within `ratio` (sluice quarantines a
/// file when rejected / total > ratio).
fn max_bad_within(n: usize, ratio: f64) -> usize {
    (0..=n)
        .rev()
        .find(|b| (*b as f64 / n as f64) <= ratio)
        .unwrap_or(0)
}

/// One file of `kind` whose order ids are `first_id ..`.
pub fn generate_file(rng: &mut Rng, name_stem: &str, kind: Kind, first_id: u64) -> FileSpec {
    let n = rng.random_range(10..=30usize);
    let ids = first_id..first_id + n as u64;
    let ratio = 0.2;
    let mut valid_ids = BTreeSet::new();
    let mut name = format!("{name_stem}.ndjson");
    let (bytes, expected) = match kind {
        Kind::Valid | Kind::AdditiveDrift => {
            let lines: Vec<String> = ids
                .map(|id| {
                    let mut row = valid_row(rng, id);
                    if kind == Kind::AdditiveDrift {
                        row["coupon"] = json!(format!("C{}", id % 7));
                    }
                    valid_ids.insert(id);
                    row.to_string()
                })
                .collect();
            (text(&lines), Terminal::Committed)
        }
        Kind::PartlyInvalid | Kind::MostlyInvalid => {
            let bad = if kind == Kind::PartlyInvalid {
                rng.random_range(1..=max_bad_within(n, ratio))
            } else {
                rng.random_range(max_bad_within(n, ratio) + 1..=n)
            };
            let at = bad_positions(rng, n, bad);
            let lines: Vec<String> = ids
                .enumerate()
                .map(|(i, id)| {
                    if at.contains(&i) {
                        invalid_row(rng, id).to_string()
                    } else {
                        valid_ids.insert(id);
                        valid_row(rng, id).to_string()
                    }
                })
                .collect();
            if kind == Kind::MostlyInvalid {
                valid_ids.clear();
                (
                    text(&lines),
                    Terminal::Quarantined(QuarantineReason::TooManyInvalidRows),
                )
            } else {
                (text(&lines), Terminal::Committed)
            }
        }
        Kind::MalformedLines => {
            let bad = rng.random_range(1..=n / 2);
            let at = bad_positions(rng, n, bad);
            let lines: Vec<String> = ids
                .enumerate()
                .map(|(i, id)| {
                    if at.contains(&i) {
                        malformed_line(rng)
                    } else {
                        valid_ids.insert(id);
                        valid_row(rng, id).to_string()
                    }
                })
                .collect();
            if bad <= max_bad_within(n, ratio) {
                (text(&lines), Terminal::Committed)
            } else {
                valid_ids.clear();
                (
                    text(&lines),
                    Terminal::Quarantined(QuarantineReason::TooManyInvalidRows),
                )
            }
        }
        Kind::CorruptGzip => {
            name = format!("{name_stem}.ndjson.gz");
            let lines: Vec<String> = ids.map(|id| valid_row(rng, id).to_string()).collect();
            let bytes = if rng.random_bool(0.5) {
                let mut gz =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                gz.write_all(&text(&lines)).expect("gzip into memory");
                let mut gz = gz.finish().expect("gzip into memory");
                gz.truncate(gz.len() / 2);
                gz
            } else {
                text(&lines)
            };
            (bytes, Terminal::Quarantined(QuarantineReason::ParseError))
        }
        Kind::IncompatibleDrift => {
            let lines: Vec<String> = ids
                .map(|id| {
                    let mut row = valid_row(rng, id);
                    row["quantity"] = json!(format!("{} units", id % 9 + 1));
                    row.to_string()
                })
                .collect();
            (
                text(&lines),
                Terminal::Quarantined(QuarantineReason::DriftBlocked),
            )
        }
        Kind::DeepDrift => {
            let lines: Vec<String> = ids
                .map(|id| {
                    let mut deep = json!(id);
                    for _ in 0..DEEP {
                        deep = json!({ "n": deep });
                    }
                    let mut row = valid_row(rng, id);
                    row["deep"] = deep;
                    row.to_string()
                })
                .collect();
            (
                text(&lines),
                Terminal::Quarantined(QuarantineReason::DriftBlocked),
            )
        }
        Kind::Empty => (vec![], Terminal::Filtered),
        Kind::StrayTypes => {
            let bad = rng.random_range(1..=max_bad_within(n, ratio).max(1));
            let at = bad_positions(rng, n, bad);
            let lines: Vec<String> = ids
                .enumerate()
                .map(|(i, id)| {
                    let mut row = valid_row(rng, id);
                    if at.contains(&i) {
                        // A rejected row must never shape the table.
                        row["rogue"] = json!(id);
                        if rng.random_bool(0.5) {
                            row["quantity"] = json!(format!("{} units", id % 9 + 1));
                        } else {
                            row["amount"] = json!({ "value": id });
                        }
                    } else {
                        valid_ids.insert(id);
                    }
                    row.to_string()
                })
                .collect();
            (text(&lines), Terminal::Committed)
        }
        Kind::StrayQuoteCsv => {
            name = format!("{name_stem}.csv");
            let stray = rng.random_range(0..n);
            let mut lines =
                vec!["order_id,ordered_at,customer_email,status,quantity,amount,note".to_string()];
            for (i, id) in ids.enumerate() {
                let row = valid_row(rng, id);
                let note = if i == stray {
                    "\"never closed"
                } else {
                    valid_ids.insert(id);
                    ""
                };
                lines.push(format!(
                    "{},{},{},{},{},{},{note}",
                    row["order_id"],
                    row["ordered_at"].as_str().unwrap_or_default(),
                    row["customer_email"].as_str().unwrap_or_default(),
                    row["status"].as_str().unwrap_or_default(),
                    row["quantity"],
                    row["amount"],
                ));
            }
            // One bad row in 10 to 30 is within the 20 % the table allows.
            (text(&lines), Terminal::Committed)
        }
        Kind::ByteOrderMark => {
            let lines: Vec<String> = ids
                .map(|id| {
                    valid_ids.insert(id);
                    valid_row(rng, id).to_string()
                })
                .collect();
            let mut bytes = b"\xef\xbb\xbf".to_vec();
            bytes.extend(text(&lines));
            (bytes, Terminal::Committed)
        }
    };
    let lines = if kind == Kind::Empty { 0 } else { n };
    FileSpec {
        name,
        kind,
        bytes,
        lines,
        expected,
        valid_ids,
    }
}

/// A schedule's files: 4 to 10, of kinds drawn by weight, with order ids unique across the
/// schedule. `tag` goes into every file name (the schedule's seed).
pub fn generate(rng: &mut Rng, tag: &str) -> Vec<FileSpec> {
    let count = rng.random_range(4..=10);
    let total: u32 = KINDS.iter().map(|(_, w)| w).sum();
    (0..count)
        .map(|i| {
            let mut pick = rng.random_range(0..total);
            let kind = KINDS
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        true
                    } else {
                        pick -= w;
                        false
                    }
                })
                .map(|(k, _)| *k)
                .unwrap_or(Kind::Valid);
            generate_file(rng, &format!("{tag}-f{i}"), kind, (i as u64 + 1) * 1000)
        })
        .collect()
}

/// A clock whose retry waits are a thousandth of what the definition asks (1 s becomes 1 ms):
/// backoff and jitter keep their shape, so racing commits still spread out, at a speed that
/// lets hundreds of schedules run in a test.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastClock;

#[async_trait::async_trait]
impl Clock for FastClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration / 1000).await
    }
}

/// Every check of the promise, in order; the problems found (empty: the promise held).
pub async fn check_all(ctx: &Context, table: &TableConfig, files: &[FileSpec]) -> Vec<String> {
    let mut problems = vec![];
    // Garbage first, as an operator would: everything after checks what gc left, so a gc that
    // removed a file a snapshot needs fails the row check.
    let gc = sluice_steps::gc::gc(
        ctx,
        table,
        &sluice_steps::gc::GcOptions {
            dry_run: false,
            min_age: std::time::Duration::ZERO,
        },
    )
    .await;
    if let Err(e) = gc {
        problems.push(format!("gc failed: {e}"));
    }
    let rows = match ctx.lake.scan_json(table).await {
        Ok(rows) => rows,
        Err(e) => {
            problems.push(format!("the table cannot be scanned: {e}"));
            vec![]
        }
    };
    problems.extend(check_rows_exactly_once(&rows, files));
    let records = match ctx.ledger.list().await {
        Ok(r) => r,
        Err(e) => return [problems, vec![format!("the ledger cannot be listed: {e}")]].concat(),
    };
    problems.extend(check_ledger(&records, &table.prefix, files));
    match sluice_steps::events::list(ctx.store.as_ref()).await {
        Ok(events) => problems.extend(check_events(&events, &records)),
        Err(e) => problems.push(format!("the outbox cannot be listed: {e}")),
    }
    match ctx.lake.load(table).await {
        Ok(Some(t)) => {
            problems.extend(check_columns(ctx, table, &t));
            problems.extend(check_snapshots(&t, &records));
            problems.extend(check_no_orphaned_files(ctx, table, &t, &records).await);
        }
        Ok(None) => {
            if files.iter().any(|f| !f.valid_ids.is_empty()) {
                problems.push("the table does not exist, yet rows should be in it".into());
            }
        }
        Err(e) => problems.push(format!("the table cannot be loaded: {e}")),
    }
    problems
}

/// Check: one `FileCommitted` event per committed object version, naming its snapshot, and
/// none for a version not committed (a version retracted after its commit keeps its own);
/// at least one `FileQuarantined` for each version in quarantine. Crashes between a
/// transition and its event, and steps run again, must neither lose nor repeat one.
pub fn check_events(
    events: &[sluice_steps::events::Event],
    records: &[LedgerRecord],
) -> Vec<String> {
    use sluice_steps::events::EventType;
    let mut problems = vec![];
    let of = |e: &sluice_steps::events::Event| {
        (
            e.detail["key"].as_str().unwrap_or_default().to_string(),
            e.detail["etag"].as_str().unwrap_or_default().to_string(),
        )
    };
    let mut committed: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    let mut quarantined: BTreeSet<(String, String)> = BTreeSet::new();
    for e in events {
        match e.kind {
            EventType::FileCommitted => committed
                .entry(of(e))
                .or_default()
                .push(e.detail["snapshot_id"].as_i64().unwrap_or_default()),
            EventType::FileQuarantined => {
                quarantined.insert(of(e));
            }
            _ => {}
        }
    }
    for r in records {
        let id = (r.object.key.clone(), r.object.etag.clone());
        let found = committed.remove(&id).unwrap_or_default();
        match &r.state {
            LedgerState::Committed { snapshot_id } if found != [*snapshot_id] => {
                problems.push(format!(
                    "{}: committed in snapshot {snapshot_id}, FileCommitted events for {found:?}",
                    r.object.key
                ))
            }
            LedgerState::Committed { .. } => {}
            LedgerState::Retracted { .. } if found.len() > 1 => problems.push(format!(
                "{}: {} FileCommitted events",
                r.object.key,
                found.len()
            )),
            LedgerState::Retracted { .. } => {}
            LedgerState::Quarantined { .. } if !quarantined.contains(&id) => problems.push(
                format!("{}: quarantined, no FileQuarantined event", r.object.key),
            ),
            other if !found.is_empty() => problems.push(format!(
                "{}: {} but FileCommitted events for {found:?}",
                r.object.key,
                other.name()
            )),
            _ => {}
        }
    }
    for ((key, _), snapshots) in committed {
        problems.push(format!(
            "{key}: FileCommitted {snapshots:?} for no ledger record"
        ));
    }
    problems
}

/// Check 5: the table's columns are the contract's, plus [`EVOLVED_COLUMN`] at most: no
/// rejected row, no quarantined file and no refused evolution changed the schema.
pub fn check_columns(ctx: &Context, table: &TableConfig, t: &Table) -> Vec<String> {
    let contract = match ctx.contract(&table.name) {
        Ok(c) => c,
        Err(e) => return vec![format!("no contract: {e}")],
    };
    let allowed: BTreeSet<&str> = contract
        .table_schema
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .chain([EVOLVED_COLUMN])
        .collect();
    t.metadata()
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .filter(|f| !allowed.contains(f.name.as_str()))
        .map(|f| {
            format!(
                "column `{}` was added, though no accepted file brings it",
                f.name
            )
        })
        .collect()
}

/// Check 1: every valid row of every file is in the table exactly once, and nothing else
/// is: the scanned order ids, counted, equal the generator's ids, each once.
pub fn check_rows_exactly_once(rows: &[Value], files: &[FileSpec]) -> Vec<String> {
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    let mut problems = vec![];
    for row in rows {
        match row.get("order_id").and_then(Value::as_u64) {
            Some(id) => *seen.entry(id).or_default() += 1,
            None => problems.push(format!("a row without an order id: {row}")),
        }
    }
    for f in files {
        let missing: Vec<u64> = f
            .valid_ids
            .iter()
            .filter(|id| !seen.contains_key(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{}: rows missing from the table: {missing:?}",
                f.name
            ));
        }
    }
    let expected: HashSet<u64> = files
        .iter()
        .flat_map(|f| f.valid_ids.iter().copied())
        .collect();
    for (id, n) in &seen {
        if *n > 1 {
            problems.push(format!("order {id} is in the table {n} times"));
        }
        if !expected.contains(id) {
            problems.push(format!(
                "order {id} is in the table but is no valid row of any file"
            ));
        }
    }
    problems
}

/// Check 2: every object version has exactly one ledger record, in a terminal state, the
/// one the generator expects (with its quarantine reason), and a committed record counts
/// exactly the file's valid rows. No record is about anything else.
pub fn check_ledger(records: &[LedgerRecord], prefix: &str, files: &[FileSpec]) -> Vec<String> {
    let mut problems = vec![];
    let mut by_key: BTreeMap<&str, Vec<&LedgerRecord>> = BTreeMap::new();
    for r in records {
        by_key.entry(r.object.key.as_str()).or_default().push(r);
    }
    for f in files {
        let key = f.key(prefix);
        let Some(found) = by_key.remove(key.as_str()) else {
            problems.push(format!(
                "{}: no ledger record (expected {})",
                f.name, f.expected
            ));
            continue;
        };
        if found.len() != 1 {
            problems.push(format!(
                "{}: {} ledger records for one version",
                f.name,
                found.len()
            ));
            continue;
        }
        let r = found[0];
        let actual = match &r.state {
            LedgerState::Committed { .. } => Some(Terminal::Committed),
            LedgerState::Filtered { .. } => Some(Terminal::Filtered),
            LedgerState::Quarantined { reason } => Some(Terminal::Quarantined(*reason)),
            LedgerState::Retracted { .. } => Some(Terminal::Retracted),
            LedgerState::Claimed | LedgerState::Staged { .. } => None,
        };
        match actual {
            None => problems.push(format!(
                "{}: the ledger says {}, not a terminal state (expected {})",
                f.name,
                r.state.name(),
                f.expected
            )),
            Some(a) if a != f.expected => problems.push(format!(
                "{}: the ledger says {a}, expected {} ({})",
                f.name,
                f.expected,
                r.detail.as_deref().unwrap_or("-")
            )),
            Some(Terminal::Committed) => {
                let valid = r.rows.as_ref().map(|c| c.valid).unwrap_or(0);
                if valid != f.valid_ids.len() as u64 {
                    problems.push(format!(
                        "{}: the ledger counts {valid} valid rows, the file has {}",
                        f.name,
                        f.valid_ids.len()
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for key in by_key.keys() {
        problems.push(format!(
            "a ledger record for {key}, which no file of the schedule is"
        ));
    }
    problems
}

/// Batch ids listed in each snapshot's summary, by snapshot id.
fn batches_by_snapshot(table: &Table) -> Vec<(i64, Vec<String>, u64)> {
    table
        .metadata()
        .snapshots()
        .map(|s| {
            let summary = &s.summary().additional_properties;
            let ids = summary
                .get(BATCH_IDS_PROPERTY)
                .map(|v| {
                    v.split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let added = summary
                .get("added-records")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            (s.snapshot_id(), ids, added)
        })
        .collect()
}

/// Check 3: snapshots are exactly the commits of new batches.
///
/// Precisely: every snapshot lists at least one batch id in its summary (sluice adds no
/// snapshot that carries no batch); no batch id is listed by two snapshots; the batch ids
/// listed are exactly those of the ledger's committed versions with valid rows, and each
/// such record names the snapshot that lists its batch; the snapshots' `added-records` sum to
/// the rows those records count. So snapshots ≤ committed versions with rows (equal while
/// each commit carries one batch; fewer once a commit groups several), and a duplicate
/// delivery, a redrive or a re-run adds no snapshot and no row. Schema evolution changes the
/// table's metadata, not its snapshots, so it adds nothing to the bound.
pub fn check_snapshots(table: &Table, records: &[LedgerRecord]) -> Vec<String> {
    let mut problems = vec![];
    let mut holder: BTreeMap<String, i64> = BTreeMap::new();
    let mut added_total = 0;
    for (snapshot, ids, added) in batches_by_snapshot(table) {
        added_total += added;
        if ids.is_empty() {
            problems.push(format!("snapshot {snapshot} carries no batch id"));
        }
        for id in ids {
            if let Some(other) = holder.insert(id.clone(), snapshot) {
                problems.push(format!(
                    "batch {id} is in two snapshots: {other} and {snapshot}"
                ));
            }
        }
    }
    let mut expected_rows = 0;
    let mut committed_with_rows = BTreeSet::new();
    for r in records {
        let LedgerState::Committed { snapshot_id } = &r.state else {
            continue;
        };
        let valid = r.rows.as_ref().map(|c| c.valid).unwrap_or(0);
        if valid == 0 {
            continue;
        }
        expected_rows += valid;
        committed_with_rows.insert(r.batch_id.0.clone());
        match holder.get(&r.batch_id.0) {
            None => problems.push(format!(
                "{} is committed in the ledger but its batch {} is in no snapshot",
                r.object.key, r.batch_id
            )),
            Some(s) if s != snapshot_id => problems.push(format!(
                "{}: the ledger names snapshot {snapshot_id}, batch {} is in snapshot {s}",
                r.object.key, r.batch_id
            )),
            Some(_) => {}
        }
    }
    for id in holder.keys() {
        if !committed_with_rows.contains(id) {
            problems.push(format!(
                "batch {id} is in a snapshot but no committed ledger record with rows has it"
            ));
        }
    }
    if added_total != expected_rows {
        problems.push(format!(
            "the snapshots added {added_total} rows, the committed records count {expected_rows}"
        ));
    }
    problems
}

/// A file path as the local file IO writes it, without the scheme.
fn local_path(location: &str) -> PathBuf {
    PathBuf::from(location.strip_prefix("file://").unwrap_or(location))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Check 4, run after garbage collection: no orphaned staged or data file.
///
/// Every file in the table's data directory is referenced by a snapshot's manifests or
/// listed by the staged manifest of a batch still in flight (a ledger record in `staged`);
/// every staged manifest of the table belongs to a batch that is committed or in flight.
/// Anything else is a file no commit will ever reference: it must not exist once `sluice
/// gc` (`sluice_steps::gc::gc`) has run. Until gc exists this checks that nothing is
/// orphaned in the first place.
pub async fn check_no_orphaned_files(
    ctx: &Context,
    table_cfg: &TableConfig,
    table: &Table,
    records: &[LedgerRecord],
) -> Vec<String> {
    let mut problems = vec![];
    let mut referenced: HashSet<PathBuf> = HashSet::new();
    let io = table.file_io();
    for snapshot in table.metadata().snapshots() {
        let list = match table.manifest_list_reader(snapshot).load().await {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!(
                    "snapshot {}: manifest list: {e}",
                    snapshot.snapshot_id()
                ));
                continue;
            }
        };
        for mf in list.entries() {
            match mf.load_manifest(io).await {
                Ok(m) => referenced.extend(m.entries().iter().map(|e| local_path(e.file_path()))),
                Err(e) => problems.push(format!("manifest {}: {e}", mf.manifest_path)),
            }
        }
    }
    let mut committed: HashSet<String> = batches_by_snapshot(table)
        .into_iter()
        .flat_map(|(_, ids, _)| ids)
        .collect();
    committed.extend(
        records
            .iter()
            .filter(|r| matches!(r.state, LedgerState::Committed { .. }))
            .map(|r| r.batch_id.0.clone()),
    );
    let mut in_flight: HashSet<String> = HashSet::new();
    for r in records {
        let LedgerState::Staged { manifest_key } = &r.state else {
            continue;
        };
        in_flight.insert(r.batch_id.0.clone());
        match ctx.store.get_bytes(manifest_key).await {
            Ok(Some((bytes, _))) => match serde_json::from_slice::<StagedBatch>(&bytes) {
                Ok(b) => referenced.extend(b.paths.iter().map(|p| local_path(p))),
                Err(e) => problems.push(format!("staged manifest {manifest_key}: {e}")),
            },
            Ok(None) => problems.push(format!(
                "{} is staged but its manifest {manifest_key} is missing",
                r.object.key
            )),
            Err(e) => problems.push(format!("staged manifest {manifest_key}: {e}")),
        }
    }
    let mut on_disk = vec![];
    walk(
        &local_path(&format!("{}/data", table.metadata().location())),
        &mut on_disk,
    );
    on_disk.sort();
    for f in on_disk {
        if !referenced.contains(&f) {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let owner = records
                .iter()
                .find(|r| name.starts_with(&format!("{}-", r.batch_id)))
                .map(|r| format!("{} ({})", r.object.key, r.state.name()))
                .unwrap_or_else(|| "no ledger record".into());
            problems.push(format!(
                "orphaned data file {}: in no snapshot and in no staged batch in flight; its batch is {owner}",
                f.display()
            ));
        }
    }
    let staged_prefix = format!(
        "{}staged/{}.{}/",
        sluice_core::config::CONTROL_PREFIX,
        table_cfg.namespace,
        table_cfg.name
    );
    match ctx.store.list(&staged_prefix).await {
        Ok(metas) => {
            for m in metas {
                let batch = m
                    .key
                    .strip_prefix(&staged_prefix)
                    .and_then(|k| k.strip_suffix(".json"))
                    .unwrap_or_default();
                if committed.contains(batch) {
                    problems.push(format!(
                        "spent staged manifest {} left after gc: its batch is committed",
                        m.key
                    ));
                } else if !in_flight.contains(batch) {
                    problems.push(format!(
                        "orphaned staged manifest {}: its batch is neither committed nor in flight",
                        m.key
                    ));
                }
            }
        }
        Err(e) => problems.push(format!("listing {staged_prefix}: {e}")),
    }
    problems
}

/// The executions of `local`'s engine that ended failed, aborted or timed out, by name: what
/// a schedule's recovery redrives, and what must be none after it.
pub async fn failed_executions(
    local: &sluice_local::Local,
) -> Result<Vec<String>, sluice_local::LocalError> {
    use sluice_states::Status;
    let mut names = vec![];
    for e in local.engine.list(None, u32::MAX).await? {
        if matches!(
            e.status,
            Status::Failed | Status::Aborted | Status::TimedOut
        ) {
            names.push(e.name);
        }
    }
    names.sort();
    Ok(names)
}
