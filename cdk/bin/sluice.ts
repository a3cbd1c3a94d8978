#!/usr/bin/env node
// The sluice CDK app. Settings come from context (`-c key=value`) or the environment:
//
//   config                  SLUICE_CONFIG               the sluice.toml (default examples/orders/sluice.toml)
//   lambdaCodeDir           SLUICE_LAMBDA_CODE_DIR      holds <function>/bootstrap (default target/lambda)
//   warehousePrefix         SLUICE_WAREHOUSE_PREFIX     default warehouse/
//   commitConcurrency       SLUICE_COMMIT_CONCURRENCY   reserved concurrency of commit (default 5)
//   alarmEmail              SLUICE_ALARM_EMAIL          makes an SNS topic for the alarms, subscribed
//   stackName               SLUICE_STACK_NAME           default Sluice
//
// Relative paths are relative to the repository root.

import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { loadConfig } from '../lib/config';
import { REPO_ROOT, SluiceStack } from '../lib/sluice-stack';

const app = new App();

function setting(key: string, env: string): string | undefined {
  const v = app.node.tryGetContext(key) ?? process.env[env];
  return v === undefined || v === '' ? undefined : String(v);
}
const fromRoot = (p: string) => path.resolve(REPO_ROOT, p);

try {
  const configPath = fromRoot(setting('config', 'SLUICE_CONFIG') ?? 'examples/orders/sluice.toml');
  const codeDir = setting('lambdaCodeDir', 'SLUICE_LAMBDA_CODE_DIR');
  const concurrency = setting('commitConcurrency', 'SLUICE_COMMIT_CONCURRENCY');
  if (concurrency !== undefined && !/^[0-9]+$/.test(concurrency)) {
    throw new Error(`sluice: commitConcurrency ${JSON.stringify(concurrency)} is not a whole number`);
  }

  new SluiceStack(app, setting('stackName', 'SLUICE_STACK_NAME') ?? 'Sluice', {
    config: loadConfig(configPath),
    lambdaCodeDir: codeDir === undefined ? undefined : fromRoot(codeDir),
    warehousePrefix: setting('warehousePrefix', 'SLUICE_WAREHOUSE_PREFIX'),
    commitReservedConcurrency: concurrency === undefined ? undefined : Number(concurrency),
    alarmEmail: setting('alarmEmail', 'SLUICE_ALARM_EMAIL'),
    env: {
      account: process.env.CDK_DEFAULT_ACCOUNT,
      region: process.env.CDK_DEFAULT_REGION,
    },
    description: 'sluice: S3 arrivals into Iceberg tables, exactly once',
  });
} catch (e) {
  // Our own refusals (a missing binary, a bad sluice.toml) are messages, not stack traces.
  if (e instanceof Error && e.message.startsWith('sluice: ')) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
