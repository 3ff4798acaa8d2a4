import { type Command, Option } from 'commander';
import type { TextFormat } from '../../../effects/channel/bbcode.js';
import { action } from '../../fail.js';
import { positiveInt } from '../../options.js';
import { HELP } from './help.js';
import { runDemo } from './run.js';

/*
 * `b24-im-gateway demo`: a fake Bitrix24 portal (the sandbox, in this process), the gateway (the
 * built CLI's `serve`, in its own process, SQLite in a temp folder) and a sample external channel
 * (node:http in this process, verifying Standard Webhooks signatures) on loopback. It installs the
 * application, binds the handlers and plays a conversation through every connector and seed event,
 * printing what Bitrix24 sent, what the channel received and what Bitrix24 got back, then checks it.
 */

export { runDemo };
export type { DemoOptions, DemoResult, DemoStep } from './types.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'Run the gateway against a fake Bitrix24 portal and a sample channel, play a conversation and check every step',
    )
    .addOption(
      new Option('--format <format>', 'text format for the channel: text, html or markdown')
        .choices(['text', 'html', 'markdown'])
        .default('text'),
    )
    .option('--keep', 'leave everything running after the run and print the URLs, until Ctrl+C')
    .option('--step-timeout <seconds>', "longest wait for one step's effects", positiveInt('--step-timeout'), 20)
    .addHelpText('after', HELP)
    .action(
      action(async (o: { format: TextFormat; keep?: boolean; stepTimeout: number }) => {
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        let code = 1;
        try {
          const result = await runDemo({
            format: o.format,
            keep: o.keep === true,
            stepTimeoutMs: Math.max(1, o.stepTimeout) * 1000,
            signal: stop.signal,
          });
          code = result.interrupted && !o.keep ? 130 : result.pass ? 0 : 1;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
        process.exit(code);
      }),
    );
}
