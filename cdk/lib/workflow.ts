// The state machines: ingest (statemachine/ingest.asl.json, one execution per arriving object
// version, calling the five step functions). Each definition is deployed as it is in the
// repository, inline, with its `${...}` placeholders substituted by CloudFormation. Their
// roles get their grants from access.ts, applied by the stack.

import * as fs from 'fs';
import * as path from 'path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { STEP_FUNCTIONS, StepName } from './functions';

export interface WorkflowProps {
  /** The repository holding statemachine/*.asl.json. */
  readonly repoRoot: string;
  /** The five step functions the ingest definition calls. */
  readonly steps: Record<StepName, lambda.IFunction>;
  readonly key?: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

export class Workflow {
  readonly ingest: sfn.StateMachine;

  constructor(scope: Stack, props: WorkflowProps) {
    const smLogs = new logs.LogGroup(scope, 'StateMachineLogs', {
      // Under /aws/vendedlogs/ so that log delivery does not grow the account's resource policy.
      logGroupName: `/aws/vendedlogs/states/${scope.stackName}-ingest`,
      retention: props.logRetention,
      encryptionKey: props.key,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.ingest = new sfn.StateMachine(scope, 'Ingest', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Inline (DefinitionString), not an S3 asset: the template shows the definition whole.
      definitionBody: sfn.DefinitionBody.fromString(definition(props.repoRoot, 'ingest')),
      definitionSubstitutions: Object.fromEntries(
        (Object.entries(STEP_FUNCTIONS) as [StepName, string][]).map(([name, placeholder]) => [
          placeholder,
          props.steps[name].functionArn,
        ]),
      ),
      logs: { destination: smLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
      tracingEnabled: true,
    });
  }
}

/** The text of statemachine/<name>.asl.json. */
function definition(repoRoot: string, name: string): string {
  return fs.readFileSync(path.join(repoRoot, 'statemachine', `${name}.asl.json`), 'utf8');
}
