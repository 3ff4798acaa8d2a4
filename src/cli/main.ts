#!/usr/bin/env node
import { Command, Help } from 'commander';
import { registerBotCommand } from './commands/bot.js';
import { registerConsoleCommand } from './commands/console.js';
import { registerConnectorCommand } from './commands/connector.js';
import { registerDemoCommand } from './commands/demo/index.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerEventsCommand } from './commands/events.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerParseCommand } from './commands/parse.js';
import { registerPruneCommand } from './commands/prune.js';
import { registerReplayCommand } from './commands/replay.js';
import { registerSandboxCommand } from '@b24-im-gateway/sandbox/cli';
import { registerServeCommand } from './commands/serve.js';
import { version } from './version.js';

const program = new Command('b24-im-gateway')
  .description('Receive Bitrix24 messenger events (Open Lines connectors, chat bots), verify, store and process them')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  // A repeatable option starts as an empty list, which is no default to show: its text says what applies.
  .configureHelp({ optionDescription: (option) => new Help().optionDescription(option).replace(' (default: [])', '') });

registerServeCommand(program);
registerParseCommand(program);
registerEventsCommand(program);
registerReplayCommand(program);
registerConsoleCommand(program);
registerPruneCommand(program);
registerMigrateCommand(program);
registerConnectorCommand(program);
registerBotCommand(program);
registerDoctorCommand(program);
registerSandboxCommand(program);
registerDemoCommand(program);

await program.parseAsync();
