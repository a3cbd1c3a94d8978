// The IAM matrix as one table: for each of the ten functions and the two state machines, what
// its role may do, and the one function (`grantAccess`) that turns a row into policy
// statements. A test (test/access.test.ts) reads the synthesised template back and checks that
// every row became statements on its role and that no statement on those roles exists the
// table does not explain. Two rows hold grants CDK also makes by itself, identically: the
// log-delivery and X-Ray actions of a state machine that logs and traces, and reconcile's,
// maintain's and stream's SendMessage to their on-failure destinations.
//
// Rules the table keeps: no action `*` or `service:*`; every S3 object grant names a family of
// control keys (by its `name` in cdk/lib/control-layout.json, which crates/core/src/layout.rs
// writes) or a data prefix (DATA_PREFIXES) of the one bucket, per configured table; Glue grants
// name the catalog, the tables' databases and the tables themselves (on S3 Tables, the
// `s3tables` grants name the stack's table bucket and its tables instead, and no table files
// in the bucket are granted); Step Functions grants
// name one state machine or its executions; the one EventBridge grant names the rule Step
// Functions manages for `.sync`.
//
// Two grants come from reading crates/steps: the drift step reads and moves the ledger record
// of a replay (quarantined -> claimed), and validate loads the table (GetTable) to write
// Parquet with the table's field ids. Validate's load-or-create never creates on AWS because
// DetectDrift, which may create, always runs before it.
//
// Every function also has s3:ListBucket on the bucket, without a prefix condition: without it
// S3 answers a GetObject of an absent key with 403 instead of 404, and an absent ledger record,
// key head or manifest is an ordinary answer in sluice. It reveals key names, not contents.
//
// Not in the table: the roles EventBridge assumes to start the ingest state machine (one per
// arrival rule, made by the rule target with states:StartExecution on that state machine
// only), the key policy of the customer-managed key (EventBridge, CloudWatch and
// CloudWatch Logs may use it), and what the stream function's event sources grant it when
// configured (streams.ts: CDK's read of each Kinesis stream; on an MSK cluster, reading its
// topics and the AWS managed policy AWSLambdaMSKExecutionRole; a Kafka secret).

import * as fs from 'fs';
import * as path from 'path';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { TableSpec } from './config';
import { optimizedTables } from './optimizers';

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

/** The control families the table grants, by their `name` in control-layout.json. */
export type ControlFamily =
  | 'ledger'
  | 'key_heads'
  | 'staged'
  | 'rejects'
  | 'quarantine'
  | 'quarantine_unrouted'
  | 'quarantine_events'
  | 'watermark'
  | 'identity'
  | 'backfill'
  | 'contracts'
  | 'drift_decisions'
  | 'outbox'
  | 'streams';

/**
 * The data in the bucket, per table (`{prefix}` its key prefix, `{warehouse}` the warehouse
 * prefix, default `warehouse/`), in the patterns' syntax of control-layout.json.
 */
export const DATA_PREFIXES = {
  /** The objects that land: a table's own prefix. */
  arrivals: '{prefix}*',
  /** Iceberg metadata (metadata.json, manifests, manifest lists) of the table. */
  table_metadata: '{warehouse}{namespace}/{table}/metadata/*',
  /** Parquet data files of the table. */
  table_data: '{warehouse}{namespace}/{table}/data/*',
  /** Everything of the table in the warehouse: metadata and data. */
  table_files: '{warehouse}{namespace}/{table}/*',
  /** Bodies the webhook received (receive), one object each: arrivals of the table. */
  webhook: '{prefix}webhook/*',
  /** Batches of stream records (stream), one object per table, shard and batch: arrivals. */
  stream: '{prefix}stream/*',
} as const;
export type DataPrefix = keyof typeof DATA_PREFIXES;

/** What a row may do to objects, and the S3 actions each use stands for. */
export const S3_ACTIONS = {
  read: ['s3:GetObject', 's3:GetObjectVersion'],
  /** The current version only. */
  readLatest: ['s3:GetObject'],
  write: ['s3:PutObject', 's3:AbortMultipartUpload'],
  delete: ['s3:DeleteObject'],
} as const;
export type ObjectUse = keyof typeof S3_ACTIONS;

/** The functions, by the name each has in target/lambda/<name>/bootstrap. */
export type FunctionName =
  | 'filter'
  | 'schema-drift-detect'
  | 'validate'
  | 'quarantine'
  | 'commit'
  | 'reconcile'
  | 'maintain'
  | 'publish'
  | 'receive'
  | 'stream';
/** The state machines. */
export type WorkflowName = 'ingest' | 'backfill';
export type Principal = FunctionName | WorkflowName;

export type GlueAction = 'glue:GetDatabase' | 'glue:GetTable' | 'glue:CreateTable' | 'glue:UpdateTable';

/**
 * What setting up a table's Glue optimizers takes (crates/aws/src/glue_optimizers.rs), granted
 * on the tables that ask for them, with iam:PassRole of the role they run as (optimizers.ts).
 */
export const GLUE_OPTIMIZER_ACTIONS = [
  'glue:GetTableOptimizer',
  'glue:CreateTableOptimizer',
  'glue:UpdateTableOptimizer',
] as const;

/**
 * The S3 Tables actions behind the Iceberg REST calls sluice makes on a table bucket, split by
 * the resource AWS checks them on: the table bucket (reading the catalog's config, a
 * namespace, creating one or a table) or a table (`bucket/<name>/table/*`: loading, reading
 * and writing its files, committing, setting its snapshot management once created). A table's
 * ARN holds its id, not its name, so the grant names every table of the stack's own bucket.
 */
export const S3TABLES_ACTIONS = {
  /** Load a table and read its metadata and data files. */
  read: {
    bucket: ['s3tables:GetTableBucket', 's3tables:GetNamespace'],
    table: ['s3tables:GetTable', 's3tables:GetTableMetadataLocation', 's3tables:GetTableData'],
  },
  /** Write data files into the table's storage. */
  writeData: { bucket: [], table: ['s3tables:PutTableData'] },
  /** Commit a snapshot (UpdateTable through the REST endpoint). */
  commit: { bucket: [], table: ['s3tables:PutTableData', 's3tables:UpdateTableMetadataLocation'] },
  /** Create the namespace and the table from the contract, with its snapshot management. */
  create: {
    bucket: ['s3tables:CreateNamespace', 's3tables:CreateTable'],
    table: ['s3tables:PutTableData', 's3tables:PutTableMaintenanceConfiguration'],
  },
} as const;
export type S3TablesUse = keyof typeof S3TABLES_ACTIONS;
export type StatesAction = 'states:StartExecution' | 'states:DescribeExecution' | 'states:StopExecution';

/**
 * A state machine (`machine`), every execution of one (`executionsOf`, ARN
 * `execution:<name>:*`), or every child execution a Distributed Map of one starts
 * (`mapRunExecutionsOf`, ARN `execution:<name>/*`).
 */
export interface StatesGrant {
  readonly actions: readonly StatesAction[];
  readonly on:
    | { readonly machine: WorkflowName }
    | { readonly executionsOf: WorkflowName }
    | { readonly mapRunExecutionsOf: WorkflowName };
}

/**
 * The rule Step Functions manages in the account to learn that an execution started with
 * `startExecution.sync` has ended; the starting role must be able to make and read it.
 */
export const SYNC_RULE = 'StepFunctionsGetEventsForStepFunctionsExecutionRule';
export const SYNC_RULE_ACTIONS = ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'] as const;

/** The queues a role may send to. */
export type QueueName = 'schedule_dead_letters' | 'maintenance_dead_letters' | 'stream_dead_letters';

/** The actions behind each `key` use of the customer-managed key. */
export const KMS_ACTIONS = {
  encrypt_decrypt: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'],
  decrypt: ['kms:Decrypt'],
} as const;

/** A function's writes to its own log group. */
export const LOG_WRITE_ACTIONS = ['logs:CreateLogStream', 'logs:PutLogEvents'] as const;

/**
 * What a state machine's role gets from CDK when the machine logs and traces: AWS defines
 * these actions on no resource, so they are granted on `*`.
 */
export const LOG_DELIVERY_AND_TRACING_ACTIONS = [
  'logs:CreateLogDelivery',
  'logs:GetLogDelivery',
  'logs:UpdateLogDelivery',
  'logs:DeleteLogDelivery',
  'logs:ListLogDeliveries',
  'logs:PutResourcePolicy',
  'logs:DescribeResourcePolicies',
  'logs:DescribeLogGroups',
  'xray:PutTraceSegments',
  'xray:PutTelemetryRecords',
  'xray:GetSamplingRules',
  'xray:GetSamplingTargets',
] as const;

/** One row of the matrix. */
export interface Access {
  /** Control families by the use made of them. */
  readonly control?: Partial<Record<ObjectUse, readonly ControlFamily[]>>;
  /** Data prefixes by the use made of them. */
  readonly data?: Partial<Record<ObjectUse, readonly DataPrefix[]>>;
  /** s3:ListBucket on the bucket, so that an absent key reads as 404 (see the header). */
  readonly listBucket?: boolean;
  /** s3:ListBucketVersions on the bucket, only under the tables' prefixes. */
  readonly listVersionsUnderTablePrefixes?: boolean;
  /** On the catalog, the tables' databases and the tables (a stack on Glue). */
  readonly glue?: readonly GlueAction[];
  /**
   * Sets up the Glue optimizers of the tables that ask for them: GLUE_OPTIMIZER_ACTIONS on
   * those tables, iam:PassRole of the optimizers' role to Glue. Only in a stack on Glue with
   * such a table.
   */
  readonly glueOptimizers?: boolean;
  /**
   * On the table bucket and its tables (a stack on S3 Tables): this replaces `glue` and the
   * `table_*` data prefixes, which S3 Tables' own storage stands in for.
   */
  readonly s3tables?: readonly S3TablesUse[];
  /** lambda:InvokeFunction on these functions (unqualified ARNs). */
  readonly invoke?: readonly FunctionName[];
  readonly states?: readonly StatesGrant[];
  /** SYNC_RULE_ACTIONS on SYNC_RULE: what `startExecution.sync` needs besides states. */
  readonly syncRule?: boolean;
  /** sqs:SendMessage (and GetQueueAttributes, GetQueueUrl, as CDK grants it) on these. */
  readonly sendTo?: readonly QueueName[];
  /** logs:CreateLogStream and PutLogEvents on the function's own log group. */
  readonly ownLogGroup?: boolean;
  /** LOG_DELIVERY_AND_TRACING_ACTIONS on `*`, which CDK grants a logging, tracing machine. */
  readonly logDeliveryAndTracing?: boolean;
  /** The customer-managed key, when the stack has one. */
  readonly key?: keyof typeof KMS_ACTIONS;
  /** events:PutEvents on the stack's sluice event bus (outbound.ts). */
  readonly putEvents?: boolean;
  /**
   * secretsmanager:GetSecretValue on the webhook's secret (webhook.ts), which exists with
   * `webhookAuth: 'secret'` only.
   */
  readonly webhookSecret?: boolean;
}

/** What every function gets besides its own row. */
const EVERY_FUNCTION: Access = { listBucket: true, ownLogGroup: true, key: 'encrypt_decrypt' };

/** The matrix. T = each configured table; the comments say why a grant exists. */
export const ACCESS: Record<Principal, Access> = {
  filter: {
    ...EVERY_FUNCTION,
    data: { read: ['arrivals'] },
    // Claims the object version in the ledger; key heads order the versions of one key.
    // outbox: a duplicate of a committed version writes its FileCommitted event, should the
    // run that committed it have stopped before writing it.
    control: { read: ['ledger', 'key_heads'], write: ['ledger', 'key_heads', 'outbox'] },
  },
  'schema-drift-detect': {
    ...EVERY_FUNCTION,
    data: { read: ['arrivals', 'table_metadata'], write: ['table_metadata'] },
    // The identity record a table gets when DetectDrift creates it, read back on every load.
    // contracts: the table's contract versions; the first execution a container runs after
    // a deploy changed the contract checks it against the newest and records it.
    // drift_decisions: the changes a person approved (`sluice drift approve`) evolve.
    control: {
      read: ['ledger', 'identity', 'contracts', 'drift_decisions'],
      write: ['ledger', 'identity', 'contracts'],
    },
    glue: ['glue:GetDatabase', 'glue:GetTable', 'glue:CreateTable', 'glue:UpdateTable'],
    s3tables: ['read', 'create', 'commit'],
    // Sets up the Glue optimizers of a table it creates that asks for them.
    glueOptimizers: true,
  },
  validate: {
    ...EVERY_FUNCTION,
    // Deletes the data files of a batch it quarantines. Evolves the schema of a table whose
    // accepted rows bring new fields, and adds the lineage columns a table lacks: a new
    // metadata file and a Glue UpdateTable.
    data: {
      read: ['arrivals', 'table_metadata'],
      write: ['table_data', 'table_metadata'],
      delete: ['table_data'],
    },
    // contracts: the version of the contract the file was judged under, for its ledger record.
    // drift_decisions: the approved changes the whole file's new fields are judged with.
    control: {
      read: ['ledger', 'identity', 'contracts', 'drift_decisions'],
      // outbox: SchemaEvolved, and FileCommitted for a version another group committed.
      write: ['ledger', 'staged', 'rejects', 'outbox'],
    },
    glue: ['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'],
    s3tables: ['read', 'writeData', 'commit'],
  },
  quarantine: {
    ...EVERY_FUNCTION,
    // quarantine_events: records of events that named no object. contracts and
    // drift_decisions: the version of the contract the file was judged under (the contract
    // file with its approved drift additions), for its record.
    control: {
      read: ['ledger', 'contracts', 'drift_decisions'],
      // outbox: FileQuarantined and SchemaDriftPending.
      write: ['ledger', 'quarantine', 'quarantine_unrouted', 'quarantine_events', 'outbox'],
    },
  },
  commit: {
    ...EVERY_FUNCTION,
    data: { read: ['table_files'], write: ['table_metadata'] },
    // Deletes spent manifests and the quarantine records a commit settles. Records the
    // table's newest metadata file in its identity record after every commit.
    control: {
      read: ['ledger', 'staged', 'identity'],
      // outbox: FileCommitted, for its own batch and the group's.
      write: ['ledger', 'identity', 'outbox'],
      delete: ['staged', 'quarantine'],
    },
    glue: ['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'],
    s3tables: ['read', 'commit'],
  },
  reconcile: {
    ...EVERY_FUNCTION,
    // It loads each table (through its identity record) before listing its prefix, so a table
    // the catalog lost is refused rather than reported reconciled.
    data: { read: ['table_metadata'] },
    // key_heads: a delete marker whose Object Deleted event was lost is recorded in its key's
    // head. backfill: the manifest of arrivals a backfill starts, which it plans.
    control: {
      read: ['ledger', 'key_heads', 'watermark', 'identity'],
      // outbox: WatermarkAdvanced.
      write: ['key_heads', 'watermark', 'backfill', 'outbox'],
    },
    glue: ['glue:GetDatabase', 'glue:GetTable'],
    s3tables: ['read'],
    listVersionsUnderTablePrefixes: true,
    states: [
      // An ingest execution for each version whose event was lost; a backfill when a prefix
      // holds too many for one invocation.
      { actions: ['states:StartExecution'], on: { machine: 'ingest' } },
      { actions: ['states:StartExecution'], on: { machine: 'backfill' } },
    ],
    // Its on-failure destination (it runs asynchronously, from the schedule).
    sendTo: ['schedule_dead_letters'],
  },
  maintain: {
    ...EVERY_FUNCTION,
    // Compaction writes data files and commits them; expiry rewrites the metadata and deletes
    // the manifest lists and manifests no snapshot reads; gc deletes data files nothing
    // references (table_files: both).
    data: { read: ['table_files'], write: ['table_files'], delete: ['table_files'] },
    // The ledger and the staged manifests say which batches are settled (expiry) or will
    // never commit (gc); gc removes spent and abandoned manifests; the identity record is
    // rewritten after the expiry's catalog commit.
    control: {
      read: ['ledger', 'staged', 'identity'],
      write: ['identity'],
      delete: ['staged'],
    },
    glue: ['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'],
    // On S3 Tables, compaction only (`sluice compact` through it): the service expires
    // snapshots and removes unreferenced files itself, and the stack schedules no maintain.
    s3tables: ['read', 'writeData', 'commit'],
    // Checks the Glue optimizers of each table that asks for them, every run.
    glueOptimizers: true,
    // Its on-failure destination (it runs asynchronously, from the schedule).
    sendTo: ['maintenance_dead_letters'],
  },
  publish: {
    ...EVERY_FUNCTION,
    // outbox: the record an S3 event names, put on the sluice bus as it was written.
    control: { readLatest: ['outbox'] },
    putEvents: true,
  },
  // The webhook (webhook.ts). Its bucket-wide ListBucket (EVERY_FUNCTION) lets it find an
  // arrival by listing `<prefix>webhook/<id>.`, and is needed besides: the body's key is read
  // before the write (a repeated Idempotency-Key) and GET /arrivals/{id} reads a ledger record
  // that may not exist yet, and both must answer 404, not 403. A ListBucket limited by an
  // `s3:prefix` condition would not: a GetObject carries no `s3:prefix` to match it.
  receive: {
    ...EVERY_FUNCTION,
    // The body, written once under the table's prefix (its S3 event starts the ingestion);
    // read back when a request repeats an Idempotency-Key, to tell a repeat from a reuse.
    data: { readLatest: ['webhook'], write: ['webhook'] },
    // ledger: GET /arrivals/{id}. outbox: ArrivalReceived.
    control: { readLatest: ['ledger'], write: ['outbox'] },
    // With `webhookAuth: 'secret'`: the key of the requests' HMAC signatures.
    webhookSecret: true,
  },
  // The stream receiver (streams.ts). Its bucket-wide ListBucket (EVERY_FUNCTION) covers the
  // listing of `<prefix>stream/` (an object an earlier attempt wrote) and lets a shard's first
  // batch read its absent checkpoint as 404; see receive.
  stream: {
    ...EVERY_FUNCTION,
    // One object per table, shard and batch; looked for again on a retry.
    data: { readLatest: ['stream'], write: ['stream'] },
    // streams: each shard's checkpoint (compare-and-swap) and each object's record index.
    // outbox: ArrivalReceived.
    control: { readLatest: ['streams'], write: ['streams', 'outbox'] },
    // The on-failure destination of its event source mappings.
    sendTo: ['stream_dead_letters'],
  },
  ingest: {
    invoke: ['filter', 'schema-drift-detect', 'validate', 'quarantine', 'commit'],
    logDeliveryAndTracing: true,
  },
  backfill: {
    // Plan: reconcile lists the prefix and writes the manifest.
    invoke: ['reconcile'],
    // The Distributed Map's ItemReader reads the manifest, which a customer-managed key
    // encrypts (hence kms:Decrypt, with one).
    control: { readLatest: ['backfill'] },
    key: 'decrypt',
    states: [
      // Each item starts one ingest execution and waits for it (startExecution.sync:2).
      { actions: ['states:StartExecution'], on: { machine: 'ingest' } },
      { actions: ['states:DescribeExecution', 'states:StopExecution'], on: { executionsOf: 'ingest' } },
      // The Distributed Map runs its items as child executions of this state machine.
      { actions: ['states:StartExecution'], on: { machine: 'backfill' } },
      { actions: ['states:DescribeExecution', 'states:StopExecution'], on: { mapRunExecutionsOf: 'backfill' } },
    ],
    syncRule: true,
    logDeliveryAndTracing: true,
  },
};

/** The resources the table's names stand for in one stack. */
export interface AccessTargets {
  readonly bucket: s3.IBucket;
  readonly tables: readonly TableSpec[];
  /** The warehouse prefix, ending in `/`. */
  readonly warehousePrefix: string;
  readonly key?: kms.IKey;
  readonly functions: Record<FunctionName, lambda.IFunction>;
  readonly logGroups: Record<FunctionName, logs.ILogGroup>;
  readonly queues: Record<QueueName, sqs.IQueue>;
  /**
   * Each state machine's ARN and name (the name builds its executions' ARNs). The backfill
   * machine's ARN is built from its fixed name: its own role and the reconcile function's
   * name it, and a reference would be a circular dependency.
   */
  readonly workflows: Record<WorkflowName, { readonly arn: string; readonly name: string }>;
  /** The S3 Tables table bucket's ARN, when the tables are there instead of Glue. */
  readonly tableBucketArn?: string;
  /** The role Glue's table optimizers run as, when a table asks for them (optimizers.ts). */
  readonly glueOptimizerRole?: iam.IRole;
  /** The sluice event bus's ARN (outbound.ts). */
  readonly eventBusArn?: string;
  /** The webhook's secret, with `webhookAuth: 'secret'` (webhook.ts). */
  readonly webhookSecretArn?: string;
}

/** A data prefix in the stack's bucket that holds table files (warehouse, not arrivals). */
const isTableFiles = (prefix: DataPrefix) => prefix.startsWith('table_');

/** Expands a pattern of control-layout.json or DATA_PREFIXES into keys, one per table. */
export function keyPatterns(pattern: string, tables: readonly TableSpec[], warehousePrefix: string): string[] {
  if (!/[{]/.test(pattern)) return [pattern];
  return tables.map((t) =>
    pattern
      .replace('{warehouse}', warehousePrefix)
      .replace('{prefix}', t.prefix)
      .replace('{namespace}', t.namespace)
      .replace('{table}', t.name),
  );
}

/**
 * The ARN of a state machine of this stack, or of its executions, from its name: a state
 * machine's role cannot name the machine by reference (the machine depends on its role).
 */
export function statesArn(scope: Stack, target: StatesGrant['on'], name: string): string {
  const arn = (resource: string, resourceName: string) =>
    scope.formatArn({ service: 'states', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  if ('machine' in target) return arn('stateMachine', name);
  if ('executionsOf' in target) return arn('execution', `${name}:*`);
  return arn('execution', `${name}/*`);
}

/** The workflow a grant names. */
function workflowOf(target: StatesGrant['on']): WorkflowName {
  if ('machine' in target) return target.machine;
  if ('executionsOf' in target) return target.executionsOf;
  return target.mapRunExecutionsOf;
}

/** Adds the statements of `principal`'s row to `role`. */
export function grantAccess(scope: Stack, principal: Principal, role: iam.IRole, targets: AccessTargets): void {
  const row = ACCESS[principal];
  const { bucket, tables, warehousePrefix } = targets;
  const allow = (sid: string | undefined, actions: readonly string[], resources: string[], conditions?: Record<string, unknown>) =>
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions: [...actions], resources, conditions }));

  const objects = (use: ObjectUse): string[] => {
    const families = (row.control?.[use] ?? []).map((family) => {
      const pattern = CONTROL_LAYOUT[family];
      if (pattern === undefined) {
        throw new Error(`sluice: access table: ${principal} names control family ${family}, which control-layout.json lacks`);
      }
      return pattern;
    });
    const data = (row.data?.[use] ?? [])
      .filter((prefix) => !(targets.tableBucketArn && isTableFiles(prefix)))
      .map((prefix) => DATA_PREFIXES[prefix]);
    return [...new Set([...data, ...families].flatMap((p) => keyPatterns(p, tables, warehousePrefix)))].map((k) =>
      bucket.arnForObjects(k),
    );
  };

  if (row.key && targets.key) targets.key.grant(role, ...KMS_ACTIONS[row.key]);
  if (row.listBucket) allow('AbsentKeysAre404', ['s3:ListBucket'], [bucket.bucketArn]);
  for (const use of Object.keys(S3_ACTIONS) as ObjectUse[]) {
    const resources = objects(use);
    if (resources.length > 0) allow(`${pascal(use)}Objects`, S3_ACTIONS[use], resources);
  }
  if (row.listVersionsUnderTablePrefixes) {
    allow('ListVersionsOfTablePrefixes', ['s3:ListBucketVersions'], [bucket.bucketArn], {
      StringLike: { 's3:prefix': tables.map((t) => `${t.prefix}*`) },
    });
  }
  if (targets.tableBucketArn) {
    const uses = row.s3tables ?? [];
    const actions = (on: 'bucket' | 'table') => [...new Set(uses.flatMap((u) => S3TABLES_ACTIONS[u][on]))];
    if (actions('bucket').length > 0) allow('TableBucket', actions('bucket'), [targets.tableBucketArn]);
    if (actions('table').length > 0) allow('TablesOfTableBucket', actions('table'), [`${targets.tableBucketArn}/table/*`]);
  } else if (row.glue) {
    allow('GlueTables', row.glue, glueArns(scope, tables));
  }
  const optimized = optimizedTables(tables);
  if (row.glueOptimizers && targets.glueOptimizerRole && !targets.tableBucketArn && optimized.length > 0) {
    allow('GlueOptimizers', GLUE_OPTIMIZER_ACTIONS, glueArns(scope, optimized));
    allow('PassGlueOptimizerRole', ['iam:PassRole'], [targets.glueOptimizerRole.roleArn], {
      StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' },
    });
  }
  if (row.ownLogGroup) {
    allow('WriteOwnLogs', LOG_WRITE_ACTIONS, [targets.logGroups[principal as FunctionName].logGroupArn]);
  }
  if (row.invoke) {
    allow('InvokeFunctions', ['lambda:InvokeFunction'], row.invoke.map((f) => targets.functions[f].functionArn));
  }
  for (const grant of row.states ?? []) {
    const w = targets.workflows[workflowOf(grant.on)];
    allow(undefined, grant.actions, ['machine' in grant.on ? w.arn : statesArn(scope, grant.on, w.name)]);
  }
  if (row.syncRule) {
    allow('StartExecutionSync', SYNC_RULE_ACTIONS, [
      scope.formatArn({ service: 'events', resource: 'rule', resourceName: SYNC_RULE }),
    ]);
  }
  for (const queue of row.sendTo ?? []) targets.queues[queue].grantSendMessages(role);
  if (row.putEvents && targets.eventBusArn) allow('PutOnSluiceBus', ['events:PutEvents'], [targets.eventBusArn]);
  if (row.webhookSecret && targets.webhookSecretArn) {
    allow('ReadWebhookSecret', ['secretsmanager:GetSecretValue'], [targets.webhookSecretArn]);
  }
}

/** The Glue catalog, the tables' databases and the tables themselves. */
function glueArns(scope: Stack, tables: readonly TableSpec[]): string[] {
  const arn = (resource: string, resourceName?: string) => scope.formatArn({ service: 'glue', resource, resourceName });
  return [
    arn('catalog'),
    ...[...new Set(tables.map((t) => t.namespace))].map((ns) => arn('database', ns)),
    ...tables.map((t) => arn('table', `${t.namespace}/${t.name}`)),
  ];
}

/** `readLatest` -> `ReadLatest`, for Sids. */
function pascal(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}
