//! `sluice drift list|approve|reject`: the schema changes quarantined files wait on, and a
//! person's decision on each (`sluice_steps::drift_decisions`). Approving lets the table take
//! the additions whatever its drift policy says and replays every file waiting on them,
//! through the definition, under the same deterministic names as `sluice replay` (exactly
//! once: a file already replayed is not quarantined any more, and is skipped).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use sluice_lake::schema::from_iceberg_schema;
use sluice_local::Selection;
use sluice_steps::drift_decisions::{self, PendingChange, Verdict};

use crate::target::Target;

pub const AFTER_HELP: &str = "\
A file whose schema drift the table's policy blocks ([table.drift], e.g. additive =
\"quarantine\") waits in quarantine as drift_blocked, with the changes that blocked it. Every
file blocked by the same changes to one table waits on the same change, named by an id:

  sluice drift list                      # id, table, changes, files waiting
  sluice drift approve d3f9a0c1b2e4      # the table takes the additions; the files replay
  sluice drift reject d3f9a0c1b2e4 --reason \"coupon is PII\"

An approval is recorded in the bucket (.sluice/drift/<namespace>.<table>.json) and applies to
every later file that brings the same change (path and type) too: it widens the policy for
those fields only. Approving adds the columns to the table at once and records a new
contract version: the contract file with the approved fields as optional properties (`sluice
contract history` shows it, named by the change's id). Only additions can be approved (a new column, a new member of a struct):
a widening or an incompatible change has no column type that holds both. An approval that a
newer contract or another file made moot (the table has every column already) is refused:
replay the files instead. With --aws, the decisions are recorded in the stack's bucket and
the replays started on Step Functions.";

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The changes quarantined files wait on: id, table, the changes, the files, and the
    /// decision once there is one.
    List {
        /// Only this table.
        #[arg(long)]
        table: Option<String>,
        /// Also the changes already decided (approved with files still waiting, rejected).
        #[arg(long)]
        all: bool,
        /// Print one JSON object per change instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Approve a change: the table takes its additions, a new contract version records
    /// them, and every file waiting on it is replayed (exactly once). Again on an approved change: replays what still waits.
    Approve {
        /// The change's id, as `sluice drift list` shows it.
        id: String,
        /// Record the approval only; replay later (`sluice replay --table T`).
        #[arg(long)]
        no_replay: bool,
        /// Print the replays' results as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Reject a change: its files stay in quarantine, and it leaves the pending list.
    Reject {
        /// The change's id, as `sluice drift list` shows it.
        id: String,
        /// Why, for the record (shown by `sluice drift list --all`).
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    cmd: Command,
) -> anyhow::Result<ExitCode> {
    let ctx = crate::remote::open(target, root, config).await?;
    match cmd {
        Command::List { table, all, json } => {
            if let Some(t) = &table {
                crate::remote::selected_tables(&ctx.config, Some(t), config)?;
            }
            let changes: Vec<PendingChange> = drift_decisions::pending(&ctx)
                .await?
                .into_iter()
                .filter(|c| table.as_deref().is_none_or(|t| c.table == t))
                .filter(|c| all || c.decision.is_none())
                .collect();
            list(&changes, json)
        }
        Command::Approve {
            id,
            no_replay,
            json,
        } => {
            let change = find(&ctx, &id).await?;
            match &change.decision {
                Some(d) if d.verdict == Verdict::Rejected => bail!(
                    "drift change {id} was rejected at {}{}; its files stay in quarantine",
                    d.at,
                    d.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
                Some(d) => outln!(
                    "drift change {id} was approved at {}; replaying the {} file(s) still waiting",
                    d.at,
                    change.files.len()
                ),
                None => {
                    if let Some(why) = change.unapprovable() {
                        bail!("drift change {id} cannot be approved: {why}");
                    }
                    let table_cfg = ctx
                        .config
                        .table(&change.table)
                        .with_context(|| {
                            format!(
                                "drift change {id} is of table {}, which {} does not configure",
                                change.table,
                                config.display()
                            )
                        })?
                        .clone();
                    if let Some(table) = ctx.lake.load(&table_cfg).await? {
                        let schema = from_iceberg_schema(table.metadata().current_schema())?;
                        if let Some(why) = drift_decisions::moot(&change, &schema) {
                            bail!("drift change {id} is moot: {why}");
                        }
                    }
                    let approval = drift_decisions::approve(&ctx, &table_cfg, &change).await?;
                    outln!(
                        "approved drift change {id} of table {}: {}",
                        change.table,
                        describe(&change)
                    );
                    if !approval.evolved.is_empty() {
                        outln!(
                            "table {} now has {}",
                            change.table,
                            approval.evolved.join(", ")
                        );
                    }
                    outln!(
                        "contract version {} records it (`sluice contract show {}`)",
                        approval.contract_version,
                        change.table
                    );
                }
            }
            if no_replay {
                outln!(
                    "{} file(s) wait on it; replay them with `sluice replay --table {}`",
                    change.files.len(),
                    change.table
                );
                return Ok(ExitCode::SUCCESS);
            }
            replay(root, config, target, &id, json).await
        }
        Command::Reject { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason must say why: it is what the next person reads");
            }
            let change = find(&ctx, &id).await?;
            if let Some(d) = &change.decision {
                bail!(
                    "drift change {id} was already {} at {}",
                    d.verdict.as_str(),
                    d.at
                );
            }
            let table_cfg = ctx
                .config
                .table(&change.table)
                .with_context(|| format!("no table {:?} in {}", change.table, config.display()))?
                .clone();
            let decision = drift_decisions::decision(&change, Verdict::Rejected, Some(reason));
            drift_decisions::record(ctx.store.as_ref(), &table_cfg, decision).await?;
            outln!(
                "rejected drift change {id} of table {}; its {} file(s) stay in quarantine",
                change.table,
                change.files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The change `id`, with the files waiting on it.
async fn find(ctx: &sluice_steps::Context, id: &str) -> anyhow::Result<PendingChange> {
    drift_decisions::pending(ctx)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .with_context(|| {
            format!(
                "no quarantined file waits on drift change {id:?}; `sluice drift list` shows \
                 the ones that do"
            )
        })
}

/// Replays the files waiting on `id`: in process, or started on Step Functions with --aws.
async fn replay(
    root: &Path,
    config: &Path,
    target: &Target,
    id: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let selection = Selection::DriftChange(id.to_string());
    if target.aws {
        #[cfg(feature = "aws")]
        return crate::aws::replay(target, &selection, crate::aws::ReplayHow::Start { json }).await;
    }
    crate::replay::replay_locally(root, config, &selection, json).await
}

/// The changes in words.
fn describe(change: &PendingChange) -> String {
    change
        .changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn list(changes: &[PendingChange], json: bool) -> anyhow::Result<ExitCode> {
    if json {
        for c in changes {
            outln!("{}", serde_json::to_string(c)?);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if changes.is_empty() {
        outln!("no file waits on a drift change");
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = crate::print::table(["id", "table", "changes", "files", "status"]);
    for c in changes {
        let status = match (&c.decision, c.unapprovable()) {
            (Some(d), _) => format!(
                "{} {}{}",
                d.verdict.as_str(),
                d.at,
                d.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            (None, Some(_)) => "pending; cannot be approved (not an addition)".to_string(),
            (None, None) => "pending".to_string(),
        };
        let files = match c.files.as_slice() {
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} and {} more", rest.len()),
            [] => String::new(),
        };
        t.add_row([c.id.clone(), c.table.clone(), describe(c), files, status]);
    }
    outln!("{t}");
    outln!("approve with `sluice drift approve ID`, reject with `sluice drift reject ID --reason TEXT`");
    Ok(ExitCode::SUCCESS)
}
