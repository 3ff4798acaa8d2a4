// Builds the console's page (ui/) into dist/console/assets: one script and one stylesheet,
// preact and uPlot bundled in, so the package serves it with nothing fetched from elsewhere.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const out = 'dist/console/assets';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: 'ui/src/main.tsx' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome109', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync('ui/index.html', `${out}/index.html`);
