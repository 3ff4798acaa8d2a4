import { describe, expect, it } from 'vitest';
import { Recorder } from './recorder.js';

const call = (method: string, memberId = 'm1') => ({
  at: 0,
  memberId,
  method,
  params: {},
  transport: 'json' as const,
  httpStatus: 200,
  durationMs: 1,
});

describe('Recorder', () => {
  it('numbers records across logs and filters them', () => {
    const r = new Recorder();
    r.add('call', call('app.info'));
    r.add('call', call('event.get', 'm2'));
    r.add('token', { at: 0, grantType: 'refresh_token', clientId: 'c', ok: true });
    expect(r.calls().map((c) => c.seq)).toEqual([1, 2]);
    expect(r.tokenRequests()[0]?.seq).toBe(3);
    expect(r.calls({ memberId: 'm2' }).map((c) => c.method)).toEqual(['event.get']);
    expect(r.calls({ method: 'app.info', memberId: 'm2' })).toEqual([]);
    r.clear();
    expect(r.calls()).toEqual([]);
  });

  it('keeps only the newest `limit` records per log', () => {
    const r = new Recorder(3);
    for (let i = 0; i < 5; i++) r.add('call', call(`m${i}`));
    expect(r.calls().map((c) => c.method)).toEqual(['m2', 'm3', 'm4']);
  });

  it('waitFor resolves with a past or future record and rejects on timeout', async () => {
    const r = new Recorder();
    r.add('call', call('past'));
    await expect(r.waitFor('call', (c) => c.method === 'past')).resolves.toMatchObject({ method: 'past' });
    const future = r.waitFor('call', (c) => c.method === 'future', 1000);
    setTimeout(() => r.add('call', call('future')), 10);
    await expect(future).resolves.toMatchObject({ method: 'future' });
    await expect(r.waitFor('delivery', () => true, 20)).rejects.toThrow('No delivery record arrived within 20 ms');
  });
});
