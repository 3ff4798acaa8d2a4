// @ts-check
/**
 * Decoding cost per event: our decodeForm (PHP parse_str rules) vs qs.parse with the options
 * express.urlencoded({ extended: true }) passes it, on the same bodies, results compared.
 */
import { isDeepStrictEqual } from 'node:util';
import qs from 'qs';
import { decodeForm } from '../dist/wire/form.js';
import { Buffer } from 'node:buffer';
import process from 'node:process';

/**
 * qs options as body-parser 2 (express 5's urlencoded, extended) sets them for a body.
 * @param {string} body
 */
const expressQsOptions = (body) => {
  const params = body.split('&').length;
  return {
    allowPrototypes: true,
    arrayLimit: Math.max(100, params),
    depth: 32,
    parameterLimit: 1000,
    strictDepth: true,
  };
};

/** @type {Record<string, (body: string) => unknown>} */
export const decoders = {
  decodeForm: (body) => decodeForm(body),
  'qs.parse': (body) => qs.parse(body, expressQsOptions(body)),
};

/**
 * Paths where two JSON values differ (first few).
 * @param {unknown} a
 * @param {unknown} b
 * @param {string} [path]
 * @param {string[]} [out]
 * @returns {string[]}
 */
export function differences(a, b, path = '$', out = []) {
  if (out.length >= 5) return out;
  const isObj = (/** @type {unknown} */ v) => typeof v === 'object' && v !== null;
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    const ao = /** @type {Record<string, unknown>} */ (a);
    const bo = /** @type {Record<string, unknown>} */ (b);
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) differences(ao[k], bo[k], `${path}.${k}`, out);
  } else if (!isDeepStrictEqual(a, b)) out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  return out;
}

/**
 * Mean µs per call of `fn(body)` over a timed batch.
 * @param {(body: string) => unknown} fn
 * @param {string} body
 * @param {number} ms
 */
function timeBatch(fn, body, ms) {
  let calls = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const stop = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < stop) {
    for (let i = 0; i < 100; i++) sink ^= /** @type {object} */ (fn(body)) ? 1 : 0;
    calls += 100;
    now = process.hrtime.bigint();
  }
  if (sink === 2) process.stdout.write('');
  return Number(now - start) / 1000 / calls;
}

/**
 * @typedef {object} DecodeRow
 * @property {string} name
 * @property {number} bytes
 * @property {number} params
 * @property {Record<string, number>} usPerEvent  median over rounds, per decoder
 * @property {boolean} equal                      same result after a JSON round trip
 * @property {string[]} differences
 */

/**
 * Warm-up, then rounds alternating the decoders; the median round counts.
 * @param {{ name: string, body: string }[]} fixtures
 * @param {{ rounds: number, roundMs: number, warmupCalls: number }} o
 * @returns {DecodeRow[]}
 */
export function benchDecode(fixtures, { rounds, roundMs, warmupCalls }) {
  return fixtures.map(({ name, body }) => {
    const ours = JSON.parse(JSON.stringify(decoders.decodeForm?.(body)));
    const theirs = JSON.parse(JSON.stringify(decoders['qs.parse']?.(body)));
    const diff = differences(ours, theirs);
    /** @type {Record<string, number[]>} */
    const samples = {};
    for (const [id, fn] of Object.entries(decoders)) {
      for (let i = 0; i < warmupCalls; i++) fn(body);
      samples[id] = [];
    }
    for (let r = 0; r < rounds; r++) {
      for (const [id, fn] of Object.entries(decoders)) samples[id]?.push(timeBatch(fn, body, roundMs));
    }
    /** @type {Record<string, number>} */
    const usPerEvent = {};
    for (const [id, s] of Object.entries(samples))
      usPerEvent[id] = s.sort((a, b) => a - b)[Math.floor(s.length / 2)] ?? NaN;
    return {
      name,
      bytes: Buffer.byteLength(body),
      params: body.split('&').length,
      usPerEvent,
      equal: diff.length === 0,
      differences: diff,
    };
  });
}
