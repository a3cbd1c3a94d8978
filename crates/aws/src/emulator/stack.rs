//! The deployed shape on the emulator, as the CDK app deploys it on AWS: a versioned bucket
//! that sends its events to EventBridge, one rule per table prefix (`Object Created` and
//! `Object Deleted`) starting the Standard state machine of `statemachine/ingest.asl.json`
//! (its placeholders substituted with the function ARNs), and the functions running
//! this machine's builds of the Lambda binaries as `provided.al2023` functions with the
//! environment the CDK app gives them; the outbound events' bus, the rule that sends each
//! outbox record to the publish function, and a queue subscribed to the bus for tests. The
//! pushed arrivals ([`Stack::deploy_arrivals`], for the tests that use them): the webhook's
//! HTTP API in front of the receive function, signed with a Secrets Manager secret, and a
//! Kinesis stream whose event source mapping invokes the stream function.
//!
//! Tests of several crates deploy it: each [`Stack::deploy`] makes resources of its own
//! (names carry the process id and a counter), so the tests of one binary share one
//! ministack. The emulator runs a function's `bootstrap` as a local process, so each
//! function's code is a one-line `bootstrap` that executes the binary cargo built (the
//! arm64 binaries of `make lambdas` are for AWS). The emulator does not enforce IAM, so
//! every function runs under one role here; the CDK test checks the per-function roles.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::{RetryPolicy, Target};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
use sluice_core::config::Config;

use super::{EmulatorError, Ministack, REGION};

/// The role every function and the state machine run under (the emulator ignores it).
pub const ROLE: &str = "arn:aws:iam::000000000000:role/sluice-test";

/// The ten functions: name, the definition's placeholder (none for reconcile, maintain,
/// publish, receive and stream).
pub const FUNCTIONS: [(&str, Option<&str>); 10] = [
    ("filter", Some("FilterFunctionArn")),
    ("schema-drift-detect", Some("SchemaDriftDetectFunctionArn")),
    ("validate", Some("ValidateFunctionArn")),
    ("quarantine", Some("QuarantineFunctionArn")),
    ("commit", Some("CommitFunctionArn")),
    ("reconcile", None),
    ("maintain", None),
    ("publish", None),
    ("receive", None),
    ("stream", None),
];

/// Where this machine's builds of the ten Lambda binaries are, by function name.
#[derive(Debug, Clone)]
pub struct Binaries(pub BTreeMap<String, PathBuf>);

impl Binaries {
    /// The binaries in the directory cargo builds the running test's package binaries
    /// into (`target/<profile>/`), where `cargo test --workspace` builds them before any
    /// test runs. A missing one is named, with the command that builds it.
    pub fn beside_this_test() -> Result<Binaries, EmulatorError> {
        let exe = std::env::current_exe()?;
        // target/<profile>/deps/<test>-<hash>
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| setup("the Lambda binaries", "the test's path has no parent"))?;
        let mut found = BTreeMap::new();
        for (name, _) in FUNCTIONS {
            let path = dir.join(name);
            if !path.is_file() {
                return Err(setup(
                    "the Lambda binaries",
                    format!(
                        "{} is missing: `cargo build -p sluice-lambdas` builds it \
                         (`cargo test --workspace` does too)",
                        path.display()
                    ),
                ));
            }
            found.insert(name.to_string(), path);
        }
        Ok(Binaries(found))
    }
}

/// One deployed stack on the emulator.
#[derive(Debug, Clone)]
pub struct Stack {
    /// A name unique in this process (`sluice-<pid>-<n>`), the prefix of every resource's.
    pub name: String,
    pub sdk: SdkConfig,
    pub endpoint: String,
    pub bucket: String,
    /// `s3://bucket/warehouse/`, as the functions' `SLUICE_WAREHOUSE`.
    pub warehouse: String,
    pub config_path: PathBuf,
    pub config: Config,
    /// The ingest state machine's ARN.
    pub state_machine: String,
    /// Function name (`filter` …) to its deployed name.
    pub functions: BTreeMap<String, String>,
    /// Function name to its ARN.
    pub function_arns: BTreeMap<String, String>,
    /// The sluice event bus the publish function puts the outbox's events on.
    pub event_bus: String,
    /// A queue a rule on that bus sends every sluice event to, for tests to read.
    pub events_queue_url: String,
}

/// The pushed arrivals of a stack ([`Stack::deploy_arrivals`]).
#[derive(Debug, Clone)]
pub struct Arrivals {
    /// The webhook API's base URL on the emulator (`.../tables/orders/arrivals` under it).
    pub webhook_url: String,
    /// The shared secret requests are signed with.
    pub secret: Vec<u8>,
    /// The Kinesis stream (its name is the `[[stream]]` source; the orders example has one
    /// table, which takes any stream's records).
    pub kinesis_stream: String,
    pub kinesis_arn: String,
    /// The event source mapping's id.
    pub mapping: String,
}

static DEPLOYED: AtomicUsize = AtomicUsize::new(0);

fn setup(what: &str, message: impl std::fmt::Display) -> EmulatorError {
    EmulatorError::Setup {
        what: what.to_string(),
        message: message.to_string(),
    }
}

/// An SDK error with its context, for [`EmulatorError::Setup`].
fn sdk_error<E: std::error::Error>(e: E) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
}

impl Stack {
    /// Deploys the stack for the configuration at `config_path` (its contracts are read by
    /// the functions from there), with `binaries` as the functions' code.
    pub async fn deploy(
        ministack: &Ministack,
        config_path: &Path,
        binaries: &Binaries,
    ) -> Result<Stack, EmulatorError> {
        let n = DEPLOYED.fetch_add(1, Ordering::SeqCst);
        let name = format!("sluice-{}-{n}", std::process::id());
        let sdk = ministack.sdk_config().await;
        let endpoint = ministack.endpoint();
        let config =
            Config::load(config_path).map_err(|e| setup(&config_path.display().to_string(), e))?;
        let bucket = format!("landing-{}-{n}", std::process::id());
        ministack.create_bucket(&bucket, true).await?;
        let s3 = crate::s3_client(&sdk);
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                aws_sdk_s3::types::NotificationConfiguration::builder()
                    .event_bridge_configuration(
                        aws_sdk_s3::types::EventBridgeConfiguration::builder().build(),
                    )
                    .build(),
            )
            .send()
            .await
            .map_err(|e| setup("the bucket's notifications", sdk_error(e)))?;
        let warehouse = format!("s3://{bucket}/warehouse/");
        let mut stack = Stack {
            name,
            sdk,
            endpoint,
            bucket,
            warehouse,
            config_path: config_path.to_path_buf(),
            config,
            state_machine: String::new(),
            functions: BTreeMap::new(),
            function_arns: BTreeMap::new(),
            event_bus: String::new(),
            events_queue_url: String::new(),
        };

        // The five step functions first: the definition names them.
        for (function, _) in FUNCTIONS.iter().filter(|(_, p)| p.is_some()) {
            stack.create_function(function, binaries, &[]).await?;
        }
        let mut definition = std::fs::read_to_string(repo().join("statemachine/ingest.asl.json"))?;
        for (function, placeholder) in FUNCTIONS {
            if let Some(p) = placeholder {
                definition =
                    definition.replace(&format!("${{{p}}}"), &stack.function_arns[function]);
            }
        }
        if definition.contains("${") {
            return Err(setup("the definition", "a placeholder is left unbound"));
        }
        let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
        stack.state_machine = sfn
            .create_state_machine()
            .name(format!("{}-ingest", stack.name))
            .definition(definition)
            .role_arn(ROLE)
            .send()
            .await
            .map_err(|e| setup("the state machine", sdk_error(e)))?
            .state_machine_arn;
        let arn = stack.state_machine.clone();
        stack
            .create_function("reconcile", binaries, &[("SLUICE_STATE_MACHINE_ARN", &arn)])
            .await?;
        stack.create_function("maintain", binaries, &[]).await?;
        stack.deploy_events(binaries).await?;

        // A rule per table prefix, as the CDK app makes them.
        let events = aws_sdk_eventbridge::Client::new(&stack.sdk);
        for table in &stack.config.tables {
            let rule = format!("{}-{}", stack.name, table.name);
            let pattern = serde_json::json!({
                "source": ["aws.s3"],
                "detail-type": ["Object Created", "Object Deleted"],
                "detail": {
                    "bucket": {"name": [stack.bucket]},
                    "object": {"key": [{"prefix": table.prefix}]}
                }
            });
            events
                .put_rule()
                .name(&rule)
                .event_pattern(pattern.to_string())
                .send()
                .await
                .map_err(|e| setup(&rule, sdk_error(e)))?;
            let target = Target::builder()
                .id("ingest")
                .arn(&stack.state_machine)
                .role_arn(ROLE)
                .retry_policy(RetryPolicy::builder().maximum_retry_attempts(3).build())
                .build()
                .map_err(|e| setup(&rule, e))?;
            events
                .put_targets()
                .rule(&rule)
                .targets(target)
                .send()
                .await
                .map_err(|e| setup(&rule, sdk_error(e)))?;
        }
        Ok(stack)
    }

    /// The environment the CDK app gives each function (and the emulator's endpoint).
    pub fn function_env(&self, function: &str) -> Vec<(String, String)> {
        [
            ("SLUICE_CATALOG", "glue".to_string()),
            ("SLUICE_BUCKET", self.bucket.clone()),
            ("SLUICE_WAREHOUSE", self.warehouse.clone()),
            ("SLUICE_CONFIG", self.config_path.display().to_string()),
            ("SLUICE_FUNCTION", function.to_string()),
            ("SLUICE_STACK", self.name.clone()),
            ("SLUICE_LOG_FORMAT", "json".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .chain(self.client_env())
        .collect()
    }

    /// What a process needs to reach the emulator as the AWS SDK's default chain would
    /// reach AWS: endpoint, static credentials, region.
    pub fn client_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", REGION.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    async fn create_function(
        &mut self,
        function: &str,
        binaries: &Binaries,
        extra_env: &[(&str, &str)],
    ) -> Result<(), EmulatorError> {
        let binary = binaries
            .0
            .get(function)
            .ok_or_else(|| setup(function, "no binary given for it"))?;
        let deployed = format!("{}-{function}", self.name);
        let mut env = Environment::builder();
        for (k, v) in self.function_env(function) {
            env = env.variables(k, v);
        }
        for (k, v) in extra_env {
            env = env.variables(*k, *v);
        }
        let lambda = aws_sdk_lambda::Client::new(&self.sdk);
        let created = lambda
            .create_function()
            .function_name(&deployed)
            .runtime(Runtime::Providedal2023)
            .architectures(Architecture::X8664)
            .handler("bootstrap")
            .role(ROLE)
            .timeout(300)
            .memory_size(1024)
            .environment(env.build())
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(code_zip(binary)?))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| setup(&deployed, sdk_error(e)))?;
        let arn = created
            .function_arn
            .ok_or_else(|| setup(&deployed, "no ARN in the answer"))?;
        self.functions.insert(function.to_string(), deployed);
        self.function_arns.insert(function.to_string(), arn);
        Ok(())
    }

    /// The outbound events, as the CDK app wires them: the sluice bus, the publish function
    /// and the rule that sends it each outbox record's S3 event; and, for the tests, a queue
    /// every sluice event on the bus goes to.
    async fn deploy_events(&mut self, binaries: &Binaries) -> Result<(), EmulatorError> {
        let events = aws_sdk_eventbridge::Client::new(&self.sdk);
        let bus = format!("{}-events", self.name);
        events
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .map_err(|e| setup(&bus, sdk_error(e)))?;
        self.event_bus = bus.clone();
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let queue = format!("{}-events", self.name);
        self.events_queue_url = sqs
            .create_queue()
            .queue_name(&queue)
            .send()
            .await
            .map_err(|e| setup(&queue, sdk_error(e)))?
            .queue_url
            .ok_or_else(|| setup(&queue, "no queue URL in the answer"))?;
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&self.events_queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| setup(&queue, sdk_error(e)))?
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .ok_or_else(|| setup(&queue, "no queue ARN"))?;
        let all = format!("{}-all-events", self.name);
        events
            .put_rule()
            .name(&all)
            .event_bus_name(&bus)
            .event_pattern(serde_json::json!({"source": ["sluice"]}).to_string())
            .send()
            .await
            .map_err(|e| setup(&all, sdk_error(e)))?;
        events
            .put_targets()
            .rule(&all)
            .event_bus_name(&bus)
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .map_err(|e| setup(&all, e))?,
            )
            .send()
            .await
            .map_err(|e| setup(&all, sdk_error(e)))?;

        self.create_function("publish", binaries, &[("SLUICE_EVENT_BUS", &bus)])
            .await?;
        let outbox = format!("{}-outbox", self.name);
        let pattern = serde_json::json!({
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {
                "bucket": {"name": [self.bucket]},
                "object": {"key": [{"prefix": sluice_core::layout::outbox_prefix()}]}
            }
        });
        events
            .put_rule()
            .name(&outbox)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .map_err(|e| setup(&outbox, sdk_error(e)))?;
        events
            .put_targets()
            .rule(&outbox)
            .targets(
                Target::builder()
                    .id("publish")
                    .arn(&self.function_arns["publish"])
                    .retry_policy(RetryPolicy::builder().maximum_retry_attempts(3).build())
                    .build()
                    .map_err(|e| setup(&outbox, e))?,
            )
            .send()
            .await
            .map_err(|e| setup(&outbox, sdk_error(e)))?;
        Ok(())
    }

    /// The pushed arrivals, as the CDK app deploys them: a Secrets Manager secret and the
    /// receive function behind an HTTP API (`POST /tables/{table}/arrivals`, `GET
    /// /arrivals/{id}`, payload format 2.0, stage `$default`); a Kinesis stream of one shard
    /// and the stream function, invoked by an event source mapping from the oldest record with
    /// partial batch responses. The emulator does not enforce IAM, so the API is deployed in
    /// the shared-secret mode, which the function itself checks.
    pub async fn deploy_arrivals(
        &mut self,
        binaries: &Binaries,
    ) -> Result<Arrivals, EmulatorError> {
        let secrets = aws_sdk_secretsmanager::Client::new(&self.sdk);
        let secret_name = format!("{}-webhook", self.name);
        let secret = format!("webhook-secret-{}", self.name);
        let secret_arn = secrets
            .create_secret()
            .name(&secret_name)
            .secret_string(&secret)
            .send()
            .await
            .map_err(|e| setup(&secret_name, sdk_error(e)))?
            .arn
            .ok_or_else(|| setup(&secret_name, "no ARN in the answer"))?;
        self.create_function(
            "receive",
            binaries,
            &[("SLUICE_WEBHOOK_SECRET_ARN", &secret_arn)],
        )
        .await?;
        let api = aws_sdk_apigatewayv2::Client::new(&self.sdk);
        let name = format!("{}-webhook", self.name);
        let api_id = api
            .create_api()
            .name(&name)
            .protocol_type(aws_sdk_apigatewayv2::types::ProtocolType::Http)
            .send()
            .await
            .map_err(|e| setup(&name, sdk_error(e)))?
            .api_id
            .ok_or_else(|| setup(&name, "no API id in the answer"))?;
        let integration = api
            .create_integration()
            .api_id(&api_id)
            .integration_type(aws_sdk_apigatewayv2::types::IntegrationType::AwsProxy)
            .integration_uri(&self.function_arns["receive"])
            .payload_format_version("2.0")
            .send()
            .await
            .map_err(|e| setup(&name, sdk_error(e)))?
            .integration_id
            .ok_or_else(|| setup(&name, "no integration id in the answer"))?;
        for route in ["POST /tables/{table}/arrivals", "GET /arrivals/{id}"] {
            api.create_route()
                .api_id(&api_id)
                .route_key(route)
                .target(format!("integrations/{integration}"))
                .send()
                .await
                .map_err(|e| setup(route, sdk_error(e)))?;
        }
        api.create_stage()
            .api_id(&api_id)
            .stage_name("$default")
            .auto_deploy(true)
            .send()
            .await
            .map_err(|e| setup(&name, sdk_error(e)))?;

        self.create_function("stream", binaries, &[]).await?;
        let kinesis = aws_sdk_kinesis::Client::new(&self.sdk);
        let stream = format!("{}-orders", self.name);
        kinesis
            .create_stream()
            .stream_name(&stream)
            .shard_count(1)
            .send()
            .await
            .map_err(|e| setup(&stream, sdk_error(e)))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream_arn = loop {
            let summary = kinesis
                .describe_stream_summary()
                .stream_name(&stream)
                .send()
                .await
                .map_err(|e| setup(&stream, sdk_error(e)))?
                .stream_description_summary;
            if let Some(s) = summary {
                if s.stream_status == aws_sdk_kinesis::types::StreamStatus::Active {
                    break s.stream_arn;
                }
            }
            if Instant::now() > deadline {
                return Err(setup(&stream, "not active after a minute"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut arrivals = Arrivals {
            webhook_url: format!("{}/_aws/execute-api/{api_id}", self.endpoint),
            secret: secret.into_bytes(),
            kinesis_stream: stream,
            kinesis_arn: stream_arn,
            mapping: String::new(),
        };
        arrivals.mapping = self.map_stream(&arrivals.kinesis_arn).await?;
        Ok(arrivals)
    }

    /// An event source mapping from the Kinesis stream to the stream function, from its
    /// oldest record; its id.
    async fn map_stream(&self, stream_arn: &str) -> Result<String, EmulatorError> {
        aws_sdk_lambda::Client::new(&self.sdk)
            .create_event_source_mapping()
            .function_name(&self.functions["stream"])
            .event_source_arn(stream_arn)
            .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
            .batch_size(100)
            .function_response_types(
                aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures,
            )
            .send()
            .await
            .map_err(|e| setup("the stream's event source mapping", sdk_error(e)))?
            .uuid
            .ok_or_else(|| setup("the stream's event source mapping", "no id in the answer"))
    }

    /// Moves the stream's iterator back to its oldest record, as a re-balance or an operator
    /// resetting a consumer does: the mapping is replaced by one from `TRIM_HORIZON`, so every
    /// record is delivered again.
    pub async fn replay_stream(&self, arrivals: &mut Arrivals) -> Result<(), EmulatorError> {
        aws_sdk_lambda::Client::new(&self.sdk)
            .delete_event_source_mapping()
            .uuid(&arrivals.mapping)
            .send()
            .await
            .map_err(|e| setup("the stream's event source mapping", sdk_error(e)))?;
        arrivals.mapping = self.map_stream(&arrivals.kinesis_arn).await?;
        Ok(())
    }

    /// What the stream's mapping last did (`OK - 41 records`, ...), if anything yet.
    pub async fn stream_mapping_result(
        &self,
        arrivals: &Arrivals,
    ) -> Result<Option<String>, EmulatorError> {
        Ok(aws_sdk_lambda::Client::new(&self.sdk)
            .get_event_source_mapping()
            .uuid(&arrivals.mapping)
            .send()
            .await
            .map_err(|e| setup("the stream's event source mapping", sdk_error(e)))?
            .last_processing_result)
    }

    /// Puts `records` (partition key, data) on the stream, in order, in one request.
    pub async fn put_records(
        &self,
        arrivals: &Arrivals,
        records: &[(String, Vec<u8>)],
    ) -> Result<(), EmulatorError> {
        let mut entries = vec![];
        for (key, data) in records {
            entries.push(
                aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
                    .partition_key(key)
                    .data(aws_sdk_kinesis::primitives::Blob::new(data.clone()))
                    .build()
                    .map_err(|e| setup("a stream record", e))?,
            );
        }
        let out = aws_sdk_kinesis::Client::new(&self.sdk)
            .put_records()
            .stream_name(&arrivals.kinesis_stream)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| setup(&arrivals.kinesis_stream, sdk_error(e)))?;
        if out.failed_record_count.unwrap_or(0) > 0 {
            return Err(setup(&arrivals.kinesis_stream, "some records were not put"));
        }
        Ok(())
    }

    /// The sluice events the bus has sent to the stack's queue so far (their `detail`s,
    /// removed from the queue).
    pub async fn received_events(&self) -> Result<Vec<serde_json::Value>, EmulatorError> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut out = vec![];
        loop {
            let got = sqs
                .receive_message()
                .queue_url(&self.events_queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .map_err(|e| setup("the events queue", sdk_error(e)))?;
            let messages = got.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(out);
            }
            for m in messages {
                if let Some(body) = m.body() {
                    let event: serde_json::Value = serde_json::from_str(body)
                        .map_err(|e| setup("an event on the queue", e))?;
                    out.push(event);
                }
                if let Some(handle) = m.receipt_handle() {
                    let _ = sqs
                        .delete_message()
                        .queue_url(&self.events_queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await;
                }
            }
        }
    }

    /// Registers this stack's values as a CloudFormation stack of the same name whose outputs
    /// are named as the CDK app names them (`BucketName`, `StateMachineArn`,
    /// `WarehouseLocation`, `ReconcileFunctionName`), plus `extra` (a test's own queue as
    /// `DeadLetterQueueUrl`, say), so that `sluice --aws --stack NAME` resolves them as it
    /// does on AWS. The template's one resource is a `WaitConditionHandle`, which does
    /// nothing: CloudFormation wants a resource, the outputs are literals. Returns the
    /// stack's name once it is `CREATE_COMPLETE`.
    pub async fn register_outputs(&self, extra: &[(&str, &str)]) -> Result<String, EmulatorError> {
        let mut outputs = serde_json::Map::new();
        let own = [
            ("BucketName", self.bucket.as_str()),
            ("StateMachineArn", self.state_machine.as_str()),
            ("WarehouseLocation", self.warehouse.as_str()),
            (
                "ReconcileFunctionName",
                self.functions["reconcile"].as_str(),
            ),
        ];
        for (name, value) in own.iter().chain(extra) {
            outputs.insert(name.to_string(), serde_json::json!({ "Value": value }));
        }
        let template = serde_json::json!({
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": outputs,
        });
        let cfn = aws_sdk_cloudformation::Client::new(&self.sdk);
        cfn.create_stack()
            .stack_name(&self.name)
            .template_body(template.to_string())
            .send()
            .await
            .map_err(|e| setup("the CloudFormation stack", sdk_error(e)))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let described = cfn
                .describe_stacks()
                .stack_name(&self.name)
                .send()
                .await
                .map_err(|e| setup("the CloudFormation stack", sdk_error(e)))?;
            let status = described
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if status == "CREATE_COMPLETE" {
                return Ok(self.name.clone());
            }
            if status.ends_with("FAILED")
                || status.contains("ROLLBACK")
                || Instant::now() > deadline
            {
                return Err(setup(
                    "the CloudFormation stack",
                    format!("{} is {status}", self.name),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Puts `body` at `key` in the bucket; returns the version id.
    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<Option<String>, EmulatorError> {
        let out = crate::s3_client(&self.sdk)
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .map_err(|e| setup(key, sdk_error(e)))?;
        Ok(out.version_id)
    }

    /// Deletes `key` (on the versioned bucket: a delete marker, and an `Object Deleted`
    /// event); returns the marker's version id.
    pub async fn delete(&self, key: &str) -> Result<Option<String>, EmulatorError> {
        let out = crate::s3_client(&self.sdk)
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| setup(key, sdk_error(e)))?;
        Ok(out.version_id)
    }

    /// Every execution of the ingest state machine, once at least `at_least` exist and none
    /// is running; an error after `timeout` names the emulator's log.
    pub async fn wait_for_executions(
        &self,
        ministack: &Ministack,
        at_least: usize,
        timeout: Duration,
    ) -> Result<Vec<ExecutionListItem>, EmulatorError> {
        let sfn = aws_sdk_sfn::Client::new(&self.sdk);
        let deadline = Instant::now() + timeout;
        loop {
            let mut listed = vec![];
            let mut token = None;
            loop {
                let page = sfn
                    .list_executions()
                    .state_machine_arn(&self.state_machine)
                    .set_next_token(token)
                    .max_results(1000)
                    .send()
                    .await
                    .map_err(|e| setup("the executions", sdk_error(e)))?;
                listed.extend(page.executions);
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
            let running = listed
                .iter()
                .filter(|e| e.status == ExecutionStatus::Running)
                .count();
            if listed.len() >= at_least && running == 0 {
                return Ok(listed);
            }
            if Instant::now() > deadline {
                return Err(setup(
                    "the executions",
                    format!(
                        "{} of {at_least} started, {running} still running after {:?}; \
                         emulator log: {}",
                        listed.len(),
                        timeout,
                        ministack.log_path().display()
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

impl Stack {
    /// Why an execution did not succeed, as a test's failure should say it: its status, error
    /// and cause, the last events of its history (which state, which attempt), and the last
    /// lines of the emulator's log, where a function's timeout or crash is recorded.
    pub async fn why_failed(&self, ministack: &Ministack, execution: &ExecutionListItem) -> String {
        let sfn = aws_sdk_sfn::Client::new(&self.sdk);
        let mut text = format!("execution {} is {:?}", execution.name, execution.status);
        match sfn
            .describe_execution()
            .execution_arn(&execution.execution_arn)
            .send()
            .await
        {
            Ok(d) => text.push_str(&format!(": {:?} {:?}", d.error(), d.cause())),
            Err(e) => text.push_str(&format!(" (not described: {})", sdk_error(e))),
        }
        if let Ok(history) = sfn
            .get_execution_history()
            .execution_arn(&execution.execution_arn)
            .reverse_order(true)
            .max_results(12)
            .send()
            .await
        {
            text.push_str("\nits last events, newest first:");
            for event in history.events() {
                let state = event
                    .state_entered_event_details()
                    .map(|d| format!(" {}", d.name()))
                    .unwrap_or_default();
                text.push_str(&format!(
                    "\n  {} {:?}{state}",
                    event.timestamp(),
                    event.r#type()
                ));
            }
        }
        let log = std::fs::read_to_string(ministack.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(40)..];
        text.push_str(&format!(
            "\nthe emulator's log ({}), last {} lines:\n{}",
            ministack.log_path().display(),
            tail.len(),
            tail.join("\n")
        ));
        text
    }
}

/// The repository root (this crate is `crates/aws`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A zip holding one executable `bootstrap` that runs `binary`.
fn code_zip(binary: &Path) -> Result<Vec<u8>, EmulatorError> {
    let zipped = |e: zip::result::ZipError| setup("a function's code", e);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).map_err(zipped)?;
    writeln!(zip, "#!/bin/sh\nexec '{}' \"$@\"", binary.display())?;
    Ok(zip.finish().map_err(zipped)?.into_inner())
}
