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
  if (!isWireObject(value)) throw new GatewayError('B24GW_NOT_AN_OBJECT', 'JSON body must be an object with event, data, ts and auth');
  checkShape(value, limits);
  return value;
}

/** Counts leaves and depth without recursion, so a hostile body cannot overflow the stack. */
function checkShape(root: WireObject, limits: DecodeLimits): void {
  let leaves = 0;
  const stack: [WireValue, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) {
      if (++leaves > limits.maxParams) throw new GatewayError('B24GW_TOO_MANY_PARAMS', `Body has more than ${limits.maxParams} values`);
      continue;
    }
    // The top-level object is depth 0, as the top-level name is in a form body.
    if (depth > limits.maxDepth) throw new GatewayError('B24GW_TOO_DEEP', `Body nests deeper than ${limits.maxDepth} levels`);
    const children = Array.isArray(value) ? value : Object.values(value);
    if (Array.isArray(value) && value.length - 1 > limits.maxIndex) {
      throw new GatewayError('B24GW_INDEX_TOO_LARGE', `A list has ${value.length} items, over the index limit of ${limits.maxIndex}`);
    }
    for (const child of children) stack.push([child, depth + 1]);
  }
}
