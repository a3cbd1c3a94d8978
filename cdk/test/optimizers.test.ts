// AWS Glue's table optimizers for the tables that ask for them ([table.glue_optimizers]): the
// role Glue runs them as, limited to those tables, and the functions that set them up.

import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../lib/config';
import {
  ACCOUNT,
  REGION,
  Synth,
  TWO_TABLES,
  allStatements,
  bucketId,
  fnId,
  logicalIdOf,
  optimizersConfig,
  synth,
  writeConfig,
} from './helpers';

let example: Synth;
let asked: Synth;
beforeAll(() => {
  example = synth();
});
beforeAll(() => {
  asked = synth({ configPath: optimizersConfig() });
});

const env = (s: Synth, fn: Parameters<typeof fnId>[1]) =>
  s.json.Resources[fnId(s, fn)].Properties.Environment.Variables;

describe("Glue's table optimizers", () => {
  it('are absent unless a table asks: no role, no output, no variable', () => {
    expect(example.stack.glueOptimizerRole).toBeUndefined();
    expect(example.json.Outputs.GlueOptimizerRoleArn).toBeUndefined();
    for (const fn of ['schema-drift-detect', 'maintain'] as const) {
      expect(env(example, fn).SLUICE_GLUE_OPTIMIZER_ROLE_ARN, fn).toBeUndefined();
    }
  });

  it('run as a role Glue assumes, given to the functions that create and maintain tables', () => {
    const role = logicalIdOf(asked.stack, asked.stack.glueOptimizerRole!);
    const trust = asked.json.Resources[role].Properties.AssumeRolePolicyDocument.Statement;
    expect(trust).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'glue.amazonaws.com' } },
    ]);
    asked.template.hasOutput('GlueOptimizerRoleArn', { Value: { 'Fn::GetAtt': [role, 'Arn'] } });
    for (const fn of ['schema-drift-detect', 'maintain'] as const) {
      expect(env(asked, fn).SLUICE_GLUE_OPTIMIZER_ROLE_ARN, fn).toEqual({ 'Fn::GetAtt': [role, 'Arn'] });
    }
    for (const fn of ['filter', 'validate', 'quarantine', 'commit', 'reconcile'] as const) {
      expect(env(asked, fn).SLUICE_GLUE_OPTIMIZER_ROLE_ARN, fn).toBeUndefined();
    }
  });

  it("may touch only the asking table's files, Glue table and the optimizers' logs", () => {
    const role = logicalIdOf(asked.stack, asked.stack.glueOptimizerRole!);
    const bucket = `arn:${bucketId(asked)}`;
    const pairs = allStatements(asked.json)
      .filter((st) => st.roles.includes(role))
      .flatMap((st) => st.actions.flatMap((a) => st.resources.map((r) => `${a} ${r}`)))
      .sort();
    const location = 'warehouse/sluice/returns/';
    const glue = (name: string) => `arn:aws:glue:${REGION}:${ACCOUNT}:${name}`;
    const logs = (g: string) => `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/aws-glue/${g}/logs:*`;
    const expected = [
      ...['s3:GetObject', 's3:PutObject', 's3:DeleteObject'].map((a) => `${a} ${bucket}/${location}*`),
      `s3:ListBucket ${bucket}`,
      ...['glue:GetTable', 'glue:UpdateTable'].flatMap((a) =>
        [glue('catalog'), glue('database/sluice'), glue('table/sluice/returns')].map((r) => `${a} ${r}`),
      ),
      ...['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'].flatMap((a) =>
        ['iceberg-compaction', 'iceberg-retention', 'iceberg-orphan-file-deletion'].map((g) => `${a} ${logs(g)}`),
      ),
    ].sort();
    expect(pairs).toEqual(expected);
    const list = allStatements(asked.json).find((st) => st.roles.includes(role) && st.actions.includes('s3:ListBucket'));
    expect(list?.condition).toEqual({ StringLike: { 's3:prefix': [location, `${location}*`] } });
  });

  it('are refused on S3 Tables, which maintains its tables itself', () => {
    expect(() => synth({ configPath: optimizersConfig(), catalog: 's3tables' })).toThrow(
      /table returns asks for Glue's table optimizers.*s3tables/,
    );
  });

  it('are read from the section, whose unknown keys fail at synth', () => {
    const tables = loadConfig(optimizersConfig()).tables;
    expect(tables.map((t) => t.glueOptimizers)).toEqual([
      undefined,
      { compaction: true, retention: true, orphanFileDeletion: true },
    ]);
    const typo = writeConfig(`${TWO_TABLES}\n[table.glue_optimizers]\ncompactoin = true\n`, [
      'orders.schema.json',
      'schemas/returns.schema.json',
    ]);
    expect(() => loadConfig(typo)).toThrow(/table\[1\]\.glue_optimizers\.compactoin: unknown key/);
    // A section that asks for nothing makes nothing.
    const none = writeConfig(`${TWO_TABLES}\n[table.glue_optimizers]\ncompaction = false\n`, [
      'orders.schema.json',
      'schemas/returns.schema.json',
    ]);
    expect(loadConfig(none).tables[1].glueOptimizers).toBeUndefined();
  });
});
