// Reads the parts of a sluice.toml the stack needs: each table's name, namespace and key
// prefix, and the contract files to ship beside the config. The Lambdas parse the whole file
// themselves (crates/core/src/config.rs); the checks here mirror the ones there that decide
// what the stack builds, so that a bad file fails at synth and not at the first event.

import * as fs from 'fs';
import * as path from 'path';
import { Duration } from 'aws-cdk-lib';
import { parse } from 'smol-toml';

/** Prefix under which sluice keeps its own objects; no table prefix may start with it. */
export const CONTROL_PREFIX = '.sluice/';

export interface TableSpec {
  readonly name: string;
  /** Iceberg namespace; the Glue database of the same name. */
  readonly namespace: string;
  /** Key prefix in the bucket, ending in `/`. */
  readonly prefix: string;
  /** Contract path as written in the file, relative to the config's directory. */
  readonly contract: string;
  /**
   * How long an object may take from landing to a final state (`freshness = "1h"`): the
   * table's freshness alarms' threshold. Unset: the stack's.
   */
  readonly freshness?: Duration;
  /**
   * The AWS Glue table optimizers the table asks for (`[table.glue_optimizers]`): the stack
   * then makes the role they run as, and lets the functions that create and maintain tables
   * set them up. Absent when the table asks for none.
   */
  readonly glueOptimizers?: GlueOptimizersSpec;
}

/** `[table.glue_optimizers]`, as far as the stack needs it. */
export interface GlueOptimizersSpec {
  readonly compaction: boolean;
  readonly retention: boolean;
  readonly orphanFileDeletion: boolean;
}

export interface SluiceConfig {
  /** Absolute path of the sluice.toml. */
  readonly path: string;
  /** The file's text, unchanged. */
  readonly text: string;
  readonly tables: TableSpec[];
}

export class ConfigError extends Error {
  constructor(file: string, message: string) {
    super(`sluice: ${file}: ${message}`);
    this.name = 'ConfigError';
  }
}

const IDENT = /^[A-Za-z0-9_]{1,128}$/;

export function loadConfig(file: string): SluiceConfig {
  if (!fs.existsSync(file)) {
    throw new ConfigError(file, 'no such file (set the `config` context or SLUICE_CONFIG)');
  }
  const text = fs.readFileSync(file, 'utf8');
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(file, `not valid TOML: ${(e as Error).message}`);
  }
  const raw = doc['table'];
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new ConfigError(file, 'at least one [[table]] is needed');
  }
  const tables: TableSpec[] = raw.map((entry, i) => {
    const t = entry as Record<string, unknown>;
    const str = (key: string, fallback?: string): string => {
      const v = t[key] ?? fallback;
      if (typeof v !== 'string') {
        throw new ConfigError(file, `table[${i}].${key}: a string is needed`);
      }
      return v;
    };
    const name = str('name');
    const namespace = str('namespace', 'sluice');
    const prefix = str('prefix');
    const contract = str('contract');
    if (!IDENT.test(name)) {
      throw new ConfigError(file, `table[${i}].name: ${JSON.stringify(name)}: use letters, digits and _`);
    }
    if (!IDENT.test(namespace)) {
      throw new ConfigError(
        file,
        `table[${i}].namespace: ${JSON.stringify(namespace)}: use letters, digits and _`,
      );
    }
    if (prefix === '' || !prefix.endsWith('/') || prefix.startsWith('/')) {
      throw new ConfigError(
        file,
        `table[${i}].prefix: ${JSON.stringify(prefix)}: must be a relative key prefix ending in \`/\``,
      );
    }
    if (prefix.startsWith(CONTROL_PREFIX)) {
      throw new ConfigError(file, `table[${i}].prefix: ${CONTROL_PREFIX} is reserved for sluice`);
    }
    if (/[*?\s]/.test(prefix) || prefix.split('/').some((seg) => seg === '.' || seg === '..')) {
      throw new ConfigError(file, `table[${i}].prefix: ${JSON.stringify(prefix)} is not a safe key prefix`);
    }
    const freshnessText = t['freshness'];
    let freshness: Duration | undefined;
    if (freshnessText !== undefined) {
      freshness = typeof freshnessText === 'string' ? parseAge(freshnessText) : undefined;
      if (freshness === undefined || freshness.toSeconds() === 0) {
        throw new ConfigError(
          file,
          `table[${i}].freshness: ${JSON.stringify(freshnessText)}: expected a positive whole number and a unit, s, m, h or d (30s, 15m, 1h, 2d)`,
        );
      }
    }
    const glueOptimizers = readGlueOptimizers(file, i, t['glue_optimizers']);
    return { name, namespace, prefix, contract, freshness, glueOptimizers };
  });
  tables.forEach((t, i) => {
    tables.slice(0, i).forEach((other, j) => {
      if (other.name === t.name && other.namespace === t.namespace) {
        throw new ConfigError(file, `table[${i}].name: same table as table[${j}]`);
      }
      if (other.prefix.startsWith(t.prefix) || t.prefix.startsWith(other.prefix)) {
        throw new ConfigError(
          file,
          `table[${i}].prefix: ${JSON.stringify(t.prefix)} overlaps table[${j}].prefix ${JSON.stringify(other.prefix)}`,
        );
      }
    });
  });
  return { path: path.resolve(file), text, tables };
}

/**
 * The optimizers a `[table.glue_optimizers]` section asks for; `undefined` for none. The
 * Lambdas check the values themselves (crates/core/src/config.rs: retention days at least the
 * redrive window plus the lease); here only what decides the stack.
 */
function readGlueOptimizers(file: string, i: number, raw: unknown): GlueOptimizersSpec | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, `table[${i}].glue_optimizers: a table of settings is needed`);
  }
  const o = raw as Record<string, unknown>;
  const known = ['compaction', 'snapshot_retention_days', 'snapshots_to_retain', 'orphan_file_retention_days'];
  const unknown = Object.keys(o).find((k) => !known.includes(k));
  if (unknown !== undefined) {
    throw new ConfigError(file, `table[${i}].glue_optimizers.${unknown}: unknown key (one of ${known.join(', ')})`);
  }
  const spec = {
    compaction: o['compaction'] === true,
    retention: o['snapshot_retention_days'] !== undefined,
    orphanFileDeletion: o['orphan_file_retention_days'] !== undefined,
  };
  return spec.compaction || spec.retention || spec.orphanFileDeletion ? spec : undefined;
}

/**
 * A span of time in sluice's one form, a whole number and a unit (`30s`, `15m`, `1h`, `2d`),
 * as `crates/core/src/age.rs` parses it; `undefined` for anything else.
 */
export function parseAge(text: string): Duration | undefined {
  const m = /^\s*(\d+)([smhd])\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n)) return undefined;
  switch (m[2]) {
    case 's':
      return Duration.seconds(n);
    case 'm':
      return Duration.minutes(n);
    case 'h':
      return Duration.hours(n);
    default:
      return Duration.days(n);
  }
}

/**
 * Copies the config and its contracts into `<dir>/sluice/`, keeping the contracts' paths
 * relative to the config, so that a Lambda layer made of `dir` puts the config at
 * `/opt/sluice/sluice.toml` with its contracts beside it. Contracts must lie inside the
 * config's directory.
 */
export function stageConfig(config: SluiceConfig, dir: string): string {
  const base = path.dirname(config.path);
  const root = path.join(dir, 'sluice');
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'sluice.toml'), config.text);
  for (const t of config.tables) {
    const rel = path.normalize(t.contract);
    if (path.isAbsolute(rel) || rel.startsWith('..')) {
      throw new ConfigError(
        config.path,
        `table ${t.name}: contract ${JSON.stringify(t.contract)} must lie inside the config's directory to be deployed with it`,
      );
    }
    const src = path.join(base, rel);
    if (!fs.existsSync(src)) {
      throw new ConfigError(config.path, `table ${t.name}: contract ${src} does not exist`);
    }
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.copyFileSync(src, path.join(root, rel));
  }
  return root;
}
