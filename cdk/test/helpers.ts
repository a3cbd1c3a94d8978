// Shared set-up for the stack tests: a code dir of dummy bootstraps, a synthesised template,
// and a small evaluator of the template's IAM statements.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../lib/config';
import { REPO_ROOT, SluiceStack, SluiceStackProps } from '../lib/sluice-stack';

export const FUNCTIONS = [
  'filter',
  'schema-drift-detect',
  'validate',
  'quarantine',
  'commit',
  'reconcile',
  'maintain',
  'publish',
  'receive',
  'stream',
] as const;
export const EXAMPLE_CONFIG = path.join(REPO_ROOT, 'examples', 'orders', 'sluice.toml');
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sluice-cdk-test-${prefix}-`));
}

/** A directory holding `<function>/bootstrap` for each function (a shell script). */
export function dummyCodeDir(): string {
  const dir = tempDir('code');
  for (const f of FUNCTIONS) {
    fs.mkdirSync(path.join(dir, f));
    fs.writeFileSync(path.join(dir, f, 'bootstrap'), `#!/bin/sh\necho dummy ${f}\n`, { mode: 0o755 });
  }
  return dir;
}

/** Writes a sluice.toml (and the contracts it names, copied from the example) into a temp dir. */
export function writeConfig(toml: string, contracts: string[] = ['orders.schema.json']): string {
  const dir = tempDir('config');
  for (const c of contracts) {
    fs.mkdirSync(path.dirname(path.join(dir, c)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, 'examples', 'orders', 'orders.schema.json'), path.join(dir, c));
  }
  const file = path.join(dir, 'sluice.toml');
  fs.writeFileSync(file, toml);
  return file;
}

// Two tables in two namespaces, to see "one per table" and "one per namespace".
export const TWO_TABLES = `
[[table]]
name = "orders"
namespace = "shop"
prefix = "orders/"
format = "ndjson"
contract = "orders.schema.json"

[[table]]
name = "returns"
prefix = "returns/incoming/"
format = "csv"
contract = "schemas/returns.schema.json"
`;

/** A sluice.toml of TWO_TABLES, with its contracts. */
export function twoTablesConfig(): string {
  return writeConfig(TWO_TABLES, ['orders.schema.json', 'schemas/returns.schema.json']);
}

/** TWO_TABLES with Glue's optimizers asked for by the second table only. */
export function optimizersConfig(): string {
  return writeConfig(
    `${TWO_TABLES}
[table.glue_optimizers]
compaction = true
snapshot_retention_days = 15
orphan_file_retention_days = 15
`,
    ['orders.schema.json', 'schemas/returns.schema.json'],
  );
}

export interface Synth {
  stack: SluiceStack;
  template: Template;
  json: Record<string, any>;
  outdir: string;
}

export function synth(
  opts: { configPath?: string } & Partial<Omit<SluiceStackProps, 'config'>> = {},
): Synth {
  const outdir = tempDir('out');
  // The CLI turns asset metadata on; the tests read it to find each asset's directory.
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const { configPath, ...rest } = opts;
  const stack = new SluiceStack(app, 'SluiceTest', {
    config: loadConfig(configPath ?? EXAMPLE_CONFIG),
    lambdaCodeDir: dummyCodeDir(),
    env: { account: ACCOUNT, region: REGION },
    ...rest,
  });
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON(), outdir };
}

export function resourcesOfType(json: Record<string, any>, type: string): [string, any][] {
  return Object.entries(json.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
}

export function logicalIdOf(stack: SluiceStack, construct: { node: { defaultChild?: unknown } }): string {
  return stack.getLogicalId(construct.node.defaultChild as any);
}

// ---- Logical ids ---------------------------------------------------------------------

export const bucketId = (s: Synth) => logicalIdOf(s.stack, s.stack.bucket);
export const fnId = (s: Synth, name: (typeof FUNCTIONS)[number]) => logicalIdOf(s.stack, s.stack.functions[name]);
export const roleId = (s: Synth, name: (typeof FUNCTIONS)[number]) => logicalIdOf(s.stack, s.stack.roles[name]);
/** The ingest state machine. */
export const smId = (s: Synth) => logicalIdOf(s.stack, s.stack.stateMachine);
export const backfillId = (s: Synth) => logicalIdOf(s.stack, s.stack.backfillStateMachine);
export const dlqId = (s: Synth) => logicalIdOf(s.stack, s.stack.deadLetterQueue);
export const scheduleDlqId = (s: Synth) => logicalIdOf(s.stack, s.stack.scheduleDeadLetterQueue);
export const maintenanceDlqId = (s: Synth) => logicalIdOf(s.stack, s.stack.maintenanceDeadLetterQueue);
export const streamDlqId = (s: Synth) => logicalIdOf(s.stack, s.stack.streamDeadLetterQueue);

// ---- IAM -------------------------------------------------------------------------------

export interface Statement {
  /** Where it was found: `<logical id of the policy or role>`. */
  source: string;
  /** Roles the statement is attached to (identity policies), by logical id. */
  roles: string[];
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
  condition?: unknown;
  principal?: unknown;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * Renders a CloudFormation value as a string: pseudo parameters become the test account and
 * region, `GetAtt X.Arn` becomes `arn:X`, `Ref X` becomes `ref:X`. Object ARNs of the bucket
 * so read `arn:<bucket id>/<key pattern>`.
 */
export function render(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, any>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'];
      return (parts as unknown[]).map(render).join(sep);
    }
    if ('Fn::GetAtt' in o) {
      const [id, attr] = o['Fn::GetAtt'];
      return attr === 'Arn' ? `arn:${id}` : `${attr}:${id}`;
    }
    if ('Ref' in o) {
      switch (o.Ref) {
        case 'AWS::Partition':
          return 'aws';
        case 'AWS::AccountId':
          return ACCOUNT;
        case 'AWS::Region':
          return REGION;
        case 'AWS::URLSuffix':
          return 'amazonaws.com';
        default:
          return `ref:${o.Ref}`;
      }
    }
  }
  throw new Error(`cannot render ${JSON.stringify(v)}`);
}

/** Every statement of every policy document in the template. */
export function allStatements(json: Record<string, any>): Statement[] {
  const out: Statement[] = [];
  const add = (source: string, roles: string[], doc: any) => {
    for (const s of asArray<any>(doc.Statement)) {
      out.push({
        source,
        roles,
        effect: s.Effect,
        actions: asArray<string>(s.Action ?? s.NotAction),
        resources: asArray<unknown>(s.Resource ?? s.NotResource).map(render),
        condition: s.Condition,
        principal: s.Principal,
      });
      if (s.NotAction || s.NotResource) {
        throw new Error(`${source}: NotAction/NotResource are not expected`);
      }
    }
  };
  for (const [id, r] of Object.entries(json.Resources as Record<string, any>)) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        add(id, asArray<any>(p.Roles).map((x) => x.Ref), p.PolicyDocument);
        break;
      case 'AWS::IAM::Role':
        for (const inline of asArray<any>(p.Policies)) add(id, [id], inline.PolicyDocument);
        break;
      case 'AWS::S3::BucketPolicy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::SNS::TopicPolicy':
        add(id, [], p.PolicyDocument);
        break;
      default:
        if (p.PolicyDocument) throw new Error(`${id} (${r.Type}): a policy document the test does not walk`);
    }
  }
  return out;
}

/** IAM's wildcard match: `*` any run of characters, `?` one. */
export function iamMatch(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(value);
}

/**
 * Whether the identity policies of `role` allow `action` on `resource`, ignoring conditions
 * (a statement with a condition counts as allowing: the check errs towards "allowed"). A
 * matching Deny wins.
 */
export function roleAllows(statements: Statement[], role: string, action: string, resource: string): boolean {
  const mine = statements.filter((s) => s.roles.includes(role));
  const hits = (s: Statement) =>
    s.actions.some((a) => iamMatch(a, action)) && s.resources.some((r) => iamMatch(r, resource));
  if (mine.some((s) => s.effect === 'Deny' && hits(s))) return false;
  return mine.some((s) => s.effect === 'Allow' && hits(s));
}
