// The stack on S3 Tables (`catalog: 's3tables'`): the table bucket it makes and keeps, the
// functions pointed at it, no Glue databases and no maintain schedule (S3 Tables maintains its
// tables), and IAM that names the table bucket and its tables, each role only what its step
// does there, and nothing of the warehouse prefix.

import { beforeAll, describe, expect, it } from 'vitest';
import { ACCESS, Principal, S3TABLES_ACTIONS } from '../lib/access';
import { FUNCTIONS, Synth, allStatements, fnId, resourcesOfType, roleId, synth, writeConfig } from './helpers';

const ARN = 'arn:aws:s3tables:eu-west-1:123456789012:bucket/sluicetest-tables';

let onTables: Synth;
let onGlue: Synth;
beforeAll(() => {
  onTables = synth({ catalog: 's3tables' });
});
beforeAll(() => {
  onGlue = synth();
});

/** `action resource` pairs a function's role is allowed, rendered. */
function pairs(s: Synth, fn: (typeof FUNCTIONS)[number]): string[] {
  return allStatements(s.json)
    .filter((st) => st.roles.includes(roleId(s, fn)))
    .flatMap((st) => st.actions.flatMap((a) => st.resources.map((r) => `${a} ${r}`)));
}

describe('a stack on S3 Tables', () => {
  it('makes the table bucket, keeps it when the stack goes, and names it in an output', () => {
    const buckets = resourcesOfType(onTables.json, 'AWS::S3Tables::TableBucket');
    expect(buckets).toHaveLength(1);
    const [, bucket] = buckets[0];
    expect(bucket.Properties.TableBucketName).toBe('sluicetest-tables');
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.UpdateReplacePolicy).toBe('Retain');
    expect(resourcesOfType(onGlue.json, 'AWS::S3Tables::TableBucket')).toHaveLength(0);
    const output = onTables.json.Outputs.TableBucketArn.Value;
    expect(JSON.stringify(output)).toContain('bucket/sluicetest-tables');
    expect(onGlue.json.Outputs.TableBucketArn).toBeUndefined();
  });

  it('points every function at the table bucket', () => {
    for (const fn of FUNCTIONS) {
      const r = onTables.json.Resources[fnId(onTables, fn)];
      const env = r.Properties.Environment.Variables;
      expect(env.SLUICE_CATALOG, fn).toBe('s3tables');
      expect(JSON.stringify(env.SLUICE_TABLE_BUCKET_ARN), fn).toContain(':s3tables:');
      expect(JSON.stringify(env.SLUICE_TABLE_BUCKET_ARN), fn).toContain('bucket/sluicetest-tables');
      // Created after the table bucket, so no cold start meets a missing one.
      expect(r.DependsOn, fn).toContain(resourcesOfType(onTables.json, 'AWS::S3Tables::TableBucket')[0][0]);
      const glueEnv = onGlue.json.Resources[fnId(onGlue, fn)].Properties.Environment.Variables;
      expect(glueEnv.SLUICE_CATALOG, fn).toBe('glue');
      expect(glueEnv.SLUICE_TABLE_BUCKET_ARN, fn).toBeUndefined();
    }
  });

  it('makes no Glue databases and schedules no maintain (S3 Tables maintains its tables)', () => {
    expect(resourcesOfType(onTables.json, 'AWS::Glue::Database')).toHaveLength(0);
    expect(resourcesOfType(onGlue.json, 'AWS::Glue::Database').length).toBeGreaterThan(0);
    const maintainRules = (s: Synth) =>
      resourcesOfType(s.json, 'AWS::Events::Rule').filter(([, r]) =>
        String(r.Properties.Description ?? '').startsWith('sluice: maintain'),
      );
    expect(maintainRules(onTables)).toHaveLength(0);
    expect(maintainRules(onGlue).length).toBeGreaterThan(0);
  });

  it("grants each function its row's S3 Tables actions on the table bucket and its tables, and no Glue", () => {
    for (const fn of FUNCTIONS) {
      const row = ACCESS[fn as Principal];
      const expected = new Set<string>();
      for (const use of row.s3tables ?? []) {
        for (const a of S3TABLES_ACTIONS[use].bucket) expected.add(`${a} ${ARN}`);
        for (const a of S3TABLES_ACTIONS[use].table) expected.add(`${a} ${ARN}/table/*`);
      }
      const granted = pairs(onTables, fn).filter((p) => p.startsWith('s3tables:'));
      expect([...new Set(granted)].sort(), fn).toEqual([...expected].sort());
      expect(pairs(onTables, fn).filter((p) => p.startsWith('glue:')), fn).toEqual([]);
      expect(pairs(onGlue, fn).filter((p) => p.startsWith('s3tables:')), fn).toEqual([]);
    }
  });

  it('lets only the drift step create tables, and only steps that write commit or put data', () => {
    const can = (fn: (typeof FUNCTIONS)[number], action: string) =>
      pairs(onTables, fn).some((p) => p.startsWith(`${action} `));
    expect(FUNCTIONS.filter((fn) => can(fn, 's3tables:CreateTable'))).toEqual(['schema-drift-detect']);
    // Validate commits schema changes: the new fields of accepted rows, lineage columns.
    expect(FUNCTIONS.filter((fn) => can(fn, 's3tables:UpdateTableMetadataLocation')).sort()).toEqual(
      ['commit', 'maintain', 'schema-drift-detect', 'validate'].sort(),
    );
    expect(FUNCTIONS.filter((fn) => can(fn, 's3tables:PutTableData')).sort()).toEqual(
      ['commit', 'maintain', 'schema-drift-detect', 'validate'].sort(),
    );
    for (const fn of ['filter', 'quarantine'] as const) {
      expect(pairs(onTables, fn).filter((p) => p.startsWith('s3tables:')), fn).toEqual([]);
    }
  });

  it('grants nothing under the warehouse prefix of the bucket', () => {
    for (const fn of FUNCTIONS) {
      expect(pairs(onTables, fn).filter((p) => p.includes('/warehouse/')), fn).toEqual([]);
      // On Glue the table files are there.
    }
    expect(pairs(onGlue, 'commit').some((p) => p.includes('/warehouse/'))).toBe(true);
  });

  it('refuses a table bucket name or a table name S3 Tables would refuse', () => {
    expect(() => synth({ catalog: 's3tables', tableBucketName: 'Sluice_Tables' })).toThrow(
      /tableBucketName "Sluice_Tables" is not a table bucket name/,
    );
    expect(() => synth({ catalog: 's3tables', tableBucketName: 'aws-tables' })).toThrow(/not a table bucket name/);
    const upper = writeConfig(`
[[table]]
name = "Orders"
namespace = "shop"
prefix = "orders/"
format = "ndjson"
contract = "orders.schema.json"
`);
    expect(() => synth({ catalog: 's3tables', configPath: upper })).toThrow(
      /table shop\.Orders cannot be an S3 Tables table/,
    );
    expect(() => synth({ configPath: upper })).not.toThrow();
  });
});
