// Outbound events (outbound.ts): the outbox's S3 events go to the publish function, which
// puts each event on the stack's own bus; every event type has its schema in the registry.

import * as fs from 'fs';
import * as path from 'path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../lib/sluice-stack';
import { OUTBOX_DAYS } from '../lib/outbound';
import { Synth, allStatements, bucketId, fnId, logicalIdOf, resourcesOfType, roleId, synth } from './helpers';

let example: Synth;
beforeAll(() => {
  example = synth();
});

describe('outbound events', () => {
  it('send each outbox record the steps write to the publish function, retried, then to their own queue', () => {
    const rules = resourcesOfType(example.json, 'AWS::Events::Rule').filter(
      ([, r]) => r.Properties.EventPattern?.detail?.object?.key?.[0]?.prefix === '.sluice/outbox/',
    );
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0];
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [{ Ref: bucketId(example) }] }, object: { key: [{ prefix: '.sluice/outbox/' }] } },
    });
    expect(rule.Properties.EventBusName).toBeUndefined(); // S3's events are on the default bus
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': [fnId(example, 'publish'), 'Arn'] });
    expect(target.RetryPolicy.MaximumRetryAttempts).toBe(185);
    expect(target.DeadLetterConfig).toEqual({
      Arn: { 'Fn::GetAtt': [logicalIdOf(example.stack, example.stack.eventDeadLetterQueue), 'Arn'] },
    });
  });

  it('put them on the stack\'s own bus, which only the publish function may put on', () => {
    const bus = logicalIdOf(example.stack, example.stack.eventBus);
    expect(example.json.Resources[bus].Type).toBe('AWS::Events::EventBus');
    const env = example.json.Resources[fnId(example, 'publish')].Properties.Environment.Variables;
    expect(env.SLUICE_EVENT_BUS).toEqual({ Ref: bus });
    const putters = allStatements(example.json).filter((s) => s.actions.includes('events:PutEvents'));
    expect(putters.map((s) => s.roles)).toEqual([[roleId(example, 'publish')]]);
    expect(putters[0].resources).toEqual([`arn:${bus}`]);
  });

  it('describe every event type in the schema registry, from schemas/events/', () => {
    const files = fs.readdirSync(path.join(REPO_ROOT, 'schemas', 'events')).sort();
    expect(files).toEqual([
      'ArrivalReceived.v1.json',
      'FileCommitted.v1.json',
      'FileQuarantined.v1.json',
      'SchemaDriftPending.v1.json',
      'SchemaEvolved.v1.json',
      'WatermarkAdvanced.v1.json',
    ]);
    const [[registry]] = resourcesOfType(example.json, 'AWS::EventSchemas::Registry');
    const schemas = resourcesOfType(example.json, 'AWS::EventSchemas::Schema').map(([, s]) => s.Properties);
    expect(schemas.map((s) => s.SchemaName).sort()).toEqual(files.map((f) => `sluice@${f.split('.')[0]}`).sort());
    for (const s of schemas) {
      expect(s.Type).toBe('JSONSchemaDraft4');
      expect(s.RegistryName).toEqual({ 'Fn::GetAtt': [registry, 'RegistryName'] });
      const file = `${s.SchemaName.replace('sluice@', '')}.v1.json`;
      expect(JSON.parse(s.Content)).toEqual(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'schemas', 'events', file), 'utf8')));
      expect(JSON.parse(s.Content).$schema).toBe('http://json-schema.org/draft-04/schema#');
    }
  });

  it('keep the outbox a month in the bucket', () => {
    const rules = example.json.Resources[bucketId(example)].Properties.LifecycleConfiguration.Rules;
    const outbox = rules.find((r: any) => r.Id === 'Outbox');
    expect(outbox).toMatchObject({ Prefix: '.sluice/outbox/', ExpirationInDays: OUTBOX_DAYS, Status: 'Enabled' });
  });
});

describe('knowledge base sync (optional)', () => {
  it('is not there unless asked for', () => {
    expect(resourcesOfType(example.json, 'AWS::StepFunctions::StateMachine')).toHaveLength(2);
  });

  it('starts an ingestion job of the data source on each FileCommitted of the listed tables, the event id its client token', () => {
    const s = synth({ knowledgeBaseSync: { knowledgeBaseId: 'KB12345678', dataSourceId: 'DS12345678', tables: ['orders'] } });
    const bus = logicalIdOf(s.stack, s.stack.eventBus);
    const rules = resourcesOfType(s.json, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventBusName);
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0];
    expect(rule.Properties.EventBusName).toEqual({ Ref: bus });
    expect(rule.Properties.EventPattern).toEqual({
      source: ['sluice'],
      'detail-type': ['FileCommitted'],
      detail: { table: ['orders'] },
    });
    const sm = logicalIdOf(s.stack, s.stack.knowledgeBaseSync!.stateMachine);
    expect(rule.Properties.Targets[0].Arn).toEqual({ Ref: sm });
    const definition = JSON.stringify(s.json.Resources[sm].Properties.DefinitionString);
    expect(definition).toContain('arn:');
    expect(definition).toContain(':states:::aws-sdk:bedrockagent:startIngestionJob');
    expect(definition).toContain('\\"ClientToken.$\\":\\"$.detail.id\\"');
    expect(definition).toContain('BedrockAgent.ConflictException');
    const starts = allStatements(s.json).filter((st) => st.actions.includes('bedrock:StartIngestionJob'));
    expect(starts).toHaveLength(1);
    expect(starts[0].resources).toEqual([`arn:aws:bedrock:eu-west-1:123456789012:knowledge-base/KB12345678`]);
  });

  it('refuses an id that is not Bedrock\'s and a table sluice.toml lacks', () => {
    expect(() => synth({ knowledgeBaseSync: { knowledgeBaseId: 'kb', dataSourceId: 'DS12345678' } })).toThrow(/not a Bedrock id/);
    expect(() =>
      synth({ knowledgeBaseSync: { knowledgeBaseId: 'KB12345678', dataSourceId: 'DS12345678', tables: ['refunds'] } }),
    ).toThrow(/names table refunds/);
  });
});
