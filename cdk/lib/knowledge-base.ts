// Optional: keep an Amazon Bedrock Knowledge Base in step with the tables. Every
// `FileCommitted` event on the sluice bus (of the listed tables, or all) starts an ingestion
// job of the knowledge base's data source, through a small state machine whose one Task calls bedrock-agent's StartIngestionJob with the event's id as the client token, so a
// redelivered event starts no second job. A data source runs one ingestion job at a time:
// while one runs, StartIngestionJob answers ConflictException, which the Task retries with
// backoff for about an hour (a job started later still takes in every commit before it).

import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import * as sqs from 'aws-cdk-lib/aws-sqs';

export interface KnowledgeBaseSyncProps {
  /** The knowledge base's id (10 characters, as the Bedrock console shows it). */
  readonly knowledgeBaseId: string;
  /** Its data source's id: the one that reads the tables' files (or their export). */
  readonly dataSourceId: string;
  /** Only commits to these tables (sluice.toml names). Default: every table. */
  readonly tables?: readonly string[];
}

const ID = /^[0-9a-zA-Z]{10}$/;

export class KnowledgeBaseSync {
  readonly stateMachine: sfn.StateMachine;
  readonly rule: events.Rule;

  constructor(scope: Stack, bus: events.IEventBus, deadLetters: sqs.IQueue, props: KnowledgeBaseSyncProps) {
    for (const [name, v] of [
      ['knowledgeBaseId', props.knowledgeBaseId],
      ['dataSourceId', props.dataSourceId],
    ] as const) {
      if (!ID.test(v)) throw new Error(`sluice: ${name} ${JSON.stringify(v)} is not a Bedrock id (10 letters and digits)`);
    }
    const start = new tasks.CallAwsService(scope, 'StartIngestionJob', {
      service: 'bedrockagent',
      action: 'startIngestionJob',
      parameters: {
        KnowledgeBaseId: props.knowledgeBaseId,
        DataSourceId: props.dataSourceId,
        // The event's id: a redelivered event starts no second job.
        ClientToken: sfn.JsonPath.stringAt('$.detail.id'),
      },
      iamResources: [
        scope.formatArn({ service: 'bedrock', resource: 'knowledge-base', resourceName: props.knowledgeBaseId }),
      ],
      iamAction: 'bedrock:StartIngestionJob',
    });
    start.addRetry({
      errors: ['BedrockAgent.ConflictException', 'BedrockAgent.ThrottlingException'],
      interval: Duration.seconds(30),
      backoffRate: 1.5,
      maxAttempts: 12,
      maxDelay: Duration.minutes(10),
    });
    // Standard, not Express: the retries while another job runs outlast Express's 5 minutes.
    this.stateMachine = new sfn.StateMachine(scope, 'KnowledgeBaseSync', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      timeout: Duration.hours(2),
      comment: 'sluice: start an ingestion job of a Bedrock knowledge base on each FileCommitted',
    });
    const detail = props.tables?.length ? { table: [...props.tables] } : undefined;
    this.rule = new events.Rule(scope, 'KnowledgeBaseSyncOnCommit', {
      eventBus: bus,
      description: `sluice: FileCommitted starts an ingestion job of knowledge base ${props.knowledgeBaseId}`,
      eventPattern: { source: ['sluice'], detailType: ['FileCommitted'], detail },
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          deadLetterQueue: deadLetters,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }
}
