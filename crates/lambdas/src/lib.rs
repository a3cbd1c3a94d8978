//! sluice-lambdas: sluice on AWS Lambda. One binary per function of the CDK app (`filter`,
//! `schema-drift-detect`, `validate`, `quarantine`, `commit`, `reconcile`, `maintain`,
//! `publish`, `receive`, `stream`), each a few lines
//! over this library; the steps themselves are `sluice-steps`, called through the same
//! `dispatch` the local engine's Task bindings use, so a step behaves the same under sluice's
//! engine and under Step Functions.
//!
//! A cold start reads the environment, loads `sluice.toml` and opens the bucket, the ledger
//! and the catalog once ([`init`]); every invocation then runs in a span naming the
//! execution, the object and the request ([`logs`]), and a step's error reaches Step
//! Functions as the kind name its Retry and Catch match ([`error`]).
//!
//! # Layout
//! - [`init`]: settings from the environment, the backend (`SLUICE_CATALOG`), init errors
//! - [`handler`]: one invocation of a step's function
//! - [`event`]: S3's EventBridge events and the arrival made of them
//! - [`error`]: `StepError` as the Lambda's `errorType` and `errorMessage`
//! - [`logs`]: JSON logs and the invocation span
//! - [`metrics`]: CloudWatch embedded metric format lines
//! - [`reconcile`]: the reconcile function and Step Functions' `StartExecution`
//! - [`backfill`]: the reconcile function's other request, a backfill's plan
//! - [`maintain`]: the maintenance function (expiry, then gc, of one table)
//! - [`publish`]: the publish function (the outbox's events onto the stack's event bus)
//! - [`webhook`]: the receive function (the webhook API behind an API Gateway HTTP API)
//! - [`streams`]: the stream function (Kinesis and Kafka batches into objects)

pub mod backfill;
pub mod error;
pub mod event;
pub mod handler;
pub mod init;
pub mod logs;
pub mod maintain;
pub mod metrics;
pub mod publish;
pub mod reconcile;
pub mod streams;
pub mod webhook;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use sluice_steps::dispatch::Step;
use tracing::Instrument;

pub use error::StepFailure;
pub use init::{open_context, InitError, Settings};

/// The whole life of a step's function: start up (reporting a failure to Lambda), then
/// serve invocations until Lambda ends the process.
pub async fn run_step(step: Step, runner: handler::Runner) -> Result<(), lambda_runtime::Error> {
    let catalog = if step.uses_tables() {
        init::Catalog::Open
    } else {
        init::Catalog::None
    };
    let (settings, ctx) = start(step.function_name(), catalog).await?;
    let function = settings.function.as_str();
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler::handle(ctx, function, step, runner, event).await
    }))
    .await
}

/// The whole life of the maintenance function: as [`run_step`], for `{"table": …}`
/// requests (see [`maintain`]).
pub async fn run_maintain() -> Result<(), lambda_runtime::Error> {
    let (settings, ctx) = start("maintain", init::Catalog::Open).await?;
    let (ctx, function) = (&ctx, settings.function.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let span = tracing::info_span!(
            "invocation",
            function,
            request_id = event.context.request_id.as_str(),
            table = event
                .payload
                .get("table")
                .and_then(serde_json::Value::as_str),
        );
        maintain::handle_value(ctx, event.payload)
            .instrument(span)
            .await
            .map_err(StepFailure)
    }))
    .await
}

/// The whole life of the reconcile function: as [`run_step`], with a Step Functions client
/// for `SLUICE_STATE_MACHINE_ARN`. It answers `{"table": …}` (reconcile) and
/// `{"backfill": {…}}` (a backfill's plan, see [`backfill`]).
pub async fn run_reconcile() -> Result<(), lambda_runtime::Error> {
    let (settings, ctx) = start("reconcile", init::Catalog::Open).await?;
    let Some(arn) = std::env::var("SLUICE_STATE_MACHINE_ARN")
        .ok()
        .filter(|a| !a.is_empty())
    else {
        let e = InitError::Missing {
            name: "SLUICE_STATE_MACHINE_ARN",
            hint: "it names the state machine reconcile starts executions of",
        };
        init::report_init_error(&e).await;
        return Err(e.into());
    };
    let sdk = sluice_aws::sdk_config().await;
    let client = aws_sdk_sfn::Client::new(&sdk);
    let starter = reconcile::SfnStarter {
        client: client.clone(),
        state_machine_arn: arn,
    };
    let escalation = match escalation(client) {
        Ok(e) => e,
        Err(e) => {
            init::report_init_error(&e).await;
            return Err(e.into());
        }
    };
    let escalation = escalation.as_ref();
    let part_versions = match part_versions() {
        Ok(n) => n,
        Err(e) => {
            init::report_init_error(&e).await;
            return Err(e.into());
        }
    };
    let (ctx, starter, function) = (&ctx, &starter, settings.function.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<backfill::Request>| async move {
            let span = tracing::info_span!(
                "invocation",
                function,
                request_id = event.context.request_id.as_str(),
                table = event.payload.table(),
            );
            backfill::handle(ctx, starter, escalation, part_versions, event.payload)
                .instrument(span)
                .await
                .map_err(StepFailure)
        },
    ))
    .await
}

/// The whole life of the publish function: as [`run_step`], for the S3 events of outbox
/// records (see [`publish`]), with the bus `SLUICE_EVENT_BUS` names.
pub async fn run_publish() -> Result<(), lambda_runtime::Error> {
    let (settings, ctx) = start("publish", init::Catalog::None).await?;
    let Some(bus) = std::env::var("SLUICE_EVENT_BUS")
        .ok()
        .filter(|b| !b.is_empty())
    else {
        let e = InitError::Missing {
            name: "SLUICE_EVENT_BUS",
            hint: "it names the event bus the outbox's events are put on",
        };
        init::report_init_error(&e).await;
        return Err(e.into());
    };
    let sdk = sluice_aws::sdk_config().await;
    let bus = publish::EventBridgeBus {
        client: aws_sdk_eventbridge::Client::new(&sdk),
        bus,
    };
    let (ctx, bus, function) = (&ctx, &bus, settings.function.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let span = tracing::info_span!(
            "invocation",
            function,
            request_id = event.context.request_id.as_str(),
        );
        publish::handle(ctx, bus, event.payload)
            .instrument(span)
            .await
            .map_err(StepFailure)
    }))
    .await
}

/// The whole life of the receive function: as [`run_step`], for HTTP API requests (see
/// [`webhook`]). `SLUICE_WEBHOOK_SECRET_ARN` (optional) names the Secrets Manager secret
/// requests are signed with, read once at start; `SLUICE_WEBHOOK_MAX_BODY` (optional) the
/// largest body taken, in bytes.
pub async fn run_receive() -> Result<(), lambda_runtime::Error> {
    let (settings, ctx) = start("receive", init::Catalog::None).await?;
    let webhook = match webhook_settings().await {
        Ok(w) => w,
        Err(e) => {
            init::report_init_error(&e).await;
            return Err(e.into());
        }
    };
    let (ctx, webhook, function) = (&ctx, &webhook, settings.function.as_str());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<webhook::HttpRequest>| async move {
            let span = tracing::info_span!(
                "invocation",
                function,
                request_id = event.context.request_id.as_str(),
            );
            Ok::<_, std::convert::Infallible>(
                webhook::handle(ctx, webhook, event.payload)
                    .instrument(span)
                    .await,
            )
        },
    ))
    .await
}

async fn webhook_settings() -> Result<webhook::Webhook, InitError> {
    let max_body = positive_env(
        "SLUICE_WEBHOOK_MAX_BODY",
        webhook::DEFAULT_MAX_BODY,
        "a positive number of bytes",
    )?;
    let secret = match std::env::var("SLUICE_WEBHOOK_SECRET_ARN") {
        Ok(arn) if !arn.is_empty() => {
            let sdk = sluice_aws::sdk_config().await;
            let out = aws_sdk_secretsmanager::Client::new(&sdk)
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| InitError::Unreadable {
                    name: "SLUICE_WEBHOOK_SECRET_ARN",
                    message: format!(
                        "the secret {arn} could not be read: {}",
                        aws_smithy_types::error::display::DisplayErrorContext(e)
                    ),
                })?;
            let secret = match (out.secret_string(), out.secret_binary()) {
                (Some(s), _) if !s.is_empty() => s.as_bytes().to_vec(),
                (_, Some(b)) if !b.as_ref().is_empty() => b.as_ref().to_vec(),
                _ => {
                    return Err(InitError::Unreadable {
                        name: "SLUICE_WEBHOOK_SECRET_ARN",
                        message: format!("the secret {arn} has no value"),
                    })
                }
            };
            Some(secret)
        }
        _ => None,
    };
    Ok(webhook::Webhook { secret, max_body })
}

/// The whole life of the stream function: as [`run_step`], for Kinesis and Kafka batches
/// (see [`streams`]).
pub async fn run_stream() -> Result<(), lambda_runtime::Error> {
    let (settings, ctx) = start("stream", init::Catalog::None).await?;
    let (ctx, function) = (&ctx, settings.function.as_str());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let span = tracing::info_span!(
            "invocation",
            function,
            request_id = event.context.request_id.as_str(),
        );
        streams::handle(ctx, event.payload)
            .instrument(span)
            .await
            .map_err(StepFailure)
    }))
    .await
}

/// `SLUICE_BACKFILL_PART_VERSIONS` (optional): versions one backfill plan lists at least,
/// default [`sluice_steps::backfill::DEFAULT_PART_VERSIONS`].
fn part_versions() -> Result<usize, InitError> {
    positive_env(
        "SLUICE_BACKFILL_PART_VERSIONS",
        sluice_steps::backfill::DEFAULT_PART_VERSIONS,
        "a positive number of versions",
    )
}

/// The positive whole number environment variable `name` holds; `default` when it is unset
/// or empty. Anything else (`0`, `-1`, `abc`) is [`InitError::Invalid`], saying `expected`.
fn positive_env<T>(name: &'static str, default: T, expected: &'static str) -> Result<T, InitError>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    positive(name, std::env::var(name).ok(), default, expected)
}

/// [`positive_env`] of the value `value`.
fn positive<T>(
    name: &'static str,
    value: Option<String>,
    default: T,
    expected: &'static str,
) -> Result<T, InitError>
where
    T: std::str::FromStr + PartialOrd + Default,
{
    match value {
        Some(v) if !v.is_empty() => match v.parse::<T>() {
            Ok(n) if n > T::default() => Ok(n),
            _ => Err(InitError::Invalid {
                name,
                value: v,
                expected,
            }),
        },
        _ => Ok(default),
    }
}

/// `SLUICE_BACKFILL_STATE_MACHINE_ARN` (optional): a reconciliation with more than
/// `SLUICE_BACKFILL_ABOVE` (default 1000) versions to start starts a backfill of it instead.
fn escalation(client: aws_sdk_sfn::Client) -> Result<Option<backfill::Escalation>, InitError> {
    let Some(arn) = std::env::var("SLUICE_BACKFILL_STATE_MACHINE_ARN")
        .ok()
        .filter(|a| !a.is_empty())
    else {
        return Ok(None);
    };
    let above = match std::env::var("SLUICE_BACKFILL_ABOVE") {
        Ok(v) if !v.is_empty() => v.parse().map_err(|_| InitError::Invalid {
            name: "SLUICE_BACKFILL_ABOVE",
            value: v,
            expected: "a number of versions",
        })?,
        _ => backfill::DEFAULT_ABOVE,
    };
    Ok(Some(backfill::Escalation {
        backfills: Box::new(reconcile::SfnStarter {
            client,
            state_machine_arn: arn,
        }),
        above,
    }))
}

/// Settings, logs and context, once per cold start; a failure is reported to Lambda's
/// init-error endpoint before it is returned.
async fn start(
    binary: &str,
    catalog: init::Catalog,
) -> Result<(Settings, sluice_steps::Context), lambda_runtime::Error> {
    let settings = match Settings::from_env(binary) {
        Ok(s) => s,
        Err(e) => {
            logs::init(true);
            init::report_init_error(&e).await;
            return Err(e.into());
        }
    };
    logs::init(settings.json_logs);
    match init::open(&settings, catalog).await {
        Ok(ctx) => {
            tracing::info!(function = settings.function, "sluice started");
            Ok((settings, ctx))
        }
        Err(e) => {
            init::report_init_error(&e).await;
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_positive_variable_is_its_number_or_the_default_and_anything_else_names_it() {
        let expected = "a positive number of bytes";
        let read = |value: Option<&str>| {
            positive::<u64>("SLUICE_X", value.map(str::to_string), 7, expected)
        };
        assert_eq!(read(None).unwrap(), 7);
        assert_eq!(read(Some("")).unwrap(), 7);
        assert_eq!(read(Some("4096")).unwrap(), 4096);
        for bad in ["0", "-1", "abc"] {
            let e = read(Some(bad)).unwrap_err();
            assert!(
                matches!(&e, InitError::Invalid { name: "SLUICE_X", value, .. } if value == bad),
                "{e:?}"
            );
            assert_eq!(
                e.to_string(),
                format!("SLUICE_X={bad:?} is not one of {expected}")
            );
        }
        // Unset in the environment: the default.
        let unset = "SLUICE_TEST_POSITIVE_ENV_NEVER_SET";
        assert_eq!(positive_env::<usize>(unset, 3, expected).unwrap(), 3);
    }
}
