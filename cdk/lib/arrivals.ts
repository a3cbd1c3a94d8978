// How work reaches the state machine: per table, an EventBridge rule that starts an ingest
// execution for each Object Created and Object Deleted event under the table's prefix, an
// archive of those events for replay, and a schedule that runs reconcile (which finds versions
// whose events were lost); and the dead-letter queues, by purpose. Arrivals that could not
// start an execution go to one (`sluice dlq replay` starts them again); the reconcile
// schedule's undelivered or failed invocations, which are not arrivals and must never be
// started as one, go to the other.

import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { TableSpec } from './config';
import { pascal } from './functions';

export interface ArrivalsProps {
  readonly bucket: s3.IBucket;
  readonly tables: readonly TableSpec[];
  readonly ingest: sfn.IStateMachine;
  readonly reconcile: lambda.IFunction;
  readonly key?: kms.IKey;
  /** How often each table is reconciled. Default every hour. */
  readonly reconcileEvery?: Duration;
}

export class Arrivals {
  /** Arrival events that could not start an execution. */
  readonly deadLetterQueue: sqs.Queue;
  /** Reconcile runs that were not delivered or failed. */
  readonly scheduleDeadLetterQueue: sqs.Queue;
  /** The arrival and schedule rules, in the order they were made (two per table). */
  readonly ruleNames: string[] = [];

  constructor(scope: Stack, props: ArrivalsProps) {
    const { bucket, key, reconcile } = props;
    const queue = (id: string) =>
      new sqs.Queue(scope, id, {
        encryption: key ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED,
        encryptionMasterKey: key,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
    this.deadLetterQueue = queue('DeadLetters');
    this.scheduleDeadLetterQueue = queue('ScheduleDeadLetters');
    // Reconcile runs asynchronously (from the schedule): a failed run goes to its queue.
    reconcile.configureAsyncInvoke({
      onFailure: new destinations.SqsDestination(this.scheduleDeadLetterQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    });
    const defaultBus = events.EventBus.fromEventBusName(scope, 'DefaultBus', 'default');
    for (const t of props.tables) {
      // Removals too: Filter records them in the ledger (what they do to rows is the
      // table's `on_delete` policy).
      const pattern: events.EventPattern = {
        source: ['aws.s3'],
        detailType: ['Object Created', 'Object Deleted'],
        detail: {
          bucket: { name: [bucket.bucketName] },
          object: { key: [{ prefix: t.prefix }] },
        },
      };
      const id = pascal(`${t.namespace}-${t.name}`);
      const arrivals = new events.Rule(scope, `${id}Arrivals`, {
        description: `sluice: objects created or deleted under ${t.prefix} start an ingest execution (${t.namespace}.${t.name})`,
        eventPattern: pattern,
        targets: [
          new targets.SfnStateMachine(props.ingest, {
            deadLetterQueue: this.deadLetterQueue,
            maxEventAge: Duration.hours(24),
            retryAttempts: 185,
          }),
        ],
      });
      const archive = new events.Archive(scope, `${id}ArrivalsArchive`, {
        sourceEventBus: defaultBus,
        eventPattern: pattern,
        description: `sluice: Object Created and Object Deleted events under ${t.prefix}, for replay`,
        retention: Duration.days(30),
      });
      // Without a key the L2 renders KmsKeyIdentifier "", which some regions refuse
      // (aws/aws-cdk#37847); absent means the AWS-owned key.
      (archive.node.findChild('Archive') as events.CfnArchive).addPropertyDeletionOverride(
        'KmsKeyIdentifier',
      );
      const schedule = new events.Rule(scope, `${id}Reconcile`, {
        description: `sluice: reconcile ${t.namespace}.${t.name} (find versions whose events were lost)`,
        schedule: events.Schedule.rate(props.reconcileEvery ?? Duration.hours(1)),
        targets: [
          new targets.LambdaFunction(reconcile, {
            event: events.RuleTargetInput.fromObject({ table: t.name }),
            deadLetterQueue: this.scheduleDeadLetterQueue,
            maxEventAge: Duration.hours(1),
            retryAttempts: 2,
          }),
        ],
      });
      this.ruleNames.push(arrivals.ruleName, schedule.ruleName);
    }
  }
}
