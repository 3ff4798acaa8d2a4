import { describe, expect, it } from 'vitest';
import { createLogger, redactForLog } from './log.js';

describe('log redaction', () => {
  it('replaces secrets and auth blocks at any depth, in a copy', () => {
    const bot = { id: 456, auth: { access_token: 'bot-secret', domain: 'd' } };
    const event = {
      data: {
        bot: { id: 1, nested: { deeper: { access_token: 'deep-secret', refresh_token: 'r' } } },
        BOT: { '5': { AUTH: { access_token: 'v1' } } },
      },
    };
    const out = redactForLog({ bot, event, list: [{ application_token: 't' }], err: new Error('kept') }) as Record<
      string,
      unknown
    >;
    expect(JSON.stringify(out)).not.toMatch(/secret|"v1"|"t"|"r"/);
    expect(out).toMatchObject({
      bot: { id: 456, auth: 'REDACTED' },
      event: { data: { bot: { nested: { deeper: { access_token: 'REDACTED' } } } } },
    });
    expect(out.err).toBeInstanceOf(Error);
    // The objects logged are left as they were: a handler that logs ctx.bot still answers with it.
    expect(bot.auth.access_token).toBe('bot-secret');
    expect(event.data.bot.nested.deeper.access_token).toBe('deep-secret');
  });

  it('a logger writes no secret, and a cycle does not stop it', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (c: string) => void lines.push(c) } });
    const cyclic: Record<string, unknown> = { access_token: 'x-secret' };
    cyclic.self = cyclic;
    log.info({ cyclic, data: { bot: { auth: { access_token: 'bot-secret' } } } }, 'line');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('secret');
    expect(lines[0]).toContain('"msg":"line"');
  });
});
