// Outbound events (README "Outbound events"): the steps write each event to the outbox in
// the bucket (`.sluice/outbox/<id>.json`); the S3 event of that write goes, by a rule on the
// default bus, to the publish function, which puts the event on the sluice event bus this
// makes (`source` `sluice`, `detail-type` the event's type). The bus's events are described
// in an EventBridge schema registry, one schema per type from schemas/events/. Downstream
// systems add their own rules on the bus (a dbt job, a knowledge-base sync, a notification).
//
// A put that keeps failing goes to the events' dead-letter queue after the target's retries;
// the outbox keeps every record for OUTBOX_DAYS (the bucket's lifecycle), so `sluice --aws
// events tail` reads what was published and a record can be delivered again.

import * as fs from 'fs';
import * as path from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as eventschemas from 'aws-cdk-lib/aws-eventschemas';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { CONTROL_PREFIX } from './config';

/** Where the steps write the events (control-layout.json's `outbox` family). */
export const OUTBOX_PREFIX = `${CONTROL_PREFIX}outbox/`;
/** Days an outbox record is kept after it was written. */
export const OUTBOX_DAYS = 30;
/** The `source` of every event on the sluice bus. */
export const EVENT_SOURCE = 'sluice';

export interface OutboundProps {
  readonly bucket: s3.IBucket;
  readonly publish: lambda.IFunction;
  readonly key?: kms.IKey;
  /** The repository: its schemas/events/ holds the events' schemas. */
  readonly repoRoot: string;
}

/** One event schema of schemas/events/: its type, version and draft-04 document. */
export interface EventSchema {
  readonly type: string;
  readonly version: number;
  readonly content: string;
}

/** Every schema in `<repo>/schemas/events/`, named `<Type>.v<N>.json`. */
export function eventSchemas(repoRoot: string): EventSchema[] {
  const dir = path.join(repoRoot, 'schemas', 'events');
  return fs
    .readdirSync(dir)
    .filter((f) => /^[A-Za-z]+\.v\d+\.json$/.test(f))
    .sort()
    .map((f) => {
      const [type, v] = f.replace(/\.json$/, '').split('.v');
      const content = fs.readFileSync(path.join(dir, f), 'utf8');
      JSON.parse(content); // a broken schema fails the synth, not the deploy
      return { type, version: Number(v), content };
    });
}

export class Outbound {
  readonly bus: events.EventBus;
  readonly registry: eventschemas.CfnRegistry;
  /** Events the publish function could not put on the bus. */
  readonly deadLetterQueue: sqs.Queue;
  readonly ruleName: string;

  constructor(scope: Stack, props: OutboundProps) {
    const { bucket, publish, key } = props;
    this.bus = new events.EventBus(scope, 'EventBus', {
      description: 'sluice: FileCommitted, FileQuarantined, SchemaEvolved, ... (README "Outbound events")',
    });
    this.registry = new eventschemas.CfnRegistry(scope, 'EventSchemaRegistry', {
      registryName: `${scope.stackName}-events`,
      description: 'sluice: the events on the sluice bus, one schema per type (schemas/events/)',
    });
    for (const s of eventSchemas(props.repoRoot)) {
      const schema = new eventschemas.CfnSchema(scope, `${s.type}V${s.version}Schema`, {
        registryName: this.registry.attrRegistryName,
        schemaName: `sluice@${s.type}`,
        type: 'JSONSchemaDraft4',
        description: `sluice ${s.type} events, schema_version ${s.version}`,
        content: s.content,
      });
      schema.node.addDependency(this.registry);
    }
    this.deadLetterQueue = new sqs.Queue(scope, 'EventDeadLetters', {
      encryption: key ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const rule = new events.Rule(scope, 'OutboxToPublish', {
      description: 'sluice: each outbox record the steps write is published on the sluice bus',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [bucket.bucketName] },
          object: { key: [{ prefix: OUTBOX_PREFIX }] },
        },
      },
      targets: [
        new targets.LambdaFunction(publish, {
          deadLetterQueue: this.deadLetterQueue,
          maxEventAge: Duration.hours(24),
          retryAttempts: 185,
        }),
      ],
    });
    this.ruleName = rule.ruleName;
    (publish as lambda.Function).addEnvironment('SLUICE_EVENT_BUS', this.bus.eventBusName);
  }
}
