// AWS Glue's managed table optimizers, for the tables whose sluice.toml entry asks for them
// (`[table.glue_optimizers]`): the role Glue assumes to run them. The optimizers themselves
// are not CloudFormation resources here: a table does not exist until its first file arrives,
// so the function that creates it (schema-drift-detect) creates them, and every maintain run
// checks them (crates/aws/src/glue_optimizers.rs); both get the role's ARN as
// SLUICE_GLUE_OPTIMIZER_ROLE_ARN and may pass it to Glue (access.ts, `glueOptimizers`).
//
// The role may do what AWS documents the optimizers need, on those tables only: read, write
// and delete their files under the warehouse prefix (compaction writes, retention and orphan
// deletion delete), list the bucket under their locations, read and update the Glue table
// (a compaction or an expiry is a commit), and write the optimizers' logs.

import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { TableSpec } from './config';

/** The log groups Glue's Iceberg optimizers write to. */
export const OPTIMIZER_LOG_GROUPS = [
  '/aws-glue/iceberg-compaction/logs',
  '/aws-glue/iceberg-retention/logs',
  '/aws-glue/iceberg-orphan-file-deletion/logs',
] as const;

/** The tables that ask for Glue's optimizers. */
export function optimizedTables(tables: readonly TableSpec[]): TableSpec[] {
  return tables.filter((t) => t.glueOptimizers !== undefined);
}

export interface GlueOptimizerRoleProps {
  readonly bucket: s3.IBucket;
  /** The tables that ask for optimizers (at least one). */
  readonly tables: readonly TableSpec[];
  /** The warehouse prefix, ending in `/`. */
  readonly warehousePrefix: string;
  readonly key?: kms.IKey;
}

/** The role Glue's table optimizers run as. */
export function glueOptimizerRole(scope: Stack, props: GlueOptimizerRoleProps): iam.Role {
  const { bucket, tables, warehousePrefix } = props;
  const role = new iam.Role(scope, 'GlueOptimizerRole', {
    assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
    description: 'sluice: AWS Glue table optimizers (compaction, snapshot retention, orphan file deletion)',
  });
  const locations = tables.map((t) => `${warehousePrefix}${t.namespace}/${t.name}/`);
  const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources, conditions }));
  allow(
    'TableFiles',
    ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
    locations.map((l) => bucket.arnForObjects(`${l}*`)),
  );
  allow('ListTableLocations', ['s3:ListBucket'], [bucket.bucketArn], {
    StringLike: { 's3:prefix': locations.flatMap((l) => [l, `${l}*`]) },
  });
  const glue = (resource: string, resourceName?: string) => scope.formatArn({ service: 'glue', resource, resourceName });
  allow('GlueTables', ['glue:GetTable', 'glue:UpdateTable'], [
    glue('catalog'),
    ...[...new Set(tables.map((t) => t.namespace))].map((ns) => glue('database', ns)),
    ...tables.map((t) => glue('table', `${t.namespace}/${t.name}`)),
  ]);
  allow(
    'OptimizerLogs',
    ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
    OPTIMIZER_LOG_GROUPS.map((g) => `arn:${scope.partition}:logs:${scope.region}:${scope.account}:log-group:${g}:*`),
  );
  if (props.key) props.key.grant(role, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
  return role;
}
