import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseAge, stageConfig } from '../lib/config';
import { EXAMPLE_CONFIG, dummyCodeDir, synth, tempDir, writeConfig } from './helpers';

const CDK_DIR = path.resolve(__dirname, '..');

const table = (fields: string) => `[[table]]\nformat = "ndjson"\ncontract = "orders.schema.json"\n${fields}\n`;

describe('sluice.toml', () => {
  it('reads the example: one table, namespace shop, prefix orders/', () => {
    const c = loadConfig(EXAMPLE_CONFIG);
    expect(c.tables).toEqual([
      {
        name: 'orders',
        namespace: 'shop',
        prefix: 'orders/',
        contract: 'orders.schema.json',
        freshness: Duration.hours(1),
      },
    ]);
  });

  it('reads ages in the one form Rust reads (crates/core/src/age.rs)', () => {
    expect(parseAge('30s')?.toSeconds()).toBe(30);
    expect(parseAge('90m')?.toSeconds()).toBe(5400);
    expect(parseAge(' 1h ')?.toSeconds()).toBe(3600);
    expect(parseAge('2d')?.toSeconds()).toBe(172_800);
    for (const bad of ['', 'h', '1', '1x', '1.5h', '-1h', '1h30m', '1 h', '1H']) {
      expect(parseAge(bad), bad).toBeUndefined();
    }
    const c = loadConfig(writeConfig(table('name = "t"\nprefix = "t/"\nfreshness = "15m"')));
    expect(c.tables[0].freshness?.toSeconds()).toBe(900);
    expect(loadConfig(writeConfig(table('name = "t"\nprefix = "t/"'))).tables[0].freshness).toBeUndefined();
  });

  it('defaults the namespace to sluice', () => {
    const c = loadConfig(writeConfig(table('name = "t"\nprefix = "t/"')));
    expect(c.tables[0].namespace).toBe('sluice');
  });

  it.each([
    ['no table', '[limits]\nmax_line_bytes = 10\n', /at least one \[\[table\]\]/],
    ['a prefix under .sluice/', table('name = "t"\nprefix = ".sluice/t/"'), /\.sluice\/ is reserved/],
    ['a prefix without /', table('name = "t"\nprefix = "t"'), /ending in `\/`/],
    ['an empty prefix', table('name = "t"\nprefix = ""'), /ending in `\/`/],
    ['a wildcard in a prefix', table('name = "t"\nprefix = "t*/"'), /not a safe key prefix/],
    ['a bad name', table('name = "t-1"\nprefix = "t/"'), /letters, digits and _/],
    [
      'overlapping prefixes',
      table('name = "a"\nprefix = "in/"') + table('name = "b"\nprefix = "in/b/"'),
      /overlaps table\[0\]\.prefix/,
    ],
    ['a table twice', table('name = "a"\nprefix = "a/"') + table('name = "a"\nprefix = "b/"'), /same table/],
    ['bad TOML', '[[table]\n', /not valid TOML/],
    ['a freshness not in the one form', table('name = "t"\nprefix = "t/"\nfreshness = "an hour"'), /table\[0\]\.freshness: "an hour"/],
    ['a freshness of zero', table('name = "t"\nprefix = "t/"\nfreshness = "0m"'), /table\[0\]\.freshness/],
    ['a freshness as a number', table('name = "t"\nprefix = "t/"\nfreshness = 60'), /table\[0\]\.freshness: 60/],
  ])('refuses %s', (_, text, message) => {
    expect(() => loadConfig(writeConfig(text))).toThrow(message);
  });

  it('refuses a table prefix that overlaps the warehouse (its data files would arrive as objects)', () => {
    const file = writeConfig(table('name = "t"\nprefix = "warehouse/in/"'));
    expect(() => synth({ configPath: file })).toThrow(/overlaps the warehouse prefix/);
  });

  it('refuses a contract outside the config directory, and a missing one', () => {
    const outside = loadConfig(writeConfig(table('name = "t"\nprefix = "t/"').replace('"orders.schema.json"', '"../x.json"')));
    expect(() => stageConfig(outside, tempDir('stage'))).toThrow(/must lie inside the config's directory/);
    const missing = loadConfig(writeConfig(table('name = "t"\nprefix = "t/"'), []));
    expect(() => stageConfig(missing, tempDir('stage'))).toThrow(/does not exist/);
  });
});

describe('the app (bin/sluice.ts)', () => {
  const run = (env: Record<string, string>) => {
    const outdir = tempDir('app');
    const r = spawnSync(path.join(CDK_DIR, 'node_modules', '.bin', 'tsx'), ['bin/sluice.ts'], {
      cwd: CDK_DIR,
      env: { ...process.env, CDK_OUTDIR: outdir, ...env },
      encoding: 'utf8',
    });
    return { ...r, outdir };
  };

  it('synthesises the example with a code dir from the environment', () => {
    const r = run({ SLUICE_LAMBDA_CODE_DIR: dummyCodeDir(), SLUICE_STACK_NAME: 'SluiceApp' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const template = JSON.parse(fs.readFileSync(path.join(r.outdir, 'SluiceApp.template.json'), 'utf8'));
    const glue = Object.values(template.Resources as Record<string, any>).filter(
      (x) => x.Type === 'AWS::Glue::Database',
    );
    expect(glue.map((g) => g.Properties.DatabaseInput.Name)).toEqual(['shop']);
  });

  it('fails with the message when the binaries are missing', () => {
    const r = run({ SLUICE_LAMBDA_CODE_DIR: tempDir('empty') });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/sluice: no Lambda binary for filter: .* is missing; lambdaCodeDir is/);
  });
});
