//! Where the deployed stack is: what `--stack NAME` and the explicit flags that name one
//! resource each (target.rs) resolve to.
//!
//! `--stack` reads the CloudFormation stack's outputs once (DescribeStacks), named as the CDK
//! app names them: `BucketName`, `StateMachineArn`, `WarehouseLocation`,
//! `ReconcileFunctionName`, `DeadLetterQueueUrl`, ... An explicit flag (`--bucket`,
//! `--state-machine-arn`, ...) or its environment variable wins over the output, so a stack
//! deployed by an older CDK app can still be operated, and no stack is needed at all when
//! every flag a command uses is given. What is missing is said in one line that names the flag,
//! its variable and the output; exit code 1.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;

use crate::target::Target;

/// One resource of the stack: the flag that names it, its variable, its output.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    pub what: &'static str,
    pub flag: &'static str,
    pub env: &'static str,
    pub output: &'static str,
}

pub const STATE_MACHINE: Resource = Resource {
    what: "the ingest state machine",
    flag: "--state-machine-arn ARN",
    env: "SLUICE_STATE_MACHINE_ARN",
    output: "StateMachineArn",
};
pub const BUCKET: Resource = Resource {
    what: "the landing bucket",
    flag: "--bucket NAME",
    env: "SLUICE_BUCKET",
    output: "BucketName",
};
pub const WAREHOUSE: Resource = Resource {
    what: "the Iceberg warehouse",
    flag: "--warehouse s3://BUCKET/PREFIX",
    env: "SLUICE_WAREHOUSE",
    output: "WarehouseLocation",
};
/// The stack output naming the S3 Tables table bucket (only a stack on S3 Tables has it).
pub const TABLE_BUCKET_OUTPUT: &str = "TableBucketArn";
/// The stack output naming the role AWS Glue's table optimizers run as (cdk/lib/sluice-stack.ts),
/// present when a table asks for them.
pub const GLUE_OPTIMIZER_ROLE_OUTPUT: &str = "GlueOptimizerRoleArn";

pub const DEAD_LETTER_QUEUE: Resource = Resource {
    what: "the dead-letter queue",
    flag: "--queue-url URL",
    env: "SLUICE_DLQ_URL",
    output: "DeadLetterQueueUrl",
};
pub const RECONCILE_FUNCTION: Resource = Resource {
    what: "the reconcile function",
    flag: "--function NAME",
    env: "SLUICE_RECONCILE_FUNCTION",
    output: "ReconcileFunctionName",
};

pub const BACKFILL_STATE_MACHINE: Resource = Resource {
    what: "the backfill state machine",
    flag: "--backfill-state-machine-arn ARN",
    env: "SLUICE_BACKFILL_STATE_MACHINE_ARN",
    output: "BackfillStateMachineArn",
};

/// The deployed stack as far as a command needs it: the SDK configuration, and the
/// stack's outputs when `--stack` was given.
pub struct Deployed {
    pub sdk: SdkConfig,
    pub target: Target,
    outputs: BTreeMap<String, String>,
}

/// An SDK error in one line: the service's code and message, or (no response) what failed,
/// with the fix for missing credentials.
pub fn sdk_error<E, R>(e: aws_sdk_sfn::error::SdkError<E, R>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match e.code() {
        Some(code) => anyhow!("{code}: {}", e.message().unwrap_or("(no message)")),
        None => {
            let text = sluice_aws::sdk::error_text(&e);
            // The chain lists every provider it tried, a line each: one line says it.
            if text.contains("loading credentials")
                || text.contains("no providers in chain")
                || text.contains("no credentials found in chain")
            {
                anyhow!(
                    "no AWS credentials found (environment, profile, web identity, container, \
                     instance): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                     or run `aws sso login`"
                )
            } else {
                anyhow!("{}", text.split_whitespace().collect::<Vec<_>>().join(" "))
            }
        }
    }
}

impl Target {
    /// The SDK configuration, and the stack's outputs if `--stack` names one.
    pub async fn resolve(&self) -> anyhow::Result<Deployed> {
        let sdk = sluice_aws::sdk_config().await;
        let mut outputs = BTreeMap::new();
        if let Some(name) = &self.stack {
            outputs = stack_outputs(&sdk, name).await?;
        }
        Ok(Deployed {
            sdk,
            target: self.clone(),
            outputs,
        })
    }
}

/// The outputs of stack `name`, by output key.
async fn stack_outputs(sdk: &SdkConfig, name: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .ok_or_else(|| anyhow!("no AWS region: set AWS_REGION, or a region in the profile"))?;
    let described = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(name)
        .send()
        .await;
    let described = match described {
        Ok(d) => d,
        Err(e) if e.message().is_some_and(|m| m.contains("does not exist")) => bail!(
            "no stack {name:?} in region {region}: check --stack (SLUICE_STACK) and the region \
             (AWS_REGION, or the profile's); `aws cloudformation list-stacks` lists them"
        ),
        Err(e) => {
            return Err(sdk_error(e).context(format!(
                "reading the outputs of stack {name:?} in {region} (cloudformation:DescribeStacks)"
            )))
        }
    };
    let Some(stack) = described.stacks().first() else {
        bail!("no stack {name:?} in region {region}: check --stack (SLUICE_STACK) and the region");
    };
    Ok(stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect())
}

/// The region of an ARN (`arn:PARTITION:SERVICE:REGION:...`), if it names one.
fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

impl Deployed {
    /// `resource`'s value: the explicit flag (or its variable), else the stack's output.
    pub fn value(&self, resource: Resource, flag: Option<&str>) -> anyhow::Result<String> {
        if let Some(v) = flag.filter(|v| !v.is_empty()) {
            return Ok(v.to_string());
        }
        if let Some(v) = self.outputs.get(resource.output) {
            return Ok(v.clone());
        }
        let Resource {
            what,
            flag,
            env,
            output,
        } = resource;
        match &self.target.stack {
            Some(stack) => bail!(
                "stack {stack:?} has no output {output} ({what}): deploy it with this version of \
                 the CDK app, or pass {flag} (or set {env})"
            ),
            None => bail!(
                "--aws needs {what}: pass --stack NAME (or set SLUICE_STACK) to read it from the \
                 stack's outputs, or pass {flag} (or set {env}; the stack output {output})"
            ),
        }
    }

    /// The ingest state machine's ARN, in the SDK's region.
    pub fn state_machine(&self) -> anyhow::Result<String> {
        let arn = self.value(STATE_MACHINE, self.target.state_machine_arn.as_deref())?;
        self.same_region(&arn)?;
        Ok(arn)
    }

    pub fn bucket(&self) -> anyhow::Result<String> {
        self.value(BUCKET, self.target.bucket.as_deref())
    }

    pub fn warehouse(&self) -> anyhow::Result<String> {
        self.value(WAREHOUSE, self.target.warehouse.as_deref())
    }

    /// The S3 Tables table bucket's ARN, if the tables are in one: the flag (or its
    /// variable), else the stack's output TableBucketArn; `None` for a stack on Glue.
    pub fn table_bucket_arn(&self) -> Option<String> {
        self.target
            .table_bucket_arn
            .clone()
            .filter(|v| !v.is_empty())
            .or_else(|| self.outputs.get(TABLE_BUCKET_OUTPUT).cloned())
    }

    /// The role AWS Glue's table optimizers run as: the stack's output GlueOptimizerRoleArn,
    /// made when a table of its configuration asks for them; `None` otherwise.
    pub fn glue_optimizer_role(&self) -> Option<String> {
        self.outputs
            .get(GLUE_OPTIMIZER_ROLE_OUTPUT)
            .filter(|v| !v.is_empty())
            .cloned()
    }

    /// An ARN in another region than the SDK's: every call would fail with a message about
    /// something else (a resource that does not exist, a signature).
    pub fn same_region(&self, arn: &str) -> anyhow::Result<()> {
        let (Some(theirs), Some(ours)) = (arn_region(arn), self.sdk.region()) else {
            return Ok(());
        };
        if theirs != ours.as_ref() {
            bail!(
                "{arn} is in region {theirs}, but the AWS region is {ours}: set AWS_REGION={theirs} \
                 (or choose a profile of that region)"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployed(target: Target, outputs: &[(&str, &str)]) -> Deployed {
        Deployed {
            sdk: SdkConfig::builder()
                .region(aws_config::Region::new("eu-west-1"))
                .build(),
            target,
            outputs: outputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn an_explicit_flag_wins_over_the_stack_output() {
        let d = deployed(
            Target {
                bucket: Some("mine".into()),
                ..Target::default()
            },
            &[
                ("BucketName", "theirs"),
                ("WarehouseLocation", "s3://theirs/wh/"),
            ],
        );
        assert_eq!(d.bucket().unwrap(), "mine");
        assert_eq!(d.warehouse().unwrap(), "s3://theirs/wh/");
    }

    #[test]
    fn a_missing_output_names_the_stack_the_output_and_the_flag() {
        let d = deployed(
            Target {
                stack: Some("sluice-prod".into()),
                ..Target::default()
            },
            &[],
        );
        let e = d.bucket().unwrap_err().to_string();
        assert!(
            e.contains("\"sluice-prod\" has no output BucketName"),
            "{e}"
        );
        assert!(e.contains("--bucket NAME"), "{e}");
        let e = deployed(Target::default(), &[])
            .bucket()
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--stack NAME") && e.contains("SLUICE_BUCKET"),
            "{e}"
        );
    }

    #[test]
    fn a_stack_on_s3_tables_names_its_table_bucket_and_one_on_glue_none() {
        let arn = "arn:aws:s3tables:eu-west-1:111122223333:bucket/sluice-tables";
        let on_s3tables = deployed(Target::default(), &[("TableBucketArn", arn)]);
        assert_eq!(on_s3tables.table_bucket_arn().as_deref(), Some(arn));
        let flagged = deployed(
            Target {
                table_bucket_arn: Some("arn:aws:s3tables:eu-west-1:1:bucket/mine".into()),
                ..Target::default()
            },
            &[("TableBucketArn", arn)],
        );
        assert_eq!(
            flagged.table_bucket_arn().as_deref(),
            Some("arn:aws:s3tables:eu-west-1:1:bucket/mine")
        );
        let on_glue = deployed(Target::default(), &[("WarehouseLocation", "s3://b/wh/")]);
        assert_eq!(on_glue.table_bucket_arn(), None);
    }

    #[test]
    fn a_state_machine_of_another_region_is_refused_with_the_fix() {
        let d = deployed(
            Target {
                state_machine_arn: Some("arn:aws:states:us-east-1:1:stateMachine:s".into()),
                ..Target::default()
            },
            &[],
        );
        let e = d.state_machine().unwrap_err().to_string();
        assert!(e.contains("set AWS_REGION=us-east-1"), "{e}");
    }
}
