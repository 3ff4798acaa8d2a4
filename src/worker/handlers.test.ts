import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import type { HandlerContext } from './context.js';
import { HandlerError, HandlerRegistry, type AnyEvent } from './handlers.js';

const ctx = (signal = new AbortController().signal): HandlerContext => ({
  eventId: 1,
  attempt: 1,
  memberId: 'm1',
  delivery: 'webhook',
  portal: undefined,
  rest: { call: () => Promise.reject(new Error('no REST here')) },
  bots: [],
  bot: undefined,
  log: silentLogger,
  signal,
});
const event = (code: string) => ({ event: code }) as AnyEvent;

describe('HandlerRegistry', () => {
  it("runs a code's one handler, and onAny alone for a code nobody registered", async () => {
    const registry = new HandlerRegistry();
    const seen: string[] = [];
    registry.on('OnAppTest', (e) => void seen.push(`test:${e.event}`));
    registry.onAny((e) => void seen.push(`any:${e.event}`));
    await registry.run(event('ONAPPTEST'), ctx());
    await registry.run(event('ONCRMDEALUPDATE'), ctx());
    expect(seen).toEqual(['test:ONAPPTEST', 'any:ONAPPTEST', 'any:ONCRMDEALUPDATE']);
  });
});

describe('HandlerError', () => {
  it('one failure is its cause; several, an AggregateError of them', () => {
    const a = new Error('a');
    const b = new Error('b');
    const one = new HandlerError([a], 'ONAPPTEST');
    expect(one.name).toBe('HandlerError');
    expect(one.code).toBe('B24GW_HANDLER_FAILED');
    expect(one.cause).toBe(a);
    expect(one.message).toBe('1 handler of ONAPPTEST failed: a');
    const two = new HandlerError([a, 'b'], 'ONAPPTEST');
    expect(two.cause).toBeInstanceOf(AggregateError);
    expect((two.cause as AggregateError).errors).toEqual([a, 'b']);
    expect(two.message).toBe('2 handlers of ONAPPTEST failed: a; b');
    expect(new HandlerError([a, b], 'X').errors).toEqual([a, b]);
  });

  it('asks to wait as long as the slowest failure that asked', () => {
    const asks = (ms: number) => Object.assign(new Error(`wait ${ms}`), { retryAfterMs: ms });
    expect(new HandlerError([asks(500), new Error('x'), asks(2_000)], 'X').retryAfterMs).toBe(2_000);
    expect(new HandlerError([new Error('x')], 'X').retryAfterMs).toBe(0);
  });
});
