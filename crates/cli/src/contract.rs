//! `sluice contract show|history|diff|check T`: a table's contract versions, as recorded in
//! the bucket (`sluice_steps::contracts`), what changed between two of them, and whether the
//! configured contract (and a file under it) would pass before anything is judged by it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::json;
use sluice_core::config::TableConfig;
use sluice_core::contract::{compatibility_breaks, table_conflicts};
use sluice_core::reader::{detect_compression, format_for_key, RowItem, RowReader};
use sluice_core::schema::{escape_pointer, Field, FieldType, TableSchema};
use sluice_steps::contracts::{versions, ContractVersion};
use sluice_steps::Context;

use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A version of the table's contract (default: the newest recorded): when it was first
    /// used, its fingerprint and the columns it maps to; and whether the configured contract
    /// is that version.
    Show {
        /// Table name as in the configuration.
        table: String,
        /// Version number (see `history`).
        #[arg(long)]
        version: Option<u32>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Every recorded version of the table's contract, oldest first, each with what changed
    /// from the one before.
    History {
        /// Table name as in the configuration.
        table: String,
        /// Print JSON (one version a line) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// What changed between two versions, column by column (default: from the newest
    /// recorded to the configured contract).
    Diff {
        /// Table name as in the configuration.
        table: String,
        /// The older side: a version number (default: the newest recorded).
        from: Option<u32>,
        /// The newer side: a version number (default: the configured contract).
        to: Option<u32>,
    },
    /// Check the configured contract before it judges anything: against the table's columns
    /// and against the newest recorded version under the table's `compatibility`; with FILE,
    /// also read the file's rows and judge them as an ingest would, landing nothing. Exit
    /// code 1 if the contract would be refused or the file quarantined.
    Check {
        /// Table name as in the configuration.
        table: String,
        /// A local file to judge (NDJSON, JSON, CSV; gzip or zstd), as if it had landed under
        /// the table's prefix with its name.
        file: Option<PathBuf>,
        /// Rejected rows listed, at most.
        #[arg(long, default_value_t = 20)]
        show: usize,
    },
}

pub async fn run(
    root: &Path,
    config: &Path,
    target: &Target,
    cmd: Command,
) -> anyhow::Result<ExitCode> {
    // Only the store and the catalog are read: nothing is recorded by these commands.
    let ctx = &crate::remote::open(target, root, config).await?;
    let name = match &cmd {
        Command::Show { table, .. }
        | Command::History { table, .. }
        | Command::Diff { table, .. }
        | Command::Check { table, .. } => table.clone(),
    };
    let cfg = ctx
        .config
        .table(&name)
        .with_context(|| format!("no table {name:?} in {}", config.display()))?
        .clone();
    let recorded = versions(ctx.store.as_ref(), &cfg).await?;
    // The configured contract with the table's approved drift additions: what files are
    // judged under.
    let configured = ctx.effective_contract(&cfg).await?;
    let configured_is = recorded
        .iter()
        .rev()
        .find(|v| v.sha256 == configured.sha256)
        .map(|v| v.version);
    match cmd {
        Command::Show { version, json, .. } => {
            let shown = match version {
                Some(n) => pick(&recorded, n, &cfg)?,
                None => recorded.last().unwrap_or(&configured),
            };
            show(shown, configured_is, json)
        }
        Command::History { json, .. } => history(&cfg, &recorded, configured_is, json),
        Command::Diff { from, to, .. } => {
            let older = match from {
                Some(n) => pick(&recorded, n, &cfg)?,
                None => recorded.last().with_context(|| {
                    format!(
                        "no version of the contract of table {} is recorded yet: it is recorded when a file is first judged by it",
                        cfg.name
                    )
                })?,
            };
            let newer = match to {
                Some(n) => pick(&recorded, n, &cfg)?,
                None => &configured,
            };
            let changes = column_changes(&older.columns()?, &newer.columns()?);
            outln!(
                "{} -> {}: {} change{}",
                label(older),
                label(newer),
                changes.len(),
                if changes.len() == 1 { "" } else { "s" }
            );
            for change in changes {
                outln!("  {change}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file, show, .. } => {
            check(
                ctx,
                &cfg,
                &configured,
                recorded.last(),
                file.as_deref(),
                show,
            )
            .await
        }
    }
}

fn pick<'a>(
    recorded: &'a [ContractVersion],
    n: u32,
    cfg: &TableConfig,
) -> anyhow::Result<&'a ContractVersion> {
    recorded.iter().find(|v| v.version == n).with_context(|| {
        format!(
            "the contract of table {} has no version {n} (recorded: {})",
            cfg.name,
            match recorded.len() {
                0 => "none yet".to_string(),
                1 => "1".to_string(),
                n => format!("1 to {n}"),
            }
        )
    })
}

fn label(v: &ContractVersion) -> String {
    if v.version == 0 {
        format!("the configured contract ({})", v.source)
    } else {
        format!("version {}", v.version)
    }
}

fn show(v: &ContractVersion, configured_is: Option<u32>, json: bool) -> anyhow::Result<ExitCode> {
    let columns = v.columns()?;
    if json {
        let mut out = serde_json::to_value(v)?;
        out["configured"] = json!(v.version == 0 || configured_is == Some(v.version));
        outln!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("table      {}", v.table);
    if v.version == 0 {
        outln!("version    none recorded yet: the configured contract, recorded when first used");
    } else {
        outln!("version    {} (first used {})", v.version, v.recorded_at);
    }
    outln!("source     {}", v.source);
    outln!("sha256     {}", v.sha256);
    match (v.version, configured_is) {
        (0, _) => {}
        (n, Some(c)) if n == c => outln!("configured yes: the configuration's contract is this version"),
        (_, Some(c)) => outln!("configured no: the configuration's contract is version {c}"),
        (_, None) => outln!(
            "configured no: the configuration's contract differs and is not recorded yet (`sluice contract diff`)"
        ),
    }
    outln!("columns");
    for line in column_lines(&columns.fields, "") {
        outln!("  {line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn column_lines(fields: &[Field], at: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in fields {
        let pointer = format!("{at}/properties/{}", escape_pointer(&f.name));
        out.push(format!(
            "{pointer}  {}{}",
            f.ty.name(),
            if f.required { ", required" } else { "" }
        ));
    }
    out
}

fn history(
    cfg: &TableConfig,
    recorded: &[ContractVersion],
    configured_is: Option<u32>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    if recorded.is_empty() && !json {
        outln!(
            "no version of the contract of table {} is recorded yet: it is recorded when a file is first judged by it",
            cfg.name
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut before: Option<TableSchema> = None;
    for v in recorded {
        let columns = v.columns()?;
        let changes = before
            .as_ref()
            .map(|b| column_changes(b, &columns))
            .unwrap_or_default();
        if json {
            let mut out = serde_json::to_value(v)?;
            out["changes"] = json!(changes);
            out["configured"] = json!(configured_is == Some(v.version));
            outln!("{}", serde_json::to_string(&out)?);
        } else {
            let short = &v.sha256[..12.min(v.sha256.len())];
            let mark = if configured_is == Some(v.version) {
                "  (configured)"
            } else {
                ""
            };
            outln!(
                "v{}  {}  {}  {short}{mark}",
                v.version,
                v.recorded_at,
                v.source
            );
            if before.is_none() {
                outln!("    first version: {} columns", columns.fields.len());
            }
            for change in &changes {
                outln!("    {change}");
            }
        }
        before = Some(columns);
    }
    if configured_is.is_none() && !json {
        outln!("the configured contract differs from every recorded version (`sluice contract diff {}`)", cfg.name);
    }
    Ok(ExitCode::SUCCESS)
}

/// What changed from `old` to `new`, one line per column: added (`+`), removed (`-`), or
/// changed (`~`: its type, or whether it is required), by JSON pointer.
pub fn column_changes(old: &TableSchema, new: &TableSchema) -> Vec<String> {
    let mut out = Vec::new();
    fields_changes(&old.fields, &new.fields, "", &mut out);
    out
}

fn fields_changes(old: &[Field], new: &[Field], at: &str, out: &mut Vec<String>) {
    let required = |f: &Field| if f.required { "required" } else { "optional" };
    for n in new {
        let pointer = format!("{at}/properties/{}", escape_pointer(&n.name));
        match old.iter().find(|o| o.name == n.name) {
            None => out.push(format!("+ {pointer}  {}, {}", n.ty.name(), required(n))),
            Some(o) => {
                if o.required != n.required {
                    out.push(format!("~ {pointer}  {} -> {}", required(o), required(n)));
                }
                type_changes(&o.ty, &n.ty, &pointer, out);
            }
        }
    }
    for o in old {
        if !new.iter().any(|n| n.name == o.name) {
            let pointer = format!("{at}/properties/{}", escape_pointer(&o.name));
            out.push(format!("- {pointer}  {}, {}", o.ty.name(), required(o)));
        }
    }
}

fn type_changes(old: &FieldType, new: &FieldType, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (FieldType::Struct(o), FieldType::Struct(n)) => fields_changes(o, n, at, out),
        (FieldType::List(o), FieldType::List(n)) => type_changes(o, n, &format!("{at}/items"), out),
        (o, n) if o == n => {}
        (o, n) => out.push(format!("~ {at}  {} -> {}", o.name(), n.name())),
    }
}

async fn check(
    ctx: &Context,
    cfg: &TableConfig,
    configured: &ContractVersion,
    latest: Option<&ContractVersion>,
    file: Option<&Path>,
    show: usize,
) -> anyhow::Result<ExitCode> {
    let mut refused = false;
    let columns = configured.columns()?;
    match ctx.lake.load(cfg).await? {
        Some(table) => {
            let current =
                sluice_lake::schema::from_iceberg_schema(table.metadata().current_schema())?;
            let conflicts = table_conflicts(&columns, &current);
            if conflicts.is_empty() {
                outln!("table          fits {}.{}", cfg.namespace, cfg.name);
            } else {
                refused = true;
                outln!("table          contradicts {}.{}:", cfg.namespace, cfg.name);
                for c in conflicts {
                    outln!("  {c}");
                }
            }
        }
        None => outln!(
            "table          {}.{} does not exist yet: it will be made from this contract",
            cfg.namespace,
            cfg.name
        ),
    }
    match latest {
        None => outln!("compatibility  no version recorded yet: this one will be version 1"),
        Some(l) if l.sha256 == configured.sha256 => {
            outln!(
                "compatibility  unchanged: the configured contract is version {}",
                l.version
            )
        }
        Some(l) => {
            let breaks =
                compatibility_breaks(&l.columns()?, l.version, &columns, cfg.compatibility);
            if breaks.is_empty() {
                outln!(
                    "compatibility  {} compatible with version {}: it will be version {}",
                    cfg.compatibility.as_str(),
                    l.version,
                    l.version + 1
                );
            } else {
                refused = true;
                outln!(
                    "compatibility  not {} compatible with version {}:",
                    cfg.compatibility.as_str(),
                    l.version
                );
                for b in breaks {
                    outln!("  {b}");
                }
            }
        }
    }
    if let Some(path) = file {
        refused |= !check_file(ctx, cfg, path, show)?;
    }
    Ok(if refused {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads `path`'s rows as an ingest of it would and judges them by the configured contract;
/// whether the file would pass its table's `max_invalid_ratio`.
fn check_file(ctx: &Context, cfg: &TableConfig, path: &Path, show: usize) -> anyhow::Result<bool> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{}: not a file name sluice can take", path.display()))?;
    let key = format!("{}{name}", cfg.prefix);
    if let Err(why) = sluice_core::reader::check_extension(&key, cfg.format) {
        outln!("file           would be quarantined (unsupported_format): {why}");
        return Ok(false);
    }
    let opened =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = opened.metadata()?.len();
    let mut buffered = BufReader::with_capacity(64 << 10, opened);
    let head = buffered
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let compression = detect_compression(&key, head);
    let contract = ctx.contract(&cfg.name)?;
    let mut reader = match RowReader::new(
        Box::new(buffered),
        compression,
        format_for_key(&key, cfg.format),
        &ctx.config.limits,
        &contract.table_schema,
        size,
    ) {
        Ok(r) => r,
        Err(e) => {
            outln!("file           would be quarantined ({}): {e}", e.reason());
            return Ok(false);
        }
    };
    let (mut total, mut rejected, mut listed) = (0u64, 0u64, Vec::new());
    loop {
        let item = match reader.next_row() {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                outln!("file           would be quarantined ({}): {e}", e.reason());
                return Ok(false);
            }
        };
        total += 1;
        match item {
            RowItem::Row { line, value } => {
                let violations = contract.validate(&value);
                if let Some(v) = violations.first() {
                    rejected += 1;
                    if listed.len() < show {
                        listed.push(format!(
                            "line {line}: {} {}",
                            pointer_or_row(&v.pointer),
                            v.message
                        ));
                    }
                }
            }
            RowItem::Bad { line, message, .. } => {
                rejected += 1;
                if listed.len() < show {
                    listed.push(format!("line {line}: {message}"));
                }
            }
        }
    }
    let ratio = if total == 0 {
        0.0
    } else {
        rejected as f64 / total as f64
    };
    let passes = ratio <= cfg.max_invalid_ratio;
    outln!(
        "file           {total} row{}, {} valid, {rejected} rejected ({:.1}%): {}",
        if total == 1 { "" } else { "s" },
        total - rejected,
        ratio * 100.0,
        if passes {
            "passes the contract (schema drift is judged when it lands)".to_string()
        } else {
            format!(
                "would be quarantined (too_many_invalid_rows, over max_invalid_ratio {})",
                cfg.max_invalid_ratio
            )
        }
    );
    for line in &listed {
        outln!("  {line}");
    }
    if rejected as usize > listed.len() {
        outln!("  … and {} more", rejected as usize - listed.len());
    }
    Ok(passes)
}

fn pointer_or_row(pointer: &str) -> &str {
    if pointer.is_empty() {
        "(the row)"
    } else {
        pointer
    }
}
