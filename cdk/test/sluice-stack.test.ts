import * as fs from 'fs';
import * as path from 'path';
import { App, Duration } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import { CONTROL_LAYOUT, REPO_ROOT, STEP_FUNCTIONS, SluiceStack } from '../lib/sluice-stack';
import {
  ACCOUNT,
  FUNCTIONS,
  REGION,
  Statement,
  Synth,
  TWO_TABLES,
  allStatements,
  backfillId,
  bucketId,
  dlqId,
  dummyCodeDir,
  fnId,
  logicalIdOf,
  resourcesOfType,
  roleAllows,
  roleId,
  maintenanceDlqId,
  scheduleDlqId,
  smId,
  streamDlqId,
  synth,
  tempDir,
  twoTablesConfig,
  writeConfig,
} from './helpers';

let example: Synth;
let two: Synth;
beforeAll(() => {
  example = synth();
  two = synth({ configPath: twoTablesConfig() });
});

function arrivalPattern(s: Synth, prefix: string) {
  return {
    source: ['aws.s3'],
    'detail-type': ['Object Created', 'Object Deleted'],
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
  // The rules of S3 events that start ingest executions (the outbox's goes to publish).
  const isOutboxRule = (r: any) => r.Properties.EventPattern?.detail?.object?.key?.[0]?.prefix === '.sluice/outbox/';
  const arrivalRules = (s: Synth) =>
    resourcesOfType(s.json, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern && !isOutboxRule(r));
  const eventDlqId = (s: Synth) => logicalIdOf(s.stack, s.stack.eventDeadLetterQueue);

  it('has one rule per table, matching Object Created and Object Deleted under its prefix in this bucket', () => {
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

  it('keeps dead letters by purpose: arrivals, reconcile schedules, maintenance, outbound events and stream batches each in an encrypted, TLS-only queue', () => {
    const queues = resourcesOfType(two.json, 'AWS::SQS::Queue');
    expect(queues).toHaveLength(5);
    for (const [, q] of queues) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    const policies = resourcesOfType(two.json, 'AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(5);
    const rules = resourcesOfType(two.json, 'AWS::Events::Rule');
    const arrivalRuleIds = rules.filter(([, r]) => r.Properties.EventPattern && !isOutboxRule(r)).map(([id]) => id);
    const outboxRuleIds = rules.filter(([, r]) => isOutboxRule(r)).map(([id]) => id);
    const targetOf = (r: any) => r.Properties.Targets[0].Arn['Fn::GetAtt']?.[0];
    const scheduleRuleIds = rules
      .filter(([, r]) => r.Properties.ScheduleExpression && targetOf(r) === fnId(two, 'reconcile'))
      .map(([id]) => id);
    const maintainRuleIds = rules
      .filter(([, r]) => r.Properties.ScheduleExpression && targetOf(r) === fnId(two, 'maintain'))
      .map(([id]) => id);
    const sendersOf = (queueId: string) => {
      const [, policy] = policies.find(([, p]) => p.Properties.Queues[0].Ref === queueId)!;
      const statements = policy.Properties.PolicyDocument.Statement as any[];
      expect(statements).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
      return statements
        .filter((x) => x.Effect === 'Allow')
        .map((x) => {
          expect(x.Principal).toEqual({ Service: 'events.amazonaws.com' });
          expect(x.Action).toBe('sqs:SendMessage');
          return x.Condition.ArnEquals['aws:SourceArn']['Fn::GetAtt'][0];
        });
    };
    expect(sendersOf(dlqId(two)).sort()).toEqual([...arrivalRuleIds].sort());
    expect(sendersOf(scheduleDlqId(two)).sort()).toEqual([...scheduleRuleIds].sort());
    expect(sendersOf(maintenanceDlqId(two)).sort()).toEqual([...maintainRuleIds].sort());
    expect(sendersOf(eventDlqId(two))).toEqual(outboxRuleIds);
    // Lambda's event source mappings send with the stream function's role, not as a service.
    expect(sendersOf(streamDlqId(two))).toEqual([]);
    expect(maintainRuleIds).toHaveLength(2);
    expect(outboxRuleIds).toHaveLength(1);
    example.template.hasOutput('DeadLetterQueueUrl', { Value: { Ref: dlqId(example) } });
    example.template.hasOutput('ScheduleDeadLetterQueueUrl', { Value: { Ref: scheduleDlqId(example) } });
  });

  it('sends a failed reconcile run to the schedule queue and a failed maintenance run to its own, never to the arrivals queue', () => {
    const configs = resourcesOfType(example.json, 'AWS::Lambda::EventInvokeConfig');
    expect(configs).toHaveLength(2);
    const queueOf = { reconcile: scheduleDlqId(example), maintain: maintenanceDlqId(example) };
    for (const fn of ['reconcile', 'maintain'] as const) {
      const [, c] = configs.find(([, x]) => x.Properties.FunctionName.Ref === fnId(example, fn))!;
      expect(c.Properties.MaximumRetryAttempts).toBe(2);
      expect(c.Properties.DestinationConfig.OnFailure.Destination).toEqual({
        'Fn::GetAtt': [queueOf[fn], 'Arn'],
      });
    }
    for (const [, r] of resourcesOfType(example.json, 'AWS::Events::Rule')) {
      const [target] = r.Properties.Targets;
      const dlq = target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
      const fn = target.Arn['Fn::GetAtt']?.[0];
      const expected = isOutboxRule(r)
        ? eventDlqId(example)
        : !r.Properties.ScheduleExpression
        ? dlqId(example)
        : fn === fnId(example, 'maintain')
          ? maintenanceDlqId(example)
          : scheduleDlqId(example);
      expect(dlq).toBe(expected);
    }
  });

  it('schedules the reconcile function (hourly) and the maintain function (daily) once per table, with the table as input', () => {
    const schedules = resourcesOfType(two.json, 'AWS::Events::Rule').filter(
      ([, r]) => r.Properties.ScheduleExpression,
    );
    expect(schedules).toHaveLength(4);
    for (const [fn, rate] of [
      ['reconcile', 'rate(1 hour)'],
      ['maintain', 'rate(1 day)'],
    ] as const) {
      const mine = schedules.filter(
        ([, r]) => r.Properties.Targets[0].Arn['Fn::GetAtt'][0] === fnId(two, fn),
      );
      expect(mine, fn).toHaveLength(2);
      const inputs = mine.map(([, r]) => {
        expect(r.Properties.ScheduleExpression).toBe(rate);
        expect(r.Properties.Targets).toHaveLength(1);
        expect(r.Properties.Targets[0].DeadLetterConfig).toBeDefined();
        return JSON.parse(r.Properties.Targets[0].Input);
      });
      expect(inputs).toEqual(expect.arrayContaining([{ table: 'orders' }, { table: 'returns' }]));
    }
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

describe('functions', () => {
  const props = (s: Synth, name: (typeof FUNCTIONS)[number]) => s.json.Resources[fnId(s, name)].Properties;

  it('are ten arm64 provided.al2023 functions with handler bootstrap, each with its own code', () => {
    expect(resourcesOfType(example.json, 'AWS::Lambda::Function')).toHaveLength(FUNCTIONS.length);
    expect(FUNCTIONS).toHaveLength(10);
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

  it('know the bucket, the warehouse prefix, the config and their stack, and log JSON', () => {
    for (const name of FUNCTIONS) {
      const p = props(example, name);
      const env = p.Environment.Variables;
      expect(env.SLUICE_BUCKET).toEqual({ Ref: bucketId(example) });
      expect(env.SLUICE_WAREHOUSE_PREFIX).toBe('warehouse/');
      expect(env.SLUICE_CONFIG).toBe('/opt/sluice/sluice.toml');
      expect(env.SLUICE_STACK).toBe(example.stack.stackName);
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
    for (const name of ['ingest.asl.json', 'backfill.asl.json']) {
      fs.copyFileSync(path.join(REPO_ROOT, 'statemachine', name), path.join(repo, 'statemachine', name));
    }
    fs.cpSync(path.join(REPO_ROOT, 'schemas'), path.join(repo, 'schemas'), { recursive: true });
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
  it('is set on commit only, 5 by default, as configured otherwise; validate can be capped', () => {
    for (const name of FUNCTIONS) {
      const p = example.json.Resources[fnId(example, name)].Properties;
      expect(p.ReservedConcurrentExecutions).toBe(name === 'commit' ? 5 : undefined);
    }
    const s = synth({ commitReservedConcurrency: 2, validateReservedConcurrency: 8 });
    expect(s.json.Resources[fnId(s, 'commit')].Properties.ReservedConcurrentExecutions).toBe(2);
    expect(s.json.Resources[fnId(s, 'validate')].Properties.ReservedConcurrentExecutions).toBe(8);
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
  const byMetric = (s: Synth, name: string, count = 1) => {
    const found = alarms(s).filter((a) => a.MetricName === name);
    expect(found).toHaveLength(count);
    return found[0];
  };

  it('fire on a failed ingest or backfill execution, dead letters, a quarantined file, staleness, and each function and rule', () => {
    // Two state machines, 5 dead-letter queues, quarantined files; one table: 4 rules
    // (arrivals, reconcile, maintain, outbox) and 2 freshness alarms; 10 functions with errors
    // and throttles each; a file waiting on a drift decision.
    expect(alarms(example)).toHaveLength(2 + 5 + 1 + 4 + 10 * 2 + 2 + 1);
    // One per state machine: ingest and backfill.
    byMetric(example, 'ExecutionsFailed', 2);
    const failed = alarms(example).filter((a) => a.MetricName === 'ExecutionsFailed');
    for (const a of failed) expect(a.Namespace).toBe('AWS/States');
    expect(failed.map((a) => a.Dimensions)).toEqual(
      expect.arrayContaining([
        [{ Name: 'StateMachineArn', Value: { Ref: smId(example) } }],
        [{ Name: 'StateMachineArn', Value: { Ref: backfillId(example) } }],
      ]),
    );
    const dlqs = alarms(example).filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(dlqs.map((a) => a.Dimensions[0].Value['Fn::GetAtt'][0]).sort()).toEqual(
      [
        dlqId(example),
        scheduleDlqId(example),
        maintenanceDlqId(example),
        logicalIdOf(example.stack, example.stack.eventDeadLetterQueue),
        streamDlqId(example),
      ].sort(),
    );
    const quarantined = byMetric(example, 'FilesQuarantined');
    expect(quarantined.Namespace).toBe('sluice');
    expect(quarantined.Statistic).toBe('Sum');
    expect(quarantined.Period).toBe(300);
    // The functions' metrics carry the stack's name (EMF dimension `Stack`, from SLUICE_STACK).
    expect(quarantined.Dimensions).toEqual([{ Name: 'Stack', Value: example.stack.stackName }]);
    // A file waiting on a schema change a person must decide (`sluice drift`), the quarantine
    // function's DriftPending: its own alarm, whose description says what to run.
    const pending = byMetric(example, 'DriftPending');
    expect(pending.Statistic).toBe('Sum');
    expect(pending.Dimensions).toEqual([{ Name: 'Stack', Value: example.stack.stackName }]);
    expect(pending.AlarmDescription).toContain('sluice drift list --aws');
    // Freshness per table, by Stack and Table, over the table's own `freshness` (1h in the
    // example): rows that took too long to commit, and an object still waiting (reconcile's).
    const fresh = byMetric(example, 'EventToCommitLag');
    expect(fresh.Statistic).toBe('Maximum');
    expect(fresh.Threshold).toBe(3600_000);
    expect(fresh.Period).toBe(300);
    const tableDims = [
      { Name: 'Stack', Value: example.stack.stackName },
      { Name: 'Table', Value: 'orders' },
    ];
    expect(fresh.Dimensions).toEqual(tableDims);
    const waiting = byMetric(example, 'OldestUnfinishedAge');
    expect(waiting.Namespace).toBe('sluice');
    expect(waiting.Statistic).toBe('Maximum');
    expect(waiting.Threshold).toBe(3600_000);
    expect(waiting.Period).toBe(3600); // published once per reconcile run, hourly
    expect(waiting.Dimensions).toEqual(tableDims);
    expect(waiting.AlarmDescription).toContain('sluice reconcile --aws --table orders');
    for (const metric of ['Errors', 'Throttles']) {
      const per = alarms(example).filter((a) => a.MetricName === metric);
      expect(per.map((a) => a.Dimensions[0].Value.Ref).sort()).toEqual(FUNCTIONS.map((f) => fnId(example, f)).sort());
    }
    // The arrival rule, the reconcile schedule, the maintain schedule and the outbox's rule.
    const failedInvocations = alarms(example).filter((a) => a.MetricName === 'FailedInvocations');
    expect(failedInvocations).toHaveLength(4);
    for (const a of failedInvocations) expect(a.Namespace).toBe('AWS/Events');
    for (const a of alarms(example)) {
      if (!['EventToCommitLag', 'OldestUnfinishedAge'].includes(a.MetricName)) expect(a.Threshold).toBe(0);
      expect(a.ComparisonOperator).toBe('GreaterThanThreshold');
      expect(a.TreatMissingData).toBe('notBreaching');
      expect(a.AlarmActions).toBeUndefined();
    }
    expect(resourcesOfType(example.json, 'AWS::SNS::Topic')).toHaveLength(0);
    // A table's own freshness wins; one without takes the stack's.
    const mixed = synth({
      configPath: writeConfig(TWO_TABLES.replace('contract = "orders.schema.json"', 'contract = "orders.schema.json"\nfreshness = "15m"'), [
        'orders.schema.json',
        'schemas/returns.schema.json',
      ]),
      freshnessThreshold: Duration.minutes(10),
      reconcileEvery: Duration.minutes(30),
    });
    const thresholds = (metric: string) =>
      Object.fromEntries(
        alarms(mixed)
          .filter((a) => a.MetricName === metric)
          .map((a) => [a.Dimensions[1].Value, [a.Threshold, a.Period]]),
      );
    expect(thresholds('EventToCommitLag')).toEqual({ orders: [900_000, 300], returns: [600_000, 300] });
    expect(thresholds('OldestUnfinishedAge')).toEqual({ orders: [900_000, 1800], returns: [600_000, 1800] });
  });

  it('are on one dashboard with the metrics an on-call engineer reads', () => {
    const boards = resourcesOfType(example.json, 'AWS::CloudWatch::Dashboard');
    expect(boards).toHaveLength(1);
    const body = JSON.stringify(boards[0][1].Properties.DashboardBody);
    for (const m of ['ExecutionsFailed', 'RowsCommitted', 'FilesQuarantined', 'EventToCommitLag', 'Throttles', 'Duration']) {
      expect(body).toContain(m);
    }
    expect(body).toContain('alarm');
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
  it('keep every log group for 30 days, one group per function, one per state machine and the webhook\'s access log', () => {
    const groups = resourcesOfType(example.json, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(FUNCTIONS.length + 3);
    for (const [, g] of groups) {
      expect(g.Properties.RetentionInDays).toBe(30);
      expect(g.DeletionPolicy).toBe('Retain');
    }
    const used = FUNCTIONS.map((n) => example.json.Resources[fnId(example, n)].Properties.LoggingConfig.LogGroup.Ref);
    expect(new Set(used).size).toBe(FUNCTIONS.length);
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
  let backfillRole: string;
  beforeAll(() => {
    statements = allStatements(example.json);
    const sm = example.json.Resources[smId(example)];
    smRole = sm.Properties.RoleArn['Fn::GetAtt'][0];
    backfillRole = example.json.Resources[backfillId(example)].Properties.RoleArn['Fn::GetAtt'][0];
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

  it('grants a bare `*` resource only for the listed X-Ray and log-delivery actions, to the state machines', () => {
    const star = statements.filter((x) => x.effect === 'Allow' && x.resources.includes('*'));
    expect(star.length).toBeGreaterThan(0);
    for (const s of star) {
      expect(s.roles.length, s.source).toBe(1);
      expect([smRole, backfillRole], s.source).toContain(s.roles[0]);
      for (const a of s.actions) expect(STAR_RESOURCE_EXCEPTIONS.has(a), a).toBe(true);
    }
  });

  it('gives each function a role of its own, with no managed policies', () => {
    const roles = FUNCTIONS.map((n) => example.json.Resources[fnId(example, n)].Properties.Role['Fn::GetAtt'][0]);
    expect(new Set(roles).size).toBe(FUNCTIONS.length);
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
    events: '.sluice/quarantine/_events/7d1f2b9e.json',
    watermark: '.sluice/watermarks/shop.orders.json',
    identity: '.sluice/tables/shop.orders.json',
    backfillManifest: '.sluice/backfill/7d1f2b9e/arrivals.jsonl',
    otherIdentity: '.sluice/tables/shop.other.json',
    contract: '.sluice/contracts/shop.orders/v000002.json',
    outbox: '.sluice/outbox/e0123456789abcdef0123456789abcde.json',
    webhookBody: 'orders/webhook/3f0c0123456789abcdef0123.ndjson',
    streamObject: 'orders/stream/kinesis/clicks/shardId-000000000000/00000000000000000001-00000000000000000009.ndjson',
    streamCheckpoint: '.sluice/streams/shop.orders/kinesis/clicks/shardId-000000000000/checkpoint.json',
    streamIndex: '.sluice/streams/shop.orders/kinesis/clicks/shardId-000000000000/00000000000000000001-00000000000000000009.json',
  } as const;
  type Key = keyof typeof KEYS;
  // Webhook bodies and stream objects are arrivals of their table, read as any other.
  const ARRIVALS: Key[] = ['arrival', 'webhookBody', 'streamObject'];
  const MATRIX: Record<(typeof FUNCTIONS)[number], Partial<Record<'get' | 'put' | 'delete', Key[]>>> = {
    // outbox: the FileCommitted event of a committed version a duplicate delivery finds.
    filter: { get: [...ARRIVALS, 'ledger', 'keyHead'], put: ['ledger', 'keyHead', 'outbox'] },
    // contract: the first execution after a deploy changed the contract records it.
    'schema-drift-detect': {
      get: [...ARRIVALS, 'ledger', 'metadata', 'identity', 'contract'],
      put: ['ledger', 'metadata', 'identity', 'contract'],
    },
    validate: {
      get: [...ARRIVALS, 'ledger', 'metadata', 'identity', 'contract'],
      put: ['ledger', 'data', 'metadata', 'staged', 'rejects', 'outbox'],
      delete: ['data'],
    },
    quarantine: { get: ['ledger', 'contract'], put: ['ledger', 'quarantine', 'unrouted', 'events', 'outbox'] },
    commit: {
      get: ['ledger', 'staged', 'data', 'metadata', 'identity'],
      put: ['ledger', 'metadata', 'identity', 'outbox'],
      delete: ['staged', 'quarantine'],
    },
    reconcile: {
      get: ['ledger', 'keyHead', 'watermark', 'metadata', 'identity'],
      put: ['keyHead', 'watermark', 'backfillManifest', 'outbox'],
    },
    // Compaction (data, metadata), expiry (metadata, identity) and gc (data files, staged
    // manifests).
    maintain: {
      get: ['ledger', 'staged', 'data', 'metadata', 'identity'],
      put: ['data', 'metadata', 'identity'],
      delete: ['staged', 'data', 'metadata'],
    },
    // The outbox record an S3 event names, put on the sluice bus.
    publish: { get: ['outbox'] },
    // The body it writes (read back on a repeated Idempotency-Key); GET /arrivals reads the
    // ledger; ArrivalReceived.
    receive: { get: ['webhookBody', 'ledger'], put: ['webhookBody', 'outbox'] },
    // A batch's object, its checkpoint and index; ArrivalReceived.
    stream: {
      get: ['streamObject', 'streamCheckpoint', 'streamIndex'],
      put: ['streamObject', 'streamCheckpoint', 'streamIndex', 'outbox'],
    },
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

  it('grants every family of control keys Rust writes (cdk/lib/control-layout.json) to some function', () => {
    const bucketArn = `arn:${bucketId(example)}`;
    const families = Object.entries(CONTROL_LAYOUT);
    expect(families.length).toBeGreaterThanOrEqual(9);
    // Written by an operator's `sluice --aws` only (the decisions on drift), never by a function.
    const byPeople = ['drift_decisions'];
    for (const [family, pattern] of families) {
      const key = pattern.replace('{namespace}', 'shop').replace('{table}', 'orders').replace('*', 'x/y.json');
      const writers = FUNCTIONS.filter((fn) =>
        roleAllows(statements, roleId(example, fn), 's3:PutObject', `${bucketArn}/${key}`),
      );
      if (byPeople.includes(family)) {
        expect(writers, `${family} (${key}): only people decide`).toEqual([]);
      } else {
        expect(writers.length, `${family} (${key}): no function may write it`).toBeGreaterThan(0);
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
    // Validate evolves a table's schema (new fields of accepted rows, lineage columns).
    expect(can('validate', 'glue:UpdateTable', 'table/shop/orders')).toBe(true);
    expect(can('validate', 'glue:UpdateTable', 'table/shop/other')).toBe(false);
    expect(can('validate', 'glue:CreateTable', 'table/shop/orders')).toBe(false);
    // Reconcile loads each table (the identity guard) before it lists the table's prefix.
    expect(can('reconcile', 'glue:GetTable', 'table/shop/orders')).toBe(true);
    expect(can('reconcile', 'glue:UpdateTable', 'table/shop/orders')).toBe(false);
    for (const fn of ['filter', 'quarantine'] as const) {
      expect(can(fn, 'glue:GetTable', 'table/shop/orders'), fn).toBe(false);
    }
  });

  it('lets the state machine only invoke the five step functions', () => {
    const mine = statements.filter((s) => s.roles.includes(smRole) && !s.resources.includes('*'));
    const actions = new Set(mine.flatMap((s) => s.actions));
    expect([...actions]).toEqual(['lambda:InvokeFunction']);
    for (const fn of FUNCTIONS) {
      const arn = `arn:${fnId(example, fn)}`;
      expect(roleAllows(statements, smRole, 'lambda:InvokeFunction', arn), fn).toBe(fn in STEP_FUNCTIONS);
    }
  });

  it('lets reconcile (and the rules) start executions of this stack\'s state machines only', () => {
    const sm = `ref:${smId(example)}`;
    const backfill = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:SluiceTest-backfill`;
    const reconcile = roleId(example, 'reconcile');
    expect(roleAllows(statements, reconcile, 'states:StartExecution', sm)).toBe(true);
    expect(roleAllows(statements, reconcile, 'states:StartExecution', backfill)).toBe(true);
    expect(roleAllows(statements, reconcile, 'states:StartExecution', 'ref:Other')).toBe(false);
    expect(roleAllows(statements, reconcile, 'states:StopExecution', `${sm}:x`)).toBe(false);
    for (const fn of FUNCTIONS.filter((f) => f !== 'reconcile')) {
      expect(roleAllows(statements, roleId(example, fn), 'states:StartExecution', sm), fn).toBe(false);
      expect(roleAllows(statements, roleId(example, fn), 'states:StartExecution', backfill), fn).toBe(false);
    }
    // The backfill state machine's own grants are in describe('backfill state machine').
    const starters = statements.filter(
      (s) => !s.roles.includes(backfillRole) && s.actions.some((a) => a.startsWith('states:')),
    );
    for (const s of starters) {
      expect(s.actions, s.source).toEqual(['states:StartExecution']);
      if (s.roles.includes(reconcile)) expect([[sm], [backfill]], s.source).toContainEqual(s.resources);
      else expect(s.resources, s.source).toEqual([sm]);
    }
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

describe('lifecycle', () => {
  const rules = (s: Synth): Record<string, any> => {
    const [, bucket] = resourcesOfType(s.json, 'AWS::S3::Bucket')[0];
    return Object.fromEntries(
      (bucket.Properties.LifecycleConfiguration.Rules as any[]).map((r) => [r.Id, r]),
    );
  };

  it('aborts incomplete uploads, expires old control and warehouse versions, and rejected rows', () => {
    const r = rules(example);
    expect(r.AbortIncompleteUploads.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 1 });
    expect(r.AbortIncompleteUploads.Prefix).toBeUndefined();
    expect(r.ControlPrefixVersions.Prefix).toBe('.sluice/');
    expect(r.ControlPrefixVersions.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 7 });
    expect(r.ControlPrefixVersions.ExpirationInDays).toBeUndefined(); // current records stay
    expect(r.RejectedRows.Prefix).toBe('.sluice/rejects/');
    expect(r.RejectedRows.ExpirationInDays).toBe(30);
    expect(r.WarehouseVersions.Prefix).toBe('warehouse/');
    expect(r.WarehouseVersions.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 7 });
    for (const rule of Object.values(r)) expect(rule.Status).toBe('Enabled');
    // The tables' own prefixes keep every version: a replay reads the version it names.
    for (const rule of Object.values(r)) expect(rule.Prefix ?? '').not.toBe('orders/');
  });

  it('takes its retention from the props, and refuses what is not a number of days', () => {
    const r = rules(synth({ controlVersionsDays: 3, rejectsRetentionDays: 90, warehouseVersionsDays: 14 }));
    expect(r.ControlPrefixVersions.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 3 });
    expect(r.RejectedRows.ExpirationInDays).toBe(90);
    expect(r.WarehouseVersions.NoncurrentVersionExpiration).toEqual({ NoncurrentDays: 14 });
    expect(() => synth({ rejectsRetentionDays: 0 })).toThrow(/rejectsRetentionDays 0 must be a whole number of days/);
  });
});

describe('customer-managed key', () => {
  let k: Synth;
  beforeAll(() => {
    k = synth({ customerManagedKey: true, alarmEmail: 'ops@example.com' });
  });
  const keyId = () => logicalIdOf(k.stack, k.stack.encryptionKey!);

  it('is made only when asked for, rotated and retained', () => {
    expect(resourcesOfType(example.json, 'AWS::KMS::Key')).toHaveLength(0);
    const keys = resourcesOfType(k.json, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    expect(keys[0][1].Properties.EnableKeyRotation).toBe(true);
    expect(keys[0][1].DeletionPolicy).toBe('Retain');
  });

  it('encrypts the bucket, the queues, the alarm topic and every log group', () => {
    const ref = { 'Fn::GetAtt': [keyId(), 'Arn'] };
    const [, bucket] = resourcesOfType(k.json, 'AWS::S3::Bucket')[0];
    const sse = bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0];
    expect(sse.ServerSideEncryptionByDefault).toEqual({ SSEAlgorithm: 'aws:kms', KMSMasterKeyID: ref });
    expect(sse.BucketKeyEnabled).toBe(true);
    for (const [, q] of resourcesOfType(k.json, 'AWS::SQS::Queue')) {
      expect(q.Properties.KmsMasterKeyId).toEqual(ref);
    }
    for (const [, t] of resourcesOfType(k.json, 'AWS::SNS::Topic')) {
      expect(t.Properties.KmsMasterKeyId).toEqual(ref);
    }
    const groups = resourcesOfType(k.json, 'AWS::Logs::LogGroup');
    expect(groups.length).toBe(FUNCTIONS.length + 3);
    for (const [, g] of groups) expect(g.Properties.KmsKeyId).toEqual(ref);
  });

  it('lets each role, EventBridge, CloudWatch and CloudWatch Logs use it, and nothing else', () => {
    for (const f of FUNCTIONS) {
      const ok = allStatements(k.json).some(
        (st: Statement) =>
          st.roles.includes(roleId(k, f)) &&
          st.actions.includes('kms:Decrypt') &&
          st.resources.includes(`arn:${keyId()}`),
      );
      expect(ok, f).toBe(true);
    }
    const [, key] = resourcesOfType(k.json, 'AWS::KMS::Key')[0];
    const services = (key.Properties.KeyPolicy.Statement as any[])
      .map((st) => st.Principal?.Service)
      .filter(Boolean)
      .map((x: any) => JSON.stringify(x));
    expect(services.some((x: string) => x.includes('events.amazonaws.com'))).toBe(true);
    expect(services.some((x: string) => x.includes('cloudwatch.amazonaws.com'))).toBe(true);
    expect(services.some((x: string) => x.includes('logs.'))).toBe(true);
  });
});
