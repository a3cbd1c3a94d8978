// What the stack offers and keeps across updates: the outputs the CLI reads, and the logical
// IDs of the resources that hold state.

import { beforeAll, describe, expect, it } from 'vitest';
import {
  FUNCTIONS,
  Synth,
  bucketId,
  dlqId,
  fnId,
  logicalIdOf,
  backfillId,
  render,
  resourcesOfType,
  maintenanceDlqId,
  scheduleDlqId,
  smId,
  synth,
} from './helpers';

let example: Synth;
beforeAll(() => {
  example = synth();
});

describe('outputs', () => {
  // The CLI's `--stack NAME` resolves the stack's resources from these; downstream rules
  // attach to the event bus; senders call the webhook; stream mappings are added to the
  // stream function (webhook-and-streams.test.ts has those).
  it('are exactly the ones the CLI reads, the event bus, the webhook and the stream function, each naming its resource', () => {
    expect(Object.keys(example.json.Outputs).sort()).toEqual(
      [
        'BucketName',
        'StateMachineArn',
        'BackfillStateMachineArn',
        'DeadLetterQueueUrl',
        'ScheduleDeadLetterQueueUrl',
        'DashboardName',
        'ReconcileFunctionName',
        'MaintainFunctionName',
        'MaintenanceDeadLetterQueueUrl',
        'WarehouseLocation',
        'EventBusName',
        'EventBusArn',
        'WebhookUrl',
        'WebhookApiId',
        'WebhookInvokePolicyArn',
        'StreamFunctionName',
        'StreamDeadLetterQueueUrl',
      ].sort(),
    );
    const bus = logicalIdOf(example.stack, example.stack.eventBus);
    example.template.hasOutput('EventBusName', { Value: { Ref: bus } });
    example.template.hasOutput('EventBusArn', { Value: { 'Fn::GetAtt': [bus, 'Arn'] } });
    example.template.hasOutput('BucketName', { Value: { Ref: bucketId(example) } });
    example.template.hasOutput('StateMachineArn', { Value: { Ref: smId(example) } });
    example.template.hasOutput('BackfillStateMachineArn', { Value: { Ref: backfillId(example) } });
    example.template.hasOutput('DeadLetterQueueUrl', { Value: { Ref: dlqId(example) } });
    example.template.hasOutput('ScheduleDeadLetterQueueUrl', { Value: { Ref: scheduleDlqId(example) } });
    example.template.hasOutput('ReconcileFunctionName', { Value: { Ref: fnId(example, 'reconcile') } });
    example.template.hasOutput('MaintainFunctionName', { Value: { Ref: fnId(example, 'maintain') } });
    example.template.hasOutput('MaintenanceDeadLetterQueueUrl', { Value: { Ref: maintenanceDlqId(example) } });
    const dashboard = resourcesOfType(example.json, 'AWS::CloudWatch::Dashboard')[0][0];
    example.template.hasOutput('DashboardName', { Value: { Ref: dashboard } });
  });

  it('give the warehouse as the functions see it (SLUICE_WAREHOUSE)', () => {
    const custom = synth({ warehousePrefix: 'lake/' });
    for (const s of [example, custom]) {
      const warehouse = s.json.Outputs.WarehouseLocation.Value;
      expect(render(warehouse)).toBe(`s3://ref:${bucketId(s)}/${s.stack.warehousePrefix}`);
      for (const fn of FUNCTIONS) {
        expect(s.json.Resources[fnId(s, fn)].Properties.Environment.Variables.SLUICE_WAREHOUSE, fn).toEqual(warehouse);
      }
    }
  });
});

describe('updates', () => {
  it('keep the logical IDs of the stateful resources, so that an update never replaces one', () => {
    // A new logical ID makes CloudFormation create a new resource and drop the old one; the
    // bucket, the key and the log groups are retained, so the stack would go on without them.
    const k = synth({ customerManagedKey: true, alarmEmail: 'ops@example.com' });
    const ids = (type: string) => resourcesOfType(k.json, type).map(([id]) => id).sort();
    expect(ids('AWS::S3::Bucket')).toEqual(['Bucket83908E77']);
    expect(ids('AWS::KMS::Key')).toEqual(['Key961B73FD']);
    expect(ids('AWS::SQS::Queue')).toEqual([
      'DeadLettersBBF8BAAB',
      'EventDeadLetters322AA761',
      'MaintenanceDeadLettersD3820A3A',
      'ScheduleDeadLetters0406ECBC',
      'StreamDeadLetters221995DC',
    ]);
    expect(ids('AWS::Glue::Database')).toEqual(['ShopDatabase']);
    expect(ids('AWS::Events::Archive')).toEqual(['ShopOrdersArrivalsArchiveB727E8B2']);
    expect(ids('AWS::SNS::Topic')).toEqual(['AlarmTopicD01E77F9']);
    expect(ids('AWS::Logs::LogGroup')).toEqual(
      expect.arrayContaining([
        'CommitLogs1BC2AF62',
        'FilterLogs9B436022',
        'QuarantineLogs465CD247',
        'ReconcileLogs36C88C19',
        'SchemaDriftDetectLogs9829AD95',
        'StateMachineLogs3CB16D3C',
        'ValidateLogsF7D9B5E6',
        'ReceiveLogs7512569C',
        'StreamLogs696A0987',
        'WebhookAccessLogsAAD71781',
      ]),
    );
    expect(ids('AWS::StepFunctions::StateMachine')).toContain('Ingest4069586C');
  });
});
