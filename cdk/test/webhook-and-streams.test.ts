// Pushed arrivals: the webhook's HTTP API (webhook.ts) and who may call it, the stream
// function's event sources (streams.ts) when configured and their absence when not, what the
// receive and stream functions may touch in the bucket, and the outputs senders and operators
// read.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNT,
  REGION,
  Synth,
  allStatements,
  bucketId,
  dummyCodeDir,
  fnId,
  logicalIdOf,
  render,
  resourcesOfType,
  roleAllows,
  roleId,
  streamDlqId,
  synth,
  tempDir,
  twoTablesConfig,
} from './helpers';

const KINESIS_ARN = `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/clicks`;
const MSK_ARN = `arn:aws:kafka:${REGION}:${ACCOUNT}:cluster/events/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9-2`;
const KAFKA_SECRET = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:sluice/kafka-AbCdEf`;

let example: Synth;
let secret: Synth;
beforeAll(() => {
  example = synth();
});
beforeAll(() => {
  secret = synth({ configPath: twoTablesConfig(), webhookAuth: 'secret' });
});

const env = (s: Synth, fn: 'receive' | 'stream') => s.json.Resources[fnId(s, fn)].Properties.Environment.Variables;
const routes = (s: Synth) => resourcesOfType(s.json, 'AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
const mappings = (s: Synth) => resourcesOfType(s.json, 'AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties);
const apiId = (s: Synth) => logicalIdOf(s.stack, s.stack.webhookApi);

/** `action resource [condition]` of every S3 grant of a function's role. */
function s3Grants(s: Synth, fn: 'receive' | 'stream'): string[] {
  const out = allStatements(s.json)
    .filter((st) => st.roles.includes(roleId(s, fn)))
    .flatMap((st) =>
      st.actions
        .filter((a) => a.startsWith('s3:'))
        .flatMap((a) => st.resources.map((r) => (st.condition ? `${a} ${r} ${JSON.stringify(st.condition)}` : `${a} ${r}`))),
    );
  return [...new Set(out)].sort();
}

/** What a mapping of the stream function has whatever its source. */
function expectStreamMapping(s: Synth, m: any, batch = { size: 1000, window: 5, retries: 10 }) {
  expect(m.FunctionName).toEqual({ Ref: fnId(s, 'stream') });
  expect(m.StartingPosition).toBe('TRIM_HORIZON');
  expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
  expect(m.BatchSize).toBe(batch.size);
  expect(m.MaximumBatchingWindowInSeconds).toBe(batch.window);
  expect(m.BisectBatchOnFunctionError).toBe(false);
  expect(m.MaximumRetryAttempts).toBe(batch.retries);
  expect(m.DestinationConfig).toEqual({ OnFailure: { Destination: { 'Fn::GetAtt': [streamDlqId(s), 'Arn'] } } });
}

describe('the webhook', () => {
  it('is an HTTP API whose two routes are the receive function (Lambda proxy, payload 2.0), under IAM authorization by default', () => {
    const apis = resourcesOfType(example.json, 'AWS::ApiGatewayV2::Api');
    expect(apis).toHaveLength(1);
    expect(apis[0][1].Properties.ProtocolType).toBe('HTTP');
    const integrations = resourcesOfType(example.json, 'AWS::ApiGatewayV2::Integration');
    expect(integrations).toHaveLength(1);
    const [integrationId, integration] = integrations[0];
    expect(integration.Properties).toMatchObject({
      ApiId: { Ref: apiId(example) },
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [fnId(example, 'receive'), 'Arn'] },
    });
    expect(routes(example).map((r) => r.RouteKey).sort()).toEqual(['GET /arrivals/{id}', 'POST /tables/{table}/arrivals']);
    for (const r of routes(example)) {
      expect(r.AuthorizationType, r.RouteKey).toBe('AWS_IAM');
      expect(r.Target).toEqual({ 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] });
    }
    // API Gateway may invoke the function, route by route.
    const permissions = resourcesOfType(example.json, 'AWS::Lambda::Permission')
      .map(([, p]) => p.Properties)
      .filter((p) => p.FunctionName['Fn::GetAtt']?.[0] === fnId(example, 'receive'));
    expect(permissions).toHaveLength(2);
    for (const p of permissions) expect(p.Principal).toBe('apigateway.amazonaws.com');
    expect(resourcesOfType(example.json, 'AWS::SecretsManager::Secret')).toHaveLength(0);
    expect(env(example, 'receive')).not.toHaveProperty('SLUICE_WEBHOOK_SECRET_ARN');
    expect(env(example, 'receive').SLUICE_WEBHOOK_MAX_BODY).toBe('4194304');
  });

  it('gives callers a managed policy to attach: execute-api:Invoke on the two routes and nothing else', () => {
    const policies = resourcesOfType(example.json, 'AWS::IAM::ManagedPolicy');
    expect(policies).toHaveLength(1);
    const [policyId, policy] = policies[0];
    expect(policyId).toBe(logicalIdOf(example.stack, example.stack.webhookInvokePolicy!));
    // Attached to nothing of the stack: the senders' roles and users are elsewhere.
    for (const k of ['Roles', 'Users', 'Groups']) expect(policy.Properties[k]).toBeUndefined();
    const statements = allStatements(example.json).filter((s) => s.source === policyId);
    expect(statements).toHaveLength(1);
    expect(statements[0].actions).toEqual(['execute-api:Invoke']);
    const api = `arn:aws:execute-api:${REGION}:${ACCOUNT}:ref:${apiId(example)}`;
    expect(statements[0].resources.sort()).toEqual([`${api}/*/GET/arrivals/*`, `${api}/*/POST/tables/*/arrivals`]);
    expect(statements[0].condition).toBeUndefined();
    example.template.hasOutput('WebhookInvokePolicyArn', { Value: { Ref: policyId } });
    expect(example.json.Outputs.WebhookSecretArn).toBeUndefined();
  });

  it('has one stage, $default, deployed on every change, throttled, logging each request in a log group of its own', () => {
    const stages = resourcesOfType(example.json, 'AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0][1].Properties;
    expect(stage.StageName).toBe('$default');
    expect(stage.AutoDeploy).toBe(true);
    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 });
    const group = stage.AccessLogSettings.DestinationArn['Fn::GetAtt'][0];
    expect(example.json.Resources[group].Type).toBe('AWS::Logs::LogGroup');
    expect(example.json.Resources[group].Properties.RetentionInDays).toBe(30);
    expect(example.json.Resources[group].DeletionPolicy).toBe('Retain');
    const format = JSON.parse(stage.AccessLogSettings.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', route: '$context.routeKey', status: '$context.status' });
    // No function writes there: it is API Gateway's.
    const functionLogs = (['receive', 'stream'] as const).map(
      (f) => example.json.Resources[fnId(example, f)].Properties.LoggingConfig.LogGroup.Ref,
    );
    expect(functionLogs).not.toContain(group);
  });

  it('takes its throttling and largest body from the props, and refuses what cannot work', () => {
    const s = synth({ webhookThrottle: { rateLimit: 10, burstLimit: 20 }, webhookMaxBodyBytes: 1_048_576 });
    const [, stage] = resourcesOfType(s.json, 'AWS::ApiGatewayV2::Stage')[0];
    expect(stage.Properties.DefaultRouteSettings).toEqual({ ThrottlingBurstLimit: 20, ThrottlingRateLimit: 10 });
    expect(env(s, 'receive').SLUICE_WEBHOOK_MAX_BODY).toBe('1048576');
    // Lambda takes 6 MB of request, and a body API Gateway deems binary arrives base64-encoded.
    expect(() => synth({ webhookMaxBodyBytes: 5 * 1024 * 1024 })).toThrow(/webhookMaxBody 5242880 must be a whole number of bytes from 1 to 4194304/);
    expect(() => synth({ webhookMaxBodyBytes: 0 })).toThrow(/webhookMaxBody 0/);
    expect(() => synth({ webhookThrottle: { rateLimit: 0 } })).toThrow(/throttle rateLimit 0/);
    expect(() => synth({ webhookAuth: 'none' as 'iam' })).toThrow(/webhookAuth "none" is neither iam nor secret/);
  });

  it('with webhookAuth secret: no authorizer, a generated secret whose ARN the function has, readable by it alone', () => {
    for (const r of routes(secret)) {
      expect(r.AuthorizationType, r.RouteKey).toBe('NONE');
      expect(r.AuthorizerId, r.RouteKey).toBeUndefined();
    }
    expect(resourcesOfType(secret.json, 'AWS::ApiGatewayV2::Authorizer')).toHaveLength(0);
    const secrets = resourcesOfType(secret.json, 'AWS::SecretsManager::Secret');
    expect(secrets).toHaveLength(1);
    const [secretId, s] = secrets[0];
    expect(s.Properties.GenerateSecretString).toMatchObject({ PasswordLength: 64, ExcludePunctuation: true });
    expect(s.Properties.SecretString).toBeUndefined(); // generated, never in the template
    expect(env(secret, 'receive').SLUICE_WEBHOOK_SECRET_ARN).toEqual({ Ref: secretId });
    const readers = allStatements(secret.json).filter((st) => st.actions.some((a) => a.startsWith('secretsmanager:')));
    expect(readers).toHaveLength(1);
    expect(readers[0].roles).toEqual([roleId(secret, 'receive')]);
    expect(readers[0].actions).toEqual(['secretsmanager:GetSecretValue']);
    expect(readers[0].resources).toEqual([`ref:${secretId}`]);
    secret.template.hasOutput('WebhookSecretArn', { Value: { Ref: secretId } });
    expect(secret.json.Outputs.WebhookInvokePolicyArn).toBeUndefined();
    expect(resourcesOfType(secret.json, 'AWS::IAM::ManagedPolicy')).toHaveLength(0);
  });

  it('lets the receive function put and get only webhook bodies under each table\'s prefix, read the ledger and write the outbox', () => {
    const bucket = `arn:${bucketId(secret)}`;
    expect(s3Grants(secret, 'receive')).toEqual(
      [
        // Absent keys answer 404 (access.ts, EVERY_FUNCTION); lists `<prefix>webhook/<id>.`.
        `s3:ListBucket ${bucket}`,
        `s3:GetObject ${bucket}/orders/webhook/*`,
        `s3:GetObject ${bucket}/returns/incoming/webhook/*`,
        `s3:GetObject ${bucket}/.sluice/ledger/*`,
        `s3:PutObject ${bucket}/orders/webhook/*`,
        `s3:PutObject ${bucket}/returns/incoming/webhook/*`,
        `s3:PutObject ${bucket}/.sluice/outbox/*`,
        `s3:AbortMultipartUpload ${bucket}/orders/webhook/*`,
        `s3:AbortMultipartUpload ${bucket}/returns/incoming/webhook/*`,
        `s3:AbortMultipartUpload ${bucket}/.sluice/outbox/*`,
      ].sort(),
    );
    const can = (action: string, key: string) => roleAllows(allStatements(secret.json), roleId(secret, 'receive'), action, `${bucket}/${key}`);
    expect(can('s3:PutObject', 'orders/webhook/3f0c0123456789abcdef0123.ndjson')).toBe(true);
    expect(can('s3:PutObject', 'orders/2026/03/01.ndjson')).toBe(false);
    expect(can('s3:PutObject', 'orders/stream/kinesis/clicks/0/1-2.ndjson')).toBe(false);
    expect(can('s3:PutObject', 'warehouse/shop/orders/data/x.parquet')).toBe(false);
    expect(can('s3:GetObject', 'warehouse/shop/orders/metadata/00001.metadata.json')).toBe(false);
    expect(can('s3:PutObject', '.sluice/ledger/ab/record.json')).toBe(false);
    expect(can('s3:DeleteObject', 'orders/webhook/3f0c0123456789abcdef0123.ndjson')).toBe(false);
    // And nothing else of its own: no Glue, no queue, no state machine.
    const others = allStatements(secret.json)
      .filter((st) => st.roles.includes(roleId(secret, 'receive')))
      .flatMap((st) => st.actions)
      .filter((a) => !a.startsWith('s3:') && !a.startsWith('logs:'));
    expect(others).toEqual(['secretsmanager:GetSecretValue']);
  });

  it('is the WebhookUrl and WebhookApiId outputs', () => {
    example.template.hasOutput('WebhookUrl', { Value: { 'Fn::GetAtt': [apiId(example), 'ApiEndpoint'] } });
    example.template.hasOutput('WebhookApiId', { Value: { Ref: apiId(example) } });
  });
});

describe('the stream sources', () => {
  it('are none by default: the stream function and its dead-letter queue are there, no mapping', () => {
    expect(mappings(example)).toEqual([]);
    expect(resourcesOfType(example.json, 'AWS::Kinesis::Stream')).toHaveLength(0);
    expect(example.json.Resources[fnId(example, 'stream')].Properties.Timeout).toBe(120);
    const queue = example.json.Resources[streamDlqId(example)];
    expect(queue.Type).toBe('AWS::SQS::Queue');
    expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    // Watched like every dead-letter queue of the stack.
    const alarms = resourcesOfType(example.json, 'AWS::CloudWatch::Alarm')
      .map(([, a]) => a.Properties)
      .filter((a) => a.Dimensions?.[0]?.Value?.['Fn::GetAtt']?.[0] === streamDlqId(example));
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0 });
    // A mapping added later sends its failures there with the function's role.
    const statements = allStatements(example.json);
    expect(roleAllows(statements, roleId(example, 'stream'), 'sqs:SendMessage', `arn:${streamDlqId(example)}`)).toBe(true);
    expect(statements.some((st) => st.actions.some((a) => /^(kinesis|kafka|kafka-cluster):/.test(a)))).toBe(false);
    example.template.hasOutput('StreamFunctionName', { Value: { Ref: fnId(example, 'stream') } });
    example.template.hasOutput('StreamDeadLetterQueueUrl', { Value: { Ref: streamDlqId(example) } });
    expect(example.json.Outputs.KinesisStreamName).toBeUndefined();
  });

  it('let the stream function put and get only stream objects under each table\'s prefix, keep its checkpoints and indexes, and write the outbox', () => {
    const bucket = `arn:${bucketId(secret)}`;
    expect(s3Grants(secret, 'stream')).toEqual(
      [
        // Absent keys (a shard's first checkpoint) answer 404; lists `<prefix>stream/`.
        `s3:ListBucket ${bucket}`,
        `s3:GetObject ${bucket}/orders/stream/*`,
        `s3:GetObject ${bucket}/returns/incoming/stream/*`,
        `s3:GetObject ${bucket}/.sluice/streams/*`,
        ...['s3:PutObject', 's3:AbortMultipartUpload'].flatMap((a) => [
          `${a} ${bucket}/orders/stream/*`,
          `${a} ${bucket}/returns/incoming/stream/*`,
          `${a} ${bucket}/.sluice/streams/*`,
          `${a} ${bucket}/.sluice/outbox/*`,
        ]),
      ].sort(),
    );
    const can = (action: string, key: string) => roleAllows(allStatements(secret.json), roleId(secret, 'stream'), action, `${bucket}/${key}`);
    expect(can('s3:PutObject', 'orders/webhook/x.ndjson')).toBe(false);
    expect(can('s3:PutObject', 'orders/x.ndjson')).toBe(false);
    expect(can('s3:GetObject', '.sluice/ledger/ab/record.json')).toBe(false);
    expect(can('s3:PutObject', 'warehouse/shop/orders/data/x.parquet')).toBe(false);
  });

  it('read each Kinesis stream configured or made, from its oldest record, with partial batch responses, failed batches to the queue', () => {
    const s = synth({ kinesisStreamArns: [KINESIS_ARN], createKinesisStream: true });
    const made = logicalIdOf(s.stack, s.stack.kinesisStream!);
    const ms = mappings(s);
    expect(ms.map((m) => m.EventSourceArn)).toEqual(expect.arrayContaining([KINESIS_ARN, { 'Fn::GetAtt': [made, 'Arn'] }]));
    expect(ms).toHaveLength(2);
    for (const m of ms) {
      expectStreamMapping(s, m);
      // One receiver per shard: its checkpoint moves by compare-and-swap.
      expect(m.ParallelizationFactor).toBe(1);
    }
    const stream = s.json.Resources[made].Properties;
    expect(stream.StreamModeDetails).toEqual({ StreamMode: 'ON_DEMAND' });
    expect(stream.StreamEncryption.EncryptionType).toBe('KMS');
    s.template.hasOutput('KinesisStreamName', { Value: { Ref: made } });
    s.template.hasOutput('KinesisStreamArn', { Value: { 'Fn::GetAtt': [made, 'Arn'] } });
    const statements = allStatements(s.json);
    const role = roleId(s, 'stream');
    expect(roleAllows(statements, role, 'kinesis:GetRecords', KINESIS_ARN)).toBe(true);
    expect(roleAllows(statements, role, 'kinesis:GetRecords', `arn:${made}`)).toBe(true);
    expect(roleAllows(statements, role, 'kinesis:GetRecords', `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/other`)).toBe(false);
    expect(roleAllows(statements, role, 'kinesis:PutRecords', KINESIS_ARN)).toBe(false);
    for (const fn of ['receive', 'filter'] as const) {
      expect(roleAllows(statements, roleId(s, fn), 'kinesis:GetRecords', KINESIS_ARN), fn).toBe(false);
    }
  });

  it('take the batching and retries from the props, and refuse what Lambda would', () => {
    const s = synth({
      createKinesisStream: true,
      streamBatchSize: 500,
      streamMaxBatchingWindow: Duration.seconds(30),
      streamRetryAttempts: 3,
    });
    expect(mappings(s)).toHaveLength(1);
    expectStreamMapping(s, mappings(s)[0], { size: 500, window: 30, retries: 3 });
    expect(() => synth({ createKinesisStream: true, streamBatchSize: 0 })).toThrow(/streamBatchSize 0 must be/);
    expect(() => synth({ createKinesisStream: true, streamBatchSize: 20_000 })).toThrow(/streamBatchSize 20000 must be/);
    expect(() => synth({ createKinesisStream: true, streamRetryAttempts: -1 })).toThrow(/streamRetryAttempts -1 must be/);
    expect(() => synth({ kinesisStreamArns: ['clicks'] })).toThrow(/"clicks" is not a Kinesis data stream's ARN/);
    expect(() => synth({ kinesisStreamArns: [KINESIS_ARN, KINESIS_ARN] })).toThrow(/names .* twice/);
  });

  it('encrypt the stream they make and the queue with the customer-managed key, when there is one', () => {
    const s = synth({ customerManagedKey: true, createKinesisStream: true });
    const key = { 'Fn::GetAtt': [logicalIdOf(s.stack, s.stack.encryptionKey!), 'Arn'] };
    expect(s.json.Resources[logicalIdOf(s.stack, s.stack.kinesisStream!)].Properties.StreamEncryption).toEqual({
      EncryptionType: 'KMS',
      KeyId: key,
    });
    expect(s.json.Resources[streamDlqId(s)].Properties.KmsMasterKeyId).toEqual(key);
  });

  it('read each topic of an MSK cluster, on provisioned pollers (Kafka\'s error handling needs them), with the cluster\'s IAM grants', () => {
    const s = synth({ msk: { clusterArn: MSK_ARN, topics: ['clicks', 'orders'] } });
    const ms = mappings(s);
    expect(ms).toHaveLength(2);
    expect(ms.map((m) => m.Topics).sort()).toEqual([['clicks'], ['orders']]);
    for (const m of ms) {
      expect(m.EventSourceArn).toBe(MSK_ARN);
      expectStreamMapping(s, m);
      expect(m.ProvisionedPollerConfig).toEqual({ MinimumPollers: 1, MaximumPollers: 10 });
    }
    const statements = allStatements(s.json);
    const role = roleId(s, 'stream');
    const kafka = (resource: string) => `arn:aws:kafka:${REGION}:${ACCOUNT}:${resource}`;
    const cluster = 'events/0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9-2';
    expect(roleAllows(statements, role, 'kafka-cluster:Connect', MSK_ARN)).toBe(true);
    expect(roleAllows(statements, role, 'kafka-cluster:ReadData', kafka(`topic/${cluster}/clicks`))).toBe(true);
    expect(roleAllows(statements, role, 'kafka-cluster:ReadData', kafka(`topic/${cluster}/payments`))).toBe(false);
    expect(roleAllows(statements, role, 'kafka-cluster:WriteData', kafka(`topic/${cluster}/clicks`))).toBe(false);
    expect(roleAllows(statements, role, 'kafka-cluster:AlterGroup', kafka(`group/${cluster}/3f0c-mapping`))).toBe(true);
    expect(roleAllows(statements, role, 'kafka-cluster:AlterGroup', kafka('group/other/1/x'))).toBe(false);
    // CDK's AWSLambdaMSKExecutionRole (the network interfaces in the cluster's VPC): the one
    // managed policy of the stack, on the stream function's role only.
    const withManaged = resourcesOfType(s.json, 'AWS::IAM::Role').filter(([, r]) => r.Properties.ManagedPolicyArns);
    expect(withManaged.map(([id]) => id)).toEqual([role]);
    expect(withManaged[0][1].Properties.ManagedPolicyArns.map(render)).toEqual([
      'arn:aws:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole',
    ]);
    expect(() => synth({ msk: { clusterArn: 'arn:aws:kafka:eu-west-1:123456789012:topic/x', topics: ['a'] } })).toThrow(
      /is not an MSK cluster's ARN/,
    );
    expect(() => synth({ msk: { clusterArn: MSK_ARN, topics: [] } })).toThrow(/msk\.topics: name at least one topic/);
    expect(() => synth({ msk: { clusterArn: MSK_ARN, topics: ['a b'] } })).toThrow(/"a b" is not a Kafka topic name/);
  });

  it('read each topic of a self-managed Kafka cluster with the credentials of its secret, on provisioned pollers', () => {
    const s = synth({
      selfManagedKafka: { bootstrapServers: ['b-1.kafka.example.com:9096'], topics: ['clicks'], secretArn: KAFKA_SECRET, maximumPollers: 4 },
    });
    const ms = mappings(s);
    expect(ms).toHaveLength(1);
    const [m] = ms;
    expectStreamMapping(s, m);
    expect(m.Topics).toEqual(['clicks']);
    expect(m.SelfManagedEventSource).toEqual({ Endpoints: { KafkaBootstrapServers: ['b-1.kafka.example.com:9096'] } });
    expect(m.SourceAccessConfigurations).toEqual([{ Type: 'SASL_SCRAM_512_AUTH', URI: KAFKA_SECRET }]);
    expect(m.ProvisionedPollerConfig).toEqual({ MinimumPollers: 1, MaximumPollers: 4 });
    const statements = allStatements(s.json);
    expect(roleAllows(statements, roleId(s, 'stream'), 'secretsmanager:GetSecretValue', KAFKA_SECRET)).toBe(true);
    expect(roleAllows(statements, roleId(s, 'receive'), 'secretsmanager:GetSecretValue', KAFKA_SECRET)).toBe(false);
    expect(resourcesOfType(s.json, 'AWS::IAM::Role').filter(([, r]) => r.Properties.ManagedPolicyArns)).toEqual([]);
    const basic = synth({
      selfManagedKafka: { bootstrapServers: ['k:9092'], topics: ['clicks'], secretArn: KAFKA_SECRET, authentication: 'BASIC_AUTH' },
    });
    expect(mappings(basic)[0].SourceAccessConfigurations).toEqual([{ Type: 'BASIC_AUTH', URI: KAFKA_SECRET }]);
    expect(() =>
      synth({ selfManagedKafka: { bootstrapServers: ['kafka.example.com'], topics: ['a'], secretArn: KAFKA_SECRET } }),
    ).toThrow(/give one or more host:port/);
    expect(() =>
      synth({ selfManagedKafka: { bootstrapServers: ['k:9092'], topics: ['a'], secretArn: 'kafka-creds' } }),
    ).toThrow(/is not a Secrets Manager secret's ARN/);
  });
});

describe('the app (bin/sluice.ts)', () => {
  const CDK_DIR = path.resolve(__dirname, '..');
  const run = (vars: Record<string, string>) => {
    const outdir = tempDir('app');
    const r = spawnSync(path.join(CDK_DIR, 'node_modules', '.bin', 'tsx'), ['bin/sluice.ts'], {
      cwd: CDK_DIR,
      env: { ...process.env, CDK_OUTDIR: outdir, SLUICE_LAMBDA_CODE_DIR: dummyCodeDir(), SLUICE_STACK_NAME: 'SluiceApp', ...vars },
      encoding: 'utf8',
    });
    return { ...r, outdir };
  };

  it('takes the webhook and stream settings from the environment', () => {
    const r = run({
      SLUICE_WEBHOOK_AUTH: 'secret',
      SLUICE_WEBHOOK_MAX_BODY: '65536',
      SLUICE_CREATE_KINESIS_STREAM: 'true',
      SLUICE_MSK_CLUSTER_ARN: MSK_ARN,
      SLUICE_MSK_TOPICS: 'clicks, orders',
      SLUICE_STREAM_BATCH_SIZE: '200',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const template = JSON.parse(fs.readFileSync(path.join(r.outdir, 'SluiceApp.template.json'), 'utf8'));
    const of = (type: string) => Object.values(template.Resources as Record<string, any>).filter((x) => x.Type === type);
    expect(of('AWS::SecretsManager::Secret')).toHaveLength(1);
    expect(of('AWS::Kinesis::Stream')).toHaveLength(1);
    const ms = of('AWS::Lambda::EventSourceMapping').map((m) => m.Properties);
    expect(ms).toHaveLength(3);
    for (const m of ms) expect(m.BatchSize).toBe(200);
    const receive = of('AWS::Lambda::Function').find((f) => f.Properties.Environment.Variables.SLUICE_FUNCTION === 'receive');
    expect(receive.Properties.Environment.Variables.SLUICE_WEBHOOK_MAX_BODY).toBe('65536');
  });

  it('refuses settings that only go together when one is missing', () => {
    const r = run({ SLUICE_MSK_TOPICS: 'clicks' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/sluice: mskClusterArn and mskTopics go together/);
    const k = run({ SLUICE_KAFKA_TOPICS: 'clicks', SLUICE_KAFKA_SECRET_ARN: KAFKA_SECRET });
    expect(k.status).not.toBe(0);
    expect(k.stderr).toMatch(/sluice: kafkaBootstrapServers, kafkaTopics and kafkaSecretArn go together/);
  });
});
