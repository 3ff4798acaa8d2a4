import { GatewayError } from '../errors.js';
import type { DecodeLimits } from './limits.js';
import { isWireObject, type WireObject, type WireValue } from './types.js';

/** Parses a JSON body and holds it to the same limits as a form body. */
export function decodeJson(body: string, limits: DecodeLimits): WireObject {
  let value: unknown;
  try {
    // JSON.parse makes `__proto__` an own data key, so it pollutes nothing.
    value = JSON.parse(body);
  } catch (e) {
    throw new GatewayError('B24GW_MALFORMED_JSON', `Body is not valid JSON: ${(e as Error).message}`);
  }
  if (!isWireObject(value))
    throw new GatewayError('B24GW_NOT_AN_OBJECT', 'JSON body must be an object with event, data, ts and auth');
  checkShape(value, limits);
  // `\u0000` is the only way JSON text holds U+0000 (a raw NUL does not parse): most bodies skip the walk.
  if (body.includes('\\u0000')) checkNul(value);
  return value;
}

/** Refuses U+0000 in any key or string, as in a form body: no text column of PostgreSQL can hold it. */
function checkNul(root: WireObject): void {
  const stack: [WireValue, string][] = [[root, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\0'))
        throw new GatewayError('B24GW_NUL_BYTE', `Value of "${path}" holds a NUL character (\\u0000)`, { path });
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    for (const [key, child] of Object.entries(value)) {
      const named = path === '' ? key : `${path}[${key}]`;
      if (key.includes('\0')) {
        const shown = named.replaceAll('\0', '\\u0000');
        throw new GatewayError('B24GW_NUL_BYTE', `Key "${shown}" holds a NUL character`, { path: shown });
      }
      stack.push([child, named]);
    }
  }
}

/** Counts leaves and depth without recursion, so a hostile body cannot overflow the stack. */
function checkShape(root: WireObject, limits: DecodeLimits): void {
  let leaves = 0;
  const stack: [WireValue, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) {
      if (++leaves > limits.maxParams)
        throw new GatewayError('B24GW_TOO_MANY_PARAMS', `Body has more than ${limits.maxParams} values`);
      continue;
    }
    // The top-level object is depth 0, as the top-level name is in a form body.
    if (depth > limits.maxDepth)
      throw new GatewayError('B24GW_TOO_DEEP', `Body nests deeper than ${limits.maxDepth} levels`);
    const children = Array.isArray(value) ? value : Object.values(value);
    if (Array.isArray(value) && value.length - 1 > limits.maxIndex) {
      throw new GatewayError(
        'B24GW_INDEX_TOO_LARGE',
        `A list has ${value.length} items, over the index limit of ${limits.maxIndex}`,
      );
    }
    for (const child of children) stack.push([child, depth + 1]);
  }
}
