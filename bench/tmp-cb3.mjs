import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runConsoleBench } from './console.js';
const dir = mkdtempSync(`${tmpdir()}/cb-`);
for (const db of ['sqlite', 'postgres']) {
  const r = await runConsoleBench(db, { dir, rows: 2000, rounds: 1, progress: () => {} });
  console.log(db, JSON.stringify(r.lists.map((l) => [l.name, l.count])));
}
