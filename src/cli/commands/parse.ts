import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { GatewayError } from '../../errors.js';
import { parseEvent } from '../../events/registry.js';
import { decodeBody, type BodyFormat } from '../../wire/decode.js';
import { action } from '../fail.js';

const readStdin = (): Buffer => readFileSync(0);

/** Bitrix24 sends forms; a body that starts with `{` is taken as JSON. */
const guessFormat = (body: Buffer): BodyFormat =>
  body.toString('utf8', 0, 64).trimStart().startsWith('{') ? 'json' : 'form';

export function registerParseCommand(program: Command): void {
  program
    .command('parse [file]')
    .description('Decode and validate one event body (a file, or stdin) and print the typed event as JSON')
    .option('--content-type <type>', 'form or json (default: guessed from the body)')
    .addHelpText(
      'after',
      '\nExamples:\n  b24-im-gateway parse body.txt\n  curl ... | b24-im-gateway parse --content-type form\n',
    )
    .action(
      action(async (file: string | undefined, o: { contentType?: string }) => {
        if (o.contentType !== undefined && o.contentType !== 'form' && o.contentType !== 'json') {
          throw new GatewayError('B24GW_BAD_INPUT', `--content-type must be form or json, got "${o.contentType}"`);
        }
        let body: Buffer;
        try {
          body = file === undefined || file === '-' ? readStdin() : readFileSync(file);
        } catch (e) {
          throw new GatewayError(
            'B24GW_BAD_INPUT',
            `Cannot read ${file ?? 'stdin'}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
          );
        }
        const format = (o.contentType as BodyFormat | undefined) ?? guessFormat(body);
        const parsed = parseEvent(decodeBody(body, format));
        process.stdout.write(`${JSON.stringify(parsed.event, null, 2)}\n`);
        if (!parsed.known)
          console.error(
            `note: ${parsed.code} is not an event the gateway knows; it would be stored as an unknown event`,
          );
      }),
    );
}
