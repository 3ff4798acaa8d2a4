import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../index.js';
import { callRest, frozenAt } from '../testing.js';

let sb: Sandbox;
let auth: string;

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt() });
  auth = sb.issueTokens(sb.portal).access_token;
});
afterEach(() => sb.stop());

describe('batch', () => {
  it('runs a keyed cmd map and answers result, result_error, result_total, result_next, result_time', async () => {
    const { status, body } = await callRest(sb.restUrl, 'batch', {
      auth,
      halt: 0,
      cmd: {
        bind: 'event.bind?event=ONAPPTEST&handler=http%3A%2F%2F127.0.0.1%3A9%2Fh',
        list: 'event.get',
        bad: 'no.such.method',
      },
    });
    expect(status).toBe(200);
    expect(Object.keys(body)).toEqual(['result', 'time']);
    expect(Object.keys(body.result)).toEqual(['result', 'result_error', 'result_total', 'result_next', 'result_time']);
    expect(body.result.result.bind).toBe(true);
    expect(body.result.result.list).toEqual([
      { event: 'ONAPPTEST', handler: 'http://127.0.0.1:9/h', auth_type: '0', offline: 0 },
    ]);
    expect(body.result.result_error).toEqual({
      bad: { error: 'ERROR_METHOD_NOT_FOUND', error_description: 'Method not found!' },
    });
    expect(body.result.result_total).toEqual([]);
    expect(body.result.result_next).toEqual([]);
    expect(Object.keys(body.result.result_time)).toEqual(['bind', 'list', 'bad']);
    expect(body.time.operating).toBe(0);
  });

  it('takes a list of "method?query" strings (JSON or PHP form) and answers lists', async () => {
    for (const format of ['json', 'form'] as const) {
      const { body } = await callRest(sb.restUrl, 'batch', { auth, cmd: ['app.info', 'event.get'] }, format);
      expect(Array.isArray(body.result.result)).toBe(true);
      expect(body.result.result[0].ID).toBe(1);
      expect(body.result.result_error).toEqual([]);
    }
  });

  it('keys results as PHP would when some commands fail (object, not list)', async () => {
    const { body } = await callRest(sb.restUrl, 'batch', { auth, cmd: ['app.info', 'nope', 'app.info'] });
    expect(body.result.result).toEqual({ 0: expect.any(Object), 2: expect.any(Object) });
    expect(Object.keys(body.result.result_error)).toEqual(['1']);
  });

  it('halt=1 stops at the first error', async () => {
    const { body } = await callRest(sb.restUrl, 'batch', {
      auth,
      halt: 1,
      cmd: { a: 'app.info', b: 'nope', c: 'app.info' },
    });
    expect(Object.keys(body.result.result)).toEqual(['a']);
    expect(Object.keys(body.result.result_error)).toEqual(['b']);
    expect(Object.keys(body.result.result_time)).toEqual(['a', 'b']);
  });

  it('substitutes $result[key][field] from earlier commands', async () => {
    const { body } = await callRest(sb.restUrl, 'batch', {
      auth,
      cmd: {
        reg: 'imbot.register?CODE=echo&EVENT_HANDLER=http%3A%2F%2F127.0.0.1%3A9%2Fb&PROPERTIES[NAME]=Echo',
        info: 'app.info',
        status: 'imconnector.status?CONNECTOR=$result[info][CODE]&LINE=$result[reg]',
      },
    });
    expect(body.result.result_error).toEqual([]);
    expect(body.result.result.status.CONNECTOR).toBe(sb.portal.appCode.toLowerCase());
    expect(body.result.result.status.LINE).toBe(body.result.result.reg);
  });

  it('refuses more than 50 commands and nested batch', async () => {
    const many = Array.from({ length: 51 }, () => 'app.info');
    const tooMany = await callRest(sb.restUrl, 'batch', { auth, cmd: many });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toBe('ERROR_BATCH_LENGTH_EXCEEDED');
    const fifty = await callRest(sb.restUrl, 'batch', { auth, cmd: many.slice(0, 50) });
    expect(fifty.body.result.result).toHaveLength(50);
    const nested = await callRest(sb.restUrl, 'batch', { auth, cmd: ['batch?cmd[0]=app.info'] });
    expect(nested.body.result.result_error[0].error).toBe('ERROR_BATCH_METHOD_NOT_ALLOWED');
  });

  it('records the batch call and each command, linked by batchSeq', async () => {
    await callRest(sb.restUrl, 'batch', { auth, cmd: ['app.info', 'event.get'] });
    const calls = sb.recorder.calls();
    const batch = calls.find((c) => c.method === 'batch')!;
    const inner = calls.filter((c) => c.transport === 'batch');
    expect(inner.map((c) => c.method)).toEqual(['app.info', 'event.get']);
    expect(inner.every((c) => c.batchSeq === batch.seq)).toBe(true);
  });
});
