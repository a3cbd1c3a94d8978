#!/usr/bin/env node
// The sluice CDK app. Settings come from context (`-c key=value`) or the environment:
//
//   config                  SLUICE_CONFIG               the sluice.toml (default examples/orders/sluice.toml)
//   lambdaCodeDir           SLUICE_LAMBDA_CODE_DIR      holds <function>/bootstrap (default target/lambda)
//   warehousePrefix         SLUICE_WAREHOUSE_PREFIX     default warehouse/
//   commitConcurrency       SLUICE_COMMIT_CONCURRENCY   reserved concurrency of commit (default 5)
//   alarmEmail              SLUICE_ALARM_EMAIL          makes an SNS topic for the alarms, subscribed
//   validateConcurrency     SLUICE_VALIDATE_CONCURRENCY reserved concurrency of validate (default: no cap)
//   controlVersionsDays     SLUICE_CONTROL_VERSIONS_DAYS noncurrent versions under .sluice/ kept (default 7)
//   rejectsRetentionDays    SLUICE_REJECTS_DAYS         rejected rows kept (default 30)
//   warehouseVersionsDays   SLUICE_WAREHOUSE_VERSIONS_DAYS noncurrent warehouse versions kept (default 7)
//   kms                     SLUICE_KMS                  `true`: a customer-managed key for bucket, queues, topic, logs
//   catalog                 SLUICE_CATALOG              `glue` (default) or `s3tables`: an S3 Tables table bucket
//   tableBucketName         SLUICE_TABLE_BUCKET_NAME    the table bucket's name (default <stack name>-tables)
//   freshnessMinutes        SLUICE_FRESHNESS_MINUTES    freshness of tables that set none in sluice.toml (default 60)
//   maintainHours           SLUICE_MAINTAIN_HOURS       how often each table is maintained: expiry, then gc (default 24)
//   stackName               SLUICE_STACK_NAME           default Sluice
//   knowledgeBaseId         SLUICE_KB_ID                with the next: each FileCommitted starts an
//   knowledgeBaseDataSourceId SLUICE_KB_DATA_SOURCE_ID  ingestion job of this Bedrock knowledge base
//   knowledgeBaseTables     SLUICE_KB_TABLES            only commits to these tables (comma-separated)
//   webhookAuth             SLUICE_WEBHOOK_AUTH         `iam` (default) or `secret`: who may call the webhook
//   webhookMaxBody          SLUICE_WEBHOOK_MAX_BODY     largest request body, bytes (default and at most 4194304)
//   webhookRateLimit        SLUICE_WEBHOOK_RATE_LIMIT   requests a second (default 100)
//   webhookBurstLimit       SLUICE_WEBHOOK_BURST_LIMIT  requests above the rate at once (default 200)
//   kinesisStreamArns       SLUICE_KINESIS_STREAM_ARNS  Kinesis streams for the stream function (comma-separated)
//   createKinesisStream     SLUICE_CREATE_KINESIS_STREAM `true`: the stack makes one (on-demand, encrypted)
//   mskClusterArn           SLUICE_MSK_CLUSTER_ARN      with the next: topics of an Amazon MSK cluster
//   mskTopics               SLUICE_MSK_TOPICS           (comma-separated)
//   kafkaBootstrapServers   SLUICE_KAFKA_BOOTSTRAP_SERVERS with the next two: topics of a self-managed
//   kafkaTopics             SLUICE_KAFKA_TOPICS         Kafka cluster (comma-separated), and the secret
//   kafkaSecretArn          SLUICE_KAFKA_SECRET_ARN     with its credentials
//   kafkaAuth               SLUICE_KAFKA_AUTH           SASL_SCRAM_512_AUTH (default), SASL_SCRAM_256_AUTH, BASIC_AUTH
//   streamBatchSize         SLUICE_STREAM_BATCH_SIZE    records in a stream batch at most (default 1000)
//   streamBatchWindowSeconds SLUICE_STREAM_BATCH_WINDOW_SECONDS gathering a batch (default 5)
//   streamRetryAttempts     SLUICE_STREAM_RETRY_ATTEMPTS retries before a batch is dead-lettered (default 10)
//
// Relative paths are relative to the repository root.

import * as path from 'path';
import { App, Duration } from 'aws-cdk-lib';
import { loadConfig } from '../lib/config';
import { REPO_ROOT, SluiceStack } from '../lib/sluice-stack';

const app = new App();

function setting(key: string, env: string): string | undefined {
  const v = app.node.tryGetContext(key) ?? process.env[env];
  return v === undefined || v === '' ? undefined : String(v);
}
const fromRoot = (p: string) => path.resolve(REPO_ROOT, p);

try {
  const configPath = fromRoot(setting('config', 'SLUICE_CONFIG') ?? 'examples/orders/sluice.toml');
  const codeDir = setting('lambdaCodeDir', 'SLUICE_LAMBDA_CODE_DIR');
  const whole = (key: string, env: string): number | undefined => {
    const v = setting(key, env);
    if (v !== undefined && !/^[0-9]+$/.test(v)) {
      throw new Error(`sluice: ${key} ${JSON.stringify(v)} is not a whole number`);
    }
    return v === undefined ? undefined : Number(v);
  };
  const kms = setting('kms', 'SLUICE_KMS');
  if (kms !== undefined && kms !== 'true' && kms !== 'false') {
    throw new Error(`sluice: kms ${JSON.stringify(kms)} is neither true nor false`);
  }
  const catalog = setting('catalog', 'SLUICE_CATALOG');
  if (catalog !== undefined && catalog !== 'glue' && catalog !== 's3tables') {
    throw new Error(`sluice: catalog ${JSON.stringify(catalog)} is neither glue nor s3tables`);
  }
  const freshness = whole('freshnessMinutes', 'SLUICE_FRESHNESS_MINUTES');
  const maintainHours = whole('maintainHours', 'SLUICE_MAINTAIN_HOURS');
  if (maintainHours === 0) throw new Error('sluice: maintainHours must be at least 1');

  const kbId = setting('knowledgeBaseId', 'SLUICE_KB_ID');
  const kbSource = setting('knowledgeBaseDataSourceId', 'SLUICE_KB_DATA_SOURCE_ID');
  if ((kbId === undefined) !== (kbSource === undefined)) {
    throw new Error('sluice: knowledgeBaseId and knowledgeBaseDataSourceId go together: set both or neither');
  }
  const list = (key: string, env: string): string[] | undefined =>
    setting(key, env)
      ?.split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  const kbTables = list('knowledgeBaseTables', 'SLUICE_KB_TABLES');

  const webhookAuth = setting('webhookAuth', 'SLUICE_WEBHOOK_AUTH');
  if (webhookAuth !== undefined && webhookAuth !== 'iam' && webhookAuth !== 'secret') {
    throw new Error(`sluice: webhookAuth ${JSON.stringify(webhookAuth)} is neither iam nor secret`);
  }
  const createStream = setting('createKinesisStream', 'SLUICE_CREATE_KINESIS_STREAM');
  if (createStream !== undefined && createStream !== 'true' && createStream !== 'false') {
    throw new Error(`sluice: createKinesisStream ${JSON.stringify(createStream)} is neither true nor false`);
  }
  const mskCluster = setting('mskClusterArn', 'SLUICE_MSK_CLUSTER_ARN');
  const mskTopics = list('mskTopics', 'SLUICE_MSK_TOPICS');
  if ((mskCluster === undefined) !== (mskTopics === undefined)) {
    throw new Error('sluice: mskClusterArn and mskTopics go together: set both or neither');
  }
  const kafkaServers = list('kafkaBootstrapServers', 'SLUICE_KAFKA_BOOTSTRAP_SERVERS');
  const kafkaTopics = list('kafkaTopics', 'SLUICE_KAFKA_TOPICS');
  const kafkaSecret = setting('kafkaSecretArn', 'SLUICE_KAFKA_SECRET_ARN');
  const kafkaSet = [kafkaServers, kafkaTopics, kafkaSecret].filter((v) => v !== undefined).length;
  if (kafkaSet !== 0 && kafkaSet !== 3) {
    throw new Error('sluice: kafkaBootstrapServers, kafkaTopics and kafkaSecretArn go together: set all three or none');
  }
  const kafkaAuth = setting('kafkaAuth', 'SLUICE_KAFKA_AUTH');
  if (kafkaAuth !== undefined && !['SASL_SCRAM_512_AUTH', 'SASL_SCRAM_256_AUTH', 'BASIC_AUTH'].includes(kafkaAuth)) {
    throw new Error(`sluice: kafkaAuth ${JSON.stringify(kafkaAuth)} is not SASL_SCRAM_512_AUTH, SASL_SCRAM_256_AUTH or BASIC_AUTH`);
  }
  const rate = whole('webhookRateLimit', 'SLUICE_WEBHOOK_RATE_LIMIT');
  const burst = whole('webhookBurstLimit', 'SLUICE_WEBHOOK_BURST_LIMIT');
  const window = whole('streamBatchWindowSeconds', 'SLUICE_STREAM_BATCH_WINDOW_SECONDS');

  new SluiceStack(app, setting('stackName', 'SLUICE_STACK_NAME') ?? 'Sluice', {
    config: loadConfig(configPath),
    lambdaCodeDir: codeDir === undefined ? undefined : fromRoot(codeDir),
    warehousePrefix: setting('warehousePrefix', 'SLUICE_WAREHOUSE_PREFIX'),
    commitReservedConcurrency: whole('commitConcurrency', 'SLUICE_COMMIT_CONCURRENCY'),
    validateReservedConcurrency: whole('validateConcurrency', 'SLUICE_VALIDATE_CONCURRENCY'),
    controlVersionsDays: whole('controlVersionsDays', 'SLUICE_CONTROL_VERSIONS_DAYS'),
    rejectsRetentionDays: whole('rejectsRetentionDays', 'SLUICE_REJECTS_DAYS'),
    warehouseVersionsDays: whole('warehouseVersionsDays', 'SLUICE_WAREHOUSE_VERSIONS_DAYS'),
    customerManagedKey: kms === 'true',
    catalog,
    tableBucketName: setting('tableBucketName', 'SLUICE_TABLE_BUCKET_NAME'),
    freshnessThreshold: freshness === undefined ? undefined : Duration.minutes(freshness),
    maintainEvery: maintainHours === undefined ? undefined : Duration.hours(maintainHours),
    alarmEmail: setting('alarmEmail', 'SLUICE_ALARM_EMAIL'),
    knowledgeBaseSync:
      kbId && kbSource ? { knowledgeBaseId: kbId, dataSourceId: kbSource, tables: kbTables } : undefined,
    webhookAuth,
    webhookMaxBodyBytes: whole('webhookMaxBody', 'SLUICE_WEBHOOK_MAX_BODY'),
    webhookThrottle: { rateLimit: rate, burstLimit: burst },
    kinesisStreamArns: list('kinesisStreamArns', 'SLUICE_KINESIS_STREAM_ARNS'),
    createKinesisStream: createStream === 'true',
    msk: mskCluster && mskTopics ? { clusterArn: mskCluster, topics: mskTopics } : undefined,
    selfManagedKafka:
      kafkaServers && kafkaTopics && kafkaSecret
        ? {
            bootstrapServers: kafkaServers,
            topics: kafkaTopics,
            secretArn: kafkaSecret,
            authentication: kafkaAuth as 'SASL_SCRAM_512_AUTH' | 'SASL_SCRAM_256_AUTH' | 'BASIC_AUTH' | undefined,
          }
        : undefined,
    streamBatchSize: whole('streamBatchSize', 'SLUICE_STREAM_BATCH_SIZE'),
    streamMaxBatchingWindow: window === undefined ? undefined : Duration.seconds(window),
    streamRetryAttempts: whole('streamRetryAttempts', 'SLUICE_STREAM_RETRY_ATTEMPTS'),
    env: {
      account: process.env.CDK_DEFAULT_ACCOUNT,
      region: process.env.CDK_DEFAULT_REGION,
    },
    description: 'sluice: S3 arrivals into Iceberg tables, exactly once',
  });
} catch (e) {
  // Our own refusals (a missing binary, a bad sluice.toml) are messages, not stack traces.
  if (e instanceof Error && e.message.startsWith('sluice: ')) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
