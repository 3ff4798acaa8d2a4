import { Refusal } from './refuse.js';

/**
 * Bitrix24's cloud: `name.bitrix24.<zone>`, one zone per region. On-premise (box) portals live on
 * their owners' hosts and are added with --allow-domain.
 */
export const cloudZones: readonly string[] = [
  'com',
  'eu',
  'de',
  'es',
  'fr',
  'it',
  'pl',
  'uk',
  'com.br',
  'com.tr',
  'in',
  'id',
  'jp',
  'cn',
  'vn',
  'ru',
  'by',
  'kz',
  'ua',
];
export const defaultAllowedDomains: readonly string[] = cloudZones.map((zone) => `*.bitrix24.${zone}`);

const LOOPBACK = /^(?:127(?:\.\d{1,3}){3}|localhost|\[::1\])(?::\d+)?$/;
const HOST = /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::\d{1,5})?$|^\[[0-9a-f:]+\](?::\d{1,5})?$/;

/**
 * Matches a portal domain against allow-list patterns. `*` stands for exactly one DNS label (or a
 * port after `:`), so `*.bitrix24.com` takes `a.bitrix24.com` but neither `a.b.bitrix24.com` nor
 * `a.bitrix24.com.evil.example`.
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
      .join('[a-z0-9-]+');
    re = new RegExp(`^${body}$`);
    cache.set(pattern, re);
  }
  return re;
}

/** An allow-list pattern is a host name whose labels may be `*`: anything else is a mistake worth refusing at start. */
export const validPattern = (pattern: string): boolean =>
  HOST.test(pattern.toLowerCase().replace(/:\*$/, ':1').replaceAll('*', 'x'));

/**
 * Where a portal's REST API lives, derived from its domain only (never from the
 * `client_endpoint` an event claims). Loopback portals, such as the sandbox, speak plain HTTP.
 */
export function portalRestBase(domain: string): string {
  const d = domain.toLowerCase();
  if (!HOST.test(d)) throw new Refusal('domain_not_allowed', `"${domain.slice(0, 100)}" is not a host name`);
  return `${LOOPBACK.test(d) ? 'http' : 'https'}://${d}/rest/`;
}

/** The host of a URL, lower-cased, or undefined when it is not one. */
export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return undefined;
  }
}
