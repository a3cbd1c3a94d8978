// What an on-call engineer watches: alarms on a failed ingest or backfill execution, dead
// letters (arrivals, schedules, maintenance, outbound events, stream batches), quarantined files, each table's freshness, and
// each function and rule; optionally an SNS topic they notify; and one dashboard. Every alarm fires on any occurrence within five
// minutes (freshness: on a time above the table's threshold), and missing data is not a breach.
//
// Freshness is two alarms per table, both by the `Stack` and `Table` dimensions the functions
// publish, over the table's `freshness` (sluice.toml) or the stack's threshold: rows that took
// longer from their object's landing to their commit (`EventToCommitLag`, from commit), and an
// object that has waited longer and is still not done (`OldestUnfinishedAge`, from each
// reconcile run: a stuck or lost arrival, which commits nothing and so never shows as a lag).
// The second is read over the reconcile period: it is published once a run.

import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { TableSpec } from './config';
import { FUNCTION_NAMES, FunctionName, pascal } from './functions';

export interface AlarmsProps {
  readonly ingest: sfn.StateMachine;
  readonly backfill: sfn.StateMachine;
  readonly functions: Record<FunctionName, lambda.IFunction>;
  readonly deadLetterQueue: sqs.IQueue;
  readonly scheduleDeadLetterQueue: sqs.IQueue;
  /** Maintenance runs that were not delivered or failed. */
  readonly maintenanceDeadLetterQueue: sqs.IQueue;
  /** Outbound events the publish function could not put on the sluice bus (outbound.ts). */
  readonly eventDeadLetterQueue: sqs.IQueue;
  /** Stream batches given up after their retries (streams.ts). */
  readonly streamDeadLetterQueue: sqs.IQueue;
  /** Every EventBridge rule of the stack, for their FailedInvocations. */
  readonly ruleNames: readonly string[];
  /** If set, an SNS topic is made for the alarms and this address subscribed to it. */
  readonly alarmEmail?: string;
  /** Encrypts the topic. */
  readonly key?: kms.IKey;
  /** The tables, for their freshness alarms. */
  readonly tables: readonly TableSpec[];
  /** The freshness threshold of a table that sets none. Default one hour. */
  readonly freshnessThreshold?: Duration;
  /** How often reconcile runs (the period of `OldestUnfinishedAge`). Default one hour. */
  readonly reconcileEvery?: Duration;
}

export class Alarms {
  readonly alarms: cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Stack, props: AlarmsProps) {
    const { ingest, backfill, functions, deadLetterQueue, scheduleDeadLetterQueue, maintenanceDeadLetterQueue } = props;
    const five = Duration.minutes(5);
    const anyOf = (id: string, description: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(scope, id, {
        alarmDescription: description,
        metric,
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    // The functions publish by `Stack` and by `Stack` and `Table` (EMF); the alarms and the
    // dashboard read this stack's, every table together.
    const sluiceMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'sluice',
        metricName,
        statistic,
        period: five,
        dimensionsMap: { Stack: scope.stackName },
      });
    const stackFreshness = props.freshnessThreshold ?? Duration.hours(1);
    const above = (id: string, description: string, metric: cloudwatch.IMetric, threshold: Duration) =>
      new cloudwatch.Alarm(scope, id, {
        alarmDescription: description,
        metric,
        threshold: threshold.toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    const alarms = [
      anyOf(
        'ExecutionsFailedAlarm',
        'sluice: an ingest execution failed (Internal error or retries spent); redrive it after a fix',
        ingest.metricFailed({ period: five, statistic: 'Sum' }),
      ),
      anyOf(
        'BackfillExecutionsFailedAlarm',
        'sluice: a backfill failed (its plan, or more of its ingest executions than it tolerates); start it again after a fix: executions that already ran count as done',
        backfill.metricFailed({ period: five, statistic: 'Sum' }),
      ),
      anyOf(
        'DeadLettersAlarm',
        'sluice: arrival events could not start an execution; `sluice dlq replay` starts them again',
        deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      ),
      anyOf(
        'ScheduleDeadLettersAlarm',
        'sluice: a reconcile run was not delivered or failed; see the reconcile log group, then run it again',
        scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      ),
      anyOf(
        'MaintenanceDeadLettersAlarm',
        'sluice: a table maintenance run (snapshot expiry, gc) was not delivered or failed; see the maintain log group, then `sluice maintain --aws --table T`',
        maintenanceDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      ),
      anyOf(
        'EventDeadLettersAlarm',
        'sluice: outbound events could not be put on the sluice bus; see the publish log group. The records stay in the outbox (.sluice/outbox/): `sluice events tail --aws` lists them',
        props.eventDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      ),
      anyOf(
        'StreamDeadLettersAlarm',
        'sluice: stream batches were given up after their retries; each message names the stream, shard and positions. See the stream log group; the records stay in the stream for its retention, to be read again after a fix',
        props.streamDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, statistic: 'Maximum' }),
      ),
      anyOf(
        'FilesQuarantinedAlarm',
        'sluice: files were quarantined and wait for a person (sluice quarantine list)',
        sluiceMetric('FilesQuarantined', 'Sum'),
      ),
      anyOf(
        'DriftPendingAlarm',
        'sluice: a file waits on a schema change a person must approve or reject (sluice drift list --aws, then drift approve ID or drift reject ID --reason TEXT)',
        sluiceMetric('DriftPending', 'Sum'),
      ),
    ];
    for (const t of props.tables) {
      const freshness = t.freshness ?? stackFreshness;
      const id = pascal(`${t.namespace}-${t.name}`);
      const tableMetric = (metricName: string, period: Duration) =>
        new cloudwatch.Metric({
          namespace: 'sluice',
          metricName,
          statistic: 'Maximum',
          period,
          dimensionsMap: { Stack: scope.stackName, Table: t.name },
        });
      alarms.push(
        above(
          `${id}FreshnessAlarm`,
          `sluice: rows of ${t.namespace}.${t.name} took longer than ${freshness.toHumanString()} from their object's arrival to their commit`,
          tableMetric('EventToCommitLag', five),
          freshness,
        ),
        above(
          `${id}WaitingAlarm`,
          `sluice: an object of ${t.namespace}.${t.name} has waited longer than ${freshness.toHumanString()} and is not done (stuck, or its event lost); \`sluice reconcile --aws --table ${t.name}\` names it`,
          tableMetric('OldestUnfinishedAge', props.reconcileEvery ?? Duration.hours(1)),
          freshness,
        ),
      );
    }
    for (const name of FUNCTION_NAMES) {
      const fn = functions[name];
      alarms.push(
        anyOf(`${pascal(name)}ErrorsAlarm`, `sluice: the ${name} function failed (see its log group)`, fn.metricErrors({ period: five, statistic: 'Sum' })),
        anyOf(`${pascal(name)}ThrottlesAlarm`, `sluice: the ${name} function was throttled (concurrency)`, fn.metricThrottles({ period: five, statistic: 'Sum' })),
      );
    }
    props.ruleNames.forEach((ruleName, i) => {
      alarms.push(
        anyOf(
          `Rule${i}FailedInvocationsAlarm`,
          'sluice: EventBridge could not invoke a rule\'s target (see the dead-letter queues)',
          new cloudwatch.Metric({
            namespace: 'AWS/Events',
            metricName: 'FailedInvocations',
            dimensionsMap: { RuleName: ruleName },
            statistic: 'Sum',
            period: five,
          }),
        ),
      );
    });
    if (props.alarmEmail) {
      const topic = new sns.Topic(scope, 'AlarmTopic', {
        displayName: 'sluice alarms',
        enforceSSL: true,
        masterKey: props.key,
      });
      topic.addSubscription(new subs.EmailSubscription(props.alarmEmail));
      for (const alarm of alarms) {
        alarm.addAlarmAction(new cwActions.SnsAction(topic));
      }
    }
    this.alarms = alarms;
    this.dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
      dashboardName: `${scope.stackName}-sluice`,
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Executions',
            left: [
              ingest.metricStarted({ period: five }),
              ingest.metricSucceeded({ period: five }),
              ingest.metricFailed({ period: five }),
            ],
            right: [
              backfill.metricStarted({ period: five, label: 'backfills started' }),
              backfill.metricFailed({ period: five, label: 'backfills failed' }),
            ],
          }),
          new cloudwatch.GraphWidget({
            title: 'Rows and files',
            left: [sluiceMetric('RowsCommitted', 'Sum'), sluiceMetric('RowsRejected', 'Sum')],
            right: [sluiceMetric('FilesQuarantined', 'Sum')],
          }),
          new cloudwatch.GraphWidget({
            title: 'Freshness (ms)',
            left: [
              sluiceMetric('EventToCommitLag', 'Maximum'),
              sluiceMetric('CommitLatency', 'Average'),
              sluiceMetric('OldestUnfinishedAge', 'Maximum'),
            ],
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Function errors and throttles',
            left: FUNCTION_NAMES.map((n) => functions[n].metricErrors({ period: five, label: `${n} errors` })),
            right: FUNCTION_NAMES.map((n) => functions[n].metricThrottles({ period: five, label: `${n} throttles` })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Function duration (p99, ms)',
            left: FUNCTION_NAMES.map((n) => functions[n].metricDuration({ period: five, statistic: 'p99', label: n })),
          }),
          new cloudwatch.GraphWidget({
            title: 'Dead letters',
            left: [
              deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, label: 'arrivals' }),
              scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, label: 'schedules' }),
              maintenanceDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, label: 'maintenance' }),
              props.streamDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: five, label: 'stream batches' }),
            ],
          }),
        ],
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 })],
      ],
    });
  }
}
