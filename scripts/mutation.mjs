// npm run test:mutation [-- folder ...]: StrykerJS over each core folder in turn (all of them when none is named);
// a folder may be a part of one (store/queries) or its own files ('store/*.ts'), tested by the folder's tests.
import { spawnSync } from 'node:child_process';
import process from 'node:process';

const core = ['wire', 'events', 'verify', 'store', 'worker', 'effects'];
const folders = process.argv.slice(2).length > 0 ? process.argv.slice(2) : core;
for (const folder of folders) {
  if (!core.includes(folder.split('/')[0])) {
    process.stderr.write(`unknown folder "${folder}": one of ${core.join(', ')}\n`);
    process.exit(2);
  }
}
let failed = 0;
for (const folder of folders) {
  process.stdout.write(`\n== mutation testing src/${folder} ==\n`);
  const r = spawnSync('npx', ['stryker', 'run', 'stryker.config.mjs'], {
    stdio: 'inherit',
    env: { ...process.env, B24GW_MUTATE: folder },
  });
  if (r.status !== 0) failed++;
}
process.exit(failed > 0 ? 1 : 0);
