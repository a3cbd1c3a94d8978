// The state machines as deployed: ingest (statemachine/ingest.asl.json) and backfill
// (statemachine/backfill.asl.json), each definition as it is in the repository with its
// placeholders filled, and what the backfill machine's role may do.

import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import { REPO_ROOT, STEP_FUNCTIONS, SluiceStack, TASK_HEADROOM_SECONDS } from '../lib/sluice-stack';
import {
  ACCOUNT,
  FUNCTIONS,
  REGION,
  Synth,
  allStatements,
  backfillId,
  bucketId,
  dummyCodeDir,
  fnId,
  render,
  resourcesOfType,
  roleAllows,
  roleId,
  smId,
  synth,
  tempDir,
} from './helpers';

const DEFINITION = path.join(REPO_ROOT, 'statemachine', 'ingest.asl.json');

let example: Synth;
beforeAll(() => {
  example = synth();
});

describe('state machine', () => {
  const machine = (s: Synth) => {
    // Two: ingest and backfill (describe('backfill state machine')).
    expect(resourcesOfType(s.json, 'AWS::StepFunctions::StateMachine')).toHaveLength(2);
    const ingest = s.json.Resources[smId(s)];
    expect(ingest.Type).toBe('AWS::StepFunctions::StateMachine');
    return ingest.Properties;
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
      // A removal under on_delete = "delete": the commit function retracts its rows.
      Retract: `arn:${fnId(example, 'commit')}`,
      Quarantine: `arn:${fnId(example, 'quarantine')}`,
    });
  });

  it('gives each function a timeout at least 30 s shorter than its Task\'s, so its own timeout is what the Task sees', () => {
    const { definition } = rendered(example);
    for (const [, st] of Object.entries(definition.States as Record<string, any>)) {
      if (st.Type !== 'Task') continue;
      const id = (st.Resource as string).slice('arn:'.length);
      const fn = example.json.Resources[id];
      expect(TASK_HEADROOM_SECONDS).toBeGreaterThanOrEqual(30);
      expect(fn.Properties.Timeout + TASK_HEADROOM_SECONDS).toBeLessThanOrEqual(st.TimeoutSeconds);
    }
  });

  it('handles a crashed or timed-out invocation deliberately: retried for the small steps, not for the readers', () => {
    const { definition } = rendered(example);
    const retried = (state: string) =>
      (definition.States[state].Retry as any[]).some((r) => r.ErrorEquals.includes('Sandbox.Timedout'));
    for (const state of ['Filter', 'Commit', 'Quarantine']) expect(retried(state)).toBe(true);
    for (const state of ['DetectDrift', 'Validate']) {
      expect(retried(state)).toBe(false);
      expect(definition.States[state].Comment).toContain('Sandbox.Timedout');
    }
    // Throttling of a capped validate is waited out, not failed after a minute.
    const throttled = (definition.States.Validate.Retry as any[]).find((r) =>
      r.ErrorEquals.includes('Lambda.TooManyRequestsException'),
    );
    expect(throttled.MaxAttempts).toBeGreaterThanOrEqual(20);
  });
});

describe('backfill state machine', () => {
  const BACKFILL = path.join(REPO_ROOT, 'statemachine', 'backfill.asl.json');
  const machine = (s: Synth) => s.json.Resources[backfillId(s)].Properties;
  const backfillArn = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:SluiceTest-backfill`;

  /** The definition as Step Functions will see it: a function `arn:<id>`, a machine `ref:<id>`. */
  const rendered = (s: Synth): { text: string; definition: any } => {
    const p = machine(s);
    const subs = p.DefinitionSubstitutions as Record<string, any>;
    const text = (p.DefinitionString as string).replace(/\$\{([A-Za-z0-9]+)\}/g, (whole, name: string) => {
      const v = subs[name];
      if (!v) return whole;
      return v.Ref ? `ref:${v.Ref}` : `arn:${v['Fn::GetAtt'][0]}`;
    });
    return { text, definition: JSON.parse(text) };
  };

  it('is STANDARD, named after the stack, logs errors without execution data to its own group, traces', () => {
    const p = machine(example);
    expect(p.StateMachineName).toBe('SluiceTest-backfill');
    expect(p.StateMachineType).toBe('STANDARD');
    expect(p.LoggingConfiguration.Level).toBe('ERROR');
    expect(p.LoggingConfiguration.IncludeExecutionData).toBe(false);
    const lg = p.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    const ingestLg = example.json.Resources[smId(example)].Properties.LoggingConfiguration.Destinations[0]
      .CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    expect(example.json.Resources[lg].Type).toBe('AWS::Logs::LogGroup');
    expect(lg).not.toBe(ingestLg);
    expect(example.json.Resources[lg].Properties.LogGroupName).toBe('/aws/vendedlogs/states/SluiceTest-backfill');
    expect(p.TracingConfiguration).toEqual({ Enabled: true });
  });

  it('deploys statemachine/backfill.asl.json as it is in the repository, every placeholder filled', () => {
    expect(machine(example).DefinitionString).toBe(fs.readFileSync(BACKFILL, 'utf8'));
    const { text } = rendered(example);
    expect(text).not.toContain('${');
  });

  it('plans with the reconcile function, then starts one ingest execution per manifest line in a Distributed Map', () => {
    const { definition } = rendered(example);
    // Request, FromPrefix and WholeTable give the input a prefix and no continuation;
    // AnythingToStart skips an empty part; More plans the next part while there is one.
    const plan = definition.States.Plan;
    expect(plan.Parameters.backfill['continuation.$']).toBe('$.continuation');
    expect(plan.Type).toBe('Task');
    expect(plan.Resource).toBe(`arn:${fnId(example, 'reconcile')}`);
    expect(plan.Parameters.backfill['execution.$']).toBe('$$.Execution.Name');
    const anything = definition.States[plan.Next];
    expect(anything.Type).toBe('Choice');
    const map = definition.States[anything.Choices[0].Next];
    expect(map.Type).toBe('Map');
    expect(map.ItemProcessor.ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
    expect(map.ItemReader).toEqual({
      Resource: 'arn:aws:states:::s3:getObject',
      ReaderConfig: { InputType: 'JSONL' },
      Parameters: { 'Bucket.$': '$.bucket', 'Key.$': '$.manifest' },
    });
    expect(map.MaxConcurrency).toBeGreaterThan(0);
    expect(map.ToleratedFailurePercentage).toBeGreaterThanOrEqual(0);
    const tasks = Object.values(map.ItemProcessor.States as Record<string, any>).filter((st) => st.Type === 'Task');
    expect(tasks).toHaveLength(1);
    const [start] = tasks;
    expect(start.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect(start.Parameters).toEqual({
      StateMachineArn: `ref:${smId(example)}`,
      'Name.$': '$.name',
      'Input.$': '$.input',
    });
    // Started before (same name): that arrival is done, not failed.
    const caught = (start.Catch as any[]).find((c) =>
      c.ErrorEquals.includes('StepFunctions.ExecutionAlreadyExistsException'),
    );
    expect(map.ItemProcessor.States[caught.Next].Type).toBe('Succeed');
    // Part after part: the Map keeps the plan as its state and More loops to Plan.
    expect(map.ResultPath).toBeNull();
    const more = definition.States[map.Next];
    expect(more.Choices).toEqual([{ Variable: '$.continuation', IsNull: false, Next: 'Plan' }]);
    expect(anything.Default).toBe(map.Next);
    for (const first of ['FromPrefix', 'WholeTable']) {
      expect(definition.States[first].Parameters.continuation).toBeNull();
      expect(definition.States[first].Next).toBe('Plan');
    }
  });

  it('has a role that does what the definition needs and nothing wider', () => {
    const statements = allStatements(example.json);
    const role = example.json.Resources[backfillId(example)].Properties.RoleArn['Fn::GetAtt'][0];
    const can = (action: string, resource: string) => roleAllows(statements, role, action, resource);
    const bucket = `arn:${bucketId(example)}`;
    const ingest = `ref:${smId(example)}`;
    const ingestExecution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:Name:${smId(example)}:abc`;
    const childExecution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:SluiceTest-backfill/Arrivals:abc`;
    const syncRule = `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;
    // Plan
    expect(can('lambda:InvokeFunction', `arn:${fnId(example, 'reconcile')}`)).toBe(true);
    for (const fn of FUNCTIONS.filter((f) => f !== 'reconcile')) {
      expect(can('lambda:InvokeFunction', `arn:${fnId(example, fn)}`), fn).toBe(false);
    }
    // The manifest, and nothing else in the bucket
    expect(can('s3:GetObject', `${bucket}/.sluice/backfill/exec-1/arrivals.jsonl`)).toBe(true);
    expect(can('s3:GetObjectVersion', `${bucket}/.sluice/backfill/exec-1/arrivals.jsonl`)).toBe(false);
    expect(can('s3:PutObject', `${bucket}/.sluice/backfill/exec-1/arrivals.jsonl`)).toBe(false);
    expect(can('s3:GetObject', `${bucket}/.sluice/ledger/ab/record.json`)).toBe(false);
    expect(can('s3:GetObject', `${bucket}/orders/2026/03/01.ndjson`)).toBe(false);
    // startExecution.sync:2 of ingest
    expect(can('states:StartExecution', ingest)).toBe(true);
    expect(can('states:DescribeExecution', ingestExecution)).toBe(true);
    expect(can('states:StopExecution', ingestExecution)).toBe(true);
    for (const a of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) expect(can(a, syncRule), a).toBe(true);
    expect(can('events:PutRule', `arn:aws:events:${REGION}:${ACCOUNT}:rule/Other`)).toBe(false);
    // The Distributed Map's child workflows
    expect(can('states:StartExecution', backfillArn)).toBe(true);
    expect(can('states:DescribeExecution', childExecution)).toBe(true);
    expect(can('states:StopExecution', childExecution)).toBe(true);
    expect(can('states:StartExecution', `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Other`)).toBe(false);
    // Nothing wider: the actions on named resources are exactly these.
    const named = statements.filter((s) => s.roles.includes(role) && !s.resources.includes('*'));
    expect([...new Set(named.flatMap((s) => s.actions))].sort()).toEqual(
      [
        'events:DescribeRule',
        'events:PutRule',
        'events:PutTargets',
        'lambda:InvokeFunction',
        's3:GetObject',
        'states:DescribeExecution',
        'states:StartExecution',
        'states:StopExecution',
      ].sort(),
    );
  });

  // Built from the fixed name, not a reference: the backfill machine calls reconcile, so a
  // reference would be a dependency cycle (Template.fromStack, in synth(), refuses one).
  it('is what reconcile starts: its ARN in SLUICE_BACKFILL_STATE_MACHINE_ARN, which the role allows', () => {
    const env = example.json.Resources[fnId(example, 'reconcile')].Properties.Environment.Variables;
    expect(render(env.SLUICE_BACKFILL_STATE_MACHINE_ARN)).toBe(backfillArn);
    expect(backfillArn.endsWith(`:stateMachine:${machine(example).StateMachineName}`)).toBe(true);
    const statements = allStatements(example.json);
    expect(roleAllows(statements, roleId(example, 'reconcile'), 'states:StartExecution', backfillArn)).toBe(true);
    example.template.hasOutput('BackfillStateMachineArn', { Value: { Ref: backfillId(example) } });
  });

  it('refuses a stack name that would make its name longer than Step Functions allows', () => {
    expect(() =>
      new SluiceStack(new App({ outdir: tempDir('out') }), 'S'.repeat(72), {
        config: loadConfig(path.join(REPO_ROOT, 'examples', 'orders', 'sluice.toml')),
        lambdaCodeDir: dummyCodeDir(),
      }),
    ).toThrow(/longer than 80 characters; choose a stack name of at most 71/);
  });
});
