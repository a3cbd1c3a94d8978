// The state machines: ingest (statemachine/ingest.asl.json, one execution per arriving object
// version, calling the five step functions) and backfill (statemachine/backfill.asl.json: the
// reconcile function plans a prefix into a manifest of arrivals, and a Distributed Map starts
// one ingest execution per line). Each definition is deployed as it is in the repository,
// inline, with its `${...}` placeholders substituted by CloudFormation. Both are STANDARD, log
// errors without execution data and trace with X-Ray. Their roles get their grants from
// access.ts, applied by the stack.
//
// The backfill state machine has a fixed name, `<stack>-backfill`: its role (the Distributed
// Map starts child executions of it) and the reconcile function (which starts backfills, and
// which the definition calls) name it by an ARN built from that name, as a reference to the
// machine would make a circular dependency.

import * as fs from 'fs';
import * as path from 'path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { statesArn } from './access';
import { STEP_FUNCTIONS, StepName } from './functions';

export interface WorkflowProps {
  /** The repository holding statemachine/*.asl.json. */
  readonly repoRoot: string;
  /** The five step functions the ingest definition calls. */
  readonly steps: Record<StepName, lambda.IFunction>;
  /** The function the backfill definition plans with. */
  readonly reconcile: lambda.IFunction;
  readonly key?: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

/** The placeholders of statemachine/backfill.asl.json. */
export const BACKFILL_PLACEHOLDERS = {
  reconcile: 'ReconcileFunctionArn',
  ingest: 'IngestStateMachineArn',
} as const;

export class Workflow {
  readonly ingest: sfn.StateMachine;
  readonly backfill: sfn.StateMachine;
  /** The backfill state machine's name, fixed (see the header). */
  readonly backfillName: string;
  /** Its ARN, built from the name: no reference to the machine. */
  readonly backfillArn: string;

  constructor(scope: Stack, props: WorkflowProps) {
    /** `file`: statemachine/<file>.asl.json; `name`: a fixed state machine name. */
    const machine = (
      id: string,
      o: { file: string; logsId: string; substitutions: Record<string, string>; name?: string },
    ) => {
      const group = new logs.LogGroup(scope, o.logsId, {
        // Under /aws/vendedlogs/ so that log delivery does not grow the account's resource policy.
        logGroupName: `/aws/vendedlogs/states/${scope.stackName}-${o.file}`,
        retention: props.logRetention,
        encryptionKey: props.key,
        removalPolicy: RemovalPolicy.RETAIN,
      });
      return new sfn.StateMachine(scope, id, {
        stateMachineName: o.name,
        stateMachineType: sfn.StateMachineType.STANDARD,
        // Inline (DefinitionString), not an S3 asset: the template shows the definition whole.
        definitionBody: sfn.DefinitionBody.fromString(definition(props.repoRoot, o.file)),
        definitionSubstitutions: o.substitutions,
        logs: { destination: group, level: sfn.LogLevel.ERROR, includeExecutionData: false },
        tracingEnabled: true,
      });
    };

    this.ingest = machine('Ingest', {
      file: 'ingest',
      logsId: 'StateMachineLogs',
      substitutions: Object.fromEntries(
        (Object.entries(STEP_FUNCTIONS) as [StepName, string][]).map(([name, placeholder]) => [
          placeholder,
          props.steps[name].functionArn,
        ]),
      ),
    });

    this.backfillName = backfillStateMachineName(scope.stackName);
    this.backfillArn = statesArn(scope, { machine: 'backfill' }, this.backfillName);
    this.backfill = machine('Backfill', {
      file: 'backfill',
      logsId: 'BackfillLogs',
      substitutions: {
        [BACKFILL_PLACEHOLDERS.reconcile]: props.reconcile.functionArn,
        [BACKFILL_PLACEHOLDERS.ingest]: this.ingest.stateMachineArn,
      },
      name: this.backfillName,
    });
  }
}

/** `<stack>-backfill`, or a clear failure when that is longer than Step Functions allows. */
export function backfillStateMachineName(stackName: string): string {
  const name = `${stackName}-backfill`;
  if (name.length > 80) {
    throw new Error(
      `sluice: the backfill state machine's name ${name} is longer than 80 characters; choose a stack name of at most 71`,
    );
  }
  return name;
}

/** The text of statemachine/<name>.asl.json. */
function definition(repoRoot: string, name: string): string {
  return fs.readFileSync(path.join(repoRoot, 'statemachine', `${name}.asl.json`), 'utf8');
}
