import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SandboxError } from '../errors.js';
import { decodeForm, decodeJson } from '../php/decode.js';
import { httpBuildQuery } from '../php/encode.js';
import { action } from './fail.js';

/** A file's text, or stdin's when no file (or `-`) is named. */
function readInput(file: string | undefined): string {
  try {
    return readFileSync(file === undefined || file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new SandboxError('B24SB_BAD_INPUT', `Cannot read ${file ?? 'stdin'}: ${(e as Error).message}`);
  }
}

/** `encode` and `decode`: PHP's http_build_query and parse_str from the command line. */
export function registerPhpCommands(
  program: Command,
  write: (text: string) => void = (t) => process.stdout.write(t),
): void {
  program
    .command('encode [file]')
    .description('Write a JSON object (a file, or stdin) as PHP http_build_query does, as Bitrix24 writes event bodies')
    .addHelpText(
      'after',
      `\nExample:\n  echo '{"event":"ONAPPTEST","data":{"QUERY":{"a":1}}}' | b24-sandbox encode\n  # event=ONAPPTEST&data%5BQUERY%5D%5Ba%5D=1\n`,
    )
    .action(
      action((file: string | undefined) => {
        write(`${httpBuildQuery(decodeJson(readInput(file).trim()))}\n`);
      }),
    );
  program
    .command('decode [file]')
    .description(
      "Read a form body or query string (a file, or stdin) as PHP parse_str does, and print it as JSON; PHP's warnings go to stderr",
    )
    .addHelpText(
      'after',
      `\nExample:\n  echo 'MESSAGES[0][message][id][]=42&a.b=1' | b24-sandbox decode\n  # {"MESSAGES":[{"message":{"id":["42"]}}],"a_b":"1"}\n`,
    )
    .action(
      action((file: string | undefined) => {
        const { params, warnings } = decodeForm(readInput(file).replace(/\r?\n$/, ''));
        for (const w of warnings) console.error(`warning: ${w}`);
        write(`${JSON.stringify(params)}\n`);
      }),
    );
}
