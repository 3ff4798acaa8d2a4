import type { DecodeLimits } from './limits.js';
import { readName } from './names.js';
import { percentDecode } from './percent.js';

/** Who a body says it is from, read before the body is decoded. */
export interface Claim {
  event?: string;
  memberId?: string;
  token?: string;
}

/**
 * Reads `event`, `auth[member_id]` and `auth[application_token]` out of a form body in one linear
 * pass, without building the body: a forged or unknown sender is refused for about what reading its
 * body costs, however deep and wide the rest of it is. As parse_str, the last of duplicates wins;
 * the decoded event must later say the same, or it is refused.
 */
export function peekForm(body: string, limits: DecodeLimits): Claim {
  const claim: Claim = {};
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf('&', start);
    if (end < 0) end = body.length;
    // Only names that can be one of the three are read: Bitrix24 writes them plainly (auth%5Bmember_id%5D).
    const c = body.charCodeAt(start);
    if (c === 97 /* a */ ? body.startsWith('auth', start) : c === 101 /* e */ && body.startsWith('event', start)) {
      let eq = body.indexOf('=', start);
      if (eq < 0 || eq > end) eq = end;
      const field = fieldOf(body.slice(start, eq), limits);
      if (field) claim[field] = eq < end ? percentDecode(body.slice(eq + 1, end), PATHS[field]) : '';
    }
    start = end + 1;
  }
  return claim;
}

/** Where each field sits, in the bracket form errors name. */
const PATHS: Record<keyof Claim, string> = {
  event: 'event',
  memberId: 'auth[member_id]',
  token: 'auth[application_token]',
};

function fieldOf(raw: string, limits: DecodeLimits): keyof Claim | undefined {
  if (raw === 'event') return 'event';
  if (raw.length > 64) return undefined;
  let name;
  try {
    name = readName(raw, limits);
  } catch {
    return undefined; // over a limit: the full decode refuses it, after verification
  }
  if (!name || name.base !== 'auth' || name.path.length !== 1) return undefined;
  const key = name.path[0];
  return key === 'member_id' ? 'memberId' : key === 'application_token' ? 'token' : undefined;
}

/** The same three, from a body already decoded (JSON). */
export function claimOf(wire: Record<string, unknown>): Claim {
  const auth = wire.auth;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const a = typeof auth === 'object' && auth !== null && !Array.isArray(auth) ? (auth as Record<string, unknown>) : {};
  const claim: Claim = {};
  const event = str(wire.event);
  const memberId = str(a.member_id);
  const token = str(a.application_token);
  if (event !== undefined) claim.event = event;
  if (memberId !== undefined) claim.memberId = memberId;
  if (token !== undefined) claim.token = token;
  return claim;
}
