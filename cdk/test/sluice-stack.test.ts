import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import { REPO_ROOT, STEP_FUNCTIONS, SluiceStack } from '../lib/sluice-stack';
import {
  ACCOUNT,
  FUNCTIONS,
  REGION,
  Statement,
  Synth,
  allStatements,
  dummyCodeDir,
  logicalIdOf,
  resourcesOfType,
  roleAllows,
  synth,
  tempDir,
  writeConfig,
} from './helpers';

const DEFINITION = path.join(REPO_ROOT, 'statemachine', 'ingest.asl.json');

// Two tables in two namespaces, to see "one per table" and "one per namespace".
const TWO_TABLES = `
[[table]]
name = "orders"
namespace = "shop"
prefix = "orders/"
format = "ndjson"
contract = "orders.schema.json"

[[table]]
name = "returns"
prefix = "returns/incoming/"
format = "csv"
contract = "schemas/returns.schema.json"
`;

let example: Synth;
let two: Synth;
beforeAll(() => {
  example = synth();
  two = synth({ configPath: writeConfig(TWO_TABLES, ['orders.schema.json', 'schemas/returns.schema.json']) });
});

const bucketId = (s: Synth) => logicalIdOf(s.stack, s.stack.bucket);
const fnId = (s: Synth, name: (typeof FUNCTIONS)[number]) => logicalIdOf(s.stack, s.stack.functions[name]);
const roleId = (s: Synth, name: (typeof FUNCTIONS)[number]) => logicalIdOf(s.stack, s.stack.roles[name]);
const smId = (s: Synth) => logicalIdOf(s.stack, s.stack.stateMachine);
const dlqId = (s: Synth) => logicalIdOf(s.stack, s.stack.deadLetterQueue);

function arrivalPattern(s: Synth, prefix: string) {
  return {
    source: ['aws.s3'],
    'detail-type': ['Object Created'],
    detail: {
      bucket: { name: [{ Ref: bucketId(s) }] },
      object: { key: [{ prefix }] },
    },
  };
}

describe('bucket', () => {
  it('is versioned, private, encrypted, retained, and sends its events to EventBridge natively', () => {
    const buckets = resourcesOfType(example.json, 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(1);
    const [, bucket] = buckets[0];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const sse = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration;
    expect(sse).toHaveLength(1);
    expect(['AES256', 'aws:kms']).toContain(sse[0].ServerSideEncryptionByDefault.SSEAlgorithm);
    expect(bucket.Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
  });

  it('synthesises without warnings', () => {
    Annotations.fromStack(example.stack).hasNoWarning('*', Match.anyValue());
    Annotations.fromStack(example.stack).hasNoError('*', Match.anyValue());
  });

  it('needs no custom resource for its notifications', () => {
    const types = Object.values(example.json.Resources as Record<string, any>).map((r) => r.Type);
    expect(types.filter((t) => t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource')).toEqual([]);
  });

  it('refuses requests that are not over TLS', () => {
    example.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId(example) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: [
              { 'Fn::GetAtt': [bucketId(example), 'Arn'] },
              { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId(example), 'Arn'] }, '/*']] },
            ],
          }),
        ]),
      },
    });
  });

  it('is the BucketName output', () => {
    example.template.hasOutput('BucketName', { Value: { Ref: bucketId(example) } });
  });
});

describe('event rules', () => {
  const arrivalRules = (s: Synth) =>
    resourcesOfType(s.json, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern);

  it('has one rule per table, matching Object Created under its prefix in this bucket', () => {
    expect(arrivalRules(example)).toHaveLength(1);
    expect(arrivalRules(two)).toHaveLength(2);
    const patterns = arrivalRules(two).map(([, r]) => r.Properties.EventPattern);
    expect(patterns).toEqual(
      expect.arrayContaining([arrivalPattern(two, 'orders/'), arrivalPattern(two, 'returns/incoming/')]),
    );
  });

  it('starts the state machine, with a retry policy and the dead-letter queue', () => {
    for (const s of [example, two]) {
      for (const [, rule] of arrivalRules(s)) {
        expect(rule.Properties.State).toBe('ENABLED');
        expect(rule.Properties.Targets).toHaveLength(1);
        const [target] = rule.Properties.Targets;
        expect(target.Arn).toEqual({ Ref: smId(s) });
        expect(target.RetryPolicy.MaximumEventAgeInSeconds).toBeGreaterThanOrEqual(3600);
        expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
        expect(target.DeadLetterConfig).toEqual({ Arn: { 'Fn::GetAtt': [dlqId(s), 'Arn'] } });
        expect(target.Input).toBeUndefined(); // the whole event is the execution's input
      }
    }
  });

  it('uses an encrypted, TLS-only dead-letter queue that only the rules may send to', () => {
    example.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    const policies = resourcesOfType(example.json, 'AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(1);
    const statements = policies[0][1].Properties.PolicyDocument.Statement as any[];
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    for (const s of statements.filter((x) => x.Effect === 'Allow')) {
      expect(s.Principal).toEqual({ Service: 'events.amazonaws.com' });
      expect(s.Action).toBe('sqs:SendMessage');
      expect(s.Condition.ArnEquals['aws:SourceArn']).toBeDefined();
    }
    example.template.hasOutput('DeadLetterQueueUrl', { Value: { Ref: dlqId(example) } });
  });

  it('schedules the reconcile function once per table, with the table as input', () => {
    const schedules = resourcesOfType(two.json, 'AWS::Events::Rule').filter(
      ([, r]) => r.Properties.ScheduleExpression,
    );
    expect(schedules).toHaveLength(2);
    const inputs = schedules.map(([, r]) => {
      expect(r.Properties.ScheduleExpression).toBe('rate(1 hour)');
      expect(r.Properties.Targets).toHaveLength(1);
      const [target] = r.Properties.Targets;
      expect(target.Arn).toEqual({ 'Fn::GetAtt': [fnId(two, 'reconcile'), 'Arn'] });
      expect(target.DeadLetterConfig).toBeDefined();
      return JSON.parse(target.Input);
    });
    expect(inputs).toEqual(expect.arrayContaining([{ table: 'orders' }, { table: 'returns' }]));
  });
});

describe('archive', () => {
  it('archives each table\'s events on the default bus with the rule\'s pattern, for replay', () => {
    const archives = resourcesOfType(two.json, 'AWS::Events::Archive');
    expect(archives).toHaveLength(2);
    const defaultBus = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:events:${REGION}:${ACCOUNT}:event-bus/default`]],
    };
    for (const [, a] of archives) {
      expect(a.Properties.SourceArn).toEqual(defaultBus);
      expect(a.Properties.RetentionDays).toBeGreaterThan(0);
      // An empty KmsKeyIdentifier is refused by some regions (aws/aws-cdk#37847).
      expect(a.Properties).not.toHaveProperty('KmsKeyIdentifier');
    }
    expect(archives.map(([, a]) => a.Properties.EventPattern)).toEqual(
      expect.arrayContaining([arrivalPattern(two, 'orders/'), arrivalPattern(two, 'returns/incoming/')]),
    );
  });
});

describe('state machine', () => {
  const machine = (s: Synth) => {
    const machines = resourcesOfType(s.json, 'AWS::StepFunctions::StateMachine');
    expect(machines).toHaveLength(1);
    return machines[0][1].Properties;
  };

  /** The definition as Step Functions will see it, with each substitution an `arn:<logical id>`. */
  const rendered = (s: Synth): { text: string; definition: any } => {
    const p = machine(s);
    expect(typeof p.DefinitionString).toBe('string');
    const subs = p.DefinitionSubstitutions as Record<string, any>;
    const text = (p.DefinitionString as string).replace(/\$\{([A-Za-z0-9]+)\}/g, (whole, name: string) => {
      const v = subs[name];
      if (!v) return whole;
      expect(v['Fn::GetAtt'][1]).toBe('Arn');
      return `arn:${v['Fn::GetAtt'][0]}`;
    });
    return { text, definition: JSON.parse(text) };
  };

  it('is STANDARD, logs errors without execution data, traces with X-Ray', () => {
    const p = machine(example);
    expect(p.StateMachineType).toBe('STANDARD');
    expect(['ERROR', 'ALL']).toContain(p.LoggingConfiguration.Level);
    expect(p.LoggingConfiguration.IncludeExecutionData).toBe(false);
    const lg = p.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    expect(example.json.Resources[lg].Type).toBe('AWS::Logs::LogGroup');
    expect(p.TracingConfiguration).toEqual({ Enabled: true });
    example.template.hasOutput('StateMachineArn', { Value: { Ref: smId(example) } });
  });

  it('deploys statemachine/ingest.asl.json as it is in the repository', () => {
    expect(machine(example).DefinitionString).toBe(fs.readFileSync(DEFINITION, 'utf8'));
  });

  it('leaves no ${ in the rendered definition, and every Task calls one of the five step functions', () => {
    const { text, definition } = rendered(example);
    expect(text).not.toContain('${');
    const tasks = Object.entries(definition.States as Record<string, any>).filter(([, st]) => st.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(5);
    const stepArns = (Object.keys(STEP_FUNCTIONS) as (keyof typeof STEP_FUNCTIONS)[]).map(
      (n) => `arn:${fnId(example, n)}`,
    );
    for (const [, st] of tasks) expect(stepArns).toContain(st.Resource);
    const byState = Object.fromEntries(tasks.map(([name, st]) => [name, st.Resource]));
    expect(byState).toEqual({
      Filter: `arn:${fnId(example, 'filter')}`,
      DetectDrift: `arn:${fnId(example, 'schema-drift-detect')}`,
      Validate: `arn:${fnId(example, 'validate')}`,
      Commit: `arn:${fnId(example, 'commit')}`,
      Quarantine: `arn:${fnId(example, 'quarantine')}`,
    });
  });

  it('gives each function a timeout no longer than its Task\'s', () => {
    const { definition } = rendered(example);
    for (const [, st] of Object.entries(definition.States as Record<string, any>)) {
      if (st.Type !== 'Task') continue;
      const id = (st.Resource as string).slice('arn:'.length);
      const fn = example.json.Resources[id];
      expect(fn.Properties.Timeout).toBeLessThanOrEqual(st.TimeoutSeconds);
    }
  });
});

describe('functions', () => {
  const props = (s: Synth, name: (typeof FUNCTIONS)[number]) => s.json.Resources[fnId(s, name)].Properties;

  it('are six arm64 provided.al2023 functions with handler bootstrap, each with its own code', () => {
    expect(resourcesOfType(example.json, 'AWS::Lambda::Function')).toHaveLength(6);
    for (const name of FUNCTIONS) {
      const p = props(example, name);
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Runtime).toBe('provided.al2023');
      expect(p.Handler).toBe('bootstrap');
      const asset = example.json.Resources[fnId(example, name)].Metadata['aws:asset:path'];
      const bootstrap = fs.readFileSync(path.join(example.outdir, asset, 'bootstrap'), 'utf8');
      expect(bootstrap).toContain(`dummy ${name}\n`);
    }
  });

  it('are sized per step: validate 2048 MB and 900 s, the others smaller', () => {
    expect(props(example, 'validate').MemorySize).toBe(2048);
    expect(props(example, 'validate').Timeout).toBe(900);
    for (const name of FUNCTIONS.filter((n) => n !== 'validate')) {
      expect(props(example, name).MemorySize).toBeLessThan(2048);
    }
  });

  it('know the bucket, the warehouse prefix and the config, and log JSON', () => {
    for (const name of FUNCTIONS) {
      const p = props(example, name);
      const env = p.Environment.Variables;
      expect(env.SLUICE_BUCKET).toEqual({ Ref: bucketId(example) });
      expect(env.SLUICE_WAREHOUSE_PREFIX).toBe('warehouse/');
      expect(env.SLUICE_CONFIG).toBe('/opt/sluice/sluice.toml');
      expect(p.LoggingConfig.LogFormat).toBe('JSON');
      expect(p.Layers).toHaveLength(1);
    }
    expect(props(example, 'reconcile').Environment.Variables.SLUICE_STATE_MACHINE_ARN).toEqual({
      Ref: smId(example),
    });
    const custom = synth({ warehousePrefix: 'lake/' });
    expect(props(custom, 'commit').Environment.Variables.SLUICE_WAREHOUSE_PREFIX).toBe('lake/');
  });

  it('ship the config and its contracts in a layer at /opt/sluice', () => {
    const layers = resourcesOfType(two.json, 'AWS::Lambda::LayerVersion');
    expect(layers).toHaveLength(1);
    const dir = path.join(two.outdir, layers[0][1].Metadata['aws:asset:path'], 'sluice');
    expect(fs.readFileSync(path.join(dir, 'sluice.toml'), 'utf8')).toBe(TWO_TABLES);
    expect(fs.existsSync(path.join(dir, 'orders.schema.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'schemas', 'returns.schema.json'))).toBe(true);
  });

  it('fail synth with a clear message when a binary is missing', () => {
    // A repository without target/lambda: the default code dir.
    const repo = tempDir('repo');
    fs.mkdirSync(path.join(repo, 'statemachine'));
    fs.copyFileSync(DEFINITION, path.join(repo, 'statemachine', 'ingest.asl.json'));
    const make = (props: { lambdaCodeDir?: string }) => () =>
      new SluiceStack(new App({ outdir: tempDir('out') }), 'S', {
        config: loadConfig(path.join(REPO_ROOT, 'examples', 'orders', 'sluice.toml')),
        repoRoot: repo,
        ...props,
      });
    expect(make({})).toThrow(/target\/lambda\/filter\/bootstrap is missing; run `make lambdas` first/);
    // An explicit dir that lacks one function names it.
    const partial = dummyCodeDir();
    fs.rmSync(path.join(partial, 'reconcile'), { recursive: true });
    expect(make({ lambdaCodeDir: partial })).toThrow(/no Lambda binary for reconcile: .* is missing; lambdaCodeDir is/);
    // A complete one synthesises.
    expect(make({ lambdaCodeDir: dummyCodeDir() })).not.toThrow();
  });
});

describe('reserved concurrency', () => {
  it('is set on commit only, 5 by default, as configured otherwise', () => {
    for (const name of FUNCTIONS) {
      const p = example.json.Resources[fnId(example, name)].Properties;
      expect(p.ReservedConcurrentExecutions).toBe(name === 'commit' ? 5 : undefined);
    }
    const s = synth({ commitReservedConcurrency: 2 });
    expect(s.json.Resources[fnId(s, 'commit')].Properties.ReservedConcurrentExecutions).toBe(2);
  });
});

describe('glue', () => {
  it('has one retained database per namespace, located in the warehouse', () => {
    const dbs = resourcesOfType(two.json, 'AWS::Glue::Database');
    expect(dbs.map(([, d]) => d.Properties.DatabaseInput.Name).sort()).toEqual(['shop', 'sluice']);
    for (const [, d] of dbs) {
      expect(d.DeletionPolicy).toBe('Retain');
      expect(d.Properties.CatalogId).toBe(ACCOUNT);
      expect(d.Properties.DatabaseInput.LocationUri).toEqual({
        'Fn::Join': ['', ['s3://', { Ref: bucketId(two) }, `/warehouse/${d.Properties.DatabaseInput.Name}`]],
      });
    }
    expect(resourcesOfType(example.json, 'AWS::Glue::Database')).toHaveLength(1);
  });
});

describe('alarms', () => {
  const alarms = (s: Synth) => resourcesOfType(s.json, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
  const byMetric = (s: Synth, name: string) => {
    const found = alarms(s).filter((a) => a.MetricName === name);
    expect(found).toHaveLength(1);
    return found[0];
  };

  it('fire on a failed execution, a dead letter, and a quarantined file', () => {
    expect(alarms(example)).toHaveLength(3);
    const failed = byMetric(example, 'ExecutionsFailed');
    expect(failed.Namespace).toBe('AWS/States');
    expect(failed.Dimensions).toEqual([{ Name: 'StateMachineArn', Value: { Ref: smId(example) } }]);
    const dlq = byMetric(example, 'ApproximateNumberOfMessagesVisible');
    expect(dlq.Namespace).toBe('AWS/SQS');
    expect(dlq.Dimensions).toEqual([{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId(example), 'QueueName'] } }]);
    const quarantined = byMetric(example, 'FilesQuarantined');
    expect(quarantined.Namespace).toBe('sluice');
    expect(quarantined.Statistic).toBe('Sum');
    expect(quarantined.Period).toBe(300);
    expect(quarantined.Dimensions).toBeUndefined();
    for (const a of alarms(example)) {
      expect(a.Threshold).toBe(0);
      expect(a.ComparisonOperator).toBe('GreaterThanThreshold');
      expect(a.TreatMissingData).toBe('notBreaching');
      expect(a.AlarmActions).toBeUndefined();
    }
    expect(resourcesOfType(example.json, 'AWS::SNS::Topic')).toHaveLength(0);
  });

  it('notify an SNS topic when an address is given', () => {
    const s = synth({ alarmEmail: 'ops@example.com' });
    const topics = resourcesOfType(s.json, 'AWS::SNS::Topic');
    expect(topics).toHaveLength(1);
    const [topicId] = topics[0];
    s.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: topicId },
    });
    for (const a of alarms(s)) expect(a.AlarmActions).toEqual([{ Ref: topicId }]);
  });
});

describe('logs', () => {
  it('keep every log group for 30 days, one group per function and one for the state machine', () => {
    const groups = resourcesOfType(example.json, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(7);
    for (const [, g] of groups) {
      expect(g.Properties.RetentionInDays).toBe(30);
      expect(g.DeletionPolicy).toBe('Retain');
    }
    const used = FUNCTIONS.map((n) => example.json.Resources[fnId(example, n)].Properties.LoggingConfig.LogGroup.Ref);
    expect(new Set(used).size).toBe(6);
    for (const id of used) expect(example.json.Resources[id].Type).toBe('AWS::Logs::LogGroup');
  });
});

describe('iam', () => {
  // The only statements allowed a bare `*` resource: AWS defines these actions on no resource.
  const STAR_RESOURCE_EXCEPTIONS = new Set([
    // Step Functions logging to CloudWatch Logs (vended log delivery)
    'logs:CreateLogDelivery',
    'logs:GetLogDelivery',
    'logs:UpdateLogDelivery',
    'logs:DeleteLogDelivery',
    'logs:ListLogDeliveries',
    'logs:PutResourcePolicy',
    'logs:DescribeResourcePolicies',
    'logs:DescribeLogGroups',
    // Step Functions X-Ray tracing
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
    'xray:GetSamplingRules',
    'xray:GetSamplingTargets',
  ]);

  let statements: Statement[];
  let smRole: string;
  beforeAll(() => {
    statements = allStatements(example.json);
    const sm = example.json.Resources[smId(example)];
    smRole = sm.Properties.RoleArn['Fn::GetAtt'][0];
  });

  it('allows no `*` action and no service-wide `service:*` action', () => {
    expect(statements.length).toBeGreaterThan(20);
    for (const s of statements.filter((x) => x.effect === 'Allow')) {
      for (const a of s.actions) {
        expect(a, `${s.source}`).not.toBe('*');
        expect(a.endsWith(':*'), `${s.source}: ${a}`).toBe(false);
      }
    }
  });

  it('attaches no AWS managed policy to any role (their documents are not in the template to check)', () => {
    for (const [id, role] of resourcesOfType(example.json, 'AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns, id).toBeUndefined();
    }
  });

  it('denies only requests without TLS', () => {
    const denies = statements.filter((x) => x.effect === 'Deny');
    expect(denies.length).toBeGreaterThanOrEqual(2); // the bucket's and the queue's
    for (const d of denies) expect(d.condition).toEqual({ Bool: { 'aws:SecureTransport': 'false' } });
  });

  it('grants a bare `*` resource only for the listed X-Ray and log-delivery actions, to the state machine', () => {
    const star = statements.filter((x) => x.effect === 'Allow' && x.resources.includes('*'));
    expect(star.length).toBeGreaterThan(0);
    for (const s of star) {
      expect(s.roles, s.source).toEqual([smRole]);
      for (const a of s.actions) expect(STAR_RESOURCE_EXCEPTIONS.has(a), a).toBe(true);
    }
  });

  it('gives each function a role of its own, with no managed policies', () => {
    const roles = FUNCTIONS.map((n) => example.json.Resources[fnId(example, n)].Properties.Role['Fn::GetAtt'][0]);
    expect(new Set(roles).size).toBe(6);
    for (const [i, r] of roles.entries()) {
      expect(r).toBe(roleId(example, FUNCTIONS[i]));
      const role = example.json.Resources[r].Properties;
      expect(role.ManagedPolicyArns).toBeUndefined();
      expect(role.AssumeRolePolicyDocument.Statement).toEqual([
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
      ]);
    }
  });

  // What each function may do to which object; everything not listed must be refused.
  const KEYS = {
    arrival: 'orders/2026/03/01.ndjson',
    elsewhere: 'elsewhere/x.ndjson',
    ledger: '.sluice/ledger/ab/record.json',
    keyHead: '.sluice/keys/ab/head.json',
    data: 'warehouse/shop/orders/data/part-0.parquet',
    metadata: 'warehouse/shop/orders/metadata/00001.metadata.json',
    otherTable: 'warehouse/shop/other/metadata/00001.metadata.json',
    staged: '.sluice/staged/shop.orders/b-1.json',
    rejects: '.sluice/rejects/shop.orders/b-1.ndjson',
    quarantine: '.sluice/quarantine/orders/b-1.json',
    unrouted: '.sluice/quarantine/_unrouted/b-1.json',
    watermark: '.sluice/watermarks/shop.orders.json',
  } as const;
  type Key = keyof typeof KEYS;
  const MATRIX: Record<(typeof FUNCTIONS)[number], Partial<Record<'get' | 'put' | 'delete', Key[]>>> = {
    filter: { get: ['arrival', 'ledger', 'keyHead'], put: ['ledger', 'keyHead'] },
    'schema-drift-detect': { get: ['arrival', 'ledger', 'metadata'], put: ['ledger', 'metadata'] },
    validate: {
      get: ['arrival', 'ledger', 'metadata'],
      put: ['ledger', 'data', 'staged', 'rejects'],
      delete: ['data'],
    },
    quarantine: { get: ['ledger'], put: ['ledger', 'quarantine', 'unrouted'] },
    commit: {
      get: ['ledger', 'staged', 'data', 'metadata'],
      put: ['ledger', 'metadata'],
      delete: ['staged', 'quarantine'],
    },
    reconcile: { get: ['ledger', 'watermark'], put: ['watermark'] },
  };
  const S3_ACTION = { get: 's3:GetObject', put: 's3:PutObject', delete: 's3:DeleteObject' } as const;

  it('lets each function touch exactly the objects of its row in the matrix', () => {
    const bucketArn = `arn:${bucketId(example)}`;
    for (const fn of FUNCTIONS) {
      for (const op of ['get', 'put', 'delete'] as const) {
        for (const key of Object.keys(KEYS) as Key[]) {
          const expected = (MATRIX[fn][op] ?? []).includes(key);
          const actual = roleAllows(statements, roleId(example, fn), S3_ACTION[op], `${bucketArn}/${KEYS[key]}`);
          expect(actual, `${fn} ${op} ${KEYS[key]}`).toBe(expected);
        }
      }
    }
  });

  it('e.g. the filter role cannot put objects into the warehouse', () => {
    const r = roleAllows(
      statements,
      roleId(example, 'filter'),
      's3:PutObject',
      `arn:${bucketId(example)}/warehouse/shop/orders/data/x.parquet`,
    );
    expect(r).toBe(false);
  });

  it('keeps Glue access to the tables\' own database and table ARNs', () => {
    const glue = (name: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:${name}`;
    const can = (fn: (typeof FUNCTIONS)[number], action: string, res: string) =>
      roleAllows(statements, roleId(example, fn), action, glue(res));
    expect(can('commit', 'glue:UpdateTable', 'table/shop/orders')).toBe(true);
    expect(can('commit', 'glue:GetDatabase', 'database/shop')).toBe(true);
    expect(can('commit', 'glue:UpdateTable', 'table/shop/other')).toBe(false);
    expect(can('commit', 'glue:UpdateTable', 'table/sluice/orders')).toBe(false);
    expect(can('commit', 'glue:CreateTable', 'table/shop/orders')).toBe(false);
    expect(can('commit', 'glue:DeleteTable', 'table/shop/orders')).toBe(false);
    expect(can('schema-drift-detect', 'glue:CreateTable', 'table/shop/orders')).toBe(true);
    expect(can('schema-drift-detect', 'glue:CreateTable', 'database/shop')).toBe(true);
    expect(can('validate', 'glue:GetTable', 'table/shop/orders')).toBe(true);
    expect(can('validate', 'glue:UpdateTable', 'table/shop/orders')).toBe(false);
    for (const fn of ['filter', 'quarantine', 'reconcile'] as const) {
      expect(can(fn, 'glue:GetTable', 'table/shop/orders'), fn).toBe(false);
    }
  });

  it('lets the state machine only invoke the five step functions', () => {
    const mine = statements.filter((s) => s.roles.includes(smRole) && !s.resources.includes('*'));
    const actions = new Set(mine.flatMap((s) => s.actions));
    expect([...actions]).toEqual(['lambda:InvokeFunction']);
    for (const fn of FUNCTIONS) {
      const arn = `arn:${fnId(example, fn)}`;
      expect(roleAllows(statements, smRole, 'lambda:InvokeFunction', arn), fn).toBe(fn !== 'reconcile');
    }
  });

  it('lets reconcile (and the rules) start executions of this state machine only', () => {
    const sm = `ref:${smId(example)}`;
    expect(roleAllows(statements, roleId(example, 'reconcile'), 'states:StartExecution', sm)).toBe(true);
    expect(roleAllows(statements, roleId(example, 'reconcile'), 'states:StartExecution', 'ref:Other')).toBe(false);
    for (const fn of FUNCTIONS.filter((f) => f !== 'reconcile')) {
      expect(roleAllows(statements, roleId(example, fn), 'states:StartExecution', sm), fn).toBe(false);
    }
    const starters = statements.filter((s) => s.actions.some((a) => a.startsWith('states:')));
    for (const s of starters) expect(s.resources, s.source).toEqual([sm]);
  });

  it('lets reconcile list versions only under the table prefixes', () => {
    const s = statements.find((x) => x.actions.includes('s3:ListBucketVersions'));
    expect(s?.roles).toEqual([roleId(example, 'reconcile')]);
    expect(s?.condition).toEqual({ StringLike: { 's3:prefix': ['orders/*'] } });
  });

  it('lets each function write only its own log group', () => {
    for (const fn of FUNCTIONS) {
      const own = example.json.Resources[fnId(example, fn)].Properties.LoggingConfig.LogGroup.Ref;
      const logStatements = statements.filter(
        (s) => s.roles.includes(roleId(example, fn)) && s.actions.some((a) => a.startsWith('logs:')),
      );
      expect(logStatements.flatMap((s) => s.resources), fn).toEqual([`arn:${own}`]);
    }
  });
});
