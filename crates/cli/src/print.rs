//! What the commands print, shared: the arrivals table and its summary (ingest, watch,
//! reconcile, redrive, replay), an execution listing and history (local or `--aws`, from the
//! [`Executions`](crate::port::Executions) port), the exit codes, and the tables' style.

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::Value;
use sluice_local::{ArrivalReport, Outcome, Selection};

use crate::port::{HistoryRow, Listed};

/// A table in the style every command uses, with this header.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    t.set_header(header);
    t
}

/// An execution listing: a table (or `--json` lines), then the footer lines.
pub fn listing(executions: &[Listed], footer: &[String], json: bool) -> anyhow::Result<()> {
    if json {
        for e in executions {
            outln!("{}", serde_json::to_string(&e.json)?);
        }
        return Ok(());
    }
    let mut t = table([
        "execution",
        "status",
        "started",
        "took",
        "redrives",
        "error",
    ]);
    for e in executions {
        t.add_row([
            e.name.clone(),
            e.status.clone(),
            e.start.format("%Y-%m-%d %H:%M:%S").to_string(),
            took(e),
            e.redrive_count.to_string(),
            e.error.clone().unwrap_or_default(),
        ]);
    }
    outln!("{t}");
    for line in footer {
        outln!("{line}");
    }
    Ok(())
}

/// An execution's history: a table of one line per event, or GetExecutionHistory's JSON.
pub fn history(events: &[HistoryRow], json: bool) -> anyhow::Result<()> {
    if json {
        let events: Vec<&Value> = events.iter().map(|e| &e.json).collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "events": events }))?
        );
        return Ok(());
    }
    let mut t = table(["id", "type", "time", "details"]);
    for e in events {
        t.add_row([
            e.id.to_string(),
            e.kind.clone(),
            e.time.clone(),
            e.brief.clone(),
        ]);
    }
    outln!("{t}");
    Ok(())
}

/// Exit 2 when some execution did not finish (it waits for a fix and a redrive).
pub fn exit_code(reports: &[ArrivalReport]) -> ExitCode {
    if reports.iter().any(|r| r.unfinished) {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

pub fn print_table(reports: &[ArrivalReport]) {
    let mut t = table(["key", "result", "rows", "rejected", "snapshot", "detail"]);
    for r in reports {
        let (result, snapshot) = match &r.outcome {
            Outcome::Committed {
                snapshot_id,
                already: false,
            } => ("committed".to_string(), snapshot_id.to_string()),
            Outcome::Committed {
                snapshot_id,
                already: true,
            } => (
                "committed (earlier run)".to_string(),
                snapshot_id.to_string(),
            ),
            Outcome::Filtered => ("filtered".to_string(), String::new()),
            Outcome::Removed {
                snapshot_id,
                versions,
            } => (
                format!("removed ({versions} versions retracted)"),
                snapshot_id.map(|s| s.to_string()).unwrap_or_default(),
            ),
            Outcome::Superseded { snapshot_id } => (
                "superseded (a newer version is loaded)".to_string(),
                snapshot_id.to_string(),
            ),
            Outcome::Duplicate { state } => (format!("duplicate ({state})"), String::new()),
            Outcome::Quarantined { reason } => (format!("quarantined: {reason}"), String::new()),
            // The execution's own status: ABORTED (its process stopped) is not FAILED, and
            // `executions list --status` finds it only under its own name.
            Outcome::Failed { error } => (format!("{}: {error}", r.status.as_str()), String::new()),
        };
        // The columns the summary adds up: rows this run committed and rows it rejected.
        let mut detail = r.detail.clone().unwrap_or_default();
        let (rows, rejected) = match (&r.outcome, &r.rows) {
            (Outcome::Duplicate { .. }, _) | (_, None) => (String::new(), String::new()),
            (Outcome::Committed { already: true, .. }, Some(c)) => {
                if detail.is_empty() {
                    detail = format!(
                        "{} rows committed before this run ({} rejected then)",
                        c.valid, c.rejected
                    );
                }
                (String::new(), String::new())
            }
            (Outcome::Committed { .. }, Some(c)) => (c.valid.to_string(), c.rejected.to_string()),
            (_, Some(c)) => ("0".to_string(), c.rejected.to_string()),
        };
        // The whole key: files that share a name in different subdirectories are told apart.
        let file = r.key.escape_debug().to_string();
        t.add_row([file, result, rows, rejected, snapshot, detail]);
    }
    outln!("{t}");
}

/// One line: files by fate, rows committed and rejected, snapshots added.
pub fn summary(reports: &[ArrivalReport]) -> String {
    let mut committed = 0;
    let mut quarantined = 0;
    let mut duplicates = 0;
    let mut filtered = 0;
    let mut superseded = 0;
    let mut removed = 0;
    let mut failed = 0;
    let mut rows = 0;
    let mut rejected = 0;
    let mut rejected_in_quarantine = 0;
    // Snapshots these executions added (a batch another execution's group commit took in this
    // same run is not `already`: its snapshot counts, and its rows).
    let snapshots: BTreeSet<i64> = reports
        .iter()
        .filter_map(|r| match r.outcome {
            Outcome::Committed {
                snapshot_id,
                already: false,
            } => Some(snapshot_id),
            _ => None,
        })
        .collect();
    for r in reports {
        match &r.outcome {
            Outcome::Committed { already, .. } => {
                committed += 1;
                // As the table shows them: rows committed before this run are not counted.
                if !already {
                    if let Some(c) = &r.rows {
                        rows += c.valid;
                        rejected += c.rejected;
                    }
                }
            }
            Outcome::Quarantined { .. } => {
                quarantined += 1;
                if let Some(c) = &r.rows {
                    rejected += c.rejected;
                    rejected_in_quarantine += c.rejected;
                }
            }
            Outcome::Duplicate { .. } => duplicates += 1,
            Outcome::Filtered => filtered += 1,
            Outcome::Superseded { .. } => superseded += 1,
            Outcome::Removed { .. } => removed += 1,
            Outcome::Failed { .. } => failed += 1,
        }
    }
    // The rows and rejected columns of the table above, added up.
    let rejected_text = if rejected_in_quarantine > 0 {
        format!("{rejected} rows rejected ({rejected_in_quarantine} of them in quarantined files)")
    } else {
        format!("{rejected} rows rejected")
    };
    let mut superseded_text = String::new();
    if superseded > 0 {
        superseded_text.push_str(&format!(", {superseded} superseded"));
    }
    if removed > 0 {
        superseded_text.push_str(&format!(", {removed} removed"));
    }
    let mut line = format!(
        "{} file{}: {committed} committed, {quarantined} quarantined, {duplicates} duplicates, {filtered} filtered{superseded_text}; \
         {rows} rows committed, {rejected_text}, {} snapshot{} added",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        snapshots.len(),
        if snapshots.len() == 1 { "" } else { "s" }
    );
    let succeeded = reports
        .iter()
        .filter(|r| r.status == sluice_states::Status::Succeeded)
        .count();
    // Duplicates name the execution that ran before; its file may wait in quarantine.
    let in_quarantine = quarantined
        + reports
            .iter()
            .filter(
                |r| matches!(&r.outcome, Outcome::Duplicate { state } if state == "quarantined"),
            )
            .count();
    line.push_str(&format!(
        "\n{} execution{} of statemachine/ingest.asl.json: {} succeeded ({in_quarantine} of them in quarantine), {} did not finish",
        reports.len(),
        if reports.len() == 1 { "" } else { "s" },
        succeeded,
        reports.len() - succeeded
    ));
    if failed > 0 {
        // By status, each with the listing that finds it.
        let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
        for r in reports.iter().filter(|r| r.unfinished) {
            *by_status.entry(r.status.as_str()).or_default() += 1;
        }
        for (status, n) in by_status {
            line.push_str(&format!(
                "\n{n} execution{} {status}: see `sluice executions list --status {status}`, fix the cause, \
                 then `sluice redrive NAME` (every one: `sluice redrive --all`)",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    line
}

fn took(e: &Listed) -> String {
    match e.stop {
        Some(stop) => {
            let ms = (stop - e.start).num_milliseconds().max(0);
            if ms < 10_000 {
                format!("{ms} ms")
            } else {
                format!("{:.1} s", ms as f64 / 1000.0)
            }
        }
        None => String::new(),
    }
}

/// Prints the skipped files; when nothing was replayed, says so and gives the exit code (1
/// if nothing matched at all). Shared by the local and the `--aws` replay.
pub fn nothing_to_replay(
    none: bool,
    skipped: &[sluice_local::Skipped],
    selection: &Selection,
) -> Option<ExitCode> {
    for s in skipped {
        eprintln!("skipped {}: {}", s.key, s.why);
    }
    if !none {
        return None;
    }
    outln!(
        "nothing to replay: no quarantined file matches {selection} (see `sluice quarantine list`)"
    );
    Some(if skipped.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--print-input`: each planned replay's execution name and input, one JSON line each; the
/// same plan (and names) a replay would start, so a console start and a later `sluice replay`
/// never run one file twice.
pub fn replay_inputs(
    planned: &[(String, sluice_steps::payload::ReplayInput)],
    skipped: &[sluice_local::Skipped],
    selection: &Selection,
) -> anyhow::Result<ExitCode> {
    if let Some(code) = nothing_to_replay(planned.is_empty(), skipped, selection) {
        return Ok(code);
    }
    for (name, input) in planned {
        outln!("{}", serde_json::json!({ "name": name, "input": input }));
    }
    Ok(ExitCode::SUCCESS)
}

/// The first 12 hex digits of an etag: enough to tell versions apart in a table (`--json`
/// has the whole of it).
/// A time in milliseconds since the epoch as RFC 3339 UTC to the second (the number itself
/// if it is out of range).
pub fn time_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

pub fn short_etag(etag: &str) -> String {
    let bare = etag.trim_matches('"');
    bare.chars().take(12).collect()
}
