// The sluice stack: a landing bucket whose Object Created and Object Deleted events (through
// EventBridge) start one execution of statemachine/ingest.asl.json per object version; the
// five step Lambdas that definition calls; a scheduled reconcile Lambda per table; the Glue
// databases of the tables' namespaces; dead-letter queues by purpose (arrivals, schedules);
// lifecycle rules; alarms and a dashboard; optionally a customer-managed KMS key.
//
// IAM matrix: one role per function, no action `*` or `service:*`, every S3 resource an object
// ARN of the one bucket. The control keys come from cdk/lib/control-layout.json, which
// crates/core/src/layout.rs writes. T = each configured table (namespace NS, name N); wh = the warehouse
// prefix (default `warehouse/`); ledger = .sluice/ledger/*.
//
//   filter               read   T.prefix*, ledger, .sluice/keys/*
//                        write  ledger, .sluice/keys/*
//   schema-drift-detect  read   T.prefix*, ledger, wh NS/N/metadata/*, .sluice/tables/NS.N.json
//                        write  ledger, wh NS/N/metadata/*, .sluice/tables/NS.N.json
//                        glue   GetDatabase GetTable CreateTable UpdateTable
//   validate             read   T.prefix*, ledger, wh NS/N/metadata/*, .sluice/tables/NS.N.json
//                        write  ledger, wh NS/N/data/*, .sluice/staged/NS.N/*, .sluice/rejects/NS.N/*
//                        delete wh NS/N/data/* (the staged files of a batch it quarantines)
//                        glue   GetDatabase GetTable
//   quarantine           read   ledger
//                        write  ledger, .sluice/quarantine/N/*, .sluice/quarantine/_unrouted/*,
//                               .sluice/quarantine/_events/* (events that named no object)
//   commit               read   ledger, .sluice/staged/NS.N/*, wh NS/N/*, .sluice/tables/NS.N.json
//                        write  ledger, wh NS/N/metadata/*
//                        delete .sluice/staged/NS.N/* (spent manifests), .sluice/quarantine/N/*
//                        glue   GetDatabase GetTable UpdateTable
//   reconcile            read   ledger, key heads, .sluice/watermarks/NS.N.json
//                        write  key heads (removals whose events were lost),
//                               .sluice/watermarks/NS.N.json
//                        other  s3:ListBucketVersions under T.prefix; states:StartExecution on
//                               this state machine; sqs:SendMessage to the schedule dead-letter
//                               queue (its on-failure destination)
//
// With a customer-managed key, every role may also use that key (kms:Decrypt, Encrypt,
// GenerateDataKey*, ReEncrypt*), and the key policy lets EventBridge (dead letters),
// CloudWatch (the alarm topic) and CloudWatch Logs use it.
//
// Glue grants name the catalog, the database NS and the table NS/N. Read is s3:GetObject and
// s3:GetObjectVersion; write is s3:PutObject and s3:AbortMultipartUpload.
//
// Every function also has s3:ListBucket on the bucket, without a prefix condition: without it
// S3 answers a GetObject of an absent key with 403 instead of 404, and an absent ledger record,
// key head or manifest is an ordinary answer in sluice. It reveals key names, not contents. And
// each writes only to its own log group (logs:CreateLogStream, logs:PutLogEvents).
//
// Two grants come from reading crates/steps: the drift step reads and moves the ledger record
// of a replay (quarantined -> claimed), and validate loads the table (GetTable) to write
// Parquet with the table's field ids. Validate's load-or-create never creates on AWS because
// DetectDrift, which may create, always runs before it.
//
// The state machine's role may only invoke the five step functions, plus the log-delivery and
// X-Ray actions that AWS only grants on `*`.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Arn,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Size,
  Stack,
  StackProps,
  Token,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONTROL_PREFIX, SluiceConfig, TableSpec, stageConfig } from './config';

/**
 * Every family of control keys sluice writes, as `crates/core/src/layout.rs` builds them
 * (`{namespace}`, `{table}`, a trailing `*`). A Rust test keeps the file equal to that module.
 */
export const CONTROL_LAYOUT: Record<string, string> = Object.fromEntries(
  (
    JSON.parse(fs.readFileSync(path.join(__dirname, 'control-layout.json'), 'utf8')) as {
      name: string;
      pattern: string;
    }[]
  ).map((f) => [f.name, f.pattern]),
);
type ControlFamily =
  | 'ledger'
  | 'key_heads'
  | 'staged'
  | 'rejects'
  | 'quarantine'
  | 'quarantine_unrouted'
  | 'quarantine_events'
  | 'watermark'
  | 'identity';

/** The repository root: this file is cdk/lib/sluice-stack.ts. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** The five functions the definition calls, by the placeholder each one fills. */
export const STEP_FUNCTIONS = {
  filter: 'FilterFunctionArn',
  'schema-drift-detect': 'SchemaDriftDetectFunctionArn',
  validate: 'ValidateFunctionArn',
  quarantine: 'QuarantineFunctionArn',
  commit: 'CommitFunctionArn',
} as const;

export type StepName = keyof typeof STEP_FUNCTIONS;
export type FunctionName = StepName | 'reconcile';

/** Where the config lands in the Lambda layer (layers unpack under /opt). */
export const CONFIG_PATH_IN_LAMBDA = '/opt/sluice/sluice.toml';

export interface SluiceStackProps extends StackProps {
  /** The parsed sluice.toml. */
  readonly config: SluiceConfig;
  /**
   * Directory holding `<function>/bootstrap` for each of the six functions. Default
   * `target/lambda` of the repository, where `make lambdas` builds them.
   */
  readonly lambdaCodeDir?: string;
  /** Prefix of the Iceberg warehouse in the bucket. Default `warehouse/`. */
  readonly warehousePrefix?: string;
  /** Reserved concurrency of `commit`. Default 5. */
  readonly commitReservedConcurrency?: number;
  /** How long the Lambdas' and the state machine's logs are kept. Default one month. */
  readonly logRetention?: logs.RetentionDays;
  /** How often each table is reconciled. Default every hour. */
  readonly reconcileEvery?: Duration;
  /** If set, an SNS topic is made for the alarms and this address subscribed to it. */
  readonly alarmEmail?: string;
  /**
   * Reserved concurrency of `validate`: at most this many files are read at once (each
   * invocation has 2 GB). Default: no cap beyond the account's. Throttled invocations are
   * retried by the definition (`Lambda.TooManyRequestsException`).
   */
  readonly validateReservedConcurrency?: number;
  /** Days a noncurrent version under the control prefix `.sluice/` is kept. Default 7. */
  readonly controlVersionsDays?: number;
  /**
   * Days rejected rows (`.sluice/rejects/`, raw rows that may hold personal data) are kept.
   * Default 30.
   */
  readonly rejectsRetentionDays?: number;
  /**
   * Days a noncurrent version under the warehouse prefix is kept (files `sluice gc` removed,
   * metadata replaced). Default 7.
   */
  readonly warehouseVersionsDays?: number;
  /**
   * A customer-managed KMS key (made by the stack, rotated yearly, retained) for the bucket,
   * the dead-letter queues, the alarm topic and the log groups, with the grants each role
   * and service needs. Default: AWS-managed encryption.
   */
  readonly customerManagedKey?: boolean;
  /**
   * Freshness: the alarm fires when an object's rows took longer than this from its arrival
   * to their commit (the `EventToCommitLag` metric). Default one hour.
   */
  readonly freshnessThreshold?: Duration;
  /**
   * The repository, from which the defaults `target/lambda` and
   * `statemachine/ingest.asl.json` are taken. Default: the one this file is in.
   */
  readonly repoRoot?: string;
}

/**
 * Memory and timeout per function. Each step function times out at least 30 s before its
 * Task's TimeoutSeconds (`TASK_HEADROOM_SECONDS`): the function's own timeout then ends the
 * invocation and reaches the Task as `Sandbox.Timedout`, with the reason in its log, while
 * the Task's timeout is only a backstop. The other way round, Step Functions would give up on
 * an invocation that goes on running, and a retry would overlap it.
 */
/** Seconds between a step function's timeout and its Task's TimeoutSeconds, at least. */
export const TASK_HEADROOM_SECONDS = 30;

const SIZING: Record<FunctionName, { memoryMiB: number; timeout: Duration; tmpMiB?: number }> = {
  filter: { memoryMiB: 256, timeout: Duration.seconds(60) },
  'schema-drift-detect': { memoryMiB: 1024, timeout: Duration.seconds(300) },
  validate: { memoryMiB: 2048, timeout: Duration.seconds(900), tmpMiB: 4096 },
  quarantine: { memoryMiB: 256, timeout: Duration.seconds(60) },
  commit: { memoryMiB: 1024, timeout: Duration.seconds(300) },
  reconcile: { memoryMiB: 512, timeout: Duration.seconds(900) },
};

export class SluiceStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly encryptionKey?: kms.Key;
  readonly dashboard: cloudwatch.Dashboard;
  readonly stateMachine: sfn.StateMachine;
  readonly deadLetterQueue: sqs.Queue;
  readonly functions: Record<FunctionName, lambda.Function>;
  readonly roles: Record<FunctionName, iam.Role>;
  readonly warehousePrefix: string;

  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, props);
    const { config } = props;
    const tables = config.tables;
    const warehouse = props.warehousePrefix ?? 'warehouse/';
    checkWarehousePrefix(warehouse, tables);
    this.warehousePrefix = warehouse;
    const repoRoot = props.repoRoot ?? REPO_ROOT;
    const codeDir = props.lambdaCodeDir ?? path.join(repoRoot, 'target', 'lambda');
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    // Fail before building anything if a binary is missing.
    const names: FunctionName[] = [...(Object.keys(STEP_FUNCTIONS) as StepName[]), 'reconcile'];
    const codeDirs = Object.fromEntries(
      names.map((name) => [name, lambdaCode(codeDir, name, props.lambdaCodeDir !== undefined)]),
    ) as Record<FunctionName, string>;

    // ---- The bucket -------------------------------------------------------------------
    // ---- The key (optional) -----------------------------------------------------------
    const key = props.customerManagedKey
      ? new kms.Key(this, 'Key', {
          description: 'sluice: bucket, dead-letter queues, alarm topic, logs',
          enableKeyRotation: true,
          removalPolicy: RemovalPolicy.RETAIN,
        })
      : undefined;
    this.encryptionKey = key;
    if (key) {
      // The services that write encrypted data on the stack's behalf.
      key.grantEncryptDecrypt(new iam.ServicePrincipal('events.amazonaws.com'));
      key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`));
      key.grantEncryptDecrypt(new iam.ServicePrincipal('cloudwatch.amazonaws.com'));
    }

    // ---- The bucket -------------------------------------------------------------------
    const days = (n: number | undefined, fallback: number, what: string) => {
      const d = n ?? fallback;
      if (!Number.isInteger(d) || d < 1) {
        throw new Error(`sluice: ${what} ${JSON.stringify(n)} must be a whole number of days, at least 1`);
      }
      return Duration.days(d);
    };
    const controlDays = days(props.controlVersionsDays, 7, 'controlVersionsDays');
    const rejectsDays = days(props.rejectsRetentionDays, 30, 'rejectsRetentionDays');
    const warehouseDays = days(props.warehouseVersionsDays, 7, 'warehouseVersionsDays');
    this.bucket = new s3.Bucket(this, 'Bucket', {
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: key ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: key,
      bucketKeyEnabled: key ? true : undefined,
      lifecycleRules: [
        {
          id: 'AbortIncompleteUploads',
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // Every ledger transition and every removal leaves a noncurrent version here.
          id: 'ControlPrefixVersions',
          prefix: CONTROL_PREFIX,
          noncurrentVersionExpiration: controlDays,
          expiredObjectDeleteMarker: true,
        },
        {
          // Raw rejected rows: kept long enough to repair and replay, not for ever.
          id: 'RejectedRows',
          prefix: `${CONTROL_PREFIX}rejects/`,
          expiration: rejectsDays,
          noncurrentVersionExpiration: Duration.days(1),
        },
        {
          id: 'WarehouseVersions',
          prefix: warehouse,
          noncurrentVersionExpiration: warehouseDays,
          expiredObjectDeleteMarker: true,
        },
      ],
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // S3 -> EventBridge on the bucket resource itself. The L2 `eventBridgeEnabled` prop would
    // do it through a custom-resource Lambda (Custom::S3BucketNotifications) instead.
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    const bucket = this.bucket;
    const obj = (pattern: string) => bucket.arnForObjects(pattern);

    // ---- The config, shipped as a layer: /opt/sluice/sluice.toml and its contracts --------
    // A path in SLUICE_CONFIG, not the text in a variable: the contracts are files relative
    // to the config, the same variable names the config for the CLI, and Lambda caps all of
    // a function's variables at 4 KB together.
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-config-'));
    stageConfig(config, staging);
    const configLayer = new lambda.LayerVersion(this, 'ConfigLayer', {
      code: lambda.Code.fromAsset(staging),
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
      description: 'sluice.toml and its contracts, under /opt/sluice',
    });

    // ---- Roles and the IAM matrix ------------------------------------------------------
    const roles = Object.fromEntries(
      names.map((name) => [
        name,
        new iam.Role(this, `${pascal(name)}Role`, {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          description: `sluice ${name} Lambda`,
        }),
      ]),
    ) as Record<FunctionName, iam.Role>;
    this.roles = roles;
    if (key) {
      for (const role of Object.values(roles)) key.grantEncryptDecrypt(role);
    }

    const allow = (name: FunctionName, sid: string, actions: string[], resources: string[]) =>
      roles[name].addToPrincipalPolicy(
        new iam.PolicyStatement({ sid, actions, resources }),
      );
    const READ = ['s3:GetObject', 's3:GetObjectVersion'];
    const WRITE = ['s3:PutObject', 's3:AbortMultipartUpload'];
    const DELETE = ['s3:DeleteObject'];
    // Control keys from the one map Rust builds them with (cdk/lib/control-layout.json).
    const control = (family: ControlFamily, perTable = true) => {
      const pattern = CONTROL_LAYOUT[family];
      if (!pattern.includes('{')) return [obj(pattern)];
      if (!perTable) throw new Error(`sluice: control family ${family} is per table`);
      return tables.map((t) => obj(pattern.replace('{namespace}', t.namespace).replace('{table}', t.name)));
    };
    const ledger = control('ledger');
    const keyHeads = control('key_heads');
    const identities = control('identity');
    const sources = tables.map((t) => obj(`${t.prefix}*`));
    const tableDir = (t: TableSpec) => `${warehouse}${t.namespace}/${t.name}/`;
    const metadata = tables.map((t) => obj(`${tableDir(t)}metadata/*`));
    const data = tables.map((t) => obj(`${tableDir(t)}data/*`));
    const wholeTables = tables.map((t) => obj(`${tableDir(t)}*`));
    const staged = control('staged');
    const rejects = control('rejects');
    const quarantined = control('quarantine');
    const watermarks = control('watermark');
    const glueArns = this.glueArns(tables);

    for (const name of names) {
      allow(name, 'AbsentKeysAre404', ['s3:ListBucket'], [bucket.bucketArn]);
    }
    allow('filter', 'ReadArrivals', READ, sources);
    allow('filter', 'ReadWriteLedgerAndKeyHeads', [...READ, ...WRITE], [...ledger, ...keyHeads]);

    allow('schema-drift-detect', 'ReadArrivals', READ, sources);
    allow('schema-drift-detect', 'ReadWriteLedgerAndTableMetadata', [...READ, ...WRITE], [...ledger, ...metadata]);
    // The identity record a table gets when DetectDrift creates it, read back on every load.
    allow('schema-drift-detect', 'ReadWriteTableIdentities', [...READ, ...WRITE], identities);
    allow('schema-drift-detect', 'EvolveTables', [
      'glue:GetDatabase', 'glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable',
    ], glueArns);

    allow('validate', 'ReadArrivalsLedgerAndTableMetadata', READ, [...sources, ...ledger, ...metadata, ...identities]);
    allow('validate', 'WriteLedgerDataStagedRejects', WRITE, [...ledger, ...data, ...staged, ...rejects]);
    allow('validate', 'DropFilesOfQuarantinedBatch', DELETE, data);
    allow('validate', 'LoadTables', ['glue:GetDatabase', 'glue:GetTable'], glueArns);

    allow('quarantine', 'ReadWriteLedger', [...READ, ...WRITE], ledger);
    allow('quarantine', 'WriteQuarantineRecords', WRITE, [
      ...quarantined,
      ...control('quarantine_unrouted'),
      ...control('quarantine_events'),
    ]);

    allow('commit', 'ReadLedgerStagedAndTables', READ, [...ledger, ...staged, ...wholeTables, ...identities]);
    allow('commit', 'WriteLedgerAndTableMetadata', WRITE, [...ledger, ...metadata]);
    allow('commit', 'RemoveSpentManifestsAndSettledQuarantine', DELETE, [...staged, ...quarantined]);
    allow('commit', 'CommitSnapshots', ['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'], glueArns);

    allow('reconcile', 'ReadLedgerKeyHeadsAndWatermarks', READ, [...ledger, ...keyHeads, ...watermarks]);
    // A delete marker whose Object Deleted event was lost is recorded in its key's head.
    allow('reconcile', 'WriteKeyHeadsAndWatermarks', WRITE, [...keyHeads, ...watermarks]);
    roles.reconcile.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListVersionsOfTablePrefixes',
        actions: ['s3:ListBucketVersions'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': tables.map((t) => `${t.prefix}*`) } },
      }),
    );

    // ---- The functions ---------------------------------------------------------------
    const commonEnv = {
      SLUICE_BUCKET: bucket.bucketName,
      SLUICE_WAREHOUSE: `s3://${bucket.bucketName}/${warehouse}`,
      SLUICE_WAREHOUSE_PREFIX: warehouse,
      SLUICE_CONFIG: CONFIG_PATH_IN_LAMBDA,
      SLUICE_CATALOG: 'glue',
      // The `Stack` dimension of the functions' metrics: two stacks in one account never mix.
      SLUICE_STACK: this.stackName,
      SLUICE_LOG_FORMAT: 'json',
      RUST_LOG: 'info',
    };
    const make = (name: FunctionName, extra: Record<string, string> = {}) => {
      const logGroup = new logs.LogGroup(this, `${pascal(name)}Logs`, {
        retention,
        encryptionKey: key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      logGroup.grantWrite(roles[name]);
      const sizing = SIZING[name];
      return new lambda.Function(this, `${pascal(name)}Function`, {
        description: `sluice ${name}`,
        architecture: lambda.Architecture.ARM_64,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(codeDirs[name]),
        role: roles[name],
        memorySize: sizing.memoryMiB,
        timeout: sizing.timeout,
        ephemeralStorageSize: sizing.tmpMiB ? Size.mebibytes(sizing.tmpMiB) : undefined,
        reservedConcurrentExecutions:
          name === 'commit'
            ? (props.commitReservedConcurrency ?? 5)
            : name === 'validate'
              ? props.validateReservedConcurrency
              : undefined,
        layers: [configLayer],
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        environment: { ...commonEnv, SLUICE_FUNCTION: name, ...extra },
      });
    };
    const steps = Object.fromEntries(
      (Object.keys(STEP_FUNCTIONS) as StepName[]).map((name) => [name, make(name)]),
    ) as Record<StepName, lambda.Function>;

    // ---- The state machine -----------------------------------------------------------
    const definitionPath = path.join(repoRoot, 'statemachine', 'ingest.asl.json');
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      // Under /aws/vendedlogs/ so that log delivery does not grow the account's resource policy.
      logGroupName: `/aws/vendedlogs/states/${this.stackName}-ingest`,
      retention,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Ingest', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Inline (DefinitionString), not an S3 asset: the template shows the definition whole.
      definitionBody: sfn.DefinitionBody.fromString(fs.readFileSync(definitionPath, 'utf8')),
      definitionSubstitutions: Object.fromEntries(
        (Object.entries(STEP_FUNCTIONS) as [StepName, string][]).map(([name, placeholder]) => [
          placeholder,
          steps[name].functionArn,
        ]),
      ),
      logs: { destination: smLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
    });
    for (const fn of Object.values(steps)) {
      fn.grantInvoke(this.stateMachine);
    }

    const reconcile = make('reconcile', {
      SLUICE_STATE_MACHINE_ARN: this.stateMachine.stateMachineArn,
    });
    this.stateMachine.grantStartExecution(reconcile);
    this.functions = { ...steps, reconcile };

    // ---- Events: one rule and one archive per table; dead letters by purpose ----------
    // Arrivals that could not start an execution (`sluice dlq replay` starts them again), and
    // apart from them the reconcile schedule's undelivered or failed invocations, which are
    // not arrivals and must never be started as one.
    const queue = (id: string) =>
      new sqs.Queue(this, id, {
        encryption: key ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED,
        encryptionMasterKey: key,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
    this.deadLetterQueue = queue('DeadLetters');
    this.scheduleDeadLetterQueue = queue('ScheduleDeadLetters');
    // Reconcile runs asynchronously (from the schedule): a failed run goes to its queue.
    reconcile.configureAsyncInvoke({
      onFailure: new destinations.SqsDestination(this.scheduleDeadLetterQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    });
    const ruleNames: string[] = [];
    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    for (const t of tables) {
      // Removals too: Filter records them in the ledger (what they do to rows is the
      // table's `on_delete` policy).
      const pattern: events.EventPattern = {
        source: ['aws.s3'],
        detailType: ['Object Created', 'Object Deleted'],
        detail: {
          bucket: { name: [bucket.bucketName] },
          object: { key: [{ prefix: t.prefix }] },
        },
      };
      const id = pascal(`${t.namespace}-${t.name}`);
      const arrivals = new events.Rule(this, `${id}Arrivals`, {
        description: `sluice: objects created or deleted under ${t.prefix} start an ingest execution (${t.namespace}.${t.name})`,
        eventPattern: pattern,
        targets: [
          new targets.SfnStateMachine(this.stateMachine, {
            deadLetterQueue: this.deadLetterQueue,
            maxEventAge: Duration.hours(24),
            retryAttempts: 185,
          }),
        ],
      });
      const archive = new events.Archive(this, `${id}ArrivalsArchive`, {
        sourceEventBus: defaultBus,
        eventPattern: pattern,
        description: `sluice: Object Created and Object Deleted events under ${t.prefix}, for replay`,
        retention: Duration.days(30),
      });
      // Without a key the L2 renders KmsKeyIdentifier "", which some regions refuse
      // (aws/aws-cdk#37847); absent means the AWS-owned key.
      (archive.node.findChild('Archive') as events.CfnArchive).addPropertyDeletionOverride(
        'KmsKeyIdentifier',
      );
      const schedule = new events.Rule(this, `${id}Reconcile`, {
        description: `sluice: reconcile ${t.namespace}.${t.name} (find versions whose events were lost)`,
        schedule: events.Schedule.rate(props.reconcileEvery ?? Duration.hours(1)),
        targets: [
          new targets.LambdaFunction(reconcile, {
            event: events.RuleTargetInput.fromObject({ table: t.name }),
            deadLetterQueue: this.scheduleDeadLetterQueue,
            maxEventAge: Duration.hours(1),
            retryAttempts: 2,
          }),
        ],
      });
      ruleNames.push(arrivals.ruleName, schedule.ruleName);
    }

    // ---- Glue: one database per namespace --------------------------------------------
    for (const ns of namespaces(tables)) {
      const db = new glue.CfnDatabase(this, `${pascal(ns)}Database`, {
        catalogId: this.account,
        databaseInput: {
          name: ns,
          description: 'sluice Iceberg tables',
          locationUri: `s3://${bucket.bucketName}/${warehouse}${ns}`,
        },
      });
      // Tables in it are made by the Lambdas; deleting the stack must not drop them.
      db.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }

    // ---- Alarms and the dashboard ---------------------------------------------------
    const five = Duration.minutes(5);
    const anyOf = (id: string, description: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription: description,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    // The functions publish by `Stack` and by `Stack` and `Table` (EMF); the alarms and the
    // dashboard read this stack's, every table together.
    const sluiceMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'sluice',
        metricName,
        statistic,
        period: five,
        dimensionsMap: { Stack: this.stackName },
      });
    const freshness = props.freshnessThreshold ?? Duration.hours(1);
    const alarms = [
      anyOf(
        'ExecutionsFailedAlarm',
        'sluice: an ingest execution failed (Internal error or retries spent); redrive it after a fix',
        this.stateMachine.metricFailed({ period: five, statistic: 'Sum' }),
      ),
      anyOf(
        'DeadLettersAlarm',
        'sluice: arrival events could not start an execution; `sluice dlq replay` starts them again',
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      ),
      anyOf(
        'ScheduleDeadLettersAlarm',
        'sluice: a reconcile run was not delivered or failed; see the reconcile log group, then run it again',
        this.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      ),
      anyOf(
        'FilesQuarantinedAlarm',
        'sluice: files were quarantined and wait for a person (sluice quarantine list)',
        sluiceMetric('FilesQuarantined', 'Sum'),
      ),
      new cloudwatch.Alarm(this, 'FreshnessAlarm', {
        alarmDescription: `sluice: rows took longer than ${freshness.toHumanString()} from their object's arrival to their commit`,
        metric: sluiceMetric('EventToCommitLag', 'Maximum'),
        threshold: freshness.toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const name of names) {
      const fn = this.functions[name];
      alarms.push(
        anyOf(`${pascal(name)}ErrorsAlarm`, `sluice: the ${name} function failed (see its log group)`, fn.metricErrors({ period: five, statistic: 'Sum' })),
        anyOf(`${pascal(name)}ThrottlesAlarm`, `sluice: the ${name} function was throttled (concurrency)`, fn.metricThrottles({ period: five, statistic: 'Sum' })),
      );
    }
    ruleNames.forEach((ruleName, i) => {
      alarms.push(
        anyOf(
          `Rule${i}FailedInvocationsAlarm`,
          'sluice: EventBridge could not invoke a rule\'s target (see the dead-letter queues)',
          new cloudwatch.Metric({
            namespace: 'AWS/Events',
            metricName: 'FailedInvocations',
            dimensionsMap: { RuleName: ruleName },
            statistic: 'Sum',
            period: five,
          }),
        ),
      );
    });
    if (props.alarmEmail) {
      const topic = new sns.Topic(this, 'AlarmTopic', {
        displayName: 'sluice alarms',
        enforceSSL: true,
        masterKey: key,
      });
      topic.addSubscription(new subs.EmailSubscription(props.alarmEmail));
      for (const alarm of alarms) {
        alarm.addAlarmAction(new cwActions.SnsAction(topic));
      }
    }
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${this.stackName}-sluice`,
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Executions',
            left: [
              this.stateMachine.metricStarted({ period: five }),
              this.stateMachine.metricSucceeded({ period: five }),
              this.stateMachine.metricFailed({ period: five }),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Rows and files',
            left: [sluiceMetric('RowsCommitted', 'Sum'), sluiceMetric('RowsRejected', 'Sum')],
            right: [sluiceMetric('FilesQuarantined', 'Sum')],
          }),
          new cloudwatch.GraphWidget({
            title: 'Freshness (ms)',
            left: [sluiceMetric('EventToCommitLag', 'Maximum'), sluiceMetric('CommitLatency', 'Average')],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Function errors and throttles',
            left: names.map((n) => this.functions[n].metricErrors({ period: five, label: `${n} errors` })),
            right: names.map((n) => this.functions[n].metricThrottles({ period: five, label: `${n} throttles` })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Function duration (p99, ms)',
            left: names.map((n) => this.functions[n].metricDuration({ period: five, statistic: 'p99', label: n })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Dead letters',
            left: [
              this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, label: 'arrivals' }),
              this.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, label: 'schedules' }),
            ],
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 })],
      ],
    });

    // ---- Outputs ---------------------------------------------------------------------
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ScheduleDeadLetterQueueUrl', { value: this.scheduleDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName });
  }

  /** The Glue catalog, the tables' databases and the tables themselves. */
  private glueArns(tables: TableSpec[]): string[] {
    const arn = (resource: string, resourceName?: string) =>
      Arn.format({ service: 'glue', resource, resourceName }, this);
    return [
      arn('catalog'),
      ...namespaces(tables).map((ns) => arn('database', ns)),
      ...tables.map((t) => arn('table', `${t.namespace}/${t.name}`)),
    ];
  }
}

function namespaces(tables: TableSpec[]): string[] {
  return [...new Set(tables.map((t) => t.namespace))];
}

/** `schema-drift-detect` -> `SchemaDriftDetect`, for construct ids. */
function pascal(s: string): string {
  return s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

/** The directory holding `<name>/bootstrap`, or a clear failure. */
function lambdaCode(dir: string, name: FunctionName, explicit: boolean): string {
  const fnDir = path.join(dir, name);
  if (!fs.existsSync(path.join(fnDir, 'bootstrap'))) {
    const hint = explicit
      ? `lambdaCodeDir is ${dir}; it must hold <function>/bootstrap for filter, schema-drift-detect, validate, quarantine, commit and reconcile`
      : 'run `make lambdas` first to build the Lambda binaries into target/lambda/<function>/bootstrap (or point lambdaCodeDir, `make synth LAMBDA_CODE_DIR=DIR`, at a directory holding them)';
    throw new Error(`sluice: no Lambda binary for ${name}: ${path.join(fnDir, 'bootstrap')} is missing; ${hint}`);
  }
  return fnDir;
}

function checkWarehousePrefix(warehouse: string, tables: TableSpec[]) {
  if (Token.isUnresolved(warehouse) || warehouse === '' || !warehouse.endsWith('/') || warehouse.startsWith('/')) {
    throw new Error(`sluice: warehousePrefix ${JSON.stringify(warehouse)} must be a key prefix ending in /`);
  }
  if (warehouse.startsWith(CONTROL_PREFIX)) {
    throw new Error(`sluice: warehousePrefix may not lie under ${CONTROL_PREFIX}`);
  }
  for (const t of tables) {
    if (t.prefix.startsWith(warehouse) || warehouse.startsWith(t.prefix)) {
      // Data files written into a table prefix would arrive as new objects: a loop.
      throw new Error(
        `sluice: table ${t.name}: prefix ${t.prefix} overlaps the warehouse prefix ${warehouse}`,
      );
    }
  }
}
