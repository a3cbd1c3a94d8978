// Keeping the tables healthy: per table, a schedule that runs the maintain function (expire
// the snapshots exactly-once no longer needs, then collect what nothing references; see
// crates/steps/src/maintain.rs), and a dead-letter queue of its own for runs that were not
// delivered or failed, which the alarms watch. Maintenance is not an arrival: its failures
// never go near the arrivals' queue.

import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { TableSpec } from './config';
import { pascal } from './functions';

export interface MaintenanceProps {
  readonly tables: readonly TableSpec[];
  readonly maintain: lambda.IFunction;
  readonly key?: kms.IKey;
  /** How often each table is maintained. Default daily. */
  readonly maintainEvery?: Duration;
}

export class Maintenance {
  /** Maintenance runs that were not delivered or failed. */
  readonly deadLetterQueue: sqs.Queue;
  /** The schedule rules, one per table. */
  readonly ruleNames: string[] = [];

  constructor(scope: Stack, props: MaintenanceProps) {
    const { key, maintain } = props;
    this.deadLetterQueue = new sqs.Queue(scope, 'MaintenanceDeadLetters', {
      encryption: key ? sqs.QueueEncryption.KMS : sqs.QueueEncryption.SQS_MANAGED,
      encryptionMasterKey: key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    maintain.configureAsyncInvoke({
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    for (const t of props.tables) {
      const id = pascal(`${t.namespace}-${t.name}`);
      const rule = new events.Rule(scope, `${id}Maintain`, {
        description: `sluice: maintain ${t.namespace}.${t.name} (expire snapshots exactly-once no longer needs, then gc)`,
        schedule: events.Schedule.rate(props.maintainEvery ?? Duration.days(1)),
        targets: [
          new targets.LambdaFunction(maintain, {
            event: events.RuleTargetInput.fromObject({ table: t.name }),
            deadLetterQueue: this.deadLetterQueue,
            maxEventAge: Duration.hours(6),
            retryAttempts: 2,
          }),
        ],
      });
      this.ruleNames.push(rule.ruleName);
    }
  }
}
