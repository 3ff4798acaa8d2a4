import { GatewayError } from '../errors.js';

/** Bitrix24 cloud portals: `name.bitrix24.com`, `.de`, `.com.br` and so on. */
export const defaultAllowedDomains: readonly string[] = ['*.bitrix24.*'];

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d+)?$/;
const HOST = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?$|^\[[0-9a-f:]+\](?::\d{1,5})?$/;

/**
 * Matches a portal domain against allow-list patterns. `*` stands for one or more
 * DNS labels, so `*.bitrix24.*` takes `a.bitrix24.com` and `a.bitrix24.com.br`.
 */
export function domainAllowed(domain: string, patterns: readonly string[]): boolean {
  const d = domain.toLowerCase();
  if (!HOST.test(d)) return false;
  return patterns.some((p) => patternRegex(p).test(d));
}

const cache = new Map<string, RegExp>();
function patternRegex(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    const body = pattern
      .toLowerCase()
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[a-z0-9-]+(?:\\.[a-z0-9-]+)*');
    re = new RegExp(`^${body}$`);
    cache.set(pattern, re);
  }
  return re;
}

/**
 * Where a portal's REST API lives, derived from its domain only (never from the
 * `client_endpoint` an event claims). Loopback portals, such as the sandbox, speak plain HTTP.
 */
export function portalRestBase(domain: string): string {
  const d = domain.toLowerCase();
  if (!HOST.test(d)) throw new GatewayError('B24GW_DOMAIN_NOT_ALLOWED', `"${domain}" is not a host name`);
  return `${LOOPBACK.test(d) ? 'http' : 'https'}://${d}/rest/`;
}
