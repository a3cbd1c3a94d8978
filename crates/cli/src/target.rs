//! `--aws`, `--stack NAME` and the flags that name the deployed stack's resources one by one.
//!
//! They are parsed in every build, so a command line means the same whatever was built; only a
//! build with the `aws` feature acts on them (stack.rs resolves them, with the AWS SDK). A build
//! without it refuses `--aws` (main.rs), so the branches that read `aws` are compiled out there.

/// The flags every command that can operate the deployed stack shares (global: they may
/// stand before or after the subcommand).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Target {
    /// Operate the deployed stack on AWS instead of the local workspace: the bucket (S3),
    /// the catalog (Glue), Step Functions, SQS. Credentials and region come from the AWS
    /// SDK's usual chain (environment, AWS_PROFILE, SSO, instance role); AWS_ENDPOINT_URL
    /// points it at an emulator.
    #[arg(long, global = true)]
    pub aws: bool,
    /// The CloudFormation stack the CDK app deployed: every resource below is read from its
    /// outputs (needs cloudformation:DescribeStacks). An explicit flag wins over the output.
    #[arg(long, global = true, env = "SLUICE_STACK", value_name = "NAME")]
    pub stack: Option<String>,
    /// The ingest state machine (the stack output StateMachineArn).
    #[arg(
        long,
        global = true,
        env = "SLUICE_STATE_MACHINE_ARN",
        value_name = "ARN"
    )]
    pub state_machine_arn: Option<String>,
    /// The landing bucket, where objects, the ledger and quarantine records are (the stack
    /// output BucketName).
    #[arg(long, global = true, env = "SLUICE_BUCKET", value_name = "NAME")]
    pub bucket: Option<String>,
    /// The Iceberg warehouse, s3://bucket/prefix (the stack output WarehouseLocation).
    #[arg(long, global = true, env = "SLUICE_WAREHOUSE", value_name = "URI")]
    pub warehouse: Option<String>,
    /// The S3 Tables table bucket holding the tables, when the stack was deployed with
    /// SLUICE_CATALOG=s3tables (the stack output TableBucketArn); without it, the Glue
    /// catalog and the warehouse.
    #[arg(
        long,
        global = true,
        env = "SLUICE_TABLE_BUCKET_ARN",
        value_name = "ARN"
    )]
    pub table_bucket_arn: Option<String>,
}
