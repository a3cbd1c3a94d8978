//! `sluice reconcile [--table T]`: for lost events. Lists each table's prefix in the bucket,
//! runs every object version the ledger never saw (one execution each, as `ingest` does),
//! and records the table's watermark, which `sluice table show` prints.
//!
//! With `--aws` the deployed stack's reconcile function does it (the one its schedule runs):
//! one synchronous Lambda Invoke per table, `{"table": name}`, and what it did is printed:
//! versions listed, executions started now and started before (or the backfill it handed
//! them to, when there were too many), the watermark.
//!
//! A table with `freshness` set whose oldest unfinished object had waited longer than that
//! gets a `late:` line naming the object (what the stack's per-table alarm fires on).

use std::path::Path;
use std::process::ExitCode;

use sluice_steps::reconcile::Watermark;

use crate::ingest::open_with_progress;
use crate::print::{exit_code, print_table, summary};
use crate::target::Target;
#[cfg(feature = "aws")]
use {
    crate::stack::{sdk_error, RECONCILE_FUNCTION},
    anyhow::{bail, Context as _},
    aws_sdk_lambda::{primitives::Blob, types::InvocationType},
    serde::{Deserialize, Serialize},
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this table (default: every table in the configuration).
    #[arg(long)]
    table: Option<String>,
    /// Print the per-file results and the watermarks as JSON lines (with --aws: the
    /// function's answer per table).
    #[arg(long)]
    json: bool,
    /// With --aws: the reconcile function (the stack output ReconcileFunctionName).
    #[arg(long, env = "SLUICE_RECONCILE_FUNCTION", value_name = "NAME")]
    function: Option<String>,
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    args: Args,
) -> anyhow::Result<ExitCode> {
    if target.aws {
        #[cfg(feature = "aws")]
        return run_aws(config, target, args).await;
    }
    let local = open_with_progress(root, config, None).await?;
    let tables = crate::remote::selected_tables(&local.ctx.config, args.table.as_deref(), config)?;
    let mut all = vec![];
    for table in &tables {
        let r = local.reconcile(table).await?;
        if args.json {
            for report in &r.ran {
                outln!("{}", serde_json::to_string(report)?);
            }
            outln!("{}", serde_json::to_string(&r.watermark)?);
        } else {
            if !r.ran.is_empty() {
                print_table(&r.ran);
            }
            let w = &r.watermark;
            outln!(
                "{}: {} objects listed, {} never seen before (ran now), {} not finished; watermark {}",
                w.table,
                w.objects,
                r.ran.len(),
                w.unfinished,
                describe(w)
            );
            if let Some(late) = w.lateness(table.freshness) {
                outln!("{}: {late}", w.table);
            }
        }
        all.extend(r.ran);
    }
    if !args.json && !all.is_empty() {
        outln!("{}", summary(&all));
    }
    Ok(exit_code(&all))
}

/// The watermark's clause of the summary line.
fn describe(w: &Watermark) -> String {
    match &w.watermark {
        Some(t) => format!(
            "{t}: every object that landed at or before it is committed, filtered or quarantined"
        ),
        None => "none: the oldest object is not finished".into(),
    }
}

/// What the reconcile function answers (crates/lambdas' `Response`): what it started, or
/// the backfill it handed the versions to.
#[cfg(feature = "aws")]
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Answer {
    Reconciled(Reconciled),
    Escalated(Escalated),
}

/// crates/lambdas' `ReconcileOutput`.
#[cfg(feature = "aws")]
#[derive(Debug, Serialize, Deserialize)]
struct Reconciled {
    table: String,
    listed: u64,
    started: Vec<String>,
    already_started: Vec<String>,
    watermark: Watermark,
}

/// crates/lambdas' `Escalated`: more versions to start than one invocation starts one by one.
#[cfg(feature = "aws")]
#[derive(Debug, Serialize, Deserialize)]
struct Escalated {
    table: String,
    listed: u64,
    to_start: u64,
    backfill: String,
    started: bool,
    watermark: Watermark,
}

/// `sluice reconcile --aws`: the stack's reconcile function, invoked once per table.
#[cfg(feature = "aws")]
async fn run_aws(config: &Path, target: &Target, args: Args) -> anyhow::Result<ExitCode> {
    // The configuration says which tables there are and how fresh each should be; with
    // --table it may be missing (the stack's function has its own copy).
    let loaded = crate::workspace::load_config(config);
    let freshness = |table: &str| {
        loaded
            .as_ref()
            .ok()
            .and_then(|c| c.table(table))
            .and_then(|t| t.freshness)
    };
    let tables: Vec<String> = match &args.table {
        Some(name) => vec![name.clone()],
        None => match &loaded {
            Ok(c) => c.tables.iter().map(|t| t.name.clone()).collect(),
            Err(e) => bail!("{e:#}"),
        },
    };
    let deployed = target.resolve().await?;
    let function = deployed.value(RECONCILE_FUNCTION, args.function.as_deref())?;
    let lambda = aws_sdk_lambda::Client::new(&deployed.sdk);
    for table in &tables {
        let request = serde_json::json!({ "table": table });
        let answer = lambda
            .invoke()
            .function_name(&function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(request.to_string()))
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| {
                format!("invoking {function} for table {table} (lambda:InvokeFunction)")
            })?;
        let payload = answer.payload().map(|b| b.as_ref()).unwrap_or_default();
        if let Some(kind) = answer.function_error() {
            let error: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
            bail!(
                "{function} failed for table {table}: {kind}: {} {}",
                error["errorType"].as_str().unwrap_or(""),
                error["errorMessage"].as_str().unwrap_or("")
            );
        }
        let answer: Answer = serde_json::from_slice(payload).with_context(|| {
            format!(
                "reading {function}'s answer for table {table}: {}",
                String::from_utf8_lossy(payload)
            )
        })?;
        if args.json {
            outln!("{}", serde_json::to_string(&answer)?);
            continue;
        }
        let w = match &answer {
            Answer::Reconciled(r) => {
                if !r.started.is_empty() || !r.already_started.is_empty() {
                    let mut t = crate::print::table(["execution", "result"]);
                    for name in &r.started {
                        t.add_row([name.as_str(), "started"]);
                    }
                    for name in &r.already_started {
                        t.add_row([name.as_str(), "already started"]);
                    }
                    outln!("{t}");
                }
                outln!(
                    "{}: {} objects listed, {} started, {} already started, {} not finished; watermark {}",
                    r.table,
                    r.listed,
                    r.started.len(),
                    r.already_started.len(),
                    r.watermark.unfinished,
                    describe(&r.watermark)
                );
                &r.watermark
            }
            Answer::Escalated(e) => {
                outln!(
                    "{}: {} objects listed, {} to start: too many for one invocation, so backfill \
                     execution {}{} starts them (their ingest executions show in `sluice \
                     executions --aws list`); watermark {}",
                    e.table,
                    e.listed,
                    e.to_start,
                    e.backfill,
                    if e.started {
                        ""
                    } else {
                        ", started earlier this hour,"
                    },
                    describe(&e.watermark)
                );
                &e.watermark
            }
        };
        if let Some(late) = w.lateness(freshness(table)) {
            outln!("{table}: {late}");
        }
    }
    if !args.json {
        outln!("follow what started with `sluice executions --aws list`");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    /// The function's two answers as crates/lambdas serialises them: a reconciliation, and
    /// one handed to a backfill (which this command once failed to read).
    #[test]
    fn both_answers_of_the_reconcile_function_are_read() {
        let watermark = serde_json::json!({
            "table": "orders", "watermark": null, "objects": 1500, "unfinished": 1500,
            "oldest_unfinished": "2026-03-01T10:00:00Z",
            "oldest_unfinished_key": "orders/a.ndjson", "at": "2026-03-01T12:00:00.000Z"
        });
        let reconciled = serde_json::json!({
            "table": "orders", "listed": 2, "removals": [], "started": ["ingest-a"],
            "already_started": [], "watermark": watermark
        });
        let escalated = serde_json::json!({
            "table": "orders", "listed": 1500, "to_start": 1500,
            "backfill": "backfill-orders-reconcile-2026030112", "started": true,
            "watermark": watermark
        });
        let r: Answer = serde_json::from_value(reconciled).unwrap();
        assert!(
            matches!(r, Answer::Reconciled(ref r) if r.started == ["ingest-a"]),
            "{r:?}"
        );
        let e: Answer = serde_json::from_value(escalated).unwrap();
        let Answer::Escalated(e) = e else {
            panic!("read as a reconciliation: {e:?}")
        };
        assert_eq!((e.to_start, e.started), (1500, true));
        assert_eq!(
            e.watermark.waiting(),
            std::time::Duration::from_secs(2 * 3600)
        );
    }
}
