//! `sluice archive replay --since T [--until T] [--table T]`: EventBridge's archive of a
//! table's arrivals sent through the stack's rules again, for a time window (events lost
//! between EventBridge and Step Functions, or arrivals to run again after a fix; the ledger
//! keeps every object version exactly once, so an event replayed twice ingests nothing twice).
//!
//! The CDK app makes one archive per table on the default bus, under a generated name. The
//! table's archive is found as the one on the default bus whose event pattern names the
//! stack's bucket and the table's prefix (ListArchives, DescribeArchive), and the replay is
//! filtered to the stack's arrival rule of that table: the rules that target the ingest state
//! machine (ListRuleNamesByTarget, DescribeRule) with that bucket and prefix, so no other
//! rule on the bus sees the events twice.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use aws_sdk_eventbridge::primitives::DateTime as SdkTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use sluice_core::config::TableConfig;

use crate::stack::sdk_error;
use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Replay a table's archived Object Created and Object Deleted events of a time window
    /// through the stack's arrival rule (EventBridge StartReplay from the table's archive to
    /// the default bus, filtered to the rule). Print the replay's name and state; --wait
    /// polls until it ends. IAM: events:ListArchives, events:DescribeArchive,
    /// events:ListRuleNamesByTarget, events:DescribeRule, events:StartReplay,
    /// events:DescribeReplay (and cloudformation:DescribeStacks with --stack).
    Replay(ReplayArgs),
}

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Start of the window: RFC 3339 (2026-03-01T08:00:00Z) or a date (midnight UTC).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    since: DateTime<Utc>,
    /// End of the window (default: now).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    until: Option<DateTime<Utc>>,
    /// Only this table's archive (default: every table in the configuration).
    #[arg(long)]
    table: Option<String>,
    /// The replay's name (default: the table and the window, so a second replay of one
    /// window is refused as already done; name it to replay that window again).
    #[arg(long, requires = "table")]
    name: Option<String>,
    /// Wait until each replay ends; exit 1 unless it completed.
    #[arg(long)]
    wait: bool,
}

/// `2026-03-01T08:00:00Z` (any RFC 3339 offset) or `2026-03-01` (midnight UTC).
pub fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!("invalid time {text:?}: RFC 3339 (2026-03-01T08:00:00Z) or a date (2026-03-01)")
        })
}

/// The default replay name: `<table>-<since>-<until>`, at most 64 characters of
/// `[A-Za-z0-9._-]`, as EventBridge allows.
pub fn replay_name(table: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> String {
    let f = "%Y%m%dT%H%M%SZ";
    format!(
        "{}-{}-{}",
        sluice_steps::reconcile::slug(table, 30),
        since.format(f),
        until.format(f)
    )
}

/// Whether an event pattern (a rule's, an archive's) selects `bucket`'s objects under
/// `prefix`, as the CDK app writes them.
pub fn pattern_selects(pattern: &str, bucket: &str, prefix: &str) -> bool {
    let Ok(p) = serde_json::from_str::<Value>(pattern) else {
        return false;
    };
    let has = |pointer: &str, wanted: &Value| {
        p.pointer(pointer)
            .and_then(Value::as_array)
            .is_some_and(|a| a.contains(wanted))
    };
    has("/detail/bucket/name", &json!(bucket))
        && has("/detail/object/key", &json!({ "prefix": prefix }))
}

pub async fn run(target: &Target, config: &Path, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Replay(args) = cmd;
    let config = crate::workspace::load_config(config).context(
        "the tables and their prefixes come from the configuration the stack was deployed with",
    )?;
    let tables: Vec<TableConfig> = match &args.table {
        Some(name) => vec![config
            .table(name)
            .with_context(|| format!("no table {name:?} in the configuration"))?
            .clone()],
        None => config.tables.clone(),
    };
    let until = args.until.unwrap_or_else(Utc::now);
    if until <= args.since {
        bail!("--until {until} is not after --since {}", args.since);
    }
    let deployed = target.resolve().await?;
    let bucket = deployed.bucket()?;
    let state_machine = deployed.state_machine()?;
    // arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME: the bus is in its region.
    let parts: Vec<&str> = state_machine.split(':').collect();
    if parts.len() < 5 {
        bail!("{state_machine:?} is not a state machine ARN");
    }
    let bus = format!(
        "arn:{}:events:{}:{}:event-bus/default",
        parts[1], parts[3], parts[4]
    );
    let events = aws_sdk_eventbridge::Client::new(&deployed.sdk);
    let rules = arrival_rules(&events, &state_machine).await?;
    let mut failed = false;
    for table in &tables {
        let archive = table_archive(&events, &bus, &bucket, &table.prefix).await?;
        let filters: Vec<String> = rules
            .iter()
            .filter(|(_, pattern)| pattern_selects(pattern, &bucket, &table.prefix))
            .map(|(arn, _)| arn.clone())
            .collect();
        if filters.is_empty() {
            bail!(
                "no rule of the stack routes {bucket}'s objects under {} to {state_machine}: \
                 is --config the configuration the stack was deployed with?",
                table.prefix
            );
        }
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| replay_name(&table.name, args.since, until));
        let started = events
            .start_replay()
            .replay_name(&name)
            .description(format!("sluice archive replay of table {}", table.name))
            .event_source_arn(&archive)
            .event_start_time(SdkTime::from_secs(args.since.timestamp()))
            .event_end_time(SdkTime::from_secs(until.timestamp()))
            .destination(
                ReplayDestination::builder()
                    .arn(&bus)
                    .set_filter_arns(Some(filters.clone()))
                    .build()
                    .map_err(|e| anyhow!("{e}"))?,
            )
            .send()
            .await;
        let state = match started {
            Ok(out) => out
                .state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {
                outln!(
                    "{}: replay {name} exists already (this window was replayed); pass --name to replay it again",
                    table.name
                );
                describe_state(&events, &name).await?.0
            }
            Err(e) => {
                return Err(sdk_error(e)).with_context(|| {
                    format!("starting replay {name} of {archive} (events:StartReplay)")
                })
            }
        };
        outln!(
            "{}: replay {name} of {archive}, events from {} to {}, through {}: {state}",
            table.name,
            args.since.to_rfc3339(),
            until.to_rfc3339(),
            filters.join(", ")
        );
        if args.wait {
            let (state, reason) = wait(&events, &name).await?;
            outln!(
                "{}: replay {name} is {state}{}",
                table.name,
                reason.map(|r| format!(": {r}")).unwrap_or_default()
            );
            failed |= state != ReplayState::Completed.as_str();
        }
    }
    if !args.wait {
        outln!("follow with `sluice archive replay … --wait`, or `aws events describe-replay --replay-name NAME`; the executions with `sluice executions --aws list`");
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

use aws_sdk_eventbridge::error::ProvideErrorMetadata as _;

/// The rules that start the ingest state machine, with their event patterns.
async fn arrival_rules(
    events: &aws_sdk_eventbridge::Client,
    state_machine: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut names = vec![];
    let mut token = None;
    loop {
        let page = events
            .list_rule_names_by_target()
            .target_arn(state_machine)
            .set_next_token(token)
            .send()
            .await
            .map_err(sdk_error)
            .context("listing the rules of the state machine (events:ListRuleNamesByTarget)")?;
        names.extend(page.rule_names().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut rules = vec![];
    for name in names {
        let rule = events
            .describe_rule()
            .name(&name)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("describing rule {name} (events:DescribeRule)"))?;
        if let (Some(arn), Some(pattern)) = (rule.arn(), rule.event_pattern()) {
            rules.push((arn.to_string(), pattern.to_string()));
        }
    }
    Ok(rules)
}

/// The ARN of the archive on `bus` whose pattern selects `bucket`'s objects under `prefix`.
async fn table_archive(
    events: &aws_sdk_eventbridge::Client,
    bus: &str,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<String> {
    let mut names = vec![];
    let mut token = None;
    loop {
        let page = events
            .list_archives()
            .event_source_arn(bus)
            .set_next_token(token)
            .send()
            .await
            .map_err(sdk_error)
            .context("listing the archives of the default bus (events:ListArchives)")?;
        names.extend(
            page.archives()
                .iter()
                .filter_map(|a| a.archive_name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    for name in names {
        let archive = events
            .describe_archive()
            .archive_name(&name)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("describing archive {name} (events:DescribeArchive)"))?;
        if archive
            .event_pattern()
            .is_some_and(|p| pattern_selects(p, bucket, prefix))
        {
            return archive
                .archive_arn()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("archive {name} has no ARN"));
        }
    }
    bail!(
        "no archive on the default bus holds {bucket}'s events under {prefix}: the stack's \
         archives are made by the CDK app, one per table (is this the stack's region?)"
    )
}

async fn describe_state(
    events: &aws_sdk_eventbridge::Client,
    name: &str,
) -> anyhow::Result<(String, Option<String>)> {
    let d = events
        .describe_replay()
        .replay_name(name)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("describing replay {name} (events:DescribeReplay)"))?;
    Ok((
        d.state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        d.state_reason().map(str::to_string),
    ))
}

/// Polls DescribeReplay until the replay completed, failed or was cancelled.
async fn wait(
    events: &aws_sdk_eventbridge::Client,
    name: &str,
) -> anyhow::Result<(String, Option<String>)> {
    loop {
        let (state, reason) = describe_state(events, name).await?;
        let ended = [
            ReplayState::Completed,
            ReplayState::Failed,
            ReplayState::Cancelled,
        ]
        .iter()
        .any(|s| s.as_str() == state);
        if ended {
            return Ok((state, reason));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_archive_is_told_by_its_bucket_and_prefix() {
        let pattern = json!({
            "source": ["aws.s3"],
            "detail-type": ["Object Created", "Object Deleted"],
            "detail": {"bucket": {"name": ["landing-1"]},
                       "object": {"key": [{"prefix": "orders/"}]}}
        })
        .to_string();
        assert!(pattern_selects(&pattern, "landing-1", "orders/"));
        assert!(!pattern_selects(&pattern, "landing-2", "orders/"));
        assert!(!pattern_selects(&pattern, "landing-1", "returns/"));
        assert!(!pattern_selects("not json", "landing-1", "orders/"));
    }

    #[test]
    fn windows_are_rfc3339_or_dates_and_name_their_replay() {
        let since = parse_time("2026-03-01").unwrap();
        let until = parse_time("2026-03-01T10:30:00+01:00").unwrap();
        assert_eq!(
            replay_name("orders", since, until),
            "orders-20260301T000000Z-20260301T093000Z"
        );
        assert!(replay_name(&"x".repeat(200), since, until).len() <= 64);
        assert!(parse_time("yesterday").unwrap_err().contains("RFC 3339"));
    }
}
