// The IAM matrix of cdk/lib/access.ts against the synthesised template: every row of the table
// becomes statements on its role, and no statement on any of those roles exists that the table
// does not explain. The expansion of a row into (action, resource) pairs is written out here
// again, in the rendered form of helpers.ts, so that a slip in grantAccess shows up as a
// difference and not as the same mistake on both sides.

import { beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS,
  Access,
  CONTROL_LAYOUT,
  DATA_PREFIXES,
  GLUE_OPTIMIZER_ACTIONS,
  KMS_ACTIONS,
  LOG_DELIVERY_AND_TRACING_ACTIONS,
  LOG_WRITE_ACTIONS,
  Principal,
  S3_ACTIONS,
  SYNC_RULE_ACTIONS,
} from '../lib/access';
import { TableSpec } from '../lib/config';
import {
  ACCOUNT,
  FUNCTIONS,
  REGION,
  Synth,
  allStatements,
  logicalIdOf,
  optimizersConfig,
  synth,
  twoTablesConfig,
} from './helpers';

type FunctionName = (typeof FUNCTIONS)[number];
const isFunction = (p: Principal): p is FunctionName => (FUNCTIONS as readonly string[]).includes(p);

/** The logical id of a principal's role. */
function roleOf(s: Synth, p: Principal): string {
  if (isFunction(p)) return logicalIdOf(s.stack, s.stack.roles[p]);
  const machine = s.json.Resources[workflowId(s, p)];
  return machine.Properties.RoleArn['Fn::GetAtt'][0];
}

function workflowId(s: Synth, w: Exclude<Principal, FunctionName>): string {
  const machines = { ingest: s.stack.stateMachine, backfill: s.stack.backfillStateMachine };
  return logicalIdOf(s.stack, machines[w]);
}

/** `{namespace}`, `{table}`, `{prefix}`, `{warehouse}` filled in per table. */
function keys(pattern: string, tables: readonly TableSpec[]): string[] {
  if (!pattern.includes('{')) return [pattern];
  return tables.map((t) =>
    pattern
      .split('{warehouse}').join('warehouse/')
      .split('{prefix}').join(t.prefix)
      .split('{namespace}').join(t.namespace)
      .split('{table}').join(t.name),
  );
}

/** What a row allows, as `action resource [condition]` strings in helpers.render's form. */
function expectedPairs(s: Synth, p: Principal, withKey: boolean): string[] {
  const row: Access = ACCESS[p];
  const tables = s.stack.tables;
  const bucket = `arn:${logicalIdOf(s.stack, s.stack.bucket)}`;
  const out: string[] = [];
  const add = (actions: readonly string[], resources: string[], condition?: unknown) => {
    for (const a of actions) {
      for (const r of resources) out.push(condition ? `${a} ${r} ${JSON.stringify(condition)}` : `${a} ${r}`);
    }
  };
  for (const use of Object.keys(S3_ACTIONS) as (keyof typeof S3_ACTIONS)[]) {
    const patterns = [
      ...(row.control?.[use] ?? []).map((f) => CONTROL_LAYOUT[f]),
      ...(row.data?.[use] ?? []).map((d) => DATA_PREFIXES[d]),
    ];
    add(S3_ACTIONS[use], patterns.flatMap((pattern) => keys(pattern, tables)).map((k) => `${bucket}/${k}`));
  }
  if (row.listBucket) add(['s3:ListBucket'], [bucket]);
  if (row.listVersionsUnderTablePrefixes) {
    add(['s3:ListBucketVersions'], [bucket], { StringLike: { 's3:prefix': tables.map((t) => `${t.prefix}*`) } });
  }
  if (row.glue) {
    const glue = (name: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:${name}`;
    add(row.glue, [
      glue('catalog'),
      ...[...new Set(tables.map((t) => t.namespace))].map((ns) => glue(`database/${ns}`)),
      ...tables.map((t) => glue(`table/${t.namespace}/${t.name}`)),
    ]);
  }
  const optimized = tables.filter((t) => t.glueOptimizers);
  if (row.glueOptimizers && optimized.length > 0) {
    const glue = (name: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:${name}`;
    add(GLUE_OPTIMIZER_ACTIONS, [
      glue('catalog'),
      ...[...new Set(optimized.map((t) => t.namespace))].map((ns) => glue(`database/${ns}`)),
      ...optimized.map((t) => glue(`table/${t.namespace}/${t.name}`)),
    ]);
    add(['iam:PassRole'], [`arn:${logicalIdOf(s.stack, s.stack.glueOptimizerRole!)}`], {
      StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' },
    });
  }
  if (row.ownLogGroup && isFunction(p)) {
    const fn = s.json.Resources[logicalIdOf(s.stack, s.stack.functions[p])];
    add(LOG_WRITE_ACTIONS, [`arn:${fn.Properties.LoggingConfig.LogGroup.Ref}`]);
  }
  if (row.logDeliveryAndTracing) add(LOG_DELIVERY_AND_TRACING_ACTIONS, ['*']);
  if (row.invoke) add(['lambda:InvokeFunction'], row.invoke.map((f) => `arn:${logicalIdOf(s.stack, s.stack.functions[f])}`));
  for (const g of row.states ?? []) {
    const states = `arn:aws:states:${REGION}:${ACCOUNT}`;
    if ('machine' in g.on && g.on.machine === 'ingest') {
      add(g.actions, [`ref:${workflowId(s, 'ingest')}`]);
    } else if ('machine' in g.on) {
      // The backfill machine, by its fixed name (see workflow.ts).
      add(g.actions, [`${states}:stateMachine:SluiceTest-${g.on.machine}`]);
    } else if ('executionsOf' in g.on) {
      expect(g.on.executionsOf).toBe('ingest');
      add(g.actions, [`${states}:execution:Name:${workflowId(s, 'ingest')}:*`]);
    } else {
      add(g.actions, [`${states}:execution:SluiceTest-${g.on.mapRunExecutionsOf}/*`]);
    }
  }
  if (row.syncRule) {
    add(SYNC_RULE_ACTIONS, [`arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`]);
  }
  for (const q of row.sendTo ?? []) {
    const queue = {
      schedule_dead_letters: s.stack.scheduleDeadLetterQueue,
      maintenance_dead_letters: s.stack.maintenanceDeadLetterQueue,
      stream_dead_letters: s.stack.streamDeadLetterQueue,
    }[q];
    add(['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], [`arn:${logicalIdOf(s.stack, queue)}`]);
  }
  if (row.key && withKey) add(KMS_ACTIONS[row.key], [`arn:${logicalIdOf(s.stack, s.stack.encryptionKey!)}`]);
  if (row.putEvents) add(['events:PutEvents'], [`arn:${logicalIdOf(s.stack, s.stack.eventBus)}`]);
  if (row.webhookSecret && s.stack.webhookSecret) {
    add(['secretsmanager:GetSecretValue'], [`ref:${logicalIdOf(s.stack, s.stack.webhookSecret)}`]);
  }
  return [...new Set(out)].sort();
}

/** What the template allows a role, in the same form. */
function actualPairs(s: Synth, role: string): string[] {
  const out = allStatements(s.json)
    .filter((st) => st.roles.includes(role))
    .flatMap((st) => {
      expect(st.effect, st.source).toBe('Allow');
      return st.actions.flatMap((a) =>
        st.resources.map((r) => (st.condition ? `${a} ${r} ${JSON.stringify(st.condition)}` : `${a} ${r}`)),
      );
    });
  return [...new Set(out)].sort();
}

describe('the IAM matrix (access.ts)', () => {
  let example: Synth;
  let two: Synth;
  let withKey: Synth;
  let optimizers: Synth;
  let secret: Synth;
  // One synthesis a hook: each takes seconds.
  beforeAll(() => {
    example = synth();
  });
  beforeAll(() => {
    two = synth({ configPath: twoTablesConfig() });
  });
  beforeAll(() => {
    withKey = synth({ customerManagedKey: true });
  });
  beforeAll(() => {
    optimizers = synth({ configPath: optimizersConfig() });
  });
  beforeAll(() => {
    secret = synth({ configPath: twoTablesConfig(), webhookAuth: 'secret' });
  });

  it('names only control families that control-layout.json has', () => {
    for (const [p, row] of Object.entries(ACCESS)) {
      for (const families of Object.values(row.control ?? {})) {
        for (const f of families ?? []) expect(CONTROL_LAYOUT, `${p}: ${f}`).toHaveProperty(f);
      }
    }
  });

  it('has a row for each function and state machine, each role its own', () => {
    expect(Object.keys(ACCESS).sort()).toEqual([...FUNCTIONS, 'ingest', 'backfill'].sort());
    const roles = (Object.keys(ACCESS) as Principal[]).map((p) => roleOf(example, p));
    expect(new Set(roles).size).toBe(roles.length);
  });

  it.each([
    ['one table', () => example, false],
    ['two tables in two namespaces', () => two, false],
    ['a customer-managed key', () => withKey, true],
    ["a table asking for Glue's optimizers", () => optimizers, false],
    ['a webhook signed with a secret', () => secret, false],
  ])('is exactly what each role may do, with %s', (_, s, key) => {
    for (const p of Object.keys(ACCESS) as Principal[]) {
      const expected = expectedPairs(s(), p, key);
      expect(expected.length, p).toBeGreaterThan(0);
      expect(actualPairs(s(), roleOf(s(), p)), p).toEqual(expected);
    }
  });
});
