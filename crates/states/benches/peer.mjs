// The peer for `make bench`: the definitions the Rust benchmark wrote (target/bench-asl),
// run on aws-local-stepfunctions (Node.js, history kept in memory only), printed in the
// same line format so the Makefile can take the ratio.
//
// node crates/states/benches/peer.mjs NPM_DIR BENCH_DIR
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [npmDir, benchDir] = process.argv.slice(2);
const require = createRequire(resolve(npmDir, 'package.json'));
const { StateMachine } = require('aws-local-stepfunctions');

async function run(name, file, input, transitions, unit) {
  const definition = JSON.parse(readFileSync(join(benchDir, file), 'utf8'));
  // Timed from construction (which validates the definition), as sluice's figure includes
  // parsing and checking it; the median of five runs, as sluice's.
  const times = [];
  for (let i = 0; i < 5; i++) {
    const started = process.hrtime.bigint();
    const machine = new StateMachine(definition, { validationOptions: { checkPaths: false } });
    await machine.run(input).result;
    times.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  times.sort((a, b) => a - b);
  const secs = times[2];
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(
    `aws-local-stepfunctions ${name} ${transitions - (unit === 'items' ? 1 : 0)} ${unit} ${secs.toFixed(3)} s ${(transitions / secs).toFixed(0)} transitions/s (median of 5; history in memory; peak RSS ${rss.toFixed(0)} MiB)`
  );
}

const chain = JSON.parse(readFileSync(join(benchDir, 'pass-chain.json'), 'utf8'));
await run('pass-chain', 'pass-chain.json', {}, Object.keys(chain.States).length, 'states');
const items = JSON.parse(readFileSync(join(benchDir, 'inline-map.input.json'), 'utf8'));
await run('inline-map', 'inline-map.json', items, items.items.length + 1, 'items');
