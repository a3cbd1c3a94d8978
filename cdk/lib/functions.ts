// The ten Lambda functions: a role each (granted its row of access.ts by the stack, once every
// resource the table names exists), a log group each, the config layer they share, and the
// environment every function reads. The binaries come from `<code dir>/<name>/bootstrap`.
//
// Like the other parts of the stack (workflow.ts, arrivals.ts, alarms.ts), this adds its
// resources to the stack itself, not under a construct of its own: their logical IDs stay those
// of the stack before it was split, and a changed logical ID would replace the resource.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, RemovalPolicy, Size, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { FunctionName } from './access';
import { SluiceConfig, stageConfig } from './config';

/** The five functions the ingest definition calls, by the placeholder each one fills. */
export const STEP_FUNCTIONS = {
  filter: 'FilterFunctionArn',
  'schema-drift-detect': 'SchemaDriftDetectFunctionArn',
  validate: 'ValidateFunctionArn',
  quarantine: 'QuarantineFunctionArn',
  commit: 'CommitFunctionArn',
} as const;

export type StepName = keyof typeof STEP_FUNCTIONS;
export type { FunctionName };

/** Every function, the five steps first. */
export const FUNCTION_NAMES: FunctionName[] = [
  ...(Object.keys(STEP_FUNCTIONS) as StepName[]),
  'reconcile',
  'maintain',
  'publish',
  'receive',
  'stream',
];

/** Where the config lands in the Lambda layer (layers unpack under /opt). */
export const CONFIG_PATH_IN_LAMBDA = '/opt/sluice/sluice.toml';

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
  maintain: { memoryMiB: 1024, timeout: Duration.seconds(900) },
  publish: { memoryMiB: 256, timeout: Duration.seconds(30) },
  // Behind API Gateway, whose integration gives up after 29 s: the function ends first. It
  // holds one body (at most 4 MiB) and hashes it.
  receive: { memoryMiB: 512, timeout: Duration.seconds(25) },
  // One batch as the stream delivers it (up to 6 MB), written as an object per table.
  stream: { memoryMiB: 1024, timeout: Duration.minutes(2) },
};

export interface FunctionsProps {
  readonly config: SluiceConfig;
  /** `<name>` -> the directory holding its `bootstrap` (see `lambdaCodeDirs`). */
  readonly codeDirs: Record<FunctionName, string>;
  readonly bucket: s3.IBucket;
  /** The warehouse prefix, ending in `/`. */
  readonly warehousePrefix: string;
  readonly key?: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly commitReservedConcurrency?: number;
  readonly validateReservedConcurrency?: number;
  /** The S3 Tables table bucket holding the tables; without it, the Glue catalog. */
  readonly tableBucketArn?: string;
}

export class Functions {
  readonly functions: Record<FunctionName, lambda.Function>;
  /** Each function's role, without grants: the stack applies access.ts to them. */
  readonly roles: Record<FunctionName, iam.Role>;
  readonly logGroups: Record<FunctionName, logs.LogGroup>;

  constructor(scope: Stack, props: FunctionsProps) {
    const { bucket, key } = props;

    // The config, shipped as a layer: /opt/sluice/sluice.toml and its contracts. A path in
    // SLUICE_CONFIG, not the text in a variable: the contracts are files relative to the
    // config, the same variable names the config for the CLI, and Lambda caps all of a
    // function's variables at 4 KB together.
    const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-config-'));
    stageConfig(props.config, staging);
    const configLayer = new lambda.LayerVersion(scope, 'ConfigLayer', {
      code: lambda.Code.fromAsset(staging),
      compatibleArchitectures: [lambda.Architecture.ARM_64],
      compatibleRuntimes: [lambda.Runtime.PROVIDED_AL2023],
      description: 'sluice.toml and its contracts, under /opt/sluice',
    });

    this.roles = Object.fromEntries(
      FUNCTION_NAMES.map((name) => [
        name,
        new iam.Role(scope, `${pascal(name)}Role`, {
          assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
          description: `sluice ${name} Lambda`,
        }),
      ]),
    ) as Record<FunctionName, iam.Role>;

    const commonEnv = {
      SLUICE_BUCKET: bucket.bucketName,
      SLUICE_WAREHOUSE: warehouseLocation(bucket, props.warehousePrefix),
      SLUICE_WAREHOUSE_PREFIX: props.warehousePrefix,
      SLUICE_CONFIG: CONFIG_PATH_IN_LAMBDA,
      ...(props.tableBucketArn
        ? { SLUICE_CATALOG: 's3tables', SLUICE_TABLE_BUCKET_ARN: props.tableBucketArn }
        : { SLUICE_CATALOG: 'glue' }),
      // The `Stack` dimension of the functions' metrics: two stacks in one account never mix.
      SLUICE_STACK: scope.stackName,
      SLUICE_LOG_FORMAT: 'json',
      RUST_LOG: 'info',
    };
    const logGroups = {} as Record<FunctionName, logs.LogGroup>;
    const make = (name: FunctionName) => {
      const logGroup = new logs.LogGroup(scope, `${pascal(name)}Logs`, {
        retention: props.logRetention,
        encryptionKey: key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      logGroups[name] = logGroup;
      const sizing = SIZING[name];
      return new lambda.Function(scope, `${pascal(name)}Function`, {
        description: `sluice ${name}`,
        architecture: lambda.Architecture.ARM_64,
        runtime: lambda.Runtime.PROVIDED_AL2023,
        handler: 'bootstrap',
        code: lambda.Code.fromAsset(props.codeDirs[name]),
        role: this.roles[name],
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
        environment: { ...commonEnv, SLUICE_FUNCTION: name },
      });
    };
    this.functions = Object.fromEntries(FUNCTION_NAMES.map((name) => [name, make(name)])) as Record<
      FunctionName,
      lambda.Function
    >;
    this.logGroups = logGroups;
  }
}

/** `s3://<bucket>/<warehouse prefix>`: SLUICE_WAREHOUSE of every function. */
export function warehouseLocation(bucket: s3.IBucket, warehousePrefix: string): string {
  return `s3://${bucket.bucketName}/${warehousePrefix}`;
}

/**
 * The directory holding `<name>/bootstrap` for each function, or a clear failure naming the
 * first one missing. `explicit`: the directory was given, not the default `target/lambda`.
 */
export function lambdaCodeDirs(dir: string, explicit: boolean): Record<FunctionName, string> {
  return Object.fromEntries(FUNCTION_NAMES.map((name) => [name, lambdaCode(dir, name, explicit)])) as Record<
    FunctionName,
    string
  >;
}

function lambdaCode(dir: string, name: FunctionName, explicit: boolean): string {
  const fnDir = path.join(dir, name);
  if (!fs.existsSync(path.join(fnDir, 'bootstrap'))) {
    const hint = explicit
      ? `lambdaCodeDir is ${dir}; it must hold <function>/bootstrap for ${FUNCTION_NAMES.slice(0, -1).join(', ')} and ${FUNCTION_NAMES[FUNCTION_NAMES.length - 1]}`
      : 'run `make lambdas` first to build the Lambda binaries into target/lambda/<function>/bootstrap (or point lambdaCodeDir, `make synth LAMBDA_CODE_DIR=DIR`, at a directory holding them)';
    throw new Error(`sluice: no Lambda binary for ${name}: ${path.join(fnDir, 'bootstrap')} is missing; ${hint}`);
  }
  return fnDir;
}

/** `schema-drift-detect` -> `SchemaDriftDetect`, for construct ids. */
export function pascal(s: string): string {
  return s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}
