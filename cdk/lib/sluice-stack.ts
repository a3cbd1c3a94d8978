// The sluice stack: a landing bucket whose Object Created and Object Deleted events (through
// EventBridge) start one execution of statemachine/ingest.asl.json per object version; the
// five step Lambdas that definition calls; a scheduled reconcile Lambda per table, which also
// plans the backfills of statemachine/backfill.asl.json (a Distributed Map of ingest
// executions over the versions under a prefix); a scheduled maintain Lambda per table
// (snapshot expiry, then gc); the Glue databases of the tables' namespaces; dead-letter queues
// by purpose (arrivals, schedules, maintenance, outbound events, stream batches); lifecycle
// rules; alarms and a dashboard; optionally a customer-managed KMS key. With `catalog: 's3tables'` the tables are in an S3
// Tables table bucket the stack makes instead of Glue, and there is no maintain schedule (S3
// Tables compacts, expires and removes unreferenced files itself). Arrivals may also be pushed:
// an HTTP API whose receive Lambda writes each request's body under its table's prefix, and a
// stream Lambda that writes the batches of Kinesis streams or Kafka topics (optional sources)
// the same way; from the object on, they go the way of every arrival.
//
// The stack makes the key, the bucket and the Glue databases itself and composes the rest from
// its parts, each a file: functions.ts (roles, log groups, the ten functions, the config
// layer), workflow.ts (the state machines), arrivals.ts (rules, archives, dead-letter queues,
// the reconcile schedule), maintenance.ts (the maintain schedule and its queue), outbound.ts
// (the event bus, the publish rule, the schema registry), webhook.ts (the HTTP API),
// streams.ts (the stream sources and their queue), knowledge-base.ts (optional) and
// alarms.ts (alarms, topic, dashboard). The parts add their
// resources to the stack itself, so that logical IDs do not depend on the split.
//
// IAM: one role per function and per state machine, each granted exactly its row of the table
// in cdk/lib/access.ts (which says what each may touch and why), once every resource the table
// names exists. With a customer-managed key, the key policy lets EventBridge (dead letters),
// CloudWatch (the alarm topic) and CloudWatch Logs use it.

import * as path from 'path';
import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Token } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3tables from 'aws-cdk-lib/aws-s3tables';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CONTROL_LAYOUT, FunctionName, grantAccess, Principal } from './access';
import { Alarms } from './alarms';
import { Arrivals } from './arrivals';
import { Maintenance } from './maintenance';
import { glueOptimizerRole, optimizedTables } from './optimizers';
import { CONTROL_PREFIX, SluiceConfig, TableSpec } from './config';
import {
  CONFIG_PATH_IN_LAMBDA,
  Functions,
  STEP_FUNCTIONS,
  StepName,
  TASK_HEADROOM_SECONDS,
  lambdaCodeDirs,
  pascal,
  warehouseLocation,
} from './functions';
import { Workflow } from './workflow';
import { OUTBOX_DAYS, OUTBOX_PREFIX, Outbound } from './outbound';
import { KnowledgeBaseSync, KnowledgeBaseSyncProps } from './knowledge-base';
import { MskSource, SelfManagedKafkaSource, StreamSources } from './streams';
import { Webhook, WebhookAuth, WebhookThrottle } from './webhook';

export { CONFIG_PATH_IN_LAMBDA, CONTROL_LAYOUT, STEP_FUNCTIONS, TASK_HEADROOM_SECONDS };
export type { FunctionName, StepName };

/** The repository root: this file is cdk/lib/sluice-stack.ts. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface SluiceStackProps extends StackProps {
  /** The parsed sluice.toml. */
  readonly config: SluiceConfig;
  /**
   * Directory holding `<function>/bootstrap` for each of the ten functions. Default
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
  /** How often each table is maintained (expiry, then gc). Default daily. */
  readonly maintainEvery?: Duration;
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
   * The Iceberg catalog of the tables: `glue` (the default: the Glue Data Catalog, tables in
   * the bucket's warehouse prefix) or `s3tables` (an S3 Tables table bucket the stack makes,
   * which compacts the tables, expires their snapshots and removes unreferenced files
   * itself; no maintain schedule then).
   */
  readonly catalog?: 'glue' | 's3tables';
  /**
   * Name of the table bucket with `catalog: 's3tables'` (3 to 63 lowercase letters, digits
   * and hyphens; unique in the account and region). Default `<stack name>-tables`, lowercased.
   */
  readonly tableBucketName?: string;
  /**
   * Freshness of a table whose sluice.toml entry sets no `freshness`: its alarms fire when
   * an object's rows took longer than this from its arrival to their commit
   * (`EventToCommitLag`) or an object has waited longer and is not done
   * (`OldestUnfinishedAge`, from reconcile). Default one hour.
   */
  readonly freshnessThreshold?: Duration;
  /**
   * The repository, from which `target/lambda` (the default code dir) and the definitions
   * `statemachine/ingest.asl.json` and `statemachine/backfill.asl.json` are taken. Default:
   * the one this file is in.
   */
  readonly repoRoot?: string;
  /**
   * Keep a Bedrock Knowledge Base in step: each `FileCommitted` (of the listed tables, or
   * all) starts an ingestion job of its data source (knowledge-base.ts). Default: none.
   */
  readonly knowledgeBaseSync?: KnowledgeBaseSyncProps;
  /**
   * Who may call the webhook's HTTP API: `iam` (the default), AWS_IAM authorization and a
   * managed policy for callers to attach (output `WebhookInvokePolicyArn`); or `secret`, no
   * authorizer, every request signed with a secret the stack generates (`WebhookSecretArn`).
   */
  readonly webhookAuth?: WebhookAuth;
  /** The largest request body the webhook takes, in bytes. Default (and at most) 4 MiB. */
  readonly webhookMaxBodyBytes?: number;
  /** The webhook stage's throttling. Default 100 requests a second, bursts of 200. */
  readonly webhookThrottle?: WebhookThrottle;
  /** Kinesis data streams whose records the stream function writes into tables, by ARN. */
  readonly kinesisStreamArns?: readonly string[];
  /** Make a Kinesis data stream (on-demand, encrypted) for the stream function. Default false. */
  readonly createKinesisStream?: boolean;
  /** Topics of an Amazon MSK cluster for the stream function. */
  readonly msk?: MskSource;
  /** Topics of a self-managed Kafka cluster for the stream function. */
  readonly selfManagedKafka?: SelfManagedKafkaSource;
  /** Records in a stream batch at most. Default 1000. */
  readonly streamBatchSize?: number;
  /** How long a stream batch gathers records. Default 5 seconds. */
  readonly streamMaxBatchingWindow?: Duration;
  /** Retries of a failed stream batch before it goes to its dead-letter queue. Default 10. */
  readonly streamRetryAttempts?: number;
}

export class SluiceStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly scheduleDeadLetterQueue: sqs.Queue;
  /** Maintenance runs that were not delivered or failed. */
  readonly maintenanceDeadLetterQueue: sqs.Queue;
  readonly encryptionKey?: kms.Key;
  readonly dashboard: cloudwatch.Dashboard;
  /** The ingest state machine. */
  readonly stateMachine: sfn.StateMachine;
  readonly backfillStateMachine: sfn.StateMachine;
  readonly deadLetterQueue: sqs.Queue;
  readonly functions: Record<FunctionName, lambda.Function>;
  readonly roles: Record<FunctionName, iam.Role>;
  readonly warehousePrefix: string;
  /** The S3 Tables table bucket, with `catalog: 's3tables'`. */
  readonly tableBucket?: s3tables.CfnTableBucket;
  /** The configured tables. */
  readonly tables: TableSpec[];
  /** The role AWS Glue's table optimizers run as, when a table asks for them. */
  readonly glueOptimizerRole?: iam.Role;
  /** The sluice event bus: the outbound events (outbound.ts). */
  readonly eventBus: events.EventBus;
  /** Outbound events the publish function could not put on the bus. */
  readonly eventDeadLetterQueue: sqs.Queue;
  /** With `knowledgeBaseSync`: what starts the knowledge base's ingestion jobs. */
  readonly knowledgeBaseSync?: KnowledgeBaseSync;
  /** The webhook's HTTP API (webhook.ts). */
  readonly webhookApi: apigw.HttpApi;
  /** With `webhookAuth: 'secret'`: the key of the requests' signatures. */
  readonly webhookSecret?: secretsmanager.Secret;
  /** With `webhookAuth: 'iam'`: what callers attach to call the webhook. */
  readonly webhookInvokePolicy?: iam.ManagedPolicy;
  /** Stream batches given up after their retries (streams.ts). */
  readonly streamDeadLetterQueue: sqs.Queue;
  /** With `createKinesisStream`. */
  readonly kinesisStream?: kinesis.Stream;

  constructor(scope: Construct, id: string, props: SluiceStackProps) {
    super(scope, id, props);
    const { config } = props;
    const tables = config.tables;
    const warehouse = props.warehousePrefix ?? 'warehouse/';
    checkWarehousePrefix(warehouse, tables);
    this.warehousePrefix = warehouse;
    this.tables = tables;
    const repoRoot = props.repoRoot ?? REPO_ROOT;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    // Fail before building anything if a binary is missing.
    const codeDirs = lambdaCodeDirs(
      props.lambdaCodeDir ?? path.join(repoRoot, 'target', 'lambda'),
      props.lambdaCodeDir !== undefined,
    );

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
          // Outbound events: published when written; kept a while to read and deliver again.
          id: 'Outbox',
          prefix: OUTBOX_PREFIX,
          expiration: Duration.days(OUTBOX_DAYS),
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

    // ---- The table bucket (catalog `s3tables`) ---------------------------------------
    const catalog = props.catalog ?? 'glue';
    if (catalog !== 'glue' && catalog !== 's3tables') {
      throw new Error(`sluice: catalog ${JSON.stringify(catalog)} is neither glue nor s3tables`);
    }
    let tableBucketArn: string | undefined;
    if (catalog === 's3tables') {
      const name = props.tableBucketName ?? `${this.stackName.toLowerCase()}-tables`;
      checkTableBucketName(name);
      checkS3TablesNames(tables);
      this.tableBucket = new s3tables.CfnTableBucket(this, 'TableBucket', { tableBucketName: name });
      // The tables sluice made live in it: deleting the stack must not delete them.
      this.tableBucket.applyRemovalPolicy(RemovalPolicy.RETAIN);
      tableBucketArn = this.formatArn({ service: 's3tables', resource: 'bucket', resourceName: name });
    }

    // ---- The parts --------------------------------------------------------------------
    const fns = new Functions(this, {
      config,
      codeDirs,
      bucket,
      warehousePrefix: warehouse,
      key,
      logRetention: retention,
      commitReservedConcurrency: props.commitReservedConcurrency,
      validateReservedConcurrency: props.validateReservedConcurrency,
      tableBucketArn,
    });
    if (this.tableBucket) {
      for (const f of Object.values(fns.functions)) f.node.addDependency(this.tableBucket);
    }
    this.functions = fns.functions;
    this.roles = fns.roles;
    const reconcile = fns.functions.reconcile;

    const workflow = new Workflow(this, {
      repoRoot,
      steps: fns.functions,
      reconcile,
      key,
      logRetention: retention,
    });
    this.stateMachine = workflow.ingest;
    this.backfillStateMachine = workflow.backfill;
    // What reconcile starts: ingest executions, and a backfill for a prefix too large for one
    // invocation (by the ARN built from the fixed name: the backfill machine calls reconcile).
    reconcile.addEnvironment('SLUICE_STATE_MACHINE_ARN', workflow.ingest.stateMachineArn);
    reconcile.addEnvironment('SLUICE_BACKFILL_STATE_MACHINE_ARN', workflow.backfillArn);

    const arrivals = new Arrivals(this, {
      bucket,
      tables,
      ingest: workflow.ingest,
      reconcile,
      key,
      reconcileEvery: props.reconcileEvery,
    });
    this.deadLetterQueue = arrivals.deadLetterQueue;
    this.scheduleDeadLetterQueue = arrivals.scheduleDeadLetterQueue;

    const maintenance = new Maintenance(this, {
      // S3 Tables expires snapshots and removes unreferenced files itself, and refuses
      // sluice's: no schedule there.
      tables: tableBucketArn ? [] : tables,
      maintain: fns.functions.maintain,
      key,
      maintainEvery: props.maintainEvery,
    });
    this.maintenanceDeadLetterQueue = maintenance.deadLetterQueue;

    const outbound = new Outbound(this, { bucket, publish: fns.functions.publish, key, repoRoot });
    this.eventBus = outbound.bus;
    this.eventDeadLetterQueue = outbound.deadLetterQueue;
    if (props.knowledgeBaseSync) {
      const unknown = (props.knowledgeBaseSync.tables ?? []).filter((t) => !tables.some((x) => x.name === t));
      if (unknown.length > 0) {
        throw new Error(`sluice: knowledgeBaseSync names table ${unknown[0]}, which sluice.toml does not configure`);
      }
      this.knowledgeBaseSync = new KnowledgeBaseSync(this, outbound.bus, outbound.deadLetterQueue, props.knowledgeBaseSync);
    }

    // ---- Pushed arrivals: the webhook and the streams ----------------------------------
    const webhook = new Webhook(this, {
      receive: fns.functions.receive,
      auth: props.webhookAuth,
      maxBodyBytes: props.webhookMaxBodyBytes,
      throttle: props.webhookThrottle,
      key,
      logRetention: retention,
    });
    this.webhookApi = webhook.api;
    this.webhookSecret = webhook.secret;
    this.webhookInvokePolicy = webhook.invokePolicy;
    const streams = new StreamSources(this, {
      stream: fns.functions.stream,
      key,
      kinesisStreamArns: props.kinesisStreamArns,
      createKinesisStream: props.createKinesisStream,
      msk: props.msk,
      selfManagedKafka: props.selfManagedKafka,
      batchSize: props.streamBatchSize,
      maxBatchingWindow: props.streamMaxBatchingWindow,
      retryAttempts: props.streamRetryAttempts,
    });
    this.streamDeadLetterQueue = streams.deadLetterQueue;
    this.kinesisStream = streams.kinesisStream;

    // ---- Glue: one database per namespace --------------------------------------------
    for (const ns of tableBucketArn ? [] : namespaces(tables)) {
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
    this.dashboard = new Alarms(this, {
      ingest: workflow.ingest,
      backfill: workflow.backfill,
      functions: fns.functions,
      deadLetterQueue: arrivals.deadLetterQueue,
      scheduleDeadLetterQueue: arrivals.scheduleDeadLetterQueue,
      maintenanceDeadLetterQueue: maintenance.deadLetterQueue,
      eventDeadLetterQueue: outbound.deadLetterQueue,
      streamDeadLetterQueue: streams.deadLetterQueue,
      ruleNames: [...arrivals.ruleNames, ...maintenance.ruleNames, outbound.ruleName],
      alarmEmail: props.alarmEmail,
      key,
      tables,
      freshnessThreshold: props.freshnessThreshold,
      reconcileEvery: props.reconcileEvery,
    }).dashboard;

    // ---- Glue's table optimizers (optimizers.ts) -------------------------------------
    const optimized = optimizedTables(tables);
    if (tableBucketArn && optimized.length > 0) {
      throw new Error(
        `sluice: table ${optimized[0].name} asks for Glue's table optimizers ([table.glue_optimizers]), ` +
          'but the catalog is s3tables, which compacts and expires its tables itself: remove the section',
      );
    }
    if (optimized.length > 0) {
      this.glueOptimizerRole = glueOptimizerRole(this, { bucket, tables: optimized, warehousePrefix: warehouse, key });
      // The function that creates tables sets their optimizers up; maintain checks them.
      for (const f of ['schema-drift-detect', 'maintain'] as const) {
        fns.functions[f].addEnvironment('SLUICE_GLUE_OPTIMIZER_ROLE_ARN', this.glueOptimizerRole.roleArn);
      }
    }

    // ---- The IAM matrix (access.ts) -------------------------------------------------
    const principals: Record<Principal, iam.IRole> = {
      ...fns.roles,
      ingest: workflow.ingest.role,
      backfill: workflow.backfill.role,
    };
    for (const [principal, role] of Object.entries(principals) as [Principal, iam.IRole][]) {
      grantAccess(this, principal, role, {
        bucket,
        tables,
        warehousePrefix: warehouse,
        key,
        functions: fns.functions,
        logGroups: fns.logGroups,
        queues: {
          schedule_dead_letters: arrivals.scheduleDeadLetterQueue,
          maintenance_dead_letters: maintenance.deadLetterQueue,
          stream_dead_letters: streams.deadLetterQueue,
        },
        workflows: {
          ingest: { arn: workflow.ingest.stateMachineArn, name: workflow.ingest.stateMachineName },
          backfill: { arn: workflow.backfillArn, name: workflow.backfillName },
        },
        tableBucketArn,
        glueOptimizerRole: this.glueOptimizerRole,
        eventBusArn: outbound.bus.eventBusArn,
        webhookSecretArn: webhook.secret?.secretArn,
      });
    }

    // ---- Outputs ---------------------------------------------------------------------
    // The CLI's `--stack NAME` finds the stack's resources by these names: never rename one.
    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'StateMachineArn', { value: this.stateMachine.stateMachineArn });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'ScheduleDeadLetterQueueUrl', { value: this.scheduleDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboardName });
    new CfnOutput(this, 'BackfillStateMachineArn', { value: workflow.backfill.stateMachineArn });
    new CfnOutput(this, 'ReconcileFunctionName', { value: reconcile.functionName });
    new CfnOutput(this, 'MaintainFunctionName', { value: fns.functions.maintain.functionName });
    new CfnOutput(this, 'MaintenanceDeadLetterQueueUrl', { value: this.maintenanceDeadLetterQueue.queueUrl });
    new CfnOutput(this, 'WarehouseLocation', { value: warehouseLocation(bucket, warehouse) });
    new CfnOutput(this, 'EventBusName', { value: outbound.bus.eventBusName });
    new CfnOutput(this, 'EventBusArn', { value: outbound.bus.eventBusArn });
    if (tableBucketArn) new CfnOutput(this, 'TableBucketArn', { value: tableBucketArn });
    if (this.glueOptimizerRole) {
      new CfnOutput(this, 'GlueOptimizerRoleArn', { value: this.glueOptimizerRole.roleArn });
    }
    new CfnOutput(this, 'WebhookUrl', { value: webhook.api.apiEndpoint });
    new CfnOutput(this, 'WebhookApiId', { value: webhook.api.apiId });
    if (webhook.invokePolicy) {
      new CfnOutput(this, 'WebhookInvokePolicyArn', { value: webhook.invokePolicy.managedPolicyArn });
    }
    if (webhook.secret) new CfnOutput(this, 'WebhookSecretArn', { value: webhook.secret.secretArn });
    // For event source mappings added later, beside the stack's own.
    new CfnOutput(this, 'StreamFunctionName', { value: fns.functions.stream.functionName });
    new CfnOutput(this, 'StreamDeadLetterQueueUrl', { value: streams.deadLetterQueue.queueUrl });
    if (streams.kinesisStream) {
      new CfnOutput(this, 'KinesisStreamName', { value: streams.kinesisStream.streamName });
      new CfnOutput(this, 'KinesisStreamArn', { value: streams.kinesisStream.streamArn });
    }
  }
}

/** S3 Tables' rules for a table bucket's name. */
function checkTableBucketName(name: string) {
  const reserved = ['xn--', 'sthree-', 'amzn-s3-demo-', 'aws'].some((p) => name.startsWith(p))
    || ['-s3alias', '--ol-s3', '--x-s3', '--table-s3'].some((s) => name.endsWith(s));
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(name) || reserved) {
    throw new Error(
      `sluice: tableBucketName ${JSON.stringify(name)} is not a table bucket name: 3 to 63 lowercase letters, ` +
        'digits and hyphens, beginning and ending with a letter or digit, no reserved prefix or suffix',
    );
  }
}

/** S3 Tables' rules for namespaces and table names, checked before anything deploys. */
function checkS3TablesNames(tables: TableSpec[]) {
  const valid = (n: string) => n.length <= 255 && /^[a-z0-9]([a-z0-9_]*[a-z0-9])?$/.test(n);
  for (const t of tables) {
    if (!valid(t.namespace) || t.namespace.startsWith('aws') || !valid(t.name)) {
      throw new Error(
        `sluice: table ${t.namespace}.${t.name} cannot be an S3 Tables table: namespaces and names are 1 to 255 ` +
          'lowercase letters, digits and underscores, beginning and ending with a letter or digit (a namespace not starting with aws)',
      );
    }
  }
}

function namespaces(tables: TableSpec[]): string[] {
  return [...new Set(tables.map((t) => t.namespace))];
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
