#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerPhpCommands } from './php.js';
import { registerSandboxCommand } from './serve.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('b24-sandbox')
  .description(
    'A fake Bitrix24 portal on loopback for testing Bitrix24 applications, and PHP http_build_query / parse_str on the command line',
  )
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  // Command-line mistakes carry a code too, like every other error of the sandbox.
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'error B24SB_BAD_OPTION: ')) });

registerSandboxCommand(program, 'serve', { isDefault: true });
registerPhpCommands(program);

await program.parseAsync();
